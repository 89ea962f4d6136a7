//! The timers of an upgraded connection: the heartbeat (a ping every
//! `ping_interval`, the connection dropped when its pong is `pong_timeout`
//! late) and the idle timeout.

use std::time::Instant;

use ws_codec::CloseCode;

use super::{Session, Stage};

/// The heartbeat and idle timers of an upgraded connection.
#[derive(Debug)]
pub(super) struct Live {
    /// Last time a data message went either way (the idle timer).
    pub(super) last_data: Instant,
    /// When the outstanding ping was sent, if one awaits its pong.
    pub(super) ping_sent: Option<Instant>,
    /// When the next heartbeat ping is due.
    next_ping: Option<Instant>,
    /// Heartbeat pings sent; the last one's payload is this count, so only
    /// its echo answers it (RFC 6455 §5.5.3: a pong answering a ping carries
    /// its payload; an unsolicited pong must not keep a dead peer alive).
    pings: u64,
}

impl Live {
    pub(super) fn new(now: Instant, ping_interval: Option<std::time::Duration>) -> Live {
        Live {
            last_data: now,
            ping_sent: None,
            next_ping: ping_interval.map(|i| now + i),
            pings: 0,
        }
    }

    /// A pong with `payload` answers the outstanding heartbeat ping.
    pub(super) fn answered(&mut self, payload: &[u8]) {
        if self.ping_sent.is_some() && payload == self.pings.to_be_bytes() {
            self.ping_sent = None;
        }
    }
}

impl Session {
    pub(super) fn live_deadlines(&self, live: &Live, consider: &mut impl FnMut(Option<Instant>)) {
        if self.first_close.is_some() {
            return;
        }
        let s = &self.settings;
        consider(live.ping_sent.zip(s.pong_timeout).map(|(t, d)| t + d));
        if live.ping_sent.is_none() {
            consider(live.next_ping);
        }
        consider(s.idle_timeout.map(|d| live.last_data + d));
    }

    /// The heartbeat (a ping every `ping_interval`, the connection dropped
    /// when its pong is `pong_timeout` late) and the idle timeout (1001).
    pub(super) fn heartbeat(&mut self, now: Instant) {
        if self.first_close.is_some() {
            return;
        }
        let s = &self.settings;
        let (pong_timeout, ping_interval, idle_timeout) =
            (s.pong_timeout, s.ping_interval, s.idle_timeout);
        let (Stage::Open(live) | Stage::Failing { live, .. }) = &mut self.stage else {
            return;
        };
        if let (Some(sent), Some(limit)) = (live.ping_sent, pong_timeout) {
            if now >= sent + limit {
                return self.abort("pong timeout");
            }
        }
        if let (Some(interval), Some(due)) = (ping_interval, live.next_ping) {
            if now >= due && live.ping_sent.is_none() {
                let seq = live.pings + 1;
                if self.codec.ping(seq.to_be_bytes()).is_ok() {
                    live.pings = seq;
                    live.ping_sent = Some(now);
                }
                live.next_ping = Some(now + interval);
            }
        }
        if let Some(idle) = idle_timeout {
            if now >= live.last_data + idle {
                let _ = self.start_close(CloseCode::GOING_AWAY, "idle timeout", now);
            }
        }
    }
}
