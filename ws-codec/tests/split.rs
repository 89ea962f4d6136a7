//! Property test: any split of an encoded stream gives the same events as the whole stream,
//! and the server side writes the same bytes back, which decode to the answers RFC 6455
//! requires (a pong per ping, in order; a close with the error's code).

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ws_codec::{CloseCode, Config, Connection, Error, Event, Frame, OpCode};

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

/// Feeds `wire` to a server split at `cuts`, taking what it transmits after every read (as
/// a bridge writes after each read): the events and every byte written back.
fn run(wire: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>) {
    let mut server = Connection::server(Config::default());
    let mut at = 0;
    let mut out = Vec::new();
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        let cut = cut.clamp(at, wire.len());
        server.handle_bytes(&wire[at..cut]).unwrap();
        at = cut;
        out.extend(std::iter::from_fn(|| server.poll_transmit()).flatten());
    }
    let events = std::iter::from_fn(|| server.poll_event()).collect();
    (events, out)
}

/// The server's bytes as a client reads them: they must be valid frames.
fn decode_answer(out: &[u8]) -> Vec<Event> {
    let mut client = Connection::client(Config::default(), || [0, 0, 0, 0]);
    client
        .handle_bytes(out)
        .expect("the server wrote valid server-to-client frames");
    std::iter::from_fn(|| client.poll_event()).collect()
}

/// What the server must answer to `steps`: RFC 6455 §5.5.2 "Upon receipt of a Ping frame,
/// an endpoint MUST send a Pong frame in response" with "identical "Application data""; one
/// per ping, in order (ws-codec coalesces only past 32 waiting pongs, more than `step()`
/// makes). Pongs from the client are not answered (§5.5.3).
fn expected_pongs(steps: &[Step]) -> Vec<Event> {
    let mut pongs = Vec::new();
    for step in steps {
        match step {
            Step::Message {
                cuts, ping_between, ..
            } if *ping_between => {
                for _ in 0..cuts.len() {
                    pongs.push(Event::Pong(Bytes::from_static(b"between")));
                }
            }
            Step::Ping(p) => pongs.push(Event::Pong(Bytes::copy_from_slice(p))),
            _ => {}
        }
    }
    assert!(pongs.len() <= Config::default().max_pending_pongs());
    pongs
}

/// The errors, the events and the bytes written back of one failing run.
type FailRun = (Vec<Error>, Vec<Event>, Vec<u8>);

/// Feeds `wire` split at `cuts` (the last one is the end) to a server, taking what it
/// transmits after every read; with `deferred`, the application fails the connection after
/// the reads (ws-server's configuration). The error must come in the read holding byte
/// `decisive`. Returns the errors, the events and the bytes written back.
fn fail_run(
    wire: &[u8],
    cuts: &[usize],
    deferred: bool,
    decisive: usize,
) -> Result<FailRun, TestCaseError> {
    let mut server = Connection::server(Config::default().with_deferred_failure(deferred));
    let mut at = 0;
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for &cut in cuts {
        if let Err(e) = server.handle_bytes(&wire[at..cut]) {
            prop_assert!(
                (at..cut).contains(&decisive),
                "failed in read {:?}, not at {}",
                at..cut,
                decisive
            );
            errors.push(e);
        }
        at = cut;
        out.extend(std::iter::from_fn(|| server.poll_transmit()).flatten());
    }
    let events = std::iter::from_fn(|| server.poll_event()).collect();
    if deferred {
        prop_assert_eq!(server.fail(), Ok(()));
        out.extend(std::iter::from_fn(|| server.poll_transmit()).flatten());
    }
    Ok((errors, events, out))
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
        // What the server writes back does not depend on the split either, and it is one
        // pong per ping, in order.
        prop_assert_eq!(&whole.1, &split.1);
        prop_assert_eq!(decode_answer(&split.1), expected_pongs(&steps));
        let messages = steps.iter().filter(|s| matches!(s, Step::Message { .. })).count();
        let data_events = whole.0.iter().filter(|e| matches!(e, Event::Text(_) | Event::Binary(_))).count();
        prop_assert_eq!(messages, data_events);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_events(steps in proptest::collection::vec(step(), 1..4)) {
        let wire = encode(&steps);
        let every: Vec<usize> = (1..wire.len()).collect();
        let (whole, split) = (run(&wire, &[]), run(&wire, &every));
        prop_assert_eq!(&whole.0, &split.0);
        prop_assert_eq!(&whole.1, &split.1);
        prop_assert_eq!(decode_answer(&split.1), expected_pongs(&steps));
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
        let owed = expected_pongs(&steps);
        let events_before = run(&encode(&steps), &[]).0;
        let cuts: Vec<usize> = cuts.into_iter().chain(std::iter::once(wire.len())).collect();
        let whole = [wire.len()];
        for deferred in [false, true] {
            let (errors, events, out) = fail_run(&wire, &cuts, deferred, decisive)?;
            prop_assert_eq!(errors, vec![Error::InvalidUtf8]);
            prop_assert_eq!(&events, &events_before);
            // The answer: pongs for pings before the bad frame, then a close with 1007
            // (RFC 6455 §7.4.1: "data within a message that was not consistent with the
            // type of the message (e.g., non-UTF-8 [RFC3629] data within a text message)"),
            // and nothing after it (§5.5.1: no data frames after a Close).
            let answer = decode_answer(&out);
            let (close, pongs) = answer.split_last().expect("the server wrote a close frame");
            match close {
                Event::Close(frame) => prop_assert_eq!(frame.code, CloseCode(1007)),
                other => prop_assert!(false, "expected a close frame last, got {:?}", other),
            }
            if deferred {
                // ws-server's configuration: the close waits for `fail()`, which sends the
                // waiting pongs first, so the answer is every owed pong then the close,
                // byte for byte the same however the reads split.
                prop_assert_eq!(pongs, &owed[..]);
                prop_assert_eq!(&out, &fail_run(&wire, &whole, true, decisive)?.2);
            } else {
                // Immediate failure drops the pongs still waiting (RFC 6455 §7.1.7: after
                // failing, an endpoint "MUST NOT continue to attempt to process data"): those already taken out after an earlier read went, the rest not. So
                // what is sent depends on the split; it is always a prefix of the owed
                // pongs, in order.
                prop_assert!(owed.starts_with(pongs), "pongs {:?} not a prefix of {:?}", pongs, owed);
            }
        }
    }
}
