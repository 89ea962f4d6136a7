//! The per-connection timer rules (heartbeat, pong deadline, idle timeout,
//! ws-codec's close timer), shared by both bridges: the thread bridge's writer
//! sleeps until [`next_deadline`], the poll bridge keeps it in its heap.

use std::time::Instant;

use ws_codec::CloseCode;

use crate::config::Settings;
use crate::conn::{Inner, Phase};

/// Runs the heartbeat, idle and close timers; false if the pong is overdue.
pub(crate) fn timers(g: &mut Inner, now: Instant, s: &Settings) -> bool {
    g.codec.handle_timeout(now);
    if g.phase != Phase::Open || g.first_close.is_some() {
        return true;
    }
    if let (Some(sent), Some(limit)) = (g.ping_sent, s.pong_timeout) {
        if now >= sent + limit {
            return false;
        }
    }
    if let (Some(interval), Some(due)) = (s.ping_interval, g.next_ping) {
        if now >= due && g.ping_sent.is_none() {
            if g.codec.ping(b"").is_ok() {
                g.ping_sent = Some(now);
            }
            g.next_ping = Some(now + interval);
        }
    }
    if let Some(idle) = s.idle_timeout {
        if now >= g.last_data + idle {
            let _ = g.start_close(CloseCode::GOING_AWAY, "idle timeout");
        }
    }
    true
}

/// The next instant a timer needs the bridge.
pub(crate) fn next_deadline(g: &Inner, s: &Settings) -> Option<Instant> {
    let mut next = g.codec.poll_timeout();
    let mut consider = |t: Option<Instant>| {
        if let Some(t) = t {
            next = Some(next.map_or(t, |n: Instant| n.min(t)));
        }
    };
    if g.phase == Phase::Open && g.first_close.is_none() {
        consider(g.ping_sent.zip(s.pong_timeout).map(|(t, d)| t + d));
        if g.ping_sent.is_none() {
            consider(g.next_ping);
        }
        consider(s.idle_timeout.map(|d| g.last_data + d));
    }
    next
}

/// Marks the connection open: the heartbeat starts, and a shutdown that
/// began meanwhile closes it with 1001.
pub(crate) fn open(g: &mut Inner, now: Instant, s: &Settings) {
    g.phase = Phase::Open;
    g.last_data = now;
    g.next_ping = s.ping_interval.map(|i| now + i);
    if g.shutting_down && g.first_close.is_none() {
        let _ = g.start_close(CloseCode::GOING_AWAY, "server shutting down");
    }
}
