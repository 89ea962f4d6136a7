//! Who is still running: connections whose bridge has not finished, actors
//! not yet dropped, 503 answers in progress, bridge threads not yet joined.
//! Admission and shutdown read it; bridges and actors report to it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::link::Link;
use crate::stats::Gauges;

/// The counts and the condition variable shutdown waits on.
#[derive(Default)]
pub(crate) struct Registry {
    state: Mutex<Counts>,
    changed: Condvar,
    /// What the bridges count for [`Server::stats`](crate::Server::stats).
    pub(crate) gauges: Gauges,
}

#[derive(Default)]
pub(crate) struct Counts {
    /// Connections whose bridge is running (handshaking or open).
    pub(crate) conns: HashMap<u64, Arc<Link>>,
    /// Of `conns`, those still reading their request head, in total and per
    /// source address (capped apart from `max_connections`).
    pub(crate) handshakes: usize,
    pub(crate) handshakes_per_ip: HashMap<IpAddr, usize>,
    /// Connection actors not yet dropped.
    pub(crate) actors: usize,
    /// Clients over `max_connections` being answered 503.
    pub(crate) rejecting: usize,
    /// Every bridge thread not yet joined.
    pub(crate) threads: Vec<JoinHandle<()>>,
    pub(crate) shutting_down: bool,
}

impl Counts {
    fn handshake_done(&mut self, ip: IpAddr) {
        self.handshakes -= 1;
        if let Some(n) = self.handshakes_per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.handshakes_per_ip.remove(&ip);
            }
        }
    }
}

impl Registry {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self, f: impl FnOnce(&mut Counts)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    /// A bridge is done with connection `id` (it will not touch it again).
    pub(crate) fn bridge_done(&self, id: u64) {
        self.changed(|c| {
            c.conns.remove(&id);
        });
    }

    /// A handshake from `ip` is over (its head is complete, or the
    /// connection ended before).
    pub(crate) fn handshake_done(&self, ip: IpAddr) {
        self.changed(|c| c.handshake_done(ip));
    }

    /// A handshake from `ip` completed its head: it is a connection now.
    /// True if the connections past their handshake, this one included, are
    /// at most `max` (in one step, so two completing at once cannot both
    /// take the last place).
    pub(crate) fn promote(&self, ip: IpAddr, max: usize) -> bool {
        let mut c = self.lock();
        c.handshake_done(ip);
        let fits = c.conns.len() - c.handshakes <= max;
        drop(c);
        // A handshake place is free: the accept thread may be waiting for one.
        self.changed.notify_all();
        fits
    }

    /// A 503 answer to an over-limit client is done.
    pub(crate) fn rejection_done(&self) {
        self.changed(|c| c.rejecting -= 1);
    }

    /// A connection actor was dropped.
    pub(crate) fn actor_done(&self) {
        self.changed(|c| c.actors -= 1);
    }

    /// Waits until anything changes, or `timeout`.
    pub(crate) fn wait_changed(&self, timeout: Duration) {
        let c = self.lock();
        let _ = self.changed.wait_timeout(c, timeout);
    }

    /// Waits until `done(counts)` or `deadline`; true if done.
    pub(crate) fn wait_until(&self, deadline: Instant, done: impl Fn(&Counts) -> bool) -> bool {
        let mut c = self.lock();
        loop {
            if done(&c) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            c = self
                .changed
                .wait_timeout(c, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
