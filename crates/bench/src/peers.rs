//! `cpm-bench peers`: the IMAP suites against a private Dovecot (maildir)
//! and the WebDAV suite against private nginx (+ dav-ext) and Apache
//! (mod_dav) instances, interleaved with cpm-store (A/B/A/B: each round
//! runs every server once; the figure is the median over rounds). The
//! configs are bench/peers/*.conf with `@WORK@` and `@PORT@` filled in.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::fixtures::PASSWORD;
use crate::imap_bench::{cpm_list, cpm_messages, list_suite, messages_suite};
use crate::results::Measure;
use crate::webdav::{self, Target};
use crate::{append, latency_cores, on_client_core, peers_dir, throughput_runtime, Ctx};

/// The Unix user Dovecot keeps the bench mail as.
const MAIL_USER: &str = "cpmbench";

/// Rounds of the interleaved runs.
fn rounds(quick: bool) -> usize {
    if quick {
        1
    } else {
        2
    }
}

/// One value per (section, op, server, size): the median of the rounds'
/// values (and of their p90s).
pub fn combine(rounds: Vec<Measure>) -> Vec<Measure> {
    let mut groups: BTreeMap<(String, String, String, u64), Vec<Measure>> = BTreeMap::new();
    for m in rounds {
        groups
            .entry((m.section.clone(), m.op.clone(), m.server.clone(), m.size))
            .or_default()
            .push(m);
    }
    let median = |mut v: Vec<f64>| -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    groups
        .into_values()
        .map(|ms| {
            let n = ms.len();
            let mut m = ms[0].clone();
            m.value = median(ms.iter().map(|m| m.value).collect());
            let p90s: Vec<f64> = ms.iter().filter_map(|m| m.p90).collect();
            m.p90 = (!p90s.is_empty()).then(|| median(p90s));
            m.extra.insert("rounds".into(), n as f64);
            m
        })
        .collect()
}

/// Writes `bench/peers/<name>` into `to` with the placeholders filled.
fn render(ctx: &Ctx, name: &str, port: u16, to: &Path) -> Result<()> {
    let text = std::fs::read_to_string(peers_dir().join(name))
        .with_context(|| format!("read bench/peers/{name}"))?;
    let text = text
        .replace("@WORK@", &ctx.work.to_string_lossy())
        .replace("@PORT@", &port.to_string());
    std::fs::write(to, text)?;
    Ok(())
}

fn run_ok(c: &mut Command) -> Result<()> {
    let out = c.output().with_context(|| format!("{c:?}"))?;
    if !out.status.success() {
        bail!("{c:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Waits until `addr` accepts TCP connections.
fn wait_port(addr: SocketAddr, child: &mut Child, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited with {status}");
        }
        if Instant::now() > deadline {
            bail!("{what} did not listen on {addr}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A peer process, stopped with SIGTERM when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Messages of a Dovecot user left unseen: the newest, as in cpm-store's
/// fixtures (about 50 of their newest 100 survive the churn).
const UNSEEN_NEWEST: u32 = 50;

/// The maildir file name of message `i` of `messages`, with flags (`S`
/// seen, `F` flagged) as Dovecot writes them: all seen but the newest
/// [`UNSEEN_NEWEST`].
fn maildir_name(i: u32, messages: u32) -> String {
    let mut flags = String::new();
    if i % 50 == 7 {
        flags.push('F');
    }
    if i + UNSEEN_NEWEST <= messages {
        flags.push('S');
    }
    format!("{i}.M{i}P1.cpm-bench:2,{flags}")
}

fn make_maildir(dir: &Path) -> Result<()> {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok(())
}

/// The mail of user `user`: INBOX of `messages` messages and folders
/// `c00001`… (`folders` of them), written straight as maildir files;
/// skipped if already complete.
fn dovecot_user(ctx: &Ctx, user: &str, messages: u32, folders: u32) -> Result<()> {
    let home = ctx.work.join("dovecot/home").join(user);
    let done = home.join(format!(".cpm-bench-complete-unseen{UNSEEN_NEWEST}"));
    if done.exists() {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(&home);
    let maildir = home.join("Maildir");
    make_maildir(&maildir)?;
    for i in 1..=messages {
        std::fs::write(
            maildir.join("cur").join(maildir_name(i, messages)),
            store_core::bench_message(i),
        )?;
    }
    for i in 1..=folders {
        make_maildir(&maildir.join(format!(".c{i:05}")))?;
    }
    run_ok(
        Command::new("chown")
            .arg("-R")
            .arg(format!("{MAIL_USER}:{MAIL_USER}"))
            .arg(&home),
    )?;
    std::fs::write(done, b"")?;
    Ok(())
}

/// Starts the private Dovecot (pinned to the server core) with a user
/// `m<n>` per message size and `f<n>` per folder count, then indexes
/// their mail (`doveadm index`) before anything is timed.
fn start_dovecot(ctx: &Ctx) -> Result<(Peer, SocketAddr)> {
    let version = Command::new("dovecot")
        .arg("--version")
        .output()
        .context("dovecot is missing: apt-get install -y dovecot-imapd")?;
    eprintln!(
        "  dovecot {}",
        String::from_utf8_lossy(&version.stdout).trim()
    );
    if !Command::new("id").arg(MAIL_USER).output()?.status.success() {
        run_ok(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            MAIL_USER,
        ]))?;
    }
    let base = ctx.work.join("dovecot");
    for d in ["run", "state", "home"] {
        std::fs::create_dir_all(base.join(d))?;
    }
    let port = ctx.port_base + 12;
    let conf = base.join("dovecot.conf");
    render(ctx, "dovecot.conf", port, &conf)?;
    let mut users = Vec::new();
    for &n in &ctx.sizes {
        users.push((format!("m{n}"), n, 0));
    }
    for &n in &ctx.folders {
        users.push((format!("f{n}"), 0, n));
    }
    let passwd: String = users
        .iter()
        .map(|(u, _, _)| format!("{u}:{{PLAIN}}{PASSWORD}::::::\n"))
        .collect();
    std::fs::write(base.join("passwd"), passwd)?;
    for (user, messages, folders) in &users {
        dovecot_user(ctx, user, *messages, *folders)?;
    }
    let mut command = match latency_cores() {
        Some((server, _)) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(server.to_string()).arg("dovecot");
            c
        }
        None => Command::new("dovecot"),
    };
    let mut child = command
        .arg("-F")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start dovecot")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_port(addr, &mut child, "dovecot")?;
    let peer = Peer(child);
    // doveadm finds the users through the running server's auth.
    for (user, _, _) in &users {
        let started = Instant::now();
        run_ok(
            Command::new("doveadm")
                .arg("-c")
                .arg(&conf)
                .args(["index", "-u", user, "*"]),
        )?;
        eprintln!("  dovecot user {user} indexed in {:.1?}", started.elapsed());
    }
    Ok((peer, addr))
}

/// The IMAP suites, cpm-store and Dovecot interleaved.
fn imap_peers(ctx: &Ctx) -> Result<()> {
    let (dovecot, addr) = start_dovecot(ctx)?;
    let plan = ctx.plan();
    let mut all = Vec::new();
    for _ in 0..rounds(ctx.quick) {
        for &n in &ctx.sizes {
            all.extend(cpm_messages(ctx, n)?);
            let user = format!("m{n}");
            all.extend(on_client_core(move || async move {
                messages_suite(addr, &user, PASSWORD, plan, "dovecot", n.into()).await
            })?);
        }
        for &n in &ctx.folders {
            all.extend(cpm_list(ctx, n)?);
            let user = format!("f{n}");
            all.extend(on_client_core(move || async move {
                list_suite(addr, &user, PASSWORD, plan, "dovecot", n.into()).await
            })?);
        }
    }
    let user = format!("m{}", ctx.sizes.first().copied().unwrap_or(1_000));
    let mut m = append::imaplib_latency(addr, &user, PASSWORD, ctx.quick)?;
    m.server = "dovecot".into();
    eprintln!("  dovecot imaplib APPEND: {:.2} ms", m.value);
    all.push(m);
    drop(dovecot);
    ctx.record(|r| combine(all).into_iter().for_each(|m| r.put(m)))
}

/// The tree nginx and Apache serve: the same files cpm-store gets.
fn www(ctx: &Ctx) -> Result<PathBuf> {
    let root = ctx.work.join("www");
    let _ = std::fs::remove_dir_all(&root);
    for d in ["media", "files", "put"] {
        std::fs::create_dir_all(root.join(d))?;
    }
    std::fs::write(root.join("media/big.bin"), webdav::big_file())?;
    for i in 0..webdav::FILES {
        std::fs::write(
            root.join(format!("files/f{i:04}.txt")),
            store_core::bench_message(i as u32),
        )?;
    }
    // nginx and Apache write as www-data.
    run_ok(
        Command::new("chown")
            .args(["-R", "www-data:www-data"])
            .arg(root.join("put")),
    )?;
    Ok(root)
}

fn start_nginx(ctx: &Ctx) -> Result<(Peer, SocketAddr)> {
    let dir = ctx.work.join("nginx");
    std::fs::create_dir_all(&dir)?;
    let port = ctx.port_base + 10;
    render(ctx, "nginx.conf", port, &dir.join("nginx.conf"))?;
    let mut child = Command::new("nginx")
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("nginx is missing: apt-get install -y nginx libnginx-mod-http-dav-ext")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_port(addr, &mut child, "nginx")?;
    Ok((Peer(child), addr))
}

fn start_apache(ctx: &Ctx) -> Result<(Peer, SocketAddr)> {
    let dir = ctx.work.join("apache");
    std::fs::create_dir_all(dir.join("lock"))?;
    run_ok(
        Command::new("chown")
            .args(["-R", "www-data:www-data"])
            .arg(dir.join("lock")),
    )?;
    let port = ctx.port_base + 11;
    render(ctx, "apache2.conf", port, &dir.join("apache2.conf"))?;
    let mut child = Command::new("apache2")
        .arg("-f")
        .arg(dir.join("apache2.conf"))
        .arg("-DFOREGROUND")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("apache2 is missing: apt-get install -y apache2")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_port(addr, &mut child, "apache2")?;
    Ok((Peer(child), addr))
}

/// The WebDAV suite, cpm-store, nginx and Apache interleaved.
fn webdav_peers(ctx: &Ctx) -> Result<()> {
    www(ctx)?;
    let rt = throughput_runtime()?;
    let conns = webdav::connections(ctx.quick);
    let time = append::load_time(ctx.quick);
    let mut peers = Vec::new();
    for (name, start) in [
        (
            "nginx",
            start_nginx as fn(&Ctx) -> Result<(Peer, SocketAddr)>,
        ),
        ("apache", start_apache),
    ] {
        match start(ctx) {
            Ok((peer, addr)) => peers.push((
                peer,
                Target {
                    addr,
                    prefix: String::new(),
                    auth: None,
                    server: name.into(),
                },
            )),
            Err(e) => eprintln!("  {name} skipped: {e:#}"),
        }
    }
    let mut all = Vec::new();
    for _ in 0..rounds(ctx.quick) {
        let (server, t) = webdav::start_cpm(ctx, &rt)?;
        all.extend(rt.block_on(webdav::suite(&t, conns, time))?);
        server.stop()?;
        for (_, t) in &peers {
            all.extend(rt.block_on(webdav::suite(t, conns, time))?);
        }
    }
    drop(peers);
    ctx.record(|r| combine(all).into_iter().for_each(|m| r.put(m)))
}

/// `cpm-bench peers`.
pub fn run(ctx: &Ctx) -> Result<()> {
    let imap = imap_peers(ctx);
    if let Err(e) = &imap {
        eprintln!("  IMAP peers failed: {e:#}");
    }
    webdav_peers(ctx)?;
    imap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_combine_to_their_median() {
        let m = |v: f64, p: f64| {
            let mut m = Measure::new("imap", "noop", "dovecot", 1000, "ms", v);
            m.p90 = Some(p);
            m
        };
        let other = Measure::new("imap", "noop", "cpm-store", 1000, "ms", 5.0);
        let out = combine(vec![m(1.0, 2.0), other, m(3.0, 4.0)]);
        assert_eq!(out.len(), 2);
        let d = out.iter().find(|m| m.server == "dovecot").unwrap();
        assert_eq!((d.value, d.p90), (2.0, Some(3.0)));
        assert_eq!(d.extra["rounds"], 2.0);
    }

    #[test]
    fn maildir_flags_are_sorted() {
        assert_eq!(maildir_name(7, 1000), "7.M7P1.cpm-bench:2,FS");
        assert_eq!(maildir_name(950, 1000), "950.M950P1.cpm-bench:2,S");
        assert_eq!(maildir_name(951, 1000), "951.M951P1.cpm-bench:2,");
        assert_eq!(maildir_name(957, 1000), "957.M957P1.cpm-bench:2,F");
    }
}
