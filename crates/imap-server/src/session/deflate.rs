//! COMPRESS=DEFLATE (RFC 4978): both directions of a connection as raw
//! DEFLATE streams (RFC 1951, no zlib or gzip framing), under the
//! session's buffers and write limit and over TLS when there is TLS.
//!
//! - Reading inflates only as much as the caller's buffer takes, so a
//!   decompression bomb costs no more memory than plain input would: the
//!   command reader's line and literal limits bound what it keeps.
//! - Writing deflates into a pending buffer; a flush ends the batch with a
//!   sync flush (RFC 4978 4: the client must never wait for output the
//!   server holds back), then writes it through.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Compressed bytes read from the peer and not yet inflated, at most.
const INPUT_BUFFER: usize = 16 * 1024;

/// A connection whose bytes are raw DEFLATE both ways.
pub struct Deflate<S> {
    inner: S,
    inflate: Decompress,
    /// Compressed input: `input[start..end]` is not inflated yet.
    input: Box<[u8]>,
    start: usize,
    end: usize,
    /// The peer ended its DEFLATE stream (a final block): end of input.
    finished: bool,
    deflate: Compress,
    /// Deflated output not written yet, from `written` on.
    output: Vec<u8>,
    written: usize,
    /// Bytes were deflated since the last sync flush.
    unflushed: bool,
}

impl<S> Deflate<S> {
    /// Wraps `inner`; `pending` are bytes already read from it past the
    /// COMPRESS command (compressed data a client pipelined after it).
    ///
    /// Errors: none; `pending` longer than the input buffer is kept whole.
    pub fn new(inner: S, pending: &[u8]) -> Self {
        let mut input = vec![0; INPUT_BUFFER.max(pending.len())].into_boxed_slice();
        input[..pending.len()].copy_from_slice(pending);
        Deflate {
            inner,
            inflate: Decompress::new(false),
            input,
            start: 0,
            end: pending.len(),
            finished: false,
            deflate: Compress::new(Compression::default(), false),
            output: Vec::new(),
            written: 0,
            unflushed: false,
        }
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<S: AsyncRead + AsyncWrite + Unpin> Deflate<S> {
    /// Writes the pending deflated output to the connection.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.output.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.output[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.output.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Deflates `data` (empty with `Sync` for a sync flush) onto `output`.
    fn deflate_into_output(&mut self, data: &[u8], flush: FlushCompress) -> io::Result<()> {
        let mut consumed = 0usize;
        loop {
            self.output.reserve((data.len() - consumed).max(1024));
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(&data[consumed..], &mut self.output, flush)
                .map_err(corrupt)?;
            consumed += (self.deflate.total_in() - before) as usize;
            // Done when all input is taken and the output did not fill
            // the room it had (so nothing is left inside the deflater).
            if consumed == data.len() && self.output.len() < self.output.capacity() {
                return Ok(());
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Deflate<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.finished {
                return Poll::Ready(Ok(()));
            }
            let (in_before, out_before) = (this.inflate.total_in(), this.inflate.total_out());
            let status = this
                .inflate
                .decompress(
                    &this.input[this.start..this.end],
                    buf.initialize_unfilled(),
                    FlushDecompress::None,
                )
                .map_err(corrupt)?;
            this.start += (this.inflate.total_in() - in_before) as usize;
            let produced = (this.inflate.total_out() - out_before) as usize;
            buf.advance(produced);
            if status == Status::StreamEnd {
                this.finished = true;
            }
            if produced > 0 || this.finished {
                return Poll::Ready(Ok(()));
            }
            // Nothing came out: more compressed input is needed.
            if this.start == this.end {
                this.start = 0;
                this.end = 0;
            } else if this.start > 0 {
                this.input.copy_within(this.start..this.end, 0);
                this.end -= this.start;
                this.start = 0;
            }
            if this.end == this.input.len() {
                // A full buffer that inflates to nothing is not DEFLATE
                // a client would send.
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "compressed input makes no progress",
                )));
            }
            let mut more = ReadBuf::new(&mut this.input[this.end..]);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut more))?;
            let n = more.filled().len();
            if n == 0 {
                // The connection closed: end of input.
                return Poll::Ready(Ok(()));
            }
            this.end += n;
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Deflate<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Back-pressure: earlier output goes out before more is taken.
        ready!(this.poll_drain(cx))?;
        this.deflate_into_output(data, FlushCompress::None)?;
        this.unflushed = true;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.unflushed {
            this.deflate_into_output(&[], FlushCompress::Sync)?;
            this.unflushed = false;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(data.len() + 1024);
        c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
        out
    }

    fn raw_inflate(data: &[u8]) -> Vec<u8> {
        let mut d = Decompress::new(false);
        let mut out = Vec::with_capacity(1 << 20);
        d.decompress_vec(data, &mut out, FlushDecompress::Sync)
            .unwrap();
        out
    }

    #[tokio::test]
    async fn round_trips_with_pipelined_input_and_sync_flush() {
        let (client, server) = tokio::io::duplex(1 << 20);
        let first = raw_deflate(b"a NOOP\r\n");
        let (pipelined, rest) = first.split_at(3);
        let mut conn = Deflate::new(server, pipelined);
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(rest).await.unwrap();
        let mut line = [0u8; 8];
        conn.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"a NOOP\r\n");
        conn.write_all(b"a OK done\r\n").await.unwrap();
        conn.flush().await.unwrap();
        let mut got = vec![0u8; 64];
        let n = cr.read(&mut got).await.unwrap();
        // A sync flush ends in an empty stored block.
        assert!(got[..n].ends_with(&[0, 0, 0xff, 0xff]));
        assert_eq!(raw_inflate(&got[..n]), b"a OK done\r\n");
    }

    #[tokio::test]
    async fn a_bomb_inflates_only_as_far_as_it_is_read() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let bomb = raw_deflate(&vec![b'a'; 50 << 20]);
        assert!(bomb.len() < 100 << 10);
        client.write_all(&bomb).await.unwrap();
        let mut conn = Deflate::new(server, &[]);
        let mut buf = [0u8; 4096];
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0 && n <= 4096);
        assert_eq!(conn.input.len(), INPUT_BUFFER);
    }
}
