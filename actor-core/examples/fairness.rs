//! Fairness: latency of a probe actor while other actors flood themselves
//! (one flooder per worker), beside the same setup on tokio. Prints p50/p99/max.
//!
//! Run: `cargo run -p actor-core --release --example fairness`

use actor_core::{Context, ExitReason, Message, Runtime};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const SAMPLES: usize = 2000;
const WORKERS: usize = 2;

fn report(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    println!(
        "{name}: probe latency under flood: p50 {:?}  p99 {:?}  max {:?}  ({} samples)",
        p(0.50),
        p(0.99),
        v[v.len() - 1],
        v.len()
    );
}

fn main() {
    let rt = Runtime::builder()
        .workers(WORKERS)
        .build()
        .expect("runtime");
    let h = rt.handle();
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..WORKERS {
        let stop = Arc::clone(&stop);
        let f = h.spawn_fn(move |ctx: &mut Context<'_>, m: Message| {
            if stop.load(Ordering::Relaxed) {
                ctx.stop(ExitReason::Normal);
                return;
            }
            let n: u64 = m.downcast().unwrap_or(0);
            // a little work per message, then flood ourselves again
            std::hint::black_box((0..50).fold(n, |a, b| a.wrapping_mul(31).wrapping_add(b)));
            let _ = ctx.send(ctx.self_pid(), 1, n + 1);
        });
        h.send(f, 1, 0u64).unwrap();
    }
    let (tx, rx) = mpsc::channel::<Duration>();
    let probe = h.spawn_fn(move |_c: &mut Context<'_>, m: Message| {
        let sent: Instant = m.downcast().unwrap();
        tx.send(sent.elapsed()).unwrap();
    });
    let mut lat = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        h.send(probe, 1, Instant::now()).unwrap();
        lat.push(rx.recv().unwrap());
        std::thread::sleep(Duration::from_micros(200));
    }
    stop.store(true, Ordering::Relaxed);
    report("actor-core", lat);
    rt.shutdown(Duration::from_secs(5));

    let trt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .expect("tokio");
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..WORKERS {
        let stop = Arc::clone(&stop);
        trt.spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
            tx.send(0).unwrap();
            while let Some(n) = rx.recv().await {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::hint::black_box((0..50).fold(n, |a, b| a.wrapping_mul(31).wrapping_add(b)));
                tx.send(n + 1).unwrap();
            }
        });
    }
    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let (tx, rx) = mpsc::channel::<Duration>();
    trt.spawn(async move {
        while let Some(sent) = prx.recv().await {
            tx.send(sent.elapsed()).unwrap();
        }
    });
    let mut lat = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        ptx.send(Instant::now()).unwrap();
        lat.push(rx.recv().unwrap());
        std::thread::sleep(Duration::from_micros(200));
    }
    stop.store(true, Ordering::Relaxed);
    report("tokio     ", lat);
}
