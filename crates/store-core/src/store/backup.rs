//! Consistent backup and restore of a whole store (issue 19): every key
//! read under ONE engine snapshot, written into a fresh redb database, plus
//! every blob file those keys reference, plus a manifest.
//!
//! Layout of a backup directory (the same as a data directory's, so a
//! restore is a copy):
//!
//! ```text
//! DIR/store.redb       the keys of the snapshot (one redb table, as the engine keeps it)
//! DIR/blobs/ab/abcd…   each blob file the snapshot references (hard links when DIR is
//!                      on the data directory's file system, else copies), synced
//! DIR/auth.secret      the server secret decoy SCRAM salts derive from, if any
//! DIR/manifest.json    [`Manifest`]: written last, so a backup without one is incomplete
//! ```
//!
//! A backup runs while the server takes writes: the store's writer goes on
//! committing, and blob file deletions are held back
//! ([`crate::blob::DeletionHold`]) from before the snapshot until the last
//! file is copied, so an object expunged during the backup is still copied.
//! Nothing outside the store is copied (no admin token, no TLS key).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Store;
use crate::blob::{BlobId, DeletionHold, PRIVATE_FILE};
use crate::engine::{Engine, EngineError, RedbEngine, Snapshot, WriteBatch};
use crate::keys::{self, BlobRecord};

/// The version of the backup layout and [`Manifest`] this code writes
/// and reads.
pub const BACKUP_FORMAT: u32 = 1;

/// The manifest's file name in a backup directory.
pub const MANIFEST: &str = "manifest.json";

/// Most key-value pairs one commit into the backup database carries.
const BATCH_KEYS: usize = 4096;
/// Most bytes (keys and values) one commit into the backup database carries.
const BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Pairs read from the snapshot at once.
const SCAN_PAGE: usize = 1024;

/// What a backup holds, written as `manifest.json` once everything else
/// is durable, and checked by [`restore`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`BACKUP_FORMAT`] of the code that wrote it.
    pub format: u32,
    /// The store's format (`store/format.rs`) when it was taken; a newer
    /// server upgrades a restored older store at open.
    pub store_format: u64,
    /// When the snapshot was taken, Unix seconds (UTC).
    pub created: i64,
    /// Key-value pairs in `store.redb`.
    pub keys: u64,
    /// Bytes of those keys and values.
    pub key_bytes: u64,
    /// Blob files under `blobs/` (blobs kept in the database are keys).
    pub blobs: u64,
    /// Bytes of those files.
    pub blob_bytes: u64,
    /// Blobs the snapshot references whose file was missing in the store
    /// (a damaged store): not in the backup, logged.
    pub missing_blobs: u64,
}

/// Why a backup or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The target exists and holds something: a backup goes into a new
    /// or empty directory, a restore into a new or empty data directory.
    #[error("{0} exists and is not empty")]
    NotEmpty(PathBuf),
    /// A file operation failed on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The storage engine failed (reading the snapshot, writing the copy).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The backup is incomplete, of another format, or does not match its
    /// manifest.
    #[error("bad backup: {0}")]
    Invalid(String),
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (mode 0700, parents as needed) unless it exists; fails
/// with [`BackupError::NotEmpty`] if it exists with anything in it.
fn empty_dir(dir: &Path) -> Result<(), BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::NotEmpty(dir.to_path_buf()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode_private()
                .create(dir)
                .map_err(io_at(dir))?;
            if let Some(parent) = dir.parent() {
                let _ = crate::blob::sync_dir(parent);
            }
            Ok(())
        }
        Err(e) => Err(io_at(dir)(e)),
    }
}

trait PrivateDir {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateDir for std::fs::DirBuilder {
    fn mode_private(&mut self) -> &mut Self {
        std::os::unix::fs::DirBuilderExt::mode(self, crate::blob::PRIVATE_DIR)
    }
}

/// `blobs/ab/abcd…` under `root`.
fn blob_path(root: &Path, id: &BlobId) -> PathBuf {
    let hex = id.to_hex();
    root.join("blobs").join(&hex[..2]).join(hex)
}

/// A backup begun: deletions held and the snapshot taken
/// ([`Store::begin_backup`]); [`Backup::run`] copies.
pub struct Backup {
    dir: PathBuf,
    data_dir: PathBuf,
    snapshot: Box<dyn Snapshot>,
    created: i64,
    _hold: DeletionHold,
}

impl Store {
    /// Begins a backup into `dir` (absent or empty; created mode 0700):
    /// holds blob deletions, then takes the one snapshot the backup reads.
    /// Writes after this call are not in the backup; every object
    /// committed before it is, with its UID, MODSEQ, flags and bytes. Call
    /// [`Backup::run`] (blocking; on a blocking thread) to copy.
    ///
    /// Errors: [`BackupError::NotEmpty`], [`BackupError::Io`] (cannot
    /// create `dir`), [`BackupError::Engine`].
    pub fn begin_backup(&self, dir: &Path) -> Result<Backup, BackupError> {
        empty_dir(dir)?;
        // The hold first: a blob the snapshot references cannot be
        // unlinked after it is taken.
        let hold = self.inner.blobs.hold_deletions();
        let snapshot = self.inner.engine.snapshot()?;
        Ok(Backup {
            dir: dir.to_path_buf(),
            data_dir: self.inner.config.data_dir.clone(),
            snapshot,
            created: super::now(),
            _hold: hold,
        })
    }

    /// Takes a whole backup into `dir` ([`Store::begin_backup`] then
    /// [`Backup::run`]); blocking.
    ///
    /// Errors: those of both.
    pub fn backup(&self, dir: &Path) -> Result<Manifest, BackupError> {
        self.begin_backup(dir)?.run()
    }
}

/// The blob whose records the scan is in, and what they said.
struct BlobSeen {
    id: BlobId,
    referenced: bool,
    inline: bool,
}

impl Backup {
    /// Copies the snapshot's keys into `DIR/store.redb` (commits of at most
    /// 4096 pairs or 16 MiB), each blob file they reference into
    /// `DIR/blobs/` (a hard link when possible, else a copy; synced), the
    /// store's `auth.secret`, and last the manifest; then lets go of the
    /// hold on deletions. Blocking.
    ///
    /// Errors: [`BackupError::Io`] (a file could not be written or
    /// synced: the backup is incomplete and has no manifest),
    /// [`BackupError::Engine`].
    pub fn run(self) -> Result<Manifest, BackupError> {
        let db_path = self.dir.join("store.redb");
        let target = RedbEngine::open(&db_path)?;
        let mut manifest = Manifest {
            format: BACKUP_FORMAT,
            store_format: super::format::FORMAT_VERSION,
            created: self.created,
            keys: 0,
            key_bytes: 0,
            blobs: 0,
            blob_bytes: 0,
            missing_blobs: 0,
        };
        let mut batch = WriteBatch::new();
        let mut batch_bytes = 0usize;
        let mut seen: Option<BlobSeen> = None;
        let mut fans = std::collections::BTreeSet::new();
        let mut start: Vec<u8> = Vec::new();
        loop {
            let page = self.snapshot.scan(&[], &start, SCAN_PAGE)?;
            let full = page.len() == SCAN_PAGE;
            if let Some((last, _)) = page.last() {
                start = last.clone();
                start.push(0);
            }
            for (key, value) in page {
                if let Some((id, record)) = keys::parse_blob_record(&key) {
                    if seen.as_ref().is_none_or(|s| s.id != id) {
                        if let Some(done) = seen.take() {
                            self.copy_blob(&done, &mut manifest, &mut fans)?;
                        }
                        seen = Some(BlobSeen {
                            id,
                            referenced: false,
                            inline: false,
                        });
                    }
                    if let Some(s) = seen.as_mut() {
                        match record {
                            BlobRecord::Refs => s.referenced = true,
                            BlobRecord::Content => s.inline = true,
                            _ => {}
                        }
                    }
                }
                manifest.keys += 1;
                batch_bytes += key.len() + value.len();
                manifest.key_bytes += (key.len() + value.len()) as u64;
                batch.insert(key, Some(value));
                if batch.len() >= BATCH_KEYS || batch_bytes >= BATCH_BYTES {
                    target.commit(std::mem::take(&mut batch))?;
                    batch_bytes = 0;
                }
            }
            if !full {
                break;
            }
        }
        if let Some(done) = seen.take() {
            self.copy_blob(&done, &mut manifest, &mut fans)?;
        }
        if !batch.is_empty() {
            target.commit(batch)?;
        }
        drop(target);
        let blobs_dir = self.dir.join("blobs");
        for fan in &fans {
            let dir = blobs_dir.join(fan);
            crate::blob::sync_dir(&dir).map_err(io_at(&dir))?;
        }
        if !fans.is_empty() {
            crate::blob::sync_dir(&blobs_dir).map_err(io_at(&blobs_dir))?;
        }
        copy_if_present(
            &self.data_dir.join("auth.secret"),
            &self.dir.join("auth.secret"),
        )?;
        write_manifest(&self.dir, &manifest)?;
        Ok(manifest)
    }

    /// Copies the file of a blob the snapshot references and does not
    /// keep in the database.
    fn copy_blob(
        &self,
        seen: &BlobSeen,
        manifest: &mut Manifest,
        fans: &mut std::collections::BTreeSet<String>,
    ) -> Result<(), BackupError> {
        if !seen.referenced || seen.inline {
            return Ok(());
        }
        let from = blob_path(&self.data_dir, &seen.id);
        let to = blob_path(&self.dir, &seen.id);
        let blobs = self._hold.blobs();
        if blobs.is_remote() {
            // Blobs in an object store: the backup holds each as a file
            // all the same, streamed down and synced.
            make_fan(&to, &seen.id, fans)?;
            match blobs.download(&seen.id, &to).map_err(io_at(&to))? {
                Some(size) => {
                    manifest.blobs += 1;
                    manifest.blob_bytes += size;
                }
                None => {
                    tracing::warn!(blob = %seen.id.to_hex(), "backup: a referenced blob object is missing");
                    manifest.missing_blobs += 1;
                }
            }
            return Ok(());
        }
        let size = match std::fs::metadata(&from) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(blob = %seen.id.to_hex(), "backup: a referenced blob file is missing");
                manifest.missing_blobs += 1;
                return Ok(());
            }
            Err(e) => return Err(io_at(&from)(e)),
        };
        make_fan(&to, &seen.id, fans)?;
        // Blob files are never written in place: a second name for the
        // same inode is as good as a copy, and costs no bytes.
        if std::fs::hard_link(&from, &to).is_err() {
            copy_synced(&from, &to)?;
        }
        manifest.blobs += 1;
        manifest.blob_bytes += size;
        Ok(())
    }
}

/// Copies `from` to `to` (created mode 0600, must not exist) and syncs it;
/// returns the SHA-256 of the bytes copied.
fn copy_synced(from: &Path, to: &Path) -> Result<[u8; 32], BackupError> {
    let mut input = std::fs::File::open(from).map_err(io_at(from))?;
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode_private_file()
        .open(to)
        .map_err(io_at(to))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1024 * 1024];
    loop {
        let n = input.read(&mut buffer).map_err(io_at(from))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        output.write_all(&buffer[..n]).map_err(io_at(to))?;
    }
    output.sync_all().map_err(io_at(to))?;
    Ok(hasher.finalize().into())
}

trait PrivateFile {
    fn mode_private_file(&mut self) -> &mut Self;
}

impl PrivateFile for std::fs::OpenOptions {
    fn mode_private_file(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, PRIVATE_FILE)
    }
}

/// [`copy_synced`] when `from` exists.
fn copy_if_present(from: &Path, to: &Path) -> Result<(), BackupError> {
    match std::fs::metadata(from) {
        Ok(_) => copy_synced(from, to).map(|_| ()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_at(from)(e)),
    }
}

/// Writes `manifest.json` (via a temporary name, synced, renamed, the
/// directory synced): its presence marks a complete backup.
fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let tmp = dir.join("manifest.json.tmp");
    let path = dir.join(MANIFEST);
    let text = serde_json::to_vec_pretty(manifest)
        .map_err(|e| BackupError::Invalid(format!("cannot encode the manifest: {e}")))?;
    {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_private_file()
            .open(&tmp)
            .map_err(io_at(&tmp))?;
        file.write_all(&text).map_err(io_at(&tmp))?;
        file.sync_all().map_err(io_at(&tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io_at(&path))?;
    crate::blob::sync_dir(dir).map_err(io_at(dir))
}

/// Most bytes of a manifest [`restore`] reads.
const MAX_MANIFEST: u64 = 64 * 1024;

/// Reads and checks the manifest of the backup in `dir`.
///
/// Errors: [`BackupError::Invalid`] (absent: an incomplete backup; not
/// JSON; another format), [`BackupError::Io`].
pub fn read_manifest(dir: &Path) -> Result<Manifest, BackupError> {
    let path = dir.join(MANIFEST);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BackupError::Invalid(format!(
                "{} has no {MANIFEST}: not a backup, or an incomplete one",
                dir.display()
            )))
        }
        Err(e) => return Err(io_at(&path)(e)),
    };
    let mut text = Vec::new();
    file.take(MAX_MANIFEST)
        .read_to_end(&mut text)
        .map_err(io_at(&path))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| BackupError::Invalid(format!("{}: {e}", path.display())))?;
    if manifest.format != BACKUP_FORMAT {
        return Err(BackupError::Invalid(format!(
            "backup format {} (this cpm-store reads {BACKUP_FORMAT})",
            manifest.format
        )));
    }
    Ok(manifest)
}

/// Restores the backup in `backup` into `data_dir`, which must be absent or
/// empty (it is created mode 0700): copies the blob files (each checked
/// against its SHA-256 name), `auth.secret`, and the database (copied
/// under a temporary name, synced, and renamed into place last, so an
/// interrupted restore leaves no `store.redb`), then checks the counts of
/// the manifest against what was copied: keys, blob files and their
/// bytes, and that every blob file the keys reference is there. Blocking;
/// the server must be down (nothing else may open `data_dir`).
///
/// A restored store serves what the backup held: accounts, folders with
/// their UIDVALIDITY and UIDNEXT, objects with their UIDs, MODSEQs, flags
/// and bytes.
///
/// Errors: [`BackupError::NotEmpty`] (`data_dir` holds something),
/// [`BackupError::Invalid`] (no or a bad manifest, a blob whose bytes do
/// not match its name, counts that differ), [`BackupError::Io`],
/// [`BackupError::Engine`]. After a failure past the checks of the
/// target, `data_dir` holds a partial copy without `store.redb`: remove
/// it before trying again.
pub fn restore(backup: &Path, data_dir: &Path) -> Result<Manifest, BackupError> {
    let manifest = read_manifest(backup)?;
    empty_dir(data_dir)?;
    let mut blobs = 0u64;
    let mut blob_bytes = 0u64;
    let source_blobs = backup.join("blobs");
    let target_blobs = data_dir.join("blobs");
    std::fs::DirBuilder::new()
        .mode_private()
        .create(&target_blobs)
        .map_err(io_at(&target_blobs))?;
    if source_blobs.exists() {
        for fan in std::fs::read_dir(&source_blobs).map_err(io_at(&source_blobs))? {
            let fan = fan.map_err(io_at(&source_blobs))?;
            let fan_path = fan.path();
            if !fan.file_type().map_err(io_at(&fan_path))?.is_dir() {
                continue;
            }
            let target_fan = target_blobs.join(fan.file_name());
            std::fs::DirBuilder::new()
                .mode_private()
                .create(&target_fan)
                .map_err(io_at(&target_fan))?;
            for entry in std::fs::read_dir(&fan_path).map_err(io_at(&fan_path))? {
                let entry = entry.map_err(io_at(&fan_path))?;
                let from = entry.path();
                let Some(id) = entry.file_name().to_str().and_then(BlobId::from_hex) else {
                    return Err(BackupError::Invalid(format!(
                        "{} is not a blob file",
                        from.display()
                    )));
                };
                let to = blob_path(data_dir, &id);
                let hash = copy_synced(&from, &to)?;
                if hash != id.0 {
                    return Err(BackupError::Invalid(format!(
                        "{}: the bytes do not match the name (damaged)",
                        from.display()
                    )));
                }
                blobs += 1;
                blob_bytes += std::fs::metadata(&to).map_err(io_at(&to))?.len();
            }
            crate::blob::sync_dir(&target_fan).map_err(io_at(&target_fan))?;
        }
    }
    crate::blob::sync_dir(&target_blobs).map_err(io_at(&target_blobs))?;
    if (blobs, blob_bytes) != (manifest.blobs, manifest.blob_bytes) {
        return Err(BackupError::Invalid(format!(
            "{blobs} blob files of {blob_bytes} bytes, the manifest says {} of {}",
            manifest.blobs, manifest.blob_bytes
        )));
    }
    copy_if_present(&backup.join("auth.secret"), &data_dir.join("auth.secret"))?;
    let tmp = data_dir.join("store.redb.restoring");
    copy_synced(&backup.join("store.redb"), &tmp)?;
    verify_keys(&tmp, data_dir, &manifest)?;
    let db = data_dir.join("store.redb");
    std::fs::rename(&tmp, &db).map_err(io_at(&db))?;
    crate::blob::sync_dir(data_dir).map_err(io_at(data_dir))?;
    Ok(manifest)
}

/// Blob files uploaded per call of the S3 backend by [`restore_blobs_to`].
const RESTORE_UPLOAD_BATCH: usize = 64;

/// After [`restore`] into `data_dir`, puts the restored blob files where
/// `backend` keeps blobs: nothing to do for files; for S3, each file of
/// `data_dir/blobs` is uploaded (durable on the server before the next
/// batch starts), then the local copies are removed. Returns how many
/// were uploaded. Run before the store is opened, so the sweep at open
/// finds every referenced blob where it looks.
///
/// Errors: [`BackupError::Io`] (a file unreadable, the server refusing or
/// unreachable: the local copies are kept, and running it again uploads
/// them again, harmlessly, as blobs are named by their content).
pub fn restore_blobs_to(
    backend: &crate::blob::BlobBackend,
    data_dir: &Path,
) -> Result<u64, BackupError> {
    let crate::blob::BlobBackend::S3(config) = backend else {
        return Ok(0);
    };
    let root = data_dir.join("blobs");
    let remote = crate::blob::s3::S3Blobs::open(config).map_err(io_at(&root))?;
    let mut files = Vec::new();
    for fan in std::fs::read_dir(&root).map_err(io_at(&root))? {
        let fan_path = fan.map_err(io_at(&root))?.path();
        if !fan_path.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&fan_path).map_err(io_at(&fan_path))? {
            let path = entry.map_err(io_at(&fan_path))?.path();
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(BlobId::from_hex)
            else {
                continue;
            };
            let size = std::fs::metadata(&path).map_err(io_at(&path))?.len();
            files.push((path, id, size, false));
        }
    }
    let uploaded = files.len() as u64;
    for batch in files.chunks(RESTORE_UPLOAD_BATCH) {
        remote.upload_all(batch.to_vec()).map_err(io_at(&root))?;
    }
    std::fs::remove_dir_all(&root).map_err(io_at(&root))?;
    Ok(uploaded)
}

/// Creates the fan-out directory of blob `id`'s file `to` the first time
/// the backup meets it (`fans`: those made so far).
///
/// Errors: [`BackupError::Io`].
fn make_fan(
    to: &Path,
    id: &BlobId,
    fans: &mut std::collections::BTreeSet<String>,
) -> Result<(), BackupError> {
    let hex = id.to_hex();
    if fans.insert(hex[..2].to_string()) {
        if let Some(dir) = to.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode_private()
                .create(dir)
                .map_err(io_at(dir))?;
        }
    }
    Ok(())
}

/// Counts the keys of the copied database and checks every blob it
/// references without keeping it is a file under `data_dir`.
fn verify_keys(db: &Path, data_dir: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let engine = RedbEngine::open(db)?;
    let snapshot = engine.snapshot()?;
    let mut count = 0u64;
    let mut start: Vec<u8> = Vec::new();
    let mut seen: Option<BlobSeen> = None;
    let check = |s: &BlobSeen| -> Result<(), BackupError> {
        if s.referenced && !s.inline && !blob_path(data_dir, &s.id).exists() {
            return Err(BackupError::Invalid(format!(
                "blob {} is referenced but not in the backup",
                s.id.to_hex()
            )));
        }
        Ok(())
    };
    let mut missing = 0u64;
    loop {
        let page = snapshot.scan_keys(&[], &start, SCAN_PAGE)?;
        let full = page.len() == SCAN_PAGE;
        if let Some(last) = page.last() {
            start = last.clone();
            start.push(0);
        }
        for key in page {
            count += 1;
            let Some((id, record)) = keys::parse_blob_record(&key) else {
                continue;
            };
            if seen.as_ref().is_none_or(|s| s.id != id) {
                if let Some(done) = seen.take() {
                    if check(&done).is_err() {
                        missing += 1;
                    }
                }
                seen = Some(BlobSeen {
                    id,
                    referenced: false,
                    inline: false,
                });
            }
            if let Some(s) = seen.as_mut() {
                match record {
                    BlobRecord::Refs => s.referenced = true,
                    BlobRecord::Content => s.inline = true,
                    _ => {}
                }
            }
        }
        if !full {
            break;
        }
    }
    if let Some(done) = seen.take() {
        if check(&done).is_err() {
            missing += 1;
        }
    }
    if count != manifest.keys {
        return Err(BackupError::Invalid(format!(
            "{count} keys in store.redb, the manifest says {}",
            manifest.keys
        )));
    }
    // Blobs missing in the store when the backup was taken are missing
    // here too, and counted in the manifest; any other is an error.
    if missing != manifest.missing_blobs {
        return Err(BackupError::Invalid(format!(
            "{missing} referenced blob files are not in the backup, the manifest says {}",
            manifest.missing_blobs
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FolderRef, NewObject, StoreConfig};
    use tokio::io::AsyncReadExt;

    /// A message larger than [`crate::blob::MAX_INLINE`], so its blob is a
    /// file (a small one is a key, copied with the snapshot).
    fn large_message(tag: &str) -> Vec<u8> {
        let mut m = format!("Subject: {tag}\r\nMessage-ID: <{tag}@test>\r\n\r\n").into_bytes();
        m.extend(std::iter::repeat_n(b'x', 40_000));
        m.extend_from_slice(b"\r\n");
        m
    }

    async fn content(store: &Store, folder: &FolderRef, uid: u32) -> Vec<u8> {
        let admin = store.administrator("alice").await.unwrap();
        let mut reader = store.open_content(&admin, folder, uid).await.unwrap();
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await.unwrap();
        bytes
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_object_expunged_during_a_backup_is_in_the_backup() {
        let dirs = tempfile::tempdir().unwrap();
        let (data, backup, restored) = (
            dirs.path().join("data"),
            dirs.path().join("backup"),
            dirs.path().join("restored"),
        );
        let store = Store::open(StoreConfig::new(&data)).unwrap();
        store.create_account("alice", None, "pw").await.unwrap();
        let alice = store.administrator("alice").await.unwrap();
        let inbox = FolderRef::own("INBOX");
        let message = large_message("kept");
        let blob = store.stage_bytes(&message).await.unwrap();
        let blob_id = blob.id;
        let stored = store
            .store_object(&alice, &inbox, NewObject::new(blob))
            .await
            .unwrap();

        let job = store.begin_backup(&backup).unwrap();
        // Expunged after the snapshot and before the copy: without the
        // hold its file would be gone when the backup copies it.
        let removed = store
            .remove_objects(&alice, &inbox, &[stored.uid])
            .await
            .unwrap();
        assert_eq!(removed, vec![stored.uid]);
        let file = blob_path(&data, &blob_id);
        assert!(file.exists(), "the hold did not defer the deletion");
        // Stored after the snapshot: not in the backup.
        let later = store
            .store_object(
                &alice,
                &inbox,
                NewObject::new(store.stage_bytes(&large_message("later")).await.unwrap()),
            )
            .await
            .unwrap();
        let manifest = tokio::task::spawn_blocking(move || job.run())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((manifest.blobs, manifest.missing_blobs), (1, 0));
        assert_eq!(manifest.blob_bytes, message.len() as u64);

        // Hold gone: the writer removes the deferred file (it checks
        // between commits, at least once a second).
        let mut waited = 0;
        while file.exists() && waited < 100 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            waited += 1;
        }
        assert!(!file.exists(), "the deferred deletion was never made");
        store.close().await;

        let restored_manifest = restore(&backup, &restored).unwrap();
        assert_eq!(restored_manifest, manifest);
        let store = Store::open(StoreConfig::new(&restored)).unwrap();
        assert_eq!(content(&store, &inbox, stored.uid).await, message);
        let admin = store.administrator("alice").await.unwrap();
        let status = store.select_folder(&admin, &inbox).await.unwrap();
        assert_eq!(status.folder.uid_validity, stored.uid_validity);
        assert!(!status.uids.contains(later.uid));
        assert_eq!(status.uids.iter().collect::<Vec<_>>(), vec![stored.uid]);
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn backup_and_restore_refuse_a_directory_that_is_not_empty() {
        let dirs = tempfile::tempdir().unwrap();
        let data = dirs.path().join("data");
        let store = Store::open(StoreConfig::new(&data)).unwrap();
        store.create_account("alice", None, "pw").await.unwrap();
        let busy = dirs.path().join("busy");
        std::fs::create_dir(&busy).unwrap();
        std::fs::write(busy.join("something"), b"x").unwrap();
        assert!(matches!(
            store.backup(&busy),
            Err(BackupError::NotEmpty(p)) if p == busy
        ));
        let backup = dirs.path().join("backup");
        let manifest = store.backup(&backup).unwrap();
        assert!(manifest.keys > 0);
        store.close().await;
        assert!(matches!(
            restore(&backup, &busy),
            Err(BackupError::NotEmpty(_))
        ));
        assert!(matches!(
            restore(&backup, &data),
            Err(BackupError::NotEmpty(_))
        ));
        // A backup without its manifest (cut short) is refused.
        std::fs::remove_file(backup.join(MANIFEST)).unwrap();
        assert!(matches!(
            restore(&backup, &dirs.path().join("new")),
            Err(BackupError::Invalid(_))
        ));
    }
}
