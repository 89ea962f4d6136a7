//! Shutdown tests, alone in their binary so the thread count is theirs alone.

mod common;

use actor_core::{
    Actor, BlockingResult, Context, ExitReason, Message, Pid, ProtocolTag, Runtime, SendError,
    SpawnOptions,
};
use common::{pair, recv, HANG};
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

/// Blocking-pool threads [`busy_runtime`] holds at once.
const BLOCKING: usize = 4;

/// A runtime with `n` hooked actors (some trapping exits) and a blocking pool
/// grown to [`BLOCKING`] threads; also returns a live plain actor.
fn busy_runtime(n: usize) -> (Runtime, std::sync::mpsc::Receiver<ExitReason>, Pid) {
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
            let _ = h.spawn_opts(Hooked(tx.clone()), SpawnOptions::new().trap_exit(true));
        }
    }
    // Grow the blocking pool so its threads must be joined as well: every job
    // holds its thread until all have started, so the pool has BLOCKING at
    // once. Their results go to a real actor, which must get each one.
    let (reply_tx, replies) = pair::<Message>();
    let reply_to = h.spawn_fn(move |_c, m| reply_tx.send(m).unwrap());
    let (started_tx, started) = pair::<()>();
    let mut releases = Vec::new();
    for _ in 0..BLOCKING {
        let s = started_tx.clone();
        let (release, wait) = pair::<()>();
        releases.push(release);
        h.spawn_blocking(reply_to, 1, move || {
            s.send(()).unwrap();
            wait.recv_timeout(HANG).expect("released");
        })
        .unwrap();
    }
    for _ in 0..BLOCKING {
        recv(&started);
    }
    for r in releases {
        r.send(()).unwrap();
    }
    for _ in 0..BLOCKING {
        let m = recv(&replies);
        assert_eq!(m.tag(), 1);
        assert_eq!(m.downcast::<BlockingResult<()>>().unwrap(), Ok(()));
    }
    (rt, rx, reply_to)
}

#[test]
fn shutdown_and_drop_stop_every_actor_with_hooks_and_join_every_thread() {
    let base = threads();
    let n: usize = 10_000;
    let expected = n + n.div_ceil(7);

    let (rt, rx, live) = busy_runtime(n);
    let h = rt.handle();
    assert!(
        threads() >= base + 3 + 1 + BLOCKING,
        "3 workers, the timer and the blocking pool are running"
    );
    assert!(rt.shutdown(Duration::from_secs(10)));
    let reasons: Vec<ExitReason> = rx.try_iter().collect();
    assert_eq!(reasons.len(), expected);
    assert!(reasons.iter().all(|r| *r == ExitReason::Shutdown));
    assert_eq!(threads(), base, "every runtime thread joined");
    assert_eq!(h.actor_count(), 0);
    // After shutdown nothing starts and nothing is delivered: not to an actor
    // that was live before, not through a port, not to a named actor.
    assert!(matches!(h.send(live, 1, ()), Err(SendError::NoProc(_))));
    let p = h.spawn_fn(|_c, _m| {});
    assert_eq!(p, Pid::NONE);
    let (port, _) = h.spawn_with_port(Hooked(pair().0), SpawnOptions::new());
    assert_eq!(port.pid(), Pid::NONE);
    assert!(matches!(
        port.send(ProtocolTag::new(0), ()),
        Err(SendError::NoProc(_))
    ));
    let named = h.whereis_or_spawn("late", || -> Hooked {
        panic!("make must not run after shutdown")
    });
    assert_eq!(named, Pid::NONE);
    assert_eq!(h.whereis("late"), None);
    assert_eq!(h.actor_count(), 0);

    let (rt, rx, _) = busy_runtime(n);
    drop(rt);
    assert_eq!(rx.try_iter().count(), expected);
    assert_eq!(threads(), base, "drop joins every thread too");
}
