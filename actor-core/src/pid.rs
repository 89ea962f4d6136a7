//! Process identifiers: a slot index plus a generation, so a stale pid never reaches a successor.

use std::fmt;

/// Identifies one actor for its whole life.
///
/// A pid is a slot index plus a generation. When an actor exits its slot is
/// reused with the next generation, so a send to an old pid fails with
/// [`SendError::NoProc`](crate::SendError::NoProc) instead of reaching the
/// slot's next occupant. Printed Erlang-style: `<0.index.generation>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl Pid {
    /// The pid of no actor: the sender of signals that come from outside any
    /// actor (for example [`Handle::exit`](crate::Handle::exit) called from a
    /// plain thread). Sends to it always fail.
    pub const NONE: Pid = Pid {
        index: u32::MAX,
        generation: 0,
    };

    pub(crate) const fn new(index: u32, generation: u32) -> Pid {
        Pid { index, generation }
    }

    /// The slot index.
    #[must_use]
    pub const fn index(self) -> u32 {
        self.index
    }

    /// The generation of the slot this pid was issued for.
    #[must_use]
    pub const fn generation(self) -> u32 {
        self.generation
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<0.{}.{}>", self.index, self.generation)
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_erlang_style() {
        assert_eq!(format!("{:?}", Pid::new(12, 3)), "<0.12.3>");
        assert_eq!(Pid::new(12, 3).to_string(), "<0.12.3>");
    }

    #[test]
    fn generation_distinguishes_pids() {
        assert_ne!(Pid::new(1, 1), Pid::new(1, 2));
        assert_eq!(Pid::new(1, 1), Pid::new(1, 1));
        assert_eq!(std::mem::size_of::<Pid>(), 8);
    }
}
