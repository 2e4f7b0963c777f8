//! mbox files (RFC 4155, the "mboxrd" quoting): reading one message at a
//! time into a spool file, and writing messages with their flags.
//!
//! - A message starts at a line beginning `From ` at the start of the file
//!   or after an empty line; that line's date (asctime, UTC) is the
//!   message's INTERNALDATE. The empty line before the next `From ` line
//!   belongs to the separator, not to the message.
//! - Body lines matching `^>*From ` carry one `>` more than the message
//!   has (mboxrd): the reader removes one, the writer adds one.
//! - Flags are the `Status:` (`R` \Seen) and `X-Status:` (`A` \Answered,
//!   `F` \Flagged, `T` \Draft, `D` \Deleted) header fields and keywords
//!   `X-Keywords:` (space-separated), as Dovecot and mutt write them. They
//!   are mbox metadata: the reader drops them from the stored message and
//!   the writer adds them to the header, so a round trip keeps the
//!   message's bytes.
//!
//! Memory is bounded: lines are handled in pieces of at most
//! [`PIECE`] bytes, a message goes to a spool file, never into memory.

use std::io::{BufRead, Write};

use anyhow::{Context, Result};

use super::{MessageMeta, Spool};

/// Most bytes of a line handled at once (longer lines are passed through in
/// pieces, and are never separators or flag header fields).
const PIECE: usize = 64 * 1024;

/// The mbox metadata header fields (dropped on reading, written on export).
const META_FIELDS: [&str; 3] = ["status:", "x-status:", "x-keywords:"];

/// Reads the mbox `input` message by message.
pub struct MboxReader<R> {
    input: R,
    /// The `From ` line that starts the next message, once read.
    next_from: Option<Vec<u8>>,
    /// Bytes read, for the progress bar.
    pub position: u64,
}

/// Reads one piece of a line: up to and including `\n`, at most `PIECE`
/// bytes. Returns whether the piece ends its line. Empty at end of input.
fn read_piece<R: BufRead>(input: &mut R, piece: &mut Vec<u8>) -> std::io::Result<bool> {
    piece.clear();
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(true);
        }
        let room = PIECE - piece.len();
        let window = &available[..available.len().min(room)];
        if let Some(i) = window.iter().position(|b| *b == b'\n') {
            piece.extend_from_slice(&window[..=i]);
            input.consume(i + 1);
            return Ok(true);
        }
        let n = window.len();
        piece.extend_from_slice(window);
        input.consume(n);
        if piece.len() >= PIECE {
            return Ok(false);
        }
    }
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\n" || line == b"\r\n"
}

/// Whether `line` is `>*From ` (quoted or not).
fn is_from_line(line: &[u8]) -> bool {
    let unquoted = line.iter().position(|b| *b != b'>').unwrap_or(line.len());
    line[unquoted..].starts_with(b"From ")
}

/// The INTERNALDATE a `From ` line gives: its last five fields are an
/// asctime date (`Thu Nov 24 18:22:48 1986`, UTC; RFC 4155 appendix A).
pub fn from_line_date(line: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(line).ok()?.trim_end();
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() < 7 {
        return None;
    }
    let date = fields[fields.len() - 5..].join(" ");
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:none] [hour]:[minute]:[second] [year]"
    );
    time::PrimitiveDateTime::parse(&date, format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// The `From ` line of a message with INTERNALDATE `date`.
pub fn from_line(date: i64) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    let when = time::OffsetDateTime::from_unix_timestamp(date)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(format)
        .unwrap_or_else(|_| "Thu Jan  1 00:00:00 1970".into());
    format!("From MAILER-DAEMON {when}\n")
}

impl<R: BufRead> MboxReader<R> {
    /// Starts reading; fails if the input does not begin with a `From `
    /// line (not an mbox file).
    pub fn new(mut input: R) -> Result<MboxReader<R>> {
        let mut first = Vec::new();
        let whole = read_piece(&mut input, &mut first)?;
        if first.is_empty() {
            return Ok(MboxReader {
                input,
                next_from: None,
                position: 0,
            });
        }
        if !whole || !first.starts_with(b"From ") {
            anyhow::bail!("not an mbox file: it does not begin with a \"From \" line");
        }
        Ok(MboxReader {
            position: first.len() as u64,
            input,
            next_from: Some(first),
        })
    }

    /// Spools the next message (unquoted, without its mbox metadata
    /// fields) and returns it with its flags and date; `None` at the end.
    pub fn next_message(&mut self, spool: &mut Spool) -> Result<Option<MessageMeta>> {
        let Some(from) = self.next_from.take() else {
            return Ok(None);
        };
        spool.reset()?;
        let mut meta = MessageMeta {
            internal_date: from_line_date(&from),
            ..MessageMeta::default()
        };
        let mut in_header = true;
        let mut dropping = false;
        let mut at_line_start = true;
        // A blank line is held back until the next line shows whether it
        // is the separator before a `From ` line.
        let mut held_blank: Option<Vec<u8>> = None;
        let mut piece = Vec::with_capacity(PIECE);
        loop {
            let ends_line = read_piece(&mut self.input, &mut piece)?;
            if piece.is_empty() {
                // End of input: a held blank line is the final separator.
                break;
            }
            self.position += piece.len() as u64;
            let line_start = at_line_start;
            at_line_start = ends_line;
            if !line_start {
                if !dropping {
                    spool.write(&piece)?;
                }
                continue;
            }
            if piece.starts_with(b"From ") && ends_line && held_blank.is_some() {
                self.next_from = Some(piece.clone());
                break;
            }
            if let Some(blank) = held_blank.take() {
                spool.write(&blank)?;
            }
            if in_header {
                if is_blank(&piece) {
                    in_header = false;
                    dropping = false;
                    spool.write(&piece)?;
                    continue;
                }
                let continuation = piece.first().is_some_and(|b| *b == b' ' || *b == b'\t');
                if continuation {
                    if !dropping {
                        spool.write(&piece)?;
                    } else if ends_line {
                        meta.absorb_field_continuation(&piece);
                    }
                    continue;
                }
                let lower = piece.to_ascii_lowercase();
                dropping = META_FIELDS.iter().any(|f| lower.starts_with(f.as_bytes()));
                if dropping {
                    meta.absorb_field(&piece);
                    continue;
                }
                if lower.starts_with(b"message-id:") {
                    meta.message_id =
                        Some(String::from_utf8_lossy(&piece[11..]).trim().to_string());
                }
                spool.write(&piece)?;
                continue;
            }
            if is_blank(&piece) {
                held_blank = Some(piece.clone());
                continue;
            }
            if is_from_line(&piece) && piece.starts_with(b">") {
                spool.write(&piece[1..])?;
            } else {
                spool.write(&piece)?;
            }
        }
        meta.finish_flags();
        Ok(Some(meta))
    }
}

/// Writes one message to `out` in mbox form: the `From ` line, the
/// header with `Status:`/`X-Status:`/`X-Keywords:` added before its end,
/// the body with `>*From ` lines quoted, a final newline if the message
/// lacks one, and the separating empty line. `content` is read in pieces.
pub fn write_message<R: BufRead, W: Write>(
    out: &mut W,
    content: &mut R,
    internal_date: i64,
    flags: &[String],
) -> Result<()> {
    out.write_all(from_line(internal_date).as_bytes())?;
    let mut piece = Vec::with_capacity(PIECE);
    let mut in_header = true;
    let mut at_line_start = true;
    let mut last_byte = b'\n';
    let mut line_ending: &[u8] = b"\n";
    loop {
        let ends_line = read_piece(content, &mut piece).context("reading the message")?;
        if piece.is_empty() {
            break;
        }
        let line_start = at_line_start;
        at_line_start = ends_line;
        last_byte = piece[piece.len() - 1];
        if line_start && in_header && piece.ends_with(b"\r\n") {
            line_ending = b"\r\n";
        }
        if line_start && in_header && is_blank(&piece) {
            in_header = false;
            write_flag_fields(out, flags, line_ending)?;
            out.write_all(&piece)?;
            continue;
        }
        if line_start && !in_header && is_from_line(&piece) {
            out.write_all(b">")?;
        }
        out.write_all(&piece)?;
    }
    if in_header {
        // A message without a body: the fields still go in its header.
        if last_byte != b'\n' {
            out.write_all(b"\n")?;
            last_byte = b'\n';
        }
        write_flag_fields(out, flags, line_ending)?;
    }
    if last_byte != b'\n' {
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")?;
    Ok(())
}

fn write_flag_fields<W: Write>(out: &mut W, flags: &[String], eol: &[u8]) -> Result<()> {
    let has = |f: &str| flags.iter().any(|g| g.eq_ignore_ascii_case(f));
    let mut status = String::new();
    if has("\\Seen") {
        status.push('R');
    }
    status.push('O');
    let mut x_status = String::new();
    for (flag, letter) in [
        ("\\Answered", 'A'),
        ("\\Flagged", 'F'),
        ("\\Draft", 'T'),
        ("\\Deleted", 'D'),
    ] {
        if has(flag) {
            x_status.push(letter);
        }
    }
    out.write_all(format!("Status: {status}").as_bytes())?;
    out.write_all(eol)?;
    if !x_status.is_empty() {
        out.write_all(format!("X-Status: {x_status}").as_bytes())?;
        out.write_all(eol)?;
    }
    let keywords: Vec<&str> = flags
        .iter()
        .filter(|f| !f.starts_with('\\'))
        .map(String::as_str)
        .collect();
    if !keywords.is_empty() {
        out.write_all(format!("X-Keywords: {}", keywords.join(" ")).as_bytes())?;
        out.write_all(eol)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(mbox: &[u8]) -> Vec<(Vec<u8>, MessageMeta)> {
        let mut reader = MboxReader::new(mbox).unwrap();
        let mut out = Vec::new();
        loop {
            let mut spool = Spool::new().unwrap();
            match reader.next_message(&mut spool).unwrap() {
                Some(meta) => out.push((spool.bytes_for_test(), meta)),
                None => return out,
            }
        }
    }

    #[test]
    fn a_message_with_from_lines_in_its_body_comes_back_byte_for_byte() {
        let messages: [&[u8]; 3] = [
            b"Subject: one\r\nMessage-ID: <1@x>\r\n\r\nFrom here on\r\n>From quoted\r\n\r\nFrom the end\r\n",
            b"Subject: two\n\nbody\n\n",
            b"Subject: three\r\n\r\n",
        ];
        let flags = [
            vec![
                "\\Seen".to_string(),
                "\\Flagged".to_string(),
                "$Work".to_string(),
            ],
            vec![],
            vec![
                "\\Answered".to_string(),
                "\\Deleted".to_string(),
                "\\Draft".to_string(),
            ],
        ];
        let dates = [0i64, 1_700_000_000, 951_782_400];
        let mut mbox = Vec::new();
        for i in 0..3 {
            write_message(&mut mbox, &mut &messages[i][..], dates[i], &flags[i]).unwrap();
        }
        let text = String::from_utf8_lossy(&mbox);
        assert!(
            text.contains("\r\n>From here on\r\n>>From quoted\r\n"),
            "{text}"
        );
        assert!(text.starts_with("From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"));
        let read = read_all(&mbox);
        assert_eq!(read.len(), 3);
        for (i, (bytes, meta)) in read.iter().enumerate() {
            assert_eq!(bytes.as_slice(), messages[i], "message {i}");
            let mut got = meta.flags.clone();
            let mut want = flags[i].clone();
            got.sort();
            want.sort();
            assert_eq!(got, want, "flags of message {i}");
            assert_eq!(meta.internal_date, Some(dates[i]));
        }
        assert_eq!(read[0].1.message_id.as_deref(), Some("<1@x>"));
    }

    #[test]
    fn a_file_that_is_not_an_mbox_is_refused_and_an_empty_one_is_empty() {
        assert!(MboxReader::new(&b"Subject: x\n\nbody\n"[..]).is_err());
        assert!(read_all(b"").is_empty());
    }

    #[test]
    fn from_line_dates_parse_as_asctime_utc() {
        assert_eq!(
            from_line_date(b"From alice@example.com Thu Nov 24 18:22:48 1986\n"),
            Some(533_240_568)
        );
        assert_eq!(
            from_line_date(b"From x Mon Jan  5 00:00:00 2026\n"),
            Some(1_767_571_200)
        );
        assert_eq!(from_line_date(b"From nobody\n"), None);
        assert_eq!(
            from_line(1_767_571_200),
            "From MAILER-DAEMON Mon Jan  5 00:00:00 2026\n"
        );
    }
}
