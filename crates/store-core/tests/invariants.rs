//! The invariants issue 2 names, checked through store-core's public API.

use std::sync::atomic::Ordering;

use store_core::model::Flags;
use store_core::rights::Rights;
use store_core::search::SearchKey;
use store_core::{AclMode, FlagUpdate, FolderRef, NewObject, Store, StoreConfig, StoreError};

fn message(n: usize) -> Vec<u8> {
    format!("From: a@example.com\r\nSubject: message {n}\r\nIMDN-Message-ID: imdn-{n}\r\n\r\nbody {n}\r\n").into_bytes()
}

async fn open(dir: &std::path::Path) -> Store {
    Store::open(StoreConfig::new(dir)).unwrap()
}

/// A new store in a temp dir with the account `alice` (password `pw`).
async fn with_alice() -> (tempfile::TempDir, Store, store_core::Principal) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    (dir, store, p)
}

async fn append(
    store: &Store,
    p: &store_core::Principal,
    folder: &str,
    n: usize,
) -> store_core::StoredObject {
    let blob = store.stage_bytes(&message(n)).await.unwrap();
    store
        .store_object(p, &FolderRef::own(folder), NewObject::new(blob))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uids_increase_and_are_never_reused_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = FolderRef::own("INBOX");
    let (validity, last) = {
        let store = open(dir.path()).await;
        store.create_account("alice", None, "pw").await.unwrap();
        let p = store.trusted_element("alice").await.unwrap();
        let mut last = 0;
        for n in 0..5 {
            let s = append(&store, &p, "INBOX", n).await;
            assert!(s.uid > last, "UID {} after {}", s.uid, last);
            last = s.uid;
        }
        // Expunge the highest UID: it must still never be handed out again.
        store.remove_objects(&p, &inbox, &[last]).await.unwrap();
        store.close().await;
        (
            store
                .folder_status(&p, &inbox)
                .await
                .unwrap()
                .0
                .uid_validity,
            last,
        )
    };
    let store = open(dir.path()).await;
    let p = store.trusted_element("alice").await.unwrap();
    let s = append(&store, &p, "INBOX", 9).await;
    assert_eq!(s.uid_validity, validity);
    assert_eq!(s.uid, last + 1);
    let sel = store.select_folder(&p, &inbox).await.unwrap();
    assert_eq!(sel.uids.len(), 5);
    assert_eq!(sel.folder.uid_next, last + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modseq_increases_and_vanished_uids_are_reported_since_any_older_modseq() {
    let (_dir, store, p) = with_alice().await;
    let inbox = FolderRef::own("INBOX");
    let mut modseqs = vec![
        store
            .folder_status(&p, &inbox)
            .await
            .unwrap()
            .0
            .highest_modseq,
    ];
    let mut uids = Vec::new();
    for n in 0..6 {
        let s = append(&store, &p, "INBOX", n).await;
        uids.push(s.uid);
        modseqs.push(s.modseq);
    }
    let flagged = store
        .update_flags(
            &p,
            &inbox,
            &[uids[0]],
            FlagUpdate::Add(["\\Seen"].iter().collect()),
            None,
        )
        .await
        .unwrap();
    modseqs.push(flagged.updated[0].1);
    let removed = store
        .remove_objects(&p, &inbox, &[uids[1], uids[3]])
        .await
        .unwrap();
    assert_eq!(removed, vec![uids[1], uids[3]]);
    let after_remove = store
        .folder_status(&p, &inbox)
        .await
        .unwrap()
        .0
        .highest_modseq;
    modseqs.push(after_remove);
    assert!(
        modseqs.windows(2).all(|w| w[0] < w[1]),
        "MODSEQs not increasing: {modseqs:?}"
    );
    for since in 0..after_remove {
        let changes = store.changes_since(&p, &inbox, since).await.unwrap();
        assert_eq!(changes.vanished, vec![uids[1], uids[3]], "since {since}");
    }
    assert!(store
        .changes_since(&p, &inbox, after_remove)
        .await
        .unwrap()
        .vanished
        .is_empty());
    // The flag change is seen with its MODSEQ.
    let changed = store
        .changes_since(&p, &inbox, modseqs[6])
        .await
        .unwrap()
        .changed;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].uid, uids[0]);
    assert!(changed[0].flags.contains("\\seen"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_appends_get_distinct_uids_and_lose_nothing() {
    let (_dir, store, p) = with_alice().await;
    let mut tasks = Vec::new();
    for n in 0..32 {
        let (store, p) = (store.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            append(&store, &p, "INBOX", n).await.uid
        }));
    }
    let mut uids = Vec::new();
    for t in tasks {
        uids.push(t.await.unwrap());
    }
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 32);
    let sel = store
        .select_folder(&p, &FolderRef::own("INBOX"))
        .await
        .unwrap();
    assert_eq!(sel.uids.len(), 32);
    // Every object's content came through intact.
    for uid in uids {
        let (_, summary) = store
            .fetch_object(&p, &FolderRef::own("INBOX"), uid)
            .await
            .unwrap();
        assert!(summary.header("Subject").unwrap().starts_with("message "));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_account_sees_nothing_without_a_grant_and_exactly_the_grant_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.create_account("alice", None, "pw").await.unwrap();
    store.create_account("bob", None, "pw").await.unwrap();
    let alice = store.trusted_element("alice").await.unwrap();
    let bob = store.trusted_element("bob").await.unwrap();
    store
        .create_folder(&alice, &FolderRef::own("Public"), None)
        .await
        .unwrap();
    let uid = append(&store, &alice, "Public", 1).await.uid;
    let shared = FolderRef::of("alice", "Public");
    let inbox = FolderRef::of("alice", "INBOX");

    assert!(store
        .list_folders(&bob)
        .await
        .unwrap()
        .iter()
        .all(|f| f.owner.is_none()));
    for f in [&shared, &inbox] {
        assert!(matches!(
            store.select_folder(&bob, f).await,
            Err(StoreError::NoSuchFolder)
        ));
        assert!(matches!(
            store.fetch_object(&bob, f, uid).await,
            Err(StoreError::NoSuchFolder)
        ));
    }
    // Same answer as for a folder that does not exist at all.
    assert!(matches!(
        store
            .select_folder(&bob, &FolderRef::of("alice", "Nope"))
            .await,
        Err(StoreError::NoSuchFolder)
    ));

    store
        .set_acl(
            &alice,
            &FolderRef::own("Public"),
            "bob",
            Rights::parse("lr").unwrap(),
            AclMode::Replace,
        )
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_folders(&bob)
        .await
        .unwrap()
        .into_iter()
        .filter(|f| f.owner.is_some())
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].folder.name, "Public");
    assert_eq!(listed[0].rights.to_string(), "lr");
    assert_eq!(
        store.select_folder(&bob, &shared).await.unwrap().uids.len(),
        1
    );
    store.fetch_object(&bob, &shared, uid).await.unwrap();
    // Read, but not insert, flag, expunge or administer.
    let blob = store.stage_bytes(&message(7)).await.unwrap();
    assert!(matches!(
        store
            .store_object(&bob, &shared, NewObject::new(blob))
            .await,
        Err(StoreError::PermissionDenied(_))
    ));
    let seen: Flags = ["\\Seen"].iter().collect();
    assert!(matches!(
        store
            .update_flags(&bob, &shared, &[uid], FlagUpdate::Add(seen), None)
            .await,
        Err(StoreError::PermissionDenied(_))
    ));
    assert!(matches!(
        store.remove_objects(&bob, &shared, &[uid]).await,
        Err(StoreError::PermissionDenied(_))
    ));
    assert!(matches!(
        store.get_acl(&bob, &shared).await,
        Err(StoreError::PermissionDenied(_))
    ));
    // INBOX is still invisible.
    assert!(matches!(
        store.select_folder(&bob, &inbox).await,
        Err(StoreError::NoSuchFolder)
    ));
    // Revoked: gone again.
    store
        .delete_acl(&alice, &FolderRef::own("Public"), "bob")
        .await
        .unwrap();
    assert!(matches!(
        store.select_folder(&bob, &shared).await,
        Err(StoreError::NoSuchFolder)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_follow_rfc3501_naming_rules() {
    let (_dir, store, p) = with_alice().await;
    assert!(matches!(
        store.remove_folder(&p, &FolderRef::own("inbox")).await,
        Err(StoreError::NotAllowed(_))
    ));
    assert!(matches!(
        store
            .create_folder(&p, &FolderRef::own("Inbox"), None)
            .await,
        Err(StoreError::FolderExists)
    ));
    store
        .create_folder(&p, &FolderRef::own("a/b/c"), None)
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_folders(&p)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.folder.name)
        .collect();
    for n in [
        "a", "a/b", "a/b/c", "INBOX", "Sent", "Drafts", "Trash", "Archive",
    ] {
        assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
    }
    store
        .rename_folder(&p, &FolderRef::own("a"), &FolderRef::own("x"))
        .await
        .unwrap();
    store
        .select_folder(&p, &FolderRef::own("x/b/c"))
        .await
        .unwrap();
    assert!(matches!(
        store.select_folder(&p, &FolderRef::own("a/b")).await,
        Err(StoreError::NoSuchFolder)
    ));

    // Renaming INBOX moves its objects and leaves it empty.
    append(&store, &p, "INBOX", 1).await;
    append(&store, &p, "inbox", 2).await;
    store
        .rename_folder(&p, &FolderRef::own("INBOX"), &FolderRef::own("Old"))
        .await
        .unwrap();
    assert_eq!(
        store
            .select_folder(&p, &FolderRef::own("INBOX"))
            .await
            .unwrap()
            .uids
            .len(),
        0
    );
    assert_eq!(
        store
            .select_folder(&p, &FolderRef::own("Old"))
            .await
            .unwrap()
            .uids
            .len(),
        2
    );
}

/// A message too large to be kept in the database: its blob is a file.
fn large_message(n: usize) -> Vec<u8> {
    let mut m = message(n);
    m.extend(std::iter::repeat_n(
        b'x',
        store_core::blob::MAX_INLINE as usize,
    ));
    m.extend_from_slice(b"\r\n");
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_shares_the_blob_and_the_blob_goes_with_its_last_reference() {
    let (dir, store, p) = with_alice().await;
    let blob = store.stage_bytes(&large_message(1)).await.unwrap();
    let s = store
        .store_object(&p, &FolderRef::own("INBOX"), NewObject::new(blob))
        .await
        .unwrap();
    let copied = store
        .copy_objects(
            &p,
            &FolderRef::own("INBOX"),
            &[s.uid],
            &FolderRef::own("Archive"),
        )
        .await
        .unwrap();
    let blobs = || walk(&dir.path().join("blobs"));
    assert_eq!(blobs(), 1);
    let moved = store
        .move_objects(
            &p,
            &FolderRef::own("Archive"),
            &[copied.uids[0].1],
            &FolderRef::own("Trash"),
        )
        .await
        .unwrap();
    assert_eq!(store.quota(&p).await.unwrap().objects, 2);
    store
        .remove_objects(&p, &FolderRef::own("INBOX"), &[s.uid])
        .await
        .unwrap();
    assert_eq!(blobs(), 1);
    store
        .remove_objects(&p, &FolderRef::own("Trash"), &[moved.uids[0].1])
        .await
        .unwrap();
    assert_eq!(blobs(), 0);
    assert_eq!(store.quota(&p).await.unwrap().bytes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_blob_is_kept_in_the_database_and_goes_with_its_last_reference() {
    use tokio::io::AsyncReadExt;
    let (dir, store, p) = with_alice().await;
    let inbox = FolderRef::own("INBOX");
    let s = append(&store, &p, "INBOX", 1).await;
    // No file: the bytes were committed with the record.
    assert_eq!(walk(&dir.path().join("blobs")), 0);
    let (object, summary) = store.fetch_object(&p, &inbox, s.uid).await.unwrap();
    assert_eq!(summary.header("Subject"), Some("message 1"));
    let read = |store: Store, folder: FolderRef, uid| async move {
        let mut bytes = Vec::new();
        let mut blob = store
            .open_content(&p_of(&store).await, &folder, uid)
            .await?;
        blob.read_to_end(&mut bytes).await?;
        Ok::<_, StoreError>(bytes)
    };
    assert_eq!(
        read(store.clone(), inbox.clone(), s.uid).await.unwrap(),
        message(1)
    );
    let copied = store
        .copy_objects(&p, &inbox, &[s.uid], &FolderRef::own("Archive"))
        .await
        .unwrap();
    let archived = copied.uids[0].1;

    // Durable: read again after a restart.
    store.close().await;
    drop(store);
    let store = open(dir.path()).await;
    let p = p_of(&store).await;
    assert_eq!(
        read(store.clone(), FolderRef::own("Archive"), archived)
            .await
            .unwrap(),
        message(1)
    );
    store.remove_objects(&p, &inbox, &[s.uid]).await.unwrap();
    assert!(store.open_blob(&object).await.is_ok(), "still referenced");
    store
        .remove_objects(&p, &FolderRef::own("Archive"), &[archived])
        .await
        .unwrap();
    assert!(
        store.open_blob(&object).await.is_err(),
        "gone with its last reference"
    );
    assert_eq!(walk(&dir.path().join("blobs")), 0);
}

async fn p_of(store: &Store) -> store_core::Principal {
    store.trusted_element("alice").await.unwrap()
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_quota_dedup_references_metadata_and_the_change_feed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store
        .create_account("alice", Some("sip:alice@example.com"), "pw")
        .await
        .unwrap();
    let local = store_core::throttle::LoginSource {
        remote: std::net::Ipv4Addr::LOCALHOST.into(),
        protocol: "test",
    };
    let p = store.authenticate(local, "alice", "pw").await.unwrap();
    assert!(matches!(
        store.authenticate(local, "alice", "nope").await,
        Err(StoreError::AuthenticationFailed)
    ));
    assert_eq!(
        store
            .account_by_address("sip:alice@example.com")
            .await
            .unwrap()
            .unwrap()
            .login,
        "alice"
    );
    let inbox = FolderRef::own("INBOX");
    let mut feed = store.subscribe_changes(&p);
    let a = append(&store, &p, "INBOX", 1).await;
    let change = feed.recv().await.unwrap();
    assert_eq!(change.modseq, a.modseq);
    append(&store, &p, "INBOX", 2).await;
    let hits = store
        .search(&p, &inbox, &SearchKey::Subject("MESSAGE 2".into()))
        .await
        .unwrap();
    assert_eq!(hits, vec![a.uid + 1]);
    // A deposit retried with the same IMDN-Message-ID is stored once.
    let mut again = NewObject::new(store.stage_bytes(&message(2)).await.unwrap());
    again.deduplicate = true;
    let dup = store.store_object(&p, &inbox, again).await.unwrap();
    assert!(dup.existing);
    assert_eq!(dup.uid, a.uid + 1);
    // Quota.
    store
        .set_quota(
            &store.administrator("alice").await.unwrap(),
            "alice",
            store_core::model::QuotaLimits {
                max_bytes: None,
                max_objects: Some(2),
            },
        )
        .await
        .unwrap();
    let blob = store.stage_bytes(&message(3)).await.unwrap();
    assert!(matches!(
        store.store_object(&p, &inbox, NewObject::new(blob)).await,
        Err(StoreError::OverQuota)
    ));
    // References: valid, then revoked.
    let (_, url) = store
        .generate_reference(
            &p,
            &inbox,
            a.uid,
            None,
            None,
            store_core::ReferenceAccess::Anonymous,
            store_core::ReferenceUrl::Built {
                host: "example.com".into(),
                folder: "INBOX".into(),
            },
        )
        .await
        .unwrap();
    let (_, object, _) = store.fetch_by_reference(None, &url).await.unwrap();
    assert_eq!(object.uid, a.uid);
    assert!(store.fetch_by_reference(None, "forged").await.is_err());
    // Only the URL generated (RFC 4467 3): an edited one is refused.
    let edited = url.replace("/INBOX;", "/Other;");
    assert!(store.fetch_by_reference(None, &edited).await.is_err());
    store.revoke_references(&p, &inbox).await.unwrap();
    assert!(matches!(
        store.fetch_by_reference(None, &url).await,
        Err(StoreError::InvalidReference)
    ));
    // Metadata on the folder and on an object.
    let target = store_core::MetadataTarget::Object(inbox.clone(), a.uid);
    store
        .set_metadata(
            &p,
            &target,
            vec![("/shared/comment".into(), Some(b"hi".to_vec()))],
        )
        .await
        .unwrap();
    let got = store
        .get_metadata(&p, &target, &["/shared".into()], Some(1))
        .await
        .unwrap();
    assert_eq!(got, vec![("/shared/comment".to_string(), b"hi".to_vec())]);
    assert!(store
        .set_metadata(&p, &target, vec![("bad".into(), None)])
        .await
        .is_err());
    // The persisted feed has every change since the start.
    let all = store.account_changes_since(&p, 0, 10_000).await.unwrap();
    assert!(all.windows(2).all(|w| w[0].modseq <= w[1].modseq));
    assert_eq!(
        all.last().unwrap().modseq,
        store.account_modseq(&p).await.unwrap()
    );
}

/// An engine whose commits take 50 ms, like a slow disk's fsync.
struct SlowDisk(store_core::engine::RedbEngine);

impl store_core::engine::Engine for SlowDisk {
    fn snapshot(
        &self,
    ) -> Result<Box<dyn store_core::engine::Snapshot>, store_core::engine::EngineError> {
        self.0.snapshot()
    }
    fn begin_write(
        &self,
    ) -> Result<Box<dyn store_core::engine::WriteTransaction + '_>, store_core::engine::EngineError>
    {
        Ok(Box::new(store_core::engine::SnapshotThenCommit::begin(
            self,
        )?))
    }
    fn commit(
        &self,
        batch: store_core::engine::WriteBatch,
    ) -> Result<(), store_core::engine::EngineError> {
        std::thread::sleep(std::time::Duration::from_millis(50));
        self.0.commit(batch)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_appends_share_a_few_commits() {
    let dir = tempfile::tempdir().unwrap();
    let engine = store_core::engine::RedbEngine::open(&dir.path().join("store.redb")).unwrap();
    let store = Store::open_with_engine(
        StoreConfig::new(dir.path()),
        std::sync::Arc::new(SlowDisk(engine)),
    )
    .unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    // Stage every content first, then store them all at once.
    let mut staged = Vec::new();
    for n in 0..50 {
        staged.push(store.stage_bytes(&message(n)).await.unwrap());
    }
    let before = store.commit_stats().commits.load(Ordering::Relaxed);
    let mut tasks = Vec::new();
    for blob in staged {
        let (store, p) = (store.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            store
                .store_object(&p, &FolderRef::own("INBOX"), NewObject::new(blob))
                .await
                .unwrap()
                .uid
        }));
    }
    let mut uids = Vec::new();
    for t in tasks {
        uids.push(t.await.unwrap());
    }
    let commits = store.commit_stats().commits.load(Ordering::Relaxed) - before;
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 50);
    // Each append waits for its commit; while one commit is on disk the
    // others queue and go together in the next.
    assert!(commits <= 10, "{commits} commits (fsyncs) for 50 appends");
    assert_eq!(
        store
            .select_folder(&p, &FolderRef::own("INBOX"))
            .await
            .unwrap()
            .uids
            .len(),
        50
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_ninety_percent_and_the_limit_of_a_quota_are_changes() {
    use store_core::model::{ChangeKind, QuotaLimits, QuotaResource};
    let (_dir, store, p) = with_alice().await;
    let limits = QuotaLimits {
        max_bytes: None,
        max_objects: Some(10),
    };
    store
        .set_quota(
            &store.administrator("alice").await.unwrap(),
            "alice",
            limits,
        )
        .await
        .unwrap();
    let mut feed = store.subscribe_changes(&p);
    let mut levels = Vec::new();
    for n in 0..10 {
        append(&store, &p, "INBOX", n).await;
    }
    while let Ok(change) = feed.try_recv() {
        if let ChangeKind::QuotaLevel {
            resource,
            percent,
            used,
            limit,
        } = change.kind
        {
            levels.push((resource, percent, used, limit));
        }
    }
    assert_eq!(
        levels,
        vec![
            (QuotaResource::Message, 90, 9, 10),
            (QuotaResource::Message, 100, 10, 10)
        ]
    );
    // The same levels are in the persisted feed.
    let persisted = store.account_changes_since(&p, 0, 1000).await.unwrap();
    let count = persisted
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::QuotaLevel { .. }))
        .count();
    assert_eq!(count, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_objects_stores_all_in_order_or_none() {
    let (_dir, store, p) = with_alice().await;
    let inbox = FolderRef::own("INBOX");
    let mut batch = Vec::new();
    for n in 0..3 {
        batch.push(NewObject::new(
            store.stage_bytes(&message(n)).await.unwrap(),
        ));
    }
    let stored = store.store_objects(&p, &inbox, batch).await.unwrap();
    let uids: Vec<u32> = stored.iter().map(|s| s.uid).collect();
    assert_eq!(uids, [1, 2, 3]);
    // Room for one more object only: a batch of two stores neither.
    store
        .set_quota(
            &store.administrator("alice").await.unwrap(),
            "alice",
            store_core::model::QuotaLimits {
                max_bytes: None,
                max_objects: Some(4),
            },
        )
        .await
        .unwrap();
    let mut batch = Vec::new();
    for n in 10..12 {
        batch.push(NewObject::new(
            store.stage_bytes(&message(n)).await.unwrap(),
        ));
    }
    let e = store.store_objects(&p, &inbox, batch).await.unwrap_err();
    assert!(matches!(e, StoreError::OverQuota), "{e:?}");
    let (folder, _) = store.folder_status(&p, &inbox).await.unwrap();
    assert_eq!(folder.uid_next, 4, "no UID was used");
    assert_eq!(store.quota(&p).await.unwrap().objects, 3);
}

/// RFC 3501 6.4.3: EXPUNGE removes the messages flagged `\Deleted`. A
/// client searches for them first; when another session clears the flag
/// before the removal commits, `expunge_deleted` keeps that message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expunge_keeps_a_message_whose_deleted_flag_was_cleared_since_the_search() {
    let (_dir, store, p) = with_alice().await;
    let inbox = FolderRef::own("INBOX");
    let uids: Vec<_> = [
        append(&store, &p, "INBOX", 1).await.uid,
        append(&store, &p, "INBOX", 2).await.uid,
    ]
    .to_vec();
    let deleted: Flags = ["\\Deleted"].iter().collect();
    store
        .update_flags(&p, &inbox, &uids, FlagUpdate::Add(deleted.clone()), None)
        .await
        .unwrap();
    let found = store
        .search(&p, &inbox, &SearchKey::Flag("\\Deleted".into()))
        .await
        .unwrap();
    assert_eq!(found, uids);
    // Another session's `STORE -FLAGS (\Deleted)` lands in between.
    store
        .update_flags(&p, &inbox, &uids[..1], FlagUpdate::Remove(deleted), None)
        .await
        .unwrap();
    let removed = store.expunge_deleted(&p, &inbox, &found).await.unwrap();
    assert_eq!(removed, uids[1..].to_vec());
    let left = store.select_folder(&p, &inbox).await.unwrap();
    assert_eq!(left.uids.iter().collect::<Vec<_>>(), uids[..1].to_vec());
}
