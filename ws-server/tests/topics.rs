//! Topics through real connections, on both bridges: subscribe in a hook, publish from
//! another thread, unsubscribe, leave at the end, and a subscriber that stops reading.

mod common;

use std::sync::mpsc;
use std::thread;

use common::*;
use tungstenite::Message as W;
use ws_server::{Backpressure, Connect, Ctx, Handler, Message, Request, Server, Topics};

/// `/?t=a,b` subscribes to `a` and `b`. Texts: `unsub:NAME` unsubscribes (then answers
/// `unsubscribed`), `pub:NAME:TEXT` publishes TEXT on NAME.
struct Subscriber;

impl Handler for Subscriber {
    type State = ();

    fn on_connect(&self, cx: &mut Ctx<'_>, request: &Request) -> Connect<()> {
        let topics = request
            .query()
            .and_then(|q| q.strip_prefix("t="))
            .unwrap_or("");
        for t in topics.split(',').filter(|t| !t.is_empty()) {
            cx.subscribe(t).unwrap();
        }
        Connect::accept(())
    }

    fn on_message(&self, cx: &mut Ctx<'_>, _: &mut (), message: Message) {
        let Message::Text(text) = message else { return };
        if let Some(name) = text.as_str().strip_prefix("unsub:") {
            assert!(cx.unsubscribe(name));
            cx.send_text("unsubscribed").unwrap();
        } else if let Some(rest) = text.as_str().strip_prefix("pub:") {
            let (name, text) = rest.split_once(':').unwrap();
            cx.publish(name, text);
        }
    }
}

fn wait_subscribers(topics: &Topics, topic: &str, n: usize) {
    let end = deadline();
    while topics.subscribers(topic) != n {
        check(end, "waiting for the subscriber count");
        thread::yield_now();
    }
}

fn text(ws: &mut Client) -> String {
    match read_msg(ws) {
        W::Text(t) => t.as_str().to_owned(),
        m => panic!("expected text, got {m:?}"),
    }
}

on_both_bridges!(a_publish_from_any_thread_reaches_every_subscriber_in_order);
fn a_publish_from_any_thread_reaches_every_subscriber_in_order(bridge: Bridge) {
    let server = builder(bridge).serve(Subscriber).unwrap();
    let addr = server.local_addr();
    let mut news: Vec<Client> = (0..3).map(|_| connect(addr, "/?t=news")).collect();
    let mut other = connect(addr, "/?t=other");
    let topics = server.topics().clone();
    thread::spawn(move || {
        for i in 0..100 {
            let p = topics.publish("news", format!("n{i}").as_str());
            assert_eq!(p.delivered, 3);
        }
        topics.publish("other", "o");
        topics.publish("news", &[1u8, 2, 3][..]);
    })
    .join()
    .unwrap();
    for ws in &mut news {
        for i in 0..100 {
            assert_eq!(text(ws), format!("n{i}"));
        }
        assert_eq!(read_msg(ws), W::binary(vec![1, 2, 3]));
    }
    assert_eq!(text(&mut other), "o", "other topics see nothing of news");
}

on_both_bridges!(unsubscribe_stops_delivery_and_the_end_of_a_connection_leaves_its_topics);
fn unsubscribe_stops_delivery_and_the_end_of_a_connection_leaves_its_topics(bridge: Bridge) {
    let server = builder(bridge).serve(Subscriber).unwrap();
    let addr = server.local_addr();
    let mut a = connect(addr, "/?t=x,y");
    let topics = server.topics();
    a.send(W::text("unsub:x")).unwrap();
    assert_eq!(text(&mut a), "unsubscribed");
    assert_eq!(topics.publish("x", "not for a").delivered, 0);
    topics.publish("y", "for a");
    assert_eq!(text(&mut a), "for a", "nothing of x came first");

    // A hook publishes too; the publisher, subscribed, hears itself.
    a.send(W::text("pub:y:from a hook")).unwrap();
    assert_eq!(text(&mut a), "from a hook");

    let mut b = connect(addr, "/?t=y,z");
    wait_subscribers(topics, "y", 2);
    a.close(None).unwrap();
    drain_to_end(&mut a);
    drop(b.close(None));
    drain_to_end(&mut b);
    wait_subscribers(topics, "y", 0);
    assert_eq!(
        topics.topic_count(),
        0,
        "every topic left as its connections ended"
    );
}

on_both_bridges!(a_subscriber_that_stops_reading_meets_its_backpressure_and_delays_no_other);
fn a_subscriber_that_stops_reading_meets_its_backpressure_and_delays_no_other(bridge: Bridge) {
    let server = builder(bridge)
        .high_water(64 * 1024)
        .backpressure(Backpressure::Close)
        .serve(Subscriber)
        .unwrap();
    let addr = server.local_addr();
    let _stalled = connect(addr, "/?t=feed"); // never reads
    let mut reader = connect(addr, "/?t=feed");
    wait_subscribers(server.topics(), "feed", 2);
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let n = 1000;
    let read = thread::spawn(move || {
        for i in 0..n {
            let t = text(&mut reader);
            assert!(t.starts_with(&format!("{i}:")), "message {i} out of order");
            ack_tx.send(()).unwrap();
        }
    });
    // 16 MB in all, one message in flight to the reader at a time: the stalled subscriber
    // goes over its high-water mark long before the end, and the reader sees everything.
    let body = "x".repeat(16 * 1024);
    let (mut delivered, mut not) = (0, 0);
    for i in 0..n {
        let p = server
            .topics()
            .publish("feed", format!("{i}:{body}").as_str());
        delivered += p.delivered;
        not += p.refused + p.closed;
        ack_rx.recv_timeout(WAIT).expect("the reader fell behind");
    }
    read.join().unwrap();
    assert!(not > 0, "the stalled subscriber was never refused");
    assert!(delivered >= n, "the reader took every message");
}

#[test]
fn servers_given_one_topics_share_it() {
    let topics = Topics::new();
    let one = Server::builder()
        .bind("127.0.0.1:0")
        .workers(1)
        .topics(topics.clone());
    let two = Server::builder()
        .bind("127.0.0.1:0")
        .workers(1)
        .topics(topics.clone());
    let (one, two) = (
        one.serve(Subscriber).unwrap(),
        two.serve(Subscriber).unwrap(),
    );
    let mut a = connect(one.local_addr(), "/?t=shared");
    let mut b = connect(two.local_addr(), "/?t=shared");
    a.send(W::text("pub:shared:hello both")).unwrap();
    assert_eq!(text(&mut a), "hello both");
    assert_eq!(text(&mut b), "hello both");
}
