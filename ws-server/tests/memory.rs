//! What a peer can make the server queue is bounded in bytes of memory
//! (issue 12): a client that floods pings and never reads, and clients that
//! make the server echo tiny messages and never read, cost the server at most
//! about its `high_water` each, measured as the growth of this process's RSS
//! (/proc/self/status). The tests in this file take turns (one lock), so one
//! test's memory is not counted against another's.

mod common;

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use common::*;
use ws_server::{Connect, Ctx, Handler, Message, Request};

/// One test at a time: RSS is the whole process's.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// This process's resident set, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kb * 1024
}

const MIB: usize = 1 << 20;

/// `n` masked frames with opcode byte `first` and `payload`, back to back.
fn frames(first: u8, payload: &[u8], n: usize) -> Vec<u8> {
    let one = masked_frame(first, payload);
    let mut out = Vec::with_capacity(one.len() * n);
    for _ in 0..n {
        out.extend_from_slice(&one);
    }
    out
}

/// Writes `batch` over and over (never reading) until the server stops
/// taking bytes (a write times out: TCP pushes back), the server closes, or
/// `budget` bytes are sent; samples the RSS growth after each batch and
/// fails as soon as it passes `bound`. The bytes sent.
fn flood(tcp: &mut TcpStream, batch: &[u8], budget: usize, base: usize, bound: usize) -> usize {
    // A write that makes no progress for this long: the server stopped
    // reading (not a timing assertion: a slow server only ends the flood early).
    tcp.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut sent = 0;
    while sent < budget {
        match tcp.write(batch) {
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            // The server closed the connection: bounded too.
            Err(_) => break,
        }
        let grown = rss().saturating_sub(base);
        assert!(
            grown < bound,
            "the server grew by {} MiB after {} MiB sent",
            grown / MIB,
            sent / MIB
        );
    }
    sent
}

on_both_bridges!(a_client_flooding_pings_and_never_reading_costs_bounded_memory);
fn a_client_flooding_pings_and_never_reading_costs_bounded_memory(bridge: Bridge) {
    let _serial = serial();
    // 125-byte pings (the largest control frame). ws-codec keeps at most 32
    // pongs waiting (newer pings replace the newest one's payload), and the
    // server stops reading while they cannot be written: the client is
    // stalled by TCP, its cost bounded. With the heartbeat on, its pong
    // never comes back and `pong_timeout` ends it (1006).
    let (server, rx) = start_with(builder(bridge).ping_interval(None));
    let mut raw = Raw::connect(server.local_addr(), &[]);
    let conn = wait_connect(&rx);
    let batch = frames(0x89, &[b'p'; 125], 512);
    let base = rss();
    let budget = 256 * MIB;
    let sent = flood(&mut raw.tcp, &batch, budget, base, 64 * MIB);
    // The server stopped reading a client that does not read its pongs.
    assert!(sent < budget, "the server read all {} MiB", sent / MIB);
    // Stalled by TCP (or closed): what the server holds for this connection
    // is its high-water mark and a read's worth of answers, whatever was sent.
    let queued = conn.queued_bytes();
    eprintln!(
        "ping flood: {} MiB sent before TCP stalled it, {queued} bytes queued, RSS +{} MiB",
        sent / MIB,
        rss().saturating_sub(base) / MIB
    );
    assert!(
        queued <= ws_server::DEFAULT_HIGH_WATER + 64 * 1024,
        "{queued} bytes queued after {} MiB of pings",
        sent / MIB
    );
    let grown = rss().saturating_sub(base);
    assert!(grown < 64 * MIB, "grew by {} MiB", grown / MIB);
    drop(raw);
    server.shutdown(WAIT);
}

/// Answers any message with one-byte messages until the outbound queue
/// refuses one (as a fast echo client that never reads makes the server do);
/// reports the connection and the error.
struct Filler {
    tx: Mutex<mpsc::Sender<(ws_server::Conn, ws_server::Error)>>,
}

impl Handler for Filler {
    type State = ();
    fn on_connect(&self, _: &mut Ctx<'_>, _: &Request) -> Connect<()> {
        Connect::accept(())
    }
    fn on_message(&self, conn: &mut Ctx<'_>, _: &mut (), _: Message) {
        // Bounded: 100 million one-byte messages is far past any limit.
        for _ in 0..100_000_000u64 {
            if let Err(e) = conn.send_binary(b"x") {
                let _ = self.tx.lock().unwrap().send((conn.conn().clone(), e));
                return;
            }
        }
        panic!("the high-water mark never refused a send");
    }
}

on_both_bridges!(clients_sent_tiny_messages_and_never_reading_stay_under_high_water);
fn clients_sent_tiny_messages_and_never_reading_stay_under_high_water(bridge: Bridge) {
    // The review's case: clients that have the server send them one-byte
    // messages and never read. `high_water` (1 MiB by default) must bound the
    // memory each costs, not only the bytes it would take on the wire (about
    // 21x less for one-byte messages).
    let _serial = serial();
    // Four tell before from after: counting wire bytes cost ~16 MiB each.
    const CLIENTS: usize = 4;
    let (tx, filled) = mpsc::channel();
    // The close handshake that backpressure starts is never answered: a
    // long close timeout keeps what each client costs queued until measured.
    let server = builder(bridge)
        .ping_interval(None)
        .close_timeout(Duration::from_secs(60))
        .serve(Filler { tx: Mutex::new(tx) })
        .unwrap();
    let base = rss();
    // All upgraded first: a hook filling a queue holds its worker for a while.
    let mut raws: Vec<_> = (0..CLIENTS)
        .map(|_| Raw::connect(server.local_addr(), &[]))
        .collect();
    for raw in &mut raws {
        raw.send_raw(&masked_frame(0x82, b"go"));
    }
    let mut queued = 0;
    for _ in 0..CLIENTS {
        let (conn, e) = filled.recv_timeout(WAIT * 6).expect("a client filled up");
        assert!(matches!(e, ws_server::Error::Backpressure { .. }), "{e}");
        queued += conn.queued_bytes();
    }
    let grown = rss().saturating_sub(base);
    eprintln!(
        "{CLIENTS} clients: RSS +{} MiB, {} KiB queued on the wire",
        grown / MIB,
        queued / 1024
    );
    // 1 MiB each and slack for the allocator: well under the
    // 21 MiB each that counting wire bytes allowed.
    assert!(
        grown < CLIENTS * 4 * MIB,
        "{CLIENTS} clients grew the server by {} MiB ({} KiB queued on the wire)",
        grown / MIB,
        queued / 1024
    );
    drop(raws);
    server.shutdown(WAIT);
}

on_both_bridges!(a_ping_flooder_that_never_reads_is_ended_by_the_heartbeat);
fn a_ping_flooder_that_never_reads_is_ended_by_the_heartbeat(bridge: Bridge) {
    // Stalled by TCP, the flooder never reads the heartbeat's ping, so its
    // pong never comes: `pong_timeout` ends it (1006), even while the bridge
    // has stopped reading it.
    let _serial = serial();
    let (server, rx) = start_with(
        builder(bridge)
            .ping_interval(Some(Duration::from_millis(200)))
            .pong_timeout(Some(Duration::from_millis(300))),
    );
    let mut raw = Raw::connect(server.local_addr(), &[]);
    let conn = wait_connect(&rx);
    let batch = frames(0x89, &[b'p'; 125], 512);
    flood(&mut raw.tcp, &batch, 256 * MIB, rss(), 64 * MIB);
    let (_, code, reason) = wait_close(&rx, conn.id());
    assert_eq!((code, reason.as_str()), (1006, "pong timeout"));
    drop(raw);
    server.shutdown(WAIT);
}
