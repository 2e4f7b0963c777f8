//! The UDP sockets of the user agent, the TCP/TLS connections the
//! supervisor accepts for it, and the connections the store opens itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;
use tokio_util::codec::FramedRead;
use tokio_util::task::TaskTracker;

use crate::outbound::HopError;
use crate::ratelimit::Admission;
use crate::transport::{Peer, Transport};
use crate::wire::framing::{SipCodec, StreamFrame};
use crate::wire::{parse_message, Message, Response};
use crate::SipUa;

/// Largest UDP payload (65,535 less the IPv4 and UDP headers).
const MAX_DATAGRAM: usize = 65_507;
/// The receive buffer asked for each UDP socket, in bytes (the kernel
/// caps it at `net.core.rmem_max`). Requests arrive while the previous
/// group commit is being synced, and a datagram that finds the buffer
/// full is lost until the sender retransmits it 500 ms later (RFC 3261
/// 17.1.2.2, Timer E): the default of about 200 KiB holds a few hundred
/// requests, a fraction of a second at the rates a Conversation Server
/// sends (as Kamailio and OpenSIPS, the store asks for more).
const UDP_RECEIVE_BUFFER: usize = 4 * 1024 * 1024;
/// Requests of one connection (or of trusted peers on one UDP socket)
/// processed at once.
const MAX_IN_FLIGHT: usize = 256;
/// Messages of untrusted peers on one UDP socket processed at once; past
/// it their datagrams are dropped, so that the receive loop never waits
/// for them.
const MAX_UNTRUSTED_IN_FLIGHT: usize = 64;
/// Messages queued for one connection's writer.
const WRITE_QUEUE: usize = 256;
/// How long opening a TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a stream connection's timeouts are looked at while it waits
/// for bytes (a message timeout fires up to this late).
const TIMEOUT_TICK: Duration = Duration::from_secs(1);

impl SipUa {
    /// Receives datagrams on `socket` until `shutdown` turns true; each
    /// message is handled in its own task. A datagram from an untrusted
    /// source over its rate limit, or while [`MAX_UNTRUSTED_IN_FLIGHT`] of
    /// theirs are being handled, is dropped unread (the sender retransmits,
    /// RFC 3261 17.1.2.2); trusted peers wait for room instead.
    pub async fn serve_udp(&self, socket: UdpSocket) {
        let (mut shutdown, tasks) = self.runtime();
        let buffer = socket2::SockRef::from(&socket);
        if let Err(e) = buffer.set_recv_buffer_size(UDP_RECEIVE_BUFFER) {
            tracing::warn!(error = %e, "cannot enlarge the UDP receive buffer");
        }
        tracing::debug!(bytes = ?buffer.recv_buffer_size(), "UDP receive buffer");
        let socket = Arc::new(socket);
        let Ok(local) = socket.local_addr() else {
            return;
        };
        self.transports().add_udp(socket.clone(), local);
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let untrusted_in_flight = Arc::new(Semaphore::new(MAX_UNTRUSTED_IN_FLIGHT));
        // One byte more than the largest payload tells a cut datagram.
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        loop {
            let (n, from) = tokio::select! {
                r = socket.recv_from(&mut buf) => match r {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::debug!(error = %e, "UDP receive failed");
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            };
            let trusted = self.config().trusts(from.ip());
            let permit = if trusted {
                match in_flight.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => return,
                }
            } else {
                if self.rate_limited(from).is_some() {
                    continue;
                }
                match untrusted_in_flight.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        tracing::debug!(%from, "untrusted datagram dropped: too many in flight");
                        continue;
                    }
                }
            };
            let raw = Bytes::copy_from_slice(&buf[..n]);
            let peer = Peer::datagram(socket.clone(), from, local);
            if n > MAX_DATAGRAM.min(self.config().max_message_bytes) {
                tracing::debug!(%from, bytes = n, "oversized datagram");
                self.answer_unframeable(raw, 513, "Message Too Large", &peer)
                    .await;
                continue;
            }
            let ua = self.clone();
            tasks.spawn(async move {
                ua.handle(raw, peer).await;
                drop(permit);
            });
        }
    }

    /// Whether a message from `from` is over its source's rate limit
    /// (never for trusted peers): if so, the `Retry-After` to give it.
    /// Logged once each time a source goes over.
    fn rate_limited(&self, from: SocketAddr) -> Option<Duration> {
        if self.config().trusts(from.ip()) {
            return None;
        }
        match self.rate_limiter().check(from.ip()) {
            Admission::Admitted => None,
            Admission::Limited { retry_after, newly } => {
                if newly {
                    tracing::info!(
                        source = %from.ip(),
                        per_second = self.config().untrusted_requests_per_second,
                        "SIP source over its rate limit: its messages are refused for now"
                    );
                }
                Some(retry_after)
            }
        }
    }

    /// The TLS acceptor of `listen_tls` listeners, if TLS is configured.
    pub fn tls_acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.inner.tls.clone()
    }

    /// Serves one accepted TCP or TLS connection (TLS already handshaken)
    /// from `addr`, reached at `local`: messages are framed by
    /// Content-Length (RFC 3261 18.3) and handled as they come, until the
    /// connection closes, times out (`message_timeout`, `idle_timeout`)
    /// or the server stops. The supervisor's
    /// acceptor calls it, one task per connection.
    pub async fn serve_connection<S>(
        &self,
        stream: S,
        transport: Transport,
        addr: SocketAddr,
        local: SocketAddr,
    ) where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (shutdown, tasks) = self.runtime();
        self.run_connection(stream, transport, addr, local, shutdown, tasks)
            .await
    }

    /// Opens a TCP connection to `addr` for a request the store sends (or
    /// reuses an open one); responses and requests arriving on it are
    /// handled as on any other. At most `max_outbound_connections` such
    /// connections are open or opening at once, and
    /// `max_outbound_connections_per_destination` to one IP address.
    ///
    /// Errors: [`HopError::Busy`] past either cap,
    /// [`HopError::Unreachable`] when the connect fails or takes longer
    /// than 30 s.
    pub async fn connect_tcp(&self, addr: SocketAddr) -> Result<Peer, HopError> {
        let (shutdown, tasks) = self.runtime();
        let tasks = &tasks;
        if let Some(peer) = self.transports().stream_peer(Transport::Tcp, addr) {
            return Ok(peer);
        }
        let config = self.config();
        let Some(slot) = self.transports().reserve_outbound(
            addr.ip(),
            config.max_outbound_connections,
            config.max_outbound_connections_per_destination,
        ) else {
            tracing::info!(%addr, "SIP outbound connection limit reached");
            return Err(HopError::Busy(addr));
        };
        let unreachable = |_| HopError::Unreachable(addr);
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| HopError::Unreachable(addr))?
            .map_err(unreachable)?;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().map_err(unreachable)?;
        let (reader, writer) = tokio::io::split(tcp);
        let (peer, queue) = self.open_stream(writer, Transport::Tcp, addr, local, tasks);
        let ua = self.clone();
        let (p, t) = (peer.clone(), tasks.clone());
        // We speak first: the connection starts idle, not awaiting a
        // message. Its place is freed when its reader ends.
        tasks.spawn(async move {
            ua.read_stream(reader, p, queue, true, shutdown, t).await;
            drop(slot);
        });
        Ok(peer)
    }

    async fn run_connection<S>(
        &self,
        stream: S,
        transport: Transport,
        addr: SocketAddr,
        local: SocketAddr,
        shutdown: watch::Receiver<bool>,
        tasks: TaskTracker,
    ) where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (reader, writer) = tokio::io::split(stream);
        let (peer, queue) = self.open_stream(writer, transport, addr, local, &tasks);
        self.read_stream(reader, peer, queue, false, shutdown, tasks)
            .await;
    }

    /// Starts the writer task of a connection and records it; returns the
    /// peer and its write queue (for answers that must not wait for room,
    /// and to learn when the writer has stopped). A write that makes no
    /// progress for `message_timeout` (a peer that does not read) stops
    /// the writer, which closes the connection.
    fn open_stream<W>(
        &self,
        mut writer: W,
        transport: Transport,
        addr: SocketAddr,
        local: SocketAddr,
        tasks: &TaskTracker,
    ) -> (Peer, mpsc::Sender<Bytes>)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
        let write_timeout = self.config().message_timeout;
        tasks.spawn(async move {
            while let Some(message) = rx.recv().await {
                match tokio::time::timeout(write_timeout, writer.write_all(&message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        tracing::debug!(peer = %addr, "SIP peer not reading; connection closed");
                        break;
                    }
                }
            }
            // Dropping the queue ends sends waiting for room at once.
            drop(rx);
            let _ = tokio::time::timeout(write_timeout, writer.shutdown()).await;
        });
        let peer = Peer::stream(transport, tx.clone(), addr, local);
        self.transports().add_stream(&peer);
        (peer, tx)
    }

    /// Reads messages from a connection until it closes, breaks, times out
    /// or the server shuts down. A message must be whole within
    /// `message_timeout` of its first byte, and the first one within
    /// `message_timeout` of an accepted connection's start (`outbound`:
    /// the store opened it and speaks first); between messages the
    /// connection may stay silent (keep-alive CRLFs aside) for
    /// `idle_timeout`. A request of an untrusted source over its rate
    /// limit gets 503 with Retry-After. Reading stops when the writer
    /// does (`queue` closed), so a peer that does not read is closed too.
    async fn read_stream<R>(
        &self,
        reader: R,
        peer: Peer,
        queue: mpsc::Sender<Bytes>,
        outbound: bool,
        mut shutdown: watch::Receiver<bool>,
        tasks: TaskTracker,
    ) where
        R: AsyncRead + Send + Unpin,
    {
        let config = self.config();
        let mut frames = FramedRead::new(reader, SipCodec::new(config.max_message_bytes));
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut quiet_since = Instant::now();
        let mut carried_a_message = outbound;
        loop {
            let (deadline, _) =
                stream_deadline(frames.decoder(), config, quiet_since, carried_a_message);
            // A message may begin while we wait: look again each tick. The
            // stream is read first, so a message that came in time is
            // taken even when this task runs late.
            let wake = deadline.min(Instant::now() + TIMEOUT_TICK);
            let frame = tokio::select! {
                biased;
                f = frames.next() => match f {
                    Some(Ok(frame)) => frame,
                    Some(Err(e)) => {
                        tracing::debug!(peer = %peer.addr, error = %e, "SIP stream broken");
                        break;
                    }
                    None => break,
                },
                _ = shutdown.changed() => break,
                _ = queue.closed() => break,
                _ = tokio::time::sleep_until(wake) => {
                    // What was read meanwhile may have moved the deadline.
                    let (deadline, what) =
                        stream_deadline(frames.decoder(), config, quiet_since, carried_a_message);
                    if Instant::now() >= deadline {
                        tracing::debug!(peer = %peer.addr, timeout = what, "SIP connection timed out");
                        break;
                    }
                    continue;
                }
            };
            carried_a_message = true;
            quiet_since = Instant::now();
            match frame {
                StreamFrame::Message(raw) => {
                    if let Some(retry_after) = self.rate_limited(peer.addr) {
                        answer_busy(raw, retry_after, &queue);
                        continue;
                    }
                    // Waits only for handlers, whose sends end when the
                    // writer stops.
                    let Ok(permit) = in_flight.clone().acquire_owned().await else {
                        break;
                    };
                    let (ua, p) = (self.clone(), peer.clone());
                    tasks.spawn(async move {
                        ua.handle(raw, p).await;
                        drop(permit);
                    });
                }
                StreamFrame::Unframeable {
                    head,
                    status,
                    reason,
                } => {
                    self.answer_unframeable(head, status, &reason, &peer).await;
                    break;
                }
            }
        }
        // Nothing sent on it now would be read: requests the store sends
        // to this peer go elsewhere (its Contact, RFC 3261 18.2.2).
        peer.mark_closed();
        // Let the requests in flight finish before the writer closes.
        let _ = in_flight.acquire_many(MAX_IN_FLIGHT as u32).await;
        self.transports().remove_stream(peer.transport, peer.addr);
    }

    /// Answers a request a stream cannot delimit (400 or 513) from its
    /// header block, when that is readable; the connection then closes.
    async fn answer_unframeable(&self, head: Bytes, status: u16, reason: &str, peer: &Peer) {
        if let Some(r) = response_from_head(head, status, reason) {
            let _ = peer.send(r.to_bytes()).await;
        }
    }
}

/// Answers a request of a source over its rate limit: 503 with
/// `Retry-After` in whole seconds (RFC 3261 21.5.4, 20.33), queued only if
/// the connection's write queue has room (else dropped, as a response is
/// too), so the read loop never waits on the peer.
fn answer_busy(raw: Bytes, retry_after: Duration, queue: &mpsc::Sender<Bytes>) {
    if let Some(r) = response_from_head(raw, 503, "Service Unavailable") {
        let busy = r.with("Retry-After", retry_after.as_secs().max(1).to_string());
        let _ = queue.try_send(busy.to_bytes());
    }
}

/// When a stream connection times out, and which timeout that is: the
/// message being read must be whole `message_timeout` after its first
/// byte; between messages, an established connection (one that has
/// carried a message) may be silent for `idle_timeout` after its last
/// message or keep-alive, a new one must send its first message within
/// `message_timeout`.
fn stream_deadline(
    codec: &SipCodec,
    config: &crate::SipConfig,
    quiet_since: Instant,
    established: bool,
) -> (Instant, &'static str) {
    match codec.message_started() {
        Some(start) => (start + config.message_timeout, "message"),
        None if established => {
            let last = codec
                .last_keepalive()
                .map_or(quiet_since, |k| k.max(quiet_since));
            (last + config.idle_timeout, "idle")
        }
        None => (quiet_since + config.message_timeout, "first message"),
    }
}

/// A response with `status` to the request whose bytes (or header block)
/// are `raw`, built from its headers when they are readable; `None` for a
/// response or an unreadable request.
fn response_from_head(raw: Bytes, status: u16, reason: &str) -> Option<Response> {
    let headers = match parse_message(raw) {
        Ok(Message::Request(r)) => Some(r.headers),
        Err(e) if e.is_request => e.headers,
        _ => None,
    };
    headers.and_then(|h| Response::from_parsed_headers(&h, status, reason))
}
