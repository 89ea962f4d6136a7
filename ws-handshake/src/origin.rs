//! Which web pages may open a WebSocket: an `Origin` check against cross-site WebSocket
//! hijacking (RFC 6455 §10.2, RFC 6454).

use crate::{Error, Request};

/// A rule for the `Origin` header, so a server can refuse other sites' pages (403)
/// without writing header code.
///
/// Browsers send `Origin` with every WebSocket handshake and scripts cannot forge it, but
/// they also send the user's cookies to any site: without this check, any page the user
/// visits can open an authenticated WebSocket to the server (cross-site WebSocket
/// hijacking). Non-browser clients may send no `Origin` at all; by default that is
/// allowed (they are not a browser acting for a user), and
/// [`require_origin`](OriginPolicy::require_origin) refuses it.
///
/// ```
/// use ws_handshake::{parse_request, Error, Limits, OriginPolicy};
///
/// let head = |origin: &str| format!(
///     "GET / HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\n\
///      Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///      Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n");
/// let request = |origin: &str| {
///     parse_request(head(origin).as_bytes(), &Limits::default()).unwrap().unwrap().0
/// };
///
/// let policy = OriginPolicy::same_host();
/// assert_eq!(policy.check(&request("https://chat.example.com")), Ok(()));
/// let refused = policy.check(&request("https://evil.example")).unwrap_err();
/// assert_eq!(refused, Error::OriginNotAllowed);
/// assert_eq!(refused.status(), 403);
///
/// let policy = OriginPolicy::allow(["https://app.example.com"]);
/// assert_eq!(policy.check(&request("https://app.example.com")), Ok(()));
/// assert!(policy.check(&request("https://chat.example.com")).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPolicy {
    rule: Rule,
    require: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Any,
    SameHost,
    List(Vec<String>),
}

impl OriginPolicy {
    /// Every origin is allowed (for servers whose clients are not browsers, or that
    /// authenticate without cookies).
    pub fn any() -> Self {
        OriginPolicy {
            rule: Rule::Any,
            require: false,
        }
    }

    /// The origin's host and port must be the request's `Host`: only pages served by
    /// this same host may connect. A port left out on either side is the scheme's
    /// default (80 for http/ws, 443 for https/wss).
    pub fn same_host() -> Self {
        OriginPolicy {
            rule: Rule::SameHost,
            require: false,
        }
    }

    /// The origin must be one of `origins`, each written as browsers serialise it
    /// (`https://app.example.com`, `http://localhost:3000`, no path, no trailing `/`),
    /// compared ASCII case-insensitively.
    pub fn allow<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        OriginPolicy {
            rule: Rule::List(origins.into_iter().map(Into::into).collect()),
            require: false,
        }
    }

    /// Refuses requests without an `Origin` header too ([`Error::MissingOrigin`]).
    pub fn require_origin(mut self) -> Self {
        self.require = true;
        self
    }

    /// `Ok(())` if `request` may connect, else [`Error::OriginNotAllowed`] or
    /// [`Error::MissingOrigin`], both answered with 403 (RFC 6455 §4.2.2: "If the server
    /// does not wish to accept this connection, it MUST return an appropriate HTTP error
    /// code (e.g., 403 Forbidden)").
    pub fn check(&self, request: &Request) -> Result<(), Error> {
        let Some(origin) = request.origin() else {
            return if self.require {
                Err(Error::MissingOrigin)
            } else {
                Ok(())
            };
        };
        let allowed = match &self.rule {
            Rule::Any => true,
            Rule::SameHost => same_host(origin, request.host()),
            Rule::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::OriginNotAllowed)
        }
    }
}

/// Whether the serialised origin `scheme://host[:port]` (RFC 6454 §6.2) names the same
/// host and port as the `Host` header `host[:port]`. The opaque origin `null` never does.
fn same_host(origin: &str, host_header: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return false,
    };
    let (Some((o_host, o_port)), Some((h_host, h_port))) =
        (split_authority(authority), split_authority(host_header))
    else {
        return false;
    };
    if !o_host.eq_ignore_ascii_case(h_host) {
        return false;
    }
    o_port.unwrap_or(default_port) == h_port.unwrap_or(default_port)
}

/// `host[:port]`, with `[v6]` hosts; `None` if the port is not a number or the host is
/// empty.
pub(crate) fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let rest = &authority[end..];
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':')?),
        };
        (&authority[..end], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    match port {
        None => Some((host, None)),
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some((host, Some(p.parse().ok()?)))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_host_compares_host_and_port() {
        assert!(same_host("https://a.example", "a.example"));
        assert!(same_host("https://A.example", "a.EXAMPLE"));
        assert!(same_host("https://a.example", "a.example:443"));
        assert!(same_host("http://a.example:80", "a.example"));
        assert!(same_host("http://a.example:8080", "a.example:8080"));
        assert!(same_host("http://[::1]:8080", "[::1]:8080"));
        assert!(!same_host("http://a.example:8080", "a.example"));
        assert!(!same_host("https://a.example", "a.example:8443"));
        assert!(!same_host("https://a.example.evil", "a.example"));
        assert!(!same_host("https://evil", "a.example"));
        assert!(!same_host("null", "a.example"));
        assert!(!same_host("file://a.example", "a.example"));
        assert!(!same_host("http://a.example:x", "a.example"));
        assert!(!same_host("http://[::1]x", "[::1]"));
        assert!(!same_host("http://", ""));
    }
}
