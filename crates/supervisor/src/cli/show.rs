//! `cpm-store account show LOGIN`: an account at a glance.

use store_core::{Store, StoreError};

/// The lines of `account show`, `key<TAB>value`: login, CPM address,
/// quota use and limits (RFC 9208 STORAGE in bytes, MESSAGE in objects),
/// folder count, object count, and the last successful login over any
/// protocol (to the hour, store_core::LAST_LOGIN_GRANULARITY; `never`
/// when none was recorded).
///
/// Errors: [`StoreError::NoSuchAccount`], or the store's.
pub async fn run(store: &Store, login: &str) -> Result<Vec<String>, StoreError> {
    let account = store
        .account(login)
        .await?
        .ok_or(StoreError::NoSuchAccount)?;
    let admin = store.administrator(login).await?;
    let usage = store.quota(&admin).await?;
    let folders = store
        .list_folders(&admin)
        .await?
        .into_iter()
        .filter(|f| f.owner.is_none())
        .count();
    let limit = |l: Option<u64>| l.map_or("unlimited".to_string(), |n| n.to_string());
    let last_login = match store.last_login(account.id)? {
        Some(t) => format!("{} (to the hour)", store_core::dates::rfc3339(t)),
        None => "never".to_string(),
    };
    Ok(vec![
        format!("login\t{}", account.login),
        format!("address\t{}", account.address.unwrap_or_default()),
        format!(
            "quota\t{} bytes of {}, {} objects of {}",
            usage.bytes,
            limit(usage.limits.max_bytes),
            usage.objects,
            limit(usage.limits.max_objects)
        ),
        format!("folders\t{folders}"),
        format!("objects\t{}", usage.objects),
        format!("last login\t{last_login}"),
    ])
}
