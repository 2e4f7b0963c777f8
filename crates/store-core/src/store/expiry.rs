//! Expunge by age: `cpm-store expunge LOGIN --folder NAME --before DATE`
//! and the service provider's retention policy (`[retention]`, seed 000:
//! history is kept "based on user preferences and service provider
//! policies"), one function for both ([`Store::expunge_before`]).
//!
//! Objects are removed as IMAP EXPUNGE removes them (the removal path of
//! [`Store::remove_objects`]: UIDs kept as expunged with the MODSEQ of the
//! removal, the change feed told, so sessions get EXPUNGE / VANISHED and
//! NMS subscribers the deletion).
//!
//! Cost: what is removed. The folder's date index (0x2C,
//! `store::index::uids_before`) lists the objects stored before the
//! date, [`SCAN_PAGE`] entries per read snapshot, and they are removed
//! [`REMOVE_BATCH`] per commit; with a kind, an old object of another
//! kind is read and kept. Accounts are listed [`ACCOUNT_PAGE`] at a time.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{Object, ObjectKind, Principal, Uid, UnixTime};
use crate::rights::Right;
use crate::store::folders::FolderRef;
use crate::store::index::uids_before;
use crate::store::{resolve, Store};
use crate::writer::Reader;

/// Object records read per read snapshot while looking for old ones.
pub const SCAN_PAGE: usize = 1024;
/// Most objects removed in one commit.
pub const REMOVE_BATCH: usize = 256;
/// Accounts read per read snapshot by [`Store::apply_retention`].
pub const ACCOUNT_PAGE: usize = 256;

/// Objects removed by age since the process started, for the metrics
/// (`cpm_store_retention_expunged_total` and the like): one set per
/// process, whatever store it opened.
#[derive(Debug, Default)]
pub struct ExpiryCounters {
    /// Objects expunged by the retention policy ([`Store::apply_retention`]).
    pub retention_expunged: AtomicU64,
    /// Objects expunged by `cpm-store expunge --before` (the admin
    /// command, [`Store::expunge_before`] called directly).
    pub admin_expunged: AtomicU64,
    /// Retention runs completed.
    pub retention_runs: AtomicU64,
}

static COUNTERS: ExpiryCounters = ExpiryCounters {
    retention_expunged: AtomicU64::new(0),
    admin_expunged: AtomicU64::new(0),
    retention_runs: AtomicU64::new(0),
};

/// The process's [`ExpiryCounters`].
pub fn expiry_counters() -> &'static ExpiryCounters {
    &COUNTERS
}

impl ObjectKind {
    /// The kind's name in settings (`[retention]` rules): `cpm-message`,
    /// `session-history`, `file-transfer-history`, `media-object`,
    /// `legacy-message`, `group-state-object`.
    pub fn setting_name(self) -> &'static str {
        match self {
            ObjectKind::CpmMessage => "cpm-message",
            ObjectKind::SessionHistory => "session-history",
            ObjectKind::FileTransferHistory => "file-transfer-history",
            ObjectKind::MediaObject => "media-object",
            ObjectKind::LegacyMessage => "legacy-message",
            ObjectKind::GroupStateObject => "group-state-object",
        }
    }

    /// Every kind, in declaration order.
    pub const ALL: [ObjectKind; 6] = [
        ObjectKind::CpmMessage,
        ObjectKind::SessionHistory,
        ObjectKind::FileTransferHistory,
        ObjectKind::MediaObject,
        ObjectKind::LegacyMessage,
        ObjectKind::GroupStateObject,
    ];

    /// The kind named `name` ([`ObjectKind::setting_name`]); `None` if it
    /// names none.
    pub fn from_setting_name(name: &str) -> Option<ObjectKind> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.setting_name() == name)
    }
}

/// Whether the folder name `name` matches the IMAP LIST pattern `pattern`
/// (RFC 3501 6.3.8): `*` matches any run of characters, `%` any run
/// without the hierarchy delimiter `/`; other characters match
/// themselves, `INBOX` case-insensitively as a whole first level.
pub fn folder_matches(pattern: &str, name: &str) -> bool {
    fn inbox_fold(s: &str) -> String {
        let first = s.split('/').next().unwrap_or(s);
        if first.eq_ignore_ascii_case("INBOX") {
            format!("INBOX{}", &s[first.len()..])
        } else {
            s.to_string()
        }
    }
    let (p, n) = (inbox_fold(pattern), inbox_fold(name));
    let (p, n): (Vec<char>, Vec<char>) = (p.chars().collect(), n.chars().collect());
    // Iterative matching with backtracking, O(len(p) * len(n)) at worst.
    let mut memo = vec![vec![None::<bool>; n.len() + 1]; p.len() + 1];
    fn go(p: &[char], n: &[char], i: usize, j: usize, memo: &mut Vec<Vec<Option<bool>>>) -> bool {
        if let Some(v) = memo[i][j] {
            return v;
        }
        let v = match p.get(i) {
            None => j == n.len(),
            Some('*') => go(p, n, i + 1, j, memo) || (j < n.len() && go(p, n, i, j + 1, memo)),
            Some('%') => {
                go(p, n, i + 1, j, memo) || (j < n.len() && n[j] != '/' && go(p, n, i, j + 1, memo))
            }
            Some(c) => j < n.len() && n[j] == *c && go(p, n, i + 1, j + 1, memo),
        };
        memo[i][j] = Some(v);
        v
    }
    go(&p, &n, 0, 0, &mut memo)
}

/// One retention rule of the service provider's policy (`[[retention.rule]]`):
/// objects of a folder matching `folders` (IMAP LIST pattern; every
/// folder if `None`) and of kind `kind` (every kind if `None`) whose
/// INTERNALDATE is more than `max_age_seconds` old are expunged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRule {
    /// A name for the log.
    pub name: String,
    /// Folder pattern (`*`, `%` wildcards), or every folder.
    pub folders: Option<String>,
    /// Object kind, or every kind.
    pub kind: Option<ObjectKind>,
    /// Maximum age of an object, in seconds, by INTERNALDATE.
    pub max_age_seconds: u64,
}

/// What one application of a rule did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Accounts visited.
    pub accounts: u64,
    /// Objects expunged.
    pub expunged: u64,
    /// Folders skipped (a WebDAV lock, a failure), each logged.
    pub skipped_folders: u64,
}

impl Store {
    /// Expunges the objects of `folder` whose INTERNALDATE is before
    /// `before` (Unix seconds) and, if `kind` is given, of that kind;
    /// returns how many. The removal is IMAP EXPUNGE's (sessions get
    /// EXPUNGE / VANISHED, NMS subscribers the deletion), at most
    /// [`REMOVE_BATCH`] per commit, each object's date checked again in
    /// its commit. Cost: see the module.
    ///
    /// Rights: `e` (RFC 4314; an administrator principal has it).
    /// Errors: [`StoreError::NoSuchFolder`], [`StoreError::PermissionDenied`],
    /// [`StoreError::Locked`] when a WebDAV lock covers an object (what
    /// earlier batches removed stays removed).
    pub async fn expunge_before(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        before: UnixTime,
        kind: Option<ObjectKind>,
    ) -> Result<u64> {
        let old = move |o: &Object| o.internal_date < before && kind.is_none_or(|k| o.kind == k);
        let mut from: Option<Vec<u8>> = None;
        let mut removed = 0u64;
        loop {
            // One page of the date index from one snapshot.
            let (candidates, next) = {
                let snap = self.snapshot()?;
                let access = resolve(&snap, principal, folder)?;
                access.require(Right::Expunge)?;
                let id = access.folder.id;
                let start = from.take().unwrap_or_else(|| keys::date_index_all(id));
                let (page, next) = uids_before(&snap, id, before, &start, SCAN_PAGE)?;
                (
                    page.into_iter().map(|(_, uid)| uid).collect::<Vec<Uid>>(),
                    next,
                )
            };
            for batch in candidates.chunks(REMOVE_BATCH) {
                removed += self
                    .remove_where(principal, folder, batch, old)
                    .await?
                    .len() as u64;
            }
            match next {
                Some(key) => from = Some(key),
                None => return Ok(removed),
            }
        }
    }

    /// Applies `rule` to every account, at `now` (Unix seconds): in each
    /// folder it matches, [`Store::expunge_before`] `now -
    /// max_age_seconds`. Accounts are listed a page at a time; a folder
    /// that fails (a WebDAV lock) is logged and skipped. Counts what it
    /// removes in [`expiry_counters`].
    ///
    /// Errors: the store cannot be read, or is closing.
    pub async fn apply_retention(
        &self,
        rule: &RetentionRule,
        now: UnixTime,
    ) -> Result<RetentionOutcome> {
        let before = now.saturating_sub(i64::try_from(rule.max_age_seconds).unwrap_or(i64::MAX));
        let mut outcome = RetentionOutcome::default();
        let mut after: Option<String> = None;
        loop {
            let page = self.accounts_after(after.as_deref(), ACCOUNT_PAGE)?;
            let Some(last) = page.last().cloned() else {
                return Ok(outcome);
            };
            for login in page {
                self.apply_retention_to(rule, &login, before, &mut outcome)
                    .await?;
            }
            after = Some(last);
        }
    }

    /// Up to `limit` logins after `after` (from the first if `None`), in
    /// key order, from one read snapshot.
    fn accounts_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let snap = self.snapshot()?;
        let prefix = keys::accounts();
        let start = match after {
            Some(login) => {
                let mut k = keys::account(login);
                k.push(0);
                k
            }
            None => prefix.clone(),
        };
        snap.scan_from(&prefix, &start, limit)?
            .into_iter()
            .map(|(k, _)| {
                k.get(prefix.len()..)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .map(str::to_string)
                    .ok_or_else(|| StoreError::Corrupt("an account key that is not UTF-8".into()))
            })
            .collect()
    }

    /// [`Store::apply_retention`] for one account.
    async fn apply_retention_to(
        &self,
        rule: &RetentionRule,
        login: &str,
        before: UnixTime,
        outcome: &mut RetentionOutcome,
    ) -> Result<()> {
        outcome.accounts += 1;
        let principal = match self.administrator(login).await {
            Ok(p) => p,
            Err(StoreError::NoSuchAccount) => return Ok(()), // removed meanwhile
            Err(e) => return Err(e),
        };
        let folders = self.list_folders(&principal).await?;
        for info in folders.into_iter().filter(|i| i.owner.is_none()) {
            let name = info.folder.name;
            if let Some(pattern) = &rule.folders {
                if !folder_matches(pattern, &name) {
                    continue;
                }
            }
            let target = FolderRef::own(name.clone());
            match self
                .expunge_before(&principal, &target, before, rule.kind)
                .await
            {
                Ok(n) => {
                    outcome.expunged += n;
                    COUNTERS.retention_expunged.fetch_add(n, Ordering::Relaxed);
                }
                Err(StoreError::Closed) => return Err(StoreError::Closed),
                Err(StoreError::NoSuchFolder) => {}
                Err(e) => {
                    outcome.skipped_folders += 1;
                    tracing::warn!(
                        rule = %rule.name,
                        account = %login,
                        folder = %name,
                        error = %e,
                        "retention skipped a folder"
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_wildcards_match_as_imap_list_does() {
        assert!(folder_matches("*", "INBOX"));
        assert!(folder_matches("*", "Default/+1555/abc"));
        assert!(folder_matches("Default/*", "Default/+1555/abc"));
        assert!(!folder_matches("Default/%", "Default/+1555/abc"));
        assert!(folder_matches("Default/%", "Default/+1555"));
        assert!(folder_matches("inbox", "INBOX"));
        assert!(folder_matches("Inbox/%", "INBOX/x"));
        assert!(!folder_matches("Trash", "Trash2"));
        assert!(folder_matches("Tr%h", "Trash"));
        assert!(!folder_matches("%", "a/b"));
    }

    #[test]
    fn kinds_have_setting_names_both_ways() {
        for kind in ObjectKind::ALL {
            assert_eq!(
                ObjectKind::from_setting_name(kind.setting_name()),
                Some(kind)
            );
        }
        assert_eq!(ObjectKind::from_setting_name("chat"), None);
    }
}
