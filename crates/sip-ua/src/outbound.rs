//! Where the requests the store sends go (RFC 3261 18.1.1): the MESSAGE
//! of a fetch by reference and the NOTIFYs of a subscription.

use std::net::SocketAddr;

use crate::transport::{Peer, Transport};
use crate::uri::{Scheme, SipUri};
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

/// Why a request the store sends has no next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HopError {
    /// No socket of the address family, or the connection failed.
    #[error("{0} cannot be reached")]
    Unreachable(SocketAddr),
    /// The request must go over TLS (the peer came over TLS, or its URI is
    /// `sips:` or says `transport=tls`), and no TLS connection to it is
    /// open: the store opens none, and never falls back to cleartext
    /// (RFC 3261 26.2.2).
    #[error("{0} can be reached only over TLS, and no TLS connection to it is open")]
    NeedsTls(SocketAddr),
    /// The caps on the connections the store opens are reached
    /// (`max_outbound_connections`, `..._per_destination`).
    #[error("too many connections open to {0} or in all")]
    Busy(SocketAddr),
}

impl SipUa {
    /// The next hop for a request of `size` body bytes to a peer that
    /// reached us as `origin`, addressed to `target` (its Contact or
    /// first Route, as a URI), RFC 3261 18.1.1:
    ///
    /// - back over `origin`'s stream connection while it is open (as RFC
    ///   5923 reuses connections);
    /// - else to the address `target` names, if the origin is a trusted
    ///   peer or `target` names the origin's own IP address; any other
    ///   address is ignored and the origin's source address used instead,
    ///   so that a requester cannot point the store at a third host;
    /// - over UDP, or over a TCP connection (an open one, or a new one
    ///   within the outbound caps) when the request is larger than
    ///   [`UDP_LIMIT`];
    /// - a request that must stay on TLS (origin over TLS, `target` a
    ///   `sips:` URI or with `transport=tls`) goes only over an open TLS
    ///   connection: the store opens none, and never sends it in
    ///   cleartext (RFC 3261 26.2.2).
    ///
    /// Domain names are not resolved (no RFC 3263): the source address is
    /// used.
    pub async fn next_hop(
        &self,
        origin: &Peer,
        target: Option<&str>,
        size: usize,
    ) -> Result<Peer, HopError> {
        let uri = target.and_then(|t| SipUri::parse(t).ok());
        let secure = origin.transport == Transport::Tls
            || uri.as_ref().is_some_and(|u| {
                u.scheme == Scheme::Sips
                    || u.param("transport")
                        .is_some_and(|t| t.eq_ignore_ascii_case("tls"))
            });
        if origin.transport.is_reliable()
            && origin.is_open()
            && (!secure || origin.transport == Transport::Tls)
        {
            return Ok(origin.clone());
        }
        let named = uri.and_then(|u| u.socket_addr());
        let addr = match named {
            Some(a) if self.may_send_to(origin, a) => a,
            Some(a) => {
                tracing::debug!(peer = %origin.addr, contact = %a, "a request's target is not its source: answered at the source");
                origin.addr
            }
            None => origin.addr,
        };
        if secure {
            return self
                .transports()
                .stream_peer(Transport::Tls, addr)
                .ok_or(HopError::NeedsTls(addr));
        }
        if size + HEADER_ALLOWANCE <= UDP_LIMIT {
            return self
                .transports()
                .udp_peer(addr)
                .ok_or(HopError::Unreachable(addr));
        }
        self.connect_tcp(addr).await
    }

    /// Whether a request the store sends for `origin` may go to `addr`:
    /// the origin's own IP address, or any address when the origin is a
    /// trusted peer (which may name another element).
    fn may_send_to(&self, origin: &Peer, addr: SocketAddr) -> bool {
        addr.ip().to_canonical() == origin.addr.ip().to_canonical()
            || self.config().trusts(origin.addr.ip())
    }
}
