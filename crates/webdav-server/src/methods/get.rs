//! GET and HEAD (RFC 9110 9.3.1-2): a file's bytes streamed from its blob,
//! with a strong ETag, Last-Modified, single byte ranges (RFC 9110 14),
//! If-Range and the 304 preconditions; `?preview=WxH` on an image returns
//! a thumbnail (seed 002 "preview fetch", the operation IMAP CONVERT
//! uses). A collection answers with a plain list of its members.

use crate::service::RequestBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use store_core::rights::Right;
use store_core::{PreviewRequest, MAX_PREVIEW_DIMENSION};

use http_front::{parse_range, RangeRequest};

use crate::conditions::{check_http, if_range_holds, HttpPrecondition};
use crate::error::{DavError, DavResult};
use crate::properties::http_date;
use crate::resource::{lookup, members, File, Lookup, Resource};
use crate::service::{full, status, Body, Ctx};

/// Handles GET and HEAD.
pub async fn handle(ctx: &Ctx<'_>, request: Request<RequestBody>) -> DavResult<Response<Body>> {
    let resource = match lookup(ctx.store, &ctx.principal, &ctx.path).await? {
        Lookup::Found(r) => r,
        Lookup::Missing {
            parent: Some(Resource::Collection(c)),
        } if !c.rights.contains(Right::Read) => {
            return Err(DavError::forbidden("right 'r' required (RFC 4314)"))
        }
        Lookup::Missing { .. } => return Err(DavError::not_found()),
    };
    let head = request.method() == Method::HEAD;
    let file = match resource {
        Resource::File(f) => f,
        collection => return list(ctx, &collection).await,
    };
    if let Some(size) = preview_size(request.uri().query())? {
        return preview(ctx, &file, size).await;
    }
    let etag = Resource::File(file.clone()).etag();
    let modified = file.object.internal_date;
    let mut response = match check_http(request.headers(), etag.as_deref(), Some(modified), true)? {
        HttpPrecondition::NotModified => status(StatusCode::NOT_MODIFIED),
        HttpPrecondition::Proceed => {
            let total = file.content.length;
            let range = match request
                .headers()
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok())
            {
                Some(r) if if_range_holds(request.headers(), etag.as_deref(), modified) => {
                    parse_range(r, total)
                }
                _ => RangeRequest::Whole,
            };
            let (status_code, offset, length) = match range {
                RangeRequest::Whole => (StatusCode::OK, 0, total),
                RangeRequest::Part(start, end) => {
                    (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
                }
                RangeRequest::Unsatisfiable => {
                    let mut r = status(StatusCode::RANGE_NOT_SATISFIABLE);
                    r.headers_mut().insert(
                        header::CONTENT_RANGE,
                        header_value(&format!("bytes */{total}")),
                    );
                    return Ok(r);
                }
            };
            let body = if head {
                crate::service::empty()
            } else {
                stream(ctx, &file, offset, length).await?
            };
            let mut r = Response::new(body);
            *r.status_mut() = status_code;
            let h = r.headers_mut();
            h.insert(header::CONTENT_LENGTH, header_value(&length.to_string()));
            h.insert(header::CONTENT_TYPE, header_value(&file.content.media_type));
            if status_code == StatusCode::PARTIAL_CONTENT {
                h.insert(
                    header::CONTENT_RANGE,
                    header_value(&format!("bytes {offset}-{}/{total}", offset + length - 1)),
                );
            }
            r
        }
    };
    let h = response.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(e) = etag {
        h.insert(header::ETAG, header_value(&e));
    }
    h.insert(header::LAST_MODIFIED, header_value(&http_date(modified)));
    Ok(response)
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// The `length` bytes of a file's content from `offset`, read on the
/// blocking pool in chunks of up to 1 MiB (a range of up to 4 MiB in one
/// trip), one body frame per chunk ([`store_core::blob::ContentReader`]).
async fn stream(ctx: &Ctx<'_>, file: &File, offset: u64, length: u64) -> DavResult<Body> {
    let reader = ctx
        .store
        .open_content(&ctx.principal, &file.folder, file.object.uid)
        .await?
        .content(file.content.start + offset, length)
        .await;
    let frames = futures_util::stream::unfold(reader, |mut reader| async move {
        let chunk = reader.next_chunk().await?;
        Some((chunk.map(Frame::data), reader))
    });
    Ok(BodyExt::boxed(StreamBody::new(frames)))
}

/// `preview=WxH` from the query, if present.
///
/// Errors: 400 for a malformed size or one out of range.
fn preview_size(query: Option<&str>) -> DavResult<Option<(u32, u32)>> {
    let Some(value) = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("preview="))
    else {
        return Ok(None);
    };
    let bad =
        || DavError::bad_request(format!("preview must be WxH, 1 to {MAX_PREVIEW_DIMENSION}"));
    let (w, h) = value.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h) = (
        w.parse::<u32>().map_err(|_| bad())?,
        h.parse::<u32>().map_err(|_| bad())?,
    );
    if !(1..=MAX_PREVIEW_DIMENSION).contains(&w) || !(1..=MAX_PREVIEW_DIMENSION).contains(&h) {
        return Err(bad());
    }
    Ok(Some((w, h)))
}

async fn preview(
    ctx: &Ctx<'_>,
    file: &File,
    (width, height): (u32, u32),
) -> DavResult<Response<Body>> {
    let request = PreviewRequest {
        part: Vec::new(),
        width,
        height,
        format: None,
    };
    let preview = ctx
        .store
        .preview(&ctx.principal, &file.folder, file.object.uid, &request)
        .await?;
    let mut r = Response::new(full(preview.bytes));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(preview.format.media_type()),
    );
    Ok(r)
}

/// A collection's members as plain text, one href per line.
async fn list(ctx: &Ctx<'_>, collection: &Resource) -> DavResult<Response<Body>> {
    let mut text = String::new();
    for (path, member) in members(ctx.store, &ctx.principal, &ctx.path, collection).await? {
        text.push_str(&path.href(member.is_collection()));
        text.push('\n');
    }
    let mut r = Response::new(full(text));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_sizes_are_bounded() {
        assert_eq!(preview_size(Some("preview=64x48")).unwrap(), Some((64, 48)));
        assert_eq!(preview_size(Some("a=b")).unwrap(), None);
        assert!(preview_size(Some("preview=0x10")).is_err());
        assert!(preview_size(Some("preview=99999x10")).is_err());
        assert!(preview_size(Some("preview=big")).is_err());
    }
}
