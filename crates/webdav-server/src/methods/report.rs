//! REPORT (RFC 3253 3.6) with the one report this server has, RFC 6578
//! `DAV:sync-collection`, on every folder and on the principal's own
//! account root (whose members are its top-level folders). Any other
//! report gets 403 with `DAV:supported-report` (RFC 3253 3.6), as does a
//! sync-collection on a resource without it (a file, `/dav/`, another
//! account's root).
//!
//! Sync tokens (RFC 6578 4) are URIs naming a place in the account's
//! change feed (store-core [`FeedPosition`]):
//! `http://cpm-store/ns/sync/{uidvalidity}-{modseq}` means "every change of
//! the account up to MODSEQ `modseq` is reflected", and
//! `…-{modseq}.{n}` adds "and the first `n` changes of MODSEQ `modseq + 1`"
//! (a page cut inside one operation's changes). `uidvalidity` is the
//! folder's UIDVALIDITY, or for an account root the account's id (never
//! given again), so a token of a folder or account deleted and made again
//! under the same name is not valid for the new one.
//!
//! The request (RFC 6578 3.2):
//! - `Depth` absent or `0` (RFC 6578 3.2); `1` is taken too, as some clients
//!   send it; `infinity` gets 400.
//! - `sync-level` `1`; `infinite` gets 403 with `DAV:sync-traversal-supported`
//!   (RFC 6578 3.3 lets a server refuse it).
//! - An empty `sync-token` gets every member (as PROPFIND Depth 1 lists them,
//!   with the `DAV:prop` asked for) and the token of that moment; with a
//!   `DAV:limit` smaller than the member count, 507 with
//!   `DAV:number-of-matches-within-limits` (RFC 6578 3.6), since an initial
//!   listing cannot be resumed.
//! - A token: the members changed since, read from the change feed (the cost
//!   is that of the account's changes since the token, not of the folder):
//!   present ones with their properties, removed ones as a `DAV:response`
//!   with only `404 Not Found` (RFC 6578 3.5).
//! - A token this server never gave, from the future, of another incarnation
//!   of the folder, or malformed: 403 with `DAV:valid-sync-token` (RFC 6578
//!   3.2); the client then syncs from scratch.
//! - `DAV:limit`/`DAV:nresults` `N` (RFC 5323 5.17): at most `N` members; when
//!   more changed, the first `N`, a `507 Insufficient Storage` response for
//!   the request-URI with `DAV:number-of-matches-within-limits`, and a token
//!   that resumes where the page stopped (RFC 6578 3.6 truncation). The
//!   server truncates the same way past [`MAX_MEMBERS`] members or
//!   [`MAX_SCANNED`] changes read. The members of one change share a page:
//!   a rename (old name removed, new one there) on an otherwise empty page
//!   of limit 1 gives both, so the token always moves on.
//! - A principal that is not the owner hears only of child folders it has
//!   `l` on now; a child removed or renamed away since its token, or an
//!   ACL change of the collection (its rights may have changed), gets 403
//!   `DAV:valid-sync-token` (it lists again) rather than naming a child it
//!   may never have seen (store-core [`store_core::Store::collection_changes`]).
//! - The `DAV:prop` names are taken once each, at most
//!   [`crate::methods::propfind::MAX_ASKED`] (413 past it).

use hyper::{Request, Response, StatusCode};
use store_core::{FeedPosition, MemberChange, StoreError};

use crate::error::{DavError, DavResult};
use crate::methods::propfind::{asked_names, stream_multistatus, Asked, Entry};
use crate::path::DavPath;
use crate::resource::{file_of, lookup, members, Lookup, Resource};
use crate::service::{header_str, read_xml, Body, Ctx, RequestBody};
use crate::xml;

/// What every sync token starts with.
pub const SYNC_TOKEN_PREFIX: &str = "http://cpm-store/ns/sync/";

/// Members one sync-collection response gives at most, whatever the
/// client's limit.
pub const MAX_MEMBERS: usize = 10_000;

/// Changes of the account's feed one sync-collection request reads at most.
pub const MAX_SCANNED: usize = 100_000;

/// The sync token of `position` in the feed of a collection of UIDVALIDITY
/// `validity` (the account id for an account root).
pub fn sync_token(validity: u64, position: FeedPosition) -> String {
    let seen = position.modseq.saturating_sub(1);
    if position.index == 0 {
        format!("{SYNC_TOKEN_PREFIX}{validity}-{seen}")
    } else {
        format!("{SYNC_TOKEN_PREFIX}{validity}-{seen}.{}", position.index)
    }
}

/// The UIDVALIDITY and feed position a sync token names; `None` if it is
/// not one this server makes.
pub fn parse_sync_token(token: &str) -> Option<(u64, FeedPosition)> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    let rest = token.strip_prefix(SYNC_TOKEN_PREFIX)?;
    let (validity, place) = rest.split_once('-')?;
    let (seen, index) = match place.split_once('.') {
        Some((m, i)) => (m, Some(i)),
        None => (place, None),
    };
    if !digits(validity) || !digits(seen) || !index.is_none_or(digits) {
        return None;
    }
    let seen: u64 = seen.parse().ok()?;
    Some((
        validity.parse().ok()?,
        FeedPosition {
            modseq: seen.checked_add(1)?,
            index: match index {
                Some(i) => i.parse().ok()?,
                None => 0,
            },
        },
    ))
}

/// What a sync-collection asks.
struct SyncRequest {
    /// The token; empty for an initial sync.
    token: String,
    /// The properties to give of each member.
    props: Vec<xml::Name>,
    /// The most members to give.
    limit: Option<usize>,
}

fn invalid_token() -> DavError {
    DavError::condition(StatusCode::FORBIDDEN, "valid-sync-token")
}

fn parse_sync(root: &xml::Element) -> DavResult<SyncRequest> {
    let token = root
        .dav_child("sync-token")
        .map(|t| t.text().trim().to_string())
        .unwrap_or_default();
    match root.dav_child("sync-level").map(|l| l.text()) {
        Some(l) if l.trim() == "1" => {}
        Some(l) if l.trim() == "infinite" => {
            return Err(DavError::condition(
                StatusCode::FORBIDDEN,
                "sync-traversal-supported",
            ))
        }
        _ => return Err(DavError::bad_request("sync-level must be 1 or infinite")),
    }
    let props = match root.dav_child("prop") {
        Some(p) => asked_names(p)?,
        None => Vec::new(),
    };
    let limit = match root.dav_child("limit") {
        None => None,
        Some(l) => {
            let n = l
                .dav_child("nresults")
                .and_then(|n| n.text().trim().parse::<usize>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| DavError::bad_request("DAV:limit needs a positive nresults"))?;
            Some(n)
        }
    };
    Ok(SyncRequest {
        token,
        props,
        limit,
    })
}

/// Handles REPORT.
pub async fn handle(ctx: &Ctx<'_>, request: Request<RequestBody>) -> DavResult<Response<Body>> {
    match header_str(&request, "depth").map(str::trim) {
        None | Some("0") | Some("1") => {}
        Some(_) => {
            return Err(DavError::bad_request(
                "sync-collection takes Depth 0 (RFC 6578 3.2)",
            ))
        }
    }
    let root = read_xml(ctx, request.into_body())
        .await?
        .ok_or_else(|| DavError::bad_request("REPORT needs a body"))?;
    if !root.is_dav("sync-collection") {
        return Err(DavError::condition(
            StatusCode::FORBIDDEN,
            "supported-report",
        ));
    }
    let asked = parse_sync(&root)?;
    let Lookup::Found(resource) = lookup(ctx.store, &ctx.principal, &ctx.path).await? else {
        return Err(DavError::not_found());
    };
    let (folder, validity) = match &resource {
        Resource::Collection(c) => (Some(c.folder.clone()), u64::from(c.record.uid_validity)),
        Resource::Account(o) if *o == ctx.principal.login() => (None, ctx.principal.account()),
        _ => {
            return Err(DavError::condition(
                StatusCode::FORBIDDEN,
                "supported-report",
            ))
        }
    };
    let props = Asked::Prop(asked.props.clone());
    if asked.token.is_empty() {
        // The token is taken before the listing: a change made meanwhile
        // is given again next time, never lost.
        let end = ctx.store.feed_end(&ctx.principal, folder.as_ref()).await?;
        let listed = members(ctx.store, &ctx.principal, &ctx.path, &resource).await?;
        if asked.limit.is_some_and(|l| listed.len() > l) {
            return Err(DavError::condition(
                StatusCode::INSUFFICIENT_STORAGE,
                "number-of-matches-within-limits",
            ));
        }
        let entries = listed
            .into_iter()
            .map(|(p, r)| Entry::Member(p, Box::new(r)))
            .collect();
        return Ok(stream_multistatus(
            ctx,
            xml::reply_start("multistatus"),
            entries,
            props,
            token_tail(validity, end),
        ));
    }
    let (token_validity, from) = parse_sync_token(&asked.token).ok_or_else(invalid_token)?;
    if token_validity != validity {
        return Err(invalid_token());
    }
    let max_members = asked.limit.unwrap_or(MAX_MEMBERS).min(MAX_MEMBERS);
    let changes = match ctx
        .store
        .collection_changes(
            &ctx.principal,
            folder.as_ref(),
            from,
            max_members,
            MAX_SCANNED,
        )
        .await
    {
        Ok(c) => c,
        Err(StoreError::InvalidArgument(_)) => return Err(invalid_token()),
        Err(e) => return Err(e.into()),
    };
    let mut head = xml::reply_start("multistatus");
    if changes.truncated {
        // RFC 6578 3.6: the request-URI with 507 says the answer is partial.
        head.push_str(&format!(
            "<D:response><D:href>{}</D:href><D:status>HTTP/1.1 507 Insufficient Storage</D:status><D:error><D:number-of-matches-within-limits/></D:error></D:response>",
            xml::text(&ctx.path.href(true))
        ));
    }
    let mut entries = Vec::with_capacity(changes.members.len());
    for change in changes.members {
        entries.push(match change {
            MemberChange::Object {
                object: Some(object),
                name,
                ..
            } => {
                let path = ctx.path.child(&name);
                let found = match &resource {
                    Resource::Collection(c) => {
                        file_of(ctx.store, &ctx.principal, c, *object).await?
                    }
                    _ => None,
                };
                match found {
                    Some(f) => Entry::Member(path, Box::new(Resource::File(f))),
                    None => Entry::Made(removed(&path, false)),
                }
            }
            MemberChange::Object { name, .. } => {
                Entry::Made(removed(&ctx.path.child(&name), false))
            }
            MemberChange::Folder { name, exists } => {
                let leaf = name.rsplit('/').next().unwrap_or(&name);
                let path = ctx.path.child(leaf);
                let found = if exists {
                    match lookup(ctx.store, &ctx.principal, &path).await? {
                        Lookup::Found(r @ Resource::Collection(_)) => Some(r),
                        _ => None,
                    }
                } else {
                    None
                };
                match found {
                    Some(r) => Entry::Member(path, Box::new(r)),
                    None => Entry::Made(removed(&path, true)),
                }
            }
        });
    }
    Ok(stream_multistatus(
        ctx,
        head,
        entries,
        props,
        token_tail(validity, changes.next),
    ))
}

/// The end of a sync-collection answer: its new token.
fn token_tail(validity: u64, position: FeedPosition) -> String {
    format!(
        "<D:sync-token>{}</D:sync-token></D:multistatus>",
        xml::text(&sync_token(validity, position))
    )
}

/// The response of a removed member (RFC 6578 3.5.2): its href and 404.
fn removed(path: &DavPath, collection: bool) -> String {
    format!(
        "<D:response><D:href>{}</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>",
        xml::text(&path.href(collection))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for (v, m, i) in [(0, 1, 0), (1_700_000_000, 42, 0), (7, 1000, 3)] {
            let p = FeedPosition {
                modseq: m,
                index: i,
            };
            assert_eq!(parse_sync_token(&sync_token(v, p)), Some((v, p)));
        }
        assert_eq!(
            sync_token(
                5,
                FeedPosition {
                    modseq: 43,
                    index: 0
                }
            ),
            "http://cpm-store/ns/sync/5-42"
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for t in [
            "",
            "http://cpm-store/ns/sync/",
            "http://cpm-store/ns/sync/1",
            "http://cpm-store/ns/sync/1-",
            "http://cpm-store/ns/sync/1-+2",
            "http://cpm-store/ns/sync/1-2.",
            "http://cpm-store/ns/sync/1-18446744073709551615",
            "http://cpm-store/ns/sync/99999999999999999999-2",
            "http://example.com/sync/1-2",
        ] {
            assert_eq!(parse_sync_token(t), None, "{t}");
        }
    }
}
