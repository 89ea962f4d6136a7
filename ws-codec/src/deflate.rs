//! permessage-deflate (RFC 7692) engines: a compressor for the messages a connection sends
//! and an inflater for those it receives, both raw DEFLATE (RFC 1951) through flate2's
//! zlib-rs backend, both allocated only when the first compressed message needs them.

use std::cell::RefCell;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::Error;
use crate::frame::FrameHeader;
use crate::utf8::Utf8Validator;

/// RFC 7692 §7.2.1: the empty stored block a sync flush ends with, removed by the sender;
/// §7.2.2: appended again by the receiver before inflating.
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Most bytes inflated per call: a bomb is stopped within one such step of the limit.
pub(crate) const INFLATE_STEP: usize = 16 * 1024;

/// Whether zlib can compress within a window of `2^bits` bytes.
///
/// zlib (since 1.2.9) and zlib-rs refuse `windowBits` 8 for a raw deflate stream (zlib-rs
/// `deflate::init` returns `StreamError`; with a zlib header both silently use 9) and
/// flate2 panics on it. A 512-byte window may emit distances up to 512, which a peer that
/// negotiated 8 bits (a 256-byte window) must reject, so RFC 7692 §7.1.2.1 ("MUST NOT use
/// an LZ77 sliding window size greater than the size specified by the value") leaves only
/// one correct choice for 8: do not compress with it; RSV1 stays clear and the message goes
/// out as it is, which every permessage-deflate receiver accepts.
pub(crate) fn can_compress(bits: u8) -> bool {
    (9..=15).contains(&bits)
}

/// Compresses messages with one side's parameters (RFC 7692 §7.2.1).
pub(crate) struct Deflater {
    inner: Compress,
    bits: u8,
    level: u32,
}

/// Most spare compressors a thread keeps (see [`Deflater::put_back`]).
const SPARES: usize = 2;

thread_local! {
    /// Compressors of no-context-takeover messages, reset, between two uses. Making one
    /// costs more than compressing a small message: zlib-rs allocates ~200 KB for a 4 KiB
    /// window (the 64 Ki-entry hash head, the pending buffer), which glibc serves with
    /// mmap and the first writes fault in page by page. A reset only clears the head.
    static SPARE_DEFLATERS: RefCell<Vec<Deflater>> = const { RefCell::new(Vec::new()) };
    /// The same for inflaters of peers without context takeover: all have one window
    /// (see [`Inflater::new`]), so any serves.
    static SPARE_INFLATERS: RefCell<Vec<Inflater>> = const { RefCell::new(Vec::new()) };
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("total_in", &self.inner.total_in())
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor for a window of `2^bits` bytes (`bits` in 9..=15, see [`can_compress`]).
    pub(crate) fn new(bits: u8, level: u32) -> Self {
        debug_assert!(can_compress(bits));
        Deflater {
            inner: Compress::new_with_window_bits(Compression::new(level), false, bits),
            bits,
            level,
        }
    }

    /// A fresh compressor for `bits` and `level`: one of this thread's spares if it has
    /// one, else a new one.
    pub(crate) fn take(bits: u8, level: u32) -> Self {
        let spare = SPARE_DEFLATERS.with(|s| {
            let mut s = s.borrow_mut();
            let i = s.iter().position(|d| d.bits == bits && d.level == level)?;
            Some(s.swap_remove(i))
        });
        spare.unwrap_or_else(|| Deflater::new(bits, level))
    }

    /// Resets this compressor (an empty window, RFC 7692 §7.1.1) and keeps it for the
    /// thread's next [`take`](Deflater::take), unless it already keeps [`SPARES`].
    pub(crate) fn put_back(mut self) {
        self.inner.reset();
        SPARE_DEFLATERS.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARES {
                s.push(self);
            }
        });
    }

    /// Compresses one whole message into a frame: `header` (RSV1 set, length from the
    /// compressed payload) then the payload, masked when the header has a key. The payload
    /// is written after room for the longest header, the header in front of it: no copy.
    pub(crate) fn compress_frame(&mut self, header: FrameHeader, payload: &[u8]) -> Bytes {
        let room = FrameHeader::MAX_LEN;
        let mut out = Vec::with_capacity(room + payload.len() / 2 + 64);
        out.resize(room, 0);
        self.compress(payload, &mut out);
        let header = FrameHeader {
            rsv1: true,
            payload_len: (out.len() - room) as u64,
            ..header
        };
        let (bytes, len) = header.to_bytes();
        let start = room - len;
        out[start..room].copy_from_slice(&bytes[..len]);
        if let Some(key) = header.mask {
            crate::mask::apply_mask(&mut out[room..], key);
        }
        Bytes::from(out).slice(start..)
    }

    /// RFC 7692 §7.2.1: compress with a sync flush ("If the resulting data does not end
    /// with an empty DEFLATE block with no compression (the "BTYPE" bits are set to 00),
    /// append an empty DEFLATE block with no compression to the tail end"), then "Remove 4
    /// octets (that are 0x00 0x00 0xff 0xff) from the tail end".
    pub(crate) fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.len().max(256));
            }
            let before = self.inner.total_in();
            self.inner
                .compress_vec(input, out, FlushCompress::Sync)
                .expect("deflate cannot fail on valid parameters");
            input = &input[(self.inner.total_in() - before) as usize..];
            // The flush is complete once all input is taken and output room is left over.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if out.len() == start {
            // Nothing to flush: an empty message right after a flushed one (zlib emits
            // nothing for a repeated sync flush without input). RFC 7692 §7.2.3.6: the
            // single octet 0x00, which with the receiver's 0x00 0x00 0xff 0xff is an
            // empty stored block, and leaves both windows as they were.
            out.push(0x00);
            return;
        }
        debug_assert!(
            out.ends_with(&TAIL),
            "a sync flush ends with its empty block"
        );
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
    }
}

/// Inflates the messages of one direction (RFC 7692 §7.2.2), bounding what it produces.
pub(crate) struct Inflater {
    inner: Decompress,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("total_out", &self.inner.total_out())
            .finish_non_exhaustive()
    }
}

impl Inflater {
    /// An inflater with a 32 KiB window, whatever window the peer agreed to use.
    ///
    /// Why not the peer's own (smaller) window: zlib checks a back-reference against its
    /// window only when it reaches before the output of the current call, so a peer that
    /// breaks its agreed window (RFC 7692 §7.1.2) would be refused or accepted depending
    /// on how its bytes happened to arrive (the `deflate_inflate` fuzz target found one
    /// stream failing 1007 when read 7 bytes at a time and running to 1009 when read
    /// whole). With the largest window DEFLATE has, every distance DEFLATE can express
    /// is judged only against what was inflated, the same way for every split of the
    /// input. The cost is memory while an inflater is kept: not at all under no context
    /// takeover (one per thread, see [`Inflater::take`]), 32 KiB instead of the agreed
    /// window per connection otherwise.
    pub(crate) fn new() -> Self {
        Inflater {
            inner: Decompress::new(false),
        }
    }

    /// A fresh inflater: one of this thread's spares if it has one, else a new one.
    pub(crate) fn take() -> Self {
        let spare = SPARE_INFLATERS.with(|s| s.borrow_mut().pop());
        spare.unwrap_or_else(Inflater::new)
    }

    /// Resets this inflater (an empty window, for a peer without context takeover) and
    /// keeps it for the thread's next [`take`](Inflater::take), unless it keeps [`SPARES`].
    pub(crate) fn put_back(mut self) {
        self.inner.reset(false);
        SPARE_INFLATERS.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARES {
                s.push(self);
            }
        });
    }

    /// Bytes produced since it was created.
    #[cfg(test)]
    pub(crate) fn total_out(&self) -> u64 {
        self.inner.total_out()
    }

    /// Inflates `input`, appending to `out`, which never grows past `max + 1` bytes (nor
    /// its capacity): a message that would exceed `max` fails with
    /// [`Error::MessageTooLarge`] once one byte past the limit was produced. New bytes are
    /// fed to `utf8` when given (a text message, checked as it inflates). A corrupt stream
    /// fails with [`Error::InvalidCompressedData`].
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
        mut utf8: Option<&mut Utf8Validator>,
    ) -> Result<(), Error> {
        let cap = max.saturating_add(1);
        loop {
            if out.len() == out.capacity() {
                if out.len() >= cap {
                    // Full at the limit and more may come: one byte more says it does.
                    return Err(too_large(out.len(), max));
                }
                // Grow by steps, never past the limit: the capacity stays within `max + 1`
                // and decompress_vec writes no further than the capacity.
                let target = cap.min(out.len() + INFLATE_STEP.max(out.len() / 2));
                out.reserve_exact(target - out.len());
            }
            let (in_before, out_before) = (self.inner.total_in(), out.len());
            let status = self.inner.decompress_vec(input, out, FlushDecompress::Sync);
            // What came out before any error is checked first: a text message that turns
            // invalid before its stream does fails on its UTF-8, however it was split.
            if let Some(v) = utf8.as_deref_mut() {
                v.feed(&out[out_before..]).map_err(|_| Error::InvalidUtf8)?;
            }
            let status = status.map_err(|_| Error::InvalidCompressedData)?;
            let consumed = (self.inner.total_in() - in_before) as usize;
            input = &input[consumed..];
            if out.len() > max {
                return Err(too_large(out.len(), max));
            }
            match status {
                // RFC 7692 §7.2.3.4: a block with BFINAL set ends the DEFLATE stream; what
                // follows (at least the appended 0x00 0x00 0xff 0xff) starts a new one.
                Status::StreamEnd => self.inner.reset(false),
                Status::Ok | Status::BufError => {
                    let full = out.len() == out.capacity();
                    if input.is_empty() && !full {
                        return Ok(());
                    }
                    if consumed == 0 && out.len() == out_before && !full {
                        // No progress with input and room left: cannot happen with a
                        // sync flush, but never spin.
                        return Err(Error::InvalidCompressedData);
                    }
                }
            }
        }
    }
}

fn too_large(len: usize, max: usize) -> Error {
    Error::MessageTooLarge {
        len: len as u64,
        max: max as u64,
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::close::CloseCode;
    use crate::config::{Config, Deflate};
    use crate::connection::{Connection, State};
    use crate::frame::{EncodedFrame, Frame, OpCode};
    use crate::message::Event;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn deflate() -> Deflate {
        Deflate::default().with_threshold(0)
    }

    fn server(d: Deflate) -> Connection {
        Connection::server(Config::default().with_deflate(Some(d)))
    }

    fn client(d: Deflate) -> Connection {
        let mut n = 0u8;
        Connection::client(Config::default().with_deflate(Some(d)), move || {
            n = n.wrapping_add(1);
            [n, 7, 7, 7]
        })
    }

    fn drain(conn: &mut Connection) -> Vec<u8> {
        std::iter::from_fn(|| conn.poll_transmit())
            .flat_map(|b| b.to_vec())
            .collect()
    }

    fn events(conn: &mut Connection) -> Vec<Event> {
        std::iter::from_fn(|| conn.poll_event()).collect()
    }

    /// A frame as a client sends it (masked), RSV1 as given.
    fn client_frame(opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
        let mut dst = BytesMut::new();
        let header = FrameHeader {
            fin,
            rsv1,
            mask: Some(KEY),
            ..FrameHeader::new(opcode, 0)
        };
        Frame::from_parts(header, Bytes::copy_from_slice(payload)).encode(&mut dst);
        dst.to_vec()
    }

    fn close_code(conn: &mut Connection) -> u16 {
        let wire = drain(conn);
        let mut decoder = crate::Decoder::new(crate::Role::Client);
        let frame = decoder
            .decode(&mut BytesMut::from(&wire[..]))
            .unwrap()
            .unwrap();
        assert_eq!(frame.opcode(), OpCode::Close);
        u16::from_be_bytes([frame.payload()[0], frame.payload()[1]])
    }

    // ---- RFC 7692 §7.2.3 examples, byte for byte ----

    const HELLO: [u8; 9] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    #[test]
    fn rfc_7692_7_2_3_1_hello_in_one_compressed_frame() {
        // §7.2.3.1: "Suppose that an endpoint sends a text message "Hello". If the endpoint
        // uses one compressed DEFLATE block (compressed with fixed Huffman code and the
        // "BFINAL" bit not set) to compress the message, the endpoint obtains the compressed
        // data to use for the message payload as follows ... 0xf2 0x48 0xcd 0xc9 0xc9 0x07
        // 0x00 ... the endpoint sends the compressed message in a single frame: 0xc1 0x07
        // 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00".
        let mut s = server(deflate().with_server_no_context_takeover(true));
        s.send_text("Hello").unwrap();
        assert_eq!(drain(&mut s), HELLO);
        let mut c = client(deflate());
        c.handle_bytes(&HELLO).unwrap();
        assert_eq!(events(&mut c), [Event::Text("Hello".into())]);
    }

    #[test]
    fn rfc_7692_7_2_3_1_hello_in_two_fragments() {
        // §7.2.3.1: "... the endpoint sends the compressed message in two fragments: 0x41
        // 0x03 0xf2 0x48 0xcd 0x80 0x04 0xc9 0xc9 0x07 0x00" (RSV1 on the first only).
        let wire = [
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ];
        let mut c = client(deflate());
        c.handle_bytes(&wire).unwrap();
        assert_eq!(events(&mut c), [Event::Text("Hello".into())]);
    }

    #[test]
    fn rfc_7692_7_2_3_2_sharing_the_lz77_window() {
        // §7.2.3.2: "Suppose that a client has sent a message "Hello" as a compressed
        // message and will send the same message "Hello" again as a compressed message.
        // 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00 ... If the client compresses the second
        // message with the LZ77 sliding window used to compress the first message, the
        // compressed data is: 0xf2 0x00 0x11 0x00 0x00".
        let second = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
        let mut c = client(deflate());
        c.handle_bytes(&HELLO).unwrap();
        c.handle_bytes(&second).unwrap();
        let hello = Event::Text("Hello".into());
        assert_eq!(events(&mut c), [hello.clone(), hello]);
        // Our compressor keeps its window too (context takeover): the second message
        // refers to the first, so it is shorter.
        let mut s = server(deflate().with_level(6));
        s.send_text("Hello").unwrap();
        assert_eq!(drain(&mut s), HELLO);
        s.send_text("Hello").unwrap();
        assert_eq!(drain(&mut s), second);
        // With server_no_context_takeover the second is compressed from scratch.
        let mut s = server(deflate().with_server_no_context_takeover(true));
        s.send_text("Hello").unwrap();
        s.send_text("Hello").unwrap();
        assert_eq!(drain(&mut s), [HELLO, HELLO].concat());
    }

    #[test]
    fn rfc_7692_7_2_3_3_stored_block() {
        // §7.2.3.3: "Suppose that an endpoint sends a text message "Hello" using a DEFLATE
        // block with no compression ... 0x00 0x05 0x00 0xfa 0xff 0x48 0x65 0x6c 0x6c 0x6f
        // 0x00".
        let wire = [
            0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        let mut c = client(deflate());
        c.handle_bytes(&wire).unwrap();
        assert_eq!(events(&mut c), [Event::Text("Hello".into())]);
    }

    #[test]
    fn rfc_7692_7_2_3_4_bfinal_set() {
        // §7.2.3.4: "Suppose that an endpoint sends a text message "Hello" using a
        // compressed DEFLATE block with the "BFINAL" bit set to 1 ... 0xf3 0x48 0xcd 0xc9
        // 0xc9 0x07 0x00 0x00". The stream ends there; the next message starts a new one.
        let wire = [0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        let mut c = client(deflate());
        c.handle_bytes(&wire).unwrap();
        c.handle_bytes(&wire).unwrap();
        c.handle_bytes(&HELLO).unwrap();
        assert_eq!(events(&mut c), vec![Event::Text("Hello".into()); 3]);
    }

    #[test]
    fn rfc_7692_7_2_3_5_two_blocks_in_one_message() {
        // §7.2.3.5: "Suppose that an endpoint sends a text message "Hello" using two DEFLATE
        // blocks ... 0xf2 0x48 0x05 0x00 0x00 0x00 0xff 0xff 0xca 0xc9 0xc9 0x07 0x00".
        let wire = [
            0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07,
            0x00,
        ];
        let mut c = client(deflate());
        c.handle_bytes(&wire).unwrap();
        assert_eq!(events(&mut c), [Event::Text("Hello".into())]);
    }

    // ---- receiving: the rules ----

    #[test]
    fn rfc_6455_5_2_rsv1_without_deflate_still_fails_with_1002() {
        // RFC 6455 §5.2: "If a nonzero value is received and none of the negotiated
        // extensions defines the meaning of such a nonzero value, the receiving endpoint
        // MUST _Fail the WebSocket Connection_."
        let mut s = Connection::server(Config::default());
        let err = s
            .handle_bytes(&client_frame(OpCode::Text, true, true, &HELLO[2..]))
            .unwrap_err();
        assert_eq!(err, Error::ReservedBits(0b100));
        assert_eq!(close_code(&mut s), 1002);
    }

    #[test]
    fn rfc_7692_6_rsv1_on_control_or_continuation_fails_with_1002() {
        // RFC 7692 §6: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control
        // frames and non-first fragments of a data message. An endpoint receiving such a
        // frame MUST _Fail the WebSocket Connection_."
        let mut s = server(deflate());
        let err = s.handle_bytes(&client_frame(OpCode::Ping, true, true, b""));
        assert_eq!(err, Err(Error::CompressedControlFrame(OpCode::Ping)));
        assert_eq!(close_code(&mut s), 1002);

        let mut s = server(deflate());
        s.handle_bytes(&client_frame(OpCode::Text, false, true, &HELLO[2..5]))
            .unwrap();
        let err = s.handle_bytes(&client_frame(OpCode::Continuation, true, true, &HELLO[5..]));
        assert_eq!(err, Err(Error::CompressedContinuation));
        assert_eq!(close_code(&mut s), 1002);
    }

    #[test]
    fn rfc_7692_6_2_invalid_deflate_stream_fails_with_1007() {
        // RFC 7692 §6.2 / §7.2.2: the payload is decompressed with DEFLATE; a payload that
        // is not a DEFLATE stream cannot be a message (1007, as for invalid UTF-8).
        // 0x07: BFINAL 1, BTYPE 11, which RFC 1951 §3.2.3 reserves ("error").
        let mut s = server(deflate());
        let err = s.handle_bytes(&client_frame(OpCode::Binary, true, true, &[0x07, 0x00]));
        assert_eq!(err, Err(Error::InvalidCompressedData));
        assert_eq!(close_code(&mut s), 1007);
        // A stored block whose NLEN is not the complement of LEN.
        let mut s = server(deflate());
        let bad = [0x00, 0x05, 0x00, 0x00, 0x00, b'H'];
        let err = s.handle_bytes(&client_frame(OpCode::Text, true, true, &bad));
        assert_eq!(err, Err(Error::InvalidCompressedData));
    }

    #[test]
    fn rfc_8_1_utf8_is_checked_on_the_inflated_text_as_it_arrives() {
        // RFC 6455 §8.1 applies to the message, i.e. after decompression: a stored block
        // carrying an invalid byte fails while the frame is still arriving.
        let mut s = server(deflate());
        let mut payload = vec![0x00, 0x04, 0x00, 0xfb, 0xff, b'o', b'k', 0xff, b'!'];
        payload.extend([0u8; 100]); // more of the frame, not arrived yet
        let wire = client_frame(OpCode::Text, true, true, &payload);
        assert_eq!(
            s.handle_bytes(&wire[..wire.len() - 100]),
            Err(Error::InvalidUtf8)
        );
        assert_eq!(close_code(&mut s), 1007);
        // A compressed binary message with the same bytes is fine.
        let mut s = server(deflate());
        let payload = [0x00, 0x04, 0x00, 0xfb, 0xff, b'o', b'k', 0xff, b'!'];
        s.handle_bytes(&client_frame(OpCode::Binary, true, true, &payload))
            .unwrap();
        assert_eq!(
            events(&mut s),
            [Event::Binary(Bytes::from_static(b"ok\xff!"))]
        );
    }

    /// A raw DEFLATE stream (fixed Huffman, RFC 1951 §3.2.6) for `len` zero bytes: one
    /// literal, then matches of 258 at distance 1, 13 bits each, so about 1/160 of its
    /// output. Written by hand: compressing a GiB in a test would take too long.
    fn zero_bomb(len: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut acc, mut n) = (0u64, 0u32);
        let mut put = |value: u64, bits: u32, out: &mut Vec<u8>| {
            acc |= value << n;
            n += bits;
            while n >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                n -= 8;
            }
        };
        // Huffman codes go most significant bit first: reversed into the LSB-first stream.
        let code = |c: u64, bits: u32| (c.reverse_bits() >> (64 - bits), bits);
        put(0b010, 3, &mut out); // BFINAL 0, BTYPE 01 (fixed Huffman)
        let (lit0, l) = code(0x30, 8); // literal 0: 00110000
        put(lit0, l, &mut out);
        let (len258, ll) = code(0b1100_0101, 8); // length code 285 (258), no extra bits
        for _ in 0..(len - 1) / 258 {
            put(len258, ll, &mut out);
            put(0, 5, &mut out); // distance code 0: distance 1
        }
        put(0, 7, &mut out); // end of block
        put(0, 7, &mut out); // flush the last partial byte
        out
    }

    #[test]
    fn a_one_gib_bomb_stops_at_the_limit_in_one_frame_and_in_fragments() {
        const LIMIT: usize = 1 << 20;
        let bomb = zero_bomb(1 << 30);
        assert!(bomb.len() < 7 << 20);
        // Sanity: the start of the bomb inflates to zeros.
        let mut probe = Inflater::new();
        let mut out = Vec::new();
        probe.inflate(&bomb[..1000], &mut out, LIMIT, None).unwrap();
        assert!(out.len() > 100_000 && out.iter().all(|&b| b == 0));

        let config = Config::default()
            .with_max_frame_size(8 << 20)
            .with_max_message_size(LIMIT)
            .with_deflate(Some(deflate()));
        // One frame.
        let mut s = Connection::server(config.clone());
        let err = s.handle_bytes(&client_frame(OpCode::Binary, true, true, &bomb));
        assert_eq!(
            err,
            Err(Error::MessageTooLarge {
                len: LIMIT as u64 + 1,
                max: LIMIT as u64
            })
        );
        let (produced, capacity) = s.inflate_usage();
        assert!(produced.unwrap() <= LIMIT as u64 + 1, "{produced:?}");
        assert!(capacity.unwrap() <= LIMIT + 1, "{capacity:?}");
        assert_eq!(close_code(&mut s), 1009);

        // Many fragments of 4 KiB each (each inflates to about 650 KiB).
        let mut s = Connection::server(config.with_max_fragments(usize::MAX));
        let mut result = Ok(());
        for (i, piece) in bomb.chunks(4096).enumerate() {
            let op = if i == 0 {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            result = s.handle_bytes(&client_frame(op, false, i == 0, piece));
            if result.is_err() || s.state() != State::Open {
                break;
            }
        }
        assert!(
            matches!(result, Err(Error::MessageTooLarge { .. })),
            "{result:?}"
        );
        let (produced, capacity) = s.inflate_usage();
        assert!(produced.unwrap() <= LIMIT as u64 + 1);
        assert!(capacity.unwrap() <= LIMIT + 1);
        assert_eq!(close_code(&mut s), 1009);
    }

    #[test]
    fn a_message_of_exactly_the_limit_inflates() {
        let data = vec![b'a'; 5000];
        let mut c = client(deflate());
        c.send_binary(&data).unwrap();
        let wire = drain(&mut c);
        let limited = |max| {
            Connection::server(
                Config::default()
                    .with_max_message_size(max)
                    .with_deflate(Some(deflate())),
            )
        };
        let mut s = limited(5000);
        s.handle_bytes(&wire).unwrap();
        assert_eq!(events(&mut s), [Event::Binary(data.into())]);
        let mut s = limited(4999);
        assert!(matches!(
            s.handle_bytes(&wire),
            Err(Error::MessageTooLarge { max: 4999, .. })
        ));
    }

    // ---- sending ----

    #[test]
    fn rfc_7692_7_2_3_6_an_empty_message_right_after_another_under_context_takeover() {
        // zlib has nothing to flush for an empty message after a flushed one (a repeated
        // sync flush without input emits nothing), yet the message needs a payload:
        // §7.2.3.6 gives the single octet 0x00 (with the tail: an empty stored block).
        for takeover in [false, true] {
            let d = deflate().with_client_no_context_takeover(!takeover);
            let (mut c, mut s) = (client(d), server(d));
            for text in ["abc", "", "", "abc", ""] {
                c.send_text(text).unwrap();
                let wire = drain(&mut c);
                assert_eq!(wire[0] & 0x40, 0x40, "compressed");
                s.handle_bytes(&wire).unwrap();
                assert_eq!(events(&mut s), vec![Event::Text(text.into())], "{takeover}");
            }
        }
        let frame = EncodedFrame::text_compressed("", 15, 2);
        assert!(!frame.payload().is_empty());
    }

    #[test]
    fn rfc_7692_7_1_1_no_takeover_compressors_are_reset_and_shared_per_thread() {
        let spares = || SPARE_DEFLATERS.with(|s| s.borrow().len());
        std::thread::spawn(move || {
            let nct = deflate().with_server_no_context_takeover(true);
            let (mut a, mut b) = (server(nct), server(nct));
            let text = "{\"symbol\":\"AAPL\",\"price\":189.5}".repeat(20);
            a.send_text(&text).unwrap();
            let first = drain(&mut a);
            assert!(
                !a.holds_deflater() && spares() == 1,
                "kept by the thread, not a"
            );
            // The spare serves the next message of any connection, from an empty window:
            // the same message compresses to the same bytes as with a new compressor.
            b.send_text(&text).unwrap();
            assert_eq!(drain(&mut b), first);
            a.send_text(&text).unwrap();
            assert_eq!(drain(&mut a), first);
            assert_eq!(spares(), 1);
            // Context takeover takes a spare too (it is fresh) and keeps it; other
            // parameters never take a spare made for different ones.
            let mut c = server(deflate());
            c.send_text(&text).unwrap();
            assert!(c.holds_deflater() && spares() == 0);
            for (bits, kept) in [(10, 1), (11, 2), (12, SPARES)] {
                let mut d = server(nct.with_server_max_window_bits(bits));
                d.send_text(&text).unwrap();
                assert_eq!(spares(), kept, "at most SPARES are kept");
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn threshold_uncompressed_sends_and_control_frames() {
        let mut s = server(Deflate::default().with_threshold(10));
        s.send_text("short").unwrap(); // below the threshold
        s.send_text_uncompressed("long enough to compress, but not asked to")
            .unwrap();
        s.send_binary_uncompressed([0u8; 100]).unwrap();
        s.ping([b'p'; 100]).unwrap(); // control frames are never compressed
        s.send_text("long enough to compress").unwrap();
        s.close(CloseCode::NORMAL, "a reason long enough to compress")
            .unwrap();
        let wire = drain(&mut s);
        let mut buf = BytesMut::from(&wire[..]);
        let mut decoder = crate::Decoder::new(crate::Role::Client).with_compression(true);
        let mut rsv1 = Vec::new();
        while let Some(frame) = decoder.decode(&mut buf).unwrap() {
            rsv1.push(frame.header().rsv1);
        }
        assert_eq!(rsv1, [false, false, false, false, true, false]);
    }

    #[test]
    fn rfc_7692_7_1_2_a_window_of_8_bits_is_never_exceeded() {
        // RFC 7692 §7.1.2.1: "... the server MUST NOT use an LZ77 sliding window size
        // greater than the size specified by the value". zlib cannot compress with 2^8: the
        // server sends uncompressed; its client (window 15) still compresses and the
        // server inflates it.
        let d = deflate().with_server_max_window_bits(8);
        let mut s = server(d);
        let mut c = client(d);
        let text = "abcabcabc".repeat(100);
        s.send_text(&text).unwrap();
        let wire = drain(&mut s);
        assert_eq!(wire[0], 0x81, "RSV1 clear");
        c.handle_bytes(&wire).unwrap();
        c.send_text(&text).unwrap();
        let wire = drain(&mut c);
        assert_eq!(wire[0], 0xc1, "the client compresses");
        s.handle_bytes(&wire).unwrap();
        assert_eq!(events(&mut s), [Event::Text(text.as_str().into())]);
        assert_eq!(events(&mut c), [Event::Text(text.as_str().into())]);
        // A client limited to 8 bits likewise; and a client receiving from a server
        // limited to 8 bits inflates with a larger window, which decodes the same.
        let mut c = client(deflate().with_client_max_window_bits(8));
        c.send_text(&text).unwrap();
        assert_eq!(drain(&mut c)[0], 0x81);
    }

    #[test]
    fn compressor_and_inflater_are_lazy_and_released_without_context_takeover() {
        for (takeover, held) in [(false, true), (true, false)] {
            let d = deflate()
                .with_server_no_context_takeover(takeover)
                .with_client_no_context_takeover(takeover);
            let (mut s, mut c) = (server(d), client(d));
            assert!(
                !s.holds_deflater() && !s.holds_inflater(),
                "nothing until used"
            );
            s.send_text_uncompressed("plain").unwrap();
            c.handle_bytes(&drain(&mut s)).unwrap();
            assert!(
                !s.holds_deflater() && !c.holds_inflater(),
                "plain needs none"
            );
            s.send_text("compressed").unwrap();
            c.handle_bytes(&drain(&mut s)).unwrap();
            assert_eq!(s.holds_deflater(), held, "takeover off: {takeover}");
            assert_eq!(c.holds_inflater(), held);
            assert!(!s.holds_inflater() && !c.holds_deflater());
        }
    }

    #[test]
    fn every_context_mode_round_trips_both_ways() {
        let text = "the quick brown fox jumps over the lazy dog; ".repeat(20);
        for bits in 8..=15 {
            for mode in 0..4 {
                let d = deflate()
                    .with_server_no_context_takeover(mode & 1 != 0)
                    .with_client_no_context_takeover(mode & 2 != 0)
                    .with_server_max_window_bits(bits)
                    .with_client_max_window_bits(23 - bits);
                let (mut s, mut c) = (server(d), client(d));
                for i in 0..3 {
                    let msg = format!("{i} {text}");
                    s.send_text(&msg).unwrap();
                    c.send_binary(msg.as_bytes()).unwrap();
                    c.handle_bytes(&drain(&mut s)).unwrap();
                    s.handle_bytes(&drain(&mut c)).unwrap();
                    assert_eq!(events(&mut c), [Event::Text(msg.as_str().into())]);
                    assert_eq!(events(&mut s), [Event::Binary(msg.into_bytes().into())]);
                }
            }
        }
    }

    // ---- encode once, send to many ----

    #[test]
    fn a_compressed_encoded_frame_is_shared_only_where_allowed() {
        let text = "broadcast ".repeat(50);
        let shared = EncodedFrame::text_compressed(&text, 12, 6);
        assert_eq!(shared.window_bits(), Some(12));
        assert_eq!(shared.plain_payload(), text.as_bytes());

        // Server without context takeover and a window of at least 12 bits: the same bytes.
        let d = deflate().with_server_no_context_takeover(true);
        let mut s = server(d);
        s.send_encoded(&shared).unwrap();
        let chunk = s.poll_transmit().unwrap();
        assert_eq!(
            chunk.as_ptr(),
            shared.as_bytes().as_ptr(),
            "shared, not copied"
        );

        // Each other case falls back to its own send; all decode to the text.
        let cases = [
            ("context takeover", Some(deflate())),
            ("window too small", Some(d.with_server_max_window_bits(11))),
            ("no deflate", None),
        ];
        for (why, d) in cases {
            let mut s = Connection::server(Config::default().with_deflate(d));
            s.send_encoded(&shared).unwrap();
            let chunk = s.poll_transmit().unwrap();
            assert_ne!(chunk.as_ptr(), shared.as_bytes().as_ptr(), "{why}");
            let mut c = Connection::client(Config::default().with_deflate(d), || [1, 2, 3, 4]);
            c.handle_bytes(&chunk).unwrap();
            assert_eq!(events(&mut c), [Event::Text(text.as_str().into())], "{why}");
        }

        // A client masks a copy of the compressed payload.
        let mut c = client(deflate().with_client_no_context_takeover(true));
        c.send_encoded(&shared).unwrap();
        let wire = drain(&mut c);
        assert_eq!(wire[0], 0xc1);
        let mut s = server(deflate());
        s.handle_bytes(&wire).unwrap();
        assert_eq!(events(&mut s), [Event::Text(text.as_str().into())]);
    }
}
