//! IMAP extensions against `cpm-store serve`, from the client side:
//! COMPRESS=DEFLATE (RFC 4978) with Python's zlib, UTF8=ACCEPT (RFC 6855)
//! and IMAP4rev2 (RFC 9051) once ENABLEd, names that are not modified
//! UTF-7, LSUB's `\Noselect` parents (RFC 3501 6.3.9), RECURSIVEMATCH
//! parents with children attributes (RFC 5258), NOTIFY's initial STATUS
//! (RFC 5465 5.1).

use std::path::Path;
use std::process::Command;

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::{require_tool, Server};

fn ok(lines: &[String]) {
    assert!(tagged(lines).split(' ').nth(1) == Some("OK"), "{lines:?}");
}

#[test]
fn compress_deflate_round_trips_with_python_zlib() {
    require_tool("python3", "python3");
    let server = Server::with_alice();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/imap_compress.py");
    let out = Command::new("timeout")
        .args(["30", "python3"])
        .arg(&script)
        .args([
            "127.0.0.1",
            &server.imap.port().to_string(),
            "alice",
            "secret",
        ])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains(" COMPRESS=DEFLATE"), "{stdout}");
    // The OK itself is not compressed; the command pipelined behind it
    // is read compressed, and its answer comes back compressed.
    assert!(lines.contains(&"z OK DEFLATE active"), "{stdout}");
    assert!(lines.contains(&"c1 OK Completed"), "{stdout}");
    assert!(
        lines.contains(&"c2 NO [COMPRESSIONACTIVE] DEFLATE active via COMPRESS"),
        "{stdout}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("c4 OK [APPENDUID ")),
        "{stdout}"
    );
    assert!(lines.contains(&"Subject: zz"), "{stdout}");
    assert!(lines.contains(&"c7 OK LOGOUT completed"), "{stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("c8 BAD Command longer than")),
        "{stdout}"
    );
    assert!(lines.contains(&"c9 OK Completed"), "{stdout}");
    assert_eq!(stdout.matches(" BAD ").count(), 1, "{stdout}");
}

#[test]
fn compress_before_login_or_of_another_kind_is_refused() {
    let server = Server::with_alice();
    let mut c = ImapConnection::connect(server.imap);
    let r = c.run("a COMPRESS DEFLATE");
    assert!(tagged(&r).starts_with("a BAD"), "{r:?}");
    ok(&c.run("l LOGIN alice secret"));
    let r = c.run("b COMPRESS LZ4");
    assert!(tagged(&r).starts_with("b BAD"), "{r:?}");
    // Still plain text: the refused COMPRESS changed nothing.
    ok(&c.run("c NOOP"));
}

#[test]
fn utf8_accept_takes_and_lists_utf8_mailbox_names() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    assert!(c.run("c CAPABILITY")[0].contains(" UTF8=ACCEPT"));
    // Before ENABLE: modified UTF-7 both ways; raw 8-bit is no name.
    ok(&c.run("a CREATE Entw&APw-rfe"));
    let r = c.run("b SELECT \"Entwürfe\"");
    assert!(tagged(&r).starts_with("b NO"), "{r:?}");
    let r = c.run("e ENABLE UTF8=ACCEPT");
    assert_eq!(r[0], "* ENABLED UTF8=ACCEPT");
    // RFC 6855 3: names are UTF-8 from now on.
    ok(&c.run("f CREATE \"Заметки/日本語\""));
    let r = c.run("g LIST \"\" *");
    ok(&r);
    assert!(
        r.contains(&"* LIST (\\HasNoChildren) \"/\" \"Entwürfe\"".to_string()),
        "{r:?}"
    );
    assert!(
        r.contains(&"* LIST (\\HasChildren) \"/\" \"Заметки\"".to_string())
            || r.iter().any(|l| l.ends_with("\"Заметки/日本語\"")),
        "{r:?}"
    );
    assert!(r.iter().any(|l| l.ends_with("\"Заметки/日本語\"")), "{r:?}");
    ok(&c.run("h SELECT \"Заметки/日本語\""));
    // RFC 6855 3: strings are UTF-8 now, so SEARCH takes no CHARSET.
    let r = c.run("c SEARCH CHARSET UTF-8 SUBJECT x");
    assert!(tagged(&r).starts_with("c BAD"), "{r:?}");
    ok(&c.run("d SEARCH SUBJECT \"Grüße\""));
    // A second ENABLE enables nothing new.
    assert_eq!(c.run("i ENABLE UTF8=ACCEPT")[0], "* ENABLED");
    // Another session without UTF8=ACCEPT sees the same folder in
    // modified UTF-7.
    let mut other = ImapConnection::login(server.imap, "alice", "secret");
    let r = other.run("j LIST \"\" *");
    assert!(
        r.iter()
            .any(|l| l.ends_with("\"&BBcEMAQ8BDUEQgQ6BDg-/&ZeVnLIqe-\"")),
        "{r:?}"
    );
}

#[test]
fn imap4rev2_once_enabled_has_no_recent() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let caps = c.run("c CAPABILITY");
    assert!(
        caps[0].starts_with("* CAPABILITY IMAP4rev1 IMAP4rev2 "),
        "{caps:?}"
    );
    let r = c.run("s SELECT INBOX");
    assert!(r.iter().any(|l| l.ends_with(" RECENT")), "{r:?}");
    let r = c.run("e ENABLE IMAP4rev2");
    assert_eq!(r[0], "* ENABLED IMAP4rev2");
    let r = c.run("s SELECT INBOX");
    ok(&r);
    assert!(!r.iter().any(|l| l.ends_with(" RECENT")), "{r:?}");
    // Nor when a message arrives.
    let mut other = ImapConnection::login(server.imap, "alice", "secret");
    let m = "Subject: new\r\n\r\nx\r\n";
    ok(&other.run(&format!("a APPEND INBOX {{{}+}}\r\n{m}", m.len())));
    let r = c.run("n NOOP");
    assert_eq!(r, ["* 1 EXISTS", "n OK Completed"]);
    // The message is recent to this session, but FETCH FLAGS leaves
    // `\Recent` out (RFC 9051 appendix E item 6).
    let r = c.run("f FETCH 1 (FLAGS)");
    assert_eq!(r[0], "* 1 FETCH (FLAGS ())", "{r:?}");
    ok(&r);
    // SEARCH without RETURN answers ESEARCH (RFC 9051 6.4.4).
    let r = c.run("r SEARCH ALL");
    assert_eq!(r[0], "* ESEARCH (TAG \"r\") ALL 1", "{r:?}");
    ok(&r);
    let r = c.run("u UID SEARCH ALL");
    assert_eq!(r[0], "* ESEARCH (TAG \"u\") UID ALL 1", "{r:?}");
    let r = c.run("d SEARCH DELETED");
    assert_eq!(r[0], "* ESEARCH (TAG \"d\")", "{r:?}");
    ok(&r);
    // UTF-8 names, as in UTF8=ACCEPT.
    ok(&c.run("k CREATE \"Brouillons-é\""));
    let r = c.run("l LIST \"\" Brouillons*");
    assert!(r.iter().any(|l| l.ends_with("\"Brouillons-é\"")), "{r:?}");
}

#[test]
fn names_that_are_not_modified_utf7_get_no_and_list_goes_on() {
    // imaptest's `atoms` group: every atom character but the wildcards.
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let r = c.run("a SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}");
    assert!(tagged(&r).starts_with("a NO"), "{r:?}");
    let r = c.run("b LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*");
    assert_eq!(r, ["b OK LIST completed"]);
    assert_eq!(c.run("r LIST &Jjo! \"\""), ["r OK LIST completed"]);
    let r = c.run("c CREATE &Jjo!");
    assert!(tagged(&r).starts_with("c NO"), "{r:?}");
    ok(&c.run("d LIST \"\" ~foo"));
    let r = c.run("e SELECT ~foo");
    assert!(tagged(&r).starts_with("e NO"), "{r:?}");
}

#[test]
fn lsub_percent_lists_a_noselect_parent_of_a_subscribed_child() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    for name in ["t/a", "t/b/c", "t/d/e"] {
        ok(&c.run(&format!("c CREATE {name}")));
    }
    ok(&c.run("s SUBSCRIBE t/a"));
    ok(&c.run("s SUBSCRIBE t/b/c"));
    // RFC 3501 6.3.9's example: "foo/bar" subscribed, "foo" not.
    let r = c.run("l LSUB \"\" t/%");
    ok(&r);
    assert!(
        r.contains(&"* LSUB (\\Noselect) \"/\" \"t/b\"".to_string()),
        "{r:?}"
    );
    assert!(r.iter().any(|l| l.ends_with("\"t/a\"")), "{r:?}");
    // Nothing under t/d is subscribed, and t/b/c itself is not at `%`.
    assert!(
        !r.iter().any(|l| l.contains("t/d") || l.contains("t/b/c")),
        "{r:?}"
    );
    // With `*` the child matches, so the parent is not listed.
    let r = c.run("m LSUB \"\" t/*");
    assert!(!r.iter().any(|l| l.ends_with("\"t/b\"")), "{r:?}");
}

#[test]
fn recursivematch_parent_has_children_attribute() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&c.run("c CREATE p/q"));
    ok(&c.run("s SUBSCRIBE p/q"));
    let r = c.run("l LIST (SUBSCRIBED RECURSIVEMATCH) \"\" p% RETURN (CHILDREN)");
    ok(&r);
    assert!(
        r.contains(
            &"* LIST (\\HasChildren) \"/\" \"p\" (\"CHILDINFO\" (\"SUBSCRIBED\"))".to_string()
        ),
        "{r:?}"
    );
    // When the patterns list the child itself, no CHILDINFO parent.
    let r = c.run("m LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (p p/q)");
    assert!(!r.iter().any(|l| l.contains("CHILDINFO")), "{r:?}");
}

#[test]
fn notify_initial_status_carries_uidvalidity() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&c.run("c CREATE n2"));
    let m = "Subject: x\r\n\r\nx\r\n";
    ok(&c.run(&format!("a APPEND n2 {{{}+}}\r\n{m}", m.len())));
    // imaptest's `notify` group: each message event alone is accepted and
    // its STATUS says what that event concerns.
    let r = c.run("n NOTIFY SET STATUS (mailboxes n2 (MessageExpunge))");
    assert_eq!(r, ["* STATUS \"n2\" (MESSAGES 1)", "n OK NOTIFY completed"]);
    let r = c.run("n NOTIFY SET STATUS (mailboxes n2 (MessageNew))");
    ok(&r);
    assert!(
        r[0].starts_with("* STATUS \"n2\" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY "),
        "{r:?}"
    );
    let r = c.run("n NOTIFY SET STATUS (mailboxes n2 (FlagChange))");
    assert!(
        r[0].starts_with("* STATUS \"n2\" (UIDVALIDITY ") && r[0].contains(" HIGHESTMODSEQ "),
        "{r:?}"
    );
    // Without STATUS, none.
    let r = c.run("n NOTIFY SET (mailboxes n2 (MessageNew MessageExpunge FlagChange))");
    assert_eq!(r, ["n OK NOTIFY completed"]);
}

/// RFC 3502 6.3.11's example messages (shortened), as one MULTIAPPEND.
const RFC3502_FIRST: &str = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
    From: Fred Foobar <foobar@Blurdybloop.example.COM>\r\n\
    Subject: afternoon meeting\r\n\
    To: mooch@owatagu.example.net\r\n\r\n\
    Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
const RFC3502_SECOND: &str = "Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\n\
    From: Joe Mooch <mooch@OWaTaGu.example.net>\r\n\
    Subject: Re: afternoon meeting\r\n\
    To: foobar@blurdybloop.example.com\r\n\r\n\
    3:30 is fine with me.\r\n";

#[test]
fn multiappend_stores_all_or_nothing() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    assert!(c.run("c CAPABILITY")[0].contains(" MULTIAPPEND"));
    ok(&c.run("c CREATE saved-messages"));
    // The RFC's form: flags on both, a date on the second, synchronizing
    // literals (each acknowledged with `+`).
    c.send(
        format!(
            "A003 APPEND saved-messages (\\Seen) {{{}}}\r\n",
            RFC3502_FIRST.len()
        )
        .as_bytes(),
    );
    assert!(c.read_response_line().unwrap().starts_with("+ "));
    c.send(
        format!(
            "{RFC3502_FIRST} (\\Seen) \" 1-Jul-2002 22:00:00 -0700\" {{{}}}\r\n",
            RFC3502_SECOND.len()
        )
        .as_bytes(),
    );
    assert!(c.read_response_line().unwrap().starts_with("+ "));
    c.send(format!("{RFC3502_SECOND}\r\n").as_bytes());
    let r = c.read_until_tagged("A003");
    assert_eq!(r.len(), 1, "one tagged response: {r:?}");
    assert!(r[0].starts_with("A003 OK [APPENDUID "), "{r:?}");
    assert!(r[0].contains(" 1:2] "), "{r:?}");
    let r = c.run("s STATUS saved-messages (MESSAGES UNSEEN)");
    assert_eq!(r[0], "* STATUS \"saved-messages\" (MESSAGES 2 UNSEEN 0)");
    // One message that cannot be stored (empty): none is.
    let m = RFC3502_FIRST;
    let r = c.run(&format!(
        "b APPEND saved-messages {{{}+}}\r\n{m} {{0+}}\r\n {{{}+}}\r\n{m}",
        m.len(),
        m.len()
    ));
    assert!(tagged(&r).starts_with("b NO"), "{r:?}");
    let r = c.run("s STATUS saved-messages (MESSAGES UIDNEXT)");
    assert_eq!(r[0], "* STATUS \"saved-messages\" (MESSAGES 2 UIDNEXT 3)");
    // Past the account's message quota with the second message: the
    // store refuses the transaction, so the first is not kept either.
    let quota = server.command(&["account", "quota", "alice", "--max-objects", "3"], "");
    assert!(quota.status.success(), "{quota:?}");
    let r = c.run(&format!(
        "q APPEND saved-messages {{{}+}}\r\n{m} {{{}+}}\r\n{m}",
        m.len(),
        m.len()
    ));
    assert!(tagged(&r).starts_with("q NO"), "{r:?}");
    let r = c.run("s STATUS saved-messages (MESSAGES UIDNEXT)");
    assert_eq!(r[0], "* STATUS \"saved-messages\" (MESSAGES 2 UIDNEXT 3)");
    // A missing mailbox: TRYCREATE, and nothing anywhere.
    let r = c.run(&format!(
        "d APPEND nowhere {{{}+}}\r\n{m} {{{}+}}\r\n{m}",
        m.len(),
        m.len()
    ));
    assert!(tagged(&r).starts_with("d NO [TRYCREATE]"), "{r:?}");
}

#[test]
fn unauthenticate_returns_to_the_not_authenticated_state() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.add_account("bob", "secret");
    server.start();
    let mut c = ImapConnection::connect(server.imap);
    assert!(!c.greeting.contains("UNAUTHENTICATE"));
    let r = c.run("a UNAUTHENTICATE");
    assert!(tagged(&r).starts_with("a BAD"), "{r:?}");
    ok(&c.run("l LOGIN alice secret"));
    assert!(c.run("c CAPABILITY")[0].contains(" UNAUTHENTICATE"));
    ok(&c.run("e ENABLE UTF8=ACCEPT"));
    ok(&c.run("s SELECT INBOX"));
    ok(&c.run("u UNAUTHENTICATE"));
    // Not authenticated: the mailbox is closed, commands need a login.
    let r = c.run("f FETCH 1 FLAGS");
    assert!(tagged(&r).starts_with("f BAD"), "{r:?}");
    let r = c.run("g LIST \"\" *");
    assert!(tagged(&r).starts_with("g BAD"), "{r:?}");
    let caps = c.run("c CAPABILITY");
    assert!(caps[0].contains("AUTH=PLAIN") && !caps[0].contains("UNAUTHENTICATE"));
    // Another login on the same connection, as someone else; what the
    // first ENABLEd is gone.
    let r = c.run("w LOGIN bob wrong");
    assert!(tagged(&r).starts_with("w NO"), "{r:?}");
    ok(&c.run("m LOGIN bob secret"));
    let r = c.run("k CREATE \"Entwürfe\"");
    assert!(
        tagged(&r).starts_with("k NO"),
        "modified UTF-7 again: {r:?}"
    );
    let r = c.run("s SELECT INBOX");
    ok(&r);
    assert!(r.iter().any(|l| l.ends_with(" RECENT")), "{r:?}");

    // The login throttle holds across UNAUTHENTICATE: after three
    // failures (the default `login_failures_before_throttle`), the next
    // attempt waits a second before it is even checked.
    ok(&c.run("v UNAUTHENTICATE"));
    for tag in ["x1", "x2", "x3"] {
        let r = c.run(&format!("{tag} LOGIN bob wrong"));
        assert!(tagged(&r).starts_with(&format!("{tag} NO")), "{r:?}");
    }
    let start = std::time::Instant::now();
    let r = c.run("x4 LOGIN bob wrong");
    assert!(tagged(&r).starts_with("x4 NO"), "{r:?}");
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_nul_byte_needs_literal8() {
    // RFC 3516 4.2: binary content (a NUL) only in a literal8 `~{n}`.
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let m: &[u8] = b"Content-Transfer-Encoding: binary\r\n\r\na\0b\r\n";
    let mut cmd = format!("a APPEND INBOX {{{}+}}\r\n", m.len()).into_bytes();
    cmd.extend_from_slice(m);
    cmd.extend_from_slice(b"\r\n");
    c.send(&cmd);
    let r = c.read_until_tagged("a");
    assert!(tagged(&r).starts_with("a BAD"), "{r:?}");
    // The literal was read to its end: the next command is in step.
    let mut cmd = format!("b APPEND INBOX ~{{{}+}}\r\n", m.len()).into_bytes();
    cmd.extend_from_slice(m);
    cmd.extend_from_slice(b"\r\n");
    c.send(&cmd);
    let r = c.read_until_tagged("b");
    assert!(tagged(&r).starts_with("b OK [APPENDUID "), "{r:?}");
    let r = c.run("s STATUS INBOX (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"INBOX\" (MESSAGES 1)");
}

/// A draft with one text part and an attachment, as in RFC 4469 5's
/// example (shortened): the client forwards it with a new text part.
const DRAFT: &str = "From: a@example.com\r\n\
    Subject: draft\r\n\
    MIME-Version: 1.0\r\n\
    Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
    --b1\r\n\
    Content-Type: text/plain\r\n\r\n\
    old text\r\n\
    --b1\r\n\
    Content-Type: application/octet-stream\r\n\r\n\
    ATTACHMENT\r\n\
    --b1--\r\n";

#[test]
fn catenate_builds_a_message_from_text_and_urls() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    assert!(c.run("c CAPABILITY")[0].contains(" CATENATE"));
    let r = c.run(&format!("a APPEND Drafts {{{}+}}\r\n{DRAFT}", DRAFT.len()));
    let validity = tagged(&r).split(' ').nth(3).expect("APPENDUID").to_string();
    // The header of the draft, new text, the draft's attachment part by
    // URL (absolute and relative forms), with synchronizing literals.
    let text1 = "\r\n--b1\r\nContent-Type: text/plain\r\n\r\nnew text\r\n--b1\r\n";
    let text2 = "\r\n--b1--\r\n";
    c.send(
        format!(
            "A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE \
             (URL \"/Drafts;UIDVALIDITY={validity}/;UID=1/;section=HEADER\" TEXT {{{}}}\r\n",
            text1.len()
        )
        .as_bytes(),
    );
    assert!(c.read_response_line().unwrap().starts_with("+ "));
    c.send(
        format!(
            "{text1} URL \"imap://alice@localhost/Drafts/;UID=1/;section=2.MIME\" \
             URL \"/Drafts/;UID=1/;section=2\" TEXT {{{}+}}\r\n{text2})\r\n",
            text2.len()
        )
        .as_bytes(),
    );
    let r = c.read_until_tagged("A003");
    assert!(tagged(&r).starts_with("A003 OK [APPENDUID "), "{r:?}");
    assert!(tagged(&r).contains(" 2] "), "{r:?}");
    ok(&c.run("s SELECT Drafts"));
    let r = c.run("f UID FETCH 2 (FLAGS BODY.PEEK[])");
    let header_end = DRAFT.find("\r\n\r\n").unwrap() + 4;
    let expected = format!(
        "{}{text1}Content-Type: application/octet-stream\r\n\r\nATTACHMENT{text2}",
        &DRAFT[..header_end]
    );
    assert!(r[0].contains("$MDNSent"), "{r:?}");
    assert!(
        r[0].ends_with(&format!("{{{}}}\r\n{expected})", expected.len())),
        "{r:?}"
    );
    // A URL to nothing: NO [BADURL], and no message is stored.
    let r = c.run("b APPEND Drafts CATENATE (TEXT {3+}\r\nabc URL \"/Drafts/;UID=99\")");
    assert!(
        tagged(&r).starts_with("b NO [BADURL /Drafts/;UID=99]"),
        "{r:?}"
    );
    // Another user's mailbox by absolute URL is not readable here.
    let r = c.run("d APPEND Drafts CATENATE (URL \"imap://bob@localhost/INBOX/;UID=1\")");
    assert!(tagged(&r).starts_with("d NO [BADURL "), "{r:?}");
    // Combined with MULTIAPPEND: a literal, then a CATENATE.
    let m = "Subject: plain\r\n\r\nx\r\n";
    let r = c.run(&format!(
        "m APPEND Drafts {{{}+}}\r\n{m} CATENATE (URL \"/Drafts/;UID=1/;section=HEADER\" TEXT {{4+}}\r\nbody)",
        m.len()
    ));
    assert!(tagged(&r).starts_with("m OK [APPENDUID "), "{r:?}");
    assert!(tagged(&r).contains(" 3:4] "), "{r:?}");
    let r = c.run("s STATUS Drafts (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"Drafts\" (MESSAGES 4)");
}

#[test]
fn catenate_past_appendlimit_is_toobig() {
    let mut server = Server::new();
    server.set_settings("imap", "max_append_bytes = 1000\n");
    server.add_account("alice", "secret");
    server.start();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let m = "Subject: x\r\n\r\n".to_string() + &"y".repeat(600);
    ok(&c.run(&format!("a APPEND INBOX {{{}+}}\r\n{m}", m.len())));
    let r = c.run("b APPEND INBOX CATENATE (URL \"/INBOX/;UID=1\" URL \"/INBOX/;UID=1\")");
    assert!(tagged(&r).starts_with("b NO [TOOBIG]"), "{r:?}");
    let r = c.run("s STATUS INBOX (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"INBOX\" (MESSAGES 1)");
}

#[test]
fn utf8_append_data_once_utf8_accept_is_enabled() {
    // RFC 6855 4: `UTF8 (~{n}...)`, a message with raw UTF-8 headers.
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let m = "Subject: Grüße\r\n\r\nHallo\r\n";
    let cmd = format!("a APPEND INBOX UTF8 (~{{{}+}}\r\n{m})", m.len());
    let r = c.run(&cmd);
    assert!(tagged(&r).starts_with("a BAD"), "not before ENABLE: {r:?}");
    ok(&c.run("e ENABLE UTF8=ACCEPT"));
    let r = c.run(&cmd.replacen("a ", "b ", 1));
    assert!(tagged(&r).starts_with("b OK [APPENDUID "), "{r:?}");
    ok(&c.run("s SELECT INBOX"));
    let r = c.run("f FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
    assert!(r[0].contains("Subject: Grüße"), "{r:?}");
}

#[test]
fn mbsync_negotiates_compress_and_syncs_over_it() {
    // isync 1.4 sends COMPRESS DEFLATE when offered.
    require_tool("mbsync", "isync");
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    for i in 0..3 {
        let m = format!("Subject: m{i}\r\n\r\n{}\r\n", "body ".repeat(2000));
        ok(&c.run(&format!("a APPEND INBOX {{{}+}}\r\n{m}", m.len())));
    }
    let local = tempfile::tempdir().expect("temp");
    let root = local.path().join("mail");
    std::fs::create_dir(&root).expect("mail dir");
    let config = local.path().join("mbsyncrc");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount cpm\nHost 127.0.0.1\nPort {port}\nUser alice\nPass secret\n\
SSLType None\nAuthMechs LOGIN\n\n\
IMAPStore remote\nAccount cpm\n\n\
MaildirStore local\nPath {root}/\nInbox {root}/INBOX\nSubFolders Verbatim\n\n\
Channel sync\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Both\nSyncState *\n",
            port = server.imap.port(),
            root = root.display(),
        ),
    )
    .expect("write mbsyncrc");
    let out = Command::new("timeout")
        .args(["60", "mbsync", "-Dn", "-c"])
        .arg(&config)
        .arg("-a")
        .output()
        .expect("run mbsync");
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains(">>> 2 COMPRESS DEFLATE"), "{log}");
    let count = std::fs::read_dir(root.join("INBOX/new"))
        .expect("new")
        .count()
        + std::fs::read_dir(root.join("INBOX/cur"))
            .expect("cur")
            .count();
    assert_eq!(count, 3, "{log}");
}

/// One APPEND's messages are bounded together (RFC 3502, RFC 7889): their
/// total bytes by APPENDLIMIT (`NO [TOOBIG]`), their count by 1000
/// (`NO [LIMIT]`, RFC 5530), each refused at the literal that crosses it,
/// before the client sends it; nothing of the command is stored and the
/// connection goes on.
#[test]
fn multiappend_is_bounded_in_total_bytes_and_count() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.set_settings("imap", "max_append_bytes = 20000\n");
    server.start();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let m = format!("Subject: m\r\n\r\n{}\r\n", "x".repeat(7984));
    assert_eq!(m.len(), 8000);
    // Each message fits APPENDLIMIT; the third crosses it in total.
    c.send(format!("t APPEND INBOX {{{}}}\r\n", m.len()).as_bytes());
    for _ in 0..2 {
        assert!(c.read_response_line().unwrap().starts_with("+ "));
        c.send(format!("{m} {{{}}}\r\n", m.len()).as_bytes());
    }
    let r = c.read_until_tagged("t");
    assert!(tagged(&r).starts_with("t NO [TOOBIG]"), "{r:?}");
    let r = c.run("s STATUS INBOX (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"INBOX\" (MESSAGES 0)");

    // 1000 messages are taken; the 1001st literal is refused.
    let m = "S: m\r\n\r\n.\r\n";
    c.send(format!("u APPEND INBOX {{{}}}\r\n", m.len()).as_bytes());
    for _ in 0..1000 {
        assert!(c.read_response_line().unwrap().starts_with("+ "));
        c.send(format!("{m} {{{}}}\r\n", m.len()).as_bytes());
    }
    let r = c.read_until_tagged("u");
    assert!(tagged(&r).starts_with("u NO [LIMIT]"), "{r:?}");
    let r = c.run("s STATUS INBOX (MESSAGES)");
    assert_eq!(r[0], "* STATUS \"INBOX\" (MESSAGES 0)");
    let r = c.run(&format!("v APPEND INBOX {{{}+}}\r\n{m}", m.len()));
    assert!(tagged(&r).starts_with("v OK [APPENDUID "), "{r:?}");
}

/// A client compressing (RFC 4978), then back to the not authenticated
/// state (UNAUTHENTICATE, RFC 8437), is neither offered nor granted
/// STARTTLS: TLS cannot start beneath the compression layer (RFC 4978 4).
/// Driven by python3's zlib as the raw-DEFLATE client.
#[test]
fn starttls_after_compress_is_refused_and_not_offered() {
    require_tool("python3", "python3");
    let server = Server::with_alice();
    let script = r#"
import socket, sys, zlib
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
def plain(line):
    s.sendall(line + b"\r\n")
    tag = line.split(b" ")[0]
    while True:
        l = f.readline()
        if l.startswith(tag + b" "):
            return l
f.readline()
plain(b"l LOGIN alice secret")
print(plain(b"z COMPRESS DEFLATE").decode().strip())
c = zlib.compressobj(wbits=-15)
d = zlib.decompressobj(wbits=-15)
out = b""
def run(line):
    global out
    s.sendall(c.compress(line + b"\r\n") + c.flush(zlib.Z_SYNC_FLUSH))
    tag = line.split(b" ")[0]
    lines = []
    while True:
        while b"\r\n" in out:
            l, out = out.split(b"\r\n", 1)
            lines.append(l.decode())
            if l.startswith(tag + b" "):
                return lines
        out += d.decompress(s.recv(65536))
for l in run(b"u UNAUTHENTICATE") + run(b"c CAPABILITY") + run(b"t STARTTLS") + run(b"n NOOP"):
    print(l)
"#;
    let out = Command::new("timeout")
        .args(["30", "python3", "-c", script])
        .arg(server.imap.port().to_string())
        .output()
        .expect("run python3");
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].starts_with("z OK"), "{log}");
    let caps = lines
        .iter()
        .find(|l| l.starts_with("* CAPABILITY"))
        .expect(&log);
    assert!(
        caps.contains("AUTH=PLAIN") && !caps.contains("STARTTLS"),
        "{log}"
    );
    assert!(lines.iter().any(|l| l.starts_with("t BAD")), "{log}");
    assert!(lines.iter().any(|l| l.starts_with("n OK")), "{log}");
}
