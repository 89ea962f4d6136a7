//! The poll bridge's reads and writes, made as system calls of their own.

use std::io::{self, IoSlice, Read, Write};

use mio::net::TcpStream;

/// A borrowed socket whose reads and writes go straight to the kernel
/// (rustix). glibc's `recv` and `send` are cancellation points: in a
/// multi-threaded process each wraps its system call in two atomic updates
/// of the thread's cancellation state, which with the wrappers themselves
/// was ~2.5 % of the server's CPU at 100 x 20 B (perf); fastwebsockets,
/// single-threaded, pays none of it.
pub(super) struct Sock<'a>(pub(super) &'a TcpStream);

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
