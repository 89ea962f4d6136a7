//! `cargo xtask ci`: every check, in order, stopping at the first failure.

use crate::{autobahn, fuzz, interop, layering, step};
use std::time::Instant;

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
    step::timed("autobahn", || autobahn::run(&["--strict".to_string()]))?;
    step::timed("interop", || interop::run(&[]))?;
    println!(
        "xtask ci: all checks passed in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
