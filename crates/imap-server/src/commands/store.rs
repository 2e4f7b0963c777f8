//! STORE (RFC 3501 6.4.6) and UID STORE: FLAGS, +FLAGS, -FLAGS and their
//! .SILENT forms. Without .SILENT every message of the set is answered
//! with its flags (and its UID for UID STORE).
//!
//! CONDSTORE (RFC 7162 3.1.3): UNCHANGEDSINCE stores only on messages
//! whose MODSEQ is not above it; the others are listed in the tagged
//! `[MODIFIED ...]` (sequence numbers, or UIDs for UID STORE). Once
//! CONDSTORE is enabled, each FETCH carries the new MODSEQ, and messages
//! whose flags changed are reported even with .SILENT; once QRESYNC is,
//! each carries the UID too (RFC 7162 3.2.4).
//!
//! Messages expunged by another session and not yet reported are left
//! alone, without a FETCH, and the STORE still succeeds for the others
//! (RFC 2180 4.2.1 and 4.2.3; Dovecot does the same): the client learns
//! of the expunge at its next command that allows it.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use store_core::model::{Flags, ModSeq, Uid};
use store_core::{FlagUpdate, FlagUpdateRequest, FlagUpdateResult};

use super::append::checked_flags;
use super::principal;
use crate::protocol::command::{Command, StoreMode};
use crate::protocol::response::Completion;
use crate::protocol::sequence::{compact, SequenceSet};
use crate::session::error::CommandResult;
use crate::session::Session;

/// A STORE command's arguments.
pub struct StoreRequest<'a> {
    /// The messages.
    pub set: &'a SequenceSet,
    /// UNCHANGEDSINCE (RFC 7162 3.1.3).
    pub unchanged_since: Option<u64>,
    /// Replace, add or remove.
    pub mode: StoreMode,
    /// `.SILENT`.
    pub silent: bool,
    /// The flags.
    pub flags: &'a [String],
    /// UID STORE.
    pub uid: bool,
}

impl<'a> StoreRequest<'a> {
    /// The arguments of `command`, if it is a STORE or UID STORE.
    pub fn of(command: &'a Command) -> Option<StoreRequest<'a>> {
        match command {
            Command::Store {
                set,
                unchanged_since,
                mode,
                silent,
                flags,
                uid,
            } => Some(StoreRequest {
                set,
                unchanged_since: *unchanged_since,
                mode: *mode,
                silent: *silent,
                flags,
                uid: *uid,
            }),
            _ => None,
        }
    }
}

/// A STORE checked against the session and its set resolved: what
/// [`answer`] needs once the update has run.
pub struct PreparedStore {
    /// The messages the set names, as (sequence number, UID).
    targets: Vec<(u32, Uid)>,
    /// `.SILENT`.
    silent: bool,
    /// UID STORE.
    uid: bool,
}

/// Checks a STORE's flags and the selected mailbox, and resolves its set
/// against the session's view: the STORE to answer, and the flag update
/// to run for it (the targets not expunged elsewhere). An UNCHANGEDSINCE
/// enables CONDSTORE (RFC 7162 3.1).
///
/// Errors: the completion to answer with: BAD without a selected
/// mailbox or for a flag that cannot be set, NO `[READ-ONLY]` after
/// EXAMINE.
pub fn prepare(
    session: &mut Session,
    request: StoreRequest<'_>,
) -> Result<(PreparedStore, FlagUpdateRequest), Completion> {
    let flags = checked_flags(request.flags)?;
    let unchanged_since = request.unchanged_since;
    if unchanged_since.is_some() {
        // A CONDSTORE enabling command (RFC 7162 3.1).
        super::enable_condstore(session);
    }
    let Some(mailbox) = session.selected.as_ref() else {
        return Err(Completion::bad("No mailbox selected"));
    };
    if mailbox.read_only {
        return Err(Completion::no("Mailbox is read-only").with_code("READ-ONLY"));
    }
    let (silent, uid) = (request.silent, request.uid);
    let targets = mailbox.resolve(request.set, uid);
    let uids: Vec<Uid> = targets
        .iter()
        .map(|&(_, u)| u)
        .filter(|&u| !mailbox.is_expunged(u))
        .collect();
    let update = match request.mode {
        StoreMode::Replace => FlagUpdate::Replace(flags),
        StoreMode::Add => FlagUpdate::Add(flags),
        StoreMode::Remove => FlagUpdate::Remove(flags),
    };
    let update = FlagUpdateRequest {
        uids,
        update,
        unchanged_since,
        // Without .SILENT every message is answered with its flags as
        // this update left them, read in its own transaction.
        report_unchanged: !silent,
    };
    Ok((
        PreparedStore {
            targets,
            silent,
            uid,
        },
        update,
    ))
}

/// Runs STORE or UID STORE.
pub async fn execute(session: &mut Session, request: StoreRequest<'_>) -> CommandResult {
    let principal = principal(session)?;
    let (prepared, update) = match prepare(session, request) {
        Ok(p) => p,
        Err(c) => return Ok(c),
    };
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    let outcome = session
        .state
        .store
        .update_flags_in_order(&principal, &mailbox.folder, vec![update])
        .await
        .pop()
        .unwrap_or(Err(store_core::StoreError::Closed));
    answer(session, prepared, outcome)
}

/// Answers a STORE from the outcome of its update: the untagged FETCHes
/// go to the session's output, the completion is returned.
///
/// Errors: the store's error, as the completion to answer with.
pub fn answer(
    session: &mut Session,
    prepared: PreparedStore,
    outcome: store_core::Result<FlagUpdateResult>,
) -> CommandResult {
    let result = outcome?;
    let PreparedStore {
        targets,
        silent,
        uid,
    } = prepared;
    let condstore = session.enabled.condstore;
    let qresync = session.enabled.qresync;
    let enabled = session.enabled;
    let Some(mailbox) = session.selected.as_mut() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    // Sets: one lookup per target, not a scan (STORE 1:* on a large
    // mailbox would otherwise cost targets x changes).
    let changed: HashSet<Uid> = result.updated.iter().map(|(u, _, _)| *u).collect();
    let modified: HashSet<Uid> = result.modified.iter().copied().collect();
    mailbox.announce_keywords(
        result
            .updated
            .iter()
            .chain(&result.unchanged)
            .map(|(_, _, f)| f),
        &mut session.out,
    );
    let mut states: HashMap<Uid, (Flags, ModSeq)> = HashMap::new();
    let known = mailbox.highest_modseq();
    for ((u, modseq, new_flags), prior) in result.updated.into_iter().zip(result.prior_modseqs) {
        // A FETCH that carries FLAGS reports the flags. After .SILENT the
        // client knows them only if it knew those the update started
        // from: no change by another session since the MODSEQ this view
        // reported up to, or the state this session itself last reported
        // (its previous STORE of a pipeline, answered before this one
        // synchronized). Otherwise the change is reported when the
        // session synchronizes, with the flags another session set
        // (RFC 3501 6.4.6).
        if !silent || prior <= known || mailbox.reported_at(u) == Some(prior) {
            mailbox.note_reported(u, modseq);
        }
        states.insert(u, (new_flags, modseq));
    }
    // The messages the STORE left as they were are reported too (RFC 3501
    // 6.4.6); .SILENT did not ask for them.
    states.extend(result.unchanged.into_iter().map(|(u, m, f)| (u, (f, m))));
    for (seq, u) in targets {
        if mailbox.is_expunged(u)
            || modified.contains(&u)
            || (silent && !(condstore && changed.contains(&u)))
        {
            continue;
        }
        let Some((flags, modseq)) = states.get(&u) else {
            continue;
        };
        let _ = write!(session.out, "* {seq} FETCH (");
        if !silent {
            let _ = write!(
                session.out,
                "FLAGS {} ",
                mailbox.flags_of(u, flags, enabled)
            );
        }
        // RFC 7162 3.2.4: with QRESYNC every untagged FETCH carries UID.
        if uid || qresync {
            let _ = write!(session.out, "UID {u} ");
        }
        if condstore {
            let _ = write!(session.out, "MODSEQ ({modseq}) ");
        }
        session.out.pop();
        session.out.push_str(")\r\n");
    }
    if !result.modified.is_empty() {
        let mut numbers: Vec<u32> = if uid {
            result.modified
        } else {
            result
                .modified
                .iter()
                .filter_map(|&u| mailbox.seq_of(u))
                .collect()
        };
        numbers.sort_unstable();
        return Ok(Completion::ok("Conditional STORE failed for some messages")
            .with_code(format!("MODIFIED {}", compact(numbers))));
    }
    Ok(Completion::ok("STORE completed"))
}
