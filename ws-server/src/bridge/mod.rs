//! The backends that move a connection's bytes between its socket and its
//! [`Session`]: they read, write, wait and wake, and decide nothing. Both sit
//! behind [`Io`], the seam the actor side calls; every test of this crate runs
//! on both.
//!
//! - [`poll`]: one poller (mio/epoll) for every connection, the default.
//! - [`threads`]: a reader and a writer thread per connection, blocking I/O.

use std::net::Shutdown;

use crate::session::Session;

pub(crate) mod poll;
pub(crate) mod threads;

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
}
