//! RCS Common Message Store conformance (issue 18) against the real
//! binary, as the devices that use NMS and IMAP see it: group state
//! objects deposited over SIP (SIPp), `Message-Context` and
//! `Message-Correlator` kept as header fields and searched over IMAP and
//! NMS, a chat message's `Content-Type: message/cpim` kept exactly, the
//! RCS folder layout (`[sip] folder_layout = "rcs"`, `Default` written
//! only by trusted network elements) and remote trusted network elements
//! acting for a user (`[auth] trusted_elements`: IMAP AUTHENTICATE PLAIN
//! with an authorization identity, NMS requests for the user's box).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::nms::attribute;
use e2e_tests::{free_addr, require_tool, Server};
use serde_json::{json, Value};

const ALICE: &str = "alice:s3cret";
const BOX: &str = "/nms/v1/cpm/alice";

/// A server with alice (`sip:alice@example.com`), the elements' account
/// `cs-element` and another account `rogue`, with `settings` added to
/// `[sip]` and `[auth]`.
fn server(sip: &str, auth: &str) -> Server {
    require_tool("curl", "curl");
    let mut server = Server::new();
    server.set_settings("sip", sip);
    let config = server.config();
    let text = std::fs::read_to_string(&config).expect("read config");
    std::fs::write(&config, format!("{text}[auth]\n{auth}")).expect("write config");
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    server.add_account("cs-element", "el3ment");
    server.add_account("rogue", "r0gue");
    server.start();
    server
}

/// Runs SIPp scenario `name` once over UDP against the server, with
/// `keys` (`-key name value`); asserts its one call succeeded.
fn deposit(server: &Server, name: &str, keys: &[(&str, &str)]) {
    require_tool("sipp", "sip-tester");
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sipp")
        .join(name);
    let mut c = Command::new("sipp");
    c.arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-nostdin", "-timeout", "60s", "-m", "1"]);
    for (k, v) in keys {
        c.args(["-key", k, v]);
    }
    let out = c
        .arg(server.sip_udp.to_string())
        .args(["-p", &free_addr().port().to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("run sipp");
    assert!(
        out.status.success(),
        "sipp {name}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// An NMS request as `user` with `args` for curl: the status and body.
fn nms(server: &Server, user: &str, method: &str, path: &str, args: &[&str]) -> (u16, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let body = dir.path().join("body");
    let out = Command::new("curl")
        .args(["-s", "-S", "-X", method, "-u", user, "-o"])
        .arg(&body)
        .args(["-w", "%{http_code}"])
        .args(args)
        .arg(format!("http://{}{path}", server.nms))
        .output()
        .expect("run curl");
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl: {}", String::from_utf8_lossy(&out.stderr)));
    let bytes = std::fs::read(&body).unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The objects an NMS `Attribute` search finds in `user`'s view of `base`.
fn nms_search(server: &Server, user: &str, base: &str, name: &str, value: &str) -> Vec<Value> {
    nms_find(
        server,
        user,
        base,
        json!({"type": "Attribute", "name": name, "value": value}),
    )
}

/// The objects an NMS search with one `criterion` finds in `user`'s view
/// of `base`.
fn nms_find(server: &Server, user: &str, base: &str, criterion: Value) -> Vec<Value> {
    let criteria = json!({"selectionCriteria": {"maxEntries": 50, "searchCriteria": {
        "criterion": [criterion]}}});
    let (status, body) = nms(
        server,
        user,
        "POST",
        &format!("{base}/objects/operations/search"),
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &criteria.to_string(),
        ],
    );
    assert_eq!(status, 200, "{body}");
    body["objectList"]["object"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Creates an NMS object with `root` fields and a text payload in the box
/// at `base` as `user`: the status and body.
fn nms_create(server: &Server, user: &str, base: &str, root: &Value) -> (u16, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fields = dir.path().join("root.json");
    std::fs::write(&fields, root.to_string()).expect("write root fields");
    let root_part = format!("root-fields=<{};type=application/json", fields.display());
    nms(
        server,
        user,
        "POST",
        &format!("{base}/objects"),
        &["-F", &root_part, "-F", "attachments=hello;type=text/plain"],
    )
}

/// An IMAP session authenticated with AUTHENTICATE PLAIN (RFC 4616:
/// `authzid NUL authcid NUL password`, sent as SASL-IR); the tagged line.
fn authenticate_plain(
    server: &Server,
    authzid: &str,
    authcid: &str,
    password: &str,
) -> (ImapConnection, String) {
    let mut imap = ImapConnection::connect(server.imap);
    let message = B64.encode(format!("{authzid}\0{authcid}\0{password}"));
    let lines = imap.run(&format!("A AUTHENTICATE PLAIN {message}"));
    let done = tagged(&lines).to_string();
    (imap, done)
}

/// APPENDs a small message to `mailbox` (LITERAL+); the tagged line.
fn append(imap: &mut ImapConnection, mailbox: &str) -> String {
    let message = "From: <sip:alice@example.com>\r\nSubject: mine\r\n\r\nhello\r\n";
    imap.send(
        format!(
            "P APPEND \"{mailbox}\" {{{}+}}\r\n{message}\r\n",
            message.len()
        )
        .as_bytes(),
    );
    tagged(&imap.read_until_tagged("P")).to_string()
}

/// The UIDs an IMAP `UID SEARCH` of `mailbox` with `criteria` finds.
fn imap_search(imap: &mut ImapConnection, mailbox: &str, criteria: &str) -> Vec<String> {
    let r = imap.run(&format!("S SELECT \"{mailbox}\""));
    assert!(tagged(&r).starts_with("S OK"), "{r:?}");
    let r = imap.run(&format!("U UID SEARCH {criteria}"));
    assert!(tagged(&r).starts_with("U OK"), "{r:?}");
    r.iter()
        .find_map(|l| l.strip_prefix("* SEARCH"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The fields `fields` of the header of message `uid` in the selected
/// mailbox, as IMAP FETCH BODY.PEEK[HEADER.FIELDS (...)] returns them.
fn header_fields(imap: &mut ImapConnection, uid: &str, fields: &str) -> String {
    let r = imap.run(&format!(
        "F UID FETCH {uid} (BODY.PEEK[HEADER.FIELDS ({fields})])"
    ));
    assert!(tagged(&r).starts_with("F OK"), "{r:?}");
    r.iter()
        .find(|l| l.starts_with("* "))
        .and_then(|l| l.split_once("\r\n"))
        .map(|(_, literal)| literal.strip_suffix(')').unwrap_or(literal).to_string())
        .unwrap_or_else(|| panic!("no header fields: {r:?}"))
}

#[test]
fn a_group_state_object_is_deposited_and_found_by_its_message_context() {
    let server = server("", "");
    deposit(
        &server,
        "group_state.xml",
        &[("conv", "conv-g"), ("contrib", "grp-1")],
    );
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    // In the conversation folder its Conversation-ID names, with its
    // Message-Context and its own media type.
    let found = imap_search(
        &mut imap,
        "conv-g",
        "HEADER Message-Context group-state-object",
    );
    assert_eq!(found, ["1"]);
    let fields = header_fields(&mut imap, "1", "MESSAGE-CONTEXT CONTENT-TYPE");
    assert!(
        fields.contains("Message-Context: group-state-object\r\n"),
        "{fields}"
    );
    assert!(
        fields.contains("Content-Type: application/group-state-object+xml\r\n"),
        "{fields}"
    );
    // NMS finds it by the same attribute, and shows it.
    let objects = nms_search(&server, ALICE, BOX, "Message-Context", "group-state-object");
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(
        attribute(&objects[0], "Message-Context"),
        ["group-state-object"]
    );
    let path = objects[0]["path"].as_str().unwrap_or_default();
    assert!(path.starts_with("/conv-g/"), "{path}");
}

#[test]
fn message_context_and_correlator_are_kept_and_searched() {
    let server = server("", "");
    // A pager-mode message (no Conversation-ID) and a chat message of a
    // conversation.
    deposit(&server, "pager.xml", &[("msgid", "pager-42")]);
    deposit(&server, "deposit.xml", &[("conv", "conv-c")]);
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    assert_eq!(
        imap_search(&mut imap, "INBOX", "HEADER Message-Context pager-message"),
        ["1"]
    );
    let fields = header_fields(&mut imap, "1", "MESSAGE-CORRELATOR");
    assert_eq!(fields.trim_end(), "Message-Correlator: pager-42");
    assert!(imap_search(&mut imap, "conv-c", "HEADER Message-Context pager-message").is_empty());
    assert_eq!(
        imap_search(&mut imap, "conv-c", "HEADER Message-Context chat-message"),
        ["1"]
    );
    // A chat message keeps its top-level Content-Type exactly as sent.
    let fields = header_fields(&mut imap, "1", "CONTENT-TYPE");
    assert_eq!(fields, "Content-Type: message/cpim\r\n\r\n");
    // NMS: the pager message alone by its Message-Context, with its
    // Message-Correlator among its attributes.
    let objects = nms_search(&server, ALICE, BOX, "Message-Context", "pager-message");
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(attribute(&objects[0], "Message-Correlator"), ["pager-42"]);
    let chats = nms_search(&server, ALICE, BOX, "Message-Context", "chat-message");
    assert_eq!(chats.len(), 1, "{chats:?}");
    // An NMS object's Message-Correlator is written as a header field and
    // read back as an attribute, searchable over IMAP.
    let (status, body) = nms_create(
        &server,
        ALICE,
        BOX,
        &json!({"object": {"parentFolderPath": "/nms-conv", "attributes": {"attribute": [
            {"name": "Message-Context", "value": ["pager-message"]},
            {"name": "Message-Correlator", "value": ["corr-7"]}]}}}),
    );
    assert_eq!(status, 201, "{body}");
    let objects = nms_search(&server, ALICE, BOX, "Message-Correlator", "corr-7");
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(attribute(&objects[0], "Message-Correlator"), ["corr-7"]);
    assert_eq!(
        imap_search(&mut imap, "nms-conv", "HEADER Message-Correlator corr-7"),
        ["1"]
    );
}

#[test]
fn the_rcs_layout_files_under_default_which_only_network_elements_write() {
    let server = server(
        "folder_layout = \"rcs\"\n",
        "trusted_elements = [\"cs-element\"]\n",
    );
    // A one-to-one chat under the other party's address, a group's state
    // under its Conversation-ID and Contribution-ID.
    deposit(&server, "deposit.xml", &[("conv", "conv-1")]);
    deposit(
        &server,
        "group_state.xml",
        &[("conv", "conv-g"), ("contrib", "grp-1")],
    );
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let r = imap.run("L LIST \"\" \"Default*\"");
    for name in ["Default/sip:bob@example.com", "Default/conv-g/grp-1"] {
        assert!(
            r.iter()
                .any(|l| l.trim_end_matches('"').ends_with(&format!(" {name}"))
                    || l.ends_with(&format!("\"{name}\""))),
            "{name}: {r:?}"
        );
    }
    assert_eq!(
        imap_search(&mut imap, "Default/sip:bob@example.com", "ALL"),
        ["1"]
    );
    assert_eq!(
        imap_search(
            &mut imap,
            "Default/conv-g/grp-1",
            "HEADER Message-Context group-state-object"
        ),
        ["1"]
    );
    // The user may read and flag there, but not store nor create.
    let r = imap.run("W UID STORE 1 +FLAGS (\\Seen)");
    assert!(tagged(&r).starts_with("W OK"), "{r:?}");
    let done = append(&mut imap, "Default/sip:bob@example.com");
    assert!(done.starts_with("P NO [NOPERM]"), "{done}");
    let r = imap.run("C CREATE \"Default/mine\"");
    assert!(tagged(&r).starts_with("C NO [NOPERM]"), "{r:?}");
    let r = imap.run("R RENAME \"Default/conv-g\" \"elsewhere\"");
    assert!(tagged(&r).starts_with("R NO [NOPERM]"), "{r:?}");
    // Elsewhere nothing changes.
    assert!(append(&mut imap, "INBOX").starts_with("P OK"));
    // NMS: an object under /Default is refused with POL1031.
    let (status, body) = nms_create(
        &server,
        ALICE,
        BOX,
        &json!({"object": {"parentFolderPath": "/Default/sip:carol@example.com"}}),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["requestError"]["policyException"]["messageId"],
        json!("POL1031"),
        "{body}"
    );
    // A trusted element acting for alice (AUTHENTICATE PLAIN with her as
    // authorization identity) may.
    let (mut element, done) = authenticate_plain(&server, "alice", "cs-element", "el3ment");
    assert!(done.starts_with("A OK"), "{done}");
    assert!(append(&mut element, "Default/sip:bob@example.com").starts_with("P OK"));
    let r = element.run("C CREATE \"Default/conv-h/grp-2\"");
    assert!(tagged(&r).starts_with("C OK"), "{r:?}");
    assert_eq!(
        imap_search(&mut imap, "Default/sip:bob@example.com", "ALL"),
        ["1", "2"]
    );
}

#[test]
fn a_trusted_element_acts_for_a_user_over_imap_and_nms() {
    let server = server("", "trusted_elements = [\"cs-element\"]\n");
    // IMAP: the element's session is alice's.
    let (mut element, done) = authenticate_plain(&server, "alice", "cs-element", "el3ment");
    assert!(done.starts_with("A OK"), "{done}");
    assert!(append(&mut element, "INBOX").starts_with("P OK"));
    let mut alice = ImapConnection::login(server.imap, "alice", "s3cret");
    assert_eq!(imap_search(&mut alice, "INBOX", "SUBJECT mine"), ["1"]);
    // An account not in the setting may not act for another, whatever its
    // password; nor may anyone act for an unknown account.
    let (_, done) = authenticate_plain(&server, "alice", "rogue", "r0gue");
    assert!(done.starts_with("A NO [AUTHORIZATIONFAILED]"), "{done}");
    let (_, done) = authenticate_plain(&server, "nobody", "cs-element", "el3ment");
    assert!(done.starts_with("A NO [AUTHORIZATIONFAILED]"), "{done}");
    let (_, done) = authenticate_plain(&server, "alice", "cs-element", "wrong");
    assert!(done.starts_with("A NO [AUTHENTICATIONFAILED]"), "{done}");
    // NMS: the element's request for alice's box (by login or address) is
    // alice's own.
    let element_user = "cs-element:el3ment";
    let (status, body) = nms_create(
        &server,
        element_user,
        BOX,
        &json!({"object": {"parentFolderPath": "/from-element"}}),
    );
    assert_eq!(status, 201, "{body}");
    let by_address = "/nms/v1/cpm/sip%3Aalice%40example.com";
    let unseen = json!({"type": "Flag", "name": "\\Seen", "value": "false"});
    let found = nms_find(&server, element_user, by_address, unseen);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(imap_search(&mut alice, "from-element", "ALL"), ["1"]);
    // An account not in the setting sees alice's box only through her
    // ACLs: nothing (404).
    let (status, body) = nms_create(&server, "rogue:r0gue", BOX, &json!({"object": {}}));
    assert_eq!(status, 404, "{body}");
}
