//! Property tests: any split of the input parses like the whole (requests and
//! responses, valid or mangled, under tight limits), plain HTTP requests read the head
//! as the handshake does, and the client and server sides accept each other.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use ws_handshake::{
    parse_http_request, parse_request, parse_response, ClientRequest, Error, Limits, Malformed,
    Reply,
};

const RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
const REFUSAL: &str = "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!";

#[derive(Debug, Clone)]
enum Edit {
    Replace(Index, u8),
    Delete(Index),
    Insert(Index, u8, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = select(vec![
        b' ', b'\r', b'\n', b':', b',', b';', b'=', b'"', b'?', b'#', b'/', b'a', b'Z', b'0',
        b'\t', 0, 0x7f, 0xe9, 0xff,
    ]);
    prop_oneof![
        (any::<Index>(), byte.clone()).prop_map(|(i, b)| Edit::Replace(i, b)),
        any::<Index>().prop_map(Edit::Delete),
        (any::<Index>(), byte, 1usize..300).prop_map(|(i, b, n)| Edit::Insert(i, b, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        if bytes.is_empty() {
            break;
        }
        match e {
            Edit::Replace(i, b) => {
                let at = i.index(bytes.len());
                bytes[at] = *b;
            }
            Edit::Delete(i) => {
                bytes.remove(i.index(bytes.len()));
            }
            Edit::Insert(i, b, n) => {
                let at = i.index(bytes.len());
                bytes.splice(at..at, std::iter::repeat(*b).take(*n));
            }
        }
    }
    bytes
}

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (16usize..700, 0usize..16, 0usize..80).prop_map(|(head, headers, target)| {
            Limits::default()
                .with_max_head_size(head)
                .with_max_headers(headers)
                .with_max_target_len(target)
                .with_max_body_size(3)
        }),
    ]
}

fn request_seed() -> impl Strategy<Value = Vec<u8>> {
    select(vec![
        RFC_REQUEST.as_bytes().to_vec(),
        CHROMIUM.to_vec(),
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec(),
    ])
}

/// Whatever `parse` says about the whole input, every prefix says "need more" or the
/// same thing; and feeding a prefix then the whole (what a server does) ends the same.
fn assert_splits_agree<T: PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, ws_handshake::Error>,
) -> Result<(), TestCaseError> {
    let whole = parse(bytes);
    if let Ok(Some((_, n))) = &whole {
        prop_assert!(*n <= bytes.len());
    }
    for k in 0..bytes.len() {
        let part = parse(&bytes[..k]);
        match (&part, &whole) {
            (Ok(None), _) => {}
            (Ok(Some((_, n))), Ok(Some((_, m)))) => {
                prop_assert_eq!(n, m, "prefix {} consumed differently", k);
                prop_assert!(*n <= k);
                prop_assert_eq!(&part, &whole);
            }
            _ => prop_assert_eq!(&part, &whole, "prefix {} disagrees", k),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_splits_agree(
        seed in request_seed(),
        edits in prop::collection::vec(edit(), 0..4),
        limits in limits(),
    ) {
        let bytes = apply(seed, &edits);
        let never_past_the_limit = |b: &[u8]| {
            let r = parse_request(b, &limits);
            if let Ok(None) = r {
                // Waiting for more is only allowed below the head limit.
                assert!(b.len() < limits.max_head_size);
            }
            r
        };
        assert_splits_agree(&bytes, never_past_the_limit)?;
    }

    #[test]
    fn http_request_splits_agree_and_read_heads_like_parse_request(
        seed in prop_oneof![
            request_seed(),
            Just(b"GET /page?q=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n".to_vec()),
            Just(b"POST /send HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi".to_vec()),
        ],
        edits in prop::collection::vec(edit(), 0..4),
        limits in limits(),
    ) {
        let bytes = apply(seed, &edits);
        assert_splits_agree(&bytes, |b| parse_http_request(b, &limits))?;
        // One head reader: the same bytes are incomplete, too large or malformed for
        // both, and a handshake is also a plain request with the same fields.
        match (parse_request(&bytes, &limits), parse_http_request(&bytes, &limits)) {
            (Ok(None), plain) => prop_assert_eq!(plain, Ok(None)),
            (Ok(Some((r, n))), Ok(Some((h, m)))) => {
                prop_assert_eq!(n, m);
                prop_assert_eq!(r.as_http(), &h);
            }
            (Ok(Some(_)), plain) => prop_assert!(false, "plain parse: {:?}", plain),
            (Err(e), plain) => match e {
                Error::HeadTooLarge
                | Error::TooManyHeaders
                | Error::TargetTooLong
                | Error::Malformed(Malformed::HeaderName | Malformed::NewLine
                    | Malformed::Token | Malformed::Version) => {
                    prop_assert_eq!(plain, Err(e));
                }
                _ => {}
            },
        }
    }

    #[test]
    fn response_splits_agree(
        seed in select(vec![RESPONSE, REFUSAL]),
        edits in prop::collection::vec(edit(), 0..4),
        limits in limits(),
    ) {
        let bytes = apply(seed.as_bytes().to_vec(), &edits);
        let request = ClientRequest::new("h", "/").nonce(*b"the sample nonce").protocol("chat");
        assert_splits_agree(&bytes, |b| parse_response(b, &request, &limits))?;
    }

    #[test]
    fn valid_heads_in_any_spelling_parse(
        upper in prop::collection::vec(any::<bool>(), 64),
        ows in select(vec!["", " ", "\t", "  \t"]),
        connection in select(vec!["Upgrade", "keep-alive, Upgrade", "upgrade,  foo", "UPGRADE"]),
        rotate in 0usize..6,
    ) {
        let mut lines = vec![
            "Host: h".to_string(),
            format!("Upgrade:{ows}websocket{ows}"),
            format!("Connection:{ows}{connection}"),
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==".to_string(),
            format!("Sec-WebSocket-Version:{ows}13{ows}"),
            "Sec-WebSocket-Protocol: a ,b,,c".to_string(),
        ];
        lines.rotate_left(rotate);
        let mut head = String::from("GET /p?q HTTP/1.1\r\n");
        for line in lines {
            let (name, value) = line.split_once(':').unwrap();
            let name: String = name
                .chars()
                .zip(&upper)
                .map(|(c, u)| if *u { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect();
            head.push_str(&format!("{name}:{value}\r\n"));
        }
        head.push_str("\r\n");
        let r = request(&head);
        prop_assert_eq!(r.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        prop_assert_eq!(r.protocols().collect::<Vec<_>>(), ["a", "b", "c"]);
        prop_assert_eq!((r.path(), r.query()), ("/p", Some("q")));
        assert_splits_agree(head.as_bytes(), |b| parse_request(b, &Limits::default()))?;
    }

    #[test]
    fn client_and_server_accept_each_other(
        host in "[a-z][a-z0-9-]{0,20}(\\.[a-z]{1,8}){0,2}",
        port in prop::option::of(1u16..),
        segments in prop::collection::vec("[A-Za-z0-9._~%-]{1,12}", 0..4),
        query in prop::option::of("[A-Za-z0-9=&%+-]{0,20}"),
        offered in prop::collection::vec("[a-z][a-z0-9.-]{0,10}", 0..4),
        pick in any::<Index>(),
        deflate in any::<bool>(),
        cookie in "[ -~&&[^\"]]{0,40}",
    ) {
        let path = format!("/{}", segments.join("/"));
        let mut client = ClientRequest::new(&host, &path).header("Cookie", &cookie);
        if let Some(p) = port {
            client = client.port(p);
        }
        if let Some(q) = &query {
            client = client.query(q);
        }
        for p in &offered {
            client = client.protocol(p);
        }
        if deflate {
            client = client.extension("permessage-deflate; client_max_window_bits");
        }
        let sent = client.to_bytes().unwrap();
        let (request, n) = parse_request(&sent, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(n, sent.len());
        prop_assert_eq!(request.path(), path.as_str());
        prop_assert_eq!(request.query(), query.as_deref());
        prop_assert_eq!(request.key(), client.key());
        prop_assert_eq!(request.header("cookie"), Some(cookie.trim_matches([' ', '\t'])));
        prop_assert_eq!(request.protocols().collect::<Vec<_>>(), offered.clone());
        let expected_host = match port {
            Some(p) if p != 80 => format!("{host}:{p}"),
            _ => host.clone(),
        };
        prop_assert_eq!(request.host(), expected_host.as_str());

        let mut accept = request.accept().header("Set-Cookie", "s=1");
        let chosen = (!offered.is_empty()).then(|| offered[pick.index(offered.len())].clone());
        if let Some(c) = &chosen {
            accept = accept.protocol(c);
        }
        if deflate {
            accept = accept.extension("permessage-deflate");
        }
        let reply = accept.to_bytes().unwrap();
        match parse_response(&reply, &client, &Limits::default()) {
            Ok(Some((Reply::Accepted(a), m))) => {
                prop_assert_eq!(m, reply.len());
                prop_assert_eq!(a.protocol(), chosen.as_deref());
                prop_assert_eq!(a.extensions().count(), usize::from(deflate));
                prop_assert_eq!(a.header("set-cookie"), Some("s=1"));
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
