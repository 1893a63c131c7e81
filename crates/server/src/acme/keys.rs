//! Keys: the account key that signs every request to the CA (RSA, PKCS#1,
//! as Traefik makes and stores it, so either reads the other's account; or
//! ECDSA P-256 as earlier Switchyard versions made), and each certificate's
//! new key with the CSR that asks for it, in Traefik's `keyType`s.

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::Digest;

use super::b64u;

/// An account key: RSA (RS256) as Traefik makes them, kept as PKCS#1 DER
/// so Traefik reads the account back; ECDSA P-256 (ES256, PKCS#8) as
/// earlier Switchyard versions made them.
pub(super) struct AccountKey {
    pair: AccountPair,
    /// The DER `acme.json` holds (base64) as `PrivateKey`.
    pub(super) der: Vec<u8>,
    rng: SystemRandom,
}

enum AccountPair {
    Rsa(ring::rsa::KeyPair),
    Ec(EcdsaKeyPair),
}

/// The size of new account keys (Traefik makes 4096-bit ones; any size
/// reads back the same way, and 2048 bits is what CAs accept and quick to
/// make).
const ACCOUNT_KEY_BITS: usize = 2048;

impl AccountKey {
    /// A new RSA key (seconds of work: call off the async threads).
    pub(super) fn generate() -> Result<AccountKey, String> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let mut rng = rsa::rand_core::OsRng;
        let key = rsa::RsaPrivateKey::new(&mut rng, ACCOUNT_KEY_BITS)
            .map_err(|e| format!("account key: {e}"))?;
        let der = key
            .to_pkcs1_der()
            .map_err(|e| format!("account key: {e}"))?;
        AccountKey::from_der(der.as_bytes())
    }

    /// A stored key: PKCS#1 RSA (Traefik's), or PKCS#8 ECDSA P-256.
    pub(super) fn from_der(der: &[u8]) -> Result<AccountKey, String> {
        let rng = SystemRandom::new();
        let pair = match ring::rsa::KeyPair::from_der(der) {
            Ok(rsa) => AccountPair::Rsa(rsa),
            Err(rsa_error) => AccountPair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).map_err(
                    |e| {
                        format!(
                            "account key: neither PKCS#1 RSA ({rsa_error}) nor PKCS#8 P-256 ({e})"
                        )
                    },
                )?,
            ),
        };
        Ok(AccountKey {
            pair,
            der: der.to_vec(),
            rng,
        })
    }

    /// The JWS `alg` this key signs with.
    pub(super) fn alg(&self) -> &'static str {
        match self.pair {
            AccountPair::Rsa(_) => "RS256",
            AccountPair::Ec(_) => "ES256",
        }
    }

    /// The public key as a JWK, with exactly the members RFC 7638 hashes
    /// (serde_json keeps them sorted, as the thumbprint needs).
    pub(super) fn jwk(&self) -> Value {
        match &self.pair {
            AccountPair::Rsa(rsa) => {
                let public: ring::rsa::PublicKeyComponents<Vec<u8>> = rsa.public().into();
                let minimal = |b: &[u8]| -> String {
                    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
                    b64u(&b[start..])
                };
                json!({
                    "e": minimal(&public.e),
                    "kty": "RSA",
                    "n": minimal(&public.n),
                })
            }
            AccountPair::Ec(ec) => {
                let point = ec.public_key().as_ref();
                json!({
                    "crv": "P-256",
                    "kty": "EC",
                    "x": b64u(&point[1..33]),
                    "y": b64u(&point[33..65]),
                })
            }
        }
    }

    /// RFC 7638 thumbprint: SHA-256 of the JWK's required members, sorted,
    /// without whitespace.
    pub(super) fn thumbprint(&self) -> String {
        b64u(&sha2::Sha256::digest(self.jwk().to_string().as_bytes()))
    }

    /// A flattened JWS of `payload` (empty for POST-as-GET) under the
    /// `protected` header.
    pub(super) fn sign(&self, protected: &Value, payload: Option<&Value>) -> Result<Value, String> {
        let protected = b64u(protected.to_string().as_bytes());
        let payload = payload.map_or(String::new(), |p| b64u(p.to_string().as_bytes()));
        let signing_input = format!("{protected}.{payload}");
        let sig = match &self.pair {
            AccountPair::Rsa(rsa) => {
                let mut sig = vec![0; rsa.public().modulus_len()];
                rsa.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    signing_input.as_bytes(),
                    &mut sig,
                )
                .map_err(|e| format!("signing: {e}"))?;
                sig
            }
            AccountPair::Ec(ec) => ec
                .sign(&self.rng, signing_input.as_bytes())
                .map_err(|e| format!("signing: {e}"))?
                .as_ref()
                .to_vec(),
        };
        Ok(json!({"protected": protected, "payload": payload, "signature": b64u(&sig)}))
    }
}

/// A new RSA key of `bits`, as a key pair rcgen can sign a CSR with.
fn rsa_key(bits: usize) -> Result<rcgen::KeyPair, String> {
    use rsa::pkcs8::EncodePrivateKey;
    let mut rng = rsa::rand_core::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, bits).map_err(|e| format!("RSA key: {e}"))?;
    let der = key.to_pkcs8_der().map_err(|e| format!("RSA key: {e}"))?;
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_bytes().to_vec()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(|e| format!("RSA key: {e}"))
}

/// A CSR for `domains` and its new key's PEM; `key_type` is Traefik's
/// (EC256, EC384, RSA2048, RSA4096, RSA8192). RSA keys take seconds to
/// make: call off the async threads.
/// What a certificate request carries besides its domains (the resolver's
/// `disableCommonName` and `emailAddresses`).
#[derive(Debug, Clone, Default)]
pub(super) struct CsrOptions {
    /// Leave the subject's common name out (else it is the main domain).
    pub(super) no_common_name: bool,
    /// E-mail addresses added as subject alternative names.
    pub(super) emails: Vec<String>,
}

pub(super) fn csr(
    domains: &[String],
    key_type: &str,
    options: &CsrOptions,
) -> Result<(Vec<u8>, String), String> {
    let key = match key_type {
        "EC256" => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        "EC384" => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        "RSA2048" => return csr_with(domains, rsa_key(2048)?, options),
        "RSA4096" => return csr_with(domains, rsa_key(4096)?, options),
        "RSA8192" => return csr_with(domains, rsa_key(8192)?, options),
        other => {
            return Err(format!(
                "keyType {other}: expected EC256, EC384, RSA2048, RSA4096 or RSA8192"
            ))
        }
    }
    .map_err(|e| format!("certificate key: {e}"))?;
    csr_with(domains, key, options)
}

fn csr_with(
    domains: &[String],
    key: rcgen::KeyPair,
    options: &CsrOptions,
) -> Result<(Vec<u8>, String), String> {
    let mut params =
        rcgen::CertificateParams::new(domains.to_vec()).map_err(|e| format!("CSR: {e}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(main) = domains.first().filter(|_| !options.no_common_name) {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, main.clone());
    }
    for email in &options.emails {
        let name = rcgen::string::Ia5String::try_from(email.as_str())
            .map_err(|e| format!("emailAddresses: {email:?}: {e}"))?;
        params
            .subject_alt_names
            .push(rcgen::SanType::Rfc822Name(name));
    }
    let req = params
        .serialize_request(&key)
        .map_err(|e| format!("CSR: {e}"))?;
    Ok((req.der().to_vec(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn verify(
        key: &AccountKey,
        alg: &'static dyn ring::signature::VerificationAlgorithm,
        public: &[u8],
    ) {
        let body = key
            .sign(
                &json!({"alg": key.alg(), "url": "https://ca/x"}),
                Some(&json!({"a": 1})),
            )
            .unwrap();
        let input = format!(
            "{}.{}",
            body["protected"].as_str().unwrap(),
            body["payload"].as_str().unwrap()
        );
        let sig = URL_SAFE_NO_PAD
            .decode(body["signature"].as_str().unwrap())
            .unwrap();
        ring::signature::UnparsedPublicKey::new(alg, public)
            .verify(input.as_bytes(), &sig)
            .unwrap();
        assert_eq!(key.thumbprint().len(), 43);
        let again = AccountKey::from_der(&key.der).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
    }

    #[test]
    fn rsa_accounts_as_traefik_keeps_them_and_ec_ones_sign_verifiably() {
        // New keys are RSA, stored as PKCS#1 (what Traefik parses).
        let key = AccountKey::generate().unwrap();
        assert_eq!(key.alg(), "RS256");
        {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            rsa::RsaPrivateKey::from_pkcs1_der(&key.der).expect("PKCS#1 DER");
        }
        let AccountPair::Rsa(pair) = &key.pair else {
            panic!("not RSA")
        };
        let public = pair.public().as_ref().to_vec();
        verify(&key, &ring::signature::RSA_PKCS1_2048_8192_SHA256, &public);
        assert_eq!(key.jwk()["kty"], "RSA");
        assert_eq!(key.jwk()["e"], "AQAB");
        // The thumbprint hashes exactly {"e","kty","n"} in that order.
        let canonical = format!(
            r#"{{"e":"AQAB","kty":"RSA","n":"{}"}}"#,
            key.jwk()["n"].as_str().unwrap()
        );
        assert_eq!(
            key.thumbprint(),
            b64u(&sha2::Sha256::digest(canonical.as_bytes()))
        );

        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = AccountKey::from_der(pkcs8.as_ref()).unwrap();
        assert_eq!(key.alg(), "ES256");
        let AccountPair::Ec(pair) = &key.pair else {
            panic!("not EC")
        };
        let public = pair.public_key().as_ref().to_vec();
        verify(&key, &ring::signature::ECDSA_P256_SHA256_FIXED, &public);
        assert!(AccountKey::from_der(b"garbage").is_err());
    }

    #[test]
    fn csr_options_common_name_and_emails() {
        use x509_parser::prelude::FromDer;
        let domains = vec!["a.test".to_string(), "b.test".to_string()];
        // (options, common name expected, e-mails expected)
        let cases = [
            (CsrOptions::default(), Some("a.test"), vec![]),
            (
                CsrOptions {
                    no_common_name: true,
                    emails: vec![],
                },
                None,
                vec![],
            ),
            (
                CsrOptions {
                    no_common_name: false,
                    emails: vec!["ops@a.test".into(), "sec@a.test".into()],
                },
                Some("a.test"),
                vec!["ops@a.test", "sec@a.test"],
            ),
        ];
        for (options, cn, emails) in cases {
            let (der, _) = csr(&domains, "EC256", &options).unwrap();
            let (_, req) =
                x509_parser::certification_request::X509CertificationRequest::from_der(&der)
                    .unwrap();
            let info = &req.certification_request_info;
            let got_cn = info
                .subject
                .iter_common_name()
                .next()
                .and_then(|c| c.as_str().ok());
            assert_eq!(got_cn, cn, "{options:?}");
            let mut got_emails = Vec::new();
            let mut got_dns = Vec::new();
            for ext in req.requested_extensions().into_iter().flatten() {
                if let x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) = ext {
                    for name in &san.general_names {
                        match name {
                            x509_parser::extensions::GeneralName::RFC822Name(e) => {
                                got_emails.push(e.to_string())
                            }
                            x509_parser::extensions::GeneralName::DNSName(d) => {
                                got_dns.push(d.to_string())
                            }
                            _ => {}
                        }
                    }
                }
            }
            assert_eq!(got_emails, emails, "{options:?}");
            assert_eq!(got_dns, ["a.test", "b.test"], "{options:?}");
        }
        let bad = CsrOptions {
            no_common_name: false,
            emails: vec!["é@a.test".into()],
        };
        assert!(csr(&domains, "EC256", &bad).is_err());
    }

    #[test]
    fn csrs_for_every_key_type_traefik_names() {
        let domains = vec!["a.test".to_string(), "b.test".to_string()];
        for (kind, algorithm) in [
            ("EC256", "1.2.840.10045.2.1"),
            ("EC384", "1.2.840.10045.2.1"),
            ("RSA2048", "1.2.840.113549.1.1.1"),
        ] {
            let (der, key) = csr(&domains, kind, &CsrOptions::default()).unwrap();
            assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{kind}");
            use x509_parser::prelude::FromDer;
            let (_, req) =
                x509_parser::certification_request::X509CertificationRequest::from_der(&der)
                    .unwrap();
            let info = &req.certification_request_info;
            assert_eq!(
                info.subject_pki.algorithm.algorithm.to_id_string(),
                algorithm,
                "{kind}"
            );
            let cn: Vec<&str> = info
                .subject
                .iter_common_name()
                .filter_map(|c| c.as_str().ok())
                .collect();
            assert_eq!(cn, ["a.test"], "{kind}");
        }
        assert!(csr(&domains, "RSA1024", &CsrOptions::default())
            .unwrap_err()
            .contains("expected EC256"));
    }
}
