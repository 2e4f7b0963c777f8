//! The key layout of the store in the engine's single ordered keyspace.
//!
//! Every key starts with one byte naming the kind of record, followed by
//! big-endian numbers and raw strings, so that prefix scans return a folder's
//! objects in UID order and an account's changes in MODSEQ order.
//!
//! | prefix | key                                   | value                      |
//! |--------|---------------------------------------|----------------------------|
//! | 0x01   | counter name                          | u64 (store-wide counters; `format` is the store's format version, see `store::format`; `emailid` the last EMAILID number) |
//! | 0x02   | login                                 | `AccountEntry`             |
//! | 0x03   | account id                            | login                      |
//! | 0x04   | CPM address                           | account id                 |
//! | 0x05   | account id, counter name              | u64 (per-account counters) |
//! | 0x06   | SHA-256 of an access token            | `AccessToken` (`store::tokens`) |
//! | 0x07   | account id, token id                  | the token's SHA-256 (index for listing and revoking) |
//! | 0x08   | account id, subscription id           | `FeedSubscription` (`store::feed_subscriptions`) |
//! | 0x09   | account id, subscription id           | `DeliveryLease`: which node delivers the subscription, until when (`store::feed_subscriptions`) |
//! | 0x10   | account id, folder id                 | `Folder`                   |
//! | 0x11   | account id, folder name (INBOX upper) | folder id                  |
//! | 0x12   | grantee id, owner id, folder id       | () (ACL grant index)       |
//! | 0x13   | account id, subscribed name           | ()                         |
//! | 0x14   | folder id                             | creation time, Unix seconds (absent for folders made before it was kept) |
//! | 0x15   | folder id                             | time of the last change to the folder or its objects, Unix seconds |
//! | 0x16   | folder id                             | `FolderKeywords`: the keywords defined in the folder, only growing (present in every folder from format 5 on) |
//! | 0x17   | folder id                             | u64 MODSEQ: the folder's prune horizon (its tombstones up to it are gone; absent = 0) |
//! | 0x18   | folder id                             | u32 UID: the highest UID already recent to a session (IMAP `\Recent`, `store::recent`; absent = 0) |
//! | 0x20   | folder id, UID                        | `Object`                   |
//! | 0x21   | folder id, UID                        | MODSEQ of removal          |
//! | 0x22   | account id, IMDN-Message-ID           | folder id, UID             |
//! | 0x23   | folder id, file name                  | UID (resource name index)  |
//! | 0x24   | account id, message id                | THREADID number            |
//! | 0x25   | folder id, UID                        | resource name of a removed object that had a file name (WebDAV sync-collection) |
//! | 0x26   | folder id, MODSEQ (u64), UID          | u8: 0 present, 1 expunged (per-folder change index, `store::index`) |
//! | 0x27   | folder id, flag number (u16), UID     | () (flag index: 0 = not `\Seen`, 1 `\Answered`, 2 `\Flagged`, 3 `\Deleted`, 4 `\Draft`, 16+i = keyword i of 0x16) |
//! | 0x28   | folder id, UID                        | u8 `MailRow` bits (`store::index::ROW_*`) |
//! | 0x29   | object number (u64, store-wide)       | folder id, UID: where that object is now (the NMS objectId; `store::object_numbers`) |
//! | 0x2A   | folder id, UID                        | u64 object number of that object |
//! | 0x2B   | account id, MODSEQ, folder id, UID    | object number, correlation id: an object removed for good, kept as long as its `ObjectRemoved` change (NMS VanishedObjects; `store::object_numbers`) |
//! | 0x2C   | folder id, INTERNALDATE (i64, sign bit flipped), UID | () (date index, from format 9: a folder's objects by INTERNALDATE, `store::index`) |
//! | 0x30   | account id, MODSEQ, index             | `Change`                   |
//! | 0x31   | account id, Unix hour (u64)           | u64: the account's first MODSEQ of that hour (maps time to MODSEQ for the retention window) |
//! | 0x40–0x44 | blob id                            | formats 1 to 6 only: a blob's records, one prefix per kind; format 7 moved them to 0x45 (`store::format`) |
//! | 0x45   | blob id, [`BlobRecord`] (u8)          | a blob's records side by side: 0 the u64 reference count, 1 its `MessageSummary`, 2 its decoded body text (UTF-8), 3 the bytes of a small blob kept in the database (no file), 4 its text preview (UTF-8, RFC 8970) |
//! | 0x50   | reference token                       | `Reference`                |
//! | 0x51   | reference token                       | authorized URL (`String`)  |
//! | 0x60   | account id, folder id, UID, name      | metadata value             |
//! | 0x70   | lock token                            | `Lock`                     |
//! | 0x71   | login of the lock root's account, NUL, lock token | () (locks by account) |

use crate::blob::BlobId;
use crate::model::{AccountId, FolderId, ModSeq, Uid};

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// An access token by the SHA-256 of the token.
pub fn access_token(digest: &[u8]) -> Vec<u8> {
    key(0x06, &[digest])
}

/// Token `id` of `account`, in the account's token index.
pub fn account_token(account: AccountId, id: &str) -> Vec<u8> {
    key(0x07, &[&account.to_be_bytes(), id.as_bytes()])
}

/// The prefix of an account's token index.
pub fn account_tokens(account: AccountId) -> Vec<u8> {
    key(0x07, &[&account.to_be_bytes()])
}

/// Feed subscription `id` of `account`.
pub fn feed_subscription(account: AccountId, id: &str) -> Vec<u8> {
    key(0x08, &[&account.to_be_bytes(), id.as_bytes()])
}

/// The delivery lease of feed subscription `id` of `account`.
pub fn delivery_lease(account: AccountId, id: &str) -> Vec<u8> {
    key(0x09, &[&account.to_be_bytes(), id.as_bytes()])
}

/// The prefix of an account's delivery leases.
pub fn delivery_leases(account: AccountId) -> Vec<u8> {
    key(0x09, &[&account.to_be_bytes()])
}

/// The prefix of an account's feed subscriptions.
pub fn feed_subscriptions(account: AccountId) -> Vec<u8> {
    key(0x08, &[&account.to_be_bytes()])
}

/// A store-wide counter (next account id, next folder id, last UIDVALIDITY).
pub fn counter(name: &str) -> Vec<u8> {
    key(0x01, &[name.as_bytes()])
}

/// An account by login.
pub fn account(login: &str) -> Vec<u8> {
    key(0x02, &[login.as_bytes()])
}

/// The prefix of every account-by-login key.
pub fn accounts() -> Vec<u8> {
    vec![0x02]
}

/// An account's login by id.
pub fn account_login(id: AccountId) -> Vec<u8> {
    key(0x03, &[&id.to_be_bytes()])
}

/// An account's id by CPM address.
pub fn account_address(address: &str) -> Vec<u8> {
    key(0x04, &[address.as_bytes()])
}

/// A per-account counter (MODSEQ, bytes used, objects held).
pub fn account_counter(id: AccountId, name: &str) -> Vec<u8> {
    key(0x05, &[&id.to_be_bytes(), name.as_bytes()])
}

/// Prefix of every counter of account `id` ([`account_counter`]).
pub fn account_counters(id: AccountId) -> Vec<u8> {
    key(0x05, &[&id.to_be_bytes()])
}

/// A folder record.
pub fn folder(owner: AccountId, id: FolderId) -> Vec<u8> {
    key(0x10, &[&owner.to_be_bytes(), &id.to_be_bytes()])
}

/// The prefix of every folder record of an account.
pub fn folders(owner: AccountId) -> Vec<u8> {
    key(0x10, &[&owner.to_be_bytes()])
}

/// A folder id by name.
pub fn folder_name(owner: AccountId, name: &str) -> Vec<u8> {
    key(0x11, &[&owner.to_be_bytes(), name.as_bytes()])
}

/// An ACL grant index entry: `grantee` (0 for `anyone`) has rights on a
/// folder of `owner`.
pub fn grant(grantee: AccountId, owner: AccountId, folder: FolderId) -> Vec<u8> {
    key(
        0x12,
        &[
            &grantee.to_be_bytes(),
            &owner.to_be_bytes(),
            &folder.to_be_bytes(),
        ],
    )
}

/// The prefix of every grant to `grantee`.
pub fn grants_to(grantee: AccountId) -> Vec<u8> {
    key(0x12, &[&grantee.to_be_bytes()])
}

/// A subscription of an account to a folder name.
pub fn subscription(account: AccountId, name: &str) -> Vec<u8> {
    key(0x13, &[&account.to_be_bytes(), name.as_bytes()])
}

/// The prefix of every subscription of an account.
pub fn subscriptions(account: AccountId) -> Vec<u8> {
    key(0x13, &[&account.to_be_bytes()])
}

/// When a folder was created (Unix seconds).
pub fn folder_created(folder: FolderId) -> Vec<u8> {
    key(0x14, &[&folder.to_be_bytes()])
}

/// When a folder or one of its objects last changed (Unix seconds).
pub fn folder_modified(folder: FolderId) -> Vec<u8> {
    key(0x15, &[&folder.to_be_bytes()])
}

/// The keywords defined in a folder (`store::keywords`).
pub fn folder_keywords(folder: FolderId) -> Vec<u8> {
    key(0x16, &[&folder.to_be_bytes()])
}

/// A folder's prune horizon: the MODSEQ up to which its tombstones were
/// pruned (absent = 0, nothing pruned).
pub fn prune_horizon(folder: FolderId) -> Vec<u8> {
    key(0x17, &[&folder.to_be_bytes()])
}

/// The highest UID of a folder already `\Recent` to some session
/// (absent = 0).
pub fn recent_horizon(folder: FolderId) -> Vec<u8> {
    key(0x18, &[&folder.to_be_bytes()])
}

/// A folder's change index entry: the object `uid` last changed (state 0)
/// or was expunged (state 1) at `modseq`.
pub fn change_index(folder: FolderId, modseq: ModSeq, uid: Uid) -> Vec<u8> {
    key(
        0x26,
        &[
            &folder.to_be_bytes(),
            &modseq.to_be_bytes(),
            &uid.to_be_bytes(),
        ],
    )
}

/// The prefix of a folder's change index.
pub fn change_index_all(folder: FolderId) -> Vec<u8> {
    key(0x26, &[&folder.to_be_bytes()])
}

/// A flag index entry: the object `uid` of a folder has flag number
/// `flag` (`store::index`).
pub fn flag_index(folder: FolderId, flag: u16, uid: Uid) -> Vec<u8> {
    key(
        0x27,
        &[
            &folder.to_be_bytes(),
            &flag.to_be_bytes(),
            &uid.to_be_bytes(),
        ],
    )
}

/// The prefix of the objects of a folder with flag number `flag`.
pub fn flag_index_of(folder: FolderId, flag: u16) -> Vec<u8> {
    key(0x27, &[&folder.to_be_bytes(), &flag.to_be_bytes()])
}

/// The prefix of a folder's whole flag index.
pub fn flag_index_all(folder: FolderId) -> Vec<u8> {
    key(0x27, &[&folder.to_be_bytes()])
}

/// An object's mail row (`store::index::MailRow` bits).
pub fn mail_row(folder: FolderId, uid: Uid) -> Vec<u8> {
    key(0x28, &[&folder.to_be_bytes(), &uid.to_be_bytes()])
}

/// A date index entry: object `uid` of `folder` has INTERNALDATE `date`
/// (Unix seconds; the sign bit is flipped so that dates before 1970 sort
/// first), so the objects stored before a date are one range read.
pub fn date_index(folder: FolderId, date: i64, uid: Uid) -> Vec<u8> {
    key(
        0x2C,
        &[
            &folder.to_be_bytes(),
            &sortable_i64(date).to_be_bytes(),
            &uid.to_be_bytes(),
        ],
    )
}

/// The prefix of a folder's date index.
pub fn date_index_all(folder: FolderId) -> Vec<u8> {
    key(0x2C, &[&folder.to_be_bytes()])
}

/// Where a folder's date index entries of INTERNALDATE `date` start.
pub fn date_index_from(folder: FolderId, date: i64) -> Vec<u8> {
    key(
        0x2C,
        &[&folder.to_be_bytes(), &sortable_i64(date).to_be_bytes()],
    )
}

/// The INTERNALDATE and UID of a [`date_index`] key.
pub fn parse_date_index(k: &[u8]) -> Option<(i64, Uid)> {
    let date: [u8; 8] = k.get(9..17)?.try_into().ok()?;
    let uid = trailing_u32(k)?;
    (k.len() == 21).then_some(((u64::from_be_bytes(date) ^ (1 << 63)) as i64, uid))
}

/// `v` as a `u64` whose big-endian bytes sort as `v` does.
fn sortable_i64(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// Where the object of object number `number` is now (its folder and
/// UID): the NMS objectId (OMA-TS-REST_NetAPI_NMS 5.1.2), kept by a move.
pub fn object_by_number(number: u64) -> Vec<u8> {
    key(0x29, &[&number.to_be_bytes()])
}

/// The object number of `uid` in `folder`.
pub fn object_number(folder: FolderId, uid: Uid) -> Vec<u8> {
    key(0x2A, &[&folder.to_be_bytes(), &uid.to_be_bytes()])
}

/// The record of object `uid` of `folder` (of `account`), removed for
/// good at `modseq` (NMS VanishedObjects, OMA-TS-REST_NetAPI_NMS 5.1.7).
pub fn vanished(account: AccountId, modseq: ModSeq, folder: FolderId, uid: Uid) -> Vec<u8> {
    key(
        0x2B,
        &[
            &account.to_be_bytes(),
            &modseq.to_be_bytes(),
            &folder.to_be_bytes(),
            &uid.to_be_bytes(),
        ],
    )
}

/// Where the vanished objects of `account` removed after `modseq`
/// start.
pub fn vanished_after(account: AccountId, modseq: ModSeq) -> Vec<u8> {
    key(0x2B, &[&account.to_be_bytes(), &(modseq + 1).to_be_bytes()])
}

/// The prefix of every vanished object of `account`.
pub fn vanished_all(account: AccountId) -> Vec<u8> {
    key(0x2B, &[&account.to_be_bytes()])
}

/// The prefix of a folder's object numbers.
pub fn object_numbers(folder: FolderId) -> Vec<u8> {
    key(0x2A, &[&folder.to_be_bytes()])
}

/// The prefix of a folder's mail rows.
pub fn mail_rows(folder: FolderId) -> Vec<u8> {
    key(0x28, &[&folder.to_be_bytes()])
}

/// An account's first MODSEQ of the Unix hour `hour` (seconds / 3600).
pub fn hour_mark(account: AccountId, hour: u64) -> Vec<u8> {
    key(0x31, &[&account.to_be_bytes(), &hour.to_be_bytes()])
}

/// The prefix of an account's hour marks.
pub fn hour_marks(account: AccountId) -> Vec<u8> {
    key(0x31, &[&account.to_be_bytes()])
}

/// The resource name of the removed object `uid` of a folder.
pub fn expunged_name(folder: FolderId, uid: Uid) -> Vec<u8> {
    key(0x25, &[&folder.to_be_bytes(), &uid.to_be_bytes()])
}

/// The prefix of every removed object's resource name of a folder.
pub fn expunged_names(folder: FolderId) -> Vec<u8> {
    key(0x25, &[&folder.to_be_bytes()])
}

/// An object record.
pub fn object(folder: FolderId, uid: Uid) -> Vec<u8> {
    key(0x20, &[&folder.to_be_bytes(), &uid.to_be_bytes()])
}

/// The prefix of every object of a folder.
pub fn objects(folder: FolderId) -> Vec<u8> {
    key(0x20, &[&folder.to_be_bytes()])
}

/// The record of an expunged UID.
pub fn expunged(folder: FolderId, uid: Uid) -> Vec<u8> {
    key(0x21, &[&folder.to_be_bytes(), &uid.to_be_bytes()])
}

/// The prefix of every expunged-UID record of a folder.
pub fn expunged_all(folder: FolderId) -> Vec<u8> {
    key(0x21, &[&folder.to_be_bytes()])
}

/// An object by IMDN-Message-ID within an account (deposit deduplication).
pub fn imdn(account: AccountId, message_id: &str) -> Vec<u8> {
    key(0x22, &[&account.to_be_bytes(), message_id.as_bytes()])
}

/// An object by file name within a folder (WebDAV resource names).
pub fn object_name(folder: FolderId, name: &str) -> Vec<u8> {
    key(0x23, &[&folder.to_be_bytes(), name.as_bytes()])
}

/// The prefix of every file name index entry of a folder.
pub fn object_names(folder: FolderId) -> Vec<u8> {
    key(0x23, &[&folder.to_be_bytes()])
}

/// A write lock by token (WebDAV LOCK).
pub fn lock(token: &str) -> Vec<u8> {
    key(0x70, &[token.as_bytes()])
}

/// The prefix of every lock.
pub fn locks() -> Vec<u8> {
    vec![0x70]
}

/// A lock by the login of the account its root lies in (logins hold no
/// NUL), so a write checks only the locks of the accounts it touches.
pub fn lock_of_account(login: &str, token: &str) -> Vec<u8> {
    key(0x71, &[login.as_bytes(), &[0], token.as_bytes()])
}

/// The prefix of the locks of the account `login`.
pub fn locks_of_account(login: &str) -> Vec<u8> {
    key(0x71, &[login.as_bytes(), &[0]])
}

/// A persisted change.
pub fn change(account: AccountId, modseq: ModSeq, index: u32) -> Vec<u8> {
    key(
        0x30,
        &[
            &account.to_be_bytes(),
            &modseq.to_be_bytes(),
            &index.to_be_bytes(),
        ],
    )
}

/// The prefix of every change of an account.
pub fn changes(account: AccountId) -> Vec<u8> {
    key(0x30, &[&account.to_be_bytes()])
}

/// What a blob record (0x45) holds: the last byte of its key. A blob's
/// records sort together, its reference count first, so the records a
/// new message writes share a page, and an id whose first record is not
/// its count is unreferenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BlobRecord {
    /// The u64 reference count.
    Refs = 0,
    /// The cached `MessageSummary`.
    Summary = 1,
    /// The decoded body text.
    Text = 2,
    /// The bytes of a small blob kept in the database.
    Content = 3,
    /// The text preview.
    Snippet = 4,
}

impl BlobRecord {
    /// Every kind, in key order.
    pub const ALL: [BlobRecord; 5] = [
        BlobRecord::Refs,
        BlobRecord::Summary,
        BlobRecord::Text,
        BlobRecord::Content,
        BlobRecord::Snippet,
    ];

    /// The prefix under which formats 1 to 6 kept this kind of record,
    /// followed by the blob id alone.
    pub fn legacy_prefix(self) -> u8 {
        match self {
            BlobRecord::Refs => 0x40,
            BlobRecord::Summary => 0x41,
            BlobRecord::Text => 0x42,
            BlobRecord::Snippet => 0x43,
            BlobRecord::Content => 0x44,
        }
    }
}

/// The record `kind` of blob `id`.
pub fn blob_record(id: &BlobId, kind: BlobRecord) -> Vec<u8> {
    key(0x45, &[&id.0, &[kind as u8]])
}

/// The prefix of every blob record (a scan of all of them).
pub fn blob_records() -> Vec<u8> {
    key(0x45, &[])
}

/// The blob id and record kind of a blob record key, if it is one.
pub fn parse_blob_record(key: &[u8]) -> Option<(BlobId, BlobRecord)> {
    let rest = key.strip_prefix(&[0x45])?;
    let (id, kind) = rest.split_first_chunk::<32>()?;
    let kind = match kind {
        [k] => BlobRecord::ALL.into_iter().find(|r| *r as u8 == *k)?,
        _ => return None,
    };
    Some((BlobId(*id), kind))
}

/// A blob's reference count.
pub fn blob_refs(id: &BlobId) -> Vec<u8> {
    blob_record(id, BlobRecord::Refs)
}

/// A blob's cached MIME summary.
pub fn blob_summary(id: &BlobId) -> Vec<u8> {
    blob_record(id, BlobRecord::Summary)
}

/// A blob's decoded body text (SEARCH BODY / TEXT), raw UTF-8, kept apart
/// from its summary so FETCH never loads it.
pub fn blob_text(id: &BlobId) -> Vec<u8> {
    blob_record(id, BlobRecord::Text)
}

/// A reference (URLAUTH token).
pub fn reference(token: &str) -> Vec<u8> {
    key(0x50, &[token.as_bytes()])
}

/// The prefix of every reference.
pub fn references() -> Vec<u8> {
    vec![0x50]
}

/// The URL a reference was generated for, up to and including its
/// `;URLAUTH=access` (RFC 4467 3): what a fetch must name exactly.
pub fn reference_url(token: &str) -> Vec<u8> {
    key(0x51, &[token.as_bytes()])
}

/// A metadata entry. `folder` 0 is the server; `uid` 0 is the folder itself.
pub fn metadata(account: AccountId, folder: FolderId, uid: Uid, name: &str) -> Vec<u8> {
    key(
        0x60,
        &[
            &account.to_be_bytes(),
            &folder.to_be_bytes(),
            &uid.to_be_bytes(),
            name.as_bytes(),
        ],
    )
}

/// The prefix of every metadata entry of a target.
pub fn metadata_all(account: AccountId, folder: FolderId, uid: Uid) -> Vec<u8> {
    key(
        0x60,
        &[
            &account.to_be_bytes(),
            &folder.to_be_bytes(),
            &uid.to_be_bytes(),
        ],
    )
}

/// Reads the trailing big-endian u32 of a key (a UID).
pub fn trailing_u32(k: &[u8]) -> Option<u32> {
    let tail: [u8; 4] = k.get(k.len().checked_sub(4)?..)?.try_into().ok()?;
    Some(u32::from_be_bytes(tail))
}

/// Reads the trailing big-endian u64 of a key (a folder id).
pub fn trailing_u64(k: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = k.get(k.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// The prefix of every metadata entry scoped to an account.
pub fn metadata_of_account(account: AccountId) -> Vec<u8> {
    key(0x60, &[&account.to_be_bytes()])
}

/// A message id known in an account's threads (RFC 8474 THREADID): the
/// THREADID number of the messages that carry or refer to it.
pub fn thread_ref(account: AccountId, message_id: &str) -> Vec<u8> {
    key(0x24, &[&account.to_be_bytes(), message_id.as_bytes()])
}

/// The prefix of every thread index entry of an account.
pub fn thread_refs(account: AccountId) -> Vec<u8> {
    key(0x24, &[&account.to_be_bytes()])
}

/// The bytes of a small blob kept in the database instead of a file
/// ([`crate::blob::MAX_INLINE`]), committed with its first reference.
pub fn blob_content(id: &BlobId) -> Vec<u8> {
    blob_record(id, BlobRecord::Content)
}

/// A blob's text preview (RFC 8970 PREVIEW), raw UTF-8, at most
/// [`crate::mime::MAX_PREVIEW_CHARS`] characters; present and empty when
/// the message has no text to preview.
pub fn blob_snippet(id: &BlobId) -> Vec<u8> {
    blob_record(id, BlobRecord::Snippet)
}
