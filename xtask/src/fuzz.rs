//! `cargo xtask fuzz`: run cargo-fuzz targets; `fuzz-replay`: replay corpora on stable.

use crate::step;
use std::process::Command;

/// Every target in `fuzz/Cargo.toml`, in the order `cargo xtask fuzz` runs them.
pub(crate) const TARGETS: &[&str] = &[
    "frame_decode",
    "frame_roundtrip",
    "session_server",
    "utf8_split",
    "deflate_inflate",
    "deflate_roundtrip",
    "handshake_parse",
];

/// Replays every committed corpus file through the same functions the fuzz targets call,
/// as an ordinary `cargo test` on the stable toolchain.
pub(crate) fn replay() -> Result<(), String> {
    let manifest = step::root().join("fuzz/Cargo.toml");
    let mut cmd = step::cargo(&["test", "--lib", "--manifest-path"]);
    cmd.arg(manifest);
    step::run("fuzz corpus replay", cmd)
}

/// `cargo xtask fuzz [target] [seconds]`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let targets: Vec<&str> = match args.first().map(String::as_str) {
        None | Some("all") => TARGETS.to_vec(),
        Some(t) if TARGETS.contains(&t) => vec![t],
        Some(t) => return Err(format!("unknown fuzz target `{t}`; known: {TARGETS:?}")),
    };
    let secs: u64 = match args.get(1) {
        None => 60,
        Some(s) => s
            .parse()
            .map_err(|_| format!("seconds must be a whole number, got `{s}`"))?,
    };
    ensure_cargo_fuzz()?;
    let fuzz_dir = step::root().join("fuzz");
    for target in targets {
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        let mut cmd = step::cargo(&["fuzz", "run", target]);
        cmd.current_dir(&fuzz_dir)
            // cargo-fuzz passes nightly-only flags; the machine's toolchain is stable.
            .env("RUSTC_BOOTSTRAP", "1")
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={secs}"))
            .arg("-max_len=65536");
        step::run(&format!("fuzz {target} for {secs}s"), cmd)?;
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result<(), String> {
    let have = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if have {
        return Ok(());
    }
    step::run(
        "install cargo-fuzz",
        step::cargo(&["install", "cargo-fuzz", "--locked"]),
    )
}
