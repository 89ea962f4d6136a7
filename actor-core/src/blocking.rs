//! The blocking pool: where slow or blocking work goes, off the workers.
//!
//! A handler must never stall its worker (it would stall every actor queued
//! behind it). Work that blocks — file I/O, a DNS lookup, a heavy computation —
//! goes to [`Handle::spawn_blocking`](crate::Handle::spawn_blocking) or
//! [`Context::spawn_blocking`](crate::Context::spawn_blocking): it runs on a
//! pool thread (started on demand, up to `Builder::blocking_threads`) and its
//! result comes back to an actor as an ordinary message. For work that lives
//! as long as the program, a dedicated `std::thread` that sends into the
//! runtime through a [`Handle`](crate::Handle) is just as good.

use crate::actor::lock;
use crate::runtime::{Error, Shared};
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// The payload's error side when a blocking job panicked: the panic message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockingPanic(pub String);

impl fmt::Display for BlockingPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blocking job panicked: {}", self.0)
    }
}

impl std::error::Error for BlockingPanic {}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    idle: usize,
    threads: Vec<JoinHandle<()>>,
    stop: bool,
}

/// A lazily grown thread pool.
pub(crate) struct Blocking {
    state: Mutex<State>,
    cv: Condvar,
    max: usize,
    name: String,
}

impl fmt::Debug for Blocking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocking")
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Blocking {
    pub(crate) fn new(max: usize, name: String) -> Blocking {
        Blocking {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            max,
            name,
        }
    }

    pub(crate) fn submit(&self, shared: &Arc<Shared>, job: Job) -> Result<(), Error> {
        let mut s = lock(&self.state);
        if s.stop {
            return Err(Error::ShutDown);
        }
        s.jobs.push_back(job);
        if s.idle > 0 {
            drop(s);
            self.cv.notify_one();
            return Ok(());
        }
        if s.threads.len() < self.max {
            let sh = Arc::clone(shared);
            let t = std::thread::Builder::new()
                .name(self.name.clone())
                .spawn(move || sh.blocking.work())
                .map_err(|e| Error::ThreadSpawn(e.kind()));
            match t {
                Ok(t) => s.threads.push(t),
                // No new thread: the job waits for a busy one, unless there is none.
                Err(e) if s.threads.is_empty() => {
                    s.jobs.pop_back();
                    return Err(e);
                }
                Err(_) => {}
            }
        }
        Ok(())
    }

    fn work(&self) {
        let mut s = lock(&self.state);
        loop {
            if s.stop {
                return;
            }
            if let Some(job) = s.jobs.pop_front() {
                drop(s);
                job();
                s = lock(&self.state);
                continue;
            }
            s.idle += 1;
            s = match self.cv.wait(s) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            s.idle -= 1;
        }
    }

    /// Stops taking jobs, drops queued ones, waits for running ones.
    pub(crate) fn stop_and_join(&self) {
        let (threads, jobs) = {
            let mut s = lock(&self.state);
            s.stop = true;
            (std::mem::take(&mut s.threads), std::mem::take(&mut s.jobs))
        };
        self.cv.notify_all();
        drop(jobs);
        let me = std::thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}
