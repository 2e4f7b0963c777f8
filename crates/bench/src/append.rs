//! `cpm-bench append`: APPEND throughput at 1, 8, 32 and 64 clients (each
//! its own connection), with appends per commit from /metrics
//! (`cpm_store_operations_total`, `cpm_store_commits_total`), and the
//! APPEND latency of Python's imaplib (`bench/peers/imaplib_append.py`).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::fixtures::{self, Fixture, LOGIN, PASSWORD};
use crate::imap::Client;
use crate::results::Measure;
use crate::server::Server;
use crate::{throughput_runtime, Ctx};

/// The client counts of the throughput runs.
pub fn client_counts(quick: bool) -> Vec<usize> {
    if quick {
        vec![1, 8]
    } else {
        vec![1, 8, 32, 64]
    }
}

/// How long each load runs.
pub fn load_time(quick: bool) -> Duration {
    Duration::from_secs(if quick { 1 } else { 5 })
}

/// `clients` connections APPENDing to INBOX for `time`: the appends done.
pub async fn append_load(
    addr: SocketAddr,
    user: &str,
    password: &str,
    clients: usize,
    time: Duration,
) -> Result<u64> {
    let message: Arc<Vec<u8>> = Arc::new(store_core::bench_message(7));
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Client::login(addr, user, password).await?);
    }
    let deadline = Instant::now() + time;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let message = message.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    c.append("INBOX", &message).await?;
                    n += 1;
                }
                c.run("LOGOUT").await.ok();
                anyhow::Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total)
}

/// Runs imaplib_append.py against `addr`: (median, p90, n).
pub fn imaplib_latency(
    addr: SocketAddr,
    user: &str,
    password: &str,
    quick: bool,
) -> Result<Measure> {
    let script = crate::peers_dir().join("imaplib_append.py");
    let (count, warmup) = if quick { ("30", "5") } else { ("200", "20") };
    let out = Command::new("python3")
        .arg(script)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .args([user, password, count, warmup])
        .output()
        .context("run python3 bench/peers/imaplib_append.py")?;
    if !out.status.success() {
        bail!(
            "imaplib_append.py: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let median = v["median_ms"].as_f64().context("median_ms")?;
    let mut m = Measure::new("append", "imaplib_latency", "", 1, "ms", median)
        .with("iterations", v["n"].as_f64().unwrap_or(0.0));
    m.p90 = v["p90_ms"].as_f64();
    Ok(m)
}

/// `cpm-bench append`.
pub fn run(ctx: &Ctx) -> Result<()> {
    let rt = throughput_runtime()?;
    let (dir, _) = rt.block_on(fixtures::ensure(ctx, Fixture::Base))?;
    let server = Server::start(ctx, &dir, None, "")?;
    let addr = server.ports.imap;
    for clients in client_counts(ctx.quick) {
        let before = server.metrics()?;
        let started = Instant::now();
        let appends = rt.block_on(append_load(
            addr,
            LOGIN,
            PASSWORD,
            clients,
            load_time(ctx.quick),
        ))?;
        let secs = started.elapsed().as_secs_f64();
        let after = server.metrics()?;
        let delta =
            |k: &str| after.get(k).copied().unwrap_or(0.0) - before.get(k).copied().unwrap_or(0.0);
        let commits = delta("cpm_store_commits_total");
        let rate = appends as f64 / secs;
        eprintln!(
            "  append {clients} clients: {rate:.0}/s, {appends} appends in {commits} commits"
        );
        let m = Measure::new(
            "append",
            "throughput",
            "cpm-store",
            clients as u64,
            "appends/s",
            rate,
        )
        .with("appends", appends as f64)
        .with("commits", commits)
        .with(
            "appends_per_commit",
            if commits > 0.0 {
                appends as f64 / commits
            } else {
                0.0
            },
        );
        ctx.record(|r| r.put(m))?;
    }
    let mut m = imaplib_latency(addr, LOGIN, PASSWORD, ctx.quick)?;
    m.server = "cpm-store".into();
    eprintln!("  imaplib APPEND: {:.2} ms", m.value);
    ctx.record(|r| r.put(m))?;
    server.stop()
}
