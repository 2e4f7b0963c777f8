//! Objects addressed by name (WebDAV resources, RFC 4918): a folder's
//! objects listed whole, one found by its resource name, and one copied or
//! moved under a new name (WebDAV COPY / MOVE of a single resource).
//!
//! A resource name is an object's file name when it has one, else
//! `{UID}.eml` ([`Object::resource_name`]); file names are unique within a
//! folder (an index keeps them).

use super::metadata::carry_object_metadata;
use super::objects::{check_quota, insert_object, remove_object};
use super::{next_modseq, resolve, Store, StoredObject};
use crate::error::{Result, StoreError};
use crate::keys;
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
fn lookup<R: Reader + ?Sized>(r: &R, folder: u64, name: &str) -> Result<Option<Object>> {
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
    /// UID, as IMAP objects are immutable.
    ///
    /// Rights: `r` on the source (and `t`, `e` to move), `i` on the
    /// destination (and `t`, `e` to replace). Errors:
    /// [`StoreError::NoSuchObject`], [`StoreError::ObjectExists`] (the name
    /// is held by an object other than `replaces`),
    /// [`StoreError::OverQuota`], and those of resolving both folders.
    pub async fn place_object(
        &self,
        principal: &Principal,
        from: &FolderRef,
        uid: Uid,
        to: &Placement,
    ) -> Result<StoredObject> {
        let (principal, from, to) = (principal.clone(), from.clone(), to.clone());
        self.write(move |txn| {
            let source = resolve(txn, &principal, &from)?;
            source.require(Right::Read)?;
            if to.remove_source {
                source.require(Right::DeleteObject)?;
                source.require(Right::Expunge)?;
            }
            let dest = resolve(txn, &principal, &to.folder)?;
            dest.require(Right::Insert)?;
            let object: Object = txn
                .load(&keys::object(source.folder.id, uid))?
                .ok_or(StoreError::NoSuchObject)?;
            let same = source.folder.id == dest.folder.id;
            let replaced = match to.replaces {
                Some(r) if !(same && r == uid) => {
                    dest.require(Right::DeleteObject)?;
                    dest.require(Right::Expunge)?;
                    txn.load::<Object>(&keys::object(dest.folder.id, r))?
                }
                _ => None,
            };
            let mut dst = dest.folder;
            if let Some(holder) = lookup(txn, dst.id, &to.name)? {
                let ours = (same && holder.uid == uid)
                    || replaced.as_ref().is_some_and(|r| r.uid == holder.uid);
                if !ours {
                    return Err(StoreError::ObjectExists);
                }
            }
            if source.folder.owner != dst.owner || !to.remove_source {
                let freed = replaced.as_ref().map_or(0, |r| r.size);
                check_quota(
                    txn,
                    dst.owner,
                    object.size.saturating_sub(freed),
                    u64::from(replaced.is_none()),
                )?;
            }
            let dst_modseq = next_modseq(txn, dst.owner)?;
            let src_modseq = if source.folder.owner == dst.owner {
                dst_modseq
            } else {
                next_modseq(txn, source.folder.owner)?
            };
            let mut copy = object.clone();
            copy.uid = dst.uid_next;
            dst.uid_next = dst
                .uid_next
                .checked_add(1)
                .ok_or_else(|| StoreError::NotAllowed("the folder has used every UID".into()))?;
            copy.file_name = Some(to.name.clone());
            txn.share_blob(&copy.blob)?;
            carry_object_metadata(
                txn,
                &[principal.account],
                (source.folder.id, uid),
                (dst.id, copy.uid),
                false,
            )?;
            if let Some(old) = replaced {
                remove_object(txn, &mut dst, &old, dst_modseq)?;
            }
            let mut src = source.folder;
            if to.remove_source {
                let holder = if same { &mut dst } else { &mut src };
                remove_object(txn, holder, &object, src_modseq)?;
            }
            let new_uid = copy.uid;
            insert_object(txn, &mut dst, copy, dst_modseq)?;
            txn.put(keys::folder(dst.owner, dst.id), &dst)?;
            if to.remove_source && !same {
                src.highest_modseq = src_modseq;
                txn.put(keys::folder(src.owner, src.id), &src)?;
            }
            Ok(StoredObject {
                uid_validity: dst.uid_validity,
                uid: new_uid,
                modseq: dst_modseq,
                existing: false,
            })
        })
        .await
    }
}
