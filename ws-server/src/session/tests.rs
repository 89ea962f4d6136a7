//! The session's rules with a fake clock: no socket, no thread, no actor.
//! A client codec makes the frames; what the session writes is read back
//! through the client side of ws-handshake and ws-codec.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ws_codec::{CloseCode, Event, OpCode};
use ws_handshake::{ClientRequest, OriginPolicy};

use super::*;
use crate::config::{Backpressure, Settings};
use crate::error::Error;

fn settings(f: impl FnOnce(&mut Settings)) -> Arc<Settings> {
    let mut s = Settings::default();
    f(&mut s);
    Arc::new(s)
}

/// A session, its flow counters, the actor's messages and a clock.
struct Rig {
    s: Session,
    flow: Flow,
    msgs: Vec<ToActor>,
    now: Instant,
    client: ws_codec::Connection,
}

impl Rig {
    fn new(settings: Arc<Settings>) -> Rig {
        let now = Instant::now();
        Rig {
            s: Session::new(settings, now, true),
            flow: Flow::default(),
            msgs: Vec::new(),
            now,
            client: ws_codec::Connection::client(ws_codec::Config::default(), || [1, 2, 3, 4]),
        }
    }

    /// A default session, upgraded.
    fn open_default() -> Rig {
        let mut rig = Rig::new(settings(|_| {}));
        rig.open();
        rig
    }

    fn rejecting() -> Rig {
        let mut rig = Rig::new(settings(|_| {}));
        rig.s = Session::new(settings(|_| {}), rig.now, false);
        rig
    }

    fn read(&mut self, bytes: &[u8]) {
        self.s
            .handle_read(bytes, self.now, &self.flow, &mut self.msgs);
    }

    fn advance(&mut self) {
        self.s.advance(self.now, &self.flow, &mut self.msgs);
    }

    fn later(&mut self, d: Duration) {
        self.now += d;
        self.advance();
    }

    /// Everything the session would write now.
    fn written(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.s.write_to(&mut out).unwrap();
        out
    }

    /// The request, and the connect message it gave.
    fn request(&mut self, request: &ClientRequest, pipelined: &[u8]) -> ConnectMsg {
        let mut bytes = request.to_bytes().unwrap();
        bytes.extend_from_slice(pipelined);
        self.read(&bytes);
        match self.msgs.pop() {
            Some(ToActor::Connect(c)) => *c,
            other => panic!("expected a connect message, got {other:?}"),
        }
    }

    /// Upgraded with no subprotocol; the 101 is written and checked.
    fn open(&mut self) {
        let request = ClientRequest::new("localhost", "/");
        self.request(&request, b"");
        self.accept();
        let head = self.written();
        assert!(head.starts_with(b"HTTP/1.1 101 "), "{head:?}");
    }

    fn accept(&mut self) {
        let upgrade = Decision::Upgrade {
            protocol: None,
            headers: Vec::new(),
        };
        self.s.decide(upgrade, self.now);
    }

    /// Frames the client would send now.
    fn client_bytes(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = self.client.poll_transmit() {
            out.extend_from_slice(&b);
        }
        out
    }

    /// The events the client decodes from what the session writes now.
    fn client_events(&mut self) -> Vec<Event> {
        let bytes = self.written();
        self.client.handle_bytes(&bytes).unwrap();
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    /// The texts the client decodes from `bytes` (what the session wrote).
    fn client_texts(&mut self, bytes: &[u8]) -> Vec<String> {
        self.client.handle_bytes(bytes).unwrap();
        std::iter::from_fn(|| self.client.poll_event())
            .map(|e| match e {
                Event::Text(t) => t.as_str().to_owned(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn texts(&mut self) -> Vec<String> {
        self.msgs
            .drain(..)
            .map(|m| match m {
                ToActor::Text(t) => t.as_str().to_owned(),
                other => panic!("expected text, got {other:?}"),
            })
            .collect()
    }
}

fn status_of(bytes: &[u8]) -> u16 {
    let text = std::str::from_utf8(bytes).unwrap();
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_request_goes_to_the_actor_and_pipelined_frames_follow_the_101() {
    let mut rig = Rig::new(settings(|_| {}));
    rig.client.send_text("early").unwrap();
    let early = rig.client_bytes();
    let request = ClientRequest::new("localhost", "/chat");
    // Half the head first: nothing yet.
    let head = request.to_bytes().unwrap();
    rig.read(&head[..10]);
    assert!(rig.msgs.is_empty() && rig.s.wants_read(&rig.flow));
    let mut rest = head[10..].to_vec();
    rest.extend_from_slice(&early);
    rig.read(&rest);
    let Some(ToActor::Connect(connect)) = rig.msgs.pop() else {
        panic!("no connect message");
    };
    let ConnectMsg::Upgrade(r) = *connect else {
        panic!("not an upgrade");
    };
    assert_eq!(r.path(), "/chat");
    // Deciding: nothing is read, nothing written, no deadline.
    assert!(!rig.s.wants_read(&rig.flow) && !rig.s.has_output());
    assert_eq!(rig.s.poll_timeout(), None);
    rig.accept();
    rig.advance();
    assert_eq!(rig.texts(), ["early"]);
    assert!(rig.written().starts_with(b"HTTP/1.1 101 "));
}

/// Regression (TLS hands plaintext over one record at a time): frames that
/// arrive in the same read as the head but after it, in a later record, join
/// the pipelined bytes and follow the 101 in order.
#[test]
fn frames_handed_over_after_the_head_in_the_same_read_are_kept() {
    let mut rig = Rig::new(settings(|_| {}));
    rig.client.send_text("one").unwrap();
    let one = rig.client_bytes();
    rig.client.send_text("two").unwrap();
    let two = rig.client_bytes();
    let request = ClientRequest::new("localhost", "/");
    let mut head = request.to_bytes().unwrap();
    head.extend_from_slice(&one);
    rig.read(&head);
    assert!(matches!(rig.msgs.pop(), Some(ToActor::Connect(_))));
    rig.read(&two);
    rig.accept();
    rig.advance();
    assert_eq!(rig.texts(), ["one", "two"]);
}

#[test]
fn a_head_that_never_completes_ends_at_the_handshake_deadline_without_an_answer() {
    let mut rig = Rig::new(settings(|s| s.handshake_timeout = Duration::from_secs(3)));
    rig.read(b"GET / HTTP/1.1\r\n");
    assert_eq!(rig.s.poll_timeout(), Some(rig.now + Duration::from_secs(3)));
    rig.later(Duration::from_secs(2));
    assert_eq!(rig.s.poll_end(rig.now), None);
    rig.later(Duration::from_secs(1));
    let end = rig.s.poll_end(rig.now).unwrap();
    assert_eq!((end.how, end.close), (Shutdown::Both, None));
    assert!(rig.written().is_empty());
    assert_eq!(rig.s.poll_end(rig.now), None, "the end is given once");
}

#[test]
fn over_max_connections_a_request_gets_503_and_garbage_its_refusal() {
    let mut rig = Rig::rejecting();
    rig.read(&ClientRequest::new("localhost", "/").to_bytes().unwrap());
    assert!(rig.msgs.is_empty(), "no actor hears of it");
    assert_eq!(status_of(&rig.written()), 503);
    let end = rig.s.poll_end(rig.now).unwrap();
    assert_eq!((end.how, end.close), (Shutdown::Write, None));

    let mut rig = Rig::rejecting();
    rig.read(b"\x16\x03\x01 not http\r\n\r\n");
    assert_eq!(status_of(&rig.written()), 400);
}

#[test]
fn rfc6455_10_2_a_refused_origin_is_403_before_the_actor_hears_of_it() {
    let policy = OriginPolicy::allow(["https://ok.example"]);
    let mut rig = Rig::new(settings(|s| s.origin_policy = policy));
    let request = ClientRequest::new("localhost", "/").header("Origin", "https://evil.example");
    rig.read(&request.to_bytes().unwrap());
    assert!(rig.msgs.is_empty());
    assert_eq!(status_of(&rig.written()), 403);
    assert!(rig.s.poll_end(rig.now).is_some());
}

#[test]
fn an_answer_closes_the_handle_at_once_and_ends_with_fin_after_it() {
    let mut rig = Rig::new(settings(|_| {}));
    rig.request(&ClientRequest::new("localhost", "/"), b"");
    assert!(rig.s.is_open(), "a hook may send while it decides");
    rig.s.decide(
        Decision::Respond(b"HTTP/1.1 403 Forbidden\r\n\r\n".to_vec()),
        rig.now,
    );
    assert!(!rig.s.is_open());
    assert_eq!(status_of(&rig.written()), 403);
    let end = rig.s.poll_end(rig.now).unwrap();
    assert_eq!((end.how, end.close), (Shutdown::Write, None));
}

#[test]
fn an_answer_the_peer_does_not_read_is_given_up_at_its_deadline() {
    let mut rig = Rig::new(settings(|s| s.handshake_timeout = Duration::from_secs(1)));
    rig.request(&ClientRequest::new("localhost", "/"), b"");
    // The hook took longer than the handshake timeout: the answer still gets
    // its minimum time.
    rig.now += Duration::from_secs(5);
    rig.s.decide(
        Decision::Respond(b"HTTP/1.1 500 x\r\n\r\n".to_vec()),
        rig.now,
    );
    assert_eq!(rig.s.poll_end(rig.now), None);
    rig.now += MIN_ANSWER_TIME;
    assert!(rig.s.poll_end(rig.now).is_some());
}

#[test]
fn a_subprotocol_the_client_did_not_offer_is_refused_and_reported_as_1011() {
    let mut rig = Rig::new(settings(|_| {}));
    rig.request(&ClientRequest::new("localhost", "/").protocol("chat"), b"");
    let upgrade = Decision::Upgrade {
        protocol: Some("mqtt".into()),
        headers: Vec::new(),
    };
    rig.s.decide(upgrade, rig.now);
    let answer = rig.written();
    assert!(!answer.starts_with(b"HTTP/1.1 101"), "{answer:?}");
    let end = rig.s.poll_end(rig.now).unwrap();
    assert_eq!(end.close.unwrap().0, CloseCode::INTERNAL_ERROR);
}

#[test]
fn shutdown_answers_503_to_a_head_and_1001_to_open_and_deciding_connections() {
    let mut head = Rig::new(settings(|_| {}));
    head.read(b"GET / HTTP/1.1\r\n");
    assert!(
        head.s.begin_shutdown(head.now),
        "a blocked head read is interrupted"
    );
    assert_eq!(status_of(&head.written()), 503);

    let mut open = Rig::new(settings(|_| {}));
    open.open();
    assert!(!open.s.begin_shutdown(open.now));
    let events = open.client_events();
    assert!(
        matches!(&events[..], [Event::Close(f)] if f.code == CloseCode::GOING_AWAY),
        "{events:?}"
    );

    let mut deciding = Rig::new(settings(|_| {}));
    deciding.request(&ClientRequest::new("localhost", "/"), b"");
    deciding.s.begin_shutdown(deciding.now);
    deciding.accept();
    let out = deciding.written();
    assert!(out.starts_with(b"HTTP/1.1 101 "));
    let frames = &out[out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    deciding.client.handle_bytes(frames).unwrap();
    let event = deciding.client.poll_event();
    assert!(
        matches!(&event, Some(Event::Close(f)) if f.code == CloseCode::GOING_AWAY),
        "{event:?}"
    );
}

#[test]
fn heartbeat_pings_on_its_interval_and_a_late_pong_is_1006() {
    let mut rig = Rig::new(settings(|s| {
        s.ping_interval = Some(Duration::from_secs(30));
        s.pong_timeout = Some(Duration::from_secs(20));
    }));
    rig.open();
    assert_eq!(
        rig.s.poll_timeout(),
        Some(rig.now + Duration::from_secs(30))
    );
    rig.later(Duration::from_secs(30));
    assert!(matches!(&rig.client_events()[..], [Event::Ping(_)]));
    // The client's pong comes back: the next ping is due, no pong deadline.
    let pong = rig.client_bytes();
    rig.read(&pong);
    rig.later(Duration::from_secs(29));
    assert!(rig.client_events().is_empty());
    rig.later(Duration::from_secs(1));
    assert!(matches!(&rig.client_events()[..], [Event::Ping(_)]));
    // No pong this time.
    rig.later(Duration::from_secs(19));
    assert_eq!(rig.s.poll_end(rig.now), None);
    rig.later(Duration::from_secs(1));
    let end = rig.s.poll_end(rig.now).unwrap();
    assert_eq!(
        end.close,
        Some((CloseCode::ABNORMAL, "pong timeout".into()))
    );
}

#[test]
fn idle_timeout_closes_with_1001_and_data_either_way_resets_it() {
    let mut rig = Rig::new(settings(|s| s.idle_timeout = Some(Duration::from_secs(10))));
    rig.open();
    rig.later(Duration::from_secs(9));
    rig.s.send(|| rig.now, |c| c.send_text("out")).unwrap();
    rig.later(Duration::from_secs(9));
    assert!(rig.s.is_open(), "a send counts as activity");
    rig.client.send_text("in").unwrap();
    let bytes = rig.client_bytes();
    rig.read(&bytes);
    rig.later(Duration::from_secs(9));
    assert!(rig.s.is_open(), "a message counts as activity");
    rig.later(Duration::from_secs(1));
    assert!(!rig.s.is_open());
    let events = rig.client_events();
    assert!(
        matches!(events.last(), Some(Event::Close(f)) if f.code == CloseCode::GOING_AWAY),
        "{events:?}"
    );
}

#[test]
fn without_an_idle_timeout_a_send_reads_no_clock() {
    let mut rig = Rig::open_default();
    rig.s
        .send(|| panic!("the clock was read"), |c| c.send_text("out"))
        .unwrap();
    let events = rig.client_events();
    assert!(
        matches!(&events[..], [Event::Text(t)] if t == "out"),
        "{events:?}"
    );
}

/// A text frame with RSV1 set and no extension: a protocol error (RFC 6455 §5.2).
fn bad_frame() -> Vec<u8> {
    let mut frame = vec![0xC1, 0x80 | 2, 1, 2, 3, 4];
    frame.extend([b'h' ^ 1, b'i' ^ 2]);
    frame
}

#[test]
fn rfc6455_7_1_7_a_protocol_error_waits_until_earlier_messages_are_handled() {
    let mut rig = Rig::new(settings(|_| {}));
    rig.open();
    rig.client.send_text("one").unwrap();
    rig.client.send_text("two").unwrap();
    let mut bytes = rig.client_bytes();
    bytes.extend(bad_frame());
    // As a bridge does: read and advance (then it delivers what came out).
    rig.read(&bytes);
    rig.advance();
    assert_eq!(rig.texts(), ["one", "two"]);
    assert!(
        !rig.s.wants_read(&rig.flow),
        "nothing after the error is read"
    );
    assert_eq!(rig.flow.in_flight(), 2, "counted before they are delivered");
    assert!(
        rig.s.is_open(),
        "answers to earlier messages may still go out"
    );
    rig.s.send(|| rig.now, |c| c.send_text("reply")).unwrap();
    rig.flow.handled(1);
    assert!(
        rig.flow.handled_wakes(1, 256, usize::MAX),
        "the last one wakes the bridge"
    );
    rig.advance();
    let events = rig.client_events();
    assert!(
        matches!(&events[..], [Event::Text(t), Event::Close(f)]
            if t.as_str() == "reply" && f.code == CloseCode::PROTOCOL_ERROR),
        "{events:?}"
    );
}

#[test]
fn a_deferred_failure_is_sent_at_the_close_timeout_if_the_actor_never_drains() {
    let mut rig = Rig::new(settings(|s| s.close_timeout = Duration::from_secs(5)));
    rig.open();
    rig.client.send_text("one").unwrap();
    let mut bytes = rig.client_bytes();
    bytes.extend(bad_frame());
    rig.read(&bytes);
    rig.msgs.clear();
    rig.later(Duration::from_secs(4));
    assert!(rig.s.is_open());
    rig.later(Duration::from_secs(1));
    assert!(!rig.s.is_open());
    let events = rig.client_events();
    assert!(matches!(&events[..], [Event::Close(f)] if f.code == CloseCode::PROTOCOL_ERROR));
}

#[test]
fn rfc6455_7_1_1_after_the_peers_close_the_server_closes_tcp_once_the_echo_is_written() {
    let mut rig = Rig::new(settings(|_| {}));
    rig.open();
    rig.client.close(CloseCode::NORMAL, "bye").unwrap();
    let bytes = rig.client_bytes();
    rig.read(&bytes);
    assert!(!rig.s.wants_read(&rig.flow));
    assert_eq!(rig.s.poll_end(rig.now), None, "the echo is not written yet");
    assert!(matches!(&rig.client_events()[..], [Event::Close(_)]));
    let end = rig.s.poll_end(rig.now).unwrap();
    assert_eq!(end.how, Shutdown::Both);
    assert_eq!(end.close, Some((CloseCode::NORMAL, "bye".into())));
}

#[test]
fn a_server_close_the_peer_never_answers_ends_at_the_close_timeout() {
    let mut rig = Rig::new(settings(|s| s.close_timeout = Duration::from_secs(5)));
    rig.open();
    rig.s.close(CloseCode::NORMAL, "done", rig.now).unwrap();
    assert_eq!(rig.s.poll_timeout(), Some(rig.now + Duration::from_secs(5)));
    rig.written();
    rig.later(Duration::from_secs(5));
    let end = rig.s.poll_end(rig.now).unwrap();
    assert_eq!(end.close, Some((CloseCode::NORMAL, "done".into())));
}

#[test]
fn eof_while_open_is_1006_with_the_reason() {
    let mut rig = Rig::new(settings(|_| {}));
    rig.open();
    rig.s.handle_eof("peer closed the TCP connection");
    let end = rig.s.poll_end(rig.now).unwrap();
    assert_eq!(
        end.close,
        Some((CloseCode::ABNORMAL, "peer closed the TCP connection".into()))
    );
}

#[test]
fn backpressure_close_starts_1008_and_drop_only_refuses() {
    for policy in [Backpressure::Close, Backpressure::Drop] {
        let mut rig = Rig::new(settings(|s| {
            s.high_water = 64;
            s.backpressure = policy;
        }));
        rig.open();
        rig.s.send(|| rig.now, |c| c.send_binary([0; 100])).unwrap();
        let refused = rig.s.send(|| rig.now, |c| c.send_text("x"));
        assert!(matches!(
            refused,
            Err(Error::Backpressure { high_water: 64, .. })
        ));
        assert_eq!(rig.s.is_open(), policy == Backpressure::Drop, "{policy:?}");
        let events = rig.client_events();
        assert!(matches!(events[0], Event::Binary(_)));
        match policy {
            Backpressure::Close => assert!(
                matches!(&events[1..], [Event::Close(f)] if f.code == CloseCode::POLICY_VIOLATION)
            ),
            _ => assert_eq!(events.len(), 1, "the refused message is not queued"),
        }
    }
}

#[test]
fn flow_control_stops_reading_at_the_mailbox_limit() {
    let mut rig = Rig::new(settings(|s| s.mailbox_limit = 2));
    rig.open();
    assert!(rig.s.wants_read(&rig.flow));
    rig.flow.sent(1);
    rig.flow.sent(1);
    assert!(!rig.s.wants_read(&rig.flow));
    assert!(
        rig.s.reads_frames(),
        "a blocked reader waits rather than ends"
    );
    assert!(rig.flow.handled_wakes(1, 2, usize::MAX));
    assert!(rig.s.wants_read(&rig.flow));
}

/// A transport that takes nothing (the peer does not read).
struct Full;

impl std::io::Write for Full {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::WouldBlock.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_peer_that_floods_pings_and_does_not_read_is_not_read_either() {
    // Issue 12: pongs are bounded by ws-codec (32 wait, newer pings replace
    // the newest's payload); reading stops while 32 wait, until a write
    // takes them, so a peer that does not read its pongs meets TCP's push-back.
    let mut rig = Rig::new(settings(|_| {}));
    rig.open();
    for _ in 0..100 {
        rig.client.ping([b'p'; 125]).unwrap();
    }
    let pings = rig.client_bytes();
    rig.read(&pings);
    rig.advance();
    assert!(!rig.s.wants_read(&rig.flow), "32 pongs wait for a write");
    assert!(!rig.written().is_empty());
    assert!(rig.s.wants_read(&rig.flow), "written: read again");
    for _ in 0..100 {
        rig.client.ping([b'q'; 125]).unwrap();
    }
    let pings = rig.client_bytes();
    rig.read(&pings);
    // The transport takes nothing: half the pongs move to the outbound
    // queue, and the next pings fill the codec's cap again.
    rig.s.write_to(Full).unwrap();
    assert!(rig.s.is_stalled());
    rig.read(&pings);
    assert!(!rig.s.wants_read(&rig.flow), "pongs wait: stop reading");
    assert!(rig.s.queued() < 48 * 130, "bounded by the codec's cap");
    rig.s.writable();
    assert!(
        !rig.s.wants_read(&rig.flow),
        "writable, the pongs not yet taken"
    );
    assert!(!rig.written().is_empty());
    assert!(rig.s.wants_read(&rig.flow), "written again: read again");
}

#[test]
fn high_water_counts_memory_per_frame_not_wire_bytes() {
    let high_water = 64 * 1024;
    let mut rig = Rig::new(settings(|s| s.high_water = high_water));
    rig.open();
    rig.s.write_to(Full).unwrap();
    let mut sent = 0;
    while rig.s.send(|| rig.now, |c| c.send_binary(b"x")).is_ok() {
        sent += 1;
        assert!(sent < high_water, "never refused");
    }
    // Three wire bytes each, but a frame costs an allocation and a queue slot.
    let per_frame = 3 + super::output::FRAME_OVERHEAD;
    assert_eq!(sent, high_water.div_ceil(per_frame));
    assert!(rig.s.queued() < high_water / 20);
    assert!(!rig.s.wants_read(&rig.flow), "queue full: stop reading");
}

#[test]
fn the_actor_gone_before_deciding_ends_the_connection_quietly() {
    let mut rig = Rig::new(settings(|_| {}));
    rig.request(&ClientRequest::new("localhost", "/"), b"");
    rig.s.actor_gone();
    let end = rig.s.poll_end(rig.now).unwrap();
    assert_eq!(end.close, None);
}

/// Takes at most `cap` bytes per write, then would block.
struct Trickle {
    cap: usize,
    got: Vec<u8>,
}

impl io::Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.cap == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.cap);
        self.cap -= n;
        self.got.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn partial_writes_keep_order_and_count_as_queued() {
    let mut rig = Rig::new(settings(|_| {}));
    rig.open();
    for i in 0..40 {
        rig.s
            .send(|| rig.now, |c| c.send_text(&format!("m{i}")))
            .unwrap();
    }
    let total = rig.s.queued();
    let mut sink = Trickle {
        cap: 7,
        got: Vec::new(),
    };
    rig.s.write_to(&mut sink).unwrap();
    assert!(rig.s.is_stalled());
    assert_eq!(
        rig.s.queued(),
        total - 7,
        "what waits in the session still counts"
    );
    rig.s.writable();
    sink.cap = usize::MAX;
    rig.s.write_to(&mut sink).unwrap();
    assert_eq!(rig.s.queued(), 0);
    let texts = rig.client_texts(&sink.got);
    let want: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, want);
}

#[test]
fn a_peer_that_stops_reading_is_dropped_once_the_close_is_over() {
    let mut rig = Rig::new(settings(|s| s.close_timeout = Duration::from_secs(5)));
    rig.open();
    rig.s
        .send(|| rig.now, |c| c.send_binary([0; 1000]))
        .unwrap();
    rig.s
        .write_to(Trickle {
            cap: 10,
            got: Vec::new(),
        })
        .unwrap();
    rig.s.close(CloseCode::NORMAL, "", rig.now).unwrap();
    rig.later(Duration::from_secs(4));
    assert_eq!(rig.s.poll_end(rig.now), None, "the close timer still runs");
    rig.later(Duration::from_secs(1));
    let end = rig.s.poll_end(rig.now).unwrap();
    assert_eq!(end.how, Shutdown::Both);
}

#[test]
fn rfc6455_5_5_3_an_unsolicited_pong_does_not_answer_the_heartbeat() {
    let mut rig = Rig::new(settings(|s| {
        s.ping_interval = Some(Duration::from_secs(30));
        s.pong_timeout = Some(Duration::from_secs(20));
    }));
    rig.open();
    rig.later(Duration::from_secs(30));
    let ping = rig.written();
    assert!(!ping.is_empty(), "the heartbeat ping");
    // The client never reads it, but sends pongs of its own.
    for _ in 0..3 {
        // An empty, masked pong (RFC 6455 §5.5.3 allows unsolicited ones).
        rig.read(&[0x8A, 0x80, 1, 2, 3, 4]);
        rig.later(Duration::from_secs(5));
    }
    rig.later(Duration::from_secs(5));
    let end = rig
        .s
        .poll_end(rig.now)
        .expect("dropped at the pong timeout");
    assert_eq!(
        end.close,
        Some((CloseCode::ABNORMAL, "pong timeout".into()))
    );
}

/// The poll bridge's read of a large payload, as `Slot::drive` makes it:
/// straight into the buffer `take_recv` lends, given back by `put_recv`.
fn read_lent(rig: &mut Rig, data: &[u8]) -> *const u8 {
    let (mut recv, room) = rig.s.take_recv().expect("a read straight into a buffer");
    assert!(data.len() <= room, "{} bytes, room for {room}", data.len());
    let at = recv.as_ptr();
    recv.extend_from_slice(data);
    rig.s
        .put_recv(recv, data.len(), rig.now, &rig.flow, &mut rig.msgs);
    at
}

#[test]
fn after_a_large_read_the_next_message_is_read_whole_into_a_recycled_buffer() {
    recv::forget_spares();
    let mut rig = Rig::open_default();
    let big = "x".repeat(30_000);
    rig.client.send_text(&big).unwrap();
    let wire = rig.client_bytes();
    // The first one as the poller meets it: its first 16 KiB in the poller's
    // buffer, the rest read straight into the codec's.
    let (head, rest) = wire.split_at(16_384);
    rig.s.adopt_spare(head);
    rig.read(head);
    let first = read_lent(&mut rig, rest);
    assert_eq!(
        rig.texts(),
        std::slice::from_ref(&big),
        "its payload dropped, its buffer is free"
    );

    // Nothing buffered after a large read: the next read goes straight into
    // that buffer, recycled. One that finds nothing gives it back (an idle
    // connection keeps no buffer).
    assert!(rig.s.reads_direct());
    let (recv, _) = rig.s.take_recv().unwrap();
    let recycled = recv.as_ptr();
    // The first read went in after the header, at the same allocation's start.
    assert_eq!(first as usize - recycled as usize, wire.len() - big.len());
    rig.s.put_recv(recv, 0, rig.now, &rig.flow, &mut rig.msgs);
    assert_eq!(rig.s.codec.recv_buffer().capacity(), 0);

    // The next message, read whole into it: no copy, one read.
    rig.client.send_text(&big).unwrap();
    let wire = rig.client_bytes();
    assert_eq!(read_lent(&mut rig, &wire), recycled);
    assert_eq!(rig.texts(), [big]);

    // A small message through the poller's buffer ends it.
    rig.client.send_text("hi").unwrap();
    let small = rig.client_bytes();
    rig.s.adopt_spare(&small);
    rig.read(&small);
    assert_eq!(rig.texts(), ["hi"]);
    assert!(!rig.s.reads_direct());
}

#[test]
fn a_small_message_is_written_at_once_when_nothing_waits() {
    let mut rig = Rig::open_default();
    let mut wire = Vec::new();
    let now = rig.now;
    assert_eq!(
        rig.s.send_now(OpCode::Text, b"hi", || now, &mut wire),
        Some(false)
    );
    assert_eq!(rig.s.queued(), 0);
    assert!(!rig.s.has_output());
    assert_eq!(rig.client_texts(&wire), ["hi"]);
    // Too long for the stack frame: queued as usual.
    let long = [b'a'; super::output::SEND_NOW_MAX_PAYLOAD + 1];
    assert_eq!(rig.s.send_now(OpCode::Text, &long, || now, &mut wire), None);
}

#[test]
fn a_message_written_at_once_never_overtakes_one_that_waits() {
    let mut rig = Rig::open_default();
    let now = rig.now;
    // Queued in the codec (a corked broadcast, say): this one waits behind it.
    rig.s.send(|| now, |c| c.send_text("first")).unwrap();
    assert_eq!(rig.s.send_now(OpCode::Text, b"x", || now, Vec::new()), None);
    let wire = rig.written();
    assert_eq!(rig.client_texts(&wire), ["first"]);
    // A partial write: the rest is queued first in line, and counted.
    let mut sink = Trickle {
        cap: 3,
        got: Vec::new(),
    };
    let wake = rig.s.send_now(OpCode::Text, b"second", || now, &mut sink);
    assert_eq!(wake, Some(true), "the poller writes the rest");
    assert_eq!(rig.s.queued(), 2 + 6 - 3);
    assert_eq!(rig.s.send_now(OpCode::Text, b"y", || now, Vec::new()), None);
    rig.s.send(|| now, |c| c.send_text("third")).unwrap();
    sink.cap = usize::MAX;
    rig.s.write_to(&mut sink).unwrap();
    assert_eq!(rig.s.queued(), 0);
    let got = std::mem::take(&mut sink.got);
    assert_eq!(rig.client_texts(&got), ["second", "third"]);
}

#[test]
fn a_message_the_transport_refuses_waits_for_writability() {
    let mut rig = Rig::open_default();
    let now = rig.now;
    assert_eq!(
        rig.s.send_now(OpCode::Binary, b"zz", || now, Full),
        Some(false)
    );
    assert!(rig.s.is_stalled(), "the writable edge drives the rest");
    assert_eq!(rig.s.queued(), 4);
    assert_eq!(rig.s.send_now(OpCode::Text, b"x", || now, Vec::new()), None);
    rig.s.writable();
    let wire = rig.written();
    rig.client.handle_bytes(&wire).unwrap();
    assert!(matches!(rig.client.poll_event(), Some(Event::Binary(b)) if &b[..] == b"zz"));
}

#[test]
fn a_message_over_high_water_or_after_a_close_is_left_to_the_usual_send() {
    let mut rig = Rig::new(settings(|s| s.high_water = 0));
    rig.open();
    let now = rig.now;
    assert_eq!(rig.s.send_now(OpCode::Text, b"x", || now, Vec::new()), None);
    assert!(matches!(
        rig.s.send(|| now, |c| c.send_text("x")),
        Err(Error::Backpressure { .. })
    ));
    let mut rig = Rig::open_default();
    rig.s.close(CloseCode::NORMAL, "", now).unwrap();
    let _ = rig.written();
    assert_eq!(rig.s.send_now(OpCode::Text, b"x", || now, Vec::new()), None);
}

#[test]
fn a_message_written_at_once_resets_the_idle_timeout() {
    let mut rig = Rig::new(settings(|s| s.idle_timeout = Some(Duration::from_secs(10))));
    rig.open();
    rig.later(Duration::from_secs(8));
    let now = rig.now;
    assert_eq!(
        rig.s.send_now(OpCode::Text, b"x", || now, Vec::new()),
        Some(false)
    );
    rig.later(Duration::from_secs(8));
    assert!(rig.s.is_open(), "16 s after the start, 8 after the send");
    rig.later(Duration::from_secs(3));
    assert!(!rig.s.is_open(), "idle past the timeout: closing");
}
