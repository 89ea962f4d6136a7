//! Chat server: a page at `/`, rooms over WebSocket at `/ws?room=NAME`.
//!
//! `cargo run --release -p ws-server --example chat -- 127.0.0.1:9001 [--tls-cert FILE --tls-key FILE] [--redis redis://HOST:PORT]`
//! (without an address it listens on 127.0.0.1:9001). Open
//! `http://127.0.0.1:9001/?room=NAME` in two browser tabs.
//!
//! - A room is a topic: with `--redis`, every chat server on that Redis shares every room
//!   (delivery between servers is at most once); without it the server runs alone.
//!   `--room-actor` serves the broadcast as it was before topics (an actor per room; no
//!   Redis), for comparison in benchmarks.
//! - With `--tls-cert FILE --tls-key FILE` (a PEM chain and a PEM key) it serves only
//!   https and wss.
//! - `GET /metrics` gives the server's metrics as Prometheus text; the page shows its
//!   room's member count (on this server) and the server's message rate from them.
//! - Logs go to stderr, filtered by `RUST_LOG` (default `info`). Ctrl-C shuts down
//!   gracefully.

#[path = "../shared/args.rs"]
mod args;
mod room;
mod topic;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use ws_server::{RedisBroker, Server, Topics};

fn main() {
    args::logs();
    let args = args::parse("chat", "127.0.0.1:9001");
    let scheme = if args.tls.is_some() { "https" } else { "http" };
    let topics = match &args.redis {
        Some(url) => match RedisBroker::new(url) {
            Ok(broker) => Topics::with_broker(broker),
            Err(e) => fail(&format!("--redis {url}: {e}")),
        },
        None => Topics::new(),
    };
    let mut builder = Server::builder();
    if let Some(config) = args.tls {
        builder = builder.tls(config);
    }
    let builder = builder
        .bind(args.addr.as_str())
        .permessage_deflate(Some(ws_server::DEFAULT_DEFLATE))
        .metrics_path("/metrics")
        .topics(topics.clone());
    let served = if args.room_actor {
        builder.serve(room::Chat::default())
    } else {
        builder.serve(topic::Chat::new(topics))
    };
    let server = match served {
        Ok(s) => s,
        Err(e) => fail(&e.to_string()),
    };
    println!("listening on {}", server.local_addr());
    println!("open {scheme}://{}/ in a browser", server.local_addr());
    let _ = std::io::stdout().flush();

    let (tx, rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .expect("install the Ctrl-C handler");
    let _ = rx.recv();
    let report = server.shutdown(Duration::from_secs(5));
    tracing::info!(
        connections = report.connections,
        forced = report.forced,
        "shut down"
    );
}

fn fail(why: &str) -> ! {
    eprintln!("chat: {why}");
    std::process::exit(1);
}
