//! The hooks a server calls: the `Handler` trait and what its hooks return.

use bytes::Bytes;
use ws_codec::{CloseCode, Utf8Bytes};
use ws_handshake::{HttpRequest, Request};

use crate::conn::Conn;
use crate::ctx::Ctx;

/// A data message from the client, text and binary kept apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, already checked to be UTF-8 by ws-codec.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// An HTTP answer to a request that is not an upgrade, or a refusal of one that is.
///
/// Turned into bytes by ws-handshake's [`Rejection`](ws_handshake::Rejection):
/// ws-server writes nothing of HTTP by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, e.g. 200, 404, 403.
    pub status: u16,
    /// Extra header fields (`Content-Length` and `Connection: close` are added).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// A response with `status`, no extra headers and `body`.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header field.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What [`Handler::on_connect`] decided.
#[derive(Debug)]
pub enum Connect<S> {
    /// Upgrade: answer 101 and keep `state` for this connection's hooks.
    Accept {
        /// The connection's state, handed to every later hook.
        state: S,
        /// The subprotocol to select (one the client offered), if any.
        protocol: Option<String>,
        /// Extra header fields for the 101 response.
        headers: Vec<(String, String)>,
    },
    /// Refuse before the upgrade with any HTTP status, headers and body.
    Reject(Response),
    /// Upgrade, then close at once with this code and reason (typically 1008):
    /// the way a browser client learns why, since it cannot read a refusal's body.
    Close(CloseCode, String),
}

impl<S> Connect<S> {
    /// Accept with `state`, no subprotocol and no extra headers.
    pub fn accept(state: S) -> Connect<S> {
        Connect::Accept {
            state,
            protocol: None,
            headers: Vec::new(),
        }
    }
}

/// The hooks of a WebSocket server. One value serves every connection (it is
/// shared behind an `Arc`); per-connection data lives in [`Handler::State`].
///
/// Every hook runs inside the connection's actor, on an actor-core worker,
/// one at a time per connection. A hook gets a [`Ctx`]: every [`Conn`] method
/// (they never block) and the powers of the actor it runs in (link, monitor,
/// trap exits, receive timeout, stop); other actors are reached through
/// [`Conn::handle`] and reach it through [`Conn::pid`] or [`Conn::tell`]. A panic in any
/// hook closes that connection with 1011, calls [`Handler::on_close`] with 1011
/// and ends the actor with [`ExitReason::Panic`](actor_core::ExitReason::Panic);
/// no other connection notices.
pub trait Handler: Send + Sync + 'static {
    /// Per-connection state, created by [`on_connect`](Handler::on_connect).
    type State: Send + 'static;

    /// A request that is not a WebSocket upgrade (say, `GET /` for a page).
    /// `None` (the default) gives ws-handshake's refusal (`405 Method Not
    /// Allowed`, `400 Bad Request` ...). A broken upgrade (a bad key, version
    /// 8) never comes here: it is refused as a handshake (400, 426).
    fn on_http(&self, request: &HttpRequest) -> Option<Response> {
        let _ = request;
        None
    }

    /// The upgrade request was valid: accept it, reject it before the upgrade,
    /// or close right after it.
    fn on_connect(&self, conn: &mut Ctx<'_>, request: &Request) -> Connect<Self::State>;

    /// A text or binary message from the client.
    fn on_message(&self, conn: &mut Ctx<'_>, state: &mut Self::State, message: Message);

    /// A message from another actor ([`Conn::tell`], or any user tag sent to
    /// [`Conn::pid`]), or what the actor's links, monitors and receive
    /// timeout bring ([`Exit`](actor_core::Exit), [`Down`](actor_core::Down),
    /// [`Timeout`](actor_core::Timeout)). Match on the payload's type with
    /// [`Message::downcast`](actor_core::Message::downcast); no tag numbers
    /// are needed. The default drops it.
    fn on_info(&self, conn: &mut Ctx<'_>, state: &mut Self::State, message: actor_core::Message) {
        let _ = (conn, state, message);
    }

    /// The connection ended; called exactly once for every connection
    /// [`on_connect`](Handler::on_connect) did not reject (accepted, closed at
    /// once, or accepted with a subprotocol the client did not offer, which the
    /// client gets as a 500 and this hook as 1011). It gets the [`Conn`] only:
    /// the actor may be ending already.
    ///
    /// `state` is `None` when [`on_connect`](Handler::on_connect) did not accept
    /// (it chose [`Connect::Close`] or panicked). `code` is the code that ended
    /// the connection: the peer's if it closed first, the server's if it did
    /// (1001 on shutdown, 1011 after a panic, 1008 on backpressure, the
    /// ws-codec error's code for a protocol violation), and 1006 when the TCP
    /// connection ended without a close frame.
    fn on_close(&self, conn: &Conn, state: Option<Self::State>, code: CloseCode, reason: &str) {
        let _ = (conn, state, code, reason);
    }
}
