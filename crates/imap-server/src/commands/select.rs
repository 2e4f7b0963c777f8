//! SELECT (RFC 3501 6.3.1) and EXAMINE (6.3.2): FLAGS, EXISTS, RECENT,
//! UNSEEN, UIDVALIDITY, UIDNEXT, PERMANENTFLAGS and HIGHESTMODSEQ (RFC
//! 7162 3.1.2.1: every folder has MODSEQs, so never NOMODSEQ), then
//! READ-WRITE or READ-ONLY, and the MAILBOXID (RFC 8474 4.3). A failed SELECT leaves no mailbox selected;
//! closing one first is said with `[CLOSED]` (RFC 7162 3.2.11).
//!
//! The CONDSTORE parameter enables CONDSTORE; the QRESYNC parameter (RFC
//! 7162 3.2.5, after ENABLE QRESYNC) resynchronizes a client in the same
//! command: `* VANISHED (EARLIER)` for the UIDs it knew that were expunged
//! since its MODSEQ, and a FETCH of UID, FLAGS and MODSEQ for each message
//! changed since, so that a client away across any number of changes
//! catches up with one SELECT.
//!
//! The whole answer describes one snapshot: the FETCHes stop at the
//! HIGHESTMODSEQ announced, and the session does not synchronize at the
//! end of SELECT (`Session::execute`); changes committed meanwhile come
//! with the next command, so the counts a client takes in while selecting
//! are never revised before the tagged OK.

use std::fmt::Write as _;

use store_core::rights::Right;

use super::{folder_of, principal};
use crate::protocol::command::Qresync;
use crate::protocol::response::Completion;
use crate::protocol::sequence::{compact_ranges, SequenceSet};
use crate::session::error::CommandResult;
use crate::session::mailbox::SelectedMailbox;
use crate::session::Session;

/// Runs SELECT (`read_only` false) or EXAMINE, with the CONDSTORE and
/// QRESYNC parameters.
pub async fn execute(
    session: &mut Session,
    name: &str,
    read_only: bool,
    condstore: bool,
    qresync: Option<&Qresync>,
) -> CommandResult {
    if qresync.is_some() && !session.enabled.qresync {
        return Ok(Completion::bad("QRESYNC parameter without ENABLE QRESYNC"));
    }
    // Leaving a mailbox ends its search contexts (RFC 5267 4.3).
    super::context::end(session);
    if session.selected.take().is_some() {
        session
            .out
            .push_str("* OK [CLOSED] Previous mailbox closed\r\n");
    }
    if condstore {
        session.enabled.condstore = true;
    }
    let principal = principal(session)?;
    let folder = folder_of(name)?;
    // The view first: a removal committed between the read below and
    // its registration would otherwise be numbered yet unreadable.
    let view = session
        .state
        .store
        .open_folder_view(&principal, &folder)
        .await?;
    let selected = session
        .state
        .store
        .select_folder(&principal, &folder)
        .await?;
    let rights = selected.rights;
    let mailbox_id = selected.folder.mailbox_id();
    let read_only = read_only
        || ![
            Right::Write,
            Right::Insert,
            Right::Expunge,
            Right::DeleteObject,
            Right::Seen,
        ]
        .iter()
        .any(|r| rights.contains(*r));
    let first_unseen = selected.first_unseen;
    let mailbox = SelectedMailbox::new(&session.state, folder, selected, view, read_only).await?;

    let rev2 = session.enabled.imap4rev2;
    let out = &mut session.out;
    mailbox.write_flags_line(out);
    let _ = write!(out, "* {} EXISTS\r\n", mailbox.exists());
    // RFC 9051 appendix E item 6: IMAP4rev2 has no RECENT.
    if !rev2 {
        let _ = write!(out, "* {} RECENT\r\n", mailbox.recent());
    }
    if let Some(seq) = first_unseen.and_then(|u| mailbox.seq_of(u)) {
        let _ = write!(out, "* OK [UNSEEN {seq}] First unseen\r\n");
    }
    let _ = write!(
        out,
        "* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] Predicted next UID\r\n",
        mailbox.uid_validity, mailbox.uid_next
    );
    mailbox.write_permanent_flags(out);
    let _ = write!(
        out,
        "* OK [HIGHESTMODSEQ {}] Highest\r\n* OK [ANNOTATIONS {}] Annotations\r\n",
        mailbox.highest_modseq(),
        store_core::MAX_METADATA_VALUE
    );
    let _ = write!(out, "* OK [MAILBOXID ({mailbox_id})] Ok\r\n");
    if let Some(q) = qresync.filter(|q| q.uid_validity == mailbox.uid_validity) {
        resync(session, &principal, &mailbox, q).await?;
    }
    session.selected = Some(mailbox);
    Ok(if read_only {
        Completion::ok("EXAMINE completed").with_code("READ-ONLY")
    } else {
        Completion::ok("SELECT completed").with_code("READ-WRITE")
    })
}

/// The QRESYNC answer (RFC 7162 3.2.5.2): expunged UIDs the client knew
/// (`* VANISHED (EARLIER)`), then every message changed since its MODSEQ.
/// When the MODSEQ is older than what the store still remembers of
/// removals ([`store_core::FolderChanges::complete`] false), the UIDs
/// the client knows (or `1:UIDNEXT-1`) that are not in the mailbox are
/// reported instead: a superset of those expunged since, which RFC 7162
/// 3.2.5.2 allows ("the server MAY ... send VANISHED for UIDs that were
/// expunged before the client's MODSEQ"). The optional sequence match
/// data is parsed and not used: it only lets a server without the UIDs
/// at hand narrow that set (a MAY of 3.2.5.2), and the mailbox's UIDs
/// are always at hand here, so the answer costs the client's known
/// ranges whatever the history.
async fn resync(
    session: &mut Session,
    principal: &store_core::Principal,
    mailbox: &SelectedMailbox,
    q: &Qresync,
) -> Result<(), crate::session::error::CommandError> {
    let changes = session
        .state
        .store
        .mail_changes_since(principal, &mailbox.folder, q.modseq)
        .await?;
    let highest_uid = mailbox.uid_next.saturating_sub(1);
    let vanished: Vec<(u32, u32)> = match changes.complete {
        // A UID the view still holds (removed after the mailbox was read)
        // is not named here: the client is told with its own VANISHED
        // when the session synchronizes (RFC 7162 3.2.10).
        true => changes
            .vanished
            .into_iter()
            .filter(|&u| {
                !mailbox.uids().contains(u)
                    && q.known_uids
                        .as_ref()
                        .is_none_or(|set| set.contains(u, highest_uid))
            })
            .map(|u| (u, u))
            .collect(),
        false => vanished_earlier(mailbox, q.known_uids.as_ref()),
    };
    let enabled = session.enabled;
    let out = &mut session.out;
    if !vanished.is_empty() {
        let _ = write!(out, "* VANISHED (EARLIER) {}\r\n", compact_ranges(vanished));
    }
    // Changes committed after the snapshot SELECT read are reported with
    // the next command, from the HIGHESTMODSEQ just announced: a MODSEQ
    // above it here would tell the client it has seen every change up to
    // that one (RFC 7162 3.2), the expunges after the snapshot included.
    // In UID (so sequence) order, numbered in one pass.
    let mut changed: Vec<_> = changes
        .changed
        .into_iter()
        .filter(|o| o.modseq <= mailbox.highest_modseq())
        .collect();
    changed.sort_unstable_by_key(|o| o.uid);
    let uids: Vec<_> = changed.iter().map(|o| o.uid).collect();
    let seqs = mailbox.uids().seqs_of_ascending(&uids);
    for (object, seq) in changed.into_iter().zip(seqs) {
        let Some(seq) = seq else {
            continue;
        };
        let _ = write!(
            out,
            "* {seq} FETCH (UID {} FLAGS {} MODSEQ ({}))\r\n",
            object.uid,
            mailbox.flags_of(object.uid, &object.flags, enabled),
            object.modseq
        );
    }
    Ok(())
}

/// The UIDs of `known` (or of `1:UIDNEXT-1` when the client gave none)
/// that the mailbox does not hold, as ascending inclusive ranges: RFC
/// 7162 3.2.5.2's answer when the removals since the client's MODSEQ are
/// no longer all known. UIDs at or above UIDNEXT were never given and are
/// left out. Costs O(ranges of `known` + messages within them), never
/// O(UIDNEXT).
pub(crate) fn vanished_earlier(
    mailbox: &SelectedMailbox,
    known: Option<&SequenceSet>,
) -> Vec<(u32, u32)> {
    let highest = mailbox.uid_next.saturating_sub(1);
    if highest == 0 {
        return Vec::new();
    }
    let ranges: Vec<(u32, u32)> = match known {
        Some(set) => set
            .ranges(highest)
            .into_iter()
            .filter(|&(a, _)| a <= highest)
            .map(|(a, b)| (a, b.min(highest)))
            .collect(),
        None => vec![(1, highest)],
    };
    mailbox.uids().absent_within(&ranges)
}
