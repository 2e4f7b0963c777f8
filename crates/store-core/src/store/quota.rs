//! Storage use and limits (RFC 9208 QUOTA; WebDAV RFC 4331 properties).

use super::Store;
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{
    AccountId, Change, ChangeKind, Folder, ModSeq, Principal, QuotaLimits, QuotaResource,
    QuotaUsage, QUOTA_WARNING_PERCENT,
};
use crate::writer::{Reader, Txn};

impl Store {
    /// The principal's account use and limits.
    pub async fn quota(&self, principal: &Principal) -> Result<QuotaUsage> {
        self.quota_of(principal, &principal.login).await
    }

    /// The use and limits of the account `login` (RFC 9208 GETQUOTA of a
    /// named root): the principal's own, or any account's for an
    /// administrator ([`Store::is_administrator`]).
    ///
    /// Errors: [`StoreError::NoSuchAccount`], also for an account the
    /// principal may not see (its existence does not leak).
    pub async fn quota_of(&self, principal: &Principal, login: &str) -> Result<QuotaUsage> {
        if login != principal.login && !self.is_administrator(principal) {
            return Err(StoreError::NoSuchAccount);
        }
        let snap = self.snapshot()?;
        let entry: super::AccountEntry = snap
            .load(&keys::account(login))?
            .ok_or(StoreError::NoSuchAccount)?;
        let id = entry.account.id;
        Ok(QuotaUsage {
            bytes: snap.load(&keys::account_counter(id, "bytes"))?.unwrap_or(0),
            objects: snap
                .load(&keys::account_counter(id, "objects"))?
                .unwrap_or(0),
            limits: entry.account.quota,
        })
    }
}

/// The limits of `account`.
///
/// Errors: [`StoreError::NoSuchAccount`].
pub(super) fn limits_of<R: Reader + ?Sized>(txn: &R, account: AccountId) -> Result<QuotaLimits> {
    let login: String = txn
        .load(&keys::account_login(account))?
        .ok_or(StoreError::NoSuchAccount)?;
    let entry: super::AccountEntry = txn
        .load(&keys::account(&login))?
        .ok_or(StoreError::NoSuchAccount)?;
    Ok(entry.account.quota)
}

/// Records a [`ChangeKind::QuotaLevel`] change for each resource whose use
/// rose past [`QUOTA_WARNING_PERCENT`] or the whole limit by this
/// operation. `grown` holds (resource, use after, amount added).
pub(super) fn record_levels_crossed(
    txn: &mut Txn<'_>,
    folder: &Folder,
    modseq: ModSeq,
    grown: [(QuotaResource, u64, u64); 2],
) -> Result<()> {
    let limits = limits_of(txn, folder.owner)?;
    for (resource, used, added) in grown {
        let limit = match resource {
            QuotaResource::Storage => limits.max_bytes,
            QuotaResource::Message => limits.max_objects,
        };
        let Some(limit) = limit.filter(|l| *l > 0) else {
            continue;
        };
        let before = used.saturating_sub(added);
        let crossed = [100, QUOTA_WARNING_PERCENT].into_iter().find(|percent| {
            let level = limit.saturating_mul(u64::from(*percent)).div_ceil(100);
            before < level && used >= level
        });
        if let Some(percent) = crossed {
            txn.record_change(
                folder.owner,
                Change {
                    modseq,
                    folder: folder.id,
                    kind: ChangeKind::QuotaLevel {
                        resource,
                        percent,
                        used,
                        limit,
                    },
                },
            )?;
        }
    }
    Ok(())
}
