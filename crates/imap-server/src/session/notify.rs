//! Delivery of NOTIFY events (RFC 5465) to a session: store-core's change
//! feed for the account, turned into the untagged responses RFC 5465 5
//! names for the mailboxes the client's event groups select.
//!
//! - The selected mailbox (SELECTED, SELECTED-DELAYED): the usual EXISTS,
//!   FETCH and EXPUNGE (VANISHED after ENABLE QRESYNC) of
//!   [`super::mailbox::SelectedMailbox::synchronize`], sent as the changes
//!   happen; with SELECTED-DELAYED expunges wait for a command that may
//!   report them.
//! - Other mailboxes: MessageNew, MessageExpunge and FlagChange give one
//!   `* STATUS` (MESSAGES, UIDNEXT, UNSEEN, and HIGHESTMODSEQ once
//!   CONDSTORE is on) per mailbox changed; MailboxName gives `* LIST` for
//!   a created, renamed (`OLDNAME`), removed (`\NonExistent`) mailbox, and
//!   for one whose access rights changed (so a folder shared with the user
//!   appears); SubscriptionChange gives `* LIST` with or without
//!   `\Subscribed`; MailboxMetadataChange and ServerMetadataChange give
//!   `* METADATA mailbox entry`.
//!
//! INBOXES means the user's own mailboxes without a special use (INBOX and
//! the conversation history folders SIP deposits fill).

use std::collections::{BTreeSet, HashMap};

use store_core::model::{Change, ChangeKind, FolderId};
use store_core::{FolderInfo, FolderRef};

use super::names::{display_name, subscription_name};
use super::Session;
use crate::commands::status::status_line;
use crate::protocol::command::{EventGroup, MailboxFilter, NotifyEvent, NotifySpec, StatusItem};
use crate::protocol::response;

/// The mailboxes a session can name, by folder id.
pub struct Visible {
    by_id: HashMap<FolderId, FolderInfo>,
    subscribed: BTreeSet<String>,
}

impl Visible {
    /// What `session`'s principal sees now.
    pub async fn of(session: &Session) -> Visible {
        let (mut by_id, mut subscribed) = (HashMap::new(), BTreeSet::new());
        if let Some(p) = &session.principal {
            if let Ok(list) = session.state.store.list_folders(p).await {
                by_id = list.into_iter().map(|i| (i.folder.id, i)).collect();
            }
            if let Ok(s) = session.state.store.subscriptions(p).await {
                subscribed = s.into_iter().collect();
            }
        }
        Visible { by_id, subscribed }
    }

    /// What `session`'s principal sees of the folders `changes` name (and
    /// the subscriptions they may ask about): a lookup per folder, not a
    /// listing of the account (issue 16).
    pub async fn of_changes(session: &Session, changes: &[Change]) -> Visible {
        let (mut by_id, mut subscribed) = (HashMap::new(), BTreeSet::new());
        let Some(p) = &session.principal else {
            return Visible { by_id, subscribed };
        };
        let ids: BTreeSet<FolderId> = changes
            .iter()
            .map(|c| c.folder)
            .filter(|&f| f != 0)
            .collect();
        if let Ok(list) = session
            .state
            .store
            .list_by_ids(p, ids.into_iter().collect())
            .await
        {
            by_id = list.into_iter().map(|i| (i.folder.id, i)).collect();
        }
        // The names `events_for` and the SubscriptionChanged line look up.
        let mut names: BTreeSet<String> = by_id
            .values()
            .map(|i| {
                subscription_name(&FolderRef {
                    owner: i.owner.clone(),
                    name: i.folder.name.clone(),
                })
            })
            .collect();
        for change in changes {
            match &change.kind {
                ChangeKind::FolderRemoved { name }
                | ChangeKind::FolderRenamed { to: name, .. }
                | ChangeKind::SubscriptionChanged { name } => {
                    names.insert(name.clone());
                }
                _ => {}
            }
        }
        let names: Vec<String> = names.into_iter().collect();
        if let Ok(s) = session.state.store.subscribed_among(p, names).await {
            subscribed = s.into_iter().collect();
        }
        Visible { by_id, subscribed }
    }

    /// Every visible mailbox, with its display name.
    pub fn all(&self) -> impl Iterator<Item = (String, &FolderInfo)> {
        self.by_id.values().map(|i| (display_name(i), i))
    }
}

/// The events that apply to mailbox `name` (`info` when it exists): those
/// of the first group whose filter selects it (RFC 5465 3.1), never a
/// SELECTED group (the selected mailbox is reported by synchronization).
pub fn events_for<'a>(
    spec: &'a NotifySpec,
    visible: &Visible,
    name: &str,
    info: Option<&FolderInfo>,
) -> &'a [NotifyEvent] {
    let personal = info.is_none_or(|i| i.owner.is_none());
    for group in &spec.groups {
        let EventGroup { filter, events } = group;
        let hit = match filter {
            MailboxFilter::Selected | MailboxFilter::SelectedDelayed => false,
            MailboxFilter::Personal => personal,
            MailboxFilter::Inboxes => {
                personal && info.is_none_or(|i| i.folder.special_use.is_none())
            }
            MailboxFilter::Subscribed => {
                let key = info.map_or(name.to_string(), |i| {
                    subscription_name(&FolderRef {
                        owner: i.owner.clone(),
                        name: i.folder.name.clone(),
                    })
                });
                visible.subscribed.contains(&key)
            }
            MailboxFilter::Subtree(roots) => roots
                .iter()
                .any(|r| name == r || name.starts_with(&format!("{r}/"))),
            MailboxFilter::Mailboxes(names) => names.iter().any(|n| n == name),
        };
        if hit {
            return events;
        }
    }
    &[]
}

/// The STATUS items a notification about a mailbox carries.
pub fn status_items(session: &Session) -> Vec<StatusItem> {
    let mut items = vec![
        StatusItem::Messages,
        StatusItem::UidNext,
        StatusItem::Unseen,
        StatusItem::Size,
    ];
    if session.enabled.condstore {
        items.push(StatusItem::HighestModSeq);
    }
    items
}

impl Session {
    /// Writes the NOTIFY responses for `changes` (none without NOTIFY
    /// SET), and reports the selected mailbox's changes when it has any.
    pub(super) async fn notify_changes(&mut self, changes: &[Change]) {
        let Some(spec) = self.notify.clone() else {
            return;
        };
        let visible = Visible::of_changes(self, changes).await;
        let selected = self.selected.as_ref().map(|m| m.folder_id);
        let mut statuses = BTreeSet::new();
        let mut lines = Vec::new();
        let mut selected_changed = false;
        for change in changes {
            let info = visible.by_id.get(&change.folder);
            let name = info.map(display_name);
            let wants = |event: NotifyEvent, name: &str, info: Option<&FolderInfo>| {
                events_for(&spec, &visible, name, info).contains(&event)
            };
            match &change.kind {
                ChangeKind::ObjectStored { .. }
                | ChangeKind::ObjectRemoved { .. }
                | ChangeKind::FlagsChanged { .. } => {
                    if Some(change.folder) == selected {
                        selected_changed = true;
                        continue;
                    }
                    let Some(name) = name else { continue };
                    let event = match change.kind {
                        ChangeKind::ObjectStored { .. } => NotifyEvent::MessageNew,
                        ChangeKind::ObjectRemoved { .. } => NotifyEvent::MessageExpunge,
                        _ => NotifyEvent::FlagChange,
                    };
                    if wants(event, &name, info) {
                        statuses.insert(name);
                    }
                }
                ChangeKind::FolderCreated { .. } | ChangeKind::AclChanged => {
                    // A folder no longer visible cannot be named.
                    let (Some(info), Some(name)) = (info, name) else {
                        continue;
                    };
                    if wants(NotifyEvent::MailboxName, &name, Some(info)) {
                        lines.push(list_line("()", &name, None));
                    }
                }
                ChangeKind::FolderRemoved { name } => {
                    if wants(NotifyEvent::MailboxName, name, None) {
                        lines.push(list_line("(\\NonExistent)", name, None));
                    }
                }
                ChangeKind::FolderRenamed { from, to } => {
                    if wants(NotifyEvent::MailboxName, to, info) {
                        lines.push(list_line("()", to, Some(from)));
                    }
                }
                ChangeKind::SubscriptionChanged { name } => {
                    if wants(NotifyEvent::SubscriptionChange, name, info) {
                        let attributes = if visible.subscribed.contains(name) {
                            "(\\Subscribed)"
                        } else {
                            "()"
                        };
                        lines.push(list_line(attributes, name, None));
                    }
                }
                ChangeKind::MetadataChanged { entry } => {
                    let server = change.folder == 0;
                    let (mailbox, event) = match (&name, server) {
                        (_, true) => (String::new(), NotifyEvent::ServerMetadataChange),
                        (Some(n), false) => (n.clone(), NotifyEvent::MailboxMetadataChange),
                        (None, false) => continue,
                    };
                    let wanted = if server {
                        spec.groups.iter().any(|g| g.events.contains(&event))
                    } else {
                        wants(event, &mailbox, info)
                    };
                    if wanted {
                        let mut line = String::from("* METADATA ");
                        response::mailbox(&mut line, &mailbox);
                        line.push(' ');
                        response::astring(&mut line, entry);
                        line.push_str("\r\n");
                        lines.push(line);
                    }
                }
                ChangeKind::QuotaLevel { .. } => {}
            }
        }
        for line in lines {
            self.out.push_str(&line);
        }
        let items = status_items(self);
        for name in statuses {
            if let Ok(line) = status_line(self, &name, &items).await {
                self.out.push_str(&line);
            }
        }
        if selected_changed {
            let delayed = spec
                .groups
                .iter()
                .any(|g| g.filter == MailboxFilter::SelectedDelayed);
            if let Err(reason) = self.synchronize_selected(!delayed).await {
                self.out.push_str(&format!("* BYE {reason}\r\n"));
            }
        }
    }
}

/// `* LIST attributes "/" name [("OLDNAME" (old))]`.
fn list_line(attributes: &str, name: &str, old: Option<&str>) -> String {
    let mut line = format!("* LIST {attributes} \"/\" ");
    response::mailbox(&mut line, name);
    if let Some(old) = old {
        line.push_str(" (\"OLDNAME\" (");
        response::mailbox(&mut line, old);
        line.push_str("))");
    }
    line.push_str("\r\n");
    line
}
