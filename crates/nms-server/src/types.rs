//! JSON data types of the OMA RESTful Network Message Storage API
//! (OMA-TS-REST_NetAPI_NMS-V1_0-20140715-C, "TS" below, section 5.3; XML
//! schema `rest_netapi_nms-v1_0.xsd`), plus the few REST NetAPI Common types
//! the NMS resources use (`common:RequestError`, `common:Link`,
//! `common:CallbackReference`, `common:ResourceReference`).
//!
//! JSON shape (REST NetAPI Common JSON rules, as applied in TS Appendix D):
//!
//! * A body is one root element wrapped in an object named after it, e.g.
//!   `{"object": {...}}`. The `*Root` structs at the end of this module are
//!   those wrappers; the inner structs are the TS types.
//! * Element names are used verbatim as JSON member names (camelCase, with the
//!   TS spellings `resourceURL`, `payloadURL`, `notifyURL`).
//! * Elements with maxOccurs > 1 are JSON arrays. On input a single value is
//!   also accepted in their place (generic XML-to-JSON converters emit that).
//! * Numbers (xsd:unsignedInt/unsignedLong/unsignedShort) are JSON numbers on
//!   output; on input a numeric string such as `"3"` is accepted too.
//! * An empty element (types `Empty`, `ResetBox`) is `null` on output (as in
//!   Appendix D: `{"empty": null}`); on input `null` and `{}` are accepted.
//! * Unknown members are ignored on input (serde's default); absent optional
//!   members are omitted on output.
//!
//! Lists that are the whole content of a list type (`AttributeList.attribute`,
//! `FlagList.flag`, `ObjectList.object`, ...) are always written, as `[]` when
//! empty, because Appendix D prints them that way (`"attributes": {
//! "attribute": [] }`); they default to empty when absent on input. Other
//! repeated elements (`Object.payloadPart`, `Attribute.value`, `link`,
//! exception `variables`) are omitted when empty.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

// ===========================================================================
// Lenient input helpers
// ===========================================================================

/// Lenient deserialisers used with `#[serde(deserialize_with = ...)]` on the
/// NMS types: numbers that may arrive as JSON strings, xsd:boolean that may
/// arrive as a string, and repeated elements that may arrive as a single
/// value instead of an array. Output is unaffected (plain serde).
pub mod lenient {
    use super::*;

    /// Visitor for an unsigned integer given as a JSON number or as a decimal
    /// string (surrounding whitespace allowed), e.g. `3` or `"3"`.
    struct NumberVisitor<T>(PhantomData<T>);

    impl<T: TryFrom<u64>> NumberVisitor<T> {
        fn convert<E: de::Error>(&self, v: u64) -> Result<T, E> {
            T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), self))
        }
    }

    impl<'de, T: TryFrom<u64>> Visitor<'de> for NumberVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "an unsigned integer (JSON number or numeric string) fitting in {}",
                std::any::type_name::<T>()
            )
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
            self.convert(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
            match u64::try_from(v) {
                Ok(u) => self.convert(u),
                Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
            }
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            match u64::from_str(v.trim()) {
                Ok(u) => self.convert(u),
                Err(_) => Err(E::invalid_value(Unexpected::Str(v), &self)),
            }
        }
    }

    /// An unsigned integer read with [`NumberVisitor`].
    struct LenientNumber<T>(T);

    impl<'de, T: TryFrom<u64>> Deserialize<'de> for LenientNumber<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(NumberVisitor(PhantomData))
                .map(LenientNumber)
        }
    }

    /// Mandatory unsigned integer (`u16`/`u32`/`u64`): JSON number or numeric
    /// string.
    pub fn number<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<u64>,
    {
        LenientNumber::<T>::deserialize(d).map(|n| n.0)
    }

    /// Optional unsigned integer: JSON number, numeric string, or `null`
    /// (= absent). Use together with `#[serde(default)]`.
    pub fn opt_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<u64>,
    {
        Option::<LenientNumber<T>>::deserialize(d).map(|o| o.map(|n| n.0))
    }

    /// Visitor for xsd:boolean given as a JSON boolean, as one of the strings
    /// `true`/`false`/`1`/`0` (ASCII case-insensitive), or as the number 0/1.
    struct BoolVisitor;

    impl<'de> Visitor<'de> for BoolVisitor {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an xsd:boolean (true, false, \"true\", \"false\", \"1\", \"0\")")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
            }
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            let t = v.trim();
            if t.eq_ignore_ascii_case("true") || t == "1" {
                Ok(true)
            } else if t.eq_ignore_ascii_case("false") || t == "0" {
                Ok(false)
            } else {
                Err(E::invalid_value(Unexpected::Str(v), &self))
            }
        }
    }

    /// A boolean read with [`BoolVisitor`].
    struct LenientBool(bool);

    impl<'de> Deserialize<'de> for LenientBool {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(BoolVisitor).map(LenientBool)
        }
    }

    /// Optional xsd:boolean: JSON boolean, `"true"`/`"false"`/`"1"`/`"0"`, or
    /// `null` (= absent). Use together with `#[serde(default)]`.
    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Option::<LenientBool>::deserialize(d).map(|o| o.map(|b| b.0))
    }

    /// Visitor for a repeated element: a JSON array of `T`, a single `T`
    /// (object or string), or `null` (= empty).
    struct OneOrManyVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array, a single value, or null")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| vec![t])
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|t| vec![t])
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Vec<T>, E> {
            T::deserialize(v.into_deserializer()).map(|t| vec![t])
        }

        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
    }

    /// Repeated element (maxOccurs > 1): a JSON array, a single value in place
    /// of a one-element array, or `null` (= empty). Use together with
    /// `#[serde(default)]`.
    pub fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        d.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

/// Private helper: a JSON object with no members of interest, used to accept
/// `{}` (and, leniently, any object) for the empty types.
#[derive(Deserialize)]
struct IgnoredObject {}

// ===========================================================================
// REST NetAPI Common types ([REST_NetAPI_Common], referenced by TS 5.3)
// ===========================================================================

/// `common:Link` (REST NetAPI Common; used by TS 5.3.2.24 `NmsEventList.link`
/// and by `RequestError.link`). JSON `{"rel": "...", "href": "..."}`.
/// TS 5.3.4 lists `folder` and `nmsSubscription` as `rel` values (Appendix D
/// writes `NmsSubscription`); the value is a free string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Relationship of the linked resource (free string, TS 5.3.4).
    pub rel: String,
    /// URL of the linked resource (xsd:anyURI).
    pub href: String,
}

/// Body of `common:ServiceException` and `common:PolicyException` (REST
/// NetAPI Common; fault codes in TS section 7). JSON `{"messageId":
/// "SVC0002", "text": "Invalid input value for message part %1",
/// "variables": ["..."]}`; `%1`, `%2`, ... in `text` refer to `variables`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionDetails {
    /// Message identifier, e.g. `SVC0002` or `POL1031`.
    pub message_id: String,
    /// Message text with `%n` placeholders.
    pub text: String,
    /// Values substituted for the `%n` placeholders, in order.
    #[serde(
        default,
        deserialize_with = "lenient::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub variables: Vec<String>,
}

impl ExceptionDetails {
    /// Builds exception details from a message id, text and variables.
    pub fn new(
        message_id: impl Into<String>,
        text: impl Into<String>,
        variables: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        ExceptionDetails {
            message_id: message_id.into(),
            text: text.into(),
            variables: variables.into_iter().map(Into::into).collect(),
        }
    }
}

/// `common:RequestError` (REST NetAPI Common; error bodies of all NMS
/// resources, and `failure` of TS 5.3.2.31 `Response`). JSON
/// `{"link": [...], "serviceException": {...}}` or `{"policyException":
/// {...}}`. The schema makes service/policy a choice; both are modelled as
/// options so that a malformed error from a peer still parses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestError {
    /// Links to resources related to the error (Appendix D.36, D.61).
    #[serde(
        default,
        deserialize_with = "lenient::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub link: Vec<Link>,
    /// Service exception (`SVCnnnn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_exception: Option<ExceptionDetails>,
    /// Policy exception (`POLnnnn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_exception: Option<ExceptionDetails>,
}

impl RequestError {
    /// A request error carrying a service exception (`SVCnnnn`).
    pub fn service(
        message_id: impl Into<String>,
        text: impl Into<String>,
        variables: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        RequestError {
            service_exception: Some(ExceptionDetails::new(message_id, text, variables)),
            ..RequestError::default()
        }
    }

    /// A request error carrying a policy exception (`POLnnnn`).
    pub fn policy(
        message_id: impl Into<String>,
        text: impl Into<String>,
        variables: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        RequestError {
            policy_exception: Some(ExceptionDetails::new(message_id, text, variables)),
            ..RequestError::default()
        }
    }
}

/// `common:ResourceReference` (REST NetAPI Common): a reference to a created
/// resource. JSON `{"resourceURL": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceReference {
    /// URL of the resource (xsd:anyURI).
    #[serde(rename = "resourceURL")]
    pub resource_url: String,
}

/// `common:NotificationFormat` (REST NetAPI Common): body format of
/// notifications sent to the client, JSON string `"XML"` or `"JSON"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NotificationFormat {
    /// `XML`
    #[serde(rename = "XML", alias = "Xml", alias = "xml")]
    Xml,
    /// `JSON`
    #[serde(rename = "JSON", alias = "Json", alias = "json")]
    Json,
}

/// `common:CallbackReference` (REST NetAPI Common; used by TS 5.3.2.20
/// `NmsSubscription.callbackReference`): the client's notification endpoint.
/// JSON `{"notifyURL": "...", "callbackData": "...", "notificationFormat":
/// "JSON"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackReference {
    /// Client-side or Notification Channel URL notifications are POSTed to.
    #[serde(rename = "notifyURL")]
    pub notify_url: String,
    /// Opaque data echoed in `NmsEventList.callbackData`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    /// Requested notification body format; absent means the format of the
    /// subscription request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_format: Option<NotificationFormat>,
}

// ===========================================================================
// Objects, flags, attributes, payload parts (TS 5.3.2.1 - 5.3.2.7)
// ===========================================================================

/// TS 5.3.2.1 Type: Object — an individual stored object (message, file,
/// ...). `parentFolder` and `parentFolderPath` are a choice (the latter only
/// in creation requests); `attributes` and `flags` are mandatory in the TS
/// and default to empty lists when absent on input.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    /// Resource URL of the parent folder (xsd:anyURI); always in responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_folder: Option<String>,
    /// Path of the parent folder (creation requests only; missing folders
    /// are created implicitly); never in responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_folder_path: Option<String>,
    /// Attributes of the object (TS 5.3.2.6).
    #[serde(default)]
    pub attributes: AttributeList,
    /// Flags of the object (TS 5.3.2.4).
    #[serde(default)]
    pub flags: FlagList,
    /// Self URL (xsd:anyURI); not in client POST requests.
    #[serde(
        rename = "resourceURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_url: Option<String>,
    /// Location in the hierarchical storage (TS 5.1.1); responses only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// URL of the entire payload (xsd:anyURI); omitted for empty objects and
    /// inline payloads (TS 5.1.9).
    #[serde(
        rename = "payloadURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub payload_url: Option<String>,
    /// First-level payload parts (TS 5.3.2.7); responses only.
    #[serde(
        default,
        deserialize_with = "lenient::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub payload_part: Vec<PayloadPartInfo>,
    /// Last mod-sequence value (xsd:unsignedLong); responses only.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_mod_seq: Option<u64>,
    /// Correlation ID (TS 5.1.12.2); returned unchanged if the client set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Correlation tag (TS 5.1.12.3); returned unchanged if the client set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_tag: Option<String>,
}

/// TS 5.3.2.2 Type: ObjectList — a list of objects (search results, bulk
/// creation request), with the paging cursors of TS 5.1.10 / 5.1.5.2.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectList {
    /// The objects; written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub object: Vec<Object>,
    /// Present when more objects are available (responses only); pass it
    /// back as `SelectionCriteria.fromCursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Opaque cursor for the next `CreatedObjects` search; mandatory in the
    /// response to a `CreatedObjects` search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_cursor: Option<String>,
}

/// TS 5.3.2.3 Type: Flag — a flag name (xsd:string, case-insensitive), e.g.
/// `\Seen`; the system flags are listed in TS Appendix H. JSON: a plain string
/// (in JSON source the backslash is escaped: `"\\Seen"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Flag(pub String);

impl Flag {
    /// Builds a flag from its name, e.g. `Flag::new("\\Seen")`.
    pub fn new(name: impl Into<String>) -> Self {
        Flag(name.into())
    }

    /// The flag name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Flag names compare case-insensitively (TS 5.3.2.3).
    pub fn matches(&self, name: &str) -> bool {
        self.0.eq_ignore_ascii_case(name)
    }
}

/// TS 5.3.2.4 Type: FlagList — the set of flags of an object. Duplicates are
/// ignored and order is not preserved by the server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FlagList {
    /// The flags; written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub flag: Vec<Flag>,
    /// Self URL (`.../objects/{objectId}/flags`, xsd:anyURI).
    #[serde(
        rename = "resourceURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_url: Option<String>,
}

impl FlagList {
    /// Whether the list contains `name` (case-insensitive).
    pub fn contains(&self, name: &str) -> bool {
        self.flag.iter().any(|f| f.matches(name))
    }
}

/// TS 5.3.2.5 Type: Attribute — a named, multi-valued attribute. Names are
/// case-insensitive (RCS names: TS Appendices I, J, K); values are
/// case-sensitive, order-preserving Unicode strings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attribute {
    /// Attribute name, e.g. `Message-Context`, `Date`, `Name`.
    pub name: String,
    /// Attribute values (xsd:string[0..unbounded]).
    #[serde(
        default,
        deserialize_with = "lenient::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub value: Vec<String>,
}

/// TS 5.3.2.6 Type: AttributeList — the attributes of an object or folder.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AttributeList {
    /// The attributes; written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub attribute: Vec<Attribute>,
}

impl AttributeList {
    /// Values of the first attribute named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.attribute
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map(|a| a.value.as_slice())
    }
}

/// TS 5.3.2.7 Type: PayloadPartInfo — where a first-level payload part is
/// stored and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadPartInfo {
    /// MIME content type, e.g. `image/gif`.
    pub content_type: String,
    /// Size in bytes (xsd:unsignedLong; may be approximate).
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<u64>,
    /// Content-ID without angle brackets (RFC 2045).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// Content-Location, unfolded and decoded (RFC 2557).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_location: Option<String>,
    /// Link to the stored content (NMS resource tree or external, xsd:anyURI).
    pub href: String,
}

// ===========================================================================
// Folders and references (TS 5.3.2.8 - 5.3.2.14)
// ===========================================================================

/// TS 5.3.2.8 Type: Folder — an individual folder, optionally with (paged)
/// lists of its subfolders and objects (TS 6.11.3 `listFilter`).
/// `parentFolder` and `parentFolderPath` are a choice; one of them is required
/// in creation requests (checked by the handler, not here).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    /// Resource URL of the parent folder (xsd:anyURI); absent for root folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_folder: Option<String>,
    /// Path of the parent folder (creation requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_folder_path: Option<String>,
    /// Folder attributes (TS Appendix J, K); mandatory in the TS.
    #[serde(default)]
    pub attributes: AttributeList,
    /// Self URL (xsd:anyURI).
    #[serde(
        rename = "resourceURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_url: Option<String>,
    /// Location in the hierarchical storage (TS 5.1.2). Appendix D writes
    /// `null` for a root folder; that reads as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Folder name (no `/`); also the light-weight resource `folderName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Last mod-sequence value (xsd:unsignedLong); responses only.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_mod_seq: Option<u64>,
    /// Present when `subFolders`/`objects` are incomplete; pass back as the
    /// `fromCursor` query parameter (TS 6.11.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Subfolders (absent = unspecified, not empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_folders: Option<FolderReferenceList>,
    /// Contained objects (absent = unspecified, not empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<ObjectReferenceList>,
}

/// TS 5.3.2.9 Type: FolderList — a list of folders (folder search results).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FolderList {
    /// The folders; written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub folder: Vec<Folder>,
    /// Present when more folders are available (TS 5.1.10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// TS 5.3.2.11 Type: Reference — reference to a stored object or folder.
/// JSON `{"resourceURL": "...", "path": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reference {
    /// Resource URL (xsd:anyURI).
    #[serde(rename = "resourceURL")]
    pub resource_url: String,
    /// Location in the hierarchical storage. Appendix D.48 writes `null` for
    /// the root folder; that reads as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// TS 5.3.2.10 Type: FolderReferenceList — list of folder references.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderReferenceList {
    /// The references; written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub folder_reference: Vec<Reference>,
}

/// TS 5.3.2.12 Type: ObjectReferenceList — list of object references (also
/// the response to a `VanishedObjects` search, TS 6.7).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReferenceList {
    /// The references; written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub object_reference: Vec<Reference>,
}

/// TS 5.3.2.14 Type: ReferenceList — references to folders and objects (both
/// members mandatory in the TS; default to empty on input).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReferenceList {
    /// The referenced folders.
    #[serde(default)]
    pub folders: FolderReferenceList,
    /// The referenced objects.
    #[serde(default)]
    pub objects: ObjectReferenceList,
}

/// TS 5.3.2.13 Type: TargetSourceRef — target folder and sources of a
/// copyToFolder / moveToFolder operation (TS 6.15, 6.16).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSourceRef {
    /// The target folder.
    pub target_ref: Reference,
    /// The source objects and folders.
    #[serde(default)]
    pub source_refs: ReferenceList,
}

/// TS 5.3.2.30 Type: PathList — paths of objects or folders for the bulk
/// pathToId operations (TS 6.8.5, 6.14.5). JSON `{"path": ["/a", "/b"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PathList {
    /// The paths (1..unbounded in the TS); written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub path: Vec<String>,
}

// ===========================================================================
// Search: selection, search and sort criteria (TS 5.3.2.15 - 5.3.2.19,
// 5.3.3.1 - 5.3.3.4, TS 6.7 and 6.13)
// ===========================================================================

/// TS 5.3.2.15 Type: SelectionCriteria — body of the object and folder
/// search operations (TS 6.7.5, 6.13.5).
///
/// Sort criteria: the TS table names the member `sortCriteria` of type
/// SortCriteria (`{"criterion": [...]}`), while the XSD, the section 6
/// examples and Appendix D use `sortCriterion` with a single SortCriterion.
/// Both spellings are accepted on input, each as a single criterion, an
/// array of criteria, or a `{"criterion": ...}` wrapper; they are normalised
/// into [`SelectionCriteria::sort_criteria`] (most significant first). Giving
/// both members in one request is rejected as a duplicate field. On output
/// the member is always `sortCriterion`: a single object for one criterion
/// (XSD, Appendix D), an array for several.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectionCriteria {
    /// Cursor from a previous response to the same criteria (TS 5.1.10);
    /// absent = first position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_cursor: Option<String>,
    /// Maximum number of entries in the response (xsd:unsignedInt). Mandatory
    /// in the TS; absent here means "server policy default".
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_entries: Option<u32>,
    /// Search criteria; absent = everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_criteria: Option<SearchCriteria>,
    /// Folder at which the search starts; absent = whole box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_scope: Option<Reference>,
    /// True = search `searchScope` only, not its subfolders (TS only; not in
    /// the XSD). Absent = recursive.
    #[serde(
        default,
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub non_recursive_scope: Option<bool>,
    /// Normalised sort criteria (see the type docs); empty = server order.
    #[serde(
        rename = "sortCriterion",
        alias = "sortCriteria",
        default,
        deserialize_with = "de_sort_criteria",
        serialize_with = "ser_sort_criteria",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sort_criteria: Vec<SortCriterion>,
}

/// TS 5.3.2.16 Type: SearchCriteria — criteria combined with one logical
/// operator (absent = `And`; `Not` = NOT(c1 AND ... AND cn)). Also the type
/// of `NmsSubscription.filter`. The TS defines no nesting: criteria are
/// SearchCriterion leaves only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SearchCriteria {
    /// The criteria (1..unbounded in the TS); written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub criterion: Vec<SearchCriterion>,
    /// Operator applied between the criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<LogicalOperator>,
}

impl SearchCriteria {
    /// The operator in effect: the given one, or `And` when absent.
    pub fn effective_operator(&self) -> LogicalOperator {
        self.operator.unwrap_or(LogicalOperator::And)
    }
}

/// TS 5.3.2.17 Type: SearchCriterion — one search criterion. The meaning of
/// `name` and the format of `value` depend on `type` (TS 6.7 table), e.g.
/// `{"type": "Date", "value": "minDate=2013-11-11T09:30:10Z"}`,
/// `{"type": "Attribute", "name": "From", "value": "tel:+1..."}`,
/// `{"type": "Flag", "name": "\\Seen", "value": "false"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchCriterion {
    /// The search type (JSON member `type`).
    #[serde(rename = "type")]
    pub kind: SearchType,
    /// Attribute name, flag name or preset search name, where the type needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Value to match; mandatory in the TS, read as `""` when absent.
    #[serde(default)]
    pub value: String,
}

/// TS 5.3.2.18 Type: SortCriteria — ordered sort criteria, first is most
/// significant. JSON `{"criterion": [...]}`. Accepted on input as
/// `SelectionCriteria.sortCriteria`; normalised into
/// [`SelectionCriteria::sort_criteria`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SortCriteria {
    /// The criteria; written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub criterion: Vec<SortCriterion>,
}

/// TS 5.3.2.19 Type: SortCriterion — one sort criterion, e.g.
/// `{"type": "Date", "order": "Ascending"}` or `{"type": "Attribute",
/// "name": "Subject"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortCriterion {
    /// The sort type (JSON member `type`).
    #[serde(rename = "type")]
    pub kind: SortType,
    /// Attribute name for `Attribute` sorts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Sort order; absent = `Descending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<SortOrder>,
}

impl SortCriterion {
    /// The order in effect: the given one, or `Descending` when absent.
    pub fn effective_order(&self) -> SortOrder {
        self.order.unwrap_or(SortOrder::Descending)
    }
}

/// Private: one entry given for `sortCriterion`/`sortCriteria` as a JSON
/// object — either a SortCriterion (has `type`) or a SortCriteria wrapper
/// (has `criterion`).
#[derive(Deserialize)]
struct SortEntry {
    #[serde(rename = "type", default)]
    kind: Option<SortType>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    order: Option<SortOrder>,
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    criterion: Vec<SortCriterion>,
}

/// Private visitor behind [`de_sort_criteria`].
struct SortCriteriaVisitor;

impl<'de> Visitor<'de> for SortCriteriaVisitor {
    type Value = Vec<SortCriterion>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SortCriterion, an array of SortCriterion, or {\"criterion\": [...]}")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let entry = SortEntry::deserialize(de::value::MapAccessDeserializer::new(map))?;
        match entry.kind {
            Some(kind) => Ok(vec![SortCriterion {
                kind,
                name: entry.name,
                order: entry.order,
            }]),
            None if !entry.criterion.is_empty() => Ok(entry.criterion),
            None => Err(de::Error::missing_field("type")),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

/// Reads `sortCriterion` / `sortCriteria` in any of their shapes (see
/// [`SelectionCriteria`]).
fn de_sort_criteria<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SortCriterion>, D::Error> {
    d.deserialize_any(SortCriteriaVisitor)
}

/// Writes `sortCriterion`: one criterion as an object, several as an array.
fn ser_sort_criteria<S: Serializer>(v: &[SortCriterion], s: S) -> Result<S::Ok, S::Error> {
    match v {
        [one] => one.serialize(s),
        many => many.serialize(s),
    }
}

/// TS 5.3.3.1 Enumeration: SearchTypeEnum — type of a search criterion or
/// subscription filter. JSON strings with the TS spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SearchType {
    /// `Date`: by internal storage date; value `minDate=...&maxDate=...`.
    Date,
    /// `Attribute`: attribute `name` has value `value`.
    Attribute,
    /// `AllTextAttributes`: case-insensitive substring in all text attributes.
    AllTextAttributes,
    /// `Flag`: flag `name` is set (`value` "true") or not ("false").
    Flag,
    /// `WholeWord`: whole-word full-text search.
    WholeWord,
    /// `VanishedObjects`: recently purged objects (TS 5.1.7).
    VanishedObjects,
    /// `CreatedObjects`: objects created since `value` (a creationCursor, or "").
    CreatedObjects,
    /// `PresetSearch`: server pre-configured search `name` with arguments `value`.
    PresetSearch,
    /// `Conversation`: listed in the XSD SearchTypeEnum only (not in the TS
    /// table); accepted so such requests parse.
    Conversation,
}

/// TS 5.3.3.2 Enumeration: LogicalOperatorEnum — operator between search
/// criteria. JSON `"And"`, `"Or"`, `"Not"` (upper/lower case accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogicalOperator {
    /// Logical AND (the default).
    #[serde(alias = "AND", alias = "and")]
    And,
    /// Logical OR.
    #[serde(alias = "OR", alias = "or")]
    Or,
    /// NOT (c1 AND c2 AND ... AND cn).
    #[serde(alias = "NOT", alias = "not")]
    Not,
}

/// TS 5.3.3.3 Enumeration: SortTypeEnum — JSON `"Date"` (internal storage
/// date) or `"Attribute"` (attribute given by `name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SortType {
    /// Sort by the date recorded internally by the store.
    Date,
    /// Sort by the attribute named in `SortCriterion.name`.
    Attribute,
}

/// TS 5.3.3.4 Enumeration: SortOrderEnum — JSON `"Ascending"` or
/// `"Descending"` (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SortOrder {
    /// Ascending order.
    Ascending,
    /// Descending order (the default).
    Descending,
}

/// TS 6.11.3 query parameter `listFilter` of GET on an individual folder:
/// which contained items to list. String values `Subfolders`, `Objects`,
/// `All`; absent = neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ListFilter {
    /// Only the `subFolders` list.
    Subfolders,
    /// Only the `objects` list.
    Objects,
    /// Both lists.
    All,
}

// ===========================================================================
// Subscriptions and notifications (TS 5.3.2.20 - 5.3.2.29, TS 6.17 - 6.19)
// ===========================================================================

/// TS 5.3.2.20 Type: NmsSubscription — a subscription to notifications about
/// storage changes (TS 6.17, 6.18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NmsSubscription {
    /// Where notifications are sent.
    pub callback_reference: CallbackReference,
    /// Lifetime in seconds (xsd:unsignedInt); 0 or absent = server policy.
    /// In responses: the remaining validity.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<u32>,
    /// Only events for matching objects/folders are sent; absent = all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<SearchCriteria>,
    /// Client correlator for idempotent creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_correlator: Option<String>,
    /// Self URL (xsd:anyURI).
    #[serde(
        rename = "resourceURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_url: Option<String>,
    /// Index of the next notification (xsd:unsignedLong, TS 5.1.4.5);
    /// responses only.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub index: Option<u64>,
    /// Restart token (TS 5.1.4.3): where the subscription starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_token: Option<String>,
}

/// TS 5.3.2.21 Type: NmsSubscriptionList — the active subscriptions of a box.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NmsSubscriptionList {
    /// The subscriptions; written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub subscription: Vec<NmsSubscription>,
    /// Self URL (xsd:anyURI, mandatory).
    #[serde(rename = "resourceURL")]
    pub resource_url: String,
}

/// TS 5.3.2.22 Type: NmsSubscriptionUpdate — body of POST on an individual
/// subscription (TS 6.18.5): new duration and/or restart token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NmsSubscriptionUpdate {
    /// New lifetime in seconds (xsd:unsignedInt); 0 = server policy.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<u32>,
    /// Restart token to restart the notification stream from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_token: Option<String>,
}

/// TS 5.3.2.23 Type: NmsEvent — one storage change; a choice, written as a
/// one-member object, e.g. `{"deletedObject": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NmsEvent {
    /// `deletedObject`: the user deleted an object.
    DeletedObject(DeletedObject),
    /// `deletedFolder`: the user deleted a folder.
    DeletedFolder(DeletedFolder),
    /// `expiredObject`: an object expired.
    ExpiredObject(DeletedObject),
    /// `expiredFolder`: a folder expired.
    ExpiredFolder(DeletedFolder),
    /// `changedObject`: an object was created or changed.
    ChangedObject(ChangedObject),
    /// `changedFolder`: a folder was created or changed.
    ChangedFolder(ChangedFolder),
    /// `resetBox`: the box was reset.
    ResetBox(ResetBox),
}

/// TS 5.3.2.24 Type: NmsEventList — a notification (TS 6.19): the events plus
/// the subscription's callback data, notification index and restart token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NmsEventList {
    /// The events; written as `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub nms_event: Vec<NmsEvent>,
    /// `callbackData` of the subscription's CallbackReference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    /// Index of this notification in the subscription, from 1
    /// (xsd:unsignedLong, TS 5.1.4.5).
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub index: Option<u64>,
    /// Restart token after these changes (TS 5.1.4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_token: Option<String>,
    /// Related resources; the server should link the subscription.
    #[serde(
        default,
        deserialize_with = "lenient::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub link: Vec<Link>,
}

/// TS 5.3.2.25 Type: DeletedObject — a deleted (or expired) object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedObject {
    /// Resource URL of the deleted object (xsd:anyURI).
    #[serde(rename = "resourceURL")]
    pub resource_url: String,
    /// Last mod-sequence value (xsd:unsignedLong).
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_mod_seq: Option<u64>,
    /// Correlation ID of the object (TS 5.1.12.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Correlation tag of the object (TS 5.1.12.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_tag: Option<String>,
}

/// TS 5.3.2.26 Type: DeletedFolder — a deleted (or expired) folder.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedFolder {
    /// Resource URL of the deleted folder (xsd:anyURI).
    #[serde(rename = "resourceURL")]
    pub resource_url: String,
    /// Last mod-sequence value (xsd:unsignedLong).
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_mod_seq: Option<u64>,
}

/// TS 5.3.2.27 Type: ChangedObject — a new or changed object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedObject {
    /// Resource URL of the parent folder (xsd:anyURI).
    pub parent_folder: String,
    /// Current flags of the object.
    #[serde(default)]
    pub flags: FlagList,
    /// Resource URL of the object (xsd:anyURI).
    #[serde(rename = "resourceURL")]
    pub resource_url: String,
    /// Last mod-sequence value (xsd:unsignedLong).
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_mod_seq: Option<u64>,
    /// Correlation ID of the object (TS 5.1.12.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Correlation tag of the object (TS 5.1.12.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_tag: Option<String>,
}

/// TS 5.3.2.28 Type: ChangedFolder — a new or changed folder.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedFolder {
    /// Resource URL of the parent folder (xsd:anyURI).
    pub parent_folder: String,
    /// Resource URL of the folder (xsd:anyURI).
    #[serde(rename = "resourceURL")]
    pub resource_url: String,
    /// Folder name.
    pub name: String,
    /// Last mod-sequence value (xsd:unsignedLong).
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_mod_seq: Option<u64>,
}

/// TS 5.3.2.29 Type: ResetBox — the box has been reset (empty type). Written
/// as `null` (`{"resetBox": null}`); `null` or `{}` accepted on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ResetBox;

impl<'de> Deserialize<'de> for ResetBox {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<IgnoredObject>::deserialize(d).map(|_| ResetBox)
    }
}

// ===========================================================================
// Bulk responses and Empty (TS 5.3.2.31 - 5.3.2.33)
// ===========================================================================

/// TS 5.3.2.31 Type: Response (named `BulkResponse` here to avoid confusion
/// with HTTP responses) — the outcome of one item of a bulk operation (bulk
/// creation, bulk pathToId, copy/move). JSON `{"code": 200, "reason": "OK",
/// "success": {...}}` or `{..., "failure": {"serviceException": ...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResponse {
    /// HTTP status code of this item (xsd:unsignedShort), e.g. 200, 404.
    #[serde(deserialize_with = "lenient::number")]
    pub code: u16,
    /// HTTP reason phrase, e.g. `OK`, `Not Found`.
    pub reason: String,
    /// `success` or `failure` member.
    #[serde(flatten)]
    pub outcome: BulkOutcome,
}

/// The choice in TS 5.3.2.31 Response: `success` (a Reference to the object or
/// folder acted upon) or `failure` (a `common:RequestError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BulkOutcome {
    /// `success`: the object or folder the operation acted upon.
    Success(Reference),
    /// `failure`: why the operation failed for this item.
    Failure(RequestError),
}

/// TS 5.3.2.32 Type: BulkResponseList — per-item results of a bulk operation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BulkResponseList {
    /// The results (1..unbounded in the TS), in request order; written as
    /// `[]` when empty.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub response: Vec<BulkResponse>,
}

/// TS 5.3.2.33 Type: Empty — dummy body (e.g. for PUT on a flag). Written as
/// `null` (`{"empty": null}`, Appendix D.15/D.16); `null` or `{}` accepted on
/// input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Empty;

impl<'de> Deserialize<'de> for Empty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<IgnoredObject>::deserialize(d).map(|_| Empty)
    }
}

// ===========================================================================
// Root elements: the JSON bodies `{"<rootElement>": <value>}`
// ===========================================================================

/// Body `{"object": Object}` (TS 5.3.2.1; requests and responses).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ObjectRoot {
    /// The object.
    pub object: Object,
}

/// Body `{"objectList": ObjectList}` (TS 5.3.2.2; search responses, bulk
/// creation requests).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectListRoot {
    /// The object list.
    pub object_list: ObjectList,
}

/// Body `{"flag": "\\Seen"}` (TS 5.3.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagRoot {
    /// The flag.
    pub flag: Flag,
}

/// Body `{"flagList": FlagList}` (TS 5.3.2.4; TS 6.3).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagListRoot {
    /// The flag list.
    pub flag_list: FlagList,
}

/// Body `{"folder": Folder}` (TS 5.3.2.8; TS 6.10, 6.11).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FolderRoot {
    /// The folder.
    pub folder: Folder,
}

/// Body `{"folderList": FolderList}` (TS 5.3.2.9; folder search responses).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderListRoot {
    /// The folder list.
    pub folder_list: FolderList,
}

/// Body `{"folderReferenceList": FolderReferenceList}` (TS 5.3.2.10).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderReferenceListRoot {
    /// The folder references.
    pub folder_reference_list: FolderReferenceList,
}

/// Body `{"reference": Reference}` (TS 5.3.2.11; creation and pathToId
/// responses).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReferenceRoot {
    /// The reference.
    pub reference: Reference,
}

/// Body `{"objectReferenceList": ObjectReferenceList}` (TS 5.3.2.12;
/// VanishedObjects search responses).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReferenceListRoot {
    /// The object references.
    pub object_reference_list: ObjectReferenceList,
}

/// Body `{"targetSourceRef": TargetSourceRef}` (TS 5.3.2.13; copyToFolder,
/// moveToFolder requests).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSourceRefRoot {
    /// Target and sources.
    pub target_source_ref: TargetSourceRef,
}

/// Body `{"selectionCriteria": SelectionCriteria}` (TS 5.3.2.15; search
/// requests).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectionCriteriaRoot {
    /// The selection criteria.
    pub selection_criteria: SelectionCriteria,
}

/// Body `{"nmsSubscription": NmsSubscription}` (TS 5.3.2.20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NmsSubscriptionRoot {
    /// The subscription.
    pub nms_subscription: NmsSubscription,
}

/// Body `{"nmsSubscriptionList": NmsSubscriptionList}` (TS 5.3.2.21).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NmsSubscriptionListRoot {
    /// The subscription list.
    pub nms_subscription_list: NmsSubscriptionList,
}

/// Body `{"nmsSubscriptionUpdate": NmsSubscriptionUpdate}` (TS 5.3.2.22).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NmsSubscriptionUpdateRoot {
    /// The update.
    pub nms_subscription_update: NmsSubscriptionUpdate,
}

/// Body `{"nmsEventList": NmsEventList}` (TS 5.3.2.24; notifications, TS 6.19).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NmsEventListRoot {
    /// The notification.
    pub nms_event_list: NmsEventList,
}

/// Body `{"pathList": PathList}` (TS 5.3.2.30; bulk pathToId requests).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathListRoot {
    /// The paths.
    pub path_list: PathList,
}

/// Body `{"bulkResponseList": BulkResponseList}` (TS 5.3.2.32).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkResponseListRoot {
    /// The per-item results.
    pub bulk_response_list: BulkResponseList,
}

/// Body `{"empty": null}` (TS 5.3.2.33).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EmptyRoot {
    /// The empty element (`null`).
    #[serde(default)]
    pub empty: Empty,
}

/// Body `{"name": "BoardMeeting"}`: the light-weight resource `folderName`
/// of a folder (TS 5.3.2.8 `name`, TS 6.12, Appendix F; XSD root element
/// `name` of type xsd:string).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NameRoot {
    /// The folder name.
    pub name: String,
}

/// Body `{"requestError": RequestError}` (REST NetAPI Common error body).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestErrorRoot {
    /// The error.
    pub request_error: RequestError,
}

/// Body `{"resourceReference": {"resourceURL": "..."}}` (REST NetAPI Common).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceReferenceRoot {
    /// The reference.
    pub resource_reference: ResourceReference,
}

// ===========================================================================
// Bulk update and bulk delete: not in the 2014 TS; what deployed RCS
// Common Message Store clients send (`/objects/operations/bulkUpdate`,
// `/objects/operations/bulkDelete`).
// ===========================================================================

/// The flag operation of a bulk update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlagOperation {
    /// Set the flags on every object.
    AddFlag,
    /// Clear the flags on every object.
    RemoveFlag,
}

/// A bulk update (`{"bulkUpdate": …}`): `operation` with `flags` on the
/// objects of `objects` (references), or on those `selectionCriteria`
/// selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkUpdate {
    /// The objects, by reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<ObjectReferenceList>,
    /// The objects, by a search (TS 5.3.2.15), instead of `objects`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_criteria: Option<SelectionCriteria>,
    /// What to do.
    pub operation: FlagOperation,
    /// The flags to set or clear.
    pub flags: FlagList,
}

/// Body `{"bulkUpdate": BulkUpdate}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkUpdateRoot {
    /// The update.
    pub bulk_update: BulkUpdate,
}

/// A bulk delete (`{"bulkDelete": …}`, sent with HTTP DELETE): the objects
/// to remove, by reference or by a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkDelete {
    /// The objects, by reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<ObjectReferenceList>,
    /// The objects, by a search, instead of `objects`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_criteria: Option<SelectionCriteria>,
}

/// Body `{"bulkDelete": BulkDelete}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkDeleteRoot {
    /// The delete.
    pub bulk_delete: BulkDelete,
}

// ===========================================================================
// Notification Channel (OMA-TS-REST_NetAPI_NotificationChannel-V1_0, "NC TS"
// 5.2): the channels over which NMS notifications reach a client that
// cannot be called back.
// ===========================================================================

/// NC TS 5.2.3.1: how notifications reach the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelType {
    /// The client polls the channel URL (NC TS 5.3.1).
    LongPolling,
    /// The server pushes over a WebSocket opened on the channel URL.
    WebSockets,
    /// OMA Push (not offered: POL1023).
    #[serde(rename = "OMAPush")]
    OmaPush,
    /// A native push service (not offered: POL1023).
    NativeChannel,
}

/// NC TS 5.2.2.6 / 5.2.2.10: the data of a LongPolling or WebSockets
/// channel (JSON carries no type marker, NC TS 5.2.2.6).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelData {
    /// Where the client polls (or opens its WebSocket); server-given.
    #[serde(
        rename = "channelURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_url: Option<String>,
    /// Most notifications in one notification list.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_notifications: Option<u32>,
    /// Longest wait of one poll, in seconds (LongPolling).
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_wait_time: Option<u32>,
}

/// NC TS 5.2.2.2 Type: NotificationChannel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChannel {
    /// The client's correlator (idempotent creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_correlator: Option<String>,
    /// The client's tag, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_tag: Option<String>,
    /// The channel type.
    pub channel_type: ChannelType,
    /// Its data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_data: Option<ChannelData>,
    /// Its lifetime, in seconds (remaining, in answers).
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_lifetime: Option<u32>,
    /// Where notification servers deliver to this channel (server-given).
    #[serde(
        rename = "callbackURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub callback_url: Option<String>,
    /// Self URL (server-given).
    #[serde(
        rename = "resourceURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_url: Option<String>,
}

/// Body `{"notificationChannel": NotificationChannel}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChannelRoot {
    /// The channel.
    pub notification_channel: NotificationChannel,
}

/// NC TS 5.2.2.1: a user's channels. Body `{"notificationChannelList": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChannelList {
    /// The channels.
    #[serde(default, deserialize_with = "lenient::one_or_many")]
    pub notification_channel: Vec<NotificationChannel>,
    /// Self URL.
    #[serde(rename = "resourceURL")]
    pub resource_url: String,
}

/// Body `{"notificationChannelList": NotificationChannelList}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChannelListRoot {
    /// The list.
    pub notification_channel_list: NotificationChannelList,
}

/// NC TS 5.2.2.14: a channel's lifetime, in seconds. Body
/// `{"notificationChannelLifetime": {"channelLifetime": n}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChannelLifetime {
    /// Remaining (answers) or wanted (PUT) lifetime.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_lifetime: Option<u32>,
}

/// Body `{"notificationChannelLifetime": NotificationChannelLifetime}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChannelLifetimeRoot {
    /// The lifetime.
    pub notification_channel_lifetime: NotificationChannelLifetime,
}
