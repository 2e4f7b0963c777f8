//! Counts of the SIP requests answered, in the process's registry
//! (`store_core::telemetry`): `cpm_store_sip_requests_total{method,status}`
//! as before (README, SIP), and the protocol-wide
//! `cpm_store_requests_total{protocol="sip",command,outcome}` with
//! `cpm_store_request_duration_seconds{protocol="sip",command}`. `method`
//! is one of the methods served (others, extension methods included, as
//! `other`, so that a peer cannot grow the label set) and `status` the
//! class of the final response (`1xx` ... `6xx`).

use std::time::Duration;

use store_core::telemetry::{self, SipLabels};

/// Counts one request of `method` answered with `status` (100 to 699)
/// after `elapsed` (from its transaction's start to the answer).
pub fn count(method: &str, status: u16, elapsed: Duration) {
    let t = telemetry::metrics();
    let method = telemetry::sip_method(method);
    let class = telemetry::status_class(status);
    t.sip_requests
        .get_or_create(&SipLabels {
            method,
            status: class,
        })
        .inc();
    t.request("sip", method, class, elapsed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(method: &'static str, status: &'static str) -> u64 {
        telemetry::metrics()
            .sip_requests
            .get_or_create(&SipLabels { method, status })
            .get()
    }

    #[test]
    fn requests_are_counted_by_method_and_class() {
        let (message, other) = (value("MESSAGE", "2xx"), value("other", "4xx"));
        count("MESSAGE", 200, Duration::ZERO);
        count("MESSAGE", 202, Duration::ZERO);
        count("FOO", 405, Duration::ZERO);
        assert_eq!(value("MESSAGE", "2xx"), message + 2);
        assert_eq!(value("other", "4xx"), other + 1);
        let text = telemetry::encode(telemetry::Format::Prometheus);
        assert!(text.contains("cpm_store_sip_requests_total{method=\"MESSAGE\",status=\"2xx\"} "));
        assert!(text.contains(
            "cpm_store_requests_total{protocol=\"sip\",command=\"other\",outcome=\"4xx\"} "
        ));
    }
}
