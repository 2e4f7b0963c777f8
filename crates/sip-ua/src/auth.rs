//! Who may use the store over SIP (seed 000, CPM-STO2; ARCHITECTURE.md,
//! "authenticate"): network elements listed in `[sip] trusted_peers`, and
//! those that answer a digest challenge (RFC 3261 22.4 with RFC 7616's
//! algorithms as RFC 8760 brings them to SIP: SHA-256 first, MD5 for
//! older peers). Nonces are stateless, `timestamp.HMAC(key, timestamp)`,
//! and expire after `nonce_lifetime`; responses are compared in constant
//! time. Nonce counts are not tracked, so a captured Authorization can be
//! replayed within a nonce's lifetime; TLS keeps it from being captured.

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};
use store_core::throttle::LoginSource;
use store_core::StoreError;
use subtle::ConstantTimeEq;

use crate::transport::Peer;
use crate::uri::SipUri;
use crate::wire::{split_commas, Request, Response};
use crate::SipUa;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A peer of `trusted_peers`.
    TrustedPeer,
    /// A network element authenticated by digest, by username.
    Digest(String),
}

/// The key nonces are made and checked with: derived from the store's
/// server secret ([`store_core::Store::derive_key`]), so a nonce one node
/// of a cluster issued is good on the others and across restarts.
pub struct NonceKey([u8; 32]);

impl NonceKey {
    /// A fresh random key (tests).
    pub fn new() -> NonceKey {
        NonceKey(rand::random())
    }

    /// The key of `store` (every node sharing it has the same).
    pub fn of(store: &store_core::Store) -> NonceKey {
        NonceKey(store.derive_key("sip-nonce"))
    }

    fn mac(&self, timestamp: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(timestamp.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A nonce issued now.
    pub fn issue(&self) -> String {
        let ts = format!("{:x}", unix_now());
        format!("{ts}.{}", self.mac(&ts))
    }

    /// Whether `nonce` is ours, and if so whether it is still fresh.
    fn check(&self, nonce: &str, lifetime_seconds: u64) -> NonceState {
        let Some((ts, mac)) = nonce.split_once('.') else {
            return NonceState::Forged;
        };
        if !bool::from(self.mac(ts).as_bytes().ct_eq(mac.as_bytes())) {
            return NonceState::Forged;
        }
        match u64::from_str_radix(ts, 16) {
            Ok(t) if unix_now().saturating_sub(t) <= lifetime_seconds => NonceState::Fresh,
            Ok(_) => NonceState::Stale,
            Err(_) => NonceState::Forged,
        }
    }
}

impl Default for NonceKey {
    fn default() -> Self {
        NonceKey::new()
    }
}

enum NonceState {
    Fresh,
    Stale,
    Forged,
}

fn unix_now() -> u64 {
    u64::try_from(store_core::now()).unwrap_or(0)
}

/// A digest algorithm (RFC 7616 3.3 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `SHA-256`
    Sha256,
    /// `MD5`
    Md5,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Md5 => "MD5",
        }
    }

    fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
            Algorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
        }
    }

    /// `H(username ":" realm ":" password)`: the HA1 the configuration
    /// holds.
    pub fn ha1(self, username: &str, realm: &str, password: &str) -> String {
        self.hash(&format!("{username}:{realm}:{password}"))
    }
}

/// The expected `response` of a digest Authorization (RFC 7616 3.4.1;
/// RFC 2069 form without `qop`).
#[allow(clippy::too_many_arguments)]
pub fn digest_response(
    algorithm: Algorithm,
    ha1: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    qop: Option<&str>,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = algorithm.hash(&format!("{method}:{uri}"));
    match qop {
        Some(q) => algorithm.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{q}:{ha2}")),
        None => algorithm.hash(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

/// The `name=value` parameters of a `Digest` credentials header.
fn digest_params(value: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = value.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return None;
    }
    Some(
        split_commas(rest)
            .into_iter()
            .filter_map(|p| {
                let (n, v) = p.split_once('=')?;
                Some((
                    n.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_string(),
                ))
            })
            .collect(),
    )
}

impl SipUa {
    /// Decides whether `request` from `peer` may use the store. The error
    /// is the response to send: 401 with challenges when digest is
    /// configured (stale ones flagged, RFC 7616 3.3), else 403. Digest
    /// answers go through the store's login throttle (per address and per
    /// username, shared with IMAP and WebDAV): a wrong one counts as a
    /// failed login, and past the threshold the answer is not checked and
    /// the element gets 403 with Retry-After (RFC 3261 21.4.4: repeating
    /// the request with other credentials does not help now). Only the
    /// first `Authorization` of our realm is checked (RFC 3261 22.4). A
    /// refusal by the throttle is first waited out once on a stream, as
    /// IMAP LOGIN does, so an element past a few failures is slowed down
    /// rather than refused; over UDP it is answered at once (a wait would
    /// hold a slot the socket's other peers share).
    ///
    /// The `uri` of the credentials must be the Request-URI (RFC 3261
    /// 22.4 and 22.1 via RFC 2617 3.2.2.5, RFC 8760): the same string, or
    /// a SIP URI equal to it by the comparison of RFC 3261 19.1.4 as far
    /// as [`SipUri`] reads it; else the answer is a failed attempt, 401
    /// (RFC 2617's 400 is not used: a retry with a right `uri` should be
    /// challenged). Every failed attempt goes through the throttle and
    /// is logged once at WARN with the peer address and the username.
    pub async fn authorize(&self, request: &Request, peer: &Peer) -> Result<Caller, Box<Response>> {
        let config = self.config();
        if config.trusts(peer.addr.ip()) {
            return Ok(Caller::TrustedPeer);
        }
        if config.digest_credentials.is_empty() {
            return Err(Box::new(Response::to_request(request, 403)));
        }
        // Only the first credentials of our realm count (RFC 3261 22.4: a
        // UAS looks for the Authorization of its realm); a request carrying
        // hundreds of them is one attempt, not hundreds.
        let params = request
            .headers
            .all("Authorization")
            .filter_map(digest_params)
            .find(|p| p.iter().any(|(k, v)| k == "realm" && *v == config.realm));
        let stale = match params {
            Some(params) => match self.check_digest(request, peer, &params).await? {
                Some(caller) => return Ok(caller),
                None => true,
            },
            None => false,
        };
        Err(Box::new(self.challenge(request, stale)))
    }
}

impl SipUa {
    /// Checks one set of digest credentials of our realm: `Ok(Some)` for
    /// a right answer with a fresh nonce, `Ok(None)` for a right answer
    /// with a stale nonce (challenged again with `stale=true`), `Err` with
    /// the response for anything else: 401 (a new challenge) for a wrong
    /// or unusable answer, 403 with Retry-After when the login throttle
    /// refuses. A throttle refusal is waited out once, up to
    /// [`MAX_THROTTLE_WAIT`], only on a stream (the wait holds that
    /// connection's own request slot); over UDP, whose handlers share one
    /// socket's slots, it is answered at once. A failed attempt is logged
    /// once, at WARN, by the throttle ([`store_core::Store::record_login`]:
    /// protocol, address, username); a `uri` that is not the Request-URI
    /// is said once more, at INFO, with both URIs.
    async fn check_digest(
        &self,
        request: &Request,
        peer: &Peer,
        params: &[(String, String)],
    ) -> Result<Option<Caller>, Box<Response>> {
        let config = self.config();
        let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let challenge = || Err(Box::new(self.challenge(request, false)));
        let algorithm = match get("algorithm").map(str::to_ascii_uppercase).as_deref() {
            None | Some("MD5") => Algorithm::Md5,
            Some("SHA-256") => Algorithm::Sha256,
            Some(_) => return challenge(),
        };
        let (Some(username), Some(nonce), Some(uri), Some(given)) =
            (get("username"), get("nonce"), get("uri"), get("response"))
        else {
            return challenge();
        };
        let qop = get("qop");
        if qop.is_some_and(|q| q != "auth") {
            return challenge();
        }
        let source = LoginSource {
            remote: peer.addr.ip(),
            protocol: "sip",
        };
        // The store's login throttle, shared with IMAP and WebDAV: past
        // it, no response is checked.
        let attempt = match self.store().admit_login(source, username) {
            Err(StoreError::LoginThrottled { retry_after }) if peer.transport.is_reliable() => {
                tokio::time::sleep(retry_after.min(MAX_THROTTLE_WAIT)).await;
                self.store().admit_login(source, username)
            }
            result => result,
        };
        let attempt = match attempt {
            Ok(attempt) => attempt,
            Err(e) => return Err(Box::new(throttled(request, &e))),
        };
        let ha1 = config
            .digest_credentials
            .iter()
            .find(|c| c.username == username)
            .and_then(|credential| match algorithm {
                Algorithm::Sha256 => credential.ha1_sha256.as_deref(),
                Algorithm::Md5 => credential.ha1_md5.as_deref(),
            });
        let right = if !same_request_uri(uri, &request.uri) {
            tracing::info!(
                peer = %peer.addr,
                username,
                uri,
                request_uri = %request.uri,
                "SIP digest refused: its uri is not the Request-URI"
            );
            false
        } else if let Some(ha1) = ha1 {
            let expected = digest_response(
                algorithm,
                &ha1.to_ascii_lowercase(),
                nonce,
                get("nc").unwrap_or_default(),
                get("cnonce").unwrap_or_default(),
                qop,
                &request.method,
                uri,
            );
            bool::from(
                expected
                    .as_bytes()
                    .ct_eq(given.to_ascii_lowercase().as_bytes()),
            )
        } else {
            false
        };
        self.store().record_login(attempt, source, username, right);
        if !right {
            return challenge();
        }
        match self.nonces().check(nonce, config.nonce_lifetime.as_secs()) {
            NonceState::Fresh => Ok(Some(Caller::Digest(username.to_string()))),
            NonceState::Stale => Ok(None),
            NonceState::Forged => challenge(),
        }
    }

    /// 401 with one challenge per algorithm some element has an HA1 for,
    /// SHA-256 first (RFC 8760 2.4), flagged `stale` when asked (RFC 7616
    /// 3.3); a UAC that takes the first challenge whatever its algorithm
    /// (SIPp does) still gets one it can answer when only MD5 values are
    /// configured.
    fn challenge(&self, request: &Request, stale: bool) -> Response {
        let config = self.config();
        let offered = [Algorithm::Sha256, Algorithm::Md5].into_iter().filter(|a| {
            config.digest_credentials.iter().any(|c| match a {
                Algorithm::Sha256 => c.ha1_sha256.is_some(),
                Algorithm::Md5 => c.ha1_md5.is_some(),
            })
        });
        let mut challenge = Response::to_request(request, 401);
        for algorithm in offered {
            challenge = challenge.with(
                "WWW-Authenticate",
                format!(
                    "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"{}",
                    config.realm,
                    self.nonces().issue(),
                    algorithm.name(),
                    if stale { ", stale=true" } else { "" }
                ),
            );
        }
        challenge
    }
}

/// Longest wait for the throttle's next turn before a request is refused
/// (the client transaction's Timer F is 32 s; its retransmissions are
/// absorbed meanwhile).
const MAX_THROTTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Whether the digest `uri` names the Request-URI: the same text, or SIP
/// URIs that compare equal (RFC 3261 19.1.4: scheme and host
/// case-insensitive, parameters by name).
fn same_request_uri(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    match (SipUri::parse(digest_uri), SipUri::parse(request_uri)) {
        (Ok(a), Ok(b)) => {
            let mut pa = a.params.clone();
            let mut pb = b.params.clone();
            pa.sort();
            pb.sort();
            a.scheme == b.scheme
                && a.user == b.user
                && a.host == b.host
                && a.port == b.port
                && pa == pb
        }
        _ => false,
    }
}

/// 403 with the throttle's wait as Retry-After, in whole seconds
/// (RFC 3261 20.33), for a digest answer the login throttle refused.
fn throttled(request: &Request, error: &StoreError) -> Response {
    let wait = match error {
        StoreError::LoginThrottled { retry_after } => *retry_after,
        _ => std::time::Duration::from_secs(1),
    };
    let seconds = store_core::throttle::retry_after_seconds(wait);
    Response::to_request(request, 403).with("Retry-After", seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 section 3.9.1, both algorithms.
    #[test]
    fn digest_responses_match_rfc_7616() {
        let (user, realm, pass) = ("Mufasa", "http-auth@example.org", "Circle of Life");
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let run = |a: Algorithm| {
            digest_response(
                a,
                &a.ha1(user, realm, pass),
                nonce,
                "00000001",
                cnonce,
                Some("auth"),
                "GET",
                "/dir/index.html",
            )
        };
        assert_eq!(
            run(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(run(Algorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn the_digest_uri_must_name_the_request_uri() {
        assert!(same_request_uri(
            "sip:alice@example.com",
            "sip:alice@example.com"
        ));
        assert!(same_request_uri(
            "sip:alice@EXAMPLE.com;transport=tcp",
            "SIP:alice@example.com;transport=tcp"
        ));
        assert!(!same_request_uri(
            "sip:bob@example.com",
            "sip:alice@example.com"
        ));
        assert!(!same_request_uri(
            "sip:alice@example.com:5070",
            "sip:alice@example.com"
        ));
        assert!(!same_request_uri("/", "sip:alice@example.com"));
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let key = NonceKey::new();
        let n = key.issue();
        assert!(matches!(key.check(&n, 60), NonceState::Fresh));
        let old = format!("{:x}", unix_now() - 120);
        let stale = format!("{old}.{}", key.mac(&old));
        assert!(matches!(key.check(&stale, 60), NonceState::Stale));
        assert!(matches!(
            key.check(&format!("{old}.00"), 60),
            NonceState::Forged
        ));
        assert!(matches!(NonceKey::new().check(&n, 60), NonceState::Forged));
    }
}
