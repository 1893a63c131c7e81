//! What the provider reads of the engine's Swarm API: services, their
//! running tasks and the swarm-scoped networks, each parsed into only the
//! fields Traefik's Swarm provider uses.
//!
//! bollard's `Task` has no `NetworksAttachments` (where a task's addresses
//! are), so the three lists are read raw: a `GET` through the Docker
//! provider's client (same endpoint, TLS, credentials and timeout), its
//! JSON parsed here with serde.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::docker::client::Connection;

/// `null` (which the engine sends for an empty map or list) as the
/// default value.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A service (`GET /services`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Service {
    #[serde(rename = "ID", deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub spec: ServiceSpec,
    #[serde(deserialize_with = "nullable")]
    pub endpoint: Endpoint,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServiceSpec {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub mode: ServiceMode,
    pub endpoint_spec: Option<EndpointSpec>,
}

/// `Replicated`, `Global`, `ReplicatedJob` or `GlobalJob`: only whether
/// it is `Global` matters (a task's name).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServiceMode {
    pub global: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EndpointSpec {
    /// `vip` or `dnsrr`.
    #[serde(deserialize_with = "nullable")]
    pub mode: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Endpoint {
    #[serde(rename = "VirtualIPs", deserialize_with = "nullable")]
    pub virtual_ips: Vec<VirtualIp>,
}

/// The service's virtual IP on one network: `10.0.1.2/24`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct VirtualIp {
    #[serde(rename = "NetworkID", deserialize_with = "nullable")]
    pub network_id: String,
    #[serde(deserialize_with = "nullable")]
    pub addr: String,
}

/// A task (`GET /tasks`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Task {
    #[serde(rename = "ID", deserialize_with = "nullable")]
    pub id: String,
    #[serde(rename = "ServiceID", deserialize_with = "nullable")]
    pub service_id: String,
    #[serde(deserialize_with = "nullable")]
    pub slot: i64,
    #[serde(deserialize_with = "nullable")]
    pub status: TaskStatus,
    #[serde(deserialize_with = "nullable")]
    pub desired_state: String,
    #[serde(deserialize_with = "nullable")]
    pub networks_attachments: Vec<NetworkAttachment>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskStatus {
    /// `running`, `pending`, `shutdown`, `failed`, ...
    #[serde(deserialize_with = "nullable")]
    pub state: String,
}

/// A task's addresses on one network (`10.0.1.3/24`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetworkAttachment {
    #[serde(deserialize_with = "nullable")]
    pub network: NetworkRef,
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NetworkRef {
    #[serde(rename = "ID", deserialize_with = "nullable")]
    pub id: String,
}

/// A network (`GET /networks`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Network {
    #[serde(rename = "Id", deserialize_with = "nullable")]
    pub id: String,
    #[serde(rename = "Name", deserialize_with = "nullable")]
    pub name: String,
}

/// Everything one poll reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub services: Vec<Service>,
    /// The tasks whose desired state is `running`.
    pub tasks: Vec<Task>,
    /// The swarm-scoped networks.
    pub networks: Vec<Network>,
}

/// Why reading the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{what}: {source}")]
    Engine {
        what: &'static str,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{what}: the engine's answer does not parse: {source}")]
    Parse {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// `filters` as the engine's query parameter: a JSON object of lists,
/// percent-encoded.
fn filters(name: &str, value: &str) -> String {
    let json = serde_json::json!({ name: [value] }).to_string();
    let mut out = String::with_capacity(json.len() * 3);
    for b in json.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    format!("filters={out}")
}

async fn get<T: DeserializeOwned>(
    connection: &Connection,
    path: &str,
    what: &'static str,
) -> Result<T, ReadError> {
    let text = connection
        .client(Some(path))
        .ping()
        .await
        .map_err(|source| ReadError::Engine { what, source })?;
    serde_json::from_str(&text).map_err(|source| ReadError::Parse { what, source })
}

/// Lists the services, the swarm-scoped networks and the tasks meant to
/// run.
pub(crate) async fn snapshot(connection: &Connection) -> Result<Snapshot, ReadError> {
    let services = get(connection, "/services", "listing the services").await?;
    let networks = get(
        connection,
        &format!("/networks?{}", filters("scope", "swarm")),
        "listing the swarm networks",
    )
    .await?;
    let tasks = get(
        connection,
        &format!("/tasks?{}", filters("desired-state", "running")),
        "listing the tasks",
    )
    .await?;
    Ok(Snapshot {
        services,
        tasks,
        networks,
    })
}
