//! The SIP user agent as conforming peers see it (issue 15, SIP part),
//! one test per defect found in interop testing, from raw UDP and TCP
//! sockets against the real binary: a multi-NOTIFY catch-up, fetch by
//! `message/external-body`, edited reference URLs, digest `uri`, Via
//! `received`/`rport`, `user=phone`, Conversation-ID folder names, a
//! requester's connection gone, large referenced objects, duplicate
//! IMDN-Message-IDs, and the access log and `/metrics`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use e2e_tests::imap::ImapConnection;
use e2e_tests::Server;

/// One SIP message: start line, header fields in order, body.
#[derive(Debug, Clone)]
struct Msg {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Msg {
    fn parse(bytes: &[u8]) -> Msg {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a header block");
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let start = lines.next().unwrap_or_default().to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Msg {
            start,
            headers,
            body: bytes[end + 4..].to_vec(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn code(&self) -> Option<u16> {
        self.start
            .strip_prefix("SIP/2.0 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
    }

    /// The response `code` to this request (its Via, From, To, Call-ID
    /// and CSeq copied, RFC 3261 8.2.6.2).
    fn answer(&self, code: u16) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {code} Whatever\r\n");
        for (n, v) in &self.headers {
            if ["Via", "From", "To", "Call-ID", "CSeq"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(n))
            {
                let v = if n.eq_ignore_ascii_case("To") && !v.contains("tag=") {
                    format!("{v};tag=ua")
                } else {
                    v.clone()
                };
                out.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        out.into_bytes()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// Reads one message from a stream (Content-Length framing).
fn read_stream_message(reader: &mut impl BufRead) -> Msg {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = reader.read_until(b'\n', &mut line).expect("a SIP message");
        assert!(n > 0, "connection closed");
        if line == b"\r\n" && !head.is_empty() {
            break;
        }
        if line != b"\r\n" {
            head.extend_from_slice(&line);
        }
    }
    head.extend_from_slice(b"\r\n");
    let mut m = Msg::parse(&head);
    let length: usize = m
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).expect("the body");
    m.body = body;
    m
}

/// A unique token for branches, tags and Call-IDs.
fn unique() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{nanos:x}{}",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// A request with the usual headers; `via` is the sent-by and its
/// parameters after the branch, `extra` more header lines.
fn sip_request(method: &str, ruri: &str, via: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{method} {ruri} SIP/2.0\r\nVia: {via_head};branch=z9hG4bK{b}{via_tail}\r\n\
         From: <sip:cs@example.com>;tag={t}\r\nTo: <{ruri}>\r\nCall-ID: {c}\r\n\
         CSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len(),
        via_head = via.split(';').next().unwrap(),
        via_tail = via
            .split_once(';')
            .map(|(_, t)| format!(";{t}"))
            .unwrap_or_default(),
        b = unique(),
        t = unique(),
        c = unique(),
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A UDP user agent on loopback.
struct Udp {
    socket: UdpSocket,
    addr: SocketAddr,
}

impl Udp {
    fn new() -> Udp {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        Udp { socket, addr }
    }

    fn via(&self) -> String {
        format!("SIP/2.0/UDP {}", self.addr)
    }

    fn send(&self, to: SocketAddr, bytes: &[u8]) {
        self.socket.send_to(bytes, to).unwrap();
    }

    /// The next message within `wait`, if any.
    fn recv_within(&self, wait: Duration) -> Option<Msg> {
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 70_000];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(Msg::parse(&buf[..n]))
    }

    /// The final response to what was just sent (provisional ones and
    /// stray requests skipped).
    fn response(&self) -> Msg {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(m) = self.recv_within(Duration::from_secs(10)) {
                if m.code().is_some_and(|c| c >= 200) {
                    return m;
                }
            }
        }
        panic!("no final response");
    }

    /// Sends `request` to the agent and returns its final response.
    fn ask(&self, server: &Server, request: &[u8]) -> Msg {
        self.send(server.sip_udp, request);
        self.response()
    }

    /// Waits for a MESSAGE sent to this agent, answers it 200.
    fn take_message(&self, wait: Duration) -> Option<Msg> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(m) = self.recv_within(Duration::from_millis(500)) {
                if m.start.starts_with("MESSAGE ") {
                    self.socket
                        .send_to(
                            &m.answer(200),
                            self.socket.peer_addr().unwrap_or(m.via_target()),
                        )
                        .ok();
                    return Some(m);
                }
            }
        }
        None
    }
}

impl Msg {
    /// Where a response to this request goes: its top Via's sent-by.
    fn via_target(&self) -> SocketAddr {
        let via = self.header("Via").unwrap_or_default();
        via.split_whitespace()
            .nth(1)
            .and_then(|s| s.split(';').next())
            .and_then(|s| s.parse().ok())
            .expect("a Via sent-by address")
    }
}

/// A CPIM chat message with IMDN Message-ID `imdn`.
fn cpim(imdn: &str) -> Vec<u8> {
    format!(
        "From: <sip:bob@example.com>\r\nTo: <sip:alice@example.com>\r\n\
         DateTime: 2026-11-21T10:00:00Z\r\nNS: imdn <urn:ietf:params:imdn>\r\n\
         imdn.Message-ID: {imdn}\r\n\r\nContent-Type: text/plain\r\n\r\nHello {imdn}"
    )
    .into_bytes()
}

/// Deposits a CPIM message over UDP for the served user `to`; the status.
fn deposit(server: &Server, to: &str, conversation: &str, imdn: &str) -> u16 {
    let ua = Udp::new();
    let request = sip_request(
        "MESSAGE",
        to,
        &ua.via(),
        &format!("Conversation-ID: {conversation}\r\nContent-Type: message/cpim\r\n"),
        &cpim(imdn),
    );
    ua.ask(server, &request).code().unwrap()
}

fn started() -> Server {
    started_with("")
}

/// A server with alice (`sip:alice@example.com`), logging to the file
/// returned.
fn started_logged() -> (Server, std::path::PathBuf) {
    let mut server = Server::new();
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    let log = server.start_logged();
    (server, log)
}

/// A server with alice (`sip:alice@example.com`) and these `[sip]`
/// settings (TOML lines).
fn started_with(sip_settings: &str) -> Server {
    let mut server = Server::new();
    server.set_settings("sip", sip_settings);
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    server.start();
    server
}

fn messages_in(server: &Server, login: &str, folder: &str) -> Option<usize> {
    let mut imap = ImapConnection::login(server.imap, login, "s3cret");
    let lines = imap.run(&format!("s STATUS \"{folder}\" (MESSAGES)"));
    lines
        .iter()
        .find(|l| l.starts_with("* STATUS"))?
        .rsplit("MESSAGES ")
        .next()
        .and_then(|n| n.trim_end_matches(')').parse().ok())
}

fn folders(server: &Server) -> Vec<String> {
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    imap.run("l LIST \"\" \"*\"")
        .iter()
        .filter(|l| l.starts_with("* LIST"))
        .map(|l| {
            l.rsplit(" \"/\" ")
                .next()
                .unwrap_or_default()
                .trim_matches('"')
                .to_string()
        })
        .collect()
}

/// The whole object as IMAP FETCH BODY[] returns it (curl).
fn imap_object(server: &Server, folder: &str, uid: u32) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "20", "-u", "alice:s3cret"])
        .arg(format!("imap://{}/{folder};UID={uid}", server.imap))
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl imap fetch failed");
    out.stdout
}

fn reference(server: &Server, folder: &str, uid: u32) -> String {
    let uid = uid.to_string();
    let out = server.command(
        &[
            "account",
            "reference",
            "alice",
            "--folder",
            folder,
            "--uid",
            &uid,
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A fetch-by-reference MESSAGE for `url` (text/uri-list), the object to
/// go to `contact`.
fn uri_list_request(url: &str, via: &str, contact: &str) -> Vec<u8> {
    sip_request(
        "MESSAGE",
        "sip:alice@example.com",
        via,
        &format!("Contact: <{contact}>\r\nContent-Type: text/uri-list\r\n"),
        format!("{url}\r\n").as_bytes(),
    )
}

fn append(imap: &mut ImapConnection, message: &str) {
    let lines = imap.run(&format!(
        "a APPEND INBOX {{{}+}}\r\n{message}",
        message.len()
    ));
    assert!(lines.last().unwrap().contains("OK"), "{lines:?}");
}

/// Item 1: a one-off fetch (`Expires: 0`) of 612 changes over UDP, to a
/// subscriber that stops at the first terminated NOTIFY and answers 481
/// after it (RFC 6665 4.1.3), gets all 612.
#[test]
fn a_catch_up_over_many_notifies_reaches_a_conforming_subscriber_whole() {
    let server = started();
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    for n in 0..612 {
        append(
            &mut imap,
            &format!("From: bob@example.com\r\nSubject: {n}\r\n\r\nhello {n}\r\n"),
        );
    }
    let ua = Udp::new();
    let subscribe = sip_request(
        "SUBSCRIBE",
        "sip:alice@example.com",
        &ua.via(),
        &format!(
            "Contact: <sip:cs@{}>\r\nEvent: cpm-changes;since=0\r\nExpires: 0\r\n",
            ua.addr
        ),
        b"",
    );
    ua.send(server.sip_udp, &subscribe);
    let mut answered: BTreeMap<String, u16> = BTreeMap::new();
    let (mut stored, mut terminated, mut after_terminated) = (0usize, false, 0usize);
    let mut states = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let wait = if terminated { 2 } else { 15 };
        let Some(m) = ua.recv_within(Duration::from_secs(wait)) else {
            break;
        };
        if let Some(code) = m.code() {
            assert_eq!(code, 200, "SUBSCRIBE answered {}", m.start);
            continue;
        }
        assert!(m.start.starts_with("NOTIFY "), "{}", m.start);
        let cseq = m.header("CSeq").unwrap().to_string();
        if let Some(code) = answered.get(&cseq) {
            ua.send(m.via_target(), &m.answer(*code)); // a retransmission
            continue;
        }
        let changes = m.json()["changes"].as_array().cloned().unwrap_or_default();
        let n = changes.iter().filter(|c| c["event"] == "stored").count();
        let code = if terminated {
            after_terminated += n;
            481
        } else {
            stored += n;
            let state = m.header("Subscription-State").unwrap().to_string();
            terminated = state.starts_with("terminated");
            states.push(state);
            200
        };
        answered.insert(cseq, code);
        ua.send(m.via_target(), &m.answer(code));
    }
    assert!(terminated, "no terminated NOTIFY: {states:?}");
    assert!(
        states.len() > 1,
        "612 changes in one UDP NOTIFY? {states:?}"
    );
    assert!(
        states[..states.len() - 1]
            .iter()
            .all(|s| s.starts_with("active;expires=")),
        "{states:?}"
    );
    assert_eq!(
        (stored, after_terminated),
        (612, 0),
        "{} NOTIFYs",
        states.len()
    );
}

/// Item 2: the README's form of fetch by reference with
/// `message/external-body; access-type=URL; URL="..."` (RFC 4483) gets
/// 202 and the object.
#[test]
fn a_fetch_by_external_body_reference_returns_the_object() {
    let server = started();
    assert_eq!(
        deposit(&server, "sip:alice@example.com", "refs", "ext-1"),
        200
    );
    let url = reference(&server, "refs", 1);
    assert!(url.contains(";UID=1;URLAUTH="), "{url}");
    let ua = Udp::new();
    let request = sip_request(
        "MESSAGE",
        "sip:alice@example.com",
        &ua.via(),
        &format!(
            "Contact: <sip:cs@{}>\r\nContent-Type: message/external-body; \
             access-type=URL; URL=\"{url}\"\r\n",
            ua.addr
        ),
        b"Content-Type: message/rfc822\r\n\r\n",
    );
    assert_eq!(ua.ask(&server, &request).code(), Some(202));
    let object = ua
        .take_message(Duration::from_secs(10))
        .expect("the object came back");
    assert_eq!(
        object.header("Referenced-Object"),
        Some(&*format!("<{url}>"))
    );
    assert_eq!(object.body, imap_object(&server, "refs", 1));
}

/// Item 3: a reference URL with its mailbox, user or host changed, or
/// its UIDVALIDITY removed, is refused (RFC 4467 3, RFC 5092); the URL
/// as generated is served.
#[test]
fn edited_reference_urls_are_refused() {
    let server = started();
    assert_eq!(
        deposit(&server, "sip:alice@example.com", "refs", "edit-1"),
        200
    );
    let url = reference(&server, "refs", 1);
    let host = url["imap://alice@".len()..].split('/').next().unwrap();
    let validity = url
        .split(';')
        .find(|p| p.starts_with("UIDVALIDITY="))
        .unwrap()
        .trim_end_matches('/');
    let edits = [
        ("mailbox", url.replace("/refs;", "/other;")),
        ("user", url.replace("imap://alice@", "imap://bob@")),
        ("host", url.replace(&format!("@{host}/"), "@evil.example/")),
        ("UIDVALIDITY", url.replace(&format!(";{validity}"), "")),
    ];
    let ua = Udp::new();
    let contact = format!("sip:cs@{}", ua.addr);
    for (what, edited) in &edits {
        assert_ne!(edited, &url, "{what}");
        let r = ua.ask(&server, &uri_list_request(edited, &ua.via(), &contact));
        assert_eq!(r.code(), Some(403), "{what} edited: {edited}");
    }
    let r = ua.ask(&server, &uri_list_request(&url, &ua.via(), &contact));
    assert_eq!(r.code(), Some(202), "{url}");
    assert!(ua.take_message(Duration::from_secs(10)).is_some());
}

/// A log text without its ANSI color sequences (`ESC [ ... m`).
fn without_colors(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for e in chars.by_ref() {
                if e == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn md5(text: &str) -> String {
    let mut child = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("md5sum");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..32].to_string()
}

/// A server that trusts no peer and knows the digest element `cs1`
/// (password `n3tw0rk`, MD5), logging to a file; with that file and HA1.
fn digest_server() -> (Server, std::path::PathBuf, String) {
    let mut server = Server::new();
    server.set_settings("sip", "trusted_peers = []\n");
    let mut config = std::fs::read_to_string(server.config()).unwrap();
    let ha1 = md5("cs1:cpm-store:n3tw0rk");
    config.push_str(&format!(
        "\n[[sip.digest]]\nusername = \"cs1\"\nha1_md5 = \"{ha1}\"\n"
    ));
    std::fs::write(server.config(), config).unwrap();
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    let log = server.start_logged();
    (server, log, ha1)
}

/// The nonce of a 401's first challenge.
fn nonce_of(challenge: &Msg) -> String {
    assert_eq!(challenge.code(), Some(401), "{}", challenge.start);
    let www = challenge.header("WWW-Authenticate").unwrap();
    www.split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string()
}

/// An `Authorization` header line for MESSAGE with `uri`, answering
/// `nonce` with `ha1` (RFC 2617 3.2.2.1 with qop=auth).
fn authorization(ha1: &str, nonce: &str, uri: &str) -> String {
    let (nc, cnonce) = ("00000001", "0a4f113b");
    let ha2 = md5(&format!("MESSAGE:{uri}"));
    let response = md5(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        "Authorization: Digest username=\"cs1\", realm=\"cpm-store\", nonce=\"{nonce}\", \
         uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc={nc}, \
         cnonce=\"{cnonce}\"\r\n"
    )
}

/// A deposit MESSAGE to alice with `auth` (header lines, maybe empty).
fn digest_deposit(ua: &Udp, auth: &str, imdn: &str) -> Vec<u8> {
    sip_request(
        "MESSAGE",
        "sip:alice@example.com",
        &ua.via(),
        &format!("{auth}Conversation-ID: digest\r\nContent-Type: message/cpim\r\n"),
        &cpim(imdn),
    )
}

/// The lines of a server log, colors removed.
fn log_lines(log: &std::path::Path) -> Vec<String> {
    without_colors(&std::fs::read_to_string(log).unwrap())
        .lines()
        .map(str::to_string)
        .collect()
}

/// Item 4: a digest answer whose `uri` is not the Request-URI gets 401
/// (RFC 3261 22.4, RFC 8760), and the failure is logged once at WARN
/// with peer and username (the throttle's line), the uri detail once at
/// INFO; the same answer with the right `uri` deposits.
#[test]
fn a_digest_with_another_uri_is_refused_and_logged() {
    let (server, log, ha1) = digest_server();
    let ua = Udp::new();
    let ruri = "sip:alice@example.com";
    let attempt = |uri: &str, imdn: &str| -> u16 {
        let nonce = nonce_of(&ua.ask(&server, &digest_deposit(&ua, "", imdn)));
        let auth = authorization(&ha1, &nonce, uri);
        ua.ask(&server, &digest_deposit(&ua, &auth, imdn))
            .code()
            .unwrap()
    };
    assert_eq!(attempt("sip:bob@example.com", "d-1"), 401);
    assert_eq!(messages_in(&server, "alice", "digest"), None);
    assert_eq!(attempt(ruri, "d-2"), 200);
    assert_eq!(messages_in(&server, "alice", "digest"), Some(1));
    let lines = log_lines(&log);
    let detail: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("not the Request-URI"))
        .collect();
    assert_eq!(detail.len(), 1, "{lines:#?}");
    assert!(detail[0].contains(&ua.addr.to_string()), "{}", detail[0]);
    let warned: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("cs1"))
        .collect();
    assert_eq!(warned.len(), 1, "one WARN line per failure: {warned:#?}");
    for part in ["login failed", "sip", "127.0.0.1"] {
        assert!(warned[0].contains(part), "{part}: {}", warned[0]);
    }
}

/// Item 4, hostile form: one datagram with hundreds of `Authorization`
/// headers is one attempt, answered at once (only the first of the realm
/// counts, RFC 3261 22.4); and once the login throttle refuses, a UDP
/// request gets 403 with Retry-After at once rather than a wait that
/// would hold a slot the socket's other peers share.
#[test]
fn many_authorization_headers_are_one_attempt_and_udp_never_waits() {
    let (server, log, _) = digest_server();
    let ua = Udp::new();
    let nonce = nonce_of(&ua.ask(&server, &digest_deposit(&ua, "", "h-0")));
    let wrong = authorization(&md5("cs1:cpm-store:guess"), &nonce, "sip:alice@example.com");
    let many = wrong.repeat(200);
    assert!(many.len() > 40_000, "{}", many.len());
    let sent = Instant::now();
    let r = ua.ask(&server, &digest_deposit(&ua, &many, "h-1"));
    assert_eq!(r.code(), Some(401), "{}", r.start);
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "200 headers took {:?}",
        sent.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    let failures = log_lines(&log)
        .iter()
        .filter(|l| l.contains("login failed"))
        .count();
    assert_eq!(failures, 1, "one datagram, one attempt");
    let mut refused = None;
    for n in 0..8 {
        let nonce = nonce_of(&ua.ask(&server, &digest_deposit(&ua, "", "h-2")));
        let auth = authorization(&md5("cs1:cpm-store:guess"), &nonce, "sip:alice@example.com");
        let sent = Instant::now();
        let r = ua.ask(&server, &digest_deposit(&ua, &auth, "h-2"));
        assert!(
            sent.elapsed() < Duration::from_secs(3),
            "attempt {n} waited {:?}",
            sent.elapsed()
        );
        if r.code() == Some(403) {
            refused = Some(r);
            break;
        }
        assert_eq!(r.code(), Some(401), "{}", r.start);
    }
    let refused = refused.expect("the throttle refuses at last");
    assert!(refused.header("Retry-After").is_some(), "{refused:?}");
}

/// Item 5: the top Via of a response gets `received=` when sent-by is not
/// the source address, and `rport=` with the source port when asked
/// (RFC 3261 18.2.1, RFC 3581 4); the response goes to the source port.
#[test]
fn responses_carry_received_and_rport() {
    let server = started();
    let ua = Udp::new();
    let options = |via: &str| sip_request("OPTIONS", "sip:alice@example.com", via, "", b"");
    // sent-by names another host and port; rport asked: the response
    // still reaches this socket, its source.
    let r = ua.ask(&server, &options("SIP/2.0/UDP 192.0.2.99:5070;rport"));
    let via = r.header("Via").unwrap();
    assert!(via.contains(";received=127.0.0.1"), "{via}");
    assert!(via.contains(&format!(";rport={}", ua.addr.port())), "{via}");
    // A host name as sent-by, no rport: received only.
    let r = ua.ask(&server, &options("SIP/2.0/UDP client.example.com:5060"));
    let via = r.header("Via").unwrap();
    assert!(via.contains(";received=127.0.0.1"), "{via}");
    assert!(!via.contains("rport"), "{via}");
    // The source itself: nothing added.
    let r = ua.ask(&server, &options(&ua.via()));
    assert!(!r.header("Via").unwrap().contains("received="));
}

/// Item 6: `sip:+15551234567@example.com;user=phone` (and with visual
/// separators) names the account `tel:+15551234567` (RFC 3261 19.1.6,
/// RFC 3966).
#[test]
fn a_user_phone_sip_uri_deposits_for_the_tel_account() {
    let mut server = Server::new();
    server.add_account_with_address("carol", "s3cret", "tel:+15551234567");
    server.start();
    for (uri, imdn) in [
        ("sip:+15551234567@example.com;user=phone", "p-1"),
        ("sip:+1-555-123-4567@example.com;user=phone", "p-2"),
    ] {
        assert_eq!(deposit(&server, uri, "phone", imdn), 200, "{uri}");
    }
    assert_eq!(messages_in(&server, "carol", "phone"), Some(2));
}

/// Item 7: Conversation-IDs that look like paths or reserved folders land
/// in safe folders of their own; ordinary ones keep their names.
#[test]
fn conversation_ids_land_in_safe_own_folders() {
    let server = started();
    let cases = [
        ("Shared/bob/x", "Shared~2Fbob~2Fx"),
        ("INBOX", "~INBOX"),
        ("Trash", "~Trash"),
        ("a/b/c/d", "a~2Fb~2Fc~2Fd"),
        ("conv-1", "conv-1"),
    ];
    for (n, (id, _)) in cases.iter().enumerate() {
        assert_eq!(
            deposit(&server, "sip:alice@example.com", id, &format!("c-{n}")),
            200,
            "{id}"
        );
    }
    for (id, folder) in cases {
        assert_eq!(messages_in(&server, "alice", folder), Some(1), "{id}");
    }
    // INBOX and Trash (a special-use folder of every account) got nothing.
    assert_eq!(messages_in(&server, "alice", "INBOX"), Some(0));
    assert_eq!(messages_in(&server, "alice", "Trash"), Some(0));
    let list = folders(&server);
    for unsafe_name in ["Shared", "Shared/bob", "Shared/bob/x", "a", "a/b"] {
        assert!(!list.iter().any(|f| f == unsafe_name), "{list:?}");
    }
}

/// Item 8: when the requester's TCP connection is gone before the
/// referenced object is sent, the object goes to its Contact (RFC 3261
/// 18.2.2), well before Timer F.
#[test]
fn a_referenced_object_goes_to_the_contact_when_the_connection_is_gone() {
    let server = started();
    assert_eq!(
        deposit(&server, "sip:alice@example.com", "refs", "gone-1"),
        200
    );
    let url = reference(&server, "refs", 1);
    let contact = Udp::new();
    let tcp = TcpStream::connect(server.sip_tcp).unwrap();
    let via = format!("SIP/2.0/TCP {}", tcp.local_addr().unwrap());
    let request = uri_list_request(&url, &via, &format!("sip:cs@{}", contact.addr));
    (&tcp).write_all(&request).unwrap();
    tcp.shutdown(std::net::Shutdown::Both).unwrap();
    drop(tcp);
    let started = Instant::now();
    let object = contact
        .take_message(Duration::from_secs(15))
        .expect("the object reached the Contact");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(object.body, imap_object(&server, "refs", 1));
}

/// Item 9: an object larger than `max_message_bytes` asked for over UDP
/// comes over a TCP connection to the Contact; asked for over TCP, the
/// answer is 500 with a Warning saying why (not 513).
#[test]
fn a_large_referenced_object_goes_over_tcp_or_is_explained() {
    let server = started_with("max_message_bytes = 4096\n");
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let text: String = (0..400)
        .map(|i| format!("line {i} of a long message\r\n"))
        .collect();
    append(&mut imap, &format!("Subject: big\r\n\r\n{text}"));
    let whole = imap_object(&server, "INBOX", 1);
    assert!(whole.len() > 8192);
    let url = reference(&server, "INBOX", 1);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ua = Udp::new();
    let contact = format!("sip:cs@127.0.0.1:{port};transport=tcp");
    let r = ua.ask(&server, &uri_list_request(&url, &ua.via(), &contact));
    assert_eq!(r.code(), Some(202), "{}", r.start);
    listener.set_nonblocking(false).unwrap();
    let (conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let m = read_stream_message(&mut reader);
    assert!(m.start.starts_with("MESSAGE "), "{}", m.start);
    (&conn).write_all(&m.answer(200)).unwrap();
    assert_eq!(m.body, whole);

    let tcp = TcpStream::connect(server.sip_tcp).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let via = format!("SIP/2.0/TCP {}", tcp.local_addr().unwrap());
    (&tcp)
        .write_all(&uri_list_request(&url, &via, &contact))
        .unwrap();
    let r = read_stream_message(&mut BufReader::new(&tcp));
    assert_eq!(r.code(), Some(500), "{}", r.start);
    let warning = r.header("Warning").expect("a Warning");
    assert!(warning.contains("4096"), "{warning}");
}

/// Item 10: the same IMDN-Message-ID deposited again under a new
/// Conversation-ID is stored once and creates no empty folder.
#[test]
fn a_duplicate_into_a_new_conversation_creates_no_folder() {
    let server = started();
    let to = "sip:alice@example.com";
    assert_eq!(deposit(&server, to, "first", "dup-1"), 200);
    assert_eq!(deposit(&server, to, "second", "dup-1"), 200);
    let list = folders(&server);
    assert!(list.iter().any(|f| f == "first"), "{list:?}");
    assert!(!list.iter().any(|f| f == "second"), "{list:?}");
    assert_eq!(messages_in(&server, "alice", "first"), Some(1));
}

/// Nice 7: two deposits of one message racing into two new
/// Conversation-IDs leave one object in one folder, never an empty one
/// (the duplicate check and the folder's creation are one commit).
#[test]
fn racing_duplicates_into_new_conversations_leave_no_empty_folder() {
    let server = started();
    let to = "sip:alice@example.com";
    let pairs = 12;
    for n in 0..pairs {
        let (a, b) = (Udp::new(), Udp::new());
        let imdn = format!("race-{n}");
        for (ua, conversation) in [(&a, format!("ra-{n}")), (&b, format!("rb-{n}"))] {
            let request = sip_request(
                "MESSAGE",
                to,
                &ua.via(),
                &format!("Conversation-ID: {conversation}\r\nContent-Type: message/cpim\r\n"),
                &cpim(&imdn),
            );
            ua.send(server.sip_udp, &request);
        }
        assert_eq!(a.response().code(), Some(200));
        assert_eq!(b.response().code(), Some(200));
    }
    let list = folders(&server);
    for n in 0..pairs {
        let made: Vec<&String> = list
            .iter()
            .filter(|f| **f == format!("ra-{n}") || **f == format!("rb-{n}"))
            .collect();
        assert_eq!(made.len(), 1, "pair {n}: {made:?}");
        assert_eq!(messages_in(&server, "alice", made[0]), Some(1));
    }
}

/// Item 11: each SIP request is logged at INFO (method, Call-ID, peer,
/// status) and counted in `/metrics` by method and status class.
#[test]
fn sip_requests_are_logged_and_counted() {
    let (server, log) = started_logged();
    let ua = Udp::new();
    let options = sip_request("OPTIONS", "sip:alice@example.com", &ua.via(), "", b"");
    let call_id = Msg::parse(&options).header("Call-ID").unwrap().to_string();
    assert_eq!(ua.ask(&server, &options).code(), Some(200));
    assert_eq!(deposit(&server, "sip:alice@example.com", "m", "m-1"), 200);
    assert_eq!(deposit(&server, "sip:nobody@example.com", "m", "m-2"), 404);
    std::thread::sleep(Duration::from_millis(300));
    let text = without_colors(&std::fs::read_to_string(&log).unwrap());
    let line = text
        .lines()
        .find(|l| l.contains(&call_id))
        .unwrap_or_else(|| panic!("no access log line:\n{text}"));
    for part in ["INFO", "method=OPTIONS", "status=200", &ua.addr.to_string()] {
        assert!(line.contains(part), "{part}: {line}");
    }
    let metrics = server.http_get("/metrics").expect("/metrics");
    for series in [
        "cpm_store_sip_requests_total{method=\"OPTIONS\",status=\"2xx\"} 1",
        "cpm_store_sip_requests_total{method=\"MESSAGE\",status=\"2xx\"} 1",
        "cpm_store_sip_requests_total{method=\"MESSAGE\",status=\"4xx\"} 1",
    ] {
        assert!(metrics.contains(series), "{series}:\n{metrics}");
    }
}

/// A message of about 12 KB in alice's INBOX (UID 1): too large for UDP,
/// so a reference to it goes over a TCP connection the store opens.
fn large_object(server: &Server) -> Vec<u8> {
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let text: String = (0..400)
        .map(|i| format!("line {i} of a long message\r\n"))
        .collect();
    append(&mut imap, &format!("Subject: big\r\n\r\n{text}"));
    imap_object(server, "INBOX", 1)
}

/// A TCP listener standing for a Contact that takes the connection and
/// the MESSAGE but never answers (the store's client transaction stays
/// open until Timer F); the connection it accepted, once it has.
fn silent_contact() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, format!("sip:cs@127.0.0.1:{port};transport=tcp"))
}

fn accept_message(listener: &TcpListener) -> TcpStream {
    let (conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let m = read_stream_message(&mut BufReader::new(conn.try_clone().unwrap()));
    assert!(m.start.starts_with("MESSAGE "), "{}", m.start);
    conn
}

/// A fetch by reference of `url` from `ua`, authenticated by digest as
/// `cs1` (challenge, then answer), the object to go to `contact`; the
/// final response to the answered request.
fn digest_fetch(server: &Server, ua: &Udp, ha1: &str, url: &str, contact: &str) -> Msg {
    let fetch = |auth: &str| {
        sip_request(
            "MESSAGE",
            "sip:alice@example.com",
            &ua.via(),
            &format!("{auth}Contact: <{contact}>\r\nContent-Type: text/uri-list\r\n"),
            format!("{url}\r\n").as_bytes(),
        )
    };
    let nonce = nonce_of(&ua.ask(server, &fetch("")));
    ua.ask(
        server,
        &fetch(&authorization(ha1, &nonce, "sip:alice@example.com")),
    )
}

/// Must-fix 1 (SSRF): a requester outside `trusted_peers` whose Contact
/// names another host gets the object at its own source address; the
/// host its Contact names gets nothing.
#[test]
fn an_untrusted_requester_cannot_send_the_object_elsewhere() {
    let (server, _log, ha1) = digest_server();
    let whole = large_object(&server);
    let url = reference(&server, "INBOX", 1);
    let elsewhere = UdpSocket::bind("127.0.0.2:0").expect("127.0.0.2 on loopback");
    let elsewhere_addr = elsewhere.local_addr().unwrap();
    elsewhere
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let listener = TcpListener::bind(elsewhere_addr.ip().to_string() + ":0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let ua = Udp::new();
    // A large object goes over TCP: where does the store connect?
    let contact = format!(
        "sip:cs@{}:{};transport=tcp",
        elsewhere_addr.ip(),
        listener.local_addr().unwrap().port()
    );
    // The store answers on the source: a TCP connection to this UA's
    // address and port, where nothing listens (480, connection opened
    // before anything is read), and nothing reaches the Contact's host.
    let r = digest_fetch(&server, &ua, &ha1, &url, &contact);
    assert_eq!(r.code(), Some(480), "{}", r.start);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        assert!(
            listener.accept().is_err(),
            "the store connected to the Contact's host"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A small object: sent over UDP to the source, not to the Contact.
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    append(&mut imap, "Subject: small\r\n\r\nsmall\r\n");
    let small = reference(&server, "INBOX", 2);
    let contact = format!("sip:cs@{elsewhere_addr}");
    let r = digest_fetch(&server, &ua, &ha1, &small, &contact);
    assert_eq!(r.code(), Some(202), "{}", r.start);
    let object = ua
        .take_message(Duration::from_secs(10))
        .expect("the object came back to the source");
    assert_eq!(object.body, imap_object(&server, "INBOX", 2));
    let mut buf = [0u8; 2048];
    assert!(
        elsewhere.recv(&mut buf).is_err(),
        "the Contact's host got a datagram"
    );
    assert!(whole.len() > 8192);
}

/// Must-fix 1: the TCP connections the store opens to one address are
/// capped (`max_outbound_connections_per_destination`); past the cap a
/// fetch by reference gets 503 with Retry-After.
#[test]
fn outbound_connections_to_one_host_are_capped() {
    let server = started_with("max_outbound_connections_per_destination = 2\n");
    large_object(&server);
    let url = reference(&server, "INBOX", 1);
    let ua = Udp::new();
    let contacts: Vec<(TcpListener, String)> = (0..3).map(|_| silent_contact()).collect();
    let mut held = Vec::new();
    for (listener, contact) in &contacts[..2] {
        let r = ua.ask(&server, &uri_list_request(&url, &ua.via(), contact));
        assert_eq!(r.code(), Some(202), "{}", r.start);
        held.push(accept_message(listener));
    }
    let r = ua.ask(&server, &uri_list_request(&url, &ua.via(), &contacts[2].1));
    assert_eq!(r.code(), Some(503), "{}", r.start);
    assert!(r.header("Retry-After").is_some(), "{r:?}");
}

/// Must-fix 2: the bytes of referenced objects being sent are bounded
/// (`max_outbound_object_bytes_in_flight`, each object counted twice):
/// past it a fetch gets 503 with Retry-After, and an object that alone
/// would pass it gets 500 with a Warning.
#[test]
fn referenced_objects_in_flight_are_bounded_in_memory() {
    let server = started_with("max_outbound_object_bytes_in_flight = 40000\n");
    let whole = large_object(&server);
    assert!(
        whole.len() * 2 < 40_000 && whole.len() * 4 > 40_000,
        "{}",
        whole.len()
    );
    let url = reference(&server, "INBOX", 1);
    let ua = Udp::new();
    let (listener, contact) = silent_contact();
    let r = ua.ask(&server, &uri_list_request(&url, &ua.via(), &contact));
    assert_eq!(r.code(), Some(202), "{}", r.start);
    let _held = accept_message(&listener);
    // The first object is still in flight (its MESSAGE unanswered).
    let (_other, contact) = silent_contact();
    let r = ua.ask(&server, &uri_list_request(&url, &ua.via(), &contact));
    assert_eq!(r.code(), Some(503), "{}", r.start);
    assert!(r.header("Retry-After").is_some(), "{r:?}");

    let server = started_with("max_outbound_object_bytes_in_flight = 10000\n");
    large_object(&server);
    let url = reference(&server, "INBOX", 1);
    let r = ua.ask(&server, &uri_list_request(&url, &ua.via(), &contact));
    assert_eq!(r.code(), Some(500), "{}", r.start);
    assert!(r.header("Warning").is_some(), "{r:?}");
}

/// A TLS client (openssl s_client) to the server's SIP TLS listener: the
/// child, and a reader of what the server sends.
fn tls_client(server: &Server) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    e2e_tests::require_tool("openssl", "openssl");
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-verify_quiet", "-connect"])
        .arg(server.sip_tls.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_client");
    let reader = BufReader::new(child.stdout.take().unwrap());
    (child, reader)
}

fn tls_send(child: &mut std::process::Child, bytes: &[u8]) {
    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(bytes).unwrap();
    stdin.flush().unwrap();
}

/// Waits up to 15 s for a WARN line of the server containing `what`,
/// failing if `contact` receives anything meanwhile (cleartext).
fn warned_and_nothing_sent(log: &std::path::Path, contact: &Udp, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut warned = false;
    while Instant::now() < deadline && !warned {
        if let Some(m) = contact.recv_within(Duration::from_millis(500)) {
            panic!("sent in cleartext: {}", m.start);
        }
        warned = log_lines(log)
            .iter()
            .any(|l| l.contains("WARN") && l.contains(what));
    }
    assert!(warned, "no WARN {what:?}: {:#?}", log_lines(log));
    assert!(contact.recv_within(Duration::from_secs(1)).is_none());
}

/// Must-fix 4, NOTIFYs: a subscription made over TLS whose connection has
/// ended sends no NOTIFY in cleartext to its `sip:` Contact; it ends,
/// logged at WARN.
#[test]
fn a_tls_subscription_never_notifies_in_cleartext() {
    let (server, log) = started_logged();
    let contact = Udp::new();
    let (mut child, mut reader) = tls_client(&server);
    let subscribe = sip_request(
        "SUBSCRIBE",
        "sip:alice@example.com",
        "SIP/2.0/TLS 127.0.0.1:5999",
        &format!(
            "Contact: <sip:cs@{}>\r\nEvent: cpm-changes\r\nExpires: 600\r\n",
            contact.addr
        ),
        b"",
    );
    tls_send(&mut child, &subscribe);
    let mut notified = false;
    while !notified {
        let m = read_stream_message(&mut reader);
        if m.start.starts_with("NOTIFY ") {
            tls_send(&mut child, &m.answer(200));
            notified = true;
            // Let the answer reach the store before the connection ends.
            std::thread::sleep(Duration::from_millis(500));
        } else {
            assert_eq!(m.code(), Some(200), "{}", m.start);
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !log_lines(&log)
            .iter()
            .any(|l| l.contains("subscription ended")),
        "the subscription must still run: {:#?}",
        log_lines(&log)
    );
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    append(&mut imap, "Subject: change\r\n\r\nchange\r\n");
    warned_and_nothing_sent(&log, &contact, "not sent in cleartext");
}

/// Must-fix 4: a requester that came over TLS and left before taking the
/// object never gets it in cleartext at its `sip:` Contact (RFC 3261
/// 26.2.2): the store logs a WARN and drops it. A `sips:` Contact of a
/// UDP requester gets 480, and nothing is sent.
#[test]
fn a_tls_requester_is_never_answered_in_cleartext() {
    let (server, log) = started_logged();
    assert_eq!(
        deposit(&server, "sip:alice@example.com", "refs", "tls-1"),
        200
    );
    let url = reference(&server, "refs", 1);
    let contact = Udp::new();
    let (mut child, mut reader) = tls_client(&server);
    let request = uri_list_request(
        &url,
        "SIP/2.0/TLS 127.0.0.1:5999",
        &format!("sip:cs@{}", contact.addr),
    );
    tls_send(&mut child, &request);
    let answer = read_stream_message(&mut reader);
    assert_eq!(answer.code(), Some(202), "{}", answer.start);
    // Gone before answering the MESSAGE the store sends back.
    child.kill().unwrap();
    child.wait().unwrap();
    warned_and_nothing_sent(&log, &contact, "not sent in cleartext");

    let ua = Udp::new();
    let secure = format!("sips:cs@{}", contact.addr);
    let r = ua.ask(&server, &uri_list_request(&url, &ua.via(), &secure));
    assert_eq!(r.code(), Some(480), "{}", r.start);
    assert!(contact.recv_within(Duration::from_secs(2)).is_none());
}

/// A SUBSCRIBE for alice's changes from `ua` (`Expires` as given).
fn subscribe(ua: &Udp, expires: u32) -> Vec<u8> {
    sip_request(
        "SUBSCRIBE",
        "sip:alice@example.com",
        &ua.via(),
        &format!(
            "Contact: <sip:cs@{}>\r\nEvent: cpm-changes;since=0\r\nExpires: {expires}\r\n",
            ua.addr
        ),
        b"",
    )
}

/// Must-fix 5: a one-off fetch (`Expires: 0`) whose catch-up is still
/// being sent holds its place against `max_subscriptions`: another
/// SUBSCRIBE gets 503 until the catch-up has ended.
#[test]
fn a_catch_up_in_progress_counts_against_max_subscriptions() {
    let server = started_with("max_subscriptions = 1\n");
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    append(&mut imap, "Subject: one\r\n\r\none\r\n");
    let fetcher = Udp::new();
    fetcher.send(server.sip_udp, &subscribe(&fetcher, 0));
    // The 200, then the NOTIFY of the catch-up, left unanswered for now.
    let mut notify = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while notify.is_none() && Instant::now() < deadline {
        if let Some(m) = fetcher.recv_within(Duration::from_secs(1)) {
            if m.start.starts_with("NOTIFY ") {
                notify = Some(m);
            } else {
                assert_eq!(m.code(), Some(200), "{}", m.start);
            }
        }
    }
    let notify = notify.expect("the catch-up's NOTIFY");
    let other = Udp::new();
    let r = other.ask(&server, &subscribe(&other, 600));
    assert_eq!(r.code(), Some(503), "{}", r.start);
    assert!(r.header("Retry-After").is_some(), "{r:?}");
    // Answered: the catch-up ends, and its place is free again.
    fetcher.send(notify.via_target(), &notify.answer(200));
    let mut accepted = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !accepted && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let other = Udp::new();
        accepted = other.ask(&server, &subscribe(&other, 600)).code() == Some(200);
    }
    assert!(accepted, "the place was never freed");
}
