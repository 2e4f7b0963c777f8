//! Writes to the client bounded in time: a client that never reads must
//! not hold its session (blocked in a write) for ever.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

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
}

impl<S> LimitedWrites<S> {
    /// Wraps `inner` with `limit`.
    pub fn new(inner: S, limit: WriteLimit) -> Self {
        LimitedWrites {
            inner,
            limit,
            timer: None,
        }
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
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for LimitedWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
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
