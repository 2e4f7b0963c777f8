//! WebDAV (RFC 4918, class 1 and 2) over store-core, for media tools and
//! file managers (CPM-STOR1 for media objects, seed 000).
//!
//! Layering, as in hyper: the supervisor accepts connections (TLS with
//! ALPN `h2`/`http/1.1` from [`WebDavServer::tls_acceptor`]);
//! [`WebDavServer::serve_connection`] speaks HTTP/1.1 and HTTP/2 on each
//! through hyper-util's auto builder; [`service`] authenticates and dispatches one request to
//! the handler of its method in [`methods`], one file per method. The
//! handlers share [`path`] (URL to store names), [`resource`] (what a path
//! names in the store), [`properties`], [`conditions`] (the `If` header,
//! ETag preconditions and lock enforcement) and [`xml`].
//!
//! The namespace is `/dav/{account}/{folder path}/{resource}`: the folders
//! IMAP shows, and in them one resource per object, named by its file name
//! or `{UID}.eml` (README, "WebDAV").

pub mod conditions;
pub mod config;
pub mod error;
pub mod media;
pub mod methods;
pub mod path;
pub mod privileges;
pub mod properties;
pub mod resource;
pub mod service;
pub mod timeouts;
pub mod tree;
pub mod xml;

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use store_core::Store;
use tokio::sync::watch;

pub use config::{CleartextPolicy, WebDavConfig};

/// The WebDAV front end: the store, its settings and the TLS setup.
#[derive(Clone)]
pub struct WebDavServer {
    shared: Arc<service::Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl WebDavServer {
    /// A server over `store`. With `tls`, HTTPS listeners offer HTTP/2 and
    /// HTTP/1.1 by ALPN (the configuration is cloned to set that).
    pub fn new(store: Store, config: WebDavConfig, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let tls = tls.map(|base| {
            let mut with_alpn = (*base).clone();
            with_alpn.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            tokio_rustls::TlsAcceptor::from(Arc::new(with_alpn))
        });
        WebDavServer {
            shared: Arc::new(service::Shared { store, config }),
            tls,
        }
    }

    /// The TLS acceptor of HTTPS listeners (ALPN `h2`, `http/1.1`), if
    /// TLS is configured.
    pub fn tls_acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.tls.clone()
    }

    /// Serves one accepted connection (`secure` when it is TLS, already
    /// handshaken) with HTTP/1.1 or HTTP/2 until it closes; when
    /// `shutdown` turns true the request in flight finishes, then the
    /// connection closes (graceful shutdown).
    pub async fn serve_connection<S>(
        &self,
        stream: S,
        peer: SocketAddr,
        secure: bool,
        shutdown: watch::Receiver<bool>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let connection = service::Connection { peer, secure };
        serve_http(stream, self.shared.clone(), connection, shutdown).await
    }
}

async fn serve_http<S>(
    stream: S,
    shared: Arc<service::Shared>,
    connection: service::Connection,
    mut shutdown: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let timeouts = timeouts::Timeouts {
        header: shared.config.header_timeout,
        idle: shared.config.idle_timeout,
    };
    let activity = timeouts::Activity::new();
    let stream = timeouts::Watched::new(stream, activity.clone());
    let watching = activity.clone();
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let shared = shared.clone();
            let connection = connection.clone();
            let handler = watching.request_started(request.version() == hyper::Version::HTTP_2);
            let request = request.map(|body| watching.watch_body(body));
            async move {
                let response = service::handle(&shared, &connection, request).await;
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
    let watchdog = timeouts::watchdog(activity, timeouts);
    tokio::pin!(watchdog);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "WebDAV connection ended with an error");
            }
        }
        expired = &mut watchdog => {
            tracing::debug!(reason = %expired, "WebDAV connection timed out");
            if expired == timeouts::Expired::Idle {
                // Nothing in progress: close as HTTP/2 asks (GOAWAY), but
                // not for longer than a header timeout.
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(timeouts.header, conn).await;
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                _ = conn.as_mut() => {}
                expired = watchdog => {
                    tracing::debug!(reason = %expired, "WebDAV connection timed out while stopping");
                }
            }
        }
    }
}
