//! Broadcast server on fastwebsockets, the usual way: every connection is in one room
//! (whatever its path); a text message goes through a `tokio::sync::broadcast` channel to
//! the write half of every member (`WebSocket::split`), each member's task writing it on.
//! Same room protocol as tokio-tungstenite-broadcast; a fan-out peer of `cargo xtask
//! bench-fanout`. Tokio current-thread runtime, as the fastwebsockets echo peer.

use fastwebsockets::{upgrade, Frame, OpCode, Payload, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

async fn handle_client(
    fut: upgrade::UpgradeFut,
    tx: broadcast::Sender<Bytes>,
) -> Result<(), WebSocketError> {
    let ws = fut.await?;
    let (mut read, mut write) = ws.split(tokio::io::split);
    let mut rx = tx.subscribe();
    // Each member's task sends what the room hears; a member that lags loses messages.
    let send = tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(msg) => {
                    let frame = Frame::text(Payload::Borrowed(&msg));
                    if write.write_frame(frame).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    loop {
        // Pongs and the close reply are not sent (the bench's client asks for none).
        let frame = read
            .read_frame::<_, WebSocketError>(&mut |_| async { Ok(()) })
            .await;
        let Ok(frame) = frame else { break };
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text => {
                let _ = tx.send(Bytes::copy_from_slice(&frame.payload));
            }
            _ => {}
        }
    }
    send.abort();
    Ok(())
}

fn main() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(peers::addr_arg()).await?;
        peers::announce(listener.local_addr()?);
        let (tx, _) = broadcast::channel::<Bytes>(1024);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let tx = tx.clone();
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let service = service_fn(move |mut req: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let (response, fut) = upgrade::upgrade(&mut req)?;
                        tokio::spawn(async move {
                            let _ = tokio::task::unconstrained(handle_client(fut, tx)).await;
                        });
                        Ok::<Response<Empty<Bytes>>, WebSocketError>(response)
                    }
                });
                let conn = http1::Builder::new()
                    .serve_connection(io, service)
                    .with_upgrades();
                let _ = conn.await;
            });
        }
    })
}
