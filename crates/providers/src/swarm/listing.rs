//! A poll's services and tasks → the "containers" the Docker provider's
//! build reads, as Traefik's Swarm provider makes them
//! (`pkg/provider/docker/pswarm.go`):
//!
//! - The labels are the **service's** (`Spec.Labels`); a service whose
//!   own labels (`traefik.enable`, `traefik.swarm.*`, the deprecated
//!   `traefik.docker.*`) do not decode is left out.
//! - With `traefik.swarm.lbswarm=true` the service is one container whose
//!   addresses are its virtual IPs (`Endpoint.VirtualIPs`, endpoint mode
//!   `vip`), named after the service; the engine's own load balancing
//!   spreads the requests. With no virtual IP it is left out.
//! - Otherwise each task that should run and runs is one container named
//!   `<service>.<slot>` (global services: `<service>.<task id>`), whose
//!   addresses are its network attachments'; a task with none is left out.
//! - Only swarm-scoped networks count, by name; an address is the IP of
//!   `ip/prefix`.
//!
//! A Swarm container has no exposed port: the port comes from the
//! `loadbalancer.server.port` label, and without it the container is left
//! out ("port is missing"), as in Traefik.

use std::collections::{BTreeMap, HashMap};

use switchyard_config::labels::{provider_labels, LabelProvider};

use super::engine::{Service, Snapshot, Task};
use crate::docker::container::ContainerData;

/// What a poll gives the build, and what to log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub containers: Vec<ContainerData>,
    /// Services left out, and why.
    pub errors: Vec<String>,
    /// Services still labelled `traefik.docker.*` (deprecated for Swarm).
    pub deprecated: Vec<String>,
    /// Services asking for `lbswarm` in endpoint mode `dnsrr` (which has
    /// no virtual IP): their tasks are used.
    pub dnsrr_lbswarm: Vec<String>,
}

/// The IP of `ip/prefix` (or of a bare IP); empty when it is neither.
fn ip_of(addr: &str) -> String {
    let ip = addr.split_once('/').map_or(addr, |(ip, _)| ip);
    ip.parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_default()
}

/// The containers of a poll.
pub fn containers(snapshot: &Snapshot) -> Listing {
    let network_names: HashMap<&str, &str> = snapshot
        .networks
        .iter()
        .map(|n| (n.id.as_str(), n.name.as_str()))
        .collect();
    let mut tasks_of: HashMap<&str, Vec<&Task>> = HashMap::new();
    for t in &snapshot.tasks {
        tasks_of.entry(t.service_id.as_str()).or_default().push(t);
    }
    let mut out = Listing::default();
    for service in &snapshot.services {
        let name = &service.spec.name;
        let labels = provider_labels(
            service
                .spec
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            LabelProvider::Swarm,
        );
        let labels = match labels {
            Ok(l) => l,
            Err(e) => {
                out.errors
                    .push(format!("service {name:?}: decoding Swarm labels: {e}"));
                continue;
            }
        };
        if !labels.deprecated.is_empty() {
            out.deprecated.push(name.clone());
        }
        let mode = service.spec.endpoint_spec.as_ref().map(|e| e.mode.as_str());
        if labels.lb_swarm && mode == Some("dnsrr") {
            out.dnsrr_lbswarm.push(name.clone());
        } else if labels.lb_swarm {
            let networks = if mode == Some("vip") {
                virtual_ips(service, &network_names)
            } else {
                BTreeMap::new()
            };
            if !networks.is_empty() {
                out.containers.push(ContainerData {
                    id: service.id.clone(),
                    name: name.clone(),
                    service: name.clone(),
                    labels: service.spec.labels.clone(),
                    networks,
                    ..ContainerData::default()
                });
            }
            continue;
        }
        let global = service.spec.mode.global.is_some();
        for task in tasks_of.get(service.id.as_str()).into_iter().flatten() {
            if task.desired_state != "running" || task.status.state != "running" {
                continue;
            }
            let networks = task_addresses(task, &network_names);
            if networks.is_empty() {
                continue;
            }
            let suffix = if global {
                task.id.clone()
            } else {
                task.slot.to_string()
            };
            out.containers.push(ContainerData {
                id: task.id.clone(),
                name: format!("{name}.{suffix}"),
                service: name.clone(),
                labels: service.spec.labels.clone(),
                networks,
                ..ContainerData::default()
            });
        }
    }
    out
}

/// Network name → the service's virtual IP on it.
fn virtual_ips(service: &Service, names: &HashMap<&str, &str>) -> BTreeMap<String, String> {
    let mut networks = BTreeMap::new();
    for vip in &service.endpoint.virtual_ips {
        let Some(network) = names.get(vip.network_id.as_str()) else {
            continue;
        };
        let ip = ip_of(&vip.addr);
        if !ip.is_empty() {
            networks.insert(network.to_string(), ip);
        }
    }
    networks
}

/// Network name → the task's address on it (the last, should it have
/// several).
fn task_addresses(task: &Task, names: &HashMap<&str, &str>) -> BTreeMap<String, String> {
    let mut networks = BTreeMap::new();
    for attachment in &task.networks_attachments {
        let Some(network) = names.get(attachment.network.id.as_str()) else {
            continue;
        };
        if let Some(last) = attachment.addresses.last() {
            networks.insert(network.to_string(), ip_of(last));
        }
    }
    networks
}
