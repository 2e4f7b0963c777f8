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

    /// A started server with the account `alice` (password `secret`).
    pub fn with_alice() -> Server {
        let mut server = Server::new();
        server.add_account("alice", "secret");
        server.start();
        server
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
    pub fn use_postgres(&self, url: &str) {
        self.set_settings(
            "store",
            &format!("engine = \"postgres\"\npostgres_url = {url:?}\n"),
        );
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
    require_tool("psql", "postgresql-client");
    let name = format!(
        "cpm_e2e_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let out = Command::new("psql")
        .args([url.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("run psql");
    succeeded(&out);
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (url.clone(), String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(i) => base[..authority + i].to_string(),
        None => base,
    };
    Some(format!("{base}/{name}{query}"))
}
