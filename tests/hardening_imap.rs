//! Issue 13, IMAP part: hostile bytes before login do not take the
//! connection task (or the server) down, and slow readers of a large
//! message do not pin its size in server memory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;

/// Sends `bytes` on a new connection before any login, then reads until
/// the server answers a tagged response for `tag` or closes; returns what
/// was read after the greeting.
fn send_before_login(server: &Server, bytes: &[u8], tag: &str) -> Vec<String> {
    let mut c = ImapConnection::connect(server.imap);
    assert!(c.greeting.starts_with("* OK"), "{}", c.greeting);
    c.send(bytes);
    let mut lines = Vec::new();
    while let Some(line) = c.read_response_line() {
        let done = line.starts_with(&format!("{tag} ")) || line.starts_with("* BYE");
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

#[test]
fn hostile_bytes_before_login_get_bad_and_the_server_goes_on() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    let log = server.start_logged();

    // The fuzzer's reproducer: a bare LF after the literal's CR panicked
    // the connection task (the client saw the connection reset).
    let r = send_before_login(&server, b"a1 LOGIN {1+}\r\n\r\n", "a1");
    assert!(
        tagged(&r).starts_with("a1 BAD") || tagged(&r).starts_with("a1 NO"),
        "{r:?}"
    );
    // Variants: more literal CRs, LF-only lines, a literal header inside a
    // literal, an oversized or malformed length. Each gets a tagged answer.
    for (bytes, tag) in [
        (&b"a2 LOGIN {2+}\r\n\r\r\n"[..], "a2"),
        (b"a3 LOGIN {1+}\r\n\n\n", "a3"),
        (
            b"a4 LOGIN \"x {20+}\r\n\" {18446744073709551611}\r\n\r\n",
            "a4",
        ),
        (b"a5 LOGIN {99999999999999999999}\r\n", "a5"),
        (b"a6 LOGIN {1+}\r\n\r {1+}\r\n\r\n", "a6"),
        (b"a7 LOGIN alice {0+}\r\n\r\n", "a7"),
    ] {
        let r = send_before_login(&server, bytes, tag);
        assert!(
            tagged(&r).starts_with(&format!("{tag} BAD"))
                || tagged(&r).starts_with(&format!("{tag} NO")),
            "{:?}: {r:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    // The same connection goes on after the reproducer.
    let mut c = ImapConnection::connect(server.imap);
    c.send(b"b1 LOGIN {1+}\r\n\r\n");
    let r = c.read_until_tagged("b1");
    assert!(tagged(&r).starts_with("b1 BAD"), "{r:?}");
    let r = c.run("b2 LOGIN alice secret");
    assert!(tagged(&r).starts_with("b2 OK"), "{r:?}");
    assert!(tagged(&c.run("b3 NOOP")).starts_with("b3 OK"));

    // Another client logs in; the server is healthy; nothing panicked.
    let mut d = ImapConnection::login(server.imap, "alice", "secret");
    assert!(tagged(&d.run("c1 SELECT INBOX")).starts_with("c1 OK"));
    assert!(server
        .http_get("/healthz")
        .is_some_and(|b| b.contains("ok")));
    let text = std::fs::read_to_string(&log).expect("server log");
    assert!(!text.contains("panicked"), "server log:\n{text}");
}

/// Reads from `s` until `needle` has been seen; panics after 30 s.
fn read_until(s: &mut TcpStream, needle: &str) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains(needle) {
        assert!(Instant::now() < deadline, "no {needle:?} in time");
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "closed before {needle:?}");
        seen.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn slow_readers_of_a_large_message_do_not_pin_its_size_in_memory() {
    const SIZE: usize = 50 * 1024 * 1024;
    const CLIENTS: usize = 10;
    const READ_FOR: Duration = Duration::from_secs(25);
    let server = Server::with_alice();

    // A 50 MB plain-text message: its decoded text is as large as it is.
    let header = "Subject: big text\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
    let line = "The quick brown fox jumps over the lazy dog, again and again.\r\n";
    let mut message = header.as_bytes().to_vec();
    while message.len() + line.len() <= SIZE {
        message.extend_from_slice(line.as_bytes());
    }
    let size = message.len();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    c.send(format!("a1 APPEND INBOX {{{size}+}}\r\n").as_bytes());
    for chunk in message.chunks(1 << 20) {
        c.send(chunk);
    }
    c.send(b"\r\n");
    let r = c.read_until_tagged("a1");
    assert!(tagged(&r).starts_with("a1 OK"), "{r:?}");
    drop(message);
    // SEARCH still finds words of the body (its text is kept for SEARCH).
    c.run("a2 SELECT INBOX");
    let r = c.run("a3 SEARCH BODY \"lazy dog\"");
    assert_eq!(r[0], "* SEARCH 1", "{r:?}");

    // Every reader logs in and selects first (one at a time), so their
    // logins are not in the figure.
    let mut readers: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| {
            let mut s = TcpStream::connect(server.imap).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            s.write_all(b"r1 LOGIN alice secret\r\nr2 EXAMINE INBOX\r\n")
                .unwrap();
            read_until(&mut s, "r2 OK");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let rss = || server.proc_status_kb("VmRSS").expect("server's VmRSS");
    let before = rss();

    let started = Instant::now();
    let threads: Vec<_> = readers
        .drain(..)
        .map(|mut s| {
            std::thread::spawn(move || {
                s.write_all(b"f1 FETCH 1 BODY.PEEK[]\r\n").unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 1024];
                while started.elapsed() < READ_FOR {
                    let n = s.read(&mut buf).expect("read");
                    assert!(n > 0, "server closed the reader");
                    got.extend_from_slice(&buf[..n]);
                    std::thread::sleep(Duration::from_secs(1));
                }
                got
            })
        })
        .collect();
    let mut peak = before;
    while started.elapsed() < READ_FOR {
        peak = peak.max(rss());
        std::thread::sleep(Duration::from_millis(250));
    }
    for t in threads {
        let got = t.join().expect("reader");
        let head = String::from_utf8_lossy(&got[..got.len().min(100)]).into_owned();
        assert!(
            head.starts_with(&format!(
                "* 1 FETCH (BODY[] {{{size}}}\r\nSubject: big text"
            )),
            "{head:?}"
        );
    }
    let grown_mib = peak.saturating_sub(before) / 1024;
    eprintln!(
        "{CLIENTS} slow readers of a {size}-byte message: server RSS {before} kB before, \
         peak {peak} kB ({grown_mib} MiB more)"
    );
    assert!(
        grown_mib < 50,
        "server RSS grew by {grown_mib} MiB with {CLIENTS} slow readers"
    );
    // The readers are gone (dropped mid-literal); the server serves on.
    let mut d = ImapConnection::login(server.imap, "alice", "secret");
    assert!(tagged(&d.run("d1 NOOP")).starts_with("d1 OK"));
}

#[test]
fn an_append_before_login_is_refused_before_any_literal_data() {
    let server = Server::with_alice();

    // A synchronizing 1 GiB APPEND before login: the server acknowledged
    // it with `+` and streamed whatever came into a blob on disk. It is
    // refused at once now, and the connection goes on.
    let mut c = ImapConnection::connect(server.imap);
    c.send(b"x1 APPEND INBOX {1073741824}\r\n");
    let first = c.read_response_line().expect("an answer to x1");
    assert!(
        first.starts_with("x1 BAD") || first.starts_with("x1 NO"),
        "{first:?}"
    );
    let r = c.run("x2 LOGIN alice secret");
    assert!(tagged(&r).starts_with("x2 OK"), "{r:?}");
    // After login, an APPEND is acknowledged and stored as before.
    c.send(b"x3 APPEND INBOX {12}\r\n");
    let cont = c.read_response_line().expect("a continuation");
    assert!(cont.starts_with('+'), "{cont:?}");
    c.send(b"Subject: a\r\n\r\n");
    let r = c.read_until_tagged("x3");
    assert!(tagged(&r).starts_with("x3 OK"), "{r:?}");

    // Non-synchronizing: the client is already sending it, so the server
    // closes the connection with BYE (RFC 7888 4) rather than take it.
    let r = send_before_login(&server, b"y1 APPEND INBOX {1073741824+}\r\n", "y1");
    assert!(r.iter().any(|l| l.starts_with("* BYE")), "{r:?}");
}

#[test]
fn a_fetch_item_failing_mid_line_leaves_no_half_written_response() {
    let server = Server::with_alice();
    let mut a = ImapConnection::login(server.imap, "alice", "secret");
    a.send(b"a1 APPEND INBOX {12}\r\n");
    assert!(a.read_response_line().is_some_and(|l| l.starts_with('+')));
    a.send(b"Subject: a\r\n\r\n");
    assert!(tagged(&a.read_until_tagged("a1")).starts_with("a1 OK"));
    assert!(tagged(&a.run("a2 SELECT INBOX")).starts_with("a2 OK"));

    // Another session expunges the message; this one has not been told
    // yet, so its FETCH writes FLAGS, then the annotation lookup fails.
    let mut b = ImapConnection::login(server.imap, "alice", "secret");
    assert!(tagged(&b.run("b1 SELECT INBOX")).starts_with("b1 OK"));
    assert!(tagged(&b.run("b2 STORE 1 +FLAGS (\\Deleted)")).starts_with("b2 OK"));
    assert!(tagged(&b.run("b3 EXPUNGE")).starts_with("b3 OK"));

    // The half-built `* 1 FETCH (FLAGS (...) ` was written, then the
    // tagged NO inside it: a stream no client can parse. Now every line
    // is whole: an untagged line is a complete FETCH, and the tagged
    // response stands on its own line.
    a.send(b"a3 FETCH 1 (FLAGS ANNOTATION (/comment value))\r\n");
    let mut lines = Vec::new();
    while let Some(line) = a.read_response_line() {
        let done = line.starts_with("a3 ");
        lines.push(line);
        if done {
            break;
        }
    }
    for line in &lines {
        assert!(
            line.starts_with("a3 ")
                || (line.starts_with("* ") && !line.contains("a3 ") && {
                    let fetch = line.contains(" FETCH (");
                    !fetch || line.ends_with(')')
                }),
            "malformed line {line:?} in {lines:?}"
        );
    }
    // The FETCH gets its tagged answer and the session goes on.
    assert!(tagged(&lines).starts_with("a3 NO"), "{lines:?}");
    assert!(tagged(&a.run("a4 NOOP")).starts_with("a4 OK"));
}

#[test]
fn an_endless_sasl_line_before_login_ends_at_the_login_deadline() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.set_settings("imap", "preauth_timeout_seconds = 3\n");
    server.start();

    let mut s = TcpStream::connect(server.imap).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    read_until(&mut s, "* OK");
    s.write_all(b"s1 AUTHENTICATE PLAIN\r\n").unwrap();
    read_until(&mut s, "+");
    // What the server sends from now on, read as it comes.
    let mut reader = s.try_clone().expect("clone");
    let seen = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    // A SASL response over its limit that never ends: its rest was read
    // into memory outside the login deadline, for as long as it came.
    // The connection now gets BYE at the deadline (3 s).
    let started = Instant::now();
    let chunk = vec![b'A'; 64 * 1024];
    let mut closed_after = None;
    while started.elapsed() < Duration::from_secs(15) {
        if s.write_all(&chunk).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
    let seen = seen.join().expect("reader");
    assert!(seen.contains("* BYE"), "no BYE: {seen:?}");
    let closed_after = closed_after.expect("the server kept reading the line");
    assert!(closed_after < Duration::from_secs(12), "{closed_after:?}");
}

#[test]
fn a_client_that_never_reads_is_closed_at_the_login_deadline() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.set_settings("imap", "preauth_timeout_seconds = 3\n");
    server.start();

    // Pipelined CAPABILITY commands, none of the responses read: the
    // session blocked in its write for ever (not even the BYE at the login
    // deadline was bounded). Now the connection ends at the deadline,
    // which the client sees as its writes failing (reset / broken pipe)
    // rather than only waiting.
    let mut s = TcpStream::connect(server.imap).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let batch = b"c CAPABILITY\r\n".repeat(1000);
    let started = Instant::now();
    let ended = loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server still holds the connection"
        );
        match s.write_all(&batch) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => break e.kind(),
        }
    };
    assert!(
        matches!(
            ended,
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        "{ended:?}"
    );
    // Another client is served.
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    assert!(tagged(&c.run("n NOOP")).starts_with("n OK"));
}
