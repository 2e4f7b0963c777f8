//! `cpm-store health`: whether the running server is healthy, for a
//! container HEALTHCHECK or a monitor: exit status 0 when its admin
//! endpoint's `/healthz` answers 200 within [`TIMEOUT`], else 1 with the
//! reason on standard error.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};

/// Longest the whole check may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Asks `/healthz` at `addr`; `Ok` with its body on 200.
///
/// Errors: nothing listens, the request fails or takes over [`TIMEOUT`],
/// or the answer is not 200 (its body says why).
pub async fn check(addr: SocketAddr) -> Result<String> {
    match tokio::time::timeout(TIMEOUT, get(addr, "/healthz")).await {
        Err(_) => bail!(
            "no answer from {addr}/healthz within {} s",
            TIMEOUT.as_secs()
        ),
        Ok(Err(e)) => Err(e),
        Ok(Ok((200, body))) => Ok(body),
        Ok(Ok((status, body))) => bail!("{addr}/healthz answered {status}: {}", body.trim()),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to the admin endpoint {addr} ([admin] listen)"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
