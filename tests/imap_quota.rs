//! QUOTA (RFC 9208) against `cpm-store serve`: GETQUOTAROOT and GETQUOTA
//! with STORAGE and MESSAGE, SETQUOTA for quota administrators only,
//! [OVERQUOTA] on APPEND, COPY and MOVE, the [ALERT] another session gets
//! when the account reaches 90 % and 100 %, STATUS DELETED(-STORAGE).

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;

fn message(n: usize) -> String {
    // 1,000 bytes each.
    let head = format!("From: bob@example.com\r\nSubject: {n:04}\r\n\r\n");
    format!("{head}{}", "x".repeat(1000 - head.len()))
}

fn append(c: &mut ImapConnection, tag: &str, mailbox: &str, n: usize) -> Vec<String> {
    let m = message(n);
    c.run(&format!("{tag} APPEND {mailbox} {{{}+}}\r\n{m}", m.len()))
}

#[test]
fn quota_roots_limits_refusals_and_alerts() {
    let mut server = Server::new();
    server.set_settings("imap", "quota_admins = [\"admin\"]\n");
    server.add_account("alice", "secret");
    server.add_account("admin", "secret");
    server.start();
    let mut alice = ImapConnection::login(server.imap, "alice", "secret");
    let caps = alice.run("c CAPABILITY");
    for cap in [
        " QUOTA ",
        " QUOTA=RES-STORAGE ",
        " QUOTA=RES-MESSAGE ",
        " QUOTASET ",
    ] {
        assert!(caps[0].contains(cap), "{cap} in {}", caps[0]);
    }
    for n in 0..3 {
        assert!(tagged(&append(&mut alice, "a", "INBOX", n)).contains("OK"));
    }
    // No limit yet: the root exists with no resource.
    let lines = alice.run("q GETQUOTAROOT INBOX");
    assert_eq!(lines[0], "* QUOTAROOT \"INBOX\" \"\"");
    assert_eq!(lines[1], "* QUOTA \"\" ()");
    // Only an administrator sets limits, on any account's root.
    let lines = alice.run("s SETQUOTA \"\" (STORAGE 100)");
    assert!(tagged(&lines).starts_with("s NO [NOPERM]"), "{lines:?}");
    let mut admin = ImapConnection::login(server.imap, "admin", "secret");
    let lines = admin.run("s SETQUOTA alice (STORAGE 5 MESSAGE 5)");
    assert_eq!(lines[0], "* QUOTA alice (STORAGE 3 5 MESSAGE 3 5)");
    assert!(tagged(&lines).starts_with("s OK"));
    let lines = admin.run("s SETQUOTA nobody (STORAGE 5)");
    assert!(
        tagged(&lines).starts_with("s NO [NONEXISTENT]"),
        "{lines:?}"
    );
    let lines = alice.run("g GETQUOTA \"\"");
    assert_eq!(lines[0], "* QUOTA \"\" (STORAGE 3 5 MESSAGE 3 5)");

    // A second session of alice's watches. The fourth message (4,000 of
    // 5,120 bytes, 4 of 5 messages) reaches no level; the fifth reaches
    // 90 % of STORAGE (4,608 bytes) and all of MESSAGE.
    let mut watcher = ImapConnection::login(server.imap, "alice", "secret");
    watcher.run("n NOOP");
    assert!(tagged(&append(&mut alice, "a", "INBOX", 3)).contains("OK"));
    let lines = watcher.run("n NOOP");
    assert!(!lines.iter().any(|l| l.contains("[ALERT]")), "{lines:?}");
    assert!(tagged(&append(&mut alice, "a", "INBOX", 4)).contains("OK"));
    let lines = watcher.run("n NOOP");
    let alerts: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("* OK [ALERT]"))
        .collect();
    assert_eq!(alerts.len(), 2, "{lines:?}");
    assert!(alerts[0].contains("90% of its STORAGE quota (5000 of 5120 bytes)"));
    assert!(alerts[1].contains("100% of its MESSAGE quota (5 of 5 messages)"));
    // Full: APPEND, COPY and MOVE that would exceed it are refused.
    let lines = append(&mut alice, "a", "INBOX", 5);
    assert!(tagged(&lines).starts_with("a NO [OVERQUOTA]"), "{lines:?}");
    alice.run("c CREATE other");
    alice.run("s SELECT INBOX");
    let lines = alice.run("c COPY 1 other");
    assert!(tagged(&lines).starts_with("c NO [OVERQUOTA]"), "{lines:?}");
    // STATUS tells what expunging would free.
    alice.run("d STORE 1:2 +FLAGS (\\Deleted)");
    let lines = alice.run("t STATUS INBOX (DELETED DELETED-STORAGE MESSAGES)");
    assert_eq!(
        lines[0],
        "* STATUS \"INBOX\" (DELETED 2 DELETED-STORAGE 2 MESSAGES 5)"
    );
    alice.run("x EXPUNGE");
    let lines = alice.run("q GETQUOTAROOT INBOX");
    assert_eq!(lines[1], "* QUOTA \"\" (STORAGE 3 5 MESSAGE 3 5)");
    let lines = alice.run("m MOVE 1 other");
    assert!(
        tagged(&lines).contains("OK"),
        "moving within the account is free: {lines:?}"
    );
    // Lifting the limits.
    let lines = admin.run("s SETQUOTA alice ()");
    assert_eq!(lines[0], "* QUOTA alice ()");
    assert!(tagged(&append(&mut alice, "a", "INBOX", 9)).contains("OK"));
}
