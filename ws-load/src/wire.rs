//! The bytes on the wire: the upgrade request and its 101 check, the masked request frame,
//! and a reader that walks the server's frames without buffering their payloads.

use base64::Engine as _;
use sha1::{Digest, Sha1};
use std::fmt;

/// Something the server sent that a client must not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireError {
    /// The upgrade reply is not a well-formed HTTP/1.1 response head.
    BadResponse,
    /// The upgrade reply's status is not 101 (RFC 6455 §4.1, client step 1).
    Status(u16),
    /// No `Upgrade: websocket` in the 101 (RFC 6455 §4.1, client step 2).
    NoUpgrade,
    /// No `Connection: Upgrade` in the 101 (RFC 6455 §4.1, client step 3).
    NoConnectionUpgrade,
    /// A missing or wrong `Sec-WebSocket-Accept` (RFC 6455 §4.1, client step 4).
    BadAccept,
    /// A response head larger than this client buffers.
    ResponseTooLong,
    /// A frame from the server with the mask bit set (RFC 6455 §5.1).
    MaskedFrame,
    /// A frame with RSV bits set; no extension was negotiated (RFC 6455 §5.2).
    ReservedBits,
    /// An opcode RFC 6455 §5.2 reserves.
    ReservedOpcode(u8),
    /// A 64-bit payload length with its most significant bit set (RFC 6455 §5.2).
    LengthTooLarge,
    /// A control frame that is fragmented or longer than 125 bytes (RFC 6455 §5.5).
    BadControlFrame,
    /// A continuation frame with no message to continue (RFC 6455 §5.4).
    UnexpectedContinuation,
    /// A new data frame in the middle of a fragmented message (RFC 6455 §5.4).
    InterleavedMessage,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadResponse => write!(f, "malformed upgrade response"),
            Self::Status(s) => write!(f, "upgrade answered with status {s}, not 101"),
            Self::NoUpgrade => write!(f, "101 without `Upgrade: websocket`"),
            Self::NoConnectionUpgrade => write!(f, "101 without `Connection: Upgrade`"),
            Self::BadAccept => write!(f, "101 with a missing or wrong Sec-WebSocket-Accept"),
            Self::ResponseTooLong => write!(f, "upgrade response head too long"),
            Self::MaskedFrame => write!(f, "server sent a masked frame"),
            Self::ReservedBits => write!(f, "frame with reserved bits set"),
            Self::ReservedOpcode(o) => write!(f, "frame with reserved opcode {o:#x}"),
            Self::LengthTooLarge => write!(f, "frame length with the top bit set"),
            Self::BadControlFrame => write!(f, "fragmented or over-long control frame"),
            Self::UnexpectedContinuation => write!(f, "continuation frame outside a message"),
            Self::InterleavedMessage => write!(f, "data frame inside a fragmented message"),
        }
    }
}

impl std::error::Error for WireError {}

/// Longest upgrade response head accepted.
pub(crate) const MAX_RESPONSE: usize = 8192;

/// The GUID of RFC 6455 §1.3, appended to the key before hashing.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The upgrade request for `host` and `path` with the base64 `key` (RFC 6455 §4.1).
pub(crate) fn request(host: &str, path: &str, key: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// A fresh `Sec-WebSocket-Key`: 16 bytes, base64 (RFC 6455 §4.1). `seed` varies per connection.
pub(crate) fn key(seed: u64) -> String {
    let mut bytes = [0u8; 16];
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    for chunk in bytes.chunks_mut(8) {
        // splitmix64: a nonce, not a secret.
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_be_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The `Sec-WebSocket-Accept` value the server must answer `key` with (RFC 6455 §4.2.2).
pub(crate) fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Checks the upgrade response at the front of `buf`: `Ok(None)` while the head is
/// incomplete, `Ok(Some(n))` with its length once it is a valid 101 for `accept`.
pub(crate) fn check_response(buf: &[u8], accept: &str) -> Result<Option<usize>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_RESPONSE => {
            return Err(WireError::ResponseTooLong)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(WireError::BadResponse),
    };
    let status = resp.code.ok_or(WireError::BadResponse)?;
    if status != 101 {
        return Err(WireError::Status(status));
    }
    let has = |name: &str, token: &str| {
        resp.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case(name)
                && std::str::from_utf8(h.value)
                    .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has("upgrade", "websocket") {
        return Err(WireError::NoUpgrade);
    }
    if !has("connection", "upgrade") {
        return Err(WireError::NoConnectionUpgrade);
    }
    let accepted = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|h| h.value.trim_ascii());
    if accepted != Some(accept.as_bytes()) {
        return Err(WireError::BadAccept);
    }
    Ok(Some(len))
}

/// One final data frame with `payload`, masked with `mask` (RFC 6455 §5.2, §5.3).
pub(crate) fn masked_frame(binary: bool, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    frame(if binary { 0x2 } else { 0x1 }, payload, mask)
}

/// A masked close frame with status 1000, normal closure (RFC 6455 §5.5.1, §7.4.1).
pub(crate) fn close_frame(mask: [u8; 4]) -> Vec<u8> {
    frame(0x8, &1000u16.to_be_bytes(), mask)
}

fn frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    // RFC 6455 §5.3: octet i is XORed with octet i mod 4 of the key.
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

/// What the reader saw complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A whole data message: binary or text, and its payload length.
    Message { binary: bool, len: u64 },
    /// A ping (the load generator does not answer: its runs are shorter than any ping interval).
    Ping,
    /// A pong.
    Pong,
    /// A close frame: the server is ending the connection.
    Close,
}

/// Walks frames as their bytes arrive: keeps at most one header, skips payloads.
#[derive(Debug, Default)]
pub(crate) struct FrameReader {
    head: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to skip.
    remaining: u64,
    /// The current frame's opcode and FIN, once its header is read.
    current: Option<(u8, bool)>,
    /// The data message in progress: binary?, bytes so far.
    message: Option<(bool, u64)>,
}

impl FrameReader {
    /// Feeds the next bytes from the server, calling `on` for each completed event.
    pub(crate) fn feed(
        &mut self,
        mut buf: &[u8],
        mut on: impl FnMut(Event),
    ) -> Result<(), WireError> {
        loop {
            if let Some((opcode, fin)) = self.current {
                let skip = self.remaining.min(buf.len() as u64) as usize;
                buf = &buf[skip..];
                self.remaining -= skip as u64;
                if self.remaining > 0 {
                    return Ok(());
                }
                self.current = None;
                self.finish(opcode, fin, &mut on);
                continue;
            }
            if buf.is_empty() {
                return Ok(());
            }
            // Collect header bytes: 2, then the extended length.
            let need = match self.have {
                0 | 1 => 2,
                _ => match self.head[1] & 0x7F {
                    126 => 4,
                    127 => 10,
                    _ => 2,
                },
            };
            let take = (need - self.have).min(buf.len());
            self.head[self.have..self.have + take].copy_from_slice(&buf[..take]);
            self.have += take;
            buf = &buf[take..];
            if self.have < need {
                continue;
            }
            if need == 2 && self.head[1] & 0x7F >= 126 {
                continue; // the extended length follows
            }
            self.start_frame()?;
        }
    }

    /// Validates a complete header and starts skipping its payload.
    fn start_frame(&mut self) -> Result<(), WireError> {
        let (b0, b1) = (self.head[0], self.head[1]);
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0F;
        // RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame."
        if b1 & 0x80 != 0 {
            return Err(WireError::MaskedFrame);
        }
        // RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defines them.
        if b0 & 0x70 != 0 {
            return Err(WireError::ReservedBits);
        }
        let len = match b1 & 0x7F {
            126 => u64::from(u16::from_be_bytes([self.head[2], self.head[3]])),
            127 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&self.head[2..10]);
                let len = u64::from_be_bytes(be);
                // RFC 6455 §5.2: "the most significant bit MUST be 0".
                if len >> 63 != 0 {
                    return Err(WireError::LengthTooLarge);
                }
                len
            }
            n => u64::from(n),
        };
        match opcode {
            0x0 if self.message.is_none() => return Err(WireError::UnexpectedContinuation),
            0x1 | 0x2 if self.message.is_some() => return Err(WireError::InterleavedMessage),
            0x0..=0x2 => {}
            // RFC 6455 §5.5: control frames MUST have a payload of 125 bytes or less
            // and MUST NOT be fragmented.
            0x8..=0xA if !fin || len > 125 => return Err(WireError::BadControlFrame),
            0x8..=0xA => {}
            other => return Err(WireError::ReservedOpcode(other)),
        }
        if opcode == 0x1 || opcode == 0x2 {
            self.message = Some((opcode == 0x2, 0));
        }
        if let (0x0..=0x2, Some((_, so_far))) = (opcode, self.message.as_mut()) {
            *so_far += len;
        }
        self.have = 0;
        self.remaining = len;
        self.current = Some((opcode, fin));
        Ok(())
    }

    fn finish(&mut self, opcode: u8, fin: bool, on: &mut impl FnMut(Event)) {
        match opcode {
            0x8 => on(Event::Close),
            0x9 => on(Event::Ping),
            0xA => on(Event::Pong),
            _ if fin => {
                if let Some((binary, len)) = self.message.take() {
                    on(Event::Message { binary, len });
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unmasked server frame.
    fn server_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = frame(b0 & 0x0F, payload, [0; 4]);
        f[0] = b0;
        f[1] &= 0x7F;
        let at = f.len() - payload.len() - 4;
        f.drain(at..at + 4);
        f
    }

    fn events(bytes: &[u8], split: usize) -> Result<Vec<Event>, WireError> {
        let mut r = FrameReader::default();
        let mut seen = Vec::new();
        for chunk in bytes.chunks(split.max(1)) {
            r.feed(chunk, |e| seen.push(e))?;
        }
        Ok(seen)
    }

    #[test]
    fn rfc_example_handshake_accept() {
        // RFC 6455 §1.3's worked example.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn keys_are_16_bytes_and_differ() {
        let (a, b) = (key(1), key(2));
        assert_ne!(a, b);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&a)
            .unwrap();
        assert_eq!(raw.len(), 16);
    }

    #[test]
    fn request_has_the_required_fields() {
        let r = String::from_utf8(request("127.0.0.1:9", "/x", "K")).unwrap();
        assert!(r.starts_with("GET /x HTTP/1.1\r\n"));
        for h in [
            "Host: 127.0.0.1:9",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: K",
            "Sec-WebSocket-Version: 13",
        ] {
            assert!(r.contains(&format!("\r\n{h}\r\n")), "{h}");
        }
        assert!(r.ends_with("\r\n\r\n"));
    }

    const OK: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n\
                      Connection: keep-alive, Upgrade\r\n\
                      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    #[test]
    fn a_valid_101_is_accepted_and_measured() {
        let mut buf = OK.as_bytes().to_vec();
        buf.extend_from_slice(&[0x81, 0]); // a frame right behind it is not part of the head
        assert_eq!(check_response(&buf, ACCEPT), Ok(Some(OK.len())));
        assert_eq!(check_response(&buf[..OK.len() - 1], ACCEPT), Ok(None));
    }

    #[test]
    fn each_bad_reply_has_its_error() {
        let cases = [
            (
                "HTTP/1.1 400 Bad Request\r\n\r\n".to_string(),
                WireError::Status(400),
            ),
            (
                OK.replace("Upgrade: WebSocket\r\n", ""),
                WireError::NoUpgrade,
            ),
            (
                OK.replace("keep-alive, Upgrade", "keep-alive"),
                WireError::NoConnectionUpgrade,
            ),
            (OK.replace(ACCEPT, "AAAA"), WireError::BadAccept),
            ("NOT HTTP\r\n\r\n".to_string(), WireError::BadResponse),
        ];
        for (reply, want) in cases {
            assert_eq!(check_response(reply.as_bytes(), ACCEPT), Err(want));
        }
        let endless = format!("HTTP/1.1 101 OK\r\nX: {}", "y".repeat(MAX_RESPONSE));
        assert_eq!(
            check_response(endless.as_bytes(), ACCEPT),
            Err(WireError::ResponseTooLong)
        );
    }

    #[test]
    fn masked_frames_use_the_shortest_length_and_unmask_back() {
        let mask = [1, 2, 3, 4];
        for (size, header) in [
            (0usize, 6usize),
            (125, 6),
            (126, 8),
            (65535, 8),
            (65536, 14),
        ] {
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let f = masked_frame(true, &payload, mask);
            assert_eq!(f.len(), header + size, "size {size}");
            assert_eq!(f[0], 0x82);
            assert_eq!(f[1] & 0x80, 0x80);
            assert_eq!(&f[header - 4..header], &mask);
            let plain: Vec<u8> = f[header..]
                .iter()
                .zip(mask.iter().cycle())
                .map(|(b, m)| b ^ m)
                .collect();
            assert_eq!(plain, payload);
        }
        assert_eq!(masked_frame(false, b"", mask)[0], 0x81);
        let close = close_frame(mask);
        assert_eq!((close[0], close[1]), (0x88, 0x82));
        assert_eq!([close[6] ^ 1, close[7] ^ 2], [0x03, 0xE8]);
    }

    #[test]
    fn reader_sees_messages_whatever_the_split() {
        let mut bytes = Vec::new();
        bytes.extend(server_frame(0x81, b"hello"));
        bytes.extend(server_frame(0x82, &vec![7; 300]));
        bytes.extend(server_frame(0x89, b"p"));
        bytes.extend(server_frame(0x02, &vec![1; 70_000])); // fragmented binary
        bytes.extend(server_frame(0x8A, b""));
        bytes.extend(server_frame(0x80, b"xyz"));
        bytes.extend(server_frame(0x81, b""));
        bytes.extend(server_frame(0x88, &[3, 232]));
        let want = vec![
            Event::Message {
                binary: false,
                len: 5,
            },
            Event::Message {
                binary: true,
                len: 300,
            },
            Event::Ping,
            Event::Pong,
            Event::Message {
                binary: true,
                len: 70_003,
            },
            Event::Message {
                binary: false,
                len: 0,
            },
            Event::Close,
        ];
        for split in [1, 2, 3, 7, 13, 100, 4096, bytes.len()] {
            assert_eq!(events(&bytes, split).unwrap(), want, "split {split}");
        }
    }

    #[test]
    fn reader_rejects_what_a_client_must_not_accept() {
        let masked = frame(0x1, b"hi", [1, 2, 3, 4]);
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        let cases: Vec<(Vec<u8>, WireError)> = vec![
            (masked, WireError::MaskedFrame),
            (server_frame(0xC1, b"x"), WireError::ReservedBits),
            (server_frame(0x83, b"x"), WireError::ReservedOpcode(3)),
            (server_frame(0x8B, b""), WireError::ReservedOpcode(0xB)),
            (huge, WireError::LengthTooLarge),
            (server_frame(0x09, b""), WireError::BadControlFrame),
            (server_frame(0x89, &[0; 126]), WireError::BadControlFrame),
            (server_frame(0x80, b"x"), WireError::UnexpectedContinuation),
            (
                [server_frame(0x01, b"a"), server_frame(0x81, b"b")].concat(),
                WireError::InterleavedMessage,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(events(&bytes, 1), Err(want.clone()));
            assert_eq!(events(&bytes, bytes.len()), Err(want));
        }
    }
}
