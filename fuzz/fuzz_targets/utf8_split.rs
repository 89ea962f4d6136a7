//! Fuzz target `utf8_split`: see `ws_fuzz::codec::utf8_split`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::codec::utf8_split(data));
