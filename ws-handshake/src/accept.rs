//! The `Sec-WebSocket-Key` / `Sec-WebSocket-Accept` pair (RFC 6455 §4.2.2 item 5.4, §4.1).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

/// RFC 6455 §1.3: the GUID the server appends to the client's key.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
///
/// RFC 6455 §4.2.2 item 5.4: the base64 of the SHA-1 of the key (as sent, in its base64
/// form) concatenated with [`GUID`].
///
/// ```
/// // RFC 6455 §1.3's example.
/// assert_eq!(
///     ws_handshake::accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &str) -> String {
    let bytes = accept_key_bytes(key.as_bytes());
    String::from_utf8_lossy(&bytes).into_owned()
}

/// [`accept_key`] into a stack buffer: a SHA-1 is 20 bytes, 28 in base64.
pub(crate) fn accept_key_bytes(key: &[u8]) -> [u8; 28] {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID.as_bytes());
    let digest = sha1.finalize();
    let mut out = [0u8; 28];
    let written = STANDARD.encode_slice(digest, &mut out);
    debug_assert_eq!(written, Ok(28), "20 bytes are 28 base64 characters");
    out
}

/// RFC 6455 §4.1 item 7 and §4.2.1 item 5: the key is "a base64-encoded value that, when
/// decoded, is 16 bytes in length". Canonical base64 only (RFC 4648 §4: 24 characters,
/// `==` padding, no stray bits), so that one nonce has one spelling.
///
/// Checked by shape rather than decoded, as it runs on every handshake: 16 bytes are
/// 128 bits, 21 full characters and one whose low 4 bits are zero (`A`, `Q`, `g` or
/// `w`), then `==`. A test checks this against `base64`'s decoder.
pub(crate) fn is_valid_key(key: &[u8]) -> bool {
    match key {
        [body @ .., last, b'=', b'='] if body.len() == 21 => {
            body.iter().all(|&b| is_base64(b)) && matches!(last, b'A' | b'Q' | b'g' | b'w')
        }
        _ => false,
    }
}

/// RFC 4648 §4 alphabet, as a table.
static BASE64: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
        b += 1;
    }
    table
};

fn is_base64(b: u8) -> bool {
    BASE64[b as usize]
}

/// The `Sec-WebSocket-Key` for a 16-byte nonce.
pub(crate) fn key_for_nonce(nonce: [u8; 16]) -> String {
    STANDARD.encode(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_section_1_3_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn keys_must_decode_to_sixteen_bytes() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_key(key_for_nonce([0xff; 16]).as_bytes()));
        assert!(!is_valid_key(STANDARD.encode([7u8; 15]).as_bytes()));
        assert!(!is_valid_key(STANDARD.encode([7u8; 17]).as_bytes()));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAA=")); // 23 chars
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAAAA")); // 18 bytes, no padding
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZR==")); // non-zero trailing bits
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=!"));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25j ZQ="));
    }

    /// The shape check agrees with decoding by `base64`.
    fn decodes_to_16(key: &[u8]) -> bool {
        let mut nonce = [0u8; 18];
        matches!(STANDARD.decode_slice(key, &mut nonce), Ok(16)) && key.len() == 24
    }

    #[test]
    fn shape_check_agrees_with_the_decoder() {
        let alphabet = b"ABCQgwz09+/=-_ .";
        // Every key that differs from a valid one in one or two positions.
        let base = *b"dGhlIHNhbXBsZSBub25jZQ==";
        for i in 0..24 {
            for &a in alphabet {
                for j in i..24 {
                    for &b in alphabet {
                        let mut k = base;
                        k[i] = a;
                        k[j] = b;
                        assert_eq!(is_valid_key(&k), decodes_to_16(&k), "{:?}", k);
                    }
                }
            }
        }
        for len in 0..30 {
            let k = vec![b'A'; len];
            assert_eq!(is_valid_key(&k), decodes_to_16(&k));
        }
    }

    #[test]
    fn nonce_keys_round_trip() {
        let key = key_for_nonce(*b"the sample nonce");
        assert_eq!(key, "dGhlIHNhbXBsZSBub25jZQ==");
    }
}
