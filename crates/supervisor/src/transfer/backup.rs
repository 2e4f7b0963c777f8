//! `cpm-store backup DIR` and `cpm-store restore DIR`
//! (`store_core::Store::backup`, `store_core::restore`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::client::AdminClient;
use super::routes::BackupStatus;
use crate::config::Config;

/// `cpm-store backup`.
#[derive(clap::Args)]
pub struct BackupArgs {
    /// A directory that does not exist or is empty. It receives the store
    /// only (store.redb, blobs/, auth.secret, manifest.json), not
    /// admin.token, TLS keys or the configuration.
    pub dir: PathBuf,
}

/// `cpm-store restore`.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// A directory `cpm-store backup` wrote. It is restored into `[store]
    /// data_dir` (or --data-dir), which must not exist or be empty; the
    /// server must be down.
    pub dir: PathBuf,
}

/// How often the CLI asks the server whether its backup is done.
const POLL: Duration = Duration::from_millis(200);

fn summary(manifest: &store_core::Manifest, dir: &std::path::Path) -> String {
    format!(
        "{} keys ({} bytes) and {} blob files ({} bytes) in {}",
        manifest.keys,
        manifest.key_bytes,
        manifest.blobs,
        manifest.blob_bytes,
        dir.display()
    )
}

/// `cpm-store backup DIR`: through the running server (it holds the store)
/// or on the files when it is down; prints what the backup holds.
pub async fn backup(config: &Config, args: BackupArgs) -> Result<()> {
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("bad path {}", args.dir.display()))?;
    let manifest = match AdminClient::find(config).await? {
        Some(client) => {
            client
                .post_text("/transfer/backup", &[("dir", &dir.to_string_lossy())])
                .await?;
            loop {
                let status: BackupStatus = client.get_json("/transfer/backup", &[]).await?;
                if status.dir.as_deref() != Some(dir.as_path()) {
                    bail!("another backup took the server's place ({:?})", status.dir);
                }
                match status.state.as_str() {
                    "running" => tokio::time::sleep(POLL).await,
                    "done" => match status.manifest {
                        Some(m) => break m,
                        None => bail!("the server reported no manifest"),
                    },
                    _ => bail!(
                        "backup failed: {}",
                        status.error.unwrap_or_else(|| status.state.clone())
                    ),
                }
            }
        }
        None => {
            let store = crate::serve::open_existing_store(config, false)?;
            let copy = store.clone();
            let target = dir.clone();
            let result = tokio::task::spawn_blocking(move || copy.backup(&target)).await;
            store.close().await;
            result.context("the backup stopped")??
        }
    };
    if manifest.missing_blobs > 0 {
        eprintln!(
            "warning: {} referenced blob files were missing in the store and are not in the backup",
            manifest.missing_blobs
        );
    }
    println!("backup: {}", summary(&manifest, &dir));
    Ok(())
}

/// `cpm-store restore DIR` into the configured data directory.
pub async fn restore(config: &Config, args: RestoreArgs) -> Result<()> {
    let data_dir = config.store.data_dir.clone();
    let (from, to) = (args.dir.clone(), data_dir.clone());
    let manifest = tokio::task::spawn_blocking(move || store_core::restore(&from, &to))
        .await
        .context("the restore stopped")?
        .with_context(|| {
            format!(
                "cannot restore {} into {}",
                args.dir.display(),
                data_dir.display()
            )
        })?;
    // The blobs go where [blobs] keeps them (S3: uploaded, then the local
    // copies removed), before anything opens the store.
    let backend = config.blobs.backend().map_err(anyhow::Error::msg)?;
    let dir = data_dir.clone();
    let uploaded =
        tokio::task::spawn_blocking(move || store_core::restore_blobs_to(&backend, &dir))
            .await
            .context("the restore stopped")?
            .context("cannot upload the restored blobs ([blobs] backend)")?;
    if uploaded > 0 {
        println!("restored: {uploaded} blobs uploaded to the object store");
    }
    if config.store.engine == crate::config::StoreEngine::Postgres {
        // The records go from the restored redb file into PostgreSQL.
        let settings = config.store.postgres();
        let file = data_dir.join("store.redb");
        let copied = tokio::task::spawn_blocking(move || -> Result<u64> {
            let source = store_core::engine::RedbEngine::open(&file)?;
            let target = store_core::engine::PostgresEngine::open(&settings)?;
            let copied = target.import_from(&source)?;
            drop(source);
            std::fs::remove_file(&file)?;
            Ok(copied)
        })
        .await
        .context("the restore stopped")?
        .context("cannot copy the restored records into PostgreSQL ([store] postgres_url)")?;
        println!("restored: {copied} keys into PostgreSQL");
    }
    println!("restored: {}", summary(&manifest, &data_dir));
    Ok(())
}
