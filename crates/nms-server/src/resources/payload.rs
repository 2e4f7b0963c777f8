//! An object's payload (`/objects/{objectId}/payload`, TS 6.5) and its
//! payload parts (`/objects/{objectId}/payloadParts/{partId}`, TS 6.6),
//! with single byte ranges (RFC 9110 14).
//!
//! The payload is the object's content below its header block (the
//! header fields are the object's attributes): a multipart's body with
//! its `Content-Type` (boundary included), or a single part's content
//! with its transfer encoding undone. A payload part is a first-level
//! part's content, transfer encoding undone, with its own type; deeper
//! parts are named `2.1` as IMAP numbers them.

use std::ops::Range;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use store_core::blob::BlobReader;
use store_core::section::{self, TransferDecoding};

use http_front::{parse_range, Body, RangeRequest, RequestBody};

use crate::error::{NmsError, NmsResult};
use crate::representation;
use crate::service::Ctx;

/// GET of the payload (`part` empty) or of payload part `part`.
///
/// Errors: SVC0004 (404) for an object the principal may not read or a
/// part it does not have; 416 for a range past the end; 500 for a part
/// whose transfer encoding is unknown or too large to decode.
pub async fn get(
    ctx: &Ctx<'_>,
    number: u64,
    part: &[u32],
    request: &Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    let found = ctx.object(number).await?;
    let (object, summary) = ctx
        .store
        .fetch_object(&ctx.principal, &found.folder, found.uid)
        .await
        .map_err(|e| ctx.store_error(e))?;
    let root = &summary.body;
    // The payload of a single part is that part (IMAP's part 1).
    let numbers: &[u32] = match (part, root.children.is_empty()) {
        ([], true) => &[1],
        (numbers, _) => numbers,
    };
    let (range, content_type, decoding) = if numbers.is_empty() {
        let range = section::section_range(root, object.size, &[], section::SectionText::Text)
            .ok_or_else(|| ctx.not_found())?;
        (
            range,
            representation::content_type(root),
            TransferDecoding::Identity,
        )
    } else {
        let target = section::find_part(root, numbers).ok_or_else(|| ctx.not_found())?;
        let range = section::section_range(root, object.size, numbers, section::SectionText::Body)
            .ok_or_else(|| ctx.not_found())?;
        let decoding = section::transfer_decoding(root, numbers)
            .map_err(|e| NmsError::status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .ok_or_else(|| ctx.not_found())?;
        (range, representation::content_type(target), decoding)
    };
    let reader = ctx
        .store
        .open_content(&ctx.principal, &found.folder, found.uid)
        .await
        .map_err(|e| ctx.store_error(e))?;
    let stored = match decoding {
        TransferDecoding::Identity | TransferDecoding::Binary => None,
        encoded => Some(encoded),
    };
    // Content whose transfer encoding must be undone is decoded in
    // memory (bounded as IMAP BINARY is); the rest is streamed.
    let (total, content) = match stored {
        None => (range.end - range.start, Content::Stored(range, reader)),
        Some(decoding) => {
            if range.end - range.start > section::MAX_BINARY_DECODE {
                return Err(NmsError::status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the part is too large to decode",
                ));
            }
            let mut chunks = reader.content(range.start, range.end - range.start).await;
            let mut raw = Vec::new();
            while let Some(chunk) = chunks.next_chunk().await {
                raw.extend_from_slice(&chunk.map_err(|e| ctx.store_error(e.into()))?);
            }
            let decoded = Bytes::from(section::decode_transfer(decoding, &raw));
            (decoded.len() as u64, Content::Decoded(decoded))
        }
    };
    let wanted = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(RangeRequest::Whole, |r| parse_range(r, total));
    let (status, offset, length) = match wanted {
        RangeRequest::Whole => (StatusCode::OK, 0, total),
        RangeRequest::Part(first, last) => (StatusCode::PARTIAL_CONTENT, first, last - first + 1),
        RangeRequest::Unsatisfiable => {
            let mut r = http_front::status(StatusCode::RANGE_NOT_SATISFIABLE);
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{total}")),
            );
            return Ok(r);
        }
    };
    let body = match content {
        Content::Stored(range, reader) => {
            let reader = reader.content(range.start + offset, length).await;
            let frames = futures_util::stream::unfold(reader, |mut reader| async move {
                let chunk = reader.next_chunk().await?;
                Some((chunk.map(Frame::data), reader))
            });
            BodyExt::boxed(StreamBody::new(frames))
        }
        Content::Decoded(bytes) => {
            let end = usize::try_from(offset + length).unwrap_or(usize::MAX);
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            http_front::full(bytes.slice(start.min(end)..end.min(bytes.len())))
        }
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(&content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {offset}-{}/{total}", offset + length - 1)),
        );
    }
    Ok(r)
}

/// Where the bytes of a payload come from.
enum Content {
    /// This range of the stored content, as stored.
    Stored(Range<u64>, BlobReader),
    /// Decoded from its transfer encoding.
    Decoded(Bytes),
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}
