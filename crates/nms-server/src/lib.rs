//! The RESTful binding of the CPM message store (seed 004): the OMA
//! RESTful Network Message Storage API 1.0
//! (OMA-TS-REST_NetAPI_NMS-V1_0-20140715-C, "the TS") over store-core.
//!
//! Layering, as webdav-server's: the supervisor accepts connections (TLS
//! with ALPN `h2`/`http/1.1`); the `http-front` crate speaks HTTP/1.1 and
//! HTTP/2 on each ([`NmsServer`]); [`service`] authenticates, finds the
//! box and routes by [`route`] to the resource's handler in
//! [`resources`], one module per resource of the TS. The handlers share
//! [`locate`] (what a request names), [`representation`] (store records
//! as NMS objects and folders), [`criteria`] (search), [`upload`] and
//! [`compose`] (object creation), [`json`] and [`error`]; [`types`] are
//! the TS's data types.
//!
//! The base URL is `/nms/v1/{storeName}/{boxId}`: `boxId` is the
//! account's CPM address (`tel%3A%2B15551234567`), its login, or
//! `acr:auth`. The NMS path of a mailbox is `/` and its IMAP name, so one
//! name means one folder in IMAP, WebDAV and NMS (ARCHITECTURE.md).

pub mod channels;
pub mod compose;
pub mod config;
pub mod criteria;
pub mod error;
pub mod json;
pub mod locate;
pub mod notifications;
pub mod representation;
pub mod resources;
pub mod route;
pub mod service;
pub mod types;
pub mod upload;

use std::sync::Arc;

use store_core::Store;

pub use config::{CleartextPolicy, NmsConfig};

/// The NMS front end: [`service::Shared`] (the store, the settings and
/// the notification deliveries) served over HTTP by `http-front`.
pub type NmsServer = http_front::Server<service::Shared>;

/// The front end over `store` with `config`, delivering the stored
/// subscriptions' notifications from now on; with `tls`, its HTTPS
/// listeners offer HTTP/2 and HTTP/1.1 by ALPN.
pub async fn server(
    store: Store,
    config: NmsConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> NmsServer {
    let channels = channels::Channels::default();
    let deliveries = notifications::Deliveries::start(store.clone(), channels.clone()).await;
    let shared = service::Shared {
        store,
        config,
        deliveries,
        channels,
    };
    http_front::Server::new(shared, tls)
}
