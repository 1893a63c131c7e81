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
pub use pages::{noop, ping, Terminating};
