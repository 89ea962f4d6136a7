//! Data flow over real sockets: text, binary, large, fragmented, ping/pong, pipelined.

mod common;

use std::io::Write;

use common::*;
use tungstenite::Message as W;
use ws_server::Message;

on_both_bridges!(text_and_binary_are_echoed_as_distinct_types);
fn text_and_binary_are_echoed_as_distinct_types(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    ws.send(W::text("hello")).unwrap();
    assert_eq!(read_msg(&mut ws), W::text("hello"));
    ws.send(W::binary(vec![0u8, 1, 2, 255])).unwrap();
    assert_eq!(read_msg(&mut ws), W::binary(vec![0u8, 1, 2, 255]));
    let got: Vec<Message> = (0..2)
        .map(|_| {
            wait_for(&rx, |ev| match ev {
                Ev::Msg(id, m) if id == conn.id() => Some(m),
                _ => None,
            })
        })
        .collect();
    assert!(matches!(&got[0], Message::Text(t) if t.as_str() == "hello"));
    assert!(matches!(&got[1], Message::Binary(b) if b[..] == [0, 1, 2, 255]));
    drop(ws);
    server.shutdown(WAIT);
}

on_both_bridges!(one_mebibyte_message_round_trips);
fn one_mebibyte_message_round_trips(bridge: Bridge) {
    let (server, _rx) = start_with(
        builder(bridge)
            .max_message_size(2 << 20)
            .max_frame_size(2 << 20)
            .high_water(4 << 20),
    );
    let mut ws = connect(server.local_addr(), "/");
    let big: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    ws.send(W::binary(big.clone())).unwrap();
    assert_eq!(read_msg(&mut ws), W::binary(big));
    drop(ws);
    server.shutdown(WAIT);
}

on_both_bridges!(fragmented_message_is_reassembled);
fn fragmented_message_is_reassembled(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut raw = Raw::connect(server.local_addr(), b"");
    // "Hel" + "lo" as a text frame without FIN and a final continuation frame.
    raw.send_raw(&masked_frame(0x01, b"Hel"));
    raw.send_raw(&masked_frame(0x80, b"lo"));
    match raw.next_event() {
        Some(ws_codec::Event::Text(t)) => assert_eq!(t.as_str(), "Hello"),
        other => panic!("expected the echo, got {other:?}"),
    }
    wait_for(&rx, |ev| match ev {
        Ev::Msg(_, Message::Text(t)) => {
            assert_eq!(t.as_str(), "Hello");
            Some(())
        }
        _ => None,
    });
    drop(raw);
    server.shutdown(WAIT);
}

on_both_bridges!(ping_is_answered_with_pong_by_the_bridge);
fn ping_is_answered_with_pong_by_the_bridge(bridge: Bridge) {
    let (server, _rx) = start(bridge);
    let mut raw = Raw::connect(server.local_addr(), b"");
    raw.send_raw(&masked_frame(0x89, b"are you there"));
    match raw.next_event() {
        Some(ws_codec::Event::Pong(p)) => assert_eq!(&p[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    drop(raw);
    server.shutdown(WAIT);
}

on_both_bridges!(server_pings_on_its_interval_and_client_pong_keeps_it_open);
fn server_pings_on_its_interval_and_client_pong_keeps_it_open(bridge: Bridge) {
    let (server, _rx) = start_with(
        builder(bridge)
            .ping_interval(Some(std::time::Duration::from_millis(50)))
            .pong_timeout(Some(WAIT)),
    );
    let mut raw = Raw::connect(server.local_addr(), b"");
    match raw.next_event() {
        Some(ws_codec::Event::Ping(_)) => {}
        other => panic!("expected a heartbeat ping, got {other:?}"),
    }
    // ws-codec's client side answered it; the connection still echoes.
    raw.codec.send_text("still here").unwrap();
    while let Some(b) = raw.codec.poll_transmit() {
        raw.send_raw(&b);
    }
    // Heartbeat pings keep coming every 50 ms: bounded by a deadline, not by them.
    let end = deadline();
    loop {
        check(end, "waiting for the echo between heartbeat pings");
        match raw.next_event() {
            Some(ws_codec::Event::Text(t)) => break assert_eq!(t.as_str(), "still here"),
            Some(ws_codec::Event::Ping(_)) => {
                while let Some(b) = raw.codec.poll_transmit() {
                    raw.send_raw(&b);
                }
            }
            other => panic!("expected the echo, got {other:?}"),
        }
    }
    drop(raw);
    server.shutdown(WAIT);
}

on_both_bridges!(frame_pipelined_with_the_request_head_arrives);
fn frame_pipelined_with_the_request_head_arrives(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut raw = Raw::connect(server.local_addr(), &masked_frame(0x81, b"early"));
    match raw.next_event() {
        Some(ws_codec::Event::Text(t)) => assert_eq!(t.as_str(), "early"),
        other => panic!("expected the echo, got {other:?}"),
    }
    wait_for(&rx, |ev| match ev {
        Ev::Msg(_, Message::Text(t)) => {
            assert_eq!(t.as_str(), "early");
            Some(())
        }
        _ => None,
    });
    drop(raw);
    server.shutdown(WAIT);
}

on_both_bridges!(plain_http_request_is_answered_by_on_http);
fn plain_http_request_is_answered_by_on_http(bridge: Bridge) {
    let (server, _rx) = start(bridge);
    let page = http(server.local_addr(), "GET /page HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(page.ends_with("<p>hello</p>"), "{page}");
    // on_http declines (None): ws-handshake's refusal of a GET that is not an
    // upgrade. RFC 6455 §4.2.1: a request that is not the handshake described
    // there is answered "with an appropriate error code (such as 400 Bad
    // Request)"; here exactly 400, and the connection closes after it.
    let other = http(
        server.local_addr(),
        "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(other.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{other}");
    assert!(other.contains("\r\nConnection: close\r\n"), "{other}");
    server.shutdown(WAIT);
}

on_both_bridges!(many_large_echoes_arrive_whole_and_in_order);
/// More than the socket buffers hold, written while the client does not read
/// yet: the server's writes stop part-way and go on when it can write again,
/// and every echo arrives whole and in order.
fn many_large_echoes_arrive_whole_and_in_order(bridge: Bridge) {
    const N: usize = 200;
    const SIZE: usize = 32 * 1024;
    let (server, _rx) = start_with(builder(bridge).high_water(64 << 20));
    let mut raw = Raw::connect(server.local_addr(), &[]);
    let mut wire = Vec::new();
    for i in 0..N {
        let mut payload = vec![(i % 251) as u8; SIZE];
        payload[..4].copy_from_slice(&(i as u32).to_be_bytes());
        raw.codec.send_binary(&payload).unwrap();
        while let Some(b) = raw.codec.poll_transmit() {
            wire.extend_from_slice(&b);
        }
    }
    let mut tcp = raw.tcp.try_clone().unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    let writer = std::thread::spawn(move || tcp.write_all(&wire).unwrap());
    for i in 0..N {
        match raw.next_event() {
            Some(ws_codec::Event::Binary(b)) => {
                assert_eq!(b.len(), SIZE, "message {i}");
                assert_eq!(u32::from_be_bytes(b[..4].try_into().unwrap()) as usize, i);
                assert!(b[4..].iter().all(|&x| x == (i % 251) as u8), "message {i}");
            }
            other => panic!("message {i}: {other:?}"),
        }
    }
    writer.join().unwrap();
    drop(raw);
    server.shutdown(WAIT);
}
