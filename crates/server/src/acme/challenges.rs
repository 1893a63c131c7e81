//! The challenges the entrypoints answer while an order is validated:
//! HTTP-01 key authorizations by token (at
//! `/.well-known/acme-challenge/<token>`) and TLS-ALPN-01 certificates by
//! domain (RFC 8737, for handshakes offering `acme-tls/1`). An order
//! publishes its answers through a [`Pending`] and withdraws them when it
//! ends, however it ends.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use sha2::Digest;

/// Pending challenges, answered on every entrypoint: HTTP-01 key
/// authorizations by token (at `/.well-known/acme-challenge/<token>`), and
/// TLS-ALPN-01 certificates by domain (for handshakes offering
/// `acme-tls/1`).
#[derive(Default, Debug)]
pub struct ChallengeTable {
    pub http: RwLock<HashMap<String, String>>,
    pub alpn: RwLock<HashMap<String, Arc<rustls::sign::CertifiedKey>>>,
}

pub type Challenges = Arc<ChallengeTable>;

impl ChallengeTable {
    pub fn http_answer(&self, token: &str) -> Option<String> {
        self.http
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    /// The server configuration that answers a TLS-ALPN-01 validation of
    /// `domain`, when one is pending.
    pub fn alpn_config(&self, domain: &str) -> Option<Arc<rustls::ServerConfig>> {
        let ck = self
            .alpn
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&domain.to_ascii_lowercase())
            .cloned()?;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .ok()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(ck)));
        config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
        Some(Arc::new(config))
    }
}

impl ChallengeTable {
    /// Makes the table answer `http` (token → key authorization) and
    /// `alpn` (domain → key authorization), the challenges other instances
    /// share: adds what is new, and withdraws what `mirrored` (the answers
    /// put here by earlier calls) holds and the store no longer does.
    pub(super) fn mirror(
        &self,
        http: &HashMap<String, String>,
        alpn: &HashMap<String, String>,
        mirrored_http: &mut HashSet<String>,
        mirrored_alpn: &mut HashSet<String>,
    ) {
        let mut table = write(&self.http);
        for gone in mirrored_http.iter().filter(|t| !http.contains_key(*t)) {
            table.remove(gone);
        }
        mirrored_http.retain(|t| http.contains_key(t));
        for (token, key_auth) in http {
            table.insert(token.clone(), key_auth.clone());
            mirrored_http.insert(token.clone());
        }
        drop(table);
        let mut table = write(&self.alpn);
        for gone in mirrored_alpn.iter().filter(|d| !alpn.contains_key(*d)) {
            table.remove(gone);
        }
        mirrored_alpn.retain(|d| alpn.contains_key(d));
        for (domain, key_auth) in alpn {
            if mirrored_alpn.contains(domain) && table.contains_key(domain) {
                continue;
            }
            match alpn_certificate(domain, key_auth) {
                Ok(c) => {
                    table.insert(domain.clone(), c);
                    mirrored_alpn.insert(domain.clone());
                }
                Err(e) => tracing::warn!(domain = %domain, "shared TLS-ALPN-01 challenge: {e}"),
            }
        }
    }
}

/// Which challenge a resolver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    Http01,
    TlsAlpn01,
    Dns01,
}

impl ChallengeKind {
    /// The challenge `type` as the CA names it in an authorization.
    pub(super) fn name(self) -> &'static str {
        match self {
            ChallengeKind::Http01 => "http-01",
            ChallengeKind::TlsAlpn01 => "tls-alpn-01",
            ChallengeKind::Dns01 => "dns-01",
        }
    }
}

/// The self-signed certificate that proves control of `domain` for
/// TLS-ALPN-01 (RFC 8737): the domain as its only name and the SHA-256 of
/// the key authorization in the critical acmeIdentifier extension.
fn alpn_certificate(
    domain: &str,
    key_auth: &str,
) -> Result<Arc<rustls::sign::CertifiedKey>, String> {
    let digest = sha2::Sha256::digest(key_auth.as_bytes());
    let mut params = rcgen::CertificateParams::new(vec![domain.to_string()])
        .map_err(|e| format!("TLS-ALPN certificate: {e}"))?;
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(&digest));
    let key = rcgen::KeyPair::generate().map_err(|e| format!("TLS-ALPN certificate: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("TLS-ALPN certificate: {e}"))?;
    let signing = rustls::crypto::aws_lc_rs::default_provider()
        .key_provider
        .load_private_key(rustls::pki_types::PrivateKeyDer::Pkcs8(
            key.serialize_der().into(),
        ))
        .map_err(|e| format!("TLS-ALPN certificate: {e}"))?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

fn write<T>(c: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    c.write().unwrap_or_else(|p| p.into_inner())
}

/// Challenge answers published for one order, withdrawn when it ends.
pub(super) struct Pending {
    table: Challenges,
    tokens: Vec<String>,
    domains: Vec<String>,
}

impl Pending {
    pub(super) fn new(table: &Challenges) -> Pending {
        Pending {
            table: table.clone(),
            tokens: Vec::new(),
            domains: Vec::new(),
        }
    }

    /// Answers HTTP-01 validations of `token` with `key_auth`.
    pub(super) fn answer_http(&mut self, token: String, key_auth: String) {
        write(&self.table.http).insert(token.clone(), key_auth);
        self.tokens.push(token);
    }

    /// Answers TLS-ALPN-01 validations of `domain` (lower-case) with a
    /// certificate for `key_auth`.
    pub(super) fn answer_alpn(&mut self, domain: String, key_auth: &str) -> Result<(), String> {
        let certificate = alpn_certificate(&domain, key_auth)?;
        write(&self.table.alpn).insert(domain.clone(), certificate);
        self.domains.push(domain);
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut http = write(&self.table.http);
        for t in &self.tokens {
            http.remove(t);
        }
        drop(http);
        let mut alpn = write(&self.table.alpn);
        for d in &self.domains {
            alpn.remove(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_published_for_the_order_and_withdrawn_when_it_ends() {
        let table = Challenges::default();
        let mut pending = Pending::new(&table);
        pending.answer_http("tok".into(), "tok.thumb".into());
        pending
            .answer_alpn("a.test".into(), "tok2.thumb")
            .expect("TLS-ALPN certificate");
        assert_eq!(table.http_answer("tok").as_deref(), Some("tok.thumb"));
        assert_eq!(table.http_answer("other"), None);
        let config = table.alpn_config("A.Test").expect("a pending TLS-ALPN-01");
        assert_eq!(config.alpn_protocols, [b"acme-tls/1".to_vec()]);
        assert!(table.alpn_config("b.test").is_none());

        // RFC 8737: the domain as the only name, and the SHA-256 of the
        // key authorization in the critical acmeIdentifier extension.
        let ck = table.alpn.read().unwrap()["a.test"].clone();
        let (_, cert) = x509_parser::parse_x509_certificate(ck.cert[0].as_ref()).unwrap();
        let names: Vec<String> = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, ["DNSName(a.test)"]);
        let id = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier extension");
        assert!(id.critical);
        let digest = sha2::Sha256::digest(b"tok2.thumb");
        // DER OCTET STRING of the 32-byte digest.
        assert_eq!(id.value, [&[0x04, 0x20][..], digest.as_slice()].concat());

        drop(pending);
        assert_eq!(table.http_answer("tok"), None);
        assert!(table.alpn_config("a.test").is_none());
    }

    #[test]
    fn mirrored_answers_follow_the_shared_store() {
        let table = Challenges::default();
        let mut own = Pending::new(&table);
        own.answer_http("mine".into(), "mine.thumb".into());
        let (mut http_seen, mut alpn_seen) = (HashSet::new(), HashSet::new());
        let map = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        table.mirror(
            &map(&[("t1", "t1.x"), ("t2", "t2.x")]),
            &map(&[("a.test", "k.x")]),
            &mut http_seen,
            &mut alpn_seen,
        );
        assert_eq!(table.http_answer("t1").as_deref(), Some("t1.x"));
        assert_eq!(table.http_answer("t2").as_deref(), Some("t2.x"));
        assert!(table.alpn_config("a.test").is_some());
        // t1 and a.test withdrawn by their instance, t3 new.
        table.mirror(
            &map(&[("t2", "t2.x"), ("t3", "t3.x")]),
            &map(&[]),
            &mut http_seen,
            &mut alpn_seen,
        );
        assert_eq!(table.http_answer("t1"), None);
        assert_eq!(table.http_answer("t3").as_deref(), Some("t3.x"));
        assert!(table.alpn_config("a.test").is_none());
        // This instance's own answer is not the mirror's to withdraw.
        assert_eq!(table.http_answer("mine").as_deref(), Some("mine.thumb"));
        drop(own);
        assert_eq!(table.http_answer("mine"), None);
    }

    #[test]
    fn challenge_types_as_the_ca_names_them() {
        for (kind, name) in [
            (ChallengeKind::Http01, "http-01"),
            (ChallengeKind::TlsAlpn01, "tls-alpn-01"),
            (ChallengeKind::Dns01, "dns-01"),
        ] {
            assert_eq!(kind.name(), name);
        }
    }
}
