//! A plain HTTP/1.x request head, upgrade or not: what a server that also serves pages
//! on its WebSocket port needs when [`parse_request`](crate::parse_request) says the
//! request is not a handshake ([`Error::is_not_upgrade`]).

use std::fmt;

use crate::head::{Head, Span};
use crate::request::{check_utf8, parse_head, split_target};
use crate::token::eq_lower;
use crate::{Error, Limits};

/// A request head, parsed and checked against HTTP/1.1's rules for any request (RFC
/// 7230), not against the WebSocket handshake's.
///
/// Like [`Request`](crate::Request), it owns one copy of the head's bytes and the
/// positions of its fields in them; every accessor borrows from that copy. Header
/// names are matched ASCII case-insensitively and repeated headers are kept in order.
/// A [`Request`](crate::Request) is one of these plus the handshake's fields
/// ([`Request::as_http`](crate::Request::as_http)).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub(crate) head: Head,
    method: Span,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    version: u8,
    target: Span,
    /// Empty for an absolute-form target without a path, which means `/`.
    path: Span,
    query: Option<Span>,
    host: Option<Span>,
}

/// Parses a request head that need not be a WebSocket upgrade, from the bytes buffered
/// so far: any method, HTTP/1.0 or HTTP/1.1.
///
/// It reads the head exactly as [`parse_request`](crate::parse_request) does (same
/// [`Limits`], same incremental `Ok(None)`, same errors for a malformed or oversized
/// head) and checks only the rules every request follows:
/// - the target is origin-form (`/path?query`), absolute-form (`http://host/path`) or,
///   for `OPTIONS`, `*` (RFC 7230 §5.3), without a fragment; else
///   [`Error::InvalidTarget`];
/// - RFC 7230 §5.4: at most one `Host` header ([`Error::DuplicateHost`]), and an
///   HTTP/1.1 request has one ([`Error::MissingHost`]); its value is UTF-8.
///
/// A server that also serves plain HTTP calls it when `parse_request` fails with an
/// error for which [`Error::is_not_upgrade`] holds, on the same bytes. `consumed` is
/// the length of the head; a body, if the method has one, follows it.
///
/// ```
/// use ws_handshake::{parse_http_request, parse_request, Limits};
///
/// let bytes = b"GET /index.html?lang=en HTTP/1.1\r\nHost: example.com\r\nAccept: text/html\r\n\r\n";
/// let limits = Limits::default();
/// let refused = parse_request(bytes, &limits).unwrap_err();
/// assert!(refused.is_not_upgrade());
///
/// let (request, consumed) = parse_http_request(bytes, &limits).unwrap().unwrap();
/// assert_eq!(consumed, bytes.len());
/// assert_eq!((request.method(), request.path()), ("GET", "/index.html"));
/// assert_eq!(request.query(), Some("lang=en"));
/// assert_eq!(request.header("ACCEPT"), Some("text/html"));
/// ```
pub fn parse_http_request(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(HttpRequest, usize)>, Error> {
    parse_head(buf, limits, |bytes, req| {
        let method = req.method.unwrap_or_default();
        let target = req.path.unwrap_or_default();
        // RFC 7230 §5.3.4: the asterisk-form, only for a server-wide OPTIONS.
        let (path, query) = if target == "*" && method == "OPTIONS" {
            (target, None)
        } else {
            split_target(target)?
        };
        let mut host = None;
        for h in req.headers.iter() {
            if eq_lower(h.name.as_bytes(), b"host") {
                // RFC 7230 §5.4: "A server MUST respond with a 400 (Bad Request) status
                // code to ... any request message that contains more than one Host
                // header field".
                if host.is_some() {
                    return Err(Error::DuplicateHost);
                }
                host = Some(check_utf8(h.value)?);
            }
        }
        // RFC 7230 §5.4: "... to any HTTP/1.1 request message that lacks a Host header
        // field".
        if host.is_none() && req.version == Some(1) {
            return Err(Error::MissingHost);
        }
        Ok(HttpRequest::new(bytes, req, (path, query), host))
    })
}

impl HttpRequest {
    /// Indexes a parsed head and copies its `bytes`: `req` was parsed from `bytes`, and
    /// `path`, `query` and `host` are parts of them.
    #[inline]
    pub(crate) fn new(
        bytes: &[u8],
        req: &httparse::Request<'_, '_>,
        (path, query): (&str, Option<&str>),
        host: Option<&[u8]>,
    ) -> HttpRequest {
        let span = |part: &[u8]| Span::of(bytes, part);
        HttpRequest {
            method: span(req.method.unwrap_or_default().as_bytes()),
            version: req.version.unwrap_or_default(),
            target: span(req.path.unwrap_or_default().as_bytes()),
            path: span(path.as_bytes()),
            query: query.map(|q| span(q.as_bytes())),
            host: host.map(span),
            head: Head::new(bytes, req.headers),
        }
    }

    /// The method, e.g. `GET` (case-sensitive, RFC 7231 §4.1).
    pub fn method(&self) -> &str {
        self.head.str(self.method)
    }

    /// The minor HTTP version: `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The request target as sent (`/chat?room=1`).
    pub fn target(&self) -> &str {
        self.head.str(self.target)
    }

    /// The path of the target, without the query (`/chat`). An absolute-form target
    /// without a path (`http://host`) gives `/`; the asterisk-form gives `*`.
    pub fn path(&self) -> &str {
        match self.head.str(self.path) {
            "" => "/",
            p => p,
        }
    }

    /// The query of the target, after `?`, if there is one (still percent-encoded).
    pub fn query(&self) -> Option<&str> {
        self.query.map(|q| self.head.str(q))
    }

    /// The `Host` header; only an HTTP/1.0 request may lack it.
    pub fn host(&self) -> Option<&str> {
        self.host.map(|h| self.head.str(h))
    }

    /// The first value of the header `name` (ASCII case-insensitive). `None` if there is
    /// none, or if its value is not UTF-8 (see
    /// [`header_bytes`](HttpRequest::header_bytes)).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.get(name)
    }

    /// The first value of the header `name`, as raw bytes (HTTP allows obs-text).
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.head.first(name)
    }

    /// Every UTF-8 value of the header `name`, in the order received: repeated headers
    /// (`Cookie`, ...) are all kept.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.get_all(name)
    }

    /// Every header field, (name, raw value), in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head.iter()
    }

    /// The head's bytes as received, up to and including the empty line.
    pub fn as_bytes(&self) -> &[u8] {
        self.head.as_bytes()
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method())
            .field("target", &self.target())
            .field("headers", &self.head)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(HttpRequest, usize)>, Error> {
        parse_http_request(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn host_rules_of_rfc_7230_section_5_4() {
        assert_eq!(parse("GET / HTTP/1.1\r\n\r\n"), Err(Error::MissingHost));
        let (r, _) = parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert_eq!((r.version(), r.host()), (0, None));
        assert_eq!(
            parse("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"),
            Err(Error::DuplicateHost)
        );
    }

    #[test]
    fn asterisk_form_is_for_options_only() {
        let (r, _) = parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((r.path(), r.query()), ("*", None));
        assert_eq!(
            parse("GET * HTTP/1.1\r\nHost: a\r\n\r\n"),
            Err(Error::InvalidTarget)
        );
    }

    #[test]
    fn absolute_form_drops_the_authority() {
        let (r, _) = parse("GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((r.path(), r.target()), ("/", "http://a.example"));
    }
}
