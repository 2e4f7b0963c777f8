//! The per-folder indexes (`store::index`: the change index 0x26, the flag
//! index 0x27, the mail rows 0x28, the date index 0x2C) against an oracle: after every step of
//! seeded random operations (APPEND, STORE ±flags and keywords, EXPUNGE,
//! COPY, MOVE, RENAME INBOX, DELETE, prune), each index equals what a
//! brute-force reading of the object records (0x20), tombstones (0x21) and
//! keyword lists (0x16) gives, byte for byte; `changes_since` equals the
//! brute-force changes for every MODSEQ at or above the prune horizon
//! (and says `complete: false` below it); SEARCH on flags equals a full
//! scan filtered; a deleted folder leaves no index key. Pruning keeps what
//! an open view has not seen; the format 5 upgrade rebuilds the indexes
//! byte-equal, also when cut short.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use store_core::engine::{Engine, KeyValue, RedbEngine, WriteBatch};
use store_core::model::{Flags, Folder, Object};
use store_core::search::SearchKey;
use store_core::{
    keys, ChangeRetention, FlagUpdate, FolderRef, NewObject, Principal, Store, StoreConfig,
    StoreError,
};

const FLAGS: [&str; 9] = [
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "$K1",
    "$k2",
    "$K3",
    "\\read-report-sent",
];

/// splitmix64: a seeded, dependency-free generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn flags(&mut self) -> Flags {
        let mut f = Flags::new();
        for flag in FLAGS {
            if self.chance(30) {
                f.insert(flag);
            }
        }
        f
    }

    fn some<T: Copy>(&mut self, items: &[T], percent: u64) -> Vec<T> {
        items
            .iter()
            .copied()
            .filter(|_| self.chance(percent))
            .collect()
    }
}

fn raw(engine: &RedbEngine, prefix: &[u8]) -> Vec<KeyValue> {
    engine
        .snapshot()
        .unwrap()
        .scan(prefix, prefix, usize::MAX)
        .unwrap()
}

fn folders(engine: &RedbEngine) -> Vec<Folder> {
    raw(engine, &[0x10])
        .iter()
        .map(|(_, v)| postcard::from_bytes(v).unwrap())
        .collect()
}

fn objects(engine: &RedbEngine, folder: u64) -> Vec<Object> {
    raw(engine, &keys::objects(folder))
        .iter()
        .map(|(_, v)| postcard::from_bytes(v).unwrap())
        .collect()
}

fn tombstones(engine: &RedbEngine, folder: u64) -> BTreeMap<u32, u64> {
    raw(engine, &keys::expunged_all(folder))
        .iter()
        .map(|(k, v)| {
            (
                keys::trailing_u32(k).unwrap(),
                postcard::from_bytes(v).unwrap(),
            )
        })
        .collect()
}

fn keyword_list(engine: &RedbEngine, folder: u64) -> Vec<String> {
    let v = engine
        .snapshot()
        .unwrap()
        .get(&keys::folder_keywords(folder))
        .unwrap()
        .expect("every folder has its keyword list (format 5)");
    postcard::from_bytes(&v).unwrap()
}

fn horizon(engine: &RedbEngine, folder: u64) -> u64 {
    engine
        .snapshot()
        .unwrap()
        .get(&keys::prune_horizon(folder))
        .unwrap()
        .map_or(0, |v| postcard::from_bytes(&v).unwrap())
}

/// The flag numbers the index documents: 0 = not \Seen, 1..=4 the other
/// system flags, 16 + i keyword i of the folder's list.
fn numbers(o: &Object, list: &[String]) -> BTreeSet<u16> {
    let mut out = BTreeSet::new();
    if !o.flags.contains("\\Seen") {
        out.insert(0);
    }
    for f in o.flags.iter() {
        let system = ["\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]
            .iter()
            .position(|s| s.eq_ignore_ascii_case(f));
        match system {
            Some(i) => {
                out.insert(i as u16 + 1);
            }
            None if f.eq_ignore_ascii_case("\\Seen") => {}
            None => {
                let i = list
                    .iter()
                    .position(|k| k.eq_ignore_ascii_case(f))
                    .expect("every keyword of an object is in its folder's list");
                out.insert(i as u16 + 16);
            }
        }
    }
    out
}

fn row_bits(o: &Object) -> u8 {
    let mut bits = 0;
    for (flag, bit) in [
        ("\\Seen", 1),
        ("\\Answered", 2),
        ("\\Flagged", 4),
        ("\\Deleted", 8),
        ("\\Draft", 16),
    ] {
        if o.flags.contains(flag) {
            bits |= bit;
        }
    }
    bits
}

/// The three index ranges of a folder as a brute-force reading of its
/// records gives them.
fn expected_indexes(engine: &RedbEngine, folder: u64) -> Vec<KeyValue> {
    let list = keyword_list(engine, folder);
    let mut out = Vec::new();
    for o in objects(engine, folder) {
        out.push((keys::change_index(folder, o.modseq, o.uid), vec![0]));
        for n in numbers(&o, &list) {
            out.push((keys::flag_index(folder, n, o.uid), Vec::new()));
        }
        out.push((keys::mail_row(folder, o.uid), vec![row_bits(&o)]));
        out.push((keys::date_index(folder, o.internal_date, o.uid), Vec::new()));
    }
    for (uid, m) in tombstones(engine, folder) {
        out.push((keys::change_index(folder, m, uid), vec![1]));
    }
    out.sort();
    out
}

fn stored_indexes(engine: &RedbEngine, folder: u64) -> Vec<KeyValue> {
    let mut out = raw(engine, &keys::change_index_all(folder));
    out.extend(raw(engine, &keys::flag_index_all(folder)));
    out.extend(raw(engine, &keys::mail_rows(folder)));
    out.extend(raw(engine, &keys::date_index_all(folder)));
    out.sort();
    out
}

/// Every index key of the store, with the keyword lists.
fn all_index_keys(engine: &RedbEngine) -> Vec<KeyValue> {
    let mut out = Vec::new();
    for p in [0x16u8, 0x26, 0x27, 0x28, 0x2C] {
        out.extend(raw(engine, &[p]));
    }
    out
}

async fn append(store: &Store, p: &Principal, name: &str, n: u64, flags: Flags) {
    let body = format!("Subject: m{n}\r\nMessage-ID: <{n}@x>\r\n\r\nbody {n}\r\n");
    let blob = store.stage_bytes(body.as_bytes()).await.unwrap();
    let mut object = NewObject::new(blob);
    object.flags = flags;
    store
        .store_object(p, &FolderRef::own(name), object)
        .await
        .unwrap();
}

struct World {
    store: Store,
    engine: Arc<RedbEngine>,
    p: Principal,
    _dir: tempfile::TempDir,
}

async fn world(retention: ChangeRetention) -> World {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(RedbEngine::open(&dir.path().join("store.redb")).unwrap());
    let config = StoreConfig {
        retention,
        ..StoreConfig::new(dir.path())
    };
    let store = Store::open_with_engine(config, engine.clone()).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    World {
        store,
        engine,
        p,
        _dir: dir,
    }
}

impl World {
    async fn search(&self, folder: &FolderRef, key: SearchKey) -> Vec<u32> {
        self.store.search(&self.p, folder, &key).await.unwrap()
    }

    fn folder(&self, name: &str) -> Option<Folder> {
        folders(&self.engine).into_iter().find(|f| f.name == name)
    }

    fn uids(&self, name: &str) -> Vec<u32> {
        let Some(f) = self.folder(name) else {
            return Vec::new();
        };
        objects(&self.engine, f.id).iter().map(|o| o.uid).collect()
    }

    async fn append(&self, name: &str, n: u64, flags: Flags) {
        append(&self.store, &self.p, name, n, flags).await
    }

    /// Checks every folder against the oracle.
    async fn check(&self, step: &str) {
        for f in folders(&self.engine) {
            let id = f.id;
            assert_eq!(
                stored_indexes(&self.engine, id),
                expected_indexes(&self.engine, id),
                "{step}: indexes of {}",
                f.name
            );
            let h = horizon(&self.engine, id);
            let objs = objects(&self.engine, id);
            let tombs = tombstones(&self.engine, id);
            let mut sinces: BTreeSet<u64> = [0, h.saturating_sub(1), h, h + 1].into();
            sinces.extend([f.highest_modseq, f.highest_modseq.saturating_sub(1)]);
            sinces.extend(objs.iter().map(|o| o.modseq.saturating_sub(1)));
            sinces.extend(tombs.values().map(|m| m.saturating_sub(1)));
            let folder = FolderRef::own(f.name.clone());
            let sinces: Vec<u64> = sinces.into_iter().collect();
            let every = sinces.len().div_ceil(12).max(1);
            let picked = sinces
                .iter()
                .enumerate()
                .filter(|(i, s)| i % every == 0 || **s <= h + 1)
                .map(|(_, s)| *s);
            for since in picked {
                let got = self
                    .store
                    .changes_since(&self.p, &folder, since)
                    .await
                    .unwrap();
                let changed: Vec<(u32, u64)> =
                    got.changed.iter().map(|s| (s.uid, s.modseq)).collect();
                let want: Vec<(u32, u64)> = objs
                    .iter()
                    .filter(|o| o.modseq > since)
                    .map(|o| (o.uid, o.modseq))
                    .collect();
                assert_eq!(changed, want, "{step}: changed of {} since {since}", f.name);
                let vanished: Vec<u32> = tombs
                    .iter()
                    .filter(|(_, m)| **m > since)
                    .map(|(u, _)| *u)
                    .collect();
                assert_eq!(
                    got.vanished, vanished,
                    "{step}: vanished of {} since {since}",
                    f.name
                );
                assert_eq!(
                    got.complete,
                    since >= h,
                    "{step}: complete of {} since {since} (horizon {h})",
                    f.name
                );
                assert_eq!(
                    got.keywords.is_some(),
                    f.highest_modseq > since,
                    "{step}: keywords of {} since {since}",
                    f.name
                );
            }
            // SEARCH on flags, their NOTs, and one narrowed AND.
            for flag in FLAGS.iter().chain(&["$absent"]) {
                let has: Vec<u32> = objs
                    .iter()
                    .filter(|o| o.flags.contains(flag))
                    .map(|o| o.uid)
                    .collect();
                let hasnt: Vec<u32> = objs
                    .iter()
                    .filter(|o| !o.flags.contains(flag))
                    .map(|o| o.uid)
                    .collect();
                let key = SearchKey::Flag(flag.to_string());
                assert_eq!(
                    self.search(&folder, key.clone()).await,
                    has,
                    "{step}: {flag}"
                );
                assert_eq!(
                    self.search(&folder, SearchKey::Not(Box::new(key.clone())))
                        .await,
                    hasnt,
                    "{step}: NOT {flag}"
                );
                // Narrowed by the flag, then the summary read for the
                // candidates only: the full scan's answer for SUBJECT
                // (unchanged path) intersected with the flag's.
                let subject = SearchKey::Subject("m1".into());
                let and = SearchKey::And(vec![key.clone(), subject.clone()]);
                let by_subject = self.search(&folder, subject).await;
                let want: Vec<u32> = has
                    .iter()
                    .copied()
                    .filter(|u| by_subject.contains(u))
                    .collect();
                assert_eq!(
                    self.search(&folder, and).await,
                    want,
                    "{step}: {flag} SUBJECT m1"
                );
            }
        }
        // No index key of a folder that does not exist.
        let ids: BTreeSet<u64> = folders(&self.engine).iter().map(|f| f.id).collect();
        for (k, _) in all_index_keys(&self.engine)
            .into_iter()
            .chain(raw(&self.engine, &[0x17]))
        {
            let id = u64::from_be_bytes(k[1..9].try_into().unwrap());
            assert!(
                ids.contains(&id),
                "{step}: an index key of gone folder {id}"
            );
        }
    }
}

async fn random_operations(seed: u64, steps: usize, retention: ChangeRetention) {
    let w = world(retention).await;
    let mut rng = Rng(seed);
    let mut names: Vec<String> = vec!["INBOX".into()];
    for name in ["A", "B"] {
        w.store
            .create_folder(&w.p, &FolderRef::own(name), None)
            .await
            .unwrap();
        names.push(name.into());
    }
    let mut n = 0u64;
    let mut renames = 0;
    let mut views: Vec<(store_core::retention::FolderView, u64, String)> = Vec::new();
    for step in 0..steps {
        let name = names[rng.below(names.len())].clone();
        let folder = FolderRef::own(name.clone());
        let uids = w.uids(&name);
        let op = rng.below(100);
        let what = match op {
            0..=29 => {
                for _ in 0..=rng.below(3) {
                    n += 1;
                    let flags = rng.flags();
                    w.append(&name, n, flags).await;
                }
                "append"
            }
            30..=49 => {
                let some = rng.some(&uids, 40);
                let flags = rng.flags();
                let update = match rng.below(3) {
                    0 => FlagUpdate::Add(flags),
                    1 => FlagUpdate::Remove(flags),
                    _ => FlagUpdate::Replace(flags),
                };
                w.store
                    .update_flags(&w.p, &folder, &some, update, None)
                    .await
                    .unwrap();
                "store"
            }
            50..=62 => {
                let some = rng.some(&uids, 30);
                w.store.remove_objects(&w.p, &folder, &some).await.unwrap();
                "expunge"
            }
            63..=72 => {
                let to = names[rng.below(names.len())].clone();
                let some = rng.some(&uids, 30);
                if to != name && !some.is_empty() {
                    let to = FolderRef::own(to);
                    if rng.chance(50) {
                        w.store
                            .copy_objects(&w.p, &folder, &some, &to)
                            .await
                            .unwrap();
                    } else {
                        w.store
                            .move_objects(&w.p, &folder, &some, &to)
                            .await
                            .unwrap();
                    }
                }
                "copy/move"
            }
            73..=76 => {
                renames += 1;
                let to = format!("R{renames}");
                w.store
                    .rename_folder(&w.p, &FolderRef::own("INBOX"), &FolderRef::own(to.clone()))
                    .await
                    .unwrap();
                names.push(to);
                "rename INBOX"
            }
            77..=80 if name != "INBOX" => {
                views.retain(|(_, _, v)| *v != name);
                w.store.remove_folder(&w.p, &folder).await.unwrap();
                names.retain(|x| *x != name);
                if rng.chance(50) {
                    w.store.create_folder(&w.p, &folder, None).await.unwrap();
                    names.push(name.clone());
                }
                "delete"
            }
            81..=88 => {
                w.store.prune_changes().await.unwrap();
                "prune"
            }
            89..=93 => {
                // A view opened now (as SELECT does), synchronized to the
                // folder's state: it keeps what it has not seen.
                if let Some(f) = w.folder(&name) {
                    let view = w.store.open_folder_view(&w.p, &folder).await.unwrap();
                    view.synced(f.highest_modseq);
                    views.push((view, f.highest_modseq, name.clone()));
                }
                "open view"
            }
            _ => {
                if !views.is_empty() {
                    let i = rng.below(views.len());
                    views.remove(i);
                }
                "close view"
            }
        };
        let label = format!("seed {seed} step {step} ({what} in {name})");
        w.check(&label).await;
        for (_, at, name) in &views {
            let got = w
                .store
                .changes_since(&w.p, &FolderRef::own(name.clone()), *at)
                .await
                .unwrap();
            assert!(
                got.complete,
                "{label}: a view at {at} of {name} lost tombstones"
            );
        }
    }
    w.store.close().await;
}

fn keep_all() -> ChangeRetention {
    ChangeRetention::default()
}

fn prune_all() -> ChangeRetention {
    ChangeRetention {
        window: Duration::ZERO,
        max_tombstones_per_folder: 3,
        interval: Duration::from_secs(3600),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_equal_the_records_under_random_operations() {
    for seed in [1, 2] {
        random_operations(seed, 120, keep_all()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_equal_the_records_with_pruning() {
    for seed in [3, 4] {
        random_operations(seed, 120, prune_all()).await;
    }
}

/// Within the window nothing is pruned; the tombstone cap prunes the
/// oldest whole MODSEQs, and `complete` turns false only below them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_prunes_the_oldest_tombstones_and_the_window_keeps_the_rest() {
    let w = world(ChangeRetention {
        max_tombstones_per_folder: 4,
        ..ChangeRetention::default()
    })
    .await;
    let inbox = FolderRef::own("INBOX");
    for n in 1..=10 {
        w.append("INBOX", n, Flags::new()).await;
    }
    let before = w.folder("INBOX").unwrap().highest_modseq;
    for uid in 1..=6 {
        w.store.remove_objects(&w.p, &inbox, &[uid]).await.unwrap();
    }
    let pruned = w.store.prune_changes().await.unwrap();
    assert!(pruned > 0);
    let id = w.folder("INBOX").unwrap().id;
    assert_eq!(tombstones(&w.engine, id).len(), 4, "the cap keeps 4");
    let h = horizon(&w.engine, id);
    // UIDs 1 and 2 went first: their removals are the horizon.
    assert_eq!(h, before + 2);
    let old = w.store.changes_since(&w.p, &inbox, before).await.unwrap();
    assert!(!old.complete);
    assert_eq!(old.vanished, vec![3, 4, 5, 6], "what is left");
    let new = w.store.changes_since(&w.p, &inbox, h).await.unwrap();
    assert!(new.complete);
    assert_eq!(new.vanished, vec![3, 4, 5, 6]);
    // The window (30 days) kept the account feed whole.
    assert_eq!(
        w.store
            .account_changes_since(&w.p, 0, 1000)
            .await
            .unwrap()
            .len() as u64,
        w.store.account_modseq(&w.p).await.unwrap()
    );
    w.check("after the cap").await;
}

/// A zero window prunes the whole feed: reading it from below the horizon
/// fails with ChangesPruned, from the horizon on it works; a view opened
/// before keeps the tombstones it has not seen, and they go once it
/// synchronizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_is_pruned_but_a_view_keeps_what_it_has_not_seen() {
    let w = world(prune_all()).await;
    let inbox = FolderRef::own("INBOX");
    for n in 1..=5 {
        w.append("INBOX", n, Flags::new()).await;
    }
    let view = w.store.open_folder_view(&w.p, &inbox).await.unwrap();
    let seen = w.folder("INBOX").unwrap().highest_modseq;
    view.synced(seen);
    w.store.remove_objects(&w.p, &inbox, &[2, 4]).await.unwrap();
    w.store.prune_changes().await.unwrap();
    let got = w.store.changes_since(&w.p, &inbox, seen).await.unwrap();
    assert!(got.complete, "the view's tombstones are kept");
    assert_eq!(got.vanished, vec![2, 4]);
    // The feed up to the view's MODSEQ is gone.
    match w.store.account_changes_since(&w.p, 0, 10).await {
        Err(StoreError::ChangesPruned { horizon }) => assert_eq!(horizon, seen),
        other => panic!("expected ChangesPruned, got {other:?}"),
    }
    assert_eq!(
        w.store
            .account_changes_since(&w.p, seen, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    // Synchronized: the view lets go, and the next pass prunes them.
    let now = w.folder("INBOX").unwrap().highest_modseq;
    view.synced(now);
    w.store.prune_changes().await.unwrap();
    let got = w.store.changes_since(&w.p, &inbox, seen).await.unwrap();
    assert!(!got.complete);
    assert!(got.vanished.is_empty());
    assert!(
        w.store
            .changes_since(&w.p, &inbox, now)
            .await
            .unwrap()
            .complete
    );
    w.check("after the view").await;
    drop(view);
    w.store.close().await;
}

/// Builds a store with history through the API, then strips the indexes
/// as format 4 had none (and the keyword list of a folder whose keywords
/// were first used in UID order, as format 4 may have lacked it), stamps
/// format 4; `cut` sets the upgrade cursor as if an upgrade had been cut
/// short at that key.
async fn downgrade(dir: &std::path::Path, cut: Option<Vec<u8>>) -> Vec<KeyValue> {
    let engine = RedbEngine::open(&dir.join("store.redb")).unwrap();
    let before = all_index_keys(&engine);
    let mut batch = WriteBatch::new();
    for p in [0x26u8, 0x27, 0x28, 0x2C] {
        for (k, _) in raw(&engine, &[p]) {
            batch.insert(k, None);
        }
    }
    let b = folders(&engine)
        .into_iter()
        .find(|f| f.name == "B")
        .unwrap();
    batch.insert(keys::folder_keywords(b.id), None);
    batch.insert(
        keys::counter("format"),
        Some(postcard::to_stdvec(&4u64).unwrap()),
    );
    if let Some(cut) = cut {
        batch.insert(keys::counter("format-upgrade"), Some(cut));
    }
    engine.commit(batch).unwrap();
    before
}

async fn build_history(dir: &std::path::Path) {
    let store = Store::open(StoreConfig::new(dir)).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    for name in ["A", "B"] {
        store
            .create_folder(&p, &FolderRef::own(name), None)
            .await
            .unwrap();
    }
    let mut rng = Rng(9);
    for n in 1..=40 {
        let name = ["INBOX", "A"][n as usize % 2];
        append(&store, &p, name, n, rng.flags()).await;
    }
    // B's keywords in UID order, so a list derived from its objects is
    // the one that was kept.
    for (n, kw) in [(41, "$K1"), (42, "$k2"), (43, "$K3")] {
        let mut f = Flags::new();
        f.insert(kw);
        append(&store, &p, "B", n, f).await;
    }
    let inbox = FolderRef::own("INBOX");
    store
        .remove_objects(&p, &inbox, &[1, 3, 5, 7])
        .await
        .unwrap();
    let mut f = Flags::new();
    f.insert("$K3");
    store
        .update_flags(&p, &inbox, &[2, 4, 6], FlagUpdate::Add(f), None)
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_format_5_upgrade_rebuilds_the_indexes_byte_equal() {
    let dir = tempfile::tempdir().unwrap();
    build_history(dir.path()).await;
    let before = downgrade(dir.path(), None).await;
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.close().await;
    drop(store);
    let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
    assert_eq!(all_index_keys(&engine), before);
    let v = engine
        .snapshot()
        .unwrap()
        .get(&keys::counter("format"))
        .unwrap()
        .unwrap();
    assert_eq!(
        postcard::from_bytes::<u64>(&v).unwrap(),
        store_core::FORMAT_VERSION
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_format_5_upgrade_resumes_to_the_same_indexes() {
    let dir = tempfile::tempdir().unwrap();
    build_history(dir.path()).await;
    // Cut in the middle of the objects (0x20): the indexes of the objects
    // before the cut are written as the first run wrote them.
    let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
    let objects = raw(&engine, &[0x20]);
    let cut = objects[objects.len() / 2].0.clone();
    drop(engine);
    let before = downgrade(dir.path(), Some(cut.clone())).await;
    {
        // What the first run did before the cut: the keyword lists (all
        // folders are before 0x20) and the indexes of the objects up to it.
        let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
        let mut batch = WriteBatch::new();
        let cut_object = (&cut[1..9], &cut[9..13]);
        for (k, v) in &before {
            // The object an entry belongs to: (folder, UID) bytes.
            let object = match (k[0], v.as_slice()) {
                (0x16, _) => None,
                (0x26, [0]) => Some((&k[1..9], &k[k.len() - 4..])),
                (0x26, _) => continue,
                _ => Some((&k[1..9], &k[k.len() - 4..])),
            };
            if object.is_none_or(|o| o <= cut_object) {
                batch.insert(k.clone(), Some(v.clone()));
            }
        }
        engine.commit(batch).unwrap();
    }
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.close().await;
    drop(store);
    let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
    let after = all_index_keys(&engine);
    // Objects past the cut and every tombstone were indexed by the resumed
    // run; those before it keep what the first run wrote.
    assert_eq!(after, before);
}

/// A format-8 store (no date index) gets one entry per object at open,
/// byte-equal to what the writes of format 9 keep, and expunging by age
/// then finds its old objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_format_9_upgrade_adds_the_date_index() {
    let dir = tempfile::tempdir().unwrap();
    build_history(dir.path()).await;
    let before = {
        let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
        let before = all_index_keys(&engine);
        let mut batch = WriteBatch::new();
        for (k, _) in raw(&engine, &[0x2C]) {
            batch.insert(k, None);
        }
        assert!(!batch.is_empty(), "format 9 writes keep a date index");
        batch.insert(
            keys::counter("format"),
            Some(postcard::to_stdvec(&8u64).unwrap()),
        );
        engine.commit(batch).unwrap();
        before
    };
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let p = store.administrator("alice").await.unwrap();
    let far_future = 4_102_444_800; // 2100-01-01
    let removed = store
        .expunge_before(&p, &FolderRef::own("A"), far_future, None)
        .await
        .unwrap();
    assert_eq!(removed, 20, "every object of A is older than 2100");
    store.close().await;
    drop(store);
    let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
    let a = folders(&engine)
        .into_iter()
        .find(|f| f.name == "A")
        .unwrap();
    assert!(objects(&engine, a.id).is_empty());
    assert!(raw(&engine, &keys::date_index_all(a.id)).is_empty());
    let others: Vec<KeyValue> = before
        .into_iter()
        .filter(|(k, _)| k[0] == 0x2C && k[1..9] != a.id.to_be_bytes())
        .collect();
    let now: Vec<KeyValue> = raw(&engine, &[0x2C]);
    assert_eq!(now, others);
}
