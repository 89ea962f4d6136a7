//! Criterion bench: parse and validate a Chromium upgrade request with ws-handshake, next
//! to httparse's bare parse of the same bytes in the same run, and the 101 with and
//! without a permessage-deflate answer.
//!
//! It runs on the system allocator as a server would: a counting allocator adds atomic
//! adds to every malloc and free, which only the ws-handshake side pays. The allocation
//! counts are pinned by `tests/allocations.rs` instead.
//!
//! Run: `cargo bench -p ws-handshake --bench handshake -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::mem::MaybeUninit;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ws_handshake::{parse_request, DeflateOptions, Limits};

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

fn chromium_request(c: &mut Criterion) {
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
    // Chromium offers permessage-deflate; this answers it (the path above ignores it).
    let options = DeflateOptions::default();
    group.bench_function("ws_handshake_parse_validate_accept_deflate", |b| {
        b.iter(|| match parse_request(black_box(CHROMIUM), &limits) {
            Ok(Some((request, _))) => request
                .accept()
                .deflate(black_box(&options))
                .to_bytes()
                .map(|v| v.len()),
            _ => Ok(0),
        })
    });
    // The negotiation alone, on a request parsed once.
    let (parsed, _) = parse_request(CHROMIUM, &limits).unwrap().unwrap();
    group.bench_function("negotiate_deflate", |b| {
        b.iter(|| black_box(&parsed).negotiate_deflate(black_box(&options)))
    });
    group.finish();
}

criterion_group!(benches, chromium_request);
criterion_main!(benches);
