//! Pure, sans-IO RFC 6455 WebSocket frame codec and connection state machine.
//!
//! What it is: frames ([`Frame`], [`FrameHeader`], [`OpCode`]), a resumable [`Decoder`],
//! masking ([`apply_mask`]), close codes ([`CloseCode`], [`CloseFrame`]), incremental UTF-8
//! validation ([`Utf8Validator`], [`Utf8Bytes`]), and the [`Connection`] state machine that
//! joins fragments, answers pings, runs the close handshake and maps every protocol
//! [`Error`] to its close code.
//!
//! What it deliberately does not do: no sockets or `std::io`, no clocks (the caller passes
//! `now`), no randomness (a client's caller supplies the masking keys), no HTTP handshake
//! (see `ws-handshake`), no extensions (so any RSV bit is a protocol error), and no
//! fragmentation of outgoing messages.
//!
//! A client and a server exchanging a message in memory:
//!
//! ```
//! use std::time::Instant;
//! use ws_codec::{CloseCode, Config, Connection, Event, State};
//!
//! let mut keys = 0u32;
//! let mut client = Connection::client(Config::default(), move || {
//!     keys = keys.wrapping_mul(2_654_435_761).wrapping_add(1); // use a CSPRNG in real code
//!     keys.to_be_bytes()
//! });
//! let mut server = Connection::server(Config::default());
//!
//! fn pump(from: &mut Connection, to: &mut Connection) {
//!     while let Some(chunk) = from.poll_transmit() {
//!         to.handle_bytes(&chunk).unwrap();
//!     }
//! }
//!
//! client.send_text("hello").unwrap();
//! pump(&mut client, &mut server);
//! match server.poll_event() {
//!     Some(Event::Text(text)) => assert_eq!(text.as_str(), "hello"),
//!     other => panic!("unexpected {other:?}"),
//! }
//!
//! client.close(CloseCode::NORMAL, "bye").unwrap();
//! client.handle_timeout(Instant::now()); // starts the close timer
//! pump(&mut client, &mut server);
//! pump(&mut server, &mut client);
//! assert!(matches!(server.poll_event(), Some(Event::Close(c)) if c.code == CloseCode::NORMAL));
//! assert_eq!((client.state(), server.state()), (State::Closed, State::Closed));
//! assert!(server.should_close_transport()); // RFC 6455 §7.1.1: the server closes TCP first
//! ```
// One `unsafe` block, allowed where it stands: `Utf8Bytes::try_from` (utf8.rs).
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod close;
mod config;
mod connection;
mod decoder;
mod deflate;
mod error;
mod frame;
mod mask;
mod message;
mod utf8;

pub use close::{truncate_reason, CloseCode, CloseFrame, MAX_REASON_LEN};
pub use config::{Config, Deflate, Role};
pub use connection::{Connection, MaskSource, State, SHARE_MIN};
pub use decoder::Decoder;
pub use error::{Error, SendError};
pub use frame::{encode_frame, EncodedFrame, Frame, FrameHeader, OpCode};
pub use mask::apply_mask;
pub use message::Event;
pub use utf8::{is_valid_utf8, InvalidUtf8, Utf8Bytes, Utf8Validator};
