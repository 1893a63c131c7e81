//! Every provider's `udp` section in one, each router and service named
//! `name@provider` (references inside stay as written and are resolved
//! against the referring element's provider, as for HTTP). A name given
//! by two providers cannot clash: the provider is part of it.

use std::collections::BTreeMap;

use switchyard_config::dynamic::Configuration;
use switchyard_config::node::{Location, Node, Value};

use crate::merge::qualify;

/// The merged `udp` section of `configs` (by provider), `None` when no
/// provider has one.
pub fn merge(configs: &BTreeMap<String, Configuration>) -> Option<Node> {
    let mut routers = Vec::new();
    let mut services = Vec::new();
    let mut any = false;
    for (provider, config) in configs {
        let Some(udp) = &config.udp else { continue };
        any = true;
        for (key, into) in [("routers", &mut routers), ("services", &mut services)] {
            for (name, element) in udp.get(key).map(Node::entries).unwrap_or_default() {
                into.push((qualify(name, provider), element.clone()));
            }
        }
    }
    if !any {
        return None;
    }
    let map = |entries: Vec<(String, Node)>| Node::new(Value::Map(entries), Location::default());
    Some(map(vec![
        ("routers".to_string(), map(routers)),
        ("services".to_string(), map(services)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn names_are_qualified_per_provider() {
        let parse = |text: &str| {
            switchyard_config::loader::parse_dynamic(Path::new("d.yml"), text).expect("parses")
        };
        let a = parse("udp:\n  routers:\n    r:\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers: [{address: '127.0.0.1:1'}]\n");
        let b = parse("udp:\n  routers:\n    r:\n      service: s@file\n");
        let none = parse("http:\n  routers: {}\n");
        let configs = BTreeMap::from([
            ("file".to_string(), a),
            ("docker".to_string(), b),
            ("other".to_string(), none),
        ]);
        let merged = merge(&configs).expect("a udp section");
        let section = switchyard_config::udp::decode(&merged).expect("decodes");
        let routers: Vec<&str> = section.routers.keys().map(String::as_str).collect();
        assert_eq!(routers, ["r@docker", "r@file"]);
        assert_eq!(section.routers["r@docker"].service, "s@file");
        assert!(section.services.contains_key("s@file"));
        assert!(merge(&BTreeMap::new()).is_none());
    }
}
