//! Search contexts (RFC 5267 4, CONTEXT=SEARCH and CONTEXT=SORT): a SEARCH
//! or SORT with `RETURN (UPDATE)` stays live while the mailbox is
//! selected, and after each command (and during IDLE) the session reports
//! how its result changed, with `* ESEARCH (TAG ..) ADDTO (..)` and
//! `REMOVEFROM (..)`; CANCELUPDATE (4.3.5) ends it.
//!
//! Bounded: at most [`MAX_CONTEXTS`] per session (more are refused with
//! `NOUPDATE`, RFC 5267 4.3.1). A context keeps the sort data of its
//! result; when the mailbox changed, only the messages whose MODSEQ moved
//! are read and evaluated again (their cost, not the mailbox's), and the
//! result is re-sorted in memory.

use std::collections::HashSet;
use std::fmt::Write as _;

use store_core::model::{FolderId, ModSeq, Uid};
use store_core::search::SearchKey as StoreKey;
use store_core::sort::{SortCriterion, SortInfo};

use crate::protocol::response::{self, Completion};
use crate::protocol::sequence::compact;
use crate::session::error::CommandResult;
use crate::session::uidmap::UidMap;
use crate::session::Session;

/// Most live contexts one session keeps.
pub const MAX_CONTEXTS: usize = 16;

/// The live search contexts of a session.
#[derive(Debug, Default)]
pub struct Contexts {
    /// The mailbox (id, UIDVALIDITY) they belong to.
    folder: Option<(FolderId, u32)>,
    /// The mailbox's UIDs when last reported: REMOVEFROM gives sequence
    /// numbers as the client knew them, before this round's EXPUNGEs. A
    /// copy of the session's compact map (a few KB for 100k consecutive
    /// UIDs), not a Vec of every UID.
    view: UidMap,
    /// HIGHESTMODSEQ and message count when last evaluated.
    seen: (ModSeq, u32),
    list: Vec<Context>,
}

#[derive(Debug)]
struct Context {
    tag: String,
    uid: bool,
    key: StoreKey,
    sort: Option<Vec<SortCriterion>>,
    /// The last result reported, in result order.
    result: Vec<SortInfo>,
}

/// The BAD for a SEARCH or SORT with `RETURN (UPDATE)` whose tag names a
/// context still live in the selected mailbox (RFC 5267 4.3: the tag
/// identifies the context, so it must not be reused while it lives), or
/// `None`.
pub fn refuse_live_tag(session: &Session, tag: &str) -> Option<Completion> {
    let mailbox = session.selected.as_ref()?;
    let contexts = &session.contexts;
    let live = contexts.folder == Some((mailbox.folder_id, mailbox.uid_validity))
        && contexts.list.iter().any(|c| c.tag == tag);
    live.then(|| Completion::bad(format!("Tag {tag} names a live search context")))
}

/// Starts updating the result of the SEARCH or SORT tagged `tag` (in
/// `session`'s selected mailbox), whose current result is `result` (in
/// result order). Refused with an untagged `NO [NOUPDATE "tag"]` past
/// [`MAX_CONTEXTS`].
pub fn register(
    session: &mut Session,
    tag: &str,
    uid: bool,
    key: StoreKey,
    sort: Option<Vec<SortCriterion>>,
    result: Vec<SortInfo>,
) {
    let Some(mailbox) = session.selected.as_ref() else {
        return;
    };
    let folder = Some((mailbox.folder_id, mailbox.uid_validity));
    let contexts = &mut session.contexts;
    contexts.list.retain(|c| c.tag != tag);
    if contexts.folder != folder || contexts.list.is_empty() {
        contexts.list.clear();
        contexts.folder = folder;
        contexts.view = mailbox.uids().clone();
        contexts.seen = (mailbox.highest_modseq(), mailbox.exists());
    }
    if contexts.list.len() >= MAX_CONTEXTS {
        let mut line = String::from("* NO [NOUPDATE ");
        response::string(&mut line, tag);
        line.push_str("] Too many search contexts\r\n");
        session.out.push_str(&line);
        return;
    }
    contexts.list.push(Context {
        tag: tag.to_string(),
        uid,
        key,
        sort,
        result,
    });
}

/// Ends every context (the mailbox is being left: CLOSE, UNSELECT,
/// SELECT, EXAMINE, UNAUTHENTICATE).
pub fn end(session: &mut Session) {
    session.contexts = Contexts::default();
}

/// CANCELUPDATE (RFC 5267 4.3.5): stops updating the contexts of `tags`.
pub fn cancel_update(session: &mut Session, tags: &[String]) -> CommandResult {
    let before = session.contexts.list.len();
    session.contexts.list.retain(|c| !tags.contains(&c.tag));
    if session.contexts.list.len() + tags.len() > before {
        return Ok(Completion::bad("Unknown search context tag"));
    }
    Ok(Completion::ok("CANCELUPDATE completed"))
}

/// The update hook, run after the selected mailbox was synchronized:
/// evaluates each live context again when the mailbox changed and reports
/// the difference. REMOVEFROM lines go before the first EXPUNGE (or
/// VANISHED) waiting in `session.out`, so their sequence numbers are the
/// ones the client still holds; ADDTO lines go last, after EXISTS.
pub async fn report(session: &mut Session) {
    if session.contexts.list.is_empty() {
        return;
    }
    let Some(mailbox) = session.selected.as_ref() else {
        session.contexts = Contexts::default();
        return;
    };
    if session.contexts.folder != Some((mailbox.folder_id, mailbox.uid_validity)) {
        session.contexts = Contexts::default();
        return;
    }
    let now = (mailbox.highest_modseq(), mailbox.exists());
    if now == session.contexts.seen {
        return;
    }
    // What changed since the last evaluation: new messages and changed
    // flags have a higher MODSEQ; expunged ones left the view.
    let since = session.contexts.seen.0;
    let (Some(principal), folder) = (session.principal.as_ref(), mailbox.folder.clone()) else {
        return;
    };
    // From the store's change index: the cost of the changes, not of the
    // mailbox. Only messages in the session's view count.
    let changed: Vec<Uid> = match session
        .state
        .store
        .mail_changes_since(principal, &folder, since)
        .await
    {
        Ok(changes) => changes
            .changed
            .into_iter()
            .map(|o| o.uid)
            .filter(|&u| mailbox.uids().contains(u))
            .collect(),
        Err(_) => return,
    };
    let changed_set: HashSet<Uid> = changed.iter().copied().collect();
    let mut list = std::mem::take(&mut session.contexts.list);
    let (mut removals, mut additions) = (String::new(), String::new());
    for context in &mut list {
        let fresh = session
            .state
            .store
            .search_sort_info_among(principal, &folder, &changed, &context.key)
            .await;
        let Ok(fresh) = fresh else {
            continue;
        };
        let mut new: Vec<SortInfo> = context
            .result
            .iter()
            .filter(|i| !changed_set.contains(&i.uid) && mailbox.seq_of(i.uid).is_some())
            .cloned()
            .chain(fresh)
            .collect();
        new.sort_by_key(|i| i.uid);
        if let Some(criteria) = &context.sort {
            store_core::sort::sort(&mut new, criteria);
        }
        let (removed, added) = changes(session, context, &new);
        context.result = new;
        removals.push_str(&removed);
        additions.push_str(&added);
    }
    let Some(mailbox) = session.selected.as_ref() else {
        return;
    };
    let view = mailbox.uids().clone();
    let contexts = &mut session.contexts;
    contexts.list = list;
    contexts.view = view;
    contexts.seen = now;
    let at = first_expunge(&session.out).unwrap_or(session.out.len());
    session.out.insert_str(at, &removals);
    session.out.push_str(&additions);
}

/// The REMOVEFROM and ADDTO lines for a context going from its result to
/// `new`. A SEARCH context (ascending) gets one pair each: position 0
/// (mailbox order) and the set; a SORT context one pair per message,
/// removals from the last position down and additions from the first up,
/// so each position holds when the client applies them in order.
fn changes(session: &Session, context: &Context, new: &[SortInfo]) -> (String, String) {
    let old: HashSet<Uid> = context.result.iter().map(|i| i.uid).collect();
    let now: HashSet<Uid> = new.iter().map(|i| i.uid).collect();
    let old_number = |u: Uid| match context.uid {
        true => Some(u),
        false => session.contexts.view.seq_of(u),
    };
    let new_number = |u: Uid| match context.uid {
        true => Some(u),
        false => session.selected.as_ref().and_then(|m| m.seq_of(u)),
    };
    let removed: Vec<(usize, u32)> = context
        .result
        .iter()
        .enumerate()
        .filter(|(_, info)| !now.contains(&info.uid))
        .filter_map(|(i, info)| old_number(info.uid).map(|n| (i + 1, n)))
        .collect();
    let added: Vec<(usize, u32)> = new
        .iter()
        .enumerate()
        .filter(|(_, info)| !old.contains(&info.uid))
        .filter_map(|(i, info)| new_number(info.uid).map(|n| (i + 1, n)))
        .collect();
    let line = |name: &str, mut items: Vec<(usize, u32)>, descending: bool| {
        if items.is_empty() {
            return String::new();
        }
        let mut out = String::from("* ESEARCH (TAG ");
        response::string(&mut out, &context.tag);
        out.push(')');
        if context.uid {
            out.push_str(" UID");
        }
        if context.sort.is_none() {
            // Position 0: in mailbox order (RFC 5267 4.3.3, 4.3.4), as
            // the items need not be contiguous in the result.
            let mut numbers: Vec<u32> = items.iter().map(|i| i.1).collect();
            numbers.sort_unstable();
            let _ = write!(out, " {name} (0 {})", compact(numbers));
        } else {
            if descending {
                items.reverse();
            }
            for (position, n) in items {
                let _ = write!(out, " {name} ({position} {n})");
            }
        }
        out.push_str("\r\n");
        out
    };
    (
        line("REMOVEFROM", removed, true),
        line("ADDTO", added, false),
    )
}

/// Where the first `* n EXPUNGE` or `* VANISHED` line starts in `out`,
/// reading it as responses (the bytes of a `{n}` literal are skipped, so a
/// message's own text is never taken for a response).
fn first_expunge(out: &str) -> Option<usize> {
    let bytes = out.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let end = out[at..].find("\r\n").map_or(bytes.len(), |e| at + e + 2);
        let line = &out[at..end];
        let body = line.trim_end_matches("\r\n");
        if body.starts_with("* VANISHED ") {
            return Some(at);
        }
        if let Some(rest) = body.strip_prefix("* ") {
            if let Some(n) = rest.strip_suffix(" EXPUNGE") {
                if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                    return Some(at);
                }
            }
        }
        let literal = body
            .strip_suffix('}')
            .and_then(|b| b.rfind('{').map(|i| &b[i + 1..]))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        at = end.saturating_add(literal);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expunge_lines_are_found_outside_literals_only() {
        let out = "* 1 FETCH (BODY[] {13}\r\n* 1 EXPUNGE\r\n)\r\n* 2 EXPUNGE\r\n";
        assert_eq!(first_expunge(out), Some(out.find("* 2").unwrap()));
        assert_eq!(first_expunge("* 3 EXISTS\r\n"), None);
        assert_eq!(first_expunge("* VANISHED 4:5\r\n"), Some(0));
        assert_eq!(first_expunge("* 1 FETCH (BODY[] {99}\r\n"), None);
    }
}
