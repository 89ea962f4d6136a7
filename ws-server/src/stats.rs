//! A snapshot of what a server holds right now ([`Server::stats`](crate::Server::stats)):
//! connections, actors, bridge threads and poll slots, for tests, health checks and
//! leak hunting. Nothing is counted per message: the registry already knows the
//! connections and actors, and the bridges bump two relaxed atomics when a thread or
//! a poll slot comes and goes. Reading takes the registry's lock once, then each
//! connection's session lock once (to tell handshakes from upgraded connections),
//! so read it on demand, not in a hot loop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::link::Link;
use crate::registry::Registry;

/// What a server holds at one moment. Every field is a count of live things;
/// once the last client has gone (and within the close timeout, for
/// connections still closing) they all return to zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Connections whose bridge is running: handshaking or upgraded (the
    /// count `max_connections` limits; the same as
    /// [`Server::connections`](crate::Server::connections)).
    pub connections: usize,
    /// Of those, connections not (or no longer) upgraded: reading their
    /// request head, waiting for `on_connect`, answering without an upgrade,
    /// or over and about to leave the registry.
    pub handshaking: usize,
    /// Clients over `max_connections` being answered 503 (no actor).
    pub rejecting: usize,
    /// Connection actors not yet dropped (an actor outlives its bridge until
    /// `on_close` has run).
    pub actors: usize,
    /// Threads of the thread bridge running now: readers, writers and 503
    /// answers (always 0 on the poll bridge).
    pub bridge_threads: usize,
    /// Slots of the poll bridge in use: one per connection it drives (always 0
    /// on the thread bridge).
    pub poll_slots: usize,
}

/// The counters only the bridges know, kept beside the registry.
#[derive(Debug, Default)]
pub(crate) struct Gauges {
    bridge_threads: AtomicUsize,
    poll_slots: AtomicUsize,
}

/// Counts one bridge thread for as long as it lives.
pub(crate) struct ThreadCount(Arc<Link>);

impl ThreadCount {
    pub(crate) fn new(link: &Arc<Link>) -> ThreadCount {
        link.gauges().bridge_threads.fetch_add(1, Ordering::Relaxed);
        ThreadCount(Arc::clone(link))
    }
}

impl Drop for ThreadCount {
    fn drop(&mut self) {
        self.0
            .gauges()
            .bridge_threads
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl Gauges {
    /// The poll bridge took a slot for a connection.
    pub(crate) fn slot_taken(&self) {
        self.poll_slots.fetch_add(1, Ordering::Relaxed);
    }

    /// The poll bridge freed a connection's slot.
    pub(crate) fn slot_freed(&self) {
        self.poll_slots.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Reads the counts (see the module docs for what that costs).
pub(crate) fn snapshot(registry: &Registry) -> Stats {
    let (links, rejecting, actors) = {
        let r = registry.lock();
        let links: Vec<Arc<Link>> = r.conns.values().cloned().collect();
        (links, r.rejecting, r.actors)
    };
    // Each session is locked on its own, without the registry's lock.
    let handshaking = links.iter().filter(|l| !l.lock().is_upgraded()).count();
    let g = &registry.gauges;
    Stats {
        connections: links.len(),
        handshaking,
        rejecting,
        actors,
        bridge_threads: g.bridge_threads.load(Ordering::Relaxed),
        poll_slots: g.poll_slots.load(Ordering::Relaxed),
    }
}
