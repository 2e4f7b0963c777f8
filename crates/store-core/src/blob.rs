//! Content-addressed blob files beside the database (ARCHITECTURE.md, "Blob").
//!
//! Layout under the data directory: `blobs/ab/abcdef...` (the SHA-256 in hex,
//! fanned out by its first byte) and `tmp/` for blobs being written. A blob is
//! written to `tmp/` and renamed into place by the store's writer in the same
//! group commit that records its first reference; the commit makes the
//! database durable only after the blob's bytes and its directory entry are
//! ([`sync_installed`]), so a blob that the database names is always complete
//! on disk. Reference counts live in the database (`crate::keys::blob_refs`).
//!
//! Who syncs a blob's bytes: one of at most [`MAX_DEFERRED_SYNC`] bytes (a
//! chat message, a SIP deposit, most IMAP APPENDs) is synced by the group
//! commit that installs it, together with every other blob and directory of
//! the group, so a group of a hundred deposits waits for one journal commit
//! instead of a hundred; a larger one is synced by its writer
//! ([`BlobWriter::finish`]) before it reaches the writer, so a large upload
//! never makes other clients' commits wait for its bytes.
//!
//! Where installed blobs live is the backend's choice ([`BlobBackend`]):
//! files under `blobs/` (the default, as above), or objects in an
//! S3-compatible bucket ([`s3`]: staged to `tmp/` the same way, uploaded
//! instead of renamed, read back with ranged GETs). Every caller goes
//! through [`BlobStore`] and [`BlobReader`], whichever it is.

pub(crate) mod s3;

pub use s3::{S3Config, PART_BYTES, UPLOAD_PARTS_IN_FLIGHT};

use std::fmt;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::preview_cache::PreviewCache;
use crate::writer::StorageHealth;

/// The SHA-256 of a blob's bytes: its name.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// The id as 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<BlobId> {
        let bytes = hex::decode(s).ok()?;
        Some(BlobId(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", &self.to_hex()[..16])
    }
}

/// Where a store's installed blobs live (`[blobs] backend`).
#[derive(Debug, Clone, Default)]
pub enum BlobBackend {
    /// Files under `data_dir/blobs/` (the embedded default).
    #[default]
    Files,
    /// Objects in an S3-compatible bucket ([`S3Config`]).
    S3(S3Config),
}

/// The blob directory of one store, and the cache of its previews.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    /// The object store holding installed blobs instead of `root`.
    remote: Option<Arc<s3::S3Blobs>>,
    tmp: PathBuf,
    next_tmp: AtomicU64,
    previews: PreviewCache,
    health: Arc<StorageHealth>,
    /// Deletions held back while a backup copies blob files
    /// ([`BlobStore::hold_deletions`]).
    deletions: std::sync::Mutex<HeldDeletions>,
}

/// The blob deletions of a [`BlobStore`] while backups hold them.
#[derive(Debug, Default)]
struct HeldDeletions {
    /// How many [`DeletionHold`]s are alive.
    holders: usize,
    /// Blobs whose file would have been removed meanwhile.
    deferred: std::collections::BTreeSet<BlobId>,
}

/// While alive, no blob file of its store is removed: a removal is
/// deferred until the last hold is dropped, and then made by the store's
/// writer only if no record references the blob again
/// ([`BlobStore::hold_deletions`]). A backup holds one while it copies
/// the files its snapshot references, so an object expunged meanwhile is
/// still copied.
#[derive(Debug)]
pub struct DeletionHold {
    blobs: Arc<BlobStore>,
}

impl DeletionHold {
    /// The blob store whose deletions it holds.
    pub(crate) fn blobs(&self) -> &Arc<BlobStore> {
        &self.blobs
    }
}

impl Drop for DeletionHold {
    fn drop(&mut self) {
        let mut held = self.blobs.held_deletions();
        held.holders = held.holders.saturating_sub(1);
    }
}

/// Largest blob, in bytes, whose bytes are synced by the group commit that
/// installs it rather than by its writer (see the module docs).
pub const MAX_DEFERRED_SYNC: u64 = 1 << 20;

/// Largest blob, in bytes, that [`BlobStore::stage_bytes`] keeps in the
/// database rather than in a file of its own: its bytes are committed
/// with its first reference (`keys::blob_content`), so storing it costs
/// no file, no rename and no sync of its own (a SIP deposit of a chat
/// message is a few hundred bytes; one sync per file bounded deposits to
/// the disk's sync rate).
pub const MAX_INLINE: u64 = 16 * 1024;

/// A blob not yet part of the store: written under `tmp/` (installed by
/// the writer, which syncs it first if its writer did not, or removed
/// when dropped), or, at most [`MAX_INLINE`] bytes, held in memory until
/// the commit that records it.
#[derive(Debug)]
pub struct StagedBlob {
    /// The SHA-256 of its bytes.
    pub id: BlobId,
    /// Its length in bytes.
    pub size: u64,
    staged: Staged,
}

/// Where a [`StagedBlob`]'s bytes are.
#[derive(Debug)]
enum Staged {
    /// A file under `tmp/`; `synced` when its writer made it durable;
    /// `uploaded` when its writer also put it in the object store (the
    /// S3 backend, before the writer's turn: [`BlobStore::install_all`]
    /// then only checks that the object is still there).
    File {
        path: PathBuf,
        synced: bool,
        uploaded: bool,
    },
    /// Memory, until the commit that records the blob keeps them.
    Memory(bytes::Bytes),
}

/// Where a staged blob's bytes are, to read them ([`StagedBlob::source`]).
#[derive(Debug, Clone, Copy)]
pub enum StagedSource<'a> {
    /// Its temporary file.
    File(&'a Path),
    /// Its bytes, held in memory (a small blob, [`MAX_INLINE`]).
    Memory(&'a bytes::Bytes),
}

impl StagedBlob {
    /// A blob staged in the file `path`.
    fn in_file(id: BlobId, size: u64, path: PathBuf, synced: bool) -> StagedBlob {
        StagedBlob {
            id,
            size,
            staged: Staged::File {
                path,
                synced,
                uploaded: false,
            },
        }
    }

    /// With the S3 backend, uploads the staged file now, in the caller's
    /// task (a session's, not the store's writer), so that the writer's
    /// turn, which other nodes wait for, only checks the object is there.
    ///
    /// Errors: the object store refused or could not be reached.
    async fn upload_early(mut self, remote: Option<&Arc<s3::S3Blobs>>) -> io::Result<StagedBlob> {
        let Some(remote) = remote else {
            return Ok(self);
        };
        if let Staged::File { path, uploaded, .. } = &mut self.staged {
            // Bytes stored before (a forwarded file) are not sent again
            // when they are large: a HEAD costs less than the upload. If
            // the object goes before the writer's turn, the turn uploads
            // it from the staged file.
            let stored = self.size > s3::PART_BYTES as u64 && remote.exists(&self.id).await?;
            if !stored {
                remote.upload(path.clone(), self.id, self.size).await?;
            }
            *uploaded = true;
        }
        Ok(self)
    }

    /// Where its bytes are.
    pub fn source(&self) -> StagedSource<'_> {
        match &self.staged {
            Staged::File { path, .. } => StagedSource::File(path),
            Staged::Memory(bytes) => StagedSource::Memory(bytes),
        }
    }

    /// The staged bytes, for reading from the start.
    ///
    /// Errors: its file cannot be opened.
    pub async fn reader(&self) -> io::Result<BlobReader> {
        match self.source() {
            StagedSource::Memory(bytes) => Ok(BlobReader::memory(bytes.clone())),
            StagedSource::File(path) => Ok(BlobReader::file(tokio::fs::File::open(path).await?)),
        }
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        // After install the file has been renamed away and this fails
        // harmlessly; otherwise it removes the unused temporary file.
        if let Staged::File { path, .. } = &self.staged {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A streaming writer of one new blob; the whole blob is never held in memory.
pub struct BlobWriter {
    file: tokio::fs::File,
    hasher: Sha256,
    size: u64,
    path: PathBuf,
    done: bool,
    health: Arc<StorageHealth>,
    /// The object store, with the S3 backend: [`BlobWriter::finish`]
    /// uploads there.
    remote: Option<Arc<s3::S3Blobs>>,
}

impl BlobWriter {
    /// Appends `bytes` to the blob.
    ///
    /// Errors: the file cannot be written (`ENOSPC`: the device is full,
    /// which the store's health then reports until space is freed).
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let written = self.file.write_all(bytes).await;
        self.note(written)?;
        crate::telemetry::metrics()
            .blob_bytes_written
            .inc_by(bytes.len() as u64);
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Records a full device in the store's health.
    fn note<T>(&self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            if crate::engine::is_storage_full(e) {
                self.health.set_failing(&crate::StoreError::StorageFull);
            }
        }
        result
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Flushes the file and returns the staged blob; a blob larger than
    /// [`MAX_DEFERRED_SYNC`] is also synced (fdatasync) here, a smaller one
    /// by the group commit that installs it. With the S3 backend, a blob
    /// of at most [`MAX_INLINE`] bytes is returned in memory (kept in the
    /// database by its commit), a larger one is uploaded here.
    ///
    /// Errors: the file cannot be written or synced.
    pub async fn finish(mut self) -> io::Result<StagedBlob> {
        let flushed = self.file.flush().await;
        self.note(flushed)?;
        let synced = self.size > MAX_DEFERRED_SYNC;
        if synced {
            let result = self.file.sync_data().await;
            crate::telemetry::metrics().fsyncs.inc();
            self.note(result)?;
        }
        self.done = true;
        let hasher = std::mem::take(&mut self.hasher);
        if self.remote.is_some() && self.size <= MAX_INLINE {
            // With an object store, a small blob (a chat message) is kept
            // in the database as a staged-in-memory one is, not made an
            // object of its own: one PUT per chat message would cost more
            // than the message.
            let path = std::mem::take(&mut self.path);
            let bytes = tokio::fs::read(&path).await;
            let _ = tokio::fs::remove_file(&path).await;
            let bytes = bytes?;
            if bytes.len() as u64 != self.size {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            return Ok(StagedBlob {
                id: BlobId(hasher.finalize().into()),
                size: self.size,
                staged: Staged::Memory(bytes::Bytes::from(bytes)),
            });
        }
        let staged = StagedBlob::in_file(
            BlobId(hasher.finalize().into()),
            self.size,
            std::mem::take(&mut self.path),
            synced,
        );
        staged.upload_early(self.remote.as_ref()).await
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.done {
            // An interrupted write (peer closed mid-literal): nothing is kept.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl BlobStore {
    /// Opens the blob directories under `data_dir`, creating them, and
    /// removes what an interrupted run left in `tmp/`. The preview cache
    /// under `previews/` holds at most `preview_cache_bytes`.
    pub fn open(data_dir: &Path, preview_cache_bytes: u64) -> io::Result<BlobStore> {
        BlobStore::open_with(data_dir, preview_cache_bytes, &BlobBackend::Files)
    }

    /// As [`BlobStore::open`], with installed blobs in `backend`; blobs
    /// being written are staged under `data_dir/tmp/` whatever it is.
    ///
    /// Errors: a directory cannot be made; the S3 settings are invalid.
    pub fn open_with(
        data_dir: &Path,
        preview_cache_bytes: u64,
        backend: &BlobBackend,
    ) -> io::Result<BlobStore> {
        let remote = match backend {
            BlobBackend::Files => None,
            BlobBackend::S3(config) => Some(Arc::new(s3::S3Blobs::open(config)?)),
        };
        let root = data_dir.join("blobs");
        let tmp = data_dir.join("tmp");
        create_private_dir(&root)?;
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        create_private_dir(&tmp)?;
        let blob_path = |id: &BlobId| {
            let hex = id.to_hex();
            root.join(&hex[..2]).join(hex)
        };
        // A cached preview of a blob removed meanwhile is dropped; an
        // object store is not asked about each at open (the sweep's
        // deletions remove theirs).
        let remote_blobs = remote.is_some();
        let previews = PreviewCache::open(data_dir, preview_cache_bytes, |id| {
            remote_blobs || blob_path(id).exists()
        })?;
        Ok(BlobStore {
            root,
            remote,
            tmp,
            next_tmp: AtomicU64::new(0),
            previews,
            health: Arc::default(),
            deletions: std::sync::Mutex::default(),
        })
    }

    /// Holds every blob file deletion until the returned hold is dropped
    /// (a backup, `crate::store::backup`); deletions asked for meanwhile
    /// are deferred, and made by the writer after the last hold goes, for
    /// blobs no record references then.
    pub fn hold_deletions(self: &Arc<Self>) -> DeletionHold {
        self.held_deletions().holders += 1;
        DeletionHold {
            blobs: self.clone(),
        }
    }

    fn held_deletions(&self) -> std::sync::MutexGuard<'_, HeldDeletions> {
        self.deletions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The deletions deferred while holds were alive, once none is (empty
    /// while one still is). The caller checks each blob is still
    /// unreferenced and then [`BlobStore::unlink`]s it.
    pub(crate) fn take_deferred(&self) -> Vec<BlobId> {
        let mut held = self.held_deletions();
        if held.holders > 0 {
            return Vec::new();
        }
        std::mem::take(&mut held.deferred).into_iter().collect()
    }

    /// Whether the storage takes writes: a blob write that finds the
    /// device full records it here, as the store's writer does.
    pub(crate) fn health(&self) -> &Arc<StorageHealth> {
        &self.health
    }

    /// The cache of this store's previews.
    pub(crate) fn previews(&self) -> &PreviewCache {
        &self.previews
    }

    /// Where the blob `id` lives once installed.
    pub fn path(&self, id: &BlobId) -> PathBuf {
        let hex = id.to_hex();
        self.root.join(&hex[..2]).join(hex)
    }

    /// Starts writing a new blob under `tmp/`.
    pub async fn writer(&self) -> io::Result<BlobWriter> {
        let path = self.next_tmp_path();
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(PRIVATE_FILE)
            .open(&path)
            .await;
        if let Err(e) = &file {
            if crate::engine::is_storage_full(e) {
                self.health.set_failing(&crate::StoreError::StorageFull);
            }
        }
        Ok(BlobWriter {
            file: file?,
            hasher: Sha256::new(),
            size: 0,
            path,
            done: false,
            health: self.health.clone(),
            remote: self.remote.clone(),
        })
    }

    /// Stages `bytes` as a new blob (for objects already in memory: a SIP
    /// deposit, a converted APPEND). Up to [`MAX_INLINE`] bytes it stays
    /// in memory, to be kept in the database by the commit that records
    /// it; larger, it is written in one call on the blocking pool and
    /// synced as [`BlobWriter::finish`] does.
    ///
    /// Errors: the file cannot be created, written or synced (`ENOSPC` is
    /// recorded in the store's health).
    pub async fn stage_bytes(&self, bytes: &[u8]) -> io::Result<StagedBlob> {
        if bytes.len() as u64 <= MAX_INLINE {
            crate::telemetry::metrics()
                .blob_bytes_written
                .inc_by(bytes.len() as u64);
            return Ok(StagedBlob {
                id: BlobId(Sha256::digest(bytes).into()),
                size: bytes.len() as u64,
                staged: Staged::Memory(bytes::Bytes::copy_from_slice(bytes)),
            });
        }
        if bytes.len() as u64 > MAX_DEFERRED_SYNC {
            let mut w = self.writer().await?;
            w.write(bytes).await?;
            return w.finish().await;
        }
        let path = self.next_tmp_path();
        let id = BlobId(Sha256::digest(bytes).into());
        let size = bytes.len() as u64;
        let bytes = bytes.to_vec();
        let written = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || {
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(PRIVATE_FILE)
                    .open(&path)?;
                file.write_all(&bytes)
            })
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)))
        };
        if let Err(e) = written {
            let _ = std::fs::remove_file(&path);
            if crate::engine::is_storage_full(&e) {
                self.health.set_failing(&crate::StoreError::StorageFull);
            }
            return Err(e);
        }
        crate::telemetry::metrics().blob_bytes_written.inc_by(size);
        StagedBlob::in_file(id, size, path, false)
            .upload_early(self.remote.as_ref())
            .await
    }

    /// A fresh file name under `tmp/`.
    fn next_tmp_path(&self) -> PathBuf {
        let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        self.tmp.join(format!("{}-{n}", std::process::id()))
    }

    /// Moves staged blobs into place (called by the writer when the blobs'
    /// first references are recorded, before the commit) and makes them
    /// durable: the bytes of those their writers did not sync, and the
    /// directories they were renamed into, synced together
    /// ([`sync_installed`]). A crash before the sync leaves at most
    /// unreferenced files, which the sweep at open removes (the database
    /// commit that would reference them comes after).
    ///
    /// Errors: a rename or a sync failed (the commit must not happen).
    /// With the S3 backend, uploads the staged files instead (several at
    /// once; each is durable when S3 acknowledges it), leaving them to be
    /// removed when the staged blobs are dropped.
    ///
    /// Public for the backend's contract tests; the store's writer is its
    /// only caller in a store.
    pub fn install_all(&self, staged: &[StagedBlob]) -> io::Result<()> {
        if let Some(remote) = &self.remote {
            let files = staged
                .iter()
                .filter_map(|blob| match &blob.staged {
                    Staged::File { path, uploaded, .. } => {
                        Some((path.clone(), blob.id, blob.size, *uploaded))
                    }
                    Staged::Memory(_) => None,
                })
                .collect();
            return remote.upload_all(files);
        }
        let mut dirs: std::collections::BTreeSet<PathBuf> = std::collections::BTreeSet::new();
        let mut files = Vec::new();
        for blob in staged {
            // One held in memory is kept in the database, not installed.
            let Staged::File {
                path: staged_path,
                synced,
                ..
            } = &blob.staged
            else {
                continue;
            };
            let dest = self.path(&blob.id);
            let dir = dest
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.root.clone());
            if !dir.exists() {
                create_private_dir(&dir)?;
                sync_dir(&self.root)?;
            }
            std::fs::rename(staged_path, &dest)?;
            if !synced {
                files.push(dest);
            }
            dirs.insert(dir);
        }
        let syncs = files
            .into_iter()
            .map(PendingSync::FileData)
            .chain(dirs.into_iter().map(PendingSync::Directory));
        sync_installed(syncs)
    }

    /// Removes the file of a blob whose last reference was removed, and
    /// its previews; while a [`DeletionHold`] is alive, only notes it for
    /// later ([`BlobStore::take_deferred`]).
    ///
    /// Public for the backend's contract tests; the store's writer (and
    /// its sweep at open) is its only caller in a store.
    pub fn unlink(&self, id: &BlobId) {
        {
            let mut held = self.held_deletions();
            if held.holders > 0 {
                held.deferred.insert(*id);
                return;
            }
        }
        if let Some(remote) = &self.remote {
            // A failed delete leaves an unreferenced object, which the
            // sweep at the next open removes.
            if let Err(e) = remote.delete(id) {
                tracing::warn!(blob = %id.to_hex(), error = %e, "could not remove unreferenced blob object");
            }
        } else if let Err(e) = std::fs::remove_file(self.path(id)) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(blob = %id.to_hex(), error = %e, "could not remove unreferenced blob");
            }
        }
        // After the blob: a preview being made now is not kept once the
        // blob's file is gone (PreviewCache::put checks).
        self.previews.remove_blob(id);
    }

    /// Opens an installed blob for reading (with the S3 backend, a HEAD
    /// request for its size; its bytes are read as asked for).
    ///
    /// Errors: `NotFound` when there is no such blob; the file's or the
    /// object store's.
    pub async fn open_blob(&self, id: &BlobId) -> io::Result<BlobReader> {
        if let Some(remote) = &self.remote {
            let size = remote.size(id).await?;
            return Ok(BlobReader {
                source: BlobSource::S3(s3::S3Read::new(remote.clone(), *id, size)),
            });
        }
        Ok(BlobReader::file(
            tokio::fs::File::open(self.path(id)).await?,
        ))
    }

    /// The size in bytes of installed blob `id` and its first `want(size)`
    /// bytes (of its file, or of its object: a HEAD request and one ranged
    /// GET), for a synchronous caller (the format upgrade at open).
    /// Blocking.
    ///
    /// Errors: `NotFound` when there is no such blob; the file's or the
    /// object store's.
    pub(crate) fn read_prefix(
        &self,
        id: &BlobId,
        want: impl FnOnce(u64) -> u64 + Send + 'static,
    ) -> io::Result<(u64, Vec<u8>)> {
        if let Some(remote) = &self.remote {
            let (size, bytes) = remote.read_prefix(id, want)?;
            return Ok((size, bytes.to_vec()));
        }
        use std::io::Read;
        let file = std::fs::File::open(self.path(id))?;
        let size = file.metadata()?.len();
        let want = want(size).min(size);
        let mut bytes = Vec::with_capacity(want as usize);
        file.take(want).read_to_end(&mut bytes)?;
        Ok((size, bytes))
    }

    /// Whether installed blobs are objects of an object store rather than
    /// files under `blobs/`.
    pub(crate) fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// Copies the object of blob `id` into the new file `to` (mode
    /// [`PRIVATE_FILE`], synced), streamed; its size in bytes, or `None`
    /// when there is no such object. For a backup of a store whose blobs
    /// are in an object store (files are hard-linked instead). Blocking.
    ///
    /// Errors: `Unsupported` with the files backend; the object store's or
    /// the file's.
    pub(crate) fn download(&self, id: &BlobId, to: &Path) -> io::Result<Option<u64>> {
        match &self.remote {
            Some(remote) => remote.download(id, to),
            None => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Whether blob `id` is installed (a file, or an object: a HEAD
    /// request).
    ///
    /// Errors: the object store could not be asked.
    pub async fn exists(&self, id: &BlobId) -> io::Result<bool> {
        match &self.remote {
            Some(remote) => remote.exists(id).await,
            None => Ok(tokio::fs::try_exists(self.path(id)).await?),
        }
    }

    /// Every installed blob id (for the sweep at open).
    ///
    /// Errors: the directory or the bucket cannot be listed.
    pub fn list(&self) -> io::Result<Vec<BlobId>> {
        if let Some(remote) = &self.remote {
            return remote.list();
        }
        let mut ids = Vec::new();
        for fan in std::fs::read_dir(&self.root)? {
            let fan = fan?;
            if !fan.file_type()?.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(fan.path())? {
                let entry = entry?;
                if let Some(id) = entry.file_name().to_str().and_then(BlobId::from_hex) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// Whether the device holding `tmp/` takes `bytes` more bytes now:
    /// writes and fsyncs a probe file of that size, then removes it. The
    /// writer uses it to tell when a full disk has space again.
    ///
    /// Errors: the write fails (`ENOSPC` while the device is still full).
    pub(crate) fn probe_space(&self, bytes: usize) -> io::Result<()> {
        use std::io::Write;
        let path = self.tmp.join(format!("{}-probe", std::process::id()));
        let result = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(PRIVATE_FILE)
                .open(&path)?;
            file.write_all(&vec![0u8; bytes])?;
            crate::telemetry::metrics().fsyncs.inc();
            file.sync_all()
        })();
        let _ = std::fs::remove_file(&path);
        result
    }
}

/// An installed blob opened for reading, from its first byte: read and
/// seek it as a file (`AsyncRead + AsyncSeek`), or take byte ranges in
/// large chunks with [`BlobReader::content`]. Where its bytes live (a
/// file of the blob directory, or memory) is the store's business: the
/// protocols read every blob through this type.
#[derive(Debug)]
pub struct BlobReader {
    source: BlobSource,
}

#[derive(Debug)]
enum BlobSource {
    /// A file of the blob directory.
    File(tokio::fs::File),
    /// Bytes held in memory.
    Memory(io::Cursor<bytes::Bytes>),
    /// An object of the S3 backend, read with ranged GETs.
    S3(s3::S3Read),
}

impl BlobReader {
    /// A reader of an open blob file.
    pub fn file(file: tokio::fs::File) -> BlobReader {
        BlobReader {
            source: BlobSource::File(file),
        }
    }

    /// A reader of `bytes`.
    pub fn memory(bytes: bytes::Bytes) -> BlobReader {
        BlobReader {
            source: BlobSource::Memory(io::Cursor::new(bytes)),
        }
    }

    /// A reader of the `length` bytes from `offset`, in large chunks
    /// ([`ContentReader`]).
    pub async fn content(self, offset: u64, length: u64) -> ContentReader {
        let source = match self.source {
            BlobSource::File(file) => ChunkSource::File(Arc::new(file.into_std().await)),
            BlobSource::Memory(cursor) => ChunkSource::Memory(cursor.into_inner()),
            BlobSource::S3(read) => {
                let (remote, id) = read.into_parts();
                ChunkSource::S3(remote, id)
            }
        };
        ContentReader::new(source, offset, length)
    }
}

impl tokio::io::AsyncRead for BlobReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = match &mut self.get_mut().source {
            BlobSource::File(f) => std::pin::Pin::new(f).poll_read(cx, buf),
            BlobSource::Memory(m) => std::pin::Pin::new(m).poll_read(cx, buf),
            BlobSource::S3(r) => std::pin::Pin::new(r).poll_read(cx, buf),
        };
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            crate::telemetry::metrics()
                .blob_bytes_read
                .inc_by(read as u64);
        }
        polled
    }
}

impl tokio::io::AsyncSeek for BlobReader {
    fn start_seek(self: std::pin::Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        match &mut self.get_mut().source {
            BlobSource::File(f) => std::pin::Pin::new(f).start_seek(position),
            BlobSource::Memory(m) => std::pin::Pin::new(m).start_seek(position),
            BlobSource::S3(r) => std::pin::Pin::new(r).start_seek(position),
        }
    }

    fn poll_complete(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<u64>> {
        match &mut self.get_mut().source {
            BlobSource::File(f) => std::pin::Pin::new(f).poll_complete(cx),
            BlobSource::Memory(m) => std::pin::Pin::new(m).poll_complete(cx),
            BlobSource::S3(r) => std::pin::Pin::new(r).poll_complete(cx),
        }
    }
}

/// Where a [`ContentReader`] takes its chunks from.
#[derive(Debug)]
enum ChunkSource {
    /// A file, read with `pread` on the blocking pool.
    File(Arc<std::fs::File>),
    /// Bytes in memory, sliced without a copy.
    Memory(bytes::Bytes),
    /// An object of the S3 backend: one ranged GET per chunk.
    S3(Arc<s3::S3Blobs>, BlobId),
}

/// Most bytes [`ContentReader`] reads in one trip to the blocking pool.
pub const READ_CHUNK: u64 = 1024 * 1024;
/// A range up to this many bytes is read by [`ContentReader`] in a single
/// trip (one frame for a whole photo).
pub const READ_WHOLE: u64 = 4 * 1024 * 1024;

/// Reads a byte range of a blob in large chunks, each one read on the
/// blocking pool: [`READ_WHOLE`] bytes or fewer in one trip, more in
/// [`READ_CHUNK`] pieces. A 4 KiB stream reader costs one blocking-pool
/// round trip per page (256 per MiB); this costs one per MiB.
#[derive(Debug)]
pub struct ContentReader {
    source: ChunkSource,
    offset: u64,
    left: u64,
    chunk: u64,
}

impl ContentReader {
    /// A reader of the `length` bytes of `source` from `offset` (in bytes).
    fn new(source: ChunkSource, offset: u64, length: u64) -> ContentReader {
        ContentReader {
            source,
            offset,
            left: length,
            chunk: if length <= READ_WHOLE {
                length
            } else {
                READ_CHUNK
            },
        }
    }

    /// Bytes not yet returned.
    pub fn remaining(&self) -> u64 {
        self.left
    }

    /// The next chunk (at most [`READ_CHUNK`] bytes, or the whole range
    /// when it is at most [`READ_WHOLE`]), or `None` at the end.
    ///
    /// Errors: the read fails, or the file ends before the range does
    /// (`UnexpectedEof`: a blob is never shorter than its record says).
    pub async fn next_chunk(&mut self) -> Option<io::Result<bytes::Bytes>> {
        if self.left == 0 {
            return None;
        }
        let want = self.left.min(self.chunk);
        let read = match &self.source {
            ChunkSource::File(file) => {
                let (file, offset) = (file.clone(), self.offset);
                let read =
                    tokio::task::spawn_blocking(move || read_exact_at(&file, offset, want)).await;
                match read {
                    Ok(r) => r,
                    Err(e) => Err(io::Error::other(e)),
                }
            }
            ChunkSource::Memory(bytes) => slice_at(bytes, self.offset, want),
            ChunkSource::S3(remote, id) => match self.offset.checked_add(want) {
                Some(end) => remote.get_range(id, self.offset..end).await,
                None => Err(io::ErrorKind::UnexpectedEof.into()),
            },
        };
        if read.is_ok() {
            crate::telemetry::metrics().blob_bytes_read.inc_by(want);
            self.offset += want;
            self.left -= want;
        } else {
            self.left = 0;
        }
        Some(read)
    }
}

/// `len` bytes of `file` from `offset`. The buffer is read into as
/// allocated, without zeroing it first (`File` reads into uninitialized
/// capacity): zeroing a 1 MiB buffer cost as much as reading it.
///
/// Errors: the read fails, or the file ends before `offset + len`
/// (`UnexpectedEof`).
fn read_exact_at(file: &std::fs::File, offset: u64, len: u64) -> io::Result<bytes::Bytes> {
    use std::io::{Read, Seek, SeekFrom};
    let capacity = usize::try_from(len).map_err(io::Error::other)?;
    let mut buf = Vec::with_capacity(capacity);
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    file.take(len).read_to_end(&mut buf)?;
    if buf.len() != capacity {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(bytes::Bytes::from(buf))
}

/// `len` bytes of `bytes` from `offset`, without a copy.
///
/// Errors: `UnexpectedEof` when `bytes` ends before `offset + len`.
fn slice_at(bytes: &bytes::Bytes, offset: u64, len: u64) -> io::Result<bytes::Bytes> {
    let start = usize::try_from(offset).map_err(io::Error::other)?;
    let end = offset
        .checked_add(len)
        .and_then(|e| usize::try_from(e).ok())
        .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
    if end > bytes.len() {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(bytes.slice(start..end))
}

/// The mode of every file the store creates: read and write for its owner
/// only (the data directory holds every message and the password hashes).
pub const PRIVATE_FILE: u32 = 0o600;
/// The mode of every directory the store creates: its owner only.
pub const PRIVATE_DIR: u32 = 0o700;

/// Creates `dir` and its missing parents with mode [`PRIVATE_DIR`].
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
}

/// Creates an empty file at `path` with mode [`PRIVATE_FILE`] unless it
/// exists (so that a library opening it later does not create it with the
/// process's umask).
pub fn create_private_file(path: &Path) -> io::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes the group and other permission bits of `dir` and of everything
/// under it (a data directory made by an older version, or copied in),
/// without following symbolic links. Returns how many entries it changed.
///
/// Errors: a directory cannot be read or a mode cannot be changed.
pub fn make_private(dir: &Path) -> io::Result<u64> {
    use std::os::unix::fs::PermissionsExt;
    let mut changed = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & !0o077))?;
            changed += 1;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        }
    }
    Ok(changed)
}

/// fsyncs a directory so that renames and creations in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    crate::telemetry::metrics().fsyncs.inc();
    std::fs::File::open(dir)?.sync_all()
}

/// Most threads [`sync_installed`] syncs on at once.
const SYNC_THREADS: usize = 16;

/// One thing a group commit makes durable before its database commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingSync {
    /// The bytes of a blob file (fdatasync).
    FileData(PathBuf),
    /// A directory, so that the renames into it are durable (fsync).
    Directory(PathBuf),
}

impl PendingSync {
    fn run(&self) -> io::Result<()> {
        match self {
            PendingSync::FileData(path) => {
                crate::telemetry::metrics().fsyncs.inc();
                std::fs::File::open(path)?.sync_data()
            }
            PendingSync::Directory(dir) => sync_dir(dir),
        }
    }
}

/// Runs every sync of `syncs` (those of one group commit: the bytes of its
/// new blobs and up to 256 fan-out directories) on up to [`SYNC_THREADS`]
/// threads at once, and returns when all are done. One after another they
/// cost one journal commit or device flush each, and bounded the writer to
/// a few hundred new blobs per second (SIP deposits, issue 16); issued
/// together they share the filesystem's journal commit.
///
/// Errors: the first file or directory that could not be opened or synced.
pub fn sync_installed<I>(syncs: I) -> io::Result<()>
where
    I: IntoIterator<Item = PendingSync>,
{
    let syncs: Vec<PendingSync> = syncs.into_iter().collect();
    if syncs.len() <= 1 {
        return syncs.iter().try_for_each(PendingSync::run);
    }
    let per_thread = syncs.len().div_ceil(SYNC_THREADS);
    std::thread::scope(|scope| {
        let workers: Vec<_> = syncs
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(PendingSync::run)))
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(io::Error::other("sync thread panicked")))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_installed_syncs_each_and_reports_a_missing_one() {
        let root = tempfile::tempdir().unwrap();
        let mut syncs = Vec::new();
        for i in 0..40 {
            let dir = root.path().join(format!("{i}"));
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("f"), b"x").unwrap();
            syncs.push(PendingSync::FileData(dir.join("f")));
            syncs.push(PendingSync::Directory(dir));
        }
        sync_installed(syncs.clone()).unwrap();
        sync_installed(Vec::new()).unwrap();
        let mut with_missing = syncs;
        with_missing.push(PendingSync::FileData(root.path().join("gone")));
        assert_eq!(
            sync_installed(with_missing).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[tokio::test]
    async fn small_blobs_are_synced_at_install_and_large_ones_by_their_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), 0).unwrap();
        // A chat message stays in memory, for the database.
        let chat = store.stage_bytes(b"a chat message").await.unwrap();
        assert_eq!(chat.id, BlobId(Sha256::digest(b"a chat message").into()));
        assert!(matches!(chat.source(), StagedSource::Memory(b) if &b[..] == b"a chat message"));
        let small_bytes = vec![3u8; MAX_INLINE as usize + 1];
        let small = store.stage_bytes(&small_bytes).await.unwrap();
        assert!(matches!(small.staged, Staged::File { synced: false, .. }));
        let large_bytes = vec![7u8; MAX_DEFERRED_SYNC as usize + 1];
        let large = store.stage_bytes(&large_bytes).await.unwrap();
        assert!(matches!(large.staged, Staged::File { synced: true, .. }));
        let mut w = store.writer().await.unwrap();
        w.write(b"streamed").await.unwrap();
        let streamed = w.finish().await.unwrap();
        assert!(matches!(
            streamed.staged,
            Staged::File { synced: false, .. }
        ));
        store.install_all(&[chat, small, large, streamed]).unwrap();
        assert!(!store
            .path(&BlobId(Sha256::digest(b"a chat message").into()))
            .exists());
        assert_eq!(
            std::fs::read(store.path(&BlobId(Sha256::digest(&small_bytes).into()))).unwrap(),
            small_bytes
        );
        assert_eq!(
            std::fs::read(store.path(&BlobId(Sha256::digest(&large_bytes).into()))).unwrap(),
            large_bytes
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    /// The same blob as a file and in memory.
    async fn both_readers(path: &Path, bytes: &[u8]) -> [BlobReader; 2] {
        [
            BlobReader::file(tokio::fs::File::open(path).await.unwrap()),
            BlobReader::memory(bytes::Bytes::copy_from_slice(bytes)),
        ]
    }

    #[tokio::test]
    async fn content_reader_returns_the_range_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let bytes: Vec<u8> = (0..(READ_WHOLE + READ_CHUNK + 7))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        for (offset, length) in [
            (0, 0),
            (3, 10),
            (0, READ_WHOLE),
            (1, READ_WHOLE + 1),
            (5, READ_WHOLE + READ_CHUNK),
        ] {
            for blob in both_readers(&path, &bytes).await {
                let mut reader = blob.content(offset, length).await;
                let mut got = Vec::new();
                let mut chunks = 0;
                while let Some(chunk) = reader.next_chunk().await {
                    let chunk = chunk.unwrap();
                    assert!(chunk.len() as u64 <= READ_WHOLE.max(READ_CHUNK));
                    got.extend_from_slice(&chunk);
                    chunks += 1;
                }
                let (o, l) = (offset as usize, length as usize);
                assert_eq!(got, bytes[o..o + l], "{offset}+{length}");
                let expected = if length <= READ_WHOLE {
                    usize::from(length > 0)
                } else {
                    l.div_ceil(READ_CHUNK as usize)
                };
                assert_eq!(chunks, expected, "{offset}+{length}");
            }
        }
        // Past the end of the blob: an error, then the end.
        for blob in both_readers(&path, &bytes).await {
            let mut reader = blob.content(bytes.len() as u64 - 2, 5).await;
            assert!(reader.next_chunk().await.unwrap().is_err());
            assert!(reader.next_chunk().await.is_none());
        }
    }

    #[tokio::test]
    async fn a_blob_reads_and_seeks_alike_from_a_file_and_from_memory() {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        for mut blob in both_readers(&path, &bytes).await {
            let mut head = [0u8; 100];
            blob.read_exact(&mut head).await.unwrap();
            assert_eq!(head[..], bytes[..100]);
            assert_eq!(
                blob.seek(std::io::SeekFrom::Start(9_990)).await.unwrap(),
                9_990
            );
            let mut tail = Vec::new();
            blob.read_to_end(&mut tail).await.unwrap();
            assert_eq!(tail, bytes[9_990..]);
        }
    }
}
