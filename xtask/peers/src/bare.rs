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

/// Echoes every complete client frame at the start of `buf` into `out` (RFC 6455 §5.2):
/// data frames unmasked with their opcode and FIN bit, a ping as a pong, a close as a close.
/// Returns the bytes consumed and whether a close frame was echoed (then the rest is ignored).
pub fn echo(buf: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
    let mut at = 0;
    while let Some((head, len)) = frame_head(&buf[at..]) {
        let start = at + head;
        let Some(end) = start.checked_add(len).filter(|&e| e <= buf.len()) else {
            break;
        };
        let (b0, mask) = (
            buf[at],
            [
                buf[start - 4],
                buf[start - 3],
                buf[start - 2],
                buf[start - 1],
            ],
        );
        at = end;
        let opcode = b0 & 0x0f;
        let b0 = match opcode {
            0xa => continue,   // pong: nothing to answer
            0x9 => 0x80 | 0xa, // ping: pong with its payload (§5.5.2)
            _ => b0,
        };
        put_frame(out, b0, &buf[start..end], mask);
        if opcode == 0x8 {
            return (at, true);
        }
    }
    (at, false)
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

/// Appends a server frame (unmasked, §5.1) with first byte `b0` and the unmasked `payload`.
fn put_frame(out: &mut Vec<u8>, b0: u8, payload: &[u8], mask: [u8; 4]) {
    let len = payload.len();
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
    let from = out.len();
    out.extend_from_slice(payload);
    unmask(&mut out[from..], mask);
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

    /// RFC 6455 §5.7: a masked "Hello" and its unmasked echo; a partial frame stays unconsumed.
    #[test]
    fn echoes_the_rfc_masked_hello() {
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let mut buf = masked.to_vec();
        buf.extend_from_slice(&masked[..7]);
        let mut out = Vec::new();
        assert_eq!(echo(&buf, &mut out), (masked.len(), false));
        assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
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
        assert_eq!(echo(&buf, &mut out), (buf.len(), false));
        assert_eq!(out[..2], [0x82, 127]);
        assert_eq!(out[2..10], (payload.len() as u64).to_be_bytes());
        assert_eq!(&out[10..], &payload[..]);
    }
}
