//! Settings of a WebSocket: the codec's limits, the handshake's, permessage-deflate, the
//! handshake timeout and the write buffer's high-water mark.

use std::time::Duration;

use ws_handshake::{DeflateOptions, DeflateParams, Limits};

/// Default of [`Config::handshake_timeout`]: 10 s, as ws-server's.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`Config::high_water`]: 1 MiB, as ws-server's.
pub const DEFAULT_HIGH_WATER: usize = 1 << 20;
/// Default of [`Config::read_buffer_size`]: 16 KiB, as ws-server's.
pub const DEFAULT_READ_BUFFER_SIZE: usize = 16 * 1024;

/// What the server agrees to when [`Config::deflate`] is turned on with
/// [`DEFAULT_DEFLATE`]: ws-handshake's 12-bit windows and no context takeover either way,
/// so an idle connection holds no compression state (ws-server's `DEFAULT_DEFLATE`).
pub const DEFAULT_DEFLATE: DeflateOptions = DeflateOptions::DEFAULT
    .with_server_no_context_takeover(true)
    .with_client_no_context_takeover(true);

/// Settings of one connection, server or client side, built with `with_*` methods.
///
/// | setting | default |
/// |---|---|
/// | [`codec`](Config::codec) (frame, message and fragment limits, close timeout) | ws-codec's: 1 MiB, 1 MiB, 4096, 5 s |
/// | [`limits`](Config::limits) (request/response head) | ws-handshake's |
/// | [`deflate`](Config::deflate) (permessage-deflate, RFC 7692) | `None`: declined / not offered |
/// | [`handshake_timeout`](Config::handshake_timeout) | 10 s |
/// | [`high_water`](Config::high_water) | 1 MiB |
/// | [`read_buffer_size`](Config::read_buffer_size) | 16 KiB |
///
/// ```
/// let config = ws_tokio::Config::default()
///     .with_max_message_size(64 << 20)
///     .with_deflate(Some(ws_tokio::DEFAULT_DEFLATE));
/// assert_eq!(config.codec().max_message_size(), 64 << 20);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    codec: ws_codec::Config,
    limits: Limits,
    deflate: Option<DeflateOptions>,
    handshake_timeout: Duration,
    high_water: usize,
    read_buffer_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            codec: ws_codec::Config::default(),
            limits: Limits::default(),
            deflate: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            high_water: DEFAULT_HIGH_WATER,
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
        }
    }
}

impl Config {
    /// The codec's limits and close timeout as a whole (its permessage-deflate setting is
    /// replaced by what the handshake agrees).
    pub fn with_codec(mut self, codec: ws_codec::Config) -> Self {
        self.codec = codec;
        self
    }
    /// Largest frame payload, checked from the header (a larger one closes with 1009).
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.codec = self.codec.with_max_frame_size(bytes);
        self
    }
    /// Largest message, inflated size with permessage-deflate (a larger one closes with 1009).
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.codec = self.codec.with_max_message_size(bytes);
        self
    }
    /// Most frames one message may be split into (more closes with 1009).
    pub fn with_max_fragments(mut self, fragments: usize) -> Self {
        self.codec = self.codec.with_max_fragments(fragments);
        self
    }
    /// How long to wait for the peer's close frame after sending one.
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.codec = self.codec.with_close_timeout(timeout);
        self
    }
    /// Limits on the handshake's request or response head.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// permessage-deflate: on a server, the policy offers are answered under (`None`
    /// declines them); on a client, whether it is offered (the parameters offered are
    /// ws-handshake's defaults, tightened by the options' no-context-takeover flags).
    pub fn with_deflate(mut self, deflate: Option<DeflateOptions>) -> Self {
        self.deflate = deflate;
        self
    }
    /// The longest the opening handshake may take, from the first byte read to the 101
    /// written (server) or read (client).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }
    /// Bytes waiting to be written above which the `Sink` stops being ready (backpressure):
    /// `poll_ready` writes what it can and returns `Pending` until the queue is below it.
    pub fn with_high_water(mut self, bytes: usize) -> Self {
        self.high_water = bytes;
        self
    }
    /// Room reserved in the receive buffer for each read (at least 1 KiB).
    pub fn with_read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(1024);
        self
    }

    /// The codec's settings.
    pub fn codec(&self) -> &ws_codec::Config {
        &self.codec
    }
    /// The handshake's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// The permessage-deflate policy or offer.
    pub fn deflate(&self) -> Option<&DeflateOptions> {
        self.deflate.as_ref()
    }
    /// The handshake timeout.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }
    /// The write buffer's high-water mark.
    pub fn high_water(&self) -> usize {
        self.high_water
    }
    /// Room reserved per read.
    pub fn read_buffer_size(&self) -> usize {
        self.read_buffer_size
    }

    /// The codec's configuration for a connection whose handshake agreed `agreed`.
    /// Deferred failure is always on: the messages before a protocol error are handed out
    /// first and the close goes out after the answers sent to them (RFC 6455 §7.1.7).
    pub(crate) fn codec_for(&self, agreed: Option<DeflateParams>) -> ws_codec::Config {
        self.codec
            .clone()
            .with_deferred_failure(true)
            .with_deflate(agreed.map(codec_deflate))
    }

    /// What a client offers, from the options (`None`: no offer).
    pub(crate) fn deflate_offer(&self) -> Option<DeflateParams> {
        self.deflate.map(|o| DeflateParams {
            server_no_context_takeover: o.server_no_context_takeover,
            client_no_context_takeover: o.client_no_context_takeover,
            ..DeflateParams::DEFAULT
        })
    }
}

/// ws-codec's compression for what the handshake agreed to (the two crates do not know
/// each other, so the one who uses both translates).
fn codec_deflate(p: DeflateParams) -> ws_codec::Deflate {
    ws_codec::Deflate::default()
        .with_server_max_window_bits(p.server_max_window_bits)
        .with_client_max_window_bits(p.client_max_window_bits)
        .with_server_no_context_takeover(p.server_no_context_takeover)
        .with_client_no_context_takeover(p.client_no_context_takeover)
}
