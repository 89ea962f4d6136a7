//! Echo server: sends every text and binary message back unchanged.
//!
//! `cargo run --release -p ws-server --example echo -- 127.0.0.1:9001`
//! (add `--tls-cert FILE --tls-key FILE` after the address to serve only wss:
//! a PEM chain and a PEM key, PKCS#8, SEC1 or PKCS#1).
//!
//! `WS_BRIDGE=poll|threads` chooses the bridge (default: the server's default).
//! Limits are raised to 64 MiB (what conformance suites send). Prints
//! "listening on ADDR" on stdout once ready (scripts wait for it); Ctrl-C shuts
//! down gracefully. `GET /metrics` gives the server's metrics as Prometheus text.
//! Logs go to stderr, filtered by `RUST_LOG` (default `info`; `RUST_LOG=ws_server=debug`
//! shows each connection's open and close with its peer, code and reason).

#[path = "shared/args.rs"]
mod args;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use ws_server::{Bridge, Connect, Ctx, Handler, Message, Request, Server};

const LIMIT: usize = 64 << 20;

struct Echo;

impl Handler for Echo {
    type State = ();

    fn on_connect(&self, _conn: &mut Ctx<'_>, _request: &Request) -> Connect<()> {
        Connect::accept(())
    }

    fn on_message(&self, conn: &mut Ctx<'_>, _state: &mut (), message: Message) {
        // Errors mean the client is gone or not reading: its close follows.
        // The received bytes go back as they are: a long payload is not copied.
        let _ = match message {
            Message::Text(text) => conn.send_text_bytes(text),
            Message::Binary(data) => conn.send_binary_bytes(data),
        };
    }

    // Each connection's close (peer, code, reason) is ws-server's own debug event.
}

fn main() {
    args::logs();
    let args = args::parse("echo", "127.0.0.1:9001");
    let addr = args.addr;
    let mut builder = Server::builder();
    if let Some(config) = args.tls {
        builder = builder.tls(config);
    }
    match std::env::var("WS_BRIDGE").as_deref() {
        Ok("poll") => builder = builder.bridge(Bridge::Poll),
        Ok("threads") => builder = builder.bridge(Bridge::Threads),
        Ok(other) => {
            tracing::error!("echo: WS_BRIDGE={other}: expected poll or threads");
            std::process::exit(2);
        }
        Err(_) => {}
    }
    // For `cargo xtask bench --scaling`: pollers inside the workers (default one per worker).
    let env = |name| std::env::var(name).ok().and_then(|n| n.parse().ok());
    if let Some(n) = env("WS_POLLERS") {
        builder = builder.pollers(n);
    }
    let server = match builder
        .bind(addr.as_str())
        .permessage_deflate(Some(ws_server::DEFAULT_DEFLATE))
        .max_frame_size(LIMIT)
        .max_message_size(LIMIT)
        // Conformance suites split 4 MiB into 64-byte fragments (Autobahn 9.3, 9.4); the
        // codec copies fragments into one buffer, so memory stays bounded by the message limit.
        .max_fragments(LIMIT)
        // A message may be echoed while the next arrives: room for two.
        .high_water(2 * LIMIT + (1 << 20))
        .metrics_path("/metrics")
        .serve(Echo)
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("echo: {e}");
            std::process::exit(1);
        }
    };
    println!("listening on {}", server.local_addr());
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
