//! Server settings: every limit, timeout and policy, with its documented default.

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Counters;

/// What happens when [`Conn::send_text`](crate::Conn::send_text) and friends find
/// the connection's outbound queue over the high-water mark.
///
/// In both cases the call returns [`Error::Backpressure`](crate::Error::Backpressure)
/// and the message is not queued; control frames (ping, pong, close) are never
/// dropped and never refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backpressure {
    /// Start the close handshake with 1008 (policy violation): a client that
    /// does not read its messages is disconnected. The default.
    #[default]
    Close,
    /// Drop the message and keep the connection: the caller decides.
    Drop,
}

/// How the server drives its sockets: chosen with
/// [`ServerBuilder::bridge`](crate::ServerBuilder::bridge). Hooks, limits and
/// behaviour are the same on both; only threads, memory and speed differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Bridge {
    /// Pollers (one per worker of the runtime the server builds, each
    /// serving its own connections, or one on a `ws-poll-PORT` thread: see
    /// [`ServerBuilder::poller_thread`](crate::ServerBuilder::poller_thread)) serve the connections
    /// with readiness-based I/O (epoll through `mio`): one read buffer per
    /// poller, no thread per connection, a few KB per idle connection. The default.
    #[default]
    Poll,
    /// A reader and a writer thread per connection, blocking I/O. Threads
    /// cost memory maps: `max_connections` is capped at what
    /// `vm.max_map_count` allows (about 7 000 by Linux's default).
    Threads,
}

/// Every knob of the server. Built by [`ServerBuilder`](crate::ServerBuilder);
/// the defaults are the ones documented on its setters.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_connections: usize,
    pub(crate) max_handshakes: usize,
    pub(crate) max_handshakes_per_ip: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) handshake_limits: ws_handshake::Limits,
    pub(crate) origin_policy: ws_handshake::OriginPolicy,
    /// permessage-deflate: what the server agrees to, or `None` (off).
    pub(crate) deflate: Option<ws_handshake::DeflateOptions>,
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) max_fragments: usize,
    pub(crate) high_water: usize,
    pub(crate) backpressure: Backpressure,
    pub(crate) mailbox_limit: usize,
    pub(crate) mailbox_bytes: usize,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) pong_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) close_timeout: Duration,
    pub(crate) read_buffer_size: usize,
    pub(crate) stack_size: usize,
    /// Where plain HTTP `GET` gets the Prometheus text, if anywhere.
    pub(crate) metrics_path: Option<String>,
    /// Not a knob: the server's counters, reached wherever settings are.
    pub(crate) counters: Arc<Counters>,
    /// The topics `Conn::subscribe` joins (the server's own, or shared).
    pub(crate) topics: crate::topics::Topics,
    /// TLS: rustls's configuration, or `None` (plain TCP).
    pub(crate) tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// Tests only: runs in the bridge with every chunk read.
    pub(crate) fault: Option<Fault>,
}

/// A test's fault injection ([`ServerBuilder::bridge_fault`](crate::ServerBuilder::bridge_fault)).
#[derive(Clone)]
pub(crate) struct Fault(pub(crate) Arc<FaultFn>);

/// What a fault injection runs.
pub(crate) type FaultFn = dyn Fn(&[u8]) + Send + Sync;

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fault")
    }
}

impl Settings {
    /// Bridges call it with each chunk they read (one branch per read).
    pub(crate) fn inject(&self, read: &[u8]) {
        if let Some(fault) = &self.fault {
            (fault.0)(read);
        }
    }
}

impl Default for Settings {
    /// The documented defaults (the table on [`ServerBuilder`](crate::ServerBuilder)).
    fn default() -> Settings {
        let codec = ws_codec::Config::default();
        Settings {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
            max_handshakes_per_ip: DEFAULT_MAX_HANDSHAKES_PER_IP,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            handshake_limits: ws_handshake::Limits::default(),
            origin_policy: ws_handshake::OriginPolicy::any(),
            deflate: None,
            max_frame_size: codec.max_frame_size(),
            max_message_size: codec.max_message_size(),
            max_fragments: codec.max_fragments(),
            high_water: DEFAULT_HIGH_WATER,
            backpressure: Backpressure::default(),
            mailbox_limit: DEFAULT_MAILBOX_LIMIT,
            mailbox_bytes: DEFAULT_MAILBOX_BYTES,
            ping_interval: Some(DEFAULT_PING_INTERVAL),
            pong_timeout: Some(DEFAULT_PONG_TIMEOUT),
            idle_timeout: None,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            stack_size: DEFAULT_STACK_SIZE,
            fault: None,
            metrics_path: None,
            counters: Arc::default(),
            topics: crate::topics::Topics::new(),
            tls: None,
        }
    }
}

/// What [`ServerBuilder::permessage_deflate`](crate::ServerBuilder::permessage_deflate)
/// agrees to by default: 12-bit windows both ways and no context takeover in either
/// direction, so an idle connection holds no compressor or decompressor (a message takes
/// one and gives it back after; each thread keeps a reset compressor for its next message:
/// under 1 KB per idle connection instead of about 420 KB with context takeover, see the
/// table in the [crate docs](crate#permessage-deflate)), at some cost in ratio for streams
/// of similar messages.
pub const DEFAULT_DEFLATE: ws_handshake::DeflateOptions = ws_handshake::DeflateOptions::DEFAULT
    .with_server_no_context_takeover(true)
    .with_client_no_context_takeover(true);

/// Default of [`ServerBuilder::max_connections`](crate::ServerBuilder::max_connections).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default of [`ServerBuilder::max_handshakes`](crate::ServerBuilder::max_handshakes).
pub const DEFAULT_MAX_HANDSHAKES: usize = 1024;
/// Default of [`ServerBuilder::max_handshakes_per_ip`](crate::ServerBuilder::max_handshakes_per_ip).
pub const DEFAULT_MAX_HANDSHAKES_PER_IP: usize = 64;
/// Default of [`ServerBuilder::handshake_timeout`](crate::ServerBuilder::handshake_timeout).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`ServerBuilder::high_water`](crate::ServerBuilder::high_water): 1 MiB.
pub const DEFAULT_HIGH_WATER: usize = 1 << 20;
/// Default of [`ServerBuilder::mailbox_limit`](crate::ServerBuilder::mailbox_limit).
pub const DEFAULT_MAILBOX_LIMIT: usize = 256;
/// Default of [`ServerBuilder::mailbox_bytes`](crate::ServerBuilder::mailbox_bytes): 4 MiB.
pub const DEFAULT_MAILBOX_BYTES: usize = 4 << 20;
/// Default of [`ServerBuilder::ping_interval`](crate::ServerBuilder::ping_interval).
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);
/// Default of [`ServerBuilder::pong_timeout`](crate::ServerBuilder::pong_timeout).
pub const DEFAULT_PONG_TIMEOUT: Duration = Duration::from_secs(20);
/// Default of [`ServerBuilder::close_timeout`](crate::ServerBuilder::close_timeout).
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default of [`ServerBuilder::read_buffer_size`](crate::ServerBuilder::read_buffer_size): 16 KiB.
pub const DEFAULT_READ_BUFFER_SIZE: usize = 16 * 1024;
/// Default of [`ServerBuilder::stack_size`](crate::ServerBuilder::stack_size): 128 KiB.
pub const DEFAULT_STACK_SIZE: usize = 128 * 1024;
