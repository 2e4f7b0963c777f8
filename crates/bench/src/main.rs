//! `cpm-bench`: the benchmark driver of issue 16. It builds bulk-loaded
//! fixtures with store-core, starts the release `cpm-store` on them with
//! a generated config (ports from `--port-base`, 21400 by default), and
//! measures it from the client side: IMAP latencies with its own
//! pipelined client, WebDAV throughput with keep-alive hyper clients, SIP
//! deposits with SIPp, APPEND throughput and memory per connection. The
//! same IMAP and WebDAV runs go against Dovecot, nginx and Apache
//! (`peers`). Every figure goes to `<results>/results.json`; `report`
//! renders BENCHMARKS.md from it and from criterion's estimates.
//!
//! `scripts/bench.sh [--quick]` is the one command that runs it all.
//! Nothing here is a test: the test suite never times anything.

mod append;
mod cluster;
mod fixtures;
mod imap;
mod imap_bench;
mod memory;
mod peers;
mod report;
mod results;
mod server;
mod sip;
mod timing;
mod webdav;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::results::Results;

#[derive(Parser, Debug)]
#[command(
    name = "cpm-bench",
    about = "Benchmarks of cpm-store and its peers (issue 16)"
)]
struct Cli {
    /// A smoke run: the smallest sizes, few iterations, short loads.
    #[arg(long, global = true)]
    quick: bool,
    /// Folder sizes in messages (default 1000,10000,100000; --quick 1000).
    #[arg(long, global = true, value_delimiter = ',')]
    sizes: Vec<u32>,
    /// Folder counts of the LIST runs (default 1000,10000; --quick 1000).
    #[arg(long, global = true, value_delimiter = ',')]
    folders: Vec<u32>,
    /// The cargo target directory (fixtures, criterion estimates, the
    /// release binary).
    #[arg(long, global = true, default_value = "target")]
    target: PathBuf,
    /// The binary under test (default <target>/release/cpm-store).
    #[arg(long, global = true)]
    binary: Option<PathBuf>,
    /// Scratch directory of server copies and peers.
    #[arg(long, global = true, default_value = "/tmp/cpm-bench")]
    work: PathBuf,
    /// First of the ports used: cpm-store +0..+6, nginx +10, Apache +11,
    /// Dovecot +12, SIPp +20..+29.
    #[arg(long, global = true, default_value_t = 21400)]
    port_base: u16,
    /// The results file (default <target>/bench-results/results.json).
    #[arg(long, global = true)]
    results: Option<PathBuf>,
    /// Where `report` writes.
    #[arg(long, global = true, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    /// Builds (or finds cached) the fixtures: message folders of each
    /// size, folder accounts, the base accounts.
    Fixtures,
    /// IMAP latencies of cpm-store at each size, and LIST over the folder
    /// accounts.
    Imap,
    /// WebDAV GET 1 MiB, PROPFIND Depth 1 over 1,000 files, PUT.
    Webdav,
    /// SIP deposits with SIPp at fixed rates over UDP and TCP.
    Sip,
    /// APPEND throughput at 1, 8, 32, 64 clients, appends per commit;
    /// Python imaplib APPEND latency.
    Append,
    /// Memory per idle IMAP connection, and after a burst of logins.
    Memory,
    /// The IMAP and WebDAV runs against Dovecot, nginx and Apache,
    /// interleaved with cpm-store.
    Peers,
    /// Writes BENCHMARKS.md from the results and criterion's estimates.
    Report,
    /// APPEND throughput and FETCH latency on one embedded node, one
    /// PostgreSQL + S3 node and three (scripts/cluster.sh); writes
    /// `<results dir>/cluster.md`. Not part of `all`.
    Cluster,
    /// Everything above in order, then the report.
    All,
}

/// What every subcommand needs.
pub struct Ctx {
    pub quick: bool,
    pub sizes: Vec<u32>,
    pub folders: Vec<u32>,
    pub target: PathBuf,
    pub binary: PathBuf,
    pub work: PathBuf,
    pub port_base: u16,
    pub results: PathBuf,
    pub out: PathBuf,
}

impl Ctx {
    /// Loads the results, lets `f` add to them, and saves them.
    pub fn record(&self, f: impl FnOnce(&mut Results)) -> Result<()> {
        let mut r = Results::load(&self.results)?;
        f(&mut r);
        r.save(&self.results)
    }

    /// The latency plan of this run.
    pub fn plan(&self) -> timing::Plan {
        timing::Plan::new(self.quick)
    }
}

/// `bench/peers` of this repository (peer configs, imaplib_append.py).
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/peers")
}

/// The cores to pin the server and the client to in latency runs
/// (server on the first, client on the last), if there are two or more.
pub fn latency_cores() -> Option<(usize, usize)> {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    (n >= 2).then_some((0, n - 1))
}

/// Pins the calling thread to `core`.
fn pin_thread(core: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes
    // within it (core < CPU_SETSIZE is checked); sched_setaffinity(0)
    // only reads it.
    unsafe {
        if core >= libc::CPU_SETSIZE as usize {
            return;
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Runs the future made by `make` on a single-threaded runtime in a new
/// thread pinned to the client core (latency runs: the client never
/// competes with the pinned server for a core).
pub fn on_client_core<F, Fut, T>(make: F) -> Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        if let Some((_, client)) = latency_cores() {
            pin_thread(client);
        }
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(make())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the latency client panicked"))?
}

/// A multi-threaded runtime on every core (throughput runs, fixtures).
pub fn throughput_runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn run(ctx: &Ctx, cmd: Cmd) -> Result<()> {
    let started = Instant::now();
    match cmd {
        Cmd::Fixtures => throughput_runtime()?.block_on(build_fixtures(ctx))?,
        Cmd::Imap => imap_bench::run(ctx)?,
        Cmd::Webdav => webdav::run(ctx)?,
        Cmd::Sip => sip::run(ctx)?,
        Cmd::Append => append::run(ctx)?,
        Cmd::Memory => memory::run(ctx)?,
        Cmd::Peers => peers::run(ctx)?,
        Cmd::Report => return report::run(ctx),
        Cmd::Cluster => cluster::run(ctx)?,
        Cmd::All => {
            ctx.record(|r| *r = Results::default())?;
            for c in [
                Cmd::Fixtures,
                Cmd::Imap,
                Cmd::Webdav,
                Cmd::Sip,
                Cmd::Append,
                Cmd::Memory,
                Cmd::Peers,
            ] {
                // One part failing (a peer missing, a port taken) leaves
                // the others' figures; the report shows what is absent.
                if let Err(e) = run(ctx, c) {
                    eprintln!("cpm-bench {c:?} failed: {e:#}");
                }
            }
            run(ctx, Cmd::Report)?;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let quick = ctx.quick;
    ctx.record(|r| {
        r.machine = Some(results::this_machine(quick));
        r.durations.insert(format!("{cmd:?}").to_lowercase(), secs);
    })?;
    eprintln!("cpm-bench {cmd:?}: {secs:.1} s");
    Ok(())
}

async fn build_fixtures(ctx: &Ctx) -> Result<()> {
    use fixtures::Fixture;
    let wanted = std::iter::once(Fixture::Base)
        .chain(ctx.sizes.iter().map(|&n| Fixture::Messages(n)))
        .chain(ctx.folders.iter().map(|&n| Fixture::Folders(n)));
    for f in wanted {
        let (_, built) = fixtures::ensure(ctx, f).await?;
        if let Some(secs) = built {
            let (op, size) = match f {
                Fixture::Messages(n) => ("messages", n),
                Fixture::Folders(n) => ("folders", n),
                Fixture::Base => continue,
            };
            ctx.record(|r| {
                r.put(results::Measure::new(
                    "fixtures",
                    op,
                    "cpm-store",
                    size.into(),
                    "s",
                    secs,
                ))
            })?;
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let sizes = if !cli.sizes.is_empty() {
        cli.sizes
    } else if cli.quick {
        vec![1_000]
    } else {
        vec![1_000, 10_000, 100_000]
    };
    let folders = if !cli.folders.is_empty() {
        cli.folders
    } else if cli.quick {
        vec![1_000]
    } else {
        vec![1_000, 10_000]
    };
    let ctx = Ctx {
        quick: cli.quick,
        sizes,
        folders,
        binary: cli
            .binary
            .unwrap_or_else(|| cli.target.join("release").join("cpm-store")),
        results: cli
            .results
            .unwrap_or_else(|| cli.target.join("bench-results").join("results.json")),
        target: cli.target,
        work: cli.work,
        port_base: cli.port_base,
        out: cli.out,
    };
    std::fs::create_dir_all(&ctx.work).with_context(|| format!("create {}", ctx.work.display()))?;
    run(&ctx, cli.command)
}
