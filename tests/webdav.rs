//! The WebDAV front end against `cpm-store serve`, driven by real clients:
//! litmus (the WebDAV conformance suite), rclone (a file tool that mounts
//! and syncs trees) and curl, with IMAP on the same store.

use std::path::Path;
use std::process::{Command, Output};

use e2e_tests::imap::ImapConnection;
use e2e_tests::{image_bytes, require_tool, succeeded as ok, Server};

fn server_with(accounts: &[(&str, &str)]) -> Server {
    let mut server = Server::new();
    for (login, password) in accounts {
        server.add_account(login, password);
    }
    server.start();
    server
}

/// Runs curl with `args`; the output (status code last on stdout when
/// `-w '%{http_code}'` is given).
fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-s", "-S"])
        .args(args)
        .output()
        .expect("run curl")
}

/// The HTTP status of a curl request that discards the body.
fn status(args: &[&str]) -> u16 {
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    let out = curl(&all);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// Alice's credentials.
const ALICE: &str = "alice:s3cret";

/// A running server with account alice and her folder `folder`, made by
/// MKCOL.
fn alice_with_folder(folder: &str) -> Server {
    require_tool("curl", "curl");
    let server = server_with(&[("alice", "s3cret")]);
    let url = dav(&server, &format!("alice/{folder}"));
    assert_eq!(status(&["-u", ALICE, "-X", "MKCOL", &url]), 201);
    server
}

/// PUTs `file` at `/dav/{path}` as `user` with extra headers; the status.
fn put(server: &Server, user: &str, file: &Path, path: &str, headers: &[&str]) -> u16 {
    let url = dav(server, path);
    let mut args = vec!["-u", user, "-T", file.to_str().unwrap()];
    for h in headers {
        args.extend(["-H", h]);
    }
    args.push(&url);
    status(&args)
}

fn dav(server: &Server, path: &str) -> String {
    format!("http://{}/dav/{path}", server.webdav)
}

#[test]
fn litmus_passes_every_suite() {
    require_tool("litmus", "litmus");
    let server = server_with(&[("alice", "s3cret")]);
    let out = Command::new("litmus")
        .args([&dav(&server, "alice/"), "alice", "s3cret"])
        .current_dir(server.dir.path())
        .output()
        .expect("run litmus");
    let text = String::from_utf8_lossy(&out.stdout);
    for suite in ["basic", "copymove", "props", "locks", "http"] {
        let summary = text
            .lines()
            .find(|l| l.contains(&format!("summary for `{suite}'")))
            .unwrap_or_else(|| panic!("litmus ran no `{suite}' suite:\n{text}"));
        assert!(summary.contains(" 0 failed"), "{summary}\n{text}");
    }
    assert!(out.status.success(), "{text}");
}

fn write_tree(root: &Path) {
    std::fs::create_dir_all(root.join("photos/2026")).unwrap();
    std::fs::write(root.join("notes.txt"), "packing list\n").unwrap();
    std::fs::write(root.join("photos/cover.bin"), vec![7u8; 70_000]).unwrap();
    std::fs::write(root.join("photos/2026/été.txt"), "summer\n").unwrap();
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
        .env("RCLONE_WEBDAV_URL", dav(server, "alice"))
        .env("RCLONE_WEBDAV_VENDOR", "other")
        .env("RCLONE_WEBDAV_USER", "alice")
        .env("RCLONE_WEBDAV_PASS", pass)
        .output()
        .expect("run rclone")
}

#[test]
fn rclone_uploads_lists_renames_downloads_and_deletes_a_tree() {
    require_tool("rclone", "rclone");
    let server = server_with(&[("alice", "s3cret")]);
    let local = server.dir.path().join("local");
    write_tree(&local);
    let local = local.to_str().unwrap().to_string();

    ok(&rclone(&server, &["copy", &local, ":webdav:Trip"]));
    let listing = ok(&rclone(&server, &["lsf", "-R", ":webdav:Trip"]));
    let mut names: Vec<&str> = listing.lines().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "notes.txt",
            "photos/",
            "photos/2026/",
            "photos/2026/été.txt",
            "photos/cover.bin"
        ]
    );

    // The folders are IMAP mailboxes, the files messages in them.
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let r = imap.run("l LIST \"\" \"Trip*\"");
    assert!(
        r.iter().any(|l| l.ends_with("\"Trip/photos/2026\"")),
        "{r:?}"
    );

    ok(&rclone(
        &server,
        &[
            "moveto",
            ":webdav:Trip/notes.txt",
            ":webdav:Trip/photos/list.txt",
        ],
    ));
    let back = server.dir.path().join("back");
    ok(&rclone(
        &server,
        &["copy", ":webdav:Trip", back.to_str().unwrap()],
    ));
    assert_eq!(
        std::fs::read(back.join("photos/list.txt")).unwrap(),
        b"packing list\n"
    );
    assert!(!back.join("notes.txt").exists());
    assert_eq!(
        std::fs::read(back.join("photos/cover.bin")).unwrap(),
        vec![7u8; 70_000]
    );
    assert_eq!(
        std::fs::read(back.join("photos/2026/été.txt")).unwrap(),
        b"summer\n"
    );
    ok(&rclone(
        &server,
        &[
            "check",
            &format!("{local}/photos/2026"),
            ":webdav:Trip/photos/2026",
        ],
    ));

    ok(&rclone(&server, &["purge", ":webdav:Trip"]));
    let r = imap.run("l LIST \"\" \"Trip*\"");
    assert_eq!(r.len(), 1, "{r:?}");
}

#[test]
fn a_file_put_over_webdav_is_a_message_over_imap_and_back() {
    let server = alice_with_folder("Media");
    let user = ALICE;
    let file = server.dir.path().join("clip.bin");
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(
        put(
            &server,
            user,
            &file,
            "alice/Media/clip.mp4",
            &["Content-Type: video/mp4"]
        ),
        201
    );
    // IMAP: one message with the file as its body part, byte for byte.
    let imap_url = format!("imap://{}/Media;UID=1;SECTION=1", server.imap);
    let fetched = curl(&["-u", user, &imap_url]);
    assert_eq!(
        fetched.stdout,
        bytes,
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    imap.run("s SELECT Media");
    let r = imap.run("f FETCH 1 (BODYSTRUCTURE)");
    assert!(
        r[0].contains("\"VIDEO\" \"MP4\"")
            || r[0].to_ascii_lowercase().contains("\"video\" \"mp4\""),
        "{r:?}"
    );
    assert!(r[0].to_ascii_lowercase().contains("clip.mp4"), "{r:?}");

    // HTTPS offers HTTP/2 by ALPN; the bytes are the same.
    let https = format!("https://{}/dav/alice/Media/clip.mp4", server.webdavs);
    let h2 = curl(&["-k", "--http2", "-u", user, "-w", "%{http_version}", &https]);
    assert_eq!(&h2.stdout[..bytes.len()], &bytes[..]);
    assert_eq!(&h2.stdout[bytes.len()..], b"2");

    // Ranges and conditional GET over WebDAV.
    let part = curl(&[
        "-u",
        user,
        "-r",
        "1000-1999",
        &dav(&server, "alice/Media/clip.mp4"),
    ]);
    assert_eq!(part.stdout, &bytes[1000..2000]);
    let head = curl(&["-u", user, "-I", &dav(&server, "alice/Media/clip.mp4")]);
    let head = String::from_utf8_lossy(&head.stdout).to_string();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: video/mp4"),
        "{head}"
    );
    let etag = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("etag: ")
                .or_else(|| l.strip_prefix("ETag: "))
        })
        .expect("an ETag")
        .trim()
        .to_string();
    let h = format!("If-None-Match: {etag}");
    assert_eq!(
        status(&["-u", user, "-H", &h, &dav(&server, "alice/Media/clip.mp4")]),
        304
    );
    let h = "If-None-Match: *";
    assert_eq!(put(&server, user, &file, "alice/Media/clip.mp4", &[h]), 412);

    // A message APPENDed over IMAP is a resource named by its UID.
    let message = "Subject: from imap\r\nFrom: a@example.com\r\n\r\nhello over imap\r\n";
    imap.send(format!("a APPEND INBOX {{{}+}}\r\n{message}\r\n", message.len()).as_bytes());
    let r = imap.read_until_tagged("a");
    assert!(r.last().unwrap().contains("OK"), "{r:?}");
    let got = curl(&["-u", user, &dav(&server, "alice/INBOX/1.eml")]);
    assert_eq!(String::from_utf8_lossy(&got.stdout), message);

    // DELETE over WebDAV is an expunge over IMAP.
    imap.run("s SELECT INBOX");
    assert_eq!(
        status(&[
            "-u",
            user,
            "-X",
            "DELETE",
            &dav(&server, "alice/INBOX/1.eml")
        ]),
        204
    );
    let r = imap.run("n NOOP");
    assert!(r.iter().any(|l| l == "* 1 EXPUNGE"), "{r:?}");
}

#[test]
fn a_300_mb_put_streams_through_flat_memory() {
    let server = alice_with_folder("Big");
    let user = ALICE;
    // What the server holds before the transfer: the engine's clients and
    // runtimes (more on PostgreSQL + S3 than on the embedded engine).
    let before_kb = server.proc_status_kb("VmHWM").expect("server VmHWM");
    let file = server.dir.path().join("big.bin");
    let f = std::fs::File::create(&file).unwrap();
    f.set_len(300 * 1024 * 1024).unwrap();
    drop(f);
    // Chunked (no Content-Length), as a streaming client sends it.
    let put = put(
        &server,
        user,
        &file,
        "alice/Big/big.bin",
        &["Transfer-Encoding: chunked"],
    );
    assert_eq!(put, 201);
    let size = curl(&[
        "-u",
        user,
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        &dav(&server, "alice/Big/big.bin"),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&size.stdout).trim(),
        (300u64 * 1024 * 1024).to_string()
    );
    let peak_kb = server.proc_status_kb("VmHWM").expect("server VmHWM");
    eprintln!(
        "server peak RSS over a 300 MB PUT and GET: {} MB (before: {} MB)",
        peak_kb / 1024,
        before_kb / 1024
    );
    // Flat: the transfer adds a bounded amount whatever its size.
    assert!(
        peak_kb - before_kb.min(peak_kb) < 64 * 1024,
        "peak RSS {peak_kb} kB, {before_kb} kB before"
    );
}

#[test]
fn a_too_large_put_gets_413_and_stores_nothing() {
    let mut server = Server::new();
    server.add_account("alice", "s3cret");
    server.set_settings("webdav", "max_put_bytes = 1000\n");
    server.start();
    let user = "alice:s3cret";
    assert_eq!(
        status(&["-u", user, "-X", "MKCOL", &dav(&server, "alice/M")]),
        201
    );
    let file = server.dir.path().join("f.bin");
    std::fs::write(&file, vec![1u8; 5000]).unwrap();
    let url = dav(&server, "alice/M/f.bin");
    assert_eq!(
        status(&["-u", user, "-T", file.to_str().unwrap(), &url]),
        413
    );
    assert_eq!(
        status(&[
            "-u",
            user,
            "-T",
            file.to_str().unwrap(),
            "-H",
            "Transfer-Encoding: chunked",
            &url
        ]),
        413
    );
    assert_eq!(status(&["-u", user, &url]), 404);
}

#[test]
fn hostile_requests_get_4xx_and_the_server_goes_on() {
    let server = server_with(&[("alice", "s3cret")]);
    let user = "alice:s3cret";
    let root = dav(&server, "alice/");
    assert_eq!(status(&[&root]), 401);
    assert_eq!(status(&["-u", "alice:wrong", &root]), 401);
    assert_eq!(status(&["-X", "OPTIONS", &root]), 200);
    let propfind = |body: &str| {
        status(&[
            "-u",
            user,
            "-X",
            "PROPFIND",
            "-H",
            "Depth: 0",
            "--data-binary",
            body,
            &root,
        ])
    };
    assert_eq!(propfind("<D:propfind xmlns:D=\"DAV:\"><D:prop>"), 400);
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><D:propfind xmlns:D=\"DAV:\"><D:prop>&b;</D:prop></D:propfind>";
    assert_eq!(propfind(bomb), 400);
    let external = "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><D:propfind xmlns:D=\"DAV:\">&e;</D:propfind>";
    assert_eq!(propfind(external), 400);
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    assert_eq!(propfind(&deep), 400);
    let huge = server.dir.path().join("huge.xml");
    let body = format!(
        "<D:propfind xmlns:D=\"DAV:\"><!-- {} --></D:propfind>",
        "x".repeat(2 << 20)
    );
    std::fs::write(&huge, body).unwrap();
    assert_eq!(propfind(&format!("@{}", huge.display())), 413);
    assert_eq!(
        status(&["-u", user, "-X", "PROPFIND", &root]),
        403,
        "Depth infinity is refused"
    );
    for path in [
        "alice/INBOX/..%2F..%2Fbob",
        "alice/a%2Fb",
        "alice/%00",
        "alice/%ff",
    ] {
        assert_eq!(
            status(&["-u", user, "--path-as-is", &dav(&server, path)]),
            400,
            "{path}"
        );
    }
    assert_eq!(
        status(&["-u", user, "--path-as-is", &dav(&server, "alice/../bob/")]),
        400
    );
    // Still serving.
    assert_eq!(
        status(&["-u", user, "-X", "PROPFIND", "-H", "Depth: 0", &root]),
        207
    );
}

#[test]
fn accounts_see_nothing_of_each_other_until_a_grant_then_exactly_it() {
    let server = server_with(&[("alice", "s3cret"), ("bob", "b0b")]);
    let alice = "alice:s3cret";
    let bob = "bob:b0b";
    assert_eq!(
        status(&["-u", alice, "-X", "MKCOL", &dav(&server, "alice/Private")]),
        201
    );
    let file = server.dir.path().join("f.txt");
    std::fs::write(&file, "alice's secret\n").unwrap();
    assert_eq!(put(&server, alice, &file, "alice/Private/f.txt", &[]), 201);

    let p = |path: &str| dav(&server, path);
    assert_eq!(
        status(&["-u", bob, "-X", "PROPFIND", "-H", "Depth: 1", &p("alice/")]),
        404
    );
    assert_eq!(status(&["-u", bob, &p("alice/Private/f.txt")]), 404);
    assert_eq!(
        status(&[
            "-u",
            bob,
            "-T",
            file.to_str().unwrap(),
            &p("alice/Private/g.txt")
        ]),
        409
    );
    assert_eq!(
        status(&["-u", bob, "-X", "DELETE", &p("alice/Private/f.txt")]),
        404
    );
    assert_eq!(status(&["-u", bob, "-X", "MKCOL", &p("alice/Evil")]), 409);
    let dest = format!("Destination: {}", p("bob/INBOX/stolen.txt"));
    assert_eq!(
        status(&[
            "-u",
            bob,
            "-X",
            "COPY",
            "-H",
            &dest,
            &p("alice/Private/f.txt")
        ]),
        404
    );
    // Bob's own tree does not list alice.
    let out = curl(&["-u", bob, "-X", "PROPFIND", "-H", "Depth: 1", &p("")]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("/dav/bob/") && !listing.contains("/dav/alice/"),
        "{listing}"
    );
    // Alice's lock token is useless to bob.
    let lock = curl(&[
        "-u",
        alice,
        "-X",
        "LOCK",
        "-D",
        "-",
        "--data-binary",
        "<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>",
        &p("alice/Private/f.txt"),
    ]);
    let headers = String::from_utf8_lossy(&lock.stdout).to_string();
    assert!(headers.contains("urn:uuid:"), "{headers}");
    let token = headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("lock-token:")
                .then(|| l[11..].trim().to_string())
        })
        .expect("Lock-Token");
    let if_header = format!("If: ({token})");
    assert_eq!(
        status(&[
            "-u",
            alice,
            "-T",
            file.to_str().unwrap(),
            &p("alice/Private/f.txt")
        ]),
        423,
        "without the token"
    );
    assert_eq!(
        put(&server, alice, &file, "alice/Private/f.txt", &[&if_header]),
        204
    );

    // Grants are made over IMAP (RFC 4314) and hold for WebDAV at once.
    assert_eq!(
        status(&["-u", alice, "-X", "MKCOL", &p("alice/Other")]),
        201
    );
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let grant = |imap: &mut ImapConnection, rights: &str| {
        let r = imap.run(&format!("g SETACL Private bob {rights}"));
        assert!(r.last().unwrap().starts_with("g OK"), "{r:?}");
    };
    grant(&mut imap, "l");
    let out = curl(&["-u", bob, "-X", "PROPFIND", "-H", "Depth: 1", &p("alice/")]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("/dav/alice/Private/"), "{listing}");
    assert!(!listing.contains("/dav/alice/Other/"), "{listing}");
    assert_eq!(
        status(&["-u", bob, &p("alice/Private/f.txt")]),
        403,
        "l without r"
    );

    grant(&mut imap, "lr");
    let got = curl(&["-u", bob, &p("alice/Private/f.txt")]);
    assert_eq!(got.stdout, b"alice's secret\n");
    assert_eq!(
        put(&server, bob, &file, "alice/Private/g.txt", &[]),
        403,
        "no i"
    );
    let delete = ["-u", bob, "-X", "DELETE", &p("alice/Private/f.txt")];
    assert_eq!(status(&delete), 403, "no t/e");
    assert_eq!(status(&["-u", bob, &p("alice/Other/")]), 404);

    grant(&mut imap, "+i");
    assert_eq!(put(&server, bob, &file, "alice/Private/g.txt", &[]), 201);
    assert_eq!(status(&delete), 403, "still no t/e");
    // Bob may write now, but alice's lock token is hers alone.
    assert_eq!(
        put(&server, bob, &file, "alice/Private/f.txt", &[&if_header]),
        423
    );
    let mut bob_imap = ImapConnection::login(server.imap, "bob", "b0b");
    let r = bob_imap.run("m MYRIGHTS \"Shared/alice/Private\"");
    assert!(r[0].ends_with(" lri"), "{r:?}");

    let r = imap.run("a GETACL Private");
    assert_eq!(r[0], "* ACL \"Private\" alice lrswipkxtea bob lri", "{r:?}");
    let r = imap.run("r LISTRIGHTS Private bob");
    assert_eq!(
        r[0], "* LISTRIGHTS \"Private\" bob \"\" l r s w i p k x t e a",
        "{r:?}"
    );
    let r = bob_imap.run("a GETACL \"Shared/alice/Private\"");
    assert!(r.last().unwrap().contains("NO [NOPERM]"), "{r:?}");
    let r = imap.run("d DELETEACL Private bob");
    assert!(r.last().unwrap().starts_with("d OK"), "{r:?}");
    assert_eq!(status(&["-u", bob, &p("alice/Private/g.txt")]), 404);
}

#[test]
fn previews_are_thumbnails_of_the_requested_size() {
    let server = alice_with_folder("Pictures");
    let user = ALICE;
    for (name, format, media_type) in [
        ("a.png", image::ImageFormat::Png, "image/png"),
        ("b.jpg", image::ImageFormat::Jpeg, "image/jpeg"),
    ] {
        let file = server.dir.path().join(name);
        std::fs::write(&file, image_bytes(format)).unwrap();
        let ct = format!("Content-Type: {media_type}");
        let url = dav(&server, &format!("alice/Pictures/{name}"));
        assert_eq!(
            status(&["-u", user, "-T", file.to_str().unwrap(), "-H", &ct, &url]),
            201
        );
        for _ in 0..2 {
            // The second request is served from the cache.
            let out = curl(&[
                "-u",
                user,
                "-D",
                "-",
                "-o",
                "/dev/stdout",
                &format!("{url}?preview=64x64"),
            ]);
            let raw = out.stdout;
            let split = raw
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("headers")
                + 4;
            let headers = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            assert!(
                headers.contains(&format!("content-type: {media_type}")),
                "{headers}"
            );
            let thumb = image::load_from_memory(&raw[split..]).expect("a decodable preview");
            assert_eq!((thumb.width(), thumb.height()), (64, 48), "{name}");
        }
    }
    assert_eq!(
        status(&[
            "-u",
            user,
            &format!("{}?preview=0x5", dav(&server, "alice/Pictures/a.png"))
        ]),
        400
    );
    let text = server.dir.path().join("t.txt");
    std::fs::write(&text, "not an image").unwrap();
    let url = dav(&server, "alice/Pictures/t.txt");
    assert_eq!(
        status(&["-u", user, "-T", text.to_str().unwrap(), &url]),
        201
    );
    assert_eq!(status(&["-u", user, &format!("{url}?preview=10x10")]), 415);
}
