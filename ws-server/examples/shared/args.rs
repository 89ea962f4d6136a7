//! The examples' command line: `[ADDR] [--tls-cert FILE --tls-key FILE]`, and for
//! the chat also `[--redis redis://HOST:PORT] [--room-actor]`. With both TLS flags
//! the example serves only wss/https on ADDR; a file that cannot be used stops it
//! with a message naming the file. Also their log setup, shared.

use std::path::PathBuf;
use std::sync::Arc;

use ws_server::tls;

/// What the command line asked for.
pub(crate) struct Args {
    pub(crate) addr: String,
    /// The rustls configuration built from `--tls-cert` and `--tls-key`.
    pub(crate) tls: Option<Arc<tls::rustls::ServerConfig>>,
    /// The chat's `--redis URL` (the echo example never reads it).
    #[allow(dead_code)]
    pub(crate) redis: Option<String>,
    /// The chat's `--room-actor`.
    #[allow(dead_code)]
    pub(crate) room_actor: bool,
}

/// Logs to stderr (stdout carries only the lines scripts read), filtered by
/// `RUST_LOG` (default `info`), without colour codes unless stderr is a terminal.
pub(crate) fn logs() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn usage(name: &str, problem: &str) -> ! {
    eprintln!("{name}: {problem}");
    let chat = if name == "chat" {
        " [--redis redis://HOST:PORT] [--room-actor]"
    } else {
        ""
    };
    eprintln!("usage: {name} [ADDR] [--tls-cert FILE --tls-key FILE]{chat}");
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
    let (mut redis, mut room_actor) = (None, false);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--tls-cert" => &mut cert,
            "--tls-key" => &mut key,
            "--redis" if name == "chat" => match args.next() {
                Some(url) => {
                    redis = Some(url);
                    continue;
                }
                None => usage(name, "--redis needs a URL (redis://HOST:PORT)"),
            },
            "--room-actor" if name == "chat" => {
                room_actor = true;
                continue;
            }
            other => usage(name, &format!("unknown argument {other:?}")),
        };
        match args.next() {
            Some(file) => *slot = Some(PathBuf::from(file)),
            None => usage(name, &format!("{flag} needs a FILE")),
        }
    }
    if room_actor && redis.is_some() {
        usage(
            name,
            "--room-actor rooms are local: it cannot go with --redis",
        );
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
    Args {
        addr,
        tls,
        redis,
        room_actor,
    }
}
