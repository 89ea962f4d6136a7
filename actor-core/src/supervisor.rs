//! Supervisors: one_for_one, one_for_all, rest_for_one; permanent, transient and temporary
//! children; restart intensity; ordered shutdown with a per-child timeout.
//!
//! A supervisor is an ordinary actor that traps exits and is linked to each
//! child. It never blocks its worker: stopping a child is "send `Shutdown`,
//! arm a timer, wait for the child's exit message, kill it if the timer wins".

use crate::actor::{Actor, Context};
use crate::exit::{Exit, ExitReason};
use crate::message::Message;
use crate::pid::Pid;
use crate::runtime::SpawnOptions;
use crate::tag;
use crate::timer::{Pending, TimerRef};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// Which children are restarted when one exits and must be restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Only the child that exited.
    OneForOne,
    /// All children: the others are stopped (reverse start order), then all restart in order.
    OneForAll,
    /// The child and every child started after it.
    RestForOne,
}

/// When a child is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only after an abnormal exit (not `Normal`, not `Shutdown`).
    Transient,
    /// Never; once it exits it is gone from the supervisor.
    Temporary,
}

type Factory = Box<dyn FnMut() -> Box<dyn Actor> + Send>;

/// How to start one child, and how to treat it.
pub struct ChildSpec {
    id: String,
    factory: Factory,
    restart: Restart,
    shutdown: Duration,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

impl ChildSpec {
    /// A permanent child built by `factory` (called again for each restart),
    /// given 5 s to stop before it is killed.
    pub fn new<A, F>(id: impl Into<String>, mut factory: F) -> ChildSpec
    where
        A: Actor,
        F: FnMut() -> A + Send + 'static,
    {
        ChildSpec {
            id: id.into(),
            factory: Box::new(move || Box::new(factory()) as Box<dyn Actor>),
            restart: Restart::Permanent,
            shutdown: Duration::from_secs(5),
        }
    }

    /// Sets the restart type.
    #[must_use]
    pub fn restart(mut self, restart: Restart) -> ChildSpec {
        self.restart = restart;
        self
    }

    /// Sets how long the child gets to stop after `Shutdown` before it is killed.
    #[must_use]
    pub fn shutdown(mut self, timeout: Duration) -> ChildSpec {
        self.shutdown = timeout;
        self
    }

    /// The child's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Ask a supervisor for its children: send this with any user tag; it replies
/// to `reply_to` with tag `tag` and a `Vec<(String, Option<Pid>)>` in start order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WhichChildren {
    /// Who gets the answer.
    pub reply_to: Pid,
    /// The answer's tag.
    pub tag: u64,
}

struct Child {
    spec: ChildSpec,
    pid: Option<Pid>,
    /// A temporary child that exited is never started again.
    retired: bool,
}

enum After {
    Restart(Vec<usize>),
    Stop(ExitReason),
}

enum Phase {
    Running,
    Terminating {
        /// Children still to stop; popped from the end (reverse start order).
        queue: Vec<usize>,
        current: Option<(usize, Pid, TimerRef)>,
        then: After,
    },
}

/// A supervisor actor. Spawn it like any actor; it starts its children in
/// order in `started`.
pub struct Supervisor {
    strategy: Strategy,
    max_restarts: usize,
    period: Duration,
    children: Vec<Child>,
    restarts: VecDeque<Instant>,
    phase: Phase,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("strategy", &self.strategy)
            .field("children", &self.children.len())
            .finish_non_exhaustive()
    }
}

/// The exit reason of a supervisor that hit its restart intensity.
pub const INTENSITY_REACHED: &str = "supervisor: restart intensity reached";

impl Supervisor {
    /// A supervisor with `strategy`, allowing 3 restarts in 5 seconds.
    #[must_use]
    pub fn new(strategy: Strategy) -> Supervisor {
        Supervisor {
            strategy,
            max_restarts: 3,
            period: Duration::from_secs(5),
            children: Vec::new(),
            restarts: VecDeque::new(),
            phase: Phase::Running,
        }
    }

    /// At most `max_restarts` restarts within `period`; one more and the
    /// supervisor stops its children and exits with
    /// `ExitReason::Custom(INTENSITY_REACHED)`.
    #[must_use]
    pub fn intensity(mut self, max_restarts: usize, period: Duration) -> Supervisor {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Adds a child (started in the order added).
    #[must_use]
    pub fn child(mut self, spec: ChildSpec) -> Supervisor {
        self.children.push(Child {
            spec,
            pid: None,
            retired: false,
        });
        self
    }

    fn start_child(&mut self, ctx: &mut Context<'_>, i: usize) {
        let me = ctx.self_pid();
        let c = &mut self.children[i];
        if c.retired || c.pid.is_some() {
            return;
        }
        let actor = (c.spec.factory)();
        let (pid, _) = ctx
            .handle()
            .shared
            .spawn(actor, SpawnOptions::new().link(me));
        c.pid = Some(pid);
    }

    fn child_of(&self, pid: Pid) -> Option<usize> {
        self.children.iter().position(|c| c.pid == Some(pid))
    }

    /// Records a restart; `false` if that exceeds the intensity.
    fn note_restart(&mut self) -> bool {
        let now = Instant::now();
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.period)
        {
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        self.restarts.len() <= self.max_restarts
    }

    fn terminate(&mut self, ctx: &mut Context<'_>, from: usize, then: After) {
        let queue = (from..self.children.len()).collect();
        self.phase = Phase::Terminating {
            queue,
            current: None,
            then,
        };
        self.advance(ctx);
    }

    fn advance(&mut self, ctx: &mut Context<'_>) {
        loop {
            let Phase::Terminating { queue, current, .. } = &mut self.phase else {
                return;
            };
            if current.is_some() {
                return;
            }
            if let Some(i) = queue.pop() {
                if let Some(pid) = self.children[i].pid {
                    ctx.exit(pid, ExitReason::Shutdown);
                    let deadline = Instant::now() + self.children[i].spec.shutdown;
                    let msg = Message::new(tag::SUPERVISOR, (i, pid));
                    let t = ctx.handle().shared.timer.add(
                        deadline,
                        Pending::Send {
                            pid: ctx.self_pid(),
                            msg,
                        },
                    );
                    *current = Some((i, pid, t));
                    return;
                }
                continue;
            }
            let old = std::mem::replace(&mut self.phase, Phase::Running);
            if let Phase::Terminating { then, .. } = old {
                match then {
                    After::Restart(list) => {
                        for i in list {
                            self.start_child(ctx, i);
                        }
                    }
                    After::Stop(r) => ctx.stop(r),
                }
            }
            return;
        }
    }

    fn should_restart(restart: Restart, reason: &ExitReason) -> bool {
        match restart {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_clean(),
            Restart::Temporary => false,
        }
    }

    fn child_exited(&mut self, ctx: &mut Context<'_>, i: usize, reason: &ExitReason) {
        self.children[i].pid = None;
        let restart = self.children[i].spec.restart;
        if restart == Restart::Temporary {
            self.children[i].retired = true;
        }
        if let Phase::Terminating { current, then, .. } = &mut self.phase {
            if current.is_some_and(|(c, _, _)| c == i) {
                if let Some((_, _, t)) = current.take() {
                    ctx.cancel_timer(t);
                }
                self.advance(ctx);
            } else if let After::Restart(list) = then {
                // A child outside the current restart set died meanwhile.
                if Self::should_restart(restart, reason) && !list.contains(&i) {
                    list.push(i);
                }
            }
            return;
        }
        if !Self::should_restart(restart, reason) {
            return;
        }
        if !self.note_restart() {
            let reason = ExitReason::Custom(INTENSITY_REACHED.to_owned());
            self.terminate(ctx, 0, After::Stop(reason));
            return;
        }
        match self.strategy {
            Strategy::OneForOne => self.start_child(ctx, i),
            Strategy::OneForAll => {
                let all = (0..self.children.len()).collect();
                self.terminate(ctx, 0, After::Restart(all));
            }
            Strategy::RestForOne => {
                let rest = (i..self.children.len()).collect();
                self.terminate(ctx, i, After::Restart(rest));
            }
        }
    }
}

impl Actor for Supervisor {
    fn started(&mut self, ctx: &mut Context<'_>) {
        ctx.trap_exit(true);
        for i in 0..self.children.len() {
            self.start_child(ctx, i);
        }
    }

    fn handle(&mut self, ctx: &mut Context<'_>, msg: Message) {
        match msg.tag() {
            tag::EXIT => {
                let Ok(Exit { from, reason }) = msg.downcast::<Exit>() else {
                    return;
                };
                if let Some(i) = self.child_of(from) {
                    self.child_exited(ctx, i, &reason);
                } else if !reason.is_normal() {
                    // Our parent (or someone with the right) asks us to stop:
                    // stop the children in reverse order, then exit the same way.
                    match &mut self.phase {
                        Phase::Running => self.terminate(ctx, 0, After::Stop(reason)),
                        Phase::Terminating { queue, then, .. } => {
                            *queue = (0..self.children.len()).collect();
                            *then = After::Stop(reason);
                            self.advance(ctx);
                        }
                    }
                }
            }
            tag::SUPERVISOR => {
                if let Ok((i, pid)) = msg.downcast::<(usize, Pid)>() {
                    if let Phase::Terminating {
                        current: Some((c, p, _)),
                        ..
                    } = &self.phase
                    {
                        if *c == i && *p == pid {
                            ctx.handle().kill(pid);
                        }
                    }
                }
            }
            _ => {
                if let Some(w) = msg.downcast_ref::<WhichChildren>() {
                    let list: Vec<(String, Option<Pid>)> = self
                        .children
                        .iter()
                        .filter(|c| !c.retired)
                        .map(|c| (c.spec.id.clone(), c.pid))
                        .collect();
                    let _ = ctx.send(w.reply_to, w.tag, list);
                }
            }
        }
    }
}
