//! A file stored over WebDAV becomes a media object (seed 004, object
//! kinds): a one-part MIME message whose body is the file, unencoded
//! (`Content-Transfer-Encoding: binary`, RFC 3516's reason to exist), with
//! the file's Content-Type and its name as the attachment's filename. IMAP
//! clients see a message with an attachment; `BODY[1]` is the file.

use store_core::macos::{is_macos_metadata, MacosMetadata};
use store_core::Store;

use crate::error::{DavError, DavResult};

/// Longest Content-Type accepted from a client; others become
/// `application/octet-stream`.
const MAX_CONTENT_TYPE: usize = 200;

/// Bytes of a PUT body read before its media type is decided when the
/// client sent none ([`sniff_content_type`]): enough for every signature
/// `infer` knows (ZIP-based office formats look furthest).
pub const SNIFF_BYTES: usize = 8192;

/// The AppleDouble header (RFC 1740 appendix B, `._name` files macOS
/// writes next to a file): magic number 0x00051607.
const APPLE_DOUBLE_MAGIC: [u8; 4] = [0x00, 0x05, 0x16, 0x07];
/// The AppleSingle header (RFC 1740 appendix A): magic number 0x00051600.
const APPLE_SINGLE_MAGIC: [u8; 4] = [0x00, 0x05, 0x16, 0x00];

/// The media type to store for a client's Content-Type: the value as
/// sent when it is a plain `type/subtype` with parameters on one line
/// (RFC 9110 8.3: an explicit type is kept, `application/octet-stream`
/// included); `None` when the client sent none, or one that cannot be
/// stored as is (not a media type, a control character, longer than 200
/// bytes, or a multipart or message type, which would change how the
/// body parses): then the type is found from the content and the name
/// ([`sniff_content_type`]).
pub fn sanitize_content_type(given: Option<&str>) -> Option<String> {
    let value = given.map(str::trim)?;
    let storable = value.len() <= MAX_CONTENT_TYPE
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && storable_media_type(value);
    storable.then(|| value.to_string())
}

/// Whether `value` starts with a `type/subtype` of tokens (RFC 9110 8.3.1)
/// that is neither multipart nor message.
fn storable_media_type(value: &str) -> bool {
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
    media
        .split_once('/')
        .is_some_and(|(t, s)| token(t) && token(s) && t != "multipart" && t != "message")
}

/// The media type of a file sent without one (RFC 9110 8.3 lets the
/// recipient examine the data then): from `head`, the first
/// [`SNIFF_BYTES`] of the content (magic numbers, `infer`, and the
/// AppleDouble/AppleSingle headers of RFC 1740 as `application/applefile`
/// and `application/applesingle`); when the content says nothing, from
/// the file name's extension (`mime_guess`); else
/// `application/octet-stream`. A guess that could not be stored as a
/// media object's type (multipart, message) is
/// `application/octet-stream` too.
pub fn sniff_content_type(name: &str, head: &[u8]) -> String {
    let fallback = "application/octet-stream";
    let from_content = if head.starts_with(&APPLE_DOUBLE_MAGIC) {
        Some("application/applefile")
    } else if head.starts_with(&APPLE_SINGLE_MAGIC) {
        Some("application/applesingle")
    } else {
        infer::get(head).map(|t| t.mime_type())
    };
    let guessed = match from_content {
        Some(t) => t.to_string(),
        None => mime_guess::from_path(name)
            .first_raw()
            .unwrap_or(fallback)
            .to_string(),
    };
    if storable_media_type(&guessed) {
        guessed
    } else {
        fallback.to_string()
    }
}

/// Refuses a file named `name` being written (PUT, or the destination of
/// a COPY or MOVE) when it is macOS metadata ([`is_macos_metadata`]) and
/// `[webdav] macos_metadata = "refuse"`.
///
/// Errors: 403 with the reason.
pub fn check_macos_metadata(store: &Store, name: &str) -> DavResult<()> {
    if store.macos_metadata() == MacosMetadata::Refuse && is_macos_metadata(name) {
        return Err(DavError::forbidden(
            "macOS metadata files (._*, .DS_Store) are refused here ([webdav] macos_metadata)",
        ));
    }
    Ok(())
}

/// The header block of a media object named `name` of type
/// `content_type` (a value [`sanitize_content_type`] or
/// [`sniff_content_type`] gave), dated now; it ends with the empty line,
/// the file's bytes follow. Written by `mail-builder`: `Subject` is the
/// name (RFC 2047 encoded words of at most 75 characters when it is not
/// ASCII), `Content-Disposition: attachment` carries it as `filename`
/// (RFC 2231 continuations and charset when needed, RFC 2183), and every
/// line is folded within RFC 5322 2.1.1's limits (78 where it can, never
/// more than 998).
pub fn header(name: &str, content_type: &str) -> String {
    use mail_builder::headers::content_type::ContentType;
    use mail_builder::headers::raw::Raw;
    use mail_builder::headers::text::Text;
    use mail_builder::headers::Header;

    fn field(out: &mut Vec<u8>, field: &str, value: impl Header) {
        out.extend_from_slice(field.as_bytes());
        out.extend_from_slice(b": ");
        value.write_header(out, field.len() + 2);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let mut out = Vec::with_capacity(256 + 3 * name.len());
    field(&mut out, "MIME-Version", Raw::new("1.0"));
    field(&mut out, "Date", Raw::new(store_core::dates::rfc5322(now)));
    field(&mut out, "Subject", Text::new(name));
    field(&mut out, "Content-Type", Raw::new(content_type));
    field(
        &mut out,
        "Content-Disposition",
        ContentType::new("attachment").attribute("filename", name),
    );
    field(&mut out, "Content-Transfer-Encoding", Raw::new("binary"));
    out.extend_from_slice(b"\r\n");
    // Every part written above is ASCII (encoded words, percent-encoding).
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_kept_only_when_safe() {
        assert_eq!(
            sanitize_content_type(Some("image/png")).as_deref(),
            Some("image/png")
        );
        assert_eq!(
            sanitize_content_type(Some("text/plain; charset=utf-8")).as_deref(),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(
            sanitize_content_type(Some("application/octet-stream")).as_deref(),
            Some("application/octet-stream")
        );
        for bad in [
            None,
            Some("multipart/mixed; boundary=x"),
            Some("a\r\nb: c"),
            Some("nonsense"),
        ] {
            assert_eq!(sanitize_content_type(bad), None);
        }
    }

    #[test]
    fn content_first_then_name() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff_content_type("photo.jpg", png), "image/png");
        assert_eq!(
            sniff_content_type("x", b"\xff\xd8\xff\xe0\0\x10JFIF"),
            "image/jpeg"
        );
        assert_eq!(sniff_content_type("notes.txt", b"hello"), "text/plain");
        assert_eq!(
            sniff_content_type("._photo.jpg", b"\0\x05\x16\x07\0\x02\0\0Mac OS X"),
            "application/applefile"
        );
        assert_eq!(
            sniff_content_type(".DS_Store", b"\0\0\0\x01Bud1"),
            "application/octet-stream"
        );
        assert_eq!(
            sniff_content_type("a.eml", b"Subject: x"),
            "application/octet-stream"
        );
        assert_eq!(sniff_content_type("blob", b""), "application/octet-stream");
    }

    #[test]
    fn names_are_encoded_per_rfc2231() {
        let h = header("res-€.txt", "text/plain");
        assert!(h.contains("filename*=UTF-8''res-%E2%82%AC.txt"), "{h}");
        assert!(h.ends_with("\r\n\r\n"));
        assert!(header("a b.png", "image/png").contains("filename=\"a b.png\""));
    }

    /// What a mail reader sees of a media object's header block.
    fn parsed(h: &str) -> (Option<String>, Option<String>, Option<String>) {
        use mail_parser::MimeHeaders;
        let raw = format!("{h}body");
        let message = mail_parser::MessageParser::new()
            .parse(raw.as_bytes())
            .unwrap();
        let disposition = message
            .content_disposition()
            .and_then(|d| d.attribute("filename"))
            .map(str::to_string);
        let content_type = message
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()));
        (
            message.subject().map(str::to_string),
            disposition,
            content_type,
        )
    }

    #[test]
    fn long_non_ascii_names_stay_within_the_line_and_word_limits() {
        let name = format!("{}.jpg", "Фотография с отпуска — 夏の写真 ".repeat(40));
        let h = header(&name, "image/jpeg");
        for line in h.split("\r\n") {
            assert!(line.len() <= 998, "a line of {} bytes", line.len());
            assert!(line.len() <= 78, "a line of {} bytes: {line}", line.len());
            for word in line.split_whitespace().filter(|w| w.starts_with("=?")) {
                assert!(
                    word.len() <= 75,
                    "an encoded word of {}: {word}",
                    word.len()
                );
            }
        }
        assert!(h.contains("=?"), "{h}");
        assert_eq!(
            parsed(&h),
            (Some(name.clone()), Some(name), Some("image/jpeg".into()))
        );
    }

    #[test]
    fn ascii_names_read_back_as_written() {
        let name = format!("{}.png", "holiday photo ".repeat(80));
        let h = header(&name, "image/png");
        assert!(h.split("\r\n").all(|line| line.len() <= 998), "{h}");
        assert_eq!(
            parsed(&h),
            (Some(name.clone()), Some(name), Some("image/png".into()))
        );
        assert!(
            h.contains("\r\nContent-Transfer-Encoding: binary\r\n\r\n"),
            "{h}"
        );
    }
}
