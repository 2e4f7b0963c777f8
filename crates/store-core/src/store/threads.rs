//! RFC 8474 EMAILID and THREADID assignment (the scheme is in
//! [`crate::objectid`]): a new EMAILID number from the store-wide counter,
//! and the thread found through the account's index of message ids.

use crate::error::Result;
use crate::keys;
use crate::mime::MessageSummary;
use crate::model::AccountId;
use crate::objectid::ThreadRefs;
use crate::writer::{Reader, Txn};

/// The THREADID number of a message of `owner` with `refs`, whose own
/// EMAILID number is `email_id`, and the index entries to write: the first
/// of its ids the index knows (its own, then those it refers to, nearest
/// first) gives the thread; if none is known it starts its own thread
/// (`email_id`). Every id not yet indexed is then indexed to the thread,
/// so replies stored later, and a parent stored after its reply, join it.
/// At most [`crate::objectid::MAX_THREAD_REFS`] lookups.
pub(crate) fn find_thread<R: Reader + ?Sized>(
    r: &R,
    owner: AccountId,
    refs: &ThreadRefs,
    email_id: u64,
) -> Result<(u64, Vec<Vec<u8>>)> {
    let mut thread = None;
    let mut unknown = Vec::new();
    for id in refs.own.iter().chain(&refs.refs) {
        let key = keys::thread_ref(owner, id);
        match r.load::<u64>(&key)? {
            Some(t) => {
                thread.get_or_insert(t);
            }
            None => unknown.push(key),
        }
    }
    Ok((thread.unwrap_or(email_id), unknown))
}

/// Takes a new EMAILID number and finds the THREADID number of a message
/// of `owner` with `summary` (APPEND, a COPY into another account),
/// indexing its message ids. Returns (EMAILID number, THREADID number).
pub(crate) fn new_ids(
    txn: &mut Txn<'_>,
    owner: AccountId,
    summary: &MessageSummary,
) -> Result<(u64, u64)> {
    let email_id = txn.add(keys::counter("emailid"), 1)?;
    let (thread, unknown) = find_thread(txn, owner, &ThreadRefs::of(summary), email_id)?;
    for key in unknown {
        txn.put(key, &thread)?;
    }
    Ok((email_id, thread))
}
