//! TLS for every listener (rustls): the configured certificate, or a
//! self-signed one generated into the data directory on first start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::config::TlsSection;

/// Loads (or first generates) the certificate and builds the rustls server
/// configuration the front ends share.
pub fn server_config(tls: &TlsSection, data_dir: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let (cert_path, key_path) = match (&tls.cert, &tls.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => generated(data_dir)?,
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("[tls] cert: cannot open {}", cert_path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("[tls] cert: {} is not PEM", cert_path.display()))?;
    let first = certs
        .first()
        .ok_or_else(|| anyhow!("[tls] cert: {} holds no certificate", cert_path.display()))?;
    tracing::info!(cert = %cert_path.display(), sha256 = %fingerprint(first), "TLS certificate");
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| match e {
        pem::Error::NoItemsFound => {
            anyhow!("[tls] key: {} holds no private key", key_path.display())
        }
        other => anyhow!("[tls] key: {}: {other}", key_path.display()),
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("[tls] the certificate and key do not match")?;
    Ok(Arc::new(config))
}

/// SHA-256 of a DER certificate, as colon-separated hex.
fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The generated self-signed pair under `<data_dir>/tls/`, made on first use.
fn generated(data_dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let dir = data_dir.join("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    store_core::blob::create_private_dir(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let certified = self_signed(host_name().as_deref(), OffsetDateTime::now_utc())?;
    write_private(&key, certified.key_pair.serialize_pem().as_bytes())?;
    write_private(&cert, certified.cert.pem().as_bytes())?;
    tracing::warn!(cert = %cert.display(), "no [tls] cert configured: generated a self-signed certificate");
    Ok((cert, key))
}

/// Days before the generation time the generated certificate is valid from
/// (a client whose clock is a little behind still accepts it).
const VALID_BEFORE_DAYS: i64 = 1;
/// Days after the generation time the generated certificate is valid until:
/// 825, the longest span browsers and Apple's TLS policy accept for a
/// server certificate.
const VALID_FOR_DAYS: i64 = 825;

/// The machine's host name (uname(2) `nodename`), if it can be a DNS name in
/// a certificate: `None` when empty, `localhost`, or not a DNS name.
fn host_name() -> Option<String> {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_str().ok()?.trim().to_ascii_lowercase();
    let is_dns = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    (is_dns && name != "localhost").then_some(name)
}

/// A self-signed certificate and its key for the server's names: `host`
/// (the host name, when there is one), `localhost`, `127.0.0.1` and `::1`
/// as subject alternative names (RFC 5280 4.2.1.6), the first as the common
/// name, valid from a day before `now` to 825 days after it.
fn self_signed(host: Option<&str>, now: OffsetDateTime) -> Result<rcgen::CertifiedKey> {
    let mut names: Vec<String> = host.map(str::to_string).into_iter().collect();
    names.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
    let mut params = rcgen::CertificateParams::new(names.clone())
        .context("cannot make the self-signed certificate's names")?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, names[0].clone());
    dn.push(rcgen::DnType::OrganizationName, "cpm-store (self-signed)");
    params.distinguished_name = dn;
    params.not_before = now - Duration::days(VALID_BEFORE_DAYS);
    params.not_after = now + Duration::days(VALID_FOR_DAYS);
    let key_pair = rcgen::KeyPair::generate().context("cannot generate a key pair")?;
    let cert = params
        .self_signed(&key_pair)
        .context("cannot generate a self-signed certificate")?;
    Ok(rcgen::CertifiedKey { cert, key_pair })
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::{ServerName, UnixTime};

    /// Checks `cert` as a TLS client would (RFC 5280 path validation with
    /// the certificate as its own trust anchor, server authentication) at
    /// `at` seconds since the epoch.
    fn verify_at(cert: &CertificateDer<'_>, at: u64) -> Result<(), webpki::Error> {
        let anchor = webpki::anchor_from_trusted_cert(cert)?;
        let ee = webpki::EndEntityCert::try_from(cert)?;
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &[],
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(at)),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|_| ())
    }

    fn valid_for(cert: &CertificateDer<'_>, name: &str) -> bool {
        let ee = webpki::EndEntityCert::try_from(cert).unwrap();
        ee.verify_is_valid_for_subject_name(&ServerName::try_from(name).unwrap())
            .is_ok()
    }

    #[test]
    fn generated_certificate_names_the_host_and_both_loopbacks() {
        let now = OffsetDateTime::now_utc();
        let certified = self_signed(Some("mail.example.net"), now).unwrap();
        let cert = certified.cert.der();
        for name in ["mail.example.net", "localhost", "127.0.0.1", "::1"] {
            assert!(valid_for(cert, name), "{name} not in the certificate");
        }
        for name in ["example.net", "other.example.net", "10.0.0.1", "::2"] {
            assert!(!valid_for(cert, name), "{name} in the certificate");
        }
        let without_host = self_signed(None, now).unwrap();
        for name in ["localhost", "127.0.0.1", "::1"] {
            assert!(valid_for(without_host.cert.der(), name), "{name}");
        }
    }

    #[test]
    fn generated_certificate_is_valid_from_yesterday_for_825_days() {
        let now = OffsetDateTime::now_utc();
        let certified = self_signed(None, now).unwrap();
        let cert = certified.cert.der();
        let now = u64::try_from(now.unix_timestamp()).unwrap();
        let day = 86_400;
        assert_eq!(verify_at(cert, now), Ok(()));
        let not_before = match verify_at(cert, 0) {
            Err(webpki::Error::CertNotValidYet { not_before, .. }) => not_before.as_secs(),
            other => panic!("valid at the epoch: {other:?}"),
        };
        let not_after = match verify_at(cert, now + 3000 * day) {
            Err(webpki::Error::CertExpired { not_after, .. }) => not_after.as_secs(),
            other => panic!("valid in 3000 days: {other:?}"),
        };
        // X.509 times are whole seconds: allow the fraction being cut.
        assert!(
            now - day - not_before <= 1,
            "not_before {not_before}, now {now}"
        );
        assert!(
            now + 825 * day - not_after <= 1,
            "not_after {not_after}, now {now}"
        );
    }

    #[test]
    fn generated_pair_is_read_back_by_the_pem_reader() {
        let dir = tempfile::tempdir().unwrap();
        let tls = crate::config::TlsSection::default();
        let config = server_config(&tls, dir.path());
        assert!(config.is_ok(), "{:?}", config.err());
        let certs: Vec<_> = CertificateDer::pem_file_iter(dir.path().join("tls/cert.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(certs.len(), 1);
    }

    #[test]
    fn a_key_file_without_a_key_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        let certified = self_signed(None, OffsetDateTime::now_utc()).unwrap();
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.cert.pem()).unwrap();
        let tls = crate::config::TlsSection {
            cert: Some(cert),
            key: Some(key),
        };
        let err = server_config(&tls, dir.path()).unwrap_err().to_string();
        assert!(err.contains("holds no private key"), "{err}");
    }

    #[test]
    fn host_name_is_a_dns_name_or_none() {
        if let Some(name) = host_name() {
            assert!(!name.is_empty() && name != "localhost");
            assert!(name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
        }
    }
}
