//! Handshake fuzz target body: parse arbitrary bytes as a client's request and as a
//! server's answer, under the default and under tight limits, and panic if an invariant
//! breaks: a parse never claims more bytes than given or than the head limit, never
//! waits for more once the head limit is reached, gives the same answer for every split
//! of its input, and whatever it accepts or refuses turns into well-formed bytes. Any
//! request that parses also goes through permessage-deflate negotiation, whose answer
//! the client that made the same offers must accept with the same parameters.

use ws_handshake::{
    accept_key, parse_http_request, parse_request, parse_response, ClientRequest, DeflateOptions,
    DeflateParams, Error, Extension, HttpRequest, Limits, OriginPolicy, Reply, Request,
};

/// The nonce of the clients here; its key is `dGhlIHNhbXBsZSBub25jZQ==`.
const NONCE: [u8; 16] = *b"the sample nonce";

/// Server policies that reach every branch of the negotiation.
const POLICIES: [DeflateOptions; 3] = [
    DeflateOptions::DEFAULT,
    DeflateOptions::DEFAULT
        .with_server_max_window_bits(15)
        .with_client_max_window_bits(15),
    DeflateOptions::DEFAULT
        .with_server_max_window_bits(8)
        .with_client_max_window_bits(9)
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true),
];

/// Small enough that random inputs cross every limit.
const TIGHT: Limits = Limits::DEFAULT
    .with_max_head_size(256)
    .with_max_headers(8)
    .with_max_target_len(32)
    .with_max_body_size(16);

/// Parses `data` both ways, under both sets of limits.
pub fn handshake_parse(data: &[u8]) {
    let client = ClientRequest::new("server.example.com", "/chat")
        .nonce(*b"the sample nonce")
        .protocol("chat")
        .extension("permessage-deflate; client_max_window_bits");
    for limits in [Limits::default(), TIGHT] {
        let whole = parse_request(data, &limits);
        check_request(data, &limits, &whole, &client);
        splits_agree(data, &whole, |b| parse_request(b, &limits));

        let whole = parse_http_request(data, &limits);
        check_http_request(data, &limits, &whole);
        splits_agree(data, &whole, |b| parse_http_request(b, &limits));

        let whole = parse_response(data, &client, &limits);
        check_response(data, &limits, &whole);
        splits_agree(data, &whole, |b| parse_response(b, &client, &limits));
    }
}

/// The bounds every parsed head keeps: it claims no more than it was given or than the head
/// limit, its bytes are the input's, and its target and field count are within the limits.
fn check_head(data: &[u8], limits: &Limits, request: &HttpRequest, n: usize) {
    assert!(n <= data.len() && n <= limits.max_head_size, "consumed {n}");
    assert_eq!(request.as_bytes(), &data[..n]);
    assert!(request.target().len() <= limits.max_target_len);
    assert!(request.iter().count() <= limits.max_headers);
}

/// A plain HTTP request (the server's `on_http` path): the same bounds as an upgrade, and
/// every accessor is a part of the bytes it claims.
fn check_http_request(
    data: &[u8],
    limits: &Limits,
    result: &Result<Option<(HttpRequest, usize)>, Error>,
) {
    match result {
        Ok(None) => assert!(data.len() < limits.max_head_size),
        Ok(Some((request, n))) => {
            check_head(data, limits, request, *n);
            if request.version() == 1 {
                assert!(request.host().is_some(), "HTTP/1.1 without Host accepted");
            }
            let _ = (request.method(), request.query(), request.header("host"));
        }
        Err(e) => {
            let status = e.status();
            assert!((400..=599).contains(&status), "{e:?} -> {status}");
            assert!(
                e.to_bytes().starts_with(b"HTTP/1.1 "),
                "refusal is not a response"
            );
        }
    }
}

fn check_request(
    data: &[u8],
    limits: &Limits,
    result: &Result<Option<(Request, usize)>, Error>,
    client: &ClientRequest,
) {
    match result {
        Ok(None) => assert!(
            data.len() < limits.max_head_size,
            "waiting for more after {} bytes, limit {}",
            data.len(),
            limits.max_head_size
        ),
        Ok(Some((request, n))) => {
            check_head(data, limits, request.as_http(), *n);
            assert_eq!(request.key().len(), 24);
            assert!(request.path().starts_with('/'));
            let _ = (request.query(), request.host(), request.origin());
            let _ = request.headers("cookie").count();
            for policy in [
                OriginPolicy::same_host(),
                OriginPolicy::allow(["http://a"]).require_origin(),
            ] {
                if let Err(e) = policy.check(request) {
                    assert_eq!(e.status(), 403);
                }
            }
            // The plain 101 always builds, and a client whose key it was accepts it.
            let reply = request.accept().to_bytes().expect("plain 101");
            let echo = ClientRequest::new("h", "/").nonce(*b"the sample nonce");
            if request.key() == echo.key() {
                let read = parse_response(&reply, &echo, &Limits::default());
                assert!(matches!(read, Ok(Some((Reply::Accepted(_), m))) if m == reply.len()));
            }
            // Any offered subprotocol or extension can be chosen.
            if let Some(p) = request.protocols().next() {
                let r = request
                    .accept()
                    .protocol(p)
                    .to_bytes()
                    .expect("offered protocol");
                assert!(r.starts_with(b"HTTP/1.1 101 "));
            }
            if let Some(e) = request.extensions().next() {
                let name = e.name().to_owned();
                request
                    .accept()
                    .extension(&name)
                    .to_bytes()
                    .expect("offered extension");
            }
            for options in &POLICIES {
                check_deflate(request, options);
            }
        }
        Err(e) => {
            let status = e.status();
            assert!((400..=599).contains(&status), "{e:?} -> {status}");
            let bytes = e.to_bytes();
            match parse_response(&bytes, client, &Limits::default()) {
                Ok(Some((Reply::Refused(r), m))) => {
                    assert_eq!(m, bytes.len());
                    assert_eq!(r.status(), status);
                    assert_eq!(r.header("connection"), Some("close"));
                }
                other => panic!("rejection for {e:?} reads back as {other:?}"),
            }
        }
    }
}

/// An extension element written back from its parsed form (values unquoted).
fn element(e: &Extension<'_>) -> String {
    let mut s = e.name().to_owned();
    for p in e.params() {
        s.push_str("; ");
        s.push_str(p.name);
        if let Some(v) = p.value {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

fn in_range(p: &DeflateParams) -> bool {
    (8..=15).contains(&p.server_max_window_bits) && (8..=15).contains(&p.client_max_window_bits)
}

/// permessage-deflate on any parsed request: it never panics, agrees with the 101 it
/// writes, stays within the policy, and the client that sent these offers accepts the
/// answer with the same parameters.
fn check_deflate(request: &Request, options: &DeflateOptions) {
    let answer = request.negotiate_deflate(options);
    let accept = request.accept().deflate(options);
    assert_eq!(accept.deflate_params(), answer.map(|a| a.params()));
    let reply = accept.to_bytes().expect("a 101 with a deflate answer");
    let Some(answer) = answer else {
        return;
    };
    let p = answer.params();
    assert!(in_range(&p), "{p:?}");
    assert!(p.server_max_window_bits <= options.server_max_window_bits.max(8));
    assert!(p.server_no_context_takeover >= options.server_no_context_takeover);
    assert!(p.client_no_context_takeover >= options.client_no_context_takeover);

    let mut client = ClientRequest::new("h", "/").nonce(NONCE);
    for e in request.extensions() {
        client = client.extension(&element(&e));
    }
    // The server's 101 answers the request's key; give it the client's.
    let reply = String::from_utf8(reply)
        .expect("a 101 is ASCII")
        .replace(&accept_key(request.key()), &accept_key(client.key()));
    match parse_response(reply.as_bytes(), &client, &Limits::default()) {
        Ok(Some((Reply::Accepted(a), n))) => {
            assert_eq!(n, reply.len());
            assert_eq!(a.deflate(), Some(p), "{reply}");
        }
        other => panic!("the client refuses {answer}: {other:?}"),
    }
}

fn check_response(data: &[u8], limits: &Limits, result: &Result<Option<(Reply, usize)>, Error>) {
    match result {
        Ok(None) => assert!(data.len() < limits.max_head_size + limits.max_body_size),
        Ok(Some((Reply::Accepted(a), n))) => {
            assert!(*n <= data.len() && *n <= limits.max_head_size);
            assert!(matches!(a.protocol(), None | Some("chat")));
            assert!(a
                .extensions()
                .all(|e| e.name().eq_ignore_ascii_case("permessage-deflate")));
            // An accepted deflate answer was checked: one answer, values in range.
            assert_eq!(a.deflate().is_some(), a.extensions().count() == 1);
            assert!(a.deflate().iter().all(in_range));
        }
        Ok(Some((Reply::Refused(r), n))) => {
            assert!(*n <= data.len());
            assert!(r.body().len() <= limits.max_body_size);
            assert!(*n <= limits.max_head_size + r.body().len());
            assert_ne!(r.status(), 101);
        }
        Err(_) => {}
    }
}

/// Every prefix must say "need more" or exactly what the whole input said.
fn splits_agree<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    whole: &Result<Option<(T, usize)>, Error>,
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, Error>,
) {
    let points: Vec<usize> = if data.len() <= 300 {
        (0..data.len()).collect()
    } else {
        (0..32).map(|i| i * data.len() / 32).collect()
    };
    for k in points {
        let part = parse(&data[..k]);
        if part != Ok(None) {
            assert_eq!(&part, whole, "prefix of {k} bytes disagrees with the whole");
        }
    }
}

#[cfg(test)]
mod seeds {
    //! The permessage-deflate seeds reach the branches they are named for.

    use super::*;

    fn seed(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus/handshake_parse")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn client() -> ClientRequest {
        ClientRequest::new("server.example.com", "/chat")
            .nonce(NONCE)
            .extension("permessage-deflate; client_max_window_bits")
    }

    #[test]
    fn deflate_offers_skip_the_invalid_ones() {
        let (r, _) = parse_request(&seed("request_deflate_offers"), &Limits::default())
            .unwrap()
            .unwrap();
        // A repeated parameter, another extension, a leading zero, then a quoted offer.
        assert_eq!(r.extensions().count(), 5);
        let p = r
            .negotiate_deflate(&DeflateOptions::DEFAULT)
            .unwrap()
            .params();
        let expected = DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: 10,
            client_max_window_bits: 8,
        };
        assert_eq!(p, expected);
        let (r, _) = parse_request(&seed("request_deflate_python"), &Limits::default())
            .unwrap()
            .unwrap();
        let p = r.negotiate_deflate(&POLICIES[1]).unwrap().params();
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (12, 12)
        );
        assert!(p.client_no_context_takeover);
    }

    #[test]
    fn deflate_answers_are_checked() {
        let limits = Limits::default();
        let bytes = seed("response_101_deflate");
        let Ok(Some((Reply::Accepted(a), _))) = parse_response(&bytes, &client(), &limits) else {
            panic!("response_101_deflate is refused");
        };
        let expected = DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: 8,
            client_max_window_bits: 9,
        };
        assert_eq!(a.deflate(), Some(expected));
        let bytes = seed("response_bad_deflate");
        assert_eq!(
            parse_response(&bytes, &client(), &limits),
            Err(Error::DeflateInvalidValue)
        );
    }
}
