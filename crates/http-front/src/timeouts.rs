//! The time limits of one HTTP connection (`header_timeout_seconds` and
//! `idle_timeout_seconds` of `[webdav]` and `[nms]`), for HTTP/1.1 and
//! HTTP/2 alike.
//!
//! hyper's own `header_read_timeout` restarts when each response is done,
//! which would make it the keep-alive timeout too, and it does not run
//! before hyper-util has seen enough bytes to pick the protocol (a silent
//! connection); so the rules are kept here, from the connection's bytes
//! ([`Watched`] counts them), its requests (the service reports each
//! with [`Activity::request_started`]) and their bodies ([`WatchedBody`]).
//! A [`watchdog`] checks them:
//!
//! - **Header**: the first request's header block must arrive within
//!   `header_timeout` of connecting; a later one within `header_timeout`
//!   of its first byte, or of the end of the response it began during
//!   (HTTP/1.1; an HTTP/2 connection's frames between requests do not
//!   start a header block).
//! - **Idle**: a connection with no request in progress for `idle_timeout`
//!   since its last response ended is closed (gracefully: HTTP/2 GOAWAY).
//!   Bytes read do not count, so HTTP/2 PINGs do not keep it open.
//! - **Body rate**: while a handler waits for its request body (it polls
//!   the body and no frame is there), fewer than
//!   [`MIN_BODY_BYTES_PER_WINDOW`] body bytes per `header_timeout` of such
//!   waiting cut the connection (a slow-body attack, as Apache's
//!   mod_reqtimeout `MinRate`). A handler that has its whole body, or has
//!   not asked for it, is never cut by this rule, however long it runs.
//! - **Stalled response**: a response the client does not read for
//!   `idle_timeout` (no byte written) is cut, so a dead reader does not
//!   pin a blob and its buffers.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Fewest request body bytes per `header_timeout` of waiting for a body.
pub const MIN_BODY_BYTES_PER_WINDOW: u64 = 1024;

/// The two limits, from the front end's section (`[webdav]`, `[nms]`).
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
    /// began, a handler or response ended, a header block began, a handler
    /// began waiting for its body.
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
    /// The end of the last response (or cancelled handler): the start of
    /// keep-alive idle.
    idle_since: Instant,
    /// The last byte written, or the end of the last handler.
    last_write: Instant,
    /// When the first byte of the next header block arrived: with no
    /// request in progress, or (HTTP/1.1) after the current request's body
    /// ended; at most the end of the response it arrived during.
    head_started: Option<Instant>,
    /// HTTP/1.1: the current request's body has ended, so bytes read now
    /// begin the next header block.
    body_ended: bool,
    /// Request bodies whose handler polled them and found no frame.
    bodies_waiting: usize,
    /// Since when `bodies_waiting > 0`, if it is.
    waiting_since: Option<Instant>,
    /// Time spent waiting for bodies in the current rate window, before
    /// `waiting_since`.
    window_waited: Duration,
    /// Body bytes received in the current rate window.
    window_bytes: u64,
}

impl State {
    fn in_progress(&self) -> bool {
        self.handlers > 0 || self.responses > 0
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
                _ => expired(self.idle_since + t.idle, Expired::Idle),
            };
        }
        if let Some(since) = self.waiting_since {
            let waited = self.window_waited + now.saturating_duration_since(since);
            if waited < t.header {
                return Ok(now + (t.header - waited));
            }
            if self.window_bytes < MIN_BODY_BYTES_PER_WINDOW {
                return Err(Expired::SlowBody);
            }
            self.waiting_since = Some(now);
            self.window_waited = Duration::ZERO;
            self.window_bytes = 0;
            return Ok(now + t.header);
        }
        if self.handlers == 0 {
            return expired(self.last_write + t.idle, Expired::Stalled);
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
                idle_since: now,
                last_write: now,
                head_started: None,
                body_ended: false,
                bodies_waiting: 0,
                waiting_since: None,
                window_waited: Duration::ZERO,
                window_bytes: 0,
            }),
            wake: tokio::sync::Notify::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request's handler starts; `http2` is its protocol. The handler
    /// holds the returned guard while it runs, and reads its body through
    /// [`Activity::watch_body`].
    pub fn request_started(self: &Arc<Self>, http2: bool) -> Handler {
        let mut s = self.state();
        s.served = true;
        s.http2 |= http2;
        s.handlers += 1;
        s.responses += 1;
        s.head_started = None;
        s.body_ended = false;
        drop(s);
        self.wake.notify_one();
        Handler {
            activity: self.clone(),
            done: false,
        }
    }

    /// `body`, reporting to this connection when its handler waits for it.
    pub fn watch_body<B: hyper::body::Body>(self: &Arc<Self>, body: B) -> WatchedBody<B> {
        if body.is_end_stream() {
            self.body_ended();
        }
        WatchedBody {
            inner: body,
            activity: self.clone(),
            waiting: false,
        }
    }

    /// A body's handler found no frame: it waits from now.
    fn body_waiting(&self, now: Instant) {
        let mut s = self.state();
        s.bodies_waiting += 1;
        if s.waiting_since.is_none() {
            s.waiting_since = Some(now);
            drop(s);
            self.wake.notify_one();
        }
    }

    /// A waiting body got a frame of `bytes` data bytes, ended or was
    /// dropped (`bytes == 0`).
    fn body_waited(&self, now: Instant, bytes: u64) {
        let mut s = self.state();
        s.window_bytes = s.window_bytes.saturating_add(bytes);
        s.bodies_waiting = s.bodies_waiting.saturating_sub(1);
        if s.bodies_waiting == 0 {
            if let Some(since) = s.waiting_since.take() {
                s.window_waited += now.saturating_duration_since(since);
            }
        }
    }

    /// The current request's body has no more frames.
    fn body_ended(&self) {
        self.state().body_ended = true;
    }

    /// Whether the current request's body was left unread (in part): on
    /// HTTP/1.1 the connection cannot carry another request then.
    pub fn body_unread(&self) -> bool {
        !self.state().body_ended
    }

    /// A body not waiting got a frame of `bytes` data bytes.
    fn body_bytes(&self, bytes: u64) {
        let mut s = self.state();
        s.window_bytes = s.window_bytes.saturating_add(bytes);
    }

    fn read(&self, n: usize) {
        let mut s = self.state();
        if n == 0 {
            return;
        }
        let now = Instant::now();
        if s.head_started.is_some() {
            return;
        }
        if !s.in_progress() {
            s.head_started = Some(now);
            drop(s);
            self.wake.notify_one();
        } else if s.body_ended && !s.http2 {
            // The next request's head, read during this one's response.
            s.head_started = Some(now);
        }
    }

    fn wrote(&self, n: usize) {
        if n > 0 {
            self.state().last_write = Instant::now();
        }
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
    /// The handler returned a response ([`Handler::done`]).
    done: bool,
}

impl Handler {
    /// The handler has returned; the response (held by its body until it
    /// is wholly sent) is in progress.
    pub fn done(mut self) -> Response {
        self.done = true;
        self.activity.state().last_write = Instant::now();
        Response {
            activity: self.activity.clone(),
        }
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        let mut s = self.activity.state();
        s.handlers = s.handlers.saturating_sub(1);
        if s.handlers == 0 {
            // A new rate window for the next request's body.
            s.window_waited = Duration::ZERO;
            s.window_bytes = 0;
        }
        if !self.done {
            // Cancelled: no response will be sent.
            s.responses = s.responses.saturating_sub(1);
            s.idle_since = Instant::now();
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
        let now = Instant::now();
        s.idle_since = now;
        if s.head_started.is_some() {
            // A head begun during the response has header_timeout from
            // its end (it may be whole already, waiting to be parsed).
            s.head_started = Some(now);
        }
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

/// A request body that tells its [`Activity`] when its handler waits for
/// it (polls and finds no frame) and how many data bytes arrive; once the
/// body has ended or is dropped it no longer waits.
pub struct WatchedBody<B> {
    inner: B,
    activity: Arc<Activity>,
    /// Counted in `bodies_waiting`.
    waiting: bool,
}

impl<B> WatchedBody<B> {
    fn stop_waiting(&mut self, now: Instant, bytes: u64) {
        if self.waiting {
            self.waiting = false;
            self.activity.body_waited(now, bytes);
        } else if bytes > 0 {
            self.activity.body_bytes(bytes);
        }
    }
}

impl<B> Drop for WatchedBody<B> {
    fn drop(&mut self) {
        self.stop_waiting(Instant::now(), 0);
    }
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for WatchedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let result = Pin::new(&mut self.inner).poll_frame(cx);
        let now = Instant::now();
        match &result {
            Poll::Pending => {
                if !self.waiting {
                    self.waiting = true;
                    self.activity.body_waiting(now);
                }
            }
            Poll::Ready(Some(Ok(frame))) => {
                let bytes = frame
                    .data_ref()
                    .map_or(0, |d| bytes::Buf::remaining(d) as u64);
                self.stop_waiting(now, bytes);
                if self.inner.is_end_stream() {
                    self.activity.body_ended();
                }
            }
            Poll::Ready(Some(Err(_))) => self.stop_waiting(now, 0),
            Poll::Ready(None) => {
                self.stop_waiting(now, 0);
                self.activity.body_ended();
            }
        }
        result
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
            Poll::Pending | Poll::Ready(Err(_)) => {}
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
    use hyper::body::Body as _;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(5),
        idle: Duration::from_secs(60),
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A request body whose next frame never comes.
    struct Silent;

    impl hyper::body::Body for Silent {
        type Data = bytes::Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
            Poll::Pending
        }
    }

    /// Polls `body` once, as a handler reading it does: a frame, the end
    /// (`None`), or nothing yet.
    fn poll<B: hyper::body::Body + Unpin>(body: &mut WatchedBody<B>) -> Poll<Option<()>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        Pin::new(body)
            .poll_frame(&mut cx)
            .map(|frame| frame.map(|_| ()))
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
        let handler = a.request_started(false);
        let response = handler.done();
        drop(response);
        let t1 = a.state().idle_since;
        assert!(a.state().check(t1 + secs(59), T).is_ok());
        assert_eq!(a.state().check(t1 + secs(60), T), Err(Expired::Idle));
        a.read(3);
        let start = a.state().head_started.unwrap();
        assert_eq!(a.state().check(start + secs(5), T), Err(Expired::Header));
        a.state().http2 = true;
        assert!(a.state().check(start + secs(5), T).is_ok());
    }

    #[test]
    fn http2_pings_do_not_keep_an_idle_connection_open() {
        let a = Activity::new();
        drop(a.request_started(true).done());
        let t1 = a.state().idle_since;
        // PING frames (9-byte header + 8 bytes) read, PING ACKs written.
        for _ in 0..3 {
            a.read(17);
            a.wrote(17);
        }
        assert!(a.state().check(t1 + secs(59), T).is_ok());
        assert_eq!(a.state().check(t1 + secs(60), T), Err(Expired::Idle));
    }

    #[test]
    fn a_handler_waiting_for_a_slow_body_is_cut() {
        let a = Activity::new();
        let handler = a.request_started(false);
        let mut body = a.watch_body(Silent);
        let t0 = Instant::now();
        assert!(poll(&mut body).is_pending());
        assert!(a.state().check(t0 + secs(4), T).is_ok());
        assert_eq!(a.state().check(t0 + secs(6), T), Err(Expired::SlowBody));

        // Waiting time adds up across frames: 10 bytes, each after 1 s.
        drop(body);
        drop(handler);
        let a = Activity::new();
        let _handler = a.request_started(false);
        let t0 = Instant::now();
        for i in 0..10 {
            a.body_waiting(t0 + secs(i));
            a.body_waited(t0 + secs(i) + secs(1), 1);
        }
        a.body_waiting(t0 + secs(10));
        assert_eq!(a.state().check(t0 + secs(10), T), Err(Expired::SlowBody));
    }

    #[test]
    fn a_fast_body_is_not_cut() {
        let a = Activity::new();
        let _handler = a.request_started(false);
        let t0 = Instant::now();
        a.body_waiting(t0);
        a.body_waited(t0 + secs(4), 5_000);
        a.body_waiting(t0 + secs(4));
        assert!(a.state().check(t0 + secs(6), T).is_ok());
        // A new window: the bytes of the last one do not count again.
        assert_eq!(a.state().check(t0 + secs(12), T), Err(Expired::SlowBody));
    }

    /// The reviewer's case: a large PUT whose body is all in (much of it
    /// read with the header block) and whose handler then takes longer
    /// than the header timeout (fsync, commit) gets its response.
    #[test]
    fn a_handler_with_its_whole_body_may_take_longer_than_the_header_timeout() {
        let a = Activity::new();
        let handler = a.request_started(false);
        let mut body = a.watch_body(http_body_util::Full::new(bytes::Bytes::from(vec![
            b'x';
            100_000
        ])));
        let t0 = Instant::now();
        assert!(poll(&mut body) == Poll::Ready(Some(())));
        assert!(poll(&mut body) == Poll::Ready(None));
        assert!(body.is_end_stream());
        assert!(a.state().check(t0 + secs(120), T).is_ok());
        drop(body);
        assert!(a.state().check(t0 + secs(240), T).is_ok());

        // Nor is one that never reads its body (e.g. refused before it).
        let mut silent = a.watch_body(Silent);
        assert!(a.state().check(t0 + secs(360), T).is_ok());
        // Once it polls and waits, the rule applies from then on only.
        let t1 = Instant::now();
        assert!(poll(&mut silent).is_pending());
        assert!(a.state().check(t1 + secs(4), T).is_ok());
        drop(silent);
        assert!(a.state().check(t1 + secs(360), T).is_ok());
        drop(handler.done());
    }

    #[test]
    fn a_head_begun_during_a_response_gets_the_header_timeout_from_its_end() {
        let a = Activity::new();
        let handler = a.request_started(false);
        let mut body = a.watch_body(http_body_util::Full::new(bytes::Bytes::from_static(b"x")));
        // Body bytes read while the body is still being read are no head.
        a.read(1);
        assert_eq!(a.state().head_started, None);
        assert_eq!(poll(&mut body), Poll::Ready(Some(())));
        let response = handler.done();
        // Now the client sends part of its next head while the response
        // is still being sent.
        a.read(10);
        assert!(a.state().head_started.is_some());
        drop(response);
        let end = a.state().idle_since;
        assert_eq!(a.state().head_started, Some(end));
        assert!(a.state().check(end + secs(4), T).is_ok());
        assert_eq!(a.state().check(end + secs(5), T), Err(Expired::Header));

        // HTTP/2 frames during a response are no head.
        let a = Activity::new();
        let handler = a.request_started(true);
        let _body = a.watch_body(http_body_util::Empty::<bytes::Bytes>::new());
        let _response = handler.done();
        a.read(17);
        assert_eq!(a.state().head_started, None);
    }

    #[test]
    fn a_response_nobody_reads_is_cut_after_idle() {
        let a = Activity::new();
        let _response = a.request_started(false).done();
        let t = a.state().last_write;
        assert!(a.state().check(t + secs(59), T).is_ok());
        assert_eq!(a.state().check(t + secs(60), T), Err(Expired::Stalled));
    }
}
