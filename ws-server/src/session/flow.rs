//! The counters the actor and the session share without a lock: messages
//! in the mailbox and the memory they hold (in one atomic), and whether a
//! deferred failure waits for them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Memory a message in flight costs besides its payload: its envelope in the
/// mailbox (the boxed payload handle, the message, its queue slot).
pub(crate) const MESSAGE_OVERHEAD: usize = 96;

/// Bits of the packed counter that hold the bytes in flight (1 TiB); the
/// message count sits above them.
const BYTE_BITS: u32 = 40;
const BYTE_MASK: u64 = (1 << BYTE_BITS) - 1;
const ONE_MESSAGE: u64 = 1 << BYTE_BITS;

/// Messages handed to the actor and not yet handled, the memory they hold,
/// and whether a deferred failure waits for them to drain. The actor counts
/// a message as handled after its hook, without taking the session's lock.
/// Count and bytes share one atomic, so a message costs one update each way.
#[derive(Debug, Default)]
pub(crate) struct Flow {
    /// Messages (above `BYTE_BITS`) and their bytes (below).
    in_flight: AtomicU64,
    draining: AtomicBool,
}

/// The memory one message of `len` payload bytes is counted for.
fn cost(len: usize) -> u64 {
    (len + MESSAGE_OVERHEAD) as u64
}

fn room(v: u64, limit: usize, byte_limit: usize) -> bool {
    ((v >> BYTE_BITS) as usize) < limit && ((v & BYTE_MASK) as usize) < byte_limit
}

impl Flow {
    /// Messages handed to the actor and not yet handled.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        (self.in_flight.load(Ordering::Acquire) >> BYTE_BITS) as usize
    }

    /// Memory those messages hold (payloads plus [`MESSAGE_OVERHEAD`] each).
    #[cfg(test)]
    pub(crate) fn in_flight_bytes(&self) -> usize {
        (self.in_flight.load(Ordering::Acquire) & BYTE_MASK) as usize
    }

    /// Room for more: fewer than `limit` messages and `byte_limit` bytes in flight.
    pub(crate) fn has_room(&self, limit: usize, byte_limit: usize) -> bool {
        room(self.in_flight.load(Ordering::Acquire), limit, byte_limit)
    }

    /// A message of `len` payload bytes is on its way to the mailbox
    /// (counted when the session produces it, before the bridge delivers it).
    pub(crate) fn sent(&self, len: usize) {
        self.in_flight
            .fetch_add(ONE_MESSAGE + cost(len), Ordering::AcqRel);
    }

    /// One update taking a message of `len` bytes off, saturating: a message
    /// that was never counted cannot wrap the counter and stop reads for
    /// good. The value before.
    fn take(&self, len: usize, order: Ordering) -> u64 {
        let cost = cost(len);
        let load = match order {
            Ordering::SeqCst => Ordering::SeqCst,
            _ => Ordering::Acquire,
        };
        self.in_flight
            .fetch_update(order, load, |v| {
                let n = (v >> BYTE_BITS).checked_sub(1)?;
                Some((n << BYTE_BITS) | (v & BYTE_MASK).saturating_sub(cost))
            })
            .unwrap_or(0)
    }

    /// The actor handled a message of `len` bytes. True if the bridge must
    /// look again: the mailbox had been full (`limit` messages or
    /// `byte_limit` bytes) and has room now, or it just drained while a
    /// deferred failure waits.
    pub(crate) fn handled_wakes(&self, len: usize, limit: usize, byte_limit: usize) -> bool {
        // SeqCst pairs with `drain_wanted`: one of the two sides sees the other.
        let prev = self.take(len, Ordering::SeqCst);
        let now = if prev >> BYTE_BITS == 0 {
            prev
        } else {
            ((prev >> BYTE_BITS) - 1) << BYTE_BITS | (prev & BYTE_MASK).saturating_sub(cost(len))
        };
        (!room(prev, limit, byte_limit) && room(now, limit, byte_limit))
            || (prev >> BYTE_BITS == 1 && self.draining.load(Ordering::SeqCst))
    }

    /// A counted message of `len` bytes never reached the mailbox (no
    /// wake-up wanted).
    pub(crate) fn handled(&self, len: usize) {
        let _ = self.take(len, Ordering::AcqRel);
    }

    /// A deferred failure waits for the mailbox to drain: have the actor say when.
    /// True if it has drained already.
    pub(crate) fn drain_wanted(&self) -> bool {
        self.draining.store(true, Ordering::SeqCst);
        self.in_flight.load(Ordering::SeqCst) >> BYTE_BITS == 0
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
        flow.handled(10);
        assert!(!flow.handled_wakes(10, 256, usize::MAX));
        assert_eq!(flow.in_flight(), 0);
        assert_eq!(flow.in_flight_bytes(), 0);
        flow.sent(4);
        assert_eq!(flow.in_flight(), 1);
        assert_eq!(flow.in_flight_bytes(), 4 + MESSAGE_OVERHEAD);
    }

    #[test]
    fn wakes_when_the_mailbox_had_been_full_or_drains_while_failing() {
        let flow = Flow::default();
        flow.sent(1);
        flow.sent(1);
        assert!(flow.handled_wakes(1, 2, usize::MAX), "it was at the limit");
        assert!(
            !flow.handled_wakes(1, 2, usize::MAX),
            "drained, but nobody waits"
        );
        flow.sent(1);
        assert!(!flow.drain_wanted());
        assert!(
            flow.handled_wakes(1, 2, usize::MAX),
            "drained while a failure waits"
        );
    }

    #[test]
    fn bytes_in_flight_stop_reading_until_they_drop_below_the_cap() {
        let flow = Flow::default();
        let cap = 3 << 20;
        for _ in 0..3 {
            assert!(flow.has_room(256, cap));
            flow.sent(1 << 20);
        }
        assert!(!flow.has_room(256, cap), "3 MiB and their envelopes");
        assert!(flow.handled_wakes(1 << 20, 256, cap), "room again: wake");
        assert!(flow.has_room(256, cap));
        assert!(!flow.handled_wakes(1 << 20, 256, cap), "had room already");
        assert_eq!(flow.in_flight(), 1);
        assert_eq!(flow.in_flight_bytes(), (1 << 20) + MESSAGE_OVERHEAD);
    }
}
