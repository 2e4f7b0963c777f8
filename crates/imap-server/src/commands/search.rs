//! SEARCH (RFC 3501 6.4.4) and UID SEARCH. Sequence sets and `\Recent`
//! keys are turned into UID sets here, from the session's view; store-core
//! evaluates the rest. CHARSET may be US-ASCII or UTF-8 (RFC 3501 requires
//! US-ASCII; UTF-8 is what CPM clients send).

use store_core::model::Uid;
use store_core::search::SearchKey as StoreKey;

use super::principal;
use crate::protocol::command::SearchKey;
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::mailbox::SelectedMailbox;
use crate::session::Session;

/// Runs SEARCH or UID SEARCH.
pub async fn execute(
    session: &mut Session,
    charset: Option<&str>,
    criteria: &SearchKey,
    uid: bool,
) -> CommandResult {
    let principal = principal(session)?;
    if let Some(c) = charset {
        if c != "UTF-8" && c != "US-ASCII" {
            return Ok(Completion::no(format!("Charset {c} is not supported"))
                .with_code("BADCHARSET (US-ASCII UTF-8)"));
        }
    }
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    let key = StoreKey::And(vec![
        // Only messages this session knows of (RFC 3501 7.2.5).
        StoreKey::Uid(known_range(mailbox)),
        to_store_key(mailbox, criteria),
    ]);
    let found = session
        .state
        .store
        .search(&principal, &mailbox.folder, &key)
        .await?;
    let mut line = String::from("* SEARCH");
    for u in found {
        let n = if uid { Some(u) } else { mailbox.seq_of(u) };
        if let Some(n) = n {
            line.push_str(&format!(" {n}"));
        }
    }
    line.push_str("\r\n");
    session.out.push_str(&line);
    Ok(Completion::ok("SEARCH completed"))
}

fn known_range(mailbox: &SelectedMailbox) -> Vec<(Uid, Uid)> {
    match (mailbox.messages.first(), mailbox.messages.last()) {
        (Some(a), Some(b)) => vec![(a.uid, b.uid)],
        _ => Vec::new(),
    }
}

fn recent_uids(mailbox: &SelectedMailbox) -> Vec<(Uid, Uid)> {
    mailbox
        .messages
        .iter()
        .filter(|m| m.recent)
        .map(|m| (m.uid, m.uid))
        .collect()
}

/// The store-core key for a client's key, in the session's view.
fn to_store_key(mailbox: &SelectedMailbox, key: &SearchKey) -> StoreKey {
    match key {
        SearchKey::Store(k) => k.clone(),
        SearchKey::Sequence(set) => StoreKey::Uid(mailbox.sequence_to_uid_ranges(set)),
        SearchKey::Uid(set) => {
            let largest = mailbox.messages.last().map_or(0, |m| m.uid);
            StoreKey::Uid(set.ranges(largest))
        }
        SearchKey::Recent => StoreKey::Uid(recent_uids(mailbox)),
        SearchKey::New => StoreKey::And(vec![
            StoreKey::Uid(recent_uids(mailbox)),
            StoreKey::Not(Box::new(StoreKey::Flag("\\Seen".into()))),
        ]),
        SearchKey::Old => StoreKey::Not(Box::new(StoreKey::Uid(recent_uids(mailbox)))),
        SearchKey::And(keys) => {
            StoreKey::And(keys.iter().map(|k| to_store_key(mailbox, k)).collect())
        }
        SearchKey::Or(a, b) => StoreKey::Or(
            Box::new(to_store_key(mailbox, a)),
            Box::new(to_store_key(mailbox, b)),
        ),
        SearchKey::Not(k) => StoreKey::Not(Box::new(to_store_key(mailbox, k))),
    }
}
