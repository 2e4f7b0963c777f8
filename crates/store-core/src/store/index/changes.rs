//! The change index (0x26): what changed in a folder since a MODSEQ, read
//! in the cost of the changes.

use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{FolderId, ModSeq, Uid};
use crate::writer::Reader;

use super::{STATE_EXPUNGED, STATE_PRESENT};

/// What changed in a folder since a MODSEQ, from the change index.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Changed {
    /// The present objects whose MODSEQ is greater: (UID, MODSEQ), in UID
    /// order.
    pub live: Vec<(Uid, ModSeq)>,
    /// The UIDs expunged with a greater MODSEQ whose tombstones are kept,
    /// ascending.
    pub vanished: Vec<Uid>,
    /// Whether `vanished` is every UID expunged since: false when the
    /// MODSEQ is below the folder's prune horizon (0x17).
    pub complete: bool,
}

/// The changes of folder `folder` since `since` (exclusive): one range
/// read of the change index from `since + 1`, and one read of the prune
/// horizon.
///
/// Errors: [`StoreError::Corrupt`] for a malformed entry; the engine's.
pub(crate) fn changed_since(
    r: &(impl Reader + ?Sized),
    folder: FolderId,
    since: ModSeq,
) -> Result<Changed> {
    let horizon: ModSeq = r.load(&keys::prune_horizon(folder))?.unwrap_or(0);
    let prefix = keys::change_index_all(folder);
    let start = keys::change_index(folder, since.saturating_add(1), 0);
    let mut out = Changed {
        complete: since >= horizon,
        ..Changed::default()
    };
    for (k, v) in r.scan_from(&prefix, &start, usize::MAX)? {
        let (modseq, uid) = parse(&k)?;
        match v.as_slice() {
            [STATE_PRESENT] => out.live.push((uid, modseq)),
            [STATE_EXPUNGED] => out.vanished.push(uid),
            _ => return Err(StoreError::Corrupt("a malformed change index entry".into())),
        }
    }
    out.live.sort_unstable();
    out.vanished.sort_unstable();
    Ok(out)
}

/// The MODSEQ and UID of a change index key.
pub(crate) fn parse(k: &[u8]) -> Result<(ModSeq, Uid)> {
    let bad = || StoreError::Corrupt("a malformed change index key".into());
    let tail = k
        .get(k.len().checked_sub(12).ok_or_else(bad)?..)
        .ok_or_else(bad)?;
    let modseq = u64::from_be_bytes(tail[..8].try_into().map_err(|_| bad())?);
    let uid = u32::from_be_bytes(tail[8..].try_into().map_err(|_| bad())?);
    Ok((modseq, uid))
}
