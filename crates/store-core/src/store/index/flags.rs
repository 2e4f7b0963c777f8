//! The flag index (0x27): for each flag number, the UIDs of a folder's
//! objects that have it.
//!
//! Flag numbers: [`FLAG_UNSEEN`] (0) is the set of objects *without*
//! `\Seen` (what SEARCH UNSEEN and the first unseen message ask for), 1
//! `\Answered`, 2 `\Flagged`, 3 `\Deleted`, 4 `\Draft`, and 16 + i the
//! keyword at position i of the folder's keyword list (0x16,
//! `store::keywords`), which only grows, so a number never changes meaning.

use std::collections::BTreeSet;

use crate::error::Result;
use crate::keys;
use crate::model::{Flags, FolderId, Uid, SYSTEM_FLAGS};
use crate::writer::Reader;

/// Flag number of the objects without `\Seen`.
pub(crate) const FLAG_UNSEEN: u16 = 0;

/// The first keyword's flag number.
const KEYWORD_BASE: u16 = 16;

/// The flag numbers of the system flags but `\Seen` (in the order of
/// [`SYSTEM_FLAGS`]: `\Answered` 1, `\Flagged` 2, `\Deleted` 3, `\Draft` 4).
fn system_number(flag: &str) -> Option<u16> {
    SYSTEM_FLAGS
        .iter()
        .position(|s| s.eq_ignore_ascii_case(flag))
        .map(|i| i as u16)
}

/// Whether `flags` hold a keyword (a flag that is not a system flag).
pub(super) fn has_keyword(flags: &Flags) -> bool {
    flags.iter().any(|f| system_number(f).is_none())
}

/// The flag number of the set flag `flag` in a folder whose keyword list
/// is `keywords`, `None` for `\Seen` (which has only its complement,
/// [`FLAG_UNSEEN`]) and for a keyword not in the list (no object has it).
pub(crate) fn flag_number(flag: &str, keywords: &[String]) -> Option<u16> {
    match system_number(flag) {
        Some(0) => None,
        Some(n) => Some(n),
        None => keywords
            .iter()
            .position(|k| k.eq_ignore_ascii_case(flag))
            .and_then(|i| u16::try_from(i).ok())
            .and_then(|i| i.checked_add(KEYWORD_BASE)),
    }
}

/// The flag numbers of an object with `flags` in a folder whose keyword
/// list is `keywords`.
pub(crate) fn flag_numbers(flags: &Flags, keywords: &[String]) -> BTreeSet<u16> {
    let mut out: BTreeSet<u16> = flags
        .iter()
        .filter_map(|f| flag_number(f, keywords))
        .collect();
    if !flags.contains("\\Seen") {
        out.insert(FLAG_UNSEEN);
    }
    out
}

/// The UIDs of folder `folder` with flag number `flag`, ascending.
///
/// Errors: the engine's.
pub(crate) fn flag_uids(
    r: &(impl Reader + ?Sized),
    folder: FolderId,
    flag: u16,
) -> Result<Vec<Uid>> {
    Ok(r.scan_raw(&keys::flag_index_of(folder, flag))?
        .iter()
        .filter_map(|(k, _)| keys::trailing_u32(k))
        .collect())
}
