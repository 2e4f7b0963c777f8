//! The embedded default engine: one redb file (ARCHITECTURE.md, "Engine",
//! and README "Why redb, not sled").

use std::path::Path;

use redb::{Database, Durability, ReadTransaction, ReadableDatabase, TableDefinition};

use super::{Engine, EngineError, KeyValue, Snapshot, WriteBatch};

/// All of the store lives in one table of byte keys; `crate::keys` gives the
/// keys their structure (one leading byte per kind of record).
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("store");

/// A redb database file.
pub struct RedbEngine {
    db: Database,
}

impl RedbEngine {
    /// Opens (or creates) the database file at `path`.
    ///
    /// Errors: the file is locked by another process (redb allows one process
    /// per file), unreadable, or not a redb database.
    pub fn open(path: &Path) -> Result<Self, EngineError> {
        let db = Database::create(path).map_err(EngineError::from_display)?;
        // Make sure the table exists so that read snapshots can always open it.
        let txn = db.begin_write().map_err(EngineError::from_display)?;
        txn.open_table(TABLE).map_err(EngineError::from_display)?;
        txn.commit().map_err(EngineError::from_display)?;
        Ok(RedbEngine { db })
    }
}

struct RedbSnapshot {
    txn: ReadTransaction,
}

impl Snapshot for RedbSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        let table = self
            .txn
            .open_table(TABLE)
            .map_err(EngineError::from_display)?;
        let value = table.get(key).map_err(EngineError::from_display)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn scan(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, EngineError> {
        let table = self
            .txn
            .open_table(TABLE)
            .map_err(EngineError::from_display)?;
        let mut out = Vec::new();
        for item in table.range(start..).map_err(EngineError::from_display)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(EngineError::from_display)?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key.to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }
}

impl Engine for RedbEngine {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>, EngineError> {
        let txn = self.db.begin_read().map_err(EngineError::from_display)?;
        Ok(Box::new(RedbSnapshot { txn }))
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), EngineError> {
        let mut txn = self.db.begin_write().map_err(EngineError::from_display)?;
        txn.set_durability(Durability::Immediate)
            .map_err(EngineError::from_display)?;
        {
            let mut table = txn.open_table(TABLE).map_err(EngineError::from_display)?;
            for (key, mutation) in &batch {
                match mutation {
                    Some(value) => {
                        table
                            .insert(key.as_slice(), value.as_slice())
                            .map_err(EngineError::from_display)?;
                    }
                    None => {
                        table
                            .remove(key.as_slice())
                            .map_err(EngineError::from_display)?;
                    }
                }
            }
        }
        txn.commit().map_err(EngineError::from_display)
    }
}
