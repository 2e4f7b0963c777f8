//! The deferral rule of removal (ARCHITECTURE.md, "Removal while other
//! sessions look"), through store-core's public API: an object removed
//! while a view is behind stays readable through that view and its blob
//! stays on disk until every such view has synchronized past the removal
//! or closed; then the blob goes, unless stored again meanwhile; a
//! restart reclaims what a view still held.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use store_core::model::{Object, Principal};
use store_core::{FolderRef, NewObject, Store, StoreConfig, StoreError};

fn message(n: usize) -> Vec<u8> {
    format!("From: a@example.com\r\nSubject: message {n}\r\n\r\nbody {n}\r\n").into_bytes()
}

fn blob_path(dir: &Path, object: &Object) -> PathBuf {
    let hex = object.blob.to_hex();
    dir.join("blobs").join(&hex[..2]).join(hex)
}

/// Waits up to 5 s (the writer unlinks released blobs within a second).
async fn wait_gone(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while path.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!path.exists(), "{} still on disk", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_object_waits_for_every_view_behind_its_removal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    for n in 1..=2 {
        let blob = common::stage_file(&store, &message(n)).await;
        store
            .store_object(&p, &inbox, NewObject::new(blob))
            .await
            .unwrap();
    }
    let selected = store.select_folder(&p, &inbox).await.unwrap();
    let (folder, seen) = (selected.folder.id, selected.folder.highest_modseq);
    let a = store.open_view(folder, seen);
    let b = store.open_view(folder, seen);
    let (object, _) = store.fetch_object(&p, &inbox, 1).await.unwrap();
    let path = blob_path(dir.path(), &object);

    store.remove_objects(&p, &inbox, &[1]).await.unwrap();
    // Gone for every other reader, still there for the views.
    assert!(matches!(
        store.fetch_object(&p, &inbox, 1).await,
        Err(StoreError::NoSuchObject)
    ));
    let (kept, summary) = store.fetch_object_in_view(&p, &inbox, 1, &a).await.unwrap();
    assert_eq!(kept.uid, 1);
    assert_eq!(summary.envelope.subject.as_deref(), Some("message 1"));
    store.open_blob(&kept).await.unwrap();
    assert_eq!(store.retained_objects(folder), 1);

    // A is told; B still reads it, and the file stays.
    let now = store
        .select_folder(&p, &inbox)
        .await
        .unwrap()
        .folder
        .highest_modseq;
    a.synced(now);
    assert!(store.fetch_object_in_view(&p, &inbox, 1, &a).await.is_err());
    assert!(store.fetch_object_in_view(&p, &inbox, 1, &b).await.is_ok());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(path.exists());

    // B closes: the blob goes.
    drop(b);
    wait_gone(&path).await;
    assert_eq!(store.retained_objects(folder), 0);

    // Stored again while held: the released blob is referenced and stays.
    let (second, _) = store.fetch_object(&p, &inbox, 2).await.unwrap();
    let path = blob_path(dir.path(), &second);
    let c = store.open_view(folder, now);
    store.remove_objects(&p, &inbox, &[2]).await.unwrap();
    let blob = common::stage_file(&store, &message(2)).await;
    let again = store
        .store_object(&p, &inbox, NewObject::new(blob))
        .await
        .unwrap();
    drop(c);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(path.exists());
    let (object, _) = store.fetch_object(&p, &inbox, again.uid).await.unwrap();
    store.open_blob(&object).await.unwrap();

    // A view still holding a blob at shutdown: the next open reclaims it.
    let held = store.open_view(folder, 0);
    store
        .remove_objects(&p, &inbox, &[again.uid])
        .await
        .unwrap();
    assert!(path.exists());
    store.close().await;
    drop(held);
    drop(store);
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert!(
        !path.exists(),
        "the sweep at open removes what no record references"
    );
    store.close().await;
}

/// A store with alice's INBOX holding `message(1)` as UID 1.
async fn alice_with_one_message() -> (tempfile::TempDir, Store, Principal, FolderRef) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    let blob = common::stage_file(&store, &message(1)).await;
    store
        .store_object(&p, &inbox, NewObject::new(blob))
        .await
        .unwrap();
    (dir, store, p, inbox)
}

/// A removal committed after a session read the folder (SELECT's
/// snapshot) but before it registered its view is kept for it: the view
/// is opened first ([`Store::open_folder_view`]) and told the read's
/// HIGHESTMODSEQ after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_between_the_read_and_the_view_is_kept() {
    let (_dir, store, p, inbox) = alice_with_one_message().await;
    let view = store.open_folder_view(&p, &inbox).await.unwrap();
    let selected = store.select_folder(&p, &inbox).await.unwrap();
    assert_eq!(selected.uids.len(), 1);
    // Another session's EXPUNGE commits before the view is synced.
    store.remove_objects(&p, &inbox, &[1]).await.unwrap();
    view.synced(selected.folder.highest_modseq);
    let (kept, summary) = store
        .fetch_object_in_view(&p, &inbox, 1, &view)
        .await
        .unwrap();
    assert_eq!(kept.uid, 1);
    assert_eq!(summary.envelope.subject.as_deref(), Some("message 1"));
    // Told of the removal, the view lets go.
    view.synced(selected.folder.highest_modseq + 1);
    assert!(matches!(
        store.fetch_object_in_view(&p, &inbox, 1, &view).await,
        Err(StoreError::NoSuchObject)
    ));
}

/// A retained removal keeps its summary and PREVIEW snippet in the store
/// (not in memory) while a view holds it: both still answer from there,
/// LAZY included; they go with the blob's file once the view lets go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_removal_keeps_its_derived_keys_in_the_store() {
    let (dir, store, p, inbox) = alice_with_one_message().await;
    let view = store.open_folder_view(&p, &inbox).await.unwrap();
    let selected = store.select_folder(&p, &inbox).await.unwrap();
    view.synced(selected.folder.highest_modseq);
    let preview = store.object_preview(&p, &inbox, 1, true).await.unwrap();
    assert!(
        preview.as_deref().unwrap_or("").contains("body 1"),
        "{preview:?}"
    );
    let (object, _) = store.fetch_object(&p, &inbox, 1).await.unwrap();
    let path = blob_path(dir.path(), &object);

    store.remove_objects(&p, &inbox, &[1]).await.unwrap();
    let (kept, summary) = store
        .fetch_object_in_view(&p, &inbox, 1, &view)
        .await
        .unwrap();
    assert_eq!(summary.envelope.subject.as_deref(), Some("message 1"));
    assert_eq!(store.preview_of(&kept, true).await.unwrap(), preview);
    assert!(path.exists());

    drop(view);
    wait_gone(&path).await;
    assert!(matches!(
        store.preview_of(&kept, false).await,
        Err(StoreError::NoSuchObject)
    ));
    assert_eq!(store.preview_of(&kept, true).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_blob_a_view_held_at_shutdown_is_reclaimed_at_the_next_open() {
    use std::sync::Arc;
    use store_core::engine::{Engine, RedbEngine};
    use store_core::keys;
    let dir = tempfile::tempdir().unwrap();
    let records = |engine: &RedbEngine, object: &Object| {
        let prefix = [keys::blob_records(), object.blob.0.to_vec()].concat();
        let snapshot = engine.snapshot().unwrap();
        snapshot
            .scan_keys(&prefix, &prefix, usize::MAX)
            .unwrap()
            .len()
    };
    let open = || {
        let engine = Arc::new(RedbEngine::open(&dir.path().join("store.redb")).unwrap());
        let store = Store::open_with_engine(StoreConfig::new(dir.path()), engine.clone()).unwrap();
        (engine, store)
    };
    let (engine, store) = open();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    // Staged from memory and small: kept in the database, no file.
    let blob = store.stage_bytes(&message(1)).await.unwrap();
    store
        .store_object(&p, &inbox, NewObject::new(blob))
        .await
        .unwrap();
    let (object, _) = store.fetch_object(&p, &inbox, 1).await.unwrap();
    assert!(!blob_path(dir.path(), &object).exists());
    assert_eq!(records(&engine, &object), 5);
    let selected = store.select_folder(&p, &inbox).await.unwrap();
    let held = store.open_view(selected.folder.id, 0);
    store.remove_objects(&p, &inbox, &[1]).await.unwrap();
    store.close().await;
    drop(held);
    // Its count is gone; its content and other records stay for the view.
    assert_eq!(records(&engine, &object), 4);
    drop(store);
    drop(engine);
    let (engine, store) = open();
    assert_eq!(
        records(&engine, &object),
        0,
        "the sweep at open removes the records no count keeps"
    );
    store.close().await;
}
