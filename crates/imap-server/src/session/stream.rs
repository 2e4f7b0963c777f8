//! The connection's byte stream: plain TCP, or TLS after STARTTLS or on an
//! implicit-TLS listener, and either of them compressed after COMPRESS
//! (RFC 4978).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::deflate::Deflate;

/// A client connection.
pub enum Stream {
    /// Cleartext.
    Plain(TcpStream),
    /// TLS (rustls).
    Tls(Box<TlsStream<TcpStream>>),
    /// COMPRESS=DEFLATE (RFC 4978) over either of the others.
    Deflate(Box<Deflate<Stream>>),
}

impl Stream {
    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(_) => true,
            Stream::Deflate(d) => d.get_ref().is_tls(),
        }
    }

    /// Whether COMPRESS is in effect.
    pub fn is_compressed(&self) -> bool {
        matches!(self, Stream::Deflate(_))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Asks the kernel to acknowledge the peer's next segment at once
/// (`TCP_QUICKACK`, Linux tcp(7)) rather than after the delayed-ACK
/// timer. The server calls it when it has sent a `+` continuation and
/// waits for a literal (RFC 3501 7.5): a client under Nagle's algorithm
/// holds the literal's last small segment until its previous one is
/// acknowledged, and a delayed ACK makes that a 40 ms stall per APPEND.
/// The option is not sticky (the kernel may leave quick-ACK mode again),
/// so it is set before each wait. It has no effect off Linux or on a
/// stream without a socket; failures are ignored (it only affects
/// timing).
pub trait QuickAck {
    /// Sets `TCP_QUICKACK` on the connection's socket, if there is one.
    fn quick_ack(&self) {}
}

impl QuickAck for TcpStream {
    fn quick_ack(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let _ = socket2::SockRef::from(self).set_tcp_quickack(true);
        }
    }
}

impl QuickAck for Stream {
    fn quick_ack(&self) {
        match self {
            Stream::Plain(s) => s.quick_ack(),
            // The TCP socket under TLS.
            Stream::Tls(s) => s.get_ref().0.quick_ack(),
            Stream::Deflate(d) => d.get_ref().quick_ack(),
        }
    }
}

/// An in-memory reader and writer joined (tests, the fuzz target): no
/// socket, nothing to acknowledge.
impl<R, W> QuickAck for tokio::io::Join<R, W> {}

impl<S: QuickAck> QuickAck for super::write_limit::LimitedWrites<S> {
    fn quick_ack(&self) {
        self.get_ref().quick_ack()
    }
}

impl<S: QuickAck + tokio::io::AsyncWrite> QuickAck for tokio::io::BufWriter<S> {
    fn quick_ack(&self) {
        self.get_ref().quick_ack()
    }
}

impl<S: QuickAck + AsyncRead> QuickAck for tokio::io::BufReader<S> {
    fn quick_ack(&self) {
        self.get_ref().quick_ack()
    }
}
