//! APPEND (RFC 3501 6.3.11) with APPENDUID (RFC 4315 3). The message was
//! streamed to a blob by the reader; this stores it, durably, before the
//! OK. A missing mailbox gets NO [TRYCREATE].

use store_core::blob::StagedBlob;
use store_core::model::Flags;
use store_core::model::UnixTime;
use store_core::{NewObject, StoreError};

use super::{folder_of, principal};
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
    let principal = principal(session)?;
    let folder = folder_of(name)?;
    if message.size == 0 {
        return Ok(Completion::no("Empty message"));
    }
    let flags = match checked_flags(&flags) {
        Ok(f) => f,
        Err(c) => return Ok(c),
    };
    let object = NewObject {
        flags,
        internal_date: date,
        ..NewObject::new(message)
    };
    match session
        .state
        .store
        .store_object(&principal, &folder, object)
        .await
    {
        Ok(stored) => Ok(Completion::ok("APPEND completed")
            .with_code(format!("APPENDUID {} {}", stored.uid_validity, stored.uid))),
        Err(StoreError::NoSuchFolder) => {
            Ok(Completion::no("Mailbox does not exist").with_code("TRYCREATE"))
        }
        Err(e) => Err(e.into()),
    }
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
