//! The backends that move a connection's bytes between its socket and its
//! [`Session`]: they read, write, wait and wake, and decide nothing. Both sit
//! behind [`Io`], the seam the actor side calls; every test of this crate runs
//! on both.
//!
//! - [`poll`]: pollers (mio/epoll), one per worker, the default.
//! - [`threads`]: a reader and a writer thread per connection, blocking I/O.

use std::any::Any;
use std::net::Shutdown;

use crate::link::Link;
use crate::session::Session;
use ws_codec::OpCode;

pub(crate) mod poll;
pub(crate) mod threads;

/// Bridge code panicked while driving `link`'s connection (a bug): says so
/// on stderr, the one place bridges report it, and aborts the connection as
/// the server's internal error (`on_close` with 1011). The bridge then ends
/// it as any other; the poller or thread that caught the panic goes on.
pub(crate) fn panicked(link: &Link, place: &str, payload: &(dyn Any + Send)) {
    eprintln!(
        "ws-server: {place} panicked on connection {} ({}): {}; the connection is aborted",
        link.id(),
        link.peer(),
        actor_core::panic_message(payload)
    );
    link.lock().internal_error();
}

/// What the actor side ([`Conn`](crate::Conn), the connection actor, the
/// server's shutdown) asks of the backend driving a connection. None of it
/// blocks.
pub(crate) trait Io: Send + Sync + 'static {
    /// The session changed (bytes queued, a decision made, a close started,
    /// room in the mailbox): look again. Called without the session's lock.
    fn notify(&self);

    /// Wake I/O blocked on the transport: `Read` while the head is awaited
    /// (shutdown answers 503), `Both` to tear it down. A backend that never
    /// blocks has nothing to do.
    fn interrupt(&self, how: Shutdown) {
        let _ = how;
    }

    /// A send queued bytes in the session (its lock held): write them now
    /// without blocking, or not. `true` if [`notify`](Io::notify) is needed
    /// for the rest.
    fn queued(&self, session: &mut Session) -> bool;

    /// A small data message to write at once, its lock held
    /// ([`Session::send_now`]): `None` if this bridge does not, or the
    /// session would not; then it is queued and [`queued`](Io::queued) follows.
    /// `Some(wake)`: sent, and whether [`notify`](Io::notify) is needed.
    fn send_now(&self, _: &mut Session, _: OpCode, _: &[u8]) -> Option<bool> {
        None
    }
}
