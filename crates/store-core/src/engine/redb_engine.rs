//! The embedded default engine: one redb file (ARCHITECTURE.md, "Engine",
//! and README "Why redb, not sled").
//!
//! After a commit fails with an I/O error (a full disk), redb refuses every
//! later write ("Previous I/O error occurred") until the database is
//! reopened: [`Engine::recover`] closes and reopens the file, which also
//! runs redb's repair of the interrupted commit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use redb::{
    Database, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase, TableDefinition,
};

use super::{
    Engine, EngineError, EngineErrorKind, KeyValue, Snapshot, SnapshotThenCommit, WriteBatch,
    WriteTransaction,
};

/// All of the store lives in one table of byte keys; `crate::keys` gives the
/// keys their structure (one leading byte per kind of record).
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("store");

/// A redb database file.
pub struct RedbEngine {
    path: PathBuf,
    /// The open database; `None` between a close and a successful reopen.
    db: RwLock<Option<Arc<Database>>>,
    /// A commit failed with an I/O error: reopen before the next write.
    poisoned: AtomicBool,
}

/// Classifies a redb error: I/O errors keep their kind (a full device is
/// [`EngineErrorKind::StorageFull`]), and redb's latched "previous I/O
/// error" is [`EngineErrorKind::Io`].
fn classify(e: impl Into<redb::Error>) -> EngineError {
    match e.into() {
        redb::Error::Io(io) => EngineError::from_io(&io),
        e @ (redb::Error::PreviousIo | redb::Error::DatabaseClosed) => EngineError {
            message: e.to_string(),
            kind: EngineErrorKind::Io,
        },
        e => EngineError::from_display(e),
    }
}

fn unavailable() -> EngineError {
    EngineError {
        message: "the database is being reopened after an I/O error".into(),
        kind: EngineErrorKind::Io,
    }
}

/// Opens (or creates, mode 0600) the database file and its table.
fn open_database(path: &Path) -> Result<Database, EngineError> {
    crate::blob::create_private_file(path).map_err(|e| EngineError::from_io(&e))?;
    let db = Database::create(path).map_err(classify)?;
    // Make sure the table exists so that read snapshots can always open it.
    let txn = db.begin_write().map_err(classify)?;
    txn.open_table(TABLE).map_err(classify)?;
    txn.commit().map_err(classify)?;
    Ok(db)
}

impl RedbEngine {
    /// Opens (or creates, readable by its owner only) the database file at
    /// `path`.
    ///
    /// Errors: the file is locked by another process (redb allows one process
    /// per file), unreadable, or not a redb database.
    pub fn open(path: &Path) -> Result<Self, EngineError> {
        let db = open_database(path)?;
        Ok(RedbEngine {
            path: path.to_path_buf(),
            db: RwLock::new(Some(Arc::new(db))),
            poisoned: AtomicBool::new(false),
        })
    }

    fn database(&self) -> Result<Arc<Database>, EngineError> {
        self.db
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(unavailable)
    }

    fn commit_to(db: &Database, batch: &WriteBatch) -> Result<(), EngineError> {
        let mut txn = db.begin_write().map_err(classify)?;
        txn.set_durability(Durability::Immediate)
            .map_err(EngineError::from_display)?;
        {
            let mut table = txn.open_table(TABLE).map_err(classify)?;
            for (key, mutation) in batch {
                match mutation {
                    Some(value) => {
                        table
                            .insert(key.as_slice(), value.as_slice())
                            .map_err(classify)?;
                    }
                    None => {
                        table.remove(key.as_slice()).map_err(classify)?;
                    }
                }
            }
        }
        txn.commit().map_err(classify)
    }
}

/// A read transaction and its table, opened once per snapshot rather
/// than once per read (a writer's batch reads a few dozen keys).
struct RedbSnapshot {
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
    _txn: ReadTransaction,
}

impl Snapshot for RedbSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        let value = self.table.get(key).map_err(classify)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn scan(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, EngineError> {
        self.collect_range(prefix, start, limit, |k, v| (k.to_vec(), v.to_vec()))
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, EngineError> {
        self.collect_range(prefix, start, limit, |k, _| k.to_vec())
    }
}

impl RedbSnapshot {
    /// `take` of each pair whose key starts with `prefix`, from the first
    /// key `>= start`, at most `limit` of them ([`Snapshot::scan`]).
    fn collect_range<T>(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
        take: impl Fn(&[u8], &[u8]) -> T,
    ) -> Result<Vec<T>, EngineError> {
        let mut out = Vec::new();
        for item in self.table.range(start..).map_err(classify)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(classify)?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            out.push(take(key, v.value()));
        }
        Ok(out)
    }
}

impl Engine for RedbEngine {
    /// A snapshot, then [`Engine::commit`]: redb's file lock keeps other
    /// processes out, and the store's writer thread is its only writer.
    fn begin_write(&self) -> Result<Box<dyn WriteTransaction + '_>, EngineError> {
        Ok(Box::new(SnapshotThenCommit::begin(self)?))
    }

    fn snapshot(&self) -> Result<Box<dyn Snapshot>, EngineError> {
        let txn = self.database()?.begin_read().map_err(classify)?;
        let table = txn.open_table(TABLE).map_err(classify)?;
        Ok(Box::new(RedbSnapshot { table, _txn: txn }))
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), EngineError> {
        let result = Self::commit_to(&*self.database()?, &batch);
        if let Err(e) = &result {
            if e.kind != EngineErrorKind::Other {
                self.poisoned.store(true, Ordering::SeqCst);
            }
        }
        result
    }

    fn recover(&self) -> Result<(), EngineError> {
        if !self.poisoned.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut slot = self.db.write().unwrap_or_else(|e| e.into_inner());
        // Close first: redb allows one open handle per file. Snapshots
        // still being read keep the old file open until they end, and
        // the reopen is then tried again later.
        if let Some(old) = slot.take() {
            match Arc::try_unwrap(old) {
                Ok(db) => drop(db),
                Err(shared) => {
                    *slot = Some(shared);
                    return Err(EngineError {
                        message: "the database is still in use by a reader".into(),
                        kind: EngineErrorKind::Io,
                    });
                }
            }
        }
        let db = open_database(&self.path)?;
        *slot = Some(Arc::new(db));
        self.poisoned.store(false, Ordering::SeqCst);
        tracing::info!(path = %self.path.display(), "database reopened after an I/O error");
        Ok(())
    }
}
