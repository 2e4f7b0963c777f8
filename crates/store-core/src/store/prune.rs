//! Retention of the change history: the account change feed (0x30), the
//! expunge tombstones (0x21), the removed objects' names (0x25) and the
//! change index's expunged entries (0x26 state 1) are kept for a window
//! ([`ChangeRetention::window`]), then pruned by the writer, so that what
//! a folder or an account keeps does not grow with its history.
//!
//! - The window maps time to MODSEQ through the account's hour marks
//!   (0x31: the first MODSEQ of each hour, written by `next_modseq`): the
//!   changes before the first hour inside the window are prunable.
//! - A pass walks the account's feed from its horizon (counter
//!   `feed-horizon`: every change up to it is gone) to the window's MODSEQ,
//!   one MODSEQ at a time, and deletes each change; for an
//!   `ObjectRemoved` it also deletes the tombstone, the name and the
//!   change index entry of that UID, and raises the folder's prune horizon
//!   (0x17) to that MODSEQ. It stops at the first MODSEQ that removed an
//!   object from a folder with an open view behind it
//!   ([`crate::retention::Retention::oldest_view`]): a live session never
//!   loses an expunge it has not been told of.
//! - A folder holding more than [`ChangeRetention::max_tombstones_per_folder`]
//!   tombstones loses its oldest ones (whole MODSEQs, and again never past
//!   an open view), within the window too; the folders checked are those
//!   with a removal since the last pass (counter `prune-checked`).
//! - Readers: [`crate::Store::changes_since`] from below a folder's prune
//!   horizon answers `complete: false` (RFC 7162 3.2.5.2: the client is
//!   answered from its known UIDs); [`crate::Store::account_changes_since`]
//!   from below the feed horizon fails with
//!   [`crate::StoreError::ChangesPruned`]; a WebDAV sync token below it is
//!   invalid (RFC 6578 3.2).
//!
//! Each commit of a pass deletes at most [`PRUNE_BATCH`] keys (a MODSEQ
//! with more removals is split over commits: the horizons are raised in
//! the first, so no reader takes a partly deleted MODSEQ as whole).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crate::error::Result;
use crate::keys;
use crate::model::{AccountId, Change, ChangeKind, FolderId, ModSeq};
use crate::retention::Retention;
use crate::writer::{decode, encode, IndexWrite, Reader};

/// Most keys one prune commit deletes.
pub const PRUNE_BATCH: usize = 4096;

/// How long and how much change history is kept (`[store]
/// change_retention_days`, `max_tombstones_per_folder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeRetention {
    /// How long changes and tombstones are kept, at hour granularity
    /// (zero: only as long as an open view needs them).
    pub window: Duration,
    /// Most tombstones a folder keeps, whatever their age.
    pub max_tombstones_per_folder: u64,
    /// How often the writer runs a prune pass at most (when idle, or
    /// after a commit).
    pub interval: Duration,
}

impl Default for ChangeRetention {
    /// 30 days, 100,000 tombstones per folder, a pass every 60 s.
    fn default() -> Self {
        ChangeRetention {
            window: Duration::from_secs(30 * 86_400),
            max_tombstones_per_folder: 100_000,
            interval: Duration::from_secs(60),
        }
    }
}

/// What one bounded prune step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pruned {
    /// Keys deleted.
    pub deleted: usize,
    /// Whether work was left for another step (the batch was full).
    pub more: bool,
}

/// Records, when `modseq` is the account's first MODSEQ of the current
/// hour, its hour mark (0x31). One read per MODSEQ taken.
pub(crate) fn mark_hour<W: IndexWrite + ?Sized>(
    w: &mut W,
    account: AccountId,
    modseq: ModSeq,
    now: i64,
) -> Result<()> {
    let hour = u64::try_from(now.max(0)).unwrap_or(0) / 3600;
    let key = keys::hour_mark(account, hour);
    if w.get_raw(&key)?.is_none() {
        w.put_raw(key, encode(&modseq)?);
    }
    Ok(())
}

/// The account's feed horizon: every change up to it was pruned.
pub(crate) fn feed_horizon(r: &(impl Reader + ?Sized), account: AccountId) -> Result<ModSeq> {
    Ok(r.load(&keys::account_counter(account, "feed-horizon"))?
        .unwrap_or(0))
}

/// Most accounts one prune step visits.
const ACCOUNTS_PER_STEP: usize = 256;

/// One bounded prune step (at most [`PRUNE_BATCH`] deletes), at time `now`
/// (Unix seconds), over at most [`ACCOUNTS_PER_STEP`] accounts from the
/// store-wide cursor (counter `prune-cursor`: the account id the next step
/// starts at). An account that fills the batch has the next step start at
/// the account after it (its rest waits for the next lap), so one busy
/// account does not starve the others; an account whose feed is pruned
/// up to its MODSEQ is skipped after two reads.
pub(crate) fn prune_step<W: IndexWrite + ?Sized>(
    w: &mut W,
    retention: &Retention,
    config: &ChangeRetention,
    now: i64,
) -> Result<Pruned> {
    let mut out = Pruned::default();
    let cursor_key = keys::counter("prune-cursor");
    let cursor: AccountId = w.load(&cursor_key)?.unwrap_or(0);
    let accounts: Vec<AccountId> = w
        .scan_from(&[0x03], &keys::account_login(cursor), ACCOUNTS_PER_STEP)?
        .iter()
        .filter_map(|(k, _)| keys::trailing_u64(k))
        .collect();
    // Where the next step starts: 0 once the lap is done; a lap that did
    // not start at the first account has the accounts before the cursor
    // left to see again.
    let (mut next, lap_more) = match accounts.last() {
        Some(last) if accounts.len() == ACCOUNTS_PER_STEP => (last.saturating_add(1), true),
        _ => (0, cursor != 0),
    };
    for account in accounts {
        if nothing_to_prune(w, account)? {
            continue;
        }
        let horizon = window_horizon(w, account, config, now, &mut out)?;
        walk_feed(w, retention, account, horizon, &mut out)?;
        if out.deleted < PRUNE_BATCH {
            cap_tombstones(w, retention, account, config, &mut out)?;
        }
        if out.more || out.deleted >= PRUNE_BATCH {
            out.more = true;
            next = account.saturating_add(1);
            break;
        }
    }
    out.more |= lap_more;
    if next != cursor {
        w.put_raw(cursor_key, encode(&next)?);
    }
    Ok(out)
}

/// Whether the account's whole feed is pruned (its horizon is its MODSEQ):
/// then it has neither changes nor tombstones to check. Hour marks older
/// than the window it may keep go once it changes again.
fn nothing_to_prune<W: IndexWrite + ?Sized>(w: &mut W, account: AccountId) -> Result<bool> {
    let modseq: ModSeq = w
        .load(&keys::account_counter(account, "modseq"))?
        .unwrap_or(0);
    Ok(feed_horizon(w, account)? >= modseq)
}

/// The MODSEQ up to which the account's changes are older than the window
/// (its hour marks older than the window are deleted on the way).
fn window_horizon<W: IndexWrite + ?Sized>(
    w: &mut W,
    account: AccountId,
    config: &ChangeRetention,
    now: i64,
    out: &mut Pruned,
) -> Result<ModSeq> {
    let modseq: ModSeq = w
        .load(&keys::account_counter(account, "modseq"))?
        .unwrap_or(0);
    if config.window.is_zero() {
        return Ok(modseq);
    }
    let now_hour = u64::try_from(now.max(0)).unwrap_or(0) / 3600;
    let cutoff = now_hour.saturating_sub(config.window.as_secs().div_ceil(3600));
    let prefix = keys::hour_marks(account);
    // The marks older than the window go (all but a few went in earlier
    // passes, so a short page).
    let older = w.scan_from(&prefix, &prefix, 64)?;
    let any = !older.is_empty();
    for (k, _) in &older {
        if keys::trailing_u64(k).is_some_and(|h| h < cutoff) {
            w.delete(k.clone());
            out.deleted += 1;
        }
    }
    let inside = w.scan_from(&prefix, &keys::hour_mark(account, cutoff), 1)?;
    Ok(match inside.first() {
        // The first MODSEQ inside the window: everything before is older.
        Some((_, v)) => decode::<ModSeq>(v)?.saturating_sub(1),
        // No MODSEQ taken since the cutoff: everything is older, if the
        // marks say so; without marks (a store from before them), nothing.
        None if any => modseq,
        None => 0,
    })
}

/// Deletes the account's changes from its feed horizon up to `upto`,
/// with the tombstones of the removals among them; stops before a MODSEQ
/// that removed an object an open view has not synchronized past. The
/// horizon is raised to a MODSEQ when its first change is deleted; the
/// rest of it (when the batch filled up) goes in the next step, which
/// starts at the horizon itself.
fn walk_feed<W: IndexWrite + ?Sized>(
    w: &mut W,
    retention: &Retention,
    account: AccountId,
    upto: ModSeq,
    out: &mut Pruned,
) -> Result<()> {
    let start_at = feed_horizon(w, account)?;
    let prefix = keys::changes(account);
    let start = keys::change(account, start_at.max(1), 0);
    if upto <= start_at {
        // Nothing new to prune; only what is left of the horizon's own
        // MODSEQ, if a step was cut short inside it.
        let first = w.scan_from(&prefix, &start, 1)?;
        let left = match first.first() {
            Some((_, v)) => decode::<Change>(v)?.modseq <= start_at,
            None => false,
        };
        if !left {
            return Ok(());
        }
    }
    // Pages of at most 512: a pass over an account with nothing to prune
    // reads little.
    let limit = PRUNE_BATCH.saturating_sub(out.deleted).min(512);
    let page = w.scan_from(&prefix, &start, limit)?;
    let mut horizon = start_at;
    let mut folders: BTreeMap<FolderId, ModSeq> = BTreeMap::new();
    let mut i = 0;
    while i < page.len() {
        if out.deleted >= PRUNE_BATCH {
            out.more = true;
            break;
        }
        let (key, value) = &page[i];
        let change: Change = decode(value)?;
        if change.modseq > horizon {
            if change.modseq > upto {
                break;
            }
            // A new MODSEQ: a view behind one of its removals keeps it,
            // and everything after it.
            let mut blocked = false;
            for (_, v) in &page[i..] {
                let c: Change = decode(v)?;
                if c.modseq != change.modseq {
                    break;
                }
                blocked |= matches!(c.kind, ChangeKind::ObjectRemoved { .. })
                    && retention
                        .oldest_view(c.folder)
                        .is_some_and(|v| v < c.modseq);
            }
            if blocked {
                break;
            }
            horizon = change.modseq;
        }
        w.delete(key.clone());
        out.deleted += 1;
        if let ChangeKind::ObjectRemoved { uid } = change.kind {
            let f = change.folder;
            w.delete(keys::expunged(f, uid));
            w.delete(keys::expunged_name(f, uid));
            w.delete(keys::change_index(f, change.modseq, uid));
            w.delete(keys::vanished(account, change.modseq, f, uid));
            out.deleted += 4;
            folders.insert(f, change.modseq);
        }
        i += 1;
    }
    if i == page.len() && page.len() == limit {
        out.more = true;
    }
    if horizon > start_at {
        w.put_raw(
            keys::account_counter(account, "feed-horizon"),
            encode(&horizon)?,
        );
    }
    for (f, m) in folders {
        // A folder deleted since keeps no key.
        if w.get_raw(&keys::folder(account, f))?.is_some() {
            raise_folder_horizon(w, f, m)?;
        }
    }
    Ok(())
}

/// Raises folder `f`'s prune horizon to `m` (never lowers it).
fn raise_folder_horizon<W: IndexWrite + ?Sized>(w: &mut W, f: FolderId, m: ModSeq) -> Result<()> {
    let key = keys::prune_horizon(f);
    let old: ModSeq = w.load(&key)?.unwrap_or(0);
    if m > old {
        w.put_raw(key, encode(&m)?);
    }
    Ok(())
}

/// Prunes the oldest tombstones of the account's folders with removals
/// since the last check that hold more than the cap.
fn cap_tombstones<W: IndexWrite + ?Sized>(
    w: &mut W,
    retention: &Retention,
    account: AccountId,
    config: &ChangeRetention,
    out: &mut Pruned,
) -> Result<()> {
    let checked_key = keys::account_counter(account, "prune-checked");
    let checked: ModSeq = w.load(&checked_key)?.unwrap_or(0);
    let from = checked.max(feed_horizon(w, account)?);
    let prefix = keys::changes(account);
    let start = keys::change(account, from.saturating_add(1), 0);
    let page = w.scan_from(&prefix, &start, PRUNE_BATCH)?;
    let Some((_, last)) = page.last() else {
        return Ok(());
    };
    let checked_to = decode::<Change>(last)?.modseq;
    if page.len() == PRUNE_BATCH {
        out.more = true;
    }
    let mut folders = HashSet::new();
    for (_, v) in &page {
        let c: Change = decode(v)?;
        if matches!(c.kind, ChangeKind::ObjectRemoved { .. }) {
            folders.insert(c.folder);
        }
    }
    let cap = usize::try_from(config.max_tombstones_per_folder).unwrap_or(usize::MAX);
    for f in folders {
        if out.deleted >= PRUNE_BATCH {
            out.more = true;
            // The folders left are checked again next step.
            return Ok(());
        }
        // A bounded probe: this step deletes at most what is left of the
        // batch (two keys per tombstone), so it needs to know no more than
        // that many past the cap, not the folder's whole count.
        let room = PRUNE_BATCH.saturating_sub(out.deleted).div_ceil(2);
        let tombstones = keys::expunged_all(f);
        let count = w
            .scan_from(&tombstones, &tombstones, cap.saturating_add(room))?
            .len();
        if count <= cap {
            continue;
        }
        let excess = count - cap;
        let view = retention.oldest_view(f);
        let horizon: ModSeq = w.load(&keys::prune_horizon(f))?.unwrap_or(0);
        let index_prefix = keys::change_index_all(f);
        // From the horizon itself: a step cut short inside a MODSEQ raised
        // the horizon to it, and what is left of it goes first.
        let index_start = keys::change_index(f, horizon, 0);
        let mut gone = 0usize;
        let mut top: Option<ModSeq> = None;
        let mut from_key = index_start;
        'scan: loop {
            let entries = w.scan_from(&index_prefix, &from_key, PRUNE_BATCH)?;
            let Some((k, _)) = entries.last() else {
                break;
            };
            from_key = k.clone();
            from_key.push(0);
            for (k, v) in &entries {
                let (m, uid) = super::index::parse_change_key(k)?;
                if v.as_slice() != [super::index::STATE_EXPUNGED] {
                    continue;
                }
                // Whole MODSEQs only, never past an open view.
                if top.is_some_and(|t| m > t) && gone >= excess {
                    break 'scan;
                }
                if view.is_some_and(|v| v < m) {
                    break 'scan;
                }
                // The batch is full: the horizon is raised to the last
                // MODSEQ deleted from (a reader takes it as pruned even if
                // some of it is left); the rest goes next step.
                if out.deleted >= PRUNE_BATCH {
                    break 'scan;
                }
                w.delete(k.clone());
                w.delete(keys::expunged(f, uid));
                gone += 1;
                out.deleted += 2;
                top = Some(m);
            }
        }
        if let Some(m) = top {
            raise_folder_horizon(w, f, m)?;
        }
        if out.deleted >= PRUNE_BATCH {
            out.more = true;
            // The folders left are checked again next step.
            return Ok(());
        }
    }
    w.put_raw(checked_key, encode(&checked_to)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::memory::MemWrite;

    /// One EXPUNGE of 5,000 messages in a folder capped at 4 tombstones:
    /// every step deletes at most [`PRUNE_BATCH`] keys and reads at most
    /// the cap plus a batch of tombstones; the steps together delete the
    /// whole MODSEQ (the cap prunes whole MODSEQs), and the folder's
    /// horizon is that MODSEQ.
    /// Account `account` with `n` objects of folder `f` removed at MODSEQ
    /// `m` (tombstones, change index entries, feed entries).
    fn removed(w: &mut MemWrite, account: AccountId, f: FolderId, m: ModSeq, n: u32) {
        w.put_raw(keys::account_login(account), encode(&"alice").unwrap());
        w.put_raw(
            keys::account_counter(account, "modseq"),
            encode(&m).unwrap(),
        );
        w.put_raw(keys::folder(account, f), vec![0]);
        for uid in 1..=n {
            w.put_raw(keys::expunged(f, uid), encode(&m).unwrap());
            w.put_raw(
                keys::change_index(f, m, uid),
                vec![super::super::index::STATE_EXPUNGED],
            );
            let change = Change {
                modseq: m,
                folder: f,
                kind: ChangeKind::ObjectRemoved { uid },
            };
            w.put_raw(keys::change(account, m, uid), encode(&change).unwrap());
        }
    }

    fn capped_at_4() -> ChangeRetention {
        ChangeRetention {
            max_tombstones_per_folder: 4,
            ..ChangeRetention::default()
        }
    }

    /// One EXPUNGE of 5,000 messages in a folder capped at 4 tombstones:
    /// every step deletes at most [`PRUNE_BATCH`] keys and reads at most
    /// the cap plus a batch of tombstones; the steps together delete the
    /// whole MODSEQ (the cap prunes whole MODSEQs), and the folder's
    /// horizon is that MODSEQ.
    #[test]
    fn the_tombstone_cap_prunes_in_bounded_steps() {
        let (f, m) = (9, 10);
        let mut w = MemWrite::default();
        removed(&mut w, 7, f, m, 5000);
        let retention = Retention::default();
        let mut steps = 0;
        loop {
            let before = w.map.len();
            let pruned = prune_step(&mut w, &retention, &capped_at_4(), 0).unwrap();
            assert!(pruned.deleted <= PRUNE_BATCH, "{pruned:?}");
            assert!(before.saturating_sub(w.map.len()) <= PRUNE_BATCH);
            steps += 1;
            assert!(steps < 10, "no end");
            if !pruned.more {
                break;
            }
        }
        assert!(steps >= 3, "{steps} steps");
        let left = w.scan_raw(&keys::expunged_all(f)).unwrap();
        assert!(left.is_empty(), "{} tombstones left", left.len());
        assert_eq!(w.load::<ModSeq>(&keys::prune_horizon(f)).unwrap(), Some(m));
    }

    /// Two accounts with more than a batch each: the second step goes on
    /// with the second account instead of starting again at the first.
    #[test]
    fn a_busy_account_does_not_starve_the_next() {
        let mut w = MemWrite::default();
        removed(&mut w, 1, 11, 10, 5000);
        removed(&mut w, 2, 22, 10, 5000);
        let retention = Retention::default();
        let count = |w: &MemWrite, f| w.scan_raw(&keys::expunged_all(f)).unwrap().len();
        let first = prune_step(&mut w, &retention, &capped_at_4(), 0).unwrap();
        assert!(first.more);
        assert!(count(&w, 11) < 5000);
        assert_eq!(count(&w, 22), 5000);
        prune_step(&mut w, &retention, &capped_at_4(), 0).unwrap();
        assert!(count(&w, 22) < 5000, "the second account waits");
        // Steps until done: both empty, and a step with nothing to do
        // writes nothing (the cursor is back at the start).
        while prune_step(&mut w, &retention, &capped_at_4(), 0)
            .unwrap()
            .more
        {}
        assert_eq!((count(&w, 11), count(&w, 22)), (0, 0));
        let keys = w.map.len();
        let idle = prune_step(&mut w, &retention, &capped_at_4(), 0).unwrap();
        assert_eq!((idle.deleted, idle.more, w.map.len()), (0, false, keys));
    }
}
