//! Messages back to bytes (RFC 3261 7), and the response a UAS builds for
//! a request (RFC 3261 8.2.6).

use bytes::{BufMut, Bytes, BytesMut};

use super::{Headers, Request, Response};

/// The `Server` and `User-Agent` value.
pub const PRODUCT: &str = concat!("cpm-store/", env!("CARGO_PKG_VERSION"));

/// The reason phrase of `code` (RFC 3261 section 21, RFC 3265, RFC 3428).
/// rsip's `StatusCode` is not used for this: it renders identifiers
/// (`UnsupportedMediaType`) and maps 202 to nothing (its `Accepted` is 201).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        489 => "Bad Event",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        _ => "Unknown",
    }
}

fn put_headers(out: &mut BytesMut, headers: &Headers, body: &[u8]) {
    for (name, value) in headers.iter() {
        if name.eq_ignore_ascii_case("Content-Length") {
            continue;
        }
        out.put_slice(name.as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    out.put_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.put_slice(body);
}

impl Response {
    /// The response for `request` (RFC 3261 8.2.6.2): its Via fields,
    /// From, Call-ID and CSeq copied, To with a tag added unless it has
    /// one or `code` is 100, and the standard reason phrase.
    pub fn to_request(request: &Request, code: u16) -> Response {
        Response::from_headers(&request.headers, code, reason_phrase(code).into())
    }

    /// The same from the header fields of a request that did not parse
    /// or pass validation (a 400, 505 or 513), copying those of Via,
    /// From, To, Call-ID and CSeq it has: `None` without a Via, which
    /// alone says where a response goes (RFC 3261 18.2.2), so that the
    /// request can only be dropped.
    pub fn from_parsed_headers(
        headers: &Headers,
        code: u16,
        reason: impl Into<String>,
    ) -> Option<Response> {
        (headers.count("Via") > 0).then(|| Response::from_headers(headers, code, reason.into()))
    }

    fn from_headers(request: &Headers, code: u16, reason: String) -> Response {
        let mut headers = Headers::new();
        for via in request.all("Via") {
            headers.push("Via", via);
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = request.get(name) {
                let v = if name == "To" && code != 100 && super::param(v, "tag").is_none() {
                    format!("{v};tag={}", new_tag())
                } else {
                    v.to_string()
                };
                headers.push(name, v);
            }
        }
        headers.push("Server", PRODUCT);
        Response {
            code,
            reason: sanitize_reason(&reason),
            headers,
            body: Bytes::new(),
        }
    }

    /// Adds a header field.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push(name, value);
        self
    }

    /// Sets the body and its Content-Type.
    pub fn with_body(mut self, content_type: &str, body: Bytes) -> Response {
        self.headers.push("Content-Type", content_type);
        self.body = body;
        self
    }

    /// The response on the wire, with Content-Length.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(256 + self.body.len());
        out.put_slice(format!("SIP/2.0 {} {}\r\n", self.code, self.reason).as_bytes());
        put_headers(&mut out, &self.headers, &self.body);
        out.freeze()
    }
}

impl Request {
    /// The request on the wire, with Content-Length.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(256 + self.body.len());
        out.put_slice(format!("{} {} SIP/2.0\r\n", self.method, self.uri).as_bytes());
        put_headers(&mut out, &self.headers, &self.body);
        out.freeze()
    }
}

/// A reason phrase with no CR, LF or other control character, at most
/// 100 bytes.
fn sanitize_reason(reason: &str) -> String {
    reason
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect()
}

/// A random tag, branch suffix or Call-ID part: 16 hex digits (64 bits,
/// RFC 3261 19.3).
pub fn new_tag() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// A new RFC 3261 branch (`z9hG4bK` magic cookie, 8.1.1.7).
pub fn new_branch() -> String {
    format!("z9hG4bK{}", new_tag())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{parse_message, Message};

    #[test]
    fn a_response_copies_the_dialog_headers_and_tags_to() {
        let raw = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                   Via: SIP/2.0/UDP g;branch=z9hG4bK0\r\nFrom: <sip:c@d>;tag=9\r\n\
                   To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";
        let Ok(Message::Request(r)) = parse_message(Bytes::from(raw)) else {
            panic!()
        };
        let bytes = Response::to_request(&r, 200).to_bytes();
        let Ok(Message::Response(resp)) = parse_message(bytes) else {
            panic!()
        };
        assert_eq!((resp.code, resp.reason.as_str()), (200, "OK"));
        assert_eq!(resp.headers.count("Via"), 2);
        assert!(resp.headers.get("To").unwrap().contains(";tag="));
        assert_eq!(resp.headers.get("CSeq"), Some("1 OPTIONS"));
        assert_eq!(reason_phrase(415), "Unsupported Media Type");
    }
}
