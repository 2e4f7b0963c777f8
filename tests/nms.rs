//! The OMA RESTful Network Message Storage binding (seed 004, issue 17)
//! against the real binary, driven with curl as an RCS Common Message
//! Store client drives it: root discovery, folders, object creation by
//! `multipart/form-data`, metadata, flags, payloads, search with paging,
//! pathToId, bulk operations, copy and move; and the same objects seen
//! over IMAP, so that one name means one folder and one object in both.
//! The request bodies of the TS's Appendix D (`crates/nms-server/tests/
//! examples`) are sent where they apply to this store.

use std::path::Path;
use std::process::Command;

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::nms::attribute;
use e2e_tests::{require_tool, Server};
use serde_json::{json, Value};

const ALICE: &str = "alice:s3cret";
const BOX: &str = "/nms/v1/cpm/tel%3A%2B15551234567";

fn server() -> Server {
    require_tool("curl", "curl");
    let mut server = Server::new();
    server.add_account_with_address("alice", "s3cret", "tel:+15551234567");
    server.add_account("bob", "b0bpass");
    server.start();
    server
}

/// A curl answer: status, headers (lower-cased names) and body.
struct Answer {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// One request: `method` on `path` (below the server root) as `user`
/// (`None`: no credentials), with `args` given to curl as they are (a
/// body, form parts, headers).
fn call(server: &Server, user: Option<&str>, method: &str, path: &str, args: &[&str]) -> Answer {
    let dir = tempfile::tempdir().expect("temp dir");
    let head = dir.path().join("headers");
    let out = dir.path().join("body");
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "-X", method, "-D"])
        .arg(&head)
        .arg("-o")
        .arg(&out)
        .args(["-w", "%{http_code}"]);
    if let Some(u) = user {
        cmd.args(["-u", u]);
    }
    cmd.args(args).arg(format!("http://{}{path}", server.nms));
    let result = cmd.output().expect("run curl");
    let status = String::from_utf8_lossy(&result.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl: {}", String::from_utf8_lossy(&result.stderr)));
    Answer {
        status,
        headers: std::fs::read_to_string(&head).unwrap_or_default(),
        body: std::fs::read(&out).unwrap_or_default(),
    }
}

fn get(server: &Server, path: &str) -> Answer {
    call(server, Some(ALICE), "GET", path, &[])
}

/// A JSON request body.
fn send_json(server: &Server, method: &str, path: &str, body: &Value) -> Answer {
    let text = body.to_string();
    call(
        server,
        Some(ALICE),
        method,
        path,
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &text,
        ],
    )
}

/// Creates an object (TS 6.1.5) in Alice's box by her address.
fn create_object(server: &Server, root: &Value, payload: Option<(&str, &[u8])>) -> Answer {
    create_object_in(server, BOX, root, payload)
}

/// Creates an object (TS 6.1.5) in the box at `base` with `root` as its
/// root fields and, if given, `payload` of `content_type` as its
/// `attachments` part.
fn create_object_in(
    server: &Server,
    base: &str,
    root: &Value,
    payload: Option<(&str, &[u8])>,
) -> Answer {
    let dir = tempfile::tempdir().expect("temp dir");
    let fields = dir.path().join("root.json");
    std::fs::write(&fields, root.to_string()).expect("write root fields");
    let root_part = format!("root-fields=<{};type=application/json", fields.display());
    let mut args = vec!["-F".to_string(), root_part];
    if let Some((content_type, bytes)) = payload {
        let file = dir.path().join("payload");
        std::fs::write(&file, bytes).expect("write payload");
        args.push("-F".into());
        args.push(format!(
            "attachments=@{};type={content_type}",
            file.display()
        ));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    call(
        server,
        Some(ALICE),
        "POST",
        &format!("{base}/objects"),
        &args,
    )
}

/// The path (below the server root) of an absolute resource URL.
fn path_of(url: &str) -> String {
    let at = url
        .find("/nms/")
        .unwrap_or_else(|| panic!("not an NMS URL: {url}"));
    url[at..].to_string()
}

/// An Appendix D example body.
fn example(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/nms-server/tests/examples")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).expect("read example")).expect("example JSON")
}

fn created_object(server: &Server, folder_path: &str, subject: &str, text: &str) -> String {
    let root = json!({"object": {
        "parentFolderPath": folder_path,
        "attributes": {"attribute": [
            {"name": "From", "value": ["tel:+15551234567"]},
            {"name": "To", "value": ["tel:+15557654321"]},
            {"name": "Subject", "value": [subject]},
            {"name": "Direction", "value": ["Out"]},
            {"name": "Message-Context", "value": ["pager-message"]},
            {"name": "Conversation-ID", "value": ["conv-42"]},
        ]},
        "flags": {"flag": ["\\Seen"]},
    }});
    let answer = create_object(server, &root, Some(("text/plain", text.as_bytes())));
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let url = answer.header("location").expect("Location");
    assert_eq!(answer.json()["reference"]["resourceURL"], url.as_str());
    path_of(&url)
}

#[test]
fn the_root_folder_is_found_and_lists_the_mailboxes() {
    let server = server();
    // D.48: pathToId without a path names the one root folder.
    let root = get(&server, &format!("{BOX}/folders/operations/pathToId"));
    assert_eq!(root.status, 200);
    let root_url = root.json()["reference"]["resourceURL"]
        .as_str()
        .expect("root URL")
        .to_string();
    let listing = get(
        &server,
        &format!("{}?listFilter=Subfolders&path=Yes", path_of(&root_url)),
    );
    assert_eq!(listing.status, 200);
    let folder = &listing.json()["folder"];
    assert_eq!(attribute(folder, "Root"), vec!["Yes"]);
    assert_eq!(folder["path"], "/");
    let paths: Vec<&str> = folder["subFolders"]["folderReference"]
        .as_array()
        .expect("subfolders")
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert!(paths.contains(&"/INBOX"), "{paths:?}");
    // D.43: a folder search for Root=Yes finds the root only.
    let found = send_json(
        &server,
        "POST",
        &format!("{BOX}/folders/operations/search"),
        &example("D.43-request.json"),
    );
    assert_eq!(found.status, 200);
    let folders = found.json()["folderList"]["folder"].clone();
    assert_eq!(folders.as_array().map(Vec::len), Some(1), "{folders}");
    assert_eq!(folders[0]["resourceURL"], root_url.as_str());
    // Over HTTPS, HTTP/2 by ALPN.
    let tls = Command::new("curl")
        .args([
            "-sk",
            "--http2",
            "-u",
            ALICE,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .arg(format!("https://{}{BOX}/folders/root", server.nmss))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&tls.stdout), "200 2");
    // The same box by login and by acr:auth.
    for other in ["/nms/v1/cpm/alice", "/nms/v1/cpm/acr%3Aauth"] {
        let r = get(
            &server,
            &format!("{other}/folders/operations/pathToId?path=%2FINBOX"),
        );
        assert_eq!(r.status, 200, "{other}");
    }
}

#[test]
fn folders_are_created_renamed_and_deleted_as_imap_mailboxes() {
    let server = server();
    let made = send_json(
        &server,
        "POST",
        &format!("{BOX}/folders"),
        &json!({"folder": {"parentFolderPath": "/", "name": "main"}}),
    );
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    let main_url = made.header("location").expect("Location");
    // Appendix K: when it was created; D.44-style search by that date.
    let main = get(&server, &path_of(&main_url)).json()["folder"].clone();
    let created = attribute(&main, "Date");
    assert_eq!(created.len(), 1, "{main}");
    assert!(
        created[0].ends_with('Z') && created[0].len() == 20,
        "{created:?}"
    );
    let since = send_json(
        &server,
        "POST",
        &format!("{BOX}/folders/operations/search"),
        &json!({"selectionCriteria": {"searchCriteria": {"criterion": [
            {"type": "Date", "value": format!("minDate={}", created[0])},
            {"type": "Attribute", "name": "Name", "value": "MAIN"}]}}}),
    );
    let found = since.json()["folderList"]["folder"].clone();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    // D.29 as the TS sends it: a folder under /main.
    let board = send_json(
        &server,
        "POST",
        &format!("{BOX}/folders"),
        &example("D.29-request.json"),
    );
    assert_eq!(board.status, 201);
    assert_eq!(board.json()["reference"]["path"], "/main/BoardMeeting");
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let list = imap.run("a LIST \"\" \"main*\"");
    assert!(
        list.iter().any(|l| l.contains("\"main/BoardMeeting\"")),
        "{list:?}"
    );
    // D.31: a parent path of no folder; D.33: no parent at all.
    let missing = send_json(
        &server,
        "POST",
        &format!("{BOX}/folders"),
        &example("D.31-request.json"),
    );
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.json()["requestError"]["serviceException"]["messageId"],
        "SVC0002"
    );
    let orphan = send_json(
        &server,
        "POST",
        &format!("{BOX}/folders"),
        &json!({"folder": {"name": "x"}}),
    );
    assert_eq!(orphan.status, 400);
    // D.40, D.41: the folder's name, then a rename that keeps its id.
    let board_url = path_of(&board.header("location").expect("Location"));
    let name = get(&server, &format!("{board_url}/folderName"));
    assert_eq!(name.json(), json!({"name": "BoardMeeting"}));
    let renamed = send_json(
        &server,
        "PUT",
        &format!("{board_url}/folderName"),
        &example("D.41-request.json"),
    );
    assert_eq!(renamed.status, 200);
    let list = imap.run("b LIST \"\" \"main/*\"");
    assert!(
        list.iter().any(|l| l.contains("\"main/BoardSession1\"")),
        "{list:?}"
    );
    let again = get(&server, &format!("{board_url}?path=Yes"));
    assert_eq!(again.json()["folder"]["path"], "/main/BoardSession1");
    assert_eq!(again.json()["folder"]["parentFolder"], main_url.as_str());
    // The root cannot be renamed (POL1030).
    let root_rename = send_json(
        &server,
        "PUT",
        &format!("{BOX}/folders/root/folderName"),
        &json!({"name": "x"}),
    );
    assert_eq!(root_rename.status, 403);
    assert_eq!(
        root_rename.json()["requestError"]["policyException"]["messageId"],
        "POL1030"
    );
    // DELETE removes the folder with everything below it.
    created_object(&server, "/main/BoardSession1", "minutes", "text");
    let gone = call(&server, Some(ALICE), "DELETE", &path_of(&main_url), &[]);
    assert_eq!(gone.status, 204);
    let list = imap.run("c LIST \"\" \"main*\"");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(get(&server, &path_of(&main_url)).status, 404);
}

#[test]
fn a_created_object_is_the_message_imap_sees_and_its_payload_is_served() {
    let server = server();
    let object = created_object(&server, "/conv-1", "Lunch?", "See you at noon");
    // The parent path was made on the way (TS 6.1.5.2).
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let select = imap.run("a SELECT conv-1");
    assert!(
        select.iter().any(|l| l.starts_with("* 1 EXISTS")),
        "{select:?}"
    );
    let fetch = imap.run("b FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM MESSAGE-DIRECTION CONVERSATION-ID)] BODY.PEEK[TEXT])");
    let text = fetch.join("\n");
    assert!(text.contains("\\Seen"), "{text}");
    assert!(text.contains("Subject: Lunch?"), "{text}");
    assert!(text.contains("From: <tel:+15551234567>"), "{text}");
    assert!(text.contains("Message-Direction: sent"), "{text}");
    assert!(text.contains("Conversation-ID: conv-42"), "{text}");
    assert!(text.contains("See you at noon"), "{text}");
    // The metadata (TS 6.2.3): Appendix I attributes from the message.
    let answer = get(&server, &object);
    assert_eq!(answer.status, 200);
    let o = &answer.json()["object"];
    assert_eq!(attribute(o, "Direction"), vec!["Out"]);
    assert_eq!(attribute(o, "From"), vec!["tel:+15551234567"]);
    assert_eq!(attribute(o, "To"), vec!["tel:+15557654321"]);
    assert_eq!(attribute(o, "Subject"), vec!["Lunch?"]);
    assert_eq!(attribute(o, "Message-Context"), vec!["pager-message"]);
    assert_eq!(attribute(o, "TextContent"), vec!["See you at noon"]);
    assert_eq!(attribute(o, "Content-Type"), vec!["text/plain"]);
    assert_eq!(o["flags"]["flag"], json!(["\\Seen"]));
    assert!(o["lastModSeq"].as_u64().is_some_and(|m| m > 0));
    let id = object.rsplit('/').next().expect("id");
    assert_eq!(o["path"], format!("/conv-1/{id}"));
    // The payload (TS 6.5), whole and as a byte range.
    let payload = get(
        &server,
        &path_of(o["payloadURL"].as_str().expect("payloadURL")),
    );
    assert_eq!(payload.status, 200);
    assert_eq!(payload.body, b"See you at noon");
    assert!(payload
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain")));
    let part = call(
        &server,
        Some(ALICE),
        "GET",
        &format!("{object}/payload"),
        &["-H", "Range: bytes=4-6"],
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, b"you");
    // A multipart object: each first-level part is a payload part.
    let mixed = b"--b1\r\nContent-Type: text/plain\r\n\r\nSee attached\r\n--b1\r\n\
Content-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAAAAACw=\r\n--b1--\r\n";
    let root = json!({"object": {"parentFolderPath": "/conv-1", "attributes": {"attribute": []}, "flags": {"flag": []}}});
    let answer = create_object(
        &server,
        &root,
        Some(("multipart/mixed; boundary=b1", mixed)),
    );
    assert_eq!(answer.status, 201);
    let url = path_of(&answer.header("location").expect("Location"));
    let o = get(&server, &url).json()["object"].clone();
    let parts = o["payloadPart"].as_array().expect("payload parts").clone();
    assert_eq!(parts.len(), 2, "{o}");
    assert_eq!(parts[1]["contentType"], "image/gif");
    let gif = get(&server, &path_of(parts[1]["href"].as_str().expect("href")));
    assert_eq!(gif.status, 200);
    assert!(gif.body.starts_with(b"GIF89a"), "{:?}", gif.body);
    assert_eq!(gif.header("content-type").as_deref(), Some("image/gif"));
}

#[test]
fn flags_follow_the_ts_and_imap_sees_them() {
    let server = server();
    let object = created_object(&server, "/INBOX", "flags", "body");
    let flags = get(&server, &format!("{object}/flags"));
    assert_eq!(flags.json()["flagList"]["flag"], json!(["\\Seen"]));
    // D.13: PUT replaces the list.
    let put = send_json(
        &server,
        "PUT",
        &format!("{object}/flags"),
        &example("D.13-request.json"),
    );
    assert_eq!(put.status, 200);
    let mut got: Vec<String> = put.json()["flagList"]["flag"]
        .as_array()
        .expect("flags")
        .iter()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    got.sort();
    assert_eq!(got, vec!["\\Answered", "\\Flagged", "\\Seen"]);
    // D.14–D.17: one flag at a time.
    let one = |m: &str, flag: &str| {
        call(
            &server,
            Some(ALICE),
            m,
            &format!("{object}/flags/{flag}"),
            &[],
        )
    };
    assert_eq!(one("GET", "%5CSeen").status, 204);
    let absent = one("GET", "%24Forwarded");
    assert_eq!(absent.status, 404);
    assert_eq!(absent.json(), json!({"empty": null}));
    let added = send_json(
        &server,
        "PUT",
        &format!("{object}/flags/%24Forwarded"),
        &json!({"empty": null}),
    );
    assert_eq!(added.status, 201);
    assert!(added
        .header("location")
        .is_some_and(|l| l.ends_with("/flags/%24Forwarded")));
    assert_eq!(one("DELETE", "%5CSeen").status, 204);
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    imap.run("a SELECT INBOX");
    let fetch = imap.run("b FETCH 1 FLAGS").join("\n");
    assert!(
        fetch.contains("$Forwarded") && !fetch.contains("\\Seen"),
        "{fetch}"
    );
    // And the other way: IMAP's change is NMS's state.
    let store = imap.run("c STORE 1 +FLAGS (\\Seen)");
    assert!(tagged(&store).starts_with("c OK"), "{store:?}");
    assert_eq!(one("GET", "%5CSeen").status, 204);
    // A malformed flag name is SVC0002.
    let bad = send_json(
        &server,
        "PUT",
        &format!("{object}/flags"),
        &json!({"flagList": {"flag": ["a b"]}}),
    );
    assert_eq!(bad.status, 400);
}

#[test]
fn search_pages_with_a_cursor_lose_nothing_while_objects_arrive() {
    let server = server();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(created_object(
            &server,
            "/INBOX",
            &format!("note {i}"),
            "hello football fans",
        ));
    }
    let criteria = |cursor: Option<&str>| {
        let mut c = json!({"selectionCriteria": {
            "maxEntries": 2,
            "searchCriteria": {"criterion": [
                {"type": "Attribute", "name": "Direction", "value": "Out"},
                {"type": "Date", "value": "minDate=2000-01-01T00:00:00Z"},
            ], "operator": "And"},
            "sortCriterion": {"type": "Date", "order": "Ascending"},
        }});
        if let Some(cur) = cursor {
            c["selectionCriteria"]["fromCursor"] = json!(cur);
        }
        c
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        let answer = send_json(
            &server,
            "POST",
            &format!("{BOX}/objects/operations/search"),
            &criteria(cursor.as_deref()),
        );
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let list = answer.json()["objectList"].clone();
        let objects = list["object"].as_array().expect("objects").clone();
        assert!(objects.len() <= 2);
        seen.extend(
            objects
                .iter()
                .filter_map(|o| o["resourceURL"].as_str().map(path_of)),
        );
        if page == 0 {
            // An object arriving between pages does not hide another.
            created_object(&server, "/INBOX", "late", "late");
        }
        match list["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(page < 10, "no end to the pages");
    }
    for id in &ids {
        assert!(seen.contains(id), "{id} missing from {seen:?}");
    }
    // D.22: a substring in the text attributes and bodies.
    let found = send_json(
        &server,
        "POST",
        &format!("{BOX}/objects/operations/search"),
        &example("D.22-request.json"),
    );
    assert_eq!(found.status, 200);
    assert_eq!(
        found.json()["objectList"]["object"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // Descending by date, and an unknown preset search (SVC0003).
    let preset = send_json(
        &server,
        "POST",
        &format!("{BOX}/objects/operations/search"),
        &json!({"selectionCriteria": {"maxEntries": 5, "searchCriteria": {"criterion": [
            {"type": "PresetSearch", "name": "RemoteParty", "value": "tel:+1"}]}}}),
    );
    assert_eq!(preset.status, 400);
    assert_eq!(
        preset.json()["requestError"]["serviceException"]["messageId"],
        "SVC0003"
    );
    // The XSD's sortCriteria spelling is read as well.
    let sorted = send_json(
        &server,
        "POST",
        &format!("{BOX}/objects/operations/search"),
        &json!({"selectionCriteria": {"maxEntries": 100,
            "sortCriteria": {"criterion": [{"type": "Attribute", "name": "Subject", "order": "Descending"}]}}}),
    );
    let subjects: Vec<String> = sorted.json()["objectList"]["object"]
        .as_array()
        .expect("objects")
        .iter()
        .flat_map(|o| attribute(o, "Subject"))
        .collect();
    assert_eq!(
        subjects.first().map(String::as_str),
        Some("note 4"),
        "{subjects:?}"
    );
    assert_eq!(
        subjects.last().map(String::as_str),
        Some("late"),
        "{subjects:?}"
    );
}

#[test]
fn folder_listings_page_and_objects_are_found_by_path() {
    let server = server();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(created_object(&server, "/pics", &format!("p{i}"), "x"));
    }
    let folder = get(
        &server,
        &format!("{BOX}/folders/operations/pathToId?path=%2Fpics"),
    );
    let folder_url = path_of(
        folder.json()["reference"]["resourceURL"]
            .as_str()
            .expect("url"),
    );
    let mut listed = Vec::new();
    let mut query = "listFilter=Objects&maxEntries=2".to_string();
    loop {
        let answer = get(&server, &format!("{folder_url}?{query}"));
        assert_eq!(answer.status, 200);
        let f = answer.json()["folder"].clone();
        listed.extend(
            f["objects"]["objectReference"]
                .as_array()
                .expect("objects")
                .iter()
                .filter_map(|r| r["resourceURL"].as_str().map(path_of)),
        );
        match f["cursor"].as_str() {
            Some(c) => query = format!("listFilter=Objects&maxEntries=2&fromCursor={c}"),
            None => break,
        }
    }
    assert_eq!(listed, ids);
    // The counted attributes only when asked for (TS 6.11.3).
    let counted = get(
        &server,
        &format!("{folder_url}?attrFilter=MsgCount&attrFilter=UnreadMsgCount"),
    );
    let f = counted.json()["folder"].clone();
    assert_eq!(attribute(&f, "MsgCount"), vec!["3"]);
    assert_eq!(attribute(&f, "UnreadMsgCount"), vec!["0"]);
    assert!(attribute(&get(&server, &folder_url).json()["folder"], "MsgCount").is_empty());
    // pathToId for objects, one and several (D.23, D.25–D.27).
    let id = ids[1].rsplit('/').next().expect("id");
    let one = get(
        &server,
        &format!("{BOX}/objects/operations/pathToId?path=%2Fpics%2F{id}"),
    );
    assert_eq!(one.status, 200);
    assert_eq!(
        path_of(
            one.json()["reference"]["resourceURL"]
                .as_str()
                .expect("url")
        ),
        ids[1]
    );
    let many = send_json(
        &server,
        "POST",
        &format!("{BOX}/objects/operations/pathToId"),
        &json!({"pathList": {"path": [format!("/pics/{id}"), "/pics/999999", "pics//x"]}}),
    );
    assert_eq!(many.status, 200);
    let codes: Vec<u64> = many.json()["bulkResponseList"]["response"]
        .as_array()
        .expect("responses")
        .iter()
        .filter_map(|r| r["code"].as_u64())
        .collect();
    assert_eq!(codes, vec![200, 404, 400]);
}

#[test]
fn copy_makes_a_new_object_and_move_keeps_the_id() {
    let server = server();
    let a = created_object(&server, "/src", "a", "aaa");
    let b = created_object(&server, "/src", "b", "bbb");
    let made = send_json(
        &server,
        "POST",
        &format!("{BOX}/folders"),
        &json!({"folder": {"parentFolderPath": "/", "name": "dst"}}),
    );
    let dst = made.header("location").expect("Location");
    let base = format!("http://{}", server.nms);
    let request = |objects: &[&str]| {
        json!({"targetSourceRef": {
            "targetRef": {"resourceURL": dst},
            "sourceRefs": {"objects": {"objectReference":
                objects.iter().map(|o| json!({"resourceURL": format!("{base}{o}")})).collect::<Vec<_>>()}},
        }})
    };
    let copied = send_json(
        &server,
        "POST",
        &format!("{BOX}/folders/operations/copyToFolder"),
        &request(&[&a]),
    );
    assert_eq!(copied.status, 200);
    let item = copied.json()["bulkResponseList"]["response"][0].clone();
    assert_eq!(item["code"], 200, "{item}");
    let copy = path_of(item["success"]["resourceURL"].as_str().expect("url"));
    assert_ne!(copy, a);
    assert_eq!(get(&server, &a).status, 200);
    let moved = send_json(
        &server,
        "POST",
        &format!("{BOX}/folders/operations/moveToFolder"),
        &request(&[&b, "/nms/v1/cpm/tel%3A%2B15551234567/objects/999999"]),
    );
    let items = moved.json()["bulkResponseList"]["response"].clone();
    assert_eq!(items[0]["code"], 200, "{items}");
    assert_eq!(
        path_of(items[0]["success"]["resourceURL"].as_str().expect("url")),
        b
    );
    assert_eq!(items[1]["code"], 404, "{items}");
    let after = get(&server, &b).json()["object"].clone();
    let id = b.rsplit('/').next().expect("id");
    assert_eq!(after["path"], format!("/dst/{id}"));
    // A folder copied with its objects.
    let src = get(
        &server,
        &format!("{BOX}/folders/operations/pathToId?path=%2Fsrc"),
    )
    .json()["reference"]["resourceURL"]
        .clone();
    let tree = send_json(
        &server,
        "POST",
        &format!("{BOX}/folders/operations/copyToFolder"),
        &json!({"targetSourceRef": {"targetRef": {"resourceURL": dst}, "sourceRefs": {"folders": {"folderReference": [{"resourceURL": src}]}}}}),
    );
    let item = tree.json()["bulkResponseList"]["response"][0].clone();
    assert_eq!(item["success"]["path"], "/dst/src", "{item}");
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");
    let status = imap.run("a STATUS dst/src (MESSAGES)").join("\n");
    assert!(status.contains("MESSAGES 1"), "{status}");
}

#[test]
fn deleted_objects_are_gone_and_listed_as_vanished() {
    let server = server();
    let a = created_object(&server, "/INBOX", "a", "a");
    let b = created_object(&server, "/INBOX", "b", "b");
    let c = created_object(&server, "/INBOX", "c", "c");
    let before = send_json(
        &server,
        "POST",
        &format!("{BOX}/objects/operations/search"),
        &json!({"selectionCriteria": {"searchCriteria": {"criterion": [{"type": "CreatedObjects", "value": ""}]}}}),
    );
    let cursor = before.json()["objectList"]["creationCursor"]
        .as_str()
        .expect("creationCursor")
        .to_string();
    assert_eq!(call(&server, Some(ALICE), "DELETE", &a, &[]).status, 204);
    assert_eq!(get(&server, &a).status, 404);
    assert_eq!(
        get(&server, &a).json()["requestError"]["serviceException"]["messageId"],
        "SVC0004"
    );
    // bulkUpdate and bulkDelete, as deployed clients send them.
    let base = format!("http://{}", server.nms);
    let refs = json!({"objectReference": [{"resourceURL": format!("{base}{b}")}, {"resourceURL": format!("{base}{c}")}]});
    let update = send_json(
        &server,
        "POST",
        &format!("{BOX}/objects/operations/bulkUpdate"),
        &json!({"bulkUpdate": {"objects": refs, "operation": "AddFlag", "flags": {"flag": ["\\Flagged"]}}}),
    );
    assert_eq!(update.status, 200);
    assert_eq!(
        call(
            &server,
            Some(ALICE),
            "GET",
            &format!("{c}/flags/%5CFlagged"),
            &[]
        )
        .status,
        204
    );
    let delete = send_json(
        &server,
        "DELETE",
        &format!("{BOX}/objects/operations/bulkDelete"),
        &json!({"bulkDelete": {"objects": {"objectReference": [{"resourceURL": format!("{base}{b}")}]}}}),
    );
    assert_eq!(delete.status, 200);
    assert_eq!(get(&server, &b).status, 404);
    let vanished = send_json(
        &server,
        "POST",
        &format!("{BOX}/objects/operations/search"),
        &json!({"selectionCriteria": {"searchCriteria": {"criterion": [{"type": "VanishedObjects", "value": ""}]}}}),
    );
    let gone: Vec<String> = vanished.json()["objectReferenceList"]["objectReference"]
        .as_array()
        .expect("references")
        .iter()
        .filter_map(|r| r["resourceURL"].as_str().map(path_of))
        .collect();
    assert_eq!(gone, vec![a.clone(), b.clone()]);
    // CreatedObjects from the earlier cursor: only what came since.
    let d = created_object(&server, "/INBOX", "d", "d");
    let since = send_json(
        &server,
        "POST",
        &format!("{BOX}/objects/operations/search"),
        &json!({"selectionCriteria": {"searchCriteria": {"criterion": [{"type": "CreatedObjects", "value": cursor}]}}}),
    );
    let new: Vec<String> = since.json()["objectList"]["object"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["resourceURL"].as_str().map(path_of))
        .collect();
    assert_eq!(new, vec![d]);
}

#[test]
fn errors_are_the_ts_errors_and_other_boxes_are_hidden() {
    let server = server();
    let object = created_object(&server, "/INBOX", "private", "x");
    // No credentials: a Basic challenge.
    let anonymous = call(&server, None, "GET", &object, &[]);
    assert_eq!(anonymous.status, 401);
    assert!(anonymous
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Basic")));
    // Bob sees nothing of Alice's box: 404, as for no such object.
    let bob = call(
        &server,
        Some("bob:b0bpass"),
        "GET",
        &object.replace(BOX, "/nms/v1/cpm/alice"),
        &[],
    );
    assert_eq!(bob.status, 404);
    let bob_own = call(
        &server,
        Some("bob:b0bpass"),
        "GET",
        &object.replace(BOX, "/nms/v1/cpm/bob"),
        &[],
    );
    assert_eq!(bob_own.status, 404);
    // 405 with Allow (TS 6.x: methods the resource does not take).
    let not_allowed = call(&server, Some(ALICE), "PUT", &object, &[]);
    assert_eq!(not_allowed.status, 405);
    assert_eq!(not_allowed.header("allow").as_deref(), Some("GET, DELETE"));
    // Unknown store name, malformed JSON, a body too large.
    assert_eq!(get(&server, "/nms/v1/other/alice/folders/root").status, 404);
    let bad = call(
        &server,
        Some(ALICE),
        "POST",
        &format!("{BOX}/objects/operations/search"),
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "{not json",
        ],
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["requestError"]["serviceException"]["messageId"],
        "SVC0002"
    );
    let big = format!(
        "{{\"pathList\": {{\"path\": [\"{}\"]}}}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("big.json");
    std::fs::write(&file, big).expect("write");
    let too_large = call(
        &server,
        Some(ALICE),
        "POST",
        &format!("{BOX}/objects/operations/pathToId"),
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{}", file.display()),
        ],
    );
    assert_eq!(too_large.status, 413);
    // The connection and the store go on.
    assert_eq!(get(&server, &object).status, 200);
}

#[test]
fn bearer_tokens_are_issued_listed_and_revoked() {
    let server = server();
    let issued = server.command(&["account", "token", "alice", "--label", "phone"], "");
    let out = e2e_tests::succeeded(&issued);
    let token = out
        .lines()
        .next()
        .expect("the token line")
        .trim()
        .to_string();
    assert!(token.starts_with("cpm_"), "{out}");
    let with = |token: &str| {
        call(
            &server,
            None,
            "GET",
            &format!("{BOX}/folders/operations/pathToId?path=%2FINBOX"),
            &["-H", &format!("Authorization: Bearer {token}")],
        )
    };
    assert_eq!(with(&token).status, 200);
    // The same token acts for Alice on WebDAV too.
    let dav = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PROPFIND",
            "-H",
            "Depth: 0",
        ])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("http://{}/dav/alice/INBOX/", server.webdav))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&dav.stdout), "207");
    let wrong = with("cpm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(wrong.status, 401);
    assert!(wrong.headers.contains("Bearer realm"), "{}", wrong.headers);
    // Listed by id and label; never shown again.
    let list = e2e_tests::succeeded(&server.command(&["account", "token", "alice", "--list"], ""));
    assert!(list.contains("phone"), "{list}");
    assert!(!list.contains(&token), "{list}");
    let id = list.split('\t').next().expect("id").trim().to_string();
    let revoked = server.command(&["account", "token", "alice", "--revoke", &id], "");
    assert!(e2e_tests::succeeded(&revoked).contains("1 token(s)"));
    assert_eq!(with(&token).status, 401);
    // The store holds no token, only hashes.
    let stored = server.stored_records();
    assert!(!stored.windows(token.len()).any(|w| w == token.as_bytes()));
}

/// The NMS objects whose `name` attribute is `value` (TS 6.7 Attribute
/// criterion), as the server represents them.
fn search_attribute(server: &Server, base: &str, name: &str, value: &str) -> Vec<Value> {
    let answer = send_json(
        server,
        "POST",
        &format!("{base}/objects/operations/search"),
        &json!({"selectionCriteria": {"maxEntries": 50, "searchCriteria": {"criterion": [
            {"type": "Attribute", "name": name, "value": value}]}}}),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()["objectList"]["object"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The literal of a one-item FETCH answer (`* n FETCH (ITEM {size}` CRLF
/// literal `)`).
fn fetched_literal(lines: &[String]) -> Vec<u8> {
    let line = lines
        .iter()
        .find(|l| l.contains(" FETCH ("))
        .expect("FETCH");
    let bytes = line.as_bytes();
    let start = line.find("}\r\n").expect("a literal") + 3;
    bytes[start..bytes.len() - 1].to_vec()
}

#[test]
fn objects_of_every_protocol_are_one_object_over_nms() {
    require_tool("sipp", "sip-tester");
    let mut server = Server::new();
    server.add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    server.start();
    let base = "/nms/v1/cpm/alice";
    let mut imap = ImapConnection::login(server.imap, "alice", "s3cret");

    // NMS create → IMAP: the message body is the payload, byte for byte.
    let mixed = b"--b1\r\nContent-Type: text/plain\r\n\r\nSee attached\r\n--b1\r\n\
Content-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAAAAACw=\r\n--b1--\r\n";
    let root = json!({"object": {"parentFolderPath": "/nms-made",
        "attributes": {"attribute": [{"name": "Subject", "value": ["made over NMS"]}]},
        "flags": {"flag": []}}});
    let made = create_object_in(
        &server,
        base,
        &root,
        Some(("multipart/mixed; boundary=b1", mixed)),
    );
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    let object = path_of(&made.header("location").expect("Location"));
    let payload = get(&server, &format!("{object}/payload"));
    assert_eq!(payload.body, mixed);
    imap.run("a SELECT nms-made");
    let text = fetched_literal(&imap.run("b FETCH 1 BODY.PEEK[TEXT]"));
    assert_eq!(text, payload.body, "IMAP BODY[TEXT] is the NMS payload");

    // IMAP APPEND → NMS metadata from the header fields.
    let message = "Date: Tue, 12 Nov 2013 08:30:10 +0000\r\nFrom: <tel:+19585550100>\r\n\
To: <sip:alice@example.com>, \"Bob\" <tel:+1555000>\r\nSubject: from IMAP\r\n\
Message-Context: pager-message\r\nMessage-Direction: received\r\n\
Conversation-ID: conv-imap\r\nContent-Type: text/plain\r\n\r\nappended\r\n";
    imap.send(
        format!(
            "c APPEND INBOX (\\Flagged) {{{}+}}\r\n{message}\r\n",
            message.len()
        )
        .as_bytes(),
    );
    let appended = imap.read_until_tagged("c");
    assert!(tagged(&appended).starts_with("c OK"), "{appended:?}");
    let found = search_attribute(&server, base, "Conversation-ID", "conv-imap");
    assert_eq!(found.len(), 1, "{found:?}");
    let o = &found[0];
    assert_eq!(attribute(o, "Date"), vec!["2013-11-12T08:30:10Z"]);
    assert_eq!(attribute(o, "From"), vec!["tel:+19585550100"]);
    assert_eq!(
        attribute(o, "To"),
        vec!["sip:alice@example.com", "tel:+1555000"]
    );
    assert_eq!(attribute(o, "Direction"), vec!["In"]);
    assert_eq!(attribute(o, "Message-Context"), vec!["pager-message"]);
    assert_eq!(attribute(o, "Subject"), vec!["from IMAP"]);
    assert_eq!(attribute(o, "TextContent"), vec!["appended\r\n"]);
    assert_eq!(o["flags"]["flag"], json!(["\\Flagged"]));

    // WebDAV PUT → the NMS payload is the file.
    let gif = e2e_tests::image_bytes(image::ImageFormat::Gif);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("photo.gif");
    std::fs::write(&file, &gif).expect("write");
    let put = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            ALICE,
            "-T",
        ])
        .arg(&file)
        .arg(format!(
            "http://{}/dav/alice/INBOX/photo.gif",
            server.webdav
        ))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&put.stdout), "201");
    let inbox = get(
        &server,
        &format!("{base}/folders/operations/pathToId?path=%2FINBOX"),
    );
    let inbox = path_of(
        inbox.json()["reference"]["resourceURL"]
            .as_str()
            .expect("url"),
    );
    let listing = get(&server, &format!("{inbox}?listFilter=Objects"));
    let refs = listing.json()["folder"]["objects"]["objectReference"].clone();
    let last = refs
        .as_array()
        .and_then(|r| r.last())
        .expect("the PUT object");
    let media = get(
        &server,
        &path_of(last["resourceURL"].as_str().expect("url")),
    );
    let media = media.json()["object"].clone();
    assert_eq!(attribute(&media, "Content-Type"), vec!["image/gif"]);
    let bytes = get(
        &server,
        &path_of(media["payloadURL"].as_str().expect("payloadURL")),
    );
    assert_eq!(
        bytes.body, gif,
        "the NMS payload is the file PUT over WebDAV"
    );
    assert_eq!(bytes.header("content-type").as_deref(), Some("image/gif"));

    // SIP deposit → found over NMS by its Conversation-ID.
    let deposit = Command::new("sipp")
        .arg("-sf")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp/deposit.xml"))
        .args([
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout",
            "60s",
            "-m",
            "2",
            "-t",
            "u1",
        ])
        .args(["-key", "conv", "conv-sip"])
        .arg(server.sip_udp.to_string())
        .args(["-p", &e2e_tests::free_addr().port().to_string()])
        .output()
        .expect("sipp");
    assert!(
        deposit.status.success(),
        "{}",
        String::from_utf8_lossy(&deposit.stdout)
    );
    let deposited = search_attribute(&server, base, "Conversation-ID", "conv-sip");
    assert_eq!(deposited.len(), 2, "{deposited:?}");
    assert_eq!(
        attribute(&deposited[0], "Content-Type"),
        vec!["message/cpim"]
    );
    assert!(attribute(&deposited[0], "IMDN-Message-ID")[0].starts_with("conv-sip-"));
}
