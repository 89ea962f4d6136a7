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
