//! DNS-01 (`dnsChallenge`) through a generic hook, as lego's `exec` and
//! `httpreq` providers work, with their environment variables: the TXT
//! record is presented, waited for until the recursive resolvers see it
//! (lego's propagation check, unless disabled), and cleaned up once the CA
//! has validated it, or failed to.

mod txt;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{Method, Request};
use serde::Deserialize;
use serde_json::json;
use sha2::Digest;
use switchyard_proxy::upstream::{Protocol, TransportSettings, Upstream};

use super::b64u;

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

/// A TXT record presented for one DNS-01 validation.
pub(super) struct TxtRecord {
    /// `_acme-challenge.<domain>.`
    fqdn: String,
    /// Base64url of the SHA-256 of the key authorization.
    value: String,
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
            .map(|r| txt::parse_resolver(r).map_err(|e| format!("dnsChallenge.resolvers: {e}")))
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

    /// Presents the TXT record that answers a DNS-01 validation of
    /// `domain` (an authorization's identifier, lower-case; a wildcard's
    /// record is its base domain's) with `key_auth`, waits `delay`, then,
    /// unless checks are disabled, until the resolvers see it. A record
    /// that never becomes visible is cleaned up again.
    pub(super) async fn present(&self, domain: &str, key_auth: &str) -> Result<TxtRecord, String> {
        let record = TxtRecord {
            fqdn: format!("_acme-challenge.{}.", domain.trim_start_matches("*.")),
            value: b64u(&sha2::Sha256::digest(key_auth.as_bytes())),
        };
        self.run("present", &record.fqdn, &record.value).await?;
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.check {
            if let Err(e) = self.wait_visible(&record.fqdn, &record.value).await {
                self.cleanup(&record).await;
                return Err(e);
            }
        }
        Ok(record)
    }

    /// Removes `record`; a failure is logged, as it fails no order.
    pub(super) async fn cleanup(&self, record: &TxtRecord) {
        if let Err(e) = self.run("cleanup", &record.fqdn, &record.value).await {
            tracing::warn!("DNS-01 cleanup of {}: {e}", record.fqdn);
        }
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
            txt::system_resolvers()
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
                match txt::txt(*server, fqdn, Duration::from_secs(5)).await {
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

    /// Runs the hook's `action` (`present` or `cleanup`) for the record.
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
