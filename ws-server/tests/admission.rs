//! Handshakes in progress have their own caps, in total and per source
//! address, apart from `max_connections` (issue 12): clients that hold slow
//! handshakes cannot lock out clients that upgrade. Over a handshake cap a
//! new TCP connection waits for a place (bounded, at most the handshake
//! timeout), so a burst from one host is served in turn, not refused.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use tungstenite::Message as W;

/// A client that sends half a request head and then nothing.
fn slow_handshake(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(&UPGRADE.as_bytes()[..30]).unwrap();
    tcp
}

/// Waits (bounded) until the server holds `n` connections.
fn wait_held(server: &ws_server::Server, n: usize) {
    let end = deadline();
    while server.connections() != n {
        check(end, &format!("the server to hold {n} connections"));
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The server closes `tcp` without an answer.
fn closed_at_once(mut tcp: TcpStream) {
    let mut buf = [0u8; 64];
    match tcp.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection closed without an answer, got {other:?}"),
    }
}

/// The builder with a long handshake timeout: only the caps end anything.
fn patient(bridge: Bridge) -> ws_server::ServerBuilder {
    builder(bridge).handshake_timeout(Duration::from_secs(60))
}

on_both_bridges!(slow_handshakes_do_not_lock_out_clients_that_upgrade);
fn slow_handshakes_do_not_lock_out_clients_that_upgrade(bridge: Bridge) {
    // The review's case: a host holding more slow handshakes than
    // max_connections got legitimate clients refused.
    let (server, _rx) = start_with(patient(bridge).max_connections(2));
    let addr = server.local_addr();
    let slow: Vec<_> = (0..6).map(|_| slow_handshake(addr)).collect();
    wait_held(&server, 6);
    let mut a = connect(addr, "/");
    let mut b = connect(addr, "/");
    for ws in [&mut a, &mut b] {
        ws.send(W::text("in")).unwrap();
        assert_eq!(read_msg(ws), W::text("in"));
    }
    // max_connections still caps the upgraded ones: the third gets 503.
    assert_eq!(refusal_status(try_connect(addr, "/")), 503);
    drop((slow, a, b));
    server.shutdown(WAIT);
}

on_both_bridges!(over_the_handshake_cap_a_new_connection_waits_for_a_place);
fn over_the_handshake_cap_a_new_connection_waits_for_a_place(bridge: Bridge) {
    let (server, _rx) = start_with(patient(bridge).max_handshakes(3));
    let addr = server.local_addr();
    let slow: Vec<_> = (0..3).map(|_| slow_handshake(addr)).collect();
    wait_held(&server, 3);
    // The fourth is accepted but waits: the server does not hold it yet.
    let mut fourth = TcpStream::connect(addr).unwrap();
    fourth.set_read_timeout(Some(WAIT)).unwrap();
    fourth.write_all(UPGRADE.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.connections(), 3);
    // A handshake that completes frees its place, and the waiting one takes it.
    let mut first = slow.into_iter().next().unwrap();
    first.write_all(&UPGRADE.as_bytes()[30..]).unwrap();
    let mut head = [0u8; 12];
    first.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    fourth.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    drop((first, fourth));
    server.shutdown(WAIT);
}

on_both_bridges!(a_connection_that_waits_past_the_handshake_timeout_is_closed);
fn a_connection_that_waits_past_the_handshake_timeout_is_closed(bridge: Bridge) {
    let timeout = Duration::from_millis(300);
    let (server, _rx) = start_with(builder(bridge).handshake_timeout(timeout).max_handshakes(1));
    let addr = server.local_addr();
    // The slow one holds the only place until its own timeout; the waiting one
    // is closed by then as well, without an answer.
    let slow = slow_handshake(addr);
    wait_held(&server, 1);
    closed_at_once(slow_handshake(addr));
    drop(slow);
    server.shutdown(WAIT);
}

on_both_bridges!(a_burst_from_one_source_is_served_in_turn);
fn a_burst_from_one_source_is_served_in_turn(bridge: Bridge) {
    // 200 clients of one host connect at once, far past its cap of 8
    // handshakes: every one upgrades and echoes.
    let (server, _rx) = start_with(builder(bridge).max_handshakes_per_ip(8));
    let addr = server.local_addr();
    let tcp: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut t = TcpStream::connect(addr).unwrap();
            t.set_read_timeout(Some(WAIT)).unwrap();
            t.write_all(UPGRADE.as_bytes()).unwrap();
            t
        })
        .collect();
    for mut t in tcp {
        let mut head = [0u8; 12];
        t.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 101");
    }
    server.shutdown(WAIT);
}

on_both_bridges!(one_source_cannot_hold_every_handshake);
fn one_source_cannot_hold_every_handshake(bridge: Bridge) {
    // Loopback has two source addresses to tell apart: ::1 and 127.0.0.1
    // (a dual-stack listener sees it as ::ffff:127.0.0.1, counted as IPv4).
    let (server, _rx) = start_with(patient(bridge).bind("[::]:0").max_handshakes_per_ip(4));
    let port = server.local_addr().port();
    let v6: SocketAddr = ([0u16, 0, 0, 0, 0, 0, 0, 1], port).into();
    let v4: SocketAddr = ([127, 0, 0, 1], port).into();
    let slow: Vec<_> = (0..4).map(|_| slow_handshake(v6)).collect();
    wait_held(&server, 4);
    // A fifth from the same source waits ...
    let _waiting = slow_handshake(v6);
    // ... while another source still gets in.
    let mut ws = connect(v4, "/");
    ws.send(W::text("other source")).unwrap();
    assert_eq!(read_msg(&mut ws), W::text("other source"));
    assert_eq!(server.connections(), 5);
    drop((slow, ws));
    server.shutdown(WAIT);
}
