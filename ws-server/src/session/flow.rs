//! The two counters the actor and the session share without a lock: messages
//! in the mailbox, and whether a deferred failure waits for them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Messages handed to the actor and not yet handled, and whether a deferred
/// failure waits for them to drain. The actor counts a message as handled
/// after its hook, without taking the session's lock.
#[derive(Debug, Default)]
pub(crate) struct Flow {
    in_flight: AtomicUsize,
    draining: AtomicBool,
}

impl Flow {
    /// Messages handed to the actor and not yet handled.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// A message is on its way to the mailbox (counted when the session
    /// produces it, before the bridge delivers it).
    pub(crate) fn sent(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// The actor handled one message. Saturating: a message that was never
    /// counted cannot wrap the counter and stop reads for good. True if the
    /// bridge must look again: the mailbox had been full (`limit`), or it just
    /// drained while a deferred failure waits.
    pub(crate) fn handled_wakes(&self, limit: usize) -> bool {
        // SeqCst pairs with `drain_wanted`: one of the two sides sees the other.
        let prev = self
            .in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .unwrap_or(0);
        prev == limit || (prev == 1 && self.draining.load(Ordering::SeqCst))
    }

    /// The actor handled one message, or a counted one never reached its
    /// mailbox (no wake-up wanted).
    pub(crate) fn handled(&self) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// A deferred failure waits for the mailbox to drain: have the actor say when.
    /// True if it has drained already.
    pub(crate) fn drain_wanted(&self) -> bool {
        self.draining.store(true, Ordering::SeqCst);
        self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// The actor is gone: nothing in its mailbox will be handled.
    pub(crate) fn actor_gone(&self) {
        self.in_flight.store(0, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stray_handled_cannot_wrap_the_counter() {
        let flow = Flow::default();
        flow.handled();
        assert!(!flow.handled_wakes(256));
        assert_eq!(flow.in_flight(), 0);
        flow.sent();
        assert_eq!(flow.in_flight(), 1);
    }

    #[test]
    fn wakes_when_the_mailbox_had_been_full_or_drains_while_failing() {
        let flow = Flow::default();
        flow.sent();
        flow.sent();
        assert!(flow.handled_wakes(2), "it was at the limit");
        assert!(!flow.handled_wakes(2), "drained, but nobody waits");
        flow.sent();
        assert!(!flow.drain_wanted());
        assert!(flow.handled_wakes(2), "drained while a failure waits");
    }
}
