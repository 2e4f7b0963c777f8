//! Request paths: `/dav/{account}/{folder path}/{resource}`.
//!
//! Each segment is percent-decoded once and must be UTF-8. A decoded `/`
//! (an encoded slash), NUL, `.` or `..` is refused, so one name has one
//! path and no path escapes its account. The store names a folder by its
//! segments joined with `/`, the IMAP hierarchy delimiter.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::error::{DavError, DavResult};

/// The prefix of every WebDAV path.
pub const PREFIX: &str = "/dav";
/// Longest request path accepted, in bytes.
pub const MAX_PATH: usize = 4096;

/// Characters escaped in a path segment of an href (RFC 3986 pchar).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A decoded request path below [`PREFIX`]: the account, then the folder
/// levels and possibly a resource name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavPath {
    /// Decoded segments: `[]` is `/dav/`, `[account]` an account's root,
    /// `[account, level, ...]` a folder or a resource.
    pub segments: Vec<String>,
}

impl DavPath {
    /// Parses the path of a request URI (no query).
    ///
    /// Errors: 404 outside `/dav`, 400 for a bad segment or a path over
    /// [`MAX_PATH`].
    pub fn parse(raw: &str) -> DavResult<DavPath> {
        if raw.len() > MAX_PATH {
            return Err(DavError::bad_request("path too long"));
        }
        let rest = match raw.strip_prefix(PREFIX) {
            Some("") => "",
            Some(r) if r.starts_with('/') => &r[1..],
            _ => return Err(DavError::not_found()),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for raw_segment in rest.split('/') {
                segments.push(decode_segment(raw_segment)?);
            }
        }
        Ok(DavPath { segments })
    }

    /// The account named, if any.
    pub fn account(&self) -> Option<&str> {
        self.segments.first().map(String::as_str)
    }

    /// The levels below the account.
    pub fn levels(&self) -> &[String] {
        self.segments.get(1..).unwrap_or(&[])
    }

    /// The parent path (`/dav/` is its own parent).
    pub fn parent(&self) -> DavPath {
        let mut segments = self.segments.clone();
        segments.pop();
        DavPath { segments }
    }

    /// The last segment, if any.
    pub fn name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// A child path.
    pub fn child(&self, name: &str) -> DavPath {
        let mut segments = self.segments.clone();
        segments.push(name.to_string());
        DavPath { segments }
    }

    /// The key locks are kept under: the decoded segments joined by `/`,
    /// with the folder part in store-core's canonical spelling
    /// ([`store_core::names::canonical`]: `inbox` is `INBOX`), so that every
    /// spelling of one path shares its locks, and they are the paths
    /// store-core checks writes against ([`store_core::lock_path`]).
    pub fn lock_key(&self) -> String {
        let mut key = String::from(PREFIX);
        let Some((account, rest)) = self.segments.split_first() else {
            return key;
        };
        key.push('/');
        key.push_str(account);
        if !rest.is_empty() {
            let joined = rest.join("/");
            key.push('/');
            key.push_str(&store_core::names::canonical(&joined).unwrap_or(joined));
        }
        key
    }

    /// The path a [`DavPath::lock_key`] was made from.
    pub fn from_lock_key(key: &str) -> DavPath {
        let rest = key.strip_prefix(PREFIX).unwrap_or(key);
        DavPath {
            segments: rest
                .split('/')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        }
    }

    /// Whether `self` is `other` or lies below it.
    pub fn is_within(&self, other: &DavPath) -> bool {
        self.segments.starts_with(&other.segments)
    }

    /// The encoded href of the path; collections end with `/`.
    pub fn href(&self, collection: bool) -> String {
        let mut href = String::from(PREFIX);
        for s in &self.segments {
            href.push('/');
            href.extend(utf8_percent_encode(s, SEGMENT));
        }
        if collection || self.segments.is_empty() {
            href.push('/');
        }
        href
    }
}

fn decode_segment(raw: &str) -> DavResult<String> {
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| DavError::bad_request("a path segment is not UTF-8"))?;
    if decoded.is_empty()
        || decoded == "."
        || decoded == ".."
        || decoded.contains(['/', '\0'])
        || decoded.chars().any(char::is_control)
    {
        return Err(DavError::bad_request("bad path segment"));
    }
    Ok(decoded.into_owned())
}

/// The path of a `Destination` header (RFC 4918 10.3): an absolute URI
/// whose authority is the request's, or an absolute path.
///
/// Errors: 502 for another server (RFC 4918 9.8.4), 400 if malformed.
pub fn destination(value: &str, host: Option<&str>) -> DavResult<DavPath> {
    let path = if let Some(rest) = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
    {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if host.is_some_and(|h| !h.eq_ignore_ascii_case(authority)) {
            return Err(DavError::new(
                hyper::StatusCode::BAD_GATEWAY,
                "the destination is on another server",
            ));
        }
        path
    } else if value.starts_with('/') {
        value
    } else {
        return Err(DavError::bad_request("bad Destination"));
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    DavPath::parse(path).map_err(|e| {
        if e.status == hyper::StatusCode::NOT_FOUND {
            DavError::new(
                hyper::StatusCode::BAD_GATEWAY,
                "the destination is not a WebDAV path",
            )
        } else {
            e
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_segments_and_refuses_escapes() {
        let p = DavPath::parse("/dav/alice/Travel%202026/res-%e2%82%ac").unwrap();
        assert_eq!(p.segments, ["alice", "Travel 2026", "res-€"]);
        assert_eq!(p.href(false), "/dav/alice/Travel%202026/res-%E2%82%AC");
        assert_eq!(DavPath::parse("/dav/").unwrap().segments.len(), 0);
        for bad in [
            "/dav/alice/../bob",
            "/dav/alice/a%2Fb",
            "/dav/alice/%00",
            "/dav/a//b",
            "/dav/%ff",
        ] {
            assert_eq!(DavPath::parse(bad).unwrap_err().status, 400, "{bad}");
        }
        assert_eq!(DavPath::parse("/other").unwrap_err().status, 404);
    }

    #[test]
    fn destination_must_be_on_this_server() {
        let d = destination("http://h:1/dav/a/x", Some("h:1")).unwrap();
        assert_eq!(d.segments, ["a", "x"]);
        assert_eq!(
            destination("http://other/dav/a/x", Some("h:1"))
                .unwrap_err()
                .status,
            502
        );
        assert_eq!(destination("/dav/a/x", None).unwrap().segments, ["a", "x"]);
    }
}
