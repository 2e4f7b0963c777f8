//! METADATA (RFC 5464): GETMETADATA and SETMETADATA on the server (mailbox
//! `""`) and on mailboxes, `/private` and `/shared` entries, over
//! store-core's metadata operations (which WebDAV dead properties and SIP
//! share).
//!
//! Limits (store-core's, reported by `session::error`): a value over
//! `MAX_METADATA_VALUE` gets
//! `NO [METADATA MAXSIZE n]`, more than `MAX_METADATA_ENTRIES` entries on
//! one target `NO [METADATA TOOMANY]`; the server's `/shared` entries are
//! read-only (`NO [NOPERM]`). GETMETADATA MAXSIZE leaves larger values out
//! and says the size of the largest with `OK [METADATA LONGENTRIES n]`.

use tokio::io::AsyncWriteExt;

use store_core::{MetadataTarget, StoreError};

use super::{folder_of, principal};
use crate::protocol::response::{self, Completion};
use crate::session::error::CommandResult;
use crate::session::Session;

fn target(mailbox: &str) -> Result<MetadataTarget, Completion> {
    if mailbox.is_empty() {
        Ok(MetadataTarget::Server)
    } else {
        folder_of(mailbox).map(MetadataTarget::Folder)
    }
}

/// Runs GETMETADATA.
pub async fn get(
    session: &mut Session,
    mailbox: &str,
    entries: &[String],
    max_size: Option<u64>,
    depth: Option<usize>,
) -> CommandResult {
    let principal = principal(session)?;
    let target = target(mailbox)?;
    let found = match session
        .state
        .store
        .get_metadata(&principal, &target, entries, depth)
        .await
    {
        Ok(f) => f,
        Err(StoreError::InvalidArgument(why)) => return Ok(Completion::bad(why)),
        Err(e) => return Err(e.into()),
    };
    let mut longest_left_out = None;
    let kept: Vec<(String, Vec<u8>)> = found
        .into_iter()
        .filter(|(_, v)| match max_size {
            Some(max) if v.len() as u64 > max => {
                longest_left_out = longest_left_out.max(Some(v.len()));
                false
            }
            _ => true,
        })
        .collect();
    if !kept.is_empty() {
        session.out.push_str("* METADATA ");
        response::mailbox(&mut session.out, mailbox);
        session.out.push_str(" (");
        for (i, (name, value)) in kept.iter().enumerate() {
            if i > 0 {
                session.out.push(' ');
            }
            response::astring(&mut session.out, name);
            session.out.push(' ');
            write_value(session, Some(value)).await?;
        }
        session.out.push_str(")\r\n");
    }
    Ok(match longest_left_out {
        Some(n) => {
            Completion::ok("GETMETADATA completed").with_code(format!("METADATA LONGENTRIES {n}"))
        }
        None => Completion::ok("GETMETADATA completed"),
    })
}

/// Writes a metadata or annotation value: NIL, a quoted string, or (for
/// binary or multi-line values) a literal whose bytes go straight out.
pub async fn write_value(session: &mut Session, value: Option<&[u8]>) -> std::io::Result<()> {
    let Some(value) = value else {
        session.out.push_str("NIL");
        return Ok(());
    };
    match std::str::from_utf8(value) {
        Ok(text) if !text.contains(['\r', '\n', '\0']) => response::string(&mut session.out, text),
        _ => {
            session.out.push_str(&format!("{{{}}}\r\n", value.len()));
            session.emit().await?;
            session.io()?.write_all(value).await?;
        }
    }
    Ok(())
}

/// Runs SETMETADATA.
pub async fn set(
    session: &mut Session,
    mailbox: &str,
    entries: Vec<(String, Option<Vec<u8>>)>,
) -> CommandResult {
    let principal = principal(session)?;
    let target = target(mailbox)?;
    match session
        .state
        .store
        .set_metadata(&principal, &target, entries)
        .await
    {
        Ok(()) => Ok(Completion::ok("SETMETADATA completed")),
        Err(StoreError::InvalidArgument(why)) => Ok(Completion::bad(why)),
        Err(StoreError::PermissionDenied(_)) if matches!(target, MetadataTarget::Server) => {
            Ok(Completion::no("Server /shared entries are read-only").with_code("NOPERM"))
        }
        Err(e) => Err(e.into()),
    }
}
