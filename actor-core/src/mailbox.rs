//! The mailbox: a system queue drained before the user queue, the scheduling
//! state, and the actor's own state while it is not running, all under one lock.
//!
//! State machine (a field of the locked queue):
//!
//! ```text
//!            send (only this sender enqueues)
//!   IDLE ─────────────────────────────────▶ SCHEDULED
//!    ▲                                         │ worker picks it up (start_run)
//!    │ queue empty under the lock              ▼
//!    └──────────────────────────────────── RUNNING
//! ```
//!
//! A sender pushes and reads the state under the same lock the runner holds
//! when it finds the queue empty and goes IDLE, so either the runner's
//! `next_or_idle` sees the message, or the sender finds IDLE and schedules the
//! actor itself; no NOTIFIED state and no separate CAS are needed. Only the
//! sender that moves IDLE → SCHEDULED enqueues it, so the actor is never on two
//! run queues and never runs on two workers at once.
//!
//! The actor's own state (`L`, the runtime's `Local`) is parked in the same
//! lock while the actor is not running: `start_run` takes it out, and
//! `next_or_idle` / `yield_turn` put it back in the same critical section that
//! changes the state. One lock round trip per message and one per turn end,
//! instead of a queue lock, a state CAS and a separate actor-state lock.

use crate::exit::{Down, ExitReason};
use crate::message::Message;
use crate::pid::Pid;
use crate::sync::{Mutex, MutexGuard};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Scheduled,
    Running,
}

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

/// What the runner handles next. Signals are rare and large, so they are
/// boxed: an `Item` stays two words and a tag, cheap to move per message.
#[derive(Debug)]
pub(crate) enum Item {
    Signal(Box<Signal>),
    Message(Message),
}

/// What a runner took out of the mailbox in one critical section: one signal,
/// or up to the rest of its budget in user messages. The worker owns it and
/// reuses its buffer from turn to turn.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    signal: Option<Box<Signal>>,
    user: VecDeque<Message>,
}

impl Batch {
    /// The next item taken, if any is left.
    pub(crate) fn next(&mut self) -> Option<Item> {
        if let Some(s) = self.signal.take() {
            return Some(Item::Signal(s));
        }
        self.user.pop_front().map(Item::Message)
    }

    /// Does the batch hold user messages (then it holds no signal)?
    #[inline]
    pub(crate) fn has_user(&self) -> bool {
        !self.user.is_empty()
    }

    /// The next user message, if the batch holds user messages.
    #[inline]
    pub(crate) fn next_user(&mut self) -> Option<Message> {
        self.user.pop_front()
    }

    /// Drops whatever is left (the actor exited mid-batch).
    pub(crate) fn clear(&mut self) {
        self.signal = None;
        self.user.clear();
    }
}

/// The user queue: its oldest message inline, the rest behind it. An actor
/// that keeps up (the usual one message at a time) never touches the ring's
/// buffer, a separate allocation and at 1000 connections a cache miss per
/// message on each side; an idle actor holds no buffer at all.
#[derive(Debug, Default)]
struct UserQueue {
    /// The oldest message; `None` only when `rest` is empty too.
    head: Option<Message>,
    rest: VecDeque<Message>,
}

impl UserQueue {
    fn push_back(&mut self, msg: Message) {
        if self.head.is_none() {
            self.head = Some(msg);
        } else {
            self.rest.push_back(msg);
        }
    }

    fn pop_front(&mut self) -> Option<Message> {
        let msg = self.head.take()?;
        self.head = self.rest.pop_front();
        Some(msg)
    }

    fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    /// Everything queued, oldest first.
    fn take_all(&mut self) -> Vec<Message> {
        self.head
            .take()
            .into_iter()
            .chain(self.rest.drain(..))
            .collect()
    }
}

#[derive(Debug)]
struct Queue<L> {
    sys: VecDeque<Box<Signal>>,
    user: UserQueue,
    state: State,
    closed: bool,
    /// The actor's own state while no worker runs it.
    parked: Option<L>,
}

/// One actor's queues, scheduling state and (while not running) own state.
#[derive(Debug)]
pub(crate) struct Mailbox<L> {
    queue: Mutex<Queue<L>>,
}

impl<L> Queue<L> {
    /// Moves the next work into `out`: the oldest signal alone if there is one
    /// (signals jump the user queue), else up to `max` user messages. `false`:
    /// nothing was queued.
    fn fill(&mut self, out: &mut Batch, max: usize) -> bool {
        if let Some(s) = self.sys.pop_front() {
            out.signal = Some(s);
            return true;
        }
        // A plain pop/push loop: for the usual one or few messages it is far
        // cheaper than `extend(drain(..n))` and its guards.
        let mut took = false;
        for _ in 0..max {
            let Some(m) = self.user.pop_front() else {
                break;
            };
            out.user.push_back(m);
            took = true;
        }
        took
    }

    /// After a push: IDLE → SCHEDULED (returns true: the caller enqueues).
    fn notify(&mut self) -> bool {
        if self.state == State::Idle {
            self.state = State::Scheduled;
            true
        } else {
            false
        }
    }
}

impl<L> Mailbox<L> {
    /// A mailbox that starts SCHEDULED, holding `local`: the spawner enqueues the new actor itself.
    pub(crate) fn new_scheduled(local: L) -> Mailbox<L> {
        Mailbox {
            queue: Mutex::new(Queue {
                sys: VecDeque::new(),
                user: UserQueue::default(),
                state: State::Scheduled,
                closed: false,
                parked: Some(local),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue<L>> {
        // A panic never happens while this lock is held (only VecDeque ops and
        // moves), so poisoning cannot occur; recover the guard anyway rather than abort.
        match self.queue.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Queues a user message. `Ok(true)`: the caller moved IDLE → SCHEDULED and must enqueue.
    #[inline]
    pub(crate) fn push(&self, msg: Message) -> Result<bool, Message> {
        let mut q = self.lock();
        if q.closed {
            return Err(msg);
        }
        q.user.push_back(msg);
        Ok(q.notify())
    }

    /// Queues a system signal. `Ok(true)`: the caller must enqueue the actor.
    pub(crate) fn push_signal(&self, sig: Signal) -> Result<bool, Signal> {
        let mut q = self.lock();
        if q.closed {
            return Err(sig);
        }
        q.sys.push_back(Box::new(sig));
        Ok(q.notify())
    }

    /// The worker took the actor off a run queue: SCHEDULED → RUNNING. Returns
    /// the actor's own state (None once it has exited) and fills `out` with
    /// the first work (at most `max` messages), all in one critical section.
    pub(crate) fn start_run(&self, out: &mut Batch, max: usize) -> Option<L> {
        let mut q = self.lock();
        q.state = State::Running;
        let local = q.parked.take();
        q.fill(out, max);
        local
    }

    /// Fills `out` with the next work (see `start_run`); leaves the state alone.
    pub(crate) fn refill(&self, out: &mut Batch, max: usize) -> bool {
        self.lock().fill(out, max)
    }

    /// Fills `out` with the next work, or, if both queues are empty, parks the
    /// actor state held in `local` and goes RUNNING → IDLE in the same
    /// critical section (`false`): a send after that finds IDLE and schedules
    /// the actor again. The state is passed by reference so the common case
    /// (work is there) moves nothing.
    pub(crate) fn next_or_idle(&self, local: &mut Option<L>, out: &mut Batch, max: usize) -> bool {
        let mut q = self.lock();
        if q.fill(out, max) {
            return true;
        }
        q.parked = local.take();
        q.state = State::Idle;
        false
    }

    /// Is a user message waiting?
    pub(crate) fn has_user(&self) -> bool {
        !self.lock().user.is_empty()
    }

    /// Number of queued user messages.
    pub(crate) fn len(&self) -> usize {
        self.lock().user.len()
    }

    /// Budget used up: park `local`, RUNNING → SCHEDULED; the runner re-enqueues.
    pub(crate) fn yield_turn(&self, local: Option<L>) {
        let mut q = self.lock();
        q.parked = local;
        q.state = State::Scheduled;
    }

    /// The actor exited: refuse further sends and hand back what was queued.
    pub(crate) fn close(&self) -> (Vec<Signal>, Vec<Message>) {
        let mut q = self.lock();
        q.closed = true;
        let sys = q.sys.drain(..).map(|s| *s).collect();
        let user = q.user.take_all();
        (sys, user)
    }

    /// Has the actor exited?
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Takes the parked actor state out (runtime teardown), if it is parked.
    pub(crate) fn take_parked(&self) -> Option<L> {
        self.lock().parked.take()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn tags(b: &mut Batch) -> Vec<u64> {
        let mut v = Vec::new();
        while let Some(Item::Message(m)) = b.next() {
            v.push(m.tag());
        }
        v
    }

    #[test]
    fn only_first_send_to_idle_schedules() {
        let mb = Mailbox::new_scheduled(7u8);
        let mut b = Batch::default();
        assert!(!mb.push(Message::new(1, ())).unwrap(), "already scheduled");
        assert_eq!(mb.start_run(&mut b, 64), Some(7));
        assert_eq!(tags(&mut b), [1]);
        assert!(
            !mb.next_or_idle(&mut Some(7), &mut b, 64),
            "empty: goes idle"
        );
        assert!(mb.push(Message::new(2, ())).unwrap(), "idle -> scheduled");
        assert!(
            !mb.push(Message::new(3, ())).unwrap(),
            "second sender does not"
        );
        assert_eq!(
            mb.start_run(&mut b, 64),
            Some(7),
            "the parked state comes back"
        );
        assert_eq!(tags(&mut b), [2, 3]);
    }

    #[test]
    fn send_while_running_is_not_lost() {
        let mb = Mailbox::new_scheduled(());
        let mut b = Batch::default();
        let mut local = mb.start_run(&mut b, 64);
        assert!(b.next().is_none());
        // a send lands while the runner holds the actor
        assert!(!mb.push(Message::new(1, ())).unwrap());
        assert!(mb.next_or_idle(&mut local, &mut b, 64), "not idle");
        assert_eq!(tags(&mut b), [1]);
        assert!(local.is_some(), "still held by the runner");
        assert!(!mb.next_or_idle(&mut local, &mut b, 64));
        assert!(local.is_none(), "parked");
    }

    #[test]
    fn a_batch_takes_at_most_max_messages() {
        let mb = Mailbox::new_scheduled(());
        let mut b = Batch::default();
        for i in 0..10 {
            mb.push(Message::new(i, ())).unwrap();
        }
        let _ = mb.start_run(&mut b, 4);
        assert_eq!(tags(&mut b), [0, 1, 2, 3]);
        assert_eq!(mb.len(), 6);
        assert!(mb.refill(&mut b, 64));
        assert_eq!(tags(&mut b), [4, 5, 6, 7, 8, 9]);
        assert!(!mb.refill(&mut b, 64));
    }

    #[test]
    fn yield_keeps_it_scheduled() {
        let mb = Mailbox::new_scheduled(());
        let mut b = Batch::default();
        let local = mb.start_run(&mut b, 64);
        mb.push(Message::new(1, ())).unwrap();
        mb.yield_turn(local);
        assert!(!mb.push(Message::new(2, ())).unwrap(), "still scheduled");
        assert_eq!(mb.len(), 2);
    }

    #[test]
    fn system_queue_is_drained_first() {
        let mb = Mailbox::new_scheduled(());
        let mut b = Batch::default();
        for i in 0..10 {
            mb.push(Message::new(i, ())).unwrap();
        }
        mb.push_signal(Signal::Kill).unwrap();
        assert!(mb.refill(&mut b, 64));
        assert!(matches!(b.next(), Some(Item::Signal(s)) if matches!(*s, Signal::Kill)));
        assert!(b.next().is_none(), "a signal comes alone");
        assert_eq!(mb.len(), 10);
    }

    #[test]
    fn order_is_kept_across_the_inline_head() {
        let mb = Mailbox::new_scheduled(());
        let mut b = Batch::default();
        mb.push(Message::new(1, ())).unwrap();
        mb.push(Message::new(2, ())).unwrap();
        let _ = mb.start_run(&mut b, 1);
        assert_eq!(tags(&mut b), [1]);
        // 2 moved up to the head; 3 and 4 queue behind it.
        mb.push(Message::new(3, ())).unwrap();
        mb.push(Message::new(4, ())).unwrap();
        assert_eq!(mb.len(), 3);
        assert!(mb.refill(&mut b, 2));
        assert_eq!(tags(&mut b), [2, 3]);
        mb.push(Message::new(5, ())).unwrap();
        assert!(mb.has_user());
        let (_, user) = mb.close();
        assert_eq!(user.iter().map(Message::tag).collect::<Vec<_>>(), [4, 5]);
        assert!(!mb.has_user());
    }

    #[test]
    fn closed_mailbox_returns_the_message() {
        let mb = Mailbox::new_scheduled(());
        mb.push(Message::new(1, 5u8)).unwrap();
        let (_, user) = mb.close();
        assert_eq!(user.len(), 1);
        let back = mb.push(Message::new(9, 3u8)).unwrap_err();
        assert_eq!(back.tag(), 9);
        assert!(mb.is_closed());
    }
}
