//! `cargo xtask autobahn`: the Autobahn|Testsuite fuzzing client against a server command, summarised.
//!
//! The suite (`autobahntestsuite` 25.10.1 with `autobahn` 0.10.9) is Python 2 code. It is
//! installed from PyPI into `.venv-autobahn/` with the pinned Python 3 libraries of
//! `xtask/autobahn/requirements.txt` and ported in place by `xtask/autobahn/port.py`; a
//! marker holding the versions and a hash of those two files makes the next run skip all
//! of it. The server under test is any command with `{addr}` in it; it is started in its
//! own process group on a free loopback port, and only that group is stopped.
//!
//! How a case is counted (from `index.json`; `behaviorClose` is the closing handshake):
//! - FAILED: `behavior` is FAILED (or anything unknown), or `behaviorClose` is FAILED or
//!   UNCLEAN (the suite's own report paints both red);
//! - NON-STRICT: `behavior` NON-STRICT, or OK with a close that was WRONG CODE or
//!   FAILED BY CLIENT (painted as non-strict / almost by the suite);
//! - INFORMATIONAL, UNIMPLEMENTED, OK: as the suite says.
//!
//! A planned case that is missing from the report counts as FAILED too.
//!
//! With `--tls` the same run goes over wss: a throwaway CA and certificate are made
//! (`certs.rs`), the server command gets `--tls-cert FILE --tls-key FILE` appended, and the
//! suite connects to `wss://` (Twisted's TLS: pyOpenSSL and service-identity, pinned in
//! `requirements.txt`; the suite's client does not verify the chain).

use crate::step;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The suite packages, installed with `--no-deps` (their own requirements are Python 2 pins).
const SUITE_PACKAGES: &[&str] = &["autobahntestsuite==25.10.1", "autobahn==0.10.9"];

/// The project's echo server; `{addr}` becomes `127.0.0.1:PORT`.
pub(crate) const DEFAULT_ECHO: &str = "cargo run --release -p ws-server --example echo -- {addr}";

/// Sections run by default, with the suite's names for them.
const SECTIONS: &[(&str, &str)] = &[
    ("1", "Framing"),
    ("2", "Pings/Pongs"),
    ("3", "Reserved Bits"),
    ("4", "Opcodes"),
    ("5", "Fragmentation"),
    ("6", "UTF-8 Handling"),
    ("7", "Close Handling"),
    ("9", "Limits/Performance"),
    ("10", "Misc"),
    ("12", "WebSocket Compression (different payloads)"),
    ("13", "WebSocket Compression (different parameters)"),
];

/// What `cargo xtask ci` runs: sections 1–7, 9 and 10 whole, and of the compression
/// sections the cases with the six smallest payloads of each group (72 of 216: every
/// parameter combination of section 13, in 30 s). The suite's own Python compresses
/// 1000 messages of up to 128 KiB per case, so all of 12 and 13 take about 25 minutes:
/// `cargo xtask autobahn --strict` runs them.
pub(crate) const CI_CASES: &str = "1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.*.[1-6]$,13.*.[1-6]$";

/// What `cargo xtask ci` runs over wss (`--tls`): sections 1–7, 9 and 10, where TLS
/// changes how bytes arrive (records split and join frames); compression is the same
/// code above or below TLS.
pub(crate) const CI_WSS_CASES: &str = "1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*";

/// Sections left out on purpose (none since permessage-deflate landed; the
/// machinery stays for the next extension).
const EXCLUDED: &[(&str, &str)] = &[];

/// Cases the `websockets` library fails by its own choice, with the reason.
const KNOWN_WEBSOCKETS_FAILURES: &[(&str, &str)] = &[(
    "7.1.5",
    "a close frame arriving between the fragments of a message is answered with 1002 \
     \"incomplete fragmented message\" (websockets/protocol.py, recv_frame) instead of \
     1000; RFC 6455 §5.4 lets control frames be injected between fragments, so the suite \
     expects a normal close",
)];

/// The sloppy server must fail at least this many cases, and some in each of these sections.
const SLOPPY_MIN_FAILED: usize = 100;
const SLOPPY_FAILING_SECTIONS: &[&str] = &["2", "3", "4", "5", "6", "7"];

const USAGE: &str = "\
usage: cargo xtask autobahn [--server CMD] [--agent NAME] [--out FILE] [--strict] [--tls]
                            [--cases PATTERNS] [--timeout SECS] [--startup-timeout SECS]
       cargo xtask autobahn --verify

  --server CMD      server command, `{addr}` is replaced by 127.0.0.1:PORT
                    (default: cargo run --release -p ws-server --example echo -- {addr},
                    whose summary goes to docs/conformance.md)
  --agent NAME      name of the server in the reports (default: echo, or `custom`)
  --out FILE        write the markdown summary there (default for --server: none)
  --strict          fail on NON-STRICT cases too, not only on FAILED
  --tls             over wss: a throwaway certificate, `--tls-cert FILE --tls-key FILE`
                    appended to the server command (agent `echo-wss`, no summary file
                    unless --out)
  --cases PATTERNS  comma-separated case patterns (default: 1.*,...,7.*,9.*,10.*)
  --timeout SECS    limit for the whole suite run (default 900)
  --startup-timeout SECS  limit for the server to accept connections (default 900)
  --verify          prove the harness: the sloppy server must fail many cases,
                    the websockets library's echo server none but a listed few;
                    summaries go to target/autobahn/verify-*.md (or --out DIR)
";

/// `cargo xtask autobahn ...`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let opts = Options::parse(args)?;
    if opts.help {
        print!("{USAGE}");
        return Ok(());
    }
    if opts.verify && opts.tls {
        return Err("--verify runs the stand-ins, which speak no TLS: drop --tls".into());
    }
    if opts.verify {
        return verify(&opts);
    }
    let venv = ensure_suite()?;
    let (template, agent, out) = match &opts.server {
        Some(cmd) => (
            cmd.clone(),
            opts.agent.clone().unwrap_or_else(|| "custom".into()),
            opts.out.clone(),
        ),
        None if opts.tls => (
            DEFAULT_ECHO.to_string(),
            opts.agent.clone().unwrap_or_else(|| "echo-wss".into()),
            opts.out.clone(),
        ),
        None => (
            DEFAULT_ECHO.to_string(),
            opts.agent.clone().unwrap_or_else(|| "echo".into()),
            Some(
                opts.out
                    .clone()
                    .unwrap_or_else(|| step::root().join("docs/conformance.md")),
            ),
        ),
    };
    let run = run_suite(&venv, &template, &agent, &opts)?;
    let md = run.markdown(&invocation(args), &[]);
    write_summary(&run, &md, out.as_deref())?;
    run.print();
    run.verdict(opts.strict, &[])
}

/// Parsed command line.
#[derive(Debug, Default)]
struct Options {
    server: Option<String>,
    agent: Option<String>,
    out: Option<PathBuf>,
    strict: bool,
    tls: bool,
    verify: bool,
    help: bool,
    cases: Vec<String>,
    timeout: Duration,
    startup: Duration,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            timeout: Duration::from_secs(900),
            startup: Duration::from_secs(900),
            cases: SECTIONS.iter().map(|(s, _)| format!("{s}.*")).collect(),
            ..Options::default()
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
            };
            match a.as_str() {
                "--server" => o.server = Some(value("--server")?),
                "--agent" => o.agent = Some(value("--agent")?),
                "--out" => o.out = Some(PathBuf::from(value("--out")?)),
                "--cases" => {
                    o.cases = value("--cases")?
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                }
                "--timeout" => o.timeout = secs(&value("--timeout")?)?,
                "--startup-timeout" => o.startup = secs(&value("--startup-timeout")?)?,
                "--strict" => o.strict = true,
                "--tls" => o.tls = true,
                "--verify" => o.verify = true,
                "-h" | "--help" => o.help = true,
                other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
            }
        }
        if let Some(cmd) = &o.server {
            if !cmd.contains("{addr}") {
                return Err(format!("--server command must contain {{addr}}: `{cmd}`"));
            }
        }
        if o.cases.is_empty() {
            return Err("--cases names no case".into());
        }
        Ok(o)
    }
}

fn secs(s: &str) -> Result<Duration, String> {
    s.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("expected whole seconds, got `{s}`"))
}

fn invocation(args: &[String]) -> String {
    let mut s = String::from("cargo xtask autobahn");
    for a in args {
        if a.contains(' ') || a.is_empty() {
            let _ = write!(s, " \"{a}\"");
        } else {
            let _ = write!(s, " {a}");
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// Verification against the stand-ins.

fn verify(opts: &Options) -> Result<(), String> {
    let venv = ensure_suite()?;
    let ws = ensure_websockets()?;
    let root = step::root();
    let py = ws.python();
    let sloppy_cmd = format!(
        "{} {} {{addr}}",
        py.display(),
        root.join("xtask/autobahn/sloppy_server.py").display()
    );
    let ws_cmd = format!(
        "{} {} {{addr}}",
        py.display(),
        root.join("xtask/autobahn/ws_echo.py").display()
    );
    let started = Instant::now();
    let sloppy = run_suite(&venv, &sloppy_cmd, "sloppy", opts)?;
    let websockets = run_suite(&venv, &ws_cmd, "websockets", opts)?;
    let cmd = "cargo xtask autobahn --verify";
    for (r, known) in [(&sloppy, &[][..]), (&websockets, KNOWN_WEBSOCKETS_FAILURES)] {
        let md = r.markdown(cmd, known);
        let path = match &opts.out {
            Some(dir) => dir.join(format!("verify-{}.md", r.agent)),
            None => target_dir().join(format!("autobahn/verify-{}.md", r.agent)),
        };
        write_summary(r, &md, Some(&path))?;
        r.print();
    }

    let mut problems = Vec::new();
    let failed = sloppy.ids_with(Status::Failed);
    if failed.len() < SLOPPY_MIN_FAILED {
        problems.push(format!(
            "sloppy server: only {} FAILED cases, expected at least {SLOPPY_MIN_FAILED}",
            failed.len()
        ));
    }
    for section in SLOPPY_FAILING_SECTIONS {
        if !failed.iter().any(|id| section_of(id) == *section) {
            problems.push(format!(
                "sloppy server: no FAILED case in section {section}"
            ));
        }
    }
    for r in [&sloppy, &websockets] {
        if !r.missing.is_empty() {
            problems.push(format!(
                "{}: cases missing from the report: {:?}",
                r.agent, r.missing
            ));
        }
    }
    let ws_failed = websockets.ids_with(Status::Failed);
    for id in &ws_failed {
        if !KNOWN_WEBSOCKETS_FAILURES.iter().any(|(k, _)| k == id) {
            problems.push(format!(
                "websockets: case {id} FAILED and is not a known failure"
            ));
        }
    }
    println!("\nautobahn --verify:");
    println!(
        "  sloppy:     {} FAILED of {} (at least {SLOPPY_MIN_FAILED} required), {:.0}s",
        failed.len(),
        sloppy.cases.len(),
        sloppy.took.as_secs_f64()
    );
    println!(
        "  websockets: {} FAILED of {} ({:?}), {:.0}s",
        ws_failed.len(),
        websockets.cases.len(),
        ws_failed,
        websockets.took.as_secs_f64()
    );
    for (id, why) in KNOWN_WEBSOCKETS_FAILURES {
        let state = if ws_failed.contains(&id.to_string()) {
            "failed, as known"
        } else {
            "passed (no longer a known failure?)"
        };
        println!("  known websockets failure {id}: {state}: {why}");
    }
    println!("  both runs took {:.0}s", started.elapsed().as_secs_f64());
    if problems.is_empty() {
        println!("autobahn --verify: the harness tells a sloppy server from a good one");
        Ok(())
    } else {
        Err(format!(
            "harness verification failed:\n  {}",
            problems.join("\n  ")
        ))
    }
}

// ---------------------------------------------------------------------------------------
// One suite run.

/// The outcome of one `wstest -m fuzzingclient` run.
#[derive(Debug)]
struct Run {
    agent: String,
    server: String,
    cases: Vec<CaseResult>,
    missing: Vec<String>,
    took: Duration,
    reports: PathBuf,
}

#[derive(Debug, Clone)]
struct CaseResult {
    id: String,
    status: Status,
    behavior: String,
    behavior_close: String,
    close_code: Option<i64>,
    duration_ms: u64,
    result: String,
}

/// The five columns of the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    NonStrict,
    Informational,
    Unimplemented,
    Failed,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::NonStrict => "NON-STRICT",
            Status::Informational => "INFORMATIONAL",
            Status::Unimplemented => "UNIMPLEMENTED",
            Status::Failed => "FAILED",
        }
    }

    fn index(self) -> usize {
        match self {
            Status::Ok => 0,
            Status::NonStrict => 1,
            Status::Informational => 2,
            Status::Unimplemented => 3,
            Status::Failed => 4,
        }
    }
}

/// The summary status of a case from the suite's two verdicts (see the module docs).
fn classify(behavior: &str, behavior_close: &str) -> Status {
    if matches!(behavior_close, "FAILED" | "UNCLEAN") {
        return Status::Failed;
    }
    match behavior {
        "UNIMPLEMENTED" => Status::Unimplemented,
        "INFORMATIONAL" => Status::Informational,
        "NON-STRICT" => Status::NonStrict,
        "OK" => match behavior_close {
            "OK" | "INFORMATIONAL" => Status::Ok,
            "WRONG CODE" | "FAILED BY CLIENT" => Status::NonStrict,
            _ => Status::Failed,
        },
        _ => Status::Failed,
    }
}

fn section_of(id: &str) -> &str {
    id.split('.').next().unwrap_or(id)
}

fn id_key(id: &str) -> Vec<u32> {
    id.split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

/// The generated spec for `wstest -m fuzzingclient`.
fn spec(outdir: &Path, agent: &str, url: &str, cases: &[String]) -> Value {
    json!({
        "outdir": outdir.display().to_string(),
        "servers": [{ "agent": agent, "url": url }],
        "cases": cases,
        "exclude-cases": EXCLUDED.iter().map(|(s, _)| format!("{s}.*")).collect::<Vec<_>>(),
        "exclude-agent-cases": {},
        "options": {},
    })
}

fn run_suite(venv: &Venv, template: &str, agent: &str, opts: &Options) -> Result<Run, String> {
    let dir = target_dir().join("autobahn").join(agent);
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let reports = dir.join("reports");
    fs::create_dir_all(&reports).map_err(|e| format!("{}: {e}", reports.display()))?;
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let spec_path = dir.join("spec.json");
    let url = format!("{}://{addr}", if opts.tls { "wss" } else { "ws" });
    let spec = spec(&reports, agent, &url, &opts.cases);
    fs::write(
        &spec_path,
        serde_json::to_string_pretty(&spec).expect("spec serialises"),
    )
    .map_err(|e| format!("{}: {e}", spec_path.display()))?;

    let mut command = template.replace("{addr}", &addr.to_string());
    if opts.tls {
        let certs = crate::certs::make(&dir.join("tls"))?;
        let _ = write!(
            command,
            " --tls-cert {} --tls-key {}",
            certs.cert.display(),
            certs.key.display()
        );
    }
    println!("==> autobahn [{agent}]: starting `{command}`");
    let mut server = Server::start(agent, &command, &dir.join("server.log"))?;
    server.wait_ready(addr, opts.startup)?;

    println!(
        "==> autobahn [{agent}]: wstest -m fuzzingclient on {url}, cases {} (excluded: {})",
        opts.cases.join(","),
        EXCLUDED
            .iter()
            .map(|(s, _)| format!("{s}.*"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let log = dir.join("wstest.log");
    let mut cmd = Command::new(venv.bin("wstest"));
    cmd.args(["-m", "fuzzingclient", "-s"])
        .arg(&spec_path)
        .current_dir(&dir);
    let started = Instant::now();
    let status = run_logged(cmd, &log, opts.timeout, progress_every(25));
    let took = started.elapsed();
    let server_alive = server.is_running();
    server.stop();
    let status = status?;
    println!(
        "<== autobahn [{agent}]: wstest {status} after {:.1}s",
        took.as_secs_f64()
    );
    if !server_alive {
        println!(
            "    note: the server had exited before the suite finished (see {})",
            server.log.display()
        );
    }
    let log_text = fs::read_to_string(&log).unwrap_or_default();
    let planned = planned_cases(&log_text).ok_or_else(|| {
        format!(
            "wstest did not list its cases (it failed to start?); see {}:\n{}",
            log.display(),
            tail(&log_text, 30)
        )
    })?;
    let index = reports.join("index.json");
    let index_text = fs::read_to_string(&index).map_err(|e| {
        format!(
            "{}: {e}; wstest wrote no report; see {}:\n{}",
            index.display(),
            log.display(),
            tail(&log_text, 30)
        )
    })?;
    let (cases, missing) = read_index(&index_text, agent, &planned, &reports)?;
    Ok(Run {
        agent: agent.to_string(),
        server: command,
        cases,
        missing,
        took,
        reports,
    })
}

/// The case ids wstest announced (`Cases = ['1.1.1', ...]`).
fn planned_cases(log: &str) -> Option<Vec<String>> {
    let line = log.lines().find(|l| l.starts_with("Cases = ["))?;
    Some(
        line.split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    )
}

/// Reads `index.json` (and, for cases that are not OK, their own reports for the reason).
fn read_index(
    text: &str,
    agent: &str,
    planned: &[String],
    reports: &Path,
) -> Result<(Vec<CaseResult>, Vec<String>), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("index.json: {e}"))?;
    let per_case = v
        .get(agent)
        .and_then(Value::as_object)
        .ok_or_else(|| format!("index.json has no results for agent `{agent}`"))?;
    let mut cases = Vec::new();
    for (id, c) in per_case {
        let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
        let behavior = s("behavior");
        let behavior_close = s("behaviorClose");
        let status = classify(&behavior, &behavior_close);
        let mut result = String::new();
        if status != Status::Ok {
            let file = reports.join(s("reportfile"));
            if let Ok(detail) = fs::read_to_string(&file) {
                if let Ok(d) = serde_json::from_str::<Value>(&detail) {
                    let r = d.get("result").and_then(Value::as_str).unwrap_or("");
                    let rc = d.get("resultClose").and_then(Value::as_str).unwrap_or("");
                    result = if rc.is_empty() || rc == r {
                        r.to_string()
                    } else {
                        format!("{r} / {rc}")
                    };
                }
            }
        }
        cases.push(CaseResult {
            id: id.clone(),
            status,
            behavior,
            behavior_close,
            close_code: c.get("remoteCloseCode").and_then(Value::as_i64),
            duration_ms: c.get("duration").and_then(Value::as_u64).unwrap_or(0),
            result,
        });
    }
    cases.sort_by_key(|c| id_key(&c.id));
    let missing = planned
        .iter()
        .filter(|p| !per_case.contains_key(p.as_str()))
        .cloned()
        .collect();
    Ok((cases, missing))
}

impl Run {
    fn ids_with(&self, status: Status) -> Vec<String> {
        let mut ids: Vec<String> = self
            .cases
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.id.clone())
            .collect();
        if status == Status::Failed {
            ids.extend(self.missing.iter().cloned());
        }
        ids
    }

    /// Counts per section, in SECTIONS order, then any other section seen.
    fn per_section(&self) -> Vec<(String, String, [usize; 5])> {
        let mut map: BTreeMap<Vec<u32>, (String, [usize; 5])> = BTreeMap::new();
        for c in &self.cases {
            let s = section_of(&c.id).to_string();
            map.entry(id_key(&s)).or_insert((s, [0; 5])).1[c.status.index()] += 1;
        }
        for m in &self.missing {
            let s = section_of(m).to_string();
            map.entry(id_key(&s)).or_insert((s, [0; 5])).1[Status::Failed.index()] += 1;
        }
        map.into_values()
            .map(|(s, counts)| {
                let name = SECTIONS
                    .iter()
                    .find(|(n, _)| *n == s)
                    .map(|(_, name)| name.to_string())
                    .unwrap_or_default();
                (s, name, counts)
            })
            .collect()
    }

    fn totals(&self) -> [usize; 5] {
        let mut t = [0; 5];
        for (_, _, c) in self.per_section() {
            for i in 0..5 {
                t[i] += c[i];
            }
        }
        t
    }

    fn print(&self) {
        println!("\nautobahn summary for `{}` ({}):", self.agent, self.server);
        println!(
            "  {:<8} {:<20} {:>5} {:>10} {:>13} {:>13} {:>6}",
            "section", "", "OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"
        );
        let row = |s: &str, n: &str, c: [usize; 5]| {
            println!(
                "  {:<8} {:<20} {:>5} {:>10} {:>13} {:>13} {:>6}",
                s, n, c[0], c[1], c[2], c[3], c[4]
            )
        };
        for (s, n, c) in self.per_section() {
            row(&s, &n, c);
        }
        row("all", "", self.totals());
        for (s, n) in EXCLUDED {
            println!("  {s:<8} {n}: excluded (compression, a later issue)");
        }
        let failed = self.ids_with(Status::Failed);
        const SHOWN: usize = 20;
        for id in failed.iter().take(SHOWN) {
            let why = self
                .cases
                .iter()
                .find(|c| &c.id == id)
                .map(|c| format!("{} / close {}: {}", c.behavior, c.behavior_close, c.result))
                .unwrap_or_else(|| "missing from the report".into());
            println!("  FAILED {id}: {why}");
        }
        if failed.len() > SHOWN {
            println!(
                "  ... and {} more FAILED cases (all of them are in the markdown summary)",
                failed.len() - SHOWN
            );
        }
        println!(
            "  run took {:.1}s; HTML report: {}",
            self.took.as_secs_f64(),
            self.reports.join("index.html").display()
        );
    }

    fn verdict(&self, strict: bool, known: &[(&str, &str)]) -> Result<(), String> {
        let failed: Vec<String> = self
            .ids_with(Status::Failed)
            .into_iter()
            .filter(|id| !known.iter().any(|(k, _)| k == id))
            .collect();
        let non_strict = self.ids_with(Status::NonStrict);
        if !failed.is_empty() {
            return Err(format!(
                "{} FAILED case(s): {}",
                failed.len(),
                failed.join(", ")
            ));
        }
        if strict && !non_strict.is_empty() {
            return Err(format!(
                "--strict: {} NON-STRICT case(s): {}",
                non_strict.len(),
                non_strict.join(", ")
            ));
        }
        Ok(())
    }

    /// The markdown summary: `command` is how it was produced; `known` are expected failures.
    fn markdown(&self, command: &str, known: &[(&str, &str)]) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# WebSocket conformance: Autobahn|Testsuite against `{}`\n",
            self.agent
        );
        let _ = writeln!(
            md,
            "Generated by `{command}` on {} (UTC). Do not edit by hand: run the command again.\n",
            utc_now()
        );
        let _ = writeln!(md, "- Server command: `{}`", self.server);
        // The echo example picks its bridge from WS_BRIDGE (ws-server's default when unset).
        let bridge = std::env::var("WS_BRIDGE").map_or_else(
            |_| "unset (ws-server's default bridge)".to_string(),
            |b| format!("`{b}`"),
        );
        let _ = writeln!(md, "- WS_BRIDGE: {bridge}");
        let _ = writeln!(
            md,
            "- Suite: autobahntestsuite 25.10.1 with autobahn 0.10.9, ported to Python 3 by \
             `xtask/autobahn/port.py`; mode `fuzzingclient` (the suite is the client)"
        );
        let planned = self.cases.len() + self.missing.len();
        let _ = writeln!(
            md,
            "- Cases run: {planned}; the run took {:.0} s",
            self.took.as_secs_f64()
        );
        for (s, n) in EXCLUDED {
            let _ = writeln!(
                md,
                "- Excluded: section {s}, {n} (permessage-deflate, a later issue)"
            );
        }
        let _ = writeln!(
            md,
            "- Counting: FAILED when the case or its closing handshake (`behaviorClose`) \
             failed or was unclean; NON-STRICT also covers a wrong close code or a close \
             left to the client\n"
        );
        let _ = writeln!(
            md,
            "| Section | Name | OK | NON-STRICT | INFORMATIONAL | UNIMPLEMENTED | FAILED |"
        );
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|");
        for (s, n, c) in self.per_section() {
            let _ = writeln!(
                md,
                "| {s} | {n} | {} | {} | {} | {} | {} |",
                c[0], c[1], c[2], c[3], c[4]
            );
        }
        let t = self.totals();
        let _ = writeln!(
            md,
            "| **all** | | **{}** | **{}** | **{}** | **{}** | **{}** |",
            t[0], t[1], t[2], t[3], t[4]
        );
        for status in [Status::Failed, Status::NonStrict] {
            let rows: Vec<&CaseResult> = self.cases.iter().filter(|c| c.status == status).collect();
            if rows.is_empty() && (status != Status::Failed || self.missing.is_empty()) {
                continue;
            }
            let _ = writeln!(md, "\n## {} cases\n", status.name());
            let _ = writeln!(
                md,
                "| Case | behavior | behaviorClose | close code | result |"
            );
            let _ = writeln!(md, "|---|---|---|---|---|");
            for c in rows {
                let mut result = c.result.replace('|', "\\|");
                if let Some((_, why)) = known.iter().find(|(k, _)| *k == c.id) {
                    let _ = write!(result, " **Known failure:** {why}");
                }
                let code = c
                    .close_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into());
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {code} | {result} |",
                    c.id, c.behavior, c.behavior_close
                );
            }
            if status == Status::Failed {
                for m in &self.missing {
                    let _ = writeln!(md, "| {m} | - | - | - | missing from the report |");
                }
            }
        }
        let slowest: Vec<&CaseResult> = {
            let mut v: Vec<&CaseResult> = self.cases.iter().collect();
            v.sort_by_key(|c| std::cmp::Reverse(c.duration_ms));
            v.into_iter().take(5).collect()
        };
        if !slowest.is_empty() {
            let _ = writeln!(md, "\n## Slowest cases\n");
            for c in slowest {
                let _ = writeln!(md, "- {}: {} ms", c.id, c.duration_ms);
            }
        }
        md
    }
}

fn write_summary(run: &Run, md: &str, out: Option<&Path>) -> Result<(), String> {
    let own = run
        .reports
        .parent()
        .unwrap_or(&run.reports)
        .join("summary.md");
    fs::write(&own, md).map_err(|e| format!("{}: {e}", own.display()))?;
    if let Some(out) = out {
        if let Some(dir) = out.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        fs::write(out, md).map_err(|e| format!("{}: {e}", out.display()))?;
        println!(
            "==> autobahn [{}]: summary written to {}",
            run.agent,
            out.display()
        );
    }
    Ok(())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn progress_every(n: usize) -> impl FnMut(&str) {
    let mut seen = 0usize;
    move |line: &str| {
        if line.starts_with("Running test case ID ") {
            seen += 1;
            if seen % n == 1 || n == 1 {
                let id = line.split_whitespace().nth(4).unwrap_or("?");
                println!("    ... case {id} (#{seen})");
            }
        } else if line.starts_with("Ok, will run ") {
            println!("    {line}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shared machinery (also used by `cargo xtask interop`): virtualenvs, processes, ports.

/// Where build output and run artefacts go: `$CARGO_TARGET_DIR`, else `target/`.
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let p = PathBuf::from(d);
            if p.is_absolute() {
                p
            } else {
                step::root().join(p)
            }
        }
        _ => step::root().join("target"),
    }
}

/// A Python virtualenv made by xtask.
#[derive(Debug, Clone)]
pub(crate) struct Venv {
    dir: PathBuf,
}

impl Venv {
    pub(crate) fn python(&self) -> PathBuf {
        self.bin("python")
    }

    pub(crate) fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }
}

/// Limit for one install step (pip, npm, apt-get): generous, but never forever.
pub(crate) const INSTALL_LIMIT: Duration = Duration::from_secs(900);

/// The Python that makes the virtualenvs: `$XTASK_PYTHON`, else `python3`.
fn base_python() -> String {
    std::env::var("XTASK_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Makes `dir` a virtualenv holding `requirements` (pinned files) and then `no_deps`
/// packages, then runs `post` scripts with its Python. Skipped when the marker in the
/// virtualenv matches; otherwise the virtualenv is made anew, so no half-install lingers.
pub(crate) fn ensure_venv(
    name: &str,
    dir: &Path,
    requirements: &[PathBuf],
    no_deps: &[&str],
    post: &[PathBuf],
) -> Result<Venv, String> {
    let venv = Venv {
        dir: dir.to_path_buf(),
    };
    let mut stamp = format!("python: {}\n", python_version()?);
    for p in no_deps {
        let _ = writeln!(stamp, "no-deps: {p}");
    }
    for f in requirements.iter().chain(post) {
        let bytes = fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let rel = f.strip_prefix(step::root()).unwrap_or(f);
        let _ = writeln!(stamp, "{}: fnv1a64 {:016x}", rel.display(), fnv1a64(&bytes));
    }
    let marker = dir.join(".xtask-installed");
    if fs::read_to_string(&marker).ok().as_deref() == Some(stamp.as_str()) && venv.python().exists()
    {
        println!("==> {name}: cached in {} (marker matches)", dir.display());
        return Ok(venv);
    }
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut mk = Command::new(base_python());
    mk.args(["-m", "venv"]).arg(dir);
    run_step(&format!("{name}: create virtualenv"), mk, Duration::from_secs(120)).map_err(
        |e| format!("{e}\n(a Debian Python needs `apt-get install python3-venv`; XTASK_PYTHON picks another Python)"),
    )?;
    for r in requirements {
        let mut pip = Command::new(venv.python());
        pip.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
        ])
        .arg(r);
        run_step(
            &format!("{name}: pip install -r {}", r.display()),
            pip,
            INSTALL_LIMIT,
        )?;
    }
    if !no_deps.is_empty() {
        let mut pip = Command::new(venv.python());
        pip.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "--no-deps",
        ])
        .args(no_deps);
        run_step(
            &format!("{name}: pip install --no-deps {}", no_deps.join(" ")),
            pip,
            INSTALL_LIMIT,
        )?;
    }
    for script in post {
        let mut py = Command::new(venv.python());
        py.arg(script);
        run_step(&format!("{name}: {}", script.display()), py, INSTALL_LIMIT)?;
    }
    fs::write(&marker, &stamp).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(venv)
}

fn python_version() -> Result<String, String> {
    let out = Command::new(base_python())
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "cannot run {}: {e} (set XTASK_PYTHON to a Python 3)",
                base_python()
            )
        })?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !v.starts_with("Python 3.") {
        return Err(format!("{} is not a Python 3: `{v}`", base_python()));
    }
    Ok(v)
}

/// The ported suite in `.venv-autobahn/`.
fn ensure_suite() -> Result<Venv, String> {
    let root = step::root();
    ensure_venv(
        "autobahn suite",
        &root.join(".venv-autobahn"),
        &[root.join("xtask/autobahn/requirements.txt")],
        SUITE_PACKAGES,
        &[root.join("xtask/autobahn/port.py")],
    )
}

/// The Python of `.venv-websockets/` (made by [`ensure_websockets`]).
pub(crate) fn websockets_python() -> PathBuf {
    step::root().join(".venv-websockets/bin/python")
}

/// The `websockets` library in `.venv-websockets/`.
pub(crate) fn ensure_websockets() -> Result<Venv, String> {
    let root = step::root();
    ensure_venv(
        "websockets",
        &root.join(".venv-websockets"),
        &[root.join("xtask/autobahn/requirements-websockets.txt")],
        &[],
        &[],
    )
}

/// FNV-1a, 64 bit: a stable fingerprint for the install marker (not for security).
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A free loopback port: bind 127.0.0.1:0, read the port, let it go.
pub(crate) fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

/// A command started by xtask in its own process group; only that group is ever signalled.
#[derive(Debug)]
pub(crate) struct Server {
    name: String,
    child: Option<Child>,
    pgid: u32,
    pub(crate) log: PathBuf,
}

impl Server {
    /// Runs `command` with `sh -c`, output to `log`, in a new process group.
    pub(crate) fn start(name: &str, command: &str, log: &Path) -> Result<Server, String> {
        let file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .current_dir(step::root())
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("{name}: cannot start `{command}`: {e}"))?;
        let pgid = child.id();
        Ok(Server {
            name: name.to_string(),
            child: Some(child),
            pgid,
            log: log.to_path_buf(),
        })
    }

    /// Waits until `addr` accepts a TCP connection, the server exits, or `limit` passes.
    pub(crate) fn wait_ready(&mut self, addr: SocketAddr, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                println!(
                    "    {} accepts on {addr} after {:.1}s",
                    self.name,
                    start.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            if let Some(status) = self.exited() {
                let log = fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!(
                    "{}: the server exited ({status}) before accepting on {addr}; its output:\n{}",
                    self.name,
                    tail(&log, 40)
                ));
            }
            if start.elapsed() > limit {
                self.stop();
                let log = fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!(
                    "{}: nothing accepted on {addr} within {}s; its output:\n{}",
                    self.name,
                    limit.as_secs(),
                    tail(&log, 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    /// SIGTERM to the group, then SIGKILL after 5 s; reaps the child.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_group(self.pgid, &mut child);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal_group(pgid: u32, sig: &str) {
    // `kill -SIG -- -PGID`: the group this xtask created, nothing else.
    let _ = Command::new("kill")
        .args([sig, "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn stop_group(pgid: u32, child: &mut Child) {
    signal_group(pgid, "-TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            // The leader is gone; take down anything it left in its group.
            signal_group(pgid, "-KILL");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal_group(pgid, "-KILL");
    let _ = child.wait();
}

/// Runs `cmd` in its own process group with stdout and stderr to `log`, passing each
/// stdout line to `on_line`; kills the group after `limit`.
pub(crate) fn run_logged(
    mut cmd: Command,
    log: &Path,
    limit: Duration,
    mut on_line: impl FnMut(&str),
) -> Result<ExitStatus, String> {
    let file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    let pgid = child.id();
    let out = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut file = file;
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(file, "{line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        while let Ok(line) = rx.try_recv() {
            on_line(&line);
        }
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => {}
            Err(e) => break Err(format!("waiting for {shown}: {e}")),
        }
        if Instant::now() > deadline {
            stop_group(pgid, &mut child);
            break Err(format!(
                "{shown} did not finish within {}s and was stopped; see {}",
                limit.as_secs(),
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The group may hold children that keep stdout open; end them so the reader ends.
    signal_group(pgid, "-KILL");
    let _ = reader.join();
    while let Ok(line) = rx.try_recv() {
        on_line(&line);
    }
    status
}

/// An install step with a time limit: like `step::run`, but the command runs in its own
/// process group, its output is kept in `<target>/xtask-steps/<slug>.log` (the last lines
/// are shown when it fails), and it is stopped after `limit`.
pub(crate) fn run_step(name: &str, cmd: Command, limit: Duration) -> Result<(), String> {
    let dir = target_dir().join("xtask-steps");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let log = dir.join(format!("{slug}.log"));
    println!("==> {name}: {cmd:?}");
    let start = Instant::now();
    let result = run_logged(cmd, &log, limit, |line| println!("    {line}"));
    let took = start.elapsed().as_secs_f64();
    match result {
        Ok(status) if status.success() => {
            println!("<== {name}: ok in {took:.1}s");
            Ok(())
        }
        other => {
            let why = match other {
                Ok(status) => format!("exited with {status}"),
                Err(e) => e,
            };
            let text = fs::read_to_string(&log).unwrap_or_default();
            Err(format!(
                "step `{name}` failed after {took:.1}s: {why}; the end of {}:\n{}",
                log.display(),
                tail(&text, 30)
            ))
        }
    }
}

/// Current UTC time as `YYYY-MM-DD HH:MM`.
pub(crate) fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_utc(secs)
}

fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_failure_makes_the_case_fail() {
        assert_eq!(classify("OK", "FAILED"), Status::Failed);
        assert_eq!(classify("OK", "UNCLEAN"), Status::Failed);
        assert_eq!(classify("NON-STRICT", "FAILED"), Status::Failed);
        assert_eq!(classify("FAILED", "OK"), Status::Failed);
    }

    #[test]
    fn suite_verdicts_map_to_columns() {
        assert_eq!(classify("OK", "OK"), Status::Ok);
        assert_eq!(classify("OK", "WRONG CODE"), Status::NonStrict);
        assert_eq!(classify("OK", "FAILED BY CLIENT"), Status::NonStrict);
        assert_eq!(classify("NON-STRICT", "OK"), Status::NonStrict);
        assert_eq!(
            classify("INFORMATIONAL", "INFORMATIONAL"),
            Status::Informational
        );
        assert_eq!(classify("UNIMPLEMENTED", "OK"), Status::Unimplemented);
        assert_eq!(classify("SOMETHING NEW", "OK"), Status::Failed);
    }

    #[test]
    fn spec_runs_every_section_including_compression() {
        let o = Options::parse(&[]).unwrap();
        let s = spec(Path::new("/r"), "echo", "ws://127.0.0.1:9001", &o.cases);
        assert_eq!(s["servers"][0]["url"], "ws://127.0.0.1:9001");
        assert!(Options::parse(&["--tls".into()]).unwrap().tls);
        assert_eq!(s["servers"][0]["agent"], "echo");
        let cases: Vec<&str> = s["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            cases,
            ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*", "12.*", "13.*"]
        );
        assert_eq!(s["exclude-cases"], json!([]));
    }

    #[test]
    fn server_command_needs_the_addr_placeholder() {
        let a = |v: &[&str]| Options::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(a(&["--server", "python3 x.py"]).is_err());
        assert_eq!(
            a(&["--server", "x {addr}"]).unwrap().server.as_deref(),
            Some("x {addr}")
        );
        assert!(a(&["--bogus"]).is_err());
        assert!(a(&["--timeout", "ten"]).is_err());
        assert_eq!(
            a(&["--cases", "1.1.*, 2.*"]).unwrap().cases,
            ["1.1.*", "2.*"]
        );
    }

    fn sample_run() -> Run {
        let index = r#"{"a": {
            "1.1.1": {"behavior": "OK", "behaviorClose": "OK", "duration": 2, "remoteCloseCode": 1000, "reportfile": "a_1.json"},
            "7.1.5": {"behavior": "FAILED", "behaviorClose": "WRONG CODE", "duration": 3, "remoteCloseCode": 1002, "reportfile": "a_2.json"},
            "6.4.1": {"behavior": "NON-STRICT", "behaviorClose": "OK", "duration": 4, "remoteCloseCode": 1007, "reportfile": "a_3.json"},
            "10.1.1": {"behavior": "OK", "behaviorClose": "FAILED", "duration": 5, "remoteCloseCode": null, "reportfile": "a_4.json"}
        }}"#;
        let planned: Vec<String> = ["1.1.1", "6.4.1", "7.1.5", "9.1.1", "10.1.1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (cases, missing) = read_index(index, "a", &planned, Path::new("/nonexistent")).unwrap();
        Run {
            agent: "a".into(),
            server: "srv {addr}".into(),
            cases,
            missing,
            took: Duration::from_secs(3),
            reports: PathBuf::from("/nonexistent/reports"),
        }
    }

    #[test]
    fn index_is_read_in_case_order_and_missing_cases_fail() {
        let r = sample_run();
        let ids: Vec<&str> = r.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["1.1.1", "6.4.1", "7.1.5", "10.1.1"]);
        assert_eq!(r.missing, ["9.1.1"]);
        assert_eq!(r.ids_with(Status::Failed), ["7.1.5", "10.1.1", "9.1.1"]);
        assert_eq!(r.totals(), [1, 1, 0, 0, 3]);
        let sections: Vec<String> = r.per_section().into_iter().map(|(s, _, _)| s).collect();
        assert_eq!(sections, ["1", "6", "7", "9", "10"]);
    }

    #[test]
    fn verdict_fails_on_failed_and_strict_on_non_strict() {
        let r = sample_run();
        assert!(r.verdict(false, &[]).is_err());
        let known = [("7.1.5", "x"), ("10.1.1", "y"), ("9.1.1", "z")];
        assert!(r.verdict(false, &known).is_ok());
        assert!(r.verdict(true, &known).unwrap_err().contains("6.4.1"));
    }

    #[test]
    fn markdown_has_counts_exclusions_and_failures() {
        let md = sample_run().markdown("cargo xtask autobahn", &[("7.1.5", "its own choice")]);
        assert!(
            md.contains("| 7 | Close Handling | 0 | 0 | 0 | 0 | 1 |"),
            "{md}"
        );
        assert!(
            md.contains("| **all** | | **1** | **1** | **0** | **0** | **3** |"),
            "{md}"
        );
        assert!(
            md.contains("| 9.1.1 | - | - | - | missing from the report |"),
            "{md}"
        );
        assert!(md.contains("**Known failure:** its own choice"), "{md}");
        assert!(md.contains("Generated by `cargo xtask autobahn`"), "{md}");
    }

    #[test]
    fn planned_cases_come_from_the_wstest_log() {
        let log =
            "Ok, will run 3 test cases\nCases = ['1.1.1', '2.1', '10.1.1']\nServers = ['ws://x']\n";
        assert_eq!(planned_cases(log).unwrap(), ["1.1.1", "2.1", "10.1.1"]);
        assert_eq!(planned_cases("Traceback"), None);
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00");
        assert_eq!(format_utc(1_709_210_096), "2024-02-29 12:34");
    }

    #[test]
    fn fnv_fingerprint_is_the_published_one() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn invocation_quotes_arguments_with_spaces() {
        let args = vec!["--server".to_string(), "py x.py {addr}".to_string()];
        assert_eq!(
            invocation(&args),
            "cargo xtask autobahn --server \"py x.py {addr}\""
        );
    }
}
