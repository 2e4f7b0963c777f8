//! SIP message syntax (RFC 3261 section 7 and 25): the start line, header
//! fields with folding and compact names, and the body as Content-Length
//! bounds it.

use bytes::Bytes;

use super::{Headers, Message, Request, Response};

/// Why a message could not be read, with what a UAS needs to answer it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {reason}")]
pub struct ParseError {
    /// The status to answer with (400, 505 or 513); only meaningful for a
    /// request whose headers could be read.
    pub status: u16,
    /// What was wrong, for the reason phrase and the log.
    pub reason: String,
    /// Whether the start line looked like a request.
    pub is_request: bool,
    /// The header fields, when they could be read: a response can then
    /// be built from Via, From, To, Call-ID and CSeq (RFC 3261 8.2.6).
    pub headers: Option<Headers>,
}

impl ParseError {
    fn new(status: u16, reason: impl Into<String>, is_request: bool) -> ParseError {
        ParseError {
            status,
            reason: reason.into(),
            is_request,
            headers: None,
        }
    }
}

/// RFC 3261 7.3.3 compact forms, and those of later RFCs (3265 `o`/`u`,
/// 3515 `r`, 3892 `b`, 4028 `x`, 3841 `a`/`j`/`d`, 4474 `y`/`n`).
const COMPACT_FORMS: &[(&str, &str)] = &[
    ("a", "Accept-Contact"),
    ("b", "Referred-By"),
    ("c", "Content-Type"),
    ("d", "Request-Disposition"),
    ("e", "Content-Encoding"),
    ("f", "From"),
    ("i", "Call-ID"),
    ("j", "Reject-Contact"),
    ("k", "Supported"),
    ("l", "Content-Length"),
    ("m", "Contact"),
    ("n", "Identity-Info"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("s", "Subject"),
    ("t", "To"),
    ("u", "Allow-Events"),
    ("v", "Via"),
    ("x", "Session-Expires"),
    ("y", "Identity"),
];

/// The full name of a header field given in compact form, else `name`.
pub fn expand_compact(name: &str) -> &str {
    COMPACT_FORMS
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(name))
        .map_or(name, |(_, full)| full)
}

/// Whether `c` may appear in a `token` (RFC 3261 25.1).
pub fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

/// Whether `s` is a non-empty `token`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Where the header block ends: the index just past the empty line, if
/// the message has one.
pub fn header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Reads one whole message: a datagram, or a frame a stream framer cut.
///
/// The body is what follows the empty line, cut to Content-Length when
/// longer (RFC 3261 18.3); a shorter body, a negative or malformed
/// Content-Length, a start line or header field that breaks the grammar,
/// or a non-UTF-8 header are errors. An unknown SIP version is a 505.
pub fn parse_message(raw: Bytes) -> Result<Message, ParseError> {
    let looks_like_response = raw.starts_with(b"SIP/");
    let is_request = !looks_like_response;
    let end = header_end(&raw)
        .ok_or_else(|| ParseError::new(400, "No empty line after the headers", is_request))?;
    let head = std::str::from_utf8(&raw[..end - 4])
        .map_err(|_| ParseError::new(400, "Header bytes are not UTF-8", is_request))?;
    let (start_line, header_block) = head.split_once("\r\n").unwrap_or((head, ""));
    let headers = parse_headers(header_block).map_err(|reason| ParseError {
        status: 400,
        reason,
        is_request,
        headers: None,
    })?;
    let with_headers = |status: u16, reason: String| ParseError {
        status,
        reason,
        is_request,
        headers: Some(headers.clone()),
    };
    let body = body(&raw, end, &headers).map_err(|r| with_headers(400, r))?;
    if looks_like_response {
        let (code, reason) = parse_status_line(start_line).map_err(|r| with_headers(400, r))?;
        Ok(Message::Response(Response {
            code,
            reason,
            headers,
            body,
        }))
    } else {
        let (method, uri) = parse_request_line(start_line).map_err(|(s, r)| with_headers(s, r))?;
        Ok(Message::Request(Request {
            method,
            uri,
            headers,
            body,
        }))
    }
}

/// `Method SP Request-URI SP SIP-Version` (RFC 3261 7.1, 25.1): single
/// spaces, a token method, a URI with no whitespace and no `<>`.
fn parse_request_line(line: &str) -> Result<(String, String), (u16, String)> {
    let bad = |r: &str| (400, r.to_string());
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, uri, version] = parts[..] else {
        return Err(bad("Malformed Request-Line"));
    };
    if !is_token(method) {
        return Err(bad("Malformed method"));
    }
    if uri.is_empty()
        || uri.starts_with('<')
        || uri
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        || !uri.contains(':')
    {
        return Err(bad("Malformed Request-URI"));
    }
    check_version(version).map_err(|r| (400, r))?;
    if version != "SIP/2.0" {
        return Err((505, "Version Not Supported".into()));
    }
    Ok((method.to_string(), uri.to_string()))
}

/// `SIP-Version`: `SIP/` 1*DIGIT `.` 1*DIGIT.
fn check_version(version: &str) -> Result<(), String> {
    let Some(rest) = version.strip_prefix("SIP/") else {
        return Err("Malformed SIP-Version".into());
    };
    let ok = rest.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err("Malformed SIP-Version".into())
    }
}

/// `SIP-Version SP Status-Code SP Reason-Phrase` (RFC 3261 7.2).
fn parse_status_line(line: &str) -> Result<(u16, String), String> {
    let mut parts = line.splitn(3, ' ');
    let (version, code, reason) = (parts.next(), parts.next(), parts.next());
    if version != Some("SIP/2.0") {
        return Err("Unsupported SIP-Version in a response".into());
    }
    let code = code
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (100..=699).contains(c))
        .ok_or("Malformed Status-Code")?;
    let reason = reason.ok_or("Missing SP after the Status-Code")?;
    Ok((code, reason.to_string()))
}

/// Header fields, one per line, continuation lines (starting with SP or
/// HT) folded into the previous one with a single space.
fn parse_headers(block: &str) -> Result<Headers, String> {
    let mut headers = Headers::new();
    let mut current: Option<(String, String)> = None;
    for line in block.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = current.as_mut() else {
                return Err("Continuation line before any header".into());
            };
            value.push(' ');
            value.push_str(line.trim());
            continue;
        }
        if let Some((name, value)) = current.take() {
            headers.push(name, value);
        }
        if line.is_empty() {
            return Err("Empty header line".into());
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("Header line without a colon: {:.40}", line))?;
        let name = name.trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err(format!("Malformed header name: {:.40}", name));
        }
        current = Some((expand_compact(name).to_string(), value.trim().to_string()));
    }
    if let Some((name, value)) = current {
        headers.push(name, value);
    }
    Ok(headers)
}

/// The body: what follows the header block, cut to Content-Length.
fn body(raw: &Bytes, header_end: usize, headers: &Headers) -> Result<Bytes, String> {
    let available = raw.len() - header_end;
    let length = match content_length(headers)? {
        Some(n) => n,
        None => available,
    };
    if length > available {
        return Err(format!(
            "Content-Length {length} is larger than the {available} bytes received"
        ));
    }
    Ok(raw.slice(header_end..header_end + length))
}

/// The Content-Length value: `None` when absent; an error when negative,
/// not decimal, or given more than once with different values.
pub fn content_length(headers: &Headers) -> Result<Option<usize>, String> {
    let mut found = None;
    for v in headers.all("Content-Length") {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("Malformed Content-Length: {v:.20}"));
        }
        let n: usize = v
            .parse()
            .map_err(|_| "Content-Length too large".to_string())?;
        if found.is_some_and(|f| f != n) {
            return Err("Conflicting Content-Length values".into());
        }
        found = Some(n);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Message, ParseError> {
        parse_message(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn compact_forms_and_folding_are_read() {
        let Ok(Message::Request(r)) = parse(
            "MESSAGE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\ni: x\r\n\
             Subject: one\r\n  two\r\n\tthree\r\nl: 2\r\n\r\nhi",
        ) else {
            panic!("not a request")
        };
        assert_eq!(r.headers.get("via"), Some("SIP/2.0/UDP h;branch=z9hG4bK1"));
        assert_eq!(r.headers.get("Call-ID"), Some("x"));
        assert_eq!(r.headers.get("Subject"), Some("one two three"));
        assert_eq!(&r.body[..], b"hi");
    }

    #[test]
    fn the_body_is_cut_to_content_length_and_a_short_one_refused() {
        let Ok(Message::Request(r)) = parse("OPTIONS sip:a@b SIP/2.0\r\nl: 2\r\n\r\nhello") else {
            panic!("not a request")
        };
        assert_eq!(&r.body[..], b"he");
        let e = parse("OPTIONS sip:a@b SIP/2.0\r\nl: 9\r\n\r\nhello").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.headers.is_some());
        assert_eq!(
            parse("OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n")
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn request_lines_are_strict() {
        for bad in [
            "OPTIONS  sip:a@b SIP/2.0",
            "OPTIONS sip:a@b SIP/2.0 ",
            "OPTIONS <sip:a@b> SIP/2.0",
            "OPTIONS sip:a@b; lr SIP/2.0",
            "OPT(IONS sip:a@b SIP/2.0",
        ] {
            let e = parse(&format!("{bad}\r\nl: 0\r\n\r\n")).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
        }
        let e = parse("OPTIONS sip:a@b SIP/7.0\r\nl: 0\r\n\r\n").unwrap_err();
        assert_eq!(e.status, 505);
    }

    #[test]
    fn status_codes_are_three_digits() {
        assert!(matches!(
            parse("SIP/2.0 100 \r\nl: 0\r\n\r\n"),
            Ok(Message::Response(Response { code: 100, .. }))
        ));
        assert!(parse("SIP/2.0 4294967301 big\r\nl: 0\r\n\r\n").is_err());
    }
}
