//! APPEND with CATENATE (RFC 4469), alone or in a MULTIAPPEND (RFC 3502):
//! each CATENATE message is put together, in order, from its TEXT parts
//! (literals the reader streamed to blobs) and its URL parts (messages or
//! sections of the user's own mailboxes, by IMAP URL, RFC 5092: absolute
//! `imap://user@host/...` or relative to this server `/mailbox/;uid=n`),
//! into a new blob; then the messages are stored as APPEND stores them
//! (all or nothing).
//!
//! Errors (RFC 4469 6): a URL that names nothing readable gets
//! `NO [BADURL url]`; a message growing past APPENDLIMIT gets
//! `NO [TOOBIG]`. Nothing is stored then.

use std::ops::Range;

use store_core::blob::{BlobWriter, StagedBlob};
use store_core::mime::MessageSummary;
use store_core::{Principal, StoreError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use super::{append, folder_of, principal};
use crate::protocol::command::{AppendData, AppendMessage, CatenatePart};
use crate::protocol::response::Completion;
use crate::protocol::url::ImapUrl;
use crate::session::error::{CommandError, CommandResult};
use crate::session::Session;

/// Runs APPEND with CATENATE messages among `messages`.
pub async fn execute(
    session: &mut Session,
    name: &str,
    messages: Vec<AppendData>,
) -> CommandResult {
    let principal = principal(session)?;
    // A missing mailbox is told before any URL is read (as Dovecot does).
    let folder = folder_of(name)?;
    match session.state.store.folder_status(&principal, &folder).await {
        Err(StoreError::NoSuchFolder) => {
            return Ok(Completion::no("Mailbox does not exist").with_code("TRYCREATE"))
        }
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    let limit = session.state.config.max_append_bytes;
    let mut plain = Vec::with_capacity(messages.len());
    for m in messages {
        match m {
            AppendData::Literal(m) => plain.push(m),
            AppendData::Catenate(c) => match build(session, &principal, c.parts, limit).await? {
                Ok(message) => plain.push(AppendMessage {
                    flags: c.flags,
                    date: c.date,
                    message,
                }),
                Err(refusal) => return Ok(refusal),
            },
        }
    }
    append::execute_multi(session, name, plain).await
}

/// Puts one message together from `parts` into a new blob.
///
/// Errors: `Ok(Err(NO [BADURL]))` or `Ok(Err(NO [TOOBIG]))` to answer
/// with; `Err` for a failing store.
async fn build(
    session: &Session,
    principal: &Principal,
    parts: Vec<CatenatePart>,
    limit: u64,
) -> Result<Result<StagedBlob, Completion>, CommandError> {
    let store = &session.state.store;
    let mut writer = store.blob_writer().await?;
    for part in parts {
        let copied = match part {
            CatenatePart::Text(blob) => {
                let mut file = blob.reader().await?;
                copy(&mut file, blob.size, &mut writer, limit).await?
            }
            CatenatePart::Url(url) => match resolve_url(session, principal, &url).await {
                Some((mut file, range)) => {
                    file.seek(std::io::SeekFrom::Start(range.start)).await?;
                    copy(&mut file, range.end - range.start, &mut writer, limit).await?
                }
                None => {
                    let shown: String = url
                        .chars()
                        .filter(|c| !c.is_control() && *c != ']')
                        .take(1024)
                        .collect();
                    return Ok(Err(Completion::no("Cannot read the URL's content")
                        .with_code(format!("BADURL {shown}"))));
                }
            },
        };
        if !copied {
            return Ok(Err(Completion::no(format!(
                "Message larger than APPENDLIMIT {limit}"
            ))
            .with_code("TOOBIG")));
        }
    }
    Ok(Ok(writer.finish().await?))
}

/// Copies `len` bytes of `from` to `to`; `false` (nothing more copied)
/// when `to` would grow past `limit`.
///
/// Errors: I/O of either side.
async fn copy<R: AsyncRead + Unpin>(
    from: &mut R,
    len: u64,
    to: &mut BlobWriter,
    limit: u64,
) -> std::io::Result<bool> {
    if to.len().saturating_add(len) > limit {
        return Ok(false);
    }
    let mut left = len;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = from.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        to.write(&buf[..n]).await?;
        left -= n as u64;
    }
    Ok(true)
}

/// The content a CATENATE URL names, opened, and its byte range: a
/// message (or section) in a mailbox of the session's user that they may
/// read, UIDVALIDITY matching when given. `None` otherwise.
async fn resolve_url(
    session: &Session,
    principal: &Principal,
    url: &str,
) -> Option<(store_core::blob::BlobReader, Range<u64>)> {
    // RFC 4469 5: a URL relative to this server starts with '/'.
    let (url, partial) = split_partial(url)?;
    let absolute = match url.strip_prefix('/') {
        Some(path) => format!("imap://localhost/{path}"),
        None => url,
    };
    let parsed = ImapUrl::parse(&absolute).ok()?;
    if parsed.uid == 0 || parsed.access.is_some() {
        return None;
    }
    if parsed
        .user
        .as_deref()
        .is_some_and(|u| u != principal.login())
    {
        return None;
    }
    let folder = folder_of(&parsed.mailbox).ok()?;
    let store = &session.state.store;
    if let Some(validity) = parsed.uid_validity {
        let (f, _) = store.folder_status(principal, &folder).await.ok()?;
        if f.uid_validity != validity {
            return None;
        }
    }
    let (object, summary) = store
        .fetch_object(principal, &folder, parsed.uid)
        .await
        .ok()?;
    let mut range = section_range(&summary, object.size, parsed.section)?;
    if let Some((offset, length)) = partial {
        // RFC 5092 3.2 `;PARTIAL=offset[.length]`: past the end is empty.
        let start = range.start.saturating_add(offset).min(range.end);
        let end = length.map_or(range.end, |l| start.saturating_add(l).min(range.end));
        range = start..end;
    }
    let file = store.open_blob(&object).await.ok()?;
    Some((file, range))
}

/// The bytes of `section` (`None`: the whole message) of a message of
/// `size` bytes, as FETCH `BODY[section]` returns them: store-core's one
/// section resolver, the one URLFETCH and SIP fetch by reference use.
fn section_range(
    summary: &MessageSummary,
    size: u64,
    section: Option<String>,
) -> Option<Range<u64>> {
    store_core::section::message_range(summary, size, section.as_deref()).map(|(range, _)| range)
}

/// `;PARTIAL=offset[.length]` (RFC 5092 3.2): offset and length, bytes.
type Partial = (u64, Option<u64>);

/// Takes `;PARTIAL=offset[.length]` (RFC 5092 3.2) out of `url`: the URL
/// without it, and the offset and length. `None` for a malformed one.
fn split_partial(url: &str) -> Option<(String, Option<Partial>)> {
    let Some(at) = url.to_ascii_lowercase().find(";partial=") else {
        return Some((url.to_string(), None));
    };
    let value_start = at + ";partial=".len();
    let value_end = url[value_start..]
        .find(['/', ';'])
        .map_or(url.len(), |i| value_start + i);
    let value = &url[value_start..value_end];
    let (offset, length) = match value.split_once('.') {
        Some((o, l)) => (o.parse().ok()?, Some(l.parse().ok()?)),
        None => (value.parse().ok()?, None),
    };
    // The segment goes with the '/' before it (`.../;PARTIAL=...`).
    let cut_start = if url[..at].ends_with('/') { at - 1 } else { at };
    let rest = format!("{}{}", &url[..cut_start], &url[value_end..]);
    Some((rest, Some((offset, length))))
}

#[cfg(test)]
mod tests {
    use super::split_partial;

    #[test]
    fn partial_is_split_off() {
        assert_eq!(
            split_partial("/a/;uid=2/;partial=100000.1"),
            Some(("/a/;uid=2".to_string(), Some((100000, Some(1)))))
        );
        assert_eq!(
            split_partial("/a/;UID=2/;SECTION=1/;PARTIAL=5"),
            Some(("/a/;UID=2/;SECTION=1".to_string(), Some((5, None))))
        );
        assert_eq!(split_partial("/a/;uid=2/;partial=x"), None);
        assert_eq!(split_partial("/a/;uid=2"), Some(("/a/;uid=2".into(), None)));
    }
}
