//! The connection handle the hooks get: `Conn`.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use actor_core::{Handle, Pid};
use bytes::Bytes;
use ws_codec::{CloseCode, EncodedFrame, Utf8Bytes};

use crate::error::Error;
use crate::link::Link;
use crate::metrics::Kind;
use crate::session::Session;
use crate::topics::{Payload, Published, Topics};

/// A handle to one WebSocket connection: cheap to clone, `Send`, and checked.
///
/// Every method queues and returns at once; bytes are written by the bridge.
/// Once the connection is closing or gone, every send returns
/// [`Error::Closed`].
#[derive(Clone)]
pub struct Conn {
    pub(crate) link: Arc<Link>,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.link.id())
            .field("peer", &self.link.peer())
            .field("pid", &self.link.pid())
            .finish()
    }
}

impl Conn {
    /// The server-unique number of this connection.
    #[must_use]
    pub fn id(&self) -> u64 {
        self.link.id()
    }

    /// The client's address.
    #[must_use]
    pub fn peer_addr(&self) -> SocketAddr {
        self.link.peer()
    }

    /// Over TLS: the SNI name, protocol version, ALPN protocol and cipher
    /// suite the handshake settled (set before `on_connect` runs). `None`
    /// on a plain connection.
    #[must_use]
    pub fn tls(&self) -> Option<&crate::TlsInfo> {
        self.link.tls()
    }

    /// The pid of this connection's actor: other actors send to it, and
    /// [`Handler::on_info`](crate::Handler::on_info) receives what they send.
    #[must_use]
    pub fn pid(&self) -> Pid {
        self.link.pid().unwrap_or(Pid::NONE)
    }

    /// Sends `payload` to this connection's actor, for
    /// [`Handler::on_info`](crate::Handler::on_info) to match on its type (no
    /// tag to pick). [`Error::Closed`] once the actor is gone.
    pub fn tell<T: std::any::Any + Send>(&self, payload: T) -> Result<(), Error> {
        let pid = self.pid();
        self.link
            .handle()
            .tell(pid, payload)
            .map_err(|_| Error::Closed)
    }

    /// The runtime this connection's actor lives on.
    #[must_use]
    pub fn handle(&self) -> &Handle {
        self.link.handle()
    }

    /// Is the connection still open for sending?
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.link.lock().is_open()
    }

    /// Bytes queued for this connection and not yet written to the socket.
    #[must_use]
    pub fn queued_bytes(&self) -> usize {
        self.link.lock().queued()
    }

    /// Queues a text message.
    pub fn send_text(&self, text: &str) -> Result<(), Error> {
        self.send_message(Kind::Text, text, |c, t| c.send_text(t))
    }

    /// Queues a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        self.send_message(Kind::Binary, data, |c, d| c.send_binary(d))
    }

    /// Queues a text message from shared bytes (a received message's
    /// [`Utf8Bytes`], say): as [`send_text`](Self::send_text), but a long
    /// payload that goes out as it is (not compressed) is not copied: the
    /// frame's header and the payload itself go out in one vectored write.
    pub fn send_text_bytes(&self, text: Utf8Bytes) -> Result<(), Error> {
        self.send_message(Kind::Text, text, |c, t| c.send_text_bytes(t))
    }

    /// Queues a binary message from shared bytes (a received message's
    /// payload, say): as [`send_binary`](Self::send_binary), without copying
    /// a long payload that goes out as it is (see
    /// [`send_text_bytes`](Self::send_text_bytes)). An echo of 64 KiB
    /// messages saves a copy and an allocation per message.
    pub fn send_binary_bytes(&self, data: Bytes) -> Result<(), Error> {
        self.send_message(Kind::Binary, data, |c, d| c.send_binary_bytes(d))
    }

    /// Queues a frame encoded once for many connections (a broadcast): the
    /// bytes are shared, not copied. From a hook or an actor of the server's own
    /// runtime the write is corked: held back until the actor's batch of
    /// messages ends, then one write per connection carries everything the batch
    /// queued there (and at once past 64 KiB queued).
    pub fn send_encoded(&self, frame: &EncodedFrame) -> Result<(), Error> {
        self.send_encoded_at(frame, Instant::now)
    }

    /// [`send_encoded`](Self::send_encoded) with the time from `now`: a publish reads
    /// the clock at most once for all its subscribers (it was 5.7 % of a fan-out's CPU read
    /// per send).
    pub(crate) fn send_encoded_at(
        &self,
        frame: &EncodedFrame,
        now: impl FnOnce() -> Instant,
    ) -> Result<(), Error> {
        let s = self.link.lock();
        self.queue(s, Kind::of(frame.opcode()), true, now, |c| {
            c.send_encoded(frame)
        })
    }

    /// Queues a ping (a control frame: never refused for backpressure).
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        self.link.lock().ping(payload)?;
        self.link.notify();
        Ok(())
    }

    /// Starts the close handshake with `code` and `reason` (a control frame:
    /// never refused for backpressure). [`Handler::on_close`](crate::Handler::on_close)
    /// follows once the peer answers or the close timeout passes.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.link.lock().close(code, reason, Instant::now())?;
        self.link.notify();
        Ok(())
    }

    /// Subscribes this connection to `topic` of its server's [`Topics`]: what is published
    /// there is queued on it like [`send_encoded`](Self::send_encoded). `Ok(false)` if it
    /// was subscribed already; [`Error::Closed`] once the connection has ended. It leaves
    /// every topic by itself when it ends.
    pub fn subscribe(&self, topic: &str) -> Result<bool, Error> {
        let topics = &self.link.settings().topics;
        self.link.memberships.subscribe(topics, self, topic)
    }

    /// Unsubscribes this connection from `topic`: `false` if it was not subscribed.
    pub fn unsubscribe(&self, topic: &str) -> bool {
        let topics = &self.link.settings().topics;
        self.link.memberships.unsubscribe(topics, self.id(), topic)
    }

    /// The topics of this connection's server (to publish, or to keep for another thread).
    #[must_use]
    pub fn topics(&self) -> &Topics {
        &self.link.settings().topics
    }

    /// Publishes to `topic` of this connection's server: [`Topics::publish`].
    pub fn publish<'a>(&self, topic: &str, payload: impl Into<Payload<'a>>) -> Published {
        self.topics().publish(topic, payload)
    }

    /// A data message: written at once when it is small and nothing waits
    /// (the bridge's [`Io::send_now`](crate::bridge::Io::send_now): no
    /// queued frame, no hand-off), otherwise queued by `encode`.
    fn send_message<T: AsRef<[u8]>>(
        &self,
        kind: Kind,
        msg: T,
        encode: impl FnOnce(&mut ws_codec::Connection, T) -> Result<(), ws_codec::SendError>,
    ) -> Result<(), Error> {
        let mut s = self.link.lock();
        let payload = msg.as_ref();
        let sent = self
            .link
            .io()
            .and_then(|io| io.send_now(&mut s, kind.opcode(), payload));
        match sent {
            Some(wake) => self.sent(s, kind, Ok(()), wake),
            None => self.queue(s, kind, false, Instant::now, |c| encode(c, msg)),
        }
    }

    /// Queues a data message through `encode` on the locked session `s`; the
    /// bridge writes it, or with `cork` (a broadcast from a worker) the end
    /// of the actor's batch does.
    fn queue(
        &self,
        mut s: MutexGuard<'_, Session>,
        kind: Kind,
        cork: bool,
        now: impl FnOnce() -> Instant,
        encode: impl FnOnce(&mut ws_codec::Connection) -> Result<(), ws_codec::SendError>,
    ) -> Result<(), Error> {
        let result = s.send(now, encode);
        let wake = match &result {
            // Each bridge says whether it needs a wake-up (or writes at once).
            Ok(()) => {
                if cork && crate::topics::cork::defer(&self.link, &s) {
                    false
                } else {
                    self.link.io().is_some_and(|io| io.queued(&mut s))
                }
            }
            // The backpressure policy may have started a close: its timer is new.
            Err(Error::Backpressure { .. }) => true,
            Err(_) => false,
        };
        self.sent(s, kind, result, wake)
    }

    /// After a send: counts it, unlocks, and wakes the bridge if asked.
    fn sent(
        &self,
        s: MutexGuard<'_, Session>,
        kind: Kind,
        result: Result<(), Error>,
        wake: bool,
    ) -> Result<(), Error> {
        if result.is_ok() {
            self.link.settings().counters.message_sent(kind);
        }
        drop(s);
        if wake {
            self.link.notify();
        }
        result
    }
}
