//! The poll bridge: pollers serve the connections with readiness-based I/O
//! (epoll through `mio`): one per worker of the runtime, each that worker's
//! I/O driver ([`PollDriver`]), or one on a thread of its own.
//!
//! The accept thread hands each admitted socket to the poller with the fewest
//! connections (a queue and its waker); the connection stays there. Per
//! connection a poller keeps a small [`Slot`] indexed by the
//! connection's token: the socket, the readiness not yet used up, and its
//! place in the timer heap. Driving a slot is the same few steps whatever the
//! connection's stage: give the session what was read, let it advance, write
//! what it queued, read if it wants more. Frames are read into one scratch
//! buffer per poller, so an idle connection holds no read buffer; what a
//! write does not take waits for writability. Timers of every connection
//! live in one heap. Nothing here runs user code or decides a rule.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::Shutdown;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use super::Io;
use crate::link::Link;
use crate::session::{End, Session, ToActor};
use crate::tls::TlsConn;
use sock::Sock;
use ws_codec::OpCode;

mod driver;
mod slot;
mod sock;

pub(crate) use driver::PollDriver;
use driver::{stop_loop, DriverState};
use slot::{Outcome, Slot};

/// The waker's token; connections use their slot index.
const WAKER: Token = Token(usize::MAX);

/// Readiness events one turn takes from the kernel when the runtime has
/// other workers. A driver's turn decodes a message for each, and the actors
/// they woke run on its worker after the turn: the fewer connections a turn
/// touches, the more of the first one's session, mailbox and socket is still
/// in the core's cache when its actor sends the reply. The rest stay ready in
/// the kernel for the next turn, which comes as soon as those actors have run
/// (an idle worker polls its own driver before stealing, actor-core's
/// `find_task`). With 1000 connections on two workers, the two together cost
/// 5 % less server CPU per message than 1024 (about 57 a turn in practice)
/// without polling first (docs/benchmarks.md, "Where two workers lose at 1000
/// connections"), and 4 % less than 64 (issue 17, 2026-12-06).
const EVENTS_PER_TURN: usize = 16;

/// The same with a single worker (a one-core machine or container): nothing
/// can be stolen and nobody else polls, so a short turn only adds
/// `epoll_wait` calls (13 messages a call with 16 at 100 connections, where
/// fastwebsockets takes 60). 64 costs 3-4 % less server CPU per message than
/// 16 at 100 and 1000 connections, in lock-step and `-rand`; 256 no less
/// than 64 (docs/benchmarks.md, "Events per turn").
const EVENTS_PER_TURN_ALONE: usize = 64;
const _: () = assert!(EVENTS_PER_TURN_ALONE > EVENTS_PER_TURN);

/// How many readiness events a driver's turn takes on a runtime of `workers`.
fn events_per_turn(workers: usize) -> usize {
    if workers <= 1 {
        EVENTS_PER_TURN_ALONE
    } else {
        EVENTS_PER_TURN
    }
}

/// Whether a turn may wait for readiness.
#[derive(Debug, Clone, Copy)]
pub(super) enum Wait {
    /// Handle what is ready and return.
    No,
    /// Block until readiness, a wake-up or the next timer, and at most this long if given.
    Block(Option<Duration>),
}

/// The server's handle on its pollers: one on a thread of its own, or one
/// driver per worker of the runtime (see [`PollDriver`]).
pub(crate) struct Poller {
    /// Each poll loop's queue, in the drivers' order.
    shards: Vec<Arc<PollShared>>,
    /// Where the search for the least loaded poller starts (ties rotate).
    next: AtomicUsize,
    thread: Mutex<Option<JoinHandle<()>>>,
    drivers: Vec<Arc<PollDriver>>,
}

/// What a poller shares with everyone who wakes it.
struct PollShared {
    waker: Waker,
    queue: Mutex<Queue>,
    /// Connections handed to this poller and not yet ended there.
    conns: AtomicUsize,
}

#[derive(Default)]
struct Queue {
    /// Sockets from the accept thread.
    admitted: Vec<(std::net::TcpStream, Arc<Link>)>,
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
            conns: AtomicUsize::new(0),
        });
        Ok((poll, shared))
    }

    /// A connection handed to this poller ended here (or never started).
    fn conn_ended(&self) {
        self.conns.fetch_sub(1, Relaxed);
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
    /// The slot owns the socket; a send borrows it for one write.
    stream: Weak<TcpStream>,
    /// Over TLS: the slot's TLS state, which a send's write goes through.
    tls: Option<Weak<TlsConn>>,
}

impl Io for PollIo {
    fn notify(&self) {
        self.poller.push(|q| q.ready.push(self.token));
    }

    /// Plain TCP only: TLS encrypts what is queued, in records.
    fn send_now(&self, session: &mut Session, opcode: OpCode, payload: &[u8]) -> Option<bool> {
        if self.tls.is_some() {
            return None;
        }
        let stream = self.stream.upgrade()?;
        session.send_now(opcode, payload, Instant::now, Sock(&stream))
    }

    /// A send writes its frame itself while the socket takes bytes: one
    /// non-blocking write under the session's lock (so nothing can be
    /// written in between), no wake-up of the poller. What does not fit
    /// stays queued in the session; the poller writes it on writability.
    fn queued(&self, session: &mut Session) -> bool {
        if !session.is_upgraded() || session.is_stalled() {
            // Not upgraded: the decision's notify follows. Stalled: the
            // writability edge drives the poller.
            return false;
        }
        // Gone only once the session has ended: nothing is left to write.
        let Some(stream) = self.stream.upgrade() else {
            return false;
        };
        // An error: the poller's own write sees it and ends the connection.
        match self.tls.as_ref().map(Weak::upgrade) {
            None => session.write_to(Sock(&stream)).is_err(),
            Some(Some(tls)) => session.write_to(tls.writer(&*stream)).is_err(),
            Some(None) => false,
        }
    }
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller").finish_non_exhaustive()
    }
}

impl Poller {
    /// Starts the poller thread `ws-poll-PORT`.
    pub(crate) fn start(read_size: usize, port: u16) -> io::Result<Poller> {
        let (poll, shared) = PollShared::new()?;
        let looper = Loop::new(poll, Arc::clone(&shared), read_size, EVENTS_PER_TURN);
        let thread = thread::Builder::new()
            .name(format!("ws-poll-{port}"))
            .spawn(move || looper.run())?;
        Ok(Poller {
            shards: vec![shared],
            next: 0.into(),
            thread: Mutex::new(Some(thread)),
            drivers: Vec::new(),
        })
    }

    /// Starts a poll loop inside each of `drivers`, which the server's own
    /// runtime already runs on its `workers` workers.
    pub(crate) fn start_driven(
        drivers: Vec<Arc<PollDriver>>,
        read_size: usize,
        workers: usize,
    ) -> Poller {
        let per_turn = events_per_turn(workers);
        for driver in &drivers {
            {
                let mut st = driver.state();
                if let DriverState::Waiting(poll) = std::mem::replace(&mut *st, DriverState::Gone) {
                    let shared = Arc::clone(&driver.shared);
                    *st = DriverState::Running(Box::new(Loop::new(
                        poll, shared, read_size, per_turn,
                    )));
                }
            }
            // A worker may be waiting at the gate: have it look again.
            driver.open_gate();
        }
        Poller {
            shards: drivers.iter().map(|d| Arc::clone(&d.shared)).collect(),
            next: 0.into(),
            thread: Mutex::new(None),
            drivers,
        }
    }

    /// Hands an admitted socket and its connection to the poller with the
    /// fewest connections (the first such after the last choice), where it
    /// stays: its reads wake actors on that poller's worker.
    pub(crate) fn admit(&self, stream: std::net::TcpStream, link: Arc<Link>) {
        let n = self.shards.len();
        let start = self.next.load(Relaxed);
        let pick = (0..n)
            .map(|k| (start + k) % n)
            .min_by_key(|&i| self.shards[i].conns.load(Relaxed))
            .unwrap_or(0);
        self.next.store((pick + 1) % n.max(1), Relaxed);
        let shard = &self.shards[pick];
        shard.conns.fetch_add(1, Relaxed);
        shard.push(|q| q.admitted.push((stream, link)));
    }

    /// Stops the pollers (connections still there end at once) and joins them.
    pub(crate) fn stop(&self) {
        for shard in &self.shards {
            shard.push(|q| q.stop = true);
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
        for d in &self.drivers {
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
    /// Readiness events a turn takes (`EVENTS_PER_TURN` or `_ALONE`).
    per_turn: usize,
    shared: Arc<PollShared>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    scratch: Box<[u8]>,
    msgs: Vec<ToActor>,
    again: Vec<usize>,
    round: u64,
    /// The time this turn's drives go by: read once a turn after polling,
    /// not once per drive (a clock read was ~1 % of the CPU per message).
    now: Instant,
}

impl Loop {
    fn new(poll: Poll, shared: Arc<PollShared>, read_size: usize, per_turn: usize) -> Loop {
        Loop {
            poll,
            events: Events::with_capacity(per_turn),
            per_turn,
            shared,
            slots: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            // The one read buffer of the poller, `read_buffer_size` long.
            scratch: vec![0; read_size].into_boxed_slice(),
            msgs: Vec::new(),
            again: Vec::new(),
            round: 0,
            now: Instant::now(),
        }
    }

    /// The dedicated poller thread: turns until stopped.
    fn run(mut self) {
        while self.guarded_turn(Wait::Block(None)) {}
        self.end_all();
    }

    /// [`turn`](Self::turn), never unwinding into the thread that runs it (a
    /// worker of the runtime, or the poller thread): each connection's work
    /// is caught in [`drive`](Self::drive); this catches the rest, reports
    /// it and goes on.
    fn guarded_turn(&mut self, wait: Wait) -> bool {
        match catch_unwind(AssertUnwindSafe(|| self.turn(wait))) {
            Ok(go_on) => go_on,
            Err(payload) => {
                eprintln!(
                    "ws-server: the poller panicked outside any connection: {}",
                    actor_core::panic_message(&*payload)
                );
                if self.events.capacity() == 0 {
                    self.events = Events::with_capacity(self.per_turn);
                }
                true
            }
        }
    }

    /// One turn: polls (waiting as `wait` says), drives what is ready, runs
    /// due timers. `false`: stopped.
    fn turn(&mut self, wait: Wait) -> bool {
        let now = Instant::now();
        let mut timeout = match wait {
            Wait::Block(bound) if self.again.is_empty() => {
                let next = self
                    .heap
                    .peek()
                    .map(|Reverse((t, _))| t.saturating_duration_since(now));
                match (next, bound) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            _ => Some(Duration::ZERO),
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
        self.now = Instant::now();
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
                if ev.is_read_closed() || ev.is_error() {
                    slot.read_closed = true;
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
        for (stream, link) in admitted {
            self.insert(stream, link);
        }
        let now = self.now;
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
        self.now = Instant::now();
        for idx in 0..self.slots.len() {
            if let Some(slot) = &self.slots[idx] {
                let link = Arc::clone(&slot.link);
                link.abort("server stopped");
                self.drive(idx);
                // Still there: writing its last TLS records; no waiting now.
                if let Some((link, end)) = self.slots[idx].take().and_then(Slot::give_up) {
                    self.shared.conn_ended();
                    link.finish(end.close);
                }
            }
        }
    }

    /// Takes an admitted socket into a slot and looks at it.
    fn insert(&mut self, stream: std::net::TcpStream, link: Arc<Link>) {
        let fail = |link: &Link| {
            self.shared.conn_ended();
            link.lock().abort("socket not registered");
            link.finish(None);
        };
        if stream.set_nonblocking(true).is_err() {
            return fail(&link);
        }
        let tls = match link.settings().tls.as_ref().map(TlsConn::new) {
            None => None,
            Some(Ok(tls)) => Some(Arc::new(tls)),
            Some(Err(_)) => return fail(&link),
        };
        let mut stream = TcpStream::from_std(stream);
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        if self
            .poll
            .registry()
            .register(&mut stream, Token(idx), interest)
            .is_err()
        {
            self.free.push(idx);
            return fail(&link);
        }
        let stream = Arc::new(stream);
        link.set_io(Arc::new(PollIo {
            poller: Arc::clone(&self.shared),
            token: idx,
            stream: Arc::downgrade(&stream),
            tls: tls.as_ref().map(Arc::downgrade),
        }));
        link.gauges().slot_taken();
        self.slots[idx] = Some(Slot::new(stream, link, tls));
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
        let mut due = None;
        let (scratch, msgs, now) = (&mut self.scratch, &mut self.msgs, self.now);
        let outcome = match catch_unwind(AssertUnwindSafe(|| {
            slot.drive(scratch, msgs, now, &mut due)
        })) {
            Ok(outcome) => outcome,
            Err(payload) => {
                // A bug in the bridge costs this connection only.
                self.msgs.clear();
                super::panicked(&slot.link, "the poller", &*payload);
                let end = slot.link.lock().poll_end(Instant::now());
                Outcome::End(end.unwrap_or(End {
                    how: Shutdown::Both,
                    close: None,
                }))
            }
        };
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
            Outcome::End(end) => {
                let Some(slot) = self.slots[idx].take() else {
                    return;
                };
                self.free.push(idx);
                self.shared.conn_ended();
                // Closing the socket (its last handle) takes it out of the poll set.
                let link = slot.close(end.how);
                link.gauges().slot_freed();
                link.finish(end.close);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_worker_takes_more_events_a_turn_than_workers_that_share_the_load() {
        // One worker: nothing to steal, fewer `epoll_wait` calls win.
        assert_eq!(events_per_turn(1), EVENTS_PER_TURN_ALONE);
        // Several: short turns keep a woken actor's state in its core's cache.
        for workers in [2, 3, 64] {
            assert_eq!(events_per_turn(workers), EVENTS_PER_TURN);
        }
    }
}
