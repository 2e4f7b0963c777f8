//! Search criteria: every search key of RFC 3501 6.4.4, plus MODSEQ
//! (RFC 7162 3.1.5), EMAILID and THREADID (RFC 8474 6) and the save
//! date keys (RFC 8514 4), evaluated against an object and its cached MIME
//! summary. Text keys match case-insensitively on decoded text.
//!
//! Session state stays in the front end: it turns message sequence sets and
//! `\Recent` (RECENT, NEW, OLD) into [`SearchKey::Uid`] sets before calling.

use crate::mime::{decode_words, EnvelopeAddress, MessageSummary};
use crate::model::{Object, Uid, UnixTime};
use crate::objectid::{parse_email_id, parse_thread_id};

/// A calendar day, as days since 1970-01-01 (RFC 3501 `date`).
pub type Day = i64;

/// The day of `t` in the zone `offset` seconds east of UTC.
pub fn day_of(t: UnixTime, offset: i32) -> Day {
    (t + offset as i64).div_euclid(86_400)
}

/// One search criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// Every criterion holds (a parenthesized list, or juxtaposition).
    And(Vec<SearchKey>),
    /// Either holds (`OR`).
    Or(Box<SearchKey>, Box<SearchKey>),
    /// It does not hold (`NOT`).
    Not(Box<SearchKey>),
    /// `ALL`.
    All,
    /// The flag or keyword is set (`ANSWERED`, `DELETED`, `DRAFT`,
    /// `FLAGGED`, `SEEN`, `KEYWORD`; the `UN...` forms are `Not` of these).
    Flag(String),
    /// `BCC`, `CC`, `FROM`, `TO` (which address header) and the string.
    Address(AddressField, String),
    /// `SUBJECT`.
    Subject(String),
    /// `HEADER field-name string` (an empty string matches any value).
    Header(String, String),
    /// `BODY`: in the decoded body text.
    Body(String),
    /// `TEXT`: in the headers or the body.
    Text(String),
    /// `BEFORE`, `ON`, `SINCE`: INTERNALDATE's day (UTC).
    InternalDate(DateCmp, Day),
    /// `SENTBEFORE`, `SENTON`, `SENTSINCE`: the Date header's day.
    SentDate(DateCmp, Day),
    /// `LARGER n`: RFC822.SIZE > n.
    Larger(u64),
    /// `SMALLER n`: RFC822.SIZE < n.
    Smaller(u64),
    /// UID ranges (`UID` sets, and sequence sets mapped by the front end).
    Uid(Vec<(Uid, Uid)>),
    /// `MODSEQ n`: MODSEQ >= n.
    ModSeq(u64),
    /// `EMAILID id` (RFC 8474 6): the object's EMAILID is `id`.
    EmailId(String),
    /// `THREADID id` (RFC 8474 6): the object's THREADID is `id`.
    ThreadId(String),
    /// `SAVEDBEFORE`, `SAVEDON`, `SAVEDSINCE` (RFC 8514 4): the day (UTC) of
    /// the save date, or of INTERNALDATE for an object stored before the
    /// store kept save dates.
    SaveDate(DateCmp, Day),
    /// INTERNALDATE within `[from, until)`, in Unix seconds, either end
    /// open when `None` (the NMS `Date` criterion, OMA NMS TS 6.7:
    /// `minDate` inclusive, `maxDate` exclusive).
    StoredWithin(Option<UnixTime>, Option<UnixTime>),
    /// A top-level header field `name` whose value equals the string,
    /// ignoring case; for an address header (`From`, `To`, `Cc`, `Bcc`,
    /// `Sender`, `Reply-To`), one of its addresses does
    /// ([`crate::mime::address_specs`]); a value with parameters
    /// (`Content-Type: text/plain; charset=utf-8`) also matches by the
    /// part before them (the NMS `Attribute` criterion, OMA NMS TS 6.7).
    HeaderIs(String, String),
}

/// Which address header an [`SearchKey::Address`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressField {
    /// `From`
    From,
    /// `To`
    To,
    /// `Cc`
    Cc,
    /// `Bcc`
    Bcc,
}

/// How a date criterion compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateCmp {
    /// Strictly before the day.
    Before,
    /// On the day.
    On,
    /// On or after the day.
    Since,
}

impl DateCmp {
    fn holds(self, day: Day, against: Day) -> bool {
        match self {
            DateCmp::Before => day < against,
            DateCmp::On => day == against,
            DateCmp::Since => day >= against,
        }
    }
}

fn contains(haystack: &str, needle: &str) -> bool {
    needle.is_empty() || haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn address_text(a: &EnvelopeAddress) -> String {
    format!(
        "{} <{}@{}>",
        decode_words(a.name.as_deref().unwrap_or_default()),
        a.mailbox.as_deref().unwrap_or_default(),
        a.host.as_deref().unwrap_or_default()
    )
}

impl SearchKey {
    /// Whether evaluating this criterion reads the decoded body text
    /// (`BODY`, `TEXT`), which is stored apart from the summary and loaded
    /// only then.
    pub fn needs_body_text(&self) -> bool {
        match self {
            SearchKey::And(keys) => keys.iter().any(SearchKey::needs_body_text),
            SearchKey::Or(a, b) => a.needs_body_text() || b.needs_body_text(),
            SearchKey::Not(k) => k.needs_body_text(),
            SearchKey::Body(_) | SearchKey::Text(_) => true,
            _ => false,
        }
    }

    /// Whether evaluating this criterion reads the object's cached MIME
    /// summary (0x41): the header, address, date-sent and text keys. Flag,
    /// size, date, UID, MODSEQ and id keys read the object record alone.
    pub fn needs_summary(&self) -> bool {
        match self {
            SearchKey::And(keys) => keys.iter().any(SearchKey::needs_summary),
            SearchKey::Or(a, b) => a.needs_summary() || b.needs_summary(),
            SearchKey::Not(k) => k.needs_summary(),
            SearchKey::Address(..)
            | SearchKey::Subject(_)
            | SearchKey::Header(..)
            | SearchKey::Body(_)
            | SearchKey::Text(_)
            | SearchKey::SentDate(..)
            | SearchKey::HeaderIs(..) => true,
            _ => false,
        }
    }

    /// Whether this criterion holds for `object` with `summary` and the
    /// decoded `body_text` of its text parts (may be empty when
    /// [`SearchKey::needs_body_text`] is false).
    pub fn matches(&self, object: &Object, summary: &MessageSummary, body_text: &str) -> bool {
        match self {
            SearchKey::And(keys) => keys.iter().all(|k| k.matches(object, summary, body_text)),
            SearchKey::Or(a, b) => {
                a.matches(object, summary, body_text) || b.matches(object, summary, body_text)
            }
            SearchKey::Not(k) => !k.matches(object, summary, body_text),
            SearchKey::All => true,
            SearchKey::Flag(f) => object.flags.contains(f),
            SearchKey::Address(field, s) => {
                let (name, list) = match field {
                    AddressField::From => ("From", &summary.envelope.from),
                    AddressField::To => ("To", &summary.envelope.to),
                    AddressField::Cc => ("Cc", &summary.envelope.cc),
                    AddressField::Bcc => ("Bcc", &summary.envelope.bcc),
                };
                list.iter().any(|a| contains(&address_text(a), s))
                    || summary.header(name).is_some_and(|v| contains(v, s))
            }
            SearchKey::Subject(s) => summary.header("Subject").is_some_and(|v| contains(v, s)),
            SearchKey::Header(name, s) => summary
                .headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(name) && contains(v, s)),
            SearchKey::Body(s) => contains(body_text, s),
            SearchKey::Text(s) => {
                summary
                    .headers
                    .iter()
                    .any(|(n, v)| contains(n, s) || contains(v, s))
                    || contains(body_text, s)
            }
            SearchKey::InternalDate(cmp, day) => cmp.holds(day_of(object.internal_date, 0), *day),
            SearchKey::SentDate(cmp, day) => summary
                .sent
                .is_some_and(|(t, offset)| cmp.holds(day_of(t, offset), *day)),
            SearchKey::Larger(n) => object.size > *n,
            SearchKey::Smaller(n) => object.size < *n,
            SearchKey::Uid(ranges) => ranges.iter().any(|(a, b)| (*a..=*b).contains(&object.uid)),
            SearchKey::ModSeq(n) => object.modseq >= *n,
            SearchKey::EmailId(id) => parse_email_id(id) == Some(object.email_id),
            SearchKey::ThreadId(id) => parse_thread_id(id) == Some(object.thread_id),
            SearchKey::SaveDate(cmp, day) => cmp.holds(
                day_of(object.save_date.unwrap_or(object.internal_date), 0),
                *day,
            ),
            SearchKey::StoredWithin(from, until) => {
                from.is_none_or(|f| object.internal_date >= f)
                    && until.is_none_or(|u| object.internal_date < u)
            }
            SearchKey::HeaderIs(name, wanted) => {
                let address = ["From", "To", "Cc", "Bcc", "Sender", "Reply-To"]
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(name));
                summary
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .any(|(_, v)| {
                        let v = v.trim();
                        if address {
                            crate::mime::address_specs(v)
                                .iter()
                                .any(|a| a.eq_ignore_ascii_case(wanted))
                        } else {
                            v.eq_ignore_ascii_case(wanted)
                                || v.split_once(';').is_some_and(|(base, _)| {
                                    base.trim().eq_ignore_ascii_case(wanted)
                                })
                        }
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::BlobId;
    use crate::mime::summarize;
    use crate::model::{CpmHeaders, Flags, ObjectKind};

    fn object(uid: Uid, flags: &[&str], size: u64) -> Object {
        Object {
            uid,
            modseq: 7,
            flags: flags.iter().collect(),
            internal_date: 86_400 * 10 + 5,
            size,
            blob: BlobId([0; 32]),
            kind: ObjectKind::CpmMessage,
            cpm: CpmHeaders::default(),
            file_name: None,
            email_id: 0x2a,
            thread_id: 0x29,
            save_date: Some(86_400 * 12),
        }
    }

    #[test]
    fn every_kind_of_key_matches_as_rfc3501_says() {
        let parsed = summarize(
            b"From: \"Ann Lee\" <ann@example.com>\r\nTo: bob@example.org\r\n\
Subject: =?ISO-8859-1?Q?caf=E9?= meeting\r\nDate: Fri, 2 Jan 1970 23:30:00 -0100\r\n\
X-Tag: Blue\r\n\r\nThe BODY text\r\n",
        );
        let (s, text) = (&parsed.summary, parsed.body_text.as_str());
        let o = object(5, &["\\Seen", "$work"], 300);
        let yes = |k: SearchKey| assert!(k.matches(&o, s, text), "{k:?} should match");
        let no = |k: SearchKey| assert!(!k.matches(&o, s, text), "{k:?} should not match");
        yes(SearchKey::All);
        yes(SearchKey::Flag("\\seen".into()));
        yes(SearchKey::Flag("$WORK".into()));
        no(SearchKey::Flag("\\Deleted".into()));
        yes(SearchKey::Address(AddressField::From, "ann lee".into()));
        yes(SearchKey::Address(AddressField::To, "EXAMPLE.ORG".into()));
        no(SearchKey::Address(AddressField::Cc, "ann".into()));
        yes(SearchKey::Subject("CAFÉ".into()));
        yes(SearchKey::Header("x-tag".into(), "blue".into()));
        yes(SearchKey::Header("X-Tag".into(), String::new()));
        no(SearchKey::Header("X-Missing".into(), String::new()));
        yes(SearchKey::Body("body TEXT".into()));
        no(SearchKey::Body("meeting".into()));
        yes(SearchKey::Text("meeting".into()));
        yes(SearchKey::InternalDate(DateCmp::On, 10));
        yes(SearchKey::InternalDate(DateCmp::Before, 11));
        no(SearchKey::InternalDate(DateCmp::Since, 11));
        // 23:30 on the 2nd at -0100 is the 2nd for the sender (day 1).
        yes(SearchKey::SentDate(DateCmp::On, 1));
        yes(SearchKey::Larger(299));
        no(SearchKey::Smaller(300));
        yes(SearchKey::Uid(vec![(1, 3), (5, 5)]));
        no(SearchKey::Uid(vec![(6, 9)]));
        yes(SearchKey::EmailId("M2a".into()));
        no(SearchKey::EmailId("M29".into()));
        no(SearchKey::EmailId("T2a".into()));
        yes(SearchKey::ThreadId("T29".into()));
        yes(SearchKey::StoredWithin(
            Some(86_400 * 10 + 5),
            Some(86_400 * 10 + 6),
        ));
        no(SearchKey::StoredWithin(Some(86_400 * 10 + 6), None));
        no(SearchKey::StoredWithin(None, Some(86_400 * 10 + 5)));
        yes(SearchKey::HeaderIs("from".into(), "ANN@example.com".into()));
        no(SearchKey::HeaderIs("From".into(), "ann".into()));
        yes(SearchKey::HeaderIs("X-Tag".into(), "blue".into()));
        no(SearchKey::HeaderIs("X-Tag".into(), "blu".into()));
        no(SearchKey::ThreadId("T2a".into()));
        yes(SearchKey::SaveDate(DateCmp::On, 12));
        no(SearchKey::SaveDate(DateCmp::Before, 12));
        yes(SearchKey::ModSeq(7));
        no(SearchKey::ModSeq(8));
        yes(SearchKey::Or(
            Box::new(SearchKey::Larger(1000)),
            Box::new(SearchKey::All),
        ));
        no(SearchKey::Not(Box::new(SearchKey::All)));
        no(SearchKey::And(vec![
            SearchKey::All,
            SearchKey::Larger(1000),
        ]));
        let _ = Flags::new();
        assert!(SearchKey::Not(Box::new(SearchKey::Text("x".into()))).needs_body_text());
        assert!(!SearchKey::Subject("x".into()).needs_body_text());
        assert!(SearchKey::Not(Box::new(SearchKey::Subject("x".into()))).needs_summary());
        assert!(
            !SearchKey::And(vec![SearchKey::Flag("\\Seen".into()), SearchKey::Larger(3)])
                .needs_summary()
        );
    }
}
