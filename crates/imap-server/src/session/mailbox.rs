//! The selected mailbox as one session sees it: its messages in sequence
//! order (a [`UidMap`] of UIDs, and the `\Recent` ones), and how changes
//! made by other sessions reach this one as untagged EXISTS, EXPUNGE and
//! FETCH responses.
//!
//! No flags or MODSEQs are held per message (issue 16: a session selected
//! on 100k messages holds a few KB, not MBs): FETCH, STORE and SEARCH read
//! them from the store, batched. Synchronizing costs the changes since
//! the MODSEQ the view reflects, never a walk of the whole mailbox.
//!
//! RFC 3501 7.4.1 forbids EXPUNGE while FETCH, STORE or SEARCH run (their
//! sequence numbers would shift under the client); expunges seen then wait
//! in `pending_expunges` and keep their sequence numbers until a command
//! that may report them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use store_core::model::{Flags, SYSTEM_FLAGS};
use store_core::model::{FolderId, ModSeq, Uid};
use store_core::retention::FolderView;
use store_core::{FolderRef, Principal, SelectedFolder, StoreError};

use crate::protocol::response;
use crate::protocol::sequence::{compact, SequenceSet};
use crate::session::state::ServerState;
use crate::session::uidmap::UidMap;

/// The extensions a client enabled that change what the server says
/// unasked (RFC 5161 ENABLE; RFC 7162 3.1 "CONDSTORE enabling commands").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enabled {
    /// IMAP4rev2 (RFC 9051 appendix E): no RECENT responses.
    pub imap4rev2: bool,
    /// CONDSTORE: unsolicited FETCH responses carry MODSEQ.
    pub condstore: bool,
    /// QRESYNC: expunges are reported as VANISHED, unsolicited FETCH
    /// responses carry UID.
    pub qresync: bool,
    /// UTF8=ACCEPT (RFC 6855 3): strings may carry raw UTF-8.
    pub utf8_accept: bool,
}

/// The selected mailbox of a session.
#[derive(Debug)]
pub struct SelectedMailbox {
    /// The folder.
    pub folder: FolderRef,
    /// Its store id (for `\Recent`).
    pub folder_id: FolderId,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// UIDNEXT when last synchronized.
    pub uid_next: Uid,
    /// EXAMINE, or no right to change anything.
    pub read_only: bool,
    /// The messages in sequence order (their UIDs).
    uids: UidMap,
    /// The messages `\Recent` in this session (claimed by it, or, in a
    /// read-only view, claimed by no session yet): a subset of `uids`.
    recent: UidMap,
    /// The folder's HIGHESTMODSEQ this view reflects.
    known_modseq: ModSeq,
    /// UIDs expunged by others, not yet reported.
    pending_expunges: BTreeSet<Uid>,
    /// While `pending_expunges` is not empty: the HIGHESTMODSEQ this view
    /// reflected when the first of them was found, below the MODSEQ of
    /// each of their removals (those are above it, as the changes since
    /// it). The highest MODSEQ a client may be told while they are held
    /// back (RFC 7162 3.2.10; see [`SelectedMailbox::held_back_modseq`]).
    pending_floor: ModSeq,
    /// The MODSEQ of each message whose flags this session itself
    /// reported (its STORE, the `\Seen` a FETCH set) since it last
    /// synchronized: not reported again when the change comes back from
    /// the store. Emptied at each synchronization.
    reported: HashMap<Uid, ModSeq>,
    /// This view in store-core's registry: messages expunged by others
    /// stay readable until it is told (synchronized past their removal
    /// with nothing pending) or dropped.
    view: FolderView,
    /// The flags and keywords last announced in `* FLAGS` (RFC 3501
    /// 7.2.6): the system flags and the folder's keyword list
    /// ([`store_core::SelectedFolder::keywords`]), keyed by their ASCII
    /// lower case (flags compare case-insensitively, RFC 3501 2.3.2).
    keywords: BTreeMap<String, String>,
    /// How many entries of the folder's keyword list (which only grows,
    /// appended to) are in `keywords`: synchronize announces the list
    /// again only when it got longer.
    folder_keywords_seen: usize,
}

impl SelectedMailbox {
    /// The view of a freshly selected folder; claims `\Recent` messages
    /// unless `read_only` (RFC 3501 6.3.2: EXAMINE does not, yet counts
    /// and shows the messages recent to no other session, which stay
    /// recent for the next SELECT, as Dovecot does). `view` is the
    /// store view opened before `selected` was read
    /// ([`store_core::Store::open_folder_view`]).
    ///
    /// Errors: the store's (claiming the recent messages).
    pub async fn new(
        state: &ServerState,
        folder: FolderRef,
        selected: SelectedFolder,
        view: FolderView,
        read_only: bool,
    ) -> Result<SelectedMailbox, StoreError> {
        let f = &selected.folder;
        let mut uids = UidMap::from_bitmap(selected.uids);
        state.uid_maps.share(f.id, f.highest_modseq, &mut uids);
        let highest = uids.last().unwrap_or(0);
        let threshold = state.store.claim_recent(f.id, highest, !read_only).await?;
        let recent = UidMap::from_uids(uids.range(threshold.saturating_add(1), Uid::MAX));
        // `view` was opened before `selected` was read (at MODSEQ 0);
        // it now reflects that read. A folder recreated in between
        // (another id) gets a view of its own.
        let view = if view.folder() == f.id {
            view.synced(f.highest_modseq);
            view
        } else {
            state.store.open_view(f.id, f.highest_modseq)
        };
        let mut keywords = BTreeMap::new();
        for k in SYSTEM_FLAGS
            .iter()
            .copied()
            .chain(selected.keywords.iter().map(String::as_str))
        {
            Self::learn(&mut keywords, k);
        }
        Ok(SelectedMailbox {
            view,
            keywords,
            folder_keywords_seen: selected.keywords.len(),
            folder,
            folder_id: f.id,
            uid_validity: f.uid_validity,
            uid_next: f.uid_next,
            read_only,
            uids,
            recent,
            known_modseq: f.highest_modseq,
            pending_expunges: BTreeSet::new(),
            pending_floor: 0,
            reported: HashMap::new(),
        })
    }

    /// The store-core view (for [`store_core::Store::fetch_objects`]).
    pub fn view(&self) -> &FolderView {
        &self.view
    }

    /// The messages' UIDs in sequence order.
    pub fn uids(&self) -> &UidMap {
        &self.uids
    }

    /// `* FLAGS` and `* OK [PERMANENTFLAGS]` as SELECT and EXAMINE send
    /// them, and as they are sent again when a keyword comes into use
    /// (RFC 3501 7.1, 7.2.6): the system flags and every keyword in use;
    /// `\*` too unless the mailbox is read-only.
    pub fn write_flags(&self, out: &mut String) {
        self.write_flags_line(out);
        self.write_permanent_flags(out);
    }

    /// The `* FLAGS` line of [`SelectedMailbox::write_flags`].
    pub fn write_flags_line(&self, out: &mut String) {
        out.push_str("* FLAGS ");
        response::flag_list(out, self.keywords.values().map(String::as_str));
        out.push_str("\r\n");
    }

    /// The `* OK [PERMANENTFLAGS ...]` line of
    /// [`SelectedMailbox::write_flags`].
    pub fn write_permanent_flags(&self, out: &mut String) {
        if self.read_only {
            out.push_str("* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n");
        } else {
            out.push_str("* OK [PERMANENTFLAGS ");
            response::flag_list(
                out,
                self.keywords.values().map(String::as_str).chain(["\\*"]),
            );
            out.push_str("] Flags permitted\r\n");
        }
    }

    /// Sends `* FLAGS` and PERMANENTFLAGS again (before the responses
    /// that use it) if `flags` hold a keyword not announced yet (RFC 3501
    /// 7.2.6), whether this session or another set it.
    pub fn announce_keywords<'a>(
        &mut self,
        flags: impl IntoIterator<Item = &'a Flags>,
        out: &mut String,
    ) {
        let mut grew = false;
        for f in flags {
            for k in f.iter() {
                grew |= Self::learn(&mut self.keywords, k);
            }
        }
        if grew {
            self.write_flags(out);
        }
    }

    /// Announces (as [`SelectedMailbox::announce_keywords`]) the keywords
    /// of the folder's list this session has not announced, when the list
    /// is longer than when last seen (it only grows). Every session thus
    /// announces the same list once synchronized, also keywords whose
    /// messages were expunged before it saw them (RFC 3501 7.2.6;
    /// `store_core` `store/keywords.rs`).
    fn announce_folder_keywords(&mut self, list: &[String], out: &mut String) {
        if list.len() == self.folder_keywords_seen {
            return;
        }
        let mut grew = false;
        for k in list {
            grew |= Self::learn(&mut self.keywords, k);
        }
        self.folder_keywords_seen = list.len();
        if grew {
            self.write_flags(out);
        }
    }

    /// Adds `flag` to `keywords` unless it is there in another case;
    /// returns whether it was added.
    fn learn(keywords: &mut BTreeMap<String, String>, flag: &str) -> bool {
        let key = flag.to_ascii_lowercase();
        if keywords.contains_key(&key) {
            return false;
        }
        keywords.insert(key, flag.to_string());
        true
    }

    /// The HIGHESTMODSEQ this view reflects (RFC 7162 3.1.2.1).
    pub fn highest_modseq(&self) -> ModSeq {
        self.known_modseq
    }

    /// While expunges made elsewhere are held back (RFC 3501 7.4.1), the
    /// HIGHESTMODSEQ a CONDSTORE client may be told: a MODSEQ below every
    /// held-back removal's, at most the lowest of them minus one (RFC 7162
    /// 3.2.10: a client that stored a higher one and reconnected would
    /// never hear of those removals). `None` when nothing is held back.
    pub fn held_back_modseq(&self) -> Option<ModSeq> {
        (!self.pending_expunges.is_empty()).then_some(self.pending_floor)
    }

    /// Number of messages (EXISTS).
    pub fn exists(&self) -> u32 {
        self.uids.len()
    }

    /// Number of `\Recent` messages.
    pub fn recent(&self) -> u32 {
        self.recent.len()
    }

    /// The `\Recent` messages' UIDs, ascending.
    pub fn recent_uids(&self) -> &UidMap {
        &self.recent
    }

    /// The sequence number of `uid`.
    pub fn seq_of(&self, uid: Uid) -> Option<u32> {
        self.uids.seq_of(uid)
    }

    /// Whether `uid` was expunged by another session and not yet reported.
    pub fn is_expunged(&self, uid: Uid) -> bool {
        self.pending_expunges.contains(&uid)
    }

    /// The UIDs expunged by other sessions and not yet reported, still
    /// numbered in this view (RFC 3501 7.4.1), ascending.
    pub fn held_back(&self) -> impl Iterator<Item = Uid> + '_ {
        self.pending_expunges.iter().copied()
    }

    /// The messages a set names, as (sequence number, UID), ascending.
    /// `uid` says whether the set holds UIDs; `*` is the largest one in
    /// use. Numbers naming no message are skipped.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<(u32, Uid)> {
        self.uids.resolve(set, uid)
    }

    /// UID ranges covering a sequence set (for SEARCH): each range of
    /// sequence numbers is a range of UIDs, since both ascend together.
    pub fn sequence_to_uid_ranges(&self, set: &SequenceSet) -> Vec<(Uid, Uid)> {
        self.uids.sequence_to_uid_ranges(set)
    }

    /// Notes that this session reported `uid`'s flags at `modseq` (its
    /// own STORE, or the `\Seen` its FETCH set), so that synchronizing
    /// does not report the same change again.
    pub fn note_reported(&mut self, uid: Uid, modseq: ModSeq) {
        if self.uids.contains(uid) {
            self.reported.insert(uid, modseq);
        }
    }

    /// The MODSEQ at which this session last reported `uid`'s flags since
    /// it synchronized ([`SelectedMailbox::note_reported`]): the client
    /// knows the flags `uid` had at that MODSEQ.
    pub fn reported_at(&self, uid: Uid) -> Option<ModSeq> {
        self.reported.get(&uid).copied()
    }

    /// Removes messages this session expunged, returning their sequence
    /// numbers in the order to report them (each number valid at the time
    /// its EXPUNGE is sent).
    pub fn remove(&mut self, uids: &[Uid]) -> Vec<u32> {
        let mut reported = Vec::new();
        for &uid in uids {
            if let Some(seq) = self.uids.remove(uid) {
                reported.push(seq);
            }
            self.recent.remove(uid);
            self.pending_expunges.remove(&uid);
            self.reported.remove(&uid);
        }
        reported
    }

    /// The FLAGS list of message `uid` with `flags` for a FETCH
    /// response: its flags, and `\\Recent` unless IMAP4rev2 is enabled
    /// (RFC 9051 appendix E item 6: IMAP4rev2 has no `\\Recent`).
    pub fn flags_of(&self, uid: Uid, flags: &Flags, enabled: Enabled) -> String {
        let mut out = String::new();
        let recent = (self.recent.contains(uid) && !enabled.imap4rev2).then_some("\\Recent");
        response::flag_list(&mut out, flags.iter().chain(recent));
        out
    }

    /// The untagged FETCH that reports a flag change to a session
    /// (`enabled` adds UID and MODSEQ, RFC 7162 3.1.4 and 3.2.4).
    fn flag_change(
        &self,
        seq: u32,
        uid: Uid,
        flags: &Flags,
        modseq: ModSeq,
        enabled: Enabled,
        out: &mut String,
    ) {
        let _ = write!(
            out,
            "* {seq} FETCH (FLAGS {}",
            self.flags_of(uid, flags, enabled)
        );
        if enabled.qresync {
            let _ = write!(out, " UID {uid}");
        }
        if enabled.condstore {
            let _ = write!(out, " MODSEQ ({modseq})");
        }
        out.push_str(")\r\n");
    }

    /// Removes `uids` (expunged) from the view and reports them: one
    /// `* VANISHED` for a QRESYNC client (RFC 7162 3.2.10), else one
    /// `* n EXPUNGE` each, highest first so that every number is valid
    /// when sent; then `* n RECENT` if that removed `\Recent` messages
    /// (RFC 3501 7.3.2: the client only learns the new count from it, and
    /// the counts all sessions last heard must add up to at most the
    /// message count, 2.3.2), except under IMAP4rev2.
    pub fn report_expunged(&mut self, uids: &[Uid], enabled: Enabled, out: &mut String) {
        let recent_before = self.recent();
        self.write_expunged(uids, enabled, out);
        self.write_recent_if_changed(recent_before, enabled, out);
    }

    /// `* n RECENT` if the count differs from `before` (not under
    /// IMAP4rev2, RFC 9051 appendix E item 6).
    fn write_recent_if_changed(&self, before: u32, enabled: Enabled, out: &mut String) {
        if self.recent() != before && !enabled.imap4rev2 {
            let _ = write!(out, "* {} RECENT\r\n", self.recent());
        }
    }

    /// The EXPUNGE or VANISHED part of [`SelectedMailbox::report_expunged`].
    fn write_expunged(&mut self, uids: &[Uid], enabled: Enabled, out: &mut String) {
        let mut uids: Vec<Uid> = uids
            .iter()
            .copied()
            .filter(|&u| self.uids.contains(u))
            .collect();
        uids.sort_unstable_by(|a, b| b.cmp(a));
        uids.dedup();
        let seqs = self.remove(&uids);
        if enabled.qresync {
            if !uids.is_empty() {
                let _ = write!(out, "* VANISHED {}\r\n", compact(uids.into_iter().rev()));
            }
            return;
        }
        for seq in seqs {
            let _ = write!(out, "* {seq} EXPUNGE\r\n");
        }
    }

    /// Brings the view up to date with the store and appends the untagged
    /// responses that say so to `out`: FETCH for flags changed elsewhere,
    /// EXISTS and RECENT for new messages, and, when `allow_expunge`,
    /// EXPUNGE (or VANISHED) for messages removed elsewhere. Costs the
    /// changes since the MODSEQ the view reflects (one folder read when
    /// nothing changed).
    ///
    /// Errors: the store's; [`StoreError::NoSuchFolder`] when the folder
    /// was deleted or renamed under the session.
    pub async fn synchronize(
        &mut self,
        state: &ServerState,
        principal: &Principal,
        allow_expunge: bool,
        enabled: Enabled,
        out: &mut String,
    ) -> Result<(), StoreError> {
        let changes = state
            .store
            .mail_changes_since(principal, &self.folder, self.known_modseq)
            .await?;
        if changes.folder.uid_validity != self.uid_validity {
            return Err(StoreError::NoSuchFolder);
        }
        if self.pending_expunges.is_empty() {
            // Removals found now have MODSEQs above the one the view
            // reflected until now.
            self.pending_floor = self.known_modseq;
        }
        if !changes.complete {
            // The view lagged past a prune: the removals since it are
            // not all known any more. The messages gone are those of the
            // view the folder no longer has.
            let present = state.store.select_folder(principal, &self.folder).await?;
            let mut gone = self.uids.clone();
            gone.remove_all(&UidMap::from_bitmap(present.uids));
            self.pending_expunges.extend(gone.iter());
        }
        self.known_modseq = changes.folder.highest_modseq;
        self.uid_next = changes.folder.uid_next;
        for uid in changes.vanished {
            if self.uids.contains(uid) {
                self.pending_expunges.insert(uid);
            }
        }
        if let Some(list) = &changes.keywords {
            self.announce_folder_keywords(list, out);
        }
        self.announce_keywords(changes.changed.iter().map(|o| &o.flags), out);
        let recent_before = self.recent();
        let highest_known = self.uids.last().unwrap_or(0);
        let mut new = Vec::new();
        let reported = std::mem::take(&mut self.reported);
        for object in changes.changed {
            if object.uid > highest_known {
                new.push(object.uid);
                continue;
            }
            let Some(seq) = self.seq_of(object.uid) else {
                continue;
            };
            // Reported by this session's own STORE or FETCH already. A
            // later change by another session has another MODSEQ and is
            // news (under CONDSTORE the client tracks MODSEQ per
            // message, RFC 7162 3.1.4.1, 3.2.4).
            if reported.get(&object.uid) == Some(&object.modseq) {
                continue;
            }
            self.flag_change(seq, object.uid, &object.flags, object.modseq, enabled, out);
        }
        if allow_expunge && !self.pending_expunges.is_empty() {
            let gone: Vec<Uid> = std::mem::take(&mut self.pending_expunges)
                .into_iter()
                .collect();
            self.write_expunged(&gone, enabled, out);
        }
        let arrived = !new.is_empty();
        if arrived {
            let highest = new.last().copied().unwrap_or(0);
            let threshold = state
                .store
                .claim_recent(self.folder_id, highest, !self.read_only)
                .await?;
            for uid in new {
                self.uids.insert(uid);
                if uid > threshold {
                    self.recent.insert(uid);
                }
            }
        }
        if self.pending_expunges.is_empty() {
            // Every removal up to here is reported: the client refers to
            // none of those messages any more. While some wait, the view
            // stays where it was, before all of them.
            self.view.synced(self.known_modseq);
            // The view is the folder as of that MODSEQ: share its map
            // with the sessions that see the same.
            if self.uids.is_unshared() {
                state
                    .uid_maps
                    .share(self.folder_id, self.known_modseq, &mut self.uids);
            }
        }
        // EXPUNGE responses already tell the client the count went down;
        // EXISTS is due when messages arrived.
        if arrived {
            let _ = write!(out, "* {} EXISTS\r\n", self.exists());
        }
        self.write_recent_if_changed(recent_before, enabled, out);
        Ok(())
    }
}
