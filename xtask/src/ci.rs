//! `cargo xtask ci`: every check, in order, stopping at the first failure.

use crate::{autobahn, faults, fuzz, interop, layering, miri, redis, soak, step};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// ws-tokio's echo example; `{addr}` becomes `127.0.0.1:PORT`.
const TOKIO_ECHO: &str = "cargo run --release -p ws-tokio --example tokio-echo -- {addr}";

pub(crate) fn run() -> Result<(), String> {
    let start = Instant::now();
    step::run("fmt", step::cargo(&["fmt", "--all", "--", "--check"]))?;
    step::run(
        "clippy",
        step::cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step::run("test", step::cargo(&["test", "--workspace"]))?;
    // Topics across servers: a real redis-server on a free loopback port (issue 15).
    step::timed("redis", redis::tests)?;
    step::run("loom", loom())?;
    miri::run()?;
    let mut doc = step::cargo(&["doc", "--workspace", "--no-deps"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    step::run("doc", doc)?;
    step::run(
        "benches compile",
        step::cargo(&["bench", "--workspace", "--benches", "--no-run"]),
    )?;
    step::timed("layering", layering::check)?;
    fuzz::replay()?;
    // Conformance is strict: any FAILED or NON-STRICT case fails CI (issue 6's bar).
    // Its summary goes under target/, not to docs/conformance.md: a CI run leaves the
    // checkout as it found it (`cargo xtask autobahn` writes the committed summary).
    step::timed("autobahn", || {
        let out = step::root().join("target/autobahn/ci-echo.md");
        let out = out.display().to_string();
        let args = ["--strict", "--cases", autobahn::CI_CASES, "--out", &out];
        autobahn::run(&args.map(String::from))
    })?;
    step::timed("autobahn over wss", || {
        let args = ["--strict", "--tls", "--cases", autobahn::CI_WSS_CASES];
        autobahn::run(&args.map(String::from))
    })?;
    step::timed("interop", || interop::run(&[]))?;
    // ws-tokio's echo (issue 18): the same strict case list and the same echo clients.
    step::timed("autobahn tokio-echo", || {
        let args = [
            "--strict",
            "--agent",
            "tokio-echo",
            "--server",
            TOKIO_ECHO,
            "--cases",
            autobahn::CI_CASES,
        ];
        autobahn::run(&args.map(String::from))
    })?;
    step::timed("interop tokio-echo", || {
        // tokio-echo takes no certificate: the TLS round is ws-server's.
        let args = ["--echo", TOKIO_ECHO, "--only", "python,node", "--no-tls"];
        interop::run(&args.map(String::from))
    })?;
    // Issue 12: the echo example out of fds, and a minute of mixed load.
    faults::run(&["emfile".into()])?;
    soak::run(&["--seconds", "60", "--no-write"].map(String::from))?;
    // Both bridges (issue 12): the thread bridge holds ~10 000 threads here.
    let threads = ["--seconds", "60", "--no-write", "--bridge", "threads"];
    soak::run(&threads.map(String::from))?;
    println!(
        "xtask ci: all checks passed in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// actor-core's loom models (mailbox state machine, idle protocol). They need
/// `--cfg loom`, which would invalidate the main build cache, so they build
/// in `<target>/loom`, `<target>` being `CARGO_TARGET_DIR` or `target/`.
fn loom() -> Command {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        // Relative: against the workspace root, where every step's cargo runs.
        .map(|t| step::root().join(t))
        .unwrap_or_else(|| step::root().join("target"));
    let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
    flags.push_str(if flags.is_empty() { "" } else { " " });
    flags.push_str("--cfg loom");
    let mut cmd = step::cargo(&["test", "-p", "actor-core", "--release", "--test", "loom"]);
    cmd.env("RUSTFLAGS", flags)
        .env("CARGO_TARGET_DIR", target.join("loom"));
    cmd
}
