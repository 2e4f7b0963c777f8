//! One request: the URL (TS 5.2), authentication (HTTP Basic, RFC 7617,
//! or a Bearer token, RFC 6750, checked by store-core under its login
//! throttle: `http_front::auth`), the box, and dispatch to the resource's
//! handler in [`crate::resources`].

use http_front::auth::Refusal;
use hyper::header;
use hyper::{Method, Request, Response, StatusCode};
use store_core::{Principal, Store, StoreError};

use http_front::{Body, RequestBody};

use crate::channels::Channels;
use crate::config::NmsConfig;
use crate::error::{from_store, NmsError, NmsResult};
use crate::notifications::Deliveries;
use crate::resources;
use crate::route::{
    encode_segment, ChannelPath, ChannelResource, RequestPath, Resource, Urls, API_VERSION,
};

/// What every request of the server shares.
pub struct Shared {
    /// The store.
    pub store: Store,
    /// The settings.
    pub config: NmsConfig,
    /// The delivery of subscriptions' notifications.
    pub deliveries: Deliveries,
    /// The notification channels.
    pub channels: Channels,
}

/// What an unauthenticated request (a notification server's delivery to
/// a channel's callback URL) may use.
pub struct Anonymous<'a> {
    /// The settings.
    pub config: &'a NmsConfig,
    /// The notification channels.
    pub channels: &'a Channels,
    /// The request path.
    pub path: &'a str,
}

pub use http_front::Connection;

/// An authenticated request's context, handed to every resource handler.
pub struct Ctx<'a> {
    /// The store.
    pub store: &'a Store,
    /// The settings.
    pub config: &'a NmsConfig,
    /// The delivery of subscriptions' notifications.
    pub deliveries: &'a Deliveries,
    /// The notification channels.
    pub channels: &'a Channels,
    /// Who is asking.
    pub principal: Principal,
    /// The box's account when it is not the principal's own (a box shared
    /// with the principal through folder ACLs, RFC 4314): store-core's
    /// `owner` argument.
    pub owner: Option<String>,
    /// The box's URLs.
    pub urls: Urls,
    /// The request path, as sent (the variable of a 404's SVC0004).
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
}

impl<'a> Ctx<'a> {
    /// The context of an authenticated request for `principal` on the box
    /// of `owner` (`None`: its own), whose URLs `urls` make.
    fn new(
        shared: &'a Shared,
        principal: Principal,
        owner: Option<String>,
        urls: Urls,
        path: String,
        request: &Request<RequestBody>,
    ) -> Ctx<'a> {
        Ctx {
            store: &shared.store,
            config: &shared.config,
            deliveries: &shared.deliveries,
            channels: &shared.channels,
            principal,
            owner,
            urls,
            path,
            query: request.uri().query().map(str::to_string),
        }
    }

    /// The answer to a store error of this request ([`from_store`]).
    pub fn store_error(&self, e: StoreError) -> NmsError {
        from_store(e, &self.path)
    }

    /// SVC0004 (404) for this request's path.
    pub fn not_found(&self) -> NmsError {
        NmsError::not_found(&self.path)
    }

    /// The value of query parameter `name`, decoded (`+` is a space, as
    /// in HTML forms); `None` when absent.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| {
                percent_encoding::percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    }
}

impl http_front::Service for Shared {
    const NAME: &'static str = "NMS";

    fn limits(&self) -> http_front::Timeouts {
        http_front::Timeouts {
            header: self.config.header_timeout,
            idle: self.config.idle_timeout,
        }
    }

    async fn handle(
        &self,
        connection: Connection,
        request: Request<RequestBody>,
    ) -> Response<Body> {
        handle(self, &connection, request).await
    }
}

/// Handles one request; never fails (errors become responses).
pub async fn handle(
    shared: &Shared,
    connection: &Connection,
    request: Request<RequestBody>,
) -> Response<Body> {
    dispatch(shared, connection, request)
        .await
        .unwrap_or_else(NmsError::into_response)
}

async fn dispatch(
    shared: &Shared,
    connection: &Connection,
    request: Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    http_front::check_host(&request).map_err(NmsError::invalid_input)?;
    let path = request.uri().path().to_string();
    let scheme = if connection.secure { "https" } else { "http" };
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .unwrap_or("localhost")
        .to_string();
    if let Some(target) = ChannelPath::parse(&path) {
        let target = target?;
        if let ChannelResource::Callback(id) = &target.resource {
            if request.method() != Method::POST {
                return Ok(http_front::method_not_allowed("POST"));
            }
            let anonymous = Anonymous {
                config: &shared.config,
                channels: &shared.channels,
                path: &path,
            };
            return resources::channels::callback(&anonymous, id, request).await;
        }
        let Some(principal) = authenticate(shared, connection, &request).await? else {
            return Ok(http_front::auth::challenge());
        };
        let (principal, owner) =
            box_owner(&shared.store, principal, &target.user_id, &path).await?;
        let urls = Urls {
            base: format!(
                "{scheme}://{host}/notificationchannel/{API_VERSION}/{}/channels",
                target.user_segment
            ),
        };
        let ctx = Ctx::new(shared, principal, owner, urls, path, &request);
        return route_channel(&ctx, target.resource, request).await;
    }
    let target = RequestPath::parse(&path)?;
    if target.store_name != shared.config.store_name {
        return Err(NmsError::not_found(&path));
    }
    let Some(principal) = authenticate(shared, connection, &request).await? else {
        return Ok(http_front::auth::challenge());
    };
    let (principal, owner) = box_owner(&shared.store, principal, &target.box_id, &path).await?;
    let urls = Urls {
        base: format!(
            "{scheme}://{host}/nms/{API_VERSION}/{}/{}",
            encode_segment(&target.store_name),
            target.box_segment
        ),
    };
    let ctx = Ctx::new(shared, principal, owner, urls, path, &request);
    route(&ctx, target.resource, request).await
}

/// Sends the request to its resource's handler; 405 with `Allow` for a
/// method the resource does not take (TS 6.x.y "Method not allowed").
async fn route(
    ctx: &Ctx<'_>,
    resource: Resource,
    request: Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    let method = request.method().clone();
    let not_allowed = |allow: &'static str| Ok(http_front::method_not_allowed(allow));
    match (resource, method) {
        (Resource::Objects, Method::POST) => resources::objects::create(ctx, request).await,
        (Resource::Objects, _) => not_allowed("POST"),
        (Resource::Object(id), Method::GET) => resources::object::get(ctx, id).await,
        (Resource::Object(id), Method::DELETE) => resources::object::delete(ctx, id).await,
        (Resource::Object(_), _) => not_allowed("GET, DELETE"),
        (Resource::Flags(id), Method::GET) => resources::flags::get(ctx, id).await,
        (Resource::Flags(id), Method::PUT) => resources::flags::put(ctx, id, request).await,
        (Resource::Flags(_), _) => not_allowed("GET, PUT"),
        (Resource::Flag(id, flag), Method::GET) => resources::flag::get(ctx, id, &flag).await,
        (Resource::Flag(id, flag), Method::PUT) => resources::flag::put(ctx, id, &flag).await,
        (Resource::Flag(id, flag), Method::DELETE) => resources::flag::delete(ctx, id, &flag).await,
        (Resource::Flag(..), _) => not_allowed("GET, PUT, DELETE"),
        (Resource::Payload(id), Method::GET) => {
            resources::payload::get(ctx, id, &[], &request).await
        }
        (Resource::PayloadPart(id, part), Method::GET) => {
            resources::payload::get(ctx, id, &part, &request).await
        }
        (Resource::Payload(_) | Resource::PayloadPart(..), _) => not_allowed("GET"),
        (Resource::ObjectOperation(op), method) => {
            resources::object_operations::handle(ctx, &op, method, request).await
        }
        (Resource::Folders, Method::POST) => resources::folders::create(ctx, request).await,
        (Resource::Folders, _) => not_allowed("POST"),
        (Resource::Folder(id), Method::GET) => resources::folder::get(ctx, id).await,
        (Resource::Folder(id), Method::DELETE) => resources::folder::delete(ctx, id).await,
        (Resource::Folder(_), _) => not_allowed("GET, DELETE"),
        (Resource::FolderName(id), Method::GET) => resources::folder_name::get(ctx, id).await,
        (Resource::FolderName(id), Method::PUT) => {
            resources::folder_name::put(ctx, id, request).await
        }
        (Resource::FolderName(_), _) => not_allowed("GET, PUT"),
        (Resource::FolderOperation(op), method) => {
            resources::folder_operations::handle(ctx, &op, method, request).await
        }
        (Resource::Subscriptions, Method::POST) => {
            resources::subscriptions::create(ctx, request).await
        }
        (Resource::Subscriptions, Method::GET) => resources::subscriptions::list(ctx).await,
        (Resource::Subscriptions, _) => not_allowed("GET, POST"),
        (Resource::Subscription(id), Method::GET) => resources::subscriptions::get(ctx, &id).await,
        (Resource::Subscription(id), Method::POST) => {
            resources::subscriptions::update(ctx, &id, request).await
        }
        (Resource::Subscription(id), Method::DELETE) => {
            resources::subscriptions::delete(ctx, &id).await
        }
        (Resource::Subscription(_), _) => not_allowed("GET, POST, DELETE"),
    }
}

/// Sends a Notification Channel request to its handler (NC TS 6); 405
/// with `Allow` for a method the resource does not take.
async fn route_channel(
    ctx: &Ctx<'_>,
    resource: ChannelResource,
    request: Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    use resources::channels;
    let method = request.method().clone();
    let not_allowed = |allow: &'static str| Ok(http_front::method_not_allowed(allow));
    match (resource, method) {
        (ChannelResource::Channels, Method::POST) => channels::create(ctx, request).await,
        (ChannelResource::Channels, Method::GET) => channels::list(ctx).await,
        (ChannelResource::Channels, _) => not_allowed("GET, POST"),
        (ChannelResource::Channel(id), Method::GET) => channels::get(ctx, &id).await,
        (ChannelResource::Channel(id), Method::DELETE) => channels::delete(ctx, &id).await,
        (ChannelResource::Channel(_), _) => not_allowed("GET, DELETE"),
        (ChannelResource::Lifetime(id), Method::GET) => channels::lifetime(ctx, &id).await,
        (ChannelResource::Lifetime(id), Method::PUT) => channels::refresh(ctx, &id, request).await,
        (ChannelResource::Lifetime(_), _) => not_allowed("GET, PUT"),
        (ChannelResource::Notifications(id), Method::POST) => channels::poll(ctx, &id).await,
        (ChannelResource::Notifications(id), Method::GET) => {
            channels::websocket(ctx, &id, request).await
        }
        (ChannelResource::Notifications(_), _) => not_allowed("GET, POST"),
        (ChannelResource::Callback(_), _) => not_allowed("POST"),
    }
}

/// The account whose box `box_id` names, as store-core's `owner`: `None`
/// for the principal's own box (its login, its CPM address, or `acr:auth`,
/// TS G.1.2), `Some(login)` for another account's (what the principal may
/// see of it is what its folder ACLs grant). Returned with the principal
/// the request runs as: the authenticated one, or, when it is a trusted
/// network element (`[auth] trusted_elements`) and the box is another
/// account's, that account's principal acting for the element
/// (store-core's [`Store::act_for`], seed 001's remote trusted server;
/// logged at info with both names), whose own box the box then is. An
/// authenticated login not in the setting keeps today's answer: the box
/// shows what the ACLs grant it.
///
/// Errors: SVC0004 (404) for a box of no account.
async fn box_owner(
    store: &Store,
    principal: Principal,
    box_id: &str,
    path: &str,
) -> NmsResult<(Principal, Option<String>)> {
    if box_id == "acr:auth" || box_id == principal.login() {
        return Ok((principal, None));
    }
    let by_address = store
        .account_by_address(box_id)
        .await
        .map_err(|e| from_store(e, path))?;
    let login = match by_address {
        Some(account) => account.login,
        None => match store
            .account(box_id)
            .await
            .map_err(|e| from_store(e, path))?
        {
            Some(account) => account.login,
            None => return Err(NmsError::not_found(path)),
        },
    };
    if login == principal.login() {
        return Ok((principal, None));
    }
    acting_for(store, principal, login, path).await
}
/// The principal of a request's Basic credentials ([`http_front::auth`]);
/// `None` asks for them (401).
///
/// Errors: POL0001 (403) for cleartext credentials the policy refuses;
/// 429 when throttled; 503 with Retry-After when the password checks stay
/// busy; 500 for a store failure.
async fn authenticate(
    shared: &Shared,
    connection: &Connection,
    request: &Request<RequestBody>,
) -> NmsResult<Option<Principal>> {
    let (store, policy) = (&shared.store, shared.config.cleartext);
    let (peer, secure) = (connection.peer, connection.secure);
    let headers = request.headers();
    match http_front::auth::authenticate(store, peer, secure, policy, headers, "nms").await {
        Ok(p) => Ok(p),
        Err(Refusal::Cleartext) => Err(NmsError::policy_error(
            "credentials need HTTPS (RFC 7617 4)",
        )),
        Err(refusal @ Refusal::Throttled { .. }) => Err(NmsError {
            retry_after: refusal.retry_after_seconds(),
            ..NmsError::status(StatusCode::TOO_MANY_REQUESTS, "too many failed logins")
        }),
        Err(refusal @ Refusal::Busy(what)) => Err(NmsError {
            retry_after: refusal.retry_after_seconds(),
            ..NmsError::status(StatusCode::SERVICE_UNAVAILABLE, what)
        }),
        Err(Refusal::Store(e)) => Err(from_store(e, request.uri().path())),
    }
}

/// The principal and owner of a request for the box of account `login`,
/// not the authenticated `principal`'s ([`box_owner`]): a trusted network
/// element acts for that account ([`Store::act_for`], logged); anyone
/// else sees the box through its ACLs.
///
/// Errors: 500 for a store failure.
async fn acting_for(
    store: &Store,
    principal: Principal,
    login: String,
    path: &str,
) -> NmsResult<(Principal, Option<String>)> {
    if !store.is_trusted_element(&principal) {
        return Ok((principal, Some(login)));
    }
    match store.act_for(&principal, &login).await {
        Ok(acting) => {
            tracing::info!(
                element = principal.login(),
                user = acting.login(),
                path,
                "NMS: trusted network element acts for a user"
            );
            Ok((acting, None))
        }
        Err(StoreError::NotTrustedElement) => Ok((principal, Some(login))),
        Err(e) => Err(from_store(e, path)),
    }
}
