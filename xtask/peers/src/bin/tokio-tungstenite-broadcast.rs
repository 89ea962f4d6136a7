//! Broadcast server on tokio-tungstenite, the usual way: every connection is in one room
//! (whatever its path); a text message goes through a `tokio::sync::broadcast` channel to a
//! task per member that sends it on. The fan-out peer of `cargo xtask bench-fanout`.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

fn main() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(peers::addr_arg()).await?;
        peers::announce(listener.local_addr()?);
        let (tx, _) = broadcast::channel::<Message>(1024);
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(serve(stream, tx.clone()));
        }
    })
}

async fn serve(stream: TcpStream, tx: broadcast::Sender<Message>) {
    let _ = stream.set_nodelay(true);
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut write, mut read) = ws.split();
    let mut rx = tx.subscribe();
    // Each member's task sends what the room hears; a member that lags loses messages.
    let send = tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(msg) => {
                    if write.send(msg).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    while let Some(Ok(msg)) = read.next().await {
        if msg.is_text() {
            let _ = tx.send(msg);
        }
    }
    send.abort();
}
