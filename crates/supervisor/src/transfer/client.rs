//! The CLI's side of the transfer routes of the admin endpoint
//! (`super::routes`): one HTTP/1.1 request per connection (the endpoint
//! closes connections after a minute), `Authorization: Bearer` with the
//! token of `<data_dir>/admin.token`.

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper::{Method, Request};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tokio::io::{AsyncRead, ReadBuf};

use crate::config::Config;

/// A running server's admin endpoint.
pub struct AdminClient {
    addr: SocketAddr,
    token: String,
}

type RequestBody = BoxBody<Bytes, std::io::Error>;

/// A request body read from a file in pieces of at most 256 KiB.
struct FileBody {
    file: tokio::fs::File,
    left: u64,
    buffer: Vec<u8>,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let want = this.left.min(this.buffer.len() as u64) as usize;
        let mut buf = ReadBuf::new(&mut this.buffer[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file shrank while it was sent",
                    ))));
                }
                this.left -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(
                    &this.buffer[..n],
                )))))
            }
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.left)
    }
}

fn query(path: &str, params: &[(&str, &str)]) -> String {
    let mut out = path.to_string();
    for (i, (name, value)) in params.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        out.push('=');
        out.extend(utf8_percent_encode(value, NON_ALPHANUMERIC));
    }
    out
}

fn empty() -> RequestBody {
    Full::new(Bytes::new()).map_err(|e| match e {}).boxed()
}

impl AdminClient {
    /// The admin endpoint of the server running on the configured data
    /// directory: `Some` when `admin.token` is there and a listener of
    /// `[admin] listen` accepts a connection; `None` when the server is
    /// down.
    pub async fn find(config: &Config) -> Result<Option<AdminClient>> {
        let Some(token) = crate::serve::admin_token(&config.store.data_dir, false)? else {
            return Ok(None);
        };
        for addr in &config.admin.listen {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(Some(AdminClient {
                    addr: *addr,
                    token: token.clone(),
                }));
            }
        }
        Ok(None)
    }

    /// Sends one request; returns the body of a 2xx answer, else fails
    /// with the answer's text.
    async fn send(&self, method: Method, uri: String, body: RequestBody) -> Result<Bytes> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot reach the admin endpoint at {}", self.addr))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, self.addr.to_string())
            .header(
                hyper::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            )
            .body(body)?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!(
                "the server answered {status}: {}",
                String::from_utf8_lossy(&bytes).trim()
            );
        }
        Ok(bytes)
    }

    /// GET, the answer decoded as JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<T> {
        let bytes = self.send(Method::GET, query(path, params), empty()).await?;
        serde_json::from_slice(&bytes).context("the server's answer is not what was expected")
    }

    /// GET, the answer's bytes.
    pub async fn get_bytes(&self, path: &str, params: &[(&str, &str)]) -> Result<Bytes> {
        self.send(Method::GET, query(path, params), empty()).await
    }

    /// POST without a body, the answer as text.
    pub async fn post_text(&self, path: &str, params: &[(&str, &str)]) -> Result<String> {
        let bytes = self
            .send(Method::POST, query(path, params), empty())
            .await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// POST without a body.
    pub async fn post_empty(&self, path: &str, params: &[(&str, &str)]) -> Result<()> {
        self.post_text(path, params).await.map(|_| ())
    }

    /// POST the `size` bytes of the file `file`, streamed.
    pub async fn post_file(
        &self,
        path: &str,
        params: &[(&str, &str)],
        file: &Path,
        size: u64,
    ) -> Result<()> {
        let body = FileBody {
            file: tokio::fs::File::open(file)
                .await
                .with_context(|| format!("cannot open {}", file.display()))?,
            left: size,
            buffer: vec![0u8; 256 * 1024],
        };
        self.send(Method::POST, query(path, params), body.boxed())
            .await
            .map(|_| ())
    }
}
