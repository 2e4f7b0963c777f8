//! Settings of the WebDAV front end (the `[webdav]` section of the
//! configuration file).

use std::time::Duration;

/// When HTTP Basic credentials are accepted over plain HTTP (RFC 7617 4:
/// Basic sends the password in clear, so TLS is expected): store-core's
/// one policy type for every front end.
pub use store_core::password::CleartextPolicy;

/// The front end's settings.
#[derive(Debug, Clone)]
pub struct WebDavConfig {
    /// Largest PUT body, in bytes. Past it: 413.
    pub max_put_bytes: u64,
    /// Largest XML request body (PROPFIND, PROPPATCH, LOCK), in bytes.
    /// Past it: 413.
    pub max_xml_bytes: usize,
    /// Deepest XML element nesting accepted. Past it: 400.
    pub max_xml_depth: usize,
    /// Most attributes on one XML element, namespace declarations
    /// included, and most namespace bindings in scope at once. Past it:
    /// 400.
    pub max_xml_attributes: usize,
    /// Basic credentials over plain HTTP.
    pub cleartext: CleartextPolicy,
    /// Time to send a request's header block (from connecting, for the
    /// first request); also the window of the minimum body rate
    /// (`http_front::timeouts`).
    pub header_timeout: Duration,
    /// Time a connection may sit with no request and no byte sent.
    pub idle_timeout: Duration,
}

impl Default for WebDavConfig {
    fn default() -> Self {
        WebDavConfig {
            max_put_bytes: 1024 * 1024 * 1024,
            max_xml_bytes: 1024 * 1024,
            max_xml_depth: 32,
            max_xml_attributes: 64,
            cleartext: CleartextPolicy::Loopback,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }
}
