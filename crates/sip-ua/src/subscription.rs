//! Subscriptions to an account's change feed (RFC 6665, the notifier
//! side), for the `cpm-changes` event package this store defines.
//!
//! A network element SUBSCRIBEs to `Event: cpm-changes` for an account
//! (the served user, as for a deposit). The store answers 200, and every
//! NOTIFY of the dialog then carries a JSON body
//! ([`CONTENT_TYPE`]) naming the account, the latest MODSEQ it reports,
//! and each change: its MODSEQ, folder, and what happened (an object
//! stored, removed or re-flagged, with its UID; a folder created, renamed
//! or removed; an ACL, metadata or subscription change; a quota level
//! reached). For example:
//!
//! ```json
//! {"account":"sip:alice@example.com","modseq":42,"changes":[
//!   {"modseq":42,"folder":"conv-1","event":"stored","uid":7}]}
//! ```
//!
//! The first NOTIFY follows the 200 at once (RFC 6665 4.2.1.2). It has no
//! change unless the SUBSCRIBE asked for those after a MODSEQ with the
//! Event parameter `since` (`Event: cpm-changes;since=40`): the changes a
//! client missed while it was away (seed 002, 5.5.1.20), read from the
//! persisted feed, in as many NOTIFYs as they need. If some of those were
//! pruned (`[store] change_retention_days`), the first NOTIFY has
//! `"resync":true`, no change and the account's current MODSEQ instead:
//! the client resynchronizes in full. Each later NOTIFY
//! carries the changes committed since the one before; NOTIFYs are sent
//! one at a time, in order, each after the previous one was answered.
//!
//! The subscription ends when it expires (a last NOTIFY with
//! `Subscription-State: terminated;reason=timeout`), when the subscriber
//! ends it (SUBSCRIBE with `Expires: 0`: `reason=timeout` too, RFC 6665
//! 4.2.1.4), when a NOTIFY is refused or unanswered (RFC 6665 4.2.2: no
//! further NOTIFY), and when the store stops (`reason=deactivated`, so
//! the subscriber subscribes again at once, RFC 6665 4.1.3).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use store_core::model::{Change, ChangeKind, FolderId, ModSeq, QuotaResource};
use store_core::{Principal, StoreError};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use crate::outbound::{body_budget, new_via, HopError};
use crate::transport::Peer;
use crate::uri::uri_of;
use crate::wire::render::PRODUCT;
use crate::wire::{Headers, Request};
use crate::SipUa;

/// The event package (RFC 6665 7.2: `Event` and `Allow-Events`).
pub const PACKAGE: &str = "cpm-changes";
/// The media type of NOTIFY bodies.
pub const CONTENT_TYPE: &str = "application/vnd.cpm-store.changes+json";
/// Most changes read from the persisted feed at once.
const BACKLOG_PAGE: usize = 500;
/// Largest NOTIFY body over a stream, in bytes.
const STREAM_BODY_LIMIT: usize = 60_000;
/// How long the last NOTIFY may take when the store stops.
const SHUTDOWN_NOTIFY_WAIT: Duration = Duration::from_secs(2);

/// A dialog this store is the notifier of: the SUBSCRIBE's Call-ID and
/// the To tag the store chose (RFC 3261 12: with the subscriber's tag,
/// the dialog ID; the store's own tag alone is random enough to find it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// The store's tag.
    pub local_tag: String,
}

/// What a refreshing SUBSCRIBE asks of a running subscription.
#[derive(Debug)]
pub enum Refresh {
    /// Run for this much longer from now.
    Extend(Duration),
    /// End now (`Expires: 0`).
    End,
}

/// The running subscriptions, by dialog, and the places they take
/// against `max_subscriptions`.
#[derive(Debug, Default)]
pub struct Subscriptions {
    active: Mutex<HashMap<DialogId, mpsc::Sender<Refresh>>>,
    slots: Arc<AtomicUsize>,
}

/// A subscription's place against `max_subscriptions`, taken when its
/// SUBSCRIBE is accepted and freed (dropped) when its task ends: after
/// the last NOTIFY of a final catch-up, which runs once the dialog is
/// already forgotten.
#[derive(Debug)]
pub struct SubscriptionSlot(Arc<AtomicUsize>);

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Subscriptions {
    /// A place for one more subscription, if fewer than `max` hold one
    /// (running ones, and ended ones still sending their catch-up).
    pub fn reserve(&self, max: usize) -> Option<SubscriptionSlot> {
        self.slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| SubscriptionSlot(self.slots.clone()))
    }

    /// How many places are held (see [`Subscriptions::reserve`]).
    pub fn slots_held(&self) -> usize {
        self.slots.load(Ordering::Acquire)
    }

    /// How many dialogs run.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Passes `refresh` to the subscription of `id`; `false` if there is
    /// none (the SUBSCRIBE then gets 481).
    pub fn refresh(&self, id: &DialogId, refresh: Refresh) -> bool {
        match self.lock().get(id) {
            Some(tx) => tx.try_send(refresh).is_ok(),
            None => false,
        }
    }

    /// Whether `id` runs.
    pub fn contains(&self, id: &DialogId) -> bool {
        self.lock().contains_key(id)
    }

    fn insert(&self, id: DialogId, tx: mpsc::Sender<Refresh>) {
        self.lock().insert(id, tx);
    }

    fn remove(&self, id: &DialogId) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DialogId, mpsc::Sender<Refresh>>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The dialog state a notifier keeps (RFC 3261 12.1.1, RFC 6665 4.2).
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID and the store's tag.
    pub id: DialogId,
    /// The store's side: the SUBSCRIBE's To value, with the store's tag.
    pub local: String,
    /// The subscriber's side: the SUBSCRIBE's From value (with its tag).
    pub remote: String,
    /// The subscriber's Contact URI, the Request-URI of NOTIFYs.
    pub remote_target: String,
    /// The SUBSCRIBE's Record-Route values in order: the Route set.
    pub route_set: Vec<String>,
    /// The Event value NOTIFYs carry (the package, and its `id` if the
    /// SUBSCRIBE gave one).
    pub event: String,
    /// Where the SUBSCRIBE came from: NOTIFYs go back over its stream
    /// while it is open.
    pub origin: Peer,
}

/// A subscription about to start.
pub struct Subscription {
    /// Its dialog.
    pub dialog: Dialog,
    /// The account followed.
    pub principal: Principal,
    /// The account's address (the `account` of NOTIFY bodies).
    pub address: String,
    /// Report the persisted changes after this MODSEQ first.
    pub since: Option<ModSeq>,
    /// How long it runs unless refreshed; zero = one NOTIFY, then ended.
    pub expires: Duration,
    /// Its place against `max_subscriptions`, held until its task ends.
    pub slot: SubscriptionSlot,
}

/// How a NOTIFY ended.
enum Sent {
    Accepted,
    /// Refused, unanswered or undeliverable: the subscription is over.
    Failed,
}

impl SipUa {
    /// Starts `subscription`: registers its dialog and spawns the task
    /// that sends its NOTIFYs until it ends.
    pub fn start_subscription(&self, subscription: Subscription) {
        let (tx, rx) = mpsc::channel(4);
        let id = subscription.dialog.id.clone();
        self.subscriptions().insert(id.clone(), tx);
        let ua = self.clone();
        let (_, tasks) = self.runtime();
        tasks.spawn(async move {
            ua.notify_until_ended(subscription, rx).await;
            ua.subscriptions().remove(&id);
        });
    }

    async fn notify_until_ended(&self, sub: Subscription, mut refreshes: mpsc::Receiver<Refresh>) {
        let (mut shutdown, _) = self.runtime();
        let store = self.store();
        let mut notifier = Notifier {
            ua: self,
            dialog: sub.dialog,
            address: sub.address,
            cseq: 0,
            folders: HashMap::new(),
            principal: sub.principal,
        };
        // Listen before reading, so that nothing committed in between is
        // missed; what both give is told once, by MODSEQ.
        let mut feed = store.subscribe_changes(&notifier.principal);
        let mut reported = match sub.since {
            Some(m) => m,
            None => match store.account_modseq(&notifier.principal).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "subscription: account unreadable");
                    return;
                }
            },
        };
        if sub.expires.is_zero() {
            notifier.terminate(&mut reported).await;
            return;
        }
        let mut ends = Instant::now() + sub.expires;
        let state = |ends: Instant| {
            format!(
                "active;expires={}",
                ends.saturating_duration_since(Instant::now()).as_secs()
            )
        };
        if let Sent::Failed = notifier.catch_up(&mut reported, &state(ends)).await {
            return;
        }
        loop {
            tokio::select! {
                received = feed.recv() => {
                    let mut changes = Vec::new();
                    match received {
                        Ok(c) => changes.push(c),
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            if let Sent::Failed = notifier.catch_up(&mut reported, &state(ends)).await {
                                return;
                            }
                            continue;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                    // Whatever else is already committed joins this NOTIFY.
                    while let Ok(c) = feed.try_recv() {
                        changes.push(c);
                    }
                    changes.retain(|c| c.modseq > reported);
                    if changes.is_empty() {
                        continue;
                    }
                    if let Sent::Failed = notifier.send_changes(&changes, &mut reported, &state(ends), None).await {
                        return;
                    }
                }
                refresh = refreshes.recv() => match refresh {
                    Some(Refresh::Extend(d)) => {
                        ends = Instant::now() + d;
                        if let Sent::Failed = notifier.notify(reported, &[], &state(ends)).await {
                            return;
                        }
                    }
                    Some(Refresh::End) | None => {
                        notifier.terminate(&mut reported).await;
                        return;
                    }
                },
                _ = tokio::time::sleep_until(ends) => {
                    notifier.terminate(&mut reported).await;
                    return;
                }
                _ = async { drop(shutdown.wait_for(|stop| *stop).await) } => {
                    self.subscriptions().remove(&notifier.dialog.id);
                    let last = notifier.notify(reported, &[], "terminated;reason=deactivated");
                    let _ = tokio::time::timeout(SHUTDOWN_NOTIFY_WAIT, last).await;
                    return;
                }
            }
        }
    }
}

/// What [`Notifier::backlog_page`] found.
enum Backlog {
    /// The next changes (none when the subscriber is up to date).
    Page(Vec<Change>),
    /// Changes after the MODSEQ asked for were pruned
    /// ([`StoreError::ChangesPruned`]).
    Pruned,
    /// The change feed cannot be read.
    Unreadable,
}

/// Sends the NOTIFYs of one subscription.
struct Notifier<'a> {
    ua: &'a SipUa,
    dialog: Dialog,
    principal: Principal,
    address: String,
    cseq: u32,
    /// Folder names by id, read again when a change names an unknown one.
    folders: HashMap<FolderId, String>,
}

impl Notifier<'_> {
    /// Ends the subscription (expired, unsubscribed, or a one-off fetch
    /// with `Expires: 0`): forgets its dialog, so that a SUBSCRIBE in it
    /// now gets 481, then reports what is left. Only the last NOTIFY says
    /// `terminated;reason=timeout`: a subscriber stops at the first
    /// terminated NOTIFY and answers the next with 481 (RFC 6665 4.1.3,
    /// 4.2.2), so the NOTIFYs of a catch-up before it say
    /// `active;expires=N`, N the seconds the store gives itself to send
    /// each (Timer F). The last NOTIFY carries the last changes (a look
    /// one change ahead tells which page is the last), or none when there
    /// is nothing to report. If changes after `reported` were pruned
    /// (before the catch-up or while it runs), it ends with one resync
    /// NOTIFY instead ([`Self::resync`]). If the change feed cannot be
    /// read (a page or the look ahead), the catch-up stops with
    /// `terminated;reason=deactivated` instead: no claim that it is
    /// complete, and the subscriber subscribes again.
    async fn terminate(&mut self, reported: &mut ModSeq) {
        const TERMINATED: &str = "terminated;reason=timeout";
        self.ua.subscriptions().remove(&self.dialog.id);
        let interim = format!(
            "active;expires={}",
            self.ua.config().transaction_timeout().as_secs().max(1)
        );
        // The feed cannot be read: the catch-up stops without claiming it
        // is complete; `deactivated` has the subscriber subscribe again
        // at once, from what it has (RFC 6665 4.1.3, 4.2.2).
        const CUT_SHORT: &str = "terminated;reason=deactivated";
        loop {
            let page = match self.backlog_page(*reported).await {
                Backlog::Page(page) => page,
                Backlog::Pruned => {
                    let _ = self.resync(reported, TERMINATED).await;
                    return;
                }
                Backlog::Unreadable => {
                    let _ = self.notify(*reported, &[], CUT_SHORT).await;
                    return;
                }
            };
            let Some(page_end) = page.last().map(|c| c.modseq) else {
                let _ = self.notify(*reported, &[], TERMINATED).await;
                return;
            };
            let last = match self
                .ua
                .store()
                .account_changes_since(&self.principal, page_end, 1)
                .await
            {
                Ok(next) if next.is_empty() => Some(TERMINATED),
                Ok(_) => None,
                // Pruned past this page since it was read: what follows
                // it is gone, so the subscriber resynchronizes in full.
                Err(StoreError::ChangesPruned { .. }) => {
                    let _ = self.resync(reported, TERMINATED).await;
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "subscription: change feed unreadable");
                    Some(CUT_SHORT)
                }
            };
            let more = last.is_none();
            if let Sent::Failed = self.send_changes(&page, reported, &interim, last).await {
                return;
            }
            if !more {
                return;
            }
        }
    }

    /// The next page of persisted changes after `reported` (at most
    /// [`BACKLOG_PAGE`], never splitting the changes of one MODSEQ);
    /// [`Backlog::Pruned`] if changes after `reported` were pruned
    /// (`[store] change_retention_days`), [`Backlog::Unreadable`] if the
    /// feed cannot be read.
    async fn backlog_page(&self, reported: ModSeq) -> Backlog {
        let mut page = match self
            .ua
            .store()
            .account_changes_since(&self.principal, reported, BACKLOG_PAGE)
            .await
        {
            Ok(p) => p,
            Err(StoreError::ChangesPruned { horizon }) => {
                tracing::debug!(
                    reported,
                    horizon,
                    "subscription: asks below the feed horizon"
                );
                return Backlog::Pruned;
            }
            Err(e) => {
                tracing::error!(error = %e, "subscription: change feed unreadable");
                return Backlog::Unreadable;
            }
        };
        if page.len() == BACKLOG_PAGE {
            let last = page[page.len() - 1].modseq;
            if page.iter().any(|c| c.modseq != last) {
                page.retain(|c| c.modseq != last);
            }
        }
        Backlog::Page(page)
    }

    /// The changes after `reported` were pruned: tells the subscriber to
    /// resynchronize in full with one NOTIFY (`state`) whose body has
    /// `"resync":true`, no change, and the account's current MODSEQ, from
    /// which `reported` goes on (RFC 6665 4.2.1.2: the first NOTIFY
    /// carries the state; README "SIP").
    async fn resync(&mut self, reported: &mut ModSeq, state: &str) -> Sent {
        let now = match self.ua.store().account_modseq(&self.principal).await {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "subscription: account unreadable");
                return Sent::Failed;
            }
        };
        let body = json!({
            "account": self.address,
            "modseq": now,
            "resync": true,
            "changes": [],
        });
        let sent = self.send(body, state).await;
        if let Sent::Accepted = sent {
            *reported = now;
        }
        sent
    }

    /// Reports every persisted change after `reported`, in as many
    /// NOTIFYs as they need, each with `state`; one NOTIFY with no change
    /// if there is none.
    async fn catch_up(&mut self, reported: &mut ModSeq, state: &str) -> Sent {
        let mut sent_one = false;
        loop {
            let page = match self.backlog_page(*reported).await {
                Backlog::Page(page) => page,
                Backlog::Pruned => return self.resync(reported, state).await,
                Backlog::Unreadable => return Sent::Failed,
            };
            if page.is_empty() {
                if sent_one {
                    return Sent::Accepted;
                }
                return self.notify(*reported, &[], state).await;
            }
            if let Sent::Failed = self.send_changes(&page, reported, state, None).await {
                return Sent::Failed;
            }
            sent_one = true;
        }
    }

    /// Reports `changes` (in MODSEQ order) in NOTIFYs whose bodies fit the
    /// transport, advancing `reported`: each with `state`, the last one
    /// with `last_state` when given.
    async fn send_changes(
        &mut self,
        changes: &[Change],
        reported: &mut ModSeq,
        state: &str,
        last_state: Option<&str>,
    ) -> Sent {
        let budget = body_budget(&self.dialog.origin, STREAM_BODY_LIMIT);
        let mut described = Vec::with_capacity(changes.len());
        for change in changes {
            described.push((change.modseq, self.describe(change).await));
        }
        let mut start = 0;
        while start < described.len() {
            // At least one change per NOTIFY; then as many as fit.
            let mut end = start + 1;
            let mut size = 120 + self.address.len() + described[start].1.to_string().len();
            while end < described.len() {
                let next = described[end].1.to_string().len() + 1;
                if size + next > budget {
                    break;
                }
                size += next;
                end += 1;
            }
            let modseq = described[end - 1].0;
            let entries: Vec<Value> = described[start..end]
                .iter()
                .map(|(_, v)| v.clone())
                .collect();
            let state = match last_state {
                Some(last) if end == described.len() => last,
                _ => state,
            };
            if let Sent::Failed = self.notify(modseq, &entries, state).await {
                return Sent::Failed;
            }
            *reported = modseq;
            start = end;
        }
        Sent::Accepted
    }

    /// One change as a JSON object.
    async fn describe(&mut self, change: &Change) -> Value {
        let mut entry = json!({ "modseq": change.modseq });
        let name = match &change.kind {
            ChangeKind::FolderRemoved { name } | ChangeKind::FolderCreated { name } => {
                self.folders.remove(&change.folder);
                Some(name.clone())
            }
            ChangeKind::FolderRenamed { to, .. } => {
                // The cached name of the id moves with it.
                self.folders.insert(change.folder, to.clone());
                Some(to.clone())
            }
            _ => self.folder_name(change.folder).await,
        };
        if let Some(name) = name {
            entry["folder"] = json!(name);
        }
        let (event, details) = match &change.kind {
            ChangeKind::ObjectStored { uid } => ("stored", json!({ "uid": uid })),
            ChangeKind::ObjectRemoved { uid } => ("removed", json!({ "uid": uid })),
            ChangeKind::FlagsChanged { uid } => ("flags", json!({ "uid": uid })),
            ChangeKind::FolderCreated { .. } => ("folder-created", json!({})),
            ChangeKind::FolderRenamed { from, .. } => ("folder-renamed", json!({ "from": from })),
            ChangeKind::FolderRemoved { .. } => ("folder-removed", json!({})),
            ChangeKind::AclChanged => ("acl", json!({})),
            ChangeKind::MetadataChanged { entry } => ("metadata", json!({ "entry": entry })),
            ChangeKind::SubscriptionChanged { name } => ("subscription", json!({ "name": name })),
            ChangeKind::QuotaLevel {
                resource,
                percent,
                used,
                limit,
            } => (
                "quota",
                json!({
                    "resource": match resource {
                        QuotaResource::Storage => "STORAGE",
                        QuotaResource::Message => "MESSAGE",
                    },
                    "percent": percent,
                    "used": used,
                    "limit": limit,
                }),
            ),
        };
        entry["event"] = json!(event);
        if let (Value::Object(e), Value::Object(d)) = (&mut entry, details) {
            e.extend(d);
        }
        entry
    }

    /// The name of one of the account's folders, read by id when the id is
    /// new (a folder created since): one record, whatever the account holds.
    async fn folder_name(&mut self, id: FolderId) -> Option<String> {
        if !self.folders.contains_key(&id) {
            if let Ok(Some(name)) = self.ua.store().folder_name_by_id(&self.principal, id).await {
                self.folders.insert(id, name);
            }
        }
        self.folders.get(&id).cloned()
    }

    /// Sends one NOTIFY and waits for its final response.
    async fn notify(&mut self, modseq: ModSeq, changes: &[Value], state: &str) -> Sent {
        let body = json!({
            "account": self.address,
            "modseq": modseq,
            "changes": changes,
        });
        self.send(body, state).await
    }

    /// Sends one NOTIFY with the JSON `body` and waits for its final
    /// response.
    async fn send(&mut self, body: Value, state: &str) -> Sent {
        let body = Bytes::from(body.to_string());
        let target = self.next_hop_uri();
        let peer = match self
            .ua
            .next_hop(&self.dialog.origin, Some(target), body.len())
            .await
        {
            Ok(peer) => peer,
            Err(e @ HopError::NeedsTls(_)) => {
                tracing::warn!(error = %e, "subscription ended: its NOTIFY is not sent in cleartext");
                return Sent::Failed;
            }
            Err(e) => {
                tracing::info!(error = %e, "subscription ended: subscriber unreachable");
                return Sent::Failed;
            }
        };
        self.cseq += 1;
        let request = self.request(&peer, state, body);
        match self
            .ua
            .client_transactions()
            .send(&peer, &request, self.ua.config())
            .await
        {
            Ok(r) if (200..300).contains(&r.code) => Sent::Accepted,
            Ok(r) => {
                tracing::info!(code = r.code, "subscription ended by a NOTIFY response");
                Sent::Failed
            }
            Err(e) => {
                tracing::info!(error = %e, "subscription ended: NOTIFY not answered");
                Sent::Failed
            }
        }
    }

    /// The URI NOTIFYs go to: the first Route (loose routing, RFC 3261
    /// 12.2.1.1), else the remote target ([`SipUa::next_hop`] decides
    /// whether its address is used).
    fn next_hop_uri(&self) -> &str {
        match self.dialog.route_set.first() {
            Some(route) => uri_of(route),
            None => &self.dialog.remote_target,
        }
    }

    /// The NOTIFY (RFC 6665 4.2.2, RFC 3261 12.2.1.1).
    fn request(&self, peer: &Peer, state: &str, body: Bytes) -> Request {
        let d = &self.dialog;
        let mut headers = Headers::new();
        headers.push("Via", new_via(peer));
        for route in &d.route_set {
            headers.push("Route", route.clone());
        }
        headers.push("Max-Forwards", "70");
        headers.push("From", d.local.clone());
        headers.push("To", d.remote.clone());
        headers.push("Call-ID", d.id.call_id.clone());
        headers.push("CSeq", format!("{} NOTIFY", self.cseq));
        headers.push("Contact", contact(peer));
        headers.push("Event", d.event.clone());
        headers.push("Subscription-State", state);
        headers.push("User-Agent", PRODUCT);
        headers.push("Content-Type", CONTENT_TYPE);
        Request {
            method: "NOTIFY".into(),
            uri: d.remote_target.clone(),
            headers,
            body,
        }
    }
}

/// The store's Contact on the transport of `peer` (RFC 3261 8.1.1.8).
pub fn contact(peer: &Peer) -> String {
    let transport = match peer.transport {
        crate::transport::Transport::Udp => "",
        crate::transport::Transport::Tcp => ";transport=tcp",
        crate::transport::Transport::Tls => ";transport=tls",
    };
    let scheme = if peer.transport == crate::transport::Transport::Tls {
        "sips"
    } else {
        "sip"
    };
    format!("<{scheme}:cpm-store@{}{transport}>", peer.local)
}
