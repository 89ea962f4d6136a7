//! Supervisor tests: strategies, restart types, intensity, ordered shutdown with timeout.

mod common;

use actor_core::{
    Actor, ChildSpec, Context, Down, ExitReason, Handle, Message, Pid, Restart, SpawnOptions,
    Strategy, Supervisor, WhichChildren, INTENSITY_REACHED,
};
use common::{pair, probe, recv, rt};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

const CRASH: u64 = 1;
const QUIT: u64 = 2;

#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Started(&'static str),
    Stopped(&'static str, ExitReason),
}

struct Kid {
    id: &'static str,
    ev: Sender<Ev>,
    trap: bool,
}

impl Actor for Kid {
    fn started(&mut self, ctx: &mut Context<'_>) {
        ctx.trap_exit(self.trap);
        self.ev.send(Ev::Started(self.id)).unwrap();
    }
    fn handle(&mut self, ctx: &mut Context<'_>, msg: Message) {
        match msg.tag() {
            CRASH => panic!("{} crashed", self.id),
            QUIT => ctx.stop(ExitReason::Normal),
            _ => {} // a trapping kid ignores its exit messages
        }
    }
    fn stopped(&mut self, _ctx: &mut Context<'_>, reason: &ExitReason) {
        self.ev.send(Ev::Stopped(self.id, reason.clone())).unwrap();
    }
}

fn kid(id: &'static str, ev: &Sender<Ev>, restart: Restart) -> ChildSpec {
    let ev = ev.clone();
    ChildSpec::new(id, move || Kid {
        id,
        ev: ev.clone(),
        trap: false,
    })
    .restart(restart)
}

/// `got` is exactly one `Started` for each of `ids` (sorted), in any order:
/// children are spawned in order, but their `started` hooks run on two
/// workers.
fn assert_started(got: &[Ev], ids: &[&'static str]) {
    let mut names: Vec<&str> = got
        .iter()
        .map(|e| match e {
            Ev::Started(id) => *id,
            other => panic!("expected a start, got {other:?}"),
        })
        .collect();
    names.sort_unstable();
    assert_eq!(names, ids);
}

fn children(h: &Handle, sup: Pid) -> Vec<(String, Option<Pid>)> {
    let (pid, rx) = probe(h);
    h.send(
        sup,
        0,
        WhichChildren {
            reply_to: pid,
            tag: 5,
        },
    )
    .unwrap();
    recv(&rx).downcast().unwrap()
}

/// Monitors `target` from a fresh actor; the receiver gets its `Down`.
fn watch(h: &Handle, target: Pid) -> Receiver<Message> {
    let (tx, rx) = pair();
    let (ack_tx, ack) = pair::<()>();
    let w = h.spawn_fn(move |ctx: &mut Context<'_>, m: Message| {
        if m.tag() == 0 {
            ctx.monitor(target);
            ack_tx.send(()).unwrap();
        } else {
            let _ = tx.send(m);
        }
    });
    h.send(w, 0, ()).unwrap();
    recv(&ack);
    rx
}

fn pid_of(h: &Handle, sup: Pid, id: &str) -> Pid {
    children(h, sup)
        .into_iter()
        .find(|(n, _)| n == id)
        .and_then(|(_, p)| p)
        .unwrap()
}

fn start(
    h: &Handle,
    strategy: Strategy,
    restarts: [Restart; 3],
) -> (Pid, Receiver<Ev>, Receiver<Message>) {
    let (ev, evs) = pair();
    let sup = Supervisor::new(strategy)
        .intensity(10, Duration::from_secs(60))
        .child(kid("a", &ev, restarts[0]))
        .child(kid("b", &ev, restarts[1]))
        .child(kid("c", &ev, restarts[2]));
    let (mon, downs) = probe(h);
    let (pid, _) = h.spawn_opts(sup, SpawnOptions::new().monitor(mon));
    let started: Vec<Ev> = (0..3).map(|_| recv(&evs)).collect();
    assert_started(&started, &["a", "b", "c"]);
    (pid, evs, downs)
}

const P: Restart = Restart::Permanent;

#[test]
fn one_for_one_restarts_only_the_failed_child() {
    let rt = rt(2);
    let h = rt.handle();
    let (sup, evs, _) = start(&h, Strategy::OneForOne, [P, P, P]);
    let before = children(&h, sup);
    h.send(pid_of(&h, sup, "b"), CRASH, ()).unwrap();
    assert_eq!(
        recv(&evs),
        Ev::Stopped("b", ExitReason::Panic("b crashed".into()))
    );
    assert_eq!(recv(&evs), Ev::Started("b"));
    let after = children(&h, sup);
    assert_eq!(before[0], after[0]);
    assert_ne!(before[1], after[1]);
    assert_eq!(before[2], after[2]);
}

#[test]
fn one_for_all_stops_the_others_in_reverse_then_restarts_all_in_order() {
    let rt = rt(2);
    let h = rt.handle();
    let (sup, evs, _) = start(&h, Strategy::OneForAll, [P, P, P]);
    h.send(pid_of(&h, sup, "b"), CRASH, ()).unwrap();
    let got: Vec<Ev> = (0..6).map(|_| recv(&evs)).collect();
    assert_eq!(
        got[..3],
        [
            Ev::Stopped("b", ExitReason::Panic("b crashed".into())),
            Ev::Stopped("c", ExitReason::Shutdown),
            Ev::Stopped("a", ExitReason::Shutdown),
        ]
    );
    assert_started(&got[3..], &["a", "b", "c"]);
}

#[test]
fn rest_for_one_restarts_the_child_and_those_after_it() {
    let rt = rt(2);
    let h = rt.handle();
    let (sup, evs, _) = start(&h, Strategy::RestForOne, [P, P, P]);
    let a = pid_of(&h, sup, "a");
    h.send(pid_of(&h, sup, "b"), CRASH, ()).unwrap();
    let got: Vec<Ev> = (0..4).map(|_| recv(&evs)).collect();
    assert_eq!(
        got[..2],
        [
            Ev::Stopped("b", ExitReason::Panic("b crashed".into())),
            Ev::Stopped("c", ExitReason::Shutdown),
        ]
    );
    assert_started(&got[2..], &["b", "c"]);
    assert_eq!(pid_of(&h, sup, "a"), a);
}

#[test]
fn transient_restarts_only_after_abnormal_exit_and_temporary_never() {
    let rt = rt(2);
    let h = rt.handle();
    let (sup, evs, _) = start(
        &h,
        Strategy::OneForOne,
        [Restart::Transient, Restart::Temporary, P],
    );
    h.send(pid_of(&h, sup, "a"), QUIT, ()).unwrap();
    assert_eq!(recv(&evs), Ev::Stopped("a", ExitReason::Normal));
    let b = pid_of(&h, sup, "b");
    let b_down = watch(&h, b);
    h.send(b, CRASH, ()).unwrap();
    assert_eq!(
        recv(&evs),
        Ev::Stopped("b", ExitReason::Panic("b crashed".into()))
    );
    // b's exit signal reaches the supervisor before its Down reaches a monitor;
    // without this wait c's exit could overtake it and the list below could
    // still hold b (the stop hook runs before links are told).
    recv(&b_down);
    // Neither was restarted: the next event is c's, and b is gone from the list.
    h.send(pid_of(&h, sup, "c"), QUIT, ()).unwrap();
    assert_eq!(recv(&evs), Ev::Stopped("c", ExitReason::Normal));
    assert_eq!(recv(&evs), Ev::Started("c"));
    let list = children(&h, sup);
    assert_eq!(list.len(), 2);
    assert_eq!(list[0], ("a".to_string(), None));
    // A transient child that crashes is restarted.
    let (ev, evs2) = pair();
    let (mon, _d) = probe(&h);
    let s2 = h.spawn_opts(
        Supervisor::new(Strategy::OneForOne).child(kid("t", &ev, Restart::Transient)),
        SpawnOptions::new().monitor(mon),
    );
    assert_eq!(recv(&evs2), Ev::Started("t"));
    h.send(pid_of(&h, s2.0, "t"), CRASH, ()).unwrap();
    assert_eq!(
        recv(&evs2),
        Ev::Stopped("t", ExitReason::Panic("t crashed".into()))
    );
    assert_eq!(recv(&evs2), Ev::Started("t"));
}

#[test]
fn restart_intensity_exceeded_stops_children_and_the_supervisor() {
    let rt = rt(2);
    let h = rt.handle();
    let (ev, evs) = pair();
    let sup = Supervisor::new(Strategy::OneForOne)
        .intensity(2, Duration::from_secs(3600))
        .child(kid("a", &ev, P))
        .child(kid("b", &ev, P));
    let (mon, downs) = probe(&h);
    let (sup, _) = h.spawn_opts(sup, SpawnOptions::new().monitor(mon));
    let started: Vec<Ev> = (0..2).map(|_| recv(&evs)).collect();
    assert_started(&started, &["a", "b"]);
    for round in 0..3 {
        h.send(pid_of(&h, sup, "a"), CRASH, ()).unwrap();
        assert_eq!(
            recv(&evs),
            Ev::Stopped("a", ExitReason::Panic("a crashed".into()))
        );
        if round < 2 {
            assert_eq!(recv(&evs), Ev::Started("a"));
        }
    }
    assert_eq!(recv(&evs), Ev::Stopped("b", ExitReason::Shutdown));
    let d = recv(&downs).downcast::<Down>().unwrap();
    assert_eq!(d.pid, sup);
    assert_eq!(d.reason, ExitReason::Custom(INTENSITY_REACHED.into()));
}

#[test]
fn shutdown_is_ordered_in_reverse_and_a_stuck_child_is_killed_after_its_timeout() {
    let rt = rt(2);
    let h = rt.handle();
    let (ev, evs) = pair();
    let ev2 = ev.clone();
    let stubborn = ChildSpec::new("stubborn", move || Kid {
        id: "stubborn",
        ev: ev2.clone(),
        trap: true, // gets Shutdown as a message and ignores it
    })
    .shutdown(Duration::from_millis(20));
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(kid("a", &ev, P))
        .child(stubborn)
        .child(kid("c", &ev, P));
    let (mon, downs) = probe(&h);
    let (sup, _) = h.spawn_opts(sup, SpawnOptions::new().monitor(mon));
    let started: Vec<Ev> = (0..3).map(|_| recv(&evs)).collect();
    assert_started(&started, &["a", "c", "stubborn"]);
    assert!(h.exit(sup, ExitReason::Shutdown));
    let got: Vec<Ev> = (0..3).map(|_| recv(&evs)).collect();
    assert_eq!(
        got,
        [
            Ev::Stopped("c", ExitReason::Shutdown),
            Ev::Stopped("stubborn", ExitReason::Killed),
            Ev::Stopped("a", ExitReason::Shutdown),
        ]
    );
    let d = recv(&downs).downcast::<Down>().unwrap();
    assert_eq!(d.reason, ExitReason::Shutdown);
}
