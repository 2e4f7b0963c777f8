//! The PostgreSQL engine (issue 20, first step) against a real server:
//! the engine contract, then the Store over it. Each test gets a database
//! of its own, created from `CPM_TEST_POSTGRES_URL` (scripts/test.sh starts
//! a private cluster and sets it); without it the tests say so and pass.

use std::sync::Arc;
use std::time::Duration;

use store_core::engine::{
    Engine, EngineErrorKind, PostgresEngine, PostgresSettings, RemoteCommit, Snapshot, WriteBatch,
    MIGRATIONS,
};
use store_core::{FlagUpdate, FolderRef, NewObject, Store, StoreConfig};
use tokio::io::AsyncReadExt;

/// `url` with its database name replaced by `database` (URL form only,
/// as scripts/postgres.sh writes it).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(i) => &base[..authority + i],
        None => base,
    };
    format!("{base}/{database}{query}")
}

/// A fresh, empty database on the test server; `None` (with a message)
/// when `CPM_TEST_POSTGRES_URL` is unset.
fn fresh_database() -> Option<String> {
    let Ok(url) = std::env::var("CPM_TEST_POSTGRES_URL") else {
        eprintln!(
            "CPM_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (scripts/test.sh sets it)"
        );
        return None;
    };
    let name = format!("cpm_test_{}", uuid::Uuid::new_v4().simple());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let task = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        drop(client);
        let _ = task.await;
    });
    Some(with_database(&url, &name))
}

fn settings(url: &str) -> PostgresSettings {
    PostgresSettings {
        url: url.to_string(),
        pool_size: 4,
        timeout: Duration::from_secs(10),
    }
}

fn put(batch: &mut WriteBatch, k: &[u8], v: &[u8]) {
    batch.insert(k.to_vec(), Some(v.to_vec()));
}

#[test]
fn scans_are_in_bytewise_key_order_within_the_prefix() {
    let Some(url) = fresh_database() else { return };
    let engine = PostgresEngine::open(&settings(&url)).unwrap();
    let mut batch = WriteBatch::new();
    for k in [
        &b"\x01\x00"[..],
        b"\x01\x01",
        b"\x01\x7f",
        b"\x01\x80",
        b"\x01\xff",
        b"\x01\xff\xff",
        b"\x01\xff\x00",
        b"\x01",
        b"\x00\xff",
        b"\x02",
        b"\xff\xff",
        b"\xff\xff\x01",
    ] {
        put(&mut batch, k, &[k.len() as u8]);
    }
    engine.commit(batch).unwrap();
    let snap = engine.snapshot().unwrap();
    let keys = snap.scan_keys(b"\x01", b"\x01", usize::MAX).unwrap();
    assert_eq!(
        keys,
        [
            &b"\x01"[..],
            b"\x01\x00",
            b"\x01\x01",
            b"\x01\x7f",
            b"\x01\x80",
            b"\x01\xff",
            b"\x01\xff\x00",
            b"\x01\xff\xff",
        ]
    );
    // From a start inside the prefix, at most `limit`, with values.
    let pairs = snap.scan(b"\x01", b"\x01\x7f", 2).unwrap();
    assert_eq!(
        pairs,
        [
            (b"\x01\x7f".to_vec(), vec![2]),
            (b"\x01\x80".to_vec(), vec![2])
        ]
    );
    // A prefix of 0xFF bytes has no end key: up to the end of the table.
    assert_eq!(
        snap.scan_keys(b"\xff\xff", b"\xff\xff", 10).unwrap(),
        [b"\xff\xff".to_vec(), b"\xff\xff\x01".to_vec()]
    );
    assert_eq!(
        snap.scan_keys(b"\x01\xff", b"\x01\xff", 10).unwrap(),
        [
            b"\x01\xff".to_vec(),
            b"\x01\xff\x00".to_vec(),
            b"\x01\xff\xff".to_vec()
        ]
    );
    assert!(snap.scan(b"\x01", b"\x01", 0).unwrap().is_empty());
    assert_eq!(snap.get(b"\x01\xff\xff").unwrap(), Some(vec![3]));
    assert_eq!(snap.get(b"\x03").unwrap(), None);
}

#[test]
fn a_commit_replaces_deletes_and_splits_large_batches() {
    let Some(url) = fresh_database() else { return };
    let engine = PostgresEngine::open(&settings(&url)).unwrap();
    let mut batch = WriteBatch::new();
    for i in 0u32..2500 {
        put(&mut batch, &[&b"k"[..], &i.to_be_bytes()].concat(), b"one");
    }
    engine.commit(batch).unwrap();
    let mut batch = WriteBatch::new();
    for i in 0u32..2500 {
        let key = [&b"k"[..], &i.to_be_bytes()].concat();
        batch.insert(
            key,
            if i % 2 == 0 {
                None
            } else {
                Some(b"two".to_vec())
            },
        );
    }
    engine.commit(batch).unwrap();
    let pairs = engine
        .snapshot()
        .unwrap()
        .scan(b"k", b"k", usize::MAX)
        .unwrap();
    assert_eq!(pairs.len(), 1250);
    assert!(pairs.iter().all(|(_, v)| v == b"two"));
}

#[test]
fn a_batch_that_fails_midway_leaves_nothing() {
    let Some(url) = fresh_database() else { return };
    let engine = PostgresEngine::open(&settings(&url)).unwrap();
    let mut batch = WriteBatch::new();
    put(&mut batch, b"a", b"before");
    engine.commit(batch).unwrap();
    // Deletes run first, then the upserts in chunks of 1000 rows: the
    // server refuses the last pair (key "z", last in key order, so in the
    // third chunk) by a CHECK constraint, after two chunks went in.
    let (client, runtime) = connect(&url);
    runtime.block_on(async {
        client
            .batch_execute("ALTER TABLE kv ADD CONSTRAINT no_bad CHECK (v <> '\\x626164'::bytea)")
            .await
            .unwrap();
    });
    let mut batch = WriteBatch::new();
    batch.insert(b"a".to_vec(), None);
    for i in 0u32..2999 {
        put(&mut batch, &[&b"n"[..], &i.to_be_bytes()].concat(), b"new");
    }
    put(&mut batch, b"z", b"bad");
    let e = engine.commit(batch).unwrap_err();
    assert_eq!(e.kind, EngineErrorKind::Other, "{e}");
    let snap = engine.snapshot().unwrap();
    assert_eq!(snap.get(b"a").unwrap(), Some(b"before".to_vec()));
    assert!(snap.scan_keys(b"n", b"n", 10).unwrap().is_empty());
    runtime.block_on(async {
        client.batch_execute("SELECT 1").await.unwrap();
    });
}

/// A plain client of the test database, on a runtime of its own.
fn connect(url: &str) -> (tokio_postgres::Client, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    });
    (client, runtime)
}

#[test]
fn a_snapshot_does_not_see_later_commits() {
    let Some(url) = fresh_database() else { return };
    let engine = PostgresEngine::open(&settings(&url)).unwrap();
    let mut batch = WriteBatch::new();
    put(&mut batch, b"x", b"1");
    engine.commit(batch).unwrap();
    // Taken before a commit, first read after it: still the state before.
    let untouched = engine.snapshot().unwrap();
    let before = engine.snapshot().unwrap();
    assert_eq!(before.get(b"x").unwrap(), Some(b"1".to_vec()));
    let mut batch = WriteBatch::new();
    put(&mut batch, b"x", b"2");
    put(&mut batch, b"y", b"new");
    engine.commit(batch).unwrap();
    assert_eq!(untouched.get(b"y").unwrap(), None);
    assert_eq!(before.get(b"x").unwrap(), Some(b"1".to_vec()));
    assert_eq!(before.get(b"y").unwrap(), None);
    assert_eq!(before.scan_keys(b"", b"", 10).unwrap(), [b"x".to_vec()]);
    let after = engine.snapshot().unwrap();
    assert_eq!(after.get(b"x").unwrap(), Some(b"2".to_vec()));
    // More snapshots than the pool has connections, one after another:
    // each dropped one gives its connection back.
    drop((untouched, before, after));
    for _ in 0..20 {
        assert!(engine.snapshot().unwrap().get(b"y").unwrap().is_some());
    }
}

#[test]
fn the_schema_is_versioned_and_a_newer_one_is_refused() {
    let Some(url) = fresh_database() else { return };
    // Several processes opening a new database at once migrate it once,
    // and all of them open it (the nodes of a cluster).
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresEngine::open(&settings(&url)).map(|_| ()))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    let engine = PostgresEngine::open(&settings(&url)).unwrap();
    assert_eq!(engine.schema_version().unwrap() as usize, MIGRATIONS.len());
    drop(engine);
    let (client, runtime) = connect(&url);
    runtime.block_on(async {
        assert_eq!(
            client
                .query_one("SELECT count(*) FROM cpm_store_schema", &[])
                .await
                .unwrap()
                .get::<_, i64>(0),
            1
        );
        client
            .batch_execute("UPDATE cpm_store_schema SET version = 99")
            .await
            .unwrap();
    });
    let e = PostgresEngine::open(&settings(&url)).unwrap_err();
    assert!(
        e.message.contains("version 99") && e.message.contains(&format!("{}", MIGRATIONS.len())),
        "{e}"
    );
}

#[test]
fn an_unreachable_server_is_unavailable_not_a_bug() {
    if std::env::var("CPM_TEST_POSTGRES_URL").is_err() {
        eprintln!("CPM_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped");
        return;
    }
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = PostgresSettings {
        url: format!("postgresql://nobody@127.0.0.1:{port}/none"),
        pool_size: 2,
        timeout: Duration::from_secs(2),
    };
    let e = PostgresEngine::open(&s).unwrap_err();
    assert_eq!(e.kind, EngineErrorKind::Io, "{e}");
}

fn message(n: usize) -> Vec<u8> {
    format!("From: a@example.com\r\nSubject: message {n}\r\n\r\nbody {n}\r\n").into_bytes()
}

async fn open_store(url: &str, dir: &std::path::Path) -> Store {
    let s = settings(url);
    let engine = tokio::task::spawn_blocking(move || PostgresEngine::open(&s))
        .await
        .unwrap()
        .unwrap();
    Store::open_with_engine(StoreConfig::new(dir), Arc::new(engine)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_runs_on_postgresql_and_reads_back_after_reopening() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let inbox = FolderRef::own("INBOX");
    let (uids, modseq_after_flags) = {
        let store = open_store(&url, dir.path()).await;
        store.create_account("alice", None, "pw").await.unwrap();
        let p = store.trusted_element("alice").await.unwrap();
        let mut uids = Vec::new();
        for n in 0..4 {
            let blob = store.stage_bytes(&message(n)).await.unwrap();
            let stored = store
                .store_object(&p, &inbox, NewObject::new(blob))
                .await
                .unwrap();
            assert!(uids.last().is_none_or(|&last| stored.uid > last));
            uids.push(stored.uid);
        }
        let flagged = store
            .update_flags(
                &p,
                &inbox,
                &[uids[0], uids[1]],
                FlagUpdate::Add(["\\Deleted"].iter().collect()),
                None,
            )
            .await
            .unwrap();
        let modseq = flagged.updated.iter().map(|u| u.1).max().unwrap();
        let changes = store.changes_since(&p, &inbox, modseq - 1).await.unwrap();
        assert!(changes.changed.iter().any(|c| c.uid == uids[1]));
        let expunged = store.expunge_deleted(&p, &inbox, &uids).await.unwrap();
        assert_eq!(expunged, vec![uids[0], uids[1]]);
        store.close().await;
        (uids, modseq)
    };
    // Reopened (as after a restart): everything is read back from PostgreSQL.
    let store = open_store(&url, dir.path()).await;
    let accounts = store.list_accounts().await.unwrap();
    assert_eq!(accounts.len(), 1);
    let p = store.trusted_element("alice").await.unwrap();
    let changes = store
        .changes_since(&p, &inbox, modseq_after_flags)
        .await
        .unwrap();
    assert_eq!(changes.vanished, vec![uids[0], uids[1]]);
    let all = store.changes_since(&p, &inbox, 0).await.unwrap();
    assert_eq!(
        all.changed.iter().map(|c| c.uid).collect::<Vec<_>>(),
        vec![uids[2], uids[3]]
    );
    let (object, _) = store.fetch_object(&p, &inbox, uids[3]).await.unwrap();
    let mut bytes = Vec::new();
    store
        .open_blob(&object)
        .await
        .unwrap()
        .read_to_end(&mut bytes)
        .await
        .unwrap();
    assert_eq!(bytes, message(3));
    // UIDs go on from where they were, never reused.
    let blob = store.stage_bytes(&message(9)).await.unwrap();
    let stored = store
        .store_object(&p, &inbox, NewObject::new(blob))
        .await
        .unwrap();
    assert!(stored.uid > uids[3]);
    store.close().await;
}

/// Reads the u64 at `key` (big-endian; 0 when absent).
fn read_u64(snapshot: &dyn Snapshot, key: &[u8]) -> u64 {
    snapshot
        .get(key)
        .unwrap()
        .map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()))
}

#[test]
fn writers_of_several_processes_take_turns_and_lose_no_increment() {
    let Some(url) = fresh_database() else { return };
    // Two engines on one database stand for two nodes; each runs four
    // writer threads doing read-modify-write in their turns.
    let engines: Vec<Arc<PostgresEngine>> = (0..2)
        .map(|_| Arc::new(PostgresEngine::open(&settings(&url)).unwrap()))
        .collect();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let engine = engines[i % 2].clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let txn = engine.begin_write().unwrap();
                    let next = read_u64(&*txn, b"counter") + 1;
                    let mut batch = WriteBatch::new();
                    put(&mut batch, b"counter", &next.to_be_bytes());
                    put(
                        &mut batch,
                        &[b"uid-".as_slice(), &next.to_be_bytes()].concat(),
                        b"",
                    );
                    txn.commit(batch, &[]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // 200 increments, none lost, every value handed out once.
    let snapshot = engines[1].snapshot().unwrap();
    assert_eq!(read_u64(&*snapshot, b"counter"), 200);
    assert_eq!(snapshot.scan(b"uid-", b"uid-", 1000).unwrap().len(), 200);
}

#[test]
fn a_writer_waits_for_the_other_nodes_turn_and_reads_its_commit() {
    let Some(url) = fresh_database() else { return };
    let a = Arc::new(PostgresEngine::open(&settings(&url)).unwrap());
    let b = Arc::new(PostgresEngine::open(&settings(&url)).unwrap());
    let turn = a.begin_write().unwrap();
    let waiter = {
        let b = b.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let txn = b.begin_write().unwrap();
            (started.elapsed(), txn.get(b"k").unwrap())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut batch = WriteBatch::new();
    put(&mut batch, b"k", b"from a");
    turn.commit(batch, &[]).unwrap();
    let (waited, seen) = waiter.join().unwrap();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert_eq!(seen, Some(b"from a".to_vec()));
}

#[test]
fn other_nodes_hear_where_a_commit_moved_the_feed_and_not_their_own() {
    let Some(url) = fresh_database() else { return };
    let a = PostgresEngine::open(&settings(&url)).unwrap();
    let b = PostgresEngine::open(&settings(&url)).unwrap();
    let (tx_a, rx_a) = std::sync::mpsc::channel();
    let (tx_b, rx_b) = std::sync::mpsc::channel();
    assert!(a.watch(Box::new(move |c| tx_a.send(c).unwrap())));
    assert!(b.watch(Box::new(move |c| tx_b.send(c).unwrap())));
    // The LISTEN connections are made in the background.
    std::thread::sleep(Duration::from_millis(500));
    let mut batch = WriteBatch::new();
    put(&mut batch, b"x", b"1");
    a.begin_write()
        .unwrap()
        .commit(batch, &[(7, 41), (9, 3)])
        .unwrap();
    let heard = rx_b.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(heard, RemoteCommit::Moved(vec![(7, 41), (9, 3)]));
    // A commit with nothing to announce is not heard; neither is one's own.
    let mut batch = WriteBatch::new();
    put(&mut batch, b"y", b"1");
    a.commit(batch).unwrap();
    assert!(rx_b.recv_timeout(Duration::from_millis(500)).is_err());
    assert!(rx_a.recv_timeout(Duration::from_millis(100)).is_err());
    // A rolled-back turn announces nothing.
    drop(a.begin_write().unwrap());
    assert!(rx_b.recv_timeout(Duration::from_millis(300)).is_err());
}

#[test]
fn a_lost_connection_is_unavailable_until_recovered() {
    let Some(url) = fresh_database() else { return };
    let engine = PostgresEngine::open(&settings(&url)).unwrap();
    let mut batch = WriteBatch::new();
    put(&mut batch, b"before", b"1");
    engine.commit(batch).unwrap();
    // What a server restart does to every connection of the engine.
    let (client, runtime) = connect(&url);
    runtime.block_on(async {
        client
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .await
            .unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut batch = WriteBatch::new();
    put(&mut batch, b"during", b"2");
    // A pooled connection the engine has not noticed closed fails the
    // commit as unavailable; one it has noticed is replaced at once.
    let during = match engine.commit(batch) {
        Ok(()) => true,
        Err(e) => {
            assert_eq!(e.kind, EngineErrorKind::Io, "{e}");
            false
        }
    };
    // The writer's probe calls recover() until it succeeds.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while engine.recover().is_err() {
        assert!(std::time::Instant::now() < deadline, "never recovered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut batch = WriteBatch::new();
    put(&mut batch, b"after", b"3");
    engine.commit(batch).unwrap();
    let snap = engine.snapshot().unwrap();
    assert_eq!(snap.get(b"before").unwrap(), Some(b"1".to_vec()));
    assert_eq!(
        snap.get(b"during").unwrap(),
        during.then(|| b"2".to_vec()),
        "a commit is kept exactly when it said so"
    );
    assert_eq!(snap.get(b"after").unwrap(), Some(b"3".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_sharing_a_database_share_the_server_secret() {
    let Some(url) = tokio::task::spawn_blocking(fresh_database).await.unwrap() else {
        return;
    };
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open_store(&url, one.path()).await;
    let b = open_store(&url, two.path()).await;
    // Two nodes: one key for SIP nonces, whichever node derives it.
    assert_eq!(a.derive_key("sip-nonce"), b.derive_key("sip-nonce"));
    assert_ne!(a.derive_key("sip-nonce"), a.derive_key("other"));
    assert_ne!(a.node_id(), b.node_id());
    a.close().await;
    b.close().await;
}

/// The connections of the engine (application `cpm-store`) to `url`'s
/// database that use TLS.
fn encrypted_engine_connections(url: &str) -> i64 {
    let (client, runtime) = connect(url);
    runtime.block_on(async {
        client
            .query_one(
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.application_name = 'cpm-store' AND s.ssl \
                 AND a.datname = current_database()",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    })
}

#[test]
fn tls_to_postgresql_checks_the_server_certificate_when_asked() {
    let Some(url) = fresh_database() else { return };
    let Ok(ca) = std::env::var("CPM_TEST_POSTGRES_CA") else {
        eprintln!("CPM_TEST_POSTGRES_CA is not set (scripts/test.sh sets it): TLS test skipped");
        return;
    };
    let with = |params: &str| {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{params}")
    };
    // verify-full against the server's own CA: encrypted, and it works.
    let checked = PostgresEngine::open(&settings(&with(&format!(
        "sslmode=verify-full&sslrootcert={ca}"
    ))))
    .unwrap();
    let mut batch = WriteBatch::new();
    put(&mut batch, b"over tls", b"1");
    checked.commit(batch).unwrap();
    assert!(encrypted_engine_connections(&url) >= 1);
    drop(checked);
    // The same server checked against the system's roots: a self-signed
    // certificate is refused, nothing is sent in clear instead.
    let refused = PostgresEngine::open(&PostgresSettings {
        timeout: Duration::from_secs(3),
        ..settings(&with("sslmode=verify-full"))
    });
    assert!(
        refused.is_err(),
        "a self-signed server certificate was accepted"
    );
    // require: encrypted without checking (libpq's meaning).
    let required = PostgresEngine::open(&settings(&with("sslmode=require"))).unwrap();
    assert!(required
        .snapshot()
        .unwrap()
        .get(b"over tls")
        .unwrap()
        .is_some());
}
