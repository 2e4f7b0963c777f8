//! IMAP end to end, on the wire: RFC 3501's own examples replayed against
//! `cpm-store serve`, the sequence-number rules with two sessions, IDLE,
//! and hostile input.

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::{image_bytes, Server};

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

/// RFC 3501 6.3.11's APPEND example message.
const RFC_MESSAGE: &str = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
From: Fred Foobar <foobar@Blurdybloop.COM>\r\n\
Subject: afternoon meeting\r\n\
To: mooch@owatagu.siam.edu\r\n\
Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

/// Appends `message` to `mailbox` with a synchronizing literal, as RFC
/// 3501 6.3.11 shows it.
fn append(
    c: &mut ImapConnection,
    tag: &str,
    mailbox: &str,
    flags: &str,
    message: &str,
) -> Vec<String> {
    c.send(format!("{tag} APPEND {mailbox} {flags} {{{}}}\r\n", message.len()).as_bytes());
    let cont = c.read_response_line().expect("continuation");
    assert!(cont.starts_with('+'), "{cont}");
    c.send(message.as_bytes());
    c.send(b"\r\n");
    c.read_until_tagged(tag)
}

#[test]
fn rfc3501_examples() {
    let server = Server::with_alice();
    let mut c = ImapConnection::connect(server.imap);
    assert!(
        c.greeting.starts_with("* OK [CAPABILITY IMAP4rev1"),
        "{}",
        c.greeting
    );

    // 6.1.1 CAPABILITY
    let r = c.run("abcd CAPABILITY");
    assert!(
        has(&r, "* CAPABILITY IMAP4rev1") && has(&r, "STARTTLS") && has(&r, "AUTH=SCRAM-SHA-256")
    );
    assert_eq!(tagged(&r), "abcd OK CAPABILITY completed");
    // 6.1.2 NOOP before login, commands in the wrong state
    assert!(tagged(&c.run("a002 NOOP")).starts_with("a002 OK"));
    assert!(tagged(&c.run("a003 SELECT INBOX")).starts_with("a003 BAD"));
    // 6.2.3 LOGIN, then LOGIN again is BAD
    assert!(tagged(&c.run("a001 LOGIN alice wrong")).starts_with("a001 NO [AUTHENTICATIONFAILED]"));
    let r = c.run("a001 LOGIN alice secret");
    assert!(
        tagged(&r).starts_with("a001 OK [CAPABILITY IMAP4rev1"),
        "{r:?}"
    );
    assert!(tagged(&c.run("a004 LOGIN alice secret")).starts_with("a004 BAD"));

    // 6.3.3 CREATE with a trailing delimiter; 6.3.8 LIST
    assert!(tagged(&c.run("A003 CREATE owatagusiam/")).starts_with("A003 OK"));
    assert!(tagged(&c.run("A004 CREATE owatagusiam/blurdybloop")).starts_with("A004 OK"));
    let r = c.run("A101 LIST \"\" \"\"");
    assert_eq!(r[0], "* LIST (\\Noselect) \"/\" \"\"");
    let r = c.run("A202 LIST owatagusiam/ %");
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[0].ends_with("\"owatagusiam/blurdybloop\""), "{r:?}");
    let r = c.run("A203 LIST \"\" %");
    assert!(has(&r, "(\\HasChildren) \"/\" \"owatagusiam\""), "{r:?}");
    assert!(has(&r, "\\Sent) \"/\" \"Sent\""), "{r:?}");
    // 6.3.5 RENAME moves the children too; 6.3.4 DELETE
    assert!(tagged(&c.run("A683 RENAME owatagusiam/blurdybloop sarasoop")).starts_with("A683 OK"));
    let r = c.run("A684 LIST \"\" *");
    assert!(
        has(&r, "\"sarasoop\"") && !has(&r, "owatagusiam/blurdybloop"),
        "{r:?}"
    );
    assert!(tagged(&c.run("A685 DELETE sarasoop")).starts_with("A685 OK"));
    assert!(tagged(&c.run("A686 DELETE sarasoop")).starts_with("A686 NO [NONEXISTENT]"));
    assert!(tagged(&c.run("A687 DELETE INBOX")).starts_with("A687 NO"));
    assert!(tagged(&c.run("A688 CREATE INBOX")).starts_with("A688 NO"));
    // 5.1.3 names in modified UTF-7 round-trip
    assert!(
        tagged(&c.run("A689 CREATE \"~peter/mail/&U,BTFw-/&ZeVnLIqe-\"")).starts_with("A689 OK")
    );
    let r = c.run("A690 LIST \"\" ~peter/mail/*");
    assert!(has(&r, "\"~peter/mail/&U,BTFw-/&ZeVnLIqe-\""), "{r:?}");
    // 6.3.6 SUBSCRIBE, 6.3.9 LSUB
    assert!(tagged(&c.run("A002 SUBSCRIBE owatagusiam")).starts_with("A002 OK"));
    let r = c.run("A003 LSUB \"\" *");
    assert!(has(&r, "* LSUB (") && has(&r, "\"owatagusiam\""), "{r:?}");
    // A subscription outlives its folder (RFC 3501 6.3.9).
    c.run("A004 CREATE ephemeral");
    c.run("A005 SUBSCRIBE ephemeral");
    c.run("A006 DELETE ephemeral");
    let r = c.run("A007 LSUB \"\" eph*");
    assert_eq!(r[0], "* LSUB (\\Noselect) \"/\" \"ephemeral\"");

    // 6.3.11 APPEND, with APPENDUID (RFC 4315)
    let r = append(&mut c, "A003", "saturn", "(\\Seen)", RFC_MESSAGE);
    assert!(tagged(&r).starts_with("A003 NO [TRYCREATE]"), "{r:?}");
    let r = append(&mut c, "A004", "INBOX", "(\\Seen)", RFC_MESSAGE);
    assert!(tagged(&r).starts_with("A004 OK [APPENDUID "), "{r:?}");
    let r = append(
        &mut c,
        "A005",
        "INBOX",
        "()",
        "Subject: second\r\n\r\nbody\r\n",
    );
    assert!(tagged(&r).starts_with("A005 OK"), "{r:?}");
    // 6.3.10 STATUS
    let r = c.run("A042 STATUS INBOX (UIDNEXT MESSAGES UNSEEN)");
    assert_eq!(r[0], "* STATUS \"INBOX\" (UIDNEXT 3 MESSAGES 2 UNSEEN 1)");

    // 6.3.1 SELECT
    let r = c.run("A142 SELECT INBOX");
    assert!(
        has(
            &r,
            "* FLAGS (\\Answered \\Deleted \\Draft \\Flagged \\Seen)"
        ),
        "{r:?}"
    );
    assert!(has(&r, "* 2 EXISTS") && has(&r, "* 2 RECENT"), "{r:?}");
    assert!(
        has(&r, "* OK [UNSEEN 2]") && has(&r, "* OK [UIDVALIDITY "),
        "{r:?}"
    );
    assert!(
        has(&r, "* OK [UIDNEXT 3]") && has(&r, "* OK [PERMANENTFLAGS ("),
        "{r:?}"
    );
    assert!(tagged(&r).starts_with("A142 OK [READ-WRITE]"), "{r:?}");

    // 6.4.5 FETCH
    let r = c.run("A654 FETCH 1 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])");
    assert_eq!(
        r[0],
        "* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[HEADER.FIELDS (DATE FROM)] {90}\r\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
From: Fred Foobar <foobar@Blurdybloop.COM>\r\n\r\n)"
    );
    let r = c.run("A655 FETCH 1 (RFC822.SIZE BODY.PEEK[TEXT]<0.9> ENVELOPE)");
    assert!(
        r[0].contains(&format!("RFC822.SIZE {}", RFC_MESSAGE.len())),
        "{r:?}"
    );
    assert!(r[0].contains("BODY[TEXT]<0> {9}\r\nHello Joe"), "{r:?}");
    assert!(r[0].contains("ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"afternoon meeting\" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.COM\"))"), "{r:?}");
    let r = c.run("A656 FETCH 1 BODYSTRUCTURE");
    assert!(
        r[0].contains(
            "BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 55 1"
        ),
        "{r:?}"
    );
    // BODY[] (not PEEK) sets \Seen and reports the new flags.
    let r = c.run("A657 FETCH 2 BODY[]");
    assert!(
        r[0].contains("BODY[] {25}\r\nSubject: second\r\n\r\nbody\r\n"),
        "{r:?}"
    );
    assert!(r[0].contains("FLAGS (\\Seen \\Recent)"), "{r:?}");
    // 6.4.8 UID FETCH always includes the UID; `*:1` is `1:*`.
    let r = c.run("A999 UID FETCH *:1 FLAGS");
    assert!(
        r[0].starts_with("* 1 FETCH (UID 1 FLAGS") && r[1].starts_with("* 2 FETCH (UID 2 "),
        "{r:?}"
    );
    let r = c.run("A998 FETCH 2:1 (UID)");
    assert_eq!(&r[..2], ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)"]);

    // 6.4.4 SEARCH
    let r = c.run("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"");
    assert_eq!(r[0], "* SEARCH");
    let r = c.run("A283 SEARCH TEXT \"meet\" NOT DELETED");
    assert_eq!(r[0], "* SEARCH 1");
    let r = c.run("A284 SEARCH CHARSET UTF-8 SUBJECT {6}\r\nsecond");
    assert!(r.iter().any(|l| l == "* SEARCH 2"), "{r:?}");
    let r = c.run("A285 SEARCH CHARSET KOI8-R SUBJECT x");
    assert!(tagged(&r).starts_with("A285 NO [BADCHARSET"), "{r:?}");
    let r = c.run("A286 UID SEARCH OR SENTON 7-Feb-1994 SUBJECT second");
    assert_eq!(r[0], "* SEARCH 1 2");

    // 6.4.6 STORE, 6.4.7 COPY (COPYUID), 6.4.3 EXPUNGE
    let r = c.run("A003 STORE 2 +FLAGS (\\Deleted)");
    assert_eq!(r[0], "* 2 FETCH (FLAGS (\\Deleted \\Seen \\Recent))");
    let r = c.run("A004 STORE 1 FLAGS.SILENT (\\Flagged $Important)");
    // No FETCH; a new keyword is announced (RFC 3501 7.2.6).
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r[0].starts_with("* FLAGS ($Important "), "{r:?}");
    assert!(tagged(&c.run("A005 STORE 1 +FLAGS (\\Recent)")).starts_with("A005 BAD"));
    let r = c.run("A006 COPY 1:2 Trash");
    assert!(
        tagged(&r).starts_with("A006 OK [COPYUID ") && tagged(&r).contains(" 1:2 1:2]"),
        "{r:?}"
    );
    assert!(tagged(&c.run("A007 COPY 1 nowhere")).starts_with("A007 NO [TRYCREATE]"));
    let r = c.run("A202 EXPUNGE");
    assert_eq!(r[0], "* 2 EXPUNGE");
    assert!(tagged(&r).starts_with("A202 OK"));
    // RFC 6851 MOVE
    let r = c.run("A300 MOVE 1 Archive");
    assert!(
        r[0].starts_with("* OK [COPYUID ") && r[1] == "* 1 EXPUNGE",
        "{r:?}"
    );
    let r = c.run("A301 STATUS Archive (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"Archive\" (MESSAGES 1)");
    // 6.4.2 CLOSE, then selected-state commands are BAD
    assert!(tagged(&c.run("A341 CLOSE")).starts_with("A341 OK"));
    assert!(tagged(&c.run("A342 FETCH 1 FLAGS")).starts_with("A342 BAD"));
    // 6.3.2 EXAMINE is read-only
    let r = c.run("A932 EXAMINE Archive");
    assert!(
        tagged(&r).starts_with("A932 OK [READ-ONLY]") && has(&r, "[PERMANENTFLAGS ()]"),
        "{r:?}"
    );
    assert!(tagged(&c.run("A933 STORE 1 +FLAGS (\\Deleted)")).starts_with("A933 NO"));
    // RFC 2342 NAMESPACE, RFC 2971 ID, RFC 5161 ENABLE, RFC 3691 UNSELECT
    let r = c.run("A934 NAMESPACE");
    assert_eq!(r[0], "* NAMESPACE ((\"\" \"/\")) ((\"Shared/\" \"/\")) NIL");
    let r = c.run("A935 ID (\"name\" \"test\")");
    assert!(r[0].starts_with("* ID (\"name\" \"cpm-store\""), "{r:?}");
    assert!(tagged(&c.run("A936 ENABLE FOO")).starts_with("A936 OK"));
    assert!(tagged(&c.run("A937 UNSELECT")).starts_with("A937 OK"));
    // 6.1.3 LOGOUT
    let r = c.run("A023 LOGOUT");
    assert_eq!(r, ["* BYE Logging out", "A023 OK LOGOUT completed"]);
    assert!(c.read_response_line().is_none());
}

#[test]
fn two_sessions_keep_sequence_numbers_consistent() {
    let server = Server::with_alice();
    let mut a = ImapConnection::login(server.imap, "alice", "secret");
    let mut b = ImapConnection::login(server.imap, "alice", "secret");
    for (i, tag) in ["p1", "p2", "p3"].iter().enumerate() {
        let r = append(
            &mut b,
            tag,
            "INBOX",
            "()",
            &format!("Subject: m{}\r\n\r\nx\r\n", i + 1),
        );
        assert!(tagged(&r).contains("OK"), "{r:?}");
    }
    let r = a.run("s1 SELECT INBOX");
    assert!(has(&r, "* 3 EXISTS"), "{r:?}");
    let r = b.run("s2 SELECT INBOX");
    assert!(has(&r, "* 3 EXISTS") && has(&r, "* 0 RECENT"), "{r:?}");

    // B's flag change and new message reach A at its next command.
    b.run("b1 STORE 1 +FLAGS.SILENT (\\Flagged)");
    append(&mut b, "b2", "INBOX", "()", "Subject: m4\r\n\r\nx\r\n");
    let r = a.run("a1 NOOP");
    assert!(has(&r, "* 1 FETCH (FLAGS (\\Flagged \\Recent))"), "{r:?}");
    // B's own APPEND made message 4 recent to B, not to A (RFC 3501
    // 2.3.2: recent to exactly one session).
    assert!(has(&r, "* 4 EXISTS") && !has(&r, "RECENT"), "{r:?}");

    // B expunges message 2. During FETCH, STORE and SEARCH A gets no
    // EXPUNGE (RFC 3501 7.4.1): its numbers stay as they were.
    b.run("b3 STORE 2 +FLAGS.SILENT (\\Deleted)");
    let r = b.run("b4 EXPUNGE");
    assert!(has(&r, "* 2 EXPUNGE"), "{r:?}");
    let r = a.run("a2 FETCH 3 (UID)");
    assert!(!has(&r, "EXPUNGE") && has(&r, "* 3 FETCH (UID 3)"), "{r:?}");
    let r = a.run("a3 SEARCH ALL");
    // The expunged message is not found, and the others keep the numbers
    // A knows them by (RFC 2180 4.3).
    assert!(!has(&r, "EXPUNGE") && has(&r, "* SEARCH 1 3 4"), "{r:?}");
    // Not yet told, A still reads it (RFC 2180 4.1.1, as Dovecot).
    let r = a.run("a4 FETCH 2 (UID)");
    assert!(
        has(&r, "* 2 FETCH (UID 2)") && tagged(&r).starts_with("a4 OK"),
        "{r:?}"
    );
    // NOOP may report it; then numbers shift down.
    let r = a.run("a5 NOOP");
    assert!(has(&r, "* 2 EXPUNGE"), "{r:?}");
    let r = a.run("a6 FETCH 2:3 (UID)");
    assert_eq!(&r[..2], ["* 2 FETCH (UID 3)", "* 3 FETCH (UID 4)"]);
    // UID commands may report EXPUNGE.
    b.run("b5 STORE 1 +FLAGS.SILENT (\\Deleted)");
    b.run("b6 EXPUNGE");
    let r = a.run("a7 UID FETCH 1:* (UID)");
    assert!(has(&r, "* 1 EXPUNGE"), "{r:?}");
    let r = a.run("a8 FETCH 1:* (UID)");
    assert_eq!(&r[..2], ["* 1 FETCH (UID 3)", "* 2 FETCH (UID 4)"]);
}

#[test]
fn idle_reports_new_messages_and_ends_with_done() {
    let server = Server::with_alice();
    let mut a = ImapConnection::login(server.imap, "alice", "secret");
    let mut b = ImapConnection::login(server.imap, "alice", "secret");
    a.run("s SELECT INBOX");
    b.run("t EXAMINE INBOX");
    a.send(b"i1 IDLE\r\n");
    assert_eq!(a.read_response_line().as_deref(), Some("+ idling"));
    append(
        &mut b,
        "b1",
        "INBOX",
        "()",
        "Subject: during idle\r\n\r\nx\r\n",
    );
    assert_eq!(a.read_response_line().as_deref(), Some("* 1 EXISTS"));
    assert_eq!(a.read_response_line().as_deref(), Some("* 1 RECENT"));
    b.run("b2 SELECT INBOX");
    b.run("b3 STORE 1 +FLAGS.SILENT (\\Seen)");
    assert_eq!(
        a.read_response_line().as_deref(),
        Some("* 1 FETCH (FLAGS (\\Seen \\Recent))")
    );
    a.send(b"DONE\r\n");
    assert_eq!(
        a.read_response_line().as_deref(),
        Some("i1 OK IDLE terminated")
    );
}

#[test]
fn hostile_input_gets_protocol_errors_and_the_server_goes_on() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    assert!(tagged(&c.run("x1 FROBNICATE")).starts_with("x1 BAD"));
    assert!(tagged(&c.run("x2 SELECT \"INBOX")).starts_with("x2 BAD"));
    assert!(tagged(&c.run("x3 CREATE caf\u{e9}")).starts_with("x3 BAD"));
    // Not modified UTF-7: NO, as Dovecot answers (imaptest `atoms`).
    assert!(tagged(&c.run("x4 CREATE &Jjo!")).starts_with("x4 NO"));
    assert!(tagged(&c.run("x5 CREATE &AGE-")).starts_with("x5 NO"));
    assert!(tagged(&c.run("x6 SELECT INBOX")).starts_with("x6 OK"));
    assert!(tagged(&c.run("x7 FETCH 0:3 FLAGS")).starts_with("x7 BAD"));
    assert!(tagged(&c.run("x8 FETCH 1 (FLAGS")).starts_with("x8 BAD"));
    let deep = format!("x9 SEARCH {}ALL{}", "(".repeat(100), ")".repeat(100));
    assert!(tagged(&c.run(&deep)).starts_with("x9 BAD"));
    let r = c.run("x10 STATUS INBOX (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"INBOX\" (MESSAGES 0)");

    // A 2 GB APPEND is refused before any byte is sent; so is a 2 GB
    // literal elsewhere. The connection goes on.
    c.send(b"y1 APPEND INBOX {2147483648}\r\n");
    let r = c.read_until_tagged("y1");
    assert!(tagged(&r).starts_with("y1 NO [TOOBIG]"), "{r:?}");
    c.send(b"y2 LOGIN {2147483648}\r\n");
    let r = c.read_until_tagged("y2");
    assert!(tagged(&r).starts_with("y2 BAD"), "{r:?}");
    assert!(tagged(&c.run("y3 NOOP")).starts_with("y3 OK"));
    // A command line longer than the limit.
    let long = format!("y4 SEARCH SUBJECT \"{}\"", "x".repeat(300_000));
    assert!(tagged(&c.run(&long)).starts_with("y4 BAD"));

    // 10,000 pipelined commands are all answered, in order.
    let mut batch = String::new();
    for i in 0..10_000 {
        batch.push_str(&format!("n{i} NOOP\r\n"));
    }
    c.send(batch.as_bytes());
    for i in 0..10_000 {
        let line = c.read_response_line().expect("answer");
        assert!(line.starts_with(&format!("n{i} OK")), "{line}");
    }

    // An APPEND cut short by a closed connection stores nothing.
    let mut d = ImapConnection::login(server.imap, "alice", "secret");
    d.send(b"z1 APPEND INBOX {1000}\r\n");
    assert!(d.read_response_line().expect("+").starts_with('+'));
    d.send(&[b'a'; 500]);
    drop(d);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let r = c.run("z2 STATUS INBOX (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"INBOX\" (MESSAGES 0)");

    // A flood of garbage is answered with BYE; other clients are served.
    let mut e = ImapConnection::connect(server.imap);
    let mut garbage = String::new();
    for _ in 0..50 {
        garbage.push_str("%%% garbage\r\n");
    }
    e.send(garbage.as_bytes());
    let mut lines = Vec::new();
    while let Some(l) = e.read_response_line() {
        lines.push(l);
    }
    assert!(lines.iter().any(|l| l.starts_with("* BYE")), "{lines:?}");
    assert!(lines.len() < 50, "closed after the limit: {}", lines.len());
    assert!(tagged(&c.run("z3 NOOP")).starts_with("z3 OK"));
}

#[test]
fn cleartext_login_refused_without_tls_when_configured() {
    let mut server = Server::new();
    server.set_settings("imap", "cleartext_auth = \"never\"\n");
    server.add_account("alice", "secret");
    server.start();
    let mut c = ImapConnection::connect(server.imap);
    assert!(c.greeting.contains("LOGINDISABLED") && !c.greeting.contains("AUTH=PLAIN"));
    let r = c.run("a LOGIN alice secret");
    assert!(tagged(&r).starts_with("a NO [PRIVACYREQUIRED]"), "{r:?}");
    let r = c.run("b AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==");
    assert!(tagged(&r).starts_with("b NO [PRIVACYREQUIRED]"), "{r:?}");
}

#[test]
fn a_300_mb_append_keeps_server_memory_flat() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    const SIZE: usize = 300 * 1024 * 1024;
    let header = "Subject: big\r\nContent-Type: application/octet-stream\r\n\r\n";
    c.send(format!("b1 APPEND INBOX {{{SIZE}}}\r\n").as_bytes());
    assert!(c.read_response_line().expect("+").starts_with('+'));
    c.send(header.as_bytes());
    let chunk = vec![b'x'; 1024 * 1024];
    let mut left = SIZE - header.len();
    while left > 0 {
        let n = left.min(chunk.len());
        c.send(&chunk[..n]);
        left -= n;
    }
    c.send(b"\r\n");
    let r = c.read_until_tagged("b1");
    assert!(tagged(&r).starts_with("b1 OK [APPENDUID"), "{r:?}");
    c.run("s SELECT INBOX");
    let r = c.run("f FETCH 1 RFC822.SIZE");
    assert_eq!(r[0], format!("* 1 FETCH (RFC822.SIZE {SIZE})"));
    let peak_kb = server
        .proc_status_kb("VmHWM")
        .expect("server's /proc status");
    eprintln!("server peak resident memory after a {SIZE}-byte APPEND: {peak_kb} kB");
    assert!(
        peak_kb < 128 * 1024,
        "peak resident memory {peak_kb} kB for a {SIZE}-byte APPEND"
    );
}

#[test]
fn connections_per_account_are_limited() {
    let mut server = Server::new();
    server.set_settings("imap", "max_connections_per_account = 2\n");
    server.add_account("alice", "secret");
    server.add_account("bob", "secret");
    server.start();
    let _a1 = ImapConnection::login(server.imap, "alice", "secret");
    let mut a2 = ImapConnection::login(server.imap, "alice", "secret");
    let mut a3 = ImapConnection::connect(server.imap);
    let r = a3.run("l LOGIN alice secret");
    assert!(tagged(&r).starts_with("l NO [LIMIT]"), "{r:?}");
    // Other accounts are not affected; a freed slot can be used again.
    let _b = ImapConnection::login(server.imap, "bob", "secret");
    a2.run("o LOGOUT");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let r = a3.run("m LOGIN alice secret");
    assert!(tagged(&r).starts_with("m OK"), "{r:?}");
}

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    let server = Server::with_alice();
    // RFC 4959 SASL-IR: the credentials on the command line.
    let mut c = ImapConnection::connect(server.imap);
    let r = c.run("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==");
    assert!(
        tagged(&r).starts_with("a OK [CAPABILITY IMAP4rev1"),
        "{r:?}"
    );
    // RFC 3501 6.2.2: an empty challenge, then the credentials.
    let mut c = ImapConnection::connect(server.imap);
    c.send(b"b AUTHENTICATE PLAIN\r\n");
    assert_eq!(c.read_response_line().as_deref(), Some("+ "));
    c.send(b"AGFsaWNlAHdyb25n\r\n");
    let r = c.read_until_tagged("b");
    assert!(
        tagged(&r).starts_with("b NO [AUTHENTICATIONFAILED]"),
        "{r:?}"
    );
    // `*` cancels; an unknown mechanism is refused.
    c.send(b"c AUTHENTICATE PLAIN\r\n");
    c.read_response_line();
    c.send(b"*\r\n");
    assert!(tagged(&c.read_until_tagged("c")).starts_with("c BAD"));
    assert!(tagged(&c.run("d AUTHENTICATE CRAM-MD5")).starts_with("d NO"));
    // RFC 6154 CREATE-SPECIAL-USE after login.
    let r = c.run("e AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==");
    assert!(tagged(&r).starts_with("e OK"), "{r:?}");
    assert!(tagged(&c.run("f CREATE Junk (USE (\\Junk))")).starts_with("f OK"));
    let r = c.run("g LIST \"\" Junk");
    assert_eq!(r[0], "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"");
    let r = c.run("h CREATE Spam (USE (\\Bogus))");
    assert!(tagged(&r).starts_with("h NO [USEATTR]"), "{r:?}");
}

#[test]
fn esearch_return_options() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    for i in 1..=5 {
        let flags = if i % 2 == 0 { "(\\Flagged)" } else { "()" };
        append(
            &mut c,
            &format!("p{i}"),
            "INBOX",
            flags,
            &format!("Subject: n{i}\r\n\r\nx\r\n"),
        );
    }
    c.run("s SELECT INBOX");
    assert!(has(&c.run("c CAPABILITY"), " ESEARCH"));
    // RFC 4731 3.1's examples, on this mailbox.
    let r = c.run("A282 SEARCH RETURN (MIN COUNT) FLAGGED");
    assert_eq!(r[0], "* ESEARCH (TAG \"A282\") MIN 2 COUNT 2");
    let r = c.run("A283 SEARCH RETURN () UNFLAGGED");
    assert_eq!(r[0], "* ESEARCH (TAG \"A283\") ALL 1,3,5");
    let r = c.run("A284 UID SEARCH RETURN (MIN MAX COUNT ALL) 2:4");
    assert_eq!(
        r[0],
        "* ESEARCH (TAG \"A284\") UID MIN 2 MAX 4 ALL 2:4 COUNT 3"
    );
    let r = c.run("A285 SEARCH RETURN (MIN MAX ALL COUNT) KEYWORD nothing");
    assert_eq!(r[0], "* ESEARCH (TAG \"A285\") COUNT 0");
    // A plain SEARCH keeps the RFC 3501 answer.
    assert_eq!(c.run("A286 SEARCH FLAGGED")[0], "* SEARCH 2 4");
}

#[test]
fn list_extended_selection_return_options_and_list_status() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let caps = c.run("c CAPABILITY");
    assert!(caps[0].contains(" LIST-EXTENDED ") && caps[0].contains(" LIST-STATUS"));
    for name in [
        "Fruit",
        "Fruit/Apple",
        "Fruit/Banana",
        "Tofu",
        "Vegetable/Broccoli",
    ] {
        assert!(tagged(&c.run(&format!("a CREATE {name}"))).contains("OK"));
    }
    c.run("s SUBSCRIBE Fruit/Banana");
    c.run("s SUBSCRIBE Tofu");
    c.run("s SUBSCRIBE Peaches");
    let stored = append(&mut c, "a", "Tofu", "()", RFC_MESSAGE);
    assert!(tagged(&stored).contains("OK"), "{stored:?}");

    // RFC 5258 5, example 1 style: the subscription list, with
    // \NonExistent for a subscribed name whose mailbox is gone.
    let lines = c.run("A02 LIST (SUBSCRIBED) \"\" *");
    assert!(has(
        &lines,
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Fruit/Banana\""
    ));
    assert!(has(
        &lines,
        "* LIST (\\NonExistent \\Subscribed) \"/\" \"Peaches\""
    ));
    assert!(has(&lines, "\"Tofu\""));
    assert!(!has(&lines, "\"Fruit/Apple\""), "{lines:?}");
    // Several patterns, and RETURN (SUBSCRIBED) on a normal listing.
    let lines = c.run("A03 LIST \"\" (Fruit Tofu) RETURN (SUBSCRIBED CHILDREN)");
    let listed: Vec<&String> = lines.iter().filter(|l| l.starts_with("* LIST")).collect();
    assert_eq!(listed.len(), 2, "{lines:?}");
    assert!(has(&lines, "* LIST (\\HasChildren) \"/\" \"Fruit\""));
    assert!(has(
        &lines,
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Tofu\""
    ));
    // RECURSIVEMATCH: Fruit is not subscribed, Fruit/Banana is (children
    // attributes are always returned, on such a parent too).
    let lines = c.run("A04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %");
    assert!(
        has(
            &lines,
            "* LIST (\\HasChildren) \"/\" \"Fruit\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"
        ),
        "{lines:?}"
    );
    assert!(!has(&lines, "\"Vegetable\""));
    let lines = c.run("A05 LIST (RECURSIVEMATCH) \"\" %");
    assert!(tagged(&lines).starts_with("A05 BAD"), "{lines:?}");
    // SPECIAL-USE selection.
    let lines = c.run("A06 LIST (SPECIAL-USE) \"\" *");
    assert!(lines
        .iter()
        .filter(|l| l.starts_with("* LIST"))
        .all(|l| l.contains("\\Sent")
            || l.contains("\\Drafts")
            || l.contains("\\Trash")
            || l.contains("\\Archive")
            || l.contains("\\Junk")
            || l.contains("\\All")
            || l.contains("\\Flagged")));
    assert!(has(&lines, "\\Sent"));
    // LIST-STATUS (RFC 5819 example): a STATUS after each selectable
    // mailbox; none for a \NonExistent one.
    let lines = c.run("A07 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))");
    let tofu = lines
        .iter()
        .position(|l| l.starts_with("* LIST") && l.ends_with("\"Tofu\""))
        .expect("Tofu listed");
    assert_eq!(lines[tofu + 1], "* STATUS \"Tofu\" (MESSAGES 1 UNSEEN 1)");
    let lines = c.run("A08 LIST (SUBSCRIBED) \"\" Peaches RETURN (STATUS (MESSAGES))");
    assert!(!has(&lines, "* STATUS"), "{lines:?}");
}

/// `* URLFETCH url {n}` followed by its literal: the data, or `None` for
/// NIL.
fn urlfetched(lines: &[String]) -> Option<String> {
    let line = lines.iter().find(|l| l.starts_with("* URLFETCH"))?;
    if line.ends_with(" NIL") {
        return None;
    }
    line.split_once("}\r\n").map(|(_, data)| data.to_string())
}

#[test]
fn urlauth_references_are_fetched_expire_are_revoked_and_bound_to_users() {
    let mut server = Server::new();
    server.add_account_with_address("alice", "secret", "sip:alice@example.com");
    server.add_account("bob", "secret");
    server.start();
    let mut alice = ImapConnection::login(server.imap, "alice", "secret");
    let caps = alice.run("c CAPABILITY");
    assert!(caps[0].contains(" URLAUTH"));
    append(&mut alice, "a", "INBOX", "()", RFC_MESSAGE);
    let lines = alice.run("s SELECT INBOX");
    let validity = lines
        .iter()
        .find_map(|l| l.strip_prefix("* OK [UIDVALIDITY "))
        .and_then(|r| r.split(']').next())
        .expect("UIDVALIDITY")
        .to_string();
    let host = server.imap.to_string();
    let generate = |c: &mut ImapConnection, rest: &str| -> String {
        let lines = c.run(&format!(
            "g GENURLAUTH \"imap://alice@{host}/INBOX;UIDVALIDITY={validity}/;UID=1{rest}\" INTERNAL"
        ));
        let line = lines
            .iter()
            .find(|l| l.starts_with("* GENURLAUTH "))
            .unwrap_or_else(|| panic!("{lines:?}"));
        line["* GENURLAUTH ".len()..].trim_matches('"').to_string()
    };
    // RFC 4467 7: GENURLAUTH then URLFETCH, the whole message and a part.
    let whole = generate(&mut alice, ";URLAUTH=anonymous");
    assert!(whole.contains(";URLAUTH=anonymous:internal:"), "{whole}");
    let lines = alice.run(&format!("f URLFETCH \"{whole}\""));
    assert_eq!(urlfetched(&lines).as_deref(), Some(RFC_MESSAGE));
    let part = generate(&mut alice, "/;SECTION=1;URLAUTH=authuser");
    let mut bob = ImapConnection::login(server.imap, "bob", "secret");
    let lines = bob.run(&format!("f URLFETCH \"{part}\""));
    assert_eq!(
        urlfetched(&lines).as_deref(),
        Some("Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n")
    );
    // user+bob: bob only.
    let for_bob = generate(&mut alice, ";URLAUTH=user+bob");
    assert_eq!(
        urlfetched(&alice.run(&format!("f URLFETCH \"{for_bob}\""))),
        None
    );
    assert!(urlfetched(&bob.run(&format!("f URLFETCH \"{for_bob}\""))).is_some());
    // submit+bob: the submission identity bob (here: bob's login) only.
    let submit = generate(&mut alice, ";URLAUTH=submit+bob");
    assert!(submit.contains(";URLAUTH=submit+bob:internal:"), "{submit}");
    assert_eq!(
        urlfetched(&alice.run(&format!("f URLFETCH \"{submit}\""))),
        None
    );
    assert!(urlfetched(&bob.run(&format!("f URLFETCH \"{submit}\""))).is_some());
    // A token moved onto another URL, a forged one, an expired one: NIL.
    let token = whole.rsplit(':').next().unwrap();
    let moved = format!("imap://alice@{host}/INBOX/;UID=2;URLAUTH=anonymous:internal:{token}");
    assert_eq!(
        urlfetched(&bob.run(&format!("f URLFETCH \"{moved}\""))),
        None
    );
    let forged = whole.replace(token, "forged");
    assert_eq!(
        urlfetched(&bob.run(&format!("f URLFETCH \"{forged}\""))),
        None
    );
    let expired = generate(&mut alice, ";EXPIRE=2001-01-01T00:00:00Z;URLAUTH=anonymous");
    assert_eq!(
        urlfetched(&bob.run(&format!("f URLFETCH \"{expired}\""))),
        None
    );
    // Another user's mailbox cannot be authorized; other mechanisms fail.
    let lines = bob.run(&format!(
        "g GENURLAUTH \"imap://alice@{host}/INBOX/;UID=1;URLAUTH=anonymous\" INTERNAL"
    ));
    assert!(tagged(&lines).starts_with("g NO"), "{lines:?}");
    let lines = alice.run(&format!(
        "g GENURLAUTH \"imap://alice@{host}/INBOX/;UID=1;URLAUTH=anonymous\" XSAMPLE"
    ));
    assert!(tagged(&lines).starts_with("g NO"), "{lines:?}");

    // The same reference is what SIP fetch by reference takes: a MESSAGE
    // with it as text/uri-list gets 202, then the object.
    let sip = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sip.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let me = sip.local_addr().unwrap();
    let body = format!("{whole}\r\n");
    let message = format!(
        "MESSAGE sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKurl1\r\n\
         From: <sip:cs@example.com>;tag=u1\r\nTo: <sip:alice@example.com>\r\nCall-ID: urlauth-1\r\n\
         CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContact: <sip:cs@{me}>\r\n\
         Content-Type: text/uri-list\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    sip.send_to(message.as_bytes(), server.sip_udp).unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = sip.recv(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"SIP/2.0 202"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let n = sip.recv(&mut buf).unwrap();
    let delivered = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(delivered.starts_with("MESSAGE sip:cs@"), "{delivered}");
    assert!(
        delivered.ends_with(&format!("\r\n\r\n{RFC_MESSAGE}")),
        "{delivered}"
    );

    // RESETKEY revokes every reference into the mailbox.
    let lines = alice.run("r RESETKEY INBOX");
    assert!(tagged(&lines).starts_with("r OK"));
    assert_eq!(
        urlfetched(&alice.run(&format!("f URLFETCH \"{whole}\""))),
        None
    );
    assert_eq!(
        urlfetched(&bob.run(&format!("f URLFETCH \"{part}\""))),
        None
    );
}

#[test]
fn metadata_on_mailboxes_and_the_server_with_its_limits() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.add_account("bob", "secret");
    server.start();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let caps = c.run("c CAPABILITY");
    assert!(caps[0].contains(" METADATA ") && caps[0].contains(" METADATA-SERVER"));
    // RFC 5464 4.3 examples.
    let lines = c.run("a SETMETADATA INBOX (/private/comment \"My new comment\")");
    assert!(tagged(&lines).starts_with("a OK"), "{lines:?}");
    let lines = c.run("a SETMETADATA INBOX (/shared/comment {9+}\r\nTwo\r\nline /shared/x \"y\")");
    assert!(tagged(&lines).starts_with("a OK"), "{lines:?}");
    let lines = c.run("g GETMETADATA INBOX (/private/comment /shared/comment)");
    assert_eq!(
        lines[0],
        "* METADATA \"INBOX\" (/private/comment \"My new comment\" /shared/comment {9}\r\nTwo\r\nline)"
    );
    // DEPTH and MAXSIZE (RFC 5464 4.2.1, 4.2.2).
    let lines = c.run("g GETMETADATA (DEPTH 1) INBOX /shared");
    assert!(lines[0].contains("/shared/comment") && lines[0].contains("/shared/x \"y\""));
    let lines = c.run("g GETMETADATA (MAXSIZE 5) INBOX (/shared/comment /shared/x)");
    assert_eq!(lines[0], "* METADATA \"INBOX\" (/shared/x \"y\")");
    assert!(
        tagged(&lines).starts_with("g OK [METADATA LONGENTRIES 9]"),
        "{lines:?}"
    );
    // Removing an entry; private entries are private.
    c.run("a SETMETADATA INBOX (/shared/x NIL)");
    let lines = c.run("g GETMETADATA INBOX /shared/x");
    assert!(
        !lines.iter().any(|l| l.starts_with("* METADATA")),
        "{lines:?}"
    );
    c.run("s SETACL INBOX bob lr");
    let mut bob = ImapConnection::login(server.imap, "bob", "secret");
    let lines = bob.run("g GETMETADATA Shared/alice/INBOX (/private/comment /shared/comment)");
    assert!(
        lines[0].contains("/shared/comment") && !lines[0].contains("/private"),
        "{lines:?}"
    );
    let lines = bob.run("s SETMETADATA Shared/alice/INBOX (/shared/comment \"mine\")");
    assert!(
        tagged(&lines).starts_with("s NO"),
        "bob has no w right: {lines:?}"
    );
    // Limits: MAXSIZE and TOOMANY.
    let big = "x".repeat(70 * 1024);
    let lines = c.run(&format!(
        "m SETMETADATA INBOX (/private/big {{{}+}}\r\n{big})",
        big.len()
    ));
    assert!(
        tagged(&lines).starts_with("m NO [METADATA MAXSIZE 65536]"),
        "{:?}",
        tagged(&lines)
    );
    let mut hit_limit = false;
    for n in 0..300 {
        let lines = c.run(&format!("t{n} SETMETADATA Sent (/private/e{n} \"v\")"));
        if tagged(&lines).contains("NO [METADATA TOOMANY]") {
            hit_limit = true;
            break;
        }
        assert!(tagged(&lines).contains("OK"), "{lines:?}");
    }
    assert!(hit_limit);
    // The server's entries: private ones writable, shared ones read-only.
    let lines = c.run("v SETMETADATA \"\" (/private/vendor/cpm/theme \"dark\")");
    assert!(tagged(&lines).starts_with("v OK"), "{lines:?}");
    let lines = c.run("v GETMETADATA \"\" /private/vendor/cpm/theme");
    assert_eq!(
        lines[0],
        "* METADATA \"\" (/private/vendor/cpm/theme \"dark\")"
    );
    let lines = c.run("v SETMETADATA \"\" (/shared/admin \"x\")");
    assert!(tagged(&lines).starts_with("v NO [NOPERM]"), "{lines:?}");
    // A bad entry name is BAD, and the session goes on.
    let lines = c.run("b GETMETADATA INBOX /nowhere");
    assert!(tagged(&lines).starts_with("b BAD"), "{lines:?}");
    assert!(tagged(&c.run("n NOOP")).starts_with("n OK"));
}

/// The bytes of the first literal8 (`~{n}\r\n`) in a response line.
fn literal8(line: &[u8]) -> &[u8] {
    let open = line
        .windows(2)
        .position(|w| w == b"~{")
        .expect("a literal8");
    let close = open + line[open..].iter().position(|&b| b == b'}').unwrap();
    let n: usize = std::str::from_utf8(&line[open + 2..close])
        .unwrap()
        .parse()
        .unwrap();
    &line[close + 3..close + 3 + n]
}

#[test]
fn convert_makes_thumbnails_of_a_png_and_a_jpeg() {
    use base64::Engine;
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let caps = c.run("c CAPABILITY");
    assert!(caps[0].contains(" CONVERT"));
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let message = format!(
        "From: bob@example.com\r\nSubject: pictures\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=XX\r\n\r\n\
         --XX\r\nContent-Type: text/plain\r\n\r\nTwo pictures.\r\n\
         --XX\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --XX\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --XX--\r\n",
        b64(&image_bytes(image::ImageFormat::Png)),
        b64(&image_bytes(image::ImageFormat::Jpeg)),
    );
    let lines = c.run(&format!(
        "a APPEND INBOX {{{}+}}\r\n{message}",
        message.len()
    ));
    assert!(tagged(&lines).contains("OK"), "{lines:?}");
    c.run("s SELECT INBOX");
    // RFC 5259 5.1: what the server converts.
    let lines = c.run("v CONVERSIONS \"image/png\" \"image/*\"");
    assert!(lines
        .iter()
        .any(|l| l == "* CONVERSION \"image/png\" \"image/jpeg\" (\"pix-x\" \"pix-y\")"));
    // The PNG (part 2) to a 120x90-box JPEG, and the JPEG (part 3) to PNG.
    for (tag, part, target, format) in [
        ("k1", 2, "image/jpeg", image::ImageFormat::Jpeg),
        ("k2", 3, "image/png", image::ImageFormat::Png),
    ] {
        c.send(
            format!(
                "{tag} UID CONVERT 1 BINARY[{part} (\"{target}\" (\"pix-x\" \"120\" \"pix-y\" \"90\"))]\r\n"
            )
            .as_bytes(),
        );
        let converted = c.read_response_bytes().expect("CONVERTED");
        let head = String::from_utf8_lossy(&converted[..converted.len().min(120)]).into_owned();
        assert!(
            head.starts_with(&format!(
                "* 1 CONVERTED (TAG \"{tag}\") (UID 1 BINARY[{part} (\"{target}\" (\"pix-x\" \"120\" \"pix-y\" \"90\"))] ~{{"
            )),
            "{head}"
        );
        let thumbnail = literal8(&converted);
        assert_eq!(image::guess_format(thumbnail).unwrap(), format);
        let decoded = image::load_from_memory(thumbnail).unwrap();
        // 640x480 fits a 120x90 box exactly, aspect ratio kept.
        assert_eq!((decoded.width(), decoded.height()), (120, 90));
        let done = c.read_until_tagged(tag);
        assert!(tagged(&done).starts_with(&format!("{tag} OK")), "{done:?}");
    }
    // Unsupported target, unknown parameter, a text part: the RFC 5259
    // codes, and the session goes on.
    let lines = c.run("e1 CONVERT 1 BINARY[2 (\"image/webp\")]");
    assert!(
        tagged(&lines).starts_with("e1 NO [BADPARAMETERS]"),
        "{lines:?}"
    );
    let lines = c.run("e2 CONVERT 1 BINARY[2 (\"image/png\" (\"dpi\" \"300\"))]");
    assert!(
        tagged(&lines).starts_with("e2 NO [BADPARAMETERS]"),
        "{lines:?}"
    );
    let lines = c.run("e3 CONVERT 1 BINARY[1 (\"image/png\")]");
    assert!(
        tagged(&lines).starts_with("e3 NO [UNKNOWN-CDATA]"),
        "{lines:?}"
    );
    let lines = c.run("e4 CONVERT 1 BINARY[9 (\"image/png\")]");
    assert!(
        tagged(&lines).starts_with("e4 NO [UNKNOWN-CDATA]"),
        "{lines:?}"
    );
    // One command converts at most 100 messages.
    for n in 0..100 {
        let m = format!("Subject: {n}\r\n\r\nx\r\n");
        c.send(format!("p{n} APPEND INBOX {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
    }
    for n in 0..100 {
        c.read_until_tagged(&format!("p{n}"));
    }
    let lines = c.run("e5 CONVERT 1:* BINARY[2 (\"image/png\")]");
    assert!(
        tagged(&lines).starts_with("e5 NO [MAXCONVERTMESSAGES 100]"),
        "{:?}",
        tagged(&lines)
    );
    assert!(tagged(&c.run("n NOOP")).starts_with("n OK"));
}

#[test]
fn annotations_on_messages_private_and_shared() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.add_account("bob", "secret");
    server.start();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    assert!(c.run("c CAPABILITY")[0].contains(" ANNOTATE-EXPERIMENT-1"));
    append(&mut c, "a", "INBOX", "()", RFC_MESSAGE);
    let lines = c.run("s SELECT INBOX");
    assert!(lines
        .iter()
        .any(|l| l.starts_with("* OK [ANNOTATIONS 65536]")));
    // RFC 5257 3.4 / 3.3 examples.
    let lines = c.run("a STORE 1 ANNOTATION (/comment (value.priv \"My new comment\"))");
    assert!(tagged(&lines).starts_with("a OK"), "{lines:?}");
    let lines = c.run("b UID STORE 1 ANNOTATION (/comment (value.shared \"For all\") /altsubject (value.shared \"Lunch\"))");
    assert!(tagged(&lines).starts_with("b OK"), "{lines:?}");
    let lines = c.run("f FETCH 1 (ANNOTATION (/comment value))");
    assert_eq!(
        lines[0],
        "* 1 FETCH (ANNOTATION (/comment (value.priv \"My new comment\" value.shared \"For all\")))"
    );
    let lines = c.run("f UID FETCH 1 (FLAGS ANNOTATION (* (value.shared size.shared)))");
    assert_eq!(
        lines[0],
        "* 1 FETCH (UID 1 FLAGS (\\Recent) ANNOTATION (/altsubject (value.shared \"Lunch\" size.shared \"5\") /comment (value.shared \"For all\" size.shared \"7\")))"
    );
    // An entry with no value is NIL; removing one with NIL.
    c.run("r STORE 1 ANNOTATION (/comment (value.priv NIL))");
    let lines = c.run("f FETCH 1 (ANNOTATION ((/comment /none) value.priv))");
    assert_eq!(
        lines[0],
        "* 1 FETCH (ANNOTATION (/comment (value.priv NIL) /none (value.priv NIL)))"
    );
    // Another user reading through a shared mailbox sees the shared value
    // and not alice's private one; without `w` it cannot change it.
    c.run("p STORE 1 ANNOTATION (/comment (value.priv \"mine\"))");
    c.run("g SETACL INBOX bob lr");
    let mut bob = ImapConnection::login(server.imap, "bob", "secret");
    bob.run("s EXAMINE Shared/alice/INBOX");
    let lines = bob.run("f FETCH 1 (ANNOTATION (/comment value))");
    assert_eq!(
        lines[0],
        "* 1 FETCH (ANNOTATION (/comment (value.priv NIL value.shared \"For all\")))"
    );
    bob.run("s SELECT Shared/alice/INBOX");
    let lines = bob.run("t STORE 1 ANNOTATION (/comment (value.shared \"bob was here\"))");
    assert!(!tagged(&lines).contains("OK"), "{lines:?}");
    // The CPM flag \read-report-sent is stored like any other; other
    // unknown `\` flags are refused.
    let lines = c.run("k STORE 1 +FLAGS (\\read-report-sent)");
    assert!(lines[0].contains("\\read-report-sent"), "{lines:?}");
    let lines = c.run("k FETCH 1 FLAGS");
    assert!(lines[0].contains("\\read-report-sent"), "{lines:?}");
    let lines = c.run("k STORE 1 +FLAGS (\\Bogus)");
    assert!(tagged(&lines).starts_with("k BAD"), "{lines:?}");
    // Bad attribute names and entries are BAD.
    let lines = c.run("x STORE 1 ANNOTATION (/comment (size.priv \"1\"))");
    assert!(tagged(&lines).starts_with("x BAD"), "{lines:?}");
    let lines = c.run("x STORE 1 ANNOTATION (comment (value.priv \"1\"))");
    assert!(tagged(&lines).starts_with("x BAD"), "{lines:?}");
}

#[test]
fn acl_matrix_each_right_allows_exactly_its_operations() {
    let mut server = Server::new();
    for user in ["alice", "bob", "carol"] {
        server.add_account(user, "secret");
    }
    server.start();
    let mut alice = ImapConnection::login(server.imap, "alice", "secret");
    let mut bob = ImapConnection::login(server.imap, "bob", "secret");
    let ok = |lines: &[String]| tagged(lines).split(' ').nth(1) == Some("OK");
    // (right granted with l, or with lr for the flag rights; operation;
    // whether it is allowed), for every right and every operation.
    let operations = [
        "EXAMINE", "APPEND", "CREATE", "SETACL", "SEEN", "FLAGGED", "DELETED", "EXPUNGE", "DELETE",
    ];
    let needs = |op: &str| match op {
        "EXAMINE" => "r",
        "APPEND" => "i",
        "CREATE" => "k",
        "SETACL" => "a",
        "SEEN" => "s",
        "FLAGGED" => "w",
        "DELETED" => "t",
        "EXPUNGE" => "e",
        _ => "x",
    };
    for right in ["r", "i", "k", "a", "s", "w", "t", "e", "x", "p"] {
        let name = format!("M-{right}");
        alice.run(&format!("c CREATE {name}"));
        append(&mut alice, "a", &name, "(\\Deleted)", RFC_MESSAGE);
        let flag_right = "swte".contains(right);
        let granted = if flag_right {
            format!("lr{right}")
        } else {
            format!("l{right}")
        };
        assert!(ok(&alice.run(&format!("g SETACL {name} bob {granted}"))));
        let shared = format!("Shared/alice/{name}");
        for op in operations {
            let allowed = granted.contains(needs(op));
            let lines = match op {
                "EXAMINE" => bob.run(&format!("o EXAMINE {shared}")),
                "APPEND" => append(&mut bob, "o", &shared, "()", RFC_MESSAGE),
                "CREATE" => bob.run(&format!("o CREATE {shared}/child")),
                "SETACL" => bob.run(&format!("o SETACL {shared} carol l")),
                "SEEN" | "FLAGGED" | "DELETED" => {
                    if !flag_right {
                        continue;
                    }
                    bob.run(&format!("s SELECT {shared}"));
                    let flag = match op {
                        "SEEN" => "\\Seen",
                        "FLAGGED" => "\\Flagged",
                        _ => "\\Deleted",
                    };
                    bob.run(&format!("o STORE 1 +FLAGS ({flag})"))
                }
                "EXPUNGE" => {
                    if !flag_right {
                        continue;
                    }
                    bob.run(&format!("s SELECT {shared}"));
                    bob.run("o EXPUNGE")
                }
                _ => bob.run(&format!("o DELETE {shared}")),
            };
            assert_eq!(
                ok(&lines),
                allowed,
                "bob with {granted} on {name}: {op} -> {:?}",
                tagged(&lines)
            );
            bob.run("u UNSELECT");
        }
    }
    // Bob's SETACL (with `a`) gave carol M-a; alice takes it back.
    assert!(ok(&alice.run("g DELETEACL M-a carol")));
    // carol, granted nothing, sees nothing of alice's: not in LIST, and
    // every command on the names gets NO. `anyone` opens a folder to her.
    let mut carol = ImapConnection::login(server.imap, "carol", "secret");
    let lines = carol.run("l LIST \"\" *");
    assert!(!lines.iter().any(|l| l.contains("alice")), "{lines:?}");
    let lines = carol.run("e EXAMINE Shared/alice/M-r");
    assert!(tagged(&lines).starts_with("e NO"), "{lines:?}");
    assert!(ok(&alice.run("g SETACL M-r anyone lr")));
    let lines = carol.run("e EXAMINE Shared/alice/M-r");
    assert!(ok(&lines), "{lines:?}");
    let lines = carol.run("m MYRIGHTS Shared/alice/M-r");
    assert!(
        lines
            .iter()
            .any(|l| l == "* MYRIGHTS \"Shared/alice/M-r\" lr"),
        "{lines:?}"
    );
}

#[test]
fn capability_lists_every_cpm_extension() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let lines = c.run("c CAPABILITY");
    let caps: Vec<&str> = lines[0].split(' ').collect();
    for cap in [
        "CONDSTORE",
        "QRESYNC",
        "NOTIFY",
        "ACL",
        "METADATA",
        "METADATA-SERVER",
        "ANNOTATE-EXPERIMENT-1",
        "URLAUTH",
        "CONVERT",
        "QUOTA",
        "QUOTA=RES-STORAGE",
        "QUOTA=RES-MESSAGE",
        "ESEARCH",
        "LIST-EXTENDED",
        "LIST-STATUS",
        "SPECIAL-USE",
        "IDLE",
        "ENABLE",
    ] {
        assert!(caps.contains(&cap), "{cap} missing from {}", lines[0]);
    }
}

/// A FETCH repeating HEADER.FIELDS.NOT and decoded BINARY items of a
/// message with a 200 KB header and a base64 body: each literal is made
/// while it is written, so the server's peak memory does not grow with
/// the number of items (review: 2000 such items took 400 MB).
#[test]
fn fetch_of_many_made_literals_keeps_server_memory_bounded() {
    use std::io::{Read, Write};
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let mut message = String::from("Subject: wide\r\nContent-Transfer-Encoding: base64\r\n");
    for i in 0..2000 {
        message.push_str(&format!("X-Fill-{i:04}: {}\r\n", "h".repeat(90)));
    }
    message.push_str("\r\n");
    for _ in 0..2700 {
        // 54 bytes of "decoded!..." per base64 line of 72.
        message.push_str(
            "ZGVjb2RlZCFkZWNvZGVkIWRlY29kZWQhZGVjb2RlZCFkZWNvZGVkIWRlY29kZWQhZGVjb2Rl\r\n",
        );
    }
    c.send(format!("a APPEND INBOX {{{}}}\r\n", message.len()).as_bytes());
    assert!(c.read_response_line().expect("+").starts_with('+'));
    c.send(message.as_bytes());
    c.send(b"\r\n");
    let r = c.read_until_tagged("a");
    assert!(tagged(&r).starts_with("a OK"), "{r:?}");
    c.run("s SELECT INBOX");
    let before_kb = server.proc_status_kb("VmHWM").expect("VmHWM");
    let items = ["BODY.PEEK[HEADER.FIELDS.NOT (Y0)]", "BINARY.PEEK[1]"].repeat(600);
    let command = format!("f FETCH 1 ({})\r\n", items.join(" "));
    // Read raw, counting bytes: the response is about 230 MB.
    let mut stream = std::net::TcpStream::connect(server.imap).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .expect("timeout");
    stream
        .write_all(b"l LOGIN alice secret\r\ns SELECT INBOX\r\n")
        .expect("send");
    stream.write_all(command.as_bytes()).expect("send");
    let mut total = 0usize;
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while !tail.windows(6).any(|w| w == b"\nf OK ") {
        let n = stream.read(&mut buf).expect("read");
        assert!(
            n > 0,
            "connection closed; tail {:?}",
            String::from_utf8_lossy(&tail)
        );
        total += n;
        tail.extend_from_slice(&buf[..n]);
        let keep = tail.len().saturating_sub(64);
        tail.drain(..keep);
    }
    let header_len = message.find("\r\n\r\n").expect("header") + 4;
    assert!(total > 600 * (header_len + 145_800), "{total} bytes");
    let peak_kb = server.proc_status_kb("VmHWM").expect("VmHWM");
    eprintln!("server peak memory {before_kb} kB before, {peak_kb} kB after a {total}-byte FETCH");
    assert!(
        peak_kb < before_kb + 48 * 1024,
        "peak resident memory {peak_kb} kB (from {before_kb} kB) for a {total}-byte FETCH"
    );
}

/// RFC 3516 4.3 APPEND of a literal8 whose `binary` part holds NUL: an
/// IMAP literal may not hold NUL (RFC 3501 4.3), so the part is stored in
/// base64 as Dovecot 2.3 stores it; BINARY[] still returns the octets.
#[test]
fn appended_binary_part_with_nul_is_fetched_as_base64() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let message: &[u8] = b"From: user@domain.org\r\nMime-Version: 1.0\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\
\x00-\xe4\r\n\r\n";
    c.send(format!("a APPEND INBOX ~{{{}+}}\r\n", message.len()).as_bytes());
    c.send(message);
    c.send(b"\r\n");
    let r = c.read_until_tagged("a");
    assert!(tagged(&r).starts_with("a OK"), "{r:?}");
    c.run("s SELECT INBOX");
    let r = c.run("f FETCH 1 (BODY.PEEK[1] BODY.PEEK[1.MIME])");
    assert_eq!(
        r[0],
        "* 1 FETCH (BODY[1] {12}\r\nAC3kDQoNCg== BODY[1.MIME] {119}\r\n\
From: user@domain.org\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n)"
    );
    c.send(b"b FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])\r\n");
    let line = c.read_response_bytes().expect("FETCH");
    assert_eq!(
        line,
        b"* 1 FETCH (BINARY[1] ~{7}\r\n\x00-\xe4\r\n\r\n BINARY.SIZE[1] 7)"
    );
}

/// RFC 5524 3: `URLFETCH (url BINARY BODYPARTSTRUCTURE)` of a base64 part
/// describes the octets BINARY returns (size 11, 0 lines, as Dovecot 2.3
/// answers imaptest's urlauth-binary); without BINARY, the stored part.
#[test]
fn urlfetch_binary_bodypartstructure_describes_the_decoded_part() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let message = "Content-Type: multipart/alternative; boundary=\"sub1\"\r\n\r\n\
--sub1\r\nContent-Type: text/x-myown; charset=us-ascii\r\n\
Content-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8gd29y\r\nbGQ=\r\n\r\n--sub1--\r\n";
    let r = append(&mut c, "a", "INBOX", "()", message);
    assert!(tagged(&r).starts_with("a OK"), "{r:?}");
    let url = part_one_url(&mut c, &server);
    let structure = "(\"TEXT\" \"X-MYOWN\" (\"charset\" \"us-ascii\") NIL NIL \"BASE64\"";
    let r = c.run(&format!("f URLFETCH (\"{url}\" BINARY BODYPARTSTRUCTURE)"));
    assert!(
        r[0].contains(&format!(
            "(BODYPARTSTRUCTURE {structure} 11 0 NIL NIL NIL NIL) BINARY {{11}}\r\nhello world)"
        )),
        "{r:?}"
    );
    let r = c.run(&format!("h URLFETCH (\"{url}\" BODYPARTSTRUCTURE)"));
    assert!(
        r[0].contains(&format!(
            "(BODYPARTSTRUCTURE {structure} 22 3 NIL NIL NIL NIL))"
        )),
        "{r:?}"
    );
}

/// RFC 5524 3 / RFC 3516: URLFETCH BINARY of a message/rfc822 part gives
/// the encapsulated message with the encodings inside it undone (their
/// CTE fields `binary`), and BODYPARTSTRUCTURE with BINARY the sizes of
/// that, as Dovecot 2.3 answers imaptest's urlauth-binary.
#[test]
fn urlfetch_binary_of_a_message_part_decodes_the_parts_inside() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let message = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: message/rfc822\r\n\r\nSubject: sub\r\n\
Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n\
aGVs\r\nbG8gd29y\r\nbGQ=\r\n--b--\r\n";
    let r = append(&mut c, "a", "INBOX", "()", message);
    assert!(tagged(&r).starts_with("a OK"), "{r:?}");
    let url = part_one_url(&mut c, &server);
    let decoded =
        "Subject: sub\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\nhello world";
    let r = c.run(&format!("f URLFETCH (\"{url}\" BINARY BODYPARTSTRUCTURE)"));
    let text = "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"BASE64\"";
    assert!(
        r[0].contains(&format!(
            "\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" {} ",
            decoded.len()
        )) && r[0].contains(&format!("{text} 11 0 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)"))
            && r[0].ends_with(&format!("BINARY {{{}}}\r\n{decoded})", decoded.len())),
        "{r:?}"
    );
    // Without BINARY: the part as stored.
    let r = c.run(&format!("h URLFETCH (\"{url}\" BODYPARTSTRUCTURE)"));
    assert!(r[0].contains(&format!("{text} 20 2 ")), "{r:?}");
}

/// Selects INBOX and gives a `user+alice` URLAUTH URL of UID 1 part 1.
fn part_one_url(c: &mut ImapConnection, server: &Server) -> String {
    c.run("s SELECT INBOX");
    let host = server.imap.to_string();
    let r = c.run(&format!(
        "g GENURLAUTH \"imap://alice@{host}/INBOX/;UID=1/;SECTION=1;URLAUTH=user+alice\" INTERNAL"
    ));
    r.iter()
        .find_map(|l| l.strip_prefix("* GENURLAUTH "))
        .unwrap_or_else(|| panic!("{r:?}"))
        .trim_matches('"')
        .to_string()
}
