//! Topic bookkeeping and the in-memory broker, on links that never open (so every send is
//! refused as closed: what is counted is who was reached).

use std::net::SocketAddr;
use std::sync::Arc;

use actor_core::Runtime;

use super::*;
use crate::config::Settings;
use crate::link::Link;
use crate::registry::Registry;

fn conn(runtime: &Runtime, topics: &Topics, id: u64) -> Conn {
    let settings = Settings {
        topics: topics.clone(),
        ..Settings::default()
    };
    let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
    // As if its actor were running, so `actor_gone` can count it out.
    let registry = Registry::default();
    registry.lock().actors += 1;
    Conn {
        link: Arc::new(Link::new(
            id,
            peer,
            Arc::new(settings),
            runtime.handle(),
            Arc::new(registry),
            true,
        )),
    }
}

fn runtime() -> Runtime {
    Runtime::builder().workers(1).build().unwrap()
}

#[test]
fn subscribe_is_idempotent_and_unsubscribe_leaves() {
    let rt = runtime();
    let topics = Topics::new();
    let a = conn(&rt, &topics, 1);
    assert!(a.subscribe("news").unwrap());
    assert!(!a.subscribe("news").unwrap());
    assert_eq!(topics.subscribers("news"), 1);
    assert!(a.unsubscribe("news"));
    assert!(!a.unsubscribe("news"));
    assert_eq!(topics.subscribers("news"), 0);
    assert_eq!(topics.topic_count(), 0, "an empty topic is removed");
}

#[test]
fn publish_reaches_each_subscriber_of_the_topic_once() {
    let rt = runtime();
    let topics = Topics::new();
    let conns: Vec<Conn> = (0..5).map(|i| conn(&rt, &topics, i)).collect();
    for c in &conns[..3] {
        c.subscribe("a").unwrap();
    }
    conns[3].subscribe("b").unwrap();
    // Never upgraded, so each is refused as closed: three were reached on "a".
    let p = topics.publish("a", "hello");
    assert_eq!(p.delivered + p.refused + p.closed, 3);
    assert_eq!(p.closed, 3);
    assert_eq!(topics.publish("nobody", "x"), Published::default());
    let frame = crate::encode_binary(b"bin", None);
    assert_eq!(topics.publish("b", &frame).closed, 1);
    assert_eq!(topics.publish("b", &b"raw"[..]).closed, 1);
}

#[test]
fn a_connection_that_ends_leaves_every_topic_and_cannot_join_again() {
    let rt = runtime();
    let topics = Topics::new();
    let a = conn(&rt, &topics, 7);
    let b = conn(&rt, &topics, 8);
    for t in ["x", "y", "z"] {
        a.subscribe(t).unwrap();
    }
    b.subscribe("y").unwrap();
    a.link.actor_gone();
    assert_eq!(topics.topic_count(), 1);
    assert_eq!(topics.subscribers("y"), 1);
    assert!(matches!(a.subscribe("x"), Err(Error::Closed)));
}

#[test]
fn ten_thousand_topics_and_subscribers() {
    let rt = runtime();
    let topics = Topics::new();
    let conns: Vec<Conn> = (0..10_000).map(|i| conn(&rt, &topics, i)).collect();
    for (i, c) in conns.iter().enumerate() {
        c.subscribe(&format!("t{i}")).unwrap();
        c.subscribe("all").unwrap();
    }
    assert_eq!(topics.topic_count(), 10_001);
    assert_eq!(topics.subscribers("all"), 10_000);
    assert_eq!(topics.publish("all", "x").closed, 10_000);
    for c in &conns {
        c.link.actor_gone();
    }
    assert_eq!(topics.topic_count(), 0);
}

#[test]
fn memory_broker_follows_first_and_last_subscriber_and_skips_its_own() {
    let rt = runtime();
    let bus = MemoryBus::new();
    let one = Topics::with_broker(bus.broker());
    let two = Topics::with_broker(bus.broker());
    let a = conn(&rt, &one, 1);
    let b = conn(&rt, &two, 2);
    let c = conn(&rt, &two, 3);
    a.subscribe("room").unwrap();
    b.subscribe("room").unwrap();
    c.subscribe("room").unwrap();

    // One publish on `one`: a here, and b and c through the bus; nothing back to one.
    let p = one.publish("room", "hi");
    assert_eq!(p.closed, 1);
    assert_eq!(two.broker_stats().received, 1);
    assert_eq!(one.broker_stats().received, 0, "no echo of its own message");
    assert_eq!(one.broker_stats().published, 1);

    // After the last subscriber on `two` leaves, it hears nothing more.
    b.unsubscribe("room");
    one.publish("room", "still one");
    assert_eq!(two.broker_stats().received, 2);
    c.link.actor_gone();
    one.publish("room", "none");
    assert_eq!(two.broker_stats().received, 2);
}

#[test]
fn memory_broker_down_counts_drops_and_local_delivery_goes_on() {
    let rt = runtime();
    let bus = MemoryBus::new();
    let one = Topics::with_broker(bus.broker());
    let two = Topics::with_broker(bus.broker());
    let a = conn(&rt, &one, 1);
    let b = conn(&rt, &two, 2);
    a.subscribe("r").unwrap();
    b.subscribe("r").unwrap();
    bus.set_down(true);
    assert_eq!(
        one.publish("r", "lost across").closed,
        1,
        "still delivered here"
    );
    assert_eq!(one.broker_stats().dropped, 1);
    assert_eq!(two.broker_stats().received, 0);
    bus.set_down(false);
    one.publish("r", "across again");
    assert_eq!(two.broker_stats().received, 1);
}

#[test]
fn inbound_of_dropped_topics_delivers_nothing() {
    let topics = Topics::new();
    let inbound = Inbound::new(Arc::downgrade(&topics.inner));
    assert!(inbound.is_alive());
    drop(topics);
    assert!(!inbound.is_alive());
    assert_eq!(
        inbound.deliver("t", Payload::Text("x")),
        Published::default()
    );
}

#[test]
fn a_bad_redis_url_is_an_error() {
    assert!(RedisBroker::new("not a url").is_err());
    assert!(RedisBroker::new("redis://127.0.0.1:1").is_ok());
}

#[test]
fn an_unreachable_redis_counts_what_could_not_cross_and_local_delivery_goes_on() {
    let rt = runtime();
    // Nothing listens on port 1 of the loopback: every connect is refused at once.
    let topics = Topics::with_broker(RedisBroker::new("redis://127.0.0.1:1").unwrap());
    let a = conn(&rt, &topics, 1);
    a.subscribe("t").unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut reached = 0;
    while topics.broker_stats().dropped == 0 {
        assert!(
            std::time::Instant::now() < end,
            "nothing counted as dropped"
        );
        reached += topics.publish("t", "x").closed;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(reached >= 1, "the local subscriber was still reached");
    let stats = topics.broker_stats();
    assert!(!stats.connected);
    assert_eq!(stats.published, 0);
    // The connection ends (out of the topic), then the last handles go: the broker's
    // threads are joined as the topics drop (the test would hang otherwise).
    a.link.actor_gone();
    drop(a);
    drop(topics);
}
