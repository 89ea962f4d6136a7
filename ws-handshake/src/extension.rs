//! `Sec-WebSocket-Extensions` offers and answers, parsed into names and parameters
//! (RFC 6455 §9.1), ready for an extension such as permessage-deflate (RFC 7692).

use crate::token::{is_tchar, trim_ows};

/// One extension in a `Sec-WebSocket-Extensions` list: its name and its parameters, as
/// in `permessage-deflate; client_max_window_bits; server_max_window_bits=10`.
///
/// It borrows from the head it was read from and allocates nothing.
///
/// ```
/// let ext = ws_handshake::Extension::parse_list("permessage-deflate; server_max_window_bits=\"10\"")
///     .next()
///     .unwrap();
/// assert_eq!(ext.name(), "permessage-deflate");
/// assert_eq!(ext.param("server_max_window_bits"), Some(Some("10")));
/// assert_eq!(ext.param("client_max_window_bits"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    name: &'a str,
    params: &'a str,
}

/// One parameter of an [`Extension`]: a name and an optional value. A quoted value
/// (`x="10"`) is given without its quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The parameter's name, as sent.
    pub name: &'a str,
    /// The value after `=`, if any, unquoted.
    pub value: Option<&'a str>,
}

impl<'a> Extension<'a> {
    /// The extensions of one header value, in order. Elements that do not follow the
    /// grammar of RFC 6455 §9.1 are skipped; the handshake parsers refuse such heads
    /// before they reach this point, so for a parsed request or response nothing is
    /// skipped.
    pub fn parse_list(value: &'a str) -> impl Iterator<Item = Extension<'a>> + 'a {
        value.split(',').filter_map(|element| {
            let element = trim_str(element);
            if !is_extension(element.as_bytes()) {
                return None;
            }
            let (name, params) = match element.find(';') {
                Some(i) => (&element[..i], &element[i + 1..]),
                None => (element, ""),
            };
            Some(Extension {
                name: trim_str(name),
                params,
            })
        })
    }

    /// The extension's name (`permessage-deflate`).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The parameters, in the order sent.
    pub fn params(&self) -> impl Iterator<Item = Param<'a>> + 'a {
        let params = self.params;
        params.split(';').filter_map(|p| {
            let p = trim_str(p);
            if p.is_empty() {
                return None;
            }
            Some(match p.find('=') {
                Some(i) => Param {
                    name: trim_str(&p[..i]),
                    value: Some(unquote(trim_str(&p[i + 1..]))),
                },
                None => Param {
                    name: p,
                    value: None,
                },
            })
        })
    }

    /// The parameter named `name` (ASCII case-insensitive): `None` if absent,
    /// `Some(None)` if present without a value, `Some(Some(v))` with one.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value)
    }
}

fn trim_str(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

/// Whether a whole header value follows RFC 6455 §9.1:
///
/// ```text
/// extension-list = 1#extension
/// extension      = extension-token *( ";" extension-param )
/// extension-param = token [ "=" (token | quoted-string) ]
///     ; When using the quoted-string syntax variant, the value after
///     ; quoted-string unescaping MUST conform to the 'token' ABNF.
/// ```
///
/// with optional whitespace around the separators and empty list elements allowed
/// (RFC 7230 §7). A quoted value must hold a plain token: a backslash escape is refused
/// rather than unescaped, so every value can be handed out as a slice of the head.
///
/// One pass that skips over runs of token characters, as it runs on every handshake
/// that offers an extension; a test checks it against a split-based reading of the
/// grammar.
pub(crate) fn is_extension_list(v: &[u8]) -> bool {
    let n = v.len();
    let mut i = 0;
    let skip_ows = |i: &mut usize| {
        while *i < n && matches!(v[*i], b' ' | b'\t') {
            *i += 1;
        }
    };
    let token = |i: &mut usize| {
        let rest = v.get(*i..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| !is_tchar(b))
            .unwrap_or(rest.len());
        *i += len;
        len > 0
    };
    loop {
        // Element start: optional whitespace and empty elements.
        while i < n && matches!(v[i], b' ' | b'\t' | b',') {
            i += 1;
        }
        if i == n {
            return true;
        }
        if !token(&mut i) {
            return false; // extension-token
        }
        loop {
            skip_ows(&mut i);
            if i == n {
                return true;
            }
            match v[i] {
                b',' => {
                    i += 1;
                    break;
                }
                b';' => {
                    i += 1;
                    skip_ows(&mut i);
                    if !token(&mut i) {
                        return false; // extension-param name
                    }
                    skip_ows(&mut i);
                    if i < n && v[i] == b'=' {
                        i += 1;
                        skip_ows(&mut i);
                        if i < n && v[i] == b'"' {
                            i += 1;
                            if !token(&mut i) || i == n || v[i] != b'"' {
                                return false;
                            }
                            i += 1;
                        } else if !token(&mut i) {
                            return false;
                        }
                    }
                }
                _ => return false,
            }
        }
    }
}

/// Whether one list element (no `,`) is an extension.
fn is_extension(element: &[u8]) -> bool {
    !element.contains(&b',') && is_extension_list(element) && !trim_ows(element).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_offer_parses_into_names_and_params() {
        let v = "permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=10 ; client_no_context_takeover, x-foo";
        assert!(is_extension_list(v.as_bytes()));
        let exts: Vec<_> = Extension::parse_list(v).collect();
        assert_eq!(exts.len(), 3);
        assert_eq!(exts[0].name(), "permessage-deflate");
        assert_eq!(
            exts[0].params().collect::<Vec<_>>(),
            [Param {
                name: "client_max_window_bits",
                value: None
            }]
        );
        assert_eq!(exts[1].param("server_max_window_bits"), Some(Some("10")));
        assert_eq!(exts[1].param("CLIENT_NO_CONTEXT_TAKEOVER"), Some(None));
        assert_eq!(exts[2].name(), "x-foo");
        assert_eq!(exts[2].params().count(), 0);
    }

    #[test]
    fn quoted_values_are_unquoted() {
        let v = "e; a=\"10\"; b = 7";
        assert!(is_extension_list(v.as_bytes()));
        let e = Extension::parse_list(v).next().unwrap();
        assert_eq!(e.param("a"), Some(Some("10")));
        assert_eq!(e.param("b"), Some(Some("7")));
    }

    #[test]
    fn malformed_lists_are_refused() {
        for bad in [
            "; a",
            "e; =1",
            "e; a=",
            "e; a=\"x y\"",
            "e; a=\"\\x\"",
            "e; a=\"1",
            "e f",
            "e; a=1=2",
            "é",
        ] {
            assert!(!is_extension_list(bad.as_bytes()), "{bad:?}");
        }
        assert!(is_extension_list(b""));
        assert!(is_extension_list(b" , e ,"));
    }

    /// The grammar read the slow way: split on `,`, then `;`, then `=`.
    fn oracle(value: &[u8]) -> bool {
        use crate::token::is_token;
        let param = |p: &[u8]| match p.iter().position(|&b| b == b'=') {
            None => is_token(p),
            Some(i) => {
                let v = trim_ows(&p[i + 1..]);
                let v = match v {
                    [b'"', inner @ .., b'"'] => inner,
                    v => v,
                };
                is_token(trim_ows(&p[..i])) && is_token(v)
            }
        };
        value
            .split(|&b| b == b',')
            .map(trim_ows)
            .filter(|e| !e.is_empty())
            .all(|e| {
                let mut parts = e.split(|&b| b == b';');
                let name = parts.next().map(trim_ows).unwrap_or_default();
                is_token(name) && parts.all(|p| param(trim_ows(p)))
            })
    }

    #[test]
    fn one_pass_check_agrees_with_the_split_reading() {
        // Every string of up to 7 characters over the grammar's alphabet.
        let alphabet = b"a;=,\" \\";
        let mut stack = vec![Vec::new()];
        let mut checked = 0;
        while let Some(s) = stack.pop() {
            assert_eq!(
                is_extension_list(&s),
                oracle(&s),
                "{:?}",
                String::from_utf8_lossy(&s)
            );
            checked += 1;
            if s.len() < 7 {
                for &c in alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    stack.push(t);
                }
            }
        }
        assert!(checked > 900_000);
        for v in [
            "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\"",
            "a ; b = c , d",
        ] {
            assert!(is_extension_list(v.as_bytes()) && oracle(v.as_bytes()));
        }
    }

    #[test]
    fn parse_list_skips_what_does_not_parse() {
        let names: Vec<_> = Extension::parse_list("a, b c, d;x=1")
            .map(|e| e.name())
            .collect();
        assert_eq!(names, ["a", "d"]);
    }
}
