//! WebDAV media behaviour a file manager or `curl -T` relies on, against
//! the real binary (issue 15): media types found for a PUT without
//! Content-Type (RFC 9110 8.3), previews that never upscale, 400 for an
//! HTTP/1.1 request without Host (RFC 9112 3.2), and macOS metadata files
//! (`._*`, `.DS_Store`) stored for WebDAV but hidden from IMAP, or
//! refused.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::{require_tool, Server};

const USER: &str = "alice:secret";

/// One answer as curl saw it.
struct Answer {
    status: u16,
    /// Header block, lower-cased.
    headers: String,
    body: Vec<u8>,
}

impl Answer {
    fn content_type(&self) -> &str {
        self.headers
            .lines()
            .find_map(|l| l.strip_prefix("content-type:"))
            .map(str::trim)
            .unwrap_or_default()
    }
}

/// Runs curl as alice on `/dav/alice/{path}` with `args` before the URL.
fn http(server: &Server, path: &str, args: &[&str]) -> Answer {
    let url = format!("http://{}/dav/alice/{path}", server.webdav);
    let out = Command::new("curl")
        .args(["-s", "-S", "-i", "-u", USER])
        .args(args)
        .arg(&url)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = out.stdout;
    // Skip interim answers (100 Continue) to the final one.
    let mut rest = &raw[..];
    loop {
        let split = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a header block")
            + 4;
        let headers = String::from_utf8_lossy(&rest[..split]).to_ascii_lowercase();
        let status = headers
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status code");
        if status == 100 {
            rest = &rest[split..];
            continue;
        }
        return Answer {
            status,
            headers,
            body: rest[split..].to_vec(),
        };
    }
}

/// Writes `bytes` to a file named `name` in the test's directory.
fn file(server: &Server, name: &str, bytes: &[u8]) -> PathBuf {
    let dir = server.dir.path().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `curl -T` of `bytes` as `folder/name`, with `headers`; the status.
fn put(server: &Server, folder: &str, name: &str, bytes: &[u8], headers: &[&str]) -> u16 {
    let path = file(server, name, bytes);
    let mut args = vec!["-T", path.to_str().unwrap()];
    for h in headers {
        args.extend(["-H", h]);
    }
    http(server, &format!("{folder}/{name}"), &args).status
}

/// A `width`x`height` gradient in `format`.
fn image(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 5) as u8, 120])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

/// alice's server with folder `Media`, `settings` added to `[webdav]`.
fn server(settings: &str) -> Server {
    require_tool("curl", "curl");
    let mut server = Server::new();
    server.set_settings("webdav", settings);
    server.add_account("alice", "secret");
    server.start();
    assert_eq!(http(&server, "Media", &["-X", "MKCOL"]).status, 201);
    server
}

#[test]
fn curl_put_without_content_type_then_preview_gives_an_image() {
    let server = server("");
    let jpeg = image(64, 48, image::ImageFormat::Jpeg);
    // `curl -T` sends no Content-Type; the empty -H makes sure of it.
    assert_eq!(
        put(&server, "Media", "photo.jpg", &jpeg, &["Content-Type:"]),
        201
    );
    let got = http(&server, "Media/photo.jpg", &[]);
    assert_eq!((got.status, got.content_type()), (200, "image/jpeg"));
    assert_eq!(got.body, jpeg, "GET returns the file as sent");
    let preview = http(&server, "Media/photo.jpg?preview=32x32", &[]);
    assert_eq!(
        preview.status,
        200,
        "{}",
        String::from_utf8_lossy(&preview.body)
    );
    assert!(
        preview.content_type().starts_with("image/"),
        "{}",
        preview.headers
    );
    let thumb = image::load_from_memory(&preview.body).expect("a decodable preview");
    assert_eq!((thumb.width(), thumb.height()), (32, 24));

    // The content decides over the name: PNG bytes named .jpg.
    let png = image(20, 10, image::ImageFormat::Png);
    assert_eq!(put(&server, "Media", "misnamed.jpg", &png, &[]), 201);
    let got = http(&server, "Media/misnamed.jpg", &["-I"]);
    assert_eq!(got.content_type(), "image/png");
    // Content that says nothing: the name decides; else octet-stream.
    assert_eq!(
        put(&server, "Media", "notes.txt", b"plain words\n", &[]),
        201
    );
    assert_eq!(
        http(&server, "Media/notes.txt", &["-I"]).content_type(),
        "text/plain"
    );
    assert_eq!(put(&server, "Media", "blob", b"plain words\n", &[]), 201);
    assert_eq!(
        http(&server, "Media/blob", &["-I"]).content_type(),
        "application/octet-stream"
    );
}

#[test]
fn an_explicit_content_type_is_kept() {
    let server = server("");
    let jpeg = image(16, 16, image::ImageFormat::Jpeg);
    for (name, sent) in [
        ("a.jpg", "application/octet-stream"),
        ("b.jpg", "image/x-custom; quality=high"),
    ] {
        let header = format!("Content-Type: {sent}");
        assert_eq!(put(&server, "Media", name, &jpeg, &[&header]), 201);
        let got = http(&server, &format!("Media/{name}"), &["-I"]);
        assert_eq!(got.content_type(), sent.to_ascii_lowercase(), "{name}");
    }
    // Not an image as far as its type says: no preview.
    assert_eq!(http(&server, "Media/a.jpg?preview=8x8", &[]).status, 415);
}

#[test]
fn previews_never_upscale_and_keep_the_aspect_ratio() {
    let server = server("");
    for (name, format) in [
        ("small.png", image::ImageFormat::Png),
        ("small.jpg", image::ImageFormat::Jpeg),
    ] {
        assert_eq!(
            put(&server, "Media", name, &image(50, 40, format), &[]),
            201
        );
        for (asked, expected) in [
            ("500x500", (50, 40)),
            // The second time from the preview cache.
            ("500x500", (50, 40)),
            ("500x20", (25, 20)),
            ("25x500", (25, 20)),
            ("50x40", (50, 40)),
        ] {
            let got = http(&server, &format!("Media/{name}?preview={asked}"), &[]);
            assert_eq!(got.status, 200, "{name} {asked}");
            let thumb = image::load_from_memory(&got.body).expect("a decodable preview");
            assert_eq!(
                (thumb.width(), thumb.height()),
                expected,
                "{name} at {asked}"
            );
        }
    }
}

/// Sends `request` on a new connection; the status and the whole answer.
fn raw(server: &Server, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(server.webdav).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    (status, text)
}

#[test]
fn http11_without_host_gets_400_before_authentication() {
    let server = server("");
    let (status, text) = raw(
        &server,
        "PROPFIND /dav/alice/ HTTP/1.1\r\nDepth: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("Host"), "the body says why: {text}");
    // With credentials too: still 400, and the same for OPTIONS.
    let (status, _) = raw(
        &server,
        "GET /dav/alice/ HTTP/1.1\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 400);
    let (status, _) = raw(
        &server,
        "OPTIONS /dav/ HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 400);
    // Two Host lines: 400 (RFC 9112 3.2).
    let (status, _) = raw(
        &server,
        "GET /dav/alice/ HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 400);
    // HTTP/1.0 may omit Host: asked for credentials as usual.
    let (status, _) = raw(&server, "GET /dav/alice/ HTTP/1.0\r\n\r\n");
    assert_eq!(status, 401);
    let (status, _) = raw(
        &server,
        "GET /dav/alice/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401);
}

/// An AppleDouble header (RFC 1740 appendix B) as macOS writes one.
const APPLE_DOUBLE: &[u8] = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x00";

/// The files a Finder copy of two files leaves, with the real ones first.
fn finder_copy(server: &Server) {
    let png = image(30, 20, image::ImageFormat::Png);
    assert_eq!(put(server, "Media", "photo.png", &png, &[]), 201);
    assert_eq!(put(server, "Media", "._photo.png", APPLE_DOUBLE, &[]), 201);
    assert_eq!(
        put(server, "Media", ".DS_Store", b"\0\0\0\x01Bud1\0\0", &[]),
        201
    );
    assert_eq!(put(server, "Media", "notes.txt", b"words\n", &[]), 201);
    assert_eq!(put(server, "Media", "._notes.txt", APPLE_DOUBLE, &[]), 201);
}

/// The FETCH responses of `lines`.
fn fetches(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains(" FETCH (")).collect()
}

fn status_of(imap: &mut ImapConnection) -> String {
    let r = imap.run("s STATUS Media (MESSAGES UNSEEN SIZE UIDNEXT)");
    assert!(tagged(&r).starts_with("s OK"), "{r:?}");
    r.iter()
        .find(|l| l.starts_with("* STATUS"))
        .cloned()
        .unwrap_or_else(|| panic!("no STATUS line: {r:?}"))
}

#[test]
fn macos_metadata_is_stored_for_webdav_and_hidden_from_imap() {
    let server = server("");
    finder_copy(&server);
    // WebDAV sees and serves every file (Finder reads them back).
    let got = http(&server, "Media/._photo.png", &[]);
    assert_eq!(
        (got.status, got.content_type()),
        (200, "application/applefile")
    );
    assert_eq!(got.body, APPLE_DOUBLE);
    assert_eq!(http(&server, "Media/.DS_Store", &[]).status, 200);
    let listing = http(&server, "Media", &["-X", "PROPFIND", "-H", "Depth: 1"]);
    let listing = String::from_utf8_lossy(&listing.body);
    for name in [
        "photo.png",
        "._photo.png",
        ".DS_Store",
        "notes.txt",
        "._notes.txt",
    ] {
        assert!(
            listing.contains(&format!("/Media/{name}<")),
            "{name}: {listing}"
        );
    }

    // IMAP shows only the two real files, everywhere.
    let mut imap = ImapConnection::login(server.imap, "alice", "secret");
    let status = status_of(&mut imap);
    assert!(
        status.contains("MESSAGES 2") && status.contains("UNSEEN 2"),
        "{status}"
    );
    let r = imap.run("l LIST \"\" Media RETURN (STATUS (MESSAGES UNSEEN))");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* STATUS") && l.contains("(MESSAGES 2 UNSEEN 2)")),
        "LIST-STATUS: {r:?}"
    );
    let r = imap.run("e EXAMINE Media");
    assert!(r.contains(&"* 2 EXISTS".to_string()), "{r:?}");
    let r = imap.run("f FETCH 1:* (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    let found = fetches(&r);
    assert_eq!(found.len(), 2, "{r:?}");
    assert!(
        found[0].contains("photo.png") && found[1].contains("notes.txt"),
        "{r:?}"
    );
    assert!(
        !r.iter().any(|l| l.contains("._") || l.contains("DS_Store")),
        "{r:?}"
    );
    // The sizes STATUS gives are those of the messages IMAP shows.
    let sizes: u64 = found
        .iter()
        .map(|l| {
            let at = l.find("RFC822.SIZE ").unwrap() + 12;
            l[at..]
                .split([' ', ')'])
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(
        status.contains(&format!("SIZE {sizes}")),
        "{status} vs {sizes}"
    );
    // Every UID, even those of the hidden files, names only the two.
    assert_eq!(fetches(&imap.run("u UID FETCH 1:* (FLAGS)")).len(), 2);
    let r = imap.run("u UID FETCH 2 (FLAGS)");
    assert!(
        fetches(&r).is_empty() && tagged(&r).starts_with("u OK"),
        "{r:?}"
    );
    let r = imap.run("s SEARCH ALL");
    assert!(r.contains(&"* SEARCH 1 2".to_string()), "{r:?}");
    let r = imap.run("s UID SEARCH ALL");
    assert!(r.contains(&"* SEARCH 1 4".to_string()), "{r:?}");
    let r = imap.run("t THREAD REFERENCES UTF-8 ALL");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* THREAD") && !l.contains(" 0")),
        "{r:?}"
    );

    // New files while the folder is selected: one EXISTS for the real one.
    let png = image(8, 8, image::ImageFormat::Png);
    assert_eq!(put(&server, "Media", "._more.png", APPLE_DOUBLE, &[]), 201);
    assert_eq!(put(&server, "Media", "more.png", &png, &[]), 201);
    let r = imap.run("n NOOP");
    assert!(r.contains(&"* 3 EXISTS".to_string()), "{r:?}");
    assert!(!r.iter().any(|l| l.contains("* 4 EXISTS")), "{r:?}");
    assert_eq!(fetches(&imap.run("f FETCH 1:* (UID)")).len(), 3);
    // A hidden file alone: nothing to report.
    assert_eq!(put(&server, "Media", "._other", APPLE_DOUBLE, &[]), 201);
    let r = imap.run("n NOOP");
    assert_eq!(r.len(), 1, "no untagged response: {r:?}");
    let status = status_of(&mut imap);
    assert!(status.contains("MESSAGES 3"), "{status}");
    // Removing a hidden file over WebDAV changes nothing IMAP counts.
    assert_eq!(
        http(&server, "Media/._photo.png", &["-X", "DELETE"]).status,
        204
    );
    let r = imap.run("n NOOP");
    assert!(!r.iter().any(|l| l.contains("EXPUNGE")), "{r:?}");
    assert!(status_of(&mut imap).contains("MESSAGES 3"));

    // A fresh SELECT agrees.
    let mut other = ImapConnection::login(server.imap, "alice", "secret");
    let r = other.run("s SELECT Media");
    assert!(r.contains(&"* 3 EXISTS".to_string()), "{r:?}");

    // NOTIFY (RFC 5465) for the unselected folder: the STATUS it sends
    // counts the real files only.
    let mut watcher = ImapConnection::login(server.imap, "alice", "secret");
    let r = watcher.run("w NOTIFY SET (mailboxes Media (MessageNew MessageExpunge))");
    assert!(tagged(&r).starts_with("w OK"), "{r:?}");
    assert_eq!(put(&server, "Media", "._late.png", APPLE_DOUBLE, &[]), 201);
    assert_eq!(put(&server, "Media", "late.png", &png, &[]), 201);
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !seen.iter().any(|l: &String| l.contains("MESSAGES 4")) {
        assert!(std::time::Instant::now() < deadline, "no STATUS: {seen:?}");
        let r = watcher.run("n NOOP");
        seen.extend(r.into_iter().filter(|l| l.starts_with("* STATUS")));
    }
    assert!(
        seen.iter()
            .all(|l| l.contains("MESSAGES 3") || l.contains("MESSAGES 4")),
        "{seen:?}"
    );
}

#[test]
fn refused_macos_metadata_gets_403() {
    let server = server("macos_metadata = \"refuse\"\n");
    let png = image(8, 8, image::ImageFormat::Png);
    assert_eq!(put(&server, "Media", "photo.png", &png, &[]), 201);
    for name in ["._photo.png", ".DS_Store"] {
        let path = file(&server, name, APPLE_DOUBLE);
        let got = http(
            &server,
            &format!("Media/{name}"),
            &["-T", path.to_str().unwrap()],
        );
        assert_eq!(got.status, 403, "{name}");
        assert!(
            String::from_utf8_lossy(&got.body).contains("macOS metadata"),
            "the reason: {}",
            String::from_utf8_lossy(&got.body)
        );
        assert_eq!(http(&server, &format!("Media/{name}"), &["-I"]).status, 404);
    }
    // Nor by locking such an unmapped name (which would create it, RFC
    // 4918 7.3).
    let lockinfo = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\">\
        <D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>\
        </D:lockinfo>";
    let got = http(
        &server,
        "Media/._locked",
        &["-X", "LOCK", "--data", lockinfo],
    );
    assert_eq!(got.status, 403);
    assert_eq!(http(&server, "Media/._locked", &["-I"]).status, 404);
    // Nor by renaming a file to such a name.
    let dest = format!("Destination: http://{}/dav/alice/Media/._x", server.webdav);
    let got = http(&server, "Media/photo.png", &["-X", "MOVE", "-H", &dest]);
    assert_eq!(got.status, 403);
}

#[test]
fn stored_macos_metadata_shows_in_imap() {
    let server = server("macos_metadata = \"store\"\n");
    finder_copy(&server);
    let mut imap = ImapConnection::login(server.imap, "alice", "secret");
    let r = imap.run("e EXAMINE Media");
    assert!(r.contains(&"* 5 EXISTS".to_string()), "{r:?}");
    assert!(status_of(&mut imap).contains("MESSAGES 5"));
}
