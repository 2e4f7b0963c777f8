//! `cpm-bench imap`: the IMAP table (NOOP, FETCH of the last 50
//! ENVELOPEs, SEARCH UNSEEN, a pipelined STORE, SELECT, SELECT QRESYNC
//! after 1,000 changes) at each folder size, and `LIST "" "*"` /
//! `LIST "" "c0000%"` over accounts of many folders. The suites take any
//! IMAP server's address, so `peers` runs them against Dovecot too.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{ensure, Context, Result};

use crate::fixtures::{self, Fixture, LOGIN, PASSWORD};
use crate::imap::Client;
use crate::results::Measure;
use crate::server::Server;
use crate::timing::{summarize, Plan, Sampler, Summary};
use crate::{latency_cores, on_client_core, throughput_runtime, Ctx};

/// STOREs sent in one pipelined batch; the figure is per STORE.
pub const STORE_BATCH: u32 = 10;
/// Messages changed before the timed `SELECT (QRESYNC …)`.
pub const QRESYNC_CHANGES: u64 = 1_000;

/// A latency measure from a summary (ms, with p90 and the count).
pub fn latency(section: &str, op: &str, server: &str, size: u64, s: Summary) -> Measure {
    let mut m = Measure::new(section, op, server, size, "ms", s.median_ms)
        .with("iterations", s.iterations as f64);
    m.p90 = Some(s.p90_ms);
    m
}

/// The message operations on `INBOX` of `user` at `addr`, labelled
/// `server` and `size`.
pub async fn messages_suite(
    addr: SocketAddr,
    user: &str,
    password: &str,
    plan: Plan,
    server: &str,
    size: u64,
) -> Result<Vec<Measure>> {
    let mut out = Vec::new();
    let mut put = |op: &str, s: Summary| {
        eprintln!(
            "  {server} {size} {op}: {:.3} ms (p90 {:.3}, n={})",
            s.median_ms, s.p90_ms, s.iterations
        );
        out.push(latency("imap", op, server, size, s));
    };
    let mut c = Client::login(addr, user, password).await?;
    let selected = c.run("SELECT INBOX").await?;
    let exists = selected
        .number_before("EXISTS")
        .context("SELECT gave no EXISTS")?;
    ensure!(exists >= 50, "INBOX holds {exists} messages, fewer than 50");

    put("noop", timed(&mut c, plan, &["NOOP".into()]).await?);
    let fetch = format!("FETCH {}:* (ENVELOPE)", exists - 49);
    put(
        "fetch_last_50_envelope",
        timed(&mut c, plan, &[fetch]).await?,
    );
    put(
        "search_unseen",
        timed(&mut c, plan, &["SEARCH UNSEEN".into()]).await?,
    );
    let middle = exists / 2;
    let batch: Vec<String> = (0..STORE_BATCH)
        .map(|i| {
            let sign = if i % 2 == 0 { '+' } else { '-' };
            format!("STORE {middle} {sign}FLAGS.SILENT (\\Flagged)")
        })
        .collect();
    put("store_pipelined", timed(&mut c, plan, &batch).await?);
    put(
        "select",
        timed(&mut c, plan, &["SELECT INBOX".into()]).await?,
    );

    // QRESYNC: a second session knows the state, then 1,000 messages
    // change, then it reselects with (UIDVALIDITY HIGHESTMODSEQ).
    let mut q = Client::login(addr, user, password).await?;
    q.run("ENABLE QRESYNC").await?;
    let before = q.run("SELECT INBOX").await?;
    let validity = before.code("UIDVALIDITY").context("no UIDVALIDITY")?;
    let modseq = before.code("HIGHESTMODSEQ").context("no HIGHESTMODSEQ")?;
    let first = exists.saturating_sub(QRESYNC_CHANGES - 1).max(1);
    c.run(&format!("STORE {first}:* +FLAGS.SILENT ($BenchChanged)"))
        .await?;
    let reselect = format!("SELECT INBOX (QRESYNC ({validity} {modseq}))");
    // Interleaved with a plain reselect by the same session: what the
    // QRESYNC answer adds is judged against a SELECT timed under the same
    // conditions, not against the `select` run of seconds before.
    let (with, plain, added) = timed_pair(&mut q, plan, &reselect, "SELECT INBOX").await?;
    put("select_qresync_1000", with);
    put("select_beside_qresync", plain);
    put("select_qresync_added", added);
    c.run("LOGOUT").await.ok();
    q.run("LOGOUT").await.ok();
    Ok(out)
}

/// Times `commands` sent as one pipelined batch per iteration (one
/// command: its round trip), per command.
pub async fn timed(c: &mut Client, plan: Plan, commands: &[String]) -> Result<Summary> {
    let mut s = Sampler::new(plan, commands.len() as u32);
    while s.more() {
        let t = Instant::now();
        c.pipeline(commands).await?;
        s.done(t);
    }
    Ok(s.summary())
}

/// Times `a` and `b`, one round trip each, alternating: (a, b, a - b),
/// the last over the pairs (each `a` less the `b` right after it), which
/// a drift of both during the run does not move.
pub async fn timed_pair(
    c: &mut Client,
    plan: Plan,
    a: &str,
    b: &str,
) -> Result<(Summary, Summary, Summary)> {
    let mut sa = Sampler::new(plan, 1);
    let mut sb = Sampler::new(plan, 1);
    let mut differences = Vec::new();
    while sa.more() {
        let t = Instant::now();
        c.pipeline(&[a.to_string()]).await?;
        let took_a = t.elapsed();
        sa.done(t);
        let kept = sb.more() && sb.warmed_up();
        let t = Instant::now();
        c.pipeline(&[b.to_string()]).await?;
        if kept {
            differences.push((took_a.as_secs_f64() - t.elapsed().as_secs_f64()) * 1e3);
        }
        sb.done(t);
    }
    Ok((sa.summary(), sb.summary(), summarize(differences)))
}

/// `LIST "" "*"` and `LIST "" "c0000%"` in an account of `n` folders
/// `c00001`…; the narrow pattern must match 9.
pub async fn list_suite(
    addr: SocketAddr,
    user: &str,
    password: &str,
    plan: Plan,
    server: &str,
    n: u64,
) -> Result<Vec<Measure>> {
    let mut c = Client::login(addr, user, password).await?;
    let narrow = c.run("LIST \"\" \"c0000%\"").await?;
    ensure!(
        narrow.untagged.len() == 9,
        "{server}: LIST \"\" \"c0000%\" gave {} lines, not 9",
        narrow.untagged.len()
    );
    let all = c.run("LIST \"\" \"*\"").await?;
    ensure!(
        all.untagged.len() as u64 >= n,
        "{server}: LIST \"\" \"*\" gave {} lines for {n} folders",
        all.untagged.len()
    );
    let mut out = Vec::new();
    for (op, cmd) in [
        ("list_all", "LIST \"\" \"*\""),
        ("list_c0000%", "LIST \"\" \"c0000%\""),
    ] {
        let s = timed(&mut c, plan, &[cmd.to_string()]).await?;
        eprintln!("  {server} {n} folders {op}: {:.3} ms", s.median_ms);
        out.push(latency("list", op, server, n, s));
    }
    c.run("LOGOUT").await.ok();
    Ok(out)
}

/// Starts cpm-store on `fixture` pinned to the server core and runs
/// `suite` on the client core.
pub fn cpm_latency_run<F, Fut>(ctx: &Ctx, fixture: Fixture, suite: F) -> Result<Vec<Measure>>
where
    F: FnOnce(SocketAddr) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<Measure>>>,
{
    let (dir, _) = throughput_runtime()?.block_on(fixtures::ensure(ctx, fixture))?;
    let server = Server::start(ctx, &dir, latency_cores().map(|(s, _)| s), "")?;
    let addr = server.ports.imap;
    let measures = on_client_core(move || suite(addr));
    server.stop()?;
    measures
}

/// The message suite of cpm-store at `size`.
pub fn cpm_messages(ctx: &Ctx, size: u32) -> Result<Vec<Measure>> {
    let plan = ctx.plan();
    cpm_latency_run(ctx, Fixture::Messages(size), move |addr| async move {
        messages_suite(addr, LOGIN, PASSWORD, plan, "cpm-store", size.into()).await
    })
}

/// The LIST suite of cpm-store over `n` folders.
pub fn cpm_list(ctx: &Ctx, n: u32) -> Result<Vec<Measure>> {
    let plan = ctx.plan();
    cpm_latency_run(ctx, Fixture::Folders(n), move |addr| async move {
        list_suite(addr, LOGIN, PASSWORD, plan, "cpm-store", n.into()).await
    })
}

/// `cpm-bench imap`.
pub fn run(ctx: &Ctx) -> Result<()> {
    for &n in &ctx.sizes {
        let m = cpm_messages(ctx, n)?;
        ctx.record(|r| m.into_iter().for_each(|m| r.put(m)))?;
    }
    for &n in &ctx.folders {
        let m = cpm_list(ctx, n)?;
        ctx.record(|r| m.into_iter().for_each(|m| r.put(m)))?;
    }
    Ok(())
}
