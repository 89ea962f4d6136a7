//! Flow control: while the actor is behind, the bridge stops reading, so the
//! mailbox stays bounded and TCP pushes back on the client; nothing is lost.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::thread;

use actor_core::Runtime;
use common::{masked_frame, Bridge, UPGRADE, WAIT};
use ws_server::{Connect, Ctx, Handler, Message, Request, Server};

const LIMIT: usize = 4;
const COUNT: usize = 5000;

/// Blocks in its first on_message until released; reports the pid and the
/// last message's arrival.
struct Gate {
    release: Mutex<Receiver<()>>,
    seen: AtomicUsize,
    pid_tx: Mutex<Sender<actor_core::Pid>>,
    first_tx: Mutex<Sender<()>>,
    done_tx: Mutex<Sender<usize>>,
}

impl Handler for Gate {
    type State = ();
    fn on_connect(&self, conn: &mut Ctx<'_>, _: &Request) -> Connect<()> {
        self.pid_tx.lock().unwrap().send(conn.pid()).unwrap();
        Connect::accept(())
    }
    fn on_message(&self, _: &mut Ctx<'_>, _: &mut (), message: Message) {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            self.first_tx.lock().unwrap().send(()).unwrap();
            self.release.lock().unwrap().recv_timeout(WAIT).unwrap();
        }
        // Messages arrive in order: each carries its index.
        let Message::Binary(b) = message else {
            panic!("binary expected")
        };
        assert_eq!(u32::from_be_bytes(b[..4].try_into().unwrap()) as usize, n);
        if n + 1 == COUNT {
            self.done_tx.lock().unwrap().send(n + 1).unwrap();
        }
    }
}

on_both_bridges!(a_busy_actor_stops_the_reader_and_loses_nothing);
fn a_busy_actor_stops_the_reader_and_loses_nothing(bridge: Bridge) {
    let runtime = Runtime::builder().workers(2).build().unwrap();
    let (release_tx, release_rx) = mpsc::channel();
    let (pid_tx, pid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let (first_tx, first_rx) = mpsc::channel();
    let server = Server::builder()
        .bridge(bridge)
        .bind("127.0.0.1:0")
        .runtime(runtime.handle())
        .mailbox_limit(LIMIT)
        .read_buffer_size(1024)
        .serve(Gate {
            release: Mutex::new(release_rx),
            seen: AtomicUsize::new(0),
            pid_tx: Mutex::new(pid_tx),
            first_tx: Mutex::new(first_tx),
            done_tx: Mutex::new(done_tx),
        })
        .unwrap();
    let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
    // The writer blocks while TCP pushes back: a reader that never resumes
    // must fail the test, not hang it.
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    tcp.write_all(UPGRADE.as_bytes()).unwrap();
    let pid = pid_rx.recv_timeout(WAIT).unwrap();
    let frame = |i: u32| {
        let mut payload = i.to_be_bytes().to_vec();
        payload.resize(100, 0);
        masked_frame(0x82, &payload)
    };
    // The first message alone, until the actor blocks on it: otherwise its
    // worker may take several queued messages into its batch at once, which
    // the bridge counts as in flight but `mailbox_len` no longer does.
    tcp.write_all(&frame(0)).unwrap();
    first_rx.recv_timeout(WAIT).unwrap();
    let writer = thread::spawn(move || {
        for i in 1..COUNT as u32 {
            tcp.write_all(&frame(i)).unwrap();
        }
        tcp
    });
    // Wait until the reader has filled the mailbox up to the limit (the
    // message blocked in the hook counts towards it: handed over, not yet
    // handled; a read's frames beyond the limit may go in too, but when each
    // read holds one frame the mailbox stops at exactly LIMIT - 1) ...
    let handle = runtime.handle();
    // Bounded by the hang guard, not a count of polls.
    let give_up = std::time::Instant::now() + WAIT;
    let mut reached = false;
    while std::time::Instant::now() < give_up {
        if handle.mailbox_len(pid).unwrap_or(0) >= LIMIT - 1 {
            reached = true;
            break;
        }
        thread::yield_now();
    }
    assert!(reached, "the reader never filled the mailbox");
    // ... and check it stays bounded while the client keeps writing: one
    // 1 KiB read holds at most ten 110-byte frames past the limit.
    for _ in 0..10_000 {
        let len = handle.mailbox_len(pid).unwrap_or(0);
        assert!(
            len <= LIMIT + 10,
            "mailbox grew to {len}: the reader did not stop"
        );
        thread::yield_now();
    }
    release_tx.send(()).unwrap();
    assert_eq!(done_rx.recv_timeout(WAIT).unwrap(), COUNT);
    let tcp = writer.join().unwrap();
    drop(tcp);
    server.shutdown(WAIT);
    runtime.shutdown(WAIT);
}

/// Blocks in its first on_message until released; reports each message's
/// index as it is handled.
struct Slow {
    release: Mutex<Receiver<()>>,
    pid_tx: Mutex<Sender<actor_core::Pid>>,
    seen_tx: Mutex<Sender<u32>>,
}

impl Handler for Slow {
    type State = bool;
    fn on_connect(&self, conn: &mut Ctx<'_>, _: &Request) -> Connect<bool> {
        self.pid_tx.lock().unwrap().send(conn.pid()).unwrap();
        Connect::accept(false)
    }
    fn on_message(&self, _: &mut Ctx<'_>, released: &mut bool, message: Message) {
        let Message::Binary(b) = message else {
            panic!("binary expected")
        };
        let index = u32::from_be_bytes(b[..4].try_into().unwrap());
        self.seen_tx.lock().unwrap().send(index).unwrap();
        if !*released {
            *released = true;
            self.release.lock().unwrap().recv_timeout(WAIT).unwrap();
        }
    }
}

/// A masked binary frame of `len` bytes starting with `index`.
fn big_frame(index: u32, len: usize) -> Vec<u8> {
    let mut payload = vec![0u8; len];
    payload[..4].copy_from_slice(&index.to_be_bytes());
    let mask = [1u8, 2, 3, 4];
    let mut out = vec![0x82, 0x80 | 127];
    out.extend_from_slice(&(len as u64).to_be_bytes());
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

on_both_bridges!(large_messages_in_flight_are_bounded_in_bytes_not_only_in_count);
fn large_messages_in_flight_are_bounded_in_bytes_not_only_in_count(bridge: Bridge) {
    // Issue 12: `mailbox_limit` counts messages, so 256 x 1 MiB could wait
    // for a slow handler. `mailbox_bytes` stops reading at 3 MiB here: one
    // message in the hook and two in the mailbox at most.
    const MSGS: u32 = 16;
    const LEN: usize = 1 << 20;
    let runtime = Runtime::builder().workers(2).build().unwrap();
    let (release_tx, release_rx) = mpsc::channel();
    let (pid_tx, pid_rx) = mpsc::channel();
    let (seen_tx, seen_rx) = mpsc::channel();
    let server = Server::builder()
        .bridge(bridge)
        .bind("127.0.0.1:0")
        .runtime(runtime.handle())
        .ping_interval(None)
        .max_frame_size(2 * LEN)
        .max_message_size(2 * LEN)
        .mailbox_bytes(3 * LEN)
        .serve(Slow {
            release: Mutex::new(release_rx),
            pid_tx: Mutex::new(pid_tx),
            seen_tx: Mutex::new(seen_tx),
        })
        .unwrap();
    let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    tcp.write_all(UPGRADE.as_bytes()).unwrap();
    let pid = pid_rx.recv_timeout(WAIT).unwrap();
    let writer = thread::spawn(move || {
        for i in 0..MSGS {
            tcp.write_all(&big_frame(i, LEN)).unwrap();
        }
        tcp
    });
    assert_eq!(
        seen_rx.recv_timeout(WAIT).unwrap(),
        0,
        "the hook holds the first"
    );
    let handle = runtime.handle();
    // Watch the mailbox while the client pushes the other fifteen: a window
    // of observation, never a threshold (a slow machine only watches less).
    let watch = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut most = 0;
    while std::time::Instant::now() < watch {
        let len = handle.mailbox_len(pid).unwrap_or(0);
        most = most.max(len);
        assert!(
            len <= 2,
            "{len} messages of 1 MiB wait in the mailbox: reading did not stop"
        );
        thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(
        most >= 1,
        "the reader never delivered behind the held message"
    );
    release_tx.send(()).unwrap();
    for i in 1..MSGS {
        assert_eq!(
            seen_rx.recv_timeout(WAIT).unwrap(),
            i,
            "in order, none lost"
        );
    }
    let tcp = writer.join().unwrap();
    drop(tcp);
    server.shutdown(WAIT);
    runtime.shutdown(WAIT);
}
