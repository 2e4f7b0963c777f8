//! Prometheus `/metrics` of the admin endpoint: the text exposition
//! format 0.0.4 (<https://prometheus.io/docs/instrumenting/exposition_formats/>).

use crate::admin::AdminState;

/// Renders every metric family, in the text exposition format.
pub async fn render(state: &AdminState) -> String {
    use std::sync::atomic::Ordering;
    let stats = state.store.commit_stats();
    let accounts = state
        .store
        .list_accounts()
        .await
        .map(|a| a.len())
        .unwrap_or(0);
    format!(
        "# HELP cpm_store_commits_total Engine commits (fsyncs), each carrying one or more operations.\n\
# TYPE cpm_store_commits_total counter\n\
cpm_store_commits_total {}\n\
# HELP cpm_store_operations_total Write operations committed.\n\
# TYPE cpm_store_operations_total counter\n\
cpm_store_operations_total {}\n\
# HELP cpm_store_accounts Accounts in the store.\n\
# TYPE cpm_store_accounts gauge\n\
cpm_store_accounts {}\n\
# HELP cpm_store_uptime_seconds Seconds since the server started.\n\
# TYPE cpm_store_uptime_seconds gauge\n\
cpm_store_uptime_seconds {}\n\
# HELP cpm_store_storage_failing 1 while the storage refuses writes (a full disk, an I/O error), else 0.\n\
# TYPE cpm_store_storage_failing gauge\n\
cpm_store_storage_failing {}\n",
        stats.commits.load(Ordering::Relaxed),
        stats.operations.load(Ordering::Relaxed),
        accounts,
        state.started.elapsed().as_secs(),
        u8::from(state.store.storage_failure().is_some())
    ) + &state.sip.prometheus()
}
