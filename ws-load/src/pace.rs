//! `--pace random:MAX_US`: each connection sends its next message at a random moment up to
//! MAX_US after the echo came back, instead of at once. The default (immediate) mode answers
//! every echo of an `epoll_wait` batch in the order the batch listed them, so the server
//! sees the same connections become readable together, in the same order, round after
//! round; pacing spreads readiness over time and shuffles the order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Sends waiting for their moment, with the generator that picked it.
#[derive(Debug)]
pub(crate) struct Pacer {
    max_ns: u64,
    /// xorshift64 state: never zero.
    rng: u64,
    /// (due, connection index), earliest first.
    due: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Pacer {
    /// A pacer delaying each send by up to `max`, seeded by `seed` (any value).
    pub(crate) fn new(max: Duration, seed: u64) -> Self {
        Self {
            max_ns: (max.as_nanos() as u64).max(1),
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            due: BinaryHeap::new(),
        }
    }

    /// Schedules `k` sends on connection `idx`, each at its own random moment after `now`.
    pub(crate) fn schedule(&mut self, idx: usize, k: usize, now: Instant) {
        for _ in 0..k {
            let delay = Duration::from_nanos(self.next() % (self.max_ns + 1));
            self.due.push(Reverse((now + delay, idx)));
        }
    }

    /// When the earliest send is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.due.peek().map(|Reverse((t, _))| *t)
    }

    /// The connection of the earliest send due at `now`, taken off the schedule.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<usize> {
        match self.due.peek() {
            Some(Reverse((t, _))) if *t <= now => self.due.pop().map(|Reverse((_, i))| i),
            _ => None,
        }
    }

    /// Drops every pending send (the window is over).
    pub(crate) fn clear(&mut self) {
        self.due.clear();
    }

    fn next(&mut self) -> u64 {
        // xorshift64 (Marsaglia): enough to decorrelate send times, no dependency.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_fall_inside_the_bound_and_come_out_in_time_order() {
        let max = Duration::from_micros(500);
        let mut p = Pacer::new(max, 7);
        let now = Instant::now();
        for i in 0..100 {
            p.schedule(i, 2, now);
        }
        assert!(p.pop_due(now - Duration::from_nanos(1)).is_none());
        let mut last = now;
        let mut seen = 0;
        while let Some(t) = p.next_due() {
            assert!(
                t >= last && t <= now + max,
                "{t:?} outside [{last:?}, +{max:?}]"
            );
            last = t;
            assert!(p.pop_due(t).is_some());
            seen += 1;
        }
        assert_eq!(seen, 200);
        // The delays are spread, not one value.
        let mut q = Pacer::new(max, 7);
        q.schedule(0, 50, now);
        let first = q.next_due().unwrap();
        q.clear();
        q.schedule(0, 50, now);
        assert!(q.due.iter().any(|Reverse((t, _))| *t != first) || q.due.len() < 2);
    }
}
