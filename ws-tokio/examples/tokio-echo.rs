//! Echo server on tokio's multi-thread runtime: sends every text and binary message back.
//!
//! `cargo run --release -p ws-tokio --example tokio-echo -- 127.0.0.1:9001`
//!
//! Limits are raised to 64 MiB, as in ws-server's `echo` example (what conformance suites
//! send), and permessage-deflate is on. Prints "listening on ADDR" once ready.

use std::io::Write;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use ws_tokio::Config;

const LIMIT: usize = 64 << 20;

fn config() -> Config {
    Config::default()
        .with_max_frame_size(LIMIT)
        .with_max_message_size(LIMIT)
        // Conformance suites split 4 MiB into 64-byte fragments (Autobahn 9.3, 9.4); the
        // codec copies fragments into one buffer, so memory stays bounded by the limit.
        .with_max_fragments(LIMIT)
        // A message may be echoed while the next arrives: room for two.
        .with_high_water(2 * LIMIT + (1 << 20))
        .with_deflate(Some(ws_tokio::DEFAULT_DEFLATE))
}

async fn serve(stream: TcpStream, config: &Config) -> Result<(), ws_tokio::Error> {
    let _ = stream.set_nodelay(true);
    let mut ws = ws_tokio::accept(stream, config).await?;
    while let Some(message) = ws.next().await {
        // Pings are answered and the close handshake is run by the connection.
        let message = message?;
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on {}", listener.local_addr()?);
        let _ = std::io::stdout().flush();
        let config: &'static Config = Box::leak(Box::new(config()));
        loop {
            let (stream, peer) = listener.accept().await?;
            tokio::spawn(async move {
                if let Err(e) = serve(stream, config).await {
                    // One line per failed connection, at most.
                    if !matches!(e, ws_tokio::Error::AbnormalClosure) {
                        eprintln!("{peer}: {e}");
                    }
                }
            });
        }
    })
}
