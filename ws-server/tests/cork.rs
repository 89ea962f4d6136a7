//! Corking: on the server's own workers (the poll bridge's default), what a hook publishes
//! is held back until its batch ends and then written once per connection; order with the
//! connection's direct sends holds, and a connection past 64 KiB corked is written at once.

mod common;

use common::*;
use tungstenite::Message as W;
use ws_server::{Bridge, Connect, Ctx, Handler, Message, Request};

/// Everyone subscribes to `room`. `burst:N:SIZE` publishes N messages of SIZE bytes on it,
/// then sends its own client `queued:BYTES` (what its connection held unwritten right
/// after the publishes), then publishes `after`.
struct Burst;

impl Handler for Burst {
    type State = ();

    fn on_connect(&self, cx: &mut Ctx<'_>, _: &Request) -> Connect<()> {
        cx.subscribe("room").unwrap();
        Connect::accept(())
    }

    fn on_message(&self, cx: &mut Ctx<'_>, _: &mut (), message: Message) {
        let Message::Text(text) = message else { return };
        let mut args = text.as_str().strip_prefix("burst:").unwrap().split(':');
        let n: usize = args.next().unwrap().parse().unwrap();
        let size: usize = args.next().unwrap().parse().unwrap();
        for i in 0..n {
            let body = format!("{i}:{}", "x".repeat(size));
            cx.publish("room", body.as_str());
        }
        let queued = cx.conn().queued_bytes();
        cx.send_text(&format!("queued:{queued}")).unwrap();
        cx.publish("room", "after");
    }
}

fn text(ws: &mut Client) -> String {
    match read_msg(ws) {
        W::Text(t) => t.as_str().to_owned(),
        m => panic!("expected text, got {m:?}"),
    }
}

/// One worker: the hook runs where the connection's earlier turns already ran, so the
/// worker corks (it does from the end of its first actor's batch on).
fn server() -> ws_server::Server {
    builder(Bridge::Poll).workers(1).serve(Burst).unwrap()
}

fn wait_room(server: &ws_server::Server, n: usize) {
    let end = deadline();
    while server.topics().subscribers("room") != n {
        check(end, "waiting for the subscribers");
        std::thread::yield_now();
    }
}

/// The `queued:N` report the test hook sends after its burst.
fn queued(ws: &mut Client) -> usize {
    text(ws).strip_prefix("queued:").unwrap().parse().unwrap()
}

#[test]
fn a_hooks_publishes_wait_for_the_end_of_its_batch_and_keep_their_order() {
    let server = server();
    let addr = server.local_addr();
    let mut publisher = connect(addr, "/");
    let mut other = connect(addr, "/");
    wait_room(&server, 2);
    publisher.send(W::text("burst:16:10")).unwrap();
    for i in 0..16 {
        assert!(text(&mut publisher).starts_with(&format!("{i}:")));
    }
    // Corked: nothing of the 16 was written while the hook ran (on a socket that takes
    // them all, a write at once would have left 0).
    let queued = queued(&mut publisher);
    let frames: usize = (0..16).map(|i| 2 + format!("{i}:").len() + 10).sum();
    assert_eq!(queued, frames, "all 16 frames still queued");
    assert_eq!(
        text(&mut publisher),
        "after",
        "the direct send kept its place"
    );
    for i in 0..16 {
        assert!(text(&mut other).starts_with(&format!("{i}:")));
    }
    assert_eq!(text(&mut other), "after");
}

#[test]
fn a_connection_past_64_kib_corked_is_written_at_once() {
    let server = server();
    let mut publisher = connect(server.local_addr(), "/");
    wait_room(&server, 1);
    // 10 messages of 10 KiB: past 64 KiB the connection is written before the batch ends.
    publisher.send(W::text("burst:10:10240")).unwrap();
    for i in 0..10 {
        assert!(text(&mut publisher).starts_with(&format!("{i}:")));
    }
    let queued = queued(&mut publisher);
    assert!(
        queued < 10 * 10240,
        "{queued} bytes still queued: never written early"
    );
    assert_eq!(text(&mut publisher), "after");
}
