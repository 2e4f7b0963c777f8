//! The data model of ARCHITECTURE.md ("Data model"), in IMAP's terms.
//!
//! These are the records the store keeps; they are encoded with postcard
//! under the keys of `crate::keys`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::blob::BlobId;
use crate::rights::Rights;

/// An account's immutable numeric id (never reused).
pub type AccountId = u64;
/// A folder's immutable numeric id within the store (never reused).
pub type FolderId = u64;
/// An object's UID within its folder (RFC 3501 2.3.1.1): a non-zero 32-bit
/// number, strictly ascending, never reused while UIDVALIDITY stands.
pub type Uid = u32;
/// A modification sequence number (RFC 7162 section 3.1.1). The store keeps
/// one counter per account; every change in the account takes the next
/// value, so it is also the account's change number (ARCHITECTURE.md,
/// "Change feed").
pub type ModSeq = u64;

/// Seconds since the Unix epoch, UTC.
pub type UnixTime = i64;

/// The authenticated identity an operation runs for (seed 002, 5.5.1:
/// "authenticate-then-authorize").
///
/// Front ends cannot make one: its fields are private to store-core, and
/// the only ways to get one are store-core's authentication
/// ([`crate::Store::authenticate`], [`crate::Store::scram_finish`]) and
/// two named paths: [`crate::Store::trusted_element`] (a trusted SIP
/// network element depositing for a served user, with that user's
/// rights only) and [`crate::Store::administrator`] (the local
/// administrator's CLI and admin endpoint, which may also administer
/// accounts).
///
/// It also carries the WebDAV lock tokens the request submitted (RFC 4918
/// 10.4, the `If` header), so that store-core's lock check
/// ([`crate::check_locks_honoured`]) can let a write through a lock its owner
/// holds; no other protocol submits any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account's id.
    pub(crate) account: AccountId,
    /// The account's login name (also its ACL identifier, RFC 4314).
    pub(crate) login: String,
    /// Lock tokens submitted with the current request.
    pub(crate) lock_tokens: Vec<String>,
    /// Made by [`crate::Store::administrator`]: the local administrator,
    /// who may administer accounts (set quota limits, remove any lock).
    pub(crate) administrator: bool,
    /// A trusted network element acting for the account: made by
    /// [`crate::Store::trusted_element`] (SIP) and [`crate::Store::act_for`]
    /// (a listed element's login acting for a user), never by a password
    /// or token login of the account itself. Under the RCS folder layout
    /// only such a principal may write the `Default` tree
    /// ([`crate::conversation::FolderLayout::check_write`]).
    pub(crate) network_element: bool,
}

impl Principal {
    /// Made only by store-core's authentication and trusted path.
    pub(crate) fn new(account: AccountId, login: String) -> Principal {
        Principal {
            account,
            login,
            lock_tokens: Vec::new(),
            administrator: false,
            network_element: false,
        }
    }

    /// The account's immutable id.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The account's login name (its RFC 4314 ACL identifier).
    pub fn login(&self) -> &str {
        &self.login
    }

    /// The lock tokens submitted with the current request.
    pub fn lock_tokens(&self) -> &[String] {
        &self.lock_tokens
    }

    /// Whether a trusted network element acts through this principal
    /// (see the field's documentation).
    pub fn is_network_element(&self) -> bool {
        self.network_element
    }

    /// The same principal with the lock tokens a request submitted (a
    /// WebDAV `If` header, RFC 4918 10.4): writes under a lock this
    /// principal created and whose token is among them pass store-core's
    /// lock check. At most 64 are kept.
    pub fn with_lock_tokens<I, S>(&self, tokens: I) -> Principal
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Principal {
            account: self.account,
            login: self.login.clone(),
            lock_tokens: tokens.into_iter().take(64).map(Into::into).collect(),
            administrator: self.administrator,
            network_element: self.network_element,
        }
    }
}

/// An account: a CPM user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// Immutable id.
    pub id: AccountId,
    /// The login name, unique, as typed at IMAP LOGIN or HTTP Basic.
    pub login: String,
    /// The CPM address (`sip:alice@example.com`, `tel:+15551234567`), unique
    /// when present; SIP deposits find the account by it.
    pub address: Option<String>,
    /// When the account was created.
    pub created: UnixTime,
    /// Its storage limits.
    pub quota: QuotaLimits,
}

/// Storage limits of an account (RFC 9208 STORAGE and MESSAGE resources).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLimits {
    /// Most bytes of objects the account may hold; `None` = unlimited.
    pub max_bytes: Option<u64>,
    /// Most objects the account may hold; `None` = unlimited.
    pub max_objects: Option<u64>,
}

/// What an account currently uses, with its limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    /// Sum of RFC822.SIZE of every object in every folder, in bytes.
    pub bytes: u64,
    /// Number of objects in every folder.
    pub objects: u64,
    /// The limits in force.
    pub limits: QuotaLimits,
}

/// Special-use attributes of RFC 6154 section 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpecialUse {
    /// `\All`
    All,
    /// `\Archive`
    Archive,
    /// `\Drafts`
    Drafts,
    /// `\Flagged`
    Flagged,
    /// `\Junk`
    Junk,
    /// `\Sent`
    Sent,
    /// `\Trash`
    Trash,
}

impl SpecialUse {
    /// The attribute as IMAP writes it, e.g. `\Sent`.
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }
}

/// A folder (IMAP mailbox) as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Folder {
    /// Immutable id.
    pub id: FolderId,
    /// The owning account.
    pub owner: AccountId,
    /// Full hierarchical name, levels separated by `/`; `INBOX` is spelled
    /// in upper case.
    pub name: String,
    /// RFC 3501 2.3.1.1 UIDVALIDITY; strictly greater than that of any
    /// earlier folder of the store, so a recreated name never reuses one.
    pub uid_validity: u32,
    /// The UID the next stored object gets.
    pub uid_next: Uid,
    /// The MODSEQ of the last change to the folder or any of its objects
    /// (RFC 7162 HIGHESTMODSEQ); changes when objects arrive or leave.
    pub highest_modseq: ModSeq,
    /// RFC 6154 attribute, if any.
    pub special_use: Option<SpecialUse>,
    /// RFC 4314 ACL: identifier (a login name or `anyone`) to rights. The
    /// owner always has every right and is not listed unless set.
    pub acl: BTreeMap<String, Rights>,
    /// Number of objects in the folder.
    pub objects: u32,
    /// Number of objects without `\Seen`.
    pub unseen: u32,
    /// Sum of the objects' RFC822.SIZE, in bytes (RFC 8438 STATUS SIZE),
    /// kept as a counter by every operation that adds or removes objects.
    pub size: u64,
}

impl Folder {
    /// Its RFC 8474 MAILBOXID ([`crate::objectid::mailbox_id`]): stable
    /// across renames, new for a folder deleted and created again.
    pub fn mailbox_id(&self) -> String {
        crate::objectid::mailbox_id(self.id)
    }
}

/// The kinds of stored object (seed 004, "object kinds"; ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ObjectKind {
    /// A standalone CPM message or a chat message of a conversation.
    #[default]
    CpmMessage,
    /// A CPM session history (multipart/related, Application/X-CPM-Session).
    SessionHistory,
    /// A CPM file transfer history (Application/X-CPM-File-Transfer).
    FileTransferHistory,
    /// A media object (a file stored over WebDAV or a file transfer's file).
    MediaObject,
    /// A legacy SMS or MMS (Message-Context: pager-message / multimedia-message).
    LegacyMessage,
    /// An RCS group state object (`application/group-state-object+xml`,
    /// GSMA RCC.07 Common Message Store: the participants and subject of a
    /// group chat, kept in its conversation; `Message-Context:
    /// group-state-object`). Last, so that records stored before it (the
    /// variant index is what postcard writes) still decode.
    GroupStateObject,
}

/// The CPM headers of an object, kept for search and for the SIP deposit's
/// duplicate check (seed 003 and the CPM conversation rules).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpmHeaders {
    /// `Conversation-ID`
    pub conversation_id: Option<String>,
    /// `Contribution-ID`
    pub contribution_id: Option<String>,
    /// `InReplyTo-Contribution-ID`
    pub in_reply_to_contribution_id: Option<String>,
    /// `IMDN-Message-ID`
    pub imdn_message_id: Option<String>,
    /// `Message-Direction` (`sent` / `received`)
    pub message_direction: Option<String>,
}

/// A set of IMAP flags and keywords (RFC 3501 2.3.2). System flags are kept
/// in their canonical spelling (`\Seen`), keywords as first given; both are
/// compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags(BTreeSet<String>);

/// The system flags of RFC 3501 2.3.2 that may be stored (`\Recent` is
/// session state, never stored).
pub const SYSTEM_FLAGS: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];

impl Flags {
    /// An empty set.
    pub fn new() -> Flags {
        Flags::default()
    }

    fn canonical(flag: &str) -> String {
        SYSTEM_FLAGS
            .iter()
            .find(|s| s.eq_ignore_ascii_case(flag))
            .map(|s| s.to_string())
            .unwrap_or_else(|| flag.to_string())
    }

    fn find(&self, flag: &str) -> Option<&String> {
        self.0.iter().find(|f| f.eq_ignore_ascii_case(flag))
    }

    /// Whether `flag` is set (case-insensitive).
    pub fn contains(&self, flag: &str) -> bool {
        self.find(flag).is_some()
    }

    /// Adds `flag`; returns whether the set changed.
    pub fn insert(&mut self, flag: &str) -> bool {
        if self.contains(flag) {
            return false;
        }
        self.0.insert(Self::canonical(flag))
    }

    /// Removes `flag`; returns whether the set changed.
    pub fn remove(&mut self, flag: &str) -> bool {
        match self.find(flag).cloned() {
            Some(f) => self.0.remove(&f),
            None => false,
        }
    }

    /// The flags, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Number of flags.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no flag is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Flags {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut flags = Flags::new();
        for f in iter {
            flags.insert(f.as_ref());
        }
        flags
    }
}

/// An object (IMAP message) as stored in a folder.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Object {
    /// Its UID in the folder.
    pub uid: Uid,
    /// The MODSEQ of its last change.
    pub modseq: ModSeq,
    /// Flags and keywords.
    pub flags: Flags,
    /// RFC 3501 INTERNALDATE.
    pub internal_date: UnixTime,
    /// RFC 3501 RFC822.SIZE: the exact size of the content, in bytes.
    pub size: u64,
    /// The content, by SHA-256 (ARCHITECTURE.md, "Blob").
    pub blob: BlobId,
    /// Its kind.
    pub kind: ObjectKind,
    /// Its CPM headers.
    pub cpm: CpmHeaders,
    /// A file name, for media objects (WebDAV resource name).
    pub file_name: Option<String>,
    /// Its RFC 8474 EMAILID number ([`crate::objectid::email_id`]): given
    /// when the content is first stored in the account, kept by MOVE,
    /// COPY, RENAME and restarts.
    pub email_id: u64,
    /// Its RFC 8474 THREADID number ([`crate::objectid::thread_id`]): the
    /// EMAILID number of the first message of its thread, found at store
    /// time from Message-ID, In-Reply-To and References.
    pub thread_id: u64,
    /// RFC 8514 SAVEDATE: when it was stored into this folder (APPEND,
    /// COPY, MOVE); `None` for objects stored before the store kept it.
    pub save_date: Option<UnixTime>,
}

impl Object {
    /// Its WebDAV resource name: the file name when it has one, else
    /// `{UID}.eml`.
    pub fn resource_name(&self) -> String {
        match &self.file_name {
            Some(name) => name.clone(),
            None => format!("{}.eml", self.uid),
        }
    }
}

pub use crate::dates::parse_rfc3339;

/// One change in an account, as the change feed publishes and persists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The account's MODSEQ this change took (several changes made by one
    /// operation share it).
    pub modseq: ModSeq,
    /// The folder concerned.
    pub folder: FolderId,
    /// What happened.
    pub kind: ChangeKind,
}

/// What a [`Change`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeKind {
    /// An object was stored.
    ObjectStored {
        /// Its UID.
        uid: Uid,
    },
    /// An object was removed (expunged).
    ObjectRemoved {
        /// Its UID.
        uid: Uid,
    },
    /// An object's flags changed.
    FlagsChanged {
        /// Its UID.
        uid: Uid,
    },
    /// A folder was created.
    FolderCreated {
        /// Its name.
        name: String,
    },
    /// A folder was renamed.
    FolderRenamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A folder was removed.
    FolderRemoved {
        /// Its name.
        name: String,
    },
    /// A folder's ACL changed.
    AclChanged,
    /// A metadata entry of the folder (or of the server, folder 0) changed.
    MetadataChanged {
        /// The entry name (RFC 5464).
        entry: String,
    },
    /// A subscription changed.
    SubscriptionChanged {
        /// The folder name.
        name: String,
    },
    /// The account's use of a quota resource rose to a level
    /// ([`QUOTA_WARNING_PERCENT`] of its limit, or the whole limit) it was
    /// below before this change. Recorded by the operation that stored the
    /// object (its folder is the folder of the change).
    QuotaLevel {
        /// The resource.
        resource: QuotaResource,
        /// The level reached, in percent of the limit (90 or 100).
        percent: u8,
        /// Use after the change (bytes, or objects).
        used: u64,
        /// The limit.
        limit: u64,
    },
}

/// A quota resource (RFC 9208 section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuotaResource {
    /// `STORAGE`: bytes of objects (RFC 9208 5.1, counted here in bytes,
    /// reported by IMAP in units of 1024 octets).
    Storage,
    /// `MESSAGE`: number of objects (RFC 9208 5.2).
    Message,
}

/// The share of a quota limit at which the account is warned (the
/// [`ChangeKind::QuotaLevel`] change, an IMAP `[ALERT]`, a SIP NOTIFY).
pub const QUOTA_WARNING_PERCENT: u8 = 90;
