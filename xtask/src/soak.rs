//! `cargo xtask soak [--minutes N | --seconds S] [--bridge poll|threads] [--no-write]`:
//! mixed load at once against the echo example (release) for N minutes
//! (default 10), sampling the server every second; writes docs/soak.md with a
//! plot of its RSS and the echo p99 over time (not with `--no-write`, which
//! CI's 60-second run uses).
//!
//! The load, all at once (issue 12):
//! - **echo**: 100 connections, each sending a 64-byte text every 100 ms
//!   (1 000 msg/s) and checking the echo; its round trips give the p99.
//! - **idle**: 5 000 connections that only answer the server's pings.
//! - **churn**: 5 connections every 100 ms, each upgraded and then ended one
//!   of four ways (close handshake, FIN, RST, FIN in the middle of a frame).
//! - **slow readers**: 4 connections that send 256 KiB in 16 KiB messages,
//!   then read the echoes 4 KiB at a time, 20 ms apart.
//! - **bad input**: a connection every 200 ms sending one of six kinds of
//!   garbage (unmasked frame, invalid UTF-8, reserved opcode, a 1 TiB length,
//!   a request without the upgrade, TLS bytes); the server must close it.
//!
//! Pass: no client error; the server counts no close code but 1000, 1006 (the
//! churn's FIN and RST endings) and the bad input's own (1002, 1007, 1009);
//! after warm-up (a fifth of the run, at least 35 s: past the first heartbeat) the RSS is flat: the
//! highest RSS of the last quarter of the samples is at most [`RSS_SLACK`]
//! above the highest of the first quarter (the least-squares slope is printed
//! beside it); fds and threads in the last quarter are no higher than in the
//! first (plus the churn's and bad input's few in flight), and once the load
//! stops they return to where they were before it, within 15 s.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::proc::{self, Echo, Sample};
use crate::step;
use crate::wsc::{first_frame, frame, Ws, BINARY, CLOSE, TEXT, UPGRADE};

const ECHO_CONNS: usize = 100;
const ECHO_THREADS: usize = 10;
const ECHO_EVERY: Duration = Duration::from_millis(100);
const IDLE_CONNS: usize = 5_000;
const CHURN_EVERY: Duration = Duration::from_millis(100);
const CHURN_BATCH: usize = 5;
const SLOW_READERS: usize = 4;
const BAD_EVERY: Duration = Duration::from_millis(200);
/// Shortest warm-up: past the first heartbeat (the echo example pings every
/// 30 s), when each idle connection's session answers its first pong and
/// keeps a few hundred bytes more (a step of ~2 MiB for 5 000 connections).
const WARMUP: Duration = Duration::from_secs(35);
/// How much higher the last quarter's RSS may peak than the first's: the
/// slow readers alone swing the server's queues by up to 1 MiB, and the
/// allocator keeps freed pages for a while.
const RSS_SLACK: u64 = 4 << 20;
/// fds and threads the churn and bad input may have in flight at a sample.
const IN_FLIGHT_SLACK: usize = 50;
/// Failure bound for each client operation.
const WAIT: Duration = Duration::from_secs(10);
/// Close codes the server may count (`ws_closes_total` of its `GET /metrics`):
/// 1000 for the clean closes, RFC 6455 §7.1.5 1006 for the churn's endings
/// without a close frame, 1002, 1007 and 1009 for the bad input.
const EXPECTED_CODES: [&str; 5] = ["1000", "1006", "1002", "1007", "1009"];

struct Options {
    duration: Duration,
    bridge: String,
    write: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        duration: Duration::from_secs(600),
        bridge: "poll".into(),
        write: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("soak: `{name}` needs a value"))
        };
        match a.as_str() {
            "--minutes" | "--seconds" => {
                let v = value(a)?;
                let n: f64 = v
                    .parse()
                    .map_err(|_| format!("soak: `{a} {v}`: not a number"))?;
                let secs = if a == "--minutes" { n * 60.0 } else { n };
                if !(20.0..=86_400.0).contains(&secs) {
                    return Err("soak: the run must last 20 s to 24 h".into());
                }
                o.duration = Duration::from_secs_f64(secs);
            }
            "--bridge" => {
                o.bridge = value(a)?;
                if o.bridge != "poll" && o.bridge != "threads" {
                    return Err(format!("soak: --bridge {}: poll or threads", o.bridge));
                }
            }
            "--no-write" => o.write = false,
            other => return Err(format!("soak: unknown argument `{other}`")),
        }
    }
    Ok(o)
}

/// What every load thread shares with the sampler.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// Echo round trips (µs) since the last sample.
    latencies: Mutex<Vec<u32>>,
    echoes: AtomicU64,
    churned: AtomicU64,
    slow_bytes: AtomicU64,
    bad_closed: AtomicU64,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Shared {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut e = self.first_errors.lock().unwrap_or_else(|e| e.into_inner());
        if e.len() < 10 {
            e.push(what);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// One sample a second.
#[derive(Debug, Clone, Copy)]
struct Point {
    t: f64,
    s: Sample,
    p99_us: Option<u32>,
    echoes: u64,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    proc::build_echo()?;
    step::timed(
        &format!("soak ({} s, {} bridge)", o.duration.as_secs(), o.bridge),
        || soak(&o),
    )
}

fn soak(o: &Options) -> Result<(), String> {
    // The idle connections and everything else, with room to spare.
    let limit = proc::raise_nofile(IDLE_CONNS as u64 + 2048)?;
    let idle_conns = IDLE_CONNS.min((limit as usize).saturating_sub(2048));
    if idle_conns < IDLE_CONNS {
        println!("soak: open-file limit {limit}: {idle_conns} idle connections, not {IDLE_CONNS}");
    }
    let echo = Echo::start(&o.bridge, None)?;
    let addr: SocketAddr = echo
        .addr
        .parse()
        .map_err(|e| format!("address `{}`: {e}", echo.addr))?;
    // The example installs its Ctrl-C thread after printing its address.
    thread::sleep(Duration::from_millis(500));
    let before = echo.sample()?;
    let shared = Shared::default();
    let warmup = (o.duration / 5).max(WARMUP);
    let mut points = Vec::new();
    let started = Instant::now();
    thread::scope(|s| -> Result<(), String> {
        let sh = &shared;
        s.spawn(move || idle(addr, idle_conns, sh));
        for t in 0..ECHO_THREADS {
            s.spawn(move || echo_load(addr, t, sh));
        }
        s.spawn(move || churn(addr, sh));
        for _ in 0..SLOW_READERS {
            s.spawn(move || slow_reader(addr, sh));
        }
        s.spawn(move || bad_input(addr, sh));
        let mut tick = Instant::now();
        let mut last_echoes = 0;
        while started.elapsed() < o.duration {
            tick += Duration::from_secs(1);
            thread::sleep(tick.saturating_duration_since(Instant::now()));
            let s = match echo.sample() {
                Ok(s) => s,
                Err(e) => {
                    shared.stop.store(true, Ordering::Relaxed);
                    return Err(format!("the server is gone: {e}"));
                }
            };
            let mut lat =
                std::mem::take(&mut *shared.latencies.lock().unwrap_or_else(|e| e.into_inner()));
            lat.sort_unstable();
            let p99_us = (!lat.is_empty()).then(|| lat[(lat.len() * 99 / 100).min(lat.len() - 1)]);
            let echoes = shared.echoes.load(Ordering::Relaxed);
            let p = Point {
                t: started.elapsed().as_secs_f64(),
                s,
                p99_us,
                echoes: echoes - last_echoes,
            };
            last_echoes = echoes;
            if points.len() % 10 == 0 {
                println!(
                    "soak {:>5.0} s: rss {:.1} MiB, fds {}, threads {}, echo p99 {} µs, {} msg/s, \
                     churned {}, bad closed {}, errors {}",
                    p.t,
                    mib(s.rss),
                    s.fds,
                    s.threads,
                    p99_us.map_or("-".into(), |v| v.to_string()),
                    p.echoes,
                    shared.churned.load(Ordering::Relaxed),
                    shared.bad_closed.load(Ordering::Relaxed),
                    shared.errors.load(Ordering::Relaxed),
                );
            }
            points.push(p);
        }
        shared.stop.store(true, Ordering::Relaxed);
        Ok(())
    })?;
    // Every client has closed: the server must let go of everything.
    let settle = Instant::now();
    let mut after = echo.sample()?;
    while (after.fds > before.fds || after.threads > before.threads)
        && settle.elapsed() < Duration::from_secs(15)
    {
        thread::sleep(Duration::from_millis(100));
        after = echo.sample()?;
    }
    let codes = echo.close_codes()?;
    let verdict = judge(o, &points, before, after, warmup, &shared, &codes);
    println!("{}", verdict.summary);
    if o.write {
        let doc = render(o, &points, warmup, &verdict);
        let path = step::root().join("docs/soak.md");
        std::fs::write(&path, doc).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("soak: wrote {}", path.display());
    }
    if verdict.failures.is_empty() {
        Ok(())
    } else {
        Err(format!("soak failed: {}", verdict.failures.join("; ")))
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / 1048576.0
}

struct Verdict {
    summary: String,
    failures: Vec<String>,
}

/// Least-squares slope of `ys` over `xs` (per unit of x).
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let num: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

fn judge(
    o: &Options,
    points: &[Point],
    before: Sample,
    after: Sample,
    warmup: Duration,
    shared: &Shared,
    codes: &[(String, u64)],
) -> Verdict {
    let mut failures = Vec::new();
    let post: Vec<&Point> = points
        .iter()
        .filter(|p| p.t >= warmup.as_secs_f64())
        .collect();
    let q = (post.len() / 4).max(1);
    let (first, last) = (
        &post[..q.min(post.len())],
        &post[post.len().saturating_sub(q)..],
    );
    let max = |ps: &[&Point], f: fn(&Sample) -> u64| ps.iter().map(|p| f(&p.s)).max().unwrap_or(0);
    let rss_first = max(first, |s| s.rss);
    let rss_last = max(last, |s| s.rss);
    let xs: Vec<f64> = post.iter().map(|p| p.t).collect();
    let ys: Vec<f64> = post.iter().map(|p| p.s.rss as f64).collect();
    let kib_per_min = slope(&xs, &ys) * 60.0 / 1024.0;
    if post.len() < 8 {
        failures.push(format!("only {} samples after warm-up", post.len()));
    }
    if rss_last > rss_first + RSS_SLACK {
        failures.push(format!(
            "RSS grew: last quarter peaked at {:.1} MiB, first post-warm-up quarter at {:.1} MiB",
            mib(rss_last),
            mib(rss_first)
        ));
    }
    let fds_first = max(first, |s| s.fds as u64) as usize;
    let fds_last = max(last, |s| s.fds as u64) as usize;
    let thr_first = max(first, |s| s.threads as u64) as usize;
    let thr_last = max(last, |s| s.threads as u64) as usize;
    if fds_last > fds_first + IN_FLIGHT_SLACK || thr_last > thr_first + IN_FLIGHT_SLACK {
        failures.push(format!(
            "fds or threads grew: fds {fds_first} -> {fds_last}, threads {thr_first} -> {thr_last}"
        ));
    }
    if after.fds > before.fds || after.threads > before.threads {
        failures.push(format!(
            "not back to the start once the load stopped: fds {} -> {}, threads {} -> {}",
            before.fds, after.fds, before.threads, after.threads
        ));
    }
    let errors = shared.errors.load(Ordering::Relaxed);
    if errors > 0 {
        let first = shared
            .first_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join(" | ");
        failures.push(format!("{errors} client errors (first: {first})"));
    }
    let unexpected: Vec<&(String, u64)> = codes
        .iter()
        .filter(|(c, _)| !EXPECTED_CODES.contains(&c.as_str()))
        .collect();
    if !unexpected.is_empty() {
        failures.push(format!("the server closed connections with {unexpected:?}"));
    }
    let p99s: Vec<u32> = post.iter().filter_map(|p| p.p99_us).collect();
    let p99_max = p99s.iter().copied().max().unwrap_or(0);
    let mut sorted = p99s.clone();
    sorted.sort_unstable();
    let p99_median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
    let summary = format!(
        "soak {} s ({} bridge): RSS {:.1} MiB before the load, post-warm-up first-quarter peak \
         {:.1} MiB, last-quarter peak {:.1} MiB (slope {kib_per_min:+.0} KiB/min), {:.1} MiB \
         after; fds {} before, {fds_first} -> {fds_last} under load, {} after; threads {} \
         before, {thr_first} -> {thr_last}, {} after; echo p99 per second: median {:.2} ms, \
         worst {:.2} ms; {} echoes, {} churned, {} bad inputs closed, {errors} client errors; \
         server close codes {codes:?}; {}",
        o.duration.as_secs(),
        o.bridge,
        mib(before.rss),
        mib(rss_first),
        mib(rss_last),
        mib(after.rss),
        before.fds,
        after.fds,
        before.threads,
        after.threads,
        p99_median as f64 / 1e3,
        p99_max as f64 / 1e3,
        shared.echoes.load(Ordering::Relaxed),
        shared.churned.load(Ordering::Relaxed),
        shared.bad_closed.load(Ordering::Relaxed),
        if failures.is_empty() {
            "PASS".to_string()
        } else {
            format!("FAIL: {}", failures.join("; "))
        }
    );
    Verdict { summary, failures }
}

// ---- the load ------------------------------------------------------------

/// `n` (5 000) connections that only answer pings; closed with the close handshake at the end.
fn idle(addr: SocketAddr, n: usize, sh: &Shared) {
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        if sh.stopped() {
            break;
        }
        match Ws::connect(addr, WAIT) {
            Ok(ws) => {
                let _ = ws.tcp.set_nonblocking(true);
                conns.push(ws);
            }
            Err(e) => return sh.error(format!("idle connection {i}: {e}")),
        }
    }
    while !sh.stopped() {
        let mut gone = 0;
        conns.retain_mut(|ws| {
            let alive = ws.keep_alive();
            gone += usize::from(!alive);
            alive
        });
        if gone > 0 {
            sh.error(format!("{gone} idle connections closed by the server"));
        }
        thread::sleep(Duration::from_millis(500));
    }
    // The close handshake with all of them at once: every close frame first.
    conns.retain_mut(|ws| {
        ws.tcp.set_nonblocking(false).is_ok() && ws.send(CLOSE, &1000u16.to_be_bytes()).is_ok()
    });
    let mut b = [0u8; 256];
    for mut ws in conns {
        while matches!(ws.tcp.read(&mut b), Ok(n) if n > 0) {}
    }
}

/// Ten of the hundred echo connections: a message on each every 100 ms.
fn echo_load(addr: SocketAddr, t: usize, sh: &Shared) {
    let per = ECHO_CONNS / ECHO_THREADS;
    let mut conns = Vec::new();
    for i in 0..per {
        match Ws::connect(addr, WAIT) {
            Ok(ws) => conns.push(ws),
            Err(e) => return sh.error(format!("echo connection {t}.{i}: {e}")),
        }
    }
    let mut n = 0u64;
    let mut tick = Instant::now();
    let mut lat = Vec::with_capacity(per);
    while !sh.stopped() {
        for (i, ws) in conns.iter_mut().enumerate() {
            let text = format!("{t:02}.{i:02} {n:016} {}", "e".repeat(40));
            let sent = Instant::now();
            let got = ws.send(TEXT, text.as_bytes()).and_then(|()| ws.next());
            match got {
                Ok(Some((TEXT, p))) if p == text.as_bytes() => {
                    lat.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                other => {
                    sh.error(format!("echo {t}.{i}: {:?}", other.map(|o| o.map(|f| f.0))));
                    return;
                }
            }
            n += 1;
        }
        sh.echoes.fetch_add(lat.len() as u64, Ordering::Relaxed);
        sh.latencies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(&mut lat);
        tick += ECHO_EVERY;
        thread::sleep(tick.saturating_duration_since(Instant::now()));
    }
    for ws in conns {
        let _ = ws.close();
    }
}

/// Connections that come and go, ended four ways.
fn churn(addr: SocketAddr, sh: &Shared) {
    let mut k = 0usize;
    let mut tick = Instant::now();
    while !sh.stopped() {
        for _ in 0..CHURN_BATCH {
            let mut ws = match Ws::connect(addr, WAIT) {
                Ok(ws) => ws,
                Err(e) => return sh.error(format!("churn connect: {e}")),
            };
            let ended = match k % 4 {
                0 => ws.close(),
                1 => Ok(()), // FIN without a close frame
                2 => {
                    // RST: close with the echo unread in the receive buffer.
                    let mut b = [0u8; 4];
                    ws.send(TEXT, b"x")
                        .and_then(|()| ws.tcp.peek(&mut b).map(drop))
                }
                _ => ws.tcp.write_all(&frame(TEXT, b"hello")[..4]),
            };
            if let Err(e) = ended {
                return sh.error(format!("churn way {}: {e}", k % 4));
            }
            k += 1;
            sh.churned.fetch_add(1, Ordering::Relaxed);
        }
        tick += CHURN_EVERY;
        thread::sleep(tick.saturating_duration_since(Instant::now()));
    }
}

/// Sends 256 KiB, then reads the echoes back slowly; over and over.
fn slow_reader(addr: SocketAddr, sh: &Shared) {
    let mut ws = match Ws::connect(addr, WAIT) {
        Ok(ws) => ws,
        Err(e) => return sh.error(format!("slow reader: {e}")),
    };
    let msg = vec![0x5a_u8; 16 * 1024];
    while !sh.stopped() {
        for _ in 0..16 {
            if let Err(e) = ws.send(BINARY, &msg) {
                return sh.error(format!("slow reader send: {e}"));
            }
        }
        for _ in 0..16 {
            match ws.next_slowly(4096, Duration::from_millis(20)) {
                Ok(Some((BINARY, p))) if p.len() == msg.len() => {
                    sh.slow_bytes.fetch_add(p.len() as u64, Ordering::Relaxed);
                }
                other => {
                    return sh.error(format!(
                        "slow reader: {:?}",
                        other.map(|o| o.map(|f| (f.0, f.1.len())))
                    ))
                }
            }
        }
    }
    let _ = ws.close();
}

/// What the bad-input thread sends, in turn.
fn bad_bytes(k: usize) -> Vec<u8> {
    let upgraded = |frame: &[u8]| {
        let mut v = UPGRADE.to_vec();
        v.extend_from_slice(frame);
        v
    };
    match k % 6 {
        // RFC 6455 §5.1: a client frame must be masked (1002).
        0 => upgraded(&[0x81, 0x02, b'h', b'i']),
        // §8.1: text must be UTF-8 (1007).
        1 => upgraded(&frame(TEXT, &[0xff, 0xfe, 0xfd])),
        // §5.2: opcode 3 is reserved (1002).
        2 => upgraded(&frame(0x3, b"x")),
        // A 1 TiB frame: over the message limit (1009), refused from the header.
        3 => upgraded(&[0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
        // A request that is not an upgrade.
        4 => b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        // TLS bytes where HTTP was expected.
        _ => vec![
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, b'\r', b'\n', b'\r',
            b'\n',
        ],
    }
}

/// A connection every 200 ms with garbage; the server must close it.
fn bad_input(addr: SocketAddr, sh: &Shared) {
    let mut k = 0usize;
    let mut tick = Instant::now();
    while !sh.stopped() {
        let result = (|| -> std::io::Result<()> {
            let mut tcp = TcpStream::connect_timeout(&addr, WAIT)?;
            tcp.set_read_timeout(Some(WAIT))?;
            tcp.write_all(&bad_bytes(k))?;
            // Read to the end; answer the server's close frame as a client
            // would, so the close handshake completes without its timeout.
            let (mut got, mut b, mut answered) = (Vec::new(), [0u8; 4096], false);
            loop {
                match tcp.read(&mut b) {
                    Ok(0) => return Ok(()),
                    Ok(n) => got.extend_from_slice(&b[..n]),
                    Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
                    Err(e) => return Err(e),
                }
                let body = got.windows(4).position(|w| w == b"\r\n\r\n");
                if let Some((0x8, payload)) = body.and_then(|i| first_frame(&got[i + 4..])) {
                    if !answered {
                        answered = true;
                        tcp.write_all(&frame(0x8, &payload[..payload.len().min(2)]))?;
                    }
                }
            }
        })();
        match result {
            Ok(()) => {
                sh.bad_closed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => return sh.error(format!("bad input {}: not closed: {e}", k % 6)),
        }
        k += 1;
        tick += BAD_EVERY;
        thread::sleep(tick.saturating_duration_since(Instant::now()));
    }
}

// ---- the report ------------------------------------------------------------

/// A line plot of `ys` over the run, the warm-up shaded; on a log scale
/// (decades from 0.1 marked) if `log`, so a few slow seconds do not flatten
/// the rest.
fn panel(
    points: &[Point],
    ys: &[Option<f64>],
    warmup: f64,
    y0: f64,
    title: &str,
    colour: &str,
    log: bool,
) -> String {
    let (left, width, height) = (60.0, 560.0, 140.0);
    let t_end = points.last().map_or(1.0, |p| p.t).max(1.0);
    let vals: Vec<f64> = ys.iter().flatten().copied().collect();
    let max = vals.iter().copied().fold(0.0_f64, f64::max).max(1e-9);
    let (bottom, top) = if log {
        (0.1, (max * 1.5).max(1.0))
    } else {
        (0.0, max * 1.1)
    };
    let scale = |v: f64| {
        if log {
            (v.max(bottom).log10() - bottom.log10()) / (top.log10() - bottom.log10())
        } else {
            v / top
        }
    };
    let x = |t: f64| left + width * t / t_end;
    let y = |v: f64| y0 + height - height * scale(v);
    let mut svg = format!(
        "<text x=\"{left}\" y=\"{}\" font-size=\"12\">{title}</text>\n\
         <rect x=\"{left}\" y=\"{y0}\" width=\"{:.1}\" height=\"{height}\" fill=\"#eee\"/>\n\
         <rect x=\"{left}\" y=\"{y0}\" width=\"{width}\" height=\"{height}\" fill=\"none\" stroke=\"#999\"/>\n",
        y0 - 6.0,
        x(warmup) - left,
    );
    let mut marks = vec![bottom, top];
    if log {
        let mut d = 1.0;
        while d < top {
            marks.push(d);
            d *= 10.0;
        }
    }
    for m in marks {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n\
             <line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ccc\"/>\n",
            left - 4.0,
            y(m) + 4.0,
            if m >= 10.0 {
                format!("{m:.0}")
            } else {
                format!("{m:.1}")
            },
            left + width,
            y(m),
            y(m),
        ));
    }
    let mut path = String::new();
    for (p, v) in points.iter().zip(ys) {
        if let Some(v) = v {
            let cmd = if path.is_empty() { 'M' } else { 'L' };
            path.push_str(&format!("{cmd}{:.1},{:.1} ", x(p.t), y(*v)));
        }
    }
    svg.push_str(&format!(
        "<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>\n"
    ));
    svg
}

fn chart(points: &[Point], warmup: f64) -> String {
    let rss: Vec<Option<f64>> = points.iter().map(|p| Some(mib(p.s.rss))).collect();
    let p99: Vec<Option<f64>> = points
        .iter()
        .map(|p| p.p99_us.map(|v| v as f64 / 1e3))
        .collect();
    let t_end = points.last().map_or(0.0, |p| p.t);
    let mut svg = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"400\" \
         font-family=\"sans-serif\" font-size=\"11\">\n",
    );
    svg.push_str(&panel(
        points,
        &rss,
        warmup,
        24.0,
        "server RSS (MiB)",
        "#1f77b4",
        false,
    ));
    svg.push_str(&panel(
        points,
        &p99,
        warmup,
        210.0,
        "echo p99 per second (ms, log scale)",
        "#d62728",
        true,
    ));
    svg.push_str(&format!(
        "<text x=\"60\" y=\"370\">0 s</text><text x=\"620\" y=\"370\" text-anchor=\"end\">{t_end:.0} s</text>\n\
         <text x=\"340\" y=\"370\" text-anchor=\"middle\">time (grey: warm-up)</text>\n</svg>\n"
    ));
    svg
}

fn render(o: &Options, points: &[Point], warmup: Duration, v: &Verdict) -> String {
    let minutes = o.duration.as_secs_f64() / 60.0;
    format!(
        "# Soak\n\n\
         `cargo xtask soak --minutes {minutes}` against the echo example (release, {} bridge): \
         all at once, echo on {ECHO_CONNS} connections (one 64-byte text every 100 ms each), \
         {IDLE_CONNS} idle connections answering pings, churn ({CHURN_BATCH} connections every \
         100 ms, ended by close handshake, FIN, RST or FIN mid-frame), {SLOW_READERS} slow \
         readers (256 KiB out, read back 4 KiB per 20 ms) and bad input (a connection every \
         200 ms: unmasked frame, invalid UTF-8, reserved opcode, 1 TiB length, no upgrade, TLS \
         bytes). Sampled every second from /proc; generated by `xtask/src/soak.rs` (CI runs 60 s \
         of it without writing this file).\n\n\
         How it is judged: after the warm-up ({} s, shaded), the highest RSS of the last quarter \
         of the samples may be at most {} MiB above the highest of the first quarter (the slow \
         readers alone swing the queues by up to 1 MiB; a steady leak shows as a climbing last \
         quarter), fds and threads may not grow, both must return to their starting values once \
         the load stops, no client may see an error, and the server may count (`ws_closes_total`) \
         no close code but 1000, 1006 (the churn's endings without a close frame) and the bad \
         input's 1002, 1007 and 1009.\n\n\
         Machine: {}; load average at the end {}.\n\n\
         ![server RSS and echo p99 over the soak](soak.svg)\n\n\
         Result:\n\n> {}\n",
        o.bridge,
        warmup.as_secs(),
        RSS_SLACK >> 20,
        crate::bench::machine(),
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_string))
            .unwrap_or_default(),
        v.summary,
    ) + &write_svg(points, warmup)
}

/// Writes docs/soak.svg; returns nothing to add to the page (the image links it).
fn write_svg(points: &[Point], warmup: Duration) -> String {
    let path = step::root().join("docs/soak.svg");
    match std::fs::write(&path, chart(points, warmup.as_secs_f64())) {
        Ok(()) => String::new(),
        Err(e) => format!("\n(could not write {}: {e})\n", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_and_of_a_flat_series() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        assert!((slope(&xs, &[1.0, 3.0, 5.0, 7.0]) - 2.0).abs() < 1e-9);
        assert_eq!(slope(&xs, &[4.0; 4]), 0.0);
    }

    #[test]
    fn options() {
        let a = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let o = parse(&a("--seconds 60 --no-write")).unwrap();
        assert_eq!((o.duration.as_secs(), o.write), (60, false));
        assert_eq!(parse(&[]).unwrap().duration.as_secs(), 600);
        assert!(parse(&a("--minutes 0")).is_err());
        assert!(parse(&a("--bridge uring")).is_err());
    }

    #[test]
    fn chart_has_both_panels_and_log_marks() {
        let s = Sample {
            rss: 10 << 20,
            fds: 9,
            threads: 6,
            cpu: Duration::ZERO,
        };
        let points: Vec<Point> = (0..5)
            .map(|i| Point {
                t: f64::from(i),
                s,
                p99_us: Some(500 + 10_000 * i as u32),
                echoes: 0,
            })
            .collect();
        let svg = chart(&points, 1.0);
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains(">0.1<") && svg.contains(">1.0<") && svg.contains(">10<"));
    }

    #[test]
    fn every_bad_input_differs() {
        let all: Vec<Vec<u8>> = (0..6).map(bad_bytes).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|b| b != a));
        }
    }
}
