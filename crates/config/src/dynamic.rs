//! Traefik v3's dynamic configuration (HTTP so far), as providers send it.
//! Middlewares are kept raw per type and decoded one by one by the builder,
//! so an unknown type or a bad field is that middleware's error alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::from_node;
use crate::node::Value;
use crate::{ConfigError, Duration, Node};

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
    pub tls: Option<Node>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HttpConfiguration {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub routers: BTreeMap<String, Router>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, Service>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub middlewares: BTreeMap<String, Middleware>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub servers_transports: BTreeMap<String, ServersTransport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Node>,
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
    pub tls: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observability: Option<Node>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Service {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highest_random_weight: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirroring: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<Node>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LoadBalancerService {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Node>,
    pub servers: Vec<Server>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<Node>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificates: Option<Node>,
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
    #[serde(rename = "peerCertSANs", skip_serializing_if = "Option::is_none")]
    pub peer_cert_sans: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spiffe: Option<Node>,
}

impl Default for ServersTransport {
    fn default() -> Self {
        ServersTransport {
            server_name: None,
            insecure_skip_verify: false,
            root_cas: Vec::new(),
            certificates: None,
            cipher_suites: Vec::new(),
            min_version: None,
            max_version: None,
            max_idle_conns_per_host: 200,
            forwarding_timeouts: None,
            disable_http2: false,
            peer_cert_uri: None,
            peer_cert_sans: None,
            spiffe: None,
        }
    }
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

/// A middleware as written: its type name(s) and raw settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Middleware(pub BTreeMap<String, Node>);

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

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StripPrefix {
    pub prefixes: Vec<String>,
    pub force_slash: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StripPrefixRegex {
    pub regex: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AddPrefix {
    pub prefix: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplacePath {
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplacePathRegex {
    pub regex: String,
    pub replacement: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Chain {
    pub middlewares: Vec<String>,
}

/// `headers`: the custom headers are run today; the rest of Traefik's fields
/// are read (so a valid file decodes) and reported as not supported yet.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Headers {
    pub custom_request_headers: Option<BTreeMap<String, String>>,
    pub custom_response_headers: Option<BTreeMap<String, String>>,
    pub access_control_allow_credentials: Option<Node>,
    pub access_control_allow_headers: Option<Node>,
    pub access_control_allow_methods: Option<Node>,
    pub access_control_allow_origin_list: Option<Node>,
    pub access_control_allow_origin_list_regex: Option<Node>,
    pub access_control_expose_headers: Option<Node>,
    pub access_control_max_age: Option<Node>,
    pub add_vary_header: Option<Node>,
    pub allowed_hosts: Option<Node>,
    pub hosts_proxy_headers: Option<Node>,
    #[serde(rename = "sslProxyHeaders")]
    pub ssl_proxy_headers: Option<Node>,
    #[serde(rename = "stsSeconds")]
    pub sts_seconds: Option<Node>,
    #[serde(rename = "stsIncludeSubdomains")]
    pub sts_include_subdomains: Option<Node>,
    #[serde(rename = "stsPreload")]
    pub sts_preload: Option<Node>,
    #[serde(rename = "forceSTSHeader")]
    pub force_sts_header: Option<Node>,
    pub frame_deny: Option<Node>,
    pub custom_frame_options_value: Option<Node>,
    pub content_type_nosniff: Option<Node>,
    pub browser_xss_filter: Option<Node>,
    #[serde(rename = "customBrowserXSSValue")]
    pub custom_browser_xss_value: Option<Node>,
    pub content_security_policy: Option<Node>,
    pub content_security_policy_report_only: Option<Node>,
    pub public_key: Option<Node>,
    pub referrer_policy: Option<Node>,
    pub permissions_policy: Option<Node>,
    pub feature_policy: Option<Node>,
    pub is_development: Option<Node>,
    pub ssl_redirect: Option<Node>,
    pub ssl_temporary_redirect: Option<Node>,
    pub ssl_host: Option<Node>,
    pub ssl_force_host: Option<Node>,
}

impl Headers {
    /// Fields present that Switchyard does not apply yet.
    pub fn unsupported_fields(&self) -> Vec<&'static str> {
        let fields: [(&'static str, bool); 31] = [
            (
                "accessControlAllowCredentials",
                self.access_control_allow_credentials.is_some(),
            ),
            (
                "accessControlAllowHeaders",
                self.access_control_allow_headers.is_some(),
            ),
            (
                "accessControlAllowMethods",
                self.access_control_allow_methods.is_some(),
            ),
            (
                "accessControlAllowOriginList",
                self.access_control_allow_origin_list.is_some(),
            ),
            (
                "accessControlAllowOriginListRegex",
                self.access_control_allow_origin_list_regex.is_some(),
            ),
            (
                "accessControlExposeHeaders",
                self.access_control_expose_headers.is_some(),
            ),
            ("accessControlMaxAge", self.access_control_max_age.is_some()),
            ("addVaryHeader", self.add_vary_header.is_some()),
            ("allowedHosts", self.allowed_hosts.is_some()),
            ("hostsProxyHeaders", self.hosts_proxy_headers.is_some()),
            ("sslProxyHeaders", self.ssl_proxy_headers.is_some()),
            ("stsSeconds", self.sts_seconds.is_some()),
            (
                "stsIncludeSubdomains",
                self.sts_include_subdomains.is_some(),
            ),
            ("stsPreload", self.sts_preload.is_some()),
            ("forceSTSHeader", self.force_sts_header.is_some()),
            ("frameDeny", self.frame_deny.is_some()),
            (
                "customFrameOptionsValue",
                self.custom_frame_options_value.is_some(),
            ),
            ("contentTypeNosniff", self.content_type_nosniff.is_some()),
            ("browserXssFilter", self.browser_xss_filter.is_some()),
            (
                "customBrowserXSSValue",
                self.custom_browser_xss_value.is_some(),
            ),
            (
                "contentSecurityPolicy",
                self.content_security_policy.is_some(),
            ),
            (
                "contentSecurityPolicyReportOnly",
                self.content_security_policy_report_only.is_some(),
            ),
            ("publicKey", self.public_key.is_some()),
            ("referrerPolicy", self.referrer_policy.is_some()),
            ("permissionsPolicy", self.permissions_policy.is_some()),
            ("featurePolicy", self.feature_policy.is_some()),
            ("isDevelopment", self.is_development.is_some()),
            ("sslRedirect", self.ssl_redirect.is_some()),
            (
                "sslTemporaryRedirect",
                self.ssl_temporary_redirect.is_some(),
            ),
            ("sslHost", self.ssl_host.is_some()),
            ("sslForceHost", self.ssl_force_host.is_some()),
        ];
        fields
            .iter()
            .filter(|(_, present)| *present)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// A decoded middleware.
#[derive(Debug, Clone, PartialEq)]
pub enum MiddlewareKind {
    StripPrefix(StripPrefix),
    StripPrefixRegex(StripPrefixRegex),
    AddPrefix(AddPrefix),
    ReplacePath(ReplacePath),
    ReplacePathRegex(ReplacePathRegex),
    Chain(Chain),
    Headers(Box<Headers>),
    /// Any other type, decoded by whoever supports it.
    Other {
        kind: String,
        node: Node,
    },
}

/// Decodes the one type a middleware declares.
pub fn decode_middleware(m: &Middleware) -> Result<MiddlewareKind, ConfigError> {
    let mut entries = m.0.iter();
    let (kind, node) = match (entries.next(), entries.next()) {
        (None, _) => return Err(ConfigError::new("middleware has no type")),
        (Some(one), None) => one,
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "cannot create middleware: multi-types middleware not supported, consider declaring two different pieces of middleware instead",
            ))
        }
    };
    let within = |e: ConfigError| {
        let mut e = e;
        e.path.insert(0, kind.clone());
        e
    };
    let node = match &node.value {
        // `stripPrefix:` with nothing under it is the type with defaults.
        Value::Scalar(crate::node::Scalar::Null) => Node::empty_map(node.location.clone()),
        _ => node.clone(),
    };
    Ok(match kind.to_ascii_lowercase().as_str() {
        "stripprefix" => MiddlewareKind::StripPrefix(from_node(&node).map_err(within)?),
        "stripprefixregex" => MiddlewareKind::StripPrefixRegex(from_node(&node).map_err(within)?),
        "addprefix" => MiddlewareKind::AddPrefix(from_node(&node).map_err(within)?),
        "replacepath" => MiddlewareKind::ReplacePath(from_node(&node).map_err(within)?),
        "replacepathregex" => MiddlewareKind::ReplacePathRegex(from_node(&node).map_err(within)?),
        "chain" => MiddlewareKind::Chain(from_node(&node).map_err(within)?),
        "headers" => MiddlewareKind::Headers(Box::new(from_node(&node).map_err(within)?)),
        _ => MiddlewareKind::Other {
            kind: kind.clone(),
            node,
        },
    })
}
