//! An in-memory broker: several [`Topics`](super::Topics) in one process share their topics,
//! as servers on one Redis do. For tests (it can be taken down to play an outage).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::{lock, Broker, BrokerStats, Inbound, Payload};

/// The shared medium: every [`MemoryBroker`] made from one bus reaches the others.
#[derive(Clone, Debug, Default)]
pub struct MemoryBus {
    inner: Arc<BusInner>,
}

#[derive(Debug, Default)]
struct BusInner {
    nodes: Mutex<Vec<Arc<Node>>>,
    down: AtomicBool,
}

#[derive(Debug, Default)]
struct Node {
    inbound: OnceLock<Inbound>,
    topics: Mutex<HashSet<String>>,
    published: AtomicU64,
    dropped: AtomicU64,
    received: AtomicU64,
}

impl MemoryBus {
    /// A bus with no brokers yet.
    #[must_use]
    pub fn new() -> MemoryBus {
        MemoryBus::default()
    }

    /// A broker for one more [`Topics`](super::Topics) on this bus.
    #[must_use]
    pub fn broker(&self) -> MemoryBroker {
        let node = Arc::new(Node::default());
        lock(&self.inner.nodes).push(Arc::clone(&node));
        MemoryBroker {
            bus: Arc::clone(&self.inner),
            node,
        }
    }

    /// Takes the bus down (`true`: publishes are dropped and counted) or up again.
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }
}

/// One [`Topics`](super::Topics)' end of a [`MemoryBus`]. Delivers to the other ends on the
/// publisher's thread (it never waits: a delivery only queues).
#[derive(Debug)]
pub struct MemoryBroker {
    bus: Arc<BusInner>,
    node: Arc<Node>,
}

impl Broker for MemoryBroker {
    fn start(&self, inbound: Inbound) {
        let _ = self.node.inbound.set(inbound);
    }

    fn subscribe(&self, topic: &str) {
        lock(&self.node.topics).insert(topic.to_owned());
    }

    fn unsubscribe(&self, topic: &str) {
        lock(&self.node.topics).remove(topic);
    }

    fn publish(&self, topic: &str, payload: &Payload<'_>) {
        if self.bus.down.load(Ordering::SeqCst) {
            self.node.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.node.published.fetch_add(1, Ordering::Relaxed);
        let others: Vec<Arc<Node>> = lock(&self.bus.nodes)
            .iter()
            .filter(|n| !Arc::ptr_eq(n, &self.node) && lock(&n.topics).contains(topic))
            .cloned()
            .collect();
        for node in others {
            if let Some(inbound) = node.inbound.get() {
                node.received.fetch_add(1, Ordering::Relaxed);
                inbound.deliver(topic, *payload);
            }
        }
    }

    fn stats(&self) -> BrokerStats {
        BrokerStats {
            published: self.node.published.load(Ordering::Relaxed),
            dropped: self.node.dropped.load(Ordering::Relaxed),
            received: self.node.received.load(Ordering::Relaxed),
            reconnects: 0,
            connected: !self.bus.down.load(Ordering::SeqCst),
        }
    }
}

impl Drop for MemoryBroker {
    fn drop(&mut self) {
        lock(&self.bus.nodes).retain(|n| !Arc::ptr_eq(n, &self.node));
    }
}
