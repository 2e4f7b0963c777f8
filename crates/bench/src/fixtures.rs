//! Bulk-loaded data directories, built once with store-core's bulk
//! loader and cached in `target/bench-fixtures` (the criterion benches'
//! cache: the same names and contents), then copied for each run.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use store_core::{BulkSpec, FolderRef, Store, StoreConfig, FORMAT_VERSION};

use crate::Ctx;

/// The account every fixture holds, and its password.
pub const LOGIN: &str = "bench";
/// The password of [`LOGIN`] (and of [`SIP_LOGIN`]).
pub const PASSWORD: &str = "bench-password";
/// The account SIP deposits go to (tests/sipp/deposit.xml's `alice`).
pub const SIP_LOGIN: &str = "alice";
/// Its address, which the deposits' Request-URI names.
pub const SIP_ADDRESS: &str = "sip:alice@example.com";
/// Messages of a message fixture stored without `\\Seen`: the newest 100
/// of the 2n stored (about 50 of them survive the churn), so SEARCH
/// UNSEEN answers the same few UIDs at every size, as in a mailbox read
/// but for its latest messages.
const UNSEEN_NEWEST: u32 = 100;

/// What a fixture holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixture {
    /// INBOX of about n messages after a history of n more expunged and
    /// two flag changes on each remaining one (2n stored, 50% expunged).
    Messages(u32),
    /// n folders `c00001`… in the account.
    Folders(u32),
    /// The accounts [`LOGIN`] and [`SIP_LOGIN`] (at [`SIP_ADDRESS`]),
    /// nothing else.
    Base,
}

impl Fixture {
    /// The cache directory name (shared with benches/store.rs).
    pub fn name(self) -> String {
        match self {
            Fixture::Messages(n) => format!("v{FORMAT_VERSION}-messages-{n}-unseen{UNSEEN_NEWEST}"),
            Fixture::Folders(n) => format!("v{FORMAT_VERSION}-folders-{n}"),
            Fixture::Base => format!("v{FORMAT_VERSION}-cpm-base"),
        }
    }
}

/// The cached data directory of `fixture`, built first if absent; the
/// build time in seconds if it was built now.
pub async fn ensure(ctx: &Ctx, fixture: Fixture) -> Result<(PathBuf, Option<f64>)> {
    let cache = ctx.target.join("bench-fixtures").join(fixture.name());
    if cache.exists() {
        return Ok((cache, None));
    }
    let staging = cache.with_extension("building");
    let _ = std::fs::remove_dir_all(&staging);
    let started = Instant::now();
    let store = Store::open(StoreConfig::new(&staging)).context("open fixture store")?;
    store.create_account(LOGIN, None, PASSWORD).await?;
    let p = store.trusted_element(LOGIN).await?;
    match fixture {
        Fixture::Messages(n) => {
            let mut spec = BulkSpec::new(n.saturating_mul(2));
            spec.expunge_ratio = 0.5;
            spec.flag_churn = 2;
            spec.unseen_newest = UNSEEN_NEWEST;
            store
                .bulk_messages(&p, &FolderRef::own("INBOX"), &spec)
                .await?;
        }
        Fixture::Folders(n) => {
            let names: Vec<String> = (1..=n).map(|i| format!("c{i:05}")).collect();
            store.bulk_folders(&p, &names).await?;
        }
        Fixture::Base => {
            store
                .create_account(SIP_LOGIN, Some(SIP_ADDRESS), PASSWORD)
                .await?;
        }
    }
    store.close().await;
    std::fs::rename(&staging, &cache).context("install fixture")?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!("fixture {} built in {secs:.1} s", fixture.name());
    Ok((cache, Some(secs)))
}
