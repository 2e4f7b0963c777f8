//! The one accept loop of every TCP listener (IMAP, WebDAV, SIP, admin):
//! accept until shutdown, back off briefly when accepting fails (out of
//! file descriptors), disable Nagle, make the TLS handshake of an
//! implicit-TLS listener within [`HANDSHAKE_TIMEOUT`], and hand the
//! connection to the front end in its own tracked task. The front ends
//! only serve connections (as hyper's `serve_connection` does).
//!
//! Every accepted connection first takes a [`Permit`] from its listener's
//! [`ConnectionLimits`] (`[server] max_connections` over all the protocol
//! listeners together, `[server] max_connections_per_ip`; the admin
//! endpoint has its own small budget) and holds it for its whole life.
//! Past a cap, the connection gets the protocol's refusal
//! ([`Listening::refusal`]) and is closed at once.
//!
//! Metrics (`store_core::telemetry`): `cpm_store_connections_accepted_total`
//! and `cpm_store_connections_open` by protocol and TLS (open while the
//! connection's task holds its permit), `cpm_store_connections_refused_total`
//! by protocol and cap.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
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

/// IMAP's refusal past a cap (RFC 3501 7.1.5: BYE as the greeting).
pub const IMAP_REFUSAL: &[u8] = b"* BYE Too many connections\r\n";
/// HTTP's refusal past a cap (RFC 9110 15.6.4 503, 10.2.3 Retry-After),
/// written directly: no request is read.
pub const HTTP_REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Retry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Length: 21\r\nConnection: close\r\n\r\nToo many connections\n";

/// How a listener accepts: its protocol (for logs), TLS, the caps it
/// counts against and its refusal.
#[derive(Clone)]
pub struct Listening {
    /// `imap`, `webdav`, `sip` or `admin`.
    pub protocol: &'static str,
    /// Implicit TLS: the handshake made before the connection is served.
    pub tls: Option<TlsAcceptor>,
    /// The caps this listener's connections count against.
    pub limits: Arc<ConnectionLimits>,
    /// Written to a cleartext connection refused by a cap before it is
    /// closed (empty: just close). A TLS connection is closed without a
    /// word: answering would take a handshake.
    pub refusal: &'static [u8],
}

/// Starts [`accept`] on `listener` in a task tracked by `tasks`.
pub fn spawn<S, F>(
    listening: Listening,
    listener: TcpListener,
    shutdown: &watch::Receiver<bool>,
    tasks: &Tasks,
    serve: S,
) where
    S: Fn(Accepted) -> F + Send + Sync + Clone + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let accepting = accept(listening, listener, shutdown.clone(), tasks.clone(), serve);
    tasks.spawn(accepting);
}

/// Accepts on `listener` until `shutdown` turns true. Each connection
/// takes a permit of `listening.limits` (refused past a cap); with TLS it
/// then makes a TLS handshake (failures and timeouts drop it). `serve`
/// then runs in a task tracked by `tasks`, in a span named after the
/// protocol, holding the permit until it returns.
pub async fn accept<S, F>(
    listening: Listening,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    tasks: Tasks,
    serve: S,
) where
    S: Fn(Accepted) -> F + Send + Sync + Clone + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let Listening {
        protocol,
        tls,
        limits,
        refusal,
    } = listening;
    // Failed accepts since the last warning, and when it was given: a full
    // descriptor table fails every accept, so the log gets one line a
    // second at most, with the count.
    let (mut failed_accepts, mut warned_at) = (0u64, None::<std::time::Instant>);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    failed_accepts += 1;
                    if warned_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        tracing::warn!(protocol, error = %e, failed = failed_accepts, "accept failed");
                        (failed_accepts, warned_at) = (0, Some(std::time::Instant::now()));
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        // Without it, a response written in two segments waits for the
        // client's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let permit = match limits.try_acquire(peer.ip()) {
            Ok(p) => p,
            Err(cap) => {
                tracing::debug!(protocol, %peer, %cap, "connection refused");
                store_core::telemetry::metrics()
                    .connections_refused
                    .get_or_create(&store_core::telemetry::RefusedLabels {
                        protocol,
                        cap: cap.setting(),
                    })
                    .inc();
                if let Some(refused) = limits.refusals_to_report() {
                    tracing::warn!(
                        protocol,
                        %cap,
                        refused,
                        "connections refused at the caps of [server] in the last minute or so"
                    );
                }
                if tls.is_none() && !refusal.is_empty() {
                    // A fresh socket's send buffer takes these few bytes
                    // at once; never wait for a refused peer.
                    let _ = tcp.try_write(refusal);
                }
                continue;
            }
        };
        let Ok(local) = tcp.local_addr() else {
            continue;
        };
        let span = tracing::info_span!("connection", protocol, %peer, tls = tls.is_some());
        let open = store_core::telemetry::metrics().connection(protocol, tls.is_some());
        let (tls, serve) = (tls.clone(), serve.clone());
        tasks.spawn(tracing::Instrument::instrument(
            async move {
                let _permit = permit;
                let _open = open;
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

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapReached {
    /// `[server] max_connections` (or the admin endpoint's budget).
    #[error("max_connections reached")]
    Total,
    /// `[server] max_connections_per_ip`.
    #[error("max_connections_per_ip reached")]
    PerAddress,
}

impl CapReached {
    /// The `[server]` setting of the cap, as the metric's `cap` label.
    pub fn setting(self) -> &'static str {
        match self {
            CapReached::Total => "max_connections",
            CapReached::PerAddress => "max_connections_per_ip",
        }
    }
}

/// Caps on the connections open at once: in all, and per client address
/// (an IPv6 client counts by its /64, which one host usually has whole).
/// Shared by every listener it is given to.
#[derive(Debug)]
pub struct ConnectionLimits {
    total: usize,
    per_address: usize,
    open: Mutex<OpenConnections>,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
    /// Refusals since the last warning, and when that was.
    refused: u64,
    warned: Option<std::time::Instant>,
}

/// Shortest time between two warnings about refused connections.
const REFUSAL_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// One open connection's place under the caps, given back when dropped.
#[derive(Debug)]
pub struct Permit {
    limits: Arc<ConnectionLimits>,
    address: IpAddr,
}

impl ConnectionLimits {
    /// At most `total` connections at once, `per_address` of them from one
    /// client address.
    pub fn new(total: usize, per_address: usize) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            total,
            per_address,
            open: Mutex::new(OpenConnections::default()),
        })
    }

    /// A permit for a connection from `ip`, if both caps allow one more.
    ///
    /// Errors: the cap that is reached.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, CapReached> {
        let address = store_core::throttle::client_network(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.total {
            open.refused += 1;
            return Err(CapReached::Total);
        }
        let from_address = open.by_address.entry(address).or_insert(0);
        if *from_address >= self.per_address {
            open.refused += 1;
            return Err(CapReached::PerAddress);
        }
        *from_address += 1;
        open.total += 1;
        Ok(Permit {
            limits: self.clone(),
            address,
        })
    }

    /// The refusals to log now, if any: a count at most once per
    /// [`REFUSAL_WARNING_INTERVAL`], so a flood does not flood the log.
    pub fn refusals_to_report(&self) -> Option<u64> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if open.refused == 0
            || open
                .warned
                .is_some_and(|w| now.duration_since(w) < REFUSAL_WARNING_INTERVAL)
        {
            return None;
        }
        open.warned = Some(now);
        Some(std::mem::take(&mut open.refused))
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_count_in_all_and_per_address_and_come_back_when_dropped() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let p1 = limits.try_acquire(a).unwrap();
        let _p2 = limits.try_acquire(a).unwrap();
        assert_eq!(limits.try_acquire(a).unwrap_err(), CapReached::PerAddress);
        let _p3 = limits.try_acquire(b).unwrap();
        assert_eq!(limits.try_acquire(b).unwrap_err(), CapReached::Total);
        assert_eq!(limits.refusals_to_report(), Some(2));
        assert_eq!(limits.refusals_to_report(), None);
        drop(p1);
        assert_eq!(limits.open(), 2);
        let _p4 = limits.try_acquire(a).unwrap();
    }

    #[test]
    fn an_ipv6_host_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let limits = ConnectionLimits::new(10, 1);
        let _p = limits.try_acquire("2001:db8::1".parse().unwrap()).unwrap();
        assert!(limits.try_acquire("2001:db8::2".parse().unwrap()).is_err());
        assert!(limits
            .try_acquire("2001:db8:0:1::2".parse().unwrap())
            .is_ok());
        let _q = limits.try_acquire("192.0.2.7".parse().unwrap()).unwrap();
        assert!(limits
            .try_acquire("::ffff:192.0.2.7".parse().unwrap())
            .is_err());
    }
}
