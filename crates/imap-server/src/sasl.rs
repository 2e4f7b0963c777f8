//! SASL PLAIN (RFC 4616) for AUTHENTICATE, server side: pure message
//! handling. SCRAM-SHA-256 (RFC 7677) runs in store-core
//! ([`store_core::Store::scram_begin`]), so that a principal comes only
//! out of a verified proof.

/// A malformed or failed SASL exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The client's message does not follow the mechanism's syntax.
    #[error("malformed SASL message: {0}")]
    Malformed(&'static str),
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
    store_core::scram::saslprep_user(user)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print() {
        let c = parse_plain(b"\0alice\0hunter2").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let secrets = store_core::password::ScramSecrets::derive_with("hunter2", vec![1; 16], 4096);
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
        assert_eq!(saslprep_user("\u{2168}").unwrap(), "IX");
        // A control character is prohibited.
        assert!(parse_plain("\0al\u{0007}ice\0pw".as_bytes()).is_err());
    }
}
