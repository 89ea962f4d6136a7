//! Throwaway TLS certificates for the interop and Autobahn runs over wss, made at run
//! time with the openssl command line (installed with apt-get when missing): a CA, and a
//! certificate it signs for `localhost` and 127.0.0.1. Nothing is kept between runs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::debian;

/// The files one run makes.
#[derive(Debug, Clone)]
pub(crate) struct Certs {
    /// The CA certificate clients trust.
    pub(crate) ca: PathBuf,
    /// The CA's own key: a valid key that does not match `cert`.
    pub(crate) ca_key: PathBuf,
    /// The server's certificate (PEM, signed by the CA).
    pub(crate) cert: PathBuf,
    /// The server's key (PEM, PKCS#8).
    pub(crate) key: PathBuf,
}

/// The server's extensions: what Python's strict X.509 checks (3.13+) require too.
const SERVER_EXT: &str = "\
subjectAltName=DNS:localhost,IP:127.0.0.1
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
";

/// Makes a CA and a server certificate in `dir` (emptied first).
pub(crate) fn make(dir: &Path) -> Result<Certs, String> {
    let openssl = debian::ensure("openssl", "openssl")?;
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let certs = Certs {
        ca: dir.join("ca.pem"),
        ca_key: dir.join("ca-key.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    let p = |p: &Path| p.display().to_string();
    let ext = dir.join("server.ext");
    fs::write(&ext, SERVER_EXT).map_err(|e| format!("{}: {e}", ext.display()))?;
    let csr = dir.join("server.csr");
    let (ca, ca_key, cert, key) = (
        p(&certs.ca),
        p(&certs.ca_key),
        p(&certs.cert),
        p(&certs.key),
    );
    let (csr, ext) = (p(&csr), p(&ext));
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let run = |what: &str, args: &[&[&str]]| -> Result<(), String> {
        let out = Command::new(&openssl)
            .args(args.concat())
            .output()
            .map_err(|e| format!("openssl ({what}): {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "openssl ({what}) failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    };
    run(
        "CA",
        &[
            &["req", "-x509"],
            &ec,
            &["-keyout", &ca_key, "-out", &ca, "-days", "2"],
            &["-subj", "/CN=xtask throwaway CA"],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ],
    )?;
    run(
        "server key and request",
        &[
            &["req"],
            &ec,
            &["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"],
        ],
    )?;
    run(
        "server certificate",
        &[
            &["x509", "-req", "-in", &csr, "-CA", &ca, "-CAkey", &ca_key],
            &[
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        ],
    )?;
    println!(
        "==> tls: throwaway CA {} and certificate {} for localhost, 127.0.0.1",
        certs.ca.display(),
        certs.cert.display()
    );
    Ok(certs)
}
