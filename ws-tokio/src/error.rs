//! The crate's one error type: I/O, the peer's protocol errors, the handshake's, and misuse.

use std::fmt;
use std::io;

/// Why a WebSocket operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (a reset, a broken pipe, ...).
    Io(io::Error),
    /// The peer broke RFC 6455 or a configured limit; the close frame with
    /// [`close_code`](ws_codec::Error::close_code) was sent and the transport closed.
    Protocol(ws_codec::Error),
    /// The opening handshake was invalid: on a server the refusal
    /// ([`to_bytes`](ws_handshake::Error::to_bytes)) was written before closing.
    Handshake(ws_handshake::Error),
    /// The server answered the client's handshake with another status than 101.
    Refused(u16),
    /// The opening handshake did not complete within [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    HandshakeTimeout,
    /// The transport ended before the handshake completed.
    HandshakeEof,
    /// The transport ended without a close handshake (close code 1006, RFC 6455 §7.1.5).
    AbnormalClosure,
    /// Misuse of the local API: a send after the close, a ping payload over 125 bytes, ...
    Send(ws_codec::SendError),
}

impl Error {
    /// Whether this error is the normal end of a closed connection: sends after the close
    /// handshake started are refused with it.
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::Send(ws_codec::SendError::Closed))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "transport: {e}"),
            Error::Protocol(e) => write!(f, "protocol error ({}): {e}", e.close_code()),
            Error::Handshake(e) => write!(f, "handshake: {e}"),
            Error::Refused(status) => write!(f, "handshake refused with status {status}"),
            Error::HandshakeTimeout => f.write_str("handshake timed out"),
            Error::HandshakeEof => f.write_str("transport closed during the handshake"),
            Error::AbnormalClosure => f.write_str("transport closed without a close handshake"),
            Error::Send(e) => write!(f, "send: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Send(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<ws_codec::SendError> for Error {
    fn from(e: ws_codec::SendError) -> Self {
        Error::Send(e)
    }
}

impl From<ws_handshake::Error> for Error {
    fn from(e: ws_handshake::Error) -> Self {
        Error::Handshake(e)
    }
}
