//! WebDAV (RFC 4918, class 1 and 2) over store-core, for media tools and
//! file managers (CPM-STOR1 for media objects, seed 000).
//!
//! Layering, as in hyper: [`WebDavServer::serve`] accepts connections
//! (TLS with ALPN `h2`/`http/1.1`, HTTP/1.1 and HTTP/2 through hyper-util's
//! auto builder); [`service`] authenticates and dispatches one request to
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
pub mod properties;
pub mod resource;
pub mod service;
pub mod tree;
pub mod xml;

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use store_core::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

pub use config::{CleartextBasic, WebDavConfig};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

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

    /// Accepts connections on `listener` until `shutdown` turns true; with
    /// `implicit_tls`, each connection starts with a TLS handshake. Open
    /// connections finish their request in flight, then close
    /// (graceful shutdown); `tasks` tracks them.
    pub async fn serve(
        &self,
        listener: TcpListener,
        implicit_tls: bool,
        mut shutdown: watch::Receiver<bool>,
        tasks: TaskTracker,
    ) {
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "WebDAV accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            };
            // Without it, a multistatus written in two segments waits for
            // the client's delayed ACK.
            let _ = tcp.set_nodelay(true);
            let shared = self.shared.clone();
            let tls = if implicit_tls { self.tls.clone() } else { None };
            if implicit_tls && tls.is_none() {
                continue;
            }
            let rx = shutdown.clone();
            let span = tracing::info_span!("webdav", %peer, tls = implicit_tls);
            tasks.spawn(tracing::Instrument::instrument(
                async move {
                    let connection = service::Connection {
                        peer,
                        secure: implicit_tls,
                    };
                    match tls {
                        Some(acceptor) => {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
                                .await
                            {
                                Ok(Ok(stream)) => {
                                    serve_connection(stream, shared, connection, rx).await
                                }
                                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                                Err(_) => tracing::debug!("TLS handshake timed out"),
                            }
                        }
                        None => serve_connection(tcp, shared, connection, rx).await,
                    }
                },
                span,
            ));
        }
    }
}

async fn serve_connection<S>(
    stream: S,
    shared: Arc<service::Shared>,
    connection: service::Connection,
    mut shutdown: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let shared = shared.clone();
        let connection = connection.clone();
        async move {
            Ok::<_, std::convert::Infallible>(service::handle(&shared, &connection, request).await)
        }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "WebDAV connection ended with an error");
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
