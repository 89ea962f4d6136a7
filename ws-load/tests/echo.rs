//! Runs the `ws-load` binary against a small tungstenite echo server in this process.

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::thread;

/// A thread-per-connection tungstenite echo server on an ephemeral loopback port.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            thread::spawn(move || {
                let Ok(mut ws) = tungstenite::accept(stream) else {
                    return;
                };
                while let Ok(msg) = ws.read() {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Runs ws-load with `args` and returns its exit success and the parsed last stdout line.
fn ws_load(args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ws-load"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap_or_default().to_string();
    let json = serde_json::from_str(&last)
        .unwrap_or_else(|e| panic!("last line is not JSON ({e}): {stdout}"));
    (out.status.success(), json, stdout)
}

#[test]
fn load_run_reports_echoes_latency_and_cpu() {
    let addr = echo_server().to_string();
    let pid = std::process::id().to_string();
    let (ok, j, out) = ws_load(&[
        "--addr",
        &addr,
        "--conns",
        "4",
        "--size",
        "100",
        "--depth",
        "2",
        "--threads",
        "2",
        "--warmup",
        "0.1",
        "--duration",
        "0.5",
        "--server-pid",
        &pid,
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("throughput:"), "{out}");
    assert_eq!(j["mode"], "load");
    assert_eq!(j["opened"], 4);
    assert_eq!(j["errors"], 0, "{out}");
    assert!(j["messages"].as_u64().unwrap() > 0);
    assert!(j["msg_per_s"].as_f64().unwrap() > 0.0);
    let (p50, p99, p999) = (
        j["latency_p50_us"].as_f64().unwrap(),
        j["latency_p99_us"].as_f64().unwrap(),
        j["latency_p999_us"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= p999, "{out}");
    assert!(j["client_cpu_pct"].as_f64().is_some());
    // The "server" here is this test process.
    assert!(j["server_cpu_us_per_msg"].as_f64().is_some());
    assert!(j["rss_per_conn_upgraded_bytes"].is_null());
}

#[test]
fn binary_large_messages_echo_without_mismatch() {
    let addr = echo_server().to_string();
    let (ok, j, out) = ws_load(&[
        "--addr",
        &addr,
        "--conns",
        "2",
        "--size",
        "70KiB",
        "--binary",
        "--warmup",
        "0",
        "--duration",
        "0.3",
    ]);
    assert!(ok, "{out}");
    assert_eq!(j["size"], 70 * 1024);
    assert_eq!(j["errors_mismatched"], 0, "{out}");
    assert!(j["messages"].as_u64().unwrap() > 0, "{out}");
    assert!(j["server_cpu_us_per_msg"].is_null());
}

#[test]
fn idle_run_reports_rss_per_connection() {
    let addr = echo_server().to_string();
    let pid = std::process::id().to_string();
    let (ok, j, out) = ws_load(&[
        "--addr",
        &addr,
        "--conns",
        "20",
        "--idle",
        "--duration",
        "0",
        "--server-pid",
        &pid,
    ]);
    assert!(ok, "{out}");
    assert_eq!(j["mode"], "idle");
    assert_eq!(j["opened"], 20);
    assert_eq!(j["errors"], 0, "{out}");
    assert!(j["server_rss_baseline_bytes"].as_f64().unwrap() > 0.0);
    assert!(j["rss_per_conn_echoed_bytes"].as_f64().is_some());
}

#[test]
fn refused_connections_are_counted_not_fatal() {
    // A port that was just free: nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (ok, j, out) = ws_load(&["--addr", &addr, "--conns", "3", "--duration", "0.1"]);
    assert!(!ok, "nothing measured must fail: {out}");
    assert_eq!(j["opened"], 0);
    assert_eq!(j["errors_connect"], 3, "{out}");
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_ws-load"))
        .args(["--addr", "127.0.0.1:1", "--conns", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("`--conns`: 0 is out of range"), "{err}");
}

#[test]
fn a_server_that_refuses_the_upgrade_is_a_handshake_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let (ok, j, out) = ws_load(&["--addr", &addr, "--conns", "2", "--duration", "0.1"]);
    assert!(!ok);
    assert_eq!(j["errors_handshake"], 2, "{out}");
}

/// The same echo server behind rustls, with a self-signed certificate for
/// `localhost` made now; the PEM file of that certificate, for `--tls-ca`.
fn wss_echo_server() -> (SocketAddr, std::path::PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let cert = params.self_signed(&key).unwrap();
    let pem = std::env::temp_dir().join(format!("ws-load-test-ca-{}.pem", std::process::id()));
    std::fs::write(&pem, cert.pem()).unwrap();
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let config = std::sync::Arc::clone(&config);
            thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let tls = rustls::StreamOwned::new(conn, stream);
                let Ok(mut ws) = tungstenite::accept(tls) else {
                    return;
                };
                while let Ok(msg) = ws.read() {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, pem)
}

#[test]
fn load_run_over_wss_with_tls_ca() {
    let (addr, ca) = wss_echo_server();
    let (addr, ca) = (addr.to_string(), ca.display().to_string());
    // Small and large messages: a large one takes several TLS records and writes.
    for size in ["100", "200000"] {
        let (ok, j, out) = ws_load(&[
            "--addr",
            &addr,
            "--tls-ca",
            &ca,
            "--conns",
            "3",
            "--size",
            size,
            "--binary",
            "--warmup",
            "0.1",
            "--duration",
            "0.5",
        ]);
        assert!(ok, "{out}");
        assert_eq!(j["opened"], 3, "{out}");
        assert_eq!(j["errors"], 0, "{out}");
        assert!(j["messages"].as_u64().unwrap() > 0, "{out}");
    }
    // A CA file that is not there stops it before any connection.
    let out = Command::new(env!("CARGO_BIN_EXE_ws-load"))
        .args(["--addr", &addr, "--tls-ca", "/nonexistent/ca.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ca.pem"));
}
