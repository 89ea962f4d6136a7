//! Plain HTTP requests through the public API: what `parse_http_request` hands back for
//! a head that is not a WebSocket upgrade, and how it agrees with `parse_request`.

mod common;

use common::*;
use ws_handshake::{parse_http_request, parse_request, Error, HttpRequest, Limits, Malformed};

fn http(head: &[u8]) -> HttpRequest {
    match parse_http_request(head, &Limits::default()) {
        Ok(Some((r, n))) => {
            assert_eq!(n, head.len());
            r
        }
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(head)),
    }
}

#[test]
fn plain_get_with_query_and_headers() {
    let head = b"GET /rooms/lobby?since=42&x HTTP/1.1\r\nHost: chat.example\r\n\
        Accept: text/html\r\nCookie: a=1\r\ncookie: b=2\r\nX-Raw: \xff\r\n\r\n";
    let err = parse_request(head, &Limits::default()).unwrap_err();
    assert_eq!(err, Error::MissingUpgrade);
    assert!(err.is_not_upgrade());

    let r = http(head);
    assert_eq!(r.method(), "GET");
    assert_eq!(r.version(), 1);
    assert_eq!(r.target(), "/rooms/lobby?since=42&x");
    assert_eq!(r.path(), "/rooms/lobby");
    assert_eq!(r.query(), Some("since=42&x"));
    assert_eq!(r.host(), Some("chat.example"));
    assert_eq!(r.header("accept"), Some("text/html"));
    assert_eq!(r.header("ACCEPT"), Some("text/html"));
    assert_eq!(r.headers("Cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
    assert_eq!(r.header("x-raw"), None); // not UTF-8
    assert_eq!(r.header_bytes("x-raw"), Some(&b"\xff"[..]));
    assert_eq!(r.header("x-missing"), None);
    assert_eq!(r.iter().count(), 5);
    assert_eq!(r.as_bytes(), &head[..]);
}

#[test]
fn post_hands_back_the_head_and_leaves_the_body() {
    let bytes = b"POST /api/send HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    let err = parse_request(bytes, &Limits::default()).unwrap_err();
    assert_eq!(err, Error::MethodNotAllowed);
    assert!(err.is_not_upgrade());

    let (r, n) = parse_http_request(bytes, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(&bytes[n..], b"hello");
    assert_eq!(
        (r.method(), r.path(), r.query()),
        ("POST", "/api/send", None)
    );
    assert_eq!(r.header("content-length"), Some("5"));
}

#[test]
fn a_valid_upgrade_is_still_a_request_and_also_reads_as_http() {
    let r = request(RFC_REQUEST);
    let (h, n) = parse_http_request(RFC_REQUEST.as_bytes(), &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(n, RFC_REQUEST.len());
    assert_eq!(&h, r.as_http());
    assert_eq!((h.method(), h.path()), ("GET", "/chat"));
    assert_eq!(h.header("sec-websocket-key"), Some(r.key()));
    assert_eq!(h.host(), Some(r.host()));
}

#[test]
fn http_1_0_and_a_lone_upgrade_are_not_upgrades() {
    let old = b"GET / HTTP/1.0\r\n\r\n";
    assert!(parse_request(old, &Limits::default())
        .unwrap_err()
        .is_not_upgrade());
    let r = http(old);
    assert_eq!((r.version(), r.host()), (0, None));

    // RFC 7230 §6.7: an Upgrade that Connection does not name is to be ignored.
    let lone = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n";
    let err = parse_request(lone, &Limits::default()).unwrap_err();
    assert_eq!(err, Error::MissingConnectionUpgrade);
    assert!(err.is_not_upgrade());
    assert_eq!(http(lone).header("upgrade"), Some("websocket"));
}

#[test]
fn broken_handshakes_and_bad_heads_are_not_plain_requests() {
    // Asked for the upgrade, got it wrong: refused as a handshake.
    for (from, to) in [
        ("Version: 13", "Version: 8"),
        ("Key: dGhlIHNhbXBsZSBub25jZQ==", "Key: short"),
        ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
        ("Host: server.example.com\r\n", ""),
    ] {
        let e = refused(&RFC_REQUEST.replace(from, to));
        assert!(!e.is_not_upgrade(), "{e:?}");
    }
    for e in [
        Error::HeadTooLarge,
        Error::TooManyHeaders,
        Error::TargetTooLong,
        Error::Malformed(Malformed::Token),
        Error::InvalidTarget,
        Error::MissingHost,
        Error::OriginNotAllowed,
    ] {
        assert!(!e.is_not_upgrade(), "{e:?}");
    }
}

#[test]
fn http_rules_and_limits_apply_to_plain_requests() {
    let limits = Limits::default();
    let parse = |s: &str| parse_http_request(s.as_bytes(), &limits);
    assert_eq!(parse("GET / HTTP/1.1\r\nHost: a"), Ok(None));
    assert_eq!(parse("GET / HTTP/1.1\r\n\r\n"), Err(Error::MissingHost));
    assert_eq!(
        parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        Err(Error::DuplicateHost)
    );
    assert_eq!(
        parse("GET /#top HTTP/1.1\r\nHost: a\r\n\r\n"),
        Err(Error::InvalidTarget)
    );
    assert_eq!(
        parse("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        Err(Error::Malformed(Malformed::Token))
    );
    let tight = Limits::default().with_max_target_len(4);
    assert_eq!(
        parse_http_request(b"GET /index.html", &tight),
        Err(Error::TargetTooLong)
    );
    let tight = Limits::default().with_max_headers(1);
    assert_eq!(
        parse_http_request(b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n", &tight),
        Err(Error::TooManyHeaders)
    );
    let tight = Limits::default().with_max_head_size(20);
    assert_eq!(
        parse_http_request(b"GET / HTTP/1.1\r\nHost: a\r\n", &tight),
        Err(Error::HeadTooLarge)
    );
}
