//! The request head: parsing it into an upgrade, a plain HTTP request or a
//! refusal, and the HTTP answers the session writes before (or instead of) the
//! WebSocket stream. Every rule here is ws-handshake's; this only picks.

use ws_handshake::{HttpRequest, Request};

use crate::config::Settings;

/// The payload of the connect message to the actor.
#[derive(Debug)]
pub(crate) enum ConnectMsg {
    /// A valid upgrade request: `on_connect` decides.
    Upgrade(Request),
    /// A plain HTTP request: `on_http` answers, else `refusal` is sent.
    Http(HttpRequest, Vec<u8>),
}

/// What the actor decided about a request.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Send 101 with this subprotocol and these headers.
    Upgrade {
        protocol: Option<String>,
        headers: Vec<(String, String)>,
    },
    /// Send these bytes (an HTTP response or refusal) and close.
    Respond(Vec<u8>),
}

/// What a complete request head is.
pub(crate) enum Head {
    /// A request and the number of head bytes (the rest is pipelined frames).
    Request(Request, usize),
    /// A well-formed request that is not an upgrade, and ws-handshake's refusal of it.
    Http(HttpRequest, Vec<u8>),
    /// The head is invalid: answer with these bytes.
    Invalid(Vec<u8>),
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

/// The 101 for an accepted request, and the permessage-deflate parameters it
/// agreed to (RFC 7692 §5: the first acceptable offer, under `deflate`); or
/// ws-handshake's refusal of what the hook chose (a subprotocol the client
/// did not offer, a bad header).
pub(crate) fn upgrade_response(
    request: &Request,
    protocol: Option<&str>,
    headers: &[(String, String)],
    deflate: Option<&ws_handshake::DeflateOptions>,
) -> Result<(Vec<u8>, Option<ws_handshake::DeflateParams>), ws_handshake::Error> {
    let mut accept = request.accept();
    if let Some(p) = protocol {
        accept = accept.protocol(p);
    }
    if let Some(options) = deflate {
        accept = accept.deflate(options);
    }
    let agreed = accept.deflate_params();
    for (name, value) in headers {
        accept = accept.header(name, value);
    }
    Ok((accept.to_bytes()?, agreed))
}

/// ws-codec's compression for what the handshake agreed to.
pub(crate) fn codec_deflate(agreed: ws_handshake::DeflateParams) -> ws_codec::Deflate {
    ws_codec::Deflate::default()
        .with_server_max_window_bits(agreed.server_max_window_bits)
        .with_client_max_window_bits(agreed.client_max_window_bits)
        .with_server_no_context_takeover(agreed.server_no_context_takeover)
        .with_client_no_context_takeover(agreed.client_no_context_takeover)
}
