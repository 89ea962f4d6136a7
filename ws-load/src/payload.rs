//! What a run sends: one fixed payload, or a pool of varying JSON documents, each built
//! into a masked request frame once (compressed once per window size where
//! permessage-deflate is agreed) and written from those bytes for every message.

use ws_codec::{Config, Connection, Deflate};

/// Documents in a `--json` pool: enough that a compressor cannot learn one message.
pub(crate) const POOL: usize = 64;

/// The key every request frame is masked with.
pub(crate) const MASK: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

/// The payloads of a run, in the order connections cycle through them.
pub(crate) fn payloads(size: usize, json: bool) -> Vec<Vec<u8>> {
    if !json {
        // Text payloads stay valid UTF-8: a run of ASCII letters.
        return vec![(0..size).map(|i| b'a' + (i % 26) as u8).collect()];
    }
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    (0..POOL)
        .map(|_| {
            let target = size * 3 / 4 + rng.below(size / 2 + 1);
            document(&mut rng, target).into_bytes()
        })
        .collect()
}

/// One masked frame per payload: plain, or compressed with a client window of
/// `window_bits` (each message on its own, valid with and without context takeover).
pub(crate) fn frames(payloads: &[Vec<u8>], binary: bool, window_bits: Option<u8>) -> Vec<Vec<u8>> {
    payloads
        .iter()
        .map(|p| match window_bits {
            None => crate::wire::request_frame(binary, p, MASK),
            Some(bits) => compressed_frame(binary, p, bits),
        })
        .collect()
}

/// `payload` as a client sends it under permessage-deflate, through ws-codec itself: a
/// fresh client connection per message, so no message refers to another's window.
fn compressed_frame(binary: bool, payload: &[u8], bits: u8) -> Vec<u8> {
    let deflate = Deflate::default()
        .with_client_max_window_bits(bits)
        .with_client_no_context_takeover(true)
        // zlib's default level, which browsers compress with.
        .with_level(6)
        .with_threshold(0);
    let config = Config::default()
        .with_max_message_size(usize::MAX)
        .with_deflate(Some(deflate));
    let mut conn = Connection::client(config, || MASK);
    let sent = if binary {
        conn.send_binary(payload)
    } else {
        // Payloads are built from ASCII: always valid UTF-8.
        conn.send_text(std::str::from_utf8(payload).expect("payloads are UTF-8"))
    };
    sent.expect("a new connection accepts a message");
    std::iter::from_fn(|| conn.poll_transmit())
        .flat_map(|b| b.to_vec())
        .collect()
}

/// A JSON document of about `target` bytes shaped like a trading feed's update: a header,
/// a user, then orders until the target is reached. Names, numbers and lengths vary.
fn document(rng: &mut XorShift, target: usize) -> String {
    const SYMBOLS: &[&str] = &[
        "AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "TSLA", "META", "AMD",
    ];
    const USERS: &[&str] = &[
        "mira_k", "j.okafor", "sven", "li.wei", "ana-p", "tomasz", "noor",
    ];
    const STATUS: &[&str] = &["new", "partially_filled", "filled", "cancelled", "rejected"];
    const WORDS: &[&str] = &[
        "limit",
        "rebalance",
        "hedge",
        "close",
        "open",
        "roll",
        "stop",
        "trail",
        "basket",
    ];
    let mut s = format!(
        "{{\"type\":\"orders\",\"seq\":{},\"ts\":\"2026-12-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\
         \"venue\":\"{}\",\"user\":{{\"id\":{},\"name\":\"{}\",\"verified\":{}}},\"orders\":[",
        rng.below(10_000_000),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000),
        ["XNAS", "XNYS", "BATS", "ARCX"][rng.below(4)],
        rng.below(100_000),
        USERS[rng.below(USERS.len())],
        rng.below(2) == 0,
    );
    let mut first = true;
    while s.len() + 2 < target || first {
        if !first {
            s.push(',');
        }
        first = false;
        s.push_str(&format!(
            "{{\"id\":\"o-{:06x}\",\"symbol\":\"{}\",\"side\":\"{}\",\"price\":{}.{:02},\
             \"qty\":{},\"status\":\"{}\",\"note\":\"{} {}\"}}",
            rng.below(1 << 24),
            SYMBOLS[rng.below(SYMBOLS.len())],
            if rng.below(2) == 0 { "buy" } else { "sell" },
            50 + rng.below(900),
            rng.below(100),
            100 * (1 + rng.below(50)),
            STATUS[rng.below(STATUS.len())],
            WORDS[rng.below(WORDS.len())],
            WORDS[rng.below(WORDS.len())],
        ));
    }
    s.push_str("]}");
    s
}

/// A small deterministic generator: every run sends the same documents.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use ws_codec::{Event, Role};

    #[test]
    fn json_documents_vary_around_the_size_and_parse() {
        for size in [1024, 16 << 10] {
            let docs = payloads(size, true);
            assert_eq!(docs.len(), POOL);
            for d in &docs {
                assert!(
                    d.len() >= size * 3 / 4 && d.len() <= size * 5 / 4 + 200,
                    "{}",
                    d.len()
                );
                let text = std::str::from_utf8(d).unwrap();
                assert!(text.starts_with("{\"type\":\"orders\"") && text.ends_with("]}"));
                assert_eq!(text.matches('{').count(), text.matches('}').count());
            }
            let distinct: std::collections::HashSet<_> = docs.iter().collect();
            assert_eq!(distinct.len(), POOL);
        }
        assert_eq!(payloads(20, false), vec![b"abcdefghijklmnopqrst".to_vec()]);
    }

    #[test]
    fn compressed_frames_inflate_to_the_document_under_every_window() {
        let docs = payloads(2048, true);
        for bits in [9, 12, 15] {
            for (doc, frame) in docs.iter().zip(frames(&docs, false, Some(bits))) {
                assert!(
                    frame.len() * 3 < doc.len() * 2,
                    "JSON compresses: {}",
                    frame.len()
                );
                let deflate = Deflate::default().with_client_max_window_bits(bits);
                let mut server = Connection::server(Config::default().with_deflate(Some(deflate)));
                server.handle_buf(BytesMut::from(&frame[..])).unwrap();
                match server.poll_event() {
                    Some(Event::Text(t)) => assert_eq!(t.as_bytes(), &doc[..]),
                    other => panic!("{other:?}"),
                }
            }
        }
        let plain = frames(&docs[..1], false, None);
        let mut dec = ws_codec::Decoder::new(Role::Server).with_max_frame_size(1 << 20);
        let frame = dec
            .decode(&mut BytesMut::from(&plain[0][..]))
            .unwrap()
            .unwrap();
        assert_eq!(&frame.payload()[..], &docs[0][..]);
    }
}
