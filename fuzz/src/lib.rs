//! The fuzz targets' bodies, as plain functions: `fuzz_targets/*.rs` call them under
//! libFuzzer, and `cargo xtask fuzz-replay` (part of `cargo xtask ci`) feeds them every
//! committed corpus file on the stable toolchain.

pub mod codec;
pub mod deflate;
pub mod handshake;

#[cfg(test)]
mod replay {
    use std::path::Path;

    /// Feeds every file of `corpus/<target>` to `f`; a panic fails the test and names the file.
    fn replay(target: &str, f: fn(&[u8])) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(target);
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            eprintln!("replay {target}: {}", path.display());
            f(&data);
            count += 1;
        }
        assert!(
            count > 0,
            "corpus for {target} is empty: commit a seed corpus"
        );
    }

    #[test]
    fn frame_decode() {
        replay("frame_decode", crate::codec::frame_decode);
    }
    #[test]
    fn frame_roundtrip() {
        replay("frame_roundtrip", crate::codec::frame_roundtrip);
    }
    #[test]
    fn session_server() {
        replay("session_server", crate::codec::session_server);
    }
    #[test]
    fn utf8_split() {
        replay("utf8_split", crate::codec::utf8_split);
    }
    #[test]
    fn deflate_inflate() {
        replay("deflate_inflate", crate::deflate::deflate_inflate);
    }
    #[test]
    fn deflate_roundtrip() {
        replay("deflate_roundtrip", crate::deflate::deflate_roundtrip);
    }
    #[test]
    fn handshake_parse() {
        replay("handshake_parse", crate::handshake::handshake_parse);
    }
}
