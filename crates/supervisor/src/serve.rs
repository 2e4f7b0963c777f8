//! `cpm-store serve`: opens the store, starts every front end that exists,
//! each in its own task, and stops them cleanly on SIGTERM or SIGINT.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use store_core::{Store, StoreConfig};
use tokio::net::TcpListener;

use crate::acceptor::{self, Accepted, Connection};
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

/// Opens the store in `data_dir`, with a clear error when another process
/// holds it.
pub fn open_store(data_dir: &std::path::Path) -> Result<Store> {
    open_store_with(StoreConfig::new(data_dir))
}

/// Opens the store with `config`, with a clear error when another process
/// holds it.
fn open_store_with(config: StoreConfig) -> Result<Store> {
    let data_dir = config.data_dir.clone();
    Store::open(config).with_context(|| {
        format!(
            "cannot open the store in {} ([store] data_dir); is another cpm-store using it?",
            data_dir.display()
        )
    })
}

/// The store's settings: `[store]`, and `[auth]` for its login throttle
/// and password checks (`[imap] login_failures_before_delay`, deprecated,
/// still overrides the threshold).
fn store_config(config: &Config) -> StoreConfig {
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
        ..StoreConfig::new(&config.store.data_dir)
    }
}

async fn bind(addr: std::net::SocketAddr, setting: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (setting {setting})"))
}

/// Runs the server until SIGTERM or SIGINT; returns after a clean stop.
pub async fn run(config: Config) -> Result<()> {
    let data_dir = config.store.data_dir.clone();
    let store = open_store_with(store_config(&config))?;
    let tls = crate::tls::server_config(&config.tls, &data_dir)?;
    let token = admin_token(&data_dir, true)?.unwrap_or_default();
    let tasks = Tasks::new();
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);

    let admin_state = Arc::new(AdminState {
        store: store.clone(),
        token,
        started: std::time::Instant::now(),
    });
    let mut listeners = Vec::new();
    for addr in &config.admin.listen {
        listeners.push((*addr, bind(*addr, "[admin] listen").await?));
    }
    for (addr, listener) in listeners {
        tracing::info!(%addr, "admin endpoint listening (/healthz, /metrics)");
        let state = admin_state.clone();
        let serve = move |a: Accepted| admin::serve_connection(a, state.clone());
        acceptor::spawn("admin", listener, None, &shutdown_rx, &tasks, serve);
    }
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
        acceptor::spawn("imap", listener, tls, &shutdown_rx, &tasks, serve);
    }
    let webdav =
        webdav_server::WebDavServer::new(store.clone(), webdav_config(&config), Some(tls.clone()));
    let mut webdav_listeners = Vec::new();
    for addr in &config.webdav.listen {
        webdav_listeners.push((*addr, false, bind(*addr, "[webdav] listen").await?));
    }
    for addr in &config.webdav.listen_tls {
        webdav_listeners.push((*addr, true, bind(*addr, "[webdav] listen_tls").await?));
    }
    for (addr, implicit_tls, listener) in webdav_listeners {
        tracing::info!(%addr, implicit_tls, "WebDAV listening");
        let (webdav, rx) = (webdav.clone(), shutdown_rx.clone());
        let tls = match implicit_tls {
            true => Some(
                webdav
                    .tls_acceptor()
                    .context("WebDAV over TLS without a TLS setup")?,
            ),
            false => None,
        };
        let serve = move |a: Accepted| {
            let (webdav, rx) = (webdav.clone(), rx.clone());
            async move {
                match a.connection {
                    Connection::Plain(s) => webdav.serve_connection(s, a.peer, false, rx).await,
                    Connection::Tls(s) => webdav.serve_connection(s, a.peer, true, rx).await,
                }
            }
        };
        acceptor::spawn("webdav", listener, tls, &shutdown_rx, &tasks, serve);
    }
    let sip = sip_ua::SipUa::new(
        store.clone(),
        sip_config(&config),
        Some(tls.clone()),
        shutdown_rx.clone(),
        tasks.clone(),
    );
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
        acceptor::spawn("sip", listener, tls, &shutdown_rx, &tasks, serve);
    }
    tracing::info!(data_dir = %data_dir.display(), "cpm-store running");

    wait_for_signal().await?;
    tracing::info!("shutting down: no new connections; waiting for requests in flight");
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

/// The IMAP front end's settings from `[imap]`.
fn imap_config(config: &Config) -> imap_server::ImapConfig {
    use crate::config::CleartextAuth;
    let c = &config.imap;
    imap_server::ImapConfig {
        max_command_bytes: c.max_command_bytes,
        max_append_bytes: c.max_append_bytes,
        max_nesting: c.max_nesting,
        max_connections_per_account: c.max_connections_per_account,
        max_bad_commands: c.max_bad_commands,
        autologout: Duration::from_secs(c.autologout_minutes * 60),
        idle_keepalive: Duration::from_secs(c.idle_keepalive_seconds),
        cleartext: match c.cleartext_auth {
            CleartextAuth::Never => imap_server::CleartextPolicy::Never,
            CleartextAuth::Loopback => imap_server::CleartextPolicy::Loopback,
            CleartextAuth::Always => imap_server::CleartextPolicy::Always,
        },
        quota_admins: c.quota_admins.clone(),
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
        ..sip_ua::SipConfig::default()
    }
}

/// The WebDAV front end's settings from `[webdav]`.
fn webdav_config(config: &Config) -> webdav_server::WebDavConfig {
    use crate::config::CleartextAuth;
    let c = &config.webdav;
    webdav_server::WebDavConfig {
        max_put_bytes: c.max_put_bytes,
        max_xml_bytes: c.max_xml_bytes,
        max_xml_depth: c.max_xml_depth,
        cleartext: match c.cleartext_auth {
            CleartextAuth::Never => webdav_server::CleartextBasic::Never,
            CleartextAuth::Loopback => webdav_server::CleartextBasic::Loopback,
            CleartextAuth::Always => webdav_server::CleartextBasic::Always,
        },
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
