//! The bare WebSocket of the floor peers (`floor-epoll`, `uring-echo`): the opening handshake
//! and a frame-by-frame echo, written by hand and only to measure the floor. No limits and no
//! checks beyond what a correct echo of a well-behaved client needs (no UTF-8 check, no
//! reserved-bit or control-frame-size check, fragments echoed frame by frame): not a server.

use sha1::{Digest, Sha1};

/// RFC 6455 §1.3: the GUID appended to `Sec-WebSocket-Key` before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What the opening handshake in `buf` came to.
pub enum Handshake {
    /// No `\r\n\r\n` yet.
    Partial,
    /// No `Sec-WebSocket-Key`: close.
    Refused,
    /// The request's length and the `101` response to send (RFC 6455 §4.2.2).
    Done(usize, Vec<u8>),
}

/// Parses the upgrade request at the start of `buf`.
pub fn handshake(buf: &[u8]) -> Handshake {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Handshake::Partial;
    };
    let key = buf[..end].split(|&b| b == b'\n').find_map(|line| {
        let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
        name.eq_ignore_ascii_case(b"sec-websocket-key")
            .then(|| value[1..].trim_ascii())
    });
    let Some(key) = key else {
        return Handshake::Refused;
    };
    let accept =
        data_encoding::BASE64.encode(&Sha1::new().chain_update(key).chain_update(GUID).finalize());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    Handshake::Done(end + 4, response.into_bytes())
}

/// A frame-by-frame echo (RFC 6455 §5.2) that forwards each payload as it arrives, so
/// no frame is ever held whole: data frames go back unmasked with their opcode and FIN
/// bit, a ping as a pong, a close as a close; pongs are dropped.
#[derive(Default)]
pub struct Echo {
    /// Payload bytes of the current frame still to come, its mask and the mask's phase.
    left: usize,
    mask: [u8; 4],
    phase: usize,
    /// The current frame is a pong: read past it.
    skip: bool,
    /// The current frame is a close: the echo ends with it.
    close: bool,
}

impl Echo {
    /// Echoes what `buf` brings into `out`. Returns the bytes used (all but the start of a
    /// split frame header, to be given again with more) and whether a close was echoed
    /// (then the rest is ignored).
    pub fn feed(&mut self, buf: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        let mut at = 0;
        loop {
            let n = self.left.min(buf.len() - at);
            if n > 0 && !self.skip {
                let from = out.len();
                out.extend_from_slice(&buf[at..at + n]);
                let m = self.mask;
                let p = self.phase;
                unmask(
                    &mut out[from..],
                    [m[p], m[(p + 1) % 4], m[(p + 2) % 4], m[(p + 3) % 4]],
                );
            }
            (at, self.left, self.phase) = (at + n, self.left - n, (self.phase + n) % 4);
            if self.left > 0 {
                return (at, false);
            }
            if self.close {
                return (buf.len(), true);
            }
            let Some((head, len)) = frame_head(&buf[at..]) else {
                return (at, false);
            };
            let b0 = buf[at];
            self.mask.copy_from_slice(&buf[at + head - 4..at + head]);
            (at, self.left, self.phase) = (at + head, len, 0);
            let opcode = b0 & 0x0f;
            self.skip = opcode == 0xa;
            self.close = opcode == 0x8;
            if !self.skip {
                // A ping is answered by a pong with its payload (§5.5.2).
                put_head(out, if opcode == 0x9 { 0x80 | 0xa } else { b0 }, len);
            }
        }
    }
}

/// The header length (mask key included) and payload length of the frame at the start of
/// `buf`, if its header is complete. Client frames are masked (§5.3): the mask key is
/// taken as present.
fn frame_head(buf: &[u8]) -> Option<(usize, usize)> {
    let b1 = *buf.get(1)?;
    let (ext, len) = match b1 & 0x7f {
        126 => (
            2,
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
        ),
        127 => (
            8,
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
        ),
        n => (0, n as usize),
    };
    let head = 2 + ext + 4;
    (buf.len() >= head).then_some((head, len))
}

/// Appends a server frame header (unmasked, §5.2) with first byte `b0`.
fn put_head(out: &mut Vec<u8>, b0: u8, len: usize) {
    out.reserve(len + 10);
    out.push(b0);
    match len {
        0..=125 => out.push(len as u8),
        126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// XORs `data` with the repeating `mask` (§5.3), eight bytes at a time.
fn unmask(data: &mut [u8], mask: [u8; 4]) {
    let m = u32::from_ne_bytes(mask) as u64;
    let wide = (m << 32 | m).to_ne_bytes();
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes((&*c).try_into().unwrap()) ^ u64::from_ne_bytes(wide);
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §1.3's example key and accept value.
    #[test]
    fn accept_key_of_the_rfc_example() {
        let req = b"GET /chat HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nrest";
        let Handshake::Done(n, resp) = handshake(req) else {
            panic!("handshake not done")
        };
        assert_eq!(n, req.len() - 4);
        let resp = String::from_utf8(resp).unwrap();
        assert!(
            resp.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
            "{resp}"
        );
    }

    const HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    /// RFC 6455 §5.7: a masked "Hello" and its unmasked echo; a split header stays unused.
    #[test]
    fn echoes_the_rfc_masked_hello() {
        let mut buf = HELLO.to_vec();
        buf.extend_from_slice(&HELLO[..5]);
        let mut out = Vec::new();
        assert_eq!(Echo::default().feed(&buf, &mut out), (HELLO.len(), false));
        assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    }

    /// Fed a byte at a time, the echo is the same: payloads stream across calls (§5.3's
    /// mask phase carried over), then a masked close (§5.5.1) ends it.
    #[test]
    fn byte_at_a_time_then_close() {
        let mut stream = [HELLO, HELLO].concat();
        let close = [0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2];
        stream.extend_from_slice(&close);
        stream.extend_from_slice(&HELLO);
        let (mut echo, mut out, mut pending) = (Echo::default(), Vec::new(), Vec::new());
        let mut closed = false;
        for &b in &stream {
            pending.push(b);
            let (used, close) = echo.feed(&pending, &mut out);
            pending.drain(..used);
            if close {
                closed = true;
                break;
            }
        }
        assert!(closed);
        let hello = [0x81, 0x05, b'H', b'e', b'l', b'l', b'o'];
        assert_eq!(
            out,
            [&hello[..], &hello, &[0x88, 0x02, 0x03, 0xe8]].concat()
        );
    }

    /// A 64 KiB payload takes the 64-bit length (§5.2) and unmasks past the 8-byte chunks.
    #[test]
    fn long_frame_round_trip() {
        let payload: Vec<u8> = (0..65_539u32).map(|i| i as u8).collect();
        let mask = [1, 2, 3, 4];
        let mut buf = vec![0x82, 0xff];
        buf.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        buf.extend_from_slice(&mask);
        buf.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        let mut out = Vec::new();
        assert_eq!(Echo::default().feed(&buf, &mut out), (buf.len(), false));
        assert_eq!(out[..2], [0x82, 127]);
        assert_eq!(out[2..10], (payload.len() as u64).to_be_bytes());
        assert_eq!(&out[10..], &payload[..]);
    }
}
