//! Links, monitors and registered names attached to one actor, behind one small lock.
//!
//! Kept out of the hot path: an actor that never links, monitors or registers
//! pays one `Option<Box<_>>` for all of it.

use crate::exit::MonitorRef;
use crate::pid::Pid;

/// Everything other actors may change about this one: who it is linked to,
/// who monitors it, whom it monitors, and its registered names.
#[derive(Debug, Default)]
pub(crate) struct Relations {
    /// Set once, when the actor exits; after that no link, monitor or name is added.
    pub(crate) dead: bool,
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Default)]
pub(crate) struct Extra {
    pub(crate) links: Vec<Pid>,
    pub(crate) monitored_by: Vec<(MonitorRef, Pid)>,
    pub(crate) monitoring: Vec<(MonitorRef, Pid)>,
    pub(crate) names: Vec<String>,
}

impl Relations {
    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    #[cfg(test)]
    pub(crate) fn is_linked(&self, pid: Pid) -> bool {
        self.extra.as_ref().is_some_and(|e| e.links.contains(&pid))
    }

    pub(crate) fn add_link(&mut self, pid: Pid) {
        let e = self.extra();
        if !e.links.contains(&pid) {
            e.links.push(pid);
        }
    }

    pub(crate) fn remove_link(&mut self, pid: Pid) -> bool {
        match self.extra.as_mut() {
            Some(e) => {
                let before = e.links.len();
                e.links.retain(|p| *p != pid);
                before != e.links.len()
            }
            None => false,
        }
    }

    pub(crate) fn remove_monitored_by(&mut self, r: MonitorRef) {
        if let Some(e) = self.extra.as_mut() {
            e.monitored_by.retain(|(m, _)| *m != r);
        }
    }

    /// Removes `r` from the monitors this actor holds; returns the target if it was there.
    pub(crate) fn take_monitoring(&mut self, r: MonitorRef) -> Option<Pid> {
        let e = self.extra.as_mut()?;
        let i = e.monitoring.iter().position(|(m, _)| *m == r)?;
        Some(e.monitoring.swap_remove(i).1)
    }

    pub(crate) fn remove_name(&mut self, name: &str) {
        if let Some(e) = self.extra.as_mut() {
            if let Some(i) = e.names.iter().position(|n| n == name) {
                e.names.swap_remove(i);
            }
        }
    }

    /// Marks the actor dead and takes everything attached to it.
    pub(crate) fn close(&mut self) -> Option<Box<Extra>> {
        self.dead = true;
        self.extra.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_a_set() {
        let mut r = Relations::default();
        let p = Pid::new(1, 1);
        r.add_link(p);
        r.add_link(p);
        assert!(r.is_linked(p));
        assert!(r.remove_link(p));
        assert!(!r.remove_link(p));
        assert!(!r.is_linked(p));
    }

    #[test]
    fn close_marks_dead_and_takes_all() {
        let mut r = Relations::default();
        r.add_link(Pid::new(2, 1));
        r.extra().names.push("a".into());
        let e = r.close().unwrap();
        assert!(r.dead);
        assert_eq!(e.links.len(), 1);
        assert_eq!(e.names, vec!["a".to_string()]);
    }
}
