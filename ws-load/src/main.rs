//! `ws-load`: a closed-loop WebSocket echo load generator and idle-connection memory probe.
//!
//! One mio event loop per thread; the request frame is built and masked once and
//! written from the same bytes for every message; echoes are walked header by header
//! without buffering payloads; latency goes into a fixed-size log-linear histogram.
//! It reports its own CPU use so a run can show that the client was not the bottleneck,
//! and, given `--server-pid`, the server's CPU time per message and RSS per connection.

#![forbid(unsafe_code)]

mod args;
mod fanout;
mod hist;
mod pace;
mod payload;
mod procfs;
mod report;
mod run;
mod tls;
mod wire;
mod worker;

use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match args::parse(&argv) {
        Ok(args::Parsed::Run(cfg)) => cfg,
        Ok(args::Parsed::Help) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ws-load: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    // Each connection is a descriptor: lift the soft limit to the hard one.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < cfg.conns as u64 + 16 => eprintln!(
            "ws-load: warning: open-file limit {limit} is below {} connections",
            cfg.conns
        ),
        Ok(_) => {}
        Err(e) => eprintln!("ws-load: warning: cannot raise the open-file limit: {e}"),
    }
    let tls = match &cfg.tls_ca {
        None => None,
        Some(ca) => match tls::client_config(ca) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("ws-load: --tls-ca {e}");
                return ExitCode::from(2);
            }
        },
    };
    let report = match run::run(&cfg, tls) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ws-load: cannot build the upgrade request: {e}");
            return ExitCode::from(2);
        }
    };
    // A closed stdout (`| head`) is not worth a panic: the run is over anyway.
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", report.human());
    let _ = writeln!(out, "{}", report.json());
    let _ = out.flush();
    let measured = if cfg.idle {
        report.tally.opened > 0
    } else {
        report.tally.messages > 0
    };
    if measured {
        ExitCode::SUCCESS
    } else {
        eprintln!("ws-load: nothing was measured (see the errors above)");
        ExitCode::FAILURE
    }
}
