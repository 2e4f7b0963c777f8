//! CLOSE (RFC 3501 6.4.2) and UNSELECT (RFC 3691): leave the selected
//! mailbox; CLOSE first removes its `\Deleted` messages, silently, unless
//! the mailbox is read-only.

use store_core::model::Uid;

use super::principal;
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs CLOSE (`expunge` true) or UNSELECT.
pub async fn execute(session: &mut Session, expunge: bool) -> CommandResult {
    let principal = principal(session)?;
    let Some(mailbox) = session.selected.take() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    // Leaving a mailbox ends its search contexts (RFC 5267 4.3).
    super::context::end(session);
    if expunge && !mailbox.read_only {
        let deleted: Vec<Uid> =
            super::expunge::deleted_uids(&session.state.store, &principal, &mailbox, None)
                .await
                .unwrap_or_default();
        if !deleted.is_empty() {
            // CLOSE succeeds even without the right to expunge (RFC 4314
            // 4: "CLOSE ... expunge only if 'e'").
            if let Err(e) = session
                .state
                .store
                .expunge_deleted(&principal, &mailbox.folder, &deleted)
                .await
            {
                tracing::debug!(error = %e, "CLOSE did not expunge");
            }
        }
    }
    Ok(Completion::ok(if expunge {
        "CLOSE completed"
    } else {
        "UNSELECT completed"
    }))
}
