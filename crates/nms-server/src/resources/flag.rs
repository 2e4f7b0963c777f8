//! `/objects/{objectId}/flags/{flagName}` (TS 6.4): whether one flag is
//! set (GET), set it (PUT), clear it (DELETE). The flag name is a path
//! segment, percent-encoded (`%5CSeen`).

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use store_core::FlagUpdate;

use http_front::Body;

use crate::error::NmsResult;
use crate::json;
use crate::resources::flags::{check_names, current};
use crate::service::Ctx;
use crate::types::EmptyRoot;

/// GET (TS 6.4.3): 204 when the flag is set; 404 with `{"empty": null}`
/// when it is not (D.14, D.15).
///
/// Errors: SVC0004 (404) for an object the principal may not read.
pub async fn get(ctx: &Ctx<'_>, number: u64, flag: &str) -> NmsResult<Response<Body>> {
    let found = ctx.object(number).await?;
    if current(ctx, &found).await?.contains(flag) {
        Ok(http_front::status(StatusCode::NO_CONTENT))
    } else {
        Ok(json::response(StatusCode::NOT_FOUND, &EmptyRoot::default()))
    }
}

/// PUT (TS 6.4.4): sets the flag; 201 with `Location` and
/// `{"empty": null}` when it was not set (D.16), 204 when it was.
///
/// Errors: SVC0002 for a bad flag name; SVC0004 (404) for an object the
/// principal may not read; POL0001 (403) without the right.
pub async fn put(ctx: &Ctx<'_>, number: u64, flag: &str) -> NmsResult<Response<Body>> {
    let flags = check_names([flag])?;
    let found = ctx.object(number).await?;
    let result = ctx
        .store
        .update_flags(
            &ctx.principal,
            &found.folder,
            &[found.uid],
            FlagUpdate::Add(flags),
            None,
        )
        .await
        .map_err(|e| ctx.store_error(e))?;
    if result.updated.is_empty() {
        return Ok(http_front::status(StatusCode::NO_CONTENT));
    }
    let location = format!(
        "{}/{}",
        ctx.urls.flags(number),
        crate::route::encode_segment(flag)
    );
    let mut r = json::response(StatusCode::CREATED, &EmptyRoot::default());
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// DELETE (TS 6.4.6): clears the flag; 204 (also when it was not set).
///
/// Errors: as [`put`].
pub async fn delete(ctx: &Ctx<'_>, number: u64, flag: &str) -> NmsResult<Response<Body>> {
    let flags = check_names([flag])?;
    let found = ctx.object(number).await?;
    ctx.store
        .update_flags(
            &ctx.principal,
            &found.folder,
            &[found.uid],
            FlagUpdate::Remove(flags),
            None,
        )
        .await
        .map_err(|e| ctx.store_error(e))?;
    Ok(http_front::status(StatusCode::NO_CONTENT))
}
