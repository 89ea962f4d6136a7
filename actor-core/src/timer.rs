//! The runtime's one timer thread: a binary heap of deadlines, cancellable, woken by a condvar.

use crate::actor::lock;
use crate::mailbox::Signal;
use crate::message::Message;
use crate::pid::Pid;
use crate::runtime::Shared;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Identifies a pending timer so it can be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerRef(u64);

/// What happens when a timer fires.
#[derive(Debug)]
pub(crate) enum Pending {
    /// Deliver a user message.
    Send { pid: Pid, msg: Message },
    /// Check the actor's receive timeout.
    ReceiveTimeout(Pid),
}

#[derive(Debug, Default)]
struct State {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    pending: HashMap<u64, (Instant, Pending)>,
    next: u64,
    stop: bool,
}

/// Every timer of one runtime.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    state: Mutex<State>,
    cv: Condvar,
}

impl Timer {
    pub(crate) fn new() -> Timer {
        Timer::default()
    }

    pub(crate) fn add(&self, deadline: Instant, what: Pending) -> TimerRef {
        let mut s = lock(&self.state);
        s.next += 1;
        let id = s.next;
        let earliest = s.heap.peek().map_or(true, |Reverse((t, _))| deadline < *t);
        s.heap.push(Reverse((deadline, id)));
        s.pending.insert(id, (deadline, what));
        drop(s);
        if earliest {
            self.cv.notify_one();
        }
        TimerRef(id)
    }

    pub(crate) fn cancel(&self, r: TimerRef) -> bool {
        let mut s = lock(&self.state);
        let found = s.pending.remove(&r.0).is_some();
        // Cancelled entries stay in the heap until due; rebuild when they dominate.
        if s.heap.len() > 1024 && s.heap.len() > 2 * s.pending.len() {
            let heap = s
                .pending
                .iter()
                .map(|(id, (t, _))| Reverse((*t, *id)))
                .collect();
            s.heap = heap;
        }
        found
    }

    pub(crate) fn stop(&self) {
        lock(&self.state).stop = true;
        self.cv.notify_all();
    }

    /// The timer thread's body: fire what is due, sleep until the next deadline.
    pub(crate) fn run(shared: &Shared) {
        let timer = &shared.timer;
        let mut s = lock(&timer.state);
        let mut due = Vec::new();
        loop {
            if s.stop {
                return;
            }
            let now = Instant::now();
            while let Some(Reverse((t, id))) = s.heap.peek().copied() {
                if t > now {
                    break;
                }
                s.heap.pop();
                if let Some((_, p)) = s.pending.remove(&id) {
                    due.push(p);
                }
            }
            if !due.is_empty() {
                drop(s);
                for p in due.drain(..) {
                    match p {
                        Pending::Send { pid, msg } => {
                            let _ = shared.send_msg(pid, msg);
                        }
                        Pending::ReceiveTimeout(pid) => {
                            shared.signal(pid, Signal::ReceiveTimeout);
                        }
                    }
                }
                s = lock(&timer.state);
                continue;
            }
            let wait = s
                .heap
                .peek()
                .map(|Reverse((t, _))| t.saturating_duration_since(now));
            s = match wait {
                Some(d) => match timer.cv.wait_timeout(s, d) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                },
                None => match timer.cv.wait(s) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                },
            };
        }
    }
}
