//! Store-level benchmarks of the operations in issue 16's tables, at
//! each folder size: the synchronization after a command with nothing
//! changed (NOOP) and after 1,000 changes (QRESYNC), SEARCH UNSEEN,
//! FETCH of the last 50 messages, a one-message flag STORE, SELECT, and
//! folder listing with `*` and a narrow pattern over an account of many
//! folders.
//!
//! Run: `cargo bench -p store-core` (sizes 1,000 and 10,000).
//! `CPM_BENCH_SIZES=1000,10000,100000` sets the sizes (100k takes
//! minutes to build the first time); `CPM_BENCH_QUICK=1` takes fewer
//! samples. Fixtures are built with the bulk loader (`store/bulk.rs`)
//! once, cached in `target/bench-fixtures/v{FORMAT_VERSION}-…`, and each
//! run works on a copy. A message folder of size n holds n messages
//! after a history of n more that were expunged and two flag changes
//! on each remaining one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use store_core::model::Flags;
use store_core::search::SearchKey;
use store_core::{
    bench_message, BulkSpec, FlagUpdate, FolderRef, NewObject, Principal, Store, StoreConfig,
    FORMAT_VERSION,
};
use tokio::runtime::Runtime;

const LOGIN: &str = "bench";

/// The folder sizes to measure: `CPM_BENCH_SIZES` (comma-separated), or
/// 1,000 and 10,000.
fn sizes() -> Vec<u32> {
    std::env::var("CPM_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<u32>| !v.is_empty())
        .unwrap_or_else(|| vec![1_000, 10_000])
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create fixture copy");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("fixture entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy fixture file");
        }
    }
}

/// A fresh copy of the cached fixture `name`, built by `build` the first
/// time, opened: the temp dir (keep it alive), the store and the
/// principal of the account `bench`.
fn fixture<F>(rt: &Runtime, name: &str, build: F) -> (tempfile::TempDir, Store, Principal)
where
    F: AsyncFnOnce(&Store, &Principal),
{
    let cache = target_dir()
        .join("bench-fixtures")
        .join(format!("v{FORMAT_VERSION}-{name}"));
    if !cache.exists() {
        let staging = cache.with_extension("building");
        let _ = std::fs::remove_dir_all(&staging);
        let started = std::time::Instant::now();
        rt.block_on(async {
            let store = Store::open(StoreConfig::new(&staging)).expect("open fixture store");
            store
                .create_account(LOGIN, None, "bench-password")
                .await
                .expect("create account");
            let p = store.trusted_element(LOGIN).await.expect("principal");
            build(&store, &p).await;
            store.close().await;
        });
        std::fs::rename(&staging, &cache).expect("install fixture");
        eprintln!("fixture {name} built in {:.1?}", started.elapsed());
    }
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&cache, dir.path());
    let (store, p) = rt.block_on(async {
        let store = Store::open(StoreConfig::new(dir.path())).expect("open fixture copy");
        let p = store.trusted_element(LOGIN).await.expect("principal");
        (store, p)
    });
    (dir, store, p)
}

/// Fewer, shorter samples than criterion's defaults (the slow cases
/// take milliseconds each); fewer still with `CPM_BENCH_QUICK`.
fn config() -> Criterion {
    let c = Criterion::default();
    if std::env::var_os("CPM_BENCH_QUICK").is_some() {
        c.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
    } else {
        c.sample_size(30)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    }
}

fn messages(c: &mut Criterion) {
    let rt = runtime();
    let inbox = FolderRef::own("INBOX");
    let mut group = c.benchmark_group("messages");
    for n in sizes() {
        // The name carries the unseen count: fixtures of another flag
        // mix are other fixtures (`BulkSpec::new`: all seen but the newest).
        let unseen = BulkSpec::new(0).unseen_newest;
        let name = format!("messages-{n}-unseen{unseen}");
        let (_dir, store, p) = fixture(&rt, &name, async |s, p| {
            let mut spec = BulkSpec::new(n.saturating_mul(2));
            spec.expunge_ratio = 0.5;
            spec.flag_churn = 2;
            s.bulk_messages(p, &FolderRef::own("INBOX"), &spec)
                .await
                .expect("bulk messages");
        });
        let selected = rt
            .block_on(store.select_folder(&p, &inbox))
            .expect("select");
        let uids: Vec<u32> = selected.uids.iter().collect();
        // Labelled by the fixture size n; the churn leaves about n.
        eprintln!("messages-{n}: {} messages held", uids.len());
        let highest = selected.folder.highest_modseq;
        let last50 = uids[uids.len().saturating_sub(50)..].to_vec();
        let target = uids[uids.len() / 2];
        // What a session's synchronization after each command reads.
        let changes = |since: u64| {
            let (store, p, inbox) = (&store, &p, &inbox);
            async move {
                store
                    .mail_changes_since(p, inbox, since)
                    .await
                    .expect("changes")
            }
        };

        group.bench_function(BenchmarkId::new("noop_changes_since", n), |b| {
            b.to_async(&rt).iter(|| changes(highest))
        });
        let unseen = SearchKey::Not(Box::new(SearchKey::Flag("\\Seen".into())));
        group.bench_function(BenchmarkId::new("search_unseen", n), |b| {
            b.to_async(&rt)
                .iter(|| async { store.search(&p, &inbox, &unseen).await.expect("search") })
        });
        group.bench_function(BenchmarkId::new("fetch_last_50", n), |b| {
            b.to_async(&rt).iter(|| async {
                for &uid in &last50 {
                    store.fetch_object(&p, &inbox, uid).await.expect("fetch");
                }
            })
        });
        group.bench_function(BenchmarkId::new("select", n), |b| {
            b.to_async(&rt)
                .iter(|| async { store.select_folder(&p, &inbox).await.expect("select") })
        });
        let mut flagged = Flags::new();
        flagged.insert("\\Flagged");
        let mut on = false;
        group.bench_function(BenchmarkId::new("store_one_flag", n), |b| {
            b.iter(|| {
                on = !on;
                let update = if on {
                    FlagUpdate::Add(flagged.clone())
                } else {
                    FlagUpdate::Remove(flagged.clone())
                };
                rt.block_on(store.update_flags(&p, &inbox, &[target], update, None))
                    .expect("store")
            })
        });
        // QRESYNC / CHANGEDSINCE after 1,000 changes: one STORE on 1,000
        // messages, then the changes since the MODSEQ before it.
        let before = rt
            .block_on(store.folder_status(&p, &inbox))
            .expect("status")
            .0
            .highest_modseq;
        let mut changed = Flags::new();
        changed.insert("$BenchChanged");
        let some: Vec<u32> = uids.iter().rev().take(1_000).copied().collect();
        rt.block_on(store.update_flags(&p, &inbox, &some, FlagUpdate::Add(changed), None))
            .expect("store 1,000");
        group.bench_function(BenchmarkId::new("changes_since_1000", n), |b| {
            b.to_async(&rt).iter(|| changes(before))
        });
        // APPEND: one message staged and stored (its commit's fsync
        // included), so the cost the index hook adds shows.
        let mut appended = 0u32;
        group.bench_function(BenchmarkId::new("store_object", n), |b| {
            b.iter(|| {
                appended += 1;
                rt.block_on(async {
                    let blob = store
                        .stage_bytes(&bench_message(appended % 1000))
                        .await
                        .expect("stage");
                    store
                        .store_object(&p, &inbox, NewObject::new(blob))
                        .await
                        .expect("store")
                })
            })
        });
        rt.block_on(store.close());
    }
    group.finish();
}

fn folders(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("folders");
    for n in sizes().into_iter().filter(|&n| (10..=10_000).contains(&n)) {
        let (_dir, store, p) = fixture(&rt, &format!("folders-{n}"), async |s, p| {
            let names: Vec<String> = (1..=n).map(|i| format!("c{i:05}")).collect();
            s.bulk_folders(p, &names).await.expect("bulk folders");
        });
        group.bench_function(BenchmarkId::new("list_all", n), |b| {
            b.to_async(&rt)
                .iter(|| async { store.list_folders(&p).await.expect("list") })
        });
        // LIST "" "c0000%" (c00001 to c00009) as the IMAP layer asks it: the name index
        // read from the pattern's literal prefix, records only for the matches, no
        // shared folders (the pattern cannot reach `Shared/`), no subtree below a match.
        let narrow = || async {
            let prefixes = ["c0000".to_string()];
            let matches = |f: &store_core::FolderRef| {
                f.owner.is_some() || (f.name.starts_with("c0000") && !f.name[5..].contains('/'))
            };
            let scope = store_core::SharedScope::None;
            let found = store
                .list_matching_in(&p, &prefixes, scope, matches, |_: &str| false)
                .await;
            found.expect("list").len()
        };
        assert_eq!(rt.block_on(narrow()), 9, "c0000% must match 9 folders");
        group.bench_function(BenchmarkId::new("list_c0000%", n), |b| {
            b.to_async(&rt).iter(narrow)
        });
        rt.block_on(store.close());
    }
    group.finish();
}

criterion_group! {
    name = store_benches;
    config = config();
    targets = messages, folders
}
criterion_main!(store_benches);
