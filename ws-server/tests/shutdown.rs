//! Graceful shutdown: 1001 to all, 503 to handshakes in progress, on_close for
//! every connection, and every thread joined. Its own test binary, so the
//! thread count is this server's alone.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;

/// Names of this process's threads that belong to a ws-server bridge.
fn bridge_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) {
            let comm = comm.trim().to_owned();
            if comm.starts_with("ws-read")
                || comm.starts_with("ws-write")
                || comm.starts_with("ws-accept")
                || comm.starts_with("ws-poll")
            {
                names.push(comm);
            }
        }
    }
    names
}

/// Both bridges in one test, one after the other: the thread check counts
/// every bridge thread of the process.
#[test]
fn shutdown_closes_everything_with_1001_and_joins_every_thread() {
    shutdown_on(Bridge::Threads, false);
    shutdown_on(Bridge::Poll, false);
    shutdown_on(Bridge::Poll, true);
}

fn shutdown_on(bridge: Bridge, poller_thread: bool) {
    let (server, rx) = start_with(builder(bridge).poller_thread(poller_thread));
    let addr = server.local_addr();

    // Three clients that answer the close handshake, on their own threads.
    let (codes_tx, codes_rx) = mpsc::channel();
    let mut ids = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut ws = connect(addr, "/");
        ids.push(wait_connect(&rx).id());
        let tx = codes_tx.clone();
        clients.push(thread::spawn(move || {
            let code = read_close(&mut ws);
            drain_to_end(&mut ws);
            tx.send(code).unwrap();
        }));
    }
    // One that never reads: it cannot answer, so the grace period ends it.
    let _deaf = connect(addr, "/");
    ids.push(wait_connect(&rx).id());
    // One still sending its request head: it gets 503.
    let mut half = TcpStream::connect(addr).unwrap();
    half.set_read_timeout(Some(WAIT)).unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Wait until the server has counted it (a handshake in progress): bounded
    // by the harness's deadline, not by a number of polls times a sleep.
    let end = deadline();
    while server.connections() != 5 {
        check(end, "the half-open client was never admitted");
        thread::park_timeout(Duration::from_millis(5));
    }

    assert!(!bridge_threads().is_empty());
    if bridge == Bridge::Poll {
        // Five connections, no thread of their own: the accept thread, and
        // the poller runs inside the runtime's workers unless asked otherwise.
        let port = addr.port();
        let mut names = bridge_threads();
        names.sort();
        let mut expected = vec![format!("ws-accept-{port}")];
        if poller_thread {
            expected.push(format!("ws-poll-{port}"));
        }
        assert_eq!(names, expected);
    }
    let report = server.shutdown(Duration::from_secs(1));
    assert_eq!(report.connections, 5);
    assert_eq!(report.forced, 1, "only the deaf client should need forcing");

    for _ in 0..3 {
        let (code, reason) = codes_rx.recv_timeout(WAIT).unwrap();
        assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
    }
    for c in clients {
        c.join().unwrap();
    }
    // Every on_close ran before shutdown returned, each with 1001.
    let mut closed: Vec<(u64, u16)> = rx
        .try_iter()
        .filter_map(|ev| match ev {
            Ev::Close { id, code, .. } => Some((id, code)),
            _ => None,
        })
        .collect();
    closed.sort_unstable();
    let expected: Vec<(u64, u16)> = ids.iter().map(|&id| (id, 1001)).collect();
    assert_eq!(closed, expected);
    let mut answer = String::new();
    let _ = half.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(bridge_threads(), Vec::<String>::new());
}
