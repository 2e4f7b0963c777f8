//! Notifications of storage changes (TS 5.1.4, 6.19): the account's change
//! feed (store-core) as NMS events, and the delivery of each
//! subscription's notification lists to its callback.
//!
//! Each subscription has one delivery task. It reads the feed from the
//! subscription's position, sends the events found as one
//! `nmsEventList` with the next `index` and the `restartToken` of the
//! point after it, and, once the callback answered 2xx, stores the new
//! index and position (so a restart resumes there and the index keeps
//! counting). A 404 or 410 ends the subscription (TS 6.19); any other
//! failure is retried with a growing pause (1 s doubling to 60 s); an
//! expired subscription is removed. The task then waits for the
//! account's next change. Delivery runs beside the store's writer and
//! never holds it up: it only reads.
//!
//! With several nodes, every node runs a task per subscription, but only
//! the holder of the subscription's delivery lease (store-core,
//! `Store::claim_delivery`) delivers; the others wait for the lease to run
//! out (its holder died) and take the subscription over from the index
//! and position it stored. Each node lists the subscriptions again every
//! [`RESCAN_INTERVAL`], so one made on another node gets a task here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use store_core::mime::MessageSummary;
use store_core::model::{ChangeKind, FolderId, ModSeq, Object, Principal};
use store_core::{FeedSubscription, Store, StoreError};
use tokio::sync::Notify;

use crate::channels::Channels;
use crate::representation::{self, Place};
use crate::route::{FolderIdent, Urls};
use crate::types::{
    ChangedFolder, ChangedObject, DeletedFolder, DeletedObject, Flag, FlagList, NmsEvent,
    NmsEventList, NmsEventListRoot, ResetBox, SearchCriteria,
};

/// Most changes read for one notification list.
pub const MAX_EVENTS_PER_LIST: usize = 100;

/// The longest pause between two failed deliveries.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(60);

/// How long a callback may take to answer.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(30);

/// A delivery starts only with at least this much of its node's lease
/// left (renewing it first otherwise), so that no other node can take
/// the subscription over while a callback is still answering.
const LEASE_MARGIN: Duration = Duration::from_secs(60);

/// The longest an idle delivery task waits without checking its lease:
/// with [`LEASE_MARGIN`] and the lease's 90 s, a lease held here is
/// renewed before it can run out.
const MAX_LEASE_WAIT: Duration = Duration::from_secs(30);

/// How often the store's subscriptions are listed again, so that a
/// subscription made on another node, or whose node died, is taken over.
const RESCAN_INTERVAL: Duration = Duration::from_secs(30);

/// Which events a subscription's `filter` lets through (TS 5.3.2.20:
/// "for each NmsEvent which relates to an object or folder, if the
/// corresponding object or folder matches the filter then the NmsEvent is
/// sent"; `resetBox` always is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    /// No filter: every event.
    All,
    /// Objects stored or changed that match the criteria now (their
    /// header fields, flags and dates; the text body is not read, so a
    /// body criterion matches nothing); removals of objects (which can no
    /// longer be matched) and folder events pass.
    Matching(store_core::search::SearchKey),
    /// `VanishedObjects`: only removals of objects.
    Vanished,
    /// `CreatedObjects`: only objects newly stored.
    Created,
}

impl EventFilter {
    /// The filter of a subscription's `filter` criteria.
    ///
    /// Errors: as [`crate::criteria::search`].
    pub fn of(filter: Option<&SearchCriteria>) -> crate::error::NmsResult<EventFilter> {
        Ok(match crate::criteria::search(filter)? {
            crate::criteria::Search::Matching(store_core::search::SearchKey::All) => {
                EventFilter::All
            }
            crate::criteria::Search::Matching(key) => EventFilter::Matching(key),
            crate::criteria::Search::Vanished => EventFilter::Vanished,
            crate::criteria::Search::Created(_) => EventFilter::Created,
        })
    }

    fn stored(&self, object: &Object, summary: &MessageSummary, created: bool) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Matching(key) => key.matches(object, summary, ""),
            EventFilter::Vanished => false,
            EventFilter::Created => created,
        }
    }

    fn removed(&self) -> bool {
        !matches!(self, EventFilter::Created)
    }

    fn folder(&self) -> bool {
        matches!(self, EventFilter::All | EventFilter::Matching(_))
    }
}

/// What NMS keeps with a subscription in the store (its `details`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionDetails {
    /// The base of the URLs its notifications name (the box's URL as the
    /// client reached it: scheme, host, store and box).
    pub base: String,
    /// The client's filter ([`EventFilter`]).
    pub filter: Option<SearchCriteria>,
}

impl SubscriptionDetails {
    /// Reads the details a subscription was stored with.
    pub fn of(subscription: &FeedSubscription) -> SubscriptionDetails {
        serde_json::from_slice(&subscription.details).unwrap_or_default()
    }

    /// The bytes stored.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The events of the principal's feed after MODSEQ `after`, at most
/// [`MAX_EVENTS_PER_LIST`] changes read, and the MODSEQ reached (the
/// position after them). An object stored or flagged is a
/// `changedObject` with its state now (one that has since gone is left
/// to the removal's own event); an object removed for good a
/// `deletedObject` (a move is the object's change in its new folder); a
/// folder created or renamed a `changedFolder`; a folder removed a
/// `deletedFolder`. Other changes (ACLs, metadata) are passed over, and
/// so are the events `filter` does not let through.
///
/// Errors: [`StoreError::ChangesPruned`] when `after` is below the feed's
/// horizon; a storage failure.
pub async fn events_after(
    store: &Store,
    principal: &Principal,
    urls: &Urls,
    after: ModSeq,
    filter: &EventFilter,
) -> Result<(Vec<NmsEvent>, ModSeq), StoreError> {
    let changes = store
        .account_changes_since(principal, after, MAX_EVENTS_PER_LIST)
        .await?;
    let reached = changes.last().map_or(after, |c| c.modseq);
    let mut events = Vec::new();
    let mut names: HashMap<FolderId, Option<String>> = HashMap::new();
    for change in changes {
        let name = match names.get(&change.folder) {
            Some(n) => n.clone(),
            None => {
                let n = store.folder_name_by_id(principal, change.folder).await?;
                names.insert(change.folder, n.clone());
                n
            }
        };
        let folder_url = urls.folder(FolderIdent::Id(change.folder));
        match change.kind {
            ChangeKind::ObjectStored { uid } | ChangeKind::FlagsChanged { uid } => {
                let created = matches!(change.kind, ChangeKind::ObjectStored { .. });
                let Some(name) = name else { continue };
                let folder = store_core::FolderRef::own(name);
                let number = match store.object_number(principal, &folder, uid).await {
                    Ok(n) => n,
                    Err(StoreError::NoSuchObject | StoreError::NoSuchFolder) => continue,
                    Err(e) => return Err(e),
                };
                let (object, summary) = match store.fetch_object(principal, &folder, uid).await {
                    Ok(found) => found,
                    Err(StoreError::NoSuchObject | StoreError::NoSuchFolder) => continue,
                    Err(e) => return Err(e),
                };
                // Changed again since: the later change reports it, with
                // its state then (as a removed one is left to its removal),
                // so no two notifications describe one state twice. A
                // CreatedObjects subscriber is still told of its creation,
                // which the later change would not report.
                let created_only = matches!(filter, EventFilter::Created);
                if object.modseq > change.modseq && !(created && created_only) {
                    continue;
                }
                if !filter.stored(&object, &summary, created) {
                    continue;
                }
                let correlation_id = object.cpm.imdn_message_id.clone().or_else(|| {
                    summary
                        .envelope
                        .message_id
                        .as_deref()
                        .map(|id| id.trim().trim_matches(['<', '>']).to_string())
                });
                events.push(NmsEvent::ChangedObject(ChangedObject {
                    parent_folder: folder_url,
                    flags: FlagList {
                        flag: object.flags.iter().map(Flag::new).collect(),
                        resource_url: Some(urls.flags(number)),
                    },
                    resource_url: urls.object(number),
                    last_mod_seq: Some(object.modseq),
                    correlation_id,
                    correlation_tag: None,
                }));
            }
            ChangeKind::ObjectRemoved { uid } if filter.removed() => {
                let gone = store
                    .vanished_object_at(principal, change.modseq, change.folder, uid)
                    .await?;
                if let Some(v) = gone {
                    events.push(NmsEvent::DeletedObject(DeletedObject {
                        resource_url: urls.object(v.number),
                        last_mod_seq: Some(change.modseq),
                        correlation_id: v.correlation_id,
                        correlation_tag: None,
                    }));
                }
            }
            ChangeKind::FolderCreated { name: new } | ChangeKind::FolderRenamed { to: new, .. }
                if filter.folder() =>
            {
                let parent = match representation::parent_name(&new) {
                    None => FolderIdent::Root,
                    Some(p) => match store
                        .folder_status(principal, &store_core::FolderRef::own(p))
                        .await
                    {
                        Ok((f, _)) => Place::of(&f).ident,
                        Err(_) => FolderIdent::Root,
                    },
                };
                events.push(NmsEvent::ChangedFolder(ChangedFolder {
                    parent_folder: urls.folder(parent),
                    resource_url: folder_url,
                    name: representation::leaf_name(&new).to_string(),
                    last_mod_seq: Some(change.modseq),
                }));
            }
            ChangeKind::FolderRemoved { .. } if filter.folder() => {
                events.push(NmsEvent::DeletedFolder(DeletedFolder {
                    resource_url: folder_url,
                    last_mod_seq: Some(change.modseq),
                }));
            }
            _ => {}
        }
    }
    Ok((events, reached))
}

/// The running delivery tasks, by account and subscription id, each with
/// the signal that wakes it.
type Running = HashMap<(u64, String), Arc<Notify>>;

/// The delivery tasks of the server's subscriptions: one per
/// subscription, woken when the account changes or the subscription is
/// updated.
#[derive(Clone)]
pub struct Deliveries {
    store: Store,
    channels: Channels,
    /// The HTTP client of callbacks; `None` when it could not be built
    /// (no TLS provider): callbacks are then retried, and logged, while
    /// channel deliveries go on.
    client: Option<reqwest::Client>,
    running: Arc<Mutex<Running>>,
}

impl Deliveries {
    /// Starts the delivery of every stored subscription; a subscription
    /// whose callback is one of `channels`' callback URLs is delivered
    /// into that channel directly.
    pub async fn start(store: Store, channels: Channels) -> Deliveries {
        let client = reqwest::Client::builder()
            .timeout(CALLBACK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                tracing::error!(error = %e, "no HTTP client for NMS callbacks; they will be retried")
            })
            .ok();
        let deliveries = Deliveries {
            store: store.clone(),
            channels,
            client,
            running: Arc::default(),
        };
        deliveries.rescan().await;
        let again = deliveries.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RESCAN_INTERVAL);
            every.tick().await;
            loop {
                every.tick().await;
                again.start_new().await;
            }
        });
        deliveries
    }

    /// Wakes (or starts) the delivery of every stored subscription.
    async fn rescan(&self) {
        match self.store.all_feed_subscriptions().await {
            Ok(all) => {
                for s in all {
                    self.wake(&s);
                }
            }
            Err(e) => tracing::error!(error = %e, "NMS subscriptions could not be read"),
        }
    }

    /// Starts the delivery of the stored subscriptions that have no task
    /// here (made on another node); running ones are not woken.
    async fn start_new(&self) {
        let Ok(all) = self.store.all_feed_subscriptions().await else {
            return;
        };
        for s in all {
            let known = self
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&(s.account, s.id.clone()));
            if !known {
                self.wake(&s);
            }
        }
    }

    /// Wakes the delivery of `subscription` (created, updated), starting
    /// it if it is not running.
    pub fn wake(&self, subscription: &FeedSubscription) {
        let key = (subscription.account, subscription.id.clone());
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(notify) = running.get(&key) {
            notify.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        running.insert(key.clone(), notify.clone());
        let this = self.clone();
        tokio::spawn(async move {
            this.deliver(key.0, key.1.clone(), notify).await;
            let mut running = this.running.lock().unwrap_or_else(|e| e.into_inner());
            running.remove(&key);
        });
    }

    /// The delivery loop of one subscription, until it ends.
    async fn deliver(&self, account: u64, id: String, wake: Arc<Notify>) {
        let mut pause = Duration::from_secs(1);
        let mut changes: Option<tokio::sync::broadcast::Receiver<_>> = None;
        loop {
            let Ok(sub) = self.store.feed_subscription(account, &id).await else {
                return;
            };
            let now = store_core::now();
            if sub.expires.is_some_and(|e| e <= now) {
                tracing::info!(account, id, "NMS subscription expired");
                let _ = self.store.remove_feed_subscription(account, &id).await;
                return;
            }
            let Ok(principal) = self.store.trusted_element(&sub.login).await else {
                let _ = self.store.remove_feed_subscription(account, &id).await;
                return;
            };
            // Only the node holding the delivery lease delivers.
            match self.store.claim_delivery(account, &id, LEASE_MARGIN).await {
                Ok(store_core::DeliveryClaim::Held(_)) => {}
                Ok(store_core::DeliveryClaim::Elsewhere(until)) => {
                    // Not ours: no change feed held open meanwhile.
                    changes = None;
                    let left = Duration::from_secs(until.saturating_sub(now).max(1) as u64);
                    tokio::select! {
                        _ = tokio::time::sleep(left.min(MAX_RETRY_PAUSE)) => {}
                        _ = wake.notified() => {}
                    }
                    continue;
                }
                Err(StoreError::NoSuchObject) => return,
                Err(e) => {
                    tracing::debug!(account, id, error = %e, "NMS delivery lease not claimed; retrying");
                    tokio::time::sleep(pause).await;
                    continue;
                }
            }
            let receiver = changes.get_or_insert_with(|| self.store.subscribe_changes(&principal));
            match self.deliver_once(&principal, &sub).await {
                Ok(true) => {
                    pause = Duration::from_secs(1);
                    continue;
                }
                Ok(false) => pause = Duration::from_secs(1),
                Err(Ending::Gone) => {
                    tracing::info!(
                        account,
                        id,
                        "NMS callback gone (404/410): subscription ended"
                    );
                    let _ = self.store.remove_feed_subscription(account, &id).await;
                    return;
                }
                Err(Ending::Retry(why)) => {
                    tracing::debug!(account, id, reason = %why, "NMS notification not delivered; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = wake.notified() => {}
                    }
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                    continue;
                }
            }
            let until_expiry = sub
                .expires
                .map(|e| Duration::from_secs(e.saturating_sub(now).max(0) as u64));
            // Woken at least every MAX_LEASE_WAIT to renew the lease.
            let wait = until_expiry.unwrap_or(MAX_LEASE_WAIT).min(MAX_LEASE_WAIT);
            tokio::select! {
                _ = receiver.recv() => {}
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sends the next notification list of `sub`, if there is one to
    /// send; whether one was sent (more may follow at once).
    async fn deliver_once(
        &self,
        principal: &Principal,
        sub: &FeedSubscription,
    ) -> Result<bool, Ending> {
        let details = SubscriptionDetails::of(sub);
        let urls = Urls {
            base: details.base.clone(),
        };
        let store_error = |e: StoreError| Ending::Retry(e.to_string());
        let (mut events, reached, reset) = if sub.reset_pending {
            (vec![NmsEvent::ResetBox(ResetBox)], sub.position, true)
        } else {
            let filter = EventFilter::of(details.filter.as_ref()).unwrap_or(EventFilter::All);
            match events_after(&self.store, principal, &urls, sub.position, &filter).await {
                Ok((events, reached)) => (events, reached, false),
                Err(StoreError::ChangesPruned { .. }) => {
                    let now = self
                        .store
                        .account_modseq(principal)
                        .await
                        .map_err(store_error)?;
                    (vec![NmsEvent::ResetBox(ResetBox)], now, true)
                }
                Err(e) => return Err(store_error(e)),
            }
        };
        if events.is_empty() {
            if reached > sub.position {
                self.store
                    .update_feed_subscription(sub.account, &sub.id, move |s| {
                        s.position = s.position.max(reached);
                    })
                    .await
                    .map_err(store_error)?;
            }
            return Ok(false);
        }
        let index = sub.index + 1;
        let restart_token = self
            .store
            .restart_token(principal, reached)
            .await
            .map_err(store_error)?;
        let list = NmsEventListRoot {
            nms_event_list: NmsEventList {
                nms_event: std::mem::take(&mut events),
                callback_data: sub.callback_data.clone(),
                index: Some(index),
                restart_token: Some(restart_token),
                link: vec![crate::types::Link {
                    rel: "NmsSubscription".into(),
                    href: format!("{}/subscriptions/{}", details.base, sub.id),
                }],
            },
        };
        if let Some(channel) = self.channels.by_callback(&sub.callback) {
            let item = serde_json::to_value(&list).unwrap_or_default();
            if !self.channels.deliver(&channel, item) {
                return Err(Ending::Gone);
            }
        } else {
            self.post(&sub.callback, &list).await?;
        }
        self.store
            .update_feed_subscription(sub.account, &sub.id, move |s| {
                s.index = index;
                s.position = reached;
                if reset {
                    s.reset_pending = false;
                }
            })
            .await
            .map_err(store_error)?;
        Ok(true)
    }

    /// POSTs a notification list to a callback (TS 6.19.5).
    async fn post(&self, url: &str, list: &NmsEventListRoot) -> Result<(), Ending> {
        let Some(client) = &self.client else {
            return Err(Ending::Retry("no HTTP client for callbacks".into()));
        };
        let answer = client
            .post(url)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(list).unwrap_or_default())
            .send()
            .await
            .map_err(|e| Ending::Retry(e.to_string()))?;
        match answer.status().as_u16() {
            200..=299 => Ok(()),
            404 | 410 => Err(Ending::Gone),
            other => Err(Ending::Retry(format!("callback answered {other}"))),
        }
    }
}

/// Why a delivery did not go through.
enum Ending {
    /// The callback is gone (404, 410): the subscription ends.
    Gone,
    /// Anything else: try again later.
    Retry(String),
}
