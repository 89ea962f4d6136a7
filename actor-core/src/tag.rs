//! The one table of reserved message tags, at the top of the `u64` range.
//!
//! Every tag at or above [`LOWEST_RESERVED`] belongs to the runtime or to a
//! protocol bridge; user code sends tags below it. Keeping the whole table in
//! this module means no two meanings can ever share a value.
//!
//! | tag              | value          | meaning                                   |
//! |------------------|----------------|-------------------------------------------|
//! | [`EXIT`]         | `u64::MAX`     | exit signal turned into a message ([`Exit`](crate::Exit)) |
//! | [`WS_TEXT`]      | `u64::MAX - 1` | WebSocket text message (ws-server)        |
//! | [`WS_BINARY`]    | `u64::MAX - 2` | WebSocket binary message (ws-server)      |
//! | [`WS_DISCONNECT`]| `u64::MAX - 3` | WebSocket disconnect (ws-server)          |
//! | [`WS_CONNECT`]   | `u64::MAX - 4` | WebSocket connect (ws-server)             |
//! | [`DOWN`]         | `u64::MAX - 5` | monitor notification ([`Down`](crate::Down)) |
//! | [`TIMEOUT`]      | `u64::MAX - 6` | receive timeout ([`Timeout`](crate::Timeout)) |
//! | [`SUPERVISOR`]   | `u64::MAX - 7` | supervisor's own shutdown timer           |
//! | (unassigned)     | down to `u64::MAX - 15` | kept free for future system tags |

/// The exit signal, delivered as a message to an actor that traps exits.
pub const EXIT: u64 = u64::MAX;
/// WebSocket text message; sent only through [`ReservedTag::WsText`].
pub const WS_TEXT: u64 = u64::MAX - 1;
/// WebSocket binary message; sent only through [`ReservedTag::WsBinary`].
pub const WS_BINARY: u64 = u64::MAX - 2;
/// WebSocket disconnect; sent only through [`ReservedTag::WsDisconnect`].
pub const WS_DISCONNECT: u64 = u64::MAX - 3;
/// WebSocket connect; sent only through [`ReservedTag::WsConnect`].
pub const WS_CONNECT: u64 = u64::MAX - 4;
/// A monitored actor went down; the payload is [`Down`](crate::Down).
pub const DOWN: u64 = u64::MAX - 5;
/// The receive timeout expired; the payload is [`Timeout`](crate::Timeout).
pub const TIMEOUT: u64 = u64::MAX - 6;
/// A supervisor's child-shutdown timer (internal to [`Supervisor`](crate::Supervisor)).
pub const SUPERVISOR: u64 = u64::MAX - 7;
/// The lowest reserved tag: every tag `>= LOWEST_RESERVED` is refused from user sends.
pub const LOWEST_RESERVED: u64 = u64::MAX - 15;

/// Is `tag` reserved for the runtime or a protocol bridge?
#[must_use]
pub const fn is_reserved(tag: u64) -> bool {
    tag >= LOWEST_RESERVED
}

/// The reserved tags a protocol bridge may send (for protocol bridges such as
/// ws-server; ordinary actors use user tags below [`LOWEST_RESERVED`]).
///
/// These are the only reserved tags that can be sent from outside the runtime,
/// through [`Handle::send_reserved`](crate::Handle::send_reserved).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReservedTag {
    /// [`WS_TEXT`].
    WsText,
    /// [`WS_BINARY`].
    WsBinary,
    /// [`WS_DISCONNECT`].
    WsDisconnect,
    /// [`WS_CONNECT`].
    WsConnect,
}

impl ReservedTag {
    /// The tag value this variant stands for.
    #[must_use]
    pub const fn tag(self) -> u64 {
        match self {
            ReservedTag::WsText => WS_TEXT,
            ReservedTag::WsBinary => WS_BINARY,
            ReservedTag::WsDisconnect => WS_DISCONNECT,
            ReservedTag::WsConnect => WS_CONNECT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_values_are_distinct_and_reserved() {
        let all = [
            EXIT,
            WS_TEXT,
            WS_BINARY,
            WS_DISCONNECT,
            WS_CONNECT,
            DOWN,
            TIMEOUT,
            SUPERVISOR,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(is_reserved(*a));
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(EXIT, u64::MAX);
        assert_eq!(WS_CONNECT, u64::MAX - 4);
        assert!(!is_reserved(LOWEST_RESERVED - 1));
        assert!(is_reserved(LOWEST_RESERVED));
    }

    #[test]
    fn reserved_tag_maps_to_ws_values() {
        assert_eq!(ReservedTag::WsText.tag(), u64::MAX - 1);
        assert_eq!(ReservedTag::WsBinary.tag(), u64::MAX - 2);
        assert_eq!(ReservedTag::WsDisconnect.tag(), u64::MAX - 3);
        assert_eq!(ReservedTag::WsConnect.tag(), u64::MAX - 4);
    }
}
