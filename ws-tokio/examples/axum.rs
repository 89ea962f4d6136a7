//! An axum app with a WebSocket route: `GET /echo` upgrades and echoes, `GET /` is a page.
//!
//! `cargo run -p ws-tokio --example axum -- 127.0.0.1:3000`, then connect to
//! `ws://127.0.0.1:3000/echo`. The request is checked and answered by ws-handshake (a bad
//! one gets its 400 or 426), and the upgraded connection is a `ws_tokio::WebSocket`.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use ws_tokio::Config;

async fn echo(mut request: Request) -> Response {
    let config = Config::default().with_deflate(Some(ws_tokio::DEFAULT_DEFLATE));
    let (response, upgrade) = match ws_tokio::upgrade(&request, &config) {
        Ok(accepted) => accepted,
        Err(ws_tokio::Error::Handshake(e)) => return ws_tokio::refusal(&e).map(Body::from),
        Err(e) => unreachable!("upgrade fails only on the handshake: {e}"),
    };
    // hyper hands the connection over once the 101 is sent.
    let connection = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = connection.await else {
            return;
        };
        let mut ws = upgrade.into_websocket(TokioIo::new(upgraded));
        while let Some(Ok(message)) = ws.next().await {
            if message.is_data() && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    response.map(|()| Body::empty())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let app = Router::new()
        .route("/", get(|| async { "WebSocket echo at /echo\n" }))
        .route("/echo", get(echo));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
