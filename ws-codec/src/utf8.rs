//! UTF-8: the incremental, fail-fast validator for fragmented text, and `Utf8Bytes`.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

/// Validates UTF-8 fed in pieces, failing at the first piece that holds a byte which can no
/// longer start or continue valid UTF-8, and accepting a sequence split across pieces.
///
/// ```
/// let mut v = ws_codec::Utf8Validator::new();
/// assert!(v.feed("h\u{e9}".as_bytes()[..2].as_ref()).is_ok()); // 'h' and half of 'é'
/// assert!(v.feed(&[0xA9]).is_ok());                             // the other half
/// assert!(v.finish().is_ok());
/// assert!(v.feed(&[0xC3, 0x28]).is_err());                      // 0x28 cannot continue
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    tail: [u8; 4],
    tail_len: usize,
}

/// The input is not valid UTF-8 (it cannot be completed into valid UTF-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates the next piece. An incomplete sequence at its end is carried to the next.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), InvalidUtf8> {
        // First complete the sequence carried from the previous piece, byte by byte.
        while self.tail_len > 0 {
            let Some((&byte, rest)) = data.split_first() else {
                return Ok(());
            };
            self.tail[self.tail_len] = byte;
            self.tail_len += 1;
            data = rest;
            if check_prefix(&self.tail[..self.tail_len])? {
                self.tail_len = 0;
            }
        }
        match simdutf8::compat::from_utf8(data) {
            Ok(_) => Ok(()),
            // `error_len() == None`: the input ended inside a sequence that is valid so far.
            Err(e) if e.error_len().is_none() => {
                let tail = &data[e.valid_up_to()..];
                self.tail[..tail.len()].copy_from_slice(tail);
                self.tail_len = tail.len();
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the message: an unfinished sequence is an error.
    pub fn finish(&self) -> Result<(), InvalidUtf8> {
        if self.tail_len == 0 {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }

    /// Bytes of an unfinished sequence carried into the next piece (0 to 3).
    pub fn carried(&self) -> usize {
        self.tail_len
    }
}

/// Checks a prefix of one UTF-8 sequence (its lead byte first): `Ok(true)` when complete,
/// `Ok(false)` when valid so far, `Err` when no continuation can make it valid.
/// The ranges are those of the Unicode Standard, Table 3-7 (Well-Formed UTF-8 Byte Sequences).
fn check_prefix(seq: &[u8]) -> Result<bool, InvalidUtf8> {
    let (len, second) = match seq[0] {
        0xC2..=0xDF => (2, 0x80..=0xBF),
        0xE0 => (3, 0xA0..=0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80..=0xBF),
        0xED => (3, 0x80..=0x9F),
        0xF0 => (4, 0x90..=0xBF),
        0xF1..=0xF3 => (4, 0x80..=0xBF),
        0xF4 => (4, 0x80..=0x8F),
        _ => return Err(InvalidUtf8),
    };
    if let Some(b) = seq.get(1) {
        if !second.contains(b) {
            return Err(InvalidUtf8);
        }
    }
    if seq.iter().skip(2).any(|b| !(0x80..=0xBF).contains(b)) {
        return Err(InvalidUtf8);
    }
    Ok(seq.len() == len)
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub(crate) fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Whether `data` is valid UTF-8 as a whole.
pub fn is_valid_utf8(data: &[u8]) -> bool {
    // Below 64 bytes simdutf8 hands over to std's general check; most short
    // messages are ASCII, which `is_ascii` settles a word at a time.
    (data.len() < SHORT && data.is_ascii()) || simdutf8::basic::from_utf8(data).is_ok()
}

/// Below this length simdutf8 uses std's check (its SIMD block is 64 bytes).
const SHORT: usize = 64;

/// Validated UTF-8 over reference-counted `Bytes`: cheap to clone, `as_str()` is free.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(ByteString);

impl Utf8Bytes {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// Takes the underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// Text from a `'static` string, without copying.
    pub const fn from_static(text: &'static str) -> Self {
        Utf8Bytes(ByteString::from_static(text))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = InvalidUtf8;

    /// Validates with simdutf8: on 64 KiB, 3x faster than std's check (which
    /// `ByteString::try_from` would make) on ASCII and 10x on mixed text
    /// (`cargo bench -p ws-codec --bench codec -- utf8/`).
    #[allow(unsafe_code)]
    fn try_from(bytes: Bytes) -> Result<Self, InvalidUtf8> {
        if !is_valid_utf8(&bytes) {
            return Err(InvalidUtf8);
        }
        // SAFETY: the bytes were just validated as UTF-8, and `Bytes` never
        // changes the bytes it holds. The tests below run under Miri
        // (`cargo xtask miri`).
        Ok(Utf8Bytes(unsafe {
            ByteString::from_bytes_unchecked(bytes)
        }))
    }
}

/// Free: a `ByteString` is valid UTF-8 already.
impl From<ByteString> for Utf8Bytes {
    fn from(text: ByteString) -> Self {
        Utf8Bytes(text)
    }
}

/// Free: the same bytes, the same guarantee.
impl From<Utf8Bytes> for ByteString {
    fn from(text: Utf8Bytes) -> Self {
        text.0
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Utf8Bytes(ByteString::from(text))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Self {
        Utf8Bytes(ByteString::from(text))
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

impl std::error::Error for InvalidUtf8 {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_messages_are_text_exactly_when_std_says_so() {
        let long = "κόσμε €𐍈 ascii ".repeat(40);
        let mut long_bad = long.clone().into_bytes();
        long_bad[300] = 0xFF;
        let ascii63 = "a".repeat(63);
        let mut ascii63_bad = ascii63.clone().into_bytes();
        ascii63_bad[62] = 0x80;
        let ascii64 = "a".repeat(64);
        let samples: &[&[u8]] = &[
            b"",
            b"hello",
            "κόσμε".as_bytes(), // short, not ASCII
            ascii63.as_bytes(),
            &ascii63_bad, // short, a lone continuation byte last
            ascii64.as_bytes(),
            long.as_bytes(),
            &long_bad,
            b"\xed\xa0\x80",     // a surrogate
            b"ab\xf0\x9f\x98",   // a truncated sequence
            b"\xf4\x90\x80\x80", // past U+10FFFF
            b"\xc0\xaf",         // overlong
        ];
        for data in samples {
            let got = Utf8Bytes::try_from(Bytes::copy_from_slice(data));
            match std::str::from_utf8(data) {
                Ok(text) => assert_eq!(got.unwrap().as_str(), text),
                Err(_) => assert!(got.is_err(), "{data:x?} is not UTF-8"),
            }
        }
    }

    fn feed_split(data: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut at = 0;
        for &cut in cuts {
            v.feed(&data[at..cut])?;
            at = cut;
        }
        v.feed(&data[at..])?;
        v.finish()
    }

    #[test]
    fn every_two_way_split_agrees_with_std() {
        let samples: &[&[u8]] = &[
            "κόσμε €𐍈 ascii".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xe0\x80\xaf",
            b"ab\xf0\x9f\x98",
            b"\xc0\xaf",
            b"\xed\x9f\xbf\xee\x80\x80",
        ];
        for data in samples {
            let expected = std::str::from_utf8(data).is_ok();
            for a in 0..=data.len() {
                for b in a..=data.len() {
                    assert_eq!(
                        feed_split(data, &[a, b]).is_ok(),
                        expected,
                        "{data:x?} split at {a},{b}"
                    );
                }
            }
        }
    }

    #[test]
    fn fails_fast_on_the_first_impossible_byte() {
        // Autobahn 6.4.x: the fragment holding the bad byte fails, before the message ends.
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        assert_eq!(
            v.feed(b"\xf4\x90"),
            Err(InvalidUtf8),
            "U+110000 cannot start"
        );
        let mut v = Utf8Validator::new();
        v.feed(b"\xf4").unwrap();
        assert_eq!(
            v.feed(b"\x90"),
            Err(InvalidUtf8),
            "split lead byte then bad second"
        );
        let mut v = Utf8Validator::new();
        v.feed(b"\xed").unwrap();
        assert_eq!(v.feed(b"\xa0"), Err(InvalidUtf8), "surrogate");
        assert_eq!(Utf8Validator::new().feed(b"ok\xff"), Err(InvalidUtf8));
    }

    #[test]
    fn carries_a_split_sequence_and_requires_it_to_finish() {
        let mut v = Utf8Validator::new();
        v.feed(b"\xf0\x9f").unwrap();
        assert_eq!(v.carried(), 2);
        assert_eq!(v.finish(), Err(InvalidUtf8));
        v.feed(b"\x98").unwrap();
        v.feed(b"\x80!").unwrap();
        assert_eq!((v.carried(), v.finish()), (0, Ok(())));
    }

    #[test]
    fn utf8_bytes_round_trips() {
        let text = Utf8Bytes::try_from(Bytes::from_static("héllo".as_bytes())).unwrap();
        assert_eq!(text.as_str(), "héllo");
        assert_eq!(text, "héllo");
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xff")).is_err());
        assert_eq!(format!("{text:?}"), "\"héllo\"");
    }
}
