//! JSON bodies in and out (the REST NetAPI JSON binding: one root element
//! naming the type, `{"object": {…}}`).

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use http_front::Body;

use crate::error::{NmsError, NmsResult};

/// A response with `value` as its JSON body (`application/json`).
pub fn response(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let bytes = match serde_json::to_vec(value) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "a response did not serialize");
            return http_front::status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let mut r = Response::new(http_front::full(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `201 Created` with `value` and `Location: location` (TS 6.1.5, 6.10.5).
pub fn created(location: &str, value: &impl Serialize) -> Response<Body> {
    let mut r = response(StatusCode::CREATED, value);
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Decodes a JSON request body into `T` (one of the `…Root` types of
/// [`crate::types`], named by its root element `root`).
///
/// Errors: SVC0002 naming the root element and what was wrong.
pub fn decode<T: DeserializeOwned>(bytes: &Bytes, root: &str) -> NmsResult<T> {
    serde_json::from_slice(bytes).map_err(|e| NmsError::invalid_input(format!("{root} ({e})")))
}

/// Reads a JSON request body of at most `[nms] max_json_bytes` and
/// decodes it as [`decode`] does. A `Content-Type` other than JSON
/// (`application/json`, or any `+json` type) is refused before the body
/// is read; a request without one is read as JSON.
///
/// Errors: 415 for another content type, 413 past the limit, SVC0002 for
/// a body that is not `T`.
pub async fn read<T: DeserializeOwned>(
    ctx: &crate::service::Ctx<'_>,
    request: hyper::Request<http_front::RequestBody>,
    root: &str,
) -> NmsResult<T> {
    if let Some(value) = request.headers().get(hyper::header::CONTENT_TYPE) {
        let media = value
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if media != "application/json" && !media.ends_with("+json") {
            return Err(NmsError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ..NmsError::invalid_input("Content-Type (application/json)")
            });
        }
    }
    let bytes = http_front::read_body(request.into_body(), ctx.config.max_json_bytes).await?;
    decode(&bytes, root)
}
