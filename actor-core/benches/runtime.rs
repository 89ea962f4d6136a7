//! Criterion benches: each actor-core case beside its tokio counterpart, same worker count, same run.
//!
//! Cases: spawn (100k actors, one message each, exit), skynet (tagged replies
//! up a 10-ary tree), ping-pong round trips on one and two workers, pairs with
//! 64 messages in flight, fan-in 1000 -> 1. Memory per idle actor and probe
//! latency under a flood are examples (`memory`, `fairness`): they print
//! numbers, not timings.

use actor_core::{Context, Message, Pid, Runtime};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

const WORKERS: usize = 2;

fn actors(workers: usize) -> Runtime {
    Runtime::builder()
        .workers(workers)
        .thread_name("bench")
        .build()
        .unwrap()
}

fn tokio_rt(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

// ---- spawn ------------------------------------------------------------------

const SPAWNS: usize = 100_000;

fn spawn(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_100k");
    g.throughput(Throughput::Elements(SPAWNS as u64));
    let rt = actors(WORKERS);
    let h = rt.handle();
    g.bench_function("actor-core", |b| {
        b.iter(|| {
            let left = Arc::new(AtomicUsize::new(SPAWNS));
            let (tx, rx) = mpsc::sync_channel::<()>(1);
            for i in 0..SPAWNS {
                let left = Arc::clone(&left);
                let tx = tx.clone();
                let p = h.spawn_fn(move |ctx: &mut Context<'_>, _m: Message| {
                    if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        tx.send(()).unwrap();
                    }
                    ctx.stop(actor_core::ExitReason::Normal);
                });
                h.send(p, 1, i).unwrap();
            }
            rx.recv().unwrap();
        });
    });
    let trt = tokio_rt(WORKERS);
    g.bench_function("tokio", |b| {
        b.iter(|| {
            trt.block_on(async {
                let left = Arc::new(AtomicUsize::new(SPAWNS));
                let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
                let done = Arc::new(std::sync::Mutex::new(Some(done_tx)));
                for i in 0..SPAWNS {
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
                    let left = Arc::clone(&left);
                    let done = Arc::clone(&done);
                    tokio::spawn(async move {
                        let _ = rx.recv().await;
                        if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                            if let Some(d) = done.lock().unwrap().take() {
                                let _ = d.send(());
                            }
                        }
                    });
                    tx.send(i).unwrap();
                }
                done_rx.await.unwrap();
            });
        });
    });
    g.finish();
}

// ---- skynet -------------------------------------------------------------------

const SKYNET: u64 = 1_000_000;
const RESULT: u64 = 2;

fn skynet_actor(h: &actor_core::Handle, parent: Pid, num: u64, size: u64) {
    if size == 1 {
        let _ = h.send(parent, RESULT, num);
        return;
    }
    let mut sum = 0u64;
    let mut got = 0;
    let pid = h.spawn_fn(move |ctx: &mut Context<'_>, m: Message| {
        if m.tag() == 1 {
            let sub = size / 10;
            for i in 0..10 {
                skynet_actor(ctx.handle(), ctx.self_pid(), num + i * sub, sub);
            }
            return;
        }
        sum += m.downcast::<u64>().unwrap();
        got += 1;
        if got == 10 {
            let _ = ctx.send(parent, RESULT, sum);
            ctx.stop(actor_core::ExitReason::Normal);
        }
    });
    let _ = h.send(pid, 1, ());
}

fn tokio_skynet(
    num: u64,
    size: u64,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let sub = size / 10;
        let mut rxs = Vec::with_capacity(10);
        for i in 0..10 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let _ = tx.send(tokio_skynet(num + i * sub, sub).await);
            });
            rxs.push(rx);
        }
        let mut sum = 0;
        for rx in rxs {
            sum += rx.await.unwrap();
        }
        sum
    })
}

fn skynet(c: &mut Criterion) {
    let mut g = c.benchmark_group("skynet_1m");
    g.throughput(Throughput::Elements(SKYNET));
    let expected = SKYNET * (SKYNET - 1) / 2;
    let rt = actors(WORKERS);
    let h = rt.handle();
    g.bench_function("actor-core", |b| {
        b.iter(|| {
            let (tx, rx) = mpsc::sync_channel::<u64>(1);
            let root = h.spawn_fn(move |ctx: &mut Context<'_>, m: Message| {
                tx.send(m.downcast::<u64>().unwrap()).unwrap();
                ctx.stop(actor_core::ExitReason::Normal);
            });
            skynet_actor(&h, root, 0, SKYNET);
            assert_eq!(rx.recv().unwrap(), expected);
        });
    });
    let trt = tokio_rt(WORKERS);
    g.bench_function("tokio", |b| {
        b.iter(|| {
            assert_eq!(
                trt.block_on(async { tokio::spawn(tokio_skynet(0, SKYNET)).await })
                    .unwrap(),
                expected
            )
        });
    });
    g.finish();
}

// ---- ping-pong ------------------------------------------------------------------

const ROUND_TRIPS: u64 = 10_000;

fn ping_pong_actors(rt: &Runtime) {
    let h = rt.handle();
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    let pong = h.spawn_fn(|ctx: &mut Context<'_>, m: Message| {
        let (from, n): (Pid, u64) = m.downcast().unwrap();
        let _ = ctx.send(from, 1, n);
    });
    let ping = h.spawn_fn(move |ctx: &mut Context<'_>, m: Message| {
        let n: u64 = m.downcast().unwrap();
        if n == 0 {
            tx.send(()).unwrap();
            ctx.stop(actor_core::ExitReason::Normal);
        } else {
            let _ = ctx.send(pong, 1, (ctx.self_pid(), n - 1));
        }
    });
    h.send(ping, 1, ROUND_TRIPS).unwrap();
    rx.recv().unwrap();
    h.kill(pong);
}

async fn ping_pong_tokio() {
    let (tx, mut rx) =
        tokio::sync::mpsc::unbounded_channel::<(u64, tokio::sync::oneshot::Sender<u64>)>();
    let pong = tokio::spawn(async move {
        while let Some((n, reply)) = rx.recv().await {
            let _ = reply.send(n);
        }
    });
    let ping = tokio::spawn(async move {
        for n in 0..ROUND_TRIPS {
            let (otx, orx) = tokio::sync::oneshot::channel();
            tx.send((n, otx)).unwrap();
            orx.await.unwrap();
        }
    });
    ping.await.unwrap();
    pong.await.unwrap();
}

fn ping_pong(c: &mut Criterion) {
    for workers in [1, 2] {
        let mut g = c.benchmark_group(format!("ping_pong_{workers}w"));
        g.throughput(Throughput::Elements(ROUND_TRIPS));
        let rt = actors(workers);
        g.bench_function("actor-core", |b| b.iter(|| ping_pong_actors(&rt)));
        let trt = tokio_rt(workers);
        g.bench_function("tokio", |b| b.iter(|| trt.block_on(ping_pong_tokio())));
        g.finish();
    }
}

// ---- throughput: pairs with 64 in flight ---------------------------------------------

const PAIRS: usize = 8;
const IN_FLIGHT: u64 = 64;
const PER_PAIR: u64 = 20_000;

fn pairs_actors(rt: &Runtime) {
    let h = rt.handle();
    let (tx, rx) = mpsc::sync_channel::<()>(PAIRS);
    for _ in 0..PAIRS {
        let echo = h.spawn_fn(|ctx: &mut Context<'_>, m: Message| {
            let (from, n): (Pid, u64) = m.downcast().unwrap();
            let _ = ctx.send(from, 1, n);
        });
        let tx = tx.clone();
        let mut sent = 0u64;
        let mut back = 0u64;
        let driver = h.spawn_fn(move |ctx: &mut Context<'_>, m: Message| {
            if m.tag() == 0 {
                for _ in 0..IN_FLIGHT {
                    let _ = ctx.send(echo, 1, (ctx.self_pid(), sent));
                    sent += 1;
                }
                return;
            }
            back += 1;
            if sent < PER_PAIR {
                let _ = ctx.send(echo, 1, (ctx.self_pid(), sent));
                sent += 1;
            } else if back == PER_PAIR {
                tx.send(()).unwrap();
                ctx.handle().kill(echo);
                ctx.stop(actor_core::ExitReason::Normal);
            }
        });
        h.send(driver, 0, ()).unwrap();
    }
    for _ in 0..PAIRS {
        rx.recv().unwrap();
    }
}

async fn pairs_tokio() {
    let mut joins = Vec::new();
    for _ in 0..PAIRS {
        let (to_echo, mut echo_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let (to_driver, mut driver_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        tokio::spawn(async move {
            while let Some(n) = echo_rx.recv().await {
                if to_driver.send(n).is_err() {
                    break;
                }
            }
        });
        joins.push(tokio::spawn(async move {
            let mut sent = 0;
            for _ in 0..IN_FLIGHT {
                to_echo.send(sent).unwrap();
                sent += 1;
            }
            let mut back = 0;
            while back < PER_PAIR {
                driver_rx.recv().await.unwrap();
                back += 1;
                if sent < PER_PAIR {
                    to_echo.send(sent).unwrap();
                    sent += 1;
                }
            }
        }));
    }
    for j in joins {
        j.await.unwrap();
    }
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("pairs_64_in_flight");
    g.throughput(Throughput::Elements(PAIRS as u64 * PER_PAIR * 2));
    let rt = actors(WORKERS);
    g.bench_function("actor-core", |b| b.iter(|| pairs_actors(&rt)));
    let trt = tokio_rt(WORKERS);
    g.bench_function("tokio", |b| b.iter(|| trt.block_on(pairs_tokio())));
    g.finish();
}

// ---- fan-in 1000 -> 1 ------------------------------------------------------------

const SOURCES: usize = 1000;
const EACH: usize = 100;

fn fan_in_actors(rt: &Runtime) {
    let h = rt.handle();
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    let mut got = 0;
    let sink = h.spawn_fn(move |ctx: &mut Context<'_>, _m: Message| {
        got += 1;
        if got == SOURCES * EACH {
            tx.send(()).unwrap();
            ctx.stop(actor_core::ExitReason::Normal);
        }
    });
    for _ in 0..SOURCES {
        let src = h.spawn_fn(move |ctx: &mut Context<'_>, _m: Message| {
            for i in 0..EACH {
                let _ = ctx.send(sink, 1, i);
            }
            ctx.stop(actor_core::ExitReason::Normal);
        });
        h.send(src, 1, ()).unwrap();
    }
    rx.recv().unwrap();
}

async fn fan_in_tokio() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let sink = tokio::spawn(async move {
        let mut got = 0;
        while got < SOURCES * EACH {
            rx.recv().await.unwrap();
            got += 1;
        }
    });
    for _ in 0..SOURCES {
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in 0..EACH {
                tx.send(i).unwrap();
            }
        });
    }
    sink.await.unwrap();
}

fn fan_in(c: &mut Criterion) {
    let mut g = c.benchmark_group("fan_in_1000_to_1");
    g.throughput(Throughput::Elements((SOURCES * EACH) as u64));
    let rt = actors(WORKERS);
    g.bench_function("actor-core", |b| b.iter(|| fan_in_actors(&rt)));
    let trt = tokio_rt(WORKERS);
    g.bench_function("tokio", |b| b.iter(|| trt.block_on(fan_in_tokio())));
    g.finish();
}

criterion_group!(benches, spawn, skynet, ping_pong, throughput, fan_in);
criterion_main!(benches);
