//! permessage-deflate (RFC 7692): reading offers and answers, choosing the parameters.
//!
//! The server reads the client's offers with a [`DeflateOptions`] policy and answers
//! the first one it can accept ([`Request::negotiate_deflate`](crate::Request::negotiate_deflate),
//! [`Accept::deflate`](crate::Accept::deflate)); the client offers with
//! [`ClientRequest::deflate`](crate::ClientRequest::deflate) and checks the answer in
//! [`parse_response`](crate::parse_response). Both sides end with the same
//! [`DeflateParams`], which the compression layer turns into its own configuration.
//!
//! Nothing here allocates: parameters are read from slices of the head and the
//! answer is written straight into the 101.

use std::fmt;

use crate::{Error, Extension};

/// The extension's name (RFC 7692 §7).
pub(crate) const NAME: &str = "permessage-deflate";

const MIN_WINDOW_BITS: u8 = DeflateParams::MIN_WINDOW_BITS;
const MAX_WINDOW_BITS: u8 = DeflateParams::MAX_WINDOW_BITS;

/// The permessage-deflate parameters both peers agreed on (RFC 7692 §7.1).
///
/// `server_*` applies to what the server compresses and the client decompresses,
/// `client_*` to the other direction. Window bits are the base-2 logarithm of the
/// LZ77 sliding window, between [`MIN_WINDOW_BITS`](DeflateParams::MIN_WINDOW_BITS)
/// and [`MAX_WINDOW_BITS`](DeflateParams::MAX_WINDOW_BITS); the
/// decompressor must keep a window at least that large, the compressor must not look
/// further back.
///
/// [`Default`] is the extension with no parameters: context takeover both ways and
/// 32 KiB windows.
///
/// On the client side it is also what [`ClientRequest::deflate`](crate::ClientRequest::deflate)
/// offers: the no-context-takeover flags are requested, and a window below 15 is
/// asked for (`server_max_window_bits=N`) or announced as a hint
/// (`client_max_window_bits=N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server starts every message with an empty window (RFC 7692 §7.1.1.1): the
    /// client need not keep its decompression window between messages.
    pub server_no_context_takeover: bool,
    /// The client starts every message with an empty window (RFC 7692 §7.1.1.2).
    pub client_no_context_takeover: bool,
    /// The server's compression window, 8 to 15 (RFC 7692 §7.1.2.1).
    pub server_max_window_bits: u8,
    /// The client's compression window, 8 to 15 (RFC 7692 §7.1.2.2).
    pub client_max_window_bits: u8,
}

impl DeflateParams {
    /// The smallest LZ77 window RFC 7692 allows, 2^8 bytes (§7.1.2.1: "between 8 to
    /// 15, inclusive").
    pub const MIN_WINDOW_BITS: u8 = 8;
    /// The largest LZ77 window, 2^15 = 32 KiB, which is also what an absent
    /// `*_max_window_bits` parameter means (RFC 7692 §7.1.2.1, §7.1.2.2).
    pub const MAX_WINDOW_BITS: u8 = 15;

    /// No parameters: context takeover both ways, 32 KiB windows.
    pub const DEFAULT: DeflateParams = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: MAX_WINDOW_BITS,
        client_max_window_bits: MAX_WINDOW_BITS,
    };
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams::DEFAULT
    }
}

/// What a server is willing to agree to: its policy for answering permessage-deflate
/// offers (RFC 7692 §7.1).
///
/// The defaults ask for 4 KiB windows (12 bits) both ways, as Python's `websockets`
/// server does: a zlib inflater keeps its whole window per connection (32 KiB at 15
/// bits, 4 KiB at 12) and a deflater keeps twice that plus its hash tables, so on a
/// server holding many connections the window is most of the memory compression
/// costs, while chat and JSON messages, mostly far shorter than 4 KiB, compress
/// nearly as well. Context takeover is kept both ways (it is what makes small
/// messages compress at all).
///
/// A client may always ask for less: the server's window is the smaller of
/// [`server_max_window_bits`](DeflateOptions::server_max_window_bits) and the
/// client's `server_max_window_bits`. The client's window can only be limited when the
/// client offers `client_max_window_bits` (Chromium, Node's `ws` and Python's
/// `websockets` do; Firefox does not, and then compresses with 32 KiB).
///
/// ```
/// use ws_handshake::DeflateOptions;
///
/// let options = DeflateOptions::default()
///     .with_server_max_window_bits(15)
///     .with_client_no_context_takeover(true);
/// assert_eq!(options.server_max_window_bits, 15);
/// assert_eq!(options.client_max_window_bits, 12);
/// // Out of range values are brought into 8..=15.
/// assert_eq!(DeflateOptions::default().with_client_max_window_bits(3).client_max_window_bits, 8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DeflateOptions {
    /// The largest window the server compresses with, 8 to 15 (default 12). Answered
    /// as `server_max_window_bits` when below 15 or when the client asked for a limit.
    pub server_max_window_bits: u8,
    /// The window the server asks the client to compress with when the client offered
    /// `client_max_window_bits`, 8 to 15 (default 12); the client's own hint wins if
    /// smaller. Answered as `client_max_window_bits` when below 15.
    pub client_max_window_bits: u8,
    /// Answer `server_no_context_takeover` to every offer (default false): the server
    /// resets its compressor after each message, which frees nothing in zlib but lets
    /// the client drop its inflate window between messages.
    pub server_no_context_takeover: bool,
    /// Answer `client_no_context_takeover` to every offer (default false): the server
    /// need not keep its inflate window between messages. A client that offers the
    /// parameter gets it back whatever this says.
    pub client_no_context_takeover: bool,
}

impl DeflateOptions {
    /// 12-bit windows both ways, context takeover kept (see the type's docs).
    pub const DEFAULT: DeflateOptions = DeflateOptions {
        server_max_window_bits: 12,
        client_max_window_bits: 12,
        server_no_context_takeover: false,
        client_no_context_takeover: false,
    };

    /// These options with `server_max_window_bits` set, brought into 8..=15.
    pub const fn with_server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = clamp_bits(bits);
        self
    }

    /// These options with `client_max_window_bits` set, brought into 8..=15.
    pub const fn with_client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = clamp_bits(bits);
        self
    }

    /// These options with `server_no_context_takeover` set.
    pub const fn with_server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// These options with `client_no_context_takeover` set.
    pub const fn with_client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// Answers one offer: `None` if it is not permessage-deflate or if RFC 7692 §5
    /// says to decline it (an unknown or repeated parameter, an invalid value);
    /// otherwise the answer and the parameters it agrees on.
    ///
    /// [`Request::negotiate_deflate`](crate::Request::negotiate_deflate) calls this on
    /// each offer in turn and keeps the first answer.
    ///
    /// ```
    /// use ws_handshake::{DeflateOptions, Extension};
    ///
    /// let options = DeflateOptions::default();
    /// let offer = Extension::parse_list("permessage-deflate; client_max_window_bits").next().unwrap();
    /// let answer = options.negotiate(&offer).unwrap();
    /// assert_eq!(
    ///     answer.to_string(),
    ///     "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    /// );
    /// assert_eq!(answer.params().client_max_window_bits, 12);
    ///
    /// let bad = Extension::parse_list("permessage-deflate; server_max_window_bits=16").next().unwrap();
    /// assert_eq!(options.negotiate(&bad), None);
    /// ```
    pub fn negotiate(&self, offer: &Extension<'_>) -> Option<DeflateResponse> {
        if !offer.name().eq_ignore_ascii_case(NAME) {
            return None;
        }
        // RFC 7692 §5: "A server MUST decline an extension negotiation offer for this
        // extension if any of the following conditions are met: [an unknown
        // parameter, an invalid value, a repeated parameter]".
        let offer = read_params(offer, Side::Offer).ok()?;
        Some(self.answer(&offer))
    }

    /// The answer to a valid offer.
    fn answer(&self, offer: &RawParams) -> DeflateResponse {
        // §7.1.1.1: "A server accepting an extension negotiation offer with this
        // parameter MUST include the "server_no_context_takeover" extension parameter
        // in the corresponding extension negotiation response [...]. A server MAY
        // include [it] even if the extension negotiation offer being accepted by the
        // server didn't include [it]."
        let server_no_context_takeover =
            offer.server_no_context_takeover || self.server_no_context_takeover;
        // §7.1.1.2: "If the received extension negotiation offer includes the
        // "client_no_context_takeover" extension parameter, the server may either
        // ignore the parameter or use the parameter to avoid taking over the LZ77
        // sliding window unnecessarily by including [it] in the corresponding
        // extension negotiation response". It is echoed: it saves the server's window.
        let client_no_context_takeover =
            offer.client_no_context_takeover || self.client_no_context_takeover;
        // §7.1.2.1: "A server accepts an extension negotiation offer with this
        // parameter by including the "server_max_window_bits" extension parameter in
        // the extension negotiation response to send back to the client with the same
        // or smaller value as the offer." and "A server MAY include the
        // "server_max_window_bits" extension parameter in an extension negotiation
        // response even if the extension negotiation offer being accepted by the
        // server didn't include [it]."
        let own = clamp_bits(self.server_max_window_bits);
        let server_max_window_bits = match offer.server_max_window_bits {
            Some(limit) => own.min(limit),
            None => own,
        };
        let show_server_bits =
            offer.server_max_window_bits.is_some() || server_max_window_bits < MAX_WINDOW_BITS;
        // §7.1.2.2: "If a received extension negotiation offer doesn't have the
        // "client_max_window_bits" extension parameter, the corresponding extension
        // negotiation response to the offer MUST NOT include the
        // "client_max_window_bits" extension parameter." With a value, "the server
        // may either ignore this value or use this value to avoid allocating an
        // unnecessarily big LZ77 sliding window by including the
        // "client_max_window_bits" extension parameter in the corresponding extension
        // negotiation response to the offer with a value equal to or smaller than the
        // received value."
        let client_max_window_bits = match offer.client_max_window_bits {
            None => MAX_WINDOW_BITS,
            Some(hint) => {
                clamp_bits(self.client_max_window_bits).min(hint.unwrap_or(MAX_WINDOW_BITS))
            }
        };
        let show_client_bits = client_max_window_bits < MAX_WINDOW_BITS;
        DeflateResponse {
            params: DeflateParams {
                server_no_context_takeover,
                client_no_context_takeover,
                server_max_window_bits,
                client_max_window_bits,
            },
            show_server_bits,
            show_client_bits,
        }
    }
}

impl Default for DeflateOptions {
    fn default() -> Self {
        DeflateOptions::DEFAULT
    }
}

/// A server's answer to one permessage-deflate offer: the `Sec-WebSocket-Extensions`
/// element it sends (its [`Display`](fmt::Display)) and the [`DeflateParams`] that
/// element agrees on.
///
/// Made by [`DeflateOptions::negotiate`] and
/// [`Request::negotiate_deflate`](crate::Request::negotiate_deflate); a few bytes,
/// written out only when the 101 is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateResponse {
    params: DeflateParams,
    show_server_bits: bool,
    show_client_bits: bool,
}

impl DeflateResponse {
    /// The parameters both sides use once this answer is sent.
    pub fn params(&self) -> DeflateParams {
        self.params
    }

    /// Feeds the element's pieces to `put`.
    fn pieces(&self, mut put: impl FnMut(&str)) {
        let p = &self.params;
        put(NAME);
        if p.server_no_context_takeover {
            put("; server_no_context_takeover");
        }
        if p.client_no_context_takeover {
            put("; client_no_context_takeover");
        }
        if self.show_server_bits {
            put("; server_max_window_bits=");
            put(bits_str(p.server_max_window_bits));
        }
        if self.show_client_bits {
            put("; client_max_window_bits=");
            put(bits_str(p.client_max_window_bits));
        }
    }

    /// Appends the element to `dst`.
    pub(crate) fn write_to(&self, dst: &mut Vec<u8>) {
        self.pieces(|s| dst.extend_from_slice(s.as_bytes()));
    }

    /// An upper bound on the element's length.
    pub(crate) const MAX_LEN: usize = 128;
}

impl fmt::Display for DeflateResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut result = Ok(());
        self.pieces(|s| {
            if result.is_ok() {
                result = f.write_str(s);
            }
        });
        result
    }
}

/// The client's offer for `params` (RFC 7692 §7.1), the way browsers write it:
/// `client_max_window_bits` is always sent, bare at 15, to say the client accepts the
/// parameter in the answer (§7.1.2.2); `server_max_window_bits` only below 15.
/// `None` if a window is out of 8..=15.
pub(crate) fn offer(params: &DeflateParams) -> Option<String> {
    let ok = |b: u8| (MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&b);
    if !ok(params.server_max_window_bits) || !ok(params.client_max_window_bits) {
        return None;
    }
    let mut s = String::with_capacity(DeflateResponse::MAX_LEN);
    s.push_str(NAME);
    if params.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if params.server_max_window_bits < MAX_WINDOW_BITS {
        s.push_str("; server_max_window_bits=");
        s.push_str(bits_str(params.server_max_window_bits));
    }
    s.push_str("; client_max_window_bits");
    if params.client_max_window_bits < MAX_WINDOW_BITS {
        s.push('=');
        s.push_str(bits_str(params.client_max_window_bits));
    }
    Some(s)
}

/// Checks a server's permessage-deflate answer against the client's offers (the
/// elements of its `Sec-WebSocket-Extensions`) and gives the parameters agreed.
///
/// RFC 7692 §5: "A client MUST _Fail the WebSocket Connection_ if the peer server
/// accepted an extension negotiation offer for this extension with an extension
/// negotiation response meeting any of the following conditions: [an unknown
/// parameter, an invalid value, a repeated parameter,] The client does not support
/// the configuration that the response represents."
///
/// The answer must fit one of the offers (the client cannot tell which one the server
/// took); the first it fits gives the client's hints.
pub(crate) fn check_response<'a>(
    answer: &Extension<'_>,
    offers: impl Iterator<Item = Extension<'a>>,
) -> Result<DeflateParams, Error> {
    let r = read_params(answer, Side::Response).map_err(ParamError::into_error)?;
    for offer in offers.filter(|o| o.name().eq_ignore_ascii_case(NAME)) {
        let Ok(o) = read_params(&offer, Side::Offer) else {
            continue;
        };
        // §7.1.1.1: "A server accepting an extension negotiation offer with this
        // parameter MUST include the "server_no_context_takeover" extension parameter
        // in the corresponding extension negotiation response".
        if o.server_no_context_takeover && !r.server_no_context_takeover {
            continue;
        }
        // §7.1.2.1: the answer's "server_max_window_bits" "MUST have a value not
        // greater than the value of the offer" (absent, it is 15).
        let server_bits = r.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS);
        if o.server_max_window_bits
            .is_some_and(|limit| server_bits > limit)
        {
            continue;
        }
        // §7.1.2.2: "If a received extension negotiation offer doesn't have the
        // "client_max_window_bits" extension parameter, the corresponding extension
        // negotiation response to the offer MUST NOT include the
        // "client_max_window_bits" extension parameter."
        let Some(hint) = o.client_max_window_bits else {
            if r.client_max_window_bits.is_some() {
                continue;
            }
            return Ok(agreed(&r, &o, MAX_WINDOW_BITS));
        };
        // §7.1.2.2: with a value, the offer tells "that even if the server doesn't
        // include the "client_max_window_bits" extension parameter in the
        // corresponding extension negotiation response with a value greater than the
        // one in the extension negotiation offer or if the server doesn't include the
        // extension parameter at all, the client is not going to use an LZ77 sliding
        // window size greater than the size specified by the value in the extension
        // negotiation offer": the client's window is the smaller of the two.
        let answered = r
            .client_max_window_bits
            .flatten()
            .unwrap_or(MAX_WINDOW_BITS);
        return Ok(agreed(
            &r,
            &o,
            answered.min(hint.unwrap_or(MAX_WINDOW_BITS)),
        ));
    }
    Err(Error::DeflateNotAsOffered)
}

/// The parameters of a checked answer `r` to the offer `o`.
fn agreed(r: &RawParams, o: &RawParams, client_bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: r.server_no_context_takeover,
        // §7.1.1.2: offering "client_no_context_takeover" is "a hint that even if the
        // server doesn't include [it] in the corresponding extension negotiation
        // response to the offer, the client is not going to use context takeover".
        client_no_context_takeover: r.client_no_context_takeover || o.client_no_context_takeover,
        server_max_window_bits: r.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
        client_max_window_bits: client_bits,
    }
}

/// Which message a parameter list comes from: the grammar differs for
/// `client_max_window_bits`, which an offer may send bare.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Response,
}

/// The four parameters of RFC 7692 §7.1 as sent, each at most once.
#[derive(Debug, Default)]
struct RawParams {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: sent without a value (offers only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Why a parameter list breaks RFC 7692 §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParamError {
    Unknown,
    Duplicate,
    InvalidValue,
}

impl ParamError {
    fn into_error(self) -> Error {
        match self {
            ParamError::Unknown => Error::DeflateUnknownParam,
            ParamError::Duplicate => Error::DeflateDuplicateParam,
            ParamError::InvalidValue => Error::DeflateInvalidValue,
        }
    }
}

/// Reads a permessage-deflate element's parameters (names ASCII case-insensitive, as
/// [`Extension::param`] matches them).
fn read_params(ext: &Extension<'_>, side: Side) -> Result<RawParams, ParamError> {
    let mut raw = RawParams::default();
    let mut seen = 0u8;
    for p in ext.params() {
        let (bit, name) = PARAMS
            .iter()
            .enumerate()
            .find(|(_, n)| p.name.eq_ignore_ascii_case(n))
            .ok_or(ParamError::Unknown)?;
        // §5: "The negotiation offer contains multiple extension parameters with the
        // same name." (and the same for a response).
        if seen & (1 << bit) != 0 {
            return Err(ParamError::Duplicate);
        }
        seen |= 1 << bit;
        match (*name, p.value) {
            // §7.1.1.1, §7.1.1.2: "This extension parameter has no value."
            ("server_no_context_takeover", None) => raw.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => raw.client_no_context_takeover = true,
            // §7.1.2.1: "This parameter has a decimal integer value without leading
            // zeroes between 8 to 15, inclusive" — in an offer and in a response.
            ("server_max_window_bits", Some(v)) => {
                raw.server_max_window_bits = Some(window_bits(v).ok_or(ParamError::InvalidValue)?)
            }
            // §7.1.2.2: in an offer, "This parameter has no value or a decimal integer
            // value without leading zeroes between 8 to 15 inclusive"; in a response
            // it carries the window the client must use, so it needs one.
            ("client_max_window_bits", None) if side == Side::Offer => {
                raw.client_max_window_bits = Some(None)
            }
            ("client_max_window_bits", Some(v)) => {
                raw.client_max_window_bits =
                    Some(Some(window_bits(v).ok_or(ParamError::InvalidValue)?))
            }
            _ => return Err(ParamError::InvalidValue),
        }
    }
    Ok(raw)
}

/// The parameters RFC 7692 §7.1 defines, each with its bit in `read_params`'s mask.
const PARAMS: [&str; 4] = [
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
];

/// RFC 7692 §7.1.2.1: `1*DIGIT`, "a decimal integer value without leading zeroes
/// between 8 to 15, inclusive". A quoted value (`"10"`) arrives here unquoted: RFC
/// 6455 §9.1 allows `token | quoted-string` for every parameter value, "the value after
/// quoted-string unescaping MUST conform to the 'token' ABNF", and [`Extension`] hands
/// it out without its quotes.
fn window_bits(v: &str) -> Option<u8> {
    match v.as_bytes() {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// `bits` brought into 8..=15.
const fn clamp_bits(bits: u8) -> u8 {
    if bits < MIN_WINDOW_BITS {
        MIN_WINDOW_BITS
    } else if bits > MAX_WINDOW_BITS {
        MAX_WINDOW_BITS
    } else {
        bits
    }
}

/// The decimal text of a window size (8..=15; other values are clamped).
fn bits_str(bits: u8) -> &'static str {
    const TEXT: [&str; 8] = ["8", "9", "10", "11", "12", "13", "14", "15"];
    TEXT[usize::from(clamp_bits(bits) - MIN_WINDOW_BITS)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(element: &str) -> Extension<'_> {
        let mut list = Extension::parse_list(element);
        let e = list.next().expect("an element");
        assert!(list.next().is_none());
        e
    }

    /// The server's answer to `offer` under `options`, as text.
    fn answer(options: &DeflateOptions, offer: &str) -> Option<String> {
        options.negotiate(&ext(offer)).map(|a| a.to_string())
    }

    const FULL: DeflateOptions = DeflateOptions::DEFAULT
        .with_server_max_window_bits(15)
        .with_client_max_window_bits(15);

    #[test]
    fn window_bits_are_8_to_15_without_leading_zeros() {
        // RFC 7692 §7.1.2.1: "This parameter has a decimal integer value without
        // leading zeroes between 8 to 15, inclusive".
        for (v, bits) in [("8", 8), ("9", 9), ("10", 10), ("12", 12), ("15", 15)] {
            assert_eq!(window_bits(v), Some(bits), "{v}");
        }
        for v in [
            "", "0", "7", "16", "08", "010", "015", "1", "+9", "-8", "9 ", "1O", "255", "256",
        ] {
            assert_eq!(window_bits(v), None, "{v:?}");
        }
    }

    #[test]
    fn every_valid_parameter_is_read() {
        let r = read_params(
            &ext("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits"),
            Side::Offer,
        )
        .unwrap();
        assert!(r.server_no_context_takeover && r.client_no_context_takeover);
        assert_eq!(r.server_max_window_bits, Some(10));
        assert_eq!(r.client_max_window_bits, Some(None));
        let r = read_params(&ext("permessage-deflate"), Side::Offer).unwrap();
        assert!(!r.server_no_context_takeover && !r.client_no_context_takeover);
        assert_eq!(
            (r.server_max_window_bits, r.client_max_window_bits),
            (None, None)
        );
        // Names are matched as Extension::param matches them.
        let r = read_params(
            &ext("permessage-deflate; Client_Max_Window_Bits=9"),
            Side::Offer,
        );
        assert_eq!(r.unwrap().client_max_window_bits, Some(Some(9)));
    }

    #[test]
    fn quoted_values_are_read_unquoted() {
        // RFC 6455 §9.1: "When using the quoted-string syntax variant, the value after
        // quoted-string unescaping MUST conform to the 'token' ABNF."
        let r = read_params(
            &ext(r#"permessage-deflate; server_max_window_bits="10"; client_max_window_bits="8""#),
            Side::Offer,
        )
        .unwrap();
        assert_eq!(r.server_max_window_bits, Some(10));
        assert_eq!(r.client_max_window_bits, Some(Some(8)));
        let r = read_params(
            &ext(r#"permessage-deflate; server_max_window_bits="010""#),
            Side::Offer,
        );
        assert_eq!(r.unwrap_err(), ParamError::InvalidValue);
    }

    #[test]
    fn offers_the_server_must_decline() {
        // RFC 7692 §5: "A server MUST decline an extension negotiation offer for this
        // extension if any of the following conditions are met:"
        let declined = [
            // "The negotiation offer contains an extension parameter not defined for
            // use in an offer."
            ("permessage-deflate; x_unknown", ParamError::Unknown),
            (
                "permessage-deflate; client_max_window_bits; mux",
                ParamError::Unknown,
            ),
            // "The negotiation offer contains an extension parameter with an invalid
            // value."
            (
                "permessage-deflate; server_max_window_bits=16",
                ParamError::InvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits=7",
                ParamError::InvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits=09",
                ParamError::InvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits",
                ParamError::InvalidValue,
            ),
            (
                "permessage-deflate; client_max_window_bits=0",
                ParamError::InvalidValue,
            ),
            (
                "permessage-deflate; client_max_window_bits=abc",
                ParamError::InvalidValue,
            ),
            // §7.1.1.1/§7.1.1.2: "This extension parameter has no value."
            (
                "permessage-deflate; server_no_context_takeover=1",
                ParamError::InvalidValue,
            ),
            (
                r#"permessage-deflate; client_no_context_takeover="x""#,
                ParamError::InvalidValue,
            ),
            // "The negotiation offer contains multiple extension parameters with the
            // same name."
            (
                "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
                ParamError::Duplicate,
            ),
            (
                "permessage-deflate; server_no_context_takeover; SERVER_NO_CONTEXT_TAKEOVER",
                ParamError::Duplicate,
            ),
        ];
        for (offer, why) in declined {
            assert_eq!(
                read_params(&ext(offer), Side::Offer).unwrap_err(),
                why,
                "{offer}"
            );
            assert_eq!(answer(&DeflateOptions::default(), offer), None, "{offer}");
        }
    }

    #[test]
    fn other_extensions_are_not_answered() {
        assert_eq!(
            answer(&DeflateOptions::default(), "x-webkit-deflate-frame"),
            None
        );
        assert_eq!(answer(&DeflateOptions::default(), "permessage-bzip2"), None);
        // Extension names are case-insensitive (RFC 6455 §9.1 tokens, as elsewhere here).
        assert!(answer(&DeflateOptions::default(), "PerMessage-Deflate").is_some());
    }

    #[test]
    fn a_bare_offer_gets_what_the_server_wants_for_itself() {
        // No parameters: the server may still limit its own window (§7.1.2.1: "A
        // server MAY include the "server_max_window_bits" extension parameter in an
        // extension negotiation response even if the extension negotiation offer
        // being accepted by the server didn't include [it]") but not the client's
        // (§7.1.2.2: "MUST NOT include the "client_max_window_bits" extension
        // parameter").
        let a = DeflateOptions::default()
            .negotiate(&ext("permessage-deflate"))
            .unwrap();
        assert_eq!(
            a.to_string(),
            "permessage-deflate; server_max_window_bits=12"
        );
        assert_eq!(
            a.params(),
            DeflateParams {
                server_max_window_bits: 12,
                ..DeflateParams::DEFAULT
            }
        );
        // With 15 bits for itself, the bare answer.
        let a = FULL.negotiate(&ext("permessage-deflate")).unwrap();
        assert_eq!(a.to_string(), "permessage-deflate");
        assert_eq!(a.params(), DeflateParams::DEFAULT);
    }

    #[test]
    fn server_max_window_bits_is_answered_at_most_as_offered() {
        // §7.1.2.1: "A server accepts an extension negotiation offer with this
        // parameter by including the "server_max_window_bits" extension parameter in
        // the extension negotiation response to send back to the client with the same
        // or smaller value as the offer."
        for (own, offered, answered) in [
            (15, 10, 10),
            (12, 10, 10),
            (9, 10, 9),
            (8, 8, 8),
            (15, 15, 15),
            (12, 15, 12),
        ] {
            let options = DeflateOptions::default().with_server_max_window_bits(own);
            let a = options
                .negotiate(&ext(&format!(
                    "permessage-deflate; server_max_window_bits={offered}"
                )))
                .unwrap();
            assert_eq!(
                a.params().server_max_window_bits,
                answered,
                "{own} {offered}"
            );
            // Included even at 15, since the offer asked for a limit.
            assert_eq!(
                a.to_string(),
                format!("permessage-deflate; server_max_window_bits={answered}")
            );
        }
    }

    #[test]
    fn client_max_window_bits_is_answered_only_when_offered() {
        // §7.1.2.2: "If a received extension negotiation offer doesn't have the
        // "client_max_window_bits" extension parameter, the corresponding extension
        // negotiation response to the offer MUST NOT include the
        // "client_max_window_bits" extension parameter."
        let options = DeflateOptions::default().with_client_max_window_bits(9);
        let a = options.negotiate(&ext("permessage-deflate")).unwrap();
        assert!(!a.to_string().contains("client_max_window_bits"));
        assert_eq!(a.params().client_max_window_bits, 15);
        // Offered bare: the server's choice.
        let a = options
            .negotiate(&ext("permessage-deflate; client_max_window_bits"))
            .unwrap();
        assert!(a.to_string().ends_with("; client_max_window_bits=9"));
        assert_eq!(a.params().client_max_window_bits, 9);
        // Offered with a value: "with a value equal to or smaller than the received
        // value".
        for (want, hint, answered) in [(9, 10, 9), (12, 10, 10), (15, 8, 8), (15, 15, 15)] {
            let options = DeflateOptions::default().with_client_max_window_bits(want);
            let a = options
                .negotiate(&ext(&format!(
                    "permessage-deflate; client_max_window_bits={hint}"
                )))
                .unwrap();
            assert_eq!(a.params().client_max_window_bits, answered);
            let text = a.to_string();
            if answered < 15 {
                assert!(
                    text.ends_with(&format!("; client_max_window_bits={answered}")),
                    "{text}"
                );
            } else {
                // 15 is what an absent parameter means.
                assert!(!text.contains("client_max_window_bits"), "{text}");
            }
        }
    }

    #[test]
    fn server_no_context_takeover_offered_must_be_answered() {
        // §7.1.1.1: "A server accepting an extension negotiation offer with this
        // parameter MUST include the "server_no_context_takeover" extension parameter
        // in the corresponding extension negotiation response to send back to the
        // client."
        let a = FULL
            .negotiate(&ext("permessage-deflate; server_no_context_takeover"))
            .unwrap();
        assert_eq!(
            a.to_string(),
            "permessage-deflate; server_no_context_takeover"
        );
        assert!(a.params().server_no_context_takeover);
    }

    #[test]
    fn the_server_may_add_no_context_takeover_on_its_own() {
        // §7.1.1.1: "A server MAY include the "server_no_context_takeover" extension
        // parameter in an extension negotiation response even if the extension
        // negotiation offer being accepted by the server didn't include [it]."
        // §7.1.1.2: "A server MAY include the "client_no_context_takeover" extension
        // parameter in an extension negotiation response."
        let options = FULL
            .with_server_no_context_takeover(true)
            .with_client_no_context_takeover(true);
        let a = options.negotiate(&ext("permessage-deflate")).unwrap();
        assert_eq!(
            a.to_string(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        assert_eq!(
            a.params(),
            DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                ..DeflateParams::DEFAULT
            }
        );
    }

    #[test]
    fn client_no_context_takeover_offered_is_echoed() {
        // §7.1.1.2: the server may "use the parameter to avoid taking over the LZ77
        // sliding window unnecessarily by including the "client_no_context_takeover"
        // extension parameter in the corresponding extension negotiation response".
        let a = FULL
            .negotiate(&ext("permessage-deflate; client_no_context_takeover"))
            .unwrap();
        assert_eq!(
            a.to_string(),
            "permessage-deflate; client_no_context_takeover"
        );
        assert!(a.params().client_no_context_takeover);
    }

    #[test]
    fn options_are_clamped_even_when_set_directly() {
        // Outside the crate the fields can be assigned (the type is non_exhaustive).
        let options = DeflateOptions {
            server_max_window_bits: 40,
            client_max_window_bits: 0,
            ..DeflateOptions::DEFAULT
        };
        let a = options
            .negotiate(&ext("permessage-deflate; client_max_window_bits"))
            .unwrap();
        assert_eq!(a.params().server_max_window_bits, 15);
        assert_eq!(a.params().client_max_window_bits, 8);
        assert_eq!(
            a.to_string(),
            "permessage-deflate; client_max_window_bits=8"
        );
    }

    #[test]
    fn the_longest_answer_fits_the_reserved_length() {
        let options = DeflateOptions::default()
            .with_server_no_context_takeover(true)
            .with_client_no_context_takeover(true);
        let a = options
            .negotiate(&ext(
                "permessage-deflate; server_max_window_bits=15; client_max_window_bits=10",
            ))
            .unwrap();
        let mut bytes = Vec::new();
        a.write_to(&mut bytes);
        assert_eq!(bytes, a.to_string().into_bytes());
        assert!(bytes.len() <= DeflateResponse::MAX_LEN, "{}", bytes.len());
    }

    #[test]
    fn the_client_offer_is_written_like_a_browser_s() {
        assert_eq!(
            offer(&DeflateParams::DEFAULT).unwrap(),
            "permessage-deflate; client_max_window_bits"
        );
        let all = DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 8,
            client_max_window_bits: 9,
        };
        assert_eq!(
            offer(&all).unwrap(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=9"
        );
        for bad in [7, 16, 0, 255] {
            let p = DeflateParams {
                server_max_window_bits: bad,
                ..DeflateParams::DEFAULT
            };
            assert_eq!(offer(&p), None);
            let p = DeflateParams {
                client_max_window_bits: bad,
                ..DeflateParams::DEFAULT
            };
            assert_eq!(offer(&p), None);
        }
    }

    fn check(answer: &str, offers: &str) -> Result<DeflateParams, Error> {
        check_response(&ext(answer), Extension::parse_list(offers))
    }

    #[test]
    fn answers_the_client_must_fail() {
        // RFC 7692 §5: "A client MUST _Fail the WebSocket Connection_ if the peer
        // server accepted an extension negotiation offer for this extension with an
        // extension negotiation response meeting any of the following conditions:"
        let offer = "permessage-deflate; client_max_window_bits";
        for (answer, err) in [
            // "The negotiation response contains an extension parameter not defined
            // for use in a response."
            ("permessage-deflate; foo", Error::DeflateUnknownParam),
            // "The negotiation response contains an extension parameter with an
            // invalid value."
            (
                "permessage-deflate; server_max_window_bits=16",
                Error::DeflateInvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits=7",
                Error::DeflateInvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits=012",
                Error::DeflateInvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits",
                Error::DeflateInvalidValue,
            ),
            (
                "permessage-deflate; client_max_window_bits=99",
                Error::DeflateInvalidValue,
            ),
            // §7.1.2.2: the answer's client_max_window_bits carries a value.
            (
                "permessage-deflate; client_max_window_bits",
                Error::DeflateInvalidValue,
            ),
            (
                "permessage-deflate; server_no_context_takeover=1",
                Error::DeflateInvalidValue,
            ),
            // "The negotiation response contains multiple extension parameters with
            // the same name."
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                Error::DeflateDuplicateParam,
            ),
            (
                "permessage-deflate; client_max_window_bits=9; client_max_window_bits=9",
                Error::DeflateDuplicateParam,
            ),
        ] {
            assert_eq!(check(answer, offer), Err(err), "{answer}");
        }
    }

    #[test]
    fn answers_that_fit_no_offer_are_refused() {
        // §5: "The client does not support the configuration that the response
        // represents."
        for (answer, offer) in [
            // §7.1.2.2: "MUST NOT include the "client_max_window_bits" extension
            // parameter" when the offer did not have it.
            (
                "permessage-deflate; client_max_window_bits=10",
                "permessage-deflate",
            ),
            // §7.1.2.1: "MUST have a value not greater than the value of the offer".
            (
                "permessage-deflate; server_max_window_bits=11",
                "permessage-deflate; server_max_window_bits=10",
            ),
            // ... and absent means 15.
            (
                "permessage-deflate",
                "permessage-deflate; server_max_window_bits=10",
            ),
            // §7.1.1.1: "MUST include the "server_no_context_takeover"".
            (
                "permessage-deflate",
                "permessage-deflate; server_no_context_takeover",
            ),
            // An offer the client wrote badly fits nothing.
            ("permessage-deflate", "permessage-deflate; x=1"),
        ] {
            assert_eq!(
                check(answer, offer),
                Err(Error::DeflateNotAsOffered),
                "{answer} / {offer}"
            );
        }
    }

    #[test]
    fn answers_within_the_offer_are_agreed() {
        let ok = |answer, offer| check(answer, offer).unwrap();
        // The server may answer a smaller window than asked for (§7.1.2.1: "the same or
        // smaller value"), and at 8 and 15.
        let p = ok(
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=10",
        );
        assert_eq!(p.server_max_window_bits, 8);
        let p = ok(
            "permessage-deflate; server_max_window_bits=15",
            "permessage-deflate; server_max_window_bits=15",
        );
        assert_eq!(p, DeflateParams::DEFAULT);
        // ... and add no-context-takeover on its own (§7.1.1.1, §7.1.1.2).
        let p = ok(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            "permessage-deflate",
        );
        assert!(p.server_no_context_takeover && p.client_no_context_takeover);
        // A client hint holds whatever the server answered (§7.1.2.2: "the client is
        // not going to use an LZ77 sliding window size greater than the size specified
        // by the value in the extension negotiation offer"; §7.1.1.2 likewise).
        let p = ok(
            "permessage-deflate; client_max_window_bits=12",
            "permessage-deflate; client_no_context_takeover; client_max_window_bits=10",
        );
        assert_eq!(p.client_max_window_bits, 10);
        assert!(p.client_no_context_takeover);
        let p = ok(
            "permessage-deflate",
            "permessage-deflate; client_max_window_bits=9",
        );
        assert_eq!(p.client_max_window_bits, 9);
        // Quoted values in an answer.
        let p = ok(
            r#"permessage-deflate; client_max_window_bits="11""#,
            "permessage-deflate; client_max_window_bits",
        );
        assert_eq!(p.client_max_window_bits, 11);
    }

    #[test]
    fn the_answer_may_fit_any_of_several_offers() {
        // The first offer asks for a small server window; an answer without one fits
        // only the second, whose hints then apply.
        let offers = "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10, \
                      x-other, permessage-deflate; client_max_window_bits=12";
        let p = check("permessage-deflate", offers).unwrap();
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (15, 12)
        );
        let p = check("permessage-deflate; server_max_window_bits=9", offers).unwrap();
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (9, 10)
        );
    }
}
