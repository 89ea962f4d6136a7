//! Feeding the codec and handing decoded messages to the actor: the one path
//! from bytes read to the mailbox, shared by both bridges.

use std::sync::atomic::Ordering;
use std::time::Instant;

use actor_core::ReservedTag;
use bytes::{Bytes, BytesMut};
use ws_codec::Event;

use crate::conn::Shared;

/// What feeding the codec left the connection in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fed {
    /// Keep reading.
    Open,
    /// The peer broke the protocol: the messages before the error are in the
    /// mailbox, and the close waits until the actor has handled them.
    Failing,
    /// Closed or failed: stop reading.
    Over,
}

/// A decoded message on its way to the mailbox.
pub(crate) enum Payload {
    Text(ws_codec::Utf8Bytes),
    Binary(Bytes),
}

/// Feeds input to the codec and the decoded messages to the actor.
pub(crate) fn feed(
    conn: &Shared,
    input: impl FnOnce(&mut ws_codec::Connection) -> Result<(), ws_codec::Error>,
    out: &mut Vec<Payload>,
) -> Fed {
    let mut g = conn.lock();
    let result = input(&mut g.codec);
    while let Some(event) = g.codec.poll_event() {
        match event {
            Event::Text(t) => {
                g.last_data = Instant::now();
                out.push(Payload::Text(t));
            }
            Event::Binary(b) => {
                g.last_data = Instant::now();
                out.push(Payload::Binary(b));
            }
            Event::Pong(_) => g.ping_sent = None,
            // Already answered by ws-codec.
            Event::Ping(_) => {}
            // ws-codec reports a close without a code as 1005 (RFC 6455 §7.1.5).
            Event::Close(frame) => g.note_close(frame.code, frame.reason.as_str()),
        }
    }
    // An idle connection keeps no receive buffer: only partial frames stay.
    let recv = g.codec.recv_buffer();
    if recv.is_empty() && recv.capacity() > 0 {
        *recv = BytesMut::new();
    }
    let fed = match &result {
        Err(_) if g.codec.state() == ws_codec::State::Failing => {
            conn.draining.store(true, Ordering::SeqCst);
            Fed::Failing
        }
        Err(e) => {
            // ws-codec queued the close frame with this error's code.
            g.note_close(e.close_code(), &e.to_string());
            Fed::Over
        }
        Ok(()) if g.codec.is_closed() => Fed::Over,
        Ok(()) => Fed::Open,
    };
    // A thread bridge's writer may sleep while the codec queued an answer
    // (a pong, a close); the poll bridge flushes after feeding anyway.
    let wake = g.parked > 0 && g.codec.pending_transmit_bytes() > 0;
    drop(g);
    if wake {
        conn.notify();
    }
    let Some(pid) = conn.pid.get().copied() else {
        out.clear();
        return fed;
    };
    for payload in out.drain(..) {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        let sent = match payload {
            Payload::Text(t) => conn.handle.send_reserved(pid, ReservedTag::WsText, t),
            Payload::Binary(b) => conn.handle.send_reserved(pid, ReservedTag::WsBinary, b),
        };
        if sent.is_err() {
            // The actor is gone; the close handshake goes on without it.
            conn.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
    fed
}
