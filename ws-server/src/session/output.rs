//! What the session writes: to a non-blocking transport directly
//! ([`Session::write_to`]), or lent to a blocking writer
//! ([`Session::take_transmit`]); and whether the transport keeps up.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::Instant;

use bytes::Bytes;

use super::{Session, Stage};
use crate::write::{write_chunks, write_queue};

/// Most frames one write takes from the codec at a time (on the stack).
const WRITE_CHUNKS: usize = 16;

/// The longest payload [`Session::send_now`] writes at once: its frame
/// goes on the stack; longer ones are queued.
pub(super) const SEND_NOW_MAX_PAYLOAD: usize = 125;

/// Room for that frame: the payload and the longest header.
const NOW_MAX: usize = SEND_NOW_MAX_PAYLOAD + ws_codec::FrameHeader::MAX_LEN;

/// Memory a queued frame costs besides its bytes: its `Bytes` handle in a
/// queue (32 B, up to twice that while the queue's capacity doubles) and the
/// allocator's header and rounding (a 3-byte frame takes a 32-byte block).
/// Counted per frame so `high_water` bounds memory, not wire bytes: ten
/// clients echoing one-byte messages cost about 21x their wire bytes without it.
pub(crate) const FRAME_OVERHEAD: usize = 80;

impl Session {
    /// Whether anything waits to be written (or is being written).
    pub(crate) fn has_output(&self) -> bool {
        self.unsent > 0
            || !self.out.is_empty()
            || (self.is_upgraded() && self.codec.pending_transmit_bytes() > 0)
    }

    /// A write would block: the bridge waits for writability.
    pub(crate) fn is_stalled(&self) -> bool {
        self.stalled
    }

    /// A write made no progress (it would block, or timed out).
    pub(crate) fn write_stalled(&mut self) {
        self.stalled = true;
    }

    /// The transport is writable again.
    pub(crate) fn writable(&mut self) {
        self.stalled = false;
    }

    /// Writes what is queued to a non-blocking transport, vectored, until it
    /// would block (then [`is_stalled`](Self::is_stalled)). The bytes written.
    pub(crate) fn write_to(&mut self, mut w: impl Write) -> io::Result<usize> {
        let mut total = 0;
        let result = loop {
            if !self.out.is_empty() {
                let frames = self.out.len();
                match write_queue(&mut w, &mut self.out) {
                    Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        self.written(n, frames - self.out.len());
                        total += n;
                        continue;
                    }
                    Err(e) => break Err(e),
                }
            }
            if !self.is_upgraded() {
                break Ok(());
            }
            let Some(first) = self.codec.poll_transmit() else {
                break Ok(());
            };
            // An echo's one frame goes out alone: no array of handles to
            // fill and drop (16 `Bytes` were a tenth of the user-space
            // instructions per message at 100 x 20 B).
            let (result, drained) = match self.codec.poll_transmit() {
                None => (self.write_taken(&mut w, &mut [first]), true),
                Some(second) => {
                    let mut chunks: [Bytes; WRITE_CHUNKS] = Default::default();
                    chunks[0] = first;
                    chunks[1] = second;
                    let mut k = 2;
                    while k < WRITE_CHUNKS {
                        let Some(b) = self.codec.poll_transmit() else {
                            break;
                        };
                        chunks[k] = b;
                        k += 1;
                    }
                    let result = self.write_taken(&mut w, &mut chunks[..k]);
                    (result, k < WRITE_CHUNKS)
                }
            };
            match result {
                Ok(n) => {
                    total += n;
                    // All the codec had went out whole: nothing to look at again.
                    if drained && self.out.is_empty() {
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        };
        if self.out.is_empty() && self.out.capacity() > 8 {
            self.out = VecDeque::new();
        }
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.stalled = true;
                Ok(total)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(total),
            Err(e) => Err(e),
            Ok(()) => Ok(total),
        }
    }

    /// A small data message written at once (ws-codec's `encode_now`), when
    /// nothing waits to be written and the send would be taken: open, under
    /// `high_water`, the transport not stalled. `None`: nothing was done, send
    /// it the usual way. `Some(wake)`: sent, or the part the transport did
    /// not take queued first in line; `wake`: the poller must look at the
    /// connection (a partial write, or an error its own write will report).
    /// `now` is read only with an idle timeout, which a send resets.
    pub(crate) fn send_now(
        &mut self,
        opcode: ws_codec::OpCode,
        payload: &[u8],
        now: impl FnOnce() -> Instant,
        mut w: impl Write,
    ) -> Option<bool> {
        if payload.len() > SEND_NOW_MAX_PAYLOAD
            || !self.is_upgraded()
            || !self.is_open()
            || self.stalled
            || !self.out.is_empty()
            || self.unsent > 0
            || self.queued_memory() >= self.settings.high_water
        {
            return None;
        }
        let mut buf = [0u8; NOW_MAX];
        let len = self.codec.encode_now(opcode, payload, &mut buf)?;
        self.touched(now);
        let n = match w.write(&buf[..len]) {
            Ok(n) if n == len => {
                self.settings.counters.bytes_sent(n);
                return Some(false);
            }
            Ok(n) => n,
            Err(e) => {
                self.stalled = e.kind() == io::ErrorKind::WouldBlock;
                0
            }
        };
        // The rest waits first in line, counted as unsent like any frame.
        self.unsent += len;
        self.unsent_frames += 1;
        self.out.push_back(Bytes::copy_from_slice(&buf[n..len]));
        self.written(n, 0);
        Some(!self.stalled)
    }

    /// One write of frames just taken from the codec; what it does not
    /// take waits in `out`, first in line. The bytes written.
    fn write_taken(&mut self, w: impl Write, chunks: &mut [Bytes]) -> io::Result<usize> {
        self.unsent += chunks.iter().map(Bytes::len).sum::<usize>();
        self.unsent_frames += chunks.len();
        let result = write_chunks(w, chunks);
        let done = chunks.iter().filter(|c| c.is_empty()).count();
        self.out.extend(
            chunks
                .iter_mut()
                .filter(|c| !c.is_empty())
                .map(std::mem::take),
        );
        match result {
            Ok(0) => Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                self.written(n, done);
                Ok(n)
            }
            Err(e) => Err(e),
        }
    }

    /// Hands everything queued to a blocking writer (counted as unsent until
    /// [`written`](Self::written)). True if that let reading resume (it had
    /// stopped at the pongs' cap).
    pub(crate) fn take_transmit(&mut self, batch: &mut VecDeque<Bytes>) -> bool {
        self.resumes_reading(|s| {
            batch.extend(s.out.drain(..));
            if s.is_upgraded() {
                while let Some(b) = s.codec.poll_transmit() {
                    s.unsent += b.len();
                    s.unsent_frames += 1;
                    batch.push_back(b);
                }
            }
        })
    }

    /// A writer wrote `n` bytes of what it took, finishing `frames` of its
    /// buffers. True if that let reading resume (it had stopped for output).
    pub(crate) fn written(&mut self, n: usize, frames: usize) -> bool {
        self.resumes_reading(|s| {
            s.settings.counters.bytes_sent(n);
            s.unsent = s.unsent.saturating_sub(n);
            s.unsent_frames = s.unsent_frames.saturating_sub(frames);
            if n > 0 {
                s.stalled = false;
            }
        })
    }

    /// Runs `f`; true if it let reading resume (it had stopped for output).
    fn resumes_reading(&mut self, f: impl FnOnce(&mut Self)) -> bool {
        let blocked = !self.output_has_room();
        f(self);
        blocked && self.output_has_room()
    }

    /// Memory the outbound queue holds: its bytes, and [`FRAME_OVERHEAD`]
    /// per frame (in the codec, or taken and not yet written). What
    /// `high_water` bounds.
    pub(crate) fn queued_memory(&self) -> usize {
        let (bytes, frames) = if self.is_upgraded() {
            (
                self.codec.pending_transmit_bytes(),
                self.codec.pending_transmit_frames(),
            )
        } else {
            (0, 0)
        };
        bytes + self.unsent + (frames + self.unsent_frames) * FRAME_OVERHEAD
    }

    /// Whether the peer may be read: not while the outbound queue is at
    /// `high_water`, nor while the codec holds as many pongs as it keeps
    /// (more pings would only replace the newest one's payload) until a
    /// write takes them. So a peer that floods pings gets every read's
    /// pongs and, if it does not read them, is pushed back by TCP: a
    /// blocking writer starved of CPU does not let the reader answer a
    /// hundredth of them and read on (what a `stalled`-only rule allowed).
    pub(crate) fn output_has_room(&self) -> bool {
        if self.is_upgraded() && self.codec.pongs_full() {
            return false;
        }
        self.queued_memory() < self.settings.high_water
    }

    /// A blocking writer should drop what it holds: the session is over, or
    /// the time for its HTTP answer is.
    pub(crate) fn gives_up_writing(&self, now: Instant) -> bool {
        match self.stage {
            Stage::Done { .. } | Stage::Ended => true,
            Stage::Answering { deadline, .. } => now >= deadline,
            _ => false,
        }
    }
}
