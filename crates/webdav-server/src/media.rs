//! A file stored over WebDAV becomes a media object (seed 004, object
//! kinds): a one-part MIME message whose body is the file, unencoded
//! (`Content-Transfer-Encoding: binary`, RFC 3516's reason to exist), with
//! the file's Content-Type and its name as the attachment's filename. IMAP
//! clients see a message with an attachment; `BODY[1]` is the file.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Longest Content-Type accepted from a client; others become
/// `application/octet-stream`.
const MAX_CONTENT_TYPE: usize = 200;

/// Characters left as is in an RFC 2231 extended parameter value
/// (attribute-char).
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The media type to store for a client's Content-Type: kept when it is a
/// plain `type/subtype` with parameters on one line, else (or for
/// multipart and message types, which would change how the body parses)
/// `application/octet-stream`.
pub fn sanitize_content_type(given: Option<&str>) -> String {
    let fallback = "application/octet-stream".to_string();
    let Some(value) = given.map(str::trim) else {
        return fallback;
    };
    let media = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let valid = value.len() <= MAX_CONTENT_TYPE
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && media
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s) && t != "multipart" && t != "message");
    if valid {
        value.to_string()
    } else {
        fallback
    }
}

/// The header block of a media object named `name`, dated now (ends with
/// the empty line; the file's bytes follow).
pub fn header(name: &str, content_type: &str) -> String {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now()).replace(" GMT", " +0000");
    let ascii_simple = name
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    let filename = if ascii_simple {
        format!("filename=\"{name}\"")
    } else {
        format!("filename*=UTF-8''{}", utf8_percent_encode(name, ATTR_CHAR))
    };
    let subject = if ascii_simple {
        name.to_string()
    } else {
        use base64::Engine as _;
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(name)
        )
    };
    format!(
        "MIME-Version: 1.0\r\nDate: {date}\r\nSubject: {subject}\r\nContent-Type: {content_type}\r\nContent-Disposition: attachment; {filename}\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_kept_only_when_safe() {
        assert_eq!(sanitize_content_type(Some("image/png")), "image/png");
        assert_eq!(
            sanitize_content_type(Some("text/plain; charset=utf-8")),
            "text/plain; charset=utf-8"
        );
        for bad in [
            None,
            Some("multipart/mixed; boundary=x"),
            Some("a\r\nb: c"),
            Some("nonsense"),
        ] {
            assert_eq!(sanitize_content_type(bad), "application/octet-stream");
        }
    }

    #[test]
    fn names_are_encoded_per_rfc2231() {
        let h = header("res-€.txt", "text/plain");
        assert!(h.contains("filename*=UTF-8''res-%E2%82%AC.txt"), "{h}");
        assert!(h.ends_with("\r\n\r\n"));
        assert!(header("a b.png", "image/png").contains("filename=\"a b.png\""));
    }
}
