//! What a store needs when several processes (the nodes of a cluster)
//! share its engine (ARCHITECTURE.md, "Several nodes"):
//!
//! - [`follow_remote_commits`]: the changes other nodes commit reach this
//!   node's subscribers (IMAP IDLE and NOTIFY, SIP SUBSCRIBE, NMS
//!   notifications and channels) as its own do. The engine wakes this
//!   node ([`Engine::watch`]) with where each account's feed moved; the
//!   changes themselves are read from the persisted feed (0x30), for the
//!   accounts that have subscribers here only.
//! - [`shared_server_secret`]: one server secret for every node, so a
//!   decoy SCRAM salt is the same whichever node is asked, as a real one
//!   is (a per-node secret would tell a missing login from a real one).

use std::sync::{Arc, Weak};

use rand::RngCore;

use crate::changes::ChangeHub;
use crate::engine::{Engine, RemoteCommit, Snapshot};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{AccountId, Change};

/// Most changes of one account published for one wake-up (a larger move
/// is told by its first changes; subscribers read the feed anyway).
const MAX_CHANGES_PER_WAKE: usize = 1024;

/// Starts publishing, on `hub`, the changes other processes commit on
/// `engine`, if it is shared ([`Engine::watch`]); whether it is. A thread
/// of its own ("cluster-feed") reads them, so the engine's runtime never
/// waits on itself; it ends when the engine is dropped.
///
/// Errors: the thread cannot be started.
pub(crate) fn follow_remote_commits(engine: &Arc<dyn Engine>, hub: Arc<ChangeHub>) -> Result<bool> {
    let (tx, rx) = std::sync::mpsc::channel::<RemoteCommit>();
    if !engine.watch(Box::new(move |commit| {
        let _ = tx.send(commit);
    })) {
        return Ok(false);
    }
    let engine: Weak<dyn Engine> = Arc::downgrade(engine);
    std::thread::Builder::new()
        .name("cluster-feed".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                // Wake-ups that queued meanwhile are told together.
                let mut commits = vec![first];
                commits.extend(rx.try_iter());
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                if let Err(e) = publish_remote(&*engine, &hub, commits) {
                    tracing::warn!(error = %e, "cannot read changes committed by another node");
                }
            }
        })?;
    Ok(true)
}

/// Publishes the changes `commits` announce, for the accounts `hub` has
/// subscribers of.
fn publish_remote(engine: &dyn Engine, hub: &ChangeHub, commits: Vec<RemoteCommit>) -> Result<()> {
    let watched = hub.accounts();
    if watched.is_empty() {
        return Ok(());
    }
    // The least MODSEQ announced per watched account; `None`: unknown,
    // tell its latest change.
    let mut from: std::collections::BTreeMap<AccountId, Option<u64>> = Default::default();
    for commit in commits {
        match commit {
            RemoteCommit::Unknown => {
                for account in &watched {
                    from.insert(*account, None);
                }
            }
            RemoteCommit::Moved(moved) => {
                for (account, modseq) in moved {
                    if !watched.contains(&account) {
                        continue;
                    }
                    from.entry(account)
                        .and_modify(|m| *m = m.map(|m| m.min(modseq)))
                        .or_insert(Some(modseq));
                }
            }
        }
    }
    if from.is_empty() {
        return Ok(());
    }
    let snapshot = engine.snapshot()?;
    for (account, modseq) in from {
        let modseq = match modseq {
            Some(m) => m,
            None => current_modseq(&*snapshot, account)?,
        };
        for change in changes_from(&*snapshot, account, modseq)? {
            hub.publish(account, change);
        }
    }
    Ok(())
}

/// The account's MODSEQ (its latest change; 0 before any).
fn current_modseq(snapshot: &dyn Snapshot, account: AccountId) -> Result<u64> {
    match snapshot.get(&keys::account_counter(account, "modseq"))? {
        Some(bytes) => crate::writer::decode(&bytes),
        None => Ok(0),
    }
}

/// The account's persisted changes from MODSEQ `modseq` on, in feed
/// order, at most [`MAX_CHANGES_PER_WAKE`].
fn changes_from(snapshot: &dyn Snapshot, account: AccountId, modseq: u64) -> Result<Vec<Change>> {
    snapshot
        .scan(
            &keys::changes(account),
            &keys::change(account, modseq, 0),
            MAX_CHANGES_PER_WAKE,
        )?
        .into_iter()
        .map(|(_, value)| crate::writer::decode(&value))
        .collect()
}

/// The server secret of a store on a shared engine: kept in the engine
/// (counter key `server-secret`), made by the first node that opens it
/// (in a writer's turn, so two nodes opening at once agree).
///
/// Errors: the engine's; a stored secret of the wrong size
/// ([`StoreError::Corrupt`]).
pub(crate) fn shared_server_secret(engine: &dyn Engine) -> Result<[u8; 32]> {
    let key = keys::counter("server-secret");
    let txn = engine.begin_write()?;
    if let Some(bytes) = txn.get(&key)? {
        return bytes
            .try_into()
            .map_err(|_| StoreError::Corrupt("the stored server secret is not 32 bytes".into()));
    }
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let mut batch = crate::engine::WriteBatch::new();
    batch.insert(key, Some(secret.to_vec()));
    txn.commit(batch, &[])?;
    Ok(secret)
}
