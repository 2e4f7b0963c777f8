//! SIP, SIPS (RFC 3261 19.1) and tel (RFC 3966) URIs: what the store
//! needs of them, the account address of a served user and the place to
//! send a request. (rsip 0.4's URI reader cannot be used for this: it
//! reads `sip:a.g.bell@example.com` as a host and refuses `tel:` URIs and
//! IPv6 hosts.)

use std::net::{IpAddr, SocketAddr};

use percent_encoding::percent_decode_str;

/// A URI scheme the store serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:`
    Tel,
}

/// A parsed SIP, SIPS or tel URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// The scheme.
    pub scheme: Scheme,
    /// The user part, percent-decoded (the number of a tel URI).
    pub user: Option<String>,
    /// The host, lowercased (IPv6 without brackets); empty for tel.
    pub host: String,
    /// The port, if given.
    pub port: Option<u16>,
    /// URI parameters (`;name[=value]`), names lowercased.
    pub params: Vec<(String, Option<String>)>,
}

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// A scheme other than sip, sips and tel (RFC 3261 8.2.2.1: 416).
    #[error("unsupported URI scheme {0:?}")]
    UnsupportedScheme(String),
    /// Not a well-formed URI of its scheme.
    #[error("malformed URI")]
    Malformed,
}

/// The scheme of `uri` (the text before the first `:`), lowercased.
pub fn scheme_of(uri: &str) -> String {
    uri.split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The URI of a name-addr or addr-spec header value (`"A" <sip:a@b>;tag=1`
/// gives `sip:a@b`; `sip:a@b;tag=1` gives `sip:a@b`, the parameters
/// belonging to the header).
pub fn uri_of(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(start), Some(end)) if start < end => &value[start + 1..end],
        _ => value.trim().split(';').next().unwrap_or_default(),
    }
}

impl SipUri {
    /// Parses a sip, sips or tel URI.
    pub fn parse(uri: &str) -> Result<SipUri, UriError> {
        let (scheme, rest) = uri.split_once(':').ok_or(UriError::Malformed)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "sip" => Scheme::Sip,
            "sips" => Scheme::Sips,
            "tel" => Scheme::Tel,
            other => return Err(UriError::UnsupportedScheme(other.to_string())),
        };
        let rest = rest.split('?').next().unwrap_or_default();
        if scheme == Scheme::Tel {
            let mut parts = rest.split(';');
            let number = tel_number(parts.next().unwrap_or_default()).ok_or(UriError::Malformed)?;
            return Ok(SipUri {
                scheme,
                user: Some(number),
                host: String::new(),
                port: None,
                params: parts.map(param).collect(),
            });
        }
        let (userinfo, hostpart) = match rest.rfind('@') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        let mut parts = hostpart.split(';');
        let hostport = parts.next().unwrap_or_default();
        let (host, port) = split_host_port(hostport)?;
        let user = userinfo
            .map(|u| u.split(':').next().unwrap_or_default())
            .map(|u| percent_decode_str(u).decode_utf8_lossy().into_owned());
        Ok(SipUri {
            scheme,
            user,
            host,
            port,
            params: parts.filter(|p| !p.is_empty()).map(param).collect(),
        })
    }

    /// The account address this URI names: `sip:user@host` (no port, no
    /// parameters, host lowercased; `sips:` read as `sip:`), or
    /// `tel:+number` without visual separators (RFC 3966 5.1.1). A SIP URI
    /// with `user=phone` whose user part is a global number
    /// (`sip:+1-555-123-4567@example.com;user=phone`, as IMS elements
    /// write it) names the tel account of that number (RFC 3261 19.1.6:
    /// the user part is a telephone-subscriber; its own parameters after
    /// `;` are dropped). This is the form `cpm-store account add
    /// --address` stores.
    pub fn address(&self) -> String {
        let phone = match (&self.scheme, self.param("user"), &self.user) {
            (Scheme::Sip | Scheme::Sips, Some(u), Some(user))
                if u.eq_ignore_ascii_case("phone") =>
            {
                user.split(';')
                    .next()
                    .filter(|n| n.starts_with('+'))
                    .and_then(tel_number)
            }
            _ => None,
        };
        if let Some(number) = phone {
            return format!("tel:{number}");
        }
        match self.scheme {
            Scheme::Tel => format!("tel:{}", self.user.as_deref().unwrap_or_default()),
            _ => match &self.user {
                Some(u) => format!("sip:{u}@{}", self.host),
                None => format!("sip:{}", self.host),
            },
        }
    }

    /// A URI parameter's value (`transport`, `maddr`...).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The socket address of a URI whose host is an IP address (the
    /// Contact of a network element); the port defaults to 5060 (5061 for
    /// sips). `None` for a domain name: the store resolves no DNS (RFC
    /// 3263 is not implemented).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip: IpAddr = self.host.parse().ok()?;
        let default = if self.scheme == Scheme::Sips {
            5061
        } else {
            5060
        };
        Some(SocketAddr::new(ip, self.port.unwrap_or(default)))
    }
}

/// A telephone number without its visual separators (`-`, `.`, `(`,
/// `)`, RFC 3966 5.1.1): an optional `+`, then hex digits, `*` and `#`;
/// `None` for anything else.
fn tel_number(text: &str) -> Option<String> {
    let number: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
        .collect();
    let digits = number.strip_prefix('+').unwrap_or(&number);
    (!digits.is_empty()
        && digits
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#'))
    .then_some(number)
}

fn param(p: &str) -> (String, Option<String>) {
    match p.split_once('=') {
        Some((n, v)) => (n.to_ascii_lowercase(), Some(v.to_string())),
        None => (p.to_ascii_lowercase(), None),
    }
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), UriError> {
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let end = v6.find(']').ok_or(UriError::Malformed)?;
        let after = &v6[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(UriError::Malformed),
        };
        (&v6[..end], port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
    {
        return Err(UriError::Malformed);
    }
    let port = match port {
        Some(p) => Some(p.parse().map_err(|_| UriError::Malformed)?),
        None => None,
    };
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_give_account_addresses_and_contacts() {
        let u = SipUri::parse("sip:a.g.bell@Example.COM:5070;transport=tcp").unwrap();
        assert_eq!(u.address(), "sip:a.g.bell@example.com");
        assert_eq!(u.param("transport"), Some("tcp"));
        let u = SipUri::parse("sips:bob@[::1]:5061").unwrap();
        assert_eq!(u.socket_addr(), Some("[::1]:5061".parse().unwrap()));
        let u = SipUri::parse("tel:+1-555-123-4567;phone-context=x").unwrap();
        assert_eq!(u.address(), "tel:+15551234567");
        let u = SipUri::parse("sip:sips%3Auser%40example.com@example.net").unwrap();
        assert_eq!(u.user.as_deref(), Some("sips:user@example.com"));
        assert_eq!(
            SipUri::parse("soap.beep://192.0.2.103:3002"),
            Err(UriError::UnsupportedScheme("soap.beep".into()))
        );
        assert_eq!(uri_of("\"A, B\" <sip:a@b>;tag=1"), "sip:a@b");
        // RFC 3261 19.1.6: the SIP form of a telephone number.
        for phone in [
            "sip:+15551234567@example.com;user=phone",
            "sip:+1-555-123-4567@example.com;user=phone",
            "sips:+1.555.123.4567;isub=1@example.com;user=PHONE",
        ] {
            assert_eq!(SipUri::parse(phone).unwrap().address(), "tel:+15551234567");
        }
        let plain = SipUri::parse("sip:+15551234567@example.com").unwrap();
        assert_eq!(plain.address(), "sip:+15551234567@example.com");
        assert_eq!(uri_of("sip:a@b;tag=1"), "sip:a@b");
    }
}
