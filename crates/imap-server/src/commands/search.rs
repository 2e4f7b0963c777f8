//! SEARCH (RFC 3501 6.4.4) and UID SEARCH, with ESEARCH's `RETURN (MIN
//! MAX ALL COUNT)` (RFC 4731). Sequence sets and `\Recent` keys are turned
//! into UID sets here, from the session's view; store-core evaluates the
//! rest. CHARSET may be US-ASCII or UTF-8 (RFC 3501 requires US-ASCII; UTF-8
//! is what CPM clients send).

use store_core::model::Uid;
use store_core::search::SearchKey as StoreKey;

use super::principal;
use crate::protocol::command::{SearchKey, SearchReturn};
use crate::protocol::response::{self, Completion};
use crate::protocol::sequence::compact;
use crate::session::error::CommandResult;
use crate::session::mailbox::SelectedMailbox;
use crate::session::Session;

/// A SEARCH command's arguments.
pub struct SearchRequest<'a> {
    /// The command's tag (ESEARCH responses carry it).
    pub tag: &'a str,
    /// RETURN options; `None` for the RFC 3501 form.
    pub returns: Option<&'a [SearchReturn]>,
    /// CHARSET.
    pub charset: Option<&'a str>,
    /// Criteria.
    pub criteria: &'a SearchKey,
    /// UID SEARCH.
    pub uid: bool,
}

/// Runs SEARCH or UID SEARCH.
pub async fn execute(session: &mut Session, request: SearchRequest<'_>) -> CommandResult {
    let SearchRequest {
        tag,
        returns,
        charset,
        criteria,
        uid,
    } = request;
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
    // RFC 7162 3.1.5: with a MODSEQ criterion, the highest MODSEQ of the
    // messages found is returned with them (none when none is found).
    let highest = uses_modseq(criteria)
        .then(|| {
            found
                .iter()
                .filter_map(|&u| mailbox.seq_of(u))
                .map(|s| mailbox.messages[s as usize - 1].modseq)
                .max()
        })
        .flatten();
    let mut numbers: Vec<u32> = found
        .into_iter()
        .filter_map(|u| if uid { Some(u) } else { mailbox.seq_of(u) })
        .collect();
    numbers.sort_unstable();
    let line = match returns {
        None => {
            let list: String = numbers.iter().map(|n| format!(" {n}")).collect();
            let modseq = highest
                .map(|m| format!(" (MODSEQ {m})"))
                .unwrap_or_default();
            format!("* SEARCH{list}{modseq}\r\n")
        }
        Some(returns) => esearch(tag, uid, returns, &numbers, highest),
    };
    session.out.push_str(&line);
    if uses_modseq(criteria) {
        session.enabled.condstore = true;
    }
    Ok(Completion::ok("SEARCH completed"))
}

/// The `* ESEARCH` line (RFC 4731 3.1): `RETURN ()` means ALL; MIN, MAX
/// and ALL are left out when nothing matched.
fn esearch(
    tag: &str,
    uid: bool,
    returns: &[SearchReturn],
    numbers: &[u32],
    highest_modseq: Option<u64>,
) -> String {
    let mut line = String::from("* ESEARCH (TAG ");
    response::string(&mut line, tag);
    line.push(')');
    if uid {
        line.push_str(" UID");
    }
    let asked =
        |o: SearchReturn| returns.contains(&o) || (returns.is_empty() && o == SearchReturn::All);
    let order = [
        SearchReturn::Min,
        SearchReturn::Max,
        SearchReturn::All,
        SearchReturn::Count,
    ];
    for option in order.iter().filter(|&&o| asked(o)) {
        match (option, numbers.first(), numbers.last()) {
            (SearchReturn::Min, Some(min), _) => line.push_str(&format!(" MIN {min}")),
            (SearchReturn::Max, _, Some(max)) => line.push_str(&format!(" MAX {max}")),
            (SearchReturn::All, Some(_), _) => {
                line.push_str(&format!(" ALL {}", compact(numbers.iter().copied())))
            }
            (SearchReturn::Count, _, _) => line.push_str(&format!(" COUNT {}", numbers.len())),
            _ => {}
        }
    }
    if let Some(m) = highest_modseq {
        // RFC 7162 3.1.5 (ESEARCH form).
        line.push_str(&format!(" MODSEQ {m}"));
    }
    line.push_str("\r\n");
    line
}

/// Whether the criteria use MODSEQ (a CONDSTORE enabling command).
fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::Store(StoreKey::ModSeq(_)) => true,
        SearchKey::And(keys) => keys.iter().any(uses_modseq),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::Not(k) => uses_modseq(k),
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4731_esearch_lines() {
        use SearchReturn::*;
        assert_eq!(
            esearch("A282", false, &[Min, Count], &[2, 10, 11], None),
            "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"
        );
        assert_eq!(
            esearch("A283", true, &[], &[3, 4, 5, 9], None),
            "* ESEARCH (TAG \"A283\") UID ALL 3:5,9\r\n"
        );
        assert_eq!(
            esearch("A284", false, &[Min, Max, All, Count, Min], &[], None),
            "* ESEARCH (TAG \"A284\") COUNT 0\r\n"
        );
    }
}
