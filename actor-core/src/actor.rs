//! The `Actor` trait, closure actors, the per-actor cell, and the `Context` handlers get.

use crate::blocking::BlockingPanic;
use crate::exit::{ExitReason, MonitorRef};
use crate::link::Relations;
use crate::mailbox::Mailbox;
use crate::message::Message;
use crate::pid::Pid;
use crate::runtime::{Error, Handle, SendError, SpawnOptions};
use crate::timer::TimerRef;
use std::any::Any;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// An actor: state plus a handler that runs one message at a time with `&mut self`.
///
/// The runtime guarantees the methods of one actor never run concurrently.
/// A panic in any of them is caught; the actor then exits with
/// [`ExitReason::Panic`] carrying the panic message.
pub trait Actor: Send + 'static {
    /// Runs once, on a worker, before the first message.
    fn started(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }

    /// Handles one message.
    fn handle(&mut self, ctx: &mut Context<'_>, msg: Message);

    /// Runs once when the actor exits, whatever the reason (including a
    /// panic, a kill and runtime shutdown), before links and monitors are told.
    fn stopped(&mut self, ctx: &mut Context<'_>, reason: &ExitReason) {
        let _ = (ctx, reason);
    }
}

/// A closure as an actor: `f(ctx, msg)` runs for each message. Made by
/// [`from_fn`]; [`Handle::spawn_fn`] spawns one directly.
pub struct FnActor<F>(F);

impl<F> fmt::Debug for FnActor<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnActor")
    }
}

/// Turns a closure into an [`Actor`] (for example to return one from a
/// [`ChildSpec`](crate::ChildSpec) factory).
pub fn from_fn<F>(f: F) -> FnActor<F>
where
    F: FnMut(&mut Context<'_>, Message) + Send + 'static,
{
    FnActor(f)
}

impl<F> Actor for FnActor<F>
where
    F: FnMut(&mut Context<'_>, Message) + Send + 'static,
{
    fn handle(&mut self, ctx: &mut Context<'_>, msg: Message) {
        (self.0)(ctx, msg);
    }
}

/// Per-actor flags the running handler may change through its [`Context`].
#[derive(Debug, Default)]
pub(crate) struct Flags {
    pub(crate) started: bool,
    pub(crate) trap_exit: bool,
    pub(crate) stop: Option<ExitReason>,
    pub(crate) receive_timeout: Option<Duration>,
    pub(crate) last_activity: Option<Instant>,
    pub(crate) timeout_armed: bool,
}

/// The actor's own state, touched only by the worker running it.
pub(crate) struct Local {
    pub(crate) actor: Box<dyn Actor>,
    pub(crate) flags: Flags,
}

impl fmt::Debug for Local {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Local").field("flags", &self.flags).finish()
    }
}

/// One actor: its pid, mailbox (with the scheduling state and, while the
/// actor is not running, its own state) and relations.
#[derive(Debug)]
pub(crate) struct Cell {
    pub(crate) pid: Pid,
    pub(crate) mailbox: Mailbox<Local>,
    pub(crate) relations: Mutex<Relations>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// What a handler can do besides mutate its own state: know itself, send,
/// link, monitor, trap exits, set timers, stop.
pub struct Context<'a> {
    pub(crate) handle: &'a Handle,
    pub(crate) pid: Pid,
    pub(crate) flags: &'a mut Flags,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").field("pid", &self.pid).finish()
    }
}

impl Context<'_> {
    /// The same context for a shorter borrow, to hand to code that takes a
    /// `Context` by value (a protocol layer's own context wrapping it).
    pub fn reborrow(&mut self) -> Context<'_> {
        Context {
            handle: self.handle,
            pid: self.pid,
            flags: &mut *self.flags,
        }
    }

    /// This actor's pid.
    #[must_use]
    pub fn self_pid(&self) -> Pid {
        self.pid
    }

    /// The runtime handle (clone it to keep it).
    #[must_use]
    pub fn handle(&self) -> &Handle {
        self.handle
    }

    /// Sends a user message (see [`Handle::send`]).
    pub fn send<T: Any + Send>(&self, pid: Pid, tag: u64, payload: T) -> Result<(), SendError> {
        self.handle.send(pid, tag, payload)
    }

    /// Sends `payload` with the user tag [`tag::TELL`](crate::tag::TELL) (see [`Handle::tell`]).
    pub fn tell<T: Any + Send>(&self, pid: Pid, payload: T) -> Result<(), SendError> {
        self.handle.tell(pid, payload)
    }

    /// Stops this actor with `reason` once the current callback returns.
    ///
    /// Links and monitors see `reason` exactly as they would see a caught
    /// panic's [`ExitReason::Panic`]. The first reason requested wins.
    pub fn stop(&mut self, reason: ExitReason) {
        if self.flags.stop.is_none() {
            self.flags.stop = Some(reason);
        }
    }

    /// Turns incoming exit signals into [`Exit`](crate::Exit) messages (tag
    /// [`tag::EXIT`](crate::tag::EXIT)) instead of exiting. A kill is never trapped.
    pub fn trap_exit(&mut self, on: bool) {
        self.flags.trap_exit = on;
    }

    /// Does this actor trap exits?
    #[must_use]
    pub fn is_trapping_exits(&self) -> bool {
        self.flags.trap_exit
    }

    /// Links this actor and `pid` both ways. If `pid` is already gone, this
    /// actor receives an exit signal from it with [`ExitReason::NoProc`].
    pub fn link(&mut self, pid: Pid) {
        self.handle.shared.link(self.pid, pid);
    }

    /// Removes the link with `pid` (both ways); no exit signal from it arrives afterwards.
    pub fn unlink(&mut self, pid: Pid) {
        self.handle.shared.unlink(self.pid, pid);
    }

    /// Monitors `pid`: when it exits this actor gets a [`Down`](crate::Down)
    /// message (tag [`tag::DOWN`](crate::tag::DOWN)); at once, with
    /// [`ExitReason::NoProc`], if it is already gone.
    pub fn monitor(&mut self, pid: Pid) -> MonitorRef {
        self.handle.shared.monitor(self.pid, pid)
    }

    /// Removes a monitor; its `Down` is never delivered afterwards. Returns
    /// whether the monitor was still active.
    pub fn demonitor(&mut self, monitor: MonitorRef) -> bool {
        self.handle.shared.demonitor(self.pid, monitor)
    }

    /// Sends an exit signal from this actor to `pid` (see [`Handle::exit`]).
    pub fn exit(&self, pid: Pid, reason: ExitReason) -> bool {
        self.handle.shared.exit_from(self.pid, pid, reason)
    }

    /// Spawns an actor linked to this one.
    pub fn spawn_link<A: Actor>(&mut self, actor: A) -> Pid {
        self.handle
            .spawn_opts(actor, SpawnOptions::new().link(self.pid))
            .0
    }

    /// Spawns an actor monitored by this one.
    pub fn spawn_monitor<A: Actor>(&mut self, actor: A) -> (Pid, MonitorRef) {
        let (pid, m) = self
            .handle
            .spawn_opts(actor, SpawnOptions::new().monitor(self.pid));
        (pid, m.unwrap_or(MonitorRef(0)))
    }

    /// Delivers `payload` with `tag` to `pid` after `delay` (see [`Handle::send_after`]).
    pub fn send_after<T: Any + Send>(
        &self,
        pid: Pid,
        delay: Duration,
        tag: u64,
        payload: T,
    ) -> Result<TimerRef, SendError> {
        self.handle.send_after(pid, delay, tag, payload)
    }

    /// Cancels a timer; `true` if it had not fired yet.
    pub fn cancel_timer(&self, timer: TimerRef) -> bool {
        self.handle.cancel_timer(timer)
    }

    /// With `Some(d)`: whenever this actor has had no message for `d`, it gets
    /// a [`Timeout`](crate::Timeout) message (tag [`tag::TIMEOUT`](crate::tag::TIMEOUT)).
    /// The clock restarts with every message. `None` turns it off.
    pub fn set_receive_timeout(&mut self, timeout: Option<Duration>) {
        self.flags.receive_timeout = timeout;
        self.flags.last_activity = timeout.map(|_| Instant::now());
    }

    /// Runs `f` on the blocking pool, off the workers, and sends its result
    /// to this actor as a `Result<T, BlockingPanic>` with `tag`.
    pub fn spawn_blocking<T, F>(&self, tag: u64, f: F) -> Result<(), Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.handle.spawn_blocking(self.pid, tag, f)
    }
}

/// Result type of [`Context::spawn_blocking`] payloads, re-exported for convenience.
pub type BlockingResult<T> = Result<T, BlockingPanic>;
