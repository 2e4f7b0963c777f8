//! The process's log: `tracing` events to standard error, filtered by
//! `[log] level` (or `RUST_LOG`), as text or JSON lines (`[log] format`).

use crate::config::{Config, LogFormat};

/// Installs the global subscriber.
pub fn init(config: &Config, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json || config.log.format == LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}
