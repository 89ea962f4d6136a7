//! What both bridges do with a connection outside the byte stream: the
//! request head, the messages to the actor about its start and end, the 101,
//! and the end of the bridge's part.

use actor_core::ReservedTag;
use ws_codec::CloseCode;
use ws_handshake::{HttpRequest, Request};

use crate::config::Settings;
use crate::conn::{Phase, Shared};
use crate::server::ServerShared;

/// The payload of the connect message (tag `u64::MAX - 4`).
#[derive(Debug)]
pub(crate) enum ConnectMsg {
    /// A valid upgrade request: `on_connect` decides.
    Upgrade(Request),
    /// A plain HTTP request: `on_http` answers, else `refusal` is sent.
    Http(HttpRequest, Vec<u8>),
}

/// The payload of the disconnect message (tag `u64::MAX - 3`).
#[derive(Debug)]
pub(crate) struct DisconnectMsg {
    pub(crate) code: CloseCode,
    pub(crate) reason: String,
}

/// What reading a request head gave.
pub(crate) enum Head {
    /// A request and the number of head bytes (the rest is pipelined frames).
    Request(Request, usize),
    /// A well-formed request that is not an upgrade, and ws-handshake's refusal of it.
    Http(HttpRequest, Vec<u8>),
    /// The head is invalid: answer with these bytes.
    Invalid(Vec<u8>),
    /// The client left, was too slow, or the read was interrupted.
    Gone,
}

/// Parses the head read so far: `None` while it is incomplete.
pub(crate) fn parse_head(head: &[u8], settings: &Settings) -> Option<Head> {
    match ws_handshake::parse_request(head, &settings.handshake_limits) {
        Ok(Some((request, n))) => Some(Head::Request(request, n)),
        Ok(None) => None,
        // Not an upgrade at all (a page load): read the same head as plain HTTP.
        Err(e) if e.is_not_upgrade() => {
            Some(
                match ws_handshake::parse_http_request(head, &settings.handshake_limits) {
                    Ok(Some((request, _))) => Head::Http(request, e.to_bytes()),
                    Err(plain) => Head::Invalid(plain.to_bytes()),
                    // Unreachable: parse_request has seen the whole head.
                    Ok(None) => Head::Invalid(e.to_bytes()),
                },
            )
        }
        Err(e) => Some(Head::Invalid(e.to_bytes())),
    }
}

/// The 503 for handshakes cut short by shutdown or over `max_connections`.
pub(crate) fn unavailable() -> Vec<u8> {
    ws_handshake::Rejection::new(503)
        .header("Retry-After", "1")
        .body("server unavailable")
        .to_bytes()
        .unwrap_or_default()
}

/// The 101 for an accepted request, or ws-handshake's refusal of what the
/// hook chose (a subprotocol the client did not offer, a bad header).
pub(crate) fn upgrade_response(
    request: &Request,
    protocol: Option<&str>,
    headers: &[(String, String)],
) -> Result<Vec<u8>, ws_handshake::Error> {
    let mut accept = request.accept();
    if let Some(p) = protocol {
        accept = accept.protocol(p);
    }
    for (name, value) in headers {
        accept = accept.header(name, value);
    }
    accept.to_bytes()
}

/// The bridge is done with the socket: tell the actor and stop.
pub(crate) fn finish(conn: &Shared, server: &ServerShared, close: Option<(CloseCode, String)>) {
    {
        let mut g = conn.lock();
        g.phase = Phase::Done;
        g.reader_done = true;
    }
    conn.notify();
    // Out of the registry before the actor hears of it, so a client that
    // saw this connection end finds its slot free.
    server.bridge_done(conn.id);
    let (code, reason) = close.unwrap_or((CloseCode::ABNORMAL, String::new()));
    if let Some(pid) = conn.pid.get() {
        let _ = conn.handle.send_reserved(
            *pid,
            ReservedTag::WsDisconnect,
            DisconnectMsg { code, reason },
        );
    }
}
