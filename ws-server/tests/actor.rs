//! A handler that is an actor: hooks link, monitor, trap exits, set a
//! receive timeout and stop through their `Ctx`, and `on_info` gets typed
//! messages (`Conn::tell`) and what links and monitors bring, with no tags.

mod common;

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::time::Duration;

use actor_core::{Down, Exit, ExitReason, Pid, Timeout};
use common::{builder, connect, read_close, read_msg, Bridge, WAIT};
use ws_server::{CloseCode, Conn, Connect, Ctx, Handler, Message, Request, Server};

/// What the handler saw.
#[derive(Debug)]
enum Seen {
    /// The connection and the idle partner actor its `on_connect` spawned.
    Connected(Conn, Pid),
    Info(String),
    Close(u16),
}

/// `on_connect` spawns an idle partner actor, then by path: `/monitor` it,
/// `/link` to it, `/trap` exits and link, `/timeout` sets a receive timeout.
/// The text `stop` stops the actor. `on_info` reports what it got and sends
/// it to the client as text.
struct Actorish {
    tx: Mutex<Sender<Seen>>,
}

impl Actorish {
    fn report(&self, seen: Seen) {
        let _ = self.tx.lock().unwrap().send(seen);
    }
}

impl Handler for Actorish {
    type State = ();

    fn on_connect(&self, cx: &mut Ctx<'_>, request: &Request) -> Connect<()> {
        let partner = cx.handle().spawn_fn(|_, _| {});
        match request.path() {
            "/monitor" => {
                cx.monitor(partner);
            }
            "/link" => cx.link(partner),
            "/trap" => {
                cx.trap_exit(true);
                cx.link(partner);
            }
            "/timeout" => cx.set_receive_timeout(Some(Duration::from_millis(20))),
            _ => {}
        }
        self.report(Seen::Connected(cx.conn().clone(), partner));
        Connect::accept(())
    }

    fn on_message(&self, cx: &mut Ctx<'_>, _: &mut (), message: Message) {
        if message == Message::Text("stop".into()) {
            cx.stop(ExitReason::Normal);
        }
    }

    fn on_info(&self, cx: &mut Ctx<'_>, _: &mut (), message: actor_core::Message) {
        let seen = if let Some(down) = message.downcast_ref::<Down>() {
            format!("down {:?}", down.reason)
        } else if let Some(exit) = message.downcast_ref::<Exit>() {
            format!("exit {:?}", exit.reason)
        } else if message.is::<Timeout>() {
            // Once is enough for the test.
            cx.set_receive_timeout(None);
            "timeout".to_owned()
        } else if let Ok(text) = message.downcast::<String>() {
            format!("told {text}")
        } else {
            "unknown".to_owned()
        };
        let _ = cx.send_text(&seen);
        self.report(Seen::Info(seen));
    }

    fn on_close(&self, _: &Conn, _: Option<()>, code: CloseCode, _: &str) {
        self.report(Seen::Close(code.0));
    }
}

fn start(bridge: Bridge) -> (Server, Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let handler = Actorish { tx: Mutex::new(tx) };
    (builder(bridge).serve(handler).expect("serve"), rx)
}

fn connected(rx: &Receiver<Seen>) -> (Conn, Pid) {
    match rx.recv_timeout(WAIT).expect("on_connect ran") {
        Seen::Connected(conn, partner) => (conn, partner),
        other => panic!("expected the connection, got {other:?}"),
    }
}

fn next(rx: &Receiver<Seen>) -> Seen {
    rx.recv_timeout(WAIT).expect("the handler saw something")
}

fn text(ws: &mut common::Client) -> String {
    match read_msg(ws) {
        tungstenite::Message::Text(t) => t.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

on_both_bridges!(a_monitor_brings_down_to_on_info);
fn a_monitor_brings_down_to_on_info(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/monitor");
    let (_, partner) = connected(&rx);
    server
        .handle()
        .exit(partner, ExitReason::Custom("gone".into()));
    assert_eq!(text(&mut ws), r#"down Custom("gone")"#);
}

on_both_bridges!(trapping_turns_a_linked_failure_into_an_exit_message);
fn trapping_turns_a_linked_failure_into_an_exit_message(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/trap");
    let (conn, partner) = connected(&rx);
    server
        .handle()
        .exit(partner, ExitReason::Custom("crash".into()));
    assert_eq!(text(&mut ws), r#"exit Custom("crash")"#);
    assert!(conn.is_open(), "the connection lives on");
}

on_both_bridges!(a_linked_failure_without_trapping_closes_1011);
fn a_linked_failure_without_trapping_closes_1011(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/link");
    let (_, partner) = connected(&rx);
    server
        .handle()
        .exit(partner, ExitReason::Custom("crash".into()));
    assert_eq!(read_close(&mut ws).0, 1011);
    assert!(matches!(next(&rx), Seen::Close(1011)));
}

on_both_bridges!(a_receive_timeout_reaches_on_info);
fn a_receive_timeout_reaches_on_info(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/timeout");
    connected(&rx);
    assert_eq!(text(&mut ws), "timeout");
}

on_both_bridges!(stop_from_a_hook_closes_1001_and_runs_on_close);
fn stop_from_a_hook_closes_1001_and_runs_on_close(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/");
    connected(&rx);
    ws.send(tungstenite::Message::text("stop")).unwrap();
    assert_eq!(read_close(&mut ws).0, 1001);
    assert!(matches!(next(&rx), Seen::Close(1001)));
}

on_both_bridges!(tell_delivers_a_typed_message_to_on_info);
fn tell_delivers_a_typed_message_to_on_info(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let mut ws = connect(server.local_addr(), "/");
    let (conn, _) = connected(&rx);
    conn.tell(String::from("hello")).unwrap();
    assert_eq!(text(&mut ws), "told hello");
    ws.close(None).unwrap();
    assert!(matches!(next(&rx), Seen::Info(seen) if seen == "told hello"));
    assert!(matches!(next(&rx), Seen::Close(_)));
    let end = common::deadline();
    while conn.tell(1u8).is_ok() {
        common::check(end, "tell fails once the actor is gone");
        std::thread::sleep(Duration::from_millis(5));
    }
}
