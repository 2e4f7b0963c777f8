//! TLS to PostgreSQL (issue 20): the `sslmode` and `sslrootcert`
//! parameters of the connection URL, with libpq's meanings (PostgreSQL
//! manual, 34.1.2 "Parameter Key Words", and 34.19 "SSL Support"), over
//! rustls with the ring provider the workspace uses:
//!
//! | `sslmode`            | TLS                   | server certificate checked |
//! |----------------------|-----------------------|----------------------------|
//! | `disable`            | never                 | -                          |
//! | `allow`, `prefer` (default) | when the server offers it | no (as libpq)     |
//! | `require`            | always                | only with `sslrootcert` (as libpq) |
//! | `verify-ca`, `verify-full` | always          | yes, and the host name (verify-ca is checked as verify-full: stricter than libpq) |
//!
//! A checked certificate must chain to `sslrootcert` (a PEM file), or
//! to the system's roots when it is not given (`sslrootcert=system`, as
//! libpq 16 spells it, says so explicitly).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;

use super::{EngineError, EngineErrorKind};

/// How the engine connects: in clear, or with rustls.
#[derive(Clone)]
pub(super) enum PostgresTls {
    /// `sslmode=disable`.
    Clear,
    /// Any other mode.
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// The TLS of `url`: the URL with the parameters tokio-postgres does not
/// take (`sslrootcert`, and `sslmode` values it lacks) removed, the mode
/// to set on its config, and the connector.
///
/// Errors: an unknown `sslmode`; an unreadable or empty `sslrootcert`
/// (both [`EngineErrorKind::Other`], naming the parameter).
pub(super) fn tls_of(url: &str) -> Result<(String, SslMode, PostgresTls), EngineError> {
    let mut mode = "prefer".to_string();
    let mut root: Option<String> = None;
    let url = if url.contains("://") {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", v)) => mode = v.to_string(),
                Some(("sslrootcert", v)) => root = Some(percent_decode(v)),
                _ => kept.push(pair),
            }
        }
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        // `key=value` pairs separated by spaces (these two keys' values
        // have none).
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            match pair.split_once('=') {
                Some(("sslmode", v)) => mode = v.trim_matches('\'').to_string(),
                Some(("sslrootcert", v)) => root = Some(v.trim_matches('\'').to_string()),
                _ => kept.push(pair),
            }
        }
        kept.join(" ")
    };
    let bad = |message: String| EngineError {
        message,
        kind: EngineErrorKind::Other,
    };
    let (ssl_mode, verify) = match mode.as_str() {
        "disable" => return Ok((url, SslMode::Disable, PostgresTls::Clear)),
        "allow" | "prefer" => (SslMode::Prefer, root.is_some()),
        "require" => (SslMode::Require, root.is_some()),
        "verify-ca" | "verify-full" => (SslMode::Require, true),
        other => {
            return Err(bad(format!(
                "[store] postgres_url: sslmode={other}: expected disable, allow, prefer, require, \
                 verify-ca or verify-full"
            )))
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("postgresql TLS: {e}")))?;
    let config = if verify {
        let mut roots = rustls::RootCertStore::empty();
        match root.as_deref() {
            None | Some("system") => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| bad(format!("[store] postgres_url: sslrootcert={path}: {e}")))?;
                for cert in certs {
                    roots.add(cert).map_err(|e| {
                        bad(format!("[store] postgres_url: sslrootcert={path}: {e}"))
                    })?;
                }
            }
        }
        if roots.is_empty() {
            return Err(bad(format!(
                "[store] postgres_url: sslmode={mode}: no root certificate to check the server's \
                 against (give sslrootcert=PATH)"
            )));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
            .with_no_client_auth()
    };
    Ok((
        url,
        ssl_mode,
        PostgresTls::Rustls(tokio_postgres_rustls::MakeRustlsConnect::new(config)),
    ))
}

/// `%XX` escapes of a URL parameter's value decoded (a path with spaces).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(Ok(b)) = value.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The verifier of `prefer` and `require` without `sslrootcert`: the
/// connection is encrypted, the certificate not checked (libpq's
/// meaning of those modes); handshake signatures are still verified.
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_the_url() {
        let (url, mode, tls) = tls_of("postgresql://u@h:5432/db?sslmode=disable").unwrap();
        assert_eq!(url, "postgresql://u@h:5432/db");
        assert_eq!(mode, SslMode::Disable);
        assert!(matches!(tls, PostgresTls::Clear));
        let (url, mode, tls) =
            tls_of("postgresql://u@h/db?application_name=x&sslmode=require").unwrap();
        assert_eq!(url, "postgresql://u@h/db?application_name=x");
        assert_eq!(mode, SslMode::Require);
        assert!(matches!(tls, PostgresTls::Rustls(_)));
        // The default is libpq's: prefer.
        let (_, mode, _) = tls_of("postgresql://u@h/db").unwrap();
        assert_eq!(mode, SslMode::Prefer);
        // The key=value form too.
        let (url, mode, _) = tls_of("host=h dbname=db sslmode=require user=u").unwrap();
        assert_eq!(url, "host=h dbname=db user=u");
        assert_eq!(mode, SslMode::Require);
    }

    #[test]
    fn a_bad_mode_or_root_file_is_refused_with_its_name() {
        let e = tls_of("postgresql://h/db?sslmode=maybe").err().unwrap();
        assert!(e.message.contains("sslmode=maybe"), "{}", e.message);
        let e = tls_of("postgresql://h/db?sslmode=verify-full&sslrootcert=/nonexistent%20ca.pem")
            .err()
            .unwrap();
        assert!(e.message.contains("/nonexistent ca.pem"), "{}", e.message);
    }
}
