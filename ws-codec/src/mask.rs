//! Masking and unmasking of payloads (RFC 6455 §5.3), in 32- and 8-byte blocks of safe code.

/// XORs `buf` in place with the repeating 4-byte `key`. Masking and unmasking are the same
/// operation: RFC 6455 §5.3 `transformed-octet-i = original-octet-i XOR masking-key-octet-(i MOD 4)`.
///
/// ```
/// let mut data = *b"Hello";
/// ws_codec::apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// ```
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    // The key repeated over a 32-byte block: XOR of fixed-size arrays is what the
    // optimiser turns into vector instructions, with no unsafe alignment tricks.
    let mut wide = [0u8; 32];
    for (i, byte) in wide.iter_mut().enumerate() {
        *byte = key[i & 3];
    }
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        let block: &mut [u8; 32] = block.try_into().expect("chunks_exact gives 32 bytes");
        for (byte, k) in block.iter_mut().zip(&wide) {
            *byte ^= k;
        }
    }
    let rest = blocks.into_remainder();
    let mut words = rest.chunks_exact_mut(8);
    for word in &mut words {
        let word: &mut [u8; 8] = word.try_into().expect("chunks_exact gives 8 bytes");
        for (byte, k) in word.iter_mut().zip(&wide) {
            *byte ^= k;
        }
    }
    // Every chunk above is a multiple of 4 long, so the tail starts at key index 0.
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytewise(buf: &mut [u8], key: [u8; 4]) {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte ^= key[i % 4];
        }
    }

    #[test]
    fn matches_the_bytewise_definition_at_every_length() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..100 {
            let original: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut fast = original.clone();
            let mut slow = original.clone();
            apply_mask(&mut fast, key);
            bytewise(&mut slow, key);
            assert_eq!(fast, slow, "length {len}");
            apply_mask(&mut fast, key);
            assert_eq!(fast, original, "mask twice is identity at length {len}");
        }
    }

    #[test]
    fn rfc_6455_section_5_7_masked_hello() {
        let mut data = *b"Hello";
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
