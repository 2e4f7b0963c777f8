//! EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 2.1): remove the
//! `\Deleted` messages (of the UID set), reporting each with `* n EXPUNGE`
//! (or all with `* VANISHED` after ENABLE QRESYNC, RFC 7162 3.2.10).

use store_core::model::Uid;
use store_core::search::SearchKey as StoreKey;

use super::principal;
use crate::protocol::response::Completion;
use crate::protocol::sequence::SequenceSet;
use crate::session::error::CommandResult;
use crate::session::mailbox::SelectedMailbox;
use crate::session::Session;

/// Runs EXPUNGE (`uids` None) or UID EXPUNGE.
pub async fn execute(session: &mut Session, uids: Option<&SequenceSet>) -> CommandResult {
    let principal = principal(session)?;
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    if mailbox.read_only {
        return Ok(Completion::no("Mailbox is read-only").with_code("READ-ONLY"));
    }
    let in_set: Option<Vec<(Uid, Uid)>> =
        uids.map(|set| set.ranges(mailbox.uids().last().unwrap_or(0)));
    let deleted = deleted_uids(&session.state.store, &principal, mailbox, in_set).await?;
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    let folder = mailbox.folder.clone();
    remove(session, &principal, &folder, &deleted).await?;
    Ok(Completion::ok("EXPUNGE completed"))
}

/// The UIDs of the messages of `mailbox` (as the session numbers them)
/// flagged `\\Deleted` now, within `ranges` of UIDs when given (UID
/// EXPUNGE), ascending: one store search (the flag index), not a walk of
/// the mailbox.
///
/// Errors: the store's.
pub async fn deleted_uids(
    store: &store_core::Store,
    principal: &store_core::Principal,
    mailbox: &SelectedMailbox,
    ranges: Option<Vec<(Uid, Uid)>>,
) -> Result<Vec<Uid>, store_core::StoreError> {
    let (Some(first), Some(last)) = (mailbox.uids().first(), mailbox.uids().last()) else {
        return Ok(Vec::new());
    };
    let mut key = vec![
        StoreKey::Uid(vec![(first, last)]),
        StoreKey::Flag("\\Deleted".into()),
    ];
    if let Some(ranges) = ranges {
        key.push(StoreKey::Uid(ranges));
    }
    let found = store
        .search(principal, &mailbox.folder, &StoreKey::And(key))
        .await?;
    Ok(found
        .into_iter()
        .filter(|&u| mailbox.uids().contains(u))
        .collect())
}

/// Removes those of `uids` still flagged `\\Deleted` when the store's write
/// transaction reads them (another session may have cleared the flag since
/// [`deleted_uids`], RFC 3501 6.4.3) and reports them to this session as
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
        .expunge_deleted(principal, folder, uids)
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
