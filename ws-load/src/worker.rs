//! One event-loop thread: a mio poll driving its share of the connections through
//! connect, upgrade and closed-loop echo, counting what happens.

use crate::args::Config;
use crate::hist::Histogram;
use crate::pace::Pacer;
use crate::payload;
use crate::tls::Stream;
use crate::wire::{self, Event, MessageReader};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Connections the run has in connect or upgrade at once, over all its threads: a burst
/// of 10 000 connects must not overflow the server's accept backlog into SYN retransmits,
/// nor sit past a server's cap on handshakes in progress per client address (ws-server's
/// default is 64; above it the extra wait their turn, and a server that drops them
/// instead would be measured with fewer connections).
const MAX_IN_FLIGHT: usize = 64;
/// Size of a thread's read buffer, shared by all its connections.
const READ_BUF: usize = 64 << 10;
/// Upper bound on the pre-built run of request frames written in one call.
const BATCH_BYTES: usize = 256 << 10;
/// Longest wait in one poll, so deadlines are checked at least this often.
const TICK: Duration = Duration::from_millis(20);

/// Everything a run's threads share, built once before any connection opens.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) addr: SocketAddr,
    pub(crate) path: String,
    pub(crate) binary: bool,
    pub(crate) deflate: bool,
    pub(crate) depth: usize,
    /// `--pace random:MAX_US`: each send waits a random delay up to this.
    pub(crate) pace: Option<Duration>,
    pub(crate) timeout: Duration,
    /// Connections a thread has in connect or upgrade at once: its share of
    /// [`MAX_IN_FLIGHT`].
    in_flight_cap: usize,
    /// Fan-out: only the lead worker's first connection sends.
    pub(crate) fanout: bool,
    /// Fan-out: where that publisher connects.
    pub(crate) publisher_addr: SocketAddr,
    payloads: Vec<Vec<u8>>,
    /// The request frames as sent uncompressed.
    plain: Cycle,
    /// The request frames compressed for a client window of `2^i` bytes, built by the
    /// first connection that agrees on that window.
    compressed: [OnceLock<Cycle>; 16],
    close: Vec<u8>,
    /// `--tls-ca`: connect through TLS with this configuration.
    pub(crate) tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// Masked request frames in the order a connection sends them, back to back and repeated
/// so that one write can carry many: the bytes every send writes from.
#[derive(Debug)]
struct Cycle {
    bytes: Vec<u8>,
    /// Per frame of `bytes`: its length on the wire and its payload's length.
    frames: Vec<(usize, usize)>,
}

impl Cycle {
    fn new(frames: Vec<Vec<u8>>, payloads: &[Vec<u8>], depth: usize) -> Self {
        let total: usize = frames.iter().map(Vec::len).sum();
        let avg = (total / frames.len()).max(1);
        let copies = depth.min((BATCH_BYTES / avg).max(1));
        let reps = copies.div_ceil(frames.len()).max(1);
        let mut c = Cycle {
            bytes: Vec::with_capacity(total * reps),
            frames: Vec::with_capacity(frames.len() * reps),
        };
        for _ in 0..reps {
            for (f, p) in frames.iter().zip(payloads) {
                c.bytes.extend_from_slice(f);
                c.frames.push((f.len(), p.len()));
            }
        }
        c
    }
}

impl Plan {
    /// Builds the request frames once: masked with one key, reused for every message.
    pub(crate) fn new(cfg: &Config) -> Result<Self, ws_handshake::Error> {
        // Fails here, once, on a path the upgrade request cannot carry.
        wire::client_request(cfg.addr, &cfg.path, cfg.deflate)?;
        let payloads = payload::payloads(cfg.size, cfg.json);
        let frames = payload::frames(&payloads, cfg.binary, None);
        let plain = Cycle::new(frames, &payloads, cfg.depth);
        Ok(Self {
            addr: cfg.addr,
            path: cfg.path.clone(),
            binary: cfg.binary,
            deflate: cfg.deflate,
            depth: cfg.depth,
            pace: cfg.pace,
            timeout: cfg.timeout,
            in_flight_cap: (MAX_IN_FLIGHT / cfg.threads).max(1),
            fanout: cfg.fanout,
            publisher_addr: cfg.publisher_addr.unwrap_or(cfg.addr),
            payloads,
            plain,
            compressed: Default::default(),
            close: wire::close_frame(payload::MASK),
            tls: None,
        })
    }

    /// Fan-out with the publisher on another server than the subscribers.
    fn across(&self) -> bool {
        self.fanout && self.publisher_addr != self.addr
    }

    /// The frames for a connection that agreed on `deflate` (or on nothing).
    fn cycle(&self, deflate: Option<ws_handshake::DeflateParams>) -> &Cycle {
        let Some(agreed) = deflate else {
            return &self.plain;
        };
        let bits = agreed.client_max_window_bits.min(15);
        self.compressed[bits as usize].get_or_init(|| {
            let frames = payload::frames(&self.payloads, self.binary, Some(bits));
            Cycle::new(frames, &self.payloads, self.depth)
        })
    }
}

/// What one thread counted.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Connections whose upgrade completed.
    pub(crate) opened: u64,
    /// Connects refused or failed.
    pub(crate) connect_errors: u64,
    /// Upgrades answered with anything but a valid 101.
    pub(crate) handshake_errors: u64,
    /// Connections not open within the timeout, or echoes not back by the deadline.
    pub(crate) timeouts: u64,
    /// Socket errors on open connections.
    pub(crate) io_errors: u64,
    /// Frames a client must not accept.
    pub(crate) protocol_errors: u64,
    /// Connections the server closed (EOF or a close frame) during the run.
    pub(crate) closed: u64,
    /// Echoes whose kind or length differed from the message sent.
    pub(crate) mismatched: u64,
    /// Connections on which the server agreed to permessage-deflate.
    pub(crate) deflated: u64,
    /// Bytes written and read on open connections inside the measured window.
    pub(crate) wire_bytes: u64,
    /// Payload bytes of the echoes counted (the message and its echo: twice its length).
    pub(crate) payload_bytes: u64,
    /// Echoes completed inside the measured window.
    pub(crate) messages: u64,
    /// Fan-out: messages received by any connection inside the measured window.
    pub(crate) deliveries: u64,
    /// Round-trip latency of those echoes, in nanoseconds.
    pub(crate) latency: Histogram,
    /// Fan-out: publish-to-receive latency of every stamped delivery, in nanoseconds.
    pub(crate) delivery_latency: Histogram,
}

impl Tally {
    /// Every error counted.
    pub(crate) fn errors(&self) -> u64 {
        self.connect_errors
            + self.handshake_errors
            + self.timeouts
            + self.io_errors
            + self.protocol_errors
            + self.closed
            + self.mismatched
    }

    /// Adds `other`'s counts.
    pub(crate) fn merge(&mut self, other: &Tally) {
        self.opened += other.opened;
        self.connect_errors += other.connect_errors;
        self.handshake_errors += other.handshake_errors;
        self.timeouts += other.timeouts;
        self.io_errors += other.io_errors;
        self.protocol_errors += other.protocol_errors;
        self.closed += other.closed;
        self.mismatched += other.mismatched;
        self.deflated += other.deflated;
        self.wire_bytes += other.wire_bytes;
        self.payload_bytes += other.payload_bytes;
        self.messages += other.messages;
        self.deliveries += other.deliveries;
        self.latency.merge(&other.latency);
        self.delivery_latency.merge(&other.delivery_latency);
    }
}

#[derive(Debug)]
enum Phase {
    /// TCP connect in progress.
    Connecting,
    /// Request being written, response head being read.
    Upgrading(Box<Upgrade>),
    /// Upgraded: echoing.
    Open,
}

/// The upgrade of one connection in progress.
#[derive(Debug)]
struct Upgrade {
    request: Vec<u8>,
    written: usize,
    client: ws_handshake::ClientRequest,
    response: Vec<u8>,
}

#[derive(Debug)]
struct Conn<'p> {
    stream: Stream,
    phase: Phase,
    started: Instant,
    reader: MessageReader,
    /// The frames this connection sends (compressed once deflate is agreed).
    cycle: &'p Cycle,
    /// Bytes of queued request frames not yet written.
    owed: u64,
    /// Offset inside `cycle` of the next byte to write.
    off: usize,
    /// Index in `cycle` of the next frame to queue.
    next: usize,
    /// Send times and cycle frames of the messages in flight, oldest first.
    sent_at: VecDeque<(Instant, usize)>,
    /// Sends messages (every connection, except in fan-out: the publisher alone).
    sends: bool,
    /// Fan-out: the publisher's stamped frames, built as they are sent (instead of `cycle`).
    outbox: Option<Box<crate::fanout::Outbox>>,
    /// Fan-out with the publisher on another server: this subscriber's copies, not the
    /// publisher's own (which its server sends back at once), release the publisher's
    /// window (the connection index of the publisher), so the publisher is paced by what
    /// crossed the broker and no backlog builds up in between.
    paces: Option<usize>,
}

/// Why a connection is being dropped.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Connect,
    Handshake,
    Io,
    Protocol,
    Closed,
}

/// The measuring state of the load phase.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Echoes completing from here on are counted.
    start: Instant,
    /// No new message is sent from here on.
    end: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }
}

/// One thread's connections and its poll.
#[derive(Debug)]
pub(crate) struct Worker<'p> {
    plan: &'p Plan,
    poll: Poll,
    events: Events,
    conns: Vec<Option<Conn<'p>>>,
    rbuf: Box<[u8]>,
    in_flight: usize,
    /// Messages sent and not yet echoed, over all connections.
    outstanding: u64,
    /// Set while the closed loop runs: each echo sends the next message.
    window: Option<Window>,
    /// Fan-out: this worker's first connection is the publisher.
    lead: bool,
    /// `--pace`: sends waiting for their random moment.
    pacer: Option<Pacer>,
    /// The counts so far.
    pub(crate) tally: Tally,
}

impl<'p> Worker<'p> {
    /// A worker with its own poll.
    pub(crate) fn new(plan: &'p Plan) -> io::Result<Self> {
        Ok(Self {
            plan,
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            conns: Vec::new(),
            rbuf: vec![0; READ_BUF].into_boxed_slice(),
            in_flight: 0,
            outstanding: 0,
            window: None,
            lead: false,
            pacer: plan.pace.map(|max| {
                use std::hash::{BuildHasher, Hasher};
                // A random seed per worker, so threads do not pace in step.
                let seed = std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish();
                Pacer::new(max, seed)
            }),
            tally: Tally::default(),
        })
    }

    /// Fan-out: this worker's first connection publishes.
    pub(crate) fn lead(&mut self) {
        self.lead = true;
    }

    /// Opens `n` connections, at most its share of [`MAX_IN_FLIGHT`] at a time, each within the
    /// plan's timeout; gives up on the rest at `deadline`. Returns when all are resolved.
    pub(crate) fn open(&mut self, n: usize, deadline: Instant) {
        let mut started = 0;
        while started < n || self.in_flight > 0 {
            let now = Instant::now();
            if now >= deadline {
                self.tally.timeouts += (n - started + self.in_flight) as u64;
                self.drop_pending();
                return;
            }
            while started < n && self.in_flight < self.plan.in_flight_cap {
                started += 1;
                self.connect(now);
            }
            self.pump(TICK.min(deadline - now));
            self.expire(Instant::now());
        }
    }

    /// Closed-loop echo: every open connection keeps `depth` messages in flight until
    /// `end`; echoes completing in `[start, end)` are counted and timed.
    pub(crate) fn load(&mut self, start: Instant, end: Instant) {
        self.window = Some(Window { start, end });
        let now = Instant::now();
        for i in 0..self.conns.len() {
            self.send_or_pace(i, self.plan.depth, now);
        }
        loop {
            let now = Instant::now();
            if now >= end {
                break;
            }
            let mut wait = TICK.min(end - now);
            while let Some(i) = self.pacer.as_mut().and_then(|p| p.pop_due(now)) {
                self.send(i, 1, now);
            }
            if let Some(due) = self.pacer.as_ref().and_then(Pacer::next_due) {
                // epoll_wait counts whole milliseconds (mio rounds up): closer than one,
                // poll without sleeping so sends keep their microsecond moments.
                let gap = due.saturating_duration_since(Instant::now());
                wait = if gap < Duration::from_millis(1) {
                    Duration::ZERO
                } else {
                    wait.min(gap - Duration::from_millis(1))
                };
            }
            self.pump(wait);
        }
        self.window = None;
        if let Some(p) = self.pacer.as_mut() {
            p.clear();
        }
    }

    /// Sends one message on every open connection and waits for all echoes, at most
    /// until `deadline` (echoes still missing then count as timeouts).
    pub(crate) fn echo_once(&mut self, deadline: Instant) {
        let now = Instant::now();
        for i in 0..self.conns.len() {
            self.send(i, 1, now);
        }
        while self.outstanding > 0 {
            let now = Instant::now();
            if now >= deadline {
                self.tally.timeouts += self.outstanding;
                return;
            }
            self.pump(TICK.min(deadline - now));
        }
    }

    /// Sends a close frame where no request frame is half written, then drops every
    /// connection (the run does not wait for the server's close).
    pub(crate) fn close_all(&mut self) {
        for slot in &mut self.conns {
            if let Some(conn) = slot.as_mut() {
                if matches!(conn.phase, Phase::Open) && conn.owed == 0 {
                    let _ = conn.stream.write(&self.plan.close);
                }
            }
            *slot = None;
        }
    }

    fn connect(&mut self, now: Instant) {
        let sends = !self.plan.fanout || (self.lead && self.conns.is_empty());
        // The lead's first connection publishes; with the publisher elsewhere its second
        // (the first subscriber) paces it.
        let paces = (self.plan.across() && self.lead && self.conns.len() == 1).then_some(0);
        let addr = if self.plan.fanout && sends {
            self.plan.publisher_addr
        } else {
            self.plan.addr
        };
        let mut stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(_) => {
                self.tally.connect_errors += 1;
                return;
            }
        };
        let token = Token(self.conns.len());
        let interest = Interest::READABLE | Interest::WRITABLE;
        if self
            .poll
            .registry()
            .register(&mut stream, token, interest)
            .is_err()
        {
            self.tally.connect_errors += 1;
            return;
        }
        let Ok(stream) = Stream::new(stream, self.plan.tls.as_ref()) else {
            self.tally.connect_errors += 1;
            return;
        };
        self.in_flight += 1;
        self.conns.push(Some(Conn {
            stream,
            phase: Phase::Connecting,
            started: now,
            reader: MessageReader::new(crate::args::MAX_SIZE),
            cycle: &self.plan.plain,
            owed: 0,
            off: 0,
            next: 0,
            sent_at: VecDeque::with_capacity(self.plan.depth),
            sends,
            outbox: (self.plan.fanout && sends && self.plan.payloads.len() == 1)
                .then(|| crate::fanout::Outbox::new(&self.plan.payloads[0], self.plan.binary))
                .flatten()
                .map(Box::new),
            paces,
        }));
    }

    /// Waits for readiness at most `timeout` and handles what is ready.
    fn pump(&mut self, timeout: Duration) {
        // Taken out for the loop so handlers may borrow the worker; a capacity-0
        // stand-in does not allocate.
        let mut events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        match self.poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {
                for event in events.iter() {
                    let idx = event.token().0;
                    if let Err(fault) = self.ready(idx) {
                        self.fail(idx, fault);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.tally.io_errors += 1,
        }
        self.events = events;
    }

    /// Handles readiness of connection `idx`, whatever its phase.
    fn ready(&mut self, idx: usize) -> Result<(), Fault> {
        let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
            return Ok(());
        };
        if matches!(conn.phase, Phase::Connecting) {
            if let Ok(Some(_)) | Err(_) = conn.stream.tcp().take_error() {
                return Err(Fault::Connect);
            }
            match conn.stream.tcp().peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(_) => return Err(Fault::Connect),
            }
            let _ = conn.stream.tcp().set_nodelay(true);
            // Plan::new built this request once already: it cannot fail now.
            let client = wire::client_request(self.plan.addr, &self.plan.path, self.plan.deflate)
                .map_err(|_| Fault::Handshake)?;
            let request = client.to_bytes().map_err(|_| Fault::Handshake)?;
            conn.phase = Phase::Upgrading(Box::new(Upgrade {
                request,
                written: 0,
                client,
                response: Vec::with_capacity(256),
            }));
        }
        if let Phase::Upgrading(up) = &mut conn.phase {
            let Upgrade {
                request,
                written,
                client,
                response,
            } = &mut **up;
            while *written < request.len() {
                match conn.stream.write(&request[*written..]) {
                    Ok(0) => return Err(Fault::Io),
                    Ok(n) => *written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Err(Fault::Io),
                }
            }
            let upgraded = loop {
                let mut chunk = [0u8; 1024];
                match conn.stream.read(&mut chunk) {
                    Ok(0) => return Err(Fault::Handshake),
                    Ok(n) => response.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(Fault::Io),
                }
                match wire::check_upgrade(response, client) {
                    Ok(Some(u)) => break u,
                    Ok(None) => {}
                    Err(_) => return Err(Fault::Handshake),
                }
            };
            if response.len() > upgraded.head_len {
                // The server spoke first: nothing was sent, so no echo can be due.
                return Err(Fault::Protocol);
            }
            if let Some(agreed) = upgraded.deflate {
                conn.reader.inflate(agreed, crate::args::MAX_SIZE);
                self.tally.deflated += 1;
            }
            conn.cycle = self.plan.cycle(upgraded.deflate);
            if upgraded.deflate.is_some() {
                // Compressed frames come from the cycle: not stamped.
                conn.outbox = None;
            }
            conn.phase = Phase::Open;
            self.in_flight -= 1;
            self.tally.opened += 1;
            return Ok(());
        }
        self.read_open(idx)?;
        self.flush(idx)
    }

    /// Reads everything available on open connection `idx` and handles the echoes.
    fn read_open(&mut self, idx: usize) -> Result<(), Fault> {
        let plan = self.plan;
        loop {
            let Some(conn) = self.conns[idx].as_mut() else {
                return Ok(());
            };
            let n = match conn.stream.read(&mut self.rbuf) {
                Ok(0) => return Err(Fault::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Fault::Io),
            };
            let now = Instant::now();
            let (mut echoes, mut closed, mut mismatched) = (0usize, false, 0u64);
            let tally = &mut self.tally;
            let window = self.window;
            if window.is_some_and(|w| w.contains(now)) {
                tally.wire_bytes += n as u64;
            }
            let sent_at = &mut conn.sent_at;
            let cycle = conn.cycle;
            let (fanout, sends, paces) = (plan.fanout, conn.sends, conn.paces);
            let mut paced = 0usize;
            let fed = conn.reader.feed(&self.rbuf[..n], |event| match event {
                Event::Message { binary, len, stamp } => {
                    if fanout {
                        if window.is_some_and(|w| w.contains(now)) {
                            tally.deliveries += 1;
                            if let Some(s) = stamp {
                                let ns = crate::fanout::latency_ns(s, now);
                                tally.delivery_latency.record(ns);
                            }
                        }
                        if !sends || plan.across() {
                            // A subscriber: nothing of its own in flight (one that paces
                            // a publisher elsewhere releases its window below); or the
                            // publisher's own copy, from its own server.
                            paced += usize::from(paces.is_some());
                            return;
                        }
                    }
                    let Some((sent, frame)) = sent_at.pop_front() else {
                        // An echo of nothing sent.
                        mismatched += 1;
                        return;
                    };
                    if binary != plan.binary || len != cycle.frames[frame].1 as u64 {
                        mismatched += 1;
                    }
                    echoes += 1;
                    if let Some(w) = window {
                        if w.contains(now) {
                            tally.messages += 1;
                            tally.payload_bytes += 2 * len;
                            tally
                                .latency
                                .record(now.duration_since(sent).as_nanos() as u64);
                        }
                    }
                }
                Event::Close => closed = true,
                Event::Control => {}
            });
            self.tally.mismatched += mismatched;
            self.outstanding -= echoes as u64;
            if let (Some(publisher), true) = (paces, paced > 0) {
                self.release(publisher, paced, now);
            }
            fed.map_err(|_| Fault::Protocol)?;
            if closed {
                return Err(Fault::Closed);
            }
            if let Some(w) = self.window {
                if now < w.end && echoes > 0 {
                    self.send_or_pace(idx, echoes, now);
                }
            }
            // A short read emptied the socket; on Linux any later arrival raises a
            // new edge, so the read that would say WouldBlock is skipped (as tokio does).
            let drained = self.conns[idx]
                .as_ref()
                .is_some_and(|c| c.stream.short_is_edge());
            if n < self.rbuf.len() && drained {
                return Ok(());
            }
        }
    }

    /// Fan-out across servers: `k` messages reached the pacing subscriber, so the
    /// publisher's `k` oldest are done (their latency is the publish's round trip through
    /// both servers and the broker) and it sends as many more.
    fn release(&mut self, publisher: usize, k: usize, now: Instant) {
        let Some(conn) = self.conns[publisher].as_mut() else {
            return;
        };
        let counted = self.window.is_some_and(|w| w.contains(now));
        let mut done = 0;
        while done < k {
            let Some((sent, _)) = conn.sent_at.pop_front() else {
                break;
            };
            done += 1;
            if counted {
                self.tally.messages += 1;
                let ns = now.duration_since(sent).as_nanos() as u64;
                self.tally.latency.record(ns);
            }
        }
        self.outstanding -= done as u64;
        if self.window.is_some_and(|w| now < w.end) && done > 0 {
            self.send_or_pace(publisher, done, now);
        }
    }

    /// Sends `k` messages on connection `idx` now, or (`--pace`) schedules each for its
    /// random moment.
    fn send_or_pace(&mut self, idx: usize, k: usize, now: Instant) {
        match self.pacer.as_mut() {
            Some(p) => p.schedule(idx, k, now),
            None => self.send(idx, k, now),
        }
    }

    /// Queues `k` request frames on connection `idx` (if open) and writes what fits.
    fn send(&mut self, idx: usize, k: usize, now: Instant) {
        let Some(conn) = self.conns[idx].as_mut() else {
            return;
        };
        if !matches!(conn.phase, Phase::Open) || !conn.sends {
            return;
        }
        if let Some(outbox) = conn.outbox.as_mut() {
            outbox.queue(k, now);
            conn.owed += 1; // something to write: `flush` takes it from the outbox
        }
        for _ in 0..k {
            if conn.outbox.is_some() {
                conn.sent_at.push_back((now, 0));
                continue;
            }
            conn.owed += conn.cycle.frames[conn.next].0 as u64;
            conn.sent_at.push_back((now, conn.next));
            conn.next = (conn.next + 1) % conn.cycle.frames.len();
        }
        self.outstanding += k as u64;
        if let Err(fault) = self.flush(idx) {
            self.fail(idx, fault);
        }
    }

    /// Writes queued frame bytes of connection `idx` until done or the socket is full.
    fn flush(&mut self, idx: usize) -> Result<(), Fault> {
        let Some(conn) = self.conns[idx].as_mut() else {
            return Ok(());
        };
        let counted = self.window.is_some_and(|w| w.contains(Instant::now()));
        if let Some(outbox) = conn.outbox.as_mut() {
            let edge = conn.stream.short_is_edge();
            let (n, short) = outbox
                .write(&mut conn.stream, edge)
                .map_err(|_| Fault::Io)?;
            if counted {
                self.tally.wire_bytes += n;
            }
            conn.owed = u64::from(short);
            return Ok(());
        }
        while conn.owed > 0 {
            // Frames are queued in the cycle's order: what is owed starts at `off` and
            // runs on, wrapping at the cycle's end.
            let bytes = &conn.cycle.bytes;
            let end = (conn.off as u64 + conn.owed).min(bytes.len() as u64) as usize;
            let want = end - conn.off;
            match conn.stream.write(&bytes[conn.off..end]) {
                Ok(0) => return Err(Fault::Io),
                Ok(n) => {
                    if counted {
                        self.tally.wire_bytes += n as u64;
                    }
                    conn.owed -= n as u64;
                    conn.off = (conn.off + n) % bytes.len();
                    if n < want && conn.stream.short_is_edge() {
                        // A short write filled the socket: wait for the writable edge.
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Fault::Io),
            }
        }
        Ok(())
    }

    /// Counts `fault` and drops connection `idx`.
    fn fail(&mut self, idx: usize, fault: Fault) {
        let Some(conn) = self.conns[idx].take() else {
            return;
        };
        match conn.phase {
            Phase::Connecting | Phase::Upgrading(_) => self.in_flight -= 1,
            Phase::Open => self.outstanding -= conn.sent_at.len() as u64,
        }
        let t = &mut self.tally;
        *match fault {
            Fault::Connect => &mut t.connect_errors,
            Fault::Handshake => &mut t.handshake_errors,
            Fault::Io => &mut t.io_errors,
            Fault::Protocol => &mut t.protocol_errors,
            Fault::Closed => &mut t.closed,
        } += 1;
    }

    /// Times out connections that have been connecting or upgrading too long.
    fn expire(&mut self, now: Instant) {
        if self.in_flight == 0 {
            return;
        }
        for slot in &mut self.conns {
            let late = slot.as_ref().is_some_and(|c| {
                !matches!(c.phase, Phase::Open) && now.duration_since(c.started) > self.plan.timeout
            });
            if late {
                *slot = None;
                self.in_flight -= 1;
                self.tally.timeouts += 1;
            }
        }
    }

    /// Drops every connection still connecting or upgrading.
    fn drop_pending(&mut self) {
        for slot in &mut self.conns {
            if slot
                .as_ref()
                .is_some_and(|c| !matches!(c.phase, Phase::Open))
            {
                *slot = None;
            }
        }
        self.in_flight = 0;
    }
}
