//! Writes to the client bounded in time: a client that never reads must
//! not hold its session (blocked in a write) for ever.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long a write to the client may wait for the client to read.
#[derive(Debug, Clone, Copy)]
pub enum WriteLimit {
    /// Every write ends by this instant (the login deadline, before login).
    By(Instant),
    /// Each write (or flush) that waits may wait this long (after login).
    Each(Duration),
}

/// A stream whose writes and flushes fail with `TimedOut` when the peer
/// does not take the bytes within the [`WriteLimit`]; reads pass through.
#[derive(Debug)]
pub struct LimitedWrites<S> {
    inner: S,
    limit: WriteLimit,
    /// Running while a write waits; reset when one completes.
    timer: Option<Pin<Box<Sleep>>>,
    /// Counts of the bytes that pass.
    traffic: Arc<Traffic>,
}

/// Bytes a session read from and wrote to its connection, above TLS and
/// COMPRESS (what the IMAP dialogue itself took), kept across the
/// stream changes of STARTTLS and COMPRESS: the access log's `in` and
/// `out`.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Bytes read.
    pub read: AtomicU64,
    /// Bytes written.
    pub written: AtomicU64,
}

impl<S> LimitedWrites<S> {
    /// Wraps `inner` with `limit`.
    pub fn new(inner: S, limit: WriteLimit) -> Self {
        LimitedWrites {
            inner,
            limit,
            timer: None,
            traffic: Arc::default(),
        }
    }

    /// Counts the bytes read and written in `traffic` from now on.
    pub fn with_traffic(mut self, traffic: Arc<Traffic>) -> Self {
        self.traffic = traffic;
        self
    }

    /// Changes the limit (at login).
    pub fn set_limit(&mut self, limit: WriteLimit) {
        self.limit = limit;
        self.timer = None;
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// `result` if it is ready (the timer is reset), else `TimedOut` once
    /// the limit has passed.
    fn limited<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if result.is_ready() {
            self.timer = None;
            return result;
        }
        let limit = self.limit;
        let timer = self.timer.get_or_insert_with(|| {
            Box::pin(tokio::time::sleep_until(match limit {
                WriteLimit::By(at) => at,
                WriteLimit::Each(wait) => Instant::now() + wait,
            }))
        });
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timer = None;
                Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client did not read its responses in time",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LimitedWrites<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        self.traffic.read.fetch_add(read as u64, Ordering::Relaxed);
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for LimitedWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &result {
            self.traffic.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        self.limited(cx, result)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.limited(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.limited(cx, result)
    }
}
