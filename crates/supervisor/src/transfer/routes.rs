//! The transfer routes of the admin endpoint, which `cpm-store import`,
//! `export` and `backup` use while the server runs (redb allows one
//! process per database). Every route needs the admin token.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /transfer/folders?login=` | JSON array of the account's folder names |
//! | `POST /transfer/folder?login=&folder=` | creates the folder and its parents where missing |
//! | `GET /transfer/list?login=&folder=&after=UID` | JSON [`super::ListPage`]: at most 1024 messages above UID |
//! | `GET /transfer/message?login=&folder=&uid=&offset=&length=` | those bytes of the message, at most [`MAX_CHUNK`] |
//! | `POST /transfer/append?login=&folder=&flags=&date=` | stores the body as a message (flags space-separated, date Unix seconds); `uid N` once durable |
//! | `POST /transfer/backup?dir=` | starts a backup into `dir` (absolute, absent or empty): 202 once its snapshot is taken |
//! | `GET /transfer/backup` | JSON [`BackupStatus`] of the last backup |
//!
//! Query values are percent-encoded UTF-8.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use store_core::{BackupError, Manifest, Store, StoreError};

use crate::admin::AdminState;

/// Most bytes of a message one `GET /transfer/message` returns.
pub const MAX_CHUNK: u64 = 4 * 1024 * 1024;

/// Most bytes of a message `POST /transfer/append` takes (the CLI refuses
/// messages over `[imap] max_append_bytes` before sending them).
pub const MAX_APPEND: u64 = 16 * 1024 * 1024 * 1024;

/// The state of the server's last backup (`GET /transfer/backup`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackupStatus {
    /// `idle`, `running`, `done` or `failed`.
    pub state: String,
    /// The target directory.
    pub dir: Option<PathBuf>,
    /// What the backup holds, once done.
    pub manifest: Option<Manifest>,
    /// Why it failed.
    pub error: Option<String>,
}

/// The last backup of this process: one runs at a time.
static BACKUP: Mutex<Option<BackupStatus>> = Mutex::new(None);

fn backup_status() -> std::sync::MutexGuard<'static, Option<BackupStatus>> {
    BACKUP.lock().unwrap_or_else(|e| e.into_inner())
}

/// A refusal: the answer, boxed (it is large for an error value).
type Refused = Box<Response<Full<Bytes>>>;

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

/// A store error as the admin endpoint answers it.
fn store_error(e: &StoreError) -> Refused {
    let status = match e {
        StoreError::NoSuchAccount | StoreError::NoSuchFolder | StoreError::NoSuchObject => {
            StatusCode::NOT_FOUND
        }
        StoreError::InvalidArgument(_) | StoreError::InvalidName(_) => StatusCode::BAD_REQUEST,
        StoreError::OverQuota | StoreError::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        StoreError::PermissionDenied(_) | StoreError::ReservedFolder(_) => StatusCode::FORBIDDEN,
        StoreError::Unavailable(_) | StoreError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Box::new(text(status, format!("{e}\n")))
}

fn bad(why: impl std::fmt::Display) -> Refused {
    Box::new(text(StatusCode::BAD_REQUEST, format!("{why}\n")))
}

/// The decoded query parameters (at most 16, each value at most 4 KiB).
fn params<B>(req: &Request<B>) -> Result<HashMap<String, String>, Refused> {
    let mut out = HashMap::new();
    for pair in req.uri().query().unwrap_or("").split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| bad(format!("parameter {name} is not UTF-8")))?;
        if value.len() > 4096 || out.len() >= 16 {
            return Err(bad("query too large"));
        }
        out.insert(name.to_string(), value.into_owned());
    }
    Ok(out)
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Refused> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| bad(format!("parameter {name} is missing")))
}

fn number<T: std::str::FromStr>(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<T, Refused> {
    param(params, name)?
        .parse()
        .map_err(|_| bad(format!("parameter {name} is not a number")))
}

/// Answers a `/transfer/...` request (the admin endpoint's `handle` sends
/// every path under `/transfer/` here).
pub async fn handle(state: &AdminState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if !crate::admin::authorized(state, &req) {
        return text(StatusCode::UNAUTHORIZED, "bad or missing admin token\n");
    }
    match route(&state.store, req).await {
        Ok(r) => r,
        Err(r) => *r,
    }
}

async fn route(store: &Store, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Refused> {
    let q = params(&req)?;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if (method.clone(), path.as_str()) == (Method::GET, "/transfer/backup") {
        return Ok(json(&backup_status().clone().unwrap_or(BackupStatus {
            state: "idle".into(),
            ..BackupStatus::default()
        })));
    }
    if (method.clone(), path.as_str()) == (Method::POST, "/transfer/backup") {
        return start_backup(store, PathBuf::from(param(&q, "dir")?));
    }
    let login = param(&q, "login")?;
    let principal = store
        .administrator(login)
        .await
        .map_err(|e| store_error(&e))?;
    let fail = |e: StoreError| store_error(&e);
    match (method, path.as_str()) {
        (Method::GET, "/transfer/folders") => Ok(json(
            &super::target::folders(store, &principal)
                .await
                .map_err(fail)?,
        )),
        (Method::POST, "/transfer/folder") => {
            super::target::ensure_folder(store, &principal, param(&q, "folder")?)
                .await
                .map_err(fail)?;
            Ok(text(StatusCode::OK, "ok\n"))
        }
        (Method::GET, "/transfer/list") => Ok(json(
            &super::target::list_page(
                store,
                &principal,
                param(&q, "folder")?,
                number(&q, "after")?,
            )
            .await
            .map_err(fail)?,
        )),
        (Method::GET, "/transfer/message") => {
            let (uid, offset, length): (u32, u64, u64) = (
                number(&q, "uid")?,
                number(&q, "offset")?,
                number(&q, "length")?,
            );
            let reader = store
                .open_content(
                    &principal,
                    &store_core::FolderRef::own(param(&q, "folder")?),
                    uid,
                )
                .await
                .map_err(fail)?;
            let mut content = reader.content(offset, length.min(MAX_CHUNK)).await;
            let mut body = Vec::new();
            while let Some(chunk) = content.next_chunk().await {
                match chunk {
                    Ok(bytes) => body.extend_from_slice(&bytes),
                    Err(e) => return Err(store_error(&StoreError::Io(e))),
                }
            }
            Ok(Response::new(Full::new(Bytes::from(body))))
        }
        (Method::POST, "/transfer/append") => {
            let folder = param(&q, "folder")?.to_string();
            let flags: Vec<String> = q
                .get("flags")
                .map(|f| {
                    f.split(' ')
                        .filter(|f| !f.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let date = match q.get("date").map(String::as_str) {
                None | Some("") => None,
                Some(d) => Some(
                    d.parse::<i64>()
                        .map_err(|_| bad("parameter date is not a number"))?,
                ),
            };
            let mut writer = store.blob_writer().await.map_err(fail)?;
            let mut body = req.into_body();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| bad(format!("request body: {e}")))?;
                if let Ok(data) = frame.into_data() {
                    if writer.len() + data.len() as u64 > MAX_APPEND {
                        return Err(Box::new(text(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!("a message may have at most {MAX_APPEND} bytes\n"),
                        )));
                    }
                    writer
                        .write(&data)
                        .await
                        .map_err(|e| store_error(&StoreError::Io(e)))?;
                }
            }
            let blob = writer
                .finish()
                .await
                .map_err(|e| store_error(&StoreError::Io(e)))?;
            let uid = super::target::store_message(store, &principal, &folder, &flags, date, blob)
                .await
                .map_err(fail)?;
            Ok(text(StatusCode::OK, format!("uid {uid}\n")))
        }
        _ => Err(Box::new(text(StatusCode::NOT_FOUND, "not found\n"))),
    }
}

/// Begins a backup on the server's store (its snapshot is taken before
/// the answer) and copies on a blocking thread; one at a time.
fn start_backup(store: &Store, dir: PathBuf) -> Result<Response<Full<Bytes>>, Refused> {
    if !dir.is_absolute() {
        return Err(bad("dir must be an absolute path"));
    }
    let mut status = backup_status();
    if status.as_ref().is_some_and(|s| s.state == "running") {
        return Err(Box::new(text(
            StatusCode::CONFLICT,
            "a backup is already running\n",
        )));
    }
    let job = match store.begin_backup(&dir) {
        Ok(job) => job,
        Err(e @ BackupError::NotEmpty(_)) => {
            return Err(Box::new(text(StatusCode::CONFLICT, format!("{e}\n"))))
        }
        Err(e) => {
            return Err(Box::new(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{e}\n"),
            )))
        }
    };
    *status = Some(BackupStatus {
        state: "running".into(),
        dir: Some(dir.clone()),
        ..BackupStatus::default()
    });
    drop(status);
    tracing::info!(dir = %dir.display(), "backup started");
    tokio::task::spawn_blocking(move || {
        let result = job.run();
        let mut status = backup_status();
        *status = Some(match result {
            Ok(manifest) => {
                tracing::info!(dir = %dir.display(), keys = manifest.keys, blobs = manifest.blobs, "backup done");
                BackupStatus {
                    state: "done".into(),
                    dir: Some(dir),
                    manifest: Some(manifest),
                    error: None,
                }
            }
            Err(e) => {
                tracing::error!(dir = %dir.display(), error = %e, "backup failed");
                BackupStatus {
                    state: "failed".into(),
                    dir: Some(dir),
                    manifest: None,
                    error: Some(e.to_string()),
                }
            }
        });
    });
    Ok(text(StatusCode::ACCEPTED, "started\n"))
}
