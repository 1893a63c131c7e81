//! The dynamic configuration's `udp` section, as Traefik v3 reads it
//! (`pkg/config/dynamic/udp_config.go`): routers name entrypoints and a
//! service, no rule; services are a `loadBalancer` of server addresses or
//! a `weighted` mix of other services.
//!
//! The section travels through providers and the merge as a [`Node`]
//! (`Configuration::udp`); [`decode`] reads it into these types with the
//! file, line and field of anything wrong. A dynamic file whose `udp`
//! section does not decode is refused whole, as Traefik refuses it
//! ([`crate::dynamic_schema::decode`] calls [`decode`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::from_node;
use crate::{ConfigError, Node};

/// `udp`: routers and services by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UdpConfiguration {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub routers: BTreeMap<String, UdpRouter>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, UdpService>,
}

/// `udp.routers.<name>`: every datagram of its entrypoints goes to its
/// service (no rule: one router serves a whole entrypoint).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UdpRouter {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
}

/// `udp.services.<name>`: exactly one of the two kinds (both, or none, is
/// the service's error when it is built).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UdpService {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<UdpLoadBalancer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted: Option<UdpWeighted>,
}

/// `loadBalancer`: the servers a new session is given in turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UdpLoadBalancer {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<UdpServer>,
}

/// One server: `host:port`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UdpServer {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
}

/// `weighted`: other UDP services, each given new sessions in proportion
/// to its weight.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UdpWeighted {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<UdpWeightedService>,
}

/// One service of a `weighted` service; the weight is 1 when not given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UdpWeightedService {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub weight: i64,
}

impl Default for UdpWeightedService {
    fn default() -> UdpWeightedService {
        UdpWeightedService {
            name: String::new(),
            weight: 1,
        }
    }
}

/// Reads a `udp` section; errors name the file, line and field, the field
/// path starting at `udp`.
pub fn decode(node: &Node) -> Result<UdpConfiguration, ConfigError> {
    from_node(node).map_err(|mut e: ConfigError| {
        e.path.insert(0, "udp".to_string());
        e
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::parse_dynamic;
    use std::path::Path;

    fn udp_of(file: &str, text: &str) -> Result<UdpConfiguration, ConfigError> {
        let config = parse_dynamic(Path::new(file), text)?;
        match &config.udp {
            Some(node) => decode(node),
            None => Ok(UdpConfiguration::default()),
        }
    }

    #[test]
    fn yaml_and_toml_decode_alike() {
        let yaml = "udp:\n  routers:\n    dns:\n      entryPoints: [dns]\n      service: pool\n  services:\n    pool:\n      loadBalancer:\n        servers:\n          - address: 127.0.0.1:5301\n          - address: 127.0.0.1:5302\n    mix:\n      weighted:\n        services:\n          - name: pool\n            weight: 3\n          - name: other\n";
        let toml = "[udp.routers.dns]\nentryPoints = [\"dns\"]\nservice = \"pool\"\n[[udp.services.pool.loadBalancer.servers]]\naddress = \"127.0.0.1:5301\"\n[[udp.services.pool.loadBalancer.servers]]\naddress = \"127.0.0.1:5302\"\n[[udp.services.mix.weighted.services]]\nname = \"pool\"\nweight = 3\n[[udp.services.mix.weighted.services]]\nname = \"other\"\n";
        let from_yaml = udp_of("d.yml", yaml).expect("yaml");
        let from_toml = udp_of("d.toml", toml).expect("toml");
        assert_eq!(from_yaml, from_toml);
        let router = &from_yaml.routers["dns"];
        assert_eq!(router.entry_points, ["dns"]);
        assert_eq!(router.service, "pool");
        let servers = &from_yaml.services["pool"]
            .load_balancer
            .as_ref()
            .expect("lb")
            .servers;
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[1].address, "127.0.0.1:5302");
        let weighted = from_yaml.services["mix"].weighted.as_ref().expect("wrr");
        assert_eq!(weighted.services[0].weight, 3);
        assert_eq!(weighted.services[1].weight, 1, "weight defaults to 1");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        // (what, file, text, field, line)
        let cases: &[(&str, &str, &str, &str, u32)] = &[
            (
                "unknown router key (yaml)",
                "d.yml",
                "udp:\n  routers:\n    r:\n      service: s\n      rule: x\n",
                "udp.routers.r.rule",
                5,
            ),
            (
                "weight is not a number (yaml)",
                "d.yml",
                "udp:\n  services:\n    w:\n      weighted:\n        services:\n          - name: a\n            weight: heavy\n",
                "udp.services.w.weighted.services[0].weight",
                7,
            ),
            (
                "weight is not a number (toml)",
                "d.toml",
                "[[udp.services.w.weighted.services]]\nname = \"a\"\nweight = \"heavy\"\n",
                "udp.services.w.weighted.services[0].weight",
                3,
            ),
            (
                "a server is not a section (toml)",
                "d.toml",
                "[udp.services.s.loadBalancer]\nservers = 3\n",
                "udp.services.s.loadBalancer.servers[0]",
                2,
            ),
        ];
        for (what, file, text, field, line) in cases {
            let e = udp_of(file, text)
                .err()
                .unwrap_or_else(|| panic!("{what}: accepted"));
            assert_eq!(e.field(), *field, "{what}: {e}");
            assert_eq!(
                e.location.as_ref().map(|l| l.line),
                Some(*line),
                "{what}: {e}"
            );
            assert!(e.to_string().contains(file), "{what}: {e}");
        }
    }
}
