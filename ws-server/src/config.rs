//! Server settings: every limit, timeout and policy, with its documented default.

use std::time::Duration;

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
    /// One poller per server (run by the workers of the runtime the server
    /// builds, or on a `ws-poll-PORT` thread: see
    /// [`ServerBuilder::poller_thread`](crate::ServerBuilder::poller_thread)) serves every connection
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
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) pong_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) close_timeout: Duration,
    pub(crate) read_buffer_size: usize,
    pub(crate) stack_size: usize,
    /// TLS: rustls's configuration, or `None` (plain TCP).
    pub(crate) tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl Default for Settings {
    /// The documented defaults (the table on [`ServerBuilder`](crate::ServerBuilder)).
    fn default() -> Settings {
        let codec = ws_codec::Config::default();
        Settings {
            max_connections: DEFAULT_MAX_CONNECTIONS,
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
            ping_interval: Some(DEFAULT_PING_INTERVAL),
            pong_timeout: Some(DEFAULT_PONG_TIMEOUT),
            idle_timeout: None,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            stack_size: DEFAULT_STACK_SIZE,
            tls: None,
        }
    }
}

/// What [`ServerBuilder::permessage_deflate`](crate::ServerBuilder::permessage_deflate)
/// agrees to by default: 12-bit windows both ways and no context takeover in either
/// direction, so an idle connection holds no compressor or decompressor (both are made
/// per message and released after it: under 1 KB per idle connection instead of about
/// 420 KB with context takeover), at some cost in ratio for streams of similar messages.
pub const DEFAULT_DEFLATE: ws_handshake::DeflateOptions = ws_handshake::DeflateOptions::DEFAULT
    .with_server_no_context_takeover(true)
    .with_client_no_context_takeover(true);

/// Default of [`ServerBuilder::max_connections`](crate::ServerBuilder::max_connections).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default of [`ServerBuilder::handshake_timeout`](crate::ServerBuilder::handshake_timeout).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`ServerBuilder::high_water`](crate::ServerBuilder::high_water): 1 MiB.
pub const DEFAULT_HIGH_WATER: usize = 1 << 20;
/// Default of [`ServerBuilder::mailbox_limit`](crate::ServerBuilder::mailbox_limit).
pub const DEFAULT_MAILBOX_LIMIT: usize = 256;
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
