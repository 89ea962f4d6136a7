//! Dropping a `Server` without calling `shutdown`: the same goodbye as a
//! shutdown with a one-second grace period. Its own test binary, apart from
//! shutdown.rs, whose thread count must see that server's threads alone.

mod common;

use std::sync::mpsc;
use std::thread;

use common::*;
use tungstenite::Message as W;

on_both_bridges!(dropping_the_server_closes_every_connection_with_1001_and_frees_the_port);
/// RFC 6455 §7.4.1: 1001 "indicates that an endpoint is "going away", such as
/// a server going down". Every open connection gets it, `on_close` runs for
/// each (a client that never reads included) before `drop` returns, and the
/// listening port is released: a new server binds the very same address.
fn dropping_the_server_closes_every_connection_with_1001_and_frees_the_port(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let addr = server.local_addr();

    let (codes_tx, codes_rx) = mpsc::channel();
    let mut ids = Vec::new();
    let mut readers = Vec::new();
    for i in 0..3 {
        let mut ws = connect(addr, "/");
        ids.push(wait_connect(&rx).id());
        // Each client is served before the drop.
        ws.send(W::text(format!("hello {i}"))).unwrap();
        assert_eq!(read_msg(&mut ws), W::text(format!("hello {i}")));
        let tx = codes_tx.clone();
        readers.push(thread::spawn(move || {
            let close = read_close(&mut ws);
            drain_to_end(&mut ws);
            tx.send(close).unwrap();
        }));
    }
    // One client that never reads: it cannot answer the close, so the grace
    // period ends it; its on_close still runs, with the 1001 sent to it.
    let deaf = connect(addr, "/");
    ids.push(wait_connect(&rx).id());

    drop(server);

    for _ in 0..3 {
        let close = codes_rx.recv_timeout(WAIT).expect("a client saw no close");
        assert_eq!(close, (1001, "server shutting down".to_owned()));
    }
    for r in readers {
        r.join().unwrap();
    }
    // Drop returned only after every on_close ran: they are all queued now.
    let mut closed: Vec<(u64, bool, u16)> = rx
        .try_iter()
        .filter_map(|ev| match ev {
            Ev::Close {
                id,
                had_state,
                code,
                ..
            } => Some((id, had_state, code)),
            _ => None,
        })
        .collect();
    closed.sort_unstable();
    let expected: Vec<(u64, bool, u16)> = ids.iter().map(|&id| (id, true, 1001)).collect();
    assert_eq!(closed, expected);
    drop(deaf);

    // The port is free: a new server binds the same address and serves.
    let (again, rx) = start_with(builder(bridge).bind(addr));
    assert_eq!(again.local_addr(), addr);
    let mut ws = connect(addr, "/second");
    let (_, path) = wait_for(&rx, |ev| match ev {
        Ev::Connect(c, path) => Some((c, path)),
        _ => None,
    });
    assert_eq!(path, "/second");
    ws.send(W::text("new server")).unwrap();
    assert_eq!(read_msg(&mut ws), W::text("new server"));
    drop(ws);
    again.shutdown(WAIT);
}
