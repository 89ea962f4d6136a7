//! `WebSocket<S>`: the `Stream` of received messages and the `Sink` of messages to send.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_codec::{Connection, Role};

use crate::core::Core;
use crate::split::{self, ReadHalf, WriteHalf};
use crate::{Config, Error, Message};

/// A WebSocket over any `AsyncRead + AsyncWrite + Unpin` transport, once the handshake is
/// done (see [`accept`](crate::accept), [`connect`](crate::connect), [`upgrade`](crate::upgrade)).
///
/// As a [`Stream`] it yields every received message, ping, pong and finally the peer's
/// close; it answers pings and the close handshake itself, and ends (`None`) once the
/// connection is over. A protocol error is yielded once, after the messages that came
/// before it, when the close with its code was sent. As a [`Sink`] it takes messages:
/// `start_send` encodes into a queue, `poll_flush` writes it (one vectored write for many
/// messages), and `poll_ready` is `Pending` while more than
/// [`Config::high_water`](crate::Config::high_water) bytes wait, so a slow reader at the
/// other end slows the sender down instead of growing memory.
///
/// To finish the close handshake after sending `Message::Close` (or `SinkExt::close`), keep
/// reading the stream until it ends: it ends when the peer answered or the close timeout
/// passed. [`split`](WebSocket::split) gives two halves for two tasks.
#[derive(Debug)]
pub struct WebSocket<S> {
    core: Core<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a transport whose handshake is already done (no extension negotiated), as
    /// `role` (a server reads masked frames, a client masks its own with fresh random keys).
    pub fn from_raw(io: S, role: Role, config: &Config) -> Self {
        let codec = config.codec_for(None);
        let conn = match role {
            Role::Server => Connection::server(codec),
            Role::Client => Connection::client(codec, rand::random),
        };
        WebSocket::from_parts(io, conn, config, &[])
    }

    /// A WebSocket over `io` driving `conn`, fed first with `leftover` (bytes that came
    /// after the handshake's head).
    pub(crate) fn from_parts(io: S, conn: Connection, config: &Config, leftover: &[u8]) -> Self {
        WebSocket {
            core: Core::new(io, conn, config, leftover),
        }
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        self.core.get_ref()
    }

    /// The codec's state: the close handshake's progress, the close frames sent and
    /// received, the error that failed the connection.
    pub fn connection(&self) -> &Connection {
        self.core.connection()
    }

    /// Bytes queued and not yet written to the transport.
    pub fn queued(&self) -> usize {
        self.core.queued()
    }

    /// Splits into a reading half (the `Stream`) and a writing half (the `Sink`) for two
    /// tasks. They share the connection under a lock held only inside a `poll`; each half
    /// is woken whenever the transport is ready for either, so pongs owed by the reader and
    /// writes blocked in the writer both make progress.
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        split::split(self.core)
    }

    pub(crate) fn from_core(core: Core<S>) -> Self {
        WebSocket { core }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().core.poll_next(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().core.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_close(cx)
    }
}
