//! Fan-out timing: the publisher stamps each message with the moment it sends it (the
//! payload's first [`STAMP_LEN`] bytes: nanoseconds since this process's epoch, in hex, so
//! a text message stays valid UTF-8), and every subscriber that receives it records
//! publish-to-receive latency over all deliveries, not only the publisher's own copy.
//! The publisher and its subscribers are one process, so one clock serves both.

use std::io::{self, Write};
use std::sync::OnceLock;
use std::time::Instant;

/// Bytes of a payload that carry the stamp.
pub(crate) const STAMP_LEN: usize = 16;

/// The instant stamps count from (the first use in this process).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds from the epoch to `at`.
fn since_epoch(at: Instant) -> u64 {
    at.saturating_duration_since(epoch()).as_nanos() as u64
}

/// Writes the stamp of `at` over the first [`STAMP_LEN`] bytes of `payload`.
pub(crate) fn stamp(payload: &mut [u8], at: Instant) {
    let ns = since_epoch(at);
    for (i, b) in payload[..STAMP_LEN].iter_mut().enumerate() {
        let nibble = (ns >> (4 * (STAMP_LEN - 1 - i))) & 0xF;
        *b = b"0123456789abcdef"[nibble as usize];
    }
}

/// The stamp at the start of `payload`, if it has one.
pub(crate) fn read_stamp(payload: &[u8]) -> Option<u64> {
    let head = payload.get(..STAMP_LEN)?;
    head.iter().try_fold(0u64, |acc, &b| {
        let d = (b as char).to_digit(16)?;
        Some(acc << 4 | u64::from(d))
    })
}

/// Nanoseconds from a message's `stamp` to `now` (0 if the clock disagrees).
pub(crate) fn latency_ns(stamp: u64, now: Instant) -> u64 {
    since_epoch(now).saturating_sub(stamp)
}

/// The publisher's outgoing frames, each built (stamped and masked) when it is sent.
#[derive(Debug)]
pub(crate) struct Outbox {
    payload: Vec<u8>,
    binary: bool,
    bytes: Vec<u8>,
    off: usize,
}

impl Outbox {
    /// An outbox for `payload`, if it is long enough to carry a stamp.
    pub(crate) fn new(payload: &[u8], binary: bool) -> Option<Self> {
        (payload.len() >= STAMP_LEN).then(|| Self {
            payload: payload.to_vec(),
            binary,
            bytes: Vec::new(),
            off: 0,
        })
    }

    /// Queues `k` messages stamped `now`.
    pub(crate) fn queue(&mut self, k: usize, now: Instant) {
        stamp(&mut self.payload, now);
        let frame = crate::wire::request_frame(self.binary, &self.payload, crate::payload::MASK);
        for _ in 0..k {
            self.bytes.extend_from_slice(&frame);
        }
    }

    /// Writes what is queued until done or the socket is full: the bytes written, and
    /// whether bytes are left for the writable edge (a short write is one where
    /// `short_is_edge`, as on a plain socket).
    pub(crate) fn write(
        &mut self,
        w: &mut impl Write,
        short_is_edge: bool,
    ) -> io::Result<(u64, bool)> {
        let mut total = 0;
        while self.off < self.bytes.len() {
            let want = self.bytes.len() - self.off;
            let n = match w.write(&self.bytes[self.off..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((total, true)),
                Err(e) => return Err(e),
            };
            self.off += n;
            total += n as u64;
            if n < want && short_is_edge {
                return Ok((total, true));
            }
        }
        self.bytes.clear();
        self.off = 0;
        Ok((total, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_stamp_reads_back_as_the_time_it_was_taken() {
        let t0 = epoch();
        let at = t0 + Duration::from_micros(1234);
        let mut payload = b"abcdefghijklmnopqrst".to_vec();
        stamp(&mut payload, at);
        assert!(std::str::from_utf8(&payload).is_ok());
        assert_eq!(&payload[STAMP_LEN..], b"qrst");
        let s = read_stamp(&payload).unwrap();
        assert_eq!(s, 1_234_000);
        assert_eq!(latency_ns(s, at + Duration::from_micros(5)), 5_000);
    }

    #[test]
    fn a_payload_without_a_stamp_has_none() {
        assert_eq!(read_stamp(b"abcdefghijklmnopqrst"), None);
        assert_eq!(read_stamp(b"0123"), None);
    }

    #[test]
    fn the_outbox_writes_every_queued_frame_in_order() {
        let mut o = Outbox::new(&[b'a'; 20], false).unwrap();
        let t = epoch() + Duration::from_millis(7);
        o.queue(3, t);
        let mut out = Vec::new();
        let (n, short) = o.write(&mut out, true).unwrap();
        assert!(!short);
        assert_eq!(n as usize, out.len());
        let mut stamps = Vec::new();
        // Server frames are unmasked: decode the masked request frames as a server would.
        let mut buf = bytes::BytesMut::from(&out[..]);
        let mut d = ws_codec::Decoder::new(ws_codec::Role::Server);
        while let Some(f) = d.decode(&mut buf).unwrap() {
            stamps.push(read_stamp(f.payload()));
        }
        assert_eq!(stamps, vec![Some(7_000_000); 3]);
    }

    #[test]
    fn the_reader_reports_a_received_messages_stamp() {
        let mut payload = vec![b'z'; 1024];
        stamp(&mut payload, epoch() + Duration::from_nanos(0xabc));
        let mut wire = bytes::BytesMut::new();
        ws_codec::Frame::new(ws_codec::OpCode::Text, payload).encode(&mut wire);
        let mut r = crate::wire::MessageReader::new(1 << 20);
        let mut seen = Vec::new();
        r.feed(&wire, |e| seen.push(e)).unwrap();
        let (binary, len, stamp) = (false, 1024, Some(0xabc));
        assert_eq!(
            seen,
            vec![crate::wire::Event::Message { binary, len, stamp }]
        );
    }
}
