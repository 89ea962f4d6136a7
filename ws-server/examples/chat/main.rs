//! Chat server: a page at `/`, rooms over WebSocket at `/ws?room=NAME`.
//!
//! `cargo run --release -p ws-server --example chat -- 127.0.0.1:9001`
//! (without an argument it listens on 127.0.0.1:9001). Open
//! `http://127.0.0.1:9001/?room=NAME` in two browser tabs. Ctrl-C shuts down
//! gracefully. With `--tls-cert FILE --tls-key FILE` after the address it
//! serves only https and wss (a PEM chain and a PEM key).

#[path = "../shared/args.rs"]
mod args;
mod room;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use actor_core::Runtime;
use ws_server::Server;

fn main() {
    let args = args::parse("chat", "127.0.0.1:9001");
    let addr = args.addr;
    let scheme = if args.tls.is_some() { "https" } else { "http" };
    let runtime = Runtime::new().expect("start the actor runtime");
    // Rooms and connections share one runtime, so they can message each other.
    let mut builder = Server::builder();
    if let Some(config) = args.tls {
        builder = builder.tls(config);
    }
    let server = match builder
        .bind(addr.as_str())
        .permessage_deflate(Some(ws_server::DEFAULT_DEFLATE))
        .runtime(runtime.handle())
        .serve(room::Chat)
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("chat: {e}");
            std::process::exit(1);
        }
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
    runtime.shutdown(Duration::from_secs(5));
    println!(
        "shut down: {} connections, {} forced",
        report.connections, report.forced
    );
}
