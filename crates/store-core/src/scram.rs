//! SCRAM-SHA-256 (RFC 7677, on RFC 5802), server side, run by store-core
//! so that a [`Principal`] comes only out of a verified proof: a front end
//! relays the client's messages ([`crate::Store::scram_begin`],
//! [`crate::Store::scram_finish`]) and never holds the account's secrets
//! or its principal before the proof checks. Also SASLprep of user names
//! (RFC 4013), for every SASL mechanism.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Result, StoreError};
use crate::model::Principal;
use crate::password::{hmac, ScramSecrets};

fn malformed(why: &str) -> StoreError {
    StoreError::InvalidArgument(why.to_string())
}

/// Prepares a user name with SASLprep (RFC 4013; RFC 4616 section 2 and
/// RFC 5802 section 5.1 ask for it), so that equivalent Unicode spellings
/// name the same account.
///
/// Errors: [`StoreError::InvalidArgument`] for a name SASLprep prohibits
/// (control characters, unassigned code points, bad bidirectional text).
pub fn saslprep_user(user: &str) -> Result<String> {
    stringprep::saslprep(user)
        .map(|u| u.into_owned())
        .map_err(|_| malformed("user name fails SASLprep (RFC 4013)"))
}

/// The client-first-message of SCRAM (RFC 5802 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientFirst {
    /// The GS2 header (`n,,` or `y,,`), echoed in the channel binding.
    gs2_header: String,
    /// `client-first-message-bare`.
    bare: String,
    /// The user name, `=2C`/`=3D` decoded and SASLprepped.
    pub(crate) user: String,
    /// The client nonce.
    client_nonce: String,
}

/// Parses a client-first-message. Channel binding (`p=`) is not offered,
/// so a client that asks for it is refused.
///
/// Errors: [`StoreError::InvalidArgument`] saying what is malformed.
pub(crate) fn parse_client_first(message: &[u8]) -> Result<ClientFirst> {
    let text = std::str::from_utf8(message).map_err(|_| malformed("message not UTF-8"))?;
    let (cb, rest) = text
        .split_once(',')
        .ok_or_else(|| malformed("no GS2 header"))?;
    if cb != "n" && cb != "y" {
        return Err(malformed("channel binding is not supported"));
    }
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or_else(|| malformed("no GS2 header"))?;
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err(malformed("bad authzid"));
    }
    let mut user = None;
    let mut nonce = None;
    for attr in bare.split(',') {
        if let Some(v) = attr.strip_prefix("n=") {
            user = Some(saslprep_user(&decode_saslname(v)?)?);
        } else if let Some(v) = attr.strip_prefix("r=") {
            nonce = Some(v.to_string());
        } else if attr.starts_with("m=") {
            return Err(malformed("mandatory extension not supported"));
        }
    }
    let (Some(user), Some(client_nonce)) = (user, nonce) else {
        return Err(malformed("client-first needs n= and r="));
    };
    if client_nonce.is_empty()
        || !client_nonce
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b',')
    {
        return Err(malformed("bad nonce"));
    }
    Ok(ClientFirst {
        gs2_header: format!("{cb},{authzid},"),
        bare: bare.to_string(),
        user,
        client_nonce,
    })
}

fn decode_saslname(v: &str) -> Result<String> {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(malformed("bad escape in user name")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A SCRAM exchange after the server-first-message, made by
/// [`crate::Store::scram_begin`] and finished by
/// [`crate::Store::scram_finish`]. Opaque: it holds the account's secrets
/// and principal, which only a verified proof releases. `Debug` shows
/// neither secret (see [`ScramSecrets`]).
#[derive(Debug)]
pub struct ScramExchange {
    first: ClientFirst,
    server_first: String,
    nonce: String,
    secrets: ScramSecrets,
    account: Option<Principal>,
}

impl ScramExchange {
    /// Answers `first` with the server-first-message, using `server_nonce`
    /// (printable characters) and the account's `secrets`; `account` is
    /// `None` for an unknown user, which gets made-up secrets so that the
    /// exchange fails only at the proof.
    pub(crate) fn new(
        first: ClientFirst,
        server_nonce: &str,
        secrets: ScramSecrets,
        account: Option<Principal>,
    ) -> ScramExchange {
        let nonce = format!("{}{}", first.client_nonce, server_nonce);
        let server_first = format!(
            "r={},s={},i={}",
            nonce,
            B64.encode(&secrets.salt),
            secrets.iterations
        );
        ScramExchange {
            first,
            server_first,
            nonce,
            secrets,
            account,
        }
    }

    /// The (SASLprepped) user name the client gave.
    pub fn login(&self) -> &str {
        &self.first.user
    }

    /// The server-first-message to send (RFC 5802 7).
    pub fn server_first(&self) -> &str {
        &self.server_first
    }

    /// Checks the client-final-message; on success the principal and the
    /// server-final-message (`v=...`) to send.
    ///
    /// Errors: [`StoreError::InvalidArgument`] for bad syntax, a wrong
    /// channel binding or nonce; [`StoreError::AuthenticationFailed`] for
    /// a wrong proof or an unknown user.
    pub(crate) fn verify(&self, message: &[u8]) -> Result<(Principal, String)> {
        let text = std::str::from_utf8(message).map_err(|_| malformed("message not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or_else(|| malformed("no proof"))?;
        let mut binding = None;
        let mut nonce = None;
        for attr in without_proof.split(',') {
            if let Some(v) = attr.strip_prefix("c=") {
                binding = Some(v);
            } else if let Some(v) = attr.strip_prefix("r=") {
                nonce = Some(v);
            }
        }
        if binding != Some(B64.encode(&self.first.gs2_header).as_str()) {
            return Err(malformed("channel binding does not match"));
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(malformed("nonce does not match"));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| malformed("proof is not base64"))?;
        if proof.len() != 32 {
            return Err(StoreError::AuthenticationFailed);
        }
        let auth_message = format!(
            "{},{},{}",
            self.first.bare, self.server_first, without_proof
        );
        let signature = hmac(&self.secrets.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
        let stored_key = Sha256::digest(&client_key);
        let matched = bool::from(stored_key.as_slice().ct_eq(&self.secrets.stored_key));
        match &self.account {
            Some(principal) if matched => {
                let server_signature = hmac(&self.secrets.server_key, auth_message.as_bytes());
                Ok((
                    principal.clone(),
                    format!("v={}", B64.encode(server_signature)),
                ))
            }
            _ => Err(StoreError::AuthenticationFailed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 3's example exchange, end to end.
    #[test]
    fn rfc7677_exchange() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let secrets = ScramSecrets::derive_with("pencil", salt, 4096);
        let first = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(first.user, "user");
        let account = Principal::new(7, "user".into());
        let server = ScramExchange::new(
            first,
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            secrets,
            Some(account),
        );
        assert_eq!(
            server.server_first(),
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let (principal, last) = server
            .verify(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        assert_eq!(principal.login(), "user");
        assert_eq!(last, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert!(matches!(
            server.verify(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
            Err(StoreError::AuthenticationFailed)
        ));
    }

    /// RFC 4013 section 3's examples, on SCRAM user names.
    #[test]
    fn user_names_are_saslprepped() {
        let first = parse_client_first("n,,n=\u{2168},r=abc".as_bytes()).unwrap();
        assert_eq!(first.user, "IX");
        assert!(parse_client_first("n,,n=a\u{0007},r=abc".as_bytes()).is_err());
        assert!(parse_client_first(b"p=tls-unique,,n=a,r=abc").is_err());
    }
}
