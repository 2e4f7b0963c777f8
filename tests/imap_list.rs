//! LIST / LSUB against `cpm-store serve` after the name-index listing of
//! issue 16 (the brute-force oracle on random trees is the unit test
//! `commands::list::oracle` in imap-server): narrow patterns with
//! neighbours that sort between a name and its children (`c1 x`, `c1.x`
//! before `c1/x`), INBOX in any case (RFC 3501 5.1, 6.3.8), a shared
//! folder subscribed (RFC 5258 3.1 `\Subscribed`), LSUB's `\Noselect`
//! parent (RFC 3501 6.3.9), `\HasChildren` of a shared folder counting
//! only children the principal may look up (RFC 4314 4), and RENAME /
//! DELETE of a subtree found by prefix (RFC 3501 6.3.4-5).

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;

fn ok(lines: &[String]) {
    assert!(tagged(lines).split(' ').nth(1) == Some("OK"), "{lines:?}");
}

/// The folders every account has, subscribed (store-core accounts.rs).
const DEFAULTS: [&str; 5] = ["Archive", "Drafts", "INBOX", "Sent", "Trash"];

/// The untagged lines of a command's answer.
fn untagged(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter(|l| l.starts_with("* "))
        .map(String::as_str)
        .collect()
}

#[test]
fn narrow_patterns_list_matches_with_children_attributes() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    for name in ["c1/x/y", "c1 x", "c1.x", "c10", "c2", "d1/c1"] {
        ok(&c.run(&format!("c CREATE \"{name}\"")));
    }
    let r = c.run("l LIST \"\" c1%");
    ok(&r);
    assert_eq!(
        untagged(&r),
        [
            "* LIST (\\HasChildren) \"/\" \"c1\"",
            "* LIST (\\HasNoChildren) \"/\" \"c1 x\"",
            "* LIST (\\HasNoChildren) \"/\" \"c1.x\"",
            "* LIST (\\HasNoChildren) \"/\" \"c10\"",
        ]
    );
    let r = c.run("l LIST \"c1\" %");
    assert_eq!(untagged(&r), ["* LIST (\\HasChildren) \"/\" \"c1/x\""]);
    let r = c.run("l LIST \"\" c1/*");
    assert_eq!(
        untagged(&r),
        [
            "* LIST (\\HasChildren) \"/\" \"c1/x\"",
            "* LIST (\\HasNoChildren) \"/\" \"c1/x/y\"",
        ]
    );
    let r = c.run("l LIST \"\" (c2 %/c1)");
    assert_eq!(
        untagged(&r),
        [
            "* LIST (\\HasNoChildren) \"/\" \"c2\"",
            "* LIST (\\HasNoChildren) \"/\" \"d1/c1\"",
        ]
    );
}

#[test]
fn inbox_patterns_match_in_any_case() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    ok(&c.run("c CREATE inbox/a"));
    ok(&c.run("c CREATE Inboxes"));
    let r = c.run("l LIST \"\" Inbox");
    assert_eq!(untagged(&r), ["* LIST (\\HasChildren) \"/\" \"INBOX\""]);
    let r = c.run("l LIST \"\" inbox/%");
    assert_eq!(untagged(&r), ["* LIST (\\HasNoChildren) \"/\" \"INBOX/a\""]);
    let r = c.run("l LIST \"inBox\" *");
    assert_eq!(untagged(&r), ["* LIST (\\HasNoChildren) \"/\" \"INBOX/a\""]);
    let r = c.run("l LIST \"\" INBOX/*");
    assert_eq!(untagged(&r), ["* LIST (\\HasNoChildren) \"/\" \"INBOX/a\""]);
    let r = c.run("l LIST \"\" Inbo%");
    assert_eq!(untagged(&r), ["* LIST (\\HasNoChildren) \"/\" \"Inboxes\""]);
    // A pattern whose literal part is `Inbox` followed by a wildcard is
    // not INBOX (RFC 3501 5.1 folds only the whole name `INBOX`): it
    // matches the names that start with it as written.
    let r = c.run("l LIST \"\" Inbox%");
    assert_eq!(untagged(&r), ["* LIST (\\HasNoChildren) \"/\" \"Inboxes\""]);
    ok(&c.run("c CREATE inbox-old"));
    ok(&c.run("s SUBSCRIBE inbox-old"));
    let r = c.run("l LSUB \"\" inbox*");
    assert_eq!(
        untagged(&r),
        ["* LSUB (\\HasNoChildren) \"/\" \"inbox-old\""]
    );
}

#[test]
fn shared_folders_are_listed_and_marked_subscribed() {
    let server = Server::with_alice();
    server.add_account("bob", "secret");
    let mut bob = ImapConnection::login(server.imap, "bob", "secret");
    ok(&bob.run("c CREATE s/t"));
    ok(&bob.run("a SETACL s/t alice lr"));
    ok(&bob.run("a SETACL s alice r"));
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    for name in DEFAULTS {
        ok(&c.run(&format!("u UNSUBSCRIBE {name}")));
    }
    let r = c.run("l LIST \"\" Shared/%");
    assert_eq!(
        untagged(&r),
        ["* LIST (\\Noselect \\HasChildren) \"/\" \"Shared/bob\""]
    );
    // `s` is granted without `l`: not listed, but its child is.
    let r = c.run("l LIST \"\" Shared/bob/*");
    assert_eq!(
        untagged(&r),
        ["* LIST (\\HasNoChildren) \"/\" \"Shared/bob/s/t\""]
    );
    ok(&c.run("s SUBSCRIBE Shared/bob/s/t"));
    ok(&c.run("s SUBSCRIBE gone"));
    let r = c.run("l LIST (SUBSCRIBED) \"\" *");
    assert_eq!(
        untagged(&r),
        [
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Shared/bob/s/t\"",
            "* LIST (\\NonExistent \\Subscribed) \"/\" \"gone\"",
        ]
    );
    let r = c.run("l LIST \"\" Shared/bob/s/t RETURN (SUBSCRIBED)");
    assert_eq!(
        untagged(&r),
        ["* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Shared/bob/s/t\""]
    );
}

#[test]
fn shared_children_without_lookup_right_are_not_revealed() {
    // RFC 4314 4 and RFC 5258 4: alice has `l` on bob's `proj` but only
    // `r` on `proj/secret`, so `proj` has no children she can see.
    let server = Server::with_alice();
    server.add_account("bob", "secret");
    let mut bob = ImapConnection::login(server.imap, "bob", "secret");
    ok(&bob.run("c CREATE proj/secret"));
    ok(&bob.run("a SETACL proj alice lr"));
    ok(&bob.run("a SETACL proj/secret alice r"));
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    let r = c.run("l LIST \"\" Shared/bob/%");
    assert_eq!(
        untagged(&r),
        ["* LIST (\\HasNoChildren) \"/\" \"Shared/bob/proj\""]
    );
    let r = c.run("l LIST \"\" Shared/bob/*");
    assert_eq!(
        untagged(&r),
        ["* LIST (\\HasNoChildren) \"/\" \"Shared/bob/proj\""]
    );
    // Once she may look it up, the child shows.
    ok(&bob.run("a SETACL proj/secret alice lr"));
    let r = c.run("l LIST \"\" Shared/bob/%");
    assert_eq!(
        untagged(&r),
        ["* LIST (\\HasChildren) \"/\" \"Shared/bob/proj\""]
    );
}

#[test]
fn lsub_lists_an_unsubscribed_parent_as_noselect() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    for name in DEFAULTS {
        ok(&c.run(&format!("u UNSUBSCRIBE {name}")));
    }
    ok(&c.run("c CREATE p/q"));
    ok(&c.run("s SUBSCRIBE p/q"));
    ok(&c.run("s SUBSCRIBE r"));
    let r = c.run("l LSUB \"\" %");
    assert_eq!(
        untagged(&r),
        [
            "* LSUB (\\Noselect) \"/\" \"p\"",
            "* LSUB (\\Noselect) \"/\" \"r\"",
        ]
    );
    let r = c.run("l LSUB \"\" p/%");
    assert_eq!(untagged(&r), ["* LSUB (\\HasNoChildren) \"/\" \"p/q\""]);
}

#[test]
fn rename_moves_the_subtree_and_delete_refuses_a_parent() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    for name in ["a/x/y", "a x", "a.x", "ab"] {
        ok(&c.run(&format!("c CREATE \"{name}\"")));
    }
    let r = c.run("d DELETE a");
    assert!(tagged(&r).starts_with("d NO"), "{r:?}");
    ok(&c.run("d DELETE \"a x\""));
    ok(&c.run("r RENAME a b"));
    let r = c.run("l LIST \"\" *");
    let names: Vec<&str> = untagged(&r)
        .into_iter()
        .filter_map(|l| l.rsplit_once(" \"/\" ").map(|(_, n)| n))
        .collect();
    for moved in ["\"b\"", "\"b/x\"", "\"b/x/y\"", "\"a.x\"", "\"ab\""] {
        assert!(names.contains(&moved), "{moved} in {names:?}");
    }
    for gone in ["\"a\"", "\"a/x\"", "\"a/x/y\"", "\"a x\""] {
        assert!(!names.contains(&gone), "{gone} in {names:?}");
    }
}
