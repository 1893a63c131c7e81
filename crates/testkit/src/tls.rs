//! The fixture certificates (made by `fixtures/make-certs.sh`).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The test CA that signed the backend certificate, as PEM.
pub const CA_PEM: &str = include_str!("../fixtures/ca.pem");
const SERVER_PEM: &str = include_str!("../fixtures/server.pem");
const SERVER_KEY: &str = include_str!("../fixtures/server.key");

/// Path of a fixture file (`client.pem`, `client.key`, ...).
pub fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// How a TLS test backend handshakes.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// ALPN protocols offered (`h2`, `http/1.1`); none: ALPN is not used.
    pub alpn: Vec<Vec<u8>>,
    /// Require a client certificate signed by the test CA.
    pub require_client_cert: bool,
    /// Only these versions (empty: TLS 1.2 and 1.3).
    pub versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

/// Path of the CA file, for configurations that name a file.
pub fn ca_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ca.pem")
}

pub(crate) fn acceptor() -> tokio_rustls::TlsAcceptor {
    acceptor_with(&TlsOptions::default())
}

pub fn acceptor_with(options: &TlsOptions) -> tokio_rustls::TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(SERVER_PEM.as_bytes())
        .collect::<Result<_, _>>()
        .expect("fixture cert");
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).expect("fixture key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone());
    let builder = if options.versions.is_empty() {
        builder.with_safe_default_protocol_versions()
    } else {
        builder.with_protocol_versions(&options.versions)
    }
    .expect("protocol versions");
    let builder = if options.require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(CA_PEM.as_bytes()) {
            roots.add(cert.expect("fixture CA")).expect("fixture CA");
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(certs, key).expect("server config");
    config.alpn_protocols = options.alpn.clone();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Writes a new self-signed certificate for `names` (ECDSA P-256) and its
/// key into `dir` as `<stem>.pem` / `<stem>.key`; returns both paths.
pub fn write_cert(
    dir: &std::path::Path,
    stem: &str,
    names: &[&str],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("certificate names");
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        names.first().copied().unwrap_or("test"),
    );
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    let (c, k) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    );
    // Written beside and renamed, so a watcher never sees half a file.
    for (path, text) in [(&k, key.serialize_pem()), (&c, cert.pem())] {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write certificate");
        std::fs::rename(&tmp, path).expect("rename certificate");
    }
    (c, k)
}

/// Writes a self-signed certificate like [`write_cert`], with subject
/// and issuer organisation `organization` (none when empty), valid until
/// `not_after` (from 400 days before it): an expired or soon expiring
/// certificate for the API's status.
pub fn write_cert_until(
    dir: &std::path::Path,
    stem: &str,
    names: &[&str],
    organization: &str,
    not_after: std::time::SystemTime,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("certificate names");
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        names.first().copied().unwrap_or("test"),
    );
    if !organization.is_empty() {
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, organization);
    }
    let since_epoch = not_after
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a time after 1970");
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
    params.not_before = params.not_after - std::time::Duration::from_secs(400 * 86_400);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    let (c, k) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    );
    for (path, text) in [(&k, key.serialize_pem()), (&c, cert.pem())] {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write certificate");
        std::fs::rename(&tmp, path).expect("rename certificate");
    }
    (c, k)
}

/// The issuer's common name of a DER certificate ("" when unreadable).
pub fn cert_issuer(der: &[u8]) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    X509Certificate::from_der(der)
        .ok()
        .and_then(|(_, c)| {
            c.issuer()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok().map(str::to_string))
        })
        .unwrap_or_default()
}

/// The issuer common name of the last certificate in a PEM chain (the
/// root a chain ends under), or empty.
pub fn chain_top_issuer(pem: &str) -> String {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .last()
        .map(|der| cert_issuer(der.as_ref()))
        .unwrap_or_default()
}

/// The subject common name of the first certificate in a PEM text.
pub fn pem_subject(pem: &str) -> String {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .next()
        .and_then(|der| {
            crate::tls_client::cert_names(der.as_ref())
                .into_iter()
                .next()
        })
        .unwrap_or_default()
}
