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
//! by the store's single writer (`crate::writer`), which reads through the
//! batch it is building, so every change in the store is serialised and a
//! counter can never hand out the same value twice.

mod postgres_engine;
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

/// An ordered key-value store with atomic, durable multi-key commits.
pub trait Engine: Send + Sync + 'static {
    /// A read view of everything committed so far.
    fn snapshot(&self) -> Result<Box<dyn Snapshot>, EngineError>;

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
