//! SORT and UID SORT (RFC 5256 3), SORT=DISPLAY keys (RFC 5957), and
//! ESORT's `RETURN (MIN MAX COUNT ALL PARTIAL UPDATE)` (RFC 5267 3 and 4).
//! The keys come from the stored summaries (store-core's `sort` module);
//! the answer is `* SORT n...`, or `* ESEARCH` with RETURN.

use store_core::sort::SortCriterion;

use super::context;
use super::search::{answer, matching_sort_info, refuse_charset, to_store_key, uses_modseq, Found};
use crate::protocol::command::{SearchKey, SearchReturn};
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// A SORT command's arguments.
pub struct SortRequest<'a> {
    /// The command's tag (ESEARCH responses carry it).
    pub tag: &'a str,
    /// RETURN options (ESORT); `None` for the RFC 5256 form.
    pub returns: Option<&'a [SearchReturn]>,
    /// Sort criteria, most significant first.
    pub criteria: &'a [SortCriterion],
    /// The charset, upper case.
    pub charset: &'a str,
    /// Search criteria.
    pub search: &'a SearchKey,
    /// UID SORT.
    pub uid: bool,
}

/// Runs SORT or UID SORT.
pub async fn execute(session: &mut Session, request: SortRequest<'_>) -> CommandResult {
    let SortRequest {
        tag,
        returns,
        criteria,
        charset,
        search,
        uid,
    } = request;
    if let Some(refused) = refuse_charset(charset) {
        return Ok(refused);
    }
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    let key = to_store_key(mailbox, search);
    let update = returns.is_some_and(|r| r.contains(&SearchReturn::Update));
    if let Some(refused) = update
        .then(|| context::refuse_live_tag(session, tag))
        .flatten()
    {
        return Ok(refused);
    }
    let mut infos = matching_sort_info(session, &key).await?;
    store_core::sort::sort(&mut infos, criteria);
    let sorted: Vec<_> = infos.iter().map(|i| i.uid).collect();
    let result = Found::new(session, &sorted, uid, uses_modseq(search)).await?;
    let line = answer("SORT", tag, uid, returns, &result);
    session.out.push_str(&line);
    if uses_modseq(search) {
        super::enable_condstore(session);
    }
    if update {
        context::register(session, tag, uid, key, Some(criteria.to_vec()), infos);
    }
    Ok(Completion::ok("SORT completed"))
}
