//! PUT (RFC 9110 9.3.4, RFC 4918 9.7): the body is streamed into the blob
//! store behind a media object header ([`crate::media`]) and stored as one
//! object; over an existing resource the new object replaces it in the
//! same transaction, keeping its dead properties. 201 for a new resource,
//! 204 for a replaced one (also one whose name appeared since the lookup);
//! the reply is sent once the object is durable. An unconditional PUT
//! replaces whatever holds the name when it commits (of concurrent PUTs
//! the last wins); a conditional one (`If-Match`, `If-None-Match`, or an
//! entity tag in `If`) replaces exactly the resource its condition held
//! for, and gets 412 if that changed before the write committed (RFC 9110
//! 13.1.1, 13.1.2: no lost update).
//! A PUT with `Content-Range` (a partial PUT) gets 400 (RFC 9110 14.5).
//! The stored media type is the client's Content-Type when it sent one;
//! without one it is found from the content, then the file name
//! ([`media::sniff_content_type`], RFC 9110 8.3).

use crate::service::RequestBody;
use http_body_util::BodyExt;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use store_core::model::ObjectKind;
use store_core::{NewObject, StoreError};

use crate::conditions::{check_http, Preconditions};
use crate::error::{DavError, DavResult};
use crate::media;
use crate::resource::{file_etag, lookup, Collection, Lookup, Resource};
use crate::service::{header_str, status, Body, Ctx};

/// Handles PUT.
///
/// A `Content-Range` gets 400 before anything is read or stored: partial
/// PUT is not supported, and RFC 9110 14.5 requires 400 then, rather than
/// storing the fragment as the whole representation.
pub async fn handle(ctx: &Ctx<'_>, request: Request<RequestBody>) -> DavResult<Response<Body>> {
    if request.headers().contains_key(header::CONTENT_RANGE) {
        return Err(DavError::bad_request(
            "partial PUT (Content-Range) is not supported (RFC 9110 14.5)",
        ));
    }
    media::check_macos_metadata(ctx.store, ctx.path.name().unwrap_or_default())?;
    let (collection, existing) = match lookup(ctx.store, &ctx.principal, &ctx.path).await? {
        Lookup::Found(Resource::File(f)) => {
            let (record, rights) = ctx.store.folder_status(&ctx.principal, &f.folder).await?;
            let c = Collection {
                folder: f.folder.clone(),
                record,
                rights,
            };
            (c, Some(f))
        }
        Lookup::Found(_) => {
            return Err(DavError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "PUT on a collection",
            ))
        }
        Lookup::Missing {
            parent: Some(Resource::Collection(c)),
        } => (c, None),
        Lookup::Missing { .. } => {
            return Err(DavError::conflict("the parent collection does not exist"))
        }
    };
    let etag = existing.clone().map(Resource::File).and_then(|r| r.etag());
    check_http(
        request.headers(),
        etag.as_deref(),
        existing.as_ref().map(|f| f.object.internal_date),
        false,
    )?;
    let preconditions = Preconditions::from_headers(request.headers())?;
    preconditions
        .check_write(ctx.store, &ctx.principal, &ctx.path, false)
        .await?;
    if existing.is_none() {
        preconditions
            .check_membership(ctx.store, &ctx.principal, &ctx.path)
            .await?;
    }
    let limit = ctx.config.max_put_bytes;
    let declared = header_str(&request, "content-length").and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let conditional = request.headers().contains_key(header::IF_MATCH)
        || request.headers().contains_key(header::IF_NONE_MATCH)
        || preconditions.has_etag_condition();
    let name = ctx.path.name().unwrap_or_default().to_string();
    let content_type = media::sanitize_content_type(header_str(&request, "content-type"));
    let object = NewObject {
        kind: Some(ObjectKind::MediaObject),
        file_name: Some(name.clone()),
        replaces: existing.as_ref().map(|f| f.object.uid),
        // Of concurrent unconditional PUTs to one name the last one wins
        // (RFC 9110 9.3.4): a name taken since the lookup is replaced, not
        // a 409. A conditional PUT replaces only what it was checked on.
        replace_named: !conditional,
        ..NewObject::new(receive(ctx, request.into_body(), &name, content_type, limit).await?)
    };
    let blob = object.blob.id;
    let stored = match ctx
        .store
        .store_object(&ctx.principal, &collection.folder, object)
        .await
    {
        // The resource changed between the condition and the write.
        Err(StoreError::ObjectExists | StoreError::NoSuchObject) if conditional => {
            return Err(DavError::precondition_failed())
        }
        other => other?,
    };
    let mut r = status(if stored.replaced {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    });
    if let Ok(v) = HeaderValue::from_str(&file_etag(stored.uid, &blob)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

fn too_large() -> DavError {
    DavError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the body exceeds the size limit",
    )
}

/// Streams the request body, behind the media object header, into a new
/// blob. Without a usable `content_type` from the client, the first
/// [`media::SNIFF_BYTES`] are read before the header is written, and the
/// type is found from them and the name ([`media::sniff_content_type`]).
/// A body cut short or over `limit` leaves nothing behind (the unfinished
/// blob is removed when dropped).
async fn receive(
    ctx: &Ctx<'_>,
    mut body: RequestBody,
    name: &str,
    content_type: Option<String>,
    limit: u64,
) -> DavResult<store_core::blob::StagedBlob> {
    let io = |e: std::io::Error| DavError::from(StoreError::from(e));
    let mut received = 0u64;
    let mut next = async || -> DavResult<Option<bytes::Bytes>> {
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|_| DavError::bad_request("the request body was cut short"))?;
            if let Ok(data) = frame.into_data() {
                received += data.len() as u64;
                if received > limit {
                    return Err(too_large());
                }
                return Ok(Some(data));
            }
        }
        Ok(None)
    };
    let mut head = Vec::new();
    let mut ended = false;
    let content_type = match content_type {
        Some(t) => t,
        None => {
            while head.len() < media::SNIFF_BYTES {
                match next().await? {
                    Some(data) => head.extend_from_slice(&data),
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            media::sniff_content_type(name, &head)
        }
    };
    let mut writer = ctx.store.blob_writer().await?;
    writer
        .write(media::header(name, &content_type).as_bytes())
        .await
        .map_err(io)?;
    writer.write(&head).await.map_err(io)?;
    if !ended {
        while let Some(data) = next().await? {
            writer.write(&data).await.map_err(io)?;
        }
    }
    writer.finish().await.map_err(io)
}
