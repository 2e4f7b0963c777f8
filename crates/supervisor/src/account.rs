//! `cpm-store account add|passwd|list|remove`: through the running server's
//! admin endpoint when it is up, else directly on the store files.

use std::io::BufRead;

use anyhow::{anyhow, bail, Context, Result};

use crate::admin::{self, AccountRequest};
use crate::config::Config;

/// Reads one line from standard input as the password (`--password-stdin`).
pub fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("empty password on standard input");
    }
    Ok(password)
}

/// Runs `request`, printing what it reports.
/// With the server down the store's files are opened, and a missing data
/// directory is created only when `create` (the global `--create`).
pub async fn run(config: &Config, request: AccountRequest, create: bool) -> Result<()> {
    let data_dir = &config.store.data_dir;
    // A mistyped data dir is refused before anything, server up or down.
    crate::serve::check_data_dir(data_dir, create)?;
    if let Some(token) = crate::serve::admin_token(data_dir, false)? {
        for addr in &config.admin.listen {
            if let Some((status, body)) = admin::send(*addr, &token, &request).await? {
                if status == 200 {
                    print!("{body}");
                    return Ok(());
                }
                return Err(anyhow!("{}", body.trim()));
            }
        }
    }
    // No server answers: work on the files directly.
    let store = crate::serve::open_existing_store(config, create)?;
    let result = admin::run_account_request(&store, request).await;
    store.close().await;
    for line in result? {
        println!("{line}");
    }
    Ok(())
}
