//! MESSAGE (RFC 3428): a deposit (the body is an object to store) or a
//! fetch by reference (the body names a stored object, which the store
//! then sends back in a MESSAGE of its own). Seed 000, CPM-STO2.

use bytes::Bytes;
use store_core::{NewObject, StoreError};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{bad_request, served_user, store_failure, Reply, ACCEPT};
use crate::deposit::{self, media_type, DepositError};
use crate::outbound::{new_via, HopError};
use crate::transaction::client::ClientError;
use crate::transport::{Peer, SendError};
use crate::uri::uri_of;
use crate::wire::render::{new_tag, PRODUCT};
use crate::wire::{Headers, Request, Response};
use crate::SipUa;

/// Answers a MESSAGE from an authorized element.
pub async fn handle(ua: &SipUa, request: &Request, peer: &Peer) -> Reply {
    if let Err(refusal) = ua.authorize(request, peer).await {
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

/// Stores the MESSAGE body; 200 once it is durable (and again, storing
/// nothing, for an IMDN-Message-ID the account already has).
async fn deposit(ua: &SipUa, request: &Request) -> Response {
    let (principal, address) = match served_user(ua, request).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let layout = ua.store().folder_layout();
    let deposit = match deposit::build(request, &address, layout, store_core::now()) {
        Ok(d) => d,
        Err(DepositError::UnsupportedType(_)) => {
            return Response::to_request(request, 415).with("Accept", ACCEPT)
        }
        Err(DepositError::Malformed(m)) => return bad_request(request, &m),
    };
    let store = ua.store();
    let blob = match store.stage_bytes(&deposit.content).await {
        Ok(b) => b,
        Err(e) => return store_failure(request, &e),
    };
    let object = NewObject {
        internal_date: Some(deposit.date),
        kind: Some(deposit.kind),
        deduplicate: true,
        ..NewObject::new(blob)
    };
    // The folder is created in the same commit, only if the message is
    // not a duplicate (then nothing is created, even under a new
    // Conversation-ID).
    let result = store
        .deposit_object(&principal, &deposit.folder, object)
        .await;
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
/// in a MESSAGE to the requester ([`SipUa::next_hop`] says where: its
/// Contact only at its own IP address unless it is trusted, never in
/// cleartext after TLS). An unknown, expired, revoked or foreign
/// reference gets 403 and nothing is sent; 503 with Retry-After when the
/// outbound connection caps or the memory budget of objects in flight
/// (`max_outbound_object_bytes_in_flight`) are used up; 480 when the
/// requester cannot be reached. The connection is opened and the budget
/// taken before the object is read.
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
    // The reference is used on behalf of the served user, when the store
    // knows it (RFC 4467 `user+`/`submit+` access); anonymous references
    // serve any trusted element.
    let requester = served_user(ua, request).await.ok().map(|(p, _)| p);
    let store = ua.store();
    let (reference, object, summary) =
        match store.fetch_by_reference(requester.as_ref(), &url).await {
            Ok(found) => found,
            Err(StoreError::InvalidReference) => {
                tracing::debug!("refused reference");
                return Response::to_request(request, 403).into();
            }
            Err(e) => return store_failure(request, &e).into(),
        };
    let Some((range, content_type)) = reference.content_range(&summary, object.size) else {
        return Response::to_request(request, 403).into();
    };
    let length = range.end - range.start;
    // Past `max_message_bytes`, an object goes only over a connection the
    // store opens to the requester's Contact (a request that came over
    // UDP: its next hop is a new TCP connection above 1300 bytes), up to
    // MAX_STREAMED_OBJECT; a requester on a stream, which frames messages
    // by the same limit, is told why with 500 and a Warning (RFC 3261
    // 20.43) rather than 513, which is about the request's own size. An
    // object is held twice in memory while it is sent (read, and rendered
    // into its MESSAGE): one that alone would pass the memory budget is
    // refused the same way.
    let config = ua.config();
    let mut limit = if peer.transport.is_reliable() {
        config.max_message_bytes as u64
    } else {
        MAX_STREAMED_OBJECT.max(config.max_message_bytes as u64)
    };
    limit = limit.min(config.max_outbound_object_bytes_in_flight as u64 / 2);
    let charge = u32::try_from(length * 2).ok().filter(|_| length <= limit);
    let Some(charge) = charge else {
        tracing::info!(length, limit, "referenced object too large to send");
        return Response::to_request(request, 500)
            .with(
                "Warning",
                format!(
                    "399 cpm-store \"Referenced object of {length} bytes exceeds the {limit}-byte message limit\""
                ),
            )
            .into();
    };
    // The memory budget of objects being sent: taken before anything is
    // read, held until the MESSAGE is answered.
    let Ok(budget) = ua.object_bytes().clone().try_acquire_many_owned(charge) else {
        tracing::info!(
            length,
            "referenced objects in flight use the memory budget: 503"
        );
        return busy(request);
    };
    let contact = request
        .headers
        .values("Contact")
        .first()
        .map(|c| uri_of(c).to_string());
    // Where it goes is settled (a connection opened) before the object is
    // read.
    let target = match ua.next_hop(peer, contact.as_deref(), length as usize).await {
        Ok(t) => t,
        Err(HopError::Busy(_)) => return busy(request),
        Err(e) => {
            if let HopError::NeedsTls(_) = e {
                tracing::warn!(peer = %peer.addr, error = %e, "referenced object not sent in cleartext");
            }
            return Response::to_request(request, 480).into();
        }
    };
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
        return store_failure(request, &StoreError::from(e)).into();
    }
    let body = Bytes::from(body);
    let outgoing = reference_message(request, &target, &url, &content_type, body.clone());
    let ua = ua.clone();
    let response = Response::to_request(request, 202);
    let request = request.clone();
    Reply {
        response,
        after: Some(Box::pin(async move {
            let mut sent = ua
                .client_transactions()
                .send(&target, &outgoing, ua.config())
                .await;
            drop(outgoing);
            // The requester's connection ended before it took the object:
            // the object goes to its Contact instead (RFC 3261 18.2.2),
            // never in cleartext when it came over TLS (26.2.2).
            if sent.is_err() && target.transport.is_reliable() && !target.is_open() {
                tracing::warn!(
                    peer = %target.addr,
                    error = %sent.as_ref().err().map(ToString::to_string).unwrap_or_default(),
                    "requester's connection gone before the referenced object was sent; \
                     sending it to its Contact"
                );
                sent = match ua.next_hop(&target, contact.as_deref(), body.len()).await {
                    Ok(hop) => {
                        let again = reference_message(&request, &hop, &url, &content_type, body);
                        ua.client_transactions()
                            .send(&hop, &again, ua.config())
                            .await
                    }
                    Err(e) => {
                        if let HopError::NeedsTls(_) = e {
                            tracing::warn!(peer = %target.addr, error = %e, "referenced object not sent in cleartext: dropped");
                        }
                        Err(ClientError::Transport(SendError(target.addr)))
                    }
                };
            }
            match sent {
                Ok(r) if (200..300).contains(&r.code) => {
                    tracing::debug!(code = r.code, "referenced object delivered")
                }
                Ok(r) => {
                    tracing::warn!(code = r.code, "referenced object refused by the requester")
                }
                Err(e) => tracing::warn!(error = %e, "referenced object not delivered"),
            }
            drop(budget);
        })),
    }
}

/// 503 with Retry-After (RFC 3261 21.5.4): the store's outbound
/// connections or its memory budget for objects in flight are used up.
fn busy(request: &Request) -> Reply {
    Response::to_request(request, 503)
        .with("Retry-After", "5")
        .into()
}

/// Largest referenced object sent over a connection the store opens,
/// in bytes (it is read whole into memory, within
/// `max_outbound_object_bytes_in_flight`).
const MAX_STREAMED_OBJECT: u64 = 64 * 1024 * 1024;

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
    headers.push("Via", new_via(target));
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
