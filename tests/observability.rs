//! Issue 19, metrics and access logs, against the real binary: IMAP,
//! WebDAV, NMS and SIP are driven, then `/metrics` is parsed by the
//! Prometheus project's Python parser (tests/clients/parse_metrics.py)
//! and the counters are checked against what the test did; the server's
//! log has an access-log event for each protocol and no colour codes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e_tests::Server;

/// An IMAP connection that reads responses line by line.
struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Imap {
    fn connect(server: &Server) -> Imap {
        let stream = TcpStream::connect(server.imap).expect("connect IMAP");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut imap = Imap {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let greeting = imap.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        imap
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read IMAP");
        line
    }

    /// Sends `tag command` and returns the tagged completion line.
    fn run(&mut self, tag: &str, command: &str) -> String {
        write!(self.writer, "{tag} {command}\r\n").unwrap();
        self.until(tag)
    }

    fn until(&mut self, tag: &str) -> String {
        loop {
            let line = self.line();
            assert!(!line.is_empty(), "connection closed before {tag}");
            if line.starts_with(&format!("{tag} ")) {
                return line;
            }
        }
    }
}

/// Sends one HTTP/1.1 request to `addr` and returns the status and the
/// whole response head and body.
fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect HTTP");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Basic YWxpY2U6c2VjcmV0\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status: {text}"));
    (status, text)
}

/// The samples of a scrape as the Prometheus parser reads them:
/// `name{sorted labels}` to value; and the families' types.
struct Scrape {
    samples: HashMap<String, f64>,
    types: HashMap<String, String>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/parse_metrics.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "the parser refused the scrape: {printed}\n{text}"
        );
        let mut scrape = Scrape {
            samples: HashMap::new(),
            types: HashMap::new(),
        };
        for line in printed.lines() {
            if let Some(t) = line.strip_prefix("TYPE ") {
                let (name, kind) = t.split_once(' ').unwrap();
                scrape.types.insert(name.into(), kind.into());
            } else if let Some((series, value)) = line.rsplit_once(' ') {
                scrape.samples.insert(series.into(), value.parse().unwrap());
            }
        }
        scrape
    }

    /// The value of `series` (`name{a="x",b="y"}`, labels sorted), 0 when
    /// absent.
    fn value(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }

    fn has_family(&self, name: &str, kind: &str) -> bool {
        self.types.get(name).map(String::as_str) == Some(kind)
    }
}

/// The admin endpoint's `/metrics`: its Content-Type and body.
fn scrape(server: &Server, accept: Option<&str>) -> (String, String) {
    let mut s = TcpStream::connect(server.admin).unwrap();
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\n{accept}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    (content_type, body.to_string())
}

#[test]
fn metrics_count_what_each_protocol_did_and_every_request_is_logged() {
    let mut server = Server::new();
    server.add_account_with_address("alice", "secret", "sip:alice@example.com");
    let log = server.start_logged();
    let before = Scrape::parse(&scrape(&server, None).1);

    // IMAP: a failed login, a good one, a few commands, an APPEND.
    let mut imap = Imap::connect(&server);
    assert!(imap.run("a1", "LOGIN alice wrong").starts_with("a1 NO"));
    assert!(imap.run("a2", "LOGIN alice secret").starts_with("a2 OK"));
    assert!(imap.run("a3", "SELECT INBOX").starts_with("a3 OK"));
    let message = "Subject: hi\r\n\r\nhello\r\n";
    write!(imap.writer, "a4 APPEND INBOX {{{}}}\r\n", message.len()).unwrap();
    assert!(imap.line().starts_with('+'));
    write!(imap.writer, "{message}\r\n").unwrap();
    assert!(imap.until("a4").starts_with("a4 OK"));
    assert!(imap.run("a5", "UID FETCH 1 (FLAGS)").starts_with("a5 OK"));
    assert!(imap.run("a6", "FROB").starts_with("a6 BAD"));
    assert!(imap.run("a7", "LOGOUT").starts_with("a7 OK"));

    // WebDAV: MKCOL, PUT, GET, PROPFIND.
    assert_eq!(
        http(server.webdav, "MKCOL", "/dav/alice/Media", "", b"").0,
        201
    );
    let (put, _) = http(
        server.webdav,
        "PUT",
        "/dav/alice/Media/a.txt?token=s3cr3t",
        "Content-Type: text/plain\r\n",
        b"twelve bytes",
    );
    assert_eq!(put, 201);
    let (get, got) = http(server.webdav, "GET", "/dav/alice/Media/a.txt", "", b"");
    assert_eq!(get, 200);
    assert!(got.ends_with("twelve bytes"));
    assert_eq!(
        http(
            server.webdav,
            "PROPFIND",
            "/dav/alice/Media",
            "Depth: 1\r\n",
            b""
        )
        .0,
        207
    );

    // NMS: a GET.
    let (nms, _) = http(server.nms, "GET", "/nms/v1/cpm/alice/folders/root", "", b"");

    // SIP: an OPTIONS over UDP.
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let me = ua.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKobs1\r\n\
         From: <sip:cs@example.com>;tag=o1\r\nTo: <sip:alice@example.com>\r\n\
         Call-ID: observability-call-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    ua.send_to(options.as_bytes(), server.sip_udp).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = ua.recv_from(&mut buf).expect("SIP response");
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );

    // The access log is written as each request ends; the scrape follows.
    std::thread::sleep(Duration::from_millis(500));
    let (content_type, text) = scrape(&server, None);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let after = Scrape::parse(&text);
    let moved = |series: &str| after.value(series) - before.value(series);

    for (family, kind) in [
        ("cpm_store_connections_open", "gauge"),
        ("cpm_store_connections_accepted", "counter"),
        ("cpm_store_requests", "counter"),
        ("cpm_store_request_duration_seconds", "histogram"),
        ("cpm_store_commit_duration_seconds", "histogram"),
        ("cpm_store_commit_batch_operations", "histogram"),
        ("cpm_store_commits", "counter"),
        ("cpm_store_operations", "counter"),
        ("cpm_store_fsyncs", "counter"),
        ("cpm_store_blob_written_bytes", "counter"),
        ("cpm_store_blob_read_bytes", "counter"),
        ("cpm_store_login_failures", "counter"),
        ("cpm_store_logins_throttled", "counter"),
        ("cpm_store_quota_refusals", "counter"),
        ("cpm_store_change_feed_backlog", "histogram"),
        ("cpm_store_accounts", "gauge"),
        ("cpm_store_uptime_seconds", "gauge"),
        ("cpm_store_storage_failing", "gauge"),
        ("cpm_store_sip_requests", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_cpu_seconds", "counter"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert!(
            after.has_family(family, kind),
            "{family} ({kind}) missing:\n{text}"
        );
    }
    let imap = |command: &str, outcome: &str| {
        moved(&format!(
            "cpm_store_requests_total{{command=\"{command}\",outcome=\"{outcome}\",protocol=\"imap\"}}"
        ))
    };
    assert_eq!(imap("LOGIN", "no"), 1.0, "{text}");
    assert_eq!(imap("LOGIN", "ok"), 1.0);
    assert_eq!(imap("SELECT", "ok"), 1.0);
    assert_eq!(imap("APPEND", "ok"), 1.0);
    assert_eq!(imap("UID FETCH", "ok"), 1.0);
    assert_eq!(imap("other", "bad"), 1.0);
    assert_eq!(imap("LOGOUT", "ok"), 1.0);
    assert_eq!(
        moved("cpm_store_login_failures_total{protocol=\"imap\"}"),
        1.0
    );
    let http_count = |protocol: &str, method: &str, class: &str| {
        moved(&format!(
            "cpm_store_requests_total{{command=\"{method}\",outcome=\"{class}\",protocol=\"{protocol}\"}}"
        ))
    };
    assert_eq!(http_count("webdav", "PUT", "2xx"), 1.0, "{text}");
    assert_eq!(http_count("webdav", "GET", "2xx"), 1.0);
    assert_eq!(http_count("webdav", "PROPFIND", "2xx"), 1.0);
    assert_eq!(http_count("webdav", "MKCOL", "2xx"), 1.0);
    let nms_class = format!("{}xx", nms / 100);
    assert_eq!(http_count("nms", "GET", &nms_class), 1.0, "{text}");
    assert_eq!(http_count("sip", "OPTIONS", "2xx"), 1.0);
    assert_eq!(
        moved("cpm_store_sip_requests_total{method=\"OPTIONS\",status=\"2xx\"}"),
        1.0
    );
    assert!(
        moved("cpm_store_request_duration_seconds_count{command=\"APPEND\",protocol=\"imap\"}")
            == 1.0,
        "{text}"
    );
    // Four IMAP connections' worth: the test's one, plus none refused.
    assert!(moved("cpm_store_connections_accepted_total{protocol=\"imap\",tls=\"false\"}") >= 1.0);
    assert!(
        moved("cpm_store_connections_accepted_total{protocol=\"webdav\",tls=\"false\"}") >= 4.0
    );
    assert_eq!(
        after.value("cpm_store_connections_open{protocol=\"imap\",tls=\"false\"}"),
        0.0
    );
    assert_eq!(after.value("cpm_store_accounts{}"), 1.0);
    // APPEND and PUT committed, wrote and synced; GET read the 12 bytes.
    assert!(moved("cpm_store_commits_total{}") >= 2.0);
    assert!(moved("cpm_store_fsyncs_total{}") >= 2.0);
    assert!(moved("cpm_store_blob_written_bytes_total{}") >= (message.len() + 12) as f64);
    assert!(moved("cpm_store_blob_read_bytes_total{}") >= 12.0);
    assert!(after.value("process_resident_memory_bytes{}") > 1e6);
    assert!(after.value("process_open_fds{}") >= 3.0);

    // OpenMetrics when asked for by Accept.
    let (om_type, om) = scrape(&server, Some("application/openmetrics-text;version=1.0.0"));
    assert!(
        om_type.starts_with("application/openmetrics-text"),
        "{om_type}"
    );
    assert!(om.ends_with("# EOF\n"));

    // The access log.
    let raw = std::fs::read(&log).unwrap();
    assert!(
        !raw.contains(&0x1b),
        "ANSI escape codes in a log that is not a terminal"
    );
    let text = String::from_utf8_lossy(&raw);
    let access: Vec<&str> = text.lines().filter(|l| l.contains(" access: ")).collect();
    let find = |parts: &[&str]| {
        access
            .iter()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .unwrap_or_else(|| panic!("no access line with {parts:?}:\n{}", access.join("\n")))
            .to_string()
    };
    let failed = find(&[
        "IMAP command",
        "tag=a1",
        "command=\"LOGIN\"",
        "result=\"no\"",
    ]);
    assert!(failed.contains("remote=127.0.0.1:"), "{failed}");
    let append = find(&[
        "IMAP command",
        "tag=a4",
        "command=\"APPEND\"",
        "result=\"ok\"",
        "account=\"alice\"",
    ]);
    for field in ["duration_ms=", "bytes_in=", "bytes_out="] {
        assert!(append.contains(field), "{field}: {append}");
    }
    let bytes_in: u64 = append
        .split("bytes_in=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(bytes_in >= message.len() as u64, "{append}");
    let summary = find(&[
        "IMAP session ended",
        "account=\"alice\"",
        "commands=7",
        "reason=\"Logged out\"",
    ]);
    assert!(
        summary.contains("bytes_in=") && summary.contains("bytes_out="),
        "{summary}"
    );
    let put = find(&[
        "HTTP request",
        "protocol=\"webdav\"",
        "method=PUT",
        "status=201",
        "user=\"alice\"",
    ]);
    assert!(put.contains("path=/dav/alice/Media/a.txt "), "{put}");
    assert!(!put.contains("s3cr3t"), "the query is logged: {put}");
    for field in [
        "duration_ms=",
        "bytes_in=12",
        "bytes_out=",
        "remote=127.0.0.1:",
    ] {
        assert!(put.contains(field), "{field}: {put}");
    }
    find(&[
        "HTTP request",
        "protocol=\"webdav\"",
        "method=GET",
        "status=200",
        "bytes_out=12",
    ]);
    find(&[
        "HTTP request",
        "protocol=\"nms\"",
        "method=GET",
        &format!("status={nms}"),
    ]);
    let sip = find(&[
        "SIP request",
        "method=OPTIONS",
        "call_id=\"observability-call-1\"",
        "status=200",
    ]);
    assert!(sip.contains(&format!("peer={me}")), "{sip}");
    // The failed login names the login tried.
    assert!(
        text.lines()
            .any(|l| l.contains("login failed") && l.contains("alice") && l.contains("imap")),
        "{text}"
    );
}

/// The server's log after one IMAPS session by `openssl s_client`
/// presenting an IP address as SNI (as clients connecting by address
/// do, against RFC 6066 3), with `[log] level` set to `level` if given.
fn log_after_ip_sni(level: Option<&str>) -> String {
    let mut server = Server::new();
    if let Some(level) = level {
        let mut config = std::fs::read_to_string(server.config()).unwrap();
        config.push_str(&format!("[log]\nlevel = {level:?}\n"));
        std::fs::write(server.config(), config).unwrap();
    }
    let log = server.start_logged();
    let mut client = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect"])
        .arg(server.imaps.to_string())
        .args(["-servername", "127.0.0.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl");
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(b"a1 LOGOUT\r\n").unwrap();
    drop(stdin);
    let out = client.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("a1 OK"),
        "the TLS session did not run: {said}"
    );
    std::thread::sleep(Duration::from_millis(300));
    String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned()
}

#[test]
fn an_ip_address_as_sni_is_not_warned_about_unless_rustls_is_asked_for() {
    e2e_tests::require_tool("openssl", "openssl");
    let quiet = log_after_ip_sni(None);
    assert!(quiet.contains("IMAP session ended"), "{quiet}");
    assert!(!quiet.contains("Illegal SNI"), "{quiet}");
    // An operator who names rustls gets its warnings.
    let loud = log_after_ip_sni(Some("info,rustls=warn"));
    assert!(loud.contains("Illegal SNI"), "{loud}");
}
