//! A client and a server Connection wired together in memory, with a fake clock.

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use ws_codec::{CloseCode, Config, Connection, Event, SendError, State};

#[derive(Clone, Debug)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        "\\PC{0,300}".prop_map(Msg::Text),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Msg::Binary),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Msg::Ping),
    ]
}

fn client() -> Connection {
    let mut state = 0x1234_5678u32;
    Connection::client(Config::default(), move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state.to_ne_bytes()
    })
}

/// Moves every queued chunk from `from` to `to`, in pieces of at most `piece` bytes.
fn pump(from: &mut Connection, to: &mut Connection, piece: usize) {
    while let Some(chunk) = from.poll_transmit() {
        for part in chunk.chunks(piece) {
            to.handle_bytes(part).expect("peer follows the protocol");
        }
    }
}

fn send(conn: &mut Connection, m: &Msg) {
    match m {
        Msg::Text(t) => conn.send_text(t).unwrap(),
        Msg::Binary(b) => conn.send_binary(b).unwrap(),
        Msg::Ping(p) => conn.ping(p).unwrap(),
    }
}

/// The events a message turns into at the receiver (pings become Ping events).
fn expected(m: &Msg) -> Event {
    match m {
        Msg::Text(t) => Event::Text(t.as_str().into()),
        Msg::Binary(b) => Event::Binary(Bytes::copy_from_slice(b)),
        Msg::Ping(p) => Event::Ping(Bytes::copy_from_slice(p)),
    }
}

fn data_events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event())
        .filter(|e| !matches!(e, Event::Pong(_)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn exchange_then_close_cleanly(
        to_server in proptest::collection::vec(msg(), 0..10),
        to_client in proptest::collection::vec(msg(), 0..10),
        piece in 1usize..5000,
        client_closes in any::<bool>(),
        code in prop_oneof![Just(1000u16), Just(1001), 3000u16..5000],
    ) {
        let mut c = client();
        let mut s = Connection::server(Config::default());
        for m in &to_server { send(&mut c, m); }
        for m in &to_client { send(&mut s, m); }
        pump(&mut c, &mut s, piece);
        pump(&mut s, &mut c, piece);
        prop_assert_eq!(data_events(&mut s), to_server.iter().map(expected).collect::<Vec<_>>());
        prop_assert_eq!(data_events(&mut c), to_client.iter().map(expected).collect::<Vec<_>>());

        let now = Instant::now();
        let (closer, answerer) = if client_closes { (&mut c, &mut s) } else { (&mut s, &mut c) };
        closer.close(CloseCode(code), "done").unwrap();
        closer.handle_timeout(now);
        prop_assert_eq!(closer.send_text("x"), Err(SendError::Closed));
        pump(closer, answerer, piece);
        pump(answerer, closer, piece);
        let received = data_events(answerer).pop();
        prop_assert!(matches!(received, Some(Event::Close(ref f)) if f.code.0 == code && f.reason == "done"));
        let echoed = data_events(closer).pop();
        prop_assert!(matches!(echoed, Some(Event::Close(ref f)) if f.code.0 == code));
        prop_assert_eq!(c.state(), State::Closed);
        prop_assert_eq!(s.state(), State::Closed);
        prop_assert!(s.should_close_transport());
        prop_assert!(c.error().is_none() && s.error().is_none());
        prop_assert_eq!(c.pending_transmit_bytes() + s.pending_transmit_bytes(), 0);
    }
}

#[test]
fn server_closes_first_and_client_waits_for_tcp_until_the_timeout() {
    let t0 = Instant::now();
    let mut c = client();
    let mut s = Connection::server(Config::default().with_close_timeout(Duration::from_secs(1)));
    s.close(CloseCode::GOING_AWAY, "bye").unwrap();
    s.handle_timeout(t0);
    pump(&mut s, &mut c, 7);
    pump(&mut c, &mut s, 7);
    assert!(s.should_close_transport());
    assert_eq!(c.state(), State::Closed);
    assert!(
        !c.should_close_transport(),
        "RFC 6455 §7.1.1: the client waits for the server"
    );
    c.handle_timeout(t0);
    c.handle_timeout(c.poll_timeout().expect("client timer armed"));
    assert!(c.should_close_transport());
}

#[test]
fn peer_that_never_answers_the_close_times_out() {
    let t0 = Instant::now();
    let mut c = client();
    c.close(CloseCode::NORMAL, "").unwrap();
    c.handle_timeout(t0);
    assert_eq!(
        c.poll_timeout(),
        Some(t0 + Duration::from_secs(5)),
        "default close timeout"
    );
    c.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(c.state(), State::Closed);
    assert!(c.should_close_transport());
    assert!(c.peer_close().is_none());
    assert_eq!(c.sent_close().map(|f| f.code), Some(CloseCode::NORMAL));
}
