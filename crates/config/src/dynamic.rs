//! Traefik v3's dynamic configuration (HTTP so far), as providers send it.
//! Middlewares are kept raw per type and decoded one by one by the builder
//! (see [`crate::middlewares`]). Keys Traefik knows that Switchyard does
//! not act on are taken out before the decode and recorded on their element
//! ([`Unsupported`], see [`crate::dynamic_schema`]).
//!
//! Routers and services are held behind an [`Arc`]: the file provider's
//! parse, the configuration it sends, the watcher's latest one per
//! provider and the merged one all point at the same elements instead of
//! each holding a copy (at 10,000 routers a copy is about 10 MB).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Duration, Node};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Configuration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::TlsConfiguration>,
    /// Size and modification time of the files the configuration names
    /// (certificates, keys), so that replacing one is a change too.
    #[serde(skip)]
    pub file_stamps: Vec<(String, u64, u128)>,
}

impl Configuration {
    /// The certificate and key files the `tls` section names by path.
    pub fn tls_files(&self) -> Vec<String> {
        let Some(tls) = &self.tls else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for c in &tls.certificates {
            out.push(c.cert_file.clone());
            out.push(c.key_file.clone());
        }
        for s in tls.stores.values() {
            if let Some(c) = &s.default_certificate {
                out.push(c.cert_file.clone());
                out.push(c.key_file.clone());
            }
        }
        for o in tls.options.values() {
            out.extend(o.client_auth.ca_files.iter().cloned());
        }
        out.retain(|f| !f.is_empty() && !f.contains("-----BEGIN"));
        out.sort();
        out.dedup();
        out
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HttpConfiguration {
    #[serde(skip_serializing_if = "BTreeMap::is_empty", with = "shared")]
    pub routers: BTreeMap<String, Arc<Router>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", with = "shared")]
    pub services: BTreeMap<String, Arc<Service>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", with = "shared")]
    pub middlewares: BTreeMap<String, Arc<Middleware>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub servers_transports: BTreeMap<String, ServersTransport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Node>,
}

mod same;

/// (De)serialises a map of shared elements as the map of the elements.
mod shared {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        map: &BTreeMap<String, Arc<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(map.iter().map(|(k, v)| (k, &**v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Arc<T>>, D::Error> {
        let map = BTreeMap::<String, T>::deserialize(d)?;
        Ok(map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

/// The keys of one element that Switchyard reads but does not act on, as
/// written within the element (`forwardAuth.maxResponseBodySize`): those
/// not implemented yet leave the element working, with a warning; a refused
/// one disables it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsupported {
    pub not_yet: Vec<String>,
    pub refused: Vec<String>,
}

impl Unsupported {
    pub fn is_empty(&self) -> bool {
        self.not_yet.is_empty() && self.refused.is_empty()
    }

    /// One warning per key not implemented yet.
    pub fn warnings(&self) -> Vec<String> {
        self.not_yet
            .iter()
            .map(|k| format!("{k} is not implemented by Switchyard yet and is ignored"))
            .collect()
    }

    /// The error of an element with refused keys.
    pub fn error(&self) -> Option<String> {
        let reasons: Vec<String> = self
            .refused
            .iter()
            .map(|k| {
                format!(
                    "{k} is not supported by Switchyard yet: {}",
                    refusal_reason(k)
                )
            })
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

/// Why ignoring a refused key would be wrong.
fn refusal_reason(key: &str) -> &'static str {
    let last = key
        .rsplit(['.', '['])
        .find(|s| !s.is_empty() && !s.ends_with(']'))
        .unwrap_or(key)
        .to_ascii_lowercase();
    match last.as_str() {
        "spiffe" => "it asks for SPIFFE verification of the servers, which would be skipped, so the transport is refused",
        "parentrefs" => "without its parent routers this router would be reachable without their middlewares, so it is refused",
        "plugin" => "the middleware would do nothing, so it is refused",
        "tls" => "it asks for TLS to Redis, which would be skipped, so the middleware is refused",
        _ => "ignoring it would weaken what the configuration asks for, so the element is refused",
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Router {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<String>,
    pub service: String,
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_syntax: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<crate::tls::RouterTls>>,
    /// Not acted on yet (no access log, metrics or tracing): kept as
    /// written for the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observability: Option<Box<Node>>,
    /// Switchyard's extension: how long the service may take to begin its
    /// answer before the client gets 504. Off by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<Duration>,
    #[serde(skip)]
    pub unsupported: Unsupported,
    /// Set by a provider whose default rule gave this router its rule
    /// (Docker's `defaultRule`): Traefik then guards it against loops
    /// (`X-Traefik-Router`, see `DenyRouterRecursion`).
    #[serde(skip)]
    pub default_rule: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Service {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highest_random_weight: Option<Box<Node>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted: Option<Box<Node>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirroring: Option<Box<Node>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<Box<Node>>,
    #[serde(skip)]
    pub unsupported: Unsupported,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LoadBalancerService {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Box<Sticky>>,
    pub servers: Vec<Server>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Box<HealthCheck>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<PassiveHealthCheck>,
    pub pass_host_header: Option<bool>,
    pub response_forwarding: ResponseForwarding,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers_transport: Option<String>,
}

impl Default for LoadBalancerService {
    fn default() -> Self {
        LoadBalancerService {
            sticky: None,
            servers: Vec::new(),
            strategy: Some("wrr".into()),
            health_check: None,
            passive_health_check: None,
            pass_host_header: Some(true),
            response_forwarding: ResponseForwarding::default(),
            servers_transport: None,
        }
    }
}

/// `weighted`: a weighted round robin over services.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WeightedRoundRobin {
    pub services: Vec<WeightedService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Sticky>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Node>,
}

/// `highestRandomWeight`: rendezvous hashing of the client IP over services.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HighestRandomWeight {
    pub services: Vec<WeightedService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Node>,
}

/// `mirroring`: the main service answers; a share of requests is copied to
/// each mirror.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Mirroring {
    pub service: String,
    pub mirror_body: bool,
    pub max_body_size: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<MirrorService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Node>,
}

impl Default for Mirroring {
    fn default() -> Self {
        Mirroring {
            service: String::new(),
            mirror_body: true,
            max_body_size: -1,
            mirrors: Vec::new(),
            health_check: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MirrorService {
    pub name: String,
    pub percent: i64,
}

/// `sticky`: session affinity by cookie.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Sticky {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie: Option<Cookie>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Cookie {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secure: bool,
    #[serde(rename = "httpOnly", skip_serializing_if = "std::ops::Not::not")]
    pub http_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub same_site: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_age: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

impl Default for Cookie {
    fn default() -> Self {
        Cookie {
            name: String::new(),
            secure: false,
            http_only: false,
            same_site: String::new(),
            max_age: 0,
            path: Some("/".into()),
            domain: String::new(),
        }
    }
}

/// `passiveHealthCheck`: a server that fails `maxFailedAttempts` times in a
/// row within `failureWindow` is taken out for `failureWindow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PassiveHealthCheck {
    pub failure_window: Duration,
    pub max_failed_attempts: i64,
}

impl Default for PassiveHealthCheck {
    fn default() -> Self {
        PassiveHealthCheck {
            failure_window: Duration::from_secs(10),
            max_failed_attempts: 1,
        }
    }
}

/// `failover`: `service` while it is up, else `fallback`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FailoverService {
    pub service: String,
    pub fallback: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<FailoverErrors>,
}

/// `failover.errors`: when an answer of the main service hands the request
/// to the fallback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FailoverErrors {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<String>,
    /// Negative: no limit (Traefik's default, -1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_request_body_bytes: Option<i64>,
}

impl Default for FailoverErrors {
    fn default() -> Self {
        FailoverErrors {
            status: Vec::new(),
            max_request_body_bytes: Some(-1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WeightedService {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Answer this status instead of calling the service (its name is then
    /// a label only): what the Gateway API provider puts in place of a
    /// backend it cannot load, as Traefik's does. Not shown (Traefik's API
    /// does not show it) and not read from files (`x` in
    /// `dynamic_keys.txt`: the key schema drops it).
    #[serde(skip_serializing)]
    pub status: Option<u16>,
    /// As `status`, for gRPC clients: a `200` carrying this gRPC status as
    /// JSON (Traefik's answer for a GRPCRoute backend it cannot load).
    #[serde(skip_serializing)]
    pub grpc_status: Option<GrpcStatus>,
}

/// A gRPC status a `weighted` child answers (see [`WeightedService`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GrpcStatus {
    pub code: i32,
    pub msg: String,
}

impl Default for WeightedService {
    fn default() -> Self {
        WeightedService {
            name: String::new(),
            weight: Some(1),
            status: None,
            grpc_status: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResponseForwarding {
    pub flush_interval: Duration,
}

impl Default for ResponseForwarding {
    fn default() -> Self {
        ResponseForwarding {
            flush_interval: Duration::from_millis(100),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Server {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preserve_path: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HealthCheck {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    pub path: String,
    pub method: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub status: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub port: i64,
    pub interval: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhealthy_interval: Option<Duration>,
    pub timeout: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub follow_redirects: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            scheme: None,
            mode: None,
            path: String::new(),
            method: "GET".into(),
            status: 0,
            port: 0,
            interval: Duration::from_secs(30),
            unhealthy_interval: None,
            timeout: Duration::from_secs(5),
            hostname: None,
            follow_redirects: true,
            headers: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServersTransport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
    #[serde(rename = "rootCAs", skip_serializing_if = "Vec::is_empty")]
    pub root_cas: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertAndKey>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    pub max_idle_conns_per_host: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarding_timeouts: Option<ForwardingTimeouts>,
    #[serde(rename = "disableHTTP2", skip_serializing_if = "std::ops::Not::not")]
    pub disable_http2: bool,
    #[serde(rename = "peerCertURI", skip_serializing_if = "Option::is_none")]
    pub peer_cert_uri: Option<String>,
    /// From Traefik's next release (3.7 refuses it): names one of which the
    /// server's certificate must carry.
    #[serde(rename = "peerCertSANs", skip_serializing_if = "Vec::is_empty")]
    pub peer_cert_sans: Vec<PeerCertSan>,
    #[serde(skip)]
    pub unsupported: Unsupported,
}

/// One `peerCertSANs` entry: a `type` (`DNSName` or `URI`, spelled so) and
/// the `value` to find among the certificate's names of that type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PeerCertSan {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl Default for ServersTransport {
    fn default() -> Self {
        ServersTransport {
            server_name: None,
            insecure_skip_verify: false,
            root_cas: Vec::new(),
            certificates: Vec::new(),
            cipher_suites: Vec::new(),
            min_version: None,
            max_version: None,
            max_idle_conns_per_host: 200,
            forwarding_timeouts: None,
            disable_http2: false,
            peer_cert_uri: None,
            peer_cert_sans: Vec::new(),
            unsupported: Unsupported::default(),
        }
    }
}

/// A certificate and its key, each a file path or inline PEM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CertAndKey {
    pub cert_file: String,
    pub key_file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ForwardingTimeouts {
    pub dial_timeout: Duration,
    pub response_header_timeout: Duration,
    pub idle_conn_timeout: Duration,
    pub read_idle_timeout: Duration,
    pub ping_timeout: Duration,
}

impl Default for ForwardingTimeouts {
    fn default() -> Self {
        ForwardingTimeouts {
            dial_timeout: Duration::from_secs(30),
            response_header_timeout: Duration::ZERO,
            idle_conn_timeout: Duration::from_secs(90),
            read_idle_timeout: Duration::ZERO,
            ping_timeout: Duration::from_secs(15),
        }
    }
}

/// A middleware as written: its type name(s) and raw settings, and the
/// keys Switchyard does not act on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Middleware(pub BTreeMap<String, Node>, #[serde(skip)] pub Unsupported);

impl Middleware {
    /// The type names it declares (one, when valid).
    pub fn kinds(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }
}

pub use crate::middlewares::*;
