//! The streaming command tokenizer: reads one command — its lines and the
//! literals between them — from the connection, within limits.
//!
//! - A synchronizing literal `{n}` is acknowledged with a `+` continuation
//!   (RFC 3501 7.5) before its bytes are read; `{n+}` (LITERAL+, RFC 7888)
//!   is read at once.
//! - The message literal of APPEND is streamed into a blob
//!   ([`store_core::blob::BlobWriter`]), so a 300 MB APPEND never sits in
//!   memory; in the command text it is replaced by one NUL byte (a byte a
//!   command line cannot contain) and the grammar takes the blob in order.
//! - Every other literal is kept inline in the command text, `{n}` CRLF and
//!   its bytes, and the per-command grammar reads it.
//!
//! Nothing is stored by the reader: a blob only becomes an object when the
//! APPEND handler stores it, and a blob dropped unstored removes itself, so
//! a literal cut short by a closed connection leaves nothing behind.

use store_core::blob::StagedBlob;
use store_core::Store;

use crate::session::stream::QuickAck;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Placeholder for a streamed literal in [`RawCommand::text`].
pub const STREAMED_LITERAL: u8 = 0;

/// Most APPEND message literals (MULTIAPPEND messages and CATENATE text
/// parts, RFC 3502 / 4469) one command may carry; past it the command is
/// refused with NO [LIMIT] (RFC 5530 3) and nothing is stored.
pub const MAX_APPEND_MESSAGES: usize = 1000;

/// The tokenizer's limits (each one a setting of `[imap]`).
#[derive(Debug, Clone, Copy)]
pub struct ReaderLimits {
    /// Longest command text, in bytes, counting inline literals but not
    /// streamed APPEND messages.
    pub max_command_bytes: usize,
    /// Largest APPEND message literal, in bytes (advertised as
    /// APPENDLIMIT, RFC 7889); also the most bytes of all the message
    /// literals of one command together (MULTIAPPEND, CATENATE).
    pub max_append_bytes: u64,
}

/// One command as read: its text (lines joined with CRLF, inline literals
/// in place) and the APPEND messages streamed to blobs, in order.
#[derive(Debug)]
pub struct RawCommand {
    /// The command without its final CRLF.
    pub text: Vec<u8>,
    /// The streamed literals, in the order their placeholders appear.
    pub blobs: Vec<StagedBlob>,
}

/// Why a command was refused before it was complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The command text is longer than the limit (tagged BAD).
    CommandTooLong,
    /// A synchronizing literal is over its limit (tagged BAD or, for an
    /// APPEND message, NO [TOOBIG] per RFC 4469/7889); the client never
    /// sends it and the connection goes on.
    LiteralTooLarge {
        /// Whether it was an APPEND message.
        append: bool,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A NUL byte or a bare LF in command text (tagged BAD).
    BadBytes,
    /// A NUL byte in an APPEND message sent as a plain literal `{n}`
    /// rather than a literal8 `~{n}` (tagged BAD, RFC 3516 4.2). The
    /// literal was read to its end and dropped.
    NulInLiteral,
    /// One more APPEND message literal than [`MAX_APPEND_MESSAGES`] (tagged
    /// NO [LIMIT]); the client never sends it and the connection goes on.
    TooManyMessages,
    /// A non-synchronizing literal over its limit: the client is already
    /// sending it, so the connection ends with BYE (RFC 7888 4).
    NonSyncLiteralTooLarge,
    /// The APPEND message could not be written to the store: the device
    /// is full (`true`: tagged NO [OVERQUOTA]) or failing (NO
    /// [UNAVAILABLE]). The literal was read to its end and dropped, so
    /// the connection goes on.
    StoreFailed {
        /// Whether the device is full.
        full: bool,
        /// What failed.
        reason: String,
    },
}

/// The result of [`read_command`].
#[derive(Debug)]
pub enum ReadOutcome {
    /// A whole command.
    Command(RawCommand),
    /// A command refused while reading; `tag` is its tag when it had one.
    Refused {
        /// The command's tag, if readable.
        tag: Option<String>,
        /// Why.
        refusal: Refusal,
    },
    /// The peer closed the connection, possibly in the middle of a command
    /// (which is then dropped whole).
    Closed,
}

/// Reads one command from `io`, writing `+` continuations to it.
///
/// Errors: I/O errors of the connection and of the blob store.
pub async fn read_command<S>(
    io: &mut S,
    store: &Store,
    limits: ReaderLimits,
) -> std::io::Result<ReadOutcome>
where
    S: AsyncBufRead + AsyncWrite + QuickAck + Unpin,
{
    let mut text = Vec::new();
    let mut blobs = Vec::new();
    // A message literal the store could not take: the command is read to
    // its end (so the next one is read in step), then refused.
    let mut store_failed: Option<store_core::StoreError> = None;
    // A message literal `{n}` that held a NUL byte (RFC 3516 4.2).
    let mut nul_in_literal = false;
    // Bytes and count of the message literals read so far.
    let (mut message_bytes, mut messages) = (0u64, 0usize);
    loop {
        let start = text.len();
        if start > 0 {
            // The rest of a command after a literal: a client sends its
            // CRLF as a small segment that Nagle holds until the literal
            // is acknowledged.
            io.quick_ack();
        }
        let budget = limits.max_command_bytes.saturating_sub(start);
        match read_line(io, &mut text, budget).await? {
            Line::Complete => {}
            Line::TooLong => return Ok(refused(&text, Refusal::CommandTooLong)),
            Line::Closed => return Ok(ReadOutcome::Closed),
        }
        if text.get(start..).is_some_and(|line| line.contains(&0)) {
            return Ok(refused(&text, Refusal::BadBytes));
        }
        // Only the line just read can end in a literal header: bytes before
        // `start` belong to earlier lines and literals, and a literal's data
        // that ends in `{n}` is not a new literal.
        let header =
            literal_header(&text[start..]).map(|(at, size, sync)| (start + at, size, sync));
        let Some((header_at, size, sync)) = header else {
            if nul_in_literal {
                return Ok(refused(&text, Refusal::NulInLiteral));
            }
            if let Some(e) = store_failed {
                let full = matches!(e, store_core::StoreError::StorageFull);
                let reason = e.to_string();
                return Ok(refused(&text, Refusal::StoreFailed { full, reason }));
            }
            return Ok(ReadOutcome::Command(RawCommand { text, blobs }));
        };
        let is_message = is_append_message(&text[..header_at]);
        let limit = if is_message {
            limits.max_append_bytes.saturating_sub(message_bytes)
        } else {
            limits.max_command_bytes.saturating_sub(text.len() + 2) as u64
        };
        if size > limit {
            if !sync {
                return Ok(refused(&text, Refusal::NonSyncLiteralTooLarge));
            }
            return Ok(refused(
                &text,
                Refusal::LiteralTooLarge {
                    append: is_message,
                    limit: if is_message {
                        limits.max_append_bytes
                    } else {
                        limit
                    },
                },
            ));
        }
        if is_message && messages >= MAX_APPEND_MESSAGES {
            if !sync {
                return Ok(refused(&text, Refusal::NonSyncLiteralTooLarge));
            }
            return Ok(refused(&text, Refusal::TooManyMessages));
        }
        if is_message {
            message_bytes += size;
            messages += 1;
        }
        if sync {
            io.write_all(b"+ Ready for literal data\r\n").await?;
            io.flush().await?;
            // Our `+` put the socket in delayed-ACK (ping-pong) mode; the
            // literal's segments are acknowledged at once instead.
            io.quick_ack();
        }
        if is_message {
            let binary = text[header_at] == b'~';
            match stream_to_blob(io, store, size).await? {
                Streamed::Blob { blob, nul } if nul && !binary => {
                    drop(blob);
                    nul_in_literal = true;
                }
                Streamed::Blob { blob, .. } => blobs.push(blob),
                Streamed::Closed => return Ok(ReadOutcome::Closed),
                Streamed::Failed(e) => store_failed = Some(e),
            }
            text.truncate(header_at);
            text.push(STREAMED_LITERAL);
        } else {
            text.extend_from_slice(b"\r\n");
            let at = text.len();
            text.resize(at + size as usize, 0);
            io.quick_ack();
            if let Err(e) = io.read_exact(&mut text[at..]).await {
                return match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => Ok(ReadOutcome::Closed),
                    _ => Err(e),
                };
            }
        }
    }
}

/// How streaming an APPEND message ended.
enum Streamed {
    /// Stored under `tmp/`; `nul` when it holds a NUL byte.
    Blob {
        /// The staged blob.
        blob: StagedBlob,
        /// Whether a NUL byte was among its bytes.
        nul: bool,
    },
    /// The peer closed the connection in the middle.
    Closed,
    /// The blob could not be written (a full disk); the literal's bytes
    /// were read and dropped.
    Failed(store_core::StoreError),
}

/// Streams the next `size` bytes of `io` into a new blob. A failure of the
/// blob store does not end the connection: the rest of the literal is read
/// and dropped, so the next command is read in step.
///
/// Errors: I/O errors of the connection.
async fn stream_to_blob<S>(io: &mut S, store: &Store, size: u64) -> std::io::Result<Streamed>
where
    S: AsyncBufRead + QuickAck + Unpin,
{
    let mut writer = match store.blob_writer().await {
        Ok(w) => w,
        Err(e) => return drain(io, size, e).await,
    };
    let mut left = size;
    let mut nul = false;
    while left > 0 {
        // Not sticky: set before each read of the literal.
        io.quick_ack();
        let buf = io.fill_buf().await?;
        if buf.is_empty() {
            // Cut short: the writer's drop removes the partial file.
            return Ok(Streamed::Closed);
        }
        let n = buf.len().min(left as usize);
        nul = nul || buf[..n].contains(&0);
        let written = writer.write(&buf[..n]).await;
        io.consume(n);
        left -= n as u64;
        if let Err(e) = written {
            // Dropping the writer removes the partial file.
            drop(writer);
            return drain(io, left, e.into()).await;
        }
    }
    match writer.finish().await {
        Ok(blob) => Ok(Streamed::Blob { blob, nul }),
        Err(e) => Ok(Streamed::Failed(e.into())),
    }
}

/// Reads and drops the `left` bytes of a literal that cannot be stored.
async fn drain<S>(io: &mut S, left: u64, error: store_core::StoreError) -> std::io::Result<Streamed>
where
    S: AsyncBufRead + Unpin,
{
    let copied = tokio::io::copy(&mut (&mut *io).take(left), &mut tokio::io::sink()).await?;
    if copied < left {
        return Ok(Streamed::Closed);
    }
    Ok(Streamed::Failed(error))
}

enum Line {
    Complete,
    TooLong,
    Closed,
}

/// Appends one line (without CRLF) to `out`, reading at most `budget`
/// bytes of it; a longer line is read to its end and discarded.
async fn read_line<S: AsyncBufRead + Unpin>(
    io: &mut S,
    out: &mut Vec<u8>,
    budget: usize,
) -> std::io::Result<Line> {
    let mut taken = 0usize;
    let mut too_long = false;
    loop {
        let buf = io.fill_buf().await?;
        if buf.is_empty() {
            return Ok(Line::Closed);
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let n = chunk.len();
        if !too_long && taken + n <= budget.saturating_add(2) {
            out.extend_from_slice(chunk);
            taken += n;
        } else {
            too_long = true;
        }
        io.consume(n);
        if done {
            break;
        }
    }
    if too_long {
        return Ok(Line::TooLong);
    }
    // Strip CRLF; a bare LF is tolerated as many servers do. Only this
    // line's own bytes are stripped: a CR just before them is the last byte
    // of a literal (`{1}` CRLF CR, then LF) and stays part of it.
    let line_start = out.len() - taken;
    strip_line_end(out, line_start);
    Ok(Line::Complete)
}

/// Removes the LF ending `out` and the CR before it, never touching bytes
/// before `line_start` (the command text read before this line).
fn strip_line_end(out: &mut Vec<u8>, line_start: usize) {
    if out.len() > line_start && out.last() == Some(&b'\n') {
        out.pop();
    }
    if out.len() > line_start && out.last() == Some(&b'\r') {
        out.pop();
    }
}

fn refused(text: &[u8], refusal: Refusal) -> ReadOutcome {
    ReadOutcome::Refused {
        tag: tag_of(text),
        refusal,
    }
}

/// The tag at the start of `text`, if it is a valid one (RFC 3501 9, `tag`).
pub fn tag_of(text: &[u8]) -> Option<String> {
    let end = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
    let tag = &text[..end];
    (!tag.is_empty() && tag.iter().all(|&b| is_tag_char(b)))
        .then(|| String::from_utf8_lossy(tag).into_owned())
}

/// Whether `b` may appear in a tag: an ASTRING-CHAR other than `+`.
pub fn is_tag_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){%*\"\\+".contains(&b)
}

/// The literal header `{n}`, `{n+}` or `~{n}` ending `text`: its offset,
/// size and whether it is synchronizing.
fn literal_header(text: &[u8]) -> Option<(usize, u64, bool)> {
    let inner = text.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let mut digits = &inner[open + 1..];
    let sync = match digits.strip_suffix(b"+") {
        Some(d) => {
            digits = d;
            false
        }
        None => true,
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let start = if open > 0 && inner[open - 1] == b'~' {
        open - 1
    } else {
        open
    };
    Some((start, size, sync))
}

/// Whether a literal announced after `before` is an APPEND message: the
/// command is APPEND and its mailbox argument is already complete (RFC 3501
/// 6.3.11: only the message can follow as a literal then).
fn is_append_message(before: &[u8]) -> bool {
    let tokens = top_level_tokens(before);
    tokens.len() >= 3 && tokens[1].eq_ignore_ascii_case(b"APPEND")
}

/// Splits command text into its top-level tokens: atoms, quoted strings,
/// inline literals and parenthesized lists each count as one.
fn top_level_tokens(text: &[u8]) -> Vec<&[u8]> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0usize;
        let mut quoted = false;
        while i < text.len() {
            let b = text[i];
            if quoted {
                match b {
                    b'\\' => i += 1,
                    b'"' => quoted = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => quoted = true,
                    b'(' | b'[' => depth += 1,
                    b')' | b']' => depth = depth.saturating_sub(1),
                    b'{' => {
                        if let Some(skip) = inline_literal_len(&text[i..]) {
                            i += skip;
                            continue;
                        }
                    }
                    b' ' if depth == 0 => break,
                    _ => {}
                }
            }
            i += 1;
        }
        tokens.push(&text[start..i.min(text.len())]);
    }
    tokens
}

/// Length of an inline literal (`{n}` CRLF and n bytes) at the start of
/// `text`, if there is one and its bytes are all there. The length comes
/// from the peer, so it is checked against what `text` holds: a header
/// inside a literal's own bytes (seen when a quote left open makes the
/// outer literal unseen) cannot jump past the end or overflow.
fn inline_literal_len(text: &[u8]) -> Option<usize> {
    let close = text.iter().position(|&b| b == b'}')?;
    let inner = text.get(1..close)?;
    let digits = inner.strip_suffix(b"+").unwrap_or(inner);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let len = close.checked_add(3)?.checked_add(n)?;
    (text.get(close + 1..close + 3) == Some(b"\r\n") && len <= text.len()).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_headers() {
        assert_eq!(literal_header(b"a LOGIN {5}"), Some((8, 5, true)));
        assert_eq!(literal_header(b"a LOGIN {5+}"), Some((8, 5, false)));
        assert_eq!(literal_header(b"a APPEND x ~{5}"), Some((11, 5, true)));
        assert_eq!(literal_header(b"a LOGIN {x}"), None);
        assert_eq!(literal_header(b"a LOGIN {}"), None);
    }

    const LIMITS: ReaderLimits = ReaderLimits {
        max_command_bytes: 1024,
        max_append_bytes: 4096,
    };

    /// Reads every command of `input` as the session does, until the peer
    /// closes: the commands' texts and refusals, in order.
    fn read_all(input: &[u8]) -> Vec<Result<Vec<u8>, Refusal>> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(store_core::StoreConfig::new(dir.path())).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut io = tokio::io::BufReader::new(tokio::io::join(input, tokio::io::sink()));
            let mut out = Vec::new();
            loop {
                match read_command(&mut io, &store, LIMITS).await.unwrap() {
                    ReadOutcome::Command(raw) => out.push(Ok(raw.text)),
                    ReadOutcome::Refused { refusal, .. } => out.push(Err(refusal)),
                    ReadOutcome::Closed => return out,
                }
            }
        })
    }

    #[test]
    fn a_bare_lf_after_a_literal_keeps_the_literals_cr() {
        // The fuzzer's reproducer: it panicked the connection task.
        assert_eq!(
            read_all(b"a1 LOGIN {1+}\r\n\r\n"),
            [Ok(b"a1 LOGIN {1+}\r\n\r".to_vec())]
        );
        assert_eq!(
            read_all(b"a1 LOGIN {2+}\r\n\r\r\n"),
            [Ok(b"a1 LOGIN {2+}\r\n\r\r".to_vec())]
        );
        assert_eq!(
            read_all(b"a1 LOGIN {1+}\r\n\n\n"),
            [Ok(b"a1 LOGIN {1+}\r\n\n".to_vec())]
        );
    }

    #[test]
    fn literal_data_ending_like_a_header_is_not_a_literal() {
        // The literal's bytes end in `{12}` and the command ends after it:
        // the reader took that as a new literal, sent `+` and waited for
        // 12 bytes that never came.
        assert_eq!(
            read_all(b"a LOGIN alice {5+}\r\nx{12}\r\nb NOOP\r\n"),
            [
                Ok(b"a LOGIN alice {5+}\r\nx{12}".to_vec()),
                Ok(b"b NOOP".to_vec())
            ]
        );
        // A header on the line after a literal still is one.
        assert_eq!(
            read_all(b"a LOGIN {1+}\r\nx {2+}\r\nyz\r\n"),
            [Ok(b"a LOGIN {1+}\r\nx {2+}\r\nyz".to_vec())]
        );
    }

    #[test]
    fn line_endings_and_edge_cases() {
        assert_eq!(
            read_all(b"a NOOP\r\nb NOOP\nc NOOP"),
            [Ok(b"a NOOP".to_vec()), Ok(b"b NOOP".to_vec())]
        );
        assert_eq!(read_all(b"\r\n\n\r"), [Ok(Vec::new()), Ok(Vec::new())]);
        assert_eq!(
            read_all(b"a LOGIN {0+}\r\n {0+}\r\n\r\n"),
            [Ok(b"a LOGIN {0+}\r\n {0+}\r\n".to_vec())]
        );
        assert_eq!(
            read_all(b"a\0 NOOP\r\nb NOOP\r\n"),
            [Err(Refusal::BadBytes), Ok(b"b NOOP".to_vec())]
        );
        // A literal cut short by the peer closing is dropped whole.
        assert!(read_all(b"a LOGIN {10+}\r\nabc").is_empty());
        // Sizes past any limit or past u64 are refused or not literals.
        assert_eq!(
            read_all(b"a LOGIN {99999999999999999999+}\r\n"),
            [Ok(b"a LOGIN {99999999999999999999+}".to_vec())]
        );
        assert_eq!(
            read_all(b"a LOGIN {9999999999999999999+}\r\n"),
            [Err(Refusal::NonSyncLiteralTooLarge)]
        );
    }

    #[test]
    fn hostile_literal_headers_inside_literals_are_bounded() {
        // A quote open before the outer literal and closed inside it hides
        // that literal from the tokenizer, so the header in its bytes is
        // read: it must neither run past the text nor overflow (it made
        // the skip wrap to zero, a loop for ever, or panicked).
        for n in [usize::MAX - 3, usize::MAX, 1 << 40] {
            let inner = format!("\" {{{n}}}\r\n");
            let mut text = format!("a APPEND \"x {{{}}}\r\n", inner.len()).into_bytes();
            text.extend_from_slice(inner.as_bytes());
            assert_eq!(top_level_tokens(&text).len(), 4);
            assert!(is_append_message(&text));
        }
        let huge = format!("{{{}}}\r\n", usize::MAX - 3);
        assert_eq!(inline_literal_len(huge.as_bytes()), None);
        assert_eq!(inline_literal_len(b"{3}\r\nab"), None);
        assert_eq!(inline_literal_len(b"{2}\r\nab"), Some(7));
        assert_eq!(inline_literal_len(b"{+}\r\n"), None);
        assert_eq!(inline_literal_len(b"{}"), None);
    }

    #[test]
    fn append_message_position() {
        assert!(!is_append_message(b"a APPEND "));
        assert!(is_append_message(b"a APPEND INBOX "));
        assert!(is_append_message(b"a append {5}\r\nINBOX (\\Seen) "));
        assert!(is_append_message(
            b"a APPEND \"a b\" (\\Seen) \"1-Jan-2020 00:00:00 +0000\" "
        ));
        assert!(!is_append_message(b"a LOGIN user "));
    }
}
