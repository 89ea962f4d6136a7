//! The chat example's rooms: members of a room see each other's messages;
//! other rooms do not.

mod common;

#[path = "../examples/chat/room.rs"]
mod room;

use actor_core::Runtime;
use common::*;
use tungstenite::Message as W;
use ws_server::{Server, ServerBuilder};

/// A runtime of `workers` and the room-actor chat on it; `build` adds to the builder.
fn chat(
    bridge: Bridge,
    workers: usize,
    build: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> (Runtime, Server) {
    let runtime = Runtime::builder().workers(workers).build().unwrap();
    let builder = Server::builder()
        .bridge(bridge)
        .bind("127.0.0.1:0")
        .runtime(runtime.handle());
    let server = build(builder).serve(room::Chat::default()).unwrap();
    (runtime, server)
}

on_both_bridges!(members_of_a_room_see_each_other_and_other_rooms_do_not);
fn members_of_a_room_see_each_other_and_other_rooms_do_not(bridge: Bridge) {
    let (runtime, server) = chat(bridge, 2, |b| b);
    let addr = server.local_addr();
    let mut a = connect(addr, "/ws?room=one");
    let mut b = connect(addr, "/ws?room=one");
    let mut c = connect(addr, "/ws?room=two");

    // on_connect sent JOIN to the room before the 101 went out, so both
    // joins are in the room's mailbox before anything a sends from here.
    a.send(W::text("hi from a")).unwrap();
    a.send(W::text("and again")).unwrap();
    for ws in [&mut a, &mut b] {
        let mut seen = Vec::new();
        let end = deadline();
        while seen.len() < 2 {
            check(end, "waiting for the room's two messages");
            if let W::Text(t) = read_msg(ws) {
                if t.as_str() == "hi from a" || t.as_str() == "and again" {
                    seen.push(t.as_str().to_owned());
                }
            }
        }
        assert_eq!(seen, ["hi from a", "and again"]);
    }
    // The room finished broadcasting "hi from a" before "and again": had c
    // been a member, "hi from a" would be queued for it before its own echo.
    c.send(W::text("only two")).unwrap();
    assert_eq!(read_msg(&mut c), W::text("only two"));

    drop((a, b, c));
    server.shutdown(WAIT);
    runtime.shutdown(WAIT);
}

on_both_bridges!(page_is_served_at_root_with_the_dom_contract);
fn page_is_served_at_root_with_the_dom_contract(bridge: Bridge) {
    let (runtime, server) = chat(bridge, 1, |b| b);
    let page = http(server.local_addr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    for needle in [
        "id=\"msg\"",
        "id=\"send\"",
        "id=\"log\"",
        "id=\"status\"",
        "/ws?room=",
    ] {
        assert!(page.contains(needle), "page lacks {needle}");
    }
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "external asset"
    );
    let missing = http(server.local_addr(), "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    server.shutdown(WAIT);
    runtime.shutdown(WAIT);
}

#[test]
fn room_names_are_checked() {
    assert_eq!(room::room_name(None), Some("lobby"));
    assert_eq!(room::room_name(Some("room=abc-1")), Some("abc-1"));
    assert_eq!(room::room_name(Some("x=1&room=z")), Some("z"));
    assert_eq!(room::room_name(Some("room=")), None);
    assert_eq!(room::room_name(Some("room=a%20b")), None);
}

on_both_bridges!(a_room_stops_when_its_last_member_leaves);
fn a_room_stops_when_its_last_member_leaves(bridge: Bridge) {
    // Issue 12: every room name ever joined left an actor (and its name)
    // behind. Join and leave 1000 rooms: none is left.
    const ROOMS: usize = 1000;
    let (runtime, server) = chat(bridge, 2, |b| b);
    let handle = runtime.handle();
    let addr = server.local_addr();
    let baseline = handle.actor_count();
    for i in 0..ROOMS {
        let mut ws = connect(addr, &format!("/ws?room=r{i}"));
        ws.send(W::text(format!("hello {i}"))).unwrap();
        assert_eq!(read_msg(&mut ws), W::text(format!("hello {i}")));
        ws.close(None).unwrap();
        drain_to_end(&mut ws);
    }
    let end = deadline();
    while handle.actor_count() > baseline {
        check(end, "every room and connection actor to end");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for i in 0..ROOMS {
        assert_eq!(handle.whereis(&format!("chat-room:r{i}")), None);
    }
    // A room that emptied and a new member at once: the member still gets a
    // room (a new one) and hears itself.
    let mut a = connect(addr, "/ws?room=again");
    a.send(W::text("one")).unwrap();
    assert_eq!(read_msg(&mut a), W::text("one"));
    drop(a);
    let mut b = connect(addr, "/ws?room=again");
    b.send(W::text("two")).unwrap();
    assert_eq!(read_msg(&mut b), W::text("two"));
    drop(b);
    server.shutdown(WAIT);
    runtime.shutdown(WAIT);
}

on_both_bridges!(the_page_reads_member_counts_and_metrics);
fn the_page_reads_member_counts_and_metrics(bridge: Bridge) {
    let (runtime, server) = chat(bridge, 2, |b| b.metrics_path("/metrics"));
    let addr = server.local_addr();
    let stats = |room: &str| {
        let r = http(
            addr,
            &format!("GET /stats?room={room} HTTP/1.1\r\nHost: x\r\n\r\n"),
        );
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        r.split_once("\r\n\r\n").unwrap().1.to_owned()
    };
    assert_eq!(stats("three"), r#"{"room":"three","members":0}"#);
    let mut a = connect(addr, "/ws?room=three");
    let mut b = connect(addr, "/ws?room=three");
    // A message through the room: both joins were handled before it.
    a.send(W::text("hello")).unwrap();
    assert_eq!(read_msg(&mut b), W::text("hello"));
    assert_eq!(stats("three"), r#"{"room":"three","members":2}"#);
    let page = page_text(addr);
    assert!(page.contains("id=\"members\"") && page.contains("id=\"rate\""));
    let metrics = http(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        metrics.contains("ws_messages_received_total{kind=\"text\"} 1"),
        "{metrics}"
    );
    drop((a, b));
    server.shutdown(WAIT);
    runtime.shutdown(WAIT);
}

fn page_text(addr: std::net::SocketAddr) -> String {
    http(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
}
