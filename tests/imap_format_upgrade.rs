//! What a client sees of content stored before format 4: the server
//! makes every stored MIME summary again from content at start, so
//! ENVELOPE, BODYSTRUCTURE and SEARCH BODY answer as for content stored
//! now; and ENVELOPE addresses carry their source route (RFC 3501 7.4.2
//! addr-adl, RFC 5322 4.4 obs-route).

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;
use store_core::engine::WriteBatch;
use store_core::keys;

/// Appends `message` to INBOX with a synchronizing literal.
fn append(c: &mut ImapConnection, message: &str) {
    c.send(format!("A APPEND INBOX {{{}}}\r\n", message.len()).as_bytes());
    let cont = c.read_response_line().expect("continuation");
    assert!(cont.starts_with('+'), "{cont}");
    c.send(message.as_bytes());
    c.send(b"\r\n");
    let r = c.read_until_tagged("A");
    assert!(tagged(&r).starts_with("A OK"), "{r:?}");
}

#[test]
fn envelope_addresses_carry_their_source_route() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    // imaptest fetch-envelope's message 6, and a route of two hops.
    append(&mut c, "From: <@route:user@domain>\r\n\r\nx\r\n");
    append(
        &mut c,
        "From: Joe <@a.example, @b.example:joe@c.example>\r\nTo: plain@d.example\r\n\r\nx\r\n",
    );
    c.run("S SELECT INBOX");
    let r = c.run("F FETCH 1:2 ENVELOPE");
    let all = r.join("\n");
    assert!(
        all.contains("* 1 FETCH (ENVELOPE (NIL NIL ((NIL \"@route\" \"user\" \"domain\")) ((NIL \"@route\" \"user\" \"domain\")) ((NIL \"@route\" \"user\" \"domain\")) NIL NIL NIL NIL NIL))"),
        "{all}"
    );
    assert!(
        all.contains("((\"Joe\" \"@a.example,@b.example\" \"joe\" \"c.example\"))"),
        "{all}"
    );
    assert!(all.contains("((NIL NIL \"plain\" \"d.example\"))"), "{all}");
}

/// A multipart whose structure, envelope and text the stale summary
/// below gets wrong.
const NESTED: &str = "From: Ann <ann@example.org>\r\nSubject: nested\r\n\
Content-Type: multipart/mixed; boundary=o\r\n\r\n\
--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n\
--i\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain words\r\n\
--i\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--i--\r\n\
--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n\
--o--\r\n";

#[test]
fn a_format_3_store_answers_from_summaries_made_again() {
    let mut server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    append(&mut c, NESTED);
    c.run("S SELECT INBOX");
    let fetch = "F FETCH 1 (ENVELOPE BODYSTRUCTURE)";
    let before = c.run(fetch);
    assert!(tagged(&before).starts_with("F OK"), "{before:?}");
    drop(c);
    server.terminate();
    {
        // As an older build left it: a summary, text and preview of
        // nothing like the content, and the store stamped format 3.
        let engine = server.open_engine();
        let snapshot = engine.snapshot().unwrap();
        // Its blob records where formats 1 to 6 kept them: one prefix
        // per kind, then the blob id.
        let prefix = keys::blob_records();
        let mut batch = WriteBatch::new();
        let mut summaries = Vec::new();
        for (key, value) in snapshot.scan(&prefix, &prefix, usize::MAX).unwrap() {
            let (id, kind) = keys::parse_blob_record(&key).unwrap();
            if kind == keys::BlobRecord::Summary {
                summaries.push(id);
            }
            batch.insert([&[kind.legacy_prefix()][..], &id.0].concat(), Some(value));
            batch.insert(key, None);
        }
        assert_eq!(summaries.len(), 1);
        let wrong = store_core::mime::summarize(b"Subject: stale\r\n\r\nzebra\r\n");
        let key = |kind: u8| [&[kind][..], &summaries[0].0].concat();
        batch.insert(
            key(0x41),
            Some(postcard::to_stdvec(&wrong.summary).unwrap()),
        );
        batch.insert(key(0x42), Some(wrong.body_text.into_bytes()));
        batch.insert(key(0x43), Some(wrong.preview.into_bytes()));
        batch.insert(
            keys::counter("format"),
            Some(postcard::to_stdvec(&3u64).unwrap()),
        );
        drop(snapshot);
        engine.commit(batch).unwrap();
    }
    server.start();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    c.run("S SELECT INBOX");
    assert_eq!(c.run(fetch), before);
    let r = c.run("F SEARCH BODY plain");
    assert!(r.contains(&"* SEARCH 1".to_string()), "{r:?}");
    let r = c.run("F SEARCH BODY zebra");
    assert!(r.contains(&"* SEARCH".to_string()), "{r:?}");
}
