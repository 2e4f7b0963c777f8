//! WebDAV under hostile input, against `cpm-store serve` over raw HTTP/1.1:
//! an XML attribute flood does not stall other clients, a large PROPFIND
//! answer is streamed, and partial PUT and Depth 0 DELETE/COPY of a
//! collection lose no data (issue 13).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use e2e_tests::imap::ImapConnection;
use e2e_tests::Server;

/// A response as the client reads it.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An open request: the status line and headers are read, the body not yet.
struct Pending {
    status: u16,
    chunked: bool,
    length: Option<usize>,
    reader: BufReader<TcpStream>,
}

impl Pending {
    /// Reads the body, handing each piece of it to `sink` as it arrives.
    fn read_body(mut self, mut sink: impl FnMut(&[u8])) {
        if !self.chunked {
            let mut rest = Vec::new();
            match self.length {
                Some(n) => {
                    rest.resize(n, 0);
                    self.reader.read_exact(&mut rest).expect("body");
                }
                None => {
                    self.reader.read_to_end(&mut rest).expect("body");
                }
            }
            sink(&rest);
            return;
        }
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("chunk size");
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
            if size == 0 {
                return;
            }
            let mut left = size;
            while left > 0 {
                let n = left.min(buf.len());
                self.reader.read_exact(&mut buf[..n]).expect("chunk");
                sink(&buf[..n]);
                left -= n;
            }
            let mut crlf = [0u8; 2];
            self.reader.read_exact(&mut crlf).expect("chunk end");
        }
    }

    fn finish(self) -> Reply {
        let status = self.status;
        let mut body = Vec::new();
        self.read_body(|piece| body.extend_from_slice(piece));
        Reply { status, body }
    }
}

/// Sends `method path` as alice with `headers` and `body`; returns once the
/// status line and headers are read.
fn start(server: &Server, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Pending {
    let stream = TcpStream::connect(server.webdav).expect("connect to WebDAV");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut request = format!(
        "{method} /dav/alice/{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        server.webdav,
        STANDARD.encode("alice:secret"),
        body.len()
    );
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let mut writer = stream.try_clone().expect("clone");
    writer.write_all(request.as_bytes()).expect("send head");
    writer.write_all(body).expect("send body");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {line:?}"));
    let (mut chunked, mut length) = (false, None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).expect("header");
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        match name.to_ascii_lowercase().as_str() {
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            "content-length" => length = value.trim().parse().ok(),
            _ => {}
        }
    }
    if method == "HEAD" || status == 204 || status == 304 {
        length = Some(0);
    }
    Pending {
        status,
        chunked,
        length,
        reader,
    }
}

/// One whole request as alice.
fn request(server: &Server, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Reply {
    start(server, method, path, headers, body).finish()
}

/// A PROPFIND body of about `target` bytes whose root element carries
/// attributes `attribute(i)` for i = 0, 1, ... until it is that long.
fn attribute_flood(target: usize, attribute: impl Fn(usize) -> String) -> (Vec<u8>, usize) {
    let mut body = String::from("<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"");
    let tail = "><D:allprop/></D:propfind>";
    let mut count = 0;
    loop {
        let next = format!(" {}", attribute(count));
        if body.len() + next.len() + tail.len() > target {
            break;
        }
        body.push_str(&next);
        count += 1;
    }
    body.push_str(tail);
    (body.into_bytes(), count)
}

/// Issue 13: a PROPFIND just under `max_xml_bytes` with about 90,000
/// attributes on one element took 10 s of a tokio worker, and two at once
/// stalled every IMAP client for 9 s. Now each is answered within 2 s
/// while a logged-in IMAP client's NOOPs stay under 200 ms.
#[test]
fn an_xml_attribute_flood_is_answered_quickly_and_stalls_no_one() {
    let server = Server::with_alice();
    let max_xml_bytes = 1024 * 1024;
    let (plain, plain_count) = attribute_flood(max_xml_bytes - 64, |i| format!("a{i}=\"v\""));
    let (decls, decl_count) = attribute_flood(max_xml_bytes - 64, |i| format!("xmlns:p{i}=\"u\""));
    assert!(plain_count >= 85_000, "{plain_count} attributes");
    assert!(decl_count >= 60_000, "{decl_count} declarations");

    let mut imap = ImapConnection::login(server.imap, "alice", "secret");
    let stop = Arc::new(AtomicBool::new(false));
    let noops = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut slowest = Duration::ZERO;
            let mut count = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let r = imap.run(&format!("n{count} NOOP"));
                assert!(r.last().is_some_and(|l| l.contains(" OK")), "{r:?}");
                slowest = slowest.max(started.elapsed());
                count += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            (slowest, count)
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    // Two floods at once (as in the issue), one of each kind, twice.
    let mut floods: Vec<(u16, String, Duration)> = Vec::new();
    for _ in 0..2 {
        floods.extend(std::thread::scope(|scope| {
            let handles: Vec<_> = [&plain, &decls]
                .into_iter()
                .map(|body| {
                    let server = &server;
                    scope.spawn(move || {
                        let started = Instant::now();
                        let reply = request(server, "PROPFIND", "", &["Depth: 0"], body);
                        (reply.status, reply.text(), started.elapsed())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("PROPFIND thread"))
                .collect::<Vec<_>>()
        }));
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let (slowest_noop, noop_count) = noops.join().expect("NOOP thread");
    for (status, text, took) in &floods {
        eprintln!("flood PROPFIND: {status} in {took:?}: {}", text.trim());
        assert!(*took < Duration::from_secs(2), "PROPFIND took {took:?}");
        assert_eq!(*status, 400, "{text}");
    }
    eprintln!("{noop_count} NOOPs, the slowest {slowest_noop:?}");
    assert!(noop_count >= 3, "only {noop_count} NOOPs ran");
    assert!(
        slowest_noop < Duration::from_millis(200),
        "a NOOP took {slowest_noop:?} during the floods"
    );
    // The server goes on: an ordinary PROPFIND is answered.
    let reply = request(&server, "PROPFIND", "", &["Depth: 0"], b"");
    assert_eq!(reply.status, 207, "{}", reply.text());
}

/// Counts the occurrences of a marker in a body read piece by piece (a
/// marker may straddle two pieces).
struct Counter {
    marker: &'static [u8],
    count: usize,
    carry: Vec<u8>,
    bytes: usize,
}

impl Counter {
    fn new(marker: &'static [u8]) -> Counter {
        Counter {
            marker,
            count: 0,
            carry: Vec::new(),
            bytes: 0,
        }
    }

    fn feed(&mut self, piece: &[u8]) {
        self.bytes += piece.len();
        let mut window = std::mem::take(&mut self.carry);
        window.extend_from_slice(piece);
        self.count += window
            .windows(self.marker.len())
            .filter(|w| *w == self.marker)
            .count();
        let keep = window.len().min(self.marker.len() - 1);
        self.carry = window[window.len() - keep..].to_vec();
    }
}

/// Issue 13: a 40,000-property PROPFIND on 100 files built a 193 MB answer
/// in memory before its first byte. Now the answer is streamed: the 160
/// MiB answer raises the server's peak resident memory by far less than
/// the body beyond what the same request on one resource (a 1.6 MB
/// answer) took.
#[test]
fn a_large_propfind_answer_is_streamed() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    // mimalloc (the server's allocator) returns freed pages to the system
    // 10 ms after they are freed by default; a stream of 1.6 MB responses
    // then keeps 7-29 MiB of freed pages resident (measured on both
    // engines), which is the allocator's cache, not data the server holds.
    // Returned at once, the peak counts what the server holds.
    server.start_with_env(&[("MIMALLOC_PURGE_DELAY", "0")]);
    assert_eq!(request(&server, "MKCOL", "many", &[], b"").status, 201);
    const FILES: usize = 100;
    const PROPERTIES: usize = 40_000;
    for i in 0..FILES {
        let reply = request(&server, "PUT", &format!("many/f{i}.txt"), &[], b"x");
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let props: String = (0..PROPERTIES).map(|i| format!("<Z:p{i}/>")).collect();
    let body = format!(
        "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\" xmlns:Z=\"http://example.com/z\">\
         <D:prop>{props}</D:prop></D:propfind>"
    );
    assert!(body.len() < 1024 * 1024);
    // The same request at Depth 0 first: the parsed request (40,000
    // names) and its one response (1.6 MB) set the baseline peak.
    let one = request(
        &server,
        "PROPFIND",
        "many/",
        &["Depth: 0", "Content-Type: application/xml"],
        body.as_bytes(),
    );
    assert_eq!(one.status, 207, "{}", one.text());
    let before = server.proc_status_kb("VmHWM").expect("VmHWM");
    let pending = start(
        &server,
        "PROPFIND",
        "many/",
        &["Depth: 1", "Content-Type: application/xml"],
        body.as_bytes(),
    );
    assert_eq!(pending.status, 207);
    let mut responses = Counter::new(b"</D:response>");
    let mut missing = Counter::new(b"xmlns:X=\"http://example.com/z\"/>");
    let mut tail = Vec::new();
    pending.read_body(|piece| {
        responses.feed(piece);
        missing.feed(piece);
        tail.extend_from_slice(piece);
        let cut = tail.len().saturating_sub(64);
        tail.drain(..cut);
    });
    let peak = server.proc_status_kb("VmHWM").expect("VmHWM");
    let body_mib = responses.bytes as u64 / (1024 * 1024);
    let growth_mib = peak.saturating_sub(before) / 1024;
    eprintln!(
        "a {body_mib} MiB answer; peak RSS {before} kB after one response, {peak} kB after all: +{growth_mib} MiB"
    );
    assert_eq!(responses.count, FILES + 1);
    assert_eq!(missing.count, (FILES + 1) * PROPERTIES);
    assert!(tail.ends_with(b"</D:multistatus>"), "{tail:?}");
    assert!(body_mib >= 100, "only {body_mib} MiB");
    // Built whole, the answer would add at least its own size (the issue
    // measured 193 MB); streamed, what the other 100 responses add is a
    // few of them in flight (measured +0 to +5 MiB on redb and on
    // PostgreSQL + S3).
    assert!(
        growth_mib * 10 < body_mib,
        "peak RSS grew by {growth_mib} MiB beyond the one-response request's \
         for a {body_mib} MiB answer"
    );
}

/// Issue 13: a PUT with `Content-Range` stored the fragment as the whole
/// file. Partial PUT gets 400 (RFC 9110 14.5) and the file is unchanged.
#[test]
fn a_partial_put_is_refused_and_truncates_nothing() {
    let server = Server::with_alice();
    assert_eq!(request(&server, "MKCOL", "docs", &[], b"").status, 201);
    assert_eq!(
        request(&server, "PUT", "docs/n.txt", &[], b"0123456789").status,
        201
    );
    let reply = request(
        &server,
        "PUT",
        "docs/n.txt",
        &["Content-Range: bytes 4-5/10"],
        b"XY",
    );
    assert_eq!(reply.status, 400, "{}", reply.text());
    // A body of known length is sent with Content-Length, not chunked,
    // whatever wraps it on its way out (the connection's timeouts).
    let pending = start(&server, "GET", "docs/n.txt", &[], b"");
    assert_eq!((pending.chunked, pending.length), (false, Some(10)));
    let reply = pending.finish();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "0123456789");
    // Nor does a Content-Range create a file.
    let reply = request(
        &server,
        "PUT",
        "docs/new.txt",
        &["Content-Range: bytes 0-1/2"],
        b"XY",
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        request(&server, "GET", "docs/new.txt", &[], b"").status,
        404
    );
}

/// The hrefs of a PROPFIND Depth 1 answer.
fn hrefs(server: &Server, path: &str) -> Vec<String> {
    let reply = request(server, "PROPFIND", path, &["Depth: 1"], b"");
    assert_eq!(reply.status, 207, "{}", reply.text());
    reply
        .text()
        .split("<D:href>")
        .skip(1)
        .filter_map(|s| s.split_once("</D:href>").map(|(h, _)| h.to_string()))
        .filter(|h| !h.contains("opaquelocktoken") && !h.is_empty())
        .collect()
}

/// Issue 13: COPY `Depth: 0` of a collection copied its members and DELETE
/// `Depth: 0` deleted the subtree. Now COPY copies the collection and its
/// properties only (RFC 4918 9.8.3), and DELETE gets 400, deleting nothing
/// (RFC 4918 9.6.1).
#[test]
fn depth_0_copy_and_delete_of_a_collection_touch_no_member() {
    let server = Server::with_alice();
    assert_eq!(request(&server, "MKCOL", "src", &[], b"").status, 201);
    assert_eq!(request(&server, "MKCOL", "src/sub", &[], b"").status, 201);
    assert_eq!(
        request(&server, "PUT", "src/a.txt", &[], b"aaa").status,
        201
    );
    assert_eq!(
        request(&server, "PUT", "src/sub/b.txt", &[], b"b").status,
        201
    );
    let proppatch = b"<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\" \
        xmlns:Z=\"http://example.com/z\"><D:set><D:prop><Z:colour>blue</Z:colour>\
        </D:prop></D:set></D:propertyupdate>";
    assert_eq!(
        request(&server, "PROPPATCH", "src/", &[], proppatch).status,
        207
    );

    let destination = format!("Destination: http://{}/dav/alice/dst/", server.webdav);
    let reply = request(&server, "COPY", "src/", &[&destination, "Depth: 0"], b"");
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(hrefs(&server, "dst/"), ["/dav/alice/dst/"]);
    assert_eq!(request(&server, "GET", "dst/a.txt", &[], b"").status, 404);
    let asked = b"<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\" \
        xmlns:Z=\"http://example.com/z\"><D:prop><Z:colour/></D:prop></D:propfind>";
    let reply = request(&server, "PROPFIND", "dst/", &["Depth: 0"], asked);
    assert!(reply.text().contains(">blue</"), "{}", reply.text());
    // Depth infinity still copies everything.
    let destination = format!("Destination: http://{}/dav/alice/all/", server.webdav);
    let reply = request(&server, "COPY", "src/", &[&destination], b"");
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(
        request(&server, "GET", "all/sub/b.txt", &[], b"").text(),
        "b"
    );

    for depth in ["Depth: 0", "Depth: 1"] {
        let reply = request(&server, "DELETE", "src/", &[depth], b"");
        assert_eq!(reply.status, 400, "{depth}: {}", reply.text());
    }
    assert_eq!(request(&server, "GET", "src/a.txt", &[], b"").text(), "aaa");
    assert_eq!(
        request(&server, "GET", "src/sub/b.txt", &[], b"").text(),
        "b"
    );
    assert_eq!(hrefs(&server, "src/").len(), 3);
    // A file's DELETE does not care for Depth; a collection's without
    // Depth (or with infinity) removes the subtree.
    assert_eq!(
        request(&server, "DELETE", "src/a.txt", &["Depth: 0"], b"").status,
        204
    );
    assert_eq!(
        request(&server, "DELETE", "src/", &["Depth: infinity"], b"").status,
        204
    );
    assert_eq!(
        request(&server, "GET", "src/sub/b.txt", &[], b"").status,
        404
    );
}
