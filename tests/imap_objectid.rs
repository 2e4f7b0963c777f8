//! OBJECTID (RFC 8474), PREVIEW (RFC 8970), SAVEDATE (RFC 8514) and
//! STATUS=SIZE (RFC 8438) against `cpm-store serve`: EMAILID stable across
//! MOVE, RENAME and a restart; MAILBOXID stable across RENAME and new for
//! a mailbox deleted and created again; THREADID shared by a reply chain;
//! previews of plain, HTML and multipart messages; the save date set by
//! COPY and searchable; STATUS SIZE following APPEND and EXPUNGE.

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;

fn append(c: &mut ImapConnection, mailbox: &str, message: &str) {
    let lines = c.run(&format!(
        "a APPEND {mailbox} {{{}+}}\r\n{message}",
        message.len()
    ));
    assert!(tagged(&lines).starts_with("a OK"), "{lines:?}");
}

/// The text inside `NAME (` ... `)` in `line`, e.g. the id of
/// `EMAILID (M1)` or of `[MAILBOXID (F2)]`.
fn paren_after<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line
        .find(&format!("{name} ("))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + name.len()
        + 2;
    let len = line[start..].find(')').expect("closing parenthesis");
    &line[start..start + len]
}

/// FETCH `item` of every message of the selected mailbox, one line each.
fn fetch(c: &mut ImapConnection, set: &str, item: &str) -> Vec<String> {
    let lines = c.run(&format!("f FETCH {set} ({item})"));
    assert!(tagged(&lines).starts_with("f OK"), "{lines:?}");
    lines[..lines.len() - 1].to_vec()
}

fn objectid_ok(id: &str) {
    assert!(
        (1..=255).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "RFC 8474 4 objectid: {id:?}"
    );
}

const ROOT: &str = "Message-ID: <root@example.com>\r\nSubject: plans\r\n\r\nLet's meet.\r\n";
const REPLY: &str = "Message-ID: <reply@example.com>\r\nIn-Reply-To: <root@example.com>\r\n\
References: <root@example.com>\r\nSubject: Re: plans\r\n\r\nYes.\r\n";
const REPLY2: &str = "Message-ID: <reply2@example.com>\r\nIn-Reply-To: <reply@example.com>\r\n\
References: <root@example.com> <reply@example.com>\r\nSubject: Re: plans\r\n\r\nWhen?\r\n";
const OTHER: &str = "Message-ID: <other@example.com>\r\nSubject: other\r\n\r\nUnrelated.\r\n";

#[test]
fn object_ids_survive_move_rename_and_restart_and_threads_are_shared() {
    let mut server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let caps = c.run("c CAPABILITY");
    for cap in [" OBJECTID", " PREVIEW", " SAVEDATE", " STATUS=SIZE"] {
        assert!(caps[0].contains(cap), "{cap} in {}", caps[0]);
    }
    // RFC 8474 4.1: CREATE answers with the new mailbox's id.
    let lines = c.run("c CREATE Foo");
    assert!(tagged(&lines).starts_with("c OK [MAILBOXID ("), "{lines:?}");
    let foo = paren_after(tagged(&lines), "MAILBOXID").to_string();
    objectid_ok(&foo);
    let lines = c.run("s STATUS Foo (MAILBOXID)");
    assert_eq!(lines[0], format!("* STATUS \"Foo\" (MAILBOXID ({foo}))"));

    for m in [ROOT, REPLY, REPLY2, OTHER] {
        append(&mut c, "INBOX", m);
    }
    let lines = c.run("s SELECT INBOX");
    let inbox = paren_after(
        lines
            .iter()
            .find(|l| l.starts_with("* OK [MAILBOXID ("))
            .expect("MAILBOXID on SELECT (RFC 8474 4.3)"),
        "MAILBOXID",
    )
    .to_string();
    assert_ne!(inbox, foo);
    let lines = fetch(&mut c, "1:4", "EMAILID THREADID");
    let emails: Vec<String> = lines
        .iter()
        .map(|l| paren_after(l, "EMAILID").to_string())
        .collect();
    let threads: Vec<String> = lines
        .iter()
        .map(|l| paren_after(l, "THREADID").to_string())
        .collect();
    emails.iter().chain(&threads).for_each(|id| objectid_ok(id));
    let distinct: std::collections::BTreeSet<&String> = emails.iter().collect();
    assert_eq!(distinct.len(), 4, "{emails:?}");
    assert_eq!(threads[0], threads[1], "a reply joins its parent's thread");
    assert_eq!(threads[0], threads[2], "and so does a reply to the reply");
    assert_ne!(threads[0], threads[3], "an unrelated message is alone");
    // RFC 8474 6: SEARCH by the ids.
    let lines = c.run(&format!("s SEARCH THREADID {}", threads[0]));
    assert_eq!(lines[0], "* SEARCH 1 2 3");
    let lines = c.run(&format!("s SEARCH EMAILID {}", emails[3]));
    assert_eq!(lines[0], "* SEARCH 4");
    let lines = c.run("s SEARCH EMAILID Mnosuchid");
    assert_eq!(lines[0], "* SEARCH");

    // MOVE keeps EMAILID (RFC 8474 5.1), and so does COPY in one account.
    let lines = c.run("m MOVE 1 Foo");
    assert!(tagged(&lines).starts_with("m OK"), "{lines:?}");
    let lines = c.run("m COPY 1 Foo");
    assert!(tagged(&lines).starts_with("m OK"), "{lines:?}");
    c.run("s SELECT Foo");
    let lines = fetch(&mut c, "1:2", "EMAILID THREADID");
    assert_eq!(paren_after(&lines[0], "EMAILID"), emails[0]);
    assert_eq!(paren_after(&lines[0], "THREADID"), threads[0]);
    assert_eq!(paren_after(&lines[1], "EMAILID"), emails[1]);

    // RENAME keeps MAILBOXID and the messages' EMAILIDs.
    c.run("u UNSELECT");
    let lines = c.run("r RENAME Foo Bar");
    assert!(tagged(&lines).starts_with("r OK"), "{lines:?}");
    let lines = c.run("s STATUS Bar (MAILBOXID)");
    assert_eq!(paren_after(&lines[0], "MAILBOXID"), foo);
    c.run("s SELECT Bar");
    let lines = fetch(&mut c, "1", "EMAILID");
    assert_eq!(paren_after(&lines[0], "EMAILID"), emails[0]);
    c.run("u UNSELECT");

    // A mailbox deleted and created again is a new mailbox.
    let lines = c.run("d DELETE Bar");
    assert!(tagged(&lines).starts_with("d OK"), "{lines:?}");
    let lines = c.run("c CREATE Bar");
    let again = paren_after(tagged(&lines), "MAILBOXID").to_string();
    assert_ne!(again, foo);

    // Everything stands after a restart.
    drop(c);
    server.terminate();
    server.start();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let lines = c.run("s SELECT INBOX");
    assert!(
        lines.contains(&format!("* OK [MAILBOXID ({inbox})] Ok")),
        "{lines:?}"
    );
    let lines = fetch(&mut c, "1:3", "EMAILID THREADID");
    for (line, i) in lines.iter().zip(1..) {
        assert_eq!(paren_after(line, "EMAILID"), emails[i]);
        assert_eq!(paren_after(line, "THREADID"), threads[i]);
    }
    // A new reply after the restart still joins the thread.
    append(
        &mut c,
        "INBOX",
        "Message-ID: <late@example.com>\r\nIn-Reply-To: <reply2@example.com>\r\n\r\nlate\r\n",
    );
    let lines = c.run("n NOOP");
    assert!(tagged(&lines).starts_with("n OK"));
    let lines = fetch(&mut c, "4", "THREADID");
    assert_eq!(paren_after(&lines[0], "THREADID"), threads[0]);
}

/// The PREVIEW value of a FETCH line: the quoted string or literal after
/// `PREVIEW `, or `None` for NIL.
fn preview_of(line: &str) -> Option<String> {
    let rest = &line[line.find("PREVIEW ").expect("PREVIEW") + 8..];
    if let Some(rest) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                '"' => return Some(out),
                c => out.push(c),
            }
        }
        panic!("unterminated string in {line}");
    }
    if rest.starts_with("NIL") {
        return None;
    }
    // A literal: `{n}` CRLF then n bytes, inlined by the client.
    let open = rest.find("}\r\n").expect("a literal");
    let n: usize = rest[1..open].parse().expect("literal size");
    let bytes = &rest.as_bytes()[open + 3..open + 3 + n];
    Some(String::from_utf8(bytes.to_vec()).expect("UTF-8 preview"))
}

#[test]
fn preview_of_plain_html_and_multipart_messages() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let long = format!(
        "Subject: long\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        "Caf\u{e9} au lait, s'il vous pla\u{ee}t.\r\n".repeat(40)
    );
    let messages = [
        // RFC 8970 3.1: whitespace normalized.
        "Subject: plain\r\n\r\nHello   Alice,\r\n\r\n\tthe   meeting moved.\r\n".to_string(),
        "Subject: html\r\nContent-Type: text/html\r\n\r\n<html><head><style>p {}</style></head>\
<body><p>Big <b>news</b> &amp; more</p></body></html>\r\n"
            .to_string(),
        "Subject: alt\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n--XX\r\n\
Content-Type: text/plain\r\n\r\nThe plain version.\r\n--XX\r\nContent-Type: text/html\r\n\r\n\
<p>The HTML version.</p>\r\n--XX--\r\n"
            .to_string(),
        "Subject: mixed\r\nContent-Type: multipart/mixed; boundary=YY\r\n\r\n--YY\r\n\
Content-Type: text/plain\r\n\r\nSee the attachment.\r\n--YY\r\nContent-Type: image/png\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--YY--\r\n"
            .to_string(),
        long,
        "Subject: picture\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgo=\r\n"
            .to_string(),
    ];
    for m in &messages {
        append(&mut c, "INBOX", m);
    }
    c.run("s SELECT INBOX");
    let lines = fetch(&mut c, "1:6", "PREVIEW");
    let previews: Vec<Option<String>> = lines.iter().map(|l| preview_of(l)).collect();
    assert_eq!(
        previews[0].as_deref(),
        Some("Hello Alice, the meeting moved.")
    );
    let html = previews[1].clone().expect("an HTML preview");
    assert!(html.contains("Big news & more"), "{html:?}");
    assert!(!html.contains('<') && !html.contains("p {}"), "{html:?}");
    assert_eq!(previews[2].as_deref(), Some("The plain version."));
    assert_eq!(previews[3].as_deref(), Some("See the attachment."));
    let long = previews[4].clone().expect("a long preview");
    assert!(long.starts_with("Caf\u{e9} au lait, s'il vous pla\u{ee}t. Caf\u{e9}"));
    assert!(long.chars().count() <= 256, "RFC 8970 3.1: {long:?}");
    assert!(long.chars().count() > 240, "{long:?}");
    // Nothing to preview: an empty string, not NIL (RFC 8970 3.1).
    assert_eq!(previews[5].as_deref(), Some(""));
    // Made at store time, so LAZY gets it too (RFC 8970 3.2).
    let lazy = fetch(&mut c, "1", "PREVIEW (LAZY)");
    assert_eq!(preview_of(&lazy[0]), previews[0]);
    let lines = c.run("b FETCH 1 (PREVIEW (FUZZY))");
    assert!(tagged(&lines).starts_with("b BAD"), "{lines:?}");
    // PREVIEW does not set \Seen.
    let lines = fetch(&mut c, "1", "FLAGS");
    assert!(!lines[0].contains("\\Seen"), "{lines:?}");
}

#[test]
fn savedate_and_status_size() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    // Internal date in 2000, saved today.
    let old = "Subject: old\r\n\r\nfrom long ago\r\n";
    let lines = c.run(&format!(
        "a APPEND INBOX \"01-Jan-2000 10:00:00 +0000\" {{{}+}}\r\n{old}",
        old.len()
    ));
    assert!(tagged(&lines).starts_with("a OK"), "{lines:?}");
    append(
        &mut c,
        "INBOX",
        "Subject: two\r\n\r\nsecond message body\r\n",
    );
    append(
        &mut c,
        "INBOX",
        &format!("Subject: three\r\n\r\n{}\r\n", "z".repeat(500)),
    );
    c.run("c CREATE Kept");
    c.run("s SELECT INBOX");
    let lines = fetch(&mut c, "1:3", "INTERNALDATE SAVEDATE RFC822.SIZE");
    let quoted = |line: &str, name: &str| {
        let start = line.find(&format!("{name} \"")).expect(name) + name.len() + 2;
        line[start..start + line[start..].find('"').expect("quote")].to_string()
    };
    assert!(quoted(&lines[0], "INTERNALDATE").starts_with("01-Jan-2000"));
    let saved = quoted(&lines[0], "SAVEDATE");
    assert!(!saved.starts_with("01-Jan-2000"), "{saved}");
    let today = saved.split(' ').next().expect("a date").to_string();
    let sizes: Vec<u64> = lines
        .iter()
        .map(|l| {
            let at = l.find("RFC822.SIZE ").expect("size") + 12;
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a number")
        })
        .collect();

    // RFC 8514 4: searching by save date, not internal date.
    let lines = c.run(&format!("s SEARCH SAVEDON {today}"));
    assert_eq!(lines[0], "* SEARCH 1 2 3");
    let lines = c.run("s SEARCH SAVEDBEFORE 1-Jan-2001");
    assert_eq!(lines[0], "* SEARCH");
    let lines = c.run("s SEARCH BEFORE 1-Jan-2001");
    assert_eq!(lines[0], "* SEARCH 1");
    let lines = c.run(&format!("s SEARCH SAVEDSINCE {today} SAVEDATESUPPORTED"));
    assert_eq!(lines[0], "* SEARCH 1 2 3");

    // COPY sets the save date in the destination.
    let lines = c.run("k COPY 1 Kept");
    assert!(tagged(&lines).starts_with("k OK"), "{lines:?}");
    let lines = c.run("x EXAMINE Kept");
    assert!(tagged(&lines).starts_with("x OK"), "{lines:?}");
    let lines = fetch(&mut c, "1", "INTERNALDATE SAVEDATE");
    assert!(quoted(&lines[0], "INTERNALDATE").starts_with("01-Jan-2000"));
    assert!(quoted(&lines[0], "SAVEDATE").starts_with(&today));
    let lines = c.run(&format!("s SEARCH SAVEDON {today}"));
    assert_eq!(lines[0], "* SEARCH 1");

    // RFC 8438: SIZE is the sum of RFC822.SIZE (its example's form).
    let total: u64 = sizes.iter().sum();
    let lines = c.run("s STATUS INBOX (MESSAGES UIDNEXT SIZE)");
    assert_eq!(
        lines[0],
        format!("* STATUS \"INBOX\" (MESSAGES 3 UIDNEXT 4 SIZE {total})")
    );
    let lines = c.run("s STATUS Kept (SIZE)");
    assert_eq!(lines[0], format!("* STATUS \"Kept\" (SIZE {})", sizes[0]));
    c.run("s SELECT INBOX");
    c.run("d STORE 2 +FLAGS.SILENT (\\Deleted)");
    let lines = c.run("e EXPUNGE");
    assert!(tagged(&lines).starts_with("e OK"), "{lines:?}");
    let lines = c.run("s STATUS INBOX (SIZE)");
    assert_eq!(
        lines[0],
        format!("* STATUS \"INBOX\" (SIZE {})", sizes[0] + sizes[2])
    );
    append(&mut c, "INBOX", "Subject: four\r\n\r\n4\r\n");
    let lines = fetch(&mut c, "3", "RFC822.SIZE");
    let fourth: u64 = lines[0]
        .rsplit(' ')
        .next()
        .and_then(|n| n.trim_end_matches(')').parse().ok())
        .expect("a size");
    // LIST-STATUS (RFC 5819) carries it too.
    let lines = c.run("l LIST \"\" \"INBOX\" RETURN (STATUS (SIZE))");
    assert!(
        lines.contains(&format!(
            "* STATUS \"INBOX\" (SIZE {})",
            sizes[0] + sizes[2] + fourth
        )),
        "{lines:?}"
    );
}
