//! tracing events: what an operator sees with a subscriber installed (one
//! global subscriber, so this file holds one test).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;

/// Everything the subscriber writes, for the test to read.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[test]
fn lifecycle_panics_and_violations_are_logged_at_their_levels() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let (server, rx) = start(Bridge::Poll);
    let addr = server.local_addr();
    // A hook panics: error, with the panic's message; the close: debug, 1011.
    close_by_message(addr, &rx, "panic", 1011);
    // A protocol violation: debug, with the error.
    close_by_protocol_error(addr, &rx);
    server.shutdown(WAIT);

    // Each line is written whole once its event is done; the last close may
    // still be on its way from the bridge.
    let end = deadline();
    let log = loop {
        let log = capture.text();
        if log.matches("connection closed").count() >= 2 && log.contains("server stopped") {
            break log;
        }
        check(end, "waiting for the close events");
        std::thread::yield_now();
    };
    let line = |needle: &str| -> String {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{log}"))
            .to_owned()
    };
    assert!(line("server started").contains(" INFO "));
    assert!(line("server started").contains(&addr.to_string()));
    let panicked = line("hook panicked");
    assert!(panicked.contains("ERROR"), "{panicked}");
    assert!(
        panicked.contains("on_message panics on purpose"),
        "{panicked}"
    );
    let open = line("connection open");
    assert!(
        open.contains("DEBUG") && open.contains("peer=127.0.0.1:"),
        "{open}"
    );
    // The two connections may sit on different pollers: their close lines
    // come in either order.
    assert!(
        log.lines().any(|l| l.contains("connection closed")
            && l.contains("DEBUG")
            && l.contains("code=1011")),
        "no 1011 close in:\n{log}"
    );
    let violation = line("protocol violation");
    assert!(
        violation.contains("DEBUG") && violation.contains("code=1002"),
        "{violation}"
    );
    assert!(log
        .lines()
        .any(|l| l.contains("connection closed") && l.contains("code=1002")));
    assert!(line("server stopped").contains(" INFO "));
}
