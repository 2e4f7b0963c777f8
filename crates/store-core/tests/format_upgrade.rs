//! A store written in format 1 (the body text inside each blob summary)
//! opens under this build: its summaries are upgraded once, FETCH and
//! SEARCH BODY see what they saw before, and a store of a newer format is
//! refused.

use std::sync::Arc;

use store_core::engine::{Engine, RedbEngine, WriteBatch};
use store_core::search::SearchKey;
use store_core::{keys, FolderRef, NewObject, Store, StoreConfig, StoreError};

const MESSAGE: &[u8] = b"Subject: old times\r\n\r\nthe quick brown fox\r\n";

/// Stores one message with this build, closes the store, then rewrites
/// its records as format 1 wrote them.
async fn make_format_1_store(dir: &std::path::Path) {
    let store = Store::open(StoreConfig::new(dir)).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.principal_for("alice").await.unwrap();
    let blob = store.stage_bytes(MESSAGE).await.unwrap();
    store
        .store_object(&p, &FolderRef::own("INBOX"), NewObject::new(blob))
        .await
        .unwrap();
    store.close().await;
    drop(store);

    let engine = RedbEngine::open(&dir.join("store.redb")).unwrap();
    let snapshot = engine.snapshot().unwrap();
    let prefix = keys::blob_summaries();
    let summaries = snapshot.scan(&prefix, &prefix, usize::MAX).unwrap();
    assert_eq!(summaries.len(), 1);
    let mut batch = WriteBatch::new();
    for (key, v2) in summaries {
        let text_key = [&[0x42u8][..], &key[1..]].concat();
        let text = snapshot.get(&text_key).unwrap().expect("a body text");
        // Format 1 is format 2's summary with the text (a postcard string)
        // before the last field, the `complete` flag (one byte).
        let (fields, complete) = v2.split_at(v2.len() - 1);
        let text = String::from_utf8(text).unwrap();
        let v1 = [fields, &postcard::to_stdvec(&text).unwrap(), complete].concat();
        batch.insert(key, Some(v1));
        batch.insert(text_key, None);
    }
    batch.insert(keys::counter("format"), None);
    engine.commit(batch).unwrap();
}

#[tokio::test]
async fn a_format_1_store_is_upgraded_and_reads_as_before() {
    let dir = tempfile::tempdir().unwrap();
    make_format_1_store(dir.path()).await;

    let engine = Arc::new(RedbEngine::open(&dir.path().join("store.redb")).unwrap());
    let store = Store::open_with_engine(StoreConfig::new(dir.path()), engine.clone()).unwrap();
    let p = store.principal_for("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    let (_, summary) = store.fetch_object(&p, &inbox, 1).await.unwrap();
    assert!(summary.complete);
    assert_eq!(summary.header("Subject"), Some("old times"));
    let found = |word: &str| SearchKey::Body(word.to_string());
    assert_eq!(
        store.search(&p, &inbox, &found("brown")).await.unwrap(),
        [1]
    );
    assert!(store
        .search(&p, &inbox, &found("zebra"))
        .await
        .unwrap()
        .is_empty());
    store.close().await;
}

#[tokio::test]
async fn a_store_of_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.close().await;
    drop(store);
    let engine = Arc::new(RedbEngine::open(&dir.path().join("store.redb")).unwrap());
    let mut batch = WriteBatch::new();
    batch.insert(
        keys::counter("format"),
        Some(postcard::to_stdvec(&99u64).unwrap()),
    );
    engine.commit(batch).unwrap();
    match Store::open_with_engine(StoreConfig::new(dir.path()), engine) {
        Err(StoreError::Corrupt(reason)) => assert!(reason.contains("format 99"), "{reason}"),
        other => panic!("a newer format opened: {:?}", other.err()),
    }
}
