//! Public-API tests: spawn, send, tags, pids, panics, links, monitors, exits, timers, registry.

mod common;

use actor_core::{
    tag, Actor, Context, Down, Error, Exit, ExitReason, Message, Pid, Port, ProtocolTag, Runtime,
    SendError, SpawnOptions, Timeout,
};
use common::{pair, probe, recv, rt, trapping_probe, wait_until};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn closure_actor_gets_tagged_messages_in_order() {
    let rt = rt(2);
    let h = rt.handle();
    let (pid, rx) = probe(&h);
    for i in 0..100u64 {
        h.send(pid, i, i * 2).unwrap();
    }
    for i in 0..100u64 {
        let m = recv(&rx);
        assert_eq!(m.tag(), i);
        assert_eq!(m.downcast::<u64>().unwrap(), i * 2);
    }
}

struct Counter {
    n: u64,
    out: Sender<(u64, String)>,
}

impl Actor for Counter {
    fn started(&mut self, _ctx: &mut Context<'_>) {
        self.n = 10;
    }
    fn handle(&mut self, ctx: &mut Context<'_>, msg: Message) {
        self.n += msg.downcast::<u64>().unwrap_or(0);
        if self.n > 12 {
            ctx.stop(ExitReason::Custom("enough".into()));
        }
    }
    fn stopped(&mut self, _ctx: &mut Context<'_>, reason: &ExitReason) {
        let _ = self.out.send((self.n, reason.to_string()));
    }
}

#[test]
fn trait_actor_runs_hooks_and_stops_with_reason() {
    let rt = rt(1);
    let h = rt.handle();
    let (tx, rx) = pair();
    let pid = h.spawn(Counter { n: 0, out: tx });
    h.send(pid, 1, 1u64).unwrap();
    h.send(pid, 1, 2u64).unwrap();
    assert_eq!(recv(&rx), (13, "enough".to_string()));
    assert!(!h.is_alive(pid));
}

/// The protocol tags, as a bridge would name them.
const P0: ProtocolTag = ProtocolTag::new(0);
const P1: ProtocolTag = ProtocolTag::new(1);
const P2: ProtocolTag = ProtocolTag::new(2);
const P3: ProtocolTag = ProtocolTag::new(3);

#[test]
fn reserved_tags_are_refused_with_the_message() {
    let rt = rt(1);
    let h = rt.handle();
    let (pid, _rx) = probe(&h);
    for t in [
        tag::EXIT,
        P0.tag(),
        P1.tag(),
        P2.tag(),
        P3.tag(),
        tag::DOWN,
        tag::TIMEOUT,
        tag::SUPERVISOR,
        tag::LOWEST_RESERVED,
    ] {
        match h.send(pid, t, 5u8) {
            Err(SendError::ReservedTag(m)) => {
                assert_eq!(m.tag(), t);
                assert_eq!(m.downcast::<u8>().unwrap(), 5);
            }
            other => panic!("expected ReservedTag, got {other:?}"),
        }
        assert!(matches!(
            h.send_message(pid, Message::new(t, ())),
            Err(SendError::ReservedTag(_))
        ));
        assert!(matches!(
            h.send_after(pid, Duration::ZERO, t, ()),
            Err(SendError::ReservedTag(_))
        ));
        assert_eq!(h.spawn_blocking(pid, t, || ()), Err(Error::ReservedTag(t)));
    }
}

#[test]
fn handlers_cannot_send_protocol_tags_either() {
    let rt = rt(1);
    let h = rt.handle();
    let (target, target_rx) = probe(&h);
    let (tx, rx) = pair::<Vec<bool>>();
    let sender = h.spawn_fn(move |ctx, _m| {
        let refused = [P0, P1, P2, P3]
            .iter()
            .map(|p| {
                let by_send = matches!(
                    ctx.send(target, p.tag(), ()),
                    Err(SendError::ReservedTag(_))
                );
                let by_timer = matches!(
                    ctx.send_after(target, Duration::ZERO, p.tag(), ()),
                    Err(SendError::ReservedTag(_))
                );
                by_send && by_timer
            })
            .collect();
        tx.send(refused).unwrap();
    });
    h.send(sender, 1, ()).unwrap();
    assert_eq!(recv(&rx), [true; 4]);
    // Nothing reached the target: the next thing it gets is this marker.
    h.send(target, 2, ()).unwrap();
    assert_eq!(recv(&target_rx).tag(), 2);
}

#[test]
fn port_delivers_protocol_tags_in_order_with_user_messages() {
    fn shareable<T: Clone + Send + Sync + std::fmt::Debug + 'static>(_: &T) {}
    let rt = rt(2);
    let h = rt.handle();
    let (tx, rx) = pair::<Message>();
    let (port, monitor) = h.spawn_with_port(
        actor_core::from_fn(move |_ctx: &mut Context<'_>, m: Message| {
            tx.send(m).unwrap();
        }),
        SpawnOptions::new(),
    );
    assert!(monitor.is_none());
    shareable(&port);
    assert!(format!("{port:?}").contains("pid"));
    let pid = port.pid();
    assert!(h.is_alive(pid));
    // From another thread, through a clone: the capability travels.
    let p2: Port = port.clone();
    std::thread::spawn(move || {
        h.send(pid, 1, ()).unwrap();
        p2.send(P3, ()).unwrap();
        p2.send(P0, String::from("hi")).unwrap();
        h.send(pid, 2, ()).unwrap();
        p2.send(P1, vec![1u8]).unwrap();
        p2.send(P2, ()).unwrap();
    })
    .join()
    .unwrap();
    let got: Vec<Message> = (0..6).map(|_| recv(&rx)).collect();
    let tags: Vec<u64> = got.iter().map(Message::tag).collect();
    assert_eq!(
        tags,
        [1, u64::MAX - 4, u64::MAX - 1, 2, u64::MAX - 2, u64::MAX - 3]
    );
    assert_eq!(
        got[2].downcast_ref::<String>().map(String::as_str),
        Some("hi")
    );
}

#[test]
fn port_of_an_exited_actor_hands_the_message_back() {
    let rt = rt(1);
    let h = rt.handle();
    let (watcher, downs) = probe(&h);
    let (port, _) = h.spawn_with_port(
        actor_core::from_fn(|ctx: &mut Context<'_>, _m: Message| ctx.stop(ExitReason::Normal)),
        SpawnOptions::new().monitor(watcher),
    );
    port.send(P0, ()).unwrap();
    assert_eq!(recv(&downs).tag(), tag::DOWN);
    match port.send(P1, 7u32) {
        Err(SendError::NoProc(m)) => {
            assert_eq!(m.tag(), P1.tag());
            assert_eq!(m.downcast::<u32>().unwrap(), 7);
        }
        other => panic!("expected NoProc, got {other:?}"),
    }
}

#[test]
fn a_port_does_not_keep_its_actor_alive() {
    struct Dropped(Sender<()>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
    let rt = rt(1);
    let h = rt.handle();
    let (tx, dropped) = pair::<()>();
    let guard = Dropped(tx);
    let (port, _) = h.spawn_with_port(
        actor_core::from_fn(move |ctx: &mut Context<'_>, _m: Message| {
            let _ = &guard;
            ctx.stop(ExitReason::Normal);
        }),
        SpawnOptions::new(),
    );
    port.send(P0, ()).unwrap();
    // The actor (and what it owns) is dropped while the port lives on.
    recv(&dropped);
    assert!(matches!(port.send(P0, ()), Err(SendError::NoProc(_))));
}

#[test]
fn tell_sends_typed_messages_with_the_tell_tag() {
    let rt = rt(2);
    let h = rt.handle();
    let (tx, rx) = pair::<String>();
    let receiver = h.spawn_fn(move |_ctx, m| {
        assert_eq!(m.tag(), tag::TELL);
        let out = if m.is::<u32>() {
            format!("u32 {}", m.downcast::<u32>().unwrap())
        } else {
            match m.downcast::<&'static str>() {
                Ok(s) => format!("str {s}"),
                Err(m) => format!("other {}", m.tag()),
            }
        };
        tx.send(out).unwrap();
    });
    let forwarder = h.spawn_fn(move |ctx, m| {
        let n: u32 = m.downcast().unwrap();
        ctx.tell(receiver, n + 1).unwrap();
    });
    h.tell(receiver, 7u32).unwrap();
    h.tell(receiver, "hi").unwrap();
    h.tell(forwarder, 41u32).unwrap();
    assert_eq!(recv(&rx), "u32 7");
    assert_eq!(recv(&rx), "str hi");
    assert_eq!(recv(&rx), "u32 42");
    assert!(!tag::is_reserved(tag::TELL));
}

#[test]
fn send_to_exited_actor_returns_the_message_and_never_reaches_a_successor() {
    let rt = rt(2);
    let h = rt.handle();
    let (watcher, downs) = probe(&h);
    let (tx, rx) = pair::<u64>();
    let dead = h.spawn_opts(
        actor_core::from_fn(|ctx: &mut Context<'_>, _m| ctx.stop(ExitReason::Normal)),
        SpawnOptions::new().monitor(watcher),
    );
    h.send(dead.0, 1, ()).unwrap();
    recv(&downs);
    match h.send(dead.0, 7, 99u64) {
        Err(SendError::NoProc(m)) => assert_eq!(m.downcast::<u64>().unwrap(), 99),
        other => panic!("expected NoProc, got {other:?}"),
    }
    // Fill slots (some reuse the dead one's); the stale pid still reaches nobody.
    let mut reused = false;
    for _ in 0..200 {
        let tx = tx.clone();
        let p = h.spawn_fn(move |_c, m| {
            let _ = tx.send(m.tag());
        });
        reused |= p.index() == dead.0.index();
        assert_ne!(p, dead.0);
    }
    assert!(reused, "slot was reused under a new generation");
    assert!(h.send(dead.0, 7, ()).is_err());
    assert!(!h.is_alive(dead.0));
    assert!(rx.try_recv().is_err());
}

/// Sends from a handler go through the worker's pid cache: a cached cell of an
/// exited actor must still refuse the message, and a successor in the same
/// slot must get only what is sent to its own pid.
#[test]
fn sends_from_a_worker_to_a_stale_pid_fail_even_after_slot_reuse() {
    let rt = rt(1);
    let h = rt.handle();
    let (watcher, downs) = probe(&h);
    let (hits_tx, hits) = pair::<(Pid, u64)>();
    let target_fn = move |hits_tx: Sender<(Pid, u64)>| {
        actor_core::from_fn(move |ctx: &mut Context<'_>, m: Message| {
            hits_tx.send((ctx.self_pid(), m.tag())).unwrap();
            if m.tag() == 2 {
                ctx.stop(ExitReason::Normal);
            }
        })
    };
    let (target, _) = h.spawn_opts(
        target_fn(hits_tx.clone()),
        SpawnOptions::new().monitor(watcher),
    );
    let (res_tx, res) = pair::<Result<(), u64>>();
    let sender = h.spawn_fn(move |ctx: &mut Context<'_>, m: Message| {
        let (to, tag): (Pid, u64) = m.downcast().unwrap();
        let r = ctx.send(to, tag, ()).map_err(|e| e.into_message().tag());
        res_tx.send(r).unwrap();
    });
    h.send(sender, 1, (target, 1u64)).unwrap();
    assert_eq!(recv(&res), Ok(()));
    assert_eq!(recv(&hits), (target, 1));
    h.send(sender, 1, (target, 2u64)).unwrap();
    assert_eq!(recv(&res), Ok(()));
    assert_eq!(recv(&hits), (target, 2));
    recv(&downs);
    // Reuse the slot under a new generation.
    let mut successor = None;
    for _ in 0..1000 {
        let p = h.spawn(target_fn(hits_tx.clone()));
        if p.index() == target.index() {
            successor = Some(p);
            break;
        }
    }
    let successor = successor.expect("the freed slot is reused");
    assert_ne!(successor, target);
    h.send(sender, 1, (target, 3u64)).unwrap();
    assert_eq!(recv(&res), Err(3), "a stale pid reached something");
    h.send(sender, 1, (successor, 4u64)).unwrap();
    assert_eq!(recv(&res), Ok(()));
    assert_eq!(recv(&hits), (successor, 4));
    assert!(hits.try_recv().is_err());
}

#[test]
fn pid_prints_erlang_style() {
    let rt = rt(1);
    let h = rt.handle();
    let p = h.spawn_fn(|_c, _m| {});
    let s = format!("{p:?}");
    assert!(s.starts_with("<0.") && s.ends_with('>'), "{s}");
    assert_eq!(s, format!("<0.{}.{}>", p.index(), p.generation()));
}

#[test]
fn panic_is_caught_reason_keeps_message_and_worker_carries_on() {
    let rt = rt(1); // one worker: if it died, nothing below could run
    let h = rt.handle();
    let (watcher, rx) = probe(&h);
    let (p, m) = h.spawn_opts(
        actor_core::from_fn(|_c: &mut Context<'_>, _m| panic!("boom {}", 42)),
        SpawnOptions::new().monitor(watcher),
    );
    h.send(p, 1, ()).unwrap();
    let down = recv(&rx);
    assert_eq!(down.tag(), tag::DOWN);
    let down = down.downcast::<Down>().unwrap();
    assert_eq!(down.pid, p);
    assert_eq!(down.monitor, m.unwrap());
    assert_eq!(down.reason, ExitReason::Panic("boom 42".into()));
    let (p2, rx2) = probe(&h);
    h.send(p2, 5, ()).unwrap();
    assert_eq!(recv(&rx2).tag(), 5);
}

#[test]
fn panic_in_started_and_stopped_hooks_is_caught() {
    struct Bad;
    impl Actor for Bad {
        fn started(&mut self, _ctx: &mut Context<'_>) {
            panic!("in started");
        }
        fn handle(&mut self, _ctx: &mut Context<'_>, _msg: Message) {}
        fn stopped(&mut self, _ctx: &mut Context<'_>, _r: &ExitReason) {
            panic!("in stopped");
        }
    }
    let rt = rt(1);
    let h = rt.handle();
    let (watcher, rx) = probe(&h);
    h.spawn_opts(Bad, SpawnOptions::new().monitor(watcher));
    let d = recv(&rx).downcast::<Down>().unwrap();
    assert_eq!(d.reason, ExitReason::Panic("in started".into()));
}

/// Spawns an actor linked to `to` that stops with `reason` on its first message.
fn linked_stopper(h: &actor_core::Handle, to: Pid, reason: ExitReason) -> Pid {
    h.spawn_link(
        to,
        actor_core::from_fn(move |ctx: &mut Context<'_>, _m| ctx.stop(reason.clone())),
    )
}

#[test]
fn abnormal_exit_kills_linked_actors_normal_does_not() {
    let rt = rt(2);
    let h = rt.handle();
    let (watcher, downs) = probe(&h);
    // victim: linked, not trapping, monitored by `watcher`
    let victim = h
        .spawn_opts(
            actor_core::from_fn(|_c: &mut Context<'_>, _m| {}),
            SpawnOptions::new().monitor(watcher),
        )
        .0;
    let a = linked_stopper(&h, victim, ExitReason::Normal);
    h.send(a, 1, ()).unwrap();
    let b = linked_stopper(&h, victim, ExitReason::Panic("bad".into()));
    h.send(b, 1, ()).unwrap();
    let d = recv(&downs).downcast::<Down>().unwrap();
    assert_eq!(d.pid, victim);
    assert_eq!(
        d.reason,
        ExitReason::Linked(b, Box::new(ExitReason::Panic("bad".into())))
    );
}

#[test]
fn stop_with_panic_reason_propagates_exactly_like_a_caught_panic() {
    let rt = rt(2);
    let h = rt.handle();
    let mut seen = Vec::new();
    for how in 0..2 {
        let (trap, exits) = trapping_probe(&h);
        let (watcher, downs) = probe(&h);
        let (p, _) = h.spawn_opts(
            actor_core::from_fn(move |ctx: &mut Context<'_>, _m| {
                if how == 0 {
                    panic!("hook failed");
                }
                ctx.stop(ExitReason::Panic("hook failed".into()));
            }),
            SpawnOptions::new().link(trap).monitor(watcher),
        );
        h.send(p, 1, ()).unwrap();
        let e = recv(&exits);
        assert_eq!(e.tag(), tag::EXIT);
        let e = e.downcast::<Exit>().unwrap();
        assert_eq!(e.from, p);
        let d = recv(&downs).downcast::<Down>().unwrap();
        seen.push((e.reason, d.reason));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].0, ExitReason::Panic("hook failed".into()));
}

#[test]
fn trap_exit_turns_linked_exits_into_messages_even_normal_ones() {
    let rt = rt(2);
    let h = rt.handle();
    let (trap, rx) = trapping_probe(&h);
    let a = linked_stopper(&h, trap, ExitReason::Normal);
    h.send(a, 1, ()).unwrap();
    let e = recv(&rx).downcast::<Exit>().unwrap();
    assert_eq!(
        e,
        Exit {
            from: a,
            reason: ExitReason::Normal
        }
    );
    assert!(h.is_alive(trap));
}

#[test]
fn kill_is_untrappable_and_linked_actors_see_killed() {
    let rt = rt(2);
    let h = rt.handle();
    let (trap, _rx) = trapping_probe(&h);
    let (trap2, exits) = trapping_probe(&h);
    let link = h.spawn_link(trap2, actor_core::from_fn(|_c: &mut Context<'_>, _m| {}));
    assert!(h.kill(link));
    let e = recv(&exits).downcast::<Exit>().unwrap();
    assert_eq!(e.reason, ExitReason::Killed);
    // monitored trapping actor killed
    let (mon, downs2) = probe(&h);
    let (t, _) = h.spawn_opts(
        actor_core::from_fn(|_c: &mut Context<'_>, _m| {}),
        SpawnOptions::new().trap_exit(true).monitor(mon),
    );
    assert!(h.kill(t));
    let d = recv(&downs2).downcast::<Down>().unwrap();
    assert_eq!(d.reason, ExitReason::Killed);
    assert!(h.is_alive(trap));
}

#[test]
fn exit_signal_from_handle_is_trapped_or_fatal_and_normal_is_ignored() {
    let rt = rt(2);
    let h = rt.handle();
    let (mon, downs) = probe(&h);
    let (trap, rx) = trapping_probe(&h);
    assert!(h.exit(trap, ExitReason::Custom("x".into())));
    let e = recv(&rx).downcast::<Exit>().unwrap();
    assert_eq!(e.from, Pid::NONE);
    assert_eq!(e.reason, ExitReason::Custom("x".into()));

    let (plain, _) = h.spawn_opts(
        actor_core::from_fn(|_c: &mut Context<'_>, _m| {}),
        SpawnOptions::new().monitor(mon),
    );
    assert!(h.exit(plain, ExitReason::Normal)); // ignored
    assert!(h.exit(plain, ExitReason::Custom("bye".into())));
    let d = recv(&downs).downcast::<Down>().unwrap();
    assert_eq!(d.reason, ExitReason::Custom("bye".into()));
    assert!(!h.exit(plain, ExitReason::Shutdown), "already gone");
}

#[test]
fn system_signals_are_not_stuck_behind_a_long_user_queue() {
    let rt = rt(1);
    let h = rt.handle();
    let (gate_tx, gate_rx) = pair::<()>();
    let (started_tx, started_rx) = pair::<()>();
    let handled = Arc::new(AtomicUsize::new(0));
    let n = Arc::clone(&handled);
    let (mon, downs) = probe(&h);
    let (p, _) = h.spawn_opts(
        actor_core::from_fn(move |_c: &mut Context<'_>, _m| {
            if n.fetch_add(1, Ordering::SeqCst) == 0 {
                started_tx.send(()).unwrap();
                gate_rx.recv().unwrap(); // hold the worker until everything is queued
            }
        }),
        SpawnOptions::new().monitor(mon),
    );
    h.send(p, 1, ()).unwrap();
    recv(&started_rx);
    for _ in 0..1000 {
        h.send(p, 1, ()).unwrap();
    }
    assert!(h.kill(p));
    gate_tx.send(()).unwrap();
    let d = recv(&downs).downcast::<Down>().unwrap();
    assert_eq!(d.reason, ExitReason::Killed);
    assert_eq!(handled.load(Ordering::SeqCst), 1);
}

#[test]
fn monitor_of_dead_pid_gives_noproc_and_demonitor_suppresses_down() {
    let rt = rt(2);
    let h = rt.handle();
    let (tx, rx) = pair::<Message>();
    let target = h.spawn_fn(|_c, _m| {});
    let gone = h.spawn_fn(|c, _m| c.stop(ExitReason::Normal));
    h.send(gone, 1, ()).unwrap();
    wait_until("the stopped actor is gone", || !h.is_alive(gone));
    let watcher = h.spawn_fn(move |ctx, m| {
        if m.tag() == 1 {
            let (target, gone): (Pid, Pid) = m.downcast().unwrap();
            let r = ctx.monitor(target);
            assert!(ctx.demonitor(r));
            assert!(!ctx.demonitor(r));
            let r2 = ctx.monitor(target);
            tx.send(Message::new(9, (r, r2))).unwrap();
            ctx.monitor(gone);
            ctx.handle().kill(target);
        } else {
            tx.send(m).unwrap();
        }
    });
    h.send(watcher, 1, (target, gone)).unwrap();
    let (r, r2) = recv(&rx)
        .downcast::<(actor_core::MonitorRef, actor_core::MonitorRef)>()
        .unwrap();
    assert_ne!(r, r2);
    let d = recv(&rx).downcast::<Down>().unwrap();
    assert_eq!((d.pid, d.reason), (gone, ExitReason::NoProc));
    // Had the demonitored `r` survived, its Down would come before r2's.
    let d = recv(&rx).downcast::<Down>().unwrap();
    assert_eq!(
        (d.pid, d.monitor, d.reason),
        (target, r2, ExitReason::Killed)
    );
}

#[test]
fn budget_lets_a_probe_run_while_another_actor_floods_itself() {
    let rt = Runtime::builder().workers(1).budget(16).build().unwrap();
    let h = rt.handle();
    let probe_ran = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = pair::<usize>();
    let pr = Arc::clone(&probe_ran);
    let flood = h.spawn_fn(move |ctx, m| {
        let n: usize = m.downcast().unwrap();
        if pr.load(Ordering::SeqCst) > 0 || n == 1_000_000 {
            done_tx.send(n).unwrap();
            ctx.stop(ExitReason::Normal);
        } else {
            ctx.send(ctx.self_pid(), 1, n + 1).unwrap();
        }
    });
    h.send(flood, 1, 0usize).unwrap();
    let pr = Arc::clone(&probe_ran);
    let probe = h.spawn_fn(move |_c, _m| {
        pr.fetch_add(1, Ordering::SeqCst);
    });
    h.send(probe, 1, ()).unwrap();
    let n = recv(&done_rx);
    assert!(n < 1_000_000, "probe never ran while the flood was going");
}

#[test]
fn send_after_delivers_and_cancel_prevents_delivery() {
    let rt = rt(2);
    let h = rt.handle();
    let (pid, rx) = probe(&h);
    let t1 = h.send_after(pid, Duration::from_millis(5), 1, ()).unwrap();
    let _t2 = h.send_after(pid, Duration::from_millis(30), 2, ()).unwrap();
    let _t0 = h.send_after(pid, Duration::from_millis(1), 0, ()).unwrap();
    assert!(h.cancel_timer(t1));
    assert!(!h.cancel_timer(t1));
    assert_eq!(recv(&rx).tag(), 0);
    assert_eq!(recv(&rx).tag(), 2, "cancelled timer must not fire");
    let t3 = h.send_after(pid, Duration::ZERO, 3, ()).unwrap();
    assert_eq!(recv(&rx).tag(), 3);
    assert!(!h.cancel_timer(t3), "already fired");
}

#[test]
fn receive_timeout_fires_when_idle_and_can_be_turned_off() {
    let rt = rt(2);
    let h = rt.handle();
    let (tx, rx) = pair::<u64>();
    let pid = h.spawn_fn(move |ctx, m| {
        match m.tag() {
            1 => ctx.set_receive_timeout(Some(Duration::from_millis(10))),
            tag::TIMEOUT => {
                assert!(m.is::<Timeout>());
                ctx.set_receive_timeout(None);
            }
            _ => {}
        }
        tx.send(m.tag()).unwrap();
    });
    h.send(pid, 1, ()).unwrap();
    assert_eq!(recv(&rx), 1);
    assert_eq!(recv(&rx), tag::TIMEOUT);
    // The marker comes ten timeout periods later, from the runtime's own
    // timer: a second timeout would have arrived first.
    h.send_after(pid, Duration::from_millis(100), 2, ())
        .unwrap();
    assert_eq!(recv(&rx), 2, "no second timeout once turned off");
}

#[test]
fn registry_registers_refuses_duplicates_and_cleans_up_on_exit() {
    let rt = rt(2);
    let h = rt.handle();
    let (mon, downs) = probe(&h);
    let (p, _) = h.spawn_opts(
        actor_core::from_fn(|c: &mut Context<'_>, _m| c.stop(ExitReason::Normal)),
        SpawnOptions::new().monitor(mon),
    );
    let other = h.spawn_fn(|_c, _m| {});
    h.register("svc", p).unwrap();
    assert_eq!(h.whereis("svc"), Some(p));
    assert_eq!(
        h.register("svc", other),
        Err(Error::NameTaken("svc".into()))
    );
    h.register("other", other).unwrap();
    assert_eq!(h.unregister("other"), Some(other));
    assert_eq!(h.whereis("other"), None);
    h.send(p, 1, ()).unwrap();
    recv(&downs); // names are dropped before monitors are told
    assert_eq!(h.whereis("svc"), None);
    assert_eq!(h.register("late", p), Err(Error::NoProc(p)));
    h.register("svc", other).unwrap();
}

#[test]
fn spawn_blocking_returns_result_or_panic_as_a_message() {
    let rt = rt(1);
    let h = rt.handle();
    let (pid, rx) = probe(&h);
    h.spawn_blocking(pid, 7, || 6 * 7).unwrap();
    let m = recv(&rx);
    assert_eq!(m.tag(), 7);
    assert_eq!(
        m.downcast::<actor_core::BlockingResult<i32>>().unwrap(),
        Ok(42)
    );
    h.spawn_blocking(pid, 8, || -> i32 { panic!("disk on fire") })
        .unwrap();
    let m = recv(&rx)
        .downcast::<actor_core::BlockingResult<i32>>()
        .unwrap();
    assert_eq!(m, Err(actor_core::BlockingPanic("disk on fire".into())));
}

#[test]
fn builder_rejects_zero_workers() {
    assert_eq!(
        Runtime::builder().workers(0).build().unwrap_err(),
        Error::ZeroWorkers
    );
    assert_eq!(
        Runtime::builder().blocking_threads(0).build().unwrap_err(),
        Error::ZeroBlockingThreads
    );
}

#[test]
fn link_to_dead_actor_delivers_noproc_exit() {
    let rt = rt(1);
    let h = rt.handle();
    let (tx, rx) = pair::<Exit>();
    let gone = h.spawn_fn(|c, _m| c.stop(ExitReason::Normal));
    h.send(gone, 1, ()).unwrap();
    wait_until("the stopped actor is gone", || !h.is_alive(gone));
    let me = h.spawn_opts(
        actor_core::from_fn(move |ctx: &mut Context<'_>, m: Message| {
            if m.tag() == 1 {
                let p: Pid = m.downcast().unwrap();
                ctx.link(p);
            } else if let Ok(e) = m.downcast::<Exit>() {
                tx.send(e).unwrap();
            }
        }),
        SpawnOptions::new().trap_exit(true),
    );
    h.send(me.0, 1, gone).unwrap();
    assert_eq!(
        recv(&rx),
        Exit {
            from: gone,
            reason: ExitReason::NoProc
        }
    );
}

#[test]
fn unlink_stops_exit_propagation() {
    let rt = rt(2);
    let h = rt.handle();
    let (tx, rx) = pair::<&'static str>();
    let target = h.spawn_fn(|c, _m| c.stop(ExitReason::Custom("die".into())));
    let me = h.spawn_fn(move |ctx, m| {
        if m.tag() == 1 {
            let p: Pid = m.downcast().unwrap();
            ctx.link(p);
            ctx.unlink(p);
            ctx.send(p, 1, ()).unwrap();
            ctx.monitor(p);
        } else if m.tag() == tag::DOWN {
            tx.send("down, still alive").unwrap();
        }
    });
    h.send(me, 1, target).unwrap();
    assert_eq!(recv(&rx), "down, still alive");
    assert!(h.is_alive(me));
}

#[test]
fn whereis_or_spawn_finds_or_starts_and_registers() {
    let rt = rt(2);
    let h = rt.handle();
    let (tx, rx) = pair::<u32>();
    let a = h.whereis_or_spawn("svc", move || {
        actor_core::from_fn(move |_c: &mut Context<'_>, m: Message| {
            tx.send(m.downcast().unwrap()).unwrap();
        })
    });
    assert_eq!(h.whereis("svc"), Some(a));
    let b = h.whereis_or_spawn(
        "svc",
        || -> actor_core::FnActor<fn(&mut Context<'_>, Message)> {
            panic!("make must not run while a live actor holds the name")
        },
    );
    assert_eq!(a, b);
    h.tell(b, 5u32).unwrap();
    assert_eq!(recv(&rx), 5);
    assert_eq!(
        h.register("svc", h.spawn_fn(|_c, _m| {})),
        Err(Error::NameTaken("svc".into()))
    );
}

/// Parks the actor in its `stopped` hook until released: its mailbox is
/// closed, but its name is still registered (names go after the hook).
struct SlowStop {
    in_stop: Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
}

impl Actor for SlowStop {
    fn handle(&mut self, ctx: &mut Context<'_>, _msg: Message) {
        ctx.stop(ExitReason::Normal);
    }
    fn stopped(&mut self, _ctx: &mut Context<'_>, _reason: &ExitReason) {
        self.in_stop.send(()).unwrap();
        self.release
            .recv_timeout(common::HANG)
            .expect("the test releases the stop hook");
    }
}

#[test]
fn whereis_or_spawn_never_returns_an_exiting_actor() {
    let rt = rt(2);
    let h = rt.handle();
    let (mon, downs) = probe(&h);
    let (in_stop, stopping) = pair();
    let (release, release_rx) = pair();
    let (old, _) = h.spawn_opts(
        SlowStop {
            in_stop,
            release: release_rx,
        },
        SpawnOptions::new().monitor(mon),
    );
    h.register("svc", old).unwrap();
    h.send(old, 1, ()).unwrap();
    recv(&stopping);
    assert_eq!(
        h.whereis("svc"),
        Some(old),
        "still registered while exiting"
    );
    assert!(!h.is_alive(old));
    let new = h.whereis_or_spawn("svc", || actor_core::from_fn(|_c, _m| {}));
    assert_ne!(new, old);
    assert!(h.is_alive(new));
    assert_eq!(h.whereis("svc"), Some(new));
    // The old actor's exit cleanup must not drop its successor's name.
    release.send(()).unwrap();
    assert_eq!(recv(&downs).downcast::<Down>().unwrap().pid, old);
    assert_eq!(h.whereis("svc"), Some(new));
    // And the successor's own exit removes it.
    let (tx, rx) = pair::<Message>();
    let watcher = h.spawn_fn(move |ctx, m| {
        if m.tag() == 1 {
            ctx.monitor(m.downcast::<Pid>().unwrap());
            ctx.exit(new, ExitReason::Custom("bye".into()));
        } else {
            tx.send(m).unwrap();
        }
    });
    h.send(watcher, 1, new).unwrap();
    assert_eq!(recv(&rx).tag(), tag::DOWN);
    assert_eq!(h.whereis("svc"), None);
}

#[test]
fn whereis_or_spawn_survives_a_panicking_make_and_refuses_recursion() {
    let rt = rt(1);
    let h = rt.handle();
    let boom = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        h.whereis_or_spawn(
            "svc",
            || -> actor_core::FnActor<fn(&mut Context<'_>, Message)> { panic!("boom") },
        )
    }));
    assert!(boom.is_err());
    assert_eq!(h.whereis("svc"), None, "nothing registered after a panic");
    let h2 = h.clone();
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        h.whereis_or_spawn("svc", || {
            h2.whereis_or_spawn("svc", || actor_core::from_fn(|_c, _m| {}));
            actor_core::from_fn(|_c, _m| {})
        })
    }));
    let msg = again.unwrap_err();
    let msg = actor_core::panic_message(&*msg);
    assert!(msg.contains("called again from its own `make`"), "{msg}");
    assert_eq!(h.actor_count(), 0);
    let p = h.whereis_or_spawn("svc", || actor_core::from_fn(|_c, _m| {}));
    assert_eq!(h.whereis("svc"), Some(p));
}

#[test]
fn whereis_or_spawn_racing_threads_agree_and_spawn_once_per_name() {
    const THREADS: usize = 8;
    const NAMES: usize = 100;
    let rt = rt(2);
    let h = rt.handle();
    let made: Arc<Vec<AtomicUsize>> = Arc::new((0..NAMES).map(|_| AtomicUsize::new(0)).collect());
    let ready = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (h, made, ready) = (h.clone(), Arc::clone(&made), Arc::clone(&ready));
            std::thread::spawn(move || {
                // Start together, so the threads collide on the same names.
                ready.fetch_add(1, Ordering::SeqCst);
                wait_until("every racer is ready", || {
                    ready.load(Ordering::SeqCst) == THREADS
                });
                (0..NAMES)
                    .map(|i| if t % 2 == 0 { i } else { NAMES - 1 - i })
                    .map(|i| {
                        let made = Arc::clone(&made);
                        let pid = h.whereis_or_spawn(&format!("n{i}"), move || {
                            made[i].fetch_add(1, Ordering::SeqCst);
                            actor_core::from_fn(|_c, _m| {})
                        });
                        (i, pid)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen: Vec<Option<Pid>> = vec![None; NAMES];
    for t in threads {
        for (i, pid) in t.join().unwrap() {
            assert_ne!(pid, Pid::NONE);
            assert_eq!(*seen[i].get_or_insert(pid), pid, "callers disagree on n{i}");
        }
    }
    for (i, pid) in seen.iter().enumerate() {
        assert_eq!(made[i].load(Ordering::SeqCst), 1, "make ran once for n{i}");
        assert_eq!(h.whereis(&format!("n{i}")), *pid);
    }
    assert_eq!(h.actor_count(), NAMES, "exactly one actor per name");
}

#[test]
fn metrics_count_live_actors_queued_messages_and_parks() {
    let rt = rt(2);
    let h = rt.handle();
    let before = h.metrics();
    assert_eq!(before.workers, 2);
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    // The first message blocks its handler, so the next ten wait in the mailbox.
    let pid = h.spawn_fn(move |_ctx, _msg| {
        let _ = entered_tx.send(());
        let _ = release_rx.lock().unwrap().recv();
    });
    h.send(pid, 1, ()).unwrap();
    recv(&entered);
    for _ in 0..10 {
        h.send(pid, 1, ()).unwrap();
    }
    let m = h.metrics();
    assert_eq!(m.actors, before.actors + 1);
    assert_eq!(m.max_mailbox_len, 10, "{m:?}");
    assert_eq!(m.queued_messages, 10, "{m:?}");
    for _ in 0..11 {
        release.send(()).unwrap();
    }
    for _ in 0..10 {
        recv(&entered);
    }
    wait_until("the mailbox drains", || h.metrics().queued_messages == 0);
    // With nothing left to run, the workers go to sleep (and say so).
    wait_until("a worker parks", || h.metrics().parks > before.parks);
    h.kill(pid);
    wait_until("the actor is gone", || h.metrics().actors == before.actors);
}
