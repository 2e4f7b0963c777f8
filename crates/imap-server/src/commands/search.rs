//! SEARCH (RFC 3501 6.4.4) and UID SEARCH, with ESEARCH's `RETURN (MIN
//! MAX ALL COUNT)` (RFC 4731), PARTIAL (RFC 5267 4.4) and UPDATE (RFC 5267
//! 4.3, kept by [`super::context`]). Sequence sets and `\Recent` keys are
//! turned into UID sets here, from the session's view; store-core
//! evaluates the rest. CHARSET may be US-ASCII or UTF-8 (RFC 3501 requires
//! US-ASCII; UTF-8 is what CPM clients send). SORT and THREAD share the
//! helpers here.

use std::collections::HashMap;
use std::fmt::Write as _;

use store_core::model::Uid;
use store_core::search::SearchKey as StoreKey;
use store_core::sort::SortInfo;

use super::{context, principal};
use crate::protocol::command::{SearchKey, SearchReturn};
use crate::protocol::response::{self, Completion};
use crate::protocol::sequence::compact;
use crate::session::error::{CommandError, CommandResult};
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
    if let Some(refused) = charset.and_then(refuse_charset) {
        return Ok(refused);
    }
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    let key = to_store_key(mailbox, criteria);
    // A live result (RFC 5267 4) keeps the sort data of its messages.
    let update = returns.is_some_and(|r| r.contains(&SearchReturn::Update));
    if let Some(refused) = update
        .then(|| context::refuse_live_tag(session, tag))
        .flatten()
    {
        return Ok(refused);
    }
    let (found, infos) = match update {
        true => {
            let infos = matching_sort_info(session, &key).await?;
            (infos.iter().map(|i| i.uid).collect(), Some(infos))
        }
        false => (matching(session, &key).await?, None),
    };
    let result = Found::new(session, &found, uid, uses_modseq(criteria)).await?;
    // RFC 9051 6.4.4 (appendix E item 5): in IMAP4rev2 a SEARCH without
    // RETURN is answered as `RETURN (ALL)`, with ESEARCH.
    let returns = returns.or(session.enabled.imap4rev2.then_some(&[][..]));
    let line = answer("SEARCH", tag, uid, returns, &result);
    session.out.push_str(&line);
    if uses_modseq(criteria) {
        super::enable_condstore(session);
    }
    if let Some(infos) = infos {
        context::register(session, tag, uid, key, None, infos);
    }
    Ok(Completion::ok("SEARCH completed"))
}

/// The answer to SEARCH or SORT (`name`): `* name n...` with the MODSEQ
/// of RFC 7162 3.1.5, or with RETURN options the `* ESEARCH` line.
pub fn answer(
    name: &str,
    tag: &str,
    uid: bool,
    returns: Option<&[SearchReturn]>,
    result: &Found,
) -> String {
    let Some(returns) = returns else {
        let mut line = format!("* {name}");
        for n in &result.numbers {
            let _ = write!(line, " {n}");
        }
        if let Some(m) = result.highest_modseq(&[]) {
            let _ = write!(line, " (MODSEQ {m})");
        }
        line.push_str("\r\n");
        return line;
    };
    esearch(tag, uid, returns, result)
}

/// The NO for a charset other than US-ASCII and UTF-8 (RFC 3501 6.4.4
/// BADCHARSET), or `None`.
pub fn refuse_charset(charset: &str) -> Option<Completion> {
    (charset != "UTF-8" && charset != "US-ASCII").then(|| {
        Completion::no(format!("Charset {charset} is not supported"))
            .with_code("BADCHARSET (US-ASCII UTF-8)")
    })
}

/// The UIDs of the selected mailbox's messages that match `key`, among
/// those this session knows of (RFC 3501 7.2.5), ascending.
///
/// Errors: the store's; BAD when no mailbox is selected.
pub async fn matching(session: &Session, key: &StoreKey) -> Result<Vec<Uid>, CommandError> {
    matching_info(session, key, |k| async move {
        session.state.store.search(&k.0, &k.1, &k.2).await
    })
    .await
}

/// The sort and threading data of the messages that match `key`, among
/// those this session knows of, in mailbox order.
///
/// Errors: as [`matching`].
pub async fn matching_sort_info(
    session: &Session,
    key: &StoreKey,
) -> Result<Vec<SortInfo>, CommandError> {
    matching_info(session, key, |k| async move {
        session.state.store.search_sort_info(&k.0, &k.1, &k.2).await
    })
    .await
}

type Query = (store_core::Principal, store_core::FolderRef, StoreKey);

async fn matching_info<T, F, Fut>(
    session: &Session,
    key: &StoreKey,
    run: F,
) -> Result<Vec<T>, CommandError>
where
    F: FnOnce(Query) -> Fut,
    Fut: std::future::Future<Output = store_core::Result<Vec<T>>>,
{
    let principal = principal(session)?;
    let Some(mailbox) = session.selected.as_ref() else {
        return Err(Completion::bad("No mailbox selected").into());
    };
    let key = StoreKey::And(vec![
        // Only messages this session knows of (RFC 3501 7.2.5).
        StoreKey::Uid(known_range(mailbox)),
        key.clone(),
    ]);
    Ok(run((principal, mailbox.folder.clone(), key)).await?)
}

/// A result as the client sees it: message numbers (UIDs or sequence
/// numbers) in result order, with their MODSEQs when the search used
/// MODSEQ (RFC 7162 3.1.5).
pub struct Found {
    /// The numbers, in result order.
    pub numbers: Vec<u32>,
    /// Each number's MODSEQ, when asked for.
    pub modseqs: Option<Vec<u64>>,
}

impl Found {
    /// The result for `uids` (in result order) in `session`'s view; the
    /// MODSEQs, when asked for, read from the store in batches.
    ///
    /// Errors: the store's.
    pub async fn new(
        session: &Session,
        uids: &[Uid],
        uid: bool,
        with_modseq: bool,
    ) -> Result<Found, CommandError> {
        let mut numbers = Vec::with_capacity(uids.len());
        let mut known = Vec::with_capacity(uids.len());
        let mut modseqs = Vec::new();
        if let Some(mailbox) = session.selected.as_ref() {
            for &u in uids {
                let Some(seq) = mailbox.seq_of(u) else {
                    continue;
                };
                numbers.push(if uid { u } else { seq });
                known.push(u);
            }
            if with_modseq {
                let principal = super::principal(session)?;
                for chunk in known.chunks(store_core::MAX_BATCH) {
                    let states: HashMap<Uid, u64> = session
                        .state
                        .store
                        .object_states(&principal, &mailbox.folder, chunk, mailbox.view())
                        .await?
                        .into_iter()
                        .map(|o| (o.uid, o.modseq))
                        .collect();
                    modseqs.extend(chunk.iter().map(|u| states.get(u).copied().unwrap_or(0)));
                }
            }
        }
        Ok(Found {
            numbers,
            modseqs: with_modseq.then_some(modseqs),
        })
    }

    /// The MODSEQ to return with the result (RFC 7162 3.1.5, RFC 4731
    /// 3.2): with only MIN and/or MAX asked, the highest of the messages
    /// they name; otherwise the highest of all matches. `None` without a
    /// MODSEQ criterion or when nothing matched.
    pub fn highest_modseq(&self, returns: &[SearchReturn]) -> Option<u64> {
        let modseqs = self.modseqs.as_ref()?;
        let only_ends = !returns.is_empty()
            && returns.iter().all(|r| {
                matches!(
                    r,
                    SearchReturn::Min | SearchReturn::Max | SearchReturn::Update
                )
            });
        if !only_ends {
            return modseqs.iter().copied().max();
        }
        // MIN and MAX name the first and last in result order.
        let min = match returns.contains(&SearchReturn::Min) {
            true => modseqs.first().copied(),
            false => None,
        };
        let max = match returns.contains(&SearchReturn::Max) {
            true => modseqs.last().copied(),
            false => None,
        };
        min.max(max)
    }
}

/// The `* ESEARCH` line (RFC 4731 3.1, RFC 5267 3 and 4.4): `RETURN ()`
/// means ALL; MIN, MAX and ALL are left out when nothing matched; PARTIAL
/// gives the matches at the asked positions of the result, or NIL.
pub fn esearch(tag: &str, uid: bool, returns: &[SearchReturn], found: &Found) -> String {
    let numbers = &found.numbers;
    let mut line = String::from("* ESEARCH (TAG ");
    response::string(&mut line, tag);
    line.push(')');
    if uid {
        line.push_str(" UID");
    }
    let asked =
        |o: SearchReturn| returns.contains(&o) || (returns.is_empty() && o == SearchReturn::All);
    // RFC 4731 3.1 / RFC 5267 3.1: the lowest and highest *in result
    // order*: the first and last (SEARCH results are ascending).
    let (min, max) = (numbers.first(), numbers.last());
    if let (true, Some(min)) = (asked(SearchReturn::Min), min) {
        let _ = write!(line, " MIN {min}");
    }
    if let (true, Some(max)) = (asked(SearchReturn::Max), max) {
        let _ = write!(line, " MAX {max}");
    }
    if asked(SearchReturn::All) && !numbers.is_empty() {
        let _ = write!(line, " ALL {}", compact(numbers.iter().copied()));
    }
    if asked(SearchReturn::Count) {
        let _ = write!(line, " COUNT {}", numbers.len());
    }
    for r in returns {
        if let SearchReturn::Partial(low, high) = *r {
            let from = low as usize - 1;
            let to = (high as usize).min(numbers.len());
            let part = numbers.get(from..to.max(from)).unwrap_or_default();
            let set = match part.is_empty() {
                true => "NIL".to_string(),
                false => compact(part.iter().copied()),
            };
            let _ = write!(line, " PARTIAL ({low}:{high} {set})");
        }
    }
    if let Some(m) = found.highest_modseq(returns) {
        // RFC 7162 3.1.5 (ESEARCH form).
        let _ = write!(line, " MODSEQ {m}");
    }
    line.push_str("\r\n");
    line
}

/// Whether the criteria use MODSEQ (a CONDSTORE enabling command).
pub(crate) fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::Store(StoreKey::ModSeq(_)) => true,
        SearchKey::And(keys) => keys.iter().any(uses_modseq),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::Not(k) => uses_modseq(k),
        _ => false,
    }
}

fn known_range(mailbox: &SelectedMailbox) -> Vec<(Uid, Uid)> {
    match (mailbox.uids().first(), mailbox.uids().last()) {
        (Some(a), Some(b)) => vec![(a, b)],
        _ => Vec::new(),
    }
}

/// The `\Recent` messages as UID ranges (one per run of consecutive
/// UIDs: usually one, the messages that arrived last).
fn recent_uids(mailbox: &SelectedMailbox) -> Vec<(Uid, Uid)> {
    let mut out: Vec<(Uid, Uid)> = Vec::new();
    for u in mailbox.recent_uids().iter() {
        match out.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(u) => last.1 = u,
            _ => out.push((u, u)),
        }
    }
    out
}

/// The store-core key for a client's key, in the session's view.
pub(crate) fn to_store_key(mailbox: &SelectedMailbox, key: &SearchKey) -> StoreKey {
    match key {
        SearchKey::Store(k) => k.clone(),
        SearchKey::Sequence(set) => StoreKey::Uid(mailbox.sequence_to_uid_ranges(set)),
        SearchKey::Uid(set) => {
            let largest = mailbox.uids().last().unwrap_or(0);
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

    fn found(numbers: &[u32], modseqs: Option<&[u64]>) -> Found {
        Found {
            numbers: numbers.to_vec(),
            modseqs: modseqs.map(<[u64]>::to_vec),
        }
    }

    #[test]
    fn rfc4731_esearch_lines() {
        use SearchReturn::*;
        assert_eq!(
            esearch("A282", false, &[Min, Count], &found(&[2, 10, 11], None)),
            "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"
        );
        assert_eq!(
            esearch("A283", true, &[], &found(&[3, 4, 5, 9], None)),
            "* ESEARCH (TAG \"A283\") UID ALL 3:5,9\r\n"
        );
        assert_eq!(
            esearch(
                "A284",
                false,
                &[Min, Max, All, Count, Min],
                &found(&[], None)
            ),
            "* ESEARCH (TAG \"A284\") COUNT 0\r\n"
        );
    }

    /// RFC 7162 3.1.5 / RFC 4731 3.2: MIN or MAX alone return the MODSEQ
    /// of the message they name, not the highest of all matches.
    #[test]
    fn modseq_of_min_and_max() {
        use SearchReturn::*;
        let f = found(&[1, 2, 3], Some(&[81, 83, 82]));
        assert!(esearch("t", false, &[Min], &f).ends_with(" MIN 1 MODSEQ 81\r\n"));
        assert!(esearch("t", false, &[Max], &f).ends_with(" MAX 3 MODSEQ 82\r\n"));
        assert!(esearch("t", false, &[Min, Max], &f).ends_with(" MODSEQ 82\r\n"));
        assert!(esearch("t", false, &[], &f).ends_with(" ALL 1:3 MODSEQ 83\r\n"));
        assert!(esearch("t", false, &[Count], &f).ends_with(" MODSEQ 83\r\n"));
    }

    /// RFC 5267 3.1: ESORT's MIN and MAX are the first and last sorted
    /// messages, with their own MODSEQs.
    #[test]
    fn esort_min_max_follow_sort_order() {
        use SearchReturn::*;
        let f = found(&[4, 3, 5, 1], Some(&[10, 30, 20, 40]));
        assert!(esearch("t", false, &[Min, Max], &f).contains(" MIN 4 MAX 1 "));
        assert!(esearch("t", false, &[Min], &f).ends_with(" MIN 4 MODSEQ 10\r\n"));
        assert!(esearch("t", false, &[Max], &f).ends_with(" MAX 1 MODSEQ 40\r\n"));
    }

    /// RFC 5267 4.4 and imaptest's sort-partial: positions of the result,
    /// in result order.
    #[test]
    fn partial_ranges() {
        use SearchReturn::*;
        let f = found(&[5, 3, 4, 2, 1], None);
        assert_eq!(
            esearch("t", false, &[Partial(2, 4)], &f),
            "* ESEARCH (TAG \"t\") PARTIAL (2:4 3:4,2)\r\n"
        );
        assert!(esearch("t", false, &[Partial(6, 9)], &f).contains("PARTIAL (6:9 NIL)"));
        assert!(esearch("t", false, &[Partial(1, 9)], &f).contains("(1:9 5,3:4,2,1)"));
    }
}
