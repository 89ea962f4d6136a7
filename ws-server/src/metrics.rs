//! Counters an operator reads: kept cheaply on the hot path, summed into a
//! [`Metrics`] snapshot ([`Server::metrics`](crate::Server::metrics)), and
//! written as Prometheus text (OpenMetrics, by `prometheus-client`) on the path
//! [`ServerBuilder::metrics_path`](crate::ServerBuilder::metrics_path) names.
//!
//! The per-message counters are relaxed atomic adds into one of a few shards,
//! each in its own cache line ([`CachePadded`]) and picked by the counting
//! thread (a worker keeps to its own shard), so workers never write the same
//! line: no lock and no allocation per message. Close codes and rejection
//! statuses (once per connection, open label sets) sit in small maps behind a
//! lock. Nothing here is read on the hot path; a snapshot sums the shards.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use actor_core::RuntimeMetrics;
use crossbeam_utils::CachePadded;
use ws_codec::OpCode;

/// Which kind of data message: the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Binary,
}

impl Kind {
    pub(crate) fn of(opcode: OpCode) -> Kind {
        if opcode == OpCode::Text {
            Kind::Text
        } else {
            Kind::Binary
        }
    }

    /// The opcode of a whole message of this kind.
    pub(crate) fn opcode(self) -> OpCode {
        match self {
            Kind::Text => OpCode::Text,
            Kind::Binary => OpCode::Binary,
        }
    }
}

/// One shard's counters; every thread adds to the one [`shard_index`] gives it.
#[derive(Debug, Default)]
struct Shard {
    opened: AtomicU64,
    text_in: AtomicU64,
    binary_in: AtomicU64,
    text_out: AtomicU64,
    binary_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    backpressure: AtomicU64,
}

/// Shards per server: enough that the workers of a large machine rarely share one.
const SHARDS: usize = 64;

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's shard: threads are numbered as they first count, so the
/// workers of a runtime get distinct shards.
fn shard_index() -> usize {
    THREAD_SHARD.with(|s| {
        let mut i = s.get();
        if i == usize::MAX {
            i = NEXT_THREAD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            s.set(i);
        }
        i
    })
}

/// One server's counters, shared by its sessions, links and bridges.
pub(crate) struct Counters {
    shards: Box<[CachePadded<Shard>]>,
    closes: Mutex<BTreeMap<u16, u64>>,
    rejections: Mutex<BTreeMap<u16, u64>>,
    /// When the counters were made, and the millisecond after it of the last
    /// `max_connections` warning (+1; 0: none yet).
    born: Instant,
    limit_warned: AtomicU64,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            shards: (0..SHARDS).map(|_| CachePadded::default()).collect(),
            closes: Mutex::default(),
            rejections: Mutex::default(),
            born: Instant::now(),
            limit_warned: AtomicU64::new(0),
        }
    }
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counters").finish_non_exhaustive()
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn bump(map: &Mutex<BTreeMap<u16, u64>>, key: u16) {
    *map.lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_default() += 1;
}

impl Counters {
    #[inline]
    fn shard(&self) -> &Shard {
        &self.shards[shard_index()]
    }

    /// Bytes read from a client's socket (request heads included).
    #[inline]
    pub(crate) fn bytes_received(&self, n: usize) {
        add(&self.shard().bytes_in, n as u64);
    }

    /// Bytes written to a client's socket (HTTP answers included).
    #[inline]
    pub(crate) fn bytes_sent(&self, n: usize) {
        add(&self.shard().bytes_out, n as u64);
    }

    /// A data message from a client.
    #[inline]
    pub(crate) fn message_received(&self, kind: Kind) {
        let s = self.shard();
        add(
            match kind {
                Kind::Text => &s.text_in,
                Kind::Binary => &s.binary_in,
            },
            1,
        );
    }

    /// A data message queued for a client.
    #[inline]
    pub(crate) fn message_sent(&self, kind: Kind) {
        let s = self.shard();
        add(
            match kind {
                Kind::Text => &s.text_out,
                Kind::Binary => &s.binary_out,
            },
            1,
        );
    }

    /// A send refused over the high-water mark.
    pub(crate) fn backpressure(&self) {
        add(&self.shard().backpressure, 1);
    }

    /// A connection was upgraded.
    pub(crate) fn opened(&self) {
        add(&self.shard().opened, 1);
    }

    /// An upgraded connection ended with `code` (the one `on_close` gets).
    pub(crate) fn closed(&self, code: u16) {
        bump(&self.closes, code);
    }

    /// A handshake was refused with this HTTP answer (its status is counted).
    pub(crate) fn rejected(&self, answer: &[u8]) {
        bump(&self.rejections, status_of(answer));
    }

    /// Whether to log that a resource limit was hit (`max_connections`, a
    /// handshake cap, accept out of fds): at most once a second, so a flood of
    /// clients does not become a flood of log lines (the counter of 503s has
    /// every one).
    pub(crate) fn limit_warning_due(&self) -> bool {
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let last = self.limit_warned.load(Ordering::Relaxed);
        (last == 0 || now >= last + 1000)
            && self
                .limit_warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// The sums, with the runtime's own counters.
    pub(crate) fn snapshot(&self, runtime: RuntimeMetrics) -> Metrics {
        let sum = |f: fn(&Shard) -> &AtomicU64| -> u64 {
            self.shards
                .iter()
                .map(|s| f(s).load(Ordering::Relaxed))
                .sum()
        };
        let map =
            |m: &Mutex<BTreeMap<u16, u64>>| m.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // Closes first, then opens, and the open gauge from the same close counts a
        // scrape reports: a connection ending during the scrape is never counted
        // closed by one figure and open by the other.
        let closes = map(&self.closes);
        let closed: u64 = closes.values().sum();
        let opened = sum(|s| &s.opened);
        Metrics {
            connections_open: opened.saturating_sub(closed),
            connections_total: opened,
            handshakes_rejected: map(&self.rejections),
            messages_received_text: sum(|s| &s.text_in),
            messages_received_binary: sum(|s| &s.binary_in),
            messages_sent_text: sum(|s| &s.text_out),
            messages_sent_binary: sum(|s| &s.binary_out),
            bytes_received: sum(|s| &s.bytes_in),
            bytes_sent: sum(|s| &s.bytes_out),
            closes,
            backpressure: sum(|s| &s.backpressure),
            runtime,
        }
    }
}

/// The status code of an HTTP answer ws-handshake built (`HTTP/1.1 NNN ...`).
fn status_of(answer: &[u8]) -> u16 {
    answer
        .get(9..12)
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// A snapshot of a server's counters: [`Server::metrics`](crate::Server::metrics).
///
/// Counts are since the server started; bytes are as on the wire (request
/// heads and HTTP answers included, after compression).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// WebSocket connections open now (upgraded, `on_close` not yet due).
    pub connections_open: u64,
    /// WebSocket connections upgraded.
    pub connections_total: u64,
    /// Handshakes refused, by HTTP status (a hook's rejection, a bad request,
    /// a refused origin, 503 over `max_connections` or during shutdown).
    pub handshakes_rejected: BTreeMap<u16, u64>,
    /// Text messages received from clients.
    pub messages_received_text: u64,
    /// Binary messages received from clients.
    pub messages_received_binary: u64,
    /// Text messages queued for clients (a broadcast counts once per connection).
    pub messages_sent_text: u64,
    /// Binary messages queued for clients.
    pub messages_sent_binary: u64,
    /// Bytes read from clients.
    pub bytes_received: u64,
    /// Bytes written to clients.
    pub bytes_sent: u64,
    /// Connections ended, by the close code `on_close` got (1006 without a close frame).
    pub closes: BTreeMap<u16, u64>,
    /// Sends refused over the high-water mark.
    pub backpressure: u64,
    /// The actor runtime's counters (of the whole runtime, when shared).
    pub runtime: RuntimeMetrics,
}

/// The content type of [`Metrics::to_prometheus`]'s text.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Metrics {
    /// The snapshot as Prometheus text (the OpenMetrics text format, which
    /// Prometheus reads; served as `application/openmetrics-text`). The names
    /// are stable: `ws_connections_open`, `ws_connections_total`,
    /// `ws_handshakes_rejected_total{status}`, `ws_messages_received_total{kind}`,
    /// `ws_messages_sent_total{kind}`, `ws_bytes_received_total`,
    /// `ws_bytes_sent_total`, `ws_closes_total{code}`, `ws_backpressure_total`,
    /// and the runtime's `actor_workers`, `actor_live`, `actor_mailbox_max_depth`,
    /// `actor_mailbox_queued`, `actor_steals_total`, `actor_parks_total`.
    #[must_use]
    pub fn to_prometheus(&self) -> String {
        use prometheus_client::encoding::text::encode;
        use prometheus_client::metrics::counter::Counter;
        use prometheus_client::metrics::family::Family;
        use prometheus_client::metrics::gauge::Gauge;
        use prometheus_client::registry::Registry;

        type Labels = Vec<(&'static str, String)>;
        let mut r = Registry::default();
        let gauge = |r: &mut Registry, name: &str, help: &str, v: u64| {
            let g = Gauge::<i64>::default();
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
            r.register(name, help, g);
        };
        // prometheus-client appends `_total` to a counter's name (and a period to help).
        let counter = |r: &mut Registry, name: &str, help: &str, v: u64| {
            let c = Counter::<u64>::default();
            c.inc_by(v);
            r.register(name, help, c);
        };
        let family = |r: &mut Registry, name: &str, help: &str, samples: Vec<(Labels, u64)>| {
            let f = Family::<Labels, Counter>::default();
            for (labels, v) in samples {
                f.get_or_create(&labels).inc_by(v);
            }
            r.register(name, help, f);
        };
        let by = |label: &'static str, m: &BTreeMap<u16, u64>| -> Vec<(Labels, u64)> {
            m.iter()
                .map(|(k, v)| (vec![(label, k.to_string())], *v))
                .collect()
        };
        let kinds = |text: u64, binary: u64| {
            vec![
                (vec![("kind", "text".to_owned())], text),
                (vec![("kind", "binary".to_owned())], binary),
            ]
        };
        gauge(
            &mut r,
            "ws_connections_open",
            "WebSocket connections open now",
            self.connections_open,
        );
        counter(
            &mut r,
            "ws_connections",
            "WebSocket connections upgraded",
            self.connections_total,
        );
        family(
            &mut r,
            "ws_handshakes_rejected",
            "Handshakes refused, by HTTP status",
            by("status", &self.handshakes_rejected),
        );
        family(
            &mut r,
            "ws_messages_received",
            "Data messages received from clients",
            kinds(self.messages_received_text, self.messages_received_binary),
        );
        family(
            &mut r,
            "ws_messages_sent",
            "Data messages queued for clients",
            kinds(self.messages_sent_text, self.messages_sent_binary),
        );
        counter(
            &mut r,
            "ws_bytes_received",
            "Bytes read from clients",
            self.bytes_received,
        );
        counter(
            &mut r,
            "ws_bytes_sent",
            "Bytes written to clients",
            self.bytes_sent,
        );
        family(
            &mut r,
            "ws_closes",
            "Connections ended, by close code",
            by("code", &self.closes),
        );
        counter(
            &mut r,
            "ws_backpressure",
            "Sends refused over the high-water mark",
            self.backpressure,
        );
        let rt = &self.runtime;
        gauge(
            &mut r,
            "actor_workers",
            "Actor runtime worker threads",
            rt.workers as u64,
        );
        gauge(&mut r, "actor_live", "Actors alive now", rt.actors as u64);
        gauge(
            &mut r,
            "actor_mailbox_max_depth",
            "The longest mailbox now, in messages",
            rt.max_mailbox_len as u64,
        );
        gauge(
            &mut r,
            "actor_mailbox_queued",
            "Messages queued in every mailbox now",
            rt.queued_messages as u64,
        );
        counter(
            &mut r,
            "actor_steals",
            "Times a worker stole work from another",
            rt.steals,
        );
        counter(
            &mut r,
            "actor_parks",
            "Times a worker went to sleep for want of work",
            rt.parks,
        );
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &r);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_read_from_the_answer() {
        assert_eq!(status_of(b"HTTP/1.1 503 Service Unavailable\r\n"), 503);
        assert_eq!(status_of(b"HTTP/1.1"), 0);
    }

    #[test]
    fn the_limit_warning_is_due_once_a_second_at_most() {
        let c = Counters::default();
        assert!(c.limit_warning_due());
        assert!(!c.limit_warning_due(), "not again within the second");
    }

    #[test]
    fn counts_add_up_across_threads() {
        let c = std::sync::Arc::new(Counters::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = std::sync::Arc::clone(&c);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.message_received(Kind::Text);
                        c.bytes_received(3);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let m = c.snapshot(RuntimeMetrics::default());
        assert_eq!(m.messages_received_text, 4000);
        assert_eq!(m.bytes_received, 12000);
    }
}
