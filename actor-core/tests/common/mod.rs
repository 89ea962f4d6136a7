//! Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use actor_core::{Context, Handle, Message, Pid, Runtime};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

/// A hang guard, not a timing assertion: a test that waits this long has already failed.
pub(crate) const HANG: Duration = Duration::from_secs(20);

pub(crate) fn rt(workers: usize) -> Runtime {
    Runtime::builder()
        .workers(workers)
        .thread_name("test")
        .build()
        .expect("runtime")
}

pub(crate) fn recv<T>(rx: &Receiver<T>) -> T {
    rx.recv_timeout(HANG)
        .expect("timed out waiting for the runtime")
}

/// An actor that forwards every message it gets to the test thread.
pub(crate) fn probe(h: &Handle) -> (Pid, Receiver<Message>) {
    let (tx, rx) = channel();
    let pid = h.spawn_fn(move |_ctx: &mut Context<'_>, m: Message| {
        let _ = tx.send(m);
    });
    (pid, rx)
}

/// An actor that traps exits and forwards every message.
pub(crate) fn trapping_probe(h: &Handle) -> (Pid, Receiver<Message>) {
    let (tx, rx) = channel();
    let pid = h.spawn_opts(
        actor_core::from_fn(move |_ctx: &mut Context<'_>, m: Message| {
            let _ = tx.send(m);
        }),
        actor_core::SpawnOptions::new().trap_exit(true),
    );
    (pid.0, rx)
}

/// Polls `cond` until it holds; panics naming `what` if it has not within [`HANG`].
pub(crate) fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + HANG;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        std::thread::yield_now();
    }
}

pub(crate) fn pair<T>() -> (Sender<T>, Receiver<T>) {
    channel()
}
