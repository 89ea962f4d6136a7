//! Fuzz target `session_server`: see `ws_fuzz::codec::session_server`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::codec::session_server(data));
