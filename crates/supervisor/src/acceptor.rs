//! The one accept loop of every TCP listener (IMAP, WebDAV, SIP, admin):
//! accept until shutdown, back off briefly when accepting fails (out of
//! file descriptors), disable Nagle, make the TLS handshake of an
//! implicit-TLS listener within [`HANDSHAKE_TIMEOUT`], and hand the
//! connection to the front end in its own tracked task. The front ends
//! only serve connections (as hyper's `serve_connection` does).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::serve::Tasks;

/// Longest a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed accept, so that a full descriptor table does not
/// become a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// An accepted connection's byte stream.
pub enum Connection {
    /// Cleartext TCP.
    Plain(TcpStream),
    /// TLS, handshake done.
    Tls(Box<TlsStream<TcpStream>>),
}

/// An accepted connection.
pub struct Accepted {
    /// Its stream.
    pub connection: Connection,
    /// The client's address.
    pub peer: SocketAddr,
    /// The local address it reached.
    pub local: SocketAddr,
}

/// Starts [`accept`] on `listener` in a task tracked by `tasks`.
pub fn spawn<S, F>(
    protocol: &'static str,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: &watch::Receiver<bool>,
    tasks: &Tasks,
    serve: S,
) where
    S: Fn(Accepted) -> F + Send + Sync + Clone + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let accepting = accept(
        protocol,
        listener,
        tls,
        shutdown.clone(),
        tasks.clone(),
        serve,
    );
    tasks.spawn(accepting);
}

/// Accepts on `listener` until `shutdown` turns true; with `tls`, each
/// connection first makes a TLS handshake (failures and timeouts drop
/// it). `serve` then runs in a task tracked by `tasks`, in a span named
/// after `protocol`.
pub async fn accept<S, F>(
    protocol: &'static str,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
    tasks: Tasks,
    serve: S,
) where
    S: Fn(Accepted) -> F + Send + Sync + Clone + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(protocol, error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        // Without it, a response written in two segments waits for the
        // client's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let Ok(local) = tcp.local_addr() else {
            continue;
        };
        let span = tracing::info_span!("connection", protocol, %peer, tls = tls.is_some());
        let (tls, serve) = (tls.clone(), serve.clone());
        tasks.spawn(tracing::Instrument::instrument(
            async move {
                let connection = match tls {
                    None => Connection::Plain(tcp),
                    Some(acceptor) => {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => Connection::Tls(Box::new(stream)),
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!("TLS handshake timed out");
                                return;
                            }
                        }
                    }
                };
                serve(Accepted {
                    connection,
                    peer,
                    local,
                })
                .await
            },
            span,
        ));
    }
}
