//! The SIP wire format, in one layer (ARCHITECTURE.md, "Parsing").
//!
//! It is this crate's own because the SIP parsing crate once used, rsip
//! 0.4, ignores Content-Length, does not expand compact header names,
//! rejects extension methods, mis-reads SIP URIs whose user part has a dot
//! (`sip:a.g.bell@example.com` comes back as a host) and cannot read `tel:`
//! URIs or IPv6 hosts, and renders bodies through a lossy UTF-8
//! conversion. So this layer owns:
//! - [`framing`]: message boundaries on streams (Content-Length, RFC 3261
//!   18.3) and in datagrams (one message, a body cut to Content-Length or
//!   rejected when shorter);
//! - [`parse`]: start line, header unfolding and compact forms (RFC 3261
//!   7.3), byte-exact bodies;
//! - [`validate`]: the request checks RFC 3261 8.2 and RFC 4475 ask of a
//!   UAS (mandatory and single-valued headers, scalar ranges, name-addr
//!   syntax, CSeq method);
//! - [`render`]: responses and requests back to bytes.
//!
//! The top Via ([`Request::top_via`]) and the reason phrases
//! ([`render::reason_phrase`]) are read and written here too: no SIP
//! parsing crate is used (README, "SIP", says why).

pub mod framing;
pub mod parse;
pub mod render;
pub mod validate;

use bytes::Bytes;

pub use parse::{parse_message, ParseError};

/// Header fields in message order, names in their full canonical form
/// (`v` becomes `Via`), values unfolded and trimmed (RFC 3261 7.3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No header fields.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Appends a field (name as given).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The first field named `name` (case-insensitive), if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every field named `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every comma-separated value of every field named `name` (commas in
    /// quoted strings and `<...>` do not split), trimmed, in order.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.all(name).flat_map(split_commas).collect()
    }

    /// How many fields are named `name`.
    pub fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }

    /// Replaces the value of the first field named `name`; `false` if
    /// there is none.
    pub fn set_first(&mut self, name: &str, value: impl Into<String>) -> bool {
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, v)) => {
                *v = value.into();
                true
            }
            None => false,
        }
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Splits a header value at commas outside quoted strings and angle
/// brackets; empty elements are kept (as empty strings) so that a
/// validator can reject them.
pub fn split_commas(value: &str) -> Vec<String> {
    let (mut out, mut current) = (Vec::new(), String::new());
    let (mut quoted, mut escaped, mut angle) = (false, false, false);
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current.trim().to_string());
    out
}

/// A SIP request as received (RFC 3261 7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method token as sent (extension methods included).
    pub method: String,
    /// The Request-URI, unparsed.
    pub uri: String,
    /// Header fields.
    pub headers: Headers,
    /// The body, byte-exact, exactly Content-Length bytes.
    pub body: Bytes,
}

/// A SIP response (RFC 3261 7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100 to 699.
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields.
    pub headers: Headers,
    /// The body.
    pub body: Bytes,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// The top Via of a message (RFC 3261 20.42), read by [`Request::top_via`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopVia {
    /// The `branch` parameter, if any.
    pub branch: Option<String>,
    /// `sent-by` as written (`host[:port]`).
    pub sent_by: String,
    /// The transport token (`UDP`, `TCP`, `TLS`, ...).
    pub transport: String,
}

impl Request {
    /// The top Via (RFC 3261 8.2.6.2, 17.2.3), if it can be read.
    pub fn top_via(&self) -> Option<TopVia> {
        top_via(&self.headers)
    }

    /// The CSeq number and method (RFC 3261 8.1.1.5), if well-formed.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        let v = self.headers.get("CSeq")?;
        let mut parts = v.split_ascii_whitespace();
        let n = parts.next()?.parse().ok()?;
        let m = parts.next()?;
        parts.next().is_none().then_some((n, m))
    }
}

impl Response {
    /// The top Via, where a client transaction's branch is.
    pub fn top_via(&self) -> Option<TopVia> {
        top_via(&self.headers)
    }
}

/// A Via value with the optional whitespace around the slashes of its
/// sent-protocol removed (`SIP / 2.0 / UDP` is `SIP/2.0/UDP`, RFC 3261
/// 25.1 `SLASH = SWS "/" SWS`).
pub fn collapse_slashes(via: &str) -> String {
    let mut out = String::with_capacity(via.len());
    let mut chars = via.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            let mut ws = String::from(c);
            while let Some(w) = chars.next_if(|w| w.is_whitespace()) {
                ws.push(w);
            }
            if chars.peek() != Some(&'/') && !out.ends_with('/') {
                out.push_str(&ws);
            }
        } else {
            out.push(c);
            if c == '/' {
                while chars.next_if(|w| w.is_whitespace()).is_some() {}
            }
        }
    }
    out
}

/// The first value of the first Via header (RFC 3261 20.42, 25.1:
/// `sent-protocol LWS sent-by *( SEMI via-params )`), read by this layer:
/// the transport is the sent-protocol's last token, the sent-by is the
/// token after it (an IPv6 reference kept in its brackets), and the branch
/// is the `branch` parameter (name case-insensitive, RFC 3261 7.3.1).
/// `None` when there is no Via or no sent-by.
fn top_via(headers: &Headers) -> Option<TopVia> {
    let first = collapse_slashes(&headers.values("Via").into_iter().next()?);
    let (protocol, rest) = first.split_once(char::is_whitespace)?;
    let sent_by = rest.trim_start().split(';').next()?.trim();
    if sent_by.is_empty() {
        return None;
    }
    let transport = protocol
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let branch = param(&first, "branch").filter(|b| !b.is_empty());
    Some(TopVia {
        branch,
        sent_by: sent_by.to_string(),
        transport,
    })
}

/// The top Via value of a request received from `source`, with what a
/// server adds to it (RFC 3261 18.2.1, RFC 3581 4): `received=` with the
/// source address when the sent-by host is not that address (or when the
/// Via asks for `rport`), and `rport=` with the source port when the Via
/// has an empty `rport`. A parameter already carrying a value is
/// replaced. `via` is one Via value (`SIP/2.0/UDP host:port;params`).
pub fn stamp_via(via: &str, source: std::net::SocketAddr) -> String {
    let mut parts = via.split(';');
    let head = parts.next().unwrap_or_default().trim_end().to_string();
    let params: Vec<&str> = parts.map(str::trim).collect();
    let name_of = |p: &str| {
        p.split('=')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    let rport = params.iter().any(|p| name_of(p) == "rport");
    let sent_host = head
        .split_whitespace()
        .nth(1)
        .map(|sent_by| match sent_by.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => sent_by.split(':').next().unwrap_or_default(),
        })
        .and_then(|h| h.parse::<std::net::IpAddr>().ok());
    let received = rport || sent_host != Some(source.ip());
    let mut out = head;
    for p in params {
        match name_of(p).as_str() {
            "received" if received => {}
            "rport" => {}
            _ => {
                out.push(';');
                out.push_str(p);
            }
        }
    }
    if received {
        out.push_str(&format!(";received={}", source.ip()));
    }
    if rport {
        out.push_str(&format!(";rport={}", source.port()));
    }
    out
}

/// The value of the `;name=value` parameter of a header value (outside
/// any `<...>`), if present.
pub fn param(value: &str, name: &str) -> Option<String> {
    let after_uri = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    after_uri.split(';').skip(1).find_map(|p| {
        let (n, v) = p.split_once('=').unwrap_or((p, ""));
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_split_outside_quotes_and_brackets() {
        assert_eq!(
            split_commas(r#""Bell, A" <sip:a@b;x=1,2>, <sip:c@d>"#),
            vec![r#""Bell, A" <sip:a@b;x=1,2>"#, "<sip:c@d>"]
        );
        assert_eq!(split_commas("a,,b"), vec!["a", "", "b"]);
    }

    fn via(value: &str) -> Option<TopVia> {
        let mut headers = Headers::new();
        headers.push("Via", value);
        top_via(&headers)
    }

    #[test]
    fn top_via_reads_transport_sent_by_and_branch() {
        assert_eq!(
            via("SIP/2.0/udp pc33.atlanta.com:5066;received=192.0.2.1;branch=z9hG4bK776asdhds"),
            Some(TopVia {
                branch: Some("z9hG4bK776asdhds".into()),
                sent_by: "pc33.atlanta.com:5066".into(),
                transport: "UDP".into(),
            })
        );
        // RFC 4475 3.1.1.1 style whitespace, an IPv6 sent-by, a parameter
        // name in capitals, and the first of two comma-separated values.
        assert_eq!(
            via("SIP / 2.0 / TCP [2001:db8::9]:5060 ; BRANCH = z9hG4bKx ; rport, SIP/2.0/UDP other;branch=no"),
            Some(TopVia {
                branch: Some("z9hG4bKx".into()),
                sent_by: "[2001:db8::9]:5060".into(),
                transport: "TCP".into(),
            })
        );
        assert_eq!(via("SIP/2.0/UDP host").and_then(|v| v.branch), None);
        assert_eq!(via("SIP/2.0/UDP"), None);
        assert_eq!(top_via(&Headers::new()), None);
    }

    #[test]
    fn via_slashes_lose_their_whitespace() {
        assert_eq!(
            collapse_slashes("SIP  / 2.0  / TCP     spindle.example.com   ; branch = x"),
            "SIP/2.0/TCP     spindle.example.com   ; branch = x"
        );
    }

    #[test]
    fn via_gets_received_and_rport() {
        let from: std::net::SocketAddr = "192.0.2.4:5062".parse().unwrap();
        // RFC 3261 18.2.1's example: sent-by names a host, not the source.
        assert_eq!(
            stamp_via("SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bK1", from),
            "SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bK1;received=192.0.2.4"
        );
        // RFC 3581 4's example: rport asked, received added even if equal.
        assert_eq!(
            stamp_via("SIP/2.0/UDP 192.0.2.4:5060;rport;branch=z9hG4bK2", from),
            "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK2;received=192.0.2.4;rport=5062"
        );
        // The source itself, no rport: unchanged.
        assert_eq!(
            stamp_via("SIP/2.0/UDP 192.0.2.4:5062;branch=z9hG4bK3", from),
            "SIP/2.0/UDP 192.0.2.4:5062;branch=z9hG4bK3"
        );
        let v6: std::net::SocketAddr = "[2001:db8::9]:5060".parse().unwrap();
        assert_eq!(
            stamp_via("SIP/2.0/TCP [2001:db8::9];branch=z9hG4bK4", v6),
            "SIP/2.0/TCP [2001:db8::9];branch=z9hG4bK4"
        );
    }

    #[test]
    fn params_are_read_after_the_uri() {
        assert_eq!(
            param("<sip:a@b;tag=no>;tag=yes", "tag").as_deref(),
            Some("yes")
        );
        assert_eq!(param("sip:a@b;tag=x", "TAG").as_deref(), Some("x"));
        assert_eq!(param("<sip:a@b>", "tag"), None);
    }
}
