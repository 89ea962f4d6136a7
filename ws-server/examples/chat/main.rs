//! Chat server: a page at `/`, rooms over WebSocket at `/ws?room=NAME`.
//!
//! `cargo run --release -p ws-server --example chat -- 127.0.0.1:9001 [--redis redis://HOST:PORT]`
//! (without an address it listens on 127.0.0.1:9001). Open
//! `http://127.0.0.1:9001/?room=NAME` in two browser tabs. A room is a topic: with
//! `--redis`, every chat server on that Redis shares every room (delivery between servers
//! is at most once); without it the server runs alone. `--room-actor` serves the broadcast
//! as it was before topics (an actor per room; no Redis), for comparison in benchmarks.
//! `GET /metrics` gives the server's metrics as Prometheus text; the page shows its
//! room's member count (on this server) and the server's message rate from them. Logs go
//! to stderr, filtered by `RUST_LOG` (default `info`). Ctrl-C shuts down gracefully.

mod room;
mod topic;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use ws_server::{RedisBroker, Server, Topics};

fn main() {
    let mut addr = "127.0.0.1:9001".to_owned();
    let mut redis = None;
    let mut room_actor = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--redis" => match args.next() {
                Some(url) => redis = Some(url),
                None => fail("--redis needs a URL (redis://HOST:PORT)"),
            },
            "--room-actor" => room_actor = true,
            a if a.starts_with("--") => fail(&format!("unknown option {a}")),
            a => a.clone_into(&mut addr),
        }
    }
    if room_actor && redis.is_some() {
        fail("--room-actor rooms are local: it cannot go with --redis");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let topics = match redis {
        Some(url) => match RedisBroker::new(&url) {
            Ok(broker) => Topics::with_broker(broker),
            Err(e) => fail(&format!("--redis {url}: {e}")),
        },
        None => Topics::new(),
    };
    let builder = Server::builder()
        .bind(addr.as_str())
        .permessage_deflate(Some(ws_server::DEFAULT_DEFLATE))
        .metrics_path("/metrics")
        .topics(topics.clone());
    let served = if room_actor {
        builder.serve(room::Chat::default())
    } else {
        builder.serve(topic::Chat::new(topics))
    };
    let server = match served {
        Ok(s) => s,
        Err(e) => fail(&e.to_string()),
    };
    println!("listening on {}", server.local_addr());
    println!("open http://{}/ in a browser", server.local_addr());
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
