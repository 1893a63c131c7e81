//! Containers → one dynamic configuration, as Traefik's Docker provider
//! builds it (`pkg/provider/docker/config.go`):
//!
//! 1. A container is kept when it is enabled (`traefik.enable`, else
//!    `exposedByDefault`), matches `constraints`, and is running and, when
//!    it has a health check, healthy (`allowEmptyServices` keeps unhealthy
//!    and starting ones, with no server; `traefik.docker.allownonrunning`
//!    keeps any, with no server unless running and healthy).
//! 2. Its labels are decoded ([`decode_labels`]); an error drops that
//!    container only.
//! 3. With no HTTP service in the labels, one is made, named after the
//!    container (below). Each HTTP service gets its one server: the URL the
//!    labels give, else `scheme://ip:port` from `loadbalancer.server.port`
//!    (else the lowest exposed port) and `.scheme` (else `http`), the IP
//!    from the container's network (`traefik.docker.network`, else the
//!    provider's `network`, else the first by name) or, with
//!    `useBindPortIP`, from the port's binding on the host.
//! 4. With no router in the labels and at most one service, one router is
//!    made, named after the container. A router with no rule gets the
//!    `defaultRule`; one with no service gets the container's service when
//!    it has exactly one (else it is dropped).
//! 5. Containers are merged in the order of their names
//!    (`<name>-<id>`): an element defined alike by several is kept once;
//!    load balancers equal but for their servers pool their servers; other
//!    elements defined differently are dropped, with an error.
//!
//! A container's name is its Compose `<service>_<project>` when it has both
//! Compose labels, else its container name, normalized ([`normalize`]).
//!
//! TCP and UDP labels are decoded and kept as written, with their services'
//! server addresses filled in the same way (`ip:port`) and their routers'
//! services linked (`l4.rs`); the builder routes them.

use std::collections::BTreeMap;
use std::sync::Arc;

use switchyard_config::dynamic::{
    Configuration, HttpConfiguration, LoadBalancerService, Router, Server, Service,
};
use switchyard_config::labels::{decode_labels, provider_labels, LabelProvider, LabelServer};
use switchyard_config::node::Node;
use switchyard_rules::constraints::Constraint;

use super::container::ContainerData;
use super::l4::{self, Protocol};

/// Compose's labels that name a container's project and service.
const COMPOSE_PROJECT: &str = "com.docker.compose.project";
const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// What a default rule is computed from (the template's `.Name`,
/// `.ContainerName`, `.Labels`).
#[derive(Debug, Clone, Copy)]
pub struct RuleModel<'a> {
    /// The container's normalized name (service name).
    pub name: &'a str,
    /// The container's name without its leading `/`.
    pub container_name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
}

/// Computes a router's default rule; an error drops that router.
pub type DefaultRule = dyn Fn(&RuleModel<'_>) -> Result<String, String> + Send + Sync;

/// The provider settings the build reads.
#[derive(Clone)]
pub struct Settings {
    pub exposed_by_default: bool,
    pub constraints: Constraint,
    pub allow_empty_services: bool,
    pub network: String,
    pub use_bind_port_ip: bool,
    pub default_rule: Arc<DefaultRule>,
    /// The address of a container in `host` network mode.
    pub host_address: String,
    /// Whose own labels are read: `traefik.docker.*` (Docker) or
    /// `traefik.swarm.*` and the deprecated `traefik.docker.*` (Swarm).
    pub labels: LabelProvider,
}

/// A build's result: the configuration, and what went wrong, per
/// container or element (to be logged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Built {
    pub configuration: Configuration,
    pub errors: Vec<String>,
}

/// Traefik's `provider.Normalize`: runs of characters that are neither
/// letters nor digits become one `-`, and none is left at either end.
pub fn normalize(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The name of a container's default service and router.
pub fn service_name(c: &ContainerData) -> String {
    let non_empty = |k: &str| c.labels.get(k).filter(|v| !v.is_empty());
    match (non_empty(COMPOSE_SERVICE), non_empty(COMPOSE_PROJECT)) {
        (Some(service), Some(project)) => normalize(&format!("{service}_{project}")),
        _ if !c.service.is_empty() => normalize(&c.service),
        _ => normalize(&c.name),
    }
}

/// The provider's own labels, resolved against the settings.
pub(super) struct Extra {
    enable: bool,
    network: String,
    allow_non_running: bool,
}

pub(super) fn extra(c: &ContainerData, settings: &Settings) -> Result<Extra, String> {
    let labels = provider_labels(
        c.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        settings.labels,
    )
    .map_err(|e| match settings.labels {
        LabelProvider::Swarm => format!("decoding Swarm labels: {e}"),
        _ => format!("decoding Docker labels: {e}"),
    })?;
    Ok(Extra {
        enable: labels.enable.unwrap_or(settings.exposed_by_default),
        network: labels.network.unwrap_or_else(|| settings.network.clone()),
        // Only the Docker provider reads it (a Swarm task always runs).
        allow_non_running: labels.allow_non_running && settings.labels == LabelProvider::Docker,
    })
}

pub(super) fn running(c: &ContainerData) -> bool {
    c.status.is_empty() || c.status == "running"
}

pub(super) fn healthy(c: &ContainerData) -> bool {
    c.health.is_empty() || c.health == "healthy"
}

/// Builds the configuration of all `containers`.
pub fn build(containers: &[ContainerData], settings: &Settings) -> Built {
    let mut errors = Vec::new();
    let mut per_container: BTreeMap<String, Configuration> = BTreeMap::new();
    for c in containers {
        let name = service_name(c);
        let key = format!("{name}-{}", c.id);
        match build_one(c, &name, settings, &mut errors) {
            Ok(Some(conf)) => {
                per_container.insert(key, conf);
            }
            Ok(None) => {}
            Err(e) => errors.push(format!("container {key}: {e}")),
        }
    }
    let configuration = merge(per_container, &mut errors);
    Built {
        configuration,
        errors,
    }
}

/// One container's configuration; `None` when it is left out.
fn build_one(
    c: &ContainerData,
    name: &str,
    settings: &Settings,
    errors: &mut Vec<String>,
) -> Result<Option<Configuration>, String> {
    let extra = extra(c, settings)?;
    if !extra.enable || !settings.constraints.matches(&c.labels) {
        return Ok(None);
    }
    if !extra.allow_non_running {
        if !running(c) {
            return Ok(None);
        }
        if !settings.allow_empty_services && !healthy(c) {
            return Ok(None);
        }
    }
    let decoded = decode_labels(c.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| e.to_string())?;
    let mut conf = decoded.configuration;
    let has_tcp_udp = [&conf.tcp, &conf.udp].into_iter().any(|n| {
        n.as_ref().is_some_and(|n| {
            !sub_map(n, "routers").is_empty() || !sub_map(n, "services").is_empty()
        })
    });
    let http_empty = conf
        .http
        .as_ref()
        .is_none_or(|h| h.routers.is_empty() && h.services.is_empty() && h.middlewares.is_empty());
    if has_tcp_udp {
        let label_servers = &decoded.servers;
        for (protocol, node, servers) in [
            (Protocol::Tcp, &mut conf.tcp, &label_servers.tcp),
            (Protocol::Udp, &mut conf.udp, &label_servers.udp),
        ] {
            if let Some(node) = node
                .as_mut()
                .filter(|n| !sub_map(n, "routers").is_empty() || !sub_map(n, "services").is_empty())
            {
                l4::build(protocol, node, c, name, &extra, settings, servers, errors)?;
            }
        }
        if http_empty {
            return Ok(Some(conf));
        }
    }
    let http = conf.http.get_or_insert_with(HttpConfiguration::default);
    if http.services.is_empty() {
        http.services.insert(
            name.to_string(),
            Arc::new(Service {
                load_balancer: Some(LoadBalancerService::default()),
                ..Service::default()
            }),
        );
    }
    if running(c) && healthy(c) {
        for (service_name, service) in &mut http.services {
            let label = decoded.servers.http.get(service_name);
            add_server(c, &extra, settings, Arc::make_mut(service), label)
                .map_err(|e| format!("service {service_name:?} error: {e}"))?;
        }
    }
    let model = RuleModel {
        name,
        container_name: c.name.strip_prefix('/').unwrap_or(&c.name),
        labels: &c.labels,
    };
    build_routers(http, name, settings, &model, errors);
    Ok(Some(conf))
}

/// Fills a service's one server (Traefik's `addServer`).
fn add_server(
    c: &ContainerData,
    extra: &Extra,
    settings: &Settings,
    service: &mut Service,
    label: Option<&LabelServer>,
) -> Result<(), String> {
    let Some(lb) = service.load_balancer.as_mut() else {
        return Err("load-balancer is not defined".into());
    };
    if lb.servers.is_empty() {
        lb.servers.push(Server::default());
    }
    let port_label = label.and_then(|l| l.port.clone()).unwrap_or_default();
    let scheme_label = label.and_then(|l| l.scheme.clone()).unwrap_or_default();
    if !lb.servers[0].url.is_empty() {
        if !port_label.is_empty() || !scheme_label.is_empty() {
            return Err("defining scheme or port is not allowed when URL is defined".into());
        }
        return Ok(());
    }
    let (ip, port) = ip_port(c, extra, settings, &port_label)?;
    if port.is_empty() {
        return Err("port is missing".into());
    }
    let scheme = if scheme_label.is_empty() {
        "http"
    } else {
        &scheme_label
    };
    lb.servers[0].url = format!("{scheme}://{}", join_host_port(&ip, &port));
    Ok(())
}

pub(super) fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The label's port, else the lowest exposed port.
fn port_of(c: &ContainerData, port_label: &str) -> String {
    if !port_label.is_empty() {
        return port_label.to_string();
    }
    c.ports
        .iter()
        .map(|p| p.number)
        .min()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

pub(super) fn ip_port(
    c: &ContainerData,
    extra: &Extra,
    settings: &Settings,
    port_label: &str,
) -> Result<(String, String), String> {
    let port = port_of(c, port_label);
    if settings.use_bind_port_ip {
        let binding = c
            .ports
            .iter()
            .find(|p| p.number.to_string() == port && (p.protocol == "tcp" || p.protocol == "udp"))
            .and_then(|p| p.bindings.first());
        if let Some(b) = binding {
            let specified = b
                .host_ip
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| !ip.is_unspecified());
            if specified {
                return Ok((b.host_ip.clone(), b.host_port.clone()));
            }
        }
        // No usable binding: the container's own address and port.
    }
    let ip = ip_address(c, &extra.network, settings);
    if ip.is_empty() {
        return Err(format!(
            "unable to find the IP address for the container {:?}: the server is ignored",
            c.name
        ));
    }
    Ok((ip, port))
}

/// The container's address (Traefik's `getIPAddress`).
fn ip_address(c: &ContainerData, network: &str, settings: &Settings) -> String {
    if !network.is_empty() {
        if let Some(addr) = c.networks.get(network) {
            return addr.clone();
        }
    }
    if c.network_mode == "host" {
        return settings.host_address.clone();
    }
    if c.connected_container().is_some() {
        let Some(other) = &c.network_container else {
            return String::new();
        };
        // The other container's own network label, else this one's.
        let other_network = provider_network_label(other)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| settings.network.clone());
        let other_network = if other_network.is_empty() {
            network.to_string()
        } else {
            other_network
        };
        return ip_address(other, &other_network, settings);
    }
    c.networks.values().next().cloned().unwrap_or_default()
}

fn provider_network_label(c: &ContainerData) -> Option<String> {
    provider_labels(
        c.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        LabelProvider::Docker,
    )
    .ok()
    .and_then(|l| l.network)
}

/// Traefik's `BuildRouterConfiguration`.
fn build_routers(
    http: &mut HttpConfiguration,
    default_name: &str,
    settings: &Settings,
    model: &RuleModel<'_>,
    errors: &mut Vec<String>,
) {
    if http.routers.is_empty() && http.services.len() <= 1 {
        http.routers
            .insert(default_name.to_string(), Arc::new(Router::default()));
    }
    let only_service = (http.services.len() == 1)
        .then(|| http.services.keys().next().cloned())
        .flatten();
    let services: Vec<String> = http.services.keys().cloned().collect();
    http.routers.retain(|router_name, router| {
        let router = Arc::make_mut(router);
        if router.rule.is_empty() {
            match (settings.default_rule)(model) {
                Ok(rule) if !rule.is_empty() => {
                    router.rule = rule;
                    router.default_rule = true;
                }
                Ok(_) => {
                    errors.push(format!("router {router_name:?}: undefined rule"));
                    return false;
                }
                Err(e) => {
                    errors.push(format!(
                        "router {router_name:?}: error while parsing default rule: {e}"
                    ));
                    return false;
                }
            }
        }
        if router.service.is_empty() {
            match &only_service {
                Some(s) => router.service = s.clone(),
                None if services.is_empty() => {}
                None => {
                    errors.push(format!(
                        "router {router_name:?} cannot be linked automatically with multiple services: {services:?}"
                    ));
                    return false;
                }
            }
        }
        true
    });
}

pub(super) fn sub_map<'a>(node: &'a Node, key: &str) -> &'a [(String, Node)] {
    node.get(key).map_or(&[], Node::entries)
}

/// Merges the containers' configurations (Traefik's `provider.Merge` with
/// its merge strategy), in the order of their keys.
fn merge(
    per_container: BTreeMap<String, Configuration>,
    errors: &mut Vec<String>,
) -> Configuration {
    let mut http = HttpConfiguration::default();
    let mut conflicts: Vec<(&'static str, String)> = Vec::new();
    let mut tcp = TreeMerge::default();
    let mut udp = TreeMerge::default();
    for conf in per_container.into_values() {
        if let Some(h) = conf.http {
            merge_map(
                &mut http.routers,
                h.routers,
                "HTTP router",
                &mut conflicts,
                |a, b| *a == b,
            );
            merge_map(
                &mut http.middlewares,
                h.middlewares,
                "HTTP middleware",
                &mut conflicts,
                |a, b| *a == b,
            );
            merge_map(
                &mut http.services,
                h.services,
                "HTTP service",
                &mut conflicts,
                |a, b| merge_service(Arc::make_mut(a), Arc::unwrap_or_clone(b)),
            );
        }
        if let Some(t) = conf.tcp {
            tcp.add(&t);
        }
        if let Some(u) = conf.udp {
            udp.add(&u);
        }
    }
    conflicts.sort();
    conflicts.dedup();
    for (kind, name) in conflicts {
        match kind {
            "HTTP router" => {
                http.routers.remove(&name);
            }
            "HTTP middleware" => {
                http.middlewares.remove(&name);
            }
            _ => {
                http.services.remove(&name);
            }
        }
        errors.push(format!(
            "{kind} {name:?} defined multiple times with different configurations"
        ));
    }
    for (protocol, tree) in [("TCP", &mut tcp), ("UDP", &mut udp)] {
        for (section, name) in tree.conflicts.clone() {
            errors.push(format!(
                "{protocol} {section} {name:?} defined multiple times with different configurations"
            ));
        }
    }
    let empty = |h: &HttpConfiguration| {
        h.routers.is_empty() && h.services.is_empty() && h.middlewares.is_empty()
    };
    Configuration {
        http: (!empty(&http)).then_some(http),
        tcp: tcp.finish(),
        udp: udp.finish(),
        ..Configuration::default()
    }
}

fn merge_map<T>(
    into: &mut BTreeMap<String, T>,
    from: BTreeMap<String, T>,
    kind: &'static str,
    conflicts: &mut Vec<(&'static str, String)>,
    mut merge: impl FnMut(&mut T, T) -> bool,
) {
    for (name, value) in from {
        match into.get_mut(&name) {
            None => {
                into.insert(name, value);
            }
            Some(existing) => {
                if !merge(existing, value) {
                    conflicts.push((kind, name));
                }
            }
        }
    }
}

/// Two definitions of a service: load balancers equal but for their
/// servers pool them (without repeating a URL); anything else must be equal.
fn merge_service(a: &mut Service, b: Service) -> bool {
    let (Some(la), Some(lb)) = (a.load_balancer.as_ref(), b.load_balancer.as_ref()) else {
        return *a == b;
    };
    let without_servers = |l: &LoadBalancerService| LoadBalancerService {
        servers: Vec::new(),
        ..l.clone()
    };
    let rest = |s: &Service| Service {
        load_balancer: None,
        ..s.clone()
    };
    if without_servers(la) != without_servers(lb) || rest(a) != rest(&b) {
        return false;
    }
    let Some(la) = a.load_balancer.as_mut() else {
        return false;
    };
    for s in &lb.servers {
        if !la.servers.iter().any(|x| x.url == s.url) {
            la.servers.push(s.clone());
        }
    }
    true
}

/// The TCP or UDP sections of the containers, merged by element name.
#[derive(Default)]
struct TreeMerge {
    sections: BTreeMap<String, BTreeMap<String, Node>>,
    conflicts: Vec<(String, String)>,
    location: Option<switchyard_config::node::Location>,
}

impl TreeMerge {
    fn add(&mut self, node: &Node) {
        self.location = Some(node.location.clone());
        for (section, elements) in node.entries() {
            let into = self.sections.entry(section.clone()).or_default();
            for (name, element) in elements.entries() {
                match into.get(name) {
                    Some(existing) if existing != element => {
                        self.conflicts.push((section.clone(), name.clone()));
                    }
                    Some(_) => {}
                    None => {
                        into.insert(name.clone(), element.clone());
                    }
                }
            }
        }
    }

    fn finish(mut self) -> Option<Node> {
        let location = self.location.take()?;
        for (section, name) in &self.conflicts {
            if let Some(s) = self.sections.get_mut(section) {
                s.remove(name);
            }
        }
        let mut root = Node::empty_map(location.clone());
        for (section, elements) in self.sections {
            let mut map = Node::empty_map(location.clone());
            for (name, element) in elements {
                map.insert(&name, element);
            }
            root.insert(&section, map);
        }
        Some(root)
    }
}
