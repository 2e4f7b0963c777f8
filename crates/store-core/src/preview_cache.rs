//! The preview cache: thumbnails made by [`crate::Store::preview`], kept
//! under `{data_dir}/previews/{blob}/` and bounded in total bytes.
//!
//! - Total size: at most the configured number of bytes (`[store]
//!   preview_cache_bytes`); past it, the least recently used previews are
//!   removed first. The index of sizes and last uses is kept in memory and
//!   rebuilt from the files at open (last use = the file's modification
//!   time then).
//! - Life: a blob's previews go with the blob's file, when its last
//!   reference is removed ([`crate::blob::BlobStore`] calls
//!   [`PreviewCache::remove_blob`]); previews of blobs that no longer exist
//!   are removed at open.
//!
//! The methods do file I/O under one lock: call them from a blocking
//! context (the writer thread, `spawn_blocking`).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::blob::BlobId;

/// The bounded cache of preview files.
#[derive(Debug)]
pub(crate) struct PreviewCache {
    root: PathBuf,
    limit: u64,
    index: Mutex<Index>,
}

/// One cached file: its size and when it was last used.
#[derive(Debug, Clone, Copy)]
struct Entry {
    size: u64,
    used: u64,
}

#[derive(Debug, Default)]
struct Index {
    /// Every cached file, by path.
    files: HashMap<PathBuf, Entry>,
    /// The same files by last use (a tick), oldest first.
    by_use: BTreeMap<u64, PathBuf>,
    /// Bytes of every cached file.
    total: u64,
    /// The next last-use tick.
    tick: u64,
}

impl Index {
    fn insert(&mut self, path: PathBuf, size: u64) {
        self.remove(&path);
        let used = self.next_tick();
        self.by_use.insert(used, path.clone());
        self.files.insert(path, Entry { size, used });
        self.total += size;
    }

    fn remove(&mut self, path: &Path) -> Option<Entry> {
        let entry = self.files.remove(path)?;
        self.by_use.remove(&entry.used);
        self.total -= entry.size;
        Some(entry)
    }

    fn touch(&mut self, path: &Path) {
        let tick = self.next_tick();
        if let Some(entry) = self.files.get_mut(path) {
            if let Some(p) = self.by_use.remove(&entry.used) {
                self.by_use.insert(tick, p);
            }
            entry.used = tick;
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

impl PreviewCache {
    /// Opens the cache under `data_dir/previews`, holding at most `limit`
    /// bytes (0: nothing is cached). Indexes what an earlier run left,
    /// removes previews of blobs `blob_exists` denies and files of an older
    /// layout, and evicts down to `limit`.
    ///
    /// Errors: the directory cannot be created or read.
    pub fn open(
        data_dir: &Path,
        limit: u64,
        blob_exists: impl Fn(&BlobId) -> bool,
    ) -> io::Result<PreviewCache> {
        let root = data_dir.join("previews");
        crate::blob::create_private_dir(&root)?;
        let mut found = Vec::new();
        for dir in std::fs::read_dir(&root)? {
            let dir = dir?;
            let path = dir.path();
            let blob = dir.file_name().to_str().and_then(BlobId::from_hex);
            let keep = dir.file_type()?.is_dir() && blob.as_ref().is_some_and(&blob_exists);
            if !keep {
                remove_any(&path);
                continue;
            }
            for file in std::fs::read_dir(&path)? {
                let file = file?;
                let meta = file.metadata()?;
                let name = file.file_name();
                if !meta.is_file() || name.to_string_lossy().starts_with(".tmp-") {
                    remove_any(&file.path());
                    continue;
                }
                let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                found.push((modified, file.path(), meta.len()));
            }
        }
        found.sort();
        let cache = PreviewCache {
            root,
            limit,
            index: Mutex::new(Index::default()),
        };
        {
            let mut index = cache.lock();
            for (_, path, size) in found {
                index.insert(path, size);
            }
            cache.evict(&mut index);
        }
        Ok(cache)
    }

    /// The file of blob `blob`'s preview named `name` (part, size and
    /// format, e.g. `0-128x128.png`).
    pub fn path(&self, blob: &BlobId, name: &str) -> PathBuf {
        self.root.join(blob.to_hex()).join(name)
    }

    /// The cached preview at `path`, marked as just used; `None` when it
    /// is not cached.
    pub fn get(&self, path: &Path) -> Option<Vec<u8>> {
        let mut index = self.lock();
        index.files.get(path)?;
        match std::fs::read(path) {
            Ok(bytes) => {
                index.touch(path);
                Some(bytes)
            }
            Err(_) => {
                index.remove(path);
                None
            }
        }
    }

    /// Caches `bytes` as the preview at `path` of blob `blob`, then removes
    /// the least recently used previews until the cache fits its limit. A
    /// preview larger than the whole limit, or of a blob whose file is gone
    /// (`blob_exists` says no: removed while the preview was made), is not
    /// kept. A failure only loses the cache entry (logged).
    pub fn put(&self, blob: &BlobId, path: &Path, bytes: &[u8], blob_exists: impl Fn() -> bool) {
        if bytes.len() as u64 > self.limit {
            return;
        }
        let Some(dir) = path.parent() else { return };
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let mut index = self.lock();
        if !blob_exists() {
            return;
        }
        let written = crate::blob::create_private_dir(dir)
            .and_then(|()| write_private(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(error = %e, blob = %blob.to_hex(), "could not cache a preview");
            return;
        }
        index.insert(path.to_path_buf(), bytes.len() as u64);
        self.evict(&mut index);
    }

    /// Removes every preview of blob `blob` (its file is being removed).
    pub fn remove_blob(&self, blob: &BlobId) {
        let dir = self.root.join(blob.to_hex());
        let mut index = self.lock();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            index.remove(&entry.path());
        }
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(error = %e, blob = %blob.to_hex(), "could not remove the previews of a removed blob");
            }
        }
    }

    /// Bytes of every cached preview.
    #[cfg(test)]
    pub fn total_bytes(&self) -> u64 {
        self.lock().total
    }

    fn evict(&self, index: &mut Index) {
        while index.total > self.limit {
            let Some((_, path)) = index.by_use.pop_first() else {
                break;
            };
            if let Some(entry) = index.files.remove(&path) {
                index.total -= entry.size;
            }
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(error = %e, path = %path.display(), "could not evict a preview");
                }
            }
            if let Some(dir) = path.parent() {
                // Succeeds only once the blob's last preview is gone.
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(crate::blob::PRIVATE_FILE)
        .open(path)?;
    file.write_all(bytes)
}

fn remove_any(path: &Path) {
    let result = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, path = %path.display(), "could not remove a stale preview");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PreviewCache::open(dir.path(), 250, |_| true).unwrap();
        let blob = BlobId([7; 32]);
        let a = cache.path(&blob, "a");
        let b = cache.path(&blob, "b");
        let c = cache.path(&blob, "c");
        cache.put(&blob, &a, &[1; 100], || true);
        cache.put(&blob, &b, &[2; 100], || true);
        assert!(cache.get(&a).is_some(), "a is used again");
        cache.put(&blob, &c, &[3; 100], || true);
        assert_eq!(cache.total_bytes(), 200);
        assert!(cache.get(&b).is_none(), "b was the least recently used");
        assert!(!b.exists());
        assert!(cache.get(&a).is_some() && cache.get(&c).is_some());
        // Too big for the whole cache: not kept.
        cache.put(&blob, &b, &[4; 300], || true);
        assert!(cache.get(&b).is_none());
        // The blob goes: so do its previews.
        cache.remove_blob(&blob);
        assert_eq!(cache.total_bytes(), 0);
        assert!(!a.parent().unwrap().exists());
        // A preview of a blob removed meanwhile is not kept.
        cache.put(&blob, &a, &[1; 10], || false);
        assert!(!a.exists());
    }

    #[test]
    fn reopening_indexes_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, gone) = (BlobId([1; 32]), BlobId([2; 32]));
        {
            let cache = PreviewCache::open(dir.path(), 1000, |_| true).unwrap();
            cache.put(&kept, &cache.path(&kept, "x"), &[0; 300], || true);
            cache.put(&gone, &cache.path(&gone, "x"), &[0; 300], || true);
        }
        std::fs::write(dir.path().join("previews/old-layout.png"), b"x").unwrap();
        let cache = PreviewCache::open(dir.path(), 1000, |b| *b == kept).unwrap();
        assert_eq!(cache.total_bytes(), 300);
        assert!(cache.get(&cache.path(&kept, "x")).is_some());
        assert!(!dir.path().join("previews").join(gone.to_hex()).exists());
        assert!(!dir.path().join("previews/old-layout.png").exists());
        let small = PreviewCache::open(dir.path(), 100, |_| true).unwrap();
        assert_eq!(small.total_bytes(), 0);
    }
}
