//! NOTIFY (RFC 5465): NOTIFY SET with event groups, NOTIFY NONE. The
//! events are delivered by `session::notify` as the account's changes
//! are committed, between commands as well as after them; IDLE goes on
//! working beside it.
//!
//! Checks of RFC 5465 3.1: MessageNew and MessageExpunge come together,
//! FlagChange needs both (else BAD); AnnotationChange is not offered
//! (`NO [BADEVENT (...)]` lists what is); a SUBTREE or MAILBOXES naming a
//! mailbox that does not exist is accepted (it may be created later).

use super::principal;
use super::status::status_line;
use crate::protocol::command::{NotifyEvent, NotifySpec};
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::notify::{events_for, status_items, Visible};
use crate::session::Session;

/// The events this server sends, for `[BADEVENT]`.
const SUPPORTED: &str = "MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange \
                         MailboxMetadataChange ServerMetadataChange";

/// Runs NOTIFY.
pub async fn execute(session: &mut Session, spec: Option<NotifySpec>) -> CommandResult {
    principal(session)?;
    let Some(spec) = spec else {
        session.notify = None;
        return Ok(Completion::ok("NOTIFY completed"));
    };
    for group in &spec.groups {
        let has = |e| group.events.contains(&e);
        if has(NotifyEvent::AnnotationChange) {
            return Ok(Completion::no("AnnotationChange is not supported")
                .with_code(format!("BADEVENT ({SUPPORTED})")));
        }
        if has(NotifyEvent::MessageNew) != has(NotifyEvent::MessageExpunge) {
            return Ok(Completion::bad(
                "MessageNew and MessageExpunge go together (RFC 5465 5)",
            ));
        }
        if has(NotifyEvent::FlagChange) && !has(NotifyEvent::MessageNew) {
            return Ok(Completion::bad(
                "FlagChange needs MessageNew and MessageExpunge (RFC 5465 5)",
            ));
        }
    }
    // Report what happened before under the old settings, then follow
    // the account's changes from now on.
    session.synchronize(true).await.map_err(Completion::no)?;
    session.notify = Some(spec.clone());
    if spec.status {
        // RFC 5465 3.1: the current STATUS of every mailbox watched for
        // message events.
        let visible = Visible::of(session).await;
        let selected = session.selected.as_ref().map(|m| m.folder_id);
        let mut names: Vec<String> = visible
            .all()
            .filter(|(_, info)| Some(info.folder.id) != selected)
            .filter(|(name, info)| {
                events_for(&spec, &visible, name, Some(info)).contains(&NotifyEvent::MessageNew)
            })
            .map(|(name, _)| name)
            .collect();
        names.sort();
        let items = status_items(session);
        for name in names {
            if let Ok(line) = status_line(session, &name, &items).await {
                session.out.push_str(&line);
            }
        }
    }
    Ok(Completion::ok("NOTIFY completed"))
}
