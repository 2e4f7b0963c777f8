//! Storage use and limits (RFC 9208 QUOTA; WebDAV RFC 4331 properties).

use super::Store;
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{Principal, QuotaUsage};
use crate::writer::Reader;

impl Store {
    /// The principal's account use and limits.
    pub async fn quota(&self, principal: &Principal) -> Result<QuotaUsage> {
        let snap = self.snapshot()?;
        let entry: super::AccountEntry = snap
            .load(&keys::account(&principal.login))?
            .ok_or(StoreError::NoSuchAccount)?;
        Ok(QuotaUsage {
            bytes: snap
                .load(&keys::account_counter(principal.account, "bytes"))?
                .unwrap_or(0),
            objects: snap
                .load(&keys::account_counter(principal.account, "objects"))?
                .unwrap_or(0),
            limits: entry.account.quota,
        })
    }
}
