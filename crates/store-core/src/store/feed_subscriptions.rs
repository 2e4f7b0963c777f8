//! Feed subscriptions: a client's durable interest in an account's change
//! feed, to be told of every change by a callback (OMA NMS subscriptions,
//! TS 5.1.4 and 6.17–6.19). The store keeps what must survive a restart:
//! where to call, until when, the front end's details (its filter; opaque here), the
//! index of the last notification list sent, and the feed position it
//! reached, so that delivery resumes where it stopped and a client that
//! missed lists can ask for them again by restart token.
//!
//! A **restart token** names a point of an account's feed: the account's
//! epoch (its id and creation second: an account removed and created
//! again has another) and a MODSEQ. [`Store::restart_point`] reads one
//! back: the changes after it can be replayed while the feed keeps them
//! (`[store] change_retention_days`); a token of another epoch, or below
//! the feed's horizon, can only be answered by a reset of the box.
//!
//! Records: key 0x08 (account id, subscription id) → [`FeedSubscription`];
//! at most [`MAX_FEED_SUBSCRIPTIONS`] per account.
//!
//! **Delivery leases** (key 0x09, same key parts → [`DeliveryLease`]):
//! with several nodes sharing the store, each subscription is delivered
//! by one node at a time ([`Store::claim_delivery`]). A node holds the
//! lease for [`DELIVERY_LEASE`] and renews it while it delivers; when it
//! dies, the lease runs out and another node takes the subscription
//! over, from the position and index the last delivery stored. Leases
//! are on the nodes' wall clocks: they must agree to within a few seconds
//! (NTP), far less than the margin between [`DELIVERY_LEASE`] and a
//! delivery's longest time.

use serde::{Deserialize, Serialize};

use super::accounts::AccountEntry;
use super::Store;
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{AccountId, ModSeq, Principal, UnixTime};
use crate::writer::Reader;

/// Most feed subscriptions one account may hold.
pub const MAX_FEED_SUBSCRIPTIONS: usize = 32;

/// One subscription, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedSubscription {
    /// Its id, unique in the account (the server chooses it).
    pub id: String,
    /// The account whose feed it follows.
    pub account: AccountId,
    /// That account's login (to act for it when delivering).
    pub login: String,
    /// Where notifications go (an absolute URL).
    pub callback: String,
    /// Data the client wants back with every notification.
    pub callback_data: Option<String>,
    /// The client's correlator of its creation request (idempotent
    /// creation: the same correlator finds the same subscription).
    pub client_correlator: Option<String>,
    /// What the front end keeps with it, encoded as it likes (opaque
    /// here; for NMS the base of the URLs its notifications name and the
    /// client's filter).
    pub details: Vec<u8>,
    /// When it ends, Unix seconds (`None`: when the client deletes it).
    pub expires: Option<UnixTime>,
    /// The index of the last notification list sent (0: none yet).
    pub index: u64,
    /// Every change up to this MODSEQ has been delivered (or skipped by
    /// the filter).
    pub position: ModSeq,
    /// Whether the next list must begin with a reset of the box (the
    /// client's restart token could not be honoured).
    pub reset_pending: bool,
}

/// How long a claimed delivery lease lasts ([`Store::claim_delivery`]).
pub const DELIVERY_LEASE: std::time::Duration = std::time::Duration::from_secs(90);

/// Which node delivers a subscription, until when (key 0x09).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLease {
    /// The holder's [`Store::node_id`].
    pub node: u64,
    /// When it runs out, Unix seconds.
    pub until: UnixTime,
}

/// What [`Store::claim_delivery`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// This node holds the lease until then (Unix seconds): it delivers.
    Held(UnixTime),
    /// Another node holds it until then: this one waits, and claims again
    /// once it has run out.
    Elsewhere(UnixTime),
}

/// A point of an account's feed named by a restart token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPoint {
    /// The changes after this MODSEQ are all kept: replay them.
    Replay(ModSeq),
    /// The token is of another epoch or below the feed's horizon: the
    /// client must reset its copy of the box; follow from this MODSEQ
    /// (the account's current one).
    Reset(ModSeq),
}

impl Store {
    /// The restart token of the principal's account at `modseq`:
    /// `{account id}.{created}.{modseq}`, opaque to clients.
    ///
    /// Errors: [`StoreError::NoSuchAccount`].
    pub async fn restart_token(&self, principal: &Principal, modseq: ModSeq) -> Result<String> {
        let epoch = self.account_epoch(principal.account)?;
        Ok(format!("{epoch}.{modseq}"))
    }

    /// The account's epoch: its id and creation second.
    fn account_epoch(&self, account: AccountId) -> Result<String> {
        let snap = self.snapshot()?;
        let login: String = snap
            .load(&keys::account_login(account))?
            .ok_or(StoreError::NoSuchAccount)?;
        let entry: AccountEntry = snap
            .load(&keys::account(&login))?
            .ok_or(StoreError::NoSuchAccount)?;
        Ok(format!("{account}.{}", entry.account.created))
    }

    /// Where the principal's feed resumes for `token` (see the module
    /// documentation); a token that is not one of this store's is of
    /// another epoch.
    ///
    /// Errors: [`StoreError::NoSuchAccount`].
    pub async fn restart_point(&self, principal: &Principal, token: &str) -> Result<RestartPoint> {
        let current = self.account_modseq(principal).await?;
        let epoch = self.account_epoch(principal.account)?;
        let modseq = token
            .rsplit_once('.')
            .filter(|(e, _)| *e == epoch)
            .and_then(|(_, m)| m.parse::<ModSeq>().ok())
            .filter(|m| *m <= current);
        let Some(modseq) = modseq else {
            return Ok(RestartPoint::Reset(current));
        };
        let horizon = super::prune::feed_horizon(&self.snapshot()?, principal.account)?;
        Ok(match modseq < horizon {
            true => RestartPoint::Reset(current),
            false => RestartPoint::Replay(modseq),
        })
    }

    /// Stores a new subscription of the principal's account (its id,
    /// account and login are set here; a free id is chosen).
    ///
    /// Errors: [`StoreError::NotAllowed`] past
    /// [`MAX_FEED_SUBSCRIPTIONS`].
    pub async fn create_feed_subscription(
        &self,
        principal: &Principal,
        mut subscription: FeedSubscription,
    ) -> Result<FeedSubscription> {
        subscription.account = principal.account;
        subscription.login = principal.login().to_string();
        self.write(move |txn| {
            let prefix = keys::feed_subscriptions(subscription.account);
            let existing = txn.scan_raw(&prefix)?.len();
            if existing >= MAX_FEED_SUBSCRIPTIONS {
                return Err(StoreError::NotAllowed(format!(
                    "at most {MAX_FEED_SUBSCRIPTIONS} subscriptions per account"
                )));
            }
            let n = txn.add(
                keys::account_counter(subscription.account, "subscription"),
                1,
            )?;
            subscription.id = format!("s{n}");
            txn.put(
                keys::feed_subscription(subscription.account, &subscription.id),
                &subscription,
            )?;
            Ok(subscription)
        })
        .await
    }

    /// Subscription `id` of `account` (a principal's own: its
    /// `account()`).
    ///
    /// Errors: [`StoreError::NoSuchObject`] when there is none.
    pub async fn feed_subscription(
        &self,
        account: AccountId,
        id: &str,
    ) -> Result<FeedSubscription> {
        self.snapshot()?
            .load(&keys::feed_subscription(account, id))?
            .ok_or(StoreError::NoSuchObject)
    }

    /// The principal's subscriptions, by id.
    pub async fn feed_subscriptions(&self, principal: &Principal) -> Result<Vec<FeedSubscription>> {
        Ok(self
            .snapshot()?
            .load_all::<FeedSubscription>(&keys::feed_subscriptions(principal.account))?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    /// Every subscription of the store (for the delivery worker at start).
    pub async fn all_feed_subscriptions(&self) -> Result<Vec<FeedSubscription>> {
        Ok(self
            .snapshot()?
            .load_all::<FeedSubscription>(&[0x08])?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    /// Replaces subscription `id` of `account` by what `change` makes of
    /// it (an update by its client, a delivery's new index and position),
    /// in one write; returns it.
    ///
    /// Errors: [`StoreError::NoSuchObject`] when it is gone.
    pub async fn update_feed_subscription<F>(
        &self,
        account: AccountId,
        id: &str,
        change: F,
    ) -> Result<FeedSubscription>
    where
        F: FnOnce(&mut FeedSubscription) + Send + 'static,
    {
        let key = keys::feed_subscription(account, id);
        self.write(move |txn| {
            let mut s: FeedSubscription = txn.load(&key)?.ok_or(StoreError::NoSuchObject)?;
            change(&mut s);
            txn.put(key, &s)?;
            Ok(s)
        })
        .await
    }

    /// Removes subscription `id` of `account` (and its delivery lease);
    /// whether it was there.
    pub async fn remove_feed_subscription(&self, account: AccountId, id: &str) -> Result<bool> {
        let key = keys::feed_subscription(account, id);
        let lease = keys::delivery_lease(account, id);
        self.write(move |txn| {
            let there = txn.get_raw(&key)?.is_some();
            txn.delete(key);
            txn.delete(lease);
            Ok(there)
        })
        .await
    }

    /// Claims (or renews) the delivery of subscription `id` of `account`
    /// for this node ([`Store::node_id`]) for [`DELIVERY_LEASE`]: taken
    /// when no node holds it, it ran out, or this node holds it. A lease
    /// this node holds with more than `keep` left is left as it is (no
    /// write).
    ///
    /// Errors: [`StoreError::NoSuchObject`] when the subscription is gone;
    /// the store's.
    pub async fn claim_delivery(
        &self,
        account: AccountId,
        id: &str,
        keep: std::time::Duration,
    ) -> Result<DeliveryClaim> {
        let node = self.node_id();
        let key = keys::delivery_lease(account, id);
        let now = super::now();
        let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
        // A read first: a lease held elsewhere, or held here long enough,
        // costs no write.
        let current: Option<DeliveryLease> = self.snapshot()?.load(&key)?;
        match current {
            Some(l) if l.node != node && l.until > now => {
                return Ok(DeliveryClaim::Elsewhere(l.until));
            }
            Some(l) if l.node == node && l.until - now > keep => {
                return Ok(DeliveryClaim::Held(l.until));
            }
            _ => {}
        }
        let subscription = keys::feed_subscription(account, id);
        let term = i64::try_from(DELIVERY_LEASE.as_secs()).unwrap_or(i64::MAX);
        self.write(move |txn| {
            if txn.get_raw(&subscription)?.is_none() {
                return Err(StoreError::NoSuchObject);
            }
            let now = super::now();
            match txn.load::<DeliveryLease>(&key)? {
                Some(l) if l.node != node && l.until > now => Ok(DeliveryClaim::Elsewhere(l.until)),
                _ => {
                    let until = now.saturating_add(term);
                    txn.put(key, &DeliveryLease { node, until })?;
                    Ok(DeliveryClaim::Held(until))
                }
            }
        })
        .await
    }
}
