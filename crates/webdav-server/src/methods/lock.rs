//! LOCK (RFC 4918 9.10): a new exclusive or shared write lock, Depth 0 or
//! infinity, kept by store-core; or, without a body, the refresh of a lock
//! named in the `If` header. A lock on an unmapped URL creates an empty
//! file (RFC 4918 7.3) and answers 201.

use crate::service::RequestBody;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use store_core::model::ObjectKind;
use store_core::{NewLock, NewObject};

use crate::conditions::Preconditions;
use crate::error::{DavError, DavResult};
use crate::media;
use crate::properties::active_lock;
use crate::resource::{lookup, Lookup, Resource};
use crate::service::{header_str, read_xml, xml_response, Body, Ctx};
use crate::xml;

/// Handles LOCK.
pub async fn handle(ctx: &Ctx<'_>, request: Request<RequestBody>) -> DavResult<Response<Body>> {
    let timeout = parse_timeout(header_str(&request, "timeout"));
    let infinite = match header_str(&request, "depth").map(str::trim) {
        None => true,
        Some(d) if d.eq_ignore_ascii_case("infinity") => true,
        Some("0") => false,
        Some(_) => return Err(DavError::bad_request("Depth must be 0 or infinity")),
    };
    let preconditions = Preconditions::from_headers(request.headers())?;
    let Some(info) = read_xml(ctx, request.into_body()).await? else {
        return refresh(ctx, &preconditions, timeout).await;
    };
    if !info.is_dav("lockinfo") {
        return Err(DavError::bad_request("the body is not a DAV:lockinfo"));
    }
    let exclusive = match info
        .dav_child("lockscope")
        .and_then(|s| s.elements().next())
    {
        Some(s) if s.is_dav("exclusive") => true,
        Some(s) if s.is_dav("shared") => false,
        _ => {
            return Err(DavError::bad_request(
                "lockscope must be exclusive or shared",
            ))
        }
    };
    if !info
        .dav_child("locktype")
        .and_then(|t| t.elements().next())
        .is_some_and(|t| t.is_dav("write"))
    {
        return Err(DavError::bad_request("only write locks exist"));
    }
    let owner = info.dav_child("owner").map(xml::Element::to_xml);

    let (created_in, status_code) = match lookup(ctx.store, &ctx.principal, &ctx.path).await? {
        Lookup::Found(Resource::Root | Resource::Account(_)) => {
            return Err(DavError::forbidden("account roots cannot be locked"))
        }
        // The right to lock is store-core's rule (`create_lock`: `i`).
        Lookup::Found(Resource::File(_) | Resource::Collection(_)) => (None, StatusCode::OK),
        Lookup::Missing {
            parent: Some(Resource::Collection(c)),
        } => {
            media::check_macos_metadata(ctx.store, ctx.path.name().unwrap_or_default())?;
            (Some(c), StatusCode::CREATED)
        }
        Lookup::Missing { .. } => {
            return Err(DavError::conflict("the parent collection does not exist"))
        }
    };
    preconditions
        .check_if(ctx.store, &ctx.principal, &ctx.path)
        .await?;
    if created_in.is_some() {
        preconditions
            .check_membership(ctx.store, &ctx.principal, &ctx.path)
            .await?;
    }
    let lock = ctx
        .store
        .create_lock(
            &ctx.principal,
            NewLock {
                root: ctx.path.lock_key(),
                infinite,
                exclusive,
                owner,
                timeout,
            },
        )
        .await?;
    if let Some(collection) = created_in {
        let name = ctx.path.name().unwrap_or_default().to_string();
        let header = media::header(&name, "application/octet-stream");
        let blob = ctx.store.stage_bytes(header.as_bytes()).await?;
        let object = NewObject {
            kind: Some(ObjectKind::MediaObject),
            file_name: Some(name),
            ..NewObject::new(blob)
        };
        // The new lock protects the name: its token goes with the store,
        // after it those the client submitted (a depth-infinity lock of
        // its own on the parent collection, RFC 4918 7.4).
        let submitted = ctx.principal.lock_tokens().iter().cloned();
        let holder = ctx
            .principal
            .with_lock_tokens(std::iter::once(lock.token.clone()).chain(submitted));
        if let Err(e) = ctx
            .store
            .store_object(&holder, &collection.folder, object)
            .await
        {
            let _ = ctx
                .store
                .remove_lock(&ctx.principal, &lock.token, &lock.root)
                .await;
            return Err(e.into());
        }
    }
    let mut r = lock_reply(status_code, &lock);
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", lock.token)) {
        r.headers_mut().insert("Lock-Token", v);
    }
    Ok(r)
}

/// Refreshes the lock the `If` header names (RFC 4918 9.10.2).
async fn refresh(
    ctx: &Ctx<'_>,
    preconditions: &Preconditions,
    timeout: Option<u64>,
) -> DavResult<Response<Body>> {
    let key = ctx.path.lock_key();
    let covering = ctx.store.locks_covering(&key).await?;
    for token in preconditions.tokens() {
        if covering.iter().any(|l| l.token == token) {
            let lock = ctx
                .store
                .refresh_lock(&ctx.principal, token, timeout)
                .await?;
            return Ok(lock_reply(StatusCode::OK, &lock));
        }
    }
    Err(DavError::condition(
        StatusCode::PRECONDITION_FAILED,
        "lock-token-matches-request-uri",
    ))
}

fn lock_reply(status_code: StatusCode, lock: &store_core::Lock) -> Response<Body> {
    let mut body = xml::reply_start("prop");
    body.push_str(&format!(
        "<D:lockdiscovery>{}</D:lockdiscovery></D:prop>",
        active_lock(lock)
    ));
    let mut r = xml_response(status_code, body);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The first usable value of a `Timeout` header (RFC 4918 10.7), in
/// seconds; `None` for `Infinite` or no header (the store then grants its
/// maximum).
fn parse_timeout(value: Option<&str>) -> Option<u64> {
    value?
        .split(',')
        .map(str::trim)
        .find_map(|t| {
            if t.eq_ignore_ascii_case("infinite") {
                Some(None)
            } else {
                t.strip_prefix("Second-")
                    .and_then(|n| n.parse::<u64>().ok())
                    .map(Some)
            }
        })
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_rfc4918() {
        assert_eq!(parse_timeout(Some("Second-3600")), Some(3600));
        assert_eq!(parse_timeout(Some("Infinite, Second-4100000000")), None);
        assert_eq!(parse_timeout(Some("bogus, Second-20")), Some(20));
        assert_eq!(parse_timeout(None), None);
    }
}
