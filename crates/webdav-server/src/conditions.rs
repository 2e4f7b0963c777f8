//! Preconditions of a request: the WebDAV `If` header (RFC 4918 10.4),
//! lock enforcement (RFC 4918 7: a locked resource changes only for a
//! request that submits the token of a lock its principal owns), and the
//! HTTP ETag / date preconditions (RFC 9110 13).

use hyper::header::{self, HeaderMap};
use store_core::{Lock, Principal, Store};

use crate::error::{DavError, DavResult};
use crate::path::{self, DavPath};
use crate::resource::{lookup, Lookup};

/// One condition of an `If` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A state token (a lock token URI, or any other URI, which matches
    /// no lock).
    Token(String),
    /// An entity tag, as written (with quotes).
    ETag(String),
}

/// One parenthesized list: all its conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// The resource the list is about (a tagged list); `None` for the
    /// request URI.
    pub resource: Option<String>,
    /// The conditions, each possibly negated (`Not`).
    pub conditions: Vec<(bool, Condition)>,
}

/// A parsed `If` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IfHeader {
    /// The lists; the header holds if any list holds.
    pub lists: Vec<List>,
}

impl IfHeader {
    /// Parses the header value (RFC 4918 10.4.2 grammar).
    ///
    /// Errors: 400 for a malformed header.
    pub fn parse(value: &str) -> DavResult<IfHeader> {
        let bad = || DavError::bad_request("malformed If header");
        let mut lists = Vec::new();
        let mut resource = None;
        let mut rest = value.trim_start();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('<') {
                let end = r.find('>').ok_or_else(bad)?;
                resource = Some(r[..end].to_string());
                rest = r[end + 1..].trim_start();
                if !rest.starts_with('(') {
                    return Err(bad());
                }
                continue;
            }
            let r = rest.strip_prefix('(').ok_or_else(bad)?;
            let end = r.find(')').ok_or_else(bad)?;
            let mut inner = r[..end].trim();
            rest = r[end + 1..].trim_start();
            let mut conditions = Vec::new();
            while !inner.is_empty() {
                let negated = match inner.strip_prefix("Not") {
                    Some(after) if after.starts_with([' ', '<', '[', '\t']) => {
                        inner = after.trim_start();
                        true
                    }
                    _ => false,
                };
                let (condition, after) = if let Some(t) = inner.strip_prefix('<') {
                    let e = t.find('>').ok_or_else(bad)?;
                    (Condition::Token(t[..e].to_string()), &t[e + 1..])
                } else if let Some(t) = inner.strip_prefix('[') {
                    let e = t.find(']').ok_or_else(bad)?;
                    (Condition::ETag(t[..e].to_string()), &t[e + 1..])
                } else {
                    return Err(bad());
                };
                conditions.push((negated, condition));
                inner = after.trim_start();
            }
            if conditions.is_empty() {
                return Err(bad());
            }
            lists.push(List {
                resource: resource.clone(),
                conditions,
            });
        }
        if lists.is_empty() {
            return Err(bad());
        }
        Ok(IfHeader { lists })
    }

    /// The state tokens the header submits (those not negated).
    pub fn submitted_tokens(&self) -> Vec<&str> {
        self.lists
            .iter()
            .flat_map(|l| &l.conditions)
            .filter_map(|(negated, c)| match c {
                Condition::Token(t) if !negated => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// A request's preconditions, read once from its headers.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    /// The `If` header, if any.
    pub if_header: Option<IfHeader>,
    host: Option<String>,
}

impl Preconditions {
    /// Reads the `If` header.
    ///
    /// Errors: 400 for a malformed one.
    pub fn from_headers(headers: &HeaderMap) -> DavResult<Preconditions> {
        let if_header = match headers.get("if") {
            Some(v) => {
                Some(IfHeader::parse(v.to_str().map_err(|_| {
                    DavError::bad_request("malformed If header")
                })?)?)
            }
            None => None,
        };
        Ok(Preconditions {
            if_header,
            host: headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(String::from),
        })
    }

    /// Whether the `If` header has an entity-tag condition (RFC 4918
    /// 10.4.2), negated or not: the request is conditional on the
    /// resource's state (RFC 9110 13.1).
    pub fn has_etag_condition(&self) -> bool {
        self.if_header.as_ref().is_some_and(|h| {
            h.lists
                .iter()
                .flat_map(|l| &l.conditions)
                .any(|(_, c)| matches!(c, Condition::ETag(_)))
        })
    }

    /// The tokens submitted.
    pub fn tokens(&self) -> Vec<&str> {
        self.if_header
            .as_ref()
            .map(|h| h.submitted_tokens())
            .unwrap_or_default()
    }

    /// Evaluates the `If` header (RFC 4918 10.4.3): true if any list
    /// holds, each list evaluated against its tagged resource or the
    /// request path. A state token holds if a live lock with that token
    /// covers the resource; an entity tag if it is the resource's.
    ///
    /// Errors: 412 when the header does not hold.
    pub async fn check_if(
        &self,
        store: &Store,
        principal: &Principal,
        path: &DavPath,
    ) -> DavResult<()> {
        let Some(header) = &self.if_header else {
            return Ok(());
        };
        for list in &header.lists {
            let target = match &list.resource {
                Some(uri) => match path::destination(uri, self.host.as_deref()) {
                    Ok(p) => p,
                    Err(_) => continue,
                },
                None => path.clone(),
            };
            if list_holds(store, principal, &target, list).await? {
                return Ok(());
            }
        }
        Err(DavError::precondition_failed())
    }

    /// Fails with 423 unless every lock in `locks` is honoured, by
    /// store-core's one rule ([`store_core::check_locks_honoured`]: each
    /// exclusive lock's token, and one token among the shared ones, must
    /// be submitted, and belong to a lock `principal` created).
    pub fn check_locks(&self, principal: &Principal, locks: &[Lock]) -> DavResult<()> {
        let submitted = principal.with_lock_tokens(self.tokens());
        Ok(store_core::check_locks_honoured(&submitted, locks)?)
    }

    /// The usual check of a state-changing method on `path`: the `If`
    /// header holds, and the locks that cover `path` (and, with
    /// `with_members`, those rooted below it) are honoured.
    pub async fn check_write(
        &self,
        store: &Store,
        principal: &Principal,
        path: &DavPath,
        with_members: bool,
    ) -> DavResult<()> {
        self.check_if(store, principal, path).await?;
        let key = path.lock_key();
        let locks = if with_members {
            store.locks_affecting(&key).await?
        } else {
            store.locks_covering(&key).await?
        };
        self.check_locks(principal, &locks)
    }
}

impl Preconditions {
    /// For a request that adds or removes a member of `path`'s parent: the
    /// locks on the parent collection (a depth-0 lock guards its
    /// membership, RFC 4918 7.4) are honoured.
    pub async fn check_membership(
        &self,
        store: &Store,
        principal: &Principal,
        path: &DavPath,
    ) -> DavResult<()> {
        let locks = store.locks_covering(&path.parent().lock_key()).await?;
        self.check_locks(principal, &locks)
    }
}

async fn list_holds(
    store: &Store,
    principal: &Principal,
    target: &DavPath,
    list: &List,
) -> DavResult<bool> {
    let mut etag = None;
    for (negated, condition) in &list.conditions {
        let holds = match condition {
            Condition::Token(token) => store
                .locks_covering(&target.lock_key())
                .await?
                .iter()
                .any(|l| &l.token == token),
            Condition::ETag(tag) => {
                if etag.is_none() {
                    etag = Some(match lookup(store, principal, target).await? {
                        Lookup::Found(r) => r.etag(),
                        Lookup::Missing { .. } => None,
                    });
                }
                etag.as_ref()
                    .is_some_and(|e| e.as_deref() == Some(tag.as_str()))
            }
        };
        if holds == *negated {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The outcome of the HTTP preconditions of RFC 9110 13.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpPrecondition {
    /// Go on.
    Proceed,
    /// Answer 304 Not Modified (GET and HEAD).
    NotModified,
}

fn etag_list_matches(list: &str, etag: Option<&str>, weak: bool) -> bool {
    let Some(etag) = etag else {
        return false;
    };
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag || (weak && t.strip_prefix("W/").is_some_and(|s| s == etag)))
}

/// Evaluates If-Match, If-Unmodified-Since, If-None-Match and
/// If-Modified-Since for a resource with `etag` and `modified` (Unix
/// seconds); `None` when it does not exist. `read` is true for GET/HEAD.
///
/// Errors: 412 Precondition Failed.
pub fn check_http(
    headers: &HeaderMap,
    etag: Option<&str>,
    modified: Option<i64>,
    read: bool,
) -> DavResult<HttpPrecondition> {
    let get = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(list) = get(header::IF_MATCH) {
        if !etag_list_matches(list, etag, false) {
            return Err(DavError::precondition_failed());
        }
    } else if let (Some(date), Some(m)) = (get(header::IF_UNMODIFIED_SINCE), modified) {
        if let Ok(since) = httpdate::parse_http_date(date) {
            if crate::properties::system_time(m) > since {
                return Err(DavError::precondition_failed());
            }
        }
    }
    if let Some(list) = get(header::IF_NONE_MATCH) {
        if etag_list_matches(list, etag, true) {
            return if read {
                Ok(HttpPrecondition::NotModified)
            } else {
                Err(DavError::precondition_failed())
            };
        }
    } else if let (true, Some(date), Some(m)) = (read, get(header::IF_MODIFIED_SINCE), modified) {
        if let Ok(since) = httpdate::parse_http_date(date) {
            if crate::properties::system_time(m) <= since {
                return Ok(HttpPrecondition::NotModified);
            }
        }
    }
    Ok(HttpPrecondition::Proceed)
}

/// Whether an RFC 9110 14.2 Range applies: without If-Range, or with one
/// that matches the current entity tag or date exactly.
pub fn if_range_holds(headers: &HeaderMap, etag: Option<&str>, modified: i64) -> bool {
    match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) if v.starts_with('"') => Some(v) == etag,
        Some(v) => httpdate::parse_http_date(v)
            .is_ok_and(|d| d == crate::properties::system_time(modified)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc4918_if_headers() {
        let h = IfHeader::parse(
            "(<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> [\"I am an ETag\"]) ([\"I am another ETag\"])",
        )
        .unwrap();
        assert_eq!(h.lists.len(), 2);
        assert_eq!(
            h.submitted_tokens(),
            ["urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2"]
        );
        let h = IfHeader::parse("(Not <urn:uuid:a> <urn:uuid:b>)").unwrap();
        assert_eq!(
            h.lists[0].conditions[0],
            (true, Condition::Token("urn:uuid:a".into()))
        );
        assert_eq!(h.submitted_tokens(), ["urn:uuid:b"]);
        let h = IfHeader::parse("<http://h/dav/a/x> (<urn:uuid:c>)").unwrap();
        assert_eq!(h.lists[0].resource.as_deref(), Some("http://h/dav/a/x"));
        for bad in ["", "(", "()", "<x>", "(<a> garbage)", "(Notx <a>)"] {
            assert!(IfHeader::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_preconditions_follow_rfc9110() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, "*".parse().unwrap());
        assert_eq!(
            check_http(&h, None, None, false).unwrap(),
            HttpPrecondition::Proceed
        );
        assert_eq!(
            check_http(&h, Some("\"a\""), Some(0), false)
                .unwrap_err()
                .status,
            412
        );
        assert_eq!(
            check_http(&h, Some("\"a\""), Some(0), true).unwrap(),
            HttpPrecondition::NotModified
        );
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, "\"a\", \"b\"".parse().unwrap());
        assert!(check_http(&h, Some("\"b\""), Some(0), false).is_ok());
        assert!(check_http(&h, None, None, false).is_err());
    }
}
