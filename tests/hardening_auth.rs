//! Issue 13, logins: one throttle for every protocol, no account
//! enumeration by timing or by SCRAM salts, and password checks that
//! cannot exhaust memory. Each from the client's side, against the real
//! binary.

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;

/// Appends a `[auth]` section with `settings` to the server's config.
fn auth_settings(server: &Server, settings: &str) {
    let mut config = std::fs::read_to_string(server.config()).unwrap();
    config.push_str(&format!("\n[auth]\n{settings}"));
    std::fs::write(server.config(), config).unwrap();
}

/// A PROPFIND (Depth 0) of `/dav/{user}/` with Basic credentials, sent
/// from the local address `from`: the status and any Retry-After.
fn propfind(server: &Server, user: &str, password: &str, from: &str) -> (u16, Option<u64>) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", "--interface", from])
        .args(["-u", &format!("{user}:{password}")])
        .args(["-X", "PROPFIND", "-H", "Depth: 0"])
        .arg(format!("http://{}/dav/{user}/", server.webdav))
        .output()
        .expect("curl");
    let head = String::from_utf8_lossy(&out.stdout).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head:?}"));
    let retry_after = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().parse().ok())?
    });
    (status, retry_after)
}

/// An IMAP connection, retried for a few seconds: after a start, `/healthz`
/// may answer before the IMAP listener is bound.
fn connect(server: &Server) -> ImapConnection {
    for _ in 0..100 {
        if std::net::TcpStream::connect(server.imap).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ImapConnection::connect(server.imap)
}

/// LOGIN on a new connection: the tagged response and how long it took.
fn timed_login(server: &Server, user: &str, password: &str) -> (String, Duration) {
    let mut c = connect(server);
    let start = Instant::now();
    let r = c.run(&format!("L LOGIN {user} {password}"));
    (tagged(&r).to_string(), start.elapsed())
}

#[test]
fn wrong_webdav_passwords_throttle_the_address_and_the_account_in_every_protocol() {
    let mut server = Server::new();
    auth_settings(
        &server,
        "login_throttle_max_seconds = 2\nlogin_failure_window_seconds = 5\n",
    );
    server.add_account("alice", "secret");
    server.add_account("bob", "bobpw");
    server.start();

    // 20 wrong passwords from one address: a few are checked (401), the
    // rest get 429 with a Retry-After of at most the configured 2 s.
    let mut checked = 0;
    let mut throttled = 0;
    for i in 0..20 {
        match propfind(&server, "alice", &format!("wrong{i}"), "127.0.0.1") {
            (401, _) => checked += 1,
            (429, Some(after)) => {
                assert!((1..=2).contains(&after), "Retry-After {after}");
                throttled += 1;
            }
            other => panic!("attempt {i}: {other:?}"),
        }
    }
    assert!((3..=8).contains(&checked), "{checked} checked");
    assert!(throttled >= 12, "{throttled} throttled");

    // IMAP LOGIN for that account from that address is throttled too:
    // each wrong attempt waits for its turn, the delay now at its 2 s cap.
    let (first, _) = timed_login(&server, "alice", "wrong-imap");
    assert!(first.starts_with("L NO"), "{first}");
    let (second, took) = timed_login(&server, "alice", "wrong-imap-2");
    assert!(second.starts_with("L NO"), "{second}");
    assert!(
        took >= Duration::from_millis(1500),
        "second LOGIN took {took:?}"
    );

    // The account is throttled from another address as well (its own key),
    // while another account from that address is not.
    assert_eq!(propfind(&server, "alice", "secret", "127.0.0.2").0, 429);
    assert_eq!(propfind(&server, "bob", "bobpw", "127.0.0.2").0, 207);

    // After the window, the right password works in both protocols at once.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        propfind(&server, "alice", "secret", "127.0.0.1"),
        (207, None)
    );
    let (ok, took) = timed_login(&server, "alice", "secret");
    assert!(ok.starts_with("L OK"), "{ok}");
    assert!(took < Duration::from_secs(1), "LOGIN took {took:?}");
}

/// Starts SCRAM-SHA-256 for `user` and returns the server-first-message's
/// salt and iteration count, then cancels.
fn scram_salt(server: &Server, user: &str) -> (String, u32) {
    let mut c = connect(server);
    let first = B64.encode(format!("n,,n={user},r=clientnonce123"));
    c.send(format!("S AUTHENTICATE SCRAM-SHA-256 {first}\r\n").as_bytes());
    let line = c.read_response_line().expect("challenge");
    let challenge = line.strip_prefix("+ ").unwrap_or_else(|| panic!("{line}"));
    let server_first = String::from_utf8(B64.decode(challenge).unwrap()).unwrap();
    c.send(b"*\r\n");
    let done = c.read_until_tagged("S");
    assert!(tagged(&done).starts_with("S BAD"), "{done:?}");
    let attr = |name: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(name))
            .unwrap_or_else(|| panic!("{server_first}"))
            .to_string()
    };
    (attr("s="), attr("i=").parse().unwrap())
}

#[test]
fn unknown_users_look_like_real_ones_to_scram_and_to_a_stopwatch() {
    let mut server = Server::new();
    // No throttling here: every attempt below is a full password check.
    auth_settings(&server, "login_failures_before_throttle = 1000\n");
    server.add_account("alice", "secret");
    server.start();

    let (real_salt, real_iterations) = scram_salt(&server, "alice");
    let (salt, iterations) = scram_salt(&server, "nobody");
    assert_eq!(scram_salt(&server, "nobody"), (salt.clone(), iterations));
    assert_eq!(iterations, real_iterations);
    assert_eq!(salt.len(), real_salt.len());
    assert_ne!(salt, scram_salt(&server, "nobody2").0);

    // The same salt after a restart (the server secret is kept).
    server.terminate();
    server.start();
    assert_eq!(scram_salt(&server, "nobody"), (salt, iterations));

    // LOGIN with a wrong password takes as long for an unknown user as for
    // a known one (the median of five each).
    let median = |user: &str| {
        let mut times: Vec<Duration> = (0..5)
            .map(|i| {
                let (r, took) = timed_login(&server, user, &format!("wrong{i}"));
                assert!(r.starts_with("L NO [AUTHENTICATIONFAILED]"), "{r}");
                took
            })
            .collect();
        times.sort();
        times[2]
    };
    let known = median("alice");
    let unknown = median("nobody");
    eprintln!("wrong LOGIN: known user {known:?}, unknown user {unknown:?}");
    assert!(
        known >= Duration::from_millis(5) && unknown >= Duration::from_millis(5),
        "known {known:?}, unknown {unknown:?}"
    );
    assert!(
        unknown * 3 >= known && known * 3 >= unknown,
        "known {known:?}, unknown {unknown:?}"
    );
}

/// LOGIN alice on a raw connection that waits up to two minutes for the
/// answer (200 queued Argon2 checks take a while on a loaded 2-core box);
/// the tagged response.
fn raw_login(addr: std::net::SocketAddr, password: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).expect("greeting");
    write!(stream, "L LOGIN alice {password}\r\n").unwrap();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return "closed".into();
        }
        if line.starts_with("L ") {
            return line.trim_end().to_string();
        }
    }
}

#[test]
fn fifty_concurrent_first_logins_from_one_address_all_succeed() {
    // Default throttle settings (3 failures). Fifty clients behind one
    // address (a carrier-grade NAT, or one client's many connections)
    // log in at once with the right password, none cached yet: nothing
    // has failed there, so none is refused for being many (Dovecot's
    // auth penalty counts failures only). The per-account session cap
    // (20 by default) is another rule: each client here closes as soon as
    // it has its answer, but how many sessions overlap depends on how
    // fast logins are (slower on PostgreSQL), so the cap is lifted.
    let mut server = Server::new();
    server.set_settings("imap", "max_connections_per_account = 100\n");
    server.add_account("alice", "secret");
    server.start();
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let addr = server.imap;
            std::thread::spawn(move || raw_login(addr, "secret"))
        })
        .collect();
    let answers: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let ok = answers.iter().filter(|r| r.starts_with("L OK")).count();
    assert_eq!(ok, 50, "{answers:?}");
    // Guessing is still throttled: past three failures each further
    // attempt waits a delay step (1 s) for its turn.
    for i in 0..4 {
        let r = raw_login(server.imap, &format!("wrong{i}"));
        assert!(r.starts_with("L NO [AUTHENTICATIONFAILED]"), "{r}");
    }
    let (r, took) = timed_login(&server, "alice", "wrong4");
    assert!(
        r.starts_with("L NO") && took >= Duration::from_millis(500),
        "{r} after {took:?}"
    );
}

#[test]
fn two_hundred_concurrent_wrong_logins_keep_memory_bounded() {
    let mut server = Server::new();
    // Every attempt reaches Argon2 (no throttling), and none gives up
    // waiting for a slot.
    auth_settings(
        &server,
        "login_failures_before_throttle = 1000\npassword_check_wait_seconds = 120\n",
    );
    server.add_account("alice", "secret");
    server.start();
    // One login first, so that what the store keeps for good (the check
    // buffers, the login cache) counts in the start.
    let (ok, _) = timed_login(&server, "alice", "secret");
    assert!(ok.starts_with("L OK"), "{ok}");
    let start_kb = server.proc_status_kb("VmRSS").unwrap();

    let started = Instant::now();
    let clients: Vec<_> = (0..200)
        .map(|i| {
            let addr = server.imap;
            std::thread::spawn(move || raw_login(addr, &format!("wrong{i}")))
        })
        .collect();
    let mut peak_kb = start_kb;
    while clients.iter().any(|c| !c.is_finished()) {
        peak_kb = peak_kb.max(server.proc_status_kb("VmRSS").unwrap_or(0));
        assert!(started.elapsed() < Duration::from_secs(150), "logins hang");
        std::thread::sleep(Duration::from_millis(20));
    }
    for c in clients {
        let r = c.join().unwrap();
        assert!(r.starts_with("L NO [AUTHENTICATIONFAILED]"), "{r}");
    }
    std::thread::sleep(Duration::from_secs(1));
    let after_kb = server.proc_status_kb("VmRSS").unwrap();
    eprintln!(
        "RSS: start {} MiB, peak {} MiB, after {} MiB; 200 logins in {:?}",
        start_kb / 1024,
        peak_kb / 1024,
        after_kb / 1024,
        started.elapsed()
    );
    assert!(peak_kb < 300 * 1024, "peak RSS {} MiB", peak_kb / 1024);
    assert!(
        after_kb < start_kb + 60 * 1024,
        "RSS after {} MiB, start {} MiB",
        after_kb / 1024,
        start_kb / 1024
    );
    // The server still logs in the right password.
    let (ok, _) = timed_login(&server, "alice", "secret");
    assert!(ok.starts_with("L OK"), "{ok}");
}

#[test]
fn logins_that_find_every_password_check_busy_get_a_temporary_failure() {
    let mut server = Server::new();
    auth_settings(
        &server,
        "login_failures_before_throttle = 1000
max_concurrent_password_checks = 1
\
         password_check_wait_seconds = 1
",
    );
    server.add_account("alice", "secret");
    server.start();
    const CLIENTS: usize = 240;
    // 240 wrong LOGINs at once through one check slot (an Argon2 check
    // takes 5 ms or more on any machine this runs on, so the queue holds
    // more than a second of work): those that wait longer than a second
    // are answered NO [UNAVAILABLE], the others NO [AUTHENTICATIONFAILED];
    // nobody waits for ever. (60 were not enough where a check takes
    // 15 ms: every one was served within the second.)
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let addr = server.imap;
            std::thread::spawn(move || raw_login(addr, &format!("wrong{i}")))
        })
        .collect();
    let answers: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let busy = answers
        .iter()
        .filter(|r| r.starts_with("L NO [UNAVAILABLE]"))
        .count();
    let failed = answers
        .iter()
        .filter(|r| r.starts_with("L NO [AUTHENTICATIONFAILED]"))
        .count();
    assert_eq!(busy + failed, CLIENTS, "{answers:?}");
    assert!(busy >= 1 && failed >= 1, "{answers:?}");
    // The same over WebDAV: 503 with Retry-After.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let server_dav = server.webdav;
            std::thread::spawn(move || {
                let out = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-D", "-"])
                    .args(["-u", &format!("alice:wrong{i}")])
                    .args(["-X", "PROPFIND", "-H", "Depth: 0"])
                    .arg(format!("http://{server_dav}/dav/alice/"))
                    .output()
                    .expect("curl");
                String::from_utf8_lossy(&out.stdout).to_ascii_lowercase()
            })
        })
        .collect();
    let heads: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let unavailable = heads
        .iter()
        .filter(|h| h.starts_with("http/1.1 503") && h.contains("retry-after: 1"))
        .count();
    let unauthorized = heads
        .iter()
        .filter(|h| h.starts_with("http/1.1 401"))
        .count();
    assert_eq!(unavailable + unauthorized, CLIENTS, "{heads:?}");
    assert!(unavailable >= 1, "{heads:?}");
    // Once the queue is gone, the right password works.
    let (ok, _) = timed_login(&server, "alice", "secret");
    assert!(ok.starts_with("L OK"), "{ok}");
}

/// A MESSAGE with a digest answer for `username` that is wrong (any
/// response that is not the right hash); the agent's status line and its
/// Retry-After.
fn wrong_digest(server: &Server, username: &str) -> (String, Option<u64>) {
    let branch = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let body = "hello";
    let message = format!(
        "MESSAGE sip:alice@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{branch}\r\n\
         From: <sip:cs@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n\
         Call-ID: {branch}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
         Authorization: Digest username=\"{username}\", realm=\"cpm-store\", \
         nonce=\"0.00\", uri=\"sip:alice@example.com\", algorithm=MD5, \
         response=\"00000000000000000000000000000000\"\r\n\
         Content-Type: message/cpim\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket.send_to(message.as_bytes(), server.sip_udp).unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = socket.recv(&mut buf).expect("SIP answer");
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    let status = text.lines().next().unwrap_or_default().to_string();
    let retry_after = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().parse().ok())?
    });
    (status, retry_after)
}

#[test]
fn repeated_wrong_sip_digest_answers_are_throttled_and_logged() {
    let mut server = Server::new();
    server.set_settings("sip", "trusted_peers = []\n");
    let mut config = std::fs::read_to_string(server.config()).unwrap();
    config.push_str(
        "\n[[sip.digest]]\nusername = \"cs1\"\n\
         ha1_md5 = \"862d1ca1fe9e925ef0d455896de43416\"\n",
    );
    std::fs::write(server.config(), config).unwrap();
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    let log = server.start_logged();

    let answers: Vec<(String, Option<u64>)> =
        (0..8).map(|_| wrong_digest(&server, "cs1")).collect();
    assert!(answers[0].0.starts_with("SIP/2.0 401"), "{answers:?}");
    let throttled: Vec<_> = answers
        .iter()
        .filter(|(status, _)| status.starts_with("SIP/2.0 403"))
        .collect();
    assert!(throttled.len() >= 3, "{answers:?}");
    assert!(
        throttled
            .iter()
            .all(|(_, after)| after.is_some_and(|s| s >= 1)),
        "{answers:?}"
    );
    // The address is throttled for IMAP as well: the store's one throttle.
    let (r, took) = timed_login(&server, "alice", "s3cret");
    assert!(
        took >= Duration::from_millis(300) || r.contains("UNAVAILABLE"),
        "{r} {took:?}"
    );

    let text = std::fs::read_to_string(&log).unwrap();
    let failed = text
        .lines()
        .filter(|l| l.contains("login failed") && l.contains("sip") && l.contains("cs1"))
        .count();
    assert!(failed >= 3, "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("login throttled") && l.contains("127.0.0.1") && l.contains("cs1")),
        "{text}"
    );
}
