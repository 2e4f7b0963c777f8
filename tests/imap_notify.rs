//! NOTIFY (RFC 5465) against `cpm-store serve`, two sessions: one changes
//! the account, the other is told without asking (no command in
//! progress), for each filter and event kind; IDLE beside it.

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;

fn append(c: &mut ImapConnection, tag: &str, mailbox: &str) {
    let m = "From: bob@example.com\r\nSubject: hi\r\n\r\nhello\r\n";
    let lines = c.run(&format!("{tag} APPEND {mailbox} {{{}+}}\r\n{m}", m.len()));
    assert!(tagged(&lines).contains("OK"), "{lines:?}");
}

/// The next line the watching session reads, unasked.
fn next(c: &mut ImapConnection) -> String {
    c.read_response_line().expect("an unsolicited response")
}

#[test]
fn a_second_session_is_told_of_every_change_as_it_happens() {
    let mut server = Server::new();
    server.add_account("alice", "secret");
    server.add_account("carol", "secret");
    server.start();
    let mut watcher = ImapConnection::login(server.imap, "alice", "secret");
    let mut actor = ImapConnection::login(server.imap, "alice", "secret");
    let caps = watcher.run("c CAPABILITY");
    assert!(caps[0].contains(" NOTIFY"));
    append(&mut actor, "a", "Drafts");
    watcher.run("s SELECT INBOX");
    // Groups: the selected mailbox; a subtree with message events only;
    // one shared mailbox by name; everything personal.
    let lines = watcher.run(
        "n NOTIFY SET STATUS (selected (MessageNew MessageExpunge FlagChange)) \
         (subtree Lists (MessageNew MessageExpunge)) \
         (mailboxes \"Shared/carol/Pics\" (MailboxName)) \
         (personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange \
         MailboxMetadataChange ServerMetadataChange))",
    );
    assert!(tagged(&lines).starts_with("n OK"), "{lines:?}");
    // STATUS: the current state of the personal mailboxes, not INBOX,
    // with UIDVALIDITY (RFC 5465 5.1).
    assert!(lines.iter().any(|l| l
        .starts_with("* STATUS \"Drafts\" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ")
        && l.contains(" HIGHESTMODSEQ ")));
    assert!(!lines.iter().any(|l| l.starts_with("* STATUS \"INBOX\"")));

    // The selected mailbox: EXISTS, FETCH and EXPUNGE as they happen.
    append(&mut actor, "a", "INBOX");
    assert_eq!(next(&mut watcher), "* 1 EXISTS");
    assert_eq!(next(&mut watcher), "* 1 RECENT");
    actor.run("s SELECT INBOX");
    actor.run("f STORE 1 +FLAGS (\\Flagged)");
    assert_eq!(next(&mut watcher), "* 1 FETCH (FLAGS (\\Flagged \\Recent))");
    // Another personal mailbox: LIST on creation, STATUS on a message.
    actor.run("c CREATE Projects");
    assert_eq!(next(&mut watcher), "* LIST () \"/\" \"Projects\"");
    append(&mut actor, "a", "Projects");
    assert_eq!(
        next(&mut watcher),
        "* STATUS \"Projects\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1 SIZE 45)"
    );
    actor.run("s SUBSCRIBE Projects");
    assert_eq!(
        next(&mut watcher),
        "* LIST (\\Subscribed) \"/\" \"Projects\""
    );
    actor.run("m SETMETADATA Projects (/shared/comment \"plans\")");
    assert_eq!(
        next(&mut watcher),
        "* METADATA \"Projects\" /shared/comment"
    );
    actor.run("m SETMETADATA \"\" (/private/vendor/x \"1\")");
    assert_eq!(next(&mut watcher), "* METADATA \"\" /private/vendor/x");
    actor.run("r RENAME Projects Done");
    assert_eq!(
        next(&mut watcher),
        "* LIST () \"/\" \"Done\" (\"OLDNAME\" (\"Projects\"))"
    );
    actor.run("d DELETE Done");
    assert_eq!(next(&mut watcher), "* LIST (\\NonExistent) \"/\" \"Done\"");
    // The subtree group has no MailboxName: its creation is not told, its
    // message is (the first group matching a mailbox applies).
    actor.run("c CREATE Lists/work");
    append(&mut actor, "a", "Lists/work");
    assert_eq!(
        next(&mut watcher),
        "* STATUS \"Lists/work\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1 SIZE 45)"
    );
    // A folder shared with alice appears (the ACL change reaches her).
    let mut carol = ImapConnection::login(server.imap, "carol", "secret");
    carol.run("c CREATE Pics");
    carol.run("a SETACL Pics alice lr");
    assert_eq!(next(&mut watcher), "* LIST () \"/\" \"Shared/carol/Pics\"");
    // Expunge in the selected mailbox.
    actor.run("d STORE 1 +FLAGS (\\Deleted)");
    assert_eq!(
        next(&mut watcher),
        "* 1 FETCH (FLAGS (\\Deleted \\Flagged \\Recent))"
    );
    actor.run("x EXPUNGE");
    assert_eq!(next(&mut watcher), "* 1 EXPUNGE");
    assert_eq!(next(&mut watcher), "* 0 RECENT");

    // IDLE keeps working beside NOTIFY.
    watcher.send(b"i IDLE\r\n");
    assert_eq!(next(&mut watcher), "+ idling");
    append(&mut actor, "a", "Drafts");
    assert_eq!(
        next(&mut watcher),
        "* STATUS \"Drafts\" (MESSAGES 2 UIDNEXT 3 UNSEEN 2 SIZE 90)"
    );
    watcher.send(b"DONE\r\n");
    assert!(tagged(&watcher.read_until_tagged("i")).starts_with("i OK"));

    // A lone MessageNew is taken as Dovecot takes it (imaptest's
    // `notify` group); an event not offered is not; then NOTIFY NONE
    // stops it.
    let lines = watcher.run("b NOTIFY SET (personal (MessageNew))");
    assert!(tagged(&lines).starts_with("b OK"), "{lines:?}");
    let lines = watcher.run("b NOTIFY SET (personal (AnnotationChange))");
    assert!(tagged(&lines).starts_with("b NO [BADEVENT"), "{lines:?}");
    watcher.run("z NOTIFY NONE");
    append(&mut actor, "a", "Drafts");
    let lines = watcher.run("n NOOP");
    assert!(!lines.iter().any(|l| l.contains("STATUS")), "{lines:?}");
    // INBOXES: INBOX and the conversation folders, not Drafts.
    let lines = watcher.run("n NOTIFY SET (inboxes (MessageNew MessageExpunge))");
    assert!(tagged(&lines).starts_with("n OK"), "{lines:?}");
    actor.run("c CREATE conv-1");
    append(&mut actor, "a", "Drafts");
    append(&mut actor, "a", "conv-1");
    assert_eq!(
        next(&mut watcher),
        "* STATUS \"conv-1\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1 SIZE 45)"
    );
}
