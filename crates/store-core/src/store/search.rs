//! Operation "search" (seed 002; IMAP SEARCH / UID SEARCH): objects
//! hidden from mail (`store/mail_view.rs`) never match.
//!
//! A planner answers what the per-folder indexes (`store::index`) can:
//! flag keys (`SEEN`, `UNSEEN`, `FLAGGED`, `DELETED`, `ANSWERED`, `DRAFT`,
//! `KEYWORD` and their `NOT`s, by complement against the mail rows), `ALL`,
//! `UID` sets, `MODSEQ` (the change index), and `AND`/`OR`/`NOT` of these,
//! without reading an object record. In an `AND` whose other keys need the
//! records, the indexed keys narrow the candidates first; the records are
//! then read for the candidates only, and their summaries (0x41) and body
//! texts (0x42) only when a key needs them.

use std::collections::BTreeSet;

use super::index::{self, ROW_MACOS_NAME};
use super::{resolve, Store};
use crate::error::Result;
use crate::keys;
use crate::mime::MessageSummary;
use crate::model::{FolderId, Object, Principal, Uid};
use crate::rights::Right;
use crate::search::SearchKey;
use crate::sort::SortInfo;
use crate::writer::Reader;

use super::folders::FolderRef;

impl Store {
    /// The UIDs of the folder's objects that match `key`, ascending.
    ///
    /// Rights: `r`.
    pub async fn search(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        key: &SearchKey,
    ) -> Result<Vec<Uid>> {
        self.scan(principal, folder, key, Some(|uid| uid), |o, _| o.uid)
            .await
    }

    /// The sort and threading data ([`SortInfo`], RFC 5256) of the
    /// folder's objects that match `key`, in UID order. Read from the
    /// stored summaries only: no message body is loaded (unless `key`
    /// itself searches BODY or TEXT).
    ///
    /// Rights: `r`.
    pub async fn search_sort_info(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        key: &SearchKey,
    ) -> Result<Vec<SortInfo>> {
        self.scan(principal, folder, key, None, SortInfo::new).await
    }

    /// What `extract` makes of each object of the folder that matches
    /// `key`, in UID order, read in the same pass as the search (the NMS
    /// search's sort keys and exact date filters, OMA NMS TS 6.7). The
    /// summary holds the envelope and structure, never the body text.
    ///
    /// Rights: `r`.
    pub async fn search_extract<T: Send + 'static>(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        key: &SearchKey,
        extract: impl Fn(&Object, &MessageSummary) -> T + Send + 'static,
    ) -> Result<Vec<T>> {
        self.scan(principal, folder, key, None, extract).await
    }

    /// The sort data of those of `uids` that are objects of the folder
    /// and match `key`, in the order of `uids`: a cost that grows with
    /// `uids`, not with the folder (for keeping a live result up to date
    /// with the messages that changed, RFC 5267 4).
    ///
    /// Rights: `r`.
    pub async fn search_sort_info_among(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uids: &[Uid],
        key: &SearchKey,
    ) -> Result<Vec<SortInfo>> {
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        access.require(Right::Read)?;
        let mut out = Vec::new();
        for &uid in uids {
            let object: Option<Object> = snap.load(&keys::object(access.folder.id, uid))?;
            if let Some(object) = object.filter(|o| !self.hidden_from_mail(o)) {
                if let Some(summary) = matching_summary(&snap, &object, key, true)? {
                    out.push(SortInfo::new(&object, &summary));
                }
            }
        }
        Ok(out)
    }

    /// `extract` of every object of the folder that matches `key`, in UID
    /// order. With `by_uid` (what `extract` gives, from the UID alone),
    /// `extract` is given an empty summary unless `key` reads it, and a
    /// key the indexes answer reads no record at all; without, every
    /// match's summary is read. Runs on the blocking pool, so a large
    /// folder does not hold up the async workers.
    async fn scan<T: Send + 'static>(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        key: &SearchKey,
        by_uid: Option<fn(Uid) -> T>,
        extract: impl Fn(&Object, &MessageSummary) -> T + Send + 'static,
    ) -> Result<Vec<T>> {
        let (principal, folder, key) = (principal.clone(), folder.clone(), key.clone());
        self.scan_blocking(move |store| {
            let snap = store.snapshot()?;
            let access = resolve(&snap, &principal, &folder)?;
            access.require(Right::Read)?;
            let plan = Planner::new(store, &snap, access.folder.id)?;
            let (candidates, residual) = plan.narrow(&key)?;
            if let (Some(uids), SearchKey::All, Some(by_uid)) = (&candidates, &residual, by_uid) {
                return Ok(uids.iter().map(|u| by_uid(*u)).collect());
            }
            let needs_summary = by_uid.is_none() || residual.needs_summary();
            let mut out = Vec::new();
            let mut visit = |object: Object| -> Result<()> {
                if store.hidden_from_mail(&object) {
                    return Ok(());
                }
                if let Some(s) = matching_summary(&snap, &object, &residual, needs_summary)? {
                    out.push(extract(&object, &s));
                }
                Ok(())
            };
            match candidates {
                Some(uids) => {
                    for uid in uids {
                        if let Some(o) =
                            snap.load::<Object>(&keys::object(access.folder.id, uid))?
                        {
                            visit(o)?;
                        }
                    }
                }
                None => {
                    for (_, o) in snap.load_all::<Object>(&keys::objects(access.folder.id))? {
                        visit(o)?;
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}

/// What the indexes can answer of a search in one folder.
struct Planner<'a, R: Reader> {
    snap: &'a R,
    folder: FolderId,
    keywords: Vec<String>,
    /// UIDs hidden from mail (from the file name index).
    hidden: BTreeSet<Uid>,
    /// Whether hidden objects are left out (the mail rows carry the bit).
    hides: bool,
}

impl<'a, R: Reader> Planner<'a, R> {
    fn new(store: &Store, snap: &'a R, folder: FolderId) -> Result<Self> {
        let hides = store.macos_metadata().hides();
        let hidden = match hides {
            true => super::mail_view::hidden_uids(snap, folder)?,
            false => BTreeSet::new(),
        };
        Ok(Planner {
            snap,
            folder,
            keywords: super::keywords::folder_keywords(snap, folder, std::iter::empty())?,
            hidden,
            hides,
        })
    }

    /// The candidates of `key` and what is left to check on each: for a
    /// key the indexes answer, its exact set and `All`; for an `AND` with
    /// indexed members or UID ranges, their intersection and the rest;
    /// else `None` (every object) and `key` itself.
    fn narrow(&self, key: &SearchKey) -> Result<(Option<BTreeSet<Uid>>, SearchKey)> {
        if let SearchKey::And(keys) = key {
            return Ok(match self.narrow_and(keys)? {
                (Some(set), rest) if rest.is_empty() => (Some(set), SearchKey::All),
                (Some(set), rest) => (Some(set), SearchKey::And(rest)),
                (None, _) => (None, key.clone()),
            });
        }
        if let Some(set) = self.exact(key)? {
            return Ok((Some(set), SearchKey::All));
        }
        Ok((None, key.clone()))
    }

    /// An `AND` of `keys`: the intersection of the members the indexes
    /// answer, cut to the UID ranges among them, and the members left to
    /// check; `None` when no member narrows. UID ranges (IMAP adds the
    /// session's known range to every SEARCH) only filter another
    /// member's set; alone, they read the mail rows within them, so an
    /// `AND` costs its narrowest member, never the folder.
    fn narrow_and(&self, keys: &[SearchKey]) -> Result<(Option<BTreeSet<Uid>>, Vec<SearchKey>)> {
        let mut ranges: Vec<&[(Uid, Uid)]> = Vec::new();
        let mut set: Option<BTreeSet<Uid>> = None;
        let mut rest = Vec::new();
        for k in keys {
            if let SearchKey::Uid(r) = k {
                ranges.push(r);
                continue;
            }
            match self.exact(k)? {
                Some(s) => {
                    set = Some(match set {
                        Some(prev) => prev.intersection(&s).copied().collect(),
                        None => s,
                    })
                }
                None => rest.push(k.clone()),
            }
        }
        let in_all = |u: &Uid| ranges.iter().all(|r| in_ranges(r, *u));
        let set = match (set, ranges.first()) {
            (Some(s), _) => Some(s.into_iter().filter(in_all).collect()),
            (None, Some(first)) => Some(self.all_in(first)?.into_iter().filter(in_all).collect()),
            (None, None) => None,
        };
        Ok((set, rest))
    }

    /// The UIDs shown to mail within `ranges` (read from the mail rows in
    /// those ranges only).
    fn all_in(&self, ranges: &[(Uid, Uid)]) -> Result<BTreeSet<Uid>> {
        let mut out = BTreeSet::new();
        for &(a, b) in ranges {
            let (a, b) = (a.min(b), a.max(b));
            index::for_each_mail_row(self.snap, self.folder, a, b, |r| {
                if !(self.hides && r.bits & ROW_MACOS_NAME != 0) {
                    out.insert(r.uid);
                }
            })?;
        }
        Ok(out)
    }

    /// Every UID shown to mail (mail rows without the hidden bit).
    fn all(&self) -> Result<BTreeSet<Uid>> {
        self.all_in(&[(1, Uid::MAX)])
    }

    /// The UIDs with flag number `flag`, hidden ones left out.
    fn flagged(&self, flag: u16) -> Result<BTreeSet<Uid>> {
        Ok(index::flag_uids(self.snap, self.folder, flag)?
            .into_iter()
            .filter(|u| !self.hidden.contains(u))
            .collect())
    }

    /// The exact set of UIDs matching `key` if the indexes answer it.
    fn exact(&self, key: &SearchKey) -> Result<Option<BTreeSet<Uid>>> {
        Ok(Some(match key {
            SearchKey::All => self.all()?,
            SearchKey::Flag(f) if f.eq_ignore_ascii_case("\\Seen") => {
                let unseen = self.flagged(index::FLAG_UNSEEN)?;
                self.all()?.difference(&unseen).copied().collect()
            }
            SearchKey::Flag(f) => match index::flag_number(f, &self.keywords) {
                Some(n) => self.flagged(n)?,
                None => BTreeSet::new(),
            },
            SearchKey::Not(k) if matches!(&**k, SearchKey::Flag(f) if f.eq_ignore_ascii_case("\\Seen")) => {
                self.flagged(index::FLAG_UNSEEN)?
            }
            SearchKey::Uid(ranges) => self.all_in(ranges)?,
            SearchKey::ModSeq(n) => {
                index::changed_since(self.snap, self.folder, n.saturating_sub(1))?
                    .live
                    .into_iter()
                    .map(|(u, _)| u)
                    .filter(|u| !self.hidden.contains(u))
                    .collect()
            }
            SearchKey::Not(k) => match self.exact(k)? {
                Some(s) => self.all()?.difference(&s).copied().collect(),
                None => return Ok(None),
            },
            SearchKey::And(keys) if keys.is_empty() => self.all()?,
            SearchKey::And(keys) => match self.narrow_and(keys)? {
                (Some(s), rest) if rest.is_empty() => s,
                _ => return Ok(None),
            },
            SearchKey::Or(a, b) => match (self.exact(a)?, self.exact(b)?) {
                (Some(a), Some(b)) => a.union(&b).copied().collect(),
                _ => return Ok(None),
            },
            _ => return Ok(None),
        }))
    }
}

/// Whether `uid` lies in one of the inclusive `ranges`.
fn in_ranges(ranges: &[(Uid, Uid)], uid: Uid) -> bool {
    ranges
        .iter()
        .any(|&(a, b)| (a.min(b)..=a.max(b)).contains(&uid))
}

/// The stored summary of `object` (an empty one unless `load`) if it
/// matches `key`.
fn matching_summary(
    snap: &impl Reader,
    object: &Object,
    key: &SearchKey,
    load: bool,
) -> Result<Option<MessageSummary>> {
    let summary: MessageSummary = match load || key.needs_summary() {
        true => snap
            .load(&keys::blob_summary(&object.blob))?
            .unwrap_or_default(),
        false => MessageSummary::default(),
    };
    // The decoded text is as large as the message: read only for BODY and
    // TEXT, one object at a time.
    let text = match key.needs_body_text() {
        true => snap.get_raw(&keys::blob_text(&object.blob))?,
        false => None,
    };
    let text = text.as_deref().map(String::from_utf8_lossy);
    let found = key.matches(object, &summary, text.as_deref().unwrap_or_default());
    Ok(found.then_some(summary))
}
