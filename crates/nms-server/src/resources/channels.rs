//! The Notification Channel resources (NC TS 6.1–6.4), served beside NMS
//! under `/notificationchannel/v1/{userId}/channels`: create and list
//! channels, read and delete one, read and refresh its lifetime, long
//! poll its channel URL, and the callback URL notification servers POST
//! to. The channels themselves are [`crate::channels`].

use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use http_front::{Body, RequestBody};

use crate::channels::{ChannelView, NewChannel, PollEnd};
use crate::error::{NmsError, NmsResult};
use crate::json;
use crate::service::Ctx;
use crate::types::{
    ChannelData, ChannelType, NotificationChannel, NotificationChannelLifetime,
    NotificationChannelLifetimeRoot, NotificationChannelList, NotificationChannelListRoot,
    NotificationChannelRoot,
};

/// The representation of a channel (NC TS 5.2.2.2).
fn represent(ctx: &Ctx<'_>, c: &ChannelView) -> NotificationChannel {
    NotificationChannel {
        client_correlator: c.client_correlator.clone(),
        application_tag: c.application_tag.clone(),
        channel_type: c.channel_type,
        channel_data: Some(ChannelData {
            channel_url: Some(c.channel_url.clone()),
            max_notifications: Some(c.max_notifications),
            max_wait_time: (c.channel_type == ChannelType::LongPolling).then_some(c.max_wait),
        }),
        channel_lifetime: Some(c.remaining),
        callback_url: Some(c.callback_url.clone()),
        resource_url: Some(format!("{}/{}", ctx.urls.base, c.id)),
    }
}

/// Channels are one's own.
fn own(ctx: &Ctx<'_>) -> NmsResult<()> {
    match ctx.owner {
        None => Ok(()),
        Some(_) => Err(ctx.not_found()),
    }
}

/// POST `/channels` (NC TS 6.1.5): creates a LongPolling or WebSockets
/// channel; 201 with `Location` and the channel (its channelURL and
/// callbackURL). The same clientCorrelator again answers the channel it
/// made (200).
///
/// Errors: POL1023 (403) for another channel type; SVC0002 for a bad
/// body; POL0001 past the channels an account may hold.
pub async fn create(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    own(ctx)?;
    let sent: NotificationChannelRoot = json::read(ctx, request, "notificationChannel").await?;
    let wanted = sent.notification_channel;
    if !matches!(
        wanted.channel_type,
        ChannelType::LongPolling | ChannelType::WebSockets
    ) {
        return Err(NmsError::unsupported_channel_type(wanted.channel_type));
    }
    let data = wanted.channel_data.unwrap_or_default();
    let new = NewChannel {
        channel_type: wanted.channel_type,
        client_correlator: wanted.client_correlator,
        application_tag: wanted.application_tag,
        max_notifications: data.max_notifications,
        max_wait: data.max_wait_time,
        lifetime: wanted.channel_lifetime,
    };
    let base = ctx.urls.base.clone();
    let urls = |id: &str| {
        (
            format!("{base}/{id}/callback"),
            format!("{base}/{id}/notifications"),
        )
    };
    let (channel, made) = ctx
        .channels
        .create(ctx.principal.account(), new, urls)
        .map_err(NmsError::policy_error)?;
    let notification_channel = represent(ctx, &channel);
    let body = NotificationChannelRoot {
        notification_channel,
    };
    Ok(match made {
        true => json::created(&format!("{base}/{}", channel.id), &body),
        false => json::response(StatusCode::OK, &body),
    })
}

/// GET `/channels` (NC TS 6.1.3): the account's channels.
pub async fn list(ctx: &Ctx<'_>) -> NmsResult<Response<Body>> {
    own(ctx)?;
    let notification_channel = ctx
        .channels
        .list(ctx.principal.account())
        .iter()
        .map(|c| represent(ctx, c))
        .collect();
    let body = NotificationChannelListRoot {
        notification_channel_list: NotificationChannelList {
            notification_channel,
            resource_url: ctx.urls.base.clone(),
        },
    };
    Ok(json::response(StatusCode::OK, &body))
}

/// GET `/channels/{id}` (NC TS 6.2.3).
///
/// Errors: SVC0004 (404) for no such channel.
pub async fn get(ctx: &Ctx<'_>, id: &str) -> NmsResult<Response<Body>> {
    own(ctx)?;
    let c = ctx
        .channels
        .get(ctx.principal.account(), id)
        .ok_or_else(|| ctx.not_found())?;
    let body = NotificationChannelRoot {
        notification_channel: represent(ctx, &c),
    };
    Ok(json::response(StatusCode::OK, &body))
}

/// DELETE `/channels/{id}` (NC TS 6.2.6): 204; a poll in progress ends
/// with 404.
///
/// Errors: SVC0004 (404) for no such channel.
pub async fn delete(ctx: &Ctx<'_>, id: &str) -> NmsResult<Response<Body>> {
    own(ctx)?;
    match ctx.channels.remove(ctx.principal.account(), id) {
        true => Ok(http_front::status(StatusCode::NO_CONTENT)),
        false => Err(ctx.not_found()),
    }
}

/// GET `/channels/{id}/channelLifetime` (NC TS 6.3.3): the remaining
/// lifetime.
///
/// Errors: SVC0004 (404) for no such channel.
pub async fn lifetime(ctx: &Ctx<'_>, id: &str) -> NmsResult<Response<Body>> {
    own(ctx)?;
    let c = ctx
        .channels
        .get(ctx.principal.account(), id)
        .ok_or_else(|| ctx.not_found())?;
    Ok(lifetime_response(c.remaining))
}

fn lifetime_response(seconds: u32) -> Response<Body> {
    json::response(
        StatusCode::OK,
        &NotificationChannelLifetimeRoot {
            notification_channel_lifetime: NotificationChannelLifetime {
                channel_lifetime: Some(seconds),
            },
        },
    )
}

/// PUT `/channels/{id}/channelLifetime` (NC TS 6.3.4): refreshes the
/// channel with the lifetime asked (capped), or the one it had.
///
/// Errors: SVC0004 (404) for no such channel; SVC0002 for a bad body.
pub async fn refresh(
    ctx: &Ctx<'_>,
    id: &str,
    request: Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    own(ctx)?;
    let sent: NotificationChannelLifetimeRoot =
        json::read(ctx, request, "notificationChannelLifetime").await?;
    let wanted = sent.notification_channel_lifetime.channel_lifetime;
    let granted = ctx
        .channels
        .refresh(ctx.principal.account(), id, wanted)
        .ok_or_else(|| ctx.not_found())?;
    Ok(lifetime_response(granted))
}

/// POST the channel URL (NC TS 6.4.5): a long poll. Answers
/// `{"notificationList": [...]}` with what waits or arrives within the
/// channel's wait (empty when none did).
///
/// Errors: SVC1012 (409) when a newer poll took over; SVC0004 (404) for
/// no such channel, or when it is deleted during the poll.
pub async fn poll(ctx: &Ctx<'_>, id: &str) -> NmsResult<Response<Body>> {
    own(ctx)?;
    match ctx.channels.poll(ctx.principal.account(), id).await {
        None | Some(Err(PollEnd::Removed)) => Err(ctx.not_found()),
        Some(Err(PollEnd::Superseded)) => Err(NmsError::simultaneous_poll()),
        Some(Ok(list)) => Ok(json::response(
            StatusCode::OK,
            &json!({ "notificationList": list }),
        )),
    }
}

/// GET the channel URL with `Upgrade: websocket` (NC TS 5.2.2.10, RFC
/// 6455 4.2): 101 Switching Protocols, then every notification list of
/// the channel is pushed as a text frame `{"notificationList": [...]}`
/// until the channel goes, another WebSocket takes it, or the client
/// closes. Pushing restarts the channel's lifetime, as a poll does.
///
/// Errors: SVC0004 (404) for no such channel; SVC0002 (400) for a request
/// that is no WebSocket handshake; POL1023 (403) for a LongPolling
/// channel.
pub async fn websocket(
    ctx: &Ctx<'_>,
    id: &str,
    mut request: Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    use hyper::header::{self, HeaderValue};
    own(ctx)?;
    let account = ctx.principal.account();
    let c = ctx
        .channels
        .get(account, id)
        .ok_or_else(|| ctx.not_found())?;
    if c.channel_type != ChannelType::WebSockets {
        return Err(NmsError::unsupported_channel_type(ChannelType::WebSockets));
    }
    let headers = request.headers();
    let has = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec());
    let (Some(key), true, true) = (
        key,
        has(header::UPGRADE, "websocket"),
        has(header::CONNECTION, "upgrade"),
    ) else {
        return Err(NmsError::invalid_input(
            "WebSocket handshake (RFC 6455 4.1)",
        ));
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
    let upgrade = hyper::upgrade::on(&mut request);
    let (channels, id) = (ctx.channels.clone(), id.to_string());
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let role = tokio_tungstenite::tungstenite::protocol::Role::Server;
        let socket = tokio_tungstenite::WebSocketStream::from_raw_socket(io, role, None).await;
        push(socket, channels, account, id).await;
    });
    let mut r = http_front::status(StatusCode::SWITCHING_PROTOCOLS);
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok(r)
}

/// Pushes channel `id`'s notifications over `socket` until either side
/// ends; frames the client sends are read (pings answered by the
/// library) and otherwise ignored.
async fn push<S>(
    socket: tokio_tungstenite::WebSocketStream<S>,
    channels: crate::channels::Channels,
    account: u64,
    id: String,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            next = channels.next(account, &id) => {
                let Some(Ok(list)) = next else {
                    let _ = sink.send(Message::Close(None)).await;
                    return;
                };
                channels.refresh(account, &id, None);
                let text = json!({ "notificationList": list }).to_string();
                if sink.send(Message::text(text)).await.is_err() {
                    return;
                }
            }
            frame = stream.next() => {
                match frame {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}

/// POST the callback URL: a notification server delivers a
/// notification (any JSON body; a `notificationList` is taken apart)
/// into the channel; 204. No credentials: the channel id is the secret.
///
/// Errors: SVC0004 (404) for no such channel; SVC0002 for a body that is
/// not JSON.
pub async fn callback(
    ctx: &crate::service::Anonymous<'_>,
    id: &str,
    request: Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    let bytes = http_front::read_body(request.into_body(), ctx.config.max_json_bytes).await?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|_| NmsError::invalid_input("notification"))?;
    let items = match value.get("notificationList").cloned() {
        Some(Value::Array(items)) => items,
        Some(one) => vec![one],
        None => vec![value],
    };
    for item in items {
        if !ctx.channels.deliver(id, item) {
            return Err(NmsError::not_found(ctx.path));
        }
    }
    Ok(http_front::status(StatusCode::NO_CONTENT))
}
