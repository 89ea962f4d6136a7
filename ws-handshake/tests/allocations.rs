//! Heap allocations of a parse: the owned head copy, nothing else (the field index is
//! inline up to 24 fields); of the 101: its bytes, with or without a permessage-deflate
//! answer, whose negotiation allocates nothing. One test in this binary, so no other
//! test allocates while it counts.

mod common;

use std::alloc::System;

use common::CHROMIUM;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use ws_handshake::{parse_request, DeflateOptions, Limits};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn parse_allocates_only_the_owned_head() {
    let limits = Limits::default();
    // Warm up anything lazily initialised (none expected, but it must not be counted).
    drop(parse_request(CHROMIUM, &limits));

    let region = Region::new(GLOBAL);
    let parsed = parse_request(CHROMIUM, &limits);
    let change = region.change();
    let (request, _) = parsed.unwrap().unwrap();
    assert_eq!(change.allocations, 1, "{change:?}");
    assert_eq!(change.reallocations, 0, "{change:?}");
    assert_eq!(change.deallocations, 0, "{change:?}");
    assert_eq!(change.bytes_allocated, CHROMIUM.len());

    // Reading the view allocates nothing.
    let region = Region::new(GLOBAL);
    let seen = request.protocols().count()
        + request.extensions().count()
        + request.headers("cookie").count()
        + usize::from(request.origin().is_some())
        + request.path().len()
        + request.key().len();
    assert!(seen > 0);
    assert_eq!(region.change().allocations, 0);

    // Past 24 fields the index moves to the heap: one more allocation.
    let mut many = CHROMIUM[..CHROMIUM.len() - 2].to_vec();
    for i in 0..12 {
        many.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let region = Region::new(GLOBAL);
    let parsed = parse_request(&many, &limits);
    let change = region.change();
    assert!(parsed.unwrap().unwrap().0.iter().count() > 24);
    assert_eq!(change.allocations, 2, "{change:?}");

    // The 101 is one allocation, the bytes to send.
    let region = Region::new(GLOBAL);
    let reply = request.accept().to_bytes().unwrap();
    let change = region.change();
    assert_eq!(change.allocations, 1, "{change:?}");
    assert_eq!(change.reallocations, 0, "{change:?}");
    assert_eq!(change.bytes_allocated, reply.capacity());

    // Negotiating permessage-deflate allocates nothing, and a 101 carrying the answer
    // is still one allocation.
    let options = DeflateOptions::default();
    let region = Region::new(GLOBAL);
    let answer = request.negotiate_deflate(&options);
    let accept = request.accept().deflate(&options);
    assert_eq!(region.change().allocations, 0);
    assert!(answer.is_some() && accept.deflate_params().is_some());
    let region = Region::new(GLOBAL);
    let reply = accept.to_bytes().unwrap();
    let change = region.change();
    assert_eq!(change.allocations, 1, "{change:?}");
    assert_eq!(change.reallocations, 0, "{change:?}");
    assert!(reply.len() <= reply.capacity());

    // An incomplete head allocates nothing either.
    let region = Region::new(GLOBAL);
    assert_eq!(parse_request(&CHROMIUM[..200], &limits), Ok(None));
    assert_eq!(region.change().allocations, 0);
}
