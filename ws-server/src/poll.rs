//! The poll bridge: one poller per server serves every connection with
//! readiness-based I/O (epoll through `mio`), on a thread of its own or run by
//! the runtime's workers as their I/O driver ([`PollDriver`]).
//!
//! The accept thread hands admitted sockets to the poller (a queue and its
//! waker). Per connection the poller keeps a small [`Slot`] indexed by the
//! connection's token: the socket, what is still to be written, and where the
//! connection is in its life. It reads the request head without blocking,
//! hands the request to the actor and goes on when the actor's decision
//! arrives (the actor calls `notify`, which queues the token and wakes the
//! poller). Frames are read into one scratch buffer per poller and fed to the
//! codec, so an idle connection holds no read buffer; writes are vectored and
//! what does not fit waits for writability. Timers of every connection live in
//! one heap. Nothing here runs user code.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use actor_core::ReservedTag;
use bytes::{Buf, Bytes};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use ws_codec::CloseCode;
use ws_handshake::Request;

use crate::conn::{Decision, Inner, Io, Phase, Shared};
use crate::feed::{feed, Fed, Payload};
use crate::server::ServerShared;
use crate::session::{finish, parse_head, unavailable, upgrade_response, ConnectMsg, Head};
use crate::timers::{self, next_deadline, timers};

/// The waker's token; connections use their slot index.
const WAKER: Token = Token(usize::MAX);

/// Reads per connection before the poller serves the others.
const READS_PER_TURN: usize = 4;

/// Most buffers handed to one vectored write.
const MAX_IOV: usize = 64;

/// Most chunks a send writes directly.
const DIRECT_CHUNKS: usize = 16;

/// Least time an HTTP answer gets to be written (as the thread bridge).
const MIN_ANSWER_TIME: Duration = Duration::from_millis(100);

/// The server's handle on its poller: a thread of its own, or a driver the
/// runtime's workers run (see [`PollDriver`]).
pub(crate) struct Poller {
    shared: Arc<PollShared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    driver: Option<Arc<PollDriver>>,
}

/// The poller run by the actor-core workers themselves: whichever worker holds
/// the driver runs one turn (poll, handle events, run due timers) in `park`
/// (blocking) or `poll_now`, so the messages it decodes land on that worker's
/// own queue and run there without a cross-thread wake-up. One holder at a
/// time, so the state's lock is uncontended (shutdown aside).
pub(crate) struct PollDriver {
    shared: Arc<PollShared>,
    state: Mutex<DriverState>,
    /// Where `park` waits while there is no loop (before the server starts it
    /// and after it stops): an `unpark` flag, so the state's lock is never
    /// held while waiting for nothing.
    gate: Mutex<bool>,
    gate_cv: Condvar,
}

enum DriverState {
    /// No loop (not started yet, or stopped): just the poll instance.
    Waiting(Poll),
    Running(Box<Loop>),
    /// Only between two of the above, under the lock.
    Gone,
}

impl PollDriver {
    /// A poll instance and its waker, before the server (and its runtime) exists.
    pub(crate) fn new() -> io::Result<Arc<PollDriver>> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok(Arc::new(PollDriver {
            shared: Arc::new(PollShared {
                waker,
                queue: Mutex::new(Queue::default()),
            }),
            state: Mutex::new(DriverState::Waiting(poll)),
            gate: Mutex::new(false),
            gate_cv: Condvar::new(),
        }))
    }

    fn open_gate(&self) {
        *self.gate.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.gate_cv.notify_all();
    }

    fn wait_gate(&self) {
        let mut g = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        while !*g {
            g = self.gate_cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        *g = false;
    }

    fn state(&self) -> MutexGuard<'_, DriverState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self, block: bool) {
        let mut st = self.state();
        match &mut *st {
            DriverState::Running(looper) => {
                if !looper.turn(block) {
                    stop_loop(&mut st);
                }
            }
            DriverState::Waiting(_) | DriverState::Gone => {
                drop(st);
                if block {
                    self.wait_gate();
                }
            }
        }
    }
}

/// Ends every connection still on the loop and drops it (its server with it).
fn stop_loop(st: &mut DriverState) {
    if let DriverState::Running(mut looper) = std::mem::replace(st, DriverState::Gone) {
        looper.end_all();
        let Loop { poll, .. } = *looper;
        *st = DriverState::Waiting(poll);
    }
}

impl actor_core::Driver for PollDriver {
    fn park(&self) {
        self.run(true);
    }
    fn poll_now(&self) {
        self.run(false);
    }
    fn unpark(&self) {
        // Both: the worker may be in the loop's poll or at the gate.
        let _ = self.shared.waker.wake();
        self.open_gate();
    }
}

/// What the poller shares with everyone who wakes it.
struct PollShared {
    waker: Waker,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    /// Sockets from the accept thread; `None`: answer 503 (over `max_connections`).
    admitted: Vec<(std::net::TcpStream, Option<Arc<Shared>>)>,
    /// Tokens of connections to look at again.
    ready: Vec<usize>,
    /// The poller is (about to be) blocked in `poll`: wake it.
    sleeping: bool,
    stop: bool,
}

impl PollShared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, f: impl FnOnce(&mut Queue)) {
        let mut q = self.queue();
        f(&mut q);
        // One wake-up per sleep: a poller at work finds the queue itself.
        let wake = std::mem::replace(&mut q.sleeping, false);
        drop(q);
        if wake {
            let _ = self.waker.wake();
        }
    }
}

/// The seam for one connection on the poller.
struct PollIo {
    poller: Arc<PollShared>,
    token: usize,
}

impl Io for PollIo {
    fn notify(&self, _shared: &Shared) {
        self.poller.push(|q| q.ready.push(self.token));
    }
    // `Shared::abort` sets `aborted` and then notifies: the poller closes the
    // socket when it looks. Nothing blocks, so there is nothing to wake early.
    fn abort(&self) {}
    // `begin_shutdown` sets `shutting_down` and then notifies: a head still
    // being read gets its 503 when the poller looks.
    fn interrupt_read(&self) {}
    fn wake_on_send(&self, _parked: usize, was_idle: bool) -> bool {
        was_idle
    }
    fn send_now(&self, g: &mut Inner) -> Option<bool> {
        send_now(g)
    }
}

/// A send writes its frame itself while the poller has nothing to write: one
/// non-blocking write, no wake-up. The caller holds the connection's lock, so
/// nothing can be written between: what does not fit goes to `unsent`, which
/// the poller writes first once it is woken.
fn send_now(g: &mut Inner) -> Option<bool> {
    if g.phase != Phase::Open || g.writing != 0 || g.aborted || !g.unsent.is_empty() {
        return None;
    }
    let socket = Arc::clone(g.socket.as_ref()?);
    let mut chunks: [Bytes; DIRECT_CHUNKS] = Default::default();
    let mut k = 0;
    while k < DIRECT_CHUNKS {
        match g.codec.poll_transmit() {
            Some(b) => {
                chunks[k] = b;
                k += 1;
            }
            None => break,
        }
    }
    let mut first = 0;
    while first < k {
        let result = {
            let mut slices = [IoSlice::new(&[]); DIRECT_CHUNKS];
            for (slice, chunk) in slices.iter_mut().zip(&chunks[first..k]) {
                *slice = IoSlice::new(chunk);
            }
            (&*socket).write_vectored(&slices[..k - first])
        };
        match result {
            Ok(0) => break,
            Ok(mut n) => {
                while n > 0 {
                    let len = chunks[first].len();
                    if n >= len {
                        n -= len;
                        first += 1;
                    } else {
                        chunks[first].advance(n);
                        n = 0;
                    }
                }
            }
            Err(e) if retry(&e) => {}
            // Full, or failed: the poller takes over (and sees the error).
            Err(_) => break,
        }
    }
    for chunk in &mut chunks[first..k] {
        let chunk = std::mem::take(chunk);
        g.writing += chunk.len();
        g.unsent.push(chunk);
    }
    Some(first < k || g.codec.pending_transmit_bytes() > 0)
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller").finish_non_exhaustive()
    }
}

impl Poller {
    /// Starts the poller thread `ws-poll-PORT`.
    pub(crate) fn start(server: Arc<ServerShared>, port: u16) -> io::Result<Poller> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let shared = Arc::new(PollShared {
            waker,
            queue: Mutex::new(Queue::default()),
        });
        let looper = Loop::new(poll, Arc::clone(&shared), server);
        let thread = thread::Builder::new()
            .name(format!("ws-poll-{port}"))
            .spawn(move || looper.run())?;
        Ok(Poller {
            shared,
            thread: Mutex::new(Some(thread)),
            driver: None,
        })
    }

    /// Starts the poller inside `driver`, which the server's own runtime
    /// already runs on its workers.
    pub(crate) fn start_driven(server: Arc<ServerShared>, driver: Arc<PollDriver>) -> Poller {
        {
            let mut st = driver.state();
            if let DriverState::Waiting(poll) = std::mem::replace(&mut *st, DriverState::Gone) {
                let shared = Arc::clone(&driver.shared);
                *st = DriverState::Running(Box::new(Loop::new(poll, shared, server)));
            }
        }
        // A worker may be waiting at the gate: have it look again.
        driver.open_gate();
        Poller {
            shared: Arc::clone(&driver.shared),
            thread: Mutex::new(None),
            driver: Some(driver),
        }
    }

    /// Hands an admitted socket to the poller; `None`: answer 503 and close.
    pub(crate) fn admit(&self, stream: std::net::TcpStream, conn: Option<Arc<Shared>>) {
        self.shared.push(|q| q.admitted.push((stream, conn)));
    }

    /// Stops the poller (connections still there end at once) and joins it.
    pub(crate) fn stop(&self) {
        self.shared.push(|q| q.stop = true);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
        if let Some(d) = &self.driver {
            // The wake-up above gets a worker out of the loop's poll, and no
            // turn blocks once `stop` is set, so the lock comes free; then
            // end what is left here (unless that worker already did).
            let _ = d.shared.waker.wake();
            stop_loop(&mut d.state());
        }
    }
}

/// Where a connection is in its life, as the poller sees it.
enum St {
    /// Reading the request head (until `Slot::deadline`).
    Head,
    /// The actor is deciding; `head[used..]` is what the client sent after
    /// the head (pipelined frames). `request` is `None` for plain HTTP.
    Deciding {
        request: Option<Box<Request>>,
        used: usize,
    },
    /// Writing an HTTP answer; then FIN, and the bridge ends with `close`.
    Answering { close: Option<(CloseCode, String)> },
    /// Frames flow both ways.
    Open,
    /// A protocol error is deferred until the actor handled what came before
    /// it, or until `Slot::deadline`.
    Failing,
    /// Reading is over: flush what is queued, then close.
    Closing,
}

/// One connection on the poller.
struct Slot {
    /// Shared with `Inner::socket` while open, for direct writes from sends.
    stream: Arc<TcpStream>,
    /// `None`: a client over `max_connections`, answered 503.
    conn: Option<Arc<Shared>>,
    state: St,
    /// The request head while it arrives; empty once open.
    head: Vec<u8>,
    /// Bytes taken from the codec (or an HTTP answer) not yet written;
    /// `offset` bytes of the first are.
    out: VecDeque<Bytes>,
    offset: usize,
    /// Readiness seen and not yet used up (mio is edge-triggered).
    readable: bool,
    writable: bool,
    /// The handshake, answer or deferred-failure deadline.
    deadline: Option<Instant>,
    /// The earliest entry this slot has in the timer heap.
    timer: Option<Instant>,
    /// The poller round that last drove this slot.
    round: u64,
}

/// How driving a slot left it.
enum Outcome {
    /// Wait for readiness, a notify or a timer.
    Wait,
    /// Still readable after its turn's reads: drive it again soon.
    Again,
    /// The bridge is done with this connection.
    Finish(Option<(CloseCode, String)>),
    /// The 503 to a client over `max_connections` is done.
    Rejected,
}

struct Loop {
    poll: Poll,
    events: Events,
    shared: Arc<PollShared>,
    server: Arc<ServerShared>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    scratch: Box<[u8]>,
    payloads: Vec<Payload>,
    again: Vec<usize>,
    round: u64,
}

impl Loop {
    fn new(poll: Poll, shared: Arc<PollShared>, server: Arc<ServerShared>) -> Loop {
        let read_size = server.settings.read_buffer_size;
        Loop {
            poll,
            events: Events::with_capacity(1024),
            shared,
            server,
            slots: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            // The one read buffer of the poller, `read_buffer_size` long.
            scratch: vec![0; read_size].into_boxed_slice(),
            payloads: Vec::new(),
            again: Vec::new(),
            round: 0,
        }
    }

    /// The dedicated poller thread: turns until stopped.
    fn run(mut self) {
        while self.turn(true) {}
        self.end_all();
    }

    /// One turn: polls (waiting, if `block`, until readiness, a wake-up or the
    /// next timer), drives what is ready, runs due timers. `false`: stopped.
    fn turn(&mut self, block: bool) -> bool {
        let now = Instant::now();
        let mut timeout = if self.again.is_empty() && block {
            self.heap
                .peek()
                .map(|Reverse((t, _))| t.saturating_duration_since(now))
        } else {
            Some(Duration::ZERO)
        };
        {
            let mut q = self.shared.queue();
            if q.stop || !q.ready.is_empty() || !q.admitted.is_empty() {
                timeout = Some(Duration::ZERO);
            } else if timeout != Some(Duration::ZERO) {
                q.sleeping = true;
            }
        }
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                // Not expected from epoll_wait; do not spin on it.
                thread::sleep(Duration::from_millis(10));
            }
        }
        self.round += 1;
        // Taken before anything is driven: a slot that runs out of reads
        // this round goes on next round.
        let again = std::mem::take(&mut self.again);
        let (admitted, ready, stop) = {
            let mut q = self.shared.queue();
            q.sleeping = false;
            (
                std::mem::take(&mut q.admitted),
                std::mem::take(&mut q.ready),
                q.stop,
            )
        };
        let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        for ev in events.iter() {
            let Token(idx) = ev.token();
            if let Some(Some(slot)) = self.slots.get_mut(idx) {
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    slot.readable = true;
                }
                if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
                    slot.writable = true;
                }
                self.drive_once(idx);
            }
        }
        self.events = events;
        for idx in ready {
            self.drive_once(idx);
        }
        for idx in again {
            self.drive_once(idx);
        }
        for (stream, conn) in admitted {
            self.insert(stream, conn);
        }
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(Reverse((t, idx))) = self.heap.peek().copied() {
            if t > now {
                break;
            }
            self.heap.pop();
            due.push((t, idx));
        }
        for (t, idx) in due {
            if let Some(Some(slot)) = self.slots.get_mut(idx) {
                if slot.timer == Some(t) {
                    slot.timer = None;
                    self.drive(idx);
                }
            }
        }
        !stop
    }

    /// Stopped: whatever is left ends now.
    fn end_all(&mut self) {
        for idx in 0..self.slots.len() {
            if let Some(conn) = self.slots[idx].as_ref().and_then(|s| s.conn.clone()) {
                conn.abort("server stopped");
                let close = conn.lock().final_close();
                self.end(idx, Outcome::Finish(Some(close)));
            } else if self.slots[idx].is_some() {
                self.end(idx, Outcome::Rejected);
            }
        }
    }

    /// Takes an admitted socket into a slot and looks at it.
    fn insert(&mut self, stream: std::net::TcpStream, conn: Option<Arc<Shared>>) {
        let fail = |server: &ServerShared, conn: Option<Arc<Shared>>| match conn {
            Some(c) => finish(&c, server, None),
            None => server.rejection_done(),
        };
        if stream.set_nonblocking(true).is_err() {
            return fail(&self.server, conn);
        }
        let mut stream = TcpStream::from_std(stream);
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        if self
            .poll
            .registry()
            .register(
                &mut stream,
                Token(idx),
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_err()
        {
            self.free.push(idx);
            return fail(&self.server, conn);
        }
        if let Some(c) = &conn {
            let _ = c.io.set(Box::new(PollIo {
                poller: Arc::clone(&self.shared),
                token: idx,
            }));
        }
        self.slots[idx] = Some(Slot {
            stream: Arc::new(stream),
            conn,
            state: St::Head,
            head: Vec::new(),
            out: VecDeque::new(),
            offset: 0,
            readable: true,
            writable: true,
            deadline: Some(Instant::now() + self.server.settings.handshake_timeout),
            timer: None,
            round: 0,
        });
        self.drive(idx);
    }

    /// Drives a slot unless this round already did.
    fn drive_once(&mut self, idx: usize) {
        match self.slots.get_mut(idx) {
            Some(Some(slot)) if slot.round != self.round => self.drive(idx),
            _ => {}
        }
    }

    /// Does everything a connection can do now, then schedules its timer.
    fn drive(&mut self, idx: usize) {
        let Some(Some(slot)) = self.slots.get_mut(idx) else {
            return;
        };
        slot.round = self.round;
        let mut cx = Cx {
            server: &self.server,
            scratch: &mut self.scratch,
            payloads: &mut self.payloads,
            now: Instant::now(),
            due: None,
        };
        let outcome = slot.drive(&mut cx);
        let due = cx.due;
        match outcome {
            Outcome::Wait | Outcome::Again => {
                if matches!(outcome, Outcome::Again) {
                    self.again.push(idx);
                }
                if let Some(t) = due {
                    if slot.timer.map_or(true, |s| t < s) {
                        slot.timer = Some(t);
                        self.heap.push(Reverse((t, idx)));
                    }
                }
            }
            end => self.end(idx, end),
        }
    }

    /// Closes the socket, frees the slot and tells whoever waits.
    fn end(&mut self, idx: usize, outcome: Outcome) {
        let Some(slot) = self.slots[idx].take() else {
            return;
        };
        self.free.push(idx);
        let Slot { stream, conn, .. } = slot;
        if let Some(c) = &conn {
            c.lock().socket = None;
        }
        // Closing the socket (its last handle) takes it out of the poll set.
        drop(stream);
        match (conn, outcome) {
            (Some(c), Outcome::Finish(close)) => finish(&c, &self.server, close),
            (Some(c), _) => finish(&c, &self.server, None),
            (None, _) => self.server.rejection_done(),
        }
    }
}

/// What a slot borrows from its poller while it is driven.
struct Cx<'a> {
    server: &'a ServerShared,
    scratch: &'a mut [u8],
    payloads: &'a mut Vec<Payload>,
    now: Instant,
    /// The next instant this slot needs the poller.
    due: Option<Instant>,
}

impl Cx<'_> {
    fn consider(&mut self, t: Option<Instant>) {
        if let Some(t) = t {
            self.due = Some(self.due.map_or(t, |d| d.min(t)));
        }
    }
}

fn retry(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

impl Slot {
    fn drive(&mut self, cx: &mut Cx<'_>) -> Outcome {
        loop {
            let step = match self.state {
                St::Head => self.read_head(cx),
                St::Deciding { .. } => self.decided(cx),
                St::Answering { .. } => return self.answer(cx),
                St::Open | St::Failing | St::Closing => return self.open(cx),
            };
            match step {
                // The state changed: go on in the new one.
                None => {}
                Some(outcome) => return outcome,
            }
        }
    }

    /// Starts writing an HTTP answer, after which the bridge ends with `close`.
    fn respond(&mut self, cx: &Cx<'_>, bytes: Vec<u8>, close: Option<(CloseCode, String)>) {
        let end = self
            .deadline
            .unwrap_or(cx.now)
            .max(cx.now + MIN_ANSWER_TIME);
        self.deadline = Some(end);
        self.head = Vec::new();
        self.out.push_back(Bytes::from(bytes));
        self.state = St::Answering { close };
    }

    /// `begin_shutdown` reached this connection (as the thread bridge's
    /// `interrupt_read`): a head still arriving gets 503.
    fn interrupted(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.lock().shutting_down)
    }

    /// Reads the request head; `None` once it is complete (the state changed).
    fn read_head(&mut self, cx: &mut Cx<'_>) -> Option<Outcome> {
        let server = cx.server;
        let settings = &*server.settings;
        let parsed = loop {
            if let Some(parsed) = parse_head(&self.head, settings) {
                break parsed;
            }
            if self.interrupted() || self.deadline.is_some_and(|d| cx.now >= d) {
                break Head::Gone;
            }
            if !self.readable {
                cx.consider(self.deadline);
                return Some(Outcome::Wait);
            }
            match (&*self.stream).read(cx.scratch) {
                Ok(0) => break Head::Gone,
                Ok(n) => self.head.extend_from_slice(&cx.scratch[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if retry(&e) => {}
                Err(_) => break Head::Gone,
            }
        };
        let Some(conn) = self.conn.clone() else {
            // Over max_connections: 503 to a request, the refusal to garbage.
            match parsed {
                Head::Request(..) | Head::Http(..) => self.respond(cx, unavailable(), None),
                Head::Invalid(bytes) => self.respond(cx, bytes, None),
                Head::Gone => return Some(Outcome::Rejected),
            }
            return None;
        };
        let answer_503 = match parsed {
            Head::Gone => self.interrupted(),
            _ => server.is_shutting_down(),
        };
        if answer_503 {
            self.respond(cx, unavailable(), None);
            return None;
        }
        let (msg, request, used) = match parsed {
            Head::Request(request, used) => {
                // RFC 6455 §10.2: the origin policy is ws-handshake's to apply.
                if let Err(e) = cx.server.origin_policy.check(&request) {
                    self.respond(cx, e.to_bytes(), None);
                    return None;
                }
                let msg = ConnectMsg::Upgrade(request.clone());
                (msg, Some(Box::new(request)), used)
            }
            Head::Http(request, refusal) => (ConnectMsg::Http(request, refusal), None, 0),
            Head::Invalid(bytes) => {
                self.respond(cx, bytes, None);
                return None;
            }
            Head::Gone => return Some(Outcome::Finish(None)),
        };
        let sent = conn.pid.get().is_some_and(|pid| {
            conn.handle
                .send_reserved(*pid, ReservedTag::WsConnect, msg)
                .is_ok()
        });
        if !sent {
            return Some(Outcome::Finish(None));
        }
        // The actor's decision is waited for without a deadline, as on the
        // thread bridge: `on_connect` runs user code.
        self.deadline = None;
        self.state = St::Deciding { request, used };
        None
    }

    /// Acts on the actor's decision once it is there.
    fn decided(&mut self, cx: &mut Cx<'_>) -> Option<Outcome> {
        let Some(conn) = self.conn.clone() else {
            return Some(Outcome::Rejected);
        };
        let decision = {
            let mut g = conn.lock();
            match g.decision.take() {
                Some(d) => d,
                None if g.actor_gone || g.aborted => return Some(Outcome::Finish(None)),
                None => return Some(Outcome::Wait),
            }
        };
        let St::Deciding { request, used } = std::mem::replace(&mut self.state, St::Closing) else {
            return Some(Outcome::Finish(None));
        };
        let (protocol, headers) = match decision {
            Decision::Respond(bytes) => {
                self.respond(cx, bytes, None);
                return None;
            }
            Decision::Upgrade { protocol, headers } => (protocol, headers),
        };
        let Some(request) = request else {
            // An upgrade decided for plain HTTP cannot happen; end quietly.
            return Some(Outcome::Finish(None));
        };
        let response = match upgrade_response(&request, protocol.as_deref(), &headers) {
            Ok(bytes) => bytes,
            Err(e) => {
                // The hook chose a subprotocol the client did not offer, or a bad
                // header: ws-handshake says which, and the client gets its status.
                let close = Some((CloseCode::INTERNAL_ERROR, e.to_string()));
                self.respond(cx, e.to_bytes(), close);
                return None;
            }
        };
        // The 101 goes before anything the codec queued (a close from on_connect).
        let response = Bytes::from(response);
        self.out.push_back(response.clone());
        {
            let mut g = conn.lock();
            g.writing += response.len();
            g.socket = Some(Arc::clone(&self.stream));
            timers::open(&mut g, cx.now, &conn.settings);
        }
        self.state = St::Open;
        let head = std::mem::take(&mut self.head);
        if head.len() > used {
            let fed = feed(&conn, |c| c.handle_bytes(&head[used..]), cx.payloads);
            self.fed(fed, &conn, cx);
        }
        None
    }

    /// Follows what feeding the codec gave.
    fn fed(&mut self, fed: Fed, conn: &Shared, cx: &Cx<'_>) {
        match fed {
            Fed::Open => {}
            Fed::Failing => {
                self.state = St::Failing;
                self.deadline = Some(cx.now + conn.settings.close_timeout);
            }
            Fed::Over => {
                conn.lock().reader_done = true;
                self.state = St::Closing;
            }
        }
    }

    /// Writes the HTTP answer, then FIN.
    fn answer(&mut self, cx: &mut Cx<'_>) -> Outcome {
        let done = match write_out(
            &self.stream,
            &mut self.out,
            &mut self.offset,
            &mut self.writable,
        ) {
            Ok(_) => self.out.is_empty(),
            Err(_) => true,
        };
        if !done && self.deadline.is_some_and(|d| cx.now < d) {
            cx.consider(self.deadline);
            return Outcome::Wait;
        }
        // FIN after the answer, so the client reads it before the close.
        let _ = self.stream.shutdown(Shutdown::Write);
        match &mut self.state {
            St::Answering { close } if self.conn.is_some() => Outcome::Finish(close.take()),
            _ if self.conn.is_some() => Outcome::Finish(None),
            _ => Outcome::Rejected,
        }
    }

    /// An upgraded connection: timers, writes, reads.
    fn open(&mut self, cx: &mut Cx<'_>) -> Outcome {
        let Some(conn) = self.conn.clone() else {
            return Outcome::Rejected;
        };
        let settings = &*conn.settings;
        let limit = settings.mailbox_limit;
        let mut reads = 0;
        let mut written = 0;
        loop {
            // Under the lock: the end, the deferred failure, timers, and what to write.
            let closing = {
                let mut g = conn.lock();
                g.writing -= written;
                if g.aborted {
                    return Outcome::Finish(Some(g.final_close()));
                }
                if matches!(self.state, St::Failing)
                    && (conn.drained(&g) || self.deadline.is_some_and(|d| cx.now >= d))
                {
                    g.fail();
                    g.reader_done = true;
                    self.state = St::Closing;
                    self.deadline = None;
                }
                if !timers(&mut g, cx.now, settings) {
                    drop(g);
                    conn.abort("pong timeout");
                    return Outcome::Finish(Some(conn.lock().final_close()));
                }
                if !self.writable && !self.out.is_empty() && g.codec.is_closed() {
                    // The peer stopped reading and the close is over (or its
                    // timer ran out): nothing queued can reach it.
                    drop(g);
                    conn.abort("write failed");
                    return Outcome::Finish(Some(conn.lock().final_close()));
                }
                // What a direct write left goes first (already counted).
                self.out.extend(std::mem::take(&mut g.unsent));
                while let Some(b) = g.codec.poll_transmit() {
                    g.writing += b.len();
                    self.out.push_back(b);
                }
                cx.due = next_deadline(&g, settings);
                g.codec.should_close_transport() || g.reader_done
            };
            if matches!(self.state, St::Failing) {
                cx.consider(self.deadline);
            }
            match write_out(
                &self.stream,
                &mut self.out,
                &mut self.offset,
                &mut self.writable,
            ) {
                Ok(n) => written = n,
                Err(_) => {
                    conn.abort("write failed");
                    return Outcome::Finish(Some(conn.lock().final_close()));
                }
            }
            if self.out.is_empty() && self.out.capacity() > 8 {
                self.out = VecDeque::new();
            }
            if closing && self.out.is_empty() {
                // RFC 6455 §7.1.1: the server closes the TCP connection first.
                let _ = self.stream.shutdown(Shutdown::Both);
                let mut g = conn.lock();
                g.writing -= written;
                return Outcome::Finish(Some(g.final_close()));
            }
            // Flow control: while the actor is behind, stop reading; TCP
            // pushes back. `message_handled` notifies when there is room.
            let may_read = matches!(self.state, St::Open)
                && self.readable
                && conn.in_flight.load(Ordering::Acquire) < limit;
            if !may_read {
                break;
            }
            if reads == READS_PER_TURN {
                if written > 0 {
                    conn.lock().writing -= written;
                }
                return Outcome::Again;
            }
            reads += 1;
            match (&*self.stream).read(cx.scratch) {
                Ok(0) => {
                    conn.abort("peer closed the TCP connection");
                    return Outcome::Finish(Some(conn.lock().final_close()));
                }
                Ok(n) => {
                    // A short read emptied the socket: epoll reports new data.
                    if n < cx.scratch.len() {
                        self.readable = false;
                    }
                    let fed = feed(&conn, |c| c.handle_bytes(&cx.scratch[..n]), cx.payloads);
                    self.fed(fed, &conn, cx);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                }
                Err(e) if retry(&e) => {}
                Err(_) => {
                    conn.abort("connection reset");
                    return Outcome::Finish(Some(conn.lock().final_close()));
                }
            }
            // Loop: flush what the codec queued (pongs, a close) and go on.
        }
        if written > 0 {
            conn.lock().writing -= written;
        }
        Outcome::Wait
    }
}

/// Writes as much of `out` as the socket takes, vectored; the bytes written.
fn write_out(
    mut stream: &TcpStream,
    out: &mut VecDeque<Bytes>,
    offset: &mut usize,
    writable: &mut bool,
) -> io::Result<usize> {
    let mut total = 0;
    while !out.is_empty() && *writable {
        let result = {
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let mut k = 0;
            for (i, b) in out.iter().take(MAX_IOV).enumerate() {
                slices[i] = IoSlice::new(if i == 0 { &b[*offset..] } else { &b[..] });
                k += 1;
            }
            stream.write_vectored(&slices[..k])
        };
        match result {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(mut n) => {
                total += n;
                while n > 0 {
                    let left = out[0].len() - *offset;
                    if n >= left {
                        n -= left;
                        out.pop_front();
                        *offset = 0;
                    } else {
                        *offset += n;
                        n = 0;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => *writable = false,
            Err(e) if retry(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}
