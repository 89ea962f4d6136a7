//! HTTP tokens and comma-separated lists (RFC 7230 §3.2.6, §7), the grammar of every
//! handshake header that carries a list.

/// RFC 7230 §3.2.6: `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "."
/// / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`, as a table: the checks run on every
/// list header of every handshake.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// Whether `b` is a `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// RFC 7230 §3.2.6: `token = 1*tchar`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// RFC 7230 §3.2.3: `OWS = *( SP / HTAB )`, trimmed from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The elements of a `#rule` list, trimmed, empty ones skipped: RFC 7230 §7 says a
/// recipient MUST accept and ignore empty list elements (`a, , b`).
pub(crate) fn elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Whether `value` equals `lower` (an ASCII lowercase literal) ignoring ASCII case: a
/// plain loop, cheaper than the std version for the short names and tokens of a head.
#[inline]
pub(crate) fn eq_lower(value: &[u8], lower: &[u8]) -> bool {
    value.len() == lower.len()
        && value
            .iter()
            .zip(lower)
            .all(|(v, l)| v.to_ascii_lowercase() == *l)
}

/// Whether `name` (a header name, or a list element of a header value) equals `lower`
/// (lowercase letters and `-`) ignoring ASCII case, comparing 4 or 8 bytes at a time
/// without a loop up to 24 bytes: this runs for every field of every handshake.
///
/// `b | 0x20` lowercases a letter and keeps `-`. The only other byte it maps onto a
/// letter is that letter's case pair; the only other byte it maps onto `-` is CR, which
/// no header name or value holds (it ends the line, RFC 7230 §3.2). So on what a
/// parsed head holds the answer is exactly [`eq_lower`]'s (tested below, byte by byte).
/// Longer or shorter strings fall back to [`eq_lower`].
#[inline]
pub(crate) fn eq_name(name: &[u8], lower: &[u8]) -> bool {
    let n = name.len();
    if n != lower.len() {
        return false;
    }
    let word8 =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default());
    let word4 =
        |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or_default());
    match n {
        // Words at 0, 8, 16 (each clamped to n - 8) and n - 8 cover any length from 8
        // to 24; where they overlap, bytes are compared twice.
        8..=24 => {
            [0, 8.min(n - 8), 16.min(n - 8), n - 8]
                .into_iter()
                .fold(0, |diff, at| {
                    diff | ((word8(name, at) | 0x2020_2020_2020_2020) ^ word8(lower, at))
                })
                == 0
        }
        4..=7 => {
            [0, n - 4].into_iter().fold(0, |diff, at| {
                diff | ((word4(name, at) | 0x2020_2020) ^ word4(lower, at))
            }) == 0
        }
        _ => eq_lower(name, lower),
    }
}

/// Whether the list `value` holds `token`, compared ASCII case-insensitively (RFC 7230
/// §6.1 and §6.7: connection options and protocol names are case-insensitive).
/// `token` must be lowercase letters and `-`; `value` is from a parsed head (no CR).
pub(crate) fn list_contains(value: &[u8], token: &str) -> bool {
    let token = token.as_bytes();
    if eq_name(value, token) {
        return true; // the usual case: the list is the one token
    }
    elements(value).any(|e| eq_name(e, token))
}

/// Whether `value` is a list of tokens (`1#token`, RFC 6455 §4.1 for
/// `Sec-WebSocket-Protocol`), empty elements allowed.
pub(crate) fn is_token_list(value: &[u8]) -> bool {
    elements(value).all(is_token)
}

/// Whether a header value the caller wants to send is safe: no CR, LF or NUL, which
/// would end the field early and let a value inject headers (RFC 7230 §3.2:
/// `field-content` holds visible characters, SP and HTAB only).
pub(crate) fn is_safe_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_tchars_only() {
        assert!(is_token(b"websocket"));
        assert!(is_token(b"x-custom.v1~"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a,b"));
        assert!(!is_token(b"a\"b"));
        assert!(!is_token("é".as_bytes()));
    }

    #[test]
    fn tchar_table_matches_the_grammar() {
        let specials = b"!#$%&'*+-.^_`|~";
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || specials.contains(&b);
            assert_eq!(is_tchar(b), expected, "{b:#x}");
        }
    }

    #[test]
    fn ows_is_space_and_tab_only() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b"\ra"), b"\ra");
    }

    #[test]
    fn lists_skip_empty_elements_and_trim() {
        let v: Vec<&[u8]> = elements(b" a ,, b,\t c ,").collect();
        assert_eq!(v, [&b"a"[..], b"b", b"c"]);
        assert_eq!(elements(b" , ,").count(), 0);
    }

    #[test]
    fn eq_lower_ignores_ascii_case_only() {
        assert!(eq_lower(b"WebSocket", b"websocket"));
        assert!(eq_lower(b"", b""));
        assert!(!eq_lower(b"websocke", b"websocket"));
        assert!(!eq_lower(b"websocket ", b"websocket"));
        assert!(!eq_lower("\u{212a}".as_bytes(), b"k"));
    }

    #[test]
    fn eq_name_is_eq_lower_for_every_field_byte_at_every_position() {
        let names: [&[u8]; 10] = [
            b"host",
            b"origin",
            b"upgrade",
            b"connection",
            b"sec-websocket-key",
            b"sec-websocket-version",
            b"sec-websocket-protocol",
            b"sec-websocket-extensions",
            b"websocket",
            b"abc",
        ];
        // Every byte a name or value may hold: all but CR, LF, NUL and DEL.
        let tokens: Vec<u8> = (0..=255u8)
            .filter(|&b| !matches!(b, b'\r' | b'\n' | 0 | 0x7f))
            .collect();
        for lower in names {
            assert!(eq_name(lower, lower));
            assert!(eq_name(&lower.to_ascii_uppercase(), lower));
            for at in 0..lower.len() {
                for &b in &tokens {
                    let mut name = lower.to_vec();
                    name[at] = b;
                    assert_eq!(eq_name(&name, lower), eq_lower(&name, lower), "{name:?}");
                }
            }
            assert!(!eq_name(&lower[1..], lower));
            assert!(!eq_name(&[lower, b"x"].concat(), lower));
        }
    }

    #[test]
    fn list_contains_is_case_insensitive_and_whole_token() {
        assert!(list_contains(b"keep-alive, Upgrade", "upgrade"));
        assert!(list_contains(b"UPGRADE", "upgrade"));
        assert!(!list_contains(b"upgrade2", "upgrade"));
        assert!(!list_contains(b"keep-alive upgrade", "upgrade"));
        assert!(!list_contains(b"", "upgrade"));
    }

    #[test]
    fn token_lists() {
        assert!(is_token_list(b"chat, superchat"));
        assert!(is_token_list(b""));
        assert!(!is_token_list(b"chat; v=1"));
        assert!(!is_token_list(b"a b"));
    }

    #[test]
    fn unsafe_values_are_those_that_end_a_line() {
        assert!(is_safe_value("a=b; Path=/; HttpOnly"));
        assert!(is_safe_value("tab\there"));
        assert!(is_safe_value("ünïcode"));
        assert!(!is_safe_value("a\r\nSet-Cookie: evil"));
        assert!(!is_safe_value("a\nb"));
        assert!(!is_safe_value("a\0b"));
    }
}
