//! The io_uring prototype (issue 17): a bare single-threaded WebSocket echo on the `io-uring`
//! crate, the same hand-written WebSocket as `floor-epoll` ([`peers::bare`]), written only to
//! decide whether an io_uring backend is worth building. Not a server: no limits.
//!
//! What the earlier bare attempt (one recv and one send per message) did not try:
//! - multishot receive (`RecvMulti`) into a provided-buffer ring: one SQE per connection for
//!   its whole life, the kernel picking the buffer; each buffer goes back to the ring as soon
//!   as its bytes are echoed (payloads stream through [`Echo`]: one copy, as `floor-epoll`);
//! - registered files: `AcceptMulti` into direct descriptors (the fixed-file table, no fd
//!   ever in the process's table), the ring fd registered too;
//! - sends coalesced per turn: echoes append to the connection's buffer, one `Send` per
//!   connection per turn at most, and one `io_uring_enter` per turn submits them and waits;
//!   the ring set up `SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN` (completions run only
//!   inside that enter), falling back when the kernel refuses them.
//!
//! `URING_ECHO` picks a variant to break the cost down: a comma list of `nodefer` (no
//! `SINGLE_ISSUER`/`DEFER_TASKRUN`/`COOP_TASKRUN`), `nofixed` (ordinary fds: accept
//! multishot into the fd table, no fixed-file table) and `noinc` (classic provided
//! buffers, one per receive, instead of incrementally consumed ones).

use io_uring::types::{BufRingEntry, Fd, Fixed};
use io_uring::{cqueue, opcode, squeue, IoUring};
use peers::bare::{self, Echo, Handshake};
use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};

/// Fixed-file table size: the most connections at once.
const SLOTS: u32 = 16 << 10;
/// The provided-buffer ring's group id.
const BGID: u16 = 0;
/// Its buffers (a power of two) and their size. Incremental (`IOU_PBUF_RING_INC`, 6.12+):
/// a few large buffers that the receives fill one after the other, so the memory that
/// takes the bytes stays small and warm. Classic: one buffer per receive, enough for a
/// receive on every connection in one turn.
const INC: (u16, usize) = (16, 256 << 10);
const CLASSIC: (u16, usize) = (2048, 32 << 10);
/// `IOU_PBUF_RING_INC` (the crate's `sys` is private).
const PBUF_RING_INC: u16 = 2;

/// `user_data`: the operation in the high half, the connection slot in the low.
const ACCEPT: u64 = 1 << 32;
const RECV: u64 = 2 << 32;
const SEND: u64 = 3 << 32;
const OTHER: u64 = 4 << 32;

static ONE: libc::c_int = 1;

fn main() -> io::Result<()> {
    let variant = std::env::var("URING_ECHO").unwrap_or_default();
    let defer = !variant.contains("nodefer");
    let fixed = !variant.contains("nofixed");
    let inc = !variant.contains("noinc");
    let (mut ring, setup) = build_ring(defer).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("io_uring_setup: {e} (errno {:?})", e.raw_os_error()),
        )
    })?;
    let listener = TcpListener::bind(peers::addr_arg())?;
    let lfd = listener.as_raw_fd();
    let mut st = State {
        conns: Vec::new(),
        // Incremental buffers need 6.12: classic ones where they are refused.
        bufs: match BufRing::new(&ring, inc) {
            Err(e) if inc && e.kind() == io::ErrorKind::InvalidInput => BufRing::new(&ring, false)?,
            r => r?,
        },
        sqes: Vec::new(),
        dirty: Vec::new(),
        fixed,
    };
    if fixed {
        ring.submitter().register_files_sparse(SLOTS)?;
    }
    ring.submitter().register_ring_fd()?;
    st.arm_accept(lfd);
    eprintln!(
        "uring-echo: setup {setup}, {} files, {} buffers",
        if fixed { "fixed" } else { "ordinary" },
        if st.bufs.inc {
            "incremental"
        } else {
            "classic"
        }
    );
    peers::announce(listener.local_addr()?);
    loop {
        let (submitter, mut sq, mut cq) = ring.split();
        for e in st.sqes.drain(..) {
            // SAFETY: every buffer an entry points to (send buffers, `ONE`) outlives it:
            // a connection's `sending` is not touched while its send is in flight.
            while unsafe { sq.push(&e) }.is_err() {
                sq.sync();
                submitter.submit()?;
                sq.sync();
            }
        }
        sq.sync();
        match submitter.submit_and_wait(1) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            r => r?,
        };
        cq.sync();
        for cqe in &mut cq {
            st.on_cqe(lfd, cqe.user_data(), cqe.result(), cqe.flags());
        }
        st.flush_sends();
    }
}

/// The ring with `SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN` when wanted and the kernel
/// has them (6.1+), else a plain one; and which it got.
fn build_ring(defer: bool) -> io::Result<(IoUring, &'static str)> {
    let base = || {
        let mut b = IoUring::builder();
        b.setup_cqsize(64 << 10).setup_submit_all();
        b
    };
    if defer {
        let mut b = base();
        b.setup_single_issuer()
            .setup_defer_taskrun()
            .setup_coop_taskrun();
        match b.build(4096) {
            Ok(r) => return Ok((r, "SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN")),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((base().build(4096)?, "plain"))
}

/// An operation on a connection's socket: through its fixed slot or its ordinary fd.
macro_rules! on_fd {
    ($st:expr, $slot:expr, |$fd:ident| $op:expr) => {
        if $st.fixed {
            let $fd = Fixed($slot);
            $op
        } else {
            let $fd = Fd($slot as i32);
            $op
        }
    };
}

struct State {
    conns: Vec<Conn>,
    bufs: BufRing,
    /// Entries for the next enter.
    sqes: Vec<squeue::Entry>,
    /// Connections with echoes to send at the end of the turn.
    dirty: Vec<u32>,
    fixed: bool,
}

#[derive(Default)]
struct Conn {
    open: bool,
    echo: Echo,
    /// The start of a handshake or of a frame header split across buffers (payloads
    /// stream: [`Echo`]).
    pending: Vec<u8>,
    /// Echoes of this turn, sent at its end.
    out: Vec<u8>,
    /// The send in flight (untouched until it completes) and how much of it went out.
    sending: Vec<u8>,
    sent: usize,
    in_flight: bool,
    recv_armed: bool,
    dirty: bool,
    /// A close was echoed: shut down once it is sent.
    closing: bool,
    dead: bool,
    shut: bool,
}

impl State {
    fn arm_accept(&mut self, lfd: i32) {
        let op = opcode::AcceptMulti::new(Fd(lfd)).allocate_file_index(self.fixed);
        self.sqes.push(op.build().user_data(ACCEPT));
    }

    fn arm_recv(&mut self, slot: u32) {
        self.conns[slot as usize].recv_armed = true;
        let e = on_fd!(self, slot, |fd| opcode::RecvMulti::new(fd, BGID).build());
        self.sqes.push(e.user_data(RECV | slot as u64));
    }

    fn on_cqe(&mut self, lfd: i32, ud: u64, res: i32, flags: u32) {
        let slot = ud as u32;
        match ud & !0xffff_ffff {
            ACCEPT => {
                if res >= 0 {
                    self.accepted(res as u32);
                } else {
                    eprintln!("uring-echo: accept: {}", io::Error::from_raw_os_error(-res));
                }
                if !cqueue::more(flags) {
                    self.arm_accept(lfd);
                }
            }
            RECV => self.received(slot, res, flags),
            SEND => self.sent(slot, res),
            _ => {}
        }
    }

    fn accepted(&mut self, slot: u32) {
        let i = slot as usize;
        if self.conns.len() <= i {
            self.conns.resize_with(i + 1, Conn::default);
        }
        self.conns[i] = Conn::default();
        let one = &ONE as *const libc::c_int as *const libc::c_void;
        let (level, name) = (libc::IPPROTO_TCP as u32, libc::TCP_NODELAY as u32);
        let e = on_fd!(self, slot, |fd| opcode::SetSockOpt::new(
            fd, level, name, one, 4
        )
        .build());
        self.sqes
            .push(e.user_data(OTHER).flags(squeue::Flags::SKIP_SUCCESS));
        self.arm_recv(slot);
    }

    fn received(&mut self, slot: u32, res: i32, flags: u32) {
        let c = &mut self.conns[slot as usize];
        if res == -libc::ENOBUFS && !c.dead {
            // The ring ran dry: the buffers given back this turn serve the re-armed receive.
            return self.arm_recv(slot);
        }
        if res <= 0 {
            c.recv_armed = false;
            return self.kill(slot);
        }
        let bid = cqueue::buffer_select(flags).expect("a multishot receive names its buffer");
        if !(c.dead || c.closing) {
            feed(c, self.bufs.take(bid, res as usize));
            if !c.out.is_empty() && !c.dirty {
                c.dirty = true;
                self.dirty.push(slot);
            }
        }
        if !cqueue::buffer_more(flags) {
            self.bufs.give(bid);
        }
        let dead = self.conns[slot as usize].dead;
        if cqueue::more(flags) {
            if dead {
                self.kill(slot);
            }
        } else if dead {
            self.conns[slot as usize].recv_armed = false;
            self.kill(slot);
        } else {
            self.arm_recv(slot);
        }
    }

    fn sent(&mut self, slot: u32, res: i32) {
        let c = &mut self.conns[slot as usize];
        c.in_flight = false;
        if res < 0 || c.dead {
            return self.kill(slot);
        }
        c.sent += res as usize;
        if c.sent < c.sending.len() {
            return self.send(slot);
        }
        c.sending.clear();
        if !c.out.is_empty() && !c.dirty {
            c.dirty = true;
            self.dirty.push(slot);
        } else if c.out.is_empty() && c.closing {
            self.kill(slot);
        }
    }

    /// One send per dirty connection whose previous send has completed.
    fn flush_sends(&mut self) {
        for i in 0..self.dirty.len() {
            let slot = self.dirty[i];
            let c = &mut self.conns[slot as usize];
            c.dirty = false;
            if !c.in_flight && !c.out.is_empty() && !c.dead {
                std::mem::swap(&mut c.out, &mut c.sending);
                c.sent = 0;
                self.send(slot);
            }
        }
        self.dirty.clear();
    }

    fn send(&mut self, slot: u32) {
        let c = &mut self.conns[slot as usize];
        c.in_flight = true;
        let rest = &c.sending[c.sent..];
        let (p, n) = (rest.as_ptr(), rest.len() as u32);
        let e = on_fd!(self, slot, |fd| opcode::Send::new(fd, p, n)
            .flags(libc::MSG_NOSIGNAL)
            .build());
        self.sqes.push(e.user_data(SEND | slot as u64));
    }

    /// Ends the connection: shuts the socket down to end its receive, closes it (freeing the
    /// slot) once nothing is in flight on it.
    fn kill(&mut self, slot: u32) {
        let c = &mut self.conns[slot as usize];
        c.dead = true;
        if c.recv_armed && !c.shut {
            c.shut = true;
            let e = on_fd!(self, slot, |fd| opcode::Shutdown::new(fd, libc::SHUT_RDWR)
                .build());
            self.sqes.push(e.user_data(OTHER));
        }
        let c = &mut self.conns[slot as usize];
        if !c.recv_armed && !c.in_flight {
            *c = Conn::default();
            let e = on_fd!(self, slot, |fd| opcode::Close::new(fd).build());
            self.sqes.push(e.user_data(OTHER));
        }
    }
}

/// Echoes what `data` brings, keeping a split header in `pending`.
fn feed(c: &mut Conn, data: &[u8]) {
    if c.pending.is_empty() {
        let used = consume(c, data);
        c.pending.extend_from_slice(&data[used..]);
    } else {
        let mut p = std::mem::take(&mut c.pending);
        p.extend_from_slice(data);
        let used = consume(c, &p);
        p.drain(..used);
        c.pending = p;
    }
}

/// The handshake, or the echo of `buf`; bytes used.
fn consume(c: &mut Conn, buf: &[u8]) -> usize {
    let mut at = 0;
    if !c.open {
        match bare::handshake(buf) {
            Handshake::Partial => return 0,
            Handshake::Refused => {
                c.dead = true;
                return buf.len();
            }
            Handshake::Done(n, response) => {
                c.out.extend_from_slice(&response);
                c.open = true;
                at = n;
            }
        }
    }
    let (used, close) = c.echo.feed(&buf[at..], &mut c.out);
    if close {
        c.closing = true;
        return buf.len();
    }
    at + used
}

/// The provided-buffer ring (`IORING_REGISTER_PBUF_RING`, 5.19+): `count` buffers of
/// `size` in one allocation, their descriptors in a page-aligned ring the kernel reads.
struct BufRing {
    ring: *mut BufRingEntry,
    mem: Vec<u8>,
    count: u16,
    size: usize,
    inc: bool,
    tail: u16,
    /// Incremental: how much of each buffer the kernel has filled so far.
    used: Vec<usize>,
}

impl BufRing {
    fn new(ring: &IoUring, inc: bool) -> io::Result<BufRing> {
        let (count, size) = if inc { INC } else { CLASSIC };
        let bytes = count as usize * std::mem::size_of::<BufRingEntry>();
        // SAFETY: a fresh anonymous mapping, page-aligned as the kernel requires, never unmapped.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut b = BufRing {
            ring: p.cast(),
            mem: vec![0; count as usize * size],
            count,
            size,
            inc,
            tail: 0,
            used: vec![0; count as usize],
        };
        let flags = if inc { PBUF_RING_INC } else { 0 };
        // SAFETY: the ring stays mapped for the process's life.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(p as u64, count, BGID, flags)
                .map_err(|e| io::Error::new(e.kind(), format!("register_buf_ring: {e}")))?
        };
        for bid in 0..count {
            b.give(bid);
        }
        Ok(b)
    }

    /// The `len` bytes a receive put in buffer `bid` (after the earlier ones, incremental).
    fn take(&mut self, bid: u16, len: usize) -> &[u8] {
        let at = bid as usize * self.size + self.used[bid as usize];
        self.used[bid as usize] += len;
        &self.mem[at..at + len]
    }

    /// Hands buffer `bid` (back) to the kernel, whole.
    fn give(&mut self, bid: u16) {
        self.used[bid as usize] = 0;
        let at = bid as usize * self.size;
        // SAFETY: the index is masked into the ring; the tail store publishes the entry.
        unsafe {
            let e = &mut *self.ring.add((self.tail & (self.count - 1)) as usize);
            e.set_addr(self.mem.as_mut_ptr().add(at) as u64);
            e.set_len(self.size as u32);
            e.set_bid(bid);
            self.tail = self.tail.wrapping_add(1);
            let tail = BufRingEntry::tail(self.ring) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}
