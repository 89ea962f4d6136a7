//! Masking and unmasking of payloads (RFC 6455 §5.3), eight bytes at a time in safe code.

/// XORs `buf` in place with the repeating 4-byte `key`. Masking and unmasking are the same
/// operation: RFC 6455 §5.3 `transformed-octet-i = original-octet-i XOR masking-key-octet-(i MOD 4)`.
///
/// ```
/// let mut data = *b"Hello";
/// ws_codec::apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// ```
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    let [a, b, c, d] = key;
    let wide = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    // 32 bytes per step gives the optimiser four independent u64 XORs to vectorise.
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for word in block.chunks_exact_mut(8) {
            xor_word(word, wide);
        }
    }
    let rest = blocks.into_remainder();
    let mut words = rest.chunks_exact_mut(8);
    for word in &mut words {
        xor_word(word, wide);
    }
    // Every chunk above is a multiple of 4 long, so the tail starts at key index 0.
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

#[inline(always)]
fn xor_word(word: &mut [u8], wide: u64) {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(word);
    word.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ wide).to_ne_bytes());
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
