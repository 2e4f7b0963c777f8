//! Object numbers: the identity of one object of the store, as the OMA
//! NMS binding names it (objectId, OMA-TS-REST_NetAPI_NMS 5.1.2: unique
//! within the box and never reused; a move keeps it, 6.16; a copy is a new
//! object with a new one, 6.15).
//!
//! RFC 8474's EMAILID cannot serve: it names content, and a COPY within
//! the account keeps it (README, "OBJECTID"), so two objects can share
//! one. The number is taken from the store-wide counter `objectnumber`
//! when an object is stored or copied, carried by a move and by the
//! rename of INBOX, and forgotten with the object. It lives in two side
//! records, so the object record keeps its shape: 0x29 (number → folder,
//! UID) and 0x2A (folder, UID → number). Each costs one point read.

use crate::error::Result;
use crate::keys;
use crate::model::{Folder, FolderId, ModSeq, Object, Uid};
use crate::writer::{Reader, Txn};

/// An object removed for good, as the change window keeps it (key 0x2B):
/// what OMA NMS VanishedObjects answers (TS 5.1.7, 6.7)
/// ([`crate::Store::vanished_objects`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VanishedObject {
    /// Its object number (the NMS objectId).
    pub number: u64,
    /// The MODSEQ of its removal.
    pub modseq: ModSeq,
    /// The folder it was removed from.
    pub folder: FolderId,
    /// Its UID there.
    pub uid: Uid,
    /// Its correlation id (IMDN-Message-ID), if it had one.
    pub correlation_id: Option<String>,
}

/// Records that `uid` of `folder` is the object of `number` (both side
/// records).
pub(crate) fn place(txn: &mut Txn<'_>, number: u64, folder: FolderId, uid: Uid) -> Result<()> {
    txn.put(keys::object_by_number(number), &(folder, uid))?;
    txn.put(keys::object_number(folder, uid), &number)
}

/// Gives `uid` of `folder`, a new object, the next number of the store.
pub(crate) fn assign(txn: &mut Txn<'_>, folder: FolderId, uid: Uid) -> Result<u64> {
    let number = txn.add(keys::counter("objectnumber"), 1)?;
    place(txn, number, folder, uid)?;
    Ok(number)
}

/// The number of `uid` of `folder`, if it has one.
pub(crate) fn of<R: Reader + ?Sized>(r: &R, folder: FolderId, uid: Uid) -> Result<Option<u64>> {
    r.load(&keys::object_number(folder, uid))
}

/// Forgets the number of `uid` of `folder` (the object is removed, or
/// moved: then [`place`] records its new place, before or after this),
/// and returns it. The number's own record goes only if it still names
/// this place.
pub(crate) fn forget(txn: &mut Txn<'_>, folder: FolderId, uid: Uid) -> Result<Option<u64>> {
    let Some(number) = of(txn, folder, uid)? else {
        return Ok(None);
    };
    txn.delete(keys::object_number(folder, uid));
    let by_number = keys::object_by_number(number);
    if txn.load::<(FolderId, Uid)>(&by_number)? == Some((folder, uid)) {
        txn.delete(by_number);
    }
    Ok(Some(number))
}

/// Forgets the number of `object`, removed from `folder` at `modseq`;
/// when the object is gone for good (not moved: the number names no
/// other place), records it as vanished (key 0x2B) for the change
/// window, pruned with the change feed (`store::prune`).
pub(crate) fn vanish(
    txn: &mut Txn<'_>,
    folder: &Folder,
    object: &Object,
    modseq: ModSeq,
) -> Result<()> {
    let Some(number) = forget(txn, folder.id, object.uid)? else {
        return Ok(());
    };
    if locate(txn, number)?.is_none() {
        let record = (number, object.cpm.imdn_message_id.clone());
        txn.put(
            keys::vanished(folder.owner, modseq, folder.id, object.uid),
            &record,
        )?;
    }
    Ok(())
}

/// Where the object of `number` is: its folder and UID.
pub(crate) fn locate<R: Reader + ?Sized>(r: &R, number: u64) -> Result<Option<(FolderId, Uid)>> {
    r.load(&keys::object_by_number(number))
}

impl crate::Store {
    /// The principal's own objects removed for good after MODSEQ `after`
    /// (0: every one still kept), in the order of their removal, at most
    /// `limit`: what OMA NMS VanishedObjects answers (TS 5.1.7). They are
    /// kept as long as the change feed keeps their removal (`[store]
    /// change_retention_days`, `store::prune`). A moved object is not
    /// vanished; objects of a deleted folder are not listed (a folder
    /// removal is one change, reported as such).
    ///
    /// Errors: a storage failure.
    pub async fn vanished_objects(
        &self,
        principal: &crate::Principal,
        after: ModSeq,
        limit: usize,
    ) -> Result<Vec<VanishedObject>> {
        let account = principal.account();
        let snap = self.snapshot()?;
        let prefix = keys::vanished_all(account);
        let start = keys::vanished_after(account, after);
        let mut out = Vec::new();
        for (key, value) in snap.scan_from(&prefix, &start, limit)? {
            let (number, correlation_id): (u64, Option<String>) = crate::writer::decode(&value)?;
            let rest = &key[prefix.len()..];
            let field = |at: usize, len: usize| -> Result<u64> {
                rest.get(at..at + len)
                    .map(|b| b.iter().fold(0u64, |n, x| (n << 8) | u64::from(*x)))
                    .ok_or_else(|| crate::StoreError::Corrupt("vanished key".into()))
            };
            out.push(VanishedObject {
                number,
                modseq: field(0, 8)?,
                folder: field(8, 8)?,
                uid: field(16, 4)? as Uid,
                correlation_id,
            });
        }
        Ok(out)
    }

    /// The principal's own objects whose object number is above `after`,
    /// ascending by number, at most `limit`, each as (folder id, UID,
    /// number); the number the next call resumes after (the highest
    /// walked); and whether more may follow. Numbers only grow, a copy
    /// gets a new one and a move keeps its own, so this is what OMA NMS
    /// CreatedObjects answers from a `creationCursor` (TS 5.1.5.2: the
    /// highest number seen). The scan walks the store-wide numbers above
    /// `after` (every account's objects created since), at most
    /// `4 × limit` of them per call.
    ///
    /// Errors: a storage failure.
    pub async fn objects_created_after(
        &self,
        principal: &crate::Principal,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<(FolderId, Uid, u64)>, u64, bool)> {
        let account = principal.account();
        let snap = self.snapshot()?;
        let prefix = [0x29u8];
        let start = keys::object_by_number(after.saturating_add(1));
        let budget = limit.saturating_mul(4).max(1);
        let page = snap.scan_from(&prefix, &start, budget)?;
        let walked_all = page.len() < budget;
        let mut out = Vec::new();
        let mut last_seen = after;
        for (key, value) in page {
            let number = key
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| crate::StoreError::Corrupt("object number key".into()))?;
            let (folder, uid): (FolderId, Uid) = crate::writer::decode(&value)?;
            if snap.get_raw(&keys::folder(account, folder))?.is_some() {
                if out.len() == limit {
                    return Ok((out, last_seen, true));
                }
                out.push((folder, uid, number));
            }
            last_seen = number;
        }
        Ok((out, last_seen, !walked_all))
    }

    /// The object `uid` of the principal's folder `folder` removed for
    /// good at `modseq`, if its removal is still kept (a move leaves
    /// none: the object lives on): its number and correlation id.
    ///
    /// Errors: a storage failure.
    pub async fn vanished_object_at(
        &self,
        principal: &crate::Principal,
        modseq: ModSeq,
        folder: FolderId,
        uid: Uid,
    ) -> Result<Option<VanishedObject>> {
        let key = keys::vanished(principal.account(), modseq, folder, uid);
        let found: Option<(u64, Option<String>)> = self.snapshot()?.load(&key)?;
        Ok(found.map(|(number, correlation_id)| VanishedObject {
            number,
            modseq,
            folder,
            uid,
            correlation_id,
        }))
    }
}
