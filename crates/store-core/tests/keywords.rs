//! The keyword list of a folder (RFC 3501 7.2.6, `store/keywords.rs`):
//! it only grows, keeps keywords whose messages are gone, is unique
//! case-insensitively, follows INBOX's messages on RENAME, is reported
//! with a folder's changes only when the folder changed, and holds at
//! most [`MAX_FOLDER_KEYWORDS`]. A folder made before the list was kept
//! gets it from its messages.

use store_core::engine::{Engine, RedbEngine, WriteBatch};
use store_core::model::Flags;
use store_core::{keys, FlagUpdate, FolderRef, NewObject, Store, StoreConfig, StoreError};
use store_core::{Principal, MAX_FOLDER_KEYWORDS};

async fn with_alice() -> (tempfile::TempDir, Store, Principal) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    (dir, store, p)
}

async fn append(store: &Store, p: &Principal, flags: &[&str]) -> u32 {
    let blob = store
        .stage_bytes(b"From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n")
        .await
        .unwrap();
    let mut object = NewObject::new(blob);
    object.flags = flags.iter().collect();
    store
        .store_object(p, &FolderRef::own("INBOX"), object)
        .await
        .unwrap()
        .uid
}

async fn keywords(store: &Store, p: &Principal, folder: &str) -> Vec<String> {
    store
        .select_folder(p, &FolderRef::own(folder))
        .await
        .unwrap()
        .keywords
}

#[tokio::test]
async fn the_list_only_grows_and_follows_inbox_on_rename() {
    let (_dir, store, p) = with_alice().await;
    let inbox = FolderRef::own("INBOX");
    assert!(keywords(&store, &p, "INBOX").await.is_empty());
    let one = append(&store, &p, &["\\Seen", "$A"]).await;
    let since = store
        .select_folder(&p, &inbox)
        .await
        .unwrap()
        .folder
        .highest_modseq;
    let update = FlagUpdate::Add(["$B", "$a", "\\read-report-sent"].iter().collect::<Flags>());
    store
        .update_flags(&p, &inbox, &[one], update, None)
        .await
        .unwrap();
    store.remove_objects(&p, &inbox, &[one]).await.unwrap();
    // The message is gone, its keywords stay; `$a` is `$A`.
    let list = keywords(&store, &p, "INBOX").await;
    assert_eq!(list, ["$A", "$B", "\\read-report-sent"]);
    let changes = store.mail_changes_since(&p, &inbox, since).await.unwrap();
    assert_eq!(changes.keywords.as_deref(), Some(list.as_slice()));
    let now = changes.folder.highest_modseq;
    let changes = store.mail_changes_since(&p, &inbox, now).await.unwrap();
    assert_eq!(changes.keywords, None, "nothing changed, no list");

    append(&store, &p, &["$C"]).await;
    store
        .rename_folder(&p, &inbox, &FolderRef::own("Old"))
        .await
        .unwrap();
    assert_eq!(
        keywords(&store, &p, "Old").await,
        ["$A", "$B", "\\read-report-sent", "$C"]
    );
    store
        .create_folder(&p, &FolderRef::own("New"), None)
        .await
        .unwrap();
    assert!(keywords(&store, &p, "New").await.is_empty());
}

#[tokio::test]
async fn past_the_limit_a_new_keyword_is_refused_and_nothing_changes() {
    let (_dir, store, p) = with_alice().await;
    let inbox = FolderRef::own("INBOX");
    let uid = append(&store, &p, &[]).await;
    let many: Flags = (0..MAX_FOLDER_KEYWORDS).map(|i| format!("$K{i}")).collect();
    store
        .update_flags(&p, &inbox, &[uid], FlagUpdate::Add(many), None)
        .await
        .unwrap();
    let one_more = FlagUpdate::Add(["$Over"].iter().collect());
    let err = store.update_flags(&p, &inbox, &[uid], one_more, None).await;
    assert!(
        matches!(err, Err(StoreError::TooManyKeywords { .. })),
        "{err:?}"
    );
    let selected = store.select_folder(&p, &inbox).await.unwrap();
    assert_eq!(selected.keywords.len(), MAX_FOLDER_KEYWORDS);
    let states = store.changes_since(&p, &inbox, 0).await.unwrap().changed;
    assert!(!states[0].flags.contains("$Over"));
    // Keywords in use, and system flags, still go on.
    let again = FlagUpdate::Replace(["$K5", "\\Flagged"].iter().collect());
    store
        .update_flags(&p, &inbox, &[uid], again, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_folder_without_the_record_derives_it_from_its_messages_once() {
    let (dir, store, p) = with_alice().await;
    let inbox = FolderRef::own("INBOX");
    let one = append(&store, &p, &["$A"]).await;
    append(&store, &p, &["$B", "\\Seen"]).await;
    let id = store.select_folder(&p, &inbox).await.unwrap().folder.id;
    store.close().await;
    drop(store);
    // As a store written before key 0x16 existed.
    let engine = RedbEngine::open(&dir.path().join("store.redb")).unwrap();
    let mut batch = WriteBatch::new();
    batch.insert(keys::folder_keywords(id), None);
    engine.commit(batch).unwrap();
    drop(engine);

    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(keywords(&store, &p, "INBOX").await, ["$A", "$B"]);
    let add = FlagUpdate::Add(["$C"].iter().collect());
    store
        .update_flags(&p, &inbox, &[one], add, None)
        .await
        .unwrap();
    store.remove_objects(&p, &inbox, &[one]).await.unwrap();
    // Written with $C: what only message `one` had stays. (The order is
    // that of first use as far as known; a derived list's is the UIDs'.)
    let mut list = keywords(&store, &p, "INBOX").await;
    list.sort();
    assert_eq!(list, ["$A", "$B", "$C"]);
}
