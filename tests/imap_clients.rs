//! Real IMAP clients against `cpm-store serve`: Python's imaplib, mbsync
//! (isync) and curl, each checked for what its user would see.

use std::path::Path;
use std::process::Command;

use e2e_tests::imap::ImapConnection;
use e2e_tests::{require_tool, Server};

fn append(c: &mut ImapConnection, tag: &str, mailbox: &str, message: &str) {
    c.send(
        format!(
            "{tag} APPEND {mailbox} {{{}+}}\r\n{message}\r\n",
            message.len()
        )
        .as_bytes(),
    );
    let r = c.read_until_tagged(tag);
    assert!(r.last().is_some_and(|l| l.contains(" OK ")), "{r:?}");
}

fn message_count(c: &mut ImapConnection, mailbox: &str) -> u32 {
    let r = c.run(&format!("s STATUS \"{mailbox}\" (MESSAGES)"));
    let line = &r[0];
    line.rsplit(' ')
        .next()
        .and_then(|n| n.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("STATUS answer {r:?}"))
}

#[test]
fn python_imaplib_session() {
    require_tool("python3", "python3");
    let server = Server::with_alice();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/imaplib_session.py");
    let out = Command::new("python3")
        .arg(script)
        .args([
            "127.0.0.1",
            &server.imap.port().to_string(),
            &server.imaps.port().to_string(),
            "alice",
            "secret",
        ])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "imaplib session failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn curl_fetches_a_message_over_imap_and_imaps() {
    require_tool("curl", "curl");
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let message = "From: carol@example.com\r\nSubject: for curl\r\n\r\nfetched by curl\r\n";
    append(&mut c, "a", "INBOX", message);
    for url in [
        format!("imap://{}/INBOX;UID=1", server.imap),
        format!("imaps://{}/INBOX;UID=1", server.imaps),
    ] {
        let out = Command::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--insecure",
                "--user",
                "alice:secret",
                &url,
            ])
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), message, "{url}");
    }
    // Wrong password: curl reports a login failure.
    let out = Command::new("curl")
        .args(["--silent", "--user", "alice:nope"])
        .arg(format!("imap://{}/INBOX;UID=1", server.imap))
        .output()
        .expect("run curl");
    assert!(!out.status.success());
}

fn maildir_message(dir: &Path, name: &str, subject: &str) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).expect("maildir");
    }
    let text = format!(
        "From: dave@example.com\r\nTo: alice@example.com\r\nSubject: {subject}\r\n\
Message-ID: <{name}@example.com>\r\n\r\n{subject} body\r\n"
    );
    std::fs::write(dir.join("cur").join(format!("{name}:2,S")), text).expect("write message");
}

fn maildir_count(dir: &Path) -> usize {
    ["cur", "new"]
        .iter()
        .map(|s| std::fs::read_dir(dir.join(s)).map_or(0, |d| d.count()))
        .sum()
}

#[test]
fn mbsync_syncs_a_folder_tree_both_ways_without_loss_or_duplicates() {
    require_tool("mbsync", "isync");
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    append(
        &mut c,
        "a1",
        "INBOX",
        "Subject: on the server\r\n\r\nfrom the server\r\n",
    );

    let local = tempfile::tempdir().expect("temp");
    let root = local.path().join("mail");
    maildir_message(&root.join("INBOX"), "l1", "local one");
    maildir_message(&root.join("INBOX"), "l2", "local two");
    maildir_message(&root.join("Travel"), "t1", "trip");
    maildir_message(&root.join("Travel/2026"), "t2", "trip 2026");

    let config = local.path().join("mbsyncrc");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount cpm\nHost 127.0.0.1\nPort {port}\nUser alice\nPass secret\n\
SSLType IMAPS\nCertificateFile {cert}\n\n\
IMAPStore remote\nAccount cpm\n\n\
MaildirStore local\nPath {root}/\nInbox {root}/INBOX\nSubFolders Verbatim\n\n\
Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\n\
SyncState *\n",
            port = server.imaps.port(),
            cert = server.data_dir().join("tls/cert.pem").display(),
            root = root.display(),
        ),
    )
    .expect("write mbsyncrc");
    let sync = || {
        let out = Command::new("mbsync")
            .args(["-c"])
            .arg(&config)
            .arg("-a")
            .output()
            .expect("run mbsync");
        assert!(
            out.status.success(),
            "mbsync failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };

    // Up and down: the server gets the local tree, the Maildir gets the
    // server's message and folders.
    sync();
    assert_eq!(message_count(&mut c, "INBOX"), 3);
    assert_eq!(message_count(&mut c, "Travel"), 1);
    assert_eq!(message_count(&mut c, "Travel/2026"), 1);
    assert_eq!(maildir_count(&root.join("INBOX")), 3);
    assert!(root.join("Sent/cur").is_dir() && root.join("Archive/cur").is_dir());

    // A change on each side, then a second sync.
    append(&mut c, "a2", "Travel", "Subject: booked\r\n\r\nhotel\r\n");
    let r = c.run("s1 SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 3 EXISTS"), "{r:?}");
    let r = c.run("s2 SEARCH SUBJECT \"local one\"");
    let seq = r[0].trim_start_matches("* SEARCH ").to_string();
    c.run(&format!("s3 STORE {seq} +FLAGS (\\Flagged)"));
    maildir_message(&root.join("Travel/2026"), "t3", "trip 2026 again");
    sync();
    assert_eq!(maildir_count(&root.join("Travel")), 2);
    assert_eq!(message_count(&mut c, "Travel/2026"), 2);
    let flagged: Vec<_> = std::fs::read_dir(root.join("INBOX/cur"))
        .expect("cur")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains('F'))
        .collect();
    assert_eq!(
        flagged.len(),
        1,
        "the server's \\Flagged reached the Maildir"
    );

    // A third sync changes nothing: no duplicates either way.
    sync();
    assert_eq!(message_count(&mut c, "INBOX"), 3);
    assert_eq!(message_count(&mut c, "Travel"), 2);
    assert_eq!(maildir_count(&root.join("INBOX")), 3);
    assert_eq!(maildir_count(&root.join("Travel/2026")), 2);

    // A local deletion reaches the server.
    let victim = std::fs::read_dir(root.join("Travel/cur"))
        .expect("cur")
        .filter_map(|e| e.ok())
        .next()
        .expect("a message");
    std::fs::remove_file(victim.path()).expect("delete");
    sync();
    assert_eq!(message_count(&mut c, "Travel"), 1);
}
