//! The crate's one error type: every violated rule, each with the HTTP status a server
//! answers it with.

use std::fmt;

use crate::response::Rejection;

/// Everything that can be wrong with a handshake, one variant per violated rule.
///
/// A server answers each with [`status()`](Error::status) through
/// [`to_rejection()`](Error::to_rejection) or [`to_bytes()`](Error::to_bytes), which add
/// the headers the status calls for (`Allow: GET` on 405, `Sec-WebSocket-Version: 13`
/// on 426). Incomplete input is never an error: the parsers return `Ok(None)`.
///
/// ```
/// use ws_handshake::{parse_request, Error, Limits};
///
/// let err = parse_request(b"POST /chat HTTP/1.1\r\nHost: a\r\n\r\n", &Limits::default())
///     .unwrap_err();
/// assert_eq!(err, Error::MethodNotAllowed);
/// assert_eq!(err.status(), 405);
/// let reply = String::from_utf8(err.to_bytes()).unwrap();
/// assert!(reply.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
/// assert!(reply.contains("\r\nAllow: GET\r\n"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // --- limits (crate::Limits) ---
    /// The head did not end within `Limits::max_head_size` bytes (431).
    HeadTooLarge,
    /// The head has more than `Limits::max_headers` header fields (431).
    TooManyHeaders,
    /// The request target is longer than `Limits::max_target_len` (414).
    TargetTooLong,

    // --- HTTP/1.1 syntax (RFC 7230) ---
    /// The head is not HTTP/1.x syntax; the kind says where it broke (400).
    Malformed(Malformed),
    /// The request target is neither origin-form (`/path?query`) nor absolute-form
    /// (`ws://host/path`), or carries a fragment (RFC 6455 §3) (400).
    InvalidTarget,

    // --- RFC 6455 §4.2.1, the client's opening handshake ---
    /// §4.2.1 item 1: the method is not GET (405, with `Allow: GET`).
    MethodNotAllowed,
    /// §4.2.1 item 1: the request is older than HTTP/1.1; on the client side, the 101
    /// is not HTTP/1.1 (400).
    UnsupportedHttpVersion,
    /// §4.2.1 item 2: no `Host` header (400).
    MissingHost,
    /// RFC 7230 §5.4: more than one `Host` header (400).
    DuplicateHost,
    /// §4.2.1 item 3 (§4.1 item 2 for a response): `Upgrade` lacks the token
    /// `websocket` (400).
    MissingUpgrade,
    /// §4.2.1 item 4 (§4.1 item 3 for a response): `Connection` lacks the token
    /// `upgrade` (400).
    MissingConnectionUpgrade,
    /// §4.2.1 item 5: no `Sec-WebSocket-Key` (400).
    MissingKey,
    /// §4.2.1 item 5: more than one `Sec-WebSocket-Key` (400).
    DuplicateKey,
    /// §4.2.1 item 5: the key is not the base64 of exactly 16 bytes (400).
    InvalidKey,
    /// §4.2.1 item 6: `Sec-WebSocket-Version` is missing or not 13 (426, with
    /// `Sec-WebSocket-Version: 13`, as §4.4 asks).
    UnsupportedVersion,
    /// §4.1: `Sec-WebSocket-Protocol` is not a comma-separated list of tokens (400).
    InvalidProtocolHeader,
    /// §9.1: `Sec-WebSocket-Extensions` does not follow the extension grammar (400).
    InvalidExtensionHeader,
    /// RFC 6454 §7.3: more than one `Origin` header (400).
    DuplicateOrigin,

    // --- origin policy (crate::OriginPolicy), RFC 6455 §10.2 ---
    /// The policy requires an `Origin` header and there is none (403).
    MissingOrigin,
    /// The `Origin` is not one the policy allows (403).
    OriginNotAllowed,

    // --- misuse: the caller asked to send something invalid (500 on a server) ---
    /// §4.2.2 item 5.5: the chosen subprotocol is not one the client offered.
    ProtocolNotOffered,
    /// §9.1: the answered extension is not one the client offered, or is malformed.
    ExtensionNotOffered,
    /// A header name to send is not a token (RFC 7230 §3.2).
    InvalidHeaderName,
    /// A header value to send holds CR, LF or another control character: sent, it
    /// would end the line and inject headers (RFC 7230 §3.2).
    InvalidHeaderValue,
    /// A header to send is one the handshake writes itself (`Sec-WebSocket-Accept`,
    /// `Content-Length`, ...): sending it twice would make the message ambiguous.
    ReservedHeader,
    /// A status to send is not three digits (100..=999).
    InvalidStatus,
    /// A client's host is empty or not a valid authority host.
    InvalidHost,
    /// A client's path does not start with `/` or holds a character that needs
    /// percent-encoding; or a query holds one.
    InvalidPath,
    /// A client's URL is not `ws://` or `wss://` followed by a host.
    InvalidUrl,
    /// A client's subprotocol or extension offer is not a token or extension.
    InvalidOffer,

    // --- client side: the server's answer (RFC 6455 §4.1) is wrong ---
    /// §4.1 item 4: the 101 has no `Sec-WebSocket-Accept`.
    MissingAccept,
    /// §4.1 item 4: `Sec-WebSocket-Accept` is not the one for the key sent.
    AcceptMismatch,
    /// §4.1 item 6: the 101 names a subprotocol the client did not offer, or several.
    UnexpectedProtocol,
    /// §4.1 item 5: the 101 names an extension the client did not offer.
    UnexpectedExtension,
    /// RFC 7230 §3.3.2: a refusal's `Content-Length` is not one decimal number.
    InvalidContentLength,
    /// A refusal's body is longer than `Limits::max_body_size`.
    BodyTooLarge,

    // --- client side: the server's permessage-deflate answer (RFC 7692 §5) is wrong ---
    /// RFC 7692 §5: the answer "contains an extension parameter not defined for use in
    /// a response".
    DeflateUnknownParam,
    /// RFC 7692 §5: the answer "contains multiple extension parameters with the same
    /// name".
    DeflateDuplicateParam,
    /// RFC 7692 §5: the answer "contains an extension parameter with an invalid value":
    /// a window size that is not 8 to 15 without leading zeros (§7.1.2), a value on a
    /// no-context-takeover parameter (§7.1.1), `client_max_window_bits` without one.
    DeflateInvalidValue,
    /// RFC 7692 §5: "The client does not support the configuration that the response
    /// represents": the answer fits none of the client's offers (§7.1.2.2
    /// `client_max_window_bits` not offered, §7.1.2.1 a server window above the one
    /// asked for, §7.1.1.1 `server_no_context_takeover` asked for and not answered).
    DeflateNotAsOffered,
    /// RFC 7692 §5: permessage-deflate accepted twice; both would use the RSV1 bit, and
    /// "A client that received a response accepting a PMCE extension negotiation offer
    /// together with such an extension MUST _Fail the WebSocket Connection_."
    DeflateAcceptedTwice,
}

/// Where an HTTP/1.x head broke (the kinds `httparse` tells apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Malformed {
    /// A byte that cannot be in a header name.
    HeaderName,
    /// A byte that cannot be in a header value.
    HeaderValue,
    /// A line did not end in CRLF (or LF).
    NewLine,
    /// A response's status code is not three digits.
    Status,
    /// A byte that cannot be in the method or the request target.
    Token,
    /// The version is not `HTTP/1.0` or `HTTP/1.1`.
    Version,
}

impl From<httparse::Error> for Error {
    fn from(e: httparse::Error) -> Self {
        Error::Malformed(match e {
            httparse::Error::TooManyHeaders => return Error::TooManyHeaders,
            httparse::Error::HeaderName => Malformed::HeaderName,
            httparse::Error::HeaderValue => Malformed::HeaderValue,
            httparse::Error::NewLine => Malformed::NewLine,
            httparse::Error::Status => Malformed::Status,
            httparse::Error::Token => Malformed::Token,
            httparse::Error::Version => Malformed::Version,
        })
    }
}

impl Error {
    /// Whether [`parse_request`](crate::parse_request) refused a complete, well-formed
    /// head because it does not ask for a WebSocket upgrade at all: its method is not
    /// GET ([`MethodNotAllowed`](Error::MethodNotAllowed)), it is HTTP/1.0
    /// ([`UnsupportedHttpVersion`](Error::UnsupportedHttpVersion)), or it lacks
    /// `Upgrade: websocket` or `Connection: upgrade`
    /// ([`MissingUpgrade`](Error::MissingUpgrade),
    /// [`MissingConnectionUpgrade`](Error::MissingConnectionUpgrade); RFC 7230 §6.7: an
    /// `Upgrade` not named in `Connection` is to be ignored).
    ///
    /// A server that also serves plain HTTP reads such a head with
    /// [`parse_http_request`](crate::parse_http_request) and answers it itself, or
    /// sends this error's rejection. A head that asks for the upgrade but gets it wrong
    /// (a bad key, version 8, ...) is not one of these: it is refused as a handshake.
    ///
    /// ```
    /// use ws_handshake::{parse_request, Limits};
    ///
    /// let limits = Limits::default();
    /// let page = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    /// assert!(parse_request(page, &limits).unwrap_err().is_not_upgrade());
    /// let version_8 = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 8\r\n\r\n";
    /// assert!(!parse_request(version_8, &limits).unwrap_err().is_not_upgrade());
    /// ```
    pub fn is_not_upgrade(&self) -> bool {
        matches!(
            self,
            Error::MethodNotAllowed
                | Error::UnsupportedHttpVersion
                | Error::MissingUpgrade
                | Error::MissingConnectionUpgrade
        )
    }

    /// The HTTP status a server answers this error with.
    ///
    /// Misuse errors (the server asked to send something invalid) are its own fault:
    /// 500. Errors only a client meets, in a server's answer, are 502 Bad Gateway, what
    /// a proxy would answer when the server behind it broke the handshake.
    pub fn status(&self) -> u16 {
        match self {
            Error::HeadTooLarge | Error::TooManyHeaders => 431,
            Error::TargetTooLong => 414,
            Error::Malformed(_)
            | Error::InvalidTarget
            | Error::UnsupportedHttpVersion
            | Error::MissingHost
            | Error::DuplicateHost
            | Error::MissingUpgrade
            | Error::MissingConnectionUpgrade
            | Error::MissingKey
            | Error::DuplicateKey
            | Error::InvalidKey
            | Error::InvalidProtocolHeader
            | Error::InvalidExtensionHeader
            | Error::DuplicateOrigin => 400,
            Error::MethodNotAllowed => 405,
            Error::UnsupportedVersion => 426,
            Error::MissingOrigin | Error::OriginNotAllowed => 403,
            Error::ProtocolNotOffered
            | Error::ExtensionNotOffered
            | Error::InvalidHeaderName
            | Error::InvalidHeaderValue
            | Error::ReservedHeader
            | Error::InvalidStatus
            | Error::InvalidHost
            | Error::InvalidPath
            | Error::InvalidUrl
            | Error::InvalidOffer => 500,
            Error::MissingAccept
            | Error::AcceptMismatch
            | Error::UnexpectedProtocol
            | Error::UnexpectedExtension
            | Error::InvalidContentLength
            | Error::BodyTooLarge
            | Error::DeflateUnknownParam
            | Error::DeflateDuplicateParam
            | Error::DeflateInvalidValue
            | Error::DeflateNotAsOffered
            | Error::DeflateAcceptedTwice => 502,
        }
    }

    /// The rejection a server sends for this error: [`status()`](Error::status), the
    /// headers the status requires, and the error's message as a `text/plain` body.
    pub fn to_rejection(&self) -> Rejection {
        let mut r = Rejection::trusted(self.status());
        match self {
            // RFC 7231 §6.5.5: a 405 MUST carry an Allow header.
            Error::MethodNotAllowed => r.push_trusted("Allow", "GET"),
            // RFC 6455 §4.4: tell the client which versions the server speaks; RFC 7231
            // §6.5.15: a 426 MUST carry an Upgrade header.
            Error::UnsupportedVersion => {
                r.push_trusted("Upgrade", "websocket");
                r.push_trusted("Sec-WebSocket-Version", "13");
            }
            _ => {}
        }
        r.push_trusted("Content-Type", "text/plain; charset=utf-8");
        r.set_body(format!("{self}\n").into_bytes());
        r
    }

    /// The bytes of [`to_rejection()`](Error::to_rejection), ready to write to the
    /// socket before closing it.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_rejection().encode()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            Error::HeadTooLarge => "request head too large",
            Error::TooManyHeaders => "too many header fields",
            Error::TargetTooLong => "request target too long",
            Error::Malformed(m) => {
                return write!(f, "malformed HTTP head: {}", m.describe());
            }
            Error::InvalidTarget => "request target is not a path or a ws/http URL",
            Error::MethodNotAllowed => "a WebSocket handshake must use GET",
            Error::UnsupportedHttpVersion => "a WebSocket handshake needs HTTP/1.1",
            Error::MissingHost => "missing Host header",
            Error::DuplicateHost => "more than one Host header",
            Error::MissingUpgrade => "Upgrade header lacks the token \"websocket\"",
            Error::MissingConnectionUpgrade => "Connection header lacks the token \"upgrade\"",
            Error::MissingKey => "missing Sec-WebSocket-Key header",
            Error::DuplicateKey => "more than one Sec-WebSocket-Key header",
            Error::InvalidKey => "Sec-WebSocket-Key is not the base64 of 16 bytes",
            Error::UnsupportedVersion => "Sec-WebSocket-Version must be 13",
            Error::InvalidProtocolHeader => "Sec-WebSocket-Protocol is not a list of tokens",
            Error::InvalidExtensionHeader => "Sec-WebSocket-Extensions is malformed",
            Error::DuplicateOrigin => "more than one Origin header",
            Error::MissingOrigin => "missing Origin header",
            Error::OriginNotAllowed => "origin not allowed",
            Error::ProtocolNotOffered => "chosen subprotocol was not offered by the client",
            Error::ExtensionNotOffered => "answered extension was not offered by the client",
            Error::InvalidHeaderName => "header name is not a token",
            Error::InvalidHeaderValue => "header value contains CR, LF or a control character",
            Error::ReservedHeader => "header is written by the handshake itself",
            Error::InvalidStatus => "status is not three digits",
            Error::InvalidHost => "host is not a valid authority host",
            Error::InvalidPath => "path or query is not a valid request target",
            Error::InvalidUrl => "URL is not ws:// or wss:// with a host",
            Error::InvalidOffer => "offered subprotocol or extension is malformed",
            Error::MissingAccept => "server's 101 lacks Sec-WebSocket-Accept",
            Error::AcceptMismatch => "server's Sec-WebSocket-Accept does not match the key",
            Error::UnexpectedProtocol => "server chose a subprotocol that was not offered",
            Error::UnexpectedExtension => "server answered an extension that was not offered",
            Error::InvalidContentLength => "Content-Length is not a decimal number",
            Error::BodyTooLarge => "response body too large",
            Error::DeflateUnknownParam => "permessage-deflate answer has an unknown parameter",
            Error::DeflateDuplicateParam => "permessage-deflate answer repeats a parameter",
            Error::DeflateInvalidValue => "permessage-deflate answer has an invalid value",
            Error::DeflateNotAsOffered => "permessage-deflate answer does not fit the offer",
            Error::DeflateAcceptedTwice => "permessage-deflate accepted more than once",
        };
        f.write_str(msg)
    }
}

impl Malformed {
    fn describe(self) -> &'static str {
        match self {
            Malformed::HeaderName => "invalid header name",
            Malformed::HeaderValue => "invalid header value",
            Malformed::NewLine => "invalid line ending",
            Malformed::Status => "invalid status code",
            Malformed::Token => "invalid method or request target",
            Malformed::Version => "invalid HTTP version",
        }
    }
}

impl std::error::Error for Error {}
