//! Name registry: `register(name, pid)` / `whereis(name)`, cleaned up when the actor exits.

use crate::actor::lock;
use crate::pid::Pid;
use crate::runtime::Error;
use std::collections::HashMap;
use std::sync::Mutex;

/// Names → pids for one runtime.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    names: Mutex<HashMap<String, Pid>>,
}

impl Registry {
    pub(crate) fn insert(&self, name: String, pid: Pid) -> Result<(), Error> {
        let mut m = lock(&self.names);
        if m.contains_key(&name) {
            return Err(Error::NameTaken(name));
        }
        m.insert(name, pid);
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Option<Pid> {
        lock(&self.names).get(name).copied()
    }

    pub(crate) fn remove(&self, name: &str) -> Option<Pid> {
        lock(&self.names).remove(name)
    }

    /// Removes `name` only if it still points at `pid` (exit cleanup).
    pub(crate) fn remove_if(&self, name: &str, pid: Pid) {
        let mut m = lock(&self.names);
        if m.get(name) == Some(&pid) {
            m.remove(name);
        }
    }

    pub(crate) fn clear(&self) {
        lock(&self.names).clear();
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
}
