//! The keywords defined in a folder (RFC 3501 7.2.6: `FLAGS` lists "the
//! flags that are applicable for this mailbox"), kept per folder and only
//! ever growing, as Dovecot keeps them.
//!
//! Why a record of its own rather than the keywords of the messages
//! present: every IMAP session of a folder must announce the same list,
//! whenever it synchronized (imaptest's checkpoint compares them). Were
//! the list derived from the messages present, a session that SELECTed
//! before another set `$Label5` on a message and expunged it would only
//! ever see the expunge and never announce `$Label5`, while a session
//! that SELECTed in between did. With one list per folder that only
//! grows, every session announces it at SELECT and again when it grew
//! (seen through [`crate::FolderChanges::keywords`]), and all converge.
//!
//! The record (key `0x16`, [`crate::keys::folder_keywords`]) is written in
//! the transaction that first gives a message of the folder a keyword
//! (STORE, APPEND, COPY, MOVE, deposit); a folder made before it was kept
//! has none, and its list is derived from its messages until the first
//! write that gives one of them a keyword stores it. At most [`MAX_FOLDER_KEYWORDS`] keywords:
//! past that, a write bringing a new one fails with
//! [`StoreError::TooManyKeywords`] (IMAP `NO [LIMIT]`, RFC 5530 3, as
//! Dovecot refuses too many keywords).

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{Flags, FolderId, Object, SYSTEM_FLAGS};
use crate::writer::{encode, IndexWrite, Reader, Txn};

/// The most keywords one folder may define (system flags not counted).
pub const MAX_FOLDER_KEYWORDS: usize = 1000;

/// A folder's keyword list as stored: keywords in the order first used
/// (new ones are appended), each spelled as first given; unique
/// case-insensitively (RFC 3501 2.3.2).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FolderKeywords {
    /// The keywords.
    pub keywords: Vec<String>,
}

impl FolderKeywords {
    fn contains(&self, keyword: &str) -> bool {
        self.keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
    }

    fn add(&mut self, keyword: &str) {
        if !self.contains(keyword) {
            self.keywords.push(keyword.to_string());
        }
    }
}

/// Whether `flag` goes into the list: every stored flag but the system
/// flags, so keywords and the flags CPM defines in the `\` form
/// (`\read-report-sent`, stored like keywords).
fn is_keyword(flag: &str) -> bool {
    !SYSTEM_FLAGS.iter().any(|s| s.eq_ignore_ascii_case(flag))
}

/// The keywords of `flags`.
fn keywords_of(flags: &Flags) -> impl Iterator<Item = &str> {
    flags.iter().filter(|f| is_keyword(f))
}

/// The keyword list of folder `folder`: its record, or, for a folder made
/// before the record was kept, the keywords of `objects` (its messages, in
/// any order), each spelled as first met.
pub(crate) fn folder_keywords<'a, R: Reader + ?Sized>(
    r: &R,
    folder: FolderId,
    objects: impl IntoIterator<Item = &'a Object>,
) -> Result<Vec<String>> {
    Ok(
        match r.load::<FolderKeywords>(&keys::folder_keywords(folder))? {
            Some(k) => k.keywords,
            None => derive(objects).keywords,
        },
    )
}

fn derive<'a>(objects: impl IntoIterator<Item = &'a Object>) -> FolderKeywords {
    let mut list = FolderKeywords::default();
    for o in objects {
        keywords_of(&o.flags).for_each(|k| list.add(k));
    }
    list
}

/// Records in `txn` that messages of folder `folder` now carry `flags`:
/// keywords new to the folder join its list. Costs one record read when
/// `flags` hold a keyword, nothing otherwise (and, once, a scan of the
/// folder made before the list was kept).
///
/// Errors: [`StoreError::TooManyKeywords`] when the list would pass
/// [`MAX_FOLDER_KEYWORDS`] (the caller's transaction then fails whole);
/// the store's.
pub(crate) fn note_keywords<W: IndexWrite + ?Sized>(
    txn: &mut W,
    folder: FolderId,
    flags: &Flags,
) -> Result<()> {
    if keywords_of(flags).next().is_none() {
        return Ok(());
    }
    let key = keys::folder_keywords(folder);
    let (mut list, stored) = match txn.load::<FolderKeywords>(&key)? {
        Some(list) => (list, true),
        None => {
            let objects = txn.load_all::<Object>(&keys::objects(folder))?;
            (derive(objects.iter().map(|(_, o)| o)), false)
        }
    };
    let before = list.keywords.len();
    keywords_of(flags).for_each(|k| list.add(k));
    if stored && list.keywords.len() == before {
        return Ok(());
    }
    if list.keywords.len() > MAX_FOLDER_KEYWORDS {
        return Err(StoreError::TooManyKeywords {
            max: MAX_FOLDER_KEYWORDS,
        });
    }
    txn.put_raw(key, encode(&list)?);
    Ok(())
}

/// Writes `keywords` as the list of folder `folder` (a new folder: empty;
/// the folder INBOX's messages move to on RENAME: INBOX's list).
pub(crate) fn set_folder_keywords(
    txn: &mut Txn<'_>,
    folder: FolderId,
    keywords: Vec<String>,
) -> Result<()> {
    txn.put(keys::folder_keywords(folder), &FolderKeywords { keywords })
}
