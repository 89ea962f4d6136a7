//! Criterion bench: the server's CPU per TLS handshake, the work the poller does for a
//! new wss client (rustls on ring). A rustls client and server are driven against each
//! other in memory, each on a thread of its own; only the CPU time of the server's thread
//! is counted: an ECDSA P-256 and an RSA-2048 certificate, TLS 1.3 and 1.2, full
//! handshakes over X25519 (what browsers offer first), one where the client resumes a
//! TLS 1.3 session, and one over P-384 (what a rustls client on *ring* offers first
//! unless told otherwise).

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use ws_server::tls;

/// A server configuration and a client that trusts its certificate.
fn configs(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    version: &'static rustls::SupportedProtocolVersion,
    resume: bool,
    kx: &'static dyn rustls::crypto::SupportedKxGroup,
) -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let signing = tls::provider().key_provider.load_private_key(key).unwrap();
    let resolver = tls::CertResolver::new(Arc::new(rustls::sign::CertifiedKey::new(
        chain.clone(),
        signing,
    )));
    let server = tls::server_config(resolver).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(chain[0].clone()).unwrap();
    // The client offers one group (browsers: X25519 first); the server follows it.
    let mut provider = (*tls::provider()).clone();
    provider.kx_groups = vec![kx];
    let mut client = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    if !resume {
        client.resumption = rustls::client::Resumption::disabled();
    }
    (server, Arc::new(client))
}

fn ecdsa() -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let cert = params.self_signed(&key).unwrap();
    let der = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    (vec![cert.der().clone()], der)
}

fn rsa() -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let cert = CertificateDer::from_pem_file(format!("{data}/rsa-cert.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{data}/rsa-pkcs1-key.pem")).unwrap();
    (vec![cert], key)
}

/// CPU time this thread has run (Linux's schedstat), so that other load on the machine
/// does not count.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    let ns = stat.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_nanos(ns)
}

/// `n` full handshakes, the client on a thread of its own; the CPU time of the server's
/// thread, which does nothing but the server's side (and pass bytes on channels).
fn handshakes(n: u64, server: &Arc<ServerConfig>, client: &Arc<ClientConfig>) -> Duration {
    let (to_server, from_client) = mpsc::channel::<(Vec<u8>, bool)>();
    let (to_client, from_server) = mpsc::channel::<Vec<u8>>();
    let client = Arc::clone(client);
    let peer = thread::spawn(move || {
        for _ in 0..n {
            let name = ServerName::try_from("localhost").unwrap();
            let mut c = ClientConnection::new(Arc::clone(&client), name).unwrap();
            loop {
                let mut flight = Vec::new();
                while c.wants_write() {
                    c.write_tls(&mut flight).unwrap();
                }
                let done = !c.is_handshaking();
                to_server.send((flight, done)).unwrap();
                let reply = from_server.recv().unwrap();
                let mut rd = &reply[..];
                while !rd.is_empty() {
                    c.read_tls(&mut rd).unwrap();
                    c.process_new_packets().unwrap();
                }
                if done {
                    break;
                }
            }
        }
    });
    let start = thread_cpu();
    for _ in 0..n {
        let mut s = ServerConnection::new(Arc::clone(server)).unwrap();
        loop {
            let (flight, done) = from_client.recv().unwrap();
            let mut rd = &flight[..];
            while !rd.is_empty() {
                s.read_tls(&mut rd).unwrap();
                s.process_new_packets().unwrap();
            }
            let mut reply = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut reply).unwrap();
            }
            to_client.send(reply).unwrap();
            if done {
                assert!(!s.is_handshaking());
                break;
            }
        }
    }
    let spent = thread_cpu() - start;
    peer.join().unwrap();
    spent
}

fn bench(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("tls handshake, server side");
    use rustls::crypto::ring::kx_group::{SECP384R1, X25519};
    let (tls13, tls12) = (&rustls::version::TLS13, &rustls::version::TLS12);
    let cases = [
        ("ecdsa-p256 x25519 tls1.3", ecdsa(), tls13, false, X25519),
        ("ecdsa-p256 x25519 tls1.2", ecdsa(), tls12, false, X25519),
        ("rsa-2048 x25519 tls1.3", rsa(), tls13, false, X25519),
        (
            "ecdsa-p256 x25519 tls1.3 resumed",
            ecdsa(),
            tls13,
            true,
            X25519,
        ),
        ("ecdsa-p256 p384 tls1.3", ecdsa(), tls13, false, SECP384R1),
    ];
    for (name, (chain, key), version, resume, kx) in cases {
        let (server, client) = configs(chain, key, version, resume, kx);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| handshakes(iters, &server, &client))
        });
    }
    // What the TLS 1.3 session tickets sent after a full handshake cost the server
    // (rustls sends 2 by default, and so does the server).
    let (chain, key) = ecdsa();
    let (server, client) = configs(chain, key, tls13, false, X25519);
    for tickets in [0, 1, 2] {
        let mut server = (*server).clone();
        server.send_tls13_tickets = tickets;
        let server = Arc::new(server);
        let name = format!("ecdsa-p256 x25519 tls1.3 {tickets} tickets");
        g.bench_function(&name, |b| {
            b.iter_custom(|iters| handshakes(iters, &server, &client))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
