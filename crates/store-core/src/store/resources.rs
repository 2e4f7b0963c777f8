//! Objects addressed by name (WebDAV resources, RFC 4918): a folder's
//! objects listed whole, one found by its resource name, and one copied or
//! moved under a new name (WebDAV COPY / MOVE of a single resource).
//!
//! A resource name is an object's file name when it has one, else
//! `{UID}.eml` ([`Object::resource_name`]); file names are unique within a
//! folder (an index keeps them).

use super::objects::{transfer_in, Renamed};
use super::{resolve, Store, StoredObject};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::mime::{BodyPart, MessageSummary};
use crate::model::{Object, Principal, Uid};
use crate::rights::Right;
use crate::writer::Reader;

use super::folders::FolderRef;

/// Where [`Store::place_object`] puts an object.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The destination folder.
    pub folder: FolderRef,
    /// The object's file name there.
    pub name: String,
    /// An object of the destination that the new one replaces (WebDAV
    /// `Overwrite: T`); it is removed in the same transaction.
    pub replaces: Option<Uid>,
    /// Whether the source is removed (a move) or kept (a copy).
    pub remove_source: bool,
}

/// The object named `name` in folder `folder`: by file name,
/// else `{UID}.eml` for an object without one.
pub(super) fn lookup<R: Reader + ?Sized>(r: &R, folder: u64, name: &str) -> Result<Option<Object>> {
    if let Some(uid) = r.load::<Uid>(&keys::object_name(folder, name))? {
        return r.load(&keys::object(folder, uid));
    }
    let Some(uid) = name
        .strip_suffix(".eml")
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'))
        .and_then(|d| d.parse::<Uid>().ok())
    else {
        return Ok(None);
    };
    Ok(r.load::<Object>(&keys::object(folder, uid))?
        .filter(|o| o.file_name.is_none()))
}

impl Store {
    /// Every object of a folder, in UID order (WebDAV PROPFIND Depth 1).
    ///
    /// Rights: `r`. Errors: [`StoreError::NoSuchFolder`],
    /// [`StoreError::PermissionDenied`].
    pub async fn list_objects(
        &self,
        principal: &Principal,
        folder: &FolderRef,
    ) -> Result<Vec<Object>> {
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        access.require(Right::Read)?;
        Ok(snap
            .load_all::<Object>(&keys::objects(access.folder.id))?
            .into_iter()
            .map(|(_, o)| o)
            .collect())
    }

    /// Every object of a folder as a WebDAV file (PROPFIND Depth 1, RFC
    /// 4918 9.1), read in one pass on the blocking pool: one snapshot, one
    /// folder resolution, the objects in UID order, the top-level body
    /// part of each one's MIME summary (where its content lies: a media
    /// object's file is its body), and its `/shared` metadata entries
    /// named `entry` or below it (WebDAV dead properties) from a single
    /// scan of the folder's metadata, each list in entry-name order,
    /// as [`Store::get_metadata`] gives them with depth infinity.
    ///
    /// The cost is that of the folder's objects and entries, never a
    /// snapshot or resolution per object.
    ///
    /// Rights: `r`. Errors: [`StoreError::NoSuchFolder`],
    /// [`StoreError::PermissionDenied`], [`StoreError::InvalidArgument`]
    /// for an `entry` that is no `/shared` entry name.
    #[allow(clippy::type_complexity)]
    pub async fn list_files(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        entry: &str,
    ) -> Result<Vec<(Object, BodyPart, Vec<(String, Vec<u8>)>)>> {
        if super::metadata::check_entry(entry)? {
            return Err(StoreError::InvalidArgument(format!(
                "{entry} is not a /shared entry"
            )));
        }
        let (store, principal, folder, entry) = (
            self.clone(),
            principal.clone(),
            folder.clone(),
            entry.to_string(),
        );
        tokio::task::spawn_blocking(move || {
            let snap = store.snapshot()?;
            let access = resolve(&snap, &principal, &folder)?;
            access.require(Right::Read)?;
            let id = access.folder.id;
            // Every `/shared` entry of the folder and its objects: the
            // prefix of (scope 0, folder), UID next, then the name.
            let mut prefix = keys::metadata_all(0, id, 0);
            prefix.truncate(prefix.len() - std::mem::size_of::<Uid>());
            let mut entries = std::collections::HashMap::<Uid, Vec<(String, Vec<u8>)>>::new();
            for (k, v) in snap.load_all::<Vec<u8>>(&prefix)? {
                let (Some(uid), Some(name)) = (
                    k.get(prefix.len()..prefix.len() + 4)
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map(Uid::from_be_bytes),
                    k.get(prefix.len() + 4..),
                ) else {
                    continue;
                };
                let name = String::from_utf8_lossy(name);
                let below = name.strip_prefix(entry.as_str());
                if below.is_some_and(|b| b.is_empty() || b.starts_with('/')) {
                    entries.entry(uid).or_default().push((name.into_owned(), v));
                }
            }
            let mut out = Vec::new();
            for (_, object) in snap.load_all::<Object>(&keys::objects(id))? {
                let summary: MessageSummary = snap
                    .load(&keys::blob_summary(&object.blob))?
                    .unwrap_or_default();
                let metadata = entries.remove(&object.uid).unwrap_or_default();
                out.push((object, summary.body, metadata));
            }
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
    }

    /// The object whose resource name is `name`, if any.
    ///
    /// Rights: `r`. Errors: [`StoreError::NoSuchFolder`],
    /// [`StoreError::PermissionDenied`].
    pub async fn find_object(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        name: &str,
    ) -> Result<Option<Object>> {
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        access.require(Right::Read)?;
        lookup(&snap, access.folder.id, name)
    }

    /// Operation "object copy" / "object move" of one object under a new
    /// name (WebDAV COPY and MOVE of a resource, RFC 4918 9.8 and 9.9). The
    /// copy shares the blob; its flags and metadata (dead properties) go
    /// with it. Within one folder a move is a rename: the object gets a new
    /// UID, as IMAP objects are immutable. The same core as
    /// [`Store::copy_objects`] and [`Store::move_objects`].
    ///
    /// Rights: `r` on the source (and `t`, `e` to move), `i` on the
    /// destination (and `t`, `e` to replace). Errors:
    /// [`StoreError::NoSuchObject`], [`StoreError::ObjectExists`] (the name
    /// is held by an object other than `replaces`), [`StoreError::Locked`],
    /// [`StoreError::OverQuota`], and those of resolving both folders.
    pub async fn place_object(
        &self,
        principal: &Principal,
        from: &FolderRef,
        uid: Uid,
        to: &Placement,
    ) -> Result<StoredObject> {
        let (principal, from, to) = (principal.clone(), from.clone(), to.clone());
        let layout = self.folder_layout();
        self.write(move |txn| {
            let renamed = Renamed {
                name: &to.name,
                replaces: to.replaces,
            };
            let (result, modseq) = transfer_in(
                txn,
                layout,
                &principal,
                &from,
                &[uid],
                &to.folder,
                to.remove_source,
                Some(renamed),
            )?;
            let (_, new_uid) = result
                .uids
                .first()
                .copied()
                .ok_or(StoreError::NoSuchObject)?;
            Ok(StoredObject {
                uid_validity: result.uid_validity,
                uid: new_uid,
                modseq,
                existing: false,
                replaced: to.replaces.is_some(),
            })
        })
        .await
    }
}
