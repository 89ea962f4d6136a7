//! Handshakes the server refuses before any hook runs: the origin policy, the
//! head limits, broken upgrades; and a subprotocol the hook chose that the
//! client never offered. Each checks the exact answer a client reads and that
//! the server closes the connection after it.

mod common;

use std::net::SocketAddr;
use std::sync::mpsc::Receiver;

use common::*;
use tungstenite::Message as W;
use ws_handshake::{Limits, OriginPolicy};

/// A refusal as the client reads it, up to the server's FIN.
struct Answer {
    status_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` as is and reads the whole answer: `http_bytes` returns
/// only once the server has closed the connection, so every caller also
/// checks that the connection ends after the answer.
fn answer(addr: SocketAddr, request: &[u8]) -> Answer {
    let text = http_bytes(addr, request);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_owned();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line");
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    let answer = Answer {
        status_line,
        headers,
        body: body.to_owned(),
    };
    // RFC 7230 §6.1: the server says it closes, and (read to EOF above) does.
    assert_eq!(answer.header("Connection"), Some("close"), "{text}");
    assert_eq!(
        answer.header("Content-Length"),
        Some(answer.body.len().to_string().as_str()),
        "{text}"
    );
    answer
}

/// An upgrade request with the usual fields and `extra` header lines.
fn upgrade(target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// No hook saw any of the refused requests: the next `on_connect` is the
/// probe's, and after shutdown the only `on_close` is the probe's too.
fn only_the_probe_reached_the_handler(server: ws_server::Server, rx: &Receiver<Ev>) {
    probe_with(server, rx, &[]);
}

/// [`only_the_probe_reached_the_handler`], the probe's request carrying `headers`.
fn probe_with(server: ws_server::Server, rx: &Receiver<Ev>, headers: &[(&'static str, &str)]) {
    let (mut probe, _) =
        try_connect_with(server.local_addr(), "/probe", headers).expect("probe upgrade");
    let (conn, path) = wait_for(rx, |ev| match ev {
        Ev::Connect(c, path) => Some((c, path)),
        _ => None,
    });
    assert_eq!(path, "/probe", "on_connect ran for a refused handshake");
    probe.send(W::text("ok")).unwrap();
    assert_eq!(read_msg(&mut probe), W::text("ok"));
    drop(probe);
    server.shutdown(WAIT);
    for ev in rx.try_iter() {
        match ev {
            Ev::Connect(_, path) => panic!("on_connect ran for {path}"),
            Ev::Close { id, .. } => assert_eq!(id, conn.id(), "on_close of a refused handshake"),
            _ => {}
        }
    }
}

on_both_bridges!(foreign_origin_is_refused_with_403_and_an_allowed_one_upgrades);
/// RFC 6455 §4.2.2 item 4 / §10.2: a server that checks `Origin` and does not
/// accept it "MUST return an appropriate HTTP error code (e.g., 403
/// Forbidden)", before the upgrade; `on_connect` never hears of it.
fn foreign_origin_is_refused_with_403_and_an_allowed_one_upgrades(bridge: Bridge) {
    let (server, rx) = start_with(
        builder(bridge)
            .origin_policy(OriginPolicy::allow(["http://good.example"]).require_origin()),
    );
    let addr = server.local_addr();

    let foreign = answer(
        addr,
        upgrade("/evil", "Origin: http://evil.example\r\n").as_bytes(),
    );
    assert_eq!(foreign.status_line, "HTTP/1.1 403 Forbidden");
    assert_eq!(foreign.body, "origin not allowed\n");
    assert_eq!(foreign.header("Upgrade"), None);
    assert_eq!(foreign.header("Sec-WebSocket-Accept"), None);

    // require_origin: no Origin at all is refused the same way.
    let missing = answer(addr, upgrade("/none", "").as_bytes());
    assert_eq!(missing.status_line, "HTTP/1.1 403 Forbidden");
    assert_eq!(missing.body, "missing Origin header\n");

    // Through a real client too: the refusal is an HTTP 403, not an upgrade.
    let status = refusal_status(try_connect_with(
        addr,
        "/evil",
        &[("Origin", "http://evil.example")],
    ));
    assert_eq!(status, 403);

    // The allowed origin (compared ASCII case-insensitively) upgrades.
    let (mut ws, resp) =
        try_connect_with(addr, "/good", &[("Origin", "http://GOOD.example")]).expect("upgrade");
    assert_eq!(resp.status(), 101);
    let (conn, path) = wait_for(&rx, |ev| match ev {
        Ev::Connect(c, path) => Some((c, path)),
        _ => None,
    });
    assert_eq!(path, "/good", "on_connect ran for a refused origin");
    ws.send(W::text("hello")).unwrap();
    assert_eq!(read_msg(&mut ws), W::text("hello"));
    ws.close(None).unwrap();
    drain_to_end(&mut ws);
    assert_eq!(wait_close(&rx, conn.id()).1, 1005);
    probe_with(server, &rx, &[("Origin", "http://good.example")]);
}

fn small_limits(bridge: Bridge) -> ws_server::ServerBuilder {
    builder(bridge).handshake_limits(
        Limits::default()
            .with_max_head_size(1024)
            .with_max_headers(8)
            .with_max_target_len(64),
    )
}

on_both_bridges!(head_over_the_size_limit_is_431);
/// RFC 7230 §3.2.5: "A server that receives a request header field, or set of
/// fields, larger than it wishes to process MUST respond with an appropriate
/// 4xx (Client Error) status code"; ws-handshake's is 431 (RFC 6585 §5).
fn head_over_the_size_limit_is_431(bridge: Bridge) {
    let (server, rx) = start_with(small_limits(bridge));
    // A whole head of about 2 KiB, one write: the server reads it all, so its
    // close after the answer is a FIN, not a reset that could eat the answer.
    let pad = format!("X-Pad: {}\r\n", "a".repeat(2000));
    let got = answer(server.local_addr(), upgrade("/big", &pad).as_bytes());
    assert_eq!(
        got.status_line,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert_eq!(got.body, "request head too large\n");
    only_the_probe_reached_the_handler(server, &rx);
}

on_both_bridges!(too_many_header_fields_is_431);
/// RFC 7230 §3.2.5 (see above): more fields than the server processes is a
/// 4xx; ws-handshake answers 431 (RFC 6585 §5).
fn too_many_header_fields_is_431(bridge: Bridge) {
    let (server, rx) = start_with(small_limits(bridge));
    // Five fields of the upgrade, six more: eleven, over the limit of eight,
    // and far under the 1 KiB head limit.
    let extra: String = (0..6).map(|i| format!("X-H{i}: v\r\n")).collect();
    let request = upgrade("/many", &extra);
    assert!(request.len() < 1024);
    let got = answer(server.local_addr(), request.as_bytes());
    assert_eq!(
        got.status_line,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert_eq!(got.body, "too many header fields\n");
    only_the_probe_reached_the_handler(server, &rx);
}

on_both_bridges!(target_over_the_length_limit_is_414);
/// RFC 7230 §3.1.1: "A server that receives a request-target longer than any
/// URI it wishes to parse MUST respond with a 414 (URI Too Long) status code."
fn target_over_the_length_limit_is_414(bridge: Bridge) {
    let (server, rx) = start_with(small_limits(bridge));
    let target = format!("/{}", "t".repeat(100));
    let got = answer(server.local_addr(), upgrade(&target, "").as_bytes());
    assert_eq!(got.status_line, "HTTP/1.1 414 URI Too Long");
    assert_eq!(got.body, "request target too long\n");
    // At the limit it is served.
    let at_limit = format!("/{}", "t".repeat(63));
    let mut ws = connect(server.local_addr(), &at_limit);
    let (conn, path) = wait_for(&rx, |ev| match ev {
        Ev::Connect(c, path) => Some((c, path)),
        _ => None,
    });
    assert_eq!(path, at_limit);
    ws.close(None).unwrap();
    drain_to_end(&mut ws);
    wait_close(&rx, conn.id());
    only_the_probe_reached_the_handler(server, &rx);
}

on_both_bridges!(missing_or_bad_key_is_400);
/// RFC 6455 §4.2.1 item 5: the request must carry "A |Sec-WebSocket-Key|
/// header field with a base64-encoded value that, when decoded, is 16 bytes
/// in length"; a handshake that does not match "MUST" be answered with "an
/// appropriate error code (such as 400 Bad Request)".
fn missing_or_bad_key_is_400(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let addr = server.local_addr();
    let without_key = "GET /nokey HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let got = answer(addr, without_key.as_bytes());
    assert_eq!(got.status_line, "HTTP/1.1 400 Bad Request");
    assert_eq!(got.body, "missing Sec-WebSocket-Key header\n");

    // "c2hvcnQ=" is the base64 of 5 bytes, not 16.
    let short_key = without_key.replace(
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version",
    );
    let got = answer(addr, short_key.as_bytes());
    assert_eq!(got.status_line, "HTTP/1.1 400 Bad Request");
    assert_eq!(
        got.body,
        "Sec-WebSocket-Key is not the base64 of 16 bytes\n"
    );
    only_the_probe_reached_the_handler(server, &rx);
}

on_both_bridges!(version_8_is_426_naming_version_13);
/// RFC 6455 §4.4: a server that does not speak the requested version "MUST
/// abort the WebSocket handshake" with "an appropriate HTTP error code (such
/// as 426 Upgrade Required) and a |Sec-WebSocket-Version| header field
/// indicating the version(s) the server is capable of understanding".
fn version_8_is_426_naming_version_13(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let request =
        upgrade("/v8", "").replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let got = answer(server.local_addr(), request.as_bytes());
    assert_eq!(got.status_line, "HTTP/1.1 426 Upgrade Required");
    assert_eq!(got.header("Sec-WebSocket-Version"), Some("13"));
    assert_eq!(got.header("Upgrade"), Some("websocket"));
    assert_eq!(got.header("Sec-WebSocket-Accept"), None);
    only_the_probe_reached_the_handler(server, &rx);
}

on_both_bridges!(subprotocol_the_client_did_not_offer_is_refused_with_500);
/// RFC 6455 §4.2.2 item 5.4: the subprotocol the server selects "MUST be
/// derived from the client's handshake, specifically by selecting one of the
/// values from the |Sec-WebSocket-Protocol| field". `/proto`'s on_connect
/// picks `chat` whatever was offered: ws-handshake refuses to write that 101
/// and the client gets 500 instead; on_connect accepted with a state, so
/// on_close runs, with 1011 and ws-handshake's reason.
fn subprotocol_the_client_did_not_offer_is_refused_with_500(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let addr = server.local_addr();
    let offers: [&[(&'static str, &str)]; 2] = [&[], &[("Sec-WebSocket-Protocol", "superchat")]];
    for offer in offers {
        match try_connect_with(addr, "/proto", offer) {
            Err(tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 500, "offer {offer:?}");
                assert_eq!(resp.headers().get("sec-websocket-protocol"), None);
                assert_eq!(resp.headers().get("x-test"), None);
                assert_eq!(
                    resp.body().as_deref(),
                    Some(&b"chosen subprotocol was not offered by the client\n"[..])
                );
            }
            Err(e) => panic!("offer {offer:?}: expected a 500, got {e}"),
            Ok(_) => panic!("offer {offer:?}: upgraded with a protocol it did not offer"),
        }
        let conn = wait_connect(&rx);
        assert_eq!(
            wait_close(&rx, conn.id()),
            (
                true,
                1011,
                "chosen subprotocol was not offered by the client".to_owned()
            ),
            "offer {offer:?}"
        );
        assert!(!conn.is_open());
    }
    // Offered among others, it is chosen, and on_close follows the real end.
    let request = upgrade("/proto", "Sec-WebSocket-Protocol: superchat, chat\r\n");
    let (raw, head) = Raw::connect_with(addr, &request, b"");
    assert!(
        head.contains("\r\nSec-WebSocket-Protocol: chat\r\n"),
        "{head}"
    );
    let conn = wait_connect(&rx);
    drop(raw);
    assert_eq!(wait_close(&rx, conn.id()).1, 1006);
    server.shutdown(WAIT);
}
