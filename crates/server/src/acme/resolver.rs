//! The resolver task: follows every merged configuration for the domains
//! its routers want (their `tls.domains`, else their `Host` values, or for
//! TCP routers their `HostSNI` values, and the default store's
//! `defaultGeneratedCert`), serves what `acme.json` holds,
//! orders what is missing or due for renewal, retries failures with
//! backoff, saves the storage and sends its certificates to the watcher as
//! the dynamic configuration of the provider `<resolver>.acme`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use switchyard_config::dynamic::{Configuration, Router};
use switchyard_config::static_config::Acme;
use switchyard_config::tls::{CertificateEntry, Domain, TlsConfiguration};
use switchyard_config::Node;
use switchyard_providers::Message;
use switchyard_rules::tcp::parse_tcp;
use switchyard_rules::Syntax;
use tokio::sync::mpsc;

use super::challenges::{ChallengeKind, Challenges};
use super::client::{Client, OrderWish};
use super::dns01::DnsHook;
use super::keys::AccountKey;
use super::shared::{Change, Shared};
use super::storage::{
    domain_set, lego_key_type, read_storage, save, AccountData, Registration, ResolverData,
    StoredCert, StoredDomain,
};

/// The domains routers want from `resolver`: their `tls.domains`, else the
/// `Host` values of their rule (wildcards need DNS-01 and are skipped).
pub fn wanted_domains(
    routers: &BTreeMap<String, Arc<Router>>,
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
            domain_sets(&tls.domains)
        };
        add_sets(&mut out, sets, resolver, wildcards);
    }
    out
}

/// The domains the TCP routers of `tcp` (the merged `tcp` section) want
/// from `resolver`, as Traefik reads them: their `tls.domains`, else one
/// certificate for all the `HostSNI` values of their rule (the first is
/// its main name; `HostSNI(`*`)` names none). Passthrough routers end no
/// TLS and want none.
pub fn wanted_tcp_domains(tcp: &Node, resolver: &str, wildcards: bool) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for router in switchyard_config::tcp::decode(tcp).routers.values() {
        let Ok(router) = router else { continue };
        let Some(tls) = &router.tls else { continue };
        if tls.cert_resolver != resolver || tls.passthrough {
            continue;
        }
        let sets = if tls.domains.is_empty() {
            // Either syntax, as Traefik's `ParseHostSNI` reads rules.
            let rule = parse_tcp(&router.rule, Syntax::V3)
                .or_else(|_| parse_tcp(&router.rule, Syntax::V2));
            match rule.map(|r| r.host_sni_values()) {
                Ok(hosts) if !hosts.is_empty() => vec![hosts],
                _ => Vec::new(),
            }
        } else {
            domain_sets(&tls.domains)
        };
        add_sets(&mut out, sets, resolver, wildcards);
    }
    out
}

/// One set (main name first, then the SANs) per `tls.domains` entry.
fn domain_sets(domains: &[Domain]) -> Vec<Vec<String>> {
    domains
        .iter()
        .map(|d| domain_set(&d.main, &d.sans))
        .collect()
}

/// Adds the sets not in `out` yet, leaving out those with an empty name
/// and, without DNS-01 (`wildcards`), those with a wildcard (said).
fn add_sets(out: &mut Vec<Vec<String>>, sets: Vec<Vec<String>>, resolver: &str, wildcards: bool) {
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
        let shared = match self.shared_storage() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(resolver = %self.name, "{e}: this resolver obtains no certificates");
                return;
            }
        };
        let mut data = match &shared {
            Some(s) => s.load().await.unwrap_or_else(|e| {
                tracing::error!(resolver = %self.name, "{e}; serving what it holds once it answers");
                ResolverData::default()
            }),
            None => match read_storage(&path) {
                Ok(s) => s.get(&self.name).cloned().unwrap_or_default(),
                Err(e) => {
                    tracing::error!(resolver = %self.name, "{e}; starting with an empty one");
                    ResolverData::default()
                }
            },
        };
        self.publish(&data).await;
        let mut changes = shared.as_ref().map(|s| s.watch(self.challenges.clone()));
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
                    let wildcards = self.settings.dns_challenge.is_some();
                    let mut w = wanted_domains(&routers, &self.name, wildcards);
                    if let Some(tcp) = &c.tcp {
                        for set in wanted_tcp_domains(tcp, &self.name, wildcards) {
                            if !w.contains(&set) {
                                w.push(set);
                            }
                        }
                    }
                    if let Some(set) = c.tls.as_ref().and_then(|t| default_generated(t, &self.name)) {
                        if !w.contains(&set) {
                            w.push(set);
                        }
                    }
                    if w == wanted { continue; }
                    wanted = w;
                }
                change = next_change(&mut changes) => {
                    // Another instance stored a certificate (or the store
                    // is back): serve what it holds now.
                    if change.is_none() { changes = None; continue; }
                    if let Some(s) = &shared {
                        match s.load().await {
                            Ok(d) => {
                                adopt(&mut data, d);
                                self.publish(&data).await;
                            }
                            Err(e) => tracing::warn!(resolver = %self.name, "{e}"),
                        }
                    }
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
                if let Some(s) = &shared {
                    match self.take_order(s, &mut data, set, now).await {
                        Ok(true) => {}
                        Ok(false) => {
                            // Stored meanwhile, or another instance orders
                            // it: look again when it tells, or in 30 s.
                            changed = true;
                            let wait = Duration::from_secs(30);
                            backoff.insert(set.clone(), (tokio::time::Instant::now() + wait, wait));
                            continue;
                        }
                        Err(e) => {
                            let wait = Duration::from_secs(30);
                            backoff.insert(set.clone(), (tokio::time::Instant::now() + wait, wait));
                            tracing::error!(resolver = %self.name, domains = ?set, "{e}");
                            continue;
                        }
                    }
                }
                let result = self
                    .obtain(&mut client, &mut data, set, shared.as_deref())
                    .await;
                if let Some(s) = &shared {
                    s.clear_challenges().await;
                }
                match result {
                    Ok(stored) => {
                        if let Some(s) = &shared {
                            if let Err(e) = s.store_certificate(set, &stored).await {
                                tracing::error!(resolver = %self.name, domains = ?set, "certificate obtained but not shared: {e}");
                            }
                        }
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
                if let Some(s) = &shared {
                    s.unlock(set).await;
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
            if changed && shared.is_none() {
                if let Err(e) = save(&path, &self.name, &data) {
                    tracing::error!(resolver = %self.name, "cannot save the ACME storage: {e}");
                }
            }
            if changed {
                self.publish(&data).await;
            }
        }
    }

    /// The shared storage, when `sharedStorage` is set.
    fn shared_storage(&self) -> Result<Option<Arc<Shared>>, String> {
        match &self.settings.shared_storage {
            None => Ok(None),
            Some(s) => {
                let redis = s
                    .redis
                    .as_ref()
                    .ok_or("certificatesResolvers.*.acme.sharedStorage needs redis")?;
                Ok(Some(Arc::new(Shared::new(&self.name, redis)?)))
            }
        }
    }

    /// With shared storage, before ordering `set`: true when this instance
    /// holds the lock on ordering it and the store still lacks it; false
    /// when the store has it now (then `data` holds it) or another instance
    /// is ordering it.
    async fn take_order(
        &self,
        shared: &Shared,
        data: &mut ResolverData,
        set: &[String],
        now: i64,
    ) -> Result<bool, String> {
        let fresh_in = |d: &ResolverData| {
            d.certificates
                .iter()
                .flatten()
                .any(|c| Resolver::fresh(c, set, now, self.settings.certificates_duration))
        };
        adopt(data, shared.load().await?);
        if fresh_in(data) {
            return Ok(false);
        }
        if !shared.lock(set).await? {
            tracing::info!(resolver = %self.name, domains = ?set, "another instance is ordering this certificate; waiting for it");
            return Ok(false);
        }
        // It may have been stored between the read and the lock.
        adopt(data, shared.load().await?);
        if fresh_in(data) {
            shared.unlock(set).await;
            return Ok(false);
        }
        tracing::info!(resolver = %self.name, domains = ?set, "ordering the certificate for every instance (lock held)");
        Ok(true)
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
        shared: Option<&Shared>,
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
                let account = AccountData {
                    email: self.settings.email.clone(),
                    registration: Some(Registration { body, uri: kid }),
                    private_key: STANDARD.encode(&c.key.der),
                    // As Traefik: the certificates' key type, in lego's words.
                    key_type: lego_key_type(self.key_type()).to_string(),
                };
                // With shared storage the first account stored is every
                // instance's (this order still goes out on this one).
                data.account = Some(match shared {
                    Some(s) => s.store_account(&account).await?,
                    None => account,
                });
            }
            *client = Some(c);
        }
        let c = client.as_mut().ok_or("no ACME client")?;
        let wish = OrderWish {
            key_type: self.key_type(),
            preferred_chain: &self.settings.preferred_chain,
            profile: self.settings.profile.as_deref(),
            csr: super::keys::CsrOptions {
                no_common_name: self.settings.disable_common_name,
                emails: self.settings.email_addresses.clone(),
            },
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
            .order(set, &wish, kind, &self.challenges, dns.as_ref(), shared)
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

/// The store's account and certificates replace `data`'s (this instance's
/// account stays when the store has none yet).
fn adopt(data: &mut ResolverData, stored: ResolverData) {
    if stored.account.is_some() {
        data.account = stored.account;
    }
    data.certificates = stored.certificates;
}

/// The next change the shared storage reports; never, without one.
async fn next_change(changes: &mut Option<mpsc::Receiver<Change>>) -> Option<Change> {
    match changes {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

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
    fn domains_from_routers() {
        let mut routers = BTreeMap::new();
        let router = |rule: &str, resolver: &str, domains: Vec<Domain>| {
            Arc::new(Router {
                rule: rule.into(),
                tls: Some(Box::new(switchyard_config::tls::RouterTls {
                    cert_resolver: resolver.into(),
                    domains,
                    ..Default::default()
                })),
                ..Default::default()
            })
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

    #[test]
    fn domains_from_tcp_routers() {
        let yaml = r#"
tcp:
  routers:
    both:
      rule: "HostSNI(`db.test`) || HostSNI(`DB2.test`)"
      service: s
      tls: {certResolver: le}
    listed:
      rule: "HostSNI(`*`)"
      service: s
      tls:
        certResolver: le
        domains: [{main: mq.test, sans: [mqtt.test]}]
    v2:
      rule: "HostSNI(`v2a.test`, `v2b.test`)"
      ruleSyntax: v2
      service: s
      tls: {certResolver: le}
    any:
      rule: "HostSNI(`*`)"
      service: s
      tls: {certResolver: le}
    passthrough:
      rule: "HostSNI(`pass.test`)"
      service: s
      tls: {certResolver: le, passthrough: true}
    wild:
      rule: "HostSNI(`*.wild.test`)"
      service: s
      tls: {certResolver: le}
    other:
      rule: "HostSNI(`other.test`)"
      service: s
      tls: {certResolver: other}
    plain:
      rule: "HostSNI(`*`)"
      service: s
"#;
        let config = switchyard_config::loader::parse_dynamic(std::path::Path::new("d.yml"), yaml)
            .unwrap_or_else(|e| panic!("fixture: {e}"));
        let tcp = config.tcp.unwrap_or_else(|| panic!("no tcp section"));
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // One certificate per router (Traefik's `resolveDomains`), in the
        // routers' name order.
        assert_eq!(
            wanted_tcp_domains(&tcp, "le", false),
            vec![
                set(&["db.test", "db2.test"]),
                set(&["mq.test", "mqtt.test"]),
                set(&["v2a.test", "v2b.test"]),
            ]
        );
        assert!(wanted_tcp_domains(&tcp, "le", true).contains(&set(&["*.wild.test"])));
        assert_eq!(
            wanted_tcp_domains(&tcp, "other", false),
            vec![set(&["other.test"])]
        );
    }
}
