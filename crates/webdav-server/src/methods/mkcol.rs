//! MKCOL (RFC 4918 9.3): creates a folder. The parent must exist (409
//! otherwise, unlike IMAP CREATE, which makes missing parents); a request
//! body is not understood (415).

use crate::service::RequestBody;
use hyper::{Request, Response, StatusCode};

use crate::conditions::Preconditions;
use crate::error::{DavError, DavResult};
use crate::resource::{folder_ref, lookup, Lookup, Resource};
use crate::service::{read_body, status, Body, Ctx};

/// Handles MKCOL.
pub async fn handle(ctx: &Ctx<'_>, request: Request<RequestBody>) -> DavResult<Response<Body>> {
    let preconditions = Preconditions::from_headers(request.headers())?;
    let has_body = !read_body(request.into_body(), ctx.config.max_xml_bytes)
        .await?
        .is_empty();
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
    if has_body {
        return Err(DavError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "MKCOL with a body is not supported",
        ));
    }
    preconditions
        .check_if(ctx.store, &ctx.principal, &ctx.path)
        .await?;
    preconditions
        .check_membership(ctx.store, &ctx.principal, &ctx.path)
        .await?;
    let owner = ctx.path.account().unwrap_or_default();
    let folder = folder_ref(&ctx.principal, owner, ctx.path.levels());
    ctx.store
        .create_folder(&ctx.principal, &folder, None)
        .await?;
    Ok(status(StatusCode::CREATED))
}
