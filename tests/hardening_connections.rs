//! Issue 13, availability: no client can take the server down. Silent,
//! slow and too many connections are timed out or refused while real
//! clients keep being served, and an APPEND in progress at SIGTERM
//! finishes within the grace. All against the real binary, over loopback.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;

/// Raises this test process's soft descriptor limit to its hard one.
fn raise_own_descriptor_limit(needed: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let hard = getrlimit(Resource::Nofile).maximum;
    let raised = Rlimit {
        current: hard,
        maximum: hard,
    };
    setrlimit(Resource::Nofile, raised).expect("raise RLIMIT_NOFILE");
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    assert!(
        now >= needed,
        "this test needs {needed} descriptors; the hard limit is {hard:?}"
    );
}

/// A connection to `to` made from the loopback address `from` (Linux
/// answers on all of 127.0.0.0/8), so it counts as another client.
fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stream = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(from, 0))?;
            socket.connect(to).await?.into_std()
        })
        .expect("connect");
    stream.set_nonblocking(false).expect("blocking");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Sends one HTTP/1.1 request and reads the response head and body
/// (`Connection: close`).
fn http(mut stream: TcpStream, request: &str) -> String {
    stream.write_all(request.as_bytes()).expect("send request");
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn propfind(to: SocketAddr, from: IpAddr) -> String {
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:secret");
    http(
        connect_from(from, to),
        &format!(
            "PROPFIND /dav/alice/ HTTP/1.1\r\nHost: x\r\nDepth: 1\r\n\
             Authorization: Basic {auth}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        ),
    )
}

/// An NMS GET of alice's root folder from `from`; the whole answer.
fn nms_root(to: SocketAddr, from: IpAddr) -> String {
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:secret");
    http(
        connect_from(from, to),
        &format!(
            "GET /nms/v1/cpm/alice/folders/root HTTP/1.1\r\nHost: x\r\n\
             Authorization: Basic {auth}\r\nConnection: close\r\n\r\n"
        ),
    )
}

/// A PROPFIND of alice's root on a kept-alive connection; the status
/// line (the body, of Content-Length, is read and dropped).
fn keep_alive_propfind(stream: &mut TcpStream) -> String {
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:secret");
    let request = format!(
        "PROPFIND /dav/alice/ HTTP/1.1\r\nHost: x\r\nDepth: 0\r\n\
         Authorization: Basic {auth}\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length: Option<usize> = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    });
    match length {
        Some(n) => {
            let mut body = vec![0u8; n];
            stream.read_exact(&mut body).expect("response body");
        }
        // Chunked: size lines until the last (0) chunk.
        None => loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                stream.read_exact(&mut byte).expect("chunk size");
                line.push(byte[0]);
            }
            let size = usize::from_str_radix(String::from_utf8_lossy(&line).trim(), 16)
                .expect("chunk size");
            let mut chunk = vec![0u8; size + 2];
            stream.read_exact(&mut chunk).expect("chunk");
            if size == 0 {
                break;
            }
        },
    }
    head.lines().next().unwrap_or_default().to_string()
}

/// Whether the server has closed `stream` (a read finds end of stream or
/// an error), reading past whatever it sent first; what it sent is added
/// to `seen`.
fn closed_by_server(stream: &mut TcpStream, seen: &mut Vec<u8>) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// Takes at most `limit`, or fails naming `what`.
fn within<T>(limit: Duration, what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    eprintln!("{what}: {took:?}");
    assert!(took < limit, "{what} took {took:?} (limit {limit:?})");
    out
}

/// The reproduction: under the systemd default of 1,024
/// descriptors, 1,500 silent WebDAV and 500 silent IMAP connections made
/// every listener and `/healthz` stop answering (here a quarter of the
/// HTTP flood goes to the NMS listener, which shares the caps). Now the flood's address
/// gets at most `max_connections_per_ip` (the rest are refused at once),
/// the accepted ones are closed by the header and login timeouts, and
/// another client is served meanwhile.
#[test]
fn silent_connections_under_1024_descriptors_are_timed_out_while_others_are_served() {
    raise_own_descriptor_limit(2_400);
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.set_settings("webdav", "header_timeout_seconds = 5\n");
    server.set_settings("nms", "header_timeout_seconds = 5\n");
    server.set_settings("imap", "preauth_timeout_seconds = 5\n");
    server.start_with_descriptor_limit(1024);

    // Clients of the flood's own address that were connected before it
    // are served too.
    let mut imap_before = ImapConnection::login(server.imap, "alice", "secret");
    let mut dav_before = TcpStream::connect(server.webdav).expect("connect");
    dav_before
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let status = keep_alive_propfind(&mut dav_before);
    assert_eq!(status, "HTTP/1.1 207 Multi-Status");

    let flood_start = Instant::now();
    let mut silent: Vec<(TcpStream, &str)> = Vec::new();
    for i in 0..2_000 {
        let (to, protocol) = match i % 4 {
            0 => (server.imap, "imap"),
            1 => (server.nms, "nms"),
            _ => (server.webdav, "webdav"),
        };
        let stream = TcpStream::connect(to).expect("silent connection");
        silent.push((stream, protocol));
    }
    let opened = Instant::now();
    eprintln!(
        "2000 silent connections opened in {:?}",
        flood_start.elapsed()
    );

    // Another client (127.0.0.2) is served while the flood holds its
    // connections.
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    let limit = Duration::from_secs(2);
    within(limit, "IMAP LOGIN + NOOP", || {
        let mut imap = ImapConnection::over(connect_from(other, server.imap));
        assert!(imap.greeting.starts_with("* OK"), "{}", imap.greeting);
        let r = imap.run("a LOGIN alice secret");
        assert!(tagged(&r).starts_with("a OK"), "{r:?}");
        let r = imap.run("b NOOP");
        assert!(tagged(&r).starts_with("b OK"), "{r:?}");
    });
    within(limit, "WebDAV PROPFIND", || {
        let r = propfind(server.webdav, other);
        assert!(r.starts_with("HTTP/1.1 207"), "{r}");
    });
    within(limit, "NMS GET", || {
        let r = nms_root(server.nms, other);
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    });
    within(limit, "IMAP NOOP on a connection from before", || {
        let r = imap_before.run("c NOOP");
        assert!(tagged(&r).starts_with("c OK"), "{r:?}");
    });
    within(limit, "WebDAV PROPFIND on a connection from before", || {
        assert_eq!(
            keep_alive_propfind(&mut dav_before),
            "HTTP/1.1 207 Multi-Status"
        );
    });
    within(limit, "/healthz", || {
        assert_eq!(server.http_get("/healthz").as_deref(), Some("ok\n"));
    });

    // 10 s after the flood was opened, the server has closed at least
    // 95 % of it.
    std::thread::sleep(Duration::from_secs(10).saturating_sub(opened.elapsed()));
    let (mut closed, mut refused, mut timed_out) = (0, 0, 0);
    for (stream, protocol) in &mut silent {
        let mut seen = Vec::new();
        if closed_by_server(stream, &mut seen) {
            closed += 1;
            let seen = String::from_utf8_lossy(&seen);
            if seen.contains("Too many connections") {
                refused += 1;
            } else if *protocol != "imap" && seen.is_empty() || seen.contains("* BYE Login timeout")
            {
                timed_out += 1;
            }
        }
    }
    eprintln!(
        "of 2000 silent connections: {closed} closed ({refused} refused, {timed_out} timed out)"
    );
    assert!(closed >= 1_900, "only {closed} of 2000 closed");
    assert!(
        timed_out >= 100,
        "the connections the server took were not closed by its timeouts: {timed_out}"
    );
    assert_eq!(server.http_get("/healthz").as_deref(), Some("ok\n"));
}

/// Slowloris: a header byte every 3 s keeps no connection open past the
/// header timeout.
#[test]
fn slowloris_connections_are_closed_by_the_header_timeout() {
    raise_own_descriptor_limit(400);
    let mut server = Server::new();
    server.set_settings("webdav", "header_timeout_seconds = 5\n");
    server.start();

    let request = b"GET /dav/alice/ HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let start = Instant::now();
    let mut open: Vec<Option<TcpStream>> = (0..200)
        .map(|_| Some(TcpStream::connect(server.webdav).expect("connect")))
        .collect();
    let mut closed_at = Vec::new();
    let mut responses = Vec::new();
    let mut sent = 0;
    while start.elapsed() < Duration::from_secs(20) && open.iter().any(Option::is_some) {
        for slot in &mut open {
            let Some(stream) = slot.as_mut() else {
                continue;
            };
            let mut seen = Vec::new();
            let gone = closed_by_server(stream, &mut seen)
                || stream.write_all(&request[sent..sent + 1]).is_err();
            if !seen.is_empty() {
                responses.push(String::from_utf8_lossy(&seen).into_owned());
            }
            if gone {
                closed_at.push(start.elapsed());
                *slot = None;
            }
        }
        sent = (sent + 1).min(request.len() - 1);
        std::thread::sleep(Duration::from_secs(3));
    }
    let still_open = open.iter().filter(|s| s.is_some()).count();
    assert_eq!(
        still_open, 0,
        "{still_open} slowloris connections still open after 20 s"
    );
    assert!(
        responses.is_empty(),
        "no request was complete: {responses:?}"
    );
    let earliest = closed_at.iter().min().copied().unwrap_or_default();
    assert!(
        earliest >= Duration::from_secs(4),
        "closed after {earliest:?}: before the header timeout"
    );
}

/// Past `max_connections_per_ip`, IMAP answers `* BYE`, HTTP 503 with
/// Retry-After, and the connection is closed at once; `/healthz` and the
/// account commands still answer; a freed place is taken again.
#[test]
fn past_the_per_address_cap_each_protocol_refuses_and_admin_still_answers() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.set_settings("server", "max_connections_per_ip = 3\n");
    server.start();

    let mut held: Vec<ImapConnection> = (0..3)
        .map(|_| ImapConnection::connect(server.imap))
        .collect();
    for c in &held {
        assert!(c.greeting.starts_with("* OK"), "{}", c.greeting);
    }
    let mut refused = TcpStream::connect(server.imap).expect("connect");
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut text = String::new();
    within(Duration::from_secs(2), "IMAP refusal", || {
        refused.read_to_string(&mut text).expect("read to close");
    });
    assert_eq!(text, "* BYE Too many connections\r\n");

    let stream = TcpStream::connect(server.webdav).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let r = within(Duration::from_secs(2), "HTTP refusal", || {
        http(stream, "OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n")
    });
    assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
    assert!(r.contains("Retry-After: "), "{r}");

    assert_eq!(server.http_get("/healthz").as_deref(), Some("ok\n"));
    let out = server.command(&["account", "list"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("alice"));

    // Another address has its own count.
    let r = propfind(server.webdav, "127.0.0.2".parse().unwrap());
    assert!(r.starts_with("HTTP/1.1 207"), "{r}");

    // A place given back is taken again.
    let mut first = held.remove(0);
    let r = first.run("z LOGOUT");
    assert!(tagged(&r).starts_with("z OK"), "{r:?}");
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stream = TcpStream::connect(server.webdav).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let r = http(
            stream,
            "OPTIONS / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        if r.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the place was not given back: {r}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM while an APPEND streams its 40 MB literal: the APPEND
/// completes with a tagged OK within the grace, then BYE, and the message
/// is there after a restart.
#[test]
fn an_append_streaming_at_sigterm_completes_within_the_grace() {
    const SIZE: usize = 40 * 1024 * 1024;
    let mut server = Server::new();
    server.add_account("alice", "secret");
    let config = std::fs::read_to_string(server.config()).expect("config");
    let config = config.replace("shutdown_grace_seconds = 5", "shutdown_grace_seconds = 20");
    std::fs::write(server.config(), config).expect("config");
    server.start();

    let mut imap = ImapConnection::login(server.imap, "alice", "secret");
    imap.send(format!("a APPEND INBOX {{{SIZE}}}\r\n").as_bytes());
    let go = imap.read_response_line().expect("continuation");
    assert!(go.starts_with('+'), "{go}");
    let mut message = b"Subject: big\r\n\r\n".to_vec();
    message.resize(SIZE, b'x');
    let first = 8 * 1024 * 1024;
    imap.send(&message[..first]);

    let pid = server.pid().expect("pid").to_string();
    let signalled = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    // Still streaming after the signal.
    std::thread::sleep(Duration::from_millis(500));
    for chunk in message[first..].chunks(1024 * 1024) {
        imap.send(chunk);
    }
    imap.send(b"\r\n");
    let r = imap.read_until_tagged("a");
    let took = signalled.elapsed();
    assert!(tagged(&r).starts_with("a OK"), "{r:?}");
    assert!(
        took < Duration::from_secs(20),
        "APPEND answered after {took:?}"
    );
    // Then, the command done, the session ends at once.
    let answered = Instant::now();
    let bye = imap.read_response_line();
    assert!(
        bye.as_deref().is_some_and(|l| l.starts_with("* BYE")),
        "{bye:?}"
    );
    let waited = answered.elapsed();
    assert!(waited < Duration::from_secs(3), "BYE after {waited:?}");
    assert_eq!(server.terminate(), Some(0));

    server.start();
    let mut imap = ImapConnection::login(server.imap, "alice", "secret");
    let r = imap.run("s SELECT INBOX");
    assert!(tagged(&r).starts_with("s OK"), "{r:?}");
    let r = imap.run("f FETCH 1 RFC822.SIZE");
    assert!(
        r.iter().any(|l| l.contains(&format!("RFC822.SIZE {SIZE}"))),
        "{r:?}"
    );
}

/// A connection that never logs in gets `* BYE` after
/// `preauth_timeout_seconds` from its greeting, however busy it keeps
/// itself with NOOPs; a logged-in one is not touched by it.
#[test]
fn the_login_deadline_runs_from_the_greeting() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.set_settings("imap", "preauth_timeout_seconds = 3\n");
    server.start();

    let mut logged_in = ImapConnection::login(server.imap, "alice", "secret");
    let mut busy = ImapConnection::connect(server.imap);
    let start = Instant::now();
    let mut bye = None;
    for i in 0..10 {
        std::thread::sleep(Duration::from_secs(1));
        busy.send(format!("n{i} NOOP\r\n").as_bytes());
        let line = busy.read_response_line();
        if line.as_deref().is_none_or(|l| l.starts_with("* BYE")) {
            bye = Some((line, start.elapsed()));
            break;
        }
        assert!(
            line.as_deref()
                .is_some_and(|l| l.starts_with(&format!("n{i} OK"))),
            "{line:?}"
        );
    }
    let (line, after) = bye.expect("no BYE within 10 s");
    assert!(
        line.as_deref()
            .is_some_and(|l| l.starts_with("* BYE Login timeout")),
        "{line:?}"
    );
    assert!(after >= Duration::from_secs(2), "BYE after {after:?}");
    let r = logged_in.run("a NOOP");
    assert!(tagged(&r).starts_with("a OK"), "{r:?}");
}

/// Keep-alive: a connection idle between requests for longer than the
/// header timeout but less than the idle timeout is still served; past
/// the idle timeout it is closed.
#[test]
fn keep_alive_connections_get_the_idle_timeout() {
    let mut server = Server::new();
    server.set_settings(
        "webdav",
        "header_timeout_seconds = 2\nidle_timeout_seconds = 5\n",
    );
    server.start();

    let request = b"OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut stream = TcpStream::connect(server.webdav).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    for _ in 0..2 {
        stream.write_all(request).expect("request");
        let n = stream.read(&mut buf).expect("response");
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        std::thread::sleep(Duration::from_secs(3));
    }
    let idle = Instant::now();
    let n = stream.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a response");
    let after = idle.elapsed() + Duration::from_secs(3);
    assert!(
        after >= Duration::from_secs(4) && after < Duration::from_secs(9),
        "closed after {after:?} idle (idle_timeout_seconds = 5)"
    );
}

/// A PUT whose body trickles in (a byte a second) is cut by the minimum
/// body rate; one at full speed under the same settings is stored.
#[test]
fn a_trickling_request_body_is_cut() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.set_settings("webdav", "header_timeout_seconds = 3\n");
    server.start();
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:secret");
    let head = |len: usize, name: &str| {
        format!(
            "PUT /dav/alice/INBOX/{name} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n"
        )
    };

    let mut slow = TcpStream::connect(server.webdav).expect("connect");
    slow.write_all(head(100_000, "slow.bin").as_bytes())
        .expect("head");
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut cut = None;
    while start.elapsed() < Duration::from_secs(15) {
        if closed_by_server(&mut slow, &mut seen) || slow.write_all(b"x").is_err() {
            cut = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let cut = cut.expect("a body at 1 byte/s was not cut within 15 s");
    assert!(cut >= Duration::from_secs(2), "cut after {cut:?}");
    assert!(
        seen.is_empty(),
        "cut without a response: {}",
        String::from_utf8_lossy(&seen)
    );

    let body = vec![b'y'; 200_000];
    let mut fast = TcpStream::connect(server.webdav).expect("connect");
    fast.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    fast.write_all(head(body.len(), "fast.bin").as_bytes())
        .expect("head");
    fast.write_all(&body).expect("body");
    let mut buf = [0u8; 1024];
    let n = fast.read(&mut buf).expect("response");
    let r = String::from_utf8_lossy(&buf[..n]);
    assert!(r.starts_with("HTTP/1.1 201"), "{r}");
}

/// HTTP/2 over TLS (ALPN h2) gets the same limits: a client that sends
/// the connection preface and SETTINGS but no request is closed after
/// the header timeout.
#[test]
fn an_http2_connection_without_a_request_is_closed_after_the_header_timeout() {
    use std::process::{Command, Stdio};
    e2e_tests::require_tool("openssl", "openssl");
    let mut server = Server::new();
    server.set_settings("webdav", "header_timeout_seconds = 3\n");
    server.start();

    let mut client = Command::new("openssl")
        .args(["s_client", "-quiet", "-alpn", "h2", "-connect"])
        .arg(server.webdavs.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client");
    let mut stdin = client.stdin.take().expect("stdin");
    // The client connection preface (RFC 9113 3.4): the magic string and
    // an empty SETTINGS frame.
    stdin
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .expect("preface");
    stdin.flush().expect("flush");
    let start = Instant::now();
    let mut stdout = client.stdout.take().expect("stdout");
    let mut from_server = Vec::new();
    let _ = stdout.read_to_end(&mut from_server);
    let after = start.elapsed();
    let _ = client.kill();
    let _ = client.wait();
    // The server's own SETTINGS frame shows HTTP/2 was spoken.
    assert!(
        from_server.len() >= 9 && from_server[3] == 0x04,
        "no HTTP/2 SETTINGS from the server: {from_server:?}"
    );
    assert!(
        after >= Duration::from_secs(2) && after < Duration::from_secs(10),
        "closed after {after:?} (header_timeout_seconds = 3)"
    );
    drop(stdin);
}

/// A client that asks for STARTTLS and then never makes the handshake is
/// closed by the login deadline (the handshake counts in it).
#[test]
fn a_starttls_handshake_that_never_comes_is_cut_by_the_login_deadline() {
    let mut server = Server::new();
    server.set_settings("imap", "preauth_timeout_seconds = 3\n");
    server.start();

    let stream = TcpStream::connect(server.imap).expect("connect");
    let mut raw = stream.try_clone().expect("clone");
    let mut imap = ImapConnection::over(stream);
    let r = imap.run("s STARTTLS");
    assert!(tagged(&r).starts_with("s OK"), "{r:?}");
    let start = Instant::now();
    raw.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let n = raw.read(&mut buf).unwrap_or(0);
    let after = start.elapsed();
    assert_eq!(n, 0, "closed without a word");
    assert!(
        after >= Duration::from_secs(1) && after < Duration::from_secs(10),
        "closed after {after:?} (preauth_timeout_seconds = 3)"
    );
}
