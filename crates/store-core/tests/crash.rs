//! The crash test of issue 2: a writer in a child process is killed with
//! SIGKILL mid-stream, many times; after each kill the store is reopened and
//! must hold every object whose write had returned, with a UIDNEXT above
//! every UID ever acknowledged.
//!
//! The child is this same test binary, run with `CRASH_CHILD_DIR` set: the
//! `crash_child` test then appends forever, printing each acknowledged UID.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use store_core::{FolderRef, NewObject, Store, StoreConfig};

const ROUNDS: usize = 12;

fn body(uid_hint: usize) -> Vec<u8> {
    // Distinct and large enough that blob writes take a little time.
    let mut b = format!("Subject: crash {uid_hint}\r\n\r\n").into_bytes();
    b.extend(std::iter::repeat_n(b'x', 8192 + uid_hint % 1000));
    b.extend_from_slice(b"\r\n");
    b
}

#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("CRASH_CHILD_DIR") else {
        return; // Only meaningful as the child of `acknowledged_objects_survive_sigkill`.
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let store = Store::open(StoreConfig::new(&dir)).unwrap();
        let p = store.trusted_element("crash").await.unwrap();
        let mut n = 0usize;
        loop {
            let mut tasks = Vec::new();
            for _ in 0..4 {
                n += 1;
                let (store, p, bytes) = (store.clone(), p.clone(), body(n));
                tasks.push(tokio::spawn(async move {
                    let blob = store.stage_bytes(&bytes).await.unwrap();
                    let s = store
                        .store_object(&p, &FolderRef::own("INBOX"), NewObject::new(blob))
                        .await
                        .unwrap();
                    (s.uid, bytes.len())
                }));
            }
            for t in tasks {
                let (uid, len) = t.await.unwrap();
                println!("ack {uid} {len}");
            }
        }
    });
}

#[test]
fn acknowledged_objects_survive_sigkill() {
    if std::env::var("CRASH_CHILD_DIR").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        store.create_account("crash", None, "pw").await.unwrap();
        store.close().await;
    });
    let mut acknowledged: Vec<(u32, usize)> = Vec::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env("CRASH_CHILD_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Kill after a varying number of acknowledgements, mid-stream.
        let kill_after = 5 + round * 7;
        let mut seen = 0;
        let start = Instant::now();
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(rest) = line.strip_prefix("ack ") {
                let mut it = rest.split(' ');
                let uid: u32 = it.next().unwrap().parse().unwrap();
                let len: usize = it.next().unwrap().parse().unwrap();
                acknowledged.push((uid, len));
                seen += 1;
                if seen >= kill_after {
                    break;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "child made no progress"
            );
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Reopen: everything acknowledged is there, whole, and UIDNEXT is past it.
        rt.block_on(async {
            let store = Store::open(StoreConfig::new(dir.path())).unwrap();
            let p = store.trusted_element("crash").await.unwrap();
            let inbox = FolderRef::own("INBOX");
            let sel = store.select_folder(&p, &inbox).await.unwrap();
            let max = acknowledged.iter().map(|(u, _)| *u).max().unwrap_or(0);
            assert!(
                sel.folder.uid_next > max,
                "round {round}: UIDNEXT {} <= acked {max}",
                sel.folder.uid_next
            );
            for (uid, len) in &acknowledged {
                let (object, summary) = store
                    .fetch_object(&p, &inbox, *uid)
                    .await
                    .unwrap_or_else(|e| panic!("round {round}: acked UID {uid} lost: {e}"));
                assert_eq!(object.size as usize, *len);
                assert!(summary
                    .header("Subject")
                    .is_some_and(|s| s.starts_with("crash ")));
                let mut blob = store.open_content(&p, &inbox, *uid).await.unwrap();
                let mut content = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut blob, &mut content)
                    .await
                    .unwrap();
                assert_eq!(content.len(), *len, "round {round}: UID {uid} content");
            }
            assert_eq!(sel.uids.len() as u32, sel.folder.objects);
            store.close().await;
        });
    }
    assert!(acknowledged.len() >= ROUNDS * 5);
}
