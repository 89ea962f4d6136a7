//! Fuzz target `frame_decode`: see `ws_fuzz::codec::frame_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::codec::frame_decode(data));
