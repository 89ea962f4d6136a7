//! ws-codec and ws-handshake as a WebSocket for tokio: a [`WebSocket<S>`] over any
//! `AsyncRead + AsyncWrite + Unpin` transport that is a `futures` [`Stream`] of received
//! [`Message`]s and a [`Sink`] of messages to send.
//!
//! What it does: the handshake on a raw transport ([`accept`], [`accept_with`],
//! [`connect`], [`client`]) or after an HTTP library's upgrade ([`upgrade`]: hyper,
//! axum); permessage-deflate (RFC 7692) negotiated under [`Config::with_deflate`]; pings
//! and the close handshake answered by the connection itself; the limits of ws-codec (frame,
//! message, fragments: 1009 past them) and a handshake timeout; backpressure through the
//! sink's readiness ([`Config::with_high_water`]); [`WebSocket::split`] into two halves.
//!
//! What it deliberately does not do: every protocol rule is ws-codec's or ws-handshake's,
//! none is decided here; no runtime is started (the application brings tokio's); no TLS
//! (wrap the transport with tokio-rustls and pass it to [`accept`] or [`client`]); no
//! heartbeat timer (send `Message::Ping` from the application if the peer may vanish).
//!
//! ```
//! use futures_util::{SinkExt, StreamExt};
//! use ws_tokio::{Config, Message};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ws_tokio::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = tokio::spawn(async move {
//!     let (stream, _) = listener.accept().await?;
//!     let mut ws = ws_tokio::accept(stream, &Config::default()).await?;
//!     while let Some(message) = ws.next().await {
//!         match message? {
//!             m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
//!             _ => {} // pings are answered, the close handshake is run
//!         }
//!     }
//!     Ok::<_, ws_tokio::Error>(())
//! });
//!
//! let request = ws_handshake::ClientRequest::new("localhost", "/").port(addr.port());
//! let (mut ws, _) = ws_tokio::connect(addr, request, &Config::default()).await?;
//! ws.send(Message::text("hello")).await?;
//! assert_eq!(ws.next().await.transpose()?, Some(Message::text("hello")));
//! ws.close().await?; // sends 1000; the stream ends once the server answered
//! assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
//! assert!(ws.next().await.is_none());
//! server.await.unwrap()?;
//! # Ok(())
//! # }
//! ```
//!
//! [`Stream`]: futures_core::Stream
//! [`Sink`]: futures_sink::Sink
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod core;
mod error;
mod handshake;
mod message;
mod socket;
mod split;
mod upgrade;

pub use config::{
    Config, DEFAULT_DEFLATE, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_HIGH_WATER,
    DEFAULT_READ_BUFFER_SIZE,
};
pub use error::Error;
pub use handshake::{accept, accept_with, client, connect};
pub use message::Message;
pub use socket::WebSocket;
pub use split::{ReadHalf, WriteHalf};
pub use upgrade::{refusal, upgrade, upgrade_with, Upgrade};
pub use ws_codec::{CloseCode, CloseFrame, Role, Utf8Bytes};
pub use ws_handshake;
