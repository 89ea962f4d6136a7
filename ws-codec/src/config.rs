//! Limits and timeouts of a connection (`Config`), which side it plays (`Role`), and the
//! permessage-deflate parameters it compresses with (`Deflate`).

use std::time::Duration;

/// Which end of the connection this is: it decides the masking rules (RFC 6455 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts connections: receives masked frames, sends unmasked ones, closes TCP first.
    Server,
    /// Opens connections: receives unmasked frames, masks every frame it sends.
    Client,
}

/// Limits of a [`Connection`](crate::Connection), built with `with_*` methods.
///
/// | setting | default |
/// |---|---|
/// | [`max_frame_size`](Config::max_frame_size) | 1 MiB |
/// | [`max_message_size`](Config::max_message_size) | 1 MiB |
/// | [`max_fragments`](Config::max_fragments) | 4096 |
/// | [`close_timeout`](Config::close_timeout) | 5 s |
/// | [`max_pending_pongs`](Config::max_pending_pongs) | 32 |
/// | [`deferred_failure`](Config::deferred_failure) | false |
/// | [`deflate`](Config::deflate) | `None` (RSV1 fails the connection with 1002) |
///
/// ```
/// use std::time::Duration;
/// let config = ws_codec::Config::default()
///     .with_max_message_size(64 * 1024)
///     .with_close_timeout(Duration::from_secs(1));
/// assert_eq!(config.max_message_size(), 64 * 1024);
/// assert_eq!(config.max_frame_size(), 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    max_frame_size: usize,
    max_message_size: usize,
    max_fragments: usize,
    close_timeout: Duration,
    max_pending_pongs: usize,
    deferred_failure: bool,
    deflate: Option<Deflate>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 1 << 20,
            max_message_size: 1 << 20,
            max_fragments: 4096,
            close_timeout: Duration::from_secs(5),
            max_pending_pongs: 32,
            deferred_failure: false,
            deflate: None,
        }
    }
}

impl Config {
    /// Largest payload of one frame; checked from the header before any payload is buffered.
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }
    /// Largest message (sum of its fragments); exceeding it fails the connection with 1009.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }
    /// Most frames one message may be split into.
    pub fn with_max_fragments(mut self, fragments: usize) -> Self {
        self.max_fragments = fragments;
        self
    }
    /// How long to wait for the peer's close frame after sending one.
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
    /// Most pongs waiting to be transmitted (queued, not yet taken by
    /// [`poll_transmit`](crate::Connection::poll_transmit)); at least 1, a 0 counts as 1.
    ///
    /// Every ping is answered with its own pong, in order, while fewer than this many wait;
    /// once this many wait, a new ping replaces the payload of the newest waiting pong
    /// (RFC 6455 §5.5.3: an endpoint "MAY elect to send a Pong frame for only the most
    /// recently processed Ping frame"), so a ping flood costs bounded memory.
    pub fn with_max_pending_pongs(mut self, pongs: usize) -> Self {
        self.max_pending_pongs = pongs.max(1);
        self
    }
    /// Whether a protocol error waits for the application before its close frame is queued.
    ///
    /// `false` (the default): on a protocol error the close frame (with the error's code) is
    /// queued at once and the state becomes [`State::Failed`](crate::State::Failed).
    /// `true`: the state becomes [`State::Failing`](crate::State::Failing); the events decoded
    /// before the error stay available, the application may still send (its answers to
    /// them), and [`Connection::fail`](crate::Connection::fail) queues the close. An
    /// application that answers messages asynchronously (an actor) needs this for its
    /// answers to go out before the close.
    pub fn with_deferred_failure(mut self, deferred: bool) -> Self {
        self.deferred_failure = deferred;
        self
    }
    /// permessage-deflate (RFC 7692) as negotiated by the handshake, or `None` (the default:
    /// no extension, so a frame with RSV1 set fails the connection with 1002).
    ///
    /// `max_message_size` then bounds the *inflated* size of a received message.
    pub fn with_deflate(mut self, deflate: Option<Deflate>) -> Self {
        self.deflate = deflate;
        self
    }
    /// Largest payload of one frame (default 1 MiB).
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }
    /// Largest message (default 1 MiB).
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }
    /// Most fragments per message (default 4096).
    pub fn max_fragments(&self) -> usize {
        self.max_fragments
    }
    /// Close handshake timeout (default 5 s).
    pub fn close_timeout(&self) -> Duration {
        self.close_timeout
    }
    /// Most pongs waiting to be transmitted (default 32).
    pub fn max_pending_pongs(&self) -> usize {
        self.max_pending_pongs
    }
    /// Whether a protocol error waits for [`Connection::fail`](crate::Connection::fail)
    /// before its close is queued (default false).
    pub fn deferred_failure(&self) -> bool {
        self.deferred_failure
    }
    /// The permessage-deflate parameters, if the extension was negotiated (default `None`).
    pub fn deflate(&self) -> Option<&Deflate> {
        self.deflate.as_ref()
    }
}

/// permessage-deflate (RFC 7692 §7): the parameters the handshake agreed on, and two local
/// choices (compression level and the size below which a message goes out uncompressed).
///
/// The connection's [`Role`] picks which half applies to each direction: a server
/// compresses with the `server_*` parameters and inflates with the `client_*` ones, a
/// client the other way round.
///
/// | setting | default | why |
/// |---|---|---|
/// | `server_max_window_bits`, `client_max_window_bits` | 15 | RFC 7692 §7.1.2: absent means 15 |
/// | `server_no_context_takeover`, `client_no_context_takeover` | false | RFC 7692 §7.1.1: absent means the window is kept |
/// | [`level`](Deflate::level) | 2 | zlib-rs's fastest full compressor (zlib's own level 1 algorithm); zlib-rs's level 1 uses static Huffman codes only, whose output is 20–35 % larger on JSON (1 KiB: 2.07x against 2.52x smaller; 16 KiB: 3.66x against 4.88x) for about half the CPU; raise it for smaller output |
/// | [`threshold`](Deflate::threshold) | 64 bytes | below about that, a raw deflate block is rarely smaller than its input |
///
/// A window of 8 bits (RFC 7692 §7.1.2 allows 8 to 15) is honoured by never *compressing*
/// with it: zlib (and zlib-rs) cannot produce a raw deflate stream with a 256-byte window,
/// so a side whose sending window is 8 sends every message uncompressed, which RFC 7692
/// allows (a message with RSV1 clear is simply not compressed). Inflating uses a 512-byte
/// window there, which decodes every stream a 256-byte window does.
///
/// ```
/// use ws_codec::{Config, Deflate};
/// let deflate = Deflate::default()
///     .with_client_no_context_takeover(true)
///     .with_server_max_window_bits(10);
/// let config = Config::default().with_deflate(Some(deflate));
/// assert_eq!(config.deflate().unwrap().server_max_window_bits(), 10);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Deflate {
    server_max_window_bits: u8,
    client_max_window_bits: u8,
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    level: u32,
    threshold: usize,
}

impl Default for Deflate {
    fn default() -> Self {
        Deflate {
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            level: 2,
            threshold: 64,
        }
    }
}

/// One direction's parameters: the window and whether it is kept between messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DeflateSide {
    pub(crate) window_bits: u8,
    pub(crate) no_context_takeover: bool,
}

impl Deflate {
    /// The server's LZ77 window, 2^bits bytes (RFC 7692 §7.1.2.1); clamped to 8..=15.
    pub fn with_server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = bits.clamp(8, 15);
        self
    }
    /// The client's LZ77 window, 2^bits bytes (RFC 7692 §7.1.2.2); clamped to 8..=15.
    pub fn with_client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = bits.clamp(8, 15);
        self
    }
    /// The server starts every message with an empty window (RFC 7692 §7.1.1.1).
    pub fn with_server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }
    /// The client starts every message with an empty window (RFC 7692 §7.1.1.2).
    pub fn with_client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }
    /// Compression level, 0 (stored) to 9 (smallest); larger values count as 9.
    pub fn with_level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }
    /// Messages shorter than this many bytes are sent uncompressed.
    pub fn with_threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }
    /// The server's window bits (default 15).
    pub fn server_max_window_bits(&self) -> u8 {
        self.server_max_window_bits
    }
    /// The client's window bits (default 15).
    pub fn client_max_window_bits(&self) -> u8 {
        self.client_max_window_bits
    }
    /// Whether the server resets its window after each message (default false).
    pub fn server_no_context_takeover(&self) -> bool {
        self.server_no_context_takeover
    }
    /// Whether the client resets its window after each message (default false).
    pub fn client_no_context_takeover(&self) -> bool {
        self.client_no_context_takeover
    }
    /// Compression level (default 2).
    pub fn level(&self) -> u32 {
        self.level
    }
    /// Size below which a message is sent uncompressed (default 64 bytes).
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    fn server(&self) -> DeflateSide {
        DeflateSide {
            window_bits: self.server_max_window_bits,
            no_context_takeover: self.server_no_context_takeover,
        }
    }

    fn client(&self) -> DeflateSide {
        DeflateSide {
            window_bits: self.client_max_window_bits,
            no_context_takeover: self.client_no_context_takeover,
        }
    }

    /// The parameters an endpoint in `role` compresses with (its own side's).
    pub(crate) fn sending(&self, role: Role) -> DeflateSide {
        match role {
            Role::Server => self.server(),
            Role::Client => self.client(),
        }
    }

    /// The parameters an endpoint in `role` inflates with (its peer's side's).
    pub(crate) fn receiving(&self, role: Role) -> DeflateSide {
        match role {
            Role::Server => self.client(),
            Role::Client => self.server(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pending_pongs_defaults_to_32_and_is_at_least_1() {
        assert_eq!(Config::default().max_pending_pongs(), 32);
        assert_eq!(
            Config::default()
                .with_max_pending_pongs(5)
                .max_pending_pongs(),
            5
        );
        assert_eq!(
            Config::default()
                .with_max_pending_pongs(0)
                .max_pending_pongs(),
            1
        );
    }

    #[test]
    fn deflate_is_off_by_default_and_each_role_uses_its_own_side() {
        assert_eq!(Config::default().deflate(), None);
        let d = Deflate::default()
            .with_server_max_window_bits(10)
            .with_client_max_window_bits(12)
            .with_server_no_context_takeover(true);
        // RFC 7692 §7.1.2.1: server_max_window_bits limits "the LZ77 sliding window size
        // that the server will use to compress messages"; §7.1.1.1: server_no_context_takeover
        // binds the server's compression. So a server sends with server_*, receives client_*.
        let server_send = DeflateSide {
            window_bits: 10,
            no_context_takeover: true,
        };
        let client_send = DeflateSide {
            window_bits: 12,
            no_context_takeover: false,
        };
        assert_eq!(d.sending(Role::Server), server_send);
        assert_eq!(d.receiving(Role::Server), client_send);
        assert_eq!(d.sending(Role::Client), client_send);
        assert_eq!(d.receiving(Role::Client), server_send);
    }

    #[test]
    fn rfc_7692_7_1_2_window_bits_are_8_to_15() {
        // RFC 7692 §7.1.2.1: "a decimal integer value ... in the range of 8 to 15".
        let d = Deflate::default()
            .with_server_max_window_bits(3)
            .with_client_max_window_bits(99)
            .with_level(42);
        assert_eq!(d.server_max_window_bits(), 8);
        assert_eq!(d.client_max_window_bits(), 15);
        assert_eq!(d.level(), 9);
        assert_eq!(
            (Deflate::default().level(), Deflate::default().threshold()),
            (2, 64)
        );
    }

    #[test]
    fn deferred_failure_is_opt_in() {
        assert!(!Config::default().deferred_failure());
        assert!(Config::default()
            .with_deferred_failure(true)
            .deferred_failure());
    }
}
