//! Write locks (WebDAV LOCK / UNLOCK, RFC 4918 sections 6 and 7), kept in
//! the store so that a restart keeps them until they expire.
//!
//! A lock is on a resource path ([`lock_path`]): `/dav/{owner login}/
//! {folder name}[/{resource name}]`, the decoded WebDAV request path of a
//! folder or object without a trailing slash, the tree where locks are
//! made. store-core keeps the locks, rules on conflicts atomically,
//! forgets expired locks, and checks every protocol's writes against them
//! (RFC 4918 7: a lock protects the content, dead properties and URL of
//! the locked resource; a lock on a collection, of any depth, also its
//! membership, RFC 4918 7.4; a depth-infinity lock every member at any
//! depth). One rule for every protocol ([`check_locks_honoured`]): a write
//! a lock protects passes only for the principal that created the lock
//! and submitted its token (WebDAV's `If` header, carried by
//! [`Principal::with_lock_tokens`]); IMAP and SIP submit none, so any
//! lock stops them ([`StoreError::Locked`], IMAP `NO [INUSE]`, RFC 5530).
//!
//! Which writes a lock protects, by operation: object store (APPEND, PUT,
//! SIP deposit: the folder's membership, and the named resource), object
//! remove (EXPUNGE, DELETE: the object and its folder's membership),
//! object copy (the destination's membership), object move (both), folder
//! create, rename and remove (the folder, everything below it, and the
//! parent's membership), metadata update of `/shared` entries (a folder's
//! or object's WebDAV dead properties; `/private` ones are each user's). Flag changes (IMAP STORE) are not protected:
//! flags are neither the resource's content, nor a WebDAV property, nor
//! part of its URL (RFC 4918 7 lists only those), and Cyrus lets STORE
//! through its DAV locks too.

use serde::{Deserialize, Serialize};

use super::{now, resolve, Access, FolderRef, Store};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{AccountId, Folder, Principal};
use crate::rights::Right;
use crate::writer::{Reader, Txn};

/// Longest lock timeout granted, in seconds (a week); a longer or
/// `Infinite` request gets this (RFC 4918 10.7 lets the server choose).
pub const MAX_LOCK_TIMEOUT: u64 = 7 * 24 * 3600;
/// Most locks held at once in the store (a bound on hostile LOCK floods).
pub const MAX_LOCKS: usize = 10_000;
/// Most locks one principal holds at once, so that one user cannot take
/// every one of [`MAX_LOCKS`].
pub const MAX_LOCKS_PER_PRINCIPAL: usize = 1_000;
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

/// The login of the account a lock root lies in (`/dav/{login}/...`).
fn root_account(root: &str) -> Option<&str> {
    let rest = root.strip_prefix(LOCK_PATH_PREFIX)?.strip_prefix('/')?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// Deletes a lock and its index entry.
fn delete_lock(txn: &mut Txn<'_>, key: Vec<u8>, lock: &Lock) {
    if let Some(login) = root_account(&lock.root) {
        txn.delete(keys::lock_of_account(login, &lock.token));
    }
    txn.delete(key);
}

fn prune_expired(txn: &mut Txn<'_>) -> Result<()> {
    let t = now();
    for (k, l) in txn.load_all::<Lock>(&keys::locks())? {
        if l.expires_at <= t {
            delete_lock(txn, k, &l);
        }
    }
    Ok(())
}

/// Gives every stored lock its entry in the index by account (locks made
/// before the index existed), at open: at most [`MAX_LOCKS`] reads.
pub(crate) fn index_locks(engine: &dyn crate::engine::Engine) -> Result<()> {
    let snapshot = engine.snapshot()?;
    let mut batch = crate::engine::WriteBatch::new();
    for (_, lock) in live_locks(&snapshot)? {
        if let Some(login) = root_account(&lock.root) {
            let key = keys::lock_of_account(login, &lock.token);
            if snapshot.get(&key)?.is_none() {
                batch.insert(key, Some(Vec::new())); // `()` encodes to no bytes
            }
        }
    }
    drop(snapshot);
    if !batch.is_empty() {
        engine.commit(batch)?;
    }
    Ok(())
}

/// The live locks rooted in the account `login`'s tree, by its index.
fn live_locks_of<R: Reader + ?Sized>(r: &R, login: &str) -> Result<Vec<Lock>> {
    let t = now();
    let prefix = keys::locks_of_account(login);
    let mut out = Vec::new();
    for (k, _) in r.scan_raw(&prefix)? {
        let token = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
        if let Some(l) = r.load::<Lock>(&keys::lock(&token))? {
            if l.expires_at > t {
                out.push(l);
            }
        }
    }
    Ok(out)
}

/// The prefix of every lock path: the WebDAV tree, where locks are made.
pub const LOCK_PATH_PREFIX: &str = "/dav";

/// The lock path of the folder `folder` of the account `owner` (a login),
/// or with `resource`, of the object of that resource name in it
/// ([`crate::model::Object::resource_name`]):
/// `/dav/{owner}/{folder}[/{resource}]`; `folder` empty names the
/// account's root.
pub fn lock_path(owner: &str, folder: &str, resource: Option<&str>) -> String {
    let mut path = format!("{LOCK_PATH_PREFIX}/{owner}");
    for part in [Some(folder), resource].into_iter().flatten() {
        if !part.is_empty() {
            path.push('/');
            path.push_str(part);
        }
    }
    path
}

/// The one rule on whether a write may go through `locks` (those that
/// protect what it changes): each exclusive lock, and one of the shared
/// ones, must have been created by `principal` and its token submitted
/// with the request ([`Principal::lock_tokens`], RFC 4918 6.4, 7).
///
/// Errors: [`StoreError::Locked`] naming the root of a lock not honoured.
pub fn check_locks_honoured(principal: &Principal, locks: &[Lock]) -> Result<()> {
    let owned =
        |l: &Lock| l.principal == principal.login && principal.lock_tokens.contains(&l.token);
    if let Some(l) = locks.iter().find(|l| l.exclusive && !owned(l)) {
        return Err(StoreError::Locked {
            root: l.root.clone(),
        });
    }
    let shared: Vec<&Lock> = locks.iter().filter(|l| !l.exclusive).collect();
    match shared.first() {
        Some(first) if !shared.iter().any(|l| owned(l)) => Err(StoreError::Locked {
            root: first.root.clone(),
        }),
        _ => Ok(()),
    }
}

/// How a write changes what a [`Touch`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TouchKind {
    /// The resource itself (content, properties or URL): the locks
    /// covering it.
    Resource,
    /// The membership of a collection (a member added or removed): the
    /// locks covering the collection, of any depth (RFC 4918 7.4).
    Members,
    /// A collection and everything below it (its removal or rename): the
    /// locks covering it and those rooted below it (RFC 4918 9.6.1).
    Tree,
}

/// Something a write changes, for [`check_write`]: a folder of an account
/// (by name, so that one not yet created can be named), or an object of
/// it by resource name.
#[derive(Debug, Clone)]
pub(crate) struct Touch {
    kind: TouchKind,
    owner: AccountId,
    folder: String,
    resource: Option<String>,
}

impl Touch {
    /// The object named `resource` of the folder.
    pub(crate) fn object(folder: &Folder, resource: String) -> Touch {
        Touch {
            kind: TouchKind::Resource,
            owner: folder.owner,
            folder: folder.name.clone(),
            resource: Some(resource),
        }
    }

    /// The folder `name` of `owner` itself, its membership, or its tree.
    pub(crate) fn folder(kind: TouchKind, owner: AccountId, name: &str) -> Touch {
        Touch {
            kind,
            owner,
            folder: name.to_string(),
            resource: None,
        }
    }

    /// The membership of the parent of folder `name` of `owner` (the
    /// account's root for a top-level folder).
    pub(crate) fn parent_of(owner: AccountId, name: &str) -> Touch {
        let parent = name
            .rsplit_once(crate::names::DELIMITER)
            .map_or("", |(p, _)| p);
        Touch::folder(TouchKind::Members, owner, parent)
    }
}

/// The folder a lock root lies in, for the principal: the folder the root
/// names, else its parent's (a resource, mapped or not); with the root in
/// its canonical spelling ([`lock_path`] of the resolved folder's name,
/// so `/dav/alice/inbox/a.txt` becomes `/dav/alice/INBOX/a.txt`, the path
/// every write is checked against).
fn lock_folder<R: Reader + ?Sized>(
    r: &R,
    principal: &Principal,
    root: &str,
) -> Result<(Access, String)> {
    let no_folder =
        || StoreError::NotAllowed("only folders and their objects can be locked".into());
    let rest = root
        .strip_prefix(LOCK_PATH_PREFIX)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(no_folder)?;
    let (owner, name) = rest.split_once('/').ok_or_else(no_folder)?;
    let folder_ref = |name: &str| {
        if owner == principal.login {
            FolderRef::own(name)
        } else {
            FolderRef::of(owner, name)
        }
    };
    let (access, resource) = match resolve(r, principal, &folder_ref(name)) {
        Err(StoreError::NoSuchFolder) => {
            let (parent, resource) = name.rsplit_once('/').ok_or(StoreError::NoSuchFolder)?;
            (resolve(r, principal, &folder_ref(parent))?, Some(resource))
        }
        other => (other?, None),
    };
    let canonical = lock_path(owner, &access.folder.name, resource);
    Ok((access, canonical))
}

/// Whether `principal` may remove another principal's lock `lock`
/// (RFC 3744 3.5 `DAV:unlock`): the administrator, the owner of the tree
/// the lock lies in, or a holder of `a` on its folder.
fn may_unlock_any<R: Reader + ?Sized>(r: &R, principal: &Principal, lock: &Lock) -> bool {
    principal.administrator
        || root_account(&lock.root) == Some(principal.login.as_str())
        || lock_folder(r, principal, &lock.root)
            .is_ok_and(|(access, _)| access.rights.contains(Right::Administer))
}

/// Deletes the locks held in the folder `folder` (rooted at it or at one
/// of its objects, not at a subfolder) by principals other than its owner
/// that no longer hold `i` there by its ACL (RFC 4314 `i`, the right
/// [`Store::create_lock`] needs): after a SETACL or DELETEACL took it away.
pub(crate) fn drop_locks_without_insert(txn: &mut Txn<'_>, folder: &Folder) -> Result<()> {
    let owner = owner_login(txn, folder.owner)?;
    let path = lock_path(&owner, &folder.name, None);
    for lock in live_locks_of(txn, &owner)? {
        if lock.principal == owner {
            continue;
        }
        let in_folder = match lock.root.strip_prefix(&path) {
            Some("") => true,
            Some(rest) => match rest.strip_prefix('/') {
                Some(name) if !name.contains('/') => {
                    let sub = format!("{}{}{name}", folder.name, crate::names::DELIMITER);
                    txn.get_raw(&keys::folder_name(folder.owner, &sub))?
                        .is_none()
                }
                _ => false,
            },
            None => false,
        };
        if !in_folder {
            continue;
        }
        let rights = [lock.principal.as_str(), "anyone"]
            .iter()
            .filter_map(|id| folder.acl.get(*id).copied())
            .fold(crate::rights::Rights::NONE, |a, b| a.union(b));
        if !rights.contains(Right::Insert) {
            delete_lock(txn, keys::lock(&lock.token), &lock);
        }
    }
    Ok(())
}

/// Deletes the locks rooted at what each of `touches` (all of one
/// account) names and, for a [`TouchKind::Tree`], below it (for
/// [`TouchKind::Members`], only those rooted at its direct members): the
/// resources were removed or moved away, in this transaction, and their
/// locks do not follow them (RFC 4918 7.7, 9.9.1). Reads the account's
/// lock index once: with no lock, one empty prefix scan.
pub(crate) fn drop_locks_of(txn: &mut Txn<'_>, touches: &[Touch]) -> Result<()> {
    let Some(first) = touches.first() else {
        return Ok(());
    };
    let login = owner_login(txn, first.owner)?;
    for lock in live_locks_of(txn, &login)? {
        if touches.iter().any(|t| t.roots(&login, &lock)) {
            delete_lock(txn, keys::lock(&lock.token), &lock);
        }
    }
    Ok(())
}

impl Touch {
    /// Whether `lock` (of the account `login`) is rooted at what this
    /// names, as [`drop_locks_of`] reads it.
    fn roots(&self, login: &str, lock: &Lock) -> bool {
        let path = lock_path(login, &self.folder, self.resource.as_deref());
        match self.kind {
            TouchKind::Resource => lock.root == path,
            TouchKind::Members => lock
                .root
                .strip_prefix(&path)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| !name.is_empty() && !name.contains('/')),
            TouchKind::Tree => lock.root == path || is_below(&lock.root, &path),
        }
    }
}

/// Deletes every lock of the account `login` (rooted in its tree) and
/// every lock `login` holds elsewhere, with their index entries: the
/// account is being removed, and a new account of that login must not
/// inherit them. At most [`MAX_LOCKS`] reads.
pub(crate) fn remove_account_locks(txn: &mut Txn<'_>, login: &str) -> Result<()> {
    for (k, l) in txn.load_all::<Lock>(&keys::locks())? {
        if l.principal == login || root_account(&l.root) == Some(login) {
            delete_lock(txn, k, &l);
        }
    }
    for (k, _) in txn.scan_raw(&keys::locks_of_account(login))? {
        txn.delete(k);
    }
    Ok(())
}

/// Store-core's lock check of one write, inside its transaction: fails
/// with [`StoreError::Locked`] unless `principal` honours every live lock
/// on what `touches` names ([`check_locks_honoured`]). It reads only the
/// locks rooted in the accounts the write touches (an index by account):
/// with none (the common case) one empty prefix scan per account.
pub(crate) fn check_write<R: Reader + ?Sized>(
    r: &R,
    principal: &Principal,
    touches: &[Touch],
) -> Result<()> {
    // Locks of each account touched, read once from the account's index.
    let mut accounts: Vec<(AccountId, String, Vec<Lock>)> = Vec::new();
    for touch in touches {
        if !accounts.iter().any(|(id, _, _)| *id == touch.owner) {
            let login = owner_login(r, touch.owner)?;
            let live = live_locks_of(r, &login)?;
            accounts.push((touch.owner, login, live));
        }
        let Some((_, login, live)) = accounts.iter().find(|(id, _, _)| *id == touch.owner) else {
            continue;
        };
        if live.is_empty() {
            continue;
        }
        let path = lock_path(login, &touch.folder, touch.resource.as_deref());
        let on: Vec<Lock> = live
            .iter()
            .filter(|l| match touch.kind {
                TouchKind::Resource | TouchKind::Members => l.covers(&path),
                TouchKind::Tree => l.covers(&path) || is_below(&l.root, &path),
            })
            .cloned()
            .collect();
        check_locks_honoured(principal, &on)?;
    }
    Ok(())
}

/// The login of account `id`, for its lock paths.
fn owner_login<R: Reader + ?Sized>(r: &R, id: AccountId) -> Result<String> {
    r.load::<String>(&keys::account_login(id))?
        .ok_or(StoreError::NoSuchAccount)
}

impl Store {
    /// Creates a lock unless a live lock conflicts with it: an exclusive
    /// lock conflicts with any other lock on an overlapping path, a shared
    /// one with exclusive locks only (RFC 4918 6.2, 7.4).
    ///
    /// Rights: `i` on the folder the root names, or for a resource on its
    /// folder (RFC 3744 maps LOCK to `DAV:write-content` on an existing
    /// resource and `DAV:bind` on the parent of an unmapped one; store-core
    /// maps both to RFC 4314 `i`, the right that replacing or adding an
    /// object needs first, so a principal that may only change flags (`w`)
    /// cannot hold up the owner's writes with a lock).
    /// The root stored is the canonical spelling of `lock.root` (the
    /// resolved folder's name, [`lock_path`]), the path writes are
    /// checked against.
    /// Errors: [`StoreError::LockConflict`] (a conflict),
    /// [`StoreError::NoSuchFolder`], [`StoreError::PermissionDenied`],
    /// [`StoreError::NotAllowed`] (a root that names no folder, such as an
    /// account's root),
    /// [`StoreError::InvalidArgument`] (an owner over [`MAX_LOCK_OWNER`]
    /// bytes, [`MAX_LOCKS`] reached, or [`MAX_LOCKS_PER_PRINCIPAL`] held
    /// by the principal).
    pub async fn create_lock(&self, principal: &Principal, lock: NewLock) -> Result<Lock> {
        if lock
            .owner
            .as_ref()
            .is_some_and(|o| o.len() > MAX_LOCK_OWNER)
        {
            return Err(StoreError::InvalidArgument("lock owner too long".into()));
        }
        let login = principal.login.clone();
        let principal = principal.clone();
        self.write(move |txn| {
            let (access, root) = lock_folder(txn, &principal, &lock.root)?;
            access.require(Right::Insert)?;
            let lock = NewLock { root, ..lock };
            prune_expired(txn)?;
            let existing = live_locks(txn)?;
            if existing.len() >= MAX_LOCKS {
                return Err(StoreError::InvalidArgument("too many locks".into()));
            }
            let held = existing
                .iter()
                .filter(|(_, l)| l.principal == principal.login)
                .count();
            if held >= MAX_LOCKS_PER_PRINCIPAL {
                return Err(StoreError::InvalidArgument(
                    "too many locks held by this principal".into(),
                ));
            }
            for (_, other) in &existing {
                let overlap = other.covers(&lock.root)
                    || lock.root == other.root
                    || (lock.infinite && is_below(&other.root, &lock.root));
                if overlap && (other.exclusive || lock.exclusive) {
                    return Err(StoreError::LockConflict {
                        root: other.root.clone(),
                    });
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
            if let Some(login) = root_account(&record.root) {
                txn.put(keys::lock_of_account(login, &record.token), &())?;
            }
            Ok(record)
        })
        .await
    }

    /// Refreshes a lock's timeout (RFC 4918 9.10.2).
    ///
    /// Rights: the creator's, and still the right [`Store::create_lock`]
    /// needs (`i` on the lock's folder): a grantee whose `i` was revoked
    /// cannot keep a lock alive.
    /// Errors: [`StoreError::NoSuchLock`] (unknown or expired),
    /// [`StoreError::Locked`] (held by another principal),
    /// [`StoreError::PermissionDenied`], [`StoreError::NoSuchFolder`].
    pub async fn refresh_lock(
        &self,
        principal: &Principal,
        token: &str,
        timeout: Option<u64>,
    ) -> Result<Lock> {
        let (principal, token) = (principal.clone(), token.to_string());
        self.write(move |txn| {
            let mut lock = txn
                .load::<Lock>(&keys::lock(&token))?
                .filter(|l| l.expires_at > now())
                .ok_or(StoreError::NoSuchLock)?;
            if lock.principal != principal.login {
                return Err(StoreError::Locked { root: lock.root });
            }
            lock_folder(txn, &principal, &lock.root)?
                .0
                .require(Right::Insert)?;
            lock.timeout = granted(timeout);
            lock.expires_at = now() + lock.timeout as i64;
            txn.put(keys::lock(&token), &lock)?;
            Ok(lock)
        })
        .await
    }

    /// Removes a lock that covers `path` (RFC 4918 9.11).
    ///
    /// Rights: the lock's creator; or, for any lock (RFC 3744 3.5
    /// `DAV:unlock`, which it gives the owner and administrators), the
    /// owner of the account the lock lies in, a holder of `a` on its
    /// folder, or the administrator ([`Store::administrator`]).
    /// Errors: [`StoreError::NoSuchLock`] (unknown, expired, or not
    /// covering `path`), [`StoreError::Locked`] (another principal's).
    pub async fn remove_lock(&self, principal: &Principal, token: &str, path: &str) -> Result<()> {
        let (principal, token, path) = (principal.clone(), token.to_string(), path.to_string());
        self.write(move |txn| {
            let lock = txn
                .load::<Lock>(&keys::lock(&token))?
                .filter(|l| l.expires_at > now() && l.covers(&path))
                .ok_or(StoreError::NoSuchLock)?;
            if lock.principal != principal.login && !may_unlock_any(txn, &principal, &lock) {
                return Err(StoreError::Locked { root: lock.root });
            }
            delete_lock(txn, keys::lock(&token), &lock);
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
    fn lock_paths_are_the_webdav_paths_of_folders_and_objects() {
        assert_eq!(
            lock_path("alice", "a/b", Some("f.txt")),
            "/dav/alice/a/b/f.txt"
        );
        assert_eq!(lock_path("alice", "INBOX", None), "/dav/alice/INBOX");
        assert_eq!(lock_path("alice", "", None), "/dav/alice");
        assert_eq!(root_account("/dav/alice/INBOX/1.eml"), Some("alice"));
        assert_eq!(root_account("/dav/alice"), Some("alice"));
        assert_eq!(root_account("/other/alice"), None);
        // The index keeps `bob` and `bobby` apart.
        assert!(!keys::lock_of_account("bobby", "t").starts_with(&keys::locks_of_account("bob")));
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
