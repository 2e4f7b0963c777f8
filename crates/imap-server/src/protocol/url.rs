//! IMAP URLs (RFC 5092) naming one message or part, as GENURLAUTH and
//! URLFETCH (RFC 4467) take them:
//! `imap://user@host[:port]/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s]
//! [;EXPIRE=date-time][;URLAUTH=access[:mechanism:token]]`.
//! Parameter names are case-insensitive; the mailbox is percent-encoded
//! UTF-8 (RFC 5092 3.3, the form with no modified UTF-7).

use percent_encoding::percent_decode_str;
use store_core::model::{parse_rfc3339, UnixTime};

/// The parts of an IMAP URL this server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// The user of `user@host`, if given.
    pub user: Option<String>,
    /// The mailbox name, decoded.
    pub mailbox: String,
    /// UIDVALIDITY, if given.
    pub uid_validity: Option<u32>,
    /// The message.
    pub uid: u32,
    /// The section, if any (`1.2`, `HEADER`, `TEXT`).
    pub section: Option<String>,
    /// EXPIRE, in Unix seconds.
    pub expire: Option<UnixTime>,
    /// The access identifier of URLAUTH (`anonymous`, `authuser`,
    /// `user+fred`, `submit+fred`), if present.
    pub access: Option<String>,
    /// The URL up to and including the access identifier: what
    /// GENURLAUTH appends `:mechanism:token` to.
    pub authorized_part: String,
}

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(&'static str);

impl ImapUrl {
    /// Parses `url`.
    ///
    /// Errors: [`UrlError`] saying what is missing or wrong.
    pub fn parse(url: &str) -> Result<ImapUrl, UrlError> {
        let rest =
            strip_prefix_ignore_case(url, "imap://").ok_or(UrlError("not an imap:// URL"))?;
        let (authority, path) = rest
            .split_once('/')
            .ok_or(UrlError("the URL names no mailbox"))?;
        let user = authority
            .rsplit_once('@')
            .map(|(u, _)| decode(u.split(';').next().unwrap_or(u)))
            .transpose()?;
        let mut segments = path.split("/;");
        let mailbox_segment = segments.next().unwrap_or_default();
        let mut mailbox_params = mailbox_segment.split(';');
        let mailbox = decode(mailbox_params.next().unwrap_or_default())?;
        if mailbox.is_empty() {
            return Err(UrlError("the URL names no mailbox"));
        }
        let mut out = ImapUrl {
            user,
            mailbox,
            uid_validity: None,
            uid: 0,
            section: None,
            expire: None,
            access: None,
            authorized_part: String::new(),
        };
        for p in mailbox_params {
            if let Some(v) = param(p, "UIDVALIDITY") {
                out.uid_validity = Some(v.parse().map_err(|_| UrlError("bad UIDVALIDITY"))?);
            }
        }
        for segment in segments {
            for p in segment.split(';') {
                if let Some(v) = param(p, "UID") {
                    out.uid = v.parse().map_err(|_| UrlError("bad UID"))?;
                } else if let Some(v) = param(p, "SECTION") {
                    out.section = Some(decode(v)?);
                } else if let Some(v) = param(p, "EXPIRE") {
                    out.expire = Some(parse_rfc3339(v).ok_or(UrlError("bad EXPIRE"))?);
                } else if let Some(v) = param(p, "URLAUTH") {
                    out.access = Some(v.split(':').next().unwrap_or_default().to_string());
                } else if param(p, "PARTIAL").is_some() {
                    return Err(UrlError("PARTIAL is not supported"));
                }
            }
        }
        if out.uid == 0 {
            return Err(UrlError("the URL names no message (;UID=)"));
        }
        out.authorized_part = store_core::authorized_part(url).to_string();
        Ok(out)
    }
}

fn decode(s: &str) -> Result<String, UrlError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| UrlError("the URL is not UTF-8"))
}

fn param<'a>(p: &'a str, name: &str) -> Option<&'a str> {
    let (n, v) = p.split_once('=')?;
    n.eq_ignore_ascii_case(name).then_some(v)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4467 section 7's example URLs.
    #[test]
    fn rfc4467_urls_parse() {
        let u =
            ImapUrl::parse("imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred")
                .unwrap();
        assert_eq!(u.user.as_deref(), Some("joe"));
        assert_eq!((u.mailbox.as_str(), u.uid), ("INBOX", 20));
        assert_eq!(u.section.as_deref(), Some("1.2"));
        assert_eq!(u.access.as_deref(), Some("submit+fred"));
        assert_eq!(
            u.authorized_part,
            "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred"
        );
        let u = ImapUrl::parse(
            "imap://joe@example.com/INBOX;UIDVALIDITY=385759045/;uid=20;\
             expire=2026-11-21T10:00:00Z;urlauth=anonymous:internal:91354a47",
        )
        .unwrap();
        assert_eq!(u.uid_validity, Some(385759045));
        assert_eq!(u.expire, parse_rfc3339("2026-11-21T10:00:00Z"));
        assert!(u.authorized_part.ends_with(";urlauth=anonymous"));
        let u = ImapUrl::parse("imap://a@h/Sent%20Items/;UID=3").unwrap();
        assert_eq!(u.mailbox, "Sent Items");
        for bad in [
            "http://joe@example.com/INBOX/;uid=20",
            "imap://joe@example.com/INBOX",
            "imap://joe@example.com/INBOX/;uid=x",
            "imap://joe@example.com/",
        ] {
            assert!(ImapUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
