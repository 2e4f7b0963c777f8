//! The NMS binding (OMA RESTful Network Message Storage) driven by a real
//! HTTP client library: `tests/clients/nms_client.py` (Python's
//! `requests`, with `imaplib` for bulk fixtures over IMAP). Each test
//! starts its own server with Alice (`tel:+15551234567`) and Bob, runs
//! one subcommand of the script against Alice's box, and checks that it
//! succeeded and printed its summary line; the script's output says what
//! was checked, skipped and noted.

use std::path::Path;
use std::process::Command;

use e2e_tests::{require_tool, Server};

/// A started server with `alice` / `s3cret` (address `tel:+15551234567`)
/// and `bob` / `b0bpass`.
fn server() -> Server {
    require_tool("python3", "python3");
    let mut server = Server::new();
    server.add_account_with_address("alice", "s3cret", "tel:+15551234567");
    server.add_account("bob", "b0bpass");
    server.start();
    server
}

/// Runs `nms_client.py <subcommand>` as Alice against `server`; panics
/// with the script's output unless it succeeded. Returns the summary
/// line (the last line of its output), which must start with
/// `<subcommand>: `.
fn run_client(server: &Server, subcommand: &str) -> String {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(here.join("clients/nms_client.py"))
        .arg(subcommand)
        .arg("--base")
        .arg(format!(
            "http://{}/nms/v1/cpm/tel%3A%2B15551234567",
            server.nms
        ))
        .args(["--user", "alice", "--password", "s3cret", "--imap"])
        .arg(server.imap.to_string())
        .arg("--examples")
        .arg(here.join("../crates/nms-server/tests/examples"))
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nms_client.py {subcommand} failed:\n{stdout}{stderr}"
    );
    let summary = stdout.lines().last().unwrap_or_default().to_string();
    assert!(
        summary.starts_with(&format!("{subcommand}: ")),
        "no summary line:\n{stdout}{stderr}"
    );
    // The whole report, for `cargo test -- --nocapture`.
    println!("{stdout}");
    summary
}

/// Appendix D replayed: the fixtures the examples assume are made
/// through the API, then every example's request is sent with its
/// method and body (ids and URLs mapped to the fixtures'), its status
/// checked against the example's and its body against the example
/// response's member names, recursively; the subscription and
/// notification examples (D.58–D.65), D.34 and D.49 are skipped with
/// their reasons, and deliberate differences are printed as notes.
#[test]
fn appendix_d_examples_replay_against_the_server() {
    let server = server();
    let summary = run_client(&server, "appendix-d");
    assert!(
        summary.contains("55 examples replayed, 10 skipped"),
        "{summary}"
    );
    assert!(summary.contains("D.58-D.65: subscriptions"), "{summary}");
}

/// D.20's search paged by cursor (maxEntries 1000, Date ascending)
/// through 10,000 objects appended over IMAP (MULTIAPPEND batches of
/// 100), while a second connection appends 500 more between the pages:
/// every original object is seen exactly once, none is missing, and no
/// object is seen twice.
#[test]
fn search_pages_through_ten_thousand_objects_while_more_arrive() {
    let server = server();
    let summary = run_client(&server, "search-paging");
    assert!(
        summary.starts_with("search-paging: 10000 originals each seen once"),
        "{summary}"
    );
}

/// bulkCreation of 100 objects in one multipart request (100 items of
/// 201, each object's subject and payload as sent); bulkUpdate AddFlag
/// by selectionCriteria (only the selected objects are flagged);
/// bulkDelete by reference (404 after, the rest kept); copyToFolder of a
/// folder tree (same folders and object counts, new ids) and
/// moveToFolder (folder and object ids kept, old paths gone); pathToId
/// for objects and folders by GET and by pathList, each resourceURL
/// showing the path asked for.
#[test]
fn bulk_operations_copy_move_and_path_to_id() {
    let server = server();
    let summary = run_client(&server, "bulk");
    assert!(
        summary.starts_with("bulk: bulkCreation 100x201, bulkUpdate by selection 10 flagged"),
        "{summary}"
    );
}

/// Hostile requests: malformed JSON (400), a streamed 100 MB
/// `root-fields` part (413 before it is read whole, or a closed
/// connection), 10,000 search criteria (400 SVC0002), unknown JSON
/// fields (ignored: 200), unknown enum values (400), a text/plain body
/// to a JSON endpoint (415) and JSON to the object creation (400); each
/// error carries a `requestError` with a messageId, and the server
/// answers a normal request after each.
#[test]
fn hostile_requests_get_ts_errors_and_the_server_stays_up() {
    let server = server();
    let summary = run_client(&server, "hostile");
    for expected in [
        "malformed JSON 400 SVC0002",
        "100MB root-fields: ",
        "10000 criteria 400 SVC0002",
        "unknown fields ignored 200",
        "search type Bogus 400",
        "text/plain search 415",
        "application/json object creation 400",
    ] {
        assert!(summary.contains(expected), "{expected}: {summary}");
    }
}
