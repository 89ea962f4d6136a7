//! What the peer echo servers share: the listen address from argv, the readiness line, the
//! limits, and TLS (`--tls-cert FILE --tls-key FILE` after the address, as ws-server's
//! examples take them); and [`bare`], the hand-written WebSocket of the floor peers.

pub mod bare;

/// Message and frame limit of every peer: 64 MiB, as configurable as each library allows.
pub const MAX_MESSAGE: usize = 64 << 20;

/// The listen address: the first argument, `127.0.0.1:9001` when absent.
pub fn addr_arg() -> String {
    std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_string())
}

/// Prints the readiness line the bench harness waits for, and flushes it.
pub fn announce(addr: std::net::SocketAddr) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// With `--tls-cert FILE --tls-key FILE` after the address: a TLS acceptor on rustls
/// with ring (ws-server's provider, X25519 first), ALPN http/1.1. Exits naming the file
/// on a bad one.
pub fn tls_acceptor() -> Option<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let args: Vec<String> = std::env::args().skip(2).collect();
    let (cert, key) = match args.as_slice() {
        [] => return None,
        [a, cert, b, key] if a == "--tls-cert" && b == "--tls-key" => (cert, key),
        _ => {
            eprintln!("usage: PEER [ADDR] [--tls-cert FILE --tls-key FILE]");
            std::process::exit(2);
        }
    };
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("{what}: {e}");
        std::process::exit(1);
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .unwrap_or_else(|e| fail(cert, &e));
    let key = PrivateKeyDer::from_pem_file(key).unwrap_or_else(|e| fail(key, &e));
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    {
        use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
        provider.kx_groups = vec![X25519, SECP256R1, SECP384R1];
    }
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| fail("rustls", &e))
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap_or_else(|e| fail("rustls", &e));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}
