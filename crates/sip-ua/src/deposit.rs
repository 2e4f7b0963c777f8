//! Deposit (seed 000, CPM-STO2 "object store"): a MESSAGE from the
//! Conversation Server or Participating Function becomes a stored object.
//!
//! The object is an RFC 5322 message whose body is the MESSAGE body
//! unchanged (a `message/cpim` CPM message, a `multipart/related`
//! session or file transfer history, or an RCS group state object,
//! `application/group-state-object+xml`) under the MESSAGE's own
//! Content-Type, exactly as sent, and whose header carries what IMAP
//! clients search and show: From, To, Date (from the CPIM DateTime),
//! Subject, Conversation-ID, Contribution-ID, InReplyTo-Contribution-ID,
//! IMDN-Message-ID, Message-Direction, Message-Context and
//! Message-Correlator ([`message_context`], [`build`]).
//!
//! The folder follows the store's folder layout
//! ([`store_core::conversation::FolderLayout`], `[sip] folder_layout`).
//! CPM (the default): the conversation history folder named by
//! `Conversation-ID`, and for a session history the session history
//! folder named by `Contribution-ID` inside it (README, "SIP"); a message
//! without Conversation-ID (a pager-mode message) goes to INBOX. RCS:
//! `Default/<the other party's address>` for a one-to-one conversation,
//! `Default/<Conversation-ID>/<Contribution-ID>` for a group one
//! ([`is_group`]).

use mail_parser::MimeHeaders;
use store_core::conversation::FolderLayout;
use store_core::mime::{GROUP_STATE_CONTEXT, GROUP_STATE_OBJECT_TYPE};
use store_core::model::{parse_rfc3339, ObjectKind, UnixTime};

use crate::uri::{uri_of, SipUri};
use crate::wire::{param, Request};

/// What a MESSAGE deposits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposit {
    /// The folder, created on first use.
    pub folder: String,
    /// The object's kind.
    pub kind: ObjectKind,
    /// The object: header block and the MESSAGE body.
    pub content: Vec<u8>,
    /// Its INTERNALDATE: the CPIM DateTime, else the SIP Date, else now.
    pub date: UnixTime,
    /// Its IMDN-Message-ID as stored in its header, if it has one: a
    /// second deposit of it is stored once.
    pub imdn_message_id: Option<String>,
}

/// Why a MESSAGE body cannot be deposited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepositError {
    /// Not a body the store keeps (415).
    #[error("unsupported body type {0}")]
    UnsupportedType(String),
    /// A malformed CPIM body or header (400).
    #[error("{0}")]
    Malformed(String),
}

/// The media type and parameters of a Content-Type value: the type
/// lowercased (`type/subtype`), parameter names lowercased, values with
/// their quotes and escapes removed. Parameters are read as RFC 2045 5.1
/// has them (by mail-parser's Content-Type reader, RFC 2231 continuations
/// included), so a `;` inside a quoted value does not split it: the `URL`
/// of a `message/external-body` names an IMAP URL with `;UID=` and
/// `;URLAUTH=` (RFC 4483, RFC 4467). An unreadable value gives an empty
/// type and no parameters.
pub fn media_type(content_type: &str) -> (String, Vec<(String, String)>) {
    // mail-parser reads header blocks; one field is its own block. A value
    // holding CR or LF would be read as more fields: it is cut there (a
    // parsed SIP header value is unfolded and has none).
    let value = content_type.split(['\r', '\n']).next().unwrap_or_default();
    let block = format!("Content-Type: {value}\r\n\r\n");
    let parsed = mail_parser::MessageParser::new().parse_headers(block.as_bytes());
    let Some(ct) = parsed.as_ref().and_then(|m| m.content_type()) else {
        return (String::new(), Vec::new());
    };
    let ty = match ct.subtype() {
        Some(sub) => format!("{}/{}", ct.ctype(), sub),
        None => ct.ctype().to_string(),
    }
    .to_ascii_lowercase();
    let params = ct
        .attributes()
        .unwrap_or_default()
        .iter()
        .map(|a| (a.name.to_ascii_lowercase(), a.value.to_string()))
        .collect();
    (ty, params)
}

/// The CPIM message headers (RFC 3862 3.3) of a `message/cpim` body,
/// namespaced names resolved: `imdn.Message-ID` under
/// `NS: imdn <urn:ietf:params:imdn>` becomes `urn:ietf:params:imdn#Message-ID`.
fn cpim_headers(body: &[u8]) -> Result<Vec<(String, String)>, DepositError> {
    let end = body
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| DepositError::Malformed("CPIM headers without an end".into()))?;
    let text = std::str::from_utf8(&body[..end])
        .map_err(|_| DepositError::Malformed("CPIM headers are not UTF-8".into()))?;
    let mut namespaces: Vec<(String, String)> = Vec::new();
    let mut raw = Vec::new();
    for line in text.split("\r\n") {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| DepositError::Malformed("CPIM header line without a colon".into()))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("NS") {
            let (prefix, urn) = value.split_once('<').unwrap_or(("", value));
            namespaces.push((
                prefix.trim().to_string(),
                urn.trim_end_matches('>').trim().to_string(),
            ));
        } else {
            raw.push((name.to_string(), value.to_string()));
        }
    }
    Ok(raw
        .into_iter()
        .map(|(name, value)| match name.split_once('.') {
            Some((prefix, local)) => match namespaces.iter().find(|(p, _)| p == prefix) {
                Some((_, urn)) => (format!("{urn}#{local}"), value),
                None => (name, value),
            },
            None => (name, value),
        })
        .collect())
}

/// An RFC 5322 date (`Sat, 21 Nov 2026 10:00:00 +0000`).
pub fn rfc5322_date(t: UnixTime) -> String {
    store_core::dates::rfc5322(t)
}

/// A header value safe to write into the stored header block: no CR, LF
/// or other control character (a hostile peer could otherwise add header
/// fields), at most 900 bytes so that the line stays under RFC 5322's 998.
fn header_safe(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars().map(|c| if c.is_control() { ' ' } else { c }) {
        if out.len() + c.len_utf8() > 900 {
            break;
        }
        out.push(c);
    }
    out
}

/// `Message-Context` (RFC 3458 3, a header field naming the kind of
/// message) of a chat message of a CPM conversation or session.
///
/// Choice (GSMA RCC.07 Common Message Store names the header and its use
/// by RCS clients; its value table could not be consulted here): RFC
/// 3458 registers `pager-message` and `multimedia-message` (4), which the
/// RCS CMS client of the GSMA reference implementation (rcsjta,
/// `ImapMessageResolver`) reads as legacy SMS and MMS, classifying every
/// other object by its Content-Type; RCS chat and file transfer objects
/// carry the values below, in RFC 3458's `<kind>-message` form, which
/// such a client ignores and a search finds.
pub const CHAT_CONTEXT: &str = "chat-message";

/// `Message-Context` of a pager-mode message (a CPIM MESSAGE outside any
/// session or conversation: the CPM standalone message that replaces SMS),
/// RFC 3458 4 `pager-message`.
pub const PAGER_CONTEXT: &str = "pager-message";

/// `Message-Context` of a file transfer history (see [`CHAT_CONTEXT`]).
pub const FILE_TRANSFER_CONTEXT: &str = "file-message";

/// The `Message-Context` a deposit of `kind` gets when the element did
/// not send one: a CPIM message with a Conversation-ID or Contribution-ID
/// (`in_conversation`) is a chat message ([`CHAT_CONTEXT`]), without
/// either a pager-mode one ([`PAGER_CONTEXT`]); a file transfer history
/// [`FILE_TRANSFER_CONTEXT`]; a group state object `group-state-object`
/// ([`store_core::mime::GROUP_STATE_CONTEXT`]); a session history none.
pub fn message_context(kind: ObjectKind, in_conversation: bool) -> Option<&'static str> {
    match kind {
        ObjectKind::CpmMessage if in_conversation => Some(CHAT_CONTEXT),
        ObjectKind::CpmMessage | ObjectKind::LegacyMessage => Some(PAGER_CONTEXT),
        ObjectKind::FileTransferHistory => Some(FILE_TRANSFER_CONTEXT),
        ObjectKind::GroupStateObject => Some(GROUP_STATE_CONTEXT),
        ObjectKind::SessionHistory | ObjectKind::MediaObject => None,
    }
}

/// The CPIM `To` of a message to a group chat, which hides its
/// participants (GSMA RCC.07, Group Chat: `sip:anonymous@anonymous.invalid`).
pub const ANONYMOUS_GROUP: &str = "sip:anonymous@anonymous.invalid";

/// Whether a deposit belongs to a group conversation (the RCS layout
/// files it under its Conversation-ID and Contribution-ID rather than the
/// other party's address): a group state object; a MESSAGE whose Contact
/// carries `isfocus` (RFC 4579 3.2: it comes from the conference focus,
/// the group chat's controlling function); or a CPIM message addressed to
/// the anonymous group URI ([`ANONYMOUS_GROUP`]).
pub fn is_group(request: &Request, kind: ObjectKind, cpim_to: Option<&str>) -> bool {
    kind == ObjectKind::GroupStateObject
        || request
            .headers
            .get("Contact")
            .is_some_and(|c| param(c, "isfocus").is_some())
        || cpim_to.is_some_and(|to| uri_of(to).eq_ignore_ascii_case(ANONYMOUS_GROUP))
}

/// The folder of a deposit by the store's `layout`. `peer` is the other
/// party's header value (From of a received message, To of a sent one).
///
/// Errors: [`DepositError::Malformed`] for ids or an address that cannot
/// name a folder, or a group object without a Conversation-ID in the RCS
/// layout.
fn folder(
    layout: FolderLayout,
    kind: ObjectKind,
    group: bool,
    ids: (Option<&str>, Option<&str>),
    peer: &str,
) -> Result<String, DepositError> {
    use store_core::conversation::{folder_name, rcs_group_folder, rcs_one_to_one_folder};
    let malformed = |what: &str| DepositError::Malformed(format!("{what} cannot name a folder"));
    match (layout, ids) {
        // One rule for every protocol (store-core's conversation module):
        // an id names one folder level of its own, never a path or a
        // reserved or special-use folder.
        (FolderLayout::Cpm, (Some(conv), Some(contr))) if kind == ObjectKind::SessionHistory => {
            folder_name(conv, Some(contr))
        }
        (FolderLayout::Cpm, (Some(conv), _)) => folder_name(conv, None),
        (FolderLayout::Cpm, (None, _)) => Ok("INBOX".to_string()),
        (FolderLayout::Rcs, (Some(conv), contr)) if group => rcs_group_folder(conv, contr),
        (FolderLayout::Rcs, (None, _)) if group => {
            return Err(DepositError::Malformed(
                "a group conversation's object needs a Conversation-ID".into(),
            ))
        }
        (FolderLayout::Rcs, _) => {
            let address = SipUri::parse(uri_of(peer))
                .map_err(|_| malformed("the other party's address"))?
                .address();
            return rcs_one_to_one_folder(&address)
                .map_err(|_| malformed("the other party's address"));
        }
    }
    .map_err(|_| malformed("Conversation-ID or Contribution-ID"))
}

/// Builds the deposit of a MESSAGE for the served user `served` (an
/// account address), received at `now`, filed by the store's `layout`.
///
/// The header block adds `Message-Context` (the element's own header
/// when it sends one, else [`message_context`]) and `Message-Correlator`
/// (the element's own, else the IMDN Message-ID: RCS correlates a chat or
/// pager-mode message across its copies and its disposition notifications
/// by the CPIM `imdn.Message-ID`, RFC 5438 6.3, or the SIP
/// `IMDN-Message-ID`; none when neither is known). The top-level
/// Content-Type is the MESSAGE's, exactly as sent (no parameter added).
pub fn build(
    request: &Request,
    served: &str,
    layout: FolderLayout,
    now: UnixTime,
) -> Result<Deposit, DepositError> {
    let h = &request.headers;
    let content_type = h.get("Content-Type").unwrap_or("text/plain");
    let (ty, params) = media_type(content_type);
    let kind = match ty.as_str() {
        "message/cpim" => ObjectKind::CpmMessage,
        GROUP_STATE_OBJECT_TYPE => ObjectKind::GroupStateObject,
        "multipart/related" => {
            let inner = params
                .iter()
                .find(|(n, _)| n == "type")
                .map(|(_, v)| v.to_ascii_lowercase());
            match inner.as_deref() {
                Some("application/x-cpm-session") => ObjectKind::SessionHistory,
                Some("application/x-cpm-file-transfer") => ObjectKind::FileTransferHistory,
                _ => return Err(DepositError::UnsupportedType(content_type.to_string())),
            }
        }
        _ => return Err(DepositError::UnsupportedType(ty)),
    };
    let cpim = if kind == ObjectKind::CpmMessage {
        cpim_headers(&request.body)?
    } else {
        Vec::new()
    };
    let cpim_get = |n: &str| {
        cpim.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    let from = cpim_get("From").or(h.get("From")).unwrap_or_default();
    let to = cpim_get("To").or(h.get("To")).unwrap_or_default();
    let date = cpim_get("DateTime")
        .and_then(parse_rfc3339)
        .or_else(|| h.get("Date").and_then(parse_http_date))
        .unwrap_or(now);
    let imdn_id = cpim_get("urn:ietf:params:imdn#Message-ID").or(h.get("IMDN-Message-ID"));
    let direction = match h.get("Message-Direction") {
        Some(d) => d.to_string(),
        None => direction(h.get("P-Served-User"), from, served).to_string(),
    };

    let conversation = h.get("Conversation-ID").filter(|v| !v.is_empty());
    let contribution = h.get("Contribution-ID").filter(|v| !v.is_empty());
    let group = is_group(request, kind, cpim_get("To"));
    let peer = if direction == "sent" { to } else { from };
    let folder = folder(layout, kind, group, (conversation, contribution), peer)?;
    let context = h.get("Message-Context").or(message_context(
        kind,
        conversation.is_some() || contribution.is_some(),
    ));
    let correlator = h.get("Message-Correlator").or(imdn_id);

    let mut head = String::new();
    let mut field = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            head.push_str(&format!("{name}: {}\r\n", header_safe(v)));
        }
    };
    field("From", Some(&address_only(from)));
    field("To", Some(&address_only(to)));
    field("Date", Some(&rfc5322_date(date)));
    field("Subject", cpim_get("Subject"));
    field("Conversation-ID", conversation);
    field("Contribution-ID", contribution);
    field(
        "InReplyTo-Contribution-ID",
        h.get("InReplyTo-Contribution-ID"),
    );
    field("IMDN-Message-ID", imdn_id);
    field("Message-Direction", Some(&direction));
    field("Message-Context", context);
    field("Message-Correlator", correlator);
    field("MIME-Version", Some("1.0"));
    field("Content-Type", Some(content_type));
    head.push_str("\r\n");
    let mut content = head.into_bytes();
    content.extend_from_slice(&request.body);
    Ok(Deposit {
        folder,
        kind,
        content,
        date,
        imdn_message_id: imdn_id
            .map(|v| header_safe(v).trim().to_string())
            .filter(|v| !v.is_empty()),
    })
}

/// `received` or `sent` for the served user (CPM Message-Direction): by
/// the P-Served-User session case (RFC 5502 `sescase=orig` is the
/// originating side), else by whether the served user is the sender.
fn direction(served_user: Option<&str>, from: &str, served: &str) -> &'static str {
    match served_user.and_then(|v| param(v, "sescase")).as_deref() {
        Some("orig") => "sent",
        Some("term") => "received",
        _ => match SipUri::parse(uri_of(from)) {
            Ok(u) if u.address() == served => "sent",
            _ => "received",
        },
    }
}

/// A name-addr reduced to `Display <uri>` (header parameters such as the
/// tag dropped).
fn address_only(value: &str) -> String {
    let uri = uri_of(value);
    match value.find('<') {
        Some(i) if !value[..i].trim().is_empty() => format!("{} <{uri}>", value[..i].trim()),
        _ => format!("<{uri}>"),
    }
}

/// An RFC 3261 `Date` (RFC 1123 form, as HTTP's: `Sat, 13 Nov 2010
/// 23:29:00 GMT`).
fn parse_http_date(value: &str) -> Option<UnixTime> {
    let t = httpdate::parse_http_date(value.trim()).ok()?;
    let seconds = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    UnixTime::try_from(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{parse_message, Message};

    fn message(extra: &str, content_type: &str, body: &str) -> Request {
        let raw = format!(
            "MESSAGE sip:store@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: \"Bob\" <sip:bob@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n\
             Call-ID: c\r\nCSeq: 1 MESSAGE\r\n{extra}Content-Type: {content_type}\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        match parse_message(bytes::Bytes::from(raw)) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    const CPIM: &str = "From: <sip:bob@example.com>\r\nTo: <sip:alice@example.com>\r\n\
        DateTime: 2026-11-21T10:00:00.000+01:00\r\nNS: i <urn:ietf:params:imdn>\r\n\
        i.Message-ID: Msg-7\r\nSubject: hello\r\n\r\n\
        Content-Type: text/plain\r\n\r\nHi Alice";

    #[test]
    fn a_cpim_message_goes_to_its_conversation_folder_with_its_headers() {
        let r = message(
            "Conversation-ID: conv-1\r\nContribution-ID: c-1\r\n",
            "message/cpim",
            CPIM,
        );
        let d = build(&r, "sip:alice@example.com", FolderLayout::Cpm, 0).unwrap();
        assert_eq!(d.folder, "conv-1");
        assert_eq!(d.kind, ObjectKind::CpmMessage);
        assert_eq!(d.date, 1_795_251_600);
        let text = String::from_utf8(d.content).unwrap();
        assert!(text.starts_with("From: <sip:bob@example.com>\r\nTo: <sip:alice@example.com>\r\n"));
        assert!(text.contains("\r\nDate: Sat, 21 Nov 2026 09:00:00 +0000\r\n"));
        assert!(text.contains("\r\nIMDN-Message-ID: Msg-7\r\n"));
        assert!(text.contains("\r\nMessage-Direction: received\r\n"));
        assert!(text.contains("\r\nSubject: hello\r\n"));
        assert!(text.ends_with(&format!("Content-Type: message/cpim\r\n\r\n{CPIM}")));
    }

    #[test]
    fn a_session_history_goes_to_its_session_folder() {
        let r = message(
            "Conversation-ID: conv-1\r\nContribution-ID: sess-9\r\n",
            "multipart/related; type=\"Application/X-CPM-Session\"; boundary=b",
            "--b\r\n\r\nx\r\n--b--\r\n",
        );
        let d = build(&r, "sip:bob@example.com", FolderLayout::Cpm, 0).unwrap();
        assert_eq!(d.folder, "conv-1/sess-9");
        let other = message("Conversation-ID: Shared/bob/x\r\n", "message/cpim", CPIM);
        let shared = build(&other, "sip:alice@example.com", FolderLayout::Cpm, 0).unwrap();
        assert_eq!(shared.folder, "Shared~2Fbob~2Fx");
        assert_eq!(shared.imdn_message_id.as_deref(), Some("Msg-7"));
        assert_eq!(d.kind, ObjectKind::SessionHistory);
        assert!(String::from_utf8(d.content)
            .unwrap()
            .contains("Message-Direction: sent\r\n"));
        let r = message("", "text/plain", "hi");
        assert!(matches!(
            build(&r, "sip:alice@example.com", FolderLayout::Cpm, 0),
            Err(DepositError::UnsupportedType(_))
        ));
    }

    /// The object a deposit of `r` for alice stores, as text (CPM layout).
    fn stored_text(r: &Request) -> String {
        let d = build(r, "sip:alice@example.com", FolderLayout::Cpm, 0).unwrap();
        String::from_utf8(d.content).unwrap()
    }

    #[test]
    fn contexts_and_correlators_are_written() {
        let chat = message("Conversation-ID: conv-1\r\n", "message/cpim", CPIM);
        let text = stored_text(&chat);
        assert!(
            text.contains("\r\nMessage-Context: chat-message\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nMessage-Correlator: Msg-7\r\n"), "{text}");
        let pager = message("", "message/cpim", CPIM);
        let d = build(&pager, "sip:alice@example.com", FolderLayout::Cpm, 0).unwrap();
        assert_eq!(d.folder, "INBOX");
        let text = String::from_utf8(d.content).unwrap();
        assert!(
            text.contains("\r\nMessage-Context: pager-message\r\n"),
            "{text}"
        );
        let own = message(
            "Message-Context: multimedia-message\r\nMessage-Correlator: c-9\r\n",
            "message/cpim",
            CPIM,
        );
        let text = stored_text(&own);
        assert!(text.contains("\r\nMessage-Context: multimedia-message\r\n"));
        assert!(text.contains("\r\nMessage-Correlator: c-9\r\n"));
        let ft = message(
            "Conversation-ID: conv-1\r\n",
            "multipart/related; type=\"application/x-cpm-file-transfer\"; boundary=b",
            "--b\r\n\r\nx\r\n--b--\r\n",
        );
        let text = stored_text(&ft);
        assert!(text.contains("\r\nMessage-Context: file-message\r\n"));
        assert!(!text.contains("Message-Correlator"));
    }

    #[test]
    fn a_group_state_object_is_its_own_kind_in_its_conversation() {
        let body = "<?xml version=\"1.0\"?><groupstate timestamp=\"x\"/>";
        let r = message(
            "Conversation-ID: conv-1\r\nContribution-ID: grp-7\r\n",
            "application/group-state-object+xml",
            body,
        );
        let d = build(&r, "sip:alice@example.com", FolderLayout::Cpm, 0).unwrap();
        assert_eq!(d.kind, ObjectKind::GroupStateObject);
        assert_eq!(d.folder, "conv-1");
        let text = String::from_utf8(d.content).unwrap();
        assert!(text.contains("\r\nMessage-Context: group-state-object\r\n"));
        assert!(text.ends_with(&format!(
            "Content-Type: application/group-state-object+xml\r\n\r\n{body}"
        )));
        let rcs = build(&r, "sip:alice@example.com", FolderLayout::Rcs, 0).unwrap();
        assert_eq!(rcs.folder, "Default/conv-1/grp-7");
        let alone = message("", "application/group-state-object+xml", body);
        assert!(matches!(
            build(&alone, "sip:alice@example.com", FolderLayout::Rcs, 0),
            Err(DepositError::Malformed(_))
        ));
    }

    #[test]
    fn the_rcs_layout_files_by_peer_or_group() {
        let ids = "Conversation-ID: conv-1\r\nContribution-ID: c-1\r\n";
        let received = message(ids, "message/cpim", CPIM);
        let d = build(&received, "sip:alice@example.com", FolderLayout::Rcs, 0).unwrap();
        assert_eq!(d.folder, "Default/sip:bob@example.com");
        // Sent by the served user: filed under the recipient.
        let sent = message(ids, "message/cpim", CPIM);
        let d = build(&sent, "sip:bob@example.com", FolderLayout::Rcs, 0).unwrap();
        assert_eq!(d.folder, "Default/sip:alice@example.com");
        let focus = message(
            &format!("{ids}Contact: <sip:cs@example.com>;isfocus\r\n"),
            "message/cpim",
            CPIM,
        );
        let d = build(&focus, "sip:alice@example.com", FolderLayout::Rcs, 0).unwrap();
        assert_eq!(d.folder, "Default/conv-1/c-1");
        let anonymous = CPIM.replace(
            "<sip:alice@example.com>",
            "<sip:anonymous@anonymous.invalid>",
        );
        let d = build(
            &message(ids, "message/cpim", &anonymous),
            "sip:alice@example.com",
            FolderLayout::Rcs,
            0,
        )
        .unwrap();
        assert_eq!(d.folder, "Default/conv-1/c-1");
    }

    #[test]
    fn content_type_parameters_are_read_as_rfc_2045_has_them() {
        let url =
            "imap://alice@example.com/conv-1;UIDVALIDITY=7/;UID=1;URLAUTH=anonymous:internal:tok";
        let (ty, params) = media_type(&format!(
            "Message/External-Body; ACCESS-TYPE=URL; URL=\"{url}\""
        ));
        assert_eq!(ty, "message/external-body");
        assert_eq!(
            params,
            vec![
                ("access-type".to_string(), "URL".to_string()),
                ("url".to_string(), url.to_string())
            ]
        );
        let (ty, params) = media_type("text/uri-list");
        assert_eq!((ty.as_str(), params.len()), ("text/uri-list", 0));
    }

    #[test]
    fn dates_are_read_and_written() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("1970-13-01T00:00:00Z"), None);
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            parse_http_date("Sat, 13 Nov 2010 23:29:00 GMT"),
            Some(1_289_690_940)
        );
    }

    #[test]
    fn dates_of_days_that_do_not_exist_are_refused() {
        // CPIM DateTime (RFC 3339) and SIP Date (RFC 3261 20.17).
        assert_eq!(parse_rfc3339("2026-02-31T10:00:00Z"), None);
        assert_eq!(parse_http_date("Tue, 31 Feb 2026 10:00:00 GMT"), None);
        assert_eq!(parse_http_date("Tue, 31 Apr 2026 10:00:00 GMT"), None);
    }
}
