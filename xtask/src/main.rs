//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.

#![forbid(unsafe_code)]

mod autobahn;
mod bench;
mod certs;
mod ci;
mod debian;
mod faults;
mod fuzz;
mod interop;
mod layering;
mod miri;
mod proc;
mod redis;
mod soak;
mod step;
mod wsc;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                      every check CI runs, stopping at the first failure
  bench [--quick] [...]   whole-server load matrix against peer servers (--help for options)
  layering                check that the leaf crates depend on no workspace crate
  fuzz [target] [secs]    run a cargo-fuzz target (default: all, 60 s each)
  fuzz-replay             replay the committed fuzz corpora as ordinary tests
  miri                    the tests of the workspace's `unsafe` code under Miri (nightly)
  autobahn [--server CMD] Autobahn|Testsuite sections 1-7, 9, 10 (--help; --verify)
  interop [--standins]    Python, Node and headless-Chromium clients (--help)
  bench-fanout [--quick]  one publisher to 1 000 / 10 000 subscribers (topics, room actor,
                          Redis, tokio-tungstenite; --help)
  redis-tests             the topics' Redis tests against a redis-server it starts
  faults [emfile|handshakes]  the echo example out of fds, and under 10 000 slow handshakes
  soak [--minutes N] [...]  mixed load on the echo example, sampled; writes docs/soak.md
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = &args[args.len().min(1)..];
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("bench") => bench::run(rest),
        Some("layering") => layering::check(),
        Some("fuzz") => fuzz::run(rest),
        Some("miri") => miri::run(),
        Some("fuzz-replay") => fuzz::replay(),
        Some("autobahn") => autobahn::run(rest),
        Some("interop") => interop::run(rest),
        Some("redis-tests") => redis::tests(),
        Some("bench-fanout") => bench::fanout::run(rest),
        Some("faults") => faults::run(rest),
        Some("soak") => soak::run(rest),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
