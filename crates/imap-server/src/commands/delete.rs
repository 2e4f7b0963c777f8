//! DELETE (RFC 3501 6.3.4). INBOX cannot be deleted; the store enforces
//! it and the rights (`x`).

use super::{folder_of, principal};
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs DELETE.
pub async fn execute(session: &mut Session, name: &str) -> CommandResult {
    let principal = principal(session)?;
    let folder = folder_of(name)?;
    if session
        .selected
        .as_ref()
        .is_some_and(|m| m.folder == folder)
    {
        // Deleting the selected mailbox deselects it (as Dovecot does).
        session.selected = None;
    }
    session
        .state
        .store
        .remove_folder(&principal, &folder)
        .await?;
    Ok(Completion::ok("DELETE completed"))
}
