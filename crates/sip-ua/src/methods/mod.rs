//! One handler per method. [`handle`] makes the checks RFC 3261 8.2 asks
//! of every request (URI scheme, Require, body type, method) and calls the
//! handler, which returns the final response and, if any, the work that
//! follows it once it is sent (the MESSAGE of a fetch by reference, the
//! first NOTIFY of a subscription).

pub mod message;
pub mod options;
pub mod subscribe;

use std::future::Future;
use std::pin::Pin;

use crate::deposit::media_type;
use crate::transport::Peer;
use store_core::model::Principal;
use store_core::StoreError;

use crate::uri::{uri_of, SipUri, UriError};
use crate::wire::{Request, Response};
use crate::SipUa;

/// The methods served (`Allow`, RFC 3261 20.5).
pub const ALLOW: &str = "OPTIONS, MESSAGE, SUBSCRIBE, ACK, CANCEL";
/// The body types MESSAGE takes (`Accept`, RFC 3261 20.1).
pub const ACCEPT: &str = "message/cpim, multipart/related, application/group-state-object+xml, \
     text/uri-list, message/external-body";

/// Body types this UA understands (RFC 3261 8.2.3): those of [`ACCEPT`],
/// and SDP, which it reads as SDP though no method it serves takes it (an
/// INVITE offering SDP gets the 405 of RFC 3261 8.2.1, not a 415).
const UNDERSTOOD: &[&str] = &[
    "message/cpim",
    "multipart/related",
    store_core::mime::GROUP_STATE_OBJECT_TYPE,
    "text/uri-list",
    "message/external-body",
    "application/sdp",
];

/// Work to run after the final response is sent.
pub type After = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A handler's answer.
pub struct Reply {
    /// The final response.
    pub response: Response,
    /// What to do once it is sent.
    pub after: Option<After>,
}

impl From<Response> for Reply {
    fn from(response: Response) -> Reply {
        Reply {
            response,
            after: None,
        }
    }
}

/// Answers a request that passed validation and is a new transaction.
pub async fn handle(ua: &SipUa, request: &Request, peer: &Peer) -> Reply {
    if let Err(UriError::UnsupportedScheme(_)) = SipUri::parse(&request.uri) {
        return Response::to_request(request, 416).into();
    }
    let required: Vec<String> = request.headers.values("Require");
    if !required.is_empty() {
        // No option tag is supported (RFC 3261 8.2.2.3).
        return Response::to_request(request, 420)
            .with("Unsupported", required.join(", "))
            .into();
    }
    if !request.body.is_empty() {
        let (ty, _) = media_type(request.headers.get("Content-Type").unwrap_or_default());
        if !UNDERSTOOD.contains(&ty.as_str()) {
            return Response::to_request(request, 415)
                .with("Accept", ACCEPT)
                .into();
        }
    }
    match request.method.as_str() {
        "OPTIONS" => options::handle(request).into(),
        "MESSAGE" => message::handle(ua, request, peer).await,
        "SUBSCRIBE" => subscribe::handle(ua, request, peer).await,
        // No INVITE transaction ever exists here to cancel (RFC 3261 9.2).
        "CANCEL" => Response::to_request(request, 481).into(),
        _ => Response::to_request(request, 405)
            .with("Allow", ALLOW)
            .into(),
    }
}

/// The served user's account (RFC 5502 `P-Served-User`, else the To URI):
/// its principal and address, or the response refusing the request.
pub(crate) async fn served_user(
    ua: &SipUa,
    request: &Request,
) -> Result<(Principal, String), Response> {
    let value = request
        .headers
        .get("P-Served-User")
        .or(request.headers.get("To"))
        .unwrap_or_default();
    let address = match SipUri::parse(uri_of(value)) {
        Ok(u) => u.address(),
        Err(_) => return Err(Response::to_request(request, 404)),
    };
    let store = ua.store();
    let account = match store.account_by_address(&address).await {
        Ok(Some(a)) => a,
        Ok(None) => return Err(Response::to_request(request, 404)),
        Err(e) => return Err(store_failure(request, &e)),
    };
    match store.trusted_element(&account.login).await {
        Ok(p) => Ok((p, address)),
        Err(e) => Err(store_failure(request, &e)),
    }
}

/// A 400 whose reason phrase says what is wrong.
pub(crate) fn bad_request(request: &Request, reason: &str) -> Response {
    let mut r = Response::to_request(request, 400);
    r.reason = format!("Bad Request ({reason})")
        .chars()
        .take(100)
        .collect();
    r
}

/// The response to a store failure, by its kind; internal failures are
/// logged and answered 500.
pub(crate) fn store_failure(request: &Request, error: &StoreError) -> Response {
    match error {
        StoreError::NoSuchAccount => Response::to_request(request, 404),
        StoreError::InvalidName(_) => bad_request(
            request,
            "Conversation-ID or Contribution-ID cannot name a folder",
        ),
        StoreError::OverQuota => Response::to_request(request, 480)
            .with("Warning", "399 cpm-store \"Storage quota exceeded\""),
        StoreError::PermissionDenied(_) | StoreError::ReservedFolder(_) => {
            Response::to_request(request, 403)
        }
        // A WebDAV lock holds up the write (store-core's rule for every
        // protocol): temporarily unavailable until it is unlocked.
        StoreError::Locked { .. } => Response::to_request(request, 480)
            .with("Retry-After", "60")
            .with("Warning", "399 cpm-store \"Locked by a WebDAV lock\""),
        e if e.is_temporary() => {
            // A full disk or failing storage: the request may succeed
            // later (RFC 3261 21.5.1 with Retry-After, 20.33).
            tracing::warn!(error = %e, "SIP request refused: storage does not take writes");
            Response::to_request(request, 500)
                .with("Retry-After", "30")
                .with(
                    "Warning",
                    match e {
                        StoreError::StorageFull => "399 cpm-store \"Storage full\"",
                        _ => "399 cpm-store \"Storage unavailable\"",
                    },
                )
        }
        e => {
            tracing::error!(error = %e, "store failure on a SIP request");
            Response::to_request(request, 500)
        }
    }
}
