//! `cargo xtask bench-fanout`: one publisher to many subscribers of one topic (issue 15),
//! measured with `ws-load --fanout` against the chat example: topics (`ws_server::Topics`),
//! the room actor it replaced (`--room-actor`), and two chat servers sharing the room
//! through a `redis-server` this command starts (the publisher on one, the subscribers on
//! the other), and a peer that broadcasts the usual way: tokio-tungstenite with
//! `tokio::sync::broadcast` (`xtask/peers`). Server pinned to core 0, ws-load to core 1; the server CPU is the
//! subscribers' server's, per delivery (a message received by any connection).

use super::{client, fmt, free_addr, median, start_server, Dirs};
use crate::{autobahn, step};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

const USAGE: &str = "\
usage: cargo xtask bench-fanout [--quick] [--reps N] [--servers LIST]

  --quick         1 000 subscribers only, one repetition
  --reps N        repetitions per case and server, medians reported (default 3)
  --servers LIST  comma-separated from topics, room-actor, redis, tokio-tungstenite
                  (default: all)
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

const SERVERS: &[&str] = &["topics", "room-actor", "redis", "tokio-tungstenite"];

/// The peer's binary in xtask/peers.
const PEER: &str = "tokio-tungstenite-broadcast";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let (mut quick, mut reps, mut servers) = (false, None, SERVERS.to_vec());
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
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let reps = reps.unwrap_or(if quick { 1 } else { 3 }).max(1);
    step::run(
        "build",
        step::cargo(&["build", "--release", "-p", "ws-load"]),
    )?;
    let chat = ["build", "--release", "-p", "ws-server", "--example", "chat"];
    step::run("build", step::cargo(&chat))?;
    let dirs = Dirs::new();
    if servers.contains(&"tokio-tungstenite") {
        let manifest = step::root().join("xtask/peers/Cargo.toml");
        let mut cmd = step::cargo(&["build", "--release", "--bin", PEER, "--manifest-path"]);
        cmd.arg(manifest)
            .env("CARGO_TARGET_DIR", &dirs.peers_target);
        step::run("build peer", cmd)?;
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
    let mut table = String::from(
        "| subscribers | size | server | deliveries/s | server µs/delivery | deliveries per server CPU-s | publisher p50 / p99 µs | errors |\n|---:|---:|---|---:|---:|---:|---:|---:|\n",
    );
    for case in CASES.iter().filter(|c| !quick || c.subs == 1000) {
        for server in &servers {
            let mut runs = Vec::new();
            for _ in 0..reps {
                let j = one(&dirs, server, case, url)?;
                println!(
                    "    {} subs, {} B, {server}: {} deliveries/s, {} µs/delivery",
                    case.subs,
                    case.size,
                    fmt(j["deliveries_per_s"].as_f64(), 0),
                    fmt(j["server_cpu_us_per_msg"].as_f64(), 2)
                );
                runs.push(j);
            }
            let us = median(&runs, "server_cpu_us_per_msg");
            let errors: u64 = runs.iter().filter_map(|j| j["errors"].as_u64()).sum();
            table.push_str(&format!(
                "| {} | {} | {server} | {} | {} | {} | {} / {} | {errors} |\n",
                case.subs,
                case.size,
                fmt(median(&runs, "deliveries_per_s"), 0),
                fmt(us, 2),
                fmt(us.map(|u| 1e6 / u), 0),
                fmt(median(&runs, "latency_p50_us"), 0),
                fmt(median(&runs, "latency_p99_us"), 0),
            ));
        }
    }
    drop(redis);
    println!("\n{table}");
    Ok(())
}

/// One run of `case` against `server`: ws-load's JSON line.
fn one(dirs: &Dirs, server: &str, case: &Case, redis: Option<&str>) -> Result<Value, String> {
    let chat = dirs
        .target
        .join("release/examples/chat")
        .display()
        .to_string();
    let start = |extra: &[&str]| {
        let mut argv = vec![chat.clone(), free_addr()?];
        argv.extend(extra.iter().map(|s| s.to_string()));
        start_server(argv, None)
    };
    let (subs, publisher) = match server {
        "topics" => (start(&[])?, None),
        "room-actor" => (start(&["--room-actor"])?, None),
        "tokio-tungstenite" => {
            let bin = dirs.peers_target.join("release").join(PEER);
            (
                start_server(vec![bin.display().to_string(), free_addr()?], None)?,
                None,
            )
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
