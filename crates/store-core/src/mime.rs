//! The MIME summary cached per blob: what FETCH (ENVELOPE, BODYSTRUCTURE,
//! BODY[section]) and SEARCH need, parsed once at store time with
//! mail-parser, kept in the database beside the blob's reference count.
//! The decoded text of the body parts, which only SEARCH BODY / TEXT reads
//! and which is as large as the message, is kept apart from the summary
//! ([`ParsedMessage`]), so a FETCH never loads it.
//!
//! Envelope strings are the header values as sent (RFC 3501 7.4.2 ENVELOPE
//! carries them undecoded); addresses are split into name, mailbox and host.
//! Text for SEARCH is decoded (RFC 2047 words, transfer encodings, charsets).

use mail_parser::{
    Address, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use serde::{Deserialize, Serialize};

use crate::model::{CpmHeaders, ObjectKind, UnixTime};

/// Objects larger than this are summarised from their header block only
/// (one part, no decoded text), so that storing a 500 MB media object never
/// loads it whole into memory.
pub const MAX_PARSED_SIZE: u64 = 64 * 1024 * 1024;

/// Most bytes read to find the header block of an object too large to parse.
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// One address of an envelope (RFC 3501 7.4.2). A group start has
/// `mailbox` = group name and `host` = None; a group end has both None.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeAddress {
    /// Display name, decoded.
    pub name: Option<String>,
    /// Local part (or group name).
    pub mailbox: Option<String>,
    /// Domain.
    pub host: Option<String>,
}

/// The RFC 3501 ENVELOPE of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// `Date`, as sent.
    pub date: Option<String>,
    /// `Subject`, as sent.
    pub subject: Option<String>,
    /// `From`.
    pub from: Vec<EnvelopeAddress>,
    /// `Sender` (defaults to From, RFC 3501 7.4.2).
    pub sender: Vec<EnvelopeAddress>,
    /// `Reply-To` (defaults to From).
    pub reply_to: Vec<EnvelopeAddress>,
    /// `To`.
    pub to: Vec<EnvelopeAddress>,
    /// `Cc`.
    pub cc: Vec<EnvelopeAddress>,
    /// `Bcc`.
    pub bcc: Vec<EnvelopeAddress>,
    /// `In-Reply-To`, as sent.
    pub in_reply_to: Option<String>,
    /// `Message-ID`, as sent.
    pub message_id: Option<String>,
}

/// A MIME parameter or header attribute: name and value.
pub type Param = (String, String);

/// One node of the body structure (RFC 3501 7.4.2 BODYSTRUCTURE), with the
/// byte offsets of its header and body in the raw message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyPart {
    /// Media type, lower case (`text`, `multipart`, ...).
    pub media_type: String,
    /// Media subtype, lower case.
    pub media_subtype: String,
    /// Content-Type parameters.
    pub params: Vec<Param>,
    /// Content-ID.
    pub id: Option<String>,
    /// Content-Description.
    pub description: Option<String>,
    /// Content-Transfer-Encoding, as sent (IMAP defaults it to 7BIT).
    pub encoding: Option<String>,
    /// Content-MD5.
    pub md5: Option<String>,
    /// Content-Disposition type and parameters.
    pub disposition: Option<(String, Vec<Param>)>,
    /// Content-Language tags.
    pub language: Vec<String>,
    /// Content-Location.
    pub location: Option<String>,
    /// Offset of the part's header block in the raw message.
    pub header_start: u64,
    /// Offset of the part's body.
    pub body_start: u64,
    /// Offset just past the part's body.
    pub end: u64,
    /// Lines of the body (for `text/*` and `message/rfc822`).
    pub lines: u64,
    /// Sub-parts of a multipart.
    pub children: Vec<BodyPart>,
    /// The envelope and structure of an encapsulated `message/rfc822`.
    pub message: Option<Box<(Envelope, BodyPart)>>,
}

impl BodyPart {
    /// Size of the body in bytes as stored (transfer-encoded).
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.body_start)
    }
}

/// Everything cached about one message blob.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSummary {
    /// Top-level header fields: name as sent, value unfolded and decoded
    /// (for SEARCH HEADER and the CPM headers).
    pub headers: Vec<(String, String)>,
    /// The `Date` header as a timestamp and the sender's UTC offset in
    /// seconds (for SENTBEFORE/SENTON/SENTSINCE, which use the sender's day).
    pub sent: Option<(UnixTime, i32)>,
    /// The envelope.
    pub envelope: Envelope,
    /// The body structure.
    pub body: BodyPart,
    /// Whether the whole message was parsed (false past [`MAX_PARSED_SIZE`]).
    pub complete: bool,
}

impl MessageSummary {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The CPM headers found among the top-level headers.
    pub fn cpm_headers(&self) -> CpmHeaders {
        let get = |n: &str| self.header(n).map(|v| v.trim().to_string());
        CpmHeaders {
            conversation_id: get("Conversation-ID"),
            contribution_id: get("Contribution-ID"),
            in_reply_to_contribution_id: get("InReplyTo-Contribution-ID"),
            imdn_message_id: get("IMDN-Message-ID"),
            message_direction: get("Message-Direction"),
        }
    }

    /// The object kind the content declares: a session history or file
    /// transfer history by its multipart/related `type` parameter, a legacy
    /// message by `Message-Context`, else a CPM message.
    pub fn detect_kind(&self) -> ObjectKind {
        let b = &self.body;
        if b.media_type == "multipart" && b.media_subtype == "related" {
            let ty = b
                .params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("type"))
                .map(|(_, v)| v.to_ascii_lowercase());
            match ty.as_deref() {
                Some("application/x-cpm-session") => return ObjectKind::SessionHistory,
                Some("application/x-cpm-file-transfer") => return ObjectKind::FileTransferHistory,
                _ => {}
            }
        }
        match self
            .header("Message-Context")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            Some(c) if c == "pager-message" || c == "multimedia-message" => {
                ObjectKind::LegacyMessage
            }
            _ => ObjectKind::CpmMessage,
        }
    }
}

/// A message as parsed at store time: its summary, and the decoded text
/// of its text parts, which the store keeps under its own key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedMessage {
    /// What FETCH and SEARCH read of the structure and headers.
    pub summary: MessageSummary,
    /// Decoded text of every text part, separated by LF (for SEARCH BODY
    /// and TEXT only; empty for an object summarised from its header block).
    pub body_text: String,
    /// The RFC 8970 PREVIEW text ([`text_preview`]); empty for an object
    /// summarised from its header block.
    pub preview: String,
}

/// Longest RFC 8970 PREVIEW text, in characters (RFC 8970 section 3.1).
pub const MAX_PREVIEW_CHARS: usize = 256;

/// Characters of a body part read to make its preview: enough for
/// [`MAX_PREVIEW_CHARS`] after whitespace is folded, without walking a
/// large text part whole.
const PREVIEW_SOURCE_CHARS: usize = 64 * 1024;

/// The RFC 8970 PREVIEW text of a message: the message's first text part
/// (`text/plain`, else `text/html` with its markup stripped by
/// mail-parser), control characters and runs of whitespace folded to one
/// space, trimmed, cut to [`MAX_PREVIEW_CHARS`] characters. Empty when
/// the message has no text part.
pub fn text_preview(message: &Message<'_>) -> String {
    let Some(text) = message.body_text(0) else {
        return String::new();
    };
    let mut out = String::new();
    let mut chars = 0;
    let mut space = false;
    for c in text.chars().take(PREVIEW_SOURCE_CHARS) {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if chars + usize::from(space) + 1 > MAX_PREVIEW_CHARS {
            break;
        }
        if space {
            out.push(' ');
            chars += 1;
            space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

/// Parses a whole message (CPU-bound, linear in its size: callers run it
/// off the async workers).
pub fn summarize(raw: &[u8]) -> ParsedMessage {
    match MessageParser::default().parse(raw) {
        Some(message) => {
            let mut parsed = summarize_message(&message, raw);
            parsed.summary.complete = true;
            parsed
        }
        None => {
            // Not parseable as a message at all: one opaque part.
            ParsedMessage {
                summary: MessageSummary {
                    body: opaque_part(0, 0, raw.len() as u64),
                    ..MessageSummary::default()
                },
                body_text: String::new(),
                preview: String::new(),
            }
        }
    }
}

/// Summarises an object too large to parse from its header block only;
/// `total` is the object's size.
pub fn summarize_headers_only(head: &[u8], total: u64) -> MessageSummary {
    let end = find_header_end(head).unwrap_or(head.len());
    let mut s = match MessageParser::default().parse_headers(&head[..end]) {
        Some(m) => summarize_message(&m, &head[..end]).summary,
        None => MessageSummary::default(),
    };
    s.body.body_start = end as u64;
    s.body.end = total;
    s.body.children.clear();
    s.body.lines = 0;
    s.complete = false;
    s
}

fn find_header_end(head: &[u8]) -> Option<usize> {
    if head.starts_with(b"\r\n") {
        return Some(2);
    }
    head.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| head.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
}

fn opaque_part(header_start: u64, body_start: u64, end: u64) -> BodyPart {
    BodyPart {
        media_type: "application".into(),
        media_subtype: "octet-stream".into(),
        header_start,
        body_start,
        end,
        ..BodyPart::default()
    }
}

fn summarize_message(message: &Message<'_>, raw: &[u8]) -> ParsedMessage {
    let root = message.root_part();
    let headers = root
        .headers
        .iter()
        .map(|h| (h.name.as_str().to_string(), header_text(&h.value, raw, h)))
        .collect();
    let sent = message.date().map(|d| {
        let offset = (d.tz_hour as i32 * 3600 + d.tz_minute as i32 * 60)
            * if d.tz_before_gmt { -1 } else { 1 };
        (d.to_timestamp(), offset)
    });
    let mut body_text = String::new();
    for part in &message.parts {
        match &part.body {
            PartType::Text(t) | PartType::Html(t) => {
                if !body_text.is_empty() {
                    body_text.push('\n');
                }
                body_text.push_str(t);
            }
            _ => {}
        }
    }
    ParsedMessage {
        summary: MessageSummary {
            headers,
            sent,
            envelope: envelope(message),
            body: body_part(message, 0, raw),
            complete: false,
        },
        body_text,
        preview: text_preview(message),
    }
}

/// Unfolded text of a header value as sent, decoded where mail-parser
/// decoded it.
fn header_text(value: &HeaderValue<'_>, raw: &[u8], h: &mail_parser::Header<'_>) -> String {
    match value {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(", "),
        _ => raw_value(raw, h.offset_start, h.offset_end),
    }
}

fn raw_value(raw: &[u8], start: u32, end: u32) -> String {
    let bytes = raw.get(start as usize..end as usize).unwrap_or_default();
    let text = String::from_utf8_lossy(bytes);
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn raw_header(message: &Message<'_>, name: &str) -> Option<String> {
    message.header_raw(name).map(|v| {
        v.split(['\r', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn addresses(value: Option<&HeaderValue<'_>>) -> Vec<EnvelopeAddress> {
    let split = |addr: &mail_parser::Addr<'_>| {
        let full = addr.address.as_deref().unwrap_or_default();
        let (mailbox, host) = match full.rsplit_once('@') {
            Some((m, h)) => (Some(m.to_string()), Some(h.to_string())),
            None => (Some(full.to_string()), None),
        };
        EnvelopeAddress {
            name: addr.name.as_ref().map(|n| n.to_string()),
            mailbox,
            host,
        }
    };
    match value.and_then(HeaderValue::as_address) {
        Some(Address::List(list)) => list.iter().map(split).collect(),
        Some(Address::Group(groups)) => {
            let mut out = Vec::new();
            for g in groups {
                match &g.name {
                    Some(name) => {
                        out.push(EnvelopeAddress {
                            name: None,
                            mailbox: Some(name.to_string()),
                            host: None,
                        });
                        out.extend(g.addresses.iter().map(split));
                        out.push(EnvelopeAddress::default());
                    }
                    None => out.extend(g.addresses.iter().map(split)),
                }
            }
            out
        }
        None => Vec::new(),
    }
}

fn envelope(message: &Message<'_>) -> Envelope {
    let root = message.root_part();
    let header = |name: &str| {
        root.headers
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .map(|h| &h.value)
    };
    let from = addresses(header("From"));
    let sender = addresses(header("Sender"));
    let reply_to = addresses(header("Reply-To"));
    Envelope {
        date: raw_header(message, "Date"),
        subject: raw_header(message, "Subject"),
        sender: if sender.is_empty() {
            from.clone()
        } else {
            sender
        },
        reply_to: if reply_to.is_empty() {
            from.clone()
        } else {
            reply_to
        },
        from,
        to: addresses(header("To")),
        cc: addresses(header("Cc")),
        bcc: addresses(header("Bcc")),
        in_reply_to: raw_header(message, "In-Reply-To"),
        message_id: raw_header(message, "Message-ID"),
    }
}

fn body_part(message: &Message<'_>, index: u32, raw: &[u8]) -> BodyPart {
    let Some(part) = message.part(index) else {
        return opaque_part(0, 0, raw.len() as u64);
    };
    let mut node = part_fields(part);
    node.header_start = part.offset_header as u64;
    node.body_start = part.offset_body as u64;
    node.end = part.offset_end as u64;
    let body = raw
        .get(part.offset_body as usize..part.offset_end as usize)
        .unwrap_or_default();
    match &part.body {
        PartType::Multipart(children) => {
            node.children = children
                .iter()
                .map(|c| body_part(message, *c, raw))
                .collect();
        }
        PartType::Message(inner) => {
            node.lines = count_lines(body);
            let inner_raw = inner.raw_message();
            let mut inner_body = body_part(inner, 0, inner_raw);
            shift(&mut inner_body, part.offset_body as u64);
            node.message = Some(Box::new((envelope(inner), inner_body)));
        }
        _ => {
            if node.media_type == "text" {
                node.lines = count_lines(body);
            }
        }
    }
    node
}

/// Moves offsets of an encapsulated message's parts into the outer message.
fn shift(part: &mut BodyPart, by: u64) {
    part.header_start += by;
    part.body_start += by;
    part.end += by;
    for c in &mut part.children {
        shift(c, by);
    }
    if let Some(m) = &mut part.message {
        shift(&mut m.1, by);
    }
}

fn count_lines(body: &[u8]) -> u64 {
    let n = body.iter().filter(|b| **b == b'\n').count() as u64;
    if body.last().is_some_and(|b| *b != b'\n') {
        n + 1
    } else {
        n
    }
}

fn part_fields(part: &MessagePart<'_>) -> BodyPart {
    let (media_type, media_subtype, params) = match part.content_type() {
        Some(ct) => (
            ct.c_type.to_ascii_lowercase(),
            ct.c_subtype
                .as_deref()
                .map(str::to_ascii_lowercase)
                .unwrap_or_default(),
            attributes(ct.attributes.as_deref()),
        ),
        None => match &part.body {
            PartType::Multipart(_) => ("multipart".into(), "mixed".into(), Vec::new()),
            PartType::Message(_) => ("message".into(), "rfc822".into(), Vec::new()),
            _ => (
                "text".into(),
                "plain".into(),
                vec![("charset".into(), "us-ascii".into())],
            ),
        },
    };
    let text = |name: &str| {
        part.headers
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .and_then(|h| match &h.value {
                HeaderValue::Text(t) => Some(t.to_string()),
                HeaderValue::TextList(l) => Some(l.join(" ")),
                _ => None,
            })
    };
    BodyPart {
        media_type,
        media_subtype,
        params,
        id: text("Content-ID").map(|id| {
            if id.starts_with('<') {
                id
            } else {
                format!("<{id}>")
            }
        }),
        description: text("Content-Description"),
        encoding: text("Content-Transfer-Encoding"),
        md5: text("Content-MD5"),
        disposition: part.content_disposition().map(|d| {
            (
                d.c_type.to_ascii_lowercase(),
                attributes(d.attributes.as_deref()),
            )
        }),
        language: part
            .headers
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case("Content-Language"))
            .map(|h| match &h.value {
                HeaderValue::Text(t) => vec![t.to_string()],
                HeaderValue::TextList(l) => l.iter().map(|s| s.to_string()).collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default(),
        location: text("Content-Location"),
        ..BodyPart::default()
    }
}

fn attributes(attrs: Option<&[mail_parser::Attribute<'_>]>) -> Vec<Param> {
    attrs
        .unwrap_or_default()
        .iter()
        .map(|a| (a.name.to_string(), a.value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTIPART: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: bob@example.com, Carol <carol@example.org>\r\n\
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\
Date: Tue, 1 Jul 2025 10:00:00 +0200\r\n\
Message-ID: <m1@example.com>\r\n\
Conversation-ID: conv-1\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello W\xc3\xb6rld\r\n\
second line\r\n\
--b1\r\n\
Content-Type: image/png; name=dot.png\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=dot.png\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--b1--\r\n";

    #[test]
    fn envelope_structure_and_text_of_a_multipart() {
        let ParsedMessage {
            summary: s,
            body_text,
            ..
        } = summarize(MULTIPART);
        assert!(s.complete);
        assert_eq!(
            s.envelope.subject.as_deref(),
            Some("=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=")
        );
        assert_eq!(s.envelope.from[0].mailbox.as_deref(), Some("alice"));
        assert_eq!(s.envelope.from[0].host.as_deref(), Some("example.com"));
        assert_eq!(s.envelope.sender, s.envelope.from);
        assert_eq!(s.envelope.to.len(), 2);
        assert_eq!(s.envelope.message_id.as_deref(), Some("<m1@example.com>"));
        assert_eq!(s.header("subject"), Some("Grüße"));
        assert_eq!(s.cpm_headers().conversation_id.as_deref(), Some("conv-1"));
        assert_eq!(s.body.media_type, "multipart");
        assert_eq!(s.body.children.len(), 2);
        let text = &s.body.children[0];
        assert_eq!((text.media_type.as_str(), text.lines), ("text", 2));
        let image = &s.body.children[1];
        assert_eq!(image.media_subtype, "png");
        assert_eq!(image.encoding.as_deref(), Some("base64"));
        assert_eq!(image.disposition.as_ref().unwrap().0, "attachment");
        assert_eq!(
            &MULTIPART[image.body_start as usize..][..12],
            b"iVBORw0KGgo="
        );
        assert!(body_text.contains("Hello Wörld"));
        assert_eq!(s.sent.unwrap().1, 7200);
    }

    #[test]
    fn kinds_are_detected_from_content() {
        let session = b"Content-Type: multipart/related; type=\"Application/X-CPM-Session\"; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n";
        assert_eq!(
            summarize(session).summary.detect_kind(),
            ObjectKind::SessionHistory
        );
        let legacy = b"Message-Context: pager-message\r\n\r\nhi\r\n";
        assert_eq!(
            summarize(legacy).summary.detect_kind(),
            ObjectKind::LegacyMessage
        );
        assert_eq!(
            summarize(b"Subject: x\r\n\r\nhi\r\n").summary.detect_kind(),
            ObjectKind::CpmMessage
        );
    }

    #[test]
    fn headers_only_summary_covers_whole_size() {
        let s = summarize_headers_only(
            b"Subject: big\r\nContent-Type: video/mp4\r\n\r\nAAAA",
            1 << 30,
        );
        assert!(!s.complete);
        assert_eq!(s.body.end, 1 << 30);
        assert_eq!(s.body.media_subtype, "mp4");
    }

    #[test]
    fn rfc8970_preview_is_folded_stripped_and_bounded() {
        let plain = summarize(b"Subject: x\r\n\r\n  Hello,\r\n\r\n\tworld!  \r\n");
        assert_eq!(plain.preview, "Hello, world!");
        let html = summarize(
            b"Content-Type: text/html\r\n\r\n<html><body><p>Big <b>news</b></p>\
<p>today</p></body></html>\r\n",
        );
        assert!(!html.preview.contains('<'), "{:?}", html.preview);
        assert!(html.preview.contains("Big news"), "{:?}", html.preview);
        assert!(html.preview.contains("today"), "{:?}", html.preview);
        let alternative = summarize(
            b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nplain part\r\n--b\r\n\
Content-Type: text/html\r\n\r\n<p>html part</p>\r\n--b--\r\n",
        );
        assert_eq!(alternative.preview, "plain part");
        let long = format!("Subject: x\r\n\r\n{}\r\n", "\u{e9}t\u{e9} ".repeat(200));
        let p = summarize(long.as_bytes()).preview;
        assert!(p.chars().count() <= MAX_PREVIEW_CHARS);
        assert!(p.chars().count() >= MAX_PREVIEW_CHARS - 4);
        assert!(!p.ends_with(' '));
        let none = summarize(b"Content-Type: image/png\r\n\r\nxx\r\n");
        assert_eq!(none.preview, "");
    }
}
