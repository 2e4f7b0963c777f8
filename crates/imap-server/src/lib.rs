//! imap-server: IMAP4rev1 (RFC 3501) for CPM clients (CPM-STOR1), over
//! store-core.
//!
//! - [`protocol`] is the wire: the streaming command reader, the nom
//!   grammars, the command types and response rendering. It knows nothing
//!   of sessions.
//! - [`session`] is one connection: its state, the selected mailbox's view
//!   and the command loop.
//! - [`commands`] holds one handler per command.
//!
//! Extensions: UIDPLUS (RFC 4315), MOVE (RFC 6851), LITERAL+ (RFC 7888),
//! IDLE (RFC 2177), ENABLE (RFC 5161), NAMESPACE (RFC 2342), ID (RFC 2971),
//! UNSELECT (RFC 3691), SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154),
//! ESEARCH (RFC 4731),
//! SASL-IR (RFC 4959), APPENDLIMIT (RFC 7889); AUTHENTICATE PLAIN and
//! SCRAM-SHA-256; STARTTLS and implicit TLS (RFC 8314).

pub mod commands;
pub mod config;
pub mod protocol;
pub mod sasl;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use store_core::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

pub use config::{CleartextPolicy, ImapConfig};
use session::state::ServerState;
use session::stream::Stream;

/// Longest a TLS handshake may take on an implicit-TLS listener.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// An IMAP server over one store: run [`ImapServer::serve`] for each
/// listener.
#[derive(Clone)]
pub struct ImapServer {
    state: Arc<ServerState>,
}

impl ImapServer {
    /// A server over `store`. `tls` enables STARTTLS on plain listeners and
    /// is required for implicit-TLS listeners.
    pub fn new(store: Store, config: ImapConfig, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        ImapServer {
            state: Arc::new(ServerState::new(store, config, acceptor)),
        }
    }

    /// Accepts connections on `listener` until `shutdown` turns true, one
    /// task per connection, tracked by `tasks` so the caller can wait for
    /// them. With `implicit_tls`, every connection starts with a TLS
    /// handshake (port 993 style, RFC 8314 3.2).
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
                        tracing::warn!(error = %e, "IMAP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            };
            let _ = tcp.set_nodelay(true);
            let state = self.state.clone();
            let rx = shutdown.clone();
            let span = tracing::info_span!("imap", %peer, tls = implicit_tls);
            tasks.spawn(tracing::Instrument::instrument(
                async move {
                    let stream = if implicit_tls {
                        let Some(acceptor) = state.tls.clone() else {
                            return;
                        };
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        }
                    } else {
                        Stream::Plain(tcp)
                    };
                    session::run(state, stream, peer, rx).await;
                },
                span,
            ));
        }
    }
}
