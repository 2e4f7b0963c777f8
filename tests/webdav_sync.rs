//! WebDAV collection synchronization (RFC 6578 sync-collection), access
//! control properties (RFC 3744) from IMAP ACLs (RFC 4314), a settable
//! `DAV:displayname` and folder dates (RFC 4918 15), against the real
//! binary, driven with curl as a sync client does: an initial sync, then
//! the changes since its token, and the same in `DAV:limit` pages.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::{require_tool, Server};

const ALICE: &str = "alice:s3cret";

fn server_with(accounts: &[(&str, &str)]) -> Server {
    require_tool("curl", "curl");
    let mut server = Server::new();
    for (login, password) in accounts {
        server.add_account(login, password);
    }
    server.start();
    server
}

fn url(server: &Server, path: &str) -> String {
    format!("http://{}/dav/{path}", server.webdav)
}

/// A curl answer: status, headers and body.
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

/// One HTTP request with curl: `method` on `path` as `user` with an XML
/// body (if any) and extra headers.
fn request(
    server: &Server,
    user: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[&str],
) -> Answer {
    let dir = tempfile::tempdir().expect("temp dir");
    let head = dir.path().join("headers");
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "-u", user, "-X", method, "-D"])
        .arg(&head)
        .args(["-w", "\n%{http_code}"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if let Some(b) = body {
        // From a file: a large body does not fit in an argument.
        let file = dir.path().join("body");
        std::fs::write(&file, b).expect("write body");
        cmd.args(["-H", "Content-Type: application/xml", "--data-binary"])
            .arg(format!("@{}", file.display()));
    }
    let out = cmd.arg(url(server, path)).output().expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    Answer {
        status: code.trim().parse().unwrap_or_else(|_| {
            panic!(
                "curl {method} {path}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        }),
        headers: std::fs::read_to_string(&head).unwrap_or_default(),
        body: body.to_string(),
    }
}

/// Runs one curl for many URLs of one method (a kept-alive connection, as
/// a sync client uploads); with `upload`, each URL gets a PUT of that file.
fn batch(server: &Server, method: &str, paths: &[String], upload: Option<&std::path::Path>) {
    for chunk in paths.chunks(100) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-S", "-f", "-u", ALICE, "-o", "/dev/null"]);
        if upload.is_none() {
            cmd.args(["-X", method]);
        }
        for p in chunk {
            if let Some(file) = upload {
                cmd.arg("-T").arg(file);
            }
            cmd.arg(url(server, p));
        }
        let out = cmd.output().expect("run curl");
        assert!(
            out.status.success(),
            "{method} batch: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// One `DAV:response` of a multistatus: href, its own status (removed
/// members and truncation), and its propstat XML.
#[derive(Debug)]
struct Member {
    href: String,
    status: Option<u16>,
    body: String,
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

fn responses(body: &str) -> Vec<Member> {
    body.split("<D:response>")
        .skip(1)
        .map(|r| {
            let r = r.split("</D:response>").next().unwrap_or_default();
            let href = between(r, "<D:href>", "</D:href>")
                .unwrap_or_default()
                .to_string();
            let status = if r.contains("<D:propstat>") {
                None
            } else {
                between(r, "<D:status>HTTP/1.1 ", " ").and_then(|s| s.parse().ok())
            };
            Member {
                href,
                status,
                body: r.to_string(),
            }
        })
        .collect()
}

fn sync_body(token: &str, limit: Option<usize>) -> String {
    let limit = limit
        .map(|n| format!("<D:limit><D:nresults>{n}</D:nresults></D:limit>"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>{token}</D:sync-token>\
<D:sync-level>1</D:sync-level>{limit}<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )
}

/// The UID in a file's entity tag (`"{uid}-{content}"`).
fn uid_from_etag(etag: &str) -> u32 {
    etag.trim_start_matches("&quot;")
        .trim_start_matches('"')
        .split('-')
        .next()
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("no UID in {etag}"))
}

/// Asserts that `body` holds `part`.
fn assert_has(body: &str, part: &str) {
    assert!(body.contains(part), "no {part} in {body}");
}

/// A sync-collection REPORT as alice; the answer.
fn sync(server: &Server, path: &str, token: &str, limit: Option<usize>) -> Answer {
    sync_as(server, ALICE, path, token, limit)
}

/// A sync-collection REPORT as `user`; the answer.
fn sync_as(server: &Server, user: &str, path: &str, token: &str, limit: Option<usize>) -> Answer {
    request(
        server,
        user,
        "REPORT",
        path,
        Some(&sync_body(token, limit)),
        &["Depth: 0"],
    )
}

fn token_of(body: &str) -> String {
    between(body, "<D:sync-token>", "</D:sync-token>")
        .unwrap_or_else(|| panic!("no sync-token in {body}"))
        .to_string()
}

/// What a sync client keeps: href to etag.
type State = BTreeMap<String, String>;

/// Applies one sync answer to `state`; returns whether it was truncated
/// (a 507 for the collection itself) and how many members it gave.
fn apply(state: &mut State, collection: &str, body: &str) -> (bool, usize) {
    let mut truncated = false;
    let mut count = 0;
    for r in responses(body) {
        if r.href == collection {
            assert_eq!(r.status, Some(507), "the collection in its own sync: {r:?}");
            assert!(r.body.contains("number-of-matches-within-limits"));
            truncated = true;
            continue;
        }
        count += 1;
        match r.status {
            Some(404) => {
                state.remove(&r.href);
            }
            None => {
                let etag = between(&r.body, "<D:getetag>", "</D:getetag>")
                    .unwrap_or_else(|| panic!("no etag in {r:?}"));
                state.insert(r.href.clone(), etag.to_string());
            }
            Some(s) => panic!("unexpected status {s} in {r:?}"),
        }
    }
    (truncated, count)
}

/// Every member of a collection with its etag, by PROPFIND Depth 1.
fn listing(server: &Server, path: &str) -> State {
    let a = request(
        server,
        ALICE,
        "PROPFIND",
        path,
        Some("<D:propfind xmlns:D=\"DAV:\"><D:prop><D:getetag/></D:prop></D:propfind>"),
        &["Depth: 1"],
    );
    assert_eq!(a.status, 207, "{}", a.body);
    let own = format!("/dav/{path}");
    let mut state = State::new();
    apply(&mut state, "", &a.body);
    state.remove(&own);
    state
}

#[test]
fn sync_collection_reports_exactly_what_changed_over_1000_changes() {
    let server = server_with(&[("alice", "s3cret")]);
    let dir = tempfile::tempdir().expect("temp dir");
    let (v1, v2) = (dir.path().join("v1.txt"), dir.path().join("v2.txt"));
    std::fs::write(&v1, "first version\n").expect("write");
    std::fs::write(&v2, "second version, longer\n").expect("write");
    assert_eq!(
        request(&server, ALICE, "MKCOL", "alice/sync", None, &[]).status,
        201
    );
    let collection = "/dav/alice/sync/";
    let names = |prefix: &str, range: std::ops::Range<usize>| -> Vec<String> {
        range
            .map(|i| format!("alice/sync/{prefix}{i}.txt"))
            .collect()
    };
    batch(&server, "PUT", &names("f", 0..400), Some(&v1));

    // The initial sync: every member and a token.
    let initial = sync(&server, "alice/sync/", "", None);
    assert_eq!(initial.status, 207, "{}", initial.body);
    let mut state = State::new();
    apply(&mut state, collection, &initial.body);
    assert_eq!(state.len(), 400);
    assert!(
        !initial.body.contains("404 Not Found"),
        "no removals at first"
    );
    let t0 = token_of(&initial.body);
    assert!(t0.starts_with("http://cpm-store/ns/sync/"), "{t0}");
    let start = state.clone();
    // The token does not move without changes, and nothing is reported.
    let quiet = sync(&server, "alice/sync/", &t0, None);
    assert_eq!(quiet.status, 207);
    assert!(responses(&quiet.body).is_empty(), "{}", quiet.body);
    assert_eq!(token_of(&quiet.body), t0);

    // 1,000+ changes: 400 new files, 200 deleted, 100 replaced (a removal
    // and a store each), and over IMAP 100 flagged and 100 expunged
    // (a flag and a removal each).
    batch(&server, "PUT", &names("n", 0..400), Some(&v1));
    batch(&server, "DELETE", &names("f", 0..200), None);
    batch(&server, "PUT", &names("f", 200..300), Some(&v2));
    let uid_of = |name: &str| uid_from_etag(&start[&format!("/dav/alice/sync/{name}")]);
    let uids = |range: std::ops::Range<usize>| -> String {
        range
            .map(|i| uid_of(&format!("f{i}.txt")).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    assert!(tagged(&imap.run("a SELECT sync")).contains("OK"));
    let flagged = uids(300..350);
    assert!(tagged(&imap.run(&format!("b UID STORE {flagged} +FLAGS (\\Flagged)"))).contains("OK"));
    let flagged2 = uids(350..400);
    assert!(tagged(&imap.run(&format!("b2 UID STORE {flagged2} +FLAGS (\\Seen)"))).contains("OK"));
    // f300..f399 stay; expunge the first 100 new ones over IMAP: their
    // UIDs come from a listing.
    let now = listing(&server, "alice/sync/");
    let new_uids: Vec<String> = (0..100)
        .map(|i| uid_from_etag(&now[&format!("/dav/alice/sync/n{i}.txt")]).to_string())
        .collect();
    let set = new_uids.join(",");
    assert!(tagged(&imap.run(&format!("c UID STORE {set} +FLAGS (\\Deleted)"))).contains("OK"));
    assert!(tagged(&imap.run(&format!("d UID EXPUNGE {set}"))).contains("OK"));
    imap.run("e LOGOUT");

    let after = listing(&server, "alice/sync/");
    assert_eq!(after.len(), 400 - 200 + 400 - 100);
    let changed = sync(&server, "alice/sync/", &t0, None);
    assert_eq!(changed.status, 207, "{}", changed.body);
    let got = responses(&changed.body);
    let removed: BTreeSet<String> = got
        .iter()
        .filter(|r| r.status == Some(404))
        .map(|r| r.href.clone())
        .collect();
    let present: BTreeSet<String> = got
        .iter()
        .filter(|r| r.status.is_none())
        .map(|r| r.href.clone())
        .collect();
    let hrefs = |prefix: &str, range: std::ops::Range<usize>| -> BTreeSet<String> {
        range
            .map(|i| format!("/dav/alice/sync/{prefix}{i}.txt"))
            .collect()
    };
    let mut want_removed = hrefs("f", 0..200);
    want_removed.extend(hrefs("n", 0..100));
    let mut want_present = hrefs("n", 100..400);
    want_present.extend(hrefs("f", 200..400));
    let differ = |got: &BTreeSet<String>, want: &BTreeSet<String>| -> Vec<String> {
        got.symmetric_difference(want).take(10).cloned().collect()
    };
    assert_eq!(
        differ(&removed, &want_removed),
        Vec::<String>::new(),
        "removed members"
    );
    assert_eq!(
        differ(&present, &want_present),
        Vec::<String>::new(),
        "changed members"
    );
    assert_eq!(
        got.len(),
        removed.len() + present.len(),
        "each once, no 507"
    );
    let mut synced = start.clone();
    apply(&mut synced, collection, &changed.body);
    assert_eq!(synced, after, "the synced state is the listing");
    let t1 = token_of(&changed.body);
    assert_ne!(t1, t0);
    assert!(responses(&sync(&server, "alice/sync/", &t1, None).body).is_empty());

    // The same from t0 in pages of 37: each page at most 37 members, a
    // 507 for the collection while more remain, and the same end state.
    let mut paged = start.clone();
    let mut token = t0.clone();
    let mut pages = 0;
    let mut cut_inside = false;
    loop {
        let page = sync(&server, "alice/sync/", &token, Some(37));
        assert_eq!(page.status, 207, "{}", page.body);
        let (truncated, count) = apply(&mut paged, collection, &page.body);
        assert!(count <= 37, "page of {count}");
        token = token_of(&page.body);
        // A cut inside one operation's changes (the 100 of one UID
        // EXPUNGE) resumes inside it: `{modseq}.{n}`.
        cut_inside |= token.rsplit('-').next().is_some_and(|t| t.contains('.'));
        pages += 1;
        assert!(pages < 100, "paging does not end");
        if !truncated {
            break;
        }
    }
    assert!(pages >= 16, "{pages} pages for 600 members");
    assert!(cut_inside, "no page ended inside an operation");
    assert_eq!(paged, after, "paging reaches the same state");
    assert!(responses(&sync(&server, "alice/sync/", &token, None).body).is_empty());

    // A child folder made and removed is reported as a member.
    let child_after = |method: &str, path: &str, token: &str, status: Option<u16>| {
        let done = request(&server, ALICE, method, path, None, &[]).status;
        assert!(done == 201 || done == 204, "{method} {path}: {done}");
        let answer = sync(&server, "alice/sync/", token, None);
        let found = responses(&answer.body)
            .iter()
            .any(|m| m.href == "/dav/alice/sync/sub/" && m.status == status);
        assert!(found, "{method}: {}", answer.body);
        token_of(&answer.body)
    };
    let t2 = child_after("MKCOL", "alice/sync/sub", &t1, None);
    // A file stored in the child changes the child's ETag: it is reported
    // (sync-level 1: the child, not its member).
    batch(
        &server,
        "PUT",
        &["alice/sync/sub/inner.txt".to_string()],
        Some(&v1),
    );
    let inner = sync(&server, "alice/sync/", &t2, None);
    let r = responses(&inner.body);
    assert_eq!(r.len(), 1, "{}", inner.body);
    assert_eq!(
        (r[0].href.as_str(), r[0].status),
        ("/dav/alice/sync/sub/", None)
    );
    let t3 = token_of(&inner.body);
    child_after("DELETE", "alice/sync/sub/", &t3, Some(404));

    // The initial sync larger than the limit cannot be paged: 507.
    let over = sync(&server, "alice/sync/", "", Some(10));
    assert_eq!(over.status, 507);
    assert_has(&over.body, "number-of-matches-within-limits");
}

#[test]
fn bad_tokens_reports_and_levels_get_the_rfc_preconditions() {
    let server = server_with(&[("alice", "s3cret")]);
    assert_eq!(
        request(&server, ALICE, "MKCOL", "alice/docs", None, &[]).status,
        201
    );
    let t = token_of(&sync(&server, "alice/docs/", "", None).body);
    let (base, seen) = t.rsplit_once('-').expect("token form");
    let future = format!("{base}-{}", seen.parse::<u64>().expect("modseq") + 1000);
    for token in [
        "http://cpm-store/ns/sync/garbage".to_string(),
        "urn:x-other:1".to_string(),
        future,
        // Another incarnation of the folder (UIDVALIDITY).
        format!("http://cpm-store/ns/sync/1-{seen}"),
    ] {
        let a = sync(&server, "alice/docs/", &token, None);
        assert_eq!(a.status, 403, "{token}: {}", a.body);
        assert!(
            a.body.contains("<D:valid-sync-token/>"),
            "{token}: {}",
            a.body
        );
    }
    // A deleted and recreated folder does not take the old token.
    assert_eq!(
        request(&server, ALICE, "DELETE", "alice/docs/", None, &[]).status,
        204
    );
    assert_eq!(
        request(&server, ALICE, "MKCOL", "alice/docs", None, &[]).status,
        201
    );
    assert_eq!(sync(&server, "alice/docs/", &t, None).status, 403);

    // sync-level infinite may be refused (RFC 6578 3.3); an unknown report
    // is 403 (RFC 3253 3.6), not 405.
    for (body, condition) in [
        ("<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token/><D:sync-level>infinite</D:sync-level><D:prop/></D:sync-collection>", "<D:sync-traversal-supported/>"),
        ("<D:expand-property xmlns:D=\"DAV:\"/>", "<D:supported-report/>"),
    ] {
        let a = request(&server, ALICE, "REPORT", "alice/docs/", Some(body), &[]);
        assert_eq!(a.status, 403, "{body}");
        assert!(a.body.contains(condition), "{body}: {}", a.body);
    }

    let options = request(&server, ALICE, "OPTIONS", "alice/docs/", None, &[]);
    let allow = options
        .headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("allow:"))
        .unwrap_or_default()
        .to_string();
    assert!(allow.contains("REPORT"), "{allow}");

    // DAV:sync-token and supported-report-set are given by name, and
    // sync-token is not in allprop (RFC 6578 4).
    let named = request(
        &server,
        ALICE,
        "PROPFIND",
        "alice/docs/",
        Some("<D:propfind xmlns:D=\"DAV:\"><D:prop><D:sync-token/><D:supported-report-set/></D:prop></D:propfind>"),
        &["Depth: 0"],
    );
    assert_has(&named.body, "<D:sync-token>http://cpm-store/ns/sync/");
    assert_has(&named.body, "<D:sync-collection/>");
    let all = propfind_all(&server, "alice/docs/");
    assert!(!all.contains("sync-token"), "{all}");
    // The account root lists folders and syncs them too.
    let root = sync(&server, "alice/", "", None);
    assert_eq!(root.status, 207, "{}", root.body);
    assert_has(&root.body, "<D:href>/dav/alice/docs/</D:href>");
}

fn privileges_of(server: &Server, user: &str, path: &str) -> (u16, String) {
    let a = request(
        server,
        user,
        "PROPFIND",
        path,
        Some("<D:propfind xmlns:D=\"DAV:\"><D:prop><D:current-user-privilege-set/><D:acl/></D:prop></D:propfind>"),
        &["Depth: 0"],
    );
    (a.status, a.body)
}

fn privilege_names(body: &str) -> BTreeSet<String> {
    let set = between(
        body,
        "<D:current-user-privilege-set>",
        "</D:current-user-privilege-set>",
    )
    .unwrap_or_else(|| panic!("no current-user-privilege-set in {body}"));
    set.split("<D:privilege><D:")
        .skip(1)
        .filter_map(|p| p.split("/>").next())
        .map(String::from)
        .collect()
}

#[test]
fn current_user_privilege_set_follows_the_imap_acl() {
    let server = server_with(&[("alice", "s3cret"), ("bob", "b0b"), ("carol", "c4rol")]);
    assert_eq!(
        request(&server, ALICE, "MKCOL", "alice/shared", None, &[]).status,
        201
    );
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    assert!(tagged(&imap.run("a SETACL shared bob lr")).contains("OK"));
    assert!(tagged(&imap.run("b SETACL shared carol lrswitekx")).contains("OK"));

    let (status, owner) = privileges_of(&server, ALICE, "alice/shared/");
    assert_eq!(status, 207);
    let p = privilege_names(&owner);
    for want in [
        "all",
        "read",
        "write",
        "bind",
        "unbind",
        "read-acl",
        "write-acl",
    ] {
        assert!(p.contains(want), "owner lacks {want}: {p:?}");
    }
    // The owner reads the ACL: its own protected ACE and the grantees'.
    let acl = between(&owner, "<D:acl>", "</D:acl>").unwrap_or_else(|| panic!("{owner}"));
    assert!(
        acl.starts_with("<D:ace><D:principal><D:href>/dav/alice/</D:href></D:principal>")
            && acl.contains("<D:protected/>"),
        "{acl}"
    );
    assert!(acl.contains("<D:href>/dav/bob/</D:href>"), "{acl}");
    assert!(acl.contains("<D:href>/dav/carol/</D:href>"), "{acl}");

    let (status, reader) = privileges_of(&server, "bob:b0b", "alice/shared/");
    assert_eq!(status, 207, "bob sees alice's shared folder: {reader}");
    let p = privilege_names(&reader);
    assert!(p.contains("read"), "{p:?}");
    for not in [
        "write",
        "write-content",
        "bind",
        "unbind",
        "write-properties",
        "read-acl",
        "all",
    ] {
        assert!(!p.contains(not), "read-only grantee has {not}: {p:?}");
    }
    // Without `a` the ACL is not readable: 403 for that property.
    assert!(
        reader.contains("403 Forbidden") && reader.contains("<D:acl/>"),
        "{reader}"
    );

    let (_, writer) = privileges_of(&server, "carol:c4rol", "alice/shared/");
    let p = privilege_names(&writer);
    for want in [
        "read",
        "write",
        "write-content",
        "bind",
        "unbind",
        "write-properties",
    ] {
        assert!(p.contains(want), "read-write grantee lacks {want}: {p:?}");
    }
    for not in ["read-acl", "write-acl", "all"] {
        assert!(!p.contains(not), "read-write grantee has {not}: {p:?}");
    }
    // The privileges tell the truth: bob's PUT fails, carol's succeeds.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("x.txt");
    std::fs::write(&file, "x\n").expect("write");
    let put = |user: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-u",
                user,
                "-T",
            ])
            .arg(&file)
            .arg(url(&server, "alice/shared/x.txt"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // A grantee syncs the shared folder at the path it sees it under.
    let initial = sync_as(&server, "bob:b0b", "alice/shared/", "", None);
    assert_eq!(initial.status, 207, "{}", initial.body);
    let token = token_of(&initial.body);
    assert_eq!(put("bob:b0b"), "403");
    assert_eq!(put("carol:c4rol"), "201");
    let changed = sync_as(&server, "bob:b0b", "alice/shared/", &token, None);
    let r = responses(&changed.body);
    assert_eq!(r.len(), 1, "{}", changed.body);
    assert_eq!(r[0].href, "/dav/alice/shared/x.txt");
    assert_eq!(r[0].status, None, "{}", changed.body);

    let supported = request(
        &server,
        "bob:b0b",
        "PROPFIND",
        "alice/shared/",
        Some("<D:propfind xmlns:D=\"DAV:\"><D:prop><D:supported-privilege-set/></D:prop></D:propfind>"),
        &["Depth: 0"],
    );
    for p in [
        "<D:all/>",
        "<D:read/>",
        "<D:write/>",
        "<D:bind/>",
        "<D:read-acl/>",
    ] {
        assert!(supported.body.contains(p), "{p} in {}", supported.body);
    }
    // DAV:acl is protected.
    let patch = request(
        &server,
        ALICE,
        "PROPPATCH",
        "alice/shared/",
        Some("<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><D:acl/></D:prop></D:set></D:propertyupdate>"),
        &[],
    );
    assert_eq!(patch.status, 207);
    assert_has(&patch.body, "403 Forbidden");
    assert_has(&patch.body, "cannot-modify-protected-property");
}

/// Unix seconds of an RFC 3339 `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339_seconds(s: &str) -> i64 {
    store_core::dates::parse_rfc3339(s).unwrap_or_else(|| panic!("not RFC 3339: {s}"))
}

/// Unix seconds of an HTTP-date `Mon, 30 Nov 2026 06:30:00 GMT`.
fn http_date_seconds(s: &str) -> i64 {
    let t = httpdate::parse_http_date(s).unwrap_or_else(|e| panic!("not an HTTP-date: {s}: {e}"));
    let since = t
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_else(|e| panic!("{s} before 1970: {e}"));
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The `DAV:creationdate` and `DAV:getlastmodified` of a PROPFIND answer,
/// asserted to be within ten minutes of now.
fn dates_near_now(body: &str) -> (&str, &str) {
    let created =
        between(body, "<D:creationdate>", "</D:creationdate>").unwrap_or_else(|| panic!("{body}"));
    let modified = between(body, "<D:getlastmodified>", "</D:getlastmodified>")
        .unwrap_or_else(|| panic!("{body}"));
    let now = unix_now();
    assert!(
        (rfc3339_seconds(created) - now).abs() < 600,
        "creationdate {created}"
    );
    assert!(
        (http_date_seconds(modified) - now).abs() < 600,
        "getlastmodified {modified}"
    );
    (created, modified)
}

fn propfind_all(server: &Server, path: &str) -> String {
    let a = request(server, ALICE, "PROPFIND", path, None, &["Depth: 0"]);
    assert_eq!(a.status, 207, "{}", a.body);
    a.body
}

#[test]
fn displayname_is_settable_and_folders_have_dates_across_a_restart() {
    let mut server = server_with(&[("alice", "s3cret")]);
    assert_eq!(
        request(&server, ALICE, "MKCOL", "alice/Photos", None, &[]).status,
        201
    );
    // What cadaver's `propget` shows of a folder: dates near now, not 1970.
    let body = propfind_all(&server, "alice/Photos/");
    let (created, modified) = dates_near_now(&body);
    let now = unix_now();
    // A default folder (made with the account) has dates too.
    let inbox = propfind_all(&server, "alice/INBOX/");
    let inbox_created = between(&inbox, "<D:creationdate>", "</D:creationdate>")
        .unwrap_or_else(|| panic!("{inbox}"));
    assert!(
        (rfc3339_seconds(inbox_created) - now).abs() < 600,
        "{inbox_created}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a.txt");
    std::fs::write(&file, "hello\n").expect("write");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    batch(
        &server,
        "PUT",
        &["alice/Photos/a.txt".to_string()],
        Some(&file),
    );
    let later = propfind_all(&server, "alice/Photos/");
    let modified2 = between(&later, "<D:getlastmodified>", "</D:getlastmodified>")
        .unwrap_or_default()
        .to_string();
    assert!(
        http_date_seconds(&modified2) > http_date_seconds(modified),
        "{modified} then {modified2}"
    );

    let set = |path: &str, name: &str| {
        let a = request(
            &server,
            ALICE,
            "PROPPATCH",
            path,
            Some(&format!("<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><D:displayname>{name}</D:displayname></D:prop></D:set></D:propertyupdate>")),
            &[],
        );
        assert_eq!(a.status, 207, "{}", a.body);
        assert_has(&a.body, "200 OK");
    };
    set("alice/Photos/", "Holiday pictures &amp; more");
    set("alice/Photos/a.txt", "Greeting");
    let shown = |server: &Server, path: &str| -> String {
        let a = request(
            server,
            ALICE,
            "PROPFIND",
            path,
            Some("<D:propfind xmlns:D=\"DAV:\"><D:prop><D:displayname/><D:creationdate/></D:prop></D:propfind>"),
            &["Depth: 0"],
        );
        a.body
    };
    let before_restart = shown(&server, "alice/Photos/");
    assert!(
        before_restart.contains("Holiday pictures &amp; more"),
        "{before_restart}"
    );
    assert_eq!(
        before_restart.matches("displayname").count(),
        2,
        "once: {before_restart}"
    );

    server.terminate();
    server.start();
    let folder = shown(&server, "alice/Photos/");
    assert!(folder.contains("Holiday pictures &amp; more"), "{folder}");
    assert!(shown(&server, "alice/Photos/a.txt").contains("Greeting"));
    let created_after =
        between(&folder, "<D:creationdate>", "</D:creationdate>").unwrap_or_default();
    assert_eq!(created_after, created, "the creation date is kept");
    // allprop gives the stored name once, in place of the path's.
    let all = propfind_all(&server, "alice/Photos/a.txt");
    assert!(
        all.contains("Greeting") && !all.contains(">a.txt<"),
        "{all}"
    );

    // Removed, the name is the path's again.
    let removed = request(
        &server,
        ALICE,
        "PROPPATCH",
        "alice/Photos/",
        Some("<D:propertyupdate xmlns:D=\"DAV:\"><D:remove><D:prop><D:displayname/></D:prop></D:remove></D:propertyupdate>"),
        &[],
    );
    assert_has(&removed.body, "200 OK");
    assert!(shown(&server, "alice/Photos/").contains("<D:displayname>Photos</D:displayname>"));
}

#[test]
fn extended_mkcol_sets_the_displayname_or_makes_nothing() {
    let server = server_with(&[("alice", "s3cret")]);
    let mkcol = |path: &str, props: &str| {
        request(
            &server,
            ALICE,
            "MKCOL",
            path,
            Some(&format!(
                "<D:mkcol xmlns:D=\"DAV:\"><D:set><D:prop><D:resourcetype><D:collection/></D:resourcetype>{props}</D:prop></D:set></D:mkcol>"
            )),
            &[],
        )
    };
    // RFC 5689 3: the collection and its properties in one request.
    let made = mkcol("alice/Music", "<D:displayname>My music</D:displayname>");
    assert_eq!(made.status, 201, "{}", made.body);
    assert!(propfind_all(&server, "alice/Music/").contains("My music"));
    // A protected property: 403 with a mkcol-response, nothing made.
    let refused = mkcol(
        "alice/Video",
        "<D:displayname>V</D:displayname><D:getetag>x</D:getetag>",
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_has(&refused.body, "<D:mkcol-response");
    assert_has(&refused.body, "424 Failed Dependency");
    let gone = request(
        &server,
        ALICE,
        "PROPFIND",
        "alice/Video/",
        None,
        &["Depth: 0"],
    );
    assert_eq!(gone.status, 404);
    // A body that is not XML is still 415 (RFC 4918 9.3).
    let junk = request(&server, ALICE, "MKCOL", "alice/Junk", Some("afafafaf"), &[]);
    assert_eq!(junk.status, 415);
}

#[test]
fn folders_of_an_older_store_get_dates_from_their_uidvalidity() {
    use store_core::engine::WriteBatch;
    let mut server = server_with(&[("alice", "s3cret")]);
    assert_eq!(
        request(&server, ALICE, "MKCOL", "alice/Old", None, &[]).status,
        201
    );
    let before = propfind_all(&server, "alice/Old/");
    let created = rfc3339_seconds(
        between(&before, "<D:creationdate>", "</D:creationdate>")
            .unwrap_or_else(|| panic!("{before}")),
    );
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let status = imap.run("s STATUS Old (UIDVALIDITY)");
    let validity: i64 = status
        .iter()
        .find_map(|l| between(l, "UIDVALIDITY ", ")"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{status:?}"));
    drop(imap);
    // UIDVALIDITY is the creation second, or a few later when many
    // folders were made in one second (the account's defaults).
    assert!(
        (created..=created + 10).contains(&validity),
        "created {created}, UIDVALIDITY {validity}"
    );
    server.terminate();
    // A store written before folder times were kept has none of them.
    {
        let engine = server.open_engine();
        let snapshot = engine.snapshot().expect("snapshot");
        let mut batch = WriteBatch::new();
        for prefix in [[0x14u8], [0x15u8]] {
            let kept = snapshot.scan(&prefix, &prefix, usize::MAX).expect("scan");
            assert!(!kept.is_empty(), "folder times under {prefix:?}");
            for (key, _) in kept {
                batch.insert(key, None);
            }
        }
        drop(snapshot);
        engine.commit(batch).expect("commit");
    }
    server.start();
    let asked = unix_now();
    let body = propfind_all(&server, "alice/Old/");
    let (after, modified) = dates_near_now(&body);
    // UIDVALIDITY, capped at now when it is ahead of the clock.
    let after = rfc3339_seconds(after);
    assert!(
        after == validity || (validity > asked && (asked..=unix_now()).contains(&after)),
        "creationdate {after}, UIDVALIDITY {validity}"
    );
    assert_eq!(
        http_date_seconds(modified),
        after,
        "getlastmodified {modified}"
    );
}

/// The hrefs of the members of a sync answer (not the collection's own
/// 507), with their status (`None` for a present member).
fn hrefs(body: &str, collection: &str) -> BTreeMap<String, Option<u16>> {
    responses(body)
        .into_iter()
        .filter(|r| r.href != collection)
        .map(|r| (r.href, r.status))
        .collect()
}

/// Runs IMAP commands as alice, each asserted OK.
fn imap_ok(server: &Server, commands: &[&str]) {
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    for (i, c) in commands.iter().enumerate() {
        let r = imap.run(&format!("c{i} {c}"));
        assert!(tagged(&r).contains("OK"), "{c}: {r:?}");
    }
}

fn mkcol_ok(server: &Server, user: &str, path: &str) {
    let a = request(server, user, "MKCOL", path, None, &[]);
    assert_eq!(a.status, 201, "MKCOL {path}: {}", a.body);
}

fn put_ok(server: &Server, user: &str, path: &str) {
    let a = request(server, user, "PUT", path, Some("<x/>"), &[]);
    assert!(matches!(a.status, 201 | 204), "PUT {path}: {}", a.body);
}

#[test]
fn a_rename_alone_over_the_limit_still_moves_the_token() {
    let server = server_with(&[("alice", "s3cret")]);
    mkcol_ok(&server, ALICE, "alice/P");
    mkcol_ok(&server, ALICE, "alice/P/A");
    let t0 = token_of(&sync(&server, "alice/P/", "", None).body);
    imap_ok(&server, &["RENAME P/A P/B"]);
    // One change, two members (the old name gone, the new one there): the
    // page gives both rather than none.
    let page = sync(&server, "alice/P/", &t0, Some(1));
    assert_eq!(page.status, 207, "{}", page.body);
    let t1 = token_of(&page.body);
    assert_ne!(t1, t0, "the token must move: {}", page.body);
    let got = hrefs(&page.body, "/dav/alice/P/");
    assert_eq!(
        got,
        BTreeMap::from([
            ("/dav/alice/P/A/".to_string(), Some(404)),
            ("/dav/alice/P/B/".to_string(), None),
        ]),
        "{}",
        page.body
    );
    // Nothing is left: the next page is empty and not truncated.
    let next = sync(&server, "alice/P/", &t1, Some(1));
    assert_eq!(next.status, 207, "{}", next.body);
    assert!(responses(&next.body).is_empty(), "{}", next.body);
}

#[test]
fn a_grantee_is_not_told_of_child_folders_it_cannot_look_up() {
    let server = server_with(&[("alice", "s3cret"), ("bob", "b0b")]);
    for f in ["S", "S/Open", "S/Secret", "S/ReadOnly"] {
        mkcol_ok(&server, ALICE, &format!("alice/{f}"));
    }
    imap_ok(
        &server,
        &[
            "SETACL S bob lr",
            "SETACL S/Open bob lr",
            "SETACL S/ReadOnly bob r",
        ],
    );
    const BOB: &str = "bob:b0b";
    let initial = sync_as(&server, BOB, "alice/S/", "", None);
    assert_eq!(initial.status, 207, "{}", initial.body);
    let listed = hrefs(&initial.body, "/dav/alice/S/");
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        ["/dav/alice/S/Open/"],
        "{}",
        initial.body
    );
    // Changes inside every child: bob hears only of the one he may list
    // (`l`; `r` alone is not enough, as for PROPFIND).
    for f in ["Open", "Secret", "ReadOnly"] {
        put_ok(&server, ALICE, &format!("alice/S/{f}/x.txt"));
    }
    let changed = sync_as(&server, BOB, "alice/S/", &token_of(&initial.body), None);
    assert_eq!(changed.status, 207, "{}", changed.body);
    assert_eq!(
        hrefs(&changed.body, "/dav/alice/S/"),
        BTreeMap::from([("/dav/alice/S/Open/".to_string(), None)]),
        "{}",
        changed.body
    );
    // A child removed since: bob cannot be told its name; he lists again.
    let t = token_of(&changed.body);
    assert_eq!(
        request(&server, ALICE, "DELETE", "alice/S/Secret/", None, &[]).status,
        204
    );
    let gone = sync_as(&server, BOB, "alice/S/", &t, None);
    assert_eq!(gone.status, 403, "{}", gone.body);
    assert_has(&gone.body, "<D:valid-sync-token/>");
    assert!(!gone.body.contains("Secret"), "{}", gone.body);
    // The owner is told of it.
    let own = sync(&server, "alice/S/", &token_of(&initial.body), None);
    assert_eq!(
        hrefs(&own.body, "/dav/alice/S/").get("/dav/alice/S/Secret/"),
        Some(&Some(404)),
        "{}",
        own.body
    );
}

#[test]
fn a_grantee_whose_rights_on_the_collection_change_lists_it_again() {
    let server = server_with(&[("alice", "s3cret"), ("bob", "b0b")]);
    mkcol_ok(&server, ALICE, "alice/L");
    put_ok(&server, ALICE, "alice/L/a.txt");
    imap_ok(&server, &["SETACL L bob l"]);
    const BOB: &str = "bob:b0b";
    let initial = sync_as(&server, BOB, "alice/L/", "", None);
    assert_eq!(initial.status, 207, "{}", initial.body);
    assert!(
        hrefs(&initial.body, "/dav/alice/L/").is_empty(),
        "{}",
        initial.body
    );
    imap_ok(&server, &["SETACL L bob lr"]);
    // Without `r` he saw no file; with it he must list again to see them.
    let after = sync_as(&server, BOB, "alice/L/", &token_of(&initial.body), None);
    assert_eq!(after.status, 403, "{}", after.body);
    assert_has(&after.body, "<D:valid-sync-token/>");
    let again = sync_as(&server, BOB, "alice/L/", "", None);
    assert!(
        hrefs(&again.body, "/dav/alice/L/").contains_key("/dav/alice/L/a.txt"),
        "{}",
        again.body
    );
    // The owner's token is not spoiled by the ACL change.
    let t = token_of(&sync(&server, "alice/L/", "", None).body);
    imap_ok(&server, &["SETACL L bob lrw"]);
    assert_eq!(sync(&server, "alice/L/", &t, None).status, 207);
}

fn extended_mkcol(server: &Server, user: &str, path: &str, name: &str) -> Answer {
    request(
        server,
        user,
        "MKCOL",
        path,
        Some(&format!(
            "<D:mkcol xmlns:D=\"DAV:\"><D:set><D:prop><D:resourcetype><D:collection/></D:resourcetype><D:displayname>{name}</D:displayname></D:prop></D:set></D:mkcol>"
        )),
        &[],
    )
}

#[test]
fn extended_mkcol_by_a_grantee_makes_all_or_nothing() {
    let server = server_with(&[("alice", "s3cret"), ("bob", "b0b")]);
    mkcol_ok(&server, ALICE, "alice/S");
    imap_ok(&server, &["SETACL S bob lrk"]);
    let made = extended_mkcol(&server, "bob:b0b", "alice/S/new", "By Bob");
    assert_eq!(made.status, 201, "{}", made.body);
    // Given as stored, the namespace declared on the element.
    assert_has(
        &propfind_all(&server, "alice/S/new/"),
        "displayname xmlns:X0=\"DAV:\">By Bob</",
    );
    // Properties that do not fit (a value over 64 KiB): 507 with a
    // mkcol-response, and no folder, for the grantee as for the owner.
    let big = "x".repeat(70_000);
    for (user, path) in [("bob:b0b", "alice/S/big"), (ALICE, "alice/Big")] {
        let refused = extended_mkcol(&server, user, path, &big);
        assert_eq!(refused.status, 507, "{path}: {}", refused.body);
        assert_has(&refused.body, "<D:mkcol-response");
        let gone = request(
            &server,
            ALICE,
            "PROPFIND",
            &format!("{path}/"),
            None,
            &["Depth: 0"],
        );
        assert_eq!(gone.status, 404, "{path} was made: {}", gone.body);
    }
}

#[test]
fn repeated_property_names_are_answered_once() {
    let server = server_with(&[("alice", "s3cret")]);
    mkcol_ok(&server, ALICE, "alice/R");
    put_ok(&server, ALICE, "alice/R/a.txt");
    let many = |name: &str, n: usize| -> String {
        format!(
            "<D:propfind xmlns:D=\"DAV:\"><D:prop>{}</D:prop></D:propfind>",
            name.repeat(n)
        )
    };
    let started = std::time::Instant::now();
    let a = request(
        &server,
        ALICE,
        "PROPFIND",
        "alice/R/",
        Some(&many("<D:acl/><D:creationdate/>", 30_000)),
        &["Depth: 1"],
    );
    let took = started.elapsed();
    assert_eq!(a.status, 207, "{}", a.body);
    assert_eq!(a.body.matches("<D:acl>").count(), 2, "one per resource");
    assert_eq!(a.body.matches("<D:creationdate>").count(), 2);
    assert!(took.as_secs() < 5, "{took:?}");
    // A sync-collection's prop list the same.
    let body = format!(
        "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop>{}</D:prop></D:sync-collection>",
        "<D:getetag/>".repeat(50_000)
    );
    let s = request(&server, ALICE, "REPORT", "alice/R/", Some(&body), &[]);
    assert_eq!(s.status, 207, "{}", s.body);
    assert_eq!(s.body.matches("<D:getetag>").count(), 1, "{}", s.body);
    // More distinct names than the server answers at once (65,536): 413.
    let distinct: String = (0..70_000).map(|i| format!("<X:p{i}/>")).collect();
    let refused = request(
        &server,
        ALICE,
        "PROPFIND",
        "alice/R/",
        Some(&format!(
            "<D:propfind xmlns:D=\"DAV:\" xmlns:X=\"urn:x\"><D:prop>{distinct}</D:prop></D:propfind>"
        )),
        &["Depth: 0"],
    );
    assert_eq!(refused.status, 413, "{}", refused.body);
}

#[test]
fn a_grantee_proppatch_reaches_the_owners_sync() {
    let server = server_with(&[("alice", "s3cret"), ("bob", "b0b")]);
    mkcol_ok(&server, ALICE, "alice/T");
    mkcol_ok(&server, ALICE, "alice/T/C");
    imap_ok(&server, &["SETACL T bob lr", "SETACL T/C bob lrw"]);
    let t = token_of(&sync(&server, "alice/T/", "", None).body);
    let patch = request(
        &server,
        "bob:b0b",
        "PROPPATCH",
        "alice/T/C/",
        Some("<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><D:displayname>By Bob</D:displayname></D:prop></D:set></D:propertyupdate>"),
        &[],
    );
    assert_eq!(patch.status, 207, "{}", patch.body);
    assert_has(&patch.body, "200 OK");
    let after = sync(&server, "alice/T/", &t, None);
    assert_eq!(
        hrefs(&after.body, "/dav/alice/T/"),
        BTreeMap::from([("/dav/alice/T/C/".to_string(), None)]),
        "{}",
        after.body
    );
}

#[test]
fn an_account_made_again_does_not_take_the_old_root_token() {
    let server = server_with(&[("alice", "s3cret")]);
    let old = token_of(&sync(&server, "alice/", "", None).body);
    let removed = server.command(&["account", "remove", "alice"], "");
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    server.add_account("alice", "s3cret");
    // The new account's feed goes past the old token's place.
    for f in ["a", "b", "c", "d", "e", "f"] {
        mkcol_ok(&server, ALICE, &format!("alice/{f}"));
    }
    let a = sync(&server, "alice/", &old, None);
    assert_eq!(a.status, 403, "{}", a.body);
    assert_has(&a.body, "<D:valid-sync-token/>");
}

/// `[store] change_retention_days = 0` reaches the store from the config
/// file: once the writer's prune pass (every second here) has pruned the
/// changes after a sync token, that token is refused with 403
/// `DAV:valid-sync-token` (RFC 6578 3.2: the client lists again), and the
/// token of the new listing works.
#[test]
fn a_token_below_the_retention_horizon_gets_valid_sync_token() {
    require_tool("curl", "curl");
    let mut server = Server::new();
    server.add_account("alice", "s3cret");
    server.set_settings(
        "store",
        "change_retention_days = 0\nprune_interval_seconds = 1\n",
    );
    server.start();
    assert_eq!(
        request(&server, ALICE, "MKCOL", "alice/docs", None, &[]).status,
        201
    );
    let old = token_of(&sync(&server, "alice/docs/", "", None).body);
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), b"hello").expect("write");
    batch(
        &server,
        "PUT",
        &["alice/docs/a.txt".to_string()],
        Some(file.path()),
    );
    assert_eq!(
        request(&server, ALICE, "DELETE", "alice/docs/a.txt", None, &[]).status,
        204
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let refused = loop {
        let a = sync(&server, "alice/docs/", &old, None);
        if a.status == 403 || std::time::Instant::now() > deadline {
            break a;
        }
        assert_eq!(a.status, 207, "{}", a.body);
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(refused.status, 403, "never pruned: {}", refused.body);
    assert_has(&refused.body, "<D:valid-sync-token/>");
    // Listing again gives a token that works.
    let fresh = sync(&server, "alice/docs/", "", None);
    assert_eq!(fresh.status, 207, "{}", fresh.body);
    let again = sync(&server, "alice/docs/", &token_of(&fresh.body), None);
    assert_eq!(again.status, 207, "{}", again.body);
}
