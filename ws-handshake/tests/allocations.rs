//! Heap allocations of a parse: the owned head copy and its field index, nothing else.
//! One test in this binary, so no other test allocates while it counts.

mod common;

use std::alloc::System;

use common::CHROMIUM;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use ws_handshake::{parse_request, Limits};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn parse_allocates_only_the_owned_head_and_its_index() {
    let limits = Limits::default();
    // Warm up anything lazily initialised (none expected, but it must not be counted).
    drop(parse_request(CHROMIUM, &limits));

    let region = Region::new(GLOBAL);
    let parsed = parse_request(CHROMIUM, &limits);
    let change = region.change();
    let (request, _) = parsed.unwrap().unwrap();
    assert_eq!(change.allocations, 2, "{change:?}");
    assert_eq!(change.reallocations, 0, "{change:?}");
    assert_eq!(change.deallocations, 0, "{change:?}");
    // The head copy plus 16 bytes per header field.
    let fields = request.iter().count();
    assert_eq!(change.bytes_allocated, CHROMIUM.len() + 16 * fields);

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

    // An incomplete head allocates nothing either.
    let region = Region::new(GLOBAL);
    assert_eq!(parse_request(&CHROMIUM[..200], &limits), Ok(None));
    assert_eq!(region.change().allocations, 0);
}
