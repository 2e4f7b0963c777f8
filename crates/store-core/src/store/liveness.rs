//! Is the store alive: what `/healthz` asks beyond
//! [`Store::storage_failure`].

use std::time::Duration;

use crate::error::{Result, StoreError};
use crate::keys;
use crate::store::Store;
use crate::writer::Reader;

impl Store {
    /// Checks that the store answers: a read transaction (one point read)
    /// and a no-op operation through the writer thread's queue, answered
    /// within `timeout`. The no-op writes nothing, so no commit or fsync
    /// follows (an empty batch is not committed), though it counts as an
    /// operation in [`Store::commit_stats`].
    ///
    /// Errors: the read fails (the engine's error);
    /// [`StoreError::Unavailable`] when the writer did not answer within
    /// `timeout` (stuck or dead); [`StoreError::Closed`] when it stopped.
    pub async fn check_alive(&self, timeout: Duration) -> Result<()> {
        self.snapshot()?.get_raw(&keys::account("\u{0}liveness"))?;
        let pending = self.submit(|_| Ok(()))?;
        match tokio::time::timeout(timeout, pending.outcome()).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(format!(
                "the writer thread did not answer within {} ms",
                timeout.as_millis()
            ))),
        }
    }
}
