//! What [`Conn`](crate::Conn) asks of the session: whether it may send, how
//! much waits, and the sends themselves with the backpressure policy.

use std::time::Instant;

use ws_codec::CloseCode;

use super::{map_send, Session, Stage};
use crate::config::Backpressure;
use crate::error::Error;

impl Session {
    /// Open for sending: deciding (frames wait behind the 101), open, or
    /// failing (answers to what came before the error still go out).
    pub(crate) fn is_open(&self) -> bool {
        self.first_close.is_none()
            && matches!(
                self.stage,
                Stage::Deciding { .. } | Stage::Open(_) | Stage::Failing { .. }
            )
    }

    /// Bytes queued and not yet on the wire.
    pub(crate) fn queued(&self) -> usize {
        self.codec.pending_transmit_bytes() + self.unsent
    }

    /// Queues a data message through `encode`, unless the outbound queue's
    /// memory ([`queued_memory`](Self::queued_memory)) is over the
    /// high-water mark: then [`Error::Backpressure`], and with
    /// [`Backpressure::Close`] the close handshake starts with 1008. `now`
    /// is read only when needed: for that close, or when an idle timeout
    /// is set (a send resets it). A clock read was ~0.3 µs of a message's
    /// CPU at 1 x 20 B on a cold path (perf), and the default has none.
    pub(crate) fn send(
        &mut self,
        now: impl FnOnce() -> Instant,
        encode: impl FnOnce(&mut ws_codec::Connection) -> Result<(), ws_codec::SendError>,
    ) -> Result<(), Error> {
        self.check_open()?;
        let queued = self.queued_memory();
        let high_water = self.settings.high_water;
        if queued >= high_water {
            self.settings.counters.backpressure();
            if self.settings.backpressure == Backpressure::Close && self.first_close.is_none() {
                tracing::warn!(queued, high_water, "backpressure: closing with 1008");
            }
            if self.settings.backpressure == Backpressure::Close {
                // Policy: a client that does not read is disconnected (1008).
                let _ = self.start_close(CloseCode::POLICY_VIOLATION, "backpressure", now());
            }
            return Err(Error::Backpressure { queued, high_water });
        }
        encode(&mut self.codec).map_err(map_send)?;
        self.touched(now);
        Ok(())
    }

    /// Data was sent: with an idle timeout, that resets it.
    pub(super) fn touched(&mut self, now: impl FnOnce() -> Instant) {
        if self.settings.idle_timeout.is_some() {
            if let Stage::Open(live) | Stage::Failing { live, .. } = &mut self.stage {
                live.last_data = now();
            }
        }
    }

    /// Queues a ping (a control frame: never refused for backpressure).
    pub(crate) fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.check_open()?;
        self.codec.ping(payload).map_err(map_send)
    }

    /// Starts the close handshake (a control frame: never refused for
    /// backpressure). While a protocol failure is deferred this ends it: the
    /// close carries the error's code, not `code`.
    pub(crate) fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
        now: Instant,
    ) -> Result<(), Error> {
        self.check_open()?;
        self.start_close(code, reason, now)
    }

    pub(super) fn check_open(&self) -> Result<(), Error> {
        if self.is_open() {
            Ok(())
        } else {
            Err(Error::Closed)
        }
    }
}
