//! Model-checks the mailbox state machine under loom (every interleaving of
//! senders racing the runner going idle) and the idle protocol (workers going
//! to sleep, in their I/O driver or on their parker, racing a sender's wake-up
//! and another worker's look into a driver not its own).
//!
//! Run with: `RUSTFLAGS="--cfg loom" cargo test -p actor-core --release --test loom`
//! (a plain `cargo test` compiles this file to nothing).
#![cfg(loom)]
#![allow(dead_code, unreachable_pub)]

#[path = "../src/exit.rs"]
mod exit;
#[path = "../src/idle.rs"]
mod idle;
#[path = "../src/mailbox.rs"]
mod mailbox;
#[path = "../src/message.rs"]
mod message;
#[path = "../src/pid.rs"]
mod pid;
#[path = "../src/sync.rs"]
mod sync;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use mailbox::{Batch, Mailbox, Signal};
use message::Message;

/// What a worker does with an actor it took off a run queue, with a budget;
/// when the budget is spent the actor is "re-enqueued" and picked up again.
/// `running` is held exactly while this runner holds the actor's own state
/// (taken out of the mailbox by `start_run`, parked again by `next_or_idle`
/// or `yield_turn`). The actor state counts the items it handled, so a lost
/// hand-over of that state shows up as a wrong count. Work comes out of the
/// mailbox in batches of at most the remaining budget, as in the runtime.
fn run(mb: &Mailbox<usize>, running: &AtomicBool, handled: &AtomicUsize, budget: usize) {
    let mut batch = Batch::default();
    'turn: loop {
        let mut left = budget;
        let mut local = mb.start_run(&mut batch, left);
        assert!(local.is_some(), "a scheduled actor has its state parked");
        assert!(!running.swap(true, Ordering::SeqCst), "ran on two workers");
        loop {
            if batch.next().is_none() {
                running.store(false, Ordering::SeqCst);
                if !mb.next_or_idle(&mut local, &mut batch, left) {
                    assert!(local.is_none(), "the state was parked");
                    return;
                }
                assert!(!running.swap(true, Ordering::SeqCst), "ran on two workers");
                continue;
            }
            *local.as_mut().expect("held while running") += 1;
            handled.fetch_add(1, Ordering::SeqCst);
            left -= 1;
            if left == 0 {
                assert!(batch.next().is_none(), "a batch never exceeds the budget");
                running.store(false, Ordering::SeqCst);
                mb.yield_turn(local);
                continue 'turn;
            }
        }
    }
}

fn model(budget: usize, signal: bool) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(move || {
        let mb = Arc::new(Mailbox::new_scheduled(0usize));
        let running = Arc::new(AtomicBool::new(false));
        let handled = Arc::new(AtomicUsize::new(0));
        let senders: Vec<_> = (0..2)
            .map(|i| {
                let (mb, running, handled) = (mb.clone(), running.clone(), handled.clone());
                loom::thread::spawn(move || {
                    let schedule = if signal && i == 1 {
                        mb.push_signal(Signal::Kill).unwrap()
                    } else {
                        mb.push(Message::new(i, ())).unwrap()
                    };
                    // Only the sender that moved IDLE -> SCHEDULED runs it.
                    if schedule {
                        run(&mb, &running, &handled, budget);
                    }
                })
            })
            .collect();
        // The spawner owns the first, SCHEDULED, turn.
        run(&mb, &running, &handled, budget);
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(
            handled.load(Ordering::SeqCst),
            2,
            "a message was left behind"
        );
        // Everything is drained and the actor is IDLE: the next send schedules
        // it, and the actor state parked last saw both messages.
        let mut batch = Batch::default();
        assert!(!mb.refill(&mut batch, 64));
        assert!(mb.push(Message::new(9, ())).unwrap());
        assert_eq!(
            mb.start_run(&mut batch, 64),
            Some(2),
            "actor state lost an update"
        );
        assert!(batch.next().is_some());
    });
}

#[test]
fn senders_racing_idle_lose_nothing_and_never_double_run() {
    model(64, false);
}

#[test]
fn budget_yield_racing_senders() {
    model(1, false);
}

#[test]
fn signal_and_message_racing_idle() {
    model(1, true);
}

#[test]
fn signal_and_message_racing_idle_batched() {
    model(64, true);
}

#[test]
fn close_racing_a_send_either_delivers_or_returns_the_message() {
    loom::model(|| {
        let mb = Arc::new(Mailbox::new_scheduled(()));
        let m2 = mb.clone();
        let t = loom::thread::spawn(move || m2.push(Message::new(1, ())).is_err());
        let (_, drained) = mb.close();
        let refused = t.join().unwrap();
        assert_eq!(usize::from(refused) + drained.len(), 1);
    });
}

/// Something a worker blocks on: the I/O driver's poll or its own parker.
/// A wake-up before the wait is kept (as an eventfd or a parker token is).
#[derive(Default)]
struct Gate {
    woken: loom::sync::Mutex<bool>,
    cv: loom::sync::Condvar,
}

impl Gate {
    fn park(&self) {
        let mut w = self.woken.lock().unwrap();
        while !*w {
            w = self.cv.wait(w).unwrap();
        }
        *w = false;
    }
    fn unpark(&self) {
        *self.woken.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

struct World {
    idle: idle::Idle,
    work: AtomicUsize,
    stop: AtomicBool,
    /// The drivers; worker `i`'s own is `i % drivers.len()`.
    drivers: Vec<Gate>,
    parkers: Vec<Gate>,
    done: loom::sync::Mutex<usize>,
    done_cv: loom::sync::Condvar,
}

impl World {
    /// `Shared::wake_one`: wake the popped sleeper the way it sleeps.
    fn wake_one(&self) {
        match self.idle.pop_sleeper() {
            Some((_, Some(d))) => self.drivers[d].unpark(),
            Some((i, None)) => self.parkers[i].unpark(),
            None => {}
        }
    }

    /// `worker::run`'s idle path, with "running" reduced to taking the work.
    /// The timed parks are modelled as untimed (a lost wake-up must not be
    /// hidden by a timeout). After a park, a worker looks into the other
    /// drivers (`Watch::look`: take one if free, poll without blocking,
    /// release), racing their own workers' attempts to park in them.
    fn worker(&self, i: usize) {
        let n = self.drivers.len();
        let home = i % n;
        loop {
            let got = self.work.swap(0, Ordering::SeqCst);
            if got > 0 {
                *self.done.lock().unwrap() += got;
                self.done_cv.notify_all();
                continue;
            }
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let driver = self.idle.try_take_driver(home).then_some(home);
            self.idle.announce_sleep(i, driver);
            if self.work.load(Ordering::SeqCst) > 0 || self.stop.load(Ordering::SeqCst) {
                self.idle.cancel_sleep(i);
                if let Some(d) = driver {
                    self.idle.release_driver(d);
                }
                continue;
            }
            if let Some(d) = driver {
                self.drivers[d].park();
                self.idle.cancel_sleep(i);
                self.idle.release_driver(d);
            } else {
                self.parkers[i].park();
                self.idle.cancel_sleep(i);
            }
            for d in (0..n).filter(|&d| d != home) {
                if self.idle.try_take_driver(d) {
                    self.idle.release_driver(d);
                }
            }
        }
    }
}

/// `workers` idle workers over `drivers` drivers and one send: the send's
/// wake-up reaches a worker that runs it, whichever way it sleeps (a lost
/// wake-up leaves every thread blocked, which loom reports as a deadlock).
/// Then shutdown: stop, unpark every parker and every driver, join.
fn idle_model(workers: usize, drivers: usize) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(move || {
        let world = Arc::new(World {
            idle: idle::Idle::new(workers, drivers),
            work: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            drivers: (0..drivers).map(|_| Gate::default()).collect(),
            parkers: (0..workers).map(|_| Gate::default()).collect(),
            done: loom::sync::Mutex::new(0),
            done_cv: loom::sync::Condvar::new(),
        });
        let threads: Vec<_> = (0..workers)
            .map(|i| {
                let w = world.clone();
                loom::thread::spawn(move || w.worker(i))
            })
            .collect();
        // The send: make the work visible, then wake one sleeper.
        world.work.fetch_add(1, Ordering::SeqCst);
        world.wake_one();
        {
            let mut done = world.done.lock().unwrap();
            while *done == 0 {
                done = world.done_cv.wait(done).unwrap();
            }
        }
        // Runtime::shutdown.
        world.stop.store(true, Ordering::SeqCst);
        for p in &world.parkers {
            p.unpark();
        }
        for d in &world.drivers {
            d.unpark();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*world.done.lock().unwrap(), 1);
    });
}

#[test]
fn a_send_wakes_the_worker_parked_in_the_driver() {
    idle_model(1, 1);
}

#[test]
fn a_send_wakes_a_worker_whether_it_sleeps_in_the_driver_or_not() {
    idle_model(2, 1);
}

#[test]
fn a_send_wakes_a_worker_parked_in_its_own_driver_or_on_its_parker() {
    idle_model(2, 2);
}
