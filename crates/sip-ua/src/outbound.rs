//! Where the requests the store sends go (RFC 3261 18.1.1): the MESSAGE
//! of a fetch by reference and the NOTIFYs of a subscription.

use std::net::SocketAddr;

use crate::transport::{Peer, Transport};
use crate::wire::render::new_branch;
use crate::SipUa;

/// Requests the store sends above this size go over a stream (RFC 3261
/// 18.1.1: 200 bytes under a 1500-byte path MTU).
pub const UDP_LIMIT: usize = 1300;
/// Room for the start line and header fields of a request the store
/// sends (Via, From, To, Call-ID, CSeq, Route, Event...), in bytes.
pub const HEADER_ALLOWANCE: usize = 600;

/// The largest body that keeps a request to `origin` on its transport:
/// [`UDP_LIMIT`] less [`HEADER_ALLOWANCE`] for a peer that came over UDP,
/// `stream_limit` for one that came over a stream.
pub fn body_budget(origin: &Peer, stream_limit: usize) -> usize {
    if origin.transport.is_reliable() {
        stream_limit
    } else {
        UDP_LIMIT - HEADER_ALLOWANCE
    }
}

/// The Via of a new request the store sends to `peer`: its transport,
/// the local address, and a new branch (RFC 3261 8.1.1.7, 18.1.1).
pub fn new_via(peer: &Peer) -> String {
    format!(
        "SIP/2.0/{} {};branch={}",
        peer.transport.via_token(),
        peer.local,
        new_branch()
    )
}

impl SipUa {
    /// The next hop for a request of `size` body bytes to a peer that
    /// reached us as `origin`: back over its stream connection while it
    /// is open (as RFC 5923 reuses connections), else to `target` (its
    /// Contact or first Route, when that names an address) or the address
    /// it sent from, over UDP, or over a new TCP connection when the
    /// request is larger than [`UDP_LIMIT`]. Domain names are not
    /// resolved (no RFC 3263): the source address is used. The store
    /// never opens TLS connections: a TLS peer is reached over its own.
    pub async fn next_hop(
        &self,
        origin: &Peer,
        target: Option<SocketAddr>,
        size: usize,
    ) -> Option<Peer> {
        if origin.transport.is_reliable() && origin.is_open() {
            return Some(origin.clone());
        }
        let addr = target.unwrap_or(origin.addr);
        if size + HEADER_ALLOWANCE <= UDP_LIMIT {
            return self.transports().udp_peer(addr);
        }
        if let Some(open) = self.transports().stream_peer(Transport::Tcp, addr) {
            return Some(open);
        }
        self.connect_tcp(addr).await.ok()
    }
}
