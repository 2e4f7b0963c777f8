//! OPTIONS (RFC 9110 9.3.7, RFC 4918 10.1): the methods and DAV classes,
//! answered without authentication (Windows' WebDAV client asks first).

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::service::{status, Body};

/// The methods every resource allows.
pub const ALLOW: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK, REPORT";

/// `200 OK` with `Allow`, `DAV: 1, 2` (added for every response) and the
/// Microsoft authoring hint.
pub fn handle() -> Response<Body> {
    let mut r = status(StatusCode::OK);
    let h = r.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    h.insert("MS-Author-Via", HeaderValue::from_static("DAV"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}
