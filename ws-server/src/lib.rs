//! Actor-per-connection WebSocket server built on ws-codec, ws-handshake and actor-core.
//!
//! ws-server is the thin layer: sockets, threads, and the bridge between them
//! and the actors. Every accepted client gets one actor on an actor-core
//! runtime; the actor calls your [`Handler`]'s hooks one at a time, and its
//! mailbox takes messages from any other actor too, so a chat room, a timer or
//! a supervisor talks to a connection exactly as it talks to anything else.
//!
//! What it deliberately does not do: decide any rule of RFC 6455 or HTTP (frames,
//! masking, UTF-8, close codes and limits are ws-codec's; the upgrade, the
//! refusals and the origin policy are ws-handshake's), schedule anything
//! (actor-core does), TLS, compression, or HTTP beyond answering a request
//! that is not an upgrade.
//!
//! # Example
//!
//! An echo server, and a client built from ws-handshake's and ws-codec's client
//! sides over a plain `TcpStream`:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use ws_server::{Conn, Connect, Handler, Message, Server};
//!
//! struct Echo;
//! impl Handler for Echo {
//!     type State = ();
//!     fn on_connect(&self, _: &Conn, _: &ws_handshake::Request) -> Connect<()> {
//!         Connect::accept(())
//!     }
//!     fn on_message(&self, conn: &Conn, _: &mut (), message: Message) {
//!         let _ = match message {
//!             Message::Text(text) => conn.send_text(text.as_str()),
//!             Message::Binary(data) => conn.send_binary(&data),
//!         };
//!     }
//! }
//!
//! let server = Server::builder().bind("127.0.0.1:0").serve(Echo).unwrap();
//!
//! // The client: an upgrade request, then one masked text frame.
//! let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
//! tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
//! let request = ws_handshake::ClientRequest::new("localhost", "/");
//! tcp.write_all(&request.to_bytes().unwrap()).unwrap();
//! let mut client = ws_codec::Connection::client(ws_codec::Config::default(), || [7, 7, 7, 7]);
//! client.send_text("hello").unwrap();
//! while let Some(bytes) = client.poll_transmit() {
//!     tcp.write_all(&bytes).unwrap();
//! }
//!
//! // Read the 101, then the echo (they may come in one read or several).
//! let limits = ws_handshake::Limits::default();
//! let (mut head, mut chunk, mut upgraded) = (Vec::new(), [0u8; 1024], false);
//! let echo = loop {
//!     if let Some(event) = client.poll_event() {
//!         break event;
//!     }
//!     let n = tcp.read(&mut chunk).unwrap();
//!     assert!(n > 0, "the server closed early");
//!     if upgraded {
//!         client.handle_bytes(&chunk[..n]).unwrap();
//!         continue;
//!     }
//!     head.extend_from_slice(&chunk[..n]);
//!     if let Some((reply, used)) = ws_handshake::parse_response(&head, &request, &limits).unwrap() {
//!         assert!(matches!(reply, ws_handshake::Reply::Accepted(_)));
//!         upgraded = true;
//!         client.handle_bytes(&head[used..]).unwrap();
//!     }
//! };
//! assert_eq!(echo, ws_codec::Event::Text("hello".into()));
//! drop(tcp); // the client leaves; shutdown then has nothing to wait for
//! let report = server.shutdown(Duration::from_secs(5));
//! assert_eq!(report.forced, 0);
//! ```
//!
//! # Two bridges
//!
//! The bridge moves bytes between the sockets, the ws-codec state machines
//! and the actors. [`ServerBuilder::bridge`] chooses one of two; hooks, limits,
//! timeouts and `on_close` codes are the same on both, and every test of this
//! crate runs on both.
//!
//! ## The poll bridge ([`Bridge::Poll`], the default)
//!
//! One poller per server serves every connection with readiness-based I/O
//! (epoll through `mio`). When the server builds its own runtime, the
//! runtime's workers run it (actor-core's [`Driver`](actor_core::Driver) hook:
//! a worker with nothing to do blocks in the poller, so a message it reads
//! runs on that same worker); otherwise it has a thread of its own
//! (`ws-poll-PORT`; see [`ServerBuilder::poller_thread`]). The accept thread hands it each
//! admitted socket. It reads the request head without blocking, hands the
//! request to the actor and goes on when the hook's decision arrives; then it
//! reads into one buffer per poller, feeds the codec and pushes each message
//! into the actor's mailbox under its reserved tag. [`Conn`]'s sends encode
//! into the codec's queue and wake the poller only when nothing was queued
//! before; the poller writes what is queued in one vectored write and keeps
//! what did not fit until the socket is writable. Heartbeat, idle, close and
//! handshake timers of every connection live in one heap. An idle connection
//! holds no read buffer: a few KB per connection, the actor included.
//!
//! ## The thread bridge ([`Bridge::Threads`])
//!
//! Per connection there are two small threads (64–128 KiB stacks) and one actor:
//!
//! - the **reader** does the handshake under a deadline
//!   ([`ServerBuilder::handshake_timeout`]), hands the request to the actor
//!   (tag `u64::MAX - 4`) and waits for the hook's decision, writes the 101,
//!   then blocks in `read` and feeds what it reads to the ws-codec state
//!   machine. Each text or binary message goes into the actor's mailbox
//!   under a reserved tag (`u64::MAX - 1`, `u64::MAX - 2`); the end of the
//!   connection goes as `u64::MAX - 3` with the code for `on_close`. It counts
//!   the messages in flight and stops reading while the actor is
//!   [`mailbox_limit`](ServerBuilder::mailbox_limit) behind, so TCP pushes
//!   back on the client.
//! - the **writer** sleeps on a condition variable until bytes are queued or
//!   a timer is due, then writes everything queued in one vectored write.
//!   It runs the heartbeat (ping interval, pong deadline), the idle timeout
//!   and ws-codec's close timer. Writes block for at most half a second at a
//!   time, so a client that stops reading is still timed out.
//!
//! ## Common to both
//!
//! The **actor** runs the hooks on an actor-core worker; no worker ever
//! blocks on a socket, in the handshake, a read or a write. The bridge and
//! the actor share the ws-codec connection behind one mutex that is held
//! only around codec calls, never across I/O. Because the codec is sans-IO
//! and resumable, no read timeout or partial read can desynchronise the
//! stream, and pings, pongs and the close handshake are answered by the
//! bridge and the codec, never waiting on a busy handler. Both bridges sit
//! behind one crate-internal seam (`Io`: *notify*, *abort*, *interrupt_read*)
//! and share the head parsing, the feeding of the codec and the timer rules.
//!
//! # Hooks and `on_close`
//!
//! [`Handler::on_connect`] accepts (with a state, a subprotocol and extra
//! headers), rejects before the upgrade with any status, or upgrades and
//! closes at once (1008, the way a browser learns why). [`Handler::on_close`]
//! runs exactly once for every connection `on_connect` did not reject, with
//! the code that ended it: the peer's, the server's own (1001 on shutdown,
//! 1011 after a panic, 1008 on backpressure, the protocol error's code), or
//! 1006 when the TCP connection ended without a close frame. A panic in any
//! hook closes that connection with 1011, runs `on_close` with 1011 and ends
//! the actor with [`ExitReason::Panic`](actor_core::ExitReason::Panic), which
//! links and monitors see; no other connection notices.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod actor;
mod bridge;
mod config;
mod conn;
mod error;
mod handler;
mod link;
mod registry;
mod server;
mod session;
mod write;

pub use config::{
    Backpressure, Bridge, DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_HIGH_WATER,
    DEFAULT_MAILBOX_LIMIT, DEFAULT_MAX_CONNECTIONS, DEFAULT_PING_INTERVAL, DEFAULT_PONG_TIMEOUT,
    DEFAULT_READ_BUFFER_SIZE, DEFAULT_STACK_SIZE,
};
pub use conn::Conn;
pub use error::Error;
pub use handler::{Connect, Handler, Message, Response};
pub use server::{Server, ServerBuilder, ShutdownReport};

/// Re-exported so handlers need not name the dependency crates for these.
pub use bytes::Bytes;
pub use ws_codec::{CloseCode, EncodedFrame, Utf8Bytes};
pub use ws_handshake::{HttpRequest, Request};
