//! `cpm-bench cluster` (issue 20): APPEND throughput and FETCH latency of
//! the release `cpm-store` over IMAP on three configurations:
//!
//! 1. one node on the embedded engine (redb, blobs in files): the bench's
//!    [`Server`] on the base fixture;
//! 2. one node on PostgreSQL + S3: node 1 of a `scripts/cluster.sh`
//!    cluster, whose nodes 2 and 3 run idle;
//! 3. three nodes on PostgreSQL + S3 (one database, one bucket), the
//!    clients spread round-robin over the nodes.
//!
//! APPEND: 8 and 32 clients, each its own connection and account
//! (`cb01`…`cb32`; the default cap is 20 sessions per account), for
//! [`load_time`] (5 s, `--quick` 1 s), of a chat message
//! (`store_core::bench_message`, about 0.7 KB) or of a 100 KB
//! file-transfer message, each made unique ([`unique`]). On redb every
//! APPEND's content is a file; with the S3 backend one of at most
//! `store_core::blob::MAX_INLINE` (16 KiB: the chat message) is kept in
//! PostgreSQL and a larger one (the 100 KB message) is an S3 object.
//! Every acknowledged APPEND is counted again afterwards with STATUS
//! through another node.
//!
//! FETCH: `UID FETCH uid BODY[]` of random messages of a folder `Fetch`
//! of 1,000 (every tenth the 100 KB message), written through node 1,
//! from 1 and from 8 clients (on three nodes, through nodes 2 and 3
//! only), each answer compared with what was appended; p50 and p99 per
//! kind. The CPU time of cpm-store, PostgreSQL, moto_server and the
//! whole machine during each load is reported beside the figures.
//!
//! The table goes to stderr and `<results dir>/cluster.md`, the figures
//! to results.json (section `cluster`). The cluster is started with
//! `scripts/cluster.sh up <work>/cluster` after the redb run (so it does
//! not run beside it) and stopped at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use base64::Engine as _;

use crate::append::load_time;
use crate::fixtures::{self, Fixture, PASSWORD};
use crate::imap::Client;
use crate::results::{this_machine, Machine, Measure};
use crate::server::{admin_get, parse_metrics, Server};
use crate::{throughput_runtime, Ctx};

/// The APPEND client counts.
pub const CLIENTS: [usize; 2] = [8, 32];
/// The FETCH client counts (1: the latency without queueing; 8: the
/// issue's).
pub const FETCH_CLIENTS: [usize; 2] = [1, 8];
/// Messages in the folder `Fetch`.
pub const FETCH_FOLDER_SIZE: u32 = 1_000;
/// Every this many messages of `Fetch` is the file-transfer message.
const FILE_EVERY: u32 = 10;
/// The folder FETCH reads.
const FETCH_FOLDER: &str = "Fetch";
/// The account that holds `Fetch` (also APPEND client 1's).
const FETCH_ACCOUNT: &str = "cb01";
/// Untimed FETCHes of each client before its timed ones.
const FETCH_WARMUP: usize = 20;
/// Raw bytes of the file-transfer message's attachment (base64: ~100 KB).
const FILE_RAW_BYTES: usize = 75_000;
/// Longest wait for a count written through one node to show on another.
const CONVERGE: Duration = Duration::from_secs(10);

/// The login of APPEND client `i` (0-based).
fn account(i: usize) -> String {
    format!("cb{:02}", i + 1)
}

/// The two message kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `store_core::bench_message`: a short text message (~0.7 KB).
    Chat,
    /// A 100 KB message with an image/jpeg attachment (a file transfer).
    File,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Chat => "chat",
            Kind::File => "file",
        }
    }
}

/// The file-transfer message: headers, a short text part and a
/// base64 image/jpeg part of [`FILE_RAW_BYTES`] deterministic
/// pseudo-random bytes (incompressible, as a photo is).
pub fn file_message() -> Vec<u8> {
    let mut state = 0x5eed_u64;
    let raw: Vec<u8> = (0..FILE_RAW_BYTES)
        .map(|_| (splitmix(&mut state) >> 56) as u8)
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    let mut body = String::with_capacity(b64.len() + b64.len() / 76 * 2 + 1024);
    body.push_str(
        "From: Sender <sender@example.com>\r\n\
To: Bench <bench@example.com>\r\n\
Subject: photo\r\n\
Date: Mon, 30 Nov 2026 08:00:00 +0000\r\n\
Message-ID: <bench-file@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Here is the photo.\r\n\
--b1\r\n\
Content-Type: image/jpeg\r\n\
Content-Disposition: attachment; filename=\"photo.jpg\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n",
    );
    for line in b64.as_bytes().chunks(76) {
        body.push_str(&String::from_utf8_lossy(line));
        body.push_str("\r\n");
    }
    body.push_str("--b1--\r\n");
    body.into_bytes()
}

/// `message` with an `X-Bench-Id: id` header first: every APPEND's
/// content differs, as real messages do, so no two are one blob (one S3
/// key written by concurrent PUTs, which moto_server 5.2.1 sometimes
/// answers with 500, "I/O operation on closed file").
pub fn unique(message: &[u8], id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + id.len() + 16);
    out.extend_from_slice(format!("X-Bench-Id: {id}\r\n").as_bytes());
    out.extend_from_slice(message);
    out
}

/// splitmix64: the next pseudo-random value of `state`.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The value at percentile `p` (0–100, nearest rank) of sorted `samples`.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64) * p / 100.0).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The processes a load's CPU time is charged to: the cpm-store nodes,
/// PostgreSQL (the postmaster and its children), the S3 server.
#[derive(Debug, Clone, Default)]
struct Cpu {
    store: Vec<u32>,
    postgres: Option<u32>,
    s3: Option<u32>,
}

/// CPU seconds so far: cpm-store, PostgreSQL, S3, the whole machine.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTimes([f64; 4]);

/// Cores kept busy over a window: [`CpuTimes`] differences over its
/// wall time.
#[derive(Debug, Clone, Copy, Default)]
struct Usage([f64; 4]);

/// Names of [`Usage`]'s parts in a measure's extras.
const USAGE_KEYS: [&str; 4] = ["cpu_store", "cpu_postgres", "cpu_s3", "cpu_machine"];

/// Clock ticks per second of /proc's CPU times.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// (parent pid, utime + stime in ticks) of `/proc/<pid>/stat`.
fn proc_stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((f.get(1)?.parse().ok()?, ticks))
}

impl Cpu {
    fn times(&self) -> CpuTimes {
        let tick = clock_ticks();
        let of = |pids: &[u32]| {
            pids.iter()
                .filter_map(|&p| proc_stat(p))
                .map(|(_, t)| t as f64 / tick)
                .sum::<f64>()
        };
        let postgres = self.postgres.map_or(0.0, |pm| {
            let mut pids = vec![pm];
            if let Ok(dir) = std::fs::read_dir("/proc") {
                pids.extend(
                    dir.flatten()
                        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                        .filter(|&p| proc_stat(p).is_some_and(|(ppid, _)| ppid == pm)),
                );
            }
            of(&pids)
        });
        // The first line of /proc/stat: user nice system idle iowait ...
        let machine = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| {
                let v: Vec<f64> = t
                    .lines()
                    .next()?
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|x| x.parse().ok())
                    .collect();
                let idle = v.get(3)? + v.get(4)?;
                Some((v.iter().sum::<f64>() - idle) / tick)
            })
            .unwrap_or(0.0);
        CpuTimes([
            of(&self.store),
            postgres,
            self.s3.map_or(0.0, |p| of(&[p])),
            machine,
        ])
    }
}

impl CpuTimes {
    /// The cores busy from `self` to `later` over `secs`.
    fn usage(self, later: CpuTimes, secs: f64) -> Usage {
        let mut u = [0.0; 4];
        for (i, x) in u.iter_mut().enumerate() {
            *x = (later.0[i] - self.0[i]).max(0.0) / secs.max(1e-9);
        }
        Usage(u)
    }
}

impl Usage {
    /// `m` with this usage in its extras.
    fn on(self, mut m: Measure) -> Measure {
        for (k, v) in USAGE_KEYS.iter().zip(self.0) {
            m = m.with(k, v);
        }
        m
    }
}

/// One configuration under test.
struct Target {
    /// `redb-1`, `pg-s3-1`, `pg-s3-3` (results.json's `server`).
    key: &'static str,
    /// The IMAP listeners APPEND clients go to, round-robin.
    append: Vec<SocketAddr>,
    /// The IMAP listeners FETCH clients go to, round-robin.
    readers: Vec<SocketAddr>,
    /// Every running node's admin listener and token (for /metrics).
    admins: Vec<(SocketAddr, String)>,
    /// Its processes.
    cpu: Cpu,
}

/// The cluster-wide commit count: the sum of every node's
/// `cpm_store_commits_total`.
fn commits(admins: &[(SocketAddr, String)]) -> Result<f64> {
    let mut total = 0.0;
    for (addr, token) in admins {
        let (status, body) = admin_get(*addr, "/metrics", token)?;
        ensure!(status == 200, "/metrics of {addr} answered {status}");
        total += parse_metrics(&body)
            .get("cpm_store_commits_total")
            .copied()
            .unwrap_or(0.0);
    }
    Ok(total)
}

/// `cpm-store account add LOGIN --password-stdin --config CONFIG` (through
/// the running server's admin endpoint).
fn add_account(binary: &Path, config: &Path, login: &str) -> Result<()> {
    use std::io::Write;
    let mut child = Command::new(binary)
        .args(["account", "add", login, "--password-stdin", "--config"])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("start {}", binary.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        writeln!(stdin, "{PASSWORD}")?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if !err.contains("exists") {
            bail!("account add {login}: {}", err.trim());
        }
    }
    Ok(())
}

/// `STATUS INBOX (MESSAGES)` on `c`.
async fn inbox_messages(c: &mut Client) -> Result<u64> {
    let r = c.run("STATUS INBOX (MESSAGES)").await?;
    r.untagged
        .iter()
        .find_map(|l| {
            let l = std::str::from_utf8(l).ok()?;
            let at = l.find("MESSAGES ")? + "MESSAGES ".len();
            let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .context("STATUS gave no MESSAGES")
}

/// `clients` connections, client `i` as account `i` on `addrs[i % n]`,
/// APPENDing `message` to INBOX for `time`; then each account's INBOX
/// is counted through the next node (`addrs[(i + 1) % n]`) until it holds
/// every acknowledged APPEND (fails after [`CONVERGE`]). The appends
/// done, the seconds from the start of the load to the last answer
/// (logins and counts not included), and the CPU used meanwhile.
async fn append_load(
    cpu: &Cpu,
    addrs: &[SocketAddr],
    clients: usize,
    message: Arc<Vec<u8>>,
    time: Duration,
) -> Result<(u64, f64, Usage)> {
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut c = Client::login(addrs[i % addrs.len()], &account(i), PASSWORD).await?;
        let before = inbox_messages(&mut c).await?;
        conns.push((c, before));
    }
    let cpu_before = cpu.times();
    let started = Instant::now();
    let deadline = started + time;
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, (mut c, before))| {
            let message = message.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    c.append("INBOX", &unique(&message, &format!("{i}-{n}")))
                        .await?;
                    n += 1;
                }
                let ended = Instant::now();
                c.run("LOGOUT").await.ok();
                anyhow::Ok((before, n, ended))
            })
        })
        .collect();
    let mut done = Vec::with_capacity(clients);
    let mut ended = started;
    for t in tasks {
        let (before, n, end) = t.await??;
        ended = ended.max(end);
        done.push((before, n));
    }
    let secs = ended.duration_since(started).as_secs_f64();
    let usage = cpu_before.usage(cpu.times(), started.elapsed().as_secs_f64());
    for (i, &(before, n)) in done.iter().enumerate() {
        let mut c = Client::login(addrs[(i + 1) % addrs.len()], &account(i), PASSWORD).await?;
        let wanted = before + n;
        let started = Instant::now();
        loop {
            let now = inbox_messages(&mut c).await?;
            if now == wanted {
                break;
            }
            ensure!(
                now < wanted && started.elapsed() < CONVERGE,
                "{}: INBOX holds {now} messages, {before} before and {n} APPENDs acknowledged",
                account(i)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        c.run("LOGOUT").await.ok();
    }
    Ok((done.iter().map(|&(_, n)| n).sum(), secs, usage))
}

/// What `Fetch` holds: UID → (kind, the message).
type Folder = Arc<BTreeMap<u32, (Kind, Arc<Vec<u8>>)>>;

/// Creates `Fetch` in [`FETCH_ACCOUNT`] through `writer` and APPENDs
/// [`FETCH_FOLDER_SIZE`] messages from 8 connections (message `i` is the
/// file message when `i % FILE_EVERY == 0`); the UIDs from APPENDUID.
async fn fill_fetch_folder(writer: SocketAddr, file: Arc<Vec<u8>>) -> Result<Folder> {
    let mut c = Client::login(writer, FETCH_ACCOUNT, PASSWORD).await?;
    c.run(&format!("CREATE {FETCH_FOLDER}")).await?;
    c.run("LOGOUT").await.ok();
    let writers = 8u32;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let file = file.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::login(writer, FETCH_ACCOUNT, PASSWORD).await?;
            let mut out = Vec::new();
            for i in (w..FETCH_FOLDER_SIZE).step_by(writers as usize) {
                let (kind, message) = if i % FILE_EVERY == 0 {
                    (Kind::File, Arc::new(unique(&file, &format!("fetch-{i}"))))
                } else {
                    (Kind::Chat, Arc::new(store_core::bench_message(i)))
                };
                let r = c.append(FETCH_FOLDER, &message).await?;
                let uid: u32 = r
                    .code("APPENDUID")
                    .and_then(|v| v.split(' ').nth(1)?.parse().ok())
                    .context("APPEND gave no APPENDUID")?;
                out.push((uid, (kind, message)));
            }
            c.run("LOGOUT").await.ok();
            anyhow::Ok(out)
        }));
    }
    let mut folder = BTreeMap::new();
    for t in tasks {
        folder.extend(t.await??);
    }
    ensure!(folder.len() == FETCH_FOLDER_SIZE as usize, "duplicate UIDs");
    Ok(Arc::new(folder))
}

/// FETCH latencies in ms by kind, sorted.
type Latencies = BTreeMap<&'static str, Vec<f64>>;

/// `clients` connections, client `i` on `readers[i % n]`, each
/// SELECTing `Fetch` (waiting until it shows every message: it was
/// written through another node) and then, for `time`, `UID FETCH uid
/// BODY[]` of random messages, each answer checked against the message
/// appended. The latencies by kind (the first [`FETCH_WARMUP`] of each
/// client not kept), and the CPU used meanwhile.
async fn fetch_load(
    cpu: &Cpu,
    readers: &[SocketAddr],
    clients: usize,
    folder: Folder,
    time: Duration,
) -> Result<(Latencies, Usage)> {
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut c = Client::login(readers[i % readers.len()], FETCH_ACCOUNT, PASSWORD).await?;
        let started = Instant::now();
        loop {
            let exists = c
                .run(&format!("EXAMINE {FETCH_FOLDER}"))
                .await?
                .number_before("EXISTS")
                .unwrap_or(0);
            if exists == u64::from(FETCH_FOLDER_SIZE) {
                break;
            }
            ensure!(
                started.elapsed() < CONVERGE,
                "{FETCH_FOLDER} shows {exists} messages on {}",
                readers[i % readers.len()]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        conns.push(c);
    }
    let uids: Arc<Vec<u32>> = Arc::new(folder.keys().copied().collect());
    let cpu_before = cpu.times();
    let started = Instant::now();
    let deadline = started + time;
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            let (uids, folder) = (uids.clone(), folder.clone());
            tokio::spawn(async move {
                let mut state = 0xfe7c_u64 + i as u64;
                let mut out = Latencies::new();
                let mut n = 0usize;
                while n < FETCH_WARMUP || Instant::now() < deadline {
                    let uid = uids[(splitmix(&mut state) % uids.len() as u64) as usize];
                    let (kind, message) = &folder[&uid];
                    let t = Instant::now();
                    let r = c.run(&format!("UID FETCH {uid} BODY[]")).await?;
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    let answer = r
                        .untagged
                        .iter()
                        .find(|l| l.windows(5).any(|w| w == b"FETCH"))
                        .context("UID FETCH gave no FETCH response")?;
                    ensure!(
                        answer.len() >= message.len()
                            && answer.windows(message.len()).any(|w| w == &message[..]),
                        "UID FETCH {uid} BODY[] is not the message appended"
                    );
                    if n >= FETCH_WARMUP {
                        out.entry(kind.key()).or_default().push(ms);
                    }
                    n += 1;
                }
                c.run("LOGOUT").await.ok();
                anyhow::Ok(out)
            })
        })
        .collect();
    let mut all = Latencies::new();
    for t in tasks {
        for (k, v) in t.await?? {
            all.entry(k).or_default().extend(v);
        }
    }
    let usage = cpu_before.usage(cpu.times(), started.elapsed().as_secs_f64());
    for v in all.values_mut() {
        v.sort_by(f64::total_cmp);
    }
    Ok((all, usage))
}

/// Runs the APPEND and FETCH loads on `target`: its measures.
fn measure(
    ctx: &Ctx,
    rt: &tokio::runtime::Runtime,
    target: &Target,
    folder: &Folder,
    file: &Arc<Vec<u8>>,
) -> Result<Vec<Measure>> {
    let mut out = Vec::new();
    let time = load_time(ctx.quick);
    for clients in FETCH_CLIENTS {
        let (lat, usage) = rt.block_on(fetch_load(
            &target.cpu,
            &target.readers,
            clients,
            folder.clone(),
            time,
        ))?;
        for (kind, v) in &lat {
            let (p50, p99) = (percentile(v, 50.0), percentile(v, 99.0));
            eprintln!(
                "  {} FETCH {kind} {clients} clients: p50 {p50:.2} ms, p99 {p99:.2} ms (n={})",
                target.key,
                v.len()
            );
            let mut m = Measure::new(
                "cluster",
                &format!("fetch_{kind}"),
                target.key,
                clients as u64,
                "ms",
                p50,
            )
            .with("p99", p99)
            .with("iterations", v.len() as f64);
            m.p90 = Some(percentile(v, 90.0));
            out.push(usage.on(m));
        }
    }
    for kind in [Kind::Chat, Kind::File] {
        let message = match kind {
            Kind::Chat => Arc::new(store_core::bench_message(7)),
            Kind::File => file.clone(),
        };
        for clients in CLIENTS {
            let before = commits(&target.admins)?;
            let (appends, secs, usage) = rt.block_on(append_load(
                &target.cpu,
                &target.append,
                clients,
                message.clone(),
                time,
            ))?;
            let commits = commits(&target.admins)? - before;
            let rate = appends as f64 / secs;
            eprintln!(
                "  {} APPEND {} {clients} clients: {rate:.0}/s ({appends} in {commits} commits)",
                target.key,
                kind.key()
            );
            out.push(
                usage.on(Measure::new(
                    "cluster",
                    &format!("append_{}", kind.key()),
                    target.key,
                    clients as u64,
                    "appends/s",
                    rate,
                )
                .with("appends", appends as f64)
                .with("commits", commits)
                .with("bytes", message.len() as f64)),
            );
        }
    }
    Ok(out)
}

/// `<results dir>/<name>`.
fn results_file(ctx: &Ctx, name: &str) -> PathBuf {
    ctx.results
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(name)
}

/// A cluster brought up by `scripts/cluster.sh up DIR`, brought down when
/// dropped.
struct Cluster {
    dir: PathBuf,
    env: BTreeMap<String, String>,
}

/// `scripts/cluster.sh` of this repository.
fn cluster_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cluster.sh")
}

/// The `KEY=value` lines of a cluster.env (values as printf %q writes
/// them: plain, or in single quotes).
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map_or_else(|| v.replace('\\', ""), str::to_string);
            Some((k.trim().to_string(), v))
        })
        .collect()
}

impl Cluster {
    /// `scripts/cluster.sh down DIR` (of an earlier run), a new DIR, then
    /// `up DIR` with `binary` (3 nodes).
    fn up(dir: &Path, binary: &Path) -> Result<Cluster> {
        let script = cluster_script();
        let _ = Command::new(&script).arg("down").arg(dir).status();
        let _ = std::fs::remove_dir_all(dir);
        let status = Command::new(&script)
            .arg("up")
            .arg(dir)
            .env("CPM_STORE", binary)
            .env("NODES", "3")
            .stdout(Stdio::null())
            .status()
            .context("run scripts/cluster.sh up")?;
        // Dropped (brought down) on any failure from here on.
        let mut cluster = Cluster {
            dir: dir.to_path_buf(),
            env: BTreeMap::new(),
        };
        ensure!(status.success(), "scripts/cluster.sh up failed");
        let text = std::fs::read_to_string(dir.join("cluster.env"))?;
        cluster.env = parse_env(&text);
        Ok(cluster)
    }

    fn get(&self, key: &str) -> Result<&str> {
        self.env
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("{key} missing from cluster.env"))
    }

    fn imap(&self, node: u32) -> Result<SocketAddr> {
        let v = self.get(&format!("NODE{node}_IMAP"))?;
        v.parse().with_context(|| format!("NODE{node}_IMAP={v}"))
    }

    fn pid(&self, node: u32) -> Result<u32> {
        let v = self.get(&format!("NODE{node}_PID"))?;
        v.parse().with_context(|| format!("NODE{node}_PID={v}"))
    }

    fn admin(&self, node: u32) -> Result<(SocketAddr, String)> {
        let v = self.get(&format!("NODE{node}_ADMIN"))?;
        let addr = v.parse().with_context(|| format!("NODE{node}_ADMIN={v}"))?;
        let data = PathBuf::from(self.get(&format!("NODE{node}_DATA"))?);
        let token = std::fs::read_to_string(data.join("admin.token")).unwrap_or_default();
        Ok((addr, token.trim().to_string()))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(cluster_script())
            .arg("down")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .status();
    }
}

/// The number on the first line of file `path` (a PID file).
fn first_number(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The first line of `program args`' output, or `?`.
fn output_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "?".into())
}

/// What the cluster runs on, for the notes under the table.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    pub postgres: String,
    pub fsync: String,
    pub synchronous_commit: String,
    pub moto: String,
    pub load_secs: u64,
}

/// The table of `measures` with the machine and setup notes (markdown).
pub fn render(machine: &Machine, setup: &Setup, measures: &[Measure]) -> String {
    let targets = [
        ("redb-1", "embedded (redb), 1 node"),
        (
            "pg-s3-1",
            "PostgreSQL + S3, 1 node (node 1; nodes 2, 3 idle)",
        ),
        ("pg-s3-3", "PostgreSQL + S3, 3 nodes"),
    ];
    // (op, size, label) of each row.
    let mut rows: Vec<(String, u64, String)> = Vec::new();
    for (kind, label) in [
        ("chat", "chat message (~0.7 KB)"),
        ("file", "100 KB message"),
    ] {
        for clients in CLIENTS {
            rows.push((
                format!("append_{kind}"),
                clients as u64,
                format!("APPEND {label}, {clients} clients"),
            ));
        }
    }
    for (kind, label) in [("chat", "chat message"), ("file", "100 KB message")] {
        for clients in FETCH_CLIENTS {
            let who = if clients == 1 { "client" } else { "clients" };
            rows.push((
                format!("fetch_{kind}"),
                clients as u64,
                format!("`UID FETCH n BODY[]`, {label}, {clients} {who}: p50 / p99"),
            ));
        }
    }
    let get = |op: &str, target: &str, size: u64| {
        measures
            .iter()
            .find(|m| m.section == "cluster" && m.op == op && m.server == target && m.size == size)
    };
    let extra = |m: &Measure, k: &str| m.extra.get(k).copied().unwrap_or(f64::NAN);
    let figure = |m: &Measure| {
        if m.op.starts_with("fetch") {
            format!(
                "{:.2} / {:.2} ms (n={:.0})",
                m.value,
                extra(m, "p99"),
                extra(m, "iterations")
            )
        } else {
            let commits = extra(m, "commits");
            if commits > 0.0 {
                format!(
                    "{:.0} appends/s ({:.1} per commit)",
                    m.value,
                    extra(m, "appends") / commits
                )
            } else {
                format!("{:.0} appends/s", m.value)
            }
        }
    };
    let cpu = |m: &Measure| {
        let [store, pg, s3, all] = USAGE_KEYS.map(|k| extra(m, k));
        if m.server.starts_with("redb") {
            format!("{store:.2} / – / – ({all:.2})")
        } else {
            format!("{store:.2} / {pg:.2} / {s3:.2} ({all:.2})")
        }
    };
    let table = |w: &mut String, cell: &dyn Fn(&Measure) -> String| {
        let _ = write!(w, "| |");
        for (_, label) in targets {
            let _ = write!(w, " {label} |");
        }
        let _ = writeln!(w, "\n|---|---|---|---|");
        for (op, size, label) in &rows {
            let _ = write!(w, "| {label} |");
            for (t, _) in targets {
                let text = get(op, t, *size).map_or_else(|| "–".to_string(), cell);
                let _ = write!(w, " {text} |");
            }
            let _ = writeln!(w);
        }
    };
    let mut w = String::new();
    let _ = writeln!(w, "## One node and three, embedded and PostgreSQL + S3\n");
    table(&mut w, &figure);
    let _ = writeln!(
        w,
        "\nCores kept busy during each load (CPU seconds over its wall time): \
cpm-store (all nodes) / PostgreSQL / moto_server, and in brackets the whole machine \
(the load client and whatever else ran); the chat and 100 KB FETCHes are one load (random messages of one folder), \
so their rows are the same:\n"
    );
    table(&mut w, &cpu);
    let _ = writeln!(
        w,
        "\nMachine: {}; {} cores (shared with other work while measured); {} RAM; {}; {}; git {}; {} ({} run, {} s per load).\n",
        machine.cpu,
        machine.cores,
        machine.ram,
        machine.kernel,
        machine.filesystem,
        machine.git,
        machine.date,
        machine.mode,
        setup.load_secs
    );
    let _ = writeln!(
        w,
        "Setup: everything on this one machine over loopback; the release `cpm-store`, \
driven over IMAP by `cpm-bench cluster` (its own client, on the same cores). \
Embedded: one node, redb with fsync, blobs in files of its data dir. \
PostgreSQL + S3: `scripts/cluster.sh` — PostgreSQL {} (private cluster, fsync={}, synchronous_commit={}, \
on the same disk), S3 is moto_server {} (an in-memory Python test server, not a production S3: \
S3 latency and throughput here are moto's), three `cpm-store serve` nodes on one database and one bucket. \
The one-node PostgreSQL + S3 column uses node 1 while nodes 2 and 3 run idle. \
On redb every APPENDed message is a file of the data dir; on PostgreSQL + S3 a message of at most 16 KiB \
(the chat message) is kept in PostgreSQL, a larger one (the 100 KB message) is an S3 object: a PUT per \
APPEND, a HEAD and ranged GETs per `FETCH BODY[]`.\n",
        setup.postgres, setup.fsync, setup.synchronous_commit, setup.moto
    );
    let _ = writeln!(
        w,
        "APPEND: each client its own connection and account, APPENDing one message after the other to INBOX \
for the load time, each made unique by an `X-Bench-Id` header (so each is a blob of its own, as real messages are); on three nodes client i goes to node i mod 3. Appends per commit: the commits of all nodes \
(`cpm_store_commits_total`). Every acknowledged APPEND was counted afterwards with STATUS through another node. \
FETCH: 1, then 8 connections of one account, `UID FETCH uid BODY[]` of random messages of a folder of \
{FETCH_FOLDER_SIZE} (every {FILE_EVERY}th the 100 KB message) written through node 1, the folder EXAMINEd \
(read-only: no \\Seen is set); on three nodes the readers go through nodes 2 and 3 only; each answer is compared \
with the message appended; {FETCH_WARMUP} untimed FETCHes per client first."
    );
    w
}

/// `cpm-bench cluster`.
pub fn run(ctx: &Ctx) -> Result<()> {
    let rt = throughput_runtime()?;
    let file = Arc::new(file_message());
    let mut measures = Vec::new();

    // 1. One node, embedded.
    {
        let (dir, _) = rt.block_on(fixtures::ensure(ctx, Fixture::Base))?;
        let server = Server::start(ctx, &dir, None, "")?;
        let config = ctx.work.join("cpm-store").join("cpm-store.toml");
        for i in 0..CLIENTS[1] {
            add_account(&ctx.binary, &config, &account(i))?;
        }
        let token = std::fs::read_to_string(server.data.join("admin.token")).unwrap_or_default();
        let imap = server.ports.imap;
        let target = Target {
            key: "redb-1",
            append: vec![imap],
            readers: vec![imap],
            admins: vec![(server.ports.admin, token.trim().to_string())],
            cpu: Cpu {
                store: vec![server.pid()],
                ..Cpu::default()
            },
        };
        let folder = rt.block_on(fill_fetch_folder(imap, file.clone()))?;
        measures.extend(measure(ctx, &rt, &target, &folder, &file)?);
        server.stop()?;
    }

    // 2 and 3. PostgreSQL + S3: node 1 alone, then all three.
    let cluster = Cluster::up(&ctx.work.join("cluster"), &ctx.binary)?;
    let config = PathBuf::from(cluster.get("NODE1_CONFIG")?);
    for i in 0..CLIENTS[1] {
        add_account(&ctx.binary, &config, &account(i))?;
    }
    let nodes = [cluster.imap(1)?, cluster.imap(2)?, cluster.imap(3)?];
    let admins = vec![cluster.admin(1)?, cluster.admin(2)?, cluster.admin(3)?];
    let cpu = Cpu {
        store: vec![cluster.pid(1)?, cluster.pid(2)?, cluster.pid(3)?],
        postgres: first_number(&cluster.dir.join("pg/pgdata/postmaster.pid")),
        s3: first_number(&cluster.dir.join("s3/pid")),
    };
    let folder = rt.block_on(fill_fetch_folder(nodes[0], file.clone()))?;
    let one = Target {
        key: "pg-s3-1",
        append: vec![nodes[0]],
        readers: vec![nodes[0]],
        admins: admins.clone(),
        cpu: cpu.clone(),
    };
    measures.extend(measure(ctx, &rt, &one, &folder, &file)?);
    let three = Target {
        key: "pg-s3-3",
        append: nodes.to_vec(),
        readers: nodes[1..].to_vec(),
        admins,
        cpu,
    };
    measures.extend(measure(ctx, &rt, &three, &folder, &file)?);

    let pg = cluster.get("PG_URL")?.to_string();
    let show = |what: &str| output_line("psql", &[&pg, "-Atc", &format!("SHOW {what}")]);
    let setup = Setup {
        postgres: show("server_version"),
        fsync: show("fsync"),
        synchronous_commit: show("synchronous_commit"),
        moto: output_line("python3", &["-c", "import moto; print(moto.__version__)"]),
        load_secs: load_time(ctx.quick).as_secs(),
    };
    drop(cluster);

    let machine = this_machine(ctx.quick);
    let text = render(&machine, &setup, &measures);
    eprintln!("\n{text}");
    let path = results_file(ctx, "cluster.md");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, &text).with_context(|| format!("write {}", path.display()))?;
    eprintln!("written to {}", path.display());
    ctx.record(|r| {
        for m in measures {
            r.put(m);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 100.0);
        assert_eq!(percentile(&v, 99.0), 198.0);
        assert_eq!(percentile(&[4.0], 99.0), 4.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn the_file_message_is_a_blob_and_well_formed() {
        let m = file_message();
        assert!(m.len() as u64 > store_core::blob::MAX_INLINE);
        assert!((95_000..110_000).contains(&m.len()), "{}", m.len());
        assert!(m.ends_with(b"--b1--\r\n"));
        assert!(m.split(|&b| b == b'\n').all(|l| l.len() <= 78));
        assert!((store_core::bench_message(7).len() as u64) < store_core::blob::MAX_INLINE);
        let u = unique(&m, "3-14");
        assert!(u.starts_with(b"X-Bench-Id: 3-14\r\nFrom: "));
        assert!(u.ends_with(&m));
    }

    #[test]
    fn cluster_env_lines() {
        let env = parse_env(
            "# scripts/cluster.sh up /tmp/c\nNODES=3\nNODE1_IMAP=127.0.0.1:4001\n\
NODE1_CONFIG=/tmp/c/node1/cpm-store.toml\nPG_URL='postgresql://a b@x/cpm'\nNODE2_DATA=/tmp/my\\ dir\n",
        );
        assert_eq!(env["NODES"], "3");
        assert_eq!(env["NODE1_IMAP"], "127.0.0.1:4001");
        assert_eq!(env["NODE1_CONFIG"], "/tmp/c/node1/cpm-store.toml");
        assert_eq!(env["PG_URL"], "postgresql://a b@x/cpm");
        assert_eq!(env["NODE2_DATA"], "/tmp/my dir");
        assert!(!env.contains_key("# scripts/cluster.sh up /tmp/c"));
    }

    #[test]
    fn the_table_has_a_column_per_configuration() {
        let ms = vec![
            Measure::new("cluster", "append_chat", "redb-1", 8, "appends/s", 950.0)
                .with("appends", 4750.0)
                .with("commits", 950.0)
                .with("cpu_store", 0.8)
                .with("cpu_machine", 1.5),
            Usage([0.25, 0.125, 0.5, 1.75]).on(Measure::new(
                "cluster",
                "fetch_file",
                "pg-s3-3",
                8,
                "ms",
                3.25,
            )
            .with("p99", 12.5)
            .with("iterations", 640.0)),
        ];
        let text = render(&Machine::default(), &Setup::default(), &ms);
        // The first table's row, then the CPU table's.
        let rows = |start: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.starts_with(start))
                .map(str::to_string)
                .collect()
        };
        let row = |start: &str| rows(start).first().cloned().unwrap_or_default();
        assert_eq!(
            row("| APPEND chat message (~0.7 KB), 8 clients |"),
            "| APPEND chat message (~0.7 KB), 8 clients | 950 appends/s (5.0 per commit) | – | – |"
        );
        assert_eq!(
            row("| `UID FETCH n BODY[]`, 100 KB message, 8 clients"),
            "| `UID FETCH n BODY[]`, 100 KB message, 8 clients: p50 / p99 | – | – | 3.25 / 12.50 ms (n=640) |"
        );
        assert_eq!(
            rows("| APPEND chat message (~0.7 KB), 8 clients |")[1],
            "| APPEND chat message (~0.7 KB), 8 clients | 0.80 / – / – (1.50) | – | – |"
        );
        assert_eq!(
            rows("| `UID FETCH n BODY[]`, 100 KB message, 8 clients")[1],
            "| `UID FETCH n BODY[]`, 100 KB message, 8 clients: p50 / p99 | – | – | 0.25 / 0.12 / 0.50 (1.75) |"
        );
        assert!(text.contains("moto_server"));
        assert!(text.contains("in-memory Python test server"));
    }
}
