//! The client side of the opening handshake: build the request (RFC 6455 §4.1) and
//! check the server's answer.

use std::fmt;

use crate::accept::{accept_key_bytes, key_for_nonce};
use crate::extension::{is_extension_list, Extension};
use crate::head::{Head, Span};
use crate::origin::split_authority;
use crate::response::{check_header, put_header};
use crate::token::{elements, is_token, is_token_list, list_contains, trim_ows};
use crate::{deflate, DeflateParams, Error, Limits};

/// Headers [`ClientRequest`] writes itself.
const CLIENT_RESERVED: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// A client's opening handshake (RFC 6455 §4.1), with a fresh random key.
///
/// A builder: each call checks its input and the first mistake is reported by
/// [`to_bytes`](ClientRequest::to_bytes). Paths and queries are sent as given, so
/// characters outside visible ASCII must be percent-encoded by the caller.
///
/// ```
/// use ws_handshake::{parse_response, ClientRequest, Limits, Reply};
///
/// let request = ClientRequest::from_url("ws://example.com:8080/chat?room=1")
///     .unwrap()
///     .protocol("chat")
///     .header("Origin", "http://example.com:8080");
/// let bytes = request.to_bytes().unwrap();
/// assert!(bytes.starts_with(b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\n"));
///
/// // ... send `bytes`, then feed what comes back to `parse_response` until it is Some:
/// let mut answer = format!(
///     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///      Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
///     ws_handshake::accept_key(request.key()),
/// )
/// .into_bytes();
/// answer.extend_from_slice(b"\x81\x02hi"); // the server's first frame, same packet
/// let limits = Limits::default();
/// match parse_response(&answer, &request, &limits).unwrap() {
///     Some((Reply::Accepted(accepted), consumed)) => {
///         assert_eq!(accepted.protocol(), Some("chat"));
///         assert_eq!(&answer[consumed..], b"\x81\x02hi"); // handed on
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRequest {
    host: String,
    port: Option<u16>,
    secure: bool,
    path: String,
    query: Option<String>,
    key: String,
    protocols: Vec<String>,
    extensions: Vec<String>,
    extra: Vec<u8>,
    error: Option<Error>,
}

impl ClientRequest {
    /// A request for `path` on `host` (a name, an IPv4 address, or an IPv6 address with
    /// or without brackets), on the default port, with a random key.
    ///
    /// RFC 6455 §4.1 item 7: the key is a nonce "randomly selected for each connection".
    pub fn new(host: &str, path: &str) -> Self {
        let mut r = ClientRequest {
            host: String::new(),
            port: None,
            secure: false,
            path: String::new(),
            query: None,
            key: key_for_nonce(rand::random()),
            protocols: Vec::new(),
            extensions: Vec::new(),
            extra: Vec::new(),
            error: None,
        };
        match normalise_host(host) {
            Some(h) => r.host = h,
            None => r.fail(Error::InvalidHost),
        }
        r.set_path(path);
        r
    }

    /// A request for a `ws://` or `wss://` URL (RFC 6455 §3): host, optional port, path
    /// and query. A fragment or user information is an [`Error::InvalidUrl`].
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let (scheme, rest) = url.split_once("://").ok_or(Error::InvalidUrl)?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(Error::InvalidUrl);
        };
        // RFC 6455 §3: "Fragment identifiers ... MUST NOT be used on these URIs."
        if url.contains('#') {
            return Err(Error::InvalidUrl);
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(end);
        if authority.contains('@') {
            return Err(Error::InvalidUrl);
        }
        let (host, port) = split_authority(authority).ok_or(Error::InvalidUrl)?;
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let path = if path.is_empty() { "/" } else { path };
        let mut r = ClientRequest::new(host, path).secure(secure);
        r.port = port;
        if let Some(q) = query {
            r = r.query(q);
        }
        match r.error.take() {
            Some(_) => Err(Error::InvalidUrl),
            None => Ok(r),
        }
    }

    fn fail(&mut self, e: Error) {
        self.error.get_or_insert(e);
    }

    fn set_path(&mut self, path: &str) {
        // RFC 7230 §5.3.1 origin-form: absolute-path [ "?" query ].
        let ok = path.starts_with('/') && path.bytes().all(|b| is_target_byte(b) && b != b'?');
        if ok {
            self.path = path.to_owned();
        } else {
            self.fail(Error::InvalidPath);
        }
    }

    /// The port, when not the scheme's default (80, or 443 when
    /// [`secure`](ClientRequest::secure)); it is then written in `Host`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Whether the connection runs over TLS (`wss`): this only changes the default port
    /// left out of `Host`; TLS is the caller's.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The query, without `?`, already percent-encoded.
    pub fn query(mut self, query: &str) -> Self {
        if query.bytes().all(is_target_byte) {
            self.query = Some(query.to_owned());
        } else {
            self.fail(Error::InvalidPath);
        }
        self
    }

    /// Offers a subprotocol (RFC 6455 §4.1 item 10), most preferred first; it must be a
    /// token, else [`Error::InvalidOffer`].
    pub fn protocol(mut self, protocol: &str) -> Self {
        if is_token(protocol.as_bytes()) {
            self.protocols.push(protocol.to_owned());
        } else {
            self.fail(Error::InvalidOffer);
        }
        self
    }

    /// Offers an extension, written as its `Sec-WebSocket-Extensions` element
    /// (`permessage-deflate; client_max_window_bits`), RFC 6455 §9.1.
    pub fn extension(mut self, element: &str) -> Self {
        let element = element.trim_matches([' ', '\t']);
        if !element.is_empty() && !element.contains(',') && is_extension_list(element.as_bytes()) {
            self.extensions.push(element.to_owned());
        } else {
            self.fail(Error::InvalidOffer);
        }
        self
    }

    /// Offers permessage-deflate (RFC 7692) asking for `params`, written the way
    /// browsers write it: `DeflateParams::default()` offers
    /// `permessage-deflate; client_max_window_bits`, what Chromium, Node's `ws` and
    /// Python's `websockets` send.
    ///
    /// - `server_no_context_takeover`, `client_no_context_takeover`: sent when true
    ///   (§7.1.1.1 asks the server not to take over its context; §7.1.1.2 tells it the
    ///   client will not);
    /// - `server_max_window_bits` below 15: sent as a limit the server must answer
    ///   within (§7.1.2.1);
    /// - `client_max_window_bits`: always sent, to accept the server's limit on the
    ///   client's window (§7.1.2.2); below 15 with the value, as the largest the client
    ///   will use.
    ///
    /// A window outside 8..=15 is an [`Error::InvalidOffer`]. [`parse_response`] checks
    /// the server's answer and gives the agreed parameters in
    /// [`Accepted::deflate`]; what the client actually does may be less than it asked
    /// for (the server may add no-context-takeover flags and smaller windows).
    ///
    /// ```
    /// use ws_handshake::{ClientRequest, DeflateParams};
    ///
    /// let request = ClientRequest::new("example.com", "/").deflate(DeflateParams {
    ///     server_max_window_bits: 12,
    ///     client_max_window_bits: 12,
    ///     ..DeflateParams::default()
    /// });
    /// let bytes = String::from_utf8(request.to_bytes().unwrap()).unwrap();
    /// assert!(bytes.contains(
    ///     "\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; \
    ///      client_max_window_bits=12\r\n"
    /// ));
    /// ```
    pub fn deflate(mut self, params: DeflateParams) -> Self {
        match deflate::offer(&params) {
            Some(element) => self.extensions.push(element),
            None => self.fail(Error::InvalidOffer),
        }
        self
    }

    /// Adds a header (`Origin`, `Cookie`, `Authorization`, ...). The name must be a
    /// token the handshake does not write itself; the value must not hold CR, LF or
    /// other control characters.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match check_header(name, value, CLIENT_RESERVED) {
            Ok(()) => put_header(&mut self.extra, name, value.as_bytes()),
            Err(e) => self.fail(e),
        }
        self
    }

    /// Uses `nonce` for the key instead of a random one: for reproducible tests only,
    /// RFC 6455 §4.1 asks for a fresh random nonce per connection.
    pub fn nonce(mut self, nonce: [u8; 16]) -> Self {
        self.key = key_for_nonce(nonce);
        self
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The subprotocols offered.
    pub fn protocols(&self) -> impl Iterator<Item = &str> {
        self.protocols.iter().map(String::as_str)
    }

    /// Appends the request to `dst`, or reports the first mistake made building it.
    pub fn write_to(&self, dst: &mut Vec<u8>) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        dst.extend_from_slice(b"GET ");
        dst.extend_from_slice(self.path.as_bytes());
        if let Some(q) = &self.query {
            dst.push(b'?');
            dst.extend_from_slice(q.as_bytes());
        }
        dst.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        dst.extend_from_slice(self.host.as_bytes());
        let default_port = if self.secure { 443 } else { 80 };
        match self.port {
            Some(p) if p != default_port => {
                dst.push(b':');
                dst.extend_from_slice(p.to_string().as_bytes());
            }
            _ => {}
        }
        // RFC 6455 §4.1 items 5, 6, 7, 9.
        dst.extend_from_slice(b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        put_header(dst, "Sec-WebSocket-Key", self.key.as_bytes());
        dst.extend_from_slice(b"Sec-WebSocket-Version: 13\r\n");
        if !self.protocols.is_empty() {
            put_header(
                dst,
                "Sec-WebSocket-Protocol",
                self.protocols.join(", ").as_bytes(),
            );
        }
        if !self.extensions.is_empty() {
            put_header(
                dst,
                "Sec-WebSocket-Extensions",
                self.extensions.join(", ").as_bytes(),
            );
        }
        dst.extend_from_slice(&self.extra);
        dst.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The request's bytes, or the first mistake made building it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(192 + self.path.len() + self.extra.len());
        self.write_to(&mut out)?;
        Ok(out)
    }
}

impl fmt::Debug for ClientRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRequest")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("protocols", &self.protocols)
            .field("extensions", &self.extensions)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// RFC 3986 request-target characters, as sent: visible ASCII but `#`.
fn is_target_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'#'
}

/// The host as written in `Host`: a reg-name or IPv4 as is, an IPv6 in brackets.
fn normalise_host(host: &str) -> Option<String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.is_empty() {
        return None;
    }
    if bare.contains(':') {
        // RFC 3986 §3.2.2: an IPv6 literal is written in brackets.
        let ok = bare
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        return ok.then(|| format!("[{bare}]"));
    }
    let ok = host.len() == bare.len()
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b));
    ok.then(|| bare.to_owned())
}

/// What a server answered to a [`ClientRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A valid `101 Switching Protocols`: the connection now speaks WebSocket.
    Accepted(Accepted),
    /// Any other status: the server refused, and says why in the status, headers and
    /// body.
    Refused(Refused),
}

/// A server's `101 Switching Protocols`, checked against the request (RFC 6455 §4.1).
#[derive(Clone, PartialEq, Eq)]
pub struct Accepted {
    head: Head,
    protocol: Option<Span>,
    deflate: Option<DeflateParams>,
}

impl Accepted {
    /// The subprotocol the server chose, one of those offered.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.map(|p| self.head.str(p))
    }

    /// The permessage-deflate parameters agreed, if the server accepted the extension
    /// (RFC 7692): checked against the offers, and tightened by the client's own hints
    /// (an offered `client_no_context_takeover` or `client_max_window_bits=N` holds
    /// whatever the server answered, §7.1.1.2, §7.1.2.2).
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// The extensions the server accepted, with their parameters, all among the offers.
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'_>> {
        self.head
            .get_all("sec-websocket-extensions")
            .flat_map(Extension::parse_list)
    }

    /// The first UTF-8 value of the header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.get(name)
    }

    /// Every UTF-8 value of the header `name`, in order.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.get_all(name)
    }

    /// Every header field, (name, raw value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head.iter()
    }
}

impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field("protocol", &self.protocol())
            .field("deflate", &self.deflate)
            .field("headers", &self.head)
            .finish()
    }
}

/// A server's answer other than 101: its status, reason, headers and body.
#[derive(Clone, PartialEq, Eq)]
pub struct Refused {
    head: Head,
    status: u16,
    reason: Span,
    body: Vec<u8>,
}

impl Refused {
    /// The status code (`403`, `426`, ...).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, possibly empty.
    pub fn reason(&self) -> &str {
        self.head.str(self.reason)
    }

    /// The first UTF-8 value of the header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.get(name)
    }

    /// Every UTF-8 value of the header `name`, in order.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.get_all(name)
    }

    /// Every header field, (name, raw value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head.iter()
    }

    /// The body, as delimited by `Content-Length`; empty without one (see
    /// [`parse_response`]).
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

impl fmt::Debug for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused")
            .field("status", &self.status)
            .field("reason", &self.reason())
            .field("headers", &self.head)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// Parses and checks a server's answer to `request` from the bytes buffered so far.
///
/// - `Ok(None)`: incomplete; call again with more bytes.
/// - `Ok(Some((Reply::Accepted(a), consumed)))`: a valid 101 took `buf[..consumed]`;
///   what follows is already WebSocket frames, the caller's to keep.
/// - `Ok(Some((Reply::Refused(r), consumed)))`: another status. Its body is delimited by
///   `Content-Length` (RFC 7230 §3.3.3): the call returns `Ok(None)` until all of it
///   is buffered, so `consumed` covers head and body. A refusal without
///   `Content-Length`, or with `Transfer-Encoding`, is returned as soon as its head is
///   complete, with an empty body: its body is then the rest of the connection, up to
///   the server's close, and is not decoded here. A 1xx, 204 or 304 has no body.
/// - `Err(e)`: the answer breaks RFC 6455 §4.1 (a bad accept key, a subprotocol or
///   extension not offered, ...) or a limit: the client MUST fail the connection.
///
/// Limits: `max_head_size` and `max_headers` as for requests; a refusal's body may be
/// at most `max_body_size`, checked from `Content-Length` before any of it is buffered.
pub fn parse_response(
    buf: &[u8],
    request: &ClientRequest,
    limits: &Limits,
) -> Result<Option<(Reply, usize)>, Error> {
    let window = &buf[..buf.len().min(limits.head_limit())];
    let mut stack = [httparse::EMPTY_HEADER; 64];
    let mut heap = Vec::new();
    let wanted = limits.header_slots(window.len());
    let slots = if wanted <= stack.len() {
        &mut stack[..wanted]
    } else {
        heap.resize(wanted, httparse::EMPTY_HEADER);
        &mut heap[..]
    };
    let mut res = httparse::Response::new(slots);
    let len = match res.parse(window)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial if buf.len() >= limits.head_limit() => {
            return Err(Error::HeadTooLarge)
        }
        httparse::Status::Partial => return Ok(None),
    };
    let bytes = &window[..len];
    let status = res.code.unwrap_or_default();
    if status != 101 {
        let body_len = body_length(status, res.headers)?;
        if body_len > limits.max_body_size {
            return Err(Error::BodyTooLarge);
        }
        let end = len.checked_add(body_len).ok_or(Error::BodyTooLarge)?;
        let Some(body) = buf.get(len..end) else {
            return Ok(None);
        };
        let refused = Refused {
            head: Head::new(bytes, res.headers),
            status,
            reason: Span::of(bytes, res.reason.unwrap_or_default().as_bytes()),
            body: body.to_vec(),
        };
        return Ok(Some((Reply::Refused(refused), len + body_len)));
    }
    let accepted = check_accepted(bytes, &res, request)?;
    Ok(Some((Reply::Accepted(accepted), len)))
}

/// RFC 7230 §3.3.3: the length of a refusal's body. Every `Content-Length` must be the
/// same decimal number (§3.3.2); `Transfer-Encoding` takes precedence, and is not
/// decoded here (length 0).
fn body_length(status: u16, headers: &[httparse::Header<'_>]) -> Result<usize, Error> {
    if matches!(status, 100..=199 | 204 | 304) {
        return Ok(0);
    }
    let mut length = None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Ok(0);
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = trim_ows(h.value);
            let n = std::str::from_utf8(v)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<usize>().ok())
                .ok_or(Error::InvalidContentLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(Error::InvalidContentLength);
            }
            length = Some(n);
        }
    }
    Ok(length.unwrap_or(0))
}

/// RFC 6455 §4.1, the client's checks of a 101.
fn check_accepted(
    bytes: &[u8],
    res: &httparse::Response<'_, '_>,
    request: &ClientRequest,
) -> Result<Accepted, Error> {
    if res.version != Some(1) {
        return Err(Error::UnsupportedHttpVersion);
    }
    let expected = accept_key_bytes(request.key.as_bytes());
    let mut upgrade = false;
    let mut connection = false;
    let mut accept = None;
    let mut protocol: Option<&[u8]> = None;
    let mut protocols = 0;
    let mut deflate = None;
    for h in res.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("upgrade") {
            // §4.1 item 2: "|Upgrade| header field whose value is ... "websocket"".
            upgrade |= list_contains(h.value, "websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            // §4.1 item 3: "|Connection| header field ... "Upgrade"".
            connection |= list_contains(h.value, "upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-accept") {
            // §4.1 item 4: the base64 of the SHA-1 of the key and the GUID. Several
            // fields must all agree.
            let ok = trim_ows(h.value) == expected;
            accept = Some(accept.unwrap_or(true) && ok);
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            if !is_token_list(h.value) {
                return Err(Error::InvalidProtocolHeader);
            }
            for p in elements(h.value) {
                protocols += 1;
                protocol = Some(p);
            }
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            if !is_extension_list(h.value) {
                return Err(Error::InvalidExtensionHeader);
            }
            // §4.1 item 5: "If the response includes a |Sec-WebSocket-Extensions| header
            // field and this header field indicates the use of an extension that was not
            // present in the client's handshake ..., the client MUST _Fail the WebSocket
            // Connection_."
            let value = std::str::from_utf8(h.value).unwrap_or_default();
            for answered in Extension::parse_list(value) {
                let offered = request
                    .extensions
                    .iter()
                    .flat_map(|e| Extension::parse_list(e))
                    .any(|o| o.name().eq_ignore_ascii_case(answered.name()));
                if !offered {
                    return Err(Error::UnexpectedExtension);
                }
                if answered.name().eq_ignore_ascii_case(deflate::NAME) {
                    // RFC 7692 §5: "A server MUST NOT accept a PMCE extension
                    // negotiation offer together with another extension if the PMCE
                    // will conflict with the extension on their use of the RSV1 bit."
                    // A second permessage-deflate would use RSV1 too.
                    if deflate.is_some() {
                        return Err(Error::DeflateAcceptedTwice);
                    }
                    let offers = request
                        .extensions
                        .iter()
                        .flat_map(|e| Extension::parse_list(e));
                    deflate = Some(deflate::check_response(&answered, offers)?);
                }
            }
        }
    }
    if !upgrade {
        return Err(Error::MissingUpgrade);
    }
    if !connection {
        return Err(Error::MissingConnectionUpgrade);
    }
    match accept {
        None => return Err(Error::MissingAccept),
        Some(false) => return Err(Error::AcceptMismatch),
        Some(true) => {}
    }
    // §4.1 item 6: a subprotocol "that was not present in the client's handshake (the
    // server has indicated a subprotocol not requested by the client)" fails the
    // connection; the server selects at most one (§4.2.2 item 5.5).
    if protocols > 1 {
        return Err(Error::UnexpectedProtocol);
    }
    if let Some(p) = protocol {
        if !request.protocols.iter().any(|o| o.as_bytes() == p) {
            return Err(Error::UnexpectedProtocol);
        }
    }
    Ok(Accepted {
        head: Head::new(bytes, res.headers),
        protocol: protocol.map(|p| Span::of(bytes, p)),
        deflate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(
            normalise_host("example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(normalise_host("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(normalise_host("::1").as_deref(), Some("[::1]"));
        assert_eq!(normalise_host("[::1]").as_deref(), Some("[::1]"));
        assert_eq!(normalise_host(""), None);
        assert_eq!(normalise_host("[]"), None);
        assert_eq!(normalise_host("a b"), None);
        assert_eq!(normalise_host("a/b"), None);
        assert_eq!(normalise_host("a\r\nX: y"), None);
        assert_eq!(normalise_host("[a.b]"), None);
        assert_eq!(normalise_host("[::g]"), None);
    }

    #[test]
    fn content_length_rules() {
        let h = |v: &'static str| httparse::Header {
            name: "Content-Length",
            value: v.as_bytes(),
        };
        assert_eq!(body_length(403, &[h("12")]), Ok(12));
        assert_eq!(body_length(403, &[h(" 12 "), h("12")]), Ok(12));
        assert_eq!(body_length(403, &[]), Ok(0));
        assert_eq!(body_length(204, &[h("12")]), Ok(0));
        assert_eq!(body_length(304, &[h("x")]), Ok(0));
        for bad in ["", "-1", "+1", "1 2", "0x10", "99999999999999999999999"] {
            assert_eq!(
                body_length(403, &[h(bad)]),
                Err(Error::InvalidContentLength),
                "{bad:?}"
            );
        }
        assert_eq!(
            body_length(403, &[h("1"), h("2")]),
            Err(Error::InvalidContentLength)
        );
        let te = httparse::Header {
            name: "Transfer-Encoding",
            value: b"chunked",
        };
        assert_eq!(body_length(403, &[te, h("12")]), Ok(0));
    }

    #[test]
    fn urls() {
        let r = ClientRequest::from_url("wss://h:443/p?q=1").unwrap();
        let b = String::from_utf8(r.to_bytes().unwrap()).unwrap();
        assert!(b.starts_with("GET /p?q=1 HTTP/1.1\r\nHost: h\r\n"), "{b}");
        let r = ClientRequest::from_url("WS://[::1]:9001").unwrap();
        let b = String::from_utf8(r.to_bytes().unwrap()).unwrap();
        assert!(
            b.starts_with("GET / HTTP/1.1\r\nHost: [::1]:9001\r\n"),
            "{b}"
        );
        let r = ClientRequest::from_url("ws://h?x").unwrap();
        assert!(r.to_bytes().unwrap().starts_with(b"GET /?x HTTP/1.1\r\n"));
        for bad in [
            "http://h/",
            "ws:/h",
            "ws://",
            "ws://h/#f",
            "ws://u@h/",
            "ws://h:x/",
            "ws://h:99999/",
            "ws://h/a b",
            "ws://h/\u{e9}",
        ] {
            assert_eq!(
                ClientRequest::from_url(bad),
                Err(Error::InvalidUrl),
                "{bad}"
            );
        }
    }
}
