//! `cpm-bench webdav`: GET of a 1 MiB file, PROPFIND Depth 1 over a
//! collection of 1,000 files, and PUT of 1 MiB files, each as a rate over
//! N keep-alive HTTP/1.1 connections (hyper). The suite takes any WebDAV
//! server (address, path prefix, credentials), so `peers` runs it
//! against nginx and Apache too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::fixtures::{self, Fixture, LOGIN, PASSWORD};
use crate::results::Measure;
use crate::server::Server;
use crate::{throughput_runtime, Ctx};

/// Files in the PROPFIND collection.
pub const FILES: usize = 1_000;
/// Size of the GET and PUT files.
pub const MIB: usize = 1 << 20;

/// A WebDAV server under test: where, under which path, as whom.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// Path of the tree holding `media/big.bin`, `files/` and `put/`,
    /// without a trailing slash (`/dav/bench`, or empty for a peer).
    pub prefix: String,
    /// The `Authorization` header value, if any.
    pub auth: Option<String>,
    /// The label in the results.
    pub server: String,
}

impl Target {
    /// The release cpm-store at `addr`, account `bench`.
    pub fn cpm(addr: SocketAddr) -> Target {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{LOGIN}:{PASSWORD}"));
        Target {
            addr,
            prefix: format!("/dav/{LOGIN}"),
            auth: Some(format!("Basic {basic}")),
            server: "cpm-store".into(),
        }
    }

    fn request(&self, method: Method, path: &str, body: Bytes) -> Result<Request<Full<Bytes>>> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header(hyper::header::HOST, self.addr.to_string());
        if let Some(a) = &self.auth {
            b = b.header(hyper::header::AUTHORIZATION, a);
        }
        Ok(b.body(Full::new(body))?)
    }
}

/// One keep-alive connection.
pub async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect to HTTP {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Sends `req` and reads the whole body: (status, body bytes).
pub async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<(StatusCode, u64)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            len += data.len() as u64;
        }
    }
    Ok((status, len))
}

/// The requests one load sends: the n-th request of connection c.
type MakeRequest = dyn Fn(usize, u64) -> Result<Request<Full<Bytes>>> + Send + Sync;

/// `conns` connections sending `make` requests for `time`; every answer
/// must have a success status (and, if given, `len` bytes). Requests per
/// second.
async fn load(
    addr: SocketAddr,
    conns: usize,
    time: Duration,
    len: Option<u64>,
    make: Arc<MakeRequest>,
) -> Result<f64> {
    let mut senders = Vec::with_capacity(conns);
    for _ in 0..conns {
        senders.push(connect(addr).await?);
    }
    let started = Instant::now();
    let deadline = started + time;
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(c, mut s)| {
            let make = make.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let (status, got) = send(&mut s, make(c, n)?).await?;
                    if !status.is_success() || len.is_some_and(|l| l != got) {
                        bail!("answer {status} with {got} bytes");
                    }
                    n += 1;
                }
                anyhow::Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Creates the tree on a server that takes MKCOL and PUT (cpm-store):
/// `media/big.bin` (1 MiB), `files/` of [`FILES`] files, `put/`.
pub async fn populate(t: &Target) -> Result<()> {
    let mut s = connect(t.addr).await?;
    for dir in ["/media/", "/files/", "/put/"] {
        let (status, _) = send(
            &mut s,
            t.request(Method::from_bytes(b"MKCOL")?, dir, Bytes::new())?,
        )
        .await?;
        if !status.is_success() && status != StatusCode::METHOD_NOT_ALLOWED {
            bail!("MKCOL {dir}: {status}");
        }
    }
    let (status, _) = send(
        &mut s,
        t.request(Method::PUT, "/media/big.bin", big_file())?,
    )
    .await?;
    if !status.is_success() {
        bail!("PUT big.bin: {status}");
    }
    for i in 0..FILES {
        let body = Bytes::from(store_core::bench_message(i as u32));
        let (status, _) = send(
            &mut s,
            t.request(Method::PUT, &format!("/files/f{i:04}.txt"), body)?,
        )
        .await?;
        if !status.is_success() {
            bail!("PUT f{i:04}.txt: {status}");
        }
    }
    Ok(())
}

/// The 1 MiB file every server serves (bytes that do not compress).
pub fn big_file() -> Bytes {
    let mut x: u32 = 0x1234_5678;
    Bytes::from(
        (0..MIB)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect::<Vec<u8>>(),
    )
}

const PROPFIND_BODY: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<D:propfind xmlns:D=\"DAV:\"><D:prop><D:getcontentlength/><D:getlastmodified/>\
<D:getetag/><D:resourcetype/><D:getcontenttype/></D:prop></D:propfind>";

/// GET, PROPFIND and PUT rates of `t` over `conns` connections.
pub async fn suite(t: &Target, conns: usize, time: Duration) -> Result<Vec<Measure>> {
    let mut out = Vec::new();
    let target = Arc::new(t.clone());
    let get = {
        let t = target.clone();
        load(
            t.addr,
            conns,
            time,
            Some(MIB as u64),
            Arc::new(move |_, _| t.request(Method::GET, "/media/big.bin", Bytes::new())),
        )
        .await?
    };
    out.push(Measure::new(
        "webdav", "get_1mib", &t.server, 0, "req/s", get,
    ));
    let propfind = {
        let t = target.clone();
        load(
            t.addr,
            conns,
            time,
            None,
            Arc::new(move |_, _| {
                let mut r = t.request(
                    Method::from_bytes(b"PROPFIND")?,
                    "/files/",
                    Bytes::from_static(PROPFIND_BODY.as_bytes()),
                )?;
                r.headers_mut()
                    .insert("Depth", hyper::header::HeaderValue::from_static("1"));
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/xml"),
                );
                Ok(r)
            }),
        )
        .await?
    };
    out.push(Measure::new(
        "webdav",
        "propfind_depth1_1000",
        &t.server,
        0,
        "req/s",
        propfind,
    ));
    let put = {
        let t = target.clone();
        let body = big_file();
        load(
            t.addr,
            conns,
            time,
            None,
            Arc::new(move |c, n| {
                // A few names per connection, overwritten in turn.
                t.request(
                    Method::PUT,
                    &format!("/put/c{c}-{}.bin", n % 4),
                    body.clone(),
                )
            }),
        )
        .await?
    };
    out.push(Measure::new(
        "webdav", "put_1mib", &t.server, 0, "MiB/s", put,
    ));
    for m in &out {
        eprintln!("  {} {}: {:.0} {}", m.server, m.op, m.value, m.unit);
    }
    Ok(out)
}

/// Connections of the WebDAV loads.
pub fn connections(quick: bool) -> usize {
    if quick {
        4
    } else {
        16
    }
}

/// Starts cpm-store on the base fixture with the tree populated.
pub fn start_cpm(ctx: &Ctx, rt: &tokio::runtime::Runtime) -> Result<(Server, Target)> {
    let (dir, _) = rt.block_on(fixtures::ensure(ctx, Fixture::Base))?;
    let server = Server::start(ctx, &dir, None, "")?;
    let t = Target::cpm(server.ports.webdav);
    rt.block_on(populate(&t))?;
    Ok((server, t))
}

/// `cpm-bench webdav`.
pub fn run(ctx: &Ctx) -> Result<()> {
    let rt = throughput_runtime()?;
    let (server, t) = start_cpm(ctx, &rt)?;
    let m = rt.block_on(suite(
        &t,
        connections(ctx.quick),
        crate::append::load_time(ctx.quick),
    ))?;
    ctx.record(|r| m.into_iter().for_each(|m| r.put(m)))?;
    server.stop()
}
