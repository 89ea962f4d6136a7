//! Exit reasons and the payloads of exit signals and monitor notifications.

use crate::pid::Pid;
use std::fmt;

/// Why an actor exited.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitReason {
    /// The actor finished its work. Does not kill linked actors.
    Normal,
    /// Stopped by its supervisor or by runtime shutdown.
    Shutdown,
    /// Killed by [`Handle::kill`](crate::Handle::kill); untrappable.
    Killed,
    /// A handler panicked; holds the panic message.
    Panic(String),
    /// A linked actor exited abnormally and this actor did not trap exits.
    Linked(Pid, Box<ExitReason>),
    /// The actor did not exist (link or monitor of a dead pid).
    NoProc,
    /// Any other reason, chosen by the application.
    Custom(String),
}

impl ExitReason {
    /// Is this the `Normal` reason (the only one that does not kill linked actors)?
    #[must_use]
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal)
    }

    /// Is this `Normal` or `Shutdown`, the reasons a transient child is not restarted for?
    #[must_use]
    pub fn is_clean(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Shutdown)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::Panic(m) => write!(f, "panic: {m}"),
            ExitReason::Linked(p, r) => write!(f, "linked {p} exited: {r}"),
            ExitReason::NoProc => f.write_str("noproc"),
            ExitReason::Custom(m) => f.write_str(m),
        }
    }
}

/// The payload of an exit signal delivered as a message (tag [`tag::EXIT`](crate::tag::EXIT))
/// to an actor that traps exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Who sent the signal (a linked actor, or the caller of [`Handle::exit`](crate::Handle::exit)).
    pub from: Pid,
    /// Why.
    pub reason: ExitReason,
}

/// Identifies one monitor, so it can be removed and its [`Down`] recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorRef(pub(crate) u64);

/// The payload of a monitor notification (tag [`tag::DOWN`](crate::tag::DOWN)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Down {
    /// The actor that went down.
    pub pid: Pid,
    /// Why it exited ([`ExitReason::NoProc`] if it was already gone when monitored).
    pub reason: ExitReason,
    /// The monitor this notification ends.
    pub monitor: MonitorRef,
}

/// The payload of a receive-timeout message (tag [`tag::TIMEOUT`](crate::tag::TIMEOUT)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout;

/// Turns a caught panic payload (from `catch_unwind`) into the message it carried, the
/// text [`ExitReason::Panic`] holds. For layers that catch panics in their own hooks.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("panic with a non-string payload")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_and_clean() {
        assert!(ExitReason::Normal.is_normal());
        assert!(!ExitReason::Shutdown.is_normal());
        assert!(ExitReason::Shutdown.is_clean());
        assert!(!ExitReason::Killed.is_clean());
        assert!(!ExitReason::Panic("x".into()).is_clean());
    }

    #[test]
    fn panic_message_keeps_text() {
        let r = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_message(&*r), "boom 1");
        let r = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(panic_message(&*r), "static");
    }
}
