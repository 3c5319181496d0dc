//! TLS to etcd: the CA that signed the members' certificates, and optionally a client
//! certificate (etcd's `--client-cert-auth`), all PEM files.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

use super::StoreSettings;

/// The connector for `https` endpoints, or `None` when no endpoint uses TLS. Every problem
/// with the files is an error naming the file.
pub(super) fn connector(s: &StoreSettings, https: bool) -> Result<Option<TlsConnector>, String> {
    let Some(ca) = &s.ca else {
        if https {
            return Err(
                "etcd endpoints use https:// but no CA file is given to verify them".into(),
            );
        }
        if s.cert.is_some() || s.key.is_some() {
            return Err(
                "a client certificate is given for etcd but no endpoint uses https://".into(),
            );
        }
        return Ok(None);
    };
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca)? {
        roots
            .add(cert)
            .map_err(|e| format!("etcd CA file {}: {e}", ca.display()))?;
    }
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots);
    let config = match (&s.cert, &s.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("etcd client key file {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("etcd client certificate {}: {e}", cert.display()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("an etcd client certificate needs both a cert and a key file".into()),
    };
    Ok(Some(TlsConnector::from(Arc::new(config))))
}

/// Every certificate in a PEM file; none at all is an error.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("etcd certificate file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "etcd certificate file {}: no PEM certificate in it",
            path.display()
        ));
    }
    Ok(certs)
}
