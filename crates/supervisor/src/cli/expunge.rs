//! `cpm-store expunge LOGIN --folder NAME --before DATE [--kind KIND]`:
//! removes a folder's objects stored before a date, as IMAP EXPUNGE does
//! (store_core::Store::expunge_before, the function retention uses).

use clap::Args;
use serde::{Deserialize, Serialize};
use store_core::model::{ObjectKind, UnixTime};
use store_core::{FolderRef, Store, StoreError};

/// `cpm-store expunge ...`
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct ExpungeArgs {
    /// Login name.
    pub login: String,
    /// The folder.
    #[arg(long)]
    pub folder: String,
    /// Objects whose INTERNALDATE (when stored) is before this go:
    /// YYYY-MM-DD (midnight UTC) or an RFC 3339 date-time.
    #[arg(long)]
    pub before: String,
    /// Only objects of this kind: cpm-message, session-history,
    /// file-transfer-history, media-object, legacy-message,
    /// group-state-object.
    #[arg(long)]
    pub kind: Option<String>,
}

/// `date` as Unix seconds: `YYYY-MM-DD` is midnight UTC of that day,
/// else an RFC 3339 date-time (store_core's one reader of it).
///
/// Errors: [`StoreError::InvalidArgument`] saying what is expected.
pub fn parse_date(date: &str) -> Result<UnixTime, StoreError> {
    let d = date.trim();
    let is_day = d.len() == 10 && d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-';
    let text = if is_day {
        format!("{d}T00:00:00Z")
    } else {
        d.to_string()
    };
    store_core::model::parse_rfc3339(&text).ok_or_else(|| {
        StoreError::InvalidArgument(format!(
            "date {date:?}: YYYY-MM-DD or an RFC 3339 date-time (2026-01-31T12:00:00Z)"
        ))
    })
}

/// Runs the command on `store`; returns the line to print
/// (`expunged N object(s) from FOLDER`).
///
/// Errors: a bad date or kind ([`StoreError::InvalidArgument`]),
/// [`StoreError::NoSuchAccount`], [`StoreError::NoSuchFolder`],
/// [`StoreError::Locked`] (a WebDAV lock on an object; what was removed
/// before it stays removed).
pub async fn run(store: &Store, args: ExpungeArgs) -> Result<Vec<String>, StoreError> {
    let before = parse_date(&args.before)?;
    let kind = match args.kind.as_deref() {
        None => None,
        Some(k) => Some(ObjectKind::from_setting_name(k).ok_or_else(|| {
            StoreError::InvalidArgument(format!(
                "kind {k:?}: one of {}",
                ObjectKind::ALL.map(ObjectKind::setting_name).join(", ")
            ))
        })?),
    };
    let admin = store.administrator(&args.login).await?;
    let n = store
        .expunge_before(&admin, &FolderRef::own(args.folder.clone()), before, kind)
        .await?;
    store_core::expiry_counters()
        .admin_expunged
        .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    Ok(vec![format!("expunged {n} object(s) from {}", args.folder)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_days_at_midnight_utc_or_rfc3339() {
        assert_eq!(parse_date("2020-01-02").ok(), Some(1_577_923_200));
        assert_eq!(parse_date("2020-01-02T00:00:00Z").ok(), Some(1_577_923_200));
        assert_eq!(
            parse_date("2020-01-02T01:00:00+01:00").ok(),
            Some(1_577_923_200)
        );
        assert!(parse_date("yesterday").is_err());
        assert!(parse_date("2020-13-01").is_err());
    }
}
