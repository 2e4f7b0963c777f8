//! Sort keys and ordering of messages (RFC 5256 section 3, IMAP SORT;
//! RFC 5957, SORT=DISPLAY), protocol-independent: the IMAP front end and
//! the REST binding order messages the same way.
//!
//! Every key comes from the stored summary (envelope, top-level headers,
//! size, dates): sorting never reads a message body. Strings compare with
//! the `i;unicode-casemap` collation (RFC 5051): decoded, NFD-decomposed
//! and upper-cased, then compared as code points. Messages whose keys are
//! all equal keep their mailbox (arrival) order, as RFC 5256 3 requires.

use std::cmp::Ordering;

use mail_parser::{HeaderValue, MessageParser};
use unicode_normalization::UnicodeNormalization;

use crate::mime::{EnvelopeAddress, MessageSummary};
use crate::model::{Object, Uid, UnixTime};

/// Most `References` message ids kept per message for threading (the last
/// ones, which are the nearest ancestors): a hostile header cannot make
/// threading cost more than this per message.
pub const MAX_REFERENCES: usize = 128;

/// One sort key of RFC 5256 3 / RFC 5957.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// `ARRIVAL`: INTERNALDATE.
    Arrival,
    /// `CC`: the mailbox (local part) of the first Cc address.
    Cc,
    /// `DATE`: the Date header in UTC, INTERNALDATE when it has none.
    Date,
    /// `FROM`: the mailbox of the first From address.
    From,
    /// `SIZE`: RFC822.SIZE.
    Size,
    /// `SUBJECT`: the base subject (RFC 5256 2.1).
    Subject,
    /// `TO`: the mailbox of the first To address.
    To,
    /// `DISPLAYFROM` (RFC 5957 3): the display name of the first From
    /// address, or its address when it has none.
    DisplayFrom,
    /// `DISPLAYTO` (RFC 5957 3): the same for To.
    DisplayTo,
}

/// A sort key and its direction (`REVERSE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    /// The key.
    pub key: SortKey,
    /// `REVERSE` before it.
    pub reverse: bool,
}

/// What sorting and threading need of one message, taken from its object
/// record and stored summary (no body): a few short strings per message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortInfo {
    /// The message's UID.
    pub uid: Uid,
    /// INTERNALDATE, seconds since the epoch.
    pub internal_date: UnixTime,
    /// RFC822.SIZE in bytes.
    pub size: u64,
    /// The DATE sort key: the Date header in UTC, else INTERNALDATE.
    pub date: UnixTime,
    /// The base subject (RFC 5256 2.1), collation-folded.
    pub subject: String,
    /// Folded FROM, TO, CC keys (mailbox of the first address).
    pub from: String,
    /// See `from`.
    pub to: String,
    /// See `from`.
    pub cc: String,
    /// Folded DISPLAYFROM and DISPLAYTO keys.
    pub display_from: String,
    /// See `display_from`.
    pub display_to: String,
    /// Message-ID without angle brackets, if it has one.
    pub message_id: Option<String>,
    /// The parent chain for REFERENCES threading: the References ids (at
    /// most [`MAX_REFERENCES`], oldest first), else the first In-Reply-To id.
    pub references: Vec<String>,
    /// Whether the subject had a reply or forward prefix (`Re:`, `Fwd:`,
    /// `(fwd)`, RFC 5256 2.1 / 4 step 6).
    pub is_reply: bool,
}

impl SortInfo {
    /// The sort and threading data of `object` with `summary`.
    pub fn new(object: &Object, summary: &MessageSummary) -> SortInfo {
        let env = &summary.envelope;
        let (subject, is_reply) = base_subject(summary.header("Subject").unwrap_or_default());
        let message_id = summary
            .header("Message-ID")
            .or(env.message_id.as_deref())
            .and_then(|v| message_ids(v).into_iter().next());
        let mut references = summary
            .header("References")
            .map(message_ids)
            .unwrap_or_default();
        if references.is_empty() {
            references = summary
                .header("In-Reply-To")
                .or(env.in_reply_to.as_deref())
                .and_then(|v| message_ids(v).into_iter().next())
                .into_iter()
                .collect();
        }
        if references.len() > MAX_REFERENCES {
            references.drain(..references.len() - MAX_REFERENCES);
        }
        SortInfo {
            uid: object.uid,
            internal_date: object.internal_date,
            size: object.size,
            date: summary.sent.map_or(object.internal_date, |(t, _)| t),
            subject: fold(&subject),
            from: fold(&first_mailbox(&env.from)),
            to: fold(&first_mailbox(&env.to)),
            cc: fold(&first_mailbox(&env.cc)),
            display_from: fold(&display(&env.from)),
            display_to: fold(&display(&env.to)),
            message_id,
            references,
            is_reply,
        }
    }

    fn compare(&self, other: &SortInfo, key: SortKey) -> Ordering {
        match key {
            SortKey::Arrival => self.internal_date.cmp(&other.internal_date),
            SortKey::Cc => self.cc.cmp(&other.cc),
            SortKey::Date => self.date.cmp(&other.date),
            SortKey::From => self.from.cmp(&other.from),
            SortKey::Size => self.size.cmp(&other.size),
            SortKey::Subject => self.subject.cmp(&other.subject),
            SortKey::To => self.to.cmp(&other.to),
            SortKey::DisplayFrom => self.display_from.cmp(&other.display_from),
            SortKey::DisplayTo => self.display_to.cmp(&other.display_to),
        }
    }
}

/// Orders `messages` (given in mailbox order) by `criteria`, the first
/// criterion first; ties keep mailbox order (RFC 5256 3: "sorted by
/// sequence number"). A stable sort, O(n log n).
pub fn sort(messages: &mut [SortInfo], criteria: &[SortCriterion]) {
    messages.sort_by(|a, b| {
        for c in criteria {
            let o = a.compare(b, c.key);
            let o = if c.reverse { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
}

/// The `i;unicode-casemap` key of `s` (RFC 5051 2): NFD-decomposed,
/// upper-cased (the simple titlecase of ASCII and most scripts).
pub fn fold(s: &str) -> String {
    s.nfd().flat_map(char::to_uppercase).collect()
}

/// `s` with its RFC 2047 encoded words decoded (as it comes, when it has
/// none or they do not parse).
pub fn decode_words(s: &str) -> String {
    if !s.contains("=?") {
        return s.to_string();
    }
    let raw = format!("Subject: {s}\r\n\r\n");
    let decoded = MessageParser::default()
        .parse_headers(raw.as_bytes())
        .and_then(|m| match m.header("Subject") {
            Some(HeaderValue::Text(t)) => Some(t.to_string()),
            _ => None,
        });
    decoded.unwrap_or_else(|| s.to_string())
}

/// The message ids in a Message-ID, In-Reply-To or References value,
/// without their angle brackets: the `<...>` tokens, or (for a value
/// already stripped of them) its whitespace- or comma-separated words.
pub fn message_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let id = rest[start + 1..start + len].trim();
        if !id.is_empty() {
            ids.push(id.to_string());
        }
        rest = &rest[start + len + 1..];
    }
    if ids.is_empty() && !value.contains('<') {
        ids = value
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| w.contains('@'))
            .map(str::to_string)
            .collect();
    }
    ids
}

fn first_mailbox(list: &[EnvelopeAddress]) -> String {
    list.first()
        .and_then(|a| a.mailbox.clone())
        .unwrap_or_default()
}

/// RFC 5957 3: the display name of the first address when it is not
/// empty, else its addr-spec (a group's name for a group).
fn display(list: &[EnvelopeAddress]) -> String {
    let Some(a) = list.first() else {
        return String::new();
    };
    if let Some(name) = a.name.as_deref().map(decode_words) {
        if !name.trim().is_empty() {
            return name.trim().to_string();
        }
    }
    match (&a.mailbox, &a.host) {
        (Some(m), Some(h)) => format!("{m}@{h}"),
        (Some(m), None) => m.clone(),
        _ => String::new(),
    }
}

/// The most bytes of a Subject that [`base_subject`] reads: the first
/// 4 KiB (cut back to a character boundary). Subjects sort and thread by
/// this prefix only, so a hostile Subject costs no more than 4 KiB does.
pub const BASE_SUBJECT_MAX: usize = 4096;

/// The base subject of RFC 5256 2.1, and whether anything marking a reply
/// or forward (`Re:`, `Fwd:`, `(fwd)`, `[fwd: ...]`) was removed.
/// Encoded words are decoded first and whitespace runs become one space.
/// Only the first [`BASE_SUBJECT_MAX`] bytes of `subject` are read; the
/// work is linear in them (an index advances over one string, no copies).
pub fn base_subject(subject: &str) -> (String, bool) {
    let decoded = decode_words(head(subject, BASE_SUBJECT_MAX));
    // Step 1: each run of whitespace becomes one space.
    let joined: String = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s = joined.as_str();
    let mut reply = false;
    loop {
        // Step 2: trailing "(fwd)" and whitespace.
        loop {
            let t = s.trim_end();
            match t
                .len()
                .checked_sub(5)
                .and_then(|cut| Some((cut, t.get(cut..)?)))
            {
                Some((cut, tail)) if tail.eq_ignore_ascii_case("(fwd)") => {
                    s = &t[..cut];
                    reply = true;
                }
                _ => {
                    s = t;
                    break;
                }
            }
        }
        // Steps 3 and 4, until neither removes anything: every leading
        // blob is walked once; a leader after them removes them all and
        // the leader, else they go but for the last when nothing follows.
        loop {
            s = s.trim_start();
            let (mut last, mut rest) = (s, s);
            while let Some(next) = strip_blob(rest) {
                (last, rest) = (rest, next);
            }
            if let Some(after) = strip_refwd(rest) {
                reply = true;
                s = after;
                continue;
            }
            s = if rest.is_empty() { last } else { rest };
            break;
        }
        // Step 5: "[fwd:" ... "]" around the whole subject.
        let wrapped = s.len() >= 6
            && s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("[fwd:"))
            && s.ends_with(']');
        if wrapped {
            s = s[5..s.len() - 1].trim();
            reply = true;
            continue;
        }
        return (s.to_string(), reply);
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
fn head(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP`: the rest after one blob.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find([']', '['])?;
    (rest.as_bytes()[end] == b']').then(|| rest[end + 1..].trim_start())
}

/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`: the rest
/// after one, which a `subj-leader` has after its blobs.
fn strip_refwd(s: &str) -> Option<&str> {
    let word = ["fwd", "fw", "re"]
        .into_iter()
        .find(|w| s.get(..w.len()).is_some_and(|p| p.eq_ignore_ascii_case(w)))?;
    let mut r = s[word.len()..].trim_start();
    if let Some(after) = strip_blob(r) {
        r = after;
    }
    r.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> String {
        base_subject(s).0
    }

    #[test]
    fn base_subject_follows_rfc5256_2_1() {
        assert_eq!(base("Re: hello"), "hello");
        assert_eq!(base("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)"), "b");
        assert_eq!(base("Re: [FWD: c]"), "c");
        assert_eq!(base("re: [fwd: [fwd: re: [fwd: babylon]]]"), "babylon");
        assert_eq!(base("[xyz]"), "[xyz]");
        assert_eq!(base("Ad: Re: Ad: Re: Ad: x"), "Ad: Re: Ad: Re: Ad: x");
        assert_eq!(base("=?iso-8859-1?q?RE:_C?="), "C");
        assert_eq!(base("=?us-ascii?b?UmU6IGM=?="), "c");
        assert_eq!(base("Re:   spaced\t  out "), "spaced out");
        assert_eq!(base("RE [x]: y"), "y");
        assert_eq!(base("b (a)"), "b (a)");
        assert!(base_subject("Re: x").1);
        assert!(!base_subject("x").1);
        assert_eq!(base(""), "");
        assert_eq!(base("[a] [b]"), "[b]");
        assert_eq!(base("[a] [b] x"), "x");
        assert_eq!(base("[fwd: x] (fwd)"), "x");
    }

    #[test]
    fn base_subject_of_a_hostile_subject_is_quick() {
        // Leading blobs re-walked or copied per pass made this O(L^2).
        let hostile = format!("{}x", "[]".repeat(40_000));
        let start = std::time::Instant::now();
        let (base, reply) = base_subject(&hostile);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(base, "[]");
        assert!(!reply);
        let leaders = "Re: ".repeat(20_000) + "y";
        assert_eq!(base_subject(&leaders), (String::new(), true));
        assert_eq!(head("ab\u{e9}", 3), "ab");
    }

    #[test]
    fn casemap_orders_like_dovecot() {
        // '_' sorts after letters, '[' between letters and '_'.
        let mut v = vec![fold("_"), fold("b"), fold("[xyz]"), fold("C"), fold("a")];
        v.sort();
        assert_eq!(v, ["A", "B", "C", "[XYZ]", "_"]);
        assert_eq!(fold("café"), fold("CAFE\u{301}"));
    }

    #[test]
    fn message_ids_with_or_without_brackets() {
        assert_eq!(message_ids("<a@b> <c@d>\r\n <e@f>"), ["a@b", "c@d", "e@f"]);
        assert_eq!(message_ids("a@b, c@d"), ["a@b", "c@d"]);
        assert!(message_ids("<>").is_empty());
    }

    #[test]
    fn sort_is_stable_and_reversible() {
        let info = |uid, size, subject: &str| SortInfo {
            uid,
            size,
            subject: fold(subject),
            ..SortInfo::default()
        };
        let mut v = vec![info(1, 5, "b"), info(2, 3, "a"), info(3, 5, "a")];
        let by = |key, reverse| SortCriterion { key, reverse };
        sort(&mut v, &[by(SortKey::Size, true)]);
        assert_eq!(v.iter().map(|i| i.uid).collect::<Vec<_>>(), [1, 3, 2]);
        sort(
            &mut v,
            &[by(SortKey::Subject, false), by(SortKey::Size, false)],
        );
        assert_eq!(v.iter().map(|i| i.uid).collect::<Vec<_>>(), [2, 3, 1]);
    }
}
