//! Access tokens: bearer credentials an operator issues for an account
//! (`cpm-store account token LOGIN`), for HTTP clients that send
//! `Authorization: Bearer` (RFC 6750 2.1) as the NMS TS's examples do.
//!
//! A token is 32 random bytes (`cpm_` and 43 base64url characters), shown
//! once when issued. The store keeps only its SHA-256 (key 0x06, the hash
//! → [`AccessToken`]) and an index by account (key 0x07, account id and
//! token id → the hash), so a copy of the store reveals no usable token,
//! and revoking one (or removing the account) is two deletes. A token
//! tried against the store goes through the login throttle like a
//! password: a client guessing tokens is slowed and logged.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::accounts::AccountEntry;
use super::Store;
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{AccountId, Principal, UnixTime};
use crate::throttle::LoginSource;
use crate::writer::Reader;

/// What a token is, as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// Its public id: the first 8 hex digits of its hash, what `account
    /// token --list` shows and `--revoke` takes.
    pub id: String,
    /// The account it acts for.
    pub account: AccountId,
    /// When it was issued, Unix seconds.
    pub issued: UnixTime,
    /// The operator's note, if any.
    pub label: Option<String>,
}

/// The prefix of every token this store issues.
pub const TOKEN_PREFIX: &str = "cpm_";

/// Longest token accepted for checking, in bytes (longer ones are wrong
/// without a lookup).
const MAX_TOKEN_BYTES: usize = 128;

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Store {
    /// Issues a new access token for `login`, with an optional `label`;
    /// returns what is stored and the token itself (shown once, never
    /// stored).
    ///
    /// Errors: [`StoreError::NoSuchAccount`].
    pub async fn issue_token(
        &self,
        login: &str,
        label: Option<String>,
    ) -> Result<(AccessToken, String)> {
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
        let digest = hash(&token);
        let login = login.to_string();
        let record = self
            .write(move |txn| {
                let entry: AccountEntry = txn
                    .load(&keys::account(&login))?
                    .ok_or(StoreError::NoSuchAccount)?;
                let record = AccessToken {
                    id: hex::encode(&digest[..4]),
                    account: entry.account.id,
                    issued: super::now(),
                    label,
                };
                txn.put(keys::access_token(&digest), &record)?;
                txn.put(
                    keys::account_token(record.account, &record.id),
                    &digest.to_vec(),
                )?;
                Ok(record)
            })
            .await?;
        Ok((record, token))
    }

    /// The tokens of `login`, by id.
    ///
    /// Errors: [`StoreError::NoSuchAccount`].
    pub async fn list_tokens(&self, login: &str) -> Result<Vec<AccessToken>> {
        let snap = self.snapshot()?;
        let entry: AccountEntry = snap
            .load(&keys::account(login))?
            .ok_or(StoreError::NoSuchAccount)?;
        let mut out = Vec::new();
        for (_, digest) in snap.load_all::<Vec<u8>>(&keys::account_tokens(entry.account.id))? {
            if let Some(t) = snap.load::<AccessToken>(&keys::access_token(&digest))? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Revokes token `id` of `login` (`None`: every one); returns how many
    /// went. A revoked token fails from the next request on.
    ///
    /// Errors: [`StoreError::NoSuchAccount`].
    pub async fn revoke_tokens(&self, login: &str, id: Option<String>) -> Result<usize> {
        let login = login.to_string();
        self.write(move |txn| {
            let entry: AccountEntry = txn
                .load(&keys::account(&login))?
                .ok_or(StoreError::NoSuchAccount)?;
            revoke_in(txn, entry.account.id, id.as_deref())
        })
        .await
    }

    /// Operation "authenticate" for a bearer token (RFC 6750), from
    /// `source`: the principal of the account it was issued for. The
    /// login throttle applies as to a password (the attempt is counted
    /// against the address and the login `token`).
    ///
    /// Errors: [`StoreError::AuthenticationFailed`] for an unknown or
    /// revoked token; [`StoreError::LoginThrottled`] when the address has
    /// failed too often (nothing is looked up).
    pub async fn authenticate_token(&self, source: LoginSource, token: &str) -> Result<Principal> {
        const THROTTLE_LOGIN: &str = "token";
        let attempt = self.admit_login(source, THROTTLE_LOGIN)?;
        let found = match token.len() <= MAX_TOKEN_BYTES && token.starts_with(TOKEN_PREFIX) {
            false => None,
            true => {
                let snap = self.snapshot()?;
                match snap.load::<AccessToken>(&keys::access_token(&hash(token)))? {
                    None => None,
                    Some(t) => snap
                        .load::<String>(&keys::account_login(t.account))?
                        .map(|login| Principal::new(t.account, login)),
                }
            }
        };
        self.record_login(attempt, source, THROTTLE_LOGIN, found.is_some());
        if let Some(principal) = &found {
            self.note_login(&principal.login);
        }
        found.ok_or(StoreError::AuthenticationFailed)
    }
}

/// Deletes token `id` of `account` (`None`: all); how many went. Also
/// what removing an account does.
pub(crate) fn revoke_in<R>(txn: &mut R, account: AccountId, id: Option<&str>) -> Result<usize>
where
    R: crate::writer::IndexWrite + ?Sized,
{
    let mut revoked = 0;
    for (key, value) in txn.scan_raw(&keys::account_tokens(account))? {
        let digest: Vec<u8> = crate::writer::decode(&value)?;
        let record: Option<AccessToken> = txn.load(&keys::access_token(&digest))?;
        if id.is_some_and(|id| record.as_ref().is_none_or(|r| r.id != id)) {
            continue;
        }
        txn.delete(keys::access_token(&digest));
        txn.delete(key);
        revoked += 1;
    }
    Ok(revoked)
}
