//! The typed settings of each middleware type, decoded one middleware at a
//! time by [`decode_middleware`], so an unknown type or a bad field is that
//! middleware's error alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::from_node;
use crate::dynamic::Middleware;
use crate::gateway_filters::{HeaderModifier, RequestRedirect};
use crate::node::Value;
use crate::{ConfigError, Node};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StripPrefix {
    pub prefixes: Vec<String>,
    pub force_slash: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StripPrefixRegex {
    pub regex: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AddPrefix {
    pub prefix: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplacePath {
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplacePathRegex {
    pub regex: String,
    pub replacement: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Chain {
    pub middlewares: Vec<String>,
}

/// `headers`: custom request and response headers, CORS, and the security
/// set. Fields Traefik v3 deprecated are read and reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Headers {
    pub custom_request_headers: BTreeMap<String, String>,
    pub custom_response_headers: BTreeMap<String, String>,
    pub access_control_allow_credentials: bool,
    pub access_control_allow_headers: Vec<String>,
    pub access_control_allow_methods: Vec<String>,
    pub access_control_allow_origin_list: Vec<String>,
    pub access_control_allow_origin_list_regex: Vec<String>,
    pub access_control_expose_headers: Vec<String>,
    pub access_control_max_age: Option<i64>,
    pub add_vary_header: bool,
    pub allowed_hosts: Vec<String>,
    pub hosts_proxy_headers: Vec<String>,
    #[serde(rename = "sslProxyHeaders")]
    pub ssl_proxy_headers: BTreeMap<String, String>,
    #[serde(rename = "stsSeconds")]
    pub sts_seconds: i64,
    #[serde(rename = "stsIncludeSubdomains")]
    pub sts_include_subdomains: bool,
    #[serde(rename = "stsPreload")]
    pub sts_preload: bool,
    #[serde(rename = "forceSTSHeader")]
    pub force_sts_header: bool,
    pub frame_deny: bool,
    pub custom_frame_options_value: String,
    pub content_type_nosniff: bool,
    pub browser_xss_filter: bool,
    #[serde(rename = "customBrowserXSSValue")]
    pub custom_browser_xss_value: String,
    pub content_security_policy: String,
    pub content_security_policy_report_only: String,
    pub public_key: String,
    pub referrer_policy: String,
    pub permissions_policy: String,
    pub is_development: bool,
    /// Deprecated in Traefik v3 (use permissionsPolicy).
    pub feature_policy: Option<String>,
    /// Deprecated in Traefik v3 (use a redirectScheme middleware).
    pub ssl_redirect: Option<bool>,
    pub ssl_temporary_redirect: Option<bool>,
    pub ssl_host: Option<String>,
    pub ssl_force_host: Option<bool>,
}

impl Headers {
    /// Deprecated fields that are set (Traefik v3 ignores them too).
    pub fn deprecated_fields(&self) -> Vec<&'static str> {
        let fields = [
            ("featurePolicy", self.feature_policy.is_some()),
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
            .filter(|(_, set)| *set)
            .map(|(n, _)| *n)
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RedirectScheme {
    pub scheme: String,
    pub port: String,
    pub permanent: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RedirectRegex {
    pub regex: String,
    pub replacement: String,
    pub permanent: bool,
}

/// How a middleware finds the client's IP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IpStrategy {
    pub depth: i64,
    #[serde(rename = "excludedIPs")]
    pub excluded_ips: Vec<String>,
    pub ipv6_subnet: Option<u8>,
}

/// `ipAllowList`, and its deprecated alias `ipWhiteList`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IpAllowList {
    pub source_range: Vec<String>,
    pub ip_strategy: Option<IpStrategy>,
    pub reject_status_code: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SourceCriterion {
    pub ip_strategy: Option<IpStrategy>,
    pub request_header_name: Option<String>,
    pub request_host: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InFlightReq {
    pub amount: i64,
    pub source_criterion: Option<SourceCriterion>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BasicAuth {
    pub users: Vec<String>,
    pub users_file: Option<String>,
    pub realm: Option<String>,
    pub remove_header: bool,
    pub header_field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RateLimit {
    pub average: i64,
    pub period: crate::Duration,
    pub burst: i64,
    pub source_criterion: Option<SourceCriterion>,
    pub redis: Option<Redis>,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            average: 0,
            period: crate::Duration::from_secs(1),
            burst: 1,
            source_criterion: None,
            redis: None,
        }
    }
}

/// `rateLimit.redis`: where distributed buckets live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Redis {
    pub endpoints: Vec<String>,
    pub username: String,
    pub password: String,
    pub db: i64,
    pub pool_size: i64,
    pub read_timeout: Option<crate::Duration>,
    pub write_timeout: Option<crate::Duration>,
    pub dial_timeout: Option<crate::Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<RedisTls>,
    /// Switchyard's extension: while Redis is unreachable, limit in memory
    /// on each instance (true, the default) or refuse with 500 (false, as
    /// Traefik does).
    pub fail_open: Option<bool>,
}

impl Default for Redis {
    fn default() -> Self {
        Redis {
            endpoints: vec!["localhost:6379".into()],
            username: String::new(),
            password: String::new(),
            db: 0,
            pool_size: 0,
            read_timeout: Some(crate::Duration::from_secs(3)),
            write_timeout: Some(crate::Duration::from_secs(3)),
            dial_timeout: Some(crate::Duration::from_secs(5)),
            tls: None,
            fail_open: None,
        }
    }
}

/// `rateLimit.redis.tls`: PEM file paths.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RedisTls {
    pub ca: String,
    pub cert: String,
    pub key: String,
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Compress {
    pub encodings: Vec<String>,
    pub default_encoding: Option<String>,
    pub excluded_content_types: Vec<String>,
    pub included_content_types: Vec<String>,
    pub min_response_body_bytes: i64,
}

impl Default for Compress {
    fn default() -> Self {
        Compress {
            encodings: vec!["gzip".into(), "br".into(), "zstd".into()],
            default_encoding: None,
            excluded_content_types: Vec::new(),
            included_content_types: Vec::new(),
            min_response_body_bytes: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Retry {
    pub attempts: i64,
    pub timeout: crate::Duration,
    pub initial_interval: crate::Duration,
    pub max_request_body_bytes: Option<i64>,
    pub status: Vec<String>,
    pub disable_retry_on_network_error: bool,
    pub retry_non_idempotent_method: bool,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 0,
            timeout: crate::Duration::ZERO,
            initial_interval: crate::Duration::ZERO,
            max_request_body_bytes: Some(2 * 1024 * 1024),
            status: Vec::new(),
            disable_retry_on_network_error: false,
            retry_non_idempotent_method: false,
        }
    }
}

/// `errors`: custom error pages from another service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ErrorPage {
    pub status: Vec<String>,
    pub status_rewrites: BTreeMap<String, i64>,
    pub service: String,
    pub query: String,
    pub error_request_headers: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ForwardAuth {
    pub address: String,
    pub tls: Option<Node>,
    pub trust_forward_header: Option<bool>,
    pub auth_response_headers: Vec<String>,
    pub auth_response_headers_regex: String,
    pub auth_request_headers: Vec<String>,
    pub add_auth_cookies_to_response: Vec<String>,
    pub forward_body: bool,
    pub max_body_size: Option<i64>,
    pub preserve_location_header: bool,
    pub preserve_request_method: bool,
    #[serde(rename = "authSigninURL")]
    pub auth_signin_url: Option<String>,
}

impl Default for ForwardAuth {
    fn default() -> Self {
        ForwardAuth {
            address: String::new(),
            tls: None,
            trust_forward_header: None,
            auth_response_headers: Vec::new(),
            auth_response_headers_regex: String::new(),
            auth_request_headers: Vec::new(),
            add_auth_cookies_to_response: Vec::new(),
            forward_body: false,
            // Traefik's default: no limit.
            max_body_size: Some(-1),
            preserve_location_header: false,
            preserve_request_method: false,
            auth_signin_url: None,
        }
    }
}

/// `digestAuth`: the same fields as `basicAuth`, htdigest lines.
pub type DigestAuth = BasicAuth;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContentType {
    /// Deprecated by Traefik; `false` turns the middleware off.
    pub auto_detect: Option<bool>,
}

/// Which percent-encoded characters a path may hold (all refused unless
/// allowed, in the middleware).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EncodedCharacters {
    pub allow_encoded_slash: bool,
    pub allow_encoded_back_slash: bool,
    pub allow_encoded_null_character: bool,
    pub allow_encoded_semicolon: bool,
    pub allow_encoded_percent: bool,
    pub allow_encoded_question_mark: bool,
    pub allow_encoded_hash: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Buffering {
    pub max_request_body_bytes: i64,
    pub mem_request_body_bytes: i64,
    pub max_response_body_bytes: i64,
    pub mem_response_body_bytes: i64,
    pub retry_expression: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GrpcWeb {
    pub allow_origins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CircuitBreaker {
    pub expression: String,
    pub check_period: crate::Duration,
    pub fallback_duration: crate::Duration,
    pub recovery_duration: crate::Duration,
    pub response_code: i64,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            expression: String::new(),
            check_period: crate::Duration::from_millis(100),
            fallback_duration: crate::Duration::from_secs(10),
            recovery_duration: crate::Duration::from_secs(10),
            response_code: 503,
        }
    }
}

/// Which parts of a certificate's distinguished name to pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CertDn {
    pub country: bool,
    pub province: bool,
    pub locality: bool,
    pub organization: bool,
    pub organizational_unit: bool,
    pub common_name: bool,
    pub serial_number: bool,
    pub domain_component: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CertInfo {
    pub not_after: bool,
    pub not_before: bool,
    pub sans: bool,
    pub serial_number: bool,
    pub subject: Option<CertDn>,
    pub issuer: Option<CertDn>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PassTlsClientCert {
    pub pem: bool,
    pub info: Option<CertInfo>,
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
    RedirectScheme(RedirectScheme),
    RedirectRegex(RedirectRegex),
    /// `ipAllowList` (`ipWhiteList` decodes to it too).
    IpAllowList(IpAllowList),
    InFlightReq(InFlightReq),
    BasicAuth(BasicAuth),
    RateLimit(RateLimit),
    Compress(Compress),
    Retry(Retry),
    Errors(ErrorPage),
    ForwardAuth(ForwardAuth),
    DigestAuth(DigestAuth),
    ContentType(ContentType),
    EncodedCharacters(EncodedCharacters),
    Buffering(Buffering),
    GrpcWeb(GrpcWeb),
    CircuitBreaker(CircuitBreaker),
    PassTlsClientCert(PassTlsClientCert),
    /// The Gateway API provider's own (see [`crate::gateway_filters`]).
    RequestHeaderModifier(HeaderModifier),
    ResponseHeaderModifier(HeaderModifier),
    RequestRedirect(RequestRedirect),
    /// Any other type, decoded by whoever supports it.
    Other {
        kind: String,
        node: Node,
    },
}

impl MiddlewareKind {
    /// The settings with their defaults filled in, as Traefik's API shows
    /// them (`None` for types this version does not decode).
    pub fn settings_json(&self) -> Option<(String, serde_json::Value)> {
        fn j<T: Serialize>(name: &str, v: &T) -> Option<(String, serde_json::Value)> {
            serde_json::to_value(v).ok().map(|v| (name.to_string(), v))
        }
        match self {
            MiddlewareKind::StripPrefix(c) => j("stripPrefix", c),
            MiddlewareKind::StripPrefixRegex(c) => j("stripPrefixRegex", c),
            MiddlewareKind::AddPrefix(c) => j("addPrefix", c),
            MiddlewareKind::ReplacePath(c) => j("replacePath", c),
            MiddlewareKind::ReplacePathRegex(c) => j("replacePathRegex", c),
            MiddlewareKind::Chain(c) => j("chain", c),
            MiddlewareKind::Headers(c) => j("headers", c),
            MiddlewareKind::RedirectScheme(c) => j("redirectScheme", c),
            MiddlewareKind::RedirectRegex(c) => j("redirectRegex", c),
            MiddlewareKind::IpAllowList(c) => j("ipAllowList", c),
            MiddlewareKind::InFlightReq(c) => j("inFlightReq", c),
            MiddlewareKind::BasicAuth(c) => j("basicAuth", c),
            MiddlewareKind::RateLimit(c) => j("rateLimit", c),
            MiddlewareKind::Compress(c) => j("compress", c),
            MiddlewareKind::Retry(c) => j("retry", c),
            MiddlewareKind::Errors(c) => j("errors", c),
            MiddlewareKind::ForwardAuth(c) => j("forwardAuth", c),
            MiddlewareKind::DigestAuth(c) => j("digestAuth", c),
            MiddlewareKind::ContentType(c) => j("contentType", c),
            MiddlewareKind::EncodedCharacters(c) => j("encodedCharacters", c),
            MiddlewareKind::Buffering(c) => j("buffering", c),
            MiddlewareKind::GrpcWeb(c) => j("grpcWeb", c),
            MiddlewareKind::CircuitBreaker(c) => j("circuitBreaker", c),
            MiddlewareKind::PassTlsClientCert(c) => j("passTLSClientCert", c),
            MiddlewareKind::RequestHeaderModifier(c) => j("requestHeaderModifier", c),
            MiddlewareKind::ResponseHeaderModifier(c) => j("responseHeaderModifier", c),
            MiddlewareKind::RequestRedirect(c) => j("requestRedirect", c),
            MiddlewareKind::Other { .. } => None,
        }
    }
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
        "redirectscheme" => MiddlewareKind::RedirectScheme(from_node(&node).map_err(within)?),
        "redirectregex" => MiddlewareKind::RedirectRegex(from_node(&node).map_err(within)?),
        "ipallowlist" | "ipwhitelist" => {
            MiddlewareKind::IpAllowList(from_node(&node).map_err(within)?)
        }
        "inflightreq" => MiddlewareKind::InFlightReq(from_node(&node).map_err(within)?),
        "basicauth" => MiddlewareKind::BasicAuth(from_node(&node).map_err(within)?),
        "ratelimit" => MiddlewareKind::RateLimit(from_node(&node).map_err(within)?),
        "compress" => MiddlewareKind::Compress(from_node(&node).map_err(within)?),
        "retry" => MiddlewareKind::Retry(from_node(&node).map_err(within)?),
        "errors" => MiddlewareKind::Errors(from_node(&node).map_err(within)?),
        "forwardauth" => MiddlewareKind::ForwardAuth(from_node(&node).map_err(within)?),
        "digestauth" => MiddlewareKind::DigestAuth(from_node(&node).map_err(within)?),
        "contenttype" => MiddlewareKind::ContentType(from_node(&node).map_err(within)?),
        "encodedcharacters" => MiddlewareKind::EncodedCharacters(from_node(&node).map_err(within)?),
        "buffering" => MiddlewareKind::Buffering(from_node(&node).map_err(within)?),
        "grpcweb" => MiddlewareKind::GrpcWeb(from_node(&node).map_err(within)?),
        "circuitbreaker" => MiddlewareKind::CircuitBreaker(from_node(&node).map_err(within)?),
        "passtlsclientcert" => MiddlewareKind::PassTlsClientCert(from_node(&node).map_err(within)?),
        "requestheadermodifier" => {
            MiddlewareKind::RequestHeaderModifier(from_node(&node).map_err(within)?)
        }
        "responseheadermodifier" => {
            MiddlewareKind::ResponseHeaderModifier(from_node(&node).map_err(within)?)
        }
        "requestredirect" => MiddlewareKind::RequestRedirect(from_node(&node).map_err(within)?),
        _ => MiddlewareKind::Other {
            kind: kind.clone(),
            node,
        },
    })
}
