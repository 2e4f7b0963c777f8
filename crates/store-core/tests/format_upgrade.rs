//! A store written in format 1 (the body text inside each blob summary)
//! opens under this build: its summaries are upgraded once, FETCH and
//! SEARCH BODY see what they saw before, and a store of a newer format is
//! refused. A store of format 2 (no object ids, save dates or folder
//! sizes) gets them, also when an earlier upgrade was cut short. A store
//! of format 3 gets every summary, body text and preview made again from
//! content (format 4), whatever its stored summaries hold. A store of
//! format 6 gets each blob's records moved side by side (format 7).

mod common;

use std::sync::Arc;

use serde::Serialize;
use store_core::blob::BlobId;
use store_core::engine::{Engine, RedbEngine, WriteBatch};
use store_core::model::{Folder, Object};
use store_core::search::SearchKey;
use store_core::{keys, FolderRef, NewObject, Store, StoreConfig, StoreError};

const MESSAGE: &[u8] = b"Subject: old times\r\n\r\nthe quick brown fox\r\n";

/// Stores one message with this build, closes the store, then rewrites
/// its records as format 1 wrote them.
async fn make_format_1_store(dir: &std::path::Path) {
    let store = Store::open(StoreConfig::new(dir)).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let blob = common::stage_file(&store, MESSAGE).await;
    store
        .store_object(&p, &FolderRef::own("INBOX"), NewObject::new(blob))
        .await
        .unwrap();
    store.close().await;
    drop(store);

    let engine = RedbEngine::open(&dir.join("store.redb")).unwrap();
    common::to_legacy_blob_layout(&engine);
    let snapshot = engine.snapshot().unwrap();
    let prefix = [0x41u8];
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
    drop(snapshot);
    downgrade_to_format_2(&engine, 0, None);
}

/// [`Folder`] as format 2 wrote it (no `size`).
#[derive(Serialize)]
struct FolderV2 {
    id: u64,
    owner: u64,
    name: String,
    uid_validity: u32,
    uid_next: u32,
    highest_modseq: u64,
    special_use: Option<store_core::model::SpecialUse>,
    acl: std::collections::BTreeMap<String, store_core::rights::Rights>,
    objects: u32,
    unseen: u32,
}

/// [`Object`] as format 2 wrote it (no ids, no save date).
#[derive(Serialize)]
struct ObjectV2 {
    uid: u32,
    modseq: u64,
    flags: store_core::model::Flags,
    internal_date: i64,
    size: u64,
    blob: store_core::blob::BlobId,
    kind: store_core::model::ObjectKind,
    cpm: store_core::model::CpmHeaders,
    file_name: Option<String>,
}

/// Rewrites folder and object records as format 2 wrote them, except the
/// first `keep` objects (an upgrade cut short after them, its cursor
/// `cursor`); stamps the store as format 2 unless it is format 1.
fn downgrade_to_format_2(engine: &RedbEngine, keep: usize, cursor: Option<Vec<u8>>) {
    let snapshot = engine.snapshot().unwrap();
    let mut batch = WriteBatch::new();
    for (key, value) in snapshot.scan(&[0x10], &[0x10], usize::MAX).unwrap() {
        if keep > 0 {
            break;
        }
        let f: Folder = postcard::from_bytes(&value).unwrap();
        let old = FolderV2 {
            id: f.id,
            owner: f.owner,
            name: f.name,
            uid_validity: f.uid_validity,
            uid_next: f.uid_next,
            highest_modseq: f.highest_modseq,
            special_use: f.special_use,
            acl: f.acl,
            objects: f.objects,
            unseen: f.unseen,
        };
        batch.insert(key, Some(postcard::to_stdvec(&old).unwrap()));
    }
    let objects = snapshot.scan(&[0x20], &[0x20], usize::MAX).unwrap();
    for (key, value) in objects.into_iter().skip(keep) {
        let o: Object = postcard::from_bytes(&value).unwrap();
        let old = ObjectV2 {
            uid: o.uid,
            modseq: o.modseq,
            flags: o.flags,
            internal_date: o.internal_date,
            size: o.size,
            blob: o.blob,
            kind: o.kind,
            cpm: o.cpm,
            file_name: o.file_name,
        };
        batch.insert(key, Some(postcard::to_stdvec(&old).unwrap()));
    }
    if keep == 0 {
        // Format 2 kept no previews.
        for (key, _) in snapshot.scan(&[0x43], &[0x43], usize::MAX).unwrap() {
            batch.insert(key, None);
        }
    }
    for (key, _) in snapshot.scan(&[0x24], &[0x24], usize::MAX).unwrap() {
        // The first object's (kept) thread index entry stays with it.
        if keep == 0 || !key.ends_with(b"a@x") {
            batch.insert(key, None);
        }
    }
    if snapshot.get(&keys::counter("format")).unwrap().is_some() {
        batch.insert(
            keys::counter("format"),
            Some(postcard::to_stdvec(&2u64).unwrap()),
        );
    }
    batch.insert(keys::counter("format-upgrade"), cursor);
    engine.commit(batch).unwrap();
}

/// A reply chain of three (RFC 5322 3.6.4 fields) and one message alone,
/// the first two in INBOX, the others in `Later`.
const CHAIN: [&[u8]; 4] = [
    b"Message-ID: <a@x>\r\nSubject: start\r\n\r\nfirst\r\n",
    b"Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nReferences: <a@x>\r\n\r\nsecond\r\n",
    b"Message-ID: <c@x>\r\nReferences: <a@x> <b@x>\r\n\r\nthird\r\n",
    b"Message-ID: <z@x>\r\nSubject: alone\r\n\r\nother\r\n",
];

/// Stores [`CHAIN`] with this build and closes the store.
async fn store_chain(dir: &std::path::Path) {
    let store = Store::open(StoreConfig::new(dir)).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    store
        .create_folder(&p, &FolderRef::own("Later"), None)
        .await
        .unwrap();
    for (i, raw) in CHAIN.iter().enumerate() {
        let folder = FolderRef::own(if i < 2 { "INBOX" } else { "Later" });
        let blob = common::stage_file(&store, raw).await;
        store
            .store_object(&p, &folder, NewObject::new(blob))
            .await
            .unwrap();
    }
    store.close().await;
}

/// Opens the store in `dir` and returns every object of [`CHAIN`], in
/// order, and the folders' sizes.
async fn read_chain(dir: &std::path::Path) -> (Vec<Object>, Vec<u64>) {
    let store = Store::open(StoreConfig::new(dir)).unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let mut objects = Vec::new();
    let mut sizes = Vec::new();
    for (name, uids) in [("INBOX", [1, 2]), ("Later", [1, 2])] {
        let folder = FolderRef::own(name);
        for uid in uids {
            objects.push(store.fetch_object(&p, &folder, uid).await.unwrap().0);
        }
        sizes.push(store.folder_status(&p, &folder).await.unwrap().0.size);
    }
    store.close().await;
    (objects, sizes)
}

fn assert_ids(objects: &[Object], sizes: &[u64]) {
    let ids: std::collections::BTreeSet<u64> = objects.iter().map(|o| o.email_id).collect();
    assert_eq!(ids.len(), 4, "every object has its own EMAILID");
    let root = objects[0].email_id;
    for o in &objects[..3] {
        assert_eq!(o.thread_id, root, "the reply chain is one thread");
    }
    assert_eq!(objects[3].thread_id, objects[3].email_id);
    let size = |r: &[&[u8]]| r.iter().map(|m| m.len() as u64).sum::<u64>();
    assert_eq!(sizes, [size(&CHAIN[..2]), size(&CHAIN[2..])]);
}

#[tokio::test]
async fn a_format_2_store_gets_object_ids_save_dates_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    store_chain(dir.path()).await;
    let (before, _) = read_chain(dir.path()).await;
    assert!(before.iter().all(|o| o.save_date.is_some()));
    {
        let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
        downgrade_to_format_2(&engine, 0, None);
    }
    let (objects, sizes) = read_chain(dir.path()).await;
    assert_ids(&objects, &sizes);
    assert!(objects.iter().all(|o| o.save_date.is_none()));
    // The ids given stand: a second opening changes nothing.
    let (again, _) = read_chain(dir.path()).await;
    let ids = |v: &[Object]| {
        v.iter()
            .map(|o| (o.email_id, o.thread_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&again), ids(&objects));

    // RFC 8970: format 2 kept no previews; format 4 made them from
    // content, so even LAZY has one.
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(lazy_preview(&store, 1).await.as_deref(), Some("first"));
    store.close().await;
}

#[tokio::test]
async fn an_upgrade_cut_short_resumes_after_its_cursor() {
    let dir = tempfile::tempdir().unwrap();
    store_chain(dir.path()).await;
    let (before, _) = read_chain(dir.path()).await;
    {
        // Folders and the first object were upgraded when it stopped.
        let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
        let first = engine
            .snapshot()
            .unwrap()
            .scan(&[0x20], &[0x20], 1)
            .unwrap();
        downgrade_to_format_2(&engine, 1, Some(first[0].0.clone()));
    }
    let (objects, sizes) = read_chain(dir.path()).await;
    assert_eq!(objects[0].email_id, before[0].email_id, "kept, not redone");
    assert!(objects[0].save_date.is_some(), "kept, not redone");
    assert_ids(&objects, &sizes);
}

#[tokio::test]
async fn a_format_1_store_is_upgraded_and_reads_as_before() {
    let dir = tempfile::tempdir().unwrap();
    make_format_1_store(dir.path()).await;

    let engine = Arc::new(RedbEngine::open(&dir.path().join("store.redb")).unwrap());
    let store = Store::open_with_engine(StoreConfig::new(dir.path()), engine.clone()).unwrap();
    let p = store.trusted_element("alice").await.unwrap();
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

/// The RFC 8970 preview of alice's INBOX message `uid` as FETCH
/// (PREVIEW (LAZY)) gets it: only if the store already holds it.
async fn lazy_preview(store: &Store, uid: u32) -> Option<String> {
    let p = store.trusted_element("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    store.object_preview(&p, &inbox, uid, true).await.unwrap()
}

/// Multipart content whose summary the mime fixes changed (a nested part,
/// parameters) and whose From has a source route (RFC 5322 4.4).
const NESTED: &[u8] = b"From: <@relay.org,@hop.net:joe@example.com>\r\n\
Subject: nested\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n\
--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n\
--i\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain words\r\n\
--i\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--i--\r\n\
--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n\
--o--\r\n";

/// Makes a store with alice and `contents` in her INBOX (UIDs from 1),
/// closes it, and returns their blobs.
async fn store_in_inbox(dir: &std::path::Path, contents: &[&[u8]]) -> Vec<BlobId> {
    let store = Store::open(StoreConfig::new(dir)).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let mut blobs = Vec::new();
    for raw in contents {
        let blob = common::stage_file(&store, raw).await;
        blobs.push(blob.id);
        store
            .store_object(&p, &FolderRef::own("INBOX"), NewObject::new(blob))
            .await
            .unwrap();
    }
    store.close().await;
    blobs
}

#[tokio::test]
async fn a_format_3_store_gets_summaries_made_again_from_content() {
    let dir = tempfile::tempdir().unwrap();
    let contents: [&[u8]; 3] = [NESTED, MESSAGE, b"Subject: gone\r\n\r\nlost\r\n"];
    let blobs = store_in_inbox(dir.path(), &contents).await;
    {
        // As a format 3 build left it: a wrong (decodable) summary, text
        // and preview for the first blob, one this build cannot decode (an
        // older shape) for the second, and the third blob's file gone.
        let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
        let wrong = store_core::mime::MessageSummary {
            headers: vec![("Subject".into(), "wrong".into())],
            ..Default::default()
        };
        let mut batch = WriteBatch::new();
        common::to_legacy_blob_layout(&engine);
        let legacy = |kind: u8, id: &BlobId| [&[kind][..], &id.0].concat();
        batch.insert(
            legacy(0x41, &blobs[0]),
            Some(postcard::to_stdvec(&wrong).unwrap()),
        );
        batch.insert(legacy(0x42, &blobs[0]), Some(b"zebra".to_vec()));
        batch.insert(legacy(0x43, &blobs[0]), Some(b"wrong".to_vec()));
        batch.insert(legacy(0x41, &blobs[1]), Some(vec![0xff; 9]));
        batch.insert(
            keys::counter("format"),
            Some(postcard::to_stdvec(&3u64).unwrap()),
        );
        engine.commit(batch).unwrap();
    }
    let hex = blobs[2].to_hex();
    std::fs::remove_file(dir.path().join("blobs").join(&hex[..2]).join(&hex)).unwrap();

    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    for (uid, raw) in [(1, NESTED), (2, MESSAGE)] {
        let (_, summary) = store.fetch_object(&p, &inbox, uid).await.unwrap();
        assert_eq!(
            summary,
            store_core::mime::summarize(raw).summary,
            "uid {uid}"
        );
    }
    let (_, summary) = store.fetch_object(&p, &inbox, 1).await.unwrap();
    let from = &summary.envelope.from[0];
    assert_eq!(from.adl.as_deref(), Some("@relay.org,@hop.net"));
    assert_eq!(
        (from.mailbox.as_deref(), from.host.as_deref()),
        (Some("joe"), Some("example.com"))
    );
    let body = |word: &str| SearchKey::Body(word.to_string());
    assert_eq!(store.search(&p, &inbox, &body("plain")).await.unwrap(), [1]);
    assert_eq!(store.search(&p, &inbox, &body("brown")).await.unwrap(), [2]);
    assert!(store
        .search(&p, &inbox, &body("zebra"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        lazy_preview(&store, 1).await.as_deref(),
        Some("plain words")
    );
    // The blob whose file is gone did not stop the store: its object is
    // there, with an empty summary.
    let (object, summary) = store.fetch_object(&p, &inbox, 3).await.unwrap();
    assert_eq!(object.blob, blobs[2]);
    assert_eq!(summary, Default::default());
    store.close().await;
}

#[tokio::test]
async fn a_format_4_upgrade_cut_short_resumes_after_its_cursor() {
    let dir = tempfile::tempdir().unwrap();
    store_in_inbox(dir.path(), &[NESTED, MESSAGE]).await;
    {
        // Both summaries wrong, the store of format 3, and the upgrade
        // stopped after the first summary in key order.
        let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
        common::to_legacy_blob_layout(&engine);
        let prefix = [0x41u8];
        let summaries = engine
            .snapshot()
            .unwrap()
            .scan(&prefix, &prefix, usize::MAX)
            .unwrap();
        assert_eq!(summaries.len(), 2);
        let wrong = store_core::mime::summarize(b"Subject: wrong\r\n\r\nx\r\n").summary;
        let mut batch = WriteBatch::new();
        for (key, _) in &summaries {
            batch.insert(key.clone(), Some(postcard::to_stdvec(&wrong).unwrap()));
        }
        batch.insert(
            keys::counter("format"),
            Some(postcard::to_stdvec(&3u64).unwrap()),
        );
        batch.insert(
            keys::counter("format-upgrade"),
            Some(summaries[0].0.clone()),
        );
        engine.commit(batch).unwrap();
    }
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let mut subjects = Vec::new();
    for uid in [1, 2] {
        let (_, summary) = store
            .fetch_object(&p, &FolderRef::own("INBOX"), uid)
            .await
            .unwrap();
        subjects.push(summary.header("Subject").unwrap_or_default().to_string());
    }
    subjects.sort();
    // The one before the cursor is taken as done; the other is made again.
    let redone = ["nested", "old times"];
    assert_eq!(
        subjects.iter().filter(|s| *s == "wrong").count(),
        1,
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| redone.contains(&s.as_str())),
        "{subjects:?}"
    );
    store.close().await;
}

#[tokio::test]
async fn a_format_6_store_gets_each_blobs_records_side_by_side() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let small: &[u8] = b"Subject: small\r\n\r\nkept in the database\r\n";
    {
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        store.create_account("alice", None, "pw").await.unwrap();
        let p = store.trusted_element("alice").await.unwrap();
        let inbox = FolderRef::own("INBOX");
        let in_file = common::stage_file(&store, MESSAGE).await;
        store
            .store_object(&p, &inbox, NewObject::new(in_file))
            .await
            .unwrap();
        let inline = store.stage_bytes(small).await.unwrap();
        store
            .store_object(&p, &inbox, NewObject::new(inline))
            .await
            .unwrap();
        store.close().await;
    }
    let records = |engine: &RedbEngine, prefix: &[u8]| {
        engine
            .snapshot()
            .unwrap()
            .scan_keys(prefix, prefix, usize::MAX)
            .unwrap()
            .len()
    };
    {
        // As format 6 left it.
        let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
        let moved = records(&engine, &keys::blob_records());
        // Two reference counts, summaries and previews, two body texts
        // and the small blob's content.
        assert_eq!(moved, 9);
        common::to_legacy_blob_layout(&engine);
        let mut batch = WriteBatch::new();
        batch.insert(
            keys::counter("format"),
            Some(postcard::to_stdvec(&6u64).unwrap()),
        );
        engine.commit(batch).unwrap();
        assert_eq!(records(&engine, &keys::blob_records()), 0);
    }
    let engine = Arc::new(RedbEngine::open(&dir.path().join("store.redb")).unwrap());
    let store = Store::open_with_engine(StoreConfig::new(dir.path()), engine.clone()).unwrap();
    assert_eq!(records(&engine, &keys::blob_records()), 9);
    for legacy in 0x40..=0x44u8 {
        assert_eq!(records(&engine, &[legacy]), 0, "prefix {legacy:#x}");
    }
    let p = store.trusted_element("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    for (uid, raw, subject) in [(1, MESSAGE, "old times"), (2, small, "small")] {
        let (_, summary) = store.fetch_object(&p, &inbox, uid).await.unwrap();
        assert_eq!(summary.header("Subject"), Some(subject));
        let mut content = Vec::new();
        store
            .open_content(&p, &inbox, uid)
            .await
            .unwrap()
            .read_to_end(&mut content)
            .await
            .unwrap();
        assert_eq!(content, raw);
    }
    let body = |word: &str| SearchKey::Body(word.to_string());
    assert_eq!(store.search(&p, &inbox, &body("brown")).await.unwrap(), [1]);
    assert_eq!(
        store.search(&p, &inbox, &body("database")).await.unwrap(),
        [2]
    );
    // Reference counts moved too: removing the small message's last
    // reference removes its five records; the other message keeps its
    // four.
    store.remove_objects(&p, &inbox, &[2]).await.unwrap();
    store.close().await;
    assert_eq!(records(&engine, &keys::blob_records()), 4);
}
