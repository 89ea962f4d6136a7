//! The runtime's counters for observability: live actors, mailbox depth,
//! steals and parks, read as one [`RuntimeMetrics`] snapshot.
//!
//! Steals and parks are counted per worker in their own cache line (each worker
//! writes only its own), so counting costs a relaxed add and no line is shared
//! between workers. Mailbox depth is not tracked per message: a snapshot looks
//! at every live actor's mailbox once. Exporting (Prometheus or anything else)
//! is the caller's business; this crate only counts.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

/// A snapshot of the runtime's counters: [`Handle::metrics`](crate::Handle::metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Worker threads.
    pub workers: usize,
    /// Actors alive now.
    pub actors: usize,
    /// The longest mailbox now (user messages queued, not yet taken by a worker).
    pub max_mailbox_len: usize,
    /// User messages queued in every mailbox now.
    pub queued_messages: usize,
    /// Times a worker took work from another worker's queue, since the start.
    pub steals: u64,
    /// Times a worker went to sleep for want of work (on its parker or in the
    /// I/O driver), since the start.
    pub parks: u64,
}

/// One worker's counters: written only by that worker.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    steals: AtomicU64,
    parks: AtomicU64,
}

/// Every worker's counters, one cache line each.
#[derive(Debug)]
pub(crate) struct Counters(Box<[CachePadded<WorkerCounters>]>);

impl Counters {
    pub(crate) fn new(workers: usize) -> Counters {
        Counters((0..workers).map(|_| CachePadded::default()).collect())
    }

    /// Worker `index` stole work.
    pub(crate) fn stole(&self, index: usize) {
        if let Some(c) = self.0.get(index) {
            c.steals.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Worker `index` goes to sleep.
    pub(crate) fn parked(&self, index: usize) {
        if let Some(c) = self.0.get(index) {
            c.parks.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Steals and parks over every worker.
    pub(crate) fn sum(&self) -> (u64, u64) {
        self.0.iter().fold((0, 0), |(s, p), c| {
            (
                s + c.steals.load(Ordering::Relaxed),
                p + c.parks.load(Ordering::Relaxed),
            )
        })
    }
}
