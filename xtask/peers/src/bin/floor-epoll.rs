//! The epoll floor (issue 17): a bare single-threaded WebSocket echo on `epoll` through
//! `libc`, no framework, written only to measure the floor that `cargo xtask bench` holds
//! the others against. The WebSocket is the hand-written one of [`peers::bare`] (no limits,
//! no checks beyond a correct echo): a measurement, not a server.
//!
//! Per message: one `read` and one `write` on a level-triggered socket, one `epoll_wait`
//! shared by every connection ready in that turn.

use peers::bare::{self, Echo, Handshake};
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};

/// Bytes of spare room before each `read`: a 64 KiB frame and its header in one call
/// when they are there (with 64 KiB the header's 14 bytes took a second read and write).
const READ_ROOM: usize = 256 << 10;
/// `epoll_data` of the listener (connections carry their fd).
const LISTENER: u64 = u64::MAX;

struct Conn {
    fd: RawFd,
    open: bool,
    echo: Echo,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    /// The registered epoll events: `EPOLLOUT` while `out` waits for room, no `EPOLLIN`
    /// once closing.
    events: u32,
    /// A close was echoed: close once `out` is flushed.
    closing: bool,
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind(peers::addr_arg())?;
    listener.set_nonblocking(true)?;
    let lfd = listener.as_raw_fd();
    let ep = check(
        unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) },
        "epoll_create1",
    )?;
    ctl(ep, libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32, LISTENER)?;
    peers::announce(listener.local_addr()?);
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in &events[..n as usize] {
            let (flags, token) = (ev.events, ev.u64);
            if token == LISTENER {
                accept_all(ep, lfd, &mut conns)?;
                continue;
            }
            let fd = token as usize;
            let Some(c) = conns.get_mut(fd).and_then(Option::as_mut) else {
                continue;
            };
            let alive = if flags & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
                on_readable(c)
            } else {
                true
            };
            if !(alive && flush(ep, c)) {
                unsafe { libc::close(c.fd) };
                conns[fd] = None;
            }
        }
    }
}

fn accept_all(ep: RawFd, lfd: RawFd, conns: &mut Vec<Option<Conn>>) -> io::Result<()> {
    loop {
        let fd = unsafe {
            libc::accept4(
                lfd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(()),
                io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => continue,
                _ => Err(e),
            };
        }
        let one: libc::c_int = 1;
        unsafe {
            let p = &one as *const libc::c_int as *const libc::c_void;
            libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, p, 4);
        }
        ctl(ep, libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, fd as u64)?;
        let i = fd as usize;
        if conns.len() <= i {
            conns.resize_with(i + 1, || None);
        }
        conns[i] = Some(Conn {
            fd,
            open: false,
            echo: Echo::default(),
            inbuf: Vec::new(),
            out: Vec::new(),
            events: libc::EPOLLIN as u32,
            closing: false,
        });
    }
}

/// One `read`, then the handshake or the echo of the complete frames. False: close.
fn on_readable(c: &mut Conn) -> bool {
    c.inbuf.reserve(READ_ROOM);
    let spare = c.inbuf.spare_capacity_mut();
    let n = unsafe { libc::read(c.fd, spare.as_mut_ptr().cast(), spare.len()) };
    if n <= 0 {
        return n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock;
    }
    unsafe { c.inbuf.set_len(c.inbuf.len() + n as usize) };
    let mut at = 0;
    if !c.open {
        match bare::handshake(&c.inbuf) {
            Handshake::Partial => return true,
            Handshake::Refused => return false,
            Handshake::Done(n, response) => {
                c.out.extend_from_slice(&response);
                c.open = true;
                at = n;
            }
        }
    }
    let (used, close) = c.echo.feed(&c.inbuf[at..], &mut c.out);
    c.closing = close;
    c.inbuf.drain(..at + used);
    true
}

/// Writes what `out` holds, registering `EPOLLOUT` for the rest. False: close.
fn flush(ep: RawFd, c: &mut Conn) -> bool {
    if !c.out.is_empty() {
        let n = unsafe { libc::write(c.fd, c.out.as_ptr().cast(), c.out.len()) };
        if n < 0 {
            if io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock {
                return false;
            }
        } else {
            c.out.drain(..n as usize);
        }
    }
    let read = if c.closing { 0 } else { libc::EPOLLIN as u32 };
    let write = if c.out.is_empty() {
        0
    } else {
        libc::EPOLLOUT as u32
    };
    if read | write != c.events {
        if ctl(ep, libc::EPOLL_CTL_MOD, c.fd, read | write, c.fd as u64).is_err() {
            return false;
        }
        c.events = read | write;
    }
    !(c.closing && c.out.is_empty())
}

fn ctl(ep: RawFd, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: token };
    check(unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) }, "epoll_ctl").map(drop)
}

fn check(r: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(r)
}
