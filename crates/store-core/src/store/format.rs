//! The store's on-disk format version, and the upgrade of stores written
//! by earlier versions, run once at open before the writer starts.
//!
//! | version | what changed |
//! |---------|--------------|
//! | 1 (no key) | the first format: a blob's summary (0x41) held the decoded body text |
//! | 2       | the decoded body text lives under its own key (0x42), so FETCH never loads it |
//! | 3       | RFC 8474 object ids (an object's EMAILID and THREADID numbers, the thread index 0x24), RFC 8514 SAVEDATE on objects, RFC 8438 SIZE on folders; RFC 8970 previews (0x43) are made on first FETCH for older content |
//! | 4       | every blob's summary, body text and preview made again from its content (nested MIME offsets, line counts, parameters, raw header values as the mime fixes give them); an envelope address keeps its source route (`adl`) |
//! | 5       | per-folder indexes (`store::index`): every folder has its keyword list (0x16); every object its change index (0x26), flag index (0x27) and mail row (0x28) entries; every tombstone its change index entry |
//! | 6       | a blob of at most 16 KiB staged from memory (a SIP deposit, a converted APPEND) keeps its bytes in the database (0x44) instead of a file; nothing to convert, but a format-5 binary would not find them |
//! | 7       | a blob's records (reference count, summary, body text, content, preview: 0x40 to 0x44, one prefix per kind) move side by side under 0x45, so a new message's records share a page instead of dirtying five (`keys::BlobRecord`) |
//! | 8       | object numbers (`store::object_numbers`, 0x29 and 0x2A): each object gets one, in key order; the NMS objectId, kept by a move, new for a copy |
//! | 9       | the date index (0x2C, `store::index`): each object by its INTERNALDATE, so expunging by age (retention, `cpm-store expunge --before`) costs what it removes |
//!
//! A store whose version is newer than [`FORMAT_VERSION`] is refused, so an
//! older binary never misreads records it does not know.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::blob::{BlobId, BlobStore};
use crate::engine::{Engine, Snapshot, WriteBatch};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::mime::{
    summarize, summarize_headers_only, Envelope, MessageSummary, ParsedMessage, MAX_HEADER_BLOCK,
    MAX_PARSED_SIZE,
};
use crate::model::{
    AccountId, CpmHeaders, Flags, Folder, FolderId, ModSeq, Object, ObjectKind, SpecialUse, Uid,
    UnixTime,
};
use crate::objectid::ThreadRefs;
use crate::rights::Rights;
use crate::writer::{decode, encode, Batched, IndexWrite, Layered, Reader};

/// The format this build writes.
pub const FORMAT_VERSION: u64 = 9;

/// Records upgraded per commit at most, and the bytes of upgraded
/// records after which a commit is made sooner (a body text is as large
/// as its message's text, up to 64 MiB): the upgrade of a large store
/// holds a bounded batch in memory.
const UPGRADE_BATCH: usize = 1024;
const UPGRADE_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// The first field of a blob summary of any format: its header fields
/// (postcard decodes a prefix and leaves the rest, whose shape changed).
#[derive(Deserialize)]
struct SummaryHeaders {
    headers: Vec<(String, String)>,
}

/// Brings the store in `engine` to [`FORMAT_VERSION`]; a new store is
/// stamped with it.
///
/// Errors: [`StoreError::Corrupt`] for a store of a newer format or a
/// record that decodes as neither format; engine errors as they come.
pub(crate) fn upgrade(engine: &dyn Engine, blobs: &BlobStore) -> Result<()> {
    let key = keys::counter("format");
    let version: u64 = match engine.snapshot()?.get(&key)? {
        Some(bytes) => decode(&bytes)?,
        None => 1,
    };
    if version > FORMAT_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the store has format {version}; this cpm-store reads up to {FORMAT_VERSION}"
        )));
    }
    if version == FORMAT_VERSION {
        return Ok(());
    }
    // Every later step reads and writes blob records where format 7
    // keeps them: they are moved there first.
    let mut upgraded = relayout_blob_records(engine)?;
    // Summaries of formats 1 to 3 cannot be decoded by this build: they
    // are made again from content, first for format 1 (its summaries hold
    // the body text, which this moves to its own key, as format 2 does),
    // then after the object ids for formats 2 and 3. A format-1 upgrade
    // already under way (a cursor) may have been an older build's, which
    // left format-2 summaries behind the cursor: then all are made again.
    let mut resummarized = false;
    if version < 2 {
        let fresh = engine
            .snapshot()?
            .get(&keys::counter("format-upgrade"))?
            .is_none();
        upgraded += resummarize(engine, blobs)?;
        resummarized = fresh;
        stamp(engine, 2)?;
    }
    if version < 3 {
        upgraded += add_object_ids(engine)?;
        stamp(engine, 3)?;
    }
    if version < 4 {
        if !resummarized {
            upgraded += resummarize(engine, blobs)?;
        }
        stamp(engine, 4)?;
    }
    if version < 5 {
        upgraded += add_indexes(engine)?;
        stamp(engine, 5)?;
    }
    if version < 6 {
        stamp(engine, 6)?;
    }
    if version < 7 {
        stamp(engine, 7)?;
    }
    if version < 8 {
        upgraded += add_object_numbers(engine)?;
        stamp(engine, 8)?;
    }
    if version < 9 {
        upgraded += add_date_index(engine)?;
        stamp(engine, 9)?;
    }
    if upgraded > 0 {
        tracing::info!(
            records = upgraded,
            from = version,
            to = FORMAT_VERSION,
            "store format upgraded"
        );
    }
    Ok(())
}

/// Legacy records read per page by [`relayout_blob_records`]: a page
/// holds at most this many values (a body text can be large).
const RELAYOUT_PAGE: usize = 16;

/// Formats 1 to 6 to 7: moves every blob record from its kind's own
/// prefix (0x40 to 0x44) to its place beside the blob's other records
/// (0x45, [`keys::blob_record`]). Each commit deletes the keys it moved,
/// so a move cut short resumes by reading the old prefixes again; the
/// cursor a format-1 upgrade cut short left on an old summary key is
/// moved with it. Returns how many records were moved.
fn relayout_blob_records(engine: &dyn Engine) -> Result<usize> {
    let cursor_key = keys::counter("format-upgrade");
    let mut moved = 0;
    for kind in keys::BlobRecord::ALL {
        let prefix = [kind.legacy_prefix()];
        loop {
            let snapshot = engine.snapshot()?;
            let mut start = prefix.to_vec();
            let (mut batch, mut bytes, mut count) = (WriteBatch::new(), 0, 0);
            while count < UPGRADE_BATCH && bytes < UPGRADE_BATCH_BYTES {
                let page = snapshot.scan(&prefix, &start, RELAYOUT_PAGE)?;
                let Some((last, _)) = page.last() else {
                    break;
                };
                start = last.clone();
                start.push(0);
                for (key, value) in page {
                    let id = <[u8; 32]>::try_from(&key[prefix.len()..])
                        .map(BlobId)
                        .map_err(|_| {
                            StoreError::Corrupt("a blob key of the wrong length".into())
                        })?;
                    bytes += value.len();
                    count += 1;
                    batch.insert(keys::blob_record(&id, kind), Some(value));
                    batch.insert(key, None);
                }
            }
            drop(snapshot);
            if count == 0 {
                break;
            }
            engine.commit(batch)?;
            moved += count;
        }
    }
    if let Some(cursor) = engine.snapshot()?.get(&cursor_key)? {
        let legacy = keys::BlobRecord::Summary.legacy_prefix();
        if let Some(id) = cursor
            .strip_prefix(&[legacy])
            .and_then(|id| <[u8; 32]>::try_from(id).ok())
        {
            let mut batch = WriteBatch::new();
            let moved_cursor = keys::blob_record(&BlobId(id), keys::BlobRecord::Summary);
            batch.insert(cursor_key, Some(moved_cursor));
            engine.commit(batch)?;
        }
    }
    Ok(moved)
}

/// Records that the store is now of format `version`, and clears the
/// cursor of the step that brought it there.
fn stamp(engine: &dyn Engine, version: u64) -> Result<()> {
    let mut batch = WriteBatch::new();
    batch.insert(keys::counter("format"), Some(encode(&version)?));
    batch.insert(keys::counter("format-upgrade"), None);
    Ok(engine.commit(batch)?)
}

/// A version-2 folder: [`Folder`] without `size`.
#[derive(Deserialize)]
struct FolderV2 {
    id: FolderId,
    owner: AccountId,
    name: String,
    uid_validity: u32,
    uid_next: Uid,
    highest_modseq: ModSeq,
    special_use: Option<SpecialUse>,
    acl: BTreeMap<String, Rights>,
    objects: u32,
    unseen: u32,
}

/// A version-2 object: [`Object`] without `email_id`, `thread_id` and
/// `save_date`.
#[derive(Deserialize)]
struct ObjectV2 {
    uid: Uid,
    modseq: ModSeq,
    flags: Flags,
    internal_date: UnixTime,
    size: u64,
    blob: BlobId,
    kind: ObjectKind,
    cpm: CpmHeaders,
    file_name: Option<String>,
}

/// Version 4 to 5: the per-folder indexes (`store::index`), in key order
/// so that the one cursor resumes an upgrade cut short: (a) each folder
/// (0x10) without a keyword list gets the one derived from its objects;
/// (b) each object (0x20) gets its index entries, written by the hook
/// that writes use ([`super::index::object_changed`]); (c) each tombstone
/// (0x21) its change index entry. At most [`UPGRADE_BATCH`] records per
/// commit. Returns how many records were indexed.
fn add_indexes(engine: &dyn Engine) -> Result<usize> {
    let cursor_key = keys::counter("format-upgrade");
    let cursor = engine.snapshot()?.get(&cursor_key)?;
    let mut upgraded = 0;
    for prefix in [[0x10u8], [0x20u8], [0x21u8]] {
        let Some(mut start) = resume(&cursor, &prefix) else {
            continue;
        };
        loop {
            let snapshot = engine.snapshot()?;
            let page = snapshot.scan(&prefix, &start, UPGRADE_BATCH)?;
            let Some((last, _)) = page.last().cloned() else {
                break;
            };
            let mut w = Batched {
                snapshot: &*snapshot,
                batch: WriteBatch::new(),
            };
            for (key, value) in page {
                index_record(&mut w, prefix[0], &key, &value)?;
                upgraded += 1;
            }
            start = last.clone();
            start.push(0);
            let mut batch = w.batch;
            batch.insert(cursor_key.clone(), Some(last));
            engine.commit(batch)?;
        }
    }
    Ok(upgraded)
}

/// Versions 1 to 7 to 8: each object (0x20) without an object number
/// gets the next one of the counter `objectnumber`, in key order,
/// [`UPGRADE_BATCH`] objects per commit, resumable through the cursor as
/// [`add_indexes`] (an object numbered before the cut keeps its number).
/// Reads keys only. Returns how many objects were numbered.
fn add_object_numbers(engine: &dyn Engine) -> Result<usize> {
    let cursor_key = keys::counter("format-upgrade");
    let counter_key = keys::counter("objectnumber");
    let prefix = [0x20u8];
    let Some(mut start) = resume(&engine.snapshot()?.get(&cursor_key)?, &prefix) else {
        return Ok(0);
    };
    let bad = || StoreError::Corrupt("an object key of the wrong length".into());
    let mut numbered = 0;
    loop {
        let snapshot = engine.snapshot()?;
        let page = snapshot.scan_keys(&prefix, &start, UPGRADE_BATCH)?;
        let Some(last) = page.last().cloned() else {
            return Ok(numbered);
        };
        let mut next: u64 = match snapshot.get(&counter_key)? {
            Some(bytes) => decode(&bytes)?,
            None => 0,
        };
        let mut batch = WriteBatch::new();
        for key in page {
            let uid = keys::trailing_u32(&key).ok_or_else(bad)?;
            let folder =
                keys::trailing_u64(key.get(..key.len().saturating_sub(4)).ok_or_else(bad)?)
                    .ok_or_else(bad)?;
            if snapshot.get(&keys::object_number(folder, uid))?.is_some() {
                continue;
            }
            next += 1;
            batch.insert(keys::object_by_number(next), Some(encode(&(folder, uid))?));
            batch.insert(keys::object_number(folder, uid), Some(encode(&next)?));
            numbered += 1;
        }
        drop(snapshot);
        start = last.clone();
        start.push(0);
        batch.insert(counter_key.clone(), Some(encode(&next)?));
        batch.insert(cursor_key.clone(), Some(last));
        engine.commit(batch)?;
    }
}

/// Versions 1 to 8 to 9: each object (0x20) gets its date index entry
/// (0x2C), [`UPGRADE_BATCH`] objects per commit, resumable through the
/// cursor as [`add_indexes`] (writing an entry twice is harmless).
/// Returns how many objects were indexed.
fn add_date_index(engine: &dyn Engine) -> Result<usize> {
    let cursor_key = keys::counter("format-upgrade");
    let prefix = [0x20u8];
    let Some(mut start) = resume(&engine.snapshot()?.get(&cursor_key)?, &prefix) else {
        return Ok(0);
    };
    let bad = || StoreError::Corrupt("an object key of the wrong length".into());
    let mut indexed = 0;
    loop {
        let snapshot = engine.snapshot()?;
        let page = snapshot.scan(&prefix, &start, UPGRADE_BATCH)?;
        drop(snapshot);
        let Some((last, _)) = page.last().cloned() else {
            return Ok(indexed);
        };
        let mut batch = WriteBatch::new();
        for (key, value) in page {
            let object: Object = decode(&value)?;
            let folder =
                keys::trailing_u64(key.get(..key.len().saturating_sub(4)).ok_or_else(bad)?)
                    .ok_or_else(bad)?;
            batch.insert(
                keys::date_index(folder, object.internal_date, object.uid),
                Some(Vec::new()),
            );
            indexed += 1;
        }
        start = last.clone();
        start.push(0);
        batch.insert(cursor_key.clone(), Some(last));
        engine.commit(batch)?;
    }
}

/// Step (a), (b) or (c) of [`add_indexes`] for one record.
fn index_record(w: &mut Batched<'_>, prefix: u8, key: &[u8], value: &[u8]) -> Result<()> {
    let bad = || StoreError::Corrupt("a record key of the wrong length".into());
    match prefix {
        0x10 => {
            let folder: Folder = decode(value)?;
            if w.get_raw(&keys::folder_keywords(folder.id))?.is_none() {
                let list = super::keywords::derive_paged(w, folder.id)?;
                w.put_raw(keys::folder_keywords(folder.id), encode(&list)?);
            }
        }
        0x20 => {
            let object: Object = decode(value)?;
            let folder =
                keys::trailing_u64(key.get(..key.len().saturating_sub(4)).ok_or_else(bad)?)
                    .ok_or_else(bad)?;
            super::index::object_changed(w, folder, None, Some(&object), object.modseq)?;
        }
        _ => {
            let modseq: ModSeq = decode(value)?;
            let uid = keys::trailing_u32(key).ok_or_else(bad)?;
            let folder =
                keys::trailing_u64(key.get(..key.len().saturating_sub(4)).ok_or_else(bad)?)
                    .ok_or_else(bad)?;
            super::index::tombstone_indexed(w, folder, uid, modseq);
        }
    }
    Ok(())
}

/// Where a step over the records under `prefix` starts, given the cursor
/// of the last record upgraded: just past it when it is under `prefix`,
/// nowhere (`None`: done) when it is past `prefix`, else at `prefix`.
/// Steps run in key order, so one cursor serves them all.
fn resume(cursor: &Option<Vec<u8>>, prefix: &[u8]) -> Option<Vec<u8>> {
    match cursor {
        Some(last) if last.starts_with(prefix) => {
            let mut start = last.clone();
            start.push(0);
            Some(start)
        }
        Some(last) if last.as_slice() > prefix => None,
        _ => Some(prefix.to_vec()),
    }
}

/// Version 2 to 3: each folder gets its SIZE (the sum of its objects'
/// sizes), then each object gets a new EMAILID number, its THREADID
/// number (threads found through the thread index, as at store time) and
/// no save date. Resumable like [`resummarize`]: folders are keyed
/// before objects, so the one cursor tells which step and where. Returns
/// how many records were rewritten.
fn add_object_ids(engine: &dyn Engine) -> Result<usize> {
    let cursor_key = keys::counter("format-upgrade");
    let cursor = engine.snapshot()?.get(&cursor_key)?;
    let mut upgraded = 0;
    let folders_prefix = [0x10u8];
    if let Some(mut start) = resume(&cursor, &folders_prefix) {
        loop {
            let snapshot = engine.snapshot()?;
            let page = snapshot.scan(&folders_prefix, &start, UPGRADE_BATCH)?;
            let Some((last, _)) = page.last().cloned() else {
                break;
            };
            let mut batch = WriteBatch::new();
            for (key, value) in page {
                let old: FolderV2 = decode(&value)?;
                let folder = Folder {
                    size: folder_size(&*snapshot, old.id)?,
                    id: old.id,
                    owner: old.owner,
                    name: old.name,
                    uid_validity: old.uid_validity,
                    uid_next: old.uid_next,
                    highest_modseq: old.highest_modseq,
                    special_use: old.special_use,
                    acl: old.acl,
                    objects: old.objects,
                    unseen: old.unseen,
                };
                batch.insert(key, Some(encode(&folder)?));
                upgraded += 1;
            }
            start = last.clone();
            start.push(0);
            batch.insert(cursor_key.clone(), Some(last));
            engine.commit(batch)?;
        }
    }
    let objects_prefix = [0x20u8];
    let Some(mut start) = resume(&cursor, &objects_prefix) else {
        return Ok(upgraded);
    };
    // Folder id to owner, for the per-account thread index.
    let owners: HashMap<FolderId, AccountId> = engine
        .snapshot()?
        .scan(&folders_prefix, &folders_prefix, usize::MAX)?
        .iter()
        .map(|(_, v)| decode::<Folder>(v).map(|f| (f.id, f.owner)))
        .collect::<Result<_>>()?;
    let counter = keys::counter("emailid");
    loop {
        let snapshot = engine.snapshot()?;
        let page = snapshot.scan(&objects_prefix, &start, UPGRADE_BATCH)?;
        let Some((last, _)) = page.last().cloned() else {
            return Ok(upgraded);
        };
        let mut next_id: u64 = match snapshot.get(&counter)? {
            Some(v) => decode(&v)?,
            None => 0,
        };
        let mut batch = WriteBatch::new();
        for (key, value) in page {
            let old: ObjectV2 = decode(&value)?;
            next_id += 1;
            let folder = keys::trailing_u64(&key[..key.len() - 4]).unwrap_or(0);
            let thread_id = match owners.get(&folder) {
                Some(&owner) => {
                    let summary = match snapshot.get(&keys::blob_summary(&old.blob))? {
                        Some(v) => thread_summary(decode::<SummaryHeaders>(&v)?.headers),
                        None => MessageSummary::default(),
                    };
                    let reader = Layered {
                        snapshot: &*snapshot,
                        batch: &batch,
                    };
                    let refs = ThreadRefs::of(&summary);
                    let (thread, unknown) =
                        super::threads::find_thread(&reader, owner, &refs, next_id)?;
                    for k in unknown {
                        batch.insert(k, Some(encode(&thread)?));
                    }
                    thread
                }
                None => next_id,
            };
            let object = Object {
                uid: old.uid,
                modseq: old.modseq,
                flags: old.flags,
                internal_date: old.internal_date,
                size: old.size,
                blob: old.blob,
                kind: old.kind,
                cpm: old.cpm,
                file_name: old.file_name,
                email_id: next_id,
                thread_id,
                save_date: None,
            };
            batch.insert(key, Some(encode(&object)?));
            upgraded += 1;
        }
        start = last.clone();
        start.push(0);
        batch.insert(counter.clone(), Some(encode(&next_id)?));
        batch.insert(cursor_key.clone(), Some(last));
        engine.commit(batch)?;
    }
}

/// The sum of the sizes of folder `id`'s version-2 objects, read a page
/// at a time.
fn folder_size(snapshot: &dyn Snapshot, id: FolderId) -> Result<u64> {
    let prefix = keys::objects(id);
    let mut start = prefix.clone();
    let mut size = 0u64;
    loop {
        let page = snapshot.scan(&prefix, &start, UPGRADE_BATCH)?;
        let Some((last, _)) = page.last() else {
            return Ok(size);
        };
        start = last.clone();
        start.push(0);
        for (_, value) in &page {
            size += decode::<ObjectV2>(value)?.size;
        }
    }
}

/// What [`ThreadRefs::of`] reads of a summary, from its header fields
/// alone (Message-ID and In-Reply-To as the envelope keeps them: the raw
/// value; message ids hold no encoded words).
fn thread_summary(headers: Vec<(String, String)>) -> MessageSummary {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let envelope = Envelope {
        message_id: get("Message-ID"),
        in_reply_to: get("In-Reply-To"),
        ..Envelope::default()
    };
    MessageSummary {
        envelope,
        headers,
        ..MessageSummary::default()
    }
}

/// Versions 1 to 4 (format 4: summaries made by the fixed MIME parser,
/// addresses with their source route): makes every blob's summary, body
/// text and preview again from the blob's content, without decoding the
/// stored summary. The blobs of a batch are parsed on their own threads,
/// at most [`crate::Store::parser_permits`] at once (each holds one
/// message of up to [`crate::mime::MAX_PARSED_SIZE`] bytes). A blob whose
/// file is missing or unreadable is logged and its summary removed (this
/// build cannot read it; readers take a missing summary as empty), and
/// the upgrade goes on. Each commit records its last key in the counter
/// `format-upgrade`, so an upgrade cut short resumes after it. Returns
/// how many summaries were rewritten.
fn resummarize(engine: &dyn Engine, blobs: &BlobStore) -> Result<usize> {
    let prefix = keys::blob_records();
    let cursor_key = keys::counter("format-upgrade");
    let Some(mut start) = resume(&engine.snapshot()?.get(&cursor_key)?, &prefix) else {
        return Ok(0);
    };
    let permits = crate::Store::parser_permits().max(1);
    let mut upgraded = 0;
    loop {
        let mut batch = WriteBatch::new();
        let (mut bytes, mut count, mut last) = (0, 0, None);
        while count < UPGRADE_BATCH && bytes < UPGRADE_BATCH_BYTES {
            // Keys only are needed: the summaries are made again.
            let page = engine.snapshot()?.scan_keys(
                &prefix,
                &start,
                permits * keys::BlobRecord::ALL.len(),
            )?;
            let Some(page_last) = page.last().cloned() else {
                break;
            };
            start = page_last.clone();
            start.push(0);
            let summaries: Vec<(Vec<u8>, BlobId)> = page
                .into_iter()
                .filter_map(|key| match keys::parse_blob_record(&key) {
                    Some((id, keys::BlobRecord::Summary)) => Some((key, id)),
                    _ => None,
                })
                .collect();
            // A blob whose bytes are in the database has its content
            // record (formats 6 on).
            let snapshot = engine.snapshot()?;
            let mut contents = Vec::with_capacity(summaries.len());
            for (_, id) in &summaries {
                contents.push(snapshot.get(&keys::blob_record(id, keys::BlobRecord::Content))?);
            }
            drop(snapshot);
            let parsed: Vec<std::io::Result<ParsedMessage>> = std::thread::scope(|scope| {
                let workers: Vec<_> = summaries
                    .iter()
                    .zip(contents)
                    .map(|((_, id), content)| scope.spawn(move || parse_blob(blobs, id, content)))
                    .collect();
                workers
                    .into_iter()
                    .map(|w| {
                        w.join()
                            .unwrap_or_else(|_| Err(std::io::Error::other("the parser panicked")))
                    })
                    .collect()
            });
            last = Some(page_last);
            for ((key, id), result) in summaries.iter().zip(parsed) {
                match result {
                    Ok(message) => {
                        bytes += message.body_text.len();
                        batch.insert(key.clone(), Some(encode(&message.summary)?));
                        batch.insert(keys::blob_snippet(id), Some(message.preview.into_bytes()));
                        let text = message.body_text.into_bytes();
                        batch.insert(keys::blob_text(id), (!text.is_empty()).then_some(text));
                        upgraded += 1;
                    }
                    Err(e) => {
                        tracing::warn!(
                            blob = %id.to_hex(),
                            error = %e,
                            "format upgrade: cannot read a blob; its summary is dropped"
                        );
                        batch.insert(key.clone(), None);
                    }
                }
                count += 1;
            }
        }
        let Some(last) = last else {
            return Ok(upgraded);
        };
        batch.insert(cursor_key.clone(), Some(last));
        engine.commit(batch)?;
    }
}

/// Parses blob `id` as the store does at store time (whole up to
/// [`MAX_PARSED_SIZE`], else its header block): its bytes kept in the
/// database (`content`, formats 6 on), else its file or, with the S3
/// backend, its object (ranged reads).
fn parse_blob(
    blobs: &BlobStore,
    id: &BlobId,
    content: Option<Vec<u8>>,
) -> std::io::Result<ParsedMessage> {
    if let Some(bytes) = content {
        return Ok(summarize(&bytes));
    }
    let (size, bytes) = blobs.read_prefix(id, |size| {
        if size <= MAX_PARSED_SIZE {
            size
        } else {
            MAX_HEADER_BLOCK as u64
        }
    })?;
    if size <= MAX_PARSED_SIZE {
        return Ok(summarize(&bytes));
    }
    Ok(ParsedMessage {
        summary: summarize_headers_only(&bytes, size),
        body_text: String::new(),
        preview: String::new(),
    })
}
