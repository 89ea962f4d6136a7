//! The hooks: accept, reject, close-after-upgrade, on_info, on_close codes, panics.

mod common;

use std::sync::mpsc;

use actor_core::{tag, Down, ExitReason, Runtime};
use common::*;
use tungstenite::Message as W;
use ws_server::{CloseCode, Error, Message};

on_both_bridges!(reject_in_on_connect_answers_before_the_upgrade);
fn reject_in_on_connect_answers_before_the_upgrade(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let err = try_connect(server.local_addr(), "/reject").unwrap_err();
    match err {
        tungstenite::Error::Http(resp) => {
            assert_eq!(resp.status(), 403);
            assert_eq!(resp.headers()["x-reason"], "test");
            assert_eq!(resp.body().as_deref(), Some(&b"go away"[..]));
        }
        other => panic!("expected an HTTP refusal, got {other}"),
    }
    let conn = wait_connect(&rx);
    // Never upgraded: on_close is not owed, and the handle is closed.
    assert!(matches!(conn.send_text("x"), Err(Error::Closed)));
    server.shutdown(WAIT);
    assert!(rx.try_iter().all(|ev| !matches!(ev, Ev::Close { .. })));
}

on_both_bridges!(close_in_on_connect_upgrades_then_closes_with_1008);
fn close_in_on_connect_upgrades_then_closes_with_1008(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/close");
    assert_eq!(read_close(&mut ws), (1008, "not allowed".to_owned()));
    drain_to_end(&mut ws);
    let conn = wait_connect(&rx);
    assert_eq!(
        wait_close(&rx, conn.id()),
        (false, 1008, "not allowed".to_owned())
    );
    server.shutdown(WAIT);
}

on_both_bridges!(accept_with_subprotocol_and_headers);
fn accept_with_subprotocol_and_headers(bridge: Bridge) {
    let (server, _rx) = start(bridge);
    let tcp = std::net::TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut req = tungstenite::client::IntoClientRequest::into_client_request(format!(
        "ws://{}/proto",
        server.local_addr()
    ))
    .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "chat".parse().unwrap());
    let (ws, resp) = tungstenite::client(req, tcp).unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "chat");
    assert_eq!(resp.headers()["x-test"], "yes");
    drop(ws);
    server.shutdown(WAIT);
}

on_both_bridges!(client_initiated_close_reports_the_peer_code_and_reason);
fn client_initiated_close_reports_the_peer_code_and_reason(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    ws.close(Some(tungstenite::protocol::CloseFrame {
        code: 4000.into(),
        reason: "done here".into(),
    }))
    .unwrap();
    drain_to_end(&mut ws);
    assert_eq!(
        wait_close(&rx, conn.id()),
        (true, 4000, "done here".to_owned())
    );
    server.shutdown(WAIT);
}

on_both_bridges!(server_initiated_close_completes_the_handshake);
fn server_initiated_close_completes_the_handshake(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    ws.send(W::text("close")).unwrap();
    assert_eq!(read_close(&mut ws), (1000, "bye".to_owned()));
    drain_to_end(&mut ws);
    assert_eq!(wait_close(&rx, conn.id()), (true, 1000, "bye".to_owned()));
    server.shutdown(WAIT);
}

on_both_bridges!(vanished_peer_is_reported_as_1006);
fn vanished_peer_is_reported_as_1006(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let ws = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    drop(ws); // TCP closed without a close frame
    let (had_state, code, _) = wait_close(&rx, conn.id());
    assert!(had_state);
    assert_eq!(code, 1006);
    server.shutdown(WAIT);
}

on_both_bridges!(send_after_close_returns_closed);
fn send_after_close_returns_closed(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    assert!(conn.is_open());
    ws.close(None).unwrap();
    drain_to_end(&mut ws);
    wait_close(&rx, conn.id());
    assert!(!conn.is_open());
    assert!(matches!(conn.send_text("late"), Err(Error::Closed)));
    assert!(matches!(conn.send_binary(b"late"), Err(Error::Closed)));
    assert!(matches!(conn.ping(b""), Err(Error::Closed)));
    assert!(matches!(
        conn.close(CloseCode::NORMAL, ""),
        Err(Error::Closed)
    ));
    let frame = ws_server::EncodedFrame::text("late");
    assert!(matches!(conn.send_encoded(&frame), Err(Error::Closed)));
    server.shutdown(WAIT);
}

on_both_bridges!(on_info_receives_messages_from_other_actors);
fn on_info_receives_messages_from_other_actors(bridge: Bridge) {
    let runtime = Runtime::builder().workers(2).build().unwrap();
    let (server, rx) = start_with(builder(bridge).runtime(runtime.handle()));
    let mut ws = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    // Any actor (here, a plain thread through the handle) sends to the pid.
    runtime
        .handle()
        .send(conn.pid(), 7, String::from("from an actor"))
        .unwrap();
    assert_eq!(read_msg(&mut ws), W::text("info:from an actor"));
    wait_for(&rx, |ev| match ev {
        Ev::Info(id, text) if id == conn.id() => {
            assert_eq!(text, "from an actor");
            Some(())
        }
        _ => None,
    });
    drop(ws);
    server.shutdown(WAIT);
    runtime.shutdown(WAIT);
}

/// Spawns an actor that monitors `pid` and reports its exit reason.
fn watch(runtime: &Runtime, pid: actor_core::Pid) -> mpsc::Receiver<ExitReason> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let watcher = runtime.handle().spawn_fn(move |ctx, msg| {
        if msg.tag() == tag::DOWN {
            if let Ok(down) = msg.downcast::<Down>() {
                let _ = tx.send(down.reason);
            }
        } else if let Ok(target) = msg.downcast::<actor_core::Pid>() {
            ctx.monitor(target);
            let _ = ready_tx.send(());
        }
    });
    runtime.handle().send(watcher, 1, pid).unwrap();
    ready_rx.recv_timeout(WAIT).unwrap();
    rx
}

fn assert_panicked(reason: ExitReason, text: &str) {
    match reason {
        ExitReason::Panic(m) => assert!(m.contains(text), "{m}"),
        other => panic!("expected a panic reason, got {other}"),
    }
}

on_both_bridges!(panic_in_on_message_closes_1011_and_spares_other_connections);
fn panic_in_on_message_closes_1011_and_spares_other_connections(bridge: Bridge) {
    let runtime = Runtime::builder().workers(2).build().unwrap();
    let (server, rx) = start_with(builder(bridge).runtime(runtime.handle()));
    let mut bystander = connect(server.local_addr(), "/");
    let by = wait_connect(&rx);
    let mut ws = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    let down = watch(&runtime, conn.pid());
    ws.send(W::text("panic")).unwrap();
    assert_eq!(read_close(&mut ws).0, 1011);
    drain_to_end(&mut ws);
    assert_eq!(wait_close(&rx, conn.id()).1, 1011);
    assert_panicked(down.recv_timeout(WAIT).unwrap(), "on_message panics");
    // The other connection did not notice.
    bystander.send(W::text("still fine")).unwrap();
    assert_eq!(read_msg(&mut bystander), W::text("still fine"));
    assert!(by.is_open());
    drop(bystander);
    server.shutdown(WAIT);
    runtime.shutdown(WAIT);
}

on_both_bridges!(panic_in_on_info_closes_1011);
fn panic_in_on_info_closes_1011(bridge: Bridge) {
    let runtime = Runtime::builder().workers(2).build().unwrap();
    let (server, rx) = start_with(builder(bridge).runtime(runtime.handle()));
    let mut ws = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    let down = watch(&runtime, conn.pid());
    runtime
        .handle()
        .send(conn.pid(), 7, String::from("panic"))
        .unwrap();
    assert_eq!(read_close(&mut ws).0, 1011);
    drain_to_end(&mut ws);
    assert_eq!(wait_close(&rx, conn.id()).1, 1011);
    assert_panicked(down.recv_timeout(WAIT).unwrap(), "on_info panics");
    server.shutdown(WAIT);
    runtime.shutdown(WAIT);
}

on_both_bridges!(panic_in_on_connect_upgrades_then_closes_1011);
fn panic_in_on_connect_upgrades_then_closes_1011(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut bystander = connect(server.local_addr(), "/");
    wait_connect(&rx);
    let mut ws = connect(server.local_addr(), "/panic");
    let conn = wait_connect(&rx);
    assert_eq!(read_close(&mut ws).0, 1011);
    drain_to_end(&mut ws);
    assert_eq!(
        wait_close(&rx, conn.id()),
        (false, 1011, "internal error".to_owned())
    );
    bystander.send(W::text("ok")).unwrap();
    assert_eq!(read_msg(&mut bystander), W::text("ok"));
    drop(bystander);
    server.shutdown(WAIT);
}

on_both_bridges!(message_types_reach_on_message_in_order);
fn message_types_reach_on_message_in_order(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/");
    let conn = wait_connect(&rx);
    for i in 0..100 {
        ws.send(W::text(format!("m{i}"))).unwrap();
    }
    for i in 0..100 {
        assert_eq!(read_msg(&mut ws), W::text(format!("m{i}")));
        wait_for(&rx, |ev| match ev {
            Ev::Msg(id, Message::Text(t)) if id == conn.id() => {
                assert_eq!(t.as_str(), format!("m{i}"));
                Some(())
            }
            _ => None,
        });
    }
    drop(ws);
    server.shutdown(WAIT);
}

/// Sends `command` as a text frame and returns what the hook's `Conn` call gave.
fn call_from_hook(raw: &mut Raw, rx: &mpsc::Receiver<Ev>, command: &str) -> Result<(), Error> {
    raw.send_raw(&masked_frame(0x81, command.as_bytes()));
    wait_for(rx, |ev| match ev {
        Ev::Called(_, c, result) if c == command => Some(result),
        _ => None,
    })
}

/// The connection still echoes (it was not closed by a refused call).
fn still_echoes(raw: &mut Raw, conn: &ws_server::Conn, text: &str) {
    assert!(conn.is_open());
    raw.send_raw(&masked_frame(0x81, text.as_bytes()));
    match raw.next_event() {
        Some(ws_codec::Event::Text(t)) => assert_eq!(t.as_str(), text),
        other => panic!("expected the echo of {text:?}, got {other:?}"),
    }
}

on_both_bridges!(ping_over_125_bytes_from_a_hook_is_refused_and_the_connection_stays);
/// RFC 6455 §5.5: "All control frames MUST have a payload length of 125
/// bytes or less". `Conn::ping` with 126 bytes is `Error::Send`, nothing goes
/// on the wire, and the connection goes on; 125 bytes is sent.
fn ping_over_125_bytes_from_a_hook_is_refused_and_the_connection_stays(bridge: Bridge) {
    let (server, rx) = start_with(builder(bridge).ping_interval(None));
    let mut raw = Raw::connect(server.local_addr(), b"");
    let conn = wait_connect(&rx);
    match call_from_hook(&mut raw, &rx, "ping:126") {
        Err(Error::Send(ws_codec::SendError::ControlPayloadTooLong(126))) => {}
        other => panic!("expected Error::Send(ControlPayloadTooLong(126)), got {other:?}"),
    }
    // The next frame the client sees is this echo: the refused ping never left.
    still_echoes(&mut raw, &conn, "after the big ping");
    call_from_hook(&mut raw, &rx, "ping:125").expect("a 125-byte ping is allowed");
    match raw.next_event() {
        Some(ws_codec::Event::Ping(p)) => assert_eq!(&p[..], &[b'p'; 125][..]),
        other => panic!("expected the 125-byte ping, got {other:?}"),
    }
    still_echoes(&mut raw, &conn, "after the ping");
    drop(raw);
    assert_eq!(wait_close(&rx, conn.id()).1, 1006);
    server.shutdown(WAIT);
}

on_both_bridges!(invalid_close_code_from_a_hook_is_refused_and_the_connection_stays);
/// RFC 6455 §7.4.2: "Status codes in the range 0-999 are not used"; §7.4.1:
/// 1004 is reserved, and 1006 and 1015 "MUST NOT be set as a status code in a
/// Close control frame by an endpoint"; §7.4.2 defines nothing above 4999.
/// `Conn::close` with any of them is `Error::Send`, no close frame goes out
/// and the connection stays usable; a valid code then closes it.
fn invalid_close_code_from_a_hook_is_refused_and_the_connection_stays(bridge: Bridge) {
    let (server, rx) = start_with(builder(bridge).ping_interval(None));
    let mut raw = Raw::connect(server.local_addr(), b"");
    let conn = wait_connect(&rx);
    for code in [999u16, 1004, 1006, 1015, 5000] {
        match call_from_hook(&mut raw, &rx, &format!("close:{code}")) {
            Err(Error::Send(ws_codec::SendError::InvalidCloseCode(c))) => assert_eq!(c.0, code),
            other => panic!("close {code}: expected Error::Send(InvalidCloseCode), got {other:?}"),
        }
        still_echoes(&mut raw, &conn, &format!("after close {code}"));
    }
    call_from_hook(&mut raw, &rx, "close:4000").expect("4000 is a valid close code");
    assert_eq!(raw.close_code(), 4000);
    // The raw client's codec queued the answering close: send it.
    while let Some(b) = raw.codec.poll_transmit() {
        raw.send_raw(&b);
    }
    raw.read_to_eof();
    assert_eq!(
        wait_close(&rx, conn.id()),
        (true, 4000, "from a hook".to_owned())
    );
    server.shutdown(WAIT);
}

on_both_bridges!(close_1005_from_a_hook_sends_a_close_frame_without_a_code);
/// RFC 6455 §7.4.1: 1005 "MUST NOT be set as a status code in a Close control
/// frame"; §5.5.1: the close body is optional. ws-codec documents
/// `CloseCode::NO_STATUS` as "send a close frame with an empty payload", so
/// `Conn::close(1005, ..)` is not an error: the client reads a close without
/// a code (which it reports as 1005, §7.1.5) and without a reason.
fn close_1005_from_a_hook_sends_a_close_frame_without_a_code(bridge: Bridge) {
    let (server, rx) = start_with(builder(bridge).ping_interval(None));
    let mut raw = Raw::connect(server.local_addr(), b"");
    let conn = wait_connect(&rx);
    call_from_hook(&mut raw, &rx, "close:1005").expect("1005 sends an empty close");
    let end = deadline();
    let frame = loop {
        check(end, "waiting for the close frame");
        match raw.next_event() {
            Some(ws_codec::Event::Close(f)) => break f,
            Some(_) => {}
            None => panic!("connection ended without a close frame"),
        }
    };
    assert_eq!((frame.code.0, frame.reason.as_str()), (1005, ""));
    while let Some(b) = raw.codec.poll_transmit() {
        raw.send_raw(&b);
    }
    raw.read_to_eof();
    // The reason given to close() never went on the wire; on_close reports it
    // anyway (not asserted here: see the report).
    assert_eq!(wait_close(&rx, conn.id()).1, 1005);
    server.shutdown(WAIT);
}
