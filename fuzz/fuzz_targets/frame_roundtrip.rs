//! Fuzz target `frame_roundtrip`: see `ws_fuzz::codec::frame_roundtrip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::codec::frame_roundtrip(data));
