//! Helpers shared by store-core's integration tests.

use store_core::blob::StagedBlob;
use store_core::Store;

/// `bytes` staged in a file, as every blob was before format 6 and as a
/// streamed one still is (a small blob staged from memory is kept in the
/// database, [`store_core::blob::MAX_INLINE`]): for the tests of files'
/// lifecycle and of format upgrades.
pub async fn stage_file(store: &Store, bytes: &[u8]) -> StagedBlob {
    let mut writer = store.blob_writer().await.unwrap();
    writer.write(bytes).await.unwrap();
    writer.finish().await.unwrap()
}

/// Moves every blob record of the store in `engine` back to where
/// formats 1 to 6 kept it (one prefix per kind, then the blob id), as a
/// store written by an older build has them.
#[allow(dead_code)]
pub fn to_legacy_blob_layout(engine: &dyn store_core::engine::Engine) {
    use store_core::keys;
    let prefix = keys::blob_records();
    let snapshot = engine.snapshot().unwrap();
    let mut batch = store_core::engine::WriteBatch::new();
    for (key, value) in snapshot.scan(&prefix, &prefix, usize::MAX).unwrap() {
        let (id, kind) = keys::parse_blob_record(&key).unwrap();
        batch.insert([&[kind.legacy_prefix()][..], &id.0].concat(), Some(value));
        batch.insert(key, None);
    }
    drop(snapshot);
    engine.commit(batch).unwrap();
}
