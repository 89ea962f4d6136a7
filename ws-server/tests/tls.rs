//! TLS (wss and https) on the poll bridge, with a throwaway CA made at test
//! time: rustls clients driven over plain `TcpStream`s, certificate loading
//! and rotation, and the bad input a TLS port must survive.
#![allow(clippy::result_large_err)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use ws_server::tls::{self, CertResolver};
use ws_server::{Bridge, Error, Server, ServerBuilder};

type Wss = tungstenite::WebSocket<StreamOwned<ClientConnection, TcpStream>>;

/// A CA and certificates it signs, made now.
struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// A certificate for `localhost` signed by this CA, and its key.
    fn leaf(&self) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert, key)
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }
}

fn certified(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> Arc<rustls::sign::CertifiedKey> {
    let der = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let signing = tls::provider().key_provider.load_private_key(der).unwrap();
    Arc::new(rustls::sign::CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    ))
}

/// A server configuration for `localhost` signed by `ca`, and its resolver.
fn server_tls(ca: &Ca) -> (Arc<rustls::ServerConfig>, Arc<CertResolver>) {
    let (cert, key) = ca.leaf();
    let resolver = CertResolver::new(certified(&cert, &key));
    (tls::server_config(resolver.clone()).unwrap(), resolver)
}

fn client_config(
    ca: &Ca,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(ca.roots())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn tls_stream(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> StreamOwned<ClientConnection, TcpStream> {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    StreamOwned::new(ClientConnection::new(config, name).unwrap(), tcp)
}

fn try_wss(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    path: &str,
) -> Result<Wss, tungstenite::Error> {
    let stream = tls_stream(addr, config);
    match tungstenite::client(format!("wss://localhost:{}{path}", addr.port()), stream) {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::HandshakeError::Failure(e)) => Err(e),
        Err(tungstenite::HandshakeError::Interrupted(_)) => {
            panic!("blocking handshake interrupted")
        }
    }
}

fn wss(addr: SocketAddr, ca: &Ca) -> Wss {
    try_wss(addr, client_config(ca, rustls::DEFAULT_VERSIONS), "/").expect("wss handshake")
}

fn echo(ws: &mut Wss, text: &str) {
    ws.send(tungstenite::Message::text(text)).unwrap();
    match ws.read().unwrap() {
        tungstenite::Message::Text(t) => assert_eq!(t.as_str(), text),
        other => panic!("expected the echo, got {other:?}"),
    }
}

fn tls_builder(config: Arc<rustls::ServerConfig>) -> ServerBuilder {
    builder(Bridge::Poll).tls(config)
}

#[test]
fn echo_over_wss_and_the_handshake_is_visible_to_on_connect() {
    let ca = Ca::new("test CA");
    let (config, _) = server_tls(&ca);
    let (server, rx) = start_with(tls_builder(config));
    let mut ws = wss(server.local_addr(), &ca);
    let conn = wait_connect(&rx);
    let info = conn.tls().expect("TLS info set before on_connect");
    assert_eq!(info.server_name.as_deref(), Some("localhost"));
    assert_eq!(info.version, Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(info.alpn.as_deref(), Some(&b"http/1.1"[..]));
    echo(&mut ws, "hello over TLS");
    // A message larger than a TLS record (16 KiB) and than one read.
    let big = "x".repeat(200_000);
    echo(&mut ws, &big);
    ws.send(tungstenite::Message::binary(vec![7u8; 70_000]))
        .unwrap();
    match ws.read().unwrap() {
        tungstenite::Message::Binary(b) => assert_eq!(b.len(), 70_000),
        other => panic!("expected the binary echo, got {other:?}"),
    }
    ws.close(Some(tungstenite::protocol::CloseFrame {
        code: tungstenite::protocol::frame::coding::CloseCode::Normal,
        reason: "done".into(),
    }))
    .unwrap();
    let (_, code, _) = wait_close(&rx, conn.id());
    assert_eq!(code, 1000);
}

#[test]
fn tls12_clients_are_served_too() {
    let ca = Ca::new("test CA");
    let (config, _) = server_tls(&ca);
    let (server, rx) = start_with(tls_builder(config));
    let cfg = client_config(&ca, &[&rustls::version::TLS12]);
    let mut ws = try_wss(server.local_addr(), cfg, "/").expect("TLS 1.2 handshake");
    let conn = wait_connect(&rx);
    assert_eq!(
        conn.tls().unwrap().version,
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    echo(&mut ws, "one-two");
}

#[test]
fn a_plain_page_is_served_over_https() {
    let ca = Ca::new("test CA");
    let (config, _) = server_tls(&ca);
    let (server, _rx) = start_with(tls_builder(config));
    let mut s = tls_stream(
        server.local_addr(),
        client_config(&ca, rustls::DEFAULT_VERSIONS),
    );
    s.write_all(b"GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    // The server ends with close_notify, so this read ends cleanly.
    s.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("<p>hello</p>"), "{answer}");
}

#[test]
fn plain_and_tls_servers_run_side_by_side() {
    let ca = Ca::new("test CA");
    let (config, _) = server_tls(&ca);
    let (tls_server, _rx1) = start_with(tls_builder(config));
    let (plain_server, _rx2) = start(Bridge::Poll);
    let mut secure = wss(tls_server.local_addr(), &ca);
    let mut plain = connect(plain_server.local_addr(), "/");
    for i in 0..20 {
        echo(&mut secure, &format!("secure {i}"));
        plain
            .send(tungstenite::Message::text(format!("plain {i}")))
            .unwrap();
        assert_eq!(
            read_msg(&mut plain).into_text().unwrap().as_str(),
            format!("plain {i}")
        );
    }
    // Each port speaks only its own: a plain client on the TLS port fails.
    assert!(try_connect(tls_server.local_addr(), "/").is_err());
}

#[test]
fn a_new_certificate_is_served_to_new_handshakes_only() {
    let (old_ca, new_ca) = (Ca::new("old CA"), Ca::new("new CA"));
    let (config, resolver) = server_tls(&old_ca);
    let (server, _rx) = start_with(tls_builder(config));
    let addr = server.local_addr();
    let mut before = wss(addr, &old_ca);
    let (cert, key) = new_ca.leaf();
    resolver.set(certified(&cert, &key));
    // New handshakes get the new certificate: a client trusting only the
    // old CA is refused, one trusting the new CA gets in.
    let refused = try_wss(addr, client_config(&old_ca, rustls::DEFAULT_VERSIONS), "/");
    assert!(refused.is_err(), "the old certificate was served");
    let mut after = wss(addr, &new_ca);
    echo(&mut after, "new");
    // The connection made before keeps going.
    echo(&mut before, "old");
}

#[test]
fn the_thread_bridge_refuses_tls() {
    let ca = Ca::new("test CA");
    let (config, _) = server_tls(&ca);
    let (handler, _rx) = Recorder::new();
    let err = Server::builder()
        .bridge(Bridge::Threads)
        .tls(config)
        .serve(handler)
        .unwrap_err();
    assert!(matches!(err, Error::TlsNeedsPollBridge), "{err}");
    assert!(err.to_string().contains("poll bridge"), "{err}");
}

// ---- loading certificates and keys ----

/// A fresh directory for this test's files.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ws-server-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// The SEC1 `ECPrivateKey` inside a PKCS#8 EC key (its last OCTET STRING).
fn sec1_of(pkcs8: &[u8]) -> Vec<u8> {
    // One DER element at `at`: (content start, content end).
    fn element(der: &[u8], at: usize) -> (usize, usize) {
        let first = der[at + 1];
        if first < 0x80 {
            return (at + 2, at + 2 + first as usize);
        }
        let k = (first & 0x7f) as usize;
        let len = der[at + 2..at + 2 + k]
            .iter()
            .fold(0usize, |n, b| (n << 8) | *b as usize);
        (at + 2 + k, at + 2 + k + len)
    }
    let (start, _) = element(pkcs8, 0); // SEQUENCE
    let (_, version_end) = element(pkcs8, start); // INTEGER 0
    let (_, alg_end) = element(pkcs8, version_end); // AlgorithmIdentifier
    assert_eq!(pkcs8[alg_end], 0x04, "OCTET STRING");
    let (key_start, key_end) = element(pkcs8, alg_end);
    pkcs8[key_start..key_end].to_vec()
}

fn pem(label: &str, der: &[u8]) -> String {
    use std::fmt::Write as _;
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        let _ = writeln!(out, "{}", std::str::from_utf8(line).unwrap());
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

/// Loads the files into a server and echoes over it.
fn serve_and_echo(cert: &Path, key: &Path, roots: RootCertStore) {
    let resolver = tls::CertResolver::from_pem(cert, key).expect("load_pem");
    let (server, _rx) = start_with(tls_builder(tls::server_config(resolver).unwrap()));
    let mut config = ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut ws = try_wss(server.local_addr(), Arc::new(config), "/").expect("handshake");
    echo(&mut ws, "loaded");
}

#[test]
fn pem_keys_load_as_pkcs8_sec1_and_pkcs1() {
    let d = dir("formats");
    let ca = Ca::new("test CA");
    let (cert, key) = ca.leaf();
    // The chain file holds the leaf then the CA, as a real one does.
    let chain = write(&d, "chain.pem", cert.pem() + &ca.cert.pem());
    let pkcs8 = write(&d, "pkcs8.pem", key.serialize_pem());
    serve_and_echo(&chain, &pkcs8, ca.roots());
    let sec1 = write(
        &d,
        "sec1.pem",
        pem("EC PRIVATE KEY", &sec1_of(&key.serialize_der())),
    );
    serve_and_echo(&chain, &sec1, ca.roots());
    // An RSA key in PKCS#1 ("BEGIN RSA PRIVATE KEY") with its self-signed
    // certificate: made once with the openssl command line, as ring cannot
    // generate RSA keys (tests/data/).
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let rsa_cert = data.join("rsa-cert.pem");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&rsa_cert).unwrap())
        .unwrap();
    serve_and_echo(&rsa_cert, &data.join("rsa-pkcs1-key.pem"), roots);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn load_errors_name_the_file() {
    let d = dir("errors");
    let ca = Ca::new("test CA");
    let (cert, key) = ca.leaf();
    let (_, other_key) = ca.leaf();
    let cert_file = write(&d, "cert.pem", cert.pem());
    let key_file = write(&d, "key.pem", key.serialize_pem());
    let other_key_file = write(&d, "other-key.pem", other_key.serialize_pem());
    let garbage = write(&d, "garbage.pem", "not a PEM file\n");
    let missing = d.join("missing.pem");

    let err = tls::load_pem(&missing, &key_file).unwrap_err();
    assert!(
        matches!(err, Error::TlsFile { ref path, .. } if *path == missing),
        "{err}"
    );
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let err = tls::load_pem(&cert_file, &missing).unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let err = tls::load_pem(&garbage, &key_file).unwrap_err();
    assert!(
        matches!(err, Error::TlsPem { ref path, .. } if *path == garbage),
        "{err}"
    );
    assert!(err.to_string().contains("garbage.pem"), "{err}");

    // A certificate where the key should be: no private key in it.
    let err = tls::load_pem(&cert_file, &cert_file).unwrap_err();
    assert!(
        matches!(err, Error::TlsPem { ref path, .. } if *path == cert_file),
        "{err}"
    );

    let err = tls::load_pem(&cert_file, &other_key_file).unwrap_err();
    assert!(matches!(err, Error::TlsKeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("other-key.pem"), "{err}");
    assert!(err.to_string().contains("cert.pem"), "{err}");

    // A failed reload keeps the certificate in use.
    let resolver = CertResolver::from_pem(&cert_file, &key_file).unwrap();
    let before = resolver.current();
    assert!(resolver.reload(&cert_file, &other_key_file).is_err());
    assert!(Arc::ptr_eq(&before, &resolver.current()));
    let _ = std::fs::remove_dir_all(&d);
}

// ---- bad input on the TLS port ----

/// A TLS server with a short handshake timeout, and its CA.
fn guarded() -> (Server, Ca) {
    let ca = Ca::new("test CA");
    let (config, _) = server_tls(&ca);
    let (handler, _rx) = Recorder::new();
    let server = tls_builder(config)
        .handshake_timeout(Duration::from_millis(500))
        .serve(handler)
        .expect("serve");
    (server, ca)
}

/// Reads until the server closes the connection (EOF or reset); fails if it
/// is still open after `WAIT`, far past the handshake timeout.
/// The bad-input outcome: the server closed `tcp`, holds no connection and
/// still serves a good client.
fn closed_and_unharmed(tcp: TcpStream, server: &Server, ca: &Ca) {
    closed_by_server(tcp);
    no_connections_left(server);
    still_serves(server, ca);
}

fn closed_by_server(mut tcp: TcpStream) {
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let deadline = deadline();
    let mut buf = [0u8; 4096];
    loop {
        check(deadline, "the server closing the connection");
        match tcp.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("still open after {WAIT:?}")
            }
            Err(_) => return, // reset
        }
    }
}

/// Waits until the server holds no connection (bounded by `WAIT`).
fn no_connections_left(server: &Server) {
    let deadline = deadline();
    while server.connections() > 0 {
        check(deadline, "every bad connection ending");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Everyone else is still served.
fn still_serves(server: &Server, ca: &Ca) {
    let mut ws = wss(server.local_addr(), ca);
    echo(&mut ws, "still here");
}

/// The first flight of a real rustls client.
fn client_hello(ca: &Ca) -> Vec<u8> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut c = ClientConnection::new(client_config(ca, rustls::DEFAULT_VERSIONS), name).unwrap();
    let mut out = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut out).unwrap();
    }
    out
}

fn raw(server: &Server) -> TcpStream {
    let tcp = TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    tcp
}

#[test]
fn plain_http_to_the_tls_port_is_closed() {
    let (server, ca) = guarded();
    let mut tcp = raw(&server);
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    closed_and_unharmed(tcp, &server, &ca);
}

#[test]
fn a_plain_websocket_upgrade_to_the_tls_port_is_closed() {
    let (server, ca) = guarded();
    let mut tcp = raw(&server);
    tcp.write_all(UPGRADE.as_bytes()).unwrap();
    closed_and_unharmed(tcp, &server, &ca);
}

#[test]
fn random_bytes_are_closed() {
    let (server, ca) = guarded();
    // A fixed xorshift stream: random-looking, the same every run.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut tcp = raw(&server);
    // The server may close before all of it is written.
    let _ = tcp.write_all(&bytes);
    closed_and_unharmed(tcp, &server, &ca);
}

#[test]
fn half_a_client_hello_then_silence_is_closed() {
    let (server, ca) = guarded();
    let hello = client_hello(&ca);
    let mut tcp = raw(&server);
    tcp.write_all(&hello[..hello.len() / 2]).unwrap();
    closed_and_unharmed(tcp, &server, &ca);
}

#[test]
fn a_connection_that_sends_nothing_is_closed() {
    let (server, ca) = guarded();
    let tcp = raw(&server);
    closed_and_unharmed(tcp, &server, &ca);
}

#[test]
fn a_client_that_stops_reading_in_the_handshake_is_closed() {
    let (server, ca) = guarded();
    let mut tcp = raw(&server);
    tcp.write_all(&client_hello(&ca)).unwrap();
    // The server's flight waits unread; the server gives up at the
    // handshake timeout all the same.
    no_connections_left(&server);
    closed_by_server(tcp);
    still_serves(&server, &ca);
}

#[test]
fn many_bad_connections_at_once_leave_the_server_serving() {
    let (server, ca) = guarded();
    let hello = client_hello(&ca);
    let mut bad = Vec::new();
    for i in 0..40 {
        let mut tcp = raw(&server);
        match i % 4 {
            0 => {}
            1 => tcp.write_all(&hello[..hello.len() / 2]).unwrap(),
            2 => tcp.write_all(&hello).unwrap(),
            _ => {
                let _ = tcp.write_all(b"GET / HTTP/1.1\r\n\r\n");
            }
        }
        bad.push(tcp);
    }
    // Served while the bad ones are still there.
    still_serves(&server, &ca);
    no_connections_left(&server);
    for tcp in bad {
        closed_by_server(tcp);
    }
    still_serves(&server, &ca);
}

// ---- a client that stops reading, once upgraded ----

/// Backpressure over TLS, policy Drop: sends fail once the queue is over the
/// high-water mark (what rustls holds does not hide it), and when the client
/// reads again it gets every accepted message in order (the tail rustls held
/// when the socket filled is not lost).
#[test]
fn backpressure_over_tls_delivers_exactly_the_queued_messages_in_order() {
    const HIGH_WATER: usize = 64 * 1024;
    let ca = Ca::new("test CA");
    let (config, _) = server_tls(&ca);
    let (server, rx) = start_with(
        tls_builder(config)
            .ping_interval(None)
            .high_water(HIGH_WATER)
            .backpressure(ws_server::Backpressure::Drop),
    );
    let mut ws = wss(server.local_addr(), &ca); // does not read for now
    let conn = wait_connect(&rx);
    let message = |i: u32| {
        let mut m = vec![(i % 251) as u8; 16 * 1024];
        m[..4].copy_from_slice(&i.to_be_bytes());
        m
    };
    let (mut accepted, mut refused) = (Vec::new(), 0);
    // As in limits.rs: after each refusal a 1 ms park lets the poller write;
    // the loop ends after 100 refusals in a row (not a time).
    let (mut i, mut in_a_row) = (0u32, 0);
    while in_a_row < 100 {
        match conn.send_binary(&message(i)) {
            Ok(()) => {
                accepted.push(i);
                in_a_row = 0;
            }
            Err(Error::Backpressure { queued, .. }) => {
                assert!(queued >= HIGH_WATER, "refused with {queued} bytes queued");
                refused += 1;
                in_a_row += 1;
                std::thread::park_timeout(Duration::from_millis(1));
            }
            Err(e) => panic!("message {i}: {e}"),
        }
        i += 1;
        assert!(
            i < 100_000,
            "the high-water mark never refused 100 in a row"
        );
    }
    assert!(refused > 0 && conn.is_open());
    for &want in &accepted {
        match ws.read().unwrap() {
            tungstenite::Message::Binary(b) => {
                let got = u32::from_be_bytes(b[..4].try_into().unwrap());
                assert_eq!(got, want, "out of order or lost");
                assert_eq!(&b[..], &message(want)[..], "message {want} altered");
            }
            other => panic!("expected message {want}, got {other:?}"),
        }
    }
}

/// Backpressure over TLS, policy Close: a client that stops reading is
/// closed with 1008 once its queue passes the high-water mark, and the
/// close timeout ends it; another client is served throughout.
#[test]
fn backpressure_over_tls_closes_a_client_that_stops_reading() {
    let ca = Ca::new("test CA");
    let (config, _) = server_tls(&ca);
    let (server, rx) = start_with(
        tls_builder(config)
            .high_water(64 * 1024)
            .close_timeout(Duration::from_millis(500)),
    );
    let _slow = wss(server.local_addr(), &ca); // never reads
    let slow = wait_connect(&rx);
    let mut fast = wss(server.local_addr(), &ca);
    wait_connect(&rx);
    let chunk = vec![b'x'; 16 * 1024];
    let mut sent = 0;
    loop {
        match slow.send_binary(&chunk) {
            Ok(()) => sent += 1,
            Err(Error::Backpressure { .. }) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(sent < 100_000, "the high-water mark never refused a send");
    }
    assert!(matches!(slow.send_text("more"), Err(Error::Closed)));
    for i in 0..20 {
        echo(&mut fast, &format!("m{i}"));
    }
    let (_, code, reason) = wait_close(&rx, slow.id());
    assert_eq!((code, reason.as_str()), (1008, "backpressure"));
}

/// Regression: a frame pipelined behind the upgrade request in a TLS record
/// of its own, arriving in the same read, was dropped (the session had moved
/// on to deciding after the first record). It is echoed after the 101.
#[test]
fn a_frame_in_the_record_after_the_request_head_is_not_lost() {
    let ca = Ca::new("test CA");
    let (config, _) = server_tls(&ca);
    let (server, _rx) = start_with(tls_builder(config));
    let mut s = tls_stream(
        server.local_addr(),
        client_config(&ca, rustls::DEFAULT_VERSIONS),
    );
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).unwrap();
    }
    // Two writes: two records, sent to the socket together.
    s.conn.writer().write_all(UPGRADE.as_bytes()).unwrap();
    s.conn
        .writer()
        .write_all(&masked_frame(0x81, b"pipelined"))
        .unwrap();
    while s.conn.wants_write() {
        s.conn.write_tls(&mut s.sock).unwrap();
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = deadline();
    while find(&got, b"pipelined").is_none() {
        check(deadline, "the echo of the pipelined frame");
        let n = s.read(&mut buf).expect("the echo, before the read timeout");
        assert!(
            n > 0,
            "closed before the echo: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 101"));
}
