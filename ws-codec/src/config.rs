//! Limits and timeouts of a connection (`Config`) and which side it plays (`Role`).

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
    fn deferred_failure_is_opt_in() {
        assert!(!Config::default().deferred_failure());
        assert!(Config::default()
            .with_deferred_failure(true)
            .deferred_failure());
    }
}
