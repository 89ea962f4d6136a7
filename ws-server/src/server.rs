//! The server: its builder, the accept thread, the connection registry and shutdown.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use actor_core::{Handle, Pid, Runtime, SpawnOptions};

use crate::actor::{ActorGuard, ConnActor};
use crate::admission::{self, Pushed, Waiting};
use crate::bridge::poll::{PollDriver, Poller};
use crate::bridge::threads;
use crate::config::*;
use crate::conn::Conn;
use crate::error::Error;
use crate::handler::Handler;
use crate::link::Link;
use crate::metrics::Metrics;
use crate::registry::Registry;

/// Most connections answered 503 at the same time when over `max_connections`;
/// past it, extra clients are dropped without an answer.
const MAX_REJECTING: usize = 64;

/// How often the accept thread looks at its waiting queue when no handshake
/// ended in between (a handshake ending wakes it at once).
const ADMIT_POLL: Duration = Duration::from_millis(5);

/// Builds a [`Server`]: the address, every limit, timeout and policy, and the runtime.
///
/// | knob | default |
/// |---|---|
/// | [`bind`](Self::bind) | `127.0.0.1:0` |
/// | [`runtime`](Self::runtime) | a runtime built for the server, [`workers`](Self::workers) threads |
/// | [`workers`](Self::workers) | the number of CPUs |
/// | [`max_connections`](Self::max_connections) | 10 000 |
/// | [`listen_backlog`](Self::listen_backlog) | 1024 |
/// | [`max_handshakes`](Self::max_handshakes) | 1024 |
/// | [`max_handshakes_per_ip`](Self::max_handshakes_per_ip) | 64 |
/// | [`handshake_timeout`](Self::handshake_timeout) | 10 s |
/// | [`handshake_limits`](Self::handshake_limits) | ws-handshake's defaults (8 KiB head, 64 headers, 2 KiB target) |
/// | [`origin_policy`](Self::origin_policy) | any origin |
/// | [`permessage_deflate`](Self::permessage_deflate) | off ([`DEFAULT_DEFLATE`] when turned on in the examples) |
/// | [`max_frame_size`](Self::max_frame_size) | 1 MiB (ws-codec's default) |
/// | [`max_message_size`](Self::max_message_size) | 1 MiB (ws-codec's default) |
/// | [`max_fragments`](Self::max_fragments) | 4096 (ws-codec's default) |
/// | [`high_water`](Self::high_water) | 1 MiB |
/// | [`backpressure`](Self::backpressure) | [`Backpressure::Close`] (close with 1008) |
/// | [`mailbox_limit`](Self::mailbox_limit) | 256 messages |
/// | [`mailbox_bytes`](Self::mailbox_bytes) | 4 MiB |
/// | [`ping_interval`](Self::ping_interval) | 30 s |
/// | [`pong_timeout`](Self::pong_timeout) | 20 s |
/// | [`idle_timeout`](Self::idle_timeout) | off |
/// | [`close_timeout`](Self::close_timeout) | 5 s |
/// | [`read_buffer_size`](Self::read_buffer_size) | 16 KiB |
/// | [`stack_size`](Self::stack_size) | 128 KiB per bridge thread |
/// | [`bridge`](Self::bridge) | [`Bridge::Poll`] (pollers, no thread per connection) |
/// | [`poller_thread`](Self::poller_thread) | off: the pollers run inside the server's runtime workers |
/// | [`pollers`](Self::pollers) | one per worker |
/// | [`metrics_path`](Self::metrics_path) | none: metrics only through [`Server::metrics`] |
/// | [`tls`](Self::tls) | off (plain TCP) |
#[derive(Debug)]
pub struct ServerBuilder {
    bind: Vec<SocketAddr>,
    bind_error: Option<io::Error>,
    backlog: u32,
    runtime: Option<Handle>,
    workers: Option<usize>,
    bridge: Bridge,
    poller_thread: bool,
    pollers: Option<usize>,
    settings: Settings,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder::new()
    }
}

impl ServerBuilder {
    /// A builder with every default (see the table above).
    #[must_use]
    pub fn new() -> ServerBuilder {
        ServerBuilder {
            bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            bind_error: None,
            backlog: crate::listen::DEFAULT_BACKLOG,
            runtime: None,
            workers: None,
            bridge: Bridge::default(),
            poller_thread: false,
            pollers: None,
            settings: Settings::default(),
        }
    }

    /// The address to listen on (default `127.0.0.1:0`, an ephemeral port).
    #[must_use]
    pub fn bind(mut self, addr: impl ToSocketAddrs) -> Self {
        match addr.to_socket_addrs() {
            Ok(addrs) => {
                self.bind = addrs.collect();
                self.bind_error = None;
            }
            Err(e) => self.bind_error = Some(e),
        }
        self
    }

    /// How many connections the kernel queues for the accept thread (default
    /// 1024, capped by `net.core.somaxconn`). std's 128 drops the SYNs of a
    /// larger burst, which clients retry only after a second; admission
    /// (the handshake caps) still bounds what is read.
    #[must_use]
    pub fn listen_backlog(mut self, n: u32) -> Self {
        self.backlog = n.max(1);
        self
    }

    /// Run connections on this runtime, so they can talk to its other actors
    /// (chat rooms, supervisors). Without it the server builds its own and
    /// shuts it down with the server.
    #[must_use]
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Worker threads of the runtime the server builds for itself (default:
    /// the number of CPUs). Ignored with [`runtime`](Self::runtime).
    #[must_use]
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n.max(1));
        self
    }

    /// Most connections past their handshake (deciding or upgraded) at once
    /// (default 10 000); past it, a new client gets `503 Service
    /// Unavailable` before the upgrade. Handshakes in progress do not count
    /// here: they have caps of their own ([`max_handshakes`](Self::max_handshakes)).
    /// [`Bridge::Threads`] lowers it to what the machine's memory-map limit
    /// allows (two threads per connection: about 7 000 with Linux's default
    /// `vm.max_map_count`, less a reader thread per allowed handshake).
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.settings.max_connections = n;
        self
    }

    /// Most connections still reading their request head at once (default
    /// 1024), apart from [`max_connections`](Self::max_connections), so slow
    /// handshakes cannot lock out clients that upgrade. Over it a new TCP
    /// connection waits, unread, for a place: at most `n` wait (when full, the
    /// newest of the source with the most waiting is closed, without an
    /// answer), none longer than the [`handshake_timeout`](Self::handshake_timeout).
    #[must_use]
    pub fn max_handshakes(mut self, n: usize) -> Self {
        self.settings.max_handshakes = n;
        self
    }

    /// Most handshakes in progress from one source address (default 64; an
    /// IPv4 client of a dual-stack listener counts as its IPv4 address), so
    /// one host cannot take every place under
    /// [`max_handshakes`](Self::max_handshakes). Over it a new TCP connection
    /// from that address waits for a place, behind that address's earlier
    /// ones, as over `max_handshakes`: a burst from one host (a proxy, a
    /// reconnect storm) is served in turn, not refused.
    #[must_use]
    pub fn max_handshakes_per_ip(mut self, n: usize) -> Self {
        self.settings.max_handshakes_per_ip = n;
        self
    }

    /// How long a client has to send its whole request head (default 10 s);
    /// a client that is slower is dropped.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.settings.handshake_timeout = timeout;
        self
    }

    /// ws-handshake's size limits for the request head.
    #[must_use]
    pub fn handshake_limits(mut self, limits: ws_handshake::Limits) -> Self {
        self.settings.handshake_limits = limits;
        self
    }

    /// Which `Origin` values are accepted (RFC 6455 §10.2; default any).
    #[must_use]
    pub fn origin_policy(mut self, policy: ws_handshake::OriginPolicy) -> Self {
        self.settings.origin_policy = policy;
        self
    }

    /// permessage-deflate (RFC 7692): `Some(options)` agrees to a client's
    /// offer under `options` ([`DEFAULT_DEFLATE`] is the recommended choice:
    /// no context takeover, so idle connections hold no compression state);
    /// `None` (the default) declines every offer. Messages under 64 bytes are
    /// sent uncompressed; `max_message_size` limits the inflated size.
    #[must_use]
    pub fn permessage_deflate(mut self, options: Option<ws_handshake::DeflateOptions>) -> Self {
        self.settings.deflate = options;
        self
    }

    /// Largest frame payload; a larger header is refused with 1009 before any
    /// payload is read (default 1 MiB).
    #[must_use]
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.settings.max_frame_size = bytes;
        self
    }

    /// Largest message after reassembly (default 1 MiB); over it, 1009.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.settings.max_message_size = bytes;
        self
    }

    /// Most fragments per message (default 4096); over it, 1009.
    #[must_use]
    pub fn max_fragments(mut self, n: usize) -> Self {
        self.settings.max_fragments = n;
        self
    }

    /// Memory of the outbound queue per connection past which a data send
    /// returns [`Error::Backpressure`] and the client is no longer read
    /// (default 1 MiB). Counted in memory, not wire bytes: each queued frame
    /// counts its bytes plus 80 for its handle, queue slot and allocation, so
    /// a queue of one-byte messages is bounded as tightly as one of large ones.
    /// Reading resumes once the queue drains below it.
    #[must_use]
    pub fn high_water(mut self, bytes: usize) -> Self {
        self.settings.high_water = bytes;
        self
    }

    /// What a send past the high-water mark does besides returning the error
    /// (default [`Backpressure::Close`]).
    #[must_use]
    pub fn backpressure(mut self, policy: Backpressure) -> Self {
        self.settings.backpressure = policy;
        self
    }

    /// Messages from the client waiting in the actor's mailbox past which the
    /// bridge stops reading the socket, so TCP pushes back (default 256).
    /// One read's worth of messages may go past it (a 16 KiB read of tiny
    /// frames holds a few thousand); [`mailbox_bytes`](Self::mailbox_bytes)
    /// bounds their memory too.
    #[must_use]
    pub fn mailbox_limit(mut self, n: usize) -> Self {
        self.settings.mailbox_limit = n.max(1);
        self
    }

    /// Memory of the client's messages waiting in the actor's mailbox past
    /// which the bridge stops reading (default 4 MiB): each message counts its
    /// payload plus 96 bytes for its envelope. Reading resumes once the actor
    /// has handled enough of them. At least one message always gets through,
    /// so at most this plus one message (`max_message_size`) is in flight.
    /// Payloads are not copied out of the buffer they were read into, so a
    /// client sending one tiny message per read can keep up to
    /// [`mailbox_limit`](Self::mailbox_limit) read buffers alive (the thread
    /// bridge's are [`read_buffer_size`](Self::read_buffer_size): 4 MiB with
    /// the defaults); the message count bounds that case.
    #[must_use]
    pub fn mailbox_bytes(mut self, bytes: usize) -> Self {
        self.settings.mailbox_bytes = bytes.max(1);
        self
    }

    /// Send a ping this often (default 30 s; `None`: never).
    #[must_use]
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.settings.ping_interval = interval;
        self
    }

    /// Drop a connection whose pong is this late (default 20 s; `None`: wait
    /// forever). `on_close` then reports 1006.
    #[must_use]
    pub fn pong_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.pong_timeout = timeout;
        self
    }

    /// Close with 1001 a connection that sent and received no data message for
    /// this long (default off). Pings and pongs do not count as activity.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.idle_timeout = timeout;
        self
    }

    /// How long to wait for the peer's close frame after sending one before
    /// dropping the TCP connection (default 5 s).
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.settings.close_timeout = timeout;
        self
    }

    /// Bytes read from the socket per read call (default 16 KiB).
    #[must_use]
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.settings.read_buffer_size = bytes.max(1024);
        self
    }

    /// Stack size of each bridge thread (default 128 KiB): the bridge runs no
    /// user code, so small stacks keep thousands of connections cheap.
    #[must_use]
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.settings.stack_size = bytes.max(32 * 1024);
        self
    }

    /// How sockets are driven (default [`Bridge::Poll`]): see [`Bridge`].
    #[must_use]
    pub fn bridge(mut self, bridge: Bridge) -> Self {
        self.bridge = bridge;
        self
    }

    /// With [`Bridge::Poll`]: run the poller on a thread of its own
    /// (`ws-poll-PORT`) rather than inside the workers of the runtime the
    /// server builds (the default: a worker with nothing to run polls the
    /// sockets itself, so a message read there runs its actor on that same
    /// worker, without a cross-thread wake-up). Always on with
    /// [`runtime`](Self::runtime), whose workers the server did not build.
    #[must_use]
    pub fn poller_thread(mut self, on: bool) -> Self {
        self.poller_thread = on;
        self
    }

    /// With [`Bridge::Poll`] inside the workers: how many pollers (default:
    /// one per worker, each worker polling its own connections; the accept
    /// thread gives a new connection to the poller with the fewest). Fewer
    /// pollers than workers are shared: worker `i` polls poller `i % n`.
    /// Ignored with [`poller_thread`](Self::poller_thread) or
    /// [`runtime`](Self::runtime) (one poller thread).
    #[must_use]
    pub fn pollers(mut self, n: usize) -> Self {
        self.pollers = Some(n.max(1));
        self
    }

    /// Testing only: `f` runs inside the bridge with every chunk read from a
    /// socket, so a panic in it is a panic in bridge code (fault injection).
    #[doc(hidden)]
    #[must_use]
    pub fn bridge_fault(mut self, f: impl Fn(&[u8]) + Send + Sync + 'static) -> Self {
        self.settings.fault = Some(Fault(Arc::new(f)));
        self
    }

    /// Answer a plain HTTP `GET` of `path` (say `"/metrics"`) on the server's
    /// own port with its metrics as Prometheus text
    /// ([`Metrics::to_prometheus`]), before [`Handler::on_http`] is asked.
    /// Anyone who can reach the port can read it: bind an internal address,
    /// or leave this off and serve [`Server::metrics`] elsewhere. Default: none.
    #[must_use]
    pub fn metrics_path(mut self, path: impl Into<String>) -> Self {
        self.settings.metrics_path = Some(path.into());
        self
    }

    /// The [`Topics`](crate::Topics) that [`Conn::subscribe`](crate::Conn::subscribe) joins:
    /// by default the server's own; give several servers the same one to share them, or one
    /// built with a broker ([`Topics::with_broker`](crate::Topics::with_broker)) to share them
    /// across processes. Its published messages are compressed for this server's
    /// permessage-deflate options unless set before.
    pub fn topics(mut self, topics: crate::Topics) -> Self {
        self.settings.topics = topics;
        self
    }

    /// Serve only TLS (wss and https) with this rustls configuration
    /// ([`tls::server_config`](crate::tls::server_config) builds one from PEM
    /// files; its [`CertResolver`](crate::tls::CertResolver) rotates the
    /// certificate without a restart). ALPN `http/1.1` is added when the
    /// configuration names no protocol. The TLS handshake counts against
    /// [`handshake_timeout`](Self::handshake_timeout). Needs [`Bridge::Poll`]:
    /// with [`Bridge::Threads`], [`serve`](Self::serve) returns
    /// [`Error::TlsNeedsPollBridge`].
    #[must_use]
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.settings.tls = Some(crate::tls::with_alpn(config));
        self
    }

    /// Binds, starts the accept thread and returns at once.
    pub fn serve<H: Handler>(mut self, handler: H) -> Result<Server, Error> {
        if let Some(e) = self.bind_error {
            return Err(Error::Bind(e));
        }
        if self.settings.tls.is_some() && self.bridge == Bridge::Threads {
            return Err(Error::TlsNeedsPollBridge);
        }
        let listener = crate::listen::listen(&self.bind, self.backlog).map_err(Error::Bind)?;
        let local_addr = listener.local_addr().map_err(Error::Io)?;
        let mut drivers = Vec::new();
        let (runtime, handle) = match self.runtime {
            Some(handle) => (None, handle),
            None => {
                let workers = self
                    .workers
                    .unwrap_or_else(|| thread::available_parallelism().map_or(1, usize::from));
                let mut builder = Runtime::builder().workers(workers);
                if self.bridge == Bridge::Poll && !self.poller_thread {
                    // A poller per worker (or as many as asked, each shared
                    // by the workers `i % pollers` picks).
                    let n = self.pollers.unwrap_or(workers).clamp(1, workers);
                    drivers = (0..n)
                        .map(|_| PollDriver::new())
                        .collect::<io::Result<Vec<_>>>()
                        .map_err(Error::Io)?;
                    builder = builder.drivers(
                        drivers
                            .iter()
                            .map(|d| Arc::clone(d) as Arc<dyn actor_core::Driver>)
                            .collect(),
                    );
                }
                let runtime = builder.build().map_err(Error::Runtime)?;
                let handle = runtime.handle();
                (Some(runtime), handle)
            }
        };
        if self.bridge == Bridge::Threads {
            // Past the machine's thread capacity a new thread aborts the
            // process: over the cap, clients get 503 like over max_connections.
            if let Some(cap) = threads::connection_cap() {
                // A handshake holds one thread (the reader), half a connection.
                let cap = cap.saturating_sub(self.settings.max_handshakes / 2);
                self.settings.max_connections = self.settings.max_connections.min(cap);
            }
        }
        let read_size = self.settings.read_buffer_size;
        tracing::info!(
            addr = %local_addr,
            bridge = ?self.bridge,
            workers = handle.worker_count(),
            max_connections = self.settings.max_connections,
            "server started"
        );
        self.settings.topics.set_deflate(self.settings.deflate);
        let shared = Arc::new(ServerShared {
            settings: Arc::new(self.settings),
            handle,
            next_id: AtomicU64::new(1),
            registry: Arc::new(Registry::default()),
            poller: OnceLock::new(),
        });
        if self.bridge == Bridge::Poll {
            let poller = if drivers.is_empty() {
                Poller::start(read_size, local_addr.port()).map_err(Error::Io)?
            } else {
                Poller::start_driven(drivers, read_size, shared.handle.worker_count())
            };
            let _ = shared.poller.set(poller);
        }
        let handler = Arc::new(handler);
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("ws-accept-{}", local_addr.port()))
            .spawn(move || accept_loop(listener, accept_shared, handler));
        let accept = match accept {
            Ok(t) => t,
            Err(e) => {
                if let Some(poller) = shared.poller.get() {
                    poller.stop();
                }
                return Err(Error::Io(e));
            }
        };
        Ok(Server {
            local_addr,
            shared,
            accept: Some(accept),
            runtime,
        })
    }
}

/// Everything the accept thread and shutdown share.
pub(crate) struct ServerShared {
    settings: Arc<Settings>,
    handle: Handle,
    next_id: AtomicU64,
    registry: Arc<Registry>,
    /// The poll bridge's poller, if the server uses it.
    poller: OnceLock<Poller>,
}

fn accept_loop<H: Handler>(listener: TcpListener, shared: Arc<ServerShared>, handler: Arc<H>) {
    let settings = Arc::clone(&shared.settings);
    let mut waiting = Waiting::new(settings.max_handshakes);
    let mut blocking = true;
    loop {
        if shared.registry.lock().shutting_down {
            break;
        }
        if !waiting.is_empty() {
            let timeout = settings.handshake_timeout;
            let closed = waiting.admit(Instant::now(), timeout, |stream, peer| {
                admit(stream, peer, &shared, &handler)
            });
            if closed > 0 && settings.counters.limit_warning_due() {
                tracing::warn!(
                    closed,
                    "clients waited for a handshake place past the handshake timeout: closed"
                );
            }
        }
        // Block in accept only while nobody waits; otherwise look at the queue
        // again whenever a handshake ends (the registry's condvar) or soon.
        if blocking != waiting.is_empty() {
            blocking = waiting.is_empty();
            let _ = listener.set_nonblocking(!blocking);
        }
        if waiting.is_full() {
            // Accept slowly while full, so one source flooding the queue only
            // ever displaces itself and the kernel's backlog holds the rest.
            shared.registry.wait_changed(ADMIT_POLL);
        }
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                shared.registry.wait_changed(ADMIT_POLL);
                continue;
            }
            Err(e) => {
                if is_transient_accept_error(&e) {
                    continue;
                }
                // Out of fds, this repeats every 50 ms: logged at most once a second.
                if shared.settings.counters.limit_warning_due() {
                    tracing::warn!(error = %e, "accept failed; retrying every 50 ms");
                }
                // Out of file descriptors and the like: back off a little
                // instead of spinning, then try again.
                thread::park_timeout(Duration::from_millis(50));
                continue;
            }
        };
        if shared.registry.lock().shutting_down {
            break;
        }
        // A source with connections waiting queues behind them (its own order).
        let over = if waiting.has(admission::source(&peer)) {
            Some(stream)
        } else {
            admit(stream, peer, &shared, &handler)
        };
        if let Some(stream) = over {
            let pushed = waiting.push(stream, peer, Instant::now());
            if pushed != Pushed::Queued && settings.counters.limit_warning_due() {
                let cap = settings.max_handshakes;
                tracing::warn!(%peer, cap, "{cap} clients wait for a handshake place: the newest of the busiest source closed");
            }
        }
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Starts a bridge (and an actor) for one accepted client, or a 503; gives the
/// stream back if the handshakes in progress are at a cap (it waits its turn).
fn admit<H: Handler>(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Arc<ServerShared>,
    handler: &Arc<H>,
) -> Option<TcpStream> {
    let mut r = shared.registry.lock();
    // Join the bridge threads that ended since the last accept.
    let (finished, running): (Vec<_>, Vec<_>) =
        r.threads.drain(..).partition(JoinHandle::is_finished);
    r.threads = running;
    // Connections past their handshake count against max_connections;
    // handshakes in progress have caps of their own (in total and per
    // source), so slow ones cannot lock out clients that upgrade.
    let settings = &shared.settings;
    let admitted = r.conns.len() - r.handshakes < settings.max_connections;
    let ip = admission::source(&peer);
    let over_handshakes = admitted
        && (r.handshakes >= settings.max_handshakes
            || r.handshakes_per_ip.get(&ip).copied().unwrap_or(0)
                >= settings.max_handshakes_per_ip);
    if over_handshakes {
        // It waits in the accept thread's queue for a place.
        drop(r);
        join_all(finished);
        return Some(stream);
    }
    if !admitted && settings.counters.limit_warning_due() {
        // At most once a second; ws_handshakes_rejected_total{status="503"} counts each 503.
        let max = settings.max_connections;
        if r.rejecting >= MAX_REJECTING {
            tracing::warn!(%peer, max, "max_connections reached and {MAX_REJECTING} 503s in progress: client dropped");
        } else {
            tracing::warn!(%peer, max, "max_connections reached: client answered 503");
        }
    }
    if !admitted && r.rejecting >= MAX_REJECTING {
        drop(r);
        join_all(finished);
        // Closed at once, without an answer: even the 503 path is saturated.
        return None;
    }
    let _ = stream.set_nodelay(true);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let link = Arc::new(Link::new(
        id,
        peer,
        Arc::clone(&shared.settings),
        shared.handle.clone(),
        Arc::clone(&shared.registry),
        admitted,
    ));
    if admitted {
        let actor = ConnActor::new(
            Arc::clone(handler),
            Conn {
                link: Arc::clone(&link),
            },
            ActorGuard(Arc::clone(&link)),
        );
        r.actors += 1;
        drop(r);
        let (port, _) = shared.handle.spawn_with_port(actor, SpawnOptions::new());
        r = shared.registry.lock();
        if port.pid() == Pid::NONE {
            // The runtime is shutting down: the actor was dropped (its guard
            // counted it out) and the client is dropped too.
            drop(r);
            join_all(finished);
            return None;
        }
        link.set_port(port);
        link.set_handshaking();
        r.handshakes += 1;
        *r.handshakes_per_ip.entry(ip).or_insert(0) += 1;
        r.conns.insert(id, Arc::clone(&link));
    } else {
        r.rejecting += 1;
    }
    if let Some(poller) = shared.poller.get() {
        poller.admit(stream, link);
        drop(r);
        join_all(finished);
        return None;
    }
    match threads::spawn(stream, Arc::clone(&link)) {
        Ok(t) => r.threads.push(t),
        Err(_) if admitted => {
            // No thread for this client: drop it, and its actor with it.
            r.conns.remove(&id);
            drop(r);
            shared.registry.handshake_done(ip);
            r = shared.registry.lock();
            if let Some(pid) = link.pid() {
                shared.handle.kill(pid);
            }
        }
        Err(_) => r.rejecting -= 1,
    }
    drop(r);
    join_all(finished);
    None
}

fn join_all(threads: Vec<JoinHandle<()>>) {
    for t in threads {
        let _ = t.join();
    }
}

/// A running server. Dropping it shuts it down with a one-second grace period.
pub struct Server {
    local_addr: SocketAddr,
    shared: Arc<ServerShared>,
    accept: Option<JoinHandle<()>>,
    runtime: Option<Runtime>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ServerShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerShared").finish_non_exhaustive()
    }
}

/// What [`Server::shutdown`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections open or handshaking when shutdown began.
    pub connections: usize,
    /// Connections that had not finished their close handshake within the
    /// grace period and were torn down.
    pub forced: usize,
}

impl Server {
    /// A builder with every default.
    #[must_use]
    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }

    /// The address the server listens on (with the real port when bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections open or handshaking now.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.shared.registry.lock().conns.len()
    }

    /// What the server holds now: connections (and how many are still
    /// handshaking), actors, bridge threads, poll slots. Cheap enough for a
    /// health check, not for a hot loop: see [`Stats`](crate::Stats).
    #[must_use]
    pub fn stats(&self) -> crate::Stats {
        crate::stats::snapshot(&self.shared.registry)
    }

    /// The runtime the connections live on.
    #[must_use]
    pub fn handle(&self) -> &Handle {
        &self.shared.handle
    }

    /// A snapshot of the server's counters and its runtime's (the same
    /// numbers [`ServerBuilder::metrics_path`] serves as Prometheus text).
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        self.shared
            .settings
            .counters
            .snapshot(self.shared.handle.metrics())
    }

    /// The topics this server's connections subscribe to: publish from any thread.
    #[must_use]
    pub fn topics(&self) -> &crate::Topics {
        &self.shared.settings.topics
    }

    /// Graceful shutdown: stop accepting; answer handshakes still in progress
    /// with 503; send 1001 to every open connection; wait up to `grace` for
    /// their close handshakes; tear down the rest. Returns once every bridge
    /// thread is joined and `on_close` has run for every connection.
    pub fn shutdown(mut self, grace: Duration) -> ShutdownReport {
        self.shutdown_inner(grace)
    }

    fn shutdown_inner(&mut self, grace: Duration) -> ShutdownReport {
        let Some(accept) = self.accept.take() else {
            return ShutdownReport {
                connections: 0,
                forced: 0,
            };
        };
        self.shared.registry.lock().shutting_down = true;
        tracing::info!(addr = %self.local_addr, grace = ?grace, "server shutting down");
        // Wake the accept thread out of accept() with a connection of our own.
        let mut wake = self.local_addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        let _ = accept.join();
        // The accept thread is gone: no connection joins the registry now.
        let registry = &self.shared.registry;
        let conns: Vec<Arc<Link>> = registry.lock().conns.values().cloned().collect();
        for c in &conns {
            c.begin_shutdown();
        }
        let deadline = Instant::now() + grace;
        let clean = registry.wait_until(deadline, |r| r.conns.is_empty());
        let mut forced = 0;
        if !clean {
            let left: Vec<Arc<Link>> = registry.lock().conns.values().cloned().collect();
            forced = left.len();
            for c in left {
                c.abort("shutdown grace period over");
            }
            // Aborted sockets end their bridges at once; this bound only
            // guards against a bridge stuck in the operating system.
            registry.wait_until(Instant::now() + Duration::from_secs(10), |r| {
                r.conns.is_empty()
            });
        }
        // Every on_close has run once every connection actor is gone; a hook
        // stuck in an endless loop cannot be waited for forever.
        let hook_bound = grace.max(Duration::from_secs(10));
        registry.wait_until(Instant::now() + hook_bound, |r| {
            r.actors == 0 && r.rejecting == 0
        });
        let threads = std::mem::take(&mut registry.lock().threads);
        join_all(threads);
        if let Some(poller) = self.shared.poller.get() {
            poller.stop();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown(Duration::from_secs(5));
        }
        tracing::info!(
            addr = %self.local_addr,
            connections = conns.len(),
            forced,
            "server stopped"
        );
        ShutdownReport {
            connections: conns.len(),
            forced,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown_inner(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let b = ServerBuilder::new();
        let s = &b.settings;
        assert_eq!(s.max_connections, 10_000);
        assert_eq!(s.max_handshakes, 1024);
        assert_eq!(s.max_handshakes_per_ip, 64);
        assert_eq!(s.handshake_timeout, Duration::from_secs(10));
        assert_eq!(s.high_water, 1 << 20);
        assert_eq!(s.backpressure, Backpressure::Close);
        assert_eq!(s.mailbox_limit, 256);
        assert_eq!(s.mailbox_bytes, 4 << 20);
        assert_eq!(s.ping_interval, Some(Duration::from_secs(30)));
        assert_eq!(s.pong_timeout, Some(Duration::from_secs(20)));
        assert_eq!(s.idle_timeout, None);
        assert_eq!(s.close_timeout, Duration::from_secs(5));
        assert_eq!(s.max_frame_size, 1 << 20);
        assert_eq!(s.max_message_size, 1 << 20);
        assert_eq!(s.max_fragments, 4096);
        assert_eq!(b.bind, vec![SocketAddr::from(([127, 0, 0, 1], 0))]);
        assert_eq!(b.bridge, Bridge::Poll);
        assert!(!b.poller_thread);
    }

    #[test]
    fn bad_bind_address_is_a_bind_error() {
        struct Nop;
        impl Handler for Nop {
            type State = ();
            fn on_connect(
                &self,
                _: &mut crate::Ctx<'_>,
                _: &ws_handshake::Request,
            ) -> crate::Connect<()> {
                crate::Connect::accept(())
            }
            fn on_message(&self, _: &mut crate::Ctx<'_>, _: &mut (), _: crate::Message) {}
        }
        let err = ServerBuilder::new()
            .bind("not an address")
            .serve(Nop)
            .unwrap_err();
        assert!(matches!(err, Error::Bind(_)), "{err}");
    }
}
