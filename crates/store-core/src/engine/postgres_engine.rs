//! The PostgreSQL metadata engine (ARCHITECTURE.md, "Engine", "PostgreSQL
//! engine"; issue 20, first step): the same ordered key-value contract as
//! the embedded redb engine, in one table `kv (k bytea PRIMARY KEY, v bytea
//! NOT NULL)`.
//!
//! The [`Engine`] trait is synchronous (the store's writer runs on its own
//! thread, reads on tokio workers), so the engine owns a small tokio runtime
//! of its own: every call spawns its work there and blocks the caller on a
//! channel for the answer, whatever runtime (or none) the caller runs in.
//! Connections come from a deadpool-postgres pool.
//!
//! - [`Engine::snapshot`]: a pooled connection holding `BEGIN ISOLATION
//!   LEVEL REPEATABLE READ READ ONLY` for the snapshot's life (rolled back
//!   and returned to the pool when it is dropped).
//! - [`Engine::commit`]: one transaction (deletes by `k = ANY($1)`, upserts
//!   by `unnest` ... `ON CONFLICT (k) DO UPDATE`, both in chunks), returning
//!   after `COMMIT`, which with `synchronous_commit` on (PostgreSQL's
//!   default, set again per session) is durable.
//! - Bounded: `statement_timeout` on every session, a deadline on every
//!   call, the pool's size, wait and connect timeouts.
//!
//! The schema is versioned: [`MIGRATIONS`] is applied at open, in one
//! transaction, serialized between nodes by a transaction-level advisory
//! lock (where the server has one) and by the row lock of the version
//! table; a database whose schema is newer than this binary is refused.
//!
//! One process writes to a database at a time (this step is single-node):
//! the engine holds a session advisory lock on a connection of its own
//! while it is open, a second process is refused at open ("in use"), and
//! commits stop while that connection is lost until [`Engine::recover`]
//! takes the lock again.
//!
//! Errors: a lost connection, a server shutting down or restarting, a
//! timeout or an exhausted pool are [`EngineErrorKind::Io`] (the store
//! answers "unavailable"; the pool reconnects on the next call); a full
//! disk (SQLSTATE 53100) is [`EngineErrorKind::StorageFull`]; anything
//! else [`EngineErrorKind::Other`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use super::{Engine, EngineError, EngineErrorKind, KeyValue, Snapshot, WriteBatch};

/// The schema, one SQL text per version (version N is `MIGRATIONS[N - 1]`),
/// applied in order at open. Never edit a released entry: append.
///
/// Kept to SQL that CockroachDB and YugabyteDB accept too (`bytea`,
/// `CREATE TABLE IF NOT EXISTS`).
pub const MIGRATIONS: &[&str] = &[
    // 1: every key of the store (crate::keys gives them their structure).
    "CREATE TABLE IF NOT EXISTS kv (k bytea PRIMARY KEY, v bytea NOT NULL)",
];

/// The advisory lock key that serializes migrations between nodes
/// ("cpmstore" in ASCII).
const MIGRATION_LOCK: i64 = 0x6370_6d73_746f_7265;

/// The session advisory lock the one writing process holds for as long as
/// its engine is open ("cpmwrite" in ASCII).
const WRITER_LOCK: i64 = 0x6370_6d77_7269_7465;

/// How long [`PostgresEngine::open`] waits for the writer lock a process
/// that just stopped may still hold (its server session ends a moment
/// after its connection closes).
const WRITER_LOCK_WAIT: Duration = Duration::from_secs(5);

/// Most rows in one statement of a commit; a larger batch is split into
/// several statements of the same transaction.
const CHUNK_ROWS: usize = 1000;

/// Most key and value bytes in one statement of a commit.
const CHUNK_BYTES: usize = 8 << 20;

/// Settings of a [`PostgresEngine`] (`[store] postgres_url`,
/// `postgres_pool_size`, `postgres_timeout_seconds`).
#[derive(Clone)]
pub struct PostgresSettings {
    /// A libpq connection string: a URL
    /// (`postgresql://user[:password]@host:port/database?options`) or
    /// `key=value` pairs. Without a password in it, the environment
    /// variable `PGPASSWORD` gives it, as for libpq.
    pub url: String,
    /// Most connections the pool opens (each snapshot holds one while it
    /// lives). At least 2: the writer and a reader.
    pub pool_size: usize,
    /// The longest a statement runs (`statement_timeout`), a connection
    /// takes to open, or a call waits for a pooled connection; a call as a
    /// whole is given twice as long.
    pub timeout: Duration,
}

impl std::fmt::Debug for PostgresSettings {
    /// The URL with its password redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `url` with any password in it replaced by `<redacted>`: the
/// `user:password@` of a URL, a `password=` query parameter, or a
/// `password=` pair of the `key=value` form.
pub fn redact_url(url: &str) -> String {
    let redacted = crate::password::REDACTED;
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let authority_end = out[rest..].find(['/', '?']).map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@') {
            let userinfo = &out[rest..rest + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest + colon + 1..rest + at, redacted);
            }
        }
    }
    // `password=...` as a query parameter or a key=value pair.
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("password=") {
        let before = &rest[..i];
        let boundary = before.is_empty() || before.ends_with(['?', '&', ' ', '\t']);
        result.push_str(before);
        result.push_str("password=");
        let value = &rest[i + "password=".len()..];
        if !boundary {
            rest = value;
            continue;
        }
        let end = if let Some(quoted) = value.strip_prefix('\'') {
            quoted.find('\'').map_or(value.len(), |j| j + 2)
        } else {
            value.find(['&', ' ', '\t']).unwrap_or(value.len())
        };
        result.push_str(redacted);
        rest = &value[end..];
    }
    result.push_str(rest);
    result
}

/// The PostgreSQL engine: a connection pool and the runtime it runs on.
pub struct PostgresEngine {
    /// `Some` until drop, which shuts it down without waiting.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    /// The deadline of one call ([`PostgresSettings::timeout`] twice).
    deadline: Duration,
    lock: Arc<WriterLock>,
}

/// One writing process per database (this step is single-node: the
/// writer's counters are read-modify-write): a session advisory lock held
/// on a connection of its own, outside the pool. Commits are refused while
/// it is lost (the connection closed, e.g. the server restarted) until
/// [`Engine::recover`] takes it again.
struct WriterLock {
    config: tokio_postgres::Config,
    /// The connection holding the lock; `None` before it is taken.
    client: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
    /// The server has no session advisory locks (CockroachDB, YugabyteDB
    /// before 2.25): nothing is held, said at open.
    unsupported: std::sync::atomic::AtomicBool,
}

impl WriterLock {
    /// Whether commits may go on: the lock is held on a live connection
    /// (or the server has no such locks).
    async fn check(&self) -> Result<(), EngineError> {
        if self.unsupported.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        match &*self.client.lock().await {
            Some(client) if !client.is_closed() => Ok(()),
            _ => Err(io_error(
                "postgresql: the connection holding the writer lock was lost; \
                 writes resume once it is taken again",
            )),
        }
    }

    /// Takes the lock on a new connection unless held, waiting up to
    /// `wait` for a process that just stopped.
    ///
    /// Errors: another process holds it past `wait`
    /// ([`EngineErrorKind::Other`], "in use"); the server cannot be
    /// reached ([`EngineErrorKind::Io`]).
    async fn acquire(&self, wait: Duration) -> Result<(), EngineError> {
        if self.check().await.is_ok() {
            return Ok(());
        }
        let (client, connection) = self.config.connect(NoTls).await.map_err(classify)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the PostgreSQL connection holding the writer lock ended");
            }
        });
        let started = tokio::time::Instant::now();
        loop {
            let taken = match client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK])
                .await
            {
                Ok(row) => row.try_get::<_, bool>(0).map_err(classify)?,
                Err(e)
                    if e.code().is_some_and(|c| {
                        *c == SqlState::UNDEFINED_FUNCTION || *c == SqlState::FEATURE_NOT_SUPPORTED
                    }) =>
                {
                    tracing::warn!(
                        error = %e,
                        "the server has no session advisory locks: nothing stops a second \
                         cpm-store process from writing to this database; run one"
                    );
                    self.unsupported
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) => return Err(classify(e)),
            };
            if taken {
                *self.client.lock().await = Some(client);
                return Ok(());
            }
            if started.elapsed() >= wait {
                return Err(EngineError {
                    message: "the PostgreSQL database is in use by another cpm-store process \
                              (it holds the writer lock; one process writes at a time)"
                        .into(),
                    kind: EngineErrorKind::Other,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl std::fmt::Debug for PostgresEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresEngine").finish_non_exhaustive()
    }
}

impl Drop for PostgresEngine {
    fn drop(&mut self) {
        // A runtime dropped inside another one panics; this does not wait.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Classifies a PostgreSQL error by its SQLSTATE (PostgreSQL manual,
/// appendix A): class 08 (connection exception), 57P01..57P03 (shutdown,
/// crash, cannot connect now), 57014 (statement timeout), 53200/53300
/// (out of memory, too many connections), 40001/40P01 (serialization
/// failure, deadlock), 25006 (a read-only standby after a failover), and
/// an error with no SQLSTATE (the connection itself failed) are
/// [`EngineErrorKind::Io`]; 53100 (disk full) is
/// [`EngineErrorKind::StorageFull`].
fn classify(e: tokio_postgres::Error) -> EngineError {
    let kind = match e.code() {
        None => EngineErrorKind::Io,
        Some(code) if *code == SqlState::DISK_FULL => EngineErrorKind::StorageFull,
        Some(code)
            if code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::QUERY_CANCELED
                || *code == SqlState::OUT_OF_MEMORY
                || *code == SqlState::TOO_MANY_CONNECTIONS
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::READ_ONLY_SQL_TRANSACTION =>
        {
            EngineErrorKind::Io
        }
        Some(_) => EngineErrorKind::Other,
    };
    let message = match e.as_db_error() {
        Some(db) => format!(
            "postgresql: {} (SQLSTATE {})",
            db.message(),
            db.code().code()
        ),
        None => format!("postgresql: {e}"),
    };
    EngineError { message, kind }
}

/// A pool failure: the server cannot be reached or no connection came in
/// time ([`EngineErrorKind::Io`]), or the one below it.
fn classify_pool(e: deadpool_postgres::PoolError) -> EngineError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => classify(e),
        e => EngineError {
            message: format!("postgresql pool: {e}"),
            kind: EngineErrorKind::Io,
        },
    }
}

fn io_error(message: impl Into<String>) -> EngineError {
    EngineError {
        message: message.into(),
        kind: EngineErrorKind::Io,
    }
}

/// Runs `work` on the engine's runtime and waits for its answer, at most
/// `deadline` ([`EngineErrorKind::Io`] past it, or once the runtime is
/// gone). Works from a plain thread and from inside any tokio runtime.
fn run<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    deadline: Duration,
    work: impl Future<Output = Result<T, EngineError>> + Send + 'static,
) -> Result<T, EngineError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let result = match tokio::time::timeout(deadline, work).await {
            Ok(result) => result,
            Err(_) => Err(io_error(format!(
                "postgresql: no answer within {} s",
                deadline.as_secs()
            ))),
        };
        let _ = tx.send(result);
    });
    rx.recv()
        .map_err(|_| io_error("postgresql: the engine is shut down"))?
}

/// The key just past every key that starts with `prefix` (`None` when
/// there is none: `prefix` is empty or all 0xFF).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl PostgresEngine {
    /// Connects to the database of `settings.url`, creates or migrates its
    /// schema ([`MIGRATIONS`]) and returns the engine.
    ///
    /// Errors: the URL does not parse ([`EngineErrorKind::Other`]); the
    /// server cannot be reached or refuses the login
    /// ([`EngineErrorKind::Io`]); the database's schema is newer than this
    /// binary's (both versions named, [`EngineErrorKind::Other`]).
    pub fn open(settings: &PostgresSettings) -> Result<Self, EngineError> {
        let mut config: tokio_postgres::Config = settings.url.parse().map_err(|e| EngineError {
            message: format!("[store] postgres_url {}: {e}", redact_url(&settings.url)),
            kind: EngineErrorKind::Other,
        })?;
        if config.get_password().is_none() {
            if let Ok(password) = std::env::var("PGPASSWORD") {
                config.password(password);
            }
        }
        if config.get_user().is_none() {
            if let Ok(user) = std::env::var("USER") {
                config.user(user);
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(settings.timeout);
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        config.application_name("cpm-store");
        let session = format!(
            "-c statement_timeout={} -c synchronous_commit=on -c client_min_messages=warning",
            settings.timeout.as_millis().max(1)
        );
        let options = match config.get_options() {
            Some(existing) if !existing.is_empty() => format!("{existing} {session}"),
            _ => session,
        };
        config.options(options);

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cpm-postgres")
            .enable_all()
            .build()
            .map_err(|e| EngineError::from_io(&e))?;
        let lock = Arc::new(WriterLock {
            config: config.clone(),
            client: tokio::sync::Mutex::new(None),
            unsupported: std::sync::atomic::AtomicBool::new(false),
        });
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size.max(2))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(settings.timeout))
            .create_timeout(Some(settings.timeout))
            .recycle_timeout(Some(settings.timeout))
            .build()
            .map_err(EngineError::from_display)?;
        let engine = PostgresEngine {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
            deadline: settings.timeout.saturating_mul(2),
            lock,
        };
        engine.migrate()?;
        let lock = engine.lock.clone();
        let wait = WRITER_LOCK_WAIT.min(settings.timeout);
        run(&engine.handle, engine.deadline, async move {
            lock.acquire(wait).await
        })?;
        Ok(engine)
    }

    /// The schema version of the database (0 before the first migration).
    ///
    /// Errors: as [`Engine::snapshot`].
    pub fn schema_version(&self) -> Result<i32, EngineError> {
        let pool = self.pool.clone();
        run(&self.handle, self.deadline, async move {
            let client = pool.get().await.map_err(classify_pool)?;
            let exists = client
                .query_one(
                    "SELECT count(*) FROM information_schema.tables \
                     WHERE table_name = 'cpm_store_schema' AND table_schema = current_schema()",
                    &[],
                )
                .await
                .map_err(classify)?;
            if exists.get::<_, i64>(0) == 0 {
                return Ok(0);
            }
            let row = client
                .query_opt("SELECT version FROM cpm_store_schema", &[])
                .await
                .map_err(classify)?;
            Ok(row.map_or(0, |r| r.get::<_, i32>(0)))
        })
    }

    /// Applies the migrations this database lacks, in one transaction.
    fn migrate(&self) -> Result<(), EngineError> {
        let pool = self.pool.clone();
        let attempt = move |advisory: bool| {
            let pool = pool.clone();
            async move {
                let mut client = pool.get().await.map_err(classify_pool)?;
                let txn = client.transaction().await.map_err(classify)?;
                if advisory {
                    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                        .await
                        .map_err(classify)?;
                }
                txn.batch_execute(
                    "CREATE TABLE IF NOT EXISTS cpm_store_schema (version int NOT NULL)",
                )
                .await
                .map_err(classify)?;
                let row = txn
                    .query_opt("SELECT version FROM cpm_store_schema FOR UPDATE", &[])
                    .await
                    .map_err(classify)?;
                let current = row.as_ref().map_or(0, |r| r.get::<_, i32>(0));
                let latest = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
                if current > latest {
                    return Err(EngineError {
                        message: format!(
                            "the PostgreSQL schema is at version {current}, newer than this \
                             binary's {latest}: run a cpm-store at least as new"
                        ),
                        kind: EngineErrorKind::Other,
                    });
                }
                for (i, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
                    txn.batch_execute(sql).await.map_err(|e| {
                        let mut e = classify(e);
                        e.message = format!("schema migration {}: {}", i + 1, e.message);
                        e
                    })?;
                }
                if row.is_none() {
                    txn.execute(
                        "INSERT INTO cpm_store_schema (version) VALUES ($1)",
                        &[&latest],
                    )
                    .await
                    .map_err(classify)?;
                } else if current < latest {
                    txn.execute("UPDATE cpm_store_schema SET version = $1", &[&latest])
                        .await
                        .map_err(classify)?;
                }
                txn.commit().await.map_err(classify)?;
                if current < latest {
                    tracing::info!(from = current, to = latest, "PostgreSQL schema migrated");
                }
                Ok::<(), EngineError>(())
            }
        };
        let first = attempt.clone();
        match run(&self.handle, self.deadline, first(true)) {
            // A server without advisory locks (CockroachDB before 26.2,
            // YugabyteDB before the 2.25 series): the
            // version row's lock and the server's serializable isolation
            // order the migrators; a loser gets a retryable error.
            Err(e) if e.message.contains("pg_advisory_xact_lock") => {
                tracing::warn!(error = %e, "no advisory locks; migrating under the version row's lock");
                let mut last = e;
                for _ in 0..3 {
                    match run(&self.handle, self.deadline, attempt(false)) {
                        Ok(()) => return Ok(()),
                        Err(e) if e.kind == EngineErrorKind::Io => last = e,
                        Err(e) => return Err(e),
                    }
                }
                Err(last)
            }
            other => other,
        }
    }
}

/// Pairs [`PostgresEngine::import_from`] copies per commit.
const IMPORT_PAGE: usize = 4096;

impl PostgresEngine {
    /// Copies every pair of `source` (a restored backup's redb file) into
    /// this database, which must hold no pair yet, a page of pairs per
    /// commit; returns how many were copied. A copy that stops midway
    /// leaves a partial store: drop the database's `kv` rows and run it
    /// again.
    ///
    /// Errors: the database already holds pairs ([`EngineErrorKind::Other`],
    /// "not empty"), or those of [`Snapshot::scan`] and [`Engine::commit`].
    pub fn import_from(&self, source: &dyn Engine) -> Result<u64, EngineError> {
        if !self.snapshot()?.scan_keys(b"", b"", 1)?.is_empty() {
            return Err(EngineError {
                message: "the PostgreSQL database is not empty: restore into a new one".into(),
                kind: EngineErrorKind::Other,
            });
        }
        let snapshot = source.snapshot()?;
        let mut start = Vec::new();
        let mut copied = 0u64;
        loop {
            let page = snapshot.scan(b"", &start, IMPORT_PAGE)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            start = last.clone();
            start.push(0);
            let full = page.len() == IMPORT_PAGE;
            copied += page.len() as u64;
            self.commit(page.into_iter().map(|(k, v)| (k, Some(v))).collect())?;
            if !full {
                break;
            }
        }
        Ok(copied)
    }
}

/// A key and, when asked for, its value.
type Row = (Vec<u8>, Option<Vec<u8>>);

/// A read-only transaction on a pooled connection ([`Engine::snapshot`]).
struct PostgresSnapshot {
    handle: tokio::runtime::Handle,
    deadline: Duration,
    /// The connection, inside its open read-only transaction.
    client: Option<Arc<deadpool_postgres::Object>>,
}

impl PostgresSnapshot {
    fn client(&self) -> Result<Arc<deadpool_postgres::Object>, EngineError> {
        self.client
            .clone()
            .ok_or_else(|| io_error("postgresql: the snapshot is closed"))
    }

    /// Rows of `kv` in `[max(start, prefix), prefix_end(prefix))`, in key
    /// order, at most `limit`, with their values when `values`.
    fn range(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
        values: bool,
    ) -> Result<Vec<Row>, EngineError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let client = self.client()?;
        let from = std::cmp::max(start, prefix).to_vec();
        let end = prefix_end(prefix);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        run(&self.handle, self.deadline, async move {
            let columns = if values { "k, v" } else { "k" };
            let rows = match &end {
                Some(end) => {
                    let sql = format!(
                        "SELECT {columns} FROM kv WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3"
                    );
                    let statement = client.prepare_cached(&sql).await.map_err(classify)?;
                    client.query(&statement, &[&from, end, &limit]).await
                }
                None => {
                    let sql = format!("SELECT {columns} FROM kv WHERE k >= $1 ORDER BY k LIMIT $2");
                    let statement = client.prepare_cached(&sql).await.map_err(classify)?;
                    client.query(&statement, &[&from, &limit]).await
                }
            }
            .map_err(classify)?;
            rows.iter()
                .map(|row| {
                    let k: Vec<u8> = row.try_get(0).map_err(classify)?;
                    let v: Option<Vec<u8>> = if values {
                        Some(row.try_get(1).map_err(classify)?)
                    } else {
                        None
                    };
                    Ok((k, v))
                })
                .collect()
        })
    }
}

impl Snapshot for PostgresSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        let client = self.client()?;
        let key = key.to_vec();
        run(&self.handle, self.deadline, async move {
            let statement = client
                .prepare_cached("SELECT v FROM kv WHERE k = $1")
                .await
                .map_err(classify)?;
            let row = client
                .query_opt(&statement, &[&key])
                .await
                .map_err(classify)?;
            row.map(|r| r.try_get::<_, Vec<u8>>(0).map_err(classify))
                .transpose()
        })
    }

    fn scan(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, EngineError> {
        Ok(self
            .range(prefix, start, limit, true)?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect())
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, EngineError> {
        Ok(self
            .range(prefix, start, limit, false)?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }
}

impl Drop for PostgresSnapshot {
    /// Ends the read transaction and gives the connection back to the
    /// pool; one whose ROLLBACK fails is closed instead.
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let deadline = self.deadline;
        self.handle.spawn(async move {
            let rolled_back = matches!(
                tokio::time::timeout(deadline, client.batch_execute("ROLLBACK")).await,
                Ok(Ok(()))
            );
            if !rolled_back {
                if let Ok(object) = Arc::try_unwrap(client) {
                    drop(deadpool_postgres::Object::take(object));
                }
            }
        });
    }
}

/// Splits `items` into runs of at most [`CHUNK_ROWS`] items and about
/// [`CHUNK_BYTES`] bytes (`size` of each), each run at least one item.
fn chunks<T>(items: &[T], size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut begin, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let n = size(item);
        if i > begin && (i - begin >= CHUNK_ROWS || bytes + n > CHUNK_BYTES) {
            out.push(&items[begin..i]);
            begin = i;
            bytes = 0;
        }
        bytes += n;
    }
    if begin < items.len() {
        out.push(&items[begin..]);
    }
    out
}

impl Engine for PostgresEngine {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>, EngineError> {
        let pool = self.pool.clone();
        let client = run(&self.handle, self.deadline, async move {
            let client = pool.get().await.map_err(classify_pool)?;
            // A connection whose last snapshot's ROLLBACK did not run yet
            // is never handed out: the drop's task holds it until then.
            // PostgreSQL takes a REPEATABLE READ transaction's snapshot at
            // its first statement, not at BEGIN: `SELECT 1` takes it now,
            // so the view is of what was committed when snapshot() ran.
            client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1")
                .await
                .map_err(classify)?;
            Ok(client)
        })?;
        Ok(Box::new(PostgresSnapshot {
            handle: self.handle.clone(),
            deadline: self.deadline,
            client: Some(Arc::new(client)),
        }))
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), EngineError> {
        if batch.is_empty() {
            return Ok(());
        }
        let pool = self.pool.clone();
        let lock = self.lock.clone();
        run(&self.handle, self.deadline, async move {
            lock.check().await?;
            let mut deletes: Vec<Vec<u8>> = Vec::new();
            let mut upserts: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for (k, m) in batch {
                match m {
                    Some(v) => upserts.push((k, v)),
                    None => deletes.push(k),
                }
            }
            let mut client = pool.get().await.map_err(classify_pool)?;
            let txn = client.transaction().await.map_err(classify)?;
            if !deletes.is_empty() {
                let statement = txn
                    .prepare_cached("DELETE FROM kv WHERE k = ANY($1)")
                    .await
                    .map_err(classify)?;
                for chunk in chunks(&deletes, Vec::len) {
                    let keys: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
                    txn.execute(&statement, &[&keys]).await.map_err(classify)?;
                }
            }
            if !upserts.is_empty() {
                let statement = txn
                    .prepare_cached(
                        "INSERT INTO kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                         ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                    )
                    .await
                    .map_err(classify)?;
                for chunk in chunks(&upserts, |(k, v)| k.len() + v.len()) {
                    let keys: Vec<&[u8]> = chunk.iter().map(|(k, _)| k.as_slice()).collect();
                    let values: Vec<&[u8]> = chunk.iter().map(|(_, v)| v.as_slice()).collect();
                    txn.execute(&statement, &[&keys, &values])
                        .await
                        .map_err(classify)?;
                }
            }
            txn.commit().await.map_err(classify)
        })
    }

    /// Checks that the server answers again (`SELECT 1` on a pooled
    /// connection; the pool replaces closed ones by itself) and takes the
    /// writer lock again if its connection was lost.
    fn recover(&self) -> Result<(), EngineError> {
        let pool = self.pool.clone();
        let lock = self.lock.clone();
        let wait = self.deadline / 4;
        run(&self.handle, self.deadline, async move {
            lock.acquire(wait).await?;
            let client = pool.get().await.map_err(classify_pool)?;
            client.batch_execute("SELECT 1").await.map_err(classify)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_end_is_past_every_key_with_the_prefix() {
        assert_eq!(prefix_end(b"\x01\x02"), Some(b"\x01\x03".to_vec()));
        assert_eq!(prefix_end(b"\x01\xff"), Some(b"\x02".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn passwords_are_redacted_from_every_form_of_url() {
        assert_eq!(
            redact_url("postgresql://cpm:s3cret@db:5432/cpm?sslmode=disable"),
            "postgresql://cpm:<redacted>@db:5432/cpm?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgresql://cpm@db/cpm?password=s3cret&x=1"),
            "postgresql://cpm@db/cpm?password=<redacted>&x=1"
        );
        assert_eq!(
            redact_url("host=db user=cpm password='a b' dbname=cpm"),
            "host=db user=cpm password=<redacted> dbname=cpm"
        );
        assert_eq!(
            redact_url("postgresql://cpm@db/cpm"),
            "postgresql://cpm@db/cpm"
        );
    }

    #[test]
    fn large_batches_are_split_and_none_is_empty() {
        let items: Vec<usize> = vec![1; 2500];
        let runs = chunks(&items, |n| *n);
        assert_eq!(
            runs.iter().map(|r| r.len()).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        let big: Vec<usize> = vec![CHUNK_BYTES; 3];
        assert_eq!(chunks(&big, |n| *n).len(), 3);
        assert!(chunks::<usize>(&[], |n| *n).is_empty());
    }
}
