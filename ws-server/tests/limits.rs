//! Limits and misbehaving clients: backpressure, max_connections, handshake
//! timeout, and raw bad input (each closes only its own connection).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use common::*;
use tungstenite::Message as W;
use ws_server::{Backpressure, Error};

/// Sends 16 KiB binary messages to `conn` until the high-water mark refuses one.
fn fill_until_backpressure(conn: &ws_server::Conn) -> Error {
    let chunk = vec![0u8; 16 * 1024];
    for _ in 0..100_000 {
        if let Err(e) = conn.send_binary(&chunk) {
            return e;
        }
    }
    panic!("the high-water mark never refused a send");
}

on_both_bridges!(backpressure_closes_a_client_that_stops_reading_and_spares_others);
fn backpressure_closes_a_client_that_stops_reading_and_spares_others(bridge: Bridge) {
    let (server, rx) = start_with(
        builder(bridge)
            .high_water(64 * 1024)
            .close_timeout(Duration::from_millis(500)),
    );
    let _slow = connect(server.local_addr(), "/"); // never reads
    let slow = wait_connect(&rx);
    let mut fast = connect(server.local_addr(), "/");
    wait_connect(&rx);

    let err = fill_until_backpressure(&slow);
    assert!(
        matches!(
            err,
            Error::Backpressure {
                high_water: 65536,
                ..
            }
        ),
        "{err}"
    );
    // Policy Close: the slow client is being closed with 1008; its queue
    // stays bounded and further sends are refused.
    assert!(matches!(slow.send_text("more"), Err(Error::Closed)));
    // The other client's messages keep flowing meanwhile.
    for i in 0..20 {
        fast.send(W::text(format!("m{i}"))).unwrap();
        assert_eq!(read_msg(&mut fast), W::text(format!("m{i}")));
    }
    // The slow client never answers the close: the close timeout ends it.
    let (_, code, reason) = wait_close(&rx, slow.id());
    assert_eq!((code, reason.as_str()), (1008, "backpressure"));
    drop(fast);
    server.shutdown(WAIT);
}

on_both_bridges!(backpressure_drop_policy_keeps_the_connection);
fn backpressure_drop_policy_keeps_the_connection(bridge: Bridge) {
    let (server, rx) = start_with(
        builder(bridge)
            .high_water(64 * 1024)
            .backpressure(Backpressure::Drop),
    );
    let _slow = connect(server.local_addr(), "/");
    let slow = wait_connect(&rx);
    let err = fill_until_backpressure(&slow);
    assert!(matches!(err, Error::Backpressure { .. }), "{err}");
    assert!(slow.is_open());
    // Control frames are never refused.
    slow.ping(b"still").unwrap();
    drop(_slow);
    server.shutdown(WAIT);
}

on_both_bridges!(over_max_connections_gets_503_before_the_upgrade);
fn over_max_connections_gets_503_before_the_upgrade(bridge: Bridge) {
    let (server, rx) = start_with(builder(bridge).max_connections(1));
    let first = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    match try_connect(server.local_addr(), "/") {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 503),
        Err(e) => panic!("expected 503, got {e}"),
        Ok(_) => panic!("expected 503, got an upgrade"),
    }
    // Once the first is gone, there is room again.
    drop(first);
    wait_close(&rx, conn.id());
    let again = connect(server.local_addr(), "/");
    drop(again);
    server.shutdown(WAIT);
}

on_both_bridges!(half_a_request_is_dropped_at_the_handshake_timeout);
fn half_a_request_is_dropped_at_the_handshake_timeout(bridge: Bridge) {
    let (server, _rx) = start_with(builder(bridge).handshake_timeout(Duration::from_millis(200)));
    let mut slow = TcpStream::connect(server.local_addr()).unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: loc").unwrap();
    let mut buf = [0u8; 64];
    match slow.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to drop us, got {other:?}"),
    }
    // The server keeps serving.
    let mut ws = connect(server.local_addr(), "/");
    ws.send(W::text("alive")).unwrap();
    assert_eq!(read_msg(&mut ws), W::text("alive"));
    drop(ws);
    server.shutdown(WAIT);
}

/// Sends `bad` on one raw connection; expects a close with `code`, the
/// matching on_close, and a second connection still served.
fn bad_input(builder: ws_server::ServerBuilder, bad: &[u8], code: u16) {
    let (server, rx) = start_with(builder);
    let mut good = connect(server.local_addr(), "/");
    let good_conn = wait_connect(&rx);
    let mut raw = Raw::connect(server.local_addr(), b"");
    let conn = wait_connect(&rx);
    raw.send_raw(bad);
    assert_eq!(raw.close_code(), code);
    raw.read_to_eof();
    assert_eq!(wait_close(&rx, conn.id()).1, code);
    good.send(W::text("unaffected")).unwrap();
    assert_eq!(read_msg(&mut good), W::text("unaffected"));
    assert!(good_conn.is_open());
    drop(good);
    server.shutdown(WAIT);
}

on_both_bridges!(unmasked_frame_closes_with_1002);
fn unmasked_frame_closes_with_1002(bridge: Bridge) {
    bad_input(builder(bridge), &[0x81, 0x02, b'h', b'i'], 1002);
}

on_both_bridges!(oversized_frame_header_closes_with_1009_before_the_payload);
fn oversized_frame_header_closes_with_1009_before_the_payload(bridge: Bridge) {
    // A binary frame announcing 1 GiB; not one payload byte is sent.
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&(1u64 << 30).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    bad_input(builder(bridge).max_frame_size(1024), &frame, 1009);
}

on_both_bridges!(invalid_utf8_closes_with_1007);
fn invalid_utf8_closes_with_1007(bridge: Bridge) {
    bad_input(
        builder(bridge),
        &masked_frame(0x81, &[b'a', 0xff, 0xfe]),
        1007,
    );
}

on_both_bridges!(invalid_close_code_closes_with_1002);
fn invalid_close_code_closes_with_1002(bridge: Bridge) {
    // Close code 999 may not appear on the wire.
    bad_input(
        builder(bridge),
        &masked_frame(0x88, &999u16.to_be_bytes()),
        1002,
    );
}

on_both_bridges!(answers_to_messages_before_a_protocol_error_precede_the_close);
/// RFC 6455 §7.1.7 (and Autobahn 3.2, 4.1.3, 5.15): messages that arrived
/// before a protocol error are handled and their answers go out before the
/// close, even when the error is in the same packet.
fn answers_to_messages_before_a_protocol_error_precede_the_close(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut raw = Raw::connect(server.local_addr(), b"");
    let conn = wait_connect(&rx);
    let mut packet = masked_frame(0x81, b"first");
    packet.extend(masked_frame(0x82, b"second"));
    packet.extend(masked_frame(0x81 | 0x40, b"rsv1 set")); // RSV1 without an extension
    raw.send_raw(&packet);
    match raw.next_event() {
        Some(ws_codec::Event::Text(t)) => assert_eq!(t.as_str(), "first"),
        other => panic!("expected the echo of `first`, got {other:?}"),
    }
    match raw.next_event() {
        Some(ws_codec::Event::Binary(b)) => assert_eq!(&b[..], b"second"),
        other => panic!("expected the echo of `second`, got {other:?}"),
    }
    assert_eq!(raw.close_code(), 1002);
    raw.read_to_eof();
    assert_eq!(wait_close(&rx, conn.id()).1, 1002);
    server.shutdown(WAIT);
}

on_both_bridges!(missing_pong_drops_the_connection_as_1006);
fn missing_pong_drops_the_connection_as_1006(bridge: Bridge) {
    let (server, rx) = start_with(
        builder(bridge)
            .ping_interval(Some(Duration::from_millis(20)))
            .pong_timeout(Some(Duration::from_millis(50))),
    );
    // The raw client never writes what its codec queues, so no pong is sent.
    let mut raw = Raw::connect(server.local_addr(), b"");
    let conn = wait_connect(&rx);
    assert!(matches!(raw.next_event(), Some(ws_codec::Event::Ping(_))));
    let (_, code, reason) = wait_close(&rx, conn.id());
    assert_eq!((code, reason.as_str()), (1006, "pong timeout"));
    raw.read_to_eof();
    server.shutdown(WAIT);
}

on_both_bridges!(idle_connection_is_closed_with_1001);
fn idle_connection_is_closed_with_1001(bridge: Bridge) {
    let (server, rx) = start_with(
        builder(bridge)
            .ping_interval(None)
            .idle_timeout(Some(Duration::from_millis(50))),
    );
    let mut ws = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    assert_eq!(read_close(&mut ws), (1001, "idle timeout".to_owned()));
    drain_to_end(&mut ws);
    assert_eq!(wait_close(&rx, conn.id()).1, 1001);
    server.shutdown(WAIT);
}

/// A message as `first` (text or binary, no FIN), continuations, and a final
/// continuation if `finish`.
fn fragmented(first: u8, pieces: &[&[u8]], finish: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 { first } else { 0x00 };
        let fin = if finish && i + 1 == pieces.len() {
            0x80
        } else {
            0
        };
        out.extend(masked_frame(fin | opcode, piece));
    }
    out
}

/// On a raw connection: `ok` is echoed as `echo`, then `bad` is answered
/// with close 1009 and on_close reports 1009 (via `bad_input`'s checks).
fn at_the_limit_then_over(builder: ws_server::ServerBuilder, ok: &[u8], echo: &str, bad: &[u8]) {
    let (server, rx) = start_with(builder);
    let mut raw = Raw::connect(server.local_addr(), b"");
    let conn = wait_connect(&rx);
    raw.send_raw(ok);
    match raw.next_event() {
        Some(ws_codec::Event::Text(t)) => assert_eq!(t.as_str(), echo),
        other => panic!("expected the echo at the limit, got {other:?}"),
    }
    raw.send_raw(bad);
    assert_eq!(raw.close_code(), 1009);
    raw.read_to_eof();
    assert_eq!(wait_close(&rx, conn.id()).1, 1009);
    server.shutdown(WAIT);
}

on_both_bridges!(more_fragments_than_max_fragments_closes_with_1009);
/// RFC 6455 §10.4: an implementation with limits on "total message size after
/// reassembly from multiple frames MUST protect themselves against exceeding
/// those limits"; §7.4.1: 1009 means "a message that is too big for it to
/// process". Four fragments pass with max_fragments(4); a fifth fails it.
fn more_fragments_than_max_fragments_closes_with_1009(bridge: Bridge) {
    let builder = builder(bridge).max_fragments(4);
    let ok = fragmented(0x01, &[b"ab", b"cd", b"ef", b"gh"], true);
    // A text frame and 40 one-byte continuations, none final.
    let many: Vec<&[u8]> = std::iter::repeat(&b"x"[..]).take(41).collect();
    let bad = fragmented(0x01, &many, false);
    at_the_limit_then_over(builder, &ok, "abcdefgh", &bad);
}

on_both_bridges!(fragments_summing_over_max_message_size_close_with_1009);
/// RFC 6455 §10.4 and §7.4.1 (see above): each fragment is under the limit,
/// their sum is over it. 100 bytes in two fragments pass with
/// max_message_size(100); 60 + 60 fail.
fn fragments_summing_over_max_message_size_close_with_1009(bridge: Bridge) {
    let builder = builder(bridge).max_message_size(100);
    let (a, b) = ("a".repeat(50), "b".repeat(50));
    let ok = fragmented(0x01, &[a.as_bytes(), b.as_bytes()], true);
    let sixty = [b'c'; 60];
    let bad = fragmented(0x02, &[&sixty, &sixty], true);
    at_the_limit_then_over(builder, &ok, &format!("{a}{b}"), &bad);
}

on_both_bridges!(backpressure_drop_delivers_exactly_the_queued_messages_in_order);
/// Backpressure::Drop: a client that does not read makes sends fail with
/// `Error::Backpressure` once the queue is over the high-water mark, the
/// connection is not closed, and when the client reads again it gets every
/// message that was accepted, in order, and none that was refused.
fn backpressure_drop_delivers_exactly_the_queued_messages_in_order(bridge: Bridge) {
    const HIGH_WATER: usize = 64 * 1024;
    let (server, rx) = start_with(
        builder(bridge)
            .ping_interval(None)
            .high_water(HIGH_WATER)
            .backpressure(Backpressure::Drop),
    );
    let mut raw = Raw::connect(server.local_addr(), b""); // does not read for now
    let conn = wait_connect(&rx);
    let message = |i: u32| {
        let mut m = vec![(i % 251) as u8; 16 * 1024];
        m[..4].copy_from_slice(&i.to_be_bytes());
        m
    };
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    let mut try_send = |i: u32| match conn.send_binary(&message(i)) {
        Ok(()) => {
            accepted.push(i);
            true
        }
        Err(Error::Backpressure { queued, high_water }) => {
            assert_eq!(high_water, HIGH_WATER);
            assert!(
                queued >= HIGH_WATER,
                "refused with only {queued} bytes queued"
            );
            refused.push(i);
            false
        }
        Err(e) => panic!("message {i}: expected Ok or Backpressure, got {e}"),
    };
    // Send, and after each refusal let the bridge run (a 1 ms park) before
    // the next try: while the socket takes bytes the queue drains and sends
    // are accepted again, so the accepted ones have gaps; once the client's
    // and the server's socket buffers are full, every send is refused. Which
    // ones are accepted is up to the scheduler, and is recorded. The loop
    // ends after 100 refusals in a row (not a time).
    let (mut i, mut in_a_row) = (0, 0);
    while in_a_row < 100 {
        if try_send(i) {
            in_a_row = 0;
        } else {
            in_a_row += 1;
            thread::park_timeout(Duration::from_millis(1));
        }
        i += 1;
        assert!(
            i < 100_000,
            "the high-water mark never refused 100 sends in a row"
        );
    }
    assert!(!refused.is_empty());
    assert!(conn.is_open(), "Backpressure::Drop closed the connection");
    // A control frame is never refused; it marks the end of what was queued.
    conn.ping(b"end").unwrap();

    for &want in &accepted {
        match raw.next_event() {
            Some(ws_codec::Event::Binary(b)) => {
                let got = u32::from_be_bytes(b[..4].try_into().unwrap());
                assert_eq!(got, want, "accepted {accepted:?}, refused {refused:?}");
                assert_eq!(b, message(want), "message {want} arrived altered");
            }
            other => panic!("expected message {want}, got {other:?}"),
        }
    }
    match raw.next_event() {
        Some(ws_codec::Event::Ping(p)) => assert_eq!(&p[..], b"end"),
        other => panic!("expected the end ping after the accepted messages, got {other:?}"),
    }
    // Still open both ways.
    raw.send_raw(&masked_frame(0x81, b"still here"));
    match raw.next_event() {
        Some(ws_codec::Event::Text(t)) => assert_eq!(t.as_str(), "still here"),
        other => panic!("expected the echo, got {other:?}"),
    }
    assert!(conn.is_open());
    drop(raw);
    assert_eq!(wait_close(&rx, conn.id()).1, 1006);
    server.shutdown(WAIT);
}
