//! The release `cpm-store` under test: a copy of a fixture, a generated
//! config on the bench's ports, started (optionally pinned to a core),
//! its /metrics and its resident memory.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::Ctx;

/// The ports of the server under test: base+0 IMAP, +1 IMAPS, +2 WebDAV,
/// +3 WebDAVS, +4 SIP UDP and TCP, +5 SIP TLS, +6 admin.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub imap: SocketAddr,
    pub webdav: SocketAddr,
    pub sip: SocketAddr,
    pub admin: SocketAddr,
    base: u16,
}

impl Ports {
    pub fn new(base: u16) -> Ports {
        let at = |i: u16| SocketAddr::from(([127, 0, 0, 1], base + i));
        Ports {
            imap: at(0),
            webdav: at(2),
            sip: at(4),
            admin: at(6),
            base,
        }
    }
}

/// A running `cpm-store serve`.
pub struct Server {
    child: Child,
    /// Its addresses.
    pub ports: Ports,
    /// Its data directory (a copy of the fixture).
    pub data: PathBuf,
}

/// Copies directory `from` to `to` (which must not exist).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .context("cp")?;
    if !status.success() {
        bail!("cp -a {} {} failed", from.display(), to.display());
    }
    Ok(())
}

/// One HTTP/1.1 GET on the admin endpoint: (status, body).
pub fn admin_get(addr: SocketAddr, path: &str, token: &str) -> Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Values of a Prometheus text exposition (`name value` lines).
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`).
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

impl Server {
    /// Copies `fixture` into the work dir, writes a config with the
    /// bench's ports plus `extra` (TOML), starts the release binary
    /// (`taskset -c <core>` when `pin` is given) and waits for /healthz.
    pub fn start(ctx: &Ctx, fixture: &Path, pin: Option<usize>, extra: &str) -> Result<Server> {
        let run = ctx.work.join("cpm-store");
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run)?;
        let data = run.join("data");
        copy_tree(fixture, &data)?;
        let ports = Ports::new(ctx.port_base);
        let b = ports.base;
        let config = format!(
            "[store]\ndata_dir = {data:?}\n\
[imap]\nlisten = [\"127.0.0.1:{b}\"]\nlisten_tls = [\"127.0.0.1:{}\"]\nmax_connections_per_account = 10000\n\
[webdav]\nlisten = [\"127.0.0.1:{}\"]\nlisten_tls = [\"127.0.0.1:{}\"]\n\
[sip]\nlisten_udp = [\"127.0.0.1:{}\"]\nlisten_tcp = [\"127.0.0.1:{}\"]\nlisten_tls = [\"127.0.0.1:{}\"]\n\
[admin]\nlisten = [\"{}\"]\n\
[log]\nlevel = \"warn\"\n\
[server]\nshutdown_grace_seconds = 5\nmax_connections = 10000\nmax_connections_per_ip = 10000\n{extra}\n",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 4,
            b + 5,
            ports.admin,
        );
        let config_path = run.join("cpm-store.toml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(run.join("server.log"))?;
        let mut command = match pin {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(&ctx.binary);
                c
            }
            None => Command::new(&ctx.binary),
        };
        let child = command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", ctx.binary.display()))?;
        let mut server = Server { child, ports, data };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = admin_get(ports.admin, "/healthz", "") {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "cpm-store exited with {status}; see {}",
                    run.join("server.log").display()
                );
            }
            if Instant::now() > deadline {
                bail!("cpm-store did not become healthy");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's process id (through taskset, which execs).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident memory in kB.
    pub fn rss_kb(&self) -> Result<u64> {
        proc_status_kb(self.pid(), "VmRSS").context("VmRSS")
    }

    /// Its /metrics, parsed.
    pub fn metrics(&self) -> Result<BTreeMap<String, f64>> {
        let token = std::fs::read_to_string(self.data.join("admin.token")).unwrap_or_default();
        let (status, body) = admin_get(self.ports.admin, "/metrics", token.trim())?;
        if status != 200 {
            bail!("/metrics answered {status}");
        }
        Ok(parse_metrics(&body))
    }

    /// SIGTERM, then waits (SIGKILL after 30 s).
    pub fn stop(mut self) -> Result<()> {
        self.terminate();
        Ok(())
    }

    fn terminate(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_lines() {
        let m = parse_metrics(
            "# HELP cpm_store_commits_total x\n# TYPE cpm_store_commits_total counter\n\
cpm_store_commits_total 12\ncpm_store_operations_total 180\nsip{transport=\"udp\"} 3\n",
        );
        assert_eq!(m["cpm_store_commits_total"], 12.0);
        assert_eq!(m["cpm_store_operations_total"], 180.0);
        assert_eq!(m["sip{transport=\"udp\"}"], 3.0);
    }
}
