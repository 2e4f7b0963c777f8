//! One request: authentication (HTTP Basic, RFC 7617, against the store's
//! accounts), dispatch to the method's handler, and the error response.

use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;

use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use store_core::throttle::LoginSource;
use store_core::{Principal, Store, StoreError};
use tokio::sync::mpsc;

use crate::config::WebDavConfig;
use crate::error::{DavError, DavResult};
use crate::methods;
use crate::path::DavPath;
use crate::xml;

/// A response body: in memory or streamed from a blob.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// What every request of the server shares.
pub struct Shared {
    /// The store.
    pub store: Store,
    /// The settings.
    pub config: WebDavConfig,
}

/// The connection a request came on.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether it is TLS.
    pub secure: bool,
}

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

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body held in memory.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A response with a status and no body.
pub fn status(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(empty());
    *r.status_mut() = status;
    r
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

/// A request body as handlers read it: hyper's, watched by the
/// connection's minimum body rate rule ([`crate::timeouts::WatchedBody`]).
pub type RequestBody = crate::timeouts::WatchedBody<hyper::body::Incoming>;

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
    check_host(&request)?;
    // Windows' mini-redirector probes with an unauthenticated OPTIONS.
    if request.method() == Method::OPTIONS {
        return Ok(methods::options::handle());
    }
    let principal = match authenticate(shared, connection, &request).await {
        Err(refusal) => return Ok(refusal),
        Ok(Some(p)) => p,
        Ok(None) => {
            let mut r = status(StatusCode::UNAUTHORIZED);
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"cpm-store\", charset=\"UTF-8\""),
            );
            return Ok(r);
        }
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
        _ => {
            let mut r = status(StatusCode::METHOD_NOT_ALLOWED);
            r.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static(methods::options::ALLOW),
            );
            Ok(r)
        }
    }
}

/// RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without
/// a Host header field, and to any request with more than one Host field
/// line or an invalid value; checked before authentication. HTTP/1.0 may
/// omit it, and HTTP/2 names the authority in `:authority` (RFC 9113
/// 8.3.1), so only the count and the value are checked there.
///
/// Errors: 400 (text body) as described.
fn check_host(request: &Request<RequestBody>) -> DavResult<()> {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let (first, second) = (hosts.next(), hosts.next());
    if second.is_some() {
        return Err(DavError::bad_request(
            "more than one Host header field (RFC 9112 3.2)",
        ));
    }
    match first {
        None if request.version() == hyper::Version::HTTP_11 => Err(DavError::bad_request(
            "an HTTP/1.1 request needs a Host header field (RFC 9112 3.2)",
        )),
        Some(v)
            if v.to_str()
                .ok()
                .and_then(|h| h.parse::<hyper::http::uri::Authority>().ok())
                .is_none()
                && !v.is_empty() =>
        {
            Err(DavError::bad_request(
                "invalid Host header field (RFC 9112 3.2)",
            ))
        }
        _ => Ok(()),
    }
}

/// The principal of a request's Basic credentials; `None` asks for them
/// (401). Credentials over plain HTTP are refused unless the policy allows
/// them from this peer. The store's login throttle decides first: a
/// client that failed too often gets 429 with Retry-After (RFC 6585 4)
/// and costs no password check.
///
/// Errors (the response to send): 403 for cleartext credentials the
/// policy refuses; 429 when throttled; 503 with Retry-After when the
/// password checks stay busy; 500 for a store failure.
async fn authenticate(
    shared: &Shared,
    connection: &Connection,
    request: &Request<RequestBody>,
) -> Result<Option<Principal>, Response<Body>> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let cleartext_ok = shared
        .config
        .cleartext
        .allows(connection.secure, connection.peer.ip());
    if !cleartext_ok {
        return Err(DavError::forbidden("credentials need HTTPS (RFC 7617 4)").into_response());
    }
    let Some(encoded) = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
    }) else {
        return Ok(None);
    };
    let Some((login, password)) = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(l, p)| (l.to_string(), p.to_string()))
        })
    else {
        return Ok(None);
    };
    let source = LoginSource {
        remote: connection.peer.ip(),
        protocol: "webdav",
    };
    match shared.store.authenticate(source, &login, &password).await {
        Ok(p) => Ok(Some(p)),
        Err(StoreError::AuthenticationFailed | StoreError::NoSuchAccount) => Ok(None),
        Err(StoreError::LoginThrottled { retry_after }) => Err(retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins; retry later",
            retry_after,
        )),
        Err(StoreError::Busy(what)) => Err(retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("busy ({what}); retry later"),
            Duration::from_secs(1),
        )),
        Err(e) => Err(DavError::from(e).into_response()),
    }
}

/// A `status` response with a text body and `Retry-After` in whole
/// seconds (RFC 9110 10.2.3).
fn retry_later(status: StatusCode, message: &str, after: Duration) -> Response<Body> {
    let mut r = DavError::new(status, message).into_response();
    let seconds = store_core::throttle::retry_after_seconds(after);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    r
}

/// Reads a request body of at most `limit` bytes.
///
/// Errors: 413 past the limit, 400 if the client breaks off.
pub async fn read_body(body: RequestBody, limit: usize) -> DavResult<Bytes> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(DavError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        )),
        Err(_) => Err(DavError::bad_request("the request body was cut short")),
    }
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
