//! The RFC 4475 torture messages against the parser and a running user
//! agent: every message gets the verdict `rfc4475/MANIFEST.tsv` gives
//! (the RFC's messages, extracted byte-exact; `rfc4475/README.md`), nothing panics,
//! and the agent still answers afterwards.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use sip_ua::transport::Transport;
use sip_ua::wire::validate::{validate_request, validate_response};
use sip_ua::wire::{parse_message, Message};
use sip_ua::{SipConfig, SipUa};
use store_core::{Store, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475")
}

/// (file, section, verdict, note) rows of the manifest.
fn manifest() -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(corpus().join("MANIFEST.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].into(), f[1].into(), f[2].into(), f[3].into())
        })
        .collect()
}

/// What the agent must answer, from the manifest's last column: a fixed
/// code, "anything but a parse failure", "400 or tolerated", "400 or
/// dropped", or nothing (a response, which a UAS discards).
#[derive(Debug)]
enum Expect {
    Code(u16),
    Served,
    RejectedOrDropped,
    Either,
    Silence,
}

fn expectation(file: &str, verdict: &str, note: &str, is_response: bool) -> Expect {
    if is_response {
        return Expect::Silence;
    }
    for code in [505, 416, 420, 415] {
        if note.contains(&code.to_string()) {
            return Expect::Code(code);
        }
    }
    match verdict {
        "valid" => Expect::Served,
        "tolerable" => Expect::Either,
        "invalid" if note.contains("with 400") => Expect::Code(400),
        "invalid" => Expect::RejectedOrDropped,
        "semantic" if note.starts_with("400") => Expect::Code(400),
        "semantic" => Expect::Served,
        other => panic!("{file}: unknown verdict {other}"),
    }
}

async fn start_agent() -> (SipUa, SocketAddr, SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    std::mem::forget(_tx);
    let tasks = tokio_util::task::TaskTracker::new();
    let config = SipConfig {
        trusted_peers: vec!["127.0.0.0/8".parse().unwrap()],
        ..SipConfig::default()
    };
    let ua = SipUa::new(store, config, None, rx, tasks);
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (udp_addr, tcp_addr) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
    let (a, b) = (ua.clone(), ua.clone());
    tokio::spawn(async move { a.serve_udp(udp).await });
    // The supervisor's acceptor, reduced to what the test needs.
    tokio::spawn(async move {
        while let Ok((stream, peer)) = tcp.accept().await {
            let (ua, local) = (b.clone(), tcp_addr);
            tokio::spawn(async move {
                ua.serve_connection(stream, Transport::Tcp, peer, local)
                    .await
            });
        }
    });
    (ua, udp_addr, tcp_addr, dir)
}

/// Sends a datagram; the status code of the first answer within `wait`.
async fn exchange(agent: SocketAddr, raw: &[u8], wait: Duration) -> Option<u16> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(raw, agent).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = tokio::time::timeout(wait, socket.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    match parse_message(Bytes::copy_from_slice(&buf[..n])) {
        Ok(Message::Response(r)) => Some(r.code),
        other => panic!("the agent sent a non-response: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_torture_message_gets_its_manifest_verdict() {
    let (_ua, udp, _tcp, _dir) = start_agent().await;
    let rows = manifest();
    assert_eq!(rows.len(), 49, "the manifest lists 49 messages");
    let mut failures = Vec::new();
    for (file, section, verdict, note) in &rows {
        let raw = std::fs::read(corpus().join(file)).unwrap();
        let parsed = parse_message(Bytes::from(raw.clone()));
        let is_response = raw.starts_with(b"SIP/");
        // The parser's own verdict.
        let accepted = match &parsed {
            Ok(Message::Request(r)) => validate_request(r).is_ok(),
            Ok(Message::Response(r)) => validate_response(r).is_ok(),
            Err(_) => false,
        };
        let parser_ok = match verdict.as_str() {
            "valid" => accepted,
            "invalid" => !accepted,
            _ => true,
        };
        if !parser_ok {
            failures.push(format!(
                "{file} ({section}, {verdict}): parser said {parsed:?}"
            ));
            continue;
        }
        // The agent's answer.
        let expect = expectation(file, verdict, note, is_response);
        let wait = match expect {
            Expect::Silence | Expect::RejectedOrDropped => Duration::from_millis(300),
            _ => Duration::from_secs(3),
        };
        let got = exchange(udp, &raw, wait).await;
        let ok = match (&expect, got) {
            (Expect::Code(c), Some(g)) => *c == g,
            (Expect::Served, Some(g)) => !matches!(g, 400 | 505 | 513) && g >= 200,
            (Expect::RejectedOrDropped, None) => true,
            (Expect::RejectedOrDropped, Some(g)) => g == 400 || g == 505,
            (Expect::Either, Some(_)) => true,
            (Expect::Silence, None) => true,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{file} ({section}, {verdict}: {note}): expected {expect:?}, got {got:?}"
            ));
        }
    }
    // Still serving.
    let options = b"OPTIONS sip:store@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKafter\r\nFrom: <sip:t@x>;tag=1\r\nTo: <sip:store@127.0.0.1>\r\nCall-ID: after\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        exchange(udp, options, Duration::from_secs(3)).await,
        Some(200)
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_binary_multipart_body_is_kept_byte_exact() {
    let raw = std::fs::read(corpus().join("TC_MPART01.dat")).unwrap();
    let Ok(Message::Request(r)) = parse_message(Bytes::from(raw.clone())) else {
        panic!("TC_MPART01 must parse");
    };
    let start = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(r.body.len(), 553);
    assert_eq!(&r.body[..], &raw[start..start + 553]);
    assert!(r.body.contains(&0u8), "the body has NUL bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_stream_the_bytes_after_content_length_are_the_next_message() {
    let (_ua, _udp, tcp, _dir) = start_agent().await;
    let raw = std::fs::read(corpus().join("TC_DBLREQ.dat")).unwrap();
    let mut stream = TcpStream::connect(tcp).await.unwrap();
    stream.write_all(&raw).await.unwrap();
    // Both requests are answered (the REGISTER and the INVITE: 405 each).
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 8192];
    while String::from_utf8_lossy(&seen)
        .matches("SIP/2.0 405")
        .count()
        < 2
    {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("two responses")
            .unwrap();
        assert!(n > 0, "closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("CSeq: 8 REGISTER"), "{text}");
    assert!(text.contains("CSeq: 8 INVITE"), "{text}");
}
