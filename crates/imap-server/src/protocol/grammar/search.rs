//! SEARCH criteria (RFC 3501 6.4.4, `search-key`).

use nom::bytes::complete::{tag, tag_no_case};
use nom::combinator::{map, opt};
use nom::multi::separated_list1;
use nom::sequence::preceded;
use nom::Parser;
use store_core::search::{AddressField, DateCmp, SearchKey as Key};

use super::primitives::{astring, atom, date, flag, number64, nz_number, sequence_set, sp, string};
use super::{GrammarError, PResult};
use crate::protocol::command::{SearchKey, SearchReturn, SortCriterion, SortKey, ThreadAlgorithm};

/// `1*(SP search-key)` after the command (and CHARSET), juxtaposed keys
/// being an AND. `max_depth` bounds the nesting of parentheses, NOT and OR.
pub fn search_criteria(i: &[u8], max_depth: usize) -> PResult<'_, SearchKey> {
    let (rest, mut keys) = separated_list1(sp, |i| search_key(i, max_depth)).parse(i)?;
    let key = if keys.len() == 1 {
        keys.remove(0)
    } else {
        SearchKey::And(keys)
    };
    Ok((rest, key))
}

/// `sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"` with
/// `sort-criterion = ["REVERSE" SP] sort-key` (RFC 5256 5; DISPLAYFROM
/// and DISPLAYTO from RFC 5957 4).
pub fn sort_criteria(i: &[u8]) -> PResult<'_, Vec<SortCriterion>> {
    let (rest, _) = tag(&b"("[..]).parse(i)?;
    let (rest, words) = separated_list1(sp, atom).parse(rest)?;
    let (rest, _) = tag(&b")"[..]).parse(rest)?;
    let mut criteria = Vec::new();
    let mut reverse = false;
    for word in words {
        let key = match word.to_ascii_uppercase().as_str() {
            "REVERSE" if !reverse => {
                reverse = true;
                continue;
            }
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            "DISPLAYFROM" => SortKey::DisplayFrom,
            "DISPLAYTO" => SortKey::DisplayTo,
            _ => return GrammarError::fail("unknown sort key"),
        };
        criteria.push(SortCriterion { key, reverse });
        reverse = false;
    }
    if reverse {
        return GrammarError::fail("REVERSE without a sort key");
    }
    Ok((rest, criteria))
}

/// A THREAD algorithm name (RFC 5256 4).
pub fn thread_algorithm(i: &[u8]) -> PResult<'_, ThreadAlgorithm> {
    let (rest, name) = atom(i)?;
    match name.to_ascii_uppercase().as_str() {
        "ORDEREDSUBJECT" => Ok((rest, ThreadAlgorithm::OrderedSubject)),
        "REFERENCES" => Ok((rest, ThreadAlgorithm::References)),
        _ => GrammarError::fail("unknown threading algorithm"),
    }
}

/// `PARTIAL low:high` (RFC 5267 4.4): two nz-numbers in either order,
/// returned low first; `*` and single numbers are refused.
pub fn partial_return(i: &[u8]) -> PResult<'_, SearchReturn> {
    let (rest, (_, _, a, _, b)) = (
        tag_no_case(&b"PARTIAL"[..]),
        sp,
        nz_number,
        tag(&b":"[..]),
        nz_number,
    )
        .parse(i)?;
    Ok((rest, SearchReturn::Partial(a.min(b), a.max(b))))
}

fn search_key(i: &[u8], depth: usize) -> PResult<'_, SearchKey> {
    if depth == 0 {
        return GrammarError::fail("search criteria nested too deeply");
    }
    match i.first() {
        Some(b'(') => {
            let (rest, keys) = preceded(
                tag(&b"("[..]),
                separated_list1(sp, |i| search_key(i, depth - 1)),
            )
            .parse(i)?;
            let (rest, _) = tag(&b")"[..]).parse(rest)?;
            return Ok((rest, SearchKey::And(keys)));
        }
        Some(b'0'..=b'9' | b'*') => return map(sequence_set, SearchKey::Sequence).parse(i),
        _ => {}
    }
    let (rest, name) = atom(i)?;
    let name = name.to_ascii_uppercase();
    let store = |k: Key| SearchKey::Store(k);
    let not = |k: Key| SearchKey::Not(Box::new(SearchKey::Store(k)));
    let flag_key = |f: &str| Key::Flag(f.to_string());
    let text = |rest, f: fn(String) -> Key| {
        map(preceded(sp, astring), move |s| SearchKey::Store(f(s))).parse(rest)
    };
    let day = |rest, f: fn(i64) -> Key| {
        map(preceded(sp, date), move |d| SearchKey::Store(f(d))).parse(rest)
    };
    match name.as_str() {
        "ALL" => Ok((rest, store(Key::All))),
        "ANSWERED" => Ok((rest, store(flag_key("\\Answered")))),
        "DELETED" => Ok((rest, store(flag_key("\\Deleted")))),
        "DRAFT" => Ok((rest, store(flag_key("\\Draft")))),
        "FLAGGED" => Ok((rest, store(flag_key("\\Flagged")))),
        "SEEN" => Ok((rest, store(flag_key("\\Seen")))),
        "UNANSWERED" => Ok((rest, not(flag_key("\\Answered")))),
        "UNDELETED" => Ok((rest, not(flag_key("\\Deleted")))),
        "UNDRAFT" => Ok((rest, not(flag_key("\\Draft")))),
        "UNFLAGGED" => Ok((rest, not(flag_key("\\Flagged")))),
        "UNSEEN" => Ok((rest, not(flag_key("\\Seen")))),
        "RECENT" => Ok((rest, SearchKey::Recent)),
        "NEW" => Ok((rest, SearchKey::New)),
        "OLD" => Ok((rest, SearchKey::Old)),
        "KEYWORD" => map(preceded(sp, flag), |f| SearchKey::Store(Key::Flag(f))).parse(rest),
        "UNKEYWORD" => map(preceded(sp, flag), |f| {
            SearchKey::Not(Box::new(SearchKey::Store(Key::Flag(f))))
        })
        .parse(rest),
        "BCC" => text(rest, |s| Key::Address(AddressField::Bcc, s)),
        "CC" => text(rest, |s| Key::Address(AddressField::Cc, s)),
        "FROM" => text(rest, |s| Key::Address(AddressField::From, s)),
        "TO" => text(rest, |s| Key::Address(AddressField::To, s)),
        "SUBJECT" => text(rest, Key::Subject),
        "BODY" => text(rest, Key::Body),
        "TEXT" => text(rest, Key::Text),
        "HEADER" => map((sp, astring, sp, astring), |(_, field, _, value)| {
            SearchKey::Store(Key::Header(field, value))
        })
        .parse(rest),
        "BEFORE" => day(rest, |d| Key::InternalDate(DateCmp::Before, d)),
        "ON" => day(rest, |d| Key::InternalDate(DateCmp::On, d)),
        "SINCE" => day(rest, |d| Key::InternalDate(DateCmp::Since, d)),
        "SENTBEFORE" => day(rest, |d| Key::SentDate(DateCmp::Before, d)),
        "SENTON" => day(rest, |d| Key::SentDate(DateCmp::On, d)),
        "SENTSINCE" => day(rest, |d| Key::SentDate(DateCmp::Since, d)),
        "LARGER" => map(preceded(sp, number64), |n| store(Key::Larger(n))).parse(rest),
        "SMALLER" => map(preceded(sp, number64), |n| store(Key::Smaller(n))).parse(rest),
        "UID" => map(preceded(sp, sequence_set), SearchKey::Uid).parse(rest),
        // RFC 7162 3.1.5: `MODSEQ [SP entry-name SP entry-type-req] SP
        // mod-sequence-valzer`. Flags share the message's one MODSEQ here,
        // so the entry names none more precise.
        "MODSEQ" => map(
            (opt((sp, string, sp, atom)), preceded(sp, number64)),
            |(_, n)| store(Key::ModSeq(n)),
        )
        .parse(rest),
        // RFC 8474 6: `EMAILID objectid`, `THREADID objectid`.
        "EMAILID" => text(rest, Key::EmailId),
        "THREADID" => text(rest, Key::ThreadId),
        // RFC 8514 4; every mailbox here keeps save dates.
        "SAVEDBEFORE" => day(rest, |d| Key::SaveDate(DateCmp::Before, d)),
        "SAVEDON" => day(rest, |d| Key::SaveDate(DateCmp::On, d)),
        "SAVEDSINCE" => day(rest, |d| Key::SaveDate(DateCmp::Since, d)),
        "SAVEDATESUPPORTED" => Ok((rest, store(Key::All))),
        "NOT" => map(preceded(sp, |i| search_key(i, depth - 1)), |k| {
            SearchKey::Not(Box::new(k))
        })
        .parse(rest),
        "OR" => map(
            (
                preceded(sp, |i| search_key(i, depth - 1)),
                preceded(sp, |i| search_key(i, depth - 1)),
            ),
            |(a, b)| SearchKey::Or(Box::new(a), Box::new(b)),
        )
        .parse(rest),
        _ => GrammarError::fail("unknown search key"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_search_example() {
        let (rest, key) =
            search_criteria(b"FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"", 8).unwrap();
        assert!(rest.is_empty());
        let SearchKey::And(keys) = key else {
            panic!("{key:?}")
        };
        assert_eq!(keys.len(), 3);
        assert_eq!(
            keys[2],
            SearchKey::Not(Box::new(SearchKey::Store(Key::Address(
                AddressField::From,
                "Smith".into()
            ))))
        );
    }

    #[test]
    fn rfc5256_sort_criteria() {
        let (rest, c) = sort_criteria(b"(REVERSE ARRIVAL subject displayfrom)").unwrap();
        assert!(rest.is_empty());
        let keys: Vec<(SortKey, bool)> = c.iter().map(|c| (c.key, c.reverse)).collect();
        assert_eq!(
            keys,
            [
                (SortKey::Arrival, true),
                (SortKey::Subject, false),
                (SortKey::DisplayFrom, false)
            ]
        );
        assert!(sort_criteria(b"(REVERSE)").is_err());
        assert!(sort_criteria(b"(REVERSE REVERSE DATE)").is_err());
        assert!(sort_criteria(b"(FOO)").is_err());
        assert!(sort_criteria(b"()").is_err());
        assert_eq!(
            partial_return(b"PARTIAL 4:2").unwrap().1,
            SearchReturn::Partial(2, 4)
        );
        assert!(partial_return(b"PARTIAL 1").is_err());
        assert!(partial_return(b"PARTIAL 1:*").is_err());
        assert!(partial_return(b"PARTIAL 0:3").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}ALL{}", "(".repeat(50), ")".repeat(50));
        let e = search_criteria(deep.as_bytes(), 16).unwrap_err();
        assert!(
            matches!(e, nom::Err::Failure(GrammarError { reason: Some(r) }) if r.contains("deeply"))
        );
        assert!(search_criteria(b"OR (SEEN 1:3) NOT UID 4:*", 16).is_ok());
    }

    #[test]
    fn rfc8474_and_rfc8514_keys() {
        let (rest, key) = search_criteria(
            b"EMAILID M1 THREADID T2 SAVEDBEFORE 1-Feb-1994 SAVEDON 2-Feb-1994 \
SAVEDSINCE 3-Feb-1994 SAVEDATESUPPORTED",
            8,
        )
        .unwrap();
        assert!(rest.is_empty());
        let SearchKey::And(keys) = key else {
            panic!("{key:?}")
        };
        let day = store_core::dates::days_since_epoch(1994, 2, 1).unwrap();
        assert_eq!(
            keys,
            [
                Key::EmailId("M1".into()),
                Key::ThreadId("T2".into()),
                Key::SaveDate(DateCmp::Before, day),
                Key::SaveDate(DateCmp::On, day + 1),
                Key::SaveDate(DateCmp::Since, day + 2),
                Key::All,
            ]
            .map(SearchKey::Store)
        );
    }
}
