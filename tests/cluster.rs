//! Three `cpm-store serve` nodes sharing one PostgreSQL database and one
//! S3 bucket (issue 20, ARCHITECTURE.md "Several nodes"): what one node
//! commits, the others serve and announce; concurrent writers on every
//! node get distinct, increasing UIDs; a node killed mid-stream and a
//! PostgreSQL restart lose nothing acknowledged. The test script starts
//! PostgreSQL and moto_server (`CPM_TEST_POSTGRES_URL`,
//! `CPM_TEST_S3_ENDPOINT`); without them the tests say so and pass.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::nms::subscriber;
use e2e_tests::{cluster, require_tool, Server};

/// The three nodes, started.
fn started_cluster() -> Option<Vec<Server>> {
    let mut nodes = cluster(3)?;
    for node in &mut nodes {
        node.start();
    }
    Some(nodes)
}

/// A message of about `size` bytes whose subject is `subject`.
fn message(subject: &str, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: <sip:bob@example.com>\r\nTo: <sip:alice@example.com>\r\n\
         Subject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\r\n"
    )
    .into_bytes();
    let mut line = 0u64;
    while m.len() < size {
        m.extend_from_slice(format!("{subject} line {line:08}\r\n").as_bytes());
        line += 1;
    }
    m
}

/// A raw IMAP session that reports failures instead of panicking (a node
/// may be killed under it).
struct Writer {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
    next: u64,
}

impl Writer {
    /// Connects to `addr` and logs in as alice.
    fn login(addr: SocketAddr) -> std::io::Result<Writer> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut w = Writer {
            reader: BufReader::new(stream.try_clone()?),
            stream,
            next: 0,
        };
        w.line()?;
        let done = w.command(b"LOGIN alice s3cret\r\n")?;
        if !done.contains(" OK") {
            return Err(std::io::Error::other(done));
        }
        Ok(w)
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line)
    }

    /// Sends a command (`rest` after the tag) and returns its tagged line.
    fn command(&mut self, rest: &[u8]) -> std::io::Result<String> {
        self.next += 1;
        let tag = format!("w{}", self.next);
        self.stream.write_all(format!("{tag} ").as_bytes())?;
        self.stream.write_all(rest)?;
        loop {
            let line = self.line()?;
            if line.starts_with(&format!("{tag} ")) {
                return Ok(line);
            }
        }
    }

    /// APPENDs `bytes` to INBOX (LITERAL+): the tagged line.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<String> {
        let mut command = format!("APPEND INBOX {{{}+}}\r\n", bytes.len()).into_bytes();
        command.extend_from_slice(bytes);
        command.extend_from_slice(b"\r\n");
        self.command(&command)
    }
}

/// The UID of an `OK [APPENDUID v uid]` line.
fn appended_uid(line: &str) -> Option<u32> {
    let rest = line.split("[APPENDUID ").nth(1)?;
    rest.split([' ', ']']).nth(1)?.parse().ok()
}

/// Every message of alice's INBOX read on `addr`: UID to subject.
fn subjects(addr: SocketAddr) -> BTreeMap<u32, String> {
    let mut imap = ImapConnection::login(addr, "alice", "s3cret");
    imap.run("s SELECT INBOX");
    let lines = imap.run("f UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(tagged(&lines).contains("OK"), "{lines:?}");
    lines
        .iter()
        .filter(|l| l.starts_with("* ") && l.contains(" FETCH "))
        .map(|l| {
            let uid = l
                .split("UID ")
                .nth(1)
                .and_then(|r| r.split([' ', ')']).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no UID in {l}"));
            let subject = l
                .split("Subject: ")
                .nth(1)
                .and_then(|s| s.split("\r\n").next())
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|| panic!("no Subject in {l}"));
            (uid, subject)
        })
        .collect()
}

#[test]
fn an_append_on_node_1_reaches_idle_on_node_2_and_webdav_on_node_3() {
    let Some(nodes) = started_cluster() else {
        return;
    };
    // IDLE on node 2 before anything is stored.
    let mut idle = ImapConnection::login(nodes[1].imap, "alice", "s3cret");
    let selected = idle.run("s SELECT INBOX");
    assert!(selected.iter().any(|l| l == "* 0 EXISTS"), "{selected:?}");
    idle.send(b"i IDLE\r\n");
    assert_eq!(idle.read_response_line().as_deref(), Some("+ idling"));

    // 300 KB: a blob staged in a file and uploaded to S3.
    let bytes = message("cluster one", 300_000);
    let mut writer = Writer::login(nodes[0].imap).unwrap();
    let done = writer.append(&bytes).unwrap();
    let acknowledged = Instant::now();
    assert!(done.contains(" OK"), "{done}");
    assert_eq!(appended_uid(&done), Some(1), "{done}");

    let exists = idle.read_response_line();
    let seen_after = acknowledged.elapsed();
    assert_eq!(exists.as_deref(), Some("* 1 EXISTS"));
    assert!(
        seen_after < Duration::from_secs(1),
        "node 2 told its IDLE session {seen_after:?} after node 1's OK"
    );
    idle.send(b"DONE\r\n");
    let r = idle.read_until_tagged("i");
    assert!(tagged(&r).contains("OK"), "{r:?}");

    // Node 3 serves the same bytes over WebDAV.
    let url = format!("http://{}/dav/alice/INBOX/1.eml", nodes[2].webdav);
    let out = Command::new("curl")
        .args(["-s", "-f", "-u", "alice:s3cret", &url])
        .output()
        .expect("curl");
    assert!(out.status.success(), "GET {url} failed");
    assert!(
        out.stdout == bytes,
        "node 3's bytes differ from what node 1 stored"
    );
}

#[test]
fn eight_writers_over_three_nodes_get_distinct_increasing_uids_and_lose_nothing() {
    let Some(nodes) = started_cluster() else {
        return;
    };
    const PER_WRITER: usize = 25;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.imap).collect();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let addr = addrs[w % 3];
            std::thread::spawn(move || {
                let mut session = Writer::login(addr).unwrap();
                let mut uids = Vec::new();
                for i in 0..PER_WRITER {
                    let subject = format!("w{w}-{i}");
                    let done = session.append(&message(&subject, 2_000)).unwrap();
                    assert!(done.contains(" OK"), "{done}");
                    uids.push((appended_uid(&done).unwrap(), subject));
                }
                uids
            })
        })
        .collect();
    let mut all = BTreeMap::new();
    for writer in writers {
        let uids = writer.join().unwrap();
        // Each writer's UIDs strictly increase.
        assert!(uids.windows(2).all(|p| p[0].0 < p[1].0), "{uids:?}");
        for (uid, subject) in uids {
            assert!(all.insert(uid, subject).is_none(), "UID {uid} given twice");
        }
    }
    assert_eq!(all.len(), 8 * PER_WRITER);
    // Every node reads every message under the UID its APPEND was given.
    for addr in addrs {
        assert_eq!(subjects(addr), all, "on {addr}");
    }
}

/// A SIP MESSAGE depositing a CPIM chat message for alice in
/// conversation `conversation`, sent over UDP to `sip`: the status.
fn deposit(sip: SocketAddr, conversation: &str) -> u16 {
    let body = format!(
        "From: <sip:bob@example.com>\r\nTo: <sip:alice@example.com>\r\n\
         DateTime: 2026-12-01T10:00:00Z\r\nNS: imdn <urn:ietf:params:imdn>\r\n\
         imdn.Message-ID: {conversation}-1\r\n\r\nContent-Type: text/plain\r\n\r\nHello\r\n"
    );
    let request = format!(
        "MESSAGE sip:alice@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKc{conversation}\r\n\
         From: <sip:cs@example.com>;tag=t1\r\nTo: <sip:alice@example.com>\r\n\
         Call-ID: {conversation}@cluster\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
         Conversation-ID: {conversation}\r\nContent-Type: message/cpim\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = vec![0u8; 65_536];
    for _ in 0..5 {
        socket.send_to(request.as_bytes(), sip).unwrap();
        if let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            if let Some(code) = text
                .strip_prefix("SIP/2.0 ")
                .and_then(|r| r.get(..3))
                .and_then(|c| c.parse().ok())
            {
                if code >= 200 {
                    return code;
                }
            }
        }
    }
    panic!("no final answer from SIP on {sip}");
}

/// An NMS or Notification Channel request as alice on `node`: the status
/// and JSON body.
fn nms(node: &Server, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let mut args = vec![
        "-s".to_string(),
        "-u".into(),
        "alice:s3cret".into(),
        "-X".into(),
        method.into(),
        "-w".into(),
        "\n%{http_code}".into(),
    ];
    if let Some(body) = body {
        args.extend([
            "-H".into(),
            "Content-Type: application/json".into(),
            "--data-binary".into(),
            body.into(),
        ]);
    }
    args.push(format!("http://{}{path}", node.nms));
    let out = Command::new("curl").args(&args).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("a status line");
    (
        status.trim().parse().expect("a status"),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn a_sip_deposit_on_node_3_reaches_an_nms_long_poll_on_node_1() {
    require_tool("curl", "curl");
    let Some(nodes) = started_cluster() else {
        return;
    };
    // A client of node 1: a long-polling channel and a subscription to
    // alice's store delivered into it.
    let (status, made) = nms(
        &nodes[0],
        "POST",
        "/notificationchannel/v1/alice/channels",
        Some(
            r#"{"notificationChannel": {"applicationTag": "cluster", "channelType": "LongPolling",
               "channelData": {"maxNotifications": "10", "maxWaitTime": "20"}}}"#,
        ),
    );
    assert_eq!(status, 201, "{made}");
    let channel = &made["notificationChannel"];
    let poll = channel["channelData"]["channelURL"]
        .as_str()
        .unwrap()
        .split_once("/notificationchannel/")
        .map(|(_, p)| format!("/notificationchannel/{p}"))
        .unwrap();
    let callback = channel["callbackURL"].as_str().unwrap();
    let (status, sub) = nms(
        &nodes[0],
        "POST",
        "/nms/v1/cpm/alice/subscriptions",
        Some(&format!(
            r#"{{"nmsSubscription": {{"callbackReference": {{"notifyURL": "{callback}"}}, "duration": 3600}}}}"#
        )),
    );
    assert_eq!(status, 201, "{sub}");
    let node1 = nodes[0].nms;
    let waiting = std::thread::spawn(move || {
        let out = Command::new("curl")
            .args(["-s", "-u", "alice:s3cret", "-X", "POST"])
            .arg(format!("http://{node1}{poll}"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    assert_eq!(deposit(nodes[2].sip_udp, "conv-cluster"), 200);
    let notified = waiting.join().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "the long poll ended {:?} after the deposit",
        sent.elapsed()
    );
    assert!(
        notified.contains("changedObject") || notified.contains("changedFolder"),
        "node 1's long poll did not get node 3's deposit: {notified}"
    );
}

/// What one APPEND stream ends with: the UIDs and subjects acknowledged,
/// and how many writes failed.
type StreamOutcome = (Vec<(u32, String)>, usize);

/// Eight APPEND streams spread over `addrs` until `stop`.
fn append_streams(
    addrs: &[SocketAddr],
    stop: &Arc<AtomicBool>,
    prefix: &str,
) -> Vec<std::thread::JoinHandle<StreamOutcome>> {
    (0..8)
        .map(|w| {
            let (addr, stop, prefix) = (addrs[w % addrs.len()], stop.clone(), prefix.to_string());
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                let mut failed = 0;
                let mut session = None;
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    if session.is_none() {
                        session = Writer::login(addr).ok();
                        if session.is_none() {
                            failed += 1;
                            std::thread::sleep(Duration::from_millis(100));
                            continue;
                        }
                    }
                    let subject = format!("{prefix}-w{w}-{i}");
                    i += 1;
                    let result = session
                        .as_mut()
                        .map(|s| s.append(&message(&subject, 20_000)));
                    match result {
                        Some(Ok(done)) if done.contains(" OK") => {
                            acknowledged.push((appended_uid(&done).unwrap(), subject));
                        }
                        Some(Ok(_)) => {
                            failed += 1;
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        _ => {
                            failed += 1;
                            session = None;
                        }
                    }
                }
                (acknowledged, failed)
            })
        })
        .collect()
}

/// Checks that `read` holds every acknowledged message under its UID and
/// that no UID was given twice.
fn assert_kept(read: &BTreeMap<u32, String>, acknowledged: &[(u32, String)]) {
    let mut uids = BTreeSet::new();
    for (uid, subject) in acknowledged {
        assert!(uids.insert(*uid), "UID {uid} acknowledged twice");
        assert_eq!(
            read.get(uid),
            Some(subject),
            "acknowledged message {subject} (UID {uid}) is not there"
        );
    }
}

#[test]
fn a_node_killed_during_eight_append_streams_loses_nothing_acknowledged() {
    let Some(mut nodes) = started_cluster() else {
        return;
    };
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.imap).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let streams = append_streams(&addrs, &stop, "kill");
    std::thread::sleep(Duration::from_secs(2));
    let pid = nodes[0].pid().expect("node 1 runs");
    // SIGKILL: no shutdown, no flush.
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for s in streams {
        acknowledged.extend(s.join().unwrap().0);
    }
    assert!(acknowledged.len() > 20, "too few writes to tell anything");
    let _ = nodes[0].terminate();
    for addr in &addrs[1..] {
        let read = subjects(*addr);
        assert_kept(&read, &acknowledged);
    }
    // The survivors go on giving new, higher UIDs.
    let mut w = Writer::login(addrs[1]).unwrap();
    let done = w.append(&message("after the kill", 1_000)).unwrap();
    let uid = appended_uid(&done).unwrap();
    assert!(acknowledged.iter().all(|(u, _)| *u < uid), "{done}");
}

/// A PostgreSQL cluster of this test's own (scripts/postgres.sh), so that
/// restarting it disturbs no other test; stopped when dropped.
struct OwnPostgres {
    dir: tempfile::TempDir,
}

impl OwnPostgres {
    fn script(&self, action: &str) -> String {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(action)
            .arg(self.dir.path())
            .output()
            .expect("run scripts/postgres.sh");
        assert!(
            out.status.success(),
            "postgres.sh {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| self.script("stop"));
    }
}

#[test]
fn a_postgresql_restart_during_writes_is_unavailable_then_keeps_everything_acknowledged() {
    let Some(mut nodes) = cluster(2) else {
        return;
    };
    // The harness's database is on the shared test server: move both
    // nodes to a server of this test's own.
    let pg = OwnPostgres {
        dir: tempfile::Builder::new()
            .prefix("cpm-pg-restart")
            .tempdir_in("/tmp")
            .unwrap(),
    };
    let url = pg.script("start").replace("/postgres", "/cpm");
    let base = url.replace("/cpm", "/postgres");
    let created = Command::new("psql")
        .args([base.as_str(), "-q", "-c", "CREATE DATABASE cpm"])
        .status()
        .expect("psql");
    assert!(created.success());
    for node in &nodes {
        node.use_postgres(&url);
    }
    nodes[0].add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    for node in &mut nodes {
        node.start();
    }
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.imap).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let streams = append_streams(&addrs, &stop, "restart");
    std::thread::sleep(Duration::from_secs(2));
    pg.script("stop");
    // During the outage: a tagged NO (or a closed connection), never OK.
    let mut during = Writer::login(addrs[0]);
    if let Ok(w) = during.as_mut() {
        let answer = w.append(&message("during the outage", 1_000));
        if let Ok(line) = answer {
            assert!(line.contains(" NO"), "{line}");
        }
    }
    // The admin endpoint says so too.
    assert_ne!(
        admin_status(&nodes[0], "/healthz"),
        Some(200),
        "/healthz during the outage"
    );
    std::thread::sleep(Duration::from_secs(1));
    pg.script("start");
    // Writes resume within seconds of the server's return.
    let back = Instant::now();
    loop {
        if let Ok(mut w) = Writer::login(addrs[1]) {
            if let Ok(line) = w.append(&message("after the restart", 1_000)) {
                if line.contains(" OK") {
                    break;
                }
            }
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "writes did not resume after PostgreSQL came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    let mut failed = 0;
    for s in streams {
        let (a, f) = s.join().unwrap();
        acknowledged.extend(a);
        failed += f;
    }
    assert!(failed > 0, "the outage refused no write");
    for addr in &addrs {
        assert_kept(&subjects(*addr), &acknowledged);
    }
    drop(nodes);
}

/// The status of `GET path` on `node`'s admin endpoint, if it answers.
fn admin_status(node: &Server, path: &str) -> Option<u16> {
    use std::io::Read;
    let mut s = TcpStream::connect_timeout(&node.admin, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split(' ').nth(1)?.parse().ok()
}

#[test]
fn one_node_delivers_each_nms_notification_though_every_node_knows_the_subscription() {
    require_tool("curl", "curl");
    let Some(mut nodes) = started_cluster() else {
        return;
    };
    let (callback, received) = subscriber(204);
    let (status, sub) = nms(
        &nodes[0],
        "POST",
        "/nms/v1/cpm/alice/subscriptions",
        Some(&format!(
            r#"{{"nmsSubscription": {{"callbackReference": {{"notifyURL": "http://{callback}/cb"}}, "duration": 3600}}}}"#
        )),
    );
    assert_eq!(status, 201, "{sub}");
    // Nodes 2 and 3 restarted: each now runs a delivery task for it.
    for node in &mut nodes[1..] {
        node.terminate();
        node.start();
    }
    let mut writer = Writer::login(nodes[1].imap).unwrap();
    for i in 0..5 {
        let done = writer
            .append(&message(&format!("notified {i}"), 500))
            .unwrap();
        assert!(done.contains(" OK"), "{done}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let changed = |bodies: &[serde_json::Value]| -> usize {
        bodies
            .iter()
            .filter_map(|b| b["nmsEventList"]["nmsEvent"].as_array())
            .flatten()
            .filter(|e| e.get("changedObject").is_some())
            .count()
    };
    received.wait_for("every change notified", |lists| changed(lists) >= 5);
    // Time for a second node's duplicate to arrive, were there one.
    std::thread::sleep(Duration::from_secs(3));
    let bodies = received.lists();
    assert_eq!(changed(&bodies), 5, "a change notified twice: {bodies:#?}");
    let indexes: Vec<u64> = bodies
        .iter()
        .filter_map(|b| b["nmsEventList"]["index"].as_u64())
        .collect();
    assert_eq!(indexes, (1..=indexes.len() as u64).collect::<Vec<_>>());
}

#[test]
fn a_message_is_recent_to_one_session_whichever_node_it_selects_on() {
    let Some(nodes) = started_cluster() else {
        return;
    };
    let mut writer = Writer::login(nodes[0].imap).unwrap();
    let done = writer.append(&message("recent", 500)).unwrap();
    assert!(done.contains(" OK"), "{done}");
    let recent = |node: &Server| -> String {
        let mut imap = ImapConnection::login(node.imap, "alice", "s3cret");
        let lines = imap.run("s SELECT INBOX");
        lines
            .into_iter()
            .find(|l| l.ends_with(" RECENT"))
            .unwrap_or_default()
    };
    // RFC 3501 2.3.2: recent to the first session that selects it, and
    // to no other, on any node.
    assert_eq!(recent(&nodes[1]), "* 1 RECENT");
    assert_eq!(recent(&nodes[2]), "* 0 RECENT");
    assert_eq!(recent(&nodes[0]), "* 0 RECENT");
}

#[test]
fn a_password_changed_through_one_node_is_the_only_one_any_node_accepts() {
    let Some(nodes) = started_cluster() else {
        return;
    };
    // Node 3 has just checked (and cached) the old password.
    let mut imap = ImapConnection::connect(nodes[2].imap);
    let r = imap.run("a LOGIN alice s3cret");
    assert!(tagged(&r).starts_with("a OK"), "{r:?}");
    let out = nodes[0].command(
        &["account", "passwd", "alice", "--password-stdin"],
        "n3w-secret\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for node in &nodes {
        let mut imap = ImapConnection::connect(node.imap);
        let old = imap.run("b LOGIN alice s3cret");
        assert!(
            tagged(&old).starts_with("b NO"),
            "old password on {}: {old:?}",
            node.imap
        );
        let new = imap.run("c LOGIN alice n3w-secret");
        assert!(
            tagged(&new).starts_with("c OK"),
            "new password on {}: {new:?}",
            node.imap
        );
    }
}
