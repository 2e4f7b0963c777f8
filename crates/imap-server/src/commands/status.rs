//! STATUS (RFC 3501 6.3.10): counts of a mailbox without selecting it,
//! its HIGHESTMODSEQ (RFC 7162 3.1.6), and what expunging would free
//! (DELETED and DELETED-STORAGE, RFC 9208 4.2), its SIZE (RFC 8438, the
//! folder's counter) and MAILBOXID (RFC 8474 4.2).

use std::fmt::Write as _;

use store_core::search::SearchKey;

use super::{folder_of, principal};
use crate::protocol::command::StatusItem;
use crate::protocol::response::{self, Completion};
use crate::session::error::{CommandError, CommandResult};
use crate::session::Session;

/// Runs STATUS.
pub async fn execute(session: &mut Session, name: &str, items: &[StatusItem]) -> CommandResult {
    let line = status_line(session, name, items).await?;
    session.out.push_str(&line);
    if items.contains(&StatusItem::HighestModSeq) {
        // A CONDSTORE enabling command (RFC 7162 3.1).
        session.enabled.condstore = true;
    }
    Ok(Completion::ok("STATUS completed"))
}

/// The `* STATUS` response for mailbox `name` (also what LIST-STATUS,
/// RFC 5819, sends after a mailbox's LIST line).
///
/// Errors: the store's (no such mailbox, no right), as a completion.
pub async fn status_line(
    session: &Session,
    name: &str,
    items: &[StatusItem],
) -> Result<String, CommandError> {
    let principal = principal(session)?;
    let folder = folder_of(name)?;
    let store = &session.state.store;
    let (f, _) = store.mail_status(&principal, &folder).await?;
    let mut values = Vec::new();
    for item in items {
        let (label, value) = match item {
            StatusItem::Messages => ("MESSAGES", f.objects),
            StatusItem::UidNext => ("UIDNEXT", f.uid_next),
            StatusItem::UidValidity => ("UIDVALIDITY", f.uid_validity),
            StatusItem::Unseen => ("UNSEEN", f.unseen),
            StatusItem::HighestModSeq => {
                values.push(format!("HIGHESTMODSEQ {}", f.highest_modseq));
                continue;
            }
            StatusItem::Size => {
                values.push(format!("SIZE {}", f.size));
                continue;
            }
            StatusItem::MailboxId => {
                values.push(format!("MAILBOXID ({})", f.mailbox_id()));
                continue;
            }
            StatusItem::Deleted | StatusItem::DeletedStorage => {
                let key = SearchKey::Flag("\\Deleted".into());
                let deleted = store.search(&principal, &folder, &key).await?;
                if *item == StatusItem::Deleted {
                    ("DELETED", deleted.len() as u32)
                } else {
                    let mut bytes = 0u64;
                    for uid in deleted {
                        if let Ok((object, _)) = store.fetch_object(&principal, &folder, uid).await
                        {
                            bytes += object.size;
                        }
                    }
                    values.push(format!("DELETED-STORAGE {}", bytes.div_ceil(1024)));
                    continue;
                }
            }
            StatusItem::Recent => {
                // Recent to a future session: above the highest UID any
                // session has claimed (none is claimed by asking).
                let threshold = session.state.store.claim_recent(f.id, 0, false).await?;
                let key = SearchKey::Uid(vec![(threshold.saturating_add(1), u32::MAX)]);
                let n = store.search(&principal, &folder, &key).await?.len();
                ("RECENT", n as u32)
            }
        };
        values.push(format!("{label} {value}"));
    }
    let mut line = String::from("* STATUS ");
    response::mailbox(&mut line, name);
    let _ = write!(line, " ({})\r\n", values.join(" "));
    Ok(line)
}
