//! An owned, parsed HTTP head: one byte buffer and the byte ranges of its header fields,
//! so a parse allocates twice (the bytes, the index) however many headers there are.

use std::fmt;
use std::ops::Range;

/// A byte range into [`Head::bytes`], stored as `u32` pairs to keep the index small.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The span of `part`, which must be a sub-slice of `base`.
    pub(crate) fn of(base: &[u8], part: &[u8]) -> Span {
        if part.is_empty() {
            // An empty slice may be a constant rather than a part of the head.
            return Span::default();
        }
        // Both pointers are into one allocation; the arithmetic is on addresses only.
        let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
        debug_assert!(start + part.len() <= base.len(), "span outside its head");
        Span {
            start: start as u32,
            end: (start + part.len()) as u32,
        }
    }

    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Field {
    name: Span,
    value: Span,
}

/// The head's bytes and where each header field's name and value lie in them.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Head {
    bytes: Vec<u8>,
    fields: Vec<Field>,
}

impl Head {
    /// Copies `bytes` (the whole head, as parsed) and indexes `headers`, whose names and
    /// values are slices of `bytes`.
    pub(crate) fn new(bytes: &[u8], headers: &[httparse::Header<'_>]) -> Head {
        let fields = headers
            .iter()
            .map(|h| Field {
                name: Span::of(bytes, h.name.as_bytes()),
                value: Span::of(bytes, h.value),
            })
            .collect();
        Head {
            bytes: bytes.to_vec(),
            fields,
        }
    }

    /// The bytes of `span`.
    pub(crate) fn slice(&self, span: Span) -> &[u8] {
        self.bytes.get(span.range()).unwrap_or_default()
    }

    /// The text of `span`: heads are checked to be UTF-8 where a `&str` is handed out,
    /// so the empty fallback is never taken for spans the parsers stored.
    pub(crate) fn str(&self, span: Span) -> &str {
        std::str::from_utf8(self.slice(span)).unwrap_or_default()
    }

    /// Every field as (name, raw value), in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields
            .iter()
            .map(|f| (self.str(f.name), self.slice(f.value)))
    }

    /// The raw values of every field named `name` (ASCII case-insensitive), in order.
    pub(crate) fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The first raw value of `name` (ASCII case-insensitive).
    pub(crate) fn first(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| self.slice(f.name).eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| self.slice(f.value))
    }

    /// The first value of `name`, if it is UTF-8.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.first(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The UTF-8 values of `name`, in order.
    pub(crate) fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.values(name)
            .filter_map(|v| std::str::from_utf8(v).ok())
    }

    /// The whole head as received.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))))
            .finish()
    }
}
