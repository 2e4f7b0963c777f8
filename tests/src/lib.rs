//! Helpers for the end-to-end tests in `tests/*.rs`: start the real
//! `cpm-store` binary on free loopback ports with a temporary data
//! directory, and run its commands.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The standard output of an outside tool's run (rclone, curl, ...) that
/// must have succeeded; panics with its output and errors otherwise.
pub fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `cpm-store` binary built by cargo for this workspace.
pub fn binary() -> PathBuf {
    // target/<profile>/deps/<test> -> target/<profile>/cpm-store
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("cpm-store");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --workspace` first",
        bin.display()
    );
    bin
}

/// A loopback address whose port is free for both TCP and UDP.
///
/// Ports come from 20000-31999, below Linux's ephemeral range (32768 and
/// up), so that no client connection of a parallel test takes one between
/// this call and the server binding it; each test process starts at its
/// own offset and never hands out the same port twice.
pub fn free_addr() -> SocketAddr {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let offset = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (FIRST + (offset + n) % SPAN) as u16;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if TcpListener::bind(addr).is_ok() && std::net::UdpSocket::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no free port in {FIRST}-{}", FIRST + SPAN - 1)
}

/// Fails with the Debian package to install when `tool` is missing.
pub fn require_tool(tool: &str, debian_package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is missing: apt-get install -y {debian_package}"
    );
}

pub mod imap;
pub mod nms;

/// The engines the end-to-end tests run the binary on, chosen for the
/// whole run by the environment variable `CPM_TEST_ENGINE` (issue 20: the
/// whole suite passes on either; scripts/test.sh runs it once per engine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// `CPM_TEST_ENGINE` unset, empty or `redb`: the embedded default, records
    /// in `data_dir/store.redb`, blobs under `data_dir/blobs/`.
    Redb,
    /// `CPM_TEST_ENGINE=postgres-s3`: every [`Server::new`] gets a fresh
    /// PostgreSQL database on the server of `CPM_TEST_POSTGRES_URL` and a
    /// fresh bucket on the S3 endpoint `CPM_TEST_S3_ENDPOINT` (`[store]
    /// engine = "postgres"`, `[blobs] backend = "s3"`).
    PostgresS3,
}

/// The engine of this run (`CPM_TEST_ENGINE`); panics on an unknown value,
/// naming the accepted ones, so that a typo does not test the default.
pub fn engine() -> Engine {
    match std::env::var("CPM_TEST_ENGINE").as_deref() {
        Err(_) | Ok("") | Ok("redb") => Engine::Redb,
        Ok("postgres-s3") => Engine::PostgresS3,
        Ok(other) => panic!("CPM_TEST_ENGINE={other:?}: expected \"redb\" or \"postgres-s3\""),
    }
}

/// Whether `test` runs on this run's engine: `true` on the embedded one;
/// on another, prints `test: SKIPPED on <engine>: <reason>` to stderr
/// and returns `false` (for a test that is about the embedded engine
/// only, e.g. one that reads `data_dir/store.redb` or fills its disk).
pub fn embedded_engine_only(test: &str, reason: &str) -> bool {
    let engine = engine();
    if engine == Engine::Redb {
        return true;
    }
    eprintln!("{test}: SKIPPED on {engine:?}: {reason}");
    false
}

/// A running (or stopped) server with its own data directory and ports.
pub struct Server {
    /// The temporary directory holding config and data.
    pub dir: tempfile::TempDir,
    /// The admin endpoint address.
    pub admin: SocketAddr,
    /// The IMAP listener (plain, STARTTLS offered).
    pub imap: SocketAddr,
    /// The implicit-TLS IMAP listener.
    pub imaps: SocketAddr,
    /// The plain HTTP WebDAV listener.
    pub webdav: SocketAddr,
    /// The HTTPS WebDAV listener.
    pub webdavs: SocketAddr,
    /// The plain HTTP NMS listener.
    pub nms: SocketAddr,
    /// The HTTPS NMS listener.
    pub nmss: SocketAddr,
    /// The SIP UDP socket.
    pub sip_udp: SocketAddr,
    /// The SIP TCP listener.
    pub sip_tcp: SocketAddr,
    /// The SIP TLS listener.
    pub sip_tls: SocketAddr,
    child: Option<Child>,
    /// With [`Engine::PostgresS3`]: the database and bucket made for this
    /// server; the database is dropped (best effort) with the server.
    remote: Option<RemoteStore>,
}

/// The database and bucket made for one [`Server`] on
/// [`Engine::PostgresS3`].
#[derive(Clone, Debug)]
pub struct RemoteStore {
    /// `CPM_TEST_POSTGRES_URL`, through which the database is dropped.
    pub server_url: String,
    /// The database's name (`cpm_e2e_<pid>_<n>_<nanoseconds>`).
    pub database: String,
    /// The database's URL (`[store] postgres_url`).
    pub postgres_url: String,
    /// `CPM_TEST_S3_ENDPOINT` (`[blobs] s3_endpoint`, plain http).
    pub s3_endpoint: String,
    /// The bucket (`[blobs] s3_bucket`; credentials `testing`/`testing`,
    /// region `us-east-1`).
    pub s3_bucket: String,
}

impl Server {
    /// Writes a config with free ports into a new temp dir (not started).
    pub fn new() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let admin = free_addr();
        let ports: Vec<SocketAddr> = (0..9).map(|_| free_addr()).collect();
        let config = format!(
            "[store]\ndata_dir = {data:?}\n\
[imap]\nlisten = [\"{}\"]\nlisten_tls = [\"{}\"]\n\
[webdav]\nlisten = [\"{}\"]\nlisten_tls = [\"{}\"]\n\
[sip]\nlisten_udp = [\"{}\"]\nlisten_tcp = [\"{}\"]\nlisten_tls = [\"{}\"]\n\
[nms]\nlisten = [\"{}\"]\nlisten_tls = [\"{}\"]\n\
[admin]\nlisten = [\"{admin}\"]\n\
[server]\nshutdown_grace_seconds = 5\n",
            ports[0],
            ports[1],
            ports[2],
            ports[3],
            ports[4],
            ports[5],
            ports[6],
            ports[7],
            ports[8],
            data = dir.path().join("data"),
        );
        let (config, remote) = match engine() {
            Engine::Redb => (config, None),
            Engine::PostgresS3 => remote_engines(config),
        };
        std::fs::write(dir.path().join("cpm-store.toml"), config).expect("write config");
        // The data directory exists (mode 0700) as `serve` would leave it,
        // so that accounts can be added before the first start: commands
        // other than `serve` refuse to create one without `--create`.
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir.path().join("data"))
                .expect("create the data dir");
        }
        Server {
            dir,
            admin,
            imap: ports[0],
            imaps: ports[1],
            webdav: ports[2],
            webdavs: ports[3],
            sip_udp: ports[4],
            sip_tcp: ports[5],
            sip_tls: ports[6],
            nms: ports[7],
            nmss: ports[8],
            child: None,
            remote,
        }
    }

    /// The config file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("cpm-store.toml")
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The database and bucket the harness made for this server on
    /// [`Engine::PostgresS3`] (as made: [`Server::use_postgres`] and
    /// [`Server::use_s3_blobs`] do not change it); `None` on the embedded
    /// engine.
    pub fn remote_store(&self) -> Option<&RemoteStore> {
        self.remote.as_ref()
    }

    /// A started server with the account `alice` (password `secret`).
    pub fn with_alice() -> Server {
        let mut server = Server::new();
        server.add_account("alice", "secret");
        server.start();
        server
    }

    /// The server's records engine opened in this process (the server must
    /// be down): `data_dir/store.redb`, or its PostgreSQL database on
    /// [`Engine::PostgresS3`]. Panics when it cannot be opened.
    pub fn open_engine(&self) -> std::sync::Arc<dyn store_core::engine::Engine> {
        use store_core::engine::{PostgresEngine, PostgresSettings, RedbEngine};
        match &self.remote {
            None => {
                let file = self.data_dir().join("store.redb");
                std::sync::Arc::new(RedbEngine::open(&file).expect("open store.redb"))
            }
            Some(remote) => std::sync::Arc::new(
                PostgresEngine::open(&PostgresSettings {
                    url: remote.postgres_url.clone(),
                    pool_size: 4,
                    timeout: Duration::from_secs(10),
                })
                .expect("open the server's PostgreSQL database"),
            ),
        }
    }

    /// The server's store opened in this process (the server must be
    /// down), on the engine and blob backend it runs on, with the default
    /// settings otherwise. Panics when it cannot be opened.
    pub fn open_store(&self) -> store_core::Store {
        use store_core::blob::{BlobBackend, S3Config};
        use store_core::{Store, StoreConfig};
        let config = StoreConfig::new(self.data_dir());
        let Some(remote) = &self.remote else {
            return Store::open(config).expect("open the store");
        };
        let blobs = BlobBackend::S3(S3Config {
            endpoint: Some(remote.s3_endpoint.clone()),
            bucket: remote.s3_bucket.clone(),
            region: Some("us-east-1".into()),
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
            allow_http: true,
        });
        Store::open_with_engine(StoreConfig { blobs, ..config }, self.open_engine())
            .expect("open the store")
    }

    /// Every stored record's bytes (keys and values, in no useful order),
    /// for a test that a secret is not kept in the clear: `store.redb`'s
    /// file, or the `kv` table copied out in PostgreSQL's binary format.
    pub fn stored_records(&self) -> Vec<u8> {
        match &self.remote {
            None => std::fs::read(self.data_dir().join("store.redb")).expect("read store.redb"),
            Some(remote) => {
                let out = Command::new("psql")
                    .args([
                        remote.postgres_url.as_str(),
                        "-q",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-c",
                    ])
                    .arg("COPY kv TO STDOUT (FORMAT binary)")
                    .output()
                    .expect("run psql");
                assert!(
                    out.status.success(),
                    "COPY kv: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        }
    }

    /// Starts `cpm-store serve` and waits until `/healthz` answers.
    pub fn start(&mut self) {
        self.start_from(Command::new(binary()), Stdio::null());
    }

    /// Like [`Server::start`], with the server's log (its stderr, where a
    /// panic is reported too) written to `server.log` in the temp dir;
    /// returns that file's path.
    pub fn start_logged(&mut self) -> PathBuf {
        let log = self.dir.path().join("server.log");
        let file = std::fs::File::create(&log).expect("create server.log");
        self.start_from(Command::new(binary()), Stdio::from(file));
        log
    }

    /// As [`Server::start`], with the soft and hard RLIMIT_NOFILE set to
    /// `limit` (a systemd unit's default is 1024).
    pub fn start_with_descriptor_limit(&mut self, limit: u64) {
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
            .arg(binary());
        self.start_from(sh, Stdio::null());
    }

    /// As [`Server::start`], with the environment variables `vars` set
    /// for the server (e.g. an allocator's tuning).
    pub fn start_with_env(&mut self, vars: &[(&str, &str)]) {
        let mut command = Command::new(binary());
        command.envs(vars.iter().copied());
        self.start_from(command, Stdio::null());
    }

    fn start_from(&mut self, mut command: Command, stderr: Stdio) {
        let child = command
            .arg("serve")
            .arg("--config")
            .arg(self.config())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start cpm-store serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.http_get("/healthz").is_some_and(|b| b.contains("ok")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("cpm-store did not become healthy on {}", self.admin);
    }

    /// Sends SIGTERM and returns the exit code once it has exited.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = child.try_wait().expect("wait") {
                return s.code();
            }
            assert!(
                Instant::now() < deadline,
                "cpm-store did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `cpm-store <args> --config <config>` with `stdin`.
    pub fn command(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(binary())
            .args(args)
            .arg("--config")
            .arg(self.config())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_BACKTRACE", "0")
            .spawn()
            .expect("run cpm-store");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("cpm-store output")
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A line of the running server's `/proc/<pid>/status`, in kB (e.g.
    /// `VmHWM`, its peak resident memory).
    pub fn proc_status_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Adds `settings` (TOML lines) to section `[section]` of the config.
    pub fn set_settings(&self, section: &str, settings: &str) {
        let path = self.config();
        let text = std::fs::read_to_string(&path).expect("read config");
        let header = format!("[{section}]\n");
        let text = text.replacen(&header, &format!("{header}{settings}"), 1);
        std::fs::write(&path, text).expect("write config");
    }

    /// Puts the store's records in PostgreSQL at `url` (`[store] engine =
    /// "postgres"`, `postgres_url`); call before the first command. Without
    /// it the server uses the embedded default engine.
    /// With [`Engine::PostgresS3`] it replaces the database the harness made
    /// (which is still dropped with the server).
    pub fn use_postgres(&self, url: &str) {
        self.remove_settings("store", &["engine", "postgres_url"]);
        self.set_settings(
            "store",
            &format!("engine = \"postgres\"\npostgres_url = {url:?}\n"),
        );
    }

    /// Puts the store's blobs in bucket `bucket` (which must exist) of the
    /// S3-compatible server at `endpoint` (`[blobs] backend = "s3"`, plain
    /// http allowed, the test credentials `testing`/`testing` moto takes),
    /// replacing any `[blobs]` settings the harness wrote.
    pub fn use_s3_blobs(&self, endpoint: &str, bucket: &str) {
        self.remove_settings(
            "blobs",
            &[
                "backend",
                "s3_endpoint",
                "s3_bucket",
                "s3_region",
                "s3_access_key_id",
                "s3_secret_access_key",
                "s3_allow_http",
            ],
        );
        let path = self.config();
        let mut text = std::fs::read_to_string(&path).expect("read config");
        if !text.contains("\n[blobs]\n") {
            text.push_str("[blobs]\n");
            std::fs::write(&path, text).expect("write config");
        }
        self.set_settings("blobs", &s3_settings(endpoint, bucket));
    }

    /// Removes the lines setting `keys` from section `[section]` of the
    /// config (a key set twice is an error in TOML).
    fn remove_settings(&self, section: &str, keys: &[&str]) {
        let path = self.config();
        let text = std::fs::read_to_string(&path).expect("read config");
        let mut current = String::new();
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                current = trimmed.trim_matches(['[', ']']).to_string();
            } else if current == section
                && trimmed
                    .split_once('=')
                    .is_some_and(|(k, _)| keys.contains(&k.trim()))
            {
                continue;
            }
            out.push_str(line);
        }
        std::fs::write(&path, out).expect("write config");
    }

    /// Creates account `login` with `password` (server up or down).
    pub fn add_account(&self, login: &str, password: &str) {
        let out = self.command(
            &["account", "add", login, "--password-stdin"],
            &format!("{password}\n"),
        );
        assert!(
            out.status.success(),
            "account add {login}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Adds an account with a CPM address (`sip:alice@example.com`), the
    /// served user SIP deposits name.
    pub fn add_account_with_address(&self, login: &str, password: &str, address: &str) {
        let out = self.command(
            &[
                "account",
                "add",
                login,
                "--address",
                address,
                "--password-stdin",
            ],
            &format!("{password}\n"),
        );
        assert!(
            out.status.success(),
            "account add {login}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// GETs `path` from the admin endpoint; the body, or `None` if down.
    pub fn http_get(&self, path: &str) -> Option<String> {
        use std::io::Read;
        let mut s = TcpStream::connect_timeout(&self.admin, Duration::from_secs(2)).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
    }
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Best effort: a database left behind goes with the test cluster.
        if let Some(remote) = self.remote.take() {
            let _ = Command::new("psql")
                .args([remote.server_url.as_str(), "-q", "-c"])
                .arg(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    remote.database
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A 640x480 gradient image encoded in `format` (PNG, JPEG...), for the
/// preview and CONVERT tests.
pub fn image_bytes(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .expect("encode a test image");
    out.into_inner()
}

/// A new, empty database on the PostgreSQL server of
/// `CPM_TEST_POSTGRES_URL` (scripts/test.sh starts one and sets it), made
/// with `psql`; its URL. `None`, said on stderr, when the variable is unset.
pub fn postgres_database() -> Option<String> {
    let Ok(url) = std::env::var("CPM_TEST_POSTGRES_URL") else {
        eprintln!(
            "CPM_TEST_POSTGRES_URL is not set: PostgreSQL test skipped (scripts/test.sh sets it)"
        );
        return None;
    };
    Some(create_database(&url).0)
}

/// Creates a database named `cpm_e2e_<pid>_<n>_<nanoseconds>` on the
/// PostgreSQL server at `url` with `psql`; its URL and its name.
fn create_database(url: &str) -> (String, String) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static DATABASES: AtomicU32 = AtomicU32::new(0);
    require_tool("psql", "postgresql-client");
    let name = format!(
        "cpm_e2e_{}_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let out = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("run psql");
    succeeded(&out);
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (url.to_string(), String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(i) => base[..authority + i].to_string(),
        None => base,
    };
    (format!("{base}/{name}{query}"), name)
}

/// The value of environment variable `name`, which [`Engine::PostgresS3`]
/// needs; panics saying so when it is unset or empty.
fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "CPM_TEST_ENGINE=postgres-s3 needs {name} (scripts/test.sh starts the servers and sets it)"
        ),
    }
}

/// Creates bucket `bucket` on the S3-compatible server at `endpoint`
/// (`http://host:port`) with an unsigned CreateBucket (`PUT /bucket`, which
/// moto_server accepts); panics with the reply unless it is a 200.
pub fn create_s3_bucket(endpoint: &str, bucket: &str) {
    use std::io::Read;
    let authority = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{endpoint}: an http:// test endpoint"))
        .trim_end_matches('/');
    let mut tcp = TcpStream::connect(authority)
        .unwrap_or_else(|e| panic!("connect to the S3 test server {endpoint}: {e}"));
    tcp.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    write!(
        tcp,
        "PUT /{bucket} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send CreateBucket");
    let mut reply = String::new();
    tcp.read_to_string(&mut reply)
        .expect("read CreateBucket's reply");
    let status = reply.lines().next().unwrap_or_default();
    assert!(
        status.contains(" 200"),
        "CreateBucket {bucket} on {endpoint}: {reply}"
    );
}

/// How many objects bucket `bucket` of the S3-compatible server at
/// `endpoint` (`http://host:port`) holds under `prefix`, by an unsigned
/// ListObjectsV2 (`GET /bucket?list-type=2&prefix=...`, which
/// moto_server accepts); panics unless the reply is a 200 listing every
/// key (at most 1,000: no continuation).
pub fn s3_object_count(endpoint: &str, bucket: &str, prefix: &str) -> usize {
    use std::io::Read;
    let authority = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{endpoint}: an http:// test endpoint"))
        .trim_end_matches('/');
    let mut tcp = TcpStream::connect(authority)
        .unwrap_or_else(|e| panic!("connect to the S3 test server {endpoint}: {e}"));
    tcp.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    write!(
        tcp,
        "GET /{bucket}?list-type=2&prefix={prefix} HTTP/1.1\r\nHost: {authority}\r\n\
         Connection: close\r\n\r\n"
    )
    .expect("send ListObjectsV2");
    let mut reply = String::new();
    tcp.read_to_string(&mut reply)
        .expect("read ListObjectsV2's reply");
    let status = reply.lines().next().unwrap_or_default();
    assert!(
        status.contains(" 200") && reply.contains("<IsTruncated>false</IsTruncated>"),
        "ListObjectsV2 {bucket} on {endpoint}: {reply}"
    );
    reply.matches("<Key>").count()
}

/// `n` servers sharing one new database on the PostgreSQL server of
/// `CPM_TEST_POSTGRES_URL` and one new bucket on the S3 server of
/// `CPM_TEST_S3_ENDPOINT` (the nodes of a cluster, issue 20; not
/// started), with alice (`sip:alice@example.com`, password `s3cret`)
/// added through the first; `None`, said on stderr, when either variable
/// is unset (scripts/test.sh sets both).
pub fn cluster(n: usize) -> Option<Vec<Server>> {
    let (Ok(pg), Ok(s3)) = (
        std::env::var("CPM_TEST_POSTGRES_URL"),
        std::env::var("CPM_TEST_S3_ENDPOINT"),
    ) else {
        eprintln!(
            "CPM_TEST_POSTGRES_URL or CPM_TEST_S3_ENDPOINT is not set: cluster test skipped \
             (scripts/test.sh sets them)"
        );
        return None;
    };
    let (url, _) = create_database(&pg);
    let bucket = format!(
        "cpm-cluster-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    create_s3_bucket(&s3, &bucket);
    let nodes: Vec<Server> = (0..n)
        .map(|_| {
            let node = Server::new();
            node.use_postgres(&url);
            node.use_s3_blobs(&s3, &bucket);
            node
        })
        .collect();
    nodes[0].add_account_with_address("alice", "s3cret", "sip:alice@example.com");
    Some(nodes)
}

/// The `[blobs]` lines (without the header) for bucket `bucket` of the
/// S3-compatible test server at `endpoint`.
fn s3_settings(endpoint: &str, bucket: &str) -> String {
    format!(
        "backend = \"s3\"\ns3_endpoint = {endpoint:?}\ns3_bucket = {bucket:?}\n\
         s3_region = \"us-east-1\"\ns3_access_key_id = \"testing\"\n\
         s3_secret_access_key = \"testing\"\ns3_allow_http = true\n"
    )
}

/// `config` (the harness's, with `[store]` first) on [`Engine::PostgresS3`]:
/// a new database and a new bucket (`cpm-e2e-<pid>-<seconds>-<n>`, left in the S3
/// test server, which keeps them in memory until it stops) written into
/// `[store]` and a `[blobs]` section; and what was made.
fn remote_engines(config: String) -> (String, Option<RemoteStore>) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static BUCKETS: AtomicU32 = AtomicU32::new(0);
    let server_url = required_env("CPM_TEST_POSTGRES_URL");
    let endpoint = required_env("CPM_TEST_S3_ENDPOINT");
    let (url, name) = create_database(&server_url);
    let bucket = format!(
        "cpm-e2e-{}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        BUCKETS.fetch_add(1, Ordering::Relaxed)
    );
    create_s3_bucket(&endpoint, &bucket);
    // After `data_dir`, which stays the first line of `[store]`.
    let (first, rest) = config
        .split_once("\n[imap]\n")
        .expect("the harness's config has [imap] after [store]");
    let config = format!(
        "{first}\nengine = \"postgres\"\npostgres_url = {url:?}\n[imap]\n{rest}[blobs]\n{}",
        s3_settings(&endpoint, &bucket)
    );
    let remote = RemoteStore {
        server_url,
        database: name,
        postgres_url: url,
        s3_endpoint: endpoint,
        s3_bucket: bucket,
    };
    (config, Some(remote))
}
