//! Metrics: `Server::metrics()` counts what clients did (connections,
//! messages, bytes, close codes, rejections, backpressure), and the metrics
//! path serves them as Prometheus text that parses line by line.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::*;
use tungstenite::Message as W;
use ws_server::{Error, Metrics, Server};

/// A server with no heartbeat (so no ping adds bytes) and the metrics path.
fn quiet(bridge: Bridge) -> ws_server::ServerBuilder {
    builder(bridge).ping_interval(None).metrics_path("/metrics")
}

/// Waits (bounded) until the counters satisfy `done`: a count made on
/// another thread right after the event the test saw.
fn metrics_until(server: &Server, done: impl Fn(&Metrics) -> bool) -> Metrics {
    let end = deadline();
    loop {
        let m = server.metrics();
        if done(&m) {
            return m;
        }
        check(end, "waiting for the counters");
        std::thread::yield_now();
    }
}

/// Waits (bounded) until no connection is open or handshaking, so the next
/// one is admitted under `max_connections(1)`.
fn idle(server: &Server) {
    let end = deadline();
    while server.connections() > 0 {
        check(end, "waiting for the last connection to end");
        std::thread::yield_now();
    }
}

on_both_bridges!(counts_connections_messages_and_bytes_exactly);
fn counts_connections_messages_and_bytes_exactly(bridge: Bridge) {
    let (server, rx) = start_with(quiet(bridge));
    let before = server.metrics();
    assert_eq!(before.connections_total, 0);
    assert_eq!(before.bytes_received, 0);

    let (mut raw, head) = Raw::connect_with(server.local_addr(), UPGRADE, b"");
    let conn = wait_connect(&rx);
    // Counted once on_connect has decided (just after the hook reported).
    metrics_until(&server, |m| m.connections_open == 1);
    let frames = [
        masked_frame(0x81, b"hello"),
        masked_frame(0x82, &[1, 2, 3]),
        masked_frame(0x81, b"world!"),
    ];
    for f in &frames {
        raw.send_raw(f);
        assert!(raw.next_event().is_some());
    }
    // A close from the client: 1000, echoed by the server, then TCP ends.
    let close = masked_frame(0x88, &1000u16.to_be_bytes());
    raw.send_raw(&close);
    let reason_len = match raw.next_event() {
        Some(ws_codec::Event::Close(f)) => {
            assert_eq!(f.code.0, 1000);
            f.reason.len()
        }
        other => panic!("expected the close echo, got {other:?}"),
    };
    raw.read_to_eof();
    assert_eq!(wait_close(&rx, conn.id()).1, 1000);

    let m = server.metrics();
    assert_eq!(m.connections_total, 1);
    assert_eq!(m.connections_open, 0);
    assert_eq!(m.messages_received_text, 2);
    assert_eq!(m.messages_received_binary, 1);
    assert_eq!(m.messages_sent_text, 2);
    assert_eq!(m.messages_sent_binary, 1);
    let sent_by_client = UPGRADE.len() + frames.iter().map(Vec::len).sum::<usize>() + close.len();
    assert_eq!(m.bytes_received, sent_by_client as u64);
    // The 101, the three echoes (unmasked: 2-byte headers), the close echo.
    let echoes = (2 + 5) + (2 + 3) + (2 + 6) + (2 + 2 + reason_len);
    assert_eq!(m.bytes_sent, (head.len() + echoes) as u64);
    assert_eq!(m.closes, BTreeMap::from([(1000, 1)]));
    assert!(m.handshakes_rejected.is_empty());
    assert_eq!(m.backpressure, 0);
    assert!(m.runtime.workers >= 1);
    server.shutdown(WAIT);
}

on_both_bridges!(counts_close_codes_of_every_ending);
fn counts_close_codes_of_every_ending(bridge: Bridge) {
    let (server, rx) = start_with(quiet(bridge).close_timeout(Duration::from_millis(300)));
    let addr = server.local_addr();
    // 1008: on_connect upgrades and closes at once.
    let mut ws = connect(addr, "/close");
    let c = wait_connect(&rx);
    assert_eq!(read_close(&mut ws).0, 1008);
    drain_to_end(&mut ws);
    wait_close(&rx, c.id());
    // 4000: a hook closes.
    close_by_message(addr, &rx, "close:4000", 4000);
    // 1002: a protocol violation (an unmasked frame).
    close_by_protocol_error(addr, &rx);
    // 1006: the client drops TCP without a close frame.
    let raw = Raw::connect(addr, b"");
    let c = wait_connect(&rx);
    drop(raw);
    assert_eq!(wait_close(&rx, c.id()).1, 1006);
    // 1011: a hook panics.
    close_by_message(addr, &rx, "panic", 1011);

    // After a panic on_close runs at once; the count follows when the
    // transport ends.
    let m = metrics_until(&server, |m| m.closes.values().sum::<u64>() == 5);
    assert_eq!(
        m.closes,
        BTreeMap::from([(1002, 1), (1006, 1), (1008, 1), (1011, 1), (4000, 1)])
    );
    assert_eq!(m.connections_total, 5);
    assert_eq!(m.connections_open, 0);
    server.shutdown(WAIT);
}

on_both_bridges!(counts_rejected_handshakes_by_status);
fn counts_rejected_handshakes_by_status(bridge: Bridge) {
    let (server, rx) = start_with(quiet(bridge).max_connections(1));
    let addr = server.local_addr();
    // 403: the hook rejects.
    assert_eq!(refusal_status(try_connect(addr, "/reject")), 403);
    wait_connect(&rx);
    idle(&server);
    // 400: an upgrade without a key.
    let bad = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert!(http(addr, bad).starts_with("HTTP/1.1 400"));
    idle(&server);
    // 503: over max_connections.
    let first = connect(addr, "/");
    let conn = wait_connect(&rx);
    assert_eq!(refusal_status(try_connect(addr, "/")), 503);
    // A page is not a handshake: not counted.
    assert!(http(addr, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 503"));
    drop(first);
    wait_close(&rx, conn.id());
    assert!(http(addr, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 200"));

    let m = server.metrics();
    assert_eq!(
        m.handshakes_rejected,
        BTreeMap::from([(400, 1), (403, 1), (503, 1)])
    );
    assert_eq!(m.connections_total, 1);
    server.shutdown(WAIT);
}

on_both_bridges!(counts_backpressure_and_the_sends_it_refused);
fn counts_backpressure_and_the_sends_it_refused(bridge: Bridge) {
    let (server, rx) = start_with(quiet(bridge).high_water(64 * 1024));
    let _slow = connect(server.local_addr(), "/"); // never reads
    let slow = wait_connect(&rx);
    let chunk = vec![0u8; 16 * 1024];
    let mut sent = 0;
    let err = loop {
        assert!(sent < 100_000, "the high-water mark never refused a send");
        match slow.send_binary(&chunk) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::Backpressure { .. }), "{err}");
    let m = server.metrics();
    assert_eq!(m.backpressure, 1);
    assert_eq!(m.messages_sent_binary, sent);
    drop(_slow);
    wait_close(&rx, slow.id());
    let m = server.metrics();
    assert_eq!(m.closes.get(&1008), Some(&1), "{:?}", m.closes);
    server.shutdown(WAIT);
}

on_both_bridges!(metrics_path_serves_prometheus_text_that_parses);
fn metrics_path_serves_prometheus_text_that_parses(bridge: Bridge) {
    let (server, rx) = start_with(quiet(bridge));
    let addr = server.local_addr();
    let mut ws = connect(addr, "/");
    wait_connect(&rx);
    ws.send(W::text("one")).unwrap();
    assert_eq!(read_msg(&mut ws), W::text("one"));
    ws.send(W::binary(vec![1, 2])).unwrap();
    assert_eq!(read_msg(&mut ws), W::binary(vec![1, 2]));
    assert_eq!(refusal_status(try_connect(addr, "/reject")), 403);
    wait_connect(&rx);

    let response = http(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    let samples = parse_exposition(body);
    let get = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let key = sample_key(name, labels);
        *samples
            .get(&key)
            .unwrap_or_else(|| panic!("no sample {key} in:\n{body}"))
    };
    // The contract's names, with what the client did.
    assert_eq!(get("ws_connections_open", &[]), 1.0);
    assert_eq!(get("ws_connections_total", &[]), 1.0);
    assert_eq!(
        get("ws_handshakes_rejected_total", &[("status", "403")]),
        1.0
    );
    assert_eq!(get("ws_messages_received_total", &[("kind", "text")]), 1.0);
    assert_eq!(
        get("ws_messages_received_total", &[("kind", "binary")]),
        1.0
    );
    assert_eq!(get("ws_messages_sent_total", &[("kind", "text")]), 1.0);
    assert_eq!(get("ws_messages_sent_total", &[("kind", "binary")]), 1.0);
    assert!(get("ws_bytes_received_total", &[]) > 0.0);
    assert!(get("ws_bytes_sent_total", &[]) > 0.0);
    assert_eq!(get("ws_backpressure_total", &[]), 0.0);
    assert!(get("actor_live", &[]) >= 1.0);
    assert!(get("actor_workers", &[]) >= 1.0);
    for name in [
        "actor_mailbox_max_depth",
        "actor_mailbox_queued",
        "actor_steals_total",
        "actor_parks_total",
    ] {
        get(name, &[]);
    }
    // Closes appear once a connection ended.
    ws.send(W::text("close")).unwrap(); // the hook closes with 1000
    assert_eq!(read_close(&mut ws).0, 1000);
    drain_to_end(&mut ws);
    metrics_until(&server, |m| m.connections_open == 0);
    let body = http(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let samples = parse_exposition(body.split_once("\r\n\r\n").unwrap().1);
    assert_eq!(
        samples[&sample_key("ws_closes_total", &[("code", "1000")])],
        1.0
    );
    assert_eq!(samples[&sample_key("ws_connections_open", &[])], 0.0);
    // Other methods and paths are the handler's as before.
    assert!(http(
        addr,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    )
    .starts_with("HTTP/1.1 405"));
    server.shutdown(WAIT);
}

#[test]
fn without_a_metrics_path_the_handler_answers() {
    let (server, _rx) = start(Bridge::Poll);
    let r = http(
        server.local_addr(),
        "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(!r.starts_with("HTTP/1.1 200"), "{r}");
    server.shutdown(WAIT);
}

#[test]
fn the_snapshot_renders_as_the_same_text() {
    let (server, _rx) = start(Bridge::Poll);
    let text = server.metrics().to_prometheus();
    let samples = parse_exposition(&text);
    assert_eq!(samples[&sample_key("ws_connections_total", &[])], 0.0);
    server.shutdown(WAIT);
}

fn sample_key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// A strict parser of the OpenMetrics text format (what Prometheus reads):
/// every line is a `# HELP`, `# TYPE` or `# UNIT` of a metric family, a sample
/// of a declared family (with its type's suffix), or the final `# EOF`.
/// Returns the samples as `name{k=v,...}` (labels sorted) to value.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "no # EOF at the end:\n{text}");
    assert!(text.ends_with("# EOF\n"), "the text ends with a newline");
    let is_name = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, value) = (parts.next(), parts.next(), parts.next());
            let name = name.unwrap_or_else(|| panic!("no name: {line}"));
            assert!(is_name(name), "bad metric name in {line}");
            match kind {
                Some("HELP") => assert!(value.is_some(), "{line}"),
                Some("UNIT") => {}
                Some("TYPE") => {
                    let t = value.unwrap_or_else(|| panic!("no type: {line}"));
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "info",
                            "stateset",
                            "unknown"
                        ]
                        .contains(&t),
                        "{line}"
                    );
                    assert!(
                        types.insert(name.to_owned(), t.to_owned()).is_none(),
                        "family declared twice: {line}"
                    );
                }
                _ => panic!("unknown comment line: {line}"),
            }
            continue;
        }
        // name{label="value",...} value
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let mut labels = Vec::new();
                for pair in inner.split(',').filter(|p| !p.is_empty()) {
                    let (k, v) = pair
                        .split_once('=')
                        .unwrap_or_else(|| panic!("bad label: {line}"));
                    assert!(is_name(k), "bad label name: {line}");
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or_else(|| panic!("unquoted label value: {line}"));
                    assert!(!v.contains('"') && !v.contains('\\'), "{line}");
                    labels.push(format!("{k}={v}"));
                }
                labels.sort();
                (name, labels)
            }
            None => (series, Vec::new()),
        };
        assert!(is_name(name), "bad sample name: {line}");
        let family = match types.get(name).map(String::as_str) {
            Some("gauge" | "unknown") => name,
            _ => {
                let base = name
                    .strip_suffix("_total")
                    .or_else(|| name.strip_suffix("_created"))
                    .unwrap_or_else(|| panic!("sample of no declared family: {line}"));
                assert_eq!(
                    types.get(base).map(String::as_str),
                    Some("counter"),
                    "a _total sample of a non-counter: {line}"
                );
                base
            }
        };
        assert!(types.contains_key(family), "{line}");
        let key = format!("{name}{{{}}}", labels.join(","));
        assert!(samples.insert(key, value).is_none(), "sample twice: {line}");
    }
    samples
}
