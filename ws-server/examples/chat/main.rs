//! Chat server: a page at `/`, rooms over WebSocket at `/ws?room=NAME`.
//!
//! `cargo run --release -p ws-server --example chat -- 127.0.0.1:9001`
//! (without an argument it listens on 127.0.0.1:9001). Open
//! `http://127.0.0.1:9001/?room=NAME` in two browser tabs. Ctrl-C shuts down
//! gracefully. `GET /metrics` gives the server's metrics as Prometheus text; the
//! page shows its room's member count and the server's message rate from them.
//! Logs go to stderr, filtered by `RUST_LOG` (default `info`).

mod room;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use actor_core::Runtime;
use ws_server::Server;

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = Runtime::new().expect("start the actor runtime");
    // Rooms and connections share one runtime, so they can message each other.
    let server = match Server::builder()
        .bind(addr.as_str())
        .permessage_deflate(Some(ws_server::DEFAULT_DEFLATE))
        .runtime(runtime.handle())
        .metrics_path("/metrics")
        .serve(room::Chat::default())
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("chat: {e}");
            std::process::exit(1);
        }
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
    runtime.shutdown(Duration::from_secs(5));
    tracing::info!(
        connections = report.connections,
        forced = report.forced,
        "shut down"
    );
}
