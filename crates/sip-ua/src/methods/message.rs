//! MESSAGE (RFC 3428): a deposit (the body is an object to store) or a
//! fetch by reference (the body names a stored object, which the store
//! then sends back in a MESSAGE of its own). Seed 000, CPM-STO2.

use std::net::SocketAddr;

use bytes::Bytes;
use store_core::model::Principal;
use store_core::{FolderRef, NewObject, StoreError};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{Reply, ACCEPT};
use crate::deposit::{self, media_type, DepositError};
use crate::transport::{Peer, Transport};
use crate::uri::{uri_of, SipUri};
use crate::wire::render::{new_branch, new_tag, PRODUCT};
use crate::wire::{Headers, Request, Response};
use crate::SipUa;

/// Requests the store sends above this size go over a stream (RFC 3261
/// 18.1.1: 200 bytes under a 1500-byte path MTU).
const UDP_LIMIT: usize = 1300;
/// Room for the start line and header fields of that MESSAGE (Via, From,
/// To, Call-ID, CSeq, In-Reply-To, Referenced-Object...), in bytes.
const HEADER_ALLOWANCE: usize = 600;

/// Answers a MESSAGE from an authorized element.
pub async fn handle(ua: &SipUa, request: &Request, peer: &Peer) -> Reply {
    if let Err(refusal) = ua.authorize(request, peer) {
        return (*refusal).into();
    }
    let (ty, params) = media_type(request.headers.get("Content-Type").unwrap_or_default());
    match ty.as_str() {
        "text/uri-list" | "message/external-body" => {
            fetch_by_reference(ua, request, peer, &ty, &params).await
        }
        _ => deposit(ua, request).await.into(),
    }
}

/// The served user's account (RFC 5502 `P-Served-User`, else the To URI):
/// its principal and address, or the response refusing the request.
async fn served_user(ua: &SipUa, request: &Request) -> Result<(Principal, String), Response> {
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
    match store.principal_for(&account.login).await {
        Ok(p) => Ok((p, address)),
        Err(e) => Err(store_failure(request, &e)),
    }
}

/// Stores the MESSAGE body; 200 once it is durable (and again, storing
/// nothing, for an IMDN-Message-ID the account already has).
async fn deposit(ua: &SipUa, request: &Request) -> Response {
    let (principal, address) = match served_user(ua, request).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let deposit = match deposit::build(request, &address, store_core::now()) {
        Ok(d) => d,
        Err(DepositError::UnsupportedType(_)) => {
            return Response::to_request(request, 415).with("Accept", ACCEPT)
        }
        Err(DepositError::Malformed(m)) => return bad_request(request, &m),
    };
    let store = ua.store();
    let folder = FolderRef::own(deposit.folder.clone());
    let blob = match store.stage_bytes(&deposit.content).await {
        Ok(b) => b,
        Err(e) => return store_failure(request, &e),
    };
    let object = |blob| NewObject {
        internal_date: Some(deposit.date),
        kind: Some(deposit.kind),
        deduplicate: true,
        ..NewObject::new(blob)
    };
    let mut result = store.store_object(&principal, &folder, object(blob)).await;
    if matches!(result, Err(StoreError::NoSuchFolder)) {
        // The first object of a conversation or session: create its
        // folder, then stage the content again (the failed attempt
        // consumed the staged copy).
        match store.create_folder(&principal, &folder, None).await {
            Ok(_) | Err(StoreError::FolderExists) => {}
            Err(e) => return store_failure(request, &e),
        }
        result = match store.stage_bytes(&deposit.content).await {
            Ok(blob) => store.store_object(&principal, &folder, object(blob)).await,
            Err(e) => Err(e),
        };
    }
    match result {
        Ok(stored) => {
            tracing::debug!(
                folder = %deposit.folder,
                uid = stored.uid,
                duplicate = stored.existing,
                "deposited"
            );
            Response::to_request(request, 200)
        }
        Err(e) => store_failure(request, &e),
    }
}

/// The reference URL a MESSAGE body carries: the first URI of a
/// `text/uri-list` (RFC 2483), or the `URL` parameter of a
/// `message/external-body; access-type=URL` (RFC 4483).
fn reference_url(request: &Request, ty: &str, params: &[(String, String)]) -> Option<String> {
    if ty == "message/external-body" {
        let access = params.iter().find(|(n, _)| n == "access-type")?;
        if !access.1.eq_ignore_ascii_case("URL") {
            return None;
        }
        return params
            .iter()
            .find(|(n, _)| n == "url")
            .map(|(_, v)| v.clone());
    }
    let text = std::str::from_utf8(&request.body).ok()?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
}

/// Fetch by reference: 202 now, then the referenced object (or section)
/// in a MESSAGE to the requester. An unknown, expired, revoked or foreign
/// reference gets 403 and nothing is sent.
async fn fetch_by_reference(
    ua: &SipUa,
    request: &Request,
    peer: &Peer,
    ty: &str,
    params: &[(String, String)],
) -> Reply {
    let Some(url) = reference_url(request, ty, params) else {
        return bad_request(request, "No reference URL in the body").into();
    };
    let Some(token) = store_core::Reference::token_in_url(&url) else {
        return Response::to_request(request, 403).into();
    };
    // The reference is used on behalf of the served user, when the store
    // knows it (RFC 4467 `user+`/`submit+` access); anonymous references
    // serve any trusted element.
    let requester = served_user(ua, request).await.ok().map(|(p, _)| p);
    let store = ua.store();
    let (reference, object, summary) =
        match store.fetch_by_reference(requester.as_ref(), token).await {
            Ok(found) => found,
            Err(StoreError::InvalidReference) => {
                tracing::debug!("refused reference");
                return Response::to_request(request, 403).into();
            }
            Err(e) => return store_failure(request, &e).into(),
        };
    if !reference.is_named_by(&url) {
        return Response::to_request(request, 403).into();
    }
    let Some((range, content_type)) = reference.content_range(&summary, object.size) else {
        return Response::to_request(request, 403).into();
    };
    let length = range.end - range.start;
    if length > ua.config().max_message_bytes as u64 {
        return Response::to_request(request, 513).into();
    }
    let mut file = match store.open_blob(&object).await {
        Ok(f) => f,
        Err(e) => return store_failure(request, &e).into(),
    };
    let mut body = vec![0u8; length as usize];
    let read = async {
        file.seek(std::io::SeekFrom::Start(range.start)).await?;
        file.read_exact(&mut body).await
    };
    if let Err(e) = read.await {
        return store_failure(request, &StoreError::Io(e)).into();
    }
    let target = match delivery_target(ua, request, peer, body.len()).await {
        Some(t) => t,
        None => return Response::to_request(request, 480).into(),
    };
    let outgoing = reference_message(request, &target, &url, &content_type, Bytes::from(body));
    let ua = ua.clone();
    Reply {
        response: Response::to_request(request, 202),
        after: Some(Box::pin(async move {
            let sent = ua
                .client_transactions()
                .send(&target, &outgoing, ua.config())
                .await;
            match sent {
                Ok(r) => tracing::debug!(code = r.code, "referenced object delivered"),
                Err(e) => tracing::info!(error = %e, "referenced object not delivered"),
            }
        })),
    }
}

/// Where the referenced object goes: back over the requester's stream
/// connection while it is open (as RFC 5923 reuses connections), else to
/// its Contact (or the address it sent from) over UDP, or over a new TCP
/// connection when the message is larger than [`UDP_LIMIT`]. Contacts
/// with a domain name are not resolved (no RFC 3263): the source address
/// is used.
async fn delivery_target(ua: &SipUa, request: &Request, peer: &Peer, size: usize) -> Option<Peer> {
    if peer.transport.is_reliable() && peer.is_open() {
        return Some(peer.clone());
    }
    let contact: Option<SocketAddr> = request
        .headers
        .values("Contact")
        .first()
        .and_then(|c| SipUri::parse(uri_of(c)).ok())
        .and_then(|u| u.socket_addr());
    let addr = contact.unwrap_or(peer.addr);
    if size + HEADER_ALLOWANCE <= UDP_LIMIT {
        return ua.transports().udp_peer(addr);
    }
    if let Some(open) = ua.transports().stream_peer(Transport::Tcp, addr) {
        return Some(open);
    }
    ua.connect_tcp(addr).await.ok()
}

/// The MESSAGE carrying a referenced object: to the requester (the
/// request's From), correlated by `In-Reply-To` (the request's Call-ID,
/// RFC 3261 20.21) and `Referenced-Object` (the reference URL).
fn reference_message(
    request: &Request,
    target: &Peer,
    url: &str,
    content_type: &str,
    body: Bytes,
) -> Request {
    let requester = request.headers.get("From").unwrap_or_default();
    let mut headers = Headers::new();
    headers.push(
        "Via",
        format!(
            "SIP/2.0/{} {};branch={}",
            target.transport.via_token(),
            target.local,
            new_branch()
        ),
    );
    headers.push("Max-Forwards", "70");
    headers.push(
        "From",
        format!("<sip:cpm-store@{}>;tag={}", target.local, new_tag()),
    );
    headers.push("To", format!("<{}>", uri_of(requester)));
    headers.push("Call-ID", format!("{}@cpm-store", new_tag()));
    headers.push("CSeq", "1 MESSAGE");
    headers.push("User-Agent", PRODUCT);
    if let Some(call_id) = request.headers.get("Call-ID") {
        headers.push("In-Reply-To", call_id);
    }
    headers.push("Referenced-Object", format!("<{url}>"));
    headers.push("Content-Type", content_type);
    let uri = request
        .headers
        .values("Contact")
        .first()
        .map(|c| uri_of(c).to_string())
        .unwrap_or_else(|| uri_of(requester).to_string());
    Request {
        method: "MESSAGE".into(),
        uri,
        headers,
        body,
    }
}

fn bad_request(request: &Request, reason: &str) -> Response {
    let mut r = Response::to_request(request, 400);
    r.reason = format!("Bad Request ({reason})")
        .chars()
        .take(100)
        .collect();
    r
}

/// The response to a store failure, by its kind; internal failures are
/// logged and answered 500.
fn store_failure(request: &Request, error: &StoreError) -> Response {
    match error {
        StoreError::NoSuchAccount => Response::to_request(request, 404),
        StoreError::InvalidName(_) => bad_request(
            request,
            "Conversation-ID or Contribution-ID cannot name a folder",
        ),
        StoreError::OverQuota => Response::to_request(request, 480)
            .with("Warning", "399 cpm-store \"Storage quota exceeded\""),
        StoreError::PermissionDenied(_) => Response::to_request(request, 403),
        e => {
            tracing::error!(error = %e, "store failure on a SIP request");
            Response::to_request(request, 500)
        }
    }
}
