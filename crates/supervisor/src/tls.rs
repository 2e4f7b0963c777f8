//! TLS for every listener (rustls): the configured certificate, or a
//! self-signed one generated into the data directory on first start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use sha2::{Digest, Sha256};

use crate::config::TlsSection;

/// Loads (or first generates) the certificate and builds the rustls server
/// configuration the front ends share.
pub fn server_config(tls: &TlsSection, data_dir: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let (cert_path, key_path) = match (&tls.cert, &tls.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => generated(data_dir)?,
    };
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(&cert_path)
            .with_context(|| format!("[tls] cert: cannot open {}", cert_path.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("[tls] cert: {} is not PEM", cert_path.display()))?;
    let first = certs
        .first()
        .ok_or_else(|| anyhow!("[tls] cert: {} holds no certificate", cert_path.display()))?;
    tracing::info!(cert = %cert_path.display(), sha256 = %fingerprint(first), "TLS certificate");
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(&key_path)
            .with_context(|| format!("[tls] key: cannot open {}", key_path.display()))?,
    ))
    .with_context(|| format!("[tls] key: {} is not PEM", key_path.display()))?
    .ok_or_else(|| anyhow!("[tls] key: {} holds no private key", key_path.display()))?;
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
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .context("cannot generate a self-signed certificate")?;
    write_private(&key, certified.key_pair.serialize_pem().as_bytes())?;
    write_private(&cert, certified.cert.pem().as_bytes())?;
    tracing::warn!(cert = %cert.display(), "no [tls] cert configured: generated a self-signed certificate");
    Ok((cert, key))
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
