//! Write locks (WebDAV LOCK / UNLOCK, RFC 4918 sections 6 and 7), kept in
//! the store so that a restart keeps them until they expire.
//!
//! A lock is on a resource path: an opaque, `/`-separated string the front
//! end chooses (WebDAV uses the request path without a trailing slash).
//! store-core knows nothing of what the path names; it keeps the locks,
//! rules on conflicts atomically, and forgets expired locks.

use serde::{Deserialize, Serialize};

use super::{now, Store};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::Principal;
use crate::writer::{Reader, Txn};

/// Longest lock timeout granted, in seconds (a week); a longer or
/// `Infinite` request gets this (RFC 4918 10.7 lets the server choose).
pub const MAX_LOCK_TIMEOUT: u64 = 7 * 24 * 3600;
/// Most locks held at once in the store (a bound on hostile LOCK floods).
pub const MAX_LOCKS: usize = 10_000;
/// Largest owner XML kept, in bytes.
pub const MAX_LOCK_OWNER: usize = 4096;

/// A write lock as stored (RFC 4918 6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// The lock token, a `urn:uuid:` URI (RFC 4918 6.5).
    pub token: String,
    /// The lock root: the path the LOCK request named.
    pub root: String,
    /// Whether it covers the members of a collection at any depth
    /// (`Depth: infinity`) or the root alone (`Depth: 0`).
    pub infinite: bool,
    /// Exclusive (`true`) or shared write lock.
    pub exclusive: bool,
    /// The client's `DAV:owner` element, serialized, kept verbatim.
    pub owner: Option<String>,
    /// The login of the principal that created it; only it may use the
    /// token or remove the lock.
    pub principal: String,
    /// The timeout granted, in seconds.
    pub timeout: u64,
    /// When it expires, in Unix seconds.
    pub expires_at: i64,
}

impl Lock {
    /// Whether the lock covers `path`: the root itself, or a path below it
    /// for a depth-infinity lock.
    pub fn covers(&self, path: &str) -> bool {
        path == self.root || (self.infinite && is_below(path, &self.root))
    }

    /// Seconds left before it expires.
    pub fn seconds_left(&self) -> u64 {
        u64::try_from(self.expires_at - now()).unwrap_or(0)
    }
}

/// A lock to create.
#[derive(Debug, Clone)]
pub struct NewLock {
    /// The lock root.
    pub root: String,
    /// Depth infinity.
    pub infinite: bool,
    /// Exclusive or shared.
    pub exclusive: bool,
    /// The `DAV:owner` element, serialized.
    pub owner: Option<String>,
    /// The timeout asked for, in seconds (`None`: infinite); capped at
    /// [`MAX_LOCK_TIMEOUT`].
    pub timeout: Option<u64>,
}

/// Whether `path` lies strictly below `root`.
fn is_below(path: &str, root: &str) -> bool {
    root.is_empty() && !path.is_empty()
        || path.len() > root.len() && path.starts_with(root) && path.as_bytes()[root.len()] == b'/'
}

fn granted(timeout: Option<u64>) -> u64 {
    timeout
        .unwrap_or(MAX_LOCK_TIMEOUT)
        .clamp(1, MAX_LOCK_TIMEOUT)
}

/// Every live (unexpired) lock, with its key.
fn live_locks<R: Reader + ?Sized>(r: &R) -> Result<Vec<(Vec<u8>, Lock)>> {
    let t = now();
    Ok(r.load_all::<Lock>(&keys::locks())?
        .into_iter()
        .filter(|(_, l)| l.expires_at > t)
        .collect())
}

fn prune_expired(txn: &mut Txn<'_>) -> Result<()> {
    let t = now();
    for (k, l) in txn.load_all::<Lock>(&keys::locks())? {
        if l.expires_at <= t {
            txn.delete(k);
        }
    }
    Ok(())
}

impl Store {
    /// Creates a lock unless a live lock conflicts with it: an exclusive
    /// lock conflicts with any other lock on an overlapping path, a shared
    /// one with exclusive locks only (RFC 4918 6.2, 7.4).
    ///
    /// The caller checks the principal's rights on what the path names.
    /// Errors: [`StoreError::Locked`] (a conflict),
    /// [`StoreError::InvalidArgument`] (an owner over [`MAX_LOCK_OWNER`]
    /// bytes, or [`MAX_LOCKS`] reached).
    pub async fn create_lock(&self, principal: &Principal, lock: NewLock) -> Result<Lock> {
        if lock
            .owner
            .as_ref()
            .is_some_and(|o| o.len() > MAX_LOCK_OWNER)
        {
            return Err(StoreError::InvalidArgument("lock owner too long".into()));
        }
        let login = principal.login.clone();
        self.write(move |txn| {
            prune_expired(txn)?;
            let existing = live_locks(txn)?;
            if existing.len() >= MAX_LOCKS {
                return Err(StoreError::InvalidArgument("too many locks".into()));
            }
            for (_, other) in &existing {
                let overlap = other.covers(&lock.root)
                    || lock.root == other.root
                    || (lock.infinite && is_below(&other.root, &lock.root));
                if overlap && (other.exclusive || lock.exclusive) {
                    return Err(StoreError::Locked);
                }
            }
            let timeout = granted(lock.timeout);
            let record = Lock {
                token: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
                root: lock.root,
                infinite: lock.infinite,
                exclusive: lock.exclusive,
                owner: lock.owner,
                principal: login,
                timeout,
                expires_at: now() + timeout as i64,
            };
            txn.put(keys::lock(&record.token), &record)?;
            Ok(record)
        })
        .await
    }

    /// Refreshes a lock's timeout (RFC 4918 9.10.2).
    ///
    /// Errors: [`StoreError::NoSuchLock`] (unknown or expired),
    /// [`StoreError::Locked`] (held by another principal).
    pub async fn refresh_lock(
        &self,
        principal: &Principal,
        token: &str,
        timeout: Option<u64>,
    ) -> Result<Lock> {
        let (login, token) = (principal.login.clone(), token.to_string());
        self.write(move |txn| {
            let mut lock = txn
                .load::<Lock>(&keys::lock(&token))?
                .filter(|l| l.expires_at > now())
                .ok_or(StoreError::NoSuchLock)?;
            if lock.principal != login {
                return Err(StoreError::Locked);
            }
            lock.timeout = granted(timeout);
            lock.expires_at = now() + lock.timeout as i64;
            txn.put(keys::lock(&token), &lock)?;
            Ok(lock)
        })
        .await
    }

    /// Removes a lock that covers `path` (RFC 4918 9.11).
    ///
    /// Errors: [`StoreError::NoSuchLock`] (unknown, expired, or not
    /// covering `path`), [`StoreError::Locked`] (another principal's).
    pub async fn remove_lock(&self, principal: &Principal, token: &str, path: &str) -> Result<()> {
        let (login, token, path) = (principal.login.clone(), token.to_string(), path.to_string());
        self.write(move |txn| {
            let lock = txn
                .load::<Lock>(&keys::lock(&token))?
                .filter(|l| l.expires_at > now() && l.covers(&path))
                .ok_or(StoreError::NoSuchLock)?;
            if lock.principal != login {
                return Err(StoreError::Locked);
            }
            txn.delete(keys::lock(&token));
            Ok(())
        })
        .await
    }

    /// The live locks that cover `path` (its own and those of ancestors
    /// with depth infinity): the `DAV:lockdiscovery` of a resource.
    pub async fn locks_covering(&self, path: &str) -> Result<Vec<Lock>> {
        Ok(live_locks(&self.snapshot()?)?
            .into_iter()
            .map(|(_, l)| l)
            .filter(|l| l.covers(path))
            .collect())
    }

    /// The live locks that a change of `path` and everything below it must
    /// honour: those covering it and those rooted below it (DELETE or MOVE
    /// of a collection, RFC 4918 9.6.1).
    pub async fn locks_affecting(&self, path: &str) -> Result<Vec<Lock>> {
        Ok(live_locks(&self.snapshot()?)?
            .into_iter()
            .map(|(_, l)| l)
            .filter(|l| l.covers(path) || is_below(&l.root, path))
            .collect())
    }

    /// Removes every lock rooted at `path` or below it (the resource was
    /// deleted or moved away: its locks do not follow, RFC 4918 7.7, 9.9.1).
    pub async fn remove_locks_within(&self, path: &str) -> Result<()> {
        let path = path.to_string();
        self.write(move |txn| {
            for (k, l) in txn.load_all::<Lock>(&keys::locks())? {
                if l.root == path || is_below(&l.root, &path) {
                    txn.delete(k);
                }
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(root: &str, infinite: bool) -> Lock {
        Lock {
            token: "t".into(),
            root: root.into(),
            infinite,
            exclusive: true,
            owner: None,
            principal: "alice".into(),
            timeout: 60,
            expires_at: now() + 60,
        }
    }

    #[test]
    fn coverage_follows_depth_and_path_segments() {
        let deep = lock("/dav/a/col", true);
        assert!(deep.covers("/dav/a/col"));
        assert!(deep.covers("/dav/a/col/x"));
        assert!(!deep.covers("/dav/a/colx"));
        assert!(!deep.covers("/dav/a"));
        let flat = lock("/dav/a/col", false);
        assert!(flat.covers("/dav/a/col"));
        assert!(!flat.covers("/dav/a/col/x"));
    }
}
