//! The hyper/axum upgrade path: ws-handshake checks the request an HTTP library parsed, the
//! 101 goes out through axum, and the upgraded connection is a `WebSocket`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ws_handshake::ClientRequest;
use ws_tokio::{Config, Message};

fn config() -> Config {
    Config::default().with_deflate(Some(ws_tokio::DEFAULT_DEFLATE))
}

/// Answers with the subprotocol "v2" when offered, then sends one message and echoes.
async fn route(mut request: Request) -> Response {
    let choose = |r: &ws_handshake::Request| r.protocols().find(|p| *p == "v2").map(String::from);
    let (response, upgrade) = match ws_tokio::upgrade_with(&request, &config(), choose) {
        Ok(accepted) => accepted,
        Err(ws_tokio::Error::Handshake(e)) => return ws_tokio::refusal(&e).map(Body::from),
        Err(e) => panic!("{e}"),
    };
    let on = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let mut ws = upgrade.into_websocket(TokioIo::new(on.await.unwrap()));
        ws.send(Message::text("welcome")).await.unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if m.is_data() {
                ws.send(m).await.unwrap();
            }
        }
    });
    response.map(|()| Body::empty())
}

async fn serve() -> SocketAddr {
    let app = Router::new().route("/ws", get(route));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn an_axum_route_upgrades_with_deflate_and_a_subprotocol() {
    let addr = serve().await;
    let request = ClientRequest::new("127.0.0.1", "/ws")
        .port(addr.port())
        .protocol("v1")
        .protocol("v2");
    let (mut ws, accepted) = ws_tokio::connect(addr, request, &config()).await.unwrap();
    assert_eq!(accepted.protocol(), Some("v2"));
    assert!(
        accepted.deflate().is_some(),
        "permessage-deflate negotiated"
    );
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("welcome"));
    let text = "through axum ".repeat(100);
    ws.send(Message::text(text.as_str())).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text(text.as_str())
    );
    ws.close().await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
}

#[tokio::test]
async fn a_bad_upgrade_gets_ws_handshakes_refusal() {
    let addr = serve().await;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Version 8: RFC 6455 §4.4, answered with 426 and the version spoken.
    tcp.write_all(
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\
          Connection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 426 "), "{answer}");
    assert!(
        answer.contains("\r\nsec-websocket-version: 13\r\n"),
        "{answer}"
    );
}

#[test]
fn the_101_is_ws_handshakes() {
    // RFC 6455 §1.3's example key and accept value.
    let request = http::Request::get("/chat")
        .header("Host", "server.example.com")
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
        .body(())
        .unwrap();
    let (response, _) = ws_tokio::upgrade(&request, &Config::default()).unwrap();
    assert_eq!(response.status(), 101);
    let header = |n: &str| response.headers()[n].to_str().unwrap().to_string();
    assert_eq!(
        header("sec-websocket-accept"),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_eq!(header("upgrade"), "websocket");
    assert!(response.headers().get("sec-websocket-extensions").is_none());

    let post = http::Request::post("/chat").body(()).unwrap();
    let Err(ws_tokio::Error::Handshake(e)) = ws_tokio::upgrade(&post, &Config::default()) else {
        panic!("a POST is no upgrade")
    };
    assert_eq!(ws_tokio::refusal(&e).status(), 405);
}
