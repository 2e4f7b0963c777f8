//! Account credentials: an Argon2id hash for plaintext mechanisms (IMAP LOGIN,
//! AUTHENTICATE PLAIN, HTTP Basic) and SCRAM-SHA-256 secrets (RFC 5802,
//! RFC 7677) for challenge-response; never the password itself.
//!
//! Passwords are taken as their UTF-8 bytes; SASLprep (RFC 4013) is not
//! applied, which changes nothing for ASCII passwords.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, Block, Params};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Result, StoreError};

type HmacSha256 = Hmac<Sha256>;

/// When cleartext credentials (IMAP LOGIN and AUTHENTICATE PLAIN, HTTP
/// Basic) are accepted on a connection without TLS (RFC 3501 6.2.3,
/// RFC 8314 4, RFC 7617 4): one policy type for every front end and the
/// configuration (`[imap] cleartext_auth`, `[webdav] cleartext_basic`),
/// written in lower case there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CleartextPolicy {
    /// Never: only over TLS (after STARTTLS, implicit TLS, HTTPS).
    Never,
    /// Over TLS, or from a loopback address (the default).
    Loopback,
    /// Always (a trusted network only).
    Always,
}

impl CleartextPolicy {
    /// Whether cleartext credentials are accepted from `peer` on a
    /// connection that is (`secure`) or is not protected by TLS.
    pub fn allows(self, secure: bool, peer: std::net::IpAddr) -> bool {
        secure
            || match self {
                CleartextPolicy::Always => true,
                CleartextPolicy::Loopback => peer.is_loopback(),
                CleartextPolicy::Never => false,
            }
    }
}

/// SCRAM iteration count: RFC 7677 section 4 asks for at least 4096.
pub const SCRAM_ITERATIONS: u32 = 4096;

/// The SCRAM-SHA-256 secrets of one account (RFC 5802 section 3).
#[derive(Clone, Serialize, Deserialize)]
pub struct ScramSecrets {
    /// The salt, 16 random bytes.
    pub salt: Vec<u8>,
    /// The PBKDF2 iteration count.
    pub iterations: u32,
    /// `H(ClientKey)`.
    pub stored_key: [u8; 32],
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; 32],
}

/// What the store keeps of a password.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The Argon2id hash in PHC string format.
    pub argon2: String,
    /// The SCRAM-SHA-256 secrets.
    pub scram: ScramSecrets,
}

/// What `Debug` prints in place of a secret (a password, a hash or key
/// derived from one): logs and panics never show credentials.
pub const REDACTED: &str = "<redacted>";

impl std::fmt::Debug for ScramSecrets {
    /// The salt and iteration count; the keys redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramSecrets")
            .field("iterations", &self.iterations)
            .field("stored_key", &REDACTED)
            .field("server_key", &REDACTED)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Credentials {
    /// Everything redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("argon2", &REDACTED)
            .field("scram", &self.scram)
            .finish()
    }
}

impl std::fmt::Debug for Argon2Hash {
    /// The parameters; salt and output redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Hash")
            .field("params", &self.params)
            .field("output", &REDACTED)
            .finish_non_exhaustive()
    }
}

/// `HMAC-SHA-256(key, data)` (RFC 2104), as SCRAM (RFC 5802 3) uses it.
pub fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl ScramSecrets {
    /// Derives the secrets of `password` with a fresh salt.
    pub fn derive(password: &str) -> ScramSecrets {
        let mut salt = vec![0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        Self::derive_with(password, salt, SCRAM_ITERATIONS)
    }

    /// Derives the secrets of `password` with the given salt and iterations.
    pub fn derive_with(password: &str, salt: Vec<u8>, iterations: u32) -> ScramSecrets {
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        ScramSecrets {
            salt,
            iterations,
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }
}

impl Credentials {
    /// Hashes `password` (Argon2id with the crate's default parameters,
    /// which follow RFC 9106's second recommendation) and derives its SCRAM
    /// secrets.
    pub fn new(password: &str) -> Result<Credentials> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let argon2 = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| StoreError::InvalidArgument(format!("password: {e}")))?
            .to_string();
        Ok(Credentials {
            argon2,
            scram: ScramSecrets::derive(password),
        })
    }
}

/// The parts of an Argon2 hash a verification needs (the PHC string
/// parsed once).
#[derive(Clone)]
struct Argon2Hash {
    algorithm: argon2::Algorithm,
    version: argon2::Version,
    params: Params,
    salt: Vec<u8>,
    output: Vec<u8>,
}

impl Argon2Hash {
    /// Parses a PHC string; `None` if it is not a usable Argon2 hash.
    fn parse(phc: &str) -> Option<Argon2Hash> {
        let hash = PasswordHash::new(phc).ok()?;
        let algorithm = argon2::Algorithm::try_from(hash.algorithm).ok()?;
        let version = argon2::Version::try_from(hash.version.unwrap_or(0x13)).ok()?;
        let params = Params::try_from(&hash).ok()?;
        let mut salt = [0u8; 64];
        let salt = hash.salt?.decode_b64(&mut salt).ok()?.to_vec();
        let output = hash.hash?.as_bytes().to_vec();
        Some(Argon2Hash {
            algorithm,
            version,
            params,
            salt,
            output,
        })
    }

    /// A hash with the parameters new accounts get ([`Credentials::new`])
    /// that no password matches: what an unknown login is checked
    /// against, so that it takes as long as a known one.
    fn decoy() -> Argon2Hash {
        let mut rng = rand::thread_rng();
        let mut salt = vec![0u8; 16];
        rng.fill_bytes(&mut salt);
        let mut output = vec![0u8; 32];
        rng.fill_bytes(&mut output);
        Argon2Hash {
            algorithm: argon2::Algorithm::default(),
            version: argon2::Version::default(),
            params: Params::default(),
            salt,
            output,
        }
    }

    /// Whether `password` matches, computed in `memory` (grown to the
    /// hash's block count if needed).
    fn verify_in(&self, password: &[u8], memory: &mut Vec<Block>) -> bool {
        let blocks = self.params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let mut out = vec![0u8; self.output.len()];
        let argon2 = Argon2::new(self.algorithm, self.version, self.params.clone());
        argon2
            .hash_password_into_with_memory(password, &self.salt, &mut out, &mut memory[..blocks])
            .is_ok()
            && bool::from(out.ct_eq(&self.output))
    }
}

/// Why a password could not be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Every verification slot stayed busy for the whole allowed wait.
    #[error("password checks are busy")]
    Busy,
}

/// Settings of the password checker.
#[derive(Debug, Clone)]
pub struct CheckerConfig {
    /// Most Argon2 verifications running at once; each holds one memory
    /// buffer of the hash's size (19 MiB with the default parameters)
    /// for the life of the process.
    pub max_concurrent: usize,
    /// Longest wait for a verification slot before [`CheckError::Busy`].
    pub max_wait: Duration,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        CheckerConfig {
            max_concurrent: 2,
            max_wait: Duration::from_secs(10),
        }
    }
}

/// Runs Argon2 verifications with bounded memory: at most
/// `max_concurrent` at once (a semaphore; waiting callers queue up to
/// `max_wait`), each on a blocking thread and in a memory buffer kept for
/// reuse, so the peak is `max_concurrent` buffers and nothing is left to
/// the allocator to return. Measured with 200 concurrent wrong IMAP
/// LOGINs and 2 slots: a fresh buffer per check peaked at 694 MiB RSS and
/// kept it (glibc keeps freed 19 MiB chunks in each blocking thread's
/// arena); reused buffers, 67 MiB.
pub struct PasswordChecker {
    permits: Arc<tokio::sync::Semaphore>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    decoy: Arc<Argon2Hash>,
    config: CheckerConfig,
}

impl PasswordChecker {
    /// A checker with `config` (a `max_concurrent` of 0 counts as 1).
    pub fn new(config: CheckerConfig) -> PasswordChecker {
        let config = CheckerConfig {
            max_concurrent: config.max_concurrent.max(1),
            ..config
        };
        PasswordChecker {
            permits: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent)),
            buffers: Arc::new(Mutex::new(Vec::new())),
            decoy: Arc::new(Argon2Hash::decoy()),
            config,
        }
    }

    /// Whether `password` matches the Argon2 hash `phc` (PHC string); with
    /// `None` (an unknown login) it is checked against a decoy hash of the
    /// same parameters, at the same cost, and never matches. The same as
    /// [`PasswordChecker::slot`] then [`CheckSlot::verify`].
    ///
    /// Errors: [`CheckError::Busy`] when no slot freed up within
    /// `max_wait`.
    pub async fn verify(&self, phc: Option<&str>, password: &str) -> Result<bool, CheckError> {
        Ok(self.slot().await?.verify(phc, password).await)
    }

    /// Waits for a verification slot (up to `max_wait`). A caller that
    /// must decide again once its turn comes (the login throttle may have
    /// seen failures meanwhile) does so between this and
    /// [`CheckSlot::verify`]; dropping the slot gives it back unused.
    ///
    /// Errors: [`CheckError::Busy`] when no slot freed up within
    /// `max_wait`.
    pub async fn slot(&self) -> Result<CheckSlot, CheckError> {
        let permit =
            tokio::time::timeout(self.config.max_wait, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| CheckError::Busy)?
                .map_err(|_| CheckError::Busy)?;
        Ok(CheckSlot {
            permit,
            buffers: self.buffers.clone(),
            decoy: self.decoy.clone(),
        })
    }
}

/// One of a [`PasswordChecker`]'s verification slots, held: the right to
/// run one Argon2 verification now.
pub struct CheckSlot {
    permit: tokio::sync::OwnedSemaphorePermit,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    decoy: Arc<Argon2Hash>,
}

impl CheckSlot {
    /// Whether `password` matches the Argon2 hash `phc` (PHC string),
    /// computed on a blocking thread in one of the checker's reused
    /// buffers; with `None` (an unknown login) or a damaged hash, checked
    /// against the decoy at the same cost, and never a match.
    pub async fn verify(self, phc: Option<&str>, password: &str) -> bool {
        let (hash, known) = match phc.map(Argon2Hash::parse) {
            Some(Some(h)) => (Arc::new(h), true),
            // A damaged stored hash costs the same as an unknown login.
            Some(None) | None => (self.decoy.clone(), false),
        };
        let CheckSlot {
            permit, buffers, ..
        } = self;
        let password = password.as_bytes().to_vec();
        // The permit moves into the blocking task: a caller that gives up
        // (its client went away) does not free the slot before the hash
        // is done.
        let matched = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut memory = buffers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()
                .unwrap_or_default();
            let matched = hash.verify_in(&password, &mut memory);
            buffers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(memory);
            matched
        })
        .await
        .unwrap_or(false);
        matched && known
    }
}

/// Length of the server secret, in bytes.
const SECRET_BYTES: usize = 32;

/// The server secret decoy SCRAM salts are derived from: 32 random bytes
/// in `<data_dir>/auth.secret` (mode 0600), made on first open, so a
/// decoy salt is the same across restarts as a real one.
///
/// Errors: the file cannot be read or created, or has the wrong size.
pub(crate) fn server_secret(data_dir: &Path) -> Result<[u8; SECRET_BYTES]> {
    let path = data_dir.join("auth.secret");
    match std::fs::read(&path) {
        Ok(bytes) => {
            return bytes.try_into().map_err(|_| {
                StoreError::Corrupt(format!("{} is not {SECRET_BYTES} bytes", path.display()))
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let mut secret = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let tmp = data_dir.join("auth.secret.tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(&secret)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(secret)
}

/// Made-up SCRAM secrets for a login that does not exist (RFC 5802
/// section 9, RFC 7677 section 4): the salt is
/// `HMAC-SHA-256(secret, "scram-salt" NUL login)` cut to 16 bytes, so
/// every attempt for the login sees the same salt, and the iteration
/// count is [`SCRAM_ITERATIONS`], as for real accounts; the keys are
/// derived the same way and match no proof a client can compute without
/// the secret.
pub fn decoy_scram_secrets(secret: &[u8], login: &str) -> ScramSecrets {
    let derive = |label: &str| {
        let mut data = Vec::with_capacity(label.len() + 1 + login.len());
        data.extend_from_slice(label.as_bytes());
        data.push(0);
        data.extend_from_slice(login.as_bytes());
        hmac(secret, &data)
    };
    ScramSecrets {
        salt: derive("scram-salt")[..16].to_vec(),
        iterations: SCRAM_ITERATIONS,
        stored_key: derive("scram-stored-key"),
        server_key: derive("scram-server-key"),
    }
}

/// How long a successful plaintext login is remembered.
const CACHE_TTL: Duration = Duration::from_secs(600);
/// Most logins remembered at once.
const CACHE_ENTRIES: usize = 10_000;

/// Remembers recent successful logins so that a client logging in again
/// (a phone reconnecting, HTTP Basic on every request) does not pay Argon2
/// each time. It keeps a keyed HMAC of the password and of the stored
/// hash it matched, under a random key that lives only in memory, never
/// the password: a password changed anywhere (on another node sharing
/// the store too) has another stored hash, so the entry no longer matches.
pub(crate) struct LoginCache {
    key: [u8; 32],
    entries: Mutex<HashMap<String, ([u8; 32], Instant)>>,
}

impl LoginCache {
    pub fn new() -> LoginCache {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        LoginCache {
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn tag(&self, login: &str, password: &str, stored: &str) -> [u8; 32] {
        let mut data = Vec::with_capacity(login.len() + password.len() + stored.len() + 2);
        data.extend_from_slice(login.as_bytes());
        data.push(0);
        data.extend_from_slice(stored.as_bytes());
        data.push(0);
        data.extend_from_slice(password.as_bytes());
        hmac(&self.key, &data)
    }

    /// Whether `login` recently logged in with exactly `password` against
    /// the stored hash `stored`.
    pub fn check(&self, login: &str, password: &str, stored: &str) -> bool {
        let tag = self.tag(login, password, stored);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(login) {
            Some((known, at)) => at.elapsed() < CACHE_TTL && bool::from(known.ct_eq(&tag)),
            None => false,
        }
    }

    /// Remembers a successful login against the stored hash `stored`.
    pub fn remember(&self, login: &str, password: &str, stored: &str) {
        let tag = self.tag(login, password, stored);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHE_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            if entries.len() >= CACHE_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(login.to_string(), (tag, Instant::now()));
    }

    /// Forgets `login` (password changed, account removed).
    pub fn forget(&self, login: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(login);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_verifies_only_the_right_password() {
        let c = Credentials::new("s3cret").unwrap();
        assert!(c.argon2.starts_with("$argon2id$"));
        assert!(!c.argon2.contains("s3cret"));
        let hash = Argon2Hash::parse(&c.argon2).unwrap();
        let mut memory = Vec::new();
        assert!(hash.verify_in(b"s3cret", &mut memory));
        assert!(!hash.verify_in(b"s3cret ", &mut memory));
    }

    #[test]
    fn scram_secrets_match_rfc7677_example() {
        // RFC 7677 section 3: user "user", password "pencil",
        // salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
        use base64::Engine as _;
        let salt = base64::engine::general_purpose::STANDARD
            .decode("W22ZaJ0SNY7soEsUEjb6gQ==")
            .unwrap();
        let s = ScramSecrets::derive_with("pencil", salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let server_signature = hmac(&s.server_key, auth_message.as_bytes());
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(server_signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[tokio::test]
    async fn the_checker_verifies_known_hashes_and_never_a_decoy() {
        let c = Credentials::new("s3cret").unwrap();
        let checker = PasswordChecker::new(CheckerConfig::default());
        assert_eq!(checker.verify(Some(&c.argon2), "s3cret").await, Ok(true));
        assert_eq!(checker.verify(Some(&c.argon2), "s3cret!").await, Ok(false));
        assert_eq!(checker.verify(None, "s3cret").await, Ok(false));
        assert_eq!(checker.verify(Some("garbage"), "s3cret").await, Ok(false));
        // The decoy has the parameters real hashes have.
        let real = Argon2Hash::parse(&c.argon2).unwrap();
        let decoy = &checker.decoy;
        let cost = |p: &Params| (p.m_cost(), p.t_cost(), p.p_cost());
        assert_eq!(cost(&real.params), cost(&decoy.params));
        assert_eq!(real.algorithm, decoy.algorithm);
        assert_eq!(real.version, decoy.version);
        assert_eq!(real.salt.len(), decoy.salt.len());
        assert_eq!(real.output.len(), decoy.output.len());
    }

    #[tokio::test]
    async fn the_checker_bounds_concurrent_verifications_and_reuses_buffers() {
        let c = Credentials::new("pw").unwrap();
        let checker = Arc::new(PasswordChecker::new(CheckerConfig {
            max_concurrent: 2,
            max_wait: Duration::from_secs(60),
        }));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let checker = checker.clone();
                let hash = c.argon2.clone();
                tokio::spawn(async move { checker.verify(Some(&hash), "nope").await })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(false));
        }
        assert!(checker.buffers.lock().unwrap().len() <= 2);
    }

    #[tokio::test]
    async fn a_full_checker_answers_busy_after_the_wait() {
        let c = Credentials::new("pw").unwrap();
        let checker = PasswordChecker::new(CheckerConfig {
            max_concurrent: 1,
            max_wait: Duration::from_millis(1),
        });
        let held = checker.permits.clone().acquire_owned().await.unwrap();
        assert_eq!(
            checker.verify(Some(&c.argon2), "pw").await,
            Err(CheckError::Busy)
        );
        drop(held);
        assert_eq!(checker.verify(Some(&c.argon2), "pw").await, Ok(true));
    }

    #[test]
    fn decoy_scram_secrets_are_fixed_per_login_and_secret() {
        let a = decoy_scram_secrets(b"k1", "nobody");
        let b = decoy_scram_secrets(b"k1", "nobody");
        assert_eq!((a.salt.clone(), a.iterations), (b.salt, b.iterations));
        assert_eq!(a.salt.len(), 16);
        assert_eq!(a.iterations, SCRAM_ITERATIONS);
        assert_ne!(a.salt, decoy_scram_secrets(b"k1", "nobody2").salt);
        assert_ne!(a.salt, decoy_scram_secrets(b"k2", "nobody").salt);
    }

    #[test]
    fn the_server_secret_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = server_secret(dir.path()).unwrap();
        assert_eq!(a, server_secret(dir.path()).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("auth.secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
    }

    #[test]
    fn login_cache_remembers_exact_password_only() {
        let cache = LoginCache::new();
        cache.remember("alice", "pw", "$argon2id$1");
        assert!(cache.check("alice", "pw", "$argon2id$1"));
        assert!(!cache.check("alice", "pw2", "$argon2id$1"));
        assert!(!cache.check("bob", "pw", "$argon2id$1"));
        // The password was changed (on this node or another): a new hash.
        assert!(!cache.check("alice", "pw", "$argon2id$2"));
        cache.forget("alice");
        assert!(!cache.check("alice", "pw", "$argon2id$1"));
    }
}
