//! A poller as the runtime's I/O driver, one per worker: the actor-core
//! worker that holds a driver runs that poller's turns itself.

use std::sync::Condvar;

#[allow(clippy::wildcard_imports)] // the poller's own types and imports
use super::*;

/// The poller run by the actor-core workers themselves: whichever worker holds
/// the driver runs one turn (poll, handle events, run due timers) in `park`
/// (blocking) or `poll_now`, so the messages it decodes land on that worker's
/// own queue and run there without a cross-thread wake-up. One holder at a
/// time, so the state's lock is uncontended (shutdown aside).
pub(crate) struct PollDriver {
    pub(super) shared: Arc<PollShared>,
    pub(super) state: Mutex<DriverState>,
    /// Where `park` waits while there is no loop (before the server starts it
    /// and after it stops): an `unpark` flag, so the state's lock is never
    /// held while waiting for nothing.
    pub(super) gate: Mutex<bool>,
    pub(super) gate_cv: Condvar,
}

pub(super) enum DriverState {
    /// No loop (not started yet, or stopped): just the poll instance.
    Waiting(Poll),
    Running(Box<Loop>),
    /// Only between two of the above, under the lock.
    Gone,
}

impl PollDriver {
    /// A poll instance and its waker, before the server (and its runtime) exists.
    pub(crate) fn new() -> io::Result<Arc<PollDriver>> {
        let (poll, shared) = PollShared::new()?;
        Ok(Arc::new(PollDriver {
            shared,
            state: Mutex::new(DriverState::Waiting(poll)),
            gate: Mutex::new(false),
            gate_cv: Condvar::new(),
        }))
    }

    pub(super) fn open_gate(&self) {
        *self.gate.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.gate_cv.notify_all();
    }

    fn wait_gate(&self, timeout: Option<Duration>) {
        let mut g = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = timeout.map(|t| Instant::now() + t);
        while !*g {
            match deadline.map(|d| d.saturating_duration_since(Instant::now())) {
                None => g = self.gate_cv.wait(g).unwrap_or_else(|e| e.into_inner()),
                Some(Duration::ZERO) => return,
                Some(left) => {
                    g = self
                        .gate_cv
                        .wait_timeout(g, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        *g = false;
    }

    pub(super) fn state(&self) -> MutexGuard<'_, DriverState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One turn, waiting as `wait` says.
    fn run(&self, wait: Wait) {
        let mut st = self.state();
        match &mut *st {
            DriverState::Running(looper) => {
                if !looper.guarded_turn(wait) {
                    stop_loop(&mut st);
                }
            }
            DriverState::Waiting(_) | DriverState::Gone => {
                drop(st);
                if let Wait::Block(bound) = wait {
                    self.wait_gate(bound);
                }
            }
        }
    }
}

/// Ends every connection still on the loop and drops it (its server with it).
pub(super) fn stop_loop(st: &mut DriverState) {
    if let DriverState::Running(mut looper) = std::mem::replace(st, DriverState::Gone) {
        looper.end_all();
        let Loop { poll, .. } = *looper;
        *st = DriverState::Waiting(poll);
    }
}

impl actor_core::Driver for PollDriver {
    fn park(&self, timeout: Option<Duration>) {
        self.run(Wait::Block(timeout));
    }
    fn poll_now(&self) {
        self.run(Wait::No);
    }
    fn unpark(&self) {
        // Both: the worker may be in the loop's poll or at the gate.
        let _ = self.shared.waker.wake();
        self.open_gate();
    }
    fn flush(&self) {
        crate::topics::cork::flush();
    }
}
