//! The I/O driver hook (`Builder::driver`): an idle worker blocks in the
//! driver, what the driver sends runs on that same worker, wake-ups and
//! shutdown reach a worker parked in it, and busy workers still poll it.

mod common;

use actor_core::{Context, Driver, Handle, Message, Pid, Runtime};
use common::recv;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

/// A fake event source: `input` queues an "event" (a tag for `target`);
/// `park` waits for one (or an unpark) and delivers what is queued as
/// messages carrying the id of the thread that delivered them.
#[derive(Default)]
struct Fake {
    state: Mutex<State>,
    cv: Condvar,
    target: OnceLock<(Handle, Pid)>,
    parks: AtomicUsize,
    polls: AtomicUsize,
    unparks: AtomicUsize,
    /// What `flush` found marked by actors on its own thread.
    flushed: AtomicUsize,
}

thread_local! {
    /// Work an actor left for the end of its turn on this thread (a corked write).
    static MARKED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[derive(Default)]
struct State {
    pending: Vec<u64>,
    woken: bool,
}

impl Fake {
    /// An event arrives: wakes a parked holder (as readiness would).
    fn input(&self, tag: u64) {
        let mut s = self.state.lock().unwrap();
        s.pending.push(tag);
        s.woken = true;
        self.cv.notify_all();
    }

    /// An event is ready but nobody is woken: only a poll finds it.
    fn input_quietly(&self, tag: u64) {
        self.state.lock().unwrap().pending.push(tag);
    }

    fn deliver(&self, pending: Vec<u64>) {
        if let Some((h, pid)) = self.target.get() {
            for tag in pending {
                let _ = h.send(*pid, tag, std::thread::current().id());
            }
        }
    }
}

impl Driver for Fake {
    fn park(&self, timeout: Option<Duration>) {
        self.parks.fetch_add(1, Ordering::SeqCst);
        let mut s = self.state.lock().unwrap();
        while s.pending.is_empty() && !s.woken {
            match timeout {
                None => s = self.cv.wait(s).unwrap(),
                Some(t) => {
                    let (g, r) = self.cv.wait_timeout(s, t).unwrap();
                    s = g;
                    if r.timed_out() {
                        break;
                    }
                }
            }
        }
        s.woken = false;
        let pending = std::mem::take(&mut s.pending);
        drop(s);
        self.deliver(pending);
    }
    fn poll_now(&self) {
        self.polls.fetch_add(1, Ordering::SeqCst);
        let pending = std::mem::take(&mut self.state.lock().unwrap().pending);
        self.deliver(pending);
    }
    fn unpark(&self) {
        self.unparks.fetch_add(1, Ordering::SeqCst);
        let mut s = self.state.lock().unwrap();
        s.woken = true;
        self.cv.notify_all();
    }
    fn flush(&self) {
        self.flushed.fetch_add(MARKED.take(), Ordering::SeqCst);
    }
}

fn runtime(workers: usize, fake: &Arc<Fake>) -> Runtime {
    Runtime::builder()
        .workers(workers)
        .thread_name("drv")
        .driver(Arc::clone(fake) as Arc<dyn Driver>)
        .build()
        .expect("runtime")
}

#[test]
fn what_the_driver_sends_runs_on_the_worker_that_polled_it_without_a_wake_up() {
    let fake = Arc::new(Fake::default());
    // One worker, so no other can steal what the driver scheduled.
    let rt = runtime(1, &fake);
    let h = rt.handle();
    let (tx, rx) = channel();
    let pid = h.spawn_fn(move |_ctx: &mut Context<'_>, m: Message| {
        let from = m.downcast::<ThreadId>().expect("a thread id");
        let _ = tx.send(from == std::thread::current().id());
    });
    let _ = fake.target.set((h.clone(), pid));
    fake.input(0);
    assert!(recv(&rx));
    let unparks = fake.unparks.load(Ordering::SeqCst);
    for i in 1..200 {
        fake.input(i);
        assert!(
            recv(&rx),
            "message {i} ran on another thread than the driver's"
        );
    }
    // The sends made inside `park` woke nobody: the worker ran them after it.
    assert_eq!(fake.unparks.load(Ordering::SeqCst), unparks);
    // Each input was taken by a park, or by the poll a worker makes between turns when
    // the next input came before it parked again (a loaded machine): never by a wake-up.
    let (parks, polls) = (
        fake.parks.load(Ordering::SeqCst),
        fake.polls.load(Ordering::SeqCst),
    );
    assert!(
        parks > 0 && parks + polls >= 200,
        "parks {parks}, polls {polls}"
    );
    assert!(rt.shutdown(Duration::from_secs(5)));
}

#[test]
fn events_reach_their_actor_with_two_workers() {
    let fake = Arc::new(Fake::default());
    let rt = runtime(2, &fake);
    let h = rt.handle();
    let (tx, rx) = channel();
    let pid = h.spawn_fn(move |_ctx: &mut Context<'_>, m: Message| {
        let _ = tx.send(m.tag());
    });
    let _ = fake.target.set((h.clone(), pid));
    for i in 0..200 {
        fake.input(i);
        assert_eq!(recv(&rx), i);
    }
    assert!(rt.shutdown(Duration::from_secs(5)));
}

#[test]
fn a_send_from_outside_wakes_the_worker_parked_in_the_driver() {
    let fake = Arc::new(Fake::default());
    // One worker: once idle it can only be in the driver.
    let rt = runtime(1, &fake);
    let h = rt.handle();
    let (tx, rx) = channel();
    let pid = h.spawn_fn(move |_ctx: &mut Context<'_>, m: Message| {
        let _ = tx.send(m.tag());
    });
    for i in 0..500u64 {
        h.send(pid, i, ()).unwrap();
        assert_eq!(recv(&rx), i);
    }
    // Shutdown too has to get the worker out of the driver.
    assert!(rt.shutdown(Duration::from_secs(5)));
}

#[test]
fn a_busy_worker_still_polls_the_driver() {
    const MAX: u64 = 1_000_000;
    let fake = Arc::new(Fake::default());
    let rt = runtime(1, &fake);
    let h = rt.handle();
    let (tx, rx) = channel();
    let f2 = Arc::clone(&fake);
    let mut n = 0u64;
    // Keeps its one worker busy by sending itself messages until the
    // driver's event (tag 2) reaches it; the event wakes no one, so only a
    // poll from the busy worker can deliver it.
    let pid = h.spawn_fn(move |ctx: &mut Context<'_>, m: Message| match m.tag() {
        1 => {
            if n == 0 {
                f2.input_quietly(2);
            }
            n += 1;
            if n < MAX {
                let me = ctx.self_pid();
                let _ = ctx.send(me, 1, ());
            } else {
                let _ = tx.send(n);
            }
        }
        _ => {
            let _ = tx.send(n);
            n = MAX; // stop the loop
        }
    });
    let _ = fake.target.set((h.clone(), pid));
    h.send(pid, 1, ()).unwrap();
    let n = recv(&rx);
    assert!(
        n < MAX,
        "the driver was never polled while the worker was busy"
    );
    assert!(fake.polls.load(Ordering::SeqCst) > 0);
    assert!(rt.shutdown(Duration::from_secs(5)));
}

/// A driver per worker (`Builder::drivers`): while one worker is stuck in a
/// handler, the other polls the stuck worker's driver too, so that driver's
/// events still reach their actor (issue 17; issue 12 for one driver).
#[test]
fn a_driver_whose_worker_is_stuck_is_polled_by_another() {
    let fakes = [Arc::new(Fake::default()), Arc::new(Fake::default())];
    let rt = Runtime::builder()
        .workers(2)
        .thread_name("drv2")
        .drivers(
            fakes
                .iter()
                .map(|f| Arc::clone(f) as Arc<dyn Driver>)
                .collect(),
        )
        .build()
        .expect("runtime");
    let h = rt.handle();
    let (tx, rx) = channel();
    let target = h.spawn_fn(move |_ctx: &mut Context<'_>, m: Message| {
        let _ = tx.send(m.tag());
    });
    for f in &fakes {
        let _ = f.target.set((h.clone(), target));
    }
    // Holds whichever worker runs it until the test lets go (or for longer
    // than the test's own waits, so a stall fails the test).
    let (stuck_tx, stuck_rx) = channel::<()>();
    let (release_tx, release_rx) = channel::<()>();
    let blocker = h.spawn_fn(move |_ctx: &mut Context<'_>, _m: Message| {
        let _ = stuck_tx.send(());
        let _ = release_rx.recv_timeout(common::HANG * 2);
    });
    h.send(blocker, 1, ()).unwrap();
    recv(&stuck_rx);
    // One of the two drivers now belongs to the stuck worker: events on
    // either must still arrive while it is stuck.
    for round in 0..20u64 {
        for (i, f) in fakes.iter().enumerate() {
            let tag = round * 2 + i as u64;
            f.input(tag);
            assert_eq!(recv(&rx), tag, "driver {i}'s event did not arrive");
        }
    }
    release_tx.send(()).unwrap();
    assert!(rt.shutdown(Duration::from_secs(5)));
}

#[test]
fn the_worker_flushes_after_each_batch_on_its_own_thread() {
    let fake = Arc::new(Fake::default());
    let rt = runtime(2, &fake);
    let h = rt.handle();
    let (tx, rx) = channel();
    // Each message marks work on the thread that handles it: a flush that skipped
    // a batch, or ran on another thread, would leave marks behind.
    let pid = h.spawn_fn(move |_ctx: &mut Context<'_>, _m: Message| {
        MARKED.set(MARKED.get() + 1);
        let _ = tx.send(());
    });
    const N: usize = 300;
    for i in 0..N {
        h.send(pid, 1, ()).unwrap();
        if i % 7 == 0 {
            // Some batches of one, some of several.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for _ in 0..N {
        recv(&rx);
    }
    // Every mark is flushed once the last batch ends (bounded wait).
    let mut waited = 0;
    while fake.flushed.load(Ordering::SeqCst) < N && waited < 500 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    assert_eq!(fake.flushed.load(Ordering::SeqCst), N);
    assert!(rt.shutdown(Duration::from_secs(5)));
}
