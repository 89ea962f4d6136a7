//! `cargo xtask bench-fanout`: one publisher to many subscribers of one topic (issue 15),
//! measured with `ws-load --fanout` against the chat example: topics (`ws_server::Topics`),
//! the room actor it replaced (`--room-actor`), and two chat servers sharing the room
//! through a `redis-server` this command starts (the publisher on one, the subscribers on
//! the other), and peers that broadcast the usual way: tokio-tungstenite and fastwebsockets
//! with `tokio::sync::broadcast` (`xtask/peers`), Node's `ws` looping over its clients
//! (`xtask/peers/scripts/node-ws-broadcast.js`). Server pinned to core 0, ws-load to core 1;
//! the server CPU is the subscribers' server's, per delivery (a message received by any
//! connection); latency is publish to receive over every delivery (ws-load stamps them).

use super::{client, fmt, free_addr, median, start_server, Dirs};
use crate::{autobahn, step};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

const USAGE: &str = "\
usage: cargo xtask bench-fanout [--quick] [--reps N] [--servers LIST] [--cases LIST]
                               [--base-chat PATH] [--no-write]

Writes each case it ran as its block of docs/benchmarks.md, section `## Fan-out`.

  --quick         1 000 subscribers only, one repetition
  --reps N        repetitions per case and server, medians reported (default 3)
  --servers LIST  comma-separated from topics, room-actor, redis, tokio-tungstenite,
                  fastwebsockets, node-ws (default: all)
  --cases LIST    comma-separated SUBSxSIZE, e.g. 1000x20,10000x1024 (default: all)
  --no-write      print the blocks instead of writing docs/benchmarks.md
  --base-chat P   also run server `base`: the chat example built at P (another build of
                  topics, e.g. main's, for a before/after in one run)
";

struct Case {
    subs: usize,
    size: usize,
    depth: usize,
}

const CASES: &[Case] = &[
    Case {
        subs: 1000,
        size: 20,
        depth: 16,
    },
    Case {
        subs: 1000,
        size: 1024,
        depth: 16,
    },
    Case {
        subs: 10_000,
        size: 20,
        depth: 4,
    },
    Case {
        subs: 10_000,
        size: 1024,
        depth: 4,
    },
];

const SERVERS: &[&str] = &[
    "topics",
    "room-actor",
    "redis",
    "tokio-tungstenite",
    "fastwebsockets",
    "node-ws",
];

/// The peers' binaries in xtask/peers, by server name.
const PEERS: &[(&str, &str)] = &[
    ("tokio-tungstenite", "tokio-tungstenite-broadcast"),
    ("fastwebsockets", "fastwebsockets-broadcast"),
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let (mut quick, mut reps, mut servers) = (false, None, SERVERS.to_vec());
    let (mut cases, mut base): (Option<Vec<String>>, Option<String>) = (None, None);
    let mut write = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--reps" => {
                let v = it.next().ok_or("--reps needs a number")?;
                reps = Some(v.parse::<usize>().map_err(|_| format!("--reps {v}"))?);
            }
            "--servers" => {
                let v = it.next().ok_or("--servers needs a list")?;
                servers = v
                    .split(',')
                    .map(|s| {
                        SERVERS
                            .iter()
                            .copied()
                            .find(|k| *k == s)
                            .ok_or(format!("unknown server `{s}`\n{USAGE}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--cases" => {
                let v = it.next().ok_or("--cases needs a list")?;
                cases = Some(v.split(',').map(str::to_string).collect());
            }
            "--no-write" => write = false,
            "--base-chat" => base = Some(it.next().ok_or("--base-chat needs a path")?.clone()),
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let reps = reps.unwrap_or(if quick { 1 } else { 3 }).max(1);
    if base.is_some() {
        servers.insert(0, "base");
    }
    let chosen = |c: &Case| {
        cases
            .as_ref()
            .is_none_or(|l| l.iter().any(|n| *n == format!("{}x{}", c.subs, c.size)))
    };
    step::run(
        "build",
        step::cargo(&["build", "--release", "-p", "ws-load"]),
    )?;
    let chat = ["build", "--release", "-p", "ws-server", "--example", "chat"];
    step::run("build", step::cargo(&chat))?;
    let dirs = Dirs::new();
    for (_, bin) in PEERS.iter().filter(|(s, _)| servers.contains(s)) {
        let manifest = step::root().join("xtask/peers/Cargo.toml");
        let mut cmd = step::cargo(&["build", "--release", "--bin", bin, "--manifest-path"]);
        cmd.arg(manifest)
            .env("CARGO_TARGET_DIR", &dirs.peers_target);
        step::run("build peer", cmd)?;
    }
    if servers.contains(&"node-ws") {
        crate::interop::ensure_node_modules(&step::root().join("xtask/interop"))?;
    }
    let redis = if servers.contains(&"redis") {
        let bin = crate::debian::ensure("redis-server", "redis-server")?;
        let port = autobahn::free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let dir = autobahn::target_dir().join("xtask-redis");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let cmd = format!("{bin} --port {port} --bind 127.0.0.1 --save '' --appendonly no");
        let mut s = autobahn::Server::start("redis-server", &cmd, &dir.join("bench.log"))?;
        s.wait_ready(addr, Duration::from_secs(20))?;
        Some((s, format!("redis://{addr}")))
    } else {
        None
    };
    let url = redis.as_ref().map(|(_, u)| u.as_str());
    let load = super::loadavg();
    let mut blocks = Vec::new();
    for case in CASES
        .iter()
        .filter(|c| (!quick || c.subs == 1000) && chosen(c))
    {
        let mut rows: Vec<(&str, Vec<Value>)> = Vec::new();
        for server in &servers {
            let mut runs = Vec::new();
            for _ in 0..reps {
                let j = one(&dirs, server, case, url, base.as_deref())?;
                println!(
                    "    {} subs, {} B, {server}: {} deliveries/s, {} µs/delivery, p99 {} µs",
                    case.subs,
                    case.size,
                    fmt(j["deliveries_per_s"].as_f64(), 0),
                    fmt(j["server_cpu_us_per_msg"].as_f64(), 2),
                    fmt(j["delivery_p99_us"].as_f64(), 0)
                );
                runs.push(j);
            }
            rows.push((server, runs));
        }
        let block = render(case, &rows, args, reps, &load);
        println!("\n{block}");
        blocks.push((heading(case), block));
    }
    drop(redis);
    if write {
        write_blocks(&blocks)?;
        println!("bench-fanout: wrote `{SECTION}` in docs/benchmarks.md");
    }
    Ok(())
}

/// The section of docs/benchmarks.md this command owns: one block per case, each replaced
/// by the run that measured it (a locked run stays short: one case at a time).
const SECTION: &str = "## Fan-out";

const INTRO: &str = "`cargo xtask bench-fanout`: one publisher keeping DEPTH messages in flight \
(16 at 1 000 subscribers, 4 at 10 000) against its own copy, to N subscribers of one topic \
(ws-load `--fanout`, one thread), server pinned to core 0, ws-load to core 1; medians of the \
repetitions. `µs/delivery`: server CPU (utime + stime) per message received by any \
connection; `per CPU-s`: its inverse. Latency: publish to receive over every delivery (the \
publisher stamps each message). `topics`: the chat example on `ws_server::Topics` (corked); \
`room-actor`: the chat's room actor; `redis`: two chat servers through a local \
`redis-server`, the publisher on one and the subscribers on the other (CPU of the \
subscribers' server); peers broadcast the usual way: tokio-tungstenite and fastwebsockets \
through `tokio::sync::broadcast` (a task per member), Node `ws` looping over its clients. \
Goals (issue 15): >= 3x tokio-tungstenite's deliveries per CPU-second, >= 1.5x \
fastwebsockets', p99 at 10 000 subscribers at or below the best peer's, Redis >= 50 % of \
local.";

fn heading(case: &Case) -> String {
    format!("### {} subscribers, {} B", case.subs, case.size)
}

/// One case's block: how it was run, the table, and the ratios the goals speak of.
fn render(
    case: &Case,
    rows: &[(&str, Vec<Value>)],
    args: &[String],
    reps: usize,
    load: &str,
) -> String {
    let mut s = format!(
        "{}\n\n- depth {}, date {}, load average before the run {load}, {reps} repetition(s)\n\
         - command: `cargo xtask bench-fanout {}`\n\n\
         | server | deliveries/s | server µs/delivery | deliveries per CPU-s | p50 / p99 / p99.9 µs | errors |\n\
         |---|---:|---:|---:|---:|---:|\n",
        heading(case),
        case.depth,
        super::today(),
        args.join(" ")
    );
    let per_cpu = |name: &str| {
        rows.iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, runs)| median(runs, "server_cpu_us_per_msg"))
            .map(|us| 1e6 / us)
    };
    let p99 = |name: &str| {
        rows.iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, runs)| median(runs, "delivery_p99_us"))
    };
    for (server, runs) in rows {
        let us = median(runs, "server_cpu_us_per_msg");
        let errors: u64 = runs.iter().filter_map(|j| j["errors"].as_u64()).sum();
        s.push_str(&format!(
            "| {server} | {} | {} | {} | {} / {} / {} | {errors} |\n",
            fmt(median(runs, "deliveries_per_s"), 0),
            fmt(us, 2),
            fmt(us.map(|u| 1e6 / u), 0),
            fmt(median(runs, "delivery_p50_us"), 0),
            fmt(p99(server), 0),
            fmt(median(runs, "delivery_p999_us"), 0),
        ));
    }
    s.push('\n');
    if rows.iter().any(|(n, _)| *n == "base") {
        s.push_str("- base: the chat example given by `--base-chat` (another build: before)\n");
    }
    let ours = per_cpu("topics");
    for (peer, goal) in [
        ("tokio-tungstenite", "3"),
        ("fastwebsockets", "1.5"),
        ("node-ws", ""),
    ] {
        if let Some((o, p)) = ours.zip(per_cpu(peer)) {
            let goal = if goal.is_empty() {
                String::new()
            } else {
                format!(" (goal >= {goal}x)")
            };
            s.push_str(&format!(
                "- topics / {peer}, deliveries per CPU-s: {:.2}x{goal}\n",
                o / p
            ));
        }
    }
    if let Some((r, o)) = per_cpu("redis").zip(ours) {
        s.push_str(&format!("- redis / topics, deliveries per CPU-s of the subscribers' server: {:.0} % (goal >= 50 %)\n", 100.0 * r / o));
    }
    let best = ["tokio-tungstenite", "fastwebsockets", "node-ws"]
        .iter()
        .filter_map(|p| p99(p).map(|v| (v, *p)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let (Some(o), Some((b, name))) = (p99("topics"), best) {
        s.push_str(&format!(
            "- p99: topics {o:.0} µs, best peer {name} {b:.0} µs\n"
        ));
    }
    s
}

/// Replaces the run's blocks in the section (kept in the order of [`CASES`]); other
/// cases' blocks stay as they were.
fn write_blocks(new: &[(String, String)]) -> Result<(), String> {
    let path = step::root().join("docs/benchmarks.md");
    let doc = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    super::write_section(SECTION, &section(&doc, new))
}

/// The section for `doc`: its old blocks with `new` (heading, block) in their place.
fn section(doc: &str, new: &[(String, String)]) -> String {
    let old = doc
        .find(&format!("\n{SECTION}\n"))
        .map(|i| {
            let body = &doc[i + SECTION.len() + 2..];
            body[..body.find("\n## ").map_or(body.len(), |e| e + 1)].to_string()
        })
        .unwrap_or_default();
    let blocks: Vec<(String, String)> = old
        .split("\n### ")
        .skip(1)
        .map(|part| {
            let heading = format!("### {}", part.lines().next().unwrap_or(""));
            (heading, format!("### {}", part.trim_end()))
        })
        .collect();
    let mut section = format!("{SECTION}\n\n{INTRO}\n");
    for case in CASES {
        let h = heading(case);
        let block = new.iter().chain(blocks.iter()).find(|(k, _)| *k == h);
        if let Some((_, b)) = block {
            section.push_str(&format!("\n{}\n", b.trim_end()));
        }
    }
    section
}

/// One run of `case` against `server`: ws-load's JSON line.
fn one(
    dirs: &Dirs,
    server: &str,
    case: &Case,
    redis: Option<&str>,
    base: Option<&str>,
) -> Result<Value, String> {
    let chat = match (server, base) {
        ("base", Some(path)) => path.to_string(),
        _ => dirs
            .target
            .join("release/examples/chat")
            .display()
            .to_string(),
    };
    let start = |extra: &[&str]| {
        let mut argv = vec![chat.clone(), free_addr()?];
        argv.extend(extra.iter().map(|s| s.to_string()));
        start_server(argv, None)
    };
    let (subs, publisher) = match server {
        "topics" | "base" => (start(&[])?, None),
        "room-actor" => (start(&["--room-actor"])?, None),
        "tokio-tungstenite" | "fastwebsockets" => {
            let (_, bin) = PEERS.iter().find(|(s, _)| *s == server).ok_or("no peer")?;
            let bin = dirs.peers_target.join("release").join(bin);
            (
                start_server(vec![bin.display().to_string(), free_addr()?], None)?,
                None,
            )
        }
        "node-ws" => {
            let script = step::root().join("xtask/peers/scripts/node-ws-broadcast.js");
            let argv = vec!["node".into(), script.display().to_string(), free_addr()?];
            (start_server(argv, None)?, None)
        }
        _ => {
            let url = redis.ok_or("no redis")?;
            (start(&["--redis", url])?, Some(start(&["--redis", url])?))
        }
    };
    let mut args: Vec<String> = [
        "--addr",
        &subs.addr,
        "--fanout",
        "--conns",
        &case.subs.to_string(),
        "--size",
        &case.size.to_string(),
        "--depth",
        &case.depth.to_string(),
        "--path",
        "/ws?room=bench",
        "--server-pid",
        &subs.child.id().to_string(),
        "--warmup",
        "2",
        "--duration",
        "5",
        "--timeout",
        "30",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(p) = &publisher {
        args.extend(["--publisher-addr".to_string(), p.addr.clone()]);
    }
    client(dirs, &args, Duration::from_secs(180))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_replaces_its_cases_blocks_and_keeps_the_others_in_order() {
        let block = |c: &Case, v: &str| (heading(c), format!("{}\n\nrun {v}\n", heading(c)));
        let (a, b) = (&CASES[0], &CASES[2]);
        let first = section("# Benchmarks\n", &[block(b, "1")]);
        let doc = format!("# Benchmarks\n\n{first}\n## Later\n\nkept\n");
        let second = section(&doc, &[block(a, "2")]);
        let (ia, ib) = (second.find("run 2").unwrap(), second.find("run 1").unwrap());
        assert!(ia < ib, "blocks in the order of CASES:\n{second}");
        let third = section(&format!("# B\n\n{second}\n## Later\n"), &[block(b, "3")]);
        assert!(third.contains("run 3") && !third.contains("run 1") && third.contains("run 2"));
        assert!(!third.contains("Later"));
    }
}
