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
use tokio_util::codec::FramedRead;
use tokio_util::task::TaskTracker;

use crate::transport::{Peer, Transport};
use crate::wire::framing::{SipCodec, StreamFrame};
use crate::wire::{parse_message, Message, Response};
use crate::SipUa;

/// Largest UDP payload (65,535 less the IPv4 and UDP headers).
const MAX_DATAGRAM: usize = 65_507;
/// Requests of one connection (or of all UDP sockets) processed at once.
const MAX_IN_FLIGHT: usize = 256;
/// Messages queued for one connection's writer.
const WRITE_QUEUE: usize = 256;
/// How long opening a TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an idle stream connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

impl SipUa {
    /// Receives datagrams on `socket` until `shutdown` turns true; each
    /// message is handled in its own task.
    pub async fn serve_udp(&self, socket: UdpSocket) {
        let (mut shutdown, tasks) = self.runtime();
        let socket = Arc::new(socket);
        let Ok(local) = socket.local_addr() else {
            return;
        };
        self.transports().add_udp(socket.clone(), local);
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
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
            let raw = Bytes::copy_from_slice(&buf[..n]);
            let peer = Peer::datagram(socket.clone(), from, local);
            if n > MAX_DATAGRAM.min(self.config().max_message_bytes) {
                tracing::debug!(%from, bytes = n, "oversized datagram");
                self.answer_unframeable(raw, 513, "Message Too Large", &peer)
                    .await;
                continue;
            }
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                return;
            };
            let ua = self.clone();
            tasks.spawn(async move {
                ua.handle(raw, peer).await;
                drop(permit);
            });
        }
    }

    /// The TLS acceptor of `listen_tls` listeners, if TLS is configured.
    pub fn tls_acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.inner.tls.clone()
    }

    /// Serves one accepted TCP or TLS connection (TLS already handshaken)
    /// from `addr`, reached at `local`: messages are framed by
    /// Content-Length (RFC 3261 18.3) and handled as they come, until the
    /// connection closes, idles out or the server stops. The supervisor's
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

    /// Opens a TCP connection to `addr` for a request the store sends;
    /// responses and requests arriving on it are handled as on any other.
    pub async fn connect_tcp(&self, addr: SocketAddr) -> std::io::Result<Peer> {
        let (shutdown, tasks) = self.runtime();
        let tasks = &tasks;
        if let Some(peer) = self.transports().stream_peer(Transport::Tcp, addr) {
            return Ok(peer);
        }
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr()?;
        let (reader, writer) = tokio::io::split(tcp);
        let peer = self.open_stream(writer, Transport::Tcp, addr, local, tasks);
        let ua = self.clone();
        let (p, t) = (peer.clone(), tasks.clone());
        tasks.spawn(async move { ua.read_stream(reader, p, shutdown, t).await });
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
        let peer = self.open_stream(writer, transport, addr, local, &tasks);
        self.read_stream(reader, peer, shutdown, tasks).await;
    }

    /// Starts the writer task of a connection and records it.
    fn open_stream<W>(
        &self,
        mut writer: W,
        transport: Transport,
        addr: SocketAddr,
        local: SocketAddr,
        tasks: &TaskTracker,
    ) -> Peer
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
        tasks.spawn(async move {
            while let Some(message) = rx.recv().await {
                if writer.write_all(&message).await.is_err() {
                    break;
                }
            }
            let _ = writer.shutdown().await;
        });
        let peer = Peer::stream(transport, tx, addr, local);
        self.transports().add_stream(&peer);
        peer
    }

    /// Reads messages from a connection until it closes, breaks, idles
    /// out or the server shuts down.
    async fn read_stream<R>(
        &self,
        reader: R,
        peer: Peer,
        mut shutdown: watch::Receiver<bool>,
        tasks: TaskTracker,
    ) where
        R: AsyncRead + Send + Unpin,
    {
        let mut frames = FramedRead::new(reader, SipCodec::new(self.config().max_message_bytes));
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            let frame = tokio::select! {
                f = tokio::time::timeout(IDLE_TIMEOUT, frames.next()) => match f {
                    Ok(Some(Ok(frame))) => frame,
                    Ok(Some(Err(e))) => {
                        tracing::debug!(peer = %peer.addr, error = %e, "SIP stream broken");
                        break;
                    }
                    Ok(None) | Err(_) => break,
                },
                _ = shutdown.changed() => break,
            };
            match frame {
                StreamFrame::Message(raw) => {
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
        // Let the requests in flight finish before the writer closes.
        let _ = in_flight.acquire_many(MAX_IN_FLIGHT as u32).await;
        self.transports().remove_stream(peer.transport, peer.addr);
    }

    /// Answers a request a stream cannot delimit (400 or 513) from its
    /// header block, when that is readable; the connection then closes.
    async fn answer_unframeable(&self, head: Bytes, status: u16, reason: &str, peer: &Peer) {
        let headers = match parse_message(head) {
            Ok(Message::Request(r)) => Some(r.headers),
            Err(e) if e.is_request => e.headers,
            _ => None,
        };
        if let Some(r) = headers.and_then(|h| Response::from_parsed_headers(&h, status, reason)) {
            let _ = peer.send(r.to_bytes()).await;
        }
    }
}
