//! A client that writes and closes its socket in the same moment is noticed at
//! once, whatever stage its connection is in (issue 12). The heartbeat is off
//! and the handshake and close timeouts are a minute, so only the FIN can end
//! these connections within the harness's bound: before the fix, the poll
//! bridge took a short read for "drained" and never saw the FIN that came
//! with the data.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::time::Duration;

use common::{
    builder, check, deadline, masked_frame, start_with, wait_close, wait_connect, Bridge, Ev,
    UPGRADE, WAIT,
};
use ws_server::{CloseCode, Conn, Connect, Ctx, Handler, Message, Server};

const LONG: Duration = Duration::from_secs(60);

fn start(bridge: Bridge) -> (Server, std::sync::mpsc::Receiver<Ev>) {
    start_with(
        builder(bridge)
            .ping_interval(None)
            .handshake_timeout(LONG)
            .close_timeout(LONG),
    )
}

/// Writes `bytes`, then FIN, before the server has read anything of them.
fn write_and_leave(server: &Server, bytes: &[u8]) -> TcpStream {
    let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(bytes).unwrap();
    tcp.shutdown(Shutdown::Write).unwrap();
    tcp
}

fn with_frames(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = UPGRADE.as_bytes().to_vec();
    for f in frames {
        bytes.extend_from_slice(f);
    }
    bytes
}

/// Waits (bounded) until the server holds no connection.
fn wait_empty(server: &Server) {
    let end = deadline();
    while server.connections() > 0 {
        check(end, "the server let go of the connection");
        std::thread::sleep(Duration::from_millis(5));
    }
}

on_both_bridges!(fin_with_a_message_behind_the_head_ends_the_connection_as_1006);
fn fin_with_a_message_behind_the_head_ends_the_connection_as_1006(bridge: Bridge) {
    // RFC 6455 §7.1.5: TCP closed without a close frame: "1006".
    let (server, rx) = start(bridge);
    let _tcp = write_and_leave(&server, &with_frames(&[masked_frame(0x81, b"hi")]));
    let conn = wait_connect(&rx);
    let (had_state, code, _) = wait_close(&rx, conn.id());
    assert!(had_state);
    assert_eq!(code, 1006);
    wait_empty(&server);
}

on_both_bridges!(fin_right_after_the_head_ends_the_connection_as_1006);
fn fin_right_after_the_head_ends_the_connection_as_1006(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let _tcp = write_and_leave(&server, &with_frames(&[]));
    let conn = wait_connect(&rx);
    assert_eq!(wait_close(&rx, conn.id()).1, 1006);
    wait_empty(&server);
}

on_both_bridges!(fin_in_the_middle_of_a_frame_ends_the_connection_as_1006);
fn fin_in_the_middle_of_a_frame_ends_the_connection_as_1006(bridge: Bridge) {
    let (server, rx) = start(bridge);
    let frame = masked_frame(0x81, b"hello");
    let _tcp = write_and_leave(&server, &with_frames(&[frame[..4].to_vec()]));
    let conn = wait_connect(&rx);
    assert_eq!(wait_close(&rx, conn.id()).1, 1006);
    wait_empty(&server);
}

on_both_bridges!(fin_while_the_server_closes_ends_before_the_close_timeout);
fn fin_while_the_server_closes_ends_before_the_close_timeout(bridge: Bridge) {
    // "close" makes the hook start the close handshake (1000 "bye"). Once its
    // close frame has arrived, the client leaves without answering it.
    let (server, rx) = start(bridge);
    let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(&with_frames(&[masked_frame(0x81, b"close")]))
        .unwrap();
    let conn = wait_connect(&rx);
    let (mut got, mut buf, end) = (Vec::new(), [0u8; 256], deadline());
    loop {
        let n = tcp.read(&mut buf).expect("the 101 and the close frame");
        assert!(n > 0, "closed before the close frame");
        got.extend_from_slice(&buf[..n]);
        let body = common::find(&got, b"\r\n\r\n").map_or(&[][..], |i| &got[i + 4..]);
        if body.first() == Some(&0x88) {
            break;
        }
        check(end, "the server's close frame");
    }
    tcp.shutdown(Shutdown::Write).unwrap();
    assert_eq!(wait_close(&rx, conn.id()).1, 1000, "the first close sent");
    wait_empty(&server);
}

on_both_bridges!(fin_after_a_protocol_error_ends_the_connection);
fn fin_after_a_protocol_error_ends_the_connection(bridge: Bridge) {
    // RFC 6455 §5.2: RSV1 without an extension is a protocol error (1002).
    let (server, rx) = start(bridge);
    let bad = masked_frame(0xC1, b"x");
    let _tcp = write_and_leave(&server, &with_frames(&[masked_frame(0x81, b"hi"), bad]));
    let conn = wait_connect(&rx);
    assert_eq!(wait_close(&rx, conn.id()).1, 1002);
    wait_empty(&server);
}

on_both_bridges!(fin_in_the_middle_of_the_head_is_dropped_before_the_handshake_timeout);
fn fin_in_the_middle_of_the_head_is_dropped_before_the_handshake_timeout(bridge: Bridge) {
    let (server, _rx) = start(bridge);
    let mut tcp = write_and_leave(&server, &UPGRADE.as_bytes()[..20]);
    // The server closes its side without an answer (no request to answer).
    let mut buf = [0u8; 64];
    assert_eq!(tcp.read(&mut buf).expect("closed, not timed out"), 0);
    wait_empty(&server);
}

/// Holds its worker in `on_message("hold")` until the test opens the gate;
/// reports `on_close` codes.
struct Holding {
    gate: Mutex<Receiver<()>>,
    closed: Mutex<Sender<u16>>,
}

impl Handler for Holding {
    type State = ();
    fn on_connect(&self, _: &mut Ctx<'_>, _: &ws_server::Request) -> Connect<()> {
        Connect::accept(())
    }
    fn on_message(&self, _: &mut Ctx<'_>, _: &mut (), message: Message) {
        if message == Message::Text("hold".into()) {
            let _ = self.gate.lock().unwrap().recv_timeout(WAIT);
        }
    }
    fn on_close(&self, _: &Conn, _: Option<()>, code: CloseCode, _: &str) {
        let _ = self.closed.lock().unwrap().send(code.0);
    }
}

on_both_bridges!(data_and_fin_in_one_readiness_event_end_the_connection);
fn data_and_fin_in_one_readiness_event_end_the_connection(bridge: Bridge) {
    // With one worker, which also runs the poller, a hook that holds the
    // worker keeps the poller from looking while the client's last frame and
    // its FIN arrive: they come as one readiness event, and a short read of
    // the frame must not be taken for "nothing more to read".
    let (open, gate) = mpsc::channel();
    let (closed, codes) = mpsc::channel();
    let handler = Holding {
        gate: Mutex::new(gate),
        closed: Mutex::new(closed),
    };
    let server = builder(bridge)
        .workers(1)
        .ping_interval(None)
        .close_timeout(LONG)
        .serve(handler)
        .unwrap();
    let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(&with_frames(&[masked_frame(0x81, b"hold")]))
        .unwrap();
    // The 101 means the server has read the head (and the frame with it).
    let mut buf = [0u8; 512];
    assert!(tcp.read(&mut buf).unwrap() > 0);
    tcp.write_all(&masked_frame(0x81, b"last")).unwrap();
    tcp.shutdown(Shutdown::Write).unwrap();
    // Loopback delivers both at once; the pause only makes sure they are
    // queued before the worker looks again.
    std::thread::sleep(Duration::from_millis(50));
    open.send(()).unwrap();
    assert_eq!(codes.recv_timeout(WAIT).expect("on_close ran"), 1006);
    wait_empty(&server);
}
