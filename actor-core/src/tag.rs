//! The one table of reserved message tags, at the top of the `u64` range.
//!
//! Every tag at or above [`LOWEST_RESERVED`] belongs to the runtime or to a
//! protocol bridge; user code sends tags below it. Keeping the whole table in
//! this module means no two meanings can ever share a value.
//!
//! | tag               | value                   | meaning                                   |
//! |-------------------|-------------------------|-------------------------------------------|
//! | [`EXIT`]          | `u64::MAX`              | exit signal turned into a message ([`Exit`](crate::Exit)) |
//! | [`ProtocolTag`] 0–3 | `u64::MAX - 1` … `u64::MAX - 4` | a protocol bridge's events, sent only through a [`Port`](crate::Port) |
//! | [`DOWN`]          | `u64::MAX - 5`          | monitor notification ([`Down`](crate::Down)) |
//! | [`TIMEOUT`]       | `u64::MAX - 6`          | receive timeout ([`Timeout`](crate::Timeout)) |
//! | [`SUPERVISOR`]    | `u64::MAX - 7`          | supervisor's own shutdown timer           |
//! | (unassigned)      | down to `u64::MAX - 15` | kept free for future system tags          |
//! | [`TELL`]          | `u64::MAX - 16`         | a *user* tag: [`Handle::tell`](crate::Handle::tell)'s typed sends |

/// The exit signal, delivered as a message to an actor that traps exits.
pub const EXIT: u64 = u64::MAX;
/// A monitored actor went down; the payload is [`Down`](crate::Down).
pub const DOWN: u64 = u64::MAX - 5;
/// The receive timeout expired; the payload is [`Timeout`](crate::Timeout).
pub const TIMEOUT: u64 = u64::MAX - 6;
/// A supervisor's child-shutdown timer (internal to [`Supervisor`](crate::Supervisor)).
pub const SUPERVISOR: u64 = u64::MAX - 7;
/// The lowest reserved tag: every tag `>= LOWEST_RESERVED` is refused from user sends.
pub const LOWEST_RESERVED: u64 = u64::MAX - 15;

/// A user tag: receivers dispatch on the payload's type with
/// [`Message::downcast`](crate::Message::downcast) / [`is`](crate::Message::is).
///
/// What [`Handle::tell`](crate::Handle::tell) and
/// [`Context::tell`](crate::Context::tell) send with, so typed messages need
/// no hand-picked tag. Not reserved: an ordinary `send` may use it too.
pub const TELL: u64 = LOWEST_RESERVED - 1;

/// How many reserved tags protocol bridges get (see [`ProtocolTag`]).
pub const PROTOCOL_TAGS: u8 = 4;

/// Is `tag` reserved for the runtime or a protocol bridge?
#[must_use]
pub const fn is_reserved(tag: u64) -> bool {
    tag >= LOWEST_RESERVED
}

/// One of the [`PROTOCOL_TAGS`] reserved tags a protocol bridge delivers its
/// events with (`u64::MAX - 1 - index`), through a [`Port`](crate::Port).
///
/// The runtime gives them no meaning; the bridge does (for example text,
/// binary, disconnect, connect as indexes 0–3). Being reserved, they cannot be
/// forged by user sends, so an actor knows such a message came from its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProtocolTag(u8);

impl ProtocolTag {
    /// Protocol tag number `index`.
    ///
    /// # Panics
    ///
    /// If `index >= PROTOCOL_TAGS`; in a `const` that is a compile error:
    ///
    /// ```compile_fail
    /// const BAD: actor_core::tag::ProtocolTag = actor_core::tag::ProtocolTag::new(4);
    /// let _ = BAD;
    /// ```
    #[must_use]
    pub const fn new(index: u8) -> ProtocolTag {
        assert!(
            index < PROTOCOL_TAGS,
            "protocol tag index out of range (must be < PROTOCOL_TAGS)"
        );
        ProtocolTag(index)
    }

    /// The index passed to [`new`](ProtocolTag::new).
    #[must_use]
    pub const fn index(self) -> u8 {
        self.0
    }

    /// The tag value a receiver sees in [`Message::tag`](crate::Message::tag).
    #[must_use]
    pub const fn tag(self) -> u64 {
        u64::MAX - 1 - self.0 as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_values_are_distinct_and_reserved() {
        let mut all = vec![EXIT, DOWN, TIMEOUT, SUPERVISOR];
        all.extend((0..PROTOCOL_TAGS).map(|i| ProtocolTag::new(i).tag()));
        for (i, a) in all.iter().enumerate() {
            assert!(is_reserved(*a));
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(EXIT, u64::MAX);
        assert!(!is_reserved(LOWEST_RESERVED - 1));
        assert!(is_reserved(LOWEST_RESERVED));
        assert!(!is_reserved(TELL));
    }

    #[test]
    fn protocol_tags_keep_their_values() {
        const LAST: ProtocolTag = ProtocolTag::new(PROTOCOL_TAGS - 1);
        assert_eq!(ProtocolTag::new(0).tag(), u64::MAX - 1);
        assert_eq!(ProtocolTag::new(1).tag(), u64::MAX - 2);
        assert_eq!(ProtocolTag::new(2).tag(), u64::MAX - 3);
        assert_eq!(LAST.tag(), u64::MAX - 4);
        assert_eq!(LAST.index(), 3);
    }

    #[test]
    #[should_panic(expected = "protocol tag index out of range")]
    fn protocol_tag_out_of_range_panics_at_run_time() {
        let i = std::hint::black_box(PROTOCOL_TAGS);
        let _ = ProtocolTag::new(i);
    }
}
