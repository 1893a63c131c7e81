//! Certificates and keys as Traefik's configuration gives them: a file path
//! or the PEM text itself. Loading, and the names a certificate answers for.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// The PEM text `entry` holds or names.
pub fn pem_bytes(entry: &str) -> std::io::Result<Vec<u8>> {
    if entry.contains("-----BEGIN") {
        Ok(entry.as_bytes().to_vec())
    } else {
        std::fs::read(entry)
    }
}

/// How `entry` reads in a message: the path, or "inline PEM".
pub fn describe(entry: &str) -> String {
    if entry.contains("-----BEGIN") {
        "inline PEM".to_string()
    } else {
        format!("{entry:?}")
    }
}

/// Every certificate in `entry`, leaf first.
pub fn load_chain(entry: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = pem_bytes(entry).map_err(|e| format!("cannot read {}: {e}", describe(entry)))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", describe(entry)))?;
    if chain.is_empty() {
        return Err(format!("{} holds no certificate", describe(entry)));
    }
    Ok(chain)
}

/// A certificate chain with its private key, checked to belong together.
pub fn certified_key(
    cert: &str,
    key: &str,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let chain = load_chain(cert)?;
    let key_pem = pem_bytes(key).map_err(|e| format!("cannot read {}: {e}", describe(key)))?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("{}: no usable private key: {e}", describe(key)))?;
    let signing = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| format!("{}: {e}", describe(key)))?;
    let ck = CertifiedKey::new(chain, signing);
    ck.keys_match()
        .map_err(|e| format!("{} and {}: {e}", describe(cert), describe(key)))?;
    Ok(Arc::new(ck))
}

/// The names a certificate answers for, lower-cased: its subject's common
/// name, DNS names and IP addresses (as Traefik's certificate store reads
/// them).
pub fn names(der: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let Ok((_, cert)) = X509Certificate::from_der(der.as_ref()) else {
        return Vec::new();
    };
    let mut out: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => out.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(b) => out.extend(ip_text(b)),
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// An IP address SAN (4 or 16 bytes) as text.
pub fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            Some(std::net::Ipv6Addr::from(a).to_string())
        }
        _ => None,
    }
}

/// When the certificate starts and stops being valid, in seconds since
/// the epoch.
pub fn validity(der: &CertificateDer<'_>) -> Option<(i64, i64)> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    let v = cert.validity();
    Some((v.not_before.timestamp(), v.not_after.timestamp()))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testkit/fixtures")
            .join(name)
            .display()
            .to_string()
    }

    #[test]
    fn loads_and_names_the_fixture_certificate() {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let ck = certified_key(&fixture("server.pem"), &fixture("server.key"), &provider).unwrap();
        assert_eq!(
            names(&ck.cert[0]),
            ["127.0.0.1", "::1", "backend.test", "localhost"]
        );
        // Inline PEM works the same.
        let inline = std::fs::read_to_string(fixture("server.pem")).unwrap();
        assert_eq!(load_chain(&inline).unwrap().len(), 1);
        // A key that is not the certificate's.
        let err =
            certified_key(&fixture("server.pem"), &fixture("client.key"), &provider).unwrap_err();
        assert!(err.contains("client.key"), "{err}");
        let err = load_chain("/nonexistent.pem").unwrap_err();
        assert!(err.contains("cannot read \"/nonexistent.pem\""), "{err}");
        let (nb, na) = validity(&ck.cert[0]).unwrap();
        assert!(nb < na && na > 4_000_000_000);
    }
}
