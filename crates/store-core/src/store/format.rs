//! The store's on-disk format version, and the upgrade of stores written
//! by earlier versions, run once at open before the writer starts.
//!
//! | version | what changed |
//! |---------|--------------|
//! | 1 (no key) | the first format: a blob's summary (0x41) held the decoded body text |
//! | 2       | the decoded body text lives under its own key (0x42), so FETCH never loads it |
//!
//! A store whose version is newer than [`FORMAT_VERSION`] is refused, so an
//! older binary never misreads records it does not know.

use serde::Deserialize;

use crate::blob::BlobId;
use crate::engine::{Engine, WriteBatch};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::mime::{BodyPart, Envelope, MessageSummary};
use crate::model::UnixTime;
use crate::writer::{decode, encode};

/// The format this build writes.
pub const FORMAT_VERSION: u64 = 2;

/// Summaries upgraded per commit at most, and the bytes of upgraded
/// records after which a commit is made sooner (a version-1 summary holds
/// its message's text, up to 64 MiB): the upgrade of a large store holds a
/// bounded batch in memory.
const UPGRADE_BATCH: usize = 1024;
const UPGRADE_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// A version-1 summary: [`MessageSummary`] with the body text inside.
#[derive(Deserialize)]
struct SummaryV1 {
    headers: Vec<(String, String)>,
    sent: Option<(UnixTime, i32)>,
    envelope: Envelope,
    body: BodyPart,
    body_text: String,
    complete: bool,
}

/// Brings the store in `engine` to [`FORMAT_VERSION`]; a new store is
/// stamped with it.
///
/// Errors: [`StoreError::Corrupt`] for a store of a newer format or a
/// record that decodes as neither format; engine errors as they come.
pub(crate) fn upgrade(engine: &dyn Engine) -> Result<()> {
    let key = keys::counter("format");
    let version: u64 = match engine.snapshot()?.get(&key)? {
        Some(bytes) => decode(&bytes)?,
        None => 1,
    };
    if version > FORMAT_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the store has format {version}; this cpm-store reads up to {FORMAT_VERSION}"
        )));
    }
    if version == FORMAT_VERSION {
        return Ok(());
    }
    let upgraded = split_body_texts(engine)?;
    let mut stamp = WriteBatch::new();
    stamp.insert(key, Some(encode(&FORMAT_VERSION)?));
    stamp.insert(keys::counter("format-upgrade"), None);
    engine.commit(stamp)?;
    if upgraded > 0 {
        tracing::info!(
            summaries = upgraded,
            from = version,
            to = FORMAT_VERSION,
            "store format upgraded"
        );
    }
    Ok(())
}

/// Version 1 to 2: moves each summary's body text under its own key.
/// Each commit also records the last key it upgraded (the counter
/// `format-upgrade`), so an upgrade cut short resumes after it instead of
/// reading upgraded records as version 1. Returns how many summaries were
/// rewritten.
fn split_body_texts(engine: &dyn Engine) -> Result<usize> {
    let prefix = keys::blob_summaries();
    let cursor_key = keys::counter("format-upgrade");
    let mut start = match engine.snapshot()?.get(&cursor_key)? {
        Some(mut last) => {
            last.push(0);
            last
        }
        None => prefix.clone(),
    };
    let mut upgraded = 0;
    loop {
        let snapshot = engine.snapshot()?;
        let mut batch = WriteBatch::new();
        let (mut bytes, mut last) = (0, None);
        // One record at a time, so no more than a batch is ever held.
        while batch.len() < 2 * UPGRADE_BATCH && bytes < UPGRADE_BATCH_BYTES {
            let Some((key, value)) = snapshot.scan(&prefix, &start, 1)?.pop() else {
                break;
            };
            bytes += value.len();
            let old: SummaryV1 = decode(&value)?;
            drop(value);
            let blob = <[u8; 32]>::try_from(&key[prefix.len()..])
                .map(BlobId)
                .map_err(|_| {
                    StoreError::Corrupt("a blob summary key of the wrong length".into())
                })?;
            let summary = MessageSummary {
                headers: old.headers,
                sent: old.sent,
                envelope: old.envelope,
                body: old.body,
                complete: old.complete,
            };
            batch.insert(key.clone(), Some(encode(&summary)?));
            if !old.body_text.is_empty() {
                batch.insert(keys::blob_text(&blob), Some(old.body_text.into_bytes()));
            }
            upgraded += 1;
            start = key.clone();
            start.push(0);
            last = Some(key);
        }
        drop(snapshot);
        let Some(last) = last else {
            return Ok(upgraded);
        };
        batch.insert(cursor_key.clone(), Some(last));
        engine.commit(batch)?;
    }
}
