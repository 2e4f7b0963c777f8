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

use std::sync::Arc;

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
        contains(&self.keywords, keyword)
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

/// The keyword list derived from the messages of `folder` (one made before
/// the list was kept), read in pages of 512 records, so that memory holds
/// one page and the keywords, whatever the folder's size.
///
/// Errors: the store's.
pub(crate) fn derive_paged<R: Reader + ?Sized>(r: &R, folder: FolderId) -> Result<FolderKeywords> {
    const PAGE: usize = 512;
    let prefix = keys::objects(folder);
    let mut start = prefix.clone();
    let mut list = FolderKeywords::default();
    loop {
        let page = r.scan_from(&prefix, &start, PAGE)?;
        for (_, v) in &page {
            let object: Object = crate::writer::decode(v)?;
            keywords_of(&object.flags).for_each(|k| list.add(k));
        }
        match page.last() {
            Some((k, _)) if page.len() == PAGE => {
                start = k.clone();
                start.push(0);
            }
            _ => return Ok(list),
        }
    }
}

/// Records in `txn` that messages of folder `folder` now carry `flags`:
/// keywords new to the folder join its list. Costs one record decode per
/// operation when `flags` hold a keyword ([`stored_keywords`]), nothing
/// otherwise (and, once, a scan of the
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
    let stored = stored_keywords(txn, folder)?;
    let mut list = match &stored {
        Some(list) if keywords_of(flags).all(|k| contains(list, k)) => return Ok(()),
        Some(list) => FolderKeywords {
            keywords: list.to_vec(),
        },
        None => derive_paged(txn, folder)?,
    };
    keywords_of(flags).for_each(|k| list.add(k));
    if list.keywords.len() > MAX_FOLDER_KEYWORDS {
        return Err(StoreError::TooManyKeywords {
            max: MAX_FOLDER_KEYWORDS,
        });
    }
    txn.put_raw(keys::folder_keywords(folder), encode(&list)?);
    if let Some(cache) = txn.keyword_cache() {
        cache.insert(folder, Some(Arc::new(list.keywords)));
    }
    Ok(())
}

/// The stored keyword list of `folder` as `w` sees it (`None`: the folder
/// has none), decoded at most once per operation: a write keeping a cache
/// ([`IndexWrite::keyword_cache`]) answers again from it, so a STORE on
/// 10k messages decodes the list once, not per message.
///
/// Errors: the store's.
pub(crate) fn stored_keywords<W: IndexWrite + ?Sized>(
    w: &mut W,
    folder: FolderId,
) -> Result<Option<Arc<Vec<String>>>> {
    if let Some(hit) = w.keyword_cache().and_then(|c| c.get(&folder)) {
        return Ok(hit.clone());
    }
    let list = w
        .load::<FolderKeywords>(&keys::folder_keywords(folder))?
        .map(|l| Arc::new(l.keywords));
    if let Some(cache) = w.keyword_cache() {
        cache.insert(folder, list.clone());
    }
    Ok(list)
}

/// Whether `list` holds `keyword` (case-insensitively, RFC 3501 2.3.2).
fn contains(list: &[String], keyword: &str) -> bool {
    list.iter().any(|k| k.eq_ignore_ascii_case(keyword))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::memory::MemWrite as Counting;

    /// What the index hook does per object of a STORE on many messages:
    /// the list is decoded once for the whole operation, and a keyword
    /// added on the way is seen at once by the next object.
    #[test]
    fn one_operation_decodes_the_keyword_list_once() {
        let mut w = Counting::default();
        let many: Vec<String> = (0..500).map(|i| format!("$Label{i}")).collect();
        set_list(&mut w, &many);
        let flags: Flags = ["\\Seen", "$Label7"].into_iter().collect();
        for _ in 0..1000 {
            note_keywords(&mut w, 1, &flags).unwrap();
            assert_eq!(stored_keywords(&mut w, 1).unwrap().unwrap().len(), 500);
        }
        assert_eq!(w.reads_of(0x16), 1);
        let new: Flags = ["$New"].into_iter().collect();
        note_keywords(&mut w, 1, &new).unwrap();
        let list = stored_keywords(&mut w, 1).unwrap().unwrap();
        assert_eq!(list.last().map(String::as_str), Some("$New"));
        assert_eq!(list.len(), 501);
        assert_eq!(w.reads_of(0x16), 1);
        // What was written is what is read back undecoded.
        w.cache.clear();
        assert_eq!(stored_keywords(&mut w, 1).unwrap().unwrap(), list);
    }

    /// A folder from before the list was kept: its list is derived from
    /// its messages page by page (3 reads for 1,200 records, not one read
    /// of them all), in the order first met, whatever page they are on.
    #[test]
    fn a_list_is_derived_page_by_page() {
        let mut w = Counting::default();
        for uid in 1..=1200u32 {
            let mut object = Object {
                uid,
                ..Object::default()
            };
            if uid == 3 || uid > 1100 {
                object.flags = [format!("$K{}", uid % 3), "\\Seen".into()]
                    .into_iter()
                    .collect();
            }
            w.put_raw(keys::object(5, uid), encode(&object).unwrap());
        }
        w.put_raw(keys::object(6, 1), encode(&Object::default()).unwrap());
        let list = derive_paged(&w, 5).unwrap();
        assert_eq!(list.keywords, ["$K0", "$K1", "$K2"]);
        assert_eq!(w.reads_of(0x20), 3);
    }

    fn set_list(w: &mut Counting, keywords: &[String]) {
        let list = FolderKeywords {
            keywords: keywords.to_vec(),
        };
        w.put_raw(keys::folder_keywords(1), encode(&list).unwrap());
    }
}
