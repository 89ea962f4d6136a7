//! Connections that arrive while the handshakes in progress are at a cap
//! (`max_handshakes`, or `max_handshakes_per_ip` for their source) wait here,
//! on the accept thread, for a place instead of being closed: a burst of
//! connections from one host (a load balancer, a reconnect storm after a
//! restart, a load generator) is served in turn rather than refused. The queue
//! is bounded, no single source can fill it, and what waits longer than the
//! handshake timeout is closed: a host holding slow handshakes still cannot
//! lock anybody else out.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One accepted connection waiting for a handshake place.
pub(crate) struct Held {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    since: Instant,
}

/// What [`Waiting::push`] did with a connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// It waits.
    Queued,
    /// It waits; the newest connection of the source with the most waiting was
    /// closed to make room (the queue was full).
    Evicted,
    /// The queue was full and its own source has the most waiting: it was closed.
    Dropped,
}

/// The waiting connections, oldest first, at most `cap` of them.
pub(crate) struct Waiting {
    queue: VecDeque<Held>,
    per_ip: HashMap<IpAddr, usize>,
    cap: usize,
}

impl Waiting {
    pub(crate) fn new(cap: usize) -> Self {
        Waiting {
            queue: VecDeque::new(),
            per_ip: HashMap::new(),
            cap: cap.max(1),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.queue.len() >= self.cap
    }

    /// Whether a connection from `ip` already waits (a newcomer from it queues
    /// behind, so one source's connections are admitted in arrival order).
    pub(crate) fn has(&self, ip: IpAddr) -> bool {
        self.per_ip.contains_key(&ip)
    }

    /// Queues `stream`; a full queue makes room by closing the newest
    /// connection of the source that has the most waiting, so a flood from one
    /// source only ever displaces itself.
    pub(crate) fn push(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) -> Pushed {
        let ip = source(&peer);
        let mut pushed = Pushed::Queued;
        if self.is_full() {
            let (&top, &most) = self.per_ip.iter().max_by_key(|(_, n)| **n).expect("full");
            if self.per_ip.get(&ip).copied().unwrap_or(0) + 1 >= most {
                return Pushed::Dropped;
            }
            let at = self
                .queue
                .iter()
                .rposition(|h| source(&h.peer) == top)
                .expect("counted");
            self.remove(at);
            pushed = Pushed::Evicted;
        }
        *self.per_ip.entry(ip).or_insert(0) += 1;
        self.queue.push_back(Held {
            stream,
            peer,
            since: now,
        });
        pushed
    }

    /// Takes, oldest first, the connections `place` admits now (it returns
    /// the stream if its source is still at a cap: it stays, in its place),
    /// and closes those that waited past `timeout`. Returns how many closed.
    pub(crate) fn admit(
        &mut self,
        now: Instant,
        timeout: Duration,
        mut place: impl FnMut(TcpStream, SocketAddr) -> Option<TcpStream>,
    ) -> usize {
        let mut expired = 0;
        let mut blocked: Vec<IpAddr> = Vec::new();
        let mut i = 0;
        while i < self.queue.len() {
            let ip = source(&self.queue[i].peer);
            if now.duration_since(self.queue[i].since) >= timeout {
                self.remove(i);
                expired += 1;
                continue;
            }
            if blocked.contains(&ip) {
                i += 1;
                continue;
            }
            let held = self.remove(i);
            match place(held.stream, held.peer) {
                None => {}
                Some(stream) => {
                    // Still at a cap: back in its place, and its source's
                    // later connections wait behind it.
                    *self.per_ip.entry(ip).or_insert(0) += 1;
                    self.queue.insert(
                        i,
                        Held {
                            stream,
                            peer: held.peer,
                            since: held.since,
                        },
                    );
                    blocked.push(ip);
                    i += 1;
                }
            }
        }
        expired
    }

    fn remove(&mut self, at: usize) -> Held {
        let held = self.queue.remove(at).expect("in range");
        let ip = source(&held.peer);
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        held
    }
}

/// The source a connection is counted under (an IPv4 client of a dual-stack
/// listener as IPv4).
pub(crate) fn source(peer: &SocketAddr) -> IpAddr {
    peer.ip().to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// `n` connected streams, each with its own (loopback) peer address
    /// standing in for a source.
    fn streams(n: usize) -> (TcpListener, Vec<TcpStream>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let v = (0..n)
            .map(|_| TcpStream::connect(l.local_addr().unwrap()).unwrap())
            .collect();
        (l, v)
    }

    fn peer(last: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, last], 1000))
    }

    #[test]
    fn a_full_queue_makes_room_from_the_source_with_the_most_waiting() {
        let (_l, mut s) = streams(5);
        let now = Instant::now();
        let mut w = Waiting::new(3);
        assert_eq!(w.push(s.remove(0), peer(1), now), Pushed::Queued);
        assert_eq!(w.push(s.remove(0), peer(1), now), Pushed::Queued);
        assert_eq!(w.push(s.remove(0), peer(1), now), Pushed::Queued);
        // Source 1 holds every place: a newcomer from it is closed ...
        assert_eq!(w.push(s.remove(0), peer(1), now), Pushed::Dropped);
        // ... another source's displaces source 1's newest.
        assert_eq!(w.push(s.remove(0), peer(2), now), Pushed::Evicted);
        assert_eq!(w.per_ip[&peer(1).ip()], 2);
        assert_eq!(w.per_ip[&peer(2).ip()], 1);
    }

    #[test]
    fn admits_in_order_and_a_source_at_its_cap_keeps_its_place() {
        let (_l, mut s) = streams(4);
        let now = Instant::now();
        let mut w = Waiting::new(10);
        for last in [1, 1, 2, 1] {
            w.push(s.remove(0), peer(last), now);
        }
        // Source 1 has one place, source 2 none: source 1's first goes in, its
        // second stays (and the fourth behind it), source 2's stays.
        let mut places = HashMap::from([(peer(1).ip(), 1), (peer(2).ip(), 0)]);
        let mut admitted = Vec::new();
        let expired = w.admit(now, Duration::from_secs(10), |stream, p| {
            let n = places.get_mut(&p.ip()).unwrap();
            if *n == 0 {
                return Some(stream);
            }
            *n -= 1;
            admitted.push(p.ip());
            None
        });
        assert_eq!(expired, 0);
        assert_eq!(admitted, vec![peer(1).ip()]);
        let order: Vec<_> = w.queue.iter().map(|h| h.peer.ip()).collect();
        assert_eq!(order, vec![peer(1).ip(), peer(2).ip(), peer(1).ip()]);
    }

    #[test]
    fn waiting_past_the_timeout_closes() {
        let (_l, mut s) = streams(2);
        let start = Instant::now();
        let mut w = Waiting::new(10);
        w.push(s.remove(0), peer(1), start);
        w.push(s.remove(0), peer(2), start + Duration::from_secs(5));
        let expired = w.admit(
            start + Duration::from_secs(10),
            Duration::from_secs(10),
            |s, _| Some(s),
        );
        assert_eq!(expired, 1);
        assert_eq!(w.queue.len(), 1);
        assert!(w.has(peer(2).ip()) && !w.has(peer(1).ip()));
    }
}
