//! The Kubernetes API client the `kubernetesCRD`, `kubernetesIngress` and
//! `kubernetesGateway` providers stand on ([`crd_provider`] is the
//! `kubernetesCRD` one): connection settings as Traefik
//! resolves them ([`connection`]), a JSON client of the API server
//! ([`client`]), and one [`Reflector`] per kind keeping a local [`Store`]
//! by list-then-watch ([`reflector`]).
//!
//! Hand-written over the proxy's upstream client and `serde_json`: the
//! `kube` and `k8s-openapi` crates cost more to build than this machine
//! has to give. Tested against the testkit's API server double.

pub mod client;
pub mod connection;
pub mod crd;
pub mod crd_provider;
mod endpoints;
pub mod follow;
pub mod gateway;
pub mod gateway_provider;
pub mod ingress;
pub mod ingress_provider;
pub mod reflector;
#[cfg(test)]
mod tests;

pub use client::ApiClient;
pub use connection::{Connection, ConnectionSettings};
pub use reflector::{Reflector, Resource, Selection, Store};

/// Why talking to the API server failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The settings cannot work (no endpoint, unreadable token or CA).
    #[error("kubernetes client configuration: {0}")]
    Config(String),
    /// The server could not be reached, or the stream broke.
    #[error("kubernetes API unreachable: {0}")]
    Connect(String),
    /// The server refused, with its `Status`.
    #[error("kubernetes API answered {code} {reason}: {message}")]
    Status {
        code: u16,
        reason: String,
        message: String,
    },
    /// The answer was not what the API sends.
    #[error("kubernetes API answer undecodable: {0}")]
    Decode(String),
}
