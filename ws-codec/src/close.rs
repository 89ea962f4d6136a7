//! Close codes (RFC 6455 §7.4) and close frame payloads (§5.5.1): parse and build.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::Error;
use crate::utf8::Utf8Bytes;

/// A close status code: an open set of `u16` values with the registered ones named.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: going away (server shutting down, page navigated away).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: data of a type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1004: reserved, never on the wire.
    pub const RESERVED: CloseCode = CloseCode(1004);
    /// 1005: no status code was present; reported locally, never on the wire.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: closed without a close frame; reported locally, never on the wire.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with the message type (e.g. non-UTF-8 text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: unexpected condition on the server.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: service restart (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: TLS handshake failure; reported locally, never on the wire.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may be sent in a close frame.
    ///
    /// RFC 6455 §7.4.1: 1004 is reserved; 1005, 1006 and 1015 "MUST NOT be set as a status
    /// code in a Close control frame by an endpoint". §7.4.2: 0-999 are not used, 1000-2999
    /// are reserved for the protocol (1012-1014 assigned since by IANA), 3000-4999 are for
    /// libraries, frameworks and applications.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// The registered name, for the codes this crate names.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "normal",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1004 => "reserved",
            1005 => "no status",
            1006 => "abnormal closure",
            1007 => "invalid payload",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake",
            _ => return None,
        })
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({self})")
    }
}

/// Longest close reason: a control payload holds 125 bytes, 2 of them the code (§5.5).
pub const MAX_REASON_LEN: usize = 123;

/// The code and reason of a close frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code ([`CloseCode::NO_STATUS`] when the frame carried none).
    pub code: CloseCode,
    /// The reason, possibly empty.
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// Parses a close frame's payload (RFC 6455 §5.5.1): empty means no code (reported as
    /// 1005), otherwise a 2-byte code that must be valid on the wire and a UTF-8 reason.
    pub fn parse(payload: Bytes) -> Result<CloseFrame, Error> {
        match payload.len() {
            0 => Ok(CloseFrame {
                code: CloseCode::NO_STATUS,
                reason: Utf8Bytes::default(),
            }),
            // §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
            // unsigned integer ... representing a status code".
            1 => Err(Error::CloseFrameTooShort),
            _ => {
                let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                if !code.is_valid_on_wire() {
                    return Err(Error::InvalidCloseCode(code.0));
                }
                // §5.5.1: the body after the code is a UTF-8 reason; §8.1: invalid UTF-8
                // fails the connection.
                let reason = Utf8Bytes::try_from(payload.slice(2..))
                    .map_err(|_| Error::InvalidCloseReason)?;
                Ok(CloseFrame { code, reason })
            }
        }
    }

    /// Appends a close payload to `dst`: nothing for [`CloseCode::NO_STATUS`], otherwise
    /// the code and the reason cut to 123 bytes on a character boundary.
    pub fn encode_payload(code: CloseCode, reason: &str, dst: &mut BytesMut) {
        if code == CloseCode::NO_STATUS {
            return;
        }
        let reason = truncate_reason(reason);
        dst.reserve(2 + reason.len());
        dst.put_u16(code.0);
        dst.put_slice(reason.as_bytes());
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.reason)
        }
    }
}

/// `reason` cut to at most [`MAX_REASON_LEN`] bytes, on a character boundary.
pub fn truncate_reason(reason: &str) -> &str {
    crate::utf8::prefix(reason, MAX_REASON_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7_4_validity_of_every_code() {
        for code in 0..=u16::MAX {
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode(code).is_valid_on_wire(), valid, "{code}");
        }
        for never in [1004, 1005, 1006, 1015] {
            assert!(!CloseCode(never).is_valid_on_wire());
        }
    }

    #[test]
    fn rfc_5_5_1_empty_payload_is_no_status() {
        let close = CloseFrame::parse(Bytes::new()).unwrap();
        assert_eq!(
            (close.code, close.reason.as_str()),
            (CloseCode::NO_STATUS, "")
        );
    }

    #[test]
    fn rfc_5_5_1_one_byte_payload_is_a_protocol_error() {
        let err = CloseFrame::parse(Bytes::from_static(&[3])).unwrap_err();
        assert_eq!(
            (err.clone(), err.close_code().0),
            (Error::CloseFrameTooShort, 1002)
        );
    }

    #[test]
    fn rfc_7_4_invalid_code_is_a_protocol_error() {
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let err = CloseFrame::parse(Bytes::copy_from_slice(&code.to_be_bytes())).unwrap_err();
            assert_eq!(
                (err.clone(), err.close_code().0),
                (Error::InvalidCloseCode(code), 1002)
            );
        }
    }

    #[test]
    fn rfc_8_1_reason_must_be_utf8() {
        let err = CloseFrame::parse(Bytes::from_static(b"\x03\xe8ok\xff")).unwrap_err();
        assert_eq!(
            (err.clone(), err.close_code().0),
            (Error::InvalidCloseReason, 1007)
        );
        let close = CloseFrame::parse(Bytes::from_static(b"\x0f\xa0bye")).unwrap();
        assert_eq!((close.code.0, close.reason.as_str()), (4000, "bye"));
    }

    #[test]
    fn reason_is_cut_to_123_bytes_on_a_char_boundary() {
        let long = "é".repeat(100); // 200 bytes, 2 per char
        let cut = truncate_reason(&long);
        assert_eq!(cut.len(), 122);
        let mut dst = BytesMut::new();
        CloseFrame::encode_payload(CloseCode::NORMAL, &long, &mut dst);
        assert_eq!(dst.len(), 124);
        assert!(dst.len() <= 125);
        assert_eq!(truncate_reason(&"a".repeat(200)).len(), 123);
        let mut dst = BytesMut::new();
        CloseFrame::encode_payload(CloseCode::NO_STATUS, "ignored", &mut dst);
        assert!(dst.is_empty());
    }

    #[test]
    fn display_names_the_code() {
        assert_eq!(CloseCode::NORMAL.to_string(), "1000 (normal)");
        assert_eq!(CloseCode(4001).to_string(), "4001");
    }
}
