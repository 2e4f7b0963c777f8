//! Transports (RFC 3261 18): where a message came from, how to answer it,
//! and the open sockets and connections the store's own requests use.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: one message per datagram, retransmissions by timer.
    Udp,
    /// TCP: a byte stream framed by Content-Length.
    Tcp,
    /// TLS over TCP (`sips:`).
    Tls,
}

impl Transport {
    /// Whether the transport delivers reliably (no retransmissions, no
    /// Timer J wait; RFC 3261 17.2.2).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// How bytes reach a peer.
#[derive(Debug, Clone)]
enum Path {
    /// A datagram from this socket.
    Datagram(Arc<UdpSocket>),
    /// The writer of an open stream connection, and the signal that its
    /// reader has seen it end (the peer closed it, it broke or timed out):
    /// nothing sent now would be read.
    Stream(mpsc::Sender<Bytes>, CancellationToken),
}

/// One end of a message exchange: the peer, the transport and the way to
/// send to it. For a request received, it is where its responses go:
/// over the same connection (RFC 3261 18.2.2), or to the datagram's
/// source address and port (RFC 3581 4 with `rport`; without it, a
/// deliberate NAT-friendly deviation from RFC 3261 18.2.2's sent-by port).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The transport.
    pub transport: Transport,
    /// The peer's address.
    pub addr: SocketAddr,
    /// Our address on this socket or connection (for Via and Contact).
    pub local: SocketAddr,
    path: Path,
}

/// Sending to a peer failed: the connection is gone or the socket
/// refused.
#[derive(Debug, thiserror::Error)]
#[error("cannot send to {0}")]
pub struct SendError(pub SocketAddr);

impl Peer {
    /// A peer reached by datagrams from `socket`.
    pub fn datagram(socket: Arc<UdpSocket>, addr: SocketAddr, local: SocketAddr) -> Peer {
        Peer {
            transport: Transport::Udp,
            addr,
            local,
            path: Path::Datagram(socket),
        }
    }

    /// A peer on a stream connection whose writer takes from `writer`.
    pub fn stream(
        transport: Transport,
        writer: mpsc::Sender<Bytes>,
        addr: SocketAddr,
        local: SocketAddr,
    ) -> Peer {
        Peer {
            transport,
            addr,
            local,
            path: Path::Stream(writer, CancellationToken::new()),
        }
    }

    /// Marks a stream connection as ended (its reader saw it close):
    /// [`Peer::is_open`] turns false and [`Peer::closed`] resolves.
    pub fn mark_closed(&self) {
        if let Path::Stream(_, ended) = &self.path {
            ended.cancel();
        }
    }

    /// Resolves once a stream connection has ended; never for UDP.
    pub async fn closed(&self) {
        match &self.path {
            Path::Stream(writer, ended) => {
                tokio::select! {
                    _ = ended.cancelled() => {}
                    _ = writer.closed() => {}
                }
            }
            Path::Datagram(_) => std::future::pending().await,
        }
    }

    /// Sends one whole message.
    pub async fn send(&self, message: Bytes) -> Result<(), SendError> {
        match &self.path {
            Path::Datagram(socket) => socket
                .send_to(&message, self.addr)
                .await
                .map(drop)
                .map_err(|_| SendError(self.addr)),
            // Responses still go to a half-closed connection (its peer may
            // read on); only the store's own requests avoid an ended one.
            Path::Stream(writer, _) => writer.send(message).await.map_err(|_| SendError(self.addr)),
        }
    }

    /// Whether a stream connection is still open (always true for UDP).
    pub fn is_open(&self) -> bool {
        match &self.path {
            Path::Datagram(_) => true,
            Path::Stream(w, ended) => !w.is_closed() && !ended.is_cancelled(),
        }
    }
}

/// The UDP sockets and open stream connections, for requests the store
/// sends (RFC 3261 18.1).
#[derive(Debug, Default)]
pub struct Transports {
    udp: Mutex<Vec<(Arc<UdpSocket>, SocketAddr)>>,
    streams: Mutex<HashMap<(Transport, SocketAddr), Peer>>,
    outbound: Arc<Mutex<OutboundCounts>>,
}

/// How many connections the store has opened (or is opening), in all and
/// by destination address.
#[derive(Debug, Default)]
struct OutboundCounts {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// One place among the connections the store opens itself, held from
/// before the connect until the connection ends; freed when dropped.
#[derive(Debug)]
pub struct OutboundSlot {
    counts: Arc<Mutex<OutboundCounts>>,
    ip: IpAddr,
}

impl Drop for OutboundSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.by_ip.remove(&self.ip);
            }
        }
    }
}

impl Transports {
    /// Records a UDP socket the UA listens on.
    pub fn add_udp(&self, socket: Arc<UdpSocket>, local: SocketAddr) {
        self.udp
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((socket, local));
    }

    /// A peer reached over UDP from the first socket of the address
    /// family of `addr`, if there is one.
    pub fn udp_peer(&self, addr: SocketAddr) -> Option<Peer> {
        let sockets = self.udp.lock().unwrap_or_else(PoisonError::into_inner);
        sockets
            .iter()
            .find(|(_, local)| local.is_ipv4() == addr.is_ipv4())
            .map(|(s, local)| Peer::datagram(s.clone(), addr, *local))
    }

    /// Records an open stream connection.
    pub fn add_stream(&self, peer: &Peer) {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((peer.transport, peer.addr), peer.clone());
    }

    /// Forgets a closed stream connection.
    pub fn remove_stream(&self, transport: Transport, addr: SocketAddr) {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(transport, addr));
    }

    /// A place for a new connection to `ip` the store opens, if fewer than
    /// `max_total` are open (or opening) in all and fewer than `max_per_ip`
    /// to `ip` (an IPv4-mapped address counts as its IPv4 one); `None`
    /// past either.
    pub fn reserve_outbound(
        &self,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: usize,
    ) -> Option<OutboundSlot> {
        let ip = ip.to_canonical();
        let mut counts = self.outbound.lock().unwrap_or_else(PoisonError::into_inner);
        let to_ip = counts.by_ip.get(&ip).copied().unwrap_or(0);
        if counts.total >= max_total || to_ip >= max_per_ip {
            return None;
        }
        counts.total += 1;
        counts.by_ip.insert(ip, to_ip + 1);
        Some(OutboundSlot {
            counts: self.outbound.clone(),
            ip,
        })
    }

    /// An open stream connection to `addr` over `transport`, if any.
    pub fn stream_peer(&self, transport: Transport, addr: SocketAddr) -> Option<Peer> {
        let streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        streams
            .get(&(transport, addr))
            .filter(|p| p.is_open())
            .cloned()
    }
}
