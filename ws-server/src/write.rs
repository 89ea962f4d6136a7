//! Vectored writes of queued frames, the one write path of both bridges.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use bytes::{Buf, Bytes};

/// Most buffers handed to one vectored write.
pub(crate) const MAX_IOV: usize = 64;

/// One vectored write of the first [`MAX_IOV`] of `chunks`, with no
/// allocation; what was written is consumed from the front (a chunk written
/// whole is left empty, a partly written one is advanced). The bytes written.
///
/// One chunk (an echo's one frame, most of the time) goes out with a plain
/// `write`: on a socket that is `send`, which skips `writev`'s VFS path
/// (`vfs_writev`, `fdget_pos`, the iovec import), ~6 % of the server's CPU at
/// 1000 x 20 B in `perf`.
pub(crate) fn write_chunks(mut stream: impl Write, chunks: &mut [Bytes]) -> io::Result<usize> {
    if let [one] = chunks {
        let written = stream.write(one)?;
        one.advance(written);
        return Ok(written);
    }
    let k = chunks.len().min(MAX_IOV);
    let mut slices = [IoSlice::new(&[]); MAX_IOV];
    for (slice, chunk) in slices.iter_mut().zip(&chunks[..k]) {
        *slice = IoSlice::new(chunk);
    }
    let written = stream.write_vectored(&slices[..k])?;
    let mut left = written;
    for chunk in &mut chunks[..k] {
        if left == 0 {
            break;
        }
        let n = left.min(chunk.len());
        chunk.advance(n);
        left -= n;
    }
    Ok(written)
}

/// [`write_chunks`] on the front of a queue; the chunks written whole leave it.
pub(crate) fn write_queue(stream: impl Write, out: &mut VecDeque<Bytes>) -> io::Result<usize> {
    let written = write_chunks(stream, out.as_mut_slices().0)?;
    while out.front().is_some_and(Bytes::is_empty) {
        out.pop_front();
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `cap` bytes per call.
    struct Trickle {
        cap: usize,
        got: Vec<u8>,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.cap);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_writes_keep_every_byte_in_order() {
        let mut out: VecDeque<Bytes> = ["ab", "cde", "f", "ghij"]
            .into_iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        let mut sink = Trickle {
            cap: 3,
            got: Vec::new(),
        };
        while !out.is_empty() {
            assert!(write_queue(&mut sink, &mut out).unwrap() > 0);
        }
        assert_eq!(sink.got, b"abcdefghij");
    }

    #[test]
    fn a_lone_chunk_written_in_part_is_advanced() {
        let mut one = [Bytes::from_static(b"abcde")];
        let mut sink = Trickle {
            cap: 2,
            got: Vec::new(),
        };
        assert_eq!(write_chunks(&mut sink, &mut one).unwrap(), 2);
        assert_eq!(&one[0][..], b"cde");
        assert_eq!(write_chunks(&mut sink, &mut one).unwrap(), 2);
        assert_eq!(write_chunks(&mut sink, &mut one).unwrap(), 1);
        assert!(one[0].is_empty());
        assert_eq!(sink.got, b"abcde");
    }
}
