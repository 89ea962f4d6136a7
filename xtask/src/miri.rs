//! `cargo xtask miri`: the tests of the workspace's `unsafe` code under Miri (DESIGN.md §6),
//! which finds undefined behaviour (a read of uninitialised memory, say) where a plain test
//! would pass by luck.

use crate::step;
use std::process::Command;

/// Each `unsafe` block's tests: crate and test-name filter. One entry per block.
const TESTS: &[(&str, &str)] = &[
    // `append_with`: a read into a `BytesMut`'s spare capacity, not zeroed first.
    ("ws-server", "bridge::poll::sock::tests"),
    // `Utf8Bytes::try_from`: text built unchecked after simdutf8's check.
    ("ws-codec", "utf8::tests"),
];

pub(crate) fn run() -> Result<(), String> {
    ensure_miri()?;
    for (krate, filter) in TESTS {
        // Only the filter's tests: the rest of the crate's open sockets and spawn threads,
        // which Miri runs thousands of times slower.
        let mut cmd = nightly_cargo(&["miri", "test", "-p", krate, "--lib", "--", filter]);
        // Pointers from integers are refused too, not merely assumed to work.
        cmd.env("MIRIFLAGS", "-Zmiri-strict-provenance");
        step::run(&format!("miri {krate} {filter}"), cmd)?;
    }
    Ok(())
}

/// Miri ships with nightly toolchains only; the machine's default is stable. Its sysroot is
/// built from `rust-src` on first use (about a minute, then cached).
fn nightly_cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo"])
        .args(args)
        .current_dir(step::root());
    cmd
}

fn ensure_miri() -> Result<(), String> {
    let answers = |cmd: &mut Command| cmd.output().is_ok_and(|o| o.status.success());
    if answers(&mut nightly_cargo(&["miri", "--version"])) {
        return Ok(());
    }
    let mut install = Command::new("rustup");
    if answers(Command::new("rustup").args(["run", "nightly", "rustc", "--version"])) {
        // Add to the nightly that is here rather than update it to today's.
        install.args([
            "component",
            "add",
            "miri",
            "rust-src",
            "--toolchain",
            "nightly",
        ]);
    } else {
        install.args(["toolchain", "install", "nightly", "--profile", "minimal"]);
        install.args(["--component", "miri,rust-src"]);
    }
    step::run("install miri", install)
}
