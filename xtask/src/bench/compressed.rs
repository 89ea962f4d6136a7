//! `cargo xtask bench --compressed`: permessage-deflate (RFC 7692) under load. Our echo
//! example against the peers that have the extension (Node `ws` with
//! `perMessageDeflate`, Python `websockets`) and against itself uncompressed, on varying
//! JSON: server CPU per message, bytes on the wire per message, RSS per idle compressed
//! connection.

use super::{fmt, median, Case, Options, Results};
use crate::{autobahn, interop};
use std::fmt::Write as _;

/// The section of docs/benchmarks.md this mode owns.
pub(super) const SECTION: &str = "## Compressed load";

/// `ours-plain` is our server with a client that does not offer deflate: the same JSON,
/// uncompressed, for the wire-bytes ratio and the idle baseline.
pub(super) const SERVERS: &[&str] = &["ours", "ours-plain", "node-ws", "python-websockets"];

pub(super) const CASES: &[Case] = &[
    Case {
        name: "json1k",
        conns: 100,
        size: 1 << 10,
        binary: false,
        idle: false,
        json: true,
        deflate: true,
    },
    Case {
        name: "json16k",
        conns: 100,
        size: 16 << 10,
        binary: false,
        idle: false,
        json: true,
        deflate: true,
    },
    Case {
        name: "idle-json",
        conns: 1000,
        size: 1 << 10,
        binary: false,
        idle: true,
        json: true,
        deflate: true,
    },
];

/// Peers that are scripts run by an interpreter, not binaries built in xtask/peers.
pub(super) fn is_script(server: &str) -> bool {
    matches!(server, "node-ws" | "python-websockets")
}

/// The command line of a script peer on `addr`.
pub(super) fn script_cmd(server: &str, addr: &str) -> Vec<String> {
    let dir = crate::step::root().join("xtask/peers/scripts");
    let (interpreter, script) = match server {
        "node-ws" => ("node".to_string(), dir.join("node-ws-echo.js")),
        _ => (
            autobahn::websockets_python().display().to_string(),
            dir.join("python-websockets-echo.py"),
        ),
    };
    vec![interpreter, script.display().to_string(), addr.to_string()]
}

/// Installs what the script peers of this run need (idempotent): Node's `ws` from
/// xtask/interop's lock file, Python `websockets` in its virtualenv.
pub(super) fn install(o: &Options) -> Result<(), String> {
    if o.servers.iter().any(|s| s == "node-ws") {
        interop::ensure_node_modules(&crate::step::root().join("xtask/interop"))?;
    }
    if o.servers.iter().any(|s| s == "python-websockets") {
        autobahn::ensure_websockets()?;
    }
    Ok(())
}

/// The markdown section: how it was run, the tables, the ratios and the goals.
pub(super) fn render(o: &Options, results: &Results, args: &[String], load: &str) -> String {
    let mut s = format!("{SECTION}\n\n");
    let _ = write!(
        s,
        "- machine: {}\n- load average before the run: {load}\n- date: {}\n\
         - command: `cargo xtask bench {}`\n- repetitions: {}, warm-up {} s, window {} s; \
         medians; server on core 0, ws-load on core 1, a fresh server per run, servers \
         interleaved\n\n",
        super::machine(),
        super::today(),
        args.join(" "),
        o.reps,
        o.warmup,
        o.duration
    );
    s.push_str(
        "ws-load `--json --deflate`: 100 connections, one message in flight each, cycling \
         through 64 varying JSON documents (order updates: ids, symbols, prices, statuses) \
         of 0.75 to 1.25 times the case's size; permessage-deflate offered as browsers offer \
         it. Each request is compressed once, on its own (no context takeover on the \
         client's side, whatever was agreed: the compressed bytes a client sends are \
         fixed); echoes are inflated and checked by the client. `wire B/msg`: bytes on the \
         wire per echo, both directions (request and echo frames); `payload/wire`: the \
         payload bytes they carried over those bytes. `ours-plain` is our server with a \
         client that does not offer the extension: the same JSON uncompressed. Node `ws` \
         skips messages under 1 KiB (its default threshold) and compresses at zlib's \
         default level with 32 KiB windows; Python `websockets` uses 4 KiB windows and \
         keeps its context; ours: 4 KiB windows, no context takeover, level 1.\n\n\
         | case | server | deflate agreed | msg/s | server µs/msg | wire B/msg | payload B/msg | payload/wire | p99 µs | errors |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for case in o.cases.iter().filter(|c| !c.idle) {
        for server in &o.servers {
            let Some(runs) = results.get(&(server.clone(), case.name)) else {
                continue;
            };
            let errors: u64 = runs.iter().filter_map(|j| j["errors"].as_u64()).sum();
            let agreed = median(runs, "deflate_agreed");
            let (wire, payload) = (
                median(runs, "wire_bytes_per_msg"),
                median(runs, "payload_bytes_per_msg"),
            );
            let _ = writeln!(
                s,
                "| {} | {server} | {} | {} | {} | {} | {} | {} | {} | {errors} |",
                case.name,
                fmt(agreed, 0),
                fmt(median(runs, "msg_per_s"), 0),
                fmt(median(runs, "server_cpu_us_per_msg"), 2),
                fmt(wire, 0),
                fmt(payload, 0),
                fmt(payload.zip(wire).map(|(p, w)| p / w), 2),
                fmt(median(runs, "latency_p99_us"), 0),
            );
        }
    }
    s.push('\n');
    if let Some(idle) = o.cases.iter().find(|c| c.idle) {
        let conns = o.idle_conns.unwrap_or(idle.conns);
        let _ = write!(
            s,
            "Idle: {conns} connections opened and held, one ~1 KiB JSON echo on each \
             (compressed both ways where agreed); the server's RSS growth over its baseline \
             per connection.\n\n\
             | server | deflate agreed | bytes/conn upgraded | bytes/conn after one echo |\n\
             |---|---:|---:|---:|\n"
        );
        for server in &o.servers {
            let Some(runs) = results.get(&(server.clone(), idle.name)) else {
                continue;
            };
            let _ = writeln!(
                s,
                "| {server} | {} | {} | {} |",
                fmt(median(runs, "deflate_agreed"), 0),
                fmt(median(runs, "rss_per_conn_upgraded_bytes"), 0),
                fmt(median(runs, "rss_per_conn_echoed_bytes"), 0),
            );
        }
        s.push('\n');
    }
    s.push_str(&goals(o, results));
    s
}

/// The three goals, each with its figure from this run.
fn goals(o: &Options, results: &Results) -> String {
    let get = |server: &str, case: &str, key: &str| {
        results
            .get(&(
                server.to_string(),
                CASES.iter().find(|c| c.name == case)?.name,
            ))
            .and_then(|r| median(r, key))
    };
    let mut s = String::from("| goal | case | figure | met |\n|---|---|---:|---|\n");
    let mut row = |goal: &str, case: &str, v: Option<f64>, ok: fn(f64) -> bool, unit: &str| {
        let (figure, met) = match v {
            Some(v) => (format!("{v:.2}{unit}"), if ok(v) { "yes" } else { "no" }),
            None => ("–".to_string(), "not measured"),
        };
        let _ = writeln!(s, "| {goal} | {case} | {figure} | {met} |");
    };
    for case in o.cases.iter().filter(|c| !c.idle) {
        let cpu = |server| get(server, case.name, "server_cpu_us_per_msg");
        let ratio = cpu("ours").zip(cpu("node-ws")).map(|(a, b)| a / b);
        row(
            "CPU/msg ≤ 0.5x Node ws's",
            case.name,
            ratio,
            |r| r <= 0.5,
            "x",
        );
        let wire = |server| get(server, case.name, "wire_bytes_per_msg");
        let fewer = wire("ours-plain").zip(wire("ours")).map(|(p, c)| p / c);
        row(
            "≥ 3x fewer wire bytes than uncompressed",
            case.name,
            fewer,
            |r| r >= 3.0,
            "x",
        );
    }
    if let Some(idle) = o.cases.iter().find(|c| c.idle) {
        let rss = |server| get(server, idle.name, "rss_per_conn_echoed_bytes");
        let extra = rss("ours").zip(rss("ours-plain")).map(|(c, p)| c - p);
        row(
            "≤ 16 KB extra per idle compressed connection",
            idle.name,
            extra,
            |b| b <= 16_000.0,
            " B",
        );
    }
    s.push('\n');
    s
}
