//! Echo server on tokio-tungstenite with tokio's multi-thread runtime (the shape of its echo example).

use futures_util::{future, StreamExt, TryStreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

fn main() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tls = peers::tls_acceptor();
    rt.block_on(async {
        let listener = TcpListener::bind(peers::addr_arg()).await?;
        peers::announce(listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            match tls.clone() {
                None => tokio::spawn(serve(stream)),
                Some(tls) => tokio::spawn(async move {
                    if let Ok(stream) = tls.accept(stream).await {
                        serve(stream).await;
                    }
                }),
            };
        }
    })
}

/// The WebSocket echo, over TCP or TLS.
async fn serve<S>(stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let config = WebSocketConfig::default()
        .max_message_size(Some(peers::MAX_MESSAGE))
        .max_frame_size(Some(peers::MAX_MESSAGE));
    let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    // The library's echo example: forward text and binary messages back;
    // `forward` flushes only when no further message is ready.
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
        .forward(write)
        .await;
}
