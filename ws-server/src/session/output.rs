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
                match write_queue(&mut w, &mut self.out) {
                    Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        self.written(n);
                        total += n;
                        continue;
                    }
                    Err(e) => break Err(e),
                }
            }
            if !self.is_upgraded() {
                break Ok(());
            }
            let mut chunks: [Bytes; WRITE_CHUNKS] = Default::default();
            let mut k = 0;
            while k < WRITE_CHUNKS {
                let Some(b) = self.codec.poll_transmit() else {
                    break;
                };
                self.unsent += b.len();
                chunks[k] = b;
                k += 1;
            }
            if k == 0 {
                break Ok(());
            }
            let result = write_chunks(&mut w, &mut chunks[..k]);
            // What the write did not take waits in `out`, first in line.
            self.out.extend(
                chunks[..k]
                    .iter_mut()
                    .filter(|c| !c.is_empty())
                    .map(std::mem::take),
            );
            match result {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written(n);
                    total += n;
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

    /// Hands everything queued to a blocking writer (counted as unsent until
    /// [`written`](Self::written)).
    pub(crate) fn take_transmit(&mut self, batch: &mut VecDeque<Bytes>) {
        batch.extend(self.out.drain(..));
        if self.is_upgraded() {
            while let Some(b) = self.codec.poll_transmit() {
                self.unsent += b.len();
                batch.push_back(b);
            }
        }
    }

    /// A blocking writer wrote `n` bytes of what it took.
    pub(crate) fn written(&mut self, n: usize) {
        self.settings.counters.bytes_sent(n);
        self.unsent = self.unsent.saturating_sub(n);
        if n > 0 {
            self.stalled = false;
        }
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
