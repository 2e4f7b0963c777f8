//! Removing a folder (or its account) leaves none of the keys kept per
//! folder id: creation time (0x14), last change (0x15) and the names of
//! removed objects (0x25).

use std::sync::Arc;

use store_core::engine::{Engine, RedbEngine};
use store_core::{FolderRef, NewObject, Store, StoreConfig};

/// The keys under the per-folder prefixes 0x14, 0x15 and 0x25 whose
/// folder id is `folder` (any folder for `None`).
fn folder_keys(engine: &RedbEngine, folder: Option<u64>) -> Vec<Vec<u8>> {
    let snapshot = engine.snapshot().unwrap();
    let mut out = Vec::new();
    for prefix in [[0x14u8], [0x15], [0x25]] {
        for (key, _) in snapshot.scan(&prefix, &prefix, usize::MAX).unwrap() {
            if folder.is_none_or(|id| key.get(1..9) == Some(&id.to_be_bytes()[..])) {
                out.push(key);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_folder_or_an_account_leaves_no_folder_keys() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(RedbEngine::open(&dir.path().join("store.redb")).unwrap());
    let store = Store::open_with_engine(StoreConfig::new(dir.path()), engine.clone()).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let docs = FolderRef::own("Docs");
    store.create_folder(&p, &docs, None).await.unwrap();
    let id = store.folder_status(&p, &docs).await.unwrap().0.id;
    // A named object stored then removed: its name is kept (0x25).
    for name in ["a.txt", "b.txt"] {
        let blob = store.stage_bytes(b"hello").await.unwrap();
        let mut object = NewObject::new(blob);
        object.file_name = Some(name.to_string());
        let stored = store.store_object(&p, &docs, object).await.unwrap();
        if name == "a.txt" {
            store
                .remove_objects(&p, &docs, &[stored.uid])
                .await
                .unwrap();
        }
    }
    let before = folder_keys(&engine, Some(id));
    assert!(
        before.iter().any(|k| k[0] == 0x14)
            && before.iter().any(|k| k[0] == 0x15)
            && before.iter().any(|k| k[0] == 0x25),
        "{before:?}"
    );
    store.remove_folder(&p, &docs).await.unwrap();
    assert_eq!(folder_keys(&engine, Some(id)), Vec::<Vec<u8>>::new());

    // The account's folders (INBOX and one more) go with it, keys and all.
    store
        .create_folder(&p, &FolderRef::own("Music"), None)
        .await
        .unwrap();
    assert!(!folder_keys(&engine, None).is_empty());
    store.remove_account("alice").await.unwrap();
    assert_eq!(folder_keys(&engine, None), Vec::<Vec<u8>>::new());
    store.close().await;
}

/// Removing an account leaves none of its counters (0x05: MODSEQ, bytes,
/// objects, the prune counters `feed-horizon` and `prune-checked`) nor its
/// hour marks (0x31), once pruning wrote them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_account_leaves_no_counters_or_hour_marks() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(RedbEngine::open(&dir.path().join("store.redb")).unwrap());
    let mut config = StoreConfig::new(dir.path());
    config.retention.window = std::time::Duration::ZERO;
    let store = Store::open_with_engine(config, engine.clone()).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    let blob = store
        .stage_bytes(b"Subject: x\r\n\r\nhi\r\n")
        .await
        .unwrap();
    let stored = store
        .store_object(&p, &inbox, NewObject::new(blob))
        .await
        .unwrap();
    // A session's view behind the removal keeps it in the feed, so the
    // pass prunes up to it (`feed-horizon`) and checks the rest for the
    // tombstone cap (`prune-checked`).
    let folder = store.folder_status(&p, &inbox).await.unwrap().0;
    let view = store.open_view(folder.id, folder.highest_modseq);
    store
        .remove_objects(&p, &inbox, &[stored.uid])
        .await
        .unwrap();
    store.prune_changes().await.unwrap();
    let account_keys = || {
        let snapshot = engine.snapshot().unwrap();
        let mut out = Vec::new();
        for prefix in [0x05u8, 0x31] {
            let mut k = vec![prefix];
            k.extend_from_slice(&p.account().to_be_bytes());
            out.extend(snapshot.scan(&k, &k, usize::MAX).unwrap());
        }
        out.into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
            .collect::<Vec<_>>()
    };
    let before = account_keys().join(" ");
    for name in ["modseq", "feed-horizon", "prune-checked"] {
        assert!(before.contains(name), "{name} not in {before}");
    }
    assert!(account_keys().iter().any(|k| k.starts_with('\x31')));
    drop(view);
    store.remove_account("alice").await.unwrap();
    assert_eq!(account_keys(), Vec::<String>::new());
    store.close().await;
}
