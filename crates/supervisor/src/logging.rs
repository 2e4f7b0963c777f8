//! The process's log: `tracing` events to standard error, filtered by
//! `[log] level` (or `RUST_LOG`), as text or JSON lines (`[log] format`).
//!
//! - Access-log events have the target `access` (one per IMAP command,
//!   HTTP request and SIP transaction, and an IMAP session's summary), so
//!   an operator filters them apart: `level = "info,access=warn"` drops
//!   them, `level = "warn,access=info"` keeps only them and warnings.
//! - Text has ANSI colours only when standard error is a terminal.
//! - rustls logs "Illegal SNI extension" at WARN for every client that
//!   connects by IP address (an IP address sent as SNI, which RFC 6066 3
//!   forbids and several clients do anyway): the default filter adds
//!   `rustls=error` unless the operator's filter names `rustls` itself.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// The directive added to a filter that does not name `rustls`: its
/// warnings about clients (an IP address as SNI) are not the operator's
/// concern.
const RUSTLS_DIRECTIVE: &str = "rustls=error";

/// `filter` with [`RUSTLS_DIRECTIVE`] added unless it names `rustls`.
fn with_rustls_quiet(filter: &str) -> String {
    let names_rustls = filter.split(',').any(|d| {
        let target = d.split('=').next().unwrap_or("").trim();
        target == "rustls" || target.starts_with("rustls::") || target.starts_with("rustls[")
    });
    if names_rustls || filter.trim().is_empty() {
        filter.to_string()
    } else {
        format!("{filter},{RUSTLS_DIRECTIVE}")
    }
}

/// Installs the global subscriber.
pub fn init(config: &Config, json: bool) {
    let directives = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|v| EnvFilter::try_new(v).is_ok())
        .unwrap_or_else(|| config.log.level.clone());
    let filter = EnvFilter::try_new(with_rustls_quiet(&directives))
        .unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if json || config.log.format == LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_is_quiet_unless_the_operator_names_it() {
        assert_eq!(with_rustls_quiet("info"), "info,rustls=error");
        assert_eq!(
            with_rustls_quiet("warn,access=info"),
            "warn,access=info,rustls=error"
        );
        assert_eq!(with_rustls_quiet("info,rustls=debug"), "info,rustls=debug");
        assert_eq!(
            with_rustls_quiet("rustls::server=trace"),
            "rustls::server=trace"
        );
    }
}
