//! The store's single writer: every change goes through one thread that
//! batches concurrent operations into one engine commit (group commit,
//! ARCHITECTURE.md "Durability contract").
//!
//! Each operation is a closure run against a [`Txn`]: a view that reads
//! through the writes of the operations before it in the same batch and
//! buffers its own. If the closure fails, its buffered writes and side
//! effects are dropped and the rest of the batch goes on; if it succeeds,
//! they join the batch. Once the batch is built, staged blobs are renamed
//! into place and their directories fsynced, the engine commits (fsync),
//! and only then does any operation of the batch get its result, so a
//! success reply is always sent after the data is durable.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::blob::{BlobId, BlobStore, StagedBlob, StagedSource};
use crate::changes::ChangeHub;
use crate::engine::{Engine, EngineError, KeyValue, Mutation, Snapshot, WriteBatch};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{AccountId, Change, ChangeKind, FolderId, ModSeq, Object};
use crate::retention::{Removed, Retention};
use crate::store::ChangeRetention;

/// Most operations folded into one commit.
const MAX_BATCH: usize = 256;

/// While writes fail, how often the writer checks (without a request)
/// whether the storage takes writes again.
const PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Bytes the recovery probe writes and fsyncs under `tmp/`: a device with
/// less free space than this is still full.
const PROBE_BYTES: usize = 256 * 1024;

type Operation = Box<dyn FnOnce(&mut Txn<'_>) -> Result<Box<dyn Any + Send>> + Send>;

struct Job {
    op: Operation,
    reply: oneshot::Sender<Result<Box<dyn Any + Send>>>,
}

/// What a [`Txn`] does besides writing keys, applied only if it commits.
#[derive(Default)]
struct Effects {
    /// Blobs to rename into place before the commit.
    install: Vec<StagedBlob>,
    /// Blobs whose last reference went away: unlinked after the commit.
    unlink: BTreeSet<BlobId>,
    /// Changes to publish on the change feed after the commit.
    changes: Vec<(AccountId, Change)>,
    /// Objects removed from folders with open views, for [`Retention`].
    removed: Vec<Removed>,
    /// Blobs of `unlink` whose summary, text and snippet keys were kept
    /// for a retained removal: [`unlink_released`] deletes them with the
    /// file once no view holds the blob.
    kept: BTreeSet<BlobId>,
    /// The blobs of `removed` (a lookup per release, not a scan).
    removed_blobs: BTreeSet<BlobId>,
}

/// A write transaction of one operation inside a group commit.
pub(crate) struct Txn<'a> {
    base: &'a dyn Snapshot,
    batch: &'a WriteBatch,
    own: WriteBatch,
    effects: Effects,
    retention: &'a Retention,
    /// The keyword lists (0x16) this operation read, decoded once
    /// ([`IndexWrite::keyword_cache`]); any write of such a key drops them.
    keywords: KeywordCache,
}

/// Decoded folder keyword lists by folder: `None` when the folder has no
/// stored list (`store::keywords`).
pub(crate) type KeywordCache =
    std::collections::HashMap<crate::model::FolderId, Option<std::sync::Arc<Vec<String>>>>;

impl Reader for Txn<'_> {
    fn scan_raw(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        self.scan_merged(prefix)
    }

    fn scan_from(&self, prefix: &[u8], start: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        merge_layers(self.base, &[self.batch, &self.own], prefix, start, limit)
    }

    /// The current value of `key`, seeing earlier writes of this batch.
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(m) = self.own.get(key) {
            return Ok(m.clone());
        }
        if let Some(m) = self.batch.get(key) {
            return Ok(m.clone());
        }
        Ok(self.base.get(key)?)
    }
}

impl Txn<'_> {
    /// Stores `value` under `key`.
    pub fn put<T: Serialize>(&mut self, key: Vec<u8>, value: &T) -> Result<()> {
        self.write_own(key, Some(encode(value)?));
        Ok(())
    }

    /// Stores an already encoded value under `key` (a copy of a record).
    pub fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.write_own(key, Some(value));
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.write_own(key, None);
    }

    /// Every write of this operation: a keyword list written drops the
    /// decoded lists, so that none is stale.
    fn write_own(&mut self, key: Vec<u8>, m: Mutation) {
        if key.first() == crate::keys::folder_keywords(0).first() {
            self.keywords.clear();
        }
        self.own.insert(key, m);
    }

    /// Every current pair under `prefix`, in key order, merging the
    /// committed state with this batch's writes.
    fn scan_merged(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        let mut merged: BTreeMap<Vec<u8>, Mutation> = self
            .base
            .scan(prefix, prefix, usize::MAX)?
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        for layer in [self.batch, &self.own] {
            for (k, m) in layer.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) {
                    break;
                }
                merged.insert(k.clone(), m.clone());
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, m)| m.map(|v| (k, v)))
            .collect())
    }

    /// Adds `delta` to the u64 counter at `key` (missing = 0) and returns
    /// the new value. Atomic because the writer runs one operation at a time.
    pub fn add(&mut self, key: Vec<u8>, delta: i64) -> Result<u64> {
        let current: u64 = self.load(&key)?.unwrap_or(0);
        let next = current.saturating_add_signed(delta);
        self.put(key, &next)?;
        Ok(next)
    }

    /// Records a new reference to `blob`. On its first, a blob held in
    /// memory is kept in this commit (`keys::blob_content`), durable with
    /// it; one staged in a file is installed.
    pub fn add_blob_ref(&mut self, blob: StagedBlob) -> Result<()> {
        let refs = self.add(keys::blob_refs(&blob.id), 1)?;
        self.effects.unlink.remove(&blob.id);
        if refs == 1 {
            match blob.source() {
                StagedSource::Memory(bytes) => {
                    self.put_raw(keys::blob_content(&blob.id), bytes.to_vec())
                }
                StagedSource::File(_) => self.effects.install.push(blob),
            }
        }
        Ok(())
    }

    /// Records one more reference to an installed blob (COPY).
    pub fn share_blob(&mut self, id: &BlobId) -> Result<()> {
        self.add(keys::blob_refs(id), 1)?;
        Ok(())
    }

    /// Drops one reference to `id`; the file goes when the last one does.
    pub fn release_blob(&mut self, id: &BlobId) -> Result<()> {
        let refs = self.add(keys::blob_refs(id), -1)?;
        if refs == 0 {
            self.delete(keys::blob_refs(id));
            // A lagging view may still read it (crate::retention): its
            // derived keys stay until the view lets go.
            let retained = self.effects.removed_blobs.contains(id) || self.retention.holds_blob(id);
            if retained {
                self.effects.kept.insert(*id);
            } else {
                for key in derived_keys(id) {
                    self.delete(key);
                }
            }
            self.effects.unlink.insert(*id);
        }
        Ok(())
    }

    /// Notes that `object` left `folder` at `modseq`, before its blob
    /// reference is released: if the folder has open views, the record
    /// is kept readable (in memory) for the views behind the removal, and
    /// the blob's file and its summary, text and snippet keys stay in the
    /// store until they let go (crate::retention).
    pub fn note_removed(
        &mut self,
        folder: FolderId,
        modseq: ModSeq,
        object: &Object,
    ) -> Result<()> {
        if !self.retention.watches(folder) {
            return Ok(());
        }
        self.effects.removed_blobs.insert(object.blob);
        self.effects.removed.push(Removed {
            folder,
            modseq,
            object: object.clone(),
        });
        Ok(())
    }

    /// Queues `change` for the change feed, persisted in the same commit,
    /// and records the time as the folder's last change (not for a folder
    /// removed, whose keys are gone with it).
    pub fn record_change(&mut self, account: AccountId, change: Change) -> Result<()> {
        let index = self
            .effects
            .changes
            .iter()
            .filter(|(a, c)| *a == account && c.modseq == change.modseq)
            .count() as u32;
        self.put(keys::change(account, change.modseq, index), &change)?;
        if change.folder != 0 && !matches!(change.kind, ChangeKind::FolderRemoved { .. }) {
            // DAV:getlastmodified of the folder (RFC 4918 15.7).
            self.put(keys::folder_modified(change.folder), &crate::store::now())?;
        }
        self.effects.changes.push((account, change));
        Ok(())
    }
}

/// The pairs under `prefix` from the first key `>= start` on, at most
/// `limit`, of `base` seen through the uncommitted `layers` (later layers
/// win): the base is read for `limit` plus the layers' mutations in the
/// range, since at most that many of its pairs can be deleted by them.
pub(crate) fn merge_layers(
    base: &dyn Snapshot,
    layers: &[&WriteBatch],
    prefix: &[u8],
    start: &[u8],
    limit: usize,
) -> Result<Vec<KeyValue>> {
    let in_range = |layer: &&WriteBatch| {
        layer
            .range(start.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .count()
    };
    let extra: usize = layers.iter().map(in_range).sum();
    let mut merged: BTreeMap<Vec<u8>, Mutation> = base
        .scan(prefix, start, limit.saturating_add(extra))?
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .collect();
    let read_all = merged.len() < limit.saturating_add(extra);
    let bound = merged.keys().next_back().cloned();
    for layer in layers {
        for (k, m) in layer.range(start.to_vec()..) {
            if !k.starts_with(prefix) {
                break;
            }
            // Past the last base key read, a base key may be missing: a
            // layer key there is kept only if the base was read to its end.
            if !read_all && bound.as_ref().is_some_and(|b| k > b) {
                break;
            }
            merged.insert(k.clone(), m.clone());
        }
    }
    Ok(merged
        .into_iter()
        .filter_map(|(k, m)| m.map(|v| (k, v)))
        .take(limit)
        .collect())
}

/// Read access shared by committed snapshots and write transactions, so
/// that lookups (resolve a folder, check a right) are written once.
pub(crate) trait Reader {
    /// The raw value under `key`.
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Every pair under `prefix`, in key order.
    fn scan_raw(&self, prefix: &[u8]) -> Result<Vec<KeyValue>>;

    /// The pairs under `prefix` from the first key `>= start` (which
    /// starts with `prefix` or is it) on, in key order, at most `limit`:
    /// a ranged read that costs what it returns.
    fn scan_from(&self, prefix: &[u8], start: &[u8], limit: usize) -> Result<Vec<KeyValue>>;

    /// The value under `key`, decoded.
    fn load<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        self.get_raw(key)?.map(|v| decode(&v)).transpose()
    }

    /// Every pair under `prefix`, values decoded.
    fn load_all<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, T)>> {
        self.scan_raw(prefix)?
            .into_iter()
            .map(|(k, v)| Ok((k, decode(&v)?)))
            .collect()
    }
}

impl Reader for Box<dyn Snapshot> {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(Snapshot::get(&**self, key)?)
    }

    fn scan_raw(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        Ok(Snapshot::scan(&**self, prefix, prefix, usize::MAX)?)
    }

    fn scan_from(&self, prefix: &[u8], start: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        Ok(Snapshot::scan(&**self, prefix, start, limit)?)
    }
}

/// Writes of the per-folder indexes (`crate::store::index`), made by a
/// write transaction or by the format upgrade's batches alike.
pub(crate) trait IndexWrite: Reader {
    /// Stores the encoded `value` under `key`.
    fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>);

    /// Deletes `key`.
    fn delete(&mut self, key: Vec<u8>);

    /// The keyword lists decoded in this write, if it keeps them (an
    /// operation's [`Txn`] does; the format upgrade does not).
    fn keyword_cache(&mut self) -> Option<&mut KeywordCache> {
        None
    }
}

impl IndexWrite for Txn<'_> {
    fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        Txn::put_raw(self, key, value)
    }

    fn delete(&mut self, key: Vec<u8>) {
        Txn::delete(self, key)
    }

    fn keyword_cache(&mut self) -> Option<&mut KeywordCache> {
        Some(&mut self.keywords)
    }
}

/// Encodes a record (postcard).
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Decodes a record (postcard).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The handle through which operations reach the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
}

/// Whether the storage takes writes, as the writer and the blob writers
/// last found it: `/healthz` reports it.
#[derive(Debug, Default)]
pub struct StorageHealth {
    failure: std::sync::Mutex<Option<StoreError>>,
}

impl StorageHealth {
    /// `None` while writes succeed; else the error the last write failed
    /// with ([`StoreError::StorageFull`] or [`StoreError::Unavailable`]),
    /// until a commit or the writer's probe succeeds again.
    pub fn failure(&self) -> Option<String> {
        self.lock().as_ref().map(ToString::to_string)
    }

    fn is_failing(&self) -> bool {
        self.lock().is_some()
    }

    fn current(&self) -> Option<StoreError> {
        self.lock().as_ref().map(|e| match e {
            StoreError::StorageFull => StoreError::StorageFull,
            other => StoreError::Unavailable(other.to_string()),
        })
    }

    /// Records that a write failed because of the storage (`error` is
    /// [`StoreError::StorageFull`], else taken as unavailable).
    pub(crate) fn set_failing(&self, error: &StoreError) {
        let copy = match error {
            StoreError::StorageFull => StoreError::StorageFull,
            StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
            other => StoreError::Unavailable(other.to_string()),
        };
        let mut slot = self.lock();
        if slot.is_none() {
            tracing::error!(error = %copy, "storage failing: writes are refused until it recovers");
        }
        *slot = Some(copy);
    }

    fn set_ok(&self) {
        if self.lock().take().is_some() {
            tracing::info!("storage recovered: writes are taken again");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<StoreError>> {
        self.failure.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counts commits, for tests and metrics.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Engine commits (each one fsync of the database).
    pub commits: std::sync::atomic::AtomicU64,
    /// Operations committed.
    pub operations: std::sync::atomic::AtomicU64,
}

impl Writer {
    /// Starts the writer thread. It ends when every `Writer` is dropped,
    /// after committing what it was given.
    pub fn start(
        engine: Arc<dyn Engine>,
        blobs: Arc<BlobStore>,
        hub: Arc<ChangeHub>,
        stats: Arc<CommitStats>,
        retention: Arc<Retention>,
        prune: ChangeRetention,
    ) -> std::io::Result<(Writer, std::thread::JoinHandle<()>)> {
        let health = blobs.health().clone();
        let (tx, rx) = mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                let parts = Parts {
                    engine: &*engine,
                    blobs: &blobs,
                    hub: &hub,
                    stats: &stats,
                    health: &health,
                    retention: &retention,
                    prune,
                    last_prune: std::cell::Cell::new(None),
                    released: std::cell::RefCell::new(Vec::new()),
                };
                run(rx, &parts)
            })?;
        Ok((Writer { tx }, handle))
    }

    /// Queues `op` for the next group commit without waiting for it:
    /// operations submitted one after another run in that order, and
    /// those queued while a commit is under way share the next one (a
    /// session's pipelined commands cost one fsync, not one each).
    ///
    /// Errors: [`StoreError::Closed`] if the writer has stopped.
    pub fn submit<R, F>(&self, op: F) -> Result<PendingWrite<R>>
    where
        R: Send + 'static,
        F: FnOnce(&mut Txn<'_>) -> Result<R> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let op: Operation =
            Box::new(move |txn| op(txn).map(|r| Box::new(r) as Box<dyn Any + Send>));
        self.tx
            .send(Job { op, reply })
            .map_err(|_| StoreError::Closed)?;
        Ok(PendingWrite {
            rx,
            result: std::marker::PhantomData,
        })
    }
}

/// An operation queued by [`Writer::submit`]: its result, once durable.
pub(crate) struct PendingWrite<R> {
    rx: oneshot::Receiver<Result<Box<dyn Any + Send>>>,
    result: std::marker::PhantomData<fn() -> R>,
}

impl<R: 'static> PendingWrite<R> {
    /// Waits for the commit that holds the operation.
    ///
    /// Errors: the operation's own, those of the commit, and
    /// [`StoreError::Closed`] if the writer stopped first.
    pub(crate) async fn outcome(self) -> Result<R> {
        let out = self.rx.await.map_err(|_| StoreError::Closed)??;
        out.downcast::<R>()
            .map(|b| *b)
            .map_err(|_| StoreError::Corrupt("writer returned a result of another type".into()))
    }
}

/// What the writer thread works with.
struct Parts<'a> {
    engine: &'a dyn Engine,
    blobs: &'a BlobStore,
    hub: &'a ChangeHub,
    stats: &'a CommitStats,
    health: &'a StorageHealth,
    retention: &'a Retention,
    /// The change history's retention settings.
    prune: ChangeRetention,
    /// When the last prune pass started.
    last_prune: std::cell::Cell<Option<std::time::Instant>>,
    /// Blobs the last commits left without a reference, for
    /// [`unlink_released`] to remove once it has checked, in a writer's
    /// turn, that none was stored again.
    released: std::cell::RefCell<Vec<BlobId>>,
}

/// Most commits one prune pass makes before the writer takes requests
/// again (the rest waits for the next pass).
const PRUNE_COMMITS_PER_PASS: usize = 8;

/// Runs a prune pass (`store::prune`) if the last one is older than the
/// interval: bounded commits of at most [`crate::PRUNE_BATCH`] deletes,
/// on the writer thread between group commits, so nothing races them.
fn maybe_prune(parts: &Parts<'_>) {
    let due = parts
        .last_prune
        .get()
        .is_none_or(|t| t.elapsed() >= parts.prune.interval);
    if !due || parts.health.is_failing() {
        return;
    }
    // One pass per interval at most, whatever it leaves for the next.
    parts.last_prune.set(Some(std::time::Instant::now()));
    for _ in 0..PRUNE_COMMITS_PER_PASS {
        // In a writer's turn: another node's commits cannot slip between
        // what the pass reads and what it deletes.
        let step = parts
            .engine
            .begin_write()
            .map_err(StoreError::from)
            .and_then(|txn| {
                let mut w = Batched {
                    snapshot: &*txn,
                    batch: WriteBatch::new(),
                };
                let pruned = crate::store::prune_step(
                    &mut w,
                    parts.retention,
                    &parts.prune,
                    crate::store::now(),
                )?;
                let batch = w.batch;
                if !batch.is_empty() {
                    txn.commit(batch, &[])?;
                }
                Ok(pruned)
            });
        match step {
            Ok(p) if p.more => continue,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "prune pass failed; retried later");
                return;
            }
        }
    }
}

/// A batch being built over a snapshot, outside any group commit (the
/// format upgrade, the prune pass): reads see its own writes.
pub(crate) struct Batched<'a> {
    /// The committed state it is built over.
    pub snapshot: &'a dyn Snapshot,
    /// Its writes.
    pub batch: WriteBatch,
}

/// Reads the committed state through the writes of a batch not yet
/// committed.
pub(crate) struct Layered<'a> {
    /// The committed state.
    pub snapshot: &'a dyn Snapshot,
    /// The writes on top of it.
    pub batch: &'a WriteBatch,
}

impl Reader for Layered<'_> {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.batch.get(key) {
            Some(m) => Ok(m.clone()),
            None => Ok(self.snapshot.get(key)?),
        }
    }

    fn scan_raw(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        self.scan_from(prefix, prefix, usize::MAX)
    }

    fn scan_from(&self, prefix: &[u8], start: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        merge_layers(self.snapshot, &[self.batch], prefix, start, limit)
    }
}

impl Batched<'_> {
    fn layered(&self) -> Layered<'_> {
        Layered {
            snapshot: self.snapshot,
            batch: &self.batch,
        }
    }
}

impl Reader for Batched<'_> {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.layered().get_raw(key)
    }

    fn scan_raw(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        self.layered().scan_raw(prefix)
    }

    fn scan_from(&self, prefix: &[u8], start: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        self.layered().scan_from(prefix, start, limit)
    }
}

impl IndexWrite for Batched<'_> {
    fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.batch.insert(key, Some(value));
    }

    fn delete(&mut self, key: Vec<u8>) {
        self.batch.insert(key, None);
    }
}

fn run(rx: mpsc::Receiver<Job>, parts: &Parts<'_>) {
    loop {
        // A blob writer may find the disk full while this thread waits:
        // wake up now and then to probe.
        let first = match rx.recv_timeout(PROBE_INTERVAL) {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if parts.health.is_failing() {
                    probe(parts);
                }
                unlink_released(parts);
                maybe_prune(parts);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if parts.health.is_failing() {
            // Requests keep this thread from ever idling into the
            // timer's probe (a health check polling every few
            // milliseconds is one): probe before the batch instead.
            probe(parts);
            if parts.health.is_failing() {
                // Still failing: refuse the batch without running it.
                let error = || parts.health.current().unwrap_or(StoreError::StorageFull);
                for job in jobs {
                    let _ = job.reply.send(Err(error()));
                }
                continue;
            }
        }
        commit_group(jobs, parts);
        unlink_released(parts);
        maybe_prune(parts);
    }
}

/// Unlinks the blobs no record references any more and no view holds:
/// those [`Retention`] let go of (with their derived keys), those whose
/// removal a backup's hold deferred ([`crate::blob::DeletionHold`]), and
/// those the last commits released ([`Parts::released`]). Runs on the
/// writer thread, between commits, inside a writer's turn
/// ([`Engine::begin_write`]): no install of this node or of another one
/// sharing the engine races the check, so a blob stored again meanwhile
/// keeps its file or object.
fn unlink_released(parts: &Parts<'_>) {
    let mut candidates: Vec<(BlobId, bool)> = parts
        .released
        .take()
        .into_iter()
        .chain(parts.blobs.take_deferred())
        .map(|id| (id, false))
        .collect();
    candidates.extend(
        parts
            .retention
            .take_released()
            .into_iter()
            .map(|id| (id, true)),
    );
    if candidates.is_empty() {
        return;
    }
    let txn = match parts.engine.begin_write() {
        Ok(t) => t,
        Err(e) => {
            // Left in place; the sweep at the next open removes them.
            tracing::warn!(error = %e, "cannot check released blobs");
            return;
        }
    };
    let mut batch = WriteBatch::new();
    let mut gone = Vec::new();
    for (id, with_keys) in candidates {
        let referenced = !matches!(txn.get(&keys::blob_refs(&id)), Ok(None));
        if !referenced && !parts.retention.holds_blob(&id) {
            if with_keys {
                for key in derived_keys(&id) {
                    batch.insert(key, None);
                }
            }
            gone.push(id);
        }
    }
    // Inside the turn: no other writer references them again before.
    for id in &gone {
        parts.blobs.unlink(id);
    }
    if batch.is_empty() {
        return;
    }
    if let Err(e) = txn.commit(batch, &[]) {
        // Keys without their blob; the sweep at the next open removes them.
        tracing::warn!(error = %e, "cannot delete released blobs' keys");
    }
}

/// The keys that live and go with a blob's file: those derived from its
/// content (MIME summary, body text, PREVIEW snippet) and, for a small
/// blob kept in the database, its bytes.
pub(crate) fn derived_keys(id: &BlobId) -> [Vec<u8>; 4] {
    [
        keys::blob_summary(id),
        keys::blob_text(id),
        keys::blob_snippet(id),
        keys::blob_content(id),
    ]
}

/// While writes fail and no request comes: reopens the engine if it needs
/// it, then checks that the device takes a small write and a commit, so
/// that `/healthz` turns healthy again once space is freed.
fn probe(parts: &Parts<'_>) {
    let result = parts
        .engine
        .recover()
        .map_err(StoreError::from)
        .and_then(|()| Ok(parts.blobs.probe_space(PROBE_BYTES)?))
        .and_then(|()| {
            let mut batch = WriteBatch::new();
            batch.insert(
                keys::counter("storage-probe"),
                Some(crate::store::now().to_be_bytes().to_vec()),
            );
            Ok(parts.engine.commit(batch)?)
        });
    match result {
        Ok(()) => parts.health.set_ok(),
        Err(e) => {
            tracing::debug!(error = %e, "storage still failing");
            parts.health.set_failing(&e);
            // A failed probe commit poisons the engine again; recover()
            // reopens it on the next try.
        }
    }
}

/// Whether a failed commit means the storage (not one operation) failed:
/// every later write would fail too until it recovers.
fn is_storage_failure(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::StorageFull | StoreError::Unavailable(_) | StoreError::Io(_)
    )
}

fn commit_group(jobs: Vec<Job>, parts: &Parts<'_>) {
    let Parts {
        engine,
        blobs,
        hub,
        stats,
        health,
        retention,
        ..
    } = *parts;
    let started = std::time::Instant::now();
    // The writer's turn: on a shared engine no other node commits until
    // this batch has.
    let txn = match engine.begin_write() {
        Ok(t) => t,
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::from(e.clone())));
            }
            return;
        }
    };
    let snapshot: &dyn Snapshot = &*txn;
    let mut batch = WriteBatch::new();
    let mut effects = Effects::default();
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut op_txn = Txn {
            base: snapshot,
            batch: &batch,
            own: WriteBatch::new(),
            effects: Effects::default(),
            retention,
            keywords: KeywordCache::new(),
        };
        let result = (job.op)(&mut op_txn);
        if result.is_ok() {
            let Txn {
                own, effects: e, ..
            } = op_txn;
            batch.extend(own);
            effects.install.extend(e.install);
            for id in &e.unlink {
                effects.unlink.insert(*id);
            }
            effects.changes.extend(e.changes);
            effects.removed.extend(e.removed);
            effects.kept.extend(e.kept);
        }
        results.push((job.reply, result));
    }
    // Before the commit: a session reading just after it finds the
    // removed records here. Should the commit fail, the entries are
    // released later and the release finds the blobs still referenced.
    retention.retain(std::mem::take(&mut effects.removed));

    let batch_was_empty = batch.is_empty();
    let moved = feed_moves(&effects.changes);
    let durable = install_blobs(blobs, &effects.install).and_then(|()| {
        if batch.is_empty() {
            return Ok(());
        }
        Ok(txn.commit(batch, &moved)?)
    });
    let ok_count = results.iter().filter(|(_, r)| r.is_ok()).count() as u64;
    match durable {
        Ok(()) => {
            let telemetry = crate::telemetry::metrics();
            telemetry.operations.inc_by(ok_count);
            // A batch that wrote nothing (a liveness probe, refused
            // operations) made no engine commit.
            if !batch_was_empty {
                telemetry
                    .commit_duration
                    .observe(started.elapsed().as_secs_f64());
                telemetry.commit_batch.observe(ok_count as f64);
                telemetry.commits.inc();
                telemetry.fsyncs.inc();
            }
            if !batch_was_empty {
                stats
                    .commits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            stats
                .operations
                .fetch_add(ok_count, std::sync::atomic::Ordering::Relaxed);
            // A blob released and re-added in the same batch keeps its file.
            // One a lagging view still reads stays until it lets go.
            for id in &effects.unlink {
                if effects.install.iter().any(|b| &b.id == id) {
                    continue;
                }
                if effects.kept.contains(id) {
                    // Its keys go with the file, in unlink_released.
                    retention.release_kept(*id);
                } else if !retention.holds_blob(id) {
                    parts.released.borrow_mut().push(*id);
                }
            }
            // Only a commit that wrote proves the storage takes writes
            // again: an empty batch (the /healthz liveness probe) must
            // not clear a full disk's failing state.
            if !batch_was_empty {
                health.set_ok();
            }
            // Before the replies: once an EXPUNGE is answered, the bytes
            // only it referenced are gone (checked in a turn of its own).
            if !parts.released.borrow().is_empty() {
                unlink_released(parts);
            }
            for (account, change) in effects.changes {
                hub.publish(account, change);
            }
            for (reply, result) in results {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed; no operation of the batch was applied");
            // Blobs installed for this batch and referenced by nothing
            // committed go back out (else the sweep at open removes them).
            // One released and re-added in this batch is still referenced.
            // unlink_released checks, in a writer's turn, that none is
            // referenced (another node may have stored the same bytes).
            parts
                .released
                .borrow_mut()
                .extend(effects.install.iter().map(|blob| blob.id));
            let storage = is_storage_failure(&e);
            if storage {
                health.set_failing(&e);
                if let Err(e) = engine.recover() {
                    tracing::warn!(error = %e, "cannot reopen the database yet; retrying");
                }
            }
            let failure = |e: &StoreError| match e {
                StoreError::StorageFull => StoreError::StorageFull,
                StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
                StoreError::Io(io) => StoreError::Unavailable(io.to_string()),
                other => StoreError::Engine(EngineError::from_display(format!(
                    "group commit failed: {other}"
                ))),
            };
            for (reply, result) in results {
                let _ = reply.send(result.and(Err(failure(&e))));
            }
        }
    }
}

/// Where `changes` move each account's feed: the account and the least
/// MODSEQ of its changes, for the other nodes ([`Engine::watch`]).
fn feed_moves(changes: &[(AccountId, Change)]) -> Vec<crate::engine::FeedMove> {
    let mut first: BTreeMap<AccountId, ModSeq> = BTreeMap::new();
    for (account, change) in changes {
        first
            .entry(*account)
            .and_modify(|m| *m = (*m).min(change.modseq))
            .or_insert(change.modseq);
    }
    first.into_iter().collect()
}

fn install_blobs(blobs: &BlobStore, staged: &[StagedBlob]) -> Result<()> {
    Ok(blobs.install_all(staged)?)
}

/// An operation's writes in memory, for unit tests of what runs inside a
/// [`Txn`]: it keeps decoded keyword lists as a `Txn` does, and counts
/// the reads of each key prefix.
#[cfg(test)]
pub(crate) mod memory {
    use std::cell::RefCell;
    use std::collections::{BTreeMap, HashMap};

    use super::{IndexWrite, KeywordCache, Reader};
    use crate::engine::KeyValue;
    use crate::error::Result;

    /// A key-value map standing for a transaction.
    #[derive(Default)]
    pub(crate) struct MemWrite {
        /// The keys and values.
        pub map: BTreeMap<Vec<u8>, Vec<u8>>,
        /// The decoded keyword lists.
        pub cache: KeywordCache,
        /// Reads by the first byte of their key (point reads and scans).
        reads: RefCell<HashMap<u8, usize>>,
    }

    impl MemWrite {
        /// How many reads asked for keys starting with `prefix`.
        pub fn reads_of(&self, prefix: u8) -> usize {
            self.reads.borrow().get(&prefix).copied().unwrap_or(0)
        }

        fn count(&self, key: &[u8]) {
            if let Some(p) = key.first() {
                *self.reads.borrow_mut().entry(*p).or_default() += 1;
            }
        }
    }

    impl Reader for MemWrite {
        fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.count(key);
            Ok(self.map.get(key).cloned())
        }

        fn scan_raw(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
            self.scan_from(prefix, prefix, usize::MAX)
        }

        fn scan_from(&self, prefix: &[u8], start: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
            self.count(prefix);
            Ok(self
                .map
                .range(start.to_vec()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        }
    }

    impl IndexWrite for MemWrite {
        fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
            self.cache.clear();
            self.map.insert(key, value);
        }

        fn delete(&mut self, key: Vec<u8>) {
            self.cache.clear();
            self.map.remove(&key);
        }

        fn keyword_cache(&mut self) -> Option<&mut KeywordCache> {
            Some(&mut self.cache)
        }
    }
}
