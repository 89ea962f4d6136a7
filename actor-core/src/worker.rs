//! Worker threads: own deque, then the injector (at least every N turns), then stealing, then park.
//!
//! Also runs one actor's turn: system signals first, at most `budget`
//! messages, panics caught, and the exit sequence (hook, close, relations,
//! reap, notify links and monitors).

use crate::actor::{lock, Cell, Context, Local};
use crate::exit::{panic_message, Down, Exit, ExitReason, Timeout};
use crate::mailbox::{Batch, Item, Signal};
use crate::message::Message;
use crate::pid::Pid;
use crate::runtime::{Handle, Shared};
use crate::tag;
use crate::timer::Pending;
use crossbeam_deque::{Steal, Worker};
use crossbeam_utils::sync::Parker;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct LocalQueue {
    runtime: u64,
    queue: Worker<Arc<Cell>>,
    /// The actor a handler on this worker just woke with a send: run next,
    /// before the deque, so a request/reply pair skips the deque round trip
    /// (tokio's `lifo_slot`). Never stolen; only this worker fills it, and
    /// only while it runs an actor, so it is empty whenever the worker parks.
    lifo: std::cell::Cell<Option<Arc<Cell>>>,
    /// This worker is inside the driver: what it schedules goes on its own
    /// deque, and the wake-up for it waits until the driver returns.
    in_driver: std::cell::Cell<bool>,
    /// Something was scheduled inside the driver (see `leave_driver`).
    deferred: std::cell::Cell<bool>,
}

/// Turns in a row a worker may take from its LIFO slot before the slot's
/// occupant goes to the back of the deque, so a pair of actors sending to each
/// other cannot keep the rest of the deque (and the injector) waiting.
const MAX_LIFO_STREAK: u32 = 8;

thread_local! {
    static LOCAL: RefCell<Option<LocalQueue>> = const { RefCell::new(None) };
    static PIDS: RefCell<PidCache> = const {
        RefCell::new(PidCache {
            runtime: 0,
            cells: Vec::new(),
        })
    };
}

/// Entries in a worker's pid cache (direct-mapped on the pid's slot index).
const PID_CACHE: usize = 64;

/// A worker's small cache of pid → cell, so a send from a handler usually
/// skips the slot table's shard lock. An entry is used only if the cell's pid
/// (index *and* generation) matches, so it can never reach a successor; a
/// cached cell of an exited actor has a closed mailbox, and the send fails
/// with `NoProc` exactly as a table miss would. Dead cells it still holds are
/// empty shells (their state and queues are dropped at exit), at most
/// `PID_CACHE` per worker, dropped when the worker exits.
struct PidCache {
    /// The runtime whose worker this thread is (0: not a worker, never used).
    runtime: u64,
    cells: Vec<Option<Arc<Cell>>>,
}

/// Runs `f` on the cached cell for `pid` and `msg`, if this thread is a
/// worker of `runtime` and has it cached; hands `msg` back otherwise.
#[inline]
pub(crate) fn with_cached<R>(
    runtime: u64,
    pid: Pid,
    msg: Message,
    f: impl FnOnce(&Arc<Cell>, Message) -> R,
) -> Result<R, Message> {
    PIDS.with(|c| {
        let Ok(c) = c.try_borrow() else {
            return Err(msg);
        };
        if c.runtime != runtime {
            return Err(msg);
        }
        match c.cells.get(pid.index as usize % PID_CACHE) {
            Some(Some(cell)) if cell.pid == pid => Ok(f(cell, msg)),
            _ => Err(msg),
        }
    })
}

/// Does this thread keep a pid cache for `runtime` (is it one of its workers)?
pub(crate) fn caches_pids(runtime: u64) -> bool {
    PIDS.with(|c| c.try_borrow().is_ok_and(|c| c.runtime == runtime))
}

/// Caches `cell` on this worker (evicting whatever shared its entry).
pub(crate) fn remember(runtime: u64, cell: Arc<Cell>) {
    let evicted = PIDS.with(|c| {
        let mut c = c.try_borrow_mut().ok()?;
        if c.runtime != runtime {
            return None;
        }
        let i = cell.pid.index as usize % PID_CACHE;
        c.cells.get_mut(i)?.replace(cell)
    });
    // Dropped outside the borrow: the last reference to a dead cell may go here.
    drop(evicted);
}

/// Where [`push_local`] put a cell.
pub(crate) enum Pushed {
    /// On this worker's own deque. `deferred`: the worker is inside the
    /// driver, and the wake-up for it is left to `leave_driver`.
    Here { deferred: bool },
    /// This thread is not a worker of the runtime: the cell, for the injector.
    Elsewhere(Arc<Cell>),
}

/// Pushes onto this thread's own deque if it is a worker of runtime `runtime`
/// (one look at the thread's worker state: the send path's hot spot).
pub(crate) fn push_local(runtime: u64, cell: Arc<Cell>) -> Pushed {
    LOCAL.with(|l| match l.try_borrow() {
        Ok(b) => match b.as_ref() {
            Some(q) if q.runtime == runtime => Pushed::Here {
                deferred: q.push_here(cell),
            },
            _ => Pushed::Elsewhere(cell),
        },
        Err(_) => Pushed::Elsewhere(cell),
    })
}

/// Places `cell` (just moved IDLE → SCHEDULED by a send) on this thread if it
/// is a worker of `runtime`: in its LIFO slot, or, inside the driver, on its
/// deque with the wake-up deferred (as `push_local` would). Returns what
/// still needs a run queue: the slot's previous occupant, or `cell` itself on
/// any other thread.
pub(crate) fn put_lifo(runtime: u64, cell: Arc<Cell>) -> Option<Arc<Cell>> {
    LOCAL.with(|l| match l.try_borrow() {
        Ok(b) => match b.as_ref() {
            Some(q) if q.runtime == runtime => {
                if q.in_driver.get() {
                    q.push_here(cell);
                    None
                } else {
                    q.lifo.replace(Some(cell))
                }
            }
            _ => Some(cell),
        },
        Err(_) => Some(cell),
    })
}

impl LocalQueue {
    /// Pushes onto the deque; `true` if inside the driver, where the wake-up
    /// for what was pushed waits until the driver returns (`leave_driver`).
    fn push_here(&self, cell: Arc<Cell>) -> bool {
        self.queue.push(cell);
        let deferred = self.in_driver.get();
        if deferred {
            self.deferred.set(true);
        }
        deferred
    }
}

fn enter_driver() {
    LOCAL.with(|l| {
        if let Some(q) = l.borrow().as_ref() {
            q.in_driver.set(true);
        }
    });
}

/// Out of the driver: returns whether it scheduled anything here.
fn leave_driver() -> bool {
    LOCAL.with(|l| match l.borrow().as_ref() {
        Some(q) => {
            q.in_driver.set(false);
            q.deferred.replace(false)
        }
        None => false,
    })
}

/// Runs `f` (a call into driver `d`, which this worker took) on this worker,
/// then releases the driver. If the driver scheduled actors here and more
/// than one is queued, another sleeper is woken to steal some of them.
fn in_driver(shared: &Shared, d: usize, f: impl FnOnce(&dyn crate::Driver)) {
    enter_driver();
    f(&*shared.drivers[d]);
    shared.driver_turns[d].fetch_add(1, Ordering::Relaxed);
    let deferred = leave_driver();
    shared.idle.release_driver(d);
    if deferred && local_len() > 1 {
        shared.wake_one();
    }
}

/// With a driver per worker: drivers nobody polled since this worker last
/// looked (their worker is stuck in a handler that blocks, issue 12) and
/// nobody holds get a non-blocking turn here. Looks once per
/// `DRIVER_HANDOFF`, so a driver merely busy between two of its own turns is
/// left alone; once it found one, every `ADOPTED` until that driver's own
/// worker polls it again, so its connections wait milliseconds, not 50.
struct Watch {
    seen: Vec<u64>,
    next: Instant,
    /// The last look polled a driver not its own.
    adopted: bool,
}

/// How often a worker polls a driver it found abandoned.
const ADOPTED: Duration = Duration::from_millis(2);

impl Watch {
    fn new(drivers: usize) -> Watch {
        Watch {
            seen: vec![0; drivers],
            next: Instant::now() + DRIVER_HANDOFF,
            adopted: false,
        }
    }

    /// How long this worker may block in its own driver before it looks again.
    fn timeout(&self) -> Option<Duration> {
        match self.seen.len() {
            0 | 1 => None,
            _ if self.adopted => Some(ADOPTED),
            _ => Some(DRIVER_HANDOFF),
        }
    }

    fn look(&mut self, shared: &Shared, home: usize) {
        if self.seen.len() < 2 {
            return;
        }
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.adopted = false;
        for d in 0..self.seen.len() {
            let turns = shared.driver_turns[d].load(Ordering::Relaxed);
            let stale = std::mem::replace(&mut self.seen[d], turns) == turns;
            if d != home && stale && shared.idle.try_take_driver(d) {
                in_driver(shared, d, |dr| dr.poll_now());
                // Its own turn: still stale at the next look if nobody else polls.
                self.seen[d] = shared.driver_turns[d].load(Ordering::Relaxed);
                self.adopted = true;
            }
        }
        self.next = now + self.timeout().unwrap_or(DRIVER_HANDOFF);
    }
}

fn local_len() -> usize {
    LOCAL.with(|l| l.borrow().as_ref().map_or(0, |q| q.queue.len()))
}

fn take_lifo() -> Option<Arc<Cell>> {
    LOCAL.with(|l| l.borrow().as_ref().and_then(|q| q.lifo.take()))
}

/// crossbeam-deque's `find_task`, with the injector checked first when
/// `injector_first` (every `injector_interval` turns, and after an actor used
/// its whole budget) so injected work is never starved by a busy deque.
///
/// Before stealing, a worker with a driver of its own (`home`) polls it when
/// it can take it and another worker has work to steal: what it reads there
/// runs here, next to the socket it came from, where a stolen actor would run
/// away from its poller's worker (its session, its mailbox and its socket's
/// kernel state last touched on the other core). Only when its own I/O has
/// nothing ready does it steal. With nothing to steal it goes on to park in
/// that driver, which polls it anyway.
fn find_task(
    shared: &Shared,
    index: usize,
    injector_first: bool,
    home: Option<usize>,
) -> Option<Arc<Cell>> {
    LOCAL.with(|l| {
        let b = l.borrow();
        let local = &b.as_ref()?.queue;
        if injector_first {
            if let Some(c) = steal_loop(|| shared.injector.steal_batch_and_pop(local)) {
                return Some(c);
            }
        }
        if let Some(c) = local.pop() {
            return Some(c);
        }
        if let Some(c) = steal_loop(|| shared.injector.steal_batch_and_pop(local)) {
            return Some(c);
        }
        let n = shared.stealers.len();
        let others = || (1..n).any(|k| !shared.stealers[(index + k) % n].is_empty());
        if let Some(d) = home {
            if others() && shared.idle.try_take_driver(d) {
                in_driver(shared, d, |dr| dr.poll_now());
                if let Some(c) = local.pop() {
                    return Some(c);
                }
            }
        }
        for k in 1..n {
            let s = &shared.stealers[(index + k) % n];
            if let Some(c) = steal_loop(|| s.steal_batch_and_pop(local)) {
                shared.counters.stole(index);
                return Some(c);
            }
        }
        None
    })
}

fn steal_loop(mut f: impl FnMut() -> Steal<Arc<Cell>>) -> Option<Arc<Cell>> {
    // Retry is transient contention; bounded so a hot race cannot spin forever.
    for _ in 0..64 {
        match f() {
            Steal::Success(c) => return Some(c),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
    None
}

fn has_work(shared: &Shared) -> bool {
    !shared.injector.is_empty() || shared.stealers.iter().any(|s| !s.is_empty())
}

/// Longest a worker sleeps while another holds its I/O driver, or, with a
/// driver per worker, in its own: the bound on how long a driver's I/O waits
/// when its worker left it to run a handler that blocks.
const DRIVER_HANDOFF: Duration = Duration::from_millis(50);

/// The worker thread's body.
pub(crate) fn run(shared: Arc<Shared>, index: usize, queue: Worker<Arc<Cell>>, parker: Parker) {
    LOCAL.with(|l| {
        *l.borrow_mut() = Some(LocalQueue {
            runtime: shared.id,
            queue,
            lifo: std::cell::Cell::new(None),
            in_driver: std::cell::Cell::new(false),
            deferred: std::cell::Cell::new(false),
        });
    });
    PIDS.with(|c| {
        let mut c = c.borrow_mut();
        c.runtime = shared.id;
        c.cells = (0..PID_CACHE).map(|_| None).collect();
    });
    let handle = Handle {
        shared: Arc::clone(&shared),
    };
    let mut tick: u32 = 0;
    let mut injector_due = false;
    let mut lifo_streak: u32 = 0;
    let mut batch = Batch::default();
    // This worker's own driver, and whether there are others to watch.
    let drivers = shared.drivers.len();
    let home = (drivers > 0).then(|| index % drivers);
    let mut watch = Watch::new(drivers);
    while !shared.stop.load(Ordering::Acquire) {
        tick = tick.wrapping_add(1);
        if tick % shared.injector_interval == 0 {
            injector_due = true;
        }
        if let (0, Some(d)) = (tick % shared.driver_interval, home) {
            // Busy workers still look at I/O now and then.
            if shared.idle.try_take_driver(d) {
                in_driver(&shared, d, |dr| dr.poll_now());
            }
            watch.look(&shared, d);
        }
        let lifo_first = !injector_due && lifo_streak < MAX_LIFO_STREAK;
        let lifo = if lifo_first { take_lifo() } else { None };
        let next = match lifo {
            Some(cell) => {
                lifo_streak += 1;
                Some(cell)
            }
            None => {
                lifo_streak = 0;
                // Streak over (or the injector is due): the slot's occupant
                // queues behind everything else. (Had it been looked at
                // first, it was empty.)
                if let Some(cell) = (!lifo_first).then(take_lifo).flatten() {
                    shared.schedule(cell);
                }
                let first = std::mem::take(&mut injector_due);
                find_task(&shared, index, first, home)
            }
        };
        if let Some(cell) = next {
            if run_cell(&handle, cell, &mut batch) {
                // An actor used its whole budget: look at the injector next, so
                // a flood measured in messages (not turns) cannot starve it.
                injector_due = true;
            }
            if let Some(d) = home {
                shared.drivers[d].flush();
            }
            continue;
        }
        let driver = home.filter(|&d| shared.idle.try_take_driver(d));
        shared.idle.announce_sleep(index, driver);
        if has_work(&shared) || shared.stop.load(Ordering::SeqCst) {
            shared.idle.cancel_sleep(index);
            if let Some(d) = driver {
                shared.idle.release_driver(d);
            }
            continue;
        }
        shared.counters.parked(index);
        if let Some(d) = driver {
            // Block in the driver; whoever wakes this worker unparks it.
            // With other drivers to watch, not for longer than the next look.
            let timeout = watch.timeout();
            in_driver(&shared, d, |dr| {
                dr.park(timeout);
                shared.idle.cancel_sleep(index);
            });
            watch.look(&shared, d);
        } else if let Some(d) = home {
            // Another worker holds this one's driver. If it leaves it to run
            // a handler that blocks for long, nobody would poll: waking now
            // and then to take the driver over bounds that stall (issue 12)
            // at the price of a few wake-ups a second while idle; handing it
            // on at every turn instead cost 70 % more CPU per message in a
            // one-connection echo.
            parker.park_timeout(DRIVER_HANDOFF);
            shared.idle.cancel_sleep(index);
            watch.look(&shared, d);
        } else {
            parker.park();
            shared.idle.cancel_sleep(index);
        }
    }
    // Drop queued and cached cells here, on this thread, before the deque goes away.
    LOCAL.with(|l| drop(l.borrow_mut().take()));
    let cached = PIDS.with(|c| {
        let mut c = c.borrow_mut();
        c.runtime = 0;
        std::mem::take(&mut c.cells)
    });
    drop(cached);
}

/// Calls one actor callback with panics caught; returns an exit reason if the actor must stop.
fn call(
    handle: &Handle,
    pid: crate::Pid,
    local: &mut Local,
    f: impl FnOnce(&mut dyn crate::Actor, &mut Context<'_>),
) -> Option<ExitReason> {
    let Local { actor, flags } = local;
    let mut ctx = Context { handle, pid, flags };
    match catch_unwind(AssertUnwindSafe(|| f(&mut **actor, &mut ctx))) {
        Ok(()) => ctx.flags.stop.take(),
        Err(p) => Some(ExitReason::Panic(panic_message(&*p))),
    }
}

/// Handles the user messages in `batch` (while `budget` lasts and the actor
/// does not stop) under one `catch_unwind` rather than one per message;
/// returns an exit reason if the actor must stop.
fn handle_batch(
    handle: &Handle,
    pid: crate::Pid,
    local: &mut Local,
    batch: &mut Batch,
    budget: &mut usize,
) -> Option<ExitReason> {
    let Local { actor, flags } = local;
    let mut ctx = Context { handle, pid, flags };
    let run = catch_unwind(AssertUnwindSafe(|| {
        while *budget > 0 && ctx.flags.stop.is_none() {
            let Some(m) = batch.next_user() else {
                break;
            };
            if ctx.flags.receive_timeout.is_some() {
                ctx.flags.last_activity = Some(Instant::now());
            }
            *budget -= 1;
            actor.handle(&mut ctx, m);
        }
    }));
    match run {
        Ok(()) => ctx.flags.stop.take(),
        Err(p) => Some(ExitReason::Panic(panic_message(&*p))),
    }
}

/// Runs one turn of `cell`; returns `true` if it used its whole budget and yielded.
///
/// `batch` is the worker's reusable buffer: the mailbox moves work into it in
/// one critical section (a signal alone, or up to the rest of the budget in
/// user messages), so a busy actor pays one lock per batch, not per message.
/// It is empty again when this returns.
pub(crate) fn run_cell(handle: &Handle, cell: Arc<Cell>, batch: &mut Batch) -> bool {
    let shared = &*handle.shared;
    let mut budget = shared.budget;
    // `slot` holds the actor's own state while this worker runs it; the
    // mailbox takes it back (in the same critical section) when it goes idle.
    let mut slot = cell.mailbox.start_run(batch, budget);
    let pid = cell.pid;
    let mut exit = None;
    {
        let Some(local) = slot.as_mut() else {
            batch.clear();
            return false; // exited: nothing to run
        };
        if !local.flags.started {
            local.flags.started = true;
            exit = call(handle, pid, local, |a, ctx| a.started(ctx));
        }
    }
    while exit.is_none() {
        let Some(local) = slot.as_mut() else {
            break;
        };
        // User messages, the common case: a run of them under one catch_unwind.
        if batch.has_user() {
            exit = handle_batch(handle, pid, local, batch, &mut budget);
            if budget == 0 && exit.is_none() {
                // The batch never holds more than the budget, so it is empty here.
                cell.mailbox.yield_turn(slot);
                shared.schedule(cell);
                return true;
            }
            continue;
        }
        let it = match batch.next() {
            Some(it) => it,
            None => {
                if local.flags.receive_timeout.is_some() && !local.flags.timeout_armed {
                    // Only actors with a receive timeout pay this extra look:
                    // the timer is armed outside the mailbox lock.
                    if cell.mailbox.refill(batch, budget) {
                        continue;
                    }
                    arm_receive_timeout(shared, pid, local);
                }
                if cell.mailbox.next_or_idle(&mut slot, batch, budget) {
                    continue;
                }
                // Parked and IDLE: a later send schedules it again.
                return false;
            }
        };
        match it {
            Item::Message(m) => {
                if local.flags.receive_timeout.is_some() {
                    local.flags.last_activity = Some(Instant::now());
                }
                exit = call(handle, pid, local, |a, ctx| a.handle(ctx, m));
            }
            Item::Signal(s) => exit = signal(handle, &cell, local, *s),
        }
        budget -= 1;
        if budget == 0 && exit.is_none() {
            // The batch never holds more than the budget, so it is empty here.
            cell.mailbox.yield_turn(slot);
            shared.schedule(cell);
            return true;
        }
    }
    let reason = exit.unwrap_or(ExitReason::Normal);
    if let Some(local) = slot {
        finish(handle, &cell, local, reason);
    }
    // Messages taken but not handled go the way of the queued ones, after the hook.
    batch.clear();
    false
}

fn arm_receive_timeout(shared: &Shared, pid: crate::Pid, local: &mut Local) {
    let f = &mut local.flags;
    if let (Some(d), false) = (f.receive_timeout, f.timeout_armed) {
        let since = *f.last_activity.get_or_insert_with(Instant::now);
        f.timeout_armed = true;
        let _ = shared.timer.add(since + d, Pending::ReceiveTimeout(pid));
    }
}

/// Handles one system signal; returns an exit reason if the actor must stop.
fn signal(handle: &Handle, cell: &Cell, local: &mut Local, sig: Signal) -> Option<ExitReason> {
    let pid = cell.pid;
    match sig {
        Signal::Kill => Some(ExitReason::Killed),
        Signal::Shutdown => Some(ExitReason::Shutdown),
        Signal::Exit {
            from,
            reason,
            linked,
        } => {
            if linked && !lock(&cell.relations).remove_link(from) {
                // Unlinked before the signal arrived: it no longer applies.
                return None;
            }
            if local.flags.trap_exit {
                let m = Message::new(tag::EXIT, Exit { from, reason });
                return call(handle, pid, local, |a, ctx| a.handle(ctx, m));
            }
            match reason {
                ExitReason::Normal if from == pid && !linked => Some(ExitReason::Normal),
                ExitReason::Normal => None,
                r if linked => Some(ExitReason::Linked(from, Box::new(r))),
                r => Some(r),
            }
        }
        Signal::Down(d) => {
            if !handle.shared.consume_monitor(cell, d.monitor) {
                return None; // demonitored meanwhile
            }
            let m = Message::new(tag::DOWN, d);
            call(handle, pid, local, |a, ctx| a.handle(ctx, m))
        }
        Signal::ReceiveTimeout => {
            let f = &mut local.flags;
            f.timeout_armed = false;
            let d = f.receive_timeout?;
            if cell.mailbox.has_user() {
                return None; // re-armed when the actor next goes idle
            }
            let since = *f.last_activity.get_or_insert_with(Instant::now);
            if since.elapsed() < d {
                f.timeout_armed = true;
                let _ = handle
                    .shared
                    .timer
                    .add(since + d, Pending::ReceiveTimeout(pid));
                return None;
            }
            f.last_activity = Some(Instant::now());
            let m = Message::new(tag::TIMEOUT, Timeout);
            call(handle, pid, local, |a, ctx| a.handle(ctx, m))
        }
    }
}

/// The exit sequence, run once on the actor's own worker.
fn finish(handle: &Handle, cell: &Cell, mut local: Local, reason: ExitReason) {
    let shared = &*handle.shared;
    let pid = cell.pid;
    // 1. Refuse new sends: from here on a send returns the message.
    let (pending_sys, pending_user) = cell.mailbox.close();
    // 2. The stop hook (a panic in it is caught; the reason stays).
    let _ = call(handle, pid, &mut local, |a, ctx| a.stopped(ctx, &reason));
    drop(local);
    drop(pending_user);
    // 3. Detach relations; nothing can be added after `dead`.
    let extra = lock(&cell.relations).close();
    // 4. Names go before the slot, so a successor may re-register at once.
    if let Some(e) = &extra {
        for n in &e.names {
            shared.registry.remove_if(n, pid);
        }
    }
    // 5. Reap the slot: the pid is now stale and its generation retired; the
    //    actor no longer counts as live, before anyone can be told it is gone
    //    (a monitor that got Down must never see it in `actor_count`).
    shared.slots.remove(pid);
    shared.actor_gone();
    // 6. Tell links and monitors.
    if let Some(e) = extra {
        for l in e.links {
            shared.signal(
                l,
                Signal::Exit {
                    from: pid,
                    reason: reason.clone(),
                    linked: true,
                },
            );
        }
        for (m, watcher) in e.monitored_by {
            shared.signal(
                watcher,
                Signal::Down(Down {
                    pid,
                    reason: reason.clone(),
                    monitor: m,
                }),
            );
        }
        for (m, target) in e.monitoring {
            if let Some(tc) = shared.slots.get(target) {
                lock(&tc.relations).remove_monitored_by(m);
            }
        }
    }
    // Monitors this actor held but whose Down was still queued die with it.
    drop(pending_sys);
}
