//! The resumable frame decoder: bytes in, checked and unmasked `Frame`s out.

use std::ops::Range;

use bytes::{Buf, BytesMut};

use crate::config::Role;
use crate::error::Error;
use crate::frame::{Frame, FrameHeader, OpCode};
use crate::mask::apply_mask;

/// Most receive-buffer room reserved at once for a payload still arriving.
const RESERVE_STEP: usize = 64 * 1024;

/// Decodes frames from a growing `BytesMut`, resumable from any split of the input.
///
/// The header is parsed once, checked against every frame-level rule of RFC 6455 and the
/// size limit, then kept while the payload arrives; no payload byte is buffered for a frame
/// that breaks a rule. The payload is unmasked in place as it arrives (each byte once, so a
/// frame fed in many pieces costs no more than one fed whole), then split off the input
/// buffer and frozen: no copy.
///
/// ```
/// use bytes::BytesMut;
/// use ws_codec::{Decoder, OpCode, Role};
///
/// let mut decoder = Decoder::new(Role::Client);
/// let mut buf = BytesMut::from(&b"\x81\x05Hel"[..]);
/// assert_eq!(decoder.decode(&mut buf), Ok(None)); // need more bytes
/// buf.extend_from_slice(b"lo");
/// let frame = decoder.decode(&mut buf).unwrap().unwrap();
/// assert_eq!((frame.opcode(), &frame.payload()[..]), (OpCode::Text, &b"Hello"[..]));
/// ```
#[derive(Clone, Debug)]
pub struct Decoder {
    role: Role,
    max_frame_size: u64,
    /// permessage-deflate is in use: RSV1 marks the first frame of a compressed message.
    compression: bool,
    header: Option<FrameHeader>,
    /// Payload bytes of the pending frame, at the front of the input, already unmasked.
    unmasked: usize,
}

/// What one [`Decoder::decode_step`] call made of the input.
#[derive(Debug)]
pub(crate) enum Step {
    /// Not even a whole header yet.
    Incomplete,
    /// The header is known and part of the payload is here: `arrived` is the range of the
    /// input that was unmasked by this call (payload bytes that came since the last one).
    Partial {
        header: FrameHeader,
        arrived: Range<usize>,
    },
    /// A whole frame.
    Frame(Frame),
}

impl Decoder {
    /// A decoder for `role` (its peer's frames are checked) with a 1 MiB frame limit.
    pub fn new(role: Role) -> Self {
        Decoder {
            role,
            max_frame_size: 1 << 20,
            compression: false,
            header: None,
            unmasked: 0,
        }
    }

    /// Sets the largest accepted payload.
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes as u64;
        self
    }

    /// permessage-deflate (RFC 7692) was negotiated: RSV1 is allowed on the first frame of
    /// a data message (and still an error anywhere else).
    pub(crate) fn with_compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// Room the input buffer wants when `data` is the first of it: `data`'s length, and
    /// when `data` starts a frame whose payload goes on past it, room for the rest of that
    /// payload too (at most [`RESERVE_STEP`] more, as [`decode`](Self::decode) reserves)
    /// and for the next frame's header.
    pub(crate) fn room_for(&self, data: &[u8]) -> usize {
        if self.header.is_some() {
            return data.len();
        }
        // The usual read: a short frame (7-bit length) that `data` holds whole. Its size is
        // in the second byte; the full parse (~80 instructions) is the decoder's, next.
        if let [_, b1, ..] = *data {
            let len = usize::from(b1 & 0x7F);
            if len < 126 && 2 + 4 * usize::from(b1 >> 7) + len <= data.len() {
                return data.len();
            }
        }
        self.room_for_parsed(data)
    }

    /// [`room_for`](Self::room_for) from the parsed header, whatever the frame.
    fn room_for_parsed(&self, data: &[u8]) -> usize {
        let Ok(Some((header, header_len))) = FrameHeader::parse(data) else {
            return data.len();
        };
        let whole = (header_len as u64).saturating_add(header.payload_len);
        match whole.saturating_sub(data.len() as u64) {
            0 => data.len(),
            rest => data.len() + rest.min(RESERVE_STEP as u64) as usize + FrameHeader::MAX_LEN,
        }
    }

    /// The header of the frame whose payload is still arriving, if any.
    pub fn pending_header(&self) -> Option<&FrameHeader> {
        self.header.as_ref()
    }

    /// Decodes the next frame from the front of `src`: `Ok(None)` means more bytes are needed.
    /// After an error the stream is unusable (the caller fails the connection).
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        self.decode_within(src, 0, u64::MAX)
    }

    /// Like [`decode`](Self::decode), but a data frame must fit in the message being
    /// assembled (`used` of `max` bytes), so an oversized message is refused from the
    /// header too.
    pub(crate) fn decode_within(
        &mut self,
        src: &mut BytesMut,
        used: u64,
        max: u64,
    ) -> Result<Option<Frame>, Error> {
        match self.decode_step(src, used, max)? {
            Step::Frame(frame) => Ok(Some(frame)),
            Step::Incomplete | Step::Partial { .. } => Ok(None),
        }
    }

    /// Like [`decode_within`](Self::decode_within), also reporting a frame still arriving:
    /// its header as soon as it is known, and the payload bytes unmasked by this call, so a
    /// caller can check them (UTF-8) before the frame completes.
    pub(crate) fn decode_step(
        &mut self,
        src: &mut BytesMut,
        used: u64,
        max: u64,
    ) -> Result<Step, Error> {
        let header = match self.header {
            Some(header) => header,
            // Between frames with nothing buffered (after every message read whole).
            None if src.is_empty() => return Ok(Step::Incomplete),
            None => {
                let Some((header, header_len)) = FrameHeader::parse(src)? else {
                    return Ok(Step::Incomplete);
                };
                self.check(&header, used, max)?;
                src.advance(header_len);
                self.header = Some(header);
                self.unmasked = 0;
                header
            }
        };
        // `check` bounded the length by `max_frame_size`, itself from a `usize`.
        let len = header.payload_len as usize;
        let start = self.unmasked;
        let end = src.len().min(len);
        if let Some(key) = header.mask {
            // RFC 6455 §5.3: byte i of the payload is XORed with key byte i MOD 4, so the
            // part that starts at payload offset `start` takes the key rotated by `start`.
            let mut key = key;
            key.rotate_left(start % 4);
            apply_mask(&mut src[start..end], key);
        }
        self.unmasked = end;
        if end < len {
            // Room for the rest of the payload, in steps: a peer that sends only headers
            // must not make us allocate its whole announced frame up front. And for the
            // next header: a reader filling the room exactly could not tell an emptied
            // socket from one with more to read.
            src.reserve((len - end).min(RESERVE_STEP) + FrameHeader::MAX_LEN);
            return Ok(Step::Partial {
                header,
                arrived: start..end,
            });
        }
        self.header = None;
        self.unmasked = 0;
        let payload = src.split_to(len);
        Ok(Step::Frame(Frame::from_parts(header, payload.freeze())))
    }

    fn check(&self, header: &FrameHeader, used: u64, max: u64) -> Result<(), Error> {
        // RFC 6455 §5.2: "MUST be 0 unless an extension is negotiated that defines meanings
        // for non-zero values. If a nonzero value is received and none of the negotiated
        // extensions defines the meaning of such a nonzero value, the receiving endpoint
        // MUST _Fail the WebSocket Connection_." The only extension this codec knows is
        // permessage-deflate, which gives RSV1 a meaning (RFC 7692 §6).
        if header.rsv2 || header.rsv3 || (header.rsv1 && !self.compression) {
            return Err(Error::ReservedBits(header.rsv_bits()));
        }
        if header.rsv1 {
            // RFC 7692 §6: "An endpoint MUST NOT set the "Per-Message Compressed" bit of
            // control frames and non-first fragments of a data message. An endpoint
            // receiving such a frame MUST _Fail the WebSocket Connection_."
            if header.opcode.is_control() {
                return Err(Error::CompressedControlFrame(header.opcode));
            }
            if header.opcode == OpCode::Continuation {
                return Err(Error::CompressedContinuation);
            }
        }
        if header.opcode.is_control() {
            // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or
            // less and MUST NOT be fragmented."
            if header.payload_len > 125 {
                return Err(Error::ControlFrameTooLong(header.payload_len));
            }
            if !header.fin {
                return Err(Error::FragmentedControlFrame(header.opcode));
            }
        }
        match (self.role, header.mask) {
            // RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame
            // that is not masked."
            (Role::Server, None) => return Err(Error::UnmaskedFrame),
            // RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame."
            (Role::Client, Some(_)) => return Err(Error::MaskedFrame),
            _ => {}
        }
        if header.payload_len > self.max_frame_size {
            return Err(Error::FrameTooLarge {
                len: header.payload_len,
                max: self.max_frame_size,
            });
        }
        // A compressed message is bounded by its inflated size, as it inflates.
        let len = used.saturating_add(header.payload_len);
        if !header.opcode.is_control() && !header.rsv1 && len > max {
            return Err(Error::MessageTooLarge { len, max });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    const KEY: [u8; 4] = [1, 2, 3, 4];

    fn wire(frames: &[Frame]) -> BytesMut {
        let mut dst = BytesMut::new();
        for frame in frames {
            frame.encode(&mut dst);
        }
        dst
    }

    fn decode_all(decoder: &mut Decoder, src: &mut BytesMut) -> Result<Vec<Frame>, Error> {
        let mut out = Vec::new();
        while let Some(frame) = decoder.decode(src)? {
            out.push(frame);
        }
        Ok(out)
    }

    fn sample() -> Vec<Frame> {
        vec![
            Frame::new(OpCode::Text, "Hel")
                .with_fin(false)
                .with_mask(Some(KEY)),
            Frame::new(OpCode::Ping, "p").with_mask(Some(KEY)),
            Frame::new(OpCode::Continuation, "lo").with_mask(Some(KEY)),
            Frame::new(OpCode::Binary, vec![9u8; 300]).with_mask(Some(KEY)),
            Frame::new(OpCode::Binary, vec![5u8; 70_000]).with_mask(Some(KEY)),
        ]
    }

    #[test]
    fn byte_at_a_time_equals_all_at_once() {
        let frames = sample();
        let all = wire(&frames);
        let mut decoder = Decoder::new(Role::Server);
        assert_eq!(decode_all(&mut decoder, &mut all.clone()).unwrap(), frames);

        let mut decoder = Decoder::new(Role::Server);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &byte in all.iter() {
            buf.extend_from_slice(&[byte]);
            out.extend(decode_all(&mut decoder, &mut buf).unwrap());
        }
        assert_eq!(out, frames);
        assert!(buf.is_empty() && decoder.pending_header().is_none());
    }

    #[test]
    fn header_is_kept_while_the_payload_arrives() {
        let mut buf = wire(&[Frame::new(OpCode::Binary, vec![1u8; 200]).with_mask(Some(KEY))]);
        let mut rest = buf.split_off(100);
        let mut decoder = Decoder::new(Role::Server);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(decoder.pending_header().unwrap().payload_len, 200);
        assert_eq!(
            buf.len(),
            100 - 8,
            "header consumed, payload bytes left in place"
        );
        buf.unsplit(rest.split());
        let frame = decoder.decode(&mut buf).unwrap().unwrap();
        assert_eq!(frame.payload(), &Bytes::from(vec![1u8; 200]));
    }

    #[test]
    fn rfc_5_3_payload_is_unmasked_once_as_it_arrives() {
        // RFC 6455 §5.3: "Octet i of the transformed data ("transformed-octet-i") is the XOR
        // of octet i of the original data ("original-octet-i") with octet at index i modulo 4
        // of the masking key": a part starting at offset i uses the key rotated by i mod 4.
        let plain: Vec<u8> = (0..=200u8).collect();
        let all = wire(&[Frame::new(OpCode::Binary, plain.clone()).with_mask(Some(KEY))]);
        for piece in 1..=9 {
            let mut decoder = Decoder::new(Role::Server);
            let mut buf = BytesMut::new();
            let mut seen = Vec::new();
            let mut frame = None;
            for part in all.chunks(piece) {
                buf.extend_from_slice(part);
                match decoder.decode_step(&mut buf, 0, u64::MAX).unwrap() {
                    Step::Incomplete => assert!(seen.is_empty()),
                    Step::Partial { header, arrived } => {
                        assert_eq!(header.payload_len, 201);
                        assert_eq!(arrived.start, seen.len(), "nothing handed out twice");
                        seen.extend_from_slice(&buf[arrived]);
                    }
                    Step::Frame(f) => frame = Some(f),
                }
            }
            // Unmasking a byte twice would mask it again: the payload would differ.
            let frame = frame.unwrap();
            assert_eq!(frame.payload()[..], plain[..], "piece {piece}");
            assert_eq!(seen[..], plain[..seen.len()], "piece {piece}");
            assert!(decoder.pending_header().is_none() && buf.is_empty());
        }
    }

    #[test]
    fn unmasked_frames_hand_out_arriving_bytes_too() {
        let mut buf = wire(&[Frame::new(OpCode::Text, "Hello")]);
        let mut rest = buf.split_off(4);
        let mut decoder = Decoder::new(Role::Client);
        let Ok(Step::Partial { arrived, .. }) = decoder.decode_step(&mut buf, 0, u64::MAX) else {
            panic!("header and two payload bytes");
        };
        assert_eq!(&buf[arrived], b"He");
        buf.unsplit(rest.split());
        let frame = decoder.decode(&mut buf).unwrap().unwrap();
        assert_eq!(&frame.payload()[..], b"Hello");
    }

    #[test]
    fn a_lone_header_does_not_allocate_its_whole_frame() {
        let mut buf = BytesMut::new();
        FrameHeader {
            mask: Some(KEY),
            ..FrameHeader::new(OpCode::Binary, 1 << 20)
        }
        .encode(&mut buf);
        let mut decoder = Decoder::new(Role::Server);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert!(buf.capacity() >= RESERVE_STEP && buf.capacity() < 1 << 20);
    }

    #[test]
    fn room_for_a_short_whole_frame_agrees_with_the_parsed_header() {
        let decoder = Decoder::new(Role::Server);
        for b0 in [0x81, 0x82, 0x01, 0x88, 0x8F, 0xC1] {
            for b1 in 0..=255u8 {
                for len in 2..140 {
                    let mut data = vec![0xA5u8; len];
                    data[..2].copy_from_slice(&[b0, b1]);
                    assert_eq!(
                        decoder.room_for(&data),
                        decoder.room_for_parsed(&data),
                        "{b0:#x} {b1:#x}, {len} bytes"
                    );
                }
            }
        }
    }

    #[test]
    fn room_for_a_frame_starting_in_the_first_read_covers_its_payload_up_to_a_step() {
        let mut big = wire(&[Frame::new(OpCode::Binary, vec![1u8; 65536]).with_mask(Some(KEY))]);
        let decoder = Decoder::new(Role::Server);
        // 14 header bytes: room for the whole frame, not just the 16 KiB read.
        assert_eq!(
            decoder.room_for(&big[..16384]),
            65536 + 14 + 14,
            "and the next header"
        );
        assert_eq!(decoder.room_for(&big[..5]), 5, "no whole header yet");
        assert_eq!(decoder.room_for(&big), big.len(), "the frame is all here");
        // A lone header of 1 MiB: no more than a step beyond what came.
        let mut lone = BytesMut::new();
        FrameHeader {
            mask: Some(KEY),
            ..FrameHeader::new(OpCode::Binary, 1 << 20)
        }
        .encode(&mut lone);
        assert_eq!(decoder.room_for(&lone), lone.len() + RESERVE_STEP + 14);
        big.truncate(100);
        let mut pending = decoder.clone();
        assert_eq!(pending.decode(&mut big), Ok(None));
        assert_eq!(
            pending.room_for(b"abc"),
            3,
            "inside a payload: only what came"
        );
    }

    #[test]
    fn payload_is_a_view_of_the_input_buffer() {
        let mut buf = wire(&[Frame::new(OpCode::Binary, vec![3u8; 64]).with_mask(Some(KEY))]);
        let start = buf.as_ptr() as usize;
        let frame = Decoder::new(Role::Server)
            .decode(&mut buf)
            .unwrap()
            .unwrap();
        assert_eq!(frame.payload().as_ptr() as usize, start + 6, "no copy");
    }

    #[test]
    fn rfc_5_2_reserved_bits_without_extension_fail() {
        for (byte, bits) in [(0xC2, 0b100), (0xA2, 0b010), (0x92, 0b001)] {
            let mut buf = BytesMut::from(&[byte, 0x80, 1, 2, 3, 4][..]);
            let err = Decoder::new(Role::Server).decode(&mut buf).unwrap_err();
            assert_eq!(err, Error::ReservedBits(bits));
            assert_eq!(err.close_code().0, 1002);
        }
    }

    #[test]
    fn rfc_7692_6_rsv1_marks_only_first_data_frames() {
        // RFC 7692 §6: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control
        // frames and non-first fragments of a data message. An endpoint receiving such a
        // frame MUST _Fail the WebSocket Connection_."
        let rsv1 = |frame: Frame| {
            let mut buf = wire(&[frame.with_mask(Some(KEY))]);
            buf[0] |= 0x40;
            Decoder::new(Role::Server)
                .with_compression(true)
                .decode(&mut buf)
        };
        assert!(
            rsv1(Frame::new(OpCode::Text, "x"))
                .unwrap()
                .unwrap()
                .header()
                .rsv1
        );
        let first = rsv1(Frame::new(OpCode::Binary, "x").with_fin(false));
        assert!(first.unwrap().unwrap().header().rsv1);
        for op in [OpCode::Ping, OpCode::Pong, OpCode::Close] {
            let err = rsv1(Frame::new(op, "")).unwrap_err();
            assert_eq!(
                (err.clone(), err.close_code().0),
                (Error::CompressedControlFrame(op), 1002)
            );
        }
        let err = rsv1(Frame::new(OpCode::Continuation, "x")).unwrap_err();
        assert_eq!(
            (err.clone(), err.close_code().0),
            (Error::CompressedContinuation, 1002)
        );
        // RSV2 and RSV3 stay reserved with permessage-deflate (RFC 6455 §5.2).
        for (byte, bits) in [(0xA2, 0b010), (0x92, 0b001), (0xE2, 0b110)] {
            let mut buf = BytesMut::from(&[byte, 0x80, 1, 2, 3, 4][..]);
            let decoder = &mut Decoder::new(Role::Server).with_compression(true);
            assert_eq!(decoder.decode(&mut buf), Err(Error::ReservedBits(bits)));
        }
    }

    #[test]
    fn compressed_frames_are_not_held_to_the_message_limit_by_their_wire_size() {
        // The limit applies to the inflated message (checked as it inflates); the frame
        // limit still applies to the wire.
        let mut buf = wire(&[Frame::new(OpCode::Binary, vec![0u8; 20]).with_mask(Some(KEY))]);
        buf[0] |= 0x40;
        let mut decoder = Decoder::new(Role::Server).with_compression(true);
        assert!(decoder.decode_within(&mut buf, 0, 10).unwrap().is_some());
    }

    #[test]
    fn rfc_5_2_unknown_opcode_fails() {
        let mut buf = BytesMut::from(&[0x85, 0x80, 1, 2, 3, 4][..]);
        let err = Decoder::new(Role::Server).decode(&mut buf).unwrap_err();
        assert_eq!(
            (err.clone(), err.close_code().0),
            (Error::UnknownOpCode(5), 1002)
        );
    }

    #[test]
    fn rfc_5_5_control_frame_longer_than_125_fails_before_its_payload() {
        let mut buf = BytesMut::from(&[0x89, 0xFE, 0x00, 0x7E, 1, 2, 3, 4][..]);
        let err = Decoder::new(Role::Server).decode(&mut buf).unwrap_err();
        assert_eq!(
            (err.clone(), err.close_code().0),
            (Error::ControlFrameTooLong(126), 1002)
        );
    }

    #[test]
    fn rfc_5_5_fragmented_control_frame_fails() {
        let mut buf = wire(&[Frame::new(OpCode::Ping, "")
            .with_fin(false)
            .with_mask(Some(KEY))]);
        let err = Decoder::new(Role::Server).decode(&mut buf).unwrap_err();
        assert_eq!(err, Error::FragmentedControlFrame(OpCode::Ping));
        assert_eq!(err.close_code().0, 1002);
    }

    #[test]
    fn rfc_5_1_server_rejects_unmasked_client_frames() {
        let mut buf = wire(&[Frame::new(OpCode::Text, "hi")]);
        let err = Decoder::new(Role::Server).decode(&mut buf).unwrap_err();
        assert_eq!(
            (err.clone(), err.close_code().0),
            (Error::UnmaskedFrame, 1002)
        );
    }

    #[test]
    fn rfc_5_1_client_rejects_masked_server_frames() {
        let mut buf = wire(&[Frame::new(OpCode::Text, "hi").with_mask(Some(KEY))]);
        let err = Decoder::new(Role::Client).decode(&mut buf).unwrap_err();
        assert_eq!(
            (err.clone(), err.close_code().0),
            (Error::MaskedFrame, 1002)
        );
    }

    #[test]
    fn frame_limit_is_checked_from_the_header() {
        // Only the header of a 2 MiB frame has arrived: it is refused at once.
        let mut buf = BytesMut::new();
        FrameHeader {
            mask: Some(KEY),
            ..FrameHeader::new(OpCode::Binary, 2 << 20)
        }
        .encode(&mut buf);
        let err = Decoder::new(Role::Server).decode(&mut buf).unwrap_err();
        assert_eq!(
            err,
            Error::FrameTooLarge {
                len: 2 << 20,
                max: 1 << 20
            }
        );
        assert_eq!(err.close_code().0, 1009);

        let mut buf = wire(&[Frame::new(OpCode::Binary, vec![0u8; 11]).with_mask(Some(KEY))]);
        let mut decoder = Decoder::new(Role::Server).with_max_frame_size(10);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(Error::FrameTooLarge { len: 11, max: 10 })
        );
    }

    #[test]
    fn message_room_applies_to_data_frames_only() {
        let frames = [
            Frame::new(OpCode::Ping, "12345").with_mask(Some(KEY)),
            Frame::new(OpCode::Binary, "12345").with_mask(Some(KEY)),
        ];
        let mut buf = wire(&frames);
        let mut decoder = Decoder::new(Role::Server);
        assert!(decoder.decode_within(&mut buf, 6, 10).unwrap().is_some());
        assert_eq!(
            decoder.decode_within(&mut buf, 6, 10),
            Err(Error::MessageTooLarge { len: 11, max: 10 })
        );
    }
}
