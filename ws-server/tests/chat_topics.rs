//! The chat example on topics: a room is a topic; on one Redis, chat servers share rooms.
//!
//! The Redis tests run when `WS_TEST_REDIS_URL` names a running `redis-server` (`cargo xtask
//! ci` starts one on a free loopback port and sets it); the restart test starts and kills a
//! `redis-server` of its own (`WS_TEST_REDIS_SERVER`, default `redis-server`). Without the
//! variable they print a note and pass.

mod common;

#[path = "../examples/chat/room.rs"]
mod room;
#[path = "../examples/chat/topic.rs"]
mod topic;

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use tungstenite::Message as W;
use ws_server::{RedisBroker, Server, Topics};

fn chat(bridge: Bridge, topics: Topics) -> Server {
    builder(bridge)
        .permessage_deflate(Some(ws_server::DEFAULT_DEFLATE))
        .topics(topics.clone())
        .serve(topic::Chat::new(topics))
        .unwrap()
}

fn text(ws: &mut Client) -> String {
    match read_msg(ws) {
        W::Text(t) => t.as_str().to_owned(),
        m => panic!("expected text, got {m:?}"),
    }
}

/// A thread that reads `ws` and forwards every text, so a test can wait with a timeout.
fn forward(mut ws: Client) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        while let Ok(m) = ws.read() {
            if let W::Text(t) = m {
                if tx.send(t.as_str().to_owned()).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

on_both_bridges!(members_of_a_room_see_each_other_and_other_rooms_do_not);
fn members_of_a_room_see_each_other_and_other_rooms_do_not(bridge: Bridge) {
    let server = chat(bridge, Topics::new());
    let addr = server.local_addr();
    let mut a = connect(addr, "/ws?room=one");
    let mut b = connect(addr, "/ws?room=one");
    let mut c = connect(addr, "/ws?room=two");
    a.send(W::text("hi from a")).unwrap();
    a.send(W::text("and again")).unwrap();
    for ws in [&mut a, &mut b] {
        assert_eq!(text(ws), "hi from a");
        assert_eq!(text(ws), "and again");
    }
    c.send(W::text("room two")).unwrap();
    assert_eq!(text(&mut c), "room two", "nothing of room one came first");
    assert_eq!(server.topics().subscribers(&topic::topic("one")), 2);
}

/// The Redis URL, or `None` (with a note) when the Redis tests are not asked for.
fn redis_url(test: &str) -> Option<String> {
    match std::env::var("WS_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // Straight to stderr, past the test harness's capture: the skip is visible.
            let _ = writeln!(
                std::io::stderr(),
                "note: {test} skipped: set WS_TEST_REDIS_URL (cargo xtask ci does)"
            );
            None
        }
    }
}

/// Topics on the Redis at `url`, channels under `prefix` (one per test: tests run at once).
fn on_redis(url: &str, prefix: &str) -> Topics {
    Topics::with_broker(RedisBroker::new(url).unwrap().prefix(prefix))
}

/// Waits until `n` servers are subscribed to `room`'s channel on the Redis at `url`.
fn wait_numsub(url: &str, prefix: &str, room: &str, n: i64) {
    wait_numsub_until(url, prefix, room, |c| c >= n);
}

/// Waits until the number of servers subscribed to `room`'s channel satisfies `done`.
fn wait_numsub_until(url: &str, prefix: &str, room: &str, done: impl Fn(i64) -> bool) {
    let channel = format!("{prefix}{}", topic::topic(room));
    let end = deadline();
    loop {
        check(end, "waiting for the servers' subscriptions in redis");
        let count = redis::Client::open(url)
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
            .and_then(|mut con| {
                redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(&channel)
                    .query::<(String, i64)>(&mut con)
            })
            .map_or(0, |(_, n)| n);
        if done(count) {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn prefix(test: &str) -> String {
    format!("test-{}-{test}:", std::process::id())
}

#[test]
fn two_chat_servers_on_one_redis_share_a_room() {
    let Some(url) = redis_url("two_chat_servers_on_one_redis_share_a_room") else {
        return;
    };
    let p = prefix("share");
    let one = chat(Bridge::Poll, on_redis(&url, &p));
    let two = chat(Bridge::Threads, on_redis(&url, &p));
    let mut a = connect(one.local_addr(), "/ws?room=shared");
    let mut b = connect(two.local_addr(), "/ws?room=shared");
    let mut elsewhere = connect(two.local_addr(), "/ws?room=other");
    wait_numsub(&url, &p, "shared", 2);
    a.send(W::text("from one")).unwrap();
    b.send(W::text("from two")).unwrap();
    // Each server's own member hears its message at once and the other's through Redis,
    // each exactly once (no echo: the next message is the marker).
    for ws in [&mut a, &mut b] {
        let mut got = [text(ws), text(ws)];
        got.sort();
        assert_eq!(got, ["from one", "from two"]);
    }
    a.send(W::text("marker")).unwrap();
    assert_eq!(text(&mut a), "marker");
    assert_eq!(text(&mut b), "marker");
    elsewhere.send(W::text("other room")).unwrap();
    assert_eq!(text(&mut elsewhere), "other room");
    assert_eq!(one.topics().broker_stats().dropped, 0);

    // The last member on `two` leaves: `two` unsubscribes from the room's channel.
    b.close(None).unwrap();
    drain_to_end(&mut b);
    wait_numsub_until(&url, &p, "shared", |c| c == 1);
    // And subscribes again for a new member.
    let mut b2 = connect(two.local_addr(), "/ws?room=shared");
    wait_numsub(&url, &p, "shared", 2);
    a.send(W::text("welcome back")).unwrap();
    assert_eq!(text(&mut b2), "welcome back");
}

#[test]
fn hundred_members_on_one_server_receive_in_order_everything_sent_on_the_other() {
    let Some(url) = redis_url("hundred_members_...") else {
        return;
    };
    let p = prefix("hundred");
    let one = chat(Bridge::Poll, on_redis(&url, &p));
    let two = chat(Bridge::Poll, on_redis(&url, &p));
    let mut members: Vec<Client> = (0..100)
        .map(|_| connect(two.local_addr(), "/ws?room=big"))
        .collect();
    let mut sender = connect(one.local_addr(), "/ws?room=big");
    wait_numsub(&url, &p, "big", 2);
    let n = 200;
    for i in 0..n {
        sender.send(W::text(format!("m{i}"))).unwrap();
    }
    for (k, ws) in members.iter_mut().enumerate() {
        for i in 0..n {
            assert_eq!(text(ws), format!("m{i}"), "member {k}, message {i}");
        }
    }
    let stats = two.topics().broker_stats();
    assert_eq!(stats.received, n as u64, "each message crossed once");
}

/// A `redis-server` this test started (and kills).
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let bin = std::env::var("WS_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let end = deadline();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            check(end, "waiting for redis-server to listen");
            thread::sleep(Duration::from_millis(10));
        }
        OwnRedis { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn redis_killed_local_delivery_goes_on_and_cross_server_delivery_comes_back() {
    if redis_url("redis_killed_...").is_none() {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis = OwnRedis::start(port);
    let url = redis.url();
    let p = prefix("restart");
    let one = chat(Bridge::Poll, on_redis(&url, &p));
    let two = chat(Bridge::Poll, on_redis(&url, &p));
    let mut a = connect(one.local_addr(), "/ws?room=r");
    let local = forward(connect(one.local_addr(), "/ws?room=r"));
    let remote = forward(connect(two.local_addr(), "/ws?room=r"));
    wait_numsub(&url, &p, "r", 2);
    a.send(W::text("before")).unwrap();
    assert_eq!(remote.recv_timeout(WAIT).unwrap(), "before");
    assert_eq!(local.recv_timeout(WAIT).unwrap(), "before");

    drop(redis);
    // Local delivery goes on; what could not cross is counted.
    for i in 0..20 {
        a.send(W::text(format!("down{i}"))).unwrap();
        assert_eq!(local.recv_timeout(WAIT).unwrap(), format!("down{i}"));
    }
    let end = deadline();
    while one.topics().broker_stats().dropped == 0 {
        check(end, "waiting for the dropped publishes to be counted");
        a.send(W::text("down more")).unwrap();
        thread::sleep(Duration::from_millis(20));
    }

    let _redis = OwnRedis::start(port);
    let restarted = Instant::now();
    let mut k = 0;
    let back = loop {
        check(deadline(), "cross-server delivery");
        a.send(W::text(format!("after{k}"))).unwrap();
        k += 1;
        match remote.recv_timeout(Duration::from_millis(50)) {
            Ok(t) if t.starts_with("after") => break restarted.elapsed(),
            Ok(t) => assert!(t.starts_with("down"), "unexpected {t}"),
            Err(_) if restarted.elapsed() < WAIT => {}
            Err(e) => panic!("no cross-server delivery after the restart: {e}"),
        }
    };
    eprintln!("cross-server delivery back {back:?} after redis restarted");
    assert!(back < Duration::from_secs(2), "back only after {back:?}");
    assert!(two.topics().broker_stats().reconnects >= 1);
}
