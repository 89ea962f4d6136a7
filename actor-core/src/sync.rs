//! Synchronisation shim: loom's model-checked types under `--cfg loom`, std's otherwise.
//!
//! Only the mailbox (queues, scheduling state and parked actor state, all under
//! one lock) goes through this module; the loom test (`tests/loom.rs`)
//! compiles that module against loom and explores every interleaving of
//! senders and the running worker.

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
