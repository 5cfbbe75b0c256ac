//! TLS for `wss://` relays and `https://` admin calls: the public web roots plus, optionally,
//! extra CA certificates from a PEM file (`ARXOS_TLS_CA`), e.g. a self-signed relay's own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::client::ClientError;

/// The extra CA file named by `ARXOS_TLS_CA`, if set.
pub fn ca_from_env() -> Option<PathBuf> {
    std::env::var_os("ARXOS_TLS_CA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A rustls client configuration trusting the web roots and the certificates in `extra_ca`.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .map_err(|e| ClientError::Invalid(format!("{}: {e}", path.display())))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| ClientError::Invalid(format!("{}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Invalid(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_roots_load_and_bad_ca_files_are_errors() {
        assert!(client_config(None).is_ok());
        let dir = tempfile::tempdir().unwrap();
        let bogus = dir.path().join("ca.pem");
        std::fs::write(
            &bogus,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(client_config(Some(&bogus)).is_err());
        assert!(client_config(Some(&dir.path().join("missing.pem"))).is_err());
    }
}
