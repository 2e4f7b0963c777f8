//! Operations "object store", "object fetch", "object copy", "object move"
//! and "object remove" (seed 002), and flag changes (IMAP STORE).

use std::io::Read;

use super::{next_modseq, now, resolve, Access, Store};
use crate::blob::{BlobWriter, StagedBlob, StagedSource};
use crate::conversation::FolderLayout;
use crate::error::{Result, StoreError};
use crate::keys;
use crate::mime::{
    summarize, summarize_headers_only, MessageSummary, ParsedMessage, MAX_HEADER_BLOCK,
    MAX_PARSED_SIZE,
};
use crate::model::{
    AccountId, Change, ChangeKind, Flags, Folder, FolderId, ModSeq, Object, ObjectKind, Principal,
    QuotaResource, Uid, UnixTime,
};
use crate::retention::FolderView;
use crate::rights::Right;
use crate::writer::{Reader, Txn};

use super::folders::FolderRef;
use super::locks::{check_write, drop_locks_of, Touch, TouchKind};
use super::metadata::{carry_object_metadata, purge_object_metadata};

/// An object to store: its content, already staged as a blob, and its
/// initial state.
#[derive(Debug)]
pub struct NewObject {
    /// The content (see [`Store::blob_writer`], [`Store::stage_bytes`]).
    pub blob: StagedBlob,
    /// Initial flags and keywords.
    pub flags: Flags,
    /// INTERNALDATE; `None` = now.
    pub internal_date: Option<UnixTime>,
    /// Kind; `None` = detected from the content.
    pub kind: Option<ObjectKind>,
    /// A file name (media objects).
    pub file_name: Option<String>,
    /// If an object with the same IMDN-Message-ID exists in the account,
    /// return it instead of storing again (a SIP deposit retried after a
    /// lost response).
    pub deduplicate: bool,
    /// An object of the same folder this one replaces in the same
    /// transaction (a WebDAV PUT over an existing resource): it is removed,
    /// and its metadata (dead properties) passes to the new object.
    /// Needs `t` and `e` besides `i`. Unless [`NewObject::replace_named`]
    /// is set, it is exact (a conditional WebDAV PUT, RFC 9110 13.1.1):
    /// the store fails with [`StoreError::NoSuchObject`] if that object is
    /// gone when the write commits, and with [`StoreError::ObjectExists`]
    /// if another object holds the name by then.
    pub replaces: Option<Uid>,
    /// Whether an object of the folder that holds [`NewObject::file_name`]
    /// when the write commits is replaced as by
    /// [`NewObject::replaces`] (WebDAV PUT, RFC 9110 9.3.4: of concurrent
    /// PUTs to one new name the last one wins, none fails) rather than
    /// refused with [`StoreError::ObjectExists`].
    pub replace_named: bool,
}

impl NewObject {
    /// A new object with no flags, stored now, of the kind its content
    /// declares.
    pub fn new(blob: StagedBlob) -> NewObject {
        NewObject {
            blob,
            flags: Flags::new(),
            internal_date: None,
            kind: None,
            file_name: None,
            deduplicate: false,
            replaces: None,
            replace_named: false,
        }
    }
}

/// Where an object was stored (IMAP APPENDUID, RFC 4315).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredObject {
    /// The folder's UIDVALIDITY.
    pub uid_validity: u32,
    /// The object's UID.
    pub uid: Uid,
    /// The MODSEQ of the store.
    pub modseq: ModSeq,
    /// Whether an existing object was returned (deduplication).
    pub existing: bool,
    /// Whether the new object replaced one of the same name (WebDAV PUT
    /// answers 204 then, 201 otherwise, RFC 9110 9.3.4).
    pub replaced: bool,
}

/// How a flag update changes an object's flags (IMAP STORE).
#[derive(Debug, Clone)]
pub enum FlagUpdate {
    /// Replace all flags (`FLAGS`).
    Replace(Flags),
    /// Add these (`+FLAGS`).
    Add(Flags),
    /// Remove these (`-FLAGS`).
    Remove(Flags),
}

/// One flag update of [`Store::update_flags_in_order`]: the arguments of
/// [`Store::update_flags`], and whether to report the objects it leaves
/// as they were.
#[derive(Debug, Clone)]
pub struct FlagUpdateRequest {
    /// The objects, by UID; those that do not exist are skipped.
    pub uids: Vec<Uid>,
    /// Replace, add or remove.
    pub update: FlagUpdate,
    /// UNCHANGEDSINCE (RFC 7162 3.1.3).
    pub unchanged_since: Option<ModSeq>,
    /// Whether [`FlagUpdateResult::unchanged`] is filled (IMAP STORE
    /// without `.SILENT` answers every message with its flags, RFC 3501
    /// 6.4.6, as they were at this update).
    pub report_unchanged: bool,
}

/// The outcome of a flag update.
#[derive(Debug, Clone, Default)]
pub struct FlagUpdateResult {
    /// Objects whose flags changed: UID, new MODSEQ and new flags.
    pub updated: Vec<(Uid, ModSeq, Flags)>,
    /// Objects not changed because their MODSEQ was above the
    /// UNCHANGEDSINCE value (RFC 7162 3.1.3, the MODIFIED response code).
    pub modified: Vec<Uid>,
    /// The MODSEQ each object of `updated` had before the update, in the
    /// same order: a session that has reported every change up to a
    /// MODSEQ at least this high knows the flags the update started from
    /// (IMAP STORE `.SILENT`, RFC 3501 6.4.6).
    pub prior_modseqs: Vec<ModSeq>,
    /// When asked for ([`FlagUpdateRequest::report_unchanged`]): objects
    /// the update left as they were (their flags already as asked), with
    /// their MODSEQ and flags, read in the same transaction.
    pub unchanged: Vec<(Uid, ModSeq, Flags)>,
}

/// The outcome of a copy or move (IMAP COPYUID, RFC 4315).
#[derive(Debug, Clone, Default)]
pub struct CopyResult {
    /// UIDVALIDITY of the destination.
    pub uid_validity: u32,
    /// Source UID and destination UID, in source UID order.
    pub uids: Vec<(Uid, Uid)>,
}

impl Store {
    /// Starts writing a new blob, streamed to disk (IMAP APPEND literals,
    /// WebDAV PUT bodies): the content never sits whole in memory.
    pub async fn blob_writer(&self) -> Result<BlobWriter> {
        Ok(self.inner.blobs.writer().await?)
    }

    /// Stages a small content held in memory.
    pub async fn stage_bytes(&self, bytes: &[u8]) -> Result<StagedBlob> {
        Ok(self.inner.blobs.stage_bytes(bytes).await?)
    }

    /// Operation "object store" (IMAP APPEND, WebDAV PUT, SIP deposit).
    /// Returns once the content and the record are durable.
    ///
    /// Rights: `i` (and `s`/`w`/`t` are not required for initial flags,
    /// RFC 4314 section 4 APPEND). Errors: [`StoreError::NoSuchFolder`],
    /// [`StoreError::PermissionDenied`], [`StoreError::OverQuota`],
    /// [`StoreError::Locked`] (a WebDAV lock on the folder or the named
    /// resource whose token the principal did not submit),
    /// [`StoreError::ReservedFolder`] (a folder the folder layout reserves
    /// to trusted network elements, [`FolderLayout::check_write`]).
    pub async fn store_object(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        object: NewObject,
    ) -> Result<StoredObject> {
        // Fail early, before parsing, on a folder that cannot take it.
        resolve(&self.snapshot()?, principal, folder)?.require(Right::Insert)?;
        let parsed = self.summarize_blob(&object.blob).await?;
        let (principal, folder) = (principal.clone(), folder.clone());
        let layout = self.folder_layout();
        self.write(move |txn| insert_new_object(txn, layout, &principal, &folder, object, parsed))
            .await
    }

    /// Operation "object store" for several objects at once (IMAP
    /// MULTIAPPEND, RFC 3502): every object is stored, in order, in one
    /// transaction, or none is. Returns once all are durable, in order.
    ///
    /// Rights and errors: as [`Store::store_object`], for the first
    /// object that fails; then nothing is stored.
    /// [`StoreError::OverQuota`] comes before any object is parsed when
    /// their total size or count is over the account's quota.
    pub async fn store_objects(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        objects: Vec<NewObject>,
    ) -> Result<Vec<StoredObject>> {
        // Fail early, before parsing any of them, on a folder that cannot
        // take them all (the write checks again, for the whole).
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        access.require(Right::Insert)?;
        let bytes = objects.iter().map(|o| o.blob.size).sum();
        check_quota(&snap, access.folder.owner, bytes, objects.len() as u64)?;
        drop(snap);
        let mut parsed = Vec::with_capacity(objects.len());
        for object in objects {
            let message = self.summarize_blob(&object.blob).await?;
            parsed.push((object, message));
        }
        let (principal, folder) = (principal.clone(), folder.clone());
        let layout = self.folder_layout();
        self.write(move |txn| {
            parsed
                .into_iter()
                .map(|(object, message)| {
                    insert_new_object(txn, layout, &principal, &folder, object, message)
                })
                .collect()
        })
        .await
    }

    /// Parses a staged blob (whole up to [`MAX_PARSED_SIZE`], else its
    /// header block only), unless the store already holds its summary:
    /// then the summary and its text are read back, so that the write can
    /// record both again if the blob's last other reference goes first.
    ///
    /// Parsing is CPU- and memory-heavy (the message is read whole), so it
    /// runs on a blocking thread, at most [`Store::parser_permits`] at once:
    /// other connections' tasks go on meanwhile, and concurrent large
    /// stores queue rather than each holding a copy of their message.
    pub(super) async fn summarize_blob(&self, blob: &StagedBlob) -> Result<ParsedMessage> {
        let snapshot = self.snapshot()?;
        if let Some(summary) = snapshot.load::<MessageSummary>(&keys::blob_summary(&blob.id))? {
            let text = snapshot.get_raw(&keys::blob_text(&blob.id))?;
            let body_text = String::from_utf8(text.unwrap_or_default())
                .map_err(|_| StoreError::Corrupt("a body text is not UTF-8".into()))?;
            let snippet = snapshot.get_raw(&keys::blob_snippet(&blob.id))?;
            let preview = String::from_utf8(snippet.unwrap_or_default()).unwrap_or_default();
            return Ok(ParsedMessage {
                summary,
                body_text,
                preview,
            });
        }
        drop(snapshot);
        match blob.source() {
            StagedSource::Memory(bytes) => {
                let bytes = bytes.clone();
                self.parse_blocking(move || Ok(summarize(&bytes))).await
            }
            StagedSource::File(path) => self.parse_blob_file(path.to_path_buf(), blob.size).await,
        }
    }

    /// Runs `parse` (a MIME parse) on a blocking thread, holding one of
    /// the store's parser permits (one per CPU), so MIME parsing never
    /// stalls the async workers.
    ///
    /// Errors: [`StoreError::Closed`]; `parse`'s.
    async fn parse_blocking(
        &self,
        parse: impl FnOnce() -> Result<ParsedMessage> + Send + 'static,
    ) -> Result<ParsedMessage> {
        let _permit = self
            .inner
            .parsers
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        tokio::task::spawn_blocking(parse)
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
    }

    /// Parses the message in the file `path` of `size` bytes
    /// ([`Store::parse_blocking`]).
    ///
    /// Errors: [`StoreError::Closed`], the file's I/O errors.
    async fn parse_blob_file(&self, path: std::path::PathBuf, size: u64) -> Result<ParsedMessage> {
        self.parse_blocking(move || parse_file(&path, size)).await
    }

    /// Where the object of object number `number` is now, among the
    /// folders of `owner` (a login; `None`: the principal's own account):
    /// the folder, named as [`FolderRef`] names it, and the UID. The number
    /// is the NMS objectId (OMA-TS-REST_NetAPI_NMS 5.1.2, `object_numbers`):
    /// a move keeps it, so it finds the object in its new folder. Two
    /// point reads, whatever the store holds.
    ///
    /// Rights: `r` on the folder. Errors: [`StoreError::NoSuchObject`]
    /// for a number of no object, of another account's object, or of one
    /// in a folder the principal may not read (not told apart: IMAP and
    /// WebDAV hide what a principal may not see, and so does this).
    pub async fn locate_object(
        &self,
        principal: &Principal,
        owner: Option<&str>,
        number: u64,
    ) -> Result<(FolderRef, Uid)> {
        let snap = self.snapshot()?;
        let account = match owner {
            Some(login) => super::account_id(&snap, login).map_err(|_| StoreError::NoSuchObject)?,
            None => principal.account,
        };
        let Some((folder, uid)) = super::object_numbers::locate(&snap, number)? else {
            return Err(StoreError::NoSuchObject);
        };
        let Some(record) = snap.load::<Folder>(&keys::folder(account, folder))? else {
            return Err(StoreError::NoSuchObject);
        };
        let folder = FolderRef {
            owner: owner.map(str::to_string),
            name: record.name,
        };
        match resolve(&snap, principal, &folder).and_then(|a| a.require(Right::Read)) {
            Ok(()) => Ok((folder, uid)),
            Err(
                StoreError::NoSuchObject
                | StoreError::NoSuchFolder
                | StoreError::PermissionDenied(_),
            ) => Err(StoreError::NoSuchObject),
            Err(e) => Err(e),
        }
    }

    /// The object number of `uid` in `folder` (the NMS objectId of that
    /// object, see [`Store::locate_object`]).
    ///
    /// Rights: `r`. Errors: as [`Store::fetch_object`].
    pub async fn object_number(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uid: Uid,
    ) -> Result<u64> {
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        access.require(Right::Read)?;
        super::object_numbers::of(&snap, access.folder.id, uid)?.ok_or(StoreError::NoSuchObject)
    }

    /// Operation "object fetch": an object's record and MIME summary.
    ///
    /// Rights: `r`. Errors: [`StoreError::NoSuchFolder`],
    /// [`StoreError::PermissionDenied`], [`StoreError::NoSuchObject`].
    pub async fn fetch_object(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uid: Uid,
    ) -> Result<(Object, MessageSummary)> {
        let snap = self.snapshot()?;
        let access = resolve(&snap, principal, folder)?;
        access.require(Right::Read)?;
        let object: Object = snap
            .load(&keys::object(access.folder.id, uid))?
            .ok_or(StoreError::NoSuchObject)?;
        let summary = snap
            .load(&keys::blob_summary(&object.blob))?
            .unwrap_or_default();
        Ok((object, summary))
    }

    /// Operation "object fetch" for an open view ([`Store::open_view`]):
    /// as [`Store::fetch_object`], and an object removed since the view
    /// last synchronized is still returned, from what the removal kept
    /// (RFC 3501 7.4.1, RFC 2180 4.1; crate::retention); its blob stays
    /// openable with [`Store::open_blob`] until the view synchronizes past
    /// the removal or closes.
    ///
    /// Rights: `r`. Errors: as [`Store::fetch_object`];
    /// [`StoreError::NoSuchObject`] also when a bound of the retention
    /// released it.
    pub async fn fetch_object_in_view(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uid: Uid,
        view: &FolderView,
    ) -> Result<(Object, MessageSummary)> {
        match self.fetch_object(principal, folder, uid).await {
            Err(StoreError::NoSuchObject) => {}
            other => return other,
        }
        let object = self
            .inner
            .retention
            .get(view, uid)
            .ok_or(StoreError::NoSuchObject)?;
        // Kept in the store while the removal is retained.
        let summary = self
            .snapshot()?
            .load(&keys::blob_summary(&object.blob))?
            .unwrap_or_default();
        Ok((object, summary))
    }

    /// Opens a view of `folder` (its store id) synchronized to `synced`
    /// (the HIGHESTMODSEQ it was read at), for a session that numbers the
    /// folder's messages (IMAP SELECT). Objects removed while the view is
    /// behind stay readable through [`Store::fetch_object_in_view`] until
    /// [`FolderView::synced`] passes their removal or the view is dropped.
    pub fn open_view(&self, folder: FolderId, synced: ModSeq) -> FolderView {
        self.inner.retention.open_view(folder, synced)
    }

    /// Opens a view of `folder` at MODSEQ 0, before the folder is read:
    /// every removal committed from now on is retained for it until
    /// [`FolderView::synced`] is told the HIGHESTMODSEQ of the state the
    /// session then reads ([`Store::select_folder`]). Opening the view
    /// after that read would lose a removal committed in between (the
    /// session numbers the message, yet could not read it).
    ///
    /// Rights: as [`Store::folder_status`]. Errors:
    /// [`StoreError::NoSuchFolder`].
    pub async fn open_folder_view(
        &self,
        principal: &Principal,
        folder: &FolderRef,
    ) -> Result<FolderView> {
        let (folder, _) = self.folder_status(principal, folder).await?;
        // Registered on the writer thread, between commits: a removal
        // whose transaction ran before is committed (so absent from any
        // read after this returns); one that runs after sees the view.
        let retention = self.inner.retention.clone();
        match self
            .write(move |_| Ok(retention.open_view(folder.id, 0)))
            .await
        {
            Ok(view) => Ok(view),
            // Writes are failing, so no removal commits meanwhile.
            Err(_) => Ok(self.open_view(folder.id, 0)),
        }
    }

    /// Removed objects `folder` keeps for lagging views (tests, metrics).
    pub fn retained_objects(&self, folder: FolderId) -> usize {
        self.inner.retention.retained(folder)
    }

    /// Operation "object fetch", content: opens the object's bytes for
    /// streaming (seek for partial fetches and HTTP ranges).
    ///
    /// Rights: `r`. Errors: as [`Store::fetch_object`].
    pub async fn open_content(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uid: Uid,
    ) -> Result<crate::blob::BlobReader> {
        let (object, _) = self.fetch_object(principal, folder, uid).await?;
        self.blob_reader(&object.blob).await.map_err(|e| match e {
            // Removed between the lookup and the open.
            StoreError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                StoreError::NoSuchObject
            }
            e => e,
        })
    }

    /// The bytes of blob `id`, wherever they are kept: in the database
    /// (a small blob, [`crate::blob::MAX_INLINE`]) or in its file.
    ///
    /// Errors: [`StoreError::Io`] (`NotFound` once the blob is gone).
    pub(super) async fn blob_reader(
        &self,
        id: &crate::blob::BlobId,
    ) -> Result<crate::blob::BlobReader> {
        if let Some(bytes) = self.snapshot()?.get_raw(&keys::blob_content(id))? {
            return Ok(crate::blob::BlobReader::memory(bytes.into()));
        }
        Ok(self.inner.blobs.open_blob(id).await?)
    }

    /// An object's RFC 8970 PREVIEW text (at most
    /// [`crate::mime::MAX_PREVIEW_CHARS`] characters; empty when it has no
    /// text part). It is computed when the content is stored; for content
    /// stored before the store kept previews it is computed here, from the
    /// content (parsed off the async workers, as at store time), and kept
    /// for later calls, unless `lazy` (RFC 8970 `PREVIEW (LAZY)`): then
    /// `None` is returned instead of doing that work.
    ///
    /// Rights: `r`. Errors: as [`Store::fetch_object`].
    pub async fn object_preview(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uid: Uid,
        lazy: bool,
    ) -> Result<Option<String>> {
        let (object, _) = self.fetch_object(principal, folder, uid).await?;
        self.preview_of(&object, lazy).await
    }

    /// The RFC 8970 PREVIEW text of `object`, a record the caller read
    /// with the rights it needs (`r`), e.g. through
    /// [`Store::fetch_object_in_view`]: an object removed but still
    /// retained for the caller's view is previewed from its kept content.
    /// As [`Store::object_preview`] otherwise.
    ///
    /// Errors: [`StoreError::NoSuchObject`] when the content is gone
    /// (removed and no longer retained).
    pub async fn preview_of(&self, object: &Object, lazy: bool) -> Result<Option<String>> {
        let key = keys::blob_snippet(&object.blob);
        if let Some(text) = self.snapshot()?.get_raw(&key)? {
            return Ok(Some(String::from_utf8_lossy(&text).into_owned()));
        }
        if lazy {
            return Ok(None);
        }
        let parsed = self
            .parse_blob_file(self.inner.blobs.path(&object.blob), object.size)
            .await;
        let preview = match parsed {
            Ok(p) => p.preview,
            // Removed between the lookup and the read.
            Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NoSuchObject)
            }
            Err(e) => return Err(e),
        };
        let (blob, text) = (object.blob, preview.clone());
        self.write(move |txn| {
            // Kept only while the blob is, so it goes with it.
            if txn.get_raw(&keys::blob_refs(&blob))?.is_some() {
                txn.put_raw(keys::blob_snippet(&blob), text.into_bytes());
            }
            Ok(())
        })
        .await?;
        Ok(Some(preview))
    }

    /// Changes the flags of the objects `uids` (IMAP STORE). With
    /// `unchanged_since`, objects whose MODSEQ is greater are left alone and
    /// reported (RFC 7162 UNCHANGEDSINCE). UIDs that do not exist are
    /// skipped. Objects whose flags end up unchanged keep their MODSEQ.
    ///
    /// Rights: `s` for \Seen, `t` for \Deleted, `w` for the others.
    pub async fn update_flags(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uids: &[Uid],
        update: FlagUpdate,
        unchanged_since: Option<ModSeq>,
    ) -> Result<FlagUpdateResult> {
        let request = FlagUpdateRequest {
            uids: uids.to_vec(),
            update,
            unchanged_since,
            report_unchanged: false,
        };
        let (principal, folder) = (principal.clone(), folder.clone());
        self.write(move |txn| apply_flag_update(txn, &principal, &folder, request))
            .await
    }

    /// Runs several flag updates of one folder, each as
    /// [`Store::update_flags`] would, in the order given, and returns each
    /// one's outcome in that order. They are queued together, so they
    /// share a group commit (or two, if the writer was idle when the first
    /// arrived): a client's pipelined STOREs cost one fsync between them,
    /// not one each. One failing leaves the others as they are.
    pub async fn update_flags_in_order(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        requests: Vec<FlagUpdateRequest>,
    ) -> Vec<Result<FlagUpdateResult>> {
        let pending: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let (principal, folder) = (principal.clone(), folder.clone());
                self.submit(move |txn| apply_flag_update(txn, &principal, &folder, request))
            })
            .collect();
        let mut outcomes = Vec::with_capacity(pending.len());
        for p in pending {
            outcomes.push(match p {
                Ok(p) => p.outcome().await,
                Err(e) => Err(e),
            });
        }
        outcomes
    }

    /// Operation "object copy" (IMAP COPY, WebDAV COPY): copies share the
    /// blob, nothing is stored twice. Flags are copied; UIDs that do not
    /// exist are skipped.
    ///
    /// Rights: `r` on the source, `i` on the destination.
    /// Errors: [`StoreError::OverQuota`], [`StoreError::Locked`] (the
    /// destination's membership is locked), [`StoreError::ReservedFolder`]
    /// (a destination reserved to trusted network elements) and those of
    /// resolving both.
    pub async fn copy_objects(
        &self,
        principal: &Principal,
        from: &FolderRef,
        uids: &[Uid],
        to: &FolderRef,
    ) -> Result<CopyResult> {
        self.transfer(principal, from, uids, to, false).await
    }

    /// Operation "object move" (IMAP MOVE, RFC 6851; WebDAV MOVE): a copy
    /// and a removal from the source in one transaction.
    ///
    /// Rights: `r`, `t` and `e` on the source, `i` on the destination.
    /// Errors: as [`Store::copy_objects`]; [`StoreError::Locked`] also for
    /// a locked object or source folder.
    pub async fn move_objects(
        &self,
        principal: &Principal,
        from: &FolderRef,
        uids: &[Uid],
        to: &FolderRef,
    ) -> Result<CopyResult> {
        self.transfer(principal, from, uids, to, true).await
    }

    async fn transfer(
        &self,
        principal: &Principal,
        from: &FolderRef,
        uids: &[Uid],
        to: &FolderRef,
        remove: bool,
    ) -> Result<CopyResult> {
        let (principal, from, to, uids) =
            (principal.clone(), from.clone(), to.clone(), uids.to_vec());
        let layout = self.folder_layout();
        self.write(move |txn| {
            transfer_in(txn, layout, &principal, &from, &uids, &to, remove, None).map(|(r, _)| r)
        })
        .await
    }

    /// Operation "object remove" (IMAP EXPUNGE / UID EXPUNGE, WebDAV
    /// DELETE): removes the objects `uids` for good, recording each UID as
    /// expunged with the MODSEQ of its removal (for QRESYNC VANISHED).
    /// Returns the UIDs removed, ascending; missing UIDs are skipped.
    ///
    /// Rights: `e`. Errors: [`StoreError::Locked`] when a WebDAV lock
    /// protects one of the objects or the folder's membership: then
    /// nothing is removed.
    pub async fn remove_objects(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uids: &[Uid],
    ) -> Result<Vec<Uid>> {
        self.remove_where(principal, folder, uids, |_| true).await
    }

    /// Operation "expunge" (IMAP EXPUNGE, UID EXPUNGE and CLOSE, RFC 3501
    /// 6.4.3 and 6.4.2): as [`Store::remove_objects`], but removes only
    /// those of `uids` still flagged `\Deleted` when the write transaction
    /// reads them, so that a `-FLAGS (\Deleted)` committed by another
    /// session after the caller searched for `\Deleted` keeps its
    /// message. Returns the UIDs removed, ascending.
    ///
    /// Rights and errors: as [`Store::remove_objects`].
    pub async fn expunge_deleted(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uids: &[Uid],
    ) -> Result<Vec<Uid>> {
        self.remove_where(principal, folder, uids, |o| o.flags.contains("\\Deleted"))
            .await
    }

    /// The body of [`Store::remove_objects`], [`Store::expunge_deleted`]
    /// and expunging by age (`store::expiry`): removes the objects of
    /// `uids` that `keep` accepts, read inside the write transaction.
    pub(super) async fn remove_where(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uids: &[Uid],
        keep: impl Fn(&Object) -> bool + Send + 'static,
    ) -> Result<Vec<Uid>> {
        let (principal, folder, mut uids) = (principal.clone(), folder.clone(), uids.to_vec());
        uids.sort_unstable();
        uids.dedup();
        self.write(move |txn| {
            let access = resolve(txn, &principal, &folder)?;
            access.require(Right::Expunge)?;
            let mut f = access.folder;
            let objects: Vec<Object> = uids
                .iter()
                .filter_map(|u| txn.load::<Object>(&keys::object(f.id, *u)).transpose())
                .filter(|o| o.as_ref().map_or(true, &keep))
                .collect::<Result<_>>()?;
            check_write(txn, &principal, &removal_touches(&f, &objects))?;
            let mut removed = Vec::new();
            let mut gone = Vec::new();
            let mut modseq = None;
            for object in objects {
                let uid = object.uid;
                let m = match modseq {
                    Some(m) => m,
                    None => *modseq.insert(next_modseq(txn, f.owner)?),
                };
                remove_object(txn, &mut f, &object, m)?;
                gone.push(Touch::object(&f, object.resource_name()));
                removed.push(uid);
            }
            drop_locks_of(txn, &gone)?;
            if let Some(m) = modseq {
                f.highest_modseq = m;
                txn.put(keys::folder(f.owner, f.id), &f)?;
            }
            Ok(removed)
        })
        .await
    }
}

/// A single object's new name in a [`transfer_in`] (WebDAV COPY and MOVE
/// of a resource): its file name there, and the object of the
/// destination it replaces (`Overwrite: T`), if any.
pub(super) struct Renamed<'a> {
    pub name: &'a str,
    pub replaces: Option<Uid>,
}

/// The one copy/move core (IMAP COPY and MOVE, WebDAV COPY and MOVE of a
/// resource): copies share the blob and carry flags and per-object
/// metadata; a move removes the source in the same transaction. UIDs that
/// do not exist are skipped, except with `renamed` (one object under a
/// new name), where a missing object is [`StoreError::NoSuchObject`]. The
/// copy gets a new UID and save date (RFC 8514), and a new EMAILID and
/// THREADID in another account (RFC 8474 5.1). Returns the copy result
/// and the destination's MODSEQ.
///
/// Rights: `r` on the source (and `t`, `e` to move), `i` on the
/// destination (and `t`, `e` to replace). Errors:
/// [`StoreError::ObjectExists`] (the new name is held by an object other
/// than the one replaced), [`StoreError::Locked`],
/// [`StoreError::ReservedFolder`] (a destination `layout` reserves to
/// network elements), [`StoreError::OverQuota`] and those of resolving
/// both folders.
#[allow(clippy::too_many_arguments)]
pub(super) fn transfer_in(
    txn: &mut Txn<'_>,
    layout: FolderLayout,
    principal: &Principal,
    from: &FolderRef,
    uids: &[Uid],
    to: &FolderRef,
    remove: bool,
    renamed: Option<Renamed<'_>>,
) -> Result<(CopyResult, ModSeq)> {
    let source = resolve(txn, principal, from)?;
    source.require(Right::Read)?;
    if remove {
        source.require(Right::DeleteObject)?;
        source.require(Right::Expunge)?;
    }
    let dest = resolve(txn, principal, to)?;
    dest.require(Right::Insert)?;
    layout.check_write(principal, &dest.folder.name)?;
    let objects: Vec<Object> = uids
        .iter()
        .filter_map(|u| {
            txn.load::<Object>(&keys::object(source.folder.id, *u))
                .transpose()
        })
        .collect::<Result<_>>()?;
    let same = source.folder.id == dest.folder.id;
    let mut replaced = None;
    if let Some(r) = &renamed {
        let [object] = objects.as_slice() else {
            return Err(StoreError::NoSuchObject);
        };
        if let Some(old) = r.replaces.filter(|old| !(same && *old == object.uid)) {
            dest.require(Right::DeleteObject)?;
            dest.require(Right::Expunge)?;
            replaced = txn.load::<Object>(&keys::object(dest.folder.id, old))?;
        }
    }
    let mut src = source.folder;
    let mut dst = dest.folder;
    let mut touches = vec![Touch::folder(TouchKind::Members, dst.owner, &dst.name)];
    if let (Some(r), Some(object)) = (&renamed, objects.first()) {
        if let Some(holder) = super::resources::lookup(txn, dst.id, r.name)? {
            let ours = (same && holder.uid == object.uid)
                || replaced.as_ref().is_some_and(|o| o.uid == holder.uid);
            if !ours {
                return Err(StoreError::ObjectExists);
            }
        }
        touches.push(Touch::object(&dst, r.name.to_string()));
        if let Some(old) = &replaced {
            touches.push(Touch::object(&dst, old.resource_name()));
        }
    }
    if remove {
        touches.extend(removal_touches(&src, &objects));
    }
    check_write(txn, principal, &touches)?;
    if src.owner != dst.owner || !remove {
        let bytes: u64 = objects.iter().map(|o| o.size).sum();
        let freed = replaced.as_ref().map_or(0, |o| o.size);
        let count = objects.len() as u64 - u64::from(replaced.is_some());
        check_quota(txn, dst.owner, bytes.saturating_sub(freed), count)?;
    }
    let dst_modseq = next_modseq(txn, dst.owner)?;
    let src_modseq = if src.owner == dst.owner {
        dst_modseq
    } else {
        next_modseq(txn, src.owner)?
    };
    let mut result = CopyResult {
        uid_validity: dst.uid_validity,
        uids: Vec::new(),
    };
    if let Some(old) = replaced {
        remove_object(txn, &mut dst, &old, dst_modseq)?;
        drop_locks_of(txn, &[Touch::object(&dst, old.resource_name())])?;
    }
    let saved = now();
    for object in objects {
        let mut copy = object.clone();
        copy.uid = dst.uid_next;
        copy.save_date = Some(saved);
        if let Some(r) = &renamed {
            copy.file_name = Some(r.name.to_string());
        }
        if src.owner != dst.owner {
            // RFC 8474 5.1: the same EMAILID only within an account.
            let summary: MessageSummary = txn
                .load(&keys::blob_summary(&copy.blob))?
                .unwrap_or_default();
            (copy.email_id, copy.thread_id) = super::threads::new_ids(txn, dst.owner, &summary)?;
        }
        dst.uid_next = dst
            .uid_next
            .checked_add(1)
            .ok_or_else(|| StoreError::NotAllowed("the folder has used every UID".into()))?;
        result.uids.push((object.uid, copy.uid));
        // Take the copy's blob reference before the source releases its
        // own, so the blob never reaches zero references.
        txn.share_blob(&copy.blob)?;
        carry_object_metadata(
            txn,
            &[principal.account],
            (src.id, object.uid),
            (dst.id, copy.uid),
            false,
        )?;
        // A move keeps the object's number; a copy is a new object.
        let number = match remove {
            true => super::object_numbers::of(txn, src.id, object.uid)?,
            false => None,
        };
        if remove {
            // Removed first so the IMDN index and the file name move with
            // the object.
            let holder = if same { &mut dst } else { &mut src };
            remove_object(txn, holder, &object, src_modseq)?;
            drop_locks_of(txn, &[Touch::object(holder, object.resource_name())])?;
        }
        insert_object(txn, &mut dst, copy, dst_modseq, number)?;
        if remove {
            // Moved, not gone: the removal's vanished record goes.
            txn.delete(keys::vanished(src.owner, src_modseq, src.id, object.uid));
        }
    }
    dst.highest_modseq = dst_modseq;
    txn.put(keys::folder(dst.owner, dst.id), &dst)?;
    if remove && !same {
        src.highest_modseq = src_modseq;
        txn.put(keys::folder(src.owner, src.id), &src)?;
    }
    Ok((result, dst_modseq))
}

/// What removing `objects` from `folder` changes, for the lock check:
/// each object, and the folder's membership.
pub(super) fn removal_touches(folder: &Folder, objects: &[Object]) -> Vec<Touch> {
    let mut touches = Vec::with_capacity(objects.len() + 1);
    if !objects.is_empty() {
        touches.push(Touch::folder(
            TouchKind::Members,
            folder.owner,
            &folder.name,
        ));
    }
    touches.extend(
        objects
            .iter()
            .map(|o| Touch::object(folder, o.resource_name())),
    );
    touches
}

/// Reads and parses the message in `path` of `size` bytes (blocking).
pub(super) fn parse_file(path: &std::path::Path, size: u64) -> Result<ParsedMessage> {
    let file = std::fs::File::open(path)?;
    if size <= MAX_PARSED_SIZE {
        let mut raw = Vec::with_capacity(size as usize);
        file.take(size).read_to_end(&mut raw)?;
        Ok(summarize(&raw))
    } else {
        let mut head = Vec::with_capacity(MAX_HEADER_BLOCK);
        file.take(MAX_HEADER_BLOCK as u64).read_to_end(&mut head)?;
        Ok(ParsedMessage {
            summary: summarize_headers_only(&head, size),
            body_text: String::new(),
            preview: String::new(),
        })
    }
}

/// Adds `object` (its UID already taken from `folder`) to the folder. A
/// file name another object of the folder holds (an IMAP COPY of a media
/// object next to one of the same name) gets the UID appended to its stem,
/// so resource names stay unique.
pub(super) fn insert_object(
    txn: &mut Txn<'_>,
    folder: &mut Folder,
    object: Object,
    modseq: ModSeq,
    number: Option<u64>,
) -> Result<()> {
    let mut object = object;
    object.modseq = modseq;
    folder.objects += 1;
    folder.size += object.size;
    if !object.flags.contains("\\Seen") {
        folder.unseen += 1;
    }
    folder.highest_modseq = modseq;
    super::keywords::note_keywords(txn, folder.id, &object.flags)?;
    if let Some(name) = object.file_name.take() {
        let name = if txn.get_raw(&keys::object_name(folder.id, &name))?.is_some() {
            unique_name(&name, object.uid)
        } else {
            name
        };
        txn.put(keys::object_name(folder.id, &name), &object.uid)?;
        object.file_name = Some(name);
    }
    let bytes = txn.add(
        keys::account_counter(folder.owner, "bytes"),
        object.size as i64,
    )?;
    let objects = txn.add(keys::account_counter(folder.owner, "objects"), 1)?;
    let grown = [
        (QuotaResource::Storage, bytes, object.size),
        (QuotaResource::Message, objects, 1),
    ];
    super::quota::record_levels_crossed(txn, folder, modseq, grown)?;
    if let Some(m) = &object.cpm.imdn_message_id {
        if txn.get_raw(&keys::imdn(folder.owner, m))?.is_none() {
            txn.put(keys::imdn(folder.owner, m), &(folder.id, object.uid))?;
        }
    }
    match number {
        Some(n) => super::object_numbers::place(txn, n, folder.id, object.uid)?,
        None => {
            super::object_numbers::assign(txn, folder.id, object.uid)?;
        }
    }
    txn.put(keys::object(folder.id, object.uid), &object)?;
    super::index::object_changed(txn, folder.id, None, Some(&object), modseq)?;
    txn.record_change(
        folder.owner,
        Change {
            modseq,
            folder: folder.id,
            kind: ChangeKind::ObjectStored { uid: object.uid },
        },
    )
}

/// `photo.jpg` taken by another object becomes `photo-{uid}.jpg`.
fn unique_name(name: &str, uid: Uid) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}-{uid}.{ext}"),
        _ => format!("{name}-{uid}"),
    }
}

/// Removes `object` from `folder`, keeping its UID as expunged, with its
/// name index entry and its metadata.
pub(super) fn remove_object(
    txn: &mut Txn<'_>,
    folder: &mut Folder,
    object: &Object,
    modseq: ModSeq,
) -> Result<()> {
    txn.delete(keys::object(folder.id, object.uid));
    super::object_numbers::vanish(txn, folder, object, modseq)?;
    txn.put(keys::expunged(folder.id, object.uid), &modseq)?;
    super::index::object_changed(txn, folder.id, Some(object), None, modseq)?;
    if let Some(name) = &object.file_name {
        txn.put(keys::expunged_name(folder.id, object.uid), name)?;
        if txn.load::<Uid>(&keys::object_name(folder.id, name))? == Some(object.uid) {
            txn.delete(keys::object_name(folder.id, name));
        }
    }
    purge_object_metadata(txn, &[folder.owner], (folder.id, object.uid))?;
    txn.note_removed(folder.id, modseq, object)?;
    txn.release_blob(&object.blob)?;
    if let Some(m) = &object.cpm.imdn_message_id {
        if txn.load::<(u64, Uid)>(&keys::imdn(folder.owner, m))? == Some((folder.id, object.uid)) {
            txn.delete(keys::imdn(folder.owner, m));
        }
    }
    folder.objects = folder.objects.saturating_sub(1);
    folder.size = folder.size.saturating_sub(object.size);
    if !object.flags.contains("\\Seen") {
        folder.unseen = folder.unseen.saturating_sub(1);
    }
    folder.highest_modseq = modseq;
    txn.add(
        keys::account_counter(folder.owner, "bytes"),
        -(object.size as i64),
    )?;
    txn.add(keys::account_counter(folder.owner, "objects"), -1)?;
    txn.record_change(
        folder.owner,
        Change {
            modseq,
            folder: folder.id,
            kind: ChangeKind::ObjectRemoved { uid: object.uid },
        },
    )
}

/// Fails with [`StoreError::OverQuota`] if adding `bytes` and `count`
/// objects would exceed the account's limits.
pub(super) fn check_quota<R: Reader + ?Sized>(
    txn: &R,
    account: AccountId,
    bytes: u64,
    count: u64,
) -> Result<()> {
    let limits = super::quota::limits_of(txn, account)?;
    let used: u64 = txn
        .load(&keys::account_counter(account, "bytes"))?
        .unwrap_or(0);
    let held: u64 = txn
        .load(&keys::account_counter(account, "objects"))?
        .unwrap_or(0);
    if limits.max_bytes.is_some_and(|m| used + bytes > m)
        || limits.max_objects.is_some_and(|m| held + count > m)
    {
        crate::telemetry::metrics().quota_refusals.inc();
        return Err(StoreError::OverQuota);
    }
    Ok(())
}

fn require_flag_rights(access: &Access, flags: &Flags, replace: bool) -> Result<()> {
    if replace {
        // FLAGS replaces everything; each kind of flag needs its right only
        // if the principal holds none of them at all.
        if [Right::Seen, Right::Write, Right::DeleteObject]
            .iter()
            .all(|r| !access.rights.contains(*r))
        {
            return Err(StoreError::PermissionDenied(Right::Write));
        }
        return Ok(());
    }
    for flag in flags.iter() {
        let right = flag_right(flag);
        access.require(right)?;
    }
    Ok(())
}

fn flag_right(flag: &str) -> Right {
    if flag.eq_ignore_ascii_case("\\Seen") {
        Right::Seen
    } else if flag.eq_ignore_ascii_case("\\Deleted") {
        Right::DeleteObject
    } else {
        Right::Write
    }
}

/// For a replacing update: flags the principal may not change keep their
/// old state (RFC 4314 section 4, STORE).
fn keep_unwritable(access: &Access, old: &Flags, new: &Flags) -> Flags {
    let mut out = Flags::new();
    for f in old.iter() {
        if !access.rights.contains(flag_right(f)) {
            out.insert(f);
        }
    }
    for f in new.iter() {
        if access.rights.contains(flag_right(f)) {
            out.insert(f);
        }
    }
    out
}

/// The write of [`Store::store_object`]: checks, quota, UID and records of
/// one new object (or the existing one, when deduplicated). A folder
/// `layout` reserves to network elements takes objects only from one
/// ([`StoreError::ReservedFolder`]).
pub(super) fn insert_new_object(
    txn: &mut Txn<'_>,
    layout: FolderLayout,
    principal: &Principal,
    folder: &FolderRef,
    object: NewObject,
    message: ParsedMessage,
) -> Result<StoredObject> {
    let ParsedMessage {
        summary,
        body_text,
        preview,
    } = message;
    let access = resolve(txn, principal, folder)?;
    access.require(Right::Insert)?;
    layout.check_write(principal, &access.folder.name)?;
    let owner = access.folder.owner;
    let cpm = summary.cpm_headers();
    if object.deduplicate {
        if let Some(m) = &cpm.imdn_message_id {
            if let Some((fid, uid)) = txn.load::<(u64, Uid)>(&keys::imdn(owner, m))? {
                if let Some(o) = txn.load::<Object>(&keys::object(fid, uid))? {
                    let f: Folder = txn
                        .load(&keys::folder(owner, fid))?
                        .ok_or_else(|| StoreError::Corrupt("imdn index".into()))?;
                    return Ok(StoredObject {
                        uid_validity: f.uid_validity,
                        uid,
                        modseq: o.modseq,
                        existing: true,
                        replaced: false,
                    });
                }
            }
        }
    }
    let holder = match &object.file_name {
        Some(name) => txn.load::<Uid>(&keys::object_name(access.folder.id, name))?,
        None => None,
    };
    let replaces = match (object.replaces, holder) {
        (_, Some(h)) if object.replace_named => Some(h),
        (r, _) => r,
    };
    let replaced = match replaces {
        Some(uid) => {
            access.require(Right::DeleteObject)?;
            access.require(Right::Expunge)?;
            txn.load::<Object>(&keys::object(access.folder.id, uid))?
        }
        None => None,
    };
    if holder.is_some_and(|h| Some(h) != replaced.as_ref().map(|r| r.uid)) {
        return Err(StoreError::ObjectExists);
    }
    if !object.replace_named && object.replaces.is_some() && replaced.is_none() {
        return Err(StoreError::NoSuchObject);
    }
    let mut touches = vec![Touch::folder(
        TouchKind::Members,
        owner,
        &access.folder.name,
    )];
    if let Some(name) = &object.file_name {
        touches.push(Touch::object(&access.folder, name.clone()));
    }
    if let Some(r) = &replaced {
        touches.push(Touch::object(&access.folder, r.resource_name()));
    }
    check_write(txn, principal, &touches)?;
    let freed = replaced.as_ref().map_or(0, |r| r.size);
    check_quota(
        txn,
        owner,
        object.blob.size.saturating_sub(freed),
        u64::from(replaced.is_none()),
    )?;
    let mut f = access.folder;
    let modseq = next_modseq(txn, owner)?;
    let uid = f.uid_next;
    f.uid_next = f
        .uid_next
        .checked_add(1)
        .ok_or_else(|| StoreError::NotAllowed("the folder has used every UID".into()))?;
    let (email_id, thread_id) = super::threads::new_ids(txn, owner, &summary)?;
    let record = Object {
        uid,
        modseq,
        flags: object.flags,
        internal_date: object.internal_date.unwrap_or_else(now),
        size: object.blob.size,
        blob: object.blob.id,
        kind: object.kind.unwrap_or_else(|| summary.detect_kind()),
        cpm,
        file_name: object.file_name,
        email_id,
        thread_id,
        save_date: Some(now()),
    };
    if txn.get_raw(&keys::blob_summary(&record.blob))?.is_none() {
        txn.put(keys::blob_summary(&record.blob), &summary)?;
        txn.put_raw(keys::blob_snippet(&record.blob), preview.into_bytes());
        if !body_text.is_empty() {
            txn.put_raw(keys::blob_text(&record.blob), body_text.into_bytes());
        }
    }
    txn.add_blob_ref(object.blob)?;
    let was_replaced = replaced.is_some();
    if let Some(old) = replaced {
        carry_object_metadata(txn, &[owner], (f.id, old.uid), (f.id, uid), false)?;
        remove_object(txn, &mut f, &old, modseq)?;
    }
    insert_object(txn, &mut f, record, modseq, None)?;
    txn.put(keys::folder(owner, f.id), &f)?;
    Ok(StoredObject {
        uid_validity: f.uid_validity,
        uid,
        modseq,
        existing: false,
        replaced: was_replaced,
    })
}

/// One flag update ([`Store::update_flags`]) in a transaction.
fn apply_flag_update(
    txn: &mut Txn<'_>,
    principal: &Principal,
    folder: &FolderRef,
    request: FlagUpdateRequest,
) -> Result<FlagUpdateResult> {
    let FlagUpdateRequest {
        uids,
        update,
        unchanged_since,
        report_unchanged,
    } = request;
    let access = resolve(txn, principal, folder)?;
    let touched = match &update {
        FlagUpdate::Replace(f) | FlagUpdate::Add(f) | FlagUpdate::Remove(f) => f,
    };
    require_flag_rights(&access, touched, matches!(update, FlagUpdate::Replace(_)))?;
    let mut f = access.folder.clone();
    let owner = f.owner;
    let mut result = FlagUpdateResult::default();
    let mut modseq = None;
    for uid in uids {
        let key = keys::object(f.id, uid);
        let Some(mut object) = txn.load::<Object>(&key)? else {
            continue;
        };
        if unchanged_since.is_some_and(|n| object.modseq > n) {
            result.modified.push(uid);
            continue;
        }
        let mut flags = object.flags.clone();
        match &update {
            FlagUpdate::Replace(new) => flags = keep_unwritable(&access, &object.flags, new),
            FlagUpdate::Add(add) => add.iter().for_each(|x| {
                flags.insert(x);
            }),
            FlagUpdate::Remove(rem) => rem.iter().for_each(|x| {
                flags.remove(x);
            }),
        }
        if flags == object.flags {
            if report_unchanged {
                result.unchanged.push((uid, object.modseq, flags));
            }
            continue;
        }
        let m = match modseq {
            Some(m) => m,
            None => *modseq.insert(next_modseq(txn, owner)?),
        };
        let was_seen = object.flags.contains("\\Seen");
        let is_seen = flags.contains("\\Seen");
        if was_seen != is_seen {
            f.unseen = if is_seen {
                f.unseen.saturating_sub(1)
            } else {
                f.unseen + 1
            };
        }
        let before = object.clone();
        object.flags = flags;
        result.prior_modseqs.push(object.modseq);
        object.modseq = m;
        result.updated.push((uid, m, object.flags.clone()));
        txn.put(key, &object)?;
        super::index::object_changed(txn, f.id, Some(&before), Some(&object), m)?;
        txn.record_change(
            owner,
            Change {
                modseq: m,
                folder: f.id,
                kind: ChangeKind::FlagsChanged { uid },
            },
        )?;
    }
    if let Some(m) = modseq {
        if !matches!(update, FlagUpdate::Remove(_)) {
            super::keywords::note_keywords(txn, f.id, touched)?;
        }
        f.highest_modseq = m;
        txn.put(keys::folder(owner, f.id), &f)?;
    }
    Ok(result)
}
