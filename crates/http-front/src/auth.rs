//! Who is asking: the credentials of an HTTP request (Basic, RFC 7617,
//! against the account's password; Bearer, RFC 6750, an access token
//! `cpm-store account token` issued) checked by the store under its login
//! throttle, the same way for every HTTP front end; each answers a
//! refusal in its own protocol's body.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use store_core::password::CleartextPolicy;
use store_core::throttle::LoginSource;
use store_core::{Principal, Store, StoreError};

use crate::Body;

/// Why a request's credentials were not taken (other than being wrong,
/// which asks for them again).
#[derive(Debug)]
pub enum Refusal {
    /// Credentials over plain HTTP that the cleartext policy refuses
    /// from this peer (RFC 7617 4): the front end answers 403.
    Cleartext,
    /// The login throttle: the client failed too often; answer 429 with
    /// `Retry-After` (RFC 6585 4). No password was checked.
    Throttled {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The password checks stayed busy: 503 with `Retry-After`.
    Busy(&'static str),
    /// The store failed.
    Store(StoreError),
}

impl Refusal {
    /// The `Retry-After` seconds of a throttled or busy refusal.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Refusal::Throttled { retry_after } => {
                Some(store_core::throttle::retry_after_seconds(*retry_after))
            }
            Refusal::Busy(_) => Some(1),
            _ => None,
        }
    }
}

/// The principal of a request's credentials (Basic or Bearer), from
/// `peer` over TLS or not (`secure`); `None` when there are none or they
/// are wrong (the front end asks again: [`challenge`]). The store's login
/// throttle decides first, and records the outcome under `protocol`
/// (`webdav`, `nms`). Credentials over plain HTTP, tokens as well as
/// passwords, are taken only as the cleartext policy allows.
///
/// Errors: [`Refusal`].
pub async fn authenticate(
    store: &Store,
    peer: SocketAddr,
    secure: bool,
    cleartext: CleartextPolicy,
    headers: &HeaderMap,
    protocol: &'static str,
) -> Result<Option<Principal>, Refusal> {
    if !headers.contains_key(header::AUTHORIZATION) {
        return Ok(None);
    }
    if !cleartext.allows(secure, peer.ip()) {
        return Err(Refusal::Cleartext);
    }
    let source = LoginSource {
        remote: peer.ip(),
        protocol,
    };
    let checked = match (
        crate::bearer_token(headers),
        crate::basic_credentials(headers),
    ) {
        (Some(token), _) => store.authenticate_token(source, token).await,
        (None, Some((login, password))) => store.authenticate(source, &login, &password).await,
        (None, None) => return Ok(None),
    };
    match checked {
        Ok(p) => Ok(Some(p)),
        Err(StoreError::AuthenticationFailed | StoreError::NoSuchAccount) => Ok(None),
        Err(StoreError::LoginThrottled { retry_after }) => Err(Refusal::Throttled { retry_after }),
        Err(StoreError::Busy(what)) => Err(Refusal::Busy(what)),
        Err(e) => Err(Refusal::Store(e)),
    }
}

/// `401 Unauthorized` asking for Basic credentials in UTF-8 (RFC 7617
/// 2.1) or a bearer token (RFC 6750 3).
pub fn challenge() -> Response<Body> {
    let mut r = crate::status(StatusCode::UNAUTHORIZED);
    let h = r.headers_mut();
    h.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"cpm-store\", charset=\"UTF-8\""),
    );
    h.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"cpm-store\""),
    );
    r
}
