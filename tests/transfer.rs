//! `cpm-store import | export | backup | restore` against the real binary
//! (issue 19): Maildir and mbox round trips keep bytes, flags and dates, a
//! second import adds nothing, with the server up (admin endpoint) and
//! down (the files); a backup taken while eight IMAP APPEND streams run
//! restores every message acknowledged before it started, byte for byte,
//! with its UID and UIDVALIDITY.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::{succeeded, Server};

/// Maildir info letters the generator uses (no `P`: IMAP has no flag for it).
const FLAG_SETS: [&str; 7] = ["", "S", "RS", "F", "DS", "FRST", "ST"];

/// A generated message: CRLF lines, a Message-ID (but every tenth has
/// none), some with body lines beginning "From " (mbox quoting), sizes
/// from 200 bytes to over 16 KiB (blob files, not database values).
fn message(tag: &str, i: usize) -> Vec<u8> {
    let mut m = String::new();
    if i % 10 != 3 {
        m.push_str(&format!("Message-ID: <{tag}-{i}@transfer.test>\r\n"));
    }
    m.push_str(&format!(
        "From: sender{i}@example.com\r\nTo: alice@example.com\r\nSubject: {tag} message {i}\r\n\r\n"
    ));
    if i.is_multiple_of(7) {
        m.push_str("From here on, a line that mbox must quote.\r\n>From already quoted\r\n\r\nFrom the start of a paragraph\r\n");
    }
    let lines = if i.is_multiple_of(50) {
        400
    } else {
        3 + i % 20
    };
    for l in 0..lines {
        m.push_str(&format!(
            "line {l} of message {i} in {tag}, some text to fill it\r\n"
        ));
    }
    m.into_bytes()
}

/// Writes `count` messages into a Maildir at `dir`: the root and the
/// Maildir++ subfolders `.Sent` and `.Archive.2024`, varied flags (some
/// in `new/` without info) and mtimes. Returns what each folder holds.
fn make_maildir(dir: &Path, count: usize) -> BTreeMap<String, Vec<Entry>> {
    let subdirs = ["", ".Sent", ".Archive.2024"];
    for sub in subdirs {
        for d in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub).join(d)).unwrap();
        }
    }
    for i in 0..count {
        let sub = subdirs[if i % 5 == 1 {
            1
        } else if i % 5 == 2 {
            2
        } else {
            0
        }];
        let bytes = message("md", i);
        let flags = FLAG_SETS[i % FLAG_SETS.len()];
        let path = if i % 11 == 0 {
            dir.join(sub).join("new").join(format!("{i}.M1P1.gen"))
        } else {
            dir.join(sub)
                .join("cur")
                .join(format!("{i}.M1P1.gen:2,{flags}"))
        };
        std::fs::write(&path, &bytes).unwrap();
        let mtime = UNIX_EPOCH + Duration::from_secs(1_600_000_000 + 3_607 * i as u64);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
    read_maildir(dir)
}

/// One message as a Maildir holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    bytes: Vec<u8>,
    /// The info letters, sorted.
    flags: String,
    mtime: i64,
}

/// Every folder of the Maildir at `dir` (root "", `.A.B` as "A.B"), its
/// messages sorted.
fn read_maildir(dir: &Path) -> BTreeMap<String, Vec<Entry>> {
    let mut out = BTreeMap::new();
    let mut folders = vec![(String::new(), dir.to_path_buf())];
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = name.strip_prefix('.') {
            if entry.file_type().unwrap().is_dir() {
                folders.push((name.to_string(), entry.path()));
            }
        }
    }
    for (name, path) in folders {
        let mut entries = Vec::new();
        for sub in ["cur", "new"] {
            let Ok(files) = std::fs::read_dir(path.join(sub)) else {
                continue;
            };
            for file in files {
                let file = file.unwrap();
                let file_name = file.file_name().to_string_lossy().into_owned();
                let mut flags: Vec<char> = file_name
                    .split_once(":2,")
                    .map(|(_, f)| f.chars().collect())
                    .unwrap_or_default();
                flags.sort();
                entries.push(Entry {
                    bytes: std::fs::read(file.path()).unwrap(),
                    flags: flags.into_iter().collect(),
                    mtime: file.metadata().unwrap().mtime(),
                });
            }
        }
        entries.sort();
        out.insert(name, entries);
    }
    out
}

fn run(server: &Server, args: &[&str]) -> String {
    succeeded(&server.command(args, ""))
}

fn failed(server: &Server, args: &[&str]) -> String {
    let out = server.command(args, "");
    assert!(
        !out.status.success(),
        "{args:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_maildir_of_1000_messages_round_trips_through_maildir_and_mbox_up_and_down() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.add_account("bob", "secret");
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    let original = make_maildir(&source, 1000);
    assert_eq!(
        original.values().map(Vec::len).sum::<usize>(),
        1000,
        "the generator"
    );

    // Server down: the CLI works on the files.
    let out = run(&server, &["import", "alice", "--maildir", path(&source)]);
    assert!(out.contains("imported 1000 messages"), "{out}");

    server.start();
    // Server up: the same commands go through its admin endpoint.
    let again = run(&server, &["import", "alice", "--maildir", path(&source)]);
    assert!(
        again.contains("imported 0 messages") && again.contains("1000 already there"),
        "a second import added messages: {again}"
    );
    let mut imap = ImapConnection::login(server.imap, "alice", "secret");
    let status = imap.run("S STATUS INBOX (MESSAGES)");
    assert!(status[0].contains("MESSAGES 600"), "{status:?}");

    let exported = work.path().join("exported");
    let out = run(&server, &["export", "alice", "--maildir", path(&exported)]);
    assert!(out.contains("exported 1000 messages"), "{out}");
    let back = read_maildir(&exported);
    for (name, folder) in [
        ("", "INBOX"),
        ("Sent", "Sent"),
        ("Archive.2024", "Archive/2024"),
    ] {
        assert_eq!(
            back.get(name),
            original.get(name),
            "folder {folder}: bytes, flags or dates differ after the round trip"
        );
    }
    for (name, entries) in &back {
        if !["", "Sent", "Archive.2024"].contains(&name.as_str()) {
            assert!(entries.is_empty(), "folder {name} was not imported into");
        }
    }

    // mbox: export with the server up, import into bob with it down.
    let mboxes = work.path().join("mbox");
    run(
        &server,
        &[
            "export",
            "alice",
            "--mbox",
            path(&mboxes),
            "--folder",
            "INBOX",
        ],
    );
    let inbox_mbox = mboxes.join("INBOX.mbox");
    let text = std::fs::read(&inbox_mbox).unwrap();
    assert!(
        text.windows(16).any(|w| w == b"\r\n>From here on,"),
        "a body line beginning \"From \" is not quoted"
    );
    server.terminate();
    let out = run(&server, &["import", "bob", "--mbox", path(&inbox_mbox)]);
    assert!(out.contains("imported 600 messages"), "{out}");
    let out = run(&server, &["import", "bob", "--mbox", path(&inbox_mbox)]);
    assert!(out.contains("imported 0 messages"), "{out}");
    let from_mbox = work.path().join("from-mbox");
    run(
        &server,
        &[
            "export",
            "bob",
            "--maildir",
            path(&from_mbox),
            "--folder",
            "INBOX",
        ],
    );
    assert_eq!(
        read_maildir(&from_mbox).get(""),
        original.get(""),
        "the mbox round trip changed bytes, flags or dates"
    );
}

#[test]
fn an_oversized_message_is_refused_with_a_line_and_the_rest_imported() {
    let server = Server::new();
    server.add_account("alice", "secret");
    server.set_settings("imap", "max_append_bytes = 4096\n");
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("md");
    make_maildir(&source, 60);
    let out = server.command(&["import", "alice", "--maildir", path(&source)], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = succeeded(&out);
    // Messages 0 and 50 have 400 lines: larger than 4096 bytes.
    assert!(
        stdout.contains("imported 58 messages") && stdout.contains("2 refused"),
        "{stdout}"
    );
    assert!(stderr.contains("max_append_bytes"), "{stderr}");
}

/// An acknowledged APPEND: UIDVALIDITY, UID, the bytes, when its OK came.
type Acked = (u32, u32, Vec<u8>, SystemTime);

/// Appends `body` with LITERAL+; returns (UIDVALIDITY, UID) from APPENDUID.
fn append(imap: &mut ImapConnection, tag: &str, body: &[u8]) -> Option<(u32, u32)> {
    let mut command = format!("{tag} APPEND INBOX {{{}+}}\r\n", body.len()).into_bytes();
    command.extend_from_slice(body);
    command.extend_from_slice(b"\r\n");
    imap.send(&command);
    let lines = imap.read_until_tagged(tag);
    let line = tagged(&lines);
    let rest = line.split_once("[APPENDUID ")?.1;
    let mut numbers = rest
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .split(' ');
    let validity = numbers.next()?.parse().ok()?;
    let uid = numbers.next()?.trim_end_matches(']').parse().ok()?;
    Some((validity, uid))
}

#[test]
fn a_backup_during_eight_append_streams_restores_every_acknowledged_message() {
    let server = Server::with_alice();
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let streams: Vec<_> = (0..8)
        .map(|s| {
            let (stop, acked, addr) = (stop.clone(), acked.clone(), server.imap);
            std::thread::spawn(move || {
                let mut imap = ImapConnection::login(addr, "alice", "secret");
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let body = message(&format!("stream{s}"), i);
                    let (validity, uid) = append(&mut imap, "A", &body).expect("APPENDUID");
                    acked
                        .lock()
                        .unwrap()
                        .push((validity, uid, body, SystemTime::now()));
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("backup");
    let started = SystemTime::now();
    let out = run(&server, &["backup", path(&backup)]);
    assert!(out.contains("backup:"), "{out}");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for s in streams {
        s.join().unwrap();
    }
    let acked = acked.lock().unwrap();
    let before: Vec<_> = acked.iter().filter(|a| a.3 < started).collect();
    assert!(
        before.len() > 50,
        "too few appends before the backup: {}",
        before.len()
    );
    assert!(
        acked.len() > before.len(),
        "no append ran during or after the backup"
    );

    // A backup does not overwrite: a second one into the same DIR fails.
    let refused = failed(&server, &["backup", path(&backup)]);
    assert!(refused.contains("not empty"), "{refused}");

    let mut restored = Server::new();
    let out = run(&restored, &["restore", path(&backup)]);
    assert!(out.contains("restored:"), "{out}");
    // Not into a data directory that holds something.
    let refused = failed(&restored, &["restore", path(&backup)]);
    assert!(refused.contains("not empty"), "{refused}");
    restored.start();
    let mut imap = ImapConnection::login(restored.imap, "alice", "secret");
    let select = imap.run("S SELECT INBOX");
    let validity = before[0].0;
    assert!(
        select
            .iter()
            .any(|l| l.contains(&format!("[UIDVALIDITY {validity}]"))),
        "{select:?}"
    );
    for (n, (v, uid, body, _)) in before.iter().enumerate() {
        assert_eq!(*v, validity);
        let tag = format!("F{n}");
        let lines = imap.run(&format!("{tag} UID FETCH {uid} BODY.PEEK[]"));
        assert!(
            tagged(&lines).starts_with(&format!("{tag} OK")),
            "{lines:?}"
        );
        let fetched = lines
            .iter()
            .find(|l| l.contains(&format!("UID {uid} ")) || l.contains(&format!("UID {uid})")))
            .unwrap_or_else(|| panic!("UID {uid} is missing after the restore: {lines:?}"));
        let literal = fetched
            .split_once("}\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        let want = String::from_utf8_lossy(body);
        assert!(
            literal.starts_with(want.as_ref()) && literal.len() <= want.len() + 1,
            "UID {uid} differs after the restore"
        );
    }
}

#[test]
fn backup_and_restore_work_with_the_server_down_and_refuse_what_they_would_overwrite() {
    let server = Server::new();
    server.add_account("alice", "secret");
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("md");
    let original = make_maildir(&source, 40);
    run(&server, &["import", "alice", "--maildir", path(&source)]);
    let busy = work.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("file"), b"x").unwrap();
    let refused = failed(&server, &["backup", path(&busy)]);
    assert!(refused.contains("not empty"), "{refused}");
    let backup = work.path().join("backup");
    let out = run(&server, &["backup", path(&backup)]);
    assert!(out.contains("backup:"), "{out}");
    assert!(backup.join("manifest.json").exists());
    assert!(!backup.join("admin.token").exists());

    let restored = Server::new();
    run(&restored, &["restore", path(&backup)]);
    let exported: PathBuf = work.path().join("exported");
    run(
        &restored,
        &["export", "alice", "--maildir", path(&exported)],
    );
    let back = read_maildir(&exported);
    assert_eq!(back.get(""), original.get(""));
    assert_eq!(back.get("Sent"), original.get("Sent"));
}
