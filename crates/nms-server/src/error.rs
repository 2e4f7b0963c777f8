//! Errors as the REST NetAPI answers them: an HTTP status and a
//! `requestError` body holding a `serviceException` (the request is wrong)
//! or a `policyException` (a policy refuses it), each a `messageId`, a
//! `text` with `%1`-style placeholders and their `variables`
//! (REST_NetAPI_Common 5.1, the codes of NMS TS 7).

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use store_core::StoreError;

use http_front::Body;

use crate::types::{BulkOutcome, BulkResponse, Reference, RequestError, RequestErrorRoot};

/// Which of the two exception kinds an error is (REST_NetAPI_Common).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    /// `serviceException`: the request cannot be served as sent.
    Service,
    /// `policyException`: a policy of the server refuses it.
    Policy,
}

/// One error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmsError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Service or policy exception; `None` for a status with no body
    /// (405, 401 challenges are built elsewhere).
    pub exception: Option<(ExceptionKind, &'static str, &'static str)>,
    /// The values of the text's `%1`, `%2`, ….
    pub variables: Vec<String>,
    /// `Retry-After` in seconds (429, 503); a 503 without it says 10.
    pub retry_after: Option<u64>,
}

/// Shorthand for handler results.
pub type NmsResult<T> = Result<T, NmsError>;

impl NmsError {
    fn service(status: StatusCode, id: &'static str, text: &'static str) -> NmsError {
        NmsError {
            status,
            exception: Some((ExceptionKind::Service, id, text)),
            variables: Vec::new(),
            retry_after: None,
        }
    }

    fn policy(id: &'static str, text: &'static str) -> NmsError {
        NmsError {
            status: StatusCode::FORBIDDEN,
            exception: Some((ExceptionKind::Policy, id, text)),
            variables: Vec::new(),
            retry_after: None,
        }
    }

    fn with(mut self, variable: impl Into<String>) -> NmsError {
        self.variables.push(variable.into());
        self
    }

    /// SVC0001 (400): a service error, `code` saying which.
    pub fn service_error(code: impl Into<String>) -> NmsError {
        NmsError::service(
            StatusCode::BAD_REQUEST,
            "SVC0001",
            "A service error occurred. Error code is %1",
        )
        .with(code)
    }

    /// SVC0002 (400): `part` (a JSON element or query parameter name) has
    /// an invalid value.
    pub fn invalid_input(part: impl Into<String>) -> NmsError {
        NmsError::service(
            StatusCode::BAD_REQUEST,
            "SVC0002",
            "Invalid input value for message part %1",
        )
        .with(part)
    }

    /// SVC0003 (400): `part` has a value outside `valid` (the accepted
    /// values, listed for the client).
    pub fn invalid_value(part: impl Into<String>, valid: &[&str]) -> NmsError {
        NmsError::service(
            StatusCode::BAD_REQUEST,
            "SVC0003",
            "Invalid input value for message part %1, valid values are %2",
        )
        .with(part)
        .with(valid.join(", "))
    }

    /// SVC0004 (404): the resource at `path` (the request path) does not
    /// exist or is not visible to the principal, as TS D.12 answers a
    /// missing object.
    pub fn not_found(path: impl Into<String>) -> NmsError {
        NmsError::service(
            StatusCode::NOT_FOUND,
            "SVC0004",
            "No valid addresses provided in message part %1",
        )
        .with(path)
    }

    /// SVC2008 (404): no item of `kind` (`path`, `objectId`, `folderId`)
    /// named `name` (TS D.27, D.54).
    pub fn unknown(kind: &str, name: impl Into<String>) -> NmsError {
        NmsError::service(StatusCode::NOT_FOUND, "SVC2008", "Unknown %1 %2")
            .with(kind)
            .with(name)
    }

    /// SVC1009 (400): a folder path is needed (TS 7.1.1).
    pub fn path_needed() -> NmsError {
        NmsError::service(
            StatusCode::BAD_REQUEST,
            "SVC1009",
            "Folder's path is missing. When more than one root folder exists, folder's path must be provided.",
        )
    }

    /// POL0001 (403): a policy refuses the request, `why`.
    pub fn policy_error(why: impl Into<String>) -> NmsError {
        NmsError::policy("POL0001", "A policy error occurred. Error code is %1").with(why)
    }

    /// SVC1012 (409): a newer long poll of the channel took over (NC TS
    /// 7.1.1).
    pub fn simultaneous_poll() -> NmsError {
        NmsError::service(
            StatusCode::CONFLICT,
            "SVC1012",
            "Simultaneous channel requests not supported",
        )
    }

    /// POL1023 (403): the channel type is not offered (NC TS 7.2.1).
    pub fn unsupported_channel_type(wanted: crate::types::ChannelType) -> NmsError {
        NmsError::policy(
            "POL1023",
            "Notification channel type %1 not supported. Supported types: %2.",
        )
        .with(format!("{wanted:?}"))
        .with("LongPolling, WebSockets")
    }

    /// POL1030 (403): this folder cannot be renamed (TS 7.2.1).
    pub fn rename_refused() -> NmsError {
        NmsError::policy("POL1030", "Renaming this folder is not allowed.")
    }

    /// POL1031 (403): nothing may be created under `path` (TS 7.2.2).
    pub fn creation_refused(path: impl Into<String>) -> NmsError {
        NmsError::policy(
            "POL1031",
            "Attempt to create objects or folders under %1 is prohibited",
        )
        .with(path)
    }

    /// A bare status (413, 415, 500, 503, …) with a SVC0001 body naming
    /// `why`.
    pub fn status(status: StatusCode, why: impl Into<String>) -> NmsError {
        NmsError {
            status,
            ..NmsError::service_error(why)
        }
    }

    /// The `requestError` body (`None` for a bare status).
    pub fn body(&self) -> Option<RequestErrorRoot> {
        let (kind, id, text) = self.exception?;
        let variables = self.variables.iter().cloned();
        let request_error = match kind {
            ExceptionKind::Service => RequestError::service(id, text, variables),
            ExceptionKind::Policy => RequestError::policy(id, text, variables),
        };
        Some(RequestErrorRoot { request_error })
    }

    /// This error as one item of a bulk response (TS 5.3.2.31).
    pub fn bulk_item(&self) -> BulkResponse {
        BulkResponse {
            code: self.status.as_u16(),
            reason: self
                .status
                .canonical_reason()
                .unwrap_or_default()
                .to_string(),
            outcome: BulkOutcome::Failure(self.body().map(|b| b.request_error).unwrap_or_default()),
        }
    }

    /// The response for this error.
    pub fn into_response(self) -> Response<Body> {
        let mut r = match self.body() {
            Some(body) => crate::json::response(self.status, &body),
            None => http_front::status(self.status),
        };
        let retry_after = match self.retry_after {
            Some(seconds) => Some(seconds),
            None => (self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(10),
        };
        if let Some(seconds) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        r
    }
}

impl From<http_front::BodyError> for NmsError {
    fn from(e: http_front::BodyError) -> NmsError {
        match e {
            http_front::BodyError::TooLarge => {
                NmsError::status(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
            }
            http_front::BodyError::CutShort => NmsError::invalid_input("body"),
        }
    }
}

/// A succeeded item of a bulk response (TS 5.3.2.31): `status` and the
/// object or folder acted upon.
pub fn bulk_success(status: StatusCode, reference: Reference) -> BulkResponse {
    BulkResponse {
        code: status.as_u16(),
        reason: status.canonical_reason().unwrap_or_default().to_string(),
        outcome: BulkOutcome::Success(reference),
    }
}

/// Maps a store error to the TS's answer. Anything the principal may not
/// see is `not_found` of the request path (404), exactly as IMAP and
/// WebDAV hide it; the caller gives that path.
pub fn from_store(e: StoreError, path: &str) -> NmsError {
    match e {
        StoreError::NoSuchFolder | StoreError::NoSuchObject | StoreError::NoSuchAccount => {
            NmsError::not_found(path)
        }
        StoreError::PermissionDenied(right) => {
            NmsError::policy_error(format!("right '{}' required (RFC 4314)", right.letter()))
        }
        // The RCS layout's `Default` tree takes objects and folders only
        // from trusted network elements (store-core's rule).
        StoreError::ReservedFolder(name) => NmsError::creation_refused(format!("/{name}")),
        StoreError::FolderExists => NmsError::policy_error("the folder exists"),
        StoreError::ObjectExists => NmsError::policy_error("the object exists"),
        StoreError::InvalidName(why) => NmsError::invalid_input(format!("name ({why})")),
        StoreError::NotAllowed(why) => NmsError::policy_error(why),
        StoreError::OverQuota => NmsError::policy_error("quota exceeded"),
        StoreError::InvalidArgument(why) => NmsError::invalid_input(why),
        StoreError::MetadataLimit(limit) => NmsError::policy_error(limit.to_string()),
        StoreError::TooManyKeywords { max } => {
            NmsError::policy_error(format!("too many flags in the folder (at most {max})"))
        }
        StoreError::Locked { .. } | StoreError::LockConflict { .. } => {
            NmsError::status(StatusCode::CONFLICT, "the resource is locked (WebDAV lock)")
        }
        StoreError::AdminOnly(what) => {
            NmsError::policy_error(format!("only an administrator may do this: {what}"))
        }
        StoreError::StorageFull => {
            tracing::warn!("NMS request refused: the server's disk is full");
            NmsError::status(
                StatusCode::INSUFFICIENT_STORAGE,
                "the server's storage is full; nothing was stored",
            )
        }
        StoreError::Unavailable(why) => {
            tracing::warn!(error = %why, "NMS request refused: storage unavailable");
            NmsError::status(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable")
        }
        StoreError::Busy(what) => {
            NmsError::status(StatusCode::SERVICE_UNAVAILABLE, format!("busy ({what})"))
        }
        other => {
            tracing::error!(error = %other, "store error");
            NmsError::status(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_object_is_svc0004_with_its_path_as_in_d12() {
        let e = NmsError::not_found("/nms/v1/cpm/alice/objects/9/flags");
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(
            serde_json::to_value(e.body()).unwrap(),
            serde_json::json!({"requestError": {"serviceException": {
                "messageId": "SVC0004",
                "text": "No valid addresses provided in message part %1",
                "variables": ["/nms/v1/cpm/alice/objects/9/flags"],
            }}})
        );
        let p = NmsError::creation_refused("/Default");
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        let body = serde_json::to_value(p.body()).unwrap();
        assert_eq!(
            body["requestError"]["policyException"]["messageId"],
            "POL1031"
        );
    }
}
