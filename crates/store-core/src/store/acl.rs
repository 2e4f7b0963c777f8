//! Operations "set / get / delete access control list" and "get access
//! rights" (seed 002; IMAP ACL, RFC 4314). The rights are enforced by
//! `super::resolve` for every operation and every protocol.

use super::{next_modseq, resolve, Store};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{AccountId, Change, ChangeKind, Principal};
use crate::rights::{Right, Rights};
use crate::writer::{Reader, Txn};

use super::folders::FolderRef;

/// How [`Store::set_acl`] combines the given rights with the current ones
/// (RFC 4314 3.1: a leading `+` or `-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclMode {
    /// Replace the identifier's rights.
    Replace,
    /// Add to them.
    Add,
    /// Remove from them.
    Remove,
}

/// The account id an ACL identifier names: 0 for `anyone`, `None` for an
/// identifier that is no account here.
pub(crate) fn grantee_id<R: Reader + ?Sized>(r: &R, identifier: &str) -> Result<Option<AccountId>> {
    if identifier == "anyone" {
        return Ok(Some(0));
    }
    Ok(r.load::<super::AccountEntry>(&keys::account(identifier))?
        .map(|e| e.account.id))
}

fn record_acl_change(
    txn: &mut Txn<'_>,
    owner: AccountId,
    folder: u64,
    grantee: Option<AccountId>,
) -> Result<u64> {
    let modseq = next_modseq(txn, owner)?;
    txn.record_change(
        owner,
        Change {
            modseq,
            folder,
            kind: ChangeKind::AclChanged,
        },
    )?;
    // The grantee hears of it too (seed 000: permission changes are notified).
    if let Some(g) = grantee.filter(|g| *g != 0 && *g != owner) {
        let m = next_modseq(txn, g)?;
        txn.record_change(
            g,
            Change {
                modseq: m,
                folder,
                kind: ChangeKind::AclChanged,
            },
        )?;
    }
    Ok(modseq)
}

impl Store {
    /// Operation "set access control list" (SETACL).
    ///
    /// Rights: `a`. A principal left without `i` (RFC 4314; the right
    /// [`Store::create_lock`] needs) loses the WebDAV locks it holds in
    /// the folder, in the same transaction.
    /// Errors: [`StoreError::InvalidArgument`] for an
    /// identifier that is no account and not `anyone`, or the owner's own
    /// login (the owner always keeps every right).
    pub async fn set_acl(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        identifier: &str,
        rights: Rights,
        mode: AclMode,
    ) -> Result<Rights> {
        let (principal, folder, identifier) =
            (principal.clone(), folder.clone(), identifier.to_string());
        self.write(move |txn| {
            let access = resolve(txn, &principal, &folder)?;
            access.require(Right::Administer)?;
            let mut f = access.folder;
            let grantee = grantee_id(txn, &identifier)?.ok_or_else(|| {
                StoreError::InvalidArgument(format!("unknown identifier {identifier}"))
            })?;
            if grantee == f.owner {
                return Err(StoreError::InvalidArgument(
                    "the owner always has every right".into(),
                ));
            }
            let current = f.acl.get(&identifier).copied().unwrap_or_default();
            let new = match mode {
                AclMode::Replace => rights,
                AclMode::Add => current.union(rights),
                AclMode::Remove => current.without(rights),
            };
            if new.is_empty() {
                f.acl.remove(&identifier);
                txn.delete(keys::grant(grantee, f.owner, f.id));
            } else {
                f.acl.insert(identifier.clone(), new);
                txn.put(keys::grant(grantee, f.owner, f.id), &())?;
            }
            f.highest_modseq = record_acl_change(txn, f.owner, f.id, Some(grantee))?;
            txn.put(keys::folder(f.owner, f.id), &f)?;
            // A grantee that lost `i` loses the locks it made here.
            if !new.contains(Right::Insert) {
                super::locks::drop_locks_without_insert(txn, &f)?;
            }
            Ok(new)
        })
        .await
    }

    /// Operation "delete access control list" (DELETEACL): removes the
    /// identifier's entry.
    ///
    /// Rights: `a`.
    pub async fn delete_acl(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        identifier: &str,
    ) -> Result<()> {
        self.set_acl(
            principal,
            folder,
            identifier,
            Rights::NONE,
            AclMode::Replace,
        )
        .await
        .map(|_| ())
    }

    /// Operation "get access control list" (GETACL): every identifier with
    /// its rights, the owner first with every right.
    ///
    /// Rights: `a`.
    pub async fn get_acl(
        &self,
        principal: &Principal,
        folder: &FolderRef,
    ) -> Result<Vec<(String, Rights)>> {
        let (access, owner) = administered(&self.snapshot()?, principal, folder)?;
        let mut out = vec![(owner, Rights::all())];
        out.extend(access.folder.acl);
        Ok(out)
    }

    /// Operation "list rights" (IMAP LISTRIGHTS, RFC 4314 3.4 and 3.7):
    /// the rights `identifier` always has on the folder and those that may
    /// be granted to it, each a group of its own. The owner always has
    /// every right (nothing may be granted or taken); anyone else has none
    /// always, and each right may be granted separately.
    ///
    /// Rights: `a` (RFC 4314 4: LISTRIGHTS needs the same right as GETACL);
    /// without `l` or `r` the folder does not exist for the principal.
    /// Errors: [`StoreError::NoSuchFolder`], [`StoreError::PermissionDenied`].
    pub async fn list_rights(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        identifier: &str,
    ) -> Result<(Rights, Vec<Right>)> {
        let (_, owner) = administered(&self.snapshot()?, principal, folder)?;
        Ok(if identifier == owner {
            (Rights::all(), Vec::new())
        } else {
            (Rights::NONE, Right::ALL.to_vec())
        })
    }

    /// Operation "get access rights" (MYRIGHTS): the principal's rights.
    pub async fn my_rights(&self, principal: &Principal, folder: &FolderRef) -> Result<Rights> {
        Ok(resolve(&self.snapshot()?, principal, folder)?.rights)
    }
}

/// The folder `principal` administers (RFC 4314 `a`, what GETACL and
/// LISTRIGHTS need) with its owner's login.
///
/// Errors: [`StoreError::NoSuchFolder`], [`StoreError::PermissionDenied`].
fn administered<R: Reader + ?Sized>(
    r: &R,
    principal: &Principal,
    folder: &FolderRef,
) -> Result<(super::Access, String)> {
    let access = resolve(r, principal, folder)?;
    access.require(Right::Administer)?;
    let owner: String = r
        .load(&keys::account_login(access.folder.owner))?
        .ok_or(StoreError::NoSuchAccount)?;
    Ok((access, owner))
}
