//! Operations "set active folder", "folder create", "list folders",
//! "folder move" and "folder remove" (seed 002), and subscriptions.

use super::locks::{check_write, drop_locks_of, Touch, TouchKind};
use super::{next_modseq, resolve, Access, Store};
use crate::conversation::FolderLayout;
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{
    AccountId, Change, ChangeKind, Flags, Folder, ModSeq, Object, Principal, SpecialUse, Uid,
};
use crate::names::{ancestors, canonical, creatable, is_within};
use crate::rights::{Right, Rights};
use crate::writer::{Reader, Txn};

/// Names a folder: its owner (`None` for the principal's own account, else
/// the owner's login, for a folder shared through the ACL) and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FolderRef {
    /// The owning account's login, or `None` for the principal's own.
    pub owner: Option<String>,
    /// The folder's name, levels separated by `/`.
    pub name: String,
}

impl FolderRef {
    /// A folder of the principal's own account.
    pub fn own(name: impl Into<String>) -> FolderRef {
        FolderRef {
            owner: None,
            name: name.into(),
        }
    }

    /// A folder of another account.
    pub fn of(owner: impl Into<String>, name: impl Into<String>) -> FolderRef {
        FolderRef {
            owner: Some(owner.into()),
            name: name.into(),
        }
    }
}

/// A folder as listed for a principal.
#[derive(Debug, Clone)]
pub struct FolderInfo {
    /// The owner's login when it is not the principal.
    pub owner: Option<String>,
    /// The folder.
    pub folder: Folder,
    /// The principal's rights on it.
    pub rights: Rights,
    /// Whether the principal subscribed to it.
    pub subscribed: bool,
    /// Whether it has child folders.
    pub has_children: bool,
}

/// The per-object state a session keeps of its selected folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectState {
    /// UID.
    pub uid: Uid,
    /// MODSEQ.
    pub modseq: ModSeq,
    /// Flags and keywords.
    pub flags: Flags,
}

impl From<&Object> for ObjectState {
    fn from(o: &Object) -> ObjectState {
        ObjectState {
            uid: o.uid,
            modseq: o.modseq,
            flags: o.flags.clone(),
        }
    }
}

/// The result of "set active folder" (SELECT / EXAMINE): what a session
/// needs to number the messages, read from the folder's mail rows
/// ([`crate::MailRow`], a few bytes per message), never from the object
/// records (issue 16: a SELECT of 100k messages decodes no record).
#[derive(Debug, Clone)]
pub struct SelectedFolder {
    /// The folder's state.
    pub folder: Folder,
    /// The principal's rights.
    pub rights: Rights,
    /// The UID of every object visible to mail (`store/mail_view.rs`),
    /// whose ascending order is the sequence order (RFC 3501 2.3.1.2), as
    /// a compressed bitmap: a few bytes per run of consecutive UIDs, at
    /// most 8 KiB per 65,536 UIDs (100,000 messages take 4 bytes each in
    /// a vector, 12 KiB to 32 KiB here).
    pub uids: roaring::RoaringBitmap,
    /// The lowest UID of `uids` without `\Seen` (for `[UNSEEN n]`, RFC
    /// 3501 7.1), if any.
    pub first_unseen: Option<Uid>,
    /// The keywords defined in the folder (RFC 3501 7.2.6), system flags
    /// not included: every keyword any of its messages ever had, each
    /// spelled as first used, in that order (`store/keywords.rs`).
    pub keywords: Vec<String>,
}

/// A bitmap of UIDs built from UIDs that come in ascending order, a page
/// at a time: appended in bulk (one order check per UID; a bitmap
/// container's own `push` looks for its maximum each time, a scan of up
/// to 1,024 words), with no vector of the whole folder.
#[derive(Default)]
struct UidsInOrder {
    bitmap: roaring::RoaringBitmap,
    page: Vec<Uid>,
}

/// UIDs [`UidsInOrder`] gathers before appending them.
const UID_PAGE: usize = 4096;

impl UidsInOrder {
    fn push(&mut self, uid: Uid) {
        self.page.push(uid);
        if self.page.len() >= UID_PAGE {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.bitmap.append(self.page.iter().copied()).is_err() {
            // Out of order after all: each is inserted where it goes.
            self.bitmap.extend(self.page.iter().copied());
        }
        self.page.clear();
    }

    /// The bitmap, compacted (runs where they are smaller).
    fn finish(mut self) -> roaring::RoaringBitmap {
        self.flush();
        self.bitmap.optimize();
        self.bitmap
    }
}

/// Creates folder `name` of `owner` inside `txn`.
pub(crate) fn create_folder_in(
    txn: &mut Txn<'_>,
    owner: AccountId,
    name: &str,
    special_use: Option<SpecialUse>,
) -> Result<Folder> {
    let id = txn.add(keys::counter("folder"), 1)?;
    let modseq = next_modseq(txn, owner)?;
    let folder = Folder {
        id,
        owner,
        name: name.to_string(),
        uid_validity: next_uid_validity(txn)?,
        uid_next: 1,
        highest_modseq: modseq,
        special_use,
        acl: Default::default(),
        objects: 0,
        unseen: 0,
        size: 0,
    };
    txn.put(keys::folder(owner, id), &folder)?;
    txn.put(keys::folder_name(owner, name), &id)?;
    txn.put(keys::folder_created(id), &super::now())?;
    super::keywords::set_folder_keywords(txn, id, Vec::new())?;
    txn.record_change(
        owner,
        Change {
            modseq,
            folder: id,
            kind: ChangeKind::FolderCreated { name: name.into() },
        },
    )?;
    Ok(folder)
}

/// What creating the folder `name` of `owner` changes, for the lock
/// check: the new folder and its parent's membership, and the same for
/// every missing ancestor created with it (RFC 4918 7.4: adding a member
/// to a locked collection, at any level, needs its lock's token).
fn creation_touches(txn: &Txn<'_>, owner: AccountId, name: &str) -> Result<Vec<Touch>> {
    let mut touches = Vec::new();
    for level in ancestors(name).into_iter().chain([name]) {
        if level == name || txn.get_raw(&keys::folder_name(owner, level))?.is_none() {
            touches.push(Touch::folder(TouchKind::Resource, owner, level));
            touches.push(Touch::parent_of(owner, level));
        }
    }
    Ok(touches)
}

/// UIDVALIDITY: the current time in seconds, or one more than the last
/// one given if that is not greater, so it strictly increases store-wide
/// (RFC 3501 2.3.1.1: a recreated folder must not reuse one).
fn next_uid_validity(txn: &mut Txn<'_>) -> Result<u32> {
    let key = keys::counter("uidvalidity");
    let last: u64 = txn.load(&key)?.unwrap_or(0);
    let now = super::now().clamp(1, u32::MAX as i64) as u64;
    let next = now.max(last + 1).min(u32::MAX as u64);
    txn.put(key, &next)?;
    Ok(next as u32)
}

/// Deletes a folder with its objects, expunged records, metadata, grants
/// and references, releasing its blobs.
pub(crate) fn purge_folder(txn: &mut Txn<'_>, folder: &Folder) -> Result<()> {
    let mut bytes = 0u64;
    let mut count = 0u64;
    for (k, object) in txn.load_all::<Object>(&keys::objects(folder.id))? {
        txn.release_blob(&object.blob)?;
        super::object_numbers::forget(txn, folder.id, object.uid)?;
        if let Some(m) = &object.cpm.imdn_message_id {
            txn.delete(keys::imdn(folder.owner, m));
        }
        bytes += object.size;
        count += 1;
        txn.delete(k);
    }
    txn.add(
        keys::account_counter(folder.owner, "bytes"),
        -(bytes as i64),
    )?;
    txn.add(
        keys::account_counter(folder.owner, "objects"),
        -(count as i64),
    )?;
    for (k, _) in txn.scan_raw(&keys::expunged_all(folder.id))? {
        txn.delete(k);
    }
    for (k, _) in txn.scan_raw(&keys::object_names(folder.id))? {
        txn.delete(k);
    }
    for (k, _) in txn.scan_raw(&keys::expunged_names(folder.id))? {
        txn.delete(k);
    }
    txn.delete(keys::folder_created(folder.id));
    txn.delete(keys::folder_modified(folder.id));
    txn.delete(keys::folder_keywords(folder.id));
    txn.delete(keys::recent_horizon(folder.id));
    super::index::purge(txn, folder.id)?;
    for identifier in folder.acl.keys() {
        if let Some(grantee) = super::acl::grantee_id(txn, identifier)? {
            txn.delete(keys::grant(grantee, folder.owner, folder.id));
        }
    }
    super::metadata::purge_folder_metadata(txn, folder.id)?;
    super::references::purge_folder_references(txn, folder.id)?;
    txn.delete(keys::folder_name(folder.owner, &folder.name));
    txn.delete(keys::folder(folder.owner, folder.id));
    Ok(())
}

fn owner_of<R: Reader + ?Sized>(r: &R, principal: &Principal, f: &FolderRef) -> Result<AccountId> {
    match &f.owner {
        None => Ok(principal.account),
        Some(login) => super::account_id(r, login),
    }
}

/// The transaction of operation "folder create" ([`Store::create_folder`],
/// a deposit's folder, [`Store::deposit_object`], and an extended MKCOL's
/// folder with its properties): every check of a
/// new folder `name` (canonical, [`canonical`]) and its creation, with its
/// missing superior folders, in `txn`. Whatever a folder creation must
/// check belongs here, so that both paths check it.
///
/// Errors: as [`Store::create_folder`].
pub(super) fn create_folder_txn(
    txn: &mut Txn<'_>,
    layout: FolderLayout,
    principal: &Principal,
    folder: &FolderRef,
    name: &str,
    special_use: Option<SpecialUse>,
) -> Result<Folder> {
    let owner = owner_of(txn, principal, folder)?;
    if txn.get_raw(&keys::folder_name(owner, name))?.is_some() {
        // Another account's folder the principal may not see is not told
        // to exist (RFC 4314 section 4): resolving it says so.
        if owner != principal.account {
            resolve(txn, principal, folder)?;
        }
        return Err(StoreError::FolderExists);
    }
    if owner != principal.account {
        // Another account's tree: the nearest existing parent must
        // grant `k` (RFC 4314 section 4, CREATE).
        let parent = ancestors(name)
            .into_iter()
            .rev()
            .find_map(|p| {
                txn.get_raw(&keys::folder_name(owner, p))
                    .ok()
                    .flatten()
                    .map(|_| p.to_string())
            })
            .ok_or(StoreError::NoSuchFolder)?;
        let access = resolve(
            txn,
            principal,
            &FolderRef {
                owner: folder.owner.clone(),
                name: parent,
            },
        )?;
        access.require(Right::CreateFolder)?;
    }
    layout.check_write(principal, name)?;
    check_write(txn, principal, &creation_touches(txn, owner, name)?)?;
    for parent in ancestors(name) {
        if txn.get_raw(&keys::folder_name(owner, parent))?.is_none() {
            create_folder_in(txn, owner, parent, None)?;
        }
    }
    create_folder_in(txn, owner, name, special_use)
}

impl Store {
    /// Operation "folder create" (IMAP CREATE, WebDAV MKCOL). Missing
    /// superior folders are created too (RFC 3501 6.3.3).
    ///
    /// Rights: creating in another account needs `k` on the parent.
    /// Errors: [`StoreError::InvalidName`] (also a name in the reserved
    /// `Shared/` namespace, [`crate::names::creatable`]),
    /// [`StoreError::Locked`] (the parent's membership is locked),
    /// [`StoreError::FolderExists`],
    /// [`StoreError::NoSuchFolder`] / [`StoreError::PermissionDenied`],
    /// [`StoreError::ReservedFolder`] (a name the folder layout reserves to
    /// trusted network elements, [`FolderLayout::check_write`]).
    pub async fn create_folder(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        special_use: Option<SpecialUse>,
    ) -> Result<Folder> {
        let name = creatable(&folder.name)?;
        let principal = principal.clone();
        let folder = folder.clone();
        let layout = self.folder_layout();
        self.write(move |txn| {
            create_folder_txn(txn, layout, &principal, &folder, &name, special_use)
        })
        .await
    }

    /// A folder's state (IMAP STATUS, WebDAV collection properties).
    ///
    /// Rights: `l` or `r` to see it. Errors: [`StoreError::NoSuchFolder`].
    pub async fn folder_status(
        &self,
        principal: &Principal,
        folder: &FolderRef,
    ) -> Result<(Folder, Rights)> {
        let access = resolve(&self.snapshot()?, principal, folder)?;
        Ok((access.folder, access.rights))
    }

    /// Operation "set active folder" (IMAP SELECT / EXAMINE): the folder's
    /// state and every object's UID, MODSEQ and flags, except objects
    /// hidden from mail (`store/mail_view.rs`). `folder`'s counts are the
    /// record's; [`Store::mail_status`] has those IMAP reports.
    ///
    /// Rights: `r`. Errors: [`StoreError::NoSuchFolder`],
    /// [`StoreError::PermissionDenied`].
    pub async fn select_folder(
        &self,
        principal: &Principal,
        folder: &FolderRef,
    ) -> Result<SelectedFolder> {
        let (principal, folder) = (principal.clone(), folder.clone());
        self.scan_blocking(move |store| store.select_blocking(&principal, &folder))
            .await
    }

    /// The body of [`Store::select_folder`], on the blocking pool: one
    /// snapshot, the mail rows, and the keyword list (0x16; derived from
    /// the records only for a folder made before that list was kept).
    fn select_blocking(&self, principal: &Principal, folder: &FolderRef) -> Result<SelectedFolder> {
        let snap = self.snapshot()?;
        let Access { folder, rights } = resolve(&snap, principal, folder)?;
        if !rights.contains(Right::Read) {
            return Err(StoreError::PermissionDenied(Right::Read));
        }
        let hides = self.macos_metadata().hides();
        let mut uids = UidsInOrder::default();
        let mut first_unseen = None;
        super::index::for_each_mail_row(&snap, folder.id, 1, Uid::MAX, |row| {
            if hides && row.bits & super::index::ROW_MACOS_NAME != 0 {
                return;
            }
            if first_unseen.is_none() && row.bits & super::index::ROW_SEEN == 0 {
                first_unseen = Some(row.uid);
            }
            uids.push(row.uid);
        })?;
        let uids = uids.finish();
        let keywords = match snap.get_raw(&keys::folder_keywords(folder.id))? {
            Some(_) => super::keywords::folder_keywords(&snap, folder.id, [])?,
            None => {
                let all = snap.load_all::<Object>(&keys::objects(folder.id))?;
                super::keywords::folder_keywords(&snap, folder.id, all.iter().map(|(_, o)| o))?
            }
        };
        Ok(SelectedFolder {
            folder,
            rights,
            uids,
            first_unseen,
            keywords,
        })
    }

    /// Operation "folder move" (IMAP RENAME, WebDAV MOVE of a collection):
    /// renames the folder and every folder below it, keeping ids, UIDs and
    /// UIDVALIDITY. Renaming INBOX moves its objects into a new folder and
    /// leaves INBOX empty (RFC 3501 6.3.5). Both names are in one account.
    ///
    /// Rights: `x` on the folder, and `k` on the new parent when it is in
    /// another account. Errors: [`StoreError::NoSuchFolder`],
    /// [`StoreError::FolderExists`], [`StoreError::InvalidName`],
    /// [`StoreError::NotAllowed`] (into itself, or across accounts),
    /// [`StoreError::Locked`] (a lock on the folder, below it, or on
    /// either parent's membership), [`StoreError::ReservedFolder`] (either
    /// name in a tree the folder layout reserves to trusted network
    /// elements).
    pub async fn rename_folder(
        &self,
        principal: &Principal,
        from: &FolderRef,
        to: &FolderRef,
    ) -> Result<()> {
        let new_name = creatable(&to.name)?;
        let (principal, from, to) = (principal.clone(), from.clone(), to.clone());
        let layout = self.folder_layout();
        self.write(move |txn| {
            let access = resolve(txn, &principal, &from)?;
            access.require(Right::DeleteFolder)?;
            layout.check_write(&principal, &access.folder.name)?;
            layout.check_write(&principal, &new_name)?;
            let owner = access.folder.owner;
            if owner_of(txn, &principal, &to)? != owner {
                return Err(StoreError::NotAllowed(
                    "a folder cannot move to another account".into(),
                ));
            }
            let old_name = access.folder.name.clone();
            if is_within(&new_name, &old_name) && old_name != "INBOX" {
                return Err(StoreError::NotAllowed(
                    "a folder cannot move into itself".into(),
                ));
            }
            if new_name == "INBOX" {
                return Err(StoreError::NotAllowed(
                    "INBOX cannot be a rename target".into(),
                ));
            }
            if txn.get_raw(&keys::folder_name(owner, &new_name))?.is_some() {
                return Err(StoreError::FolderExists);
            }
            let mut touches = vec![
                Touch::folder(TouchKind::Tree, owner, &old_name),
                Touch::parent_of(owner, &old_name),
            ];
            touches.extend(creation_touches(txn, owner, &new_name)?);
            check_write(txn, &principal, &touches)?;
            for parent in ancestors(&new_name) {
                if txn.get_raw(&keys::folder_name(owner, parent))?.is_none() {
                    create_folder_in(txn, owner, parent, None)?;
                }
            }
            // The locks of what moves stay behind and go (RFC 4918 9.9.1);
            // INBOX itself stays, with its own locks.
            let kind = if old_name == "INBOX" {
                TouchKind::Members
            } else {
                TouchKind::Tree
            };
            drop_locks_of(txn, &[Touch::folder(kind, owner, &old_name)])?;
            if old_name == "INBOX" {
                return move_inbox_contents(txn, &access.folder, &new_name);
            }
            let modseq = next_modseq(txn, owner)?;
            for (name, id) in super::listing::subtree(txn, owner, &old_name)? {
                let mut f: Folder = txn.load(&keys::folder(owner, id))?.ok_or_else(|| {
                    StoreError::Corrupt(format!("folder {id} ({name}) indexed but missing"))
                })?;
                let renamed = format!("{new_name}{}", &f.name[old_name.len()..]);
                txn.delete(keys::folder_name(owner, &f.name));
                txn.put(keys::folder_name(owner, &renamed), &f.id)?;
                txn.record_change(
                    owner,
                    Change {
                        modseq,
                        folder: f.id,
                        kind: ChangeKind::FolderRenamed {
                            from: f.name.clone(),
                            to: renamed.clone(),
                        },
                    },
                )?;
                f.name = renamed;
                f.highest_modseq = modseq;
                txn.put(keys::folder(owner, f.id), &f)?;
            }
            Ok(())
        })
        .await
    }

    /// Operation "folder remove" (IMAP DELETE, WebDAV DELETE of a
    /// collection): removes the folder and its objects. A folder with child
    /// folders is refused, as Dovecot does, rather than left as a
    /// `\Noselect` name (RFC 3501 6.3.4 allows either).
    ///
    /// Rights: `x`. Errors: [`StoreError::NoSuchFolder`],
    /// [`StoreError::NotAllowed`] (INBOX, or children),
    /// [`StoreError::Locked`] (a lock on the folder or below it),
    /// [`StoreError::ReservedFolder`] (a folder the folder layout reserves
    /// to trusted network elements).
    pub async fn remove_folder(&self, principal: &Principal, folder: &FolderRef) -> Result<()> {
        let (principal, folder) = (principal.clone(), folder.clone());
        let layout = self.folder_layout();
        self.write(move |txn| {
            let access = resolve(txn, &principal, &folder)?;
            access.require(Right::DeleteFolder)?;
            layout.check_write(&principal, &access.folder.name)?;
            let f = access.folder;
            if f.name == "INBOX" {
                return Err(StoreError::NotAllowed("INBOX cannot be deleted".into()));
            }
            if super::listing::has_child(txn, f.owner, &f.name)? {
                return Err(StoreError::NotAllowed(
                    "the folder has child folders; delete them first".into(),
                ));
            }
            check_write(
                txn,
                &principal,
                &[
                    Touch::folder(TouchKind::Tree, f.owner, &f.name),
                    Touch::parent_of(f.owner, &f.name),
                ],
            )?;
            purge_folder(txn, &f)?;
            drop_locks_of(txn, &[Touch::folder(TouchKind::Tree, f.owner, &f.name)])?;
            let modseq = next_modseq(txn, f.owner)?;
            txn.record_change(
                f.owner,
                Change {
                    modseq,
                    folder: f.id,
                    kind: ChangeKind::FolderRemoved {
                        name: f.name.clone(),
                    },
                },
            )
        })
        .await
    }

    /// Subscribes (`true`) or unsubscribes the principal to a folder name
    /// as it sees it (`owner/name` for another account's folder). The name
    /// need not exist (RFC 3501 6.3.6).
    pub async fn set_subscribed(
        &self,
        principal: &Principal,
        name: &str,
        subscribed: bool,
    ) -> Result<()> {
        let name = canonical(name)?;
        let account = principal.account;
        self.write(move |txn| {
            let key = keys::subscription(account, &name);
            let exists = txn.get_raw(&key)?.is_some();
            if exists == subscribed {
                return Ok(());
            }
            if subscribed {
                txn.put(key, &())?;
            } else {
                txn.delete(key);
            }
            let modseq = next_modseq(txn, account)?;
            txn.record_change(
                account,
                Change {
                    modseq,
                    folder: 0,
                    kind: ChangeKind::SubscriptionChanged { name },
                },
            )
        })
        .await
    }
}

/// RFC 3501 6.3.5: renaming INBOX moves all its objects to a new folder
/// with the new name and leaves INBOX in place, empty.
fn move_inbox_contents(txn: &mut Txn<'_>, inbox: &Folder, new_name: &str) -> Result<()> {
    let owner = inbox.owner;
    let mut target = create_folder_in(txn, owner, new_name, None)?;
    let modseq = next_modseq(txn, owner)?;
    let mut source = inbox.clone();
    let objects = txn.load_all::<Object>(&keys::objects(inbox.id))?;
    let keywords = super::keywords::folder_keywords(txn, inbox.id, objects.iter().map(|(_, o)| o))?;
    super::keywords::set_folder_keywords(txn, target.id, keywords)?;
    for (k, mut object) in objects {
        txn.delete(k);
        let number = super::object_numbers::forget(txn, inbox.id, object.uid)?;
        txn.put(keys::expunged(inbox.id, object.uid), &modseq)?;
        super::index::object_changed(txn, inbox.id, Some(&object), None, modseq)?;
        txn.record_change(
            owner,
            Change {
                modseq,
                folder: inbox.id,
                kind: ChangeKind::ObjectRemoved { uid: object.uid },
            },
        )?;
        if let Some(m) = &object.cpm.imdn_message_id {
            txn.put(keys::imdn(owner, m), &(target.id, target.uid_next))?;
        }
        if let Some(name) = &object.file_name {
            txn.put(keys::expunged_name(inbox.id, object.uid), name)?;
            txn.delete(keys::object_name(inbox.id, name));
            txn.put(keys::object_name(target.id, name), &target.uid_next)?;
        }
        object.uid = target.uid_next;
        object.modseq = modseq;
        target.uid_next += 1;
        target.objects += 1;
        target.size += object.size;
        if !object.flags.contains("\\Seen") {
            target.unseen += 1;
        }
        match number {
            Some(n) => super::object_numbers::place(txn, n, target.id, object.uid)?,
            None => {
                super::object_numbers::assign(txn, target.id, object.uid)?;
            }
        }
        txn.put(keys::object(target.id, object.uid), &object)?;
        super::index::object_changed(txn, target.id, None, Some(&object), modseq)?;
        txn.record_change(
            owner,
            Change {
                modseq,
                folder: target.id,
                kind: ChangeKind::ObjectStored { uid: object.uid },
            },
        )?;
    }
    target.highest_modseq = modseq;
    source.objects = 0;
    source.unseen = 0;
    source.size = 0;
    source.highest_modseq = modseq;
    txn.put(keys::folder(owner, target.id), &target)?;
    txn.put(keys::folder(owner, source.id), &source)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_gathered_in_order_make_the_same_set_as_one_by_one() {
        let ascending: Vec<Uid> = (1..=200_000).filter(|u| u % 3 != 1).collect();
        let mut gathered = UidsInOrder::default();
        ascending.iter().for_each(|&u| gathered.push(u));
        let bitmap = gathered.finish();
        assert_eq!(bitmap.len(), ascending.len() as u64);
        assert!(bitmap.iter().eq(ascending.iter().copied()));

        // Out of order (a page that goes back): still every UID, once.
        let mut gathered = UidsInOrder::default();
        for u in [10, 20, 30, 5, 25, 30, 40] {
            gathered.push(u);
        }
        assert!(gathered.finish().iter().eq([5, 10, 20, 25, 30, 40]));
    }
}
