//! Operation "authenticate" (seed 002) and account administration (the
//! `cpm-store account` commands).

use serde::{Deserialize, Serialize};

use super::folders::create_folder_in;
use super::{now, Store};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::{Account, Principal, QuotaLimits, SpecialUse};
use crate::password::{decoy_scram_secrets, Credentials};
use crate::scram::ScramExchange;
use crate::throttle::{Attempt, LoginSource};
use crate::writer::Reader;

/// What is stored per account: the account and its credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountEntry {
    /// The account.
    pub account: Account,
    /// Its password hash and SCRAM secrets.
    pub credentials: Credentials,
}

/// The folders every new account gets (RFC 6154 special uses).
const DEFAULT_FOLDERS: [(&str, Option<SpecialUse>); 5] = [
    ("INBOX", None),
    ("Sent", Some(SpecialUse::Sent)),
    ("Drafts", Some(SpecialUse::Drafts)),
    ("Trash", Some(SpecialUse::Trash)),
    ("Archive", Some(SpecialUse::Archive)),
];

/// Longest login name, in bytes.
pub const MAX_LOGIN_BYTES: usize = 255;
/// Longest password, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn check_login(login: &str) -> Result<()> {
    if login.is_empty()
        || login.len() > MAX_LOGIN_BYTES
        || login.eq_ignore_ascii_case("anyone")
        || login
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '/')
    {
        return Err(StoreError::InvalidArgument(format!(
            "login must be 1 to {MAX_LOGIN_BYTES} bytes without spaces, control characters or '/', and not 'anyone'"
        )));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<()> {
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(StoreError::InvalidArgument(format!(
            "password must be 1 to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

impl Store {
    /// Creates an account with its default folders (INBOX, Sent, Drafts,
    /// Trash, Archive).
    ///
    /// Errors: [`StoreError::InvalidArgument`] for a bad login or password,
    /// [`StoreError::AccountExists`] if the login or CPM address is taken.
    pub async fn create_account(
        &self,
        login: &str,
        address: Option<&str>,
        password: &str,
    ) -> Result<Account> {
        check_login(login)?;
        check_password(password)?;
        let password = password.to_string();
        let credentials = tokio::task::spawn_blocking(move || Credentials::new(&password))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))??;
        let login = login.to_string();
        let address = address.map(str::to_string);
        let quota = self.inner.config.default_quota;
        self.write(move |txn| {
            if txn.get_raw(&keys::account(&login))?.is_some() {
                return Err(StoreError::AccountExists);
            }
            if let Some(a) = &address {
                if txn.get_raw(&keys::account_address(a))?.is_some() {
                    return Err(StoreError::AccountExists);
                }
            }
            let id = txn.add(keys::counter("account"), 1)?;
            let account = Account {
                id,
                login: login.clone(),
                address: address.clone(),
                created: now(),
                quota,
            };
            txn.put(
                keys::account(&login),
                &AccountEntry {
                    account: account.clone(),
                    credentials,
                },
            )?;
            txn.put(keys::account_login(id), &login)?;
            if let Some(a) = &address {
                txn.put(keys::account_address(a), &id)?;
            }
            for (name, special_use) in DEFAULT_FOLDERS {
                create_folder_in(txn, id, name, special_use)?;
                txn.put(keys::subscription(id, name), &())?;
            }
            Ok(account)
        })
        .await
        .inspect(|_| {
            crate::telemetry::metrics().accounts.inc();
        })
    }

    /// Replaces an account's password.
    ///
    /// Errors: [`StoreError::NoSuchAccount`], or a bad password.
    pub async fn set_password(&self, login: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let pw = password.to_string();
        let credentials = tokio::task::spawn_blocking(move || Credentials::new(&pw))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))??;
        let login_owned = login.to_string();
        self.write(move |txn| {
            let key = keys::account(&login_owned);
            let mut entry: AccountEntry = txn.load(&key)?.ok_or(StoreError::NoSuchAccount)?;
            entry.credentials = credentials;
            txn.put(key, &entry)
        })
        .await?;
        self.inner.logins.forget(login);
        Ok(())
    }

    /// Sets the quota limits of the account `login` (RFC 9208 SETQUOTA,
    /// the admin CLI). Only an administrator may: a principal of the
    /// administrator path ([`Store::administrator`]) or one whose login is
    /// among [`crate::StoreConfig::quota_admins`]; RFC 9208 4.3 leaves who may
    /// to the server, and a user raising their own limit would void them.
    ///
    /// Errors: [`StoreError::AdminOnly`], [`StoreError::NoSuchAccount`].
    pub async fn set_quota(&self, by: &Principal, login: &str, limits: QuotaLimits) -> Result<()> {
        if !self.is_administrator(by) {
            return Err(StoreError::AdminOnly("setting quota limits"));
        }
        let login = login.to_string();
        self.write(move |txn| {
            let key = keys::account(&login);
            let mut entry: AccountEntry = txn.load(&key)?.ok_or(StoreError::NoSuchAccount)?;
            entry.account.quota = limits;
            txn.put(key, &entry)
        })
        .await
    }

    /// Whether `principal` may administer accounts: the administrator path
    /// ([`Store::administrator`]), or a login in
    /// [`crate::StoreConfig::quota_admins`]. A trusted SIP element
    /// ([`Store::trusted_element`]) may not.
    pub fn is_administrator(&self, principal: &Principal) -> bool {
        principal.administrator || self.inner.config.quota_admins.contains(&principal.login)
    }

    /// Every account, by login.
    pub async fn list_accounts(&self) -> Result<Vec<Account>> {
        let snap = self.snapshot()?;
        Ok(snap
            .load_all::<AccountEntry>(&keys::accounts())?
            .into_iter()
            .map(|(_, e)| e.account)
            .collect())
    }

    /// The account with this login, if any.
    pub async fn account(&self, login: &str) -> Result<Option<Account>> {
        let snap = self.snapshot()?;
        Ok(snap
            .load::<AccountEntry>(&keys::account(login))?
            .map(|e| e.account))
    }

    /// The account with this CPM address, if any (SIP deposit, seed 000).
    pub async fn account_by_address(&self, address: &str) -> Result<Option<Account>> {
        let snap = self.snapshot()?;
        let Some(id) = snap.load::<u64>(&keys::account_address(address))? else {
            return Ok(None);
        };
        let Some(login) = snap.load::<String>(&keys::account_login(id))? else {
            return Ok(None);
        };
        Ok(snap
            .load::<AccountEntry>(&keys::account(&login))?
            .map(|e| e.account))
    }

    /// Removes an account with all its folders and objects, its counters
    /// and change history (feed, hour marks), the WebDAV locks in its tree
    /// and those it holds elsewhere (a new account of the same login
    /// inherits none).
    ///
    /// Errors: [`StoreError::NoSuchAccount`].
    pub async fn remove_account(&self, login: &str) -> Result<()> {
        let login_owned = login.to_string();
        self.write(move |txn| {
            let entry: AccountEntry = txn
                .load(&keys::account(&login_owned))?
                .ok_or(StoreError::NoSuchAccount)?;
            let id = entry.account.id;
            for (_, folder) in txn.load_all::<crate::model::Folder>(&keys::folders(id))? {
                super::folders::purge_folder(txn, &folder)?;
            }
            for prefix in [
                keys::subscriptions(id),
                keys::changes(id),
                keys::grants_to(id),
                keys::metadata_of_account(id),
                keys::thread_refs(id),
                // MODSEQ, bytes, objects, the prune counters
                // (`feed-horizon`, `prune-checked`).
                keys::account_counters(id),
                keys::hour_marks(id),
                keys::vanished_all(id),
                keys::feed_subscriptions(id),
                keys::delivery_leases(id),
            ] {
                for (k, _) in txn.scan_raw(&prefix)? {
                    txn.delete(k);
                }
            }
            super::tokens::revoke_in(txn, id, None)?;
            super::locks::remove_account_locks(txn, &login_owned)?;
            txn.delete(keys::account_login(id));
            if let Some(a) = &entry.account.address {
                txn.delete(keys::account_address(a));
            }
            txn.delete(keys::account(&login_owned));
            Ok(())
        })
        .await?;
        crate::telemetry::metrics().accounts.dec();
        self.inner.logins.forget(login);
        Ok(())
    }

    /// Operation "authenticate" for plaintext mechanisms (IMAP LOGIN and
    /// AUTHENTICATE PLAIN, HTTP Basic), from `source`. Asks the login
    /// throttle first; then verifies the Argon2id hash, or a recent
    /// identical login from the in-memory cache. An unknown login is
    /// checked against a decoy hash of the same cost, so the answer and
    /// its timing do not tell which accounts exist. Every outcome is
    /// recorded with the throttle, and failures are logged.
    ///
    /// Errors: [`StoreError::AuthenticationFailed`] for an unknown login or
    /// a wrong password alike; [`StoreError::LoginThrottled`] when the
    /// address or the login has failed too often (no password checked);
    /// [`StoreError::Busy`] when no password-check slot freed up in time.
    pub async fn authenticate(
        &self,
        source: LoginSource,
        login: &str,
        password: &str,
    ) -> Result<Principal> {
        let attempt = self.admit_login(source, login)?;
        let entry = if login.len() > MAX_LOGIN_BYTES || password.len() > MAX_PASSWORD_BYTES {
            None
        } else {
            self.snapshot()?
                .load::<AccountEntry>(&keys::account(login))?
        };
        if let Some(entry) = &entry {
            if self
                .inner
                .logins
                .check(login, password, &entry.credentials.argon2)
            {
                self.record_login(attempt, source, login, true);
                return Ok(principal_of(entry));
            }
        }
        let hash = entry.as_ref().map(|e| e.credentials.argon2.as_str());
        let slot = self
            .inner
            .checker
            .slot()
            .await
            .map_err(|_| StoreError::Busy("password checks"))?;
        // Failures recorded while this attempt waited for its slot may
        // stop it now (the rest of a burst of guesses).
        self.inner.throttle.recheck(&attempt).map_err(|t| {
            crate::telemetry::metrics().login_throttled(source.protocol);
            StoreError::LoginThrottled {
                retry_after: t.retry_after,
            }
        })?;
        let matched = slot.verify(hash, password).await;
        match entry {
            Some(entry) if matched => {
                self.inner
                    .logins
                    .remember(login, password, &entry.credentials.argon2);
                self.record_login(attempt, source, login, true);
                Ok(principal_of(&entry))
            }
            _ => {
                self.record_login(attempt, source, login, false);
                Err(StoreError::AuthenticationFailed)
            }
        }
    }

    /// Asks the login throttle whether `login` may try a credential from
    /// `source` now (for mechanisms that check it themselves: SCRAM, SIP
    /// digest). The admitted attempt counts as in flight against the
    /// address and the login until the caller reports its outcome with
    /// [`Store::record_login`] or drops it; so hold it only while the
    /// credential is being checked.
    ///
    /// Errors: [`StoreError::LoginThrottled`] with the wait.
    pub fn admit_login(&self, source: LoginSource, login: &str) -> Result<Attempt> {
        self.inner
            .throttle
            .admit(source.remote, login)
            .map_err(|t| {
                // Refusals cost nothing and are not logged above debug, so
                // that a flood of them cannot flood the log; the failure
                // that starts the throttling is logged at warn.
                tracing::debug!(
                    protocol = source.protocol,
                    remote = %source.remote,
                    login,
                    "login attempt refused by the throttle"
                );
                crate::telemetry::metrics().login_throttled(source.protocol);
                StoreError::LoginThrottled {
                    retry_after: t.retry_after,
                }
            })
    }

    /// Records the outcome of `attempt`, admitted for `login` from
    /// `source`, with the throttle (a success clears the login, while the
    /// address's failures decay with the throttle's window; a failure
    /// counts against both) and logs a failure at warn level with the protocol,
    /// the address and the login, and whether it throttles them now.
    /// Failures are themselves throttled, so this log is too.
    pub fn record_login(&self, attempt: Attempt, source: LoginSource, login: &str, success: bool) {
        let wait = self.inner.throttle.record(attempt, success);
        if success {
            self.note_login(login);
            return;
        }
        crate::telemetry::metrics().login_failed(source.protocol);
        tracing::warn!(
            protocol = source.protocol,
            remote = %source.remote,
            login,
            "login failed"
        );
        if !wait.is_zero() {
            tracing::warn!(
                protocol = source.protocol,
                remote = %source.remote,
                login,
                retry_after_seconds = wait.as_secs_f64(),
                "login throttled after repeated failures"
            );
        }
    }

    /// Operation "authenticate" for SCRAM-SHA-256 (RFC 7677, RFC 5802),
    /// first step: parses the client-first-message (the user name
    /// SASLprepped) and answers with the server-first-message
    /// ([`ScramExchange::server_first`]). A login without an account gets
    /// made-up secrets whose salt and iteration count look like a real
    /// account's and stay the same on every attempt (derived from the
    /// login with the server secret, RFC 5802 section 9), so the exchange
    /// fails only at the proof. The exchange is opaque: the principal
    /// comes only out of [`Store::scram_finish`].
    ///
    /// Errors: [`StoreError::InvalidArgument`] for a malformed message
    /// (IMAP BAD).
    pub async fn scram_begin(&self, client_first: &[u8]) -> Result<ScramExchange> {
        let first = crate::scram::parse_client_first(client_first)?;
        let found = if first.user.len() > MAX_LOGIN_BYTES {
            None
        } else {
            self.snapshot()?
                .load::<AccountEntry>(&keys::account(&first.user))?
        };
        let (account, secrets) = match found {
            Some(e) => (Some(principal_of(&e)), e.credentials.scram),
            None => (None, decoy_scram_secrets(&self.inner.secret, &first.user)),
        };
        let nonce: String =
            rand::Rng::sample_iter(rand::thread_rng(), &rand::distributions::Alphanumeric)
                .take(24)
                .map(char::from)
                .collect();
        Ok(ScramExchange::new(first, &nonce, secrets, account))
    }

    /// Operation "authenticate" for SCRAM-SHA-256, last step: asks the
    /// login throttle, checks the client-final-message's proof against
    /// `exchange`, records the outcome with the throttle (and logs a
    /// failure), and on success gives the principal and the
    /// server-final-message to send (`v=...`, RFC 5802 7). The exchange
    /// may be tried again after a [`StoreError::LoginThrottled`].
    ///
    /// Errors: [`StoreError::LoginThrottled`] (nothing checked),
    /// [`StoreError::InvalidArgument`] for a malformed message, a wrong
    /// channel binding or nonce (not counted as a failed login),
    /// [`StoreError::AuthenticationFailed`] for a wrong proof or an
    /// unknown login alike.
    pub async fn scram_finish(
        &self,
        exchange: &ScramExchange,
        client_final: &[u8],
        source: LoginSource,
    ) -> Result<(Principal, String)> {
        let login = exchange.login();
        let attempt = self.admit_login(source, login)?;
        match exchange.verify(client_final) {
            Err(e @ StoreError::InvalidArgument(_)) => Err(e),
            Ok(done) => {
                self.record_login(attempt, source, login, true);
                Ok(done)
            }
            Err(e) => {
                self.record_login(attempt, source, login, false);
                Err(e)
            }
        }
    }

    /// The trusted-element path to a principal without a password: a
    /// trusted SIP network element (the Conversation Server, CPM-STO2)
    /// depositing for the served user `login`, which authenticated by
    /// other means (a trusted peer address or digest). The principal has
    /// that user's rights and nothing more: it is no administrator. Named
    /// so that every use is easy to find; no protocol handler acting for a
    /// logged-in user may call it.
    ///
    /// Errors: [`StoreError::NoSuchAccount`].
    ///
    /// The principal is marked as a network element
    /// ([`Principal::is_network_element`]): under the RCS folder layout it
    /// may write the `Default` tree.
    pub async fn trusted_element(&self, login: &str) -> Result<Principal> {
        let entry = self
            .snapshot()?
            .load::<AccountEntry>(&keys::account(login))?
            .ok_or(StoreError::NoSuchAccount)?;
        let mut principal = principal_of(&entry);
        principal.network_element = true;
        Ok(principal)
    }

    /// A remote trusted network element acting for a user (seed 001,
    /// "authentication of the requesting remote environment trusted
    /// server"): `element` authenticated as itself (a password, SCRAM or
    /// token login of its own account), and its login is one of
    /// [`crate::StoreConfig::trusted_elements`]; the principal returned is
    /// `user`'s, with that user's rights and marked as a network element
    /// ([`Store::trusted_element`]). IMAP AUTHENTICATE PLAIN with an
    /// authorization identity (RFC 4616 2) and an NMS request naming
    /// another account's box come here; the front end logs both names.
    /// An element that acts for itself gets its own principal, marked.
    ///
    /// Errors: [`StoreError::NotTrustedElement`] when `element` is not a
    /// listed element (or is already acting for someone),
    /// [`StoreError::NoSuchAccount`] for an unknown `user`.
    pub async fn act_for(&self, element: &Principal, user: &str) -> Result<Principal> {
        if element.network_element || !self.is_trusted_element(element) {
            return Err(StoreError::NotTrustedElement);
        }
        self.trusted_element(user).await
    }

    /// Whether `principal` logged in with the account of a trusted
    /// network element ([`crate::StoreConfig::trusted_elements`]).
    pub fn is_trusted_element(&self, principal: &Principal) -> bool {
        self.inner
            .config
            .trusted_elements
            .iter()
            .any(|login| login == principal.login())
    }

    /// Where deposits are filed and which folders are reserved to
    /// network elements ([`crate::StoreConfig::folder_layout`]).
    pub fn folder_layout(&self) -> crate::conversation::FolderLayout {
        self.inner.config.folder_layout
    }

    /// The administrator path: the local administrator's CLI and admin
    /// endpoint acting on the account `login`, with that account's rights
    /// and the administrator's ([`Store::is_administrator`]: set quota
    /// limits, remove any lock). Only the supervisor's admin interface,
    /// reachable by the local operator alone, may call it. Like the
    /// trusted-element path it starts from, it counts as a network element
    /// (it may maintain the RCS layout's `Default` tree).
    ///
    /// Errors: [`StoreError::NoSuchAccount`].
    pub async fn administrator(&self, login: &str) -> Result<Principal> {
        let mut principal = self.trusted_element(login).await?;
        principal.administrator = true;
        Ok(principal)
    }
}

fn principal_of(entry: &AccountEntry) -> Principal {
    Principal::new(entry.account.id, entry.account.login.clone())
}

/// Accounts in the store (their id-to-login keys, 0x03), counted once at
/// open for `cpm_store_accounts`, a page of keys at a time.
///
/// Errors: the engine cannot be read.
pub(super) fn count_accounts(engine: &dyn crate::engine::Engine) -> Result<i64> {
    const PAGE: usize = 4096;
    let snapshot = engine.snapshot()?;
    let prefix = vec![0x03];
    let mut start = prefix.clone();
    let mut count = 0i64;
    loop {
        let page = snapshot.scan_keys(&prefix, &start, PAGE)?;
        count += page.len() as i64;
        match page.last() {
            Some(last) if page.len() == PAGE => {
                start = last.clone();
                start.push(0);
            }
            _ => return Ok(count),
        }
    }
}
