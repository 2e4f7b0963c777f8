//! Parsed commands: what a client asked for, in RFC 3501's terms, before
//! any session state is applied.

use store_core::blob::StagedBlob;
use store_core::model::UnixTime;
use store_core::search::SearchKey as StoreSearchKey;
pub use store_core::sort::{SortCriterion, SortKey};

use super::sequence::SequenceSet;

/// A tagged command.
#[derive(Debug)]
pub struct Request {
    /// The client's tag, echoed in the tagged response.
    pub tag: String,
    /// The command.
    pub command: Command,
}

/// Every command this server knows (RFC 3501 6 and the extensions named
/// in the crate documentation). Mailbox names are already decoded from
/// modified UTF-7.
#[derive(Debug)]
pub enum Command {
    /// CAPABILITY (6.1.1).
    Capability,
    /// NOOP (6.1.2).
    Noop,
    /// LOGOUT (6.1.3).
    Logout,
    /// STARTTLS (6.2.1).
    StartTls,
    /// COMPRESS (RFC 4978 3) with its mechanism (only DEFLATE is offered).
    Compress {
        /// The mechanism, as sent.
        mechanism: String,
    },
    /// AUTHENTICATE (6.2.2) with the SASL-IR initial response (RFC 4959),
    /// already base64-decoded; `Some(empty)` for `=`.
    Authenticate {
        /// Mechanism name, upper case.
        mechanism: String,
        /// Initial response.
        initial_response: Option<Vec<u8>>,
    },
    /// LOGIN (6.2.3).
    Login {
        /// User name.
        user: String,
        /// Password, never printed (`Debug` shows it redacted).
        password: secrecy::SecretString,
    },
    /// SELECT (6.3.1) or, with `read_only`, EXAMINE (6.3.2).
    Select {
        /// Mailbox.
        mailbox: String,
        /// EXAMINE.
        read_only: bool,
        /// `(CONDSTORE)` (RFC 7162 3.1.8).
        condstore: bool,
        /// `(QRESYNC (...))` (RFC 7162 3.2.5).
        qresync: Option<Qresync>,
    },
    /// CREATE (6.3.3) with the RFC 6154 USE option.
    Create {
        /// Mailbox.
        mailbox: String,
        /// Special-use attribute asked for, e.g. `\Sent`.
        special_use: Option<String>,
    },
    /// DELETE (6.3.4).
    Delete {
        /// Mailbox.
        mailbox: String,
    },
    /// RENAME (6.3.5).
    Rename {
        /// Existing name.
        from: String,
        /// New name.
        to: String,
    },
    /// SUBSCRIBE (6.3.6) or UNSUBSCRIBE (6.3.7).
    Subscribe {
        /// Mailbox.
        mailbox: String,
        /// true for SUBSCRIBE.
        subscribe: bool,
    },
    /// LIST (6.3.8) or LSUB (6.3.9).
    List {
        /// Reference name.
        reference: String,
        /// Mailbox names with possible wildcards (several with RFC 5258).
        patterns: Vec<String>,
        /// LSUB.
        lsub: bool,
        /// LIST-EXTENDED selection and return options (RFC 5258).
        options: ListOptions,
    },
    /// An RFC 4314 ACL command.
    Acl(AclCommand),
    /// GETQUOTA, GETQUOTAROOT, SETQUOTA (RFC 9208 4.1).
    Quota(QuotaCommand),
    /// STORE / UID STORE of ANNOTATION (RFC 5257 3.4): per entry, the
    /// attributes (`value.priv`, `value.shared`) and their new values
    /// (`None` = NIL, remove).
    StoreAnnotation {
        /// Messages.
        set: SequenceSet,
        /// Entries and attribute values.
        annotations: Vec<AnnotationUpdate>,
        /// UID STORE.
        uid: bool,
    },
    /// NOTIFY SET / NOTIFY NONE (RFC 5465 3); `None` is NONE.
    Notify(Option<NotifySpec>),
    /// CONVERT and UID CONVERT (RFC 5259 6).
    Convert {
        /// Messages.
        set: SequenceSet,
        /// What to return.
        items: Vec<ConvertItem>,
        /// UID CONVERT.
        uid: bool,
    },
    /// CONVERSIONS source target (RFC 5259 5.1).
    Conversions {
        /// Source media type, `type/*` or `*`.
        source: String,
        /// Target media type, `type/*` or `*`.
        target: String,
    },
    /// GETMETADATA (RFC 5464 4.2).
    GetMetadata {
        /// The mailbox, `""` for the server.
        mailbox: String,
        /// Entry names.
        entries: Vec<String>,
        /// MAXSIZE: larger values are left out.
        max_size: Option<u64>,
        /// DEPTH: 0, 1, or `None` for infinity.
        depth: Option<usize>,
    },
    /// SETMETADATA (RFC 5464 4.3): values to set, `None` to remove.
    SetMetadata {
        /// The mailbox, `""` for the server.
        mailbox: String,
        /// Entries and values.
        entries: Vec<(String, Option<Vec<u8>>)>,
    },
    /// GENURLAUTH, RESETKEY, URLFETCH (RFC 4467 7).
    UrlAuth(UrlAuthCommand),
    /// STATUS (6.3.10).
    Status {
        /// Mailbox.
        mailbox: String,
        /// Items asked for.
        items: Vec<StatusItem>,
    },
    /// APPEND (6.3.11).
    Append {
        /// Mailbox.
        mailbox: String,
        /// Initial flags.
        flags: Vec<String>,
        /// INTERNALDATE.
        date: Option<UnixTime>,
        /// The message, streamed to a blob by the reader.
        message: StagedBlob,
    },
    /// APPEND with at least one CATENATE message (RFC 4469), alone or
    /// with others (MULTIAPPEND, RFC 3502).
    Catenate {
        /// Mailbox.
        mailbox: String,
        /// The messages, in order.
        messages: Vec<AppendData>,
    },
    /// UNAUTHENTICATE (RFC 8437).
    Unauthenticate,
    /// MULTIAPPEND (RFC 3502): an APPEND of two or more messages.
    MultiAppend {
        /// Mailbox.
        mailbox: String,
        /// The messages, in order.
        messages: Vec<AppendMessage>,
    },
    /// CHECK (6.4.1).
    Check,
    /// CLOSE (6.4.2).
    Close,
    /// UNSELECT (RFC 3691).
    Unselect,
    /// EXPUNGE (6.4.3), or UID EXPUNGE (RFC 4315) with a UID set.
    Expunge {
        /// UID EXPUNGE's set.
        uids: Option<SequenceSet>,
    },
    /// SEARCH (6.4.4) and UID SEARCH, with ESEARCH's RETURN (RFC 4731).
    Search {
        /// `RETURN (...)` options; `None` for a plain SEARCH (answered
        /// with `* SEARCH`), `Some(empty)` for `RETURN ()` (= ALL).
        returns: Option<Vec<SearchReturn>>,
        /// CHARSET argument, upper case.
        charset: Option<String>,
        /// Criteria (juxtaposed keys are one `And`).
        criteria: SearchKey,
        /// UID SEARCH.
        uid: bool,
    },
    /// SORT and UID SORT (RFC 5256 3), with ESORT's RETURN (RFC 5267 3).
    Sort {
        /// `RETURN (...)` options (ESORT); `None` for the RFC 5256 form
        /// (answered with `* SORT`).
        returns: Option<Vec<SearchReturn>>,
        /// Sort criteria, most significant first.
        criteria: Vec<SortCriterion>,
        /// The charset argument, upper case.
        charset: String,
        /// Search criteria.
        search: SearchKey,
        /// UID SORT.
        uid: bool,
    },
    /// THREAD and UID THREAD (RFC 5256 4).
    Thread {
        /// The threading algorithm.
        algorithm: ThreadAlgorithm,
        /// The charset argument, upper case.
        charset: String,
        /// Search criteria.
        search: SearchKey,
        /// UID THREAD.
        uid: bool,
    },
    /// CANCELUPDATE tag... (RFC 5267 4.3.5): stop updating these
    /// searches' contexts.
    CancelUpdate {
        /// The tags of the SEARCH/SORT commands whose updates stop.
        tags: Vec<String>,
    },
    /// FETCH (6.4.5) and UID FETCH.
    Fetch {
        /// Messages.
        set: SequenceSet,
        /// Data items (macros expanded).
        items: Vec<FetchAttribute>,
        /// UID FETCH.
        uid: bool,
        /// `CHANGEDSINCE` (RFC 7162 3.1.4).
        changed_since: Option<u64>,
        /// `VANISHED` (RFC 7162 3.2.6).
        vanished: bool,
    },
    /// STORE (6.4.6) and UID STORE.
    Store {
        /// Messages.
        set: SequenceSet,
        /// `UNCHANGEDSINCE` (RFC 7162 3.1.3).
        unchanged_since: Option<u64>,
        /// How the flags change.
        mode: StoreMode,
        /// `.SILENT`.
        silent: bool,
        /// The flags.
        flags: Vec<String>,
        /// UID STORE.
        uid: bool,
    },
    /// COPY (6.4.7), MOVE (RFC 6851) and their UID forms.
    Copy {
        /// Messages.
        set: SequenceSet,
        /// Destination.
        mailbox: String,
        /// UID COPY / UID MOVE.
        uid: bool,
        /// MOVE.
        remove_source: bool,
    },
    /// IDLE (RFC 2177).
    Idle,
    /// ENABLE (RFC 5161).
    Enable {
        /// Capabilities, upper case.
        capabilities: Vec<String>,
    },
    /// NAMESPACE (RFC 2342).
    Namespace,
    /// ID (RFC 2971): the client's field-value pairs, or NIL.
    Id {
        /// Parameters.
        parameters: Option<Vec<(String, Option<String>)>>,
    },
}

impl Command {
    /// The command's name as the client would spell it, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capability => "CAPABILITY",
            Command::Noop => "NOOP",
            Command::Logout => "LOGOUT",
            Command::Unauthenticate => "UNAUTHENTICATE",
            Command::StartTls => "STARTTLS",
            Command::Compress { .. } => "COMPRESS",
            Command::Authenticate { .. } => "AUTHENTICATE",
            Command::Login { .. } => "LOGIN",
            Command::Select {
                read_only: false, ..
            } => "SELECT",
            Command::Select {
                read_only: true, ..
            } => "EXAMINE",
            Command::Create { .. } => "CREATE",
            Command::Delete { .. } => "DELETE",
            Command::Rename { .. } => "RENAME",
            Command::Subscribe {
                subscribe: true, ..
            } => "SUBSCRIBE",
            Command::Subscribe { .. } => "UNSUBSCRIBE",
            Command::List { lsub: false, .. } => "LIST",
            Command::List { .. } => "LSUB",
            Command::Status { .. } => "STATUS",
            Command::Acl(AclCommand::Set { .. }) => "SETACL",
            Command::Acl(AclCommand::Delete { .. }) => "DELETEACL",
            Command::Acl(AclCommand::Get { .. }) => "GETACL",
            Command::Acl(AclCommand::ListRights { .. }) => "LISTRIGHTS",
            Command::Acl(AclCommand::MyRights { .. }) => "MYRIGHTS",
            Command::Quota(QuotaCommand::Get { .. }) => "GETQUOTA",
            Command::Quota(QuotaCommand::GetRoot { .. }) => "GETQUOTAROOT",
            Command::Quota(QuotaCommand::Set { .. }) => "SETQUOTA",
            Command::Notify(_) => "NOTIFY",
            Command::StoreAnnotation { .. } => "STORE",
            Command::Convert { .. } => "CONVERT",
            Command::Conversions { .. } => "CONVERSIONS",
            Command::GetMetadata { .. } => "GETMETADATA",
            Command::SetMetadata { .. } => "SETMETADATA",
            Command::UrlAuth(UrlAuthCommand::Generate { .. }) => "GENURLAUTH",
            Command::UrlAuth(UrlAuthCommand::ResetKey { .. }) => "RESETKEY",
            Command::UrlAuth(UrlAuthCommand::Fetch { .. }) => "URLFETCH",
            Command::Append { .. } => "APPEND",
            Command::MultiAppend { .. } => "APPEND",
            Command::Catenate { .. } => "APPEND",
            Command::Check => "CHECK",
            Command::Close => "CLOSE",
            Command::Unselect => "UNSELECT",
            Command::Expunge { .. } => "EXPUNGE",
            Command::Search { .. } => "SEARCH",
            Command::Sort { .. } => "SORT",
            Command::Thread { .. } => "THREAD",
            Command::CancelUpdate { .. } => "CANCELUPDATE",
            Command::Fetch { .. } => "FETCH",
            Command::Store { .. } => "STORE",
            Command::Copy {
                remove_source: false,
                ..
            } => "COPY",
            Command::Copy { .. } => "MOVE",
            Command::Idle => "IDLE",
            Command::Enable { .. } => "ENABLE",
            Command::Namespace => "NAMESPACE",
            Command::Id { .. } => "ID",
        }
    }
}

/// The access control commands of RFC 4314 section 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclCommand {
    /// SETACL mailbox identifier rights (3.1); `rights` may start with
    /// `+` or `-`.
    Set {
        /// Mailbox.
        mailbox: String,
        /// Identifier (a login or `anyone`).
        identifier: String,
        /// Rights letters, possibly with a leading `+` or `-`.
        rights: String,
    },
    /// DELETEACL mailbox identifier (3.2).
    Delete {
        /// Mailbox.
        mailbox: String,
        /// Identifier.
        identifier: String,
    },
    /// GETACL mailbox (3.3).
    Get {
        /// Mailbox.
        mailbox: String,
    },
    /// LISTRIGHTS mailbox identifier (3.4).
    ListRights {
        /// Mailbox.
        mailbox: String,
        /// Identifier.
        identifier: String,
    },
    /// MYRIGHTS mailbox (3.5).
    MyRights {
        /// Mailbox.
        mailbox: String,
    },
}

/// A STATUS data item (RFC 3501 6.3.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    /// MESSAGES
    Messages,
    /// RECENT
    Recent,
    /// UIDNEXT
    UidNext,
    /// UIDVALIDITY
    UidValidity,
    /// UNSEEN
    Unseen,
    /// HIGHESTMODSEQ (RFC 7162 3.1.6)
    HighestModSeq,
    /// DELETED: messages with `\Deleted` (RFC 9208 4.2.1)
    Deleted,
    /// DELETED-STORAGE: their size, in units of 1024 octets (RFC 9208
    /// 4.2.2)
    DeletedStorage,
    /// SIZE: the sum of the messages' RFC822.SIZE, in octets (RFC 8438)
    Size,
    /// MAILBOXID (RFC 8474 4.2)
    MailboxId,
}

/// LIST-EXTENDED options (RFC 5258 3.1, 3.2; RFC 5819 LIST-STATUS; RFC
/// 6154 SPECIAL-USE).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Selection SUBSCRIBED: the subscription list.
    pub select_subscribed: bool,
    /// Selection RECURSIVEMATCH: parents of selected mailboxes get
    /// CHILDINFO.
    pub recursive_match: bool,
    /// Selection SPECIAL-USE: only mailboxes with a special use.
    pub select_special_use: bool,
    /// RETURN SUBSCRIBED: mark subscribed mailboxes.
    pub return_subscribed: bool,
    /// RETURN STATUS (...): a STATUS response after each mailbox.
    pub return_status: Option<Vec<StatusItem>>,
}

/// One entry of STORE ANNOTATION (RFC 5257 3.4): its name and the
/// attributes set (`value.priv`, `value.shared`) with their values
/// (`None` = NIL, remove).
pub type AnnotationUpdate = (String, Vec<(String, Option<Vec<u8>>)>);

/// What NOTIFY SET asks for (RFC 5465 3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySpec {
    /// `STATUS`: send the current STATUS of the mailboxes watched.
    pub status: bool,
    /// The event groups, in order (the first that matches a mailbox
    /// applies, RFC 5465 3.1).
    pub groups: Vec<EventGroup>,
}

/// One `(filter-mailboxes events)` of NOTIFY SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup {
    /// Which mailboxes.
    pub filter: MailboxFilter,
    /// Which events; empty for NONE.
    pub events: Vec<NotifyEvent>,
}

/// RFC 5465 6's mailbox filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxFilter {
    /// The selected mailbox.
    Selected,
    /// The selected mailbox, expunges held until a command allows them.
    SelectedDelayed,
    /// Mailboxes messages are delivered to.
    Inboxes,
    /// Every mailbox of the user's personal namespace.
    Personal,
    /// Every subscribed mailbox.
    Subscribed,
    /// These mailboxes and everything below them.
    Subtree(Vec<String>),
    /// Exactly these mailboxes.
    Mailboxes(Vec<String>),
}

/// RFC 5465 5's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyEvent {
    /// MessageNew.
    MessageNew,
    /// MessageExpunge.
    MessageExpunge,
    /// FlagChange.
    FlagChange,
    /// AnnotationChange.
    AnnotationChange,
    /// MailboxName.
    MailboxName,
    /// SubscriptionChange.
    SubscriptionChange,
    /// MailboxMetadataChange.
    MailboxMetadataChange,
    /// ServerMetadataChange.
    ServerMetadataChange,
}

/// A data item of CONVERT (RFC 5259 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConvertItem {
    /// UID.
    Uid,
    /// `BINARY[part (media-type (param value ...))]`: the part converted.
    Binary {
        /// Part numbers.
        part: Vec<u32>,
        /// Target media type, lower case.
        media_type: String,
        /// Conversion parameters, names lower case.
        params: Vec<(String, String)>,
    },
}

/// A URLAUTH command (RFC 4467 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlAuthCommand {
    /// GENURLAUTH: (URL, mechanism) pairs.
    Generate {
        /// The URLs, each with its mechanism (upper case).
        urls: Vec<(String, String)>,
    },
    /// RESETKEY [mailbox [mechanism ...]].
    ResetKey {
        /// The mailbox, or every mailbox.
        mailbox: Option<String>,
    },
    /// URLFETCH url ... (RFC 4467 7.5), each URL plain or with RFC 5524
    /// fetch arguments.
    Fetch {
        /// The URLs.
        urls: Vec<UrlFetchParam>,
    },
}

/// One URLFETCH argument: `url` or `"(" url *(SP arg) ")"` (RFC 5524 3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UrlFetchParam {
    /// The URL.
    pub url: String,
    /// The parenthesized form: the URL's data comes back as
    /// `"(" ... ")"` with the items asked for.
    pub extended: bool,
    /// `BODYPARTSTRUCTURE`: the structure of the part the URL names.
    pub body_part_structure: bool,
    /// `BINARY`: the content with its transfer encoding undone.
    pub binary: bool,
    /// `BODY`: the content as stored.
    pub body: bool,
}

/// A QUOTA command (RFC 9208 4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaCommand {
    /// GETQUOTA quota-root.
    Get {
        /// The quota root.
        root: String,
    },
    /// GETQUOTAROOT mailbox.
    GetRoot {
        /// The mailbox.
        mailbox: String,
    },
    /// SETQUOTA quota-root (resource limit ...).
    Set {
        /// The quota root.
        root: String,
        /// Resource names (upper case) and limits.
        limits: Vec<(String, u64)>,
    },
}

/// The QRESYNC select parameter (RFC 7162 3.2.5): what the client knew of
/// the mailbox. Its sequence match data is read and not used: the store
/// keeps every expunged UID with its MODSEQ, so the known UIDs need no
/// narrowing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    /// The UIDVALIDITY the client knew; another one means no resync.
    pub uid_validity: u32,
    /// The last MODSEQ the client knew.
    pub modseq: u64,
    /// The UIDs the client knows, if it said (else every UID).
    pub known_uids: Option<SequenceSet>,
}

/// A SEARCH RETURN option (RFC 4731 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReturn {
    /// MIN: the lowest matching number.
    Min,
    /// MAX: the highest.
    Max,
    /// ALL: every match, as a sequence set.
    All,
    /// COUNT: how many.
    Count,
    /// PARTIAL low:high (RFC 5267 4.4, RFC 9394): the matches at these
    /// 1-based positions of the result, `low <= high`.
    Partial(u32, u32),
    /// UPDATE (RFC 5267 4.3): keep the result up to date with ADDTO and
    /// REMOVEFROM as the mailbox changes.
    Update,
}

/// A THREAD algorithm (RFC 5256 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    /// ORDEREDSUBJECT
    OrderedSubject,
    /// REFERENCES
    References,
}

/// How STORE changes flags (RFC 3501 6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`
    Replace,
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
}

/// A FETCH data item (RFC 3501 6.4.5), macros expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    /// ENVELOPE
    Envelope,
    /// FLAGS
    Flags,
    /// INTERNALDATE
    InternalDate,
    /// RFC822.SIZE
    Rfc822Size,
    /// UID
    Uid,
    /// BODYSTRUCTURE (with extension data)
    BodyStructure,
    /// BODY (the non-extensible form)
    Body,
    /// RFC822 (= BODY[], sets \Seen)
    Rfc822,
    /// RFC822.HEADER (= BODY.PEEK[HEADER])
    Rfc822Header,
    /// RFC822.TEXT (= BODY[TEXT], sets \Seen)
    Rfc822Text,
    /// MODSEQ (RFC 7162 3.1.4.1)
    ModSeq,
    /// ANNOTATION (entries attributes) (RFC 5257 3.3): entry patterns
    /// (`*`, `%` wildcards) and attribute names (`value`, `value.priv`,
    /// `value.shared`, `size`, `size.priv`, `size.shared`), lower case.
    Annotation {
        /// Entry patterns.
        entries: Vec<String>,
        /// Attribute names.
        attributes: Vec<String>,
    },
    /// EMAILID (RFC 8474 5.1)
    EmailId,
    /// THREADID (RFC 8474 5.2)
    ThreadId,
    /// SAVEDATE (RFC 8514 3)
    SaveDate,
    /// PREVIEW, or with `lazy` PREVIEW (LAZY) (RFC 8970 3.1, 3.2): a
    /// lazy request gets NIL rather than waiting for a preview to be made.
    Preview {
        /// The LAZY modifier.
        lazy: bool,
    },
    /// BODY[section]<partial> and BODY.PEEK[...].
    Section {
        /// BODY.PEEK: does not set \Seen.
        peek: bool,
        /// Which part.
        section: Section,
        /// `<origin.length>`.
        partial: Option<(u32, u32)>,
    },
    /// BINARY[section-part]<partial> and BINARY.PEEK[...] (RFC 3516 4.1):
    /// the part with its Content-Transfer-Encoding undone.
    Binary {
        /// BINARY.PEEK: does not set \Seen.
        peek: bool,
        /// Part numbers; empty for the whole message.
        part: Vec<u32>,
        /// `<origin.length>`, in decoded bytes.
        partial: Option<(u32, u32)>,
    },
    /// BINARY.SIZE[section-part] (RFC 3516 4.2): the decoded size.
    BinarySize {
        /// Part numbers; empty for the whole message.
        part: Vec<u32>,
    },
}

/// A body section specifier (RFC 3501 6.4.5 `BODY[<section>]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers, `1.2.3`; empty for the whole message.
    pub part: Vec<u32>,
    /// What of that part.
    pub text: Option<SectionText>,
}

/// The text part of a section specifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// HEADER
    Header,
    /// HEADER.FIELDS (names) or, with `not`, HEADER.FIELDS.NOT.
    HeaderFields {
        /// Field names as sent.
        fields: Vec<String>,
        /// .NOT
        not: bool,
    },
    /// TEXT
    Text,
    /// MIME
    Mime,
}

/// A search criterion as the client wrote it: store-core's keys, plus the
/// keys that depend on the session (sequence numbers, `\Recent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// A key store-core evaluates alone.
    Store(StoreSearchKey),
    /// A message sequence set.
    Sequence(SequenceSet),
    /// `UID set`.
    Uid(SequenceSet),
    /// RECENT
    Recent,
    /// NEW (= RECENT UNSEEN)
    New,
    /// OLD (= NOT RECENT)
    Old,
    /// A parenthesized list or juxtaposed keys.
    And(Vec<SearchKey>),
    /// OR
    Or(Box<SearchKey>, Box<SearchKey>),
    /// NOT
    Not(Box<SearchKey>),
}

/// One message of a MULTIAPPEND (RFC 3502 6, `append-message`).
#[derive(Debug)]
pub struct AppendMessage {
    /// Initial flags.
    pub flags: Vec<String>,
    /// INTERNALDATE.
    pub date: Option<UnixTime>,
    /// The message, streamed to a blob by the reader.
    pub message: StagedBlob,
}

/// One message of an APPEND with CATENATE (RFC 4469 5): options and the
/// parts the message is made of, in order.
#[derive(Debug)]
pub struct CatenateMessage {
    /// Initial flags.
    pub flags: Vec<String>,
    /// INTERNALDATE.
    pub date: Option<UnixTime>,
    /// The parts.
    pub parts: Vec<CatenatePart>,
}

/// A `cat-part` (RFC 4469 5).
#[derive(Debug)]
pub enum CatenatePart {
    /// `TEXT literal`: bytes, streamed to a blob by the reader.
    Text(StagedBlob),
    /// `URL url`: a message or section of the user's, by IMAP URL
    /// (absolute, or relative to this server: `/mailbox/;uid=n...`).
    Url(String),
}

/// A message of APPEND: a literal, or CATENATE's parts.
#[derive(Debug)]
pub enum AppendData {
    /// A plain APPEND message.
    Literal(AppendMessage),
    /// A CATENATE message.
    Catenate(CatenateMessage),
}
