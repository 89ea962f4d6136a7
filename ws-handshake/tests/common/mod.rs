//! Helpers shared by the integration tests: sample heads and a reader for responses.
#![allow(dead_code)] // each test binary uses a different subset

use ws_handshake::{parse_request, Error, Limits, Request};

/// RFC 6455 §1.2's example request.
pub(crate) const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A Chromium request (also the benchmark's input).
pub(crate) const CHROMIUM: &[u8] = include_bytes!("../chromium.http");

/// Parses a complete head, expecting success.
pub(crate) fn request(head: &str) -> Request {
    match parse_request(head.as_bytes(), &Limits::default()) {
        Ok(Some((r, n))) => {
            assert_eq!(n, head.len());
            r
        }
        other => panic!("{other:?} for {head:?}"),
    }
}

/// Parses a complete head, expecting an error.
pub(crate) fn refused(head: &str) -> Error {
    match parse_request(head.as_bytes(), &Limits::default()) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?} for {head:?}"),
    }
}

/// RFC_REQUEST with the header line `name: ...` replaced by `line` (or removed if empty).
pub(crate) fn with_line(name: &str, line: &str) -> String {
    let mut out = String::new();
    for l in RFC_REQUEST.split_inclusive("\r\n") {
        if l.to_ascii_lowercase()
            .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        {
            if !line.is_empty() {
                out.push_str(line);
                out.push_str("\r\n");
            }
        } else {
            out.push_str(l);
        }
    }
    out
}

/// A response read back with httparse: status, headers, body.
#[derive(Debug)]
pub(crate) struct Wire {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Wire {
    pub(crate) fn read(bytes: &[u8]) -> Wire {
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut res = httparse::Response::new(&mut slots);
        let n = match res.parse(bytes) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!("{other:?}: {}", String::from_utf8_lossy(bytes)),
        };
        Wire {
            status: res.code.unwrap(),
            headers: res
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8(h.value.to_vec()).unwrap(),
                    )
                })
                .collect(),
            body: bytes[n..].to_vec(),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
