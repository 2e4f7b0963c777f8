//! The HTTP error a request ends with, and how store errors map to it.

use hyper::StatusCode;
use store_core::StoreError;

/// An error response: its status, and for RFC 4918 preconditions the
/// `DAV:` condition element the body names (RFC 4918 16).
#[derive(Debug, Clone)]
pub struct DavError {
    /// The status code.
    pub status: StatusCode,
    /// The local name of a `DAV:` precondition or postcondition element
    /// (`propfind-finite-depth`, `lock-token-submitted`, ...), if any.
    pub condition: Option<&'static str>,
    /// A short human-readable reason (sent as text/plain without a
    /// condition).
    pub message: String,
    /// The `DAV:href` elements of the condition element
    /// (`lock-token-submitted`: the locked resource's root).
    pub hrefs: Vec<String>,
}

impl DavError {
    /// An error with a status and a reason.
    pub fn new(status: StatusCode, message: impl Into<String>) -> DavError {
        DavError {
            status,
            condition: None,
            message: message.into(),
            hrefs: Vec::new(),
        }
    }

    /// An error whose body is a `DAV:error` naming `condition`.
    pub fn condition(status: StatusCode, condition: &'static str) -> DavError {
        DavError {
            status,
            condition: Some(condition),
            message: condition.to_string(),
            hrefs: Vec::new(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> DavError {
        DavError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> DavError {
        DavError::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 Not Found.
    pub fn not_found() -> DavError {
        DavError::new(StatusCode::NOT_FOUND, "not found")
    }

    /// 409 Conflict (RFC 4918: a missing parent collection).
    pub fn conflict(message: impl Into<String>) -> DavError {
        DavError::new(StatusCode::CONFLICT, message)
    }

    /// 412 Precondition Failed.
    pub fn precondition_failed() -> DavError {
        DavError::new(StatusCode::PRECONDITION_FAILED, "precondition failed")
    }

    /// 423 Locked with `DAV:lock-token-submitted` naming the root of the
    /// lock that was not honoured (`root` a store-core lock path), as every
    /// 423 of a write this server sends (RFC 4918 9.10.6, 16).
    pub fn locked(root: &str) -> DavError {
        Self::lock_condition("lock-token-submitted", root)
    }

    /// 423 Locked with `DAV:no-conflicting-lock` naming the root of the
    /// lock a new LOCK conflicts with (RFC 4918 9.10.6, 16).
    pub fn lock_conflict(root: &str) -> DavError {
        Self::lock_condition("no-conflicting-lock", root)
    }

    fn lock_condition(condition: &'static str, root: &str) -> DavError {
        let mut e = DavError::condition(StatusCode::LOCKED, condition);
        e.hrefs = vec![crate::path::DavPath::from_lock_key(root).href(false)];
        e
    }
}

impl From<StoreError> for DavError {
    fn from(e: StoreError) -> DavError {
        match e {
            StoreError::NoSuchFolder | StoreError::NoSuchObject | StoreError::NoSuchAccount => {
                DavError::not_found()
            }
            StoreError::PermissionDenied(right) => {
                DavError::forbidden(format!("right '{}' required (RFC 4314)", right.letter()))
            }
            StoreError::FolderExists | StoreError::ObjectExists => {
                DavError::new(StatusCode::METHOD_NOT_ALLOWED, "the resource exists")
            }
            StoreError::ReservedFolder(name) => DavError::forbidden(format!(
                "{name} is written only by trusted network elements"
            )),
            StoreError::InvalidName(why) => DavError::forbidden(format!("invalid name: {why}")),
            StoreError::NotAllowed(why) => DavError::forbidden(why),
            StoreError::OverQuota => {
                DavError::condition(StatusCode::INSUFFICIENT_STORAGE, "quota-not-exceeded")
            }
            StoreError::InvalidArgument(why) => DavError::bad_request(why),
            StoreError::MetadataLimit(limit) => DavError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!("metadata limit: {limit}"),
            ),
            StoreError::Locked { root } => DavError::locked(&root),
            StoreError::LockConflict { root } => DavError::lock_conflict(&root),
            StoreError::AdminOnly(what) => {
                DavError::forbidden(format!("only an administrator may do this: {what}"))
            }
            StoreError::NoSuchLock => {
                DavError::condition(StatusCode::CONFLICT, "lock-token-matches-request-uri")
            }
            StoreError::StorageFull => {
                tracing::warn!("request refused: the server's disk is full");
                DavError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "the server's storage is full; nothing was stored",
                )
            }
            StoreError::Unavailable(why) => {
                tracing::warn!(error = %why, "request refused: storage unavailable");
                DavError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("storage unavailable, try again later: {why}"),
                )
            }
            StoreError::Unconvertible(why) => DavError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("cannot preview: {why}"),
            ),
            other => {
                tracing::error!(error = %other, "store error");
                DavError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

/// Shorthand for handler results.
pub type DavResult<T> = Result<T, DavError>;
