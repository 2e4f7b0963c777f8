//! SUBSCRIBE (RFC 6665 4.2.1, notifier side) to the `cpm-changes` event
//! package: see [`crate::subscription`] for the package and its NOTIFYs.

use std::time::Duration;

use store_core::model::ModSeq;

use super::{bad_request, served_user, Reply};
use crate::subscription::{contact, Dialog, DialogId, Refresh, Subscription, PACKAGE};
use crate::transport::Peer;
use crate::uri::uri_of;
use crate::wire::{param, Request, Response};
use crate::SipUa;

/// Answers a SUBSCRIBE from an authorized element: a new subscription,
/// a refresh (`Expires` > 0 in the dialog), or an unsubscribe
/// (`Expires: 0`), each followed by a NOTIFY.
pub async fn handle(ua: &SipUa, request: &Request, peer: &Peer) -> Reply {
    if let Err(refusal) = ua.authorize(request, peer).await {
        return (*refusal).into();
    }
    let event = request.headers.get("Event").unwrap_or_default();
    let package = event.split(';').next().unwrap_or_default().trim();
    if !package.eq_ignore_ascii_case(PACKAGE) {
        // RFC 6665 8.3.1.
        return Response::to_request(request, 489)
            .with("Allow-Events", PACKAGE)
            .into();
    }
    let config = ua.config();
    let asked = match request.headers.get("Expires") {
        None => config.max_subscription,
        Some(v) => match v.trim().parse::<u32>() {
            Ok(s) => Duration::from_secs(u64::from(s)),
            Err(_) => return bad_request(request, "Expires is not a number of seconds").into(),
        },
    };
    if !asked.is_zero() && asked < config.min_subscription {
        return Response::to_request(request, 423)
            .with("Min-Expires", config.min_subscription.as_secs().to_string())
            .into();
    }
    let expires = asked.min(config.max_subscription);
    let call_id = request
        .headers
        .get("Call-ID")
        .unwrap_or_default()
        .to_string();
    let to = request.headers.get("To").unwrap_or_default();
    if let Some(local_tag) = param(to, "tag") {
        return refresh(ua, request, DialogId { call_id, local_tag }, expires);
    }
    let Some(remote_target) = request.headers.values("Contact").first().cloned() else {
        return bad_request(request, "SUBSCRIBE without Contact").into();
    };
    let since = match param(event, "since") {
        None => None,
        Some(v) => match v.parse::<ModSeq>() {
            Ok(m) => Some(m),
            Err(_) => return bad_request(request, "since is not a MODSEQ").into(),
        },
    };
    let (principal, address) = match served_user(ua, request).await {
        Ok(s) => s,
        Err(r) => return r.into(),
    };
    // Running subscriptions and final catch-ups still being sent count
    // alike; the place is held until the subscription's task ends.
    let Some(slot) = ua.subscriptions().reserve(config.max_subscriptions) else {
        return Response::to_request(request, 503)
            .with("Retry-After", "60")
            .into();
    };
    let mut response = Response::to_request(request, 200)
        .with("Expires", expires.as_secs().to_string())
        .with("Contact", contact(peer));
    let route_set = request.headers.values("Record-Route");
    for route in &route_set {
        response = response.with("Record-Route", route.clone());
    }
    let local = response.headers.get("To").unwrap_or_default().to_string();
    let local_tag = param(&local, "tag").unwrap_or_default();
    let event = match param(event, "id") {
        Some(id) => format!("{PACKAGE};id={id}"),
        None => PACKAGE.to_string(),
    };
    let subscription = Subscription {
        dialog: Dialog {
            id: DialogId { call_id, local_tag },
            local,
            remote: request.headers.get("From").unwrap_or_default().to_string(),
            remote_target: uri_of(&remote_target).to_string(),
            route_set,
            event,
            origin: peer.clone(),
        },
        principal,
        address,
        since,
        expires,
        slot,
    };
    let ua = ua.clone();
    Reply {
        response,
        after: Some(Box::pin(async move { ua.start_subscription(subscription) })),
    }
}

/// A SUBSCRIBE inside an existing dialog: extends or ends it (RFC 6665
/// 4.2.1.2); 481 if the dialog is unknown (RFC 6665 4.1.2.2 then has the
/// subscriber start over).
fn refresh(ua: &SipUa, request: &Request, id: DialogId, expires: Duration) -> Reply {
    if !ua.subscriptions().contains(&id) {
        return Response::to_request(request, 481).into();
    }
    let refresh = if expires.is_zero() {
        Refresh::End
    } else {
        Refresh::Extend(expires)
    };
    let ua = ua.clone();
    Reply {
        response: Response::to_request(request, 200).with("Expires", expires.as_secs().to_string()),
        after: Some(Box::pin(async move {
            if !ua.subscriptions().refresh(&id, refresh) {
                tracing::debug!("subscription ended before its refresh");
            }
        })),
    }
}
