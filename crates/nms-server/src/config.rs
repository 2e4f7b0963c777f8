//! Settings of the NMS front end (the `[nms]` section of the
//! configuration file).

use std::time::Duration;

/// When HTTP Basic credentials are accepted over plain HTTP (RFC 7617 4):
/// store-core's one policy for every front end, as `[webdav]` has it.
pub use store_core::password::CleartextPolicy;

/// The front end's settings.
#[derive(Debug, Clone)]
pub struct NmsConfig {
    /// The `storeName` of every URL (`/nms/v1/{storeName}/{boxId}`, TS
    /// 5.2); a request naming another store gets 404.
    pub store_name: String,
    /// Largest JSON request body (search, pathToId, bulk operations,
    /// flags), in bytes. Past it: 413.
    pub max_json_bytes: usize,
    /// Largest object creation body (`multipart/form-data`, TS 6.1.5), in
    /// bytes; the account's quota applies as well. Past it: 413.
    pub max_object_bytes: u64,
    /// Most entries of one list response (TS 5.1.10 `maxEntries`): a
    /// client asking for more gets this many, one asking for none gets
    /// [`NmsConfig::default_entries`].
    pub max_entries: usize,
    /// Entries of a list response whose request gives no `maxEntries`.
    pub default_entries: usize,
    /// Most items of one bulk request (pathToId lists, bulkCreation,
    /// bulkUpdate, bulkDelete, copyToFolder, moveToFolder). Past it:
    /// SVC0002.
    pub max_bulk_items: usize,
    /// Basic credentials over plain HTTP.
    pub cleartext: CleartextPolicy,
    /// Time to send a request's header block; also the window of the
    /// minimum body rate (`http_front::timeouts`).
    pub header_timeout: Duration,
    /// Time a connection may sit with no request and no byte sent.
    pub idle_timeout: Duration,
}

impl Default for NmsConfig {
    fn default() -> Self {
        NmsConfig {
            store_name: "cpm".into(),
            max_json_bytes: 1024 * 1024,
            max_object_bytes: 256 * 1024 * 1024,
            max_entries: 1000,
            default_entries: 100,
            max_bulk_items: 1000,
            cleartext: CleartextPolicy::Loopback,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }
}
