//! The internal services: the REST API (`api@internal`) with Traefik's paths
//! and JSON shapes, `/ping` (`ping@internal`), the dashboard page
//! (`dashboard@internal`) and `noop@internal`.

mod api;
mod certificates;
mod dashboard;
mod elements;
mod entrypoints;
mod explain;
mod overview;
mod pages;
mod query;
mod respond;
mod udp;
mod version;

pub use api::Api;
pub use dashboard::dashboard;
pub use elements::Kind;
pub use pages::{noop, ping, Terminating};

/// The HTTP routers, services or middlewares of `runtime` as
/// `/api/http/routers` (`services`, `middlewares`) lists them: every one,
/// ordered by name, each a JSON object with Traefik's field names.
pub fn http_elements(kind: Kind, runtime: &switchyard_server::Runtime) -> Vec<serde_json::Value> {
    elements::list(kind, runtime, &query::Query::parse(None))
}
