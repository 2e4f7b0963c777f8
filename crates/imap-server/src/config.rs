//! Settings of the IMAP front end (the `[imap]` section of the
//! configuration file; defaults follow Dovecot's where RFC 3501 is silent).

use std::time::Duration;

/// When cleartext credentials (LOGIN, AUTHENTICATE PLAIN) are accepted on
/// a connection without TLS (RFC 3501 6.2.3, RFC 8314 4): store-core's one
/// policy type for every front end.
pub use store_core::password::CleartextPolicy;

/// The front end's settings.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// Longest command, in bytes, counting inline literals (not APPEND
    /// messages). Past it: BAD.
    pub max_command_bytes: usize,
    /// Largest APPEND message, in bytes; advertised as APPENDLIMIT
    /// (RFC 7889). Past it: NO [TOOBIG].
    pub max_append_bytes: u64,
    /// Deepest nesting of parenthesized search criteria.
    pub max_nesting: usize,
    /// Most simultaneous authenticated connections per account. Past it:
    /// NO [LIMIT] at login.
    pub max_connections_per_account: usize,
    /// Consecutive BAD commands after which the connection is closed with
    /// BYE (a flood of garbage).
    pub max_bad_commands: u32,
    /// Inactivity autologout outside IDLE (RFC 3501 5.4: at least 30
    /// minutes).
    pub autologout: Duration,
    /// Time from the greeting to a successful login (RFC 3501 5.4 leaves
    /// the timer of the not-authenticated state to the server). Past it:
    /// `* BYE` and close.
    pub preauth_timeout: Duration,
    /// Longest STARTTLS handshake (also bounded by `preauth_timeout`).
    pub tls_handshake_timeout: Duration,
    /// Interval of the `* OK` keepalive during IDLE (RFC 2177 asks clients
    /// to re-IDLE within 29 minutes; NATs drop silent flows far sooner).
    pub idle_keepalive: Duration,
    /// Cleartext credentials without TLS.
    pub cleartext: CleartextPolicy,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            max_command_bytes: 256 * 1024,
            max_append_bytes: 1024 * 1024 * 1024,
            max_nesting: 32,
            max_connections_per_account: 20,
            max_bad_commands: 20,
            autologout: Duration::from_secs(30 * 60),
            preauth_timeout: Duration::from_secs(60),
            tls_handshake_timeout: Duration::from_secs(30),
            idle_keepalive: Duration::from_secs(120),
            cleartext: CleartextPolicy::Loopback,
        }
    }
}
