//! Object numbers (format 8, the NMS objectId): a number finds its
//! object where it is now, through a move and the rename of INBOX, and
//! not after its removal; a copy is another object with a number of its
//! own, though it keeps the EMAILID; a number is found only in its own
//! account and by those who may read it; a store of format 7 gets numbers
//! at open.

mod common;

use std::sync::Arc;

use store_core::engine::{Engine, RedbEngine, WriteBatch};
use store_core::rights::Rights;
use store_core::{keys, AclMode, FolderRef, NewObject, Principal, Store, StoreConfig, StoreError};

fn message(n: usize) -> Vec<u8> {
    format!("From: a@example.com\r\nSubject: message {n}\r\n\r\nbody {n}\r\n").into_bytes()
}

async fn number(store: &Store, p: &Principal, folder: &str, uid: u32) -> u64 {
    store
        .object_number(p, &FolderRef::own(folder), uid)
        .await
        .unwrap()
}

fn missing(r: Result<(FolderRef, u32), StoreError>) -> bool {
    matches!(r, Err(StoreError::NoSuchObject))
}

#[tokio::test]
async fn an_object_number_follows_its_object_and_goes_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    store.create_account("bob", None, "pw").await.unwrap();
    let alice = store.trusted_element("alice").await.unwrap();
    let bob = store.trusted_element("bob").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    for name in ["Kept", "Bin"] {
        store
            .create_folder(&alice, &FolderRef::own(name), None)
            .await
            .unwrap();
    }
    for n in 1..=3 {
        let blob = store.stage_bytes(&message(n)).await.unwrap();
        store
            .store_object(&alice, &inbox, NewObject::new(blob))
            .await
            .unwrap();
    }
    let numbers = [
        number(&store, &alice, "INBOX", 1).await,
        number(&store, &alice, "INBOX", 2).await,
        number(&store, &alice, "INBOX", 3).await,
    ];
    assert!(numbers[0] < numbers[1] && numbers[1] < numbers[2]);
    assert_eq!(
        store.locate_object(&alice, None, numbers[0]).await.unwrap(),
        (inbox.clone(), 1)
    );

    // A move keeps the number: it is found in the new folder.
    let moved = store
        .move_objects(&alice, &inbox, &[1], &FolderRef::own("Kept"))
        .await
        .unwrap();
    let archived = moved.uids[0].1;
    assert_eq!(
        store.locate_object(&alice, None, numbers[0]).await.unwrap(),
        (FolderRef::own("Kept"), archived)
    );
    assert_eq!(number(&store, &alice, "Kept", archived).await, numbers[0]);

    // A copy is another object: a number of its own, the same EMAILID.
    let copied = store
        .copy_objects(&alice, &inbox, &[2], &FolderRef::own("Bin"))
        .await
        .unwrap();
    let copy_uid = copied.uids[0].1;
    let copy = number(&store, &alice, "Bin", copy_uid).await;
    assert!(!numbers.contains(&copy));
    let email_id = |folder: &'static str, uid: u32| {
        let (store, alice) = (store.clone(), alice.clone());
        async move {
            let (o, _) = store
                .fetch_object(&alice, &FolderRef::own(folder), uid)
                .await
                .unwrap();
            o.email_id
        }
    };
    assert_eq!(email_id("Bin", copy_uid).await, email_id("INBOX", 2).await);
    assert_eq!(
        store.locate_object(&alice, None, numbers[1]).await.unwrap(),
        (inbox.clone(), 2)
    );
    assert_eq!(
        store.locate_object(&alice, None, copy).await.unwrap(),
        (FolderRef::own("Bin"), copy_uid)
    );

    // Another account does not find it, under its own name or alice's,
    // until alice lets bob read the folder.
    assert!(missing(store.locate_object(&bob, None, numbers[1]).await));
    assert!(missing(
        store.locate_object(&bob, Some("alice"), numbers[1]).await
    ));
    store
        .set_acl(
            &alice,
            &inbox,
            "bob",
            Rights::parse("lr").unwrap(),
            AclMode::Replace,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .locate_object(&bob, Some("alice"), numbers[1])
            .await
            .unwrap(),
        (FolderRef::of("alice", "INBOX"), 2)
    );
    assert!(missing(store.locate_object(&bob, None, numbers[1]).await));

    // Renaming INBOX moves its objects, numbers and all.
    store
        .rename_folder(&alice, &inbox, &FolderRef::own("Old"))
        .await
        .unwrap();
    let (folder, uid) = store.locate_object(&alice, None, numbers[2]).await.unwrap();
    assert_eq!(folder, FolderRef::own("Old"));
    assert_eq!(number(&store, &alice, "Old", uid).await, numbers[2]);

    // Removed: expunged, or with its folder.
    store
        .remove_objects(&alice, &FolderRef::own("Old"), &[uid])
        .await
        .unwrap();
    assert!(missing(store.locate_object(&alice, None, numbers[2]).await));
    store
        .remove_folder(&alice, &FolderRef::own("Bin"))
        .await
        .unwrap();
    assert!(missing(store.locate_object(&alice, None, copy).await));
    assert!(missing(store.locate_object(&alice, None, u64::MAX).await));
    // A new object never reuses a number.
    let blob = store.stage_bytes(&message(9)).await.unwrap();
    let stored = store
        .store_object(&alice, &FolderRef::own("Kept"), NewObject::new(blob))
        .await
        .unwrap();
    let newest = number(&store, &alice, "Kept", stored.uid).await;
    assert!(newest > copy);
    store.close().await;
}

#[tokio::test]
async fn a_format_7_store_gets_object_numbers_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        store.create_account("alice", None, "pw").await.unwrap();
        let p = store.trusted_element("alice").await.unwrap();
        for n in 1..=3 {
            let blob = common::stage_file(&store, &message(n)).await;
            store
                .store_object(&p, &FolderRef::own("INBOX"), NewObject::new(blob))
                .await
                .unwrap();
        }
        store.close().await;
    }
    {
        // As format 7 left it: no object numbers, no counter.
        let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
        let snapshot = engine.snapshot().unwrap();
        let mut batch = WriteBatch::new();
        for prefix in [[0x29u8], [0x2A]] {
            for key in snapshot.scan_keys(&prefix, &prefix, usize::MAX).unwrap() {
                batch.insert(key, None);
            }
        }
        assert_eq!(batch.len(), 6);
        batch.insert(keys::counter("objectnumber"), None);
        batch.insert(
            keys::counter("format"),
            Some(postcard::to_stdvec(&7u64).unwrap()),
        );
        drop(snapshot);
        engine.commit(batch).unwrap();
    }
    let engine = Arc::new(RedbEngine::open(&dir.path().join("store.redb")).unwrap());
    let store = Store::open_with_engine(StoreConfig::new(dir.path()), engine).unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    for uid in 1..=3 {
        let n = number(&store, &p, "INBOX", uid).await;
        assert_eq!(n, u64::from(uid), "numbered in key order");
        assert_eq!(
            store.locate_object(&p, None, n).await.unwrap(),
            (FolderRef::own("INBOX"), uid)
        );
    }
    // The counter goes on from there.
    let blob = store.stage_bytes(&message(4)).await.unwrap();
    store
        .store_object(&p, &FolderRef::own("INBOX"), NewObject::new(blob))
        .await
        .unwrap();
    assert_eq!(number(&store, &p, "INBOX", 4).await, 4);
    store.close().await;
}

#[tokio::test]
async fn removed_objects_are_vanished_and_new_ones_are_created_after_a_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    store.create_account("bob", None, "pw").await.unwrap();
    let alice = store.trusted_element("alice").await.unwrap();
    let bob = store.trusted_element("bob").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    let other = FolderRef::own("Other");
    store.create_folder(&alice, &other, None).await.unwrap();
    for n in 1..=4 {
        let blob = store.stage_bytes(&message(n)).await.unwrap();
        store
            .store_object(&alice, &inbox, NewObject::new(blob))
            .await
            .unwrap();
    }
    // Bob's objects are numbered in between, and never listed for Alice.
    let blob = store.stage_bytes(&message(9)).await.unwrap();
    store
        .store_object(&bob, &inbox, NewObject::new(blob))
        .await
        .unwrap();
    let numbers = [
        number(&store, &alice, "INBOX", 1).await,
        number(&store, &alice, "INBOX", 2).await,
        number(&store, &alice, "INBOX", 3).await,
        number(&store, &alice, "INBOX", 4).await,
    ];
    let (created, resume, more) = store.objects_created_after(&alice, 0, 10).await.unwrap();
    let listed: Vec<u64> = created.iter().map(|c| c.2).collect();
    assert_eq!(listed, numbers);
    assert!(!more);
    assert!(resume > numbers[3], "the cursor passes Bob's object too");
    let (created, _, more) = store
        .objects_created_after(&alice, numbers[1], 1)
        .await
        .unwrap();
    assert_eq!(
        created.iter().map(|c| c.2).collect::<Vec<_>>(),
        [numbers[2]]
    );
    assert!(more);
    // A move is not a removal; an expunge is, and a copy is a creation.
    store
        .move_objects(&alice, &inbox, &[1], &other)
        .await
        .unwrap();
    store.remove_objects(&alice, &inbox, &[2, 3]).await.unwrap();
    let vanished = store.vanished_objects(&alice, 0, 10).await.unwrap();
    let gone: Vec<u64> = vanished.iter().map(|v| v.number).collect();
    assert_eq!(gone, [numbers[1], numbers[2]]);
    assert!(vanished.iter().all(|v| v.uid == 2 || v.uid == 3));
    assert!(store
        .vanished_objects(&bob, 0, 10)
        .await
        .unwrap()
        .is_empty());
    let after = vanished[0].modseq;
    let later = store.vanished_objects(&alice, after, 10).await.unwrap();
    assert!(later.iter().all(|v| v.modseq > after));
    store
        .copy_objects(&alice, &inbox, &[4], &other)
        .await
        .unwrap();
    let (created, _, _) = store
        .objects_created_after(&alice, resume, 10)
        .await
        .unwrap();
    assert_eq!(created.len(), 1, "the copy is a new object");
    assert!(created[0].2 > resume);
}
