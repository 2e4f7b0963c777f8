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
//! Several processes (the nodes of a cluster) share one database
//! (ARCHITECTURE.md, "Several nodes"). Their writers take turns: a
//! [`WriteTransaction`] is a `READ COMMITTED` transaction that first locks
//! the one row of `write_lock` (`SELECT ... FOR UPDATE`, a plain row lock
//! PostgreSQL, CockroachDB and YugabyteDB all have), so it reads the latest
//! committed state and nothing else commits until it ends; each node's
//! group commit folds all its pending operations into one such turn. A
//! node that dies mid-turn loses its connection, and the server rolls its
//! transaction back and frees the row: there is no lease to expire and no
//! stale writer to fence. The commit announces where it moved each
//! account's change feed with `pg_notify` (delivered only if it commits);
//! [`Engine::watch`] LISTENs on a connection of its own and hands the
//! other nodes' announcements to the store, which reads the changes
//! themselves from the feed (a notification is a wake-up, never the data).
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

use super::postgres_tls::PostgresTls;
use super::{
    CommitSink, Engine, EngineError, EngineErrorKind, KeyValue, RemoteCommit, Snapshot, WriteBatch,
    WriteTransaction,
};

/// The schema, one SQL text per version (version N is `MIGRATIONS[N - 1]`),
/// applied in order at open. Never edit a released entry: append.
///
/// Kept to SQL that CockroachDB and YugabyteDB accept too (`bytea`,
/// `CREATE TABLE IF NOT EXISTS`).
pub const MIGRATIONS: &[&str] = &[
    // 1: every key of the store (crate::keys gives them their structure).
    "CREATE TABLE IF NOT EXISTS kv (k bytea PRIMARY KEY, v bytea NOT NULL)",
    // 2: the row every writer locks for its turn (several nodes).
    "CREATE TABLE IF NOT EXISTS write_lock (id int PRIMARY KEY); \
     INSERT INTO write_lock (id) VALUES (1) ON CONFLICT (id) DO NOTHING",
];

/// The advisory lock key that serializes migrations between nodes
/// ("cpmstore" in ASCII).
const MIGRATION_LOCK: i64 = 0x6370_6d73_746f_7265;

/// The session advisory lock a store holds while it does its open-time
/// work ([`Engine::exclusive_open`]; "cpmopens" in ASCII).
const OPEN_LOCK: i64 = 0x6370_6d6f_7065_6e73;

/// The channel of [`Engine::watch`]'s notifications.
const CHANNEL: &str = "cpm_store_commits";

/// Most bytes of one notification's payload (PostgreSQL's limit is 8000):
/// a commit that moves more accounts than fit announces
/// [`RemoteCommit::Unknown`].
const MAX_PAYLOAD: usize = 7900;

/// The longest pause between two attempts to LISTEN again after the
/// watching connection was lost.
const MAX_WATCH_PAUSE: Duration = Duration::from_secs(5);

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
    /// The connection settings, for [`Engine::watch`]'s own connection.
    config: tokio_postgres::Config,
    /// In clear or over TLS (`sslmode`, `postgres_tls`).
    tls: PostgresTls,
    /// This engine's name in its notifications, so that its watch skips
    /// its own commits (the store publishes those itself).
    origin: String,
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
        None => {
            // The cause (a TLS handshake's, an I/O error) is in the source.
            let mut message = format!("postgresql: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            message
        }
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
        let (url, ssl_mode, tls) = super::postgres_tls::tls_of(&settings.url)?;
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| EngineError {
            message: format!("[store] postgres_url {}: {e}", redact_url(&settings.url)),
            kind: EngineErrorKind::Other,
        })?;
        config.ssl_mode(ssl_mode);
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
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &tls {
            PostgresTls::Clear => Manager::from_config(config.clone(), NoTls, manager_config),
            PostgresTls::Rustls(connector) => {
                Manager::from_config(config.clone(), connector.clone(), manager_config)
            }
        };
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
            config,
            tls,
            origin: format!("{:016x}", rand::random::<u64>()),
        };
        engine.migrate()?;
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
    /// Forgets the connection without rolling back (its transaction
    /// ended): it goes back to the pool when the last reference drops.
    fn finished(&mut self) {
        self.client = None;
    }

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

/// The writer's turn ([`Engine::begin_write`]): a `READ COMMITTED`
/// transaction holding the `write_lock` row, read through like a
/// snapshot.
struct PostgresWrite {
    reads: PostgresSnapshot,
    origin: String,
}

impl Snapshot for PostgresWrite {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        self.reads.get(key)
    }

    fn scan(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, EngineError> {
        self.reads.scan(prefix, start, limit)
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, EngineError> {
        self.reads.scan_keys(prefix, start, limit)
    }
}

/// The payload announcing `moved` from `origin`: `ORIGIN;` then
/// `ACCOUNT:MODSEQ` pairs in decimal, comma-separated, or `ORIGIN;*` when
/// they do not fit in [`MAX_PAYLOAD`] bytes.
fn encode_payload(origin: &str, moved: &[super::FeedMove]) -> String {
    let mut payload = format!("{origin};");
    for (i, (account, modseq)) in moved.iter().enumerate() {
        if i > 0 {
            payload.push(',');
        }
        payload.push_str(&format!("{account}:{modseq}"));
        if payload.len() > MAX_PAYLOAD {
            return format!("{origin};*");
        }
    }
    payload
}

/// Reads a payload of [`encode_payload`]: its origin and what it
/// announces; `None` when it is not one (another program's NOTIFY on the
/// channel).
fn decode_payload(payload: &str) -> Option<(&str, RemoteCommit)> {
    let (origin, rest) = payload.split_once(';')?;
    if rest == "*" {
        return Some((origin, RemoteCommit::Unknown));
    }
    let mut moved = Vec::new();
    for pair in rest.split(',').filter(|p| !p.is_empty()) {
        let (account, modseq) = pair.split_once(':')?;
        moved.push((account.parse().ok()?, modseq.parse().ok()?));
    }
    Some((origin, RemoteCommit::Moved(moved)))
}

impl WriteTransaction for PostgresWrite {
    fn commit(
        mut self: Box<Self>,
        batch: WriteBatch,
        moved: &[super::FeedMove],
    ) -> Result<(), EngineError> {
        let client = self.reads.client()?;
        let payload = (!moved.is_empty()).then(|| encode_payload(&self.origin, moved));
        run(&self.reads.handle, self.reads.deadline, async move {
            let mut deletes: Vec<Vec<u8>> = Vec::new();
            let mut upserts: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for (k, m) in batch {
                match m {
                    Some(v) => upserts.push((k, v)),
                    None => deletes.push(k),
                }
            }
            if !deletes.is_empty() {
                let statement = client
                    .prepare_cached("DELETE FROM kv WHERE k = ANY($1)")
                    .await
                    .map_err(classify)?;
                for chunk in chunks(&deletes, Vec::len) {
                    let keys: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
                    client
                        .execute(&statement, &[&keys])
                        .await
                        .map_err(classify)?;
                }
            }
            if !upserts.is_empty() {
                let statement = client
                    .prepare_cached(
                        "INSERT INTO kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                         ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                    )
                    .await
                    .map_err(classify)?;
                for chunk in chunks(&upserts, |(k, v)| k.len() + v.len()) {
                    let keys: Vec<&[u8]> = chunk.iter().map(|(k, _)| k.as_slice()).collect();
                    let values: Vec<&[u8]> = chunk.iter().map(|(_, v)| v.as_slice()).collect();
                    client
                        .execute(&statement, &[&keys, &values])
                        .await
                        .map_err(classify)?;
                }
            }
            if let Some(payload) = payload {
                // Sent by the server only if, and once, the transaction
                // commits.
                client
                    .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
                    .await
                    .map_err(classify)?;
            }
            client.batch_execute("COMMIT").await.map_err(classify)
        })?;
        // Committed: the connection goes back to the pool as it is.
        self.reads.finished();
        Ok(())
    }
}

impl Engine for PostgresEngine {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>, EngineError> {
        // PostgreSQL takes a REPEATABLE READ transaction's snapshot at its
        // first statement, not at BEGIN: `SELECT 1` takes it now, so the
        // view is of what was committed when snapshot() ran.
        Ok(Box::new(self.begin(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1",
            false,
        )?))
    }

    /// Takes the `write_lock` row (waiting for another node's turn, within
    /// the session's `statement_timeout`), then reads at `READ
    /// COMMITTED`: each read sees every commit, and none can happen
    /// before this one ends.
    fn begin_write(&self) -> Result<Box<dyn WriteTransaction + '_>, EngineError> {
        let reads = self.begin("BEGIN ISOLATION LEVEL READ COMMITTED", true)?;
        Ok(Box::new(PostgresWrite {
            reads,
            origin: self.origin.clone(),
        }))
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), EngineError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.begin_write()?.commit(batch, &[])
    }

    /// Checks that the server answers again (`SELECT 1` on a pooled
    /// connection; the pool replaces closed ones by itself).
    fn recover(&self) -> Result<(), EngineError> {
        let pool = self.pool.clone();
        run(&self.handle, self.deadline, async move {
            let client = pool.get().await.map_err(classify_pool)?;
            client.batch_execute("SELECT 1").await.map_err(classify)
        })
    }

    /// Takes the session advisory lock [`OPEN_LOCK`] on a pooled
    /// connection, held by the guard returned and released when it drops
    /// (`pg_advisory_unlock`, then the connection goes back to the pool).
    /// A server without advisory locks (CockroachDB before 26.2) gets no
    /// guard: nodes of such a cluster must be started one at a time after
    /// an upgrade.
    fn exclusive_open(&self) -> Result<Option<Box<dyn Send>>, EngineError> {
        let pool = self.pool.clone();
        let client = run(&self.handle, self.deadline, async move {
            let client = pool.get().await.map_err(classify_pool)?;
            match client
                .execute("SELECT pg_advisory_lock($1)", &[&OPEN_LOCK])
                .await
            {
                Ok(_) => Ok(Some(client)),
                Err(e)
                    if e.code().is_some_and(|c| {
                        *c == SqlState::UNDEFINED_FUNCTION || *c == SqlState::FEATURE_NOT_SUPPORTED
                    }) =>
                {
                    tracing::warn!(error = %e, "no advisory locks: start the nodes one at a time after an upgrade");
                    Ok(None)
                }
                Err(e) => Err(classify(e)),
            }
        })?;
        Ok(client.map(|client| {
            Box::new(OpenGuard {
                handle: self.handle.clone(),
                client: Some(client),
            }) as Box<dyn Send>
        }))
    }

    /// LISTENs on a connection of its own (outside the pool) and calls
    /// `sink` with each other node's announcement; when the connection is
    /// lost it connects again (pausing up to [`MAX_WATCH_PAUSE`]) and
    /// says [`RemoteCommit::Unknown`] (announcements may have been
    /// missed meanwhile).
    fn watch(&self, sink: CommitSink) -> bool {
        let config = self.config.clone();
        let origin = self.origin.clone();
        let tls = self.tls.clone();
        self.handle.spawn(async move {
            let mut pause = Duration::from_millis(100);
            let mut first = true;
            loop {
                let listened = match &tls {
                    PostgresTls::Clear => listen(&config, NoTls, &origin, &sink, first).await,
                    PostgresTls::Rustls(connector) => {
                        listen(&config, connector.clone(), &origin, &sink, first).await
                    }
                };
                match listened {
                    Ok(()) => pause = Duration::from_millis(100),
                    Err(e) => {
                        tracing::warn!(error = %e, "PostgreSQL change notifications lost; listening again");
                    }
                }
                first = false;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_WATCH_PAUSE);
            }
        });
        true
    }
}

/// The open-time lock ([`Engine::exclusive_open`]) on its connection.
struct OpenGuard {
    handle: tokio::runtime::Handle,
    client: Option<deadpool_postgres::Object>,
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.handle.spawn(async move {
                let unlocked = client
                    .execute("SELECT pg_advisory_unlock($1)", &[&OPEN_LOCK])
                    .await
                    .is_ok();
                if !unlocked {
                    // Closing the session releases its locks.
                    drop(deadpool_postgres::Object::take(client));
                }
            });
        }
    }
}

/// One LISTEN connection's life: connects, LISTENs, says
/// [`RemoteCommit::Unknown`] unless `first` (the store was just opened:
/// nothing was missed), then hands every notification of another origin
/// to `sink` until the connection ends.
///
/// Errors: the connection could not be made or ended in error.
async fn listen<T>(
    config: &tokio_postgres::Config,
    tls: T,
    origin: &str,
    sink: &CommitSink,
    first: bool,
) -> Result<(), EngineError>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    use futures_util::StreamExt;
    let (client, mut connection) = config.connect(tls).await.map_err(classify)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(classify(e)),
            }
        }
        Ok(())
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(classify)?;
    if !first {
        sink(RemoteCommit::Unknown);
    }
    while let Some(payload) = rx.recv().await {
        match decode_payload(&payload) {
            Some((from, _)) if from == origin => {}
            Some((_, commit)) => sink(commit),
            None => tracing::debug!(
                payload,
                "a notification on the store's channel that is not the store's"
            ),
        }
    }
    drop(client);
    driver
        .await
        .map_err(|e| io_error(format!("postgresql: the notification connection: {e}")))?
}

impl PostgresEngine {
    /// A pooled connection inside a transaction opened by `begin` (SQL);
    /// with `lock`, the transaction then takes the `write_lock` row.
    ///
    /// Errors: the pool or the server failed; the lock row is missing (a
    /// schema not made by this binary).
    fn begin(&self, begin: &'static str, lock: bool) -> Result<PostgresSnapshot, EngineError> {
        let pool = self.pool.clone();
        let client = run(&self.handle, self.deadline, async move {
            let client = pool.get().await.map_err(classify_pool)?;
            // A connection whose last transaction's ROLLBACK did not run
            // yet is never handed out: the drop's task holds it until then.
            client.batch_execute(begin).await.map_err(classify)?;
            if lock {
                let locked = client
                    .query_opt("SELECT id FROM write_lock WHERE id = 1 FOR UPDATE", &[])
                    .await;
                match locked {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        let _ = client.batch_execute("ROLLBACK").await;
                        return Err(EngineError {
                            message: "postgresql: the write_lock row is missing".into(),
                            kind: EngineErrorKind::Other,
                        });
                    }
                    Err(e) => {
                        let _ = client.batch_execute("ROLLBACK").await;
                        return Err(classify(e));
                    }
                }
            }
            Ok(client)
        })?;
        Ok(PostgresSnapshot {
            handle: self.handle.clone(),
            deadline: self.deadline,
            client: Some(Arc::new(client)),
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
