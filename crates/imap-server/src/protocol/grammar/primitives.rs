//! Shared productions of RFC 3501 9: atoms, strings, literals, numbers,
//! mailboxes, flags, dates and sequence sets.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take, take_while1, take_while_m_n};
use nom::combinator::{map, opt, value};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded};
use nom::Parser;
use store_core::model::UnixTime;

use super::{GrammarError, PResult};
use crate::protocol::mutf7;
use crate::protocol::reader::STREAMED_LITERAL;
use crate::protocol::sequence::{SeqNumber, SequenceSet};

/// `atom-specials` (RFC 3501 9), without `]` which `ASTRING-CHAR` allows.
fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b)
}

fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// SP
pub fn sp(i: &[u8]) -> PResult<'_, ()> {
    value((), tag(&b" "[..])).parse(i)
}

/// `atom`, as text.
pub fn atom(i: &[u8]) -> PResult<'_, String> {
    map(take_while1(is_atom_char), |b: &[u8]| {
        String::from_utf8_lossy(b).into_owned()
    })
    .parse(i)
}

/// Up to `max_digits` decimal digits as a `T`; a value past `T` fails.
fn decimal<T: std::str::FromStr>(max_digits: usize) -> impl Fn(&[u8]) -> PResult<'_, T> {
    move |i| {
        let (rest, digits) = take_while_m_n(1, max_digits, |b: u8| b.is_ascii_digit()).parse(i)?;
        match std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
        {
            Some(n) => Ok((rest, n)),
            None => GrammarError::fail("number out of range"),
        }
    }
}

/// `number` (a 32-bit unsigned integer).
pub fn number(i: &[u8]) -> PResult<'_, u32> {
    decimal(10)(i)
}

/// `number64` (RFC 9051; LARGER/SMALLER sizes).
pub fn number64(i: &[u8]) -> PResult<'_, u64> {
    decimal(19)(i)
}

/// `nz-number`.
pub fn nz_number(i: &[u8]) -> PResult<'_, u32> {
    let (rest, n) = number(i)?;
    if n == 0 {
        return GrammarError::fail("0 is not a valid message number or UID");
    }
    Ok((rest, n))
}

/// `quoted`: the bytes between the quotes, escapes removed.
fn quoted(i: &[u8]) -> PResult<'_, Vec<u8>> {
    let (mut rest, _) = tag(&b"\""[..]).parse(i)?;
    let mut out = Vec::new();
    loop {
        match rest.first() {
            None | Some(b'\r') | Some(b'\n') => {
                return GrammarError::fail("unterminated quoted string")
            }
            Some(b'"') => return Ok((&rest[1..], out)),
            Some(b'\\') => match rest.get(1) {
                Some(&c @ (b'"' | b'\\')) => {
                    out.push(c);
                    rest = &rest[2..];
                }
                _ => return GrammarError::fail("bad escape in quoted string"),
            },
            Some(&c) => {
                out.push(c);
                rest = &rest[1..];
            }
        }
    }
}

/// `literal` and `literal8` kept inline by the reader: `{n}` CRLF n bytes.
fn literal(i: &[u8]) -> PResult<'_, Vec<u8>> {
    let (rest, n) = delimited(
        (opt(tag(&b"~"[..])), tag(&b"{"[..])),
        number,
        (opt(tag(&b"+"[..])), tag(&b"}\r\n"[..])),
    )
    .parse(i)?;
    map(take(n as usize), <[u8]>::to_vec).parse(rest)
}

/// `string` (quoted or literal), as bytes.
pub fn string_bytes(i: &[u8]) -> PResult<'_, Vec<u8>> {
    alt((quoted, literal)).parse(i)
}

fn utf8(bytes: Vec<u8>) -> Result<String, nom::Err<GrammarError>> {
    String::from_utf8(bytes).map_err(|_| {
        nom::Err::Failure(GrammarError {
            reason: Some("string is not UTF-8"),
        })
    })
}

/// `string`, as UTF-8 text.
pub fn string(i: &[u8]) -> PResult<'_, String> {
    let (rest, bytes) = string_bytes(i)?;
    Ok((rest, utf8(bytes)?))
}

/// `astring`, as UTF-8 text.
pub fn astring(i: &[u8]) -> PResult<'_, String> {
    alt((
        map(take_while1(is_astring_char), |b: &[u8]| {
            String::from_utf8_lossy(b).into_owned()
        }),
        string,
    ))
    .parse(i)
}

/// `nstring` as text: NIL or a string.
pub fn nstring(i: &[u8]) -> PResult<'_, Option<String>> {
    alt((value(None, tag_no_case(&b"NIL"[..])), map(string, Some))).parse(i)
}

/// `mailbox`: an astring decoded from modified UTF-7 (RFC 3501 5.1.3).
pub fn mailbox(i: &[u8]) -> PResult<'_, String> {
    // A name that is not valid modified UTF-7 is marked, not refused:
    // it names no mailbox, so the command gets NO (as Dovecot answers).
    let (rest, wire) = astring(i)?;
    Ok((rest, mutf7::from_client(&wire)))
}

/// `list-mailbox`: like a mailbox, but `%` and `*` are allowed unquoted.
pub fn list_mailbox(i: &[u8]) -> PResult<'_, String> {
    let (rest, wire) = alt((
        map(
            take_while1(|b| is_astring_char(b) || b == b'%' || b == b'*'),
            |b: &[u8]| String::from_utf8_lossy(b).into_owned(),
        ),
        string,
    ))
    .parse(i)?;
    Ok((rest, mutf7::from_client(&wire)))
}

/// `flag` (system flag or keyword; `\*` is not a flag for STORE/APPEND).
pub fn flag(i: &[u8]) -> PResult<'_, String> {
    alt((
        map(preceded(tag(&b"\\"[..]), atom), |a| format!("\\{a}")),
        atom,
    ))
    .parse(i)
}

/// `flag-list`.
pub fn flag_list(i: &[u8]) -> PResult<'_, Vec<String>> {
    delimited(
        tag(&b"("[..]),
        map(opt(separated_list1(sp, flag)), Option::unwrap_or_default),
        tag(&b")"[..]),
    )
    .parse(i)
}

/// Flags for STORE: a flag list or flags separated by SP.
pub fn store_flags(i: &[u8]) -> PResult<'_, Vec<String>> {
    alt((flag_list, separated_list1(sp, flag))).parse(i)
}

fn month(i: &[u8]) -> PResult<'_, u32> {
    let (rest, m) = take(3usize).parse(i)?;
    match store_core::dates::month_number(m) {
        Some(m) => Ok((rest, u32::from(m))),
        None => GrammarError::fail("bad month in date"),
    }
}

fn digits(n: usize) -> impl Fn(&[u8]) -> PResult<'_, u32> {
    move |i| {
        let (rest, d) = take_while_m_n(n, n, |b: u8| b.is_ascii_digit()).parse(i)?;
        Ok((
            rest,
            d.iter().fold(0, |acc, b| acc * 10 + (b - b'0') as u32),
        ))
    }
}

/// The calendar date's fields as `store_core::dates` takes them (the
/// grammar read at most 4 digits for the year, 2 for the others).
fn civil_date(y: u32, m: u32, d: u32) -> Option<(i32, u8, u8)> {
    Some((
        i32::try_from(y).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(d).ok()?,
    ))
}

/// `date` (SEARCH): `d-Mon-yyyy`, optionally quoted; as days since the
/// epoch.
pub fn date(i: &[u8]) -> PResult<'_, i64> {
    fn bare(i: &[u8]) -> PResult<'_, i64> {
        let (rest, (d, _, m, _, y)) = (
            alt((digits(2), digits(1))),
            tag(&b"-"[..]),
            month,
            tag(&b"-"[..]),
            digits(4),
        )
            .parse(i)?;
        match civil_date(y, m, d).and_then(|(y, m, d)| store_core::dates::days_since_epoch(y, m, d))
        {
            Some(days) => Ok((rest, days)),
            None => GrammarError::fail("no such day"),
        }
    }
    alt((delimited(tag(&b"\""[..]), bare, tag(&b"\""[..])), bare)).parse(i)
}

/// `date-time` (APPEND): `"dd-Mon-yyyy hh:mm:ss +zzzz"`, as Unix time.
pub fn date_time(i: &[u8]) -> PResult<'_, UnixTime> {
    let (rest, (_, d, _, m, _, y, _, hh, _, mm, _, ss, _, sign, zh, zm, _)) = (
        tag(&b"\""[..]),
        alt((preceded(tag(&b" "[..]), digits(1)), digits(2), digits(1))),
        tag(&b"-"[..]),
        month,
        tag(&b"-"[..]),
        digits(4),
        sp,
        digits(2),
        tag(&b":"[..]),
        digits(2),
        tag(&b":"[..]),
        digits(2),
        sp,
        alt((value(1i64, tag(&b"+"[..])), value(-1i64, tag(&b"-"[..])))),
        digits(2),
        digits(2),
        tag(&b"\""[..]),
    )
        .parse(i)?;
    let clock = (u8::try_from(hh), u8::try_from(mm), u8::try_from(ss));
    let t = match (civil_date(y, m, d), clock) {
        (Some(date), (Ok(hh), Ok(mm), Ok(ss))) if zm <= 59 => {
            let offset = sign * (i64::from(zh) * 3600 + i64::from(zm) * 60);
            i32::try_from(offset)
                .ok()
                .and_then(|offset| store_core::dates::from_civil(date, (hh, mm, ss), offset))
        }
        _ => None,
    };
    match t {
        Some(t) => Ok((rest, t)),
        None => GrammarError::fail("bad date-time"),
    }
}

fn seq_number(i: &[u8]) -> PResult<'_, SeqNumber> {
    alt((
        value(SeqNumber::Largest, tag(&b"*"[..])),
        map(nz_number, SeqNumber::Value),
    ))
    .parse(i)
}

/// `sequence-set`.
pub fn sequence_set(i: &[u8]) -> PResult<'_, SequenceSet> {
    map(
        separated_list1(
            tag(&b","[..]),
            map(
                (seq_number, opt(preceded(tag(&b":"[..]), seq_number))),
                |(a, b)| (a, b.unwrap_or(a)),
            ),
        ),
        SequenceSet,
    )
    .parse(i)
}

/// The placeholder of a literal the reader streamed to a blob.
pub fn streamed_literal(i: &[u8]) -> PResult<'_, ()> {
    value((), tag(&[STREAMED_LITERAL][..])).parse(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_literals() {
        assert_eq!(astring(b"\"a \\\"b\\\"\" x").unwrap().1, "a \"b\"");
        assert_eq!(
            astring(b"{3}\r\nabc rest").unwrap(),
            (&b" rest"[..], "abc".into())
        );
        assert_eq!(astring(b"{3+}\r\nabc").unwrap().1, "abc");
        assert!(matches!(astring(b"\"abc"), Err(nom::Err::Failure(_))));
    }

    #[test]
    fn dates() {
        // RFC 3501 6.3.11's example.
        let (_, t) = date_time(b"\"7-Feb-1994 21:52:25 -0800\"").unwrap();
        assert_eq!(t, 760_686_745);
        let (_, t) = date_time(b"\" 7-Feb-1994 21:52:25 -0800\"").unwrap();
        assert_eq!(t, 760_686_745);
        assert_eq!(date(b"1-Feb-1994").unwrap().1, 8797);
        assert_eq!(date(b"\"29-feb-2000\"").unwrap().1, 11_016);
        assert!(date(b"30-Feb-1994").is_err());
        assert!(date(b"31-Apr-1994").is_err());
        assert!(date(b"29-Feb-1900").is_err());
    }

    #[test]
    fn date_times_of_days_that_do_not_exist_are_refused() {
        assert!(date_time(b"\"31-Feb-1994 21:52:25 -0800\"").is_err());
        assert!(date_time(b"\"29-Feb-2023 00:00:00 +0000\"").is_err());
        assert!(date_time(b"\"07-Feb-1994 24:00:00 +0000\"").is_err());
        assert!(date_time(b"\"07-Feb-1994 23:59:59 +0060\"").is_err());
        assert_eq!(
            date_time(b"\"29-Feb-2024 00:00:00 +0000\"").unwrap().1,
            1_709_164_800
        );
    }

    #[test]
    fn sequence_sets() {
        let (_, s) = sequence_set(b"1:3,5,*:7").unwrap();
        assert_eq!(s.ranges(9), vec![(1, 3), (5, 5), (7, 9)]);
        assert!(sequence_set(b"0:3").is_err());
    }
}
