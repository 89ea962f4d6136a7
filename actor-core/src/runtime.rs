//! The runtime: builder, owner (`Runtime`), cloneable `Handle`, and the shared state behind them.

use crate::actor::{from_fn, lock, Actor, Cell, Flags, Local};
use crate::blocking::{Blocking, BlockingPanic};
use crate::exit::{panic_message, Down, ExitReason, MonitorRef};
use crate::idle::Idle;
use crate::link::Relations;
use crate::mailbox::{Mailbox, Signal};
use crate::message::Message;
use crate::metrics::{Counters, RuntimeMetrics};
use crate::pid::Pid;
use crate::registry::{Claim, Registry};
use crate::slot::Slots;
use crate::tag::{self, ProtocolTag};
use crate::timer::{Pending, Timer, TimerRef};
use crate::worker;
use crossbeam_deque::{Injector, Stealer, Worker};
use crossbeam_utils::sync::{Parker, Unparker};
use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A busy worker polls the driver every this many turns (tokio's 61).
const DRIVER_INTERVAL: u32 = 61;

/// How long dropping a [`Runtime`] waits for actors to stop.
pub const DROP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The runtime's error type: one variant per violated rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `Builder::workers(0)`: a runtime needs at least one worker.
    ZeroWorkers,
    /// `Builder::blocking_threads(0)`: the blocking pool needs at least one thread.
    ZeroBlockingThreads,
    /// The OS refused to start a thread.
    ThreadSpawn(std::io::ErrorKind),
    /// No live actor has this pid.
    NoProc(Pid),
    /// The name is already registered to a live actor.
    NameTaken(String),
    /// The tag is reserved (see [`tag`](crate::tag)); user code may not send it.
    ReservedTag(u64),
    /// The runtime is shutting down or has shut down.
    ShutDown,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroWorkers => f.write_str("a runtime needs at least one worker"),
            Error::ZeroBlockingThreads => {
                f.write_str("the blocking pool needs at least one thread")
            }
            Error::ThreadSpawn(k) => write!(f, "could not start a thread: {k}"),
            Error::NoProc(p) => write!(f, "no actor {p}"),
            Error::NameTaken(n) => write!(f, "name {n:?} is already registered"),
            Error::ReservedTag(t) => write!(f, "tag {t:#x} is reserved"),
            Error::ShutDown => f.write_str("the runtime is shut down"),
        }
    }
}

impl std::error::Error for Error {}

/// A refused send; holds the message so nothing is lost.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// The target has exited (or never existed): a stale pid never reaches a successor.
    NoProc(Message),
    /// The tag is reserved (see [`tag`](crate::tag)).
    ReservedTag(Message),
}

impl SendError {
    /// The message that was not delivered.
    #[must_use]
    pub fn into_message(self) -> Message {
        match self {
            SendError::NoProc(m) | SendError::ReservedTag(m) => m,
        }
    }

    /// Borrows the message that was not delivered.
    #[must_use]
    pub fn message(&self) -> &Message {
        match self {
            SendError::NoProc(m) | SendError::ReservedTag(m) => m,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NoProc(m) => write!(f, "no such actor (message tag {})", m.tag()),
            SendError::ReservedTag(m) => write!(f, "tag {:#x} is reserved", m.tag()),
        }
    }
}

impl std::error::Error for SendError {}

/// Options for [`Handle::spawn_opts`]: link, monitor, trap exits from the first message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpawnOptions {
    link: Option<Pid>,
    monitor: Option<Pid>,
    trap_exit: bool,
}

impl SpawnOptions {
    /// No link, no monitor, exits not trapped.
    #[must_use]
    pub fn new() -> SpawnOptions {
        SpawnOptions::default()
    }

    /// Link the new actor to `pid` before it runs.
    #[must_use]
    pub fn link(mut self, pid: Pid) -> SpawnOptions {
        self.link = Some(pid);
        self
    }

    /// Have `pid` monitor the new actor before it runs.
    #[must_use]
    pub fn monitor(mut self, pid: Pid) -> SpawnOptions {
        self.monitor = Some(pid);
        self
    }

    /// Start the new actor trapping exits.
    #[must_use]
    pub fn trap_exit(mut self, on: bool) -> SpawnOptions {
        self.trap_exit = on;
        self
    }
}

/// An I/O driver the workers poll themselves (see [`Builder::driver`] and
/// [`Builder::drivers`]).
///
/// One worker at a time holds it. A holder with nothing to run blocks in
/// [`park`](Driver::park) instead of sleeping, and every few turns a busy
/// worker that can take it calls [`poll_now`](Driver::poll_now). Messages the
/// driver sends from inside either call land on the calling worker's own queue
/// and run right after it returns, with no cross-thread wake-up.
pub trait Driver: Send + Sync + 'static {
    /// Waits for I/O (or [`unpark`](Driver::unpark), or at most `timeout`
    /// when given) and handles it. May return early or spuriously; must
    /// return soon after `unpark`, including an `unpark` that came before
    /// the call.
    fn park(&self, timeout: Option<Duration>);
    /// Handles whatever I/O is ready, without blocking.
    fn poll_now(&self);
    /// Makes a current or the next `park` return (from any thread).
    fn unpark(&self);
    /// The end of a turn: called on the worker right after each actor's batch of
    /// messages, so what the batch queued (writes held back to be coalesced) goes
    /// out before the worker runs anything else, polls or parks. Default: nothing.
    fn flush(&self) {}
}

#[derive(Clone, Default)]
struct DriverSlot(Vec<Arc<dyn Driver>>);

impl fmt::Debug for DriverSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} driver(s)", self.0.len())
    }
}

/// Configures and starts a [`Runtime`].
#[derive(Clone, Debug)]
pub struct Builder {
    workers: usize,
    name: String,
    budget: usize,
    injector_interval: u32,
    blocking_threads: usize,
    driver: DriverSlot,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            name: String::from("actor"),
            budget: 64,
            injector_interval: 31,
            blocking_threads: 64,
            driver: DriverSlot::default(),
        }
    }
}

impl Builder {
    /// Number of worker threads (default: available cores).
    #[must_use]
    pub fn workers(mut self, n: usize) -> Builder {
        self.workers = n;
        self
    }

    /// Thread name prefix: workers are `NAME-0`, `NAME-1` …, plus `NAME-timer`
    /// and `NAME-blocking` (default `actor`).
    #[must_use]
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.name = name.into();
        self
    }

    /// Messages an actor handles per turn before yielding its worker (default 64, at least 1).
    #[must_use]
    pub fn budget(mut self, n: usize) -> Builder {
        self.budget = n.max(1);
        self
    }

    /// Maximum threads in the blocking pool (default 64).
    #[must_use]
    pub fn blocking_threads(mut self, n: usize) -> Builder {
        self.blocking_threads = n;
        self
    }

    /// Lets the workers run `driver` themselves when they have nothing else
    /// to do (see [`Driver`]), so I/O it handles wakes actors on the same
    /// worker. Default: none, workers just sleep.
    #[must_use]
    pub fn driver(mut self, driver: Arc<dyn Driver>) -> Builder {
        self.driver = DriverSlot(vec![driver]);
        self
    }

    /// Several drivers (a poller per worker, say): worker `i` holds
    /// `drivers[i % len]` whenever it can, so what that driver reads runs
    /// there. With more than one, an idle worker wakes every 50 ms (and a
    /// busy one looks as often) to poll any driver that
    /// made no turn meanwhile and that nobody holds (its worker is stuck in
    /// a long handler), so no driver's I/O waits for a blocked worker.
    /// Default: none, workers just sleep.
    #[must_use]
    pub fn drivers(mut self, drivers: Vec<Arc<dyn Driver>>) -> Builder {
        self.driver = DriverSlot(drivers);
        self
    }

    /// Starts the workers and the timer thread.
    pub fn build(self) -> Result<Runtime, Error> {
        if self.workers == 0 {
            return Err(Error::ZeroWorkers);
        }
        if self.blocking_threads == 0 {
            return Err(Error::ZeroBlockingThreads);
        }
        let queues: Vec<Worker<Arc<Cell>>> =
            (0..self.workers).map(|_| Worker::new_fifo()).collect();
        let parkers: Vec<Parker> = (0..self.workers).map(|_| Parker::new()).collect();
        let shared = Arc::new(Shared {
            id: NEXT_RUNTIME.fetch_add(1, Ordering::Relaxed),
            slots: Slots::new(),
            injector: Injector::new(),
            stealers: queues.iter().map(Worker::stealer).collect(),
            unparkers: parkers.iter().map(|p| p.unparker().clone()).collect(),
            idle: Idle::new(self.workers, self.driver.0.len()),
            driver_turns: self.driver.0.iter().map(|_| AtomicU64::new(0)).collect(),
            drivers: self.driver.0,
            driver_interval: DRIVER_INTERVAL,
            stop: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            live_lock: Mutex::new(()),
            live_cv: Condvar::new(),
            next_ref: AtomicU64::new(1),
            timer: Timer::new(),
            registry: Registry::default(),
            blocking: Blocking::new(self.blocking_threads, format!("{}-blocking", self.name)),
            budget: self.budget,
            injector_interval: self.injector_interval,
            counters: Counters::new(self.workers),
        });
        let mut rt = Runtime {
            handle: Handle {
                shared: Arc::clone(&shared),
            },
            threads: Vec::new(),
            done: false,
        };
        for (i, (queue, parker)) in queues.into_iter().zip(parkers).enumerate() {
            let s = Arc::clone(&shared);
            let t = std::thread::Builder::new()
                .name(format!("{}-{i}", self.name))
                .spawn(move || worker::run(s, i, queue, parker))
                .map_err(|e| Error::ThreadSpawn(e.kind()))?;
            rt.threads.push(t);
        }
        let s = Arc::clone(&shared);
        let t = std::thread::Builder::new()
            .name(format!("{}-timer", self.name))
            .spawn(move || Timer::run(&s))
            .map_err(|e| Error::ThreadSpawn(e.kind()))?;
        rt.threads.push(t);
        Ok(rt)
    }
}

static NEXT_RUNTIME: AtomicU64 = AtomicU64::new(1);

/// Owns the worker, timer and blocking threads. Dropping it shuts down (see [`Runtime::shutdown`]).
#[derive(Debug)]
pub struct Runtime {
    handle: Handle,
    threads: Vec<JoinHandle<()>>,
    done: bool,
}

impl Runtime {
    /// A builder with defaults (one worker per core).
    #[must_use]
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A runtime with default settings.
    pub fn new() -> Result<Runtime, Error> {
        Builder::default().build()
    }

    /// A handle for spawning and sending from any thread.
    #[must_use]
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Stops every actor with [`ExitReason::Shutdown`] (their `stopped` hooks
    /// run), waits up to `timeout` for them, then joins every thread.
    ///
    /// Returns `true` if every actor stopped within `timeout`. Actors still
    /// alive then (a handler that does not return cannot be pre-empted; its
    /// worker is joined once it does) are dropped without their hook.
    pub fn shutdown(mut self, timeout: Duration) -> bool {
        self.shutdown_inner(timeout)
    }

    fn shutdown_inner(&mut self, timeout: Duration) -> bool {
        if self.done {
            return true;
        }
        self.done = true;
        let shared = &self.handle.shared;
        shared.closing.store(true, Ordering::SeqCst);
        for cell in shared.slots.cells() {
            shared.signal_cell(cell, Signal::Shutdown);
        }
        let deadline = Instant::now() + timeout;
        let all_stopped = {
            let mut g = lock(&shared.live_lock);
            loop {
                if shared.live.load(Ordering::SeqCst) == 0 {
                    break true;
                }
                let now = Instant::now();
                if now >= deadline {
                    break false;
                }
                g = match shared.live_cv.wait_timeout(g, deadline - now) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
            }
        };
        shared.stop.store(true, Ordering::SeqCst);
        for u in &shared.unparkers {
            u.unpark();
        }
        for d in &shared.drivers {
            d.unpark();
        }
        shared.timer.stop();
        let me = std::thread::current().id();
        for t in self.threads.drain(..) {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
        shared.blocking.stop_and_join();
        // Whatever is left (stuck past the timeout, or queued) is dropped here,
        // which also breaks Handle cycles held inside actor state.
        for cell in shared.slots.drain() {
            drop(cell.mailbox.take_parked());
        }
        while !shared.injector.steal().is_empty() {}
        shared.registry.clear();
        all_stopped
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown_inner(DROP_SHUTDOWN_TIMEOUT);
    }
}

/// A cloneable, thread-safe handle to a runtime: spawn, send, link, time, register.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("runtime", &self.shared.id)
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// Spawns an actor. After shutdown has begun the actor is dropped and
    /// [`Pid::NONE`] is returned (sends to it fail).
    pub fn spawn<A: Actor>(&self, actor: A) -> Pid {
        self.shared
            .spawn(Box::new(actor), SpawnOptions::default())
            .0
    }

    /// Spawns a closure actor: `f(ctx, msg)` runs for each message.
    pub fn spawn_fn<F>(&self, f: F) -> Pid
    where
        F: FnMut(&mut crate::Context<'_>, Message) + Send + 'static,
    {
        self.spawn(from_fn(f))
    }

    /// Spawns with options; returns the pid and, if asked, the monitor ref.
    pub fn spawn_opts<A: Actor>(&self, actor: A, opts: SpawnOptions) -> (Pid, Option<MonitorRef>) {
        self.shared.spawn(Box::new(actor), opts)
    }

    /// Spawns with options and returns the new actor's [`Port`]: the only way
    /// to deliver [`ProtocolTag`] messages to it (see [`Port`]), plus the
    /// monitor ref if asked. After shutdown has begun the port's pid is
    /// [`Pid::NONE`] and its sends fail like sends to an exited actor.
    pub fn spawn_with_port<A: Actor>(
        &self,
        actor: A,
        opts: SpawnOptions,
    ) -> (Port, Option<MonitorRef>) {
        let (pid, monitor) = self.shared.spawn(Box::new(actor), opts);
        let cell = self.shared.slots.get(pid);
        let port = Port {
            shared: Arc::clone(&self.shared),
            pid,
            cell: cell.as_ref().map_or_else(Weak::new, Arc::downgrade),
        };
        (port, monitor)
    }

    /// Spawns an actor linked to `to` (usually the calling actor).
    pub fn spawn_link<A: Actor>(&self, to: Pid, actor: A) -> Pid {
        self.spawn_opts(actor, SpawnOptions::new().link(to)).0
    }

    /// Sends a user message. Refused, with the message handed back, if the tag
    /// is reserved or the actor has exited.
    pub fn send<T: Any + Send>(&self, pid: Pid, tag: u64, payload: T) -> Result<(), SendError> {
        let msg = Message::new(tag, payload);
        if tag::is_reserved(tag) {
            return Err(SendError::ReservedTag(msg));
        }
        self.shared.send_msg(pid, msg)
    }

    /// Sends an already built message (same rules as [`send`](Handle::send)).
    pub fn send_message(&self, pid: Pid, msg: Message) -> Result<(), SendError> {
        if tag::is_reserved(msg.tag()) {
            return Err(SendError::ReservedTag(msg));
        }
        self.shared.send_msg(pid, msg)
    }

    /// Sends `payload` with the user tag [`tag::TELL`]: for receivers that
    /// dispatch on the payload's type ([`Message::downcast`] / [`Message::is`])
    /// rather than on a hand-picked tag. Refused, with the message handed
    /// back, if the actor has exited.
    pub fn tell<T: Any + Send>(&self, pid: Pid, payload: T) -> Result<(), SendError> {
        self.shared.send_msg(pid, Message::new(tag::TELL, payload))
    }

    /// Sends an exit signal to `pid` from outside any actor (`from` is
    /// [`Pid::NONE`]). `Killed` acts as [`kill`](Handle::kill). A trapping
    /// actor gets an [`Exit`](crate::Exit) message; otherwise it exits with
    /// `reason`, except that `Normal` is ignored. Returns whether `pid` was alive.
    pub fn exit(&self, pid: Pid, reason: ExitReason) -> bool {
        self.shared.exit_from(Pid::NONE, pid, reason)
    }

    /// Kills `pid` (untrappable): it exits with [`ExitReason::Killed`] after its current message.
    pub fn kill(&self, pid: Pid) -> bool {
        self.shared.signal(pid, Signal::Kill)
    }

    /// Is `pid` a live actor?
    #[must_use]
    pub fn is_alive(&self, pid: Pid) -> bool {
        self.shared
            .slots
            .with(pid, |c| !c.mailbox.is_closed())
            .unwrap_or(false)
    }

    /// Queued user messages of `pid` (None if it is gone): lets a bridge apply
    /// backpressure. Messages its worker has already taken for the current
    /// turn (at most the budget) are no longer counted.
    #[must_use]
    pub fn mailbox_len(&self, pid: Pid) -> Option<usize> {
        self.shared.slots.with(pid, |c| c.mailbox.len())
    }

    /// Delivers `payload` with `tag` to `pid` after `delay`, from the
    /// runtime's single timer thread. If `pid` is gone by then, it is dropped.
    pub fn send_after<T: Any + Send>(
        &self,
        pid: Pid,
        delay: Duration,
        tag: u64,
        payload: T,
    ) -> Result<TimerRef, SendError> {
        let msg = Message::new(tag, payload);
        if tag::is_reserved(tag) {
            return Err(SendError::ReservedTag(msg));
        }
        Ok(self
            .shared
            .timer
            .add(Instant::now() + delay, Pending::Send { pid, msg }))
    }

    /// Cancels a timer; `true` if it had not fired yet.
    pub fn cancel_timer(&self, timer: TimerRef) -> bool {
        self.shared.timer.cancel(timer)
    }

    /// Registers `name` for `pid` until it exits or is unregistered.
    pub fn register(&self, name: impl Into<String>, pid: Pid) -> Result<(), Error> {
        self.shared.register(name.into(), pid)
    }

    /// Removes a registration; returns the pid it pointed to.
    pub fn unregister(&self, name: &str) -> Option<Pid> {
        self.shared.unregister(name)
    }

    /// The pid registered under `name`.
    #[must_use]
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.shared.registry.get(name)
    }

    /// The live actor registered under `name`, or else `make()` spawned and
    /// registered under `name` in one step: concurrent callers all get the
    /// same pid, and only the one that spawns runs `make` (once).
    ///
    /// An actor that is exiting is never returned, even if its name is still
    /// registered. While one caller runs `make`, the others wait for it (like
    /// `OnceLock::get_or_init`), [`whereis`](Handle::whereis) says `None` and
    /// [`register`](Handle::register) says [`Error::NameTaken`]; so `make`
    /// should be quick, and must not wait for a `whereis_or_spawn` of another
    /// name whose `make` waits for this one. If `make` panics, nothing is
    /// registered and the panic propagates; a waiting caller then takes over.
    /// After shutdown has begun, returns [`Pid::NONE`] (sends to it fail).
    ///
    /// # Panics
    ///
    /// If `make` itself calls `whereis_or_spawn` with the same name (it would
    /// otherwise wait for itself forever), or if `make` panics.
    pub fn whereis_or_spawn<A: Actor>(&self, name: &str, make: impl FnOnce() -> A) -> Pid {
        self.shared.whereis_or_spawn(name, || Box::new(make()))
    }

    /// Runs `f` on the blocking pool, off the workers, then sends its result as
    /// a `Result<T, BlockingPanic>` with `tag` to `reply_to`.
    pub fn spawn_blocking<T, F>(&self, reply_to: Pid, tag: u64, f: F) -> Result<(), Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        if tag::is_reserved(tag) {
            return Err(Error::ReservedTag(tag));
        }
        let h = self.clone();
        let job = Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .map_err(|p| BlockingPanic(panic_message(&*p)));
            let _ = h.send(reply_to, tag, r);
        });
        self.shared.blocking.submit(&self.shared, job)
    }

    /// Number of live actors.
    #[must_use]
    pub fn actor_count(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// Number of slots in the pid table, live or free: it grows only with the
    /// peak number of simultaneously live actors, never with spawn count.
    #[must_use]
    pub fn slot_count(&self) -> usize {
        self.shared.slots.capacity()
    }

    /// Number of worker threads.
    #[must_use]
    pub fn worker_count(&self) -> usize {
        self.shared.stealers.len()
    }

    /// A snapshot of the runtime's counters: live actors, mailbox depth (a look
    /// at every live mailbox, so it costs one lock per actor: for a scrape, not
    /// for a hot loop), steals and parks since the start.
    #[must_use]
    pub fn metrics(&self) -> RuntimeMetrics {
        let (steals, parks) = self.shared.counters.sum();
        let (mut max_mailbox_len, mut queued_messages) = (0, 0);
        for cell in self.shared.slots.cells() {
            let n = cell.mailbox.len();
            max_mailbox_len = max_mailbox_len.max(n);
            queued_messages += n;
        }
        RuntimeMetrics {
            workers: self.worker_count(),
            actors: self.actor_count(),
            max_mailbox_len,
            queued_messages,
            steals,
            parks,
        }
    }
}

/// The capability a protocol bridge holds to deliver [`ProtocolTag`]
/// messages to one actor; whoever spawned the actor (with
/// [`Handle::spawn_with_port`]) decides who else gets it.
///
/// Protocol tags are reserved, so no user send can forge them: an actor can
/// trust that such a message came through its port. Port sends are ordered
/// with the actor's other user messages and cost exactly what
/// [`Handle::send`] does (cloning a port is one reference count).
#[derive(Clone)]
pub struct Port {
    shared: Arc<Shared>,
    pid: Pid,
    /// The actor's cell, so a send skips the pid lookup (a bridge sends to
    /// many actors in turn: the per-worker pid cache misses). Weak: a port
    /// must not keep an actor's cell, and with it the actor, alive.
    cell: Weak<Cell>,
}

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Port")
            .field("runtime", &self.shared.id)
            .field("pid", &self.pid)
            .finish()
    }
}

impl Port {
    /// The actor this port delivers to.
    #[must_use]
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Delivers `payload` with protocol tag `tag` to the port's actor.
    /// Refused, with the message handed back, if the actor has exited (or was
    /// never spawned because the runtime was shutting down).
    #[inline]
    pub fn send<T: Any + Send>(&self, tag: ProtocolTag, payload: T) -> Result<(), SendError> {
        let msg = Message::new(tag.tag(), payload);
        let Some(cell) = self.cell.upgrade() else {
            return Err(SendError::NoProc(msg));
        };
        // The upgrade's strong count goes to the run queue: no second count
        // to take and the first to drop (two atomics per message). A closed
        // mailbox (the actor exited) refuses it, as the lookup would.
        let pushed = cell.mailbox.push(msg);
        self.shared.pushed(pushed.map(|wake| wake.then_some(cell)))
    }
}

/// State shared by the workers, the timer, the blocking pool and every handle.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) slots: Slots,
    pub(crate) injector: Injector<Arc<Cell>>,
    pub(crate) stealers: Vec<Stealer<Arc<Cell>>>,
    unparkers: Vec<Unparker>,
    pub(crate) idle: Idle,
    /// The I/O drivers; worker `i`'s own is `i % drivers.len()`.
    pub(crate) drivers: Vec<Arc<dyn Driver>>,
    /// Per driver: turns run, so an idle worker can tell one nobody polls.
    pub(crate) driver_turns: Box<[AtomicU64]>,
    /// A busy worker polls the driver every this many turns.
    pub(crate) driver_interval: u32,
    pub(crate) stop: AtomicBool,
    closing: AtomicBool,
    live: AtomicUsize,
    live_lock: Mutex<()>,
    live_cv: Condvar,
    next_ref: AtomicU64,
    pub(crate) timer: Timer,
    pub(crate) registry: Registry,
    pub(crate) blocking: Blocking,
    pub(crate) budget: usize,
    pub(crate) injector_interval: u32,
    /// Steals and parks, per worker.
    pub(crate) counters: Counters,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Shared {
    // ---- scheduling -------------------------------------------------------

    /// Puts a cell that just became SCHEDULED on a run queue and wakes a sleeper.
    /// Inside the driver the cell runs on this worker right after the driver
    /// returns, so the wake-up waits until then (see `worker::leave_driver`).
    pub(crate) fn schedule(&self, cell: Arc<Cell>) {
        match worker::push_local(self.id, cell) {
            worker::Pushed::Elsewhere(cell) => {
                self.injector.push(cell);
                self.wake_one();
            }
            worker::Pushed::Here { deferred: false } => self.wake_one(),
            worker::Pushed::Here { deferred: true } => {}
        }
    }

    /// Like `schedule`, for a cell a send just moved IDLE → SCHEDULED: on a
    /// worker it goes to that worker's LIFO slot and runs next, without waking
    /// anyone (no other worker could take it), or inside the driver straight
    /// onto its deque; whatever it displaces, or the cell itself when sent
    /// from outside the workers, is scheduled as usual.
    fn schedule_sent(&self, cell: Arc<Cell>) {
        if let Some(cell) = worker::put_lifo(self.id, cell) {
            self.schedule(cell);
        }
    }

    pub(crate) fn wake_one(&self) {
        match self.idle.pop_sleeper() {
            Some((_, Some(d))) => self.drivers[d].unpark(),
            Some((i, None)) => self.unparkers[i].unpark(),
            None => {}
        }
    }

    // ---- delivery ---------------------------------------------------------

    /// Delivers a user message. A worker first looks in its own pid cache (no
    /// shared lock); everything else goes through the slot table.
    #[inline]
    pub(crate) fn send_msg(&self, pid: Pid, msg: Message) -> Result<(), SendError> {
        match worker::with_cached(self.id, pid, msg, Self::push_to) {
            Ok(pushed) => self.pushed(pushed),
            Err(msg) => self.send_uncached(pid, msg),
        }
    }

    /// Queues `msg` on `cell`; `Ok(Some(cell))`: it went IDLE → SCHEDULED.
    #[inline]
    fn push_to(cell: &Arc<Cell>, msg: Message) -> Result<Option<Arc<Cell>>, Message> {
        match cell.mailbox.push(msg) {
            Ok(true) => Ok(Some(Arc::clone(cell))),
            Ok(false) => Ok(None),
            Err(m) => Err(m),
        }
    }

    #[inline]
    fn pushed(&self, pushed: Result<Option<Arc<Cell>>, Message>) -> Result<(), SendError> {
        match pushed {
            Ok(Some(cell)) => {
                self.schedule_sent(cell);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(m) => Err(SendError::NoProc(m)),
        }
    }

    fn send_uncached(&self, pid: Pid, msg: Message) -> Result<(), SendError> {
        if worker::caches_pids(self.id) {
            // A worker's miss: take the cell from the table and cache it.
            return match self.slots.get(pid) {
                Some(cell) => {
                    let r = Self::push_to(&cell, msg);
                    worker::remember(self.id, cell);
                    self.pushed(r)
                }
                None => Err(SendError::NoProc(msg)),
            };
        }
        let mut msg = Some(msg);
        let r = self.slots.with(pid, |cell| match msg.take() {
            Some(m) => Self::push_to(cell, m),
            None => Ok(None),
        });
        match (r, msg) {
            (Some(r), _) => self.pushed(r),
            (None, Some(m)) => Err(SendError::NoProc(m)),
            (None, None) => Ok(()), // unreachable: the closure only runs on a hit
        }
    }

    /// Queues a system signal for `pid`; `false` if it is gone.
    pub(crate) fn signal(&self, pid: Pid, sig: Signal) -> bool {
        match self.slots.get(pid) {
            Some(cell) => self.signal_cell(cell, sig),
            None => false,
        }
    }

    pub(crate) fn signal_cell(&self, cell: Arc<Cell>, sig: Signal) -> bool {
        match cell.mailbox.push_signal(sig) {
            Ok(true) => {
                self.schedule(cell);
                true
            }
            Ok(false) => true,
            Err(_) => false,
        }
    }

    pub(crate) fn exit_from(&self, from: Pid, pid: Pid, reason: ExitReason) -> bool {
        if reason == ExitReason::Killed {
            return self.signal(pid, Signal::Kill);
        }
        self.signal(
            pid,
            Signal::Exit {
                from,
                reason,
                linked: false,
            },
        )
    }

    fn new_ref(&self) -> MonitorRef {
        MonitorRef(self.next_ref.fetch_add(1, Ordering::Relaxed))
    }

    // ---- spawn ------------------------------------------------------------

    pub(crate) fn spawn(
        &self,
        actor: Box<dyn Actor>,
        opts: SpawnOptions,
    ) -> (Pid, Option<MonitorRef>) {
        if self.closing.load(Ordering::SeqCst) {
            return (Pid::NONE, None);
        }
        let mut relations = Relations::default();
        if let Some(p) = opts.link {
            relations.add_link(p);
        }
        let monitor = opts.monitor.map(|_| self.new_ref());
        if let (Some(m), Some(w)) = (monitor, opts.monitor) {
            relations.extra().monitored_by.push((m, w));
        }
        let flags = Flags {
            trap_exit: opts.trap_exit,
            ..Flags::default()
        };
        self.live.fetch_add(1, Ordering::SeqCst);
        let cell = self.slots.insert(|pid| {
            Arc::new(Cell {
                pid,
                mailbox: Mailbox::new_scheduled(Local { actor, flags }),
                relations: Mutex::new(relations),
            })
        });
        let pid = cell.pid;
        if let Some(parent) = opts.link {
            let ok = self
                .slots
                .get(parent)
                .map(|pc| {
                    let mut r = lock(&pc.relations);
                    if r.dead {
                        false
                    } else {
                        r.add_link(pid);
                        true
                    }
                })
                .unwrap_or(false);
            if !ok {
                let _ = cell.mailbox.push_signal(Signal::Exit {
                    from: parent,
                    reason: ExitReason::NoProc,
                    linked: true,
                });
            }
        }
        if let (Some(m), Some(w)) = (monitor, opts.monitor) {
            if let Some(wc) = self.slots.get(w) {
                let mut r = lock(&wc.relations);
                if !r.dead {
                    r.extra().monitoring.push((m, pid));
                }
            }
        }
        if self.closing.load(Ordering::SeqCst) {
            let _ = cell.mailbox.push_signal(Signal::Shutdown);
        }
        self.schedule(cell);
        (pid, monitor)
    }

    /// Called by the exiting actor's worker once it is fully gone.
    pub(crate) fn actor_gone(&self) {
        if self.live.fetch_sub(1, Ordering::SeqCst) == 1 && self.closing.load(Ordering::SeqCst) {
            let _g = lock(&self.live_lock);
            self.live_cv.notify_all();
        }
    }

    // ---- links and monitors -------------------------------------------------

    pub(crate) fn link(&self, me: Pid, other: Pid) {
        if me == other {
            return;
        }
        if let Some(mine) = self.slots.get(me) {
            lock(&mine.relations).add_link(other);
        }
        let ok = self
            .slots
            .get(other)
            .map(|oc| {
                let mut r = lock(&oc.relations);
                if r.dead {
                    false
                } else {
                    r.add_link(me);
                    true
                }
            })
            .unwrap_or(false);
        if !ok {
            self.signal(
                me,
                Signal::Exit {
                    from: other,
                    reason: ExitReason::NoProc,
                    linked: true,
                },
            );
        }
    }

    pub(crate) fn unlink(&self, me: Pid, other: Pid) {
        if let Some(mine) = self.slots.get(me) {
            lock(&mine.relations).remove_link(other);
        }
        if let Some(oc) = self.slots.get(other) {
            lock(&oc.relations).remove_link(me);
        }
    }

    pub(crate) fn monitor(&self, me: Pid, target: Pid) -> MonitorRef {
        let m = self.new_ref();
        let alive = self
            .slots
            .get(target)
            .map(|tc| {
                let mut r = lock(&tc.relations);
                if r.dead {
                    false
                } else {
                    r.extra().monitored_by.push((m, me));
                    true
                }
            })
            .unwrap_or(false);
        if let Some(mine) = self.slots.get(me) {
            lock(&mine.relations).extra().monitoring.push((m, target));
        }
        if !alive {
            self.signal(
                me,
                Signal::Down(Down {
                    pid: target,
                    reason: ExitReason::NoProc,
                    monitor: m,
                }),
            );
        }
        m
    }

    pub(crate) fn demonitor(&self, me: Pid, m: MonitorRef) -> bool {
        let target = self
            .slots
            .get(me)
            .and_then(|mine| lock(&mine.relations).take_monitoring(m));
        match target {
            Some(t) => {
                if let Some(tc) = self.slots.get(t) {
                    lock(&tc.relations).remove_monitored_by(m);
                }
                true
            }
            None => false,
        }
    }

    /// A `Down` for `me` is about to be delivered: is its monitor still active?
    pub(crate) fn consume_monitor(&self, me: &Cell, m: MonitorRef) -> bool {
        lock(&me.relations).take_monitoring(m).is_some()
    }

    // ---- registry ---------------------------------------------------------

    fn register(&self, name: String, pid: Pid) -> Result<(), Error> {
        let cell = self.slots.get(pid).ok_or(Error::NoProc(pid))?;
        let mut r = lock(&cell.relations);
        if r.dead {
            return Err(Error::NoProc(pid));
        }
        self.registry.insert(name.clone(), pid)?;
        r.extra().names.push(name);
        Ok(())
    }

    fn whereis_or_spawn(&self, name: &str, make: impl FnOnce() -> Box<dyn Actor>) -> Pid {
        let alive = |pid| {
            self.slots
                .with(pid, |c| !c.mailbox.is_closed())
                .unwrap_or(false)
        };
        if let Claim::Found(pid) = self.registry.claim(name, alive) {
            return pid;
        }
        // Settles the claim with nothing if `make` (or the spawn) unwinds.
        struct Unclaim<'a>(&'a Registry, &'a str);
        impl Drop for Unclaim<'_> {
            fn drop(&mut self) {
                self.0.settle(self.1, None);
            }
        }
        let unclaim = Unclaim(&self.registry, name);
        if self.closing.load(Ordering::SeqCst) {
            return Pid::NONE; // `unclaim` settles
        }
        let (pid, _) = self.spawn(make(), SpawnOptions::default());
        // Same lock order as `register`: the actor's relations, then the
        // registry. A name added before `dead` is cleaned up by its exit; an
        // actor already dead is not registered (its pid is still returned:
        // it was this call's, and any pid may be stale by the time it is used).
        if let Some(cell) = self.slots.get(pid) {
            let mut r = lock(&cell.relations);
            if !r.dead {
                std::mem::forget(unclaim);
                self.registry.settle(name, Some(pid));
                r.extra().names.push(name.to_owned());
            }
        }
        pid
    }

    fn unregister(&self, name: &str) -> Option<Pid> {
        let pid = self.registry.remove(name)?;
        if let Some(c) = self.slots.get(pid) {
            lock(&c.relations).remove_name(name);
        }
        Some(pid)
    }
}
