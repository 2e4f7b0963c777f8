//! State shared by every IMAP connection of one server: the store, the
//! settings, which messages are `\Recent` to which session and
//! connections per account (failed logins are the store's login
//! throttle's).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use store_core::model::AccountId;
use store_core::Store;

use crate::config::ImapConfig;

/// The server-wide state behind every session.
pub struct ServerState {
    /// The store.
    pub store: Store,
    /// Settings.
    pub config: ImapConfig,
    /// TLS for STARTTLS; `None` when no certificate is configured.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Per account, its authenticated connections on this node (the
    /// limit `max_connections_per_account` is per node).
    connections: Mutex<HashMap<AccountId, usize>>,
    /// The selected folders' UID maps, shared between sessions.
    pub uid_maps: crate::session::uidmap::UidMapCache,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these maps leaves them consistent
    // (single inserts/updates), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ServerState {
    /// New state over `store`.
    pub fn new(store: Store, config: ImapConfig, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        ServerState {
            store,
            config,
            tls,
            connections: Mutex::default(),
            uid_maps: Default::default(),
        }
    }

    /// Takes one of the account's connection slots; `None` when all are in
    /// use.
    pub fn open_slot(self: &Arc<Self>, account: AccountId) -> Option<ConnectionSlot> {
        let mut map = lock(&self.connections);
        let n = map.entry(account).or_insert(0);
        if *n >= self.config.max_connections_per_account {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            state: self.clone(),
            account,
        })
    }
}

/// One authenticated connection of an account; frees its slot on drop.
pub struct ConnectionSlot {
    state: Arc<ServerState>,
    account: AccountId,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut map = lock(&self.state.connections);
        if let Some(n) = map.get_mut(&self.account) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.account);
            }
        }
    }
}
