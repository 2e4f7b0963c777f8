//! COPY (RFC 3501 6.4.7), MOVE (RFC 6851) and their UID forms, with
//! COPYUID (RFC 4315 3). MOVE reports COPYUID in an untagged OK, then the
//! EXPUNGEs of the moved messages (RFC 6851 4.3). A missing destination
//! gets NO [TRYCREATE].

use store_core::model::Uid;
use store_core::StoreError;

use super::expunge::report_expunged;
use super::{folder_of, principal};
use crate::protocol::response::Completion;
use crate::protocol::sequence::{compact, SequenceSet};
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs COPY or MOVE (`remove_source`), by sequence numbers or `uid`s.
pub async fn execute(
    session: &mut Session,
    set: &SequenceSet,
    destination: &str,
    uid: bool,
    remove_source: bool,
) -> CommandResult {
    let principal = principal(session)?;
    let to = folder_of(destination)?;
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    if remove_source && mailbox.read_only {
        return Ok(Completion::no("Mailbox is read-only").with_code("READ-ONLY"));
    }
    let uids: Vec<Uid> = mailbox
        .resolve(set, uid)
        .into_iter()
        .map(|(_, u)| u)
        .filter(|&u| !mailbox.is_expunged(u))
        .collect();
    if uids.is_empty() {
        let verb = if remove_source { "MOVE" } else { "COPY" };
        return Ok(Completion::ok(format!("{verb} completed; no messages")));
    }
    let from = mailbox.folder.clone();
    let store = &session.state.store;
    let result = if remove_source {
        store.move_objects(&principal, &from, &uids, &to).await
    } else {
        store.copy_objects(&principal, &from, &uids, &to).await
    };
    let result = match result {
        Ok(r) => r,
        Err(StoreError::NoSuchFolder) if store.folder_status(&principal, &from).await.is_ok() => {
            return Ok(Completion::no("Destination does not exist").with_code("TRYCREATE"))
        }
        Err(e) => return Err(e.into()),
    };
    let code = format!(
        "COPYUID {} {} {}",
        result.uid_validity,
        compact(result.uids.iter().map(|p| p.0)),
        compact(result.uids.iter().map(|p| p.1))
    );
    if !remove_source {
        return Ok(Completion::ok("COPY completed").with_code(code));
    }
    session.out.push_str(&format!("* OK [{code}] Moved\r\n"));
    let moved: Vec<Uid> = result.uids.iter().map(|p| p.0).collect();
    report_expunged(session, &moved);
    Ok(Completion::ok("MOVE completed"))
}
