//! WebDAV (RFC 4918, class 1 and 2) over store-core, for media tools and
//! file managers (CPM-STOR1 for media objects, seed 000).
//!
//! Layering, as in hyper: the supervisor accepts connections (TLS with
//! ALPN `h2`/`http/1.1`); the `http-front` crate speaks HTTP/1.1 and
//! HTTP/2 on each under the connection time limits ([`WebDavServer`]);
//! [`service`] authenticates and dispatches one request to the handler
//! of its method in [`methods`], one file per method. The
//! handlers share [`path`] (URL to store names), [`resource`] (what a path
//! names in the store), [`properties`], [`conditions`] (the `If` header,
//! ETag preconditions and lock enforcement) and [`xml`].
//!
//! The namespace is `/dav/{account}/{folder path}/{resource}`: the folders
//! IMAP shows, and in them one resource per object, named by its file name
//! or `{UID}.eml` (README, "WebDAV").

pub mod conditions;
pub mod config;
pub mod error;
pub mod media;
pub mod methods;
pub mod path;
pub mod privileges;
pub mod properties;
pub mod resource;
pub mod service;
pub mod tree;
pub mod xml;

use std::sync::Arc;

use store_core::Store;

pub use config::{CleartextPolicy, WebDavConfig};

/// The WebDAV front end: [`service::Shared`] (the store and the settings)
/// served over HTTP by `http-front`.
pub type WebDavServer = http_front::Server<service::Shared>;

/// The front end over `store` with `config`; with `tls`, its HTTPS
/// listeners offer HTTP/2 and HTTP/1.1 by ALPN.
pub fn server(
    store: Store,
    config: WebDavConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> WebDavServer {
    http_front::Server::new(service::Shared { store, config }, tls)
}
