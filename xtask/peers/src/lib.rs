//! What the peer echo servers share: the listen address from argv, the readiness line, the limits.

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
