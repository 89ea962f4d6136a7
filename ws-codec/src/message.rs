//! Messages: the `Event`s a connection reports, and the assembler that joins fragments.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::config::Config;
use crate::error::Error;
use crate::frame::{Frame, OpCode};
use crate::utf8::{Utf8Bytes, Utf8Validator};

/// What the peer sent, as the application sees it.
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete, validated text message.
    Text(Utf8Bytes),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping (already answered by the connection).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The peer's close frame; code [`CloseCode::NO_STATUS`](crate::CloseCode::NO_STATUS)
    /// when it carried none.
    Close(CloseFrame),
}

const PREVIEW: usize = 32;

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn bytes(f: &mut fmt::Formatter<'_>, name: &str, data: &Bytes) -> fmt::Result {
            let shown = &data[..data.len().min(PREVIEW)];
            let more = if data.len() > PREVIEW { "..." } else { "" };
            write!(f, "{name}({} bytes: {shown:02x?}{more})", data.len())
        }
        match self {
            Event::Text(text) => {
                let cut = crate::utf8::prefix(text.as_str(), PREVIEW);
                let more = if cut.len() < text.len() { "..." } else { "" };
                write!(f, "Text({} bytes: {cut:?}{more})", text.len())
            }
            Event::Binary(data) => bytes(f, "Binary", data),
            Event::Ping(data) => bytes(f, "Ping", data),
            Event::Pong(data) => bytes(f, "Pong", data),
            Event::Close(close) => write!(f, "Close({close})"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Text(text) => write!(f, "text message of {} bytes", text.len()),
            Event::Binary(data) => write!(f, "binary message of {} bytes", data.len()),
            Event::Ping(data) => write!(f, "ping of {} bytes", data.len()),
            Event::Pong(data) => write!(f, "pong of {} bytes", data.len()),
            Event::Close(close) => write!(f, "close {close}"),
        }
    }
}

/// Joins data frames into messages; control frames pass straight through.
///
/// A message in one frame is handed out as the frame's own `Bytes` (no copy). Fragments are
/// copied into one `BytesMut`, so a flood of tiny fragments pins at most about twice
/// `max_message_size`, never a `Bytes` (and its receive buffer) per fragment.
#[derive(Debug)]
pub(crate) struct Assembler {
    max_message_size: usize,
    max_fragments: usize,
    open: Option<Partial>,
}

#[derive(Debug)]
struct Partial {
    text: bool,
    buf: BytesMut,
    fragments: usize,
    utf8: Utf8Validator,
}

impl Assembler {
    pub(crate) fn new(config: &Config) -> Self {
        Assembler {
            max_message_size: config.max_message_size(),
            max_fragments: config.max_fragments(),
            open: None,
        }
    }

    /// Bytes the next data frame may carry before the message exceeds its limit.
    pub(crate) fn room(&self) -> u64 {
        let used = self.open.as_ref().map_or(0, |p| p.buf.len());
        self.max_message_size.saturating_sub(used) as u64
    }

    pub(crate) fn push(&mut self, frame: Frame) -> Result<Option<Event>, Error> {
        let opcode = frame.opcode();
        let fin = frame.fin();
        let payload = frame.into_payload();
        match opcode {
            OpCode::Ping => return Ok(Some(Event::Ping(payload))),
            OpCode::Pong => return Ok(Some(Event::Pong(payload))),
            OpCode::Close => return CloseFrame::parse(payload).map(|c| Some(Event::Close(c))),
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {}
        }
        if payload.len() as u64 > self.room() {
            let used = self.max_message_size as u64 - self.room();
            return Err(Error::MessageTooLarge {
                len: used + payload.len() as u64,
                max: self.max_message_size as u64,
            });
        }
        let text = opcode == OpCode::Text;
        match (opcode, self.open.as_mut()) {
            // RFC 6455 §5.4: "the fragments of one message MUST NOT be interleaved between
            // the fragments of another message".
            (OpCode::Text | OpCode::Binary, Some(_)) => Err(Error::ExpectedContinuation(opcode)),
            (OpCode::Text | OpCode::Binary, None) if fin => complete(text, payload).map(Some),
            (OpCode::Text | OpCode::Binary, None) => {
                let mut utf8 = Utf8Validator::new();
                if text {
                    // §8.1 with Autobahn 6.4.x: fail as soon as a fragment is invalid.
                    utf8.feed(&payload).map_err(|_| Error::InvalidUtf8)?;
                }
                self.open = Some(Partial {
                    text,
                    buf: BytesMut::from(&payload[..]),
                    fragments: 1,
                    utf8,
                });
                Ok(None)
            }
            // RFC 6455 §5.4: a continuation frame belongs to an open fragmented message.
            (_, None) => Err(Error::UnexpectedContinuation),
            (_, Some(partial)) => {
                partial.fragments += 1;
                if partial.fragments > self.max_fragments {
                    return Err(Error::TooManyFragments {
                        max: self.max_fragments,
                    });
                }
                if partial.text {
                    partial
                        .utf8
                        .feed(&payload)
                        .map_err(|_| Error::InvalidUtf8)?;
                }
                partial.buf.extend_from_slice(&payload);
                if !fin {
                    return Ok(None);
                }
                let partial = self.open.take().expect("matched Some above");
                if partial.text {
                    partial.utf8.finish().map_err(|_| Error::InvalidUtf8)?;
                }
                complete(partial.text, partial.buf.freeze()).map(Some)
            }
        }
    }
}

fn complete(text: bool, payload: Bytes) -> Result<Event, Error> {
    if text {
        // RFC 6455 §8.1: a text message that is not valid UTF-8 fails the connection (1007).
        Utf8Bytes::try_from(payload)
            .map(Event::Text)
            .map_err(|_| Error::InvalidUtf8)
    } else {
        Ok(Event::Binary(payload))
    }
}
