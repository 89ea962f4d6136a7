//! Topics: publish/subscribe inside a server, each message encoded once and its bytes
//! shared by every subscriber; optionally across servers through a [`Broker`].

mod broker;
pub(crate) mod cork;
mod memory;
mod redis;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use ws_codec::{EncodedFrame, OpCode};
use ws_handshake::DeflateOptions;

use crate::conn::Conn;
use crate::error::Error;

pub use broker::{Broker, BrokerStats, Inbound};
pub use memory::{MemoryBroker, MemoryBus};
pub use redis::RedisBroker;

/// Shards of the topic map: publishes to different topics rarely share a lock.
const SHARDS: usize = 64;

type Shard = HashMap<Box<str>, Arc<Vec<Conn>>>;

/// What a publish carries: a text, a binary message, or a frame already encoded.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
    /// A frame encoded once by the caller ([`encode_text`](crate::encode_text) and friends).
    Encoded(&'a EncodedFrame),
}

impl Payload<'_> {
    /// Whether the message is text.
    #[must_use]
    pub fn is_text(&self) -> bool {
        match self {
            Payload::Text(_) => true,
            Payload::Binary(_) => false,
            Payload::Encoded(f) => f.opcode() == OpCode::Text,
        }
    }

    /// The message's bytes before any compression (what a broker carries across).
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        match self {
            Payload::Text(t) => t.as_bytes(),
            Payload::Binary(b) => b,
            Payload::Encoded(f) => f.plain_payload(),
        }
    }
}

impl<'a> From<&'a str> for Payload<'a> {
    fn from(text: &'a str) -> Self {
        Payload::Text(text)
    }
}

impl<'a> From<&'a String> for Payload<'a> {
    fn from(text: &'a String) -> Self {
        Payload::Text(text)
    }
}

impl<'a> From<&'a [u8]> for Payload<'a> {
    fn from(data: &'a [u8]) -> Self {
        Payload::Binary(data)
    }
}

impl<'a> From<&'a EncodedFrame> for Payload<'a> {
    fn from(frame: &'a EncodedFrame) -> Self {
        Payload::Encoded(frame)
    }
}

/// What one publish did on this server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// Subscribers whose queue took the message.
    pub delivered: usize,
    /// Subscribers over their high-water mark (their backpressure policy applied).
    pub refused: usize,
    /// Subscribers whose connection was closing or gone (they leave the topic as it ends).
    pub closed: usize,
}

/// A set of topics and their subscribers: cheap to clone (a handle), `Send` and `Sync`.
///
/// Every server has one ([`Server::topics`](crate::Server::topics)); servers given the same
/// one with [`ServerBuilder::topics`](crate::ServerBuilder::topics) share it, and one built
/// with a [`Broker`] shares its topics with other processes.
///
/// A connection joins with [`Conn::subscribe`](crate::Conn::subscribe) and leaves with
/// [`Conn::unsubscribe`](crate::Conn::unsubscribe), or by ending: once its transport is
/// done it is taken out of every topic. Anyone holding a [`Topics`] (from
/// [`Server::topics`](crate::Server::topics), [`Conn::topics`](crate::Conn::topics), or the
/// one given to [`ServerBuilder::topics`](crate::ServerBuilder::topics)) publishes from any
/// thread: a hook, another actor, a plain thread.
///
/// ```
/// use ws_server::{Connect, Ctx, Handler, Message, Request, Server};
///
/// /// Every client subscribes to `prices`; what it says is published there.
/// struct Feed;
/// impl Handler for Feed {
///     type State = ();
///     fn on_connect(&self, cx: &mut Ctx<'_>, _: &Request) -> Connect<()> {
///         cx.subscribe("prices").unwrap();
///         Connect::accept(())
///     }
///     fn on_message(&self, cx: &mut Ctx<'_>, _: &mut (), message: Message) {
///         if let Message::Text(text) = message {
///             cx.publish("prices", text.as_str());
///         }
///     }
/// }
///
/// let server = Server::builder().bind("127.0.0.1:0").serve(Feed).unwrap();
/// // Publish from any thread: no subscriber yet, so nobody was reached.
/// let topics = server.topics().clone();
/// let published = std::thread::spawn(move || topics.publish("prices", r#"{"EURUSD":1.09}"#))
///     .join()
///     .unwrap();
/// assert_eq!(published.delivered, 0);
/// ```
///
/// # Guarantees
///
/// - **Never blocks on a subscriber.** A publish encodes (and, under permessage-deflate,
///   compresses) once, then queues the shared bytes on each subscriber with
///   [`Conn::send_encoded`](crate::Conn::send_encoded), which never blocks: a subscriber over
///   its high-water mark meets its own [`Backpressure`](crate::Backpressure) policy (closed
///   with 1008, or the message dropped for it) and the others are not delayed.
/// - **Order per publisher and topic.** `publish` returns once the frame is queued on every
///   subscriber, so what one thread (or one actor) publishes on one topic reaches each
///   subscriber in the order it was published. Two publishers on one topic are not ordered
///   with respect to each other: two subscribers may see their messages interleaved
///   differently. Nothing is ordered across topics.
/// - **Who receives.** The subscribers at the moment of the publish's snapshot of the topic;
///   a connection subscribed in `on_connect` receives what is published once its upgrade has
///   completed (before that, like any send, it is refused as closed). A publisher that is
///   itself subscribed receives its own message.
/// - **At most once, locally and across servers.** A message refused by a subscriber's
///   backpressure is not retried. Through a broker, a message that cannot reach the broker
///   (Redis down) is counted and dropped, never queued for later: across servers delivery is
///   at most once, and while the broker is unreachable each server still delivers to its own
///   subscribers.
/// - **Corked on the server's workers.** A publish from a hook or an actor of the server's
///   own runtime queues its frame and leaves the write to the end of that actor's batch of
///   messages: each subscriber then gets everything the batch published in one write (at
///   once past 64 KiB queued). From any other thread a publish writes at once.
/// - **No global lock on the publish path.** Topics live in 64 shards, each a map from name to
///   an `Arc` snapshot of the subscriber list. A publish holds its shard's lock only to clone
///   that `Arc`, then sends without any lock of ours; subscribing copies the list only if a
///   publish is holding the old snapshot at that moment (copy-on-write).
#[derive(Clone)]
pub struct Topics {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    shards: Box<[Mutex<Shard>]>,
    /// The permessage-deflate options publishes compress for (the first server's).
    deflate: OnceLock<Option<DeflateOptions>>,
    broker: Option<Box<dyn Broker>>,
}

impl fmt::Debug for Topics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topics")
            .field("topics", &self.topic_count())
            .field("broker", &self.inner.broker.is_some())
            .finish()
    }
}

impl Default for Topics {
    fn default() -> Topics {
        Topics::new()
    }
}

impl Topics {
    /// Topics of this process alone.
    #[must_use]
    pub fn new() -> Topics {
        Topics::build(None)
    }

    /// Topics shared through `broker` with every other [`Topics`] on the same broker (another
    /// server, another process): a publish is delivered here at once and handed to the broker
    /// for the others; what the others publish arrives through it.
    pub fn with_broker(broker: impl Broker) -> Topics {
        let topics = Topics::build(Some(Box::new(broker)));
        if let Some(b) = &topics.inner.broker {
            b.start(Inbound::new(Arc::downgrade(&topics.inner)));
        }
        topics
    }

    fn build(broker: Option<Box<dyn Broker>>) -> Topics {
        Topics {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
                deflate: OnceLock::new(),
                broker,
            }),
        }
    }

    /// Compress published messages for these permessage-deflate options (`None`: never).
    /// Servers set it from their own options if it was not set before (the first wins).
    pub fn set_deflate(&self, options: Option<DeflateOptions>) {
        let _ = self.inner.deflate.set(options);
    }

    /// Publishes to every subscriber of `topic` here, and through the broker (if any) to the
    /// other servers. Never blocks: see the module's guarantees.
    pub fn publish<'a>(&self, topic: &str, payload: impl Into<Payload<'a>>) -> Published {
        let payload = payload.into();
        if let Some(b) = &self.inner.broker {
            b.publish(topic, &payload);
        }
        self.inner.deliver(topic, payload)
    }

    /// Local subscribers of `topic`.
    #[must_use]
    pub fn subscribers(&self, topic: &str) -> usize {
        self.inner.shard(topic).get(topic).map_or(0, |l| l.len())
    }

    /// Topics with at least one local subscriber.
    #[must_use]
    pub fn topic_count(&self) -> usize {
        self.inner.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// The broker's counters (all zero without a broker).
    #[must_use]
    pub fn broker_stats(&self) -> BrokerStats {
        self.inner
            .broker
            .as_ref()
            .map_or_else(BrokerStats::default, |b| b.stats())
    }

    /// Adds `conn` to `topic`; the first local subscriber subscribes the broker.
    fn add(&self, topic: &str, conn: &Conn) {
        let mut shard = self.inner.shard(topic);
        let list = shard.entry(topic.into()).or_default();
        Arc::make_mut(list).push(conn.clone());
        if list.len() == 1 {
            if let Some(b) = &self.inner.broker {
                // Under the shard's lock: the broker sees one topic's subscribe and
                // unsubscribe in the order they happened.
                b.subscribe(topic);
            }
        }
    }

    /// Takes connection `id` out of `topic`; after the last, the broker unsubscribes.
    fn remove(&self, topic: &str, id: u64) {
        let mut shard = self.inner.shard(topic);
        let Some(list) = shard.get_mut(topic) else {
            return;
        };
        if let Some(i) = list.iter().position(|c| c.id() == id) {
            Arc::make_mut(list).swap_remove(i);
        }
        if list.is_empty() {
            shard.remove(topic);
            if let Some(b) = &self.inner.broker {
                b.unsubscribe(topic);
            }
        }
    }
}

impl Inner {
    fn shard(&self, topic: &str) -> MutexGuard<'_, Shard> {
        let mut h = std::hash::DefaultHasher::new();
        topic.hash(&mut h);
        lock(&self.shards[(h.finish() as usize) % SHARDS])
    }

    /// Delivers to the local subscribers only (a publish, or a message from the broker).
    pub(crate) fn deliver(&self, topic: &str, payload: Payload<'_>) -> Published {
        // The snapshot: one lock, one reference count; the sends run without our locks.
        let Some(list) = self.shard(topic).get(topic).cloned() else {
            return Published::default();
        };
        let deflate = self.deflate.get().copied().flatten();
        let encoded;
        let frame = match payload {
            Payload::Text(t) => {
                encoded = crate::encode_text(t, deflate.as_ref());
                &encoded
            }
            Payload::Binary(b) => {
                encoded = crate::encode_binary(b, deflate.as_ref());
                &encoded
            }
            Payload::Encoded(f) => f,
        };
        let mut out = Published::default();
        // Read once for all the subscribers, and only if one needs it (`Session::send`).
        let now = std::cell::OnceCell::new();
        for conn in list.iter() {
            match conn.send_encoded_at(frame, || *now.get_or_init(std::time::Instant::now)) {
                Ok(()) => out.delivered += 1,
                Err(Error::Backpressure { .. }) => out.refused += 1,
                Err(_) => out.closed += 1,
            }
        }
        out
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The topics one connection is subscribed to (kept in its link, so the connection can
/// leave them all as it ends).
#[derive(Debug, Default)]
pub(crate) struct Memberships {
    state: Mutex<MemberState>,
}

#[derive(Debug, Default)]
struct MemberState {
    names: HashSet<Box<str>>,
    /// The connection ended: no more subscriptions.
    ended: bool,
}

impl Memberships {
    /// Subscribes `conn` to `topic` in `topics`: `Ok(false)` if it already was.
    pub(crate) fn subscribe(
        &self,
        topics: &Topics,
        conn: &Conn,
        topic: &str,
    ) -> Result<bool, Error> {
        // Held while the topic changes, so leaving at the end cannot miss this one.
        let mut s = lock(&self.state);
        if s.ended {
            return Err(Error::Closed);
        }
        if s.names.contains(topic) {
            return Ok(false);
        }
        s.names.insert(topic.into());
        topics.add(topic, conn);
        Ok(true)
    }

    /// Unsubscribes: `false` if it was not subscribed.
    pub(crate) fn unsubscribe(&self, topics: &Topics, id: u64, topic: &str) -> bool {
        let mut s = lock(&self.state);
        if !s.names.remove(topic) {
            return false;
        }
        topics.remove(topic, id);
        true
    }

    /// The connection ends: out of every topic; with `last`, no new subscription either.
    pub(crate) fn leave_all(&self, topics: &Topics, id: u64, last: bool) {
        let mut s = lock(&self.state);
        s.ended |= last;
        for name in s.names.drain() {
            topics.remove(&name, id);
        }
    }
}

/// What a broker's [`Inbound`] reaches: a weak handle, so a broker's threads never keep a
/// dropped [`Topics`] alive.
pub(crate) type WeakInner = Weak<Inner>;

#[cfg(test)]
mod tests;
