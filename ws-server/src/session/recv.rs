//! A large frame's payload read straight into the codec's receive buffer:
//! no copy from the poller's read buffer, and reads as large as the payload
//! still to come instead of `read_buffer_size` at a time. The buffers of
//! such frames are recycled on the poller's thread.

use std::cell::RefCell;
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

/// Most buffers recycled per thread, and the largest recycled: a few
/// large frames' worth whatever the number of connections (an idle
/// connection still holds no receive buffer).
const SPARES: usize = 16;
const SPARE_MAX: usize = 2 * READ_MAX;

thread_local! {
    /// Receive buffers whose frames were handed to actors: each is taken
    /// again once its payload is dropped (the echo written), for the next
    /// large frame read on this thread. Freeing and allocating 64 KiB per
    /// message instead made glibc trim its arena and the next allocation
    /// fault its pages in again (`madvise` and page faults: 8 % of the
    /// server's CPU at 10 x 64 KiB in `perf`).
    static SPARE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// A recycled buffer whose payload is gone, with `room` bytes free.
fn spare(room: usize) -> Option<BytesMut> {
    SPARE.with(|spares| {
        let mut spares = spares.borrow_mut();
        let free = spares.iter_mut().position(|b| b.try_reclaim(room))?;
        Some(spares.swap_remove(free))
    })
}

/// A large frame's room, as [`Session::large_room`] keeps it.
fn room_hint(room: usize) -> u32 {
    room.min(READ_MAX + SLACK) as u32
}

/// Empties this thread's pool (tests: a thread may have run another test).
#[cfg(test)]
pub(super) fn forget_spares() {
    SPARE.with(|spares| spares.borrow_mut().clear());
}

/// Keeps `buf` (empty, its allocation maybe still shared with a payload)
/// for [`spare`], the oldest kept giving way.
fn recycle(buf: BytesMut) {
    SPARE.with(|spares| {
        let mut spares = spares.borrow_mut();
        if spares.len() == SPARES {
            spares.remove(0);
        }
        spares.push(buf);
    });
}

impl Session {
    /// Before `data`, read into the poller's buffer, goes to a codec with
    /// nothing buffered: when it starts a large frame, a recycled buffer
    /// with room for it becomes the codec's (no allocation). A read that
    /// large makes the next one go straight into a recycled buffer.
    pub(crate) fn adopt_spare(&mut self, data: &[u8]) {
        self.large_room = 0;
        if data.len() < DIRECT_MIN
            || !matches!(self.stage, Stage::Open(_))
            || !self.codec.recv_buffer().is_empty()
        {
            return;
        }
        let room = self.codec.room_for(data);
        self.large_room = room_hint(room);
        if room > data.len() {
            if let Some(buf) = spare(room) {
                *self.codec.recv_buffer() = buf;
            }
        }
    }

    /// Whether the next read goes straight into the codec's buffer
    /// ([`take_recv`](Self::take_recv)): upgraded, and at least
    /// [`DIRECT_MIN`] bytes of a frame's payload still to come, or nothing
    /// buffered after a read that large (large messages tend to follow
    /// each other: the next one is then read whole, not its first
    /// `read_buffer_size` bytes into the poller's buffer and copied). Only
    /// reads change it, so a poller may ask under the lock it already
    /// holds and take the buffer later.
    pub(crate) fn reads_direct(&mut self) -> bool {
        matches!(self.stage, Stage::Open(_))
            && (self.codec.awaited_payload() >= DIRECT_MIN
                || self.large_room > 0 && self.codec.recv_buffer().is_empty())
    }

    /// The codec's receive buffer (or, between frames, a recycled one) and
    /// how much to read into it, taken for a read straight into it: only
    /// while [`reads_direct`](Self::reads_direct) (room for the payload is
    /// reserved there already). Give it back with
    /// [`put_recv`](Self::put_recv), read into or not.
    pub(crate) fn take_recv(&mut self) -> Option<(BytesMut, usize)> {
        if !self.reads_direct() {
            return None;
        }
        let awaited = self.codec.awaited_payload();
        if awaited == 0 {
            // Between frames: a recycled buffer with the room the last large
            // frame took, read into as far as it goes (a longer frame grows
            // it as the codec's own buffer would).
            let Some(recv) = spare(self.large_room as usize) else {
                // Every such buffer is still held: read into the poller's
                // buffer, and ask again after a large read.
                self.large_room = 0;
                return None;
            };
            let room = recv.capacity().min(READ_MAX + SLACK);
            return Some((recv, room));
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
        let size = recv.capacity();
        if read == 0 {
            if recv.is_empty() && size <= SPARE_MAX {
                // A buffer that found nothing to read goes back to the
                // others: an idle connection keeps none.
                recycle(recv);
            } else {
                *self.codec.recv_buffer() = recv;
            }
            return;
        }
        *self.codec.recv_buffer() = recv;
        self.large_room = if read >= DIRECT_MIN {
            room_hint(size)
        } else {
            0
        };
        self.settings.counters.bytes_received(read);
        let result = self.codec.handle_buffered();
        // The frame went to the actor whole, nothing behind it: its buffer
        // is recycled once the payload is dropped.
        let recv = self.codec.recv_buffer();
        if result.is_ok() && recv.is_empty() && size <= SPARE_MAX {
            recycle(std::mem::take(recv));
        }
        self.after_input(result, now);
        self.pull(now, flow, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A received frame's buffer as `put_recv` leaves it: the payload split
    /// off (to the actor), the empty rest recycled.
    fn received(len: usize) -> (BytesMut, bytes::Bytes) {
        let mut buf = BytesMut::with_capacity(len);
        buf.resize(len, 7);
        let payload = buf.split_to(len).freeze();
        (buf, payload)
    }

    #[test]
    fn a_buffer_is_taken_again_only_once_its_payload_is_dropped() {
        let (rest, payload) = received(65_536);
        let at = payload.as_ptr();
        recycle(rest);
        assert!(spare(65_536).is_none(), "the actor still holds the payload");
        drop(payload);
        assert!(spare(65_537).is_none(), "too small for this frame");
        let again = spare(65_536).expect("free again");
        assert_eq!(again.as_ptr(), at, "the same memory, not a new allocation");
        assert!(again.is_empty() && again.capacity() >= 65_536);
        assert!(spare(1).is_none(), "taken out of the pool");
    }

    #[test]
    fn at_most_spares_buffers_are_kept_the_oldest_giving_way() {
        let mut first = None;
        for i in 0..=SPARES {
            let (rest, payload) = received(1000 + i);
            if i == 0 {
                first = Some(payload);
            }
            recycle(rest);
        }
        assert_eq!(SPARE.with(|s| s.borrow().len()), SPARES);
        // The first one's payload is still held: had it stayed, one would not come back.
        let mut taken = 0;
        while spare(1000).is_some() {
            taken += 1;
        }
        assert_eq!(
            taken, SPARES,
            "the newer ones, all free: the first gave way"
        );
        drop(first);
    }
}
