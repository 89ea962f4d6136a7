//! A whole run: threads opening their share of connections, then the closed loop
//! (or the idle hold), with CPU and memory read from `/proc` around it.

use crate::args::Config;
use crate::procfs;
use crate::report::Report;
use crate::worker::{Plan, Tally, Worker};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Runs `cfg` to completion and reports; bounded by the timeouts and windows it holds.
pub(crate) fn run(
    cfg: &Config,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
) -> Result<Report, ws_handshake::Error> {
    let mut plan = Plan::new(cfg)?;
    plan.tls = tls;
    let mut notes = Vec::new();
    let baseline = match cfg.server_pid {
        Some(pid) if cfg.idle => note(&mut notes, procfs::rss(pid)),
        _ => None,
    };
    // Workers and this thread meet at each step, so every thread passes the same
    // barriers whatever happens to its connections.
    let barrier = Barrier::new(cfg.threads + 1);
    let start = Instant::now();
    // The setup phase is bounded as a whole too, for a server that stalls every
    // connect: three timeouts, plus 5 ms per connection for slow but steady accepts.
    let setup_deadline = start + cfg.timeout * 3 + Duration::from_millis(5 * cfg.conns as u64);
    let mut tally = Tally::default();
    let mut setup_secs = 0.0;
    let mut setup_cpu = None;
    let mut cpu = None;
    let mut rss_after = [None, None];
    thread::scope(|s| {
        let setup_before = sample(cfg.server_pid);
        let handles: Vec<_> = (0..cfg.threads)
            .map(|t| {
                let n = cfg.conns / cfg.threads + usize::from(t < cfg.conns % cfg.threads);
                let (plan, barrier) = (&plan, &barrier);
                s.spawn(move || worker(plan, barrier, cfg, n, setup_deadline, t == 0))
            })
            .collect();
        barrier.wait(); // every connection opened or failed
        setup_secs = start.elapsed().as_secs_f64();
        setup_cpu = Some((setup_before, sample(cfg.server_pid)));
        if cfg.idle {
            if let Some(pid) = cfg.server_pid {
                rss_after[0] = note(&mut notes, procfs::rss(pid));
            }
            barrier.wait(); // go: one echo each
            barrier.wait(); // echoes back
            if let Some(pid) = cfg.server_pid {
                rss_after[1] = note(&mut notes, procfs::rss(pid));
            }
            thread::sleep(cfg.duration);
            barrier.wait(); // release
        } else {
            let window_start = Instant::now() + cfg.warmup;
            thread::sleep(cfg.warmup);
            let before = sample(cfg.server_pid);
            let t0 = Instant::now();
            thread::sleep((window_start + cfg.duration).saturating_duration_since(t0));
            let after = sample(cfg.server_pid);
            let wall = t0.elapsed();
            cpu = Some((before, after, wall));
        }
        for h in handles {
            match h.join() {
                Ok(t) => tally.merge(&t),
                Err(_) => notes.push("a worker thread panicked".to_string()),
            }
        }
    });
    let (mut client_cpu_pct, mut server_cpu_pct, mut server_us_per_msg) = (None, None, None);
    if let Some((before, after, wall)) = cpu {
        let pct = |a: Duration, b: Duration| {
            100.0 * b.saturating_sub(a).as_secs_f64() / wall.as_secs_f64()
        };
        match (before.0, after.0) {
            (Ok(a), Ok(b)) => client_cpu_pct = Some(pct(a, b)),
            (Err(e), _) | (_, Err(e)) => notes.push(format!("own CPU: {e}")),
        }
        match (before.1, after.1) {
            (Some(Ok(a)), Some(Ok(b))) => {
                server_cpu_pct = Some(pct(a, b));
                // Fan-out: per delivery (a message received by any connection).
                let count = if cfg.fanout {
                    tally.deliveries
                } else {
                    tally.messages
                };
                if count > 0 {
                    let us = b.saturating_sub(a).as_secs_f64() * 1e6;
                    server_us_per_msg = Some(us / count as f64);
                }
            }
            (Some(Err(e)), _) | (_, Some(Err(e))) => notes.push(format!("server CPU: {e}")),
            _ => {}
        }
    }
    // The setup phase: each side's CPU per connection opened (TCP, TLS and upgrade
    // handshakes), so a client that limits setups/s does not hide the server's cost.
    let (mut setup_client_us, mut setup_server_us) = (None, None);
    if let Some((before, after)) = setup_cpu.filter(|_| tally.opened > 0) {
        let per = |a: Duration, b: Duration| {
            b.saturating_sub(a).as_secs_f64() * 1e6 / tally.opened as f64
        };
        if let (Ok(a), Ok(b)) = (before.0, after.0) {
            setup_client_us = Some(per(a, b));
        }
        if let (Some(Ok(a)), Some(Ok(b))) = (before.1, after.1) {
            setup_server_us = Some(per(a, b));
        }
    }
    let rss = match (baseline, rss_after) {
        (Some(b), [Some(u), Some(e)]) => Some([b, u, e]),
        _ => None,
    };
    Ok(Report {
        mode: if cfg.idle {
            "idle"
        } else if cfg.fanout {
            "fanout"
        } else {
            "load"
        },
        addr: cfg.addr.to_string(),
        conns: cfg.conns,
        size: cfg.size,
        binary: cfg.binary,
        json: cfg.json,
        deflate: cfg.deflate,
        depth: cfg.depth,
        pace: cfg.pace,
        threads: cfg.threads,
        warmup: if cfg.idle {
            0.0
        } else {
            cfg.warmup.as_secs_f64()
        },
        duration: cfg.duration.as_secs_f64(),
        setup_rate: tally.opened as f64 / setup_secs.max(1e-9),
        setup_client_us,
        setup_server_us,
        tally,
        client_cpu_pct,
        server_cpu_pct,
        server_us_per_msg,
        rss,
        notes,
    })
}

/// The value, or `None` with the error noted.
fn note<T>(notes: &mut Vec<String>, r: Result<T, procfs::ProcError>) -> Option<T> {
    r.map_err(|e| notes.push(format!("server RSS: {e}"))).ok()
}

type CpuSample = (
    Result<Duration, procfs::ProcError>,
    Option<Result<Duration, procfs::ProcError>>,
);

/// This process's and the server's CPU time so far.
fn sample(server: Option<u32>) -> CpuSample {
    (procfs::cpu(None), server.map(|pid| procfs::cpu(Some(pid))))
}

/// One thread: open `n` connections, then the same barrier steps as [`run`].
fn worker(
    plan: &Plan,
    barrier: &Barrier,
    cfg: &Config,
    n: usize,
    setup_deadline: Instant,
    lead: bool,
) -> Tally {
    let mut w = Worker::new(plan).ok();
    if let Some(w) = w.as_mut() {
        if lead {
            w.lead();
        }
        w.open(n, setup_deadline);
    }
    barrier.wait();
    if cfg.idle {
        barrier.wait();
        if let Some(w) = w.as_mut() {
            w.echo_once(Instant::now() + cfg.timeout);
        }
        barrier.wait();
        barrier.wait();
    } else if let Some(w) = w.as_mut() {
        let start = Instant::now() + cfg.warmup;
        w.load(start, start + cfg.duration);
    }
    match w {
        Some(mut w) => {
            w.close_all();
            w.tally
        }
        None => Tally {
            io_errors: n as u64,
            ..Tally::default()
        },
    }
}
