//! Test harness: a recording handler, tungstenite clients and raw sockets over 127.0.0.1.
#![allow(dead_code, unreachable_pub, clippy::result_large_err)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tungstenite::protocol::CloseFrame;
use tungstenite::stream::MaybeTlsStream;
pub use ws_server::Bridge;
use ws_server::{
    CloseCode, Conn, Connect, Ctx, Handler, HttpRequest, Message, Request, Response, Server,
    ServerBuilder,
};

/// Failure bound for every wait: generous, never a timing assertion.
pub const WAIT: Duration = Duration::from_secs(10);

/// What the recording handler saw.
#[derive(Debug)]
pub enum Ev {
    Connect(Conn, String),
    Msg(u64, Message),
    Info(u64, String),
    /// What a `Conn` call made from on_message returned (`ping:N`, `close:CODE`).
    Called(u64, String, Result<(), ws_server::Error>),
    Close {
        id: u64,
        had_state: bool,
        code: u16,
        reason: String,
    },
}

/// A handler whose behaviour is chosen by the request path and message text,
/// and that reports every hook call on a channel.
///
/// Paths: `/reject` refuses with 403; `/close` upgrades then closes with 1008;
/// `/panic` panics in on_connect; `/proto` accepts subprotocol `chat` with an
/// extra header. Texts: `panic` panics; `close` closes with 1000 "bye";
/// `ping:N` pings with N bytes of `p` and `close:CODE` closes with CODE and
/// "from a hook", both reporting what the call returned as [`Ev::Called`];
/// anything else is echoed. on_info: a `String` payload is sent back as
/// `info:<text>`, `"panic"` panics.
pub struct Recorder {
    tx: Mutex<Sender<Ev>>,
}

impl Recorder {
    pub fn new() -> (Recorder, Receiver<Ev>) {
        let (tx, rx) = mpsc::channel();
        (Recorder { tx: Mutex::new(tx) }, rx)
    }

    fn report(&self, ev: Ev) {
        let _ = self.tx.lock().unwrap().send(ev);
    }
}

impl Handler for Recorder {
    type State = String;

    fn on_http(&self, request: &HttpRequest) -> Option<Response> {
        (request.path() == "/page")
            .then(|| Response::new(200, "<p>hello</p>").header("Content-Type", "text/html"))
    }

    fn on_connect(&self, conn: &mut Ctx<'_>, request: &Request) -> Connect<String> {
        let path = request.path().to_owned();
        self.report(Ev::Connect(conn.clone(), path.clone()));
        match path.as_str() {
            "/reject" => Connect::Reject(Response::new(403, "go away").header("X-Reason", "test")),
            "/close" => Connect::Close(CloseCode::POLICY_VIOLATION, "not allowed".into()),
            "/panic" => panic!("on_connect panics on purpose"),
            "/proto" => Connect::Accept {
                state: path,
                protocol: Some("chat".into()),
                headers: vec![("X-Test".into(), "yes".into())],
            },
            _ => Connect::accept(path),
        }
    }

    fn on_message(&self, conn: &mut Ctx<'_>, _state: &mut String, message: Message) {
        match &message {
            Message::Text(t) if t.as_str() == "panic" => panic!("on_message panics on purpose"),
            Message::Text(t) if t.as_str() == "close" => {
                conn.close(CloseCode::NORMAL, "bye").unwrap();
            }
            Message::Text(t) if t.as_str().starts_with("ping:") => {
                let n: usize = t.as_str()["ping:".len()..].parse().expect("ping:N");
                let result = conn.ping(&vec![b'p'; n]);
                self.report(Ev::Called(conn.id(), t.as_str().to_owned(), result));
            }
            Message::Text(t) if t.as_str().starts_with("close:") => {
                let code: u16 = t.as_str()["close:".len()..].parse().expect("close:CODE");
                let result = conn.close(CloseCode(code), "from a hook");
                self.report(Ev::Called(conn.id(), t.as_str().to_owned(), result));
            }
            Message::Text(t) => {
                let _ = conn.send_text(t.as_str());
            }
            Message::Binary(b) => {
                let _ = conn.send_binary(b);
            }
        }
        self.report(Ev::Msg(conn.id(), message));
    }

    fn on_info(&self, conn: &mut Ctx<'_>, _state: &mut String, message: actor_core::Message) {
        if let Ok(text) = message.downcast::<String>() {
            if text == "panic" {
                panic!("on_info panics on purpose");
            }
            let _ = conn.send_text(&format!("info:{text}"));
            self.report(Ev::Info(conn.id(), text));
        }
    }

    fn on_close(&self, conn: &Conn, state: Option<String>, code: CloseCode, reason: &str) {
        self.report(Ev::Close {
            id: conn.id(),
            had_state: state.is_some(),
            code: code.0,
            reason: reason.to_owned(),
        });
    }
}

/// A deadline `WAIT` from now, for a loop of reads that each have their own timeout:
/// a peer that keeps sending (pings, say) cannot keep such a loop going forever.
pub fn deadline() -> Instant {
    Instant::now() + WAIT
}

/// Fails the test with `what` once `deadline` has passed.
pub fn check(deadline: Instant, what: &str) {
    assert!(
        Instant::now() < deadline,
        "{what}: not done within {WAIT:?}"
    );
}

/// Waits for the next event that `pick` accepts (others are skipped).
pub fn wait_for<T>(rx: &Receiver<Ev>, mut pick: impl FnMut(Ev) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ev) => {
                if let Some(t) = pick(ev) {
                    return t;
                }
            }
            Err(RecvTimeoutError::Timeout) => panic!("no matching event within {WAIT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("handler dropped"),
        }
    }
}

/// Waits for the connect event and returns the server-side handle.
pub fn wait_connect(rx: &Receiver<Ev>) -> Conn {
    wait_for(rx, |ev| match ev {
        Ev::Connect(c, _) => Some(c),
        _ => None,
    })
}

/// Waits for `on_close` of connection `id`: (had_state, code, reason).
pub fn wait_close(rx: &Receiver<Ev>, id: u64) -> (bool, u16, String) {
    wait_for(rx, |ev| match ev {
        Ev::Close {
            id: i,
            had_state,
            code,
            reason,
        } if i == id => Some((had_state, code, reason)),
        _ => None,
    })
}

/// Runs a test body `fn name(bridge: Bridge)` once per bridge, as the tests
/// `name::threads` and `name::poll`.
#[macro_export]
macro_rules! on_both_bridges {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn threads() {
                    super::$name(ws_server::Bridge::Threads)
                }
                #[test]
                fn poll() {
                    super::$name(ws_server::Bridge::Poll)
                }
            }
        )+
    };
}

pub fn builder(bridge: Bridge) -> ServerBuilder {
    Server::builder()
        .bind("127.0.0.1:0")
        .workers(2)
        .bridge(bridge)
}

pub fn start(bridge: Bridge) -> (Server, Receiver<Ev>) {
    start_with(builder(bridge))
}

pub fn start_with(builder: ServerBuilder) -> (Server, Receiver<Ev>) {
    let (handler, rx) = Recorder::new();
    (builder.serve(handler).expect("serve"), rx)
}

pub type Client = tungstenite::WebSocket<MaybeTlsStream<TcpStream>>;

/// A tungstenite client on `path`, with a read timeout as failure bound.
pub fn connect(addr: SocketAddr, path: &str) -> Client {
    try_connect(addr, path).expect("handshake")
}

pub fn try_connect(addr: SocketAddr, path: &str) -> Result<Client, tungstenite::Error> {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    let url = format!("ws://{addr}{path}");
    match tungstenite::client(url, MaybeTlsStream::Plain(tcp)) {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::HandshakeError::Failure(e)) => Err(e),
        Err(tungstenite::HandshakeError::Interrupted(_)) => {
            panic!("blocking handshake interrupted")
        }
    }
}

/// A tungstenite client on `path` whose upgrade request carries `headers` too
/// (an `Origin`, a `Sec-WebSocket-Protocol` offer); the 101's response with it.
pub fn try_connect_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, &str)],
) -> Result<(Client, tungstenite::handshake::client::Response), tungstenite::Error> {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}{path}"))?;
    for &(name, value) in headers {
        request
            .headers_mut()
            .append(name, value.parse().expect("header value"));
    }
    match tungstenite::client(request, MaybeTlsStream::Plain(tcp)) {
        Ok(done) => Ok(done),
        Err(tungstenite::HandshakeError::Failure(e)) => Err(e),
        Err(tungstenite::HandshakeError::Interrupted(_)) => {
            panic!("blocking handshake interrupted")
        }
    }
}

/// The status a refused tungstenite handshake got (panics on anything else).
pub fn refusal_status<T>(result: Result<T, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected an HTTP refusal, got an upgrade"),
    }
}

/// Reads the next data message (pings are answered by tungstenite).
pub fn read_msg(ws: &mut Client) -> tungstenite::Message {
    let end = deadline();
    loop {
        check(end, "waiting for a data message");
        match ws.read().expect("read") {
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => {}
            m => return m,
        }
    }
}

/// Reads until the server's close frame; returns its code and reason.
/// tungstenite answers it, so the close handshake completes.
pub fn read_close(ws: &mut Client) -> (u16, String) {
    let end = deadline();
    loop {
        check(end, "waiting for a close frame");
        match ws.read() {
            Ok(tungstenite::Message::Close(Some(CloseFrame { code, reason }))) => {
                return (u16::from(code), reason.to_string())
            }
            Ok(tungstenite::Message::Close(None)) => return (1005, String::new()),
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

/// Reads until the connection is over (after a close was exchanged).
pub fn drain_to_end(ws: &mut Client) {
    let end = deadline();
    loop {
        check(end, "waiting for the end of the connection");
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) | Err(tungstenite::Error::AlreadyClosed) => {
                return
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return
            }
            Err(e) => panic!("unexpected end: {e}"),
        }
    }
}

/// A raw client: the upgrade request by hand, then frames from ws-codec's client side.
pub struct Raw {
    pub tcp: TcpStream,
    pub codec: ws_codec::Connection,
    buf: Vec<u8>,
}

pub const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

impl Raw {
    /// Connects and upgrades; `extra` is sent in the same write as the head.
    pub fn connect(addr: SocketAddr, extra: &[u8]) -> Raw {
        Raw::connect_with(addr, UPGRADE, extra).0
    }

    /// Connects with the request head `head` (sent with `extra` in one write)
    /// and expects a 101; returns the client and the response head.
    pub fn connect_with(addr: SocketAddr, head: &str, extra: &[u8]) -> (Raw, String) {
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        tcp.set_write_timeout(Some(WAIT)).unwrap();
        let mut first = head.as_bytes().to_vec();
        first.extend_from_slice(extra);
        tcp.write_all(&first).unwrap();
        let mut raw = Raw {
            tcp,
            codec: ws_codec::Connection::client(
                ws_codec::Config::default()
                    .with_max_message_size(64 << 20)
                    .with_max_frame_size(64 << 20),
                || [1, 2, 3, 4],
            ),
            buf: Vec::new(),
        };
        let head = raw.read_head();
        assert!(head.starts_with("HTTP/1.1 101"), "not upgraded: {head}");
        (raw, head)
    }

    /// Reads an HTTP response head; what follows stays buffered for frames.
    pub fn read_head(&mut self) -> String {
        let end = deadline();
        loop {
            check(end, "waiting for a response head");
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end + 4]).into_owned();
                self.buf.drain(..end + 4);
                return head;
            }
            let mut chunk = [0u8; 4096];
            let n = self.tcp.read(&mut chunk).expect("read head");
            assert!(n > 0, "closed before a response head");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).unwrap();
    }

    /// The next event from the server, or None once the TCP connection ends.
    pub fn next_event(&mut self) -> Option<ws_codec::Event> {
        if !self.buf.is_empty() {
            let pending = std::mem::take(&mut self.buf);
            let _ = self.codec.handle_bytes(&pending);
        }
        let end = deadline();
        loop {
            check(end, "waiting for a frame");
            if let Some(ev) = self.codec.poll_event() {
                return Some(ev);
            }
            let mut chunk = [0u8; 16384];
            match self.tcp.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => {
                    let _ = self.codec.handle_bytes(&chunk[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("raw read: {e}"),
            }
        }
    }

    /// Reads until the server's close frame: its code.
    pub fn close_code(&mut self) -> u16 {
        let end = deadline();
        loop {
            check(end, "waiting for a close frame");
            match self.next_event() {
                Some(ws_codec::Event::Close(f)) => return f.code.0,
                Some(_) => {}
                None => panic!("connection ended without a close frame"),
            }
        }
    }

    /// Reads until the server closes the TCP connection.
    pub fn read_to_eof(&mut self) {
        let mut chunk = [0u8; 4096];
        let end = deadline();
        loop {
            check(end, "waiting for EOF");
            match self.tcp.read(&mut chunk) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
                Err(e) => panic!("waiting for EOF: {e}"),
            }
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends a raw HTTP request and returns the whole response (until EOF).
pub fn http(addr: SocketAddr, request: &str) -> String {
    http_bytes(addr, request.as_bytes())
}

/// Sends raw bytes and returns everything the server answers until it closes.
pub fn http_bytes(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    tcp.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = deadline();
    loop {
        check(end, "waiting for the server to close after its answer");
        match tcp.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("http read: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A masked frame from the client, encoded by hand for bad-input tests.
pub fn masked_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [9u8, 8, 7, 6];
    let mut out = vec![first];
    assert!(payload.len() < 126);
    out.push(0x80 | payload.len() as u8);
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// A client of the recording handler sends `text` (`"panic"`: the hook
/// panics; `"close:N"`: it closes with N) and must read a close with `code`;
/// returns once `on_close` ran.
pub fn close_by_message(addr: SocketAddr, rx: &Receiver<Ev>, text: &str, code: u16) {
    let mut ws = connect(addr, "/");
    let c = wait_connect(rx);
    ws.send(tungstenite::Message::text(text)).unwrap();
    assert_eq!(read_close(&mut ws).0, code);
    drain_to_end(&mut ws);
    wait_close(rx, c.id());
}

/// A raw client sends an unmasked frame (RFC 6455 §5.1): the server must
/// close with 1002; returns once `on_close` ran.
pub fn close_by_protocol_error(addr: SocketAddr, rx: &Receiver<Ev>) {
    let mut raw = Raw::connect(addr, b"");
    let c = wait_connect(rx);
    raw.send_raw(&[0x81, 0x02, b'h', b'i']);
    assert_eq!(raw.close_code(), 1002);
    raw.read_to_eof();
    wait_close(rx, c.id());
}
