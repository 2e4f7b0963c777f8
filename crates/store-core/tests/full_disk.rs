//! A full disk (issue 13): the writer fails the pending writes with
//! `StoreError::StorageFull`, reports it, reopens the engine, and takes
//! writes again once space is back, without a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use store_core::engine::{
    Engine, EngineError, EngineErrorKind, RedbEngine, Snapshot, SnapshotThenCommit, WriteBatch,
    WriteTransaction,
};
use store_core::{FolderRef, NewObject, Store, StoreConfig, StoreError};

/// A redb engine on a device that can be made full. Like redb, once a
/// commit failed it refuses every later commit until it is recovered.
struct Device {
    inner: RedbEngine,
    full: AtomicBool,
    poisoned: AtomicBool,
    /// Commits take 300 ms (so that later writes queue up into one batch).
    slow: AtomicBool,
}

impl Engine for Device {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>, EngineError> {
        self.inner.snapshot()
    }

    fn begin_write(&self) -> Result<Box<dyn WriteTransaction + '_>, EngineError> {
        Ok(Box::new(SnapshotThenCommit::begin(self)?))
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), EngineError> {
        if self.slow.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(300));
        }
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(EngineError {
                message: "Previous I/O error occurred".into(),
                kind: EngineErrorKind::Io,
            });
        }
        if self.full.load(Ordering::SeqCst) {
            self.poisoned.store(true, Ordering::SeqCst);
            return Err(EngineError::from_io(&std::io::Error::from(
                std::io::ErrorKind::StorageFull,
            )));
        }
        self.inner.commit(batch)
    }

    fn recover(&self) -> Result<(), EngineError> {
        self.poisoned.store(false, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_fail_as_storage_full_then_resume_once_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let device = Arc::new(Device {
        inner: RedbEngine::open(&dir.path().join("store.redb")).unwrap(),
        full: AtomicBool::new(false),
        poisoned: AtomicBool::new(false),
        slow: AtomicBool::new(false),
    });
    let store = Store::open_with_engine(StoreConfig::new(dir.path()), device.clone()).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    let append = |n: usize| {
        let (store, p, inbox) = (store.clone(), p.clone(), inbox.clone());
        async move {
            let m = format!("Subject: {n}\r\n\r\nbody {n}\r\n");
            // In a file, whose fate on a full disk is what is checked.
            let mut writer = store.blob_writer().await?;
            writer.write(m.as_bytes()).await?;
            let blob = writer.finish().await?;
            store.store_object(&p, &inbox, NewObject::new(blob)).await
        }
    };
    append(1).await.unwrap();
    assert_eq!(store.storage_failure(), None);

    device.full.store(true, Ordering::SeqCst);
    // Several writes at once: every one of the batch fails cleanly.
    let pending: Vec<_> = (2..6).map(|n| tokio::spawn(append(n))).collect();
    for task in pending {
        let result = task.await.unwrap();
        assert!(matches!(result, Err(StoreError::StorageFull)), "{result:?}");
    }
    let failure = store.storage_failure().expect("the failure is reported");
    assert!(failure.contains("space"), "{failure}");
    // Still full: still refused, as StorageFull (not a latched I/O error).
    assert!(matches!(append(6).await, Err(StoreError::StorageFull)));
    // No blob of a refused write stays behind.
    let blobs = walk(&dir.path().join("blobs"));
    assert_eq!(blobs, 1, "only the stored object's blob is on disk");
    // One refused batch that removes the stored object and stores the
    // same content again (its blob released, then installed again) keeps
    // the blob the committed object still needs.
    device.slow.store(true, Ordering::SeqCst);
    let blocker = tokio::spawn(append(100));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let remove = {
        let (store, p, inbox) = (store.clone(), p.clone(), inbox.clone());
        tokio::spawn(async move { store.remove_objects(&p, &inbox, &[1]).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = tokio::spawn(append(1));
    assert!(blocker.await.unwrap().is_err());
    assert!(matches!(
        remove.await.unwrap(),
        Err(StoreError::StorageFull)
    ));
    assert!(matches!(again.await.unwrap(), Err(StoreError::StorageFull)));
    device.slow.store(false, Ordering::SeqCst);
    assert_eq!(
        walk(&dir.path().join("blobs")),
        1,
        "the stored blob was removed"
    );

    // Space is back: the writer's probe finds it without any request.
    device.full.store(false, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.storage_failure().is_some() {
        assert!(std::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored = append(7).await.unwrap();
    assert_eq!(stored.uid, 2, "refused writes took no UID");
    let (folder, _) = store.folder_status(&p, &inbox).await.unwrap();
    assert_eq!(folder.uid_next, 3);
    let mut first = store.open_content(&p, &inbox, 1).await.unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut first, &mut bytes)
        .await
        .unwrap();
    assert!(
        bytes.ends_with(b"body 1\r\n"),
        "the first object's content is intact"
    );
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}
