//! Synchronisation shim: loom's model-checked types under `--cfg loom`, std's otherwise.
//!
//! Only the mailbox (queues, scheduling state and parked actor state, all under
//! one lock) and the idle protocol (sleepers and the I/O driver hand-off) go
//! through this module; the loom test (`tests/loom.rs`) compiles those modules
//! against loom and explores every interleaving.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
