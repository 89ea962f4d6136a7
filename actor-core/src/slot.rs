//! The slot table: pid → actor cell, sharded, with generations and a free list so exited actors are reaped.

use crate::actor::Cell;
use crate::pid::Pid;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Number of independently locked shards; a pid's shard is `index % SHARDS`.
const SHARDS: usize = 64;

#[derive(Debug)]
struct Entry {
    generation: u32,
    cell: Option<Arc<Cell>>,
}

#[derive(Debug, Default)]
struct Shard {
    entries: Vec<Entry>,
    free: Vec<u32>,
}

/// All live actors, by pid.
#[derive(Debug)]
pub(crate) struct Slots {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    next: AtomicUsize,
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Slots {
    pub(crate) fn new() -> Slots {
        Slots {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Shard::default())))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    fn split(pid: Pid) -> (usize, usize) {
        let i = pid.index as usize;
        (i % SHARDS, i / SHARDS)
    }

    /// Reserves a slot and stores the cell built for its pid.
    pub(crate) fn insert(&self, make: impl FnOnce(Pid) -> Arc<Cell>) -> Arc<Cell> {
        let shard = self.next.fetch_add(1, Ordering::Relaxed) % SHARDS;
        let mut s = lock(&self.shards[shard]);
        let local = match s.free.pop() {
            Some(l) => l as usize,
            None => {
                s.entries.push(Entry {
                    generation: 1,
                    cell: None,
                });
                s.entries.len() - 1
            }
        };
        let index = u32::try_from(local * SHARDS + shard).unwrap_or(u32::MAX - 1);
        let entry = &mut s.entries[local];
        let cell = make(Pid::new(index, entry.generation));
        entry.cell = Some(Arc::clone(&cell));
        cell
    }

    /// Runs `f` on the live cell for `pid` while its shard is locked.
    pub(crate) fn with<R>(&self, pid: Pid, f: impl FnOnce(&Arc<Cell>) -> R) -> Option<R> {
        let (shard, local) = Self::split(pid);
        let s = lock(self.shards.get(shard)?);
        let entry = s.entries.get(local)?;
        if entry.generation != pid.generation {
            return None;
        }
        entry.cell.as_ref().map(f)
    }

    pub(crate) fn get(&self, pid: Pid) -> Option<Arc<Cell>> {
        self.with(pid, Arc::clone)
    }

    /// Frees the slot of `pid` for reuse under the next generation.
    pub(crate) fn remove(&self, pid: Pid) {
        let (shard, local) = Self::split(pid);
        let Some(m) = self.shards.get(shard) else {
            return;
        };
        let mut s = lock(m);
        let Some(entry) = s.entries.get_mut(local) else {
            return;
        };
        if entry.generation != pid.generation {
            return;
        }
        entry.cell = None;
        if entry.generation < u32::MAX - 1 {
            entry.generation += 1;
            let l = u32::try_from(local).unwrap_or(u32::MAX);
            s.free.push(l);
        } else {
            // Generation space exhausted: retire the slot rather than ever reuse a pid.
            entry.generation = u32::MAX;
        }
    }

    /// How many slots exist (live or free): the table's footprint.
    pub(crate) fn capacity(&self) -> usize {
        self.shards.iter().map(|s| lock(s).entries.len()).sum()
    }

    /// Every live cell.
    pub(crate) fn cells(&self) -> Vec<Arc<Cell>> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let s = lock(s);
            out.extend(s.entries.iter().filter_map(|e| e.cell.clone()));
        }
        out
    }

    /// Empties the table (runtime teardown), returning what was still there.
    pub(crate) fn drain(&self) -> Vec<Arc<Cell>> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let mut s = lock(s);
            for e in s.entries.iter_mut() {
                if let Some(c) = e.cell.take() {
                    e.generation = e.generation.saturating_add(1);
                    out.push(c);
                }
            }
        }
        out
    }
}
