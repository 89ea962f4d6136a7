//! What a hook gets: its connection, and the powers of the actor it runs in.

use std::ops::Deref;
use std::time::Duration;

use actor_core::{ExitReason, MonitorRef, Pid};

use crate::conn::Conn;

/// The context of a hook: the connection (every [`Conn`] method, through
/// `Deref`) and the connection's actor, which can link, monitor, trap exits,
/// set a receive timeout and stop like any other actor.
///
/// What arrives because of these (an [`Exit`](actor_core::Exit) from a
/// linked actor while trapping, a [`Down`](actor_core::Down) from a monitor,
/// a [`Timeout`](actor_core::Timeout)) comes to
/// [`Handler::on_info`](crate::Handler::on_info). A linked actor that fails
/// while this one does not trap exits ends the connection with 1011, as a
/// panic does; [`stop`](Self::stop) ends it with 1001 (or 1011 for an
/// abnormal reason), and `on_close` runs in both cases.
pub struct Ctx<'a> {
    conn: &'a Conn,
    actor: actor_core::Context<'a>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("conn", self.conn).finish()
    }
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(conn: &'a Conn, actor: actor_core::Context<'a>) -> Ctx<'a> {
        Ctx { conn, actor }
    }

    /// The connection (also reachable through `Deref`); clone it to keep it.
    #[must_use]
    pub fn conn(&self) -> &Conn {
        self.conn
    }

    /// The connection actor's own context: everything an actor-core actor
    /// can do (spawn linked or monitored actors, timers, exit signals).
    pub fn actor(&mut self) -> &mut actor_core::Context<'a> {
        &mut self.actor
    }

    /// Links the connection's actor with `pid` both ways (see
    /// [`Context::link`](actor_core::Context::link)).
    pub fn link(&mut self, pid: Pid) {
        self.actor.link(pid);
    }

    /// Monitors `pid`: its end comes to `on_info` as a [`Down`](actor_core::Down).
    pub fn monitor(&mut self, pid: Pid) -> MonitorRef {
        self.actor.monitor(pid)
    }

    /// Turns exit signals from linked actors into [`Exit`](actor_core::Exit)
    /// messages for `on_info` instead of ending the connection.
    pub fn trap_exit(&mut self, on: bool) {
        self.actor.trap_exit(on);
    }

    /// With `Some(d)`: `on_info` gets a [`Timeout`](actor_core::Timeout)
    /// whenever the actor had no message for `d` (client messages count).
    pub fn set_receive_timeout(&mut self, timeout: Option<Duration>) {
        self.actor.set_receive_timeout(timeout);
    }

    /// Ends the connection's actor once the hook returns: the client gets
    /// 1001 (1011 for an abnormal `reason`), `on_close` runs, and links and
    /// monitors see `reason`.
    pub fn stop(&mut self, reason: ExitReason) {
        self.actor.stop(reason);
    }
}

impl Deref for Ctx<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.conn
    }
}
