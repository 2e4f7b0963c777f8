//! `cpm-bench sip`: durable CPIM deposits (tests/sipp/deposit.xml) at
//! fixed rates over UDP and TCP, with the failed calls and
//! retransmissions SIPp counts (`-trace_stat`), and the same against a
//! SIPp UAS that stores nothing (bench/peers/sipp_message_uas.xml).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::fixtures::{self, Fixture};
use crate::results::Measure;
use crate::server::Server;
use crate::{throughput_runtime, Ctx};

/// The rates asked for, per second.
pub fn rates(quick: bool) -> Vec<u64> {
    if quick {
        vec![400, 800]
    } else {
        vec![2_400, 3_200, 4_000, 4_800]
    }
}

/// The socket buffers of the SIPp client, in bytes (`-buff_size`).
const CLIENT_SOCKET_BUFFER: usize = 1024 * 1024;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sipp")
        .join(name)
}

/// The last line of a SIPp `-trace_stat` file as (column → value).
pub fn last_stats(csv: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next()?.split(';').collect();
    let last: Vec<&str> = lines.next_back()?.split(';').collect();
    Some(
        header
            .into_iter()
            .zip(last)
            .map(|(h, v)| (h.trim().to_string(), v.trim().to_string()))
            .collect(),
    )
}

/// One SIPp client run of deposit.xml: `rate` calls/s for `seconds`
/// over `transport` (`u1` or `t1`) from local port `port` to `target`.
/// Returns (calls/s achieved, failed, retransmissions).
fn deposit_run(
    ctx: &Ctx,
    target: SocketAddr,
    transport: &str,
    rate: u64,
    seconds: u64,
    port: u16,
    conv: &str,
) -> Result<(f64, f64, f64)> {
    let stats = ctx.work.join(format!("sipp-{conv}.csv"));
    let _ = std::fs::remove_file(&stats);
    let out = Command::new("sipp")
        .arg("-sf")
        .arg(scenario("deposit.xml"))
        .args(["-i", "127.0.0.1", "-nostdin", "-timeout"])
        .arg(format!("{}s", seconds + 60))
        .args(["-key", "conv", conv, "-t", transport])
        .args(["-r", &rate.to_string(), "-m", &(rate * seconds).to_string()])
        .args(["-l", &rate.to_string(), "-p", &port.to_string()])
        // The answers to one group commit leave together; in SIPp's
        // default 64 KiB socket buffer a burst of them overflowed, and
        // every retransmission counted was one of those drops (the
        // `drops` of SIPp's socket in /proc/net/udp, none on the
        // store's). A Conversation Server's proxy has a larger buffer.
        .args(["-buff_size", &CLIENT_SOCKET_BUFFER.to_string()])
        .args(["-trace_stat", "-fd", "1", "-stf"])
        .arg(&stats)
        .arg(target.to_string())
        .stdin(Stdio::null())
        .output()
        .context("run sipp (apt-get install sip-tester)")?;
    let text = std::fs::read_to_string(&stats).with_context(|| {
        format!(
            "no SIPp stats: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    let s = last_stats(&text).context("empty SIPp stats")?;
    let num = |k: &str| -> Result<f64> {
        s.get(k)
            .with_context(|| format!("no {k} in SIPp stats"))?
            .parse()
            .with_context(|| format!("{k} in SIPp stats"))
    };
    let done = num("SuccessfulCall(C)")?;
    let failed = num("FailedCall(C)")?;
    let retrans = num("Retransmissions(C)")?;
    let elapsed = s
        .get("ElapsedTime(C)")
        .and_then(|t| parse_elapsed(t))
        .unwrap_or(seconds as f64);
    Ok((done / elapsed.max(1e-3), failed, retrans))
}

/// SIPp's `HH:MM:SS:micro` (or `HH:MM:SS`) as seconds.
pub fn parse_elapsed(t: &str) -> Option<f64> {
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() < 3 {
        return None;
    }
    let h: f64 = parts[0].parse().ok()?;
    let m: f64 = parts[1].parse().ok()?;
    let s: f64 = parts[2].parse().ok()?;
    let frac = parts
        .get(3)
        .map(|f| format!("0.{f}").parse::<f64>().unwrap_or(0.0))
        .unwrap_or(0.0);
    Some(h * 3600.0 + m * 60.0 + s + frac)
}

/// The store-nothing UAS listening on `port`.
fn start_uas(transport: &str, port: u16, calls: u64) -> Result<Child> {
    let child = Command::new("sipp")
        .arg("-sf")
        .arg(crate::peers_dir().join("sipp_message_uas.xml"))
        .args(["-i", "127.0.0.1", "-nostdin", "-t", transport])
        .args(["-p", &port.to_string(), "-m", &calls.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start the SIPp UAS")?;
    std::thread::sleep(Duration::from_millis(500));
    Ok(child)
}

/// Prints and records one run's (calls/s, failed, retransmissions).
fn record(ctx: &Ctx, label: &str, server: &str, rate: u64, run: (f64, f64, f64)) -> Result<()> {
    let (done, failed, retrans) = run;
    eprintln!(
        "  {server} {label} {rate}/s: {done:.0}/s, {failed} failed, {retrans} retransmissions"
    );
    ctx.record(|r| {
        r.put(
            Measure::new("sip", label, server, rate, "calls/s", done)
                .with("failed", failed)
                .with("retransmissions", retrans),
        )
    })
}

/// `cpm-bench sip`.
pub fn run(ctx: &Ctx) -> Result<()> {
    if Command::new("sipp").arg("-v").output().is_err() {
        bail!("sipp is missing: apt-get install -y sip-tester");
    }
    let seconds = if ctx.quick { 2 } else { 10 };
    let client_port = ctx.port_base + 21;
    let uas_port = ctx.port_base + 22;
    let rt = throughput_runtime()?;
    let (dir, _) = rt.block_on(fixtures::ensure(ctx, Fixture::Base))?;
    let server = Server::start(ctx, &dir, None, "")?;
    for (transport, label) in [("u1", "udp"), ("t1", "tcp")] {
        for rate in rates(ctx.quick) {
            let conv = format!("bench-{label}-{rate}");
            let run = deposit_run(
                ctx,
                server.ports.sip,
                transport,
                rate,
                seconds,
                client_port,
                &conv,
            )?;
            record(ctx, label, "cpm-store", rate, run)?;
        }
    }
    server.stop()?;
    // The baseline: the highest rate only.
    let top = rates(ctx.quick).into_iter().max().unwrap_or(0);
    for (transport, label) in [("u1", "udp"), ("t1", "tcp")] {
        let mut uas = start_uas(transport, uas_port, top * seconds)?;
        let target = SocketAddr::from(([127, 0, 0, 1], uas_port));
        let result = deposit_run(
            ctx,
            target,
            transport,
            top,
            seconds,
            client_port,
            &format!("uas-{label}"),
        );
        let _ = uas.kill();
        let _ = uas.wait();
        record(ctx, label, "sipp-uas", top, result?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sipp_stat_lines() {
        let csv = "StartTime;ElapsedTime(C);SuccessfulCall(C);FailedCall(C);Retransmissions(C);\n\
2026-11-30\t10:00:00.000000;00:00:01:000000;100;0;0;\n\
2026-11-30\t10:00:02.000000;00:00:02:500000;250;1;7;\n";
        let s = last_stats(csv).unwrap();
        assert_eq!(s["SuccessfulCall(C)"], "250");
        assert_eq!(s["Retransmissions(C)"], "7");
        assert_eq!(parse_elapsed(&s["ElapsedTime(C)"]), Some(2.5));
        assert_eq!(parse_elapsed("01:02:03"), Some(3723.0));
    }
}
