//! `Message`: what the `Stream` yields and the `Sink` takes.

use bytes::Bytes;
use ws_codec::{CloseFrame, Event, Utf8Bytes};

/// A WebSocket message or control frame.
///
/// Received: text and binary messages are whole (fragments joined, text validated,
/// inflated); pings arrive already answered; `Close` is the peer's close frame, after which
/// the stream ends. Sent: `Ping` and `Pong` go out as control frames (an unsolicited pong is
/// a heartbeat, RFC 6455 §5.5.3), `Close` starts the close handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A UTF-8 text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes).
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
    /// A close frame: its code and reason (`None` when sent: 1000 with no reason).
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }
    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }
    /// Whether it is a text or binary message (not a control frame).
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }
    /// The payload's bytes (a close's reason).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(c) => c.as_ref().map_or(&[], |c| c.reason.as_bytes()),
        }
    }
}

impl From<Event> for Message {
    fn from(event: Event) -> Self {
        match event {
            Event::Text(t) => Message::Text(t),
            Event::Binary(b) => Message::Binary(b),
            Event::Ping(p) => Message::Ping(p),
            Event::Pong(p) => Message::Pong(p),
            Event::Close(c) => Message::Close(Some(c)),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text.into())
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.into())
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Message::Binary(data.into())
    }
}
