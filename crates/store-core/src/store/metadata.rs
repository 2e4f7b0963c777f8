//! Operations "metadata update" and "metadata fetch" (seed 002; IMAP
//! METADATA, RFC 5464; per-object annotations, seed 003 6.1.3.1; WebDAV
//! dead properties).
//!
//! Entry names start with `/private/` (one value per principal) or
//! `/shared/` (one value for everyone who may see the target).

use super::locks::{check_write, Touch, TouchKind};
use super::{next_modseq, resolve, Store};
use crate::error::{MetadataLimit, Result, StoreError};
use crate::keys;
use crate::model::{Change, ChangeKind, Folder, Object, Principal, Uid};
use crate::rights::Right;
use crate::writer::{Reader, Txn};

use super::folders::FolderRef;

/// Largest value of one entry, in bytes (RFC 5464 MAXSIZE is advertised
/// from this).
pub const MAX_METADATA_VALUE: usize = 64 * 1024;
/// Most entries on one target.
pub const MAX_METADATA_ENTRIES: usize = 256;
const MAX_ENTRY_NAME: usize = 1024;

/// What metadata is attached to.
#[derive(Debug, Clone)]
pub enum MetadataTarget {
    /// The server (RFC 5464 server annotations).
    Server,
    /// A folder.
    Folder(FolderRef),
    /// An object of a folder, by UID.
    Object(FolderRef, Uid),
}

/// Checks an entry name (or, for fetches, the bare `/private` or `/shared`
/// prefix) and says whether it is private.
pub(super) fn check_entry(name: &str) -> Result<bool> {
    let private = name == "/private" || name.starts_with("/private/");
    if !(private || name == "/shared" || name.starts_with("/shared/"))
        || name.len() > MAX_ENTRY_NAME
        || name.ends_with('/')
        || name.contains("//")
        || name.chars().any(|c| c.is_control() || c == '*' || c == '%')
    {
        return Err(StoreError::InvalidArgument(format!(
            "bad metadata entry name {name:?}"
        )));
    }
    Ok(private)
}

/// The (folder id, uid) a target's entries are kept under, and the
/// account whose change feed hears of them (the folder's owner; the
/// principal's own for the server), after the rights check. Private
/// entries are scoped to the principal, shared ones to account 0.
fn locate<R: Reader + ?Sized>(
    r: &R,
    principal: &Principal,
    target: &MetadataTarget,
    write: bool,
) -> Result<(u64, Uid, u64)> {
    match target {
        MetadataTarget::Server => Ok((0, 0, principal.account)),
        MetadataTarget::Folder(f) | MetadataTarget::Object(f, _) => {
            let access = resolve(r, principal, f)?;
            access.require(if write { Right::Write } else { Right::Read })?;
            let uid = match target {
                MetadataTarget::Object(_, uid) => {
                    if r.get_raw(&keys::object(access.folder.id, *uid))?.is_none() {
                        return Err(StoreError::NoSuchObject);
                    }
                    *uid
                }
                _ => 0,
            };
            Ok((access.folder.id, uid, access.folder.owner))
        }
    }
}

/// Gives object `uid` of folder `folder` (of account `owner`) a new
/// MODSEQ because one of its annotations changed: RFC 7162 3.1 counts
/// annotations (RFC 5257) among the metadata whose every change raises
/// the message's mod-sequence, so a CONDSTORE client's `FETCH
/// (CHANGEDSINCE m)` and QRESYNC see it, and open sessions are told with
/// a FETCH of its MODSEQ. The change is in the owner's feed, whoever made
/// it, as for a flag.
fn annotation_changed(txn: &mut Txn<'_>, owner: u64, folder: u64, uid: Uid) -> Result<()> {
    let key = keys::object(folder, uid);
    let Some(mut object) = txn.load::<Object>(&key)? else {
        return Ok(());
    };
    let folder_key = keys::folder(owner, folder);
    let Some(mut f) = txn.load::<Folder>(&folder_key)? else {
        return Ok(());
    };
    let modseq = next_modseq(txn, owner)?;
    let before = object.clone();
    object.modseq = modseq;
    txn.put(key, &object)?;
    super::index::object_changed(txn, folder, Some(&before), Some(&object), modseq)?;
    f.highest_modseq = modseq;
    txn.put(folder_key, &f)?;
    txn.record_change(
        owner,
        Change {
            modseq,
            folder,
            kind: ChangeKind::FlagsChanged { uid },
        },
    )
}

/// Removes every entry of a folder and its objects (folder removal).
pub(crate) fn purge_folder_metadata(txn: &mut Txn<'_>, folder: u64) -> Result<()> {
    // Entries live under (scope, folder, ...); scan the scopes that exist.
    for (k, _) in txn.scan_raw(&[0x60])? {
        if k.get(9..17) == Some(&folder.to_be_bytes()[..]) {
            txn.delete(k);
        }
    }
    Ok(())
}

/// Copies (or, with `remove_source`, moves) the shared entries and those
/// of the private `scopes` from object `from` to object `to`: dead
/// properties follow a WebDAV COPY/MOVE (RFC 4918 9.8.2, 9.9.1), and
/// annotations an IMAP COPY (RFC 5257 3.5).
pub(crate) fn carry_object_metadata(
    txn: &mut Txn<'_>,
    scopes: &[u64],
    from: (u64, Uid),
    to: (u64, Uid),
    remove_source: bool,
) -> Result<()> {
    for &scope in std::iter::once(&0).chain(scopes) {
        let prefix = keys::metadata_all(scope, from.0, from.1);
        for (k, v) in txn.scan_raw(&prefix)? {
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            txn.put_raw(keys::metadata(scope, to.0, to.1, &name), v);
            if remove_source {
                txn.delete(k);
            }
        }
    }
    Ok(())
}

/// Removes the shared entries and those of the private `scopes` of one
/// object (object removal).
pub(crate) fn purge_object_metadata(
    txn: &mut Txn<'_>,
    scopes: &[u64],
    object: (u64, Uid),
) -> Result<()> {
    for &scope in std::iter::once(&0).chain(scopes) {
        for (k, _) in txn.scan_raw(&keys::metadata_all(scope, object.0, object.1))? {
            txn.delete(k);
        }
    }
    Ok(())
}

/// `/shared` entries of a folder or object are its WebDAV dead properties,
/// which a lock protects (RFC 4918 7): store-core's lock check
/// ([`check_write`]), for IMAP SETMETADATA and ANNOTATE as for PROPPATCH.
fn check_properties_unlocked(
    txn: &Txn<'_>,
    principal: &Principal,
    target: &MetadataTarget,
) -> Result<()> {
    let touch = match target {
        MetadataTarget::Server => return Ok(()),
        MetadataTarget::Folder(f) => {
            let folder = resolve(txn, principal, f)?.folder;
            Touch::folder(TouchKind::Resource, folder.owner, &folder.name)
        }
        MetadataTarget::Object(f, uid) => {
            let folder = resolve(txn, principal, f)?.folder;
            let Some(object) = txn.load::<Object>(&keys::object(folder.id, *uid))? else {
                return Ok(());
            };
            Touch::object(&folder, object.resource_name())
        }
    };
    check_write(txn, principal, &[touch])
}

impl Store {
    /// Operation "metadata update": sets (`Some`) or removes (`None`)
    /// entries, all or nothing.
    ///
    /// Rights: `w` on a folder or object for `/shared` entries, `r` for
    /// `/private`; the server's `/shared` entries are read-only here.
    /// Errors: [`StoreError::InvalidArgument`] for a bad name;
    /// [`StoreError::MetadataLimit`] for a value over
    /// [`MAX_METADATA_VALUE`] or more than [`MAX_METADATA_ENTRIES`];
    /// [`StoreError::Locked`] for `/shared` entries (WebDAV dead
    /// properties) of a locked folder or object.
    ///
    /// The change is recorded in the feed of the folder's owner for
    /// `/shared` entries, whoever set them (its sync tokens and IMAP
    /// NOTIFY hear of a grantee's change), and in the principal's own for
    /// `/private` ones.
    pub async fn set_metadata(
        &self,
        principal: &Principal,
        target: &MetadataTarget,
        entries: Vec<(String, Option<Vec<u8>>)>,
    ) -> Result<()> {
        for (name, value) in &entries {
            check_entry(name)?;
            if name == "/private" || name == "/shared" {
                return Err(StoreError::InvalidArgument(format!(
                    "{name} is not an entry"
                )));
            }
            if value.as_ref().is_some_and(|v| v.len() > MAX_METADATA_VALUE) {
                return Err(StoreError::MetadataLimit(MetadataLimit::ValueTooLarge {
                    max: MAX_METADATA_VALUE,
                }));
            }
        }
        let (principal, target) = (principal.clone(), target.clone());
        let shared = entries.iter().any(|(n, _)| !n.starts_with("/private"));
        self.write(move |txn| {
            if shared {
                check_properties_unlocked(txn, &principal, &target)?;
            }
            // The feed that hears of a change: a `/shared` entry's is the
            // owner's (its sync tokens, IMAP NOTIFY), whoever changed it;
            // a `/private` one's the principal's own.
            let mut changed: Vec<(u64, u64, String)> = Vec::new();
            let mut annotated: Option<(u64, u64, Uid)> = None;
            for (name, value) in entries {
                let private = check_entry(&name)?;
                if !private && matches!(target, MetadataTarget::Server) {
                    return Err(StoreError::PermissionDenied(Right::Administer));
                }
                let (folder, uid, owner) = locate(txn, &principal, &target, !private)?;
                let scope = if private { principal.account } else { 0 };
                let key = keys::metadata(scope, folder, uid, &name);
                match value {
                    Some(v) => {
                        if txn.get_raw(&key)?.is_none()
                            && txn.scan_raw(&keys::metadata_all(scope, folder, uid))?.len()
                                >= MAX_METADATA_ENTRIES
                        {
                            return Err(StoreError::MetadataLimit(MetadataLimit::TooManyEntries {
                                max: MAX_METADATA_ENTRIES,
                            }));
                        }
                        txn.put(key, &v)?;
                    }
                    None => txn.delete(key),
                }
                let feed = if private { principal.account } else { owner };
                changed.retain(|(f, _, _)| *f != feed);
                changed.push((feed, folder, name));
                if matches!(target, MetadataTarget::Object(..)) {
                    annotated = Some((owner, folder, uid));
                }
            }
            if let Some((owner, folder, uid)) = annotated {
                annotation_changed(txn, owner, folder, uid)?;
            }
            for (feed, folder, entry) in changed {
                let modseq = next_modseq(txn, feed)?;
                txn.record_change(
                    feed,
                    Change {
                        modseq,
                        folder,
                        kind: ChangeKind::MetadataChanged { entry },
                    },
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Operation "folder create" with initial `/shared` entries, in one
    /// commit (WebDAV extended MKCOL, RFC 5689 3: the collection is made
    /// with all its properties or not at all). Every entry is checked
    /// (name, size, count) before anything is written; the entries are the
    /// folder's first state, so creating it is the right they need (`k`
    /// on the parent in another account, as for [`Store::create_folder`]).
    /// A name given twice keeps its last value.
    ///
    /// Errors: those of [`Store::create_folder`];
    /// [`StoreError::InvalidArgument`] for a bad or non-`/shared` entry
    /// name; [`StoreError::MetadataLimit`] for a value over
    /// [`MAX_METADATA_VALUE`] or more than [`MAX_METADATA_ENTRIES`]
    /// distinct entries.
    pub async fn create_folder_with_metadata(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<crate::model::Folder> {
        let mut distinct = std::collections::BTreeMap::new();
        for (name, value) in entries {
            if check_entry(&name)? || name == "/shared" {
                return Err(StoreError::InvalidArgument(format!(
                    "{name} is not a /shared entry"
                )));
            }
            if value.len() > MAX_METADATA_VALUE {
                return Err(StoreError::MetadataLimit(MetadataLimit::ValueTooLarge {
                    max: MAX_METADATA_VALUE,
                }));
            }
            distinct.insert(name, value);
        }
        if distinct.len() > MAX_METADATA_ENTRIES {
            return Err(StoreError::MetadataLimit(MetadataLimit::TooManyEntries {
                max: MAX_METADATA_ENTRIES,
            }));
        }
        let name = crate::names::creatable(&folder.name)?;
        let (principal, folder) = (principal.clone(), folder.clone());
        let layout = self.folder_layout();
        self.write(move |txn| {
            let made =
                super::folders::create_folder_txn(txn, layout, &principal, &folder, &name, None)?;
            let mut last = None;
            for (entry, value) in distinct {
                txn.put(keys::metadata(0, made.id, 0, &entry), &value)?;
                last = Some(entry);
            }
            if let Some(entry) = last {
                let modseq = next_modseq(txn, made.owner)?;
                txn.record_change(
                    made.owner,
                    Change {
                        modseq,
                        folder: made.id,
                        kind: ChangeKind::MetadataChanged { entry },
                    },
                )?;
            }
            Ok(made)
        })
        .await
    }

    /// Operation "metadata fetch": the entries named, and with `depth`
    /// (RFC 5464 DEPTH: 0, 1 or `None` for infinity) those below them.
    /// Entries that do not exist are left out.
    ///
    /// Rights: `r` on a folder or object.
    pub async fn get_metadata(
        &self,
        principal: &Principal,
        target: &MetadataTarget,
        names: &[String],
        depth: Option<usize>,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let snap = self.snapshot()?;
        let (folder, uid, _) = locate(&snap, principal, target, false)?;
        let mut out = Vec::new();
        for name in names {
            let private = check_entry(name)?;
            let scope = if private { principal.account } else { 0 };
            let prefix = keys::metadata_all(scope, folder, uid);
            for (k, v) in snap.load_all::<Vec<u8>>(&keys::metadata(scope, folder, uid, name))? {
                let entry = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                let below = entry.strip_prefix(name.as_str()).unwrap_or("");
                let level = if below.is_empty() {
                    0
                } else if below.starts_with('/') {
                    below.matches('/').count()
                } else {
                    continue; // `/shared/ab` is not below `/shared/a`
                };
                if depth.is_none_or(|d| level <= d) {
                    out.push((entry, v));
                }
            }
        }
        Ok(out)
    }
}
