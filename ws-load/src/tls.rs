//! `--tls-ca FILE`: wss. The connection's byte stream, plain or through a rustls client
//! (on ring, X25519 first as browsers offer it, no session resumption so every
//! connection pays a full handshake), behind one `Read + Write` the worker uses.

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

/// The name the certificate must carry (the upgrade's Host is the address).
const SERVER_NAME: &str = "localhost";

/// A client configuration trusting the PEM certificates in `ca`.
pub(crate) fn client_config(ca: &Path) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", ca.display()))?;
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    #[allow(deprecated)] // ring: no post-quantum groups, which this load does not need
    let mut provider = rustls::crypto::ring::default_provider();
    {
        use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
        provider.kx_groups = vec![X25519, SECP256R1, SECP384R1];
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A connection's byte stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<(TcpStream, ClientConnection)>),
}

impl Stream {
    /// `tcp`, through TLS when `config` is given.
    pub(crate) fn new(tcp: TcpStream, config: Option<&Arc<ClientConfig>>) -> io::Result<Stream> {
        let Some(config) = config else {
            return Ok(Stream::Plain(tcp));
        };
        let name = ServerName::try_from(SERVER_NAME).expect("a valid name");
        let conn = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
        Ok(Stream::Tls(Box::new((tcp, conn))))
    }

    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(b) => &b.0,
        }
    }

    /// Whether a short read means the socket is empty and a short write that it is
    /// full (so the next edge can be awaited): over TLS they only mean that rustls had
    /// no more plaintext, or took no more for now.
    pub(crate) fn short_is_edge(&self) -> bool {
        matches!(self, Stream::Plain(_))
    }
}

/// Writes rustls's records until none is left; `WouldBlock` if the socket is full.
fn flush_tls(tcp: &mut TcpStream, conn: &mut ClientConnection) -> io::Result<()> {
    while conn.wants_write() {
        if conn.write_tls(tcp)? == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (tcp, conn) = match self {
            Stream::Plain(tcp) => return tcp.read(buf),
            Stream::Tls(b) => (&mut b.0, &mut b.1),
        };
        loop {
            match conn.reader().read(buf) {
                Ok(n) => return Ok(n), // n == 0: close_notify
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // No plaintext: more records from the socket (WouldBlock once it is empty).
            if conn.read_tls(tcp)? == 0 {
                return Ok(0);
            }
            conn.process_new_packets().map_err(io::Error::other)?;
            // Handshake answers go out now (a full socket: the next write sends them).
            match flush_tls(tcp, conn) {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (tcp, conn) = match self {
            Stream::Plain(tcp) => return tcp.write(buf),
            Stream::Tls(b) => (&mut b.0, &mut b.1),
        };
        // Plaintext is taken only once earlier records are out, so a full socket
        // reads as WouldBlock (the worker then waits for the writable edge).
        flush_tls(tcp, conn)?;
        let n = conn.writer().write(buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match flush_tls(tcp, conn) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(b) => flush_tls(&mut b.0, &mut b.1),
        }
    }
}
