//! Operation "search" (seed 002; IMAP SEARCH / UID SEARCH).

use super::{resolve, Store};
use crate::error::Result;
use crate::keys;
use crate::mime::MessageSummary;
use crate::model::{Object, Principal, Uid};
use crate::rights::Right;
use crate::search::SearchKey;
use crate::sort::SortInfo;
use crate::writer::Reader;

use super::folders::FolderRef;

impl Store {
    /// The UIDs of the folder's objects that match `key`, ascending.
    ///
    /// Rights: `r`.
    pub async fn search(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        key: &SearchKey,
    ) -> Result<Vec<Uid>> {
        self.scan(principal, folder, key, |o, _| o.uid)
    }

    /// The sort and threading data ([`SortInfo`], RFC 5256) of the
    /// folder's objects that match `key`, in UID order. Read from the
    /// stored summaries only: no message body is loaded (unless `key`
    /// itself searches BODY or TEXT).
    ///
    /// Rights: `r`.
    pub async fn search_sort_info(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        key: &SearchKey,
    ) -> Result<Vec<SortInfo>> {
        self.scan(principal, folder, key, SortInfo::new)
    }

    /// `extract` of every object of the folder that matches `key`, in UID
    /// order.
    fn scan<T>(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        key: &SearchKey,
        extract: impl Fn(&Object, &MessageSummary) -> T,
    ) -> Result<Vec<T>> {
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        access.require(Right::Read)?;
        let needs_text = key.needs_body_text();
        let mut out = Vec::new();
        for (_, object) in snap.load_all::<Object>(&keys::objects(access.folder.id))? {
            let summary: MessageSummary = snap
                .load(&keys::blob_summary(&object.blob))?
                .unwrap_or_default();
            // The decoded text is as large as the message: read only for
            // BODY and TEXT, one object at a time.
            let text = match needs_text {
                true => snap.get_raw(&keys::blob_text(&object.blob))?,
                false => None,
            };
            let text = text.as_deref().map(String::from_utf8_lossy);
            if key.matches(&object, &summary, text.as_deref().unwrap_or_default()) {
                out.push(extract(&object, &summary));
            }
        }
        Ok(out)
    }
}
