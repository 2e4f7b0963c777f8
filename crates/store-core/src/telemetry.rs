//! The process's Prometheus metrics: every metric family lives here, in one
//! [`prometheus_client`] registry, so that each front end records into the
//! same families and the admin endpoint's `/metrics` encodes them at once.
//!
//! - [`metrics`] is the one instance of the process (a `static`: one store
//!   and one set of listeners per process). Recording is an atomic add or
//!   two (a family's label lookup takes a read lock, never held across an
//!   await); a scrape costs what the families cost, whatever the number of
//!   accounts or messages.
//! - Labels are low-cardinality by construction: protocols, command names
//!   from a fixed list ([`imap_command`], [`http_method`], [`sip_method`];
//!   anything else is `other`), outcome classes. Never a login, an
//!   address or a path.
//! - [`encode`] renders the Prometheus text exposition format 0.0.4
//!   ([`PROMETHEUS_CONTENT_TYPE`], the default) or OpenMetrics 1.0
//!   ([`OPENMETRICS_CONTENT_TYPE`], when a scraper asks for it by `Accept`)
//!   (<https://prometheus.io/docs/instrumenting/exposition_formats/>).
//! - The process's own figures (`process_*`, the names every Prometheus
//!   client library uses, so existing dashboards work) are read from
//!   `/proc/self` at each scrape, on Linux; elsewhere they are absent.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The `Content-Type` of the Prometheus text exposition format 0.0.4, the
/// default answer of `/metrics` (Prometheus 3 and curl).
pub const PROMETHEUS_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
/// The `Content-Type` of the OpenMetrics 1.0 text format, answered to a
/// scraper whose `Accept` names `application/openmetrics-text`.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of a connection family: the listener's protocol (`imap`,
/// `webdav`, `nms`, `sip`, `admin`; WebDAV and NMS share their listener and
/// count as `webdav`) and whether it is implicit TLS.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    /// The listener's protocol.
    pub protocol: &'static str,
    /// Implicit TLS on the listener.
    pub tls: bool,
}

/// Labels of the refused connections: the listener's protocol and the cap
/// reached (`max_connections` or `max_connections_per_ip`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusedLabels {
    /// The listener's protocol.
    pub protocol: &'static str,
    /// The `[server]` setting whose cap was reached.
    pub cap: &'static str,
}

/// Labels of a request count: protocol (`imap`, `webdav`, `nms`, `sip`),
/// command (an IMAP command name, an HTTP method, a SIP method; `other`
/// for any not listed) and outcome (IMAP `ok`/`no`/`bad`, HTTP and SIP the
/// status class `2xx` ... `6xx`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The protocol.
    pub protocol: &'static str,
    /// The command or method, from a fixed list.
    pub command: &'static str,
    /// The outcome class.
    pub outcome: &'static str,
}

/// Labels of a latency histogram: protocol and command as in
/// [`RequestLabels`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabels {
    /// The protocol.
    pub protocol: &'static str,
    /// The command or method, from a fixed list.
    pub command: &'static str,
}

/// Labels of the login counters: the protocol that asked, as
/// [`crate::throttle::LoginSource::protocol`] names it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProtocolLabels {
    /// The protocol.
    pub protocol: &'static str,
}

/// Labels of the SIP request counter kept from before this registry:
/// `cpm_store_sip_requests_total{method,status}` (README, SIP).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SipLabels {
    /// The SIP method ([`sip_method`]).
    pub method: &'static str,
    /// The final response's class.
    pub status: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 16 s, doubling.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 17))
}

/// Every metric family of the process. Names are given with their
/// exported spelling; counters get `_total` from the encoder.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    /// `cpm_store_connections_open{protocol,tls}`: connections being served
    /// (after the caps and, with TLS, before the handshake).
    pub connections_open: Family<ConnectionLabels, Gauge>,
    /// `cpm_store_connections_accepted_total{protocol,tls}`: connections
    /// accepted under the caps.
    pub connections_accepted: Family<ConnectionLabels, Counter>,
    /// `cpm_store_connections_refused_total{protocol,cap}`: connections
    /// refused at a cap of `[server]` (or the admin endpoint's budget).
    pub connections_refused: Family<RefusedLabels, Counter>,
    /// `cpm_store_requests_total{protocol,command,outcome}`: IMAP commands,
    /// HTTP requests and SIP server transactions answered.
    pub requests: Family<RequestLabels, Counter>,
    /// `cpm_store_request_duration_seconds{protocol,command}`: from the
    /// command read whole to its answer written (seconds).
    pub request_duration: HistogramFamily<CommandLabels>,
    /// `cpm_store_sip_requests_total{method,status}`: SIP requests
    /// answered (kept from before; the same counts as `requests` with
    /// `protocol="sip"`).
    pub sip_requests: Family<SipLabels, Counter>,
    /// `cpm_store_commits_total`: engine commits (each one fsync of the
    /// database), each carrying one or more operations; a group that
    /// wrote nothing is not one.
    pub commits: Counter,
    /// `cpm_store_operations_total`: write operations committed.
    pub operations: Counter,
    /// `cpm_store_commit_duration_seconds`: one group commit, from taking
    /// its batch to the metadata on disk (blob syncs and renames included).
    pub commit_duration: Histogram,
    /// `cpm_store_commit_batch_operations`: operations in one group commit.
    pub commit_batch: Histogram,
    /// `cpm_store_fsyncs_total`: fsync/fdatasync calls the store made
    /// (blob files, their directories, database commits).
    pub fsyncs: Counter,
    /// `cpm_store_blob_written_bytes_total`: content bytes written to blob
    /// files and small blobs kept in the database.
    pub blob_bytes_written: Counter,
    /// `cpm_store_blob_read_bytes_total`: content bytes read from blobs.
    pub blob_bytes_read: Counter,
    /// `cpm_store_login_failures_total{protocol}`: credentials checked and
    /// refused (unknown login or wrong password alike).
    pub login_failures: Family<ProtocolLabels, Counter>,
    /// `cpm_store_logins_throttled_total{protocol}`: login attempts refused
    /// by the throttle before any credential was checked.
    pub logins_throttled: Family<ProtocolLabels, Counter>,
    /// `cpm_store_quota_refusals_total`: writes refused because they would
    /// exceed an account's quota (RFC 9208). Not by protocol: the rule is
    /// checked once, in store-core, inside the write's transaction, where
    /// no protocol is known (each front end's own refusal shows in
    /// `cpm_store_requests_total`: IMAP `no`, HTTP `4xx`/`5xx`).
    pub quota_refusals: Counter,
    /// `cpm_store_change_feed_backlog`: at each change published, how many
    /// changes of the account its slowest live subscriber (IMAP IDLE or
    /// NOTIFY, an NMS subscription, a SIP subscription) has not taken yet,
    /// that one excluded: the account's MODSEQ minus the MODSEQ delivered,
    /// counted in changes. 1024 or more means a subscriber lagged and
    /// resynchronizes from the stored feed.
    pub change_feed_backlog: Histogram,
    /// `cpm_store_accounts`: accounts in the store, a count the store keeps
    /// (counted once at open, then moved by each account created or
    /// removed), never a listing at scrape.
    pub accounts: Gauge,
    /// `cpm_store_uptime_seconds`: seconds since the server started (set
    /// at scrape).
    pub uptime: Gauge,
    /// `cpm_store_storage_failing`: 1 while the storage refuses writes (a
    /// full disk, an I/O error), else 0 (set at scrape).
    pub storage_failing: Gauge,
}

static METRICS: LazyLock<Telemetry> = LazyLock::new(Telemetry::new);

/// The process's metric families.
pub fn metrics() -> &'static Telemetry {
    &METRICS
}

impl Telemetry {
    fn new() -> Telemetry {
        let t = Telemetry {
            registry: Registry::default(),
            connections_open: Family::default(),
            connections_accepted: Family::default(),
            connections_refused: Family::default(),
            requests: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            sip_requests: Family::default(),
            commits: Counter::default(),
            operations: Counter::default(),
            commit_duration: latency_histogram(),
            commit_batch: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            fsyncs: Counter::default(),
            blob_bytes_written: Counter::default(),
            blob_bytes_read: Counter::default(),
            login_failures: Family::default(),
            logins_throttled: Family::default(),
            quota_refusals: Counter::default(),
            change_feed_backlog: Histogram::new([0.0, 1.0, 2.0, 4.0, 16.0, 64.0, 256.0, 1023.0]),
            accounts: Gauge::default(),
            uptime: Gauge::default(),
            storage_failing: Gauge::default(),
        };
        let mut r = Registry::default();
        r.register(
            "cpm_store_connections_open",
            "Connections being served, by listener protocol and TLS",
            t.connections_open.clone(),
        );
        r.register(
            "cpm_store_connections_accepted",
            "Connections accepted under the caps, by listener protocol and TLS",
            t.connections_accepted.clone(),
        );
        r.register(
            "cpm_store_connections_refused",
            "Connections refused at a cap of [server], by listener protocol and cap",
            t.connections_refused.clone(),
        );
        r.register(
            "cpm_store_requests",
            "IMAP commands, HTTP requests and SIP transactions answered, by protocol, command and outcome",
            t.requests.clone(),
        );
        r.register(
            "cpm_store_request_duration_seconds",
            "Time from a command read to its answer written, by protocol and command",
            t.request_duration.clone(),
        );
        r.register(
            "cpm_store_sip_requests",
            "SIP requests answered, by method and status class",
            t.sip_requests.clone(),
        );
        r.register(
            "cpm_store_commits",
            "Engine commits (fsyncs), each carrying one or more operations",
            t.commits.clone(),
        );
        r.register(
            "cpm_store_operations",
            "Write operations committed",
            t.operations.clone(),
        );
        r.register(
            "cpm_store_commit_duration_seconds",
            "Duration of one group commit, blob syncs included",
            t.commit_duration.clone(),
        );
        r.register(
            "cpm_store_commit_batch_operations",
            "Operations carried by one group commit",
            t.commit_batch.clone(),
        );
        r.register(
            "cpm_store_fsyncs",
            "fsync and fdatasync calls of the store (blob files, directories, database commits)",
            t.fsyncs.clone(),
        );
        r.register(
            "cpm_store_blob_written_bytes",
            "Content bytes written to blobs",
            t.blob_bytes_written.clone(),
        );
        r.register(
            "cpm_store_blob_read_bytes",
            "Content bytes read from blobs",
            t.blob_bytes_read.clone(),
        );
        r.register(
            "cpm_store_login_failures",
            "Credentials checked and refused, by protocol",
            t.login_failures.clone(),
        );
        r.register(
            "cpm_store_logins_throttled",
            "Login attempts refused by the throttle without a check, by protocol",
            t.logins_throttled.clone(),
        );
        r.register(
            "cpm_store_quota_refusals",
            "Writes refused for exceeding an account's quota",
            t.quota_refusals.clone(),
        );
        r.register(
            "cpm_store_change_feed_backlog",
            "Changes of the account its slowest live subscriber had not taken, at each change published",
            t.change_feed_backlog.clone(),
        );
        r.register(
            "cpm_store_accounts",
            "Accounts in the store",
            t.accounts.clone(),
        );
        r.register(
            "cpm_store_uptime_seconds",
            "Seconds since the server started",
            t.uptime.clone(),
        );
        r.register(
            "cpm_store_storage_failing",
            "1 while the storage refuses writes (a full disk, an I/O error), else 0",
            t.storage_failing.clone(),
        );
        r.register_collector(Box::new(ProcessCollector));
        // The login series of every protocol that logs in exist from the
        // start at 0, so that a rate over them is defined before the
        // first failure.
        for protocol in ["imap", "webdav", "nms", "sip"] {
            let labels = ProtocolLabels { protocol };
            t.login_failures.get_or_create(&labels).inc_by(0);
            t.logins_throttled.get_or_create(&labels).inc_by(0);
        }
        Telemetry { registry: r, ..t }
    }

    /// Counts one request of `protocol` answered with `outcome`, taking
    /// `elapsed`; `command` and `outcome` must come from the fixed lists
    /// ([`imap_command`], [`http_method`], [`sip_method`], [`status_class`]).
    pub fn request(
        &self,
        protocol: &'static str,
        command: &'static str,
        outcome: &'static str,
        elapsed: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                protocol,
                command,
                outcome,
            })
            .inc();
        self.request_duration
            .get_or_create(&CommandLabels { protocol, command })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a failed credential check from `protocol`.
    pub fn login_failed(&self, protocol: &'static str) {
        self.login_failures
            .get_or_create(&ProtocolLabels { protocol })
            .inc();
    }

    /// Counts a login attempt the throttle refused from `protocol`.
    pub fn login_throttled(&self, protocol: &'static str) {
        self.logins_throttled
            .get_or_create(&ProtocolLabels { protocol })
            .inc();
    }

    /// A connection accepted on a listener of `protocol`: counted, and
    /// open until the returned guard is dropped.
    pub fn connection(&self, protocol: &'static str, tls: bool) -> OpenConnection {
        let labels = ConnectionLabels { protocol, tls };
        self.connections_accepted.get_or_create(&labels).inc();
        let open = self.connections_open.get_or_create_owned(&labels);
        open.inc();
        OpenConnection { open }
    }
}

/// One open connection in `cpm_store_connections_open`; dropping it closes
/// it there.
#[derive(Debug)]
pub struct OpenConnection {
    open: Gauge,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// Which exposition format to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4 ([`PROMETHEUS_CONTENT_TYPE`]).
    Prometheus,
    /// OpenMetrics 1.0 text ([`OPENMETRICS_CONTENT_TYPE`]).
    OpenMetrics,
}

impl Format {
    /// The format a scraper's `Accept` header value asks for: OpenMetrics
    /// when it names `application/openmetrics-text` (with a non-zero
    /// quality), else the 0.0.4 text (no header, `*/*`, `text/plain`).
    pub fn from_accept(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        let wants = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let is_om = parts
                .next()
                .is_some_and(|t| t.eq_ignore_ascii_case("application/openmetrics-text"));
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            is_om && !refused
        });
        if wants {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => PROMETHEUS_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// Every family of the process, in `format`.
pub fn encode(format: Format) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let registry = &metrics().registry;
    // Writing into a String cannot fail; a collector's error would leave
    // the answer short, which the scraper reports.
    let _ = match format {
        Format::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, registry)
        }
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, registry),
    };
    out
}

/// The IMAP command names counted by name (RFC 3501 and the extensions
/// served); `name` is matched without regard to case. Others are `other`,
/// so that a client cannot grow the label set.
pub fn imap_command(name: &str) -> &'static str {
    const COMMANDS: &[&str] = &[
        "APPEND",
        "AUTHENTICATE",
        "CAPABILITY",
        "CHECK",
        "CLOSE",
        "COMPRESS",
        "CONVERT",
        "COPY",
        "CREATE",
        "DELETE",
        "DELETEACL",
        "DONE",
        "ENABLE",
        "EXAMINE",
        "EXPUNGE",
        "FETCH",
        "GENURLAUTH",
        "GETACL",
        "GETMETADATA",
        "GETQUOTA",
        "GETQUOTAROOT",
        "ID",
        "IDLE",
        "LIST",
        "LISTRIGHTS",
        "LOGIN",
        "LOGOUT",
        "LSUB",
        "MOVE",
        "MYRIGHTS",
        "NAMESPACE",
        "NOOP",
        "NOTIFY",
        "RENAME",
        "RESETKEY",
        "SEARCH",
        "SELECT",
        "SETACL",
        "SETMETADATA",
        "SETQUOTA",
        "SORT",
        "STARTTLS",
        "STATUS",
        "STORE",
        "SUBSCRIBE",
        "THREAD",
        "UID COPY",
        "UID EXPUNGE",
        "UID FETCH",
        "UID MOVE",
        "UID SEARCH",
        "UID SORT",
        "UID STORE",
        "UID THREAD",
        "UNAUTHENTICATE",
        "UNSELECT",
        "UNSUBSCRIBE",
        "URLFETCH",
    ];
    COMMANDS
        .iter()
        .find(|c| c.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or("other")
}

/// The HTTP methods counted by name (RFC 9110 9, RFC 4918 9, RFC 3253
/// REPORT); others are `other`.
pub fn http_method(method: &str) -> &'static str {
    const METHODS: &[&str] = &[
        "GET",
        "HEAD",
        "PUT",
        "POST",
        "DELETE",
        "OPTIONS",
        "PATCH",
        "PROPFIND",
        "PROPPATCH",
        "MKCOL",
        "COPY",
        "MOVE",
        "LOCK",
        "UNLOCK",
        "REPORT",
    ];
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// The SIP methods counted by name (those served, RFC 3261, RFC 3428,
/// RFC 6665); others, extension methods included, are `other`.
pub fn sip_method(method: &str) -> &'static str {
    const METHODS: &[&str] = &[
        "MESSAGE",
        "SUBSCRIBE",
        "OPTIONS",
        "CANCEL",
        "INVITE",
        "ACK",
        "BYE",
        "NOTIFY",
    ];
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// The class of an HTTP or SIP status code: `1xx` ... `6xx` (a code out of
/// range counts in the nearest class).
pub fn status_class(status: u16) -> &'static str {
    const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];
    CLASSES[usize::from(status / 100).clamp(1, 6) - 1]
}

/// The process's own figures, read from `/proc/self` at each scrape
/// (proc(5)): `process_resident_memory_bytes`, `process_open_fds`,
/// `process_max_fds`, `process_cpu_seconds_total`,
/// `process_start_time_seconds`. A figure that cannot be read is left out.
#[derive(Debug)]
struct ProcessCollector;

/// Clock ticks per second of `/proc/<pid>/stat`'s times: USER_HZ, 100 on
/// every Linux ABI (proc(5) `sysconf(_SC_CLK_TCK)`).
const USER_HZ: f64 = 100.0;

/// Boot time, seconds since the Unix epoch (`/proc/stat` `btime`), read
/// once: it does not change.
static BOOT_TIME: AtomicI64 = AtomicI64::new(-1);

fn boot_time() -> Option<i64> {
    let known = BOOT_TIME.load(Ordering::Relaxed);
    if known >= 0 {
        return Some(known);
    }
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let btime = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse::<i64>()
        .ok()?;
    BOOT_TIME.store(btime, Ordering::Relaxed);
    Some(btime)
}

/// The process's figures out of `/proc/self`.
#[derive(Debug, Default, PartialEq)]
struct ProcessFigures {
    resident_bytes: Option<i64>,
    cpu_seconds: Option<f64>,
    start_time: Option<f64>,
    open_fds: Option<i64>,
    max_fds: Option<i64>,
}

/// `utime + stime` (seconds) and `starttime` (ticks since boot) out of
/// `/proc/self/stat`; the command name in parentheses may hold spaces and
/// parentheses, so fields count from the last `)`.
fn parse_stat(stat: &str) -> Option<(f64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")": field 3 (state) is index 0; utime is field 14, stime 15,
    // starttime 22.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let start: u64 = fields.get(19)?.parse().ok()?;
    Some(((utime + stime) as f64 / USER_HZ, start))
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn parse_rss(status: &str) -> Option<i64> {
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<i64>()
        .ok()?;
    kb.checked_mul(1024)
}

/// The soft `Max open files` of `/proc/self/limits`.
fn parse_max_fds(limits: &str) -> Option<i64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn process_figures() -> ProcessFigures {
    let mut f = ProcessFigures::default();
    if let Some((cpu, start)) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s))
    {
        f.cpu_seconds = Some(cpu);
        f.start_time = boot_time().map(|b| b as f64 + start as f64 / USER_HZ);
    }
    f.resident_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_rss(&s));
    f.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| parse_max_fds(&s));
    f.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count().try_into().unwrap_or(i64::MAX));
    f
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let f = process_figures();
        if let Some(cpu) = f.cpu_seconds {
            let c = ConstCounter::new(cpu);
            let m = encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent in seconds",
                None,
                c.metric_type(),
            )?;
            c.encode(m)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                f.resident_bytes.map(|v| v as f64),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                f.open_fds.map(|v| v as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors (the soft limit)",
                f.max_fds.map(|v| v as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                f.start_time,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                let g = ConstGauge::new(v);
                let m = encoder.encode_descriptor(name, help, None, g.metric_type())?;
                g.encode(m)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_lists() {
        assert_eq!(imap_command("uid fetch"), "UID FETCH");
        assert_eq!(imap_command("Login"), "LOGIN");
        assert_eq!(imap_command("XYZZY"), "other");
        assert_eq!(http_method("PROPFIND"), "PROPFIND");
        assert_eq!(http_method("BREW"), "other");
        assert_eq!(sip_method("MESSAGE"), "MESSAGE");
        assert_eq!(sip_method("FOO"), "other");
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(699), "6xx");
        assert_eq!(status_class(42), "1xx");
        assert_eq!(status_class(999), "6xx");
    }

    #[test]
    fn accept_chooses_openmetrics_only_when_asked() {
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Prometheus);
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text;q=0, text/plain")),
            Format::Prometheus
        );
    }

    #[test]
    fn proc_files_are_read_as_proc5_lays_them_out() {
        let stat = "4242 (cpm (x) store) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 12345 1000000 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat(stat), Some((3.0, 12345)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(
            parse_rss("Name:\tx\nVmRSS:\t    2048 kB\nThreads: 1\n"),
            Some(2048 * 1024)
        );
        assert_eq!(parse_rss("VmRSS: lots"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_fds(limits), Some(1024));
    }

    #[test]
    fn a_scrape_lists_the_families_with_their_counts() {
        let m = metrics();
        m.request(
            "imap",
            imap_command("login"),
            "no",
            Duration::from_millis(3),
        );
        m.login_failed("imap");
        {
            let _open = m.connection("webdav", true);
            let text = encode(Format::Prometheus);
            assert!(
                text.contains("cpm_store_connections_open{protocol=\"webdav\",tls=\"true\"} 1\n")
            );
        }
        let text = encode(Format::Prometheus);
        assert!(text.contains("cpm_store_connections_open{protocol=\"webdav\",tls=\"true\"} 0\n"));
        assert!(text.contains("# TYPE cpm_store_requests_total counter\n"));
        assert!(text.contains(
            "cpm_store_requests_total{protocol=\"imap\",command=\"LOGIN\",outcome=\"no\"} "
        ));
        assert!(text.contains(
            "cpm_store_request_duration_seconds_bucket{le=\"0.004\",protocol=\"imap\",command=\"LOGIN\"}"
        ) || text.contains(
            "cpm_store_request_duration_seconds_bucket{protocol=\"imap\",command=\"LOGIN\",le=\"0.004\"}"
        ));
        assert!(text.contains("cpm_store_login_failures_total{protocol=\"imap\"} "));
        assert!(!text.contains("# EOF"));
        if cfg!(target_os = "linux") {
            assert!(text.contains("process_resident_memory_bytes "));
            assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"));
        }
        let om = encode(Format::OpenMetrics);
        assert!(om.ends_with("# EOF\n"));
    }
}
