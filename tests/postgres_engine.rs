//! The binary on the PostgreSQL engine (`[store] engine = "postgres"`,
//! issue 20, first step): the admin commands and an IMAP round trip,
//! across a restart, with the records in PostgreSQL and none in redb.
//! Skipped, said so, without `CPM_TEST_POSTGRES_URL` (scripts/test.sh
//! starts a private cluster and sets it).

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::{postgres_database, succeeded, Server};

const MESSAGE: &str = "From: bob@example.com\r\nSubject: kept in PostgreSQL\r\n\r\nHello over a networked engine.\r\n";

/// The literal of `BODY[]` in a FETCH response's lines (the reader keeps
/// a literal in its line: `* 1 FETCH (BODY[] {N}\r\n<N bytes> ...`).
fn fetched_body(lines: &[String]) -> String {
    let text = lines.concat();
    let Some(at) = text.find("BODY[] {") else {
        return String::new();
    };
    let rest = &text[at + "BODY[] {".len()..];
    let Some((n, rest)) = rest.split_once("}\r\n") else {
        return String::new();
    };
    let n: usize = n.parse().unwrap_or(0);
    rest.get(..n).unwrap_or_default().to_string()
}

#[test]
fn the_binary_serves_imap_and_admin_commands_from_postgresql() {
    let Some(url) = postgres_database() else {
        return;
    };
    let mut server = Server::new();
    server.use_postgres(&url);

    // What the operator sees: the engine, and the URL (no password here).
    let check = succeeded(&server.command(&["check"], ""));
    assert!(check.contains("engine = \"postgres\""), "{check}");

    // With the server down, the CLI opens the engine itself.
    server.add_account("alice", "secret");
    server.start();

    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let r = c.run(&format!(
        "A APPEND INBOX {{{}+}}\r\n{MESSAGE}",
        MESSAGE.len()
    ));
    assert!(tagged(&r).starts_with("A OK [APPENDUID"), "{r:?}");
    let r = c.run("S SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 1 EXISTS"), "{r:?}");
    let r = c.run("F FETCH 1 BODY[]");
    assert!(tagged(&r).starts_with("F OK"), "{r:?}");
    assert_eq!(fetched_body(&r), MESSAGE, "{r:?}");
    drop(c);

    // With the server up, the commands go through its admin endpoint.
    server.add_account("bob", "other");
    let list = succeeded(&server.command(&["account", "list"], ""));
    let logins: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(logins, ["alice", "bob"], "{list}");

    // Restarted, it reads everything back from PostgreSQL; redb was never used.
    assert_eq!(server.terminate(), Some(0));
    server.start();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    c.run("S SELECT INBOX");
    let r = c.run("F FETCH 1 BODY[]");
    assert_eq!(fetched_body(&r), MESSAGE, "{r:?}");
    assert!(
        !server.data_dir().join("store.redb").exists(),
        "the embedded engine's file was created"
    );
    let list = succeeded(&server.command(&["account", "list"], ""));
    assert!(list.lines().any(|l| l.starts_with("bob")), "{list}");

    // A backup of the running server restores into another database.
    let backup = server.dir.path().join("backup");
    succeeded(&server.command(&["backup", backup.to_str().unwrap()], ""));
    let Some(other) = postgres_database() else {
        return;
    };
    let mut restored = Server::new();
    restored.use_postgres(&other);
    let out = succeeded(&restored.command(&["restore", backup.to_str().unwrap()], ""));
    assert!(out.contains("into PostgreSQL"), "{out}");
    assert!(!restored.data_dir().join("store.redb").exists());
    restored.start();
    let mut c = ImapConnection::login(restored.imap, "alice", "secret");
    c.run("S SELECT INBOX");
    let r = c.run("F FETCH 1 BODY[]");
    assert_eq!(fetched_body(&r), MESSAGE, "{r:?}");
    // A database that holds a store already is not overwritten.
    assert_eq!(restored.terminate(), Some(0));
    let fresh_dir = restored.dir.path().join("fresh");
    let again = restored.command(
        &[
            "--data-dir",
            fresh_dir.to_str().unwrap(),
            "restore",
            backup.to_str().unwrap(),
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && stderr.contains("not empty"),
        "{stderr}"
    );
}
