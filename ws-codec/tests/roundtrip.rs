//! Property tests: decode(encode(frame)) == frame, for headers and whole frames.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use ws_codec::{Decoder, Frame, FrameHeader, OpCode, Role};

fn opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary),
        Just(OpCode::Close),
        Just(OpCode::Ping),
        Just(OpCode::Pong),
    ]
}

fn header() -> impl Strategy<Value = FrameHeader> {
    let len = prop_oneof![0u64..=125, 126u64..=0xFFFF, 0x1_0000u64..=(u64::MAX >> 1)];
    (any::<[bool; 4]>(), opcode(), any::<Option<[u8; 4]>>(), len).prop_map(
        |([fin, rsv1, rsv2, rsv3], opcode, mask, payload_len)| FrameHeader {
            fin,
            rsv1,
            rsv2,
            rsv3,
            opcode,
            mask,
            payload_len,
        },
    )
}

/// A frame that obeys the frame-level rules of RFC 6455, masked as `role`'s peer sends it.
fn frame(role: Role) -> impl Strategy<Value = Frame> {
    (opcode(), any::<bool>(), any::<[u8; 4]>(), 0usize..70_000)
        .prop_flat_map(|(op, fin, key, len)| {
            let len = if op.is_control() { len % 126 } else { len };
            (
                Just(op),
                Just(fin || op.is_control()),
                Just(key),
                proptest::collection::vec(any::<u8>(), len),
            )
        })
        .prop_map(move |(op, fin, key, payload)| {
            let mask = (role == Role::Server).then_some(key);
            Frame::new(op, Bytes::from(payload))
                .with_fin(fin)
                .with_mask(mask)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn header_round_trips_with_the_shortest_length_form(h in header()) {
        let mut dst = BytesMut::new();
        h.encode(&mut dst);
        prop_assert_eq!(dst.len(), h.encoded_len());
        prop_assert_eq!(FrameHeader::parse(&dst), Ok(Some((h, dst.len()))));
        let short = match h.payload_len { 0..=125 => 2, 126..=0xFFFF => 4, _ => 10 };
        prop_assert_eq!(dst.len(), short + if h.mask.is_some() { 4 } else { 0 });
    }

    #[test]
    fn server_decodes_what_a_client_encodes(frames in proptest::collection::vec(frame(Role::Server), 1..6)) {
        let mut wire = BytesMut::new();
        for f in &frames {
            f.encode(&mut wire);
        }
        let mut decoder = Decoder::new(Role::Server);
        for f in &frames {
            prop_assert_eq!(decoder.decode(&mut wire), Ok(Some(f.clone())));
        }
        prop_assert_eq!(decoder.decode(&mut wire), Ok(None));
        prop_assert!(wire.is_empty());
    }

    #[test]
    fn client_decodes_what_a_server_encodes(f in frame(Role::Client)) {
        let mut wire = BytesMut::new();
        f.encode(&mut wire);
        prop_assert_eq!(Decoder::new(Role::Client).decode(&mut wire), Ok(Some(f)));
    }

    #[test]
    fn masked_wire_bytes_differ_only_by_the_mask(payload in proptest::collection::vec(any::<u8>(), 0..300), key in any::<[u8; 4]>()) {
        let mut plain = BytesMut::new();
        let mut masked = BytesMut::new();
        Frame::new(OpCode::Binary, payload.clone()).encode(&mut plain);
        Frame::new(OpCode::Binary, payload).with_mask(Some(key)).encode(&mut masked);
        let (hp, np) = FrameHeader::parse(&plain).unwrap().unwrap();
        let (hm, nm) = FrameHeader::parse(&masked).unwrap().unwrap();
        prop_assert_eq!(hp.payload_len, hm.payload_len);
        for (i, (p, m)) in plain[np..].iter().zip(&masked[nm..]).enumerate() {
            prop_assert_eq!(p ^ key[i % 4], *m);
        }
    }
}
