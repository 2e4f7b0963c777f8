//! Rules store-core enforces once for every protocol (issue 15), through
//! its public API: WebDAV locks on every write, the reserved `Shared/`
//! namespace, who may set quotas, and a principal only from
//! authentication or the trusted path.

use store_core::model::{Flags, QuotaLimits};
use store_core::throttle::LoginSource;
use store_core::{
    lock_path, FlagUpdate, FolderRef, NewLock, NewObject, Principal, Store, StoreConfig, StoreError,
};

async fn store_with(logins: &[&str]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    for login in logins {
        store.create_account(login, None, "pw").await.unwrap();
    }
    (dir, store)
}

/// A principal as a front end gets one: by authenticating.
async fn login(store: &Store, login: &str) -> Principal {
    let source = LoginSource {
        remote: "127.0.0.1".parse().unwrap(),
        protocol: "test",
    };
    store.authenticate(source, login, "pw").await.unwrap()
}

async fn append(store: &Store, p: &Principal, folder: &str, name: Option<&str>) -> u32 {
    let blob = store
        .stage_bytes(b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n")
        .await
        .unwrap();
    let object = NewObject {
        file_name: name.map(String::from),
        ..NewObject::new(blob)
    };
    store
        .store_object(p, &FolderRef::own(folder), object)
        .await
        .unwrap()
        .uid
}

fn lock(root: String, infinite: bool) -> NewLock {
    NewLock {
        root,
        infinite,
        exclusive: true,
        owner: None,
        timeout: Some(600),
    }
}

fn locked_at(result: Result<impl std::fmt::Debug, StoreError>, root: &str) {
    match result {
        Err(StoreError::Locked { root: r }) => assert_eq!(r, root),
        other => panic!("expected Locked at {root}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_stops_every_write_it_protects_until_its_token_is_submitted() {
    let (_dir, store) = store_with(&["alice"]).await;
    let alice = login(&store, "alice").await;
    let uid = append(&store, &alice, "INBOX", Some("a.txt")).await;
    let other = append(&store, &alice, "INBOX", None).await;
    let root = lock_path("alice", "INBOX", Some("a.txt"));
    let held = store
        .create_lock(&alice, lock(root.clone(), false))
        .await
        .unwrap();
    let inbox = FolderRef::own("INBOX");
    locked_at(store.remove_objects(&alice, &inbox, &[uid]).await, &root);
    locked_at(
        store
            .move_objects(&alice, &inbox, &[uid], &FolderRef::own("Trash"))
            .await,
        &root,
    );
    locked_at(
        store
            .rename_folder(&alice, &FolderRef::own("INBOX"), &FolderRef::own("Old"))
            .await,
        &root,
    );
    // A copy leaves the source alone; flags are not protected; another
    // object of the folder is not locked.
    store
        .copy_objects(&alice, &inbox, &[uid], &FolderRef::own("Archive"))
        .await
        .unwrap();
    let mut seen = Flags::new();
    seen.insert("\\Seen");
    store
        .update_flags(&alice, &inbox, &[uid], FlagUpdate::Add(seen), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .remove_objects(&alice, &inbox, &[other])
            .await
            .unwrap(),
        [other]
    );
    // A wrong token does not help, the lock's own does.
    let wrong = alice.with_lock_tokens(["urn:uuid:not-it"]);
    locked_at(store.remove_objects(&wrong, &inbox, &[uid]).await, &root);
    let holder = alice.with_lock_tokens([held.token.clone()]);
    assert_eq!(
        store.remove_objects(&holder, &inbox, &[uid]).await.unwrap(),
        [uid]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_lock_guards_its_membership_and_another_principal_cannot_use_its_token() {
    let (_dir, store, alice, bob) = team_shared_with_bob("lrswipkxtea").await;
    let root = lock_path("alice", "Team", None);
    let held = store
        .create_lock(&alice, lock(root.clone(), true))
        .await
        .unwrap();
    let blob = store.stage_bytes(b"Subject: y\r\n\r\ny\r\n").await.unwrap();
    let team = FolderRef::of("alice", "Team");
    let bob_with_token = bob.with_lock_tokens([held.token.clone()]);
    locked_at(
        store
            .store_object(&bob_with_token, &team, NewObject::new(blob))
            .await,
        &root,
    );
    locked_at(
        store
            .create_folder(&alice, &FolderRef::own("Team/Sub"), None)
            .await,
        &root,
    );
    locked_at(
        store.remove_folder(&alice, &FolderRef::own("Team")).await,
        &root,
    );
    let holder = alice.with_lock_tokens([held.token]);
    store
        .create_folder(&holder, &FolderRef::own("Team/Sub"), None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_namespace_is_reserved_for_every_caller() {
    let (_dir, store) = store_with(&["alice"]).await;
    // The trusted path (a SIP deposit's folder) is held to the rule too.
    for p in [
        login(&store, "alice").await,
        store.trusted_element("alice").await.unwrap(),
    ] {
        for name in ["Shared", "Shared/x", "Shared/bob/x"] {
            match store.create_folder(&p, &FolderRef::own(name), None).await {
                Err(StoreError::InvalidName(_)) => {}
                other => panic!("{name}: {other:?}"),
            }
        }
        match store
            .rename_folder(&p, &FolderRef::own("Archive"), &FolderRef::own("Shared/a"))
            .await
        {
            Err(StoreError::InvalidName(_)) => {}
            other => panic!("rename: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_administrator_sets_quotas_or_reads_another_account() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        quota_admins: vec!["root".into()],
        ..StoreConfig::new(dir.path())
    };
    let store = Store::open(config).unwrap();
    for l in ["alice", "root"] {
        store.create_account(l, None, "pw").await.unwrap();
    }
    let alice = login(&store, "alice").await;
    let limits = QuotaLimits {
        max_bytes: None,
        max_objects: Some(3),
    };
    assert!(matches!(
        store.set_quota(&alice, "alice", limits).await,
        Err(StoreError::AdminOnly(_))
    ));
    assert!(matches!(
        store.quota_of(&alice, "root").await,
        Err(StoreError::NoSuchAccount)
    ));
    let root = login(&store, "root").await;
    store.set_quota(&root, "alice", limits).await.unwrap();
    // A trusted SIP element is no administrator (review finding 12); the
    // admin CLI's path is.
    let sip = store.trusted_element("alice").await.unwrap();
    assert!(matches!(
        store.set_quota(&sip, "alice", limits).await,
        Err(StoreError::AdminOnly(_))
    ));
    let cli = store.administrator("alice").await.unwrap();
    store.set_quota(&cli, "alice", limits).await.unwrap();
    assert_eq!(store.quota(&alice).await.unwrap().limits, limits);
}

async fn grant(store: &Store, owner: &Principal, folder: &str, who: &str, rights: &str) {
    store
        .set_acl(
            owner,
            &FolderRef::own(folder),
            who,
            store_core::rights::Rights::parse(rights).unwrap(),
            store_core::AclMode::Replace,
        )
        .await
        .unwrap();
}

/// Alice's folder `Team`, shared with bob with `rights`: the store and
/// both principals.
async fn team_shared_with_bob(rights: &str) -> (tempfile::TempDir, Store, Principal, Principal) {
    let (dir, store) = store_with(&["alice", "bob"]).await;
    let alice = login(&store, "alice").await;
    let bob = login(&store, "bob").await;
    store
        .create_folder(&alice, &FolderRef::own("Team"), None)
        .await
        .unwrap();
    grant(&store, &alice, "Team", "bob", rights).await;
    (dir, store, alice, bob)
}

/// Review finding 1: a grantee's lock must not hold the owner's folder
/// forever (RFC 3744 3.5 `DAV:unlock`; refresh needs LOCK's right `i`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grantees_lock_yields_to_the_owner_an_administrator_and_a_revoked_grant() {
    let (_dir, store) = store_with(&["alice", "bob", "carol"]).await;
    let alice = login(&store, "alice").await;
    let bob = login(&store, "bob").await;
    let carol = login(&store, "carol").await;
    store
        .create_folder(&alice, &FolderRef::own("Work"), None)
        .await
        .unwrap();
    grant(&store, &alice, "Work", "bob", "lrswi").await;
    grant(&store, &alice, "Work", "carol", "lra").await;
    let root = lock_path("alice", "Work", None);
    let take = |store: &Store, who: &Principal| {
        let (store, who, root) = (store.clone(), who.clone(), root.clone());
        async move { store.create_lock(&who, lock(root, true)).await.unwrap() }
    };
    // The owner removes the grantee's lock.
    let held = take(&store, &bob).await;
    store.remove_lock(&alice, &held.token, &root).await.unwrap();
    // So does a holder of `a`, but not another grantee without it.
    let held = take(&store, &bob).await;
    grant(&store, &alice, "Work", "carol", "lr").await;
    locked_at(store.remove_lock(&carol, &held.token, &root).await, &root);
    grant(&store, &alice, "Work", "carol", "lra").await;
    store.remove_lock(&carol, &held.token, &root).await.unwrap();
    // Revoking `i` drops the grantee's lock; the owner writes again.
    let held = take(&store, &bob).await;
    locked_at(
        store
            .create_folder(&alice, &FolderRef::own("Work/Sub"), None)
            .await,
        &root,
    );
    grant(&store, &alice, "Work", "bob", "lrs").await;
    store
        .create_folder(&alice, &FolderRef::own("Work/Sub"), None)
        .await
        .unwrap();
    assert!(matches!(
        store.refresh_lock(&bob, &held.token, Some(60)).await,
        Err(StoreError::NoSuchLock)
    ));
    // While the grant holds, the holder refreshes it.
    grant(&store, &alice, "Work", "bob", "lrswi").await;
    let held = take(&store, &bob).await;
    store
        .refresh_lock(&bob, &held.token, Some(60))
        .await
        .unwrap();
    // The administrator removes it too, without any right on the folder.
    store.create_account("dave", None, "pw").await.unwrap();
    let admin = store.administrator("dave").await.unwrap();
    store.remove_lock(&admin, &held.token, &root).await.unwrap();
}

/// Review finding 2: a new account of a removed login inherits no lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_account_leaves_no_lock_behind() {
    let (_dir, store) = store_with(&["alice", "bob"]).await;
    let alice = login(&store, "alice").await;
    let bob = login(&store, "bob").await;
    for name in ["Work", "Team"] {
        store
            .create_folder(&alice, &FolderRef::own(name), None)
            .await
            .unwrap();
    }
    store
        .create_lock(&alice, lock(lock_path("alice", "Work", None), true))
        .await
        .unwrap();
    grant(&store, &alice, "Team", "bob", "lrswi").await;
    let bobs = lock_path("alice", "Team", None);
    store
        .create_lock(&bob, lock(bobs.clone(), true))
        .await
        .unwrap();
    store.remove_account("alice").await.unwrap();
    store.remove_account("bob").await.unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let alice = login(&store, "alice").await;
    for name in ["Work", "Team"] {
        store
            .create_folder(&alice, &FolderRef::own(name), None)
            .await
            .unwrap();
    }
    assert!(store
        .locks_affecting("/dav/alice")
        .await
        .unwrap()
        .is_empty());
}

/// Review finding 5: a lock made through another spelling of a folder
/// protects the folder every protocol writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_root_is_kept_in_its_canonical_spelling() {
    let (_dir, store) = store_with(&["alice"]).await;
    let alice = login(&store, "alice").await;
    let uid = append(&store, &alice, "INBOX", Some("a.txt")).await;
    let held = store
        .create_lock(&alice, lock("/dav/alice/inbox/a.txt".into(), false))
        .await
        .unwrap();
    let root = lock_path("alice", "INBOX", Some("a.txt"));
    assert_eq!(held.root, root);
    locked_at(
        store
            .remove_objects(&alice, &FolderRef::own("INBOX"), &[uid])
            .await,
        &root,
    );
}

/// Review finding 6: folders created on the way to a new one are members
/// a collection lock protects (RFC 4918 7.4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_missing_parents_honours_a_depth_zero_collection_lock() {
    let (_dir, store) = store_with(&["alice"]).await;
    let alice = login(&store, "alice").await;
    for name in ["Proj", "Other2"] {
        store
            .create_folder(&alice, &FolderRef::own(name), None)
            .await
            .unwrap();
    }
    let root = lock_path("alice", "Proj", None);
    let held = store
        .create_lock(&alice, lock(root.clone(), false))
        .await
        .unwrap();
    locked_at(
        store
            .create_folder(&alice, &FolderRef::own("Proj/New/Deep"), None)
            .await,
        &root,
    );
    locked_at(
        store
            .rename_folder(
                &alice,
                &FolderRef::own("Other2"),
                &FolderRef::own("Proj/R/x"),
            )
            .await,
        &root,
    );
    let holder = alice.with_lock_tokens([held.token]);
    store
        .create_folder(&holder, &FolderRef::own("Proj/New/Deep"), None)
        .await
        .unwrap();
}

/// Review finding 8: a conflicting LOCK is its own error (WebDAV
/// `DAV:no-conflicting-lock`), not a write refused for a lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_lock_is_told_apart_from_a_locked_write() {
    let (_dir, store) = store_with(&["alice"]).await;
    let alice = login(&store, "alice").await;
    let root = lock_path("alice", "INBOX", None);
    store
        .create_lock(&alice, lock(root.clone(), true))
        .await
        .unwrap();
    match store.create_lock(&alice, lock(root.clone(), false)).await {
        Err(StoreError::LockConflict { root: r }) => assert_eq!(r, root),
        other => panic!("{other:?}"),
    }
}

/// Review finding 13: one principal cannot take every lock of the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_principal_holds_at_most_its_share_of_locks() {
    let (_dir, store) = store_with(&["alice", "bob"]).await;
    let alice = login(&store, "alice").await;
    let bob = login(&store, "bob").await;
    let cap = store_core::MAX_LOCKS_PER_PRINCIPAL;
    let tasks: Vec<_> = (0..cap)
        .map(|i| {
            let (store, alice) = (store.clone(), alice.clone());
            tokio::spawn(async move {
                store
                    .create_lock(
                        &alice,
                        lock(lock_path("alice", "INBOX", Some(&format!("f{i}"))), false),
                    )
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(matches!(
        store
            .create_lock(&alice, lock(lock_path("alice", "Sent", None), false))
            .await,
        Err(StoreError::InvalidArgument(_))
    ));
    store
        .create_lock(&bob, lock(lock_path("bob", "INBOX", None), false))
        .await
        .unwrap();
}

/// Review finding 10: a reference's token (a bearer credential, RFC 4467)
/// never prints.
#[test]
fn a_reference_prints_without_its_token() {
    let reference = store_core::Reference {
        token: "s3cr3t-t0ken".into(),
        account: 1,
        folder: 2,
        uid_validity: 3,
        uid: 4,
        section: None,
        expires: None,
        access: store_core::ReferenceAccess::Anonymous,
    };
    let printed = format!("{reference:?}");
    assert!(!printed.contains("s3cr3t-t0ken"), "{printed}");
    assert!(printed.contains("<redacted>"), "{printed}");
}

/// Review finding 9: the locks of what a write removes or moves away go in
/// its own transaction (RFC 4918 7.7, 9.9.1), for every protocol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_or_moving_a_locked_resource_drops_its_locks_with_it() {
    let (_dir, store, alice, bob) = team_shared_with_bob("lrswi").await;
    let blob = store.stage_bytes(b"Subject: a\r\n\r\na\r\n").await.unwrap();
    let object = NewObject {
        file_name: Some("a.txt".into()),
        ..NewObject::new(blob)
    };
    let team = FolderRef::own("Team");
    let uid = store.store_object(&alice, &team, object).await.unwrap().uid;
    // Two shared locks; the owner deletes with hers, and bob's goes too.
    let path = lock_path("alice", "Team", Some("a.txt"));
    let shared = |root: String| NewLock {
        exclusive: false,
        ..lock(root, false)
    };
    let hers = store
        .create_lock(&alice, shared(path.clone()))
        .await
        .unwrap();
    store.create_lock(&bob, shared(path.clone())).await.unwrap();
    let holder = alice.with_lock_tokens([hers.token]);
    store.remove_objects(&holder, &team, &[uid]).await.unwrap();
    assert!(store.locks_covering(&path).await.unwrap().is_empty());
    // A renamed folder leaves its locks behind, gone.
    let root = lock_path("alice", "Team", None);
    let held = store
        .create_lock(&alice, lock(root.clone(), true))
        .await
        .unwrap();
    let holder = alice.with_lock_tokens([held.token]);
    store
        .rename_folder(&holder, &team, &FolderRef::own("Team2"))
        .await
        .unwrap();
    assert!(store.locks_affecting(&root).await.unwrap().is_empty());
    store
        .create_folder(&alice, &FolderRef::own("Team"), None)
        .await
        .unwrap();
}

/// The RCS folder layout (`[sip] folder_layout = "rcs"`): the `Default`
/// tree is written only by trusted network elements, for every protocol.
#[tokio::test]
async fn only_network_elements_write_the_rcs_default_tree() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig {
        folder_layout: store_core::conversation::FolderLayout::Rcs,
        trusted_elements: vec!["cs-element".into()],
        ..StoreConfig::new(dir.path())
    })
    .unwrap();
    for name in ["alice", "cs-element", "rogue"] {
        store.create_account(name, None, "pw").await.unwrap();
    }
    let alice = login(&store, "alice").await;
    fn reserved<T: std::fmt::Debug>(r: Result<T, StoreError>, name: &str) {
        match r {
            Err(StoreError::ReservedFolder(n)) => assert_eq!(n, name),
            other => panic!("expected ReservedFolder({name}), got {other:?}"),
        }
    }
    // A user may not create, nor store into, the tree.
    reserved(
        store
            .create_folder(&alice, &FolderRef::own("Default/x"), None)
            .await,
        "Default/x",
    );
    // A SIP deposit (the trusted path) may, creating its folders.
    let element = store.trusted_element("alice").await.unwrap();
    assert!(element.is_network_element() && !alice.is_network_element());
    let blob = store
        .stage_bytes(b"Subject: x\r\n\r\nhi\r\n")
        .await
        .unwrap();
    let stored = store
        .deposit_object(&element, "Default/tel:+1555", NewObject::new(blob))
        .await
        .unwrap();
    let blob = store
        .stage_bytes(b"Subject: y\r\n\r\nhi\r\n")
        .await
        .unwrap();
    reserved(
        store
            .store_object(
                &alice,
                &FolderRef::own("Default/tel:+1555"),
                NewObject::new(blob),
            )
            .await,
        "Default/tel:+1555",
    );
    // Nor copy into it, rename into or out of it, or remove it.
    let uid = append(&store, &alice, "INBOX", None).await;
    reserved(
        store
            .copy_objects(
                &alice,
                &FolderRef::own("INBOX"),
                &[uid],
                &FolderRef::own("Default/tel:+1555"),
            )
            .await,
        "Default/tel:+1555",
    );
    store
        .create_folder(&alice, &FolderRef::own("mine"), None)
        .await
        .unwrap();
    reserved(
        store
            .rename_folder(
                &alice,
                &FolderRef::own("mine"),
                &FolderRef::own("Default/mine"),
            )
            .await,
        "Default/mine",
    );
    reserved(
        store
            .rename_folder(
                &alice,
                &FolderRef::own("Default/tel:+1555"),
                &FolderRef::own("x"),
            )
            .await,
        "Default/tel:+1555",
    );
    reserved(
        store
            .remove_folder(&alice, &FolderRef::own("Default/tel:+1555"))
            .await,
        "Default/tel:+1555",
    );
    // Reading, flagging and expunging there stay the user's.
    store
        .update_flags(
            &alice,
            &FolderRef::own("Default/tel:+1555"),
            &[stored.uid],
            FlagUpdate::Add(Flags::from_iter(["\\Seen"])),
            None,
        )
        .await
        .unwrap();
    // A listed element acts for a user and may write; an unlisted one may not.
    let cs = login(&store, "cs-element").await;
    let acting = store.act_for(&cs, "alice").await.unwrap();
    assert_eq!(acting.login(), "alice");
    assert!(acting.is_network_element());
    store
        .create_folder(&acting, &FolderRef::own("Default/conv/grp"), None)
        .await
        .unwrap();
    let rogue = login(&store, "rogue").await;
    assert!(matches!(
        store.act_for(&rogue, "alice").await,
        Err(StoreError::NotTrustedElement)
    ));
    assert!(matches!(
        store.act_for(&acting, "rogue").await,
        Err(StoreError::NotTrustedElement)
    ));
    assert!(matches!(
        store.act_for(&cs, "nobody").await,
        Err(StoreError::NoSuchAccount)
    ));
}
