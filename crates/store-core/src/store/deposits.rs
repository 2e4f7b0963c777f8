//! Deposits (SIP MESSAGE today): an object stored into a folder of the
//! account's own that may not exist yet (a conversation's first message),
//! with the account's IMDN-Message-IDs kept unique, in one commit.

use super::folders::{create_folder_txn, FolderRef};
use super::objects::{insert_new_object, NewObject, StoredObject};
use super::Store;
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{Folder, FolderId, Object, Principal, Uid};
use crate::names::creatable;
use crate::writer::Reader;

impl Store {
    /// Operation "object store" for a deposit into `folder`, one of
    /// `principal`'s own folders, created (with its missing parents) if it
    /// does not exist. With `object.deduplicate`, an object of the account
    /// whose `IMDN-Message-ID` is the new one's (RFC 5438 6.3: unique per
    /// sender; a deposit retried after a lost response, or sent again under
    /// a new Conversation-ID) is returned instead (`existing`), and no
    /// folder is created. The look-up, the folder and the object are one
    /// commit, so two deposits of one message racing into two new folders
    /// leave one object and one folder. The folder is created with every
    /// check of operation "folder create" (the same transaction code as
    /// [`Store::create_folder`]).
    ///
    /// Errors: [`StoreError::InvalidName`] for a name the store refuses,
    /// [`StoreError::OverQuota`], and those of [`Store::store_object`].
    pub async fn deposit_object(
        &self,
        principal: &Principal,
        folder: &str,
        object: NewObject,
    ) -> Result<StoredObject> {
        let name = creatable(folder)?;
        let parsed = self.summarize_blob(&object.blob).await?;
        let principal = principal.clone();
        let layout = self.folder_layout();
        self.write(move |txn| {
            let owner = principal.account;
            let imdn = parsed.summary.cpm_headers().imdn_message_id;
            if let Some(id) = imdn.filter(|_| object.deduplicate) {
                if let Some((folder, _)) = imdn_lookup(txn, owner, &id)? {
                    // Stored already: the insert finds and returns it.
                    let f: Folder = txn
                        .load(&keys::folder(owner, folder))?
                        .ok_or_else(|| StoreError::Corrupt("imdn index".into()))?;
                    return insert_new_object(
                        txn,
                        layout,
                        &principal,
                        &FolderRef::own(f.name),
                        object,
                        parsed,
                    );
                }
            }
            let folder = FolderRef::own(name.clone());
            if txn.get_raw(&keys::folder_name(owner, &name))?.is_none() {
                // The checks and creation of "folder create" itself.
                create_folder_txn(txn, layout, &principal, &folder, &name, None)?;
            }
            insert_new_object(txn, layout, &principal, &folder, object, parsed)
        })
        .await
    }
}

/// The folder and UID of the object of account `owner` whose
/// `IMDN-Message-ID` (trimmed, as the store indexes it) is `message_id`,
/// if one is stored.
fn imdn_lookup<R: Reader + ?Sized>(
    r: &R,
    owner: crate::model::AccountId,
    message_id: &str,
) -> Result<Option<(FolderId, Uid)>> {
    let Some((folder, uid)) = r.load::<(FolderId, Uid)>(&keys::imdn(owner, message_id.trim()))?
    else {
        return Ok(None);
    };
    let exists = r.load::<Object>(&keys::object(folder, uid))?.is_some();
    Ok(exists.then_some((folder, uid)))
}
