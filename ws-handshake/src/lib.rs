//! Pure HTTP/1.1 WebSocket upgrade handshake, server and client side (RFC 6455 §4).
//!
//! Bytes in, a validated request or response out, bytes to send back. The crate reads
//! no socket, keeps no clock and, on the server side, draws no randomness: a server
//! buffers what it has read and calls [`parse_request`] until it returns a
//! [`Request`], then writes [`Request::accept`]'s 101 or an [`Error`]'s rejection. A
//! client writes a [`ClientRequest`] and feeds the answer to [`parse_response`].
//!
//! What it does:
//! - incremental parsing: incomplete input is `Ok(None)`; a complete head reports how
//!   many bytes it took, so frames that arrived in the same read are handed on;
//! - [`Limits`] on head size (431), header count (431) and target length (414), decided
//!   from what is buffered, before buffering more;
//! - every rule of RFC 6455 §4.2.1 (server) and §4.1 (client) as one [`Error`] variant,
//!   each knowing its HTTP status and its rejection response;
//! - a request view over one owned copy of the head: path, query, case-insensitive
//!   headers (repeats kept), origin, offered subprotocols, offered [`Extension`]s with
//!   their parameters; one allocation per parse (the head copy; the field index is
//!   inline up to 24 fields);
//! - responses: the 101 with `Sec-WebSocket-Accept`, a chosen subprotocol (only an
//!   offered one), accepted extensions and extra headers; [`Rejection`]s with any
//!   status; every header value a caller passes is checked for CR/LF;
//! - permessage-deflate (RFC 7692): the server answers the first acceptable offer under
//!   a [`DeflateOptions`] policy ([`Accept::deflate`]), declining malformed offers as
//!   §5 asks; the client offers it ([`ClientRequest::deflate`]) and fails the
//!   connection on an answer that breaks §5; both sides get the same [`DeflateParams`]
//!   for their compressor, with no allocation spent on the negotiation;
//! - [`OriginPolicy`], against cross-site WebSocket hijacking (403);
//! - plain HTTP on the same port: when [`parse_request`]'s error
//!   [`is_not_upgrade`](Error::is_not_upgrade) (a page load, a POST), the same head
//!   reader gives an [`HttpRequest`] through [`parse_http_request`]: method, path,
//!   query, headers, under the same limits.
//!
//! What it deliberately does not do: sockets and TLS; HTTP bodies, keep-alive and
//! routing for plain requests (it reads their head only); frames (that is `ws-codec`, which
//! this crate does not depend on); HTTP/2 (RFC 8441) and HTTP/1.0; decoding a chunked
//! refusal body; compressing (the agreed [`DeflateParams`] are handed over; the
//! compression layer applies them); negotiating extensions other than permessage-deflate
//! (their offers are handed over parsed).
//!
//! # Server side
//!
//! ```
//! use ws_handshake::{parse_request, Limits, OriginPolicy};
//!
//! let limits = Limits::default();
//! let policy = OriginPolicy::same_host();
//! let mut buffered = Vec::new();
//! // Bytes arrive in pieces; the first frame came in the same read as the head's end.
//! let reads: [&[u8]; 2] = [
//!     b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n",
//!     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!       Origin: http://server.example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
//!       Sec-WebSocket-Version: 13\r\n\r\n\x81\x85",
//! ];
//! for read in reads {
//!     buffered.extend_from_slice(read);
//!     let (request, consumed) = match parse_request(&buffered, &limits) {
//!         Ok(None) => continue, // read more
//!         Ok(Some(done)) => done,
//!         Err(e) => {
//!             let _reply = e.to_bytes(); // write it, then close
//!             panic!("refused: {e}");
//!         }
//!     };
//!     let reply = match policy.check(&request) {
//!         Ok(()) => request.accept().protocol("chat").to_bytes().unwrap(),
//!         Err(e) => e.to_bytes(),
//!     };
//!     assert!(reply.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//!     let reply = String::from_utf8(reply).unwrap();
//!     assert!(reply.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
//!     assert!(reply.contains("\r\nSec-WebSocket-Protocol: chat\r\n"));
//!     // What followed the head belongs to the frame decoder.
//!     assert_eq!(&buffered[consumed..], b"\x81\x85");
//! }
//! ```
//!
//! # Client side
//!
//! ```
//! use ws_handshake::{parse_request, parse_response, ClientRequest, Limits, Reply};
//!
//! let limits = Limits::default();
//! let request = ClientRequest::from_url("ws://127.0.0.1:9001/echo")
//!     .unwrap()
//!     .protocol("chat")
//!     .extension("permessage-deflate; client_max_window_bits");
//! let sent = request.to_bytes().unwrap();
//!
//! // The server side of this crate, standing in for a real server.
//! let (server_view, _) = parse_request(&sent, &limits).unwrap().unwrap();
//! assert_eq!(server_view.host(), "127.0.0.1:9001");
//! let answer = server_view.accept().protocol("chat").to_bytes().unwrap();
//!
//! match parse_response(&answer, &request, &limits).unwrap() {
//!     Some((Reply::Accepted(accepted), consumed)) => {
//!         assert_eq!(accepted.protocol(), Some("chat"));
//!         assert_eq!(consumed, answer.len());
//!     }
//!     Some((Reply::Refused(refused), _)) => panic!("refused: {}", refused.status()),
//!     None => unreachable!("the answer is complete"),
//! }
//!
//! // A refusal comes back with its status, headers and body.
//! let refusal = ws_handshake::Rejection::new(403).body("no").to_bytes().unwrap();
//! let Some((Reply::Refused(refused), _)) = parse_response(&refusal, &request, &limits).unwrap()
//! else { panic!() };
//! assert_eq!((refused.status(), refused.body()), (403, &b"no"[..]));
//! ```

//!
//! # permessage-deflate
//!
//! ```
//! use ws_handshake::{
//!     parse_request, parse_response, ClientRequest, DeflateOptions, DeflateParams, Limits,
//!     Reply,
//! };
//!
//! let limits = Limits::default();
//! // Client: offer it as browsers do, `permessage-deflate; client_max_window_bits`.
//! let client = ClientRequest::from_url("ws://example.com/chat")
//!     .unwrap()
//!     .deflate(DeflateParams::default());
//! let sent = client.to_bytes().unwrap();
//!
//! // Server: answer under its policy (12-bit windows by default, to save memory).
//! let (request, _) = parse_request(&sent, &limits).unwrap().unwrap();
//! let accept = request.accept().deflate(&DeflateOptions::default());
//! let server_params = accept.deflate_params(); // None: no acceptable offer, no compression
//! let answer = accept.to_bytes().unwrap();
//!
//! // Client: the answer is checked against the offer.
//! let Some((Reply::Accepted(accepted), _)) = parse_response(&answer, &client, &limits).unwrap()
//! else { panic!() };
//! assert_eq!(accepted.deflate(), server_params);
//! let p = server_params.unwrap();
//! assert_eq!((p.server_max_window_bits, p.client_max_window_bits), (12, 12));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod accept;
mod client;
mod deflate;
mod error;
mod extension;
mod head;
mod http;
mod limits;
mod origin;
mod request;
mod response;
mod token;

pub use accept::{accept_key, GUID};
pub use client::{parse_response, Accepted, ClientRequest, Refused, Reply};
pub use deflate::{DeflateOptions, DeflateParams, DeflateResponse};
pub use error::{Error, Malformed};
pub use extension::{Extension, Param};
pub use http::{parse_http_request, HttpRequest};
pub use limits::Limits;
pub use origin::OriginPolicy;
pub use request::{parse_request, Request};
pub use response::{Accept, Rejection};
