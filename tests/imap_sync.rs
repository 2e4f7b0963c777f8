//! CONDSTORE and QRESYNC (RFC 7162) against `cpm-store serve`: MODSEQ in
//! FETCH, SEARCH and STATUS, conditional STORE, CHANGEDSINCE and VANISHED,
//! and the resynchronization of a client that was away with one SELECT.

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;

fn find<'a>(lines: &'a [String], needle: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} in {lines:?}"))
}

/// The number after `label` in the line (`HIGHESTMODSEQ 7`, `MODSEQ (7)`).
fn number_after(line: &str, label: &str) -> u64 {
    let rest = &line[line
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {line}"))
        + label.len()..];
    rest.trim_start_matches([' ', '('])
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("number after {label} in {line}"))
}

/// An untagged FETCH response.
fn is_fetch(line: &str) -> bool {
    line.starts_with("* ") && line.contains(" FETCH (")
}

fn append_n(c: &mut ImapConnection, mailbox: &str, n: usize) {
    for i in 0..n {
        let m = format!("From: bob@example.com\r\nSubject: {i}\r\n\r\nmessage {i}\r\n");
        c.send(format!("p{i} APPEND {mailbox} {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
    }
    for i in 0..n {
        let lines = c.read_until_tagged(&format!("p{i}"));
        assert!(tagged(&lines).contains("OK"), "{lines:?}");
    }
}

fn highest_modseq(c: &mut ImapConnection, mailbox: &str) -> u64 {
    let lines = c.run(&format!("h STATUS {mailbox} (HIGHESTMODSEQ)"));
    number_after(find(&lines, "* STATUS"), "HIGHESTMODSEQ")
}

#[test]
fn condstore_modseqs_conditional_store_and_changedsince() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let caps = c.run("c CAPABILITY");
    assert!(find(&caps, "* CAPABILITY").contains(" CONDSTORE"));
    assert!(find(&caps, "* CAPABILITY").contains(" QRESYNC"));

    // An empty mailbox has a HIGHESTMODSEQ, which moves when it gains and
    // when it loses messages.
    c.run("a CREATE empty");
    let lines = c.run("s SELECT empty (CONDSTORE)");
    let empty = number_after(find(&lines, "[HIGHESTMODSEQ"), "HIGHESTMODSEQ");
    assert!(empty > 0);
    assert!(tagged(&lines).contains("OK [READ-WRITE]"));
    append_n(&mut c, "empty", 1);
    let gained = highest_modseq(&mut c, "empty");
    assert!(gained > empty, "{gained} after {empty}");
    c.run("n NOOP");
    c.run("d STORE 1 +FLAGS (\\Deleted)");
    let lines = c.run("x EXPUNGE");
    assert!(find(&lines, "* 1 EXPUNGE").contains("EXPUNGE"));
    let lost = highest_modseq(&mut c, "empty");
    assert!(lost > gained, "{lost} after {gained}");
    let lines = c.run("s SELECT empty");
    assert!(find(&lines, "* OK [CLOSED]").contains("CLOSED"));
    assert_eq!(
        number_after(find(&lines, "[HIGHESTMODSEQ"), "HIGHESTMODSEQ"),
        lost
    );
    assert!(find(&lines, "EXISTS").starts_with("* 0 EXISTS"));

    // MODSEQ in FETCH; every store raises it.
    append_n(&mut c, "INBOX", 3);
    c.run("s SELECT INBOX");
    let lines = c.run("f FETCH 1:3 (FLAGS MODSEQ)");
    let first = number_after(find(&lines, "* 1 FETCH"), "MODSEQ");
    let third = number_after(find(&lines, "* 3 FETCH"), "MODSEQ");
    assert!(third > first);
    let lines = c.run("t STORE 2 +FLAGS (\\Flagged)");
    let second = number_after(find(&lines, "* 2 FETCH"), "MODSEQ");
    assert!(second > third, "the store is the newest change");

    // RFC 7162 3.1.3: UNCHANGEDSINCE below message 2's MODSEQ stores on
    // 1 and 3 only, and names 2 in MODIFIED; 0 fails for every message.
    let lines = c.run(&format!(
        "u STORE 1:3 (UNCHANGEDSINCE {third}) +FLAGS (\\Seen)"
    ));
    assert!(tagged(&lines).starts_with("u OK [MODIFIED 2]"), "{lines:?}");
    assert!(find(&lines, "* 1 FETCH").contains("\\Seen"));
    assert!(!lines.iter().any(|l| l.starts_with("* 2 FETCH")));
    let lines = c.run("z UID STORE 1:3 (UNCHANGEDSINCE 0) -FLAGS (\\Seen)");
    assert!(
        tagged(&lines).starts_with("z OK [MODIFIED 1:3]"),
        "{lines:?}"
    );
    // .SILENT still reports the new MODSEQ of what changed.
    let lines = c.run("v UID STORE 1 +FLAGS.SILENT (\\Answered)");
    let answered = number_after(find(&lines, "* 1 FETCH"), "MODSEQ");
    assert!(!find(&lines, "* 1 FETCH").contains("FLAGS"));
    assert!(find(&lines, "* 1 FETCH").contains("UID 1"));

    // CHANGEDSINCE: only what changed after, each with its MODSEQ.
    let lines = c.run(&format!("g FETCH 1:* (FLAGS) (CHANGEDSINCE {second})"));
    let fetched: Vec<&String> = lines.iter().filter(|l| is_fetch(l)).collect();
    assert_eq!(fetched.len(), 2, "{lines:?}");
    assert!(fetched
        .iter()
        .any(|l| l.starts_with("* 1 FETCH") && l.contains(&format!("MODSEQ ({answered})"))));
    assert!(fetched.iter().any(|l| l.starts_with("* 3 FETCH")));

    // SEARCH MODSEQ returns the highest MODSEQ found, in both forms.
    let lines = c.run(&format!("q SEARCH MODSEQ {}", second + 1));
    assert_eq!(
        find(&lines, "* SEARCH"),
        format!("* SEARCH 1 3 (MODSEQ {answered})")
    );
    let lines = c.run(&format!(
        "r UID SEARCH RETURN (COUNT) MODSEQ {}",
        second + 1
    ));
    assert!(find(&lines, "* ESEARCH").ends_with(&format!("COUNT 2 MODSEQ {answered}")));
    // Bad modifiers are BAD, and the session goes on.
    let lines = c.run("b FETCH 1 (FLAGS) (CHANGEDSINCE x)");
    assert!(tagged(&lines).starts_with("b BAD"), "{lines:?}");
    let lines = c.run("b UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)");
    assert!(
        tagged(&lines).starts_with("b BAD"),
        "VANISHED before ENABLE QRESYNC"
    );
    assert!(tagged(&c.run("n NOOP")).starts_with("n OK"));
}

#[test]
fn flag_changes_by_another_session_arrive_with_their_modseq() {
    let server = Server::with_alice();
    let mut a = ImapConnection::login(server.imap, "alice", "secret");
    let mut b = ImapConnection::login(server.imap, "alice", "secret");
    append_n(&mut b, "INBOX", 2);
    let lines = a.run("e ENABLE CONDSTORE");
    assert!(
        lines.iter().any(|l| l == "* ENABLED CONDSTORE"),
        "{lines:?}"
    );
    // `a` selects first and so holds `\Recent` (RFC 3501 2.3.2).
    a.run("s SELECT INBOX");
    b.run("e ENABLE CONDSTORE");
    b.run("s SELECT INBOX");
    let lines = b.run("t STORE 2 +FLAGS ($read-report-sent)");
    let modseq = number_after(find(&lines, "* 2 FETCH"), "MODSEQ");
    let lines = a.run("n NOOP");
    assert_eq!(
        find(&lines, "* 2 FETCH"),
        format!("* 2 FETCH (FLAGS ($read-report-sent \\Recent) MODSEQ ({modseq}))")
    );
    // With QRESYNC the UID comes too, and expunges are VANISHED.
    let lines = a.run("q ENABLE QRESYNC");
    assert!(lines.iter().any(|l| l == "* ENABLED QRESYNC"), "{lines:?}");
    let lines = b.run("t UID STORE 1 +FLAGS (\\Deleted)");
    let deleted = number_after(find(&lines, "* 1 FETCH"), "MODSEQ");
    let lines = a.run("n NOOP");
    assert_eq!(
        find(&lines, "* 1 FETCH"),
        format!("* 1 FETCH (FLAGS (\\Deleted \\Recent) UID 1 MODSEQ ({deleted}))")
    );
    b.run("x EXPUNGE");
    let lines = a.run("n NOOP");
    assert!(lines.iter().any(|l| l == "* VANISHED 1"), "{lines:?}");
    assert!(!lines.iter().any(|l| l.ends_with("EXPUNGE")));
    let lines = a.run("y UID EXPUNGE 2");
    assert!(tagged(&lines).contains("OK"));
}

#[test]
fn vanished_reports_expunges_above_the_highest_remaining_uid() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    append_n(&mut c, "INBOX", 5);
    let before = highest_modseq(&mut c, "INBOX");
    c.run("e ENABLE QRESYNC");
    c.run("s SELECT INBOX");
    c.run("d UID STORE 2,4:5 +FLAGS.SILENT (\\Deleted)");
    let lines = c.run("x EXPUNGE");
    assert!(lines.iter().any(|l| l == "* VANISHED 2,4:5"), "{lines:?}");
    // UIDs 4 and 5 are above the highest remaining UID (3); `1:*` still
    // covers them.
    let lines = c.run(&format!(
        "f UID FETCH 1:* (FLAGS) (CHANGEDSINCE {before} VANISHED)"
    ));
    assert_eq!(find(&lines, "* VANISHED"), "* VANISHED (EARLIER) 2,4:5");
    // Messages 1 and 3 did not change after `before`: no FETCH.
    assert!(!lines.iter().any(|l| is_fetch(l)), "{lines:?}");
}

#[test]
fn a_client_away_across_ten_thousand_changes_resyncs_with_one_select() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    append_n(&mut c, "INBOX", 200);
    let lines = c.run("s SELECT INBOX");
    let validity = number_after(find(&lines, "[UIDVALIDITY"), "UIDVALIDITY");
    let known = number_after(find(&lines, "[HIGHESTMODSEQ"), "HIGHESTMODSEQ");
    // The client goes away. 10,000 changes: 50 keywords on 200 messages,
    // then 20 messages expunged (20 more).
    let mut away = ImapConnection::login(server.imap, "alice", "secret");
    away.run("s SELECT INBOX");
    for k in 0..50 {
        let lines = away.run(&format!("k{k} STORE 1:200 +FLAGS.SILENT (kw{k})"));
        assert!(tagged(&lines).contains("OK"), "{lines:?}");
    }
    away.run("d UID STORE 181:200 +FLAGS.SILENT (\\Deleted)");
    away.run("x EXPUNGE");
    drop(c);

    // Back: one SELECT with what it knew.
    let mut back = ImapConnection::login(server.imap, "alice", "secret");
    back.run("e ENABLE QRESYNC");
    let lines = back.run(&format!(
        "s SELECT INBOX (QRESYNC ({validity} {known} 1:200))"
    ));
    assert!(
        tagged(&lines).contains("OK [READ-WRITE]"),
        "{:?}",
        tagged(&lines)
    );
    assert!(lines.iter().any(|l| l == "* VANISHED (EARLIER) 181:200"));
    let fetched: Vec<&String> = lines.iter().filter(|l| is_fetch(l)).collect();
    assert_eq!(fetched.len(), 180);
    for line in &fetched {
        assert!(line.contains("kw0") && line.contains("kw49"), "{line}");
        assert!(line.contains(" MODSEQ ("), "{line}");
    }
    assert!(find(&lines, "EXISTS").starts_with("* 180 EXISTS"));
    // What it now holds is what a fresh FETCH says.
    let fresh = back.run("f UID FETCH 1:* (FLAGS)");
    assert_eq!(fresh.iter().filter(|l| is_fetch(l)).count(), 180);
    // A QRESYNC with the wrong UIDVALIDITY resyncs nothing.
    let lines = back.run(&format!(
        "s SELECT INBOX (QRESYNC ({} {known}))",
        validity + 1
    ));
    assert!(!lines.iter().any(|l| l.contains("VANISHED") || is_fetch(l)));
    assert!(find(&lines, "* OK [CLOSED]").contains("CLOSED"));
}

/// `cpm_store_commits_total` from the admin endpoint.
fn commits(server: &Server) -> u64 {
    let metrics = server.http_get("/metrics").expect("/metrics");
    let line = find_line(&metrics, "cpm_store_commits_total ");
    line.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect(line)
}

fn find_line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {text}"))
}

#[test]
fn pipelined_stores_are_answered_in_order_as_if_run_one_by_one_and_share_commits() {
    let server = Server::with_alice();
    let mut b = ImapConnection::login(server.imap, "alice", "secret");
    append_n(&mut b, "INBOX", 3);
    // `b` selects first and so holds `\Recent`; `a` sees none.
    b.run("s SELECT INBOX");
    let mut a = ImapConnection::login(server.imap, "alice", "secret");
    a.run("s SELECT INBOX");
    let before = commits(&server);

    // One write: the server finds the STOREs whole in its buffer.
    let mut pipeline = String::from(
        "a1 STORE 1 +FLAGS (\\Flagged)\r\n\
         a2 STORE 1:2 +FLAGS (\\Flagged)\r\n\
         a3 STORE 1 -FLAGS.SILENT (\\Flagged)\r\n\
         a4 STORE 1:2 FLAGS ($x)\r\n\
         a5 STORE 3 +FLAGS (\\Bogus)\r\n\
         a6 UID STORE 2 -FLAGS ($x)\r\n",
    );
    for i in 0..20 {
        let sign = if i % 2 == 0 { '+' } else { '-' };
        pipeline.push_str(&format!("b{i} STORE 3 {sign}FLAGS.SILENT (\\Seen)\r\n"));
    }
    pipeline.push_str("z NOOP\r\n");
    a.send(pipeline.as_bytes());
    let mut answers: Vec<Vec<String>> = Vec::new();
    for tag in ["a1", "a2", "a3", "a4", "a5", "a6"] {
        answers.push(a.read_until_tagged(tag));
    }
    let expected: [&[&str]; 6] = [
        &["* 1 FETCH (FLAGS (\\Flagged))", "a1 OK"],
        // Message 1 was already flagged by a1: still answered, with the
        // flags a1 left (RFC 3501 6.4.6).
        &[
            "* 1 FETCH (FLAGS (\\Flagged))",
            "* 2 FETCH (FLAGS (\\Flagged))",
            "a2 OK",
        ],
        &["a3 OK"],
        &["* 1 FETCH (FLAGS ($x))", "* 2 FETCH (FLAGS ($x))", "a4 OK"],
        &["a5 BAD"],
        &["* 2 FETCH (FLAGS () UID 2)", "a6 OK"],
    ];
    for (lines, expected) in answers.iter().zip(expected) {
        let lines: Vec<&String> = lines
            .iter()
            .filter(|l| !l.starts_with("* FLAGS") && !l.starts_with("* OK [PERMANENTFLAGS"))
            .collect();
        assert_eq!(lines.len(), expected.len(), "{lines:?}");
        for (line, want) in lines.iter().zip(expected) {
            assert!(line.starts_with(want), "{line} is not {want}: {lines:?}");
        }
    }
    for i in 0..20 {
        let lines = a.read_until_tagged(&format!("b{i}"));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(tagged(&lines).starts_with(&format!("b{i} OK")), "{lines:?}");
    }
    // The client knows every flag it set, .SILENT included: nothing is
    // reported back to it.
    let lines = a.read_until_tagged("z");
    assert_eq!(lines.len(), 1, "{lines:?}");
    // Each update was its own durable operation, but they were queued
    // together: far fewer commits than STOREs.
    let used = commits(&server) - before;
    assert!(used <= 4, "{used} commits for 26 pipelined STOREs");

    // Another session sees the end state (and holds `\Recent`).
    b.run("n NOOP");
    let lines = b.run("f FETCH 1:3 (FLAGS)");
    let fetched: Vec<&str> = lines
        .iter()
        .filter(|l| is_fetch(l))
        .map(|l| l.as_str())
        .collect();
    assert_eq!(
        fetched,
        [
            "* 1 FETCH (FLAGS ($x \\Recent))",
            "* 2 FETCH (FLAGS (\\Recent))",
            "* 3 FETCH (FLAGS (\\Recent))"
        ]
    );
}
