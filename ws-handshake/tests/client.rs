//! The client side through the public API: building requests and checking every way a
//! server's answer can be wrong (RFC 6455 §4.1).

mod common;

use common::*;
use ws_handshake::{
    accept_key, parse_request, parse_response, ClientRequest, Error, Limits, Reply,
};

const NONCE: [u8; 16] = *b"the sample nonce"; // key dGhlIHNhbXBsZSBub25jZQ==
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn offer() -> ClientRequest {
    ClientRequest::new("server.example.com", "/chat")
        .nonce(NONCE)
        .protocol("chat")
        .protocol("superchat")
        .extension("permessage-deflate; client_max_window_bits")
}

fn answer(extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
    )
}

fn parse(bytes: &str) -> Result<Option<(Reply, usize)>, Error> {
    parse_response(bytes.as_bytes(), &offer(), &Limits::default())
}

fn accepted(bytes: &str) -> ws_handshake::Accepted {
    match parse(bytes) {
        Ok(Some((Reply::Accepted(a), n))) => {
            assert_eq!(n, bytes.len());
            a
        }
        other => panic!("{other:?}"),
    }
}

fn refused(bytes: &[u8]) -> (ws_handshake::Refused, usize) {
    match parse_response(bytes, &offer(), &Limits::default()) {
        Ok(Some((Reply::Refused(r), n))) => (r, n),
        other => panic!("{other:?}"),
    }
}

#[test]
fn request_bytes() {
    let bytes = offer()
        .port(8080)
        .query("a=1")
        .header("Origin", "http://server.example.com")
        .header("Cookie", "id=1")
        .to_bytes()
        .unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "GET /chat?a=1 HTTP/1.1\r\nHost: server.example.com:8080\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
         Origin: http://server.example.com\r\nCookie: id=1\r\n\r\n"
    );
}

#[test]
fn default_ports_are_left_out_of_host() {
    let host = |r: ClientRequest| {
        let (req, _) = parse_request(&r.to_bytes().unwrap(), &Limits::default())
            .unwrap()
            .unwrap();
        req.host().to_owned()
    };
    assert_eq!(host(ClientRequest::new("h", "/").port(80)), "h");
    assert_eq!(host(ClientRequest::new("h", "/").port(443)), "h:443");
    assert_eq!(
        host(ClientRequest::new("h", "/").secure(true).port(443)),
        "h"
    );
    assert_eq!(
        host(ClientRequest::new("h", "/").secure(true).port(80)),
        "h:80"
    );
    assert_eq!(
        host(ClientRequest::new("::1", "/").port(9001)),
        "[::1]:9001"
    );
}

#[test]
fn keys_are_fresh_and_valid() {
    let a = ClientRequest::new("h", "/");
    let b = ClientRequest::new("h", "/");
    assert_ne!(a.key(), b.key());
    for r in [a, b] {
        let (req, _) = parse_request(&r.to_bytes().unwrap(), &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(req.key(), r.key());
    }
}

#[test]
fn request_builder_refuses_bad_input() {
    let cases = [
        (ClientRequest::new("", "/"), Error::InvalidHost),
        (ClientRequest::new("a b", "/"), Error::InvalidHost),
        (ClientRequest::new("h\r\nX: 1", "/"), Error::InvalidHost),
        (ClientRequest::new("h", "chat"), Error::InvalidPath),
        (ClientRequest::new("h", "/a b"), Error::InvalidPath),
        (ClientRequest::new("h", "/a?b"), Error::InvalidPath),
        (ClientRequest::new("h", "/a\r\n"), Error::InvalidPath),
        (
            ClientRequest::new("h", "/").query("a#b"),
            Error::InvalidPath,
        ),
        (
            ClientRequest::new("h", "/").query("a b"),
            Error::InvalidPath,
        ),
        (
            ClientRequest::new("h", "/").protocol("a b"),
            Error::InvalidOffer,
        ),
        (
            ClientRequest::new("h", "/").protocol(""),
            Error::InvalidOffer,
        ),
        (
            ClientRequest::new("h", "/").extension("a, b"),
            Error::InvalidOffer,
        ),
        (
            ClientRequest::new("h", "/").extension("a; =1"),
            Error::InvalidOffer,
        ),
        (
            ClientRequest::new("h", "/").extension(""),
            Error::InvalidOffer,
        ),
        (
            ClientRequest::new("h", "/").header("Cookie", "a\r\nX-Evil: 1"),
            Error::InvalidHeaderValue,
        ),
        (
            ClientRequest::new("h", "/").header("Host", "other"),
            Error::ReservedHeader,
        ),
        (
            ClientRequest::new("h", "/").header("Sec-WebSocket-Key", "x"),
            Error::ReservedHeader,
        ),
        (
            ClientRequest::new("h", "/").header("X Y", "1"),
            Error::InvalidHeaderName,
        ),
    ];
    for (r, e) in cases {
        assert_eq!(r.to_bytes(), Err(e), "{r:?}");
    }
}

#[test]
fn valid_101_with_protocol_and_extension() {
    let a = accepted(&answer(
        "Sec-WebSocket-Protocol: superchat\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\nSet-Cookie: x=1\r\n",
    ));
    assert_eq!(a.protocol(), Some("superchat"));
    let exts: Vec<_> = a.extensions().collect();
    assert_eq!(exts.len(), 1);
    assert_eq!(exts[0].param("server_max_window_bits"), Some(Some("10")));
    assert_eq!(a.header("set-cookie"), Some("x=1"));
    assert_eq!(a.headers("SET-COOKIE").count(), 1);
    assert_eq!(a.iter().count(), 6);
    assert_eq!(accepted(&answer("")).protocol(), None);
}

#[test]
fn token_edge_cases_in_the_101() {
    for (upgrade, connection) in [
        ("WebSocket", "upgrade"),
        ("websocket", "keep-alive, Upgrade"),
        ("h2c, websocket", "UPGRADE"),
    ] {
        let s = answer("")
            .replace("Upgrade: websocket", &format!("Upgrade: {upgrade}"))
            .replace("Connection: Upgrade", &format!("Connection: {connection}"));
        accepted(&s);
    }
}

#[test]
fn bytes_after_the_101_are_handed_on_and_prefixes_wait() {
    let head = answer("");
    let mut bytes = head.clone().into_bytes();
    bytes.extend_from_slice(b"\x81\x05hello");
    let Ok(Some((Reply::Accepted(_), n))) = parse_response(&bytes, &offer(), &Limits::default())
    else {
        panic!()
    };
    assert_eq!(&bytes[n..], b"\x81\x05hello");
    for k in 0..head.len() {
        assert_eq!(
            parse_response(&bytes[..k], &offer(), &Limits::default()),
            Ok(None)
        );
    }
}

#[test]
fn every_way_a_101_can_be_wrong() {
    let ok = answer("");
    let cases = [
        (
            ok.replace("Upgrade: websocket\r\n", ""),
            Error::MissingUpgrade,
        ),
        (
            ok.replace("Upgrade: websocket", "Upgrade: h2c"),
            Error::MissingUpgrade,
        ),
        (
            ok.replace("Connection: Upgrade\r\n", ""),
            Error::MissingConnectionUpgrade,
        ),
        (
            ok.replace("Connection: Upgrade", "Connection: close"),
            Error::MissingConnectionUpgrade,
        ),
        (
            ok.replace(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n"), ""),
            Error::MissingAccept,
        ),
        (
            ok.replace(ACCEPT, &accept_key("AAAAAAAAAAAAAAAAAAAAAA==")),
            Error::AcceptMismatch,
        ),
        (
            ok.replace(ACCEPT, &ACCEPT.to_lowercase()),
            Error::AcceptMismatch,
        ),
        (
            answer(&format!("Sec-WebSocket-Accept: {}\r\n", accept_key("x"))),
            Error::AcceptMismatch,
        ),
        (
            answer("Sec-WebSocket-Protocol: v2\r\n"),
            Error::UnexpectedProtocol,
        ),
        (
            answer("Sec-WebSocket-Protocol: CHAT\r\n"),
            Error::UnexpectedProtocol,
        ),
        (
            answer("Sec-WebSocket-Protocol: chat, superchat\r\n"),
            Error::UnexpectedProtocol,
        ),
        (
            answer("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
            Error::UnexpectedProtocol,
        ),
        (
            answer("Sec-WebSocket-Protocol: a b\r\n"),
            Error::InvalidProtocolHeader,
        ),
        (
            answer("Sec-WebSocket-Extensions: x-other\r\n"),
            Error::UnexpectedExtension,
        ),
        (
            answer("Sec-WebSocket-Extensions: permessage-deflate; =\r\n"),
            Error::InvalidExtensionHeader,
        ),
        (
            ok.replace("HTTP/1.1 101", "HTTP/1.0 101"),
            Error::UnsupportedHttpVersion,
        ),
    ];
    for (bytes, err) in cases {
        let got = parse(&bytes);
        assert_eq!(got, Err(err.clone()), "{bytes:?}");
        assert!(matches!(err.status(), 400 | 502));
    }
}

#[test]
fn a_refusal_waits_for_its_content_length_body() {
    let bytes =
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nX-Why: origin\r\n\r\nforbidden\x81\x00";
    let head_len = bytes.len() - 11;
    for k in 0..head_len + 9 {
        assert_eq!(
            parse_response(&bytes[..k], &offer(), &Limits::default()),
            Ok(None),
            "{k}"
        );
    }
    let (r, n) = refused(bytes);
    assert_eq!(n, head_len + 9);
    assert_eq!(r.status(), 403);
    assert_eq!(r.reason(), "Forbidden");
    assert_eq!(r.header("x-why"), Some("origin"));
    assert_eq!(r.headers("content-length").collect::<Vec<_>>(), ["9"]);
    assert_eq!(r.iter().count(), 2);
    assert_eq!(r.body(), b"forbidden");
}

#[test]
fn a_refusal_without_length_has_an_empty_body_here() {
    let bytes = b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\nrest";
    let (r, n) = refused(bytes);
    assert_eq!((r.status(), r.body()), (426, &b""[..]));
    assert_eq!(&bytes[n..], b"rest");
    let bytes = b"HTTP/1.1 500 \r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc";
    let (r, n) = refused(bytes);
    assert_eq!((r.status(), r.reason(), r.body()), (500, "", &b""[..]));
    assert_eq!(&bytes[n..], b"3\r\nabc");
}

#[test]
fn refusal_limits_and_bad_lengths() {
    let limits = Limits::default().with_max_body_size(4);
    let bytes = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(
        parse_response(bytes, &offer(), &limits),
        Err(Error::BodyTooLarge)
    );
    let unlimited = Limits::default().with_max_body_size(usize::MAX);
    let huge = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\n\r\n",
        usize::MAX
    );
    assert_eq!(
        parse_response(huge.as_bytes(), &offer(), &unlimited),
        Err(Error::BodyTooLarge)
    );
    assert_eq!(
        parse("HTTP/1.1 403 Forbidden\r\nContent-Length: five\r\n\r\n"),
        Err(Error::InvalidContentLength)
    );
    let long = format!("HTTP/1.1 403 Forbidden\r\nX: {}", "a".repeat(100));
    let limits = Limits::default().with_max_head_size(64);
    assert_eq!(
        parse_response(long.as_bytes(), &offer(), &limits),
        Err(Error::HeadTooLarge)
    );
    assert_eq!(
        parse_response(&long.as_bytes()[..63], &offer(), &limits),
        Ok(None)
    );
}

#[test]
fn server_rejections_read_back_as_refusals() {
    let err = parse_request(
        with_line("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8").as_bytes(),
        &Limits::default(),
    )
    .unwrap_err();
    let bytes = err.to_bytes();
    let (r, n) = refused(&bytes);
    assert_eq!(n, bytes.len());
    assert_eq!(r.status(), 426);
    assert_eq!(r.header("Sec-WebSocket-Version"), Some("13"));
    assert_eq!(r.body(), format!("{err}\n").as_bytes());
}
