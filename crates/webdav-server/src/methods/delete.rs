//! DELETE (RFC 4918 9.6): an object is removed (store-core "object
//! remove"), a collection with everything below it; locks on what was
//! deleted go with it. A collection's DELETE acts as `Depth: infinity`
//! (RFC 4918 9.6.1); any other Depth on a collection gets 400 and deletes
//! nothing, as Apache mod_dav answers.

use crate::service::RequestBody;
use hyper::{Request, Response, StatusCode};

use store_core::rights::Right;
use store_core::StoreError;

use crate::conditions::{check_http, Preconditions};
use crate::error::{DavError, DavResult};
use crate::resource::{lookup, Lookup, Resource};
use crate::service::{header_str, status, Body, Ctx};
use crate::tree;

/// Handles DELETE.
pub async fn handle(ctx: &Ctx<'_>, request: Request<RequestBody>) -> DavResult<Response<Body>> {
    if request.uri().path().contains('#') {
        return Err(DavError::bad_request("a fragment is not part of a path"));
    }
    let infinite = match header_str(&request, "depth").map(str::trim) {
        None => true,
        Some(d) if d.eq_ignore_ascii_case("infinity") => true,
        Some("0" | "1") => false,
        Some(_) => return Err(DavError::bad_request("Depth must be 0, 1 or infinity")),
    };
    let Lookup::Found(resource) = lookup(ctx.store, &ctx.principal, &ctx.path).await? else {
        return Err(DavError::not_found());
    };
    if resource.is_collection() && !infinite {
        return Err(DavError::bad_request(
            "DELETE of a collection must have Depth: infinity (RFC 4918 9.6.1)",
        ));
    }
    let modified = match &resource {
        Resource::File(f) => Some(f.object.internal_date),
        _ => None,
    };
    // Authorization before lock state: a principal without the right
    // learns nothing of locks.
    let needed = match &resource {
        Resource::File(f) => Some((f.rights, Right::Expunge)),
        Resource::Collection(c) => Some((c.rights, Right::DeleteFolder)),
        _ => None,
    };
    if let Some((_, right)) = needed.filter(|(rights, right)| !rights.contains(*right)) {
        return Err(StoreError::PermissionDenied(right).into());
    }
    check_http(
        request.headers(),
        resource.etag().as_deref(),
        modified,
        false,
    )?;
    let preconditions = Preconditions::from_headers(request.headers())?;
    preconditions
        .check_write(ctx.store, &ctx.principal, &ctx.path, true)
        .await?;
    preconditions
        .check_membership(ctx.store, &ctx.principal, &ctx.path)
        .await?;
    match &resource {
        Resource::Root | Resource::Account(_) => {
            return Err(DavError::forbidden("an account root cannot be deleted"))
        }
        Resource::File(f) => {
            let removed = ctx
                .store
                .remove_objects(&ctx.principal, &f.folder, &[f.object.uid])
                .await?;
            if removed.is_empty() {
                return Err(DavError::not_found());
            }
        }
        Resource::Collection(c) => tree::delete(ctx.store, &ctx.principal, c).await?,
    }
    Ok(status(StatusCode::NO_CONTENT))
}
