//! permessage-deflate (RFC 7692) fuzz target bodies: each panics on any broken invariant.

use bytes::BytesMut;
use ws_codec::{
    apply_mask, encode_frame, CloseCode, Config, Connection, Deflate, Error, Event, FrameHeader,
    OpCode, State,
};

const FRAME_LIMIT: usize = 4096;
const MESSAGE_LIMIT: usize = 8192;

/// The permessage-deflate parameters byte `b` picks: bits 0-2 the window (8 + value),
/// bit 3 client_no_context_takeover, bit 4 server_no_context_takeover, bits 5-7 the level.
fn params(b: u8) -> Deflate {
    Deflate::default()
        .with_client_max_window_bits(8 + (b & 7))
        .with_server_max_window_bits(15 - (b & 7))
        .with_client_no_context_takeover(b & 8 != 0)
        .with_server_no_context_takeover(b & 16 != 0)
        .with_level(u32::from(b >> 5))
        .with_threshold(0)
}

/// Feeds a hostile client's byte stream to a server with permessage-deflate and small
/// limits. Input: byte 0 = parameters (see `params`), byte 1 = read size (0: all at once),
/// the rest = the stream, with RSV1 set wherever the fuzzer likes. Checks: the same events
/// and error whole and split; no message over the limit (an inflated bomb stops there);
/// the receive buffer stays within a frame; an error is reported once and queues its
/// close code; the server's own frames decode.
pub fn deflate_inflate(data: &[u8]) {
    let [p, piece, stream @ ..] = data else {
        return;
    };
    let piece = if *piece == 0 {
        stream.len().max(1)
    } else {
        usize::from(*piece)
    };
    let whole = run_inflate(*p, stream, stream.len().max(1));
    let split = run_inflate(*p, stream, piece);
    // The answers depend on when the application saw the events (before or after an
    // error in the same read), as in `session_server`: events and error must not.
    assert_eq!(
        (&whole.0, &whole.1),
        (&split.0, &split.1),
        "read size changed the outcome"
    );
}

fn run_inflate(p: u8, stream: &[u8], piece: usize) -> (Vec<Event>, Option<Error>, Vec<u8>) {
    let config = Config::default()
        .with_max_frame_size(FRAME_LIMIT)
        .with_max_message_size(MESSAGE_LIMIT)
        .with_max_fragments(64)
        .with_deflate(Some(params(p)));
    let mut server = Connection::server(config);
    let mut events = Vec::new();
    let mut answered = Vec::new();
    let mut error = None;
    for part in stream.chunks(piece) {
        if let Err(e) = server.handle_bytes(part) {
            assert!(error.is_none(), "an error is reported once");
            assert_eq!(server.state(), State::Failed);
            let close = server.sent_close().expect("an error queues a close");
            assert_eq!(close.code, e.close_code());
            error = Some(e);
        }
        assert!(server.recv_buffer().len() <= FrameHeader::MAX_LEN + FRAME_LIMIT);
        while let Some(event) = server.poll_event() {
            match &event {
                Event::Text(t) => assert!(t.len() <= MESSAGE_LIMIT),
                Event::Binary(b) => assert!(b.len() <= MESSAGE_LIMIT),
                _ => {}
            }
            // Answer data messages, compressed, while the server may still send: its
            // compressor runs too.
            if server.state() == State::Open {
                match &event {
                    Event::Text(t) => server.send_text(t).unwrap(),
                    Event::Binary(b) => server.send_binary(b).unwrap(),
                    _ => {}
                }
                if matches!(event, Event::Text(_) | Event::Binary(_)) {
                    answered.push(event.clone());
                }
            }
            events.push(event);
        }
    }
    if let Some(Error::MessageTooLarge { len, max }) = &error {
        assert_eq!(*max, MESSAGE_LIMIT as u64);
        assert!(*len > *max);
    }
    let out: Vec<u8> = std::iter::from_fn(|| server.poll_transmit())
        .flatten()
        .collect();
    // The answers decode at a client with the same parameters.
    let mut client = Connection::client(
        Config::default()
            .with_max_message_size(MESSAGE_LIMIT)
            .with_deflate(Some(params(p))),
        || [0; 4],
    );
    client
        .handle_bytes(&out)
        .expect("the server sends valid frames");
    let echoed: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    let data = |e: &&Event| matches!(e, Event::Text(_) | Event::Binary(_));
    let echoed: Vec<&Event> = echoed.iter().filter(data).collect();
    assert_eq!(echoed, answered.iter().collect::<Vec<_>>());
    (events, error, out)
}

/// Messages from the input, compressed by one end, re-fragmented and read in pieces by
/// the other, both ways, under the parameters the input picks. Input: byte 0 =
/// parameters (see `params`), byte 1 = threshold, byte 2 = fragment size (0: none),
/// byte 3 = read size (0: all at once); the rest = messages separated by 0xFF (valid
/// UTF-8 goes as text, the rest as binary; 0xFF never occurs in UTF-8). Checks: every
/// message arrives as sent, in every direction, round after round (context takeover).
pub fn deflate_roundtrip(data: &[u8]) {
    let [p, threshold, frag, read, rest @ ..] = data else {
        return;
    };
    let deflate = params(*p).with_threshold(usize::from(*threshold));
    let config = Config::default().with_deflate(Some(deflate));
    let mut key = 0u32;
    let mut client = Connection::client(config.clone(), move || {
        key = key.wrapping_add(0x9E37_79B9);
        key.to_le_bytes()
    });
    let mut server = Connection::server(config);
    let msgs: Vec<&[u8]> = rest.split(|&b| b == 0xFF).collect();
    for round in 0..4 {
        let (from, to) = if round % 2 == 0 {
            (&mut client, &mut server)
        } else {
            (&mut server, &mut client)
        };
        {
            for (i, m) in msgs.iter().enumerate() {
                let sent = match std::str::from_utf8(m) {
                    Ok(t) if (i + round) % 3 == 2 => {
                        from.send_text_uncompressed(t).unwrap();
                        Event::Text(t.into())
                    }
                    Ok(t) => {
                        from.send_text(t).unwrap();
                        Event::Text(t.into())
                    }
                    Err(_) => {
                        from.send_binary(m).unwrap();
                        Event::Binary(bytes::Bytes::copy_from_slice(m))
                    }
                };
                let wire: Vec<u8> = std::iter::from_fn(|| from.poll_transmit())
                    .flatten()
                    .collect();
                let wire = refragment(&wire, usize::from(*frag));
                let read = if *read == 0 {
                    wire.len().max(1)
                } else {
                    usize::from(*read)
                };
                for part in wire.chunks(read) {
                    to.handle_bytes(part).expect("a sound message is accepted");
                }
                assert_eq!(to.poll_event(), Some(sent));
                assert_eq!(to.poll_event(), None);
            }
        }
    }
    client.close(CloseCode::NORMAL, "").unwrap();
}

/// Splits the data frames of `wire` into fragments of `size` payload bytes (0: as they
/// are), RSV1 on the first only; masked frames keep their key.
fn refragment(wire: &[u8], size: usize) -> Vec<u8> {
    if size == 0 {
        return wire.to_vec();
    }
    let mut out = BytesMut::new();
    let mut at = 0;
    while at < wire.len() {
        let (header, header_len) = FrameHeader::parse(&wire[at..]).unwrap().unwrap();
        let start = at + header_len;
        let end = start + header.payload_len as usize;
        let mut payload = wire[start..end].to_vec();
        if let Some(mask) = header.mask {
            apply_mask(&mut payload, mask);
        }
        at = end;
        let pieces: Vec<&[u8]> = if payload.is_empty() {
            vec![&payload[..]]
        } else {
            payload.chunks(size).collect()
        };
        for (i, piece) in pieces.iter().enumerate() {
            let h = FrameHeader {
                fin: i + 1 == pieces.len(),
                rsv1: i == 0 && header.rsv1,
                opcode: if i == 0 {
                    header.opcode
                } else {
                    OpCode::Continuation
                },
                ..header
            };
            encode_frame(&h, piece, &mut out);
        }
    }
    out.to_vec()
}

#[cfg(test)]
mod seeds {
    //! The seed corpus, written by this test: `WS_FUZZ_WRITE_SEEDS=1 cargo test --lib` writes
    //! the files; a plain run checks that the committed ones match.

    use std::path::Path;

    use bytes::{Bytes, BytesMut};
    use ws_codec::{Frame, FrameHeader, OpCode};

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn masked(opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
        let mut dst = BytesMut::new();
        let header = FrameHeader {
            fin,
            rsv1,
            mask: Some(KEY),
            ..FrameHeader::new(opcode, 0)
        };
        Frame::from_parts(header, Bytes::copy_from_slice(payload)).encode(&mut dst);
        dst.to_vec()
    }

    /// RFC 7692 §7.2.3.1's compressed "Hello".
    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
        let with =
            |p: u8, piece: u8, frames: &[Vec<u8>]| [vec![p, piece], frames.concat()].concat();
        let hello = masked(OpCode::Text, true, true, &HELLO);
        let fragmented = [
            masked(OpCode::Text, false, true, &HELLO[..3]),
            masked(OpCode::Ping, true, false, b"mid"),
            masked(OpCode::Continuation, true, false, &HELLO[3..]),
        ];
        // A stored block of 300 zeros (ending with the header of the stripped empty block,
        // as RFC 7692 §7.2.3.3's example does), then a BFINAL block (§7.2.3.4).
        let stored = masked(
            OpCode::Binary,
            true,
            true,
            &[&[0x00, 0x2c, 0x01, 0xd3, 0xfe][..], &[0u8; 300], &[0x00]].concat(),
        );
        let bfinal = masked(
            OpCode::Text,
            true,
            true,
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        );
        let bad_rsv1 = [hello.clone(), masked(OpCode::Ping, true, true, b"")];
        let corrupt = masked(OpCode::Binary, true, true, &[0x07, 0x00, 0x01]);
        // 100 000 zeros compressed to about 100 bytes: past the 8 KiB limit.
        let mut client = ws_codec::Connection::client(
            ws_codec::Config::default().with_deflate(Some(ws_codec::Deflate::default())),
            || KEY,
        );
        client.send_binary(vec![0u8; 100_000]).unwrap();
        let bomb: Vec<u8> = std::iter::from_fn(|| client.poll_transmit())
            .flatten()
            .collect();
        let mut out = vec![
            ("deflate_inflate", "hello", with(0, 0, &[hello.clone()])),
            (
                "deflate_inflate",
                "fragmented_by_2",
                with(0x18, 2, &fragmented),
            ),
            (
                "deflate_inflate",
                "stored_and_bfinal",
                with(0x07, 5, &[stored, bfinal]),
            ),
            ("deflate_inflate", "rsv1_on_ping", with(0, 0, &bad_rsv1)),
            ("deflate_inflate", "corrupt", with(0x20, 1, &[corrupt])),
            ("deflate_inflate", "bomb", with(0, 7, &[bomb])),
        ];
        let text = "alpha beta γάμμα alpha beta γάμμα {\"id\":42}".as_bytes();
        let msgs = [
            text,
            &[0xFF],
            text,
            &[0xFF],
            &[0u8, 1, 2, 0xC3][..],
            &[0xFF],
            b"short",
        ]
        .concat();
        for (name, head) in [
            ("takeover_whole", [0x2F, 0, 0, 0]),
            ("no_takeover_frag_3_read_5", [0x3F, 0, 3, 5]),
            ("window_8_threshold_10", [0x20, 10, 0, 1]),
            ("server_no_takeover_frag_1", [0x10, 0, 1, 0]),
        ] {
            out.push(("deflate_roundtrip", name, [&head[..], &msgs].concat()));
        }
        out
    }

    #[test]
    fn seed_corpus_is_committed() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let write = std::env::var_os("WS_FUZZ_WRITE_SEEDS").is_some();
        for (target, name, bytes) in seeds() {
            let dir = root.join(target);
            let path = dir.join(format!("seed_{name}"));
            if write {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &bytes).unwrap();
            }
            let committed = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (run with WS_FUZZ_WRITE_SEEDS=1)", path.display())
            });
            assert_eq!(committed, bytes, "{} is stale", path.display());
        }
    }

    #[test]
    fn seeds_pass_their_targets() {
        for (target, _, bytes) in seeds() {
            match target {
                "deflate_inflate" => super::deflate_inflate(&bytes),
                "deflate_roundtrip" => super::deflate_roundtrip(&bytes),
                other => panic!("unknown target {other}"),
            }
        }
    }
}
