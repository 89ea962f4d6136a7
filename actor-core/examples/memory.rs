//! Memory per idle actor: RSS delta over 100k idle actors (from /proc/self/statm),
//! beside 100k idle tokio tasks each parked on an mpsc receiver.
//!
//! Run: `cargo run -p actor-core --release --example memory`

use actor_core::Runtime;
use std::time::Duration;

const N: usize = 100_000;

fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let rt = Runtime::builder().workers(2).build().expect("runtime");
    let h = rt.handle();
    // warm the allocator and the slot table shards
    let p = h.spawn_fn(|_c, _m| {});
    h.kill(p);
    let before = rss_bytes();
    let pids: Vec<_> = (0..N).map(|_| h.spawn_fn(|_c, _m| {})).collect();
    while h.actor_count() < N {
        std::thread::yield_now();
    }
    let after = rss_bytes();
    let per_actor = (after.saturating_sub(before)) as f64 / N as f64;
    println!(
        "actor-core: {N} idle actors, RSS +{} KiB, {per_actor:.0} bytes/actor",
        (after - before) / 1024
    );
    drop(pids);
    rt.shutdown(Duration::from_secs(10));

    let trt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio");
    let before = rss_bytes();
    let senders: Vec<_> = trt.block_on(async {
        (0..N)
            .map(|_| {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
                tokio::spawn(async move { while rx.recv().await.is_some() {} });
                tx
            })
            .collect()
    });
    trt.block_on(tokio::task::yield_now());
    let after = rss_bytes();
    let per_task = (after.saturating_sub(before)) as f64 / N as f64;
    println!(
        "tokio:      {N} idle tasks+mpsc, RSS +{} KiB, {per_task:.0} bytes/task",
        (after - before) / 1024
    );
    drop(senders);
}
