//! A container's TCP and UDP labels, completed as Traefik completes them
//! (`buildTCPServiceConfiguration`, `addServerTCP`,
//! `BuildTCPRouterConfiguration` and their UDP twins): with no service, one
//! named after the container; each service's one server gets `address`
//! `ip:port` (the port from `loadbalancer.server.port`, else the lowest
//! exposed one), unless the container is not running or not healthy; a TCP
//! router without a rule is dropped; a router without a service gets the
//! only service, or is dropped when there are several.
//!
//! The sections stay the raw trees the labels gave (keys as written); the
//! builder decodes them (`crates/config/src/tcp.rs` and `udp.rs`, keys
//! matched without regard to case).

use std::collections::BTreeMap;

use switchyard_config::labels::LabelServer;
use switchyard_config::node::{Location, Node, Scalar, Value};

use super::build::{healthy, ip_port, join_host_port, running, Extra, Settings};
use super::container::ContainerData;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

fn entries_mut(node: &mut Node) -> Option<&mut Vec<(String, Node)>> {
    match &mut node.value {
        Value::Map(m) => Some(m),
        _ => None,
    }
}

fn child_mut<'a>(node: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    entries_mut(node)?
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn text(node: &Node) -> String {
    match &node.value {
        Value::Scalar(s) => s.as_text(),
        _ => String::new(),
    }
}

/// Completes one protocol's section; an error leaves the container out.
#[allow(clippy::too_many_arguments)]
pub(super) fn build(
    protocol: Protocol,
    section: &mut Node,
    c: &ContainerData,
    name: &str,
    extra: &Extra,
    settings: &Settings,
    label_servers: &BTreeMap<String, LabelServer>,
    errors: &mut Vec<String>,
) -> Result<(), String> {
    let location = section.location.clone();
    let map = |loc: &Location| Node::new(Value::Map(Vec::new()), loc.clone());
    if section
        .get("services")
        .is_none_or(|s| s.entries().is_empty())
    {
        let mut services = map(&location);
        let mut service = map(&location);
        service.insert("loadbalancer", map(&location));
        services.insert(name, service);
        section.insert("services", services);
    }
    if running(c) && healthy(c) {
        let services = child_mut(section, "services").and_then(entries_mut);
        for (service_name, service) in services.into_iter().flatten() {
            let label = label_servers.get(service_name.as_str());
            add_server(service, c, extra, settings, label, &location)
                .map_err(|e| format!("service {service_name:?} error: {e}"))?;
        }
    }
    let service_names: Vec<String> = section
        .get("services")
        .map(|s| s.entries().iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let kind = match protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    };
    if let Some(routers) = child_mut(section, "routers").and_then(entries_mut) {
        routers.retain_mut(|(router_name, router)| {
            if protocol == Protocol::Tcp && router.get("rule").is_none_or(|r| text(r).is_empty()) {
                errors.push(format!("{kind} router {router_name:?}: empty rule"));
                return false;
            }
            if router.get("service").is_none_or(|s| text(s).is_empty()) {
                if service_names.len() > 1 {
                    errors.push(format!(
                        "{kind} router {router_name:?} cannot be linked automatically with multiple services: {service_names:?}"
                    ));
                    return false;
                }
                if let Some(only) = service_names.first() {
                    router.insert(
                        "service",
                        Node::scalar(Scalar::Str(only.clone()), location.clone()),
                    );
                }
            }
            true
        });
    }
    Ok(())
}

fn add_server(
    service: &mut Node,
    c: &ContainerData,
    extra: &Extra,
    settings: &Settings,
    label: Option<&LabelServer>,
    location: &Location,
) -> Result<(), String> {
    let Some(lb) = child_mut(service, "loadbalancer") else {
        return Err("load-balancer is not defined".into());
    };
    if lb
        .get("servers")
        .is_none_or(|s| !matches!(s.value, Value::List(ref l) if !l.is_empty()))
    {
        let first = Node::new(Value::Map(Vec::new()), location.clone());
        lb.insert(
            "servers",
            Node::new(Value::List(vec![first]), location.clone()),
        );
    }
    let port_label = label.and_then(|l| l.port.clone()).unwrap_or_default();
    let (ip, port) = ip_port(c, extra, settings, &port_label)?;
    if port.is_empty() {
        return Err("port is missing".into());
    }
    let address = Node::scalar(Scalar::Str(join_host_port(&ip, &port)), location.clone());
    if let Some(Value::List(servers)) = child_mut(lb, "servers").map(|s| &mut s.value) {
        if let Some(first) = servers.first_mut() {
            first.insert("address", address);
        }
    }
    Ok(())
}
