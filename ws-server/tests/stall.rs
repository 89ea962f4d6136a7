//! A hook that blocks its worker for seconds (issue 12): the other
//! connections keep their heartbeat and their I/O. On the poll bridge the
//! poller runs inside the workers, so the other worker must take it over
//! while one is stuck in the hook; on the thread bridge the heartbeat is the
//! writer thread's. Prints the stall: the longest echo round trip another
//! connection saw while the hook blocked.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{connect, Bridge, Client};
use ws_server::{Connect, Ctx, Handler, Message, Request, Server};

/// How long the hook blocks its worker.
const BLOCK: Duration = Duration::from_secs(3);
/// Heartbeat of the server under test: several pings fall inside `BLOCK`.
const PING: Duration = Duration::from_millis(250);
/// Connections that go on while one hook blocks.
const OTHERS: usize = 4;

/// Echoes; `block` holds the worker for [`BLOCK`] (what a careless hook does).
struct Blocking;

impl Handler for Blocking {
    type State = ();
    fn on_connect(&self, _: &mut Ctx<'_>, _: &Request) -> Connect<()> {
        Connect::accept(())
    }
    fn on_message(&self, conn: &mut Ctx<'_>, _: &mut (), message: Message) {
        match message {
            Message::Text(t) if t.as_str() == "block" => thread::sleep(BLOCK),
            Message::Text(t) => {
                let _ = conn.send_text(t.as_str());
            }
            Message::Binary(b) => {
                let _ = conn.send_binary(&b);
            }
        }
    }
}

/// What one other connection saw while the hook blocked.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    echoes: usize,
    pings: usize,
    worst: Duration,
}

/// Echo round trips on `ws` until `stop`; counts those (and the pings read
/// with them) that overlapped the block, which starts at `window`'s instant.
fn others(ws: &mut Client, stop: &AtomicBool, window: &std::sync::Mutex<Option<Instant>>) -> Seen {
    let mut seen = Seen::default();
    let bound = Instant::now() + BLOCK + common::WAIT;
    while !stop.load(Ordering::Relaxed) {
        assert!(Instant::now() < bound, "the run did not end");
        let sent = Instant::now();
        ws.send(tungstenite::Message::text("x")).expect("send");
        let mut pings = 0;
        loop {
            match ws.read().expect("read") {
                tungstenite::Message::Ping(_) => pings += 1,
                tungstenite::Message::Text(_) => break,
                _ => {}
            }
        }
        let took = sent.elapsed();
        let start = *window.lock().unwrap();
        if let Some(from) = start {
            // Inside the block: the round trip overlapped it.
            if sent + took > from && sent < from + BLOCK {
                seen.echoes += 1;
                seen.pings += pings;
                seen.worst = seen.worst.max(took);
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
    seen
}

fn blocked_hook(bridge: Bridge) {
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .workers(2)
        .bridge(bridge)
        .ping_interval(Some(PING))
        .pong_timeout(Some(Duration::from_secs(10)))
        .serve(Blocking)
        .expect("serve");
    let addr = server.local_addr();
    let mut blocker = connect(addr, "/");
    let mut clients: Vec<Client> = (0..OTHERS).map(|_| connect(addr, "/")).collect();
    for ws in &mut clients {
        // tungstenite writes a frame's header and payload apart: without
        // NODELAY, Nagle and the delayed ACK add 40 ms to a round trip.
        if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = ws.get_mut() {
            tcp.set_nodelay(true).unwrap();
        }
    }
    let stop = AtomicBool::new(false);
    let window = std::sync::Mutex::new(None);
    let seen: Vec<Seen> = thread::scope(|s| {
        let handles: Vec<_> = clients
            .iter_mut()
            .map(|ws| {
                let (stop, window) = (&stop, &window);
                s.spawn(move || others(ws, stop, window))
            })
            .collect();
        thread::sleep(Duration::from_millis(300));
        *window.lock().unwrap() = Some(Instant::now());
        blocker
            .send(tungstenite::Message::text("block"))
            .expect("send block");
        thread::sleep(BLOCK + Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let worst = seen.iter().map(|s| s.worst).max().unwrap_or_default();
    println!(
        "stall {bridge:?}: while one hook blocked its worker for {BLOCK:?}, {OTHERS} other \
         connections made {:?} echo round trips and got {:?} pings (every {PING:?}); the longest \
         round trip was {:.1} ms",
        seen.iter().map(|s| s.echoes).collect::<Vec<_>>(),
        seen.iter().map(|s| s.pings).collect::<Vec<_>>(),
        worst.as_secs_f64() * 1e3,
    );
    for (i, s) in seen.iter().enumerate() {
        // A stalled connection would make one round trip spanning the whole
        // block and see no ping inside it: both bounds are about liveness.
        assert!(s.echoes >= 2, "connection {i} stalled: {s:?}");
        assert!(s.pings >= 1, "connection {i} lost its heartbeat: {s:?}");
        assert!(s.worst < BLOCK, "connection {i} waited out the hook: {s:?}");
    }
    // The blocked connection itself is fine afterwards.
    blocker
        .send(tungstenite::Message::text("after"))
        .expect("send");
    assert_eq!(
        common::read_msg(&mut blocker),
        tungstenite::Message::text("after")
    );
}

on_both_bridges!(blocked_hook);
