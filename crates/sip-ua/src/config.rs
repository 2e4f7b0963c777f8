//! Settings of the SIP user agent (the `[sip]` section of the
//! configuration file).

use std::time::Duration;

/// Credentials of a network element that authenticates with SIP digest
/// (RFC 3261 22.4, RFC 8760). Only HA1 values are kept, never a password:
/// `H(username ":" realm ":" password)` in lowercase hex, for SHA-256
/// and/or MD5.
#[derive(Clone, PartialEq, Eq)]
pub struct DigestCredential {
    /// The digest username.
    pub username: String,
    /// HA1 with SHA-256 (64 hex digits), if this element may use it.
    pub ha1_sha256: Option<String>,
    /// HA1 with MD5 (32 hex digits), for older elements.
    pub ha1_md5: Option<String>,
}

impl std::fmt::Debug for DigestCredential {
    /// The username; the HA1 values (password equivalents) redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |h: &Option<String>| h.as_ref().map(|_| store_core::password::REDACTED);
        f.debug_struct("DigestCredential")
            .field("username", &self.username)
            .field("ha1_sha256", &redacted(&self.ha1_sha256))
            .field("ha1_md5", &redacted(&self.ha1_md5))
            .finish()
    }
}

/// The user agent's settings.
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// Addresses and networks of the elements trusted to deposit,
    /// fetch and subscribe without authenticating.
    pub trusted_peers: Vec<ipnet::IpNet>,
    /// Elements that may authenticate with digest; empty = digest off,
    /// and untrusted peers get 403 instead of a 401 challenge.
    pub digest_credentials: Vec<DigestCredential>,
    /// The digest realm.
    pub realm: String,
    /// How long a digest nonce is accepted after it was issued.
    pub nonce_lifetime: Duration,
    /// Largest message accepted on a stream, in bytes (513 past it). A
    /// datagram is bounded by UDP itself (65,507 bytes of payload).
    pub max_message_bytes: usize,
    /// Most server transactions of `trusted_peers` remembered at once
    /// (503 with Retry-After past it).
    pub max_transactions: usize,
    /// Most server transactions of peers outside `trusted_peers` at once:
    /// only requests that carry an `Authorization` (digest) get one; the
    /// others are answered statelessly (RFC 3261 8.2.7, 17.2) and never
    /// take room from trusted peers. 503 with Retry-After past it.
    pub max_untrusted_transactions: usize,
    /// Requests (and responses) per second one source address outside
    /// `trusted_peers` may send, on average (an IPv6 source counts by its
    /// /64); 0 = no limit. Past it, datagrams are dropped and stream
    /// requests get 503 with Retry-After.
    pub untrusted_requests_per_second: u32,
    /// How many requests such a source may send at once above the
    /// average (the token bucket's size).
    pub untrusted_request_burst: u32,
    /// How long a TCP or TLS peer may take to send one whole message,
    /// from its first byte (or from the connection's start for the first
    /// message); the connection is closed past it.
    pub message_timeout: Duration,
    /// How long a TCP or TLS connection may stay silent between two
    /// messages before it is closed.
    pub idle_timeout: Duration,
    /// RFC 3261 timer T1 (round-trip estimate), normally 500 ms.
    pub t1: Duration,
    /// Subscription duration granted when SUBSCRIBE has no Expires, and
    /// the longest granted (RFC 6665 4.2.1.1: the notifier may shorten).
    pub max_subscription: Duration,
    /// Shortest subscription accepted (423 with Min-Expires below it,
    /// RFC 6665 4.2.1.1).
    pub min_subscription: Duration,
    /// Most subscriptions at once (503 past it), catch-ups of ended
    /// ones still being sent included.
    pub max_subscriptions: usize,
    /// Most TCP connections the store opens itself at once (for a
    /// referenced object or a NOTIFY); past it the request that needs one
    /// gets 503 with Retry-After.
    pub max_outbound_connections: usize,
    /// Most of those to one IP address at once (503 past it): a requester
    /// cannot make the store open connections to many ports of one host.
    pub max_outbound_connections_per_destination: usize,
    /// Bytes held in memory at once for referenced objects being sent,
    /// each object counted twice (read, and rendered into its MESSAGE);
    /// past it a fetch by reference gets 503 with Retry-After, and an
    /// object that alone would pass it gets 500 with a Warning.
    pub max_outbound_object_bytes_in_flight: usize,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            trusted_peers: Vec::new(),
            digest_credentials: Vec::new(),
            realm: "cpm-store".into(),
            nonce_lifetime: Duration::from_secs(300),
            max_message_bytes: 1024 * 1024,
            max_transactions: 100_000,
            max_untrusted_transactions: 10_000,
            untrusted_requests_per_second: 50,
            untrusted_request_burst: 200,
            message_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            t1: Duration::from_millis(500),
            max_subscription: Duration::from_secs(3600),
            min_subscription: Duration::from_secs(60),
            max_subscriptions: 10_000,
            max_outbound_connections: 256,
            max_outbound_connections_per_destination: 8,
            max_outbound_object_bytes_in_flight: 256 * 1024 * 1024,
        }
    }
}

impl SipConfig {
    /// Whether `ip` is in `trusted_peers` (an IPv4-mapped IPv6 address
    /// counts as its IPv4 address).
    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_peers.iter().any(|n| n.contains(&ip))
    }

    /// RFC 3261 timer T2 (the retransmit interval cap for non-INVITE
    /// requests), 4 s, or 8 T1 when T1 is set lower.
    pub fn t2(&self) -> Duration {
        (self.t1 * 8).min(Duration::from_secs(4))
    }

    /// 64 T1: Timer F and Timer J (RFC 3261 17.1.2.2, 17.2.2).
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }
}
