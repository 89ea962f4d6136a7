//! The broker seam: what carries topics between servers (Redis, or memory in tests).

use super::{Payload, Published, WeakInner};

/// Carries published messages between the [`Topics`](super::Topics) of several servers.
///
/// [`Topics::with_broker`](super::Topics::with_broker) calls [`start`](Self::start) once,
/// then [`subscribe`](Self::subscribe) when a topic gets its first local subscriber and
/// [`unsubscribe`](Self::unsubscribe) after its last leaves (one topic's calls come in the
/// order they happened), and [`publish`](Self::publish) for every local publish, which the
/// topics have already delivered locally: a broker must not hand a server's own messages
/// back to it. No method may block (they run on actor workers and under the topics' locks):
/// queue the work for a thread of the broker's own, and call nothing of the topics from
/// these methods.
pub trait Broker: Send + Sync + 'static {
    /// Where messages from other servers go: keep it, and call
    /// [`Inbound::deliver`] from the broker's own threads.
    fn start(&self, inbound: Inbound);
    /// This server has a local subscriber of `topic` now: receive what others publish on it.
    fn subscribe(&self, topic: &str);
    /// This server's last subscriber of `topic` left.
    fn unsubscribe(&self, topic: &str);
    /// Send a local publish to the other servers (at most once; count what cannot go).
    fn publish(&self, topic: &str, payload: &Payload<'_>);
    /// Counters, for logs and tests.
    fn stats(&self) -> BrokerStats {
        BrokerStats::default()
    }
}

/// A broker's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerStats {
    /// Publishes handed to the broker's server.
    pub published: u64,
    /// Publishes that could not be sent across (broker down): dropped, never retried.
    pub dropped: u64,
    /// Messages from other servers delivered here.
    pub received: u64,
    /// Connections to the broker's server made after the first.
    pub reconnects: u64,
    /// Whether the broker is connected now.
    pub connected: bool,
}

/// A broker's way back in: delivers what other servers published to this server's
/// subscribers. Holds the topics weakly: once they are dropped, delivery does nothing.
#[derive(Clone, Debug)]
pub struct Inbound {
    topics: WeakInner,
}

impl Inbound {
    pub(super) fn new(topics: WeakInner) -> Inbound {
        Inbound { topics }
    }

    /// Delivers `payload` to the local subscribers of `topic` (and to no broker).
    pub fn deliver(&self, topic: &str, payload: Payload<'_>) -> Published {
        match self.topics.upgrade() {
            Some(t) => t.deliver(topic, payload),
            None => Published::default(),
        }
    }

    /// Whether the topics this delivers to still exist.
    #[must_use]
    pub fn is_alive(&self) -> bool {
        self.topics.strong_count() > 0
    }
}
