//! UNLOCK (RFC 4918 9.11): removes the lock named by `Lock-Token` if it
//! covers the request path and the principal created it, owns the tree it
//! lies in, holds `a` on its folder, or is the administrator (RFC 3744 3.5
//! `DAV:unlock`; store-core's `remove_lock` decides).

use crate::service::RequestBody;
use hyper::{Request, Response, StatusCode};
use store_core::StoreError;

use crate::error::{DavError, DavResult};
use crate::service::{header_str, status, Body, Ctx};

/// Handles UNLOCK.
pub async fn handle(ctx: &Ctx<'_>, request: Request<RequestBody>) -> DavResult<Response<Body>> {
    let token = header_str(&request, "lock-token")
        .map(str::trim)
        .and_then(|t| t.strip_prefix('<'))
        .and_then(|t| t.strip_suffix('>'))
        .ok_or_else(|| DavError::bad_request("Lock-Token is required"))?;
    match ctx
        .store
        .remove_lock(&ctx.principal, token, &ctx.path.lock_key())
        .await
    {
        Ok(()) => Ok(status(StatusCode::NO_CONTENT)),
        Err(StoreError::Locked { .. }) => {
            Err(DavError::forbidden("the lock belongs to another principal"))
        }
        Err(e) => Err(e.into()),
    }
}
