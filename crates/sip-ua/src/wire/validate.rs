//! The checks a UAS makes of a request before acting on it (RFC 3261 8.2,
//! 20 and 25; the invalid and semantic cases of RFC 4475 section 3):
//! mandatory and single-valued header fields, scalar ranges, the syntax of
//! Via and of name-addr / addr-spec values, and the CSeq method.

use super::parse::is_token;
use super::{Request, Response};

/// Header fields a request must carry (RFC 3261 8.1.1). Max-Forwards is
/// not among them: RFC 2543 peers omit it and RFC 4475 3.4.1 asks that
/// they be served.
const MANDATORY: &[&str] = &["Via", "From", "To", "Call-ID", "CSeq"];

/// Header fields that take one value (RFC 3261 7.3.1, 20).
const SINGLE_VALUED: &[&str] = &[
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
    "Expires",
];

/// Checks `request`; the error is the reason phrase of a 400.
pub fn validate_request(request: &Request) -> Result<(), String> {
    let h = &request.headers;
    for name in MANDATORY {
        if h.count(name) == 0 {
            return Err(format!("Missing {name}"));
        }
    }
    for name in SINGLE_VALUED {
        if h.count(name) > 1 || h.values(name).len() > 1 && *name != "Content-Type" {
            return Err(format!("More than one {name}"));
        }
    }
    check_cseq(h.get("CSeq").unwrap_or_default(), &request.method)?;
    if let Some(v) = h.get("Max-Forwards") {
        check_scalar(v, 255).map_err(|e| format!("Max-Forwards {e}"))?;
    }
    if let Some(v) = h.get("Expires") {
        check_scalar(v, u64::from(u32::MAX)).map_err(|e| format!("Expires {e}"))?;
    }
    for via in h.values("Via") {
        check_via(&via).map_err(|e| format!("Malformed Via: {e}"))?;
    }
    for name in ["From", "To"] {
        let v = h.get(name).unwrap_or_default();
        check_address(v).map_err(|e| format!("Malformed {name}: {e}"))?;
    }
    let contacts = h.values("Contact");
    if !(contacts.len() == 1 && contacts[0] == "*") {
        for c in contacts {
            check_address(&c).map_err(|e| format!("Malformed Contact: {e}"))?;
        }
    }
    if h.get("Call-ID")
        .is_some_and(|v| v.is_empty() || v.contains(char::is_whitespace))
    {
        return Err("Malformed Call-ID".into());
    }
    Ok(())
}

/// Checks a response (RFC 3261 7.2, 8.1.3.3; RFC 4475 3.1.2.5): the
/// header fields every response has, a CSeq and Retry-After in range;
/// the error says why it is discarded.
pub fn validate_response(response: &Response) -> Result<(), String> {
    let h = &response.headers;
    for name in MANDATORY {
        if h.count(name) == 0 {
            return Err(format!("Missing {name}"));
        }
    }
    let cseq = h.get("CSeq").unwrap_or_default();
    let number = cseq.split_ascii_whitespace().next().unwrap_or_default();
    check_scalar(number, (1 << 31) - 1).map_err(|e| format!("CSeq {e}"))?;
    if let Some(v) = h.get("Retry-After") {
        let seconds = v.split([';', '(']).next().unwrap_or_default().trim();
        check_scalar(seconds, u64::from(u32::MAX)).map_err(|e| format!("Retry-After {e}"))?;
    }
    Ok(())
}

/// `CSeq: 1*DIGIT LWS Method`, below 2^31 (RFC 3261 8.1.1.5), naming the
/// Request-Line's method (RFC 4475 3.1.2.17 and 3.1.2.18).
fn check_cseq(value: &str, method: &str) -> Result<(), String> {
    let mut parts = value.split_ascii_whitespace();
    let (Some(number), Some(m), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("Malformed CSeq".into());
    };
    check_scalar(number, (1 << 31) - 1).map_err(|e| format!("CSeq {e}"))?;
    if m != method {
        return Err("CSeq method does not match the Request-Line".into());
    }
    Ok(())
}

/// A decimal number no greater than `max`.
fn check_scalar(value: &str, max: u64) -> Result<(), String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("is not a number".into());
    }
    match value.parse::<u64>() {
        Ok(n) if n <= max => Ok(()),
        _ => Err(format!("is larger than {max}")),
    }
}

/// `via-parm = sent-protocol LWS sent-by *( SEMI via-params )`.
fn check_via(value: &str) -> Result<(), String> {
    let value = super::collapse_slashes(value);
    let (protocol, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or("no sent-by")?;
    let fields: Vec<&str> = protocol.split('/').map(str::trim).collect();
    if fields.len() != 3 || !fields.iter().all(|f| is_token(f)) {
        return Err("bad sent-protocol".into());
    }
    let mut parts = rest.trim().split(';');
    let sent_by = parts.next().unwrap_or_default().trim();
    if sent_by.is_empty() || sent_by.contains(char::is_whitespace) {
        return Err("bad sent-by".into());
    }
    parts.try_for_each(check_param)
}

/// `generic-param = token [ EQUAL gen-value ]`; an empty one (`;;`) is
/// not.
fn check_param(param: &str) -> Result<(), String> {
    let (name, value) = match param.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (param.trim(), None),
    };
    if !is_token(name) {
        return Err(format!("bad parameter {param:?}"));
    }
    match value {
        Some("") => Err(format!("empty value of {name}")),
        Some(v) if v.starts_with('"') => quoted_end(v)
            .filter(|end| *end == v.len())
            .map(|_| ())
            .ok_or_else(|| format!("bad quoted value of {name}")),
        Some(v) if v.contains(char::is_whitespace) => Err(format!("bad value of {name}")),
        _ => Ok(()),
    }
}

/// Where the quoted string at the start of `s` ends (the index just past
/// its closing quote), honouring backslash escapes.
fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// `( name-addr / addr-spec ) *( SEMI generic-param )` (RFC 3261 20.10,
/// 20.20, 20.39): a display name is a quoted string or tokens; no
/// whitespace inside `<...>`; an addr-spec without brackets may not hold
/// `?`, `,` or `;` in its URI (RFC 3261 20, RFC 4475 3.1.2.13).
pub fn check_address(value: &str) -> Result<(), String> {
    let v = value.trim();
    let (uri, params) = if v.starts_with('"') {
        let end = quoted_end(v).ok_or("unterminated quoted display name")?;
        bracketed(v[end..].trim_start())?
    } else if let Some(lt) = v.find('<') {
        let display = v[..lt].trim();
        if !display.split_ascii_whitespace().all(is_token) {
            return Err("display name is neither a quoted string nor tokens".into());
        }
        bracketed(&v[lt..])?
    } else {
        let (uri, params) = v.split_once(';').unwrap_or((v, ""));
        let uri = uri.trim();
        if uri.contains(['?', ',', ' ', '\t', '"']) {
            return Err("an addr-spec with '?' or ',' must be in <>".into());
        }
        (uri, params)
    };
    if uri.is_empty() || !uri.contains(':') {
        return Err("no URI".into());
    }
    if params.is_empty() {
        return Ok(());
    }
    params.split(';').try_for_each(check_param)
}

/// `LAQUOT addr-spec RAQUOT` then `;params`: the URI and the parameter
/// text after its first `;`.
fn bracketed(s: &str) -> Result<(&str, &str), String> {
    let inner = s.strip_prefix('<').ok_or("expected '<'")?;
    let close = inner.find('>').ok_or("no '>'")?;
    let uri = &inner[..close];
    if uri.contains(char::is_whitespace) {
        return Err("whitespace inside <>".into());
    }
    let after = inner[close + 1..].trim_start();
    if after.is_empty() {
        return Ok((uri, ""));
    }
    let params = after.strip_prefix(';').ok_or("text after '>'")?;
    Ok((uri, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_grammar() {
        for good in [
            "<sip:alice@example.com>;tag=1",
            "\"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=43",
            "caller<sip:caller@example.com>;tag=323",
            "sip:caller@example.net;tag=2",
            "Joe Doe <tel:+15551234567>",
            "isbn:2983792873",
            "\"\\\"esc\\\"\" <sip:x@y>",
        ] {
            assert_eq!(check_address(good), Ok(()), "{good}");
        }
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "<sip:a@b>;tag=",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn via_params_may_not_be_empty() {
        assert!(check_via("SIP/2.0/UDP 192.0.2.15;branch=z9hG4bK1;rport").is_ok());
        assert!(check_via("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(check_via("SIP/2.0 192.0.2.15").is_err());
    }

    #[test]
    fn cseq_is_bounded_and_names_the_method() {
        assert!(check_cseq("1 OPTIONS", "OPTIONS").is_ok());
        assert!(check_cseq("1 INVITE", "OPTIONS").is_err());
        assert!(check_cseq("36893488147419103232 REGISTER", "REGISTER").is_err());
        assert!(check_cseq("2147483648 OPTIONS", "OPTIONS").is_err());
    }
}
