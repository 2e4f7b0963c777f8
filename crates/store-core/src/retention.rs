//! Removed objects kept readable for the sessions not yet told of their
//! removal (RFC 3501 7.4.1, RFC 2180 4.1: a session may refer to a message
//! by its sequence number until it has been sent its EXPUNGE, and
//! Dovecot answers a FETCH of it with the message).
//!
//! Every open mailbox view (an IMAP SELECT, later any protocol that keeps
//! a numbered view of a folder) registers a [`FolderView`] with the MODSEQ
//! it has synchronized to. When a commit removes objects from a folder
//! that has views behind the removal's MODSEQ, the removed records stay
//! here, in memory, and the blob's file and the keys derived from it
//! (MIME summary, body text, snippet) stay in the store, not in memory,
//! so an entry costs one record: each entry is held by the views that were
//! behind it. A view lets go of an entry once it synchronizes to the
//! removal's MODSEQ ([`FolderView::synced`]) or closes (drop); the last
//! holder gone, the blob and its keys are deleted by the writer thread
//! unless something references it again.
//!
//! Bounded: at most [`MAX_RETAINED_PER_FOLDER`] entries and
//! [`MAX_RETAINED_BYTES_PER_FOLDER`] bytes per folder; past that, the
//! oldest removals are released first and a laggard asking for them gets
//! [`crate::StoreError::NoSuchObject`] (IMAP `NO [EXPUNGEISSUED]`). Nothing
//! here is durable: after a crash or restart no view exists, and the sweep
//! at open removes blob files no record references.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::blob::BlobId;
use crate::model::{FolderId, ModSeq, Object, Uid};

/// Most removed objects one folder keeps for lagging views.
pub const MAX_RETAINED_PER_FOLDER: usize = 4096;

/// Most bytes of removed objects one folder keeps for lagging views
/// (1 GiB).
pub const MAX_RETAINED_BYTES_PER_FOLDER: u64 = 1 << 30;

/// A removed object, as a commit hands it over.
#[derive(Debug, Clone)]
pub(crate) struct Removed {
    /// The folder it was removed from.
    pub folder: FolderId,
    /// The MODSEQ of its removal.
    pub modseq: ModSeq,
    /// Its last record (its blob's summary stays in the store, not
    /// here: memory per entry is one record).
    pub object: Object,
}

struct Entry {
    removed: Removed,
    holders: BTreeSet<u64>,
}

#[derive(Default)]
struct Folder {
    /// Open views: id -> the MODSEQ each has synchronized to.
    views: HashMap<u64, ModSeq>,
    retained: BTreeMap<Uid, Entry>,
    bytes: u64,
}

#[derive(Default)]
struct State {
    next_view: u64,
    folders: HashMap<FolderId, Folder>,
    /// Retained entries per blob.
    blobs: HashMap<BlobId, usize>,
    /// Blobs no entry holds any more, for the writer to unlink if no
    /// record references them.
    released: Vec<BlobId>,
}

/// The registry of open views and of the removed objects they hold.
#[derive(Default)]
pub struct Retention {
    state: Mutex<State>,
}

/// One open view of a folder; closes (letting go of what it holds) on
/// drop.
pub struct FolderView {
    retention: Arc<Retention>,
    id: u64,
    folder: FolderId,
}

impl std::fmt::Debug for FolderView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderView")
            .field("id", &self.id)
            .field("folder", &self.folder)
            .finish()
    }
}

impl FolderView {
    /// Records that the view has synchronized to `modseq`: every removal
    /// up to it has been reported to its user, who no longer refers to
    /// those objects.
    pub fn synced(&self, modseq: ModSeq) {
        let mut state = self.retention.lock();
        let Some(folder) = state.folders.get_mut(&self.folder) else {
            return;
        };
        if let Some(at) = folder.views.get_mut(&self.id) {
            *at = (*at).max(modseq);
        }
        let id = self.id;
        let mut done = Vec::new();
        for (uid, e) in folder.retained.iter_mut() {
            if e.removed.modseq <= modseq && e.holders.remove(&id) && e.holders.is_empty() {
                done.push(*uid);
            }
        }
        state.drop_entries(self.folder, &done);
    }

    /// The folder viewed.
    pub fn folder(&self) -> FolderId {
        self.folder
    }
}

impl Drop for FolderView {
    fn drop(&mut self) {
        let mut state = self.retention.lock();
        let Some(folder) = state.folders.get_mut(&self.folder) else {
            return;
        };
        folder.views.remove(&self.id);
        let id = self.id;
        let mut done = Vec::new();
        for (uid, e) in folder.retained.iter_mut() {
            if e.holders.remove(&id) && e.holders.is_empty() {
                done.push(*uid);
            }
        }
        state.drop_entries(self.folder, &done);
        if state
            .folders
            .get(&self.folder)
            .is_some_and(|f| f.views.is_empty() && f.retained.is_empty())
        {
            state.folders.remove(&self.folder);
        }
    }
}

impl State {
    fn drop_entries(&mut self, folder: FolderId, uids: &[Uid]) {
        let Some(f) = self.folders.get_mut(&folder) else {
            return;
        };
        let mut blobs = Vec::new();
        for uid in uids {
            if let Some(e) = f.retained.remove(uid) {
                f.bytes = f.bytes.saturating_sub(e.removed.object.size);
                blobs.push(e.removed.object.blob);
            }
        }
        for blob in blobs {
            if let Some(n) = self.blobs.get_mut(&blob) {
                *n -= 1;
                if *n == 0 {
                    self.blobs.remove(&blob);
                    self.released.push(blob);
                }
            }
        }
    }
}

impl Retention {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the maps consistent; a poisoned lock is
        // still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a view of `folder` synchronized to `synced` (its
    /// HIGHESTMODSEQ as the view was read). Removals above `synced`
    /// already retained are held by it too.
    pub fn open_view(self: &Arc<Self>, folder: FolderId, synced: ModSeq) -> FolderView {
        let mut state = self.lock();
        state.next_view += 1;
        let id = state.next_view;
        let f = state.folders.entry(folder).or_default();
        f.views.insert(id, synced);
        for e in f.retained.values_mut() {
            if e.removed.modseq > synced {
                e.holders.insert(id);
            }
        }
        FolderView {
            retention: self.clone(),
            id,
            folder,
        }
    }

    /// The oldest MODSEQ an open view of `folder` has synchronized to, if
    /// it has views: the prune pass keeps every tombstone above it
    /// (`store::prune`), so a live session never loses an expunge it has
    /// not been told of.
    pub(crate) fn oldest_view(&self, folder: FolderId) -> Option<ModSeq> {
        self.lock()
            .folders
            .get(&folder)
            .and_then(|f| f.views.values().min().copied())
    }

    /// Whether `folder` has open views (a removal there may be retained).
    pub(crate) fn watches(&self, folder: FolderId) -> bool {
        self.lock().folders.contains_key(&folder)
    }

    /// Keeps each removed object that some view of its folder is behind
    /// on, held by those views; evicts the oldest over the bounds.
    pub(crate) fn retain(&self, removed: Vec<Removed>) {
        let mut state = self.lock();
        for r in removed {
            let Some(f) = state.folders.get_mut(&r.folder) else {
                continue;
            };
            let holders: BTreeSet<u64> = f
                .views
                .iter()
                .filter(|(_, &at)| at < r.modseq)
                .map(|(&id, _)| id)
                .collect();
            if holders.is_empty() {
                continue;
            }
            let (folder, uid, blob, size) = (r.folder, r.object.uid, r.object.blob, r.object.size);
            let old = f.retained.insert(
                uid,
                Entry {
                    removed: r,
                    holders,
                },
            );
            f.bytes += size;
            *state.blobs.entry(blob).or_insert(0) += 1;
            if old.is_some() {
                // A UID is removed once; keep the counts right regardless.
                tracing::warn!(folder, uid, "removed object retained twice");
            }
            state.evict(folder);
        }
    }

    /// The retained record of `uid` in the view's folder, if the view
    /// holds it (it has not synchronized past its removal).
    pub(crate) fn get(&self, view: &FolderView, uid: Uid) -> Option<Object> {
        let state = self.lock();
        let e = state.folders.get(&view.folder)?.retained.get(&uid)?;
        e.holders
            .contains(&view.id)
            .then(|| e.removed.object.clone())
    }

    /// Hands `blob`, released by a commit while its keys were kept for a
    /// removal, to the writer's next [`Retention::take_released`] (which
    /// deletes its keys and file once no entry holds it).
    pub(crate) fn release_kept(&self, blob: BlobId) {
        self.lock().released.push(blob);
    }

    /// Whether a retained entry still needs `blob`'s file.
    pub(crate) fn holds_blob(&self, blob: &BlobId) -> bool {
        self.lock().blobs.contains_key(blob)
    }

    /// Blobs no entry holds any more since the last call (the writer
    /// unlinks those no record references).
    pub(crate) fn take_released(&self) -> Vec<BlobId> {
        std::mem::take(&mut self.lock().released)
    }

    /// How many removed objects `folder` retains (tests, metrics).
    pub fn retained(&self, folder: FolderId) -> usize {
        self.lock()
            .folders
            .get(&folder)
            .map_or(0, |f| f.retained.len())
    }
}

impl State {
    /// Releases the oldest removals of `folder` while it is over a bound.
    fn evict(&mut self, folder: FolderId) {
        loop {
            let Some(f) = self.folders.get(&folder) else {
                return;
            };
            if f.retained.len() <= MAX_RETAINED_PER_FOLDER
                && f.bytes <= MAX_RETAINED_BYTES_PER_FOLDER
            {
                return;
            }
            let Some(oldest) = f
                .retained
                .iter()
                .min_by_key(|(u, e)| (e.removed.modseq, **u))
                .map(|(u, _)| *u)
            else {
                return;
            };
            self.drop_entries(folder, &[oldest]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Object;

    fn removed(folder: FolderId, uid: Uid, modseq: ModSeq, blob: u8) -> Removed {
        Removed {
            folder,
            modseq,
            object: Object {
                uid,
                size: 10,
                blob: BlobId([blob; 32]),
                ..Object::default()
            },
        }
    }

    #[test]
    fn removal_waits_for_every_view_behind_it() {
        let r = Arc::new(Retention::default());
        let a = r.open_view(1, 5);
        let b = r.open_view(1, 5);
        r.retain(vec![removed(1, 3, 6, 7)]);
        assert!(r.holds_blob(&BlobId([7; 32])));
        assert!(r.get(&a, 3).is_some() && r.get(&b, 3).is_some());
        // A view that synchronized past the removal lets go; the other
        // still reads it.
        a.synced(6);
        assert!(r.get(&a, 3).is_none());
        assert!(r.get(&b, 3).is_some());
        assert!(r.take_released().is_empty());
        // The last holder closes: the blob is released.
        drop(b);
        assert!(!r.holds_blob(&BlobId([7; 32])));
        assert_eq!(r.take_released(), vec![BlobId([7; 32])]);
        assert_eq!(r.retained(1), 0);
    }

    #[test]
    fn nothing_is_retained_without_a_view_behind() {
        let r = Arc::new(Retention::default());
        r.retain(vec![removed(1, 3, 6, 7)]);
        let a = r.open_view(2, 0);
        r.retain(vec![removed(1, 4, 7, 8)]);
        let c = r.open_view(1, 9);
        r.retain(vec![removed(1, 5, 8, 9)]);
        assert_eq!(r.retained(1), 0);
        assert!(r.get(&a, 3).is_none() && r.get(&c, 5).is_none());
    }

    #[test]
    fn a_shared_blob_is_released_with_its_last_entry() {
        let r = Arc::new(Retention::default());
        let a = r.open_view(1, 0);
        r.retain(vec![removed(1, 1, 2, 7), removed(1, 2, 3, 7)]);
        a.synced(2);
        assert!(r.holds_blob(&BlobId([7; 32])));
        a.synced(3);
        assert_eq!(r.take_released(), vec![BlobId([7; 32])]);
    }

    #[test]
    fn a_laggard_pins_a_bounded_number() {
        let r = Arc::new(Retention::default());
        let a = r.open_view(1, 0);
        let n = MAX_RETAINED_PER_FOLDER as u32 + 10;
        r.retain(
            (1..=n)
                .map(|u| removed(1, u, u as u64, (u % 200) as u8))
                .collect(),
        );
        assert_eq!(r.retained(1), MAX_RETAINED_PER_FOLDER);
        // The oldest went first.
        assert!(r.get(&a, 1).is_none());
        assert!(r.get(&a, n).is_some());
    }
}
