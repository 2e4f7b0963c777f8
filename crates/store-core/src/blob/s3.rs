//! Installed blobs in an S3-compatible object store (issue 20, `[blobs]
//! backend = "s3"`), through the `object_store` crate.
//!
//! A blob is still written to a local file under `tmp/` while its client
//! sends it ([`super::BlobWriter`]); the store's writer uploads it to
//! `blobs/ab/abcdef...` (the SHA-256 in hex, as the file layout names
//! files) when the group commit that records its first reference is built,
//! before the metadata commit, so the database never names an object the
//! object store does not hold. An object up to [`PART_BYTES`] is one PUT;
//! a larger one a multipart upload streamed from the file, at most
//! [`UPLOAD_PARTS_IN_FLIGHT`] parts in memory. Reads are ranged GETs
//! (RFC 9110 14, `Range: bytes=a-b`) of at most one chunk each, never of
//! the whole object.
//!
//! `object_store` is async and the writer is a std thread: every request
//! runs on this backend's own small multi-threaded runtime, awaited from
//! async callers through a join handle and waited for by the writer
//! thread (and by the sweep at open) with `block_on`, on a thread of its
//! own when the caller is itself inside a runtime, so no runtime worker is
//! ever blocked waiting for another.

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use super::BlobId;

/// Where the S3 backend stores blobs (`[blobs]` of the configuration).
/// Credentials not given here come from the standard AWS environment
/// variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT`).
#[derive(Clone, Default)]
pub struct S3Config {
    /// The endpoint URL (`https://s3.example.net`, `http://127.0.0.1:9000`);
    /// `None`: AWS's own for the region.
    pub endpoint: Option<String>,
    /// The bucket, which must exist.
    pub bucket: String,
    /// The region (`us-east-1` when neither this nor `AWS_REGION` says).
    pub region: Option<String>,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
    /// Whether a plain `http://` endpoint is allowed (a loopback test
    /// server); otherwise only HTTPS.
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self
                    .secret_access_key
                    .as_ref()
                    .map(|_| crate::password::REDACTED),
            )
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// Objects up to this many bytes are uploaded with one PUT; larger ones in
/// parts of this size (S3's smallest multipart part but the last, 5 MiB:
/// the least memory per upload).
pub const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts of one multipart upload in flight at once: its memory is at most
/// this many parts plus the one being filled.
pub const UPLOAD_PARTS_IN_FLIGHT: usize = 2;
/// Bytes one [`S3Read`] GET asks for when it streams (`AsyncRead`).
const READ_AHEAD: u64 = 1024 * 1024;
/// Blobs of one group commit uploaded at once.
const UPLOADS_IN_FLIGHT: usize = 8;

/// The S3 backend of a [`super::BlobStore`].
pub(crate) struct S3Blobs {
    store: Arc<AmazonS3>,
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Blobs({})", self.store)
    }
}

impl Drop for S3Blobs {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `object_store`'s error as an I/O error: a missing object is `NotFound`,
/// as a missing blob file is.
fn io_error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        other => io::Error::other(other),
    }
}

/// The object key of blob `id`: `blobs/ab/abcdef...`.
pub(crate) fn key(id: &BlobId) -> ObjectPath {
    let hex = id.to_hex();
    ObjectPath::from(format!("blobs/{}/{hex}", &hex[..2]))
}

impl S3Blobs {
    /// Connects to the bucket of `config` (no request is made yet).
    ///
    /// Errors: the settings are invalid (a bad URL, no bucket), or the
    /// runtime's threads cannot be started.
    pub(crate) fn open(config: &S3Config) -> io::Result<S3Blobs> {
        // reqwest's TLS takes the process's rustls provider: the ring one
        // the workspace uses, unless one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_allow_http(config.allow_http)
            .with_retry(object_store::RetryConfig {
                // A refusing or absent server fails the commit within
                // seconds (IMAP NO), not after the default 3 minutes.
                max_retries: 3,
                retry_timeout: Duration::from_secs(10),
                ..Default::default()
            });
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cpm-s3")
            .enable_all()
            .build()?;
        Ok(S3Blobs {
            store: Arc::new(store),
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// Runs `fut` on the backend's runtime and waits for it from a
    /// synchronous caller (the writer thread, the sweep at open).
    fn block_on<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = io::Result<T>> + Send + 'static,
    ) -> io::Result<T> {
        let task = self.handle.spawn(fut);
        let handle = &self.handle;
        let wait = move || {
            handle
                .block_on(task)
                .unwrap_or_else(|e| Err(io::Error::other(e)))
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // block_on panics on a runtime's thread: wait on one of our own.
            std::thread::scope(|s| {
                s.spawn(wait)
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("S3 wait panicked")))
            })
        } else {
            wait()
        }
    }

    /// Runs `fut` on the backend's runtime, at once, for an async caller
    /// to await: the future returned holds only the task's handle, so it
    /// is `Send + Sync` whatever `fut` is (a response body holds it).
    fn run<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = io::Result<T>> + Send + 'static,
    ) -> impl std::future::Future<Output = io::Result<T>> + Send + Sync + 'static {
        let task = self.handle.spawn(fut);
        async move { task.await.unwrap_or_else(|e| Err(io::Error::other(e))) }
    }

    /// Makes the staged files `files` (path, blob id, size, uploaded
    /// already) objects, several at once, and returns when every one is
    /// durable in the object store (S3 acknowledges a PUT or a multipart
    /// completion only once it is): one uploaded already is only checked
    /// (a HEAD request) and uploaded again if it is gone (another node's
    /// sweep or deletion removed it before this writer's turn).
    ///
    /// Errors: the first upload that failed (a refusing or unreachable
    /// server, the file unreadable); the others are not waited for.
    pub(crate) fn upload_all(
        &self,
        files: Vec<(std::path::PathBuf, BlobId, u64, bool)>,
    ) -> io::Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let store = self.store.clone();
        self.block_on(async move {
            let mut tasks = tokio::task::JoinSet::new();
            let mut files = files.into_iter();
            loop {
                while tasks.len() < UPLOADS_IN_FLIGHT {
                    let Some((path, id, size, uploaded)) = files.next() else {
                        break;
                    };
                    let store = store.clone();
                    tasks.spawn(async move {
                        if uploaded {
                            match store.head(&key(&id)).await {
                                Ok(_) => return Ok(()),
                                Err(object_store::Error::NotFound { .. }) => {}
                                Err(e) => return Err(io_error(e)),
                            }
                        }
                        upload(&store, &path, &id, size).await
                    });
                }
                match tasks.join_next().await {
                    None => return Ok(()),
                    Some(Ok(Ok(()))) => {}
                    Some(Ok(Err(e))) => return Err(e),
                    Some(Err(e)) => return Err(io::Error::other(e)),
                }
            }
        })
    }

    /// Uploads the staged file `path` as blob `id`'s object (`size`
    /// bytes), for an async caller (a session staging a blob).
    ///
    /// Errors: the server refused or could not be reached; the file.
    pub(crate) fn upload(
        &self,
        path: std::path::PathBuf,
        id: BlobId,
        size: u64,
    ) -> impl std::future::Future<Output = io::Result<()>> + Send + Sync + 'static {
        let store = self.store.clone();
        self.run(async move { upload(&store, &path, &id, size).await })
    }

    /// Deletes blob `id`'s object (a missing one is not an error).
    ///
    /// Errors: the server refused or could not be reached.
    pub(crate) fn delete(&self, id: &BlobId) -> io::Result<()> {
        let (store, key) = (self.store.clone(), key(id));
        self.block_on(async move {
            match store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(io_error(e)),
            }
        })
    }

    /// Every blob id with an object under `blobs/` (for the sweep at open).
    ///
    /// Errors: the listing failed.
    pub(crate) fn list(&self) -> io::Result<Vec<BlobId>> {
        let store = self.store.clone();
        self.block_on(async move {
            let prefix = ObjectPath::from("blobs");
            let metas: Vec<_> = store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(io_error)?;
            Ok(metas
                .iter()
                .filter_map(|m| m.location.filename().and_then(BlobId::from_hex))
                .collect())
        })
    }

    /// Streams blob `id`'s object into the new file `to` (mode 0600),
    /// synced; its size, or `None` when there is no such object. Blocking.
    ///
    /// Errors: the server's; the file cannot be created or written.
    pub(crate) fn download(&self, id: &BlobId, to: &std::path::Path) -> io::Result<Option<u64>> {
        let (store, key, to) = (self.store.clone(), key(id), to.to_path_buf());
        self.block_on(async move {
            use futures_util::StreamExt;
            use tokio::io::AsyncWriteExt;
            let got = match store.get(&key).await {
                Ok(got) => got,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(io_error(e)),
            };
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(super::PRIVATE_FILE)
                .open(&to)
                .await?;
            let mut stream = got.into_stream();
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(io_error)?;
                file.write_all(&chunk).await?;
                size += chunk.len() as u64;
            }
            file.sync_all().await?;
            Ok(Some(size))
        })
    }

    /// Whether blob `id` has an object (a HEAD request).
    ///
    /// Errors: the server refused or could not be reached.
    pub(crate) async fn exists(&self, id: &BlobId) -> io::Result<bool> {
        match self.size(id).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The size in bytes of blob `id`'s object and its first `want(size)`
    /// bytes (a HEAD request and one ranged GET), for a synchronous caller
    /// (the format upgrade at open). Blocking.
    ///
    /// Errors: `NotFound` when there is none; the server's.
    pub(crate) fn read_prefix(
        &self,
        id: &BlobId,
        want: impl FnOnce(u64) -> u64 + Send + 'static,
    ) -> io::Result<(u64, bytes::Bytes)> {
        let (store, key) = (self.store.clone(), key(id));
        self.block_on(async move {
            let size = store.head(&key).await.map_err(io_error)?.size;
            let want = want(size).min(size);
            if want == 0 {
                return Ok((size, bytes::Bytes::new()));
            }
            let bytes = store.get_range(&key, 0..want).await.map_err(io_error)?;
            if bytes.len() as u64 != want {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            Ok((size, bytes))
        })
    }

    /// The size in bytes of blob `id`'s object (a HEAD request).
    ///
    /// Errors: `NotFound` when there is none; the server's.
    pub(crate) fn size(
        &self,
        id: &BlobId,
    ) -> impl std::future::Future<Output = io::Result<u64>> + Send + Sync + 'static {
        let (store, key) = (self.store.clone(), key(id));
        self.run(async move { Ok(store.head(&key).await.map_err(io_error)?.size) })
    }

    /// Bytes `range` of blob `id` (one ranged GET); an empty range costs
    /// no request.
    ///
    /// Errors: the object is missing (`NotFound`) or shorter than the range
    /// (`UnexpectedEof`); the server's.
    pub(crate) fn get_range(
        &self,
        id: &BlobId,
        range: Range<u64>,
    ) -> impl std::future::Future<Output = io::Result<bytes::Bytes>> + Send + Sync + 'static {
        let (store, key) = (self.store.clone(), key(id));
        let want = range.end.saturating_sub(range.start);
        self.run(async move {
            if want == 0 {
                return Ok(bytes::Bytes::new());
            }
            let bytes = store.get_range(&key, range).await.map_err(io_error)?;
            // A range that ends past the object gets what there is.
            if bytes.len() as u64 != want {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            Ok(bytes)
        })
    }
}

/// Uploads the file `path` (`size` bytes) as blob `id`'s object: one PUT
/// up to [`PART_BYTES`], else a multipart upload streamed from the file,
/// aborted on failure (no part is left behind).
async fn upload(
    store: &AmazonS3,
    path: &std::path::Path,
    id: &BlobId,
    size: u64,
) -> io::Result<()> {
    let key = key(id);
    let mut file = tokio::fs::File::open(path).await?;
    if size <= PART_BYTES as u64 {
        let mut bytes = Vec::with_capacity(usize::try_from(size).map_err(io::Error::other)?);
        (&mut file).take(size).read_to_end(&mut bytes).await?;
        if bytes.len() as u64 != size {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        store
            .put(&key, PutPayload::from(bytes))
            .await
            .map_err(io_error)?;
        return Ok(());
    }
    let upload = store.put_multipart(&key).await.map_err(io_error)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let streamed = async {
        let mut buf = vec![0u8; 1024 * 1024];
        let mut sent = 0u64;
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            writer
                .wait_for_capacity(UPLOAD_PARTS_IN_FLIGHT)
                .await
                .map_err(io_error)?;
            writer.write(&buf[..n]);
            sent += n as u64;
        }
        if sent != size {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        Ok(())
    }
    .await;
    match streamed {
        Ok(()) => writer.finish().await.map(|_| ()).map_err(io_error),
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

/// A blob object being read as a stream (`AsyncRead + AsyncSeek`): ranged
/// GETs of [`READ_AHEAD`] bytes from the position, one at a time.
pub(crate) struct S3Read {
    blobs: Arc<S3Blobs>,
    id: BlobId,
    size: u64,
    /// The next byte to return.
    pos: u64,
    /// Bytes fetched, starting at `buffered_at`.
    buffered: bytes::Bytes,
    buffered_at: u64,
    pending: Option<tokio::task::JoinHandle<io::Result<bytes::Bytes>>>,
}

impl std::fmt::Debug for S3Read {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Read({:?} at {} of {})", self.id, self.pos, self.size)
    }
}

impl S3Read {
    /// A reader of blob `id` (`size` bytes) from its first byte.
    pub(crate) fn new(blobs: Arc<S3Blobs>, id: BlobId, size: u64) -> S3Read {
        S3Read {
            blobs,
            id,
            size,
            pos: 0,
            buffered: bytes::Bytes::new(),
            buffered_at: 0,
            pending: None,
        }
    }

    /// The backend and blob, for a [`super::ContentReader`].
    pub(crate) fn into_parts(self) -> (Arc<S3Blobs>, BlobId) {
        (self.blobs.clone(), self.id)
    }
}

impl Drop for S3Read {
    fn drop(&mut self) {
        if let Some(task) = self.pending.take() {
            task.abort();
        }
    }
}

impl tokio::io::AsyncRead for S3Read {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        use std::task::Poll;
        let this = self.get_mut();
        loop {
            if this.pos >= this.size || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let end = this.buffered_at + this.buffered.len() as u64;
            if this.pos >= this.buffered_at && this.pos < end {
                let from = (this.pos - this.buffered_at) as usize;
                let n = buf.remaining().min(this.buffered.len() - from);
                buf.put_slice(&this.buffered[from..from + n]);
                this.pos += n as u64;
                return Poll::Ready(Ok(()));
            }
            if this.pending.is_none() {
                let start = this.pos;
                let range = start..this.size.min(start.saturating_add(READ_AHEAD));
                let (store, key) = (this.blobs.store.clone(), key(&this.id));
                this.buffered = bytes::Bytes::new();
                this.buffered_at = start;
                this.pending = Some(this.blobs.handle.spawn(async move {
                    let want = range.end - range.start;
                    let bytes = store.get_range(&key, range).await.map_err(io_error)?;
                    if bytes.len() as u64 != want {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    Ok(bytes)
                }));
            }
            let Some(task) = this.pending.as_mut() else {
                continue;
            };
            let fetched = match std::pin::Pin::new(task).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r.unwrap_or_else(|e| Err(io::Error::other(e))),
            };
            this.pending = None;
            this.buffered = fetched?;
        }
    }
}

impl tokio::io::AsyncSeek for S3Read {
    fn start_seek(self: std::pin::Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        let target = match position {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::End(d) => this.size.checked_add_signed(d),
            io::SeekFrom::Current(d) => this.pos.checked_add_signed(d),
        };
        let Some(target) = target else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the blob",
            ));
        };
        if let Some(task) = this.pending.take() {
            task.abort();
        }
        this.pos = target;
        Ok(())
    }

    fn poll_complete(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<u64>> {
        std::task::Poll::Ready(Ok(self.pos))
    }
}

use std::future::Future as _;
