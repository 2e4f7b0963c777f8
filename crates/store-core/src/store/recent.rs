//! IMAP `\Recent` (RFC 3501 2.3.2; dropped by IMAP4rev2, RFC 9051, but
//! kept for IMAP4rev1 clients): a message is recent to the first session
//! that selects its folder (read-write) after it arrived, and to no
//! other. The store keeps, per folder, the highest UID already recent to
//! some session (key 0x18), so the rule holds across restarts and across
//! the nodes sharing the store, as Dovecot keeps its "first recent UID"
//! in the mailbox index.

use super::Store;
use crate::error::Result;
use crate::keys;
use crate::model::{FolderId, Uid};
use crate::writer::Reader;

impl Store {
    /// The highest UID of `folder` already recent to another session;
    /// with `claim` (a read-write SELECT, or new messages seen by a
    /// selected session), the messages up to `highest` become the
    /// caller's recent ones, in one atomic step, so that two sessions on
    /// any nodes never both get one. Costs a write only when `highest`
    /// is above the stored horizon.
    ///
    /// The caller has selected `folder` (its rights were checked then).
    ///
    /// Errors: the store's.
    pub async fn claim_recent(&self, folder: FolderId, highest: Uid, claim: bool) -> Result<Uid> {
        let key = keys::recent_horizon(folder);
        let before: Uid = self.snapshot()?.load(&key)?.unwrap_or(0);
        if !claim || before >= highest {
            return Ok(before);
        }
        self.write(move |txn| {
            let before: Uid = txn.load(&key)?.unwrap_or(0);
            if highest > before {
                txn.put(key, &highest)?;
            }
            Ok(before)
        })
        .await
    }
}
