//! `cpm-bench memory`: the server's VmRSS per logged-in IDLE connection
//! (idle, and selected on the largest message folder), and what is left
//! after a burst of simultaneous first logins.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;

use crate::fixtures::{self, Fixture, LOGIN, PASSWORD};
use crate::imap::Client;
use crate::results::Measure;
use crate::server::{proc_status_kb, Server};
use crate::{throughput_runtime, Ctx};

/// Most resident memory the server may reach while connections are
/// opened: past it no more are opened (a session selected on a large
/// folder may cost megabytes, and 1,000 of them must not exhaust RAM).
const RSS_LIMIT_KB: u64 = 4 << 20;

/// Logs in `n` connections (16 at a time), SELECTs INBOX on each if
/// `select`, and leaves each in IDLE; returns them (drop to close).
/// Stops early once process `pid` holds more than [`RSS_LIMIT_KB`].
async fn idle_connections(
    addr: SocketAddr,
    n: usize,
    select: bool,
    pid: u32,
) -> Result<Vec<Client>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n && proc_status_kb(pid, "VmRSS").unwrap_or(0) < RSS_LIMIT_KB {
        let batch = (n - out.len()).min(16);
        let tasks: Vec<_> = (0..batch)
            .map(|_| {
                tokio::spawn(async move {
                    let mut c = Client::login(addr, LOGIN, PASSWORD).await?;
                    if select {
                        c.run("SELECT INBOX").await?;
                    }
                    c.idle().await?;
                    anyhow::Ok(c)
                })
            })
            .collect();
        for t in tasks {
            out.push(t.await??);
        }
    }
    Ok(out)
}

/// kB of resident memory per connection: the server's VmRSS with `n`
/// IDLE connections open (fewer if it reached [`RSS_LIMIT_KB`]) minus
/// before, over their number; and that number.
fn per_connection(ctx: &Ctx, fixture: Fixture, n: usize, select: bool) -> Result<(f64, usize)> {
    let rt = throughput_runtime()?;
    let (dir, _) = rt.block_on(fixtures::ensure(ctx, fixture))?;
    let server = Server::start(ctx, &dir, None, "")?;
    // One session first, so what every connection shares (the login
    // cache, the folder's first read) is not counted per connection.
    let pid = server.pid();
    let warm = rt.block_on(idle_connections(server.ports.imap, 1, select, pid))?;
    std::thread::sleep(Duration::from_secs(1));
    let before = server.rss_kb()?;
    let conns = rt.block_on(idle_connections(server.ports.imap, n, select, pid))?;
    let opened = conns.len().max(1);
    std::thread::sleep(Duration::from_secs(2));
    let after = server.rss_kb()?;
    drop(conns);
    drop(warm);
    server.stop()?;
    Ok(((after as f64 - before as f64) / opened as f64, opened))
}

/// Logs in and out `n` connections at once; returns how many were
/// refused.
async fn logins(addr: SocketAddr, n: usize) -> u64 {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let mut c = Client::connect(addr).await?;
                let ok = c.run(&format!("LOGIN {LOGIN} {PASSWORD}")).await.is_ok();
                c.run("LOGOUT").await.ok();
                anyhow::Ok(ok)
            })
        })
        .collect();
    let mut refused = 0;
    for t in tasks {
        if !matches!(t.await, Ok(Ok(true))) {
            refused += 1;
        }
    }
    refused
}

/// A burst of `n` simultaneous connections logging in once and out:
/// (RSS before, peak, 30 s after) in kB, and the logins refused. Before
/// is measured after a first burst of 16, so that what the server keeps
/// whatever the load (the password checker's buffers, one per check
/// slot: 19 MiB each; the login cache) is not counted as growth.
fn burst(ctx: &Ctx, n: usize, settle: Duration) -> Result<(u64, u64, u64, u64)> {
    let rt = throughput_runtime()?;
    let (dir, _) = rt.block_on(fixtures::ensure(ctx, Fixture::Base))?;
    let server = Server::start(ctx, &dir, None, "")?;
    let addr = server.ports.imap;
    rt.block_on(logins(addr, 16));
    std::thread::sleep(Duration::from_secs(1));
    let before = server.rss_kb()?;
    let refused = rt.block_on(logins(addr, n));
    let peak = proc_status_kb(server.pid(), "VmHWM").unwrap_or(0);
    std::thread::sleep(settle);
    let after = server.rss_kb()?;
    server.stop()?;
    Ok((before, peak, after, refused))
}

/// `cpm-bench memory`.
pub fn run(ctx: &Ctx) -> Result<()> {
    let n = if ctx.quick { 100 } else { 1_000 };
    let (idle, opened) = per_connection(ctx, Fixture::Base, n, false)?;
    eprintln!("  {idle:.1} kB per idle connection ({opened})");
    ctx.record(|r| {
        r.put(Measure::new(
            "memory",
            "per_idle_connection",
            "cpm-store",
            opened as u64,
            "kB",
            idle,
        ))
    })?;
    if let Some(&largest) = ctx.sizes.iter().max() {
        let (selected, opened) = per_connection(ctx, Fixture::Messages(largest), n, true)?;
        eprintln!("  {selected:.1} kB per connection selected on {largest} ({opened})");
        ctx.record(|r| {
            r.put(
                Measure::new(
                    "memory",
                    "per_selected_connection",
                    "cpm-store",
                    largest.into(),
                    "kB",
                    selected,
                )
                .with("connections", opened as f64),
            )
        })?;
    }
    let (logins, settle) = if ctx.quick {
        (200, Duration::from_secs(5))
    } else {
        (2_000, Duration::from_secs(30))
    };
    let (before, peak, after, refused) = burst(ctx, logins, settle)?;
    let mib = |kb: u64| kb as f64 / 1024.0;
    let growth = mib(after.saturating_sub(before));
    eprintln!(
        "  burst of {logins}: RSS {:.0} → peak {:.0} → {:.0} MiB after {settle:?} ({refused} refused)",
        mib(before),
        mib(peak),
        mib(after)
    );
    ctx.record(|r| {
        r.put(
            Measure::new(
                "memory",
                "burst_lasting_growth",
                "cpm-store",
                logins as u64,
                "MiB",
                growth,
            )
            .with("rss_before_mib", mib(before))
            .with("peak_growth_mib", mib(peak.saturating_sub(before)))
            .with("rss_after_mib", mib(after))
            .with("settle_seconds", settle.as_secs_f64())
            .with("refused", refused as f64),
        )
    })
}
