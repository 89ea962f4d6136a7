//! Large frames over real sockets: a payload read straight into the codec's
//! buffer as it arrives (the poll bridge), echoed without a copy
//! (`Conn::send_binary_bytes` / `send_text_bytes`), with every protocol rule
//! still applied to it.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::*;
use ws_codec::{Event, Frame, OpCode};
use ws_server::{Connect, Ctx, Handler, Message, Request};

/// Echoes what it receives through the shared-bytes sends.
struct SharedEcho;

impl Handler for SharedEcho {
    type State = ();

    fn on_connect(&self, _conn: &mut Ctx<'_>, _request: &Request) -> Connect<()> {
        Connect::accept(())
    }

    fn on_message(&self, conn: &mut Ctx<'_>, _state: &mut (), message: Message) {
        let _ = match message {
            Message::Text(text) => conn.send_text_bytes(text),
            Message::Binary(data) => conn.send_binary_bytes(data),
        };
    }
}

fn serve(bridge: Bridge) -> ws_server::Server {
    builder(bridge)
        .max_frame_size(1 << 20)
        .max_message_size(1 << 20)
        .serve(SharedEcho)
        .expect("serve")
}

/// A masked client frame of any length.
fn frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut dst = BytesMut::new();
    Frame::new(opcode, payload.to_vec())
        .with_mask(Some([0x11, 0x22, 0x33, 0x44]))
        .encode(&mut dst);
    dst.to_vec()
}

/// Sends `wire` in pieces of the sizes in `cuts` (cycled), pausing between
/// them so the server reads each payload in parts.
fn trickle(raw: &mut Raw, wire: &[u8], cuts: &[usize]) {
    let mut at = 0;
    for cut in cuts.iter().cycle() {
        if at == wire.len() {
            break;
        }
        let end = (at + cut).min(wire.len());
        raw.send_raw(&wire[at..end]);
        at = end;
        std::thread::sleep(Duration::from_millis(2));
    }
}

on_both_bridges!(large_frames_arriving_in_pieces_echo_whole_with_the_frames_behind_them);
fn large_frames_arriving_in_pieces_echo_whole_with_the_frames_behind_them(bridge: Bridge) {
    let server = serve(bridge);
    let mut raw = Raw::connect(server.local_addr(), b"");
    let binary: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    // Two-byte characters: the read boundaries fall inside them.
    let text = "é".repeat(35_000);
    let mut wire = frame(OpCode::Binary, &binary);
    wire.extend(frame(OpCode::Text, text.as_bytes()));
    wire.extend(frame(OpCode::Binary, &binary[..5000]));
    wire.extend(frame(OpCode::Text, b"tail"));
    trickle(&mut raw, &wire, &[1, 13, 4095, 20_000, 65_536, 7]);
    match raw.next_event() {
        Some(Event::Binary(b)) => assert!(b[..] == binary[..], "100 000 bytes, in order"),
        other => panic!("the binary echo: {other:?}"),
    }
    match raw.next_event() {
        Some(Event::Text(t)) => assert_eq!(t.as_str(), text),
        other => panic!("the text echo: {other:?}"),
    }
    match raw.next_event() {
        Some(Event::Binary(b)) => assert!(b[..] == binary[..5000]),
        other => panic!("the third echo: {other:?}"),
    }
    match raw.next_event() {
        Some(Event::Text(t)) => assert_eq!(t.as_str(), "tail"),
        other => panic!("the last echo: {other:?}"),
    }
    drop(raw);
    server.shutdown(WAIT);
}

on_both_bridges!(rfc_8_1_invalid_utf8_at_the_end_of_a_large_text_frame_fails_with_1007);
/// RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8
/// but finds that the byte stream is not, in fact, a valid UTF-8 stream, that
/// endpoint MUST _Fail the WebSocket Connection_." The bad byte arrives last,
/// in the part of the payload read straight into the codec's buffer.
fn rfc_8_1_invalid_utf8_at_the_end_of_a_large_text_frame_fails_with_1007(bridge: Bridge) {
    let server = serve(bridge);
    let mut raw = Raw::connect(server.local_addr(), b"");
    let mut text = vec![b'a'; 65_536];
    text[65_535] = 0xFF;
    let wire = frame(OpCode::Text, &text);
    trickle(&mut raw, &wire, &[16_384, 30_000]);
    assert_eq!(raw.close_code(), 1007);
    server.shutdown(WAIT);
}

on_both_bridges!(rfc_7_4_1_a_large_frame_over_the_limit_fails_with_1009_before_its_payload);
/// RFC 6455 §7.4.1: 1009 "indicates that an endpoint is terminating the
/// connection because it has received a message that is too big for it to
/// process": refused from the header, nothing of its payload is read for it.
fn rfc_7_4_1_a_large_frame_over_the_limit_fails_with_1009_before_its_payload(bridge: Bridge) {
    let server = serve(bridge);
    let mut raw = Raw::connect(server.local_addr(), b"");
    let wire = frame(OpCode::Binary, &vec![7u8; (1 << 20) + 1]);
    raw.send_raw(&wire[..16_384]);
    assert_eq!(raw.close_code(), 1009);
    server.shutdown(WAIT);
}

on_both_bridges!(large_frames_in_a_row_echo_whole_through_recycled_buffers);
/// Each frame lands in the buffer of the one before (recycled once its echo
/// is written, on the poll bridge): no byte of an earlier payload shows.
fn large_frames_in_a_row_echo_whole_through_recycled_buffers(bridge: Bridge) {
    let server = serve(bridge);
    let mut raw = Raw::connect(server.local_addr(), b"");
    for i in 0..4u8 {
        // Larger than a read of the poller's buffer (16 KiB): read in two.
        let payload: Vec<u8> = (0..65_536 - i as usize).map(|j| (j as u8) ^ i).collect();
        raw.send_raw(&frame(OpCode::Binary, &payload));
        match raw.next_event() {
            Some(Event::Binary(b)) => assert!(b[..] == payload[..], "echo {i}"),
            other => panic!("echo {i}: {other:?}"),
        }
    }
    drop(raw);
    server.shutdown(WAIT);
}
