//! The client modes of the load cases: how ws-load paces its sends, by case name.
//!
//! A plain case (`1000x20`) answers each echo at once: the client handles one
//! `epoll_wait` batch of echoes and writes the next messages in that order, so the server
//! sees the same connections become readable together, in the same order, round after
//! round, and its `epoll_wait` returns large batches. A `-rand` case (`1000x20-rand`) sends
//! each next message at a random moment up to [`RAND_MAX_US`] after its echo: readiness
//! arrives spread out and in shuffled order, as from independent clients.

/// What the modes change, for the section `cargo xtask bench` writes.
pub(super) const DOC: &str = "\
### Two client modes: lock-step and random pacing

`1000x20` is ws-load's default closed loop: each echo is answered at once, so the client
handles one `epoll_wait` batch of echoes and writes the next messages in the order of that
batch. The server then sees the same connections become readable together and serves them in
the same order round after round: the state it touches per connection follows a fixed
pattern. `1000x20-rand` (ws-load `--pace random:1000`) sends each next message at a random
moment up to 1 ms after its echo: readiness arrives spread out and in an order that changes
every round, as from independent clients. What does not change: one `recv` and one `send` per message on both
servers, and ~60 events per `epoll_wait` in both modes at 1000 connections (the client, at
84-99 % of its core, sets the pace; perf tracepoints, `syscalls:sys_exit_epoll_wait`). What
changes is the order in which connections are served, and so which connection's state is
still in the cache: a server that touches more memory per message (ours: slot, link,
session, codec, mailbox, actor; fastwebsockets: one task) pays more in `-rand` (main's echo: 0.84x fastwebsockets' CPU/msg ratio in lock-step,
0.79x in `-rand`, one run of issue 17), which is what an independent load generator saw
(1.34x fastwebsockets' CPU per message at 1000 x 20 B where lock-step said 1.03x).

";

/// The longest random delay of a `-rand` case, microseconds: about a fifth of the round
/// trip of 1000 connections at one message each on one server core (~5-7 ms), so the
/// server stays busy while the order of arrivals changes every round.
pub(super) const RAND_MAX_US: u32 = 1000;

/// Suffix of a case name whose client paces its sends at random.
const RAND: &str = "-rand";

/// ws-load's extra arguments for the case named `name`.
pub(super) fn client_args(name: &str) -> Vec<String> {
    if name.ends_with(RAND) {
        vec!["--pace".into(), format!("random:{RAND_MAX_US}")]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rand_cases_pace() {
        assert!(client_args("1000x20").is_empty());
        assert_eq!(client_args("1000x20-rand"), ["--pace", "random:1000"]);
    }
}
