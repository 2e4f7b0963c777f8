//! What a deposit (SIP MESSAGE today) asks of the store before it writes:
//! whether the account already holds an object of an IMDN-Message-ID, so
//! that a duplicate into a new conversation creates no folder.

use super::Store;
use crate::error::Result;
use crate::keys;
use crate::model::{FolderId, Object, Principal, Uid};
use crate::writer::Reader;

impl Store {
    /// The folder and UID of the object of `principal`'s account whose
    /// `IMDN-Message-ID` header (trimmed, as the store indexes it) is
    /// `message_id`, if one is stored (RFC 5438 6.3: the id is unique per
    /// sender; a deposit retried after a lost response or sent again
    /// under a new Conversation-ID is the same message). `store_object`
    /// with `deduplicate` makes the same check inside its commit; this one
    /// lets a caller skip creating a folder for a duplicate.
    pub async fn imdn_object(
        &self,
        principal: &Principal,
        message_id: &str,
    ) -> Result<Option<(FolderId, Uid)>> {
        let snap = self.snapshot()?;
        let key = keys::imdn(principal.account, message_id.trim());
        let Some((folder, uid)) = snap.load::<(FolderId, Uid)>(&key)? else {
            return Ok(None);
        };
        let exists = snap.load::<Object>(&keys::object(folder, uid))?.is_some();
        Ok(exists.then_some((folder, uid)))
    }
}
