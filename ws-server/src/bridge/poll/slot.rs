//! One connection on the poller: its socket and readiness, and the one way
//! the poller drives it whatever its stage (the session decides the rest).

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Instant;

use mio::net::TcpStream;

use crate::link::Link;
use crate::session::{End, ToActor};

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
    Bytes(usize),
    Eof(&'static str),
}

impl Slot {
    pub(super) fn new(stream: Arc<TcpStream>, link: Arc<Link>) -> Slot {
        Slot {
            stream,
            link,
            readable: true,
            writable: true,
            read_closed: false,
            timer: None,
            round: 0,
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
    /// of the session per read. `due`: the next instant the session needs us.
    pub(super) fn drive(
        &mut self,
        scratch: &mut [u8],
        msgs: &mut Vec<ToActor>,
        due: &mut Option<Instant>,
    ) -> Outcome {
        let link = Arc::clone(&self.link);
        let mut input = Input::None;
        let mut reads = 0;
        let now = Instant::now();
        loop {
            let (end, wants_read) = {
                let mut s = link.lock();
                match std::mem::replace(&mut input, Input::None) {
                    Input::None => {}
                    Input::Bytes(n) => {
                        link.settings().inject(&scratch[..n]);
                        s.handle_read(&scratch[..n], now, link.flow(), msgs);
                    }
                    Input::Eof(why) => s.handle_eof(why),
                }
                if std::mem::take(&mut self.writable) {
                    s.writable();
                }
                s.advance(now, link.flow(), msgs);
                if s.has_output() && !s.is_stalled() && s.write_to(&*self.stream).is_err() {
                    s.abort("write failed");
                }
                let end = s.poll_end(now);
                *due = s.poll_timeout();
                (end, s.wants_read(link.flow()))
            };
            link.deliver(msgs);
            if let Some(end) = end {
                return Outcome::End(end);
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
            input = match (&*self.stream).read(scratch) {
                Ok(0) => Input::Eof("peer closed the TCP connection"),
                Ok(n) => {
                    // A short read emptied the socket: epoll reports new
                    // data, but not again a FIN it already reported.
                    if n < scratch.len() && !self.read_closed {
                        self.readable = false;
                    }
                    Input::Bytes(n)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Outcome::Wait;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Input::None,
                Err(_) => Input::Eof("connection reset"),
            };
        }
    }
}
