//! `cargo xtask bench --scaling`: two workers on two cores (issue 17, "Scaling with
//! cores"). Every server runs on both cores (`taskset -c 0,1`) with two threads, and
//! ws-load runs on the same two cores with two threads: the same conditions for all, the
//! client sharing the cores as it would on a busy machine. Servers: ours (a poller per
//! worker, the default), ours-1poller (`WS_POLLERS=1`: both workers share one poller, the
//! shape before), fastwebsockets on tokio's multi-thread runtime
//! with two workers (`FWS_THREADS=2`). msg/s is the figure compared (the goal: ≥ 1.1x
//! fastwebsockets' at 1000x20); the server CPU per message shows what each message costs.

use super::{
    client_on, fmt, free_addr, load_args, median, parse, start_server, summary, write_section,
    Dirs, CASES,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const USAGE: &str = "\
usage: cargo xtask bench --scaling [--reps N] [--cases a,b] [--warmup S] [--duration S] [--no-write]

  servers ours, ours-1poller (WS_POLLERS=1), fastwebsockets (FWS_THREADS=2), each on
  cores 0,1; ws-load --threads 2 on cores 0,1; cases 1000x20, 100x20 by default;
  writes `## Scaling with cores` in docs/benchmarks.md unless --no-write
";

/// The section of docs/benchmarks.md this mode owns.
const SECTION: &str = "## Scaling with cores";

const SERVERS: &[&str] = &["ours", "ours-1poller", "fastwebsockets"];

/// The cores every process of this mode runs on, and the threads each uses.
const CORES: &str = "0,1";
const THREADS: usize = 2;

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    // The usual options, minus the ones this mode sets itself.
    let mut o = parse(args).map_err(|e| format!("{e}\n\n{USAGE}"))?;
    if !args.iter().any(|a| a == "--cases") {
        o.cases = ["1000x20", "100x20"]
            .iter()
            .filter_map(|n| CASES.iter().find(|c| c.name == *n).copied())
            .collect();
    }
    if o.cases.iter().any(|c| c.idle) || !o.servers.is_empty() || o.compressed || o.tls {
        return Err(format!("--scaling takes load cases only\n\n{USAGE}"));
    }
    o.servers = SERVERS.iter().map(|s| s.to_string()).collect();
    let dirs = Dirs::new();
    super::build(&o, &dirs)?;
    let load = super::loadavg();
    let mut results: BTreeMap<(&str, &str), Vec<Value>> = BTreeMap::new();
    let n = SERVERS.len();
    for rep in 0..o.reps {
        for case in &o.cases {
            for k in 0..n {
                let server = SERVERS[(k + rep) % n];
                let addr = free_addr()?;
                let (env, name) = match server {
                    "ours-1poller" => ("WS_POLLERS=1", "ours"),
                    "fastwebsockets" => ("FWS_THREADS=2", "fastwebsockets"),
                    _ => ("WS_POLLERS=2", "ours"),
                };
                // `taskset` and `env` exec the server: the pid measured is the server's.
                let mut wrap = ["taskset", "-c", CORES, "env"].map(String::from).to_vec();
                wrap.extend(env.split(' ').map(String::from));
                let srv = start_server(dirs.server_cmd(name, &addr, &o), Some(wrap))?;
                let mut args = load_args(&o, case, name, &srv.addr, srv.child.id());
                args.extend(["--threads".to_string(), THREADS.to_string()]);
                let limit = Duration::from_secs_f64(o.warmup + o.duration + 60.0);
                let json = client_on(CORES, &dirs, &args, limit)?;
                drop(srv);
                println!(
                    "rep {} {:<8} {:<15} {}",
                    rep + 1,
                    case.name,
                    server,
                    summary(case, &json)
                );
                results.entry((server, case.name)).or_default().push(json);
            }
        }
    }
    let section = render(&o, &results, args, &load);
    if o.write {
        write_section(SECTION, &section)?;
        println!("bench: wrote `{SECTION}` in docs/benchmarks.md");
    } else {
        print!("{section}");
    }
    Ok(())
}

fn render(
    o: &super::Options,
    results: &BTreeMap<(&str, &str), Vec<Value>>,
    args: &[String],
    load: &str,
) -> String {
    let mut s = format!(
        "{SECTION}\n\n- machine: {}\n- load average before the run (1 min): {load}\n\
         - command: `cargo xtask bench --scaling {}`\n- repetitions: {}, warm-up {} s, window {} s; \
         medians; every server and ws-load (`--threads {THREADS}`) on cores {CORES}\n\n\
         | case | server | msg/s | server µs/msg | client CPU % | msg/s vs fastwebsockets |\n\
         |---|---|---:|---:|---:|---:|\n",
        super::machine(),
        args.join(" "),
        o.reps,
        o.warmup,
        o.duration
    );
    for case in &o.cases {
        let get = |server: &str, key: &str| {
            results
                .get(&(server, case.name))
                .and_then(|runs| median(runs, key))
        };
        let peer = get("fastwebsockets", "msg_per_s");
        for server in SERVERS {
            let rate = get(server, "msg_per_s");
            let ratio = rate.zip(peer).map(|(a, b)| a / b);
            s.push_str(&format!(
                "| {} | {server} | {} | {} | {} | {} |\n",
                case.name,
                fmt(rate, 0),
                fmt(get(server, "server_cpu_us_per_msg"), 2),
                fmt(get(server, "client_cpu_pct"), 0),
                fmt(ratio, 2),
            ));
        }
    }
    s
}
