//! Running one named, timed step: print what runs, how long it took, fail on non-zero exit.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The workspace root (the parent of `xtask/`).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A `cargo` command run from the workspace root.
pub(crate) fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(root());
    cmd
}

/// Runs `cmd` as the step `name`, printing the command line and the time it took.
pub(crate) fn run(name: &str, mut cmd: Command) -> Result<(), String> {
    let shown = describe(&cmd);
    println!("==> {name}: {shown}");
    let start = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{name}: could not start `{shown}`: {e}"))?;
    let took = start.elapsed().as_secs_f64();
    if status.success() {
        println!("<== {name}: ok in {took:.1}s");
        Ok(())
    } else {
        println!("<== {name}: FAILED ({status}) after {took:.1}s");
        Err(format!(
            "step `{name}` failed: `{shown}` exited with {status}"
        ))
    }
}

/// Times an in-process step the same way as [`run`].
pub(crate) fn timed(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    println!("==> {name}");
    let start = Instant::now();
    let result = f();
    let took = start.elapsed().as_secs_f64();
    match &result {
        Ok(()) => println!("<== {name}: ok in {took:.1}s"),
        Err(_) => println!("<== {name}: FAILED after {took:.1}s"),
    }
    result
}

fn describe(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?)))
        .collect();
    parts.push(cmd.get_program().to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}
