//! Criterion benches: ws-codec's frame decode/encode, unmasking and UTF-8 validation against
//! tungstenite's frame codec and a plain memcpy of the same bytes, in the same run.

use std::hint::black_box;
use std::io::Cursor;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use tungstenite::protocol::frame::coding::{Data, OpCode as TOpCode};
use tungstenite::protocol::frame::{Frame as TFrame, FrameSocket};
use tungstenite::protocol::{Role as TRole, WebSocket};
use ws_codec::{
    apply_mask, encode_frame, is_valid_utf8, Config, Connection, Decoder, Deflate, EncodedFrame,
    Event, Frame, FrameHeader, OpCode, Role, Utf8Validator,
};

const SIZES: [(usize, &str); 4] = [
    (20, "20B"),
    (1024, "1KiB"),
    (65536, "64KiB"),
    (1 << 20, "1MiB"),
];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

/// A masked binary frame of `len` payload bytes, as a client sends it.
fn masked_wire(len: usize) -> Vec<u8> {
    let mut dst = BytesMut::new();
    Frame::new(OpCode::Binary, payload(len))
        .with_mask(Some(KEY))
        .encode(&mut dst);
    dst.to_vec()
}

fn batch(len: usize) -> BatchSize {
    if len >= 65536 {
        BatchSize::LargeInput
    } else {
        BatchSize::SmallInput
    }
}

/// Frame level: parse the header, take the payload. ws-codec also unmasks it;
/// tungstenite's `FrameSocket` leaves it masked (its message layer unmasks).
fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (len, name) in SIZES {
        let wire = masked_wire(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("ws_codec", name), |b| {
            let mut decoder = Decoder::new(Role::Server);
            b.iter_batched(
                || BytesMut::from(&wire[..]),
                |mut buf| decoder.decode(&mut buf).unwrap().unwrap(),
                batch(len),
            )
        });
        group.bench_function(BenchmarkId::new("tungstenite_no_unmask", name), |b| {
            b.iter_batched(
                || FrameSocket::new(Cursor::new(wire.clone())),
                |mut socket| socket.read(None).unwrap().unwrap(),
                batch(len),
            )
        });
        group.bench_function(BenchmarkId::new("memcpy", name), |b| {
            let mut dst = vec![0u8; wire.len()];
            b.iter(|| dst.copy_from_slice(black_box(&wire)))
        });
    }
    group.finish();
}

/// Message level, decode + unmask on both sides: a server reads one masked binary message.
fn read_message(c: &mut Criterion) {
    let mut group = c.benchmark_group("read_message");
    for (len, name) in SIZES {
        let wire = masked_wire(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("ws_codec", name), |b| {
            b.iter_batched(
                || {
                    (
                        Connection::server(Config::default()),
                        BytesMut::from(&wire[..]),
                    )
                },
                |(mut conn, buf)| {
                    conn.handle_buf(buf).unwrap();
                    match conn.poll_event() {
                        Some(Event::Binary(data)) => data,
                        other => panic!("{other:?}"),
                    }
                },
                batch(len),
            )
        });
        group.bench_function(BenchmarkId::new("tungstenite", name), |b| {
            b.iter_batched(
                || WebSocket::from_raw_socket(Cursor::new(wire.clone()), TRole::Server, None),
                |mut ws| ws.read().unwrap(),
                batch(len),
            )
        });
    }
    group.finish();
}

/// Encode a masked binary frame into a reused buffer: from a borrowed payload (what
/// `Connection::send_*` does) and from a `Frame` holding `Bytes`.
fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (len, name) in SIZES {
        let data = Bytes::from(payload(len));
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("ws_codec", name), |b| {
            let mut dst = BytesMut::with_capacity(len + 14);
            let header = FrameHeader {
                mask: Some(KEY),
                ..FrameHeader::new(OpCode::Binary, 0)
            };
            b.iter(|| {
                dst.clear();
                encode_frame(&header, black_box(&data), &mut dst);
            })
        });
        group.bench_function(BenchmarkId::new("ws_codec_frame", name), |b| {
            let mut dst = BytesMut::with_capacity(len + 14);
            b.iter(|| {
                dst.clear();
                Frame::new(OpCode::Binary, data.clone())
                    .with_mask(Some(KEY))
                    .encode(&mut dst);
            })
        });
        // The whole send path of a server connection, deflate off: queue, then take.
        group.bench_function(BenchmarkId::new("ws_codec_send", name), |b| {
            let mut server = Connection::server(Config::default());
            b.iter(|| {
                server.send_binary(black_box(&data[..])).unwrap();
                black_box(server.poll_transmit())
            })
        });
        group.bench_function(BenchmarkId::new("tungstenite", name), |b| {
            let mut dst = Vec::with_capacity(len + 14);
            b.iter(|| {
                dst.clear();
                let mut frame = TFrame::message(data.to_vec(), TOpCode::Data(Data::Binary), true);
                frame.header_mut().mask = Some(KEY);
                frame.format(&mut dst).unwrap();
            })
        });
        group.bench_function(BenchmarkId::new("memcpy", name), |b| {
            let mut dst = vec![0u8; len];
            b.iter(|| dst.copy_from_slice(black_box(&data)))
        });
    }
    group.finish();
}

/// Unmask in place (tungstenite's masking function is private: the byte-wise loop is the
/// reference definition).
fn unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("unmask");
    for (len, name) in SIZES {
        let mut buf = payload(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("ws_codec", name), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), KEY))
        });
        group.bench_function(BenchmarkId::new("bytewise", name), |b| {
            b.iter(|| {
                for (i, byte) in black_box(&mut buf).iter_mut().enumerate() {
                    *byte ^= KEY[i & 3];
                }
            })
        });
    }
    group.finish();
}

/// UTF-8 validation of mostly-ASCII text with some multi-byte characters, and of ASCII
/// alone (ws-load's payload): ws-codec's incremental validator, its whole-message check
/// (`is_valid_utf8`, which `Utf8Bytes::try_from` uses), and `std::str::from_utf8`, which
/// tungstenite uses.
fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    for (unit, kind) in [
        ("Hello, wörld! κόσμε €100. ", "mixed"),
        ("abcdefghij", "ascii"),
    ] {
        for (len, name) in SIZES {
            let mut text = unit.repeat(len / unit.len() + 1);
            while text.len() > len {
                text.pop();
            }
            let name = format!("{kind}/{name}");
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_function(BenchmarkId::new("ws_codec", &name), |b| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    v.feed(black_box(text.as_bytes())).unwrap();
                    v.finish().unwrap();
                })
            });
            group.bench_function(BenchmarkId::new("whole", &name), |b| {
                b.iter(|| is_valid_utf8(black_box(text.as_bytes())))
            });
            group.bench_function(BenchmarkId::new("std", &name), |b| {
                b.iter(|| {
                    std::str::from_utf8(black_box(text.as_bytes()))
                        .unwrap()
                        .len()
                })
            });
        }
    }
    group.finish();
}

/// A JSON document of about `len` bytes: order updates with varying values.
fn json(len: usize) -> String {
    let mut s = String::from("[");
    let mut i = 0u64;
    while s.len() < len {
        let v = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        s.push_str(&format!(
            "{{\"id\":\"o-{v:06x}\",\"symbol\":\"{}\",\"price\":{}.{:02},\"qty\":{},\"status\":\"{}\"}},",
            ["AAPL", "MSFT", "NVDA", "AMZN"][(v % 4) as usize],
            50 + v % 900,
            v % 100,
            100 * (1 + v % 50),
            ["new", "filled", "cancelled"][(v % 3) as usize],
        ));
        i += 1;
    }
    s.pop();
    s.push(']');
    s
}

/// permessage-deflate broadcast: one message to 100 members that agreed on no context
/// takeover and 4 KiB windows (ws-server's default). Per member: each connection
/// compresses the message itself. Shared: compressed once into an [`EncodedFrame`] whose
/// bytes every member's queue shares. Plain: the same, uncompressed, for scale.
fn broadcast(c: &mut Criterion) {
    const MEMBERS: usize = 100;
    let mut group = c.benchmark_group("broadcast_deflate");
    let deflate = Deflate::default()
        .with_server_max_window_bits(12)
        .with_client_max_window_bits(12)
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true);
    let config = Config::default().with_deflate(Some(deflate));
    for (len, name) in [(1024, "1KiB"), (16 << 10, "16KiB")] {
        let text = json(len);
        let mut members: Vec<Connection> = (0..MEMBERS)
            .map(|_| Connection::server(config.clone()))
            .collect();
        let drain = |members: &mut Vec<Connection>| {
            for m in members.iter_mut() {
                while let Some(b) = m.poll_transmit() {
                    black_box(b);
                }
            }
        };
        group.throughput(Throughput::Elements(MEMBERS as u64));
        group.bench_function(BenchmarkId::new("per_member", name), |b| {
            b.iter(|| {
                for m in members.iter_mut() {
                    m.send_text(black_box(&text)).unwrap();
                }
                drain(&mut members);
            })
        });
        group.bench_function(BenchmarkId::new("shared", name), |b| {
            b.iter(|| {
                let frame = EncodedFrame::text_compressed(black_box(&text), 12, deflate.level());
                for m in members.iter_mut() {
                    m.send_encoded(&frame).unwrap();
                }
                drain(&mut members);
            })
        });
        group.bench_function(BenchmarkId::new("plain", name), |b| {
            b.iter(|| {
                let frame = EncodedFrame::text(black_box(&text));
                for m in members.iter_mut() {
                    m.send_encoded(&frame).unwrap();
                }
                drain(&mut members);
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    decode,
    read_message,
    encode,
    unmask,
    utf8,
    broadcast
);
criterion_main!(benches);
