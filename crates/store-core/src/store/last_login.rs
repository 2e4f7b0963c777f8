//! The last successful login of each account, for `cpm-store account
//! show`: recorded by every protocol's authentication (password, SCRAM,
//! bearer token; [`Store::record_login`] and
//! [`Store::authenticate_token`]), to the hour.
//!
//! Granularity: the time kept is the start of the UTC hour of a login
//! (Unix seconds, a multiple of 3600). A login reads the record (one
//! point read) and writes it only when its hour is newer, through the
//! writer's group commit without waiting for it, so an account costs at
//! most one small write per hour however often it logs in, and a login
//! never waits for a commit. The record is an account counter
//! (`keys::account_counter(id, "last-login")`), removed with the account.

use crate::keys;
use crate::model::{AccountId, UnixTime};
use crate::store::accounts::AccountEntry;
use crate::store::Store;
use crate::writer::Reader;

/// The granularity of the record, in seconds.
pub const LAST_LOGIN_GRANULARITY: i64 = 3600;

/// The counter name of the record.
const LAST_LOGIN: &str = "last-login";

impl Store {
    /// Notes a successful login of `login` now (an unknown login, e.g. a
    /// SIP digest user without an account, is ignored). Never fails:
    /// a record that cannot be read or written is only logged at debug
    /// level, as it is an aid to the operator, not data.
    pub(crate) fn note_login(&self, login: &str) {
        let hour = crate::store::now().div_euclid(LAST_LOGIN_GRANULARITY) * LAST_LOGIN_GRANULARITY;
        let account = match self.snapshot().and_then(|snap| {
            let Some(entry) = snap.load::<AccountEntry>(&keys::account(login))? else {
                return Ok(None);
            };
            let id = entry.account.id;
            let last: Option<i64> = snap.load(&keys::account_counter(id, LAST_LOGIN))?;
            Ok((last.is_none_or(|l| l < hour)).then_some(id))
        }) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(login, error = %e, "cannot read the last login");
                return;
            }
        };
        let Some(id) = account else {
            return;
        };
        let written = self.submit(move |txn| {
            // The account may have gone meanwhile: write nothing then.
            if txn.get_raw(&keys::account_login(id))?.is_some() {
                txn.put(keys::account_counter(id, LAST_LOGIN), &hour)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            tracing::debug!(login, error = %e, "cannot record the last login");
        }
    }

    /// The last successful login of account `id`: the start of its UTC
    /// hour in Unix seconds ([`LAST_LOGIN_GRANULARITY`]), or `None` if it
    /// never logged in since the store kept the record.
    ///
    /// Errors: the store cannot be read.
    pub fn last_login(&self, id: AccountId) -> crate::error::Result<Option<UnixTime>> {
        self.snapshot()?
            .load(&keys::account_counter(id, LAST_LOGIN))
    }
}
