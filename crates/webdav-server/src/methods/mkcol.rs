//! MKCOL (RFC 4918 9.3): creates a folder. The parent must exist (409
//! otherwise, unlike IMAP CREATE, which makes missing parents). A body
//! that is an RFC 5689 extended MKCOL (`DAV:mkcol` with `DAV:set`) sets
//! properties of the new folder: `DAV:displayname` and dead properties;
//! `DAV:resourcetype` may only say `DAV:collection` (else 403
//! `DAV:valid-resourcetype`); any other live property makes the whole
//! request fail with 403 and a `DAV:mkcol-response` (RFC 5689 3), the
//! folder not made; properties that do not fit (store-core's metadata
//! limits) the same with 507. The folder and its properties are one
//! store-core write: the request makes both or neither, for the owner as
//! for a grantee with `k` on the parent. Any other body is not understood
//! (415).

use crate::service::RequestBody;
use hyper::{Request, Response, StatusCode};

use store_core::StoreError;

use crate::conditions::Preconditions;
use crate::error::{DavError, DavResult};
use crate::properties::{dead_entry, is_protected};
use crate::resource::{folder_ref, lookup, Lookup, Resource};
use crate::service::{read_body, status, xml_response, Body, Ctx};
use crate::xml::{self, Name};

/// The properties of an RFC 5689 extended MKCOL body: name and element
/// to set; `None` for a body that is not one (415).
fn extended(ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Option<Vec<(Name, String)>>> {
    let limits = xml::Limits {
        max_depth: ctx.config.max_xml_depth,
        max_attributes: ctx.config.max_xml_attributes,
    };
    let Ok(root) = xml::parse(body, limits) else {
        return Ok(None);
    };
    if !root.is_dav("mkcol") {
        return Ok(None);
    }
    let mut props = Vec::new();
    for set in root.elements().filter(|e| e.is_dav("set")) {
        for prop in set.elements().filter(|e| e.is_dav("prop")) {
            for p in prop.elements() {
                if p.is_dav("resourcetype") {
                    let only_collection = p.elements().all(|t| t.is_dav("collection"));
                    if !only_collection {
                        return Err(DavError::condition(
                            StatusCode::FORBIDDEN,
                            "valid-resourcetype",
                        ));
                    }
                    continue;
                }
                props.push((p.name.clone(), p.to_xml()));
            }
        }
    }
    Ok(Some(props))
}

/// The `DAV:mkcol-response` (RFC 5689 3) of a refused extended MKCOL,
/// with status `status`: 403 for each protected property, 424 for the
/// others; when none is protected (`507`: the properties do not fit), that
/// status for each.
fn refused(props: &[(Name, String)], status: StatusCode) -> Response<Body> {
    let mut body = xml::reply_start("mkcol-response");
    let any_protected = props.iter().any(|(n, _)| is_protected(n));
    for (name, _) in props {
        let line = if is_protected(name) {
            "403 Forbidden".to_string()
        } else if any_protected {
            "424 Failed Dependency".to_string()
        } else {
            status.to_string()
        };
        body.push_str(&format!(
            "<D:propstat><D:prop>{}</D:prop><D:status>HTTP/1.1 {line}</D:status></D:propstat>",
            name.empty_element()
        ));
    }
    body.push_str("</D:mkcol-response>");
    xml_response(status, body)
}

/// Handles MKCOL.
pub async fn handle(ctx: &Ctx<'_>, request: Request<RequestBody>) -> DavResult<Response<Body>> {
    let preconditions = Preconditions::from_headers(request.headers())?;
    let body = read_body(request.into_body(), ctx.config.max_xml_bytes).await?;
    match lookup(ctx.store, &ctx.principal, &ctx.path).await? {
        Lookup::Found(_) => {
            return Err(DavError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "the resource exists",
            ))
        }
        Lookup::Missing {
            parent: Some(Resource::Collection(_) | Resource::Account(_)),
        } => {}
        Lookup::Missing {
            parent: Some(Resource::Root),
        } => return Err(DavError::forbidden("accounts are not made over WebDAV")),
        Lookup::Missing { .. } => {
            return Err(DavError::conflict("the parent collection does not exist"))
        }
    }
    let props = if body.is_empty() {
        Vec::new()
    } else {
        extended(ctx, &body)?.ok_or_else(|| {
            DavError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a MKCOL body must be an RFC 5689 DAV:mkcol",
            )
        })?
    };
    if props.iter().any(|(n, _)| is_protected(n)) {
        return Ok(refused(&props, StatusCode::FORBIDDEN));
    }
    preconditions
        .check_if(ctx.store, &ctx.principal, &ctx.path)
        .await?;
    preconditions
        .check_membership(ctx.store, &ctx.principal, &ctx.path)
        .await?;
    let owner = ctx.path.account().unwrap_or_default();
    let folder = folder_ref(&ctx.principal, owner, ctx.path.levels());
    if props.is_empty() {
        ctx.store
            .create_folder(&ctx.principal, &folder, None)
            .await?;
    } else {
        // RFC 5689 3: one commit makes the folder with its properties, all
        // checked first: a refusal leaves nothing made.
        let entries = props
            .iter()
            .map(|(n, v)| (dead_entry(n), v.clone().into_bytes()))
            .collect();
        match ctx
            .store
            .create_folder_with_metadata(&ctx.principal, &folder, entries)
            .await
        {
            Ok(_) => {}
            Err(StoreError::InvalidArgument(_) | StoreError::MetadataLimit(_)) => {
                return Ok(refused(&props, StatusCode::INSUFFICIENT_STORAGE));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(status(StatusCode::CREATED))
}
