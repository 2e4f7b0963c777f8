//! EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 2.1): remove the
//! `\Deleted` messages (of the UID set), reporting each with `* n EXPUNGE`
//! (or all with `* VANISHED` after ENABLE QRESYNC, RFC 7162 3.2.10).

use store_core::model::Uid;

use super::principal;
use crate::protocol::response::Completion;
use crate::protocol::sequence::SequenceSet;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs EXPUNGE (`uids` None) or UID EXPUNGE.
pub async fn execute(session: &mut Session, uids: Option<&SequenceSet>) -> CommandResult {
    let principal = principal(session)?;
    let Some(mailbox) = session.selected.as_mut() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    if mailbox.read_only {
        return Ok(Completion::no("Mailbox is read-only").with_code("READ-ONLY"));
    }
    let in_set: Option<Vec<Uid>> = uids.map(|set| {
        mailbox
            .resolve(set, true)
            .into_iter()
            .map(|(_, u)| u)
            .collect()
    });
    let deleted: Vec<Uid> = mailbox
        .messages
        .iter()
        .filter(|m| m.flags.contains("\\Deleted"))
        .filter(|m| {
            in_set
                .as_ref()
                .is_none_or(|s| s.binary_search(&m.uid).is_ok())
        })
        .map(|m| m.uid)
        .collect();
    let folder = mailbox.folder.clone();
    remove(session, &principal, &folder, &deleted).await?;
    Ok(Completion::ok("EXPUNGE completed"))
}

/// Removes `uids` from the store and reports them to this session as
/// `* n EXPUNGE`, each number valid when sent.
pub async fn remove(
    session: &mut Session,
    principal: &store_core::Principal,
    folder: &store_core::FolderRef,
    uids: &[Uid],
) -> Result<(), store_core::StoreError> {
    if uids.is_empty() {
        return Ok(());
    }
    let removed = session
        .state
        .store
        .remove_objects(principal, folder, uids)
        .await?;
    report_expunged(session, &removed);
    Ok(())
}

/// Drops `uids` from the session's view and reports them (EXPUNGE, or
/// VANISHED after ENABLE QRESYNC).
pub fn report_expunged(session: &mut Session, uids: &[Uid]) {
    let enabled = session.enabled;
    if let Some(mailbox) = session.selected.as_mut() {
        mailbox.report_expunged(uids, enabled, &mut session.out);
    }
}
