//! Work-stealing actor runtime with tagged mailboxes, links, monitors and supervisors.
//!
//! # The model in one screen
//!
//! - **Actors.** An actor is state plus a handler that runs one [`Message`] at
//!   a time with `&mut self` ([`Actor`], or a closure via [`Handle::spawn_fn`]).
//!   It never runs on two workers at once; it handles at most a budget of
//!   messages per turn, then yields its worker to the others.
//! - **Workers.** `N` threads, each with a crossbeam deque: first the actor a
//!   handler on this worker just woke with a send (a LIFO slot, a few turns in
//!   a row at most), then the own deque, the global injector (checked first
//!   every few turns so it is never starved), then stealing; they park when
//!   there is no work, so idle actors cost no CPU.
//! - **Tags.** A message is a `u64` tag plus a payload of any `Send` type, read
//!   back with a checked [`Message::downcast`]. Tags at the top of the range are
//!   reserved ([`tag`]): exit signals, monitor notifications, timeouts, and
//!   four [`ProtocolTag`]s that only a [`Port`] (the capability
//!   [`Handle::spawn_with_port`] returns) can deliver, so a protocol bridge's
//!   events cannot be forged. User sends with a reserved tag are refused.
//!   [`Handle::tell`] sends with the user tag [`tag::TELL`] for receivers that
//!   dispatch on the payload's type. System signals jump the user queue.
//! - **Names.** [`Handle::register`] / [`Handle::whereis`], and
//!   [`Handle::whereis_or_spawn`] to look up or start a named actor in one
//!   step, without a race between two callers.
//! - **Pids.** A [`Pid`] is a slot plus a generation: a send to an exited actor
//!   fails with the message handed back and never reaches a successor.
//! - **Failure.** A panic in a handler is caught and becomes the actor's
//!   [`ExitReason::Panic`]. Links are two-way: an abnormal exit kills linked
//!   actors (reason [`ExitReason::Linked`]) unless they trap exits, in which
//!   case they get an [`Exit`] message. Monitors are one-way: a [`Down`] message.
//!   [`Handle::kill`] cannot be trapped.
//! - **Supervision.** A [`Supervisor`] restarts children one-for-one,
//!   one-for-all or rest-for-one, within a restart intensity, and stops them in
//!   reverse start order with a per-child timeout.
//! - **Time and blocking.** One timer thread drives [`Handle::send_after`] and
//!   receive timeouts; blocking work goes to [`Handle::spawn_blocking`].
//!
//! What it deliberately does not do: async/await, I/O, networking (it knows
//! nothing of WebSocket or HTTP; ws-server bridges those in through ports),
//! distribution across machines, pre-empting a handler that never returns.
//!
//! # Example: a supervised worker pool
//!
//! ```
//! use actor_core::{from_fn, ChildSpec, Context, Message, Pid, Runtime, Strategy, Supervisor,
//!                  WhichChildren};
//! use std::sync::mpsc;
//! use std::time::Duration;
//!
//! const SQUARE: u64 = 1;
//! const CHILDREN: u64 = 2;
//!
//! let rt = Runtime::builder().workers(2).thread_name("pool").build()?;
//! let h = rt.handle();
//! let (results, rx) = mpsc::channel::<u64>();
//!
//! // Three workers that square numbers. One fed 13 panics; its supervisor restarts it.
//! let mut sup = Supervisor::new(Strategy::OneForOne).intensity(5, Duration::from_secs(1));
//! for i in 0..3 {
//!     let results = results.clone();
//!     sup = sup.child(ChildSpec::new(format!("worker{i}"), move || {
//!         let results = results.clone();
//!         from_fn(move |_ctx: &mut Context<'_>, msg: Message| {
//!             let n: u64 = msg.downcast().expect("SQUARE carries a u64");
//!             assert!(n != 13, "unlucky number");
//!             results.send(n * n).unwrap();
//!         })
//!     }));
//! }
//! let sup = h.spawn(sup);
//!
//! // Ask the supervisor for its workers; the answer comes back as a message.
//! let (tx, answers) = mpsc::channel();
//! let asker = h.spawn_fn(move |_ctx, msg| {
//!     tx.send(msg.downcast::<Vec<(String, Option<Pid>)>>().unwrap()).unwrap();
//! });
//! h.send(sup, 0, WhichChildren { reply_to: asker, tag: CHILDREN })?;
//! let workers: Vec<Pid> = answers.recv()?.into_iter().filter_map(|(_, p)| p).collect();
//!
//! h.send(workers[0], SQUARE, 13u64)?; // worker0 panics and is restarted
//! for (i, n) in [2u64, 3, 4].into_iter().enumerate() {
//!     h.send(workers[1 + i % 2], SQUARE, n)?;
//! }
//! let mut got: Vec<u64> = (0..3).map(|_| rx.recv().unwrap()).collect();
//! got.sort();
//! assert_eq!(got, [4, 9, 16]);
//! assert!(rt.shutdown(Duration::from_secs(5)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod actor;
mod blocking;
mod exit;
mod idle;
mod link;
mod mailbox;
mod message;
mod metrics;
mod pid;
mod registry;
mod runtime;
mod slot;
mod supervisor;
mod sync;
pub mod tag;
mod timer;
mod worker;

pub use actor::{from_fn, Actor, BlockingResult, Context, FnActor};
pub use blocking::BlockingPanic;
pub use exit::{panic_message, Down, Exit, ExitReason, MonitorRef, Timeout};
pub use message::Message;
pub use metrics::RuntimeMetrics;
pub use pid::Pid;
pub use runtime::{
    Builder, Driver, Error, Handle, Port, Runtime, SendError, SpawnOptions, DROP_SHUTDOWN_TIMEOUT,
};
pub use supervisor::{ChildSpec, Restart, Strategy, Supervisor, WhichChildren, INTENSITY_REACHED};
pub use tag::ProtocolTag;
pub use timer::TimerRef;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
