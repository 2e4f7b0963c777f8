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
