//! Request URLs: `/nms/v1/{storeName}/{boxId}/…` (TS 5.2) parsed into the
//! resource they name, and resource URLs built back.
//!
//! Ids are this server's choice (TS 5.1.1, 5.1.2): an object's id is its
//! object number (store-core's `Store::locate_object`), which a MOVE keeps
//! and a COPY does not; a folder's id is the store-wide folder id, which a
//! rename keeps; the root folder's id is `root`.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use store_core::model::FolderId;

use crate::error::{NmsError, NmsResult};

/// The API version of every URL (TS 5.2).
pub const API_VERSION: &str = "v1";

/// Which folder a folder URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderIdent {
    /// The box's root folder (`/folders/root`), path `/` (TS 5.1.6).
    Root,
    /// A folder (IMAP mailbox) by its store id.
    Id(FolderId),
}

impl FolderIdent {
    /// The id as URLs spell it.
    pub fn to_url_id(self) -> String {
        match self {
            FolderIdent::Root => "root".into(),
            FolderIdent::Id(id) => id.to_string(),
        }
    }

    /// Reads a folder id; `None` for no such id.
    pub fn parse(id: &str) -> Option<FolderIdent> {
        match id {
            "root" => Some(FolderIdent::Root),
            _ => id
                .parse()
                .ok()
                .filter(|_| id.bytes().all(|b| b.is_ascii_digit()))
                .map(FolderIdent::Id),
        }
    }
}

/// The resource a request path names below the box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `/objects` (TS 6.1).
    Objects,
    /// `/objects/{objectId}` (TS 6.2).
    Object(u64),
    /// `/objects/{objectId}/flags` (TS 6.3).
    Flags(u64),
    /// `/objects/{objectId}/flags/{flagName}` (TS 6.4).
    Flag(u64, String),
    /// `/objects/{objectId}/payload` (TS 6.5).
    Payload(u64),
    /// `/objects/{objectId}/payloadParts/{partId}` (TS 6.6): a part
    /// number path such as `2` or `2.1`.
    PayloadPart(u64, Vec<u32>),
    /// `/objects/operations/{operation}` (TS 6.7–6.9 and the bulk
    /// operations deployed clients send).
    ObjectOperation(String),
    /// `/folders` (TS 6.10).
    Folders,
    /// `/folders/{folderId}` (TS 6.11).
    Folder(FolderIdent),
    /// `/folders/{folderId}/folderName` (TS 6.12).
    FolderName(FolderIdent),
    /// `/folders/operations/{operation}` (TS 6.13–6.16).
    FolderOperation(String),
    /// `/subscriptions` (TS 6.17).
    Subscriptions,
    /// `/subscriptions/{subscriptionId}` (TS 6.18).
    Subscription(String),
}

/// What a Notification Channel path names below
/// `/notificationchannel/v1/{userId}` (NC TS 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelResource {
    /// `/channels`.
    Channels,
    /// `/channels/{channelId}`.
    Channel(String),
    /// `/channels/{channelId}/channelLifetime`.
    Lifetime(String),
    /// `/channels/{channelId}/notifications`: the channel URL (long poll,
    /// WebSocket).
    Notifications(String),
    /// `/channels/{channelId}/callback`: the callback URL notification
    /// servers deliver to.
    Callback(String),
}

/// A parsed Notification Channel path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPath {
    /// `userId`, decoded (as a boxId: a login, a CPM address, `acr:auth`).
    pub user_id: String,
    /// The user segment as sent.
    pub user_segment: String,
    /// What it names.
    pub resource: ChannelResource,
}

impl ChannelPath {
    /// Parses `path` if it is a Notification Channel path; `None` when it
    /// is not one (an NMS path, say).
    ///
    /// Errors: SVC0004 (404) for a channel path naming nothing.
    pub fn parse(path: &str) -> Option<NmsResult<ChannelPath>> {
        let rest = path.strip_prefix("/notificationchannel/")?;
        let missing = || NmsError::not_found(path);
        let parts: Vec<&str> = rest.split('/').collect();
        let parsed = (|| {
            let [API_VERSION, user, "channels", tail @ ..] = &parts[..] else {
                return Err(missing());
            };
            let user_id = decode(user).filter(|u| !u.is_empty()).ok_or_else(missing)?;
            let id = |s: &str| {
                (s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
                    .then(|| s.to_string())
                    .ok_or_else(missing)
            };
            let resource = match tail {
                [] => ChannelResource::Channels,
                [c] => ChannelResource::Channel(id(c)?),
                [c, "channelLifetime"] => ChannelResource::Lifetime(id(c)?),
                [c, "notifications"] => ChannelResource::Notifications(id(c)?),
                [c, "callback"] => ChannelResource::Callback(id(c)?),
                _ => return Err(missing()),
            };
            Ok(ChannelPath {
                user_id,
                user_segment: user.to_string(),
                resource,
            })
        })();
        Some(parsed)
    }
}

/// A parsed request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPath {
    /// `storeName`, decoded.
    pub store_name: String,
    /// `boxId`, decoded (`tel:+15551234567`, a login, `acr:auth`).
    pub box_id: String,
    /// The box segment as it was sent (for building URLs back).
    pub box_segment: String,
    /// What it names.
    pub resource: Resource,
}

impl RequestPath {
    /// Parses `path` (the URL path, still percent-encoded).
    ///
    /// Errors: `NmsError::not_found(path)` for a path that names no
    /// resource of the TS.
    pub fn parse(path: &str) -> NmsResult<RequestPath> {
        let missing = || NmsError::not_found(path);
        let mut segments = path.strip_prefix('/').ok_or_else(missing)?.split('/');
        let mut next = || segments.next().filter(|s| !s.is_empty());
        if next() != Some("nms") || next() != Some(API_VERSION) {
            return Err(missing());
        }
        let store_name = decode(next().ok_or_else(missing)?).ok_or_else(missing)?;
        let box_segment = next().ok_or_else(missing)?.to_string();
        let box_id = decode(&box_segment).ok_or_else(missing)?;
        let rest: Vec<&str> = segments.collect();
        let object_id = |s: &str| -> NmsResult<u64> {
            s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| s.parse().ok())
                .flatten()
                .ok_or_else(missing)
        };
        let folder_id = |s: &str| FolderIdent::parse(s).ok_or_else(missing);
        let resource = match rest[..] {
            ["objects"] => Resource::Objects,
            ["objects", "operations", op] => Resource::ObjectOperation(op.to_string()),
            ["objects", id] => Resource::Object(object_id(id)?),
            ["objects", id, "flags"] => Resource::Flags(object_id(id)?),
            ["objects", id, "flags", flag] if !flag.is_empty() => {
                Resource::Flag(object_id(id)?, decode(flag).ok_or_else(missing)?)
            }
            ["objects", id, "payload"] => Resource::Payload(object_id(id)?),
            ["objects", id, "payloadParts", part] => {
                let numbers: Option<Vec<u32>> = part
                    .split('.')
                    .map(|n| n.parse().ok().filter(|n| *n > 0))
                    .collect();
                Resource::PayloadPart(object_id(id)?, numbers.ok_or_else(missing)?)
            }
            ["folders"] => Resource::Folders,
            ["folders", "operations", op] => Resource::FolderOperation(op.to_string()),
            ["folders", id] => Resource::Folder(folder_id(id)?),
            ["folders", id, "folderName"] => Resource::FolderName(folder_id(id)?),
            ["subscriptions"] => Resource::Subscriptions,
            ["subscriptions", id] if id.len() <= 64 => {
                Resource::Subscription(decode(id).ok_or_else(missing)?)
            }
            _ => return Err(missing()),
        };
        Ok(RequestPath {
            store_name,
            box_id,
            box_segment,
            resource,
        })
    }
}

fn decode(segment: &str) -> Option<String> {
    percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// What a path segment keeps unencoded: RFC 3986 unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` percent-encoded as one URL path segment (`tel:+1555` →
/// `tel%3A%2B1555`, `\Seen` → `%5CSeen`).
pub fn encode_segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// The absolute URLs of one box's resources, as responses give them
/// (`resourceURL`, `parentFolder`, `payloadURL`, `Location`).
#[derive(Debug, Clone)]
pub struct Urls {
    /// `{scheme}://{host}/nms/v1/{storeName}/{boxId}`.
    pub base: String,
}

impl Urls {
    /// An object (TS 6.2).
    pub fn object(&self, id: u64) -> String {
        format!("{}/objects/{id}", self.base)
    }

    /// An object's flags (TS 6.3).
    pub fn flags(&self, id: u64) -> String {
        format!("{}/objects/{id}/flags", self.base)
    }

    /// An object's payload (TS 6.5).
    pub fn payload(&self, id: u64) -> String {
        format!("{}/objects/{id}/payload", self.base)
    }

    /// A payload part of an object (TS 6.6), `part` as IMAP numbers it.
    pub fn payload_part(&self, id: u64, part: &[u32]) -> String {
        let numbers: Vec<String> = part.iter().map(u32::to_string).collect();
        format!(
            "{}/objects/{id}/payloadParts/{}",
            self.base,
            numbers.join(".")
        )
    }

    /// A folder (TS 6.11).
    pub fn folder(&self, id: FolderIdent) -> String {
        format!("{}/folders/{}", self.base, id.to_url_id())
    }

    /// A folder's name (TS 6.12).
    pub fn folder_name(&self, id: FolderIdent) -> String {
        format!("{}/folders/{}/folderName", self.base, id.to_url_id())
    }

    /// The box's subscriptions (TS 6.17).
    pub fn subscriptions(&self) -> String {
        format!("{}/subscriptions", self.base)
    }

    /// A subscription (TS 6.18).
    pub fn subscription(&self, id: &str) -> String {
        format!("{}/subscriptions/{}", self.base, encode_segment(id))
    }

    /// The object or folder a resource URL of this box names, by its URL
    /// (references in copyToFolder, moveToFolder, parentFolder): `None`
    /// for a URL of another box or no such resource. Both absolute URLs
    /// and paths are accepted (`/nms/v1/…`), as clients send either.
    pub fn resource_of(&self, url: &str) -> Option<Resource> {
        let path = match url.find("/nms/") {
            Some(at) => &url[at..],
            None => return None,
        };
        let parsed = RequestPath::parse(path).ok()?;
        let own = self.base.ends_with(&format!(
            "/{}/{}",
            encode_segment(&parsed.store_name),
            parsed.box_segment
        )) || self.base.ends_with(&format!(
            "/{}/{}",
            encode_segment(&parsed.store_name),
            encode_segment(&parsed.box_id)
        ));
        own.then_some(parsed.resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_resources_of_the_ts() {
        let p = RequestPath::parse("/nms/v1/cpm/tel%3A%2B15551234567/objects/17/flags/%5CSeen")
            .unwrap();
        assert_eq!(p.store_name, "cpm");
        assert_eq!(p.box_id, "tel:+15551234567");
        assert_eq!(p.resource, Resource::Flag(17, "\\Seen".into()));
        let r = |s: &str| RequestPath::parse(s).map(|p| p.resource);
        assert_eq!(
            r("/nms/v1/cpm/alice/folders/root"),
            Ok(Resource::Folder(FolderIdent::Root))
        );
        assert_eq!(
            r("/nms/v1/cpm/alice/folders/12/folderName"),
            Ok(Resource::FolderName(FolderIdent::Id(12)))
        );
        assert_eq!(
            r("/nms/v1/cpm/alice/objects/3/payloadParts/2.1"),
            Ok(Resource::PayloadPart(3, vec![2, 1]))
        );
        assert_eq!(
            r("/nms/v1/cpm/alice/objects/operations/search"),
            Ok(Resource::ObjectOperation("search".into()))
        );
        for bad in [
            "/nms/v2/cpm/alice/objects",
            "/nms/v1/cpm/alice/objects/x1",
            "/nms/v1/cpm/alice/objects/+1",
            "/nms/v1/cpm/alice/folders/-3",
            "/nms/v1/cpm/alice/objects/3/payloadParts/0",
            "/nms/v1/cpm/alice/objects/3/other",
            "/nms/v1/cpm",
            "/dav/alice",
        ] {
            assert_eq!(r(bad).map_err(|e| e.status.as_u16()), Err(404), "{bad}");
        }
    }

    #[test]
    fn channel_paths_name_the_resources_of_the_nc_ts() {
        let p =
            ChannelPath::parse("/notificationchannel/v1/tel%3A%2B1555/channels/ch1/notifications")
                .unwrap()
                .unwrap();
        assert_eq!(p.user_id, "tel:+1555");
        assert_eq!(p.resource, ChannelResource::Notifications("ch1".into()));
        assert!(ChannelPath::parse("/nms/v1/cpm/alice/objects").is_none());
        for bad in [
            "/notificationchannel/v2/alice/channels",
            "/notificationchannel/v1/alice/channels/a-b",
            "/notificationchannel/v1/alice/channels/c1/other",
            "/notificationchannel/v1//channels",
        ] {
            assert!(ChannelPath::parse(bad).unwrap().is_err(), "{bad}");
        }
    }

    #[test]
    fn resource_urls_round_trip_and_other_boxes_are_not_ours() {
        let urls = Urls {
            base: "https://h.example/nms/v1/cpm/tel%3A%2B1555".into(),
        };
        assert_eq!(urls.resource_of(&urls.object(5)), Some(Resource::Object(5)));
        assert_eq!(
            urls.resource_of("/nms/v1/cpm/tel%3a%2b1555/folders/7"),
            Some(Resource::Folder(FolderIdent::Id(7)))
        );
        assert_eq!(
            urls.resource_of("https://h.example/nms/v1/cpm/bob/objects/5"),
            None
        );
        assert_eq!(encode_segment("\\Seen"), "%5CSeen");
        assert_eq!(encode_segment("tel:+1555"), "tel%3A%2B1555");
    }
}
