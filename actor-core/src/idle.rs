//! The idle protocol: which workers sleep, and who holds the I/O driver.
//!
//! A worker with nothing to run announces itself asleep, checks for work once
//! more, then blocks: on its own parker, or, if it took the driver (one holder
//! at a time), inside [`Driver::park`](crate::Driver::park). Whoever makes
//! work pops one sleeper and wakes it the way it sleeps: [`Idle::pop_sleeper`]
//! says whether that is the driver. The announcement and the sender's check
//! are both `SeqCst` with a fence between, so either the sleeper sees the work
//! or the sender sees the sleeper (no lost wake-up; `tests/loom.rs` checks it).

use crate::sync::{fence, AtomicBool, AtomicUsize, Mutex, MutexGuard};
use std::sync::atomic::Ordering;

/// No worker is parked in the driver.
const NOBODY: usize = usize::MAX;

pub(crate) struct Idle {
    sleepers: Mutex<Vec<usize>>,
    num_sleeping: AtomicUsize,
    /// Someone holds the driver (parked in it or polling it).
    driver_taken: AtomicBool,
    /// The worker announced asleep that blocks in the driver, or `NOBODY`.
    in_driver: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Idle {
    pub(crate) fn new() -> Idle {
        Idle {
            sleepers: Mutex::new(Vec::new()),
            num_sleeping: AtomicUsize::new(0),
            driver_taken: AtomicBool::new(false),
            in_driver: AtomicUsize::new(NOBODY),
        }
    }

    /// Worker `i` is about to block (in the driver if `driver`): announce it;
    /// then it must check for work once more.
    pub(crate) fn announce_sleep(&self, i: usize, driver: bool) {
        if driver {
            self.in_driver.store(i, Ordering::SeqCst);
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
        if self.in_driver.load(Ordering::SeqCst) == i {
            self.in_driver.store(NOBODY, Ordering::SeqCst);
        }
    }

    /// Work was just made visible: take one sleeper off the list, if any, and
    /// say whether it blocks in the driver (`true`) or on its parker.
    pub(crate) fn pop_sleeper(&self) -> Option<(usize, bool)> {
        fence(Ordering::SeqCst);
        if self.num_sleeping.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut s = lock(&self.sleepers);
        let i = s.pop()?;
        self.num_sleeping.fetch_sub(1, Ordering::SeqCst);
        // Read under the lock: the sleeper set it before announcing, and
        // clears it only under this same lock.
        let driver = self.in_driver.load(Ordering::SeqCst) == i;
        Some((i, driver))
    }

    /// Takes the driver if nobody holds it.
    pub(crate) fn try_take_driver(&self) -> bool {
        self.driver_taken
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    pub(crate) fn release_driver(&self) {
        self.driver_taken.store(false, Ordering::Release);
    }
}
