//! The one TOML configuration file (`config/cpm-store.toml` documents every
//! setting with its default). Unknown keys and bad values are refused at
//! start with the key and the line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[store]`
    pub store: StoreSection,
    /// `[imap]`
    pub imap: ImapSection,
    /// `[webdav]`
    pub webdav: WebDavSection,
    /// `[nms]`
    pub nms: NmsSection,
    /// `[sip]`
    pub sip: SipSection,
    /// `[admin]`
    pub admin: AdminSection,
    /// `[tls]`
    pub tls: TlsSection,
    /// `[log]`
    pub log: LogSection,
    /// `[server]`
    pub server: ServerSection,
    /// `[auth]`
    pub auth: AuthSection,
    /// `[retention]`
    pub retention: RetentionSection,
    /// `[blobs]`
    pub blobs: BlobsSection,
}

/// `[blobs]`: where installed blobs (message and media contents) live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackendSetting {
    /// Files under `<data_dir>/blobs/` (the default).
    #[default]
    Files,
    /// An S3-compatible object store (issue 20; `s3_*` settings).
    S3,
}

/// `[blobs]`: the blob backend. With `backend = "s3"` every installed blob
/// is an object `blobs/ab/<sha256>` of `s3_bucket`; uploads are still
/// staged under `<data_dir>/tmp/`. Credentials not set here come from the
/// standard AWS environment variables (`AWS_ACCESS_KEY_ID`, ...).
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlobsSection {
    /// `"files"` or `"s3"`.
    pub backend: BlobBackendSetting,
    /// The endpoint URL; unset: AWS's for the region (or `AWS_ENDPOINT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// The bucket (it must exist); required with `backend = "s3"`.
    pub s3_bucket: String,
    /// The region; unset: `AWS_REGION`, else `us-east-1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_region: Option<String>,
    /// The access key id; unset: `AWS_ACCESS_KEY_ID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_access_key_id: Option<String>,
    /// The secret access key; unset: `AWS_SECRET_ACCESS_KEY`. Serialized
    /// (`cpm-store check`) redacted.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_redacted_secret"
    )]
    pub s3_secret_access_key: Option<String>,
    /// Allow a plain `http://` endpoint (a loopback test server only).
    pub s3_allow_http: bool,
}

impl std::fmt::Debug for BlobsSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobsSection")
            .field("backend", &self.backend)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_region", &self.s3_region)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field(
                "s3_secret_access_key",
                &self
                    .s3_secret_access_key
                    .as_ref()
                    .map(|_| store_core::password::REDACTED),
            )
            .field("s3_allow_http", &self.s3_allow_http)
            .finish()
    }
}

/// A secret setting, serialized (`cpm-store check`) as
/// [`store_core::password::REDACTED`].
fn serialize_redacted_secret<S: serde::Serializer>(
    secret: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_str(store_core::password::REDACTED),
        None => s.serialize_none(),
    }
}

impl BlobsSection {
    /// The store's blob backend for these settings.
    ///
    /// Errors: `backend = "s3"` without `s3_bucket`.
    pub fn backend(&self) -> Result<store_core::blob::BlobBackend, String> {
        match self.backend {
            BlobBackendSetting::Files => Ok(store_core::blob::BlobBackend::Files),
            BlobBackendSetting::S3 if self.s3_bucket.is_empty() => {
                Err("[blobs] backend = \"s3\" needs s3_bucket".into())
            }
            BlobBackendSetting::S3 => Ok(store_core::blob::BlobBackend::S3(
                store_core::blob::S3Config {
                    endpoint: self.s3_endpoint.clone(),
                    bucket: self.s3_bucket.clone(),
                    region: self.s3_region.clone(),
                    access_key_id: self.s3_access_key_id.clone(),
                    secret_access_key: self.s3_secret_access_key.clone(),
                    allow_http: self.s3_allow_http,
                },
            )),
        }
    }
}

/// `[retention]`: the service provider's retention policy (seed 000:
/// history is kept "based on user preferences and service provider
/// policies"; this is the service provider's part). Each rule expunges,
/// in every account, the objects older than its maximum age (by
/// INTERNALDATE: when stored) of the folders and kind it names, as an
/// IMAP EXPUNGE would (store_core::Store::apply_retention).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSection {
    /// Seconds between two runs of the rules (the first run comes one
    /// interval after start). Default 3600.
    pub interval_seconds: u64,
    /// `[[retention.rule]]`: none by default (everything is kept).
    pub rule: Vec<RetentionRuleSetting>,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection {
            interval_seconds: 3600,
            rule: Vec::new(),
        }
    }
}

/// `[[retention.rule]]`: a folder pattern and/or an object kind, and the
/// maximum age.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRuleSetting {
    /// A name for the log; default `rule N` (N from 1, in file order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Folder names, as an IMAP LIST pattern (`*` any characters, `%` any
    /// but the delimiter `/`): `Default/*`, `INBOX`, `*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folders: Option<String>,
    /// The object kind (store_core::model::ObjectKind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ObjectKindSetting>,
    /// Objects older than this many days (by INTERNALDATE) are expunged;
    /// at least 1.
    pub max_age_days: u64,
}

/// An object kind as settings name it (store_core::model::ObjectKind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKindSetting {
    /// A standalone CPM message or a chat message.
    CpmMessage,
    /// A CPM session history.
    SessionHistory,
    /// A CPM file transfer history.
    FileTransferHistory,
    /// A media object (a WebDAV file, a transferred file).
    MediaObject,
    /// A legacy SMS or MMS.
    LegacyMessage,
    /// An RCS group state object.
    GroupStateObject,
}

impl From<ObjectKindSetting> for store_core::model::ObjectKind {
    fn from(k: ObjectKindSetting) -> Self {
        use store_core::model::ObjectKind as K;
        match k {
            ObjectKindSetting::CpmMessage => K::CpmMessage,
            ObjectKindSetting::SessionHistory => K::SessionHistory,
            ObjectKindSetting::FileTransferHistory => K::FileTransferHistory,
            ObjectKindSetting::MediaObject => K::MediaObject,
            ObjectKindSetting::LegacyMessage => K::LegacyMessage,
            ObjectKindSetting::GroupStateObject => K::GroupStateObject,
        }
    }
}

impl RetentionSection {
    /// The rules in store-core's terms, named `rule N` when unnamed.
    pub fn rules(&self) -> Vec<store_core::RetentionRule> {
        self.rule
            .iter()
            .enumerate()
            .map(|(i, r)| store_core::RetentionRule {
                name: r.name.clone().unwrap_or_else(|| format!("rule {}", i + 1)),
                folders: r.folders.clone(),
                kind: r.kind.map(Into::into),
                max_age_seconds: r.max_age_days.saturating_mul(86_400),
            })
            .collect()
    }
}

/// `[store]`: where the embedded engine keeps its files.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// Directory of `store.redb`, `blobs/`, `tmp/` and generated TLS files.
    pub data_dir: PathBuf,
    /// Most bytes of cached previews (`?preview=WxH`, IMAP CONVERT) under
    /// `previews/`; the least recently used are evicted past it, and 0
    /// caches none. Default 256 MiB.
    pub preview_cache_bytes: u64,
    /// Days the change history (account change feed, expunge tombstones)
    /// is kept before it is pruned; 0 keeps only what open sessions have
    /// not seen. A client synchronizing from further back gets a full
    /// resynchronization (RFC 7162 3.2.5.2 VANISHED (EARLIER), RFC 6578
    /// 3.2 valid-sync-token). Default 30.
    pub change_retention_days: u64,
    /// Most expunge tombstones a folder keeps, whatever their age; the
    /// oldest are pruned past it. Default 100000.
    pub max_tombstones_per_folder: u64,
    /// Seconds between two prune passes of the writer at most. Default 60.
    pub prune_interval_seconds: u64,
    /// The metadata engine: `redb` (embedded, `store.redb` in `data_dir`;
    /// the default) or `postgres` (a PostgreSQL database at
    /// `postgres_url`; blobs stay in `data_dir`).
    pub engine: StoreEngine,
    /// With `engine = "postgres"`: a libpq connection string, a URL
    /// (`postgresql://user@host:5432/database`) or `key=value` pairs. The
    /// password comes from the URL or, when it has none, the environment
    /// variable `PGPASSWORD`. TLS as libpq's `sslmode` and `sslrootcert`
    /// say (`disable`; `prefer`, the default, and `require` encrypt
    /// without checking the certificate unless `sslrootcert` is given;
    /// `verify-ca` and `verify-full` check it against `sslrootcert` or the
    /// system's roots, and the host name). Shown by `cpm-store check` with
    /// its password redacted. Default empty.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub postgres_url: String,
    /// Most connections to PostgreSQL (each open read holds one while it
    /// runs, the writer one). At least 2. Default 16.
    pub postgres_pool_size: usize,
    /// Seconds a PostgreSQL statement may run (`statement_timeout`), a
    /// connection take to open, or a request wait for a pooled connection;
    /// past it the request fails as unavailable. Default 30.
    pub postgres_timeout_seconds: u64,
}

/// `[store] engine`: which engine keeps the store's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreEngine {
    /// redb, embedded: one file in `data_dir`, one process at a time.
    #[default]
    Redb,
    /// PostgreSQL through a connection pool (`postgres_url`).
    Postgres,
}

/// `[store] postgres_url` as `cpm-store check` prints it: the password
/// redacted.
fn serialize_redacted_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&store_core::engine::redact_url(url))
}

impl StoreSection {
    /// The PostgreSQL engine's settings (`postgres_url`,
    /// `postgres_pool_size`, `postgres_timeout_seconds`).
    pub fn postgres(&self) -> store_core::engine::PostgresSettings {
        store_core::engine::PostgresSettings {
            url: self.postgres_url.clone(),
            pool_size: self.postgres_pool_size,
            timeout: std::time::Duration::from_secs(self.postgres_timeout_seconds),
        }
    }

    /// The store's change history retention from these settings.
    pub fn retention(&self) -> store_core::ChangeRetention {
        store_core::ChangeRetention {
            window: std::time::Duration::from_secs(
                self.change_retention_days.saturating_mul(86_400),
            ),
            max_tombstones_per_folder: self.max_tombstones_per_folder,
            interval: std::time::Duration::from_secs(self.prune_interval_seconds),
        }
    }
}

/// `[imap]`: IMAP4rev1 listeners and limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImapSection {
    /// Plain listeners (STARTTLS offered).
    pub listen: Vec<SocketAddr>,
    /// Implicit-TLS listeners.
    pub listen_tls: Vec<SocketAddr>,
    /// Cleartext LOGIN / AUTHENTICATE PLAIN without TLS.
    pub cleartext_auth: CleartextPolicy,
    /// Longest command in bytes, inline literals included (APPEND
    /// messages excluded).
    pub max_command_bytes: usize,
    /// Largest APPEND message in bytes (advertised as APPENDLIMIT).
    pub max_append_bytes: u64,
    /// Deepest nesting of parenthesized search criteria.
    pub max_nesting: usize,
    /// Simultaneous authenticated connections per account.
    pub max_connections_per_account: usize,
    /// Deprecated: `[auth] login_failures_before_throttle`, which this
    /// overrides when set (with a warning at start).
    pub login_failures_before_delay: Option<u32>,
    /// Consecutive BAD commands before the connection is closed.
    pub max_bad_commands: u32,
    /// Inactivity autologout in minutes (at least 30, RFC 3501 5.4).
    pub autologout_minutes: u64,
    /// Seconds a connection has from its greeting to log in; then `* BYE`.
    pub preauth_timeout_seconds: u64,
    /// Seconds between keepalives during IDLE.
    pub idle_keepalive_seconds: u64,
    /// Logins allowed to set quotas over IMAP (RFC 9208 SETQUOTA).
    pub quota_admins: Vec<String>,
}

/// `[imap] cleartext_auth` and its WebDAV twin: store-core's one policy
/// type (`never`, `loopback`, `always`).
pub use store_core::password::CleartextPolicy;

/// `[webdav]`: WebDAV listeners.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebDavSection {
    /// Plain HTTP listeners.
    pub listen: Vec<SocketAddr>,
    /// HTTPS listeners (HTTP/2 and HTTP/1.1 by ALPN).
    pub listen_tls: Vec<SocketAddr>,
    /// Basic credentials over plain HTTP (as `[imap] cleartext_auth`).
    pub cleartext_auth: CleartextPolicy,
    /// Largest PUT body in bytes (413 past it).
    pub max_put_bytes: u64,
    /// Largest XML request body in bytes (413 past it).
    pub max_xml_bytes: usize,
    /// Deepest XML nesting (400 past it).
    pub max_xml_depth: usize,
    /// Most attributes on one XML element, namespace declarations
    /// included, and most namespace bindings in scope (400 past it).
    pub max_xml_attributes: usize,
    /// Seconds to send a request's header block (from connecting for the
    /// first request); also the window of the minimum request body rate.
    pub header_timeout_seconds: u64,
    /// Seconds a connection may sit idle between requests.
    pub idle_timeout_seconds: u64,
    /// macOS metadata files (`._*` AppleDouble, `.DS_Store`): `hide`
    /// (stored, left out of IMAP), `refuse` (403 on PUT) or `store`
    /// (shown everywhere).
    pub macos_metadata: MacosMetadataSetting,
}

/// `[nms]`: the OMA RESTful Network Message Storage listeners (seed 004).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NmsSection {
    /// Plain HTTP listeners.
    pub listen: Vec<SocketAddr>,
    /// HTTPS listeners (HTTP/2 and HTTP/1.1 by ALPN).
    pub listen_tls: Vec<SocketAddr>,
    /// The `storeName` of every URL: `/nms/v1/{store_name}/{boxId}`.
    pub store_name: String,
    /// Basic credentials over plain HTTP (as `[imap] cleartext_auth`).
    pub cleartext_auth: CleartextPolicy,
    /// Largest JSON request body in bytes (413 past it).
    pub max_json_bytes: usize,
    /// Largest object creation body in bytes (413 past it).
    pub max_object_bytes: u64,
    /// Most entries of one list response (`maxEntries` is capped to it).
    pub max_entries: usize,
    /// Entries of a list response that gives no `maxEntries`.
    pub default_entries: usize,
    /// Most items of one bulk request (SVC0002 past it).
    pub max_bulk_items: usize,
    /// Seconds to send a request's header block; also the window of the
    /// minimum request body rate.
    pub header_timeout_seconds: u64,
    /// Seconds a connection may sit idle between requests.
    pub idle_timeout_seconds: u64,
}

/// `[webdav] macos_metadata` (store_core::macos::MacosMetadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MacosMetadataSetting {
    /// Stored, readable over WebDAV, hidden from IMAP (the default).
    Hide,
    /// Refused with 403 when written over WebDAV.
    Refuse,
    /// Stored and shown over IMAP like any file.
    Store,
}

impl From<MacosMetadataSetting> for store_core::macos::MacosMetadata {
    fn from(s: MacosMetadataSetting) -> Self {
        match s {
            MacosMetadataSetting::Hide => store_core::macos::MacosMetadata::Hide,
            MacosMetadataSetting::Refuse => store_core::macos::MacosMetadata::Refuse,
            MacosMetadataSetting::Store => store_core::macos::MacosMetadata::Store,
        }
    }
}

/// `[sip]`: SIP user agent transports and trust.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSection {
    /// UDP sockets.
    pub listen_udp: Vec<SocketAddr>,
    /// TCP listeners.
    pub listen_tcp: Vec<SocketAddr>,
    /// TLS listeners.
    pub listen_tls: Vec<SocketAddr>,
    /// Network elements allowed to deposit: addresses or CIDR networks.
    pub trusted_peers: Vec<String>,
    /// Digest realm for elements outside `trusted_peers`.
    pub digest_realm: String,
    /// Elements that may authenticate with digest (none = untrusted
    /// peers get 403).
    pub digest: Vec<DigestEntry>,
    /// Largest message on a stream, in bytes (513 past it).
    pub max_message_bytes: usize,
    /// Longest subscription granted, in seconds (also the duration of a
    /// SUBSCRIBE without Expires).
    pub max_subscription_seconds: u64,
    /// Shortest subscription accepted, in seconds (423 below it).
    pub min_subscription_seconds: u64,
    /// Most subscriptions at once (503 past it).
    pub max_subscriptions: usize,
    /// Most server transactions of `trusted_peers` at once (503 past it).
    pub max_transactions: usize,
    /// Most server transactions at once of peers outside `trusted_peers`
    /// that present digest credentials (their other requests are answered
    /// statelessly); 503 past it.
    pub max_untrusted_transactions: usize,
    /// Messages per second one source outside `trusted_peers` may send on
    /// average (IPv6: per /64); 0 = no limit. Past it, datagrams are
    /// dropped and TCP/TLS requests get 503 with Retry-After.
    pub untrusted_requests_per_second: u32,
    /// Burst above that average (token bucket size), in messages.
    pub untrusted_request_burst: u32,
    /// Seconds a TCP/TLS peer has to send one whole message (from its
    /// first byte, or from the connection's start); closed past it.
    pub message_timeout_seconds: u64,
    /// Seconds a TCP/TLS connection may stay silent between messages.
    pub idle_timeout_seconds: u64,
    /// Most TCP connections the store itself opens at once (to send a
    /// referenced object or a NOTIFY); 503 past it.
    pub max_outbound_connections: usize,
    /// Most of those to one IP address at once; 503 past it.
    pub max_outbound_connections_per_destination: usize,
    /// Bytes held in memory at once for referenced objects being sent
    /// (each counts twice: the object and the message carrying it); 503
    /// with Retry-After past it.
    pub max_outbound_object_bytes_in_flight: usize,
    /// Where deposited conversations are filed, and whether the RCS
    /// `Default` tree is reserved to network elements
    /// (store_core::conversation::FolderLayout).
    pub folder_layout: FolderLayoutSetting,
}

/// `[sip] folder_layout` (store_core::conversation::FolderLayout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FolderLayoutSetting {
    /// Conversation folders at the top level (the default).
    Cpm,
    /// The GSMA RCS Common Message Store layout under `Default`, written
    /// only by trusted network elements.
    Rcs,
}

impl From<FolderLayoutSetting> for store_core::conversation::FolderLayout {
    fn from(s: FolderLayoutSetting) -> Self {
        match s {
            FolderLayoutSetting::Cpm => store_core::conversation::FolderLayout::Cpm,
            FolderLayoutSetting::Rcs => store_core::conversation::FolderLayout::Rcs,
        }
    }
}

/// `[[sip.digest]]`: one network element's digest credentials, as HA1
/// values (`H(username:realm:password)`, lowercase hex), never a password.
/// Serialized (`cpm-store check`) with the HA1 values redacted.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestEntry {
    /// The digest username.
    pub username: String,
    /// HA1 with SHA-256.
    pub ha1_sha256: Option<String>,
    /// HA1 with MD5 (older elements).
    pub ha1_md5: Option<String>,
}

impl Serialize for DigestEntry {
    /// The username; the HA1 values (password equivalents) redacted.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let redacted = store_core::password::REDACTED;
        let mut s = serializer.serialize_struct("DigestEntry", 3)?;
        s.serialize_field("username", &self.username)?;
        if self.ha1_sha256.is_some() {
            s.serialize_field("ha1_sha256", redacted)?;
        }
        if self.ha1_md5.is_some() {
            s.serialize_field("ha1_md5", redacted)?;
        }
        s.end()
    }
}

impl std::fmt::Debug for DigestEntry {
    /// The username; the HA1 values (password equivalents) redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |h: &Option<String>| h.as_ref().map(|_| store_core::password::REDACTED);
        f.debug_struct("DigestEntry")
            .field("username", &self.username)
            .field("ha1_sha256", &redacted(&self.ha1_sha256))
            .field("ha1_md5", &redacted(&self.ha1_md5))
            .finish()
    }
}

/// `[admin]`: the local administration endpoint (`/healthz`, `/metrics`,
/// and the account commands of `cpm-store account`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Listeners; keep them on loopback.
    pub listen: Vec<SocketAddr>,
}

/// `[tls]`: certificate for every TLS listener.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// PEM certificate chain; unset = a self-signed one in the data dir.
    pub cert: Option<PathBuf>,
    /// PEM private key; set together with `cert`.
    pub key: Option<PathBuf>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter (`info`, `cpm_store=debug,info`, ...); RUST_LOG wins.
    pub level: String,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_grace_seconds: u64,
    /// Connections open at once over every IMAP, WebDAV and SIP stream
    /// listener together; past it a new one is refused (IMAP `* BYE`,
    /// HTTP 503, SIP closed). Clamped at start to what the descriptor
    /// limit allows (logged).
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 /64);
    /// refused the same way past it.
    pub max_connections_per_ip: usize,
}

/// `[auth]`: the login throttle every protocol shares (IMAP LOGIN and
/// AUTHENTICATE, WebDAV Basic, SIP digest) and the bound on concurrent
/// Argon2 password checks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// Failed logins of one address (IPv6: its /64) or one login name
    /// before each further attempt waits one more second.
    pub login_failures_before_throttle: u32,
    /// Longest wait between two attempts of a throttled address or login,
    /// in seconds.
    pub login_throttle_max_seconds: u64,
    /// Seconds after its last failure that an address or login is
    /// forgotten (its failures start again from zero).
    pub login_failure_window_seconds: u64,
    /// Most addresses and logins the throttle remembers (about 100 bytes
    /// each; the oldest are dropped past it).
    pub login_throttle_entries: usize,
    /// Argon2 password checks running at once (each holds 19 MiB).
    pub max_concurrent_password_checks: usize,
    /// Seconds a login waits for a password-check slot before a temporary
    /// failure (IMAP NO [UNAVAILABLE], HTTP 503).
    pub password_check_wait_seconds: u64,
    /// Logins of the accounts remote trusted network elements use: having
    /// authenticated as themselves, they act for a user (IMAP
    /// AUTHENTICATE PLAIN with an authorization identity, an NMS request
    /// for another account's box); store_core::StoreConfig::trusted_elements.
    pub trusted_elements: Vec<String>,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            login_failures_before_throttle: 3,
            login_throttle_max_seconds: 15,
            login_failure_window_seconds: 900,
            login_throttle_entries: 100_000,
            max_concurrent_password_checks: 2,
            password_check_wait_seconds: 10,
            trusted_elements: Vec::new(),
        }
    }
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().filter_map(|a| a.parse().ok()).collect()
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            data_dir: PathBuf::from("./data"),
            preview_cache_bytes: store_core::DEFAULT_PREVIEW_CACHE_BYTES,
            change_retention_days: 30,
            max_tombstones_per_folder: 100_000,
            prune_interval_seconds: 60,
            engine: StoreEngine::Redb,
            postgres_url: String::new(),
            postgres_pool_size: 16,
            postgres_timeout_seconds: 30,
        }
    }
}

impl Default for ImapSection {
    fn default() -> Self {
        ImapSection {
            listen: addrs(&["127.0.0.1:1143"]),
            listen_tls: addrs(&["127.0.0.1:1993"]),
            cleartext_auth: CleartextPolicy::Loopback,
            max_command_bytes: 262_144,
            max_append_bytes: 1_073_741_824,
            max_nesting: 32,
            max_connections_per_account: 20,
            login_failures_before_delay: None,
            max_bad_commands: 20,
            autologout_minutes: 30,
            preauth_timeout_seconds: 60,
            idle_keepalive_seconds: 120,
            quota_admins: Vec::new(),
        }
    }
}

impl Default for WebDavSection {
    fn default() -> Self {
        WebDavSection {
            listen: addrs(&["127.0.0.1:8080"]),
            listen_tls: addrs(&["127.0.0.1:8443"]),
            cleartext_auth: CleartextPolicy::Loopback,
            max_put_bytes: 1024 * 1024 * 1024,
            max_xml_bytes: 1024 * 1024,
            max_xml_depth: 32,
            max_xml_attributes: 64,
            header_timeout_seconds: 30,
            idle_timeout_seconds: 60,
            macos_metadata: MacosMetadataSetting::Hide,
        }
    }
}

impl Default for NmsSection {
    fn default() -> Self {
        NmsSection {
            listen: addrs(&["127.0.0.1:8081"]),
            listen_tls: addrs(&["127.0.0.1:8444"]),
            store_name: "cpm".into(),
            cleartext_auth: CleartextPolicy::Loopback,
            max_json_bytes: 1024 * 1024,
            max_object_bytes: 256 * 1024 * 1024,
            max_entries: 1000,
            default_entries: 100,
            max_bulk_items: 1000,
            header_timeout_seconds: 30,
            idle_timeout_seconds: 60,
        }
    }
}

impl Default for SipSection {
    fn default() -> Self {
        SipSection {
            listen_udp: addrs(&["127.0.0.1:5060"]),
            listen_tcp: addrs(&["127.0.0.1:5060"]),
            listen_tls: addrs(&["127.0.0.1:5061"]),
            trusted_peers: vec!["127.0.0.1/32".into(), "::1/128".into()],
            digest_realm: "cpm-store".into(),
            digest: Vec::new(),
            max_message_bytes: 1024 * 1024,
            max_subscription_seconds: 3600,
            min_subscription_seconds: 60,
            max_subscriptions: 10_000,
            max_transactions: 100_000,
            max_untrusted_transactions: 10_000,
            untrusted_requests_per_second: 50,
            untrusted_request_burst: 200,
            message_timeout_seconds: 30,
            idle_timeout_seconds: 120,
            max_outbound_connections: 256,
            max_outbound_connections_per_destination: 8,
            max_outbound_object_bytes_in_flight: 256 * 1024 * 1024,
            folder_layout: FolderLayoutSetting::Cpm,
        }
    }
}

impl Default for AdminSection {
    fn default() -> Self {
        AdminSection {
            listen: addrs(&["127.0.0.1:8099"]),
        }
    }
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            shutdown_grace_seconds: 10,
            max_connections: 10_000,
            max_connections_per_ip: 256,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A syntax error, unknown key or bad value; the message names the key
    /// and the line.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// toml's message with line, column and key.
        message: String,
    },
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.into(),
            message,
        })
    }

    /// Parses configuration text; the error names the key and line.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        if config.tls.cert.is_some() != config.tls.key.is_some() {
            return Err("[tls] cert and key must be set together".into());
        }
        if config.imap.autologout_minutes < 30 {
            return Err("[imap] autologout_minutes must be at least 30 (RFC 3501 5.4)".into());
        }
        if config.imap.idle_keepalive_seconds == 0 {
            return Err("[imap] idle_keepalive_seconds must be positive".into());
        }
        if config.imap.preauth_timeout_seconds == 0
            || config.webdav.header_timeout_seconds == 0
            || config.webdav.idle_timeout_seconds == 0
            || config.nms.header_timeout_seconds == 0
            || config.nms.idle_timeout_seconds == 0
        {
            return Err(
                "[imap] preauth_timeout_seconds, [webdav] and [nms] header_timeout_seconds \
                 and idle_timeout_seconds must be positive"
                    .into(),
            );
        }
        if config.nms.max_entries == 0
            || config.nms.default_entries == 0
            || config.nms.max_bulk_items == 0
        {
            return Err(
                "[nms] max_entries, default_entries and max_bulk_items must be positive".into(),
            );
        }
        if config.nms.store_name.is_empty() || config.nms.store_name.contains(['/', '?', '#', '%'])
        {
            return Err("[nms] store_name must be a non-empty URL path segment".into());
        }
        check_log_level(&config.log.level)?;
        config.blobs.backend()?;
        if config.server.max_connections == 0 || config.server.max_connections_per_ip == 0 {
            return Err(
                "[server] max_connections and max_connections_per_ip must be positive".into(),
            );
        }
        let a = &config.auth;
        if a.login_throttle_max_seconds == 0
            || a.login_failure_window_seconds == 0
            || a.login_throttle_entries == 0
            || a.max_concurrent_password_checks == 0
            || a.password_check_wait_seconds == 0
        {
            return Err(
                "[auth] every setting but login_failures_before_throttle must be positive".into(),
            );
        }
        for d in &config.sip.digest {
            let hex_of = |v: &Option<String>, len: usize| {
                v.as_ref()
                    .is_none_or(|h| h.len() == len && h.bytes().all(|b| b.is_ascii_hexdigit()))
            };
            if !hex_of(&d.ha1_sha256, 64) || !hex_of(&d.ha1_md5, 32) {
                return Err(format!(
                    "[[sip.digest]] {:?}: ha1_sha256 is 64 hex digits, ha1_md5 32",
                    d.username
                ));
            }
        }
        for peer in &config.sip.trusted_peers {
            if !is_address_or_network(peer) {
                return Err(format!(
                    "[sip] trusted_peers: {peer:?} is not an address or network"
                ));
            }
        }
        if config.store.prune_interval_seconds == 0 {
            return Err("[store] prune_interval_seconds must be positive".into());
        }
        if config.store.engine == StoreEngine::Postgres
            && config.store.postgres_url.trim().is_empty()
        {
            return Err("[store] engine = \"postgres\" needs postgres_url".into());
        }
        if config.store.postgres_pool_size < 2 || config.store.postgres_timeout_seconds == 0 {
            return Err(
                "[store] postgres_pool_size must be at least 2 and postgres_timeout_seconds positive"
                    .into(),
            );
        }
        if config.retention.interval_seconds == 0 {
            return Err("[retention] interval_seconds must be positive".into());
        }
        for (i, rule) in config.retention.rule.iter().enumerate() {
            let n = i + 1;
            if rule.max_age_days == 0 {
                return Err(format!(
                    "[[retention.rule]] number {n}: max_age_days must be at least 1"
                ));
            }
            if rule.folders.is_none() && rule.kind.is_none() {
                return Err(format!(
                    "[[retention.rule]] number {n}: give folders, kind or both"
                ));
            }
            if rule.folders.as_deref().is_some_and(str::is_empty) {
                return Err(format!(
                    "[[retention.rule]] number {n}: folders is an empty pattern"
                ));
            }
        }
        if config.sip.message_timeout_seconds == 0 || config.sip.idle_timeout_seconds == 0 {
            return Err(
                "[sip] message_timeout_seconds and idle_timeout_seconds must be positive".into(),
            );
        }
        Ok(config)
    }
}

/// Whether `s` is an IP address or a CIDR network (`10.0.0.0/8`,
/// `2001:db8::/32`), with a prefix length that fits its family.
fn is_address_or_network(s: &str) -> bool {
    s.parse::<ipnet::IpNet>().is_ok() || s.parse::<std::net::IpAddr>().is_ok()
}

/// Checks `[log] level`: comma-separated directives, each a level
/// (`trace`, `debug`, `info`, `warn`, `error`, `off`) or `target=level`
/// (tracing-subscriber's `EnvFilter` syntax). A bare word that is no
/// level would be read as a target and silence everything else, so it is
/// refused.
///
/// Errors: the directive that is wrong.
fn check_log_level(level: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let is_level = |l: &str| LEVELS.iter().any(|k| k.eq_ignore_ascii_case(l.trim()));
    for directive in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let ok = match directive.rsplit_once('=') {
            Some((target, l)) => !target.trim().is_empty() && is_level(l),
            None => is_level(directive),
        };
        if !ok {
            return Err(format!(
                "[log] level: {directive:?} is not a level (trace, debug, info, warn, error, off) \
                 or target=level"
            ));
        }
    }
    if tracing_subscriber::EnvFilter::try_new(level).is_err() {
        return Err(format!("[log] level: {level:?} is not a tracing filter"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_are_levels_or_target_levels() {
        for good in [
            "info",
            "warn",
            "cpm_store=debug,info",
            "OFF",
            "a::b=trace,error",
        ] {
            assert!(check_log_level(good).is_ok(), "{good}");
        }
        for bad in ["loud", "info,loud", "cpm_store=loud", "=info"] {
            assert!(check_log_level(bad).is_err(), "{bad}");
        }
        let err = Config::parse("[log]\nlevel = \"loud\"\n").unwrap_err();
        assert!(err.contains("loud"), "{err}");
    }

    #[test]
    fn blobs_settings_are_checked_and_the_secret_never_printed() {
        let e = Config::parse("[blobs]\nbackend = \"s3\"\n").unwrap_err();
        assert!(e.contains("s3_bucket"), "{e}");
        assert!(Config::parse("[blobs]\nbackend = \"tape\"\n").is_err());
        let c = Config::parse(
            "[blobs]\nbackend = \"s3\"\ns3_bucket = \"b\"\ns3_secret_access_key = \"hush\"\n",
        )
        .unwrap();
        assert!(matches!(
            c.blobs.backend(),
            Ok(store_core::blob::BlobBackend::S3(ref s3)) if s3.bucket == "b"
        ));
        let printed = toml::to_string(&c).unwrap();
        assert!(!printed.contains("hush"), "{printed}");
        assert!(!format!("{c:?}").contains("hush"));
    }

    #[test]
    fn the_documented_file_is_the_default() {
        let text = include_str!("../../../config/cpm-store.toml");
        let c = Config::parse(text).unwrap();
        let d = Config::default();
        assert_eq!(c.store.data_dir, d.store.data_dir);
        assert_eq!(c.store.preview_cache_bytes, d.store.preview_cache_bytes);
        assert_eq!(c.store.retention(), d.store.retention());
        assert_eq!(format!("{:?}", c.imap), format!("{:?}", d.imap));
        assert_eq!(format!("{:?}", c.webdav), format!("{:?}", d.webdav));
        assert_eq!(format!("{:?}", c.nms), format!("{:?}", d.nms));
        assert_eq!(format!("{:?}", c.sip), format!("{:?}", d.sip));
        assert_eq!(format!("{:?}", c.auth), format!("{:?}", d.auth));
        assert_eq!(c.admin.listen, d.admin.listen);
        assert_eq!(format!("{:?}", c.blobs), format!("{:?}", d.blobs));
        assert_eq!(
            c.server.shutdown_grace_seconds,
            d.server.shutdown_grace_seconds
        );
        assert_eq!(c.server.max_connections, d.server.max_connections);
        assert_eq!(
            c.server.max_connections_per_ip,
            d.server.max_connections_per_ip
        );
    }

    #[test]
    fn auth_settings_are_checked_and_the_old_imap_key_still_reads() {
        let c = Config::parse("[imap]\nlogin_failures_before_delay = 5\n").unwrap();
        assert_eq!(c.imap.login_failures_before_delay, Some(5));
        let c = Config::parse("[auth]\nlogin_failure_window_seconds = 4\n").unwrap();
        assert_eq!(c.auth.login_failure_window_seconds, 4);
        assert_eq!(c.imap.login_failures_before_delay, None);
        let e = Config::parse("[auth]\nmax_concurrent_password_checks = 0\n").unwrap_err();
        assert!(e.contains("[auth]"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key_and_line() {
        let e =
            Config::parse("[imap]\nlisten = [\"127.0.0.1:1143\"]\nlistne_tls = []\n").unwrap_err();
        assert!(e.contains("listne_tls") && e.contains("line 3"), "{e}");
        let e = Config::parse("\n[admin]\nlisten = [\"not-an-address\"]\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        for bad in ["10.0.0.0/99", "10.0.0.0/33", "host.example", "::1/129"] {
            let e = Config::parse(&format!("[sip]\ntrusted_peers = [{bad:?}]\n")).unwrap_err();
            assert!(e.contains("trusted_peers"), "{e}");
        }
        Config::parse("[sip]\ntrusted_peers = [\"10.0.0.0/8\", \"::1\", \"2001:db8::/32\"]\n")
            .unwrap();
    }

    #[test]
    fn the_postgres_engine_is_chosen_checked_and_its_password_never_shown() {
        let d = Config::default();
        assert_eq!(d.store.engine, StoreEngine::Redb);
        let documented = Config::parse(include_str!("../../../config/cpm-store.toml")).unwrap();
        assert_eq!(format!("{:?}", documented.store), format!("{:?}", d.store));
        let err = Config::parse("[store]\nengine = \"postgres\"\n").unwrap_err();
        assert!(err.contains("postgres_url"), "{err}");
        let err = Config::parse("[store]\nengine = \"sqlite\"\n").unwrap_err();
        assert!(err.contains("engine"), "{err}");
        let err = Config::parse("[store]\npostgres_pool_size = 1\n").unwrap_err();
        assert!(err.contains("postgres_pool_size"), "{err}");
        let c = Config::parse(
            "[store]\nengine = \"postgres\"\n\
             postgres_url = \"postgresql://cpm:s3cret@db.example:5432/cpm\"\n\
             postgres_pool_size = 8\n",
        )
        .unwrap();
        let settings = c.store.postgres();
        assert_eq!(settings.url, "postgresql://cpm:s3cret@db.example:5432/cpm");
        assert_eq!(settings.pool_size, 8);
        assert_eq!(settings.timeout, std::time::Duration::from_secs(30));
        let shown = crate::cli::check::effective(&c, false).unwrap();
        assert!(shown.contains("engine = \"postgres\""), "{shown}");
        assert!(
            shown.contains("postgres_url = \"postgresql://cpm:<redacted>@db.example:5432/cpm\""),
            "{shown}"
        );
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!format!("{settings:?}").contains("s3cret"));
    }
}
