//! The connection actor: turns mailbox messages into hook calls, one at a time.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use actor_core::{panic_message, Actor, Context, ExitReason, Message as ActorMessage};
use bytes::Bytes;
use bytestring::ByteString;
use ws_codec::{CloseCode, Utf8Bytes};

use crate::conn::Conn;
use crate::ctx::Ctx;
use crate::handler::{Connect, Handler, Message, Response};
use crate::link::{DisconnectMsg, Link};
use crate::session::{ConnectMsg, Decision};

/// ws-server's messages to a connection actor: actor-core's protocol tags
/// (reserved, so no other code can send them), with the seed's values.
pub(crate) mod tags {
    use actor_core::tag::ProtocolTag;

    /// A text message (`u64::MAX - 1`).
    pub(crate) const TEXT: ProtocolTag = ProtocolTag::new(0);
    /// A binary message (`u64::MAX - 2`).
    pub(crate) const BINARY: ProtocolTag = ProtocolTag::new(1);
    /// The connection ended (`u64::MAX - 3`).
    pub(crate) const DISCONNECT: ProtocolTag = ProtocolTag::new(2);
    /// The request, for the hooks to decide (`u64::MAX - 4`).
    pub(crate) const CONNECT: ProtocolTag = ProtocolTag::new(3);
}

const TEXT: u64 = tags::TEXT.tag();
const BINARY: u64 = tags::BINARY.tag();
const DISCONNECT: u64 = tags::DISCONNECT.tag();
const CONNECT: u64 = tags::CONNECT.tag();

/// Counts the actor out of the registry and releases the bridge when the
/// actor is dropped, however it ended.
pub(crate) struct ActorGuard(pub(crate) Arc<Link>);

impl Drop for ActorGuard {
    fn drop(&mut self) {
        self.0.actor_gone();
    }
}

/// Where the actor is in the connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the request.
    New,
    /// Upgraded: `on_close` is owed.
    Upgraded,
    /// `on_close` ran, or the request was answered without an upgrade.
    Done,
}

/// One connection's actor.
pub(crate) struct ConnActor<H: Handler> {
    handler: Arc<H>,
    conn: Conn,
    state: Option<H::State>,
    stage: Stage,
    // Dropped last (fields drop in order): on_close has run by then.
    _guard: ActorGuard,
}

impl<H: Handler> ConnActor<H> {
    pub(crate) fn new(handler: Arc<H>, conn: Conn, guard: ActorGuard) -> Self {
        ConnActor {
            handler,
            conn,
            state: None,
            stage: Stage::New,
            _guard: guard,
        }
    }

    /// Hands the decision to the session (an answer closes the handle at
    /// once, not only once the bridge has written it).
    fn decide(&self, decision: Decision) {
        self.conn.link.decide(decision);
    }

    fn connect(&mut self, ctx: &mut Context<'_>, msg: ConnectMsg) {
        let handler = Arc::clone(&self.handler);
        let conn = self.conn.clone();
        let request = match msg {
            ConnectMsg::Http(request, refusal) => {
                self.stage = Stage::Done;
                if let Some(response) = metrics_response(&self.conn.link, &request) {
                    self.decide(Decision::Respond(response_bytes(&response)));
                    ctx.stop(ExitReason::Normal);
                    return;
                }
                match catch_unwind(AssertUnwindSafe(|| handler.on_http(&request))) {
                    Ok(answer) => {
                        let bytes = answer.map_or(refusal, |r| response_bytes(&r));
                        self.decide(Decision::Respond(bytes));
                        ctx.stop(ExitReason::Normal);
                    }
                    Err(payload) => {
                        let link = &self.conn.link;
                        tracing::error!(
                            conn = link.id(),
                            peer = %link.peer(),
                            panic = %panic_message(&*payload),
                            "on_http panicked"
                        );
                        let bytes = response_bytes(&Response::new(500, "internal server error"));
                        self.decide(Decision::Respond(bytes));
                        ctx.stop(ExitReason::Panic(panic_message(&*payload)));
                    }
                }
                return;
            }
            ConnectMsg::Upgrade(request) => request,
        };
        let mut cx = Ctx::new(&conn, ctx.reborrow());
        let decided = catch_unwind(AssertUnwindSafe(|| handler.on_connect(&mut cx, &request)));
        match decided {
            Ok(Connect::Accept {
                state,
                protocol,
                headers,
            }) => {
                self.state = Some(state);
                self.stage = Stage::Upgraded;
                self.decide(Decision::Upgrade { protocol, headers });
            }
            Ok(Connect::Reject(response)) => {
                self.stage = Stage::Done;
                self.decide(Decision::Respond(response_bytes(&response)));
                ctx.stop(ExitReason::Normal);
            }
            Ok(Connect::Close(code, reason)) => {
                // Upgrade, then close at once: the close frame is queued
                // before the 101 is written and follows it on the wire.
                self.stage = Stage::Upgraded;
                if self.conn.close(code, &reason).is_err() {
                    let _ = self.conn.close(CloseCode::POLICY_VIOLATION, "");
                }
                self.decide(Decision::Upgrade {
                    protocol: None,
                    headers: Vec::new(),
                });
            }
            Err(payload) => {
                // A panic in on_connect still tells the client why: 101, then 1011.
                self.stage = Stage::Upgraded;
                let _ = self.conn.close(CloseCode::INTERNAL_ERROR, "internal error");
                self.decide(Decision::Upgrade {
                    protocol: None,
                    headers: Vec::new(),
                });
                self.panicked(ctx, &*payload);
            }
        }
    }

    /// Runs a hook that needs the state, catching a panic.
    fn with_state(
        &mut self,
        ctx: &mut Context<'_>,
        f: impl FnOnce(&H, &mut Ctx<'_>, &mut H::State),
    ) {
        if self.stage != Stage::Upgraded {
            return;
        }
        let Some(state) = self.state.as_mut() else {
            return;
        };
        let handler = &*self.handler;
        let mut cx = Ctx::new(&self.conn, ctx.reborrow());
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(handler, &mut cx, state))) {
            self.panicked(ctx, &*payload);
        }
    }

    /// A hook panicked: 1011 to the client, `on_close` with 1011, and the
    /// actor ends with the panic as its reason (seen by links and monitors).
    fn panicked(&mut self, ctx: &mut Context<'_>, payload: &(dyn Any + Send)) {
        let text = panic_message(payload);
        let link = &self.conn.link;
        tracing::error!(conn = link.id(), peer = %link.peer(), panic = %text, "hook panicked");
        let _ = self.conn.close(CloseCode::INTERNAL_ERROR, "internal error");
        self.close_once(CloseCode::INTERNAL_ERROR, "internal error");
        ctx.stop(ExitReason::Panic(text));
    }

    /// Calls `on_close` if it is owed, exactly once.
    fn close_once(&mut self, code: CloseCode, reason: &str) {
        if self.stage != Stage::Upgraded {
            return;
        }
        self.stage = Stage::Done;
        let state = self.state.take();
        let handler = &*self.handler;
        let conn = &self.conn;
        // A panic in on_close has nobody left to tell but the log: the connection is over.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
            handler.on_close(conn, state, code, reason);
        })) {
            tracing::error!(
                conn = conn.link.id(),
                peer = %conn.link.peer(),
                panic = %panic_message(&*payload),
                "on_close panicked"
            );
        }
    }

    /// The actor is ending for a reason other than the connection ending:
    /// close the connection with a code that says why, and run `on_close`.
    fn ended(&mut self, reason: &ExitReason) {
        if self.stage != Stage::Upgraded {
            return;
        }
        let (code, text) = match reason {
            ExitReason::Normal | ExitReason::Shutdown => (CloseCode::GOING_AWAY, "going away"),
            _ => (CloseCode::INTERNAL_ERROR, "internal error"),
        };
        let _ = self.conn.close(code, text);
        self.close_once(code, text);
    }
}

impl<H: Handler> Actor for ConnActor<H> {
    fn handle(&mut self, ctx: &mut Context<'_>, msg: ActorMessage) {
        match msg.tag() {
            CONNECT => {
                if let Ok(connect) = msg.downcast::<ConnectMsg>() {
                    self.connect(ctx, connect);
                }
            }
            // Counted as handled after the hook, so a deferred failure's
            // close follows the hook's answer (and flow control counts the
            // message being handled).
            TEXT => {
                let mut len = 0;
                if let Ok(text) = msg.downcast::<ByteString>() {
                    let text = Utf8Bytes::from(text);
                    len = text.len();
                    self.with_state(ctx, |h, c, s| h.on_message(c, s, Message::Text(text)));
                }
                self.conn.link.message_handled(len);
            }
            BINARY => {
                let mut len = 0;
                if let Ok(data) = msg.downcast::<Bytes>() {
                    len = data.len();
                    self.with_state(ctx, |h, c, s| h.on_message(c, s, Message::Binary(data)));
                }
                self.conn.link.message_handled(len);
            }
            DISCONNECT => {
                if let Ok(d) = msg.downcast::<DisconnectMsg>() {
                    self.close_once(d.code, &d.reason);
                }
                self.stage = Stage::Done;
                ctx.stop(ExitReason::Normal);
            }
            _ => self.with_state(ctx, |h, c, s| h.on_info(c, s, msg)),
        }
    }

    fn stopped(&mut self, _ctx: &mut Context<'_>, reason: &ExitReason) {
        self.ended(reason);
    }
}

impl<H: Handler> Drop for ConnActor<H> {
    fn drop(&mut self) {
        // Killed, or dropped by a runtime shutting down without `stopped`:
        // on_close is still owed exactly once.
        self.ended(&ExitReason::Shutdown);
    }
}

/// The server's own answer to `GET` on its metrics path, if that is the request.
fn metrics_response(link: &Link, request: &ws_handshake::HttpRequest) -> Option<Response> {
    let path = link.settings().metrics_path.as_deref()?;
    if request.method() != "GET" || request.path() != path {
        return None;
    }
    let metrics = link.settings().counters.snapshot(link.handle().metrics());
    Some(
        Response::new(200, metrics.to_prometheus())
            .header("Content-Type", crate::metrics::CONTENT_TYPE),
    )
}

/// The bytes of a hook's response, built by ws-handshake; a response it
/// refuses (a bad status or header) becomes its 500.
fn response_bytes(r: &Response) -> Vec<u8> {
    let mut rejection = ws_handshake::Rejection::new(r.status).body(r.body.to_vec());
    for (name, value) in &r.headers {
        rejection = rejection.header(name, value);
    }
    rejection.to_bytes().unwrap_or_else(|e| e.to_bytes())
}
