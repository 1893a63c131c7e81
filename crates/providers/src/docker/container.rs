//! What the provider knows of a container: the few facts of the engine's
//! inspect answer that Traefik's Docker provider reads, in a plain form
//! that the configuration builder (and its tests) use without an engine.

use std::collections::BTreeMap;

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};

/// One container, as inspected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerData {
    pub id: String,
    /// As the engine spells it, with its leading `/`.
    pub name: String,
    /// What the default service and router are named after (before the
    /// Compose labels and normalizing): empty for a container (its
    /// `name`), the service's name for a Swarm task.
    pub service: String,
    /// `running`, `exited`, `created`, `paused`, ...
    pub status: String,
    /// Empty without a health check; else `starting`, `healthy`,
    /// `unhealthy`.
    pub health: String,
    pub labels: BTreeMap<String, String>,
    /// `HostConfig.NetworkMode`: `bridge`, `host`, `container:<id>`, a
    /// network's name, ...
    pub network_mode: String,
    /// The exposed ports (`NetworkSettings.Ports`) with their bindings.
    pub ports: Vec<Port>,
    /// Network name → the container's address on it (IPv4, else global
    /// IPv6; empty when it has none).
    pub networks: BTreeMap<String, String>,
    /// For `network_mode` `container:<id>`: that container, inspected.
    pub network_container: Option<Box<ContainerData>>,
}

/// An exposed port (`80/tcp`) and where it is published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Port {
    pub number: u16,
    pub protocol: String,
    pub bindings: Vec<Binding>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    pub host_ip: String,
    pub host_port: String,
}

impl ContainerData {
    /// Reads an inspect answer; `None` when it has no state (Traefik skips
    /// such a container).
    pub fn from_inspect(c: &ContainerInspectResponse) -> Option<ContainerData> {
        let state = c.state.as_ref()?;
        let status = match state.status {
            Some(ContainerStateStatusEnum::CREATED) => "created",
            Some(ContainerStateStatusEnum::RUNNING) => "running",
            Some(ContainerStateStatusEnum::PAUSED) => "paused",
            Some(ContainerStateStatusEnum::RESTARTING) => "restarting",
            Some(ContainerStateStatusEnum::REMOVING) => "removing",
            Some(ContainerStateStatusEnum::EXITED) => "exited",
            Some(ContainerStateStatusEnum::DEAD) => "dead",
            Some(ContainerStateStatusEnum::STOPPING) => "stopping",
            Some(ContainerStateStatusEnum::EMPTY) | None => "",
        };
        let health = match state.health.as_ref().and_then(|h| h.status) {
            Some(HealthStatusEnum::STARTING) => "starting",
            Some(HealthStatusEnum::HEALTHY) => "healthy",
            Some(HealthStatusEnum::UNHEALTHY) => "unhealthy",
            Some(HealthStatusEnum::NONE) => "none",
            Some(HealthStatusEnum::EMPTY) | None => "",
        };
        let labels = c
            .config
            .as_ref()
            .and_then(|cfg| cfg.labels.as_ref())
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let network_mode = c
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.clone())
            .unwrap_or_default();
        let mut ports = Vec::new();
        let mut networks = BTreeMap::new();
        if let Some(settings) = &c.network_settings {
            for (key, bindings) in settings.ports.iter().flatten() {
                let (number, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
                let Ok(number) = number.parse::<u16>() else {
                    continue;
                };
                let bindings = bindings
                    .iter()
                    .flatten()
                    .map(|b| Binding {
                        host_ip: b.host_ip.clone().unwrap_or_default(),
                        host_port: b.host_port.clone().unwrap_or_default(),
                    })
                    .collect();
                ports.push(Port {
                    number,
                    protocol: protocol.to_string(),
                    bindings,
                });
            }
            for (name, endpoint) in settings.networks.iter().flatten() {
                let v4 = endpoint.ip_address.clone().unwrap_or_default();
                let addr = if v4.is_empty() {
                    endpoint.global_ipv6_address.clone().unwrap_or_default()
                } else {
                    v4
                };
                networks.insert(name.clone(), addr);
            }
        }
        ports.sort_by(|a, b| (a.number, &a.protocol).cmp(&(b.number, &b.protocol)));
        Some(ContainerData {
            id: c.id.clone().unwrap_or_default(),
            name: c.name.clone().unwrap_or_default(),
            service: String::new(),
            status: status.to_string(),
            health: health.to_string(),
            labels,
            network_mode,
            ports,
            networks,
            network_container: None,
        })
    }

    /// The container whose network this one shares (`container:<id>`).
    pub fn connected_container(&self) -> Option<&str> {
        self.network_mode.strip_prefix("container:")
    }
}
