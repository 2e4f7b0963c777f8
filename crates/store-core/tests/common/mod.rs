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
