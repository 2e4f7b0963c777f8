//! Properties (RFC 4918 15): the live ones computed from the store, and
//! dead ones kept as store-core metadata of the folder or object.
//!
//! A dead property is the metadata entry
//! `/shared/vendor/cpm-store/dav/{base64url(namespace LF local name)}`
//! whose value is the property element serialized on its own
//! ([`crate::xml::Element::to_xml`]), so PROPFIND returns it as it was set.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use store_core::model::Principal;
use store_core::rights::Right;
use store_core::{FolderDates, Lock, MetadataTarget, Store};

use crate::error::DavResult;
use crate::path::DavPath;
use crate::resource::{File, Resource};
use crate::xml::{text, Name, DAV};

/// The metadata entry that holds every dead property of a target.
pub const DEAD_PREFIX: &str = "/shared/vendor/cpm-store/dav";

/// The live properties, in the order allprop lists them; those from
/// [`NAMED_ONLY`] on are given only when asked for by name: the RFC 4331
/// quota properties, RFC 6578 `sync-token` (section 4: not in allprop),
/// RFC 3253 `supported-report-set` and the RFC 3744 access control
/// properties (section 5: not in allprop).
pub const LIVE: [&str; 16] = [
    "creationdate",
    "displayname",
    "getcontentlength",
    "getcontenttype",
    "getetag",
    "getlastmodified",
    "lockdiscovery",
    "resourcetype",
    "supportedlock",
    "quota-available-bytes",
    "quota-used-bytes",
    "sync-token",
    "supported-report-set",
    "current-user-privilege-set",
    "supported-privilege-set",
    "acl",
];

/// Where the properties given only by name start in [`LIVE`].
const NAMED_ONLY: usize = 9;

/// Whether `name` is a live property.
pub fn is_live(name: &Name) -> bool {
    name.ns == DAV && LIVE.contains(&name.local.as_str())
}

/// Whether `name` is a protected property (RFC 4918 15: every live one
/// but `DAV:displayname`, which RFC 4918 15.2 says SHOULD NOT be
/// protected; it is kept as a dead property that overrides the name).
pub fn is_protected(name: &Name) -> bool {
    is_live(name) && name.local != "displayname"
}

/// The metadata entry of a dead property.
pub fn dead_entry(name: &Name) -> String {
    let key = format!("{}\n{}", name.ns, name.local);
    format!("{DEAD_PREFIX}/{}", URL_SAFE_NO_PAD.encode(key))
}

fn dead_name(entry: &str) -> Option<Name> {
    let encoded = entry.strip_prefix(DEAD_PREFIX)?.strip_prefix('/')?;
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()?;
    let (ns, local) = raw.split_once('\n')?;
    Some(Name::new(ns, local))
}

/// Where a resource's dead properties are kept; `None` for the account
/// roots, which have none.
pub fn metadata_target(resource: &Resource) -> Option<MetadataTarget> {
    match resource {
        Resource::Collection(c) => Some(MetadataTarget::Folder(c.folder.clone())),
        Resource::File(f) => Some(MetadataTarget::Object(f.folder.clone(), f.object.uid)),
        Resource::Root | Resource::Account(_) => None,
    }
}

/// Every dead property of a resource: name and serialized element. A
/// stored `DAV:displayname` is among them; PROPFIND gives it as the live
/// property ([`LiveContext::display_name`]).
pub async fn dead_properties(
    store: &Store,
    principal: &Principal,
    resource: &Resource,
) -> DavResult<Vec<(Name, String)>> {
    if let Resource::File(File {
        properties: Some(entries),
        ..
    }) = resource
    {
        return Ok(parse_dead(entries.iter().cloned()));
    }
    let Some(target) = metadata_target(resource) else {
        return Ok(Vec::new());
    };
    let entries = match store
        .get_metadata(principal, &target, &[DEAD_PREFIX.to_string()], None)
        .await
    {
        Ok(e) => e,
        // Without `r` a folder's properties are not readable.
        Err(store_core::StoreError::PermissionDenied(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(parse_dead(entries))
}

/// Dead properties from their metadata entries (name, value); an entry
/// that is not one is left out.
fn parse_dead(entries: impl IntoIterator<Item = (String, Vec<u8>)>) -> Vec<(Name, String)> {
    entries
        .into_iter()
        .filter_map(|(entry, value)| Some((dead_name(&entry)?, String::from_utf8(value).ok()?)))
        .collect()
}

/// What live properties are computed from beyond the resource itself.
pub struct LiveContext<'a> {
    /// The store.
    pub store: &'a Store,
    /// Who asks.
    pub principal: &'a Principal,
    /// The resource's path.
    pub path: &'a DavPath,
    /// The `DAV:displayname` element PROPPATCH stored, if any (from
    /// [`dead_properties`]): given in place of the path's last segment.
    pub display_name: Option<&'a str>,
    /// The folder's dates, read once per resource (`DAV:creationdate` and
    /// `DAV:getlastmodified` both need them). Start with `Default`.
    pub dates: tokio::sync::OnceCell<FolderDates>,
}

impl LiveContext<'_> {
    /// The dates of folder `record`, read from the store the first time.
    async fn folder_dates(&self, record: &store_core::model::Folder) -> DavResult<FolderDates> {
        Ok(*self
            .dates
            .get_or_try_init(|| self.store.folder_dates(record))
            .await?)
    }
}

/// The names of the live properties a resource has (PROPFIND propname
/// and allprop); with `named_only`, those given only when asked for by
/// name too.
pub fn live_names(resource: &Resource, named_only: bool) -> Vec<Name> {
    LIVE.iter()
        .enumerate()
        .filter(|(i, _)| named_only || *i < NAMED_ONLY)
        .map(|(_, p)| *p)
        .filter(|p| has_live(resource, p))
        .map(Name::dav)
        .collect()
}

/// Whether a resource has the live property `DAV:{local}` (one of
/// [`LIVE`]), without building the list of [`live_names`]: it is asked
/// for each property of each member of a PROPFIND.
fn has_live(resource: &Resource, local: &str) -> bool {
    match resource {
        Resource::File(_) => !local.starts_with("quota-") && local != "sync-token",
        Resource::Collection(_) => !matches!(local, "getcontentlength" | "getcontenttype"),
        Resource::Root | Resource::Account(_) => matches!(
            local,
            "displayname"
                | "resourcetype"
                | "quota-available-bytes"
                | "quota-used-bytes"
                | "current-user-privilege-set"
                | "supported-privilege-set"
                | "sync-token"
                | "supported-report-set"
        ),
    }
}

/// Whether the principal may not read live property `name` of a resource
/// it sees: `DAV:acl` needs RFC 3744 `read-acl` (RFC 4314 `a`; the owner
/// has it). PROPFIND answers such a property with 403.
pub fn forbidden(principal: &Principal, resource: &Resource, name: &Name) -> bool {
    name.ns == DAV
        && name.local == "acl"
        && !crate::privileges::rights_of(resource, principal.login()).contains(Right::Administer)
}

/// The sync token of a collection now (RFC 6578 4), `None` for one that
/// has none: `/dav/` and another account's root.
async fn sync_token_of(ctx: &LiveContext<'_>, resource: &Resource) -> DavResult<Option<String>> {
    let (folder, validity) = match resource {
        Resource::Collection(c) => (Some(&c.folder), u64::from(c.record.uid_validity)),
        Resource::Account(o) if *o == ctx.principal.login() => (None, ctx.principal.account()),
        _ => return Ok(None),
    };
    let end = ctx.store.feed_end(ctx.principal, folder).await?;
    Ok(Some(crate::methods::report::sync_token(validity, end)))
}

/// The serialized element of live property `name`, or `None` if the
/// resource does not have it (or, for `DAV:acl`, the principal may not
/// read it: see [`forbidden`]).
pub async fn live_value(
    ctx: &LiveContext<'_>,
    resource: &Resource,
    name: &Name,
) -> DavResult<Option<String>> {
    if !is_live(name)
        || !has_live(resource, &name.local)
        || forbidden(ctx.principal, resource, name)
    {
        return Ok(None);
    }
    let element = |inner: &str| Some(format!("<D:{0}>{inner}</D:{0}>", name.local));
    let value = match (name.local.as_str(), resource) {
        ("resourcetype", Resource::File(_)) => Some("<D:resourcetype/>".to_string()),
        ("resourcetype", _) => element("<D:collection/>"),
        ("displayname", r) => match ctx.display_name {
            // Stored as the element PROPPATCH set, namespaces declared.
            Some(stored) => Some(stored.to_string()),
            None => element(&text(&display_name(ctx.path, r))),
        },
        ("getcontentlength", Resource::File(f)) => element(&f.content.length.to_string()),
        ("getcontenttype", Resource::File(f)) => element(&text(&f.content.media_type)),
        ("getetag", r) => r.etag().and_then(|e| element(&text(&e))),
        ("getlastmodified", Resource::File(f)) => element(&http_date(f.object.internal_date)),
        ("creationdate", Resource::File(f)) => element(&rfc3339(f.object.internal_date)),
        ("getlastmodified", Resource::Collection(c)) => {
            element(&http_date(ctx.folder_dates(&c.record).await?.modified))
        }
        ("creationdate", Resource::Collection(c)) => {
            element(&rfc3339(ctx.folder_dates(&c.record).await?.created))
        }
        ("supportedlock", _) => element(SUPPORTED_LOCK),
        ("lockdiscovery", _) => {
            let locks = ctx.store.locks_covering(&ctx.path.lock_key()).await?;
            element(&locks.iter().map(active_lock).collect::<String>())
        }
        ("sync-token", r) => sync_token_of(ctx, r)
            .await?
            .and_then(|t| element(&text(&t))),
        ("supported-report-set", r) => {
            let syncs = matches!(r, Resource::Collection(_))
                || matches!(r, Resource::Account(o) if *o == ctx.principal.login());
            element(if syncs {
                "<D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report>"
            } else {
                ""
            })
        }
        ("current-user-privilege-set", r) => {
            element(&crate::privileges::current_user_privilege_set(
                crate::privileges::rights_of(r, ctx.principal.login()),
            ))
        }
        ("supported-privilege-set", _) => element(&crate::privileges::supported_privilege_set()),
        ("acl", Resource::Collection(c)) => {
            let owner = c.folder.owner.as_deref().unwrap_or(ctx.principal.login());
            element(&crate::privileges::acl(&c.record, owner, None))
        }
        ("acl", Resource::File(f)) => {
            let (record, _) = ctx.store.folder_status(ctx.principal, &f.folder).await?;
            let owner = f.folder.owner.as_deref().unwrap_or(ctx.principal.login());
            let folder_href = ctx.path.parent().href(true);
            element(&crate::privileges::acl(&record, owner, Some(&folder_href)))
        }
        ("quota-used-bytes" | "quota-available-bytes", r) if owns(ctx, r) => {
            let usage = ctx.store.quota(ctx.principal).await?;
            if name.local == "quota-used-bytes" {
                element(&usage.bytes.to_string())
            } else {
                // RFC 4331 3: without a limit, the space left is unknown;
                // report what fits in a signed 64-bit count.
                let available = usage
                    .limits
                    .max_bytes
                    .map_or(i64::MAX as u64, |m| m.saturating_sub(usage.bytes));
                element(&available.to_string())
            }
        }
        _ => None,
    };
    Ok(value)
}

fn owns(ctx: &LiveContext<'_>, resource: &Resource) -> bool {
    match resource {
        Resource::Account(o) => *o == ctx.principal.login(),
        Resource::Collection(c) => c.folder.owner.is_none(),
        _ => false,
    }
}

fn display_name(path: &DavPath, resource: &Resource) -> String {
    match resource {
        Resource::Root => "dav".into(),
        _ => path.name().unwrap_or_default().to_string(),
    }
}

const SUPPORTED_LOCK: &str = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry><D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>";

/// A `DAV:activelock` element (RFC 4918 14.1).
pub fn active_lock(lock: &Lock) -> String {
    format!(
        "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:{}/></D:lockscope><D:depth>{}</D:depth>{}<D:timeout>Second-{}</D:timeout><D:locktoken><D:href>{}</D:href></D:locktoken><D:lockroot><D:href>{}</D:href></D:lockroot></D:activelock>",
        if lock.exclusive { "exclusive" } else { "shared" },
        if lock.infinite { "infinity" } else { "0" },
        lock.owner.as_deref().unwrap_or(""),
        lock.seconds_left(),
        text(&lock.token),
        text(&DavPath::from_lock_key(&lock.root).href(false)),
    )
}

/// An HTTP-date (RFC 9110 5.6.7) of Unix seconds.
pub fn http_date(unix: i64) -> String {
    httpdate::fmt_http_date(system_time(unix))
}

/// Unix seconds as a `SystemTime`.
pub fn system_time(unix: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(unix).unwrap_or(0))
}

/// An RFC 3339 UTC date-time of Unix seconds (`DAV:creationdate`).
fn rfc3339(unix: i64) -> String {
    store_core::dates::rfc3339(unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_entry_names_round_trip() {
        let n = Name::new("http://example.com/neon/litmus/", "prop0");
        assert_eq!(dead_name(&dead_entry(&n)), Some(n));
        let empty = Name::new("", "nons");
        assert_eq!(dead_name(&dead_entry(&empty)), Some(empty));
    }

    #[test]
    fn dates_are_rfc3339_and_http() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(http_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
    }
}
