//! NMS strict synchronization (TS 5.1.4, 6.17–6.19, issue 18) against the
//! real binary: a subscriber (a small HTTP server in the test) is told of
//! changes made over NMS, IMAP and WebDAV, with `index` counting 1, 2, …
//! and `lastModSeq` growing per object; a subscriber that was away
//! resubscribes with its last `restartToken` and gets exactly what it
//! missed; a token from before the account was created again gets
//! `resetBox`.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::nms::subscriber;
use e2e_tests::{require_tool, Server};
use serde_json::{json, Value};

const ALICE: &str = "alice:s3cret";
const BOX: &str = "/nms/v1/cpm/alice";

/// One request with curl as Alice to `path` below the server root; the
/// status and the JSON body (`Null` when there is none).
fn request(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-u", ALICE, "-X", method, "-w", "\n%{http_code}"]);
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(b.to_string());
    }
    let out = cmd
        .arg(format!("http://{}{path}", server.nms))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    let value = serde_json::from_str(body).unwrap_or(Value::Null);
    (status.trim().parse().expect("status"), value)
}

/// One NMS request (the path below the server root).
fn nms(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    request(server, method, path, body)
}

fn subscribe(server: &Server, to: SocketAddr, restart_token: Option<&str>) -> Value {
    let mut body = json!({"nmsSubscription": {
        "callbackReference": {"notifyURL": format!("http://{to}/cb"), "callbackData": "abcd"},
        "duration": 3600,
    }});
    if let Some(t) = restart_token {
        body["nmsSubscription"]["restartToken"] = json!(t);
    }
    let (status, answer) = nms(server, "POST", &format!("{BOX}/subscriptions"), Some(&body));
    assert_eq!(status, 201, "{answer}");
    answer["nmsSubscription"].clone()
}

/// Every event of the lists, in order.
fn events(lists: &[Value]) -> Vec<Value> {
    lists
        .iter()
        .flat_map(|l| {
            l["nmsEventList"]["nmsEvent"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e.get(kind).is_some()).count()
}

/// Appends `n` messages to INBOX, 100 to a MULTIAPPEND (RFC 3502).
fn append(imap: &mut ImapConnection, n: usize, subject: &str) {
    let mut i = 0;
    while i < n {
        let batch = (n - i).min(100);
        let mut command = format!("A{i} APPEND INBOX");
        for k in i..i + batch {
            let message =
                format!("Subject: {subject} {k}\r\nFrom: <tel:+1555>\r\n\r\nbody {k}\r\n");
            command.push_str(&format!(" {{{}+}}\r\n{message}", message.len()));
        }
        command.push_str("\r\n");
        imap.send(command.as_bytes());
        let r = imap.read_until_tagged(&format!("A{i}"));
        assert!(tagged(&r).contains("OK"), "{r:?}");
        i += batch;
    }
}

#[test]
fn a_subscriber_is_told_every_change_and_catches_up_by_restart_token() {
    require_tool("curl", "curl");
    require_tool("sipp", "sip-tester");
    let mut server = Server::new();
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    server.start();
    let (to, received) = subscriber(204);
    let first = subscribe(&server, to, None);
    assert_eq!(first["index"], 0);
    assert!(first["resourceURL"]
        .as_str()
        .unwrap()
        .contains("/subscriptions/"));
    let (status, list) = nms(&server, "GET", &format!("{BOX}/subscriptions"), None);
    assert_eq!(status, 200);
    assert_eq!(
        list["nmsSubscriptionList"]["subscription"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Changes over IMAP, NMS and WebDAV.
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    append(&mut imap, 3, "over IMAP");
    imap.run("s SELECT INBOX");
    imap.run("f STORE 1 +FLAGS (\\Seen)");
    let (status, _) = nms(
        &server,
        "POST",
        &format!("{BOX}/folders"),
        Some(&json!({"folder": {"parentFolderPath": "/", "name": "conv-7"}})),
    );
    assert_eq!(status, 201);
    let put = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-u", ALICE, "-T", "-"])
        .arg(format!(
            "http://{}/dav/alice/conv-7/note.txt",
            server.webdav
        ))
        .output()
        .expect("curl");
    assert!(put.status.success());
    imap.run("x EXPUNGE");
    imap.run("d STORE 2 +FLAGS (\\Deleted)");
    imap.run("e EXPUNGE");
    // And a deposit over SIP (the Conversation Server).
    let deposit = Command::new("sipp")
        .arg("-sf")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp/deposit.xml"))
        .args([
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout",
            "60s",
            "-m",
            "1",
            "-t",
            "u1",
        ])
        .args(["-key", "conv", "conv-sub"])
        .arg(server.sip_udp.to_string())
        .args(["-p", &e2e_tests::free_addr().port().to_string()])
        .output()
        .expect("sipp");
    assert!(
        deposit.status.success(),
        "{}",
        String::from_utf8_lossy(&deposit.stdout)
    );

    let lists = received.wait_for("the changes", |lists| {
        let e = events(lists);
        let deposited = e.iter().any(|e| {
            e["changedObject"]["correlationId"]
                .as_str()
                .is_some_and(|c| c.starts_with("conv-sub"))
        });
        count(&e, "deletedObject") >= 1 && count(&e, "changedFolder") >= 2 && deposited
    });
    // index counts 1, 2, … with no gap; callbackData comes back.
    for (i, l) in lists.iter().enumerate() {
        assert_eq!(l["nmsEventList"]["index"], json!(i + 1), "{l}");
        assert_eq!(l["nmsEventList"]["callbackData"], "abcd");
        assert!(l["nmsEventList"]["restartToken"].is_string());
    }
    // lastModSeq grows for every object.
    let mut last: std::collections::HashMap<String, u64> = Default::default();
    for e in events(&lists) {
        let item = e
            .as_object()
            .and_then(|o| o.values().next())
            .cloned()
            .unwrap_or_default();
        let (Some(url), Some(m)) = (item["resourceURL"].as_str(), item["lastModSeq"].as_u64())
        else {
            continue;
        };
        if let Some(before) = last.insert(url.to_string(), m) {
            assert!(m > before, "{url}: {before} then {m}");
        }
    }
    let token = lists.last().unwrap()["nmsEventList"]["restartToken"]
        .as_str()
        .unwrap()
        .to_string();

    // Away: the subscription is deleted, 1,000 objects arrive meanwhile.
    let id = first["resourceURL"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (status, _) = nms(
        &server,
        "DELETE",
        &format!("{BOX}/subscriptions/{id}"),
        None,
    );
    assert_eq!(status, 204);
    append(&mut imap, 1000, "while away");
    // Back with the last token: exactly the 1,000 missed, then live.
    let (to2, again) = subscriber(204);
    let back = subscribe(&server, to2, Some(&token));
    assert_eq!(back["index"], 0);
    let lists = again.wait_for("the replay", |lists| {
        count(&events(lists), "changedObject") >= 1000
    });
    let replayed = events(&lists);
    assert_eq!(count(&replayed, "changedObject"), 1000);
    let distinct: std::collections::BTreeSet<&str> = replayed
        .iter()
        .filter_map(|e| e["changedObject"]["resourceURL"].as_str())
        .collect();
    assert_eq!(distinct.len(), 1000, "each missed object once");
    assert_eq!(count(&replayed, "resetBox"), 0);
    append(&mut imap, 1, "live again");
    again.wait_for("the live change", |lists| {
        count(&events(lists), "changedObject") == 1001
    });
    for (i, l) in again.lists().iter().enumerate() {
        assert_eq!(l["nmsEventList"]["index"], json!(i + 1));
    }
    drop(imap);

    // The account created again: the old token names another epoch.
    server.command(&["account", "remove", "alice"], "");
    server.add_account("alice", "s3cret");
    let (to3, reset) = subscriber(204);
    subscribe(&server, to3, Some(&token));
    let lists = reset.wait_for("resetBox", |lists| !lists.is_empty());
    assert!(events(&lists)[0].get("resetBox").is_some(), "{lists:#?}");
}

#[test]
fn a_callback_answering_410_ends_its_subscription() {
    let mut server = Server::new();
    server.add_account("alice", "s3cret");
    server.start();
    let (to, received) = subscriber(410);
    let s = subscribe(&server, to, None);
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    append(&mut imap, 1, "one");
    received.wait_for("a delivery", |l| !l.is_empty());
    let id = s["resourceURL"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let start = Instant::now();
    loop {
        let (status, answer) = nms(&server, "GET", &format!("{BOX}/subscriptions/{id}"), None);
        if status == 404 {
            assert_eq!(
                answer["requestError"]["serviceException"]["messageId"],
                "SVC0004"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still there: {answer}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One Notification Channel request (`path` below Alice's `/channels`).
fn channel(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    request(
        server,
        method,
        &format!("/notificationchannel/v1/alice/channels{path}"),
        body,
    )
}

/// A long poll of the channel URL `path` in a thread: its status and
/// body when it ends.
fn poll_in_background(server: &Server, path: &str) -> std::thread::JoinHandle<(u16, Value)> {
    let (nms_addr, path) = (server.nms, path.to_string());
    std::thread::spawn(move || {
        let out = Command::new("curl")
            .args(["-s", "-u", ALICE, "-X", "POST", "-w", "\n%{http_code}"])
            .arg(format!(
                "http://{nms_addr}/notificationchannel/v1/alice/channels{path}"
            ))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').expect("status line");
        (
            status.trim().parse().expect("status"),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    })
}

/// The path below `/channels` of a channel's absolute URL.
fn below_channels(url: &str) -> String {
    url.split("/channels")
        .nth(1)
        .expect("a channel URL")
        .to_string()
}

#[test]
fn an_rcs_client_long_polls_its_channel_for_nms_notifications() {
    require_tool("curl", "curl");
    let mut server = Server::new();
    server.add_account("alice", "s3cret");
    server.start();
    // The flow of a deployed RCS client: a channel, then a subscription
    // whose notifyURL is the channel's callbackURL.
    let (status, made) = channel(
        &server,
        "POST",
        "",
        Some(&json!({"notificationChannel": {
            "applicationTag": "myApp", "channelType": "LongPolling", "clientCorrelator": "c-1",
            "channelData": {"maxNotifications": "1", "maxWaitTime": "2"}, "channelLifetime": "86400"}})),
    );
    assert_eq!(status, 201, "{made}");
    let ch = made["notificationChannel"].clone();
    assert_eq!(ch["channelLifetime"], json!(86400));
    let poll_path = below_channels(ch["channelData"]["channelURL"].as_str().unwrap());
    let callback = ch["callbackURL"].as_str().unwrap().to_string();
    let body = json!({"nmsSubscription": {
        "callbackReference": {"notifyURL": callback}, "duration": 86400}});
    let (status, _) = nms(
        &server,
        "POST",
        &format!("{BOX}/subscriptions"),
        Some(&body),
    );
    assert_eq!(status, 201);
    // Nothing yet: the poll ends empty after maxWaitTime.
    let (status, empty) = channel(
        &server,
        "POST",
        &poll_path,
        Some(&json!({"longPollingRequestParameters": null})),
    );
    assert_eq!(status, 200);
    assert_eq!(empty, json!({"notificationList": []}));
    // A poll waiting when a message arrives gets it.
    let waiting = poll_in_background(&server, &poll_path);
    std::thread::sleep(Duration::from_millis(300));
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    append(&mut imap, 3, "chat");
    let (status, first) = waiting.join().unwrap();
    assert_eq!(status, 200);
    let mut lists = first["notificationList"].as_array().cloned().unwrap();
    assert_eq!(lists.len(), 1, "maxNotifications 1: {first}");
    // The rest by polling again (one list a poll: maxNotifications 1),
    // reordered by index, the restartToken kept.
    let changed = |lists: &[Value]| count(&events(lists), "changedObject");
    for _ in 0..10 {
        if changed(&lists) >= 3 {
            break;
        }
        let (status, more) = channel(&server, "POST", &poll_path, None);
        assert_eq!(status, 200);
        let more = more["notificationList"].as_array().cloned().unwrap();
        assert!(more.len() <= 1, "maxNotifications 1: {more:?}");
        lists.extend(more);
    }
    assert_eq!(changed(&lists), 3, "{lists:#?}");
    lists.sort_by_key(|l| l["nmsEventList"]["index"].as_u64());
    let indexes: Vec<u64> = lists
        .iter()
        .filter_map(|l| l["nmsEventList"]["index"].as_u64())
        .collect();
    assert_eq!(indexes, (1..=lists.len() as u64).collect::<Vec<_>>());
    assert!(lists.last().unwrap()["nmsEventList"]["restartToken"].is_string());
    // The lifetime, refreshed.
    let id = below_channels(ch["resourceURL"].as_str().unwrap());
    let wanted = json!({"notificationChannelLifetime": {"channelLifetime": "3600"}});
    let (status, refreshed) = channel(
        &server,
        "PUT",
        &format!("{id}/channelLifetime"),
        Some(&wanted),
    );
    assert_eq!(status, 200);
    assert_eq!(
        refreshed["notificationChannelLifetime"]["channelLifetime"],
        json!(3600)
    );
    let (_, now) = channel(&server, "GET", &format!("{id}/channelLifetime"), None);
    let left = now["notificationChannelLifetime"]["channelLifetime"]
        .as_u64()
        .unwrap();
    assert!((3590..=3600).contains(&left), "{now}");
    // A second poll ends the first with SVC1012; deleting the channel
    // ends an open poll with 404.
    let first_poll = poll_in_background(&server, &poll_path);
    std::thread::sleep(Duration::from_millis(300));
    let second_poll = poll_in_background(&server, &poll_path);
    let (status, ended) = first_poll.join().unwrap();
    assert_eq!(status, 409);
    assert_eq!(
        ended["requestError"]["serviceException"]["messageId"],
        "SVC1012"
    );
    let (status, _) = channel(&server, "DELETE", &id, None);
    assert_eq!(status, 204);
    let (status, _) = second_poll.join().unwrap();
    assert_eq!(status, 404);
    // The lifetime resource, and the channel gone from the list.
    let (status, list) = channel(&server, "GET", "", None);
    assert_eq!(status, 200);
    assert_eq!(
        list["notificationChannelList"]["notificationChannel"],
        json!([])
    );
    let (status, _) = channel(&server, "GET", &format!("{id}/channelLifetime"), None);
    assert_eq!(status, 404);
}

#[test]
fn a_websocket_channel_pushes_nms_notifications() {
    require_tool("curl", "curl");
    let mut server = Server::new();
    server.add_account("alice", "s3cret");
    server.start();
    let (status, made) = channel(
        &server,
        "POST",
        "",
        Some(
            &json!({"notificationChannel": {"channelType": "WebSockets", "channelLifetime": 600}}),
        ),
    );
    assert_eq!(status, 201, "{made}");
    let ch = made["notificationChannel"].clone();
    let url = ch["channelData"]["channelURL"]
        .as_str()
        .unwrap()
        .replace("http://", "ws://");
    let body = json!({"nmsSubscription": {
        "callbackReference": {"notifyURL": ch["callbackURL"]}, "duration": 600}});
    let (status, _) = nms(
        &server,
        "POST",
        &format!("{BOX}/subscriptions"),
        Some(&body),
    );
    assert_eq!(status, 201);
    // RFC 6455 handshake with Basic credentials.
    use tungstenite::client::IntoClientRequest;
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "Authorization",
        format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ALICE)
        )
        .parse()
        .unwrap(),
    );
    let stream = std::net::TcpStream::connect(server.nms).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (mut socket, response) = tungstenite::client(request, stream).expect("WebSocket handshake");
    assert_eq!(response.status().as_u16(), 101);
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    append(&mut imap, 2, "pushed");
    let mut events = Vec::new();
    while events.len() < 2 {
        let frame = socket.read().expect("a frame");
        let text = frame.into_text().expect("a text frame");
        let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
        for item in value["notificationList"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            events.extend(
                item["nmsEventList"]["nmsEvent"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    assert_eq!(count(&events, "changedObject"), 2, "{events:#?}");
    // No credentials, no socket.
    let plain = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Connection: Upgrade",
        ])
        .args([
            "-H",
            "Upgrade: websocket",
            "-H",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ])
        .args(["-H", "Sec-WebSocket-Version: 13"])
        .arg(ch["channelData"]["channelURL"].as_str().unwrap())
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "401");
}

/// The `resourceURL`s of a search answer's objects (or object references).
fn urls_of(answer: &Value, list: &str, item: &str) -> Vec<String> {
    answer[list][item]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["resourceURL"].as_str().map(str::to_string))
        .collect()
}

/// Every object CreatedObjects lists after `cursor`, paging with
/// `cursor`; and the creationCursor to keep. `between` runs after each
/// page (changes made while the client synchronizes).
fn created_since(
    server: &Server,
    cursor: &str,
    mut between: impl FnMut(usize),
) -> (Vec<String>, String) {
    let mut seen = Vec::new();
    let mut from: Option<String> = None;
    for page in 0.. {
        let mut criteria = json!({"selectionCriteria": {"maxEntries": 1000, "searchCriteria": {
            "criterion": [{"type": "CreatedObjects", "value": cursor}]}}});
        if let Some(f) = &from {
            criteria["selectionCriteria"]["fromCursor"] = json!(f);
        }
        let (status, answer) = nms(
            server,
            "POST",
            &format!("{BOX}/objects/operations/search"),
            Some(&criteria),
        );
        assert_eq!(status, 200, "{answer}");
        seen.extend(urls_of(&answer, "objectList", "object"));
        let keep = answer["objectList"]["creationCursor"]
            .as_str()
            .expect("creationCursor")
            .to_string();
        between(page);
        match answer["objectList"]["cursor"].as_str() {
            Some(c) => from = Some(c.to_string()),
            None => return (seen, keep),
        }
    }
    unreachable!()
}

#[test]
fn simplified_sync_over_five_thousand_objects_misses_nothing() {
    require_tool("curl", "curl");
    let mut server = Server::new();
    server.add_account("alice", "s3cret");
    server.start();
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    append(&mut imap, 5000, "history");
    imap.run("s SELECT INBOX");
    // A first sync of everything, while messages keep arriving.
    let (first, cursor) = created_since(&server, "", |page| {
        if page < 3 {
            append(&mut imap, 10, &format!("during sync {page}"));
        }
    });
    let mut mirror: std::collections::BTreeSet<String> = first.into_iter().collect();
    assert!(mirror.len() >= 5000, "{}", mirror.len());
    // Changes while the client is away: new messages, removals, reads.
    append(&mut imap, 100, "later");
    imap.run("a STORE 1:50 +FLAGS (\\Deleted)");
    imap.run("b EXPUNGE");
    imap.run("c STORE 1:4000 +FLAGS (\\Seen)");
    // Simplified sync (TS 5.1.5.2): created since the cursor, vanished,
    // and unseen.
    let (created, _) = created_since(&server, &cursor, |_| {});
    mirror.extend(created);
    let (status, vanished) = nms(
        &server,
        "POST",
        &format!("{BOX}/objects/operations/search"),
        Some(
            &json!({"selectionCriteria": {"maxEntries": 1000, "searchCriteria": {"criterion": [
            {"type": "VanishedObjects", "value": ""}]}}}),
        ),
    );
    assert_eq!(status, 200);
    let gone = urls_of(&vanished, "objectReferenceList", "objectReference");
    assert_eq!(gone.len(), 50);
    for g in &gone {
        assert!(mirror.remove(g), "{g} vanished but was never created");
    }
    // The mirror is now exactly what the server holds.
    let status = imap.run("d STATUS INBOX (MESSAGES UNSEEN)").join(" ");
    let held = 5000 + 30 + 100 - 50;
    assert!(status.contains(&format!("MESSAGES {held}")), "{status}");
    assert_eq!(mirror.len(), held);
    let mut unseen = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let mut criteria = json!({"selectionCriteria": {"maxEntries": 1000, "searchCriteria": {
            "criterion": [{"type": "Flag", "name": "\\Seen", "value": "false"}]}}});
        if let Some(f) = &from {
            criteria["selectionCriteria"]["fromCursor"] = json!(f);
        }
        let (_, answer) = nms(
            &server,
            "POST",
            &format!("{BOX}/objects/operations/search"),
            Some(&criteria),
        );
        unseen.extend(urls_of(&answer, "objectList", "object"));
        match answer["objectList"]["cursor"].as_str() {
            Some(c) => from = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(unseen.len(), held - 4000, "{status}");
    assert!(unseen.iter().all(|u| mirror.contains(u)));
}

#[test]
fn a_filtered_subscription_is_told_only_what_matches() {
    require_tool("curl", "curl");
    let mut server = Server::new();
    server.add_account("alice", "s3cret");
    server.start();
    let (to, received) = subscriber(204);
    // TS 5.4.3: objects tagged urgent (\Flagged) and not yet read.
    let body = json!({"nmsSubscription": {
        "callbackReference": {"notifyURL": format!("http://{to}/cb")},
        "duration": 600,
        "filter": {"criterion": [
            {"type": "Flag", "name": "\\Flagged", "value": "true"},
            {"type": "Flag", "name": "\\Seen", "value": "false"}], "operator": "And"}}});
    let (status, answer) = nms(
        &server,
        "POST",
        &format!("{BOX}/subscriptions"),
        Some(&body),
    );
    assert_eq!(status, 201, "{answer}");
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    for (flags, subject) in [
        ("", "plain"),
        ("(\\Seen \\Flagged) ", "read"),
        ("(\\Flagged) ", "urgent"),
    ] {
        let message = format!("Subject: {subject}\r\n\r\nbody\r\n");
        imap.send(
            format!(
                "a APPEND INBOX {flags}{{{}+}}\r\n{message}\r\n",
                message.len()
            )
            .as_bytes(),
        );
        assert!(tagged(&imap.read_until_tagged("a")).contains("OK"));
    }
    // A marker after them: the filter lets its flagging through too.
    imap.run("s SELECT INBOX");
    imap.run("f STORE 1 +FLAGS (\\Flagged)");
    let lists = received.wait_for("two events", |lists| {
        count(&events(lists), "changedObject") >= 2
    });
    let changed: Vec<Value> = events(&lists)
        .into_iter()
        .filter_map(|e| e.get("changedObject").cloned())
        .collect();
    assert_eq!(changed.len(), 2, "{changed:#?}");
    for c in &changed {
        let flags: Vec<&str> = c["flags"]["flag"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            flags.contains(&"\\Flagged") && !flags.contains(&"\\Seen"),
            "{c}"
        );
    }
    // A filter the server cannot apply is refused at once.
    let bad = json!({"nmsSubscription": {
        "callbackReference": {"notifyURL": format!("http://{to}/cb")},
        "filter": {"criterion": [{"type": "PresetSearch", "name": "x", "value": ""}]}}});
    let (status, _) = nms(&server, "POST", &format!("{BOX}/subscriptions"), Some(&bad));
    assert_eq!(status, 400);
}
