//! The change feed (ARCHITECTURE.md, "Change feed"): every committed change
//! is published to the account's subscribers (IMAP IDLE/NOTIFY, WebDAV sync,
//! SIP NOTIFY) and persisted under its MODSEQ, so that a client can also ask
//! for every change since its last de-registration (seed 002, 5.5.1).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::model::{AccountId, Change};

/// How many unread changes a slow subscriber may fall behind before it is
/// told it lagged (it then resynchronizes from the persisted feed).
const FEED_CAPACITY: usize = 1024;

/// One tokio broadcast channel per account with live subscribers.
#[derive(Default)]
pub(crate) struct ChangeHub {
    channels: Mutex<HashMap<AccountId, broadcast::Sender<Change>>>,
}

impl ChangeHub {
    /// A receiver of every change of `account` committed from now on.
    pub fn subscribe(&self, account: AccountId) -> broadcast::Receiver<Change> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .entry(account)
            .or_insert_with(|| broadcast::channel(FEED_CAPACITY).0)
            .subscribe()
    }

    /// The accounts that have subscribers now (for the changes other
    /// nodes commit: `store::cluster`).
    pub fn accounts(&self) -> std::collections::BTreeSet<AccountId> {
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .iter()
            .filter(|(_, tx)| tx.receiver_count() > 0)
            .map(|(account, _)| *account)
            .collect()
    }

    /// Sends `change` to the account's subscribers, if any.
    pub fn publish(&self, account: AccountId, change: Change) {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = channels.get(&account) {
            // The changes the slowest receiver has not taken yet, before
            // this one (`cpm_store_change_feed_backlog`): a length read,
            // under the lock already held.
            crate::telemetry::metrics()
                .change_feed_backlog
                .observe(tx.len() as f64);
            if tx.send(change).is_err() {
                // Every receiver is gone: forget the channel.
                channels.remove(&account);
            }
        }
    }
}
