//! The client modes of the load cases: how ws-load paces its sends, by case name.
//!
//! A plain case (`1000x20`) answers each echo at once: the client handles one
//! `epoll_wait` batch of echoes and writes the next messages in that order, so the server
//! sees the same connections become readable together, in the same order, round after
//! round, and its `epoll_wait` returns large batches. A `-rand` case (`1000x20-rand`) sends
//! each next message at a random moment up to [`RAND_MAX_US`] after its echo: readiness
//! arrives spread out and in shuffled order, as from independent clients.

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
