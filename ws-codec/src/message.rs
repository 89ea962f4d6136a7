//! Messages: the `Event`s a connection reports, and the assembler that joins fragments.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::config::{Config, DeflateSide, Role};
use crate::deflate::{Inflater, TAIL};
use crate::error::Error;
use crate::frame::{Frame, FrameHeader, OpCode};
use crate::utf8::{Utf8Bytes, Utf8Validator};

/// What the peer sent, as the application sees it.
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete, validated text message.
    Text(Utf8Bytes),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping (already answered by the connection).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The peer's close frame; code [`CloseCode::NO_STATUS`](crate::CloseCode::NO_STATUS)
    /// when it carried none.
    Close(CloseFrame),
}

const PREVIEW: usize = 32;

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn bytes(f: &mut fmt::Formatter<'_>, name: &str, data: &Bytes) -> fmt::Result {
            let shown = &data[..data.len().min(PREVIEW)];
            let more = if data.len() > PREVIEW { "..." } else { "" };
            write!(f, "{name}({} bytes: {shown:02x?}{more})", data.len())
        }
        match self {
            Event::Text(text) => {
                let cut = crate::utf8::prefix(text.as_str(), PREVIEW);
                let more = if cut.len() < text.len() { "..." } else { "" };
                write!(f, "Text({} bytes: {cut:?}{more})", text.len())
            }
            Event::Binary(data) => bytes(f, "Binary", data),
            Event::Ping(data) => bytes(f, "Ping", data),
            Event::Pong(data) => bytes(f, "Pong", data),
            Event::Close(close) => write!(f, "Close({close})"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Text(text) => write!(f, "text message of {} bytes", text.len()),
            Event::Binary(data) => write!(f, "binary message of {} bytes", data.len()),
            Event::Ping(data) => write!(f, "ping of {} bytes", data.len()),
            Event::Pong(data) => write!(f, "pong of {} bytes", data.len()),
            Event::Close(close) => write!(f, "close {close}"),
        }
    }
}

/// Joins data frames into messages; control frames pass straight through.
///
/// A message in one frame is handed out as the frame's own `Bytes` (no copy). Fragments are
/// copied into one `BytesMut`, so a flood of tiny fragments pins at most about twice
/// `max_message_size`, never a `Bytes` (and its receive buffer) per fragment.
///
/// A frame can be announced by its header ([`begin`](Self::begin)) and the payload of a
/// text message checked as it arrives ([`feed`](Self::feed)), before the whole frame is
/// [`push`](Self::push)ed; `push` then validates only the bytes not fed yet.
///
/// With permessage-deflate, a message whose first frame has RSV1 set is inflated as its
/// payload arrives (fed or pushed), into a buffer that never grows past
/// `max_message_size + 1` bytes, and text is validated on the inflated bytes.
#[derive(Debug)]
pub(crate) struct Assembler {
    max_message_size: usize,
    max_fragments: usize,
    /// The peer's compression parameters, when permessage-deflate is in use.
    deflate: Option<DeflateSide>,
    /// Created by the first compressed message; dropped after each message when the peer
    /// does not keep its window (no context takeover).
    inflater: Option<Inflater>,
    open: Option<Partial>,
    /// The frame whose header is known and whose payload is arriving.
    frame: Option<Arriving>,
    /// The UTF-8 state of the text message being received.
    utf8: Utf8Validator,
}

#[derive(Debug)]
struct Partial {
    text: bool,
    buf: BytesMut,
    fragments: usize,
    /// A compressed message: what it inflated to so far (`buf` stays empty).
    inflated: Option<Vec<u8>>,
}

#[derive(Clone, Copy, Debug)]
struct Arriving {
    /// Its payload belongs to a text message (a text frame, or a continuation of one).
    text: bool,
    /// Its payload belongs to a compressed message: it is inflated as it arrives.
    compressed: bool,
    /// Payload bytes already fed to `utf8`.
    fed: usize,
}

impl Assembler {
    pub(crate) fn new(config: &Config, role: Role) -> Self {
        Assembler {
            max_message_size: config.max_message_size(),
            max_fragments: config.max_fragments(),
            deflate: config.deflate().map(|d| d.receiving(role)),
            inflater: None,
            open: None,
            frame: None,
            utf8: Utf8Validator::new(),
        }
    }

    /// A frame's header has arrived: checks where it may stand in the message sequence (so
    /// a misplaced frame fails before its payload arrives) and prepares its UTF-8 checking.
    /// Called again for the same frame (as its payload arrives), it does nothing.
    pub(crate) fn begin(&mut self, header: &FrameHeader) -> Result<(), Error> {
        if self.frame.is_some() {
            return Ok(());
        }
        let mut compressed = false;
        let text = match (header.opcode, self.open.as_ref()) {
            (OpCode::Ping | OpCode::Pong | OpCode::Close, _) => false,
            // RFC 6455 §5.4: "the fragments of one message MUST NOT be interleaved between
            // the fragments of another message".
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(Error::ExpectedContinuation(header.opcode))
            }
            (OpCode::Text | OpCode::Binary, None) => {
                let text = header.opcode == OpCode::Text;
                if text {
                    self.utf8 = Utf8Validator::new();
                }
                // RFC 7692 §6: "the "Per-Message Compressed" bit ... indicates whether a
                // message is compressed or not"; it is set on the first frame only (the
                // decoder refuses it elsewhere, and without a negotiated extension).
                if header.rsv1 {
                    self.deflate.ok_or(Error::ReservedBits(header.rsv_bits()))?;
                    self.inflater.get_or_insert_with(Inflater::take);
                    self.open = Some(Partial {
                        text,
                        buf: BytesMut::new(),
                        fragments: 0,
                        inflated: Some(Vec::new()),
                    });
                    compressed = true;
                }
                text
            }
            // RFC 6455 §5.4: a continuation frame belongs to an open fragmented message.
            (OpCode::Continuation, None) => return Err(Error::UnexpectedContinuation),
            (OpCode::Continuation, Some(partial)) => {
                if partial.fragments >= self.max_fragments {
                    return Err(Error::TooManyFragments {
                        max: self.max_fragments,
                    });
                }
                compressed = partial.inflated.is_some();
                partial.text
            }
        };
        self.frame = Some(Arriving {
            text,
            compressed,
            fed: 0,
        });
        Ok(())
    }

    /// The next payload bytes of the frame [`begin`](Self::begin) announced: when it belongs
    /// to a text message they are validated now, failing as soon as no continuation can
    /// make the message valid UTF-8.
    pub(crate) fn feed(&mut self, payload: &[u8]) -> Result<(), Error> {
        match self.frame.as_mut() {
            Some(frame) if frame.compressed => {
                frame.fed += payload.len();
                self.inflate(payload)
            }
            Some(frame) if frame.text => {
                // RFC 6455 §8.1, Autobahn 6.4.3/6.4.4: fail fast, even inside a frame.
                self.utf8.feed(payload).map_err(|_| Error::InvalidUtf8)?;
                frame.fed += payload.len();
                Ok(())
            }
            Some(_) | None => Ok(()),
        }
    }

    /// Bytes of the open message so far, and the limit, for the decoder to refuse a frame
    /// that cannot fit from its header. A compressed message has no such bound on its wire
    /// size (`(0, u64::MAX)`): its inflated size is checked as it inflates.
    pub(crate) fn usage(&self) -> (u64, u64) {
        match &self.open {
            Some(partial) if partial.inflated.is_some() => (0, u64::MAX),
            open => {
                let used = open.as_ref().map_or(0, |p| p.buf.len());
                (used as u64, self.max_message_size as u64)
            }
        }
    }

    /// Inflates compressed payload bytes into the open message.
    fn inflate(&mut self, payload: &[u8]) -> Result<(), Error> {
        let partial = self.open.as_mut().expect("a compressed message is open");
        let out = partial
            .inflated
            .as_mut()
            .expect("the message is compressed");
        let inflater = self.inflater.as_mut().expect("created by begin");
        let utf8 = partial.text.then_some(&mut self.utf8);
        inflater.inflate(payload, out, self.max_message_size, utf8)
    }

    /// The last bytes of a compressed frame; at the end of the message, RFC 7692 §7.2.2:
    /// "1. Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of the
    /// message. 2. Decompress the resulting data using DEFLATE."
    fn push_compressed(&mut self, rest: &[u8], fin: bool) -> Result<Option<Event>, Error> {
        self.inflate(rest)?;
        let partial = self.open.as_mut().expect("a compressed message is open");
        partial.fragments += 1;
        if !fin {
            return Ok(None);
        }
        self.inflate(&TAIL)?;
        let partial = self.open.take().expect("a compressed message is open");
        if partial.text {
            self.utf8.finish().map_err(|_| Error::InvalidUtf8)?;
        }
        if self.deflate.is_some_and(|side| side.no_context_takeover) {
            // RFC 7692 §7.1.1: the peer starts its next message from an empty window, so
            // nothing of this one is needed: the inflater goes back to the thread's spares.
            if let Some(inflater) = self.inflater.take() {
                inflater.put_back();
            }
        }
        let inflated = partial.inflated.expect("the message is compressed");
        complete(partial.text, Bytes::from(inflated)).map(Some)
    }

    /// Capacity of the open compressed message's buffer (tests: never past the limit).
    #[cfg(test)]
    pub(crate) fn inflated_capacity(&self) -> Option<usize> {
        self.open.as_ref()?.inflated.as_ref().map(Vec::capacity)
    }

    /// Bytes produced by the inflater so far (tests: a bomb stops at the limit).
    #[cfg(test)]
    pub(crate) fn inflated_total(&self) -> Option<u64> {
        self.inflater.as_ref().map(Inflater::total_out)
    }

    /// Takes a whole frame ([`begin`](Self::begin) is implied if it was not called) and
    /// returns the event it completes, if any.
    pub(crate) fn push(&mut self, frame: Frame) -> Result<Option<Event>, Error> {
        self.begin(frame.header())?;
        let arriving = self.frame.take().expect("begin announced the frame");
        let opcode = frame.opcode();
        let fin = frame.fin();
        let payload = frame.into_payload();
        match opcode {
            OpCode::Ping => return Ok(Some(Event::Ping(payload))),
            OpCode::Pong => return Ok(Some(Event::Pong(payload))),
            OpCode::Close => return CloseFrame::parse(payload).map(|c| Some(Event::Close(c))),
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {}
        }
        if arriving.compressed {
            return self.push_compressed(&payload[arriving.fed..], fin);
        }
        let (used, max) = self.usage();
        let len = used + payload.len() as u64;
        if len > max {
            return Err(Error::MessageTooLarge { len, max });
        }
        let single = opcode != OpCode::Continuation && fin;
        // The validator takes the bytes of a fragment it has not seen (§8.1 with Autobahn
        // 6.4.x: fail as soon as a fragment is invalid). Not those of the last one: the
        // message is validated whole by `complete` (building its `Utf8Bytes`), so they
        // would be validated twice (64 KiB arriving in two reads: 2.6 % of the CPU).
        if arriving.text && !fin {
            self.utf8
                .feed(&payload[arriving.fed..])
                .map_err(|_| Error::InvalidUtf8)?;
        }
        let text = opcode == OpCode::Text;
        match self.open.as_mut() {
            None if single => complete(text, payload).map(Some),
            None => {
                self.open = Some(Partial {
                    text,
                    buf: BytesMut::from(&payload[..]),
                    fragments: 1,
                    inflated: None,
                });
                Ok(None)
            }
            Some(partial) => {
                partial.fragments += 1;
                partial.buf.extend_from_slice(&payload);
                if !fin {
                    return Ok(None);
                }
                let partial = self.open.take().expect("matched Some above");
                complete(partial.text, partial.buf.freeze()).map(Some)
            }
        }
    }
}

fn complete(text: bool, payload: Bytes) -> Result<Event, Error> {
    if text {
        // RFC 6455 §8.1: a text message that is not valid UTF-8 fails the connection (1007).
        Utf8Bytes::try_from(payload)
            .map(Event::Text)
            .map_err(|_| Error::InvalidUtf8)
    } else {
        Ok(Event::Binary(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::close::CloseCode;

    fn assembler(max_message_size: usize, max_fragments: usize) -> Assembler {
        Assembler::new(
            &Config::default()
                .with_max_message_size(max_message_size)
                .with_max_fragments(max_fragments),
            Role::Server,
        )
    }

    fn frame(opcode: OpCode, fin: bool, payload: &'static [u8]) -> Frame {
        Frame::new(opcode, Bytes::from_static(payload)).with_fin(fin)
    }

    #[test]
    fn joins_fragments_with_control_frames_in_between() {
        // RFC 6455 §5.4: "Control frames MAY be injected in the middle of a fragmented
        // message."
        let mut a = assembler(100, 10);
        assert_eq!(a.push(frame(OpCode::Text, false, b"Hel")), Ok(None));
        assert_eq!(
            a.push(frame(OpCode::Ping, true, b"p")),
            Ok(Some(Event::Ping(Bytes::from_static(b"p"))))
        );
        assert_eq!(a.push(frame(OpCode::Continuation, false, b"l")), Ok(None));
        assert_eq!(
            a.push(frame(OpCode::Continuation, true, b"o")),
            Ok(Some(Event::Text(Utf8Bytes::from("Hello"))))
        );
        assert_eq!(a.usage(), (0, 100));
    }

    #[test]
    fn single_frame_message_is_not_copied() {
        let payload = Bytes::from(vec![1u8; 64]);
        let ptr = payload.as_ptr();
        let mut a = assembler(100, 10);
        match a.push(Frame::new(OpCode::Binary, payload)) {
            Ok(Some(Event::Binary(data))) => assert_eq!(data.as_ptr(), ptr),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc_5_4_continuation_without_open_message_fails() {
        let err = assembler(100, 10)
            .push(frame(OpCode::Continuation, true, b"x"))
            .unwrap_err();
        assert_eq!(
            (err.clone(), err.close_code().0),
            (Error::UnexpectedContinuation, 1002)
        );
    }

    #[test]
    fn rfc_5_4_new_data_frame_while_message_open_fails() {
        let mut a = assembler(100, 10);
        a.push(frame(OpCode::Binary, false, b"x")).unwrap();
        let err = a.push(frame(OpCode::Text, true, b"y")).unwrap_err();
        assert_eq!(err, Error::ExpectedContinuation(OpCode::Text));
        assert_eq!(err.close_code().0, 1002);
    }

    #[test]
    fn message_size_is_capped_across_fragments() {
        let mut a = assembler(5, 10);
        a.push(frame(OpCode::Binary, false, b"abc")).unwrap();
        assert_eq!(a.usage(), (3, 5));
        let err = a
            .push(frame(OpCode::Continuation, true, b"def"))
            .unwrap_err();
        assert_eq!(err, Error::MessageTooLarge { len: 6, max: 5 });
        assert_eq!(err.close_code().0, 1009);
    }

    #[test]
    fn fragment_count_is_capped() {
        let mut a = assembler(100, 3);
        a.push(frame(OpCode::Binary, false, b"a")).unwrap();
        a.push(frame(OpCode::Continuation, false, b"b")).unwrap();
        a.push(frame(OpCode::Continuation, false, b"c")).unwrap();
        let err = a.push(frame(OpCode::Continuation, true, b"d")).unwrap_err();
        assert_eq!(
            (err.clone(), err.close_code().0),
            (Error::TooManyFragments { max: 3 }, 1009)
        );
    }

    #[test]
    fn one_byte_fragment_flood_pins_one_buffer() {
        // 100 000 one-byte fragments of a 1 MiB-limited message: the pinned memory is the
        // single BytesMut, not a Bytes (and its receive buffer) per fragment.
        let mut a = assembler(1 << 20, usize::MAX);
        a.push(frame(OpCode::Binary, false, b"x")).unwrap();
        for _ in 0..100_000 {
            a.push(frame(OpCode::Continuation, false, b"x")).unwrap();
        }
        let partial = a.open.as_ref().unwrap();
        assert_eq!(partial.buf.len(), 100_001);
        assert!(partial.buf.capacity() <= 4 * 100_001);
    }

    #[test]
    fn rfc_8_1_invalid_utf8_fails_at_the_bad_fragment() {
        // Autobahn 6.4.1: the fragment holding the bad byte fails before the message ends.
        let mut a = assembler(100, 10);
        a.push(frame(OpCode::Text, false, "κόσμε".as_bytes()))
            .unwrap();
        let err = a.push(frame(OpCode::Continuation, false, b"\xf4\x90\x80\x80"));
        assert_eq!(err, Err(Error::InvalidUtf8));
        assert_eq!(Error::InvalidUtf8.close_code().0, 1007);
    }

    #[test]
    fn utf8_sequence_split_across_fragments_is_accepted() {
        let euro = "€".as_bytes(); // e2 82 ac
        let mut a = assembler(100, 10);
        a.push(Frame::new(OpCode::Text, Bytes::copy_from_slice(&euro[..1])).with_fin(false))
            .unwrap();
        a.push(
            Frame::new(OpCode::Continuation, Bytes::copy_from_slice(&euro[1..2])).with_fin(false),
        )
        .unwrap();
        let done = a.push(Frame::new(
            OpCode::Continuation,
            Bytes::copy_from_slice(&euro[2..]),
        ));
        assert_eq!(done, Ok(Some(Event::Text(Utf8Bytes::from("€")))));
    }

    #[test]
    fn text_ending_inside_a_sequence_fails() {
        let mut a = assembler(100, 10);
        a.push(frame(OpCode::Text, false, b"ok\xe2\x82")).unwrap();
        assert_eq!(
            a.push(frame(OpCode::Continuation, true, b"")),
            Err(Error::InvalidUtf8)
        );
        let err = assembler(100, 10).push(frame(OpCode::Text, true, b"\xe2\x82"));
        assert_eq!(err, Err(Error::InvalidUtf8));
    }

    #[test]
    fn close_frames_are_parsed() {
        let mut a = assembler(100, 10);
        let close = a.push(frame(OpCode::Close, true, b"")).unwrap().unwrap();
        assert!(matches!(close, Event::Close(c) if c.code == CloseCode::NO_STATUS));
        assert_eq!(
            a.push(frame(OpCode::Close, true, b"\x03")),
            Err(Error::CloseFrameTooShort)
        );
    }

    #[test]
    fn debug_output_is_a_preview() {
        let event = Event::Binary(Bytes::from(vec![0xABu8; 100]));
        let shown = format!("{event:?}");
        assert!(shown.starts_with("Binary(100 bytes: [ab, ab") && shown.ends_with("...)"));
        assert_eq!(event.to_string(), "binary message of 100 bytes");
        let text = Event::Text(Utf8Bytes::from("é".repeat(40)));
        assert!(format!("{text:?}").starts_with("Text(80 bytes: \"éé"));
    }
}
