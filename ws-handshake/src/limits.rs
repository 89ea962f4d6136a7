//! Size limits applied while a handshake head is still arriving.

/// How much a peer may send before its handshake head is refused.
///
/// Every limit is checked on the bytes the caller has buffered so far, so a peer that
/// crosses one is refused at once: the caller never has to buffer more than
/// [`max_head_size`](Limits::max_head_size) bytes to learn that a head is too large.
///
/// ```
/// let limits = ws_handshake::Limits::default().with_max_headers(32);
/// assert_eq!(limits.max_headers, 32);
/// assert_eq!(limits.max_head_size, 8 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// Largest head, request or status line and headers up to and including the empty
    /// line, in bytes. Crossing it is `431 Request Header Fields Too Large`
    /// ([`Error::HeadTooLarge`](crate::Error::HeadTooLarge)). Default 8 KiB; values
    /// above [`Limits::MAX_HEAD_SIZE`] (64 KiB - 1) act as that, so that positions in a
    /// head fit 16 bits.
    pub max_head_size: usize,
    /// Most header fields in one head. Crossing it is `431`
    /// ([`Error::TooManyHeaders`](crate::Error::TooManyHeaders)). Default 64.
    pub max_headers: usize,
    /// Longest request target (path and query) in bytes. Crossing it is `414 URI Too
    /// Long` ([`Error::TargetTooLong`](crate::Error::TargetTooLong)). Default 2 KiB.
    pub max_target_len: usize,
    /// Client side only: the largest body of a refusal (a non-101 answer) that
    /// [`parse_response`](crate::parse_response) waits for. Default 64 KiB.
    pub max_body_size: usize,
}

impl Limits {
    /// The largest head any setting allows: positions in a head are kept as `u16`, which
    /// keeps the parsed field index small enough to live inline. Servers commonly refuse
    /// far smaller heads (8 to 32 KiB).
    pub const MAX_HEAD_SIZE: usize = u16::MAX as usize;

    /// The defaults: 8 KiB head, 64 headers, 2 KiB target, 64 KiB refusal body.
    pub const DEFAULT: Limits = Limits {
        max_head_size: 8 * 1024,
        max_headers: 64,
        max_target_len: 2 * 1024,
        max_body_size: 64 * 1024,
    };

    /// `max_head_size` as applied: at most [`Limits::MAX_HEAD_SIZE`].
    pub(crate) fn head_limit(&self) -> usize {
        self.max_head_size.min(Limits::MAX_HEAD_SIZE)
    }

    /// Header slots worth providing for a head of `len` bytes: `max_headers`, but no more
    /// than such a head can hold (a field line takes at least 2 bytes, `x:` and LF), so a
    /// huge setting never turns into a huge allocation and the answer is the same.
    pub(crate) fn header_slots(&self, len: usize) -> usize {
        self.max_headers.min(len / 2 + 1)
    }

    /// These limits with `max_head_size` set.
    pub const fn with_max_head_size(mut self, bytes: usize) -> Self {
        self.max_head_size = bytes;
        self
    }

    /// These limits with `max_headers` set.
    pub const fn with_max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }

    /// These limits with `max_target_len` set.
    pub const fn with_max_target_len(mut self, bytes: usize) -> Self {
        self.max_target_len = bytes;
        self
    }

    /// These limits with `max_body_size` set.
    pub const fn with_max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
