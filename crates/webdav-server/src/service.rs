//! One request: authentication (HTTP Basic, RFC 7617, against the store's
//! accounts), dispatch to the method's handler, and the error response.

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use http_front::auth::Refusal;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use store_core::{Principal, Store};
use tokio::sync::mpsc;

use crate::config::WebDavConfig;
use crate::error::{DavError, DavResult};
use crate::methods;
use crate::path::DavPath;
use crate::xml;

pub use http_front::{empty, full, status, Body, RequestBody};

/// What every request of the server shares.
pub struct Shared {
    /// The store.
    pub store: Store,
    /// The settings.
    pub config: WebDavConfig,
}

pub use http_front::Connection;

/// An authenticated request's context, handed to every method handler.
pub struct Ctx<'a> {
    /// The store.
    pub store: &'a Store,
    /// The settings.
    pub config: &'a WebDavConfig,
    /// Who is asking.
    pub principal: Principal,
    /// The request path, decoded.
    pub path: DavPath,
}

/// A `207 Multi-Status` (or other status) with an XML body.
pub fn xml_response(status_code: StatusCode, body: String) -> Response<Body> {
    xml_body_response(status_code, full(body))
}

fn xml_body_response(status_code: StatusCode, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status_code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    r
}

/// A chunk of a streamed body, or the error that breaks it off.
pub type BodyChunk = Result<Frame<Bytes>, std::io::Error>;

/// A response with an XML body streamed from `chunks`: the body ends when
/// the sender is dropped, and breaks off on an error chunk.
pub fn xml_stream_response(
    status_code: StatusCode,
    mut chunks: mpsc::Receiver<BodyChunk>,
) -> Response<Body> {
    let stream = futures_util::stream::poll_fn(move |cx| chunks.poll_recv(cx));
    xml_body_response(status_code, StreamBody::new(stream).boxed())
}

impl DavError {
    /// The response for this error.
    pub fn into_response(self) -> Response<Body> {
        match self.condition {
            Some(c) => xml_response(self.status, xml::error_body(c, &self.hrefs)),
            None => {
                let mut r = Response::new(full(format!("{}\n", self.message)));
                *r.status_mut() = self.status;
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                if self.status == StatusCode::SERVICE_UNAVAILABLE {
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
                }
                r
            }
        }
    }
}

impl http_front::Service for Shared {
    const NAME: &'static str = "WebDAV";

    fn limits(&self) -> http_front::Timeouts {
        http_front::Timeouts {
            header: self.config.header_timeout,
            idle: self.config.idle_timeout,
        }
    }

    async fn handle(
        &self,
        connection: Connection,
        request: Request<RequestBody>,
    ) -> Response<Body> {
        handle(self, &connection, request).await
    }
}

/// Handles one request; never fails (errors become responses).
pub async fn handle(
    shared: &Shared,
    connection: &Connection,
    request: Request<RequestBody>,
) -> Response<Body> {
    let result = dispatch(shared, connection, request).await;
    let mut response = result.unwrap_or_else(DavError::into_response);
    response
        .headers_mut()
        .insert("DAV", HeaderValue::from_static("1, 2"));
    response
}

async fn dispatch(
    shared: &Shared,
    connection: &Connection,
    request: Request<RequestBody>,
) -> DavResult<Response<Body>> {
    http_front::check_host(&request).map_err(DavError::bad_request)?;
    // Windows' mini-redirector probes with an unauthenticated OPTIONS.
    if request.method() == Method::OPTIONS {
        return Ok(methods::options::handle());
    }
    let principal = match authenticate(shared, connection, &request).await {
        Err(refusal) => return Ok(refusal),
        Ok(Some(p)) => p,
        Ok(None) => return Ok(http_front::auth::challenge()),
    };
    let path = DavPath::parse(request.uri().path())?;
    // The lock tokens the `If` header submits go with the principal, for
    // store-core's lock check (a malformed header gets 400 in the method).
    let principal = match crate::conditions::Preconditions::from_headers(request.headers()) {
        Ok(p) if !p.tokens().is_empty() => principal.with_lock_tokens(p.tokens()),
        _ => principal,
    };
    let ctx = Ctx {
        store: &shared.store,
        config: &shared.config,
        principal,
        path,
    };
    match request.method().as_str() {
        "GET" | "HEAD" => methods::get::handle(&ctx, request).await,
        "PUT" => methods::put::handle(&ctx, request).await,
        "DELETE" => methods::delete::handle(&ctx, request).await,
        "MKCOL" => methods::mkcol::handle(&ctx, request).await,
        "COPY" => methods::copy_move::handle(&ctx, request, false).await,
        "MOVE" => methods::copy_move::handle(&ctx, request, true).await,
        "PROPFIND" => methods::propfind::handle(&ctx, request).await,
        "PROPPATCH" => methods::proppatch::handle(&ctx, request).await,
        "LOCK" => methods::lock::handle(&ctx, request).await,
        "UNLOCK" => methods::unlock::handle(&ctx, request).await,
        "REPORT" => methods::report::handle(&ctx, request).await,
        _ => Ok(http_front::method_not_allowed(methods::options::ALLOW)),
    }
}

/// The principal of a request's Basic credentials ([`http_front::auth`]);
/// `None` asks for them (401).
///
/// Errors (the response to send): 403 for cleartext credentials the
/// policy refuses; 429 when throttled; 503 with Retry-After when the
/// password checks stay busy; 500 for a store failure.
async fn authenticate(
    shared: &Shared,
    connection: &Connection,
    request: &Request<RequestBody>,
) -> Result<Option<Principal>, Response<Body>> {
    let (store, policy) = (&shared.store, shared.config.cleartext);
    let (peer, secure) = (connection.peer, connection.secure);
    let headers = request.headers();
    match http_front::auth::authenticate(store, peer, secure, policy, headers, "webdav").await {
        Ok(p) => Ok(p),
        Err(Refusal::Cleartext) => {
            Err(DavError::forbidden("credentials need HTTPS (RFC 7617 4)").into_response())
        }
        Err(refusal @ Refusal::Throttled { .. }) => Err(retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins; retry later",
            refusal.retry_after_seconds(),
        )),
        Err(refusal @ Refusal::Busy(what)) => Err(retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("busy ({what}); retry later"),
            refusal.retry_after_seconds(),
        )),
        Err(Refusal::Store(e)) => Err(DavError::from(e).into_response()),
    }
}

/// A `status` response with a text body and `Retry-After` in whole
/// seconds (RFC 9110 10.2.3).
fn retry_later(status: StatusCode, message: &str, seconds: Option<u64>) -> Response<Body> {
    let mut r = DavError::new(status, message).into_response();
    http_front::set_retry_after(&mut r, seconds.unwrap_or(1));
    r
}

/// Reads a request body of at most `limit` bytes.
///
/// Errors: 413 past the limit, 400 if the client breaks off.
pub async fn read_body(body: RequestBody, limit: usize) -> DavResult<Bytes> {
    http_front::read_body(body, limit)
        .await
        .map_err(|e| match e {
            http_front::BodyError::TooLarge => {
                DavError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
            }
            http_front::BodyError::CutShort => DavError::bad_request(e.to_string()),
        })
}

/// Reads an XML request body; `None` when it is empty. The parse runs on
/// tokio's blocking pool, so a large body does not hold up the other
/// connections' tasks.
///
/// Errors: 413 past the limit, 400 for malformed XML or one past the
/// limits on nesting and attributes ([`xml::parse`]).
pub async fn read_xml(ctx: &Ctx<'_>, body: RequestBody) -> DavResult<Option<xml::Element>> {
    let bytes = read_body(body, ctx.config.max_xml_bytes).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let limits = xml::Limits {
        max_depth: ctx.config.max_xml_depth,
        max_attributes: ctx.config.max_xml_attributes,
    };
    tokio::task::spawn_blocking(move || xml::parse(&bytes, limits))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the XML parse task failed");
            DavError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        })?
        .map(Some)
}

/// The value of a header as text, if present and visible ASCII.
pub fn header_str<'a>(request: &'a Request<RequestBody>, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}
