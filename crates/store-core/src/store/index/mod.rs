//! Per-folder indexes: what a session asks about a folder, answered in
//! the cost of the answer rather than of the folder's history.
//!
//! Four indexes per folder, kept by one hook, [`object_changed`], which
//! every write of an object record calls (store, flag change, expunge,
//! RENAME INBOX; the format 5 upgrade for older data), in the same
//! transaction:
//!
//! - the change index (0x26, [`keys::change_index`]): one entry per UID at
//!   its current MODSEQ, state 0 while present and 1 once expunged (at the
//!   MODSEQ of its removal), so "what changed since M" is a range read
//!   ([`changed_since`]);
//! - the flag index (0x27, [`keys::flag_index`]): the UIDs having each
//!   flag number ([`flag_numbers`]), for SEARCH on flags ([`flag_uids`]);
//! - the mail rows (0x28, [`keys::mail_row`]): each present UID with its
//!   system flags as bits ([`MailRow`]), for SELECT ([`for_each_mail_row`]);
//! - the date index (0x2C, [`keys::date_index`]): each present UID by its
//!   INTERNALDATE, so the objects stored before a date (retention,
//!   `cpm-store expunge --before`) are a range read ([`uids_before`]).
//!
//! Deleting a folder deletes its index ranges ([`purge`]); pruning deletes
//! the state-1 entries of the tombstones it prunes (`store::prune`).

mod changes;
mod flags;

pub(crate) use changes::{changed_since, parse as parse_change_key, Changed};
pub(crate) use flags::{flag_number, flag_numbers, flag_uids, FLAG_UNSEEN};

use crate::error::Result;
use crate::keys;
use crate::macos::is_macos_metadata;
use crate::model::{FolderId, ModSeq, Object, Uid};
use crate::writer::{IndexWrite, Reader};

/// Value of a change index entry: the UID is present.
pub(crate) const STATE_PRESENT: u8 = 0;
/// Value of a change index entry: the UID was expunged.
pub(crate) const STATE_EXPUNGED: u8 = 1;

/// Bit of [`MailRow::bits`]: `\Seen`.
pub const ROW_SEEN: u8 = 1;
/// Bit of [`MailRow::bits`]: `\Answered`.
pub const ROW_ANSWERED: u8 = 2;
/// Bit of [`MailRow::bits`]: `\Flagged`.
pub const ROW_FLAGGED: u8 = 4;
/// Bit of [`MailRow::bits`]: `\Deleted`.
pub const ROW_DELETED: u8 = 8;
/// Bit of [`MailRow::bits`]: `\Draft`.
pub const ROW_DRAFT: u8 = 16;
/// Bit of [`MailRow::bits`]: the object's file name is a macOS metadata
/// name (`._*`, `.DS_Store`), hidden from IMAP while the setting hides
/// them (`store/mail_view.rs`).
pub const ROW_MACOS_NAME: u8 = 128;

/// One object of a folder as a mail view needs it at SELECT: its UID and
/// its system flags and name class as bits (`ROW_*`). About 5 bytes per
/// message, so a SELECT of 100k messages reads ~0.5 MB, not the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailRow {
    /// UID.
    pub uid: Uid,
    /// `ROW_*` bits.
    pub bits: u8,
}

impl MailRow {
    /// The row of `object`.
    pub fn of(object: &Object) -> MailRow {
        let mut bits = 0;
        for (flag, bit) in [
            ("\\Seen", ROW_SEEN),
            ("\\Answered", ROW_ANSWERED),
            ("\\Flagged", ROW_FLAGGED),
            ("\\Deleted", ROW_DELETED),
            ("\\Draft", ROW_DRAFT),
        ] {
            if object.flags.contains(flag) {
                bits |= bit;
            }
        }
        if object.file_name.as_deref().is_some_and(is_macos_metadata) {
            bits |= ROW_MACOS_NAME;
        }
        MailRow {
            uid: object.uid,
            bits,
        }
    }
}

/// Calls `visit` with each object of `folder` with a UID in
/// `first..=last` as a [`MailRow`], in UID order: ranged reads of the
/// mail rows (0x28) in pages of [`MAIL_ROW_PAGE`], so the cost is the rows
/// in the range and what is held at once is one page (a SELECT of 100,000
/// messages held every key and value of the folder at once: megabytes
/// of small allocations per SELECT).
///
/// Errors: [`crate::StoreError::Corrupt`] for a malformed row; the engine's.
pub(crate) fn for_each_mail_row(
    r: &(impl Reader + ?Sized),
    folder: FolderId,
    first: Uid,
    last: Uid,
    mut visit: impl FnMut(MailRow),
) -> Result<()> {
    let prefix = keys::mail_rows(folder);
    let mut from = first;
    loop {
        let page = r.scan_from(&prefix, &keys::mail_row(folder, from), MAIL_ROW_PAGE)?;
        let full = page.len() == MAIL_ROW_PAGE;
        let mut highest = None;
        for (k, v) in page {
            let row = match (keys::trailing_u32(&k), v.as_slice()) {
                (Some(uid), [bits]) => MailRow { uid, bits: *bits },
                _ => return Err(crate::StoreError::Corrupt("a malformed mail row".into())),
            };
            if row.uid > last {
                return Ok(());
            }
            highest = Some(row.uid);
            visit(row);
        }
        match highest {
            Some(uid) if full && uid < last => from = uid + 1,
            _ => return Ok(()),
        }
    }
}

/// Mail rows read per ranged read by [`for_each_mail_row`].
const MAIL_ROW_PAGE: usize = 4096;

/// The hook every write of an object record calls, in its transaction:
/// `before` is the record as it was (`None`: a new object), `after` as it
/// is now (`None`: expunged, at `modseq`, the MODSEQ of the removal; else
/// `modseq` is ignored and `after.modseq` is used). The UIDs of `before`
/// and `after` are the same. Keywords of `after` new to the folder join
/// its keyword list (0x16) first, so that each has a flag number.
///
/// Errors: [`crate::StoreError::TooManyKeywords`] when the folder's list
/// is full; the store's.
pub(crate) fn object_changed<W: IndexWrite + ?Sized>(
    w: &mut W,
    folder: FolderId,
    before: Option<&Object>,
    after: Option<&Object>,
    modseq: ModSeq,
) -> Result<()> {
    let Some(uid) = after.or(before).map(|o| o.uid) else {
        return Ok(());
    };
    if let Some(a) = after {
        crate::store::keywords::note_keywords(w, folder, &a.flags)?;
    }
    let has_keywords = |o: Option<&Object>| o.is_some_and(|o| flags::has_keyword(&o.flags));
    let keywords = if has_keywords(before) || has_keywords(after) {
        crate::store::keywords::stored_keywords(w, folder)?.unwrap_or_default()
    } else {
        Default::default()
    };
    let old = before
        .map(|o| flag_numbers(&o.flags, &keywords))
        .unwrap_or_default();
    let new = after
        .map(|o| flag_numbers(&o.flags, &keywords))
        .unwrap_or_default();
    for n in old.difference(&new) {
        w.delete(keys::flag_index(folder, *n, uid));
    }
    for n in new.difference(&old) {
        w.put_raw(keys::flag_index(folder, *n, uid), Vec::new());
    }
    match (before, after) {
        (Some(b), Some(a)) if b.modseq == a.modseq => {}
        _ => {
            if let Some(b) = before {
                w.delete(keys::change_index(folder, b.modseq, uid));
            }
            match after {
                Some(a) => w.put_raw(
                    keys::change_index(folder, a.modseq, uid),
                    vec![STATE_PRESENT],
                ),
                None => w.put_raw(
                    keys::change_index(folder, modseq, uid),
                    vec![STATE_EXPUNGED],
                ),
            }
        }
    }
    let (old_date, new_date) = (
        before.map(|o| o.internal_date),
        after.map(|o| o.internal_date),
    );
    if old_date != new_date {
        if let Some(d) = old_date {
            w.delete(keys::date_index(folder, d, uid));
        }
        if let Some(d) = new_date {
            w.put_raw(keys::date_index(folder, d, uid), Vec::new());
        }
    }
    let old_row = before.map(MailRow::of);
    match after.map(MailRow::of) {
        Some(row) if Some(row) != old_row => w.put_raw(keys::mail_row(folder, uid), vec![row.bits]),
        Some(_) => {}
        None => w.delete(keys::mail_row(folder, uid)),
    }
    Ok(())
}

/// A page of a folder's date index: (INTERNALDATE, UID) pairs in date
/// order, and the key the next page starts at, if the page was full.
pub(crate) type DatePage = (Vec<(i64, Uid)>, Option<Vec<u8>>);

/// Up to `limit` objects of `folder` with an INTERNALDATE before
/// `before` (Unix seconds), in date order, starting at the date index key
/// `from` (the start of the folder's index: [`keys::date_index_all`]), as
/// (INTERNALDATE, UID), with the key to continue from when the page was
/// full. Cost: the entries returned.
///
/// Errors: [`crate::StoreError::Corrupt`] for a malformed entry; the engine's.
pub(crate) fn uids_before(
    r: &(impl Reader + ?Sized),
    folder: FolderId,
    before: i64,
    from: &[u8],
    limit: usize,
) -> Result<DatePage> {
    let prefix = keys::date_index_all(folder);
    let page = r.scan_from(&prefix, from, limit)?;
    let full = page.len() == limit;
    let mut found = Vec::with_capacity(page.len());
    let mut next = None;
    for (k, _) in page {
        let (date, uid) = keys::parse_date_index(&k)
            .ok_or_else(|| crate::StoreError::Corrupt("a malformed date index entry".into()))?;
        if date >= before {
            return Ok((found, None));
        }
        found.push((date, uid));
        next = Some(k);
    }
    Ok((
        found,
        next.filter(|_| full).map(|mut k| {
            k.push(0);
            k
        }),
    ))
}

/// Records in the change index that `uid`, expunged at `modseq` before the
/// change index existed (a tombstone, 0x21), is gone: the format upgrade.
pub(crate) fn tombstone_indexed<W: IndexWrite + ?Sized>(
    w: &mut W,
    folder: FolderId,
    uid: Uid,
    modseq: ModSeq,
) {
    w.put_raw(
        keys::change_index(folder, modseq, uid),
        vec![STATE_EXPUNGED],
    );
}

/// Deletes every index entry of `folder` (the folder is being deleted),
/// with its prune horizon.
///
/// Errors: the store's.
pub(crate) fn purge<W: IndexWrite + ?Sized>(w: &mut W, folder: FolderId) -> Result<()> {
    for prefix in [
        keys::change_index_all(folder),
        keys::flag_index_all(folder),
        keys::mail_rows(folder),
        keys::date_index_all(folder),
    ] {
        for (k, _) in w.scan_raw(&prefix)? {
            w.delete(k);
        }
    }
    w.delete(keys::prune_horizon(folder));
    Ok(())
}
