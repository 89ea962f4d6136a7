//! Randomized, bounded stress on real threads: concurrent senders racing actors that go idle.
//! Checks: no lost message, per-sender FIFO, and an actor never runs on two workers at once.

mod common;

use actor_core::Runtime;
use common::{pair, recv};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const SENDERS: usize = 4;
const ACTORS: usize = 16;
const PER_SENDER: usize = 40_000;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn concurrent_senders_never_lose_or_reorder_and_never_double_run() {
    let rt = Runtime::builder()
        .workers(3)
        .budget(4) // small budget: many yields and re-schedules
        .build()
        .unwrap();
    let h = rt.handle();
    let violations = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = pair::<usize>();
    let mut pids = Vec::new();
    for a in 0..ACTORS {
        let running = Arc::new(AtomicBool::new(false));
        let v = Arc::clone(&violations);
        let done = done_tx.clone();
        let mut last = [None::<usize>; SENDERS];
        let mut count = 0usize;
        let expected = SENDERS * PER_SENDER / ACTORS;
        pids.push(h.spawn_fn(move |_ctx, m| {
            if running.swap(true, Ordering::SeqCst) {
                v.fetch_add(1, Ordering::SeqCst);
            }
            let (s, seq): (usize, usize) = m.downcast().unwrap();
            if last[s].is_some_and(|l| l >= seq) {
                v.fetch_add(1, Ordering::SeqCst);
            }
            last[s] = Some(seq);
            count += 1;
            if count == expected {
                done.send(a).unwrap();
            }
            running.store(false, Ordering::SeqCst);
        }));
    }
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let h = h.clone();
            let pids = pids.clone();
            std::thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (s as u64 + 1);
                for seq in 0..PER_SENDER {
                    let a = (seq + s) % ACTORS;
                    h.send(pids[a], 1, (s, seq)).unwrap();
                    // Random bursts and pauses let actors drain and go idle mid-stream.
                    if xorshift(&mut rng) % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for t in senders {
        t.join().unwrap();
    }
    let mut finished: Vec<usize> = (0..ACTORS).map(|_| recv(&done_rx)).collect();
    finished.sort_unstable();
    assert_eq!(finished, (0..ACTORS).collect::<Vec<_>>());
    assert_eq!(violations.load(Ordering::SeqCst), 0);
}

#[test]
fn ping_pong_chains_across_workers_complete() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let h = rt.handle();
    let (tx, rx) = pair::<()>();
    // 50 rings of 10 actors pass a token 2000 hops each.
    for _ in 0..50 {
        let tx = tx.clone();
        let mut tail = None;
        let first = h.spawn_fn(move |ctx, m| {
            let (next, hops): (actor_core::Pid, u32) = m.downcast().unwrap();
            let tail = *tail.get_or_insert(next);
            if hops == 0 {
                tx.send(()).unwrap();
            } else {
                ctx.send(tail, 1, (ctx.self_pid(), hops - 1)).unwrap();
            }
        });
        let mut prev = first;
        for _ in 0..9 {
            let to = prev;
            prev = h.spawn_fn(move |ctx, m| {
                let (_, hops): (actor_core::Pid, u32) = m.downcast().unwrap();
                ctx.send(to, 1, (ctx.self_pid(), hops)).unwrap();
            });
        }
        // first forwards to the tail, the tail walks back to first
        h.send(first, 1, (prev, 2000u32)).unwrap();
    }
    for _ in 0..50 {
        recv(&rx);
    }
}
