//! The bytes on the wire, through the project's own crates: the upgrade request and the
//! check of its 101 (ws-handshake, client side), the request frame masked once and the
//! echoed frames decoded in client role (ws-codec).

use bytes::BytesMut;
use std::fmt;
use std::net::SocketAddr;
use ws_codec::{CloseCode, CloseFrame, Config, Connection, Decoder, Deflate, Frame, OpCode, Role};
use ws_handshake::{parse_response, ClientRequest, DeflateParams, Limits, Reply};

/// Why an upgrade did not give a WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UpgradeError {
    /// The answer broke RFC 6455 §4.1 or a head limit.
    Invalid(ws_handshake::Error),
    /// The server answered with another status than 101.
    Refused(u16),
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "invalid upgrade answer: {e}"),
            Self::Refused(status) => write!(f, "upgrade refused with status {status}"),
        }
    }
}

impl std::error::Error for UpgradeError {}

/// The upgrade request for `path` on `addr`, with a fresh random key (RFC 6455 §4.1),
/// offering permessage-deflate as browsers do when `deflate` (RFC 7692 §7.1: context
/// takeover both ways, `client_max_window_bits` without a value).
pub(crate) fn client_request(
    addr: SocketAddr,
    path: &str,
    deflate: bool,
) -> Result<ClientRequest, ws_handshake::Error> {
    let mut request = ClientRequest::from_url(&format!("ws://{addr}{path}"))?;
    if deflate {
        request = request.deflate(DeflateParams::DEFAULT);
    }
    // Surface a mistake building it now, not at the first connection.
    request.to_bytes()?;
    Ok(request)
}

/// A valid 101: how long its head is, and the permessage-deflate parameters it agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Upgraded {
    pub(crate) head_len: usize,
    pub(crate) deflate: Option<DeflateParams>,
}

/// Checks the answer buffered so far: `Ok(None)` while incomplete, `Ok(Some(_))` once
/// it holds a valid 101 for `request`.
pub(crate) fn check_upgrade(
    buf: &[u8],
    request: &ClientRequest,
) -> Result<Option<Upgraded>, UpgradeError> {
    match parse_response(buf, request, &Limits::DEFAULT) {
        Ok(None) => Ok(None),
        Ok(Some((Reply::Accepted(a), head_len))) => Ok(Some(Upgraded {
            head_len,
            deflate: a.deflate(),
        })),
        Ok(Some((Reply::Refused(r), _))) => Err(UpgradeError::Refused(r.status())),
        Err(e) => Err(UpgradeError::Invalid(e)),
    }
}

/// One final data frame carrying `payload`, masked with `mask` (RFC 6455 §5.2, §5.3).
pub(crate) fn request_frame(binary: bool, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let opcode = if binary { OpCode::Binary } else { OpCode::Text };
    encode(Frame::new(opcode, payload.to_vec()).with_mask(Some(mask)))
}

/// A masked close frame with status 1000, normal closure (RFC 6455 §5.5.1, §7.4.1).
pub(crate) fn close_frame(mask: [u8; 4]) -> Vec<u8> {
    let mut payload = BytesMut::new();
    CloseFrame::encode_payload(CloseCode::NORMAL, "", &mut payload);
    encode(Frame::new(OpCode::Close, payload.freeze()).with_mask(Some(mask)))
}

fn encode(frame: Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    frame.encode(&mut out);
    out.to_vec()
}

/// What the reader saw complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A whole data message: binary or text, its payload length, and the fan-out
    /// publisher's stamp at its start if it has one ([`crate::fanout`]).
    Message {
        binary: bool,
        len: u64,
        stamp: Option<u64>,
    },
    /// A ping or a pong (the load generator does not answer pings: its runs are shorter
    /// than any keep-alive interval).
    Control,
    /// A close frame: the server is ending the connection.
    Close,
}

/// Echoed frames of one connection, decoded in client role by ws-codec's [`Decoder`]
/// (only message boundaries are tracked, payloads are dropped once counted), or, under
/// permessage-deflate, by a client [`Connection`], which inflates and checks them.
#[derive(Debug)]
pub(crate) struct MessageReader {
    decoder: Decoder,
    buf: BytesMut,
    /// The data message in progress: binary?, bytes so far, its stamp.
    message: Option<(bool, u64, Option<u64>)>,
    inflating: Option<Box<Connection>>,
}

impl MessageReader {
    /// A reader accepting frames up to `max_frame` bytes.
    pub(crate) fn new(max_frame: usize) -> Self {
        Self {
            decoder: Decoder::new(Role::Client).with_max_frame_size(max_frame),
            buf: BytesMut::new(),
            message: None,
            inflating: None,
        }
    }

    /// From now on, frames are read under the permessage-deflate parameters `agreed`,
    /// messages up to `max` bytes once inflated.
    pub(crate) fn inflate(&mut self, agreed: DeflateParams, max: usize) {
        let deflate = Deflate::default()
            .with_server_max_window_bits(agreed.server_max_window_bits)
            .with_client_max_window_bits(agreed.client_max_window_bits)
            .with_server_no_context_takeover(agreed.server_no_context_takeover)
            .with_client_no_context_takeover(agreed.client_no_context_takeover);
        let config = Config::default()
            .with_max_frame_size(max)
            .with_max_message_size(max)
            .with_deflate(Some(deflate));
        self.inflating = Some(Box::new(Connection::client(config, || [0; 4])));
    }

    /// Feeds bytes read from the server, calling `on` for each completed event.
    pub(crate) fn feed(
        &mut self,
        bytes: &[u8],
        mut on: impl FnMut(Event),
    ) -> Result<(), ws_codec::Error> {
        if let Some(conn) = self.inflating.as_mut() {
            conn.handle_bytes(bytes)?;
            while let Some(event) = conn.poll_event() {
                on(match event {
                    ws_codec::Event::Text(t) => Event::Message {
                        binary: false,
                        len: t.len() as u64,
                        stamp: crate::fanout::read_stamp(t.as_bytes()),
                    },
                    ws_codec::Event::Binary(b) => Event::Message {
                        binary: true,
                        len: b.len() as u64,
                        stamp: crate::fanout::read_stamp(&b),
                    },
                    ws_codec::Event::Ping(_) | ws_codec::Event::Pong(_) => Event::Control,
                    ws_codec::Event::Close(_) => Event::Close,
                });
            }
            // Its answers (pongs, the close reply) are not sent: see `Event::Control`.
            while conn.poll_transmit().is_some() {}
            return Ok(());
        }
        self.buf.extend_from_slice(bytes);
        while let Some(frame) = self.decoder.decode(&mut self.buf)? {
            let len = frame.payload().len() as u64;
            match (frame.opcode(), self.message.as_mut()) {
                (OpCode::Close, _) => on(Event::Close),
                (OpCode::Ping | OpCode::Pong, _) => on(Event::Control),
                // RFC 6455 §5.4: fragments of one message are not interleaved with another.
                (op @ (OpCode::Text | OpCode::Binary), Some(_)) => {
                    return Err(ws_codec::Error::ExpectedContinuation(op))
                }
                (op @ (OpCode::Text | OpCode::Binary), None) => {
                    let stamp = crate::fanout::read_stamp(frame.payload());
                    self.message = Some((op == OpCode::Binary, len, stamp));
                }
                (OpCode::Continuation, Some((_, so_far, _))) => *so_far += len,
                (OpCode::Continuation, None) => {
                    return Err(ws_codec::Error::UnexpectedContinuation)
                }
            }
            if frame.fin() && !frame.opcode().is_control() {
                if let Some((binary, len, stamp)) = self.message.take() {
                    on(Event::Message { binary, len, stamp });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unmasked server frame.
    fn server_frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
        encode(Frame::new(opcode, payload.to_vec()).with_fin(fin))
    }

    fn events(bytes: &[u8], split: usize) -> Result<Vec<Event>, ws_codec::Error> {
        let mut r = MessageReader::new(1 << 20);
        let mut seen = Vec::new();
        for chunk in bytes.chunks(split.max(1)) {
            r.feed(chunk, |e| seen.push(e))?;
        }
        Ok(seen)
    }

    #[test]
    fn the_request_frame_is_what_a_server_decodes() {
        let mask = [1, 2, 3, 4];
        for (size, binary) in [(0, false), (20, false), (126, true), (70_000, true)] {
            let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
            let mut wire = BytesMut::from(&request_frame(binary, &payload, mask)[..]);
            let frame = Decoder::new(Role::Server)
                .with_max_frame_size(1 << 20)
                .decode(&mut wire)
                .unwrap()
                .unwrap();
            let op = if binary { OpCode::Binary } else { OpCode::Text };
            assert_eq!((frame.opcode(), frame.fin()), (op, true));
            assert_eq!(frame.header().mask, Some(mask));
            assert_eq!(&frame.payload()[..], &payload[..]);
            assert!(wire.is_empty());
        }
    }

    #[test]
    fn the_close_frame_says_normal_closure() {
        let mut wire = BytesMut::from(&close_frame([9, 8, 7, 6])[..]);
        let frame = Decoder::new(Role::Server)
            .decode(&mut wire)
            .unwrap()
            .unwrap();
        assert_eq!(frame.opcode(), OpCode::Close);
        let close = CloseFrame::parse(frame.into_payload()).unwrap();
        assert_eq!(close.code, CloseCode::NORMAL);
    }

    #[test]
    fn upgrade_accepts_the_handshake_crates_own_101() {
        let request =
            client_request("127.0.0.1:9001".parse().unwrap(), "/echo?x=1", false).unwrap();
        let sent = request.to_bytes().unwrap();
        assert!(sent.starts_with(b"GET /echo?x=1 HTTP/1.1\r\n"));
        let (server_view, _) = ws_handshake::parse_request(&sent, &Limits::DEFAULT)
            .unwrap()
            .unwrap();
        let answer = server_view.accept().to_bytes().unwrap();
        assert_eq!(
            check_upgrade(&answer[..answer.len() - 1], &request),
            Ok(None)
        );
        let upgraded = Upgraded {
            head_len: answer.len(),
            deflate: None,
        };
        assert_eq!(check_upgrade(&answer, &request), Ok(Some(upgraded)));
    }

    #[test]
    fn upgrade_with_deflate_gives_the_agreed_parameters_and_inflates_echoes() {
        let request = client_request("127.0.0.1:9001".parse().unwrap(), "/", true).unwrap();
        let sent = request.to_bytes().unwrap();
        let (server_view, _) = ws_handshake::parse_request(&sent, &Limits::DEFAULT)
            .unwrap()
            .unwrap();
        let options = ws_handshake::DeflateOptions::default();
        let answer = server_view.accept().deflate(&options).to_bytes().unwrap();
        let up = check_upgrade(&answer, &request).unwrap().unwrap();
        let agreed = up.deflate.expect("the server agreed");
        assert_eq!(
            agreed.client_max_window_bits,
            options.client_max_window_bits
        );

        // A compressed echo, as a server sends it under those parameters.
        let deflate = Deflate::default()
            .with_server_max_window_bits(agreed.server_max_window_bits)
            .with_threshold(0);
        let mut server = Connection::server(Config::default().with_deflate(Some(deflate)));
        let text = "{\"k\":\"v\"}".repeat(100);
        server.send_text(&text).unwrap();
        let wire: Vec<u8> = std::iter::from_fn(|| server.poll_transmit())
            .flat_map(|b| b.to_vec())
            .collect();
        assert!(
            wire[0] & 0x40 != 0 && wire.len() < text.len() / 4,
            "RSV1, compressed"
        );
        let mut r = MessageReader::new(1 << 20);
        r.inflate(agreed, 1 << 20);
        let mut seen = Vec::new();
        for chunk in wire.chunks(7) {
            r.feed(chunk, |e| seen.push(e)).unwrap();
        }
        let len = text.len() as u64;
        let stamp = None;
        assert_eq!(
            seen,
            vec![Event::Message {
                binary: false,
                len,
                stamp
            }]
        );
    }

    #[test]
    fn upgrade_errors() {
        let request = client_request("127.0.0.1:9001".parse().unwrap(), "/", false).unwrap();
        assert_eq!(
            check_upgrade(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
                &request
            ),
            Err(UpgradeError::Refused(403))
        );
        let wrong_key = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                         Connection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n";
        assert!(matches!(
            check_upgrade(wrong_key.as_bytes(), &request),
            Err(UpgradeError::Invalid(_))
        ));
        assert!(client_request("127.0.0.1:1".parse().unwrap(), "/a b", false).is_err());
    }

    #[test]
    fn reader_sees_messages_whatever_the_split() {
        let bytes = [
            server_frame(OpCode::Text, true, b"hello"),
            server_frame(OpCode::Binary, true, &[7; 300]),
            server_frame(OpCode::Ping, true, b"p"),
            server_frame(OpCode::Binary, false, &[1; 70_000]),
            server_frame(OpCode::Pong, true, b""),
            server_frame(OpCode::Continuation, true, b"xyz"),
            server_frame(OpCode::Text, true, b""),
            server_frame(OpCode::Close, true, &[3, 232]),
        ]
        .concat();
        let want = vec![
            Event::Message {
                binary: false,
                len: 5,
                stamp: None,
            },
            Event::Message {
                binary: true,
                len: 300,
                stamp: None,
            },
            Event::Control,
            Event::Control,
            Event::Message {
                binary: true,
                len: 70_003,
                stamp: None,
            },
            Event::Message {
                binary: false,
                len: 0,
                stamp: None,
            },
            Event::Close,
        ];
        for split in [1, 2, 3, 7, 13, 100, 4096, bytes.len()] {
            assert_eq!(events(&bytes, split).unwrap(), want, "split {split}");
        }
    }

    #[test]
    fn reader_rejects_what_a_client_must_not_accept() {
        let masked = encode(Frame::new(OpCode::Text, &b"hi"[..]).with_mask(Some([1, 2, 3, 4])));
        let cases: Vec<(Vec<u8>, ws_codec::Error)> = vec![
            (masked, ws_codec::Error::MaskedFrame),
            (
                server_frame(OpCode::Continuation, true, b"x"),
                ws_codec::Error::UnexpectedContinuation,
            ),
            (
                [
                    server_frame(OpCode::Text, false, b"a"),
                    server_frame(OpCode::Text, true, b"b"),
                ]
                .concat(),
                ws_codec::Error::ExpectedContinuation(OpCode::Text),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(events(&bytes, 1), Err(want.clone()));
            assert_eq!(events(&bytes, bytes.len()), Err(want));
        }
        // Frame rules beyond these are the decoder's, tested in ws-codec.
        assert!(events(&[0x83, 0x00], 2).is_err());
    }
}
