//! FETCH data items (RFC 3501 6.4.5, `fetch-att`) and their macros.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case};
use nom::combinator::{map, opt, value};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded, separated_pair};
use nom::Parser;

use super::primitives::{astring, list_mailbox, number, nz_number, sp};
use super::PResult;
use crate::protocol::command::{FetchAttribute, Section, SectionText};

/// `("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")")`.
pub fn fetch_items(i: &[u8]) -> PResult<'_, Vec<FetchAttribute>> {
    use FetchAttribute::*;
    alt((
        value(
            vec![Flags, InternalDate, Rfc822Size, Envelope],
            tag_no_case(&b"ALL"[..]),
        ),
        value(
            vec![Flags, InternalDate, Rfc822Size, Envelope, Body],
            tag_no_case(&b"FULL"[..]),
        ),
        value(
            vec![Flags, InternalDate, Rfc822Size],
            tag_no_case(&b"FAST"[..]),
        ),
        map(fetch_att, |a| vec![a]),
        delimited(
            tag(&b"("[..]),
            separated_list1(sp, fetch_att),
            tag(&b")"[..]),
        ),
    ))
    .parse(i)
}

fn fetch_att(i: &[u8]) -> PResult<'_, FetchAttribute> {
    use FetchAttribute::*;
    alt((
        value(Envelope, tag_no_case(&b"ENVELOPE"[..])),
        value(Flags, tag_no_case(&b"FLAGS"[..])),
        value(InternalDate, tag_no_case(&b"INTERNALDATE"[..])),
        value(Rfc822Size, tag_no_case(&b"RFC822.SIZE"[..])),
        value(Rfc822Header, tag_no_case(&b"RFC822.HEADER"[..])),
        value(Rfc822Text, tag_no_case(&b"RFC822.TEXT"[..])),
        value(Rfc822, tag_no_case(&b"RFC822"[..])),
        value(Uid, tag_no_case(&b"UID"[..])),
        value(ModSeq, tag_no_case(&b"MODSEQ"[..])),
        annotation,
        value(EmailId, tag_no_case(&b"EMAILID"[..])),
        value(ThreadId, tag_no_case(&b"THREADID"[..])),
        value(SaveDate, tag_no_case(&b"SAVEDATE"[..])),
        preview,
        value(BodyStructure, tag_no_case(&b"BODYSTRUCTURE"[..])),
        binary,
        map(
            (
                alt((
                    value(true, tag_no_case(&b"BODY.PEEK"[..])),
                    value(false, tag_no_case(&b"BODY"[..])),
                )),
                section,
                opt(partial),
            ),
            |(peek, section, partial)| Section {
                peek,
                section,
                partial,
            },
        ),
        value(Body, tag_no_case(&b"BODY"[..])),
    ))
    .parse(i)
}

/// `"ANNOTATION" SP "(" entries SP attribs ")"` (RFC 5257 3.3), each a
/// single item or a parenthesized list; entries may hold `*` and `%`.
fn annotation(i: &[u8]) -> PResult<'_, FetchAttribute> {
    let list = |i| {
        alt((
            delimited(
                tag(&b"("[..]),
                separated_list1(sp, list_mailbox),
                tag(&b")"[..]),
            ),
            map(list_mailbox, |e| vec![e]),
        ))
        .parse(i)
    };
    map(
        delimited(
            (tag_no_case(&b"ANNOTATION"[..]), sp, tag(&b"("[..])),
            separated_pair(list, sp, list),
            tag(&b")"[..]),
        ),
        |(entries, attributes)| FetchAttribute::Annotation {
            entries,
            attributes: attributes.iter().map(|a| a.to_ascii_lowercase()).collect(),
        },
    )
    .parse(i)
}

/// `"PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]` (RFC 8970 6),
/// the one modifier defined being `LAZY`.
fn preview(i: &[u8]) -> PResult<'_, FetchAttribute> {
    map(
        preceded(
            tag_no_case(&b"PREVIEW"[..]),
            opt(delimited(
                (sp, tag(&b"("[..])),
                separated_list1(sp, tag_no_case(&b"LAZY"[..])),
                tag(&b")"[..]),
            )),
        ),
        |mods| FetchAttribute::Preview {
            lazy: mods.is_some(),
        },
    )
    .parse(i)
}

/// `"BINARY" [".PEEK"] section-binary [partial]` and `"BINARY.SIZE"
/// section-binary` (RFC 3516 4.1, 4.2), `section-binary = "["
/// [section-part] "]"`.
fn binary(i: &[u8]) -> PResult<'_, FetchAttribute> {
    let part = |i| {
        delimited(
            tag(&b"["[..]),
            map(
                opt(separated_list1(tag(&b"."[..]), nz_number)),
                Option::unwrap_or_default,
            ),
            tag(&b"]"[..]),
        )
        .parse(i)
    };
    alt((
        map(preceded(tag_no_case(&b"BINARY.SIZE"[..]), part), |part| {
            FetchAttribute::BinarySize { part }
        }),
        map(
            (
                alt((
                    value(true, tag_no_case(&b"BINARY.PEEK"[..])),
                    value(false, tag_no_case(&b"BINARY"[..])),
                )),
                part,
                opt(partial),
            ),
            |(peek, part, partial)| FetchAttribute::Binary {
                peek,
                part,
                partial,
            },
        ),
    ))
    .parse(i)
}

/// `"<" number "." nz-number ">"`.
fn partial(i: &[u8]) -> PResult<'_, (u32, u32)> {
    delimited(
        tag(&b"<"[..]),
        separated_pair(number, tag(&b"."[..]), nz_number),
        tag(&b">"[..]),
    )
    .parse(i)
}

/// `section = "[" [section-spec] "]"`.
fn section(i: &[u8]) -> PResult<'_, Section> {
    delimited(
        tag(&b"["[..]),
        map(opt(section_spec), Option::unwrap_or_default),
        tag(&b"]"[..]),
    )
    .parse(i)
}

fn section_spec(i: &[u8]) -> PResult<'_, Section> {
    alt((
        map(section_msgtext, |t| Section {
            part: Vec::new(),
            text: Some(t),
        }),
        map(
            (
                separated_list1(tag(&b"."[..]), nz_number),
                opt(preceded(
                    tag(&b"."[..]),
                    alt((
                        section_msgtext,
                        value(SectionText::Mime, tag_no_case(&b"MIME"[..])),
                    )),
                )),
            ),
            |(part, text)| Section { part, text },
        ),
    ))
    .parse(i)
}

fn section_msgtext(i: &[u8]) -> PResult<'_, SectionText> {
    alt((
        map(
            (
                alt((
                    value(true, tag_no_case(&b"HEADER.FIELDS.NOT"[..])),
                    value(false, tag_no_case(&b"HEADER.FIELDS"[..])),
                )),
                sp,
                delimited(tag(&b"("[..]), separated_list1(sp, astring), tag(&b")"[..])),
            ),
            |(not, _, fields)| SectionText::HeaderFields { fields, not },
        ),
        value(SectionText::Header, tag_no_case(&b"HEADER"[..])),
        value(SectionText::Text, tag_no_case(&b"TEXT"[..])),
    ))
    .parse(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_fetch_examples() {
        let (_, items) = fetch_items(b"(FLAGS BODY[HEADER.FIELDS (DATE FROM)])").unwrap();
        assert_eq!(
            items,
            vec![
                FetchAttribute::Flags,
                FetchAttribute::Section {
                    peek: false,
                    section: Section {
                        part: vec![],
                        text: Some(SectionText::HeaderFields {
                            fields: vec!["DATE".into(), "FROM".into()],
                            not: false
                        })
                    },
                    partial: None
                }
            ]
        );
        let (_, items) = fetch_items(b"BODY.PEEK[1.2.MIME]<0.100>").unwrap();
        assert_eq!(
            items,
            vec![FetchAttribute::Section {
                peek: true,
                section: Section {
                    part: vec![1, 2],
                    text: Some(SectionText::Mime)
                },
                partial: Some((0, 100))
            }]
        );
        assert_eq!(fetch_items(b"FULL").unwrap().1.len(), 5);
    }

    #[test]
    fn rfc8474_rfc8514_rfc8970_items() {
        use FetchAttribute::*;
        let (rest, items) =
            fetch_items(b"(EMAILID THREADID SAVEDATE PREVIEW PREVIEW (LAZY))").unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            items,
            vec![
                EmailId,
                ThreadId,
                SaveDate,
                Preview { lazy: false },
                Preview { lazy: true }
            ]
        );
        assert!(fetch_items(b"PREVIEW (FUZZY)").map_or(true, |(rest, _)| !rest.is_empty()));
    }

    #[test]
    fn rfc3516_binary_items() {
        let (_, items) = fetch_items(b"(BINARY.SIZE[1] BINARY.PEEK[1.2]<0.10> BINARY[])").unwrap();
        assert_eq!(
            items,
            vec![
                FetchAttribute::BinarySize { part: vec![1] },
                FetchAttribute::Binary {
                    peek: true,
                    part: vec![1, 2],
                    partial: Some((0, 10))
                },
                FetchAttribute::Binary {
                    peek: false,
                    part: vec![],
                    partial: None
                },
            ]
        );
        assert!(fetch_items(b"BINARY[HEADER]").is_err());
    }
}
