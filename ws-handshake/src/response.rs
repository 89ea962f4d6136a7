//! What a server sends back: the `101 Switching Protocols` that completes the handshake
//! (RFC 6455 §4.2.2) or a rejection with any status.

use std::fmt;

use crate::extension::{is_extension_list, Extension};
use crate::token::{is_safe_value, is_token};
use crate::{DeflateOptions, DeflateParams, DeflateResponse, Error, Request};

/// Headers [`Accept`] writes itself; set them through its methods, not as extras.
const ACCEPT_RESERVED: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-version",
    "content-length",
    "transfer-encoding",
];

/// Headers [`Rejection`] writes itself.
const REJECTION_RESERVED: &[&str] = &["content-length", "connection", "transfer-encoding"];

/// Checks a header the caller wants to send: a token name, not one of `reserved`, and
/// a value that cannot end the line (header injection).
pub(crate) fn check_header(name: &str, value: &str, reserved: &[&str]) -> Result<(), Error> {
    if !is_token(name.as_bytes()) {
        return Err(Error::InvalidHeaderName);
    }
    if reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) {
        return Err(Error::ReservedHeader);
    }
    if !is_safe_value(value) {
        return Err(Error::InvalidHeaderValue);
    }
    Ok(())
}

/// Appends `name: value\r\n`.
pub(crate) fn put_header(dst: &mut Vec<u8>, name: &str, value: &[u8]) {
    dst.extend_from_slice(name.as_bytes());
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value);
    dst.extend_from_slice(b"\r\n");
}

/// The `101 Switching Protocols` answer to a [`Request`] (RFC 6455 §4.2.2 item 5).
///
/// A builder: each call checks its input, and the first mistake is reported by
/// [`to_bytes`](Accept::to_bytes), as `http::response::Builder` does.
///
/// ```
/// use ws_handshake::{parse_request, Limits};
///
/// let bytes = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
///     Sec-WebSocket-Protocol: chat, superchat\r\n\r\n";
/// let (request, _) = parse_request(bytes, &Limits::default()).unwrap().unwrap();
/// let reply = request.accept().protocol("chat").header("Set-Cookie", "id=1").to_bytes().unwrap();
/// assert_eq!(
///     reply,
///     b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///       Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\
///       Set-Cookie: id=1\r\n\r\n"
/// );
/// // Only an offered subprotocol may be chosen (RFC 6455 §4.2.2 item 5.5).
/// assert!(request.accept().protocol("other").to_bytes().is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Accept<'r> {
    request: &'r Request,
    protocol: Option<&'r str>,
    /// `Sec-WebSocket-Extensions` value being built, `a, b; x=1`.
    extensions: String,
    /// The permessage-deflate answer, and where in `extensions` it goes (the length of
    /// `extensions` when it was chosen): written with the 101, not kept as text.
    deflate: Option<(DeflateResponse, usize)>,
    /// Extra header lines, already serialised.
    extra: Vec<u8>,
    error: Option<Error>,
}

impl<'r> Accept<'r> {
    /// Starts the 101 for `request`.
    pub fn new(request: &'r Request) -> Self {
        Accept {
            request,
            protocol: None,
            extensions: String::new(),
            deflate: None,
            extra: Vec::new(),
            error: None,
        }
    }

    fn fail(&mut self, e: Error) {
        self.error.get_or_insert(e);
    }

    /// Chooses the subprotocol `protocol`. RFC 6455 §4.2.2 item 5.5: it must be one of
    /// the client's offers (compared exactly), else [`Error::ProtocolNotOffered`].
    /// Choosing again replaces the choice.
    pub fn protocol(mut self, protocol: &str) -> Self {
        match self.request.protocols().find(|p| *p == protocol) {
            Some(p) => self.protocol = Some(p),
            None => self.fail(Error::ProtocolNotOffered),
        }
        self
    }

    /// Accepts an extension, written as its `Sec-WebSocket-Extensions` element
    /// (`permessage-deflate; server_max_window_bits=10`). RFC 6455 §9.1: the server may
    /// only answer extensions the client offered, so its name must be among the offers,
    /// else [`Error::ExtensionNotOffered`] (which also covers a malformed element).
    pub fn extension(mut self, element: &str) -> Self {
        let mut parsed = Extension::parse_list(element);
        let ok = match (parsed.next(), parsed.next()) {
            (Some(e), None) if is_extension_list(element.as_bytes()) => self
                .request
                .extensions()
                .any(|offer| offer.name().eq_ignore_ascii_case(e.name())),
            _ => false,
        };
        if ok {
            if !self.extensions.is_empty() {
                self.extensions.push_str(", ");
            }
            self.extensions.push_str(element.trim_matches([' ', '\t']));
        } else {
            self.fail(Error::ExtensionNotOffered);
        }
        self
    }

    /// Negotiates permessage-deflate (RFC 7692) under `options` and, if the client
    /// offered it acceptably, answers it: [`Request::negotiate_deflate`]'s answer goes
    /// into `Sec-WebSocket-Extensions`, in the order of the calls to this and
    /// [`extension`](Accept::extension). Without an acceptable offer nothing is
    /// answered, which is not an error: the connection goes on uncompressed (RFC 7692
    /// §5). Calling it again replaces the answer. Read the agreed parameters with
    /// [`deflate_params`](Accept::deflate_params).
    ///
    /// Do not also answer `permessage-deflate` through [`extension`](Accept::extension):
    /// a client fails a connection that accepts it twice.
    ///
    /// ```
    /// use ws_handshake::{parse_request, DeflateOptions, Limits};
    ///
    /// let bytes = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
    ///     Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    /// let (request, _) = parse_request(bytes, &Limits::default()).unwrap().unwrap();
    /// let accept = request.accept().deflate(&DeflateOptions::default());
    /// let params = accept.deflate_params().expect("offered");
    /// assert_eq!((params.server_max_window_bits, params.client_max_window_bits), (12, 12));
    /// let reply = String::from_utf8(accept.to_bytes().unwrap()).unwrap();
    /// assert!(reply.contains(
    ///     "\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; \
    ///      client_max_window_bits=12\r\n"
    /// ));
    /// ```
    pub fn deflate(mut self, options: &DeflateOptions) -> Self {
        self.deflate = self
            .request
            .negotiate_deflate(options)
            .map(|answer| (answer, self.extensions.len()));
        self
    }

    /// The permessage-deflate parameters agreed by [`deflate`](Accept::deflate), if it
    /// answered an offer: hand them to the compression layer.
    pub fn deflate_params(&self) -> Option<DeflateParams> {
        self.deflate.map(|(answer, _)| answer.params())
    }

    /// Adds a header (`Set-Cookie`, ...). The name must be a token and not one the 101
    /// writes itself ([`Error::ReservedHeader`]); the value must not hold CR, LF or
    /// other control characters ([`Error::InvalidHeaderValue`]).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match check_header(name, value, ACCEPT_RESERVED) {
            Ok(()) => put_header(&mut self.extra, name, value.as_bytes()),
            Err(e) => self.fail(e),
        }
        self
    }

    /// The subprotocol chosen so far.
    pub fn chosen_protocol(&self) -> Option<&'r str> {
        self.protocol
    }

    /// Appends the 101 to `dst`, or reports the first mistake made while building it.
    pub fn write_to(&self, dst: &mut Vec<u8>) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        // RFC 6455 §4.2.2 item 5: status line, Upgrade, Connection, Sec-WebSocket-Accept.
        dst.extend_from_slice(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        );
        let accept = crate::accept::accept_key_bytes(self.request.key_bytes());
        put_header(dst, "Sec-WebSocket-Accept", &accept);
        if let Some(p) = self.protocol {
            put_header(dst, "Sec-WebSocket-Protocol", p.as_bytes());
        }
        match self.deflate {
            None if self.extensions.is_empty() => {}
            None => put_header(dst, "Sec-WebSocket-Extensions", self.extensions.as_bytes()),
            Some((answer, at)) => {
                // `extensions` is `a, b` before the answer's place and `, c` after it
                // (or `c` when the answer comes first).
                let (before, after) = self.extensions.split_at(at);
                let after = after.strip_prefix(", ").unwrap_or(after);
                dst.extend_from_slice(b"Sec-WebSocket-Extensions: ");
                dst.extend_from_slice(before.as_bytes());
                if !before.is_empty() {
                    dst.extend_from_slice(b", ");
                }
                answer.write_to(dst);
                if !after.is_empty() {
                    dst.extend_from_slice(b", ");
                    dst.extend_from_slice(after.as_bytes());
                }
                dst.extend_from_slice(b"\r\n");
            }
        }
        dst.extend_from_slice(&self.extra);
        dst.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The 101's bytes, or the first mistake made while building it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let deflate = if self.deflate.is_some() {
            DeflateResponse::MAX_LEN
        } else {
            0
        };
        let mut out = Vec::with_capacity(160 + self.extensions.len() + deflate + self.extra.len());
        self.write_to(&mut out)?;
        Ok(out)
    }
}

/// A refusal: any status, headers and body, sent with `Content-Length` and
/// `Connection: close` (the server closes after it).
///
/// Every [`Error`] becomes one through [`Error::to_rejection`]; a server that refuses
/// for its own reasons (authentication, routing, load) builds one here.
///
/// ```
/// use ws_handshake::Rejection;
///
/// let bytes = Rejection::new(401)
///     .header("WWW-Authenticate", "Bearer")
///     .body("login first")
///     .to_bytes()
///     .unwrap();
/// assert_eq!(
///     bytes,
///     b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 11\r\n\
///       Connection: close\r\n\r\nlogin first"
/// );
/// let injected = Rejection::new(302).header("Location", "/a\r\nSet-Cookie: x=1");
/// assert_eq!(injected.to_bytes(), Err(ws_handshake::Error::InvalidHeaderValue));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Rejection {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    error: Option<Error>,
}

impl Rejection {
    /// A rejection with `status`, which must be three digits (else
    /// [`Error::InvalidStatus`] from [`to_bytes`](Rejection::to_bytes)).
    pub fn new(status: u16) -> Self {
        let mut r = Rejection::trusted(status);
        if !(100..=999).contains(&status) {
            r.error = Some(Error::InvalidStatus);
        }
        r
    }

    /// A rejection built by this crate, whose inputs need no checks.
    pub(crate) fn trusted(status: u16) -> Self {
        Rejection {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            error: None,
        }
    }

    /// Adds a header this crate chose (a constant name, a checked value).
    pub(crate) fn push_trusted(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    pub(crate) fn set_body(&mut self, body: Vec<u8>) {
        self.body = body;
    }

    /// Adds a header. The name must be a token other than `Content-Length`,
    /// `Connection` and `Transfer-Encoding`, which the rejection writes itself; the
    /// value must not hold CR, LF or other control characters.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match check_header(name, value, REJECTION_RESERVED) {
            Ok(()) => self.push_trusted(name, value),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Sets the body; `Content-Length` follows it.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers added so far, in order (without `Content-Length` and `Connection`).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The body.
    pub fn content(&self) -> &[u8] {
        &self.body
    }

    /// The rejection's bytes, or the first mistake made while building it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(self.encode()),
        }
    }

    /// The bytes, for a rejection known to be valid.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(self.status.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        for (n, v) in &self.headers {
            put_header(&mut out, n, v.as_bytes());
        }
        put_header(
            &mut out,
            "Content-Length",
            self.body.len().to_string().as_bytes(),
        );
        put_header(&mut out, "Connection", b"close");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

impl From<&Error> for Rejection {
    fn from(e: &Error) -> Self {
        e.to_rejection()
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("error", &self.error)
            .finish()
    }
}

/// The reason phrase for the statuses a handshake uses (RFC 7231 §6.1, RFC 6585);
/// empty for others, which RFC 7230 §3.1.2 allows.
fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        414 => "URI Too Long",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks() {
        assert_eq!(check_header("X-A", "b", &[]), Ok(()));
        assert_eq!(check_header("X A", "b", &[]), Err(Error::InvalidHeaderName));
        assert_eq!(check_header("", "b", &[]), Err(Error::InvalidHeaderName));
        assert_eq!(
            check_header("X-A:", "b", &[]),
            Err(Error::InvalidHeaderName)
        );
        assert_eq!(
            check_header("content-LENGTH", "1", REJECTION_RESERVED),
            Err(Error::ReservedHeader)
        );
        assert_eq!(
            check_header("X-A", "b\rc", &[]),
            Err(Error::InvalidHeaderValue)
        );
    }

    #[test]
    fn unknown_status_has_an_empty_reason() {
        let b = Rejection::new(499).to_bytes().unwrap();
        assert!(b.starts_with(b"HTTP/1.1 499 \r\n"));
    }

    #[test]
    fn status_must_be_three_digits() {
        assert_eq!(Rejection::new(99).to_bytes(), Err(Error::InvalidStatus));
        assert_eq!(Rejection::new(1000).to_bytes(), Err(Error::InvalidStatus));
    }

    #[test]
    fn first_mistake_is_the_one_reported() {
        let r = Rejection::new(400)
            .header("Bad Name", "x")
            .header("X", "\n");
        assert_eq!(r.to_bytes(), Err(Error::InvalidHeaderName));
    }
}
