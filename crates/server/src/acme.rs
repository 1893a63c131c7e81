//! Certificates from an ACME CA (RFC 8555) for `certificatesResolvers`:
//! the account and certificates kept in Traefik's `acme.json` format (a
//! Traefik user's file is read and served as is, and written back with mode
//! 0600, atomically), orders for the domains of the routers that name the
//! resolver, HTTP-01 challenges answered on the entrypoints, renewal when a
//! third of a certificate's lifetime is left, and retries with backoff.
//!
//! The resolver acts as a provider: its certificates reach the TLS store
//! through the same watcher → builder path as files do, as the dynamic
//! configuration of the provider `<resolver>.acme`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http::{Method, Request};
use http_body_util::BodyExt;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Digest;
use switchyard_config::dynamic::{Configuration, Router};
use switchyard_config::static_config::{Acme, Eab};
use switchyard_config::tls::{CertificateEntry, Domain, TlsConfiguration};
use switchyard_providers::Message;
use switchyard_proxy::upstream::{Protocol, TransportSettings, Upstream};
use tokio::sync::mpsc;

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

// ---------------------------------------------------------------- storage

/// Traefik's `acme.json`: resolver name → account and certificates.
pub type Storage = BTreeMap<String, ResolverData>;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResolverData {
    #[serde(rename = "Account", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountData>,
    #[serde(rename = "Certificates", default)]
    pub certificates: Option<Vec<StoredCert>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountData {
    #[serde(rename = "Email", default)]
    pub email: String,
    #[serde(rename = "Registration", default)]
    pub registration: Option<Registration>,
    /// Base64 of the DER private key.
    #[serde(rename = "PrivateKey", default)]
    pub private_key: String,
    #[serde(rename = "KeyType", default)]
    pub key_type: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Registration {
    #[serde(default)]
    pub body: Value,
    #[serde(default)]
    pub uri: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StoredDomain {
    #[serde(default)]
    pub main: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredCert {
    pub domain: StoredDomain,
    /// Base64 of the PEM chain.
    pub certificate: String,
    /// Base64 of the PEM key.
    pub key: String,
    #[serde(rename = "Store", default)]
    pub store: String,
}

impl StoredCert {
    fn pem(&self) -> Option<(String, String)> {
        let c = String::from_utf8(STANDARD.decode(&self.certificate).ok()?).ok()?;
        let k = String::from_utf8(STANDARD.decode(&self.key).ok()?).ok()?;
        Some((c, k))
    }

    /// The leaf's validity (not before, not after), seconds since the epoch.
    fn validity(&self) -> Option<(i64, i64)> {
        let (c, _) = self.pem()?;
        let chain = switchyard_proxy::certs::load_chain(&c).ok()?;
        switchyard_proxy::certs::validity(chain.first()?)
    }

    fn names(&self) -> Vec<String> {
        let mut v = domain_set(&self.domain.main, &self.domain.sans);
        v.sort();
        v.dedup();
        v
    }
}

pub fn read_storage(path: &Path) -> Result<Storage, String> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Storage::new()),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a valid acme.json: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Storage::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes `storage` beside `path` and renames it into place, mode 0600.
pub fn write_storage(path: &Path, storage: &Storage) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = serde_json::to_vec_pretty(storage).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("json.tmp");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Resolvers may share one file (as in Traefik): each write re-reads it
/// and replaces this resolver's entry only, one writer at a time.
static STORAGE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn save(path: &Path, resolver: &str, data: &ResolverData) -> Result<(), String> {
    let _guard = STORAGE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut storage = read_storage(path)?;
    storage.insert(resolver.to_string(), data.clone());
    write_storage(path, &storage)
}

// ----------------------------------------------------------------- client

/// The URL of one `Link` value whose `rel` is `alternate`.
fn alternate_link(link: &str) -> Option<String> {
    let (target, params) = link.trim().split_once(';')?;
    let url = target.trim().strip_prefix('<')?.strip_suffix('>')?;
    params
        .split(';')
        .filter_map(|p| p.split_once('='))
        .any(|(k, v)| {
            k.trim().eq_ignore_ascii_case("rel") && v.trim().trim_matches('"') == "alternate"
        })
        .then(|| url.to_string())
}

/// Of the chains a CA offers (the default first), the one whose topmost
/// certificate was issued by `preferred` (a common name, as Traefik's
/// `preferredChain`); the default when none is, or none is asked for.
fn choose_chain(chains: Vec<String>, preferred: &str) -> Option<String> {
    if preferred.is_empty() {
        return chains.into_iter().next();
    }
    let top_issuer = |pem: &str| -> Option<String> {
        let ders = switchyard_proxy::certs::load_chain(pem).ok()?;
        let last = ders.last()?;
        let (_, cert) = x509_parser::parse_x509_certificate(last.as_ref()).ok()?;
        let cn = cert
            .issuer()
            .iter_common_name()
            .next()?
            .as_str()
            .ok()?
            .to_string();
        Some(cn)
    };
    match chains
        .iter()
        .position(|c| top_issuer(c).as_deref() == Some(preferred))
    {
        Some(i) => chains.into_iter().nth(i),
        None => chains.into_iter().next(),
    }
}

fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An account key: RSA (RS256) as Traefik makes them, kept as PKCS#1 DER
/// so Traefik reads the account back; ECDSA P-256 (ES256, PKCS#8) as
/// earlier Switchyard versions made them.
struct AccountKey {
    pair: AccountPair,
    /// The DER `acme.json` holds (base64) as `PrivateKey`.
    der: Vec<u8>,
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
    fn generate() -> Result<AccountKey, String> {
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
    fn from_der(der: &[u8]) -> Result<AccountKey, String> {
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
    fn alg(&self) -> &'static str {
        match self.pair {
            AccountPair::Rsa(_) => "RS256",
            AccountPair::Ec(_) => "ES256",
        }
    }

    /// The public key as a JWK, with exactly the members RFC 7638 hashes
    /// (serde_json keeps them sorted, as the thumbprint needs).
    fn jwk(&self) -> Value {
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
    fn thumbprint(&self) -> String {
        b64u(&sha2::Sha256::digest(self.jwk().to_string().as_bytes()))
    }

    fn sign(&self, protected: &Value, payload: Option<&Value>) -> Result<Value, String> {
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

struct Client {
    http: Upstream,
    /// `clientTimeout`: one whole exchange with the CA.
    timeout: Duration,
    /// `certificateTimeout`: from finalizing an order to its certificate.
    certificate_timeout: Duration,
    directory: Value,
    key: AccountKey,
    kid: Option<String>,
    nonce: Option<String>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    nonce: Option<String>,
    /// `Link: <url>;rel="alternate"` targets (other certificate chains).
    alternates: Vec<String>,
    body: bytes::Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A configured duration, zero meaning none.
fn non_zero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

impl Client {
    /// One exchange with the CA, bounded by `timeout` (`clientTimeout`).
    async fn request(
        http: &Upstream,
        timeout: Duration,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, String> {
        tokio::time::timeout(timeout, Client::exchange(http, method, url, body))
            .await
            .map_err(|_| format!("{url}: no complete answer within {timeout:?} (clientTimeout)"))?
    }

    async fn exchange(
        http: &Upstream,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", host);
        if body.is_some() {
            req = req.header("content-type", "application/jose+json");
        }
        let req = req
            .body(match body {
                Some(b) => switchyard_proxy::body::full(b),
                None => switchyard_proxy::body::empty(),
            })
            .map_err(|e| e.to_string())?;
        let resp = http
            .send(req, url, Protocol::Auto)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (status, location, nonce) = (
            resp.status().as_u16(),
            header("location"),
            header("replay-nonce"),
        );
        let alternates = resp
            .headers()
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(alternate_link)
            .collect();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .to_bytes();
        Ok(Answer {
            status,
            location,
            nonce,
            alternates,
            body,
        })
    }

    async fn new(settings: &Acme, key: AccountKey) -> Result<Client, String> {
        let http = Upstream::new(TransportSettings {
            root_cas: settings.ca_certificates.clone(),
            server_name: (!settings.ca_server_name.is_empty())
                .then(|| settings.ca_server_name.clone()),
            response_header_timeout: non_zero(settings.client_response_header_timeout.into()),
            ..TransportSettings::default()
        })
        .map_err(|e| format!("ACME client: {e}"))?;
        let timeout = non_zero(settings.client_timeout.into()).unwrap_or(Duration::MAX);
        let dir = Client::request(&http, timeout, Method::GET, &settings.ca_server, None).await?;
        if dir.status != 200 {
            return Err(format!(
                "ACME directory {}: status {}",
                settings.ca_server, dir.status
            ));
        }
        Ok(Client {
            directory: dir.json(),
            http,
            timeout,
            certificate_timeout: non_zero(settings.certificate_timeout.into())
                .unwrap_or(Duration::MAX),
            key,
            kid: None,
            nonce: None,
        })
    }

    fn url(&self, name: &str) -> Result<String, String> {
        self.directory[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the ACME directory has no {name}"))
    }

    async fn nonce(&mut self) -> Result<String, String> {
        if let Some(n) = self.nonce.take() {
            return Ok(n);
        }
        let url = self.url("newNonce")?;
        let a = Client::request(&self.http, self.timeout, Method::HEAD, &url, None).await?;
        a.nonce
            .ok_or_else(|| "no Replay-Nonce from newNonce".to_string())
    }

    /// A signed POST (POST-as-GET when `payload` is None), retried once on
    /// a bad nonce.
    async fn post(&mut self, url: &str, payload: Option<&Value>) -> Result<Answer, String> {
        for _ in 0..3 {
            let nonce = self.nonce().await?;
            let mut protected = json!({"alg": self.key.alg(), "nonce": nonce, "url": url});
            match &self.kid {
                Some(kid) => protected["kid"] = json!(kid),
                None => protected["jwk"] = self.key.jwk(),
            }
            let body = self.key.sign(&protected, payload)?;
            let a = Client::request(
                &self.http,
                self.timeout,
                Method::POST,
                url,
                Some(body.to_string().into_bytes()),
            )
            .await?;
            self.nonce.clone_from(&a.nonce);
            if a.status == 400 && a.json()["type"] == "urn:ietf:params:acme:error:badNonce" {
                continue;
            }
            if a.status >= 400 {
                return Err(format!(
                    "{url}: {} {}",
                    a.status,
                    String::from_utf8_lossy(&a.body)
                ));
            }
            return Ok(a);
        }
        Err(format!("{url}: the CA kept refusing our nonces"))
    }

    /// Creates the account (or finds the key's existing one); with `eab`,
    /// bound to the CA's external account (RFC 8555 7.3.4).
    async fn register(
        &mut self,
        email: &str,
        eab: Option<&Eab>,
    ) -> Result<(String, Value), String> {
        let mut payload = json!({"termsOfServiceAgreed": true});
        if !email.is_empty() {
            payload["contact"] = json!([format!("mailto:{email}")]);
        }
        let url = self.url("newAccount")?;
        if let Some(eab) = eab {
            payload["externalAccountBinding"] = eab_binding(eab, &self.key.jwk(), &url)?;
        }
        let a = self.post(&url, Some(&payload)).await?;
        let kid = a.location.clone().ok_or("the CA gave the account no URL")?;
        self.kid = Some(kid.clone());
        Ok((kid, a.json()))
    }

    /// Polls `url` until its status is one of `done` (or fails on invalid).
    async fn poll(&mut self, url: &str, done: &[&str]) -> Result<Value, String> {
        let mut wait = Duration::from_millis(250);
        for _ in 0..40 {
            let v = self.post(url, None).await?.json();
            let status = v["status"].as_str().unwrap_or_default();
            if done.contains(&status) {
                return Ok(v);
            }
            if status == "invalid" {
                return Err(format!("{url} is invalid: {v}"));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        Err(format!("{url}: gave up waiting"))
    }

    /// One certificate for `domains` (the first is the main one).
    async fn order(
        &mut self,
        domains: &[String],
        wish: &OrderWish<'_>,
        kind: ChallengeKind,
        challenges: &Challenges,
        dns: Option<&DnsHook>,
    ) -> Result<(String, String), String> {
        let url = self.url("newOrder")?;
        let a = self
            .post(&url, Some(&new_order(domains, wish.profile)))
            .await?;
        let order_url = a.location.clone().ok_or("the CA gave the order no URL")?;
        let order = a.json();
        let thumbprint = self.key.thumbprint();
        let mut pending = Pending {
            table: challenges.clone(),
            tokens: Vec::new(),
            domains: Vec::new(),
        };
        for authz_url in order["authorizations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let authz_url = authz_url.as_str().unwrap_or_default().to_string();
            let authz = self.post(&authz_url, None).await?.json();
            if authz["status"] == "valid" {
                continue;
            }
            let wanted = kind.name();
            let challenge = authz["challenges"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == wanted))
                .cloned()
                .ok_or_else(|| format!("{authz_url}: no {wanted} challenge offered"))?;
            let token = challenge["token"].as_str().unwrap_or_default().to_string();
            let key_auth = format!("{token}.{thumbprint}");
            match kind {
                ChallengeKind::Http01 => {
                    write(&challenges.http).insert(token.clone(), key_auth.clone());
                    pending.tokens.push(token);
                }
                ChallengeKind::TlsAlpn01 => {
                    let domain = authz["identifier"]["value"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    write(&challenges.alpn)
                        .insert(domain.clone(), alpn_certificate(&domain, &key_auth)?);
                    pending.domains.push(domain);
                }
                ChallengeKind::Dns01 => {}
            }
            let dns_record = match (kind, dns) {
                (ChallengeKind::Dns01, Some(hook)) => {
                    let domain = authz["identifier"]["value"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    let fqdn = format!("_acme-challenge.{}.", domain.trim_start_matches("*."));
                    let value = b64u(&sha2::Sha256::digest(key_auth.as_bytes()));
                    hook.run("present", &fqdn, &value).await?;
                    if !hook.delay.is_zero() {
                        tokio::time::sleep(hook.delay).await;
                    }
                    if hook.check {
                        if let Err(e) = hook.wait_visible(&fqdn, &value).await {
                            if let Err(c) = hook.run("cleanup", &fqdn, &value).await {
                                tracing::warn!("DNS-01 cleanup of {fqdn}: {c}");
                            }
                            return Err(e);
                        }
                    }
                    Some((fqdn, value))
                }
                (ChallengeKind::Dns01, None) => return Err("dnsChallenge without a hook".into()),
                _ => None,
            };
            let challenge_url = challenge["url"].as_str().unwrap_or_default().to_string();
            let validated = match self.post(&challenge_url, Some(&json!({}))).await {
                Ok(_) => self.poll(&authz_url, &["valid"]).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let (Some((fqdn, value)), Some(hook)) = (&dns_record, dns) {
                if let Err(e) = hook.run("cleanup", fqdn, value).await {
                    tracing::warn!("DNS-01 cleanup of {fqdn}: {e}");
                }
            }
            validated?;
        }
        drop(pending);
        self.poll(&order_url, &["ready", "valid"]).await?;
        // RSA keys take seconds to make: off the async threads.
        let (csr, key_pem) = {
            let (d, k) = (domains.to_vec(), wish.key_type.to_string());
            tokio::task::spawn_blocking(move || csr(&d, &k))
                .await
                .map_err(|e| format!("certificate key: {e}"))??
        };
        let finalize = order["finalize"].as_str().unwrap_or_default().to_string();
        self.post(&finalize, Some(&json!({ "csr": b64u(&csr) })))
            .await?;
        let limit = self.certificate_timeout;
        let order = tokio::time::timeout(limit, self.poll(&order_url, &["valid"]))
            .await
            .map_err(|_| {
                format!("{order_url}: no certificate within {limit:?} of finalizing (certificateTimeout)")
            })??;
        let cert_url = order["certificate"]
            .as_str()
            .ok_or("the valid order has no certificate URL")?
            .to_string();
        let a = self.post(&cert_url, None).await?;
        let mut chains = vec![String::from_utf8_lossy(&a.body).into_owned()];
        if !wish.preferred_chain.is_empty() {
            for url in &a.alternates {
                match self.post(url, None).await {
                    Ok(alt) => chains.push(String::from_utf8_lossy(&alt.body).into_owned()),
                    Err(e) => tracing::warn!("alternate chain {url}: {e}"),
                }
            }
        }
        let chain = choose_chain(chains, wish.preferred_chain).ok_or("no certificate chain")?;
        Ok((chain, key_pem))
    }
}

/// The external account binding: the account's JWK, signed with the CA's
/// MAC key (HS256) under the CA's key identifier.
fn eab_binding(eab: &Eab, jwk: &Value, url: &str) -> Result<Value, String> {
    let mac = eab.hmac_encoded.trim_end_matches('=');
    let key = URL_SAFE_NO_PAD
        .decode(mac)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(mac))
        .map_err(|e| format!("eab.hmacEncoded: not base64url: {e}"))?;
    if eab.kid.is_empty() {
        return Err("eab.kid is empty".into());
    }
    let protected = b64u(
        json!({"alg": "HS256", "kid": eab.kid, "url": url})
            .to_string()
            .as_bytes(),
    );
    let payload = b64u(jwk.to_string().as_bytes());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let tag = ring::hmac::sign(&key, format!("{protected}.{payload}").as_bytes());
    Ok(json!({"protected": protected, "payload": payload, "signature": b64u(tag.as_ref())}))
}

fn write<T>(c: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    c.write().unwrap_or_else(|p| p.into_inner())
}

/// How long before expiry a certificate is renewed (seconds): Traefik's
/// period for the configured `certificatesDuration` (hours) — 30 days for
/// the default 90-day certificates — but never more than a third of the
/// certificate's actual `lifetime`, so a CA issuing shorter certificates
/// than configured does not cause an order on every check.
fn renew_window(duration_hours: i64, lifetime: i64) -> i64 {
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    let period = match duration_hours {
        h if h >= 365 * 24 => 120 * DAY,
        h if h >= 90 * 24 => 30 * DAY,
        h if h >= 30 * 24 => 10 * DAY,
        h if h >= 6 * 24 => 2 * DAY,
        h if h >= 24 => 6 * HOUR,
        _ => 20 * 60,
    };
    period.min(lifetime / 3)
}

/// Traefik's key type names as lego spells them in `acme.json`
/// (`Account.KeyType`).
fn lego_key_type(key_type: &str) -> &str {
    match key_type {
        "EC256" => "P256",
        "EC384" => "P384",
        "RSA2048" => "2048",
        "RSA4096" => "4096",
        "RSA8192" => "8192",
        other => other,
    }
}

/// What an order asks for beyond its domains.
struct OrderWish<'a> {
    /// Traefik's key type (EC256 … RSA8192).
    key_type: &'a str,
    /// The common name of the root the chain should end under.
    preferred_chain: &'a str,
    /// The CA's certificate profile (draft-ietf-acme-profiles).
    profile: Option<&'a str>,
}

/// The newOrder payload.
fn new_order(domains: &[String], profile: Option<&str>) -> Value {
    let identifiers: Vec<Value> = domains
        .iter()
        .map(|d| json!({"type": "dns", "value": d}))
        .collect();
    let mut payload = json!({ "identifiers": identifiers });
    if let Some(p) = profile.filter(|p| !p.is_empty()) {
        payload["profile"] = json!(p);
    }
    payload
}

/// Which challenge a resolver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    Http01,
    TlsAlpn01,
    Dns01,
}

impl ChallengeKind {
    fn name(self) -> &'static str {
        match self {
            ChallengeKind::Http01 => "http-01",
            ChallengeKind::TlsAlpn01 => "tls-alpn-01",
            ChallengeKind::Dns01 => "dns-01",
        }
    }
}

/// `dnsChallenge` through a generic hook, as lego's `exec` and `httpreq`
/// providers work (their environment variables too): `exec` runs
/// `$EXEC_PATH present|cleanup <fqdn> <value>`; `httpreq` POSTs
/// `{"fqdn": …, "value": …}` to `$HTTPREQ_ENDPOINT/present|cleanup`.
#[derive(Debug, Clone)]
pub struct DnsHook {
    pub provider: String,
    /// Waited after `present`, before checking or validating.
    pub delay: Duration,
    /// Whether to wait for the record to be visible before validating.
    pub check: bool,
    /// Every resolver must see it (else one is enough).
    pub require_all: bool,
    /// The recursive resolvers asked (the system's when none are set).
    pub resolvers: Vec<std::net::SocketAddr>,
}

impl DnsHook {
    pub fn from_config(node: &switchyard_config::Node) -> Result<DnsHook, String> {
        #[derive(Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct Propagation {
            disable_checks: bool,
            #[serde(rename = "disableANSChecks")]
            _disable_ans_checks: bool,
            #[serde(rename = "requireAllRNS")]
            require_all_rns: bool,
            delay_before_checks: Option<switchyard_config::Duration>,
        }
        #[derive(Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct Dns {
            provider: String,
            delay_before_check: Option<switchyard_config::Duration>,
            resolvers: Vec<String>,
            disable_propagation_check: bool,
            propagation: Propagation,
        }
        let d: Dns =
            switchyard_config::decode::from_node(node).map_err(|e| format!("dnsChallenge: {e}"))?;
        match d.provider.as_str() {
            "exec" | "httpreq" => {}
            other => {
                return Err(format!(
                    "dnsChallenge.provider {other:?}: Switchyard supports the generic exec and httpreq providers"
                ))
            }
        }
        let resolvers = d
            .resolvers
            .iter()
            .map(|r| {
                crate::dns::parse_resolver(r).map_err(|e| format!("dnsChallenge.resolvers: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DnsHook {
            provider: d.provider,
            delay: d
                .propagation
                .delay_before_checks
                .or(d.delay_before_check)
                .map(Into::into)
                .unwrap_or_default(),
            check: !(d.disable_propagation_check || d.propagation.disable_checks),
            require_all: d.propagation.require_all_rns,
            resolvers,
        })
    }

    /// lego's per-provider setting `<PROVIDER>_<name>` in seconds, else
    /// `default` seconds.
    fn seconds(&self, name: &str, default: u64) -> Duration {
        let key = format!("{}_{name}", self.provider.to_ascii_uppercase());
        Duration::from_secs(
            std::env::var(key)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default),
        )
    }

    /// Waits until the resolvers answer `value` among the TXT records of
    /// `fqdn` (each of them with `requireAllRNS`, else any), polling every
    /// `<PROVIDER>_POLLING_INTERVAL` (2 s) up to
    /// `<PROVIDER>_PROPAGATION_TIMEOUT` (60 s), as lego does.
    async fn wait_visible(&self, fqdn: &str, value: &str) -> Result<(), String> {
        let servers = if self.resolvers.is_empty() {
            crate::dns::system_resolvers()
        } else {
            self.resolvers.clone()
        };
        if servers.is_empty() {
            return Err("DNS propagation check: no resolvers (set dnsChallenge.resolvers)".into());
        }
        let (interval, limit) = (
            self.seconds("POLLING_INTERVAL", 2)
                .max(Duration::from_millis(100)),
            self.seconds("PROPAGATION_TIMEOUT", 60),
        );
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let mut seen = 0;
            let mut last_error = None;
            for server in &servers {
                match crate::dns::txt(*server, fqdn, Duration::from_secs(5)).await {
                    Ok(values) if values.iter().any(|v| v == value) => seen += 1,
                    Ok(_) => {}
                    Err(e) => last_error = Some(e),
                }
            }
            let done = if self.require_all {
                seen == servers.len()
            } else {
                seen > 0
            };
            if done {
                return Ok(());
            }
            if tokio::time::Instant::now() + interval > deadline {
                return Err(format!(
                    "DNS propagation check: {fqdn} TXT not visible after {limit:?} (resolvers {servers:?}{})",
                    last_error.map_or(String::new(), |e| format!("; {e}"))
                ));
            }
            tokio::time::sleep(interval).await;
        }
    }

    async fn run(&self, action: &str, fqdn: &str, value: &str) -> Result<(), String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if self.provider == "exec" {
            let path = env("EXEC_PATH").ok_or("dnsChallenge exec: EXEC_PATH is not set")?;
            let out = tokio::process::Command::new(&path)
                .args([action, fqdn, value])
                .output()
                .await
                .map_err(|e| format!("dnsChallenge exec {path}: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "dnsChallenge exec {path} {action}: {}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            return Ok(());
        }
        let endpoint =
            env("HTTPREQ_ENDPOINT").ok_or("dnsChallenge httpreq: HTTPREQ_ENDPOINT is not set")?;
        let url = format!("{}/{action}", endpoint.trim_end_matches('/'));
        let http = Upstream::new(TransportSettings::default()).map_err(|e| e.to_string())?;
        let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("host", host)
            .header("content-type", "application/json");
        if let (Some(u), Some(p)) = (env("HTTPREQ_USERNAME"), env("HTTPREQ_PASSWORD")) {
            req = req.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(format!("{u}:{p}"))),
            );
        }
        let body = json!({"fqdn": fqdn, "value": value}).to_string();
        let req = req
            .body(switchyard_proxy::body::full(body))
            .map_err(|e| e.to_string())?;
        let resp = http
            .send(req, &url, Protocol::Auto)
            .await
            .map_err(|e| format!("dnsChallenge httpreq {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!(
                "dnsChallenge httpreq {url}: status {}",
                resp.status()
            ));
        }
        Ok(())
    }
}

/// Challenge answers published for one order, withdrawn when it ends.
struct Pending {
    table: Challenges,
    tokens: Vec<String>,
    domains: Vec<String>,
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
/// (EC256, EC384, RSA2048, RSA4096, RSA8192).
fn csr(domains: &[String], key_type: &str) -> Result<(Vec<u8>, String), String> {
    let key = match key_type {
        "EC256" => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        "EC384" => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        "RSA2048" => return csr_with(domains, rsa_key(2048)?),
        "RSA4096" => return csr_with(domains, rsa_key(4096)?),
        "RSA8192" => return csr_with(domains, rsa_key(8192)?),
        other => {
            return Err(format!(
                "keyType {other}: expected EC256, EC384, RSA2048, RSA4096 or RSA8192"
            ))
        }
    }
    .map_err(|e| format!("certificate key: {e}"))?;
    csr_with(domains, key)
}

fn csr_with(domains: &[String], key: rcgen::KeyPair) -> Result<(Vec<u8>, String), String> {
    let mut params =
        rcgen::CertificateParams::new(domains.to_vec()).map_err(|e| format!("CSR: {e}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(main) = domains.first() {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, main.clone());
    }
    let req = params
        .serialize_request(&key)
        .map_err(|e| format!("CSR: {e}"))?;
    Ok((req.der().to_vec(), key.serialize_pem()))
}

// ---------------------------------------------------------------- manager

/// The domains routers want from `resolver`: their `tls.domains`, else the
/// `Host` values of their rule (wildcards need DNS-01 and are skipped).
pub fn wanted_domains(
    routers: &BTreeMap<String, Router>,
    resolver: &str,
    wildcards: bool,
) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for router in routers.values() {
        let Some(tls) = &router.tls else { continue };
        if tls.cert_resolver != resolver {
            continue;
        }
        let sets: Vec<Vec<String>> = if tls.domains.is_empty() {
            // Either syntax, as Traefik's `ParseDomains` reads rules.
            match switchyard_rules::host_values(&router.rule) {
                Ok(hosts) => hosts.into_iter().map(|h| vec![h]).collect(),
                Err(_) => Vec::new(),
            }
        } else {
            tls.domains
                .iter()
                .map(|d: &Domain| domain_set(&d.main, &d.sans))
                .collect()
        };
        for set in sets {
            if set.iter().any(String::is_empty) {
                continue;
            }
            if !wildcards && set.iter().any(|d| d.starts_with("*.")) {
                tracing::warn!(resolver, domains = ?set, "wildcard domains need the DNS-01 challenge");
                continue;
            }
            if !out.contains(&set) {
                out.push(set);
            }
        }
    }
    out
}

/// A certificate's names, lower-case, the main one first.
fn domain_set(main: &str, sans: &[String]) -> Vec<String> {
    std::iter::once(main)
        .chain(sans.iter().map(String::as_str))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The domains of the default store's `defaultGeneratedCert` when it names
/// `resolver` (and no `defaultCertificate` takes precedence).
pub fn default_generated(tls: &TlsConfiguration, resolver: &str) -> Option<Vec<String>> {
    let store = tls.stores.get("default")?;
    if store.default_certificate.is_some() {
        return None;
    }
    let generated = store.default_generated_cert.as_ref()?;
    if generated.resolver != resolver {
        return None;
    }
    let domain = generated.domain.as_ref()?;
    let set = domain_set(&domain.main, &domain.sans);
    (!set.iter().any(String::is_empty)).then_some(set)
}

/// One resolver's running state.
pub struct Resolver {
    pub name: String,
    pub settings: Acme,
    pub challenges: Challenges,
    pub to_watcher: mpsc::Sender<Message>,
}

impl Resolver {
    fn storage_path(&self) -> PathBuf {
        PathBuf::from(&self.settings.storage)
    }

    fn provider(&self) -> String {
        format!("{}.acme", self.name)
    }

    async fn publish(&self, data: &ResolverData) {
        let certificates = data
            .certificates
            .iter()
            .flatten()
            .filter_map(|c| {
                let (cert, key) = c.pem()?;
                Some(CertificateEntry {
                    cert_file: cert,
                    key_file: key,
                    stores: Vec::new(),
                })
            })
            .collect();
        let config = Configuration {
            tls: Some(TlsConfiguration {
                certificates,
                ..TlsConfiguration::default()
            }),
            ..Configuration::default()
        };
        let _ = self
            .to_watcher
            .send(Message {
                provider: self.provider(),
                config,
            })
            .await;
    }

    /// Whether `cert` covers `set` and is not yet in its renewal window.
    fn fresh(cert: &StoredCert, set: &[String], now: i64, duration_hours: i64) -> bool {
        let mut want = set.to_vec();
        want.sort();
        want.dedup();
        if cert.names() != want {
            return false;
        }
        match cert.validity() {
            Some((nb, na)) => na - now > renew_window(duration_hours, na - nb),
            None => false,
        }
    }

    /// Serves what the storage holds, then keeps the wanted certificates
    /// obtained and fresh, following `configs` (every merged configuration).
    pub async fn run(self, mut configs: mpsc::UnboundedReceiver<Arc<Configuration>>) {
        let path = self.storage_path();
        let storage = match read_storage(&path) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(resolver = %self.name, "{e}; starting with an empty one");
                Storage::new()
            }
        };
        let mut data = storage.get(&self.name).cloned().unwrap_or_default();
        self.publish(&data).await;
        if self.settings.certificates_duration < 1 {
            // As Traefik: such a resolver obtains nothing (stored
            // certificates are still served).
            tracing::error!(resolver = %self.name, "certificatesDuration {}: cannot manage certificates with a duration lower than 1 hour", self.settings.certificates_duration);
            return;
        }
        let mut wanted: Vec<Vec<String>> = Vec::new();
        let mut client: Option<Client> = None;
        let mut backoff: HashMap<Vec<String>, (tokio::time::Instant, Duration)> = HashMap::new();
        let mut next_check = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            tokio::select! {
                c = configs.recv() => {
                    let Some(c) = c else { return };
                    let routers = c.http.as_ref().map(|h| h.routers.clone()).unwrap_or_default();
                    let mut w = wanted_domains(&routers, &self.name, self.settings.dns_challenge.is_some());
                    if let Some(set) = c.tls.as_ref().and_then(|t| default_generated(t, &self.name)) {
                        if !w.contains(&set) {
                            w.push(set);
                        }
                    }
                    if w == wanted { continue; }
                    wanted = w;
                }
                _ = tokio::time::sleep_until(next_check) => {}
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let mut changed = false;
            for set in &wanted {
                let certs = data.certificates.get_or_insert_with(Vec::new);
                if certs
                    .iter()
                    .any(|c| Resolver::fresh(c, set, now, self.settings.certificates_duration))
                {
                    continue;
                }
                if backoff
                    .get(set)
                    .is_some_and(|(until, _)| tokio::time::Instant::now() < *until)
                {
                    continue;
                }
                match self.obtain(&mut client, &mut data, set).await {
                    Ok(stored) => {
                        let certs = data.certificates.get_or_insert_with(Vec::new);
                        certs.retain(|c| c.names() != stored.names());
                        certs.push(stored);
                        backoff.remove(set);
                        changed = true;
                        tracing::info!(resolver = %self.name, domains = ?set, "certificate obtained");
                    }
                    Err(e) => {
                        // Never hammer the CA: 1 minute, doubling, at most a day.
                        let next = backoff.get(set).map_or(Duration::from_secs(60), |(_, d)| {
                            (*d * 2).min(Duration::from_secs(86_400))
                        });
                        backoff.insert(set.clone(), (tokio::time::Instant::now() + next, next));
                        client = None;
                        tracing::error!(resolver = %self.name, domains = ?set, retry_in = ?next, "unable to obtain ACME certificate: {e}");
                    }
                }
            }
            // Look again when the first certificate is due for renewal or a
            // retry is due, and at least every minute.
            let mut wait = Duration::from_secs(60);
            for c in data.certificates.iter().flatten() {
                if let Some((nb, na)) = c.validity() {
                    let due = na - renew_window(self.settings.certificates_duration, na - nb);
                    let secs = u64::try_from(due - now).unwrap_or(0);
                    wait = wait.min(Duration::from_secs(secs.max(1)));
                }
            }
            for (until, _) in backoff.values() {
                wait = wait.min(until.saturating_duration_since(tokio::time::Instant::now()));
            }
            next_check = tokio::time::Instant::now() + wait.max(Duration::from_secs(1));
            if changed {
                if let Err(e) = save(&path, &self.name, &data) {
                    tracing::error!(resolver = %self.name, "cannot save the ACME storage: {e}");
                }
                self.publish(&data).await;
            }
        }
    }

    /// Traefik's key type for certificates (RSA4096 when unset).
    fn key_type(&self) -> &str {
        if self.settings.key_type.is_empty() {
            "RSA4096"
        } else {
            &self.settings.key_type
        }
    }

    async fn obtain(
        &self,
        client: &mut Option<Client>,
        data: &mut ResolverData,
        set: &[String],
    ) -> Result<StoredCert, String> {
        if client.is_none() {
            // The stored account (Traefik's RSA key, or ours).
            let stored = data.account.as_ref().and_then(|a| {
                let der = STANDARD.decode(&a.private_key).ok()?;
                let key = AccountKey::from_der(&der)
                    .map_err(|e| tracing::warn!(resolver = %self.name, "stored ACME account unusable, making a new one: {e}"))
                    .ok()?;
                Some((key, a.registration.as_ref().map(|r| r.uri.clone())))
            });
            let (key, known) = match stored {
                Some((k, uri)) => (k, uri),
                None => (
                    tokio::task::spawn_blocking(AccountKey::generate)
                        .await
                        .map_err(|e| format!("account key: {e}"))??,
                    None,
                ),
            };
            let mut c = Client::new(&self.settings, key).await?;
            // Registering again with the same key returns the same account.
            let (kid, body) = c
                .register(&self.settings.email, self.settings.eab.as_ref())
                .await?;
            if known.as_deref() != Some(kid.as_str()) {
                data.account = Some(AccountData {
                    email: self.settings.email.clone(),
                    registration: Some(Registration { body, uri: kid }),
                    private_key: STANDARD.encode(&c.key.der),
                    // As Traefik: the certificates' key type, in lego's words.
                    key_type: lego_key_type(self.key_type()).to_string(),
                });
            }
            *client = Some(c);
        }
        let c = client.as_mut().ok_or("no ACME client")?;
        let wish = OrderWish {
            key_type: self.key_type(),
            preferred_chain: &self.settings.preferred_chain,
            profile: self.settings.profile.as_deref(),
        };
        // DNS-01, else TLS-ALPN-01, else HTTP-01, as configured.
        let dns = self
            .settings
            .dns_challenge
            .as_ref()
            .map(DnsHook::from_config)
            .transpose()?;
        let kind = if dns.is_some() {
            ChallengeKind::Dns01
        } else if self.settings.tls_challenge.is_some() {
            ChallengeKind::TlsAlpn01
        } else {
            ChallengeKind::Http01
        };
        let (chain, key) = c
            .order(set, &wish, kind, &self.challenges, dns.as_ref())
            .await?;
        Ok(StoredCert {
            domain: StoredDomain {
                main: set[0].clone(),
                sans: set[1..].to_vec(),
            },
            certificate: STANDARD.encode(chain.as_bytes()),
            key: STANDARD.encode(key.as_bytes()),
            store: "default".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn external_account_binding_is_the_jwk_maced_under_the_kid() {
        let jwk = json!({"e": "AQAB", "kty": "RSA", "n": "xyz"});
        let mac_key = b"0123456789abcdef0123456789abcdef";
        let eab = Eab {
            kid: "kid-1".into(),
            hmac_encoded: URL_SAFE_NO_PAD.encode(mac_key),
        };
        let b = eab_binding(&eab, &jwk, "https://ca/new-acct").unwrap();
        let protected: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(b["protected"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            protected,
            json!({"alg": "HS256", "kid": "kid-1", "url": "https://ca/new-acct"})
        );
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(b["payload"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(payload, jwk);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, mac_key);
        let input = format!(
            "{}.{}",
            b["protected"].as_str().unwrap(),
            b["payload"].as_str().unwrap()
        );
        let tag = URL_SAFE_NO_PAD
            .decode(b["signature"].as_str().unwrap())
            .unwrap();
        ring::hmac::verify(&key, input.as_bytes(), &tag).unwrap();
        // Padded base64url (as some CAs hand it out) reads the same.
        let padded = Eab {
            hmac_encoded: base64::engine::general_purpose::URL_SAFE.encode(mac_key),
            ..eab.clone()
        };
        assert_eq!(
            eab_binding(&padded, &jwk, "u").unwrap()["signature"],
            eab_binding(&eab, &jwk, "u").unwrap()["signature"]
        );
        let bad = Eab {
            hmac_encoded: "not base64!".into(),
            ..eab.clone()
        };
        assert!(eab_binding(&bad, &jwk, "u")
            .unwrap_err()
            .contains("hmacEncoded"));
        let no_kid = Eab {
            kid: String::new(),
            ..eab
        };
        assert!(eab_binding(&no_kid, &jwk, "u").is_err());
    }

    #[test]
    fn alternate_links_and_preferred_chains() {
        let cases = [
            (
                r#"<https://ca/cert/1/alt/1>;rel="alternate""#,
                Some("https://ca/cert/1/alt/1"),
            ),
            (r#" <https://ca/a> ; rel=alternate"#, Some("https://ca/a")),
            (r#"<https://ca/dir>;rel="index""#, None),
            (r#"https://ca/a;rel="alternate""#, None),
            ("", None),
        ];
        for (link, want) in cases {
            assert_eq!(alternate_link(link).as_deref(), want, "{link:?}");
        }
        // Two chains: leaf under intermediate under root "Root A" or "Root B".
        let chain_under = |root_name: &str| -> String {
            let root_key = rcgen::KeyPair::generate().unwrap();
            let mut root = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            root.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            root.distinguished_name
                .push(rcgen::DnType::CommonName, root_name);
            let root_cert = root.self_signed(&root_key).unwrap();
            let root_issuer = rcgen::Issuer::new(root, root_key);
            let inter_key = rcgen::KeyPair::generate().unwrap();
            let mut inter = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            inter.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            inter
                .distinguished_name
                .push(rcgen::DnType::CommonName, "Intermediate");
            let inter_cert = inter.signed_by(&inter_key, &root_issuer).unwrap();
            let inter_issuer = rcgen::Issuer::new(inter, inter_key);
            let leaf_key = rcgen::KeyPair::generate().unwrap();
            let leaf = rcgen::CertificateParams::new(vec!["x.test".to_string()]).unwrap();
            let leaf_cert = leaf.signed_by(&leaf_key, &inter_issuer).unwrap();
            let _ = root_cert;
            format!("{}{}", leaf_cert.pem(), inter_cert.pem())
        };
        let (a, b) = (chain_under("Root A"), chain_under("Root B"));
        let both = || vec![a.clone(), b.clone()];
        assert_eq!(choose_chain(both(), "").as_ref(), Some(&a));
        assert_eq!(choose_chain(both(), "Root B").as_ref(), Some(&b));
        assert_eq!(choose_chain(both(), "Root A").as_ref(), Some(&a));
        assert_eq!(choose_chain(both(), "Intermediate").as_ref(), Some(&a));
        assert_eq!(choose_chain(both(), "Nobody").as_ref(), Some(&a));
        assert_eq!(choose_chain(Vec::new(), "Root B"), None);
    }

    #[test]
    fn default_generated_cert_domains() {
        let generated =
            |domain: Value| json!({"defaultGeneratedCert": {"resolver": "le", "domain": domain}});
        let cases = [
            (json!({}), "le", None),
            (
                json!({"default": generated(json!({"main": "A.test", "sans": ["b.test"]}))}),
                "le",
                Some(vec!["a.test".to_string(), "b.test".to_string()]),
            ),
            (
                json!({"default": generated(json!({"main": "a.test"}))}),
                "other",
                None,
            ),
            (
                json!({"default": {"defaultGeneratedCert": {"resolver": "le"}}}),
                "le",
                None,
            ),
            (
                json!({"default": generated(json!({"main": ""}))}),
                "le",
                None,
            ),
            (
                json!({"default": {
                    "defaultCertificate": {"certFile": "c", "keyFile": "k"},
                    "defaultGeneratedCert": {"resolver": "le", "domain": {"main": "a.test"}}
                }}),
                "le",
                None,
            ),
            (
                json!({"other": generated(json!({"main": "a.test"}))}),
                "le",
                None,
            ),
        ];
        for (stores, resolver, want) in cases {
            let tls: TlsConfiguration =
                serde_json::from_value(json!({ "stores": stores })).unwrap();
            assert_eq!(default_generated(&tls, resolver), want, "{stores}");
        }
    }

    #[test]
    fn account_key_types_in_legos_words() {
        for (ours, lego) in [
            ("EC256", "P256"),
            ("EC384", "P384"),
            ("RSA2048", "2048"),
            ("RSA4096", "4096"),
            ("RSA8192", "8192"),
        ] {
            assert_eq!(lego_key_type(ours), lego);
        }
    }

    #[test]
    fn orders_name_a_profile_only_when_given() {
        let domains = vec!["a.test".to_string(), "b.test".to_string()];
        assert_eq!(
            new_order(&domains, None),
            json!({"identifiers": [{"type": "dns", "value": "a.test"}, {"type": "dns", "value": "b.test"}]})
        );
        assert_eq!(new_order(&domains, Some("")), new_order(&domains, None));
        assert_eq!(
            new_order(&domains, Some("shortlived"))["profile"],
            "shortlived"
        );
    }

    #[test]
    fn renewal_windows_follow_certificates_duration() {
        const DAY: i64 = 86_400;
        let cases = [
            // (certificatesDuration hours, actual lifetime, window)
            (2160, 90 * DAY, 30 * DAY),
            (8760, 365 * DAY, 120 * DAY),
            (720, 30 * DAY, 10 * DAY),
            (160, 160 * 3600, 2 * DAY),
            (24, DAY, 6 * 3600),
            (1, 3600, 20 * 60),
            // A CA issuing shorter certificates than configured: a third.
            (2160, 60, 20),
            (2160, 6 * DAY, 2 * DAY),
        ];
        for (hours, lifetime, want) in cases {
            assert_eq!(
                renew_window(hours, lifetime),
                want,
                "{hours} h, {lifetime} s"
            );
        }
    }

    #[test]
    fn storage_reads_traefiks_format_and_writes_it_back_privately() {
        let dir = std::env::temp_dir().join(format!("sy-acme-{}", std::process::id()));
        let path = dir.join("acme.json");
        let text = r#"{
  "le": {
    "Account": {"Email": "a@b.c", "Registration": {"body": {"status": "valid"}, "uri": "https://ca/acct/1"}, "PrivateKey": "MIIB", "KeyType": "4096"},
    "Certificates": [{"domain": {"main": "x.test", "sans": ["y.test"]}, "certificate": "Q0VSVA==", "key": "S0VZ", "Store": "default"}]
  }
}"#;
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, text).unwrap();
        let s = read_storage(&path).unwrap();
        let le = &s["le"];
        assert_eq!(le.account.as_ref().unwrap().email, "a@b.c");
        let c = &le.certificates.as_ref().unwrap()[0];
        assert_eq!(c.domain.sans, ["y.test"]);
        assert_eq!(c.pem().unwrap(), ("CERT".to_string(), "KEY".to_string()));
        write_storage(&path, &s).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back["le"]["Certificates"][0]["Store"], "default");
        assert_eq!(
            back["le"]["Account"]["Registration"]["uri"],
            "https://ca/acct/1"
        );
        std::fs::write(&path, "").unwrap();
        assert!(read_storage(&path).unwrap().is_empty());
        std::fs::write(&path, "{nope").unwrap();
        assert!(read_storage(&path).unwrap_err().contains("acme.json"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn resolvers_sharing_a_file_keep_each_others_entries() {
        let dir = std::env::temp_dir().join(format!("sy-acme-shared-{}", std::process::id()));
        let path = dir.join("acme.json");
        let entry = |email: &str| ResolverData {
            account: Some(AccountData {
                email: email.into(),
                ..AccountData::default()
            }),
            certificates: Some(Vec::new()),
        };
        save(&path, "one", &entry("one@x")).unwrap();
        save(&path, "two", &entry("two@x")).unwrap();
        save(&path, "one", &entry("one-again@x")).unwrap();
        let s = read_storage(&path).unwrap();
        assert_eq!(s["one"].account.as_ref().unwrap().email, "one-again@x");
        assert_eq!(s["two"].account.as_ref().unwrap().email, "two@x");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn csrs_for_every_key_type_traefik_names() {
        let domains = vec!["a.test".to_string(), "b.test".to_string()];
        for (kind, algorithm) in [
            ("EC256", "1.2.840.10045.2.1"),
            ("EC384", "1.2.840.10045.2.1"),
            ("RSA2048", "1.2.840.113549.1.1.1"),
        ] {
            let (der, key) = csr(&domains, kind).unwrap();
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
        assert!(csr(&domains, "RSA1024")
            .unwrap_err()
            .contains("expected EC256"));
    }

    #[test]
    fn domains_from_routers() {
        let mut routers = BTreeMap::new();
        let router = |rule: &str, resolver: &str, domains: Vec<Domain>| Router {
            rule: rule.into(),
            tls: Some(switchyard_config::tls::RouterTls {
                cert_resolver: resolver.into(),
                domains,
                ..Default::default()
            }),
            ..Default::default()
        };
        routers.insert(
            "a".into(),
            router("Host(`a.test`) || Host(`B.test`)", "le", vec![]),
        );
        routers.insert(
            "b".into(),
            router(
                "PathPrefix(`/`)",
                "le",
                vec![Domain {
                    main: "main.test".into(),
                    sans: vec!["alt.test".into()],
                }],
            ),
        );
        routers.insert("c".into(), router("Host(`other.test`)", "other", vec![]));
        routers.insert("d".into(), router("Host(`*.wild.test`)", "le", vec![]));
        // A v2 rule: two hosts in one Host, and Headers.
        routers.insert(
            "e".into(),
            router(
                "Host(`v2a.test`, `v2b.test`) && Headers(`X`, `1`)",
                "le",
                vec![],
            ),
        );
        assert_eq!(
            wanted_domains(&routers, "le", false),
            vec![
                vec!["a.test".to_string()],
                vec!["b.test".to_string()],
                vec!["main.test".to_string(), "alt.test".to_string()],
                vec!["v2a.test".to_string()],
                vec!["v2b.test".to_string()],
            ]
        );
    }
}
