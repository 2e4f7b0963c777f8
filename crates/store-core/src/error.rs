//! The errors of store-core's operations. Front ends map each variant to
//! their protocol's own reply (IMAP NO/BAD, HTTP 4xx/5xx, SIP 4xx/5xx).

use crate::engine::{EngineError, EngineErrorKind};
use crate::rights::Right;

/// Why an operation of [`crate::Store`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Wrong login or password, or an unknown account (never says which).
    #[error("authentication failed")]
    AuthenticationFailed,
    /// Too many failed logins from this address or for this login: the
    /// attempt was refused without checking the password (IMAP waits or
    /// answers NO, WebDAV 429, SIP 403, each with the wait).
    #[error("too many failed logins; retry in {} s", crate::throttle::retry_after_seconds(*.retry_after))]
    LoginThrottled {
        /// How long until an attempt is admitted again.
        retry_after: std::time::Duration,
    },
    /// A bounded resource (the password-check slots) stayed busy for the
    /// whole allowed wait; a temporary failure (IMAP NO [UNAVAILABLE],
    /// HTTP 503).
    #[error("busy: {0}")]
    Busy(&'static str),
    /// The account named does not exist.
    #[error("no such account")]
    NoSuchAccount,
    /// The account (login or CPM address) exists already.
    #[error("account already exists")]
    AccountExists,
    /// The folder does not exist, or the principal may not see it
    /// (RFC 4314 section 4: a folder without the `l` right looks absent).
    #[error("no such folder")]
    NoSuchFolder,
    /// A folder of that name exists already.
    #[error("folder already exists")]
    FolderExists,
    /// Another object of the folder has that file name (WebDAV resource
    /// names are unique within a collection).
    #[error("an object of that name exists")]
    ObjectExists,
    /// A write lock is in the way (RFC 4918 7): one of another principal,
    /// or one whose token the request did not submit (every IMAP or SIP
    /// write). `root` is the lock's root path
    /// ([`crate::lock_path`]). WebDAV 423 with `DAV:lock-token-submitted`
    /// naming it (RFC 4918 9.10.6, 16), IMAP `NO [INUSE]` (RFC 5530).
    #[error("locked by a WebDAV lock on {root}")]
    Locked {
        /// The root path of the lock in the way.
        root: String,
    },
    /// A new lock conflicts with a live lock on an overlapping path (RFC
    /// 4918 6.2, 7.4); `root` is that lock's root path. WebDAV 423 with
    /// `DAV:no-conflicting-lock` naming it (RFC 4918 9.10.6, 16).
    #[error("conflicts with a WebDAV lock on {root}")]
    LockConflict {
        /// The root path of the conflicting lock.
        root: String,
    },
    /// The lock token names no live lock on that resource.
    #[error("no such lock")]
    NoSuchLock,
    /// The content cannot be converted as asked (an unsupported or
    /// undecodable media type for a preview; RFC 5259 BADPARAMETERS).
    #[error("cannot convert: {0}")]
    Unconvertible(String),
    /// The object (UID) does not exist in the folder.
    #[error("no such object")]
    NoSuchObject,
    /// The principal sees the folder but lacks the right the operation needs.
    #[error("permission denied: right '{}' required", .0.letter())]
    PermissionDenied(Right),
    /// Only an administrator may do this (the trusted path or a login in
    /// `quota_admins`, [`crate::Store::is_administrator`]); the string
    /// names the operation (IMAP `NO [NOPERM]`, HTTP 403).
    #[error("only an administrator may do this: {0}")]
    AdminOnly(&'static str),
    /// The folder is reserved to trusted network elements (the RCS folder
    /// layout's `Default` tree, [`crate::conversation::FolderLayout`]):
    /// a principal that is not one may not store objects in it, nor
    /// create, rename or remove folders there. The string is the folder's
    /// name (IMAP `NO [NOPERM]`, NMS POL1031, WebDAV 403).
    #[error("the folder {0} is written only by trusted network elements")]
    ReservedFolder(String),
    /// The authenticated login is not a trusted network element
    /// (`[auth] trusted_elements`) and may not act for another account
    /// ([`crate::Store::act_for`]; IMAP `NO [AUTHORIZATIONFAILED]`).
    #[error("not a trusted network element")]
    NotTrustedElement,
    /// A folder name that cannot be stored (empty level, bad character, too
    /// long); the string says what is wrong.
    #[error("invalid folder name: {0}")]
    InvalidName(String),
    /// The operation is not allowed on this target (deleting INBOX, renaming
    /// a folder into itself, ...); the string says which rule.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The account's quota would be exceeded (RFC 9208 OVERQUOTA).
    #[error("quota exceeded")]
    OverQuota,
    /// A request argument is out of range or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The changes asked for start below the account's feed horizon: the
    /// changes up to `horizon` (a MODSEQ) were pruned (`store::prune`),
    /// so the caller must resynchronize from the current state.
    #[error("changes up to MODSEQ {horizon} were pruned")]
    ChangesPruned {
        /// Every change up to this MODSEQ is gone.
        horizon: u64,
    },
    /// A metadata or annotation limit would be passed (RFC 5464 MAXSIZE,
    /// TOOMANY).
    #[error("metadata limit: {0}")]
    MetadataLimit(MetadataLimit),
    /// A folder would define more than `max` keywords (RFC 3501 7.2.6;
    /// `store::keywords`): the write that brought a new one is refused
    /// (IMAP `NO [LIMIT]`, RFC 5530 3).
    #[error("too many keywords in the folder (at most {max})")]
    TooManyKeywords {
        /// The limit, [`crate::store::MAX_FOLDER_KEYWORDS`].
        max: usize,
    },
    /// The reference is unknown, expired, revoked or not for this principal.
    #[error("invalid reference")]
    InvalidReference,
    /// The storage engine failed.
    #[error(transparent)]
    Engine(EngineError),
    /// A blob file could not be written or read.
    #[error("blob store: {0}")]
    Io(std::io::Error),
    /// The device holding the store is full (`ENOSPC`, `EDQUOT`): nothing
    /// of the operation was stored. Writes succeed again once space is
    /// freed, without a restart (IMAP `NO [OVERQUOTA]` as RFC 9208 5.3
    /// allows for a full disk, WebDAV 507 (RFC 4918 11.5), SIP 500 with
    /// Retry-After).
    #[error("no space left on the storage device")]
    StorageFull,
    /// The storage failed with an I/O error and takes no writes until it
    /// has recovered (the writer reopens the database); nothing of the
    /// operation was stored. The string says what failed (IMAP
    /// `NO [UNAVAILABLE]`, RFC 5530; HTTP 503 and SIP 500 with
    /// Retry-After).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be decoded (a bug or a damaged store).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The store is shutting down and takes no more writes.
    #[error("store is closed")]
    Closed,
}

impl From<EngineError> for StoreError {
    /// A full device becomes [`StoreError::StorageFull`], another I/O
    /// failure [`StoreError::Unavailable`], anything else
    /// [`StoreError::Engine`].
    fn from(e: EngineError) -> Self {
        match e.kind {
            EngineErrorKind::StorageFull => StoreError::StorageFull,
            EngineErrorKind::Io => StoreError::Unavailable(e.message),
            EngineErrorKind::Other => StoreError::Engine(e),
        }
    }
}

impl From<std::io::Error> for StoreError {
    /// A full device (`ENOSPC`, `EDQUOT`) becomes
    /// [`StoreError::StorageFull`], any other error [`StoreError::Io`].
    fn from(e: std::io::Error) -> Self {
        if crate::engine::is_storage_full(&e) {
            StoreError::StorageFull
        } else {
            StoreError::Io(e)
        }
    }
}

impl StoreError {
    /// Whether the storage, not the request, is at fault and the same
    /// request may succeed later ([`StoreError::StorageFull`],
    /// [`StoreError::Unavailable`]): protocols add a retry hint.
    pub fn is_temporary(&self) -> bool {
        matches!(self, StoreError::StorageFull | StoreError::Unavailable(_))
    }
}

/// Shorthand for results of store-core.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which metadata limit a write would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetadataLimit {
    /// A value is larger than this many bytes.
    #[error("a value is larger than {max} bytes")]
    ValueTooLarge {
        /// The largest value, in bytes.
        max: usize,
    },
    /// A target would hold more than this many entries.
    #[error("more than {max} entries")]
    TooManyEntries {
        /// The most entries per target.
        max: usize,
    },
}
