//! TLS termination: the certificate store (chosen by SNI: exact name, then
//! wildcard, then the store's default), the server configurations built
//! from `tls.options`, and which options a handshake gets (by the SNI, from
//! the `Host` values of the routers that name the options).
//!
//! A built [`TlsRuntime`] belongs to one runtime generation; handshakes
//! started after a reload use the new one, established connections keep
//! theirs.
//!
//! [`stream`] is the transport of accepted connections: plain or TLS by
//! their first bytes, and rustls's server connection over the socket.
//! Certificate loading and TLS names live in `switchyard_proxy` (`certs`,
//! `tls_names`), which the upstream client shares.

pub(crate) mod stream;
mod ticketer;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use switchyard_config::tls::{TlsConfiguration, TlsOptions};
use switchyard_proxy::{certs, tls_names};

/// The certificate a store serves when nothing else matches and no default
/// is configured: self-signed, made once per process.
pub fn generated_default() -> Result<Arc<CertifiedKey>, String> {
    let mut params = rcgen::CertificateParams::new(vec!["switchyard.default".to_string()])
        .map_err(|e| format!("default certificate: {e}"))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "SWITCHYARD DEFAULT CERT");
    let key = rcgen::KeyPair::generate().map_err(|e| format!("default certificate: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("default certificate: {e}"))?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(rustls::pki_types::PrivateKeyDer::Pkcs8(
            key.serialize_der().into(),
        ))
        .map_err(|e| format!("default certificate: {e}"))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

/// Certificates by the names they answer for.
#[derive(Debug, Default)]
pub struct CertStore {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` certificates by `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
    /// Whether `default` is the generated certificate (not listed).
    default_generated: bool,
    /// The certificates added, one per set of names (the first added for
    /// a set keeps it, as Traefik keeps the first per set), in order.
    listed: Vec<Arc<CertifiedKey>>,
    listed_names: std::collections::HashSet<String>,
}

impl CertStore {
    /// Adds a certificate under every name it holds; the first certificate
    /// for a name keeps it.
    pub fn add(&mut self, ck: Arc<CertifiedKey>) {
        let Some(leaf) = ck.cert.first() else { return };
        let names = certs::names(leaf);
        if self.listed_names.insert(names.join(",")) {
            self.listed.push(ck.clone());
        }
        for name in names {
            match name.strip_prefix("*.") {
                Some(parent) => {
                    self.wildcard
                        .entry(parent.to_string())
                        .or_insert_with(|| ck.clone());
                }
                None => {
                    self.exact.entry(name).or_insert_with(|| ck.clone());
                }
            }
        }
    }

    /// The certificate for `sni`: an exact name, then a wildcard one level
    /// up; None when neither matches.
    pub fn matching(&self, sni: &str) -> Option<Arc<CertifiedKey>> {
        let sni = sni.trim_end_matches('.').to_ascii_lowercase();
        if let Some(ck) = self.exact.get(&sni) {
            return Some(ck.clone());
        }
        let (_, parent) = sni.split_once('.')?;
        self.wildcard.get(parent).cloned()
    }

    pub fn default_cert(&self) -> Option<Arc<CertifiedKey>> {
        self.default.clone()
    }

    /// Every certificate stored under a name, once (the default one
    /// aside, as Traefik's list of server certificates).
    pub fn certificates(&self) -> Vec<Arc<CertifiedKey>> {
        let mut out: Vec<Arc<CertifiedKey>> = Vec::new();
        for ck in self.exact.values().chain(self.wildcard.values()) {
            if !out.iter().any(|o| Arc::ptr_eq(o, ck)) {
                out.push(ck.clone());
            }
        }
        out
    }

    /// The leaf certificates the API lists, as Traefik lists its default
    /// store's: every certificate added (one per set of names), then the
    /// default certificate unless it is the generated one. A certificate
    /// may appear twice (added, and as the default).
    pub fn listed(&self) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        let default = self.default.as_ref().filter(|_| !self.default_generated);
        self.listed
            .iter()
            .chain(default)
            .filter_map(|ck| ck.cert.first().cloned())
            .collect()
    }
}

/// Serves from a store; with `strict`, a handshake whose SNI matches no
/// certificate (or that has none) fails instead of getting the default.
#[derive(Debug)]
struct StoreResolver {
    store: Arc<CertStore>,
    strict: bool,
}

impl ResolvesServerCert for StoreResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(ck) = hello.server_name().and_then(|sni| self.store.matching(sni)) {
            return Some(ck);
        }
        if self.strict {
            return None;
        }
        self.store.default_cert()
    }
}

/// One `tls.options` entry as server configurations: suites in Go's
/// preference order (AES-GCM first), and ChaCha20 first for clients that
/// prefer it. Both share session tickets and the session cache.
#[derive(Debug, Clone)]
pub struct Variants {
    pub aes: Arc<ServerConfig>,
    pub chacha: Arc<ServerConfig>,
}

impl Variants {
    fn build(o: &TlsOptions, store: &Arc<CertStore>) -> Result<Variants, String> {
        let aes = server_config(o, store, false)?;
        let mut chacha = server_config(o, store, true)?;
        chacha.ticketer = aes.ticketer.clone();
        chacha.session_storage = aes.session_storage.clone();
        Ok(Variants {
            aes: Arc::new(aes),
            chacha: Arc::new(chacha),
        })
    }
}

/// Everything a TLS entrypoint needs for one runtime generation (the
/// default value, before any configuration, refuses every handshake).
#[derive(Default)]
pub struct TlsRuntime {
    configs: HashMap<String, Variants>,
    /// SNI (lower-case) → options name, from the routers.
    by_host: HashMap<String, String>,
    /// Options (by name) whose handshakes HTTP/3 can take.
    quic_ok: std::collections::HashSet<String>,
    pub store: Arc<CertStore>,
}

impl std::fmt::Debug for TlsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsRuntime")
            .field("options", &self.configs.keys().collect::<Vec<_>>())
            .field("by_host", &self.by_host)
            .finish()
    }
}

impl TlsRuntime {
    /// The name of the options a handshake with `sni` gets: those of the
    /// routers for that name (exact, then a wildcard one level up), else
    /// `default`.
    fn option_for(&self, sni: Option<&str>) -> &str {
        let Some(sni) = sni else {
            return "default";
        };
        let sni = sni.trim_end_matches('.').to_ascii_lowercase();
        let found = self.by_host.get(&sni).or_else(|| {
            sni.split_once('.')
                .and_then(|(_, parent)| self.by_host.get(&format!("*.{parent}")))
        });
        found.map_or("default", String::as_str)
    }

    /// The server configuration a handshake with `sni` gets; None (the
    /// handshake is refused, as Traefik does) when the routers for that
    /// name want options that do not exist or do not build.
    /// `chacha` for clients that prefer ChaCha20 (see
    /// [`switchyard_proxy::tls_names::prefers_chacha`]).
    pub fn config_for(&self, sni: Option<&str>, chacha: bool) -> Option<Arc<ServerConfig>> {
        let v = self.configs.get(self.option_for(sni))?;
        Some(if chacha {
            v.chacha.clone()
        } else {
            v.aes.clone()
        })
    }

    /// The server configuration of the TLS options `name` (a TCP router
    /// that ends TLS names its options itself); None when they do not
    /// exist or do not build.
    pub fn config_named(&self, name: &str) -> Option<Arc<ServerConfig>> {
        self.configs.get(name).map(|v| v.aes.clone())
    }

    pub fn has_option(&self, name: &str) -> bool {
        self.configs.contains_key(name)
    }

    /// The certificate for a QUIC handshake: as [`Self::config_for`]
    /// would choose it, but None (refused; the client falls back to TCP)
    /// when that name's options cannot be honoured over HTTP/3 — they ask
    /// for client certificates or exclude TLS 1.3.
    pub fn quic_certificate(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = self.option_for(hello.server_name());
        if !self.quic_ok.contains(name) {
            return None;
        }
        self.configs.get(name)?.aes.cert_resolver.resolve(hello)
    }

    /// Whether a connection for `sni` may be offered HTTP/3 (`Alt-Svc`).
    pub fn quic_allowed(&self, sni: Option<&str>) -> bool {
        self.quic_ok.contains(self.option_for(sni))
    }
}

/// Whether options can be served over QUIC: TLS 1.3 allowed, and no client
/// certificate asked for (a QUIC handshake cannot take per-name client
/// authentication here).
fn quic_compatible(o: &TlsOptions) -> bool {
    let no_client_auth = matches!(o.client_auth.client_auth_type.as_str(), "" | "NoClientCert");
    let tls13 = o.max_version.is_empty() || o.max_version == "VersionTLS13";
    no_client_auth && tls13
}

/// Go's curve names to rustls key-exchange groups.
fn kx_groups(
    names: &[String],
    all: &[&'static dyn rustls::crypto::SupportedKxGroup],
) -> Result<Vec<&'static dyn rustls::crypto::SupportedKxGroup>, String> {
    use rustls::NamedGroup;
    names
        .iter()
        .map(|n| {
            let want = match n.as_str() {
                "CurveP256" | "secp256r1" | "P256" => NamedGroup::secp256r1,
                "CurveP384" | "secp384r1" | "P384" => NamedGroup::secp384r1,
                "X25519" | "x25519" => NamedGroup::X25519,
                "X25519MLKEM768" | "x25519mlkem768" => NamedGroup::X25519MLKEM768,
                "CurveP521" | "secp521r1" | "P521" => {
                    return Err(format!(
                        "curvePreferences: {n} is not offered by Switchyard's TLS library (rustls)"
                    ))
                }
                _ => return Err(format!("curvePreferences: unknown curve {n:?}")),
            };
            all.iter()
                .find(|g| g.name() == want)
                .copied()
                .ok_or_else(|| format!("curvePreferences: {n} is not available"))
        })
        .collect()
}

/// Accepts any client certificate (for `RequestClientCert` and
/// `RequireAnyClientCert`, which do not verify it); signatures are still
/// checked.
#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<CryptoProvider>,
    required: bool,
}

impl rustls::server::danger::ClientCertVerifier for AnyClientCert {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn client_auth_mandatory(&self) -> bool {
        self.required
    }

    fn verify_client_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// One `tls.options` entry as a server configuration over `store`.
pub fn server_config(
    o: &TlsOptions,
    store: &Arc<CertStore>,
    chacha_first: bool,
) -> Result<ServerConfig, String> {
    let mut provider = tls_names::provider(&o.cipher_suites)?;
    tls_names::server_order(&mut provider.cipher_suites, chacha_first);
    if !o.curve_preferences.is_empty() {
        provider.kx_groups = kx_groups(&o.curve_preferences, &provider.kx_groups)?;
    }
    let provider = Arc::new(provider);
    let min = (!o.min_version.is_empty()).then_some(o.min_version.as_str());
    let max = (!o.max_version.is_empty()).then_some(o.max_version.as_str());
    let versions = tls_names::versions(min.or(Some("VersionTLS12")), max)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let kind = o.client_auth.client_auth_type.as_str();
    let roots = || -> Result<Arc<rustls::RootCertStore>, String> {
        let mut roots = rustls::RootCertStore::empty();
        for f in &o.client_auth.ca_files {
            for c in certs::load_chain(f).map_err(|e| format!("clientAuth.caFiles: {e}"))? {
                roots
                    .add(c)
                    .map_err(|e| format!("clientAuth.caFiles: {e}"))?;
            }
        }
        if roots.is_empty() {
            return Err(format!("clientAuth: {kind} needs caFiles"));
        }
        Ok(Arc::new(roots))
    };
    let builder = match kind {
        "" | "NoClientCert" => builder.with_no_client_auth(),
        "RequestClientCert" | "RequireAnyClientCert" => builder.with_client_cert_verifier(
            Arc::new(AnyClientCert {
                provider: provider.clone(),
                required: kind == "RequireAnyClientCert",
            }),
        ),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let mut v = WebPkiClientVerifier::builder_with_provider(roots()?, provider.clone());
            if kind == "VerifyClientCertIfGiven" {
                v = v.allow_unauthenticated();
            }
            builder.with_client_cert_verifier(v.build().map_err(|e| format!("clientAuth: {e}"))?)
        }
        other => {
            return Err(format!(
                "unknown client auth type {other:?} (NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"
            ))
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(StoreResolver {
        store: store.clone(),
        strict: o.sni_strict,
    }));
    // Only protocols this server speaks; `acme-tls/1` is answered by the
    // ACME resolver when one exists.
    config.alpn_protocols = o
        .alpn_protocols
        .iter()
        .filter(|p| matches!(p.as_str(), "h2" | "http/1.1"))
        .map(|p| p.as_bytes().to_vec())
        .collect();
    // The server's preference decides, as Go's does (the client's would
    // often pick AES-256 with its costlier SHA-384).
    config.ignore_client_order = true;
    if o.disable_session_tickets {
        config.send_tls13_tickets = 0;
    } else {
        // One ticket per handshake, as Go sends.
        config.send_tls13_tickets = 1;
        config.ticketer = ticketer::LazyTicketer::shared();
    }
    Ok(config)
}

/// The outcome of building the TLS runtime: it, and errors by element.
pub struct Built {
    pub runtime: Arc<TlsRuntime>,
    /// Errors of `tls.options.<name>` (the name is left out of the
    /// runtime) and of certificates.
    pub option_errors: BTreeMap<String, String>,
    pub certificate_errors: Vec<String>,
}

/// Builds the store and configurations from the merged `tls` section;
/// `by_host` maps router domains to qualified option names.
/// Certificates that loaded, by their (cert, key) files: a file that is
/// broken later keeps serving its last good content.
pub type LastGood = HashMap<(String, String), Arc<CertifiedKey>>;

pub fn build(
    tls: &TlsConfiguration,
    by_host: HashMap<String, String>,
    generated: &Arc<CertifiedKey>,
    last_good: &mut LastGood,
) -> Built {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let mut store = CertStore::default();
    let mut certificate_errors = Vec::new();
    let mut used = LastGood::new();
    let mut load = |cert: &str, key: &str, errors: &mut Vec<String>| {
        let id = (cert.to_string(), key.to_string());
        match certs::certified_key(cert, key, &provider) {
            Ok(ck) => {
                used.insert(id, ck.clone());
                Some(ck)
            }
            Err(e) => match last_good.get(&id) {
                Some(previous) => {
                    errors.push(format!(
                        "unable to load certificate: {e}; keeping the last good one"
                    ));
                    used.insert(id, previous.clone());
                    Some(previous.clone())
                }
                None => {
                    errors.push(format!("unable to load certificate: {e}"));
                    None
                }
            },
        }
    };
    for c in &tls.certificates {
        if !c.stores.is_empty() && !c.stores.iter().any(|s| s == "default") {
            certificate_errors.push(format!(
                "certificate {}: only the default store is supported",
                certs::describe(&c.cert_file)
            ));
            continue;
        }
        if let Some(ck) = load(&c.cert_file, &c.key_file, &mut certificate_errors) {
            store.add(ck);
        }
    }
    let configured_default = tls
        .stores
        .get("default")
        .and_then(|s| s.default_certificate.as_ref())
        .and_then(|c| load(&c.cert_file, &c.key_file, &mut certificate_errors));
    *last_good = used;
    let default_store = tls.stores.get("default");
    // `defaultGeneratedCert`: the certificate an ACME resolver obtained for
    // those domains, once it has (the generated one until then).
    let from_resolver = default_store
        .filter(|_| configured_default.is_none())
        .and_then(|s| s.default_generated_cert.as_ref())
        .and_then(|g| g.domain.as_ref())
        .and_then(|d| {
            let found = store.matching(&d.main).filter(|ck| {
                let names = ck.cert.first().map(certs::names).unwrap_or_default();
                d.sans.iter().all(|san| names.iter().any(|n| n.eq_ignore_ascii_case(san)))
            });
            if found.is_none() {
                certificate_errors.push(format!(
                    "defaultGeneratedCert: no certificate for {:?} yet: the internal generated certificate stands in",
                    std::iter::once(&d.main).chain(&d.sans).collect::<Vec<_>>()
                ));
            }
            found
        });
    for name in tls.stores.keys().filter(|n| *n != "default") {
        certificate_errors.push(format!(
            "TLS store {name:?} is ignored: only the default store is used (as in Traefik)"
        ));
    }
    let default = configured_default
        .or(from_resolver)
        .unwrap_or_else(|| generated.clone());
    store.default_generated = Arc::ptr_eq(&default, generated);
    store.default = Some(default);
    let store = Arc::new(store);
    let mut configs = HashMap::new();
    let mut quic_ok = std::collections::HashSet::new();
    let mut option_errors = BTreeMap::new();
    let mut options = tls.options.clone();
    options.entry("default".to_string()).or_default();
    for (name, o) in &options {
        match Variants::build(o, &store) {
            Ok(c) => {
                if quic_compatible(o) {
                    quic_ok.insert(name.clone());
                }
                configs.insert(name.clone(), c);
            }
            Err(e) => {
                option_errors.insert(name.clone(), e);
            }
        }
    }
    if !configs.contains_key("default") {
        // A broken default falls back to Traefik's defaults, loudly.
        if let Ok(c) = Variants::build(&TlsOptions::default(), &store) {
            configs.insert("default".into(), c);
            quic_ok.insert("default".into());
        }
    }
    Built {
        runtime: Arc::new(TlsRuntime {
            configs,
            by_host,
            quic_ok,
            store,
        }),
        option_errors,
        certificate_errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_for(names: &[&str]) -> Arc<CertifiedKey> {
        let params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let signing = rustls::crypto::aws_lc_rs::default_provider()
            .key_provider
            .load_private_key(rustls::pki_types::PrivateKeyDer::Pkcs8(
                key.serialize_der().into(),
            ))
            .unwrap();
        Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing))
    }

    #[test]
    fn listed_certificates() {
        let first = cert_for(&["a.test", "b.test"]);
        let same_names = cert_for(&["b.test", "a.test"]);
        let other = cert_for(&["c.test"]);
        let own_default = cert_for(&["d.test"]);
        let leaf = |ck: &Arc<CertifiedKey>| ck.cert[0].clone();
        let mut store = CertStore::default();
        store.add(first.clone());
        store.add(same_names);
        store.add(other.clone());
        store.default = Some(own_default.clone());
        store.default_generated = true;
        assert_eq!(
            store.listed(),
            vec![leaf(&first), leaf(&other)],
            "one per set of names; the generated default left out"
        );
        store.default_generated = false;
        assert_eq!(
            store.listed(),
            vec![leaf(&first), leaf(&other), leaf(&own_default)],
            "a configured default is listed"
        );
    }

    #[test]
    fn sni_selection_table() {
        let mut store = CertStore::default();
        let exact = cert_for(&["a.test", "b.test"]);
        let wild = cert_for(&["*.wild.test"]);
        let specific = cert_for(&["x.wild.test"]);
        store.add(exact.clone());
        store.add(wild.clone());
        store.add(specific.clone());
        let same = |a: &Option<Arc<CertifiedKey>>, b: &Arc<CertifiedKey>| {
            a.as_ref().is_some_and(|a| Arc::ptr_eq(a, b))
        };
        assert!(same(&store.matching("a.test"), &exact));
        assert!(same(&store.matching("B.TEST."), &exact));
        assert!(same(&store.matching("y.wild.test"), &wild));
        assert!(
            same(&store.matching("x.wild.test"), &specific),
            "exact beats wildcard"
        );
        assert!(
            store.matching("wild.test").is_none(),
            "a wildcard needs a label"
        );
        assert!(store.matching("a.b.wild.test").is_none(), "one level only");
        assert!(store.matching("other.test").is_none());
    }

    #[test]
    fn options_errors_and_choice_by_host() {
        let mut tls = TlsConfiguration::default();
        tls.options.insert(
            "modern".into(),
            TlsOptions {
                min_version: "VersionTLS13".into(),
                ..TlsOptions::default()
            },
        );
        tls.options.insert(
            "broken".into(),
            TlsOptions {
                cipher_suites: vec!["TLS_RSA_WITH_RC4_128_SHA".into()],
                ..TlsOptions::default()
            },
        );
        tls.options.insert(
            "mtls".into(),
            TlsOptions {
                client_auth: switchyard_config::tls::ClientAuth {
                    ca_files: vec![],
                    client_auth_type: "RequireAndVerifyClientCert".into(),
                },
                ..TlsOptions::default()
            },
        );
        let by_host = HashMap::from([
            ("modern.test".to_string(), "modern".to_string()),
            ("*.apps.test".to_string(), "modern".to_string()),
        ]);
        let mut by_host = by_host;
        by_host.insert("broken.test".into(), "broken".into());
        let built = build(
            &tls,
            by_host,
            &generated_default().unwrap(),
            &mut LastGood::new(),
        );
        assert!(built.option_errors["broken"].contains("TLS_RSA_WITH_RC4_128_SHA"));
        assert!(built.option_errors["mtls"].contains("caFiles"));
        let rt = &built.runtime;
        assert!(rt.has_option("modern") && rt.has_option("default"));
        assert!(!rt.has_option("broken"));
        let modern = rt.configs["modern"].aes.clone();
        let default = rt.configs["default"].aes.clone();
        for (sni, want) in [
            (Some("modern.test"), &modern),
            (Some("MODERN.test."), &modern),
            (Some("one.apps.test"), &modern),
            (Some("other.test"), &default),
            (None, &default),
        ] {
            assert!(
                Arc::ptr_eq(&rt.config_for(sni, false).unwrap(), want),
                "{sni:?}"
            );
        }
        let chacha = rt.config_for(Some("modern.test"), true).unwrap();
        assert!(Arc::ptr_eq(&chacha, &rt.configs["modern"].chacha));
        // A host whose options are broken gets no handshake at all.
        assert!(rt.config_for(Some("broken.test"), false).is_none());
    }

    #[test]
    fn curves() {
        let all = rustls::crypto::aws_lc_rs::default_provider().kx_groups;
        assert_eq!(
            kx_groups(&["CurveP256".into(), "X25519".into()], &all)
                .unwrap()
                .len(),
            2
        );
        let pq = kx_groups(&["X25519MLKEM768".into(), "CurveP384".into()], &all).unwrap();
        assert_eq!(
            pq.iter().map(|g| g.name()).collect::<Vec<_>>(),
            [
                rustls::NamedGroup::X25519MLKEM768,
                rustls::NamedGroup::secp384r1
            ]
        );
        // Without curvePreferences: the post-quantum hybrid first, as Go.
        assert_eq!(all[0].name(), rustls::NamedGroup::X25519MLKEM768);
        assert!(kx_groups(&["CurveP521".into()], &all)
            .unwrap_err()
            .contains("not offered"));
        assert!(kx_groups(&["nope".into()], &all)
            .unwrap_err()
            .contains("unknown"));
    }
}
