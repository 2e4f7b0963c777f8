//! Notification channels (OMA REST NetAPI Notification Channel 1.0, "NC
//! TS"): per-account queues of notifications that a client collects by
//! long polling its channel URL or receives over a WebSocket opened on
//! it, for clients that cannot be called back. An NMS subscription whose
//! notifyURL is a channel's callbackURL is delivered into the channel
//! directly, without an HTTP round trip ([`crate::notifications`]).
//!
//! Channels live in memory: a restart ends them (their clients create
//! new ones, as after a lifetime's end); a channel not polled within its
//! lifetime is removed. Bounds: [`MAX_CHANNELS_PER_ACCOUNT`] channels per
//! account, [`MAX_QUEUED`] notifications queued per channel (the oldest
//! dropped past it), waits of at most [`MAX_WAIT_SECONDS`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{oneshot, Notify};

use crate::types::ChannelType;

/// Most channels one account may hold.
pub const MAX_CHANNELS_PER_ACCOUNT: usize = 16;

/// Most notifications a channel holds for its client.
pub const MAX_QUEUED: usize = 1000;

/// The longest a poll waits, in seconds (below the HTTP idle limits).
pub const MAX_WAIT_SECONDS: u32 = 50;

/// A poll's wait when the channel names none, in seconds.
pub const DEFAULT_WAIT_SECONDS: u32 = 30;

/// A channel's lifetime when the client asks for none, in seconds.
pub const DEFAULT_LIFETIME: u32 = 7200;

/// The longest lifetime granted, in seconds (a day).
pub const MAX_LIFETIME: u32 = 86_400;

/// One channel.
#[derive(Debug)]
pub struct Channel {
    /// Its id (random: it is also the secret of its callback URL).
    pub id: String,
    /// The account it belongs to.
    pub account: u64,
    /// LongPolling or WebSockets.
    pub channel_type: ChannelType,
    /// The client's correlator.
    pub client_correlator: Option<String>,
    /// The client's tag.
    pub application_tag: Option<String>,
    /// Most notifications in one list.
    pub max_notifications: u32,
    /// A poll's longest wait, in seconds.
    pub max_wait: u32,
    /// The lifetime granted, in seconds (each poll restarts it).
    pub lifetime: u32,
    /// When it ends, Unix seconds.
    pub expires: i64,
    /// The callback URL notification servers deliver to.
    pub callback_url: String,
    /// The channel URL the client polls.
    pub channel_url: String,
    /// Notifications waiting for the client.
    queue: VecDeque<Value>,
    /// Wakes the waiting poll or WebSocket.
    arrived: Arc<Notify>,
    /// Ends the poll in progress, if any (a newer poll, the channel's
    /// removal); true: removed.
    poll: Option<oneshot::Sender<bool>>,
}

/// How a poll ended without notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollEnd {
    /// Another poll took over (NC TS 7.1.1 SVC1012).
    Superseded,
    /// The channel was removed.
    Removed,
}

/// Every channel of the server.
#[derive(Debug, Clone, Default)]
pub struct Channels {
    inner: Arc<Mutex<HashMap<String, Channel>>>,
}

/// What a channel's creation asks for.
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// LongPolling or WebSockets.
    pub channel_type: ChannelType,
    /// The client's correlator.
    pub client_correlator: Option<String>,
    /// The client's tag.
    pub application_tag: Option<String>,
    /// Most notifications per list, if given.
    pub max_notifications: Option<u32>,
    /// A poll's longest wait, if given.
    pub max_wait: Option<u32>,
    /// The lifetime wanted, if given.
    pub lifetime: Option<u32>,
}

/// A copy of a channel's public state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelView {
    /// Its id.
    pub id: String,
    /// Its type.
    pub channel_type: ChannelType,
    /// The client's correlator.
    pub client_correlator: Option<String>,
    /// The client's tag.
    pub application_tag: Option<String>,
    /// Most notifications per list.
    pub max_notifications: u32,
    /// A poll's longest wait, in seconds.
    pub max_wait: u32,
    /// Remaining lifetime, in seconds.
    pub remaining: u32,
    /// Its callback URL.
    pub callback_url: String,
    /// Its channel URL.
    pub channel_url: String,
}

fn lifetime(wanted: Option<u32>) -> u32 {
    match wanted {
        None | Some(0) => DEFAULT_LIFETIME,
        Some(l) => l.min(MAX_LIFETIME),
    }
}

impl Channels {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Channel>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn view(c: &Channel, now: i64) -> ChannelView {
        ChannelView {
            id: c.id.clone(),
            channel_type: c.channel_type,
            client_correlator: c.client_correlator.clone(),
            application_tag: c.application_tag.clone(),
            max_notifications: c.max_notifications,
            max_wait: c.max_wait,
            remaining: u32::try_from((c.expires - now).max(0)).unwrap_or(0),
            callback_url: c.callback_url.clone(),
            channel_url: c.channel_url.clone(),
        }
    }

    /// Drops the expired channels (their polls end as removed).
    fn sweep(map: &mut HashMap<String, Channel>, now: i64) {
        map.retain(|_, c| {
            let alive = c.expires > now;
            if !alive {
                if let Some(p) = c.poll.take() {
                    let _ = p.send(true);
                }
            }
            alive
        });
    }

    /// Creates a channel for `account`; `urls` makes its resource,
    /// channel and callback URLs from its id. The same client correlator
    /// again finds the channel it made (`false`: not new).
    ///
    /// Errors: the reason, past [`MAX_CHANNELS_PER_ACCOUNT`].
    pub fn create(
        &self,
        account: u64,
        wanted: NewChannel,
        urls: impl Fn(&str) -> (String, String),
    ) -> Result<(ChannelView, bool), String> {
        let now = store_core::now();
        let mut map = self.lock();
        Self::sweep(&mut map, now);
        if let Some(c) = wanted.client_correlator.as_ref().and_then(|cc| {
            map.values()
                .find(|c| c.account == account && c.client_correlator.as_ref() == Some(cc))
        }) {
            return Ok((Self::view(c, now), false));
        }
        if map.values().filter(|c| c.account == account).count() >= MAX_CHANNELS_PER_ACCOUNT {
            return Err(format!(
                "at most {MAX_CHANNELS_PER_ACCOUNT} channels per account"
            ));
        }
        let id = format!("ch{}", uuid::Uuid::new_v4().simple());
        let (callback_url, channel_url) = urls(&id);
        let lifetime = lifetime(wanted.lifetime);
        let channel = Channel {
            id: id.clone(),
            account,
            channel_type: wanted.channel_type,
            client_correlator: wanted.client_correlator,
            application_tag: wanted.application_tag,
            max_notifications: wanted.max_notifications.unwrap_or(1).clamp(1, 100),
            max_wait: wanted
                .max_wait
                .unwrap_or(DEFAULT_WAIT_SECONDS)
                .min(MAX_WAIT_SECONDS),
            lifetime,
            expires: now + i64::from(lifetime),
            callback_url,
            channel_url,
            queue: VecDeque::new(),
            arrived: Arc::new(Notify::new()),
            poll: None,
        };
        let view = Self::view(&channel, now);
        map.insert(id, channel);
        Ok((view, true))
    }

    /// `account`'s channel `id`.
    pub fn get(&self, account: u64, id: &str) -> Option<ChannelView> {
        let now = store_core::now();
        let mut map = self.lock();
        Self::sweep(&mut map, now);
        map.get(id)
            .filter(|c| c.account == account)
            .map(|c| Self::view(c, now))
    }

    /// `account`'s channels.
    pub fn list(&self, account: u64) -> Vec<ChannelView> {
        let now = store_core::now();
        let mut map = self.lock();
        Self::sweep(&mut map, now);
        let mut out: Vec<ChannelView> = map
            .values()
            .filter(|c| c.account == account)
            .map(|c| Self::view(c, now))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Removes `account`'s channel `id` (a poll in progress ends with
    /// 404); whether it was there.
    pub fn remove(&self, account: u64, id: &str) -> bool {
        let mut map = self.lock();
        match map.get(id) {
            Some(c) if c.account == account => {}
            _ => return false,
        }
        if let Some(mut c) = map.remove(id) {
            if let Some(p) = c.poll.take() {
                let _ = p.send(true);
            }
            c.arrived.notify_waiters();
        }
        true
    }

    /// Gives `account`'s channel `id` a new lifetime (`wanted`, or the
    /// one it had); the remaining seconds.
    pub fn refresh(&self, account: u64, id: &str, wanted: Option<u32>) -> Option<u32> {
        let now = store_core::now();
        let mut map = self.lock();
        let c = map.get_mut(id).filter(|c| c.account == account)?;
        if wanted.is_some() {
            c.lifetime = lifetime(wanted);
        }
        c.expires = now + i64::from(c.lifetime);
        Some(c.lifetime)
    }

    /// Queues `notification` on the channel whose callback URL is `url`
    /// (`id`: its id, taken from the URL by the caller); whether there is
    /// such a channel.
    pub fn deliver(&self, id: &str, notification: Value) -> bool {
        let mut map = self.lock();
        let Some(c) = map.get_mut(id) else {
            return false;
        };
        if c.queue.len() >= MAX_QUEUED {
            c.queue.pop_front();
        }
        c.queue.push_back(notification);
        c.arrived.notify_one();
        true
    }

    /// The id of the channel whose callback URL is `url`, if it is one of
    /// this server's.
    pub fn by_callback(&self, url: &str) -> Option<String> {
        let map = self.lock();
        map.values()
            .find(|c| c.callback_url == url)
            .map(|c| c.id.clone())
    }

    /// One long poll of `account`'s channel `id` (NC TS 5.3.2): the
    /// notifications waiting, at most the channel's maximum, at once when
    /// there are some; else those that arrive within its wait, or none
    /// when the wait ends. Each poll restarts the channel's lifetime; a
    /// newer poll ends this one.
    ///
    /// Errors: [`PollEnd`] when another poll took over or the channel was
    /// removed; `None` for no such channel.
    pub async fn poll(&self, account: u64, id: &str) -> Option<Result<Vec<Value>, PollEnd>> {
        self.wait(account, id, true).await
    }

    /// The next notifications of `account`'s channel `id` for its
    /// WebSocket: as [`Channels::poll`], with no end to the wait but the
    /// channel's removal or a newer reader.
    pub async fn next(&self, account: u64, id: &str) -> Option<Result<Vec<Value>, PollEnd>> {
        self.wait(account, id, false).await
    }

    /// [`Channels::poll`] (`bounded`: the wait ends after the channel's
    /// maxWaitTime) and [`Channels::next`].
    async fn wait(
        &self,
        account: u64,
        id: &str,
        bounded: bool,
    ) -> Option<Result<Vec<Value>, PollEnd>> {
        let (arrived, wait, mut ended) = {
            let now = store_core::now();
            let mut map = self.lock();
            let c = map.get_mut(id).filter(|c| c.account == account)?;
            c.expires = now + i64::from(c.lifetime);
            if !c.queue.is_empty() {
                let n = (c.max_notifications as usize).min(c.queue.len());
                return Some(Ok(c.queue.drain(..n).collect()));
            }
            let (tx, rx) = oneshot::channel();
            if let Some(previous) = c.poll.replace(tx) {
                let _ = previous.send(false);
            }
            (c.arrived.clone(), c.max_wait, rx)
        };
        let wait = match bounded {
            true => Duration::from_secs(u64::from(wait)),
            // A WebSocket waits as long as the channel lives.
            false => Duration::from_secs(u64::from(MAX_LIFETIME)),
        };
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                end = &mut ended => {
                    return Some(Err(match end {
                        Ok(false) => PollEnd::Superseded,
                        _ => PollEnd::Removed,
                    }));
                }
                _ = arrived.notified() => {
                    let mut map = self.lock();
                    let Some(c) = map.get_mut(id) else {
                        return Some(Err(PollEnd::Removed));
                    };
                    if !c.queue.is_empty() {
                        c.poll = None;
                        let n = (c.max_notifications as usize).min(c.queue.len());
                        return Some(Ok(c.queue.drain(..n).collect()));
                    }
                }
                _ = &mut deadline => {
                    let mut map = self.lock();
                    if let Some(c) = map.get_mut(id) {
                        c.poll = None;
                    }
                    return Some(Ok(Vec::new()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_channel() -> NewChannel {
        NewChannel {
            channel_type: ChannelType::LongPolling,
            client_correlator: Some("c1".into()),
            application_tag: None,
            max_notifications: Some(2),
            max_wait: Some(1),
            lifetime: Some(60),
        }
    }

    fn urls(id: &str) -> (String, String) {
        (format!("cb/{id}"), format!("poll/{id}"))
    }

    #[tokio::test]
    async fn a_poll_takes_what_waits_and_a_newer_poll_ends_the_first() {
        let channels = Channels::default();
        let (c, new) = channels.create(1, new_channel(), urls).unwrap();
        assert!(new);
        assert!(
            !channels.create(1, new_channel(), urls).unwrap().1,
            "same correlator"
        );
        assert_eq!(channels.by_callback(&c.callback_url), Some(c.id.clone()));
        for n in 0..3 {
            assert!(channels.deliver(&c.id, serde_json::json!(n)));
        }
        let first = channels.poll(1, &c.id).await.unwrap().unwrap();
        assert_eq!(first, vec![serde_json::json!(0), serde_json::json!(1)]);
        let second = channels.poll(1, &c.id).await.unwrap().unwrap();
        assert_eq!(second, vec![serde_json::json!(2)]);
        // Nothing waits: the wait ends empty.
        assert_eq!(
            channels.poll(1, &c.id).await.unwrap().unwrap(),
            Vec::<Value>::new()
        );
        // Another account sees no such channel.
        assert!(channels.poll(2, &c.id).await.is_none());
        // A newer poll supersedes an older one.
        let (a, b) = (channels.clone(), c.id.clone());
        let older = tokio::spawn(async move { a.poll(1, &b).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (a, b) = (channels.clone(), c.id.clone());
        let newer = tokio::spawn(async move { a.poll(1, &b).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(older.await.unwrap(), Some(Err(PollEnd::Superseded)));
        assert!(channels.remove(1, &c.id));
        assert_eq!(newer.await.unwrap(), Some(Err(PollEnd::Removed)));
    }
}
