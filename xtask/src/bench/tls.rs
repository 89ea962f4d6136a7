//! `cargo xtask bench --tls`: the load matrix over wss. Our echo example against
//! fastwebsockets and tokio-tungstenite behind tokio-rustls, all on rustls with *ring*,
//! one throwaway certificate (ECDSA P-256, made with openssl), the same suites and key
//! exchange groups; ws-load is the rustls client (`--tls-ca`). Its own section in
//! docs/benchmarks.md.

use super::{Options, CASES};

/// The section of docs/benchmarks.md this mode owns.
pub(super) const SECTION: &str = "## Over TLS";

/// The servers that speak TLS, and the cases run over it by default.
const SERVERS: &[&str] = &["ours", "fastwebsockets", "tokio-tungstenite"];
const DEFAULT_CASES: &[&str] = &["100x20", "10x64k", "idle10k"];

/// `--tls`: refuses the servers without TLS (and `--compressed`), picks the defaults.
pub(super) fn apply(o: &mut Options, cases_given: bool) -> Result<(), String> {
    if o.compressed {
        return Err("--tls and --compressed do not combine yet".into());
    }
    if let Some(s) = o.servers.iter().find(|s| !SERVERS.contains(&s.as_str())) {
        return Err(format!(
            "`{s}` has no TLS: with --tls, servers are {}",
            SERVERS.join(", ")
        ));
    }
    if o.servers.is_empty() {
        o.servers = SERVERS.iter().map(|s| s.to_string()).collect();
    }
    if !cases_given {
        o.cases = CASES
            .iter()
            .filter(|c| DEFAULT_CASES.contains(&c.name))
            .copied()
            .collect();
    }
    Ok(())
}

/// What the figures over TLS mean, after the tables.
pub(super) const NOTES: &str = "\
What every server negotiates with ws-load here: TLS 1.3, TLS13_AES_256_GCM_SHA384
(the client's first choice; no server overrides the client's order), X25519, an ECDSA
P-256 signature, ALPN http/1.1; each server on rustls's defaults otherwise (two TLS 1.3
session tickets after each handshake, a 256-entry session cache). ws-load resumes no
session: every setup is a full handshake. The client verifies the chain (an ECDSA
verify costs it more than the server's sign), so `setups/s` is bounded by the client
as much as by the server; `server µs/setup`, the server's CPU time (utime+stime from
/proc) over the setup phase divided by the connections opened (TCP accept, TLS
handshake, WebSocket upgrade), is the figure that measures the server, as `server
µs/msg` does under load. /proc counts CPU in 10 ms ticks: at 10 000 connections that is
1 µs a setup.

";
