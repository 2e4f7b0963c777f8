//! The storage engine: a narrow trait over an ordered key-value store.
//!
//! ARCHITECTURE.md ("Engine") fixes its shape: ordered byte keys, multi-key
//! atomic transactions, counters and prefix scans. Everything above this trait
//! (accounts, folders, objects, the change feed) is encoded as keys and
//! values by `crate::keys`, so a networked engine (PostgreSQL, FoundationDB,
//! ...) can implement these two traits without touching any front end.
//!
//! The trait is deliberately split in two:
//! - [`Snapshot`]: a consistent read view of committed state;
//! - [`Engine::commit`]: apply a [`WriteBatch`] atomically and durably.
//!
//! Read-modify-write (counters such as UIDNEXT, the account MODSEQ) is done
//! by the store's writer (`crate::writer`) inside a [`WriteTransaction`]:
//! a view of the latest committed state that no other writer changes
//! until it commits. In one process the writer thread is alone; with
//! several processes on one shared engine (a cluster on PostgreSQL) the
//! engine serializes their write transactions (ARCHITECTURE.md, "Several
//! nodes"), so every change in the store is serialised and a counter can
//! never hand out the same value twice.

mod postgres_engine;
mod postgres_tls;
mod redb_engine;

pub use postgres_engine::{redact_url, PostgresEngine, PostgresSettings, MIGRATIONS};
pub use redb_engine::RedbEngine;

use std::collections::BTreeMap;

/// An engine failure: the storage below the store is unusable for this
/// request (I/O error, corruption, full disk). Never caused by a peer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("storage engine: {message}")]
pub struct EngineError {
    /// What failed, as the engine says it.
    pub message: String,
    /// What kind of failure it is, which decides how the store answers.
    pub kind: EngineErrorKind,
}

/// The kinds of [`EngineError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineErrorKind {
    /// The device or the file system quota is full (`ENOSPC`, `EDQUOT`):
    /// writes fail until space is freed.
    StorageFull,
    /// Another I/O error of the device (`EIO`, ...), or the engine refuses
    /// writes after one until [`Engine::recover`] reopens it.
    Io,
    /// Anything else (corruption, a bug).
    Other,
}

impl EngineError {
    /// Wraps any displayable engine-specific error ([`EngineErrorKind::Other`]).
    pub fn from_display(e: impl std::fmt::Display) -> Self {
        EngineError {
            message: e.to_string(),
            kind: EngineErrorKind::Other,
        }
    }

    /// An I/O error, [`EngineErrorKind::StorageFull`] when it says the
    /// device or the quota is full, else [`EngineErrorKind::Io`].
    pub fn from_io(e: &std::io::Error) -> Self {
        let kind = if is_storage_full(e) {
            EngineErrorKind::StorageFull
        } else {
            EngineErrorKind::Io
        };
        EngineError {
            message: e.to_string(),
            kind,
        }
    }
}

/// Whether `e` says the device or the file system quota is full
/// (`ENOSPC`, `EDQUOT`, `EFBIG`; POSIX `write(2)`).
pub fn is_storage_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull
            | std::io::ErrorKind::QuotaExceeded
            | std::io::ErrorKind::FileTooLarge
    )
}

/// A key-value pair as stored: raw key bytes and raw value bytes.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A consistent, read-only view of the committed state.
pub trait Snapshot: Send {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError>;

    /// Every pair whose key starts with `prefix`, in ascending key order,
    /// starting at the first key `>= start` (which must itself start with
    /// `prefix`, or be `prefix`), returning at most `limit` pairs.
    fn scan(&self, prefix: &[u8], start: &[u8], limit: usize)
        -> Result<Vec<KeyValue>, EngineError>;

    /// The keys [`Snapshot::scan`] would return, without their values
    /// (a sweep over large records reads only what it needs).
    fn scan_keys(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, EngineError> {
        Ok(self
            .scan(prefix, start, limit)?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }
}

/// One change in a [`WriteBatch`]: `Some(value)` stores, `None` deletes.
pub type Mutation = Option<Vec<u8>>;

/// A set of mutations applied all together or not at all, keyed and ordered
/// by key (a later mutation of the same key replaces an earlier one).
pub type WriteBatch = BTreeMap<Vec<u8>, Mutation>;

/// Where a commit moved an account's change feed, for the other
/// processes sharing the engine ([`WriteTransaction::commit`],
/// [`Engine::watch`]): the account and the first MODSEQ the commit gave
/// its changes (its changes are the feed's records from there on).
pub type FeedMove = (u64, u64);

/// What [`Engine::watch`] hands its sink: the feed moves another process
/// committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteCommit {
    /// These accounts' feeds moved, from these MODSEQs on.
    Moved(Vec<FeedMove>),
    /// Some commits may have gone unseen (the watching connection was
    /// lost, or a commit named too many accounts to list): every account
    /// may have moved.
    Unknown,
}

/// The writer's transaction ([`Engine::begin_write`]): reads see every
/// commit made before it began and its own nothing (the writer layers
/// its batch on top), and no other writer of the engine, in this process
/// or another, commits until it has committed or been dropped.
pub trait WriteTransaction: Snapshot {
    /// Applies `batch` atomically and durably (as [`Engine::commit`]) and
    /// ends the transaction; `moved` is announced to the other processes
    /// watching the engine ([`Engine::watch`]) once the commit is durable.
    ///
    /// Errors: as [`Engine::commit`]; nothing of the batch is applied.
    fn commit(self: Box<Self>, batch: WriteBatch, moved: &[FeedMove]) -> Result<(), EngineError>;
}

/// A [`WriteTransaction`] for an engine that one process owns (redb
/// locks its file): a snapshot, then [`Engine::commit`]. The store's one
/// writer thread is the only writer, so nothing commits in between.
pub struct SnapshotThenCommit<'a> {
    snapshot: Box<dyn Snapshot>,
    engine: &'a dyn Engine,
}

impl<'a> SnapshotThenCommit<'a> {
    /// Begins one on `engine` (takes its snapshot).
    ///
    /// Errors: as [`Engine::snapshot`].
    pub fn begin(engine: &'a dyn Engine) -> Result<Self, EngineError> {
        Ok(SnapshotThenCommit {
            snapshot: engine.snapshot()?,
            engine,
        })
    }
}

impl Snapshot for SnapshotThenCommit<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        self.snapshot.get(key)
    }

    fn scan(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, EngineError> {
        self.snapshot.scan(prefix, start, limit)
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, EngineError> {
        self.snapshot.scan_keys(prefix, start, limit)
    }
}

impl WriteTransaction for SnapshotThenCommit<'_> {
    fn commit(self: Box<Self>, batch: WriteBatch, _moved: &[FeedMove]) -> Result<(), EngineError> {
        let SnapshotThenCommit { snapshot, engine } = *self;
        drop(snapshot);
        engine.commit(batch)
    }
}

/// Receives what [`Engine::watch`] sees, on a thread of the engine's.
pub type CommitSink = Box<dyn Fn(RemoteCommit) + Send + Sync>;

/// An ordered key-value store with atomic, durable multi-key commits.
pub trait Engine: Send + Sync + 'static {
    /// A read view of everything committed so far.
    fn snapshot(&self) -> Result<Box<dyn Snapshot>, EngineError>;

    /// Begins the writer's transaction ([`WriteTransaction`]); with
    /// several processes on the engine, waits (bounded) until the
    /// others' transactions end.
    ///
    /// Errors: as [`Engine::snapshot`]; a wait past the engine's time
    /// limit ([`EngineErrorKind::Io`]).
    fn begin_write(&self) -> Result<Box<dyn WriteTransaction + '_>, EngineError>;

    /// Keeps the other processes sharing the engine from doing their
    /// open-time work (format upgrade, sweep) until the guard returned is
    /// dropped: a store opening on a shared engine holds it while it does
    /// its own, so two nodes started at once never upgrade together.
    /// `None` for an engine one process owns.
    ///
    /// Errors: the engine's; a wait past its time limit.
    fn exclusive_open(&self) -> Result<Option<Box<dyn Send>>, EngineError> {
        Ok(None)
    }

    /// Calls `sink` with the feed moves other processes commit on this
    /// engine from now on (a shared engine); whether it will (an engine
    /// one process owns has none to tell: `false`, and `sink` is
    /// dropped).
    fn watch(&self, sink: CommitSink) -> bool {
        drop(sink);
        false
    }

    /// Applies `batch` atomically. Returns only once the batch is durable
    /// (for redb: after its fsync); on error nothing of the batch is applied.
    fn commit(&self, batch: WriteBatch) -> Result<(), EngineError>;

    /// Makes the engine take writes again after a commit failed with an
    /// I/O error (redb refuses every later write until the database is
    /// reopened). Called by the store's writer, never concurrently with
    /// [`Engine::commit`]; a no-op when nothing failed.
    ///
    /// Errors: the engine cannot be reopened yet (the device is still
    /// full or failing); the caller tries again later.
    fn recover(&self) -> Result<(), EngineError> {
        Ok(())
    }
}
