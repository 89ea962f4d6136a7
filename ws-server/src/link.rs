//! What one connection's actor, its [`Conn`](crate::Conn) handles and its
//! bridge share: the session behind one lock (never held across blocking
//! I/O), the flow counters, the way into the actor's mailbox, and the seam to
//! the bridge. The glue between them, in one place for every bridge.

use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use actor_core::{Handle, Pid, Port};
use bytestring::ByteString;
use ws_codec::CloseCode;

use crate::actor::tags;
use crate::bridge::Io;
use crate::config::Settings;
use crate::registry::Registry;
use crate::session::{Decision, Flow, Session, ToActor};
use crate::topics::Memberships;

/// The payload of the disconnect message to the actor.
#[derive(Debug)]
pub(crate) struct DisconnectMsg {
    pub(crate) code: CloseCode,
    pub(crate) reason: String,
}

/// One connection's shared state.
///
/// `repr(C)`, hot fields first: what every message touches (the flow
/// counters, the settings, the port, the bridge, the session's lock and the
/// session's own small fields, see [`Session`]) sits in the first few cache
/// lines, the rest after the session. At 1000 connections each line is a
/// cache miss on its first touch per message.
#[repr(C)]
pub(crate) struct Link {
    flow: Flow,
    settings: Arc<Settings>,
    /// The only way into the actor's mailbox under ws-server's reserved tags.
    port: OnceLock<Port>,
    io: OnceLock<Arc<dyn Io>>,
    session: Mutex<Session>,
    id: u64,
    peer: SocketAddr,
    /// Whether the connection counts in the registry (not: a client over
    /// `max_connections`, answered 503 without an actor).
    admitted: bool,
    /// Counted among the handshakes in progress (until its head is complete).
    handshaking: AtomicBool,
    handle: Handle,
    registry: Arc<Registry>,
    /// The 101 was queued: `on_close` (and its count) is owed.
    upgraded: AtomicBool,
    /// The topics the connection is subscribed to.
    pub(crate) memberships: Memberships,
    /// A worker holds this connection's write back until its turn ends
    /// (`topics::cork`); changed only under the session's lock.
    pub(crate) corked: AtomicBool,
    /// What the TLS handshake settled (set before the request reaches the actor).
    tls: OnceLock<crate::tls::TlsInfo>,
}

impl Link {
    /// A connection whose bridge starts now.
    pub(crate) fn new(
        id: u64,
        peer: SocketAddr,
        settings: Arc<Settings>,
        handle: Handle,
        registry: Arc<Registry>,
        admitted: bool,
    ) -> Link {
        Link {
            id,
            peer,
            session: Mutex::new(Session::new(
                Arc::clone(&settings),
                Instant::now(),
                admitted,
            )),
            settings,
            flow: Flow::default(),
            admitted,
            handshaking: AtomicBool::new(false),
            port: OnceLock::new(),
            handle,
            io: OnceLock::new(),
            registry,
            upgraded: AtomicBool::new(false),
            memberships: Memberships::default(),
            corked: AtomicBool::new(false),
            tls: OnceLock::new(),
        }
    }

    /// The server-unique number of the connection.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The client's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The client's address as the handshake caps count it (an IPv4 client
    /// of a dual-stack listener as IPv4).
    pub(crate) fn peer_ip(&self) -> std::net::IpAddr {
        self.peer.ip().to_canonical()
    }

    /// The server counted this connection among the handshakes in progress.
    pub(crate) fn set_handshaking(&self) {
        self.handshaking.store(true, Ordering::Relaxed);
    }

    /// The handshake is over (once): out of the handshake caps.
    fn handshake_over(&self) {
        if self.handshaking.swap(false, Ordering::AcqRel) {
            self.registry.handshake_done(self.peer_ip());
        }
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// What the bridges count for [`Server::stats`](crate::Server::stats).
    pub(crate) fn gauges(&self) -> &crate::stats::Gauges {
        &self.registry.gauges
    }

    /// The counters the session and the actor share.
    pub(crate) fn flow(&self) -> &Flow {
        &self.flow
    }

    /// The runtime the actor lives on.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Room in the mailbox for more client messages (flow control, counting
    /// what was just delivered): fewer than `mailbox_limit` messages and
    /// `mailbox_bytes` of memory in flight.
    pub(crate) fn has_room(&self) -> bool {
        self.flow
            .has_room(self.settings.mailbox_limit, self.settings.mailbox_bytes)
    }

    /// Locks the session; a poisoned lock is taken over (no hook runs under it).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The actor's pid, once spawned.
    pub(crate) fn pid(&self) -> Option<Pid> {
        self.port.get().map(Port::pid)
    }

    /// The actor is spawned: its port.
    pub(crate) fn set_port(&self, port: Port) {
        let _ = self.port.set(port);
    }

    /// What the TLS handshake settled, if the connection is over TLS.
    pub(crate) fn tls(&self) -> Option<&crate::tls::TlsInfo> {
        self.tls.get()
    }

    /// The TLS handshake is over (the bridge, before it reads the request).
    pub(crate) fn set_tls(&self, info: crate::tls::TlsInfo) {
        let _ = self.tls.set(info);
    }

    /// The bridge that drives this connection.
    pub(crate) fn set_io(&self, io: Arc<dyn Io>) {
        let _ = self.io.set(io);
    }

    pub(crate) fn io(&self) -> Option<&dyn Io> {
        self.io.get().map(|io| &**io)
    }

    /// Tells the bridge to look again. Called without the session's lock.
    pub(crate) fn notify(&self) {
        if let Some(io) = self.io.get() {
            io.notify();
        }
    }

    /// Tears the connection down now (wakes blocked I/O at once).
    pub(crate) fn abort(&self, why: &'static str) {
        self.lock().abort(why);
        if let Some(io) = self.io.get() {
            io.interrupt(Shutdown::Both);
        }
        self.notify();
    }

    /// The server is shutting down: 1001 if open, 503 if still reading its head.
    pub(crate) fn begin_shutdown(&self) {
        let interrupt = self.lock().begin_shutdown(Instant::now());
        if interrupt {
            if let Some(io) = self.io.get() {
                // The socket stays writable for the 503.
                io.interrupt(Shutdown::Read);
            }
        }
        self.notify();
    }

    /// Hands the session's messages to the actor, in order (no lock held).
    pub(crate) fn deliver(&self, msgs: &mut Vec<ToActor>) {
        if msgs.is_empty() {
            return;
        }
        let Some(port) = self.port.get() else {
            msgs.clear();
            return;
        };
        let mut lost = false;
        for msg in msgs.drain(..) {
            // Data messages were counted in flight by the session when it made them.
            let (sent, counted) = match msg {
                ToActor::Connect(c) => {
                    // The head is complete: a connection now, no longer a
                    // handshake; over max_connections it is answered 503.
                    if self.handshaking.swap(false, Ordering::AcqRel)
                        && !self
                            .registry
                            .promote(self.peer_ip(), self.settings.max_connections)
                    {
                        self.decide(Decision::Respond(crate::session::unavailable()));
                        continue;
                    }
                    (port.send(tags::CONNECT, *c), None)
                }
                ToActor::Text(t) => {
                    let len = t.len();
                    // As a `ByteString`: actor-core carries that inline, unboxed.
                    (port.send(tags::TEXT, ByteString::from(t)), Some(len))
                }
                ToActor::Binary(b) => {
                    let len = b.len();
                    (port.send(tags::BINARY, b), Some(len))
                }
            };
            if sent.is_err() {
                if let Some(len) = counted {
                    self.flow.handled(len);
                }
                lost = true;
            }
        }
        if lost {
            // The actor is gone: a decision will never come; the close
            // handshake goes on without it.
            self.lock().actor_gone();
        }
    }

    /// The actor decided about the request.
    pub(crate) fn decide(&self, decision: Decision) {
        let mut s = self.lock();
        s.decide(decision, Instant::now());
        // Under the lock: the bridge's end (and `finish`) comes after this.
        if s.is_upgraded() {
            self.upgraded.store(true, Ordering::Relaxed);
            self.settings.counters.opened();
            tracing::debug!(conn = self.id, peer = %self.peer, "connection open");
        }
        drop(s);
        self.notify();
    }

    /// The actor handled one message of `len` bytes: room in the mailbox again.
    pub(crate) fn message_handled(&self, len: usize) {
        let s = &self.settings;
        if self
            .flow
            .handled_wakes(len, s.mailbox_limit, s.mailbox_bytes)
        {
            // The bridge may be parked waiting for room (or for the drain);
            // take the lock so the wake-up cannot fall between its check and its wait.
            drop(self.lock());
            self.notify();
        }
    }

    /// The actor is gone (its drop ran).
    pub(crate) fn actor_gone(&self) {
        // No Conn of this connection can subscribe any more: out of every topic.
        self.memberships
            .leave_all(&self.settings.topics, self.id, true);
        self.flow.actor_gone();
        self.lock().actor_gone();
        self.notify();
        self.registry.actor_done();
    }

    /// The bridge is done with the transport: out of the registry, then the
    /// actor hears how it ended (`on_close`, if it was upgraded).
    pub(crate) fn finish(&self, close: Option<(CloseCode, String)>) {
        self.handshake_over();
        if !self.admitted {
            self.registry.rejection_done();
            return;
        }
        // Out of the registry before the actor hears of it, so a client that
        // saw this connection end finds its slot free.
        self.registry.bridge_done(self.id);
        // Nothing more can be sent: out of every topic before on_close runs.
        self.memberships
            .leave_all(&self.settings.topics, self.id, false);
        let (code, reason) = close.unwrap_or((CloseCode::ABNORMAL, String::new()));
        if self.upgraded.load(Ordering::Relaxed) {
            self.settings.counters.closed(code.0);
            tracing::debug!(conn = self.id, peer = %self.peer, code = code.0, reason, "connection closed");
        }
        if let Some(port) = self.port.get() {
            let _ = port.send(tags::DISCONNECT, DisconnectMsg { code, reason });
        }
    }
}
