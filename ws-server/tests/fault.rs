//! A panic in bridge code (the poller, a bridge thread) costs only the
//! connection it was driving (issue 12): it is aborted, `on_close` runs with
//! 1011, the panic is reported, and the worker or poller goes on serving the
//! others and accepting new clients. The panic is injected through a hidden
//! test knob that runs inside the bridge with every chunk it reads.

mod common;

use common::*;
use tungstenite::Message as W;

/// The marker that makes the bridge panic when it reads it.
const BOOM: &[u8] = b"boom-in-the-bridge";

/// An unmasked-looking text frame: masked with a zero key, so the payload is
/// on the wire as it is and the fault hook can see the marker.
fn clear_text_frame(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut out = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    out.extend_from_slice(payload);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

on_both_bridges!(a_panic_in_the_bridge_costs_only_its_connection);
fn a_panic_in_the_bridge_costs_only_its_connection(bridge: Bridge) {
    // One worker: on the poll bridge it also runs the poller, so a panic that
    // escaped would leave nothing to serve anyone.
    only_its_connection(builder(bridge).workers(1));
}

#[test]
fn a_panic_in_the_poller_thread_costs_only_its_connection() {
    only_its_connection(builder(Bridge::Poll).poller_thread(true));
}

fn only_its_connection(builder: ws_server::ServerBuilder) {
    let (server, rx) = start_with(builder.bridge_fault(|read: &[u8]| {
        if contains(read, BOOM) {
            panic!("injected fault in the bridge");
        }
    }));
    let addr = server.local_addr();
    let mut good = connect(addr, "/");
    let good_id = wait_connect(&rx).id();
    good.send(W::text("before")).unwrap();
    assert_eq!(read_msg(&mut good), W::text("before"));

    let mut bad = Raw::connect(addr, &[]);
    let bad_id = wait_connect(&rx).id();
    bad.send_raw(&clear_text_frame(BOOM));
    let (had_state, code, _) = wait_close(&rx, bad_id);
    assert!(had_state);
    assert_eq!(code, 1011, "aborted as the server's internal error");
    bad.read_to_eof();

    // The others keep working, and new clients are accepted.
    good.send(W::text("after")).unwrap();
    assert_eq!(read_msg(&mut good), W::text("after"));
    let mut new = connect(addr, "/");
    wait_connect(&rx);
    new.send(W::text("new")).unwrap();
    assert_eq!(read_msg(&mut new), W::text("new"));
    assert_ne!(good_id, bad_id);
    drop((good, new));
    server.shutdown(WAIT);
}
