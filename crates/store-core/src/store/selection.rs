//! Batched reads for a selected folder (IMAP FETCH, STORE, SEARCH with
//! MODSEQ): the state or the record of many messages under one snapshot
//! and one access check, so that a FETCH of 50 messages costs one
//! snapshot and one `resolve`, not 50 of each (issue 16).
//!
//! Both reads run on the blocking pool (a `1:*` over a large folder
//! decodes many records and must not hold up the async workers). An
//! object removed since the session's view last synchronized is still
//! answered from what the removal kept for that view (RFC 3501 7.4.1,
//! RFC 2180 4.1.1; [`crate::retention`]), as
//! [`Store::fetch_object_in_view`] does for one message.

use super::folders::{FolderRef, ObjectState};
use super::{resolve, Store};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::mime::MessageSummary;
use crate::model::{Object, Principal, Uid};
use crate::retention::FolderView;
use crate::rights::Right;
use crate::writer::Reader;

/// The most UIDs one batched call reads; a caller with more splits them
/// (a FETCH of `1:*` then holds at most this many records at once).
pub const MAX_BATCH: usize = 1024;

impl Store {
    /// UID, MODSEQ and flags of each of `uids` that is an object of
    /// `folder` (or was, and is still retained for `view`), in the order
    /// of `uids`; UIDs naming nothing are left out. At most
    /// [`MAX_BATCH`] UIDs are read; the rest are ignored.
    ///
    /// Rights: `r`. Errors: [`StoreError::NoSuchFolder`],
    /// [`StoreError::PermissionDenied`].
    pub async fn object_states(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uids: &[Uid],
        view: &FolderView,
    ) -> Result<Vec<ObjectState>> {
        Ok(self
            .read_objects(principal, folder, uids, view, false)
            .await?
            .into_iter()
            .map(|(o, _)| ObjectState::from(&o))
            .collect())
    }

    /// The record and MIME summary (ENVELOPE, BODYSTRUCTURE; never the
    /// decoded body text, key 0x42) of each of `uids` that is an object of
    /// `folder` (or was, and is still retained for `view`), in the order
    /// of `uids`; UIDs naming nothing are left out. At most
    /// [`MAX_BATCH`] UIDs are read; the rest are ignored.
    ///
    /// Rights: `r`. Errors: as [`Store::object_states`].
    pub async fn fetch_objects(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uids: &[Uid],
        view: &FolderView,
    ) -> Result<Vec<(Object, MessageSummary)>> {
        self.read_objects(principal, folder, uids, view, true).await
    }

    /// The body of [`Store::object_states`] and [`Store::fetch_objects`]:
    /// one snapshot on the blocking pool, then the view's retained objects
    /// for the UIDs the snapshot no longer holds. Summaries are read only
    /// with `summaries` (else default).
    async fn read_objects(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uids: &[Uid],
        view: &FolderView,
        summaries: bool,
    ) -> Result<Vec<(Object, MessageSummary)>> {
        let uids: Vec<Uid> = uids.iter().copied().take(MAX_BATCH).collect();
        let (store, principal, folder) = (self.clone(), principal.clone(), folder.clone());
        let found = tokio::task::spawn_blocking(move || {
            let snap = store.snapshot()?;
            let access = resolve(&snap, &principal, &folder)?;
            access.require(Right::Read)?;
            let id = access.folder.id;
            let mut out = Vec::with_capacity(uids.len());
            for uid in uids {
                let object: Option<Object> = snap.load(&keys::object(id, uid))?;
                let summary = match (&object, summaries) {
                    (Some(o), true) => snap.load(&keys::blob_summary(&o.blob))?.unwrap_or_default(),
                    _ => MessageSummary::default(),
                };
                out.push((uid, object.map(|o| (o, summary))));
            }
            Ok::<_, StoreError>(out)
        })
        .await
        .map_err(|e| StoreError::Corrupt(e.to_string()))??;
        let mut out = Vec::with_capacity(found.len());
        let mut retained_snap = None;
        for (uid, record) in found {
            if let Some(record) = record {
                out.push(record);
                continue;
            }
            let Some(object) = self.inner.retention.get(view, uid) else {
                continue;
            };
            let summary = match summaries {
                true => {
                    let snap = match &mut retained_snap {
                        Some(s) => s,
                        None => retained_snap.insert(self.snapshot()?),
                    };
                    snap.load(&keys::blob_summary(&object.blob))?
                        .unwrap_or_default()
                }
                false => MessageSummary::default(),
            };
            out.push((object, summary));
        }
        Ok(out)
    }
}
