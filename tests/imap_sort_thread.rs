//! SORT, THREAD, ESORT and search contexts against `cpm-store serve`:
//! RFC 5256 (SORT, THREAD=ORDEREDSUBJECT, THREAD=REFERENCES), RFC 5957
//! (SORT=DISPLAY), RFC 5267 (ESORT, CONTEXT=SEARCH, CONTEXT=SORT, PARTIAL)
//! and RFC 4731 / 7162 (ESEARCH MIN/MAX with MODSEQ), from a client's side.

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;

fn find<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {lines:?}"))
}

fn ok(c: &mut ImapConnection, command: &str) -> Vec<String> {
    let lines = c.run(command);
    let tag = command.split(' ').next().unwrap_or_default();
    assert!(
        tagged(&lines).starts_with(&format!("{tag} OK")),
        "{command}: {lines:?}"
    );
    lines
}

/// Appends `headers` + a body to `mailbox`, with INTERNALDATE `date`.
fn append(c: &mut ImapConnection, mailbox: &str, date: &str, headers: &str) {
    let m = format!("{headers}\r\n\r\nbody\r\n");
    c.send(format!("ap APPEND {mailbox} \"{date}\" {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
    let lines = c.read_until_tagged("ap");
    assert!(tagged(&lines).starts_with("ap OK"), "{lines:?}");
}

/// The UIDs of the selected mailbox, in sequence order.
fn uids_of(c: &mut ImapConnection) -> Vec<String> {
    ok(c, "u UID FETCH 1:* (UID)")
        .iter()
        .filter_map(|l| l.split("UID ").nth(1))
        .map(|u| u.trim_end_matches(')').to_string())
        .collect()
}

fn session(server: &Server, mailbox: &str) -> ImapConnection {
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&mut c, &format!("s SELECT {mailbox}"));
    c
}

#[test]
fn capabilities_are_advertised() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let caps = ok(&mut c, "c CAPABILITY");
    let caps = find(&caps, "* CAPABILITY");
    for cap in [
        " SORT ",
        " SORT=DISPLAY ",
        " THREAD=ORDEREDSUBJECT ",
        " THREAD=REFERENCES ",
        " ESORT ",
        " CONTEXT=SEARCH ",
        " CONTEXT=SORT ",
    ] {
        assert!(caps.contains(cap), "{cap} in {caps}");
    }
}

/// RFC 5256 3 keys with base subjects (2.1), the i;unicode-casemap order,
/// REVERSE, several keys, UID SORT, and RFC 5957's DISPLAYFROM.
#[test]
fn sort_orders_by_every_key() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&mut c, "c CREATE s");
    let messages = [
        // 1
        (
            "05-Mar-2020 10:00:00 +0000",
            "From: Zed <zed@example.com>\r\nTo: b@example.com\r\n\
             Subject: Re: [list] Lunch (fwd)\r\nDate: Thu, 5 Mar 2020 09:00:00 +0100",
        ),
        // 2
        (
            "01-Mar-2020 10:00:00 +0000",
            "From: amy@example.com\r\nTo: \"Carl\" <c@example.com>\r\n\
             Subject: =?utf-8?q?caf=C3=A9?=\r\nDate: Thu, 5 Mar 2020 07:00:00 +0000",
        ),
        // 3
        (
            "03-Mar-2020 10:00:00 +0000",
            "From: =?utf-8?q?=C3=89mile?= <bob@example.com>\r\nTo: a.longer@example.com\r\n\
             Subject: lunch\r\nDate: Wed, 4 Mar 2020 23:00:00 -0500",
        ),
    ];
    for (date, headers) in messages {
        append(&mut c, "s", date, headers);
    }
    ok(&mut c, "s SELECT s");
    let sort = |c: &mut ImapConnection, args: &str| {
        let lines = ok(c, &format!("t {args}"));
        find(&lines, "* SORT").to_string()
    };
    // "CAFE" < "LUNCH" = "LUNCH" (ties in mailbox order).
    assert_eq!(sort(&mut c, "SORT (SUBJECT) UTF-8 ALL"), "* SORT 2 1 3");
    assert_eq!(
        sort(&mut c, "SORT (REVERSE SUBJECT) UTF-8 ALL"),
        "* SORT 1 3 2"
    );
    assert_eq!(sort(&mut c, "SORT (ARRIVAL) US-ASCII ALL"), "* SORT 2 3 1");
    // Dates in UTC: 1 is 08:00 on the 5th, 2 07:00, 3 04:00.
    assert_eq!(sort(&mut c, "SORT (DATE) UTF-8 ALL"), "* SORT 3 2 1");
    assert_eq!(sort(&mut c, "SORT (FROM) UTF-8 ALL"), "* SORT 2 3 1");
    assert_eq!(sort(&mut c, "SORT (TO) UTF-8 ALL"), "* SORT 3 1 2");
    // Display names decoded: "amy@example.com" < "Émile" < "Zed"
    // (É decomposes to E + accent).
    assert_eq!(sort(&mut c, "SORT (DISPLAYFROM) UTF-8 ALL"), "* SORT 2 3 1");
    assert_eq!(
        sort(&mut c, "SORT (SUBJECT REVERSE ARRIVAL) UTF-8 ALL"),
        "* SORT 2 1 3"
    );
    // 2 has the shorter header (3's To is longer).
    assert_eq!(sort(&mut c, "SORT (SIZE) UTF-8 NOT FROM zed"), "* SORT 2 3");
    assert_eq!(
        sort(&mut c, "SORT (REVERSE SIZE) UTF-8 NOT FROM zed"),
        "* SORT 3 2"
    );
    let uids = uids_of(&mut c);
    let uid_sort = sort(&mut c, "UID SORT (SUBJECT) UTF-8 ALL");
    assert_eq!(
        uid_sort,
        format!("* SORT {} {} {}", uids[1], uids[0], uids[2])
    );
    // Errors: BAD for the syntax, NO [BADCHARSET] for a charset.
    for bad in [
        "b SORT (SUBJECT) ALL",
        "b SORT (REVERSE) UTF-8 ALL",
        "b SORT (COLOR) UTF-8 ALL",
        "b SORT SUBJECT UTF-8 ALL",
    ] {
        assert!(tagged(&c.run(bad)).starts_with("b BAD"), "{bad}");
    }
    assert!(tagged(&c.run("b SORT (SUBJECT) KOI8-R ALL")).contains("BADCHARSET"));
}

/// A CPM conversation is a thread: a chat whose replies carry In-Reply-To
/// and References, stored out of order, with one message whose parent
/// was never stored (a dummy, RFC 5256 4 REFERENCES).
#[test]
fn thread_references_on_a_cpm_conversation() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&mut c, "c CREATE chat");
    let chat = |id: &str, refs: &str, date: &str, subject: &str| {
        format!(
            "From: +15551230001 <tel:+15551230001>\r\nTo: +15551230002 <tel:+15551230002>\r\n\
             Conversation-ID: conv-1\r\nContribution-ID: {id}\r\nMessage-ID: <{id}@cpm>\r\n\
             {refs}Subject: {subject}\r\nDate: {date}"
        )
    };
    let at = |m: u32| format!("Mon, 2 Mar 2020 10:{m:02}:00 +0000");
    // 1: the first message; 2: a reply to it; 3: a reply to 2 (with the
    // whole chain); 4: another reply to 1; 5: a reply to a message this
    // mailbox never got (its parent is a dummy, under 1 by References);
    // 6: an unrelated chat; 7: a late reply to 3 stored first of all.
    let messages = [
        chat(
            "m7",
            "In-Reply-To: <m3@cpm>\r\nReferences: <m1@cpm> <m2@cpm> <m3@cpm>\r\n",
            &at(7),
            "Re: hi",
        ),
        chat("m1", "", &at(1), "hi"),
        chat("m2", "In-Reply-To: <m1@cpm>\r\n", &at(2), "Re: hi"),
        chat(
            "m3",
            "In-Reply-To: <m2@cpm>\r\nReferences: <m1@cpm> <m2@cpm>\r\n",
            &at(3),
            "Re: hi",
        ),
        chat(
            "m4",
            "In-Reply-To: <m1@cpm>\r\nReferences: <m1@cpm>\r\n",
            &at(4),
            "Re: hi",
        ),
        chat(
            "m5",
            "References: <m1@cpm> <gone@cpm>\r\n",
            &at(5),
            "Re: hi",
        ),
        chat("x1", "", &at(6), "other"),
    ];
    for m in &messages {
        append(&mut c, "chat", "02-Mar-2020 12:00:00 +0000", m);
    }
    ok(&mut c, "s SELECT chat");
    // Sequence numbers: m7=1, m1=2, m2=3, m3=4, m4=5, m5=6, x1=7.
    // m1's children by date: m2 (10:02), m4 (10:04), and m5 (10:05) under
    // the pruned dummy <gone>; m2 -> m3 -> m7.
    let lines = ok(&mut c, "t THREAD REFERENCES UTF-8 ALL");
    assert_eq!(find(&lines, "* THREAD"), "* THREAD (2 (3 4 1)(5)(6))(7)");
    // UID THREAD gives the same shape in UIDs.
    let uid = uids_of(&mut c);
    let lines = ok(&mut c, "t UID THREAD REFERENCES UTF-8 ALL");
    assert_eq!(
        find(&lines, "* THREAD"),
        format!(
            "* THREAD ({} ({} {} {})({})({}))({})",
            uid[1], uid[2], uid[3], uid[0], uid[4], uid[5], uid[6]
        )
    );
    // Without the first message, its replies hang from a dummy: the root
    // keeps them together (RFC 5256 4, step 4).
    let lines = ok(
        &mut c,
        "t THREAD REFERENCES UTF-8 NOT HEADER Contribution-ID m1",
    );
    assert_eq!(find(&lines, "* THREAD"), "* THREAD ((3 4 1)(5)(6))(7)");
    // ORDEREDSUBJECT: by base subject ("hi", "other"), first message by
    // date the parent of the others.
    let lines = ok(&mut c, "t THREAD ORDEREDSUBJECT UTF-8 ALL");
    assert_eq!(find(&lines, "* THREAD"), "* THREAD (2 (3)(4)(5)(6)(1))(7)");
    assert!(tagged(&c.run("b THREAD FANCY UTF-8 ALL")).starts_with("b BAD"));
    let lines = ok(&mut c, "t THREAD REFERENCES UTF-8 SUBJECT nothing-matches");
    assert_eq!(find(&lines, "* THREAD"), "* THREAD");
}

/// Subject merging (RFC 5256 4, REFERENCES step 6) and duplicate
/// Message-IDs: replies and forwards join the thread of their base
/// subject, two non-replies with one subject and a dummy with children
/// share a dummy, and a second message with a known Message-ID stands
/// alone. The expected answers are Dovecot 2.3.19's for the same messages.
#[test]
fn thread_merges_subjects_like_dovecot() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&mut c, "c CREATE merge");
    let at = |m: u32| format!("Mon, 2 Mar 2020 10:{m:02}:00 +0000");
    let messages = [
        ("m1", "", 1, "hi"),
        ("m2", "In-Reply-To: <m1@cpm>\r\n", 2, "Re: hi"),
        ("x1", "", 6, "other"),
        ("y1", "", 8, "Fwd: other"),
        ("y2", "", 9, "[list] other (fwd)"),
        ("z1", "References: <q@cpm>\r\n", 10, "zzz"),
        ("z2", "References: <q@cpm>\r\n", 11, "Re: zzz"),
        ("z3", "", 12, "zzz"),
        ("m1", "", 13, "hi again"),
    ];
    for (id, refs, minute, subject) in messages {
        append(
            &mut c,
            "merge",
            "02-Mar-2020 12:00:00 +0000",
            &format!(
                "From: <tel:+15551230001>\r\nMessage-ID: <{id}@cpm>\r\n{refs}\
                 Subject: {subject}\r\nDate: {}",
                at(minute)
            ),
        );
    }
    ok(&mut c, "s SELECT merge");
    let thread = |c: &mut ImapConnection, args: &str| {
        let lines = ok(c, &format!("t THREAD {args}"));
        find(&lines, "* THREAD").to_string()
    };
    assert_eq!(
        thread(&mut c, "REFERENCES UTF-8 ALL"),
        "* THREAD (1 2)(3 (4)(5))((6)(7)(8))(9)"
    );
    assert_eq!(
        thread(&mut c, "ORDEREDSUBJECT UTF-8 ALL"),
        "* THREAD (1 2)(3 (4)(5))(6 (7)(8))(9)"
    );
}

/// A hostile References header (thousands of ids, a loop) and a long
/// reply chain thread quickly and without harm to the connection.
#[test]
fn hostile_references_are_bounded() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&mut c, "c CREATE h");
    let refs: String = (0..5000).map(|i| format!(" <r{i}@x>")).collect();
    append(
        &mut c,
        "h",
        "02-Mar-2020 12:00:00 +0000",
        &format!("Message-ID: <r4999@x>\r\nReferences:{refs} <r4999@x>"),
    );
    for i in 0..150 {
        let parent = if i == 0 {
            "r4999".into()
        } else {
            format!("c{}", i - 1)
        };
        append(
            &mut c,
            "h",
            "02-Mar-2020 12:00:00 +0000",
            &format!("Message-ID: <c{i}@x>\r\nIn-Reply-To: <{parent}@x>"),
        );
    }
    ok(&mut c, "s SELECT h");
    let started = std::time::Instant::now();
    let lines = ok(&mut c, "t THREAD REFERENCES UTF-8 ALL");
    let thread = find(&lines, "* THREAD");
    // One chain: 1 2 3 ... 151, every message once.
    let expected: Vec<String> = (1..=151).map(|n| n.to_string()).collect();
    assert_eq!(thread, format!("* THREAD ({})", expected.join(" ")));
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    ok(&mut c, "n NOOP");
}

/// A Subject of 40 000 empty blobs (`[]`, RFC 5256 2.1) does not freeze
/// SORT or THREAD, nor the other connections while they run.
#[test]
fn hostile_subject_does_not_freeze_the_server() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&mut c, "c CREATE b");
    let subject = format!("{}x", "[]".repeat(40_000));
    append(
        &mut c,
        "b",
        "02-Mar-2020 12:00:00 +0000",
        &format!("Subject: {subject}"),
    );
    append(&mut c, "b", "02-Mar-2020 12:00:00 +0000", "Subject: a");
    ok(&mut c, "s SELECT b");
    let started = std::time::Instant::now();
    c.send(b"o SORT (SIZE) UTF-8 ALL\r\n");
    // Another client is greeted while the SORT runs.
    let other = ImapConnection::connect(server.imap);
    assert!(other.greeting.starts_with("* OK"), "{}", other.greeting);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    let lines = c.read_until_tagged("o");
    assert!(tagged(&lines).starts_with("o OK"), "{lines:?}");
    assert_eq!(find(&lines, "* SORT"), "* SORT 2 1");
    let lines = ok(&mut c, "t THREAD ORDEREDSUBJECT UTF-8 ALL");
    assert_eq!(find(&lines, "* THREAD"), "* THREAD (1)(2)");
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

/// RFC 5267 3.3's ESORT example shape, and PARTIAL (4.4) on SORT and
/// SEARCH.
#[test]
fn esort_and_partial_results() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&mut c, "c CREATE e");
    for (day, size) in [(5, 30), (1, 10), (3, 20), (2, 50), (4, 40)] {
        let pad = "x".repeat(size);
        append(
            &mut c,
            "e",
            &format!("0{day}-Mar-2020 12:00:00 +0000"),
            &format!("Subject: {pad}"),
        );
    }
    ok(&mut c, "s SELECT e");
    ok(&mut c, "f STORE 2 +FLAGS (\\Deleted)");
    // Arrival order: 2 4 3 5 1; without 2 (deleted): 4 3 5 1. MIN and
    // MAX are the lowest and highest *sorted* (RFC 5267 3.1).
    let lines = ok(
        &mut c,
        "A283 SORT RETURN (MIN MAX COUNT ALL) (ARRIVAL) UTF-8 UNDELETED",
    );
    assert_eq!(
        find(&lines, "* ESEARCH"),
        "* ESEARCH (TAG \"A283\") MIN 4 MAX 1 ALL 4,3,5,1 COUNT 4"
    );
    let lines = ok(
        &mut c,
        "p SORT RETURN (PARTIAL 3:2) (REVERSE ARRIVAL) UTF-8 ALL",
    );
    assert_eq!(
        find(&lines, "* ESEARCH"),
        "* ESEARCH (TAG \"p\") PARTIAL (2:3 5,3)"
    );
    let lines = ok(&mut c, "p UID SEARCH RETURN (PARTIAL 9:10) ALL");
    assert_eq!(
        find(&lines, "* ESEARCH"),
        "* ESEARCH (TAG \"p\") UID PARTIAL (9:10 NIL)"
    );
    let lines = ok(&mut c, "p SEARCH RETURN (PARTIAL 2:3 COUNT) ALL");
    assert_eq!(
        find(&lines, "* ESEARCH"),
        "* ESEARCH (TAG \"p\") COUNT 5 PARTIAL (2:3 2:3)"
    );
    for bad in [
        "b SEARCH RETURN (PARTIAL 1) ALL",
        "b SEARCH RETURN (PARTIAL 1:*) ALL",
        "b SEARCH RETURN (PARTIAL 0:2) ALL",
    ] {
        assert!(tagged(&c.run(bad)).starts_with("b BAD"), "{bad}");
    }
}

/// RFC 7162 3.1.5 with RFC 4731: MIN and MAX return the MODSEQ of the
/// message they name; ALL the highest of all.
#[test]
fn esearch_min_max_return_their_own_modseq() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&mut c, "c CREATE m");
    for i in 0..3 {
        append(
            &mut c,
            "m",
            "02-Mar-2020 12:00:00 +0000",
            &format!("Subject: {i}"),
        );
    }
    ok(&mut c, "s SELECT m (CONDSTORE)");
    // Changed in the order 1, 3, 2: 2 has the highest MODSEQ.
    let mut modseq = std::collections::HashMap::new();
    for n in [1, 3, 2] {
        let lines = ok(&mut c, &format!("f STORE {n} +FLAGS (\\Seen)"));
        let m: u64 = find(&lines, &format!("* {n} FETCH"))
            .split("MODSEQ (")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .and_then(|m| m.parse().ok())
            .expect("modseq");
        modseq.insert(n, m);
    }
    let run = |c: &mut ImapConnection, returns: &str| {
        let lines = ok(c, &format!("t SEARCH RETURN ({returns}) MODSEQ 1"));
        find(&lines, "* ESEARCH").to_string()
    };
    assert!(run(&mut c, "MIN").ends_with(&format!("MIN 1 MODSEQ {}", modseq[&1])));
    assert!(run(&mut c, "MAX").ends_with(&format!("MAX 3 MODSEQ {}", modseq[&3])));
    assert!(run(&mut c, "ALL").ends_with(&format!("ALL 1:3 MODSEQ {}", modseq[&2])));
}

/// CONTEXT=SEARCH (RFC 5267 4): a live search in one session sees
/// messages another session appends, flags and expunges, as ADDTO and
/// REMOVEFROM, until CANCELUPDATE.
#[test]
fn search_context_follows_another_session() {
    let server = Server::with_alice();
    let mut a = ImapConnection::login(server.imap, "alice", "secret");
    ok(&mut a, "c CREATE live");
    for i in 0..3 {
        append(
            &mut a,
            "live",
            "02-Mar-2020 12:00:00 +0000",
            &format!("From: bob@example.com\r\nSubject: {i}"),
        );
    }
    ok(&mut a, "s SELECT live");
    let mut b = session(&server, "live");
    let lines = ok(&mut a, "B01 SEARCH RETURN (UPDATE ALL) UNSEEN");
    assert_eq!(find(&lines, "* ESEARCH"), "* ESEARCH (TAG \"B01\") ALL 1:3");
    let lines = ok(
        &mut a,
        "B02 UID SORT RETURN (UPDATE COUNT) (REVERSE ARRIVAL) UTF-8 FROM bob",
    );
    assert_eq!(
        find(&lines, "* ESEARCH"),
        "* ESEARCH (TAG \"B02\") UID COUNT 3"
    );
    let uids = uids_of(&mut a);

    // Another session marks 2 seen: it leaves the UNSEEN result.
    ok(&mut b, "f STORE 2 +FLAGS (\\Seen)");
    let lines = ok(&mut a, "n NOOP");
    assert!(
        lines.contains(&"* ESEARCH (TAG \"B01\") REMOVEFROM (0 2)".to_string()),
        "{lines:?}"
    );
    // It appends a message from bob: both contexts gain it; the sorted
    // one at the first position (newest first; the older ones, which
    // arrived together, stay in mailbox order after it).
    append(
        &mut b,
        "live",
        "03-Mar-2020 12:00:00 +0000",
        "From: bob@example.com\r\nSubject: new",
    );
    let lines = ok(&mut a, "n NOOP");
    assert!(lines.contains(&"* 4 EXISTS".to_string()), "{lines:?}");
    assert!(
        lines.contains(&"* ESEARCH (TAG \"B01\") ADDTO (0 4)".to_string()),
        "{lines:?}"
    );
    let new_uid = uids_of(&mut a)[3].clone();
    assert!(
        lines.contains(&format!("* ESEARCH (TAG \"B02\") UID ADDTO (1 {new_uid})")),
        "{lines:?}"
    );
    // It expunges message 1: REMOVEFROM comes before the EXPUNGE, with
    // the sequence number the client still holds.
    ok(&mut b, "d STORE 1 +FLAGS (\\Deleted)");
    ok(&mut b, "x EXPUNGE");
    let lines = ok(&mut a, "n NOOP");
    let removal = lines
        .iter()
        .position(|l| l == "* ESEARCH (TAG \"B01\") REMOVEFROM (0 1)")
        .unwrap_or_else(|| panic!("{lines:?}"));
    let expunge = lines
        .iter()
        .position(|l| l == "* 1 EXPUNGE")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(removal < expunge, "{lines:?}");
    assert!(
        lines.contains(&format!(
            "* ESEARCH (TAG \"B02\") UID REMOVEFROM (2 {})",
            uids[0]
        )),
        "{lines:?}"
    );
    // After CANCELUPDATE, changes are no longer reported for B01.
    ok(&mut a, "k CANCELUPDATE \"B01\"");
    ok(&mut b, "f STORE 1 -FLAGS (\\Seen)");
    let lines = ok(&mut a, "n NOOP");
    assert!(!lines.iter().any(|l| l.contains("\"B01\"")), "{lines:?}");
    assert!(tagged(&a.run("k CANCELUPDATE \"nope\"")).starts_with("k BAD"));
    // Leaving the mailbox ends every context.
    ok(&mut a, "c CLOSE");
    ok(&mut a, "s SELECT live");
    ok(&mut b, "f STORE 1:* +FLAGS (\\Flagged)");
    append(
        &mut b,
        "live",
        "04-Mar-2020 12:00:00 +0000",
        "From: bob@example.com",
    );
    let lines = ok(&mut a, "n NOOP");
    assert!(!lines.iter().any(|l| l.contains("ESEARCH")), "{lines:?}");
}

/// RFC 5267 4.3.3: one ADDTO pair gives one position for a contiguous
/// run, so a SEARCH context adding messages that are not contiguous in
/// its result uses position 0 (mailbox order); a SORT context gives each
/// its own position. A tag of a live context is not reused (4.3).
#[test]
fn search_context_positions_and_tags() {
    let server = Server::with_alice();
    let mut a = ImapConnection::login(server.imap, "alice", "secret");
    ok(&mut a, "c CREATE gaps");
    for i in 0..5 {
        append(
            &mut a,
            "gaps",
            &format!("0{}-Mar-2020 12:00:00 +0000", i + 1),
            &format!("Subject: {i}"),
        );
    }
    ok(&mut a, "s SELECT gaps");
    let mut b = session(&server, "gaps");
    ok(&mut a, "f STORE 2 +FLAGS (\\Seen)");
    let lines = ok(&mut a, "C1 SEARCH RETURN (UPDATE) SEEN");
    assert_eq!(find(&lines, "* ESEARCH"), "* ESEARCH (TAG \"C1\")");
    let lines = ok(&mut a, "C2 SORT RETURN (UPDATE) (ARRIVAL) UTF-8 SEEN");
    assert_eq!(find(&lines, "* ESEARCH"), "* ESEARCH (TAG \"C2\")");
    // 1 and 3 join the result {2}: positions 1 and 3, not one run.
    ok(&mut b, "f STORE 1,3 +FLAGS (\\Seen)");
    let lines = ok(&mut a, "n NOOP");
    assert!(
        lines.contains(&"* ESEARCH (TAG \"C1\") ADDTO (0 1,3)".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"* ESEARCH (TAG \"C2\") ADDTO (1 1) ADDTO (3 3)".to_string()),
        "{lines:?}"
    );
    ok(&mut b, "f STORE 1,3 -FLAGS (\\Seen)");
    let lines = ok(&mut a, "n NOOP");
    assert!(
        lines.contains(&"* ESEARCH (TAG \"C1\") REMOVEFROM (0 1,3)".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"* ESEARCH (TAG \"C2\") REMOVEFROM (3 3) REMOVEFROM (1 1)".to_string()),
        "{lines:?}"
    );
    // The tag of a live context is refused; after CANCELUPDATE it is free.
    assert!(tagged(&a.run("C1 SEARCH RETURN (UPDATE) ALL")).starts_with("C1 BAD"));
    assert!(tagged(&a.run("C2 SORT RETURN (UPDATE) (SIZE) UTF-8 ALL")).starts_with("C2 BAD"));
    ok(&mut a, "k CANCELUPDATE \"C1\"");
    ok(&mut a, "C1 SEARCH RETURN (UPDATE) ALL");
}
