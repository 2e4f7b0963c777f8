//! Operation "search" (seed 002; IMAP SEARCH / UID SEARCH): objects
//! hidden from mail (`store/mail_view.rs`) never match.

use super::{resolve, Store};
use crate::error::{Result, StoreError};
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
        self.scan(principal, folder, key, |o, _| o.uid).await
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
        self.scan(principal, folder, key, SortInfo::new).await
    }

    /// The sort data of those of `uids` that are objects of the folder
    /// and match `key`, in the order of `uids`: a cost that grows with
    /// `uids`, not with the folder (for keeping a live result up to date
    /// with the messages that changed, RFC 5267 4).
    ///
    /// Rights: `r`.
    pub async fn search_sort_info_among(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uids: &[Uid],
        key: &SearchKey,
    ) -> Result<Vec<SortInfo>> {
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        access.require(Right::Read)?;
        let mut out = Vec::new();
        for &uid in uids {
            let object: Option<Object> = snap.load(&keys::object(access.folder.id, uid))?;
            if let Some(object) = object.filter(|o| !self.hidden_from_mail(o)) {
                if let Some(summary) = matching_summary(&snap, &object, key)? {
                    out.push(SortInfo::new(&object, &summary));
                }
            }
        }
        Ok(out)
    }

    /// `extract` of every object of the folder that matches `key`, in UID
    /// order. The scan runs on the blocking pool: it reads and decodes
    /// every object, which must not hold up the async workers (other
    /// connections' greetings and commands).
    async fn scan<T: Send + 'static>(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        key: &SearchKey,
        extract: impl Fn(&Object, &MessageSummary) -> T + Send + 'static,
    ) -> Result<Vec<T>> {
        let (store, principal, folder, key) =
            (self.clone(), principal.clone(), folder.clone(), key.clone());
        tokio::task::spawn_blocking(move || {
            let snap = store.snapshot()?;
            let access = resolve(&snap, &principal, &folder)?;
            access.require(Right::Read)?;
            let mut out = Vec::new();
            for (_, object) in snap.load_all::<Object>(&keys::objects(access.folder.id))? {
                if store.hidden_from_mail(&object) {
                    continue;
                }
                if let Some(summary) = matching_summary(&snap, &object, &key)? {
                    out.push(extract(&object, &summary));
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Corrupt(e.to_string()))?
    }
}

/// The stored summary of `object` if it matches `key`.
fn matching_summary(
    snap: &impl Reader,
    object: &Object,
    key: &SearchKey,
) -> Result<Option<MessageSummary>> {
    let summary: MessageSummary = snap
        .load(&keys::blob_summary(&object.blob))?
        .unwrap_or_default();
    // The decoded text is as large as the message: read only for BODY and
    // TEXT, one object at a time.
    let text = match key.needs_body_text() {
        true => snap.get_raw(&keys::blob_text(&object.blob))?,
        false => None,
    };
    let text = text.as_deref().map(String::from_utf8_lossy);
    let found = key.matches(object, &summary, text.as_deref().unwrap_or_default());
    Ok(found.then_some(summary))
}
