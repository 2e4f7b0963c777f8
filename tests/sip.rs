//! The SIP user agent (CPM-STO2) driven by SIPp (Debian's sip-tester) and
//! raw sockets against the real binary: deposits over UDP and TCP seen over
//! IMAP, retransmissions stored once, fetch by reference, hostile input.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use e2e_tests::imap::ImapConnection;
use e2e_tests::{free_addr, require_tool, Server};

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sipp")
        .join(name)
}

/// SIPp arguments common to every run: no keyboard, a deadline, loopback.
fn sipp(scenario_name: &str, args: &[&str]) -> Command {
    require_tool("sipp", "sip-tester");
    let mut c = Command::new("sipp");
    c.arg("-sf")
        .arg(scenario(scenario_name))
        .args(["-i", "127.0.0.1", "-nostdin", "-timeout", "120s"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(mut c: Command) -> Output {
    c.output().expect("run sipp")
}

fn successful_calls(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("Successful call") || l.contains("Failed call"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn started() -> Server {
    let mut server = Server::new();
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    server.start();
    server
}

fn messages_in(server: &Server, folder: &str) -> usize {
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let lines = imap.run(&format!("s STATUS {folder} (MESSAGES)"));
    let status = lines
        .iter()
        .find(|l| l.starts_with("* STATUS"))
        .unwrap_or_else(|| panic!("no STATUS for {folder}: {lines:?}"));
    status
        .rsplit("MESSAGES ")
        .next()
        .and_then(|n| n.trim_end_matches(')').parse().ok())
        .expect("MESSAGES count")
}

/// The whole object `folder`/`uid` as IMAP FETCH BODY[] returns it (curl).
fn imap_object(server: &Server, folder: &str, uid: u32) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "20", "-u", "alice:s3cret"])
        .arg(format!("imap://{}/{folder};UID={uid}", server.imap))
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl imap fetch failed");
    out.stdout
}

#[test]
fn a_thousand_deposits_over_udp_and_a_thousand_over_tcp_are_all_in_imap() {
    let server = started();
    let target = server.sip_udp.to_string();
    let udp = sipp(
        "deposit.xml",
        &[
            "-key", "conv", "conv-udp", "-t", "u1", "-m", "1000", "-r", "200", "-l", "100",
        ],
    )
    .arg(&target)
    .args(["-p", &free_addr().port().to_string()])
    .output()
    .expect("sipp");
    assert!(udp.status.success(), "UDP run: {}", successful_calls(&udp));
    let tcp_target = server.sip_tcp.to_string();
    let tcp = sipp(
        "deposit.xml",
        &[
            "-key", "conv", "conv-tcp", "-t", "t1", "-m", "1000", "-r", "200", "-l", "100",
        ],
    )
    .arg(&tcp_target)
    .args(["-p", &free_addr().port().to_string()])
    .output()
    .expect("sipp");
    assert!(tcp.status.success(), "TCP run: {}", successful_calls(&tcp));
    assert!(successful_calls(&tcp).contains("1000"));

    assert_eq!(messages_in(&server, "conv-udp"), 1000);
    assert_eq!(messages_in(&server, "conv-tcp"), 1000);
    // One object as an IMAP client sees it: the CPM headers, then the CPIM
    // body unchanged.
    let object = String::from_utf8(imap_object(&server, "conv-tcp", 500)).unwrap();
    let (head, body) = object.split_once("\r\n\r\n").expect("header block");
    for line in [
        "From: <sip:bob@example.com>",
        "To: <sip:alice@example.com>",
        "Date: Sat, 21 Nov 2026 10:00:00 +0000",
        "Conversation-ID: conv-tcp",
        "Message-Direction: received",
        "Content-Type: message/cpim",
    ] {
        assert!(head.lines().any(|l| l == line), "{line} missing in\n{head}");
    }
    let imdn = head
        .lines()
        .find_map(|l| l.strip_prefix("IMDN-Message-ID: "))
        .expect("IMDN-Message-ID");
    assert!(imdn.starts_with("conv-tcp-"), "{imdn}");
    assert!(body.starts_with("From: <sip:bob@example.com>\r\nTo: <sip:alice@example.com>\r\nDateTime: 2026-11-21T10:00:00Z\r\n"));
    assert!(body.contains(&format!("imdn.Message-ID: {imdn}\r\n")));
    assert!(body.contains("\r\nContent-Type: text/plain\r\n\r\nHello number "));
}

#[test]
fn a_retransmitted_deposit_and_a_retry_are_stored_once() {
    let server = started();
    for (transport, target, folder) in [
        ("u1", server.sip_udp, "retry-udp"),
        ("t1", server.sip_tcp, "retry-tcp"),
    ] {
        let out = sipp(
            "retransmit.xml",
            &["-key", "conv", folder, "-t", transport, "-m", "5"],
        )
        .arg(target.to_string())
        .args(["-p", &free_addr().port().to_string()])
        .output()
        .expect("sipp");
        assert!(out.status.success(), "{folder}: {}", successful_calls(&out));
        // Five calls, each sending its deposit three times: five objects.
        assert_eq!(messages_in(&server, folder), 5, "{folder}");
    }
}

/// Starts SIPp waiting for the referenced object on `port`.
fn receiver(port: u16, transport: &str, trace: &Path) -> Child {
    sipp(
        "receive.xml",
        &[
            "-t",
            transport,
            "-m",
            "1",
            "-p",
            &port.to_string(),
            "-trace_msg",
        ],
    )
    .arg("-message_file")
    .arg(trace)
    .spawn()
    .expect("sipp receiver")
}

/// The body of the MESSAGE the receiver logged.
fn received_body(trace: &Path) -> Vec<u8> {
    let log = std::fs::read(trace).expect("receiver trace");
    let start = log
        .windows(12)
        .position(|w| w == b"MESSAGE sip:")
        .expect("a MESSAGE was received");
    let message = &log[start..];
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end")
        + 4;
    let head = String::from_utf8_lossy(&message[..end]);
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("Content-Length");
    assert!(head.contains("Referenced-Object: <imap://"), "{head}");
    message[end..end + length].to_vec()
}

fn reference(server: &Server, folder: &str, uid: u32, extra: &[&str]) -> String {
    let uid = uid.to_string();
    let mut args = vec![
        "account",
        "reference",
        "alice",
        "--folder",
        folder,
        "--uid",
        &uid,
    ];
    args.extend_from_slice(extra);
    let out = server.command(&args, "");
    assert!(
        out.status.success(),
        "reference: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn request_reference(
    server: &Server,
    url: &str,
    receiver_port: u16,
    transport: &str,
    expect: &str,
) -> Output {
    let scenario_name = if expect == "202" {
        "reference.xml"
    } else {
        "reference_refused.xml"
    };
    run({
        let mut c = sipp(
            scenario_name,
            &[
                "-t",
                "u1",
                "-m",
                "1",
                "-key",
                "ref",
                url,
                "-key",
                "receiver_transport",
                transport,
            ],
        );
        c.args(["-key", "receiver", &receiver_port.to_string()])
            .args(["-p", &free_addr().port().to_string()])
            .arg(server.sip_udp.to_string());
        c
    })
}

#[test]
fn fetch_by_reference_sends_the_object_and_refuses_bad_references() {
    let server = started();
    let deposit = sipp(
        "deposit.xml",
        &["-key", "conv", "refs", "-t", "u1", "-m", "1"],
    )
    .arg(server.sip_udp.to_string())
    .args(["-p", &free_addr().port().to_string()])
    .output()
    .expect("sipp");
    assert!(deposit.status.success());
    let dir = tempfile::tempdir().unwrap();

    // A small object comes back over UDP to the Contact.
    let url = reference(&server, "refs", 1, &[]);
    let port = free_addr().port();
    let trace = dir.path().join("small.log");
    let mut rx = receiver(port, "u1", &trace);
    std::thread::sleep(Duration::from_millis(500));
    let out = request_reference(&server, &url, port, "udp", "202");
    assert!(out.status.success(), "{}", successful_calls(&out));
    assert!(rx.wait().unwrap().success(), "the object was received");
    assert_eq!(received_body(&trace), imap_object(&server, "refs", 1));

    // A large one (over 1300 bytes) over a TCP connection to the Contact.
    let big = dir.path().join("big.eml");
    let text: String = (0..200)
        .map(|i| format!("line {i} of a long message\r\n"))
        .collect();
    std::fs::write(&big, format!("Subject: big\r\n\r\n{text}")).unwrap();
    let append = Command::new("curl")
        .args(["-s", "--max-time", "20", "-u", "alice:s3cret", "-T"])
        .arg(&big)
        .arg(format!("imap://{}/refs", server.imap))
        .output()
        .unwrap();
    assert!(append.status.success());
    let url = reference(&server, "refs", 2, &["--access", "user"]);
    let port = free_addr().port();
    let trace = dir.path().join("large.log");
    let mut rx = receiver(port, "t1", &trace);
    std::thread::sleep(Duration::from_millis(500));
    let out = request_reference(&server, &url, port, "tcp", "202");
    assert!(out.status.success(), "{}", successful_calls(&out));
    assert!(
        rx.wait().unwrap().success(),
        "the large object was received"
    );
    let body = received_body(&trace);
    assert!(body.len() > 1300);
    assert_eq!(body, imap_object(&server, "refs", 2));

    // A section: part 1 of the CPIM object is its body, as BODY[1].
    let url = reference(&server, "refs", 1, &["--section", "1"]);
    let port = free_addr().port();
    let trace = dir.path().join("section.log");
    let mut rx = receiver(port, "u1", &trace);
    std::thread::sleep(Duration::from_millis(500));
    assert!(request_reference(&server, &url, port, "udp", "202")
        .status
        .success());
    assert!(rx.wait().unwrap().success());
    let whole = imap_object(&server, "refs", 1);
    let body_start = whole.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(received_body(&trace), whole[body_start..].to_vec());

    // Forged, expired and revoked references: 403.
    let good = reference(&server, "refs", 1, &[]);
    let forged = format!("{}x", &good[..good.len() - 1]);
    let moved = good.replace(";UID=1;", ";UID=2;");
    let expired = reference(&server, "refs", 1, &["--expires-in", "1"]);
    std::thread::sleep(Duration::from_millis(2100));
    for bad in [&forged, &moved, &expired] {
        let out = request_reference(&server, bad, free_addr().port(), "udp", "403");
        assert!(out.status.success(), "{bad}: {}", successful_calls(&out));
    }
    let revoke = server.command(
        &["account", "revoke-references", "alice", "--folder", "refs"],
        "",
    );
    assert!(revoke.status.success());
    let out = request_reference(&server, &good, free_addr().port(), "udp", "403");
    assert!(out.status.success(), "revoked: {}", successful_calls(&out));
}

/// Sends a datagram to the agent; the first line of its answer, if any.
fn datagram(server: &Server, payload: &[u8]) -> Option<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    socket.send_to(payload, server.sip_udp).unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = socket.recv(&mut buf).ok()?;
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .map(str::to_string)
}

fn request(method: &str, extra: &str, body: &str) -> String {
    format!(
        "{method} sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{}\r\n\
         From: <sip:cs@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: {}\r\n\
         CSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        rand_id(),
        rand_id(),
        body.len()
    )
}

fn rand_id() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[test]
fn hostile_input_gets_4xx_or_is_dropped_and_the_agent_goes_on() {
    let server = started();
    let ok = |s: &Option<String>, code: &str| {
        s.as_deref()
            .is_some_and(|l| l.starts_with(&format!("SIP/2.0 {code}")))
    };
    // OPTIONS: what is served.
    assert!(ok(
        &datagram(&server, request("OPTIONS", "", "").as_bytes()),
        "200"
    ));
    // Methods not served, Require, body types, URI schemes.
    assert!(ok(
        &datagram(&server, request("INVITE", "", "").as_bytes()),
        "405"
    ));
    assert!(ok(
        &datagram(
            &server,
            request("OPTIONS", "Require: foo\r\n", "").as_bytes()
        ),
        "420"
    ));
    assert!(ok(
        &datagram(
            &server,
            request("MESSAGE", "Content-Type: text/html\r\n", "<p>").as_bytes()
        ),
        "415"
    ));
    let tel = request("OPTIONS", "", "").replacen("sip:alice@example.com SIP", "mailto:a@b SIP", 1);
    assert!(ok(&datagram(&server, tel.as_bytes()), "416"));
    // An unknown served user: 404.
    let stranger = request(
        "MESSAGE",
        "Content-Type: message/cpim\r\n",
        "From: <sip:a@b>\r\n\r\nContent-Type: text/plain\r\n\r\nhi",
    )
    .replace(
        "To: <sip:alice@example.com>",
        "To: <sip:nobody@example.com>",
    );
    assert!(ok(&datagram(&server, stranger.as_bytes()), "404"));
    // Missing mandatory headers, a Content-Length past the body: 400.
    let no_call_id = request("OPTIONS", "", "").replace("Call-ID:", "X-Gone:");
    assert!(ok(&datagram(&server, no_call_id.as_bytes()), "400"));
    let long_cl = request("OPTIONS", "", "").replace("Content-Length: 0", "Content-Length: 90");
    assert!(ok(&datagram(&server, long_cl.as_bytes()), "400"));
    // Garbage and an oversized datagram: dropped.
    assert_eq!(datagram(&server, b"\x00\x01garbage\r\n\r\n"), None);
    assert_eq!(datagram(&server, &vec![b'A'; 65_000]), None);
    // A stream without Content-Length: 400, then the connection closes; a
    // torn stream is closed.
    let mut tcp = TcpStream::connect(server.sip_tcp).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let no_cl = request("OPTIONS", "", "").replace("Content-Length: 0\r\n", "");
    tcp.write_all(no_cl.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("SIP/2.0 400"), "{answer}");
    let mut torn = TcpStream::connect(server.sip_tcp).unwrap();
    torn.write_all(
        request("OPTIONS", "", "")
            .replace("Content-Length: 0", "Content-Length: 500")
            .as_bytes(),
    )
    .unwrap();
    drop(torn);
    // Still serving, over both transports.
    assert!(ok(
        &datagram(&server, request("OPTIONS", "", "").as_bytes()),
        "200"
    ));
    let mut tcp = TcpStream::connect(server.sip_tcp).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    tcp.write_all(request("OPTIONS", "", "").as_bytes())
        .unwrap();
    let mut buf = [0u8; 12];
    tcp.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"SIP/2.0 200 ");
}

/// One SIP message read from a stream: start line, header fields, body.
struct SipMessage {
    start: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl SipMessage {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Reads one SIP message from a stream (Content-Length framing).
fn read_sip_message(reader: &mut impl std::io::BufRead) -> SipMessage {
    let mut start = String::new();
    reader.read_line(&mut start).expect("a SIP message");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a header field");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':').expect("header field");
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut message = SipMessage {
        start: start.trim_end().to_string(),
        headers,
        body: String::new(),
    };
    let length: usize = message
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).expect("the body");
    message.body = String::from_utf8_lossy(&body).into_owned();
    message
}

/// A subscriber on one TCP connection to the agent.
struct Subscriber {
    reader: std::io::BufReader<TcpStream>,
    writer: TcpStream,
    local: std::net::SocketAddr,
}

impl Subscriber {
    fn connect(server: &Server) -> Subscriber {
        let tcp = TcpStream::connect(server.sip_tcp).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        Subscriber {
            local: tcp.local_addr().unwrap(),
            writer: tcp.try_clone().unwrap(),
            reader: std::io::BufReader::new(tcp),
        }
    }

    fn read(&mut self) -> SipMessage {
        read_sip_message(&mut self.reader)
    }

    /// Sends a SUBSCRIBE; `to_tag` makes it a refresh in that dialog.
    fn subscribe(&mut self, call_id: &str, event: &str, expires: u32, to_tag: Option<&str>) {
        let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let request = format!(
            "SUBSCRIBE sip:alice@example.com SIP/2.0\r\n\
             Via: SIP/2.0/TCP {local};branch=z9hG4bK{id}\r\n\
             From: <sip:cs@example.com>;tag=sub1\r\nTo: <sip:alice@example.com>{to_tag}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} SUBSCRIBE\r\nMax-Forwards: 70\r\n\
             Contact: <sip:cs@{local};transport=tcp>\r\nEvent: {event}\r\nExpires: {expires}\r\n\
             Content-Length: 0\r\n\r\n",
            local = self.local,
            id = rand_id(),
            cseq = rand_id().len() + expires as usize,
        );
        self.writer.write_all(request.as_bytes()).unwrap();
    }

    /// Reads the next NOTIFY, answers it 200, and returns it.
    fn notify(&mut self) -> SipMessage {
        let m = self.read();
        assert!(m.start.starts_with("NOTIFY sip:cs@"), "{}", m.start);
        let mut answer = String::from("SIP/2.0 200 OK\r\n");
        for (n, v) in &m.headers {
            if ["Via", "From", "To", "Call-ID", "CSeq"].contains(&n.as_str()) {
                answer.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        answer.push_str("Content-Length: 0\r\n\r\n");
        self.writer.write_all(answer.as_bytes()).unwrap();
        m
    }

    /// A one-off fetch (`Expires: 0`) of the changes after `since`: 200,
    /// then one NOTIFY that ends the subscription; its JSON body.
    fn fetch_since(&mut self, call_id: &str, since: u64) -> serde_json::Value {
        self.subscribe(call_id, &format!("cpm-changes;since={since}"), 0, None);
        let ok = self.read();
        assert!(ok.start.starts_with("SIP/2.0 200"), "{}", ok.start);
        let fetch = self.notify();
        assert_eq!(
            fetch.header("Subscription-State"),
            Some("terminated;reason=timeout")
        );
        fetch.json()
    }

    /// Reads NOTIFYs until one reports an event `event`; every change seen.
    fn changes_until(&mut self, event: &str) -> Vec<serde_json::Value> {
        let mut seen = Vec::new();
        loop {
            let body = self.notify().json();
            let changes = body["changes"].as_array().cloned().unwrap_or_default();
            let done = changes.iter().any(|c| c["event"] == event);
            seen.extend(changes);
            if done {
                return seen;
            }
        }
    }
}

fn append(imap: &mut ImapConnection, n: usize) {
    let message = format!("From: bob@example.com\r\nSubject: {n}\r\n\r\nhello {n}\r\n");
    let lines = imap.run(&format!(
        "a{n} APPEND INBOX {{{}+}}\r\n{message}",
        message.len()
    ));
    assert!(lines.last().unwrap().contains("OK"), "{lines:?}");
}

#[test]
fn a_subscriber_follows_the_change_feed_until_its_subscription_ends() {
    let mut server = Server::new();
    server.set_settings("sip", "min_subscription_seconds = 2\n");
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    server.start();
    let quota = server.command(&["account", "quota", "alice", "--max-objects", "10"], "");
    assert!(quota.status.success(), "{quota:?}");

    let mut sub = Subscriber::connect(&server);
    // An unknown package, and a duration below the minimum.
    sub.subscribe("c0", "presence", 60, None);
    let refused = sub.read();
    assert!(
        refused.start.starts_with("SIP/2.0 489"),
        "{}",
        refused.start
    );
    assert_eq!(refused.header("Allow-Events"), Some("cpm-changes"));
    sub.subscribe("c0", "cpm-changes", 1, None);
    let brief = sub.read();
    assert!(brief.start.starts_with("SIP/2.0 423"), "{}", brief.start);
    assert_eq!(brief.header("Min-Expires"), Some("2"));

    // Subscribe: 200, then a first NOTIFY with no change.
    sub.subscribe("c1", "cpm-changes;id=7", 60, None);
    let ok = sub.read();
    assert!(ok.start.starts_with("SIP/2.0 200"), "{}", ok.start);
    assert_eq!(ok.header("Expires"), Some("60"));
    let tag = ok
        .header("To")
        .and_then(|t| t.split(";tag=").nth(1))
        .expect("a To tag")
        .to_string();
    let first = sub.notify();
    assert_eq!(first.header("Event"), Some("cpm-changes;id=7"));
    assert!(first
        .header("Subscription-State")
        .unwrap()
        .starts_with("active;expires="));
    assert_eq!(
        first.header("Content-Type"),
        Some("application/vnd.cpm-store.changes+json")
    );
    let body = first.json();
    assert_eq!(body["account"], "sip:alice@example.com");
    assert_eq!(body["changes"], serde_json::json!([]));
    let start = body["modseq"].as_u64().unwrap();

    // Another protocol changes the account; each change is notified with
    // its folder, UID and MODSEQ.
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    append(&mut imap, 0);
    let stored = sub.changes_until("stored");
    let stored = stored.iter().find(|c| c["event"] == "stored").unwrap();
    assert_eq!(stored["folder"], "INBOX");
    assert_eq!(stored["uid"], 1);
    assert!(stored["modseq"].as_u64().unwrap() > start);
    imap.run("s SELECT INBOX");
    imap.run("f UID STORE 1 +FLAGS (\\Seen)");
    let flags = sub.changes_until("flags");
    assert!(flags.iter().any(|c| c["event"] == "flags" && c["uid"] == 1));
    imap.run("e UID STORE 1 +FLAGS (\\Deleted)");
    imap.run("x EXPUNGE");
    let removed = sub.changes_until("removed");
    assert!(removed
        .iter()
        .any(|c| c["event"] == "removed" && c["uid"] == 1 && c["folder"] == "INBOX"));
    // The account fills up: 90 % of its 10 objects, then all of them.
    for n in 1..=10 {
        append(&mut imap, n);
    }
    let mut levels = Vec::new();
    while !levels
        .iter()
        .any(|c: &serde_json::Value| c["percent"] == 100)
    {
        let changes = sub.changes_until("quota");
        levels.extend(changes.into_iter().filter(|c| c["event"] == "quota"));
    }
    let level = |c: &serde_json::Value| {
        (
            c["resource"].as_str().unwrap().to_string(),
            c["percent"].as_u64().unwrap(),
            c["used"].as_u64().unwrap(),
            c["limit"].as_u64().unwrap(),
        )
    };
    assert_eq!(
        levels.iter().map(level).collect::<Vec<_>>(),
        vec![
            ("MESSAGE".to_string(), 90, 9, 10),
            ("MESSAGE".to_string(), 100, 10, 10)
        ]
    );

    // A refresh to the minimum: 200, a NOTIFY, then the subscription
    // expires with a last NOTIFY; a refresh after that gets 481.
    sub.subscribe("c1", "cpm-changes;id=7", 2, Some(&tag));
    let refreshed = sub.read();
    assert!(
        refreshed.start.starts_with("SIP/2.0 200"),
        "{}",
        refreshed.start
    );
    assert_eq!(refreshed.header("Expires"), Some("2"));
    let active = sub.notify();
    assert!(active
        .header("Subscription-State")
        .unwrap()
        .starts_with("active"));
    let last = sub.notify();
    assert_eq!(
        last.header("Subscription-State"),
        Some("terminated;reason=timeout")
    );
    sub.subscribe("c1", "cpm-changes", 60, Some(&tag));
    let gone = sub.read();
    assert!(gone.start.starts_with("SIP/2.0 481"), "{}", gone.start);

    // A client back from a de-registration asks for every change since
    // the first NOTIFY, in one fetch (Expires: 0).
    let missed = sub.fetch_since("c2", start);
    let events: Vec<&str> = missed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event"].as_str().unwrap())
        .collect();
    assert_eq!(events.iter().filter(|e| **e == "stored").count(), 11);
    assert_eq!(events.iter().filter(|e| **e == "quota").count(), 2);
    assert!(events.contains(&"flags") && events.contains(&"removed"));
}

#[test]
fn sipp_subscribes_and_is_told_every_change_since_a_modseq() {
    let server = started();
    let deposit = sipp(
        "deposit.xml",
        &["-key", "conv", "conv-sub", "-t", "u1", "-m", "3"],
    )
    .arg(server.sip_udp.to_string())
    .args(["-p", &free_addr().port().to_string()])
    .output()
    .expect("sipp");
    assert!(deposit.status.success(), "{}", successful_calls(&deposit));
    let subscribe = sipp("subscribe.xml", &["-t", "t1", "-m", "1"])
        .arg(server.sip_tcp.to_string())
        .args(["-p", &free_addr().port().to_string()])
        .output()
        .expect("sipp");
    assert!(
        subscribe.status.success(),
        "{}\n{}",
        successful_calls(&subscribe),
        String::from_utf8_lossy(&subscribe.stderr)
    );
    // The element sees what an IMAP client sees.
    assert_eq!(messages_in(&server, "conv-sub"), 3);
}

#[test]
fn an_untrusted_element_deposits_after_a_digest_challenge() {
    let mut server = Server::new();
    server.set_settings("sip", "trusted_peers = []\n");
    // The MD5 HA1 of cs1 / n3tw0rk in realm cpm-store: an older element
    // (SIPp answers MD5 only), so SHA-256 is not offered.
    let digest = "\n[[sip.digest]]\nusername = \"cs1\"\n\
                  ha1_md5 = \"862d1ca1fe9e925ef0d455896de43416\"\n";
    let mut config = std::fs::read_to_string(server.config()).unwrap();
    config.push_str(digest);
    std::fs::write(server.config(), config).unwrap();
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    server.start();
    // SIPp's digest `uri` is `sip:` and the remote address unless -auth_uri
    // gives what follows `sip:` in the Request-URI, which RFC 3261 22.4 asks
    // for (and the agent checks).
    let auth_uri = ["-auth_uri", "alice@example.com"];
    let out = sipp(
        "deposit_digest.xml",
        &["-t", "u1", "-m", "20", "-au", "cs1", "-ap", "n3tw0rk"],
    )
    .args(auth_uri)
    .arg(server.sip_udp.to_string())
    .args(["-p", &free_addr().port().to_string()])
    .output()
    .expect("sipp");
    assert!(
        out.status.success(),
        "{}\n{}",
        successful_calls(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(messages_in(&server, "conv-digest"), 20);
    // A wrong password is challenged again and stores nothing: the
    // scenario then fails on the second 401.
    let wrong = sipp(
        "deposit_digest.xml",
        &["-t", "u1", "-m", "1", "-au", "cs1", "-ap", "wrong"],
    )
    .args(auth_uri)
    .arg(server.sip_udp.to_string())
    .args(["-p", &free_addr().port().to_string()])
    .output()
    .expect("sipp");
    assert!(!wrong.status.success(), "{}", successful_calls(&wrong));
    assert_eq!(messages_in(&server, "conv-digest"), 20);
    // Without credentials at all: 401 on each try, never 200.
    let line = datagram(
        &server,
        request(
            "MESSAGE",
            "Content-Type: message/cpim\r\n",
            "From: <sip:a@b>\r\n\r\nContent-Type: text/plain\r\n\r\nhi",
        )
        .as_bytes(),
    );
    assert!(line.is_some_and(|l| l.starts_with("SIP/2.0 401")));
}

/// A TLS connection to the agent through `openssl s_client`; messages
/// are read on a thread so that a silent agent fails the test instead of
/// hanging it.
struct TlsClient {
    child: Child,
    stdin: std::process::ChildStdin,
    messages: std::sync::mpsc::Receiver<SipMessage>,
}

impl TlsClient {
    fn connect(addr: std::net::SocketAddr) -> TlsClient {
        require_tool("openssl", "openssl");
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-verify_quiet", "-connect"])
            .arg(addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_client");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stdout);
            loop {
                let m = read_sip_message(&mut reader);
                if m.start.is_empty() || tx.send(m).is_err() {
                    return;
                }
            }
        });
        TlsClient {
            child,
            stdin,
            messages,
        }
    }

    fn send(&mut self, message: &str) {
        self.stdin.write_all(message.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn next(&self) -> SipMessage {
        self.messages
            .recv_timeout(Duration::from_secs(20))
            .expect("a SIP message over TLS")
    }
}

impl Drop for TlsClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_deposit_and_a_fetch_by_reference_over_tls() {
    let server = started();
    let mut tls = TlsClient::connect(server.sip_tls);
    let message = |call_id: &str, extra: &str, body: &str| {
        format!(
            "MESSAGE sip:alice@example.com SIP/2.0\r\n\
             Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{call_id}\r\n\
             From: <sip:cs@example.com>;tag=t{call_id}\r\nTo: <sip:alice@example.com>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
             Contact: <sips:cs@127.0.0.1:5999>\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let cpim = "From: <sip:bob@example.com>\r\nTo: <sip:alice@example.com>\r\n\
                DateTime: 2026-11-21T10:00:00Z\r\n\r\n\
                Content-Type: text/plain\r\n\r\nover TLS\r\n";
    tls.send(&message(
        "tls-1",
        "Conversation-ID: conv-tls\r\nContent-Type: message/cpim\r\n",
        cpim,
    ));
    let stored = tls.next();
    assert!(stored.start.starts_with("SIP/2.0 200"), "{}", stored.start);
    assert_eq!(messages_in(&server, "conv-tls"), 1);

    // The reference comes back as a MESSAGE on the same TLS connection
    // (the store opens no TLS connection of its own).
    let url = reference(&server, "conv-tls", 1, &[]);
    tls.send(&message(
        "tls-2",
        "Content-Type: text/uri-list\r\n",
        &format!("{url}\r\n"),
    ));
    let accepted = tls.next();
    assert!(
        accepted.start.starts_with("SIP/2.0 202"),
        "{}",
        accepted.start
    );
    let delivery = tls.next();
    assert!(
        delivery.start.starts_with("MESSAGE sips:cs@127.0.0.1:5999"),
        "{}",
        delivery.start
    );
    assert!(delivery.header("Via").unwrap().starts_with("SIP/2.0/TLS "));
    assert_eq!(delivery.header("In-Reply-To"), Some("tls-2"));
    let object = imap_object(&server, "conv-tls", 1);
    assert_eq!(delivery.body.as_bytes(), object.as_slice());
    let mut answer = String::from("SIP/2.0 200 OK\r\n");
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        answer.push_str(&format!("{name}: {}\r\n", delivery.header(name).unwrap()));
    }
    answer.push_str("Content-Length: 0\r\n\r\n");
    tls.send(&answer);
}

/// A SUBSCRIBE with `since` below the feed horizon (the changes after it
/// were pruned, `[store] change_retention_days = 0`) gets its 200 and a
/// first NOTIFY saying `"resync":true` with no change and the current
/// MODSEQ (RFC 6665 4.2.1.2: the first NOTIFY follows at once); the
/// subscription then goes on live.
#[test]
fn a_subscriber_below_the_feed_horizon_is_told_to_resync_then_followed() {
    let mut server = Server::new();
    server.set_settings(
        "store",
        "change_retention_days = 0\nprune_interval_seconds = 1\n",
    );
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    server.start();
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    append(&mut imap, 0);
    append(&mut imap, 1);

    // Wait for the prune pass: a one-off fetch since 0 says resync.
    let mut sub = Subscriber::connect(&server);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let resync = loop {
        let body = sub.fetch_since(&format!("f{}", rand_id()), 0);
        if body["resync"] == true || std::time::Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(resync["resync"], true, "never pruned: {resync}");
    assert_eq!(resync["changes"], serde_json::json!([]));
    let now = resync["modseq"].as_u64().unwrap();
    assert!(now > 0, "{resync}");

    // A live subscription from below the horizon: resync first, then the
    // changes committed after it, as usual.
    sub.subscribe("live", "cpm-changes;since=1", 60, None);
    let ok = sub.read();
    assert!(ok.start.starts_with("SIP/2.0 200"), "{}", ok.start);
    let first = sub.notify();
    assert!(first
        .header("Subscription-State")
        .unwrap()
        .starts_with("active;expires="));
    let body = first.json();
    assert_eq!(body["resync"], true, "{body}");
    assert_eq!(body["changes"], serde_json::json!([]));
    let from = body["modseq"].as_u64().unwrap();
    append(&mut imap, 2);
    let stored = sub.changes_until("stored");
    let stored = stored.iter().find(|c| c["event"] == "stored").unwrap();
    assert_eq!(stored["uid"], 3);
    assert!(stored["modseq"].as_u64().unwrap() > from);
}
