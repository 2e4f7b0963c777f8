//! [`Store`]: the operations of seed 002 (5.5.1), one method each, every one
//! taking the authenticated [`Principal`] and checking its rights here, once,
//! for every protocol (ARCHITECTURE.md, "store-core: one API").
//!
//! The operations are grouped by what they act on, one file each:
//! `accounts` (authenticate, account administration), `folders` (set active
//! folder, folder create / list / move / remove, subscriptions), `objects`
//! (object store / fetch / copy / move / remove, flags), `search`, `acl`,
//! `metadata`, `references` (generate reference, fetch by reference),
//! `sync` (synchronize, the change feed) and `quota`.

mod accounts;
mod acl;
mod backup;
pub use backup::{
    read_manifest, restore, restore_blobs_to, Backup, BackupError, Manifest, BACKUP_FORMAT,
};
mod bulk;
mod cluster;
mod deposits;
mod expiry;
pub use expiry::{
    expiry_counters, folder_matches, ExpiryCounters, RetentionOutcome, RetentionRule, REMOVE_BATCH,
    SCAN_PAGE,
};
mod feed_subscriptions;
pub use feed_subscriptions::{
    DeliveryClaim, DeliveryLease, FeedSubscription, RestartPoint, DELIVERY_LEASE,
    MAX_FEED_SUBSCRIPTIONS,
};
mod folders;
mod format;
mod index;
mod keywords;
mod last_login;
pub use last_login::LAST_LOGIN_GRANULARITY;
mod listing;
mod liveness;
#[doc(hidden)]
pub use listing::{SharedScope, TreeRng};
mod locks;
mod mail_view;
mod metadata;
mod object_numbers;
pub use object_numbers::VanishedObject;
mod objects;
mod preview;
mod prune;
mod quota;
mod recent;
mod references;
mod resources;
mod search;
mod selection;
mod sync;
mod threads;
mod tokens;
pub use tokens::{AccessToken, TOKEN_PREFIX};

pub use accounts::AccountEntry;
pub use acl::AclMode;
#[doc(hidden)]
pub use bulk::{bench_message, BulkReport, BulkSpec};
pub use folders::{FolderInfo, FolderRef, ObjectState, SelectedFolder};
#[doc(hidden)]
pub use format::FORMAT_VERSION;
pub use index::{
    MailRow, ROW_ANSWERED, ROW_DELETED, ROW_DRAFT, ROW_FLAGGED, ROW_MACOS_NAME, ROW_SEEN,
};
pub use keywords::MAX_FOLDER_KEYWORDS;
pub use locks::{
    check_locks_honoured, lock_path, Lock, NewLock, LOCK_PATH_PREFIX, MAX_LOCKS,
    MAX_LOCKS_PER_PRINCIPAL, MAX_LOCK_OWNER, MAX_LOCK_TIMEOUT,
};
pub use metadata::{MetadataTarget, MAX_METADATA_ENTRIES, MAX_METADATA_VALUE};
pub use objects::{
    CopyResult, FlagUpdate, FlagUpdateRequest, FlagUpdateResult, NewObject, StoredObject,
};
pub use preview::{
    find_part, Preview, PreviewFormat, PreviewRequest, MAX_PREVIEW_DIMENSION, MAX_PREVIEW_SOURCE,
};
pub(crate) use prune::prune_step;
pub use prune::{ChangeRetention, PRUNE_BATCH};
pub use references::{authorized_part, Reference, ReferenceAccess, ReferenceUrl};
pub use resources::Placement;
pub use selection::{ListedObject, ObjectPage, MAX_BATCH};
pub use sync::{CollectionChanges, FeedPosition, FolderChanges, FolderDates, MemberChange};

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::blob::BlobStore;
use crate::changes::ChangeHub;
use crate::engine::{Engine, RedbEngine};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{AccountId, Folder, Principal, QuotaLimits};
use crate::password::{CheckerConfig, LoginCache, PasswordChecker};
use crate::retention::Retention;
use crate::rights::{Right, Rights};
use crate::throttle::{LoginThrottle, ThrottleConfig};
use crate::writer::{CommitStats, Reader, StorageHealth, Txn, Writer};

/// Settings of a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Directory holding `store.redb`, `blobs/` and `tmp/`.
    pub data_dir: PathBuf,
    /// Limits given to new accounts.
    pub default_quota: QuotaLimits,
    /// Most bytes of cached previews under `previews/` (least recently
    /// used evicted first); 0 caches none.
    pub preview_cache_bytes: u64,
    /// The login throttle every protocol shares.
    pub login_throttle: ThrottleConfig,
    /// Bounds on concurrent Argon2 password checks.
    pub password_checks: CheckerConfig,
    /// What happens to macOS metadata files (`._*`, `.DS_Store`): hidden
    /// from IMAP by default ([`crate::macos`]).
    pub macos_metadata: crate::macos::MacosMetadata,
    /// Logins that may administer accounts over a protocol: set any
    /// account's quota limits and read its use (IMAP SETQUOTA / GETQUOTA,
    /// RFC 9208); `[imap] quota_admins`.
    pub quota_admins: Vec<String>,
    /// How long and how much change history (the account change feed,
    /// expunge tombstones) is kept before the writer prunes it
    /// (`[store] change_retention_days`, `max_tombstones_per_folder`).
    pub retention: ChangeRetention,
    /// Where deposited conversations are filed, and which folders only
    /// trusted network elements write (`[sip] folder_layout`;
    /// [`crate::conversation::FolderLayout`]).
    pub folder_layout: crate::conversation::FolderLayout,
    /// Logins of the accounts trusted network elements (a remote
    /// Conversation Server, an RCS CMS interworking function) use: having
    /// authenticated as themselves, they may act for any user
    /// ([`Store::act_for`]; `[auth] trusted_elements`, seed 001
    /// "authentication of the requesting remote environment trusted
    /// server").
    pub trusted_elements: Vec<String>,
    /// Where installed blobs live: files under `data_dir/blobs/` (the
    /// default) or an S3-compatible bucket (`[blobs]`, issue 20).
    pub blobs: crate::blob::BlobBackend,
}

/// The default of [`StoreConfig::preview_cache_bytes`]: 256 MiB.
pub const DEFAULT_PREVIEW_CACHE_BYTES: u64 = 256 * 1024 * 1024;

impl StoreConfig {
    /// The embedded default: redb and blobs under `data_dir`, no quota.
    pub fn new(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            default_quota: QuotaLimits::default(),
            preview_cache_bytes: DEFAULT_PREVIEW_CACHE_BYTES,
            login_throttle: ThrottleConfig::default(),
            password_checks: CheckerConfig::default(),
            macos_metadata: crate::macos::MacosMetadata::default(),
            quota_admins: Vec::new(),
            retention: ChangeRetention::default(),
            folder_layout: crate::conversation::FolderLayout::default(),
            trusted_elements: Vec::new(),
            blobs: crate::blob::BlobBackend::Files,
        }
    }
}

/// The store. Cheap to clone; every clone is the same store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<dyn Engine>,
    blobs: Arc<BlobStore>,
    hub: Arc<ChangeHub>,
    logins: LoginCache,
    throttle: LoginThrottle,
    checker: PasswordChecker,
    /// The server secret decoy SCRAM salts are derived from.
    secret: [u8; 32],
    /// This process's name among the nodes sharing the store
    /// ([`Store::node_id`]).
    node: u64,
    stats: Arc<CommitStats>,
    health: Arc<StorageHealth>,
    writer: RwLock<Option<Writer>>,
    writer_thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    config: StoreConfig,
    /// Permits for MIME parsing at store time ([`Store::parser_permits`]).
    parsers: tokio::sync::Semaphore,
    /// Permits for reads that scan a folder ([`Store::scan_blocking`]).
    scanners: tokio::sync::Semaphore,
    /// Open folder views and the removed objects they still read.
    retention: Arc<Retention>,
}

/// A folder as resolved for one principal: who owns it and what the
/// principal may do in it.
pub(crate) struct Access {
    pub folder: Folder,
    pub rights: Rights,
}

impl Access {
    /// Fails with [`StoreError::PermissionDenied`] unless `right` is held.
    pub fn require(&self, right: Right) -> Result<()> {
        if self.rights.contains(right) {
            Ok(())
        } else {
            Err(StoreError::PermissionDenied(right))
        }
    }
}

impl Store {
    /// Opens the store in `config.data_dir` (created if missing), on the
    /// embedded redb engine. Removes blob files that no record references
    /// (left by a crash between a blob's rename and its commit).
    ///
    /// The data directory and everything in it is made private to the
    /// process's user (directories 0700, files 0600): an existing one with
    /// group or other permission bits is fixed here.
    ///
    /// Errors: the directory cannot be created or its modes fixed, or the
    /// database is locked by another process or damaged.
    pub fn open(config: StoreConfig) -> Result<Store> {
        crate::blob::create_private_dir(&config.data_dir)?;
        let fixed = crate::blob::make_private(&config.data_dir)?;
        if fixed > 0 {
            tracing::warn!(
                entries = fixed,
                data_dir = %config.data_dir.display(),
                "removed group and other permissions from the data directory"
            );
        }
        let engine = Arc::new(RedbEngine::open(&config.data_dir.join("store.redb"))?);
        Self::open_with_engine(config, engine)
    }

    /// Opens the store on any [`Engine`].
    pub fn open_with_engine(config: StoreConfig, engine: Arc<dyn Engine>) -> Result<Store> {
        let blobs = Arc::new(BlobStore::open_with(
            &config.data_dir,
            config.preview_cache_bytes,
            &config.blobs,
        )?);
        {
            // One node at a time does this on a shared engine.
            let _alone = engine.exclusive_open()?;
            format::upgrade(&*engine, &blobs)?;
            sweep_unreferenced_blobs(&*engine, &blobs)?;
            locks::index_locks(&*engine)?;
        }
        crate::telemetry::metrics()
            .accounts
            .set(accounts::count_accounts(&*engine)?);
        let hub = Arc::new(ChangeHub::default());
        // On an engine other nodes share, their commits reach this node's
        // subscribers too, and the server secret is the cluster's.
        let shared = cluster::follow_remote_commits(&engine, hub.clone())?;
        let secret = if shared {
            cluster::shared_server_secret(&*engine)?
        } else {
            crate::password::server_secret(&config.data_dir)?
        };
        let stats = Arc::new(CommitStats::default());
        let health = blobs.health().clone();
        let retention = Arc::new(Retention::default());
        let (writer, thread) = Writer::start(
            engine.clone(),
            blobs.clone(),
            hub.clone(),
            stats.clone(),
            retention.clone(),
            config.retention,
        )?;
        Ok(Store {
            inner: Arc::new(Inner {
                engine,
                blobs,
                hub,
                logins: LoginCache::new(),
                throttle: LoginThrottle::new(config.login_throttle.clone()),
                checker: PasswordChecker::new(config.password_checks.clone()),
                secret,
                node: rand::random(),
                stats,
                health,
                writer: RwLock::new(Some(writer)),
                writer_thread: std::sync::Mutex::new(Some(thread)),
                config,
                parsers: tokio::sync::Semaphore::new(Self::parser_permits()),
                scanners: tokio::sync::Semaphore::new(Self::parser_permits()),
                retention,
            }),
        })
    }

    /// Stops taking writes, waits for the writer to commit what it holds,
    /// and returns. Later writes fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        let writer = self
            .inner
            .writer
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(writer);
        let thread = self
            .inner
            .writer_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// How many messages are MIME-parsed at once when stored: one per CPU
    /// (`std::thread::available_parallelism`), at least one. Each parse
    /// holds its message (up to [`crate::mime::MAX_PARSED_SIZE`]) in
    /// memory, on a blocking thread.
    pub fn parser_permits() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    /// Runs `read`, a read that may scan a whole folder (SELECT of 100k
    /// messages, SEARCH), on the blocking pool, so that it does not hold
    /// up the async workers; at most one per CPU at once, the others
    /// waiting their turn. However many clients select large folders at
    /// once, they take no more threads (and no more of the transient
    /// memory each thread's allocator keeps) than there are CPUs.
    ///
    /// Errors: those of `read`; [`StoreError::Closed`] if the store is
    /// closing; [`StoreError::Corrupt`] if `read` panicked.
    pub(crate) async fn scan_blocking<R, F>(&self, read: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Store) -> Result<R> + Send + 'static,
    {
        let _permit = self
            .inner
            .scanners
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let store = self.clone();
        tokio::task::spawn_blocking(move || read(&store))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.config.data_dir
    }

    /// A 32-byte key for `purpose` (a short ASCII name, e.g. `sip-nonce`),
    /// derived from the server secret: HMAC-SHA-256(secret, "cpm-store
    /// key" NUL purpose). Every node sharing the store derives the same
    /// one (the secret is the cluster's), and it is the same across
    /// restarts; different purposes get unrelated keys.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let mut data = b"cpm-store key\0".to_vec();
        data.extend_from_slice(purpose.as_bytes());
        crate::password::hmac(&self.inner.secret, &data)
    }

    /// This process's name among the nodes sharing the store: random,
    /// drawn at open (a restarted node is a new one). Delivery leases
    /// name their holder by it ([`Store::claim_delivery`]).
    pub fn node_id(&self) -> u64 {
        self.inner.node
    }

    /// Commit counters: how many engine commits (fsyncs) carried how many
    /// operations (group commit).
    pub fn commit_stats(&self) -> &CommitStats {
        &self.inner.stats
    }

    /// `None` while the storage takes writes; else why it does not (a full
    /// device, an I/O error), until a write or the writer's probe (every
    /// second) succeeds again. `/healthz` reports it.
    pub fn storage_failure(&self) -> Option<String> {
        self.inner.health.failure()
    }

    /// Runs `op` in the next group commit; returns once it is durable.
    async fn write<R, F>(&self, op: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Txn<'_>) -> Result<R> + Send + 'static,
    {
        self.submit(op)?.outcome().await
    }

    /// Queues `op` for the next group commit without waiting
    /// ([`crate::writer::Writer::submit`]).
    fn submit<R, F>(&self, op: F) -> Result<crate::writer::PendingWrite<R>>
    where
        R: Send + 'static,
        F: FnOnce(&mut Txn<'_>) -> Result<R> + Send + 'static,
    {
        let writer = self
            .inner
            .writer
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(StoreError::Closed)?;
        writer.submit(op)
    }

    /// A consistent read view of committed state.
    fn snapshot(&self) -> Result<Box<dyn crate::engine::Snapshot>> {
        Ok(self.inner.engine.snapshot()?)
    }
}

/// The rights `principal` holds on `folder` (RFC 4314): every right for the
/// owner, else the union of what the ACL grants the principal's login and
/// `anyone`.
pub(crate) fn rights_of(principal: &Principal, folder: &Folder) -> Rights {
    if folder.owner == principal.account {
        return Rights::all();
    }
    let own = folder
        .acl
        .get(&principal.login)
        .copied()
        .unwrap_or_default();
    let anyone = folder.acl.get("anyone").copied().unwrap_or_default();
    own.union(anyone)
}

/// The id of the account named `login`.
pub(crate) fn account_id<R: Reader + ?Sized>(r: &R, login: &str) -> Result<AccountId> {
    r.load::<AccountEntry>(&keys::account(login))?
        .map(|e| e.account.id)
        .ok_or(StoreError::NoSuchFolder)
}

/// Resolves `folder` for `principal`. A folder the principal can neither
/// look up nor read is reported as absent (RFC 4314 section 4), so its
/// existence does not leak.
pub(crate) fn resolve<R: Reader + ?Sized>(
    r: &R,
    principal: &Principal,
    folder: &FolderRef,
) -> Result<Access> {
    let owner = match &folder.owner {
        None => principal.account,
        Some(login) => account_id(r, login)?,
    };
    let name = crate::names::canonical(&folder.name).map_err(|_| StoreError::NoSuchFolder)?;
    let id: u64 = r
        .load(&keys::folder_name(owner, &name))?
        .ok_or(StoreError::NoSuchFolder)?;
    let record: Folder = r
        .load(&keys::folder(owner, id))?
        .ok_or_else(|| StoreError::Corrupt(format!("folder {id} indexed but missing")))?;
    let rights = rights_of(principal, &record);
    if !rights.contains(Right::Lookup) && !rights.contains(Right::Read) {
        return Err(StoreError::NoSuchFolder);
    }
    Ok(Access {
        folder: record,
        rights,
    })
}

/// Blob record keys [`sweep_unreferenced_blobs`] reads at once.
const SWEEP_PAGE: usize = 1024;

/// Removes what no record references, left by a run that stopped while a
/// view held a removed object (crate::retention) or between a blob's
/// install and its commit: the blob files without a reference count, and
/// the blob records (summary, body text, preview, the bytes of a small
/// blob kept in the database) without one.
fn sweep_unreferenced_blobs(engine: &dyn Engine, blobs: &BlobStore) -> Result<()> {
    let snapshot = engine.snapshot()?;
    let mut files = Vec::new();
    for id in blobs.list()? {
        if snapshot.get(&keys::blob_refs(&id))?.is_none() {
            files.push(id);
        }
    }
    // A blob's records sort together, its reference count first: a record
    // whose blob's count did not come just before it is unreferenced. Keys
    // are read a page at a time, without their values.
    let prefix = keys::blob_records();
    let mut start = prefix.clone();
    let mut batch = crate::engine::WriteBatch::new();
    let (mut counted, mut records) = (None, 0usize);
    loop {
        let page = snapshot.scan_keys(&prefix, &start, SWEEP_PAGE)?;
        for key in &page {
            match keys::parse_blob_record(key) {
                Some((id, keys::BlobRecord::Refs)) => counted = Some(id),
                Some((id, _)) if counted != Some(id) => {
                    batch.insert(key.clone(), None);
                    records += 1;
                }
                _ => {}
            }
        }
        match page.last() {
            Some(last) if page.len() == SWEEP_PAGE => {
                start = last.clone();
                start.push(0);
            }
            _ => break,
        }
    }
    drop(snapshot);
    if files.is_empty() && batch.is_empty() {
        return Ok(());
    }
    // Checked again in a writer's turn: on an engine other nodes share,
    // one of them may have stored the same bytes since (their installs
    // and commits happen in their turns).
    let txn = engine.begin_write()?;
    let unreferenced =
        |id: &crate::blob::BlobId| -> Result<bool> { Ok(txn.get(&keys::blob_refs(id))?.is_none()) };
    let mut gone = Vec::new();
    for id in files {
        if unreferenced(&id)? {
            gone.push(id);
        }
    }
    let mut keep = Vec::new();
    for key in batch.keys() {
        if let Some((id, _)) = keys::parse_blob_record(key) {
            if !unreferenced(&id)? {
                keep.push(key.clone());
            }
        }
    }
    for key in keep {
        batch.remove(&key);
        records -= 1;
    }
    for id in &gone {
        blobs.unlink(id);
    }
    let files = gone;
    if batch.is_empty() {
        drop(txn);
    } else {
        txn.commit(batch, &[])?;
    }
    if !files.is_empty() || records > 0 {
        tracing::info!(
            files = files.len(),
            records,
            "removed unreferenced blobs left by an interrupted run"
        );
    }
    Ok(())
}

/// The current time in Unix seconds (0 if the clock is before 1970).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Takes the account's next MODSEQ (its change number).
/// The first MODSEQ of each hour is marked (0x31), for the retention
/// window ([`prune`]).
pub(crate) fn next_modseq(txn: &mut Txn<'_>, account: AccountId) -> Result<u64> {
    let modseq = txn.add(keys::account_counter(account, "modseq"), 1)?;
    prune::mark_hour(txn, account, modseq, now())?;
    Ok(modseq)
}
