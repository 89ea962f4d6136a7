//! Property tests for permessage-deflate (RFC 7692): messages compressed by one end, their
//! frames re-fragmented at random points (RSV1 on the first fragment only, RFC 7692 §6)
//! and fed to the other end split at random byte offsets, decode to the messages sent, in
//! every context-takeover combination and every window size (8 to 15 bits), both ways.

use bytes::BytesMut;
use proptest::prelude::*;
use ws_codec::{apply_mask, encode_frame, Config, Connection, Deflate, Event, FrameHeader, OpCode};

#[derive(Clone, Debug)]
struct Msg {
    text: bool,
    data: Vec<u8>,
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        // Compressible text: words from a small vocabulary, repeated.
        proptest::collection::vec(
            prop::sample::select(vec!["alpha ", "beta ", "γάμμα ", "{\"id\":", "42,", "😀"]),
            0..300
        )
        .prop_map(|w| Msg {
            text: true,
            data: w.concat().into_bytes()
        }),
        // Incompressible binary.
        proptest::collection::vec(any::<u8>(), 0..1500).prop_map(|data| Msg { text: false, data }),
        // Runs.
        (any::<u8>(), 0usize..5000).prop_map(|(b, n)| Msg {
            text: false,
            data: vec![b; n]
        }),
    ]
}

fn deflate() -> impl Strategy<Value = Deflate> {
    (
        any::<bool>(),
        any::<bool>(),
        8u8..=15,
        8u8..=15,
        0u32..=9,
        0usize..100,
    )
        .prop_map(|(snct, cnct, sbits, cbits, level, threshold)| {
            Deflate::default()
                .with_server_no_context_takeover(snct)
                .with_client_no_context_takeover(cnct)
                .with_server_max_window_bits(sbits)
                .with_client_max_window_bits(cbits)
                .with_level(level)
                .with_threshold(threshold)
        })
}

/// Splits every frame of `wire` into fragments at the cut points `cuts` (fractions of its
/// payload, in 1/256ths): the first keeps the opcode and RSV1, the others are
/// continuations, the last has FIN. Masked frames are re-masked with `key`.
fn refragment(wire: &[u8], cuts: &[u8], key: [u8; 4]) -> Vec<u8> {
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
        let mut bounds: Vec<usize> = cuts
            .iter()
            .map(|&c| c as usize * payload.len() / 256)
            .collect();
        bounds.push(0);
        bounds.push(payload.len());
        bounds.sort_unstable();
        bounds.dedup();
        if header.opcode.is_control() || bounds.len() < 3 {
            bounds = vec![0, payload.len()];
        }
        let pieces = bounds.len() - 1;
        for i in 0..pieces {
            let piece = FrameHeader {
                fin: i + 1 == pieces,
                rsv1: i == 0 && header.rsv1,
                opcode: if i == 0 {
                    header.opcode
                } else {
                    OpCode::Continuation
                },
                mask: header.mask.map(|_| key),
                ..FrameHeader::new(header.opcode, 0)
            };
            encode_frame(&piece, &payload[bounds[i]..bounds[i + 1]], &mut out);
        }
    }
    out.to_vec()
}

/// Feeds `wire` to `to` in reads ending at `splits` (fractions, in 1/256ths).
fn feed(to: &mut Connection, wire: &[u8], splits: &[u8]) -> Vec<Event> {
    let mut cuts: Vec<usize> = splits
        .iter()
        .map(|&c| c as usize * wire.len() / 256)
        .collect();
    cuts.push(wire.len());
    cuts.sort_unstable();
    let mut at = 0;
    for cut in cuts {
        to.handle_bytes(&wire[at..cut]).unwrap();
        at = cut;
    }
    std::iter::from_fn(|| to.poll_event()).collect()
}

fn expected(msgs: &[Msg]) -> Vec<Event> {
    msgs.iter()
        .map(|m| {
            if m.text {
                Event::Text(String::from_utf8(m.data.clone()).unwrap().into())
            } else {
                Event::Binary(m.data.clone().into())
            }
        })
        .collect()
}

fn send(from: &mut Connection, msgs: &[Msg]) -> Vec<u8> {
    for m in msgs {
        if m.text {
            from.send_text(std::str::from_utf8(&m.data).unwrap())
                .unwrap();
        } else {
            from.send_binary(&m.data).unwrap();
        }
    }
    std::iter::from_fn(|| from.poll_transmit())
        .flatten()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn compressed_messages_survive_any_fragmentation_and_any_split(
        d in deflate(),
        msgs in proptest::collection::vec(msg(), 1..6),
        cuts in proptest::collection::vec(any::<u8>(), 0..6),
        splits in proptest::collection::vec(any::<u8>(), 0..12),
    ) {
        let config = Config::default().with_deflate(Some(d));
        let mut key = 1u32;
        let mut server = Connection::server(config.clone());
        let mut client = Connection::client(config.clone(), move || {
            key = key.wrapping_mul(2_654_435_761).wrapping_add(1);
            key.to_be_bytes()
        });
        // Several rounds, so context takeover carries windows across messages.
        for round in 0..2 {
            let wire = refragment(&send(&mut client, &msgs), &cuts, [9, 8, 7, round]);
            let whole = feed(&mut server, &wire, &[]);
            prop_assert_eq!(&whole, &expected(&msgs));
            let wire = refragment(&send(&mut server, &msgs), &cuts, [0; 4]);
            // Any split of the input: the same events (the decoder's guarantee).
            prop_assert_eq!(feed(&mut client, &wire, &splits), expected(&msgs));
        }
        // The same stream fed whole and byte by byte to fresh servers.
        let mut a = Connection::server(config.clone());
        let mut b = Connection::server(config);
        let mut c2 = Connection::client(Config::default().with_deflate(Some(d)), || [1, 2, 3, 4]);
        let wire = refragment(&send(&mut c2, &msgs), &cuts, [5, 5, 5, 5]);
        for byte in wire.chunks(1) {
            b.handle_bytes(byte).unwrap();
        }
        let bytewise: Vec<Event> = std::iter::from_fn(|| b.poll_event()).collect();
        prop_assert_eq!(feed(&mut a, &wire, &[]), bytewise);
    }
}

/// RFC 7692 §5: the extension is in use once the handshake agreed on it; a server builds its
/// connection before the handshake and turns compression on when it answers.
#[test]
fn set_deflate_after_the_handshake_compresses_and_inflates() {
    use ws_codec::{Config, Connection, Deflate, Event};
    let deflate = Deflate::default()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true)
        .with_threshold(0);
    let mut server = Connection::server(Config::default());
    assert!(server.set_deflate(Some(deflate)));
    let mut client = Connection::client(Config::default().with_deflate(Some(deflate)), || {
        [1, 2, 3, 4]
    });
    client.send_text("hello hello hello hello").unwrap();
    let mut wire = Vec::new();
    while let Some(b) = client.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    assert_eq!(wire[0] & 0x40, 0x40, "RSV1: compressed");
    server.handle_bytes(&wire).unwrap();
    assert_eq!(
        server.poll_event(),
        Some(Event::Text("hello hello hello hello".into()))
    );
    assert!(!server.set_deflate(None), "not once bytes were received");
    server.send_text("hello hello hello hello").unwrap();
    let out = server.poll_transmit().unwrap();
    assert_eq!(out[0] & 0x40, 0x40, "the server compresses too");
    client.handle_bytes(&out).unwrap();
    assert_eq!(
        client.poll_event(),
        Some(Event::Text("hello hello hello hello".into()))
    );
}
