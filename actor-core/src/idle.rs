//! The idle protocol: which workers sleep, and who holds which I/O driver.
//!
//! A worker with nothing to run announces itself asleep, checks for work once
//! more, then blocks: on its own parker, or, if it took a driver (one holder
//! per driver at a time), inside [`Driver::park`](crate::Driver::park).
//! Whoever makes work pops one sleeper and wakes it the way it sleeps:
//! [`Idle::pop_sleeper`] says in which driver, if any. The announcement and
//! the sender's check are both `SeqCst` with a fence between, so either the
//! sleeper sees the work or the sender sees the sleeper (no lost wake-up;
//! `tests/loom.rs` checks it).

use crate::sync::{fence, AtomicBool, AtomicUsize, Mutex, MutexGuard};
use std::sync::atomic::Ordering;

/// Not parked in any driver.
const NOBODY: usize = usize::MAX;

pub(crate) struct Idle {
    sleepers: Mutex<Vec<usize>>,
    num_sleeping: AtomicUsize,
    /// Per driver: someone holds it (parked in it or polling it).
    taken: Box<[AtomicBool]>,
    /// Per worker: the driver it announced it blocks in, or `NOBODY`.
    parked_in: Box<[AtomicUsize]>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Idle {
    pub(crate) fn new(workers: usize, drivers: usize) -> Idle {
        Idle {
            sleepers: Mutex::new(Vec::new()),
            num_sleeping: AtomicUsize::new(0),
            taken: (0..drivers).map(|_| AtomicBool::new(false)).collect(),
            parked_in: (0..workers).map(|_| AtomicUsize::new(NOBODY)).collect(),
        }
    }

    /// Worker `i` is about to block (in driver `d` if given): announce it;
    /// then it must check for work once more.
    pub(crate) fn announce_sleep(&self, i: usize, driver: Option<usize>) {
        if let Some(d) = driver {
            self.parked_in[i].store(d, Ordering::SeqCst);
        }
        let mut s = lock(&self.sleepers);
        s.push(i);
        self.num_sleeping.fetch_add(1, Ordering::SeqCst);
        drop(s);
        fence(Ordering::SeqCst);
    }

    /// Worker `i` found work or woke: withdraw the announcement if still there.
    pub(crate) fn cancel_sleep(&self, i: usize) {
        let mut s = lock(&self.sleepers);
        if let Some(pos) = s.iter().position(|&x| x == i) {
            s.swap_remove(pos);
            self.num_sleeping.fetch_sub(1, Ordering::SeqCst);
        }
        self.parked_in[i].store(NOBODY, Ordering::SeqCst);
    }

    /// Work was just made visible: take one sleeper off the list, if any, and
    /// say which driver it blocks in (`None`: on its parker).
    pub(crate) fn pop_sleeper(&self) -> Option<(usize, Option<usize>)> {
        fence(Ordering::SeqCst);
        if self.num_sleeping.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut s = lock(&self.sleepers);
        let i = s.pop()?;
        self.num_sleeping.fetch_sub(1, Ordering::SeqCst);
        // Read under the lock: the sleeper set it before announcing, and
        // clears it only under this same lock.
        let d = self.parked_in[i].load(Ordering::SeqCst);
        Some((i, (d != NOBODY).then_some(d)))
    }

    /// Takes driver `d` if nobody holds it.
    pub(crate) fn try_take_driver(&self, d: usize) -> bool {
        self.taken[d]
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    pub(crate) fn release_driver(&self, d: usize) {
        self.taken[d].store(false, Ordering::Release);
    }
}
