//! Prometheus `/metrics` of the admin endpoint: every family of the
//! process's one registry (`store_core::telemetry`), in the text
//! exposition format 0.0.4 by default, or OpenMetrics 1.0 when the
//! scraper's `Accept` asks for it
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>).

use store_core::telemetry::{self, Format};

use crate::admin::AdminState;

/// The scrape's body and its `Content-Type`, for a request whose `Accept`
/// header value is `accept`. The gauges the supervisor knows (uptime, the
/// storage's failure) are set first; everything else is counted where it
/// happens. Costs what the families cost, whatever the store holds.
pub fn render(state: &AdminState, accept: Option<&str>) -> (String, &'static str) {
    let t = telemetry::metrics();
    t.uptime
        .set(i64::try_from(state.started.elapsed().as_secs()).unwrap_or(i64::MAX));
    t.storage_failing
        .set(i64::from(state.store.storage_failure().is_some()));
    let format = Format::from_accept(accept);
    (telemetry::encode(format), format.content_type())
}
