//! Counts of the SIP requests answered, for the supervisor's Prometheus
//! `/metrics`: `cpm_store_sip_requests_total{method,status}`, `method` one
//! of the methods served (others, extension methods included, as
//! `other`, so that a peer cannot grow the label set) and `status` the
//! class of the final response (`2xx` ... `6xx`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The methods counted by name.
const METHODS: [&str; 6] = [
    "MESSAGE",
    "SUBSCRIBE",
    "OPTIONS",
    "CANCEL",
    "INVITE",
    "other",
];
/// The status classes (1xx is never final here, but a count is cheap).
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];

/// Request counters by method and status class.
#[derive(Debug, Default)]
pub struct SipMetrics {
    requests: [[AtomicU64; CLASSES.len()]; METHODS.len()],
}

impl SipMetrics {
    /// Counts one request of `method` answered with `status` (100 to 699).
    pub fn count(&self, method: &str, status: u16) {
        let m = METHODS
            .iter()
            .position(|k| *k == method)
            .unwrap_or(METHODS.len() - 1);
        let c = usize::from(status / 100).clamp(1, 6) - 1;
        self.requests[m][c].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in the Prometheus text format (version 0.0.4), with
    /// their HELP and TYPE lines; only non-zero series are listed.
    pub fn prometheus(&self) -> String {
        let mut out = String::from(
            "# HELP cpm_store_sip_requests_total SIP requests answered, by method and status class.\n\
             # TYPE cpm_store_sip_requests_total counter\n",
        );
        for (m, method) in METHODS.iter().enumerate() {
            for (c, class) in CLASSES.iter().enumerate() {
                let n = self.requests[m][c].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "cpm_store_sip_requests_total{{method=\"{method}\",status=\"{class}\"}} {n}"
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_method_and_class() {
        let m = SipMetrics::default();
        m.count("MESSAGE", 200);
        m.count("MESSAGE", 202);
        m.count("FOO", 405);
        let text = m.prometheus();
        assert!(
            text.contains("cpm_store_sip_requests_total{method=\"MESSAGE\",status=\"2xx\"} 2\n")
        );
        assert!(text.contains("cpm_store_sip_requests_total{method=\"other\",status=\"4xx\"} 1\n"));
    }
}
