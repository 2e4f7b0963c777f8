//! The message an NMS object is stored as: its attributes become the
//! header fields (Appendix I, read back by [`crate::representation`]) and
//! its payload (the `attachments` part of the creation request, TS 6.1.5)
//! the body, so that IMAP, WebDAV and SIP serve the same object.
//!
//! Header values are written 7-bit: a value with other characters is an
//! RFC 2047 encoded word (UTF-8, base64); CR and LF never reach a header.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::error::{NmsError, NmsResult};
use crate::types::Object;

/// Attributes that name an address list header (RFC 5322 3.6.2, 3.6.3).
const ADDRESS_ATTRIBUTES: [&str; 4] = ["From", "To", "Cc", "Bcc"];

/// Attributes the server derives and a client cannot set as headers:
/// the MIME structure is the payload's, `TextContent` is the body,
/// `Direction` becomes CPM `Message-Direction`.
const DERIVED_ATTRIBUTES: [&str; 6] = [
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
    "TextContent",
    "Direction",
    "Date",
];

/// Most header bytes the attributes of one object may make.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The payload of a creation request as its `attachments` part declares
/// it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadHeaders {
    /// Its `Content-Type` (`application/octet-stream` when absent).
    pub content_type: String,
    /// Its `Content-Transfer-Encoding`, if it has one.
    pub transfer_encoding: Option<String>,
}

/// The header block (ending in the empty line) of the message object
/// `object` is stored as, with `payload` the attachments part's headers
/// (`None`: no attachments part; then the `TextContent` attribute, if
/// any, is the body, returned as the second value). A single-part
/// payload without a transfer encoding is declared `binary` (RFC 3030:
/// stored as sent, whatever its bytes), as a WebDAV PUT's file is.
///
/// `Date` comes from the attribute (an `xsd:dateTime`), else `now` (Unix
/// seconds); `Message-ID` from `correlationId`, else a new one.
///
/// Errors: SVC0002 naming an attribute whose name is no header field
/// name (RFC 5322 3.6.8) or whose `Date` is no date, or when the block
/// would pass [`MAX_HEADER_BYTES`].
pub fn header_block(
    object: &Object,
    payload: Option<&PayloadHeaders>,
    now: i64,
) -> NmsResult<(String, Option<String>)> {
    let mut out = String::new();
    let attribute = |name: &str| object.attributes.get(name).and_then(|v| v.first());
    let date = match attribute("Date") {
        Some(d) => store_core::model::parse_rfc3339(d)
            .ok_or_else(|| NmsError::invalid_input("attribute Date"))?,
        None => now,
    };
    out.push_str(&format!("Date: {}\r\n", rfc5322_date(date)));
    for a in &object.attributes.attribute {
        let name = a.name.as_str();
        if DERIVED_ATTRIBUTES
            .iter()
            .any(|d| d.eq_ignore_ascii_case(name))
        {
            continue;
        }
        if name.is_empty()
            || name.len() > 76
            || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        {
            return Err(NmsError::invalid_input(format!("attribute {name}")));
        }
        if a.value.is_empty() {
            continue;
        }
        let value = if ADDRESS_ATTRIBUTES
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            a.value
                .iter()
                .map(|v| address(v))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            a.value
                .iter()
                .map(|v| encoded_word(v))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let direction = match attribute("Direction").map(|d| d.to_ascii_lowercase()) {
        Some(d) if d == "in" => Some("received"),
        Some(d) if d == "out" => Some("sent"),
        Some(_) => {
            return Err(NmsError::invalid_value(
                "attribute Direction",
                &["In", "Out"],
            ))
        }
        None => None,
    };
    if let Some(d) = direction {
        out.push_str(&format!("Message-Direction: {d}\r\n"));
    }
    if object.attributes.get("Message-ID").is_none() {
        let id = object
            .correlation_id
            .as_deref()
            .map(|c| c.trim_matches(|ch| ch == '<' || ch == '>').to_string())
            .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| format!("{}@cpm-store", uuid::Uuid::new_v4()));
        out.push_str(&format!("Message-ID: <{id}>\r\n"));
    }
    out.push_str("MIME-Version: 1.0\r\n");
    let text = match payload {
        Some(p) => {
            let ct = one_line(&p.content_type);
            out.push_str(&format!("Content-Type: {ct}\r\n"));
            let composite = ["multipart/", "message/"]
                .iter()
                .any(|c| ct.to_ascii_lowercase().starts_with(c));
            match (&p.transfer_encoding, composite) {
                (Some(cte), _) => {
                    out.push_str(&format!("Content-Transfer-Encoding: {}\r\n", one_line(cte)))
                }
                (None, false) => out.push_str("Content-Transfer-Encoding: binary\r\n"),
                (None, true) => {}
            }
            None
        }
        None => {
            let text = attribute("TextContent").cloned();
            out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
            if text.as_deref().is_some_and(|t| !t.is_ascii()) {
                out.push_str("Content-Transfer-Encoding: 8bit\r\n");
            }
            text
        }
    };
    out.push_str("\r\n");
    if out.len() > MAX_HEADER_BYTES {
        return Err(NmsError::invalid_input("attributes (too large)"));
    }
    Ok((out, text))
}

/// `value` with CR and LF replaced by spaces.
fn one_line(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// An address for an address list header: as given when it has angle
/// brackets, else `<value>` (`<tel:+15551234567>`, as CPM writes URIs).
fn address(value: &str) -> String {
    let value = one_line(value.trim());
    if value.contains('<') || !value.is_ascii() {
        encoded_word(&value)
    } else {
        format!("<{value}>")
    }
}

/// `value` as is when it is printable ASCII, else one RFC 2047 encoded
/// word (`=?UTF-8?B?…?=`).
fn encoded_word(value: &str) -> String {
    let value = one_line(value);
    if value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    {
        value
    } else {
        format!("=?UTF-8?B?{}?=", STANDARD.encode(value.as_bytes()))
    }
}

/// A Unix time as an RFC 5322 3.3 date (`Tue, 20 Aug 2013 02:51:59 +0000`).
pub fn rfc5322_date(t: i64) -> String {
    store_core::dates::rfc5322(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Attribute, AttributeList};

    fn object(attributes: &[(&str, &[&str])]) -> Object {
        Object {
            attributes: AttributeList {
                attribute: attributes
                    .iter()
                    .map(|(n, v)| Attribute {
                        name: n.to_string(),
                        value: v.iter().map(|s| s.to_string()).collect(),
                    })
                    .collect(),
            },
            correlation_id: Some("abc123".into()),
            ..Object::default()
        }
    }

    #[test]
    fn attributes_become_header_fields() {
        let o = object(&[
            ("Date", &["2013-11-12T08:30:10Z"]),
            ("From", &["tel:+15551234567"]),
            ("To", &["tel:+1555000", "Bob <sip:bob@example.com>"]),
            ("Subject", &["Grüße\r\nBcc: x"]),
            ("Direction", &["Out"]),
            ("Conversation-ID", &["c-1"]),
            ("TextContent", &["hello"]),
        ]);
        let (block, text) = header_block(&o, None, 0).unwrap();
        assert!(
            block.starts_with("Date: Tue, 12 Nov 2013 08:30:10 +0000\r\n"),
            "{block}"
        );
        assert!(block.contains("From: <tel:+15551234567>\r\n"));
        assert!(block.contains("To: <tel:+1555000>, Bob <sip:bob@example.com>\r\n"));
        assert!(block.contains("Subject: =?UTF-8?B?"));
        assert!(!block.contains("\nBcc"));
        assert!(block.contains("Message-Direction: sent\r\n"));
        assert!(block.contains("Conversation-ID: c-1\r\n"));
        assert!(block.contains("Message-ID: <abc123>\r\n"));
        assert!(block.ends_with("Content-Type: text/plain; charset=utf-8\r\n\r\n"));
        assert_eq!(text.as_deref(), Some("hello"));
        let mixed = PayloadHeaders {
            content_type: "multipart/mixed; boundary=x".into(),
            transfer_encoding: None,
        };
        let (block, text) = header_block(&o, Some(&mixed), 0).unwrap();
        assert!(block.ends_with("Content-Type: multipart/mixed; boundary=x\r\n\r\n"));
        assert_eq!(text, None);
        let gif = PayloadHeaders {
            content_type: "image/gif".into(),
            transfer_encoding: None,
        };
        let (block, _) = header_block(&o, Some(&gif), 0).unwrap();
        assert!(block.ends_with("image/gif\r\nContent-Transfer-Encoding: binary\r\n\r\n"));
        let encoded = PayloadHeaders {
            content_type: "image/gif".into(),
            transfer_encoding: Some("base64".into()),
        };
        let (block, _) = header_block(&o, Some(&encoded), 0).unwrap();
        assert!(block.ends_with("Content-Transfer-Encoding: base64\r\n\r\n"));
    }

    #[test]
    fn bad_attributes_are_refused() {
        assert!(header_block(&object(&[("Bad Name", &["x"])]), None, 0).is_err());
        assert!(header_block(&object(&[("Date", &["yesterday"])]), None, 0).is_err());
        assert!(header_block(&object(&[("Direction", &["Up"])]), None, 0).is_err());
    }
}
