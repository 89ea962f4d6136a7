//! The mailbox: a system queue drained before the user queue, and the one atomic scheduling state.
//!
//! State machine (one `AtomicU8`):
//!
//! ```text
//!            send (only this sender enqueues)
//!   IDLE ─────────────────────────────────▶ SCHEDULED
//!    ▲                                         │ worker picks it up
//!    │ queue empty, CAS RUNNING→IDLE           ▼
//!    └──────────────────────────────────── RUNNING ◀──┐
//!                                   send │            │ CAS to IDLE failed:
//!                                        ▼            │ go round again
//!                                     NOTIFIED ───────┘
//! ```
//!
//! A message is pushed under the queue lock *before* the state is touched, so
//! either the runner's final `pop` sees it, or the runner's CAS to IDLE fails
//! (the sender made it NOTIFIED), or the sender finds IDLE and schedules the
//! actor itself. Only the sender that wins IDLE → SCHEDULED enqueues it, so the
//! actor is never on two run queues and never runs on two workers at once.

use crate::exit::{Down, ExitReason};
use crate::message::Message;
use crate::pid::Pid;
use crate::sync::{AtomicU8, Mutex, MutexGuard, Ordering};
use std::collections::VecDeque;

const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const RUNNING: u8 = 2;
const NOTIFIED: u8 = 3;

/// A system signal; always handled before any user message.
#[derive(Debug)]
pub(crate) enum Signal {
    /// An exit signal from a link (`linked`) or from `exit(pid, reason)`.
    Exit {
        from: Pid,
        reason: ExitReason,
        linked: bool,
    },
    /// Untrappable kill.
    Kill,
    /// Runtime shutdown: untrappable exit with reason `Shutdown`.
    Shutdown,
    /// A monitored actor went down.
    Down(Down),
    /// The receive-timeout timer fired (checked against real idleness when handled).
    ReceiveTimeout,
}

/// What the runner pops next.
#[derive(Debug)]
pub(crate) enum Item {
    Signal(Signal),
    Message(Message),
}

#[derive(Debug, Default)]
struct Queue {
    sys: VecDeque<Signal>,
    user: VecDeque<Message>,
    closed: bool,
}

/// One actor's queues and scheduling state.
#[derive(Debug)]
pub(crate) struct Mailbox {
    state: AtomicU8,
    queue: Mutex<Queue>,
}

impl Mailbox {
    /// A mailbox that starts SCHEDULED: the spawner enqueues the new actor itself.
    pub(crate) fn new_scheduled() -> Mailbox {
        Mailbox {
            state: AtomicU8::new(SCHEDULED),
            queue: Mutex::new(Queue::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic never happens while this lock is held (only VecDeque ops), so
        // poisoning cannot occur; recover the guard anyway rather than abort.
        match self.queue.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Queues a user message. `Ok(true)`: the caller moved IDLE → SCHEDULED and must enqueue.
    pub(crate) fn push(&self, msg: Message) -> Result<bool, Message> {
        {
            let mut q = self.lock();
            if q.closed {
                return Err(msg);
            }
            q.user.push_back(msg);
        }
        Ok(self.notify())
    }

    /// Queues a system signal. `Ok(true)`: the caller must enqueue the actor.
    pub(crate) fn push_signal(&self, sig: Signal) -> Result<bool, Signal> {
        {
            let mut q = self.lock();
            if q.closed {
                return Err(sig);
            }
            q.sys.push_back(sig);
        }
        Ok(self.notify())
    }

    /// After a push: IDLE → SCHEDULED (returns true), RUNNING → NOTIFIED, else nothing.
    fn notify(&self) -> bool {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            let next = match cur {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                _ => return false,
            };
            match self
                .state
                .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return next == SCHEDULED,
                Err(actual) => cur = actual,
            }
        }
    }

    /// The worker took the actor off a run queue: SCHEDULED → RUNNING.
    pub(crate) fn start_run(&self) {
        self.state.swap(RUNNING, Ordering::AcqRel);
    }

    /// Next item: system signals first, then user messages.
    pub(crate) fn pop(&self) -> Option<Item> {
        let mut q = self.lock();
        if let Some(s) = q.sys.pop_front() {
            return Some(Item::Signal(s));
        }
        q.user.pop_front().map(Item::Message)
    }

    /// Is a user message waiting?
    pub(crate) fn has_user(&self) -> bool {
        !self.lock().user.is_empty()
    }

    /// Number of queued user messages.
    pub(crate) fn len(&self) -> usize {
        self.lock().user.len()
    }

    /// The queue looked empty: try RUNNING → IDLE. `false`: a send raced in
    /// (state was NOTIFIED, now RUNNING again) and the runner must go round again.
    pub(crate) fn try_idle(&self) -> bool {
        match self
            .state
            .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(_) => {
                // Only NOTIFIED is possible here: senders never touch RUNNING
                // except to make it NOTIFIED, and nobody else changes it.
                self.state.swap(RUNNING, Ordering::AcqRel);
                false
            }
        }
    }

    /// Budget used up with work left: RUNNING/NOTIFIED → SCHEDULED; the runner re-enqueues.
    pub(crate) fn yield_turn(&self) {
        self.state.swap(SCHEDULED, Ordering::AcqRel);
    }

    /// The actor exited: refuse further sends and hand back what was queued.
    pub(crate) fn close(&self) -> (Vec<Signal>, Vec<Message>) {
        let mut q = self.lock();
        q.closed = true;
        let sys = q.sys.drain(..).collect();
        let user = q.user.drain(..).collect();
        (sys, user)
    }

    /// Has the actor exited?
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn only_first_send_to_idle_schedules() {
        let mb = Mailbox::new_scheduled();
        assert!(!mb.push(Message::new(1, ())).unwrap(), "already scheduled");
        mb.start_run();
        assert!(matches!(mb.pop(), Some(Item::Message(_))));
        assert!(mb.pop().is_none());
        assert!(mb.try_idle());
        assert!(mb.push(Message::new(2, ())).unwrap(), "idle -> scheduled");
        assert!(
            !mb.push(Message::new(3, ())).unwrap(),
            "second sender does not"
        );
    }

    #[test]
    fn send_while_running_is_not_lost() {
        let mb = Mailbox::new_scheduled();
        mb.start_run();
        assert!(mb.pop().is_none());
        // a send lands between the empty pop and the idle attempt
        assert!(!mb.push(Message::new(1, ())).unwrap());
        assert!(!mb.try_idle(), "notified: must go round again");
        assert!(matches!(mb.pop(), Some(Item::Message(_))));
        assert!(mb.try_idle());
    }

    #[test]
    fn system_queue_is_drained_first() {
        let mb = Mailbox::new_scheduled();
        for i in 0..10 {
            mb.push(Message::new(i, ())).unwrap();
        }
        mb.push_signal(Signal::Kill).unwrap();
        assert!(matches!(mb.pop(), Some(Item::Signal(Signal::Kill))));
        assert_eq!(mb.len(), 10);
    }

    #[test]
    fn closed_mailbox_returns_the_message() {
        let mb = Mailbox::new_scheduled();
        mb.push(Message::new(1, 5u8)).unwrap();
        let (_, user) = mb.close();
        assert_eq!(user.len(), 1);
        let back = mb.push(Message::new(9, 3u8)).unwrap_err();
        assert_eq!(back.tag(), 9);
        assert!(mb.is_closed());
    }
}
