//! Traefik v3's dynamic `tcp` section: routers matched on a connection's
//! first bytes (SNI, ALPN, client address), services that open a
//! connection to a backend and copy bytes both ways, and the two TCP
//! middlewares.
//!
//! The section travels as written (a [`Node`], located) from the provider
//! to the builder, which decodes it element by element with [`decode`]: an
//! element whose values do not decode is left out with its located error
//! and the others are built. A file is checked whole when it is read
//! ([`check`]), so that, as in Traefik, a file with a bad TCP value is
//! refused with an error naming the file, line and field.
//!
//! Keys Traefik knows that Switchyard does not act on yet are kept as
//! written in the `Option<Node>` fields below; the builder warns about
//! them on their element, or refuses the element when ignoring the key
//! would weaken it (a transport's `tls.spiffe`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::from_node;
use crate::dynamic::WeightedService;
use crate::tls::Domain;
use crate::{ConfigError, Duration, Node};

/// The `tcp` section decoded element by element.
#[derive(Debug, Clone, Default)]
pub struct TcpConfiguration {
    pub routers: BTreeMap<String, Result<TcpRouter, ConfigError>>,
    pub services: BTreeMap<String, Result<TcpService, ConfigError>>,
    pub middlewares: BTreeMap<String, Result<TcpMiddleware, ConfigError>>,
    pub servers_transports: BTreeMap<String, Result<TcpServersTransport, ConfigError>>,
}

impl TcpConfiguration {
    pub fn is_empty(&self) -> bool {
        self.routers.is_empty()
            && self.services.is_empty()
            && self.middlewares.is_empty()
            && self.servers_transports.is_empty()
    }
}

/// Decodes each element of `tcp` (the section as written).
pub fn decode(tcp: &Node) -> TcpConfiguration {
    TcpConfiguration {
        routers: section(tcp, "routers"),
        services: section(tcp, "services"),
        middlewares: section(tcp, "middlewares"),
        servers_transports: section(tcp, "serversTransports"),
    }
}

/// The first element of `tcp` that does not decode, as an error.
pub fn check(tcp: &Node) -> Result<(), ConfigError> {
    let decoded = decode(tcp);
    let first = decoded
        .routers
        .into_values()
        .filter_map(Result::err)
        .chain(decoded.services.into_values().filter_map(Result::err))
        .chain(decoded.middlewares.into_values().filter_map(Result::err))
        .chain(
            decoded
                .servers_transports
                .into_values()
                .filter_map(Result::err),
        )
        .next();
    match first {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn section<T: serde::de::DeserializeOwned>(
    tcp: &Node,
    key: &str,
) -> BTreeMap<String, Result<T, ConfigError>> {
    let Some(node) = tcp.get(key) else {
        return BTreeMap::new();
    };
    node.entries()
        .iter()
        .map(|(name, element)| {
            let decoded = from_node::<T>(element).map_err(|mut e| {
                let mut path = vec!["tcp".to_string(), key.to_string(), name.clone()];
                path.append(&mut e.path);
                e.path = path;
                e
            });
            (name.clone(), decoded)
        })
        .collect()
}

/// `tcp.routers.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpRouter {
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
    pub tls: Option<TcpRouterTls>,
}

/// `tcp.routers.<name>.tls`: TLS ends here (with `options`), or, with
/// `passthrough`, the connection's bytes go to the backend as they came.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpRouterTls {
    pub passthrough: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub options: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_resolver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
}

/// `tcp.services.<name>`: exactly one of its kinds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpService {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<TcpLoadBalancer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted: Option<TcpWeighted>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpLoadBalancer {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<TcpServer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers_transport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<ProxyProtocolVersion>,
    /// Milliseconds (Traefik's deprecated spelling of the transport's
    /// `terminationDelay`); negative: wait for the other side forever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_delay: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<TcpHealthCheck>,
}

/// `loadBalancer.healthCheck`: Traefik 3.7's TCP health check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpHealthCheck {
    #[serde(skip_serializing_if = "is_zero")]
    pub port: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub send: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expect: String,
    pub interval: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhealthy_interval: Option<Duration>,
    pub timeout: Duration,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Default for TcpHealthCheck {
    fn default() -> Self {
        TcpHealthCheck {
            port: 0,
            send: String::new(),
            expect: String::new(),
            interval: Duration::from_secs(30),
            unhealthy_interval: None,
            timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpServer {
    pub address: String,
    /// Not acted on yet (Traefik fills it from labels only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<Node>,
    /// TLS to this server, with the transport's `tls` settings.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
}

/// `proxyProtocol`: the header sent to the backend first (version 2 when
/// the section is given without one, as Traefik's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProxyProtocolVersion {
    pub version: i64,
}

impl Default for ProxyProtocolVersion {
    fn default() -> Self {
        ProxyProtocolVersion { version: 2 }
    }
}

/// `weighted`: a weighted round robin over TCP services.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpWeighted {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<WeightedService>,
    /// Traefik's empty `healthCheck: {}`: when given, children with no
    /// server up are left out (each child must have a `healthCheck`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Node>,
}

/// `tcp.middlewares.<name>`: exactly one of its kinds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpMiddleware {
    #[serde(rename = "ipAllowList", skip_serializing_if = "Option::is_none")]
    pub ip_allow_list: Option<TcpIpAllowList>,
    /// The deprecated spelling of `ipAllowList`, read the same way.
    #[serde(rename = "ipWhiteList", skip_serializing_if = "Option::is_none")]
    pub ip_white_list: Option<TcpIpAllowList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight_conn: Option<TcpInFlightConn>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpIpAllowList {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_range: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpInFlightConn {
    pub amount: i64,
}

/// `tcp.serversTransports.<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpServersTransport {
    pub dial_timeout: Duration,
    pub termination_delay: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<ProxyProtocolVersion>,
    /// The interval of TCP keep-alive probes (15 s when not given or
    /// zero; negative: none), kept as written because Go's durations may
    /// be negative here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial_keep_alive: Option<Node>,
    /// TLS to the servers with `tls` (read by the builder as an HTTP
    /// serversTransport's TLS keys: `serverName`, `insecureSkipVerify`,
    /// `rootCAs`, `certificates`, `peerCertURI`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Node>,
}

impl Default for TcpServersTransport {
    fn default() -> Self {
        TcpServersTransport {
            dial_timeout: Duration::from_secs(30),
            termination_delay: Duration::from_millis(100),
            proxy_protocol: None,
            dial_keep_alive: None,
            tls: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::loader::parse_dynamic;

    const YAML: &str = r#"
tcp:
  routers:
    db:
      entryPoints: [tcp]
      rule: HostSNI(`db.test`) && ALPN(`pg`)
      priority: 12
      service: pool
      middlewares: [allow, cap]
      tls:
        passthrough: true
  services:
    pool:
      loadBalancer:
        servers:
          - address: 127.0.0.1:5432
          - address: "[::1]:5432"
        proxyProtocol: {}
        terminationDelay: 200
        serversTransport: slow
    split:
      weighted:
        services:
          - name: pool
            weight: 3
          - name: other
  middlewares:
    allow:
      ipAllowList:
        sourceRange: [127.0.0.1/32, "::1"]
    cap:
      inFlightConn:
        amount: 2
  serversTransports:
    slow:
      dialTimeout: 2s
      terminationDelay: 50ms
"#;

    const TOML: &str = r#"
[tcp.routers.db]
  entryPoints = ["tcp"]
  rule = "HostSNI(`db.test`) && ALPN(`pg`)"
  priority = 12
  service = "pool"
  middlewares = ["allow", "cap"]
  [tcp.routers.db.tls]
    passthrough = true
[tcp.services.pool.loadBalancer]
  proxyProtocol = {}
  terminationDelay = 200
  serversTransport = "slow"
  [[tcp.services.pool.loadBalancer.servers]]
    address = "127.0.0.1:5432"
  [[tcp.services.pool.loadBalancer.servers]]
    address = "[::1]:5432"
[[tcp.services.split.weighted.services]]
  name = "pool"
  weight = 3
[[tcp.services.split.weighted.services]]
  name = "other"
[tcp.middlewares.allow.ipAllowList]
  sourceRange = ["127.0.0.1/32", "::1"]
[tcp.middlewares.cap.inFlightConn]
  amount = 2
[tcp.serversTransports.slow]
  dialTimeout = "2s"
  terminationDelay = "50ms"
"#;

    fn ok<T: Clone>(r: &Result<T, ConfigError>) -> T {
        r.clone().expect("decodes")
    }

    #[test]
    fn yaml_and_toml_decode_the_same() {
        let y = parse_dynamic(Path::new("d.yml"), YAML).expect("yaml");
        let t = parse_dynamic(Path::new("d.toml"), TOML).expect("toml");
        let tcp = decode(y.tcp.as_ref().expect("tcp"));
        let from_toml = decode(t.tcp.as_ref().expect("tcp"));
        assert_eq!(
            format!("{:?}", tcp.routers["db"]),
            format!("{:?}", from_toml.routers["db"])
        );
        let r: TcpRouter = ok(&tcp.routers["db"]);
        assert_eq!(r.priority, Some(12));
        assert_eq!(r.middlewares, ["allow", "cap"]);
        assert!(r.tls.as_ref().is_some_and(|t| t.passthrough));
        let pool: TcpService = ok(&tcp.services["pool"]);
        assert_eq!(Ok(pool.clone()), from_toml.services["pool"].clone());
        let lb = pool.load_balancer.as_ref().expect("lb");
        assert_eq!(lb.servers.len(), 2);
        assert_eq!(lb.proxy_protocol.as_ref().map(|p| p.version), Some(2));
        assert_eq!(lb.termination_delay, Some(200));
        let split: TcpService = ok(&tcp.services["split"]);
        let w = split.weighted.as_ref().expect("weighted");
        assert_eq!(w.services[0].weight, Some(3));
        assert_eq!(w.services[1].weight, Some(1));
        let cap: TcpMiddleware = ok(&tcp.middlewares["cap"]);
        assert_eq!(cap.in_flight_conn.as_ref().map(|c| c.amount), Some(2));
        let st: TcpServersTransport = ok(&tcp.servers_transports["slow"]);
        assert_eq!(st.dial_timeout, crate::Duration::from_secs(2));
        assert_eq!(st.termination_delay, crate::Duration::from_millis(50));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        // (what, configuration, field named in the error, line)
        let cases: &[(&str, &str, &str, u32)] = &[
            (
                "misspelt router key",
                "tcp:\n  routers:\n    r:\n      rule: HostSNI(`*`)\n      sevice: s\n",
                "sevice",
                5,
            ),
            (
                "priority not a number",
                "tcp:\n  routers:\n    r:\n      priority: high\n",
                "priority",
                4,
            ),
            (
                "unknown middleware kind",
                "tcp:\n  middlewares:\n    m:\n      rateLimit:\n        average: 1\n",
                "rateLimit",
                5,
            ),
            (
                "bad duration",
                "tcp:\n  serversTransports:\n    t:\n      dialTimeout: soon\n",
                "dialTimeout",
                4,
            ),
            (
                "amount not a number",
                "tcp:\n  middlewares:\n    m:\n      inFlightConn:\n        amount: many\n",
                "amount",
                5,
            ),
        ];
        for (what, text, field, line) in cases {
            let e = parse_dynamic(Path::new("d.yml"), text).expect_err(what);
            let shown = e.to_string();
            assert!(shown.contains(field), "{what}: {shown}");
            assert!(shown.contains("d.yml"), "{what}: {shown}");
            assert_eq!(
                e.location.as_ref().map(|l| l.line),
                Some(*line),
                "{what}: {shown}"
            );
        }
    }

    #[test]
    fn keys_not_acted_on_are_kept_for_the_builder() {
        let text = "tcp:\n  services:\n    s:\n      loadBalancer:\n        servers: [{address: 'a:1', tls: true}]\n        healthCheck: {}\n  serversTransports:\n    t:\n      dialKeepAlive: 1s\n";
        let c = parse_dynamic(Path::new("d.yml"), text).expect("accepted");
        let tcp = decode(c.tcp.as_ref().expect("tcp"));
        let s = tcp.services["s"].clone().expect("decodes");
        let lb = s.load_balancer.expect("lb");
        assert!(lb.health_check.is_some());
        assert!(lb.servers[0].tls);
        let t = tcp.servers_transports["t"].clone().expect("decodes");
        assert!(t.dial_keep_alive.is_some());
    }

    #[test]
    fn one_bad_element_leaves_the_others() {
        let text = "tcp:\n  routers:\n    bad:\n      priority: high\n    good:\n      rule: HostSNI(`*`)\n      service: s\n";
        let tree = crate::loader::parse_tree(Path::new("d.yml"), text).expect("parses");
        let tcp = decode(tree.get("tcp").expect("tcp"));
        let e = tcp.routers["bad"].clone().expect_err("bad");
        assert_eq!(e.field(), "tcp.routers.bad.priority");
        assert!(tcp.routers["good"].is_ok());
    }
}
