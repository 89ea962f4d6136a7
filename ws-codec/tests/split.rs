//! Property test: any split of an encoded stream gives the same events as the whole stream.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use ws_codec::{Config, Connection, Error, Event, Frame, OpCode};

/// One step of what a client may send: a whole message, a fragmented one with control
/// frames between its fragments, or a lone ping/pong. Text is valid UTF-8 cut anywhere,
/// including inside a character.
#[derive(Clone, Debug)]
enum Step {
    Message {
        text: bool,
        data: Vec<u8>,
        cuts: Vec<usize>,
        ping_between: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (
            any::<bool>(),
            "\\PC{0,40}",
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::collection::vec(0usize..200, 0..4),
            any::<bool>()
        )
            .prop_map(|(text, s, bin, mut cuts, ping_between)| {
                let data = if text { s.into_bytes() } else { bin };
                cuts.iter_mut().for_each(|c| *c = (*c).min(data.len()));
                cuts.sort_unstable();
                Step::Message {
                    text,
                    data,
                    cuts,
                    ping_between,
                }
            }),
        proptest::collection::vec(any::<u8>(), 0..125).prop_map(Step::Ping),
        proptest::collection::vec(any::<u8>(), 0..125).prop_map(Step::Pong),
    ]
}

fn encode(steps: &[Step]) -> Vec<u8> {
    let mut wire = BytesMut::new();
    let mut key = 0u32;
    let mut put = |frame: Frame, wire: &mut BytesMut| {
        key = key.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
        frame.with_mask(Some(key.to_le_bytes())).encode(wire);
    };
    for step in steps {
        match step {
            Step::Message {
                text,
                data,
                cuts,
                ping_between,
            } => {
                let mut bounds = vec![0];
                bounds.extend(cuts);
                bounds.push(data.len());
                let pieces = bounds.len() - 1;
                for i in 0..pieces {
                    let op = match (i, text) {
                        (0, true) => OpCode::Text,
                        (0, false) => OpCode::Binary,
                        _ => OpCode::Continuation,
                    };
                    let chunk = Bytes::copy_from_slice(&data[bounds[i]..bounds[i + 1]]);
                    put(Frame::new(op, chunk).with_fin(i + 1 == pieces), &mut wire);
                    if *ping_between && i + 1 < pieces {
                        put(Frame::new(OpCode::Ping, "between"), &mut wire);
                    }
                }
            }
            Step::Ping(p) => put(Frame::new(OpCode::Ping, p.clone()), &mut wire),
            Step::Pong(p) => put(Frame::new(OpCode::Pong, p.clone()), &mut wire),
        }
    }
    wire.to_vec()
}

fn run(wire: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>) {
    let mut server = Connection::server(Config::default());
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        let cut = cut.clamp(at, wire.len());
        server.handle_bytes(&wire[at..cut]).unwrap();
        at = cut;
    }
    let events = std::iter::from_fn(|| server.poll_event()).collect();
    let out = std::iter::from_fn(|| server.poll_transmit())
        .flatten()
        .collect();
    (events, out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_split_gives_the_same_events(steps in proptest::collection::vec(step(), 1..8), mut cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20)) {
        let wire = encode(&steps);
        let whole = run(&wire, &[]);
        let mut cuts: Vec<usize> = cuts.drain(..).map(|i| i.index(wire.len() + 1)).collect();
        cuts.sort_unstable();
        let split = run(&wire, &cuts);
        prop_assert_eq!(&whole.0, &split.0);
        let messages = steps.iter().filter(|s| matches!(s, Step::Message { .. })).count();
        let data_events = whole.0.iter().filter(|e| matches!(e, Event::Text(_) | Event::Binary(_))).count();
        prop_assert_eq!(messages, data_events);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_events(steps in proptest::collection::vec(step(), 1..4)) {
        let wire = encode(&steps);
        let every: Vec<usize> = (1..wire.len()).collect();
        prop_assert_eq!(run(&wire, &[]).0, run(&wire, &every).0);
    }

    #[test]
    fn any_split_fails_the_same_way_on_invalid_text(
        steps in proptest::collection::vec(step(), 0..4),
        text in "\\PC{0,40}",
        bad in prop::sample::select(vec![&b"\xff"[..], b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90"]),
        at in any::<prop::sample::Index>(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        // RFC 6455 §8.1: invalid text fails the connection (1007), wherever the reads split,
        // in the read that brings the first byte no continuation can make valid (fail fast,
        // Autobahn 6.4.x), even when that read ends inside the frame.
        let mut at = at.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mut data = text.into_bytes();
        data.splice(at..at, bad.iter().copied());
        let decisive = (1..=data.len())
            .find(|&end| matches!(std::str::from_utf8(&data[..end]), Err(e) if e.error_len().is_some()))
            .expect("the inserted bytes are invalid")
            - 1;
        let payload_len = data.len();
        let mut wire = encode(&steps);
        let mut frame = BytesMut::new();
        Frame::new(OpCode::Text, data).with_mask(Some([1, 2, 3, 4])).encode(&mut frame);
        wire.extend_from_slice(&frame);
        let decisive = wire.len() - payload_len + decisive;
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        cuts.sort_unstable();
        let mut server = Connection::server(Config::default());
        let mut at = 0;
        let mut errors = Vec::new();
        for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
            if let Err(e) = server.handle_bytes(&wire[at..cut]) {
                prop_assert!((at..cut).contains(&decisive), "failed in read {:?}, not at {}", at..cut, decisive);
                errors.push(e);
            }
            at = cut;
        }
        prop_assert_eq!(errors, vec![Error::InvalidUtf8]);
        let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
        prop_assert_eq!(events, run(&encode(&steps), &[]).0);
    }
}
