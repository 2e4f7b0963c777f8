//! The folder as IMAP shows it: every object except those hidden from
//! mail, the macOS metadata files while `[webdav] macos_metadata` hides
//! them ([`crate::macos`]). Hidden objects keep their UIDs (a UID gap is
//! legal, RFC 3501 2.3.1.1) and are simply never part of an IMAP view:
//! SELECT/EXAMINE ([`Store::select_folder`]), the changes a session
//! synchronizes with ([`Store::mail_changes_since`]: EXISTS, FETCH,
//! QRESYNC), SEARCH/SORT/THREAD ([`Store::search`]) and STATUS / LIST-STATUS
//! / NOTIFY counts ([`Store::mail_status`]). So no sequence number is ever
//! given to one, and EXISTS always matches the messages a client can
//! fetch. WebDAV sees every object.
//!
//! Hidden-ness follows from the object's file name, which never changes
//! while the object exists (a rename is a new object with a new UID), so a
//! session's view stays consistent with the store's.

use super::folders::FolderRef;
use super::sync::FolderChanges;
use super::{resolve, Store};
use crate::error::Result;
use crate::keys;
use crate::macos::{is_macos_metadata, MacosMetadata, APPLE_DOUBLE_PREFIX, DS_STORE};
use crate::model::{Folder, FolderId, ModSeq, Object, Principal, Uid};
use crate::rights::Rights;
use crate::writer::Reader;

impl Store {
    /// What the store does with macOS metadata files (the
    /// `macos_metadata` setting of [`super::StoreConfig`]).
    pub fn macos_metadata(&self) -> MacosMetadata {
        self.inner.config.macos_metadata
    }

    /// Whether `object` is left out of IMAP views: a macOS metadata file
    /// ([`is_macos_metadata`] of its file name) while the setting hides
    /// them.
    pub fn hidden_from_mail(&self, object: &Object) -> bool {
        self.macos_metadata().hides() && object.file_name.as_deref().is_some_and(is_macos_metadata)
    }

    /// A folder's state as IMAP STATUS reports it (also LIST-STATUS and
    /// NOTIFY): [`Store::folder_status`] with the objects hidden from mail
    /// taken out of the message count, the unseen count and the size. The
    /// cost grows with the number of hidden objects only (found through
    /// the file name index), not with the folder.
    ///
    /// Rights: `l` or `r` to see it. Errors: [`crate::StoreError::NoSuchFolder`].
    pub async fn mail_status(
        &self,
        principal: &Principal,
        folder: &FolderRef,
    ) -> Result<(Folder, Rights)> {
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        let mut f = access.folder;
        if self.macos_metadata().hides() {
            for object in hidden_objects(&snap, f.id)? {
                f.objects = f.objects.saturating_sub(1);
                f.size = f.size.saturating_sub(object.size);
                if !object.flags.contains("\\Seen") {
                    f.unseen = f.unseen.saturating_sub(1);
                }
            }
        }
        Ok((f, access.rights))
    }

    /// [`Store::changes_since`] as an IMAP session sees the folder: objects
    /// hidden from mail are left out of `changed`. (`vanished` may name a
    /// hidden object's UID: RFC 7162 3.2.10 lets VANISHED name UIDs the
    /// client never saw, and a session ignores those.)
    ///
    /// Rights: `r`.
    pub async fn mail_changes_since(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        since: ModSeq,
    ) -> Result<FolderChanges> {
        self.folder_changes(principal, folder, since, |o| !self.hidden_from_mail(o))
    }
}

/// The UIDs of folder `folder` hidden from mail while the setting hides
/// them (the objects of [`hidden_objects`]).
pub(super) fn hidden_uids<R: Reader + ?Sized>(
    r: &R,
    folder: FolderId,
) -> Result<std::collections::BTreeSet<Uid>> {
    Ok(hidden_objects(r, folder)?.iter().map(|o| o.uid).collect())
}

/// The objects of folder `folder` whose file names are macOS metadata,
/// read through the file name index (`._` prefix and `.DS_Store`).
fn hidden_objects<R: Reader + ?Sized>(r: &R, folder: FolderId) -> Result<Vec<Object>> {
    let mut uids: Vec<Uid> = r
        .load_all::<Uid>(&keys::object_name(folder, APPLE_DOUBLE_PREFIX))?
        .into_iter()
        .map(|(_, uid)| uid)
        .collect();
    uids.extend(r.load::<Uid>(&keys::object_name(folder, DS_STORE))?);
    let mut out = Vec::with_capacity(uids.len());
    for uid in uids {
        if let Some(object) = r.load::<Object>(&keys::object(folder, uid))? {
            if object.file_name.as_deref().is_some_and(is_macos_metadata) {
                out.push(object);
            }
        }
    }
    Ok(out)
}
