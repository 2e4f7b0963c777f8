//! The HTTP connection layer the WebDAV and NMS front ends share.
//!
//! Layering, as in hyper: the supervisor accepts a connection (TLS
//! already handshaken, or plain); [`serve_connection`] speaks HTTP/1.1 and
//! HTTP/2 on it through hyper-util's auto builder under the connection
//! time limits of [`timeouts`], and hands each request to the front end's
//! handler, which never fails (its errors are responses). What every HTTP
//! front end checks the same way is here too: the Host header
//! ([`check_host`]), credentials ([`auth`], against the store's accounts
//! and login throttle), byte ranges ([`parse_range`]) and bounded
//! request bodies ([`read_body`]).

pub mod auth;
pub mod timeouts;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::sync::watch;

pub use timeouts::Timeouts;

/// A response body: in memory or streamed (from a blob, a generator).
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A request body as handlers read it: hyper's, watched by the
/// connection's minimum body rate rule ([`timeouts::WatchedBody`]).
pub type RequestBody = timeouts::WatchedBody<hyper::body::Incoming>;

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

/// `405 Method Not Allowed` with the methods the resource takes (RFC
/// 9110 15.5.6: `Allow` is required).
pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = status(StatusCode::METHOD_NOT_ALLOWED);
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// The TLS acceptor of an HTTPS listener: `base` with ALPN `h2` and
/// `http/1.1` (RFC 7301), so that clients may choose HTTP/2 (the
/// configuration is cloned to set that).
pub fn tls_acceptor(base: &Arc<rustls::ServerConfig>) -> tokio_rustls::TlsAcceptor {
    let mut with_alpn = (**base).clone();
    with_alpn.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(with_alpn))
}

/// The connection a request came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether it is TLS.
    pub secure: bool,
}

/// An HTTP front end's request handling (WebDAV, NMS): its time limits
/// and a handler that answers every request (its errors are responses).
pub trait Service: Send + Sync + 'static {
    /// The name its log lines give (`"WebDAV"`, `"NMS"`).
    const NAME: &'static str;

    /// The connection time limits ([`timeouts`]).
    fn limits(&self) -> Timeouts;

    /// Answers one request that came on `connection`.
    fn handle(
        &self,
        connection: Connection,
        request: Request<RequestBody>,
    ) -> impl Future<Output = Response<Body>> + Send;
}

/// An HTTP front end: its [`Service`] and the TLS setup of its HTTPS
/// listeners. Cheap to clone (one per accepted connection).
pub struct Server<S> {
    service: Arc<S>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl<S> Clone for Server<S> {
    fn clone(&self) -> Self {
        Server {
            service: self.service.clone(),
            tls: self.tls.clone(),
        }
    }
}

impl<S: Service> Server<S> {
    /// A server of `service`. With `tls`, HTTPS listeners offer HTTP/2
    /// and HTTP/1.1 by ALPN ([`tls_acceptor`]).
    pub fn new(service: S, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        Server {
            service: Arc::new(service),
            tls: tls.as_ref().map(tls_acceptor),
        }
    }

    /// The TLS acceptor of HTTPS listeners, if TLS is configured.
    pub fn tls_acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.tls.clone()
    }

    /// Serves one accepted connection (`secure` when it is TLS, already
    /// handshaken) with HTTP/1.1 or HTTP/2 until it closes; when
    /// `shutdown` turns true the request in flight finishes, then the
    /// connection closes (graceful shutdown).
    pub async fn serve_connection<T>(
        &self,
        stream: T,
        peer: SocketAddr,
        secure: bool,
        shutdown: watch::Receiver<bool>,
    ) where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let service = self.service.clone();
        let connection = Connection { peer, secure };
        let limits = service.limits();
        let handle = move |request: Request<RequestBody>| {
            let service = service.clone();
            let access = Access::of(protocol_label(S::NAME), &request, peer);
            async move {
                let response = service.handle(connection, request).await;
                access.respond(response)
            }
        };
        serve_connection(stream, limits, shutdown, S::NAME, handle).await
    }
}

/// The protocol label of a front end named `name` (`"WebDAV"`, `"NMS"`)
/// in metrics and access logs.
fn protocol_label(name: &'static str) -> &'static str {
    match name {
        "WebDAV" => "webdav",
        "NMS" => "nms",
        _ => "http",
    }
}

/// Longest path an access-log event gives (bytes); a longer one is cut at
/// a character boundary and ends with `…`.
const MAX_LOGGED_PATH: usize = 256;

/// One request's access-log event and metrics, taken when its head is
/// read and given when its response body is sent whole or dropped: an
/// INFO event of target `access` (protocol, method, path without the
/// query, status, duration in ms, bytes in (the request's
/// `Content-Length`, when it has one) and out (response body bytes
/// sent), user (the Basic login presented, `-` without one), remote
/// address) and `cpm_store_requests_total{protocol,command,outcome}` with
/// `cpm_store_request_duration_seconds` (`store_core::telemetry`).
struct Access {
    protocol: &'static str,
    method: hyper::Method,
    path: String,
    user: Option<String>,
    peer: SocketAddr,
    bytes_in: Option<u64>,
    started: std::time::Instant,
}

impl Access {
    fn of<B>(protocol: &'static str, request: &Request<B>, peer: SocketAddr) -> Access {
        let full = request.uri().path();
        let path = if full.len() <= MAX_LOGGED_PATH {
            full.to_string()
        } else {
            let mut end = MAX_LOGGED_PATH;
            while !full.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &full[..end])
        };
        let bytes_in = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Access {
            protocol,
            method: request.method().clone(),
            path,
            user: basic_credentials(request.headers()).map(|(user, _)| user),
            peer,
            bytes_in,
            started: std::time::Instant::now(),
        }
    }

    /// `response` with its body counted; the event is given when the body
    /// is done.
    fn respond(self, response: Response<Body>) -> Response<Body> {
        let status = response.status().as_u16();
        response.map(|inner| {
            CountedBody {
                inner,
                sent: 0,
                status,
                access: Some(self),
            }
            .boxed()
        })
    }
}

/// A response body that counts the bytes it yields and gives its request's
/// access-log event once it ends or is dropped (a client gone mid-way).
struct CountedBody {
    inner: Body,
    sent: u64,
    status: u16,
    access: Option<Access>,
}

impl hyper::body::Body for CountedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.sent += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for CountedBody {
    fn drop(&mut self) {
        let Some(a) = self.access.take() else {
            return;
        };
        let elapsed = a.started.elapsed();
        let method = store_core::telemetry::http_method(a.method.as_str());
        let class = store_core::telemetry::status_class(self.status);
        store_core::telemetry::metrics().request(a.protocol, method, class, elapsed);
        tracing::info!(
            target: "access",
            protocol = a.protocol,
            method = %a.method,
            path = %a.path,
            status = self.status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            bytes_in = a.bytes_in.unwrap_or(0),
            bytes_out = self.sent,
            user = ?a.user.as_deref().unwrap_or("-"),
            remote = %a.peer,
            "HTTP request"
        );
    }
}

/// Serves one accepted connection with HTTP/1.1 or HTTP/2 until it
/// closes, a time limit of [`timeouts`] ends it, or `shutdown` turns true
/// (then the request in flight finishes and the connection closes:
/// graceful shutdown, GOAWAY on HTTP/2). `handle` answers each request;
/// `name` labels the connection's debug log lines (`"WebDAV"`, `"NMS"`).
pub async fn serve_connection<S, H, F>(
    stream: S,
    limits: Timeouts,
    mut shutdown: watch::Receiver<bool>,
    name: &'static str,
    handle: H,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<RequestBody>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let activity = timeouts::Activity::new();
    let stream = timeouts::Watched::new(stream, activity.clone());
    let watching = activity.clone();
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let handle = handle.clone();
            let http2 = request.version() == hyper::Version::HTTP_2;
            let handler = watching.request_started(http2);
            let request = request.map(|body| watching.watch_body(body));
            let activity = watching.clone();
            async move {
                let mut response = handle(request).await;
                // An answer given before the body was read (an error, a
                // 413): the rest of the body is not read, so the
                // connection closes after it; say so (RFC 9112 9.6), lest
                // the client send its next request on it.
                if !http2 && activity.body_unread() {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                // The response counts as in progress until its body is sent.
                let sending = handler.done();
                let response =
                    response.map(|body| timeouts::SendingBody::new(body, sending).boxed());
                Ok::<_, std::convert::Infallible>(response)
            }
        });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let watchdog = timeouts::watchdog(activity, limits);
    tokio::pin!(watchdog);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "{name} connection ended with an error");
            }
        }
        expired = &mut watchdog => {
            tracing::debug!(reason = %expired, "{name} connection timed out");
            if expired == timeouts::Expired::Idle {
                // Nothing in progress: close as HTTP/2 asks (GOAWAY), but
                // not for longer than a header timeout.
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(limits.header, conn).await;
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                _ = conn.as_mut() => {}
                expired = watchdog => {
                    tracing::debug!(reason = %expired, "{name} connection timed out while stopping");
                }
            }
        }
    }
}

/// RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without
/// a Host header field, and to any request with more than one Host field
/// line or an invalid value; checked before authentication. HTTP/1.0 may
/// omit it, and HTTP/2 names the authority in `:authority` (RFC 9113
/// 8.3.1), so only the count and the value are checked there.
///
/// Errors: the reason, for the front end's 400 body.
pub fn check_host<B>(request: &Request<B>) -> Result<(), &'static str> {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let (first, second) = (hosts.next(), hosts.next());
    if second.is_some() {
        return Err("more than one Host header field (RFC 9112 3.2)");
    }
    match first {
        None if request.version() == hyper::Version::HTTP_11 => {
            Err("an HTTP/1.1 request needs a Host header field (RFC 9112 3.2)")
        }
        Some(v)
            if v.to_str()
                .ok()
                .and_then(|h| h.parse::<hyper::http::uri::Authority>().ok())
                .is_none()
                && !v.is_empty() =>
        {
            Err("invalid Host header field (RFC 9112 3.2)")
        }
        _ => Ok(()),
    }
}

/// The `(user-id, password)` of an `Authorization: Basic` header (RFC
/// 7617 2, UTF-8 as the `charset="UTF-8"` challenge asks); `None` when
/// there is none or it does not decode (the front end then asks again
/// with 401).
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (login, password) = decoded.split_once(':')?;
    Some((login.to_string(), password.to_string()))
}

/// The credentials of an `Authorization: Bearer` header (RFC 6750 2.1),
/// `None` when there is none.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// It is longer than the limit (the front end answers 413).
    #[error("request body too large")]
    TooLarge,
    /// The client broke it off (400).
    #[error("the request body was cut short")]
    CutShort,
}

/// Reads a request body of at most `limit` bytes into memory.
///
/// Errors: [`BodyError`].
pub async fn read_body(body: RequestBody, limit: usize) -> Result<Bytes, BodyError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::CutShort),
    }
}

/// Sets `Retry-After` to `seconds` (RFC 9110 10.2.3).
pub fn set_retry_after(response: &mut Response<Body>, seconds: u64) {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
}

/// A parsed `Range` header (RFC 9110 14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send everything.
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

/// Reads a `Range` header for a representation of `total` bytes: one
/// `bytes=` range (RFC 9110 14.1.2); several ranges, or units other than bytes, are
/// answered whole (RFC 9110 14.2 lets a server ignore Range).
pub fn parse_range(value: &str, total: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => Some((a, b.min(total.saturating_sub(1)))),
        (Ok(_), Ok(_)) => return RangeRequest::Whole,
        (Ok(a), Err(_)) if last.is_empty() => Some((a, total.saturating_sub(1))),
        (Err(_), Ok(n)) if first.is_empty() => {
            if n == 0 {
                return RangeRequest::Unsatisfiable;
            }
            Some((total.saturating_sub(n), total.saturating_sub(1)))
        }
        _ => return RangeRequest::Whole,
    };
    match parsed {
        Some((a, b)) if a < total && a <= b => RangeRequest::Part(a, b),
        _ => RangeRequest::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc9110() {
        assert_eq!(parse_range("bytes=0-4", 10), RangeRequest::Part(0, 4));
        assert_eq!(parse_range("bytes=5-", 10), RangeRequest::Part(5, 9));
        assert_eq!(parse_range("bytes=-3", 10), RangeRequest::Part(7, 9));
        assert_eq!(parse_range("bytes=8-100", 10), RangeRequest::Part(8, 9));
        assert_eq!(parse_range("bytes=10-", 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), RangeRequest::Whole);
        assert_eq!(parse_range("items=0-1", 10), RangeRequest::Whole);
    }

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        h
    }

    #[test]
    fn basic_credentials_decode_and_refuse_other_schemes() {
        // "alice:pa:ss" (a colon in the password is the password's).
        let h = headers("Basic YWxpY2U6cGE6c3M=");
        assert_eq!(
            basic_credentials(&h),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(
            basic_credentials(&headers("basic YWxpY2U6cGE6c3M=")),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(basic_credentials(&headers("Bearer abc")), None);
        assert_eq!(basic_credentials(&headers("Basic !!!")), None);
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("Basic abc")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
