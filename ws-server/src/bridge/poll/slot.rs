//! One connection on the poller: its socket and readiness, and the one way
//! the poller drives it whatever its stage (the session decides the rest).

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use mio::net::TcpStream;

use super::sock::Sock;
use crate::link::Link;
use crate::session::{End, Session, ToActor};
use crate::tls::TlsConn;

/// Reads per connection before the poller serves the others.
const READS_PER_TURN: usize = 4;

/// One connection on the poller.
pub(super) struct Slot {
    /// The one strong handle: a send's direct write borrows it (weakly).
    stream: Arc<TcpStream>,
    pub(super) link: Arc<Link>,
    /// Readiness seen and not yet used up (mio is edge-triggered).
    pub(super) readable: bool,
    pub(super) writable: bool,
    /// The peer's FIN (or a hang-up) was reported: the edge never comes
    /// again, so reads go on until they return 0, short or not.
    pub(super) read_closed: bool,
    /// The earliest entry this slot has in the timer heap.
    pub(super) timer: Option<Instant>,
    /// The poller round that last drove this slot.
    pub(super) round: u64,
    /// Over TLS: what sits between the socket and the session.
    tls: Option<Arc<TlsConn>>,
    /// Over TLS: the session is over but rustls's last records (close_notify)
    /// are still being written, until this deadline. Boxed: rare, and the
    /// slot (touched first on every drive) stays small.
    ending: Option<Box<(End, Instant)>>,
}

/// How driving a slot left it.
pub(super) enum Outcome {
    /// Wait for readiness, a notify or a timer.
    Wait,
    /// Still readable after its turn's reads: drive it again soon.
    Again,
    /// The session is over: close the transport this way.
    End(End),
}

/// What the last read gave, for the session.
enum Input {
    None,
    /// Bytes in the poller's read buffer.
    Bytes(usize),
    /// Bytes appended to the codec's buffer the session lent.
    Lent(usize),
    Eof(&'static str),
}

impl Slot {
    pub(super) fn new(stream: Arc<TcpStream>, link: Arc<Link>, tls: Option<Arc<TlsConn>>) -> Slot {
        Slot {
            stream,
            link,
            readable: true,
            writable: true,
            read_closed: false,
            timer: None,
            round: 0,
            tls,
            ending: None,
        }
    }

    /// Shuts the transport down `how` and closes it; the connection's link
    /// is what is left.
    pub(super) fn close(self, how: Shutdown) -> Arc<Link> {
        let _ = self.stream.shutdown(how);
        self.link
    }

    /// Gives the session what was read, lets it advance, writes what it
    /// queued, and reads while it wants more (and the socket has it). One lock
    /// of the session per read. `now`: the poller turn's time. `due`: the next
    /// instant the session needs us.
    pub(super) fn drive(
        &mut self,
        scratch: &mut [u8],
        msgs: &mut Vec<ToActor>,
        now: Instant,
        due: &mut Option<Instant>,
    ) -> Outcome {
        let mut input = Input::None;
        // The codec's buffer, lent for a read straight into it (a large payload).
        let mut lent: Option<BytesMut> = None;
        let mut reads = 0;
        if let Some(outcome) = self.linger(now, due) {
            return outcome;
        }
        // Borrowed, not cloned: a clone is two atomics on the link's first
        // cache line per drive, which at 1000 connections is rarely in cache.
        let link = &*self.link;
        loop {
            let (end, wants_read, direct, full) = {
                let mut s = link.lock();
                // Nothing happened to the session yet (no bytes; no
                // writability that output waits for: edge-triggered epoll
                // reports it with most readable edges) and the loop below
                // reads: this pass only asks, the pass after the read
                // advances, writes and looks at the end. A readable edge then
                // costs one full pass, not two; every way out (a read that
                // finds nothing included) follows a full pass.
                let light = reads == 0
                    && self.readable
                    && !(self.writable && s.has_output())
                    && s.wants_read(link.flow())
                    && link.has_room();
                let mut end = None;
                if !light {
                    if let Some(recv) = lent.take() {
                        let n = if let Input::Lent(n) = input { n } else { 0 };
                        s.put_recv(recv, n, now, link.flow(), msgs);
                    }
                    match std::mem::replace(&mut input, Input::None) {
                        Input::None | Input::Lent(_) => {}
                        Input::Bytes(n) => {
                            link.settings().inject(&scratch[..n]);
                            self.read(&mut s, &scratch[..n], now, msgs);
                        }
                        Input::Eof(why) => s.handle_eof(why),
                    }
                    if std::mem::take(&mut self.writable) {
                        s.writable();
                    }
                    s.advance(now, link.flow(), msgs);
                    if self.write(&mut s).is_err() {
                        s.abort("write failed");
                    }
                    end = s.poll_end(now);
                    *due = s.poll_timeout();
                }
                // Asked here, under this lock: a small message's read then
                // takes no second one. Over TLS the bytes read are not the payload's.
                let direct = self.tls.is_none() && s.reads_direct();
                (end, light || s.wants_read(link.flow()), direct, !light)
            };
            link.deliver(msgs);
            if let Some(end) = end {
                return self.end(end, now, due);
            }
            // Flow control counts what was just delivered too.
            let room = link.has_room();
            if !(wants_read && room && self.readable) {
                return Outcome::Wait;
            }
            if reads == READS_PER_TURN {
                return Outcome::Again;
            }
            reads += 1;
            // While a large payload arrives, it is read straight into the
            // codec's buffer (not through `scratch` and a copy).
            let direct = if direct {
                link.lock().take_recv()
            } else {
                None
            };
            let (read, wanted) = match direct {
                Some((mut recv, room)) => {
                    let read = Sock(&self.stream).read_append(&mut recv, room);
                    if let Ok(n) = read {
                        link.settings().inject(&recv[recv.len() - n..]);
                    }
                    lent = Some(recv);
                    (read, room)
                }
                None => (Sock(&self.stream).read(scratch), scratch.len()),
            };
            input = match read {
                Ok(0) => Input::Eof("peer closed the TCP connection"),
                Ok(n) => {
                    // A short read emptied the socket: epoll reports new
                    // data, but not again a FIN it already reported.
                    if n < wanted && !self.read_closed {
                        self.readable = false;
                    }
                    match lent {
                        Some(_) => Input::Lent(n),
                        None => Input::Bytes(n),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    if full && lent.is_none() {
                        return Outcome::Wait;
                    }
                    // The lent buffer goes back, or the session gets the
                    // full pass it has not had, in the pass that follows.
                    Input::None
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Input::None,
                Err(_) => Input::Eof("connection reset"),
            };
        }
    }

    /// Gives the session what was read: as it is, or through TLS.
    fn read(&self, s: &mut Session, data: &[u8], now: Instant, msgs: &mut Vec<ToActor>) {
        let flow = self.link.flow();
        let Some(tls) = &self.tls else {
            s.adopt_spare(data);
            return s.handle_read(data, now, flow, msgs);
        };
        match tls.feed(data, |plain| s.handle_read(plain, now, flow, msgs)) {
            Ok(fed) => {
                if let Some(info) = fed.handshake {
                    // Before the request this read may hold reaches the actor.
                    self.link.set_tls(info);
                }
                if fed.closed {
                    s.handle_eof("peer closed the TLS connection");
                }
            }
            // rustls queued its alert; the write below sends it.
            Err(_) => s.abort("TLS error"),
        }
    }

    /// Writes what the session queued until the socket would block (over
    /// TLS, with rustls's own records: handshake, tickets, alerts, a write's tail).
    fn write(&self, s: &mut Session) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            if s.has_output() && !s.is_stalled() {
                return s.write_to(Sock(&self.stream));
            }
            return Ok(0);
        };
        if s.has_output() && !s.is_stalled() {
            // rustls's queued records go in the same writev.
            return s.write_to(tls.writer(&*self.stream));
        }
        // While the actor decides on the request, the session tickets rustls
        // queued after the handshake wait to go out with the answer, one write
        // instead of two. The end flushes them too (`end`).
        if s.is_deciding() {
            return Ok(0);
        }
        tls.flush(&*self.stream).map(|_| 0)
    }

    /// The session is over: over TLS, send close_notify and wait (at most
    /// the close timeout) until rustls's last records are written.
    fn end(&mut self, end: End, now: Instant, due: &mut Option<Instant>) -> Outcome {
        if let Some(tls) = &self.tls {
            if let Ok(false) = tls.close(&*self.stream) {
                let deadline = now + self.link.settings().close_timeout;
                self.ending = Some(Box::new((end, deadline)));
                *due = Some(deadline);
                return Outcome::Wait;
            }
        }
        Outcome::End(end)
    }

    /// Writing the last TLS records: `None` if not ending.
    fn linger(&mut self, now: Instant, due: &mut Option<Instant>) -> Option<Outcome> {
        let (_, deadline) = self.ending.as_deref()?;
        let deadline = *deadline;
        let flushed = match &self.tls {
            Some(tls) => tls.flush(&*self.stream),
            None => Ok(true),
        };
        if matches!(flushed, Ok(false)) && now < deadline {
            *due = Some(deadline);
            return Some(Outcome::Wait);
        }
        self.ending.take().map(|e| Outcome::End(e.0))
    }

    /// The poller stops while this slot writes its last TLS records: give up
    /// on them. The link and how the session ended.
    pub(super) fn give_up(mut self) -> Option<(Arc<Link>, End)> {
        let (end, _) = *self.ending.take()?;
        Some((self.close(Shutdown::Both), end))
    }
}
