//! ws-codec fuzz target bodies: each panics on any broken invariant of the codec.

use bytes::{Bytes, BytesMut};
use ws_codec::{
    CloseCode, Config, Connection, Decoder, Error, Event, Frame, FrameHeader, OpCode, Role, State,
    Utf8Validator,
};

/// Decodes an arbitrary byte stream. Input: byte 0 picks the role (bit 0) and the frame
/// limit (bits 1-3); the rest is the stream. The stream is decoded whole and one byte at a
/// time: both must give the same frames and the same error, every frame must obey the
/// frame rules, and the decoder must never hold more than a header plus the limit.
pub fn frame_decode(data: &[u8]) {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let role = if control & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let max = 16usize << ((control >> 1) & 7);
    let whole = decode_stream(role, max, stream, stream.len().max(1));
    let bytewise = decode_stream(role, max, stream, 1);
    assert_eq!(whole, bytewise, "split changed the result");
    for frame in &whole.0 {
        let h = frame.header();
        assert_eq!(h.payload_len, frame.payload().len() as u64);
        assert!(frame.payload().len() <= max);
        assert_eq!(h.rsv_bits(), 0);
        assert_eq!(h.mask.is_some(), role == Role::Server);
        if h.opcode.is_control() {
            assert!(h.fin && h.payload_len <= 125);
        }
    }
}

fn decode_stream(
    role: Role,
    max: usize,
    stream: &[u8],
    piece: usize,
) -> (Vec<Frame>, Option<Error>) {
    let mut decoder = Decoder::new(role).with_max_frame_size(max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for part in stream.chunks(piece) {
        buf.extend_from_slice(part);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
        assert!(
            buf.len() <= FrameHeader::MAX_LEN + max,
            "decoder holds {} bytes with a limit of {max}",
            buf.len()
        );
    }
    (frames, None)
}

/// Builds a frame from the input, encodes it, and checks that it decodes to itself.
/// Input: byte 0 = FIN, RSV1-3 (bits 7-4) and an opcode index (bits 0-2); byte 1 bit 0 =
/// masked; bytes 2-5 = key; the rest = payload.
pub fn frame_roundtrip(data: &[u8]) {
    let [b0, b1, k0, k1, k2, k3, payload @ ..] = data else {
        return;
    };
    const OPS: [OpCode; 6] = [
        OpCode::Continuation,
        OpCode::Text,
        OpCode::Binary,
        OpCode::Close,
        OpCode::Ping,
        OpCode::Pong,
    ];
    let mask = (b1 & 1 == 1).then_some([*k0, *k1, *k2, *k3]);
    let header = FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv1: b0 & 0x40 != 0,
        rsv2: b0 & 0x20 != 0,
        rsv3: b0 & 0x10 != 0,
        opcode: OPS[usize::from(b0 & 7) % OPS.len()],
        mask,
        payload_len: payload.len() as u64,
    };
    let frame = Frame::from_parts(header, Bytes::copy_from_slice(payload));
    let mut wire = BytesMut::new();
    frame.encode(&mut wire);
    assert_eq!(wire.len(), header.encoded_len() + payload.len());
    assert_eq!(
        FrameHeader::parse(&wire),
        Ok(Some((header, header.encoded_len())))
    );
    let role = if mask.is_some() {
        Role::Server
    } else {
        Role::Client
    };
    let legal = header.rsv_bits() == 0
        && (!header.opcode.is_control() || (header.fin && payload.len() <= 125));
    let decoded = Decoder::new(role).decode(&mut wire.clone());
    if legal {
        assert_eq!(decoded, Ok(Some(frame)), "decode(encode(f)) != f");
    } else {
        assert!(decoded.is_err(), "an illegal frame decoded: {decoded:?}");
    }
    // The same frame split at every point decodes the same way.
    if legal && wire.len() <= 64 {
        for cut in 0..wire.len() {
            let mut decoder = Decoder::new(role);
            let mut buf = BytesMut::from(&wire[..cut]);
            assert_eq!(decoder.decode(&mut buf), Ok(None));
            buf.extend_from_slice(&wire[cut..]);
            assert_eq!(decoder.decode(&mut buf), decoded);
        }
    }
}

/// Feeds a client's byte stream to a server `Connection` with small limits. Input: byte 0 =
/// read size (0: all at once); the rest = the stream. Checks: the same events and error as
/// feeding it whole; the receive buffer never exceeds a frame; nothing but at most
/// `MAX_PENDING_PONGS` waiting pongs and one close is ever queued (a ping flood stays
/// bounded); an error queues its close code. The split run uses deferred failure
/// (`Config::with_deferred_failure`): the same events, error and close code must come out,
/// the close only once `fail()` is called.
pub fn session_server(data: &[u8]) {
    let Some((&piece, stream)) = data.split_first() else {
        return;
    };
    let piece = if piece == 0 {
        stream.len().max(1)
    } else {
        usize::from(piece)
    };
    let whole = run_server(stream, stream.len().max(1), false, false);
    let split = run_server(stream, piece, false, false);
    assert_eq!(whole, split, "read size changed the outcome");
    // As ws-server's poller reads a large payload: straight into the receive buffer.
    let direct = run_server(stream, piece, false, true);
    assert_eq!(
        whole, direct,
        "reading into the receive buffer changed the outcome"
    );
    let deferred = run_server(stream, piece, true, false);
    assert_eq!(
        (&deferred.events, &deferred.error, deferred.state),
        (&whole.events, &whole.error, whole.state),
        "deferred failure changed the outcome"
    );
    // Deferred failure keeps the pongs waiting at the error; the other frames are the same.
    let not_pong = |f: &&Frame| f.opcode() != OpCode::Pong;
    assert!(deferred
        .sent
        .iter()
        .filter(not_pong)
        .eq(whole.sent.iter().filter(not_pong)));
}

const FRAME_LIMIT: usize = 4096;
/// Small, so a handful of pings in the input already reaches the cap.
const MAX_PENDING_PONGS: usize = 4;

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    error: Option<Error>,
    state: State,
    sent: Vec<Frame>,
}

/// Feeds `stream` in reads of `piece` bytes; `direct`: while a payload is awaited, the
/// read (no longer than what is awaited) is appended to `recv_buffer` instead.
fn run_server(stream: &[u8], piece: usize, deferred: bool, direct: bool) -> Outcome {
    let config = Config::default()
        .with_max_frame_size(FRAME_LIMIT)
        .with_max_message_size(2 * FRAME_LIMIT)
        .with_max_fragments(64)
        .with_max_pending_pongs(MAX_PENDING_PONGS)
        .with_deferred_failure(deferred);
    let mut server = Connection::server(config);
    let mut events = Vec::new();
    let mut error = None;
    let mut total_payload = 0;
    let mut at = 0;
    while at < stream.len() {
        let awaited = if direct { server.awaited_payload() } else { 0 };
        let len = match awaited {
            0 => piece,
            awaited => piece.min(awaited),
        };
        let part = &stream[at..stream.len().min(at + len)];
        at += part.len();
        let fed = if awaited > 0 {
            server.recv_buffer().extend_from_slice(part);
            server.handle_buffered()
        } else {
            server.handle_bytes(part)
        };
        if let Err(e) = fed {
            assert!(error.is_none(), "an error is reported once");
            if deferred {
                assert_eq!(server.state(), State::Failing);
                assert!(server.sent_close().is_none() && !server.should_close_transport());
            } else {
                assert_eq!(server.state(), State::Failed);
                assert!(server.should_close_transport());
            }
            error = Some(e);
        }
        assert!(server.recv_buffer().len() <= FrameHeader::MAX_LEN + FRAME_LIMIT);
        // Nothing is taken by poll_transmit until the end, so every pong queued so far is
        // waiting: at most MAX_PENDING_PONGS pongs (2 + 125 each) and one close (2 + 125).
        assert!(server.pending_transmit_bytes() <= (MAX_PENDING_PONGS + 1) * 127);
        while let Some(event) = server.poll_event() {
            total_payload += match &event {
                Event::Text(t) => t.len(),
                Event::Binary(b) | Event::Ping(b) | Event::Pong(b) => b.len(),
                Event::Close(c) => c.reason.len(),
            };
            events.push(event);
        }
    }
    assert!(total_payload <= stream.len());
    if deferred && error.is_some() {
        assert_eq!(server.fail(), Ok(()));
        assert_eq!(server.state(), State::Failed);
        assert!(server.should_close_transport());
    }
    let mut wire = BytesMut::new();
    while let Some(chunk) = server.poll_transmit() {
        wire.extend_from_slice(&chunk);
    }
    let mut decoder = Decoder::new(Role::Client);
    let mut sent = Vec::new();
    while let Some(frame) = decoder
        .decode(&mut wire)
        .expect("the server sends valid frames")
    {
        sent.push(frame);
    }
    assert!(wire.is_empty());
    let closes: Vec<&Frame> = sent
        .iter()
        .filter(|f| f.opcode() == OpCode::Close)
        .collect();
    assert!(closes.len() <= 1, "one close frame at most");
    if let Some(e) = &error {
        let close = closes.first().expect("an error queues a close");
        let code = CloseCode(u16::from_be_bytes([close.payload()[0], close.payload()[1]]));
        assert_eq!(code, e.close_code());
    }
    if let Some(peer) = server.peer_close() {
        let close = closes.first().expect("a received close is answered");
        let code = CloseCode(u16::from_be_bytes([close.payload()[0], close.payload()[1]]));
        let expect = if peer.code == CloseCode::NO_STATUS {
            CloseCode::NORMAL
        } else {
            peer.code
        };
        assert_eq!(code, expect);
    }
    Outcome {
        events,
        error,
        state: server.state(),
        sent,
    }
}

/// Validates bytes split into pieces and checks it against `std::str::from_utf8`, piece by
/// piece: a piece is accepted exactly when the input up to its end is a prefix of valid
/// UTF-8 (fail-fast), and the whole is accepted exactly when std accepts it. Input: byte 0 =
/// number of cuts (mod 8), then one byte per cut position, then the text.
pub fn utf8_split(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 8).min(rest.len());
    let (cut_bytes, text) = rest.split_at(n);
    let mut cuts: Vec<usize> = cut_bytes
        .iter()
        .map(|&c| usize::from(c) % (text.len() + 1))
        .collect();
    cuts.push(text.len());
    cuts.sort_unstable();
    let mut validator = Utf8Validator::new();
    let mut at = 0;
    for &cut in &cuts {
        let accepted = validator.feed(&text[at..cut]).is_ok();
        let prefix_ok = match std::str::from_utf8(&text[..cut]) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        };
        assert_eq!(accepted, prefix_ok, "piece ending at {cut} of {text:x?}");
        if !accepted {
            assert!(std::str::from_utf8(text).is_err());
            return;
        }
        at = cut;
    }
    assert_eq!(
        validator.finish().is_ok(),
        std::str::from_utf8(text).is_ok(),
        "whole input {text:x?}"
    );
}

#[cfg(test)]
mod seeds {
    //! The seed corpus, written by this test: `WS_FUZZ_WRITE_SEEDS=1 cargo test --lib` writes
    //! the files; a plain run checks that the committed ones match.

    use std::path::Path;

    use bytes::{Bytes, BytesMut};
    use ws_codec::{Frame, OpCode};

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn masked(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut dst = BytesMut::new();
        Frame::new(opcode, Bytes::copy_from_slice(payload))
            .with_fin(fin)
            .with_mask(Some(KEY))
            .encode(&mut dst);
        dst.to_vec()
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
        let text = masked(OpCode::Text, true, b"Hello");
        let fragmented = cat(&[
            masked(OpCode::Text, false, "κό".as_bytes()),
            masked(OpCode::Ping, true, b"mid"),
            masked(OpCode::Continuation, false, &"σμε".as_bytes()[..3]),
            masked(OpCode::Continuation, true, &"σμε".as_bytes()[3..]),
        ]);
        let bad_utf8 = cat(&[
            masked(OpCode::Text, false, "κόσμε".as_bytes()),
            masked(OpCode::Continuation, true, b"\xf4\x90\x80\x80"),
        ]);
        let bad_utf8_in_frame = masked(
            OpCode::Text,
            true,
            &["κόσμε".as_bytes(), b"\xf4\x90\x80\x80", b"edited"].concat(),
        );
        let close = masked(OpCode::Close, true, b"\x03\xe8bye");
        let pings = cat(&[
            masked(OpCode::Ping, true, b"1"),
            masked(OpCode::Ping, true, b"2"),
            masked(OpCode::Pong, true, b""),
        ]);
        let ping_flood: Vec<u8> = (0..6u8)
            .flat_map(|i| masked(OpCode::Ping, true, &[i]))
            .collect();
        let binary_16bit = masked(OpCode::Binary, true, &[0xAB; 300]);
        let unmasked_rfc = vec![0x81, 0x05, b'H', b'e', b'l', b'l', b'o'];
        vec![
            (
                "frame_decode",
                "text_masked",
                cat(&[vec![0x06], text.clone()]),
            ),
            (
                "frame_decode",
                "rfc_unmasked_client",
                cat(&[vec![0x07], unmasked_rfc]),
            ),
            (
                "frame_decode",
                "fragmented",
                cat(&[vec![0x06], fragmented.clone()]),
            ),
            (
                "frame_decode",
                "binary_300",
                cat(&[vec![0x0E], binary_16bit.clone()]),
            ),
            ("frame_decode", "close", cat(&[vec![0x00], close.clone()])),
            (
                "frame_roundtrip",
                "text_masked",
                cat(&[vec![0x81, 1], KEY.to_vec(), b"Hello".to_vec()]),
            ),
            (
                "frame_roundtrip",
                "ping_unmasked",
                cat(&[vec![0x84, 0], KEY.to_vec(), b"ping".to_vec()]),
            ),
            (
                "frame_roundtrip",
                "rsv_binary",
                cat(&[vec![0xC2, 1], KEY.to_vec(), vec![0; 130]]),
            ),
            (
                "frame_roundtrip",
                "continuation",
                cat(&[vec![0x00, 1], KEY.to_vec(), vec![1; 20]]),
            ),
            (
                "frame_roundtrip",
                "close_long",
                cat(&[vec![0x83, 0], KEY.to_vec(), vec![b'x'; 126]]),
            ),
            ("session_server", "text_whole", cat(&[vec![0], text])),
            (
                "session_server",
                "fragmented_by_3",
                cat(&[vec![3], fragmented]),
            ),
            ("session_server", "bad_utf8_by_1", cat(&[vec![1], bad_utf8])),
            (
                "session_server",
                "bad_utf8_in_frame_by_3",
                cat(&[vec![3], bad_utf8_in_frame]),
            ),
            (
                "session_server",
                "pings_then_close",
                cat(&[vec![5], pings, close]),
            ),
            (
                "session_server",
                "ping_flood_by_2",
                cat(&[vec![2], ping_flood]),
            ),
            (
                "session_server",
                "binary_300_by_7",
                cat(&[vec![7], binary_16bit]),
            ),
            (
                "utf8_split",
                "greek_split_in_char",
                cat(&[vec![2, 1, 3], "κόσμε".as_bytes().to_vec()]),
            ),
            (
                "utf8_split",
                "emoji_every_byte",
                cat(&[vec![3, 1, 2, 3], "😀".as_bytes().to_vec()]),
            ),
            (
                "utf8_split",
                "surrogate",
                cat(&[vec![1, 1], b"\xed\xa0\x80".to_vec()]),
            ),
            (
                "utf8_split",
                "too_big",
                cat(&[vec![1, 2], b"a\xf4\x90\x80\x80".to_vec()]),
            ),
            (
                "utf8_split",
                "truncated",
                cat(&[vec![0], b"ok\xe2\x82".to_vec()]),
            ),
        ]
    }

    #[test]
    fn seed_corpus_is_committed() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let write = std::env::var_os("WS_FUZZ_WRITE_SEEDS").is_some();
        for (target, name, bytes) in seeds() {
            let path = root.join(target).join(format!("seed_{name}"));
            if write {
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
                "frame_decode" => super::frame_decode(&bytes),
                "frame_roundtrip" => super::frame_roundtrip(&bytes),
                "session_server" => super::session_server(&bytes),
                "utf8_split" => super::utf8_split(&bytes),
                other => panic!("unknown target {other}"),
            }
        }
    }
}
