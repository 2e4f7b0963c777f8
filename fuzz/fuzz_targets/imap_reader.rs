//! The IMAP command path a client's bytes take before any login: the
//! streaming reader (lines, synchronizing and LITERAL+ literals, APPEND
//! messages streamed to blobs), then the grammar, for every command in the
//! input, exactly as a session runs them. Must never panic or hang.

#![no_main]

use std::sync::LazyLock;

use imap_server::protocol::grammar::parse_request;
use imap_server::protocol::reader::{read_command, ReadOutcome, ReaderLimits};
use libfuzzer_sys::fuzz_target;
use store_core::{Store, StoreConfig};

/// Small limits, so inputs exercise them (the server's defaults are larger).
const LIMITS: ReaderLimits = ReaderLimits {
    max_command_bytes: 8 * 1024,
    max_append_bytes: 64 * 1024,
};
/// The server's default `[imap] max_nesting`.
const MAX_NESTING: usize = 32;
/// Commands read from one input at most.
const MAX_COMMANDS: usize = 256;

struct Env {
    runtime: tokio::runtime::Runtime,
    store: Store,
    _dir: tempfile::TempDir,
}

static ENV: LazyLock<Env> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(StoreConfig::new(dir.path())).expect("store");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    Env {
        runtime,
        store,
        _dir: dir,
    }
});

fuzz_target!(|data: &[u8]| {
    let env = &*ENV;
    env.runtime.block_on(async {
        // The client's bytes in, the server's continuations discarded.
        let mut io = tokio::io::BufReader::new(tokio::io::join(data, tokio::io::sink()));
        for _ in 0..MAX_COMMANDS {
            match read_command(&mut io, &env.store, LIMITS).await {
                Ok(ReadOutcome::Command(raw)) => {
                    let _ = parse_request(&raw.text, raw.blobs, MAX_NESTING);
                }
                Ok(ReadOutcome::Refused { .. }) => {}
                Ok(ReadOutcome::Closed) | Err(_) => break,
            }
        }
    });
});
