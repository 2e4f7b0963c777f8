//! The benchmark bulk loader (`store/bulk.rs`) leaves a folder that the
//! normal API path would have left: the same objects, flags, counts,
//! keyword list, search answers and change feed.

use store_core::engine::{Engine, RedbEngine};
use store_core::model::Flags;
use store_core::search::SearchKey;
use store_core::{bench_message, BulkSpec, FlagUpdate, FolderRef, NewObject, Store, StoreConfig};

async fn with_alice(dir: &std::path::Path) -> (Store, store_core::Principal) {
    let store = Store::open(StoreConfig::new(dir)).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    (store, p)
}

fn unseen() -> SearchKey {
    SearchKey::Not(Box::new(SearchKey::Flag("\\Seen".into())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_loaded_folder_equals_the_api_path() {
    let inbox = FolderRef::own("INBOX");
    let spec = BulkSpec {
        count: 5_200,
        distinct: 40,
        seen: 0.7,
        unseen_newest: 50,
        flagged: 0.1,
        keywords: vec!["$A".into(), "$B".into()],
        expunge_ratio: 0.3,
        flag_churn: 1,
    };
    let bulk_dir = tempfile::tempdir().unwrap();
    let (bulk, bp) = with_alice(bulk_dir.path()).await;
    let report = bulk.bulk_messages(&bp, &inbox, &spec).await.unwrap();
    assert_eq!(report.uids.len() + report.expunged.len(), 5_200);
    assert!(!report.expunged.is_empty(), "the churn expunged nothing");

    // The same folder through one APPEND per message, with the flags the
    // bulk path gave, then the same expunges and STORE.
    let api_dir = tempfile::tempdir().unwrap();
    let (api, ap) = with_alice(api_dir.path()).await;
    let selected = bulk.changes_since(&bp, &inbox, 0).await.unwrap().changed;
    let flags_of = |uid: u32| -> Flags {
        // Flags before the churn: the bulk state minus $BenchChurn.
        let mut f = Flags::new();
        if let Some(s) = selected.iter().find(|s| s.uid == uid) {
            for flag in s.flags.iter().filter(|f| *f != "$BenchChurn") {
                f.insert(flag);
            }
        }
        f
    };
    for n in 0..5_200u32 {
        let blob = api.stage_bytes(&bench_message(n % 40)).await.unwrap();
        let mut object = NewObject::new(blob);
        object.flags = flags_of(n + 1);
        api.store_object(&ap, &inbox, object).await.unwrap();
    }
    // In the loader's batches of 5,000, so MODSEQs match too.
    for chunk in report.expunged.chunks(5_000) {
        api.remove_objects(&ap, &inbox, chunk).await.unwrap();
    }
    let mut churn = Flags::new();
    churn.insert("$BenchChurn");
    for chunk in report.uids.chunks(5_000) {
        let add = FlagUpdate::Add(churn.clone());
        api.update_flags(&ap, &inbox, chunk, add, None)
            .await
            .unwrap();
    }

    let a = api.select_folder(&ap, &inbox).await.unwrap();
    let b = bulk.select_folder(&bp, &inbox).await.unwrap();
    let a_states = api.changes_since(&ap, &inbox, 0).await.unwrap().changed;
    let b_states = bulk.changes_since(&bp, &inbox, 0).await.unwrap().changed;
    let strip = |s: &[store_core::ObjectState]| {
        s.iter()
            .map(|o| (o.uid, o.flags.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a_states), strip(&b_states));
    assert_eq!(b.uids.iter().collect::<Vec<_>>(), report.uids);
    assert_eq!(a.keywords, b.keywords);
    assert!(b.keywords.iter().any(|k| k == "$A") && b.keywords.iter().any(|k| k == "$B"));
    assert_eq!(a.folder.objects, b.folder.objects);
    assert_eq!(a.folder.unseen, b.folder.unseen);
    assert_eq!(a.folder.size, b.folder.size);
    assert_eq!(a.folder.uid_next, b.folder.uid_next);
    assert_eq!(a.folder.highest_modseq, b.folder.highest_modseq);

    for key in [
        unseen(),
        SearchKey::Flag("\\Flagged".into()),
        SearchKey::Flag("$B".into()),
    ] {
        let x = api.search(&ap, &inbox, &key).await.unwrap();
        let y = bulk.search(&bp, &inbox, &key).await.unwrap();
        assert_eq!(x, y, "{key:?}");
        assert!(!y.is_empty(), "{key:?} matched nothing");
    }
    let x = api.changes_since(&ap, &inbox, 0).await.unwrap();
    let y = bulk.changes_since(&bp, &inbox, 0).await.unwrap();
    assert_eq!(x.vanished, y.vanished);
    assert_eq!(x.changed, y.changed);
    api.close().await;
    bulk.close().await;
    drop((api, bulk));

    // The per-folder indexes (change index, flag index, mail rows) and
    // the keyword list are those of the API path, byte for byte.
    let ranges = |dir: &std::path::Path| {
        let engine = RedbEngine::open(&dir.join("store.redb")).unwrap();
        let snap = engine.snapshot().unwrap();
        [0x16u8, 0x26, 0x27, 0x28]
            .iter()
            .map(|p| snap.scan(&[*p], &[*p], usize::MAX).unwrap())
            .collect::<Vec<_>>()
    };
    let (x, y) = (ranges(api_dir.path()), ranges(bulk_dir.path()));
    for (i, p) in ["0x16", "0x26", "0x27", "0x28"].iter().enumerate() {
        assert!(!y[i].is_empty(), "no {p} key");
        assert!(x[i] == y[i], "the {p} ranges differ");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_folders_makes_listable_folders() {
    let dir = tempfile::tempdir().unwrap();
    let (store, p) = with_alice(dir.path()).await;
    let names: Vec<String> = (0..2_500).map(|i| format!("c{i:05}")).collect();
    store.bulk_folders(&p, &names).await.unwrap();
    // Again: existing names are skipped.
    store.bulk_folders(&p, &names[..10]).await.unwrap();
    let listed = store.list_folders(&p).await.unwrap();
    let bench: Vec<&str> = listed
        .iter()
        .map(|f| f.folder.name.as_str())
        .filter(|n| n.starts_with('c'))
        .collect();
    assert_eq!(bench.len(), 2_500);
    let blob = store.stage_bytes(&bench_message(1)).await.unwrap();
    store
        .store_object(&p, &FolderRef::own("c02499"), NewObject::new(blob))
        .await
        .unwrap();
    store.close().await;
}
