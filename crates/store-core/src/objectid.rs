//! The object ids of RFC 8474 (IMAP OBJECTID), one scheme for every
//! protocol (ARCHITECTURE.md, "Data model"): each id is a letter naming its
//! kind followed by a number in lower-case hexadecimal, so it is always
//! 2 to 17 characters of `[A-Za-z0-9]` (RFC 8474 section 4 allows 1 to 255
//! of `[A-Za-z0-9_-]`).
//!
//! | id        | letter | number                                              |
//! |-----------|--------|-----------------------------------------------------|
//! | MAILBOXID | `F`    | the folder's store-wide id (never reused)           |
//! | EMAILID   | `M`    | a store-wide counter, taken when content is first stored in an account; kept by COPY and MOVE (RFC 8474 5.1) |
//! | THREADID  | `T`    | the EMAILID number of the first message of the thread |
//!
//! Threads are found at store time from the `Message-ID`, `In-Reply-To` and
//! `References` headers, through an index of message ids per account
//! (`keys::thread_ref`), with at most [`MAX_THREAD_REFS`] lookups per
//! message; a message without thread information is its own thread.

use crate::mime::MessageSummary;

/// Most message ids of one message looked up in the thread index: its own,
/// `In-Reply-To`'s and the last ones of `References` (the nearest
/// ancestors), so the work per stored message is bounded.
pub const MAX_THREAD_REFS: usize = 16;

/// Longest message id indexed, in bytes (longer ones are ignored for
/// threading).
pub const MAX_MESSAGE_ID: usize = 512;

/// The MAILBOXID of folder `id`.
pub fn mailbox_id(id: u64) -> String {
    format!("F{id:x}")
}

/// The EMAILID of EMAILID number `n`.
pub fn email_id(n: u64) -> String {
    format!("M{n:x}")
}

/// The THREADID of THREADID number `n`.
pub fn thread_id(n: u64) -> String {
    format!("T{n:x}")
}

fn parse(prefix: char, id: &str, format: fn(u64) -> String) -> Option<u64> {
    let n = u64::from_str_radix(id.strip_prefix(prefix)?, 16).ok()?;
    // Ids are compared as opaque strings: `M0a` is not `Ma`.
    (format(n) == id).then_some(n)
}

/// The folder id of a MAILBOXID; `None` if it is not one this store makes.
pub fn parse_mailbox_id(id: &str) -> Option<u64> {
    parse('F', id, mailbox_id)
}

/// The number of an EMAILID; `None` if it is not one this store makes.
pub fn parse_email_id(id: &str) -> Option<u64> {
    parse('M', id, email_id)
}

/// The number of a THREADID; `None` if it is not one this store makes.
pub fn parse_thread_id(id: &str) -> Option<u64> {
    parse('T', id, thread_id)
}

/// The message ids a message's thread is found by: its own `Message-ID`
/// (`own`), and the ids it refers to (`refs`), `In-Reply-To` first, then
/// `References` from the nearest ancestor back; at most
/// [`MAX_THREAD_REFS`] in all, each without its angle brackets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadRefs {
    /// The message's own id.
    pub own: Option<String>,
    /// The ids it refers to, nearest first, without duplicates.
    pub refs: Vec<String>,
}

impl ThreadRefs {
    /// Reads them from a summary's envelope and headers.
    pub fn of(summary: &MessageSummary) -> ThreadRefs {
        let own = summary
            .envelope
            .message_id
            .as_deref()
            .and_then(|v| msg_ids(v).next());
        let mut refs: Vec<String> = Vec::new();
        let in_reply_to = summary.envelope.in_reply_to.as_deref().unwrap_or_default();
        let references: Vec<String> = summary
            .header("References")
            .map(|v| msg_ids(v).collect())
            .unwrap_or_default();
        for id in msg_ids(in_reply_to).chain(references.into_iter().rev()) {
            if refs.len() + 1 >= MAX_THREAD_REFS {
                break;
            }
            if Some(&id) != own.as_ref() && !refs.contains(&id) {
                refs.push(id);
            }
        }
        ThreadRefs { own, refs }
    }
}

/// The last [`MAX_MSG_IDS`] `<...>` ids of a header value, without
/// brackets, of at most [`MAX_MESSAGE_ID`] bytes; a value without brackets (as the parser
/// gives `References`, ids joined by `, `) is split at commas and spaces.
fn msg_ids(value: &str) -> impl Iterator<Item = String> + '_ {
    let ids: Box<dyn Iterator<Item = &str>> = if value.contains('<') {
        Box::new(
            value
                .split('<')
                .skip(1)
                .filter_map(|p| p.split_once('>').map(|(id, _)| id.trim())),
        )
    } else {
        Box::new(value.split(|c: char| c == ',' || c.is_whitespace()))
    };
    let ids: Vec<&str> = ids
        .filter(|id| !id.is_empty() && id.len() <= MAX_MESSAGE_ID)
        .collect();
    // The last ones: in References the nearest ancestors come last
    // (RFC 5322 3.6.4).
    let skip = ids.len().saturating_sub(MAX_MSG_IDS);
    ids.into_iter().skip(skip).map(str::to_string)
}

/// Most ids [`msg_ids`] takes of one header value (the last ones).
const MAX_MSG_IDS: usize = 256;

#[cfg(test)]
#[test]
fn msg_ids_keeps_the_nearest() {
    let value: String = (0..300).map(|i| format!("<m{i}@x> ")).collect();
    let ids: Vec<String> = msg_ids(&value).collect();
    assert_eq!(ids.len(), MAX_MSG_IDS);
    assert_eq!(ids.first().map(String::as_str), Some("m44@x"));
    assert_eq!(ids.last().map(String::as_str), Some("m299@x"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::summarize;

    #[test]
    fn ids_round_trip_and_fit_rfc8474() {
        for n in [0, 1, 0xabc, u64::MAX] {
            for (id, back) in [
                (mailbox_id(n), parse_mailbox_id(&mailbox_id(n))),
                (email_id(n), parse_email_id(&email_id(n))),
                (thread_id(n), parse_thread_id(&thread_id(n))),
            ] {
                assert_eq!(back, Some(n));
                assert!((1..=255).contains(&id.len()));
                assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
            }
        }
        assert_eq!(parse_email_id("M0a"), None);
        assert_eq!(parse_email_id("T1"), None);
        assert_eq!(parse_email_id("MXYZ"), None);
        assert_eq!(parse_email_id(""), None);
    }

    #[test]
    fn thread_refs_come_from_in_reply_to_and_references() {
        let parsed = summarize(
            b"Message-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\n\
References: <a@x> <b@x>\r\nSubject: re\r\n\r\nhi\r\n",
        );
        let refs = ThreadRefs::of(&parsed.summary);
        assert_eq!(refs.own.as_deref(), Some("c@x"));
        assert_eq!(refs.refs, vec!["b@x".to_string(), "a@x".to_string()]);
        let lone = ThreadRefs::of(&summarize(b"Subject: x\r\n\r\nhi\r\n").summary);
        assert_eq!(lone, ThreadRefs::default());
        let many: String = (0..100).map(|i| format!("<{i}@x> ")).collect();
        let raw = format!("Message-ID: <z@x>\r\nReferences: {many}\r\n\r\nhi\r\n");
        let refs = ThreadRefs::of(&summarize(raw.as_bytes()).summary);
        assert!(refs.refs.len() < MAX_THREAD_REFS);
        assert_eq!(refs.refs[0], "99@x");
    }
}
