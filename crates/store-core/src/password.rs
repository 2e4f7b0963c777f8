//! Account credentials: an Argon2id hash for plaintext mechanisms (IMAP LOGIN,
//! AUTHENTICATE PLAIN, HTTP Basic) and SCRAM-SHA-256 secrets (RFC 5802,
//! RFC 7677) for challenge-response; never the password itself.
//!
//! Passwords are taken as their UTF-8 bytes; SASLprep (RFC 4013) is not
//! applied, which changes nothing for ASCII passwords.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Result, StoreError};

type HmacSha256 = Hmac<Sha256>;

/// SCRAM iteration count: RFC 7677 section 4 asks for at least 4096.
pub const SCRAM_ITERATIONS: u32 = 4096;

/// The SCRAM-SHA-256 secrets of one account (RFC 5802 section 3).
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The Argon2id hash in PHC string format.
    pub argon2: String,
    /// The SCRAM-SHA-256 secrets.
    pub scram: ScramSecrets,
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

    /// Whether `password` matches the Argon2id hash.
    pub fn verify(&self, password: &str) -> bool {
        match PasswordHash::new(&self.argon2) {
            Ok(hash) => Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// How long a successful plaintext login is remembered.
const CACHE_TTL: Duration = Duration::from_secs(600);
/// Most logins remembered at once.
const CACHE_ENTRIES: usize = 10_000;

/// Remembers recent successful logins so that a client logging in again
/// (a phone reconnecting, HTTP Basic on every request) does not pay Argon2
/// each time. It keeps a keyed HMAC of the password under a random key that
/// lives only in memory, never the password.
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

    fn tag(&self, login: &str, password: &str) -> [u8; 32] {
        let mut data = Vec::with_capacity(login.len() + password.len() + 1);
        data.extend_from_slice(login.as_bytes());
        data.push(0);
        data.extend_from_slice(password.as_bytes());
        hmac(&self.key, &data)
    }

    /// Whether `login` recently logged in with exactly `password`.
    pub fn check(&self, login: &str, password: &str) -> bool {
        let tag = self.tag(login, password);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(login) {
            Some((known, at)) => at.elapsed() < CACHE_TTL && bool::from(known.ct_eq(&tag)),
            None => false,
        }
    }

    /// Remembers a successful login.
    pub fn remember(&self, login: &str, password: &str) {
        let tag = self.tag(login, password);
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
        assert!(c.verify("s3cret"));
        assert!(!c.verify("s3cret "));
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

    #[test]
    fn login_cache_remembers_exact_password_only() {
        let cache = LoginCache::new();
        cache.remember("alice", "pw");
        assert!(cache.check("alice", "pw"));
        assert!(!cache.check("alice", "pw2"));
        assert!(!cache.check("bob", "pw"));
        cache.forget("alice");
        assert!(!cache.check("alice", "pw"));
    }
}
