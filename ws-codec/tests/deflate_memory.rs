//! Memory held by permessage-deflate, counted by a counting global allocator (stats_alloc):
//! bytes a connection holds while idle, per configuration, and everything allocated while
//! a 1 GiB deflate bomb is fed to a server limited to 1 MiB messages. One test function:
//! the counter is global, so nothing else may run in this binary at the same time.
//!
//! `cargo test -p ws-codec --test deflate_memory -- --nocapture` prints the table.

use std::alloc::System;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use ws_codec::{Config, Connection, Deflate, Error, Frame, FrameHeader, OpCode};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const KEY: [u8; 4] = [1, 2, 3, 4];

fn net(region: &Region<'_, System>) -> i64 {
    let c = region.change();
    // stats_alloc counts a realloc's growth in bytes_allocated, its shrinking in
    // bytes_deallocated (and both again in bytes_reallocated).
    c.bytes_allocated as i64 - c.bytes_deallocated as i64
}

/// A JSON-like message of about 2 KiB.
fn message() -> String {
    (0..40)
        .map(|i| format!("{{\"id\":{i},\"name\":\"user{i}\",\"ok\":true}},"))
        .collect()
}

/// Bytes a server holds after being created, then after one compressed message each way
/// (everything it produced taken and dropped): (idle, after traffic).
fn held(deflate: Option<Deflate>) -> (i64, i64) {
    let config = Config::default().with_deflate(deflate);
    let text = message();
    let mut client = Connection::client(config.clone(), || KEY);
    client.send_text(&text).unwrap();
    let wire: Vec<u8> = std::iter::from_fn(|| client.poll_transmit())
        .flatten()
        .collect();

    let region = Region::new(GLOBAL);
    let mut server = Connection::server(config);
    let idle = net(&region);
    server.handle_bytes(&wire).unwrap();
    while server.poll_event().is_some() {}
    server.send_text(&text).unwrap();
    while server.poll_transmit().is_some() {}
    let alive = net(&region);
    // What the connection holds is what its drop frees: a thread also keeps reset
    // engines of no-context-takeover messages for its next one (ws-codec's spares),
    // which stay allocated either way.
    drop(server);
    let after = alive - net(&region);
    (idle, after)
}

/// Fixed-Huffman DEFLATE for `len` zero bytes (see the unit test of the same name).
fn zero_bomb(len: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut n) = (0u64, 0u32);
    let mut put = |value: u64, bits: u32, out: &mut Vec<u8>| {
        acc |= value << n;
        n += bits;
        while n >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            n -= 8;
        }
    };
    let code = |c: u64, bits: u32| (c.reverse_bits() >> (64 - bits), bits);
    put(0b010, 3, &mut out);
    let (lit0, l) = code(0x30, 8);
    put(lit0, l, &mut out);
    let (len258, ll) = code(0b1100_0101, 8);
    for _ in 0..(len - 1) / 258 {
        put(len258, ll, &mut out);
        put(0, 5, &mut out);
    }
    put(0, 14, &mut out);
    out
}

#[test]
fn memory_held_per_connection_and_under_a_bomb() {
    let d = Deflate::default();
    let rows = [
        ("deflate off", None),
        ("default (15 bits, context takeover)", Some(d)),
        (
            "no context takeover both ways",
            Some(
                d.with_server_no_context_takeover(true)
                    .with_client_no_context_takeover(true),
            ),
        ),
        (
            "server_no_context_takeover only",
            Some(d.with_server_no_context_takeover(true)),
        ),
        (
            "10 bits both ways, context takeover",
            Some(
                d.with_server_max_window_bits(10)
                    .with_client_max_window_bits(10),
            ),
        ),
        (
            "12 bits both ways, context takeover",
            Some(
                d.with_server_max_window_bits(12)
                    .with_client_max_window_bits(12),
            ),
        ),
    ];
    println!("| configuration | idle, new | idle, after one message each way |");
    println!("|---|---|---|");
    let mut results = Vec::new();
    for (name, deflate) in rows {
        let (idle, after) = held(deflate);
        println!("| {name} | {idle} B | {after} B |");
        results.push((idle, after));
    }
    let (off_idle, off_after) = results[0];
    for &(idle, _) in &results {
        assert_eq!(
            idle, off_idle,
            "nothing is allocated before the first message"
        );
    }
    // No context takeover both ways: no compressor or inflater is kept after a message
    // (what is left is the receive buffer and queues, as without deflate).
    assert!(
        results[2].1 <= off_after,
        "no context takeover both ways keeps {} bytes",
        results[2].1
    );
    assert!(results[1].1 > results[4].1 && results[4].1 > off_after);

    // The bomb: 1 GiB of zeros in 6.7 MB of DEFLATE, in 4 KiB fragments, to a server
    // limited to 1 MiB messages. Everything allocated while feeding it (not just what is
    // held at the end) stays within the limit plus the inflater and the frame buffers.
    const LIMIT: usize = 1 << 20;
    let bomb = zero_bomb(1 << 30);
    let mut wire = Vec::new();
    for (i, piece) in bomb.chunks(4096).enumerate() {
        let mut dst = bytes::BytesMut::new();
        let header = FrameHeader {
            fin: false,
            rsv1: i == 0,
            mask: Some(KEY),
            ..FrameHeader::new(
                if i == 0 {
                    OpCode::Binary
                } else {
                    OpCode::Continuation
                },
                0,
            )
        };
        Frame::from_parts(header, bytes::Bytes::copy_from_slice(piece)).encode(&mut dst);
        wire.push(dst);
    }
    let config = Config::default()
        .with_max_message_size(LIMIT)
        .with_max_fragments(usize::MAX)
        .with_deflate(Some(d));
    let region = Region::new(GLOBAL);
    let mut server = Connection::server(config);
    let mut error = None;
    for frame in &wire {
        if let Err(e) = server.handle_bytes(frame) {
            error = Some(e);
            break;
        }
    }
    let allocated = region.change().bytes_allocated;
    println!("1 GiB bomb, 1 MiB limit: {allocated} bytes allocated in all");
    assert!(
        matches!(error, Some(Error::MessageTooLarge { .. })),
        "{error:?}"
    );
    assert!(
        allocated < LIMIT + 256 * 1024,
        "{allocated} bytes allocated for a {LIMIT}-byte limit"
    );
}
