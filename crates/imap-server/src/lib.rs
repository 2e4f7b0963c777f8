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

use std::net::SocketAddr;
use std::sync::Arc;

use store_core::Store;
use tokio::sync::watch;

pub use config::{CleartextPolicy, ImapConfig};
use session::state::ServerState;
pub use session::stream::Stream;

/// An IMAP server over one store: [`ImapServer::serve_connection`] serves
/// each accepted connection.
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

    /// The TLS acceptor of implicit-TLS listeners (and of STARTTLS), if
    /// TLS is configured.
    pub fn tls_acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.state.tls.clone()
    }

    /// Serves one accepted connection (plain, or TLS already handshaken on
    /// an implicit-TLS listener, RFC 8314 3.2) until it closes, the client
    /// logs out, or `shutdown` turns true. The supervisor's acceptor calls
    /// it, one task per connection.
    pub async fn serve_connection(
        &self,
        stream: Stream,
        peer: SocketAddr,
        shutdown: watch::Receiver<bool>,
    ) {
        session::run(self.state.clone(), stream, peer, shutdown).await;
    }
}
