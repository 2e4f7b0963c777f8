//! The S3 blob backend (issue 20) against an S3-compatible server: the
//! backend's contract (write, install, ranged reads at the edges, delete,
//! list for the sweep, a 64 MiB object streamed in bounded memory) and a
//! store whose blobs are objects. The server is named by
//! `CPM_TEST_S3_ENDPOINT` (scripts/test.sh starts moto_server and sets
//! it); without it each test says so and passes.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};
use store_core::blob::{BlobBackend, BlobId, BlobStore, S3Config};
use store_core::{FolderRef, NewObject, Store, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Held by each test, so that the memory one measures itself alone.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test server's URL, or `None` (the test is skipped, said so).
fn endpoint(test: &str) -> Option<String> {
    match std::env::var("CPM_TEST_S3_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("{test}: SKIPPED: CPM_TEST_S3_ENDPOINT is not set (scripts/test.sh sets it)");
            None
        }
    }
}

/// Makes a new bucket on the test server (S3 CreateBucket: `PUT /name`;
/// moto takes any credentials) and returns its settings.
fn new_bucket(endpoint: &str) -> S3Config {
    let bucket = format!("cpm-test-{}", uuid::Uuid::new_v4().simple());
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut tcp = std::net::TcpStream::connect(host).expect("connect to the S3 test server");
    write!(
        tcp,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "CreateBucket: {reply}");
    s3_config(endpoint, &bucket)
}

fn s3_config(endpoint: &str, bucket: &str) -> S3Config {
    S3Config {
        endpoint: Some(endpoint.to_string()),
        bucket: bucket.to_string(),
        region: Some("us-east-1".into()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        allow_http: true,
    }
}

/// Bytes that differ at every offset modulo a prime, so a range read from
/// the wrong place does not compare equal.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i % 251) as u8).wrapping_add(seed))
        .collect()
}

async fn read_all(mut reader: store_core::blob::BlobReader) -> Vec<u8> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.unwrap();
    out
}

async fn read_range(
    blobs: &BlobStore,
    id: &BlobId,
    offset: u64,
    length: u64,
) -> std::io::Result<Vec<u8>> {
    let mut content = blobs.open_blob(id).await?.content(offset, length).await;
    let mut out = Vec::new();
    while let Some(chunk) = content.next_chunk().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_writes_installs_reads_ranges_lists_and_deletes() {
    let Some(endpoint) = endpoint("the_backend_writes_installs_reads_ranges_lists_and_deletes")
    else {
        return;
    };
    let _alone = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let backend = BlobBackend::S3(new_bucket(&endpoint));
    let blobs = BlobStore::open_with(dir.path(), 0, &backend).unwrap();
    assert_eq!(blobs.list().unwrap(), Vec::new(), "a new bucket");

    // Streamed, and staged in memory (kept in the database: no object).
    let bytes = pattern(5 * 1024 * 1024 + 17, 1);
    let mut writer = blobs.writer().await.unwrap();
    for piece in bytes.chunks(100_000) {
        writer.write(piece).await.unwrap();
    }
    let streamed = writer.finish().await.unwrap();
    let id = streamed.id;
    assert_eq!(id, BlobId(Sha256::digest(&bytes).into()));
    let small = blobs.stage_bytes(b"a chat message").await.unwrap();
    let small_id = small.id;
    // A small blob streamed (an IMAP APPEND of a chat message) is kept
    // in memory for the database too: no object of its own.
    let mut writer = blobs.writer().await.unwrap();
    writer.write(b"another chat message").await.unwrap();
    let streamed_small = writer.finish().await.unwrap();
    assert!(matches!(
        streamed_small.source(),
        store_core::blob::StagedSource::Memory(b) if &b[..] == b"another chat message"
    ));
    assert!(!blobs.exists(&streamed_small.id).await.unwrap());
    // A streamed blob is uploaded as it is staged, in the writer's task
    // (not in the store's writer turn); installing it checks it is there.
    assert!(blobs.exists(&id).await.unwrap(), "uploaded when staged");
    blobs.install_all(&[streamed, small]).unwrap();
    assert!(blobs.exists(&id).await.unwrap());
    assert_eq!(blobs.list().unwrap(), vec![id], "only the file-staged one");
    assert!(!blobs.exists(&small_id).await.unwrap());
    // Nothing is left staged.
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );

    // Whole, and ranges at the edges.
    assert_eq!(read_all(blobs.open_blob(&id).await.unwrap()).await, bytes);
    let len = bytes.len() as u64;
    for (offset, length) in [
        (0, 0),
        (0, 1),
        (len - 1, 1),
        (1, len - 1),
        (0, len),
        (4_194_000, 1_000_000),
    ] {
        let length = length.min(len.saturating_sub(offset));
        let got = read_range(&blobs, &id, offset, length).await.unwrap();
        let (o, l) = (offset as usize, length as usize);
        assert_eq!(got, bytes[o..o + l], "{offset}+{length}");
    }
    // A range past the end is an error, not short bytes.
    assert!(read_range(&blobs, &id, len - 2, 5).await.is_err());
    // Seeking as in a file.
    let mut reader = blobs.open_blob(&id).await.unwrap();
    assert_eq!(
        reader.seek(std::io::SeekFrom::End(-10)).await.unwrap(),
        len - 10
    );
    let mut tail = Vec::new();
    reader.read_to_end(&mut tail).await.unwrap();
    assert_eq!(tail, bytes[bytes.len() - 10..]);
    reader
        .seek(std::io::SeekFrom::Start(1_048_570))
        .await
        .unwrap();
    let mut across = [0u8; 20];
    reader.read_exact(&mut across).await.unwrap();
    assert_eq!(across[..], bytes[1_048_570..1_048_590]);

    // Delete: gone from reads and from the listing.
    blobs.unlink(&id);
    assert_eq!(
        blobs.open_blob(&id).await.unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    assert_eq!(blobs.list().unwrap(), Vec::new());
}

/// The process's peak resident set (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_object_is_uploaded_in_parts_and_read_back_in_bounded_memory() {
    let Some(endpoint) =
        endpoint("a_64_mib_object_is_uploaded_in_parts_and_read_back_in_bounded_memory")
    else {
        return;
    };
    let _alone = ONE_AT_A_TIME.lock().await;
    const SIZE: usize = 64 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let blobs =
        BlobStore::open_with(dir.path(), 0, &BlobBackend::S3(new_bucket(&endpoint))).unwrap();
    let before = peak_rss();
    let piece = pattern(1024 * 1024, 7);
    let mut hasher = Sha256::new();
    let mut writer = blobs.writer().await.unwrap();
    for i in 0..SIZE / piece.len() {
        let mut p = piece.clone();
        p[0] = i as u8;
        hasher.update(&p);
        writer.write(&p).await.unwrap();
    }
    let staged = writer.finish().await.unwrap();
    assert_eq!(staged.id, BlobId(hasher.finalize().into()));
    let id = staged.id;
    blobs.install_all(&[staged]).unwrap();

    let mut content = blobs
        .open_blob(&id)
        .await
        .unwrap()
        .content(0, SIZE as u64)
        .await;
    let mut back = Sha256::new();
    let mut read = 0;
    while let Some(chunk) = content.next_chunk().await {
        let chunk = chunk.unwrap();
        read += chunk.len();
        back.update(&chunk);
    }
    assert_eq!(read, SIZE);
    assert_eq!(BlobId(back.finalize().into()), id);
    // The object never was in memory whole: the peak grew by far less
    // than its size (parts in flight, one chunk read).
    let grown = peak_rss().saturating_sub(before);
    eprintln!("peak memory grew by {grown} bytes streaming {SIZE} bytes");
    assert!(
        grown < 48 * 1024 * 1024,
        "peak memory grew by {grown} bytes for a {SIZE}-byte object"
    );
}

/// A message larger than a blob kept in the database.
fn message(n: usize, body_bytes: usize) -> Vec<u8> {
    let mut m = format!("Subject: message {n}\r\nFrom: bob@example.net\r\n\r\n").into_bytes();
    m.extend(pattern(body_bytes, n as u8).iter().map(|b| b'a' + b % 26));
    m.extend_from_slice(b"\r\n");
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_on_s3_keeps_objects_byte_identical_across_a_restart() {
    let Some(endpoint) = endpoint("a_store_on_s3_keeps_objects_byte_identical_across_a_restart")
    else {
        return;
    };
    let _alone = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        blobs: BlobBackend::S3(new_bucket(&endpoint)),
        ..StoreConfig::new(dir.path())
    };
    let store = Store::open(config.clone()).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    let big = message(1, 2 * 1024 * 1024);
    let small = message(2, 100);
    let mut uids = Vec::new();
    for bytes in [&big, &small] {
        let blob = store.stage_bytes(bytes).await.unwrap();
        let stored = store
            .store_object(&p, &inbox, NewObject::new(blob))
            .await
            .unwrap();
        uids.push(stored.uid);
    }
    // No blob file: the large one is an object, the small one a record.
    assert!(!dir.path().join("blobs").read_dir().unwrap().any(|_| true));
    store.close().await;
    drop(store);

    let store = Store::open(config).unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    for (uid, bytes) in uids.iter().zip([&big, &small]) {
        let reader = store.open_content(&p, &inbox, *uid).await.unwrap();
        assert_eq!(&read_all(reader).await, bytes, "uid {uid}");
    }
    let (object, summary) = store.fetch_object(&p, &inbox, uids[0]).await.unwrap();
    assert_eq!(summary.header("Subject"), Some("message 1"));
    let mut range = store
        .open_blob(&object)
        .await
        .unwrap()
        .content(1000, 5000)
        .await;
    let mut got = Vec::new();
    while let Some(chunk) = range.next_chunk().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, big[1000..6000]);
    // Expunged, its object goes with its last reference.
    store.remove_objects(&p, &inbox, &[uids[0]]).await.unwrap();
    assert!(store.open_blob(&object).await.is_err());
}

/// Sends `method /path` with no body to the test server and returns the
/// status line.
fn s3_request(endpoint: &str, method: &str, path: &str) -> String {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut tcp = std::net::TcpStream::connect(host).expect("connect to the S3 test server");
    write!(
        tcp,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).unwrap();
    reply.lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_object_store_fails_the_store_and_keeps_nothing() {
    let Some(endpoint) = endpoint("a_refusing_object_store_fails_the_store_and_keeps_nothing")
    else {
        return;
    };
    let _alone = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let s3 = new_bucket(&endpoint);
    let bucket = s3.bucket.clone();
    let config = StoreConfig {
        blobs: BlobBackend::S3(s3),
        ..StoreConfig::new(dir.path())
    };
    let store = Store::open(config).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let inbox = FolderRef::own("INBOX");
    // The bucket goes: every upload is refused (404 NoSuchBucket).
    assert!(s3_request(&endpoint, "DELETE", &format!("/{bucket}")).contains(" 204"));
    // Refused when staged (the upload comes first) or, had it been
    // uploaded before, when installed.
    let refused = match store.stage_bytes(&message(1, 100_000)).await {
        Ok(blob) => store
            .store_object(&p, &inbox, NewObject::new(blob))
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(refused.is_err(), "stored without its blob: {refused:?}");
    assert_eq!(
        store.quota(&p).await.unwrap().objects,
        0,
        "nothing half-stored"
    );
    // Back: the same message is stored and read back whole.
    assert!(s3_request(&endpoint, "PUT", &format!("/{bucket}")).contains(" 200"));
    let bytes = message(1, 100_000);
    let blob = store.stage_bytes(&bytes).await.unwrap();
    let stored = store
        .store_object(&p, &inbox, NewObject::new(blob))
        .await
        .unwrap();
    assert_eq!(store.quota(&p).await.unwrap().objects, 1);
    let reader = store.open_content(&p, &inbox, stored.uid).await.unwrap();
    assert_eq!(read_all(reader).await, bytes);
}

#[test]
fn an_unreachable_object_store_is_an_error_at_open() {
    // A port nothing listens on: connection refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        blobs: BlobBackend::S3(s3_config(&url, "absent")),
        ..StoreConfig::new(dir.path())
    };
    // The sweep at open lists the bucket: an unreachable store is an error
    // at start, not an empty listing.
    assert!(
        Store::open(config).is_err(),
        "opened with an unreachable object store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_store_on_s3_holds_each_blob_as_a_file() {
    let Some(endpoint) = endpoint("a_backup_of_a_store_on_s3_holds_each_blob_as_a_file") else {
        return;
    };
    let _alone = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        blobs: BlobBackend::S3(new_bucket(&endpoint)),
        ..StoreConfig::new(dir.path().join("data"))
    };
    let store = Store::open(config).unwrap();
    store.create_account("alice", None, "pw").await.unwrap();
    let p = store.trusted_element("alice").await.unwrap();
    let bytes = message(1, 300_000);
    let blob = store.stage_bytes(&bytes).await.unwrap();
    let id = blob.id;
    store
        .store_object(&p, &FolderRef::own("INBOX"), NewObject::new(blob))
        .await
        .unwrap();
    let target = dir.path().join("backup");
    let manifest = {
        let (store, target) = (store.clone(), target.clone());
        tokio::task::spawn_blocking(move || store.backup(&target))
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!((manifest.blobs, manifest.missing_blobs), (1, 0));
    assert_eq!(manifest.blob_bytes, bytes.len() as u64);
    let hex = id.to_hex();
    let file = target.join("blobs").join(&hex[..2]).join(&hex);
    assert_eq!(std::fs::read(file).unwrap(), bytes);
}
