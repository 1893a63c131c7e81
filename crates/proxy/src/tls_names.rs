//! Go's names for TLS versions and cipher suites, as Traefik's
//! configuration writes them, mapped to what rustls offers. Names rustls
//! has no implementation for (TLS 1.0/1.1, CBC and RSA-key-exchange suites)
//! are errors that say so, never silently dropped. Also the names a
//! server certificate must carry for `peerCertSANs` ([`PeerSan`]), matched
//! as Go matches them.

use rustls::crypto::aws_lc_rs::cipher_suite as suites;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};

/// A TLS version by Go's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl Version {
    pub fn parse(name: &str) -> Result<Version, String> {
        match name {
            "VersionTLS10" => Ok(Version::Tls10),
            "VersionTLS11" => Ok(Version::Tls11),
            "VersionTLS12" => Ok(Version::Tls12),
            "VersionTLS13" => Ok(Version::Tls13),
            _ => Err(format!(
                "unknown TLS version {name:?} (expected VersionTLS10, VersionTLS11, VersionTLS12 or VersionTLS13)"
            )),
        }
    }
}

/// The versions between `min` and `max` (Go's names; empty: no bound) that
/// rustls speaks. A range holding neither TLS 1.2 nor 1.3 is an error.
pub fn versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let min = match min.filter(|s| !s.is_empty()) {
        Some(m) => Version::parse(m).map_err(|e| format!("minVersion: {e}"))?,
        None => Version::Tls10,
    };
    let max = match max.filter(|s| !s.is_empty()) {
        Some(m) => Version::parse(m).map_err(|e| format!("maxVersion: {e}"))?,
        None => Version::Tls13,
    };
    if min > max {
        return Err("minVersion is above maxVersion".into());
    }
    let mut out = Vec::new();
    if (min..=max).contains(&Version::Tls12) {
        out.push(&rustls::version::TLS12);
    }
    if (min..=max).contains(&Version::Tls13) {
        out.push(&rustls::version::TLS13);
    }
    if out.is_empty() {
        return Err(
            "TLS 1.0 and 1.1 are not supported (Switchyard speaks TLS 1.2 and 1.3)".to_string(),
        );
    }
    Ok(out)
}

/// The suite Go calls `name`: Some(suite) for a TLS 1.2 suite rustls has,
/// None for a TLS 1.3 suite (Go does not let them be configured; they are
/// always on), an error for anything else.
fn suite(name: &str) -> Result<Option<SupportedCipherSuite>, String> {
    Ok(Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => {
            suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        }
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => {
            suites::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        }
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"
        | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            suites::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => suites::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
            suites::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_AES_128_GCM_SHA256" | "TLS_AES_256_GCM_SHA384" | "TLS_CHACHA20_POLY1305_SHA256" => {
            return Ok(None)
        }
        "TLS_RSA_WITH_RC4_128_SHA"
        | "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
        | "TLS_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_RSA_WITH_AES_256_CBC_SHA"
        | "TLS_RSA_WITH_AES_128_CBC_SHA256"
        | "TLS_RSA_WITH_AES_128_GCM_SHA256"
        | "TLS_RSA_WITH_AES_256_GCM_SHA384"
        | "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_RC4_128_SHA"
        | "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
        | "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" => {
            return Err(format!(
                "cipher suite {name} is not offered by Switchyard's TLS library (rustls): only AEAD suites with forward secrecy are"
            ))
        }
        _ => return Err(format!("unknown cipher suite {name:?}")),
    }))
}

/// The suites to offer for Go's `cipherSuites` list: the named TLS 1.2
/// suites in the given order, plus every TLS 1.3 suite (as in Go, where the
/// list does not apply to TLS 1.3). An empty list is rustls's defaults.
pub fn cipher_suites(names: &[String]) -> Result<Option<Vec<SupportedCipherSuite>>, String> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut out: Vec<SupportedCipherSuite> = rustls::crypto::aws_lc_rs::DEFAULT_CIPHER_SUITES
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS13)
        .copied()
        .collect();
    for name in names {
        if let Some(s) = suite(name).map_err(|e| format!("cipherSuites: {e}"))? {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Ok(Some(out))
}

/// A ring crypto provider limited to `names` (Go's `cipherSuites`).
pub fn provider(names: &[String]) -> Result<rustls::crypto::CryptoProvider, String> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if let Some(suites) = cipher_suites(names)? {
        provider.cipher_suites = suites;
    }
    Ok(provider)
}

/// Where a suite stands in a server's preference, as Go (so Traefik)
/// orders them: TLS 1.3 before 1.2, AES-128-GCM, then AES-256-GCM, then
/// ChaCha20 — or ChaCha20 first for clients that prefer it (those without
/// AES hardware), ECDSA before RSA within each.
fn rank(suite: rustls::CipherSuite, chacha_first: bool) -> u8 {
    use rustls::CipherSuite as C;
    let (version, cipher, auth) = match suite {
        C::TLS13_AES_128_GCM_SHA256 => (0, 0, 0),
        C::TLS13_AES_256_GCM_SHA384 => (0, 1, 0),
        C::TLS13_CHACHA20_POLY1305_SHA256 => (0, 2, 0),
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => (1, 0, 0),
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => (1, 0, 1),
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => (1, 1, 0),
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => (1, 1, 1),
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => (1, 2, 0),
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => (1, 2, 1),
        _ => (2, 0, 0),
    };
    let cipher = match (chacha_first, cipher) {
        (true, 2) => 0,
        (true, c) => c + 1,
        (false, c) => c,
    };
    version * 8 + cipher * 2 + auth
}

/// Orders `suites` as a server choosing by its own preference should.
pub fn server_order(suites: &mut [rustls::SupportedCipherSuite], chacha_first: bool) {
    suites.sort_by_key(|s| rank(s.suite(), chacha_first));
}

/// Whether a client's first AEAD suite it offers (of those Go knows) is
/// ChaCha20 — Go serves such clients ChaCha20 first.
pub fn prefers_chacha(client_suites: &[rustls::CipherSuite]) -> bool {
    client_suites
        .iter()
        .find(|s| rank(**s, false) < 16)
        .is_some_and(|s| {
            matches!(
                s,
                rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
                    | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                    | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            )
        })
}

/// One name of `peerCertSANs` (or `peerCertURI`, a URI): a server
/// certificate carrying it passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSan {
    /// `type: DNSName`: a host name (wildcards of the certificate apply) or
    /// an IP address, matched as Go's `VerifyHostname` matches it.
    DnsName(String),
    /// `type: URI`: equal to one of the certificate's URI names, ignoring
    /// case (as Traefik compares them).
    Uri(String),
}

impl PeerSan {
    /// The entry a `type` and `value` describe; the type is spelled as
    /// Traefik spells it (Traefik's comparison is exact, so any other
    /// spelling would match nothing there).
    pub fn parse(kind: &str, value: &str) -> Result<PeerSan, String> {
        if value.is_empty() {
            return Err("the value is empty".into());
        }
        match kind {
            "DNSName" => Ok(PeerSan::DnsName(value.to_string())),
            "URI" => Ok(PeerSan::Uri(value.to_string())),
            _ => Err(format!("unknown type {kind:?} (expected DNSName or URI)")),
        }
    }

    /// Whether the certificate `der` carries this name.
    pub fn matches(&self, der: &[u8]) -> bool {
        use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
        let Ok((_, parsed)) = X509Certificate::from_der(der) else {
            return false;
        };
        let names = parsed
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| san.value.general_names.clone())
            .unwrap_or_default();
        match self {
            PeerSan::Uri(want) => names
                .iter()
                .any(|n| matches!(n, GeneralName::URI(u) if u.eq_ignore_ascii_case(want))),
            PeerSan::DnsName(want) => {
                let host = want.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
                let host = host.unwrap_or(want).trim_end_matches('.');
                match rustls::pki_types::ServerName::try_from(host) {
                    Ok(name) => webpki::EndEntityCert::try_from(
                        &rustls::pki_types::CertificateDer::from(der),
                    )
                    .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&name).is_ok()),
                    // Not a valid host name: Go compares it to the
                    // certificate's names as they are.
                    Err(_) => names.iter().any(|n| {
                        matches!(n, GeneralName::DNSName(d) if d.trim_end_matches('.').eq_ignore_ascii_case(host))
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_san_parsing() {
        let cases: &[(&str, &str, Result<PeerSan, &str>)] = &[
            ("DNSName", "a.test", Ok(PeerSan::DnsName("a.test".into()))),
            (
                "URI",
                "spiffe://a/b",
                Ok(PeerSan::Uri("spiffe://a/b".into())),
            ),
            ("dnsname", "a.test", Err("unknown type")),
            ("IP", "127.0.0.1", Err("unknown type")),
            ("", "a.test", Err("unknown type")),
            ("URI", "", Err("empty")),
        ];
        for (kind, value, want) in cases {
            match (PeerSan::parse(kind, value), want) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{kind} {value}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{kind} {value}: {got}"),
                (got, _) => panic!("{kind} {value}: {got:?}"),
            }
        }
    }

    /// Against a certificate for `backend.test`, `*.wild.test`,
    /// `127.0.0.1` and `spiffe://switchyard.test/backend`.
    #[test]
    fn peer_san_matching() {
        let mut params = rcgen::CertificateParams::new(vec![
            "backend.test".to_string(),
            "*.wild.test".to_string(),
        ])
        .expect("names");
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("127.0.0.1".parse().expect("ip")));
        params.subject_alt_names.push(rcgen::SanType::URI(
            "spiffe://switchyard.test/backend".try_into().expect("uri"),
        ));
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("certificate");
        let der = cert.der().to_vec();
        let dns = |v: &str| PeerSan::DnsName(v.into());
        let uri = |v: &str| PeerSan::Uri(v.into());
        let cases = [
            (dns("backend.test"), true),
            (dns("BACKEND.test."), true),
            (dns("x.wild.test"), true),
            (dns("wild.test"), false),
            (dns("a.b.wild.test"), false),
            (dns("other.test"), false),
            (dns("127.0.0.1"), true),
            (dns("[127.0.0.1]"), true),
            (dns("127.0.0.2"), false),
            (uri("spiffe://switchyard.test/backend"), true),
            (uri("SPIFFE://switchyard.test/BACKEND"), true),
            (uri("spiffe://switchyard.test/other"), false),
            // A DNS name is not a URI and the reverse.
            (uri("backend.test"), false),
            (dns("spiffe://switchyard.test/backend"), false),
        ];
        for (san, want) in cases {
            assert_eq!(san.matches(&der), want, "{san:?}");
        }
    }

    #[test]
    fn version_ranges() {
        let v = |min: Option<&str>, max: Option<&str>| {
            versions(min, max).map(|v| v.iter().map(|x| x.version).collect::<Vec<_>>())
        };
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        assert_eq!(v(None, None), Ok(vec![TLSv1_2, TLSv1_3]));
        assert_eq!(v(Some("VersionTLS13"), None), Ok(vec![TLSv1_3]));
        assert_eq!(v(None, Some("VersionTLS12")), Ok(vec![TLSv1_2]));
        assert_eq!(v(Some("VersionTLS10"), None), Ok(vec![TLSv1_2, TLSv1_3]));
        assert_eq!(v(Some(""), Some("")), Ok(vec![TLSv1_2, TLSv1_3]));
        assert!(v(None, Some("VersionTLS11"))
            .unwrap_err()
            .contains("not supported"));
        assert!(v(Some("VersionTLS13"), Some("VersionTLS12"))
            .unwrap_err()
            .contains("above"));
        assert!(v(Some("TLS1.2"), None)
            .unwrap_err()
            .starts_with("minVersion"));
    }

    #[test]
    fn suite_names() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = cipher_suites(&names(&[
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_AES_128_GCM_SHA256",
        ]))
        .unwrap()
        .unwrap();
        let tls12: Vec<_> = got
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .map(|s| s.suite())
            .collect();
        assert_eq!(
            tls12,
            [rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
        );
        assert_eq!(
            got.iter()
                .filter(|s| s.version() == &rustls::version::TLS13)
                .count(),
            3
        );
        assert_eq!(cipher_suites(&[]).unwrap(), None);
        assert!(cipher_suites(&names(&["TLS_RSA_WITH_AES_128_CBC_SHA"]))
            .unwrap_err()
            .contains("not offered"));
        assert!(cipher_suites(&names(&["NOPE"]))
            .unwrap_err()
            .contains("unknown"));
        for ok in [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_AES_256_GCM_SHA384",
        ] {
            assert!(cipher_suites(&names(&[ok])).is_ok(), "{ok}");
        }
    }

    #[test]
    fn server_preference_as_go() {
        use rustls::CipherSuite as C;
        let mut all = rustls::crypto::aws_lc_rs::default_provider().cipher_suites;
        let order =
            |v: &[rustls::SupportedCipherSuite]| v.iter().map(|s| s.suite()).collect::<Vec<_>>();
        server_order(&mut all, false);
        assert_eq!(
            order(&all),
            [
                C::TLS13_AES_128_GCM_SHA256,
                C::TLS13_AES_256_GCM_SHA384,
                C::TLS13_CHACHA20_POLY1305_SHA256,
                C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ]
        );
        server_order(&mut all, true);
        assert_eq!(
            order(&all),
            [
                C::TLS13_CHACHA20_POLY1305_SHA256,
                C::TLS13_AES_128_GCM_SHA256,
                C::TLS13_AES_256_GCM_SHA384,
                C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            ]
        );
        let cases: [(&[C], bool); 6] = [
            (
                &[
                    C::TLS13_AES_256_GCM_SHA384,
                    C::TLS13_CHACHA20_POLY1305_SHA256,
                ],
                false,
            ),
            (
                &[
                    C::TLS13_CHACHA20_POLY1305_SHA256,
                    C::TLS13_AES_128_GCM_SHA256,
                ],
                true,
            ),
            (
                &[
                    C::TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
                    C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                ],
                true,
            ),
            (
                &[C::TLS_RSA_WITH_AES_128_CBC_SHA, C::TLS13_AES_128_GCM_SHA256],
                false,
            ),
            (&[C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256], false),
            (&[], false),
        ];
        for (client, want) in cases {
            assert_eq!(prefers_chacha(client), want, "{client:?}");
        }
    }
}
