//! Debian packages the checks need (chromium, redis-server, openssl): found on PATH, or
//! installed with apt-get when missing (as root, as on CI's fresh machine).

use crate::autobahn;
use std::process::Command;

/// The path of `command`, installing Debian's `package` first when it is not on PATH.
pub(crate) fn ensure(command: &str, package: &str) -> Result<String, String> {
    if let Some(p) = which(command) {
        println!("==> {command}: {p}");
        return Ok(p);
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !is_root {
        return Err(format!(
            "{command} is missing; install it with `apt-get install -y {package}` (needs root)"
        ));
    }
    let mut update = Command::new("apt-get");
    update.arg("update");
    let step = format!("{package}: apt-get update");
    autobahn::run_step(&step, update, autobahn::INSTALL_LIMIT)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive");
    let step = format!("{package}: apt-get install");
    autobahn::run_step(&step, install, autobahn::INSTALL_LIMIT)?;
    which(command)
        .ok_or_else(|| format!("apt-get installed {package} but {command} is not on PATH"))
}

/// The first `name` on PATH.
pub(crate) fn which(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}
