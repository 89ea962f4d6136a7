//! The Redis broker: topics shared by every server on one Redis, through its pub/sub.
//!
//! Two threads of its own, never an actor worker: the publisher drains a queue of local
//! publishes and sends each batch as one pipeline of `PUBLISH`; the subscriber holds a
//! pub/sub connection, follows the topics that have local subscribers, and delivers what
//! other servers publish. Each message carries this server's id, so its own messages coming
//! back from Redis are skipped (they were delivered locally at publish time).
//!
//! Redis down: the publisher counts what it could not send and drops it (at most once; one
//! line in the log when Redis goes away, one with the count when it is back); the
//! subscriber reconnects with backoff (50 ms doubling to 500 ms) and subscribes every topic
//! again. Local delivery never waits for either.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{lock, Broker, BrokerStats, Inbound, Payload};
use crate::error::Error;

/// First wait before reconnecting; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest wait between reconnection attempts (so a restarted Redis is back within 2 s).
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// How long the subscriber waits for a message before it looks at its commands.
const POLL: Duration = Duration::from_millis(20);
/// The read timeout while taking what has already arrived (zero is not allowed).
const NO_WAIT: Duration = Duration::from_micros(1);
/// Messages delivered (and corked) together at most.
const RECEIVE_BATCH: usize = 64;
/// Timeout of a connect, a subscribe or a pipeline of publishes.
const IO_TIMEOUT: Duration = Duration::from_secs(1);
/// Most publishes in one pipeline.
const BATCH: usize = 512;
/// The first byte of every message: a version of this format.
const MAGIC: u8 = b'w';
/// Header: magic, kind (`t` text, `b` binary), the publishing server's id (8 bytes, BE).
const HEADER: usize = 10;

/// A [`Broker`] on a Redis server (pub/sub channels named prefix + topic, `ws-topics:` by
/// default). Build it with [`RedisBroker::new`], hand it to
/// [`Topics::with_broker`](super::Topics::with_broker).
///
/// Delivery across servers is **at most once**: Redis pub/sub keeps nothing for a server
/// that is not connected, and what this server publishes while Redis is unreachable is
/// counted in [`BrokerStats::dropped`] and dropped.
#[derive(Debug)]
pub struct RedisBroker {
    client: redis::Client,
    prefix: String,
    id: u64,
    counters: Arc<Counters>,
    out: OnceLock<Sender<(String, Vec<u8>)>>,
    subs: OnceLock<Sender<SubCmd>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    dropped: AtomicU64,
    received: AtomicU64,
    reconnects: AtomicU64,
    connected: AtomicBool,
}

#[derive(Debug)]
enum SubCmd {
    Sub(String),
    Unsub(String),
}

impl RedisBroker {
    /// A broker for the Redis at `url` (`redis://HOST:PORT`). Connects only once started,
    /// in its own threads; a bad URL is an error now.
    pub fn new(url: &str) -> Result<RedisBroker, Error> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        // A random id: time, process and std's random hasher keys.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(Instant::now().elapsed().as_nanos());
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        Ok(RedisBroker {
            client,
            prefix: "ws-topics:".into(),
            id: h.finish(),
            counters: Arc::default(),
            out: OnceLock::new(),
            subs: OnceLock::new(),
            threads: Mutex::new(Vec::new()),
        })
    }

    /// The channel-name prefix (before starting; servers that share topics use the same one).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> RedisBroker {
        prefix.clone_into(&mut self.prefix);
        self
    }

    /// This server's id in the messages it publishes.
    #[must_use]
    pub fn server_id(&self) -> u64 {
        self.id
    }

    fn channel(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }
}

impl Broker for RedisBroker {
    fn start(&self, inbound: Inbound) {
        let (out_tx, out_rx) = mpsc::channel();
        let (sub_tx, sub_rx) = mpsc::channel();
        if self.out.set(out_tx).is_err() || self.subs.set(sub_tx).is_err() {
            return; // started already
        }
        let mut threads = lock(&self.threads);
        let (client, counters) = (self.client.clone(), Arc::clone(&self.counters));
        if let Ok(t) = thread::Builder::new()
            .name("ws-redis-pub".into())
            .spawn(move || publisher(&client, &out_rx, &counters))
        {
            threads.push(t);
        }
        let sub = Subscriber {
            client: self.client.clone(),
            prefix: self.prefix.clone(),
            id: self.id,
            counters: Arc::clone(&self.counters),
            inbound,
        };
        if let Ok(t) = thread::Builder::new()
            .name("ws-redis-sub".into())
            .spawn(move || sub.run(&sub_rx))
        {
            threads.push(t);
        }
    }

    fn subscribe(&self, topic: &str) {
        if let Some(tx) = self.subs.get() {
            let _ = tx.send(SubCmd::Sub(self.channel(topic)));
        }
    }

    fn unsubscribe(&self, topic: &str) {
        if let Some(tx) = self.subs.get() {
            let _ = tx.send(SubCmd::Unsub(self.channel(topic)));
        }
    }

    fn publish(&self, topic: &str, payload: &Payload<'_>) {
        let Some(tx) = self.out.get() else {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let bytes = payload.bytes();
        let mut body = Vec::with_capacity(HEADER + bytes.len());
        body.push(MAGIC);
        body.push(if payload.is_text() { b't' } else { b'b' });
        body.extend_from_slice(&self.id.to_be_bytes());
        body.extend_from_slice(bytes);
        if tx.send((self.channel(topic), body)).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn stats(&self) -> BrokerStats {
        let c = &self.counters;
        BrokerStats {
            published: c.published.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            connected: c.connected.load(Ordering::Relaxed),
        }
    }
}

impl Drop for RedisBroker {
    fn drop(&mut self) {
        // Closing the queues ends both threads (the subscriber within one POLL).
        drop(self.out.take());
        drop(self.subs.take());
        for t in lock(&self.threads).drain(..) {
            // The subscriber itself may drop the last handle (a delivery that outlived the
            // topics): it ends on its own once back in its loop.
            if t.thread().id() != thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

fn connect(client: &redis::Client) -> redis::RedisResult<redis::Connection> {
    let con = client.get_connection_with_timeout(IO_TIMEOUT)?;
    con.set_write_timeout(Some(IO_TIMEOUT))?;
    con.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(con)
}

/// The publisher thread: each batch of queued publishes as one pipeline.
fn publisher(client: &redis::Client, rx: &Receiver<(String, Vec<u8>)>, counters: &Counters) {
    let mut con: Option<redis::Connection> = None;
    let (mut backoff, mut next_try) = (MIN_BACKOFF, Instant::now());
    let (mut down_since_drop, mut logged_down) = (0u64, false);
    let mut batch = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        if con.is_none() && Instant::now() >= next_try {
            match connect(client) {
                Ok(c) => {
                    con = Some(c);
                    backoff = MIN_BACKOFF;
                }
                Err(e) => {
                    next_try = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    if !logged_down {
                        eprintln!("ws-server topics: redis unreachable for publishing ({e}); dropping publishes until it is back");
                        logged_down = true;
                    }
                }
            }
        }
        let sent = match &mut con {
            Some(c) => {
                let mut pipe = redis::pipe();
                for (channel, body) in &batch {
                    pipe.cmd("PUBLISH").arg(channel).arg(&body[..]).ignore();
                }
                match pipe.query::<()>(c) {
                    Ok(()) => true,
                    Err(e) => {
                        con = None;
                        next_try = Instant::now() + backoff;
                        if !logged_down {
                            eprintln!("ws-server topics: publishing to redis failed ({e}); dropping publishes until it is back");
                            logged_down = true;
                        }
                        false
                    }
                }
            }
            None => false,
        };
        if sent {
            counters.published.fetch_add(n, Ordering::Relaxed);
            if logged_down {
                eprintln!("ws-server topics: publishing to redis again; {down_since_drop} publishes were dropped meanwhile");
                logged_down = false;
                down_since_drop = 0;
            }
        } else {
            counters.dropped.fetch_add(n, Ordering::Relaxed);
            down_since_drop += n;
        }
        batch.clear();
    }
}

/// The subscriber thread's state.
struct Subscriber {
    client: redis::Client,
    prefix: String,
    id: u64,
    counters: Arc<Counters>,
    inbound: Inbound,
}

/// Why a pub/sub connection was given up.
enum Ended {
    /// The broker was dropped.
    Stop,
    Broken(redis::RedisError),
}

impl Subscriber {
    fn run(&self, rx: &Receiver<SubCmd>) {
        let mut wanted: HashSet<String> = HashSet::new();
        let mut backoff = MIN_BACKOFF;
        let (mut ever_connected, mut logged_down) = (false, false);
        loop {
            let mut con = match connect(&self.client) {
                Ok(c) => c,
                Err(e) => {
                    if !logged_down {
                        eprintln!(
                            "ws-server topics: redis unreachable for subscribing ({e}); retrying"
                        );
                        logged_down = true;
                    }
                    // Wait out the backoff, following commands meanwhile.
                    let until = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    loop {
                        let left = until.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        match rx.recv_timeout(left) {
                            Ok(cmd) => apply(&mut wanted, cmd),
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    continue;
                }
            };
            if ever_connected {
                self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            if logged_down {
                eprintln!(
                    "ws-server topics: redis reachable again; subscribing {} topics",
                    wanted.len()
                );
            }
            ever_connected = true;
            backoff = MIN_BACKOFF;
            let ended = self.serve(&mut con, rx, &mut wanted);
            self.counters.connected.store(false, Ordering::Relaxed);
            match ended {
                Ended::Stop => return,
                Ended::Broken(e) => {
                    eprintln!("ws-server topics: lost the redis subscription ({e}); reconnecting");
                    logged_down = true;
                }
            }
        }
    }

    /// Follows `wanted` on one connection and delivers what arrives, until it breaks.
    fn serve(
        &self,
        con: &mut redis::Connection,
        rx: &Receiver<SubCmd>,
        wanted: &mut HashSet<String>,
    ) -> Ended {
        let mut ps = con.as_pubsub();
        let mut subscribed: HashSet<String> = HashSet::new();
        let mut first = true;
        loop {
            loop {
                match rx.try_recv() {
                    Ok(cmd) => apply(wanted, cmd),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Ended::Stop,
                }
            }
            let add: Vec<String> = wanted.difference(&subscribed).cloned().collect();
            let gone: Vec<String> = subscribed.difference(wanted).cloned().collect();
            if !add.is_empty() || !gone.is_empty() || first {
                // Subscribe with the long timeout (a timeout inside it breaks the connection).
                if let Err(e) = ps.set_read_timeout(Some(IO_TIMEOUT)) {
                    return Ended::Broken(e);
                }
                if !add.is_empty() {
                    if let Err(e) = ps.subscribe(&add) {
                        return Ended::Broken(e);
                    }
                    subscribed.extend(add);
                }
                if !gone.is_empty() {
                    if let Err(e) = ps.unsubscribe(&gone) {
                        return Ended::Broken(e);
                    }
                    for g in &gone {
                        subscribed.remove(g);
                    }
                }
                if let Err(e) = ps.set_read_timeout(Some(POLL)) {
                    return Ended::Broken(e);
                }
                if first {
                    self.counters.connected.store(true, Ordering::Relaxed);
                    first = false;
                }
            }
            match ps.get_message() {
                Ok(msg) => {
                    if let Err(e) = super::cork::batch(|| self.handle_batch(&mut ps, &msg)) {
                        return Ended::Broken(e);
                    }
                }
                // The parser keeps a partial message across a timeout: nothing is lost.
                Err(e) if e.is_timeout() => {}
                Err(e) => return Ended::Broken(e),
            }
        }
    }

    /// Delivers `first` and what else has arrived already (at most [`RECEIVE_BATCH`] messages), so
    /// each subscriber gets the batch in one write (`cork::batch`).
    fn handle_batch(
        &self,
        ps: &mut redis::PubSub<'_>,
        first: &redis::Msg,
    ) -> redis::RedisResult<()> {
        self.handle(first);
        ps.set_read_timeout(Some(NO_WAIT))?;
        for _ in 1..RECEIVE_BATCH {
            match ps.get_message() {
                Ok(msg) => self.handle(&msg),
                Err(e) if e.is_timeout() => break,
                Err(e) => return Err(e),
            }
        }
        ps.set_read_timeout(Some(POLL))
    }

    fn handle(&self, msg: &redis::Msg) {
        let channel = msg.get_channel_name();
        let Some(topic) = channel.strip_prefix(self.prefix.as_str()) else {
            return;
        };
        let body = msg.get_payload_bytes();
        if body.len() < HEADER || body[0] != MAGIC {
            return;
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&body[2..HEADER]);
        if u64::from_be_bytes(id) == self.id {
            return; // our own: delivered locally when published
        }
        let data = &body[HEADER..];
        let payload = match body[1] {
            b't' => match std::str::from_utf8(data) {
                Ok(t) => Payload::Text(t),
                Err(_) => return,
            },
            b'b' => Payload::Binary(data),
            _ => return,
        };
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        self.inbound.deliver(topic, payload);
    }
}

fn apply(wanted: &mut HashSet<String>, cmd: SubCmd) {
    match cmd {
        SubCmd::Sub(c) => {
            wanted.insert(c);
        }
        SubCmd::Unsub(c) => {
            wanted.remove(&c);
        }
    }
}
