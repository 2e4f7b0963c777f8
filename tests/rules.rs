//! One set of rules for every protocol (issue 15): rules that store-core
//! enforces once, seen from each front end against the real binary.
//! WebDAV locks stop IMAP writes (`NO [INUSE]`, RFC 5530) until UNLOCK;
//! every 423 names the locked resource (RFC 4918 9.10.6, 16); only
//! administrators set quotas (RFC 9208 4.3); the `Shared/` namespace is
//! reserved over every protocol; folder names with `%` and `*` work over
//! WebDAV (rclone) and IMAP; concurrent PUTs to one new name all succeed.

use std::path::Path;
use std::process::{Command, Output};

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::{require_tool, succeeded as ok, Server};

/// Alice's credentials, as curl takes them.
const ALICE: &str = "alice:s3cret";

fn server_with(accounts: &[(&str, &str)]) -> Server {
    let mut server = Server::new();
    for (login, password) in accounts {
        server.add_account(login, password);
    }
    server.start();
    server
}

fn dav(server: &Server, path: &str) -> String {
    format!("http://{}/dav/{path}", server.webdav)
}

/// Runs curl with `args`, `-i` (headers included); stdout as text.
fn curl(args: &[&str]) -> String {
    let out: Output = Command::new("curl")
        .args(["-s", "-S", "-i"])
        .args(args)
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The status code of a curl `-i` response.
fn code(response: &str) -> u16 {
    response
        .lines()
        .rfind(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

/// A header's value in a curl `-i` response.
fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

const LOCKINFO: &str = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\">\
<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>\
<D:owner>rules test</D:owner></D:lockinfo>";

/// LOCKs `/dav/{path}` as alice with `depth`; the lock token.
fn lock(server: &Server, path: &str, depth: &str) -> String {
    let r = curl(&[
        "-u",
        ALICE,
        "-X",
        "LOCK",
        "-H",
        &format!("Depth: {depth}"),
        "-H",
        "Content-Type: application/xml",
        "--data-binary",
        LOCKINFO,
        &dav(server, path),
    ]);
    assert_eq!(code(&r), 200, "{r}");
    header(&r, "lock-token")
        .and_then(|t| t.strip_prefix('<'))
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or_else(|| panic!("no Lock-Token: {r}"))
        .to_string()
}

fn unlock(server: &Server, path: &str, token: &str) {
    let r = curl(&[
        "-u",
        ALICE,
        "-X",
        "UNLOCK",
        "-H",
        &format!("Lock-Token: <{token}>"),
        &dav(server, path),
    ]);
    assert_eq!(code(&r), 204, "{r}");
}

fn put_bytes(server: &Server, path: &str, body: &Path, extra: &[&str]) -> String {
    let mut args = vec!["-u", ALICE, "-T", body.to_str().unwrap()];
    for h in extra {
        args.extend(["-H", h]);
    }
    let url = dav(server, path);
    args.push(&url);
    curl(&args)
}

fn assert_tagged(lines: &[String], start: &str) {
    assert!(tagged(lines).starts_with(start), "{lines:?}");
}

#[test]
fn a_webdav_lock_holds_up_imap_writes_until_unlock() {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret")]);
    let r = curl(&["-u", ALICE, "-X", "MKCOL", &dav(&server, "alice/Trip")]);
    assert_eq!(code(&r), 201, "{r}");
    let file = server.dir.path().join("a.txt");
    std::fs::write(&file, "locked content\n").unwrap();
    assert_eq!(
        code(&put_bytes(&server, "alice/Trip/a.txt", &file, &[])),
        201
    );
    assert_eq!(
        code(&put_bytes(&server, "alice/Trip/b.txt", &file, &[])),
        201
    );

    let token = lock(&server, "alice/Trip/a.txt", "0");
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    assert_tagged(&imap.run("s SELECT Trip"), "s OK");
    // Flags are not protected by a WebDAV lock (documented choice).
    assert_tagged(&imap.run("f UID STORE 1 +FLAGS (\\Deleted)"), "f OK");
    let r = imap.run("e EXPUNGE");
    assert_tagged(&r, "e NO [INUSE]");
    assert!(
        !r.iter()
            .any(|l| l.contains("EXPUNGE") && l.starts_with('*')),
        "{r:?}"
    );
    assert_tagged(&imap.run("m UID MOVE 1 INBOX"), "m NO [INUSE]");
    assert_tagged(&imap.run("r RENAME Trip Voyage"), "r NO [INUSE]");
    assert_tagged(&imap.run("u UNSELECT"), "u OK");
    assert_tagged(&imap.run("d DELETE Trip"), "d NO [INUSE]");
    // Another message of the folder is not locked: its move goes through.
    assert_tagged(&imap.run("s SELECT Trip"), "s OK");
    assert_tagged(&imap.run("m UID MOVE 2 INBOX"), "m OK");

    // WebDAV without the token: 423 naming the locked resource.
    let r = curl(&[
        "-u",
        ALICE,
        "-X",
        "DELETE",
        &dav(&server, "alice/Trip/a.txt"),
    ]);
    assert_eq!(code(&r), 423, "{r}");
    assert!(
        r.contains("<D:lock-token-submitted><D:href>/dav/alice/Trip/a.txt</D:href></D:lock-token-submitted>"),
        "{r}"
    );
    let r = curl(&[
        "-u",
        ALICE,
        "-X",
        "MOVE",
        "-H",
        &format!("Destination: {}", dav(&server, "alice/Elsewhere")),
        &dav(&server, "alice/Trip"),
    ]);
    assert_eq!(code(&r), 423, "{r}");
    assert!(r.contains("<D:href>/dav/alice/Trip/a.txt</D:href>"), "{r}");

    unlock(&server, "alice/Trip/a.txt", &token);
    let r = imap.run("e EXPUNGE");
    assert_tagged(&r, "e OK");
    assert!(r.iter().any(|l| l == "* 1 EXPUNGE"), "{r:?}");
    assert_tagged(&imap.run("u UNSELECT"), "u OK");
    assert_tagged(&imap.run("r RENAME Trip Voyage"), "r OK");
}

#[test]
fn a_depth_infinity_lock_holds_up_append_and_its_token_lets_webdav_through() {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret")]);
    let r = curl(&["-u", ALICE, "-X", "MKCOL", &dav(&server, "alice/Album")]);
    assert_eq!(code(&r), 201, "{r}");
    let token = lock(&server, "alice/Album", "infinity");
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    imap.send(b"a APPEND Album {11+}\r\nHello world\r\n");
    let r = imap.read_until_tagged("a");
    assert_tagged(&r, "a NO [INUSE]");
    assert_tagged(&imap.run("c CREATE Album/Sub"), "c NO [INUSE]");

    // WebDAV: refused without the token, stored with it.
    let file = server.dir.path().join("p.txt");
    std::fs::write(&file, "photo\n").unwrap();
    let r = put_bytes(&server, "alice/Album/p.txt", &file, &[]);
    assert_eq!(code(&r), 423, "{r}");
    assert!(r.contains("<D:href>/dav/alice/Album</D:href>"), "{r}");
    let with_token = format!("If: (<{token}>)");
    let r = put_bytes(&server, "alice/Album/p.txt", &file, &[&with_token]);
    assert_eq!(code(&r), 201, "{r}");

    unlock(&server, "alice/Album", &token);
    imap.send(b"a APPEND Album {11+}\r\nHello world\r\n");
    assert_tagged(&imap.read_until_tagged("a"), "a OK");
}

fn rclone(server: &Server, args: &[&str]) -> Output {
    let obscured = Command::new("rclone")
        .args(["obscure", "s3cret"])
        .output()
        .expect("rclone obscure");
    let pass = String::from_utf8_lossy(&obscured.stdout).trim().to_string();
    Command::new("rclone")
        .args(args)
        .env("RCLONE_CONFIG", server.dir.path().join("rclone.conf"))
        .env("RCLONE_CONFIG_X_TYPE", "webdav")
        .env("RCLONE_CONFIG_X_URL", dav(server, "alice"))
        .env("RCLONE_CONFIG_X_VENDOR", "other")
        .env("RCLONE_CONFIG_X_USER", "alice")
        .env("RCLONE_CONFIG_X_PASS", pass)
        .output()
        .expect("run rclone")
}

/// Every file below `root`, as (relative path, bytes), sorted.
fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn rclone_round_trips_names_with_wildcards_and_imap_lists_them() {
    require_tool("rclone", "rclone");
    let server = server_with(&[("alice", "s3cret")]);
    let local = server.dir.path().join("up");
    let dirs = ["Done 100%", "What*", "Hash #1", "Why?", "Trip 🌴"];
    for (i, d) in dirs.iter().enumerate() {
        std::fs::create_dir_all(local.join(d)).unwrap();
        std::fs::write(
            local.join(d).join(format!("{d} file.txt")),
            format!("{i}\n"),
        )
        .unwrap();
        std::fs::write(
            local.join(d).join("50% off *now*?.bin"),
            vec![i as u8; 5000],
        )
        .unwrap();
    }
    ok(&rclone(
        &server,
        &["copy", local.to_str().unwrap(), "x:Sync"],
    ));
    let down = server.dir.path().join("down");
    ok(&rclone(
        &server,
        &["copy", "x:Sync", down.to_str().unwrap()],
    ));
    assert_eq!(tree(&local), tree(&down));

    // The folders are IMAP mailboxes; wildcards in names are matched only
    // as pattern characters (RFC 3501 6.3.8).
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let r = imap.run("l LIST \"\" \"Sync/*\"");
    for d in ["Done 100%", "What*", "Hash #1", "Why?"] {
        assert!(
            r.iter().any(|l| l.ends_with(&format!(" \"Sync/{d}\""))),
            "{d}: {r:?}"
        );
    }
    let r = imap.run("l LIST \"\" \"Sync/%\"");
    assert_eq!(
        r.iter().filter(|l| l.starts_with("* LIST")).count(),
        5,
        "{r:?}"
    );
    let r = imap.run("l LIST \"\" \"Sync/Done 100%\"");
    assert!(
        r.iter().any(|l| l.ends_with(" \"Sync/Done 100%\"")),
        "{r:?}"
    );
    assert_tagged(&imap.run("s SELECT \"Sync/What*\""), "s OK");
    let r = imap.run("f FETCH 1:* (RFC822.SIZE)");
    assert_eq!(r.iter().filter(|l| l.starts_with("* ")).count(), 2, "{r:?}");
}

#[test]
fn imap_creates_folders_with_wildcards_and_webdav_serves_them() {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret")]);
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    assert_tagged(&imap.run("c CREATE \"Done 100%\""), "c OK");
    imap.send(b"c CREATE {5+}\r\nWhat*\r\n");
    assert_tagged(&imap.read_until_tagged("c"), "c OK");
    let r = imap.run("l LIST \"\" \"*\"");
    assert!(r.iter().any(|l| l.ends_with(" \"Done 100%\"")), "{r:?}");
    assert!(r.iter().any(|l| l.ends_with(" \"What*\"")), "{r:?}");
    let r = imap.run("l LIST \"\" \"Done 100%\"");
    assert_eq!(
        r.iter().filter(|l| l.starts_with("* LIST")).count(),
        1,
        "{r:?}"
    );
    // `%` in a pattern matches any characters but the delimiter only.
    let r = imap.run("l LIST \"\" \"Done%\"");
    assert!(r.iter().any(|l| l.ends_with(" \"Done 100%\"")), "{r:?}");
    assert_tagged(&imap.run("r RENAME \"What*\" \"What*/Now\""), "r NO");
    assert_tagged(&imap.run("r RENAME \"What*\" \"Why?\""), "r OK");

    let r = curl(&[
        "-u",
        ALICE,
        "-X",
        "PROPFIND",
        "-H",
        "Depth: 0",
        &dav(&server, "alice/Done%20100%25/"),
    ]);
    assert_eq!(code(&r), 207, "{r}");
    let r = curl(&[
        "-u",
        ALICE,
        "-X",
        "MKCOL",
        &dav(&server, "alice/Done%20100%25/50%25%20*"),
    ]);
    assert_eq!(code(&r), 201, "{r}");
    let r = imap.run("l LIST \"\" \"Done 100%/*\"");
    assert!(
        r.iter().any(|l| l.ends_with(" \"Done 100%/50% *\"")),
        "{r:?}"
    );
}

#[test]
fn no_protocol_creates_a_folder_in_the_shared_namespace() {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret"), ("bob", "s3cret")]);
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    for name in ["Shared", "Shared/x", "Shared/bob/x"] {
        let r = imap.run(&format!("c CREATE \"{name}\""));
        assert_tagged(&r, "c NO");
    }
    assert_tagged(&imap.run("c CREATE Work"), "c OK");
    assert_tagged(&imap.run("r RENAME Work Shared/Work"), "r NO");
    let r = curl(&["-u", ALICE, "-X", "MKCOL", &dav(&server, "alice/Shared")]);
    assert_eq!(code(&r), 403, "{r}");
    // Its parent is missing (RFC 4918 9.3.1: 409), and stays so.
    let r = curl(&["-u", ALICE, "-X", "MKCOL", &dav(&server, "alice/Shared/x")]);
    assert_eq!(code(&r), 409, "{r}");
    let r = curl(&[
        "-u",
        ALICE,
        "-X",
        "MOVE",
        "-H",
        &format!("Destination: {}", dav(&server, "alice/Shared")),
        &dav(&server, "alice/Work"),
    ]);
    assert_eq!(code(&r), 403, "{r}");
    let r = imap.run("l LIST \"\" \"*\"");
    assert!(!r.iter().any(|l| l.contains("Shared")), "{r:?}");
    // A folder whose lower level is called Shared is fine.
    assert_tagged(&imap.run("c CREATE Work/Shared"), "c OK");
}

#[test]
fn only_administrators_set_quotas_and_listrights_needs_a() {
    require_tool("curl", "curl");
    let mut server = Server::new();
    for login in ["alice", "bob", "root"] {
        server.add_account(login, "s3cret");
    }
    server.set_settings("imap", "quota_admins = [\"root\"]\n");
    server.start();
    let mut alice = ImapConnection::login(server.imap, "alice", "s3cret");
    // RFC 9208 4.3 leaves who may set limits to the server: not a user.
    assert_tagged(
        &alice.run("q SETQUOTA \"\" (STORAGE 100000)"),
        "q NO [NOPERM]",
    );
    assert_tagged(&alice.run("q GETQUOTA bob"), "q NO [NONEXISTENT]");
    let mut root = ImapConnection::login(server.imap, "root", "s3cret");
    let r = root.run("q SETQUOTA alice (MESSAGE 5)");
    assert_tagged(&r, "q OK");
    assert!(
        r.iter().any(|l| l == "* QUOTA alice (MESSAGE 0 5)"),
        "{r:?}"
    );
    let r = alice.run("q GETQUOTA \"\"");
    assert!(r.iter().any(|l| l == "* QUOTA \"\" (MESSAGE 0 5)"), "{r:?}");

    // LISTRIGHTS needs `a` (RFC 4314 4); without `l` the folder is absent.
    assert_tagged(&alice.run("c CREATE Team"), "c OK");
    let mut bob = ImapConnection::login(server.imap, "bob", "s3cret");
    assert_tagged(
        &bob.run("l LISTRIGHTS Shared/alice/Team bob"),
        "l NO [NONEXISTENT]",
    );
    assert_tagged(&alice.run("a SETACL Team bob lrw"), "a OK");
    assert_tagged(
        &bob.run("l LISTRIGHTS Shared/alice/Team bob"),
        "l NO [NOPERM]",
    );
    assert_tagged(&alice.run("a SETACL Team bob lrwa"), "a OK");
    let r = bob.run("l LISTRIGHTS Shared/alice/Team alice");
    assert_tagged(&r, "l OK");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* LISTRIGHTS \"Shared/alice/Team\" alice lrswipkxtea")),
        "{r:?}"
    );

    // LOCK needs `i` (store-core's rule): `w` alone cannot hold up the
    // owner's writes.
    let file = server.dir.path().join("t.txt");
    std::fs::write(&file, "team\n").unwrap();
    assert_eq!(
        code(&put_bytes(&server, "alice/Team/t.txt", &file, &[])),
        201
    );
    let lock_as_bob = |server: &Server| {
        curl(&[
            "-u",
            "bob:s3cret",
            "-X",
            "LOCK",
            "-H",
            "Depth: 0",
            "--data-binary",
            LOCKINFO,
            &dav(server, "alice/Team/t.txt"),
        ])
    };
    let r = lock_as_bob(&server);
    assert_eq!(code(&r), 403, "{r}");
    assert_tagged(&alice.run("a SETACL Team bob lrwia"), "a OK");
    let r = lock_as_bob(&server);
    assert_eq!(code(&r), 200, "{r}");
}

#[test]
fn concurrent_puts_to_one_new_name_all_succeed_and_the_last_wins() {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret")]);
    let r = curl(&["-u", ALICE, "-X", "MKCOL", &dav(&server, "alice/Race")]);
    assert_eq!(code(&r), 201, "{r}");
    let bodies: Vec<Vec<u8>> = (0..10u8).map(|i| vec![b'a' + i; 300_000]).collect();
    let files: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let f = server.dir.path().join(format!("body{i}"));
            std::fs::write(&f, b).unwrap();
            f
        })
        .collect();
    let url = dav(&server, "alice/Race/same.bin");
    let codes: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|f| {
                let url = url.clone();
                s.spawn(move || code(&curl(&["-u", ALICE, "-T", f.to_str().unwrap(), &url])))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(codes.iter().all(|c| *c == 201 || *c == 204), "{codes:?}");
    // Only the first to commit created the name; the others replaced it
    // (RFC 9110 9.3.4: 204 for a replaced representation).
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    let out = Command::new("curl")
        .args(["-s", "-u", ALICE, &url])
        .output()
        .unwrap();
    assert!(
        bodies.contains(&out.stdout),
        "GET returned {} bytes, not one body whole",
        out.stdout.len()
    );
    // One resource of that name remains.
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let r = imap.run("s STATUS Race (MESSAGES)");
    assert!(r.iter().any(|l| l.contains("(MESSAGES 1)")), "{r:?}");
}

/// Ten PUTs at once to `url` with the header `condition`: their codes.
fn parallel_puts(server: &Server, url: &str, condition: &str) -> Vec<u16> {
    let files: Vec<_> = (0..10u8)
        .map(|i| {
            let f = server.dir.path().join(format!("cond{i}"));
            std::fs::write(&f, vec![b'a' + i; 300_000]).unwrap();
            f
        })
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|f| {
                let f = f.to_str().unwrap();
                s.spawn(move || code(&curl(&["-u", ALICE, "-H", condition, "-T", f, url])))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Review finding 3: a conditional PUT never loses an update (RFC 9110
/// 13.1.1, 13.1.2): of concurrent PUTs conditional on one state, one
/// wins and the others get 412.
#[test]
fn concurrent_conditional_puts_lose_no_update() {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret")]);
    let r = curl(&["-u", ALICE, "-X", "MKCOL", &dav(&server, "alice/Cond")]);
    assert_eq!(code(&r), 201, "{r}");
    // If-None-Match: * on a new name: one creates it.
    let url = dav(&server, "alice/Cond/new.bin");
    let codes = parallel_puts(&server, &url, "If-None-Match: *");
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 201 || *c == 412), "{codes:?}");
    // If-Match on the current ETag, then the same through an entity tag
    // in the If header (RFC 4918 10.4): one replaces it.
    for condition in ["If-Match: {}", "If: ([{}])"] {
        let r = curl(&["-u", ALICE, "-I", &url]);
        let etag = header(&r, "etag").unwrap_or_else(|| panic!("{r}"));
        let codes = parallel_puts(&server, &url, &condition.replace("{}", etag));
        assert_eq!(codes.iter().filter(|c| **c == 204).count(), 1, "{codes:?}");
        assert!(codes.iter().all(|c| *c == 204 || *c == 412), "{codes:?}");
    }
}

/// A LOCK request as alice: `scope` exclusive or shared, extra headers.
fn lock_request(server: &Server, path: &str, scope: &str, extra: &[&str]) -> String {
    let body = format!(
        "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\">\
<D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
    );
    let mut args = vec!["-u", ALICE, "-X", "LOCK"];
    for h in extra {
        args.extend(["-H", h]);
    }
    let url = dav(server, path);
    args.extend(["--data-binary", &body, &url]);
    curl(&args)
}

/// Review finding 8: a LOCK that conflicts gets 423 with
/// `DAV:no-conflicting-lock` naming the lock in the way (RFC 4918
/// 9.10.6, 16), not `lock-token-submitted`.
#[test]
fn a_conflicting_lock_gets_no_conflicting_lock() {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret")]);
    let r = curl(&["-u", ALICE, "-X", "MKCOL", &dav(&server, "alice/Desk")]);
    assert_eq!(code(&r), 201, "{r}");
    let file = server.dir.path().join("d.txt");
    std::fs::write(&file, "desk\n").unwrap();
    let r = put_bytes(&server, "alice/Desk/d.txt", &file, &[]);
    assert_eq!(code(&r), 201, "{r}");
    lock(&server, "alice/Desk", "infinity");
    let r = lock_request(&server, "alice/Desk/d.txt", "exclusive", &[]);
    assert_eq!(code(&r), 423, "{r}");
    assert!(
        r.contains(
            "<D:no-conflicting-lock><D:href>/dav/alice/Desk</D:href></D:no-conflicting-lock>"
        ),
        "{r}"
    );
    assert!(!r.contains("lock-token-submitted"), "{r}");
}

/// Review finding 7: a LOCK of a new URL in a collection the client has
/// locked itself keeps the client's tokens for the empty file it creates.
#[test]
fn locking_a_new_url_under_a_held_collection_lock_keeps_the_submitted_token() {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret")]);
    let r = curl(&["-u", ALICE, "-X", "MKCOL", &dav(&server, "alice/Shed")]);
    assert_eq!(code(&r), 201, "{r}");
    let r = lock_request(&server, "alice/Shed", "shared", &["Depth: infinity"]);
    assert_eq!(code(&r), 200, "{r}");
    let token = header(&r, "lock-token").unwrap().to_string();
    let r = lock_request(
        &server,
        "alice/Shed/new.txt",
        "shared",
        &[&format!("If: ({token})")],
    );
    assert_eq!(code(&r), 201, "{r}");
    let r = curl(&["-u", ALICE, "-I", &dav(&server, "alice/Shed/new.txt")]);
    assert_eq!(code(&r), 200, "{r}");
}

/// Review finding 5: a lock taken through another spelling of the folder
/// (`inbox`) protects the message IMAP sees in INBOX.
#[test]
fn a_lock_through_another_spelling_still_holds_up_imap() {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret")]);
    let file = server.dir.path().join("a.txt");
    std::fs::write(&file, "locked content\n").unwrap();
    let r = put_bytes(&server, "alice/INBOX/a.txt", &file, &[]);
    assert_eq!(code(&r), 201, "{r}");
    let token = lock(&server, "alice/inbox/a.txt", "0");
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    assert_tagged(&imap.run("s SELECT INBOX"), "s OK");
    assert_tagged(&imap.run("f UID STORE 1 +FLAGS (\\Deleted)"), "f OK");
    assert_tagged(&imap.run("e EXPUNGE"), "e NO [INUSE]");
    // UNLOCK through either spelling finds it.
    unlock(&server, "alice/INBOX/a.txt", &token);
    assert_tagged(&imap.run("e EXPUNGE"), "e OK");
}

/// A SCRAM-SHA-256 client (RFC 5802, RFC 7677) over IMAP AUTHENTICATE with
/// SASL-IR, in Python's standard library: prints each line the server
/// sends. argv: host, port, user, password.
const SCRAM_CLIENT: &str = r#"
import base64, hashlib, hmac, socket, sys
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port)); f = s.makefile("rb")
print(f.readline().decode().strip())
bare = "n=%s,r=fyko+d2lbbFgONRv9qkxdawL" % user
s.sendall(b"a AUTHENTICATE SCRAM-SHA-256 " + base64.b64encode(("n,," + bare).encode()) + b"\r\n")
line = f.readline().decode().strip(); print(line)
server_first = base64.b64decode(line[2:]).decode()
attrs = dict(a.split("=", 1) for a in server_first.split(","))
salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
stored_key = hashlib.sha256(client_key).digest()
without_proof = "c=biws,r=" + attrs["r"]
auth = ",".join([bare, server_first, without_proof]).encode()
signature = hmac.new(stored_key, auth, hashlib.sha256).digest()
proof = bytes(x ^ y for x, y in zip(client_key, signature))
final = without_proof + ",p=" + base64.b64encode(proof).decode()
s.sendall(base64.b64encode(final.encode()) + b"\r\n")
line = f.readline().decode().strip(); print(line)
if line.startswith("+ "):
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expected = "v=" + base64.b64encode(hmac.new(server_key, auth, hashlib.sha256).digest()).decode()
    print("server-signature " + ("ok" if base64.b64decode(line[2:]).decode() == expected else "BAD"))
    s.sendall(b"\r\n")
    print(f.readline().decode().strip())
"#;

fn scram_login(server: &Server, user: &str, password: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", SCRAM_CLIENT])
        .arg(server.imap.ip().to_string())
        .arg(server.imap.port().to_string())
        .args([user, password])
        .output()
        .expect("run python3");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Review finding 4: SCRAM-SHA-256 runs in store-core and still logs in
/// (RFC 7677), with the server's signature; a wrong password gets NO.
#[test]
fn scram_sha_256_logs_in_with_store_core_verifying_the_proof() {
    require_tool("python3", "python3");
    let server = server_with(&[("alice", "s3cret")]);
    let out = scram_login(&server, "alice", "s3cret");
    assert!(out.contains("server-signature ok"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("a OK")), "{out}");
    let out = scram_login(&server, "alice", "wrong");
    assert!(out.lines().any(|l| l.starts_with("a NO")), "{out}");
    assert!(!out.contains("server-signature"), "{out}");
}

/// Review findings 1 and 2 from the client side: the owner UNLOCKs a
/// grantee's lock (RFC 3744 3.5 `DAV:unlock`), and a new account of a
/// removed login inherits none of its locks.
#[test]
fn the_owner_unlocks_a_grantees_lock_and_a_removed_account_leaves_none() {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret"), ("bob", "b0b")]);
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    assert_tagged(&imap.run("c CREATE Work"), "c OK");
    assert_tagged(&imap.run("a SETACL Work bob lrswi"), "a OK");
    let file = server.dir.path().join("w.txt");
    std::fs::write(&file, "work\n").unwrap();
    assert_eq!(
        code(&put_bytes(&server, "alice/Work/w.txt", &file, &[])),
        201
    );
    let body = LOCKINFO.to_string();
    let url = dav(&server, "alice/Work/w.txt");
    let r = curl(&["-u", "bob:b0b", "-X", "LOCK", "--data-binary", &body, &url]);
    assert_eq!(code(&r), 200, "{r}");
    let token = header(&r, "lock-token").unwrap().to_string();
    let r = curl(&["-u", ALICE, "-X", "DELETE", &url]);
    assert_eq!(code(&r), 423, "{r}");
    let r = curl(&[
        "-u",
        ALICE,
        "-X",
        "UNLOCK",
        "-H",
        &format!("Lock-Token: {token}"),
        &url,
    ]);
    assert_eq!(code(&r), 204, "{r}");
    let r = curl(&["-u", ALICE, "-X", "DELETE", &url]);
    assert_eq!(code(&r), 204, "{r}");
    drop(imap);

    // Alice locks her folder, her account is removed and made again.
    lock(&server, "alice/Work", "infinity");
    let out = server.command(&["account", "remove", "alice"], "");
    assert!(out.status.success(), "{out:?}");
    server.add_account("alice", "s3cret");
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    assert_tagged(&imap.run("c CREATE Work"), "c OK");
}
