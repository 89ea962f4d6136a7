//! Fuzz target `deflate_inflate`: see `ws_fuzz::deflate::deflate_inflate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::deflate::deflate_inflate(data));
