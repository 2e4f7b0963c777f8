//! `cpm-store serve`: opens the store, starts every front end that exists,
//! each in its own task, and stops them cleanly on SIGTERM or SIGINT.

use std::sync::Arc;
use std::time::Duration;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use store_core::{Store, StoreConfig};
use tokio::net::TcpListener;

use crate::acceptor::{self, Accepted, Connection, ConnectionLimits, Listening};
use crate::admin::{self, AdminState};
use crate::config::Config;

/// The connection tasks of every front end, awaited at shutdown.
pub type Tasks = tokio_util::task::TaskTracker;

/// Reads `<data_dir>/admin.token`, creating it (mode 0600) on first start.
pub fn admin_token(data_dir: &std::path::Path, create: bool) -> Result<Option<String>> {
    let path = data_dir.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let t = hex::encode(bytes);
            crate::tls::write_private(&path, t.as_bytes())?;
            Ok(Some(t))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Why the store's files could not be opened, in the operator's terms.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory does not exist and creating it was not asked
    /// for (only `serve` and the global `--create` create one).
    #[error("data dir {0} does not exist; start `cpm-store serve` once or pass --create")]
    Missing(PathBuf),
    /// The data directory's path names something that is not a directory.
    #[error("data dir {0} is not a directory ([store] data_dir)")]
    NotADirectory(PathBuf),
    /// The process may not read or write `path` (EACCES, EPERM).
    #[error("permission denied on {path} (this process runs as uid {uid}): {source}")]
    Permission {
        /// The file or directory refused.
        path: PathBuf,
        /// The process's real user id.
        uid: u32,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// redb says the database file is open in another process (it allows
    /// one process per file).
    #[error(
        "the store in {0} is open in another process (is another cpm-store using it? \
         with the server up, its admin endpoint serves this command)"
    )]
    InUse(PathBuf),
}

/// Whether `e` is a permission error: EACCES or EPERM (std maps both
/// to [`std::io::ErrorKind::PermissionDenied`]).
pub fn is_permission_error(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied
}

fn permission(path: &Path, source: std::io::Error) -> OpenError {
    OpenError::Permission {
        path: path.to_path_buf(),
        uid: rustix::process::getuid().as_raw(),
        source,
    }
}

/// Classifies a failure of [`Store::open`] on `data_dir`: a permission
/// error names the path and the uid; the "already open" of redb says the
/// database is in use; anything else is passed on (`None`).
pub fn classify_open_error(data_dir: &Path, e: &store_core::StoreError) -> Option<OpenError> {
    match e {
        store_core::StoreError::Io(io) if is_permission_error(io) => {
            Some(permission(data_dir, std::io::Error::from(io.kind())))
        }
        other => {
            let message = other.to_string();
            if message.contains("Database already open") {
                Some(OpenError::InUse(data_dir.to_path_buf()))
            } else if message.contains("Permission denied") || message.contains("permission denied")
            {
                Some(permission(
                    &data_dir.join("store.redb"),
                    std::io::Error::from(std::io::ErrorKind::PermissionDenied),
                ))
            } else {
                None
            }
        }
    }
}

/// Checks that the data directory of `config` exists and is readable and
/// writable before the store opens it: a missing one is refused unless
/// `create` ([`OpenError::Missing`]), a file in its place is
/// [`OpenError::NotADirectory`], and EACCES/EPERM on it or on its
/// `store.redb` is [`OpenError::Permission`].
pub fn check_data_dir(data_dir: &Path, create: bool) -> Result<(), OpenError> {
    match std::fs::metadata(data_dir) {
        Ok(m) if !m.is_dir() => return Err(OpenError::NotADirectory(data_dir.to_path_buf())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match create {
                true => Ok(()),
                false => Err(OpenError::Missing(data_dir.to_path_buf())),
            }
        }
        Err(e) if is_permission_error(&e) => return Err(permission(data_dir, e)),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
            return Err(OpenError::NotADirectory(data_dir.to_path_buf()))
        }
        Err(_) => return Ok(()), // Store::open reports it
    }
    if let Err(e) = std::fs::read_dir(data_dir) {
        if is_permission_error(&e) {
            return Err(permission(data_dir, e));
        }
    }
    let database = data_dir.join("store.redb");
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&database)
    {
        if is_permission_error(&e) {
            return Err(permission(&database, e));
        }
    }
    Ok(())
}

/// Opens the store of `config` (`[store]` and the settings of
/// [`store_config`]) for a command that works on the files. The data
/// directory must exist unless `create` (`serve`, or the global
/// `--create`): a mistyped `--data-dir` is refused rather than made into
/// a stray empty store.
///
/// Errors ([`OpenError`] in the chain): the directory is missing, not a
/// directory, or refused to this uid (the path and uid are named); the
/// database is open in another process; or any error of [`Store::open`].
///
/// With `[store] engine = "postgres"` the records are in PostgreSQL
/// (`postgres_url`; the schema is created or migrated here) and the data
/// directory keeps the rest (blobs, the server secret); errors then also
/// name the database (its password redacted): unreachable, refused, or a
/// schema newer than this binary's.
pub fn open_existing_store(config: &Config, create: bool) -> Result<Store> {
    let data_dir = config.store.data_dir.clone();
    check_data_dir(&data_dir, create)?;
    if config.store.engine == crate::config::StoreEngine::Postgres {
        return open_postgres_store(config);
    }
    Store::open(store_config(config)).map_err(|e| match classify_open_error(&data_dir, &e) {
        Some(classified) => anyhow::Error::new(classified),
        None => anyhow::Error::new(e).context(format!(
            "cannot open the store in {} ([store] data_dir)",
            data_dir.display()
        )),
    })
}

/// The store of `config` on the PostgreSQL engine ([`open_existing_store`]).
fn open_postgres_store(config: &Config) -> Result<Store> {
    let settings = config.store.postgres();
    let url = store_core::engine::redact_url(&settings.url);
    let engine = store_core::engine::PostgresEngine::open(&settings).with_context(|| {
        format!("cannot open the PostgreSQL store at {url} ([store] postgres_url)")
    })?;
    store_core::blob::create_private_dir(&config.store.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.store.data_dir.display()
        )
    })?;
    Store::open_with_engine(store_config(config), Arc::new(engine)).with_context(|| {
        format!(
            "cannot open the store on PostgreSQL at {url}, data directory {}",
            config.store.data_dir.display()
        )
    })
}

/// The store's settings: `[store]`, `[webdav] macos_metadata`, `[sip]
/// folder_layout`, and `[auth]` for its login throttle, password checks
/// and trusted network elements (`[imap] login_failures_before_delay`, deprecated,
/// still overrides the threshold).
pub fn store_config(config: &Config) -> StoreConfig {
    let a = &config.auth;
    let failures = match config.imap.login_failures_before_delay {
        Some(n) => {
            tracing::warn!(
                "[imap] login_failures_before_delay is deprecated; \
                 use [auth] login_failures_before_throttle"
            );
            n
        }
        None => a.login_failures_before_throttle,
    };
    StoreConfig {
        login_throttle: store_core::throttle::ThrottleConfig {
            failures_before_throttle: failures,
            delay_step: Duration::from_secs(1),
            max_delay: Duration::from_secs(a.login_throttle_max_seconds),
            window: Duration::from_secs(a.login_failure_window_seconds),
            max_entries: a.login_throttle_entries,
        },
        password_checks: store_core::password::CheckerConfig {
            max_concurrent: a.max_concurrent_password_checks,
            max_wait: Duration::from_secs(a.password_check_wait_seconds),
        },
        preview_cache_bytes: config.store.preview_cache_bytes,
        retention: config.store.retention(),
        macos_metadata: config.webdav.macos_metadata.into(),
        quota_admins: config.imap.quota_admins.clone(),
        folder_layout: config.sip.folder_layout.into(),
        trusted_elements: a.trusted_elements.clone(),
        // Checked when the configuration was parsed (Config::parse).
        blobs: config.blobs.backend().unwrap_or_default(),
        ..StoreConfig::new(&config.store.data_dir)
    }
}

async fn bind(addr: std::net::SocketAddr, setting: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (setting {setting})"))
}

/// Connections the admin endpoint serves at once, outside the caps of
/// `[server]`, so that `/healthz` and `cpm-store account` answer when the
/// protocol listeners are full.
const ADMIN_CONNECTIONS: usize = 16;
/// Admin connections from one address (an IPv6 /64), so that one local
/// user cannot hold the whole admin budget.
const ADMIN_CONNECTIONS_PER_IP: usize = 4;
/// Descriptors kept out of the connection budget: the store, listeners,
/// standard streams, the runtime's epoll and signal pipes.
const DESCRIPTOR_RESERVE: u64 = 64;

/// Raises the soft RLIMIT_NOFILE to the hard limit, logs both, and
/// returns the soft limit now in effect (`None` when it cannot be read).
fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limits = getrlimit(Resource::Nofile);
    let (Some(soft), hard) = (limits.current, limits.maximum) else {
        tracing::info!("no file descriptor limit");
        return None;
    };
    let raised = rustix::process::Rlimit {
        current: hard,
        maximum: hard,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            let now = getrlimit(Resource::Nofile).current;
            tracing::info!(soft_was = soft, soft = ?now, hard = ?hard, "file descriptor limit");
            now
        }
        Err(e) => {
            tracing::warn!(soft, hard = ?hard, error = %e, "cannot raise the file descriptor limit");
            Some(soft)
        }
    }
}

/// The connection caps in effect for a descriptor limit of `nofile`:
/// `[server] max_connections` is clamped so that every connection can
/// hold a second descriptor (a blob or temporary file) and the admin
/// budget and [`DESCRIPTOR_RESERVE`] stay free; `max_connections_per_ip`
/// is at most that. Returns `(max_connections, max_connections_per_ip)`.
pub fn effective_caps(config: &Config, nofile: Option<u64>) -> (usize, usize) {
    let wanted = config.server.max_connections;
    let total = match nofile {
        Some(limit) => {
            let budget = limit.saturating_sub(DESCRIPTOR_RESERVE + ADMIN_CONNECTIONS as u64) / 2;
            let budget = usize::try_from(budget).unwrap_or(usize::MAX).max(1);
            if budget < wanted {
                tracing::warn!(
                    max_connections = wanted,
                    clamped_to = budget,
                    descriptor_limit = limit,
                    "[server] max_connections is above what the descriptor limit allows; clamped"
                );
            }
            wanted.min(budget)
        }
        None => wanted,
    };
    (total, config.server.max_connections_per_ip.min(total))
}

/// Runs the server until SIGTERM or SIGINT; returns after a clean stop.
pub async fn run(config: Config) -> Result<()> {
    let nofile = raise_descriptor_limit();
    let (max_connections, max_per_ip) = effective_caps(&config, nofile);
    tracing::info!(
        max_connections,
        max_connections_per_ip = max_per_ip,
        admin = ADMIN_CONNECTIONS,
        "connection caps"
    );
    let limits = ConnectionLimits::new(max_connections, max_per_ip);
    let admin_limits = ConnectionLimits::new(ADMIN_CONNECTIONS, ADMIN_CONNECTIONS_PER_IP);
    // A protocol listener, under the caps of `[server]`.
    let capped = |protocol, tls, refusal| Listening {
        protocol,
        tls,
        limits: limits.clone(),
        refusal,
    };
    let data_dir = config.store.data_dir.clone();
    let store = open_existing_store(&config, true)?;
    let tls = crate::tls::server_config(&config.tls, &data_dir)?;
    let token = admin_token(&data_dir, true)?.unwrap_or_default();
    let tasks = Tasks::new();
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);

    let sip = sip_ua::SipUa::new(
        store.clone(),
        sip_config(&config),
        Some(tls.clone()),
        shutdown_rx.clone(),
        tasks.clone(),
    );
    let admin_state = Arc::new(AdminState {
        store: store.clone(),
        token,
        started: std::time::Instant::now(),
        ready: std::sync::atomic::AtomicBool::new(false),
    });
    let imap = imap_server::ImapServer::new(store.clone(), imap_config(&config), Some(tls.clone()));
    let mut imap_listeners = Vec::new();
    for addr in &config.imap.listen {
        imap_listeners.push((*addr, false, bind(*addr, "[imap] listen").await?));
    }
    for addr in &config.imap.listen_tls {
        imap_listeners.push((*addr, true, bind(*addr, "[imap] listen_tls").await?));
    }
    for (addr, implicit_tls, listener) in imap_listeners {
        tracing::info!(%addr, implicit_tls, "IMAP listening");
        let (imap, rx) = (imap.clone(), shutdown_rx.clone());
        let tls = match implicit_tls {
            true => Some(
                imap.tls_acceptor()
                    .context("IMAP over TLS without a TLS setup")?,
            ),
            false => None,
        };
        let serve = move |a: Accepted| {
            let (imap, rx) = (imap.clone(), rx.clone());
            async move {
                let stream = match a.connection {
                    Connection::Plain(s) => imap_server::Stream::Plain(s),
                    Connection::Tls(s) => imap_server::Stream::Tls(s),
                };
                imap.serve_connection(stream, a.peer, rx).await
            }
        };
        let listening = capped("imap", tls, acceptor::IMAP_REFUSAL);
        acceptor::spawn(listening, listener, &shutdown_rx, &tasks, serve);
    }
    let webdav = webdav_server::server(store.clone(), webdav_config(&config), Some(tls.clone()));
    let webdav_listen = (&config.webdav.listen, &config.webdav.listen_tls);
    listen_http(
        webdav,
        "webdav",
        webdav_listen,
        &limits,
        &shutdown_rx,
        &tasks,
    )
    .await?;
    let nms = nms_server::server(store.clone(), nms_config(&config), Some(tls.clone())).await;
    let nms_listen = (&config.nms.listen, &config.nms.listen_tls);
    listen_http(nms, "nms", nms_listen, &limits, &shutdown_rx, &tasks).await?;
    for addr in &config.sip.listen_udp {
        let socket = tokio::net::UdpSocket::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (setting [sip] listen_udp)"))?;
        tracing::info!(%addr, "SIP listening (UDP)");
        let sip = sip.clone();
        tasks.spawn(async move { sip.serve_udp(socket).await });
    }
    let mut sip_listeners = Vec::new();
    for addr in &config.sip.listen_tcp {
        sip_listeners.push((*addr, false, bind(*addr, "[sip] listen_tcp").await?));
    }
    for addr in &config.sip.listen_tls {
        sip_listeners.push((*addr, true, bind(*addr, "[sip] listen_tls").await?));
    }
    for (addr, implicit_tls, listener) in sip_listeners {
        tracing::info!(%addr, tls = implicit_tls, "SIP listening");
        let sip = sip.clone();
        let tls = match implicit_tls {
            true => Some(
                sip.tls_acceptor()
                    .context("SIP over TLS without a TLS setup")?,
            ),
            false => None,
        };
        let serve = move |a: Accepted| {
            let sip = sip.clone();
            async move {
                use sip_ua::transport::Transport;
                match a.connection {
                    Connection::Plain(s) => {
                        sip.serve_connection(s, Transport::Tcp, a.peer, a.local)
                            .await
                    }
                    Connection::Tls(s) => {
                        sip.serve_connection(s, Transport::Tls, a.peer, a.local)
                            .await
                    }
                }
            }
        };
        // SIP over a stream has no refusal before a request: just close.
        let listening = capped("sip", tls, b"");
        acceptor::spawn(listening, listener, &shutdown_rx, &tasks, serve);
    }
    // The admin endpoint comes last: /healthz answering means every
    // protocol listener is bound.
    let mut listeners = Vec::new();
    for addr in &config.admin.listen {
        listeners.push((*addr, bind(*addr, "[admin] listen").await?));
    }
    for (addr, listener) in listeners {
        tracing::info!(%addr, "admin endpoint listening (/healthz, /metrics)");
        let state = admin_state.clone();
        let serve = move |a: Accepted| admin::serve_connection(a, state.clone());
        let listening = Listening {
            protocol: "admin",
            tls: None,
            limits: admin_limits.clone(),
            refusal: acceptor::HTTP_REFUSAL,
        };
        acceptor::spawn(listening, listener, &shutdown_rx, &tasks, serve);
    }
    let rules = config.retention.rules();
    if !rules.is_empty() {
        let interval = Duration::from_secs(config.retention.interval_seconds);
        let (store, rx) = (store.clone(), shutdown_rx.clone());
        tasks.spawn(retention_task(store, rules, interval, rx));
    }
    // Every listener is bound: ready (/readyz, systemd Type=notify).
    admin_state
        .ready
        .store(true, std::sync::atomic::Ordering::Release);
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!(error = %e, "cannot tell systemd the service is ready");
    }
    tracing::info!(data_dir = %data_dir.display(), "cpm-store running");

    wait_for_signal().await?;
    tracing::info!("shutting down: no new connections; waiting for requests in flight");
    admin_state
        .ready
        .store(false, std::sync::atomic::Ordering::Release);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let _ = shutdown_tx.send(true);
    tasks.close();
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!(
            seconds = grace.as_secs(),
            "grace period over; closing the remaining connections"
        );
    }
    store.close().await;
    tracing::info!("store closed; bye");
    Ok(())
}

/// The retention policy (`[retention]`): every `interval`, applies each
/// rule to every account (store_core::Store::apply_retention, bounded
/// batches per commit), logging each run at info level (rule, accounts,
/// objects expunged); counted in store_core::expiry_counters. Ends at
/// shutdown, between two batches at the latest.
async fn retention_task(
    store: Store,
    rules: Vec<store_core::RetentionRule>,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        for rule in &rules {
            let run = store.apply_retention(rule, store_core::now());
            let outcome = tokio::select! {
                outcome = run => outcome,
                _ = shutdown.changed() => return,
            };
            match outcome {
                Ok(o) => tracing::info!(
                    rule = %rule.name,
                    accounts = o.accounts,
                    expunged = o.expunged,
                    skipped_folders = o.skipped_folders,
                    "retention run"
                ),
                Err(store_core::StoreError::Closed) => return,
                Err(e) => tracing::warn!(rule = %rule.name, error = %e, "retention run failed"),
            }
        }
        store_core::expiry_counters()
            .retention_runs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The IMAP front end's settings from `[imap]`.
fn imap_config(config: &Config) -> imap_server::ImapConfig {
    let c = &config.imap;
    imap_server::ImapConfig {
        max_command_bytes: c.max_command_bytes,
        max_append_bytes: c.max_append_bytes,
        max_nesting: c.max_nesting,
        max_connections_per_account: c.max_connections_per_account,
        max_bad_commands: c.max_bad_commands,
        autologout: Duration::from_secs(c.autologout_minutes * 60),
        preauth_timeout: Duration::from_secs(c.preauth_timeout_seconds),
        tls_handshake_timeout: acceptor::HANDSHAKE_TIMEOUT,
        idle_keepalive: Duration::from_secs(c.idle_keepalive_seconds),
        cleartext: c.cleartext_auth,
    }
}

/// The SIP user agent's settings from `[sip]` (trusted_peers were
/// validated when the file was read).
fn sip_config(config: &Config) -> sip_ua::SipConfig {
    let c = &config.sip;
    sip_ua::SipConfig {
        trusted_peers: c
            .trusted_peers
            .iter()
            .filter_map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .ok()
            })
            .collect(),
        digest_credentials: c
            .digest
            .iter()
            .map(|d| sip_ua::DigestCredential {
                username: d.username.clone(),
                ha1_sha256: d.ha1_sha256.clone(),
                ha1_md5: d.ha1_md5.clone(),
            })
            .collect(),
        realm: c.digest_realm.clone(),
        max_message_bytes: c.max_message_bytes,
        max_subscription: Duration::from_secs(c.max_subscription_seconds),
        min_subscription: Duration::from_secs(c.min_subscription_seconds),
        max_subscriptions: c.max_subscriptions,
        max_transactions: c.max_transactions,
        max_untrusted_transactions: c.max_untrusted_transactions,
        untrusted_requests_per_second: c.untrusted_requests_per_second,
        untrusted_request_burst: c.untrusted_request_burst,
        message_timeout: Duration::from_secs(c.message_timeout_seconds),
        idle_timeout: Duration::from_secs(c.idle_timeout_seconds),
        max_outbound_connections: c.max_outbound_connections,
        max_outbound_connections_per_destination: c.max_outbound_connections_per_destination,
        max_outbound_object_bytes_in_flight: c.max_outbound_object_bytes_in_flight,
        ..sip_ua::SipConfig::default()
    }
}

/// Binds the plain and TLS listeners of an HTTP front end (`protocol`:
/// `webdav`, `nms`, also the name of its settings section) and serves
/// them under the caps of `[server]`.
///
/// Errors: a listener that cannot be bound, named with its setting.
async fn listen_http<S: http_front::Service>(
    front: http_front::Server<S>,
    protocol: &'static str,
    (listen, listen_tls): (&Vec<std::net::SocketAddr>, &Vec<std::net::SocketAddr>),
    limits: &Arc<ConnectionLimits>,
    shutdown_rx: &tokio::sync::watch::Receiver<bool>,
    tasks: &Tasks,
) -> Result<()> {
    let mut listeners = Vec::new();
    for addr in listen {
        let setting = format!("[{protocol}] listen");
        listeners.push((*addr, false, bind(*addr, &setting).await?));
    }
    for addr in listen_tls {
        let setting = format!("[{protocol}] listen_tls");
        listeners.push((*addr, true, bind(*addr, &setting).await?));
    }
    for (addr, implicit_tls, listener) in listeners {
        tracing::info!(%addr, implicit_tls, protocol, "HTTP listening");
        let tls = match implicit_tls {
            true => Some(
                front
                    .tls_acceptor()
                    .with_context(|| format!("{protocol} over TLS without a TLS setup"))?,
            ),
            false => None,
        };
        let (front, rx) = (front.clone(), shutdown_rx.clone());
        let serve = move |a: Accepted| {
            let (front, rx) = (front.clone(), rx.clone());
            async move {
                match a.connection {
                    Connection::Plain(s) => front.serve_connection(s, a.peer, false, rx).await,
                    Connection::Tls(s) => front.serve_connection(s, a.peer, true, rx).await,
                }
            }
        };
        let listening = Listening {
            protocol,
            tls,
            limits: limits.clone(),
            refusal: acceptor::HTTP_REFUSAL,
        };
        acceptor::spawn(listening, listener, shutdown_rx, tasks, serve);
    }
    Ok(())
}

/// The NMS front end's settings from `[nms]`.
fn nms_config(config: &Config) -> nms_server::NmsConfig {
    let c = &config.nms;
    nms_server::NmsConfig {
        store_name: c.store_name.clone(),
        max_json_bytes: c.max_json_bytes,
        max_object_bytes: c.max_object_bytes,
        max_entries: c.max_entries,
        default_entries: c.default_entries,
        max_bulk_items: c.max_bulk_items,
        cleartext: c.cleartext_auth,
        header_timeout: Duration::from_secs(c.header_timeout_seconds),
        idle_timeout: Duration::from_secs(c.idle_timeout_seconds),
    }
}

/// The WebDAV front end's settings from `[webdav]`.
fn webdav_config(config: &Config) -> webdav_server::WebDavConfig {
    let c = &config.webdav;
    webdav_server::WebDavConfig {
        max_put_bytes: c.max_put_bytes,
        max_xml_bytes: c.max_xml_bytes,
        max_xml_depth: c.max_xml_depth,
        max_xml_attributes: c.max_xml_attributes,
        cleartext: c.cleartext_auth,
        header_timeout: Duration::from_secs(c.header_timeout_seconds),
        idle_timeout: Duration::from_secs(c.idle_timeout_seconds),
    }
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = int.recv() => tracing::info!("SIGINT"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permission_error_names_the_path_and_uid_not_another_process() {
        let dir = Path::new("/srv/cpm");
        let e = store_core::StoreError::Io(std::io::Error::from_raw_os_error(
            rustix::io::Errno::ACCESS.raw_os_error(),
        ));
        let message = classify_open_error(dir, &e).map(|e| e.to_string());
        let message = message.unwrap_or_default();
        assert!(message.starts_with("permission denied on /srv/cpm (this process runs as uid "));
        assert!(!message.contains("another"), "{message}");
        let e = store_core::StoreError::Io(std::io::Error::from_raw_os_error(
            rustix::io::Errno::PERM.raw_os_error(),
        ));
        assert!(matches!(
            classify_open_error(dir, &e),
            Some(OpenError::Permission { .. })
        ));
    }

    #[test]
    fn only_a_held_database_is_reported_as_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.store.data_dir = dir.path().join("data");
        let first = open_existing_store(&config, true).unwrap();
        let second = open_existing_store(&config, false).err().unwrap();
        assert!(
            matches!(
                second.downcast_ref::<OpenError>(),
                Some(OpenError::InUse(_))
            ),
            "{second:#}"
        );
        drop(first);
        let missing = dir.path().join("typo");
        let e = check_data_dir(&missing, false).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "data dir {} does not exist; start `cpm-store serve` once or pass --create",
                missing.display()
            )
        );
        assert!(!missing.exists());
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(matches!(
            check_data_dir(&file, true),
            Err(OpenError::NotADirectory(_))
        ));
    }

    #[test]
    fn the_caps_stay_below_the_descriptor_limit() {
        let config = Config::default();
        // The systemd default: room for a second descriptor per connection,
        // the admin budget and the reserve.
        assert_eq!(effective_caps(&config, Some(1024)), (472, 256));
        assert_eq!(effective_caps(&config, Some(300)), (110, 110));
        assert_eq!(effective_caps(&config, Some(65536)), (10_000, 256));
        assert_eq!(effective_caps(&config, None), (10_000, 256));
        assert_eq!(effective_caps(&config, Some(10)).0, 1);
    }
}
