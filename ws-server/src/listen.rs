//! The listening socket, with a backlog of our choosing: std's `bind` fixes
//! it at 128, and a burst of connections beyond what the kernel queues is
//! dropped there (SYNs unanswered, clients retrying after a second) before
//! admission ever sees it.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Default of [`ServerBuilder::listen_backlog`](crate::ServerBuilder::listen_backlog)
/// (mio's and tokio's value; the kernel caps it at `net.core.somaxconn`).
pub(crate) const DEFAULT_BACKLOG: u32 = 1024;

/// Listens on the first of `addrs` that binds, as std's `bind` does, with
/// `backlog` (`SO_REUSEADDR` on, as std sets it on Unix).
pub(crate) fn listen(addrs: &[SocketAddr], backlog: u32) -> io::Result<TcpListener> {
    let mut last = None;
    for addr in addrs {
        match listen_on(*addr, backlog) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on")))
}

fn listen_on(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    socket.listen(backlog)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;
    use std::time::Duration;

    /// How many of `n` connects complete while nobody accepts.
    fn queued(backlog: u32, n: usize) -> usize {
        let l = listen(&["127.0.0.1:0".parse().unwrap()], backlog).unwrap();
        let addr = l.local_addr().unwrap();
        let mut held = Vec::new();
        for _ in 0..n {
            // A full accept queue drops the SYN: the connect times out.
            match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
        held.len()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_burst_past_std_s_128_is_queued_by_the_kernel() {
        // Loopback completes a handshake only while the accept queue has room
        // (backlog + 1 on Linux): with std's 128, the 130th connect hangs.
        assert_eq!(queued(DEFAULT_BACKLOG, 300), 300);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_backlog_asked_for_is_the_one_applied() {
        let n = queued(16, 40);
        assert!(n < 40, "a backlog of 16 held {n} connections");
    }

    #[test]
    fn no_address_is_an_error() {
        let e = listen(&[], 8).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
