//! The sans-IO connection state machine: received bytes and API calls in, events and bytes
//! to write out. Named after quinn-proto's: `handle_*` feeds it, `poll_*` drains it.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::close::{truncate_reason, CloseCode, CloseFrame};
use crate::config::{Config, Deflate, DeflateSide, Role};
use crate::decoder::{Decoder, Step};
use crate::deflate::{can_compress, Deflater};
use crate::error::{Error, SendError};
use crate::frame::{encode_frame, EncodedFrame, FrameHeader, OpCode};
use crate::message::{Assembler, Event};
use crate::utf8::Utf8Bytes;

/// Shortest payload [`Connection::send_binary_bytes`] queues without a copy: below it, one
/// copy into the header's buffer costs less than a second chunk to write.
pub const SHARE_MIN: usize = 1024;

/// Supplies a fresh masking key for each frame a client sends (RFC 6455 §5.3: "MUST pick a
/// fresh masking key from the set of allowed 32-bit values", unpredictable: use a CSPRNG).
pub type MaskSource = Box<dyn FnMut() -> [u8; 4] + Send>;

/// Where the close handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's.
    CloseSent,
    /// Both close frames were exchanged, or the peer never answered ours in time.
    Closed,
    /// The peer broke the protocol; our close frame (with the error's code) is queued.
    Failed,
    /// The peer broke the protocol and [`Config::deferred_failure`] is on: further input is
    /// ignored, the application may still send its answers to the events that came before
    /// the error, and [`Connection::fail`] queues the close (then the state is `Failed`).
    Failing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Idle,
    /// Started at the next `handle_timeout(now)`: the connection has no clock of its own.
    Wanted,
    Armed(Instant),
    Expired,
}

/// One WebSocket connection after the handshake, as a pure state machine.
///
/// Feed it what the socket read ([`handle_bytes`](Self::handle_bytes), or read straight into
/// [`recv_buffer`](Self::recv_buffer) then call [`handle_buffered`](Self::handle_buffered)),
/// take [`poll_event`](Self::poll_event) until `None`, write every chunk of
/// [`poll_transmit`](Self::poll_transmit) in order, call
/// [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout) passes,
/// and close the socket when [`should_close_transport`](Self::should_close_transport) says so
/// (after writing what is queued).
///
/// It answers every ping with its own pong, in order, while fewer than
/// [`Config::max_pending_pongs`] pongs wait to be transmitted (past that, a new ping replaces
/// the payload of the newest waiting pong, so a flood costs bounded memory), answers the peer's
/// close, and on any protocol error reports the error once, ignores further input and queues
/// a close with the error's code: at once, or (with [`Config::deferred_failure`]) when the
/// application calls [`fail`](Self::fail) after answering the events before the error.
///
/// `repr(C)`, laid out by use (issue 17, a server with 1000 connections: each cache line a
/// message touches is a miss): the state, then what sending and writing touch, then what
/// receiving and the timer touch, then the rarely used rest.
#[repr(C)]
pub struct Connection {
    state: State,
    /// Any byte was received: the extension can no longer be switched on.
    received: bool,
    /// How this end compresses (permessage-deflate), `None` when it does not.
    compress: Option<Compressing>,
    masks: Option<MaskSource>,
    transmit_len: usize,
    /// Encoded size of the waiting pongs.
    pongs_len: usize,
    /// Chunks pushed to and popped from `transmit` so far, and the numbers of the pushed
    /// chunks that are a shared payload following its header: no pong may go out between.
    pushed: u64,
    popped: u64,
    transmit: VecDeque<Bytes>,
    /// Where small frames are encoded, each split off as a `Bytes` of it: one
    /// allocation serves many frames, and once the frames written are gone the
    /// same memory serves again (an echo of small messages allocates nothing).
    small: BytesMut,
    /// Payloads of pongs waiting for `poll_transmit`, oldest first; at most
    /// `config.max_pending_pongs()`.
    pongs: VecDeque<Bytes>,
    glued: VecDeque<u64>,
    timer: Timer,
    peer_close: Option<CloseFrame>,
    recv: BytesMut,
    events: VecDeque<Event>,
    decoder: Decoder,
    assembler: Assembler,
    sent_close: Option<CloseFrame>,
    error: Option<Error>,
    /// Created by the first compressed message; dropped after each one when this end has
    /// no context takeover.
    deflater: Option<Deflater>,
    config: Config,
}

/// Frames up to this size (header included) are encoded into the connection's block of
/// [`SMALL_BLOCK`] bytes rather than an allocation of their own.
const SMALL_FRAME: usize = 128;
/// The block small frames are split from. Kept per connection while it lives: small, so
/// that an idle connection that once sent a message holds little.
const SMALL_BLOCK: usize = 256;

/// How `role` compresses under `config`. A sending window of 8 bits cannot be honoured by
/// zlib: never compress with it (see `deflate::can_compress`), the messages go out with RSV1
/// clear.
fn compressing(config: &Config, role: Role) -> Option<Compressing> {
    config.deflate().and_then(|d| {
        let side = d.sending(role);
        can_compress(side.window_bits).then_some(Compressing {
            side,
            level: d.level(),
            threshold: d.threshold(),
        })
    })
}

/// This end's compression parameters and local choices.
#[derive(Clone, Copy, Debug)]
struct Compressing {
    side: DeflateSide,
    level: u32,
    threshold: usize,
}

impl Connection {
    /// The server end: expects masked frames, sends unmasked ones.
    pub fn server(config: Config) -> Self {
        Self::new(config, None)
    }

    /// The client end: expects unmasked frames, masks every frame with a key from `masks`.
    pub fn client(config: Config, masks: impl FnMut() -> [u8; 4] + Send + 'static) -> Self {
        Self::new(config, Some(Box::new(masks)))
    }

    fn new(config: Config, masks: Option<MaskSource>) -> Self {
        let role = if masks.is_some() {
            Role::Client
        } else {
            Role::Server
        };
        let compress = compressing(&config, role);
        Connection {
            decoder: Decoder::new(role)
                .with_max_frame_size(config.max_frame_size())
                .with_compression(config.deflate().is_some()),
            assembler: Assembler::new(&config, role),
            compress,
            deflater: None,
            received: false,
            config,
            masks,
            recv: BytesMut::new(),
            events: VecDeque::new(),
            transmit: VecDeque::new(),
            small: BytesMut::new(),
            transmit_len: 0,
            pushed: 0,
            popped: 0,
            glued: VecDeque::new(),
            pongs: VecDeque::new(),
            pongs_len: 0,
            state: State::Open,
            sent_close: None,
            peer_close: None,
            error: None,
            timer: Timer::Idle,
        }
    }

    /// Turns permessage-deflate on (or off) once the opening handshake has negotiated it
    /// (RFC 7692 §5), for a connection built before the handshake was done. Only before any
    /// byte was received: afterwards the configuration stays and `false` is returned. Frames
    /// already queued stay uncompressed, which the extension allows (RSV1 clear, §6).
    pub fn set_deflate(&mut self, deflate: Option<Deflate>) -> bool {
        if self.received || self.state != State::Open {
            return false;
        }
        let role = self.role();
        self.config = self.config.clone().with_deflate(deflate);
        self.decoder = Decoder::new(role)
            .with_max_frame_size(self.config.max_frame_size())
            .with_compression(self.config.deflate().is_some());
        self.assembler = Assembler::new(&self.config, role);
        self.compress = compressing(&self.config, role);
        self.deflater = None;
        true
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        if self.masks.is_some() {
            Role::Client
        } else {
            Role::Server
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// Closed or failed: no more events will come and nothing but queued bytes goes out.
    /// `Failing` is not closed: the application may still send until it calls
    /// [`fail`](Self::fail).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed | State::Failed)
    }

    /// The protocol error that failed the connection, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The close frame the peer sent, if it sent one.
    pub fn peer_close(&self) -> Option<&CloseFrame> {
        self.peer_close.as_ref()
    }

    /// The close frame this end queued, if it queued one.
    pub fn sent_close(&self) -> Option<&CloseFrame> {
        self.sent_close.as_ref()
    }

    /// Whether the I/O layer should close the transport now, once it has written every
    /// queued chunk: after an error; for a server once both closes are exchanged (RFC 6455
    /// §7.1.1: "the server MUST close the underlying TCP connection immediately"); for a
    /// client once the close timeout expired (§7.1.1: the client waits for the server to
    /// close TCP first, and MAY close it itself after a reasonable time).
    pub fn should_close_transport(&self) -> bool {
        match self.state {
            State::Failed => true,
            State::Closed => self.role() == Role::Server || self.timer == Timer::Expired,
            State::Open | State::CloseSent | State::Failing => false,
        }
    }

    // ---- input ----

    /// Feeds bytes read from the transport and processes every complete frame in them.
    /// On a protocol error the close frame is queued (or, with [`Config::deferred_failure`],
    /// left to [`fail`](Self::fail)), the error is returned, and all later input is ignored
    /// (`Ok(())`); input after the peer's close is ignored too. Events decoded before the
    /// error stay available through [`poll_event`](Self::poll_event).
    pub fn handle_bytes(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.accepts_input() {
            if self.recv.is_empty() {
                // A frame that starts here and goes on past `data` gets its room now, in
                // one allocation, rather than a small one grown (a copy) as the rest arrives.
                self.recv.reserve(self.decoder.room_for(data));
            }
            self.recv.extend_from_slice(data);
        }
        self.process()
    }

    /// Like [`handle_bytes`](Self::handle_bytes), taking an owned buffer: when nothing is
    /// buffered yet it becomes the receive buffer, without a copy.
    pub fn handle_buf(&mut self, buf: BytesMut) -> Result<(), Error> {
        if self.accepts_input() {
            if self.recv.is_empty() {
                self.recv = buf;
            } else {
                self.recv.extend_from_slice(&buf);
            }
        }
        self.process()
    }

    /// The receive buffer, for an I/O layer to read into directly (append at its end, e.g.
    /// with `BufMut`); then call [`handle_buffered`](Self::handle_buffered). While a frame's
    /// payload is arriving the buffer has room reserved for it (up to 64 KiB at a time).
    pub fn recv_buffer(&mut self) -> &mut BytesMut {
        &mut self.recv
    }

    /// Payload bytes of the frame being received that are still to come: 0 between frames,
    /// and once input is no longer taken. An I/O layer may read that much straight into
    /// [`recv_buffer`](Self::recv_buffer) (where the codec reserves room for it, up to
    /// 64 KiB at a time), instead of into a buffer of its own and then a copy.
    pub fn awaited_payload(&self) -> usize {
        if !self.accepts_input() {
            return 0;
        }
        // The pending frame's payload sits at the front of the receive buffer.
        self.decoder.pending_header().map_or(0, |h| {
            usize::try_from(h.payload_len)
                .unwrap_or(usize::MAX)
                .saturating_sub(self.recv.len())
        })
    }

    /// The room [`handle_bytes`](Self::handle_bytes) reserves for `data` when nothing is
    /// buffered: `data`'s length, and for a frame that starts in `data` and goes on past it,
    /// the rest of its payload too (up to 64 KiB more) and the next header. An I/O layer
    /// that recycles receive buffers gives the codec one this large.
    pub fn room_for(&self, data: &[u8]) -> usize {
        self.decoder.room_for(data)
    }

    /// Processes what was appended to [`recv_buffer`](Self::recv_buffer).
    pub fn handle_buffered(&mut self) -> Result<(), Error> {
        self.process()
    }

    fn accepts_input(&self) -> bool {
        !matches!(self.state, State::Failed | State::Failing) && self.peer_close.is_none()
    }

    fn process(&mut self) -> Result<(), Error> {
        self.received |= !self.recv.is_empty();
        while self.accepts_input() {
            let (used, max) = self.assembler.usage();
            let frame = match self.decoder.decode_step(&mut self.recv, used, max) {
                Ok(Step::Frame(frame)) => frame,
                Ok(Step::Incomplete) => return Ok(()),
                Ok(Step::Partial { header, arrived }) => {
                    // The frame is still arriving: check its place in the message now, and
                    // its text as it comes (RFC 6455 §8.1, fail fast: Autobahn 6.4.3/6.4.4).
                    // Bytes fed here are not fed again; the whole message is validated once
                    // it completes.
                    let checked = self
                        .assembler
                        .begin(&header)
                        .and_then(|()| self.assembler.feed(&self.recv[arrived]));
                    return checked.map_err(|e| self.on_error(e));
                }
                Err(e) => return Err(self.on_error(e)),
            };
            match self.assembler.push(frame) {
                Ok(Some(event)) => self.on_event(event),
                Ok(None) => {}
                Err(e) => return Err(self.on_error(e)),
            }
        }
        self.recv.clear();
        Ok(())
    }

    fn on_event(&mut self, event: Event) {
        match &event {
            // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong
            // frame in response"; §5.5.3: "If an endpoint receives a Ping frame and has not
            // yet sent Pong frame(s) in response to previous Ping frame(s), the endpoint MAY
            // elect to send a Pong frame for only the most recently processed Ping frame."
            // So: one pong per ping, in order, up to the limit; then the newest waiting pong
            // takes the latest payload.
            // The payload is copied (at most 125 bytes): a slice would keep the whole
            // receive buffer it came in alive while the pong waits.
            Event::Ping(payload) if self.state == State::Open => {
                self.queue_pong(Bytes::copy_from_slice(payload));
            }
            Event::Close(close) => {
                self.peer_close = Some(close.clone());
                if self.state == State::Open {
                    // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not
                    // previously send a Close frame, the endpoint MUST send a Close frame in
                    // response ... typically echoing the status code it received."
                    let code = match close.code {
                        CloseCode::NO_STATUS => CloseCode::NORMAL,
                        code => code,
                    };
                    self.queue_close(code, "");
                }
                self.state = State::Closed;
                if self.role() == Role::Client && self.timer == Timer::Idle {
                    self.timer = Timer::Wanted;
                }
            }
            _ => {}
        }
        self.events.push_back(event);
    }

    fn on_error(&mut self, error: Error) -> Error {
        if self.config.deferred_failure() && self.state == State::Open {
            // The close waits for `fail()`, so the application's answers to the events
            // before the error can go out first.
            self.state = State::Failing;
        } else {
            // RFC 6455 §7.1.7: to fail the connection, send a close frame with the code
            // (if none was sent yet) and close the transport.
            if self.sent_close.is_none() {
                self.pongs.clear();
                self.pongs_len = 0;
                self.queue_close(error.close_code(), &error.to_string());
            }
            self.state = State::Failed;
        }
        self.recv = BytesMut::new();
        self.error = Some(error.clone());
        error
    }

    // ---- output ----

    /// The next event, in the order the peer sent it.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next chunk to write to the transport, in order; each is one or more whole
    /// frames (or, after [`send_binary_bytes`](Self::send_binary_bytes), a frame's header
    /// and then its payload), so several can be written at once with a vectored write.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let mid_frame = self.glued.front() == Some(&self.popped);
        if !mid_frame {
            if let Some(payload) = self.pongs.pop_front() {
                self.pongs_len -= self.pong_len(&payload);
                return Some(self.encode(OpCode::Pong, &payload));
            }
        }
        let chunk = self.transmit.pop_front()?;
        if mid_frame {
            self.glued.pop_front();
        }
        self.popped += 1;
        self.transmit_len -= chunk.len();
        Some(chunk)
    }

    /// Bytes waiting in [`poll_transmit`](Self::poll_transmit): what a high-water mark
    /// for backpressure compares against.
    pub fn pending_transmit_bytes(&self) -> usize {
        self.transmit_len + self.pongs_len
    }

    /// Frames waiting in [`poll_transmit`](Self::poll_transmit) (each is one queue entry and
    /// one allocation, or a share of a 256-byte block for a small frame: with
    /// [`pending_transmit_bytes`](Self::pending_transmit_bytes), what the queue costs in
    /// memory).
    pub fn pending_transmit_frames(&self) -> usize {
        self.transmit.len() + self.pongs.len()
    }

    /// Whether as many pongs wait as [`Config::max_pending_pongs`] allows: further pings
    /// only replace the newest one's payload (the peer sends pings faster than it reads).
    pub fn pongs_full(&self) -> bool {
        self.pongs.len() >= self.config.max_pending_pongs()
    }

    fn queue_pong(&mut self, payload: Bytes) {
        self.pongs_len += self.pong_len(&payload);
        if self.pongs.len() >= self.config.max_pending_pongs() {
            if let Some(newest) = self.pongs.back_mut() {
                let old = std::mem::replace(newest, payload);
                self.pongs_len -= self.pong_len(&old);
                return;
            }
        }
        self.pongs.push_back(payload);
    }

    /// Encoded size of a pong carrying `payload`.
    fn pong_len(&self, payload: &Bytes) -> usize {
        let masked = self.masks.is_some() as usize * 4;
        FrameHeader::new(OpCode::Pong, payload.len() as u64).encoded_len() + masked + payload.len()
    }

    /// Queues a text message (one frame), compressed when permessage-deflate is configured
    /// ([`Config::with_deflate`]) and the text is at least
    /// [`Deflate::threshold`](crate::Deflate::threshold) bytes long.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(OpCode::Text, text.as_bytes(), true)
    }

    /// Queues a binary message (one frame), compressed like [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: impl AsRef<[u8]>) -> Result<(), SendError> {
        self.send_message(OpCode::Binary, data.as_ref(), true)
    }

    /// Queues a text message uncompressed even when permessage-deflate is configured (data
    /// known not to compress, or already compressed).
    pub fn send_text_uncompressed(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(OpCode::Text, text.as_bytes(), false)
    }

    /// Queues a text message from shared bytes: as [`send_text`](Self::send_text), without
    /// copying a long payload that goes out as it is (see
    /// [`send_binary_bytes`](Self::send_binary_bytes)).
    pub fn send_text_bytes(&mut self, text: Utf8Bytes) -> Result<(), SendError> {
        self.send_shared(OpCode::Text, text.into_bytes())
    }

    /// Queues a binary message from shared bytes: as [`send_binary`](Self::send_binary),
    /// but a payload of at least [`SHARE_MIN`] bytes that goes out as it is (a server's,
    /// not compressed) is not copied: [`poll_transmit`](Self::poll_transmit) gives the
    /// frame's header, then the payload itself (an echo sends back the received bytes).
    /// A client masks, and compressing makes new bytes anyway: those encode as `send_binary`.
    pub fn send_binary_bytes(&mut self, data: Bytes) -> Result<(), SendError> {
        self.send_shared(OpCode::Binary, data)
    }

    /// A data frame written by the caller at once instead of queued: when
    /// nothing waits in [`poll_transmit`](Self::poll_transmit) (no frame, no pong),
    /// this end is a server (no mask) and the payload is not compressed, encodes
    /// the frame a [`send_binary`](Self::send_binary) or [`send_text`](Self::send_text)
    /// of `payload` would queue into `buf` and returns its length. The caller
    /// writes those bytes before anything queued later. `None`, and nothing
    /// changes, when one of those does not hold, the frame does not fit `buf`,
    /// `opcode` is not `Text` or `Binary`, or no data may be sent: the usual send
    /// then queues it (or says why it cannot). A text payload must be UTF-8.
    ///
    /// What it saves an echo of small messages: the frame's `Bytes`, its queue
    /// slot and the `poll_transmit` round trip (~600 instructions a message
    /// on the server's whole path; docs/benchmarks.md).
    pub fn encode_now(&mut self, opcode: OpCode, payload: &[u8], buf: &mut [u8]) -> Option<usize> {
        let plain = self.masks.is_none()
            && !self.compresses(payload.len())
            && matches!(opcode, OpCode::Text | OpCode::Binary);
        if !plain
            || !self.transmit.is_empty()
            || !self.pongs.is_empty()
            || self.check_open().is_err()
        {
            return None;
        }
        let (header, header_len) = FrameHeader::new(opcode, payload.len() as u64).to_bytes();
        let len = header_len + payload.len();
        let frame = buf.get_mut(..len)?;
        frame[..header_len].copy_from_slice(&header[..header_len]);
        frame[header_len..].copy_from_slice(payload);
        Some(len)
    }

    /// Whether a message of `len` bytes would be compressed (permessage-deflate
    /// agreed, and the message at least its threshold).
    fn compresses(&self, len: usize) -> bool {
        self.compress.is_some_and(|c| len >= c.threshold)
    }

    fn send_shared(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), SendError> {
        if self.masks.is_some() || self.compresses(payload.len()) || payload.len() < SHARE_MIN {
            return self.send_message(opcode, &payload, true);
        }
        self.check_open()?;
        let (header, len) = FrameHeader::new(opcode, payload.len() as u64).to_bytes();
        self.push_transmit(Bytes::copy_from_slice(&header[..len]));
        self.glued.push_back(self.pushed);
        self.push_transmit(payload);
        Ok(())
    }

    /// Queues a binary message uncompressed even when permessage-deflate is configured.
    pub fn send_binary_uncompressed(&mut self, data: impl AsRef<[u8]>) -> Result<(), SendError> {
        self.send_message(OpCode::Binary, data.as_ref(), false)
    }

    /// Queues a frame encoded once for many connections. A server queues the shared bytes
    /// as they are (no copy); a client must mask, so it encodes a masked copy.
    ///
    /// A compressed frame ([`EncodedFrame::text_compressed`]) is shared only where its
    /// bytes are what this end may send: permessage-deflate is configured, this end's side
    /// has no context takeover (`server_no_context_takeover` for a server, RFC 7692
    /// §7.1.1: otherwise the peer's window and ours would diverge), and the frame's window
    /// bits are at most this end's `*_max_window_bits` (§7.1.2). Elsewhere it falls back:
    /// the connection sends the frame's plain payload as [`send_text`](Self::send_text)
    /// would (compressing it itself, or uncompressed), so a broadcast may go to every
    /// connection whatever it negotiated.
    pub fn send_encoded(&mut self, frame: &EncodedFrame) -> Result<(), SendError> {
        self.check_open()?;
        if let Some(bits) = frame.window_bits() {
            if !self.can_share(bits) {
                return self.send_message(frame.opcode(), frame.plain_payload(), true);
            }
            if self.masks.is_some() {
                let header = FrameHeader {
                    rsv1: true,
                    ..FrameHeader::new(frame.opcode(), 0)
                };
                let chunk = self.encode_with(header, frame.payload());
                self.push_transmit(chunk);
                return Ok(());
            }
        } else if self.masks.is_some() {
            return self.send_data(frame.opcode(), frame.payload());
        }
        self.push_transmit(frame.as_bytes().clone());
        Ok(())
    }

    /// Whether a message compressed from an empty window of `2^bits` bytes is one this end
    /// may send as it is.
    fn can_share(&self, bits: u8) -> bool {
        self.compress
            .is_some_and(|c| c.side.no_context_takeover && bits <= c.side.window_bits)
    }

    /// Whether this end holds a compressor (tests: it is created lazily and released after
    /// each message under no context takeover).
    #[cfg(test)]
    pub(crate) fn holds_deflater(&self) -> bool {
        self.deflater.is_some()
    }

    /// Whether this end holds an inflater.
    #[cfg(test)]
    pub(crate) fn holds_inflater(&self) -> bool {
        self.assembler.inflated_total().is_some()
    }

    /// Bytes the inflater produced, and the capacity of the open message's buffer.
    #[cfg(test)]
    pub(crate) fn inflate_usage(&self) -> (Option<u64>, Option<usize>) {
        (
            self.assembler.inflated_total(),
            self.assembler.inflated_capacity(),
        )
    }

    fn send_message(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        compress: bool,
    ) -> Result<(), SendError> {
        match self.compress {
            Some(c) if compress && payload.len() >= c.threshold => {
                self.check_open()?;
                let header = FrameHeader {
                    mask: self.masks.as_mut().map(|next| next()),
                    ..FrameHeader::new(opcode, 0)
                };
                let deflater = self
                    .deflater
                    .get_or_insert_with(|| Deflater::take(c.side.window_bits, c.level));
                let chunk = deflater.compress_frame(header, payload);
                if c.side.no_context_takeover {
                    // RFC 7692 §7.1.1: the next message starts from an empty window, so the
                    // connection keeps no compressor between messages: this one goes back
                    // to its thread's spares, reset, for the next message of any connection.
                    if let Some(d) = self.deflater.take() {
                        d.put_back();
                    }
                }
                self.push_transmit(chunk);
                Ok(())
            }
            _ => self.send_data(opcode, payload),
        }
    }

    /// Queues a ping; its payload must fit a control frame (125 bytes, RFC 6455 §5.5).
    pub fn ping(&mut self, payload: impl AsRef<[u8]>) -> Result<(), SendError> {
        let payload = payload.as_ref();
        if payload.len() > 125 {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        self.send_data(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong (RFC 6455 §5.5.3: "A Pong frame MAY be sent unsolicited.
    /// This serves as a unidirectional heartbeat. A response to an unsolicited Pong frame is
    /// not expected."); its payload must fit a control frame (125 bytes).
    pub fn pong(&mut self, payload: impl AsRef<[u8]>) -> Result<(), SendError> {
        let payload = payload.as_ref();
        if payload.len() > 125 {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        self.send_data(OpCode::Pong, payload)
    }

    /// Starts the close handshake: queues a close frame (the reason cut to 123 bytes on a
    /// character boundary; [`CloseCode::NO_STATUS`] sends an empty close payload). After
    /// it, every send returns [`SendError::Closed`].
    ///
    /// The close timer starts at the next [`handle_timeout`](Self::handle_timeout) call (the
    /// connection has no clock): call `handle_timeout(now)` after `close`, then arm a timer
    /// for [`poll_timeout`](Self::poll_timeout).
    ///
    /// While [`Failing`](State::Failing), `close` is [`fail`](Self::fail): the close carries
    /// the protocol error's code and reason, not `code` and `reason` (RFC 6455 §7.4.1: the
    /// code says why the connection ends).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if self.state == State::Failing {
            return self.fail();
        }
        self.check_open()?;
        if !code.is_valid_on_wire() && code != CloseCode::NO_STATUS {
            return Err(SendError::InvalidCloseCode(code));
        }
        self.queue_close(code, reason);
        self.state = State::CloseSent;
        self.timer = Timer::Wanted;
        Ok(())
    }

    /// Ends a deferred failure ([`Config::deferred_failure`]): queues the close frame with
    /// the protocol error's code and reason (RFC 6455 §7.1.7: _Fail the WebSocket
    /// Connection_), after everything sent so far, and moves to [`State::Failed`], exactly as
    /// an immediate failure does: [`should_close_transport`](Self::should_close_transport)
    /// is then true, and every later send returns [`SendError::Closed`].
    ///
    /// Call it once the events decoded before the error are handled. Already `Failed` (an
    /// immediate failure, or `fail` called twice): nothing to do, `Ok(())`. Any other state:
    /// [`SendError::NotFailing`].
    pub fn fail(&mut self) -> Result<(), SendError> {
        match (self.state, self.error.clone()) {
            (State::Failing, Some(error)) => {
                // Pongs still waiting answer pings that came before the error: they go out
                // first, as every other answer does.
                self.queue_close(error.close_code(), &error.to_string());
                self.state = State::Failed;
                self.timer = Timer::Wanted;
                Ok(())
            }
            (State::Failed, _) => Ok(()),
            _ => Err(SendError::NotFailing),
        }
    }

    fn check_open(&self) -> Result<(), SendError> {
        // RFC 6455 §5.5.1: "The application MUST NOT send any more data frames after
        // sending a Close frame." While failing, no close was sent yet.
        match self.state {
            State::Open | State::Failing => Ok(()),
            State::CloseSent | State::Closed | State::Failed => Err(SendError::Closed),
        }
    }

    fn send_data(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        let chunk = self.encode(opcode, payload);
        self.push_transmit(chunk);
        Ok(())
    }

    fn queue_close(&mut self, code: CloseCode, reason: &str) {
        while let Some(payload) = self.pongs.pop_front() {
            let pong = self.encode(OpCode::Pong, &payload);
            self.push_transmit(pong);
        }
        self.pongs_len = 0;
        let mut payload = BytesMut::new();
        CloseFrame::encode_payload(code, reason, &mut payload);
        let frame = self.encode(OpCode::Close, &payload);
        self.push_transmit(frame);
        let reason = if code == CloseCode::NO_STATUS {
            ""
        } else {
            truncate_reason(reason)
        };
        self.sent_close = Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        });
    }

    fn encode(&mut self, opcode: OpCode, payload: &[u8]) -> Bytes {
        self.encode_with(FrameHeader::new(opcode, 0), payload)
    }

    /// Encodes `header` (a fresh mask for a client, the length from `payload`) and `payload`.
    fn encode_with(&mut self, header: FrameHeader, payload: &[u8]) -> Bytes {
        let header = FrameHeader {
            mask: self.masks.as_mut().map(|next| next()),
            payload_len: payload.len() as u64,
            ..header
        };
        let len = header.encoded_len() + payload.len();
        if len > SMALL_FRAME {
            let mut dst = BytesMut::with_capacity(len);
            encode_frame(&header, payload, &mut dst);
            return dst.freeze();
        }
        if self.small.capacity() < len {
            // Reclaims the block in place when no frame split from it is alive.
            self.small.reserve(SMALL_BLOCK);
        }
        encode_frame(&header, payload, &mut self.small);
        self.small.split().freeze()
    }

    fn push_transmit(&mut self, chunk: Bytes) {
        self.transmit_len += chunk.len();
        self.transmit.push_back(chunk);
        self.pushed += 1;
    }

    // ---- time ----

    /// Tells the connection the time. Starts a close timer that is waiting for its first
    /// `now`, and ends a close handshake the peer did not finish by its deadline
    /// ([`Config::close_timeout`]): the state becomes `Closed` and the transport should close.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.timer {
            Timer::Wanted => self.timer = Timer::Armed(now + self.config.close_timeout()),
            Timer::Armed(deadline) if now >= deadline => {
                self.timer = Timer::Expired;
                if self.state == State::CloseSent {
                    self.state = State::Closed;
                }
            }
            Timer::Idle | Timer::Armed(_) | Timer::Expired => {}
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if a timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.timer {
            Timer::Armed(deadline) if self.state != State::Failed => Some(deadline),
            _ => None,
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role())
            .field("state", &self.state)
            .field("buffered", &self.recv.len())
            .field("events", &self.events.len())
            .field("pending_transmit_bytes", &self.pending_transmit_bytes())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::frame::Frame;

    const KEY: [u8; 4] = [9, 8, 7, 6];

    #[test]
    fn a_frame_encoded_now_is_the_frame_a_send_would_queue() {
        for (opcode, payload) in [
            (OpCode::Text, &b""[..]),
            (OpCode::Text, b"hello"),
            (OpCode::Binary, &[7u8; 125][..]),
            (OpCode::Binary, &[1u8; 126][..]), // a 16-bit length
        ] {
            let mut now = Connection::server(Config::default());
            let mut buf = [0u8; 256];
            let len = now.encode_now(opcode, payload, &mut buf).unwrap();
            assert!(now.poll_transmit().is_none(), "nothing queued");
            let mut queued = Connection::server(Config::default());
            match opcode {
                OpCode::Text => queued.send_text(std::str::from_utf8(payload).unwrap()),
                _ => queued.send_binary(payload),
            }
            .unwrap();
            assert_eq!(&buf[..len], &queued.poll_transmit().unwrap()[..]);
        }
    }

    #[test]
    fn a_frame_is_encoded_now_only_when_it_could_not_overtake_anything() {
        let mut buf = [0u8; 64];
        let mut queued = Connection::server(Config::default());
        queued.send_text("first").unwrap();
        assert_eq!(queued.encode_now(OpCode::Text, b"second", &mut buf), None);
        let mut pong = Connection::server(Config::default());
        pong.handle_bytes(&client_frame(OpCode::Ping, true, b"p"))
            .unwrap();
        while pong.poll_event().is_some() {}
        assert_eq!(
            pong.encode_now(OpCode::Text, b"x", &mut buf),
            None,
            "a pong waits"
        );
        // A client masks; a compressed payload is new bytes; a control frame has its rules.
        let mut client = Connection::client(Config::default(), || KEY);
        assert_eq!(client.encode_now(OpCode::Text, b"x", &mut buf), None);
        let deflate =
            Config::default().with_deflate(Some(crate::Deflate::default().with_threshold(0)));
        let mut compressing = Connection::server(deflate);
        assert_eq!(compressing.encode_now(OpCode::Text, b"x", &mut buf), None);
        let mut server = Connection::server(Config::default());
        assert_eq!(server.encode_now(OpCode::Ping, b"x", &mut buf), None);
        assert_eq!(
            server.encode_now(OpCode::Binary, &[0; 63], &mut buf),
            None,
            "64 bytes do not fit"
        );
        assert_eq!(
            server.encode_now(OpCode::Binary, &[0; 62], &mut buf),
            Some(64)
        );
        // RFC 6455 §5.5.1: no data frames after a close.
        let mut closed = Connection::server(Config::default());
        closed.close(CloseCode::NORMAL, "").unwrap();
        while closed.poll_transmit().is_some() {}
        assert_eq!(closed.encode_now(OpCode::Text, b"x", &mut buf), None);
    }

    fn client_frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut dst = BytesMut::new();
        Frame::new(opcode, Bytes::copy_from_slice(payload))
            .with_fin(fin)
            .with_mask(Some(KEY))
            .encode(&mut dst);
        dst.to_vec()
    }

    /// Decodes everything `conn` queued, as its peer would.
    fn sent_frames(conn: &mut Connection) -> Vec<Frame> {
        let peer = match conn.role() {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        };
        let mut decoder = Decoder::new(peer);
        let mut buf = BytesMut::new();
        while let Some(chunk) = conn.poll_transmit() {
            buf.extend_from_slice(&chunk);
        }
        let mut out = Vec::new();
        while let Some(frame) = decoder.decode(&mut buf).unwrap() {
            out.push(frame);
        }
        assert!(buf.is_empty());
        out
    }

    fn close_code_of(frame: &Frame) -> u16 {
        assert_eq!(frame.opcode(), OpCode::Close);
        u16::from_be_bytes([frame.payload()[0], frame.payload()[1]])
    }

    fn client() -> Connection {
        let mut n = 0u8;
        Connection::client(Config::default(), move || {
            n = n.wrapping_add(1);
            [n, 1, 2, 3]
        })
    }

    #[test]
    fn connection_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Connection>();
    }

    #[test]
    fn rfc_5_5_2_ping_is_answered_with_its_payload() {
        let mut server = Connection::server(Config::default());
        server
            .handle_bytes(&client_frame(OpCode::Ping, true, b"abc"))
            .unwrap();
        assert_eq!(
            server.poll_event(),
            Some(Event::Ping(Bytes::from_static(b"abc")))
        );
        assert_eq!(server.pending_transmit_bytes(), 5);
        let sent = sent_frames(&mut server);
        assert_eq!(sent, vec![Frame::new(OpCode::Pong, "abc")]);
    }

    fn pings(server: &mut Connection, payloads: impl IntoIterator<Item = Vec<u8>>) {
        let wire: Vec<u8> = payloads
            .into_iter()
            .flat_map(|p| client_frame(OpCode::Ping, true, &p))
            .collect();
        server.handle_bytes(&wire).unwrap();
    }

    #[test]
    fn rfc_5_5_2_every_ping_in_one_read_gets_its_own_pong_in_order() {
        // Autobahn 2.10 / 2.11: ten pings back to back in one read, ten pongs expected.
        // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame
        // in response ... The Pong frame sent in response to a Ping frame must have
        // identical "Application data" as found in the message body of the Ping frame".
        let mut server = Connection::server(Config::default());
        let payloads: Vec<Vec<u8>> = (0..10u8).map(|i| vec![b'p', i]).collect();
        pings(&mut server, payloads.clone());
        assert_eq!(server.pending_transmit_bytes(), 10 * 4);
        let sent = sent_frames(&mut server);
        let expected: Vec<Frame> = payloads
            .into_iter()
            .map(|p| Frame::new(OpCode::Pong, p))
            .collect();
        assert_eq!(sent, expected);
    }

    #[test]
    fn rfc_5_5_3_ping_flood_is_bounded_at_max_pending_pongs() {
        // RFC 6455 §5.5.3: "If an endpoint receives a Ping frame and has not yet sent Pong
        // frame(s) in response to previous Ping frame(s), the endpoint MAY elect to send a
        // Pong frame for only the most recently processed Ping frame."
        let mut server = Connection::server(Config::default());
        assert_eq!(server.config().max_pending_pongs(), 32);
        pings(&mut server, (0..1000u32).map(|i| i.to_be_bytes().to_vec()));
        assert_eq!(server.pending_transmit_bytes(), 32 * 6, "bounded memory");
        let sent = sent_frames(&mut server);
        assert_eq!(sent.len(), 32);
        for (i, pong) in sent[..31].iter().enumerate() {
            assert_eq!(pong.payload()[..], (i as u32).to_be_bytes());
        }
        assert_eq!(sent[31].payload()[..], 999u32.to_be_bytes(), "the latest");
    }

    #[test]
    fn small_frames_share_a_block_that_is_reused_once_they_are_gone() {
        let mut server = Connection::server(Config::default());
        server.send_text("one").unwrap();
        server.send_text("two").unwrap();
        let (a, b) = (
            server.poll_transmit().unwrap(),
            server.poll_transmit().unwrap(),
        );
        assert_eq!((&a[..], &b[..]), (&b"\x81\x03one"[..], &b"\x81\x03two"[..]));
        assert_eq!(b.as_ptr(), a[a.len()..].as_ptr(), "split from one block");
        let at = a.as_ptr();
        drop((a, b));
        // Fill the block's rest: the frame after that reclaims it.
        while server.small.capacity() >= 5 {
            server.send_text("abc").unwrap();
            drop(server.poll_transmit());
        }
        server.send_text("new").unwrap();
        let c = server.poll_transmit().unwrap();
        assert_eq!(&c[..], b"\x81\x03new");
        assert_eq!(c.as_ptr(), at, "the same memory again, no allocation");
        // A large frame has an allocation of its own; the block is untouched.
        server.send_binary([7; 200]).unwrap();
        let big = server.poll_transmit().unwrap();
        assert_eq!((big.len(), &big[2..4], big[4]), (204, &[0, 200][..], 7));
        assert_ne!(big.as_ptr(), c[c.len()..].as_ptr());
    }

    #[test]
    fn pending_frames_and_full_pongs_are_reported() {
        let mut server = Connection::server(Config::default().with_max_pending_pongs(2));
        assert_eq!(server.pending_transmit_frames(), 0);
        server.send_binary(b"x").unwrap();
        server.send_binary(b"y").unwrap();
        assert_eq!(server.pending_transmit_frames(), 2, "one entry per frame");
        pings(&mut server, [b"a".to_vec()]);
        assert!(!server.pongs_full());
        pings(&mut server, [b"b".to_vec(), b"c".to_vec()]);
        assert!(server.pongs_full(), "newer pings only replace the newest");
        assert_eq!(server.pending_transmit_frames(), 4);
        server.poll_transmit().unwrap();
        assert!(!server.pongs_full());
    }

    #[test]
    fn pongs_taken_by_poll_transmit_make_room_again() {
        let mut server = Connection::server(Config::default().with_max_pending_pongs(2));
        pings(&mut server, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(server.poll_transmit().unwrap()[..], b"\x8a\x01a"[..]);
        pings(&mut server, [b"d".to_vec()]);
        let payloads: Vec<Bytes> = sent_frames(&mut server)
            .into_iter()
            .map(|f| f.into_payload())
            .collect();
        assert_eq!(
            payloads,
            [&b"c"[..], &b"d"[..]],
            "c replaced b, d queued anew"
        );
    }

    #[test]
    fn waiting_pongs_go_out_before_a_close() {
        let mut server = Connection::server(Config::default());
        pings(&mut server, [b"1".to_vec(), b"2".to_vec()]);
        server.close(CloseCode::NORMAL, "").unwrap();
        let sent = sent_frames(&mut server);
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0], Frame::new(OpCode::Pong, "1"));
        assert_eq!(sent[1], Frame::new(OpCode::Pong, "2"));
        assert_eq!(close_code_of(&sent[2]), 1000);
    }

    #[test]
    fn rfc_5_5_1_close_is_echoed_with_its_code() {
        let mut server = Connection::server(Config::default());
        let mut payload = 4001u16.to_be_bytes().to_vec();
        payload.extend_from_slice(b"bye");
        server
            .handle_bytes(&client_frame(OpCode::Close, true, &payload))
            .unwrap();
        match server.poll_event() {
            Some(Event::Close(c)) => assert_eq!((c.code.0, c.reason.as_str()), (4001, "bye")),
            other => panic!("{other:?}"),
        }
        let sent = sent_frames(&mut server);
        assert_eq!(close_code_of(&sent[0]), 4001);
        assert_eq!(server.state(), State::Closed);
        assert!(
            server.should_close_transport(),
            "RFC 6455 §7.1.1: server closes TCP first"
        );
        assert_eq!(server.send_text("late"), Err(SendError::Closed));
    }

    #[test]
    fn empty_close_is_reported_as_1005_and_answered_with_1000() {
        let mut server = Connection::server(Config::default());
        server
            .handle_bytes(&client_frame(OpCode::Close, true, b""))
            .unwrap();
        assert!(matches!(server.poll_event(), Some(Event::Close(c)) if c.code.0 == 1005));
        assert_eq!(close_code_of(&sent_frames(&mut server)[0]), 1000);
    }

    #[test]
    fn input_after_the_peers_close_is_ignored() {
        let mut server = Connection::server(Config::default());
        let mut wire = client_frame(OpCode::Close, true, b"");
        wire.extend(client_frame(OpCode::Text, true, b"after"));
        server.handle_bytes(&wire).unwrap();
        server
            .handle_bytes(&client_frame(OpCode::Text, true, b"later"))
            .unwrap();
        assert!(matches!(server.poll_event(), Some(Event::Close(_))));
        assert_eq!(server.poll_event(), None);
    }

    #[test]
    fn protocol_error_queues_its_close_code_and_ignores_later_input() {
        let mut server = Connection::server(Config::default());
        let mut wire = client_frame(OpCode::Text, true, b"ok");
        wire.extend(client_frame(OpCode::Text, true, b"\xff"));
        wire.extend(client_frame(OpCode::Text, true, b"never"));
        assert_eq!(server.handle_bytes(&wire), Err(Error::InvalidUtf8));
        assert_eq!(
            server.poll_event(),
            Some(Event::Text(Utf8Bytes::from("ok")))
        );
        assert_eq!(server.poll_event(), None);
        assert_eq!(
            (server.state(), server.error()),
            (State::Failed, Some(&Error::InvalidUtf8))
        );
        assert!(server.should_close_transport());
        assert_eq!(
            server.handle_bytes(&client_frame(OpCode::Ping, true, b"")),
            Ok(())
        );
        assert_eq!(server.poll_event(), None);
        let sent = sent_frames(&mut server);
        assert_eq!(sent.len(), 1, "only the close, no pong after the error");
        assert_eq!(close_code_of(&sent[0]), 1007);
        assert_eq!(&sent[0].payload()[2..], b"text message is not valid UTF-8");
        assert_eq!(server.send_binary(b"x"), Err(SendError::Closed));
    }

    /// A frame as `role`'s peer sends it: masked towards a server, unmasked towards a client.
    fn frame_to(role: Role, opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
        match role {
            Role::Server => client_frame(opcode, fin, payload),
            Role::Client => {
                let mut dst = BytesMut::new();
                Frame::new(opcode, Bytes::copy_from_slice(payload))
                    .with_fin(fin)
                    .encode(&mut dst);
                dst.to_vec()
            }
        }
    }

    fn connection(role: Role) -> Connection {
        match role {
            Role::Server => Connection::server(Config::default()),
            Role::Client => client(),
        }
    }

    /// Autobahn 6.4.3 / 6.4.4: valid text, then bytes that no continuation can make valid,
    /// then more text.
    const FAIL_FAST: [&[u8]; 3] = ["κόσμε".as_bytes(), b"\xf4\x90\x80\x80", b"edited"];

    #[test]
    fn rfc_8_1_text_frame_fails_on_the_chunk_that_makes_it_invalid() {
        // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds
        // that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST
        // _Fail the WebSocket Connection_." Autobahn 6.4.3/6.4.4 expect it as soon as the
        // bytes received so far cannot be valid, not when the frame completes.
        for role in [Role::Server, Role::Client] {
            let mut conn = connection(role);
            let wire = frame_to(role, OpCode::Text, true, &FAIL_FAST.concat());
            let header = wire.len() - FAIL_FAST.concat().len();
            let first = header + FAIL_FAST[0].len();
            let second = first + FAIL_FAST[1].len();
            assert_eq!(conn.handle_bytes(&wire[..first]), Ok(()), "{role:?}");
            assert_eq!(
                conn.handle_bytes(&wire[first..second]),
                Err(Error::InvalidUtf8),
                "{role:?}: fails before the frame completes"
            );
            assert_eq!(conn.state(), State::Failed);
            assert_eq!(conn.handle_bytes(&wire[second..]), Ok(()), "ignored");
            assert_eq!(conn.poll_event(), None);
            assert_eq!(close_code_of(&sent_frames(&mut conn)[0]), 1007);
        }
    }

    #[test]
    fn rfc_8_1_continuation_of_text_fails_while_it_arrives() {
        for role in [Role::Server, Role::Client] {
            let mut conn = connection(role);
            conn.handle_bytes(&frame_to(role, OpCode::Text, false, b"ok "))
                .unwrap();
            let wire = frame_to(role, OpCode::Continuation, true, &FAIL_FAST.concat());
            let cut = wire.len() - FAIL_FAST[2].len() - 1;
            assert_eq!(
                conn.handle_bytes(&wire[..cut]),
                Err(Error::InvalidUtf8),
                "{role:?}"
            );
        }
    }

    #[test]
    fn a_split_binary_frame_is_not_checked_as_utf8() {
        let mut server = Connection::server(Config::default());
        server
            .handle_bytes(&client_frame(OpCode::Binary, false, b"\xff"))
            .unwrap();
        let wire = client_frame(OpCode::Continuation, true, &FAIL_FAST.concat());
        for byte in wire.chunks(1) {
            server.handle_bytes(byte).unwrap();
        }
        let mut expected = b"\xff".to_vec();
        expected.extend(FAIL_FAST.concat());
        assert_eq!(server.poll_event(), Some(Event::Binary(expected.into())));
    }

    #[test]
    fn valid_text_fed_one_byte_at_a_time_decodes() {
        let text = "κόσμε € 😀 ascii, and enough of it to need a 16-bit length: ".repeat(3);
        for role in [Role::Server, Role::Client] {
            let mut conn = connection(role);
            let mut wire = frame_to(role, OpCode::Text, true, text.as_bytes());
            let (a, b) = text.as_bytes().split_at(7); // inside "μ"
            wire.extend(frame_to(role, OpCode::Text, false, a));
            wire.extend(frame_to(role, OpCode::Ping, true, b"mid"));
            wire.extend(frame_to(role, OpCode::Continuation, true, b));
            for byte in wire.chunks(1) {
                conn.handle_bytes(byte).unwrap();
            }
            assert_eq!(conn.poll_event(), Some(Event::Text(text.as_str().into())));
            assert_eq!(
                conn.poll_event(),
                Some(Event::Ping(Bytes::from_static(b"mid")))
            );
            assert_eq!(conn.poll_event(), Some(Event::Text(text.as_str().into())));
            assert_eq!(conn.poll_event(), None, "{role:?}");
        }
    }

    #[test]
    fn text_ending_inside_a_character_fails_only_when_the_frame_completes() {
        // A split sequence may still be completed by the next byte: no early failure.
        let mut server = Connection::server(Config::default());
        let wire = client_frame(OpCode::Text, true, b"ok\xe2\x82");
        assert_eq!(server.handle_bytes(&wire[..wire.len() - 1]), Ok(()));
        assert_eq!(
            server.handle_bytes(&wire[wire.len() - 1..]),
            Err(Error::InvalidUtf8)
        );
    }

    fn deferred() -> Connection {
        Connection::server(Config::default().with_deferred_failure(true))
    }

    #[test]
    fn deferred_failure_is_off_by_default() {
        assert!(!Config::default().deferred_failure());
        let mut server = Connection::server(Config::default());
        let mut wire = client_frame(OpCode::Text, true, b"ok");
        wire.extend(client_frame(OpCode::Continuation, true, b"x"));
        assert_eq!(
            server.handle_bytes(&wire),
            Err(Error::UnexpectedContinuation)
        );
        assert_eq!(server.state(), State::Failed, "close queued at once");
        assert_eq!(server.send_text("ok"), Err(SendError::Closed));
    }

    #[test]
    fn rfc_7_1_7_deferred_failure_answers_earlier_messages_before_the_close() {
        // Autobahn 3.2, 3.3, 4.1.3-4.1.5, 4.2.3, 4.2.4, 5.15: a valid message and a bad frame
        // in one read; the echo of the message must go out before the close. RFC 6455
        // §7.1.7: to _Fail the WebSocket Connection_ the endpoint sends a Close frame with an
        // appropriate status code (§7.4.1) and closes the connection.
        let mut server = deferred();
        let mut wire = client_frame(OpCode::Text, true, b"ok");
        wire.extend(client_frame(OpCode::Ping, true, b"p"));
        wire.extend({
            let mut bad = client_frame(OpCode::Text, true, b"rsv");
            bad[0] |= 0x40;
            bad
        });
        wire.extend(client_frame(OpCode::Text, true, b"never"));
        assert_eq!(server.handle_bytes(&wire), Err(Error::ReservedBits(0b100)));

        // The events before the error are delivered; nothing after it.
        assert_eq!(server.state(), State::Failing);
        assert_eq!(server.error(), Some(&Error::ReservedBits(0b100)));
        assert_eq!(server.poll_event(), Some(Event::Text("ok".into())));
        assert_eq!(
            server.poll_event(),
            Some(Event::Ping(Bytes::from_static(b"p")))
        );
        assert_eq!(server.poll_event(), None);
        assert_eq!(server.sent_close(), None, "no close queued yet");
        assert!(!server.should_close_transport() && !server.is_closed());
        assert_eq!(
            server.handle_bytes(&client_frame(OpCode::Ping, true, b"late")),
            Ok(()),
            "later input is ignored"
        );
        assert_eq!(server.poll_event(), None);

        // The application answers what came before the error, then fails the connection.
        server.send_text("ok").unwrap();
        server.send_binary(b"bin").unwrap();
        server.send_encoded(&EncodedFrame::text("shared")).unwrap();
        server.ping(b"q").unwrap();
        assert_eq!(server.fail(), Ok(()));
        assert_eq!(server.state(), State::Failed);
        assert!(server.should_close_transport() && server.is_closed());
        assert_eq!(server.send_text("after"), Err(SendError::Closed));
        assert_eq!(server.fail(), Ok(()), "already failed: nothing more to do");

        let sent = sent_frames(&mut server);
        let opcodes: Vec<OpCode> = sent.iter().map(Frame::opcode).collect();
        assert_eq!(
            opcodes,
            [
                OpCode::Text,
                OpCode::Binary,
                OpCode::Text,
                OpCode::Ping,
                OpCode::Pong,
                OpCode::Close
            ],
            "every answer before the close; the waiting pong is flushed before it"
        );
        assert_eq!(sent[0], Frame::new(OpCode::Text, "ok"));
        assert_eq!(sent[4], Frame::new(OpCode::Pong, "p"));
        assert_eq!(close_code_of(&sent[5]), 1002);
        assert_eq!(
            &sent[5].payload()[2..],
            Error::ReservedBits(0b100).to_string().as_bytes(),
            "reason text as in the immediate path"
        );
        assert_eq!(server.sent_close().map(|c| c.code), Some(CloseCode(1002)));
    }

    #[test]
    fn deferred_failure_keeps_the_errors_close_code() {
        let mut server = deferred();
        let wire = client_frame(OpCode::Text, true, b"\xff");
        assert_eq!(server.handle_bytes(&wire), Err(Error::InvalidUtf8));
        assert_eq!(server.state(), State::Failing);
        // close() while failing ends the failure with the error's code, not the one given.
        assert_eq!(server.close(CloseCode::NORMAL, "bye"), Ok(()));
        assert_eq!(server.state(), State::Failed);
        let sent = sent_frames(&mut server);
        assert_eq!(sent.len(), 1);
        assert_eq!(close_code_of(&sent[0]), 1007);
        // As after an immediate failure: no close timer is reported, the transport closes.
        server.handle_timeout(Instant::now());
        assert_eq!(server.poll_timeout(), None);
        assert!(server.should_close_transport());
    }

    #[test]
    fn fail_is_a_usage_error_unless_failing() {
        let mut server = deferred();
        assert_eq!(server.fail(), Err(SendError::NotFailing));
        assert_eq!(server.state(), State::Open);
        server.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(server.fail(), Err(SendError::NotFailing));
        // After our own close there is no close left to defer: a protocol error fails at once.
        assert_eq!(
            server.handle_bytes(&client_frame(OpCode::Continuation, true, b"")),
            Err(Error::UnexpectedContinuation)
        );
        assert_eq!(server.state(), State::Failed);
        assert_eq!(sent_frames(&mut server).len(), 1, "only our own close");
    }

    #[test]
    fn unmasked_client_frame_fails_with_1002() {
        let mut server = Connection::server(Config::default());
        let mut dst = BytesMut::new();
        Frame::new(OpCode::Text, "hi").encode(&mut dst);
        assert_eq!(server.handle_bytes(&dst), Err(Error::UnmaskedFrame));
        assert_eq!(close_code_of(&sent_frames(&mut server)[0]), 1002);
    }

    #[test]
    fn oversized_message_fails_from_the_header_with_1009() {
        let config = Config::default().with_max_message_size(10);
        let mut server = Connection::server(config);
        server
            .handle_bytes(&client_frame(OpCode::Binary, false, b"123456"))
            .unwrap();
        // Only the header of the continuation arrives: 6 + 5 > 10 fails at once.
        let wire = client_frame(OpCode::Continuation, true, b"12345");
        let err = server.handle_bytes(&wire[..6]).unwrap_err();
        assert_eq!(err, Error::MessageTooLarge { len: 11, max: 10 });
        assert_eq!(close_code_of(&sent_frames(&mut server)[0]), 1009);
    }

    #[test]
    fn no_data_frame_goes_out_after_close() {
        let mut server = Connection::server(Config::default());
        server.send_text("before").unwrap();
        server.close(CloseCode::GOING_AWAY, "restart").unwrap();
        assert_eq!(server.send_text("after"), Err(SendError::Closed));
        assert_eq!(server.send_binary([1u8]), Err(SendError::Closed));
        assert_eq!(server.ping(b""), Err(SendError::Closed));
        let shared = EncodedFrame::text("x");
        assert_eq!(server.send_encoded(&shared), Err(SendError::Closed));
        assert_eq!(
            server.close(CloseCode::NORMAL, ""),
            Err(SendError::Closed),
            "a second close is a usage error"
        );
        // A ping arriving now is reported but not answered.
        server
            .handle_bytes(&client_frame(OpCode::Ping, true, b"p"))
            .unwrap();
        let sent = sent_frames(&mut server);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0], Frame::new(OpCode::Text, "before"));
        assert_eq!(close_code_of(&sent[1]), 1001);
        assert_eq!(&sent[1].payload()[2..], b"restart");
        assert_eq!(server.state(), State::CloseSent);
    }

    #[test]
    fn rfc_6455_5_5_3_an_unsolicited_pong_goes_out_and_is_a_control_frame() {
        let mut server = Connection::server(Config::default());
        server.pong(b"beat").unwrap();
        assert_eq!(
            server.pong([0u8; 126]),
            Err(SendError::ControlPayloadTooLong(126))
        );
        assert_eq!(
            sent_frames(&mut server),
            vec![Frame::new(OpCode::Pong, "beat")]
        );
        server.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(server.pong(b""), Err(SendError::Closed));
    }

    #[test]
    fn a_servers_long_shared_payload_goes_out_without_a_copy_and_no_pong_splits_it() {
        let mut server = Connection::server(Config::default());
        let data = Bytes::from(vec![3u8; 5000]);
        server.send_binary_bytes(data.clone()).unwrap();
        server.send_text_bytes(Utf8Bytes::from("short")).unwrap();
        let header = server.poll_transmit().unwrap();
        // A ping arriving between the header and its payload: its pong waits for the payload.
        server
            .handle_bytes(&client_frame(OpCode::Ping, true, b"p"))
            .unwrap();
        let payload = server.poll_transmit().unwrap();
        assert_eq!(
            payload.as_ptr(),
            data.as_ptr(),
            "the caller's bytes, not a copy"
        );
        let mut wire = BytesMut::from(&header[..]);
        wire.extend_from_slice(&payload);
        while let Some(chunk) = server.poll_transmit() {
            wire.extend_from_slice(&chunk);
        }
        let mut decoder = Decoder::new(Role::Client);
        let frames: Vec<Frame> =
            std::iter::from_fn(|| decoder.decode(&mut wire).unwrap()).collect();
        assert_eq!(frames[0], Frame::new(OpCode::Binary, data));
        let rest: Vec<OpCode> = frames[1..].iter().map(Frame::opcode).collect();
        assert_eq!(rest, [OpCode::Pong, OpCode::Text]);
        assert_eq!(server.pending_transmit_bytes(), 0);

        // A client masks: one chunk, encoded.
        let mut client = client();
        client
            .send_binary_bytes(Bytes::from(vec![3u8; 5000]))
            .unwrap();
        let sent = sent_frames(&mut client);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].payload()[..], [3u8; 5000]);
    }

    #[test]
    fn usage_errors_are_typed() {
        let mut server = Connection::server(Config::default());
        for code in [1004, 1005 + 1, 1015, 999, 5000] {
            assert_eq!(
                server.close(CloseCode(code), ""),
                Err(SendError::InvalidCloseCode(CloseCode(code)))
            );
        }
        assert_eq!(
            server.ping([0u8; 126]),
            Err(SendError::ControlPayloadTooLong(126))
        );
        assert_eq!(server.state(), State::Open);
        server.close(CloseCode::NO_STATUS, "").unwrap();
        assert_eq!(
            sent_frames(&mut server),
            vec![Frame::new(OpCode::Close, "")]
        );
    }

    #[test]
    fn close_handshake_times_out() {
        let t0 = Instant::now();
        let config = Config::default().with_close_timeout(Duration::from_secs(2));
        let mut server = Connection::server(config);
        assert_eq!(server.poll_timeout(), None);
        server.close(CloseCode::NORMAL, "").unwrap();
        server.handle_timeout(t0);
        assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(2)));
        server.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(server.state(), State::CloseSent);
        assert!(!server.should_close_transport());
        server.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(server.state(), State::Closed);
        assert!(server.should_close_transport());
        assert_eq!(server.poll_timeout(), None);
    }

    #[test]
    fn client_masks_every_frame_and_waits_for_the_server_to_close_tcp() {
        let mut client = client();
        client.send_binary(b"data").unwrap();
        client.ping(b"p").unwrap();
        let wire: Vec<Bytes> = std::iter::from_fn(|| client.poll_transmit()).collect();
        assert_eq!(wire[0][1] & 0x80, 0x80);
        assert_eq!(wire[0][2..6], [1, 1, 2, 3], "first key");
        assert_eq!(wire[1][2..6], [2, 1, 2, 3], "a fresh key per frame");

        // The server's close arrives: the client answers, then waits for TCP to close.
        let mut dst = BytesMut::new();
        Frame::new(OpCode::Close, Bytes::from_static(b"\x03\xe8")).encode(&mut dst);
        client.handle_bytes(&dst).unwrap();
        assert_eq!(client.state(), State::Closed);
        assert!(!client.should_close_transport());
        let t0 = Instant::now();
        client.handle_timeout(t0);
        let deadline = client.poll_timeout().unwrap();
        client.handle_timeout(deadline);
        assert!(client.should_close_transport());
        let sent = sent_frames(&mut client);
        assert_eq!(close_code_of(&sent[0]), 1000);
        assert!(sent[0].header().mask.is_some());
    }

    #[test]
    fn server_frames_are_never_masked_and_encoded_frames_are_shared() {
        let mut server = Connection::server(Config::default());
        let shared = EncodedFrame::binary(&[7u8; 300]);
        server.send_encoded(&shared).unwrap();
        let chunk = server.poll_transmit().unwrap();
        assert_eq!(chunk.as_ptr(), shared.as_bytes().as_ptr(), "no re-encoding");

        let mut client = client();
        client.send_encoded(&shared).unwrap();
        let sent = sent_frames(&mut client);
        assert!(sent[0].header().mask.is_some());
        assert_eq!(sent[0].payload()[..], [7u8; 300]);
    }

    #[test]
    fn recv_buffer_and_handle_buf_feed_the_decoder() {
        let mut server = Connection::server(Config::default());
        let wire = client_frame(OpCode::Binary, true, &[5u8; 1000]);
        server.recv_buffer().extend_from_slice(&wire[..8]);
        server.handle_buffered().unwrap();
        assert!(
            server.recv_buffer().capacity() >= 1000,
            "room reserved for the payload"
        );
        server.recv_buffer().extend_from_slice(&wire[8..]);
        server.handle_buffered().unwrap();
        assert!(matches!(server.poll_event(), Some(Event::Binary(b)) if b.len() == 1000));

        server.handle_buf(BytesMut::from(&wire[..])).unwrap();
        assert!(matches!(server.poll_event(), Some(Event::Binary(b)) if b.len() == 1000));
    }

    #[test]
    fn a_large_frame_is_received_into_one_buffer_without_a_copy() {
        let payload: Vec<u8> = (0..65536u32).map(|i| (i * 7) as u8).collect();
        let wire = client_frame(OpCode::Binary, true, &payload);
        let mut server = Connection::server(Config::default());
        // A read of 16 KiB holds the header and the payload's start: the rest gets room too.
        server.handle_bytes(&wire[..16384]).unwrap();
        assert_eq!(server.awaited_payload(), wire.len() - 16384);
        let start = server.recv_buffer().as_ptr();
        assert!(server.recv_buffer().capacity() >= payload.len());
        for part in wire[16384..].chunks(10_000) {
            server.handle_bytes(part).unwrap();
        }
        assert_eq!(server.awaited_payload(), 0);
        let Some(Event::Binary(got)) = server.poll_event() else {
            panic!("one binary message");
        };
        assert_eq!(got[..], payload[..]);
        assert_eq!(
            got.as_ptr(),
            start,
            "never moved: no copy after the first read"
        );
    }

    #[test]
    fn awaited_payload_is_what_a_reader_may_put_straight_into_the_buffer() {
        // RFC 6455 §5.3: each piece is unmasked with the key at its own offset, so a
        // payload appended in pieces of any size decodes to the sent bytes.
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut wire = client_frame(OpCode::Binary, true, &payload);
        wire.extend(client_frame(OpCode::Text, true, b"after"));
        let mut server = Connection::server(Config::default());
        assert_eq!(server.awaited_payload(), 0, "between frames");
        server.handle_bytes(&wire[..10]).unwrap();
        assert_eq!(
            server.awaited_payload(),
            0,
            "the header (14 bytes) is not whole yet"
        );
        server.handle_bytes(&wire[10..20]).unwrap();
        assert_eq!(server.awaited_payload(), payload.len() - 6);
        let mut at = 20;
        while server.awaited_payload() > 0 {
            let room = server.awaited_payload().min(30_000);
            assert!(server.recv_buffer().capacity() - server.recv_buffer().len() >= room);
            server.recv_buffer().extend_from_slice(&wire[at..at + room]);
            at += room;
            server.handle_buffered().unwrap();
        }
        assert!(matches!(server.poll_event(), Some(Event::Binary(b)) if b[..] == payload[..]));
        server.handle_bytes(&wire[at..]).unwrap();
        assert!(matches!(server.poll_event(), Some(Event::Text(t)) if t.as_str() == "after"));
    }

    #[test]
    fn nothing_is_awaited_after_a_protocol_error() {
        let mut server = Connection::server(Config::default().with_max_frame_size(100));
        let mut wire = client_frame(OpCode::Binary, true, &[1u8; 50]);
        wire.truncate(20);
        server.handle_bytes(&wire).unwrap();
        assert_eq!(
            server.awaited_payload(),
            50 - (20 - 6),
            "a masked header is 6 bytes"
        );
        // An unmasked frame (RFC 6455 §5.1) on a fresh connection: failed, nothing awaited.
        let mut server = Connection::server(Config::default());
        let mut dst = BytesMut::new();
        Frame::new(OpCode::Binary, vec![0u8; 5000]).encode(&mut dst);
        assert!(server.handle_bytes(&dst[..100]).is_err());
        assert_eq!(server.awaited_payload(), 0);
    }
}
