//! Dates and times in the formats the protocols write and read, all on the
//! `time` crate (one calendar, which refuses dates that do not exist, such
//! as 31 February). Times are [`UnixTime`]: seconds since 1970-01-01
//! 00:00:00 UTC, leap seconds not counted. HTTP dates (RFC 9110 5.6.7) are
//! the `httpdate` crate's, in the HTTP front ends.

use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::model::UnixTime;

/// The UTC date and time of `t`; `None` outside years -9999 to 9999.
fn utc(t: UnixTime) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t).ok()
}

/// The UTC date and time of `t`, clamped to the years 0 to 9999 the date
/// formats below can write (a stored time is never outside them; a
/// corrupted one is shown as the nearest end rather than refused).
fn utc_clamped(t: UnixTime) -> OffsetDateTime {
    const MIN: UnixTime = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: UnixTime = 253_402_300_799; // 9999-12-31T23:59:59Z
    utc(t.clamp(MIN, MAX)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Reads an RFC 3339 5.6 `date-time` (`2026-11-21T10:00:00.123+01:00`;
/// `T` and `Z` in either case, surrounding whitespace ignored), as CPIM
/// DateTime (RFC 3862 5.6), IMAP URL `EXPIRE` (RFC 5092 3.2) and NMS
/// `Date` criteria carry it, to Unix seconds (the fraction dropped).
/// `None` if it is not one or names a day that does not exist
/// (`2026-02-31`).
pub fn parse_rfc3339(s: &str) -> Option<UnixTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// `t` as an RFC 3339 UTC date-time without fraction
/// (`2013-11-12T08:30:10Z`): WebDAV `DAV:creationdate` (RFC 4918 15.1),
/// IMAP URL `EXPIRE` (RFC 5092 3.2), NMS `Date` (xsd:dateTimeStamp).
pub fn rfc3339(t: UnixTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    utc_clamped(t).format(format).unwrap_or_default()
}

/// The UTC calendar date of `t` as `YYYY-MM-DD` (RFC 3339 `full-date`).
pub fn rfc3339_date(t: UnixTime) -> String {
    let format = format_description!("[year]-[month]-[day]");
    utc_clamped(t).format(format).unwrap_or_default()
}

/// `t` as an RFC 5322 3.3 `date-time` in UTC
/// (`Sat, 21 Nov 2026 10:00:00 +0000`), for the Date header fields of
/// composed messages.
pub fn rfc5322(t: UnixTime) -> String {
    // RFC 5322 3.3 years are 1900 or later (time's Rfc2822 refuses others).
    utc_clamped(t.max(-2_208_988_800))
        .format(&Rfc2822)
        .unwrap_or_default()
}

/// `t` as an IMAP `date-time` without its quotes
/// (`07-Feb-1994 21:52:25 +0000`, RFC 3501 9 / RFC 9051 9), for
/// INTERNALDATE and SAVEDATE.
pub fn imap_date_time(t: UnixTime) -> String {
    let format =
        format_description!("[day]-[month repr:short]-[year] [hour]:[minute]:[second] +0000");
    utc_clamped(t).format(format).unwrap_or_default()
}

/// The month of an English three-letter abbreviation in any case (`Feb`,
/// `FEB`), as IMAP `date-month` (RFC 3501 9), RFC 5322 and HTTP dates
/// write them: 1 to 12, or `None`.
pub fn month_number(abbreviation: &[u8]) -> Option<u8> {
    const NAMES: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(abbreviation))
        .and_then(|i| u8::try_from(i + 1).ok())
}

/// Days from 1970-01-01 to the calendar date `year-month-day` (proleptic
/// Gregorian; negative before 1970). `None` when the day does not exist
/// (31 February, 29 February of a common year, month 13) or the year is
/// outside -9999 to 9999.
pub fn days_since_epoch(year: i32, month: u8, day: u8) -> Option<i64> {
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    // 1970-01-01 is Julian day 2,440,588.
    Some(i64::from(date.to_julian_day()) - 2_440_588)
}

/// Unix seconds of a local date and time with its offset from UTC in
/// seconds east (`+0100` is 3600), as IMAP `date-time` gives them (RFC
/// 3501 9). A leap second (`:60`) counts as `:59`. `None` when the day
/// does not exist, a field is out of its range (hour 24, minute 60) or the
/// offset is a day or more.
pub fn from_civil(
    (year, month, day): (i32, u8, u8),
    (hour, minute, second): (u8, u8, u8),
    offset_seconds: i32,
) -> Option<UnixTime> {
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let time = Time::from_hms(hour, minute, if second == 60 { 59 } else { second }).ok()?;
    let offset = UtcOffset::from_whole_seconds(offset_seconds).ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_offset(offset)
            .unix_timestamp(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_read_with_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339(" 1970-01-01t01:00:00.5+01:00 "), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-21T10:00:00-00:30"),
            Some(1_795_257_000)
        );
        assert_eq!(parse_rfc3339("1970-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("1970-01-01"), None);
    }

    #[test]
    fn rfc3339_refuses_days_that_do_not_exist() {
        assert_eq!(parse_rfc3339("2026-02-31T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-04-31T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
    }

    #[test]
    fn formats_write_the_same_instant() {
        // RFC 3501 6.3.11's example, 7 Feb 1994 21:52:25 -0800.
        let t = 760_686_745;
        assert_eq!(rfc3339(t), "1994-02-08T05:52:25Z");
        assert_eq!(rfc3339_date(t), "1994-02-08");
        assert_eq!(rfc5322(t), "Tue, 08 Feb 1994 05:52:25 +0000");
        assert_eq!(imap_date_time(t), "08-Feb-1994 05:52:25 +0000");
        assert_eq!(rfc5322(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn civil_dates_are_checked() {
        assert_eq!(days_since_epoch(1970, 1, 1), Some(0));
        assert_eq!(days_since_epoch(1969, 12, 31), Some(-1));
        assert_eq!(days_since_epoch(2000, 2, 29), Some(11_016));
        assert_eq!(days_since_epoch(2026, 2, 31), None);
        assert_eq!(days_since_epoch(2026, 13, 1), None);
        let t = from_civil((1994, 2, 7), (21, 52, 25), -8 * 3600);
        assert_eq!(t, Some(760_686_745));
        assert_eq!(
            from_civil((1994, 2, 7), (21, 52, 60), 0),
            from_civil((1994, 2, 7), (21, 52, 59), 0)
        );
        assert_eq!(from_civil((1994, 2, 31), (0, 0, 0), 0), None);
        assert_eq!(from_civil((1994, 2, 1), (24, 0, 0), 0), None);
        assert_eq!(month_number(b"feb"), Some(2));
        assert_eq!(month_number(b"DEC"), Some(12));
        assert_eq!(month_number(b"Foo"), None);
    }
}
