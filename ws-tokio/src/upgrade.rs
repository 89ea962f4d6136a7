//! The server side of an upgrade that an HTTP library (hyper, axum) has parsed: the
//! request is checked and answered by ws-handshake, exactly as on a raw transport, and the
//! upgraded connection becomes a `WebSocket`.

use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncWrite};
use ws_codec::Connection;

use crate::handshake::answer;
use crate::{Config, Error, WebSocket};

/// What [`upgrade`] agreed: turn the upgraded connection into a [`WebSocket`] with
/// [`into_websocket`](Upgrade::into_websocket).
#[derive(Debug)]
pub struct Upgrade {
    codec: ws_codec::Config,
    config: Config,
}

impl Upgrade {
    /// The WebSocket over the connection the HTTP library hands over after the 101
    /// (hyper: `hyper::upgrade::on(request)`, wrapped in `hyper_util::rt::TokioIo`).
    pub fn into_websocket<S: AsyncRead + AsyncWrite + Unpin>(self, io: S) -> WebSocket<S> {
        WebSocket::from_parts(io, Connection::server(self.codec), &self.config, &[])
    }
}

/// Checks a WebSocket upgrade request (RFC 6455 §4.2.1) that an HTTP library parsed, and
/// builds its `101 Switching Protocols`, negotiating permessage-deflate under
/// [`Config::deflate`](crate::Config::deflate). Send the response, then hand the upgraded
/// connection to [`Upgrade::into_websocket`]. On [`Error::Handshake`], answer with
/// [`refusal`] instead.
///
/// The request is checked by ws-handshake itself (its head is rebuilt from the parsed
/// method, target, version and headers), so the rules are the same as [`accept`](crate::accept)'s.
pub fn upgrade<B>(request: &Request<B>, config: &Config) -> Result<(Response<()>, Upgrade), Error> {
    upgrade_with(request, config, |_| None)
}

/// [`upgrade`] choosing a subprotocol: `choose` sees the validated request and returns
/// one of the offered subprotocols, or `None`.
pub fn upgrade_with<B>(
    request: &Request<B>,
    config: &Config,
    choose: impl FnOnce(&ws_handshake::Request) -> Option<String>,
) -> Result<(Response<()>, Upgrade), Error> {
    let head = head_of(request);
    let (parsed, _) = ws_handshake::parse_request(&head, config.limits())?
        .ok_or(Error::Handshake(ws_handshake::Error::HeadTooLarge))?;
    let protocol = choose(&parsed);
    let (reply, codec) = answer(&parsed, protocol.as_deref(), config)?;
    let response = response_of(&reply).ok_or(Error::Handshake(ws_handshake::Error::Malformed(
        ws_handshake::Malformed::HeaderValue,
    )))?;
    Ok((
        response,
        Upgrade {
            codec,
            config: config.clone(),
        },
    ))
}

/// The HTTP answer to a refused upgrade: ws-handshake's status, headers and body (a 426
/// with `Sec-WebSocket-Version: 13` for a wrong version, a 400 for a missing key, ...).
pub fn refusal(error: &ws_handshake::Error) -> Response<Vec<u8>> {
    let rejection = error.to_rejection();
    let mut response = Response::new(rejection.content().to_vec());
    *response.status_mut() =
        StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::BAD_REQUEST);
    for (name, value) in rejection.headers() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}

/// The request's head as it would have come on the wire, for ws-handshake to read. HTTP/2
/// and HTTP/1.0 become a version ws-handshake refuses (RFC 6455 §4.1: HTTP/1.1 or higher,
/// and HTTP/2 upgrades are RFC 8441's CONNECT, not this).
fn head_of<B>(request: &Request<B>) -> Vec<u8> {
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let version: &[u8] = if request.version() == Version::HTTP_11 {
        b" HTTP/1.1\r\n"
    } else {
        b" HTTP/1.0\r\n"
    };
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(request.method().as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(version);
    for (name, value) in request.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// ws-handshake's 101 as an `http::Response`: every header it wrote, nothing decided here.
fn response_of(reply: &[u8]) -> Option<Response<()>> {
    let text = std::str::from_utf8(reply).ok()?;
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for line in text.split("\r\n").skip(1).take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(": ")?;
        response.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).ok()?,
            HeaderValue::from_str(value).ok()?,
        );
    }
    Some(response)
}
