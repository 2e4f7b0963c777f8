//! Operation "synchronize with client" (seed 002, 5.5.1.20): what changed
//! in a folder since a MODSEQ (RFC 7162 CONDSTORE/QRESYNC; WebDAV sync
//! tokens), what changed in the account since a change number (the changes
//! since a client's last de-registration), and the live change feed.

use tokio::sync::broadcast;

use super::{resolve, Store};
use crate::error::Result;
use crate::keys;
use crate::model::{Change, Folder, ModSeq, Object, Principal, Uid};
use crate::rights::Right;
use crate::writer::Reader;

use super::folders::{FolderRef, ObjectState};

/// What changed in one folder since a MODSEQ.
#[derive(Debug, Clone)]
pub struct FolderChanges {
    /// The folder's current state.
    pub folder: Folder,
    /// Objects whose MODSEQ is greater, in UID order.
    pub changed: Vec<ObjectState>,
    /// UIDs expunged with a greater MODSEQ, ascending.
    pub vanished: Vec<Uid>,
}

impl Store {
    /// Changes in a folder since `since` (exclusive), every object
    /// included (IMAP sessions use [`Store::mail_changes_since`]).
    ///
    /// Rights: `r`.
    pub async fn changes_since(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        since: ModSeq,
    ) -> Result<FolderChanges> {
        self.folder_changes(principal, folder, since, |_| true)
    }

    /// The changes of `folder` since `since` (exclusive): the objects
    /// `keep` accepts whose MODSEQ is greater, and the UIDs expunged since.
    ///
    /// Rights: `r`.
    pub(super) fn folder_changes(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        since: ModSeq,
        keep: impl Fn(&Object) -> bool,
    ) -> Result<FolderChanges> {
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        access.require(Right::Read)?;
        let id = access.folder.id;
        let changed = snap
            .load_all::<Object>(&keys::objects(id))?
            .iter()
            .filter(|(_, o)| o.modseq > since && keep(o))
            .map(|(_, o)| ObjectState::from(o))
            .collect();
        let vanished = snap
            .load_all::<ModSeq>(&keys::expunged_all(id))?
            .into_iter()
            .filter(|(_, m)| *m > since)
            .filter_map(|(k, _)| keys::trailing_u32(&k))
            .collect();
        Ok(FolderChanges {
            folder: access.folder,
            changed,
            vanished,
        })
    }

    /// The principal's account changes with a MODSEQ greater than `since`,
    /// oldest first, at most `limit`.
    pub async fn account_changes_since(
        &self,
        principal: &Principal,
        since: ModSeq,
        limit: usize,
    ) -> Result<Vec<Change>> {
        let snap = self.snapshot()?;
        let prefix = keys::changes(principal.account);
        let start = keys::change(principal.account, since.saturating_add(1), 0);
        snap.scan(&prefix, &start, limit)?
            .into_iter()
            .map(|(_, v)| crate::writer::decode(&v))
            .collect()
    }

    /// The account's current MODSEQ (its latest change number).
    pub async fn account_modseq(&self, principal: &Principal) -> Result<ModSeq> {
        Ok(self
            .snapshot()?
            .load(&keys::account_counter(principal.account, "modseq"))?
            .unwrap_or(0))
    }

    /// A receiver of every change committed in the principal's account from
    /// now on (IDLE, NOTIFY, SIP NOTIFY). A receiver that falls more than
    /// 1024 changes behind gets `Lagged` and should resynchronize with
    /// [`Store::account_changes_since`].
    pub fn subscribe_changes(&self, principal: &Principal) -> broadcast::Receiver<Change> {
        self.inner.hub.subscribe(principal.account)
    }
}
