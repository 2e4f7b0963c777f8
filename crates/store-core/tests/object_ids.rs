//! RFC 8474 object ids, RFC 8514 save dates and RFC 8438 folder sizes as
//! store-core assigns them (the scheme: `store_core::objectid`).

use store_core::objectid::{email_id, mailbox_id, thread_id};
use store_core::rights::Rights;
use store_core::{AclMode, FolderRef, NewObject, Principal, Store, StoreConfig};

async fn with_alice() -> (tempfile::TempDir, Store, Principal) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    (dir, store, p)
}

async fn append(store: &Store, p: &Principal, folder: &str, raw: &[u8]) -> u32 {
    let blob = store.stage_bytes(raw).await.unwrap();
    store
        .store_object(p, &FolderRef::own(folder), NewObject::new(blob))
        .await
        .unwrap()
        .uid
}

#[tokio::test]
async fn ids_follow_content_through_copy_and_move_and_threads_join() {
    let (_dir, store, p) = with_alice().await;
    let (inbox, other) = (FolderRef::own("INBOX"), FolderRef::own("Other"));
    store.create_folder(&p, &other, None).await.unwrap();
    let root = append(&store, &p, "INBOX", b"Message-ID: <r@x>\r\n\r\nroot\r\n").await;
    // A reply that arrives before its parent's sibling, then a parent that
    // arrives after its reply: all one thread.
    let reply = append(
        &store,
        &p,
        "INBOX",
        b"Message-ID: <s@x>\r\nIn-Reply-To: <q@x>\r\nReferences: <r@x> <q@x>\r\n\r\nreply\r\n",
    )
    .await;
    let late = append(
        &store,
        &p,
        "INBOX",
        b"Message-ID: <q@x>\r\n\r\nlate parent\r\n",
    )
    .await;
    let lone = append(&store, &p, "INBOX", b"Subject: no ids\r\n\r\nlone\r\n").await;
    let same = append(&store, &p, "INBOX", b"Subject: no ids\r\n\r\nlone\r\n").await;
    let get = |uid, f: FolderRef| {
        let (store, p) = (&store, &p);
        async move { store.fetch_object(p, &f, uid).await.unwrap().0 }
    };
    let (r, s, q) = (
        get(root, inbox.clone()).await,
        get(reply, inbox.clone()).await,
        get(late, inbox.clone()).await,
    );
    assert_eq!(r.thread_id, r.email_id);
    assert_eq!(s.thread_id, r.thread_id);
    assert_eq!(q.thread_id, r.thread_id);
    let (l, m) = (
        get(lone, inbox.clone()).await,
        get(same, inbox.clone()).await,
    );
    assert_eq!(l.thread_id, l.email_id, "no thread information: its own");
    assert_ne!(l.email_id, m.email_id, "a second APPEND is a new message");
    assert_ne!(l.thread_id, m.thread_id);

    let copied = store
        .copy_objects(&p, &inbox, &[root], &other)
        .await
        .unwrap();
    let c = get(copied.uids[0].1, other.clone()).await;
    assert_eq!(c.email_id, r.email_id, "COPY keeps EMAILID (RFC 8474 5.1)");
    assert_eq!(c.thread_id, r.thread_id);
    assert!(c.save_date.is_some());
    let moved = store
        .move_objects(&p, &inbox, &[lone], &other)
        .await
        .unwrap();
    let mv = get(moved.uids[0].1, other.clone()).await;
    assert_eq!(mv.email_id, l.email_id, "MOVE keeps EMAILID");

    let (f, _) = store.folder_status(&p, &other).await.unwrap();
    assert_eq!(f.size, c.size + mv.size, "SIZE counts what arrived");
    let before = f.mailbox_id();
    store
        .rename_folder(&p, &other, &FolderRef::own("Renamed"))
        .await
        .unwrap();
    let (f, _) = store
        .folder_status(&p, &FolderRef::own("Renamed"))
        .await
        .unwrap();
    assert_eq!(f.mailbox_id(), before, "RENAME keeps MAILBOXID");
    store
        .remove_objects(&p, &FolderRef::own("Renamed"), &[mv.uid])
        .await
        .unwrap();
    let (f, _) = store
        .folder_status(&p, &FolderRef::own("Renamed"))
        .await
        .unwrap();
    assert_eq!(f.size, c.size, "SIZE counts what left");
    store
        .remove_folder(&p, &FolderRef::own("Renamed"))
        .await
        .unwrap();
    let again = store
        .create_folder(&p, &FolderRef::own("Renamed"), None)
        .await
        .unwrap();
    assert_ne!(again.mailbox_id(), before, "a recreated folder is new");

    for id in [
        email_id(r.email_id),
        thread_id(r.thread_id),
        mailbox_id(f.id),
    ] {
        assert!(id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
    store.close().await;
}

#[tokio::test]
async fn threads_do_not_cross_accounts() {
    let (_dir, store, p) = with_alice().await;
    store.create_account("bob", None, "pw").await.unwrap();
    let bob = store.trusted_element("bob").await.unwrap();
    let a = append(&store, &p, "INBOX", b"Message-ID: <t@x>\r\n\r\na\r\n").await;
    let b = append(
        &store,
        &bob,
        "INBOX",
        b"Message-ID: <u@x>\r\nIn-Reply-To: <t@x>\r\n\r\nb\r\n",
    )
    .await;
    let inbox = FolderRef::own("INBOX");
    let oa = store.fetch_object(&p, &inbox, a).await.unwrap().0;
    let ob = store.fetch_object(&bob, &inbox, b).await.unwrap().0;
    assert_ne!(oa.thread_id, ob.thread_id);
    assert_eq!(ob.thread_id, ob.email_id);

    // A copy into another account's folder is a new message there
    // (RFC 8474 5.1: one EMAILID within an account), threaded there.
    store
        .set_acl(
            &p,
            &inbox,
            "bob",
            Rights::parse("lri").unwrap(),
            AclMode::Replace,
        )
        .await
        .unwrap();
    let copied = store
        .copy_objects(&bob, &inbox, &[b], &FolderRef::of("alice", "INBOX"))
        .await
        .unwrap();
    let oc = store
        .fetch_object(&p, &inbox, copied.uids[0].1)
        .await
        .unwrap()
        .0;
    assert_ne!(oc.email_id, ob.email_id);
    assert_eq!(oc.thread_id, oa.thread_id, "joins alice's thread of <t@x>");
    let (f, _) = store.folder_status(&p, &inbox).await.unwrap();
    assert_eq!(f.size, oa.size + oc.size);
    store.close().await;
}
