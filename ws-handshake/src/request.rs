//! The server side of the opening handshake: parse a client's request head from bytes
//! and check it against RFC 6455 §4.2.1.

use std::fmt;
use std::mem::MaybeUninit;

use crate::accept::{accept_key_bytes, is_valid_key};
use crate::extension::{is_extension_list, Extension};
use crate::head::Span;
use crate::http::HttpRequest;
use crate::response::Accept;
use crate::token::{elements, eq_name, is_token_list, list_contains, trim_ows};
use crate::{DeflateOptions, DeflateResponse, Error, Limits, Malformed};

/// Header slots kept on the stack; a `Limits::max_headers` above this costs one
/// allocation per parse.
const STACK_HEADERS: usize = 64;

/// A client's opening handshake, parsed and validated (RFC 6455 §4.2.1).
///
/// It owns a copy of the head's bytes and the positions of its fields in them; every
/// accessor borrows from that copy. Header names are matched ASCII case-insensitively
/// and repeated headers are kept in order.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// The head, its target and its `Host` (always there: §4.2.1 item 2).
    http: HttpRequest,
    key: Span,
    origin: Option<Span>,
}

/// Parses and validates a client's opening handshake from the bytes buffered so far.
///
/// - `Ok(None)`: the head is not complete yet; call again with more bytes (the same
///   bytes plus what arrived since).
/// - `Ok(Some((request, consumed)))`: the head took `buf[..consumed]`; whatever follows
///   (a client's first frames, sent in the same packet) is the caller's to keep.
/// - `Err(e)`: refuse the client with [`e.to_bytes()`](Error::to_bytes), then close.
///
/// The limits are decided on what is buffered, as soon as they are crossed: once `buf`
/// holds [`max_head_size`](Limits::max_head_size) bytes without the end of a head the
/// answer is [`Error::HeadTooLarge`]; once the request target has run past
/// [`max_target_len`](Limits::max_target_len) bytes it is [`Error::TargetTooLong`],
/// before its end arrives. Bytes past `max_head_size` are never looked at. Splitting
/// the input anywhere gives the same result as passing it whole.
///
/// ```
/// use ws_handshake::{parse_request, Limits};
///
/// let bytes = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n\x81\x80";
/// let limits = Limits::default();
/// assert_eq!(parse_request(&bytes[..40], &limits), Ok(None));
/// let (request, consumed) = parse_request(bytes, &limits).unwrap().unwrap();
/// assert_eq!(request.path(), "/chat");
/// assert_eq!(request.query(), Some("room=1"));
/// assert_eq!(&bytes[consumed..], b"\x81\x80"); // the first frame, handed on
/// ```
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, Error> {
    parse_head(buf, limits, validate)
}

/// Reads a request head within `limits` and, once it is complete, hands its bytes and
/// httparse's view of them to `build`: the one head reader of [`parse_request`] and
/// [`parse_http_request`](crate::parse_http_request).
#[inline(always)]
pub(crate) fn parse_head<T>(
    buf: &[u8],
    limits: &Limits,
    build: impl FnOnce(&[u8], &httparse::Request<'_, '_>) -> Result<T, Error>,
) -> Result<Option<(T, usize)>, Error> {
    let window = &buf[..buf.len().min(limits.head_limit())];
    // A target that has run past its limit cuts the parse there: whatever httparse
    // finds wrong before the cut is reported, else the target is too long. Deciding
    // on the same prefix whatever else was buffered keeps split and whole parses equal.
    let cut = target_overflow(window, limits.max_target_len);
    let bytes = cut.map_or(window, |at| &window[..at]);

    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut heap = Vec::new();
    let wanted = limits.header_slots(bytes.len());
    let slots = if wanted <= STACK_HEADERS {
        &mut stack[..wanted]
    } else {
        heap.resize_with(wanted, MaybeUninit::uninit);
        &mut heap[..]
    };
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(bytes, slots)? {
        httparse::Status::Complete(len) if cut.is_none() => {
            build(&bytes[..len], &req).map(|r| Some((r, len)))
        }
        // RFC 7230 §3.1.1: a server that receives a request-target longer than it wishes
        // to parse MUST respond with 414 (URI Too Long).
        _ if cut.is_some() => Err(Error::TargetTooLong),
        // RFC 7230 §3.2.5 / RFC 6585 §5: header fields too large, 431.
        _ if buf.len() >= limits.head_limit() => Err(Error::HeadTooLarge),
        _ => Ok(None),
    }
}

/// Where to cut the parse if the request target runs past `max` bytes: just after its
/// `max + 1`-th byte. The target starts after the first space; it ends at a space (or
/// at a line end, which httparse then reports as an error).
fn target_overflow(window: &[u8], max: usize) -> Option<usize> {
    let start = window.iter().position(|&b| b == b' ')? + 1;
    let scan = window.get(start..)?;
    let limit = max.saturating_add(1);
    if scan.len() < limit {
        return None;
    }
    let ended = scan[..limit]
        .iter()
        .any(|&b| matches!(b, b' ' | b'\r' | b'\n'));
    (!ended).then_some(start + limit)
}

/// The header fields the handshake reads, lowercase, indexed by the constants below;
/// index 0 stands for every other field.
const FIELDS: [&[u8]; 9] = [
    b"",
    b"host",
    b"upgrade",
    b"connection",
    b"origin",
    b"sec-websocket-key",
    b"sec-websocket-version",
    b"sec-websocket-protocol",
    b"sec-websocket-extensions",
];
const OTHER: usize = 0;
const HOST: usize = 1;
const UPGRADE: usize = 2;
const CONNECTION: usize = 3;
const ORIGIN: usize = 4;
const KEY: usize = 5;
const VERSION: usize = 6;
const PROTOCOL: usize = 7;
const EXTENSIONS: usize = 8;

/// The index in [`FIELDS`] of the one field name of each length (no two have the same
/// length), [`OTHER`] where none has it.
static FIELD_BY_LEN: [u8; 25] = {
    let mut table = [OTHER as u8; 25];
    let mut k = 1;
    while k < FIELDS.len() {
        assert!(
            table[FIELDS[k].len()] == OTHER as u8,
            "two names of one length"
        );
        table[FIELDS[k].len()] = k as u8;
        k += 1;
    }
    table
};

/// Which of [`FIELDS`] the header name `name` is: one table look-up by length and one
/// comparison, the same branches whatever the field.
#[inline]
fn field_of(name: &[u8]) -> usize {
    let k = FIELD_BY_LEN
        .get(name.len())
        .map_or(OTHER, |&k| usize::from(k));
    if eq_name(name, FIELDS[k]) {
        k
    } else {
        OTHER
    }
}

/// Checks a complete head against RFC 6455 §4.2.1 and indexes it.
#[inline]
fn validate(bytes: &[u8], req: &httparse::Request<'_, '_>) -> Result<Request, Error> {
    // RFC 6455 §4.2.1 item 1: "An HTTP/1.1 or higher GET request". Methods are
    // case-sensitive (RFC 7231 §4.1).
    if req.method != Some("GET") {
        return Err(Error::MethodNotAllowed);
    }
    if req.version != Some(1) {
        return Err(Error::UnsupportedHttpVersion);
    }
    let target = req.path.unwrap_or_default();
    let (path, query) = split_target(target)?;

    // One pass tallies the fields the handshake reads, with no branch on which field it
    // is (a `match` on the name here compiles to a jump table that mispredicts on
    // nearly every field); the rules are checked after it, on the last value of each,
    // and in a second pass for the rare field sent more than once.
    let mut count = [0u32; FIELDS.len()];
    let mut last: [&[u8]; FIELDS.len()] = [&[]; FIELDS.len()];
    for h in req.headers.iter() {
        let k = field_of(h.name.as_bytes());
        count[k] += 1;
        last[k] = h.value;
    }
    let values = |k: usize| {
        req.headers
            .iter()
            .filter(move |h| eq_name(h.name.as_bytes(), FIELDS[k]))
            .map(|h| h.value)
    };
    let any = |k: usize, test: fn(&[u8]) -> bool| match count[k] {
        0 => false,
        1 => test(last[k]),
        _ => values(k).any(test),
    };
    let every = |k: usize, test: fn(&[u8]) -> bool| match count[k] {
        0 => true,
        1 => test(last[k]),
        _ => values(k).all(test),
    };
    // RFC 6455 §4.2.1 item 3: "An |Upgrade| header field containing the value
    // "websocket", treated as an ASCII case-insensitive value." Upgrade is a list (RFC
    // 7230 §6.7) and may be split over several fields.
    let upgrade = any(UPGRADE, |v| list_contains(v, "websocket"));
    // RFC 6455 §4.2.1 item 4: "A |Connection| header field that includes the token
    // "Upgrade", treated as an ASCII case-insensitive value."
    let connection = any(CONNECTION, |v| list_contains(v, "upgrade"));
    // RFC 6455 §4.2.1 item 6: "A |Sec-WebSocket-Version| header field, with a value of
    // 13." Every such field must say 13.
    let version = (count[VERSION] > 0).then(|| every(VERSION, |v| trim_ows(v) == b"13"));
    // RFC 6455 §4.1: Sec-WebSocket-Protocol is `1#token`.
    let protocols_ok = every(PROTOCOL, is_token_list);
    // RFC 6455 §9.1: the extension grammar.
    let extensions_ok = every(EXTENSIONS, is_extension_list);

    // RFC 6455 §4.2.1 item 2: "A |Host| header field containing the server's authority."
    // RFC 7230 §5.4: more than one Host field is a 400.
    let host = match count[HOST] {
        0 => return Err(Error::MissingHost),
        1 => check_utf8(last[HOST])?,
        _ => return Err(Error::DuplicateHost),
    };
    if !upgrade {
        return Err(Error::MissingUpgrade);
    }
    if !connection {
        return Err(Error::MissingConnectionUpgrade);
    }
    // RFC 6455 §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded
    // value that, when decoded, is 16 bytes in length."
    let key = match count[KEY] {
        0 => return Err(Error::MissingKey),
        1 if is_valid_key(last[KEY]) => last[KEY],
        1 => return Err(Error::InvalidKey),
        _ => return Err(Error::DuplicateKey),
    };
    // RFC 6455 §4.4: a version the server does not speak is answered with 426 and the
    // versions it does.
    if version != Some(true) {
        return Err(Error::UnsupportedVersion);
    }
    if !protocols_ok {
        return Err(Error::InvalidProtocolHeader);
    }
    if !extensions_ok {
        return Err(Error::InvalidExtensionHeader);
    }
    // RFC 6454 §7.3: the Origin header holds one serialized origin.
    let origin = match count[ORIGIN] {
        0 => None,
        1 => Some(check_utf8(last[ORIGIN])?),
        _ => return Err(Error::DuplicateOrigin),
    };

    let span = |part: &[u8]| Span::of(bytes, part);
    Ok(Request {
        key: span(key),
        origin: origin.map(span),
        http: HttpRequest::new(bytes, req, (path, query), Some(host)),
    })
}

/// A header value the request view hands out as text must be UTF-8 (ASCII, checked
/// first, is the usual case and the cheap check).
pub(crate) fn check_utf8(value: &[u8]) -> Result<&[u8], Error> {
    if value.is_ascii() || std::str::from_utf8(value).is_ok() {
        Ok(value)
    } else {
        Err(Error::Malformed(Malformed::HeaderValue))
    }
}

/// Splits a request target into path and query.
///
/// RFC 6455 §4.1 sends the origin-form `/path?query`; RFC 7230 §5.3.2 says a server
/// MUST also accept the absolute-form (`ws://host/path`), whose authority is dropped
/// here. RFC 6455 §3: "Fragment identifiers are meaningless in the context of
/// WebSocket URIs and MUST NOT be used" — a `#` is refused.
pub(crate) fn split_target(target: &str) -> Result<(&str, Option<&str>), Error> {
    if target.contains('#') {
        return Err(Error::InvalidTarget);
    }
    let rest = if target.starts_with('/') {
        target
    } else {
        let (scheme, after) = target.split_once("://").ok_or(Error::InvalidTarget)?;
        let known = ["ws", "wss", "http", "https"];
        if !known.iter().any(|k| scheme.eq_ignore_ascii_case(k)) {
            return Err(Error::InvalidTarget);
        }
        let authority_end = after.find(['/', '?']).unwrap_or(after.len());
        if authority_end == 0 {
            return Err(Error::InvalidTarget);
        }
        &after[authority_end..]
    };
    Ok(match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    })
}

impl Request {
    /// The request target as sent (`/chat?room=1`).
    pub fn target(&self) -> &str {
        self.http.target()
    }

    /// The path of the target, without the query (`/chat`). An absolute-form target
    /// without a path (`ws://host`) gives `/`.
    pub fn path(&self) -> &str {
        self.http.path()
    }

    /// The query of the target, after `?`, if there is one (still percent-encoded).
    pub fn query(&self) -> Option<&str> {
        self.http.query()
    }

    /// The `Host` header (RFC 6455 §4.2.1 item 2; exactly one is required).
    pub fn host(&self) -> &str {
        self.http.host().unwrap_or_default()
    }

    /// The first value of the header `name` (ASCII case-insensitive). `None` if there is
    /// none, or if its value is not UTF-8 (see [`header_bytes`](Request::header_bytes)).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.http.header(name)
    }

    /// The first value of the header `name`, as raw bytes (HTTP allows obs-text).
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.http.header_bytes(name)
    }

    /// Every UTF-8 value of the header `name`, in the order received: repeated headers
    /// (`Cookie`, `Sec-WebSocket-Protocol`, ...) are all kept.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.http.headers(name)
    }

    /// Every header field, (name, raw value), in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.http.iter()
    }

    /// The `Origin` header, if the client sent one (browsers always do; RFC 6455 §4.1
    /// item 8, §10.2). Check it with [`OriginPolicy`](crate::OriginPolicy).
    pub fn origin(&self) -> Option<&str> {
        self.origin.map(|o| self.http.head.str(o))
    }

    /// The `Sec-WebSocket-Key`, checked to be the base64 of 16 bytes.
    pub fn key(&self) -> &str {
        self.http.head.str(self.key)
    }

    /// The `Sec-WebSocket-Accept` value answering [`key()`](Request::key).
    pub fn accept_key(&self) -> String {
        String::from_utf8_lossy(&accept_key_bytes(self.key_bytes())).into_owned()
    }

    /// The subprotocols the client offered, in its order of preference (all
    /// `Sec-WebSocket-Protocol` fields, RFC 6455 §4.1 item 10).
    pub fn protocols(&self) -> impl Iterator<Item = &str> {
        self.http
            .head
            .values("sec-websocket-protocol")
            .flat_map(elements)
            .map(|p| std::str::from_utf8(p).unwrap_or_default())
    }

    /// The extensions the client offered, in order, with their parameters (all
    /// `Sec-WebSocket-Extensions` fields, RFC 6455 §9.1). The same extension may be
    /// offered several times with different parameters.
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'_>> {
        self.http
            .head
            .get_all("sec-websocket-extensions")
            .flat_map(Extension::parse_list)
    }

    /// Negotiates permessage-deflate (RFC 7692) under `options`: the answer to the
    /// first offer that can be accepted, or `None` if the client offered none.
    ///
    /// RFC 7692 §5: "The order of elements is important as it specifies the client's
    /// preference. An element preceding another element has higher preference. It is
    /// recommended that a server accepts PMCEs with higher preference if the server
    /// supports them." An offer with an unknown or repeated parameter or an invalid
    /// value is declined (§5: "A server MUST decline"), not refused: the next one is
    /// tried, and without one the connection goes on uncompressed.
    ///
    /// [`Accept::deflate`](crate::Accept::deflate) puts the answer in the 101; this
    /// is for a server that wants to look before it answers. Nothing is allocated.
    ///
    /// ```
    /// use ws_handshake::{parse_request, DeflateOptions, Limits};
    ///
    /// let bytes = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
    ///     Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=016, \
    ///     permessage-deflate; server_max_window_bits=10; client_max_window_bits\r\n\r\n";
    /// let (request, _) = parse_request(bytes, &Limits::default()).unwrap().unwrap();
    /// // The first offer has an invalid value and is declined; the second is taken.
    /// let answer = request.negotiate_deflate(&DeflateOptions::default()).unwrap();
    /// assert_eq!(
    ///     answer.to_string(),
    ///     "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"
    /// );
    /// assert_eq!(answer.params().server_max_window_bits, 10);
    /// ```
    pub fn negotiate_deflate(&self, options: &DeflateOptions) -> Option<DeflateResponse> {
        self.extensions()
            .find_map(|offer| options.negotiate(&offer))
    }

    /// The head's bytes as received, up to and including the empty line.
    pub fn as_bytes(&self) -> &[u8] {
        self.http.as_bytes()
    }

    /// The request as plain HTTP: its method (`GET`), version and the same target and
    /// headers, for code that handles upgrades and plain requests alike.
    pub fn as_http(&self) -> &HttpRequest {
        &self.http
    }

    /// Starts the `101 Switching Protocols` answer to this request.
    pub fn accept(&self) -> Accept<'_> {
        Accept::new(self)
    }

    /// The raw bytes of the `Sec-WebSocket-Key`, for the response builder.
    pub(crate) fn key_bytes(&self) -> &[u8] {
        self.http.head.slice(self.key)
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("target", &self.target())
            .field("headers", &self.http.head)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn parse(s: &str) -> Result<Option<(Request, usize)>, Error> {
        parse_request(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(split_target("/a/b?x=1&y"), Ok(("/a/b", Some("x=1&y"))));
        assert_eq!(split_target("/"), Ok(("/", None)));
        assert_eq!(split_target("/?"), Ok(("/", Some(""))));
        assert_eq!(split_target("ws://h:80/p?q"), Ok(("/p", Some("q"))));
        assert_eq!(split_target("HTTPS://h"), Ok(("", None)));
        assert_eq!(split_target("wss://h?q"), Ok(("", Some("q"))));
        assert_eq!(split_target("/a#frag"), Err(Error::InvalidTarget));
        assert_eq!(split_target("*"), Err(Error::InvalidTarget));
        assert_eq!(split_target("ftp://h/"), Err(Error::InvalidTarget));
        assert_eq!(split_target("ws:///p"), Err(Error::InvalidTarget));
        assert_eq!(split_target("chat"), Err(Error::InvalidTarget));
    }

    #[test]
    fn absolute_form_path_defaults_to_slash() {
        let s = GOOD.replace("GET /chat ", "GET ws://server.example.com ");
        let (r, _) = parse(&s).unwrap().unwrap();
        assert_eq!(r.path(), "/");
        assert_eq!(r.target(), "ws://server.example.com");
    }

    #[test]
    fn target_overflow_is_found_before_the_target_ends() {
        assert_eq!(target_overflow(b"GET /abc", 3), Some(8));
        assert_eq!(target_overflow(b"GET /ab", 3), None);
        assert_eq!(target_overflow(b"GET /ab HTTP/1.1", 3), None);
        assert_eq!(target_overflow(b"GET /abc HTTP/1.1", 4), None);
        assert_eq!(target_overflow(b"GET", 0), None);
        assert_eq!(target_overflow(b"GET /x", usize::MAX), None);
    }

    #[test]
    fn lowercase_get_is_not_get() {
        // RFC 7231 §4.1: the method token is case-sensitive.
        assert_eq!(
            parse(&GOOD.replace("GET", "get")),
            Err(Error::MethodNotAllowed)
        );
    }

    #[test]
    fn version_must_be_exactly_13_in_every_field() {
        for v in ["13 ", " 13", "\t13"] {
            let s = GOOD.replace("Version: 13", &format!("Version:{v}"));
            assert!(parse(&s).unwrap().is_some(), "{v:?}");
        }
        for v in ["8", "13, 8", "130", "", "1 3"] {
            let s = GOOD.replace("Version: 13", &format!("Version: {v}"));
            assert_eq!(parse(&s), Err(Error::UnsupportedVersion), "{v:?}");
        }
        let twice = GOOD.replace(
            "Version: 13\r\n",
            "Version: 13\r\nSec-WebSocket-Version: 8\r\n",
        );
        assert_eq!(parse(&twice), Err(Error::UnsupportedVersion));
    }

    #[test]
    fn every_repeat_of_a_list_field_is_checked() {
        let with = |extra: &str| GOOD.replace("\r\n\r\n", &format!("\r\n{extra}\r\n\r\n"));
        let ok = with("Sec-WebSocket-Protocol: chat\r\nsec-websocket-protocol: v2");
        let (r, _) = parse(&ok).unwrap().unwrap();
        assert_eq!(r.protocols().collect::<Vec<_>>(), ["chat", "v2"]);
        assert_eq!(
            parse(&with(
                "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: a b"
            )),
            Err(Error::InvalidProtocolHeader)
        );
        assert_eq!(
            parse(&with(
                "Sec-WebSocket-Extensions: x\r\nSec-WebSocket-Extensions: ;"
            )),
            Err(Error::InvalidExtensionHeader)
        );
        // A second Upgrade or Connection field may carry the token.
        let split = GOOD
            .replace("Upgrade: websocket", "Upgrade: h2c\r\nUPGRADE: WebSocket")
            .replace(
                "Connection: Upgrade",
                "Connection: keep-alive\r\nconnection: upgrade",
            );
        assert!(parse(&split).unwrap().is_some());
    }

    #[test]
    fn field_names_are_found_in_any_case_and_only_whole() {
        for (k, name) in FIELDS.iter().enumerate().skip(1) {
            assert_eq!(field_of(name), k);
            assert_eq!(field_of(&name.to_ascii_uppercase()), k);
            assert_eq!(field_of(&name[1..]), OTHER);
        }
        assert_eq!(field_of(b"pragma"), OTHER); // the length of "origin"
        assert_eq!(field_of(b"user-agent"), OTHER); // the length of "connection"
        assert_eq!(field_of(b"x-a-very-long-header-name-indeed"), OTHER);
    }

    #[test]
    fn non_utf8_host_is_malformed() {
        let mut bytes = GOOD.as_bytes().to_vec();
        let at = GOOD.find("server.example").unwrap();
        bytes[at] = 0xff;
        assert_eq!(
            parse_request(&bytes, &Limits::default()),
            Err(Error::Malformed(Malformed::HeaderValue))
        );
    }

    #[test]
    fn a_huge_header_limit_allocates_only_what_the_head_can_hold() {
        let limits = Limits::default().with_max_headers(usize::MAX);
        let (r, _) = parse(GOOD).unwrap().unwrap();
        let (same, _) = parse_request(GOOD.as_bytes(), &limits).unwrap().unwrap();
        assert_eq!(r, same);
    }

    #[test]
    fn more_header_slots_than_the_stack_holds() {
        let limits = Limits::default().with_max_headers(200);
        let mut s = GOOD.trim_end_matches("\r\n").to_string();
        for i in 0..150 {
            s.push_str(&format!("\r\nX-{i}: {i}"));
        }
        s.push_str("\r\n\r\n");
        let (r, n) = parse_request(s.as_bytes(), &limits).unwrap().unwrap();
        assert_eq!(n, s.len());
        assert_eq!(r.header("x-149"), Some("149"));
        let limits = limits.with_max_headers(100);
        assert_eq!(
            parse_request(s.as_bytes(), &limits),
            Err(Error::TooManyHeaders)
        );
    }
}
