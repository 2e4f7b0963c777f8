//! APPEND (RFC 3501 6.3.11) with APPENDUID (RFC 4315 3), and MULTIAPPEND
//! (RFC 3502). Each message was streamed to a blob by the reader; this
//! stores them, durably, before the OK. A missing mailbox gets NO
//! [TRYCREATE]. MULTIAPPEND is all or nothing (RFC 3502 6.3.11): the
//! messages are stored in one store transaction, and one that is refused
//! (empty, a bad flag, over quota) leaves none stored; the OK's APPENDUID
//! has the UIDs of all, in order.

use store_core::blob::StagedBlob;
use store_core::model::Flags;
use store_core::model::UnixTime;
use store_core::section;
use store_core::{NewObject, StoreError};

use super::{folder_of, principal};
use crate::protocol::command::AppendMessage;
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs APPEND.
pub async fn execute(
    session: &mut Session,
    name: &str,
    flags: Vec<String>,
    date: Option<UnixTime>,
    message: StagedBlob,
) -> CommandResult {
    let message = AppendMessage {
        flags,
        date,
        message,
    };
    execute_multi(session, name, vec![message]).await
}

/// Runs APPEND of one or more messages (MULTIAPPEND, RFC 3502).
pub async fn execute_multi(
    session: &mut Session,
    name: &str,
    messages: Vec<AppendMessage>,
) -> CommandResult {
    let principal = principal(session)?;
    let folder = folder_of(name)?;
    let mut objects = Vec::with_capacity(messages.len());
    for m in messages {
        if m.message.size == 0 {
            return Ok(Completion::no("Empty message"));
        }
        let flags = match checked_flags(&m.flags) {
            Ok(f) => f,
            Err(c) => return Ok(c),
        };
        let message = without_nul_literals(session, m.message).await?;
        objects.push(NewObject {
            flags,
            internal_date: m.date,
            ..NewObject::new(message)
        });
    }
    let store = &session.state.store;
    let stored = match objects.len() {
        1 => match objects.pop() {
            Some(object) => store
                .store_object(&principal, &folder, object)
                .await
                .map(|s| vec![s]),
            None => return Ok(Completion::bad("No message")),
        },
        _ => store.store_objects(&principal, &folder, objects).await,
    };
    match stored {
        Ok(stored) => {
            let uid_validity = stored.first().map_or(0, |s| s.uid_validity);
            let uids: Vec<u32> = stored.iter().map(|s| s.uid).collect();
            Ok(Completion::ok("APPEND completed")
                .with_code(format!("APPENDUID {uid_validity} {}", uid_set(&uids))))
        }
        Err(StoreError::NoSuchFolder) => {
            Ok(Completion::no("Mailbox does not exist").with_code("TRYCREATE"))
        }
        Err(e) => Err(e.into()),
    }
}

/// `uid-set` (RFC 4315 4): ranges of consecutive UIDs, in order
/// (`5:7,9`).
/// The message to store: `message` itself, or, when it holds NUL in
/// `binary` parts (possible only from a literal8, RFC 3516 4.3), a copy
/// with those parts in base64 ([`store_core::mime::base64_binary_parts`]),
/// so that every non-BINARY FETCH can send it. Only messages of at most
/// [`section::MAX_BINARY_DECODE`] bytes are read into memory, and only
/// after a chunked scan found a NUL.
///
/// Errors: I/O of the staged file.
async fn without_nul_literals(
    session: &Session,
    message: StagedBlob,
) -> Result<StagedBlob, crate::session::error::CommandError> {
    use tokio::io::AsyncReadExt;
    if message.size > section::MAX_BINARY_DECODE {
        return Ok(message);
    }
    let mut file = message.reader().await?;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut has_nul = false;
    loop {
        let n = file.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        if chunk[..n].contains(&0) {
            has_nul = true;
            break;
        }
    }
    if !has_nul {
        return Ok(message);
    }
    let mut raw = Vec::new();
    message.reader().await?.read_to_end(&mut raw).await?;
    match store_core::mime::base64_binary_parts(&raw) {
        Some(converted) => Ok(session.state.store.stage_bytes(&converted).await?),
        None => Ok(message),
    }
}

fn uid_set(uids: &[u32]) -> String {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for &uid in uids {
        match ranges.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(uid) => *end = uid,
            _ => ranges.push((uid, uid)),
        }
    }
    ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}:{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Flags in the `\` form that CPM defines besides RFC 3501's system
/// flags (the read report of a chat message was sent), stored like
/// keywords.
pub const CPM_FLAGS: &[&str] = &["\\read-report-sent"];

/// Flags a client may set (STORE, APPEND): keywords, the CPM flags and the
/// system flags but `\Recent`, which only the server sets.
///
/// Errors: BAD naming the flag otherwise.
pub fn checked_flags(flags: &[String]) -> Result<Flags, Completion> {
    for f in flags {
        if f.starts_with('\\')
            && !store_core::model::SYSTEM_FLAGS
                .iter()
                .chain(CPM_FLAGS)
                .any(|s| s.eq_ignore_ascii_case(f))
        {
            return Err(Completion::bad(format!("Cannot set flag {f}")));
        }
    }
    Ok(flags.iter().map(String::as_str).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn uid_sets() {
        assert_eq!(super::uid_set(&[5, 6, 7, 9]), "5:7,9");
        assert_eq!(super::uid_set(&[1]), "1");
        assert_eq!(super::uid_set(&[u32::MAX, 1]), "4294967295,1");
    }
}
