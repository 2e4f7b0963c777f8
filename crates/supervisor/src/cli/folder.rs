//! `cpm-store folder list|create|rename|delete LOGIN ...`: an account's
//! folders, by the rules IMAP LIST, CREATE, RENAME and DELETE obey
//! (reserved names, INBOX, special use; store-core's folder operations
//! with an administrator principal of the account).

use clap::Subcommand;
use serde::{Deserialize, Serialize};
use store_core::model::SpecialUse;
use store_core::{FolderRef, Store, StoreError};

/// `cpm-store folder ...`
#[derive(Debug, Clone, Subcommand, Serialize, Deserialize)]
#[serde(tag = "folder_op", rename_all = "snake_case")]
pub enum FolderCommand {
    /// List the account's folders, tab-separated with a header line:
    /// name, special use, UIDVALIDITY, messages, unseen, size in bytes,
    /// HIGHESTMODSEQ.
    List {
        /// Login name.
        login: String,
    },
    /// Create a folder (and its missing parents), as IMAP CREATE.
    Create {
        /// Login name.
        login: String,
        /// Folder name, `/` between levels.
        name: String,
        /// An RFC 6154 special use: \All, \Archive, \Drafts, \Flagged,
        /// \Junk, \Sent or \Trash.
        #[arg(long)]
        special_use: Option<String>,
    },
    /// Rename a folder, as IMAP RENAME (INBOX: its messages move).
    Rename {
        /// Login name.
        login: String,
        /// The folder's name.
        old: String,
        /// Its new name.
        new: String,
    },
    /// Delete a folder and its messages, as IMAP DELETE.
    Delete {
        /// Login name.
        login: String,
        /// Folder name.
        name: String,
    },
}

const SPECIAL_USES: [SpecialUse; 7] = [
    SpecialUse::All,
    SpecialUse::Archive,
    SpecialUse::Drafts,
    SpecialUse::Flagged,
    SpecialUse::Junk,
    SpecialUse::Sent,
    SpecialUse::Trash,
];

/// The special use named `attribute` (`\Archive`, case-insensitive, the
/// backslash optional).
///
/// Errors: [`StoreError::InvalidArgument`] naming the choices.
pub fn special_use(attribute: &str) -> Result<SpecialUse, StoreError> {
    let wanted = attribute.trim_start_matches('\\');
    SPECIAL_USES
        .into_iter()
        .find(|u| u.attribute()[1..].eq_ignore_ascii_case(wanted))
        .ok_or_else(|| {
            StoreError::InvalidArgument(format!(
                "special use {attribute:?}: one of \\All, \\Archive, \\Drafts, \\Flagged, \\Junk, \\Sent, \\Trash"
            ))
        })
}

/// Runs `command` on `store`; returns the lines to print.
///
/// Errors: those of the store's folder operations
/// ([`StoreError::NoSuchAccount`], [`StoreError::NoSuchFolder`],
/// [`StoreError::FolderExists`], [`StoreError::InvalidName`],
/// [`StoreError::NotAllowed`], ...).
pub async fn run(store: &Store, command: FolderCommand) -> Result<Vec<String>, StoreError> {
    match command {
        FolderCommand::List { login } => {
            let admin = store.administrator(&login).await?;
            let mut lines = vec![
                "name\tspecial_use\tuidvalidity\tmessages\tunseen\tsize\thighestmodseq".to_string(),
            ];
            for info in store.list_folders(&admin).await? {
                if info.owner.is_some() {
                    continue;
                }
                let f = info.folder;
                lines.push(format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    f.name,
                    f.special_use.map_or("-", |u| u.attribute()),
                    f.uid_validity,
                    f.objects,
                    f.unseen,
                    f.size,
                    f.highest_modseq
                ));
            }
            Ok(lines)
        }
        FolderCommand::Create {
            login,
            name,
            special_use: attribute,
        } => {
            let use_ = attribute.as_deref().map(special_use).transpose()?;
            let admin = store.administrator(&login).await?;
            let f = store
                .create_folder(&admin, &FolderRef::own(name), use_)
                .await?;
            Ok(vec![format!(
                "created {} (UIDVALIDITY {})",
                f.name, f.uid_validity
            )])
        }
        FolderCommand::Rename { login, old, new } => {
            let admin = store.administrator(&login).await?;
            store
                .rename_folder(
                    &admin,
                    &FolderRef::own(old.clone()),
                    &FolderRef::own(new.clone()),
                )
                .await?;
            Ok(vec![format!("renamed {old} to {new}")])
        }
        FolderCommand::Delete { login, name } => {
            let admin = store.administrator(&login).await?;
            store
                .remove_folder(&admin, &FolderRef::own(name.clone()))
                .await?;
            Ok(vec![format!("deleted {name}")])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_uses_are_read_with_or_without_the_backslash() {
        assert_eq!(special_use("\\Archive").ok(), Some(SpecialUse::Archive));
        assert_eq!(special_use("trash").ok(), Some(SpecialUse::Trash));
        assert!(special_use("\\Important").is_err());
    }
}
