//! SASL mechanisms for AUTHENTICATE: PLAIN (RFC 4616) and SCRAM-SHA-256
//! (RFC 7677, on RFC 5802), server side. Pure message handling; the
//! session supplies the store lookups.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use store_core::password::{hmac, ScramSecrets};
use subtle::ConstantTimeEq;

/// A malformed or failed SASL exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The client's message does not follow the mechanism's syntax.
    #[error("malformed SASL message: {0}")]
    Malformed(&'static str),
    /// The proof did not verify.
    #[error("authentication failed")]
    Failed,
}

/// PLAIN credentials (RFC 4616 2: `[authzid] NUL authcid NUL passwd`).
#[derive(Debug, Clone)]
pub struct PlainCredentials {
    /// Authorization identity, when the client gave one.
    pub authzid: Option<String>,
    /// Authentication identity (the login name).
    pub authcid: String,
    /// The password, never printed (`Debug` shows it redacted).
    pub password: secrecy::SecretString,
}

/// Prepares a user name with SASLprep (RFC 4013; RFC 4616 section 2 and
/// RFC 5802 section 5.1 ask for it), so that equivalent Unicode spellings
/// name the same account.
///
/// Errors: [`SaslError::Malformed`] for a name SASLprep prohibits
/// (control characters, unassigned code points, bad bidirectional text).
pub fn saslprep_user(user: &str) -> Result<String, SaslError> {
    stringprep::saslprep(user)
        .map(|u| u.into_owned())
        .map_err(|_| SaslError::Malformed("user name fails SASLprep (RFC 4013)"))
}

/// Decodes a PLAIN message; the user names (authcid, authzid) are
/// SASLprepped.
///
/// Errors: [`SaslError::Malformed`] unless there are exactly three
/// NUL-separated UTF-8 fields with a non-empty user name that SASLprep
/// accepts.
pub fn parse_plain(message: &[u8]) -> Result<PlainCredentials, SaslError> {
    let fields: Vec<&[u8]> = message.split(|&b| b == 0).collect();
    let [authzid, authcid, password] = fields.as_slice() else {
        return Err(SaslError::Malformed(
            "PLAIN needs three NUL-separated fields",
        ));
    };
    let text = |b: &[u8]| {
        String::from_utf8(b.to_vec()).map_err(|_| SaslError::Malformed("PLAIN field not UTF-8"))
    };
    let authcid = saslprep_user(&text(authcid)?)?;
    if authcid.is_empty() {
        return Err(SaslError::Malformed("empty user name"));
    }
    Ok(PlainCredentials {
        authzid: (!authzid.is_empty())
            .then(|| text(authzid).and_then(|z| saslprep_user(&z)))
            .transpose()?,
        authcid,
        password: text(password)?.into(),
    })
}

/// The client-first-message of SCRAM (RFC 5802 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramClientFirst {
    /// The GS2 header (`n,,` or `y,,`), echoed in the channel binding.
    gs2_header: String,
    /// `client-first-message-bare`.
    bare: String,
    /// The user name, `=2C`/`=3D` decoded.
    pub user: String,
    /// The client nonce.
    client_nonce: String,
}

/// Parses a client-first-message; the user name is decoded and
/// SASLprepped. Channel binding (`p=`) is not offered, so a client that
/// asks for it is refused.
pub fn parse_client_first(message: &[u8]) -> Result<ScramClientFirst, SaslError> {
    let text =
        std::str::from_utf8(message).map_err(|_| SaslError::Malformed("message not UTF-8"))?;
    let (cb, rest) = text
        .split_once(',')
        .ok_or(SaslError::Malformed("no GS2 header"))?;
    if cb != "n" && cb != "y" {
        return Err(SaslError::Malformed("channel binding is not supported"));
    }
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or(SaslError::Malformed("no GS2 header"))?;
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err(SaslError::Malformed("bad authzid"));
    }
    let mut user = None;
    let mut nonce = None;
    for attr in bare.split(',') {
        if let Some(v) = attr.strip_prefix("n=") {
            user = Some(saslprep_user(&decode_saslname(v)?)?);
        } else if let Some(v) = attr.strip_prefix("r=") {
            nonce = Some(v.to_string());
        } else if attr.starts_with("m=") {
            return Err(SaslError::Malformed("mandatory extension not supported"));
        }
    }
    let (Some(user), Some(client_nonce)) = (user, nonce) else {
        return Err(SaslError::Malformed("client-first needs n= and r="));
    };
    if client_nonce.is_empty()
        || !client_nonce
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b',')
    {
        return Err(SaslError::Malformed("bad nonce"));
    }
    Ok(ScramClientFirst {
        gs2_header: format!("{cb},{authzid},"),
        bare: bare.to_string(),
        user,
        client_nonce,
    })
}

fn decode_saslname(v: &str) -> Result<String, SaslError> {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(SaslError::Malformed("bad escape in user name")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A SCRAM exchange after the server-first-message.
#[derive(Debug)]
pub struct ScramServer {
    first: ScramClientFirst,
    server_first: String,
    nonce: String,
    secrets: ScramSecrets,
}

impl ScramServer {
    /// Answers `first` with the server-first-message, using `server_nonce`
    /// (random printable characters) and the account's `secrets`. For an
    /// unknown user the caller passes made-up secrets, so the exchange
    /// fails only at the proof and does not reveal which users exist.
    pub fn new(first: ScramClientFirst, server_nonce: &str, secrets: ScramSecrets) -> ScramServer {
        let nonce = format!("{}{}", first.client_nonce, server_nonce);
        let server_first = format!(
            "r={},s={},i={}",
            nonce,
            B64.encode(&secrets.salt),
            secrets.iterations
        );
        ScramServer {
            first,
            server_first,
            nonce,
            secrets,
        }
    }

    /// The server-first-message to send.
    pub fn server_first(&self) -> &str {
        &self.server_first
    }

    /// Checks the client-final-message; on success returns the
    /// server-final-message (`v=...`) to send.
    ///
    /// Errors: [`SaslError::Malformed`] for bad syntax, a wrong channel
    /// binding or nonce; [`SaslError::Failed`] for a wrong proof.
    pub fn finish(&self, message: &[u8]) -> Result<String, SaslError> {
        let text =
            std::str::from_utf8(message).map_err(|_| SaslError::Malformed("message not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(SaslError::Malformed("no proof"))?;
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
            return Err(SaslError::Malformed("channel binding does not match"));
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(SaslError::Malformed("nonce does not match"));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| SaslError::Malformed("proof is not base64"))?;
        if proof.len() != 32 {
            return Err(SaslError::Failed);
        }
        let auth_message = format!(
            "{},{},{}",
            self.first.bare, self.server_first, without_proof
        );
        let signature = hmac(&self.secrets.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
        let stored_key = Sha256::digest(&client_key);
        if !bool::from(stored_key.as_slice().ct_eq(&self.secrets.stored_key)) {
            return Err(SaslError::Failed);
        }
        let server_signature = hmac(&self.secrets.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print() {
        let c = parse_plain(b"\0alice\0hunter2").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let secrets = ScramSecrets::derive_with("hunter2", vec![1; 16], 4096);
        let printed = format!("{secrets:?}");
        assert!(printed.contains("<redacted>"), "{printed}");
        let login = crate::protocol::command::Command::Login {
            user: "alice".into(),
            password: "hunter2".to_string().into(),
        };
        assert!(!format!("{login:?}").contains("hunter2"));
    }

    #[test]
    fn plain_fields() {
        use secrecy::ExposeSecret;
        let c = parse_plain(b"\0alice\0secret").unwrap();
        assert_eq!(
            (c.authzid, c.authcid.as_str(), c.password.expose_secret()),
            (None, "alice", "secret")
        );
        assert!(parse_plain(b"alice\0secret").is_err());
        assert!(parse_plain(b"\0\0secret").is_err());
    }

    /// RFC 4013 section 3's examples, on user names.
    #[test]
    fn user_names_are_saslprepped() {
        // SOFT HYPHEN maps to nothing; NO-BREAK SPACE to SPACE; U+2168
        // (ROMAN NUMERAL NINE) to "IX" by NFKC.
        let c = parse_plain("\0al\u{00AD}ice\0pw".as_bytes()).unwrap();
        assert_eq!(c.authcid, "alice");
        let first = parse_client_first("n,,n=\u{2168},r=abc".as_bytes()).unwrap();
        assert_eq!(first.user, "IX");
        // A control character is prohibited.
        assert!(parse_plain("\0al\u{0007}ice\0pw".as_bytes()).is_err());
        assert!(parse_client_first("n,,n=a\u{0007},r=abc".as_bytes()).is_err());
    }

    /// RFC 7677 3's example exchange, end to end.
    #[test]
    fn rfc7677_exchange() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let secrets = ScramSecrets::derive_with("pencil", salt, 4096);
        let first = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(first.user, "user");
        let server = ScramServer::new(first, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", secrets);
        assert_eq!(
            server.server_first(),
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let last = server
            .finish(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        assert_eq!(last, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert_eq!(
            server.finish(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
            Err(SaslError::Failed)
        );
    }
}
