//! The ACME protocol (RFC 8555) as a client speaks it: the CA's directory,
//! nonces, requests signed with the account key (JWS), the account (with
//! an external account binding when the CA asks for one), orders and their
//! authorizations, polling, and the certificate chain, the CA's alternates
//! included when `preferredChain` picks among them.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use switchyard_config::static_config::{Acme, Eab};
use switchyard_proxy::upstream::{Protocol, TransportSettings, Upstream};

use super::b64u;
use super::challenges::{ChallengeKind, Challenges, Pending};
use super::dns01::DnsHook;
use super::keys::{csr, AccountKey};
use super::shared::Shared;

/// A session with one CA under one account key.
pub(super) struct Client {
    http: Upstream,
    /// `clientTimeout`: one whole exchange with the CA.
    timeout: Duration,
    /// `certificateTimeout`: from finalizing an order to its certificate.
    certificate_timeout: Duration,
    directory: Value,
    pub(super) key: AccountKey,
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

    /// Reads the directory of `settings.caServer`, with its transport
    /// settings (`caCertificates`, `caServerName`, timeouts).
    pub(super) async fn new(settings: &Acme, key: AccountKey) -> Result<Client, String> {
        let http = Upstream::new(TransportSettings {
            root_cas: settings.ca_certificates.clone(),
            system_roots_too: settings.ca_system_cert_pool,
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
    pub(super) async fn register(
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
    pub(super) async fn order(
        &mut self,
        domains: &[String],
        wish: &OrderWish<'_>,
        kind: ChallengeKind,
        challenges: &Challenges,
        dns: Option<&DnsHook>,
        shared: Option<&Shared>,
    ) -> Result<(String, String), String> {
        let url = self.url("newOrder")?;
        let a = self
            .post(&url, Some(&new_order(domains, wish.profile)))
            .await?;
        let order_url = a.location.clone().ok_or("the CA gave the order no URL")?;
        let order = a.json();
        let thumbprint = self.key.thumbprint();
        let mut pending = Pending::new(challenges);
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
            let domain = authz["identifier"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let dns_record = match (kind, dns) {
                (ChallengeKind::Http01, _) => {
                    if let Some(s) = shared {
                        s.add_challenge("http", &token, &key_auth).await?;
                    }
                    pending.answer_http(token, key_auth);
                    None
                }
                (ChallengeKind::TlsAlpn01, _) => {
                    if let Some(s) = shared {
                        s.add_challenge("alpn", &domain, &key_auth).await?;
                    }
                    pending.answer_alpn(domain, &key_auth)?;
                    None
                }
                (ChallengeKind::Dns01, Some(hook)) => Some(hook.present(&domain, &key_auth).await?),
                (ChallengeKind::Dns01, None) => return Err("dnsChallenge without a hook".into()),
            };
            if shared.is_some() && kind != ChallengeKind::Dns01 {
                // The CA may reach any instance: let the others mirror it.
                tokio::time::sleep(super::shared::PROPAGATION).await;
            }
            let challenge_url = challenge["url"].as_str().unwrap_or_default().to_string();
            let validated = match self.post(&challenge_url, Some(&json!({}))).await {
                Ok(_) => self.poll(&authz_url, &["valid"]).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let (Some(record), Some(hook)) = (&dns_record, dns) {
                hook.cleanup(record).await;
            }
            validated?;
        }
        drop(pending);
        self.poll(&order_url, &["ready", "valid"]).await?;
        // RSA keys take seconds to make: off the async threads.
        let (csr, key_pem) = {
            let (d, k, o) = (
                domains.to_vec(),
                wish.key_type.to_string(),
                wish.csr.clone(),
            );
            tokio::task::spawn_blocking(move || csr(&d, &k, &o))
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

/// What an order asks for beyond its domains.
pub(super) struct OrderWish<'a> {
    /// Traefik's key type (EC256 … RSA8192).
    pub(super) key_type: &'a str,
    /// The common name of the root the chain should end under.
    pub(super) preferred_chain: &'a str,
    /// The CA's certificate profile (draft-ietf-acme-profiles).
    pub(super) profile: Option<&'a str>,
    /// The request's common name and e-mail addresses.
    pub(super) csr: super::keys::CsrOptions,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
