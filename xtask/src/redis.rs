//! `cargo xtask redis-tests` (a step of `ci`): the topics' Redis tests against a real
//! `redis-server`, installed with apt-get when missing, started on a free loopback port and
//! stopped after.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::autobahn::{self, Server};
use crate::step;

/// Starts a `redis-server`, runs ws-server's Redis-backed tests against it, stops it.
pub(crate) fn tests() -> Result<(), String> {
    let bin = ensure_redis_server()?;
    let port = autobahn::free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let dir = autobahn::target_dir().join("xtask-redis");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // No persistence, loopback only: a throwaway server for the tests.
    let command = format!(
        "{bin} --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir {}",
        dir.display()
    );
    println!("==> redis: `{command}`");
    let mut server = Server::start("redis-server", &command, &dir.join("redis-server.log"))?;
    server.wait_ready(addr, Duration::from_secs(20))?;
    let mut test = step::cargo(&["test", "-p", "ws-server", "--test", "chat_topics"]);
    test.env("WS_TEST_REDIS_URL", format!("redis://{addr}"))
        .env("WS_TEST_REDIS_SERVER", &bin);
    let result = step::run("redis tests", test);
    server.stop();
    result
}

/// The path of `redis-server`, installed from Debian's package when missing (as root).
pub(crate) fn ensure_redis_server() -> Result<String, String> {
    if let Some(p) = which("redis-server") {
        println!("==> redis-server: {p}");
        return Ok(p);
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !is_root {
        return Err("redis-server is missing; install it with `apt-get install -y redis-server` (needs root)".into());
    }
    let mut update = Command::new("apt-get");
    update.arg("update");
    autobahn::run_step(
        "redis-server: apt-get update",
        update,
        autobahn::INSTALL_LIMIT,
    )?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends", "redis-server"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    autobahn::run_step(
        "redis-server: apt-get install",
        install,
        autobahn::INSTALL_LIMIT,
    )?;
    which("redis-server")
        .ok_or_else(|| "apt-get installed redis-server but it is not on PATH".into())
}

fn which(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}
