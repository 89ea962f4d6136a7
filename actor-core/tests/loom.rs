//! Model-checks the mailbox state machine under loom: every interleaving of
//! senders racing the runner going idle.
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test -p actor-core --release --test loom`
//! (a plain `cargo test` compiles this file to nothing).
#![cfg(loom)]
#![allow(dead_code, unreachable_pub)]

#[path = "../src/exit.rs"]
mod exit;
#[path = "../src/mailbox.rs"]
mod mailbox;
#[path = "../src/message.rs"]
mod message;
#[path = "../src/pid.rs"]
mod pid;
#[path = "../src/sync.rs"]
mod sync;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use mailbox::{Item, Mailbox, Signal};
use message::Message;

/// What a worker does with an actor it took off a run queue, with a budget;
/// when the budget is spent the actor is "re-enqueued" and picked up again.
/// `running` is held exactly while the state says this runner owns the actor
/// (in the runtime, the actor's state lock is held over the same span).
fn run(mb: &Mailbox, running: &AtomicBool, handled: &AtomicUsize, budget: usize) {
    'turn: loop {
        mb.start_run();
        assert!(!running.swap(true, Ordering::SeqCst), "ran on two workers");
        let mut left = budget;
        loop {
            match mb.pop() {
                Some(Item::Message(_)) | Some(Item::Signal(_)) => {
                    handled.fetch_add(1, Ordering::SeqCst);
                    left -= 1;
                    if left == 0 {
                        running.store(false, Ordering::SeqCst);
                        mb.yield_turn();
                        continue 'turn;
                    }
                }
                None => {
                    running.store(false, Ordering::SeqCst);
                    if mb.try_idle() {
                        return;
                    }
                    assert!(!running.swap(true, Ordering::SeqCst), "ran on two workers");
                }
            }
        }
    }
}

fn model(budget: usize, signal: bool) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(move || {
        let mb = Arc::new(Mailbox::new_scheduled());
        let running = Arc::new(AtomicBool::new(false));
        let handled = Arc::new(AtomicUsize::new(0));
        let senders: Vec<_> = (0..2)
            .map(|i| {
                let (mb, running, handled) = (mb.clone(), running.clone(), handled.clone());
                loom::thread::spawn(move || {
                    let schedule = if signal && i == 1 {
                        mb.push_signal(Signal::Kill).unwrap()
                    } else {
                        mb.push(Message::new(i, ())).unwrap()
                    };
                    // Only the sender that moved IDLE -> SCHEDULED runs it.
                    if schedule {
                        run(&mb, &running, &handled, budget);
                    }
                })
            })
            .collect();
        // The spawner owns the first, SCHEDULED, turn.
        run(&mb, &running, &handled, budget);
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(
            handled.load(Ordering::SeqCst),
            2,
            "a message was left behind"
        );
        // Everything is drained and the actor is IDLE: the next send schedules it.
        assert!(mb.pop().is_none());
        assert!(mb.push(Message::new(9, ())).unwrap());
    });
}

#[test]
fn senders_racing_idle_lose_nothing_and_never_double_run() {
    model(64, false);
}

#[test]
fn budget_yield_racing_senders() {
    model(1, false);
}

#[test]
fn signal_and_message_racing_idle() {
    model(1, true);
}

#[test]
fn close_racing_a_send_either_delivers_or_returns_the_message() {
    loom::model(|| {
        let mb = Arc::new(Mailbox::new_scheduled());
        let m2 = mb.clone();
        let t = loom::thread::spawn(move || m2.push(Message::new(1, ())).is_err());
        let (_, drained) = mb.close();
        let refused = t.join().unwrap();
        assert_eq!(usize::from(refused) + drained.len(), 1);
    });
}
