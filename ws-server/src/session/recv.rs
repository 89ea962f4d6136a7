//! A large frame's payload read straight into the codec's receive buffer:
//! no copy from the poller's read buffer, and reads as large as the payload
//! still to come instead of `read_buffer_size` at a time.

use std::time::Instant;

use bytes::BytesMut;

use super::{Flow, Session, Stage, ToActor};

/// Least payload still to come that is read straight into the codec's
/// buffer; below it, the poller's read buffer (which may also catch the
/// frames behind) is as cheap.
const DIRECT_MIN: usize = 4096;

/// Most bytes one such read takes: the codec's own step of room for a
/// payload still arriving, so a peer's announced length alone never makes
/// us allocate more than this ahead of its bytes.
const READ_MAX: usize = 64 * 1024;

/// Most room read beyond the payload: a read that fills only the payload
/// then says the socket is empty (it came short), saving the read that
/// would find it so; what lands there is the next frame's start.
const SLACK: usize = 512;

impl Session {
    /// The codec's receive buffer and how much to read into it, taken for a
    /// read straight into it: only while upgraded and at least [`DIRECT_MIN`]
    /// bytes of a frame's payload are still to come (room for them is
    /// reserved there already). Give it back with
    /// [`put_recv`](Self::put_recv), read into or not.
    pub(crate) fn take_recv(&mut self) -> Option<(BytesMut, usize)> {
        if !matches!(self.stage, Stage::Open(_)) {
            return None;
        }
        let awaited = self.codec.awaited_payload();
        if awaited < DIRECT_MIN {
            return None;
        }
        let mut recv = std::mem::take(self.codec.recv_buffer());
        // The codec reserves this much as the payload arrives, but an empty
        // buffer (a header alone) is released between reads.
        let want = awaited.min(READ_MAX);
        recv.reserve(want);
        // Past the payload, what the allocation has spare (the codec leaves
        // room for the next header): never a reallocation, which would copy.
        let room = (want + SLACK).min(recv.capacity() - recv.len());
        Some((recv, room))
    }

    /// Gives back the buffer [`take_recv`](Self::take_recv) lent, with `read`
    /// bytes appended, and handles them as [`handle_read`](Self::handle_read)
    /// would.
    pub(crate) fn put_recv(
        &mut self,
        recv: BytesMut,
        read: usize,
        now: Instant,
        flow: &Flow,
        out: &mut Vec<ToActor>,
    ) {
        *self.codec.recv_buffer() = recv;
        if read == 0 {
            return;
        }
        self.settings.counters.bytes_received(read);
        let result = self.codec.handle_buffered();
        self.after_input(result, now);
        self.pull(now, flow, out);
    }
}
