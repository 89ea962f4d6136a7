//! Name registry: `register(name, pid)` / `whereis(name)`, cleaned up when the actor exits.
//!
//! [`Registry::claim`] backs `whereis_or_spawn`: a name being spawned is
//! *pending* (held by the winning thread) until [`Registry::settle`], so
//! concurrent callers wait for the winner instead of racing it, and the
//! winner's `make` runs outside every lock.

use crate::actor::lock;
use crate::pid::Pid;
use crate::runtime::Error;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::thread::ThreadId;

#[derive(Debug, Default)]
struct Names {
    map: HashMap<String, Pid>,
    /// Names a `whereis_or_spawn` winner is spawning, with the winner's thread.
    pending: HashMap<String, ThreadId>,
}

/// Names → pids for one runtime.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    names: Mutex<Names>,
    /// Notified whenever a pending name settles.
    settled: Condvar,
}

/// What [`Registry::claim`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// A live actor holds the name.
    Found(Pid),
    /// The name is now pending for this thread; it must [`settle`](Registry::settle) it.
    Won,
}

impl Registry {
    pub(crate) fn insert(&self, name: String, pid: Pid) -> Result<(), Error> {
        let mut n = lock(&self.names);
        if n.map.contains_key(&name) || n.pending.contains_key(&name) {
            return Err(Error::NameTaken(name));
        }
        n.map.insert(name, pid);
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Option<Pid> {
        lock(&self.names).map.get(name).copied()
    }

    pub(crate) fn remove(&self, name: &str) -> Option<Pid> {
        lock(&self.names).map.remove(name)
    }

    /// Removes `name` only if it still points at `pid` (exit cleanup).
    pub(crate) fn remove_if(&self, name: &str, pid: Pid) {
        let mut n = lock(&self.names);
        if n.map.get(name) == Some(&pid) {
            n.map.remove(name);
        }
    }

    /// The live holder of `name`, or the right to spawn one. A holder that
    /// `alive` says is gone (exiting, its cleanup not yet run) is dropped from
    /// the map. While another thread holds the name pending this waits for
    /// it to settle, like `OnceLock::get_or_init`.
    ///
    /// `alive` runs under the registry lock; it may take slot and mailbox
    /// locks (never held while taking this one), not an actor's relations.
    ///
    /// # Panics
    ///
    /// If this thread already holds `name` pending (its `make` asked for the
    /// same name again, which would wait for itself forever).
    pub(crate) fn claim(&self, name: &str, alive: impl Fn(Pid) -> bool) -> Claim {
        let me = std::thread::current().id();
        let mut n = lock(&self.names);
        loop {
            if let Some(&pid) = n.map.get(name) {
                if alive(pid) {
                    return Claim::Found(pid);
                }
                n.map.remove(name);
            }
            match n.pending.get(name) {
                Some(&owner) if owner == me => {
                    drop(n);
                    panic!("whereis_or_spawn({name:?}) called again from its own `make`");
                }
                Some(_) => {
                    n = match self.settled.wait(n) {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    };
                }
                None => {
                    n.pending.insert(name.to_owned(), me);
                    return Claim::Won;
                }
            }
        }
    }

    /// Ends a [`Claim::Won`]: registers `pid` under `name` (or nothing, if the
    /// spawn failed) and wakes the callers waiting for it.
    pub(crate) fn settle(&self, name: &str, pid: Option<Pid>) {
        let mut n = lock(&self.names);
        if let Some((name, _)) = n.pending.remove_entry(name) {
            if let Some(pid) = pid {
                n.map.insert(name, pid);
            }
        }
        drop(n);
        self.settled.notify_all();
    }

    pub(crate) fn clear(&self) {
        lock(&self.names).map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_registration_is_refused() {
        let r = Registry::default();
        r.insert("a".into(), Pid::new(1, 1)).unwrap();
        assert_eq!(
            r.insert("a".into(), Pid::new(2, 1)),
            Err(Error::NameTaken("a".into()))
        );
        r.remove_if("a", Pid::new(2, 1));
        assert_eq!(r.get("a"), Some(Pid::new(1, 1)));
        r.remove_if("a", Pid::new(1, 1));
        assert_eq!(r.get("a"), None);
    }

    #[test]
    fn claim_skips_dead_holders_and_pending_blocks_register() {
        let r = Registry::default();
        r.insert("a".into(), Pid::new(1, 1)).unwrap();
        assert_eq!(r.claim("a", |_| true), Claim::Found(Pid::new(1, 1)));
        assert_eq!(r.claim("a", |_| false), Claim::Won);
        assert_eq!(r.get("a"), None, "a dead holder is never handed out");
        assert_eq!(
            r.insert("a".into(), Pid::new(2, 1)),
            Err(Error::NameTaken("a".into()))
        );
        r.settle("a", Some(Pid::new(3, 1)));
        assert_eq!(r.get("a"), Some(Pid::new(3, 1)));
        assert_eq!(r.claim("b", |_| true), Claim::Won);
        r.settle("b", None);
        assert_eq!(r.get("b"), None);
        assert_eq!(r.claim("b", |_| true), Claim::Won);
    }

    #[test]
    #[should_panic(expected = "called again from its own `make`")]
    fn claiming_a_name_this_thread_holds_panics() {
        let r = Registry::default();
        assert_eq!(r.claim("a", |_| true), Claim::Won);
        let _ = r.claim("a", |_| true);
    }
}
