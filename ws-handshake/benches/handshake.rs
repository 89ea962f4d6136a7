//! Criterion bench: parse and validate a Chromium upgrade request with ws-handshake, next
//! to httparse's bare parse of the same bytes in the same run, and count the heap
//! allocations of one parse.
//!
//! Run: `cargo bench -p ws-handshake --bench handshake -- --warm-up-time 1 --measurement-time 3`

use std::alloc::System;
use std::hint::black_box;
use std::mem::MaybeUninit;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use ws_handshake::{parse_request, Limits};

// Counts allocations without unsafe code of ours (the workspace forbids it).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// What Chromium 124 sends for `new WebSocket("ws://localhost:8080/chat")`, with a cookie.
const CHROMIUM: &[u8] = include_bytes!("../tests/chromium.http");

/// httparse alone, with the same 64 uninitialised header slots ws-handshake uses.
fn httparse_bare(buf: &[u8]) -> usize {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 64];
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) => n + req.headers.len(),
        _ => 0,
    }
}

fn count_allocations() {
    let limits = Limits::default();
    let region = Region::new(GLOBAL);
    let parsed = parse_request(CHROMIUM, &limits);
    let parse = region.change();
    let region = Region::new(GLOBAL);
    let reply = match &parsed {
        Ok(Some((request, _))) => request.accept().to_bytes().map(|b| b.len()),
        _ => Ok(0),
    };
    let accept = region.change();
    let region = Region::new(GLOBAL);
    black_box(httparse_bare(CHROMIUM));
    let bare = region.change();
    assert!(matches!(parsed, Ok(Some(_))), "{parsed:?}");
    assert!(matches!(reply, Ok(n) if n > 0));
    println!(
        "allocations: parse_request {} ({} bytes), accept().to_bytes() {} ({} bytes), \
         httparse bare {}; head is {} bytes",
        parse.allocations + parse.reallocations,
        parse.bytes_allocated,
        accept.allocations + accept.reallocations,
        accept.bytes_allocated,
        bare.allocations + bare.reallocations,
        CHROMIUM.len(),
    );
}

fn chromium_request(c: &mut Criterion) {
    count_allocations();
    let limits = Limits::default();
    let mut group = c.benchmark_group("chromium_request");
    group.throughput(Throughput::Bytes(CHROMIUM.len() as u64));
    group.bench_function("httparse_bare", |b| {
        b.iter(|| httparse_bare(black_box(CHROMIUM)))
    });
    group.bench_function("ws_handshake_parse_validate", |b| {
        b.iter(|| parse_request(black_box(CHROMIUM), &limits))
    });
    group.bench_function("ws_handshake_parse_validate_accept", |b| {
        b.iter(|| match parse_request(black_box(CHROMIUM), &limits) {
            Ok(Some((request, _))) => request.accept().to_bytes().map(|v| v.len()),
            _ => Ok(0),
        })
    });
    group.finish();
}

criterion_group!(benches, chromium_request);
criterion_main!(benches);
