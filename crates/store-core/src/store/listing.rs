//! Operation "list folders" (seed 002) in O(folders in range + matches)
//! (issue 16): IMAP LIST / LSUB (RFC 3501 6.3.8-9, RFC 5258), WebDAV
//! collection members (RFC 4918 9.1, Depth 1) and the name lookups of
//! RENAME / DELETE.
//!
//! An account's own folders are read from the ordered name index 0x11
//! (`keys::folder_name`: owner, name → id), one range per literal prefix
//! of what is asked; a folder record (0x10, with its ACL) is decoded only
//! for a folder the caller keeps. `\HasChildren` is one neighbour lookup:
//! the folders below `name` are exactly the keys starting with `name/`,
//! contiguous in key order, so the first key at or after `name/` tells
//! (within a range already read, a binary search; else one ranged read
//! of limit 1). Folders other accounts share come through the grant
//! index 0x12 (grantee, owner, folder), which holds only what is shared
//! with the principal or `anyone`. Subscriptions come from 0x13 by prefix.

use std::collections::BTreeMap;

use super::folders::{FolderInfo, FolderRef};
use super::{rights_of, Store};
use crate::engine::Snapshot;
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{AccountId, Folder, FolderId, Principal};
use crate::names::{is_within, DELIMITER};
use crate::rights::Right;
use crate::writer::{decode, Reader};

/// Keys read per ranged read of the name index.
const PAGE: usize = 1024;

/// Keys of the first ranged read of a listing's scan, and of the first
/// after each seek.
const FIRST_PAGE: usize = 4;

/// Decides, from its name alone, whether a listed folder is wanted (before
/// its record is read): `FolderRef::own(name)` for one of the principal's
/// folders, `FolderRef::of(owner, name)` for another account's.
type Keep = dyn Fn(&FolderRef) -> bool + Send + Sync;

/// Decides, from one of the principal's own folder names that has
/// children, whether any folder below it can be kept; `false` skips its
/// subtree with one seek (a LIST pattern `c%` never reaches `c1/x`).
type Descend = dyn Fn(&str) -> bool + Send + Sync;

/// Which other accounts' shared folders a listing reads from the grant
/// index 0x12 (grantee, owner, folder): none, those of the named owners
/// (logins; an unknown login gives nothing), or all of them. Chosen by the
/// caller from what it asks (a LIST pattern that cannot reach `Shared/`
/// reads none; `Shared/bob/...` only bob's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SharedScope {
    /// No shared folder.
    None,
    /// The folders these owners share with the principal or `anyone`.
    Owners(Vec<String>),
    /// Every folder shared with the principal or `anyone`.
    All,
}

impl Store {
    /// Operation "list folders" (IMAP LIST, WebDAV PROPFIND): the
    /// principal's folders, then the folders of other accounts it may look
    /// up (`l`, RFC 4314 2.1), ordered by owner (own first, then by account
    /// id) and name. Cost O(F) in the number of folders; a caller that
    /// wants a part asks [`Store::list_matching`] or
    /// [`Store::list_children`].
    pub async fn list_folders(&self, principal: &Principal) -> Result<Vec<FolderInfo>> {
        self.list_matching(principal, &[String::new()], |_: &FolderRef| true)
            .await
    }

    /// The folders of [`Store::list_folders`] that `keep` accepts, reading
    /// only the principal's own folders whose name starts with one of
    /// `prefixes` (byte-wise; `""` is every folder), and every folder other
    /// accounts share with it (through the grant index: their number does
    /// not grow with the account's own folders). `keep` is asked before a
    /// folder's record is read, so the records decoded are those returned.
    /// `\HasChildren` ([`FolderInfo::has_children`]) counts every folder of
    /// the owner below (own folders) or every folder of the owner shared
    /// with the principal or `anyone` below, on which it has `l` (others'
    /// folders; RFC 4314 4).
    ///
    /// Cost: O(own folders within the prefixes + shared folders + kept),
    /// on the blocking pool. Errors: [`StoreError::Corrupt`] for an index
    /// entry whose record is missing.
    pub async fn list_matching<F>(
        &self,
        principal: &Principal,
        prefixes: &[String],
        keep: F,
    ) -> Result<Vec<FolderInfo>>
    where
        F: Fn(&FolderRef) -> bool + Send + Sync + 'static,
    {
        self.list_matching_in(principal, prefixes, SharedScope::All, keep, |_: &str| true)
            .await
    }

    /// [`Store::list_matching`], reading only the shared folders of
    /// `shared`, and skipping with one seek the subtree of each own folder
    /// for which `descend` (asked only of a folder with children) says no
    /// folder below can be kept (IMAP LIST `c%`, `INBOX`: issue 16).
    /// Records (0x10) and subscriptions are read in one ranged read when
    /// more than a quarter of the names read are kept, else one point read
    /// each for those kept.
    ///
    /// Cost: O(own names within the prefixes, less the skipped subtrees +
    /// kept + shared folders in scope). Errors: [`StoreError::Corrupt`].
    pub async fn list_matching_in<F, D>(
        &self,
        principal: &Principal,
        prefixes: &[String],
        shared: SharedScope,
        keep: F,
        descend: D,
    ) -> Result<Vec<FolderInfo>>
    where
        F: Fn(&FolderRef) -> bool + Send + Sync + 'static,
        D: Fn(&str) -> bool + Send + Sync + 'static,
    {
        let own = disjoint(prefixes);
        self.read_listing(principal, move |snap, principal| {
            collect(snap, principal, &own, &shared, &keep, &descend)
        })
        .await
    }

    /// The folders of `owner` (`None`: the principal's own) directly below
    /// `parent` (`None`: the top level) that the principal may look up, in
    /// name order, with [`FolderInfo::has_children`] as
    /// [`Store::list_folders`] gives it (WebDAV members of an account or a
    /// collection, RFC 4918 9.1 Depth 1).
    ///
    /// Cost: own folders O(children × log F) (the subtree of each child is
    /// skipped with one seek); another account's O(its shares with the
    /// principal). Errors: [`StoreError::Corrupt`].
    pub async fn list_children(
        &self,
        principal: &Principal,
        owner: Option<&str>,
        parent: Option<&str>,
    ) -> Result<Vec<FolderInfo>> {
        let parent = parent.map(str::to_string);
        let Some(owner) = owner.map(str::to_string) else {
            return self
                .read_listing(principal, move |snap, principal| {
                    own_children(snap, principal, parent.as_deref())
                })
                .await;
        };
        self.read_listing(principal, move |snap, principal| {
            let scope = SharedScope::Owners(vec![owner.clone()]);
            let keep = move |f: &FolderRef| {
                f.owner.as_deref() == Some(owner.as_str()) && is_child(&f.name, parent.as_deref())
            };
            collect(snap, principal, &[], &scope, &keep, &|_: &str| true)
        })
        .await
    }

    /// `folder` and every folder below it that the principal may look up,
    /// in name order (the trees of WebDAV DELETE and COPY, RFC 4918 9.6 and
    /// 9.8.3). Cost: own folders a point read and O(subtree) (the range
    /// `name/`, not the names that merely start with `name`); another
    /// account's O(its shares with the principal). Errors:
    /// [`StoreError::Corrupt`].
    pub async fn list_subtree(
        &self,
        principal: &Principal,
        folder: &FolderRef,
    ) -> Result<Vec<FolderInfo>> {
        let folder = folder.clone();
        self.read_listing(principal, move |snap, principal| {
            subtree_listing(snap, principal, &folder)
        })
        .await
    }

    /// The logins of the other accounts that share at least one folder the
    /// principal may look up (`l`), by account id: the accounts WebDAV
    /// shows beside the principal's own (`/dav/{owner}/`). Cost: O(shares
    /// with the principal).
    pub async fn shared_owners(&self, principal: &Principal) -> Result<Vec<String>> {
        let shared = self
            .read_listing(principal, |snap, principal| {
                collect(
                    snap,
                    principal,
                    &[],
                    &SharedScope::All,
                    &|_: &FolderRef| true,
                    &|_: &str| true,
                )
            })
            .await?;
        let mut owners: Vec<String> = Vec::new();
        for owner in shared.into_iter().filter_map(|f| f.owner) {
            if owners.last() != Some(&owner) {
                owners.push(owner);
            }
        }
        Ok(owners)
    }

    /// For each of the principal's own folder names (existing or not)
    /// whether a folder of its account lies below it (`\HasChildren`, RFC
    /// 5258 4, for a name listed only as a parent). One lookup per name.
    pub async fn own_have_children(
        &self,
        principal: &Principal,
        names: Vec<String>,
    ) -> Result<Vec<bool>> {
        self.read_listing(principal, move |snap, principal| {
            names
                .iter()
                .map(|n| has_child_in(snap, principal.account, n))
                .collect()
        })
        .await
    }

    /// The folders of `ids` the principal may look up, as
    /// [`Store::list_folders`] gives them (own folders first, in the order
    /// of `ids`; then others' by owner and name); an id of no such folder
    /// is left out. Cost: one record and one neighbour lookup per own id;
    /// O(shares with the principal) once if an id is not its own (the
    /// folders a batch of change notifications names, RFC 5465).
    pub async fn list_by_ids(
        &self,
        principal: &Principal,
        ids: Vec<FolderId>,
    ) -> Result<Vec<FolderInfo>> {
        self.read_listing(principal, move |snap, principal| {
            let mut out = Vec::new();
            let mut others = std::collections::BTreeSet::new();
            for id in ids {
                match load::<Folder>(snap, &keys::folder(principal.account, id))? {
                    Some(folder) => {
                        let below = has_child_in(snap, principal.account, &folder.name)?;
                        out.push(own_info(snap, principal, &folder.name, id, below)?);
                    }
                    None => {
                        others.insert(id);
                    }
                }
            }
            if !others.is_empty() {
                let mut shared = Vec::new();
                let all = |_: &FolderRef| true;
                shared_folders(snap, principal, &SharedScope::All, &all, &mut shared)?;
                out.extend(shared.into_iter().filter(|f| others.contains(&f.folder.id)));
            }
            Ok(out)
        })
        .await
    }

    /// Which of `names` (as [`Store::subscriptions`] spells them) the
    /// principal subscribed to: one lookup per name.
    pub async fn subscribed_among(
        &self,
        principal: &Principal,
        names: Vec<String>,
    ) -> Result<Vec<String>> {
        self.read_listing(principal, move |snap, principal| {
            let mut out = Vec::new();
            for name in names {
                if snap
                    .get(&keys::subscription(principal.account, &name))?
                    .is_some()
                {
                    out.push(name);
                }
            }
            Ok(out)
        })
        .await
    }

    /// The name of the principal's own folder `id`, `None` if it has none
    /// (removed, or another account's). One record read (the SIP change
    /// notifications name folders by id).
    pub async fn folder_name_by_id(
        &self,
        principal: &Principal,
        id: FolderId,
    ) -> Result<Option<String>> {
        let snap = self.snapshot()?;
        Ok(snap
            .load::<Folder>(&keys::folder(principal.account, id))?
            .map(|f| f.name))
    }

    /// The folder names the principal subscribed to (RFC 3501 6.3.6), as
    /// it names them (`owner/name` for another account's folder), in byte
    /// order, limited to those starting with one of `prefixes` (`""`:
    /// every one). Cost O(subscriptions within the prefixes).
    pub async fn subscriptions_matching(
        &self,
        principal: &Principal,
        prefixes: &[String],
    ) -> Result<Vec<String>> {
        let prefixes = disjoint(prefixes);
        self.read_listing(principal, move |snap, principal| {
            let base = keys::subscriptions(principal.account).len();
            let mut out = Vec::new();
            for prefix in &prefixes {
                let range = keys::subscription(principal.account, prefix);
                for_each_key(snap, &range, |key| {
                    out.push(String::from_utf8_lossy(&key[base..]).into_owned());
                    Ok(true)
                })?;
            }
            Ok(out)
        })
        .await
    }

    /// The folder names the principal subscribed to, sorted (IMAP LSUB).
    pub async fn subscriptions(&self, principal: &Principal) -> Result<Vec<String>> {
        self.subscriptions_matching(principal, &[String::new()])
            .await
    }

    /// Runs a listing read on a snapshot, on the blocking pool (it may read
    /// thousands of keys: kept off the async workers, so other clients
    /// are not delayed).
    async fn read_listing<T, F>(&self, principal: &Principal, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Snapshot, &Principal) -> Result<T> + Send + 'static,
    {
        let snap = self.snapshot()?;
        let principal = principal.clone();
        tokio::task::spawn_blocking(move || read(&*snap, &principal))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
    }
}

/// Whether `name` lies directly below `parent` (`None`: the top level).
fn is_child(name: &str, parent: Option<&str>) -> bool {
    match parent {
        None => !name.contains(DELIMITER),
        Some(p) => name
            .strip_prefix(p)
            .and_then(|r| r.strip_prefix(DELIMITER))
            .is_some_and(|leaf| !leaf.is_empty() && !leaf.contains(DELIMITER)),
    }
}

/// `prefixes` sorted, without one that another of them starts with, so
/// that their ranges are disjoint and read in key order.
fn disjoint(prefixes: &[String]) -> Vec<String> {
    let mut sorted: Vec<String> = prefixes.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut out: Vec<String> = Vec::new();
    for p in sorted {
        // Sorted: a prefix of `p` among the kept ones is the last kept.
        if out.last().is_some_and(|kept| p.starts_with(kept.as_str())) {
            continue;
        }
        out.push(p);
    }
    out
}

/// Calls `each` with every key under `range`, in order, a page at a time,
/// until it returns `false`.
fn for_each_key(
    snap: &dyn Snapshot,
    range: &[u8],
    mut each: impl FnMut(&[u8]) -> Result<bool>,
) -> Result<()> {
    let mut start = range.to_vec();
    loop {
        let page = snap.scan(range, &start, PAGE)?;
        for (key, _) in &page {
            if !each(key)? {
                return Ok(());
            }
        }
        match page.last() {
            Some((last, _)) if page.len() == PAGE => {
                start = last.clone();
                start.push(0);
            }
            _ => return Ok(()),
        }
    }
}

/// Whether `rest`, the names that follow `name` in a page (ascending),
/// holds one below `name`; `None` when the page ends before it tells.
/// Without allocating when the next name decides, as it nearly always
/// does: it is below `name`, or it does not start with `name` (then no
/// later one does). Only siblings such as `name x` (a byte below the
/// delimiter) between `name` and `name/` need a search.
fn child_among(rest: &[(String, FolderId)], name: &str) -> Option<bool> {
    let below = |n: &str| {
        n.strip_prefix(name)
            .is_some_and(|t| t.starts_with(DELIMITER))
    };
    let (next, _) = rest.first()?;
    if !next.starts_with(name) {
        return Some(false);
    }
    if below(next) {
        return Some(true);
    }
    let prefix = format!("{name}{DELIMITER}");
    let at = rest.partition_point(|(n, _)| n.as_str() < prefix.as_str());
    rest.get(at).map(|(n, _)| below(n))
}

/// Whether a folder of `owner` lies below `name`: one ranged read of
/// limit 1 at `name/` in the name index.
fn has_child_in(snap: &dyn Snapshot, owner: AccountId, name: &str) -> Result<bool> {
    let below = keys::folder_name(owner, &format!("{name}{DELIMITER}"));
    Ok(!snap.scan(&below, &below, 1)?.is_empty())
}

/// Whether a folder of `owner` lies below `name`, inside a transaction
/// (seeing its own writes): the DELETE check. One ranged read of limit 1
/// at `name/`.
pub(crate) fn has_child<R: Reader + ?Sized>(r: &R, owner: AccountId, name: &str) -> Result<bool> {
    let below = keys::folder_name(owner, &format!("{name}{DELIMITER}"));
    Ok(!r.scan_from(&below, &below, 1)?.is_empty())
}

/// `name` (if it exists) and every folder of `owner` below it, as (name,
/// id) in name order, inside a transaction: the folders a RENAME moves.
/// Cost O(subtree) from the name index.
pub(crate) fn subtree<R: Reader + ?Sized>(
    r: &R,
    owner: AccountId,
    name: &str,
) -> Result<Vec<(String, FolderId)>> {
    let mut out = Vec::new();
    if let Some(id) = r.load::<FolderId>(&keys::folder_name(owner, name))? {
        out.push((name.to_string(), id));
    }
    let base = keys::folder_name(owner, "").len();
    for (key, value) in r.scan_raw(&keys::folder_name(owner, &format!("{name}{DELIMITER}")))? {
        let name = String::from_utf8_lossy(&key[base..]).into_owned();
        out.push((name, decode(&value)?));
    }
    Ok(out)
}

/// The entry of one own folder: its record, subscription and children.
fn own_info(
    snap: &dyn Snapshot,
    principal: &Principal,
    name: &str,
    id: FolderId,
    has_children: bool,
) -> Result<FolderInfo> {
    let folder: Folder = load(snap, &keys::folder(principal.account, id))?
        .ok_or_else(|| StoreError::Corrupt(format!("folder {id} indexed but missing")))?;
    Ok(FolderInfo {
        owner: None,
        rights: rights_of(principal, &folder),
        subscribed: snap
            .get(&keys::subscription(principal.account, name))?
            .is_some(),
        folder,
        has_children,
    })
}

fn load<T: serde::de::DeserializeOwned>(snap: &dyn Snapshot, key: &[u8]) -> Result<Option<T>> {
    snap.get(key)?.map(|v| decode(&v)).transpose()
}

/// The listing: own folders within the disjoint `own` prefixes, then
/// the folders of other accounts in `shared` the principal may look up;
/// each kept by `keep` before its record is read (own) or after its
/// rights are known (others'). Below an own folder with children for
/// which `descend` says no, the scan seeks past the subtree.
fn collect(
    snap: &dyn Snapshot,
    principal: &Principal,
    own: &[String],
    shared: &SharedScope,
    keep: &Keep,
    descend: &Descend,
) -> Result<Vec<FolderInfo>> {
    let mut out = Vec::new();
    let owner = principal.account;
    let base = keys::folder_name(owner, "").len();
    for prefix in own {
        let range = keys::folder_name(owner, prefix);
        // Kept: (name, id, has children); records are read after the scan.
        let mut kept: Vec<(String, FolderId, bool)> = Vec::new();
        let mut read = 0usize;
        // The `name/` of folders whose subtree is skipped, while the scan
        // may still meet it (`name x` sorts between `name` and `name/`).
        let mut pruned: Vec<String> = Vec::new();
        let mut start = range.clone();
        // Pages grow from a few keys to PAGE while nothing is skipped, and
        // start small again after a seek: the keys of a skipped subtree
        // read before the seek stay few (an exact name reads a handful).
        let mut size = FIRST_PAGE;
        'scan: loop {
            let page = snap.scan(&range, &start, size)?;
            let more = page.len() == size;
            read += page.len();
            let mut names: Vec<(String, FolderId)> = Vec::with_capacity(page.len());
            for (key, value) in &page {
                let name = String::from_utf8_lossy(&key[base..]).into_owned();
                names.push((name, decode(value)?));
            }
            for i in 0..names.len() {
                let name = names[i].0.as_str();
                pruned.retain(|p| name < p.as_str() || name.starts_with(p.as_str()));
                if let Some(p) = pruned.iter().find(|p| name.starts_with(p.as_str())) {
                    // `0` is the byte after the delimiter: past `p`'s range.
                    let past = format!("{}0", &p[..p.len() - DELIMITER.len_utf8()]);
                    start = keys::folder_name(owner, &past);
                    size = FIRST_PAGE;
                    continue 'scan;
                }
                let has_children = match child_among(&names[i + 1..], name) {
                    Some(found) => found,
                    None if more => has_child_in(snap, owner, name)?,
                    None => false,
                };
                if has_children && !descend(name) {
                    pruned.push(format!("{name}{DELIMITER}"));
                }
                if keep(&FolderRef::own(name)) {
                    let id = names[i].1;
                    kept.push((std::mem::take(&mut names[i].0), id, has_children));
                }
            }
            match page.last() {
                Some((last, _)) if more => {
                    start = last.clone();
                    start.push(0);
                    size = (size * 2).min(PAGE);
                }
                _ => break,
            }
        }
        // Many kept: the records and subscriptions of the range in one
        // ranged read each; few: a point read for each kept.
        let bulk = kept.len() * 4 > read;
        // Subscriptions in name order, as `kept` is: matched by merging.
        let mut subscribed: Vec<Vec<u8>> = Vec::new();
        let sub_base = keys::subscriptions(owner).len();
        // Records in id order (the key order of the whole account's).
        let mut records: Vec<(FolderId, Vec<u8>)> = Vec::new();
        if bulk {
            let subs = keys::subscription(owner, prefix);
            subscribed = snap
                .scan(&subs, &subs, usize::MAX)?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            if prefix.is_empty() {
                let all = keys::folders(owner);
                records = snap
                    .scan(&all, &all, usize::MAX)?
                    .into_iter()
                    .filter_map(|(key, value)| Some((keys::trailing_u64(&key)?, value)))
                    .collect();
            }
        }
        let mut next_sub = 0;
        for (name, id, has_children) in kept {
            let raw = records
                .binary_search_by_key(&id, |(i, _)| *i)
                .ok()
                .map(|at| std::mem::take(&mut records[at].1));
            let folder: Folder = match raw {
                Some(raw) => decode(&raw)?,
                None => load(snap, &keys::folder(owner, id))?.ok_or_else(|| {
                    StoreError::Corrupt(format!("folder {id} indexed but missing"))
                })?,
            };
            let is_subscribed = if bulk {
                while subscribed
                    .get(next_sub)
                    .is_some_and(|k| &k[sub_base..] < name.as_bytes())
                {
                    next_sub += 1;
                }
                subscribed
                    .get(next_sub)
                    .is_some_and(|k| &k[sub_base..] == name.as_bytes())
            } else {
                snap.get(&keys::subscription(owner, &name))?.is_some()
            };
            out.push(FolderInfo {
                owner: None,
                rights: rights_of(principal, &folder),
                subscribed: is_subscribed,
                folder,
                has_children,
            });
        }
    }
    shared_folders(snap, principal, shared, keep, &mut out)?;
    Ok(out)
}

/// [`Store::list_subtree`] on a snapshot: an own folder by a point read of
/// its name and the range `name/`; another account's from its shares.
fn subtree_listing(
    snap: &dyn Snapshot,
    principal: &Principal,
    folder: &FolderRef,
) -> Result<Vec<FolderInfo>> {
    let base = folder.name.clone();
    let Some(owner) = &folder.owner else {
        let account = principal.account;
        let mut out = Vec::new();
        if let Some(id) = load::<FolderId>(snap, &keys::folder_name(account, &base))? {
            let below = has_child_in(snap, account, &base)?;
            out.push(own_info(snap, principal, &base, id, below)?);
        }
        let range = [format!("{base}{DELIMITER}")];
        let all = |_: &FolderRef| true;
        out.extend(collect(
            snap,
            principal,
            &range,
            &SharedScope::None,
            &all,
            &|_: &str| true,
        )?);
        return Ok(out);
    };
    let scope = SharedScope::Owners(vec![owner.clone()]);
    let wanted = folder.owner.clone();
    let keep = move |f: &FolderRef| f.owner == wanted && is_within(&f.name, &base);
    collect(snap, principal, &[], &scope, &keep, &|_: &str| true)
}

/// The folders other accounts share with the principal or `anyone` (the
/// grant index), by owner id and then name, that it may look up and
/// `keep` accepts. `\HasChildren` counts the owner's folders below that
/// the principal may look up (RFC 4314 4: no `l`, not revealed).
fn shared_folders(
    snap: &dyn Snapshot,
    principal: &Principal,
    scope: &SharedScope,
    keep: &Keep,
    out: &mut Vec<FolderInfo>,
) -> Result<()> {
    // The ranges of the grant index to read, per grantee (the principal,
    // then `anyone` = 0): all its grants, or those of each owner.
    let ranges: Vec<Vec<u8>> = match scope {
        SharedScope::None => return Ok(()),
        SharedScope::All => vec![Vec::new()],
        SharedScope::Owners(logins) => {
            let mut ids = Vec::new();
            for login in logins {
                if let Some(entry) = load::<super::AccountEntry>(snap, &keys::account(login))? {
                    ids.push(entry.account.id.to_be_bytes().to_vec());
                }
            }
            ids.sort();
            ids.dedup();
            ids
        }
    };
    let mut by_owner: BTreeMap<AccountId, BTreeMap<String, Folder>> = BTreeMap::new();
    let grants = ranges.iter().flat_map(|owner| {
        [principal.account, 0].map(|grantee| [keys::grants_to(grantee), owner.clone()].concat())
    });
    for range in grants {
        for (k, _) in snap.scan(&range, &range, usize::MAX)? {
            let owner = k
                .get(9..17)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            let Some(id) = keys::trailing_u64(&k) else {
                continue;
            };
            if owner == principal.account {
                continue;
            }
            if let Some(f) = load::<Folder>(snap, &keys::folder(owner, id))? {
                by_owner.entry(owner).or_default().insert(f.name.clone(), f);
            }
        }
    }
    for (owner, folders) in by_owner {
        let Some(login) = load::<String>(snap, &keys::account_login(owner))? else {
            continue;
        };
        // RFC 4314 4 / RFC 5258 4: a folder the principal may not look up
        // is not revealed, not even as a child.
        let visible: Vec<(&String, &Folder, _)> = folders
            .iter()
            .map(|(name, folder)| (name, folder, rights_of(principal, folder)))
            .filter(|(_, _, rights)| rights.contains(Right::Lookup))
            .collect();
        let names: Vec<&String> = visible.iter().map(|(name, _, _)| *name).collect();
        for (name, folder, rights) in visible {
            if !keep(&FolderRef::of(login.as_str(), name)) {
                continue;
            }
            let below = format!("{name}{DELIMITER}");
            let at = names.partition_point(|n| n.as_str() < below.as_str());
            let has_children = names.get(at).is_some_and(|n| n.starts_with(&below));
            let shown = format!("{login}{DELIMITER}{name}");
            out.push(FolderInfo {
                owner: Some(login.clone()),
                subscribed: snap
                    .get(&keys::subscription(principal.account, &shown))?
                    .is_some(),
                folder: folder.clone(),
                rights,
                has_children,
            });
        }
    }
    Ok(())
}

/// The principal's own folders directly below `parent`: a ranged read
/// that skips each child's subtree with one seek (to `child0`, `0` being
/// the byte after the delimiter).
fn own_children(
    snap: &dyn Snapshot,
    principal: &Principal,
    parent: Option<&str>,
) -> Result<Vec<FolderInfo>> {
    let owner = principal.account;
    let prefix = parent.map_or(String::new(), |p| format!("{p}{DELIMITER}"));
    let range = keys::folder_name(owner, &prefix);
    let base = keys::folder_name(owner, "").len();
    let mut out = Vec::new();
    let mut start = range.clone();
    'scan: loop {
        let page = snap.scan(&range, &start, 64)?;
        let more = page.len() == 64;
        for (key, value) in &page {
            let name = String::from_utf8_lossy(&key[base..]).into_owned();
            let leaf = &name[prefix.len()..];
            match leaf.split_once(DELIMITER) {
                None if !leaf.is_empty() => {
                    let has_children = has_child_in(snap, owner, &name)?;
                    out.push(own_info(
                        snap,
                        principal,
                        &name,
                        decode(value)?,
                        has_children,
                    )?);
                }
                None => {}
                Some((child, _)) => {
                    // A descendant: skip the rest of `child`'s subtree.
                    start = keys::folder_name(owner, &format!("{prefix}{child}0"));
                    continue 'scan;
                }
            }
        }
        match page.last() {
            Some((last, _)) if more => {
                start = last.clone();
                start.push(0);
            }
            _ => break,
        }
    }
    Ok(out)
}

/// A seeded generator of random folder trees for the listing oracles (the
/// store-core test `tests/listing.rs` and imap-server's LIST oracle):
/// xorshift64*, names of 1 to 4 levels of 1 or 2 letters over `a`, `b`,
/// `c`, the first level sometimes `INBOX` spelled in some case, or a name
/// that starts like it (`Inboxes`, `inbox-old`, `INBOXa`).
#[doc(hidden)]
pub struct TreeRng(pub u64);

impl TreeRng {
    /// A number below `n` (> 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }

    /// A random folder name (not canonical: `inbox/a` may come).
    pub fn name(&mut self) -> String {
        let depth = 1 + self.below(4);
        let mut levels: Vec<String> = (0..depth)
            .map(|_| {
                (0..1 + self.below(2))
                    .map(|_| ["a", "b", "c"][self.below(3)])
                    .collect()
            })
            .collect();
        if depth > 1 && self.below(6) == 0 {
            levels[0] = ["INBOX", "inbox", "Inbox"][self.below(3)].to_string();
        } else if self.below(10) == 0 {
            // Names that start like INBOX and are not it (RFC 3501 5.1
            // folds only a whole first level).
            levels[0] = ["Inboxes", "inbox-old", "INBOXa"][self.below(3)].to_string();
        }
        levels.join("/")
    }

    /// The accounts of the listing oracles, `alice`, `bob` and `carol`
    /// (password `password-1`); returns alice, the one listing. Errors:
    /// those of [`Store::create_account`].
    pub async fn accounts(store: &Store) -> Result<Principal> {
        for login in ["alice", "bob", "carol"] {
            store.create_account(login, None, "password-1").await?;
        }
        store.trusted_element("alice").await
    }

    /// Every ancestor of each of `names`, then the name, canonical, each
    /// once, parents first (what [`Store::bulk_folders`] needs).
    pub fn with_parents(names: &[String]) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<String> = Vec::new();
        for name in names {
            let Ok(name) = crate::names::canonical(name) else {
                continue;
            };
            for level in crate::names::ancestors(&name)
                .into_iter()
                .chain([name.as_str()])
            {
                if seen.insert(level.to_string()) {
                    out.push(level.to_string());
                }
            }
        }
        out
    }
}

/// What the listing reads, counted in rows (each row a point read or a
/// key of a ranged read) on a snapshot that counts them: the reads of an
/// exact name, of `c%`, of `%` keeping a few names, of one owner's
/// shares and of a subtree do not grow with the folders around them
/// (issue 16). Counts, not times: deterministic.
#[cfg(test)]
mod reads {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::engine::{EngineError, KeyValue};
    use crate::rights::Rights;
    use crate::AclMode;
    use crate::StoreConfig;

    struct Counting {
        inner: Box<dyn Snapshot>,
        rows: AtomicUsize,
    }

    impl Snapshot for Counting {
        fn get(&self, key: &[u8]) -> std::result::Result<Option<Vec<u8>>, EngineError> {
            self.rows.fetch_add(1, Ordering::Relaxed);
            self.inner.get(key)
        }

        fn scan(
            &self,
            prefix: &[u8],
            start: &[u8],
            limit: usize,
        ) -> std::result::Result<Vec<KeyValue>, EngineError> {
            let page = self.inner.scan(prefix, start, limit)?;
            self.rows.fetch_add(page.len().max(1), Ordering::Relaxed);
            Ok(page)
        }
    }

    /// Runs `read` on a counting snapshot: its result and the rows read.
    fn counted<T>(store: &Store, read: impl FnOnce(&dyn Snapshot) -> Result<T>) -> (T, usize) {
        let snap = Counting {
            inner: store.snapshot().expect("snapshot"),
            rows: AtomicUsize::new(0),
        };
        let out = read(&snap).expect("read");
        (out, snap.rows.load(Ordering::Relaxed))
    }

    fn names(infos: &[FolderInfo]) -> Vec<(Option<&str>, &str, bool)> {
        infos
            .iter()
            .map(|i| (i.owner.as_deref(), i.folder.name.as_str(), i.has_children))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_do_not_grow_with_the_folders_around_a_match() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(StoreConfig::new(dir.path())).expect("store");
        let alice = TreeRng::accounts(&store).await.expect("accounts");
        let mut own: Vec<String> = (0..600).map(|i| format!("INBOX/m{i}")).collect();
        for c in 0..10 {
            own.extend((0..60).map(|j| format!("c{c}/x{j}")));
        }
        own.push("a".into());
        own.extend((0..200).map(|j| format!("ab/x{j}")));
        own.extend((0..200).map(|j| format!("archive/x{j}")));
        store
            .bulk_folders(&alice, &TreeRng::with_parents(&own))
            .await
            .expect("own");
        for (login, count) in [("bob", 100), ("carol", 1)] {
            let owner = store.trusted_element(login).await.expect("owner");
            let theirs: Vec<String> = (0..count).map(|i| format!("p{i}")).collect();
            store.bulk_folders(&owner, &theirs).await.expect("theirs");
            for name in &theirs {
                store
                    .set_acl(
                        &owner,
                        &FolderRef::own(name.as_str()),
                        "alice",
                        Rights::parse("lr").expect("rights"),
                        AclMode::Replace,
                    )
                    .await
                    .expect("acl");
            }
        }
        let no = |_: &str| false;

        // LIST "" INBOX: the name, its neighbour, its record; not INBOX/*.
        let exact = |f: &FolderRef| f.name == "INBOX";
        let none = SharedScope::None;
        let (got, rows) = counted(&store, |s| {
            collect(s, &alice, &["INBOX".into()], &none, &exact, &no)
        });
        assert_eq!(names(&got), [(None, "INBOX", true)]);
        assert!(rows <= 10, "exact name: {rows} rows");

        // LIST "" c%: each c{n} and a seek past its 60 children.
        let top = |f: &FolderRef| !f.name.contains(DELIMITER);
        let (got, rows) = counted(&store, |s| {
            collect(s, &alice, &["c".into()], &none, &top, &no)
        });
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|f| f.has_children));
        assert!(rows <= 100, "c%: {rows} rows");

        // `%` keeping one name: no range read of every record.
        let one = |f: &FolderRef| f.name == "a";
        let (got, rows) = counted(&store, |s| {
            collect(s, &alice, &[String::new()], &none, &one, &no)
        });
        assert_eq!(names(&got), [(None, "a", false)]);
        assert!(rows <= 100, "% keeping one: {rows} rows");

        // Shared/carol/...: carol's grants only, not bob's 100.
        let all = |_: &FolderRef| true;
        let carol = SharedScope::Owners(vec!["carol".into()]);
        let (got, rows) = counted(&store, |s| collect(s, &alice, &[], &carol, &all, &no));
        assert_eq!(names(&got), [(Some("carol"), "p0", false)]);
        assert!(rows <= 10, "one owner's shares: {rows} rows");
        let (got, rows) = counted(&store, |s| collect(s, &alice, &[], &none, &all, &no));
        assert!(got.is_empty() && rows == 0, "no shares: {rows} rows");

        // The subtree of `a`: not `ab/...` nor `archive/...`.
        let (got, rows) = counted(&store, |s| subtree_listing(s, &alice, &FolderRef::own("a")));
        assert_eq!(names(&got), [(None, "a", false)]);
        assert!(rows <= 10, "subtree: {rows} rows");
        store.close().await;
    }
}
