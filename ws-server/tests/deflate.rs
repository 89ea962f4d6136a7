//! permessage-deflate through the server (RFC 7692): negotiated in the 101,
//! messages inflated on the way in and compressed on the way out, the
//! inflated size held to `max_message_size`; on both bridges.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{builder, start_with, wait_close, wait_connect, Bridge, WAIT};
use ws_codec::{CloseCode, Event};
use ws_handshake::{ClientRequest, DeflateParams, Limits, Reply};
use ws_server::{ServerBuilder, DEFAULT_DEFLATE};

/// A client that offered permessage-deflate, its codec, and what the server agreed to.
struct Client {
    tcp: TcpStream,
    codec: ws_codec::Connection,
    agreed: Option<DeflateParams>,
}

impl Client {
    fn connect(
        builder: ServerBuilder,
    ) -> (
        ws_server::Server,
        std::sync::mpsc::Receiver<common::Ev>,
        Client,
    ) {
        let (server, rx) = start_with(builder);
        let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let request = ClientRequest::new("localhost", "/").deflate(DeflateParams::default());
        tcp.write_all(&request.to_bytes().unwrap()).unwrap();
        let (mut head, mut chunk) = (Vec::new(), [0u8; 4096]);
        let (agreed, rest) = loop {
            let n = tcp.read(&mut chunk).unwrap();
            assert!(n > 0, "the server closed before its 101");
            head.extend_from_slice(&chunk[..n]);
            if let Some((reply, used)) =
                ws_handshake::parse_response(&head, &request, &Limits::default()).unwrap()
            {
                let Reply::Accepted(accepted) = reply else {
                    panic!("refused");
                };
                break (accepted.deflate(), head[used..].to_vec());
            }
        };
        let config = ws_codec::Config::default().with_deflate(agreed.map(|p| {
            ws_codec::Deflate::default()
                .with_server_max_window_bits(p.server_max_window_bits)
                .with_client_max_window_bits(p.client_max_window_bits)
                .with_server_no_context_takeover(p.server_no_context_takeover)
                .with_client_no_context_takeover(p.client_no_context_takeover)
        }));
        let mut codec = ws_codec::Connection::client(config, || [3, 1, 4, 1]);
        codec.handle_bytes(&rest).unwrap();
        (server, rx, Client { tcp, codec, agreed })
    }

    /// Sends what the codec queued; returns the first byte of the first frame.
    fn flush(&mut self) -> u8 {
        let mut first = None;
        while let Some(b) = self.codec.poll_transmit() {
            first.get_or_insert(b[0]);
            self.tcp.write_all(&b).unwrap();
        }
        first.unwrap_or(0)
    }

    /// The next event, and whether its first frame had RSV1 (compressed).
    fn next(&mut self) -> (Event, bool) {
        let mut chunk = [0u8; 65536];
        let mut rsv1 = None;
        let end = common::deadline();
        loop {
            if let Some(ev) = self.codec.poll_event() {
                return (ev, rsv1.unwrap_or(false));
            }
            common::check(end, "an event from the server");
            let n = self.tcp.read(&mut chunk).unwrap();
            assert!(n > 0, "the server closed");
            rsv1.get_or_insert(chunk[0] & 0x40 != 0);
            let _ = self.codec.handle_bytes(&chunk[..n]);
        }
    }
}

fn text(n: usize) -> String {
    "{\"user\":\"ada\",\"says\":\"hello, world\"} ".repeat(n)
}

on_both_bridges!(rfc7692_an_offer_is_agreed_and_messages_travel_compressed_both_ways);
fn rfc7692_an_offer_is_agreed_and_messages_travel_compressed_both_ways(bridge: Bridge) {
    let (_server, _rx, mut c) =
        Client::connect(builder(bridge).permessage_deflate(Some(DEFAULT_DEFLATE)));
    let agreed = c.agreed.expect("the server agreed to permessage-deflate");
    assert!(agreed.server_no_context_takeover && agreed.client_no_context_takeover);
    for n in [2, 40, 2000] {
        c.codec.send_text(&text(n)).unwrap();
        assert_eq!(c.flush() & 0x40, 0x40, "RSV1: the client compressed");
        let (ev, compressed) = c.next();
        assert_eq!(ev, Event::Text(text(n).into()));
        assert!(compressed, "the echo of {n} copies came back compressed");
    }
    // Under the 64-byte threshold a message goes out as it is.
    c.codec.send_text("hi").unwrap();
    c.flush();
    assert_eq!(c.next(), (Event::Text("hi".into()), false));
}

on_both_bridges!(rfc7692_without_the_extension_an_offer_is_declined);
fn rfc7692_without_the_extension_an_offer_is_declined(bridge: Bridge) {
    let (_server, _rx, mut c) = Client::connect(builder(bridge));
    assert_eq!(c.agreed, None);
    c.codec.send_text(&text(10)).unwrap();
    assert_eq!(c.flush() & 0x40, 0, "nothing agreed, nothing compressed");
    assert_eq!(c.next().0, Event::Text(text(10).into()));
}

on_both_bridges!(rfc6455_7_4_1_an_inflated_message_over_the_limit_is_1009);
fn rfc6455_7_4_1_an_inflated_message_over_the_limit_is_1009(bridge: Bridge) {
    // 1 MiB of zeros compresses to about a kilobyte: a bomb for a 64 KiB limit.
    let (_server, rx, mut c) = Client::connect(
        builder(bridge)
            .permessage_deflate(Some(DEFAULT_DEFLATE))
            .max_message_size(64 * 1024),
    );
    let conn = wait_connect(&rx);
    c.codec.send_binary(vec![0u8; 1 << 20]).unwrap();
    c.flush();
    match c.next().0 {
        Event::Close(f) => assert_eq!(f.code, CloseCode::MESSAGE_TOO_BIG),
        other => panic!("expected a close, got {other:?}"),
    }
    assert_eq!(wait_close(&rx, conn.id()).1, 1009);
}

on_both_bridges!(rfc7692_a_broadcast_is_compressed_once_and_read_by_every_member);
fn rfc7692_a_broadcast_is_compressed_once_and_read_by_every_member(bridge: Bridge) {
    let (server, rx, mut c) =
        Client::connect(builder(bridge).permessage_deflate(Some(DEFAULT_DEFLATE)));
    let deflating = wait_connect(&rx);
    // tungstenite offers no extension: this member reads plain frames.
    let mut plain = common::connect(server.local_addr(), "/");
    let not_deflating = wait_connect(&rx);
    let frame = ws_server::encode_text(&text(40), Some(&DEFAULT_DEFLATE));
    assert_eq!(frame.as_bytes()[0] & 0x40, 0x40, "compressed once, here");
    deflating.send_encoded(&frame).unwrap();
    not_deflating.send_encoded(&frame).unwrap();
    assert_eq!(c.next(), (Event::Text(text(40).into()), true));
    let got = plain.read().unwrap();
    assert_eq!(got, tungstenite::Message::Text(text(40)));
    // Short messages are not worth compressing: under the threshold, plain for everyone.
    let short = ws_server::encode_text("hi", Some(&DEFAULT_DEFLATE));
    assert_eq!(short.as_bytes()[0] & 0x40, 0);
}
