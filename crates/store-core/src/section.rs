//! The one section resolver: which bytes of a stored message an IMAP body
//! section names (RFC 3501 6.4.5), for IMAP FETCH `BODY[...]` /
//! `BINARY[...]`, IMAP URLFETCH (RFC 4467) and SIP fetch by reference, so
//! that the three agree on every section.
//!
//! Part numbers are resolved as Dovecot does, which is what RFC 3501
//! 6.4.5 describes:
//!
//! - the message itself is the starting point; a number selects the `n`th
//!   child of a multipart, and `1` of any non-multipart part is that part
//!   itself ("non-multipart messages ... only have a part 1"), so `[1]`,
//!   `[1.1]`, `[1.1.1]` of a single-part text message all name its body;
//! - a `message/rfc822` part is entered only when more numbers follow:
//!   `[2]` is the encapsulated message whole (its header and body),
//!   `[2.1]` the first part of its body (or the body of a single-part
//!   encapsulated message, whatever its type);
//! - any other number (0, past the last child, `2` of a non-multipart)
//!   names nothing: FETCH answers NIL, URLFETCH NIL, SIP 404.
//!
//! After the numbers: `MIME` is the part's own MIME header block (only
//! after a number); `HEADER`, `HEADER.FIELDS` and `TEXT` are the header
//! and body of the message, or of the `message/rfc822` part the numbers
//! name (for any other part they name nothing).

use std::ops::Range;

use crate::mime::{BodyPart, MessageSummary};

/// Parses a section spec without `HEADER.FIELDS` (`1.2`, `HEADER`,
/// `2.TEXT`, `1.MIME`; case-insensitive) into its part numbers and what
/// follows them. `None` for anything else.
pub fn parse_section(section: &str) -> Option<(Vec<u32>, SectionText)> {
    let upper = section.to_ascii_uppercase();
    let mut fields = upper.split('.').peekable();
    let mut numbers = Vec::new();
    while let Some(n) = fields.peek().and_then(|f| f.parse::<u32>().ok()) {
        numbers.push(n);
        fields.next();
    }
    let rest = fields.collect::<Vec<_>>().join(".");
    let text = match rest.as_str() {
        "" => SectionText::Body,
        "HEADER" => SectionText::Header,
        "TEXT" => SectionText::Text,
        "MIME" => SectionText::Mime,
        _ => return None,
    };
    Some((numbers, text))
}

/// The bytes `section` (`None`: the whole message) names in a message of
/// `size` bytes with `summary`, as IMAP FETCH `BODY[section]` returns
/// them, and their media type: the whole message (`message/rfc822`), a
/// numbered part's body (its own type), or a `HEADER` / `TEXT` / `MIME`
/// block (`text/plain`). For URLFETCH, CATENATE and SIP fetch by
/// reference. `None` for a section the message does not have or a form
/// not supported here (`HEADER.FIELDS`).
pub fn message_range(
    summary: &MessageSummary,
    size: u64,
    section: Option<&str>,
) -> Option<(Range<u64>, String)> {
    let root = &summary.body;
    let Some(section) = section else {
        return Some((0..size, "message/rfc822".into()));
    };
    let (numbers, text) = parse_section(section)?;
    let range = section_range(root, size, &numbers, text)?;
    let media = match (text, find_part(root, &numbers)) {
        (SectionText::Body, Some(part)) if !numbers.is_empty() => {
            format!("{}/{}", part.media_type, part.media_subtype)
        }
        _ => "text/plain".into(),
    };
    Some((range, media))
}

/// What a section names after its part numbers (RFC 3501 6.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionText {
    /// Nothing: the whole message (no numbers) or the part's body.
    Body,
    /// `HEADER` and `HEADER.FIELDS[.NOT]` (the latter filtered by the
    /// caller from this range).
    Header,
    /// `TEXT`.
    Text,
    /// `MIME`.
    Mime,
}

/// The part that section numbers name, per the rules in the module
/// documentation. `numbers` empty gives the root part. `None` for a
/// number that names nothing.
pub fn find_part<'a>(root: &'a BodyPart, numbers: &[u32]) -> Option<&'a BodyPart> {
    let mut part = root;
    for (i, &n) in numbers.iter().enumerate() {
        if i > 0 {
            if let Some(inner) = &part.message {
                part = &inner.1;
            }
        }
        part = if part.children.is_empty() {
            (n == 1).then_some(part)?
        } else {
            part.children
                .get(usize::try_from(n.checked_sub(1)?).ok()?)?
        };
    }
    Some(part)
}

/// The byte range of a stored message of `size` bytes with structure
/// `root` that section `numbers` + `text` names, clamped to `0..size`.
/// `None` when it names nothing (see the module documentation).
pub fn section_range(
    root: &BodyPart,
    size: u64,
    numbers: &[u32],
    text: SectionText,
) -> Option<Range<u64>> {
    let clamp = |start: u64, end: u64| {
        let end = end.min(size);
        start.min(end)..end
    };
    if numbers.is_empty() {
        let body = root.body_start.min(size);
        return match text {
            SectionText::Body => Some(0..size),
            SectionText::Header => Some(0..body),
            SectionText::Text => Some(body..size),
            SectionText::Mime => None,
        };
    }
    let part = find_part(root, numbers)?;
    match text {
        SectionText::Body => Some(clamp(part.body_start, part.end)),
        SectionText::Mime => Some(clamp(part.header_start, part.body_start)),
        SectionText::Header => {
            let inner = &part.message.as_ref()?.1;
            Some(clamp(inner.header_start, inner.body_start))
        }
        SectionText::Text => {
            let inner = &part.message.as_ref()?.1;
            Some(clamp(inner.body_start, inner.end))
        }
    }
}

/// Most bytes of a part decoded for BINARY (RFC 3516) in memory; a larger
/// base64 or quoted-printable part gets NO.
pub const MAX_BINARY_DECODE: u64 = 64 * 1024 * 1024;

/// How a part's content is turned into its binary form (RFC 3516 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferDecoding {
    /// `7bit`, `8bit` (or none): the bytes as stored.
    Identity,
    /// `binary`: the bytes as stored, which may hold NUL.
    Binary,
    /// `base64` (RFC 2045 6.8).
    Base64,
    /// `quoted-printable` (RFC 2045 6.7).
    QuotedPrintable,
}

/// A Content-Transfer-Encoding this server does not decode (IMAP answers
/// `NO [UNKNOWN-CTE]`, RFC 3516 4.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Content-Transfer-Encoding {0}")]
pub struct UnknownCte(pub String);

/// How section `numbers` of a message with structure `root` decodes:
/// the whole message, a multipart and a `message/rfc822` part are sent as
/// stored (as Dovecot does); a leaf part by its Content-Transfer-Encoding.
/// `Ok(None)` when the section names nothing.
pub fn transfer_decoding(
    root: &BodyPart,
    numbers: &[u32],
) -> Result<Option<TransferDecoding>, UnknownCte> {
    if numbers.is_empty() {
        return Ok(Some(TransferDecoding::Identity));
    }
    let Some(part) = find_part(root, numbers) else {
        return Ok(None);
    };
    if !part.children.is_empty() || part.message.is_some() {
        return Ok(Some(TransferDecoding::Identity));
    }
    let encoding = part.encoding.as_deref().unwrap_or("7bit").trim();
    Ok(Some(match encoding.to_ascii_lowercase().as_str() {
        "" | "7bit" | "8bit" => TransferDecoding::Identity,
        "binary" => TransferDecoding::Binary,
        "base64" => TransferDecoding::Base64,
        "quoted-printable" => TransferDecoding::QuotedPrintable,
        _ => return Err(UnknownCte(encoding.to_string())),
    }))
}

/// The binary form of `raw` content in `decoding` (RFC 3516): base64
/// leniently (characters outside the alphabet skipped, padding optional,
/// as mail clients write it), quoted-printable robustly (a malformed
/// escape kept as is).
pub fn decode_transfer(decoding: TransferDecoding, raw: &[u8]) -> Vec<u8> {
    match decoding {
        TransferDecoding::Identity | TransferDecoding::Binary => raw.to_vec(),
        TransferDecoding::Base64 => {
            use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose};
            use base64::Engine as _;
            const LENIENT: GeneralPurpose = GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                general_purpose::NO_PAD
                    .with_decode_allow_trailing_bits(true)
                    .with_decode_padding_mode(DecodePaddingMode::RequireNone),
            );
            let mut clean: Vec<u8> = raw
                .iter()
                .copied()
                .take_while(|&b| b != b'=')
                .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
                .collect();
            if clean.len() % 4 == 1 {
                // A lone trailing sextet carries no whole byte.
                clean.pop();
            }
            LENIENT.decode(&clean).unwrap_or_default()
        }
        TransferDecoding::QuotedPrintable => {
            quoted_printable::decode(raw, quoted_printable::ParseMode::Robust)
                .unwrap_or_else(|_| raw.to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::summarize;

    /// imaptest's fetch-body-mime message (Dovecot's answers in comments).
    const NESTED: &[u8] = b"From: user@domain.org\r\n\
Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n\
Mime-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"foo\r\n bar\"\r\n\
\r\n\
Root MIME prologue\r\n\
\r\n\
--foo bar\r\n\
Content-Type: text/x-myown; charset=us-ascii\r\n\
\r\n\
hello\r\n\
\r\n\
--foo bar\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: sub@domain.org\r\n\
Date: Sun, 12 Aug 2012 12:34:56 +0300\r\n\
Subject: submsg\r\n\
Content-Type: multipart/alternative; boundary=\"sub1\"\r\n\
\r\n\
Sub MIME prologue\r\n\
--sub1\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>Hello world</p>\r\n\
\r\n\
--sub1\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hello another world\r\n\
\r\n\
--sub1--\r\n\
Sub MIME epilogue\r\n\
\r\n\
--foo bar--\r\n\
Root MIME epilogue\r\n";

    fn get(raw: &[u8], numbers: &[u32], text: SectionText) -> Option<String> {
        let s = summarize(raw).summary;
        section_range(&s.body, raw.len() as u64, numbers, text)
            .map(|r| String::from_utf8_lossy(&raw[r.start as usize..r.end as usize]).into())
    }

    #[test]
    fn sections_inside_an_encapsulated_message() {
        use SectionText::*;
        let m = NESTED;
        assert_eq!(get(m, &[1], Body).unwrap(), "hello\r\n");
        assert_eq!(
            get(m, &[1], Mime).unwrap(),
            "Content-Type: text/x-myown; charset=us-ascii\r\n\r\n"
        );
        assert_eq!(
            get(m, &[2], Mime).unwrap(),
            "Content-Type: message/rfc822\r\n\r\n"
        );
        let two = get(m, &[2], Body).unwrap();
        assert!(two.starts_with("From: sub@domain.org\r\n"), "{two}");
        assert!(two.ends_with("Sub MIME epilogue\r\n"), "{two}");
        assert_eq!(
            get(m, &[2], Header).unwrap(),
            "From: sub@domain.org\r\nDate: Sun, 12 Aug 2012 12:34:56 +0300\r\n\
Subject: submsg\r\nContent-Type: multipart/alternative; boundary=\"sub1\"\r\n\r\n"
        );
        let text = get(m, &[2], Text).unwrap();
        assert!(
            text.starts_with("Sub MIME prologue\r\n--sub1\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with("--sub1--\r\nSub MIME epilogue\r\n"),
            "{text}"
        );
        assert_eq!(
            get(m, &[2, 1], Mime).unwrap(),
            "Content-Type: text/html\r\n\r\n"
        );
        assert_eq!(get(m, &[2, 1], Body).unwrap(), "<p>Hello world</p>\r\n");
        assert_eq!(get(m, &[2, 2], Body).unwrap(), "Hello another world\r\n");
        assert_eq!(get(m, &[2, 3], Body), None);
        assert_eq!(get(m, &[3], Body), None);
        assert_eq!(get(m, &[1], Header), None);
        assert_eq!(get(m, &[0], Body), None);
    }

    #[test]
    fn lines_inside_an_encapsulated_message() {
        let s = summarize(NESTED).summary;
        let inner = &s.body.children[1].message.as_ref().unwrap().1;
        // "<p>Hello world</p>\r\n" and "Hello another world\r\n" (the CRLF
        // before a boundary belongs to the boundary, RFC 2046 5.1.1).
        assert_eq!(inner.children[0].lines, 1);
        assert_eq!(inner.children[1].lines, 1);
        // message/rfc822 lines: those of the whole encapsulated message.
        assert_eq!(s.body.children[1].lines, 18);
        assert_eq!(inner.children[0].media_subtype, "html");
    }

    #[test]
    fn part_one_of_a_single_part_is_its_body() {
        use SectionText::*;
        let m = b"Subject: x\r\n\r\nbody\r\n";
        assert_eq!(get(m, &[1], Body).unwrap(), "body\r\n");
        assert_eq!(get(m, &[1, 1], Body).unwrap(), "body\r\n");
        assert_eq!(get(m, &[2], Body), None);
        assert_eq!(get(m, &[], Header).unwrap(), "Subject: x\r\n\r\n");
        assert_eq!(get(m, &[], Mime), None);
    }

    #[test]
    fn top_level_message_rfc822() {
        use SectionText::*;
        // imaptest fetch-body-message-rfc822.
        let m = b"From: user@domain.org\r\nContent-Type: message/rfc822\r\n\r\n\
From: sub@domain.org\r\nSubject: submsg\r\n\r\nHello world\r\n";
        assert_eq!(
            get(m, &[1], Body).unwrap(),
            "From: sub@domain.org\r\nSubject: submsg\r\n\r\nHello world\r\n"
        );
        assert_eq!(get(m, &[1, 1], Body).unwrap(), "Hello world\r\n");
        assert_eq!(
            get(m, &[1], Header).unwrap(),
            "From: sub@domain.org\r\nSubject: submsg\r\n\r\n"
        );
        assert_eq!(get(m, &[1], Text).unwrap(), "Hello world\r\n");
    }

    #[test]
    fn transfer_decodings() {
        use TransferDecoding::*;
        assert_eq!(
            decode_transfer(Base64, b"aGVsbG8g\r\nd29ybGQ=\r\n"),
            b"hello world"
        );
        assert_eq!(decode_transfer(Base64, b"aGVsbG8"), b"hello");
        assert_eq!(
            decode_transfer(QuotedPrintable, b"caf=C3=A9 =\r\nau lait\r\n"),
            "caf\u{e9} au lait\r\n".as_bytes()
        );
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: x-uue\r\n\r\nx\r\n--b\r\n\
Content-Transfer-Encoding: BASE64\r\n\r\neA==\r\n--b--\r\n";
        let s = summarize(raw).summary;
        assert_eq!(
            transfer_decoding(&s.body, &[1]),
            Err(UnknownCte("x-uue".into()))
        );
        assert_eq!(transfer_decoding(&s.body, &[2]), Ok(Some(Base64)));
        assert_eq!(transfer_decoding(&s.body, &[]), Ok(Some(Identity)));
        assert_eq!(transfer_decoding(&s.body, &[3]), Ok(None));
    }

    #[test]
    fn a_part_ends_at_an_enclosing_delimiter() {
        // A nested multipart without its close-delimiter ends where the
        // enclosing multipart's close-delimiter comes (RFC 2046 5.1.2).
        let m = b"Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n\
--o  \r\nContent-Type: multipart/mixed; boundary=\"i\"\r\n\r\n\
--i\r\nContent-Type: text/plain\r\n\r\nin\r\n\r\n--o--\r\n";
        assert_eq!(get(m, &[1, 1], SectionText::Body).unwrap(), "in\r\n");
        let s = summarize(m).summary;
        assert_eq!(s.body.children[0].children[0].lines, 1);
    }
}
