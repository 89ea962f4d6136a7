//! Shutdown tests, alone in their binary so the thread count is theirs alone.

mod common;

use actor_core::{Actor, Context, ExitReason, Message, Pid, Runtime};
use common::{pair, recv};
use std::sync::mpsc::Sender;
use std::time::Duration;

struct Hooked(Sender<ExitReason>);

impl Actor for Hooked {
    fn handle(&mut self, _ctx: &mut Context<'_>, _msg: Message) {}
    fn stopped(&mut self, _ctx: &mut Context<'_>, reason: &ExitReason) {
        self.0.send(reason.clone()).unwrap();
    }
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn busy_runtime(n: usize) -> (Runtime, std::sync::mpsc::Receiver<ExitReason>) {
    let rt = Runtime::builder()
        .workers(3)
        .thread_name("shut")
        .build()
        .unwrap();
    let h = rt.handle();
    let (tx, rx) = pair();
    for i in 0..n {
        let p = h.spawn(Hooked(tx.clone()));
        if i % 2 == 0 {
            h.send(p, 1, ()).unwrap();
        }
        // a trapping actor is stopped too: runtime shutdown cannot be trapped
        if i % 7 == 0 {
            let _ = h.spawn_opts(
                Hooked(tx.clone()),
                actor_core::SpawnOptions::new().trap_exit(true),
            );
        }
    }
    // grow the blocking pool so its threads must be joined as well
    let (done_tx, done_rx) = pair::<()>();
    for _ in 0..4 {
        let d = done_tx.clone();
        h.spawn_blocking(Pid::NONE, 1, move || d.send(()).unwrap())
            .unwrap();
    }
    for _ in 0..4 {
        recv(&done_rx);
    }
    (rt, rx)
}

#[test]
fn shutdown_and_drop_stop_every_actor_with_hooks_and_join_every_thread() {
    let base = threads();
    let n: usize = 10_000;
    let expected = n + n.div_ceil(7);

    let (rt, rx) = busy_runtime(n);
    let h = rt.handle();
    assert!(threads() > base);
    assert!(rt.shutdown(Duration::from_secs(10)));
    let reasons: Vec<ExitReason> = rx.try_iter().collect();
    assert_eq!(reasons.len(), expected);
    assert!(reasons.iter().all(|r| *r == ExitReason::Shutdown));
    assert_eq!(threads(), base, "every runtime thread joined");
    assert_eq!(h.actor_count(), 0);
    // After shutdown nothing starts and nothing is delivered.
    let p = h.spawn_fn(|_c, _m| {});
    assert_eq!(p, Pid::NONE);
    assert!(h.send(p, 1, ()).is_err());

    let (rt, rx) = busy_runtime(n);
    drop(rt);
    assert_eq!(rx.try_iter().count(), expected);
    assert_eq!(threads(), base, "drop joins every thread too");
}
