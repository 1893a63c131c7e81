//! Traefik v3's static configuration, as far as Switchyard implements it.
//! Every other key Traefik knows is checked and taken out of the tree
//! before this decode by [`crate::schema`], which names it in the one
//! start-up warning; so a field here is a setting Switchyard acts on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Duration, Node};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StaticConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global: Option<Global>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers_transport: Option<ServersTransport>,
    /// `tcpServersTransport`: the transport of TCP services that name
    /// none (Traefik's `default@internal`): `dialTimeout`,
    /// `dialKeepAlive`, `tls` (`insecureSkipVerify`, `rootCAs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_servers_transport: Option<crate::tcp::TcpServersTransport>,
    pub entry_points: BTreeMap<String, EntryPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<Providers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<Api>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping: Option<Ping>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Log>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_log: Option<AccessLog>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
    pub metrics: Option<Metrics>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub certificates_resolvers: BTreeMap<String, CertificatesResolver>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core: Option<Node>,
}

/// `global`: Switchyard never calls home, so the first two switches are
/// kept as given and have nothing to turn off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Global {
    pub check_new_version: bool,
    pub send_anonymous_usage: bool,
    /// Every entrypoint's `forwardedHeaders.notAppendXForwardedFor`.
    pub not_append_x_forwarded_for: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EntryPoint {
    pub address: String,
    #[serde(rename = "allowACMEByPass", skip_serializing_if = "std::ops::Not::not")]
    pub allow_acme_by_pass: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reuse_port: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub as_default: bool,
    pub transport: EntryPointsTransport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<ProxyProtocol>,
    pub forwarded_headers: ForwardedHeaders,
    pub http: EntryPointHttp,
    pub http2: Http2,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http3: Option<Http3>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp: Option<EntryPointUdp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observability: Option<EntryPointObservability>,
}

/// `entryPoints.<name>.udp`, read on a UDP entrypoint (`address: ":53/udp"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EntryPointUdp {
    /// How long a session may stay idle (no datagram either way) before it
    /// ends; Traefik's default is 3 s, and 0 is refused at start.
    pub timeout: Duration,
}

impl Default for EntryPointUdp {
    fn default() -> EntryPointUdp {
        EntryPointUdp {
            timeout: Duration::from_secs(3),
        }
    }
}

/// `entryPoints.<name>.observability`: the defaults of the `observability`
/// of the routers on the entrypoint (and what its requests that no router
/// takes get). Unset switches are on, as in Traefik.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EntryPointObservability {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<bool>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub trace_verbosity: String,
}

/// `entryPoints.<name>.proxyProtocol`: whose PROXY protocol headers are
/// believed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProxyProtocol {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    #[serde(rename = "trustedIPs", skip_serializing_if = "Vec::is_empty")]
    pub trusted_ips: Vec<String>,
}

/// `entryPoints.<name>.http2`: the HTTP/2 server's limits, Go's defaults
/// (as Traefik, 0 means the default; negative values are refused when the
/// entrypoint starts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Http2 {
    /// Streams a client may have open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_concurrent_streams: i64,
    /// The HPACK table for the client's headers (`SETTINGS_HEADER_TABLE_SIZE`).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_decoder_header_table_size: i64,
    /// The most HPACK table our responses use, whatever the client allows.
    #[serde(skip_serializing_if = "is_zero")]
    pub max_encoder_header_table_size: i64,
}

impl Default for Http2 {
    fn default() -> Self {
        Http2 {
            max_concurrent_streams: 250,
            max_decoder_header_table_size: 4096,
            max_encoder_header_table_size: 4096,
        }
    }
}

/// `entryPoints.<name>.http3`: QUIC on the entrypoint's port (UDP).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Http3 {
    /// The port `Alt-Svc` advertises (0: the entrypoint's own).
    #[serde(skip_serializing_if = "is_zero")]
    pub advertised_port: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EntryPointsTransport {
    pub life_cycle: LifeCycle,
    pub responding_timeouts: RespondingTimeouts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive_max_requests: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive_max_time: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LifeCycle {
    #[serde(skip_serializing_if = "Duration::is_zero")]
    pub request_accept_grace_timeout: Duration,
    pub grace_time_out: Duration,
}

impl Default for LifeCycle {
    fn default() -> Self {
        LifeCycle {
            request_accept_grace_timeout: Duration::ZERO,
            grace_time_out: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RespondingTimeouts {
    #[serde(skip_serializing_if = "Duration::is_zero")]
    pub read_timeout: Duration,
    #[serde(skip_serializing_if = "Duration::is_zero")]
    pub write_timeout: Duration,
    #[serde(skip_serializing_if = "Duration::is_zero")]
    pub idle_timeout: Duration,
}

impl Default for RespondingTimeouts {
    fn default() -> Self {
        RespondingTimeouts {
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::ZERO,
            idle_timeout: Duration::from_secs(180),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ForwardedHeaders {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    #[serde(rename = "trustedIPs", skip_serializing_if = "Vec::is_empty")]
    pub trusted_ips: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connection: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_append_x_forwarded_for: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EntryPointHttp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirections: Option<Redirections>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::RouterTls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoded_characters: Option<EncodedCharacters>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub encode_query_semicolons: bool,
    pub sanitize_path: bool,
    pub max_header_bytes: i64,
    /// keep (or empty), delete or reject headers with `_` in their name;
    /// deprecated for `alias_headers_strategy`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub underscore_headers_strategy: String,
    /// keep (or empty), delete or reject headers whose name aliases
    /// another (any character but letters, digits and `-`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias_headers_strategy: String,
}

/// The entrypoint's `http.encodedCharacters`: everything allowed unless
/// turned off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl Default for EncodedCharacters {
    fn default() -> Self {
        EncodedCharacters {
            allow_encoded_slash: true,
            allow_encoded_back_slash: true,
            allow_encoded_null_character: true,
            allow_encoded_semicolon: true,
            allow_encoded_percent: true,
            allow_encoded_question_mark: true,
            allow_encoded_hash: true,
        }
    }
}

/// `certificatesResolvers.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CertificatesResolver {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme: Option<Acme>,
}

/// `certificatesResolvers.<name>.acme.eab`: the CA's external account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Eab {
    pub kid: String,
    /// The MAC key, base64url.
    pub hmac_encoded: String,
}

/// `certificatesResolvers.<name>.acme`, with Traefik's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Acme {
    pub email: String,
    pub ca_server: String,
    pub storage: String,
    pub key_type: String,
    /// Hours a certificate is valid, as the CA issues them.
    pub certificates_duration: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ca_certificates: Vec<String>,
    pub ca_system_cert_pool: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_server_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub preferred_chain: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eab: Option<Eab>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_challenge: Option<HttpChallenge>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_challenge: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_challenge: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// A whole HTTP exchange with the CA.
    pub client_timeout: Duration,
    /// Until the CA's response headers arrive.
    pub client_response_header_timeout: Duration,
    /// Until a finalized order has its certificate.
    pub certificate_timeout: Duration,
    /// Certificate requests without a common name.
    pub disable_common_name: bool,
    /// E-mail addresses the certificate requests carry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_addresses: Vec<String>,
    /// Switchyard's extension: the account, certificates, locks and
    /// pending challenges in a store that several instances share, instead
    /// of `storage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_storage: Option<AcmeSharedStorage>,
}

/// `certificatesResolvers.<name>.acme.sharedStorage` (Switchyard's
/// extension): where replicas keep what one of them ordered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AcmeSharedStorage {
    /// A Redis server, with the settings of `providers.redis`; the data
    /// lives below `<rootKey>/acme/<resolver>/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisProvider>,
}

impl Default for Acme {
    fn default() -> Self {
        Acme {
            email: String::new(),
            ca_server: "https://acme-v02.api.letsencrypt.org/directory".into(),
            storage: "acme.json".into(),
            key_type: "RSA4096".into(),
            certificates_duration: 2160,
            ca_certificates: Vec::new(),
            ca_system_cert_pool: false,
            ca_server_name: String::new(),
            preferred_chain: String::new(),
            eab: None,
            http_challenge: None,
            tls_challenge: None,
            dns_challenge: None,
            profile: None,
            client_timeout: Duration::from_secs(120),
            client_response_header_timeout: Duration::from_secs(30),
            certificate_timeout: Duration::from_secs(30),
            disable_common_name: false,
            email_addresses: Vec::new(),
            shared_storage: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HttpChallenge {
    pub entry_point: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Node>,
}

impl Default for EntryPointHttp {
    fn default() -> Self {
        EntryPointHttp {
            redirections: None,
            middlewares: Vec::new(),
            tls: None,
            encoded_characters: None,
            encode_query_semicolons: false,
            sanitize_path: true,
            max_header_bytes: 1 << 20,
            underscore_headers_strategy: String::new(),
            alias_headers_strategy: String::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Redirections {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<RedirectEntryPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RedirectEntryPoint {
    pub to: String,
    pub scheme: String,
    pub permanent: bool,
    pub priority: i64,
}

impl Default for RedirectEntryPoint {
    fn default() -> Self {
        RedirectEntryPoint {
            to: String::new(),
            scheme: "https".into(),
            permanent: true,
            priority: i64::MAX - 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Providers {
    /// Traefik's default is 2s; Switchyard's is none (a change applies as
    /// soon as the build in progress ends): a written value is honoured.
    pub providers_throttle_duration: Duration,
    /// The order between routers of equal priority, by provider.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub precedence: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmProvider>,
    pub redis: Option<RedisProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<EtcdProvider>,
    pub http: Option<HttpProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zoo_keeper: Option<ZooKeeperProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consul: Option<ConsulProvider>,
    #[serde(rename = "kubernetesCRD", skip_serializing_if = "Option::is_none")]
    pub kubernetes_crd: Option<KubernetesCrdProvider>,
    #[serde(rename = "kubernetesIngress", skip_serializing_if = "Option::is_none")]
    pub kubernetes_ingress: Option<KubernetesIngressProvider>,
    #[serde(rename = "kubernetesGateway", skip_serializing_if = "Option::is_none")]
    pub kubernetes_gateway: Option<KubernetesGatewayProvider>,
}

impl Default for Providers {
    fn default() -> Self {
        Providers {
            providers_throttle_duration: Duration::ZERO,
            precedence: Vec::new(),
            file: None,
            docker: None,
            swarm: None,
            redis: None,
            etcd: None,
            http: None,
            zoo_keeper: None,
            consul: None,
            kubernetes_crd: None,
            kubernetes_ingress: None,
            kubernetes_gateway: None,
        }
    }
}

/// `providers.kubernetesCRD`, with Traefik's defaults (all empty or off;
/// `throttleDuration` zero: every change is sent as soon as it is
/// translated).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KubernetesCrdProvider {
    pub endpoint: String,
    /// The bearer token, or the path of a file holding it.
    pub token: String,
    pub cert_auth_file_path: String,
    /// Empty: every namespace.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    pub label_selector: String,
    pub ingress_class: String,
    pub throttle_duration: Duration,
    pub allow_cross_namespace: bool,
    pub allow_external_name_services: bool,
    pub allow_empty_services: bool,
    #[serde(rename = "nativeLBByDefault")]
    pub native_lb_by_default: bool,
    pub disable_cluster_scope_resources: bool,
    /// Namespaces whose objects may name other providers' (`x@file`);
    /// empty: all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cross_provider_namespaces: Vec<String>,
}

/// `providers.kubernetesIngress`, with Traefik's defaults (all empty or
/// off; `throttleDuration` zero, as the CRD provider's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KubernetesIngressProvider {
    pub endpoint: String,
    /// The bearer token, or the path of a file holding it.
    pub token: String,
    pub cert_auth_file_path: String,
    /// Empty: every namespace.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Narrows the Ingresses only.
    pub label_selector: String,
    /// The `kubernetes.io/ingress.class` annotation or IngressClass name
    /// followed (empty: no annotation, `traefik`, or any class of
    /// Traefik's controller).
    pub ingress_class: String,
    /// Where the Ingresses' status says they are served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress_endpoint: Option<IngressEndpoint>,
    pub throttle_duration: Duration,
    pub allow_empty_services: bool,
    pub allow_external_name_services: bool,
    /// Namespaces whose Ingresses may name other providers' middlewares,
    /// TLS options and servers transports; empty: all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cross_provider_namespaces: Vec<String>,
    /// Deprecated in Traefik for `disableClusterScopeResources`.
    pub disable_ingress_class_lookup: bool,
    pub disable_cluster_scope_resources: bool,
    #[serde(rename = "nativeLBByDefault")]
    pub native_lb_by_default: bool,
    /// `Prefix` paths match whole path elements (`/v1` not `/v12`).
    pub strict_prefix_matching: bool,
}

/// `providers.kubernetesIngress.ingressEndpoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IngressEndpoint {
    pub ip: String,
    pub hostname: String,
    /// `namespace/name` of the Service whose load-balancer status is copied.
    pub published_service: String,
}

/// `providers.kubernetesGateway`, with Traefik's defaults (all empty or
/// off). `qps`, `burst` and `gateways` are accepted and named in the
/// start-up warning: the client does not limit its own rate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KubernetesGatewayProvider {
    pub endpoint: String,
    /// The bearer token, or the path of a file holding it.
    pub token: String,
    pub cert_auth_file_path: String,
    /// Empty: every namespace.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Narrows the GatewayClasses read (as in Traefik).
    pub label_selector: String,
    pub throttle_duration: Duration,
    /// TCPRoutes and TLSRoutes are watched too.
    pub experimental_channel: bool,
    #[serde(rename = "nativeLBByDefault")]
    pub native_lb_by_default: bool,
    /// What the Gateways' `status.addresses` say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_address: Option<GatewayStatusAddress>,
    /// Namespaces whose routes may name `TraefikService` backends of other
    /// providers (`x@file`); empty: all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cross_provider_namespaces: Vec<String>,
}

/// `providers.kubernetesGateway.statusAddress`: the first set of `ip`,
/// `hostname`, `service` wins, as in Traefik.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GatewayStatusAddress {
    pub ip: String,
    pub hostname: String,
    pub service: GatewayStatusService,
}

/// The published Service whose load-balancer addresses are copied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GatewayStatusService {
    pub name: String,
    pub namespace: String,
}

/// `providers.docker`, with Traefik's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DockerProvider {
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    pub default_rule: String,
    pub exposed_by_default: bool,
    pub network: String,
    #[serde(rename = "useBindPortIP")]
    pub use_bind_port_ip: bool,
    pub watch: bool,
    pub constraints: String,
    pub allow_empty_services: bool,
    /// Zero: no timeout.
    pub http_client_timeout: Duration,
    pub username: String,
    pub password: String,
}

impl Default for DockerProvider {
    fn default() -> Self {
        DockerProvider {
            endpoint: "unix:///var/run/docker.sock".into(),
            tls: None,
            default_rule: "Host(`{{ normalize .Name }}`)".into(),
            exposed_by_default: true,
            network: String::new(),
            use_bind_port_ip: false,
            watch: true,
            constraints: String::new(),
            allow_empty_services: false,
            http_client_timeout: Duration::ZERO,
            username: String::new(),
            password: String::new(),
        }
    }
}

/// `providers.swarm`, with Traefik's defaults: the Docker provider's
/// settings and `refreshSeconds`, the polling interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SwarmProvider {
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    pub default_rule: String,
    pub exposed_by_default: bool,
    pub network: String,
    #[serde(rename = "useBindPortIP")]
    pub use_bind_port_ip: bool,
    pub watch: bool,
    pub constraints: String,
    pub allow_empty_services: bool,
    /// Zero: no timeout.
    pub http_client_timeout: Duration,
    pub username: String,
    pub password: String,
    pub refresh_seconds: Duration,
}

impl Default for SwarmProvider {
    fn default() -> Self {
        SwarmProvider::from_docker(DockerProvider::default(), Duration::from_secs(15))
    }
}

impl SwarmProvider {
    fn from_docker(d: DockerProvider, refresh_seconds: Duration) -> SwarmProvider {
        SwarmProvider {
            endpoint: d.endpoint,
            tls: d.tls,
            default_rule: d.default_rule,
            exposed_by_default: d.exposed_by_default,
            network: d.network,
            use_bind_port_ip: d.use_bind_port_ip,
            watch: d.watch,
            constraints: d.constraints,
            allow_empty_services: d.allow_empty_services,
            http_client_timeout: d.http_client_timeout,
            username: d.username,
            password: d.password,
            refresh_seconds,
        }
    }

    /// The settings it shares with `providers.docker` (Traefik's `Shared`
    /// and `ClientConfig`), as a Docker provider's.
    pub fn shared(&self) -> DockerProvider {
        DockerProvider {
            endpoint: self.endpoint.clone(),
            tls: self.tls.clone(),
            default_rule: self.default_rule.clone(),
            exposed_by_default: self.exposed_by_default,
            network: self.network.clone(),
            use_bind_port_ip: self.use_bind_port_ip,
            watch: self.watch,
            constraints: self.constraints.clone(),
            allow_empty_services: self.allow_empty_services,
            http_client_timeout: self.http_client_timeout,
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }
}

/// A client's TLS settings (Traefik's `types.ClientTLS`): the Docker
/// provider's are the KV providers' [`KvTls`].
pub type ClientTls = KvTls;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FileProvider {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    pub watch: bool,
    pub debug_log_generated_template: bool,
}

impl Default for FileProvider {
    fn default() -> Self {
        FileProvider {
            filename: None,
            directory: None,
            watch: true,
            debug_log_generated_template: false,
        }
    }
}

/// `providers.http`: polls an endpoint for a dynamic configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HttpProvider {
    pub endpoint: String,
    pub poll_interval: Duration,
    pub poll_timeout: Duration,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    /// Bytes; negative means no limit.
    pub max_response_body_size: i64,
}

impl Default for HttpProvider {
    fn default() -> Self {
        HttpProvider {
            endpoint: String::new(),
            poll_interval: Duration::from_secs(5),
            poll_timeout: Duration::from_secs(5),
            headers: BTreeMap::new(),
            tls: None,
            max_response_body_size: -1,
        }
    }
}

/// `tls` of the KV providers (Traefik's `types.ClientTLS`): PEM file paths.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KvTls {
    pub ca: String,
    pub cert: String,
    pub key: String,
    pub insecure_skip_verify: bool,
}

/// `providers.redis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RedisProvider {
    pub root_key: String,
    pub endpoints: Vec<String>,
    pub username: String,
    pub password: String,
    pub db: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<KvTls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentinel: Option<RedisSentinel>,
}

impl Default for RedisProvider {
    fn default() -> Self {
        RedisProvider {
            root_key: "traefik".into(),
            endpoints: vec!["127.0.0.1:6379".into()],
            username: String::new(),
            password: String::new(),
            db: 0,
            tls: None,
            sentinel: None,
        }
    }
}

/// `providers.redis.sentinel`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RedisSentinel {
    pub master_name: String,
    pub username: String,
    pub password: String,
    pub latency_strategy: bool,
    pub random_strategy: bool,
    pub replica_strategy: bool,
    pub use_disconnected_replicas: bool,
}

/// `providers.etcd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EtcdProvider {
    pub root_key: String,
    pub endpoints: Vec<String>,
    pub username: String,
    pub password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<KvTls>,
}

impl Default for EtcdProvider {
    fn default() -> Self {
        EtcdProvider {
            root_key: "traefik".into(),
            endpoints: vec!["127.0.0.1:2379".into()],
            username: String::new(),
            password: String::new(),
            tls: None,
        }
    }
}

/// `providers.zooKeeper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ZooKeeperProvider {
    pub root_key: String,
    pub endpoints: Vec<String>,
    pub username: String,
    pub password: String,
}

impl Default for ZooKeeperProvider {
    fn default() -> Self {
        ZooKeeperProvider {
            root_key: "traefik".into(),
            endpoints: vec!["127.0.0.1:2181".into()],
            username: String::new(),
            password: String::new(),
        }
    }
}

/// `providers.consul` (its KV store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsulProvider {
    pub root_key: String,
    pub endpoints: Vec<String>,
    pub token: String,
    /// One provider per namespace (`consul-<namespace>`), Consul Enterprise.
    pub namespaces: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<KvTls>,
}

impl Default for ConsulProvider {
    fn default() -> Self {
        ConsulProvider {
            root_key: "traefik".into(),
            endpoints: vec!["127.0.0.1:8500".into()],
            token: String::new(),
            namespaces: Vec::new(),
            tls: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Api {
    pub base_path: String,
    pub insecure: bool,
    pub dashboard: bool,
    pub debug: bool,
    pub disable_dashboard_ad: bool,
    pub dashboard_name: String,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            base_path: "/".into(),
            insecure: false,
            dashboard: true,
            debug: false,
            disable_dashboard_ad: false,
            dashboard_name: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Ping {
    pub entry_point: String,
    pub manual_routing: bool,
    pub terminating_status_code: u16,
}

impl Default for Ping {
    fn default() -> Self {
        Ping {
            entry_point: "traefik".into(),
            manual_routing: false,
            terminating_status_code: 503,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Log {
    pub level: String,
    pub format: String,
    pub file_path: String,
    pub no_color: bool,
    pub max_size: i64,
    pub max_age: i64,
    pub max_backups: i64,
    pub compress: bool,
    /// Switchyard's own log sent over OTLP too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp: Option<LogOtlp>,
}

/// `log.otlp`: the log's records sent to a collector (gRPC when `grpc`
/// is given, else HTTP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LogOtlp {
    pub service_name: String,
    pub resource_attributes: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<OtlpHttp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<OtlpGrpc>,
}

impl Default for LogOtlp {
    fn default() -> Self {
        LogOtlp {
            service_name: "traefik".into(),
            resource_attributes: BTreeMap::new(),
            http: None,
            grpc: None,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "ERROR".into(),
            format: "common".into(),
            file_path: String::new(),
            no_color: false,
            max_size: 0,
            max_age: 0,
            max_backups: 0,
            compress: false,
            otlp: None,
        }
    }
}

/// `accessLog`: one line per request (see `switchyard_server::accesslog`).
/// `otlp` and `dualOutput` are not implemented yet (named in the start-up
/// warning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AccessLog {
    /// Stdout when empty.
    pub file_path: String,
    /// `common` (the default), `genericCLF` or `json`.
    pub format: String,
    /// Lines the writer's queue holds; 0 is Switchyard's default size.
    pub buffering_size: i64,
    /// Log requests to internal services (api, dashboard, ping) too.
    pub add_internals: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<AccessLogFilters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<AccessLogFields>,
    /// Each line also sent as an OpenTelemetry log record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp: Option<LogOtlp>,
    /// With `otlp`: lines are written to the file (or stdout) too.
    pub dual_output: bool,
}

impl Default for AccessLog {
    fn default() -> Self {
        AccessLog {
            file_path: String::new(),
            format: "common".into(),
            buffering_size: 0,
            add_internals: false,
            filters: None,
            fields: None,
            otlp: None,
            dual_output: false,
        }
    }
}

/// `accessLog.filters`: a line is kept when any filter given keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AccessLogFilters {
    /// Status codes and ranges: `200`, `300-302`.
    pub status_codes: Vec<String>,
    pub retry_attempts: bool,
    pub min_duration: Duration,
}

/// `accessLog.fields`: which fields a line holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AccessLogFields {
    /// `keep` (the default) or `drop`.
    pub default_mode: String,
    /// Per field name: `keep` or `drop`.
    pub names: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<AccessLogHeaders>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_parameters: Option<AccessLogQuery>,
}

/// `accessLog.fields.headers`: `keep`, `drop` (the default) or `redact`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AccessLogHeaders {
    pub default_mode: String,
    pub names: BTreeMap<String, String>,
}

/// `accessLog.fields.queryParameters`: `keep` (the default) or `drop`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AccessLogQuery {
    pub default_mode: String,
}

/// `tracing`: OpenTelemetry spans of the requests, sent over OTLP (see
/// `switchyard_proxy::trace`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Tracing {
    /// The resource's `service.name`.
    pub service_name: String,
    /// The share of new traces recorded (0 to 1); a trace continued from
    /// a caller keeps the caller's decision.
    pub sample_rate: f64,
    /// Extra resource attributes.
    pub resource_attributes: BTreeMap<String, String>,
    /// Request headers recorded as `http.request.header.<name>`.
    pub captured_request_headers: Vec<String>,
    /// Response headers recorded as `http.response.header.<name>`.
    pub captured_response_headers: Vec<String>,
    /// Query parameters whose values are recorded; others are `REDACTED`.
    pub safe_query_params: Vec<String>,
    /// Trace requests to internal services (api, dashboard, ping) too.
    pub add_internals: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp: Option<TracingOtlp>,
    /// Deprecated spelling of `resourceAttributes`, used when that is not
    /// given.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub global_attributes: BTreeMap<String, String>,
}

impl Default for Tracing {
    fn default() -> Self {
        Tracing {
            service_name: "traefik".into(),
            sample_rate: 1.0,
            resource_attributes: BTreeMap::new(),
            captured_request_headers: Vec::new(),
            captured_response_headers: Vec::new(),
            safe_query_params: Vec::new(),
            add_internals: false,
            otlp: None,
            global_attributes: BTreeMap::new(),
        }
    }
}

/// `tracing.otlp`: the collector. gRPC when `grpc` is given, else HTTP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TracingOtlp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<OtlpHttp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<OtlpGrpc>,
}

/// `otlp.http`: `POST` protobuf to `endpoint` (`/v1/traces` when it has
/// no path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OtlpHttp {
    pub endpoint: String,
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
}

impl Default for OtlpHttp {
    fn default() -> Self {
        OtlpHttp {
            endpoint: "https://localhost:4318".into(),
            headers: BTreeMap::new(),
            tls: None,
        }
    }
}

/// `otlp.grpc`: the collector's `host:port`; `insecure` for plain text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OtlpGrpc {
    pub endpoint: String,
    pub insecure: bool,
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
}

impl Default for OtlpGrpc {
    fn default() -> Self {
        OtlpGrpc {
            endpoint: "localhost:4317".into(),
            insecure: false,
            headers: BTreeMap::new(),
            tls: None,
        }
    }
}

/// `metrics`: `prometheus` and `otlp` are implemented (see
/// `switchyard_server::metrics`); the other backends are named in the
/// start-up warning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Metrics {
    /// Count requests to internal services (API, dashboard, ping, metrics) too.
    pub add_internals: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<Prometheus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp: Option<MetricsOtlp>,
}

/// `metrics.otlp`: Traefik's instruments pushed to an OpenTelemetry
/// collector every `pushInterval` (HTTP unless `grpc` is given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricsOtlp {
    pub add_entry_points_labels: bool,
    pub add_routers_labels: bool,
    pub add_services_labels: bool,
    /// The request duration histograms' upper bounds, in seconds.
    pub explicit_boundaries: Vec<f64>,
    pub push_interval: Duration,
    /// The resource's `service.name`.
    pub service_name: String,
    pub resource_attributes: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<OtlpHttp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<OtlpGrpc>,
}

impl Default for MetricsOtlp {
    fn default() -> Self {
        MetricsOtlp {
            add_entry_points_labels: true,
            add_routers_labels: false,
            add_services_labels: true,
            explicit_boundaries: vec![
                0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
            ],
            push_interval: Duration::from_secs(10),
            service_name: "traefik".into(),
            resource_attributes: BTreeMap::new(),
            http: None,
            grpc: None,
        }
    }
}

/// `metrics.prometheus`: Traefik's families on `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Prometheus {
    /// The request duration histograms' upper bounds, in seconds.
    pub buckets: Vec<f64>,
    pub add_entry_points_labels: bool,
    pub add_routers_labels: bool,
    pub add_services_labels: bool,
    /// The entrypoint whose `/metrics` router Switchyard creates.
    pub entry_point: String,
    /// No router is created: a user router names `prometheus@internal`.
    pub manual_routing: bool,
    /// Label name → the request header whose value it takes.
    pub header_labels: BTreeMap<String, String>,
}

impl Default for Prometheus {
    fn default() -> Self {
        Prometheus {
            buckets: vec![0.1, 0.3, 1.2, 5.0],
            add_entry_points_labels: true,
            add_routers_labels: false,
            add_services_labels: true,
            entry_point: "traefik".into(),
            manual_routing: false,
            header_labels: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServersTransport {
    pub insecure_skip_verify: bool,
    #[serde(rename = "rootCAs")]
    pub root_cas: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_idle_conns_per_host: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarding_timeouts: Option<ForwardingTimeouts>,
}

impl ServersTransport {
    /// `maxIdleConnsPerHost` with Traefik's default of 200.
    pub fn max_idle(&self) -> i64 {
        self.max_idle_conns_per_host.unwrap_or(200)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ForwardingTimeouts {
    pub dial_timeout: Duration,
    pub response_header_timeout: Duration,
    pub idle_conn_timeout: Duration,
}

impl Default for ForwardingTimeouts {
    fn default() -> Self {
        ForwardingTimeouts {
            dial_timeout: Duration::from_secs(30),
            response_header_timeout: Duration::ZERO,
            idle_conn_timeout: Duration::from_secs(90),
        }
    }
}

impl StaticConfiguration {
    /// Applies Traefik's derived defaults: `http` on `:80` when no
    /// entrypoint is defined; `traefik` on `:8080` when the API is insecure
    /// or ping or Prometheus use it and it is not defined.
    pub fn with_defaults(mut self) -> StaticConfiguration {
        if self.entry_points.is_empty() {
            self.entry_points.insert(
                "http".into(),
                EntryPoint {
                    address: ":80".into(),
                    ..EntryPoint::default()
                },
            );
        }
        let api_insecure = self.api.as_ref().is_some_and(|a| a.insecure);
        let ping_internal = self
            .ping
            .as_ref()
            .is_some_and(|p| !p.manual_routing && p.entry_point == "traefik");
        let metrics_internal = self
            .metrics
            .as_ref()
            .and_then(|m| m.prometheus.as_ref())
            .is_some_and(|p| !p.manual_routing && p.entry_point == "traefik");
        if (api_insecure || ping_internal || metrics_internal)
            && !self.entry_points.contains_key("traefik")
        {
            self.entry_points.insert(
                "traefik".into(),
                EntryPoint {
                    address: ":8080".into(),
                    ..EntryPoint::default()
                },
            );
        }
        self
    }
}
