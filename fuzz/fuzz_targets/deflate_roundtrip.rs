//! Fuzz target `deflate_roundtrip`: see `ws_fuzz::deflate::deflate_roundtrip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::deflate::deflate_roundtrip(data));
