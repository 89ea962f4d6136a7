//! `cargo xtask redis-tests` (a step of `ci`): the topics' Redis tests against a real
//! `redis-server`, installed with apt-get when missing, started on a free loopback port and
//! stopped after.

use std::net::SocketAddr;
use std::time::Duration;

use crate::autobahn::{self, Server};
use crate::{debian, step};

/// Starts a `redis-server`, runs ws-server's Redis-backed tests against it, stops it.
pub(crate) fn tests() -> Result<(), String> {
    let bin = debian::ensure("redis-server", "redis-server")?;
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
