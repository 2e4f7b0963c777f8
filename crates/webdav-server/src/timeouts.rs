//! The time limits of one HTTP connection (`[webdav] header_timeout_seconds`
//! and `idle_timeout_seconds`), for HTTP/1.1 and HTTP/2 alike.
//!
//! hyper's own `header_read_timeout` restarts when each response is done,
//! which would make it the keep-alive timeout too, and it does not run
//! before hyper-util has seen enough bytes to pick the protocol (a silent
//! connection); so the rules are kept here, from the connection's bytes
//! ([`Watched`] counts them) and its requests (the service reports each
//! with [`Activity::request_started`]). A [`watchdog`] checks them:
//!
//! - **Header**: the first request's header block must arrive within
//!   `header_timeout` of connecting; a later one within `header_timeout`
//!   of its first byte (HTTP/1.1; an HTTP/2 connection's frames between
//!   requests count as idle traffic instead).
//! - **Idle**: with no request in progress, a connection with no byte read
//!   or written for `idle_timeout` is closed (gracefully: HTTP/2 GOAWAY).
//! - **Body rate**: while a handler runs whose request has a body, the
//!   server waits for bytes and fewer than [`MIN_BODY_BYTES_PER_WINDOW`]
//!   arrive in a window of `header_timeout`, the connection is cut (a
//!   slow-body attack, as Apache's mod_reqtimeout `MinRate`).
//! - **Stalled response**: a response the client does not read for
//!   `idle_timeout` (no byte written) is cut, so a dead reader does not
//!   pin a blob and its buffers.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Fewest request body bytes per `header_timeout` window while the server
/// waits for the body.
pub const MIN_BODY_BYTES_PER_WINDOW: u64 = 1024;

/// The two limits, from `[webdav]`.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// `header_timeout_seconds`: the header block, and the body rate window.
    pub header: Duration,
    /// `idle_timeout_seconds`: no request and no byte.
    pub idle: Duration,
}

/// Which rule ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Expired {
    /// The header block did not arrive in time.
    #[error("request header not received within header_timeout_seconds")]
    Header,
    /// Keep-alive idle.
    #[error("idle for idle_timeout_seconds")]
    Idle,
    /// A request body arrived below the minimum rate.
    #[error("request body slower than the minimum rate")]
    SlowBody,
    /// The client stopped reading a response.
    #[error("response not read for idle_timeout_seconds")]
    Stalled,
}

/// What one connection has been doing; shared by its [`Watched`] stream,
/// its service and its [`watchdog`].
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
    /// Wakes the watchdog when a deadline may have come nearer: a request
    /// began, a handler or response ended, a header block began.
    wake: tokio::sync::Notify,
}

#[derive(Debug)]
struct State {
    connected: Instant,
    /// A request has started on this connection.
    served: bool,
    /// HTTP/2: no header rule between requests.
    http2: bool,
    /// Handlers running.
    handlers: usize,
    /// Responses not yet wholly sent (their handlers included).
    responses: usize,
    /// The last byte read or written (or the end of the last response).
    last_io: Instant,
    /// When the first byte arrived with no request in progress.
    head_started: Option<Instant>,
    /// Bytes still expected of running handlers' bodies of known length.
    known_remaining: u64,
    /// Running handlers whose body length is unknown (chunked, HTTP/2).
    unknown_bodies: usize,
    /// The last read found nothing to read.
    read_pending: bool,
    window_start: Instant,
    window_bytes: u64,
}

impl State {
    fn in_progress(&self) -> bool {
        self.handlers > 0 || self.responses > 0
    }

    fn body_outstanding(&self) -> bool {
        self.handlers > 0 && (self.known_remaining > 0 || self.unknown_bodies > 0)
    }

    /// The rules at `now`: the instant of the next check, or the rule
    /// broken.
    fn check(&mut self, now: Instant, t: Timeouts) -> Result<Instant, Expired> {
        let expired = |deadline: Instant, rule: Expired| {
            if now >= deadline {
                Err(rule)
            } else {
                Ok(deadline)
            }
        };
        if !self.in_progress() {
            return match (self.served, self.head_started) {
                (false, _) => expired(self.connected + t.header, Expired::Header),
                (true, Some(start)) if !self.http2 => expired(start + t.header, Expired::Header),
                _ => expired(self.last_io + t.idle, Expired::Idle),
            };
        }
        if self.body_outstanding() {
            let window_end = self.window_start + t.header;
            if now < window_end {
                return Ok(window_end);
            }
            if self.read_pending && self.window_bytes < MIN_BODY_BYTES_PER_WINDOW {
                return Err(Expired::SlowBody);
            }
            self.window_start = now;
            self.window_bytes = 0;
            return Ok(now + t.header);
        }
        if self.handlers == 0 {
            return expired(self.last_io + t.idle, Expired::Stalled);
        }
        Ok(now + t.header)
    }
}

impl Activity {
    /// A connection made now.
    pub fn new() -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Activity {
            state: Mutex::new(State {
                connected: now,
                served: false,
                http2: false,
                handlers: 0,
                responses: 0,
                last_io: now,
                head_started: None,
                known_remaining: 0,
                unknown_bodies: 0,
                read_pending: false,
                window_start: now,
                window_bytes: 0,
            }),
            wake: tokio::sync::Notify::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request's handler starts: `body_length` is the exact length of
    /// its body if known (`Some(0)`: none), `http2` its protocol. The
    /// handler holds the returned guard while it runs.
    pub fn request_started(self: &Arc<Self>, body_length: Option<u64>, http2: bool) -> Handler {
        let now = Instant::now();
        let mut s = self.state();
        s.served = true;
        s.http2 |= http2;
        s.handlers += 1;
        s.responses += 1;
        s.head_started = None;
        match body_length {
            Some(n) => s.known_remaining = s.known_remaining.saturating_add(n),
            None => s.unknown_bodies += 1,
        }
        s.window_start = now;
        s.window_bytes = 0;
        drop(s);
        self.wake.notify_one();
        Handler {
            activity: self.clone(),
            unknown_body: body_length.is_none(),
            done: false,
        }
    }

    fn read(&self, n: usize) {
        let mut s = self.state();
        if n == 0 {
            return;
        }
        let now = Instant::now();
        s.last_io = now;
        s.read_pending = false;
        s.window_bytes = s.window_bytes.saturating_add(n as u64);
        s.known_remaining = s.known_remaining.saturating_sub(n as u64);
        if !s.in_progress() && s.head_started.is_none() {
            s.head_started = Some(now);
            drop(s);
            self.wake.notify_one();
        }
    }

    fn wrote(&self, n: usize) {
        if n > 0 {
            self.state().last_io = Instant::now();
        }
    }

    fn read_pending(&self) {
        self.state().read_pending = true;
    }

    /// [`Timeouts`]' rules now: the next instant to look again, or the
    /// rule broken.
    pub fn check(&self, timeouts: Timeouts) -> Result<Instant, Expired> {
        self.state().check(Instant::now(), timeouts)
    }
}

/// A running handler's place in [`Activity`]; [`Handler::done`] gives
/// the response's.
#[derive(Debug)]
pub struct Handler {
    activity: Arc<Activity>,
    unknown_body: bool,
    /// The handler returned a response ([`Handler::done`]).
    done: bool,
}

impl Handler {
    /// The handler has returned; the response (held by its body until it
    /// is wholly sent) is in progress.
    pub fn done(mut self) -> Response {
        self.done = true;
        Response {
            activity: self.activity.clone(),
        }
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        let mut s = self.activity.state();
        s.handlers = s.handlers.saturating_sub(1);
        if self.unknown_body {
            s.unknown_bodies = s.unknown_bodies.saturating_sub(1);
        }
        if s.handlers == 0 {
            s.known_remaining = 0;
            s.unknown_bodies = 0;
        }
        if !self.done {
            // Cancelled: no response will be sent.
            s.responses = s.responses.saturating_sub(1);
        }
        drop(s);
        self.activity.wake.notify_one();
    }
}

/// A response being sent; dropped with its body.
#[derive(Debug)]
pub struct Response {
    activity: Arc<Activity>,
}

impl Drop for Response {
    fn drop(&mut self) {
        let mut s = self.activity.state();
        s.responses = s.responses.saturating_sub(1);
        s.last_io = Instant::now();
        drop(s);
        self.activity.wake.notify_one();
    }
}

/// A response body that keeps its [`Response`] in progress until the body
/// is wholly sent or dropped. Unlike `map_frame`, it passes the body's
/// size hint on, so hyper still sends `Content-Length` for a body of known
/// length instead of chunking it.
pub struct SendingBody<B> {
    inner: B,
    _sending: Response,
}

impl<B> SendingBody<B> {
    /// `inner`, counted as `sending` until it ends.
    pub fn new(inner: B, sending: Response) -> Self {
        SendingBody {
            inner,
            _sending: sending,
        }
    }
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for SendingBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Waits until `activity` breaks a rule of `timeouts`; returns it.
pub async fn watchdog(activity: Arc<Activity>, timeouts: Timeouts) -> Expired {
    loop {
        match activity.check(timeouts) {
            Ok(next) => {
                let deadline = tokio::time::Instant::from_std(next);
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {}
                    _ = activity.wake.notified() => {}
                }
            }
            Err(expired) => return expired,
        }
    }
}

/// A connection's byte stream, reporting its reads and writes to an
/// [`Activity`].
#[derive(Debug)]
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    /// `inner`, reporting to `activity`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        match &result {
            Poll::Ready(Ok(())) => this.activity.read(buf.filled().len() - before),
            Poll::Pending => this.activity.read_pending(),
            Poll::Ready(Err(_)) => {}
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &result {
            this.activity.wrote(*n);
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &result {
            this.activity.wrote(*n);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(5),
        idle: Duration::from_secs(60),
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_silent_connection_gets_header_timeout_from_connecting() {
        let a = Activity::new();
        let mut s = a.state();
        let t0 = s.connected;
        assert!(s.check(t0 + secs(4), T).is_ok());
        assert_eq!(s.check(t0 + secs(5), T), Err(Expired::Header));
    }

    #[test]
    fn a_trickled_first_head_does_not_extend_the_header_timeout() {
        let a = Activity::new();
        let t0 = a.state().connected;
        a.read(1);
        a.read(1);
        assert_eq!(a.state().check(t0 + secs(6), T), Err(Expired::Header));
    }

    #[test]
    fn keep_alive_idle_then_a_later_head_gets_its_own_header_timeout() {
        let a = Activity::new();
        let handler = a.request_started(Some(0), false);
        let response = handler.done();
        drop(response);
        let t1 = a.state().last_io;
        assert!(a.state().check(t1 + secs(59), T).is_ok());
        assert_eq!(a.state().check(t1 + secs(60), T), Err(Expired::Idle));
        a.read(3);
        let start = a.state().head_started.unwrap();
        assert_eq!(a.state().check(start + secs(5), T), Err(Expired::Header));
        a.state().http2 = true;
        assert!(a.state().check(start + secs(5), T).is_ok());
    }

    #[test]
    fn a_slow_body_is_cut_a_fast_one_and_a_long_handler_are_not() {
        let a = Activity::new();
        let handler = a.request_started(Some(10_000), false);
        let w0 = a.state().window_start;
        a.read(10);
        a.read_pending();
        assert_eq!(a.state().check(w0 + secs(5), T), Err(Expired::SlowBody));
        drop(handler);

        let a = Activity::new();
        let _handler = a.request_started(Some(10_000), false);
        let w0 = a.state().window_start;
        a.read(5_000);
        a.read_pending();
        assert!(a.state().check(w0 + secs(5), T).is_ok());

        let a = Activity::new();
        let _handler = a.request_started(Some(0), false);
        let w0 = a.state().window_start;
        a.read_pending();
        assert!(a.state().check(w0 + secs(120), T).is_ok());
    }

    #[test]
    fn a_response_nobody_reads_is_cut_after_idle() {
        let a = Activity::new();
        let _response = a.request_started(Some(0), false).done();
        let t = a.state().last_io;
        assert!(a.state().check(t + secs(59), T).is_ok());
        assert_eq!(a.state().check(t + secs(60), T), Err(Expired::Stalled));
    }
}
