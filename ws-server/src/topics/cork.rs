//! Corking: on a worker of the server's own runtime, a broadcast send
//! ([`Conn::send_encoded`](crate::Conn::send_encoded), so every publish) only queues its
//! frame and marks the connection (once: the link's `corked` flag); when the actor's batch
//! ends, actor-core's `Driver::flush` runs [`flush`], which writes each marked connection
//! once: one `writev` for everything the batch queued there, instead of one per message.
//!
//! A connection past [`LIMIT`] corked bytes is written at once. The Redis broker's thread
//! corks each batch of messages it receives ([`batch`]); sends from any other thread (a
//! plain thread, a runtime the server did not build) write at once as before.
//! Order is the session's queue's: corking only defers the write, so a connection's direct
//! sends and its publishes stay in the order they were queued.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::link::Link;
use crate::session::Session;

/// Bytes queued on one connection past which a corked send writes at once.
pub(crate) const LIMIT: usize = 64 * 1024;

#[derive(Default)]
struct Corked {
    /// This thread is a worker whose turns end with [`flush`] (it ran once here).
    armed: bool,
    links: Vec<Arc<Link>>,
}

thread_local! {
    static CORKED: RefCell<Corked> = RefCell::new(Corked::default());
}

/// Holds back the write of what a send just queued on `link` (its session `s` locked)
/// until this thread's turn ends: `false` if this thread does not cork, or the queue is
/// past [`LIMIT`] (the caller writes now).
pub(crate) fn defer(link: &Arc<Link>, s: &Session) -> bool {
    if s.queued() >= LIMIT {
        return false;
    }
    CORKED.with(|c| {
        let mut c = c.borrow_mut();
        if !c.armed {
            return false;
        }
        // Under the session's lock: a flush clears the flag under it too, so a send
        // that finds it set is written by that flush.
        if !link.corked.swap(true, Ordering::Relaxed) {
            c.links.push(Arc::clone(link));
        }
        true
    })
}

/// The end of a worker's turn: writes every connection this thread corked, once each,
/// and marks the thread as one that corks from now on.
pub(crate) fn flush() {
    // Once per actor batch, so one look at the thread-local when nothing was corked.
    let nothing = CORKED.with(|c| {
        let mut c = c.borrow_mut();
        c.armed = true;
        c.links.is_empty()
    });
    if !nothing {
        write_corked();
    }
}

/// Runs `deliver` with this thread corking (a broker's thread delivering a batch of
/// messages from other servers), then writes what it corked.
pub(crate) fn batch<R>(deliver: impl FnOnce() -> R) -> R {
    let was = CORKED.with(|c| std::mem::replace(&mut c.borrow_mut().armed, true));
    let r = deliver();
    write_corked();
    CORKED.with(|c| c.borrow_mut().armed = was);
    r
}

/// Writes every connection this thread corked, once each.
fn write_corked() {
    let mut links = CORKED.with(|c| std::mem::take(&mut c.borrow_mut().links));
    if links.is_empty() {
        return;
    }
    for link in links.drain(..) {
        let mut s = link.lock();
        link.corked.store(false, Ordering::Relaxed);
        let wake = link.io().is_some_and(|io| io.queued(&mut s));
        drop(s);
        if wake {
            link.notify();
        }
    }
    // Give the (empty) list back, keeping its capacity.
    CORKED.with(|c| {
        let mut c = c.borrow_mut();
        if c.links.is_empty() {
            c.links = links;
        }
    });
}
