//! Store records as NMS represents them: folders (TS 5.3.2.8, Appendix J
//! and K attributes), objects (TS 5.3.2.1, Appendix I attributes) and
//! paths (TS 5.1.1, 5.1.2).
//!
//! One name means one folder in IMAP, WebDAV and NMS: the NMS path of a
//! mailbox is `/` followed by its IMAP name (`/INBOX`, `/Media/2026`), the
//! root folder's path is `/`, and an object's path is its folder's path
//! followed by its object id (`/INBOX/17`, as TS D.7 writes
//! `/main/conversation5/oId999`).

use store_core::mime::MessageSummary;
use store_core::model::Folder as StoreFolder;
use store_core::model::{Object, UnixTime};

use crate::route::{FolderIdent, Urls};
use crate::types::{self, Attribute, AttributeList, Flag, FlagList, PayloadPartInfo, Reference};

/// The longest text payload given inline as the `TextContent` attribute
/// (TS 5.1.9, Appendix I), in characters: a chat message's text.
pub const MAX_TEXT_CONTENT_CHARS: usize = 1024;

/// Where a folder is: its id and its NMS path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Its id.
    pub ident: FolderIdent,
    /// Its path: `/` for the root, else `/` and the IMAP name.
    pub path: String,
}

impl Place {
    /// The root folder (TS 5.1.6).
    pub fn root() -> Place {
        Place {
            ident: FolderIdent::Root,
            path: "/".into(),
        }
    }

    /// The place of a stored folder.
    pub fn of(folder: &StoreFolder) -> Place {
        Place {
            ident: FolderIdent::Id(folder.id),
            path: path_of(&folder.name),
        }
    }

    /// The IMAP name of the folder (`None` for the root).
    pub fn name(&self) -> Option<&str> {
        self.path.strip_prefix('/').filter(|n| !n.is_empty())
    }
}

/// The NMS path of the mailbox named `name`.
pub fn path_of(name: &str) -> String {
    format!("/{name}")
}

/// The mailbox name an NMS folder path names: `Ok(None)` for the root
/// (`/`), `Ok(Some(name))` for `/a/b`; a trailing `/` is ignored.
///
/// Errors: the path itself, when it is not absolute or has an empty
/// level (`a`, `//a`, `/a//b`).
pub fn name_of_path(path: &str) -> Result<Option<String>, String> {
    let rest = path.strip_prefix('/').ok_or_else(|| path.to_string())?;
    if rest.is_empty() {
        return Ok(None);
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.split('/').any(str::is_empty) {
        return Err(path.to_string());
    }
    Ok(Some(rest.to_string()))
}

/// The parent of a mailbox: the root for a top-level one.
pub fn parent_name(name: &str) -> Option<&str> {
    name.rsplit_once('/').map(|(parent, _)| parent)
}

/// The last level of a mailbox name: the NMS folder `name` (TS 5.3.2.8).
pub fn leaf_name(name: &str) -> &str {
    name.rsplit_once('/').map_or(name, |(_, leaf)| leaf)
}

/// An `xsd:dateTimeStamp` in UTC (`2013-11-12T08:30:10Z`), the format of
/// the `Date` attribute (Appendix I, K).
pub fn date_time(t: UnixTime) -> String {
    store_core::dates::rfc3339(t)
}

fn attribute(name: &str, values: Vec<String>) -> Attribute {
    Attribute {
        name: name.into(),
        value: values,
    }
}

/// The folder attributes asked for with `attrFilter` (TS 6.11.3), whose
/// values cost a subtree walk: computed only when asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderCounts {
    /// Objects in the folder.
    pub messages: u64,
    /// Objects without `\Seen`.
    pub unread: u64,
    /// Their sizes' sum, in bytes.
    pub size: u64,
}

impl FolderCounts {
    /// The counts of one folder.
    pub fn of(folder: &StoreFolder) -> FolderCounts {
        FolderCounts {
            messages: u64::from(folder.objects),
            unread: u64::from(folder.unseen),
            size: folder.size,
        }
    }
}

impl std::ops::Add for FolderCounts {
    type Output = FolderCounts;

    /// The sum of two folders' counts.
    fn add(self, other: FolderCounts) -> FolderCounts {
        FolderCounts {
            messages: self.messages + other.messages,
            unread: self.unread + other.unread,
            size: self.size + other.size,
        }
    }
}

/// The counted attributes of Appendix K a folder representation may
/// carry: the folder's own and its subtree's.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountedAttributes {
    /// `MsgCount`, `UnreadMsgCount`, `Size`, when asked for.
    pub own: Option<FolderCounts>,
    /// `SubtreeMsgCount`, `SubtreeUnreadMsgCount`, `SubtreeSize`.
    pub subtree: Option<FolderCounts>,
}

/// The folder attribute names `attrFilter` may ask for (Appendix K).
pub const COUNTED_ATTRIBUTES: [&str; 6] = [
    "MsgCount",
    "UnreadMsgCount",
    "Size",
    "SubtreeMsgCount",
    "SubtreeUnreadMsgCount",
    "SubtreeSize",
];

/// The representation of a folder (TS 5.3.2.8) without its lists:
/// `parentFolder` (`parent`, none for the root), the attributes (`Root=Yes`
/// for the root, `Date` when it was `created` (Appendix K), `Name`, and the
/// counts asked for), `resourceURL`, `name`, `path` when `with_path`, and
/// `lastModSeq` (the folder's HIGHESTMODSEQ).
pub fn folder(
    urls: &Urls,
    place: &Place,
    parent: Option<FolderIdent>,
    stored: Option<&StoreFolder>,
    created: Option<UnixTime>,
    counts: CountedAttributes,
    with_path: bool,
) -> types::Folder {
    let name = place.name().map(leaf_name).unwrap_or_default().to_string();
    let mut attributes = Vec::new();
    if place.ident == FolderIdent::Root {
        attributes.push(attribute("Root", vec!["Yes".into()]));
    }
    if let Some(t) = created {
        attributes.push(attribute("Date", vec![date_time(t)]));
    }
    let parent_folder = parent.map(|p| urls.folder(p));
    attributes.push(attribute("Name", vec![name.clone()]));
    if let Some(c) = counts.own {
        attributes.push(attribute("MsgCount", vec![c.messages.to_string()]));
        attributes.push(attribute("UnreadMsgCount", vec![c.unread.to_string()]));
        attributes.push(attribute("Size", vec![c.size.to_string()]));
    }
    if let Some(c) = counts.subtree {
        attributes.push(attribute("SubtreeMsgCount", vec![c.messages.to_string()]));
        attributes.push(attribute(
            "SubtreeUnreadMsgCount",
            vec![c.unread.to_string()],
        ));
        attributes.push(attribute("SubtreeSize", vec![c.size.to_string()]));
    }
    types::Folder {
        parent_folder,
        attributes: AttributeList {
            attribute: attributes,
        },
        resource_url: Some(urls.folder(place.ident)),
        path: with_path.then(|| place.path.clone()),
        name: Some(name),
        last_mod_seq: stored.map(|f| f.highest_modseq),
        ..types::Folder::default()
    }
}

/// A reference to a folder (TS 5.3.2.11).
pub fn folder_reference(urls: &Urls, place: &Place) -> Reference {
    Reference {
        resource_url: urls.folder(place.ident),
        path: Some(place.path.clone()),
    }
}

/// A reference to an object (TS 5.3.2.11).
pub fn object_reference(urls: &Urls, folder: &Place, number: u64) -> Reference {
    Reference {
        resource_url: urls.object(number),
        path: Some(object_path(&folder.path, number)),
    }
}

/// An object's path: its folder's path and its id.
pub fn object_path(folder_path: &str, number: u64) -> String {
    match folder_path {
        "/" => format!("/{number}"),
        p => format!("{p}/{number}"),
    }
}

/// A part's `Content-Type` with its parameters (`multipart/related;
/// start="…"`, as Appendix I writes it and RFC 2045 5.1 spells it);
/// `text/plain` for a part that declares none (RFC 2045 5.2).
pub fn content_type(part: &store_core::mime::BodyPart) -> String {
    let mut out = if part.media_type.is_empty() {
        "text/plain".to_string()
    } else {
        format!("{}/{}", part.media_type, part.media_subtype)
    };
    for (name, value) in &part.params {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str(&format!("; {name}=\"{escaped}\""));
    }
    out
}

/// The Appendix I attributes of an object, from its record and MIME
/// summary: `Date` (the Date header, else when it was stored),
/// `Message-Context`, `Message-Correlator`, `Direction` (CPM
/// Message-Direction `received` → `In`,
/// `sent` → `Out`), `From`, `To`, `Cc`, `Subject`, `Content-Type`,
/// `Conversation-ID`, `Contribution-ID`, `IMDN-Message-ID`, and
/// `TextContent` when `text` is given.
pub fn object_attributes(
    object: &Object,
    summary: &MessageSummary,
    text: Option<String>,
) -> Vec<Attribute> {
    let mut out = Vec::new();
    let date = summary.sent.map_or(object.internal_date, |(t, _)| t);
    out.push(attribute("Date", vec![date_time(date)]));
    // Message-Context (RFC 3458) and Message-Correlator (the value RCS
    // correlates a message's copies by, GSMA RCC.07 Common Message Store):
    // header fields of the stored message, written by compose.rs from an
    // NMS object's attributes and by a SIP deposit.
    for name in ["Message-Context", "Message-Correlator"] {
        if let Some(value) = summary.header(name) {
            out.push(attribute(name, vec![value.trim().into()]));
        }
    }
    let direction = match object.cpm.message_direction.as_deref().map(str::trim) {
        Some(d) if d.eq_ignore_ascii_case("received") => Some("In"),
        Some(d) if d.eq_ignore_ascii_case("sent") => Some("Out"),
        _ => None,
    };
    if let Some(d) = direction {
        out.push(attribute("Direction", vec![d.into()]));
    }
    for name in ["From", "To", "Cc"] {
        let values: Vec<String> = summary
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| store_core::mime::address_specs(v))
            .collect();
        if !values.is_empty() {
            out.push(attribute(name, values));
        }
    }
    if let Some(subject) = summary.header("Subject") {
        out.push(attribute("Subject", vec![subject.trim().into()]));
    }
    if !summary.body.media_type.is_empty() {
        out.push(attribute("Content-Type", vec![content_type(&summary.body)]));
    }
    let cpm = [
        ("Conversation-ID", &object.cpm.conversation_id),
        ("Contribution-ID", &object.cpm.contribution_id),
        ("IMDN-Message-ID", &object.cpm.imdn_message_id),
    ];
    for (name, value) in cpm {
        if let Some(v) = value {
            out.push(attribute(name, vec![v.clone()]));
        }
    }
    if let Some(text) = text {
        out.push(attribute("TextContent", vec![text]));
    }
    out
}

/// The representation of an object (TS 5.3.2.1): `parentFolder`, the
/// attributes ([`object_attributes`]), `flags`, `resourceURL`, `path`,
/// `payloadURL`, one `payloadPart` per first-level part of a multipart,
/// `lastModSeq` (the MODSEQ of its last change) and `correlationId` (the
/// IMDN-Message-ID, else the Message-ID, TS 5.1.12.2).
pub fn object(
    urls: &Urls,
    folder: &Place,
    number: u64,
    object: &Object,
    summary: &MessageSummary,
    text: Option<String>,
) -> types::Object {
    let body = &summary.body;
    let payload_part = if body.media_type == "multipart" {
        body.children
            .iter()
            .zip(1u32..)
            .map(|(part, n)| PayloadPartInfo {
                content_type: format!("{}/{}", part.media_type, part.media_subtype),
                size: Some(part.size()),
                content_id: part.id.as_deref().map(|id| {
                    id.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .into()
                }),
                content_location: part.location.clone(),
                href: urls.payload_part(number, &[n]),
            })
            .collect()
    } else {
        Vec::new()
    };
    let correlation_id = object.cpm.imdn_message_id.clone().or_else(|| {
        summary.envelope.message_id.as_deref().map(|id| {
            id.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .into()
        })
    });
    types::Object {
        parent_folder: Some(urls.folder(folder.ident)),
        attributes: AttributeList {
            attribute: object_attributes(object, summary, text),
        },
        flags: FlagList {
            flag: object.flags.iter().map(Flag::new).collect(),
            resource_url: Some(urls.flags(number)),
        },
        resource_url: Some(urls.object(number)),
        path: Some(object_path(&folder.path, number)),
        payload_url: Some(urls.payload(number)),
        payload_part,
        last_mod_seq: Some(object.modseq),
        correlation_id,
        ..types::Object::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_mailbox_names_and_back() {
        assert_eq!(name_of_path("/"), Ok(None));
        assert_eq!(name_of_path("/INBOX"), Ok(Some("INBOX".into())));
        assert_eq!(name_of_path("/Media/2026/"), Ok(Some("Media/2026".into())));
        assert!(name_of_path("Media").is_err());
        assert!(name_of_path("/a//b").is_err());
        assert!(name_of_path("//").is_err());
        assert_eq!(path_of("Media/2026"), "/Media/2026");
        assert_eq!(parent_name("Media/2026"), Some("Media"));
        assert_eq!(parent_name("INBOX"), None);
        assert_eq!(leaf_name("Media/2026"), "2026");
        let inbox = Place {
            ident: FolderIdent::Id(4),
            path: "/INBOX".into(),
        };
        assert_eq!(object_path(&inbox.path, 17), "/INBOX/17");
        assert_eq!(object_path(&Place::root().path, 17), "/17");
    }

    #[test]
    fn dates_are_utc_date_time_stamps() {
        assert_eq!(date_time(1_384_245_010), "2013-11-12T08:30:10Z");
    }
}
