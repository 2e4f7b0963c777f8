//! The UIDs of a selected mailbox in sequence order (RFC 3501 2.3.1.2:
//! sequence number n is the n-th lowest UID), as a compressed bitmap
//! ([`roaring::RoaringBitmap`]: per span of 65,536 UIDs a run list, a
//! sorted array or a bitmap, whichever is smaller, so at most 8 KiB per
//! span, and a few bytes for consecutive UIDs).
//!
//! Sequence number of a UID = its rank; UID of a sequence number = the
//! select of its rank; both cost O(spans), not O(messages). New UIDs are
//! appended (UIDs only grow, RFC 3501 2.3.1.1); an expunge removes one
//! UID in place, without shifting a vector.
//!
//! Sessions that see a folder alike share one map ([`UidMapCache`]): a
//! map is copied only when its session's view changes, and shared again
//! once that view has caught up with the others. A thousand clients idle
//! on a folder of 100,000 messages hold its map once, not a thousand
//! times (up to 32 KiB each).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use roaring::RoaringBitmap;
use store_core::model::{FolderId, ModSeq, Uid};

use crate::protocol::sequence::SequenceSet;

/// How far apart (in UIDs) [`UidMap::seqs_of_ascending`] walks from one
/// UID to the next rather than ranking it afresh: at most this many steps
/// of the walk, where a rank in a dense stretch is about a thousand
/// popcounts.
const NEAR: u32 = 1024;

/// The UIDs of a mailbox as a session numbers them; cloning shares the
/// map until one of the copies changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UidMap {
    set: Arc<RoaringBitmap>,
}

impl UidMap {
    /// The map of `uids` (any order; duplicates count once).
    pub fn from_uids(uids: impl IntoIterator<Item = Uid>) -> UidMap {
        let mut set: RoaringBitmap = uids.into_iter().collect();
        set.optimize();
        UidMap { set: Arc::new(set) }
    }

    /// The map of the UIDs in `set`.
    pub fn from_bitmap(set: RoaringBitmap) -> UidMap {
        UidMap { set: Arc::new(set) }
    }

    /// The number of messages (EXISTS).
    pub fn len(&self) -> u32 {
        // At most 2^32 - 1 UIDs exist (0 is never one).
        u32::try_from(self.set.len()).unwrap_or(u32::MAX)
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Whether `uid` is in the map.
    pub fn contains(&self, uid: Uid) -> bool {
        self.set.contains(uid)
    }

    /// The lowest UID.
    pub fn first(&self) -> Option<Uid> {
        self.set.min()
    }

    /// The highest UID (`*` of a UID set).
    pub fn last(&self) -> Option<Uid> {
        self.set.max()
    }

    /// The sequence number of `uid`, if it is in the map.
    pub fn seq_of(&self, uid: Uid) -> Option<u32> {
        self.contains(uid).then(|| self.count_upto(uid))
    }

    /// The sequence numbers of `uids`, which ascend: for each, `None` when
    /// it is not in the map. The map is walked from one to the next when
    /// they are near ([`NEAR`] UIDs apart), else ranked afresh, so the
    /// UIDs a QRESYNC SELECT reports (mostly near each other) cost a step
    /// each, not a rank over the whole map each (a popcount of up to
    /// 1,024 words in a dense stretch).
    pub fn seqs_of_ascending(&self, uids: &[Uid]) -> Vec<Option<u32>> {
        let mut walk = self.set.iter();
        // The UID the walk returned last, and its sequence number.
        let mut at: Option<(Uid, u32)> = None;
        let mut out = Vec::with_capacity(uids.len());
        for &uid in uids {
            if !self.contains(uid) {
                out.push(None);
                continue;
            }
            let stepped = match at {
                Some((prev, seq)) if prev == uid => Some(seq),
                Some((prev, seq)) if prev < uid && uid - prev <= NEAR => {
                    let mut seq = seq;
                    walk.by_ref().find(|&u| {
                        seq += 1;
                        u == uid
                    });
                    Some(seq)
                }
                _ => None,
            };
            let seq = stepped.unwrap_or_else(|| {
                walk = self.set.iter();
                walk.advance_to(uid.saturating_add(1));
                self.count_upto(uid)
            });
            at = Some((uid, seq));
            out.push(Some(seq));
        }
        out
    }

    /// The UID with sequence number `seq` (1-based).
    pub fn uid_at(&self, seq: u32) -> Option<Uid> {
        self.set.select(seq.checked_sub(1)?)
    }

    /// How many UIDs are ≤ `uid`.
    fn count_upto(&self, uid: Uid) -> u32 {
        u32::try_from(self.set.rank(uid)).unwrap_or(u32::MAX)
    }

    /// Adds `uid` (a new message); returns whether it was new.
    pub fn insert(&mut self, uid: Uid) -> bool {
        Arc::make_mut(&mut self.set).insert(uid)
    }

    /// Removes `uid`; returns its sequence number before the removal.
    pub fn remove(&mut self, uid: Uid) -> Option<u32> {
        let seq = self.seq_of(uid)?;
        Arc::make_mut(&mut self.set).remove(uid);
        Some(seq)
    }

    /// Compacts the representation (after many changes).
    pub fn optimize(&mut self) {
        Arc::make_mut(&mut self.set).optimize();
    }

    /// Every UID, ascending.
    pub fn iter(&self) -> impl Iterator<Item = Uid> + '_ {
        self.set.iter()
    }

    /// The messages a set names, as (sequence number, UID), ascending and
    /// without duplicates. `uid` says whether the set holds UIDs; `*` is
    /// the largest UID (or the message count). Numbers naming no message
    /// are skipped. Costs O(spans + result).
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<(u32, Uid)> {
        let Some(largest) = self.last() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if uid {
            for (a, b) in merged(set.ranges(largest)) {
                let mut seq = self.count_upto(a.saturating_sub(1));
                let mut it = self.set.iter();
                it.advance_to(a);
                for u in it.take_while(|&u| u <= b) {
                    seq += 1;
                    out.push((seq, u));
                }
            }
        } else {
            let count = self.len();
            for (a, b) in merged(set.ranges(count)) {
                let (a, b) = (a.max(1), b.min(count));
                let Some(first) = self.uid_at(a).filter(|_| a <= b) else {
                    continue;
                };
                let mut it = self.set.iter();
                it.advance_to(first);
                out.extend((a..=b).zip(it));
            }
        }
        out
    }

    /// The UID ranges covering a set of sequence numbers (each range of
    /// sequence numbers is a range of UIDs, since both ascend together).
    pub fn sequence_to_uid_ranges(&self, set: &SequenceSet) -> Vec<(Uid, Uid)> {
        let count = self.len();
        set.ranges(count)
            .into_iter()
            .filter_map(|(a, b)| {
                let (a, b) = (a.max(1), b.min(count));
                if a > b {
                    return None;
                }
                Some((self.uid_at(a)?, self.uid_at(b)?))
            })
            .collect()
    }

    /// The UIDs within `ranges` (inclusive pairs) that are not in the
    /// map, as ascending, disjoint inclusive ranges (the gaps between the
    /// UIDs present): the messages of those ranges that are gone (RFC
    /// 7162 3.2.5.2, `VANISHED (EARLIER)` from a client's known UIDs).
    /// Costs O(`ranges` + UIDs present within them), whatever the ranges
    /// span (`1:10000000` over an empty map is one range, not 10M UIDs).
    pub fn absent_within(&self, ranges: &[(Uid, Uid)]) -> Vec<(Uid, Uid)> {
        let mut gaps = Vec::new();
        for (a, b) in merged(ranges.iter().map(|&(a, b)| (a.max(1), b)).collect()) {
            // The first UID of `a..=b` not yet known to be present or in
            // a gap (u64: past u32::MAX when the range ends there).
            let mut next = u64::from(a);
            for u in self.range(a, b) {
                if u64::from(u) > next {
                    gaps.push((next as Uid, u - 1));
                }
                next = u64::from(u) + 1;
            }
            if next <= u64::from(b) {
                gaps.push((next as Uid, b));
            }
        }
        gaps
    }

    /// The UIDs in `a..=b`, ascending.
    pub fn range(&self, a: Uid, b: Uid) -> impl Iterator<Item = Uid> + '_ {
        let mut it = self.set.iter();
        it.advance_to(a);
        it.take_while(move |&u| u <= b)
    }

    /// Removes every UID of `other` (that is in the map).
    pub fn remove_all(&mut self, other: &UidMap) {
        *Arc::make_mut(&mut self.set) -= &*other.set;
    }

    /// Whether this map's storage is its own (no other session shares it).
    pub fn is_unshared(&self) -> bool {
        Arc::strong_count(&self.set) == 1
    }

    /// The map's size in memory, approximately (its serialized size).
    pub fn memory(&self) -> usize {
        self.set.serialized_size()
    }
}

/// `ranges` sorted and merged (overlapping or adjacent ranges joined).
/// The UID maps sessions share, one per folder: the latest published,
/// with the folder's HIGHESTMODSEQ it reflects. Entries hold the map
/// weakly, so a folder no session has selected costs an entry at most,
/// and those are swept as the table grows.
#[derive(Debug, Default)]
pub struct UidMapCache {
    maps: Mutex<CacheTable>,
}

#[derive(Debug, Default)]
struct CacheTable {
    entries: HashMap<FolderId, (ModSeq, Weak<RoaringBitmap>)>,
    /// Sweep dead entries when the table reaches this size.
    sweep_at: usize,
}

/// Entries the table holds before its first sweep.
const FIRST_SWEEP: usize = 256;

impl UidMapCache {
    /// Lets `map`, a view of `folder` as of its HIGHESTMODSEQ `modseq`
    /// (nothing held back), share storage with the other sessions': if a
    /// map of the same folder and MODSEQ is published and holds the same
    /// UIDs, `map` takes it and drops its own copy; if none as recent is
    /// published, `map` is. The UIDs are compared, never assumed, so a
    /// view that is not what its MODSEQ says keeps its own map.
    pub fn share(&self, folder: FolderId, modseq: ModSeq, map: &mut UidMap) {
        let published = {
            let table = self.lock();
            table
                .entries
                .get(&folder)
                .and_then(|(m, weak)| Some((*m, weak.upgrade()?)))
        };
        match published {
            Some((m, shared)) if m == modseq => {
                if !Arc::ptr_eq(&shared, &map.set) && *shared == *map.set {
                    map.set = shared;
                }
                return;
            }
            // A newer view is published: this one will catch up.
            Some((m, _)) if m > modseq => return,
            _ => {}
        }
        let mut table = self.lock();
        if table.entries.len() >= table.sweep_at.max(FIRST_SWEEP) {
            table.entries.retain(|_, (_, weak)| weak.strong_count() > 0);
            table.sweep_at = table.entries.len() * 2;
        }
        let newer = table
            .entries
            .get(&folder)
            .is_some_and(|(m, weak)| *m > modseq && weak.strong_count() > 0);
        if !newer {
            table
                .entries
                .insert(folder, (modseq, Arc::downgrade(&map.set)));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheTable> {
        // Each update is a single insert or sweep: usable after a panic.
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn merged(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::sequence::SeqNumber;

    /// A small deterministic generator (xorshift), so failures replay.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 16) as u32
        }
        fn below(&mut self, n: u32) -> u32 {
            self.next() % n.max(1)
        }
    }

    fn oracle_resolve(v: &[Uid], set: &SequenceSet, uid: bool) -> Vec<(u32, Uid)> {
        let Some(&largest) = v.last() else {
            return Vec::new();
        };
        let mut out: Vec<(u32, Uid)> = if uid {
            v.iter()
                .enumerate()
                .filter(|(_, &u)| set.contains(u, largest))
                .map(|(i, &u)| (i as u32 + 1, u))
                .collect()
        } else {
            (1..=v.len() as u32)
                .filter(|&s| set.contains(s, v.len() as u32))
                .map(|s| (s, v[s as usize - 1]))
                .collect()
        };
        out.dedup();
        out
    }

    fn random_set(rng: &mut Rng, span: u32) -> SequenceSet {
        let n = 1 + rng.below(4);
        let end = |rng: &mut Rng| match rng.below(8) {
            0 => SeqNumber::Largest,
            _ => SeqNumber::Value(1 + rng.below(span + 5)),
        };
        SequenceSet((0..n).map(|_| (end(rng), end(rng))).collect())
    }

    #[test]
    fn sequence_numbers_of_ascending_uids_match_one_by_one() {
        let mut rng = Rng(0x5EED);
        for dense in [false, true] {
            // Dense: bitmap containers (the case the incremental count is
            // for); sparse: array containers; across container borders.
            let uids = (1..200_000u32).filter(|u| if dense { u % 3 != 0 } else { u % 97 == 0 });
            let map = UidMap::from_uids(uids);
            let mut asked: Vec<Uid> = (0..500).map(|_| 1 + rng.below(210_000)).collect();
            asked.extend([1, 65_535, 65_536, 65_537, 131_072, 199_999]);
            asked.sort_unstable();
            let one_by_one: Vec<Option<u32>> = asked.iter().map(|&u| map.seq_of(u)).collect();
            assert_eq!(map.seqs_of_ascending(&asked), one_by_one, "dense {dense}");
        }
    }

    #[test]
    fn matches_a_vec_oracle_under_random_operations() {
        for seed in 1..=6u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut map = UidMap::default();
            let mut oracle: Vec<Uid> = Vec::new();
            let mut next = 1u32;
            for _ in 0..250 {
                match rng.below(10) {
                    0..=4 => {
                        // Appends, sometimes skipping UIDs (hidden objects).
                        for _ in 0..1 + rng.below(20) {
                            next += 1 + rng.below(3) / 2;
                            map.insert(next);
                            oracle.push(next);
                        }
                    }
                    5..=7 if !oracle.is_empty() => {
                        for _ in 0..1 + rng.below(5) {
                            if oracle.is_empty() {
                                break;
                            }
                            let i = rng.below(oracle.len() as u32) as usize;
                            let u = oracle.remove(i);
                            assert_eq!(map.remove(u), Some(i as u32 + 1));
                            assert_eq!(map.remove(u), None);
                        }
                    }
                    _ => map.optimize(),
                }
                assert_eq!(map.len() as usize, oracle.len());
                assert_eq!(map.last(), oracle.last().copied());
                assert_eq!(map.first(), oracle.first().copied());
                for _ in 0..10 {
                    let u = 1 + rng.below(next + 2);
                    let want = oracle.binary_search(&u).ok().map(|i| i as u32 + 1);
                    assert_eq!(map.seq_of(u), want, "seq_of({u})");
                    let s = rng.below(oracle.len() as u32 + 2);
                    let want = (s >= 1).then(|| oracle.get(s as usize - 1).copied());
                    assert_eq!(map.uid_at(s), want.flatten(), "uid_at({s})");
                }
                let set = random_set(&mut rng, next);
                assert_eq!(map.resolve(&set, true), oracle_resolve(&oracle, &set, true));
                let set = random_set(&mut rng, oracle.len() as u32);
                assert_eq!(
                    map.resolve(&set, false),
                    oracle_resolve(&oracle, &set, false)
                );
                let (a, b) = (1 + rng.below(next), 1 + rng.below(next));
                let (a, b) = (a.min(b), a.max(b));
                let want: Vec<Uid> = (a..=b)
                    .filter(|u| oracle.binary_search(u).is_err())
                    .collect();
                let gaps: Vec<Uid> = map
                    .absent_within(&[(a, b)])
                    .into_iter()
                    .flat_map(|(x, y)| x..=y)
                    .collect();
                assert_eq!(gaps, want);
                let got: Vec<Uid> = map.range(a, b).collect();
                let want: Vec<Uid> = oracle
                    .iter()
                    .copied()
                    .filter(|&u| a <= u && u <= b)
                    .collect();
                assert_eq!(got, want);
                assert!(map.iter().eq(oracle.iter().copied()));
            }
        }
    }

    #[test]
    fn absent_uids_come_as_the_gaps_between_present_ones() {
        let map = UidMap::from_uids([3, 5, 6, 9]);
        assert_eq!(
            map.absent_within(&[(1, 4), (4, 10), (20, 20)]),
            vec![(1, 2), (4, 4), (7, 8), (10, 10), (20, 20)]
        );
        // A range of 10M UIDs over a sparse map: a few ranges, not a Vec
        // of every UID (RFC 7162 3.2.5.2 with UIDNEXT 10,000,001).
        let map = UidMap::from_uids([5_000_000]);
        assert_eq!(
            map.absent_within(&[(1, 10_000_000)]),
            vec![(1, 4_999_999), (5_000_001, 10_000_000)]
        );
        assert_eq!(
            UidMap::default().absent_within(&[(1, Uid::MAX)]),
            vec![(1, Uid::MAX)]
        );
        let full = UidMap::from_uids([Uid::MAX - 1, Uid::MAX]);
        assert_eq!(
            full.absent_within(&[(Uid::MAX - 2, Uid::MAX)]),
            vec![(Uid::MAX - 2, Uid::MAX - 2)]
        );
    }

    #[test]
    fn sequence_ranges_map_to_uid_ranges() {
        let map = UidMap::from_uids([3, 5, 9, 10, 20]);
        let set = SequenceSet(vec![
            (SeqNumber::Value(2), SeqNumber::Value(3)),
            (SeqNumber::Value(5), SeqNumber::Largest),
            (SeqNumber::Value(7), SeqNumber::Value(9)),
        ]);
        assert_eq!(map.sequence_to_uid_ranges(&set), vec![(5, 9), (20, 20)]);
    }

    #[test]
    fn a_hundred_thousand_consecutive_uids_take_a_few_kilobytes() {
        let map = UidMap::from_uids(1..=100_000);
        assert_eq!(map.len(), 100_000);
        assert!(map.memory() < 4096, "{} bytes", map.memory());
        // Every other message expunged: the worst case stays within
        // 8 KiB per span of 65,536 UIDs.
        let mut map = UidMap::from_uids((1..=100_000).filter(|u| u % 2 == 0));
        map.optimize();
        assert!(map.memory() <= 2 * 8192 + 64, "{} bytes", map.memory());
    }

    #[test]
    fn views_alike_share_one_map_and_a_change_copies_it() {
        let cache = UidMapCache::default();
        let folder = 7;
        let uids: Vec<Uid> = (1..=50_000).filter(|u| u % 3 != 0).collect();
        let mut a = UidMap::from_uids(uids.iter().copied());
        let mut b = UidMap::from_uids(uids.iter().copied());
        cache.share(folder, 10, &mut a);
        cache.share(folder, 10, &mut b);
        assert!(
            Arc::ptr_eq(&a.set, &b.set),
            "same UIDs, same MODSEQ: one map"
        );
        assert!(!a.is_unshared());

        // A change to one view copies the map; the other keeps its UIDs.
        b.insert(60_000);
        assert!(!Arc::ptr_eq(&a.set, &b.set));
        assert!(!a.contains(60_000) && b.contains(60_000));
        assert_eq!(a.len() + 1, b.len());

        // Published at a newer MODSEQ, it is what a view catching up takes.
        cache.share(folder, 11, &mut b);
        let mut c = a.clone();
        c.insert(60_000);
        cache.share(folder, 11, &mut c);
        assert!(Arc::ptr_eq(&b.set, &c.set));

        // A view claiming that MODSEQ with other UIDs keeps its own map,
        // and does not replace the published one.
        let mut d = UidMap::from_uids([1, 2, 3]);
        cache.share(folder, 11, &mut d);
        assert!(!Arc::ptr_eq(&b.set, &d.set));
        assert_eq!(d.len(), 3);
        let mut e = c.clone();
        e.optimize();
        cache.share(folder, 11, &mut e);
        assert!(Arc::ptr_eq(&b.set, &e.set));
        // An older view does not take a newer map.
        let mut old = UidMap::from_uids(uids.iter().copied());
        cache.share(folder, 10, &mut old);
        assert_eq!(old.len(), a.len());
        assert!(!Arc::ptr_eq(&old.set, &b.set));
    }
}
