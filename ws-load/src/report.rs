//! The result of a run: human-readable lines, then one JSON line.

use crate::worker::Tally;
use std::fmt::Write as _;

/// Everything a run measured.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) mode: &'static str,
    pub(crate) addr: String,
    pub(crate) conns: usize,
    pub(crate) size: usize,
    pub(crate) binary: bool,
    /// Varying JSON documents (`--json`).
    pub(crate) json: bool,
    /// permessage-deflate offered (`--deflate`).
    pub(crate) deflate: bool,
    pub(crate) depth: usize,
    /// `--pace random:MAX_US`: the longest delay before a send.
    pub(crate) pace: Option<std::time::Duration>,
    pub(crate) threads: usize,
    /// Seconds.
    pub(crate) warmup: f64,
    /// Seconds of the measured window (load) or of the hold (idle).
    pub(crate) duration: f64,
    pub(crate) tally: Tally,
    /// Connections upgraded per second during setup.
    pub(crate) setup_rate: f64,
    /// This process's CPU time per connection opened during setup, microseconds.
    pub(crate) setup_client_us: Option<f64>,
    /// The server's CPU time per connection opened during setup, microseconds.
    pub(crate) setup_server_us: Option<f64>,
    /// This process's CPU over the window, percent of one core.
    pub(crate) client_cpu_pct: Option<f64>,
    /// The server's CPU over the window, percent of one core.
    pub(crate) server_cpu_pct: Option<f64>,
    /// The server's CPU time per echoed message (fan-out: per delivery), microseconds.
    pub(crate) server_us_per_msg: Option<f64>,
    /// Server RSS in bytes before connecting, after the upgrades, after one echo each.
    pub(crate) rss: Option<[u64; 3]>,
    /// Problems measuring (a /proc read failed) that are not connection errors.
    pub(crate) notes: Vec<String>,
}

impl Report {
    /// Echoed messages per second in the window.
    pub(crate) fn msg_per_s(&self) -> f64 {
        self.tally.messages as f64 / self.duration
    }

    /// Echoed payload per second in the window, MiB (one direction).
    pub(crate) fn mib_per_s(&self) -> f64 {
        self.tally.payload_bytes as f64 / 2.0 / self.duration / (1024.0 * 1024.0)
    }

    /// Bytes on the wire per echo (request and echo frames, both directions), and the
    /// payload bytes they carried: `None` before any echo was counted.
    pub(crate) fn bytes_per_msg(&self) -> Option<(f64, f64)> {
        let t = &self.tally;
        (t.messages > 0).then(|| {
            let m = t.messages as f64;
            (t.wire_bytes as f64 / m, t.payload_bytes as f64 / m)
        })
    }

    /// RSS growth per connection over the baseline: after the upgrades, after one echo.
    pub(crate) fn rss_per_conn(&self) -> Option<(f64, f64)> {
        let [base, upgraded, echoed] = self.rss?;
        let per = |v: u64| (v as f64 - base as f64) / self.conns.max(1) as f64;
        Some((per(upgraded), per(echoed)))
    }

    fn latency_us(&self, q: f64) -> f64 {
        self.tally.latency.quantile(q) as f64 / 1000.0
    }

    /// The human-readable lines.
    pub(crate) fn human(&self) -> String {
        let t = &self.tally;
        let kind = match (self.binary, self.json) {
            (true, _) => "binary",
            (false, true) => "JSON text (varying, average)",
            (false, false) => "text",
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "ws-load {} {}: {} conns ({} open), {} B {kind}, depth {}, {} thread(s)",
            self.mode, self.addr, self.conns, t.opened, self.size, self.depth, self.threads
        );
        let us = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.0} us"));
        let _ = writeln!(
            out,
            "setup: {:.0} conn/s, CPU per connection: client {}, server {}",
            self.setup_rate,
            us(self.setup_client_us),
            us(self.setup_server_us)
        );
        if let Some(max) = self.pace {
            let _ = writeln!(
                out,
                "pace: each send at a random moment up to {} us after its echo",
                max.as_micros()
            );
        }
        if self.deflate {
            let _ = writeln!(
                out,
                "permessage-deflate: offered, agreed on {} of {} connections",
                t.deflated, t.opened
            );
        }
        if self.mode == "fanout" {
            let _ = writeln!(
                out,
                "fan-out: {:.0} deliveries/s ({} in {:.1} s), {:.0} publishes/s",
                t.deliveries as f64 / self.duration,
                t.deliveries,
                self.duration,
                self.msg_per_s()
            );
        }
        if self.mode == "fanout" {
            let d = &t.delivery_latency;
            if d.count() > 0 {
                let _ = writeln!(
                    out,
                    "delivery latency (publish to receive, {} stamped deliveries): p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us",
                    d.count(),
                    d.quantile(0.5) as f64 / 1000.0,
                    d.quantile(0.99) as f64 / 1000.0,
                    d.quantile(0.999) as f64 / 1000.0,
                    d.max() as f64 / 1000.0
                );
            }
            let _ = writeln!(
                out,
                "(latency below: the publisher's own copy, publish to receive)"
            );
        }
        if self.mode != "idle" {
            let _ = writeln!(
                out,
                "throughput: {:.0} msg/s, {:.2} MiB/s over {:.1} s (after {:.1} s warm-up)",
                self.msg_per_s(),
                self.mib_per_s(),
                self.duration,
                self.warmup
            );
            let _ = writeln!(
                out,
                "latency: p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us",
                self.latency_us(0.5),
                self.latency_us(0.99),
                self.latency_us(0.999),
                t.latency.max() as f64 / 1000.0
            );
            if let Some((wire, payload)) = self.bytes_per_msg() {
                let _ = writeln!(
                    out,
                    "wire: {wire:.0} B per echo both ways, carrying {payload:.0} B of payload ({:.2}x)",
                    payload / wire
                );
            }
        }
        if let Some((upgraded, echoed)) = self.rss_per_conn() {
            let _ = writeln!(
                out,
                "server RSS per connection: {:.0} B after upgrade, {:.0} B after one echo",
                upgraded, echoed
            );
        }
        let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.0}%"));
        let _ = writeln!(
            out,
            "cpu: client {}, server {}, server {} per {}",
            pct(self.client_cpu_pct),
            pct(self.server_cpu_pct),
            self.server_us_per_msg
                .map_or("n/a".to_string(), |v| format!("{v:.2} us")),
            if self.mode == "fanout" {
                "delivery"
            } else {
                "message"
            }
        );
        let _ = writeln!(
            out,
            "errors: {} (connect {}, handshake {}, timeout {}, io {}, protocol {}, closed {}, mismatched {})",
            t.errors(),
            t.connect_errors,
            t.handshake_errors,
            t.timeouts,
            t.io_errors,
            t.protocol_errors,
            t.closed,
            t.mismatched
        );
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }

    /// The one JSON line, flat keys; `null` where a figure was not measured.
    pub(crate) fn json(&self) -> String {
        let t = &self.tally;
        let num = |v: Option<f64>| match v {
            Some(v) if v.is_finite() => format!("{v:.3}"),
            _ => "null".to_string(),
        };
        let rss = self.rss_per_conn();
        let mut s = String::from("{");
        let mut field = |k: &str, v: String| {
            if s.len() > 1 {
                s.push(',');
            }
            let _ = write!(s, "\"{k}\":{v}");
        };
        field("mode", format!("\"{}\"", self.mode));
        field("addr", format!("\"{}\"", self.addr));
        field("conns", self.conns.to_string());
        field("opened", t.opened.to_string());
        field("size", self.size.to_string());
        field("binary", self.binary.to_string());
        field("json", self.json.to_string());
        field("deflate_offered", self.deflate.to_string());
        field("deflate_agreed", t.deflated.to_string());
        field("depth", self.depth.to_string());
        field(
            "pace_max_us",
            self.pace
                .map_or("null".to_string(), |d| d.as_micros().to_string()),
        );
        field("threads", self.threads.to_string());
        field("warmup_s", num(Some(self.warmup)));
        field("duration_s", num(Some(self.duration)));
        field("messages", t.messages.to_string());
        let load = self.mode != "idle";
        field("deliveries", t.deliveries.to_string());
        field(
            "deliveries_per_s",
            num((self.mode == "fanout").then(|| t.deliveries as f64 / self.duration)),
        );
        field("msg_per_s", num(load.then(|| self.msg_per_s())));
        field("mib_per_s", num(load.then(|| self.mib_per_s())));
        for (k, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
            let v = (load && t.latency.count() > 0).then(|| self.latency_us(q));
            field(&format!("latency_{k}_us"), num(v));
        }
        for (k, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
            let d = &t.delivery_latency;
            let v = (d.count() > 0).then(|| d.quantile(q) as f64 / 1000.0);
            field(&format!("delivery_{k}_us"), num(v));
        }
        let bytes = self.bytes_per_msg().filter(|_| load);
        field("wire_bytes_per_msg", num(bytes.map(|b| b.0)));
        field("payload_bytes_per_msg", num(bytes.map(|b| b.1)));
        let max = (load && t.latency.count() > 0).then(|| t.latency.max() as f64 / 1000.0);
        field("latency_max_us", num(max));
        field(
            "latency_mean_us",
            num(max.map(|_| t.latency.mean() / 1000.0)),
        );
        field("setup_conn_per_s", num(Some(self.setup_rate)));
        field("setup_client_cpu_us_per_conn", num(self.setup_client_us));
        field("setup_server_cpu_us_per_conn", num(self.setup_server_us));
        field("client_cpu_pct", num(self.client_cpu_pct));
        field("server_cpu_pct", num(self.server_cpu_pct));
        field("server_cpu_us_per_msg", num(self.server_us_per_msg));
        let [base, upgraded, echoed] = match self.rss {
            Some(r) => r.map(|v| Some(v as f64)),
            None => [None; 3],
        };
        field("server_rss_baseline_bytes", num(base));
        field("server_rss_upgraded_bytes", num(upgraded));
        field("server_rss_echoed_bytes", num(echoed));
        field("rss_per_conn_upgraded_bytes", num(rss.map(|r| r.0)));
        field("rss_per_conn_echoed_bytes", num(rss.map(|r| r.1)));
        field("errors", t.errors().to_string());
        for (k, v) in [
            ("connect", t.connect_errors),
            ("handshake", t.handshake_errors),
            ("timeout", t.timeouts),
            ("io", t.io_errors),
            ("protocol", t.protocol_errors),
            ("closed", t.closed),
            ("mismatched", t.mismatched),
        ] {
            field(&format!("errors_{k}"), v.to_string());
        }
        s.push('}');
        s
    }
}
