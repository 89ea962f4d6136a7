//! permessage-deflate (RFC 7692) through the public API: what real clients offer, what
//! the server answers in its 101, how the client checks the answer, and that both ends
//! agree on the same parameters.

mod common;

use common::*;
use proptest::prelude::*;
use ws_handshake::{
    accept_key, parse_request, parse_response, Accepted, ClientRequest, DeflateOptions,
    DeflateParams, Error, Limits, Reply, Request,
};

const NONCE: [u8; 16] = *b"the sample nonce"; // key dGhlIHNhbXBsZSBub25jZQ==

/// RFC_REQUEST offering `offers` (a `Sec-WebSocket-Extensions` value).
fn offering(offers: &str) -> Request {
    request(&with_line(
        "Sec-WebSocket-Version",
        &format!("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {offers}"),
    ))
}

/// The `Sec-WebSocket-Extensions` of the 101 the server sends under `options`.
fn answered(request: &Request, options: &DeflateOptions) -> Option<String> {
    let reply = Wire::read(&request.accept().deflate(options).to_bytes().unwrap());
    assert_eq!(reply.status, 101);
    reply.get("Sec-WebSocket-Extensions").map(str::to_owned)
}

/// A 101 for a client with NONCE, carrying `extensions`.
fn answer(extensions: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n",
        accept_key("dGhlIHNhbXBsZSBub25jZQ==")
    )
}

fn client_reads(client: &ClientRequest, bytes: &[u8]) -> Result<Accepted, Error> {
    match parse_response(bytes, client, &Limits::default())? {
        Some((Reply::Accepted(a), n)) => {
            assert_eq!(n, bytes.len());
            Ok(a)
        }
        other => panic!("{other:?}"),
    }
}

// --- what real clients send ---

#[test]
fn chromium_offer() {
    // Chromium 124 (tests/chromium.http): `permessage-deflate; client_max_window_bits`.
    let (r, _) = parse_request(CHROMIUM, &Limits::default())
        .unwrap()
        .unwrap();
    let a = r.negotiate_deflate(&DeflateOptions::default()).unwrap();
    assert_eq!(
        a.to_string(),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    );
    assert_eq!(
        a.params(),
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 12,
            client_max_window_bits: 12,
        }
    );
}

#[test]
fn firefox_offer() {
    // Firefox 126 sends the bare name: the client's window cannot be limited (RFC 7692
    // §7.1.2.2: without the parameter in the offer the answer "MUST NOT include" it).
    let r = offering("permessage-deflate");
    assert_eq!(
        answered(&r, &DeflateOptions::default()).as_deref(),
        Some("permessage-deflate; server_max_window_bits=12")
    );
    let p = r
        .negotiate_deflate(&DeflateOptions::default())
        .unwrap()
        .params();
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (12, 15)
    );
}

#[test]
fn node_ws_offer() {
    // Node's `ws` (PerMessageDeflate.offer() with its defaults) sends what Chromium does.
    let r = offering("permessage-deflate; client_max_window_bits");
    let options = DeflateOptions::default()
        .with_server_max_window_bits(15)
        .with_client_max_window_bits(15);
    // Everything at 15: the bare answer, which is also what `ws` answers by default.
    assert_eq!(
        answered(&r, &options).as_deref(),
        Some("permessage-deflate")
    );
}

#[test]
fn python_websockets_offers() {
    // Python `websockets` clients send `permessage-deflate; client_max_window_bits` by
    // default; configured as its docs suggest (ClientPerMessageDeflateFactory with
    // server_max_window_bits and client_max_window_bits) they send both with values.
    let r = offering("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12");
    let options = DeflateOptions::default()
        .with_server_max_window_bits(15)
        .with_client_max_window_bits(15);
    // §7.1.2.1: the server's window "with the same or smaller value as the offer";
    // §7.1.2.2: the client's hint is answered as is.
    assert_eq!(
        answered(&r, &options).as_deref(),
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
    );
    let small = DeflateOptions::default()
        .with_server_max_window_bits(10)
        .with_client_max_window_bits(9);
    assert_eq!(
        answered(&r, &small).as_deref(),
        Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9")
    );
}

#[test]
fn python_websockets_server_answer_is_accepted() {
    // What a `websockets` server answers by default (server_max_window_bits=12,
    // client_max_window_bits=12) to a browser-like offer.
    let client = ClientRequest::new("h", "/")
        .nonce(NONCE)
        .deflate(DeflateParams::default());
    let a = client_reads(
        &client,
        answer("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
            .as_bytes(),
    )
    .unwrap();
    let p = a.deflate().unwrap();
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (12, 12)
    );
}

// --- the server side ---

#[test]
fn several_offers_the_first_acceptable_wins() {
    // RFC 7692 §5: "An element preceding another element has higher preference. It is
    // recommended that a server accepts PMCEs with higher preference if the server
    // supports them."
    let r = offering(
        "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10; \
         client_max_window_bits, permessage-deflate",
    );
    let full = DeflateOptions::default()
        .with_server_max_window_bits(15)
        .with_client_max_window_bits(15);
    assert_eq!(
        answered(&r, &full).as_deref(),
        Some("permessage-deflate; server_max_window_bits=10")
    );
    // Offers spread over several header fields are read in order too.
    let r = request(&with_line(
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; mux\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover",
    ));
    assert_eq!(
        answered(&r, &full).as_deref(),
        Some("permessage-deflate; client_no_context_takeover")
    );
}

#[test]
fn invalid_offers_are_declined_not_refused() {
    // RFC 7692 §5: "A server MUST decline an extension negotiation offer for this
    // extension if [...]": an unknown parameter, an invalid value, a repeated
    // parameter. Declining leaves the handshake valid: a plain 101.
    for offers in [
        "permessage-deflate; foo=1",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=\"16\"",
        "permessage-deflate; server_no_context_takeover=true",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=9; Server_Max_Window_Bits=9",
    ] {
        let r = offering(offers);
        assert_eq!(
            r.negotiate_deflate(&DeflateOptions::default()),
            None,
            "{offers}"
        );
        let accept = r.accept().deflate(&DeflateOptions::default());
        assert_eq!(accept.deflate_params(), None);
        assert_eq!(answered(&r, &DeflateOptions::default()), None, "{offers}");
    }
    // Followed by a valid offer, the valid one is taken.
    let r = offering("permessage-deflate; foo, permessage-deflate; server_no_context_takeover");
    let p = r
        .negotiate_deflate(&DeflateOptions::default())
        .unwrap()
        .params();
    assert!(p.server_no_context_takeover);
}

#[test]
fn quoted_window_bits_are_accepted() {
    // RFC 6455 §9.1: `extension-param = token [ "=" (token | quoted-string) ]`, and the
    // unquoted value "MUST conform to the 'token' ABNF"; RFC 7692 §7.1.2.1 then reads it
    // as the window size.
    let r =
        offering(r#"permessage-deflate; server_max_window_bits="10"; client_max_window_bits="8""#);
    let p = r
        .negotiate_deflate(&DeflateOptions::default())
        .unwrap()
        .params();
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (10, 8)
    );
}

#[test]
fn window_bits_edges() {
    let full = DeflateOptions::default()
        .with_server_max_window_bits(15)
        .with_client_max_window_bits(15);
    for bits in [8, 15] {
        let r = offering(&format!(
            "permessage-deflate; server_max_window_bits={bits}; client_max_window_bits={bits}"
        ));
        let p = r.negotiate_deflate(&full).unwrap().params();
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (bits, bits)
        );
    }
    let tiny = DeflateOptions::default()
        .with_server_max_window_bits(8)
        .with_client_max_window_bits(8);
    let r = offering("permessage-deflate; client_max_window_bits");
    assert_eq!(
        answered(&r, &tiny).as_deref(),
        Some("permessage-deflate; server_max_window_bits=8; client_max_window_bits=8")
    );
}

#[test]
fn the_server_adds_no_context_takeover() {
    // RFC 7692 §7.1.1.1 and §7.1.1.2: the server MAY include either parameter in its
    // answer although the offer did not.
    let options = DeflateOptions::default()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true);
    let r = offering("permessage-deflate; client_max_window_bits");
    assert_eq!(
        answered(&r, &options).as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=12"
        )
    );
}

#[test]
fn the_answer_keeps_its_place_among_other_extensions() {
    let r = offering("x-a, permessage-deflate, x-b");
    let full = DeflateOptions::default().with_server_max_window_bits(15);
    let cases = [
        (r.accept().deflate(&full), "permessage-deflate"),
        (
            r.accept().extension("x-a").deflate(&full),
            "x-a, permessage-deflate",
        ),
        (
            r.accept().deflate(&full).extension("x-b"),
            "permessage-deflate, x-b",
        ),
        (
            r.accept().extension("x-a").deflate(&full).extension("x-b"),
            "x-a, permessage-deflate, x-b",
        ),
    ];
    for (accept, expected) in cases {
        let w = Wire::read(&accept.to_bytes().unwrap());
        assert_eq!(w.get("Sec-WebSocket-Extensions"), Some(expected));
    }
    // Negotiating again replaces the answer; no offer, no header.
    let plain = offering("x-a");
    let w = Wire::read(&plain.accept().deflate(&full).to_bytes().unwrap());
    assert_eq!(w.get("Sec-WebSocket-Extensions"), None);
    let twice = r
        .accept()
        .deflate(&full)
        .deflate(&full.with_server_no_context_takeover(true));
    let w = Wire::read(&twice.to_bytes().unwrap());
    assert_eq!(
        w.get("Sec-WebSocket-Extensions"),
        Some("permessage-deflate; server_no_context_takeover")
    );
}

// --- the client side ---

#[test]
fn client_offers_like_a_browser() {
    let bytes = ClientRequest::new("h", "/")
        .deflate(DeflateParams::default())
        .to_bytes()
        .unwrap();
    let w = String::from_utf8(bytes).unwrap();
    assert!(
        w.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
    );
    let bad = ClientRequest::new("h", "/").deflate(DeflateParams {
        client_max_window_bits: 16,
        ..DeflateParams::default()
    });
    assert_eq!(bad.to_bytes(), Err(Error::InvalidOffer));
}

#[test]
fn client_fails_bad_answers() {
    // RFC 7692 §5: "A client MUST _Fail the WebSocket Connection_ if the peer server
    // accepted an extension negotiation offer for this extension with an extension
    // negotiation response meeting any of the following conditions".
    let client = ClientRequest::new("h", "/")
        .nonce(NONCE)
        .deflate(DeflateParams {
            server_max_window_bits: 12,
            ..DeflateParams::default()
        });
    let plain = ClientRequest::new("h", "/")
        .nonce(NONCE)
        .extension("permessage-deflate");
    for (client, extensions, err) in [
        (
            &client,
            "permessage-deflate; x=1",
            Error::DeflateUnknownParam,
        ),
        (
            &client,
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            Error::DeflateDuplicateParam,
        ),
        (
            &client,
            "permessage-deflate; server_max_window_bits=0",
            Error::DeflateInvalidValue,
        ),
        (
            &client,
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=16",
            Error::DeflateInvalidValue,
        ),
        // §7.1.2.1: a server window above the one asked for, or none (15).
        (
            &client,
            "permessage-deflate; server_max_window_bits=13",
            Error::DeflateNotAsOffered,
        ),
        (&client, "permessage-deflate", Error::DeflateNotAsOffered),
        // §7.1.2.2: client_max_window_bits the client did not offer.
        (
            &plain,
            "permessage-deflate; client_max_window_bits=10",
            Error::DeflateNotAsOffered,
        ),
        // §5: two answers would both use RSV1.
        (
            &plain,
            "permessage-deflate, permessage-deflate",
            Error::DeflateAcceptedTwice,
        ),
        // RFC 6455 §4.1 item 5 still comes first for what was never offered.
        (&plain, "x-other", Error::UnexpectedExtension),
    ] {
        let got = client_reads(client, answer(extensions).as_bytes());
        assert_eq!(got.unwrap_err(), err, "{extensions}");
        assert_eq!(err.status(), 502);
    }
    // A second answer in a second header field is caught too.
    let split = answer("permessage-deflate").replace(
        "\r\n\r\n",
        "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    );
    assert_eq!(
        client_reads(&plain, split.as_bytes()).unwrap_err(),
        Error::DeflateAcceptedTwice
    );
}

#[test]
fn no_answer_means_no_compression() {
    let client = ClientRequest::new("h", "/")
        .nonce(NONCE)
        .deflate(DeflateParams::default());
    let bytes = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(client.key())
    );
    assert_eq!(
        client_reads(&client, bytes.as_bytes()).unwrap().deflate(),
        None
    );
}

// --- both sides ---

/// The client's offer goes through the server and back; both must hold the same
/// parameters, within what each asked for.
fn round_trip(offer: DeflateParams, options: &DeflateOptions) -> DeflateParams {
    let client = ClientRequest::new("server.example.com", "/chat")
        .nonce(NONCE)
        .deflate(offer);
    let sent = client.to_bytes().unwrap();
    let (server_view, _) = parse_request(&sent, &Limits::default()).unwrap().unwrap();
    let accept = server_view.accept().deflate(options);
    let server = accept.deflate_params().expect("a valid offer is accepted");
    let reply = accept.to_bytes().unwrap();
    let client_side = client_reads(&client, &reply).unwrap().deflate();
    assert_eq!(client_side, Some(server), "{offer:?} {options:?}");
    server
}

#[test]
fn round_trip_of_the_usual_offers() {
    let p = round_trip(DeflateParams::default(), &DeflateOptions::default());
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (12, 12)
    );
    let p = round_trip(
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: 10,
        },
        &DeflateOptions::default(),
    );
    assert_eq!(
        p,
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: 10,
        }
    );
}

fn bits() -> impl Strategy<Value = u8> {
    8u8..=15
}

prop_compose! {
    fn any_offer()(snct: bool, cnct: bool, s in bits(), c in bits()) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: s,
            client_max_window_bits: c,
        }
    }
}

prop_compose! {
    fn any_options()(snct: bool, cnct: bool, s in 0u8..=20, c in 0u8..=20) -> DeflateOptions {
        DeflateOptions::default()
            .with_server_max_window_bits(s)
            .with_client_max_window_bits(c)
            .with_server_no_context_takeover(snct)
            .with_client_no_context_takeover(cnct)
    }
}

proptest! {
    #[test]
    fn both_sides_agree_within_what_each_asked(offer in any_offer(), options in any_options()) {
        let p = round_trip(offer, &options);
        // Never a larger window than either side asked for, and never less than 8.
        prop_assert!(p.server_max_window_bits >= 8 && p.client_max_window_bits >= 8);
        prop_assert!(p.server_max_window_bits <= offer.server_max_window_bits);
        prop_assert!(p.server_max_window_bits <= options.server_max_window_bits.max(8));
        prop_assert!(p.client_max_window_bits <= offer.client_max_window_bits);
        prop_assert!(p.client_max_window_bits <= options.client_max_window_bits.max(8));
        // What was asked for no context takeover is granted; nothing else is invented.
        prop_assert_eq!(
            p.server_no_context_takeover,
            offer.server_no_context_takeover || options.server_no_context_takeover
        );
        prop_assert_eq!(
            p.client_no_context_takeover,
            offer.client_no_context_takeover || options.client_no_context_takeover
        );
    }
}
