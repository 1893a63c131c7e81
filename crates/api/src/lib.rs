//! The internal services: the REST API (`api@internal`) with Traefik's paths
//! and JSON shapes, `/ping` (`ping@internal`), the dashboard page
//! (`dashboard@internal`) and `noop@internal`.

mod api;
mod pages;

pub use api::Api;
pub use pages::{dashboard, noop, ping, Terminating};
