//! Bulk loading for benchmarks: a folder of N messages and an account of N
//! folders, written through the store's own write path (the same record,
//! index, counter, quota and change-log writes as APPEND and CREATE) but
//! in large transactions instead of one commit per message.
//!
//! Not an API for clients: it skips the lock and quota checks, and it
//! trusts its caller with the folder (the owner's own). Used by
//! `benches/store.rs` and by the `cpm-bench` fixtures.

use super::folders::{create_folder_in, FolderRef};
use super::objects::insert_object;
use super::{next_modseq, now, resolve, Store};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::mime::MessageSummary;
use crate::model::{Flags, Folder, Object, Principal, Uid};
use crate::rights::Right;
use crate::writer::Reader;
use crate::{FlagUpdate, NewObject};

/// Folders created per transaction by [`Store::bulk_folders`].
pub const FOLDERS_PER_TXN: usize = 1_000;
/// Objects inserted per transaction by [`Store::bulk_messages`].
pub const OBJECTS_PER_TXN: u32 = 5_000;
/// Distinct messages staged and parsed per transaction (each is parsed
/// once; the other objects share their blobs).
const DISTINCT_PER_TXN: usize = 200;

/// What [`Store::bulk_messages`] builds.
#[derive(Debug, Clone)]
pub struct BulkSpec {
    /// Objects to store in the folder (before churn expunges some).
    pub count: u32,
    /// Distinct contents among them (at least 1): object `i` has the
    /// content of message `i % distinct`, sharing its blob.
    pub distinct: u32,
    /// Fraction (0..=1) of objects stored with `\Seen`, among all but
    /// the newest `unseen_newest`.
    pub seen: f64,
    /// The newest objects (by number), stored without `\Seen` whatever
    /// `seen` says: a mailbox read but for its latest messages, whose
    /// SEARCH UNSEEN answer is the same size at every folder size.
    pub unseen_newest: u32,
    /// Fraction (0..=1) of objects stored with `\Flagged`.
    pub flagged: f64,
    /// Keywords; object `i` gets `keywords[i % len]` on every 7th object.
    pub keywords: Vec<String>,
    /// Fraction (0..=1) of the objects expunged after they are stored
    /// (history: tombstones and change-log entries).
    pub expunge_ratio: f64,
    /// Flag changes per remaining object after that (each one a STORE
    /// of `$BenchChurn`, added then removed, in batches).
    pub flag_churn: u32,
}

impl BulkSpec {
    /// `count` objects with the defaults of the benchmark fixtures:
    /// 1,000 distinct contents, all seen but the newest 100, 2% flagged,
    /// two keywords, no history.
    pub fn new(count: u32) -> BulkSpec {
        BulkSpec {
            count,
            distinct: 1_000,
            seen: 1.0,
            unseen_newest: 100,
            flagged: 0.02,
            keywords: vec!["$Bench1".into(), "$Bench2".into()],
            expunge_ratio: 0.0,
            flag_churn: 0,
        }
    }
}

/// What [`Store::bulk_messages`] left in the folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkReport {
    /// UIDs present at the end, ascending.
    pub uids: Vec<Uid>,
    /// UIDs expunged by the churn, ascending.
    pub expunged: Vec<Uid>,
}

/// The synthetic message number `n` (about 600 bytes): a plain-text
/// mail with a unique Message-ID, one of 50 senders and a CPM header.
pub fn bench_message(n: u32) -> Vec<u8> {
    format!(
        "From: Sender {s} <sender{s}@example.com>\r\n\
         To: Bench <bench@example.com>\r\n\
         Subject: bench message {n}\r\n\
         Date: Mon, 30 Nov 2026 08:00:00 +0000\r\n\
         Message-ID: <bench-{n}@example.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         This is benchmark message {n}. It carries a few lines of text so\r\n\
         that body search and previews have something to read; the words\r\n\
         alpha beta gamma delta appear in every one, and token{m} in one\r\n\
         message of each hundred.\r\n",
        s = n % 50,
        m = n % 100,
    )
    .into_bytes()
}

/// A deterministic value in 0..1 for object `i` and salt `salt`
/// (splitmix64), so fixtures are the same on every run.
fn unit(i: u32, salt: u64) -> f64 {
    let mut z = (u64::from(i) << 8 ^ salt).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The flags of object number `i` under `spec`.
fn flags_of(spec: &BulkSpec, i: u32) -> Flags {
    let mut flags = Flags::new();
    let newest = i >= spec.count.saturating_sub(spec.unseen_newest);
    if !newest && unit(i, 1) < spec.seen {
        flags.insert("\\Seen");
    }
    if unit(i, 2) < spec.flagged {
        flags.insert("\\Flagged");
    }
    if !spec.keywords.is_empty() && i.is_multiple_of(7) {
        flags.insert(&spec.keywords[(i as usize / 7) % spec.keywords.len()]);
    }
    flags
}

impl Store {
    /// Creates the folders `names` of `principal`'s own account,
    /// [`FOLDERS_PER_TXN`] per transaction, each as CREATE makes it
    /// (records, name index, keyword list, change log). Names that exist
    /// already are skipped; parents are not created (give them first).
    ///
    /// Errors: [`StoreError::InvalidArgument`] for a name that is not a
    /// valid folder name; storage errors.
    #[doc(hidden)]
    pub async fn bulk_folders(&self, principal: &Principal, names: &[String]) -> Result<()> {
        let mut canonical = Vec::with_capacity(names.len());
        for name in names {
            canonical.push(
                crate::names::canonical(name)
                    .map_err(|_| StoreError::InvalidArgument(format!("bad folder name {name}")))?,
            );
        }
        for chunk in canonical.chunks(FOLDERS_PER_TXN) {
            let (owner, chunk) = (principal.account, chunk.to_vec());
            self.write(move |txn| {
                for name in &chunk {
                    if txn.get_raw(&keys::folder_name(owner, name))?.is_none() {
                        create_folder_in(txn, owner, name, None)?;
                    }
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Fills `folder` (which must exist, with `i` right) as `spec` says:
    /// the first `spec.distinct` messages ([`bench_message`]) are staged,
    /// parsed and stored through [`Store::store_objects`]; the rest are
    /// inserted [`OBJECTS_PER_TXN`] per transaction as copies sharing
    /// their blobs, each with its own UID, MODSEQ, EMAILID and change-log
    /// entry. Then the churn: `expunge_ratio` of the objects are removed
    /// through [`Store::remove_objects`] and `flag_churn` flag changes
    /// are made on the rest through [`Store::update_flags`].
    ///
    /// Errors: [`StoreError::NoSuchFolder`], [`StoreError::PermissionDenied`],
    /// [`StoreError::InvalidArgument`] for `distinct == 0`, storage errors.
    #[doc(hidden)]
    pub async fn bulk_messages(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        spec: &BulkSpec,
    ) -> Result<BulkReport> {
        if spec.distinct == 0 {
            return Err(StoreError::InvalidArgument(
                "distinct must be at least 1".into(),
            ));
        }
        let distinct = spec.distinct.min(spec.count);
        let mut templates: Vec<Uid> = Vec::with_capacity(distinct as usize);
        let numbers: Vec<u32> = (0..distinct).collect();
        for chunk in numbers.chunks(DISTINCT_PER_TXN) {
            let mut objects = Vec::with_capacity(chunk.len());
            for &i in chunk {
                let mut object = NewObject::new(self.stage_bytes(&bench_message(i)).await?);
                object.flags = flags_of(spec, i);
                objects.push(object);
            }
            let stored = self.store_objects(principal, folder, objects).await?;
            templates.extend(stored.iter().map(|s| s.uid));
        }
        let mut uids = templates.clone();
        let mut next = distinct;
        while next < spec.count {
            let end = spec.count.min(next.saturating_add(OBJECTS_PER_TXN));
            let (principal, folder, spec2, templates) = (
                principal.clone(),
                folder.clone(),
                spec.clone(),
                templates.clone(),
            );
            let added = self
                .write(move |txn| {
                    let access = resolve(txn, &principal, &folder)?;
                    access.require(Right::Insert)?;
                    let mut f: Folder = access.folder;
                    let mut cache: Vec<Option<(Object, MessageSummary)>> =
                        vec![None; templates.len()];
                    let mut added = Vec::with_capacity((end - next) as usize);
                    let saved = now();
                    for i in next..end {
                        let t = (i % distinct) as usize;
                        if cache[t].is_none() {
                            let object: Object = txn
                                .load(&keys::object(f.id, templates[t]))?
                                .ok_or(StoreError::NoSuchObject)?;
                            let summary: MessageSummary = txn
                                .load(&keys::blob_summary(&object.blob))?
                                .unwrap_or_default();
                            cache[t] = Some((object, summary));
                        }
                        let Some((template, summary)) = &cache[t] else {
                            continue;
                        };
                        let mut copy = template.clone();
                        copy.uid = f.uid_next;
                        f.uid_next = f.uid_next.checked_add(1).ok_or_else(|| {
                            StoreError::NotAllowed("the folder has used every UID".into())
                        })?;
                        copy.flags = flags_of(&spec2, i);
                        copy.save_date = Some(saved);
                        (copy.email_id, copy.thread_id) =
                            super::threads::new_ids(txn, f.owner, summary)?;
                        // IMDN-Message-ID stays indexed to the first holder.
                        txn.share_blob(&copy.blob)?;
                        let modseq = next_modseq(txn, f.owner)?;
                        added.push(copy.uid);
                        insert_object(txn, &mut f, copy, modseq, None)?;
                    }
                    txn.put(keys::folder(f.owner, f.id), &f)?;
                    Ok(added)
                })
                .await?;
            uids.extend(added);
            next = end;
        }
        let mut expunged = Vec::new();
        if spec.expunge_ratio > 0.0 {
            let (gone, kept): (Vec<Uid>, Vec<Uid>) =
                uids.iter().partition(|&&u| unit(u, 3) < spec.expunge_ratio);
            for chunk in gone.chunks(OBJECTS_PER_TXN as usize) {
                expunged.extend(self.remove_objects(principal, folder, chunk).await?);
            }
            uids = kept;
        }
        let mut churn = Flags::new();
        churn.insert("$BenchChurn");
        for round in 0..spec.flag_churn {
            for chunk in uids.chunks(OBJECTS_PER_TXN as usize) {
                let update = if round.is_multiple_of(2) {
                    FlagUpdate::Add(churn.clone())
                } else {
                    FlagUpdate::Remove(churn.clone())
                };
                self.update_flags(principal, folder, chunk, update, None)
                    .await?;
            }
        }
        expunged.sort_unstable();
        Ok(BulkReport { uids, expunged })
    }
}
