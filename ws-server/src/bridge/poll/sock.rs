//! The poll bridge's reads and writes, made as system calls of their own.

use std::io::{self, IoSlice, Read, Write};
use std::mem::MaybeUninit;

use bytes::BytesMut;
use mio::net::TcpStream;

/// Appends to `buf` what `fill` writes at the start of the next `room` bytes
/// of its spare capacity (reserved here), without zeroing them first: for a
/// 64 KiB payload read straight into the codec's buffer the `memset` was 3 %
/// of the server's CPU (perf, 10 x 64 KiB). `fill` returns the bytes it
/// wrote, a prefix of the slice it was given, and their count is returned.
///
/// The one `unsafe` of the crate (DESIGN.md §6); the tests below run under
/// Miri (`cargo xtask miri`).
///
/// # Panics
/// If `fill` returns a slice that is not a prefix of the one it was given.
#[allow(unsafe_code)]
#[cfg_attr(not(unix), allow(dead_code))] // elsewhere reads zero the room (below)
pub(super) fn append_with(
    buf: &mut BytesMut,
    room: usize,
    fill: impl for<'a> FnOnce(&'a mut [MaybeUninit<u8>]) -> io::Result<&'a mut [u8]>,
) -> io::Result<usize> {
    buf.reserve(room);
    let spare = &mut buf.spare_capacity_mut()[..room];
    let start = spare.as_ptr().cast::<u8>();
    let written = fill(spare)?;
    assert!(
        std::ptr::eq(written.as_ptr(), start) && written.len() <= room,
        "append_with: fill must return a prefix of the room it was given"
    );
    let n = written.len();
    // SAFETY: `written` is a `&mut [u8]`, so its `n` bytes are initialised,
    // and it was just checked to be the first `n` of the `room` bytes that
    // follow `buf.len()` inside `buf`'s allocation (`reserve` made them part
    // of its capacity). Those are exactly the bytes `set_len` takes in.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// A borrowed socket whose reads and writes go straight to the kernel
/// (rustix). glibc's `recv` and `send` are cancellation points: in a
/// multi-threaded process each wraps its system call in two atomic updates
/// of the thread's cancellation state, which with the wrappers themselves
/// was ~2.5 % of the server's CPU at 100 x 20 B (perf); fastwebsockets,
/// single-threaded, pays none of it.
pub(super) struct Sock<'a>(pub(super) &'a TcpStream);

impl Sock<'_> {
    /// Reads into `buf`'s next `room` bytes without zeroing them first.
    #[cfg(unix)]
    pub(super) fn read_append(&self, buf: &mut BytesMut, room: usize) -> io::Result<usize> {
        append_with(buf, room, |spare| {
            let ((read, _), _) = rustix::net::recv(self.0, spare, rustix::net::RecvFlags::empty())?;
            Ok(read)
        })
    }

    /// Reads into `buf`'s next `room` bytes, zeroed first (safe std read).
    #[cfg(not(unix))]
    pub(super) fn read_append(&self, buf: &mut BytesMut, room: usize) -> io::Result<usize> {
        let len = buf.len();
        buf.resize(len + room, 0);
        let read = (&*self.0).read(&mut buf[len..]);
        buf.truncate(len + read.as_ref().map_or(0, |n| *n));
        read
    }
}

#[cfg(unix)]
impl Read for Sock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, _) = rustix::net::recv(self.0, buf, rustix::net::RecvFlags::empty())?;
        Ok(n)
    }
}

#[cfg(unix)]
impl Write for Sock<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // As std's `write` on a socket: a peer gone raises no SIGPIPE.
        Ok(rustix::net::send(
            self.0,
            buf,
            rustix::net::SendFlags::NOSIGNAL,
        )?)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Ok(rustix::io::writev(self.0, bufs)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(not(unix))]
impl Read for Sock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

#[cfg(not(unix))]
impl Write for Sock<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self.0).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_what_fill_wrote_and_nothing_more() {
        // Every byte is read as a value: under Miri, one the fill did not write is an error.
        let bytes = |buf: &BytesMut| buf.iter().copied().collect::<Vec<u8>>();
        let mut buf = BytesMut::from(&b"ab"[..]);
        let n = append_with(&mut buf, 8, |spare| {
            assert_eq!(spare.len(), 8);
            Ok(spare[..3].write_copy_of_slice(b"xyz"))
        });
        assert_eq!(n.unwrap(), 3);
        assert_eq!(bytes(&buf), b"abxyz");
        // Again, into the room left: bytes accumulate in order.
        let n = append_with(&mut buf, 2, |spare| Ok(spare.write_copy_of_slice(b"!?")));
        assert_eq!(n.unwrap(), 2);
        assert_eq!(bytes(&buf), b"abxyz!?");
    }

    #[test]
    fn an_empty_read_or_an_error_leaves_the_buffer_as_it_was() {
        let mut buf = BytesMut::from(&b"ab"[..]);
        assert_eq!(
            append_with(&mut buf, 4, |spare| Ok(
                &mut spare[..0].write_copy_of_slice(&[])[..]
            ))
            .unwrap(),
            0
        );
        let err = append_with(&mut buf, 4, |_| Err(io::ErrorKind::WouldBlock.into()));
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(&buf[..], b"ab");
    }

    #[test]
    #[should_panic(expected = "prefix of the room")]
    fn a_slice_not_at_the_start_of_the_room_is_refused() {
        let mut buf = BytesMut::new();
        let _ = append_with(&mut buf, 4, |spare| {
            let written = spare.write_copy_of_slice(b"abcd");
            Ok(&mut written[1..])
        });
    }
}
