//! The crate's two error types: `Error` for a misbehaving peer (each maps to a close code)
//! and `SendError` for misuse of the local API.

use std::fmt;

use crate::close::CloseCode;
use crate::frame::OpCode;

/// A violation of RFC 6455 by the peer, or a configured limit it exceeded.
///
/// One variant per rule. Every variant maps to the close code sent to the peer through
/// [`Error::close_code`]. Incomplete input is never an error: the decoder returns `Ok(None)`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// RSV1-3 set (the value is the three bits, RSV1 highest) with no extension negotiated.
    ReservedBits(u8),
    /// An opcode RFC 6455 reserves (3-7, 0xB-0xF).
    UnknownOpCode(u8),
    /// A control frame with a payload longer than 125 bytes (the length it announced).
    ControlFrameTooLong(u64),
    /// A control frame with FIN clear.
    FragmentedControlFrame(OpCode),
    /// A server received a frame from the client without a mask.
    UnmaskedFrame,
    /// A client received a masked frame from the server.
    MaskedFrame,
    /// A 64-bit payload length with its most significant bit set.
    InvalidPayloadLength(u64),
    /// A frame whose announced payload exceeds `max_frame_size`.
    FrameTooLarge {
        /// Announced payload length.
        len: u64,
        /// Configured limit.
        max: u64,
    },
    /// A continuation frame arrived while no fragmented message was open.
    UnexpectedContinuation,
    /// A new text or binary frame arrived while a fragmented message was still open.
    ExpectedContinuation(OpCode),
    /// The message would exceed `max_message_size`.
    MessageTooLarge {
        /// Size the message would reach.
        len: u64,
        /// Configured limit.
        max: u64,
    },
    /// The message was split into more than `max_fragments` frames.
    TooManyFragments {
        /// Configured limit.
        max: usize,
    },
    /// A text message is not valid UTF-8.
    InvalidUtf8,
    /// A close frame with a one-byte payload.
    CloseFrameTooShort,
    /// A close frame carrying a code that may not appear on the wire.
    InvalidCloseCode(u16),
    /// A close frame whose reason is not valid UTF-8.
    InvalidCloseReason,
    /// RSV1 ("Per-Message Compressed") set on a control frame while permessage-deflate is
    /// in use (RFC 7692 §6).
    CompressedControlFrame(OpCode),
    /// RSV1 ("Per-Message Compressed") set on a continuation frame (RFC 7692 §6: only the
    /// first frame of a message carries it).
    CompressedContinuation,
    /// A compressed message is not a valid DEFLATE stream (RFC 7692 §6.2).
    InvalidCompressedData,
}

impl Error {
    /// The close code to send to the peer for this error (RFC 6455 §7.4.1).
    pub fn close_code(&self) -> CloseCode {
        // No wildcard arm: a new variant must choose its code here.
        match self {
            Error::ReservedBits(_)
            | Error::UnknownOpCode(_)
            | Error::ControlFrameTooLong(_)
            | Error::FragmentedControlFrame(_)
            | Error::UnmaskedFrame
            | Error::MaskedFrame
            | Error::InvalidPayloadLength(_)
            | Error::UnexpectedContinuation
            | Error::ExpectedContinuation(_)
            | Error::CloseFrameTooShort
            | Error::InvalidCloseCode(_)
            | Error::CompressedControlFrame(_)
            | Error::CompressedContinuation => CloseCode::PROTOCOL_ERROR,
            Error::FrameTooLarge { .. }
            | Error::MessageTooLarge { .. }
            | Error::TooManyFragments { .. } => CloseCode::MESSAGE_TOO_BIG,
            // Not a framing error: the frames were sound, their compressed payload is not
            // data the message can be made of, as with invalid UTF-8 (1007).
            Error::InvalidUtf8 | Error::InvalidCloseReason | Error::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ReservedBits(bits) => {
                write!(
                    f,
                    "reserved bits {bits:#05b} set without a negotiated extension"
                )
            }
            Error::UnknownOpCode(op) => write!(f, "unknown opcode {op:#x}"),
            Error::ControlFrameTooLong(len) => {
                write!(f, "control frame payload of {len} bytes exceeds 125")
            }
            Error::FragmentedControlFrame(op) => write!(f, "fragmented {op} control frame"),
            Error::UnmaskedFrame => f.write_str("client frame is not masked"),
            Error::MaskedFrame => f.write_str("server frame is masked"),
            Error::InvalidPayloadLength(len) => {
                write!(f, "64-bit payload length {len:#x} has its top bit set")
            }
            Error::FrameTooLarge { len, max } => {
                write!(f, "frame payload of {len} bytes exceeds the limit of {max}")
            }
            Error::UnexpectedContinuation => {
                f.write_str("continuation frame with no fragmented message open")
            }
            Error::ExpectedContinuation(op) => {
                write!(f, "{op} frame while a fragmented message is still open")
            }
            Error::MessageTooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max}")
            }
            Error::TooManyFragments { max } => {
                write!(f, "message split into more than {max} fragments")
            }
            Error::InvalidUtf8 => f.write_str("text message is not valid UTF-8"),
            Error::CloseFrameTooShort => f.write_str("close frame payload of 1 byte"),
            Error::InvalidCloseCode(code) => write!(f, "close code {code} is not allowed"),
            Error::InvalidCloseReason => f.write_str("close reason is not valid UTF-8"),
            Error::CompressedControlFrame(op) => write!(f, "{op} control frame has RSV1 set"),
            Error::CompressedContinuation => f.write_str("continuation frame has RSV1 set"),
            Error::InvalidCompressedData => {
                f.write_str("compressed message is not a valid DEFLATE stream")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Misuse of the local API: distinct from [`Error`], which is the peer's fault.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame was already sent (or the connection failed): no more frames go out.
    Closed,
    /// This close code may not be sent (RFC 6455 §7.4: 1004, 1006, 1015 and unassigned codes).
    InvalidCloseCode(CloseCode),
    /// A ping payload longer than 125 bytes (its length).
    ControlPayloadTooLong(usize),
    /// [`Connection::fail`](crate::Connection::fail) was called while no protocol error was
    /// waiting for it (the state was not `Failing` or `Failed`).
    NotFailing,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("connection is closing or closed"),
            SendError::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            SendError::ControlPayloadTooLong(len) => {
                write!(f, "control payload of {len} bytes exceeds 125")
            }
            SendError::NotFailing => {
                f.write_str("no protocol error is waiting to fail the connection")
            }
        }
    }
}

impl std::error::Error for SendError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_rule_families() {
        assert_eq!(Error::UnmaskedFrame.close_code(), CloseCode::PROTOCOL_ERROR);
        assert_eq!(Error::InvalidUtf8.close_code(), CloseCode::INVALID_PAYLOAD);
        assert_eq!(Error::InvalidCloseReason.close_code(), CloseCode(1007));
        assert_eq!(
            Error::MessageTooLarge { len: 2, max: 1 }.close_code(),
            CloseCode::MESSAGE_TOO_BIG
        );
        assert_eq!(
            Error::TooManyFragments { max: 1 }.close_code(),
            CloseCode(1009)
        );
        // RFC 7692 §6: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control
        // frames and non-first fragments of a data message. An endpoint receiving such a
        // frame MUST _Fail the WebSocket Connection_." A framing error: 1002.
        assert_eq!(
            Error::CompressedControlFrame(OpCode::Ping).close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        assert_eq!(Error::CompressedContinuation.close_code(), CloseCode(1002));
        // A payload that does not inflate: 1007, like a text message that does not decode.
        assert_eq!(Error::InvalidCompressedData.close_code(), CloseCode(1007));
    }

    #[test]
    fn display_names_the_values() {
        assert_eq!(
            Error::FrameTooLarge { len: 10, max: 5 }.to_string(),
            "frame payload of 10 bytes exceeds the limit of 5"
        );
        assert_eq!(Error::UnknownOpCode(3).to_string(), "unknown opcode 0x3");
        assert_eq!(
            SendError::Closed.to_string(),
            "connection is closing or closed"
        );
    }
}
