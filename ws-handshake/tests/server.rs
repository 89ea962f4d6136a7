//! The server side through the public API: the request view, every rejection path with
//! its status and headers, header token edge cases, responses and the origin policy.

mod common;

use common::*;
use ws_handshake::{
    accept_key, parse_request, Error, Limits, Malformed, OriginPolicy, Param, Rejection,
};

#[test]
fn rfc_6455_section_1_3_accept_key() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    let r = request(RFC_REQUEST);
    assert_eq!(r.accept_key(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let reply = Wire::read(&r.accept().to_bytes().unwrap());
    assert_eq!(reply.status, 101);
    assert_eq!(
        reply.get("Sec-WebSocket-Accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
}

#[test]
fn request_view() {
    let r = request(RFC_REQUEST);
    assert_eq!(r.path(), "/chat");
    assert_eq!(r.query(), None);
    assert_eq!(r.target(), "/chat");
    assert_eq!(r.host(), "server.example.com");
    assert_eq!(r.origin(), Some("http://example.com"));
    assert_eq!(r.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(r.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
    assert_eq!(r.extensions().count(), 0);
    assert_eq!(r.header("HOST"), Some("server.example.com"));
    assert_eq!(r.header("x-missing"), None);
    assert_eq!(r.iter().count(), 7);
    assert_eq!(r.as_bytes(), RFC_REQUEST.as_bytes());
}

#[test]
fn chromium_request_view() {
    let (r, n) = parse_request(CHROMIUM, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(n, CHROMIUM.len());
    assert_eq!(r.host(), "localhost:8080");
    assert_eq!(r.origin(), Some("http://localhost:8080"));
    assert_eq!(r.header("cookie"), Some("session=4f2a9c1e7b; theme=dark"));
    let exts: Vec<_> = r.extensions().collect();
    assert_eq!(exts.len(), 1);
    assert_eq!(exts[0].name(), "permessage-deflate");
    assert_eq!(
        exts[0].params().collect::<Vec<_>>(),
        [Param {
            name: "client_max_window_bits",
            value: None
        }]
    );
    assert_eq!(OriginPolicy::same_host().check(&r), Ok(()));
}

#[test]
fn query_and_bytes_after_the_head_are_handed_on() {
    let head = RFC_REQUEST.replace("GET /chat ", "GET /chat?room=42&x= ");
    let mut bytes = head.clone().into_bytes();
    bytes.extend_from_slice(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    let (r, n) = parse_request(&bytes, &Limits::default()).unwrap().unwrap();
    assert_eq!(n, head.len());
    assert_eq!(r.path(), "/chat");
    assert_eq!(r.query(), Some("room=42&x="));
    assert_eq!(&bytes[n..], b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
}

#[test]
fn incomplete_is_none_at_every_prefix() {
    for k in 0..RFC_REQUEST.len() {
        assert_eq!(
            parse_request(&RFC_REQUEST.as_bytes()[..k], &Limits::default()),
            Ok(None),
            "prefix {k}"
        );
    }
}

#[test]
fn repeated_headers_are_kept_in_order() {
    let head = RFC_REQUEST.replace(
        "Sec-WebSocket-Protocol: chat, superchat\r\n",
        "Cookie: a=1\r\nSec-WebSocket-Protocol: chat\r\ncookie: b=2\r\nsec-websocket-protocol: superchat, , v2\r\n",
    );
    let r = request(&head);
    assert_eq!(r.headers("Cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
    assert_eq!(r.header("cookie"), Some("a=1"));
    assert_eq!(
        r.protocols().collect::<Vec<_>>(),
        ["chat", "superchat", "v2"]
    );
}

#[test]
fn non_utf8_values_are_kept_as_bytes() {
    let mut bytes = RFC_REQUEST
        .replace("Origin", "X-Latin1: caf\u{0}\r\nOrigin")
        .into_bytes();
    let at = bytes.iter().position(|&b| b == 0).unwrap();
    bytes[at] = 0xe9; // Latin-1 é: obs-text, allowed by RFC 7230 §3.2.6
    let (r, _) = parse_request(&bytes, &Limits::default()).unwrap().unwrap();
    assert_eq!(r.header("x-latin1"), None);
    assert_eq!(r.header_bytes("x-latin1"), Some(&b"caf\xe9"[..]));
    assert_eq!(r.headers("x-latin1").count(), 0);
}

// ---------------------------------------------------------------------------------
// Header token edge cases (RFC 6455 §4.2.1 items 3, 4; RFC 7230 §7)
// ---------------------------------------------------------------------------------

#[test]
fn upgrade_and_connection_are_case_insensitive_token_lists() {
    let good = [
        ("Upgrade", "Upgrade: WebSocket"),
        ("Upgrade", "upgrade: WEBSOCKET"),
        ("Upgrade", "Upgrade: h2c, websocket"),
        ("Upgrade", "Upgrade:websocket"),
        ("Upgrade", "Upgrade: \t websocket \t"),
        ("Upgrade", "Upgrade: ,websocket,"),
        ("Connection", "Connection: keep-alive, Upgrade"),
        ("Connection", "Connection: UPGRADE"),
        ("Connection", "connection: upgrade,keep-alive"),
        (
            "Connection",
            "Connection: keep-alive\r\nConnection: Upgrade",
        ),
        ("Upgrade", "Upgrade: h2c\r\nUpgrade: websocket"),
    ];
    for (name, line) in good {
        request(&with_line(name, line));
    }
    let bad = [
        ("Upgrade", "Upgrade: websocket2", Error::MissingUpgrade),
        ("Upgrade", "Upgrade: web socket", Error::MissingUpgrade),
        ("Upgrade", "Upgrade: websocket/13", Error::MissingUpgrade),
        ("Upgrade", "Upgrade: h2c", Error::MissingUpgrade),
        ("Upgrade", "Upgrade:", Error::MissingUpgrade),
        ("Upgrade", "", Error::MissingUpgrade),
        (
            "Connection",
            "Connection: keep-alive",
            Error::MissingConnectionUpgrade,
        ),
        (
            "Connection",
            "Connection: upgrade-insecure",
            Error::MissingConnectionUpgrade,
        ),
        (
            "Connection",
            "Connection: keep-alive Upgrade",
            Error::MissingConnectionUpgrade,
        ),
        ("Connection", "", Error::MissingConnectionUpgrade),
    ];
    for (name, line, err) in bad {
        assert_eq!(refused(&with_line(name, line)), err, "{line:?}");
    }
}

#[test]
fn header_names_are_case_insensitive() {
    let head = RFC_REQUEST
        .replace("Host:", "hOsT:")
        .replace("Sec-WebSocket-Key:", "SEC-WEBSOCKET-KEY:")
        .replace("Sec-WebSocket-Version:", "sec-websocket-version:")
        .replace("Origin:", "ORIGIN:");
    let r = request(&head);
    assert_eq!(r.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(r.origin(), Some("http://example.com"));
    assert_eq!(
        r.header("sec-websocket-KEY"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
}

#[test]
fn values_are_trimmed_of_optional_whitespace() {
    let head = with_line(
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Key: \t dGhlIHNhbXBsZSBub25jZQ==",
    );
    // httparse drops leading whitespace; trailing whitespace stays in the value and
    // is ignored where the value is a token.
    assert_eq!(request(&head).key(), "dGhlIHNhbXBsZSBub25jZQ==");
}

#[test]
fn extension_offers_with_parameters() {
    let r = request(&with_line(
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\", permessage-deflate\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame",
    ));
    let exts: Vec<_> = r.extensions().collect();
    assert_eq!(
        exts.iter().map(|e| e.name()).collect::<Vec<_>>(),
        [
            "permessage-deflate",
            "permessage-deflate",
            "x-webkit-deflate-frame"
        ]
    );
    assert_eq!(exts[0].param("client_max_window_bits"), Some(None));
    assert_eq!(exts[0].param("server_max_window_bits"), Some(Some("10")));
    assert_eq!(exts[1].params().count(), 0);
}

// ---------------------------------------------------------------------------------
// Every rejection path: status and headers
// ---------------------------------------------------------------------------------

/// Checks `err`'s status and that its rejection bytes carry that status, the extra
/// headers, `Content-Length` matching the body, and `Connection: close`.
fn assert_rejection(err: &Error, status: u16, headers: &[(&str, &str)]) {
    assert_eq!(err.status(), status, "{err:?}");
    let wire = Wire::read(&err.to_bytes());
    assert_eq!(wire.status, status, "{err:?}");
    assert_eq!(wire.get("Connection"), Some("close"), "{err:?}");
    assert_eq!(
        wire.get("Content-Length"),
        Some(wire.body.len().to_string().as_str()),
        "{err:?}"
    );
    assert_eq!(wire.body, format!("{err}\n").into_bytes());
    for (n, v) in headers {
        assert_eq!(wire.get(n), Some(*v), "{err:?} lacks {n}");
    }
    let r = err.to_rejection();
    assert_eq!(r.status(), status);
    assert_eq!(r.to_bytes().unwrap(), err.to_bytes());
}

#[test]
fn method_not_get_is_405_with_allow() {
    for m in ["POST", "HEAD", "PUT", "OPTIONS", "get", "CONNECT"] {
        let e = refused(&RFC_REQUEST.replacen("GET", m, 1));
        assert_eq!(e, Error::MethodNotAllowed);
        assert_rejection(&e, 405, &[("Allow", "GET")]);
    }
}

#[test]
fn http_1_0_is_400() {
    let e = refused(&RFC_REQUEST.replace("HTTP/1.1", "HTTP/1.0"));
    assert_eq!(e, Error::UnsupportedHttpVersion);
    assert_rejection(&e, 400, &[]);
}

#[test]
fn host_missing_or_repeated_is_400() {
    let e = refused(&with_line("Host", ""));
    assert_eq!(e, Error::MissingHost);
    assert_rejection(&e, 400, &[]);
    let e = refused(&with_line("Host", "Host: a\r\nHost: b"));
    assert_eq!(e, Error::DuplicateHost);
    assert_rejection(&e, 400, &[]);
}

#[test]
fn upgrade_or_connection_missing_is_400() {
    let e = refused(&with_line("Upgrade", ""));
    assert_eq!(e, Error::MissingUpgrade);
    assert_rejection(&e, 400, &[]);
    let e = refused(&with_line("Connection", "Connection: close"));
    assert_eq!(e, Error::MissingConnectionUpgrade);
    assert_rejection(&e, 400, &[]);
}

#[test]
fn key_missing_repeated_or_invalid_is_400() {
    let e = refused(&with_line("Sec-WebSocket-Key", ""));
    assert_eq!(e, Error::MissingKey);
    assert_rejection(&e, 400, &[]);
    let e = refused(&with_line(
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ));
    assert_eq!(e, Error::DuplicateKey);
    assert_rejection(&e, 400, &[]);
    for key in [
        "",
        "dGhlIHNhbXBsZSBub25jZQ",       // unpadded
        "dGhlIHNhbXBsZSBub25jZXg=",     // 17 bytes
        "dGhlIHNhbXBsZSBub25j",         // 15 bytes
        "dGhlIHNhbXBsZSBub25jZQ==AAAA", // 19 bytes
        "dGhlIHNhbXBsZSBub25jZR==",     // stray bits
        "dGhlIHNhbXBsZSBub25jZQ-_",     // URL-safe alphabet
        "!!!!!!!!!!!!!!!!!!!!!!==",
    ] {
        let e = refused(&with_line(
            "Sec-WebSocket-Key",
            &format!("Sec-WebSocket-Key: {key}"),
        ));
        assert_eq!(e, Error::InvalidKey, "{key:?}");
        assert_rejection(&e, 400, &[]);
    }
}

#[test]
fn version_not_13_is_426_with_the_supported_version() {
    for line in [
        "",
        "Sec-WebSocket-Version: 8",
        "Sec-WebSocket-Version: 14",
        "Sec-WebSocket-Version: 13, 8",
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 8",
    ] {
        let e = refused(&with_line("Sec-WebSocket-Version", line));
        assert_eq!(e, Error::UnsupportedVersion, "{line:?}");
        assert_rejection(
            &e,
            426,
            &[("Sec-WebSocket-Version", "13"), ("Upgrade", "websocket")],
        );
    }
}

#[test]
fn malformed_protocol_or_extension_header_is_400() {
    let e = refused(&with_line(
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Protocol: chat v2",
    ));
    assert_eq!(e, Error::InvalidProtocolHeader);
    assert_rejection(&e, 400, &[]);
    let e = refused(&with_line(
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions: permessage-deflate; =1",
    ));
    assert_eq!(e, Error::InvalidExtensionHeader);
    assert_rejection(&e, 400, &[]);
}

#[test]
fn repeated_origin_is_400() {
    let e = refused(&with_line("Origin", "Origin: http://a\r\nOrigin: http://b"));
    assert_eq!(e, Error::DuplicateOrigin);
    assert_rejection(&e, 400, &[]);
}

#[test]
fn bad_targets_are_400() {
    for target in ["*", "chat", "/chat#frag", "ftp://h/chat"] {
        let e = refused(&RFC_REQUEST.replace("/chat", target));
        assert_eq!(e, Error::InvalidTarget, "{target}");
        assert_rejection(&e, 400, &[]);
    }
    let r = request(&RFC_REQUEST.replace("/chat", "ws://server.example.com/chat?a"));
    assert_eq!((r.path(), r.query()), ("/chat", Some("a")));
}

#[test]
fn malformed_http_is_400() {
    let cases = [
        (
            "GET /chat HTTP/1.1\r\nHost server\r\n\r\n",
            Malformed::HeaderName,
        ),
        (
            "GET /chat HTTP/1.1\r\nHo st: a\r\n\r\n",
            Malformed::HeaderName,
        ),
        (
            "GET /chat HTTP/1.1\r\nHost: a\x01b\r\n\r\n",
            Malformed::HeaderValue,
        ),
        ("GET /chat HTTP/2.0\r\n\r\n", Malformed::Version),
        ("GET /chat FOO/1.1\r\n\r\n", Malformed::Version),
        ("GET  /chat HTTP/1.1\r\n\r\n", Malformed::Token),
        ("G(T /chat HTTP/1.1\r\n\r\n", Malformed::Token),
        ("GET /chat HTTP/1.1\rHost: a\r\n\r\n", Malformed::NewLine),
    ];
    for (head, kind) in cases {
        let e = refused(head);
        assert_eq!(e, Error::Malformed(kind), "{head:?}");
        assert_rejection(&e, 400, &[]);
    }
}

#[test]
fn head_too_large_is_431_as_soon_as_the_limit_is_crossed() {
    let limits = Limits::default().with_max_head_size(256);
    // A head that never ends: at 255 bytes we still wait, at 256 it is refused.
    let mut endless = RFC_REQUEST.trim_end_matches("\r\n").to_string();
    endless.push_str("\r\nX-Pad: ");
    while endless.len() < 400 {
        endless.push('a');
    }
    assert_eq!(parse_request(&endless.as_bytes()[..255], &limits), Ok(None));
    let e = parse_request(&endless.as_bytes()[..256], &limits).unwrap_err();
    assert_eq!(e, Error::HeadTooLarge);
    assert_eq!(
        parse_request(endless.as_bytes(), &limits),
        Err(Error::HeadTooLarge)
    );
    assert_rejection(&e, 431, &[]);
    // A head of exactly max_head_size bytes is fine.
    let exact = Limits::default().with_max_head_size(RFC_REQUEST.len());
    assert!(parse_request(RFC_REQUEST.as_bytes(), &exact)
        .unwrap()
        .is_some());
    let short = Limits::default().with_max_head_size(RFC_REQUEST.len() - 1);
    assert_eq!(
        parse_request(RFC_REQUEST.as_bytes(), &short),
        Err(Error::HeadTooLarge)
    );
}

#[test]
fn head_limit_is_capped_at_64_kib() {
    let limits = Limits::default().with_max_head_size(1 << 20);
    let pad = "a".repeat(Limits::MAX_HEAD_SIZE);
    let huge = with_line("Origin", &format!("X-Pad: {pad}"));
    assert_eq!(
        parse_request(huge.as_bytes(), &limits),
        Err(Error::HeadTooLarge)
    );
    let at_cap = &huge.as_bytes()[..Limits::MAX_HEAD_SIZE - 1];
    assert_eq!(parse_request(at_cap, &limits), Ok(None));
    // A head just under the cap parses, with positions near the top of the range.
    let big = with_line("Origin", &format!("X-Pad: {}", &pad[..60_000]));
    let (r, n) = parse_request(big.as_bytes(), &limits).unwrap().unwrap();
    assert_eq!(n, big.len());
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    assert_eq!(r.header("x-pad").map(str::len), Some(60_000));
}

#[test]
fn too_many_headers_is_431_before_the_head_ends() {
    let limits = Limits::default().with_max_headers(8);
    // RFC_REQUEST has 7 headers: an 8th is fine, a 9th is refused as soon as its line
    // is complete (httparse counts whole fields), before the head ends.
    let eight = with_line(
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Version: 13\r\nX-A: 1",
    );
    assert!(parse_request(eight.as_bytes(), &limits).unwrap().is_some());
    let nine = with_line(
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Version: 13\r\nX-A: 1\r\nX-B: 2",
    );
    let cut = nine.find("X-B").unwrap() + "X-B: 2\r\n".len();
    assert!(cut < nine.len());
    let e = parse_request(&nine.as_bytes()[..cut], &limits).unwrap_err();
    assert_eq!(e, Error::TooManyHeaders);
    assert_rejection(&e, 431, &[]);
}

#[test]
fn target_too_long_is_414_before_the_target_ends() {
    let limits = Limits::default().with_max_target_len(16);
    let ok = RFC_REQUEST.replace("/chat", "/0123456789abcde"); // 16 bytes
    assert!(parse_request(ok.as_bytes(), &limits).unwrap().is_some());
    let long = RFC_REQUEST.replace("/chat", "/0123456789abcdef"); // 17 bytes
    assert_eq!(
        parse_request(long.as_bytes(), &limits),
        Err(Error::TargetTooLong)
    );
    // Decided from the request line alone, before its end arrives.
    assert_eq!(parse_request(&long.as_bytes()[..4 + 16], &limits), Ok(None));
    let e = parse_request(&long.as_bytes()[..4 + 17], &limits).unwrap_err();
    assert_eq!(e, Error::TargetTooLong);
    assert_rejection(&e, 414, &[]);
    // Default: 2 KiB.
    let huge = RFC_REQUEST.replace("/chat", &format!("/{}", "a".repeat(2048)));
    assert_eq!(
        parse_request(huge.as_bytes(), &Limits::default()),
        Err(Error::TargetTooLong)
    );
}

#[test]
fn an_error_before_the_target_limit_wins() {
    let limits = Limits::default().with_max_target_len(16);
    let bad = "G@T /0123456789abcdefghij HTTP/1.1\r\n\r\n";
    for k in 2..bad.len() {
        assert_eq!(
            parse_request(&bad.as_bytes()[..k], &limits),
            Err(Error::Malformed(Malformed::Token)),
            "{k}"
        );
    }
}

// ---------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------

#[test]
fn accept_with_protocol_extension_and_headers() {
    let r = request(&RFC_REQUEST.replace(
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nSec-WebSocket-Version",
    ));
    let bytes = r
        .accept()
        .protocol("superchat")
        .extension("permessage-deflate; server_max_window_bits=10")
        .header("Set-Cookie", "id=7; HttpOnly")
        .header("Set-Cookie", "theme=dark")
        .to_bytes()
        .unwrap();
    let w = Wire::read(&bytes);
    assert_eq!(w.status, 101);
    assert_eq!(w.get("upgrade"), Some("websocket"));
    assert_eq!(w.get("connection"), Some("Upgrade"));
    assert_eq!(w.get("Sec-WebSocket-Protocol"), Some("superchat"));
    assert_eq!(
        w.get("Sec-WebSocket-Extensions"),
        Some("permessage-deflate; server_max_window_bits=10")
    );
    let cookies: Vec<_> = w
        .headers
        .iter()
        .filter(|(n, _)| n == "Set-Cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["id=7; HttpOnly", "theme=dark"]);
    assert!(w.body.is_empty());
}

#[test]
fn accept_refuses_what_was_not_offered_or_is_unsafe() {
    let r = request(RFC_REQUEST);
    let cases = [
        (r.accept().protocol("Chat"), Error::ProtocolNotOffered),
        (r.accept().protocol(""), Error::ProtocolNotOffered),
        (
            r.accept().extension("permessage-deflate"),
            Error::ExtensionNotOffered,
        ),
        (
            r.accept().header("Set-Cookie", "a=1\r\nX-Evil: 1"),
            Error::InvalidHeaderValue,
        ),
        (r.accept().header("X", "a\nb"), Error::InvalidHeaderValue),
        (r.accept().header("Bad:Name", "v"), Error::InvalidHeaderName),
        (
            r.accept().header("Sec-WebSocket-Accept", "x"),
            Error::ReservedHeader,
        ),
        (
            r.accept().header("connection", "close"),
            Error::ReservedHeader,
        ),
    ];
    for (accept, err) in cases {
        let got = accept.to_bytes().unwrap_err();
        assert_eq!(got, err);
        assert_eq!(got.status(), 500);
    }
    // A later good call does not hide the first mistake.
    assert_eq!(
        r.accept().protocol("nope").protocol("chat").to_bytes(),
        Err(Error::ProtocolNotOffered)
    );
    assert_eq!(r.accept().protocol("chat").chosen_protocol(), Some("chat"));
}

#[test]
fn rejection_with_any_status_headers_and_body() {
    let bytes = Rejection::new(503)
        .header("Retry-After", "5")
        .body(&b"busy"[..])
        .to_bytes()
        .unwrap();
    let w = Wire::read(&bytes);
    assert_eq!(w.status, 503);
    assert_eq!(w.get("Retry-After"), Some("5"));
    assert_eq!(w.get("Content-Length"), Some("4"));
    assert_eq!(w.get("Connection"), Some("close"));
    assert_eq!(w.body, b"busy");
    let r = Rejection::new(418).header("X", "1");
    assert_eq!(r.headers().collect::<Vec<_>>(), [("X", "1")]);
    assert_eq!(r.content(), b"");
    assert_eq!(
        Rejection::new(400).header("Content-Length", "0").to_bytes(),
        Err(Error::ReservedHeader)
    );
}

// ---------------------------------------------------------------------------------
// Origin policy
// ---------------------------------------------------------------------------------

#[test]
fn origin_policies() {
    let with_origin = |o: &str| request(&with_line("Origin", &format!("Origin: {o}")));
    let no_origin = request(&with_line("Origin", ""));

    let same = OriginPolicy::same_host();
    assert_eq!(
        same.check(&with_origin("https://server.example.com")),
        Ok(())
    );
    assert_eq!(
        same.check(&with_origin("http://SERVER.example.com:80")),
        Ok(())
    );
    assert_eq!(same.check(&no_origin), Ok(()));
    for bad in [
        "https://evil.example",
        "https://server.example.com.evil",
        "http://server.example.com:8080",
        "null",
    ] {
        let e = same.check(&with_origin(bad)).unwrap_err();
        assert_eq!(e, Error::OriginNotAllowed, "{bad}");
        assert_rejection(&e, 403, &[]);
    }

    let list = OriginPolicy::allow(vec!["https://app.example".to_string()]).require_origin();
    assert_eq!(list.check(&with_origin("https://APP.example")), Ok(()));
    assert_eq!(
        list.check(&with_origin("http://app.example")),
        Err(Error::OriginNotAllowed)
    );
    let e = list.check(&no_origin).unwrap_err();
    assert_eq!(e, Error::MissingOrigin);
    assert_rejection(&e, 403, &[]);

    assert_eq!(OriginPolicy::any().check(&with_origin("null")), Ok(()));
}
