//! The crate's one error type.

use std::fmt;
use std::io;

/// What can go wrong starting a server or sending on a connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Binding the listening socket failed.
    Bind(io::Error),
    /// A socket or thread operation failed while starting the server.
    Io(io::Error),
    /// The connection is gone (closed, closing, or never upgraded): nothing more can be sent.
    Closed,
    /// The outbound queue is over the high-water mark; the message was not
    /// queued and the configured [`Backpressure`](crate::Backpressure) policy applied.
    Backpressure {
        /// Memory the queue holds: the bytes queued and not yet written,
        /// plus a fixed overhead per queued frame (see
        /// [`ServerBuilder::high_water`](crate::ServerBuilder::high_water)).
        queued: usize,
        /// The configured high-water mark.
        high_water: usize,
    },
    /// ws-codec refused the frame (an invalid close code, a ping payload over 125 bytes).
    Send(ws_codec::SendError),
    /// The server could not build its own actor runtime.
    Runtime(actor_core::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bind(e) => write!(f, "cannot bind: {e}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Closed => f.write_str("connection is closed"),
            Error::Backpressure { queued, high_water } => write!(
                f,
                "outbound queue holds {queued} bytes, over the high-water mark of {high_water}"
            ),
            Error::Send(e) => write!(f, "frame refused: {e}"),
            Error::Runtime(e) => write!(f, "cannot build the actor runtime: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind(e) | Error::Io(e) => Some(e),
            Error::Send(e) => Some(e),
            Error::Runtime(e) => Some(e),
            Error::Closed | Error::Backpressure { .. } => None,
        }
    }
}
