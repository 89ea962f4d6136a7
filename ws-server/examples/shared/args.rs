//! The examples' command line: `[ADDR] [--tls-cert FILE --tls-key FILE]`.
//! With both TLS flags the example serves only wss/https on ADDR; a file that
//! cannot be used stops it with a message naming the file.

use std::path::PathBuf;
use std::sync::Arc;

use ws_server::tls;

/// What the command line asked for.
pub(crate) struct Args {
    pub(crate) addr: String,
    /// The rustls configuration built from `--tls-cert` and `--tls-key`.
    pub(crate) tls: Option<Arc<tls::rustls::ServerConfig>>,
}

fn usage(name: &str, problem: &str) -> ! {
    eprintln!("{name}: {problem}");
    eprintln!("usage: {name} [ADDR] [--tls-cert FILE --tls-key FILE]");
    std::process::exit(2);
}

/// Parses the arguments; exits 2 on a usage error and 1 when a TLS file
/// cannot be used (the message names the file).
pub(crate) fn parse(name: &str, default_addr: &str) -> Args {
    let mut args = std::env::args().skip(1).peekable();
    let addr = match args.peek() {
        Some(a) if !a.starts_with("--") => args.next().unwrap_or_default(),
        _ => default_addr.to_owned(),
    };
    let (mut cert, mut key): (Option<PathBuf>, Option<PathBuf>) = (None, None);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--tls-cert" => &mut cert,
            "--tls-key" => &mut key,
            other => usage(name, &format!("unknown argument {other:?}")),
        };
        match args.next() {
            Some(file) => *slot = Some(PathBuf::from(file)),
            None => usage(name, &format!("{flag} needs a FILE")),
        }
    }
    let tls = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            let config = tls::CertResolver::from_pem(&cert, &key)
                .and_then(|certs| tls::server_config(certs));
            match config {
                Ok(config) => Some(config),
                Err(e) => {
                    eprintln!("{name}: {e}");
                    std::process::exit(1);
                }
            }
        }
        _ => usage(name, "--tls-cert and --tls-key go together"),
    };
    Args { addr, tls }
}
