//! Operation "synchronize with client" (seed 002, 5.5.1.20): what changed
//! in a folder since a MODSEQ (RFC 7162 CONDSTORE/QRESYNC; WebDAV sync
//! tokens), what changed in the account since a change number (the changes
//! since a client's last de-registration), and the live change feed.

use std::collections::HashMap;

use tokio::sync::broadcast;

use super::{resolve, rights_of, Store};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{Change, ChangeKind, Folder, ModSeq, Object, Principal, Uid, UnixTime};
use crate::rights::Right;
use crate::writer::Reader;

use super::folders::{FolderRef, ObjectState};

/// What changed in one folder since a MODSEQ.
#[derive(Debug, Clone)]
pub struct FolderChanges {
    /// The folder's current state.
    pub folder: Folder,
    /// Objects whose MODSEQ is greater, in UID order.
    pub changed: Vec<ObjectState>,
    /// UIDs expunged with a greater MODSEQ, ascending.
    pub vanished: Vec<Uid>,
    /// The keywords defined in the folder (as
    /// [`crate::SelectedFolder::keywords`]) when the folder changed since
    /// the MODSEQ, else `None`: a keyword joins the list only in a write
    /// that raises the folder's HIGHESTMODSEQ, so a session compares the
    /// list's length with its own only after a change.
    pub keywords: Option<Vec<String>>,
    /// Whether `vanished` names every UID expunged since the MODSEQ. False
    /// when the MODSEQ is older than the folder's prune horizon (the
    /// tombstones it would need were pruned): `changed` is still exact,
    /// and a client is answered from its known UIDs instead (RFC 7162
    /// 3.2.5.2, `VANISHED (EARLIER)` for every UID it knows that is gone).
    pub complete: bool,
}

impl Store {
    /// Changes in a folder since `since` (exclusive), every object
    /// included (IMAP sessions use [`Store::mail_changes_since`]).
    ///
    /// Rights: `r`.
    pub async fn changes_since(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        since: ModSeq,
    ) -> Result<FolderChanges> {
        self.folder_changes(principal, folder, since, |_| true)
    }

    /// The changes of `folder` since `since` (exclusive): the objects
    /// `keep` accepts whose MODSEQ is greater, and the UIDs expunged since.
    ///
    /// Rights: `r`.
    pub(super) fn folder_changes(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        since: ModSeq,
        keep: impl Fn(&Object) -> bool,
    ) -> Result<FolderChanges> {
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        access.require(Right::Read)?;
        let id = access.folder.id;
        // Nothing changed: no range to read (the folder's HIGHESTMODSEQ
        // is raised by every change of it), only the horizon.
        let index = if access.folder.highest_modseq > since {
            super::index::changed_since(&snap, id, since)?
        } else {
            let horizon: ModSeq = snap.load(&keys::prune_horizon(id))?.unwrap_or(0);
            super::index::Changed {
                complete: since >= horizon,
                ..Default::default()
            }
        };
        let keywords = if access.folder.highest_modseq > since {
            Some(super::keywords::folder_keywords(
                &snap,
                id,
                std::iter::empty(),
            )?)
        } else {
            None
        };
        let mut changed = Vec::with_capacity(index.live.len());
        for (uid, _) in &index.live {
            if let Some(o) = snap.load::<Object>(&keys::object(id, *uid))? {
                if keep(&o) {
                    changed.push(ObjectState::from(&o));
                }
            }
        }
        Ok(FolderChanges {
            folder: access.folder,
            changed,
            vanished: index.vanished,
            keywords,
            complete: index.complete,
        })
    }

    /// The principal's account changes with a MODSEQ greater than `since`,
    /// oldest first, at most `limit`.
    ///
    /// Errors: [`StoreError::ChangesPruned`] when `since` is below the
    /// account's feed horizon (the changes after it were pruned,
    /// `store::prune`): the caller resynchronizes from the current state.
    pub async fn account_changes_since(
        &self,
        principal: &Principal,
        since: ModSeq,
        limit: usize,
    ) -> Result<Vec<Change>> {
        let snap = self.snapshot()?;
        let horizon = super::prune::feed_horizon(&snap, principal.account)?;
        if since < horizon {
            return Err(StoreError::ChangesPruned { horizon });
        }
        let prefix = keys::changes(principal.account);
        let start = keys::change(principal.account, since.saturating_add(1), 0);
        snap.scan(&prefix, &start, limit)?
            .into_iter()
            .map(|(_, v)| crate::writer::decode(&v))
            .collect()
    }

    /// Prunes the change history now, as the writer's periodic pass does
    /// (`store::prune`, settings [`crate::ChangeRetention`]), until nothing
    /// is left to prune; returns how many keys were deleted. Each step is
    /// one write of at most [`crate::PRUNE_BATCH`] deletes.
    pub async fn prune_changes(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            let (retention, config) = (self.inner.retention.clone(), self.inner.config.retention);
            let pruned = self
                .write(move |txn| super::prune::prune_step(txn, &retention, &config, super::now()))
                .await?;
            total += pruned.deleted;
            if !pruned.more {
                return Ok(total);
            }
        }
    }

    /// The account's current MODSEQ (its latest change number).
    pub async fn account_modseq(&self, principal: &Principal) -> Result<ModSeq> {
        Ok(self
            .snapshot()?
            .load(&keys::account_counter(principal.account, "modseq"))?
            .unwrap_or(0))
    }

    /// A receiver of every change committed in the principal's account from
    /// now on (IDLE, NOTIFY, SIP NOTIFY). A receiver that falls more than
    /// 1024 changes behind gets `Lagged` and should resynchronize with
    /// [`Store::account_changes_since`].
    pub fn subscribe_changes(&self, principal: &Principal) -> broadcast::Receiver<Change> {
        self.inner.hub.subscribe(principal.account)
    }
}

/// A place in an account's change feed: every change before it (by
/// MODSEQ, then by its index among the changes of one MODSEQ) has been
/// seen. A WebDAV sync token names one (RFC 6578 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FeedPosition {
    /// The MODSEQ of the first change not yet seen.
    pub modseq: ModSeq,
    /// Its index among the changes of that MODSEQ.
    pub index: u32,
}

/// A member of a collection that changed since a [`FeedPosition`]
/// (RFC 6578 sync-collection, `sync-level` 1).
#[derive(Debug, Clone)]
pub enum MemberChange {
    /// An object of the folder: its record when it is still there, else
    /// `None` and the resource name it had ([`Object::resource_name`];
    /// `{UID}.eml` for objects removed before names were kept).
    Object {
        /// Its UID.
        uid: Uid,
        /// Its current record, if it still exists.
        object: Option<Box<Object>>,
        /// Its resource name.
        name: String,
    },
    /// A direct child folder, by its full name in its owner's tree.
    Folder {
        /// The full name.
        name: String,
        /// Whether it exists now.
        exists: bool,
    },
}

/// What changed among a collection's members since a position in the
/// change feed.
#[derive(Debug, Clone)]
pub struct CollectionChanges {
    /// The changed members, each once, in the order of their first change
    /// in the feed.
    pub members: Vec<MemberChange>,
    /// Where the next call resumes.
    pub next: FeedPosition,
    /// Whether changes past `next` were left for another call (the member
    /// or scan limit was reached).
    pub truncated: bool,
}

/// A folder's dates (WebDAV `DAV:creationdate` and `DAV:getlastmodified`,
/// RFC 4918 15.1 and 15.7), Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderDates {
    /// When it was created. A folder made before creation times were kept
    /// gives its UIDVALIDITY, which is the time of its creation in seconds
    /// (or a few seconds later when many were made in one second), capped
    /// at now.
    pub created: UnixTime,
    /// When it or one of its objects last changed (any change the feed
    /// records: objects stored, removed or flagged, renames, ACL and
    /// metadata changes); its creation time until then.
    pub modified: UnixTime,
}

/// Changes scanned in one page of the feed.
const FEED_PAGE: usize = 1024;

impl Store {
    /// The position just past the last change of the account that owns
    /// `collection` (the principal's own account root for `None`): a sync
    /// token for a full listing made from now on.
    ///
    /// Rights: `l` or `r` on the folder. Errors:
    /// [`StoreError::NoSuchFolder`].
    pub async fn feed_end(
        &self,
        principal: &Principal,
        collection: Option<&FolderRef>,
    ) -> Result<FeedPosition> {
        let snap = self.snapshot()?;
        let owner = match collection {
            None => principal.account,
            Some(f) => resolve(&snap, principal, f)?.folder.owner,
        };
        let last: ModSeq = snap
            .load(&keys::account_counter(owner, "modseq"))?
            .unwrap_or(0);
        Ok(FeedPosition {
            modseq: last.saturating_add(1),
            index: 0,
        })
    }

    /// The members of `collection` (the principal's own account root, whose
    /// members are its top-level folders, for `None`) that changed from
    /// `from` on, read from the owner's change feed (so the cost is that of
    /// the account's changes since `from`, not of the folder's size): its
    /// objects (with `r`), and its direct child folders created, renamed,
    /// removed, or with any other change (their objects, ACL or metadata:
    /// a child's ETag and sync token change with them). Each member is given
    /// once, with its state now. At most `max_members` members are given
    /// and at most `max_scanned` changes read; past either, `truncated` is
    /// set and `next` is where to go on. The members of one change are
    /// given together: when the first change of a page touches more
    /// members than `max_members` (a rename: the old and the new name),
    /// all of them are given, so that every page moves `next` on.
    ///
    /// A principal that is not the owner is told only of child folders it
    /// has `l` on now (RFC 4314 2.1, as a listing shows them). It cannot be
    /// told of a child removed or renamed away since `from` (its name may
    /// never have been visible to it), nor of an ACL change of the
    /// collection (its own rights, so what it may see, may have changed;
    /// the feed does not say whose): both make the position
    /// unusable for it, [`StoreError::InvalidArgument`], and it lists the
    /// collection again (RFC 6578 3.2 `DAV:valid-sync-token`).
    ///
    /// Rights: `l` or `r` on the folder. Errors:
    /// [`StoreError::NoSuchFolder`]; [`StoreError::InvalidArgument`] for a
    /// position past the end of the feed (a token this store never gave),
    /// one below the feed's retention horizon (its changes were pruned,
    /// `store::prune`) or one a non-owner must list again from (above).
    pub async fn collection_changes(
        &self,
        principal: &Principal,
        collection: Option<&FolderRef>,
        from: FeedPosition,
        max_members: usize,
        max_scanned: usize,
    ) -> Result<CollectionChanges> {
        let snap = self.snapshot()?;
        let (owner, folder, readable) = match collection {
            None => (principal.account, None, false),
            Some(f) => {
                let access = resolve(&snap, principal, f)?;
                let readable = access.rights.contains(Right::Read);
                (access.folder.owner, Some(access.folder), readable)
            }
        };
        let is_owner = owner == principal.account;
        let relist = || {
            StoreError::InvalidArgument(
                "a change since the position the principal cannot be told of: list again".into(),
            )
        };
        // Whether the principal may be told of child `name`: a child it
        // has `l` on; for the owner, any. A child gone since cannot be
        // judged: the owner hears of it, others list again.
        let visible = |name: &str| -> Result<bool> {
            if is_owner {
                return Ok(true);
            }
            let Some(child) = snap.load::<u64>(&keys::folder_name(owner, name))? else {
                return Err(relist());
            };
            Ok(snap
                .load::<Folder>(&keys::folder(owner, child))?
                .is_some_and(|f| rights_of(principal, &f).contains(Right::Lookup)))
        };
        let last: ModSeq = snap
            .load(&keys::account_counter(owner, "modseq"))?
            .unwrap_or(0);
        if from.modseq > last.saturating_add(1) {
            return Err(StoreError::InvalidArgument(
                "a position past the end of the change feed".into(),
            ));
        }
        // Changes from the position on were pruned: list again (RFC 6578
        // 3.2, DAV:valid-sync-token).
        let horizon = super::prune::feed_horizon(&snap, owner)?;
        if horizon > 0 && from.modseq <= horizon {
            return Err(StoreError::InvalidArgument(
                "a position below the change feed's retention horizon: list again".into(),
            ));
        }
        let id = folder.as_ref().map(|f| f.id);
        let parent = folder.as_ref().map(|f| f.name.as_str());
        let is_child = |name: &str| match parent {
            None => !name.contains('/'),
            Some(p) => name
                .strip_prefix(p)
                .and_then(|r| r.strip_prefix('/'))
                .is_some_and(|leaf| !leaf.is_empty() && !leaf.contains('/')),
        };
        #[derive(PartialEq, Eq, Hash, Clone)]
        enum Key {
            Object(Uid),
            Folder(String),
        }
        let mut seen: HashMap<Key, ()> = HashMap::new();
        let mut order: Vec<Key> = Vec::new();
        let mut names: HashMap<u64, Option<String>> = HashMap::new();
        let prefix = keys::changes(owner);
        let mut start = keys::change(owner, from.modseq, from.index);
        let mut next = from;
        let mut scanned = 0usize;
        let mut truncated = false;
        'feed: loop {
            let page = snap.scan(&prefix, &start, FEED_PAGE)?;
            let Some((last_key, _)) = page.last() else {
                break;
            };
            start = last_key.clone();
            start.push(0);
            for (key, value) in &page {
                let position = feed_position(key)?;
                if scanned >= max_scanned {
                    truncated = true;
                    next = position;
                    break 'feed;
                }
                let change: Change = crate::writer::decode(value)?;
                let mut touched: Vec<Key> = Vec::new();
                match &change.kind {
                    ChangeKind::ObjectStored { uid }
                    | ChangeKind::ObjectRemoved { uid }
                    | ChangeKind::FlagsChanged { uid }
                        if Some(change.folder) == id && readable =>
                    {
                        touched.push(Key::Object(*uid));
                    }
                    ChangeKind::FolderCreated { name } | ChangeKind::FolderRemoved { name }
                        if is_child(name) && visible(name)? =>
                    {
                        touched.push(Key::Folder(name.clone()));
                    }
                    ChangeKind::FolderCreated { .. }
                    | ChangeKind::FolderRemoved { .. }
                    | ChangeKind::SubscriptionChanged { .. } => {}
                    ChangeKind::FolderRenamed { from, to } => {
                        for n in [from, to] {
                            if is_child(n) && visible(n)? {
                                touched.push(Key::Folder(n.clone()));
                            }
                        }
                    }
                    // The collection's ACL changed: the principal's rights
                    // on it, so what it may see of it, may have too.
                    ChangeKind::AclChanged if Some(change.folder) == id && !is_owner => {
                        return Err(relist());
                    }
                    // Anything else in another folder: if it is a child,
                    // its state (ETag, sync token, ACL, properties) changed.
                    _ if Some(change.folder) != id && change.folder != 0 => {
                        let name = match names.get(&change.folder) {
                            Some(n) => n.clone(),
                            None => {
                                // A child gone since is told by its
                                // FolderRemoved/FolderRenamed change.
                                let n = snap
                                    .load::<Folder>(&keys::folder(owner, change.folder))?
                                    .filter(|f| {
                                        is_owner || rights_of(principal, f).contains(Right::Lookup)
                                    })
                                    .map(|f| f.name);
                                names.insert(change.folder, n.clone());
                                n
                            }
                        };
                        if let Some(n) = name.filter(|n| is_child(n)) {
                            touched.push(Key::Folder(n));
                        }
                    }
                    _ => {}
                }
                let fresh: Vec<Key> = touched
                    .into_iter()
                    .filter(|k| !seen.contains_key(k))
                    .collect();
                // A change whose members do not all fit ends the page,
                // unless the page is empty (it would never move on).
                if !fresh.is_empty() && !order.is_empty() && order.len() + fresh.len() > max_members
                {
                    truncated = true;
                    next = position;
                    break 'feed;
                }
                for k in fresh {
                    seen.insert(k.clone(), ());
                    order.push(k);
                }
                scanned += 1;
                next = FeedPosition {
                    modseq: position.modseq,
                    index: position.index.saturating_add(1),
                };
            }
        }
        // A position inside a MODSEQ all of whose changes were read is
        // spelled as the start of the next one.
        if !truncated {
            next = FeedPosition {
                modseq: last.saturating_add(1).max(from.modseq),
                index: 0,
            };
        }
        let mut members = Vec::with_capacity(order.len());
        for k in order {
            members.push(match k {
                Key::Object(uid) => {
                    // `id` is set whenever an object key was recorded.
                    let fid = id.unwrap_or(0);
                    match snap.load::<Object>(&keys::object(fid, uid))? {
                        Some(o) => MemberChange::Object {
                            uid,
                            name: o.resource_name(),
                            object: Some(Box::new(o)),
                        },
                        None => MemberChange::Object {
                            uid,
                            object: None,
                            name: snap
                                .load::<String>(&keys::expunged_name(fid, uid))?
                                .unwrap_or_else(|| format!("{uid}.eml")),
                        },
                    }
                }
                Key::Folder(name) => MemberChange::Folder {
                    exists: snap.get_raw(&keys::folder_name(owner, &name))?.is_some(),
                    name,
                },
            });
        }
        // A name removed and given to a new object since: only the new one.
        let live: std::collections::HashSet<String> = members
            .iter()
            .filter_map(|m| match m {
                MemberChange::Object {
                    object: Some(o), ..
                } => Some(o.resource_name()),
                _ => None,
            })
            .collect();
        members.retain(|m| {
            !matches!(m, MemberChange::Object { object: None, name, .. } if live.contains(name))
        });
        Ok(CollectionChanges {
            members,
            next,
            truncated,
        })
    }

    /// The dates of a folder record the caller already holds (from
    /// [`Store::folder_status`] or a listing).
    pub async fn folder_dates(&self, folder: &Folder) -> Result<FolderDates> {
        let snap = self.snapshot()?;
        let created = match snap.load::<UnixTime>(&keys::folder_created(folder.id))? {
            Some(t) => t,
            None => i64::from(folder.uid_validity).min(super::now()),
        };
        let modified = snap
            .load::<UnixTime>(&keys::folder_modified(folder.id))?
            .unwrap_or(created)
            .max(created);
        Ok(FolderDates { created, modified })
    }
}

/// The position of the change stored under `key` ([`keys::change`]).
fn feed_position(key: &[u8]) -> Result<FeedPosition> {
    let tail = key
        .len()
        .checked_sub(12)
        .and_then(|at| key.get(at..))
        .ok_or_else(|| StoreError::Corrupt("a change key too short".into()))?;
    let (modseq, index) = tail.split_at(8);
    Ok(FeedPosition {
        modseq: u64::from_be_bytes(modseq.try_into().unwrap_or_default()),
        index: u32::from_be_bytes(index.try_into().unwrap_or_default()),
    })
}
