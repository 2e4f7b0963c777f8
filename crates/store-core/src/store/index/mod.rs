//! Per-folder indexes: what a session asks about a folder, answered in
//! the cost of the answer rather than of the folder's history.
//!
//! This module is the seam between the index maintenance (written with
//! every object change) and the read paths that use it (SELECT, the
//! changes since a MODSEQ, SEARCH on flags). Until the indexes exist the
//! bodies read the object records; the signatures are the contract.

use crate::error::Result;
use crate::keys;
use crate::macos::is_macos_metadata;
use crate::model::{FolderId, Object, Uid};
use crate::writer::Reader;

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

/// Every object of `folder` as a [`MailRow`], in UID order.
#[allow(dead_code)] // SELECT reads rows through this (issue 16, in progress)
pub(crate) fn mail_rows(r: &(impl Reader + ?Sized), folder: FolderId) -> Result<Vec<MailRow>> {
    Ok(r.load_all::<Object>(&keys::objects(folder))?
        .iter()
        .map(|(_, o)| MailRow::of(o))
        .collect())
}
