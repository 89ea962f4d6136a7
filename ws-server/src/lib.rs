//! Actor-per-connection WebSocket server built on ws-codec, ws-handshake and actor-core.
//!
//! ws-server is the thin layer: sockets, threads, and the bridge between them
//! and the actors. Every accepted client gets one actor on an actor-core
//! runtime; the actor calls your [`Handler`]'s hooks one at a time, and its
//! mailbox takes messages from any other actor too, so a chat room, a timer or
//! a supervisor talks to a connection exactly as it talks to anything else.
//!
//! What it deliberately does not do: decide any rule of RFC 6455 or HTTP (frames,
//! masking, UTF-8, close codes, limits and permessage-deflate are ws-codec's;
//! the upgrade, the refusals, the origin policy and the extension's
//! negotiation are ws-handshake's), schedule anything (actor-core does),
//! or HTTP beyond answering a request that is not an upgrade. TLS (wss and
//! https) is rustls's, on the default bridge: [`ServerBuilder::tls`] and [`tls`].
//! permessage-deflate is off unless [`ServerBuilder::permessage_deflate`]
//! turns it on ([`DEFAULT_DEFLATE`]: no context takeover, so idle
//! connections hold no compression state).
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
//! use ws_server::{Connect, Ctx, Handler, Message, Server};
//!
//! struct Echo;
//! impl Handler for Echo {
//!     type State = ();
//!     fn on_connect(&self, _: &mut Ctx<'_>, _: &ws_handshake::Request) -> Connect<()> {
//!         Connect::accept(())
//!     }
//!     fn on_message(&self, conn: &mut Ctx<'_>, _: &mut (), message: Message) {
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
//! Pollers serve the connections with readiness-based I/O (epoll through
//! `mio`). When the server builds its own runtime, each worker runs a poller
//! of its own (actor-core's [`Driver`](actor_core::Driver) hook: a worker
//! with nothing to do blocks in its poller, so a message it reads runs on
//! that same worker); otherwise one poller has a thread of its own
//! (`ws-poll-PORT`; see [`ServerBuilder::poller_thread`]). The accept thread
//! hands each admitted socket to the poller with the fewest connections. It reads the request head without blocking and goes on
//! when the hook's decision arrives; then it reads into one buffer per
//! poller and hands what it read to the connection's session, which hands
//! each message to the actor's mailbox under its reserved tag. A send from
//! [`Conn`] writes its frame to the socket at once (one non-blocking vectored
//! write) while the socket takes bytes; what does not fit goes out when the
//! socket is writable. Deadlines of every connection live in one heap. An
//! idle connection holds no read buffer: a few KB per connection, the actor
//! included.
//!
//! ## The thread bridge ([`Bridge::Threads`])
//!
//! Per connection there are two small threads (64–128 KiB stacks) and one actor:
//!
//! - the **reader** reads the request head under the session's deadline
//!   ([`ServerBuilder::handshake_timeout`]), waits for the hook's decision
//!   and writes any HTTP answer; once upgraded it blocks in `read` and hands
//!   what it reads to the session. While the actor is
//!   [`mailbox_limit`](ServerBuilder::mailbox_limit) messages or
//!   [`mailbox_bytes`](ServerBuilder::mailbox_bytes) behind it stops
//!   reading, so TCP pushes back on the client.
//! - the **writer** sleeps on a condition variable until the session has
//!   bytes or a deadline (heartbeat, pong, idle, close), then writes
//!   everything queued in one vectored write. Writes block for at most half a
//!   second at a time, so a client that stops reading is still timed out.
//!
//! Messages reach the actor under reserved tags: text `u64::MAX - 1`, binary
//! `u64::MAX - 2`, the end of the connection `u64::MAX - 3` (with the code for
//! `on_close`), the request `u64::MAX - 4`. Only the bridge can send them.
//!
//! ## Common to both
//!
//! The **session** (crate-internal, sans-IO) holds each connection's whole
//! life: the request head and its deadline, the hook's decision, the 101,
//! the heartbeat, idle and close timers, the deferred protocol failure,
//! backpressure and the end of the transport. The bridges only read, write,
//! wait and wake; hooks, limits, timeouts and `on_close` codes are the same on
//! both because they are the session's.
//!
//! The **actor** runs the hooks on an actor-core worker; no worker ever
//! blocks on a socket, in the handshake, a read or a write. The bridge and
//! the actor share the session behind one mutex that is held only around
//! session calls (and a send's one non-blocking write), never across blocking
//! I/O. Because the codec is sans-IO and resumable, no read timeout or partial
//! read can desynchronise the stream, and pings, pongs and the close
//! handshake are answered by the session, never waiting on a busy handler.
//!
//! # permessage-deflate
//!
//! Off unless [`ServerBuilder::permessage_deflate`] turns it on; the examples use
//! [`DEFAULT_DEFLATE`]. Memory each idle connection keeps, by what the server agrees to
//! (ws-codec's counting allocator after one ~2 KiB message each way: `cargo test -p
//! ws-codec --test deflate_memory -- --nocapture`):
//!
//! | configuration | held per idle connection |
//! |---|---:|
//! | deflate off | 1.8 KB |
//! | [`DEFAULT_DEFLATE`]: 12-bit windows, no context takeover either way | 0.6 KB |
//! | no server context takeover, the client keeps its context (the inflater stays) | 48 KB |
//! | context takeover both ways, 10-bit windows | 301 KB |
//! | context takeover both ways, 12-bit windows | 314 KB |
//! | context takeover both ways, 15-bit windows (RFC 7692's defaults) | 428 KB |
//!
//! The compressor dominates (zlib-rs's hash table and buffers, whatever the window), so no
//! server context takeover is the setting that matters. Whole-server figures, the echo
//! example holding 1000 connections after one ~1 KiB JSON echo each (`cargo xtask bench
//! --compressed`, docs/benchmarks.md): 9.4 KB per connection with [`DEFAULT_DEFLATE`]
//! against 3.7 KB uncompressed (Node `ws` with `perMessageDeflate`: 260 KB, Python
//! `websockets`: 64 KB). A broadcast compresses once: [`encode_text`] and
//! [`encode_binary`].
//!
//! # Limits and their defaults
//!
//! Everything a peer can make the server hold is bounded, in bytes of memory
//! where it is memory. Beside each limit, what python-websockets 16 (`serve`,
//! asyncio) and tungstenite 0.24 (`WebSocketConfig::default()`) default to; "—"
//! where they have no such limit.
//!
//! | what | knob ([`ServerBuilder`]) | default here | python-websockets | tungstenite |
//! |---|---|---|---|---|
//! | message size | [`max_message_size`](ServerBuilder::max_message_size) | 1 MiB (1009 over it) | `max_size` 1 MiB | `max_message_size` 64 MiB |
//! | frame size | [`max_frame_size`](ServerBuilder::max_frame_size) | 1 MiB, checked from the header | (`max_size`) | `max_frame_size` 16 MiB |
//! | fragments per message | [`max_fragments`](ServerBuilder::max_fragments) | 4096 | — | — |
//! | request head | [`handshake_limits`](ServerBuilder::handshake_limits) | 8 KiB, 64 headers | — (not compared) | — (not compared) |
//! | time to send the head | [`handshake_timeout`](ServerBuilder::handshake_timeout) | 10 s | `open_timeout` 10 s | — |
//! | handshakes in progress | [`max_handshakes`](ServerBuilder::max_handshakes) | 1024; over it a new connection waits (≤ 1024 wait, ≤ the handshake timeout) | — | — |
//! | ... from one address | [`max_handshakes_per_ip`](ServerBuilder::max_handshakes_per_ip) | 64; over it a new connection waits its turn | — | — |
//! | connections past the head | [`max_connections`](ServerBuilder::max_connections) | 10 000; over it 503 | — | — |
//! | outbound queue | [`high_water`](ServerBuilder::high_water) | 1 MiB of memory (bytes + 80 per frame); then [`Backpressure`] (1008) and no more reading | `write_limit` 32 KiB (a send waits) | `write_buffer_size` 128 KiB, `max_write_buffer_size` unlimited |
//! | pongs waiting | (ws-codec) | 32, newer pings replace the newest; no reading while they cannot be written | — | one (replaced) |
//! | messages waiting for the handler | [`mailbox_limit`](ServerBuilder::mailbox_limit) | 256 messages (plus one read's worth) | `max_queue` 16 messages | — (the caller reads) |
//! | ... their memory | [`mailbox_bytes`](ServerBuilder::mailbox_bytes) | 4 MiB (payloads + 96 per message), plus one message | — | — |
//! | heartbeat ping | [`ping_interval`](ServerBuilder::ping_interval) | 30 s | `ping_interval` 20 s | — |
//! | its pong | [`pong_timeout`](ServerBuilder::pong_timeout) | 20 s (then 1006) | `ping_timeout` 20 s (then 1011) | — |
//! | no data either way | [`idle_timeout`](ServerBuilder::idle_timeout) | off | — | — |
//! | close handshake | [`close_timeout`](ServerBuilder::close_timeout) | 5 s | `close_timeout` 10 s | — |
//! | bytes per read | [`read_buffer_size`](ServerBuilder::read_buffer_size) | 16 KiB (one buffer per poller) | — | — |
//!
//! A peer that sends and never reads is stalled by TCP, not read without end:
//! while its outbound queue is at `high_water`, or while the socket takes
//! nothing and the 32 pongs wait, the server stops reading it; a ping flood
//! costs a few KB. With the heartbeat on, such a peer never answers its ping
//! (only the echo of the heartbeat's own payload counts) and `pong_timeout`
//! ends it with 1006. Over a handshake cap the new TCP connection is closed at
//! once without an answer, since an answer costs what the cap protects; over
//! `max_connections` a client gets 503.
//!
//! A panic in bridge code (the poller or a bridge thread: a bug) is caught,
//! reported on stderr and costs only the connection it was driving, which is
//! aborted with `on_close` 1011; the worker or thread goes on.
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
//!
//! # Topics
//!
//! Publish/subscribe is part of the library: [`Conn::subscribe`] and
//! [`Conn::unsubscribe`] (a connection leaves every topic when it ends), and
//! [`Topics::publish`] from any thread, which encodes (and compresses) a message once and
//! queues the same bytes on every subscriber without blocking: a slow subscriber meets its
//! own backpressure policy. What is and is not guaranteed (order per publisher and topic,
//! at most once) is on the [`Topics`] type. Servers share topics across processes
//! through a [`Broker`]: [`RedisBroker`] (Redis pub/sub, on threads of its own), or
//! [`MemoryBus`] in tests.

// One `unsafe` block, allowed where it stands: `bridge::poll::sock::append_with`.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod actor;
mod admission;
mod bridge;
mod broadcast;
mod config;
mod conn;
mod ctx;
mod error;
mod handler;
mod link;
mod listen;
mod metrics;
mod registry;
mod server;
mod session;
mod stats;
pub mod tls;
mod topics;
mod write;

pub use broadcast::{encode_binary, encode_text};
pub use config::{
    Backpressure, Bridge, DEFAULT_CLOSE_TIMEOUT, DEFAULT_DEFLATE, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_HIGH_WATER, DEFAULT_MAILBOX_BYTES, DEFAULT_MAILBOX_LIMIT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HANDSHAKES, DEFAULT_MAX_HANDSHAKES_PER_IP, DEFAULT_PING_INTERVAL,
    DEFAULT_PONG_TIMEOUT, DEFAULT_READ_BUFFER_SIZE, DEFAULT_STACK_SIZE,
};
pub use conn::Conn;
pub use ctx::Ctx;
pub use error::Error;
pub use handler::{Connect, Handler, Message, Response};
pub use metrics::Metrics;
pub use server::{Server, ServerBuilder, ShutdownReport};
pub use stats::Stats;
pub use tls::TlsInfo;
pub use topics::{
    Broker, BrokerStats, Inbound, MemoryBroker, MemoryBus, Payload, Published, RedisBroker, Topics,
};

/// Re-exported so handlers need not name the dependency crates for these.
pub use bytes::Bytes;
pub use ws_codec::{CloseCode, EncodedFrame, Utf8Bytes};
pub use ws_handshake::{DeflateOptions, HttpRequest, Request};
