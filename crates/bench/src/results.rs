//! The JSON results every subcommand writes (`<results>/results.json`)
//! and `report` reads: one list of measures, each named by section,
//! operation, server and size.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// One figure: the median (and p90 where there is a distribution) of an
/// operation against one server at one size.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Measure {
    /// `imap`, `list`, `webdav`, `sip`, `append`, `memory`.
    pub section: String,
    /// The operation, e.g. `noop`, `get_1mib`, `udp_4000`.
    pub op: String,
    /// `cpm-store`, `dovecot`, `nginx`, `apache`, `sipp-uas`.
    pub server: String,
    /// Messages in the folder, folders in the account, clients, or the
    /// rate asked for; 0 where it does not apply.
    pub size: u64,
    /// Unit of `value` and `p90`: `ms`, `req/s`, `MiB/s`, `kB`, `MiB`,
    /// `calls/s`.
    pub unit: String,
    /// The median (or the rate, for throughput runs).
    pub value: f64,
    /// The 90th percentile, for latency runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90: Option<f64>,
    /// Further counts: `iterations`, `failed`, `retransmissions`,
    /// `appends_per_commit`, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, f64>,
}

impl Measure {
    /// A measure with no p90 or extras.
    pub fn new(section: &str, op: &str, server: &str, size: u64, unit: &str, value: f64) -> Self {
        Measure {
            section: section.into(),
            op: op.into(),
            server: server.into(),
            size,
            unit: unit.into(),
            value,
            p90: None,
            extra: BTreeMap::new(),
        }
    }

    /// The same with an extra count `key`.
    pub fn with(mut self, key: &str, value: f64) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}

/// The machine a run was made on (BENCHMARKS.md's first lines).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub ram: String,
    pub kernel: String,
    pub filesystem: String,
    pub rustc: String,
    pub git: String,
    pub date: String,
    /// `quick` for a smoke run (small sizes, few iterations).
    pub mode: String,
}

/// Everything measured so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Results {
    #[serde(default)]
    pub machine: Option<Machine>,
    /// Seconds each subcommand took, by name.
    #[serde(default)]
    pub durations: BTreeMap<String, f64>,
    #[serde(default)]
    pub measures: Vec<Measure>,
}

impl Results {
    /// Reads `path`, or empty results if it does not exist.
    pub fn load(path: &Path) -> Result<Results> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("parsing {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Results::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes `path` (pretty JSON), creating its directory.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Adds `m`, replacing an earlier measure of the same section, op,
    /// server and size.
    pub fn put(&mut self, m: Measure) {
        self.measures.retain(|o| {
            !(o.section == m.section && o.op == m.op && o.server == m.server && o.size == m.size)
        });
        self.measures.push(m);
    }

    /// The measure of (`section`, `op`, `server`, `size`), if any.
    pub fn get(&self, section: &str, op: &str, server: &str, size: u64) -> Option<&Measure> {
        self.measures
            .iter()
            .find(|m| m.section == section && m.op == op && m.server == server && m.size == size)
    }

    /// The sizes measured in `section` for `server`, ascending.
    pub fn sizes(&self, section: &str, server: &str) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .measures
            .iter()
            .filter(|m| m.section == section && m.server == server)
            .map(|m| m.size)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// The machine this runs on, read from /proc and the tools.
pub fn this_machine(quick: bool) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "?".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1_048_576.0))
        .unwrap_or_else(|| "?".into());
    let mut git = command_line("git", &["rev-parse", "--short", "HEAD"]);
    if !std::process::Command::new("git")
        .args(["diff", "--quiet", "HEAD", "--"])
        .status()
        .is_ok_and(|s| s.success())
    {
        git.push_str("+dirty");
    }
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        ram,
        kernel: command_line("uname", &["-sr"]),
        filesystem: command_line("findmnt", &["-no", "FSTYPE", "-T", "."]),
        rustc: command_line("rustc", &["-V"]),
        git,
        date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        mode: if quick { "quick" } else { "full" }.into(),
    }
}
