//! `cargo xtask bench`: whole-server load runs of our echo example against peer servers,
//! interleaved, a fresh server per run, server and client pinned to different cores.

mod compressed;
pub(crate) mod fanout;
mod modes;
mod scaling;
mod tls;

use crate::step;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: cargo xtask bench [options]

Builds ws-load, the peer servers (xtask/peers) and our echo example in release mode,
runs the matrix interleaved (a fresh server per run, server on core 0, client on
core 1), and writes the medians to docs/benchmarks.md, section `## Whole-server load`.

options:
  --quick             1 repetition, 0.5 s warm-up, 2 s windows, idle with 1000 conns
  --reps N            repetitions of the matrix (default 5)
  --warmup SECS       warm-up per load run (default 1)
  --duration SECS     measured window per load run (default 4)
  --servers a,b,...   subset of: ours, ours-threads, fastwebsockets, tokio-tungstenite,
                      tungstenite-threads, tokio-echo (ours-threads: the echo example on
                      the seed-shaped thread bridge, WS_BRIDGE=threads; tokio-echo:
                      ws-tokio's example, on tokio like the two tokio peers);
                      also, never by default: floor-epoll, uring-echo (bare echoes
                      written only to measure the floor, issue 17)
  --cases a,b,...     subset of: 1x20, 100x20, 1000x20, 1000x20-rand, 10x64k, idle10k
                      (-rand: the client sends each next message at a random moment up
                      to 1 ms after its echo, not at once; docs/benchmarks.md)
  --idle-conns N      connections of the idle case (default 10000; 1000 with --quick)
  --ours-cmd CMD      how to start our server, `{addr}` replaced by the address
                      (default: <target>/release/examples/echo {addr})
  --base-cmd CMD      also run `ours-base`, an earlier build of ours started by CMD
                      (`{addr}` replaced), interleaved with the rest: a change's
                      before/after in one run, as ratios like any peer's
  --compressed        the permessage-deflate matrix instead (section `## Compressed
                      load`): cases json1k, json16k (100 connections echoing varying
                      JSON of ~1 KiB / ~16 KiB) and idle-json (1000 connections, one
                      compressed echo each); servers ours, ours-plain (ours, the
                      client not offering deflate), node-ws (Node `ws`,
                      perMessageDeflate on), python-websockets (its defaults)
  --tls               over wss: a throwaway certificate (openssl), the servers started
                      with `--tls-cert FILE --tls-key FILE` (ours, and fastwebsockets and
                      tokio-tungstenite behind tokio-rustls on ring), ws-load with
                      `--tls-ca`; servers default to those three, cases to 100x20,
                      10x64k, idle10k (its setups/s and server CPU per setup: full
                      handshakes, no resumption); section `## Over TLS`
  --no-write          print the section instead of writing docs/benchmarks.md
  --scaling           two workers on two cores instead (bench/scaling.rs: ours, one
                      poller shared, fastwebsockets on two threads; all on cores 0,1)
  --profile SERVER    instead of the matrix: run SERVER under `perf record` while
                      ws-load drives the 100x20 case (or the first of --cases), and
                      print the hottest symbols
";

/// Seconds a ws-load run may take beyond its windows before it is killed: its own bound
/// for the setup of 10 000 connections (3 timeouts + 5 ms each) and the idle echo.
const CLIENT_SLACK: f64 = 150.0;

/// The chart written beside docs/benchmarks.md.
const SVG: &str = "whole-server-load.svg";

/// The section of docs/benchmarks.md this command owns.
const SECTION: &str = "## Whole-server load";

/// A load case of the matrix.
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    conns: usize,
    size: usize,
    binary: bool,
    idle: bool,
    /// Varying JSON documents averaging `size` (ws-load `--json`).
    json: bool,
    /// The client offers permessage-deflate (ws-load `--deflate`).
    deflate: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "1x20",
        conns: 1,
        size: 20,
        binary: false,
        idle: false,
        json: false,
        deflate: false,
    },
    Case {
        name: "100x20",
        conns: 100,
        size: 20,
        binary: false,
        idle: false,
        json: false,
        deflate: false,
    },
    Case {
        name: "1000x20",
        conns: 1000,
        size: 20,
        binary: false,
        idle: false,
        json: false,
        deflate: false,
    },
    Case {
        name: "1000x20-rand",
        conns: 1000,
        size: 20,
        binary: false,
        idle: false,
        json: false,
        deflate: false,
    },
    Case {
        name: "10x64k",
        conns: 10,
        size: 64 << 10,
        binary: true,
        idle: false,
        json: false,
        deflate: false,
    },
    Case {
        name: "idle10k",
        conns: 10_000,
        size: 20,
        binary: false,
        idle: true,
        json: false,
        deflate: false,
    },
];

/// The servers: ours first (default bridge, then the thread bridge), then the peers
/// built in xtask/peers.
const SERVERS: &[&str] = &[
    "ours",
    "ours-threads",
    "fastwebsockets",
    "tokio-tungstenite",
    "tungstenite-threads",
    TOKIO_ECHO,
];

/// Bare echoes in xtask/peers written only to measure the floor (issue 17): run when
/// named, never by default, their binaries named as the servers.
const FLOORS: &[&str] = &["floor-epoll", "uring-echo"];

/// ws-tokio's echo example (issue 18): ours too, compared with the peers on tokio.
const TOKIO_ECHO: &str = "tokio-echo";

#[derive(Debug)]
struct Options {
    reps: usize,
    warmup: f64,
    duration: f64,
    idle_conns: Option<usize>,
    servers: Vec<String>,
    cases: Vec<Case>,
    ours_cmd: Option<String>,
    base_cmd: Option<String>,
    write: bool,
    quick: bool,
    profile: Option<String>,
    /// The permessage-deflate matrix (`--compressed`).
    compressed: bool,
    /// `--tls`: the certificate made for this run (see [`run`]).
    tls: bool,
    certs: Option<crate::certs::Certs>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        reps: 5,
        warmup: 1.0,
        duration: 4.0,
        idle_conns: None,
        servers: Vec::new(),
        cases: CASES.to_vec(),
        ours_cmd: None,
        base_cmd: None,
        write: true,
        quick: false,
        profile: None,
        compressed: false,
        tls: false,
        certs: None,
    };
    let (mut servers, mut cases) = (None::<String>, None::<String>);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("`{name}` needs a value\n\n{USAGE}"))
        };
        let number = |name: &str, v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| format!("`{name}`: `{v}` is not a non-negative number"))
        };
        match a.as_str() {
            "--quick" => {
                o.quick = true;
                o.reps = 1;
                o.warmup = 0.5;
                o.duration = 2.0;
                o.idle_conns.get_or_insert(1000);
            }
            "--reps" => {
                let v = value(a)?;
                o.reps = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("`--reps`: `{v}` is not a positive integer"))?;
            }
            "--warmup" => o.warmup = number(a, value(a)?)?,
            "--duration" => o.duration = number(a, value(a)?)?.max(0.1),
            "--servers" => servers = Some(value(a)?),
            "--cases" => cases = Some(value(a)?),
            "--compressed" => o.compressed = true,
            "--tls" => o.tls = true,
            "--idle-conns" => {
                let v = value(a)?;
                let n = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| format!("`--idle-conns`: `{v}` is not 1 to 10000"))?;
                o.idle_conns = Some(n);
            }
            "--ours-cmd" => o.ours_cmd = Some(value(a)?),
            "--base-cmd" => o.base_cmd = Some(value(a)?),
            "--no-write" => o.write = false,
            "--profile" => {
                let s = value(a)?;
                if !SERVERS.contains(&s.as_str()) && !FLOORS.contains(&s.as_str()) {
                    return Err(format!("unknown server `{s}`"));
                }
                o.profile = Some(s);
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    let (known_servers, known_cases) = if o.compressed {
        (compressed::SERVERS, compressed::CASES)
    } else {
        (SERVERS, CASES)
    };
    o.cases = known_cases.to_vec();
    let cases_given = cases.is_some();
    if let Some(list) = cases {
        o.cases = Vec::new();
        for c in list.split(',') {
            let case = known_cases.iter().find(|k| k.name == c).ok_or_else(|| {
                let names: Vec<_> = known_cases.iter().map(|k| k.name).collect();
                format!("unknown case `{c}` (known: {})", names.join(", "))
            })?;
            o.cases.push(*case);
        }
    }
    if let Some(list) = servers {
        for s in list.split(',') {
            if !known_servers.contains(&s) && (o.compressed || !FLOORS.contains(&s)) {
                return Err(format!(
                    "unknown server `{s}` (known: {})",
                    known_servers.join(", ")
                ));
            }
            o.servers.push(s.to_string());
        }
    } else if o.compressed {
        o.servers = compressed::SERVERS.iter().map(|s| s.to_string()).collect();
    }
    if o.tls {
        tls::apply(&mut o, cases_given)?;
    }
    Ok(o)
}

/// Where the binaries land: the main workspace's target dir, and the peers' inside it.
struct Dirs {
    target: PathBuf,
    peers_target: PathBuf,
}

impl Dirs {
    fn new() -> Self {
        let target = crate::autobahn::target_dir();
        let peers_target = std::env::var_os("PEERS_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| target.join("peers"));
        Self {
            target,
            peers_target,
        }
    }

    fn ws_load(&self) -> PathBuf {
        self.target.join("release/ws-load")
    }

    /// The command line that starts `server` on `addr`.
    fn server_cmd(&self, server: &str, addr: &str, o: &Options) -> Vec<String> {
        let mut argv = self.plain_server_cmd(server, addr, o);
        if let Some(c) = &o.certs {
            argv.extend([
                "--tls-cert".into(),
                c.cert.display().to_string(),
                "--tls-key".into(),
                c.key.display().to_string(),
            ]);
        }
        argv
    }

    fn plain_server_cmd(&self, server: &str, addr: &str, o: &Options) -> Vec<String> {
        let echo = || {
            self.target
                .join("release/examples/echo")
                .display()
                .to_string()
        };
        let split = |cmd: &str| {
            cmd.split_whitespace()
                .map(|w| w.replace("{addr}", addr))
                .collect()
        };
        match server {
            "ours" | "ours-plain" => match &o.ours_cmd {
                Some(cmd) => split(cmd),
                None => vec![echo(), addr.to_string()],
            },
            BASE => split(o.base_cmd.as_deref().unwrap_or_default()),
            TOKIO_ECHO => vec![
                self.target
                    .join("release/examples/tokio-echo")
                    .display()
                    .to_string(),
                addr.to_string(),
            ],
            // `env` execs the server: the pid measured is still the server's.
            "ours-threads" => vec![
                "env".into(),
                "WS_BRIDGE=threads".into(),
                echo(),
                addr.to_string(),
            ],
            "node-ws" | "python-websockets" => compressed::script_cmd(server, addr),
            floor if FLOORS.contains(&floor) => vec![
                self.peers_target
                    .join(format!("release/{floor}"))
                    .display()
                    .to_string(),
                addr.to_string(),
            ],
            peer => vec![
                self.peers_target
                    .join(format!("release/{peer}-echo"))
                    .display()
                    .to_string(),
                addr.to_string(),
            ],
        }
    }
}

/// The server `--base-cmd` starts: an earlier build of ours.
const BASE: &str = "ours-base";

/// One of our own servers (either bridge), not a peer.
fn is_ours(server: &str) -> bool {
    matches!(server, "ours" | "ours-threads" | "ours-plain")
}

/// A peer built in xtask/peers (the others are scripts).
fn is_rust_peer(server: &str) -> bool {
    !is_ours(server) && server != BASE && server != TOKIO_ECHO && !compressed::is_script(server)
}

/// Does ws-server have its echo example yet?
fn ours_exists() -> bool {
    step::root().join("ws-server/examples/echo.rs").exists()
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(i) = args.iter().position(|a| a == "--scaling") {
        let rest: Vec<String> = [&args[..i], &args[i + 1..]].concat();
        return scaling::run(&rest);
    }
    let mut o = parse(args)?;
    let dirs = Dirs::new();
    if o.servers.is_empty() {
        o.servers = SERVERS
            .iter()
            .filter(|s| !is_ours(s) || o.ours_cmd.is_some() || ours_exists())
            .map(|s| s.to_string())
            .collect();
        if !o.servers.iter().any(|s| s == "ours") {
            println!("bench: ws-server has no `echo` example yet: running the peers only");
        }
    }
    if o.base_cmd.is_some() && !o.servers.iter().any(|s| s == BASE) {
        let at = o
            .servers
            .iter()
            .position(|s| s == "ours")
            .map_or(0, |i| i + 1);
        o.servers.insert(at, BASE.to_string());
    }
    need("taskset", "util-linux")?;
    if o.profile.is_some() {
        need("perf", "linux-perf")?;
    }
    build(&o, &dirs)?;
    if o.tls {
        o.certs = Some(crate::certs::make(&dirs.target.join("bench-tls"))?);
    }
    if let Some(server) = o.profile.clone() {
        return profile(&o, &dirs, &server);
    }
    let started = Instant::now();
    // Read before the matrix: afterwards it counts the exiting threads of a
    // thread-per-connection server, not other jobs.
    let load = loadavg();
    let results = matrix(&o, &dirs)?;
    if o.compressed {
        let section = compressed::render(&o, &results, args, &load);
        if o.write {
            write_section(compressed::SECTION, &section)?;
            println!(
                "bench: wrote `{}` in docs/benchmarks.md",
                compressed::SECTION
            );
        } else {
            print!("{section}");
        }
        println!("bench: done in {:.0} s", started.elapsed().as_secs_f64());
        return Ok(());
    }
    let section = render(&o, &results, args, &load);
    if o.write && o.tls {
        write_section(tls::SECTION, &section)?;
        println!("bench: wrote `{}` in docs/benchmarks.md", tls::SECTION);
    } else if o.write {
        write_section(SECTION, &section)?;
        println!("bench: wrote `{SECTION}` in docs/benchmarks.md");
        let svg_path = step::root().join(format!("docs/{SVG}"));
        write(&svg_path, &chart(&o, &results))?;
        println!("bench: wrote docs/{SVG}");
    } else {
        print!("{section}");
    }
    println!("bench: done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Fails clearly when `tool` is not installed.
fn need(tool: &str, package: &str) -> Result<(), String> {
    match Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "`{tool}` not found: install it (`apt-get install -y {package}`)"
        )),
    }
}

/// Release builds: ws-load, the peers (their own workspace) and our example if wanted.
fn build(o: &Options, dirs: &Dirs) -> Result<(), String> {
    step::run(
        "build ws-load",
        step::cargo(&["build", "--release", "--quiet", "-p", "ws-load"]),
    )?;
    compressed::install(o)?;
    if o.servers.iter().any(|s| is_rust_peer(s)) {
        let manifest = step::root().join("xtask/peers/Cargo.toml");
        let mut cmd = step::cargo(&["build", "--release", "--quiet", "--manifest-path"]);
        cmd.arg(manifest)
            .env("CARGO_TARGET_DIR", &dirs.peers_target);
        step::run("build peers", cmd)?;
    }
    if o.servers.iter().any(|s| s == TOKIO_ECHO) {
        step::run(
            "build tokio-echo example",
            step::cargo(&[
                "build",
                "--release",
                "--quiet",
                "-p",
                "ws-tokio",
                "--example",
                "tokio-echo",
            ]),
        )?;
    }
    if o.servers.iter().any(|s| is_ours(s)) && o.ours_cmd.is_none() {
        crate::proc::build_echo()?;
    }
    Ok(())
}

/// A server we started; killed (by its own handle) when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The raised open-file limit, then `exec` pinned to `core`: `sh -c` applies both.
fn pinned(core: impl std::fmt::Display, argv: &[String]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec taskset -c {core} \"$@\""
        ))
        .arg("sh")
        .args(argv);
    cmd
}

/// A free loopback address (bound, read, released).
fn free_addr() -> Result<String, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.to_string())
}

/// Starts `argv` pinned to core 0 and waits for its `listening on` line.
fn start_server(argv: Vec<String>, wrap: Option<Vec<String>>) -> Result<Server, String> {
    let shown = argv.join(" ");
    let mut full = wrap.unwrap_or_default();
    full.extend(argv);
    let mut child = pinned(0, &full)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let rx = crate::proc::listening(stdout);
    let mut server = Server {
        child,
        addr: String::new(),
    };
    match rx.recv_timeout(Duration::from_secs(15)) {
        Ok(addr) => {
            server.addr = addr;
            Ok(server)
        }
        Err(_) => Err(format!(
            "`{shown}` did not print `listening on ADDR` in 15 s"
        )),
    }
}

/// Runs ws-load pinned to core 1 and returns its JSON line; bounded by `limit`.
fn client(dirs: &Dirs, args: &[String], limit: Duration) -> Result<Value, String> {
    client_on("1", dirs, args, limit)
}

/// [`client`] pinned to `cores` (a `taskset -c` list).
fn client_on(cores: &str, dirs: &Dirs, args: &[String], limit: Duration) -> Result<Value, String> {
    let mut argv = vec![dirs.ws_load().display().to_string()];
    argv.extend(args.iter().cloned());
    let mut child = pinned(cores, &argv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start ws-load: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("ws-load ran past {} s: killed", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for ws-load: {e}")),
        }
    }
    let out = reader.join().unwrap_or_default();
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|e| {
        let mut err = String::new();
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        format!("ws-load printed no JSON line ({e}):\n{out}{err}")
    })
}

/// ws-load's arguments for one case against `addr`.
fn load_args(o: &Options, case: &Case, server: &str, addr: &str, pid: u32) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--addr".into(),
        addr.into(),
        "--server-pid".into(),
        pid.to_string(),
        "--size".into(),
        case.size.to_string(),
    ];
    if case.binary {
        a.push("--binary".into());
    }
    if let Some(c) = &o.certs {
        a.extend(["--tls-ca".into(), c.ca.display().to_string()]);
    }
    if case.json {
        a.push("--json".into());
    }
    a.extend(modes::client_args(case.name));
    // ours-plain is our compressing server with a client that does not offer deflate.
    if case.deflate && server != "ours-plain" {
        a.push("--deflate".into());
    }
    if case.idle {
        let conns = o.idle_conns.unwrap_or(case.conns);
        a.extend(["--idle", "--duration", "0", "--conns"].map(String::from));
        a.push(conns.to_string());
    } else {
        a.extend([
            "--conns".to_string(),
            case.conns.to_string(),
            "--warmup".into(),
            o.warmup.to_string(),
            "--duration".into(),
            o.duration.to_string(),
        ]);
    }
    a
}

type Results = BTreeMap<(String, &'static str), Vec<Value>>;

/// Every repetition of every case on every server, rotating the server order per round.
fn matrix(o: &Options, dirs: &Dirs) -> Result<Results, String> {
    let mut results = Results::new();
    let n = o.servers.len();
    let runs = o.reps * o.cases.len() * n;
    let mut done = 0;
    for rep in 0..o.reps {
        for case in &o.cases {
            for k in 0..n {
                let server = &o.servers[(k + rep) % n];
                done += 1;
                let addr = free_addr()?;
                let argv = dirs.server_cmd(server, &addr, o);
                let srv = start_server(argv, None)?;
                let pid = srv.child.id();
                let args = load_args(o, case, server, &srv.addr, pid);
                let limit = Duration::from_secs_f64(o.warmup + o.duration + CLIENT_SLACK);
                let json = client(dirs, &args, limit)?;
                drop(srv);
                println!(
                    "[{done}/{runs}] rep {} {:<8} {:<20} {}",
                    rep + 1,
                    case.name,
                    server,
                    summary(case, &json)
                );
                results
                    .entry((server.clone(), case.name))
                    .or_default()
                    .push(json);
            }
        }
    }
    Ok(results)
}

fn summary(case: &Case, j: &Value) -> String {
    let f = |k: &str| j[k].as_f64().unwrap_or(f64::NAN);
    if case.idle {
        format!(
            "{:.0} B/conn upgraded, {:.0} B/conn echoed, {:.0} setups/s, errors {}",
            f("rss_per_conn_upgraded_bytes"),
            f("rss_per_conn_echoed_bytes"),
            f("setup_conn_per_s"),
            j["errors"]
        )
    } else {
        format!(
            "{:.0} msg/s p99 {:.0} us, server {:.2} us/msg, client cpu {:.0}%, errors {}",
            f("msg_per_s"),
            f("latency_p99_us"),
            f("server_cpu_us_per_msg"),
            f("client_cpu_pct"),
            j["errors"]
        )
    }
}

/// Median of the finite values of `key` over the runs.
fn median(runs: &[Value], key: &str) -> Option<f64> {
    let mut v: Vec<f64> = runs
        .iter()
        .filter_map(|j| j[key].as_f64())
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

fn fmt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.decimals$}"))
}

/// The markdown section: how it was run, the tables, the ratios.
fn render(o: &Options, results: &Results, args: &[String], load: &str) -> String {
    let mut s = String::new();
    let cmd = if args.is_empty() {
        "cargo xtask bench".to_string()
    } else {
        format!("cargo xtask bench {}", args.join(" "))
    };
    let heading = if o.tls { tls::SECTION } else { SECTION };
    s.push_str(&format!("{heading}\n\n"));
    if o.quick {
        s.push_str(
            "**Quick run** (`--quick`: one repetition, short windows): a smoke test of the \
             harness, not a result to quote.\n\n",
        );
    }
    s.push_str(&format!(
        "- machine: {}\n- load average before the run (1 min; other jobs on the machine show here): {load}\n\
         - date: {}\n- command: `{cmd}`\n- repetitions: {}, warm-up {} s, window {} s; \
         medians; server on core 0, ws-load on core 1 (`taskset`), a fresh server per run, \
         servers interleaved with the order rotated each round\n\n",
        machine(),
        today(),
        o.reps,
        o.warmup,
        o.duration
    ));
    let ours_ran = o.servers.iter().any(|x| x == "ours");
    if !ours_ran {
        s.push_str(
            "Our server was not in this run (ws-server's `echo` example did not exist yet): \
             its rows and the ratios appear when `cargo xtask bench` runs with it.\n\n",
        );
    }
    let load_cases: Vec<&Case> = o.cases.iter().filter(|c| !c.idle).collect();
    if !load_cases.is_empty() {
        s.push_str(
            "Closed-loop echo, one message in flight per connection. `server µs/msg` is the \
             server's CPU time (utime+stime from /proc) over the window divided by the \
             messages echoed: the figure that stays meaningful when client and server share \
             the machine. `client %` is ws-load's own CPU (100 % = one core); near 100 % the \
             client, not the server, limits msg/s.\n\n",
        );
        s.push_str(
            "| case | server | msg/s | MiB/s | p50 µs | p99 µs | p99.9 µs | server µs/msg | server % | client % | errors |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for case in &load_cases {
            for server in &o.servers {
                let Some(runs) = results.get(&(server.clone(), case.name)) else {
                    continue;
                };
                let errors: u64 = runs.iter().filter_map(|j| j["errors"].as_u64()).sum();
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    case.name,
                    server,
                    fmt(median(runs, "msg_per_s"), 0),
                    fmt(median(runs, "mib_per_s"), 2),
                    fmt(median(runs, "latency_p50_us"), 0),
                    fmt(median(runs, "latency_p99_us"), 0),
                    fmt(median(runs, "latency_p999_us"), 0),
                    fmt(median(runs, "server_cpu_us_per_msg"), 2),
                    fmt(median(runs, "server_cpu_pct"), 0),
                    fmt(median(runs, "client_cpu_pct"), 0),
                    errors
                ));
            }
        }
        s.push('\n');
    }
    if let Some(idle) = o.cases.iter().find(|c| c.idle) {
        let conns = o.idle_conns.unwrap_or(idle.conns);
        s.push_str(&format!(
            "Idle connections: {conns} opened and held; the server's RSS growth over its \
             baseline (VmRSS, /proc) divided by the connections, after the upgrades and after \
             one 20-byte echo on each. A thread-per-connection server also holds a kernel stack \
             per thread (16 KiB on x86-64) that VmRSS does not show. `setups/s`: connections \
             opened and upgraded per second while the client opens them all (TCP connect + \
             handshake, ws-load's own figure); `server µs/setup` and `client µs/setup`: each \
             side's CPU time over that phase divided by the connections opened.\n\n\
             | server | bytes/conn upgraded | bytes/conn after one echo | setups/s | server µs/setup | client µs/setup | errors |\n\
             |---|---:|---:|---:|---:|---:|---:|\n"
        ));
        for server in &o.servers {
            let Some(runs) = results.get(&(server.clone(), idle.name)) else {
                continue;
            };
            let errors: u64 = runs.iter().filter_map(|j| j["errors"].as_u64()).sum();
            s.push_str(&format!(
                "| {server} | {} | {} | {} | {} | {} | {errors} |\n",
                fmt(median(runs, "rss_per_conn_upgraded_bytes"), 0),
                fmt(median(runs, "rss_per_conn_echoed_bytes"), 0),
                fmt(median(runs, "setup_conn_per_s"), 0),
                fmt(median(runs, "setup_server_cpu_us_per_conn"), 1),
                fmt(median(runs, "setup_client_cpu_us_per_conn"), 1)
            ));
        }
        s.push('\n');
    }
    for subject in ["ours", TOKIO_ECHO] {
        if o.servers.iter().any(|x| x == subject) {
            s.push_str(&ratios(o, results, subject));
        }
    }
    if o.tls {
        s.push_str(tls::NOTES);
        return s;
    }
    if o.write && !load_cases.is_empty() {
        s.push_str(&format!("![server CPU per message]({SVG})\n\n"));
    }
    s.push_str(CLIENT);
    s.push_str(modes::DOC);
    s.push_str(PROFILING);
    s
}

const CLIENT: &str = "\
### The client's own cost

ws-load runs one mio (epoll) loop per thread, writes every message from one request frame
masked once (ws-codec), decodes echoes with ws-codec's `Decoder` in client role and keeps
latency in a fixed log-linear histogram: no allocation per message. A `perf record` of
ws-load at 100x20 against fastwebsockets shows about 4 % of its CPU in its own code and
libc, about 90 % in the kernel's loopback TCP (`send` alone ~70 %: on loopback the sender
also runs the receiver's softirq). At one message in flight a client therefore costs about
as much CPU per message as the kernel side of any server, so against the fastest servers
the `client %` column reaches ~100 % before the server's does: msg/s then measures the
pair, while `server µs/msg` still measures the server. That column is the one to compare.
Under saturation a server batches more events per `epoll_wait`, so its µs/msg drops
somewhat as load rises: compare servers within one case, not across cases.

";

/// A server's colour in the chart: fixed per server, whichever subset ran.
fn colour(server: &str) -> &'static str {
    const COLOURS: [&str; 6] = [
        "#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b",
    ];
    let i = SERVERS.iter().position(|s| *s == server).unwrap_or(0);
    COLOURS[i % COLOURS.len()]
}

/// A horizontal bar chart of the median server CPU per message, one group per load case.
fn chart(o: &Options, results: &Results) -> String {
    let (bar, gap, left, width) = (14.0, 10.0, 150.0, 420.0);
    let cases: Vec<&Case> = o.cases.iter().filter(|c| !c.idle).collect();
    let value = |server: &str, case: &Case| {
        results
            .get(&(server.to_string(), case.name))
            .and_then(|r| median(r, "server_cpu_us_per_msg"))
    };
    let max = cases
        .iter()
        .flat_map(|c| o.servers.iter().filter_map(|s| value(s, c)))
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let group = bar * o.servers.len() as f64 + gap;
    let height = 40.0 + group * cases.len() as f64 + 20.0 * o.servers.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n\
         <text x=\"4\" y=\"16\" font-size=\"13\">Server CPU per echoed message (µs, lower is \
         better)</text>\n",
        left + width + 80.0
    );
    for (ci, case) in cases.iter().enumerate() {
        let y0 = 30.0 + group * ci as f64;
        svg.push_str(&format!(
            "<text x=\"4\" y=\"{}\">{}</text>\n",
            y0 + bar,
            case.name
        ));
        for (si, server) in o.servers.iter().enumerate() {
            let Some(v) = value(server, case) else {
                continue;
            };
            let y = y0 + bar * si as f64;
            let w = width * v / max;
            svg.push_str(&format!(
                "<rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{}\">{v:.2}</text>\n",
                bar - 2.0,
                colour(server),
                left + w + 4.0,
                y + bar - 4.0
            ));
        }
    }
    let ly = 30.0 + group * cases.len() as f64;
    for (si, server) in o.servers.iter().enumerate() {
        let y = ly + 20.0 * si as f64;
        svg.push_str(&format!(
            "<rect x=\"{left}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\">{server}</text>\n",
            colour(server),
            left + 18.0,
            y + 10.0
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// `ours` (ws-server's echo, or ws-tokio's) against each peer: msg/s (higher is better for
/// ours) and server CPU per message and RSS per connection (peer / ours: above 1 means ours
/// spends less).
fn ratios(o: &Options, results: &Results, ours: &str) -> String {
    let mut s = format!(
        "Ratios, `{ours}` against each peer (medians): `msg/s` ours/peer (above 1: ours \
         faster); `CPU/msg`, `RSS/conn` and `CPU/setup` peer/ours (above 1: ours cheaper); \
         `setups/s` ours/peer (above 1: ours faster).\n\n\
         | case | peer | msg/s | CPU/msg | RSS/conn | setups/s | CPU/setup |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for case in &o.cases {
        let get = |server: &str, key: &str| {
            results
                .get(&(server.to_string(), case.name))
                .and_then(|r| median(r, key))
        };
        for peer in o.servers.iter().filter(|p| *p != ours) {
            let ratio = |key: &str, ours_over_peer: bool| match (get(ours, key), get(peer, key)) {
                (Some(a), Some(b)) if a > 0.0 && b > 0.0 => {
                    format!("{:.2}", if ours_over_peer { a / b } else { b / a })
                }
                _ => "–".to_string(),
            };
            if case.idle {
                s.push_str(&format!(
                    "| {} | {peer} | – | – | {} | {} | {} |\n",
                    case.name,
                    ratio("rss_per_conn_echoed_bytes", false),
                    ratio("setup_conn_per_s", true),
                    ratio("setup_server_cpu_us_per_conn", false)
                ));
            } else {
                s.push_str(&format!(
                    "| {} | {peer} | {} | {} | – | – | – |\n",
                    case.name,
                    ratio("msg_per_s", true),
                    ratio("server_cpu_us_per_msg", false)
                ));
            }
        }
    }
    s.push('\n');
    s
}

const PROFILING: &str = "\
### Profiling a server

`cargo xtask bench --profile SERVER` (SERVER: ours or a peer) runs the server under
`perf record -e cpu-clock -g` pinned to core 0 while ws-load drives the 100x20 case (or the
first of `--cases`, e.g. `--cases 1000x20-rand`) from core 1, then prints `perf report` to target/bench/profile-SERVER.txt. Hardware counters
(`perf stat -e instructions`) are not supported in these VMs, so the sampling event is the
`cpu-clock` software timer. Without perf (`apt-get install -y linux-perf`), the same run
under callgrind:

```sh
cargo build --release -p ws-server --example echo -p ws-load
taskset -c 0 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
    target/release/examples/echo 127.0.0.1:9001 &
taskset -c 1 target/release/ws-load --addr 127.0.0.1:9001 --conns 100 --warmup 1 --duration 5
kill -INT %1; callgrind_annotate /tmp/cg.out | head -40
```
";

/// `perf record` on `server` during the 100x20 case; report written under target/bench.
fn profile(o: &Options, dirs: &Dirs, server: &str) -> Result<(), String> {
    let out_dir = dirs.target.join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let data = out_dir.join(format!("perf-{server}.data"));
    let report = out_dir.join(format!("profile-{server}.txt"));
    let addr = free_addr()?;
    let argv = dirs.server_cmd(server, &addr, o);
    let wrap = vec![
        "perf".to_string(),
        "record".into(),
        "-e".into(),
        "cpu-clock".into(),
        "-F".into(),
        "1999".into(),
        "-g".into(),
        "-o".into(),
        data.display().to_string(),
        "--".into(),
    ];
    let mut srv = start_server(argv, Some(wrap))?;
    let case = match o.cases.as_slice() {
        [one, ..] if o.cases.len() < CASES.len() => one,
        _ => CASES
            .iter()
            .find(|c| c.name == "100x20")
            .ok_or("no 100x20 case")?,
    };
    // The pid given is perf's: its CPU is not the server's, so the CPU figures of this
    // run are not reported; the profile is the result.
    let args = load_args(o, case, server, &srv.addr, srv.child.id());
    let json = client(
        dirs,
        &args,
        Duration::from_secs_f64(o.warmup + o.duration + CLIENT_SLACK),
    )?;
    println!(
        "profile load: {:.0} msg/s, p99 {:.0} us, errors {}",
        json["msg_per_s"].as_f64().unwrap_or(f64::NAN),
        json["latency_p99_us"].as_f64().unwrap_or(f64::NAN),
        json["errors"]
    );
    // perf writes its data on SIGINT; the pid is our own child's.
    let _ = Command::new("kill")
        .args(["-INT", &srv.child.id().to_string()])
        .status();
    let _ = srv.child.wait();
    let out = Command::new("perf")
        .args([
            "report",
            "--no-children",
            "--percent-limit",
            "0.5",
            "--stdio",
            "-i",
        ])
        .arg(&data)
        .output()
        .map_err(|e| format!("perf report: {e}"))?;
    std::fs::write(&report, &out.stdout).map_err(|e| format!("{}: {e}", report.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .take(25)
    {
        println!("{line}");
    }
    println!("bench: full report in {}", report.display());
    Ok(())
}

/// CPU model, core count and kernel, from /proc.
pub(crate) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, m)| m.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, Linux {}", kernel.trim())
}

/// The 1-minute load average, from /proc/loadavg.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Today's date (UTC), `YYYY-MM-DD`.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil(secs / 86_400);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Replaces this command's section of docs/benchmarks.md (read just now), or appends it.
fn write_section(heading: &str, section: &str) -> Result<(), String> {
    let path = step::root().join("docs/benchmarks.md");
    let old = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "# Benchmarks\n".to_string(),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let new = splice(&old, heading, section);
    write(&path, &new)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `doc` with the `heading` section (e.g. `## Whole-server load`) replaced by `section`
/// (which starts with that heading), or with `section` appended when there is none. Other
/// sections are kept byte for byte; the section ends at the next level-2 heading.
fn splice(doc: &str, heading: &str, section: &str) -> String {
    let starts_line = |i: usize| i == 0 || doc.as_bytes()[i - 1] == b'\n';
    let found = doc
        .match_indices(heading)
        .map(|(i, _)| i)
        .find(|&i| starts_line(i) && doc[i + heading.len()..].starts_with(['\n', '\r']));
    let Some(start) = found else {
        let mut out = doc.trim_end().to_string();
        out.push_str("\n\n");
        out.push_str(section.trim_end());
        out.push('\n');
        return out;
    };
    let after = start + heading.len();
    let end = doc[after..]
        .match_indices("\n## ")
        .next()
        .map_or(doc.len(), |(i, _)| after + i + 1);
    let mut out = String::with_capacity(doc.len() + section.len());
    out.push_str(&doc[..start]);
    out.push_str(section.trim_end());
    out.push('\n');
    if end < doc.len() {
        out.push('\n');
        out.push_str(&doc[end..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn splice_replaces_only_its_section() {
        let doc = "# Benchmarks\n\n## Codec\n\ncodec text\n\n## Whole-server load\n\nold\n\n## Actors\n\nactor text\n";
        let out = splice(doc, SECTION, "## Whole-server load\n\nnew\n");
        assert_eq!(
            out,
            "# Benchmarks\n\n## Codec\n\ncodec text\n\n## Whole-server load\n\nnew\n\n## Actors\n\nactor text\n"
        );
    }

    #[test]
    fn splice_keeps_subsections_inside_and_handles_the_last_section() {
        let doc = "# B\n\n## Whole-server load\n\nold\n\n### Profiling\n\nx\n";
        assert_eq!(
            splice(doc, SECTION, "## Whole-server load\n\nnew\n"),
            "# B\n\n## Whole-server load\n\nnew\n"
        );
    }

    #[test]
    fn splice_appends_when_absent_and_ignores_lookalike_headings() {
        let doc = "# B\n\n## Whole-server load notes\n\nkeep\n";
        assert_eq!(
            splice(doc, SECTION, "## Whole-server load\n\nnew\n"),
            "# B\n\n## Whole-server load notes\n\nkeep\n\n## Whole-server load\n\nnew\n"
        );
    }

    #[test]
    fn median_of_odd_even_and_missing() {
        let runs: Vec<Value> = [3.0, 1.0, 2.0]
            .iter()
            .map(|v| serde_json::json!({ "x": v }))
            .collect();
        assert_eq!(median(&runs, "x"), Some(2.0));
        assert_eq!(median(&runs[..2], "x"), Some(2.0));
        let nulls = vec![serde_json::json!({ "x": null })];
        assert_eq!(median(&nulls, "x"), None);
    }

    #[test]
    fn chart_has_a_bar_per_measured_server_and_case() {
        let o = parse(&args(
            "--servers fastwebsockets,ours --cases 1x20,100x20,idle10k",
        ))
        .unwrap();
        let mut results = Results::new();
        for (server, case, v) in [
            ("ours", "1x20", 2.0),
            ("fastwebsockets", "1x20", 4.0),
            ("ours", "100x20", 1.0),
        ] {
            results
                .entry((server.to_string(), case))
                .or_default()
                .push(serde_json::json!({ "server_cpu_us_per_msg": v }));
        }
        let svg = chart(&o, &results);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        // Three bars plus two legend swatches; the largest value spans the full width.
        assert_eq!(svg.matches("<rect").count(), 5);
        assert!(svg.contains("width=\"420.0\""));
        assert!(svg.contains(">4.00<") && svg.contains(">1.00<"));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_723), (2024, 1, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
    }

    #[test]
    fn options_parse_and_reject() {
        let o = parse(&args(
            "--quick --servers fastwebsockets,ours --cases 1x20,idle10k",
        ))
        .unwrap();
        assert_eq!((o.reps, o.idle_conns), (1, Some(1000)));
        assert_eq!(o.servers, ["fastwebsockets", "ours"]);
        assert_eq!(
            o.cases.iter().map(|c| c.name).collect::<Vec<_>>(),
            ["1x20", "idle10k"]
        );
        assert!(parse(&args("--servers nginx"))
            .unwrap_err()
            .contains("unknown server"));
        assert!(parse(&args("--cases 2x2"))
            .unwrap_err()
            .contains("unknown case"));
        assert!(parse(&args("--reps 0")).is_err());
        assert!(parse(&args("--duration"))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(&args("--frob"))
            .unwrap_err()
            .contains("unknown option"));
    }

    #[test]
    fn tls_picks_its_servers_and_cases_and_refuses_the_others() {
        let o = parse(&args("--tls")).unwrap();
        assert_eq!(o.servers, ["ours", "fastwebsockets", "tokio-tungstenite"]);
        assert_eq!(
            o.cases.iter().map(|c| c.name).collect::<Vec<_>>(),
            ["100x20", "10x64k", "idle10k"]
        );
        assert!(o.write);
        assert!(parse(&args("--tls --servers ours-threads"))
            .unwrap_err()
            .contains("has no TLS"));
        assert!(parse(&args("--tls --compressed")).is_err());
    }

    #[test]
    fn load_args_for_idle_and_binary_cases() {
        let o = parse(&args("--quick")).unwrap();
        let idle = CASES.iter().find(|c| c.idle).unwrap();
        let a = load_args(&o, idle, "ours", "127.0.0.1:1", 7).join(" ");
        assert!(a.contains("--idle --duration 0 --conns 1000"), "{a}");
        let big = CASES.iter().find(|c| c.name == "10x64k").unwrap();
        let a = load_args(&o, big, "ours", "127.0.0.1:1", 7).join(" ");
        assert!(a.contains("--size 65536 --binary --conns 10"), "{a}");
    }

    #[test]
    fn ours_command_substitutes_the_address() {
        let d = Dirs {
            target: PathBuf::from("/t"),
            peers_target: PathBuf::from("/p"),
        };
        let cmds = [
            "--ours-cmd",
            "/bin/srv --listen {addr}",
            "--base-cmd",
            "/old/echo {addr}",
        ];
        let with = parse(&cmds.map(String::from)).unwrap();
        assert_eq!(
            d.server_cmd("ours", "127.0.0.1:5", &with),
            ["/bin/srv", "--listen", "127.0.0.1:5"]
        );
        assert_eq!(d.server_cmd(BASE, "a:1", &with), ["/old/echo", "a:1"]);
        let o = parse(&[]).unwrap();
        assert_eq!(
            d.server_cmd("ours", "a:1", &o),
            ["/t/release/examples/echo", "a:1"]
        );
        assert_eq!(
            d.server_cmd("ours-threads", "a:1", &o),
            [
                "env",
                "WS_BRIDGE=threads",
                "/t/release/examples/echo",
                "a:1"
            ]
        );
        assert_eq!(
            d.server_cmd("fastwebsockets", "a:1", &o),
            ["/p/release/fastwebsockets-echo", "a:1"]
        );
        assert_eq!(
            d.server_cmd("floor-epoll", "a:1", &o),
            ["/p/release/floor-epoll", "a:1"]
        );
    }

    #[test]
    fn floors_run_only_when_named() {
        assert!(FLOORS.iter().all(|f| !SERVERS.contains(f)));
        let o = parse(&args("--servers ours,floor-epoll,uring-echo")).unwrap();
        assert_eq!(o.servers, ["ours", "floor-epoll", "uring-echo"]);
        assert!(is_rust_peer("uring-echo"));
        assert!(parse(&args("--compressed --servers floor-epoll")).is_err());
    }
}
