//! An owned, parsed HTTP head: one byte buffer and the byte ranges of its header fields,
//! kept inline up to [`INLINE_FIELDS`] fields, so a typical parse allocates once (the
//! bytes), and twice past that many fields.

use std::fmt;
use std::ops::Range;

/// A byte range into a head, stored as `u16` pairs to keep the index small (heads are
/// at most [`Limits::MAX_HEAD_SIZE`](crate::Limits::MAX_HEAD_SIZE) bytes).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u16,
    end: u16,
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
            start: start as u16,
            end: (start + part.len()) as u16,
        }
    }

    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct Field {
    name: Span,
    value: Span,
}

/// Header fields indexed without an allocation: browsers send 12 to 18.
pub(crate) const INLINE_FIELDS: usize = 24;

/// The field index: inline while it fits, on the heap past [`INLINE_FIELDS`].
#[derive(Clone)]
enum Fields {
    Inline {
        len: usize,
        fields: [Field; INLINE_FIELDS],
    },
    Heap(Vec<Field>),
}

impl Fields {
    fn as_slice(&self) -> &[Field] {
        match self {
            Fields::Inline { len, fields } => &fields[..*len],
            Fields::Heap(v) => v,
        }
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Fields {}

/// The head's bytes and where each header field's name and value lie in them.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Head {
    bytes: Vec<u8>,
    fields: Fields,
}

impl Head {
    /// Copies `bytes` (the whole head, as parsed) and indexes `headers`, whose names and
    /// values are slices of `bytes`.
    #[inline]
    pub(crate) fn new(bytes: &[u8], headers: &[httparse::Header<'_>]) -> Head {
        let field = |h: &httparse::Header<'_>| Field {
            name: Span::of(bytes, h.name.as_bytes()),
            value: Span::of(bytes, h.value),
        };
        let fields = if headers.len() <= INLINE_FIELDS {
            let mut fields = [Field::default(); INLINE_FIELDS];
            for (slot, h) in fields.iter_mut().zip(headers) {
                *slot = field(h);
            }
            Fields::Inline {
                len: headers.len(),
                fields,
            }
        } else {
            Fields::Heap(headers.iter().map(field).collect())
        };
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
            .as_slice()
            .iter()
            .map(|f| (self.str(f.name), self.slice(f.value)))
    }

    /// The raw values of every field named `name` (ASCII case-insensitive), in order.
    /// Names are compared as bytes, as [`first`](Head::first) does: no UTF-8 check of
    /// every name on the way.
    pub(crate) fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .as_slice()
            .iter()
            .filter(move |f| self.slice(f.name).eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| self.slice(f.value))
    }

    /// The first raw value of `name` (ASCII case-insensitive).
    pub(crate) fn first(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .as_slice()
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
