//! The local administration endpoint (`[admin] listen`): `/healthz`,
//! Prometheus `/metrics`, and the account operations `cpm-store account`
//! uses while the server runs (redb allows one process per database file).
//!
//! Account operations need `Authorization: Bearer <token>` with the token
//! from `<data_dir>/admin.token` (mode 0600), so only who can read the data
//! directory can administer accounts.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::acceptor::{Accepted, Connection};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use store_core::{FolderRef, ReferenceAccess, Store, StoreError};
use subtle::ConstantTimeEq;

/// Largest admin request body.
const MAX_BODY: usize = 64 * 1024;

/// An account operation, as the CLI sends it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AccountRequest {
    /// `account add`
    Add {
        /// Login.
        login: String,
        /// CPM address.
        address: Option<String>,
        /// Password.
        password: String,
    },
    /// `account passwd`
    Passwd {
        /// Login.
        login: String,
        /// New password.
        password: String,
    },
    /// `account remove`
    Remove {
        /// Login.
        login: String,
    },
    /// `account list`
    List,
    /// `account show`
    Show {
        /// Login.
        login: String,
    },
    /// `folder list|create|rename|delete`
    Folder(crate::cli::folder::FolderCommand),
    /// `expunge LOGIN --folder NAME --before DATE`
    Expunge(crate::cli::expunge::ExpungeArgs),
    /// `account reference`: a reference to one object (operation
    /// "generate reference"), printed as its URLAUTH URL.
    Reference {
        /// The owner's login.
        login: String,
        /// The folder.
        folder: String,
        /// The object's UID.
        uid: u32,
        /// An IMAP section (`1`, `1.2`, `TEXT`), or the whole object.
        section: Option<String>,
        /// Lifetime in seconds, or none.
        expires_in: Option<i64>,
        /// `anonymous`, `authuser`, `user` or `submit` (the last two for
        /// the owner's login).
        access: String,
        /// The host the URL names.
        host: String,
    },
    /// `account quota`: show the use and limits, or first set the limits
    /// (`Some`; a `None` limit is unlimited).
    Quota {
        /// Login.
        login: String,
        /// The limits to set, if any.
        limits: Option<store_core::model::QuotaLimits>,
    },
    /// `account token`: issue an access token, or list or revoke them.
    Token {
        /// Login.
        login: String,
        /// A note for a new token.
        label: Option<String>,
        /// List instead of issuing.
        list: bool,
        /// Revoke this token id (`all`: every one) instead of issuing.
        revoke: Option<String>,
    },
    /// `account revoke-references`: every reference into a folder.
    RevokeReferences {
        /// The owner's login.
        login: String,
        /// The folder.
        folder: String,
    },
}

impl std::fmt::Debug for AccountRequest {
    /// The operation and its login; passwords redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = store_core::password::REDACTED;
        match self {
            AccountRequest::Add { login, address, .. } => f
                .debug_struct("Add")
                .field("login", login)
                .field("address", address)
                .field("password", &redacted)
                .finish(),
            AccountRequest::Passwd { login, .. } => f
                .debug_struct("Passwd")
                .field("login", login)
                .field("password", &redacted)
                .finish(),
            AccountRequest::Remove { login } => {
                f.debug_struct("Remove").field("login", login).finish()
            }
            AccountRequest::List => f.write_str("List"),
            AccountRequest::Show { login } => f.debug_struct("Show").field("login", login).finish(),
            AccountRequest::Folder(c) => f.debug_tuple("Folder").field(c).finish(),
            AccountRequest::Expunge(a) => f.debug_tuple("Expunge").field(a).finish(),
            AccountRequest::Reference {
                login, folder, uid, ..
            } => f
                .debug_struct("Reference")
                .field("login", login)
                .field("folder", folder)
                .field("uid", uid)
                .finish_non_exhaustive(),
            AccountRequest::Quota { login, .. } => f
                .debug_struct("Quota")
                .field("login", login)
                .finish_non_exhaustive(),
            AccountRequest::Token { login, .. } => f
                .debug_struct("Token")
                .field("login", login)
                .finish_non_exhaustive(),
            AccountRequest::RevokeReferences { login, folder } => f
                .debug_struct("RevokeReferences")
                .field("login", login)
                .field("folder", folder)
                .finish(),
        }
    }
}

/// What the endpoint needs.
pub struct AdminState {
    /// The store.
    pub store: Store,
    /// The bearer token.
    pub token: String,
    /// Start time, for the uptime metric.
    pub started: std::time::Instant,
    /// Set once every listener is bound and start-up is done (`/readyz`).
    pub ready: std::sync::atomic::AtomicBool,
}

/// Runs one account request against the store; returns the lines to print.
pub async fn run_account_request(
    store: &Store,
    req: AccountRequest,
) -> Result<Vec<String>, StoreError> {
    match req {
        AccountRequest::Add {
            login,
            address,
            password,
        } => {
            let a = store
                .create_account(&login, address.as_deref(), &password)
                .await?;
            Ok(vec![format!("added {} (id {})", a.login, a.id)])
        }
        AccountRequest::Passwd { login, password } => {
            store.set_password(&login, &password).await?;
            Ok(vec![format!("password of {login} changed")])
        }
        AccountRequest::Remove { login } => {
            store.remove_account(&login).await?;
            Ok(vec![format!("removed {login}")])
        }
        AccountRequest::Reference {
            login,
            folder,
            uid,
            section,
            expires_in,
            access,
            host,
        } => {
            let principal = store.administrator(&login).await?;
            let access = match access.as_str() {
                "anonymous" => ReferenceAccess::Anonymous,
                "authuser" => ReferenceAccess::AuthenticatedUser,
                "user" => ReferenceAccess::User(login.clone()),
                "submit" => ReferenceAccess::Submit(login.clone()),
                other => {
                    return Err(StoreError::InvalidArgument(format!(
                        "access {other:?}: anonymous, authuser, user or submit"
                    )))
                }
            };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let (_, url) = store
                .generate_reference(
                    &principal,
                    &FolderRef::own(folder.clone()),
                    uid,
                    section,
                    expires_in.map(|s| now + s),
                    access,
                    store_core::ReferenceUrl::Built { host, folder },
                )
                .await?;
            Ok(vec![url])
        }
        AccountRequest::Quota { login, limits } => {
            let admin = store.administrator(&login).await?;
            if let Some(limits) = limits {
                store.set_quota(&admin, &login, limits).await?;
            }
            let usage = store.quota(&admin).await?;
            let limit = |l: Option<u64>| l.map_or("unlimited".to_string(), |n| n.to_string());
            Ok(vec![format!(
                "{login}: {} bytes of {}, {} objects of {}",
                usage.bytes,
                limit(usage.limits.max_bytes),
                usage.objects,
                limit(usage.limits.max_objects)
            )])
        }
        AccountRequest::Token {
            login,
            label,
            list,
            revoke,
        } => {
            if list {
                return Ok(store
                    .list_tokens(&login)
                    .await?
                    .into_iter()
                    .map(|t| {
                        format!(
                            "{}\t{}\t{}",
                            t.id,
                            store_core::dates::rfc3339_date(t.issued),
                            t.label.unwrap_or_default()
                        )
                    })
                    .collect());
            }
            if let Some(id) = revoke {
                let which = (id != "all").then_some(id);
                let n = store.revoke_tokens(&login, which).await?;
                return Ok(vec![format!("{n} token(s) of {login} revoked")]);
            }
            let (record, token) = store.issue_token(&login, label).await?;
            // The token alone on its line, for scripts; shown only now.
            Ok(vec![token, format!("# token id {} for {login}", record.id)])
        }
        AccountRequest::RevokeReferences { login, folder } => {
            let principal = store.administrator(&login).await?;
            store
                .revoke_references(&principal, &FolderRef::own(folder.clone()))
                .await?;
            Ok(vec![format!("references into {folder} revoked")])
        }
        AccountRequest::Show { login } => crate::cli::show::run(store, &login).await,
        AccountRequest::Folder(command) => crate::cli::folder::run(store, command).await,
        AccountRequest::Expunge(args) => crate::cli::expunge::run(store, args).await,
        AccountRequest::List => Ok(store
            .list_accounts()
            .await?
            .into_iter()
            .map(|a| format!("{}\t{}", a.login, a.address.unwrap_or_default()))
            .collect()),
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn handle(
    state: Arc<AdminState>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => healthz(&state).await,
        (&Method::GET, "/readyz") => readyz(&state),
        (&Method::GET, "/metrics") => {
            let accept = req
                .headers()
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let (body, content_type) = crate::metrics::render(&state, accept);
            let mut r = text(StatusCode::OK, body);
            // A scraper (Prometheus 3) refuses a scrape without the
            // content type of its format.
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(content_type),
            );
            r
        }
        (&Method::POST, "/accounts") => accounts(&state, req).await,
        (_, path) if path.starts_with("/transfer/") => {
            crate::transfer::routes::handle(&state, req).await
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

/// Longest `/healthz` waits for the writer thread to answer its probe.
const WRITER_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz`: 200 `ok` while the store answers a read transaction, its
/// writer thread answers a no-op within [`WRITER_PROBE_TIMEOUT`] and the
/// storage takes writes; 503 with the reason otherwise (a full disk, an
/// I/O error, a stuck writer), until it has recovered.
async fn healthz(state: &AdminState) -> Response<Full<Bytes>> {
    if let Err(e) = state.store.check_alive(WRITER_PROBE_TIMEOUT).await {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("failing: the store does not answer: {e}\n"),
        );
    }
    match state.store.storage_failure() {
        None => text(StatusCode::OK, "ok\n"),
        Some(why) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("failing: storage does not take writes: {why}\n"),
        ),
    }
}

/// `/readyz`: 503 until every listener is bound and start-up is done
/// (the moment systemd is sent `READY=1`), then 200 `ready`.
fn readyz(state: &AdminState) -> Response<Full<Bytes>> {
    match state.ready.load(std::sync::atomic::Ordering::Acquire) {
        true => text(StatusCode::OK, "ready\n"),
        false => text(StatusCode::SERVICE_UNAVAILABLE, "starting\n"),
    }
}

/// Whether `req` carries the admin token (`Authorization: Bearer`,
/// compared in constant time).
pub fn authorized<B>(state: &AdminState, req: &Request<B>) -> bool {
    req.headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(state.token.as_bytes())))
}

async fn accounts(state: &AdminState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if !authorized(state, &req) {
        return text(StatusCode::UNAUTHORIZED, "bad or missing admin token\n");
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n"),
    };
    let request: AccountRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    match run_account_request(&state.store, request).await {
        Ok(lines) => text(
            StatusCode::OK,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        ),
        Err(e) => {
            let status = match e {
                StoreError::AccountExists => StatusCode::CONFLICT,
                StoreError::NoSuchAccount => StatusCode::NOT_FOUND,
                StoreError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
                StoreError::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
                StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            text(status, format!("{e}\n"))
        }
    }
}

/// Longest an admin client may take to send a request's header block.
const ADMIN_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest an admin connection stays open, whatever it does: its requests
/// are short, and a held connection takes a place of the admin budget.
const ADMIN_CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// Serves one admin connection (HTTP/1.1: `/healthz`, `/metrics` and the
/// account endpoint) until it closes, at most [`ADMIN_CONNECTION_LIFETIME`],
/// each request's header within [`ADMIN_HEADER_TIMEOUT`].
pub async fn serve_connection(accepted: Accepted, state: Arc<AdminState>) {
    let Connection::Plain(stream) = accepted.connection else {
        return;
    };
    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
    let io = hyper_util::rt::TokioIo::new(stream);
    let serving = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(ADMIN_HEADER_TIMEOUT)
        .serve_connection(io, service);
    match tokio::time::timeout(ADMIN_CONNECTION_LIFETIME, serving).await {
        Ok(Err(e)) => tracing::debug!(error = %e, "admin connection ended"),
        Ok(Ok(())) => {}
        Err(_) => tracing::debug!("admin connection closed after its lifetime"),
    }
}

/// Sends `request` to a running server's admin endpoint. `Ok(None)` when
/// nothing listens there (the server is down).
pub async fn send(
    addr: SocketAddr,
    token: &str,
    request: &AccountRequest,
) -> anyhow::Result<Option<(u16, String)>> {
    let stream = match tokio::net::TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = Request::post("/accounts")
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(request)?)))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Some((status, String::from_utf8_lossy(&body).into_owned())))
}
