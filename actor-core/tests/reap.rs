//! A million spawn-and-exit cycles leave the slot table the size of the peak live set.

mod common;

use actor_core::{tag, Context, ExitReason, Message};
use common::{pair, recv, rt};

const BATCH: usize = 1000;
const ROUNDS: usize = 1000;

#[test]
fn million_spawn_exit_cycles_do_not_grow_the_slot_table() {
    let rt = rt(2);
    let h = rt.handle();
    let (tx, rx) = pair::<(usize, usize)>();
    let mut downs = 0usize;
    let mut round = 0usize;
    let mut first = 0usize;
    let spawn_batch = |ctx: &mut Context<'_>| {
        for _ in 0..BATCH {
            let (p, _) = ctx.spawn_monitor(actor_core::from_fn(|c: &mut Context<'_>, _m| {
                c.stop(ExitReason::Normal);
            }));
            ctx.send(p, 1, ()).unwrap();
        }
    };
    let driver = h.spawn_fn(move |ctx, m: Message| {
        if m.tag() == 1 {
            spawn_batch(ctx);
            return;
        }
        assert_eq!(m.tag(), tag::DOWN);
        downs += 1;
        if downs == BATCH {
            downs = 0;
            round += 1;
            if round == 1 {
                first = ctx.handle().slot_count();
            }
            if round == ROUNDS {
                tx.send((first, ctx.handle().slot_count())).unwrap();
            } else {
                spawn_batch(ctx);
            }
        }
    });
    h.send(driver, 1, ()).unwrap();
    let (first, last) = recv(&rx);
    // At most BATCH + 1 actors are ever alive at once; the table may carry some
    // per-shard slack, but it tracks that peak, not the 1,000,000 spawns.
    assert!(first <= BATCH + 1 + 64, "first round: {first}");
    assert!(
        last < 2 * BATCH,
        "slot table grew with spawn count: {first} -> {last}"
    );
    assert_eq!(h.actor_count(), 1);
}
