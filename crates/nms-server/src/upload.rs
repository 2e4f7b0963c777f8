//! The body of an object creation (TS 6.1.5) or bulk creation (TS 6.9.5):
//! `multipart/form-data` (RFC 7578) whose `root-fields` part is the JSON
//! (`{"object": …}` or `{"objectList": …}`), followed by one
//! `attachments` part per object, in order: the object's payload, with
//! its own `Content-Type` (a `multipart/mixed` of several parts, or one
//! part such as `text/plain`). The parts are read as they arrive; each
//! payload is streamed into a staged blob behind the header block the
//! object's attributes make ([`crate::compose`]), never held whole.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header;
use hyper::{Request, StatusCode};
use store_core::blob::StagedBlob;

use http_front::RequestBody;

use crate::compose;
use crate::error::{NmsError, NmsResult};
use crate::service::Ctx;
use crate::types::Object;

/// A creation request's parts, read in order.
pub struct Upload {
    parts: multer::Multipart<'static>,
}

/// Reads a multer error as the TS answers it.
fn multipart_error(e: multer::Error) -> NmsError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            NmsError::status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large",
            )
        }
        _ => NmsError::invalid_input("multipart body"),
    }
}

impl Upload {
    /// Starts reading `request`'s body; `[nms] max_object_bytes` bounds
    /// it whole.
    ///
    /// Errors: SVC0002 when it is not `multipart/form-data` (or
    /// `multipart/related`) with a boundary.
    pub fn new(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Upload> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if media != "multipart/form-data" && media != "multipart/related" {
            return Err(NmsError::invalid_input(
                "Content-Type (multipart/form-data)",
            ));
        }
        let boundary = multer::parse_boundary(&content_type)
            .map_err(|_| NmsError::invalid_input("Content-Type boundary"))?;
        let constraints = multer::Constraints::new()
            .size_limit(multer::SizeLimit::new().whole_stream(ctx.config.max_object_bytes));
        let stream = request.into_body().into_data_stream();
        Ok(Upload {
            parts: multer::Multipart::with_constraints(stream, boundary, constraints),
        })
    }

    /// The `root-fields` part (the first part), at most `[nms]
    /// max_json_bytes`.
    ///
    /// Errors: SVC0002 when the first part is not `root-fields`; 413 past
    /// the limit.
    pub async fn root_fields(&mut self, limit: usize) -> NmsResult<Bytes> {
        let mut field = self
            .parts
            .next_field()
            .await
            .map_err(multipart_error)?
            .ok_or_else(|| NmsError::invalid_input("root-fields"))?;
        if field.name() != Some("root-fields") {
            return Err(NmsError::invalid_input("root-fields"));
        }
        let mut json = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if json.len() + chunk.len() > limit {
                return Err(NmsError::status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "root-fields is too large",
                ));
            }
            json.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(json))
    }

    /// Stages the message of `object`: its header block and the next
    /// `attachments` part as its body (or, when no such part is left, the
    /// `TextContent` attribute or nothing).
    ///
    /// Errors: SVC0002 for bad attributes ([`compose::header_block`]) or a
    /// part of another name; 413 past the size limit; a store error
    /// writing the blob.
    pub async fn stage(&mut self, ctx: &Ctx<'_>, object: &Object) -> NmsResult<StagedBlob> {
        let mut next = self.parts.next_field().await.map_err(multipart_error)?;
        let payload = next.as_ref().map(|f| {
            let value = |name| {
                f.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            compose::PayloadHeaders {
                content_type: value(header::CONTENT_TYPE.as_str())
                    .unwrap_or_else(|| "application/octet-stream".into()),
                transfer_encoding: value("content-transfer-encoding"),
            }
        });
        let named_right = next
            .as_ref()
            .is_none_or(|f| f.name() == Some("attachments"));
        let now = store_core::now();
        let head = match named_right {
            true => compose::header_block(object, payload.as_ref(), now),
            false => Err(NmsError::invalid_input("a part not named attachments")),
        };
        let (head, text) = match head {
            Ok(h) => h,
            Err(e) => {
                // The part stays this object's: read past it, so that the
                // next object of a bulk creation gets the next one.
                if let Some(field) = next.as_mut() {
                    while field.chunk().await.map_err(multipart_error)?.is_some() {}
                }
                return Err(e);
            }
        };
        let mut writer = ctx
            .store
            .blob_writer()
            .await
            .map_err(|e| ctx.store_error(e))?;
        let io = |e: std::io::Error| ctx.store_error(e.into());
        writer.write(head.as_bytes()).await.map_err(io)?;
        if let Some(text) = text {
            writer.write(text.as_bytes()).await.map_err(io)?;
        }
        if let Some(mut field) = next {
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                writer.write(&chunk).await.map_err(io)?;
            }
        }
        writer.finish().await.map_err(io)
    }
}
