//! A plain HTTP request (not an upgrade), as [`Handler::on_http`](crate::Handler::on_http) sees it.
//!
//! Stopgap: ws-handshake's `parse_request` refuses a head that is not a
//! WebSocket upgrade without handing back its path, so for that one case this
//! module reads the head's method, target and headers with httparse. It makes
//! no protocol decision: ws-handshake has already parsed the head, checked its
//! limits and refused it as an upgrade. To be replaced by a ws-handshake API
//! (requested in notes/requests.md).

use std::fmt;

/// A request that is not a WebSocket upgrade (say, `GET /` for a page).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

impl HttpRequest {
    /// The method, e.g. `GET`.
    #[must_use]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path of the request target, without the query.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query (after `?`), if any.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The first header named `name` (ASCII case-insensitive), if it is UTF-8.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Reads a complete head that ws-handshake refused as an upgrade.
    pub(crate) fn from_head(head: &[u8], max_headers: usize) -> Option<HttpRequest> {
        let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
        let mut req = httparse::Request::new(&mut slots);
        match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return None,
        }
        let target = req.path?;
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (target.to_owned(), None),
        };
        Some(HttpRequest {
            method: req.method?.to_owned(),
            path,
            query,
            headers: req
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_get_is_read_with_path_query_and_headers() {
        let head = b"GET /page?room=a&x=1 HTTP/1.1\r\nHost: h\r\nX-Thing: yes\r\n\r\n";
        let r = HttpRequest::from_head(head, 16).unwrap();
        assert_eq!(r.method(), "GET");
        assert_eq!(r.path(), "/page");
        assert_eq!(r.query(), Some("room=a&x=1"));
        assert_eq!(r.header("x-thing"), Some("yes"));
        assert_eq!(r.header("missing"), None);
    }

    #[test]
    fn incomplete_or_broken_heads_are_none() {
        assert_eq!(
            HttpRequest::from_head(b"GET / HTTP/1.1\r\nHost: h\r\n", 16),
            None
        );
        assert_eq!(
            HttpRequest::from_head(b"\x01\x02 nonsense\r\n\r\n", 16),
            None
        );
    }

    #[test]
    fn plain_get_is_refused_by_ws_handshake_as_not_an_upgrade() {
        // The case this module exists for: ws-handshake refuses the head
        // without handing back its path.
        let head = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let err = ws_handshake::parse_request(head, &ws_handshake::Limits::default()).unwrap_err();
        assert_eq!(err, ws_handshake::Error::MissingUpgrade);
    }
}
