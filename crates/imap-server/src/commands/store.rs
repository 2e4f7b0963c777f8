//! STORE (RFC 3501 6.4.6) and UID STORE: FLAGS, +FLAGS, -FLAGS and their
//! .SILENT forms. Without .SILENT every message of the set is answered
//! with its flags (and its UID for UID STORE).

use std::fmt::Write as _;

use store_core::model::Uid;
use store_core::FlagUpdate;

use super::append::checked_flags;
use super::principal;
use crate::protocol::command::StoreMode;
use crate::protocol::response::Completion;
use crate::protocol::sequence::SequenceSet;
use crate::session::error::CommandResult;
use crate::session::mailbox::SelectedMailbox;
use crate::session::Session;

/// Runs STORE or UID STORE.
pub async fn execute(
    session: &mut Session,
    set: &SequenceSet,
    mode: StoreMode,
    silent: bool,
    flags: &[String],
    uid: bool,
) -> CommandResult {
    let principal = principal(session)?;
    let flags = match checked_flags(flags) {
        Ok(f) => f,
        Err(c) => return Ok(c),
    };
    let Some(mailbox) = session.selected.as_mut() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    if mailbox.read_only {
        return Ok(Completion::no("Mailbox is read-only").with_code("READ-ONLY"));
    }
    let targets = mailbox.resolve(set, uid);
    let live: Vec<Uid> = targets
        .iter()
        .map(|&(_, u)| u)
        .filter(|&u| !mailbox.is_expunged(u))
        .collect();
    let some_expunged = live.len() < targets.len();
    let update = match mode {
        StoreMode::Replace => FlagUpdate::Replace(flags),
        StoreMode::Add => FlagUpdate::Add(flags),
        StoreMode::Remove => FlagUpdate::Remove(flags),
    };
    let result = session
        .state
        .store
        .update_flags(&principal, &mailbox.folder, &live, update, None)
        .await?;
    for (u, _, new_flags) in result.updated {
        mailbox.set_flags(u, new_flags);
    }
    if !silent {
        for (seq, u) in targets {
            let message = &mailbox.messages[seq as usize - 1];
            let _ = write!(
                session.out,
                "* {seq} FETCH (FLAGS {}",
                SelectedMailbox::flags_of(message)
            );
            if uid {
                let _ = write!(session.out, " UID {u}");
            }
            session.out.push_str(")\r\n");
        }
    }
    if some_expunged {
        return Ok(
            Completion::no("Some messages were expunged by another session")
                .with_code("EXPUNGEISSUED"),
        );
    }
    Ok(Completion::ok("STORE completed"))
}
