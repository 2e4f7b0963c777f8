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
use crate::model::{FolderId, Uid};
use crate::writer::{Reader, Txn};

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

/// Where the object of `number` is: its folder and UID.
pub(crate) fn locate<R: Reader + ?Sized>(r: &R, number: u64) -> Result<Option<(FolderId, Uid)>> {
    r.load(&keys::object_by_number(number))
}
