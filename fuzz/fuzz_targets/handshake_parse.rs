//! Fuzz target `handshake_parse`: see `ws_fuzz::handshake::handshake_parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::handshake::handshake_parse(data));
