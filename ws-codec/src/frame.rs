//! Frames on the wire (RFC 6455 §5.2): `OpCode`, `FrameHeader` parsing and encoding, `Frame`.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::error::Error;
use crate::mask::apply_mask;

/// The opcode of a frame (RFC 6455 §5.2). A closed set: unknown values fail `TryFrom<u8>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// `0x0`: continues a fragmented message.
    Continuation = 0x0,
    /// `0x1`: text (UTF-8) message or first fragment.
    Text = 0x1,
    /// `0x2`: binary message or first fragment.
    Binary = 0x2,
    /// `0x8`: close.
    Close = 0x8,
    /// `0x9`: ping.
    Ping = 0x9,
    /// `0xA`: pong.
    Pong = 0xA,
}

impl OpCode {
    /// RFC 6455 §5.5: control frames are identified by opcodes where the most significant
    /// bit of the opcode is 1.
    pub fn is_control(self) -> bool {
        self as u8 & 0x8 != 0
    }
}

impl TryFrom<u8> for OpCode {
    type Error = Error;

    /// RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint MUST
    /// _Fail the WebSocket Connection_."
    fn try_from(value: u8) -> Result<Self, Error> {
        match value {
            0x0 => Ok(OpCode::Continuation),
            0x1 => Ok(OpCode::Text),
            0x2 => Ok(OpCode::Binary),
            0x8 => Ok(OpCode::Close),
            0x9 => Ok(OpCode::Ping),
            0xA => Ok(OpCode::Pong),
            other => Err(Error::UnknownOpCode(other)),
        }
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpCode::Continuation => "continuation",
            OpCode::Text => "text",
            OpCode::Binary => "binary",
            OpCode::Close => "close",
            OpCode::Ping => "ping",
            OpCode::Pong => "pong",
        })
    }
}

/// The fixed part of a frame, before its payload (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Last fragment of a message.
    pub fin: bool,
    /// Reserved bit 1 (extensions only).
    pub rsv1: bool,
    /// Reserved bit 2 (extensions only).
    pub rsv2: bool,
    /// Reserved bit 3 (extensions only).
    pub rsv3: bool,
    /// The frame's opcode.
    pub opcode: OpCode,
    /// The masking key, present when the payload is masked on the wire.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Longest possible header: 2 + 8 (64-bit length) + 4 (mask key).
    pub const MAX_LEN: usize = 14;

    /// A final, unmasked header without reserved bits.
    pub fn new(opcode: OpCode, payload_len: u64) -> Self {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// RSV1-3 as three bits, RSV1 highest.
    pub fn rsv_bits(&self) -> u8 {
        (self.rsv1 as u8) << 2 | (self.rsv2 as u8) << 1 | self.rsv3 as u8
    }

    /// Parses a header from the front of `src`: `Ok(None)` if `src` is too short yet,
    /// otherwise the header and how many bytes it took. Only the structure is checked here
    /// (opcode, length encoding); the protocol rules are the [`Decoder`](crate::Decoder)'s.
    ///
    /// Non-minimal length encodings (a 16- or 64-bit length that would have fit in a shorter
    /// form) are accepted: RFC 6455 §5.2 says "the minimal number of bytes MUST be used to
    /// encode the length", but that binds the sender; rejecting them gains no safety, and
    /// the payload length is the same whichever form carried it.
    pub fn parse(src: &[u8]) -> Result<Option<(FrameHeader, usize)>, Error> {
        let (b0, b1) = match src {
            [b0, b1, ..] => (*b0, *b1),
            [b0] => {
                // Fail fast: the opcode is known from the first byte.
                OpCode::try_from(b0 & 0x0F)?;
                return Ok(None);
            }
            [] => return Ok(None),
        };
        let opcode = OpCode::try_from(b0 & 0x0F)?;
        let masked = b1 & 0x80 != 0;
        let (len_bytes, short) = match b1 & 0x7F {
            126 => (2, None),
            127 => (8, None),
            n => (0, Some(u64::from(n))),
        };
        let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
        if src.len() < header_len {
            return Ok(None);
        }
        let payload_len = match short {
            Some(n) => n,
            None if len_bytes == 2 => u64::from(u16::from_be_bytes([src[2], src[3]])),
            None => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&src[2..10]);
                let len = u64::from_be_bytes(be);
                // RFC 6455 §5.2: "the most significant bit MUST be 0".
                if len >> 63 != 0 {
                    return Err(Error::InvalidPayloadLength(len));
                }
                len
            }
        };
        let mask = masked.then(|| {
            let at = 2 + len_bytes;
            [src[at], src[at + 1], src[at + 2], src[at + 3]]
        });
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, header_len)))
    }

    /// Encoded size of this header.
    pub fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        len + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Appends the header to `dst`, with the shortest length form (RFC 6455 §5.2).
    pub fn encode(&self, dst: &mut BytesMut) {
        let (bytes, len) = self.to_bytes();
        dst.extend_from_slice(&bytes[..len]);
    }

    /// The encoded header in a stack buffer, and its length.
    pub(crate) fn to_bytes(self) -> ([u8; Self::MAX_LEN], usize) {
        let mut out = [0u8; Self::MAX_LEN];
        out[0] = (self.fin as u8) << 7 | self.rsv_bits() << 4 | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut at = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[at..at + 4].copy_from_slice(&key);
            at += 4;
        }
        (out, at)
    }
}

/// A whole frame: its header and its (unmasked) payload.
///
/// `header().payload_len` always equals `payload().len()`; `header().mask` is the key the
/// frame carries (or will carry) on the wire, while the payload held here is always plain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    header: FrameHeader,
    payload: Bytes,
}

impl Frame {
    /// A final, unmasked frame.
    pub fn new(opcode: OpCode, payload: impl Into<Bytes>) -> Self {
        let payload = payload.into();
        Frame {
            header: FrameHeader::new(opcode, payload.len() as u64),
            payload,
        }
    }

    /// A frame from a header and a plain payload; the header's length is set from the payload.
    pub fn from_parts(mut header: FrameHeader, payload: Bytes) -> Self {
        header.payload_len = payload.len() as u64;
        Frame { header, payload }
    }

    /// Sets FIN.
    pub fn with_fin(mut self, fin: bool) -> Self {
        self.header.fin = fin;
        self
    }

    /// Sets the masking key used on encode (`None`: unmasked).
    pub fn with_mask(mut self, mask: Option<[u8; 4]>) -> Self {
        self.header.mask = mask;
        self
    }

    /// The header.
    pub fn header(&self) -> &FrameHeader {
        &self.header
    }

    /// The opcode.
    pub fn opcode(&self) -> OpCode {
        self.header.opcode
    }

    /// Whether this is the last fragment.
    pub fn fin(&self) -> bool {
        self.header.fin
    }

    /// The plain payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Takes the payload.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// Appends the frame to `dst`, masking the payload when the header has a key.
    pub fn encode(&self, dst: &mut BytesMut) {
        encode_frame(&self.header, &self.payload, dst);
    }
}

/// Appends `header` (its length replaced by `payload.len()`) and `payload` to `dst`,
/// masked when the header has a key: encoding straight from a borrowed payload, with no
/// [`Frame`] or `Bytes` in between.
///
/// ```
/// use bytes::BytesMut;
/// use ws_codec::{encode_frame, FrameHeader, OpCode};
///
/// let mut dst = BytesMut::new();
/// let header = FrameHeader { mask: Some([0x37, 0xfa, 0x21, 0x3d]), ..FrameHeader::new(OpCode::Text, 0) };
/// encode_frame(&header, b"Hello", &mut dst);
/// assert_eq!(&dst[..], b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
/// ```
pub fn encode_frame(header: &FrameHeader, payload: &[u8], dst: &mut BytesMut) {
    let header = FrameHeader {
        payload_len: payload.len() as u64,
        ..*header
    };
    let (bytes, len) = header.to_bytes();
    dst.reserve(len + payload.len());
    dst.extend_from_slice(&bytes[..len]);
    let start = dst.len();
    dst.extend_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut dst[start..], key);
    }
}

/// A frame encoded once, server role (unmasked), to queue on many connections without
/// encoding it again: cloning it clones a reference-counted `Bytes`.
///
/// ```
/// let frame = ws_codec::EncodedFrame::text("hello");
/// assert_eq!(&frame.as_bytes()[..], b"\x81\x05hello");
/// ```
///
/// A compressed one ([`text_compressed`](Self::text_compressed)) is a permessage-deflate
/// message (RFC 7692) compressed from an empty window, which is what a connection whose own
/// side has no context takeover would produce: such a connection queues the shared bytes
/// ([`Connection::send_encoded`](crate::Connection::send_encoded) says when exactly); any
/// other compresses (or sends) the plain payload itself, which the frame keeps too.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    bytes: Bytes,
    header_len: usize,
    opcode: OpCode,
    /// The plain payload and the window bits, for a compressed frame.
    compressed: Option<(Bytes, u8)>,
}

impl EncodedFrame {
    /// A final text frame.
    pub fn text(text: &str) -> Self {
        Self::encode(OpCode::Text, text.as_bytes())
    }

    /// A final binary frame.
    pub fn binary(data: &[u8]) -> Self {
        Self::encode(OpCode::Binary, data)
    }

    /// A final text frame compressed with permessage-deflate from an empty window of
    /// `2^window_bits` bytes (clamped to 9..=15: zlib cannot compress with 8, see
    /// [`Deflate`](crate::Deflate)) at `level` (0-9).
    ///
    /// ```
    /// // RFC 7692 §7.2.3.1: "Hello" in one compressed frame.
    /// let frame = ws_codec::EncodedFrame::text_compressed("Hello", 15, 6);
    /// assert_eq!(&frame.as_bytes()[..], b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00");
    /// ```
    pub fn text_compressed(text: &str, window_bits: u8, level: u32) -> Self {
        Self::compress(OpCode::Text, text.as_bytes(), window_bits, level)
    }

    /// A final binary frame compressed like [`text_compressed`](Self::text_compressed).
    pub fn binary_compressed(data: &[u8], window_bits: u8, level: u32) -> Self {
        Self::compress(OpCode::Binary, data, window_bits, level)
    }

    fn encode(opcode: OpCode, payload: &[u8]) -> Self {
        let header = FrameHeader::new(opcode, payload.len() as u64);
        let mut dst = BytesMut::with_capacity(header.encoded_len() + payload.len());
        encode_frame(&header, payload, &mut dst);
        EncodedFrame {
            bytes: dst.freeze(),
            header_len: header.encoded_len(),
            opcode,
            compressed: None,
        }
    }

    fn compress(opcode: OpCode, payload: &[u8], window_bits: u8, level: u32) -> Self {
        let bits = window_bits.clamp(9, 15);
        // One message from an empty window: a thread's spare compressor does it.
        let mut deflater = crate::deflate::Deflater::take(bits, level.min(9));
        let bytes = deflater.compress_frame(FrameHeader::new(opcode, 0), payload);
        deflater.put_back();
        let (header, header_len) = FrameHeader::parse(&bytes)
            .ok()
            .flatten()
            .expect("a header was just encoded");
        debug_assert!(header.rsv1);
        EncodedFrame {
            bytes,
            header_len,
            opcode,
            compressed: Some((Bytes::copy_from_slice(payload), bits)),
        }
    }

    /// The encoded bytes (header and unmasked payload).
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The opcode.
    pub fn opcode(&self) -> OpCode {
        self.opcode
    }

    /// The payload alone, as on the wire (compressed for a compressed frame).
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.header_len..]
    }

    /// The window bits a compressed frame was compressed with (`None`: not compressed).
    pub fn window_bits(&self) -> Option<u8> {
        self.compressed.as_ref().map(|(_, bits)| *bits)
    }

    /// The message before compression (the payload itself for an uncompressed frame).
    pub fn plain_payload(&self) -> &[u8] {
        match &self.compressed {
            Some((plain, _)) => plain,
            None => self.payload(),
        }
    }
}

impl fmt::Debug for EncodedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedFrame")
            .field("opcode", &self.opcode)
            .field("payload_len", &self.payload().len())
            .field("window_bits", &self.window_bits())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(frame: &Frame) -> Vec<u8> {
        let mut dst = BytesMut::new();
        frame.encode(&mut dst);
        dst.to_vec()
    }

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    // RFC 6455 §5.7 examples, byte for byte.
    #[test]
    fn rfc_5_7_single_frame_unmasked_text() {
        let frame = Frame::new(OpCode::Text, "Hello");
        assert_eq!(encode(&frame), [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    }

    #[test]
    fn rfc_5_7_single_frame_masked_text() {
        let frame = Frame::new(OpCode::Text, "Hello").with_mask(Some(KEY));
        let wire = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(encode(&frame), wire);
    }

    #[test]
    fn rfc_5_7_fragmented_unmasked_text() {
        let first = Frame::new(OpCode::Text, "Hel").with_fin(false);
        let last = Frame::new(OpCode::Continuation, "lo");
        assert_eq!(encode(&first), [0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!(encode(&last), [0x80, 0x02, 0x6c, 0x6f]);
    }

    #[test]
    fn rfc_5_7_ping_and_masked_pong() {
        let ping = Frame::new(OpCode::Ping, "Hello");
        assert_eq!(encode(&ping), [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        let pong = Frame::new(OpCode::Pong, "Hello").with_mask(Some(KEY));
        let wire = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(encode(&pong), wire);
    }

    #[test]
    fn rfc_5_7_binary_256_bytes_and_64_kib() {
        let frame = Frame::new(OpCode::Binary, vec![7u8; 256]);
        let wire = encode(&frame);
        assert_eq!(wire[..4], [0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(wire.len(), 4 + 256);
        let frame = Frame::new(OpCode::Binary, vec![7u8; 65536]);
        let wire = encode(&frame);
        assert_eq!(
            wire[..10],
            [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
        assert_eq!(wire.len(), 10 + 65536);
    }

    #[test]
    fn shortest_length_form_at_the_boundaries() {
        for (len, header_len) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            assert_eq!(
                FrameHeader::new(OpCode::Binary, len).encoded_len(),
                header_len
            );
            let mut dst = BytesMut::new();
            FrameHeader::new(OpCode::Binary, len).encode(&mut dst);
            assert_eq!(dst.len(), header_len, "length {len}");
        }
    }

    #[test]
    fn opcode_try_from_rejects_reserved_values() {
        for value in 0u8..=0xFF {
            let parsed = OpCode::try_from(value);
            match value {
                0 | 1 | 2 | 8 | 9 | 10 => assert_eq!(parsed.unwrap() as u8, value),
                _ => assert_eq!(parsed, Err(Error::UnknownOpCode(value))),
            }
        }
        assert!(OpCode::Ping.is_control() && !OpCode::Binary.is_control());
    }

    #[test]
    fn parse_waits_for_the_whole_header() {
        let mut dst = BytesMut::new();
        Frame::new(OpCode::Binary, vec![0u8; 70000])
            .with_mask(Some(KEY))
            .encode(&mut dst);
        for cut in 0..14 {
            assert_eq!(FrameHeader::parse(&dst[..cut]), Ok(None), "cut at {cut}");
        }
        let (header, len) = FrameHeader::parse(&dst).unwrap().unwrap();
        assert_eq!(
            (header.payload_len, header.mask, len),
            (70000, Some(KEY), 14)
        );
    }

    #[test]
    fn rfc_5_2_unknown_opcode_fails_from_the_first_byte() {
        assert_eq!(FrameHeader::parse(&[0x83]), Err(Error::UnknownOpCode(3)));
        assert_eq!(
            FrameHeader::parse(&[0x8B, 0x00]),
            Err(Error::UnknownOpCode(0xB))
        );
    }

    #[test]
    fn rfc_5_2_64_bit_length_with_top_bit_is_an_error() {
        let wire = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            FrameHeader::parse(&wire),
            Err(Error::InvalidPayloadLength(0x8000_0000_0000_0001))
        );
    }

    #[test]
    fn non_minimal_length_encodings_are_accepted() {
        // 5 bytes announced in the 16-bit and in the 64-bit form.
        let (h, n) = FrameHeader::parse(&[0x82, 0x7E, 0x00, 0x05])
            .unwrap()
            .unwrap();
        assert_eq!((h.payload_len, n), (5, 4));
        let wire = [0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5];
        let (h, n) = FrameHeader::parse(&wire).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (5, 10));
    }

    #[test]
    fn encoded_frame_matches_frame_encode() {
        let frame = EncodedFrame::binary(&[1, 2, 3]);
        assert_eq!(
            frame.as_bytes()[..],
            encode(&Frame::new(OpCode::Binary, vec![1, 2, 3]))[..]
        );
        assert_eq!(frame.payload(), [1, 2, 3]);
        assert_eq!(frame.opcode(), OpCode::Binary);
    }
}
