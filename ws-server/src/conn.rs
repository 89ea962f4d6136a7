//! The connection handle (`Conn`) and the state it shares with the bridge.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use actor_core::{Handle, Pid};
use bytes::Bytes;
use ws_codec::{CloseCode, EncodedFrame};

use crate::config::{Backpressure, Settings};
use crate::error::Error;

/// The seam between a connection and the I/O that drives it.
///
/// The connection actor and [`Conn`] only ever queue bytes into the codec and
/// call these methods; they never block on a socket (the poll bridge's
/// `queued` does one non-blocking write). The thread bridge
/// implements them with a condition variable and `TcpStream::shutdown`; the
/// poll bridge with a queue of tokens and its poller's waker.
pub(crate) trait Io: Send + Sync + 'static {
    /// Something changed (bytes queued, a decision made, a flag set): look again.
    /// Called without the state lock held.
    fn notify(&self, shared: &Shared);
    /// Tear the transport down now; wakes any blocked read or write at once.
    fn abort(&self);
    /// Wake a reader blocked on the request head (shutdown), keeping the
    /// socket writable for the 503.
    fn interrupt_read(&self);
    /// A send queued bytes in the codec (the caller holds the lock; `was_idle`:
    /// nothing was queued before): write them now without blocking, or not;
    /// `true` if the bridge must be notified to do the rest.
    fn queued(&self, g: &mut Inner, was_idle: bool) -> bool;
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The request head is being read or the actor is deciding.
    Handshake,
    /// The 101 was sent; frames flow.
    Open,
    /// The socket is done (closed, failed or never upgraded).
    Done,
}

/// What the actor decided about a request, handed back to the bridge.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Send 101 with this subprotocol and these headers.
    Upgrade {
        protocol: Option<String>,
        headers: Vec<(String, String)>,
    },
    /// Send these bytes (an HTTP response or refusal) and close.
    Respond(Vec<u8>),
}

/// The mutable part of a connection, behind one mutex that is never held across I/O.
pub(crate) struct Inner {
    pub(crate) codec: ws_codec::Connection,
    pub(crate) phase: Phase,
    pub(crate) decision: Option<Decision>,
    /// Bytes the writer took from the codec and has not finished writing.
    pub(crate) writing: usize,
    /// The first close frame sent or received: the code that ended the connection.
    pub(crate) first_close: Option<(CloseCode, String)>,
    /// Why the bridge tore the socket down without a close handshake, if it did.
    pub(crate) abort_reason: Option<&'static str>,
    /// The connection's actor is gone (its drop ran).
    pub(crate) actor_gone: bool,
    /// The server is shutting down: close with 1001 once open.
    pub(crate) shutting_down: bool,
    /// The socket was aborted (torn down); every wait ends.
    pub(crate) aborted: bool,
    /// Last time a data message went either way (the idle timer).
    pub(crate) last_data: Instant,
    /// When the outstanding ping was sent, if one awaits its pong.
    pub(crate) ping_sent: Option<Instant>,
    /// When the next heartbeat ping is due.
    pub(crate) next_ping: Option<Instant>,
    /// Threads waiting on the condition variable.
    pub(crate) parked: usize,
    /// The reader has stopped: the writer flushes what is queued and ends.
    pub(crate) reader_done: bool,
    /// Bytes a direct write from a send (poll bridge) could not write: the
    /// poller writes them before anything else (counted in `writing`).
    pub(crate) unsent: Vec<Bytes>,
    /// The poll bridge's socket while the connection is open, for direct writes.
    pub(crate) socket: Option<Arc<mio::net::TcpStream>>,
}

impl Inner {
    /// Records the first close frame, sent or received.
    pub(crate) fn note_close(&mut self, code: CloseCode, reason: &str) {
        if self.first_close.is_none() {
            self.first_close = Some((code, reason.to_owned()));
        }
    }

    /// Bytes queued and not yet on the wire.
    pub(crate) fn queued(&self) -> usize {
        self.codec.pending_transmit_bytes() + self.writing
    }

    /// Starts the close handshake (a control frame: never refused for backpressure).
    /// While a protocol failure is deferred this is [`fail`](Self::fail): the
    /// close carries the error's code, not `code`.
    pub(crate) fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.codec.state() == ws_codec::State::Failing {
            self.fail();
            return Ok(());
        }
        self.codec.close(code, reason).map_err(map_send)?;
        self.note_close(code, reason);
        Ok(())
    }

    /// Ends a deferred protocol failure: the close frame with the error's code
    /// goes out after everything queued so far (RFC 6455 §7.1.7).
    pub(crate) fn fail(&mut self) {
        if self.codec.fail().is_ok() {
            if let Some(e) = self.codec.error() {
                let (code, reason) = (e.close_code(), e.to_string());
                self.note_close(code, &reason);
            }
        }
    }

    /// The code and reason `on_close` reports once the socket is done.
    pub(crate) fn final_close(&self) -> (CloseCode, String) {
        match (&self.first_close, self.abort_reason) {
            (Some((code, reason)), _) => (*code, reason.clone()),
            (None, Some(why)) => (CloseCode::ABNORMAL, why.to_owned()),
            (None, None) => (CloseCode::ABNORMAL, String::new()),
        }
    }
}

/// State shared by a connection's handle, its actor and its bridge.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) peer: SocketAddr,
    pub(crate) pid: OnceLock<Pid>,
    pub(crate) handle: Handle,
    pub(crate) settings: Arc<Settings>,
    pub(crate) inner: Mutex<Inner>,
    /// The thread bridge's wake-up (the writer, and the reader waiting for a
    /// decision or for mailbox room).
    pub(crate) cv: Condvar,
    /// Messages pushed into the mailbox and not yet handled.
    pub(crate) in_flight: AtomicUsize,
    /// A protocol failure is deferred until `in_flight` drains to zero: the
    /// actor wakes the bridge when it handles the last message.
    pub(crate) draining: AtomicBool,
    pub(crate) io: OnceLock<Box<dyn Io>>,
}

impl Shared {
    pub(crate) fn new(
        id: u64,
        peer: SocketAddr,
        handle: Handle,
        settings: Arc<Settings>,
        codec: ws_codec::Connection,
    ) -> Shared {
        let now = Instant::now();
        Shared {
            id,
            peer,
            pid: OnceLock::new(),
            handle,
            settings,
            inner: Mutex::new(Inner {
                codec,
                phase: Phase::Handshake,
                decision: None,
                writing: 0,
                first_close: None,
                abort_reason: None,
                actor_gone: false,
                shutting_down: false,
                aborted: false,
                last_data: now,
                ping_sent: None,
                next_ping: None,
                parked: 0,
                reader_done: false,
                unsent: Vec::new(),
                socket: None,
            }),
            cv: Condvar::new(),
            in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            io: OnceLock::new(),
        }
    }

    /// Locks the state; a poisoned lock is taken over (no hook runs under it).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the I/O side to look again.
    pub(crate) fn notify(&self) {
        if let Some(io) = self.io.get() {
            io.notify(self);
        }
    }

    /// Tears the transport down.
    pub(crate) fn abort(&self, why: &'static str) {
        {
            let mut g = self.lock();
            g.aborted = true;
            if g.abort_reason.is_none() {
                g.abort_reason = Some(why);
            }
        }
        if let Some(io) = self.io.get() {
            io.abort();
        }
        self.notify();
    }

    /// The actor handled one bridged message: room in the mailbox again.
    pub(crate) fn message_handled(&self) {
        // SeqCst pairs with the bridge's store to `draining` then load of
        // `in_flight`: one of the two sides sees the other.
        let prev = self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let drained = prev == 1 && self.draining.load(Ordering::SeqCst);
        if prev == self.settings.mailbox_limit || drained {
            // The bridge may be parked waiting for room (or for the drain);
            // take the lock so the wake-up cannot fall between its check and its wait.
            drop(self.lock());
            self.notify();
        }
    }

    /// Whether a deferred failure may be sent now: the actor handled every
    /// message decoded before the error, or it is gone, or the wait is over.
    pub(crate) fn drained(&self, g: &Inner) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 || g.actor_gone || g.aborted
    }
}

/// A handle to one WebSocket connection: cheap to clone, `Send`, and checked.
///
/// Every method queues and returns at once; bytes are written by the bridge.
/// Once the connection is closing or gone, every send returns
/// [`Error::Closed`].
#[derive(Clone)]
pub struct Conn {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.shared.id)
            .field("peer", &self.shared.peer)
            .field("pid", &self.shared.pid.get())
            .finish()
    }
}

fn map_send(e: ws_codec::SendError) -> Error {
    match e {
        ws_codec::SendError::Closed => Error::Closed,
        other => Error::Send(other),
    }
}

impl Conn {
    /// The server-unique number of this connection.
    #[must_use]
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The client's address.
    #[must_use]
    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer
    }

    /// The pid of this connection's actor: other actors send to it, and
    /// [`Handler::on_info`](crate::Handler::on_info) receives what they send.
    #[must_use]
    pub fn pid(&self) -> Pid {
        self.shared.pid.get().copied().unwrap_or(Pid::NONE)
    }

    /// The runtime this connection's actor lives on.
    #[must_use]
    pub fn handle(&self) -> &Handle {
        &self.shared.handle
    }

    /// Is the connection still open for sending?
    #[must_use]
    pub fn is_open(&self) -> bool {
        let g = self.shared.lock();
        g.phase != Phase::Done && !g.aborted && g.first_close.is_none()
    }

    /// Bytes queued for this connection and not yet written to the socket.
    #[must_use]
    pub fn queued_bytes(&self) -> usize {
        self.shared.lock().queued()
    }

    /// Queues a text message.
    pub fn send_text(&self, text: &str) -> Result<(), Error> {
        self.send_data(|c| c.send_text(text))
    }

    /// Queues a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        self.send_data(|c| c.send_binary(data))
    }

    /// Queues a frame encoded once for many connections (a broadcast): the
    /// bytes are shared, not copied.
    pub fn send_encoded(&self, frame: &EncodedFrame) -> Result<(), Error> {
        self.send_data(|c| c.send_encoded(frame))
    }

    /// Queues a ping (a control frame: never refused for backpressure).
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        let mut g = self.shared.lock();
        self.check_open(&g)?;
        g.codec.ping(payload).map_err(map_send)?;
        drop(g);
        self.shared.notify();
        Ok(())
    }

    /// Starts the close handshake with `code` and `reason` (a control frame:
    /// never refused for backpressure). [`Handler::on_close`](crate::Handler::on_close)
    /// follows once the peer answers or the close timeout passes.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let mut g = self.shared.lock();
        self.check_open(&g)?;
        g.start_close(code, reason)?;
        drop(g);
        self.shared.notify();
        Ok(())
    }

    fn check_open(&self, g: &Inner) -> Result<(), Error> {
        if g.phase == Phase::Done || g.aborted || g.first_close.is_some() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn send_data(
        &self,
        f: impl FnOnce(&mut ws_codec::Connection) -> Result<(), ws_codec::SendError>,
    ) -> Result<(), Error> {
        let mut g = self.shared.lock();
        self.check_open(&g)?;
        let queued = g.queued();
        let high_water = self.shared.settings.high_water;
        if queued >= high_water {
            if self.shared.settings.backpressure == Backpressure::Close {
                // Policy: a client that does not read is disconnected (1008).
                let _ = g.start_close(CloseCode::POLICY_VIOLATION, "backpressure");
                drop(g);
                self.shared.notify();
            }
            return Err(Error::Backpressure { queued, high_water });
        }
        let was_idle = g.codec.pending_transmit_bytes() == 0;
        f(&mut g.codec).map_err(map_send)?;
        g.last_data = Instant::now();
        // Each bridge says whether it needs a wake-up (or writes at once).
        let wake = self
            .shared
            .io
            .get()
            .is_some_and(|io| io.queued(&mut g, was_idle));
        drop(g);
        if wake {
            self.shared.notify();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inner() -> Inner {
        Inner {
            codec: ws_codec::Connection::server(ws_codec::Config::default()),
            phase: Phase::Open,
            decision: None,
            writing: 0,
            first_close: None,
            abort_reason: None,
            actor_gone: false,
            shutting_down: false,
            aborted: false,
            last_data: Instant::now(),
            ping_sent: None,
            next_ping: None,
            parked: 0,
            reader_done: false,
            unsent: Vec::new(),
            socket: None,
        }
    }

    #[test]
    fn first_close_decides_the_code() {
        let mut g = inner();
        g.note_close(CloseCode::GOING_AWAY, "shutdown");
        g.note_close(CloseCode::NORMAL, "echo of ours");
        assert_eq!(g.final_close(), (CloseCode::GOING_AWAY, "shutdown".into()));
    }

    #[test]
    fn no_close_frame_is_1006_with_the_abort_reason() {
        let mut g = inner();
        assert_eq!(g.final_close(), (CloseCode::ABNORMAL, String::new()));
        g.abort_reason = Some("pong timeout");
        assert_eq!(
            g.final_close(),
            (CloseCode::ABNORMAL, "pong timeout".into())
        );
    }

    #[test]
    fn start_close_queues_a_frame_and_records_it() {
        let mut g = inner();
        g.start_close(CloseCode::POLICY_VIOLATION, "backpressure")
            .unwrap();
        assert!(g.queued() > 0);
        assert_eq!(
            g.first_close,
            Some((CloseCode::POLICY_VIOLATION, "backpressure".into()))
        );
        // A second close is the codec's "already closed", mapped to Closed.
        assert!(matches!(
            g.start_close(CloseCode::NORMAL, ""),
            Err(Error::Closed)
        ));
    }

    #[test]
    fn queued_counts_bytes_being_written() {
        let mut g = inner();
        g.codec.send_text("hello").unwrap();
        let in_codec = g.queued();
        g.writing = 10;
        assert_eq!(g.queued(), in_codec + 10);
    }
}
