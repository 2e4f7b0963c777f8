//! A SIP user agent for CPM-STO2 (seed 000): the CPM Conversation Server
//! and Participating Function deposit objects by MESSAGE, fetch them by
//! reference, and follow an account's changes by SUBSCRIBE/NOTIFY.
//!
//! Layering: [`listener`] runs the UDP sockets and serves the TCP/TLS
//! connections the supervisor accepts; [`wire`] is the message syntax
//! (framing, parsing, validation, rendering; no SIP parsing crate);
//! [`transaction`] holds the RFC 3261 section 17 non-INVITE transactions;
//! [`SipUa::handle`] passes a request through them to its method handler
//! in [`methods`], one file per method; peers outside `trusted_peers` are
//! held to a per-source rate ([`ratelimit`]) and answered statelessly
//! unless they present credentials. [`auth`] decides who may use the store (trusted
//! networks and digest), [`deposit`] turns a MESSAGE into a stored object,
//! [`subscription`] runs the NOTIFYs of SUBSCRIBE dialogs, and [`outbound`]
//! picks the next hop of every request the store sends.
//!

pub mod auth;
pub mod config;
pub mod deposit;
pub mod listener;
pub mod methods;
pub mod metrics;
pub mod outbound;
pub mod ratelimit;
pub mod subscription;
pub mod transaction;
pub mod transport;
pub mod uri;
pub mod wire;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use store_core::Store;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

pub use config::{DigestCredential, SipConfig};
use transaction::{Begin, ClientTransactions, ServerTransactions, TransactionKey};
use transport::{Peer, Transports};
use wire::{parse_message, Message, Request, Response};

/// The user agent: the store, its settings, its transactions, transports
/// and subscriptions. Cheap to clone.
#[derive(Clone)]
pub struct SipUa {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: SipConfig,
    server_transactions: ServerTransactions,
    untrusted_transactions: ServerTransactions,
    rate_limiter: ratelimit::RateLimiter,
    client_transactions: ClientTransactions,
    transports: Transports,
    nonces: auth::NonceKey,
    shutdown: watch::Receiver<bool>,
    tasks: TaskTracker,
    tls: Option<tokio_rustls::TlsAcceptor>,
    subscriptions: subscription::Subscriptions,
    object_bytes: Arc<tokio::sync::Semaphore>,
}

impl SipUa {
    /// A user agent over `store`; `tls` serves the TLS listeners. Its
    /// listeners and tasks stop when `shutdown` turns true; `tasks`
    /// tracks every task it spawns, for a graceful stop.
    pub fn new(
        store: Store,
        config: SipConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: watch::Receiver<bool>,
        tasks: TaskTracker,
    ) -> SipUa {
        SipUa {
            inner: Arc::new(Inner {
                server_transactions: ServerTransactions::new(config.max_transactions),
                untrusted_transactions: ServerTransactions::new(config.max_untrusted_transactions),
                rate_limiter: ratelimit::RateLimiter::new(
                    config.untrusted_requests_per_second,
                    config.untrusted_request_burst,
                ),
                client_transactions: ClientTransactions::default(),
                transports: Transports::default(),
                nonces: auth::NonceKey::of(&store),
                shutdown,
                tasks,
                tls: tls.map(tokio_rustls::TlsAcceptor::from),
                subscriptions: subscription::Subscriptions::default(),
                object_bytes: Arc::new(tokio::sync::Semaphore::new(
                    config
                        .max_outbound_object_bytes_in_flight
                        .min(tokio::sync::Semaphore::MAX_PERMITS),
                )),
                store,
                config,
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings.
    pub fn config(&self) -> &SipConfig {
        &self.inner.config
    }

    /// The open sockets and connections.
    pub fn transports(&self) -> &Transports {
        &self.inner.transports
    }

    /// The client transactions, for requests the store sends.
    pub fn client_transactions(&self) -> &ClientTransactions {
        &self.inner.client_transactions
    }

    /// The shutdown signal and the task tracker of the server.
    pub fn runtime(&self) -> (watch::Receiver<bool>, TaskTracker) {
        (self.inner.shutdown.clone(), self.inner.tasks.clone())
    }

    /// The running subscriptions (SUBSCRIBE/NOTIFY).
    pub fn subscriptions(&self) -> &subscription::Subscriptions {
        &self.inner.subscriptions
    }

    /// The per-source rate limit of untrusted peers.
    pub fn rate_limiter(&self) -> &ratelimit::RateLimiter {
        &self.inner.rate_limiter
    }

    /// The budget of bytes held for referenced objects being sent (one
    /// permit per byte, `max_outbound_object_bytes_in_flight` in all).
    pub fn object_bytes(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.inner.object_bytes
    }

    /// The digest nonce key.
    pub fn nonces(&self) -> &auth::NonceKey {
        &self.inner.nonces
    }

    /// Handles one whole message received from `peer`: a request goes
    /// through its server transaction to its method handler, and the
    /// response back to `peer`; a response goes to its client transaction.
    /// A request that does not parse gets 400 (or 505, 513) when a
    /// response can be built from its headers, else it is dropped, as is
    /// a malformed response (RFC 3261 16.3, 18.1.2).
    ///
    /// The future is boxed: handling a request can open a connection whose
    /// reader handles messages in turn.
    pub fn handle(&self, raw: Bytes, peer: Peer) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let ua = self.clone();
        Box::pin(async move { ua.handle_message(raw, &peer).await })
    }

    async fn handle_message(&self, raw: Bytes, peer: &Peer) {
        match parse_message(raw) {
            Ok(Message::Request(request)) => self.on_request(request, peer).await,
            Ok(Message::Response(response)) => {
                if let Err(reason) = wire::validate::validate_response(&response) {
                    tracing::debug!(peer = %peer.addr, %reason, "malformed response discarded");
                } else if !self.inner.client_transactions.on_response(response) {
                    tracing::debug!(peer = %peer.addr, "stray response discarded");
                }
            }
            Err(e) => {
                tracing::debug!(peer = %peer.addr, error = %e, "unreadable message");
                let response = e
                    .headers
                    .filter(|_| e.is_request)
                    .and_then(|h| Response::from_parsed_headers(&h, e.status, &e.reason));
                if let Some(r) = response {
                    let _ = peer.send(r.to_bytes()).await;
                }
            }
        }
    }

    async fn on_request(&self, mut request: Request, peer: &Peer) {
        if request.method == "ACK" {
            // A non-INVITE UAS never sends a final response ACK could
            // acknowledge; ACK is never answered (RFC 3261 17.2.1).
            return;
        }
        if let Err(reason) = wire::validate::validate_request(&request) {
            tracing::debug!(peer = %peer.addr, %reason, "request refused");
            self.log_request(&request, peer, 400, std::time::Instant::now());
            if let Some(r) = Response::from_parsed_headers(&request.headers, 400, reason) {
                let _ = peer.send(r.to_bytes()).await;
            }
            return;
        }
        stamp_top_via(&mut request, peer);
        let Some(key) = TransactionKey::of(&request) else {
            return;
        };
        // Trusted peers have their own table; a peer outside
        // `trusted_peers` gets a transaction, from a small separate budget,
        // only when it presents credentials. Its other requests (OPTIONS,
        // those answered 401/403 or refused by the RFC 3261 8.2 checks)
        // touch no state and are answered statelessly (8.2.7): a flood of
        // them cannot fill a table.
        let transactions = if self.config().trusts(peer.addr.ip()) {
            &self.inner.server_transactions
        } else if request.headers.get("Authorization").is_some() {
            &self.inner.untrusted_transactions
        } else {
            return self.answer(&request, peer, None).await;
        };
        match transactions.begin(&key) {
            Begin::New => {}
            Begin::Absorbed => return,
            Begin::Resend(bytes) => {
                let _ = peer.send(bytes).await;
                return;
            }
            Begin::Full => {
                self.log_request(&request, peer, 503, std::time::Instant::now());
                let busy = Response::to_request(&request, 503).with("Retry-After", "5");
                let _ = peer.send(busy.to_bytes()).await;
                return;
            }
        }
        self.answer(&request, peer, Some((transactions, &key)))
            .await;
    }

    /// The access log of SIP: one INFO event of target `access` per
    /// server transaction answered (method, Call-ID, Request-URI (the
    /// account addressed), peer, transport, status, duration in ms since
    /// `started`), and its count in `/metrics` ([`metrics::count`]).
    fn log_request(
        &self,
        request: &Request,
        peer: &Peer,
        status: u16,
        started: std::time::Instant,
    ) {
        let elapsed = started.elapsed();
        tracing::info!(
            target: "access",
            protocol = "sip",
            method = %request.method,
            call_id = request.headers.get("Call-ID").unwrap_or_default(),
            uri = %request.uri,
            peer = %peer.addr,
            transport = peer.transport.via_token(),
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "SIP request"
        );
        metrics::count(&request.method, status, elapsed);
    }

    /// Runs the method handler of `request` and sends its response to
    /// `peer`, recording it in its server transaction if it has one.
    async fn answer(
        &self,
        request: &Request,
        peer: &Peer,
        transaction: Option<(&ServerTransactions, &TransactionKey)>,
    ) {
        let started = std::time::Instant::now();
        let span = tracing::debug_span!("sip", method = %request.method, peer = %peer.addr);
        let reply =
            tracing::Instrument::instrument(methods::handle(self, request, peer), span).await;
        self.log_request(request, peer, reply.response.code, started);
        let bytes = reply.response.to_bytes();
        if let Some((transactions, key)) = transaction {
            let linger = if peer.transport.is_reliable() {
                std::time::Duration::ZERO
            } else {
                self.inner.config.transaction_timeout()
            };
            transactions.complete(key, bytes.clone(), linger);
        }
        if peer.send(bytes).await.is_err() {
            tracing::debug!(peer = %peer.addr, "response not sent: connection gone");
        }
        if let Some(after) = reply.after {
            after.await;
        }
    }
}

/// Adds `received` and `rport` to the top Via of a request from `peer`
/// (RFC 3261 18.2.1, RFC 3581 4), so that every response carries them.
/// The responses themselves go back over the connection, or to the
/// datagram's source address and port: with `rport` as RFC 3581 4 asks,
/// and without it too, a deliberate NAT-friendly deviation from RFC 3261
/// 18.2.2 (which would use the Via's sent-by port; README, SIP).
fn stamp_top_via(request: &mut Request, peer: &Peer) {
    let Some(first) = request.headers.get("Via") else {
        return;
    };
    let mut values = wire::split_commas(first);
    if let Some(top) = values.first_mut() {
        *top = wire::stamp_via(top, peer.addr);
    }
    request.headers.set_first("Via", values.join(", "));
}
