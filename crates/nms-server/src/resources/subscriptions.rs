//! `/subscriptions` (TS 6.17) and `/subscriptions/{id}` (TS 6.18): a
//! client's subscriptions to the box's changes, delivered by
//! [`crate::notifications`]. A subscription follows the account's change
//! feed from now, or from the point its `restartToken` names (every
//! change since is sent first); a token the feed can no longer honour
//! (another epoch: the account was created again; or older than the
//! change window) gets a `resetBox` first (TS 5.1.4.2.1).

use hyper::{Request, Response, StatusCode};
use store_core::{FeedSubscription, RestartPoint, StoreError};

use http_front::{Body, RequestBody};

use crate::error::{NmsError, NmsResult};
use crate::json;
use crate::notifications::SubscriptionDetails;
use crate::service::Ctx;
use crate::types::{
    CallbackReference, NmsSubscription, NmsSubscriptionList, NmsSubscriptionListRoot,
    NmsSubscriptionRoot, NmsSubscriptionUpdateRoot,
};

/// A subscription's life when the client asks for none, in seconds.
pub const DEFAULT_DURATION: u32 = 86_400;

/// The longest life a subscription may ask for, in seconds (7 days); a
/// longer `duration` is cut to it (and the answer says so).
pub const MAX_DURATION: u32 = 7 * 86_400;

/// Longest notifyURL accepted, in bytes.
const MAX_URL_BYTES: usize = 2048;

/// The representation of a stored subscription (TS 5.3.2.20), with its
/// remaining `duration` and the `restartToken` of its position.
async fn represent(ctx: &Ctx<'_>, s: &FeedSubscription) -> NmsResult<NmsSubscription> {
    let now = store_core::now();
    let duration = s
        .expires
        .map(|e| u32::try_from(e.saturating_sub(now).max(0)).unwrap_or(u32::MAX));
    let restart_token = ctx
        .store
        .restart_token(&ctx.principal, s.position)
        .await
        .map_err(|e| ctx.store_error(e))?;
    Ok(NmsSubscription {
        callback_reference: CallbackReference {
            notify_url: s.callback.clone(),
            callback_data: s.callback_data.clone(),
            notification_format: None,
        },
        duration,
        filter: SubscriptionDetails::of(s).filter,
        client_correlator: s.client_correlator.clone(),
        resource_url: Some(ctx.urls.subscription(&s.id)),
        index: Some(s.index),
        restart_token: Some(restart_token),
    })
}

/// Where a subscription starts for `token` (none: now), and whether its
/// first list must reset the box.
async fn starting_point(ctx: &Ctx<'_>, token: Option<&str>) -> NmsResult<(u64, bool)> {
    let point = match token {
        None => RestartPoint::Reset(0),
        Some(t) => ctx
            .store
            .restart_point(&ctx.principal, t)
            .await
            .map_err(|e| ctx.store_error(e))?,
    };
    Ok(match (point, token) {
        (RestartPoint::Replay(modseq), _) => (modseq, false),
        (RestartPoint::Reset(modseq), Some(_)) => (modseq, true),
        (RestartPoint::Reset(_), None) => {
            let now = ctx
                .store
                .account_modseq(&ctx.principal)
                .await
                .map_err(|e| ctx.store_error(e))?;
            (now, false)
        }
    })
}

/// Checks a requested duration: 0 or absent is the default, past
/// [`MAX_DURATION`] is cut to it.
fn expiry(duration: Option<u32>) -> i64 {
    let seconds = match duration {
        None | Some(0) => DEFAULT_DURATION,
        Some(d) => d.min(MAX_DURATION),
    };
    store_core::now() + i64::from(seconds)
}

/// Only the box's own account may subscribe to it.
fn own_box(ctx: &Ctx<'_>) -> NmsResult<()> {
    match ctx.owner {
        None => Ok(()),
        Some(_) => Err(NmsError::policy_error("subscriptions are to one's own box")),
    }
}

/// POST `/subscriptions` (TS 6.17.5): creates a subscription; 201 with
/// `Location` and the subscription (D.59). The same `clientCorrelator`
/// again finds the subscription it created (200).
///
/// Errors: SVC0002 for a body that is no subscription or a notifyURL that
/// is no http(s) URL; POL0001 (403) past the subscriptions an account may
/// hold, or for another account's box.
pub async fn create(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    own_box(ctx)?;
    let sent: NmsSubscriptionRoot = json::read(ctx, request, "nmsSubscription").await?;
    let wanted = sent.nms_subscription;
    let url = wanted.callback_reference.notify_url.trim().to_string();
    if url.len() > MAX_URL_BYTES
        || !(url.starts_with("http://") || url.starts_with("https://"))
        || reqwest::Url::parse(&url).is_err()
    {
        return Err(NmsError::invalid_input("callbackReference.notifyURL"));
    }
    if let Some(c) = &wanted.client_correlator {
        let existing = ctx
            .store
            .feed_subscriptions(&ctx.principal)
            .await
            .map_err(|e| ctx.store_error(e))?;
        if let Some(s) = existing
            .iter()
            .find(|s| s.client_correlator.as_deref() == Some(c))
        {
            let body = NmsSubscriptionRoot {
                nms_subscription: represent(ctx, s).await?,
            };
            return Ok(json::response(StatusCode::OK, &body));
        }
    }
    // A filter the server cannot apply is refused now, not at delivery.
    crate::notifications::EventFilter::of(wanted.filter.as_ref())?;
    let (position, reset_pending) = starting_point(ctx, wanted.restart_token.as_deref()).await?;
    let details = SubscriptionDetails {
        base: ctx.urls.base.clone(),
        filter: wanted.filter.clone(),
    };
    let record = FeedSubscription {
        id: String::new(),
        account: 0,
        login: String::new(),
        callback: url,
        callback_data: wanted.callback_reference.callback_data.clone(),
        client_correlator: wanted.client_correlator.clone(),
        details: details.encode(),
        expires: Some(expiry(wanted.duration)),
        index: 0,
        position,
        reset_pending,
    };
    let stored = ctx
        .store
        .create_feed_subscription(&ctx.principal, record)
        .await
        .map_err(|e| ctx.store_error(e))?;
    ctx.deliveries.wake(&stored);
    let nms_subscription = represent(ctx, &stored).await?;
    let location = ctx.urls.subscription(&stored.id);
    Ok(json::created(
        &location,
        &NmsSubscriptionRoot { nms_subscription },
    ))
}

/// GET `/subscriptions` (TS 6.17.3): every subscription of the box (D.58).
pub async fn list(ctx: &Ctx<'_>) -> NmsResult<Response<Body>> {
    own_box(ctx)?;
    let all = ctx
        .store
        .feed_subscriptions(&ctx.principal)
        .await
        .map_err(|e| ctx.store_error(e))?;
    let mut subscription = Vec::with_capacity(all.len());
    for s in &all {
        subscription.push(represent(ctx, s).await?);
    }
    let body = NmsSubscriptionListRoot {
        nms_subscription_list: NmsSubscriptionList {
            subscription,
            resource_url: ctx.urls.subscriptions(),
        },
    };
    Ok(json::response(StatusCode::OK, &body))
}

/// The box's subscription `id`.
///
/// Errors: SVC0004 (404) when there is none (D.61).
async fn find(ctx: &Ctx<'_>, id: &str) -> NmsResult<FeedSubscription> {
    own_box(ctx)?;
    match ctx
        .store
        .feed_subscription(ctx.principal.account(), id)
        .await
    {
        Ok(s) => Ok(s),
        Err(StoreError::NoSuchObject) => Err(ctx.not_found()),
        Err(e) => Err(ctx.store_error(e)),
    }
}

/// GET `/subscriptions/{id}` (TS 6.18.3, D.60).
pub async fn get(ctx: &Ctx<'_>, id: &str) -> NmsResult<Response<Body>> {
    let s = find(ctx, id).await?;
    let nms_subscription = represent(ctx, &s).await?;
    Ok(json::response(
        StatusCode::OK,
        &NmsSubscriptionRoot { nms_subscription },
    ))
}

/// POST `/subscriptions/{id}` (TS 6.18.5, D.62): a new `duration` from
/// now, and with a `restartToken`, delivery from that point again (the
/// index goes on counting). Answers the subscription (200).
///
/// Errors: SVC0004 (404) for no such subscription; SVC0002 for a bad body.
pub async fn update(
    ctx: &Ctx<'_>,
    id: &str,
    request: Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    find(ctx, id).await?;
    let sent: NmsSubscriptionUpdateRoot = json::read(ctx, request, "nmsSubscriptionUpdate").await?;
    let update = sent.nms_subscription_update;
    let restart = match update.restart_token.as_deref() {
        Some(t) => Some(starting_point(ctx, Some(t)).await?),
        None => None,
    };
    let expires = expiry(update.duration);
    let updated = ctx
        .store
        .update_feed_subscription(ctx.principal.account(), id, move |s| {
            s.expires = Some(expires);
            if let Some((position, reset)) = restart {
                s.position = position;
                s.reset_pending = reset;
            }
        })
        .await
        .map_err(|e| match e {
            StoreError::NoSuchObject => ctx.not_found(),
            e => ctx.store_error(e),
        })?;
    ctx.deliveries.wake(&updated);
    let nms_subscription = represent(ctx, &updated).await?;
    Ok(json::response(
        StatusCode::OK,
        &NmsSubscriptionRoot { nms_subscription },
    ))
}

/// DELETE `/subscriptions/{id}` (TS 6.18.6, D.63): 204.
///
/// Errors: SVC0004 (404) for no such subscription.
pub async fn delete(ctx: &Ctx<'_>, id: &str) -> NmsResult<Response<Body>> {
    let s = find(ctx, id).await?;
    ctx.store
        .remove_feed_subscription(s.account, &s.id)
        .await
        .map_err(|e| ctx.store_error(e))?;
    ctx.deliveries.wake(&s);
    Ok(http_front::status(StatusCode::NO_CONTENT))
}
