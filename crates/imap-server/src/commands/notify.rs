//! NOTIFY (RFC 5465): NOTIFY SET with event groups, NOTIFY NONE. The
//! events are delivered by `session::notify` as the account's changes
//! are committed, between commands as well as after them; IDLE goes on
//! working beside it.
//!
//! AnnotationChange is not offered (`NO [BADEVENT (...)]` lists what is);
//! a SUBTREE or MAILBOXES naming a mailbox that does not exist is accepted
//! (it may be created later). RFC 5465 5 asks clients to name MessageNew
//! and MessageExpunge together; like Dovecot, a group naming one of them
//! (or FlagChange alone) is accepted and gets just the events it names.
//!
//! With STATUS, each watched mailbox gets a STATUS of what its events
//! concern (RFC 5465 5.1, 5.2, 5.3, as Dovecot answers): MESSAGES for
//! MessageExpunge; MESSAGES, UIDNEXT and UIDVALIDITY for MessageNew;
//! UIDVALIDITY and HIGHESTMODSEQ for FlagChange.

use super::principal;
use super::status::status_line;
use crate::protocol::command::StatusItem;
use crate::protocol::command::{NotifyEvent, NotifySpec};
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::notify::{events_for, Visible};
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
        let mut watched: Vec<(String, Vec<StatusItem>)> = visible
            .all()
            .filter(|(_, info)| Some(info.folder.id) != selected)
            .filter_map(|(name, info)| {
                let items = initial_status_items(events_for(&spec, &visible, &name, Some(info)));
                (!items.is_empty()).then_some((name, items))
            })
            .collect();
        watched.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, items) in watched {
            if let Ok(line) = status_line(session, &name, &items).await {
                session.out.push_str(&line);
            }
        }
    }
    Ok(Completion::ok("NOTIFY completed"))
}

/// The items of the initial STATUS for a mailbox watched for `events`
/// (none when no message event is watched).
fn initial_status_items(events: &[NotifyEvent]) -> Vec<StatusItem> {
    let has = |e| events.contains(&e);
    let mut items = Vec::new();
    if has(NotifyEvent::MessageNew) || has(NotifyEvent::MessageExpunge) {
        items.push(StatusItem::Messages);
    }
    if has(NotifyEvent::MessageNew) {
        items.push(StatusItem::UidNext);
    }
    if has(NotifyEvent::MessageNew) || has(NotifyEvent::FlagChange) {
        items.push(StatusItem::UidValidity);
    }
    if has(NotifyEvent::FlagChange) {
        items.push(StatusItem::HighestModSeq);
    }
    items
}
