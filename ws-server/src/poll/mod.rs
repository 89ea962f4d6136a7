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
use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use actor_core::ReservedTag;
use bytes::Bytes;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use ws_codec::CloseCode;
use ws_handshake::Request;

use crate::conn::{Decision, Inner, Io, Phase, Shared};
use crate::feed::{feed, Fed, Payload};
use crate::server::ServerShared;
use crate::session::{finish, parse_head, unavailable, upgrade_response, ConnectMsg, Head};
use crate::timers::{self, next_deadline, timers};
use crate::write::{write_chunks, write_queue};

mod driver;
mod slot;

pub(crate) use driver::PollDriver;
use driver::{stop_loop, DriverState};
use slot::{Outcome, Slot, St};

/// The waker's token; connections use their slot index.
const WAKER: Token = Token(usize::MAX);

/// Reads per connection before the poller serves the others.
const READS_PER_TURN: usize = 4;

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
    /// A poll instance, and what wakes it.
    fn new() -> io::Result<(Poll, Arc<PollShared>)> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let shared = Arc::new(PollShared {
            waker,
            queue: Mutex::new(Queue::default()),
        });
        Ok((poll, shared))
    }

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
    // A poller that has not yet taken earlier bytes takes these with them.
    fn queued(&self, g: &mut Inner, was_idle: bool) -> bool {
        send_now(g).unwrap_or(was_idle)
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
        match write_chunks(&*socket, &mut chunks[first..k]) {
            Ok(0) => break,
            Ok(_) => first += chunks[first..k].iter().take_while(|c| c.is_empty()).count(),
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
        let (poll, shared) = PollShared::new()?;
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
