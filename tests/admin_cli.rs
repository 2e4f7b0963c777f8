//! The administration commands against the real binary, each with the
//! server down (on the files) and up (through the admin endpoint):
//! `account show`, `folder list|create|rename|delete`, `expunge
//! --before`, `check`, `health`, the data-dir rule (`--create`), `/readyz`
//! and the retention policy, whose expunges reach a selected IMAP session.

use std::process::Output;
use std::time::{Duration, Instant};

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::{succeeded, Server};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr(out)
}

/// APPENDs a small message with INTERNALDATE `date` (IMAP date-time).
fn append(c: &mut ImapConnection, folder: &str, subject: &str, date: Option<&str>) {
    let m = format!("From: bob@example.com\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n");
    let date = date.map(|d| format!(" \"{d}\"")).unwrap_or_default();
    let r = c.run(&format!("A APPEND {folder}{date} {{{}+}}\r\n{m}", m.len()));
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
}

/// The row of `folder list` for `name`, split at tabs.
fn folder_row(listing: &str, name: &str) -> Option<Vec<String>> {
    listing
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
        .find(|cols| cols[0] == name)
}

fn show_value(show: &str, key: &str) -> String {
    show.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")))
        .unwrap_or_else(|| panic!("no {key} in {show}"))
        .to_string()
}

/// The folder commands and `account show`, once on the files and once
/// through the running server: the same answers.
#[test]
fn account_show_and_folder_commands_work_with_the_server_down_and_up() {
    let mut server = Server::new();
    server.add_account_with_address("alice", "secret", "sip:alice@example.com");
    for up in [false, true] {
        if up {
            server.start();
        }
        let (a, b) = if up { ("Up", "Up2") } else { ("Down", "Down2") };
        let out = succeeded(&server.command(
            &["folder", "create", "alice", a, "--special-use", "\\Flagged"],
            "",
        ));
        assert!(out.starts_with(&format!("created {a}")), "{out}");
        let listing = succeeded(&server.command(&["folder", "list", "alice"], ""));
        assert_eq!(
            listing.lines().next(),
            Some("name\tspecial_use\tuidvalidity\tmessages\tunseen\tsize\thighestmodseq")
        );
        let row = folder_row(&listing, a).expect("the new folder is listed");
        assert_eq!(row[1], "\\Flagged");
        assert_eq!(row[3..6], ["0", "0", "0"]);
        let inbox = folder_row(&listing, "INBOX").expect("INBOX");
        assert_eq!(inbox[1], "-");
        assert_eq!(folder_row(&listing, "Sent").expect("Sent")[1], "\\Sent");
        // The rules IMAP obeys: an existing name, INBOX, a bad special use.
        let e = failed(&server.command(&["folder", "create", "alice", a], ""));
        assert!(e.contains("exists"), "{e}");
        let e = failed(&server.command(&["folder", "delete", "alice", "INBOX"], ""));
        assert!(e.contains("INBOX"), "{e}");
        let e = failed(&server.command(
            &["folder", "create", "alice", "X", "--special-use", "\\Bogus"],
            "",
        ));
        assert!(e.contains("special use"), "{e}");
        succeeded(&server.command(&["folder", "rename", "alice", a, b], ""));
        let listing = succeeded(&server.command(&["folder", "list", "alice"], ""));
        assert!(folder_row(&listing, a).is_none(), "{listing}");
        assert!(folder_row(&listing, b).is_some(), "{listing}");
        succeeded(&server.command(&["folder", "delete", "alice", b], ""));
        let listing = succeeded(&server.command(&["folder", "list", "alice"], ""));
        assert!(folder_row(&listing, b).is_none(), "{listing}");
        let e = failed(&server.command(&["folder", "list", "nobody"], ""));
        assert!(e.contains("no such account"), "{e}");

        let show = succeeded(&server.command(&["account", "show", "alice"], ""));
        assert_eq!(show_value(&show, "login"), "alice");
        assert_eq!(show_value(&show, "address"), "sip:alice@example.com");
        assert_eq!(show_value(&show, "folders"), "5", "{show}");
        if !up {
            assert_eq!(show_value(&show, "last login"), "never");
            assert_eq!(show_value(&show, "objects"), "0");
        }
    }
    // A login over IMAP is recorded (to the hour) and the message counted.
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    append(&mut c, "INBOX", "one", None);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let show = succeeded(&server.command(&["account", "show", "alice"], ""));
        let last = show_value(&show, "last login");
        if last != "never" {
            assert!(last.ends_with(":00:00Z (to the hour)"), "{last}");
            assert_eq!(show_value(&show, "objects"), "1");
            assert!(
                show_value(&show, "quota").contains("1 objects of unlimited"),
                "{show}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no last login: {show}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // And it is on disk: the server down, the files say the same.
    c.run("Z LOGOUT");
    server.terminate();
    let show = succeeded(&server.command(&["account", "show", "alice"], ""));
    assert_ne!(show_value(&show, "last login"), "never");
}

/// `expunge --before` removes exactly the objects stored before the date,
/// a selected session is told, and it works with the server down too.
#[test]
fn expunge_before_removes_the_old_objects_only_up_and_down() {
    let mut server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    append(&mut c, "INBOX", "old1", Some("01-Jan-2020 10:00:00 +0000"));
    append(&mut c, "INBOX", "new", None);
    append(&mut c, "INBOX", "old2", Some("15-Jun-2020 10:00:00 +0000"));
    let mut watcher = ImapConnection::login(server.imap, "alice", "secret");
    let r = watcher.run("S SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 3 EXISTS"), "{r:?}");

    let e = failed(&server.command(
        &["expunge", "alice", "--folder", "INBOX", "--before", "soon"],
        "",
    ));
    assert!(e.contains("YYYY-MM-DD"), "{e}");
    let out = succeeded(&server.command(
        &[
            "expunge",
            "alice",
            "--folder",
            "INBOX",
            "--before",
            "2021-01-01",
        ],
        "",
    ));
    assert_eq!(out.trim(), "expunged 2 object(s) from INBOX");
    let r = watcher.run("N NOOP");
    let expunges: Vec<&String> = r.iter().filter(|l| l.ends_with(" EXPUNGE")).collect();
    assert_eq!(expunges.len(), 2, "{r:?}");
    let r = watcher.run("F FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    let subjects: Vec<&String> = r.iter().filter(|l| l.contains("Subject:")).collect();
    assert_eq!(subjects.len(), 1, "{r:?}");
    assert!(subjects[0].contains("Subject: new"), "{r:?}");
    watcher.run("Z LOGOUT");
    c.run("Z LOGOUT");

    server.terminate();
    let out = succeeded(&server.command(
        &[
            "expunge",
            "alice",
            "--folder",
            "INBOX",
            "--before",
            "2021-01-01",
        ],
        "",
    ));
    assert_eq!(out.trim(), "expunged 0 object(s) from INBOX");
    let out = succeeded(&server.command(
        &[
            "expunge",
            "alice",
            "--folder",
            "INBOX",
            "--before",
            "2999-01-01T00:00:00Z",
        ],
        "",
    ));
    assert_eq!(out.trim(), "expunged 1 object(s) from INBOX");
    let listing = succeeded(&server.command(&["folder", "list", "alice"], ""));
    assert_eq!(folder_row(&listing, "INBOX").expect("INBOX")[3], "0");
    let e = failed(&server.command(
        &[
            "expunge",
            "alice",
            "--folder",
            "Nope",
            "--before",
            "2021-01-01",
        ],
        "",
    ));
    assert!(e.contains("no such folder"), "{e}");
}

/// The retention policy expunges exactly the objects older than the
/// rule's maximum age, in the folders it names, and a session that has
/// the folder selected gets the EXPUNGE.
///
/// The data goes in with no retention policy; the server is then started
/// again with one, so that no retention run falls between two APPENDs or
/// before the watching session has seen the old objects (such a run
/// expunges objects the session was never told of, and it is told of
/// nothing).
#[test]
fn retention_expunges_exactly_the_old_objects_and_sessions_are_told() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.start();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let r = c.run("C CREATE Keep");
    assert!(tagged(&r).starts_with("C OK"), "{r:?}");
    // Two old ones in INBOX (one just past the age), one old in a folder
    // the rule does not name, two recent ones.
    let just_old = {
        // 31 days ago, as an IMAP date-time.
        let out = std::process::Command::new("date")
            .args(["-u", "-d", "31 days ago", "+%d-%b-%Y %H:%M:%S +0000"])
            .output()
            .expect("date");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let almost_old = {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", "29 days ago", "+%d-%b-%Y %H:%M:%S +0000"])
            .output()
            .expect("date");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    append(
        &mut c,
        "INBOX",
        "ancient",
        Some("01-Jan-2001 00:00:00 +0000"),
    );
    append(&mut c, "INBOX", "just-old", Some(&just_old));
    append(&mut c, "INBOX", "almost-old", Some(&almost_old));
    append(&mut c, "INBOX", "new", None);
    append(
        &mut c,
        "Keep",
        "ancient-kept",
        Some("01-Jan-2001 00:00:00 +0000"),
    );
    drop(c);
    server.terminate();
    // The first retention run comes `interval_seconds` after the start
    // (the task waits before each run); the watcher selects INBOX as soon
    // as the server is up, and its 4 EXISTS show it has seen the old ones.
    let config = server.config();
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(
        "[retention]\ninterval_seconds = 2\n\
         [[retention.rule]]\nname = \"old inbox\"\nfolders = \"IN%\"\nmax_age_days = 30\n",
    );
    std::fs::write(&config, text).expect("config");
    server.start();
    let mut watcher = ImapConnection::login(server.imap, "alice", "secret");
    let r = watcher.run("S SELECT INBOX");
    assert!(
        r.iter().any(|l| l == "* 4 EXISTS"),
        "INBOX selected after a retention run: {r:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|l: &&String| l.ends_with(" EXPUNGE"))
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "no EXPUNGE: {seen:?}");
        std::thread::sleep(Duration::from_millis(200));
        seen.extend(watcher.run("N NOOP"));
    }
    let r = watcher.run("F UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    let subjects: Vec<String> = r
        .iter()
        .filter_map(|l| l.split("Subject: ").nth(1))
        .map(|s| s.split("\r\n").next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(subjects, ["almost-old", "new"], "{r:?}");
    let listing = succeeded(&server.command(&["folder", "list", "alice"], ""));
    assert_eq!(folder_row(&listing, "Keep").expect("Keep")[3], "1");
    assert_eq!(folder_row(&listing, "INBOX").expect("INBOX")[3], "2");
}

/// `check` prints what differs from the defaults (all with `--all`),
/// and refuses a bad file naming the key and line.
#[test]
fn check_prints_the_effective_settings_and_refuses_a_bad_file() {
    let server = Server::new();
    let out = succeeded(&server.command(&["check"], ""));
    assert!(out.contains("[store]\ndata_dir = "), "{out}");
    assert!(out.contains("shutdown_grace_seconds = 5"), "{out}");
    assert!(!out.contains("max_command_bytes"), "{out}");
    assert!(!out.contains("[auth]"), "{out}");
    let all = succeeded(&server.command(&["check", "--all"], ""));
    assert!(all.contains("max_command_bytes = 262144"), "{all}");
    assert!(all.contains("[auth]"), "{all}");
    assert!(all.contains("interval_seconds = 3600"), "{all}");
    // Check works on the file alone: no data dir is made or needed.
    std::fs::remove_dir(server.data_dir()).expect("remove the empty data dir");
    succeeded(&server.command(&["check"], ""));
    assert!(!server.data_dir().exists());

    let config = server.config();
    let good = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        format!("{good}[auth]\nlogin_failures_before_throtle = 3\n"),
    )
    .expect("write");
    let e = failed(&server.command(&["check"], ""));
    assert!(
        e.contains("login_failures_before_throtle") && e.contains("line"),
        "{e}"
    );
    std::fs::write(
        &config,
        format!("{good}[[retention.rule]]\nkind = \"chat\"\nmax_age_days = 3\n"),
    )
    .expect("write");
    let e = failed(&server.command(&["check"], ""));
    assert!(e.contains("chat") && e.contains("line"), "{e}");
    std::fs::write(
        &config,
        format!("{good}[[retention.rule]]\nmax_age_days = 3\n"),
    )
    .expect("write");
    let e = failed(&server.command(&["check"], ""));
    assert!(e.contains("retention.rule"), "{e}");
}

/// `health` exits 1 with the reason while nothing answers and 0 once the
/// server is up; `/readyz` says ready once it is.
#[test]
fn health_and_readiness() {
    let mut server = Server::new();
    let e = failed(&server.command(&["health"], ""));
    assert!(e.contains(&server.admin.to_string()), "{e}");
    assert_eq!(server.command(&["health"], "").status.code(), Some(1));
    server.start();
    let out = succeeded(&server.command(&["health"], ""));
    assert_eq!(out.trim(), "ok");
    assert_eq!(server.http_get("/readyz").as_deref(), Some("ready\n"));
    assert_eq!(server.http_get("/healthz").as_deref(), Some("ok\n"));
    server.terminate();
    failed(&server.command(&["health"], ""));
}

/// Commands other than `serve` refuse to make a data dir that does not
/// exist (a mistyped path), unless `--create`; a file in its place and
/// a held database have their own messages.
#[test]
fn a_missing_data_dir_is_refused_unless_create() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    let typo = server.dir.path().join("dta");
    let typo_arg = typo.to_str().expect("utf-8 path");
    for args in [
        vec!["account", "list"],
        vec!["account", "show", "alice"],
        vec!["account", "token", "alice"],
        vec!["folder", "list", "alice"],
        vec![
            "expunge",
            "alice",
            "--folder",
            "INBOX",
            "--before",
            "2020-01-01",
        ],
    ] {
        let mut all = vec!["--data-dir", typo_arg];
        all.extend(args.iter());
        let e = failed(&server.command(&all, ""));
        assert!(
            e.contains(&format!(
                "data dir {typo_arg} does not exist; start `cpm-store serve` once or pass --create"
            )),
            "{args:?}: {e}"
        );
        assert!(!typo.exists(), "{args:?} made the data dir");
    }
    let out = server.command(
        &[
            "--data-dir",
            typo_arg,
            "--create",
            "account",
            "add",
            "bob",
            "--password-stdin",
        ],
        "pw\n",
    );
    succeeded(&out);
    assert!(typo.is_dir(), "--create made no data dir");
    if e2e_tests::engine() == e2e_tests::Engine::Redb {
        assert!(typo.join("store.redb").exists());
    }
    // A file where the directory should be.
    let file = server.dir.path().join("afile");
    std::fs::write(&file, b"x").expect("write");
    let e = failed(&server.command(
        &[
            "--data-dir",
            file.to_str().expect("utf-8"),
            "account",
            "list",
        ],
        "",
    ));
    assert!(e.contains("is not a directory"), "{e}");
    // The server's store, through a config whose admin port the running
    // server does not answer on (so the command opens the store itself).
    server.start();
    let other = server.dir.path().join("other.toml");
    let own = std::fs::read_to_string(server.config()).expect("read config");
    let own_admin = format!("[admin]\nlisten = [\"{}\"]\n", server.admin);
    assert!(own.contains(&own_admin), "{own}");
    std::fs::write(
        &other,
        own.replacen(
            &own_admin,
            &format!("[admin]\nlisten = [\"{}\"]\n", e2e_tests::free_addr()),
            1,
        ),
    )
    .expect("write");
    let out = std::process::Command::new(e2e_tests::binary())
        .args(["account", "list", "--config"])
        .arg(&other)
        .output()
        .expect("run");
    if e2e_tests::engine() == e2e_tests::Engine::Redb {
        // store.redb is held by the running server: "in use", not a
        // permission error.
        let e = failed(&out);
        assert!(e.contains("open in another process"), "{e}");
        assert!(!e.contains("permission"), "{e}");
    } else {
        // A PostgreSQL database is held by no process: every node and
        // the command line use it at once.
        let listed = succeeded(&out);
        assert!(listed.lines().any(|l| l.starts_with("alice")), "{listed}");
    }
}

/// A data dir this user may not read is reported as a permission error
/// naming the path and uid. Root ignores modes, so this runs only as
/// another user; the classification itself is unit-tested in the
/// supervisor (serve.rs) for every user.
#[test]
fn an_unreadable_data_dir_is_a_permission_error() {
    use std::os::unix::fs::PermissionsExt;
    if rustix::process::geteuid().is_root() {
        eprintln!("skipped: root ignores file modes (see the supervisor's unit test)");
        return;
    }
    let server = Server::new();
    server.add_account("alice", "secret");
    let data = server.data_dir();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let e = failed(&server.command(&["account", "list"], ""));
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    assert!(e.contains("permission denied on"), "{e}");
    assert!(e.contains("uid"), "{e}");
    assert!(!e.contains("another"), "{e}");
}
