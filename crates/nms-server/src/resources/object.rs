//! `/objects/{objectId}` (TS 6.2): GET an object's metadata, DELETE the
//! object with its payload.

use hyper::{Response, StatusCode};
use store_core::mime::MessageSummary;
use store_core::model::Object;

use http_front::Body;

use crate::error::NmsResult;
use crate::json;
use crate::locate::FoundObject;
use crate::representation::{self, MAX_TEXT_CONTENT_CHARS};
use crate::service::Ctx;
use crate::types::ObjectRoot;

/// GET (TS 6.2.3): `{"object": Object}`.
///
/// Errors: SVC0004 (404) for an object the principal may not read.
pub async fn get(ctx: &Ctx<'_>, number: u64) -> NmsResult<Response<Body>> {
    let found = ctx.object(number).await?;
    let object = represent(ctx, &found).await?;
    Ok(json::response(StatusCode::OK, &ObjectRoot { object }))
}

/// The representation of a located object (TS 5.3.2.1).
///
/// Errors: SVC0004 (404) when it went away meanwhile.
pub async fn represent(ctx: &Ctx<'_>, found: &FoundObject) -> NmsResult<crate::types::Object> {
    let (object, summary) = ctx
        .store
        .fetch_object(&ctx.principal, &found.folder, found.uid)
        .await
        .map_err(|e| ctx.store_error(e))?;
    let place = ctx.place_of(&found.folder).await?;
    let text = text_content(ctx, found, &object, &summary).await;
    Ok(representation::object(
        &ctx.urls,
        &place,
        found.number,
        &object,
        &summary,
        text,
    ))
}

/// The `TextContent` attribute (TS 5.1.9, Appendix I): the text of a
/// single-part `text/plain` object of at most
/// [`MAX_TEXT_CONTENT_CHARS`] characters (a chat message), transfer
/// decoding undone, as UTF-8; `None` for any other object or when it
/// cannot be read.
pub async fn text_content(
    ctx: &Ctx<'_>,
    found: &FoundObject,
    object: &Object,
    summary: &MessageSummary,
) -> Option<String> {
    let body = &summary.body;
    let limit = (MAX_TEXT_CONTENT_CHARS * 4) as u64;
    if body.media_type != "text" || body.media_subtype != "plain" || body.size() > limit {
        return None;
    }
    let decoding = store_core::section::transfer_decoding(body, &[1]).ok()??;
    let mut reader = ctx
        .store
        .open_content(&ctx.principal, &found.folder, found.uid)
        .await
        .ok()?
        .content(body.body_start, body.size().min(object.size))
        .await;
    let mut raw = Vec::new();
    while let Some(chunk) = reader.next_chunk().await {
        raw.extend_from_slice(&chunk.ok()?);
    }
    let decoded = store_core::section::decode_transfer(decoding, &raw);
    let text = String::from_utf8(decoded).ok()?;
    (text.chars().count() <= MAX_TEXT_CONTENT_CHARS).then_some(text)
}

/// DELETE (TS 6.2.6): removes the object for good; 204.
///
/// Errors: SVC0004 (404) for an object the principal may not read; POL0001
/// (403) without the right to expunge (`t` and `e`, RFC 4314).
pub async fn delete(ctx: &Ctx<'_>, number: u64) -> NmsResult<Response<Body>> {
    let found = ctx.object(number).await?;
    let removed = ctx
        .store
        .remove_objects(&ctx.principal, &found.folder, &[found.uid])
        .await
        .map_err(|e| ctx.store_error(e))?;
    if removed.is_empty() {
        return Err(ctx.not_found());
    }
    Ok(http_front::status(StatusCode::NO_CONTENT))
}
