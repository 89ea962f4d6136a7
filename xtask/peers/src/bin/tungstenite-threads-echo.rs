//! Echo server on blocking tungstenite, one OS thread per connection.

use std::net::{TcpListener, TcpStream};
use tungstenite::protocol::WebSocketConfig;

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(peers::addr_arg())?;
    peers::announce(listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        // Spawn failures (thread limit) drop the connection instead of the server.
        let _ = std::thread::Builder::new().spawn(move || serve(stream));
    }
    Ok(())
}

fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default()
        .max_message_size(Some(peers::MAX_MESSAGE))
        .max_frame_size(Some(peers::MAX_MESSAGE));
    let Ok(mut ws) = tungstenite::accept_with_config(stream, Some(config)) else {
        return;
    };
    loop {
        match ws.read() {
            Ok(msg) if msg.is_text() || msg.is_binary() => {
                if ws.send(msg).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}
