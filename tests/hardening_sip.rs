//! Issue 13, SIP part, against the real binary over loopback: a flood
//! from an untrusted address leaves trusted peers their room and their
//! speed, untrusted sources are rate-limited one by one, and TCP
//! connections that stall or stay silent are closed. The trusted peer is
//! 127.0.0.1; untrusted ones send from 127.0.0.2 and 127.0.0.3 (all of
//! 127.0.0.0/8 is loopback).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_tests::imap::ImapConnection;
use e2e_tests::Server;

const TRUSTED: &str = "127.0.0.1";
const UNTRUSTED: &str = "127.0.0.2";
const OTHER_UNTRUSTED: &str = "127.0.0.3";

/// A server trusting only 127.0.0.1, with `settings` added to `[sip]`, and
/// alice reachable as sip:alice@example.com.
fn started(settings: &str) -> Server {
    let mut server = Server::new();
    server.set_settings(
        "sip",
        &format!("trusted_peers = [\"{TRUSTED}/32\"]\n{settings}"),
    );
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    server.start();
    wait_for_sip(&server);
    server
}

/// Waits until the SIP sockets are bound: `/healthz` answers as soon as
/// the admin endpoint listens, which is before them.
fn wait_for_sip(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let trusted = udp_from(TRUSTED, Duration::from_millis(200));
    while exchange(&trusted, server.sip_udp, &request("OPTIONS", "", "")) != Some(200) {
        assert!(Instant::now() < deadline, "SIP over UDP not answering");
    }
    for addr in [server.sip_tcp, server.sip_tls] {
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "SIP not listening on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A request with a fresh branch and Call-ID.
fn request(method: &str, extra: &str, body: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "{method} sip:alice@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKh{id}\r\n\
         From: <sip:cs@example.com>;tag=t{id}\r\nTo: <sip:alice@example.com>\r\n\
         Call-ID: h{id}@test\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A CPIM chat message deposited into alice's conversation `conv`.
fn deposit(conv: &str) -> String {
    let body = format!(
        "From: <sip:bob@example.com>\r\nTo: <sip:alice@example.com>\r\n\
         DateTime: 2026-11-21T10:00:00Z\r\nNS: imdn <urn:ietf:params:imdn>\r\n\
         imdn.Message-ID: {conv}-1\r\n\r\nContent-Type: text/plain\r\n\r\nHello\r\n"
    );
    request(
        "MESSAGE",
        &format!("Conversation-ID: {conv}\r\nContent-Type: message/cpim\r\n"),
        &body,
    )
}

/// A UDP socket of the host `ip`, reading with `timeout`.
fn udp_from(ip: &str, timeout: Duration) -> UdpSocket {
    let socket = UdpSocket::bind(format!("{ip}:0")).expect("bind a loopback address");
    socket.set_read_timeout(Some(timeout)).unwrap();
    socket
}

/// The status code of a response datagram or stream head.
fn status(answer: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(answer.get(..12)?).ok()?;
    text.strip_prefix("SIP/2.0 ")?.trim().parse().ok()
}

/// Sends `message` from `socket` and waits for its answer: the status,
/// or `None` after `timeout`.
fn exchange(socket: &UdpSocket, server: SocketAddr, message: &str) -> Option<u16> {
    socket.send_to(message.as_bytes(), server).unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = socket.recv(&mut buf).ok()?;
    status(&buf[..n])
}

/// How many messages alice's `folder` holds, over IMAP.
fn messages_in(server: &Server, folder: &str) -> usize {
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let lines = imap.run(&format!("s STATUS {folder} (MESSAGES)"));
    lines
        .iter()
        .filter(|l| l.starts_with("* STATUS"))
        .find_map(|l| l.rsplit("(MESSAGES ").next())
        .and_then(|n| n.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no STATUS for {folder}: {lines:?}"))
}

/// What a flood got back, by status.
#[derive(Debug, Default)]
struct Tally {
    sent: usize,
    ok: usize,
    forbidden: usize,
    busy: usize,
    other: usize,
    elapsed: Duration,
}

/// Sends `total` requests from `ip`, the `i`th made by `make(i)`, as fast
/// as the agent answers, with at most `window` unanswered at a time;
/// gives up at `deadline`.
fn flood(
    server: SocketAddr,
    ip: &str,
    total: usize,
    window: usize,
    deadline: Instant,
    make: impl Fn(usize) -> String,
) -> Tally {
    let socket = udp_from(ip, Duration::from_millis(200));
    let start = Instant::now();
    let mut tally = Tally::default();
    let mut waiting = 0usize;
    let mut buf = vec![0u8; 65_536];
    while (tally.sent < total || waiting > 0) && Instant::now() < deadline {
        while waiting < window && tally.sent < total {
            socket.send_to(make(tally.sent).as_bytes(), server).unwrap();
            tally.sent += 1;
            waiting += 1;
        }
        match socket.recv(&mut buf) {
            Ok(n) => {
                waiting = waiting.saturating_sub(1);
                match status(&buf[..n]) {
                    Some(200) => tally.ok += 1,
                    Some(403) => tally.forbidden += 1,
                    Some(503) => tally.busy += 1,
                    _ => tally.other += 1,
                }
            }
            // Lost on the way (a full socket buffer): go on.
            Err(_) => waiting = 0,
        }
    }
    tally.elapsed = start.elapsed();
    tally
}

#[test]
fn an_options_flood_from_an_untrusted_address_leaves_trusted_deposits_their_room() {
    // The rate limit is off, so that the whole flood reaches the
    // transactions; the table of trusted peers is smaller than the flood.
    let server = started(
        "untrusted_requests_per_second = 0\nmax_transactions = 20000\n\
         max_untrusted_transactions = 100\n",
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    let sip = server.sip_udp;
    // A trusted element keeps asking OPTIONS during the flood: the receive
    // loop must keep answering it promptly.
    let flooding = Arc::new(AtomicBool::new(true));
    let pinger = {
        let flooding = flooding.clone();
        std::thread::spawn(move || {
            let socket = udp_from(TRUSTED, Duration::from_secs(3));
            let (mut slowest, mut lost, mut pings) = (Duration::ZERO, 0, 0);
            while flooding.load(Ordering::Relaxed) {
                let t = Instant::now();
                match exchange(&socket, sip, &request("OPTIONS", "", "")) {
                    Some(200) => slowest = slowest.max(t.elapsed()),
                    _ => lost += 1,
                }
                pings += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            (slowest, lost, pings)
        })
    };
    // 110,000 OPTIONS, and one in eleven requests a MESSAGE without
    // credentials (403: no digest is configured).
    let tally = flood(sip, UNTRUSTED, 121_000, 32, deadline, |i| {
        if i % 11 == 10 {
            request("MESSAGE", "Content-Type: message/cpim\r\n", "x")
        } else {
            request("OPTIONS", "", "")
        }
    });
    flooding.store(false, Ordering::Relaxed);
    let (slowest, lost, pings) = pinger.join().unwrap();
    eprintln!(
        "flood: {tally:?} ({:.0}/s); trusted pings: {pings}, slowest {slowest:?}, lost {lost}",
        tally.sent as f64 / tally.elapsed.as_secs_f64()
    );
    // The flood reached the agent: 110,000 OPTIONS and 11,000 MESSAGEs
    // without credentials, nearly all answered (200 and 403), none with
    // 503: untrusted requests without credentials keep no transaction.
    assert_eq!(tally.sent, 121_000, "{tally:?}");
    assert!(tally.ok >= 100_000, "{tally:?}");
    assert!(tally.forbidden >= 10_000, "{tally:?}");
    assert_eq!((tally.busy, tally.other), (0, 0), "{tally:?}");
    // The trusted element was answered all along, promptly.
    assert_eq!(lost, 0, "trusted OPTIONS unanswered during the flood");
    assert!(slowest < Duration::from_millis(1500), "slowest {slowest:?}");
    // Right after it (well within Timer J of the flood's last requests),
    // a trusted deposit is stored and answered 200, and IMAP shows it.
    let trusted = udp_from(TRUSTED, Duration::from_secs(5));
    assert_eq!(exchange(&trusted, sip, &deposit("conv-flood")), Some(200));
    assert_eq!(messages_in(&server, "conv-flood"), 1);
    // Requests with credentials do get transactions, from their own small
    // budget (100 here): past it 503, and trusted deposits still go in.
    let credentials = "Authorization: Digest username=\"x\", realm=\"cpm-store\", \
                       nonce=\"1.00\", uri=\"sip:alice@example.com\", response=\"00\"\r\n\
                       Content-Type: message/cpim\r\n";
    let forged = flood(sip, UNTRUSTED, 300, 32, deadline, |_| {
        request("MESSAGE", credentials, "x")
    });
    eprintln!("with credentials: {forged:?}");
    assert!((95..=100).contains(&forged.forbidden), "{forged:?}");
    assert!(forged.busy >= 190, "{forged:?}");
    assert_eq!(exchange(&trusted, sip, &deposit("conv-flood-2")), Some(200));
    assert_eq!(messages_in(&server, "conv-flood-2"), 1);
    // The untrusted address still gets its stateless answers.
    let untrusted = udp_from(UNTRUSTED, Duration::from_secs(5));
    assert_eq!(
        exchange(&untrusted, sip, &request("OPTIONS", "", "")),
        Some(200)
    );
}

/// Sends `n` OPTIONS from `socket` spread over `over`, reading answers as
/// they come, then a second more; the number of 200s.
fn paced_options(socket: &UdpSocket, server: SocketAddr, n: usize, over: Duration) -> usize {
    let mut buf = vec![0u8; 65_536];
    let mut ok = 0;
    let mut count = |answer: &[u8]| {
        if status(answer) == Some(200) {
            ok += 1;
        }
    };
    socket.set_nonblocking(true).unwrap();
    for _ in 0..n {
        socket
            .send_to(request("OPTIONS", "", "").as_bytes(), server)
            .unwrap();
        std::thread::sleep(over / n as u32);
        while let Ok(len) = socket.recv(&mut buf) {
            count(&buf[..len]);
        }
    }
    socket.set_nonblocking(false).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    while let Ok(len) = socket.recv(&mut buf) {
        count(&buf[..len]);
    }
    ok
}

/// A TCP connection to `server` from the host `ip`.
fn tcp_from(ip: &str, server: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        let stream = socket.connect(server).await.expect("connect");
        stream.into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// One SIP message read from a stream: its head (start line and header
/// fields) and its body.
fn read_message(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

#[test]
fn an_untrusted_source_over_its_rate_is_refused_and_other_sources_are_not() {
    let server = started("untrusted_requests_per_second = 10\nuntrusted_request_burst = 20\n");
    let sip = server.sip_udp;
    // 200 OPTIONS in a second from one untrusted address: the burst and
    // about a second's worth are answered, the rest dropped.
    let flooder = udp_from(UNTRUSTED, Duration::from_secs(1));
    let start = Instant::now();
    let answered = paced_options(&flooder, sip, 200, Duration::from_secs(1));
    // At most the burst and 10 a second for as long as it took (more if
    // the machine is slow).
    let most = 20 + (10.0 * start.elapsed().as_secs_f64()).ceil() as usize;
    eprintln!("untrusted source: {answered} of 200 answered, at most {most} allowed");
    assert!(
        answered >= 20 && answered <= most.min(100),
        "{answered} answered"
    );
    // Meanwhile another untrusted address and the trusted peer are served
    // in full.
    let other = udp_from(OTHER_UNTRUSTED, Duration::from_secs(1));
    assert_eq!(
        paced_options(&other, sip, 20, Duration::from_millis(200)),
        20
    );
    let trusted = udp_from(TRUSTED, Duration::from_secs(1));
    assert_eq!(
        paced_options(&trusted, sip, 200, Duration::from_secs(1)),
        200
    );
    // Over TCP the limited source is told: 503 with Retry-After, and the
    // connection stays usable.
    let stream = tcp_from(UNTRUSTED, server.sip_tcp);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let pipelined: String = (0..60).map(|_| request("OPTIONS", "", "")).collect();
    writer.write_all(pipelined.as_bytes()).unwrap();
    let mut codes = Vec::new();
    let mut retry_after = None;
    for _ in 0..60 {
        let (head, _) = read_message(&mut reader).expect("an answer to every request");
        let code = status(head.as_bytes());
        if code == Some(503) {
            retry_after = head
                .lines()
                .find_map(|l| l.strip_prefix("Retry-After: "))
                .and_then(|v| v.trim().parse::<u64>().ok());
        }
        codes.push(code);
    }
    let ok = codes.iter().filter(|c| **c == Some(200)).count();
    let busy = codes.iter().filter(|c| **c == Some(503)).count();
    eprintln!("untrusted TCP: {ok} answered 200, {busy} 503 (Retry-After {retry_after:?})");
    assert_eq!(ok + busy, 60, "{codes:?}");
    assert!(busy >= 20, "{codes:?}");
    let retry_after = retry_after.expect("503 with a Retry-After in seconds");
    assert!((1..=5).contains(&retry_after), "Retry-After {retry_after}");
    std::thread::sleep(Duration::from_secs(retry_after));
    writer
        .write_all(request("OPTIONS", "", "").as_bytes())
        .unwrap();
    let (head, _) = read_message(&mut reader).expect("answer after Retry-After");
    assert_eq!(status(head.as_bytes()), Some(200), "{head}");
}

/// Waits for the agent to close `stream`; how long that took, or `None`
/// if it answered something or was still open after `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 512];
    match stream.read(&mut buf) {
        Ok(0) => Some(start.elapsed()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(start.elapsed()),
        _ => None,
    }
}

#[test]
fn tcp_and_tls_connections_that_stall_or_stay_silent_are_closed() {
    let server = started("message_timeout_seconds = 2\nidle_timeout_seconds = 4\n");
    let (addr, tls) = (server.sip_tcp, server.sip_tls);
    let limit = Duration::from_secs(15);
    // Each case on its own thread: they run side by side.
    let silent = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        closed_within(&mut s, limit)
    });
    let partial = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let r = request("OPTIONS", "", "");
        s.write_all(&r.as_bytes()[..r.len() / 2]).unwrap();
        closed_within(&mut s, limit)
    });
    let dripping = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let start = Instant::now();
        for b in request("OPTIONS", "", "").bytes() {
            if s.write_all(&[b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
            if start.elapsed() > limit {
                break;
            }
        }
        let rest = limit.saturating_sub(start.elapsed());
        closed_within(&mut s, rest).map(|_| start.elapsed())
    });
    let established = std::thread::spawn(move || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut writer = s.try_clone().unwrap();
        let mut reader = BufReader::new(s);
        let ask = |writer: &mut TcpStream, reader: &mut BufReader<TcpStream>| {
            writer
                .write_all(request("OPTIONS", "", "").as_bytes())
                .unwrap();
            read_message(reader).map(|(h, _)| status(h.as_bytes()))
        };
        assert_eq!(ask(&mut writer, &mut reader), Some(Some(200)));
        // Quiet for longer than the message timeout, less than the idle
        // one: still open.
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(ask(&mut writer, &mut reader), Some(Some(200)));
        // Keep-alive CRLFs keep it open past the idle timeout.
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(1500));
            writer.write_all(b"\r\n\r\n").unwrap();
        }
        assert_eq!(ask(&mut writer, &mut reader), Some(Some(200)));
        // Then silence: closed after the idle timeout.
        let mut s = reader.into_inner();
        closed_within(&mut s, limit)
    });
    // Over TLS too, once the handshake is made (openssl s_client exits
    // when the agent closes).
    let tls_silent = std::thread::spawn(move || {
        e2e_tests::require_tool("openssl", "openssl");
        let start = Instant::now();
        let mut client = std::process::Command::new("openssl")
            .args(["s_client", "-quiet", "-connect"])
            .arg(tls.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_client");
        while start.elapsed() < limit {
            if client.try_wait().unwrap().is_some() {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = client.kill();
        let _ = client.wait();
        None
    });
    let silent = silent.join().unwrap();
    let partial = partial.join().unwrap();
    let dripping = dripping.join().unwrap();
    let idle = established.join().unwrap();
    let tls_silent = tls_silent.join().unwrap();
    eprintln!(
        "closed after: silent {silent:?}, partial {partial:?}, dripping {dripping:?}, \
         TLS silent {tls_silent:?}, idle {idle:?}"
    );
    // The message timeout is 2 s, looked at every second; 6 s of slack for
    // a loaded machine.
    for (case, took) in [
        ("silent", silent),
        ("partial", partial),
        ("dripping", dripping),
    ] {
        let took = took.unwrap_or_else(|| panic!("{case} connection not closed within {limit:?}"));
        assert!(
            took >= Duration::from_millis(1500) && took < Duration::from_secs(8),
            "{case} connection closed after {took:?}"
        );
    }
    let idle = idle.expect("idle connection not closed");
    assert!(
        idle >= Duration::from_secs(3) && idle < Duration::from_secs(10),
        "idle connection closed after {idle:?}"
    );
}

/// Sends OPTIONS over a fresh connection from `ip` as fast as the agent
/// takes them and never reads an answer; how long until the agent closed
/// the connection (a write fails other than by timing out), or `None` if
/// it was still open after `limit`.
fn closed_while_never_reading(ip: &str, server: SocketAddr, limit: Duration) -> Option<Duration> {
    let mut stream = tcp_from(ip, server);
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let start = Instant::now();
    // Whole requests only: a write cut short by its timeout goes on where
    // it stopped.
    let mut pending: Vec<u8> = Vec::new();
    while start.elapsed() < limit {
        if pending.is_empty() {
            pending = (0..64)
                .map(|_| request("OPTIONS", "", ""))
                .collect::<String>()
                .into_bytes();
        }
        match stream.write(&pending) {
            Ok(0) => return Some(start.elapsed()),
            Ok(n) => {
                pending.drain(..n);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

#[test]
fn a_tcp_peer_that_sends_requests_and_never_reads_is_closed() {
    let server = started("message_timeout_seconds = 2\nidle_timeout_seconds = 4\n");
    let addr = server.sip_tcp;
    // Answered requests (trusted) and 503s of a source over its rate
    // (untrusted) alike fill the connection; without a write timeout the
    // agent's reader then waits on the writer for ever.
    let limit = Duration::from_secs(40);
    let cases = [TRUSTED, UNTRUSTED]
        .map(|ip| std::thread::spawn(move || (ip, closed_while_never_reading(ip, addr, limit))));
    for case in cases {
        let (ip, closed) = case.join().unwrap();
        let after = closed.unwrap_or_else(|| panic!("peer {ip} still connected after {limit:?}"));
        // Filling the buffers takes a moment; then the 2 s write timeout,
        // with slack for a loaded machine.
        assert!(
            after < Duration::from_secs(30),
            "peer {ip} closed after {after:?}"
        );
    }
}
