//! `cargo xtask faults`: the echo example (release) under the faults of issue 12
//! that need a process of its own, on both bridges.
//!
//! - **EMFILE**: the server runs with a soft limit of [`NOFILE`] open files and
//!   gets more clients than that allows. It must not spin on the failing
//!   `accept` (the accept thread's CPU time over a few seconds, from /proc),
//!   must keep serving the connections it has (each echoes), and must accept
//!   the waiting clients once connections close.
//! - **Slow handshakes**: 10 000 connections that each send one byte of
//!   their request head a second (and reconnect when dropped) for
//!   [`FLOOD`]: the server is bounded by its handshake timeout (10 s), its
//!   handshake caps (64 per address, 1 024 in all: from one address it holds
//!   64 in progress and at most 1 024 more waiting, unread, for a place) and
//!   `max_connections` (10 000). Prints its peak RSS, and checks it still
//!   upgrades a normal client once the flood stops.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::proc::{self, Echo};
use crate::step;
use crate::wsc::{Ws, TEXT, UPGRADE};

/// The server's soft open-file limit in the EMFILE run.
const NOFILE: u64 = 64;
/// Clients beyond what the limit lets the server accept.
const EXTRA: usize = 8;
/// How long the accept thread's CPU is watched while accepts fail.
const WATCH: Duration = Duration::from_secs(3);
/// Failure bound for every wait.
const WAIT: Duration = Duration::from_secs(10);
/// Connections of the slow-handshake flood.
const HOSTILE: usize = 10_000;
/// How long the flood goes on: two and a half handshake timeouts.
const FLOOD: Duration = Duration::from_secs(25);

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut only = None;
    for a in args {
        match a.as_str() {
            "emfile" | "handshakes" => only = Some(a.clone()),
            other => {
                return Err(format!(
                    "faults: unknown argument `{other}` (emfile|handshakes)"
                ))
            }
        }
    }
    proc::build_echo()?;
    for bridge in ["poll", "threads"] {
        if only.as_deref() != Some("handshakes") {
            step::timed(&format!("faults: EMFILE ({bridge})"), || emfile(bridge))?;
        }
        if only.as_deref() != Some("emfile") {
            step::timed(&format!("faults: slow handshakes ({bridge})"), || {
                handshakes(bridge)
            })?;
        }
    }
    Ok(())
}

fn addr(echo: &Echo) -> Result<SocketAddr, String> {
    echo.addr
        .parse()
        .map_err(|e| format!("address `{}`: {e}", echo.addr))
}

/// One echo round trip on `ws`.
fn echo_once(ws: &mut Ws, text: &str) -> Result<(), String> {
    ws.send(TEXT, text.as_bytes()).map_err(|e| e.to_string())?;
    match ws.next().map_err(|e| e.to_string())? {
        Some((TEXT, p)) if p == text.as_bytes() => Ok(()),
        other => Err(format!("expected the echo of `{text}`, got {other:?}")),
    }
}

fn emfile(bridge: &str) -> Result<(), String> {
    let echo = Echo::start(bridge, Some(NOFILE))?;
    let addr = addr(&echo)?;
    let base = echo.sample()?;
    let port = addr.port();
    // Fill the server's table: each connection costs it one descriptor. Only
    // numbers below the limit count (a descriptor inherited above it does not).
    let below = std::fs::read_dir(format!("/proc/{}/fd", echo.pid))
        .map_err(|e| e.to_string())?
        .flatten()
        .filter(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) < Some(NOFILE))
        .count();
    let room = (NOFILE as usize).saturating_sub(below);
    let mut open = Vec::new();
    for _ in 0..room {
        open.push(Ws::connect(addr, WAIT).map_err(|e| format!("connection {}: {e}", open.len()))?);
    }
    // These wait in the listen backlog: accept fails with EMFILE.
    let mut waiting = Vec::new();
    for _ in 0..EXTRA {
        let mut tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(WAIT))
            .map_err(|e| e.to_string())?;
        tcp.write_all(UPGRADE).map_err(|e| e.to_string())?;
        waiting.push(tcp);
    }
    // Give the accept thread a moment to hit the limit, then watch it.
    thread::sleep(Duration::from_millis(200));
    let full = echo.sample()?;
    let accept_name = format!("ws-accept-{port}");
    let t0 = proc::thread_cpu(echo.pid, &accept_name)?;
    let p0 = echo.sample()?.cpu;
    let start = Instant::now();
    // Meanwhile the connections it has keep being served.
    for (i, ws) in open.iter_mut().enumerate() {
        echo_once(ws, &format!("still here {i}"))?;
    }
    thread::sleep(WATCH.saturating_sub(start.elapsed()));
    let watched = start.elapsed();
    let accept_cpu = proc::thread_cpu(echo.pid, &accept_name)?.saturating_sub(t0);
    let process_cpu = echo.sample()?.cpu.saturating_sub(p0);
    for (i, w) in waiting.iter_mut().enumerate() {
        w.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut b = [0u8; 1];
        match w.read(&mut b) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => {
                return Err(format!(
                    "waiting client {i} was answered or dropped while the server had no fd \
                     for it ({other:?}; server fds {})",
                    echo.sample()?.fds
                ))
            }
        }
        w.set_nonblocking(false).map_err(|e| e.to_string())?;
    }
    // Free descriptors: half the open connections leave.
    let freed = Instant::now();
    let leaving = open.split_off(open.len() / 2);
    for ws in leaving {
        ws.close().map_err(|e| format!("close: {e}"))?;
    }
    let mut first_answer = None;
    for (i, w) in waiting.iter_mut().enumerate() {
        let mut head = Vec::new();
        let mut chunk = [0u8; 512];
        while !head.windows(4).any(|x| x == b"\r\n\r\n") {
            let n = w
                .read(&mut chunk)
                .map_err(|e| format!("waiting client {i} after fds were freed: {e}"))?;
            if n == 0 {
                return Err(format!("waiting client {i} dropped after fds were freed"));
            }
            head.extend_from_slice(&chunk[..n]);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            return Err(format!(
                "waiting client {i} got {}",
                String::from_utf8_lossy(&head)
            ));
        }
        first_answer.get_or_insert(freed.elapsed());
    }
    for (i, ws) in open.iter_mut().enumerate() {
        echo_once(ws, &format!("after {i}"))?;
    }
    let pct = |d: Duration| 100.0 * d.as_secs_f64() / watched.as_secs_f64();
    println!(
        "faults EMFILE {bridge}: limit {NOFILE} fds, {} at start, {} when full ({} connections + {EXTRA} \
         waiting); over {:.1} s of failing accepts the accept thread used {:.1} ms CPU ({:.2}%), \
         the process {:.1} ms ({:.2}%); all {} connections echoed meanwhile; after half of them \
         closed, the {EXTRA} waiting were upgraded, the first {:.0} ms after the closes began",
        base.fds,
        full.fds,
        room,
        watched.as_secs_f64(),
        accept_cpu.as_secs_f64() * 1e3,
        pct(accept_cpu),
        process_cpu.as_secs_f64() * 1e3,
        pct(process_cpu),
        room,
        first_answer.unwrap_or_default().as_secs_f64() * 1e3,
    );
    // A spinning accept loop burns a whole core (~100%); backing off, ~0.
    if pct(accept_cpu) > 25.0 {
        return Err(format!(
            "the accept thread spins on EMFILE: {:.0}% of a core",
            pct(accept_cpu)
        ));
    }
    Ok(())
}

/// One slow client: its socket and how much of the head it has sent.
struct Slow {
    tcp: TcpStream,
    sent: usize,
}

fn slow(addr: SocketAddr) -> Option<Slow> {
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    tcp.set_nonblocking(true).ok()?;
    Some(Slow { tcp, sent: 0 })
}

fn handshakes(bridge: &str) -> Result<(), String> {
    proc::raise_nofile(HOSTILE as u64 + 1024)?;
    let echo = Echo::start(bridge, None)?;
    let addr = addr(&echo)?;
    let base = echo.sample()?;
    let mut peak = base;
    let mut peak_at = Duration::ZERO;
    let mut most = (base.fds, base.threads);
    let mut clients: Vec<Option<Slow>> = Vec::with_capacity(HOSTILE);
    let start = Instant::now();
    let (mut reopened, mut refused) = (0u64, 0u64);
    for i in 0..HOSTILE {
        clients.push(slow(addr));
        if i % 100 == 99 {
            // Keep pace with the accept thread: a burst past the listen
            // backlog costs each dropped SYN a second.
            let bound = Instant::now() + Duration::from_millis(300);
            loop {
                let s = echo.sample()?;
                most = (most.0.max(s.fds), most.1.max(s.threads));
                if s.rss > peak.rss {
                    peak = s;
                    peak_at = start.elapsed();
                }
                if s.fds + 100 >= base.fds + i || Instant::now() > bound {
                    break;
                }
                thread::sleep(Duration::from_millis(2));
            }
        }
    }
    let opened = start.elapsed();
    let mut tick = Instant::now();
    let flood = Instant::now();
    while flood.elapsed() < FLOOD {
        for c in clients.iter_mut() {
            let alive = match c {
                Some(s) => {
                    let mut b = [0u8; 256];
                    let gone = match s.tcp.read(&mut b) {
                        Ok(0) => true,
                        Ok(_) => {
                            refused += 1; // an answer (503): the server is full
                            true
                        }
                        Err(e) => e.kind() != ErrorKind::WouldBlock,
                    };
                    !gone
                        && s.sent < UPGRADE.len() - 1
                        && s.tcp.write(&UPGRADE[s.sent..=s.sent]).is_ok_and(|n| {
                            s.sent += n;
                            true
                        })
                }
                None => false,
            };
            if !alive {
                reopened += 1;
                *c = slow(addr);
            }
        }
        let s = echo.sample()?;
        if s.rss > peak.rss {
            peak = s;
            peak_at = start.elapsed();
        }
        most = (most.0.max(s.fds), most.1.max(s.threads));
        tick += Duration::from_secs(1);
        thread::sleep(tick.saturating_duration_since(Instant::now()));
    }
    let open = clients.iter().filter(|c| c.is_some()).count();
    drop(clients);
    // The flood is over: a normal client is served again.
    let mut ws = Ws::connect(addr, WAIT).map_err(|e| format!("after the flood: {e}"))?;
    echo_once(&mut ws, "after the flood")?;
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "faults slow handshakes {bridge}: {HOSTILE} clients opened in {:.1} s, one byte a second each \
         for {:.0} s ({reopened} reconnects after the server dropped them, {refused} answered 503, \
         {open} open at the end); server RSS {:.1} MiB before, peak {:.1} MiB at {:.0} s \
         ({:.0} B per connection it held at most), threads peak {}, fds peak {}; a normal client \
         is served after",
        opened.as_secs_f64(),
        FLOOD.as_secs_f64(),
        mib(base.rss),
        mib(peak.rss),
        peak_at.as_secs_f64(),
        // Clients the accept thread has not taken yet wait in the kernel, not in the server.
        (peak.rss.saturating_sub(base.rss)) as f64 / most.0.saturating_sub(base.fds).max(1) as f64,
        most.1,
        most.0,
    );
    println!(
        "faults slow handshakes {bridge}: the server's closes by code: {:?}",
        echo.close_codes()?
    );
    Ok(())
}
