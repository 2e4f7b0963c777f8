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

/// One object of an [`ObjectPage`].
#[derive(Debug, Clone)]
pub struct ListedObject {
    /// Its record.
    pub object: Object,
    /// Its MIME summary.
    pub summary: MessageSummary,
    /// Its object number ([`Store::locate_object`]).
    pub number: u64,
}

/// A page of a folder's objects in UID order ([`Store::objects_after`]).
#[derive(Debug, Clone, Default)]
pub struct ObjectPage {
    /// The objects, ascending by UID.
    pub objects: Vec<ListedObject>,
    /// Whether objects with higher UIDs may follow.
    pub more: bool,
}

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

    /// At most `limit` (capped at [`MAX_BATCH`]) objects of `folder` with
    /// a UID above `after`, ascending, each with its MIME summary (a page
    /// of NMS folder listings and searches, OMA NMS TS 5.1.10) with their
    /// object numbers. Objects
    /// hidden from mail ([`Store::hidden_from_mail`]) are left out. The
    /// cost is that of the page: one ranged read from `after`, never the
    /// folder.
    ///
    /// Rights: `r`. Errors: [`StoreError::NoSuchFolder`],
    /// [`StoreError::PermissionDenied`].
    pub async fn objects_after(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        after: Uid,
        limit: usize,
    ) -> Result<ObjectPage> {
        let limit = limit.clamp(1, MAX_BATCH);
        let (store, principal, folder) = (self.clone(), principal.clone(), folder.clone());
        tokio::task::spawn_blocking(move || {
            let snap = store.snapshot()?;
            let access = resolve(&snap, &principal, &folder)?;
            access.require(Right::Read)?;
            let id = access.folder.id;
            let mut page = ObjectPage::default();
            let mut start = after.checked_add(1);
            while let Some(from) = start {
                let rows =
                    snap.scan_from(&keys::objects(id), &keys::object(id, from), limit + 1)?;
                let full = rows.len() > limit;
                start = None;
                for (_, value) in rows {
                    let object: Object = crate::writer::decode(&value)?;
                    if page.objects.len() == limit {
                        page.more = true;
                        break;
                    }
                    start = object.uid.checked_add(1).filter(|_| full);
                    if store.hidden_from_mail(&object) {
                        continue;
                    }
                    let summary = snap
                        .load(&keys::blob_summary(&object.blob))?
                        .unwrap_or_default();
                    let number =
                        super::object_numbers::of(&snap, id, object.uid)?.ok_or_else(|| {
                            StoreError::Corrupt(format!("object {id}/{} has no number", object.uid))
                        })?;
                    page.objects.push(ListedObject {
                        object,
                        summary,
                        number,
                    });
                }
                if page.more {
                    break;
                }
            }
            Ok::<_, StoreError>(page)
        })
        .await
        .map_err(|e| StoreError::Corrupt(e.to_string()))?
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
