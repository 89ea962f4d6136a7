//! TLS (wss and https) with rustls: loading a certificate and its key,
//! rotating them without a restart, and the one type a bridge calls to turn
//! socket bytes into plaintext and back (`TlsConn`).
//!
//! rustls's [`ServerConnection`] is sans-IO, like the connection's session
//! behind it: the bridge reads ciphertext into its buffer and feeds it
//! (`TlsConn::feed`); the plaintext goes on to the session; what the session
//! writes goes through `TlsConn::writer`, which encrypts and writes without blocking.
//! Nothing else in the crate knows rustls's insides. The crypto provider is
//! *ring* ([`provider`]): it builds with only a C compiler.
//!
//! ```no_run
//! use ws_server::tls;
//! # fn main() -> Result<(), ws_server::Error> {
//! let certs = tls::CertResolver::from_pem("cert.pem", "key.pem")?;
//! let config = tls::server_config(certs.clone())?;
//! // ... Server::builder().tls(config).serve(handler) ...
//! // Later, a renewed certificate: new handshakes take it, open connections keep theirs.
//! certs.reload("cert.pem", "key.pem")?;
//! # Ok(())
//! # }
//! ```

use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

pub use rustls;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};

use crate::error::Error;

/// The ALPN protocol the server speaks (RFC 7301): WebSocket upgrades and
/// plain pages are both HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider the helpers here build with: rustls on *ring*, which
/// builds with only a C compiler (aws-lc-rs compiles all of AWS-LC). rustls
/// marks it deprecated because *ring* has no post-quantum key exchange;
/// X25519 and the NIST curves are what it negotiates.
///
/// Key exchange groups in the order X25519, P-256, P-384: rustls's *ring*
/// provider lists P-384 first, and a server follows the client's order, so
/// a rustls client built on this provider would otherwise make both sides
/// pay for P-384 (*ring*'s generic big-number code: about 10x the CPU of
/// X25519 per handshake, measured by `benches/tls_handshake.rs`).
#[must_use]
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups = vec![X25519, SECP256R1, SECP384R1];
    Arc::new(provider)
}

/// What the TLS handshake settled, visible to the hooks through
/// [`Conn::tls`](crate::Conn::tls) (already set when `on_connect` runs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The name the client asked for (SNI), if it sent one.
    pub server_name: Option<String>,
    /// The negotiated protocol version (TLS 1.2 or 1.3).
    pub version: Option<rustls::ProtocolVersion>,
    /// The negotiated ALPN protocol (`http/1.1`), if the client offered ALPN.
    pub alpn: Option<Vec<u8>>,
    /// The negotiated cipher suite.
    pub cipher_suite: Option<rustls::CipherSuite>,
}

fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::TlsFile {
        path: path.to_owned(),
        source,
    })
}

/// Loads a PEM certificate chain (end-entity first) and a PEM private key
/// (PKCS#8, SEC1 or PKCS#1), and checks that the key matches the
/// certificate. Every error names the file at fault.
pub fn load_pem(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Arc<CertifiedKey>, Error> {
    let (cert, key) = (cert.as_ref(), key.as_ref());
    let pem_error = |path: &Path, what: &'static str| Error::TlsPem {
        path: path.to_owned(),
        what,
    };
    let cert_pem = read_file(cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| pem_error(cert, "not a valid PEM certificate"))?;
    if chain.is_empty() {
        return Err(pem_error(cert, "no CERTIFICATE block"));
    }
    let key_pem = read_file(key)?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| pem_error(key, "no PKCS#8, SEC1 or PKCS#1 private key"))?;
    let signing = provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|source| Error::TlsKey {
            path: key.to_owned(),
            source,
        })?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(Error::TlsKeyMismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
            })
        }
        Err(_) => return Err(pem_error(cert, "not a valid X.509 certificate")),
    }
    Ok(Arc::new(certified))
}

/// The certificate new handshakes get, replaceable while the server runs
/// (rotation without a restart): connections already open keep the one they
/// were made with.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// A resolver serving `key` to every client (whatever its SNI name).
    #[must_use]
    pub fn new(key: Arc<CertifiedKey>) -> Arc<CertResolver> {
        Arc::new(CertResolver {
            current: RwLock::new(key),
        })
    }

    /// A resolver serving the chain and key in these PEM files ([`load_pem`]).
    pub fn from_pem(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Arc<CertResolver>, Error> {
        Ok(CertResolver::new(load_pem(cert, key)?))
    }

    /// New handshakes get `key` from now on.
    pub fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
    }

    /// Loads the PEM files again ([`load_pem`]) and serves them from now on;
    /// on an error the certificate in use stays.
    pub fn reload(&self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<(), Error> {
        self.set(load_pem(cert, key)?);
        Ok(())
    }

    /// The certificate new handshakes get.
    #[must_use]
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// A server configuration on [`provider`] with rustls's safe default
/// versions (TLS 1.3 and 1.2), no client authentication, certificates from
/// `certs`, and ALPN `http/1.1`.
pub fn server_config(certs: Arc<dyn ResolvesServerCert>) -> Result<Arc<ServerConfig>, Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

/// `config` as the server uses it: ALPN `http/1.1` unless it names protocols itself.
pub(crate) fn with_alpn(config: Arc<ServerConfig>) -> Arc<ServerConfig> {
    if !config.alpn_protocols.is_empty() {
        return config;
    }
    let mut config = (*config).clone();
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Arc::new(config)
}

/// What [`TlsConn::feed`] gave besides plaintext.
#[derive(Debug, Default)]
pub(crate) struct Fed {
    /// The handshake finished during this feed: what it settled.
    pub(crate) handshake: Option<TlsInfo>,
    /// The peer sent close_notify: its input is over.
    pub(crate) closed: bool,
}

/// One connection's TLS state, shared by its bridge (reads, writes) and its
/// sends (writes). Only ever locked under the session's lock, so the two
/// never contend.
pub(crate) struct TlsConn {
    conn: Mutex<ServerConnection>,
}

impl std::fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConn").finish_non_exhaustive()
    }
}

impl TlsConn {
    pub(crate) fn new(config: &Arc<ServerConfig>) -> Result<TlsConn, rustls::Error> {
        Ok(TlsConn {
            conn: Mutex::new(ServerConnection::new(Arc::clone(config))?),
        })
    }

    fn lock(&self) -> MutexGuard<'_, ServerConnection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes ciphertext read from the socket and hands every byte of
    /// plaintext it holds to `plain`, in order. An error is fatal: rustls
    /// has queued its alert, and the connection should be flushed and closed.
    pub(crate) fn feed(
        &self,
        mut data: &[u8],
        mut plain: impl FnMut(&[u8]),
    ) -> Result<Fed, rustls::Error> {
        let mut c = self.lock();
        let mut fed = Fed::default();
        let handshaking = c.is_handshaking();
        while !data.is_empty() && !fed.closed {
            match c.read_tls(&mut data) {
                Ok(0) => break,
                Ok(_) => {}
                // Only when the plaintext buffer is full, which draining
                // below after every read rules out.
                Err(_) => return Err(rustls::Error::General("TLS input refused".into())),
            }
            let state = c.process_new_packets()?;
            let mut reader = c.reader();
            loop {
                let n = match reader.fill_buf() {
                    Ok([]) => {
                        // Ok and empty: close_notify was received.
                        fed.closed = true;
                        break;
                    }
                    Ok(chunk) => {
                        plain(chunk);
                        chunk.len()
                    }
                    Err(_) => break, // WouldBlock: nothing more for now
                };
                reader.consume(n);
            }
            fed.closed |= state.peer_has_closed();
        }
        if handshaking && !c.is_handshaking() {
            fed.handshake = Some(TlsInfo {
                server_name: c.server_name().map(str::to_owned),
                version: c.protocol_version(),
                alpn: c.alpn_protocol().map(<[u8]>::to_vec),
                cipher_suite: c.negotiated_cipher_suite().map(|s| s.suite()),
            });
        }
        Ok(fed)
    }

    /// Writes queued TLS records to `sock` until none is left (`Ok(true)`)
    /// or it would block (`Ok(false)`).
    pub(crate) fn flush(&self, sock: impl Write) -> io::Result<bool> {
        flush(&mut self.lock(), sock)
    }

    /// The transport is ending: queue close_notify (once) and flush.
    pub(crate) fn close(&self, sock: impl Write) -> io::Result<bool> {
        let mut c = self.lock();
        c.send_close_notify();
        flush(&mut c, sock)
    }

    /// A plaintext writer over `sock` for the session's `write_to`.
    pub(crate) fn writer<W: Write>(&self, sock: W) -> TlsWriter<'_, W> {
        TlsWriter {
            conn: self.lock(),
            sock,
        }
    }
}

fn flush(c: &mut ServerConnection, mut sock: impl Write) -> io::Result<bool> {
    while c.wants_write() {
        match c.write_tls(&mut sock) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Plaintext in, records out to a non-blocking socket, in one writev with any
/// records still queued (the session tickets that follow a handshake, the tail
/// of an earlier write). rustls takes plaintext up to its buffer limit (64 KiB
/// of records waiting); once it is full, plaintext is taken only after those
/// records are on the socket, so what waits in rustls is bounded and a socket
/// that takes nothing makes the session see `WouldBlock`, as it would without
/// TLS.
pub(crate) struct TlsWriter<'a, W> {
    conn: MutexGuard<'a, ServerConnection>,
    sock: W,
}

impl<W: Write> TlsWriter<'_, W> {
    /// Encrypts what rustls takes of the plaintext (making room first if its
    /// buffer is full) and writes every queued record.
    fn put(
        &mut self,
        len: usize,
        mut encrypt: impl FnMut(&mut ServerConnection) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut n = encrypt(&mut self.conn)?;
        if n == 0 && len > 0 {
            if !flush(&mut self.conn, &mut self.sock)? {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            n = encrypt(&mut self.conn)?;
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        // Taken: records that do not fit now go on the next write or
        // writability edge (the would-block has armed it).
        flush(&mut self.conn, &mut self.sock)?;
        Ok(n)
    }
}

impl<W: Write> Write for TlsWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.put(buf.len(), |c| c.writer().write(buf))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.put(len, |c| c.writer().write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        if flush(&mut self.conn, &mut self.sock)? {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_is_added_only_when_none_is_set() {
        let certs = {
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            let der = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
            let signing = provider().key_provider.load_private_key(der).unwrap();
            CertResolver::new(Arc::new(CertifiedKey::new(
                vec![cert.der().clone()],
                signing,
            )))
        };
        let config = server_config(certs).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let mut bare = (*config).clone();
        bare.alpn_protocols.clear();
        assert_eq!(
            with_alpn(Arc::new(bare)).alpn_protocols,
            vec![b"http/1.1".to_vec()]
        );
        let mut h2 = (*config).clone();
        h2.alpn_protocols = vec![b"h2".to_vec()];
        assert_eq!(with_alpn(Arc::new(h2)).alpn_protocols, vec![b"h2".to_vec()]);
    }
}
