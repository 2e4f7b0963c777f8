//! The real binary with its blobs in an S3-compatible object store
//! (`[blobs] backend = "s3"`, issue 20): IMAP APPEND then FETCH BODY[] and
//! a partial FETCH, WebDAV PUT then GET whole and with Range, byte for
//! byte; and an APPEND while the object store is down gets a tagged NO and
//! stores nothing. Each test runs its own moto_server (the S3 test server
//! scripts/test.sh installs), so that stopping it disturbs no other test;
//! without `CPM_TEST_S3_ENDPOINT` (set by scripts/test.sh) they say so and
//! pass.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::{free_addr, Server};

/// Whether the S3 tests run here (scripts/test.sh sets the variable once
/// moto_server is installed); says so when they do not.
fn s3_available(test: &str) -> bool {
    if std::env::var("CPM_TEST_S3_ENDPOINT").is_ok_and(|v| !v.is_empty()) {
        return true;
    }
    eprintln!("{test}: SKIPPED: CPM_TEST_S3_ENDPOINT is not set (scripts/test.sh sets it)");
    false
}

/// A moto_server of this test's own, on loopback; killed when dropped.
struct Moto {
    addr: SocketAddr,
    child: Option<Child>,
}

impl Moto {
    fn start() -> Moto {
        let mut moto = Moto {
            addr: free_addr(),
            child: None,
        };
        moto.restart();
        moto
    }

    /// Starts it (again) on the same port; waits until it answers.
    fn restart(&mut self) {
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &self.addr.port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server (python3 -m pip install 'moto[server]')");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(self.addr).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills it (its buckets go with it: moto keeps them in memory).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// S3 CreateBucket (`PUT /name`); the status line.
    fn create_bucket(&self, name: &str) -> String {
        let mut tcp = std::net::TcpStream::connect(self.addr).expect("connect to moto");
        write!(
            tcp,
            "PUT /{name} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut reply = String::new();
        tcp.read_to_string(&mut reply).unwrap();
        reply.lines().next().unwrap_or_default().to_string()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A started server with alice, whose blobs are in bucket `blobs` of `moto`.
fn server_on(moto: &Moto) -> Server {
    assert!(moto.create_bucket("blobs").contains(" 200"));
    let mut server = Server::new();
    server.use_s3_blobs(&moto.url(), "blobs");
    server.add_account("alice", "secret");
    server.start();
    server
}

/// A message of about `size` bytes of text, different at every line.
fn message(n: usize, size: usize) -> String {
    let mut m = format!("Subject: s3 message {n}\r\nFrom: bob@example.net\r\n\r\n");
    let mut i = 0;
    while m.len() < size {
        m.push_str(&format!(
            "line {i} of message {n}, with some text to fill it\r\n"
        ));
        i += 1;
    }
    m
}

/// APPENDs `m` to INBOX with a synchronizing literal; the tagged response.
fn append(c: &mut ImapConnection, tag: &str, m: &str) -> String {
    c.send(format!("{tag} APPEND INBOX {{{}}}\r\n", m.len()).as_bytes());
    let go = c.read_response_line().expect("a continuation");
    if !go.starts_with('+') {
        return go;
    }
    c.send(format!("{m}\r\n").as_bytes());
    tagged(&c.read_until_tagged(tag)).to_string()
}

/// The literal of the untagged FETCH response for `item` (e.g. `BODY[]`).
fn fetched(c: &mut ImapConnection, tag: &str, command: &str, item: &str) -> String {
    let r = c.run(&format!("{tag} {command}"));
    assert!(tagged(&r).starts_with(&format!("{tag} OK")), "{r:?}");
    let line = r
        .iter()
        .find(|l| l.starts_with("* ") && l.contains(item))
        .unwrap_or_else(|| panic!("no {item} in {r:?}"));
    let at = line.find(item).unwrap() + item.len();
    let rest = &line[at..];
    let open = rest.find('{').expect("a literal");
    let close = rest.find("}\r\n").expect("a literal");
    let size: usize = rest[open + 1..close].parse().unwrap();
    rest[close + 3..close + 3 + size].to_string()
}

/// The number of messages in alice's INBOX (STATUS MESSAGES).
fn inbox_count(server: &Server) -> u32 {
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let r = c.run("st STATUS INBOX (MESSAGES)");
    assert!(tagged(&r).starts_with("st OK"), "{r:?}");
    let line = r.iter().find(|l| l.contains("MESSAGES")).unwrap();
    line.split("MESSAGES ")
        .nth(1)
        .and_then(|s| s.trim_end_matches(')').trim().parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

/// curl as alice; the status and the body.
fn curl(server: &Server, path: &str, args: &[&str]) -> (u16, Vec<u8>) {
    let body = server.dir.path().join("curl.body");
    let _ = std::fs::remove_file(&body);
    let out = Command::new("curl")
        .args(["-s", "-S", "-u", "alice:secret", "-o"])
        .arg(&body)
        .args(["-w", "%{http_code}"])
        .args(args)
        .arg(format!("http://{}/dav/alice/{path}", server.webdav))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (status, std::fs::read(&body).unwrap_or_default())
}

#[test]
fn imap_and_webdav_store_and_read_back_through_s3_byte_for_byte() {
    if !s3_available("imap_and_webdav_store_and_read_back_through_s3_byte_for_byte") {
        return;
    }
    let moto = Moto::start();
    let server = server_on(&moto);

    // IMAP: 6 MiB (a multipart upload) and 100 KiB (one PUT).
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let big = message(1, 6 * 1024 * 1024 + 123);
    let small = message(2, 100 * 1024);
    for (tag, m) in [("a1", &big), ("a2", &small)] {
        let ok = append(&mut c, tag, m);
        assert!(ok.starts_with(&format!("{tag} OK")), "{ok}");
    }
    // No blob file on the server's disk: the contents are in the bucket.
    let files = std::fs::read_dir(server.data_dir().join("blobs"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, 0, "blob files under data_dir/blobs");
    let r = c.run("s SELECT INBOX");
    assert!(tagged(&r).starts_with("s OK"), "{r:?}");
    assert_eq!(fetched(&mut c, "f1", "FETCH 1 BODY.PEEK[]", "BODY[]"), big);
    assert_eq!(
        fetched(&mut c, "f2", "FETCH 2 BODY.PEEK[]", "BODY[]"),
        small
    );
    let partial = fetched(
        &mut c,
        "f3",
        "FETCH 1 BODY.PEEK[]<5000000.1200000>",
        "BODY[]<5000000>",
    );
    assert_eq!(partial, big[5_000_000..6_200_000]);

    // WebDAV: PUT, then GET whole and a range across a part boundary.
    let file = server.dir.path().join("upload.bin");
    let bytes: Vec<u8> = (0..7_000_000u32)
        .map(|i| (i % 251) as u8 ^ (i >> 12) as u8)
        .collect();
    std::fs::write(&file, &bytes).unwrap();
    let (status, _) = curl(
        &server,
        "INBOX/media.bin",
        &["-T", &file.display().to_string()],
    );
    assert!(status == 201 || status == 204, "PUT: {status}");
    let (status, got) = curl(&server, "INBOX/media.bin", &[]);
    assert_eq!(status, 200);
    assert!(
        got == bytes,
        "GET: {} bytes back of {}",
        got.len(),
        bytes.len()
    );
    let (status, got) = curl(
        &server,
        "INBOX/media.bin",
        &["-H", "Range: bytes=5242000-5243999"],
    );
    assert_eq!(status, 206);
    assert_eq!(got, bytes[5_242_000..5_244_000]);
    let (status, got) = curl(&server, "INBOX/media.bin", &["-H", "Range: bytes=-10"]);
    assert_eq!(status, 206);
    assert_eq!(got, bytes[bytes.len() - 10..]);
}

#[test]
fn an_append_while_s3_is_down_gets_a_tagged_no_and_stores_nothing() {
    if !s3_available("an_append_while_s3_is_down_gets_a_tagged_no_and_stores_nothing") {
        return;
    }
    let mut moto = Moto::start();
    let server = server_on(&moto);
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let ok = append(&mut c, "a1", &message(1, 200 * 1024));
    assert!(ok.starts_with("a1 OK"), "{ok}");
    assert_eq!(inbox_count(&server), 1);

    moto.stop();
    let no = append(&mut c, "a2", &message(2, 200 * 1024));
    assert!(
        no.starts_with("a2 NO"),
        "an APPEND without its object store: {no}"
    );
    // The session goes on.
    let r = c.run("n NOOP");
    assert!(tagged(&r).starts_with("n OK"), "{r:?}");

    moto.restart();
    assert!(moto.create_bucket("blobs").contains(" 200"));
    assert_eq!(inbox_count(&server), 1, "nothing half-stored");
    // And it takes writes again, read back whole.
    let m = message(3, 200 * 1024);
    let ok = append(&mut c, "a3", &m);
    assert!(ok.starts_with("a3 OK"), "{ok}");
    assert_eq!(inbox_count(&server), 2);
    let r = c.run("s SELECT INBOX");
    assert!(tagged(&r).starts_with("s OK"), "{r:?}");
    assert_eq!(fetched(&mut c, "f", "FETCH 2 BODY.PEEK[]", "BODY[]"), m);
}

/// A backup of a store whose blobs are in S3 restores into a store whose
/// blobs are in another bucket: the restore uploads them (nothing is left
/// under data_dir/blobs) and FETCH gives the same bytes.
#[test]
fn a_backup_restores_into_a_new_bucket() {
    if !s3_available("a_backup_restores_into_a_new_bucket") {
        return;
    }
    let moto = Moto::start();
    let mut server = server_on(&moto);
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let big = message(1, 6 * 1024 * 1024 + 7);
    let ok = append(&mut c, "a1", &big);
    assert!(ok.starts_with("a1 OK"), "{ok}");
    drop(c);
    let backup = server.dir.path().join("backup");
    let out = server.command(&["backup", backup.to_str().unwrap()], "");
    assert!(out.status.success(), "{out:?}");
    server.terminate();

    assert!(moto.create_bucket("restored").contains(" 200"));
    let mut restored = Server::new();
    restored.use_s3_blobs(&moto.url(), "restored");
    let out = restored.command(&["restore", backup.to_str().unwrap()], "");
    assert!(out.status.success(), "{out:?}");
    let blob_files = walk_files(&restored.data_dir().join("blobs"));
    assert_eq!(blob_files, 0, "blob files left under data_dir/blobs");
    restored.start();
    let mut c = ImapConnection::login(restored.imap, "alice", "secret");
    let r = c.run("s SELECT INBOX");
    assert!(tagged(&r).starts_with("s OK"), "{r:?}");
    assert_eq!(fetched(&mut c, "f1", "FETCH 1 BODY.PEEK[]", "BODY[]"), big);
}

/// The files under `dir`, at any depth (0 if it does not exist).
fn walk_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk_files(&p)
            } else {
                1
            }
        })
        .sum()
}
