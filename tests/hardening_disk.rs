//! Issue 13, the disk: a full disk is refused cleanly by every protocol and
//! survived without a restart, the data directory is private to the
//! server's user, and the preview cache is bounded and removed with its
//! image. Each from the client side against the real binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::{image_bytes, require_tool, Server};

/// A tmpfs mounted for one test, lazily unmounted when dropped (also when
/// the test fails, and while the server may still hold files in it).
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`16m`) at `path`; `None` when mounting is
    /// refused (not root, no CAP_SYS_ADMIN).
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs at {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs(path.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A raw HTTP/1.1 request with Basic credentials `alice:s3cret`; returns
/// the status and the body (the server closes after it).
fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    http_with(addr, method, path, "", body)
}

/// The same with more header lines (`"Content-Type: image/png\r\n"`).
fn http_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6czNjcmV0\r\n\
{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("send head");
    // The server may answer before it has read the whole body (507).
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP response: {text:?}"));
    let at = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.len(), |i| i + 4);
    (status, out[at..].to_vec())
}

/// `/healthz`: its status and body.
fn healthz(server: &Server) -> (u16, String) {
    let (status, body) = http(server.admin, "GET", "/healthz", b"");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Deposits a CPM chat message for alice over SIP/TCP (loopback is a
/// trusted peer by default); the response's start line and header block.
fn sip_deposit(server: &Server, call_id: &str, text_bytes: usize) -> String {
    let body = format!(
        "From: <sip:bob@example.com>\r\nTo: <sip:alice@example.com>\r\n\
DateTime: 2026-11-21T10:00:00Z\r\n\r\nContent-Type: text/plain\r\n\r\n{}\r\n",
        "x".repeat(text_bytes)
    );
    let request = format!(
        "MESSAGE sip:alice@example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK{call_id}\r\n\
From: <sip:cs@example.com>;tag=t{call_id}\r\nTo: <sip:alice@example.com>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
Contact: <sip:cs@127.0.0.1:5999>\r\nConversation-ID: conv-disk\r\n\
Content-Type: message/cpim\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(server.sip_tcp).expect("connect SIP");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("send MESSAGE");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A message of about `size` bytes, different for every `n`.
fn message(n: usize, size: usize) -> String {
    let line = format!("message {n} of the disk test, filling the device.\r\n");
    format!(
        "Subject: fill {n}\r\n\r\n{}",
        line.repeat(size / line.len() + 1)
    )
}

/// APPENDs `m` with a non-synchronizing literal; the tagged response.
fn append(c: &mut ImapConnection, tag: &str, m: &str) -> String {
    let lines = c.run(&format!("{tag} APPEND INBOX {{{}+}}\r\n{m}", m.len()));
    // A refused literal must not leave bytes that read as a command.
    assert!(
        !lines.iter().any(|l| l.starts_with("* BAD")),
        "{tag}: {lines:?}"
    );
    tagged(&lines).to_string()
}

/// The UID an `OK [APPENDUID v uid]` names.
fn appended_uid(ok: &str) -> u32 {
    ok.split("APPENDUID ")
        .nth(1)
        .and_then(|r| r.split([' ', ']']).nth(1))
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("no APPENDUID in {ok:?}"))
}

/// Checks that every `(uid, message)` is in alice's INBOX, byte for byte.
fn assert_all_there(server: &Server, acknowledged: &[(u32, String)]) {
    let mut c = ImapConnection::login(server.imap, "alice", "s3cret");
    let r = c.run("s SELECT INBOX");
    assert!(tagged(&r).starts_with("s OK"), "{r:?}");
    for (uid, m) in acknowledged {
        let r = c.run(&format!("f UID FETCH {uid} BODY.PEEK[]"));
        assert!(tagged(&r).starts_with("f OK"), "UID {uid}: {r:?}");
        let body = r.first().map(String::as_str).unwrap_or_default();
        assert!(
            body.contains(m.as_str()),
            "UID {uid} was acknowledged but is not there whole: {:?}",
            &body[..body.len().min(200)]
        );
    }
}

/// Waits up to `within` for `/healthz` to answer `status`.
fn wait_health(server: &Server, status: u16, within: Duration) -> (u16, String) {
    let deadline = Instant::now() + within;
    loop {
        let got = healthz(server);
        if got.0 == status || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_full_disk_gets_tagged_no_and_507_and_writes_resume_once_space_is_freed() {
    if !e2e_tests::embedded_engine_only(
        "a_full_disk_gets_tagged_no_and_507_and_writes_resume_once_space_is_freed",
        "it fills the disk of data_dir, where this engine keeps neither records nor blobs",
    ) {
        return;
    }
    let mut server = Server::new();
    let Some(_tmpfs) = Tmpfs::mount(&server.data_dir(), "24m") else {
        return;
    };
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    server.start();
    assert_eq!(healthz(&server).0, 200);

    // Most of the device goes to a file the test removes later.
    let filler = server.data_dir().join("filler");
    std::fs::write(&filler, vec![7u8; 14 << 20]).expect("write the filler file");

    let mut c = ImapConnection::login(server.imap, "alice", "s3cret");
    let mut acknowledged = Vec::new();
    let mut n = 0;
    // Messages of 64 KiB, then 4 KB, then 200 bytes, each size until three
    // in a row are refused: the small ones fit in the last free pages as
    // blobs, so the database's own commit is what runs out of space (the
    // redb "previous I/O error" case), not only the streamed literal.
    for size in [64 * 1024, 4000, 200] {
        let mut refused = Vec::new();
        while refused.len() < 3 {
            n += 1;
            assert!(n < 3000, "the device never filled up");
            let m = message(n, size);
            let reply = append(&mut c, &format!("a{n}"), &m);
            if reply.starts_with(&format!("a{n} OK")) {
                acknowledged.push((appended_uid(&reply), m));
                refused.clear();
            } else {
                refused.push(reply);
            }
        }
        for reply in &refused {
            assert!(
                reply.contains(" NO [OVERQUOTA]") || reply.contains(" NO [UNAVAILABLE]"),
                "a refused APPEND gets a tagged NO with its reason: {reply}"
            );
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "nothing was stored before it filled"
    );
    // The connection goes on: a synchronizing literal too gets a tagged NO.
    let big = message(999, 512 * 1024);
    c.send(format!("s1 APPEND INBOX {{{}}}\r\n", big.len()).as_bytes());
    let go = c.read_response_line().expect("continuation");
    assert!(go.starts_with('+'), "{go}");
    c.send(format!("{big}\r\n").as_bytes());
    let r = c.read_until_tagged("s1");
    assert!(tagged(&r).starts_with("s1 NO ["), "{r:?}");
    let r = c.run("n NOOP");
    assert!(tagged(&r).starts_with("n OK"), "{r:?}");

    // WebDAV: 507 with a body.
    let (status, body) = http(
        server.webdav,
        "PUT",
        "/dav/alice/INBOX/big.bin",
        &[1u8; 1 << 20],
    );
    assert_eq!(status, 507, "{}", String::from_utf8_lossy(&body));

    // SIP: 500 with Retry-After (RFC 3261 21.5.1).
    let answer = sip_deposit(&server, "full-1", 8192);
    assert!(answer.starts_with("SIP/2.0 500"), "{answer}");
    assert!(answer.contains("Retry-After:"), "{answer}");

    // /healthz says why while writes fail.
    let (status, body) = healthz(&server);
    assert_eq!(status, 503, "/healthz while the disk is full: {body}");
    assert!(body.contains("space"), "{body}");
    let metrics = server.http_get("/metrics").expect("metrics");
    assert!(metrics.contains("cpm_store_storage_failing 1"), "{metrics}");

    // Space comes back: writes succeed again, without a restart.
    std::fs::remove_file(&filler).expect("remove the filler file");
    let (status, body) = wait_health(&server, 200, Duration::from_secs(15));
    assert_eq!(status, 200, "/healthz after space was freed: {body}");
    let metrics = server.http_get("/metrics").expect("metrics");
    assert!(metrics.contains("cpm_store_storage_failing 0"), "{metrics}");
    let m = message(1000, 64 * 1024);
    let reply = append(&mut c, "b1", &m);
    assert!(reply.starts_with("b1 OK"), "{reply}");
    acknowledged.push((appended_uid(&reply), m));
    let (status, body) = http(
        server.webdav,
        "PUT",
        "/dav/alice/INBOX/after.bin",
        &[2u8; 4096],
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let answer = sip_deposit(&server, "after-1", 100);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");

    // Nothing acknowledged was lost, also after a restart.
    assert_all_there(&server, &acknowledged);
    drop(c);
    assert_eq!(server.terminate(), Some(0));
    server.start();
    assert_all_there(&server, &acknowledged);
}

/// Every path under `dir` whose mode has a group or other bit.
fn not_private(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            found.push(format!("{} {:o}", path.display(), mode & 0o7777));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir") {
                pending.push(entry.expect("entry").path());
            }
        }
    }
    found
}

#[test]
fn no_file_or_folder_of_the_data_dir_is_readable_by_others() {
    if !e2e_tests::embedded_engine_only(
        "no_file_or_folder_of_the_data_dir_is_readable_by_others",
        "it reads the modes of store.redb and the blob files, which this engine keeps elsewhere",
    ) {
        return;
    }
    let mut server = Server::new();
    server.add_account("alice", "s3cret");
    server.start();
    let mut c = ImapConnection::login(server.imap, "alice", "s3cret");
    let reply = append(&mut c, "a", &message(1, 1000));
    assert!(reply.starts_with("a OK"), "{reply}");
    let data = server.data_dir();
    for expected in [
        "store.redb",
        "admin.token",
        "tls/key.pem",
        "tls/cert.pem",
        "blobs",
    ] {
        assert!(data.join(expected).exists(), "{expected} missing");
    }
    assert_eq!(not_private(&data), Vec::<String>::new());

    // A data dir left world-readable (an older version) is fixed at start.
    drop(c);
    assert_eq!(server.terminate(), Some(0));
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.join("store.redb"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    server.start();
    assert_eq!(not_private(&data), Vec::<String>::new());
}

/// Bytes of every file under `dir` (0 when it does not exist).
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let e = e.expect("entry");
            let meta = e.metadata().expect("stat");
            if meta.is_dir() {
                bytes_under(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// The dimensions of an encoded image.
fn dimensions(bytes: &[u8]) -> (u32, u32) {
    image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .expect("format")
        .into_dimensions()
        .expect("an image")
}

#[test]
fn previews_stay_under_the_cache_size_go_with_the_image_and_are_never_upscaled() {
    if !e2e_tests::embedded_engine_only(
        "previews_stay_under_the_cache_size_go_with_the_image_and_are_never_upscaled",
        "the preview cache on disk serves file blobs only (ARCHITECTURE, S3 blobs)",
    ) {
        return;
    }
    require_tool("curl", "curl");
    const CACHE: u64 = 300 * 1024;
    let mut server = Server::new();
    server.set_settings("store", &format!("preview_cache_bytes = {CACHE}\n"));
    server.add_account("alice", "s3cret");
    server.start();
    let (status, _) = http(server.webdav, "MKCOL", "/dav/alice/Media", b"");
    assert_eq!(status, 201);
    let (status, _) = http_with(
        server.webdav,
        "PUT",
        "/dav/alice/Media/photo.png",
        "Content-Type: image/png\r\n",
        &image_bytes(image::ImageFormat::Png),
    );
    assert_eq!(status, 201);

    // 300 different sizes in one curl run (one connection, kept alive).
    let url = |w: u32, h: u32| {
        format!(
            "http://{}/dav/alice/Media/photo.png?preview={w}x{h}",
            server.webdav
        )
    };
    let mut args: Vec<String> = ["-s", "-u", "alice:s3cret", "-w", "%{http_code}\\n"]
        .map(String::from)
        .to_vec();
    for n in 0..300u32 {
        args.extend(["-o".into(), "/dev/null".into(), url(100 + n, 80 + n)]);
    }
    let out = Command::new("curl").args(&args).output().expect("curl");
    let codes = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        codes.lines().filter(|c| *c == "200").count(),
        300,
        "{codes}"
    );
    let previews = server.data_dir().join("previews");
    let on_disk = bytes_under(&previews);
    assert!(on_disk > 0, "nothing was cached");
    assert!(
        on_disk <= CACHE,
        "{on_disk} bytes of previews on disk, over the {CACHE} configured"
    );

    // A box larger than the image gets the image's own size; a box
    // larger in one direction only is bounded by the other.
    let preview = |size: &str| {
        let path = format!("/dav/alice/Media/photo.png?preview={size}");
        let (status, body) = http(server.webdav, "GET", &path, b"");
        assert_eq!(status, 200, "{size}");
        dimensions(&body)
    };
    assert_eq!(preview("2048x2048"), (640, 480), "the preview was upscaled");
    assert_eq!(preview("2000x240"), (320, 240));

    // Deleting the image removes its previews.
    let (status, _) = http(server.webdav, "DELETE", "/dav/alice/Media/photo.png", b"");
    assert_eq!(status, 204);
    assert_eq!(bytes_under(&previews), 0, "previews outlived their image");
}
