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

use mail_parser::{HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

use crate::model::{CpmHeaders, ObjectKind, UnixTime};

/// Objects larger than this are summarised from their header block only
/// (one part, no decoded text), so that storing a 500 MB media object never
/// loads it whole into memory.
pub const MAX_PARSED_SIZE: u64 = 64 * 1024 * 1024;

/// Most bytes read to find the header block of an object too large to parse.
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// The media type of an RCS group state object (GSMA RCC.07, Common
/// Message Store: the XML document of a group chat's participants,
/// subject and focus, which the network keeps in the conversation).
pub const GROUP_STATE_OBJECT_TYPE: &str = "application/group-state-object+xml";

/// The `Message-Context` (RFC 3458 header field) of a group state object
/// as RCS stores it.
pub const GROUP_STATE_CONTEXT: &str = "group-state-object";

/// One address of an envelope (RFC 3501 7.4.2). A group start has
/// `mailbox` = group name and `host` = None; a group end has both None.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeAddress {
    /// Display name as sent, RFC 2047 words still encoded (RFC 3501
    /// 7.4.2; summaries stored by earlier builds hold it decoded).
    pub name: Option<String>,
    /// The source route (RFC 3501 7.4.2 `addr-adl`, RFC 5322 4.4
    /// obs-route): the at-domain-list of `<@a,@b:user@host>` as
    /// `@a,@b`; None without one.
    pub adl: Option<String>,
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
    /// Top-level header fields: name as sent, value as sent and unfolded,
    /// RFC 2047 words decoded (for SEARCH HEADER and the CPM headers).
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
    /// transfer history by its multipart/related `type` parameter, an RCS
    /// group state object by its media type
    /// ([`GROUP_STATE_OBJECT_TYPE`]) or `Message-Context:
    /// group-state-object`, a legacy message by `Message-Context`
    /// (`pager-message`, `multimedia-message`: RFC 3458 4), else a CPM
    /// message. One rule for IMAP APPEND, WebDAV PUT, NMS creation and
    /// SIP deposits.
    pub fn detect_kind(&self) -> ObjectKind {
        let b = &self.body;
        if GROUP_STATE_OBJECT_TYPE.split_once('/')
            == Some((b.media_type.as_str(), b.media_subtype.as_str()))
        {
            return ObjectKind::GroupStateObject;
        }
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
            Some(c) if c == GROUP_STATE_CONTEXT => ObjectKind::GroupStateObject,
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
        .map(|h| (h.name.as_str().to_string(), header_text(raw, h)))
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
            body: {
                let mut body = body_part(message, 0, raw);
                clamp_to_delimiters(&mut body, raw, &[], u64::MAX);
                body
            },
            complete: false,
        },
        body_text,
        preview: text_preview(message),
    }
}

/// A header field's value for SEARCH HEADER and the CPM headers: the
/// field body as sent, unfolded (RFC 3501 6.4.4: `<id@host>` keeps its
/// brackets, References all its ids), with RFC 2047 words decoded where it
/// has any (so SUBJECT and HEADER match the text a user reads).
fn header_text(raw: &[u8], h: &mail_parser::Header<'_>) -> String {
    let value = raw_value(raw, h.offset_start, h.offset_end);
    if value.contains("=?") {
        decode_words(&value)
    } else {
        value
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

/// A lexical token of an address header (RFC 5322 3.2).
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// An atom or dot-atom, as sent (encoded words stay encoded).
    Atom(String),
    /// A quoted string's content, unescaped.
    Quoted(String),
    /// A comment's content.
    Comment(String),
    /// One of `< > : ; , @`.
    Special(char),
}

/// Most tokens read of one address header (a hostile header cannot make
/// the envelope unbounded).
const MAX_ADDRESS_TOKENS: usize = 10_000;

fn tokens(value: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() >= MAX_ADDRESS_TOKENS {
            break;
        }
        match c {
            c if c.is_whitespace() => {}
            '(' => {
                let (mut depth, mut text) = (1, String::new());
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => text.extend(chars.next()),
                        '(' => {
                            depth += 1;
                            text.push(c);
                        }
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            text.push(c);
                        }
                        _ => text.push(c),
                    }
                }
                out.push(Token::Comment(text));
            }
            '"' => {
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => text.extend(chars.next()),
                        '"' => break,
                        _ => text.push(c),
                    }
                }
                out.push(Token::Quoted(text));
            }
            '<' | '>' | ':' | ';' | ',' | '@' => out.push(Token::Special(c)),
            _ => {
                let mut text = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "()\"<>:;,@".contains(c) {
                        break;
                    }
                    text.push(c);
                    chars.next();
                }
                out.push(Token::Atom(text));
            }
        }
    }
    out
}

/// The envelope addresses of an address header's raw unfolded value
/// (RFC 3501 7.4.2, RFC 5322 3.4): display names as sent (RFC 2047 words
/// still encoded, quotes removed), a comment as the name of a bare
/// addr-spec, the source route (`<@a,@b:user@host>`) as `adl` `@a,@b`,
/// groups as a start marker (NIL host, the name as mailbox) and an end
/// marker (all NIL). Comments alone (`group: (foo) ;`) are no address.
/// A missing local part or domain becomes `MISSING_MAILBOX` /
/// `MISSING_DOMAIN` as in Dovecot.
pub fn parse_addresses(value: &str) -> Vec<EnvelopeAddress> {
    let toks = tokens(value);
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_group = false;
    while i < toks.len() {
        // One item: tokens up to `,` / `;` outside angle brackets, or a
        // group's `:`.
        let start = i;
        let mut angle = false;
        while i < toks.len() {
            match toks[i] {
                Token::Special('<') => angle = true,
                Token::Special('>') => angle = false,
                Token::Special(',') | Token::Special(';') if !angle => break,
                Token::Special(':') if !angle && !in_group => break,
                _ => {}
            }
            i += 1;
        }
        let item = &toks[start..i];
        match toks.get(i) {
            Some(Token::Special(':')) => {
                out.push(EnvelopeAddress {
                    mailbox: Some(phrase(item).unwrap_or_default()),
                    ..EnvelopeAddress::default()
                });
                in_group = true;
            }
            Some(Token::Special(';')) if in_group => {
                out.extend(mailbox(item));
                out.push(EnvelopeAddress::default());
                in_group = false;
            }
            _ => out.extend(mailbox(item)),
        }
        i += 1;
    }
    if in_group {
        out.push(EnvelopeAddress::default());
    }
    out
}

/// The words of a phrase joined by single spaces, or None when empty.
fn phrase(toks: &[Token]) -> Option<String> {
    let words: Vec<&str> = toks
        .iter()
        .filter_map(|t| match t {
            Token::Atom(w) | Token::Quoted(w) => Some(w.as_str()),
            _ => None,
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// One mailbox (`name <addr>` or `addr (comment)`); None for an item
/// with no address in it.
fn mailbox(item: &[Token]) -> Option<EnvelopeAddress> {
    let comment = || {
        item.iter().rev().find_map(|t| match t {
            Token::Comment(c) if !c.trim().is_empty() => Some(c.trim().to_string()),
            _ => None,
        })
    };
    let mut adl = None;
    let (name, spec) = match item.iter().position(|t| *t == Token::Special('<')) {
        Some(open) => {
            let close = item
                .iter()
                .position(|t| *t == Token::Special('>'))
                .unwrap_or(item.len())
                .max(open + 1);
            let mut spec = &item[open + 1..close];
            // A source route (`@a,@b:`, RFC 5322 4.4 obs-route).
            if let Some(colon) = spec.iter().position(|t| *t == Token::Special(':')) {
                adl = route(&spec[..colon]);
                spec = &spec[colon + 1..];
            }
            (phrase(&item[..open]).or_else(comment), spec)
        }
        None => (comment(), item),
    };
    let at = spec.iter().rposition(|t| *t == Token::Special('@'));
    let (local, domain) = match at {
        Some(at) => (&spec[..at], &spec[at + 1..]),
        None => (spec, &spec[spec.len()..]),
    };
    let word = |toks: &[Token]| {
        let w: String = toks
            .iter()
            .filter_map(|t| match t {
                Token::Atom(w) | Token::Quoted(w) => Some(w.as_str()),
                _ => None,
            })
            .collect();
        (!w.is_empty()).then_some(w)
    };
    let (local, domain) = (word(local), word(domain));
    if local.is_none() && domain.is_none() && at.is_none() {
        return None;
    }
    Some(EnvelopeAddress {
        name,
        adl,
        mailbox: Some(local.unwrap_or_else(|| "MISSING_MAILBOX".into())),
        host: Some(domain.unwrap_or_else(|| "MISSING_DOMAIN".into())),
    })
}

/// The at-domain-list of an obs-route's tokens (before its `:`) as
/// `@a,@b` (RFC 5322 4.4 obs-domain-list: `@` domains separated by
/// commas, comments and empty elements dropped); None when it names no
/// domain.
fn route(toks: &[Token]) -> Option<String> {
    let domains: Vec<&str> = toks
        .split(|t| *t == Token::Special(','))
        .filter_map(|element| match element {
            [Token::Special('@'), rest @ ..] => {
                let domain = rest.iter().find_map(|t| match t {
                    Token::Atom(w) | Token::Quoted(w) => Some(w.as_str()),
                    _ => None,
                });
                domain
            }
            _ => None,
        })
        .collect();
    (!domains.is_empty()).then(|| {
        domains
            .iter()
            .map(|d| format!("@{d}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// `value` with its RFC 2047 encoded words decoded (for SEARCH, which
/// matches decoded text); `value` itself when it has none.
pub fn decode_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let head = format!("Subject: {value}\r\n\r\n");
    MessageParser::default()
        .parse_headers(head.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| value.to_string())
}

fn envelope(message: &Message<'_>) -> Envelope {
    let list = |name: &str| {
        raw_header(message, name)
            .map(|v| parse_addresses(&v))
            .unwrap_or_default()
    };
    let from = list("From");
    let sender = list("Sender");
    let reply_to = list("Reply-To");
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
        to: list("To"),
        cc: list("Cc"),
        bcc: list("Bcc"),
        in_reply_to: raw_header(message, "In-Reply-To"),
        message_id: raw_header(message, "Message-ID"),
    }
}

fn body_part(message: &Message<'_>, index: u32, raw: &[u8]) -> BodyPart {
    let Some(part) = message.part(index) else {
        return opaque_part(0, 0, raw.len() as u64);
    };
    let mut node = part_fields(part, raw);
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
            let inner_body = if std::ptr::eq(inner.raw_message.as_ref(), raw) {
                // A 7bit/8bit/binary message/rfc822 is parsed in place:
                // mail-parser gives its parts offsets into the outer
                // message already, so they are used as they are.
                let mut b = body_part(inner, 0, raw);
                // The encapsulated message is the whole body of the part
                // (mail-parser ends it at its last boundary, before an
                // epilogue).
                b.header_start = part.offset_body as u64;
                b.end = part.offset_end as u64;
                b
            } else {
                // A transfer-encoded one (base64, quoted-printable) was
                // parsed from its decoded bytes, which the raw message
                // does not hold: its structure is kept, and every section
                // inside it is the part's encoded body.
                let mut b = body_part(inner, 0, inner.raw_message.as_ref());
                pin(&mut b, part.offset_body as u64, part.offset_end as u64);
                b
            };
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

/// Enclosing boundaries a part is checked against (the nearest ones).
const MAX_CLAMP_BOUNDARIES: usize = 8;

/// Ends every part at the first delimiter line of an enclosing multipart
/// (RFC 2046 5.1.1: a body part never contains its ancestors' delimiters;
/// 5.1.2: a multipart whose close-delimiter is missing ends where an
/// enclosing one's delimiter comes, as Dovecot ends it), recounting its
/// lines when it shrinks. mail-parser runs such a part on to the end of
/// the enclosing part. Cost: one scan of each part per enclosing boundary,
/// at most [`MAX_CLAMP_BOUNDARIES`] of them.
fn clamp_to_delimiters(part: &mut BodyPart, raw: &[u8], enclosing: &[Vec<u8>], limit: u64) {
    let original = part.end;
    part.end = part.end.min(limit);
    // The nearest enclosing boundaries only, so a hostile nesting depth
    // does not multiply the scans.
    let nearest = &enclosing[enclosing.len().saturating_sub(MAX_CLAMP_BOUNDARIES)..];
    for boundary in nearest {
        if let Some(end) = find_delimiter(raw, part.body_start, part.end, boundary) {
            part.end = end;
        }
    }
    if part.end != original && (part.media_type == "text" || part.message.is_some()) {
        let body = raw
            .get(part.body_start as usize..part.end as usize)
            .unwrap_or_default();
        part.lines = count_lines(body);
    }
    let end = part.end;
    if let Some(inner) = &mut part.message {
        clamp_to_delimiters(&mut inner.1, raw, enclosing, end);
    }
    if part.children.is_empty() {
        return;
    }
    let mut inner = enclosing.to_vec();
    if let Some((_, b)) = part
        .params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("boundary"))
    {
        inner.push(format!("--{b}").into_bytes());
    }
    for child in &mut part.children {
        clamp_to_delimiters(child, raw, &inner, end);
    }
}

/// Where the first line starting with `delimiter` (`--boundary`) in
/// `raw[start..end]` begins, less the line end before it (which belongs
/// to the delimiter, RFC 2046 5.1.1).
fn find_delimiter(raw: &[u8], start: u64, end: u64, delimiter: &[u8]) -> Option<u64> {
    let body = raw.get(start as usize..end as usize)?;
    if body.starts_with(delimiter) {
        return Some(start);
    }
    let at = body
        .windows(delimiter.len() + 1)
        .position(|w| w[0] == b'\n' && &w[1..] == delimiter)?;
    let cut = if at > 0 && body[at - 1] == b'\r' {
        at - 1
    } else {
        at
    };
    Some(start + cut as u64)
}

/// Points every offset of an encoded message's parts at `start..end`.
fn pin(part: &mut BodyPart, start: u64, end: u64) {
    part.header_start = start;
    part.body_start = start;
    part.end = end;
    for c in &mut part.children {
        pin(c, start, end);
    }
    if let Some(m) = &mut part.message {
        pin(&mut m.1, start, end);
    }
}

/// body-fld-lines (RFC 3501 7.4.2): the line ends in the body, so an
/// unterminated last line is not counted (as Dovecot counts).
fn count_lines(body: &[u8]) -> u64 {
    body.iter().filter(|b| **b == b'\n').count() as u64
}

fn part_fields(part: &MessagePart<'_>, raw: &[u8]) -> BodyPart {
    let (media_type, media_subtype, params) = match part.content_type() {
        Some(ct) => (
            ct.c_type.to_ascii_lowercase(),
            ct.c_subtype
                .as_deref()
                .map(str::to_ascii_lowercase)
                .unwrap_or_default(),
            raw_params(part, raw, "Content-Type")
                .unwrap_or_else(|| attributes(ct.attributes.as_deref())),
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
                raw_params(part, raw, "Content-Disposition")
                    .unwrap_or_else(|| attributes(d.attributes.as_deref())),
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

/// The parameters of header `name` of `part` as sent (RFC 2045 5.1
/// `*(";" parameter)`, quoted strings unquoted, names in lower case): RFC 2231 names such as
/// `filename*` and their values stay as written, in their order, as
/// Dovecot sends them (clients decode them; decoding here would put raw
/// 8-bit text into BODYSTRUCTURE). `None` when the header is absent.
fn raw_params(part: &MessagePart<'_>, raw: &[u8], name: &str) -> Option<Vec<Param>> {
    let h = part
        .headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    let value = raw_value(raw, h.offset_start, h.offset_end);
    let mut chars = value.chars().peekable();
    let mut params = Vec::new();
    // Skip the type (or disposition type).
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ';') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') {
            continue;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => val.extend(chars.next()),
                    '"' => break,
                    _ => val.push(c),
                }
            }
            while chars.peek().is_some_and(|c| *c != ';') {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ';' {
                    break;
                }
                val.push(c);
                chars.next();
            }
        }
        let key = key.trim();
        if !key.is_empty() {
            // Names are case-insensitive (RFC 2045 5.1); lower case as
            // mail-parser and Dovecot give them.
            params.push((key.to_ascii_lowercase(), val.trim_end().to_string()));
        }
        if params.len() >= 100 {
            break;
        }
    }
    // RFC 2231 parameters (`name*`, `name*0`) after the plain ones, as
    // Dovecot orders them.
    params.sort_by_key(|(k, _)| k.contains('*'));
    Some(params)
}

fn attributes(attrs: Option<&[mail_parser::Attribute<'_>]>) -> Vec<Param> {
    attrs
        .unwrap_or_default()
        .iter()
        .map(|a| (a.name.to_string(), a.value.to_string()))
        .collect()
}

/// The addresses of an RFC 5322 address list header value, each the
/// `addr-spec` in angle brackets where there is one, else the item
/// itself (`tel:+15551234567`, `alice@example.com`, as CPM writes URIs);
/// commas inside quotes or angle brackets do not split (RFC 5322 3.4).
pub fn address_specs(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                items.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&value[start..]);
    items
        .into_iter()
        .filter_map(|item| {
            let item = item.trim();
            let spec = match (item.rfind('<'), item.rfind('>')) {
                (Some(open), Some(close)) if open < close => &item[open + 1..close],
                _ => item,
            };
            let spec = spec.trim();
            (!spec.is_empty()).then(|| spec.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists_split_outside_quotes_and_brackets() {
        assert_eq!(
            address_specs("\"Doe, Jane\" <tel:+15551234567>, bob@example.com ,<sip:c@d;x=1,2>"),
            vec!["tel:+15551234567", "bob@example.com", "sip:c@d;x=1,2"]
        );
        assert!(address_specs(" , ").is_empty());
    }

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
        // Ids keep their brackets (SEARCH HEADER Message-ID "<m1@...>").
        assert_eq!(s.header("message-id"), Some("<m1@example.com>"));
        assert_eq!(s.cpm_headers().conversation_id.as_deref(), Some("conv-1"));
        assert_eq!(s.body.media_type, "multipart");
        assert_eq!(s.body.children.len(), 2);
        let text = &s.body.children[0];
        // "Hello Wörld\r\nsecond line": the CRLF before the delimiter is the
        // delimiter's (RFC 2046 5.1.1), so one line end, as Dovecot counts.
        assert_eq!((text.media_type.as_str(), text.lines), ("text", 1));
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
        let cases: [(&[u8], ObjectKind); 5] = [
            (
                b"Content-Type: multipart/related; type=\"Application/X-CPM-Session\"; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n",
                ObjectKind::SessionHistory,
            ),
            (
                b"Message-Context: pager-message\r\n\r\nhi\r\n",
                ObjectKind::LegacyMessage,
            ),
            (b"Subject: x\r\n\r\nhi\r\n", ObjectKind::CpmMessage),
            (
                b"Content-Type: Application/Group-State-Object+XML\r\n\r\n<groupstate/>\r\n",
                ObjectKind::GroupStateObject,
            ),
            (
                b"Message-Context: Group-State-Object\r\n\r\n<groupstate/>\r\n",
                ObjectKind::GroupStateObject,
            ),
        ];
        for (raw, kind) in cases {
            assert_eq!(
                summarize(raw).summary.detect_kind(),
                kind,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
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

    fn addr(name: Option<&str>, mailbox: Option<&str>, host: Option<&str>) -> EnvelopeAddress {
        EnvelopeAddress {
            name: name.map(Into::into),
            adl: None,
            mailbox: mailbox.map(Into::into),
            host: host.map(Into::into),
        }
    }

    #[test]
    fn address_groups_comments_and_encoded_names() {
        // imaptest fetch-envelope message 4.
        let to = parse_addresses("group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;");
        assert_eq!(
            to,
            vec![
                addr(None, Some("group"), None),
                addr(None, Some("g1"), Some("d1.org")),
                addr(None, Some("g2"), Some("d2.org")),
                addr(None, None, None),
                addr(None, Some("group2"), None),
                addr(None, Some("g3"), Some("d3.org")),
                addr(None, None, None),
            ]
        );
        let cc = parse_addresses("group:;, group2: (foo) ;");
        assert_eq!(
            cc,
            vec![
                addr(None, Some("group"), None),
                addr(None, None, None),
                addr(None, Some("group2"), None),
                addr(None, None, None),
            ]
        );
        assert_eq!(
            parse_addresses("user@domain (Real Name)"),
            vec![addr(Some("Real Name"), Some("user"), Some("domain"))]
        );
        // imaptest fetch-envelope message 6; RFC 5322 4.4 obs-route.
        let routed = |adl: &str, mailbox: &str, host: &str| EnvelopeAddress {
            adl: Some(adl.into()),
            ..addr(None, Some(mailbox), Some(host))
        };
        assert_eq!(
            parse_addresses("<@route:user@domain>"),
            vec![routed("@route", "user", "domain")]
        );
        assert_eq!(
            parse_addresses("Joe <@a.org, @b.net:joe@c.com>, x@y"),
            vec![
                EnvelopeAddress {
                    name: Some("Joe".into()),
                    ..routed("@a.org,@b.net", "joe", "c.com")
                },
                addr(None, Some("x"), Some("y")),
            ]
        );
        assert_eq!(
            parse_addresses("=?UTF-8?Q?J=C3=B6rg?= <j@x.org>, \"A, B\" <ab@y>"),
            vec![
                addr(Some("=?UTF-8?Q?J=C3=B6rg?="), Some("j"), Some("x.org")),
                addr(Some("A, B"), Some("ab"), Some("y")),
            ]
        );
        assert_eq!(decode_words("=?UTF-8?Q?J=C3=B6rg?="), "Jörg");
    }

    #[test]
    fn delimiter_lines_with_transport_padding_split_parts() {
        // RFC 2046 5.1.1: a delimiter line may end in spaces and tabs.
        let raw = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n\
--o  \r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n\
--i \t\r\n\r\na\r\n--i  \r\n\r\nb\r\n--i--  \r\n--o \r\n\r\nc\r\n--o\r\n\r\nd\r\n--o--\r\n";
        let s = summarize(raw).summary;
        let text = |p: &BodyPart| &raw[p.body_start as usize..p.end as usize];
        assert_eq!(s.body.children.len(), 3);
        let alternative = &s.body.children[0];
        let leaves: Vec<&[u8]> = alternative.children.iter().map(text).collect();
        assert_eq!(leaves, [&b"a"[..], b"b"]);
        assert_eq!(text(&s.body.children[1]), b"c");
        assert_eq!(text(&s.body.children[2]), b"d");
    }

    #[test]
    fn encapsulated_message_offsets_are_not_shifted_twice() {
        let raw = b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: inner\r\n\r\nline1\r\nline2\r\n\r\n--b--\r\n";
        let s = summarize(raw).summary;
        let part = &s.body.children[0];
        let (env, inner) = &**part.message.as_ref().unwrap();
        assert_eq!(env.subject.as_deref(), Some("inner"));
        assert_eq!(inner.header_start, part.body_start);
        let body = &raw[inner.body_start as usize..inner.end as usize];
        assert_eq!(body, b"line1\r\nline2\r\n");
        assert_eq!(inner.lines, 2);
    }
}

/// `raw` with every leaf part whose `Content-Transfer-Encoding` is
/// `binary` and whose body holds NUL re-encoded: its CTE field becomes
/// `base64` and its body base64 in CRLF lines of 76 characters (RFC 2045
/// 6.8). `None` when no part needs it.
///
/// Why: an IMAP literal may not hold NUL (RFC 3501 4.3, RFC 9051 4.3), so
/// a non-BINARY FETCH (`BODY[]`, `RFC822`, ...) could not return such a
/// part as stored; Dovecot 2.3 re-encodes binary parts of an APPENDed
/// literal8 in base64 the same way, and BINARY[] (RFC 3516) still returns
/// the original octets. The whole message is in memory: callers bound it.
pub fn base64_binary_parts(raw: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    rewrite_leaf_parts(raw, |part, body| {
        let binary = part
            .encoding
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("binary"));
        if !binary || !body.contains(&0) {
            return None;
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(body);
        let lines: Vec<&[u8]> = encoded.as_bytes().chunks(76).collect();
        Some(("base64", lines.join(&b"\r\n"[..])))
    })
}

/// `raw` (a message) with every base64 or quoted-printable leaf part
/// decoded and its CTE field made `binary`; `None` when no part needs it.
/// What Dovecot 2.3 returns for `BINARY[n]` / URLFETCH BINARY of a
/// message/rfc822 part (RFC 3516 4.2 / RFC 5524 3): the encapsulated
/// message with the transfer encodings inside it undone. The whole
/// message is in memory: callers bound it.
pub fn decode_leaf_parts(raw: &[u8]) -> Option<Vec<u8>> {
    use crate::section::{decode_transfer, TransferDecoding};
    rewrite_leaf_parts(raw, |part, body| {
        let encoding = part.encoding.as_deref()?.to_ascii_lowercase();
        let decoding = match encoding.as_str() {
            "base64" => TransferDecoding::Base64,
            "quoted-printable" => TransferDecoding::QuotedPrintable,
            _ => return None,
        };
        Some(("binary", decode_transfer(decoding, body)))
    })
}

/// `raw` with the body of each leaf part for which `convert(part, body)`
/// gives `(encoding, new body)` replaced, and the part's
/// Content-Transfer-Encoding field (folded lines included) replaced by
/// one naming `encoding`; `None` when no part is converted.
fn rewrite_leaf_parts(
    raw: &[u8],
    mut convert: impl FnMut(&BodyPart, &[u8]) -> Option<(&'static str, Vec<u8>)>,
) -> Option<Vec<u8>> {
    fn leaves<'a>(part: &'a BodyPart, out: &mut Vec<&'a BodyPart>) {
        for child in &part.children {
            leaves(child, out);
        }
        if let Some(inner) = &part.message {
            leaves(&inner.1, out);
        }
        if part.children.is_empty() && part.message.is_none() {
            out.push(part);
        }
    }
    let parsed = summarize(raw);
    let mut parts = Vec::new();
    leaves(&parsed.summary.body, &mut parts);
    let mut changes = Vec::new();
    for part in parts {
        let (Ok(head), Ok(body), Ok(end)) = (
            usize::try_from(part.header_start),
            usize::try_from(part.body_start),
            usize::try_from(part.end),
        ) else {
            continue;
        };
        if head > body || body > end || end > raw.len() {
            continue;
        }
        if let Some((encoding, bytes)) = convert(part, &raw[body..end]) {
            changes.push((head, body, end, encoding, bytes));
        }
    }
    if changes.is_empty() {
        return None;
    }
    changes.sort_unstable_by_key(|c| c.0);
    let mut out = Vec::with_capacity(raw.len() + 1024);
    let mut at = 0;
    for (head, body, end, encoding, bytes) in changes {
        if head < at {
            continue; // overlaps a part already rewritten
        }
        out.extend_from_slice(&raw[at..head]);
        let mut in_cte = false;
        for line in raw[head..body].split_inclusive(|&b| b == b'\n') {
            if !matches!(line.first(), Some(b' ' | b'\t')) {
                in_cte = line.len() >= 26
                    && line[..26].eq_ignore_ascii_case(b"content-transfer-encoding:");
                if in_cte {
                    out.extend_from_slice(b"Content-Transfer-Encoding: ");
                    out.extend_from_slice(encoding.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            }
            if !in_cte {
                out.extend_from_slice(line);
            }
        }
        out.extend_from_slice(&bytes);
        at = end;
    }
    out.extend_from_slice(&raw[at..]);
    Some(out)
}

#[cfg(test)]
mod binary_append_tests {
    use super::*;

    #[test]
    fn binary_parts_with_nul_become_base64() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding:\r\n binary\r\n\r\n\
\x00-\xe4\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\nno nul\r\n--b--\r\n";
        let out = base64_binary_parts(raw).expect("converted");
        let want = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
AC3k\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\nno nul\r\n--b--\r\n";
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(want));
        assert_eq!(base64_binary_parts(b"Subject: x\r\n\r\nplain\r\n"), None);
    }

    #[test]
    fn encoded_parts_are_decoded() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: BASE64\r\n\r\naGVs\r\nbG8=\r\n\r\n--b\r\n\r\nplain\r\n--b--\r\n";
        let out = decode_leaf_parts(raw).expect("decoded");
        let want = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: binary\r\n\r\nhello\r\n--b\r\n\r\nplain\r\n--b--\r\n";
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(want));
    }
}
