//! `cargo xtask bench --scaling`: two workers on two cores (issue 17, "Scaling with
//! cores"). Every server runs on both cores (`taskset -c 0,1`) with two threads, and
//! ws-load runs on the same two cores with two threads: the same conditions for all, the
//! client sharing the cores as it would on a busy machine. Servers: ours (a poller per
//! worker, the default), ours-1poller (`WS_POLLERS=1`: both workers share one poller, the
//! shape before), fastwebsockets on tokio's multi-thread runtime
//! with two workers (`FWS_THREADS=2`). msg/s is the figure compared (the goal: ≥ 1.1x
//! fastwebsockets' at 1000x20); the server CPU per message shows what each message costs.
//! The client's CPU per message is shown too: with both cores busy, msg/s is about two
//! cores over the pair's CPU per message (server + client), so a server that makes the
//! client's side dearer loses msg/s as surely as one that costs more itself.

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
         | case | server | msg/s | server µs/msg | client CPU % | client µs/msg | pair µs/msg | msg/s vs fastwebsockets |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
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
            let runs = results
                .get(&(server, case.name))
                .map_or(&[][..], Vec::as_slice);
            let client = median_of(runs, client_us);
            let pair = median_of(runs, pair_us);
            s.push_str(&format!(
                "| {} | {server} | {} | {} | {} | {} | {} | {} |\n",
                case.name,
                fmt(rate, 0),
                fmt(get(server, "server_cpu_us_per_msg"), 2),
                fmt(get(server, "client_cpu_pct"), 0),
                fmt(client, 2),
                fmt(pair, 2),
                fmt(ratio, 2),
            ));
        }
    }
    s
}

/// The client's CPU per message of one run, in µs (ws-load reports its CPU as a percentage
/// of one core over the window).
fn client_us(j: &Value) -> Option<f64> {
    let pct = j["client_cpu_pct"].as_f64()?;
    let rate = j["msg_per_s"].as_f64().filter(|r| *r > 0.0)?;
    Some(pct / 100.0 * 1e6 / rate)
}

/// Server and client CPU per message of one run, in µs: with both cores busy, msg/s is
/// about 2 000 000 over this.
fn pair_us(j: &Value) -> Option<f64> {
    Some(j["server_cpu_us_per_msg"].as_f64()? + client_us(j)?)
}

/// The median of `f` over the runs where it has a value.
fn median_of(runs: &[Value], f: impl Fn(&Value) -> Option<f64>) -> Option<f64> {
    // As one-field objects, so the bench's one median serves.
    let values: Vec<Value> = runs
        .iter()
        .filter_map(|j| f(j).map(|v| serde_json::json!({ "v": v })))
        .collect();
    median(&values, "v")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_cost_per_message_from_its_cpu_share() {
        // 90 % of a core over 150 000 msg/s: 6 µs a message.
        let j = json!({ "client_cpu_pct": 90.0, "msg_per_s": 150000.0 });
        assert!((client_us(&j).unwrap() - 6.0).abs() < 1e-9);
        assert_eq!(
            client_us(&json!({ "client_cpu_pct": 90.0, "msg_per_s": 0.0 })),
            None
        );
        assert_eq!(client_us(&json!({ "msg_per_s": 10.0 })), None);
    }

    #[test]
    fn pair_median_skips_runs_without_figures() {
        let runs = [
            json!({ "server_cpu_us_per_msg": 7.0, "client_cpu_pct": 90.0, "msg_per_s": 150000.0 }),
            json!({ "server_cpu_us_per_msg": 8.0, "client_cpu_pct": 60.0, "msg_per_s": 100000.0 }),
            json!({ "server_cpu_us_per_msg": 9.0 }),
        ];
        let pair = median_of(&runs, pair_us);
        assert!((pair.unwrap() - 13.5).abs() < 1e-9, "{pair:?}");
    }
}
